//! Changing users: `PATCH /api/v1/users/{name}` (an admin changes anyone, dial-in number and
//! PIN included; a user their own display name and, giving the current one, password), contact lists and phone lines (`GET`/
//! `PUT /api/v1/users/{name}/contacts` and `…/stations`, admins). A phone line set here rings
//! at once: the stations subsystem takes the change without a restart.
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

use offhook_domain::db::{self, users};
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
    /// The dial-in number (admins): digits, or `null` to remove it.
    #[serde(default, deserialize_with = "present")]
    number: Option<Option<String>>,
    /// The dial-in PIN (admins): digits, or `null` to remove it. Never shown back.
    #[serde(default, deserialize_with = "present")]
    pin: Option<Option<String>>,
}

/// A field that is present, `null` or not: `Some(None)` for `null`, and `None` (the default)
/// only when it is absent.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

/// A dial-in refusal from the core, naming its field.
pub(crate) fn dial_in_refusal(app: &Web, e: db::Error) -> ApiError {
    match e {
        db::Error::Exists(what) => {
            ApiError::plain(StatusCode::CONFLICT, format!("{what} already exists"))
                .with("field", "number")
        }
        db::Error::Invalid(why) => {
            let field = if why.contains("PIN") { "pin" } else { "number" };
            invalid(app, field, why)
        }
        db::Error::NotFound(_) => no_such_user(app),
        other => other.into(),
    }
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
        if e.number.is_some() || e.pin.is_some() {
            let field = if e.number.is_some() { "number" } else { "pin" };
            return Err(app
                .reject(
                    Reject::Forbidden,
                    StatusCode::FORBIDDEN,
                    "only an admin sets a dial-in number or PIN",
                )
                .with("field", field));
        }
        if e.password.is_some() {
            check_current(&app, client, &auth, e.current_password.clone()).await?;
        }
    }
    if e.password.as_deref() == Some("") {
        return Err(invalid(&app, "password", "empty password"));
    }
    if let Some(d) = &e.display
        && let Err(db::Error::Invalid(why)) = users::check_display(d)
    {
        return Err(invalid(&app, "display", why));
    }
    if let Some(Some(n)) = &e.number
        && let Err(db::Error::Invalid(why)) = users::check_number(n)
    {
        return Err(invalid(&app, "number", why));
    }
    if let Some(Some(p)) = &e.pin
        && let Err(db::Error::Invalid(why)) = users::check_pin(p)
    {
        return Err(invalid(&app, "pin", why));
    }
    if e.number.is_some() || e.pin.is_some() {
        // First: a number another user has is the likeliest refusal, and then nothing changed.
        let dial_in = users::DialIn {
            number: e.number,
            pin: e.pin,
        };
        app.core()
            .set_dial_in(name.clone(), dial_in)
            .await
            .map_err(|err| dial_in_refusal(&app, err))?;
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

/// `GET /api/v1/users/{name}/stations`: `{stations: ["GATEWAY/ENDPOINT", …]}`.
pub(super) async fn stations(
    State(app): State<Web>,
    auth: Auth,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &auth)?;
    match app.core().stations_of(name).await {
        Ok(list) => Ok(Json(json!({ "stations": list }))),
        Err(db::Error::NotFound(_)) => Err(no_such_user(&app)),
        Err(e) => Err(e.into()),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Stations {
    stations: Vec<String>,
}

/// Reads a phone line for user `field` and checks that its gateway is configured.
pub(super) fn checked_line(
    app: &Web,
    field: &str,
    text: &str,
) -> Result<(String, String), ApiError> {
    let (gateway, endpoint) = users::parse_line(text).map_err(|why| invalid(app, field, why))?;
    if !app.0.gateways.health().iter().any(|g| g.name == gateway) {
        return Err(invalid(
            app,
            field,
            format!("line {text:?}: no gateway named {gateway:?} is configured"),
        ));
    }
    Ok((gateway, endpoint))
}

/// `PUT /api/v1/users/{name}/stations` `{stations: [...]}`: sets the user's phone lines
/// whole (an empty list: no phone). Each is checked (`field: stations`); a line another user
/// has is `409`.
pub(super) async fn set_stations(
    State(app): State<Web>,
    auth: Auth,
    Path(name): Path<String>,
    body: Result<Json<Stations>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &auth)?;
    let s = json_body(&app, body)?;
    if s.stations.len() > users::MAX_STATIONS {
        return Err(invalid(
            &app,
            "stations",
            format!("a user has at most {} phone lines", users::MAX_STATIONS),
        ));
    }
    let lines = s
        .stations
        .iter()
        .map(|l| checked_line(&app, "stations", l))
        .collect::<Result<Vec<_>, _>>()?;
    match app.core().set_stations(name.clone(), lines).await {
        Ok(list) => {
            info!(user = %name, by = %auth.username, stations = ?list, "phone lines set");
            Ok(Json(json!({ "stations": list })))
        }
        Err(db::Error::Exists(what)) => Err(ApiError::plain(
            StatusCode::CONFLICT,
            format!("{what} belongs to another user"),
        )
        .with("field", "stations")),
        Err(db::Error::NotFound(_)) => Err(no_such_user(&app)),
        Err(db::Error::Invalid(why)) => Err(invalid(&app, "stations", why)),
        Err(e) => Err(e.into()),
    }
}

/// The account [`Web::reset_admin_password`] resets.
pub(crate) const PANEL_ADMIN: &str = "admin";

/// The letters of a one-time password: no 0/O, 1/l/I, read off a small display and typed by
/// hand.
const ONE_TIME_LETTERS: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// Its length: 12 letters of 31, about 59 bits.
const ONE_TIME_LEN: usize = 12;

impl Web {
    /// The front panel's "reset password": a new random password for the admin account
    /// `admin` (made if there is none), returned to be shown once and never kept in
    /// clear; the account's sessions end, as on any password change. Refused if a user of that
    /// name exists who is not an admin (the panel does not make anyone an admin).
    pub async fn reset_admin_password(&self) -> Result<String, String> {
        use rand::RngCore;
        let mut bytes = [0u8; ONE_TIME_LEN];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        // 256 is not a multiple of 31: the first 8 letters are a little likelier (by 1 in 256),
        // which costs well under a bit of the 59.
        let password: String = bytes
            .iter()
            .map(|b| char::from(ONE_TIME_LETTERS[usize::from(*b) % ONE_TIME_LETTERS.len()]))
            .collect();
        let core = self.core();
        let users = core.users().await.map_err(|e| e.to_string())?;
        let user = match users.iter().find(|u| u.username == PANEL_ADMIN) {
            Some(u) if !u.admin => return Err(format!("{PANEL_ADMIN} is not an admin")),
            Some(_) => core
                .update_user(PANEL_ADMIN.into(), None, Some(password.clone()), None)
                .await
                .map_err(|e| e.to_string())?,
            None => core
                .add_user(users::NewUser {
                    username: PANEL_ADMIN.into(),
                    display: None,
                    password: password.clone(),
                    admin: true,
                    line: None,
                })
                .await
                .map_err(|e| e.to_string())?,
        };
        self.end_sessions_of(user.id);
        info!(user = %user.username, by = "front panel", "password reset; sessions ended");
        Ok(password)
    }
}

#[cfg(test)]
mod tests {
    use super::Edit;
    use offhook_domain::db::users;

    #[test]
    fn dial_in_fields_tell_null_from_absent() {
        let e: Edit = serde_json::from_str(r#"{"display": "Bob"}"#).unwrap();
        assert_eq!((e.number, e.pin), (None, None), "absent: left as they are");
        let e: Edit = serde_json::from_str(r#"{"number": null, "pin": null}"#).unwrap();
        assert_eq!((e.number, e.pin), (Some(None), Some(None)), "null: removed");
        let e: Edit = serde_json::from_str(r#"{"number": "2041", "pin": "4321"}"#).unwrap();
        assert_eq!(
            (e.number, e.pin),
            (Some(Some("2041".into())), Some(Some("4321".into())))
        );
        assert!(serde_json::from_str::<Edit>(r#"{"number": 2041}"#).is_err());
    }

    struct NoGateways;

    impl crate::GatewayStatus for NoGateways {
        fn health(&self) -> Vec<crate::GatewayHealth> {
            vec![]
        }
    }

    /// A server on a fresh data dir (kept while the first is held).
    async fn server() -> (
        tempfile::TempDir,
        offhook_domain::VoiceMessaging,
        crate::Web,
    ) {
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let core = offhook_domain::VoiceMessaging::open(
            dir.path(),
            offhook_domain::Config::default(),
            Arc::new(offhook_domain::clock::SystemClock),
        )
        .await
        .unwrap();
        let web = crate::Web::new(core.clone(), crate::Config::default(), Arc::new(NoGateways));
        (dir, core, web)
    }

    #[tokio::test]
    async fn the_panels_password_reset_makes_or_resets_the_admin_and_ends_its_sessions() {
        let (_dir, core, web) = server().await;
        let first = web.reset_admin_password().await.unwrap();
        assert_eq!(first.len(), 12);
        assert!(
            first.bytes().all(|b| super::ONE_TIME_LETTERS.contains(&b)),
            "{first}"
        );
        let admin = core
            .login("admin".into(), first.clone())
            .await
            .unwrap()
            .expect("signs in");
        assert!(admin.admin);
        let token = web.new_session(&admin).token;
        let second = web.reset_admin_password().await.unwrap();
        assert_ne!(first, second);
        assert!(
            core.login("admin".into(), first.clone())
                .await
                .unwrap()
                .is_none(),
            "the old one is gone"
        );
        assert!(
            core.login("admin".into(), second.clone())
                .await
                .unwrap()
                .is_some()
        );
        assert!(
            web.authenticate(Some(&token)).is_err(),
            "its sessions ended"
        );

        let (_dir, core, web) = server().await;
        core.add_user(users::NewUser {
            username: "admin".into(),
            display: None,
            password: "pw".into(),
            admin: false,
            line: None,
        })
        .await
        .unwrap();
        assert_eq!(
            web.reset_admin_password().await.unwrap_err(),
            "admin is not an admin"
        );
        assert!(
            core.login("admin".into(), "pw".into())
                .await
                .unwrap()
                .is_some(),
            "left alone"
        );
    }
}
