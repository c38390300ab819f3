//! Changing users: `PATCH /api/v1/users/{name}` (an admin changes anyone; a user their own
//! display name and, giving the current one, password), and contact lists (`GET`/`PUT
//! /api/v1/users/{name}/contacts`, admins).
//!
//! A new password ends the user's other sessions (a reset locks out whoever had the old one;
//! the session that changed its own password stays). A changed admin flag takes effect on their
//! open sessions at once.

use axum::Extension;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::SocketAddr;
use tracing::info;

use offhook_domain::db;
use offhook_domain::metrics::Reject;

use crate::users::{client_ip, json_body, public, require_admin};
use crate::{ApiError, Auth, Web};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Edit {
    display: Option<String>,
    password: Option<String>,
    /// Required when a user who is not an admin changes their own password.
    current_password: Option<String>,
    admin: Option<bool>,
}

/// A refusal naming the field at fault, for a form to show it there.
fn invalid(app: &Web, field: &str, why: impl Into<String>) -> ApiError {
    app.reject(Reject::MalformedJson, StatusCode::BAD_REQUEST, why)
        .with("field", field)
}

fn no_such_user(app: &Web) -> ApiError {
    app.reject(Reject::NotFound, StatusCode::NOT_FOUND, "no such user")
}

pub(super) async fn edit(
    State(app): State<Web>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    auth: Auth,
    Path(name): Path<String>,
    body: Result<Json<Edit>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    let e = json_body(&app, body)?;
    let own = name == auth.username;
    if !auth.admin {
        if !own {
            return Err(app.reject(
                Reject::Forbidden,
                StatusCode::FORBIDDEN,
                "admins only: a user changes only their own display name and password",
            ));
        }
        if e.admin.is_some() {
            return Err(app
                .reject(
                    Reject::Forbidden,
                    StatusCode::FORBIDDEN,
                    "only an admin changes the admin flag",
                )
                .with("field", "admin"));
        }
        if e.password.is_some() {
            check_current(&app, client, &auth, e.current_password.clone()).await?;
        }
    }
    if e.password.as_deref() == Some("") {
        return Err(invalid(&app, "password", "empty password"));
    }
    if let Some(d) = &e.display
        && let Err(db::Error::Invalid(why)) = db::users::check_display(d)
    {
        return Err(invalid(&app, "display", why));
    }
    let new_password = e.password.is_some();
    let user = match app
        .core()
        .update_user(name, e.display, e.password, e.admin)
        .await
    {
        Ok(u) => u,
        Err(db::Error::NotFound(_)) => return Err(no_such_user(&app)),
        Err(db::Error::Invalid(why)) => {
            let field = if why.contains("admin") {
                "admin"
            } else {
                "form"
            };
            return Err(invalid(&app, field, why));
        }
        Err(other) => return Err(other.into()),
    };
    if new_password {
        let keep = own.then_some(auth.token.as_str());
        app.end_sessions_of_except(user.id, keep);
        info!(user = %user.username, by = %auth.username, "password changed; other sessions ended");
    }
    if e.admin.is_some() {
        app.set_admin_of(user.id, user.admin);
    }
    Ok(Json(public(&app, &user)))
}

/// A user changing their own password proves they know the current one: a session left open
/// on a shared computer must not be enough to take the account. Failures count against the
/// address's login limit, like failed logins.
async fn check_current(
    app: &Web,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    auth: &Auth,
    current: Option<String>,
) -> Result<(), ApiError> {
    let ip = client_ip(client);
    let limit = &app.0.login_limit;
    let now = app.core().clock().now_ms();
    if let Err(wait) = limit.take(ip, now) {
        return Err(app
            .reject(
                Reject::LoginLimited,
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed password checks from this address: try again later",
            )
            .retry_after(wait));
    }
    let Some(current) = current else {
        return Err(invalid(
            app,
            "current_password",
            "give your current password to change it",
        ));
    };
    let known = app.core().login(auth.username.clone(), current).await?;
    if known.is_some_and(|u| u.id == auth.user) {
        limit.succeeded(ip, app.core().clock().now_ms());
        Ok(())
    } else {
        Err(app
            .reject(
                Reject::BadLogin,
                StatusCode::FORBIDDEN,
                "the current password is wrong",
            )
            .with("field", "current_password"))
    }
}

pub(super) async fn contacts(
    State(app): State<Web>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &auth)?;
    match app.core().contact_list(name).await {
        Ok(list) => Ok(Json(json!(list))),
        Err(db::Error::NotFound(_)) => Err(no_such_user(&app)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Contacts {
    contacts: Vec<String>,
}

/// Most contacts one list holds.
const CONTACTS_MAX: usize = 10_000;

pub(super) async fn set_contacts(
    State(app): State<Web>,
    auth: Auth,
    Path(name): Path<String>,
    body: Result<Json<Contacts>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &auth)?;
    let c = json_body(&app, body)?;
    if c.contacts.len() > CONTACTS_MAX {
        return Err(invalid(
            &app,
            "contacts",
            format!("at most {CONTACTS_MAX} contacts"),
        ));
    }
    match app.core().set_contacts(name.clone(), c.contacts).await {
        Ok(list) => {
            info!(user = %name, by = %auth.username, contacts = list.contacts.len(), explicit = list.explicit, "contact list set");
            Ok(Json(json!(list)))
        }
        Err(db::Error::NotFound(why)) if why.starts_with("contact ") => {
            Err(invalid(&app, "contacts", why))
        }
        Err(db::Error::NotFound(_)) => Err(no_such_user(&app)),
        Err(db::Error::Invalid(why)) => Err(invalid(&app, "contacts", why)),
        Err(e) => Err(e.into()),
    }
}
