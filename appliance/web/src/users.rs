//! Sessions, contact lists and (for admins) user management.

use axum::Extension;
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use tracing::{debug, info};

use offhook_domain::db::{self, users};
use offhook_domain::metrics::Reject;

use crate::auth::NewSession;
use crate::front::Secure;
use crate::{ApiError, Auth, COOKIE, Web};

#[derive(Deserialize)]
pub(super) struct Login {
    username: String,
    password: String,
}

/// Parses a JSON body, counting a malformed one.
pub(super) fn json_body<T>(app: &Web, body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(v)| v).map_err(|e| {
        app.reject(
            Reject::MalformedJson,
            StatusCode::BAD_REQUEST,
            format!("malformed JSON body: {}", e.body_text()),
        )
    })
}

/// The client's address, for the login limit. Requests that did not come through the front
/// (tests of the router alone) have none: they count as one unspecified address.
pub(crate) fn client_ip(client: Option<Extension<ConnectInfo<SocketAddr>>>) -> IpAddr {
    client.map_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED), |c| c.0.0.ip())
}

pub(super) async fn login(
    State(app): State<Web>,
    client: Option<Extension<ConnectInfo<SocketAddr>>>,
    secure: Option<Extension<Secure>>,
    body: Result<Json<Login>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Login { username, password } = json_body(&app, body)?;
    let ip = client_ip(client);
    let limit = &app.0.login_limit;
    if let Err(wait) = limit.take(ip, app.core().clock().now_ms()) {
        debug!(client = %ip, user = ?username, "login refused: too many failures from this address");
        return Err(app
            .reject(
                Reject::LoginLimited,
                StatusCode::TOO_MANY_REQUESTS,
                "too many failed logins from this address: try again later",
            )
            .retry_after(wait));
    }
    let user = app.core().login(username.clone(), password).await?;
    let Some(user) = user else {
        info!(client = %ip, user = ?username, "failed login");
        return Err(app.reject(
            Reject::BadLogin,
            StatusCode::UNAUTHORIZED,
            "wrong username or password",
        ));
    };
    limit.succeeded(ip, app.core().clock().now_ms());
    let NewSession { token, csrf } = app.new_session(&user);
    app.core()
        .metrics()
        .logins
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    // Over TLS the cookie is `Secure`: a browser then never sends it over plain HTTP.
    let secure = if secure.is_some() { "; Secure" } else { "" };
    let cookie = format!("{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict{secure}");
    Ok((
        [(header::SET_COOKIE, cookie)],
        Json(json!({
            "token": token,
            "csrf": csrf,
            "id": user.id,
            "username": user.username,
            "admin": user.admin,
        })),
    )
        .into_response())
}

/// `GET /api/v1/session`: who is signed in, and the session's CSRF token (a page loaded with
/// the cookie alone learns it here).
pub(super) async fn session(State(app): State<Web>, auth: Auth) -> Result<Json<Value>, ApiError> {
    let id = auth.user;
    let display = app
        .core()
        .db()
        .read(move |c| users::by_id(c, id))
        .await?
        .map_or_else(|| auth.username.clone(), |u| u.display);
    Ok(Json(json!({
        "id": auth.user,
        "username": auth.username,
        "display": display,
        "admin": auth.admin,
        "csrf": app.csrf_of(&auth.token),
        "expires_ms": auth.expires_ms,
    })))
}

pub(super) async fn logout(State(app): State<Web>, auth: Auth) -> StatusCode {
    app.end_session(&auth.token);
    StatusCode::NO_CONTENT
}

pub(super) async fn contacts(
    State(app): State<Web>,
    auth: Auth,
) -> Result<Json<Vec<Value>>, ApiError> {
    let me = auth.user;
    let list = app.core().contacts(me).await?;
    Ok(Json(
        list.into_iter()
            .map(|u| {
                json!({
                    "id": u.id,
                    "username": u.username,
                    "display": u.display,
                    "online": app.core().is_online(u.id),
                    "status": app.core().status_of(u.id),
                    "kind": u.kind,
                })
            })
            .collect(),
    ))
}

pub(crate) fn require_admin(app: &Web, auth: &Auth) -> Result<(), ApiError> {
    if auth.admin {
        Ok(())
    } else {
        Err(app.reject(Reject::Forbidden, StatusCode::FORBIDDEN, "admins only"))
    }
}

pub(crate) fn public(app: &Web, u: &users::User) -> Value {
    json!({
        "id": u.id,
        "username": u.username,
        "display": u.display,
        "admin": u.admin,
        "kind": u.kind,
        "online": app.core().is_online(u.id),
        "stations": u.stations,
        "number": u.number,
    })
}

pub(super) async fn list(State(app): State<Web>, auth: Auth) -> Result<Json<Vec<Value>>, ApiError> {
    require_admin(&app, &auth)?;
    let all = app.core().users().await?;
    Ok(Json(all.iter().map(|u| public(&app, u)).collect()))
}

#[derive(Deserialize)]
pub(super) struct Create {
    username: String,
    password: String,
    display: Option<String>,
    #[serde(default)]
    admin: bool,
    /// "GATEWAY/ENDPOINT".
    line: Option<String>,
    /// The dial-in number (digits).
    number: Option<String>,
    /// The dial-in PIN (digits); stored hashed, never shown.
    pin: Option<String>,
}

pub(super) async fn create(
    State(app): State<Web>,
    auth: Auth,
    body: Result<Json<Create>, JsonRejection>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    require_admin(&app, &auth)?;
    let c = json_body(&app, body)?;
    // Each refusal names the field at fault (`field`), for a form to show it there.
    let invalid = |field: &str, why: String| {
        app.reject(Reject::MalformedJson, StatusCode::BAD_REQUEST, why)
            .with("field", field)
    };
    if !users::valid_username(&c.username) {
        return Err(invalid(
            "username",
            format!(
                "invalid username {:?}: use 1-32 of a-z 0-9 . _ - starting with a letter or digit",
                c.username
            ),
        ));
    }
    if c.password.is_empty() {
        return Err(invalid("password", "empty password".to_owned()));
    }
    let line = match c.line.as_deref().filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => Some(crate::user_edit::checked_line(&app, "line", l)?),
    };
    let number = c.number.filter(|n| !n.is_empty());
    if let Some(n) = &number
        && let Err(db::Error::Invalid(why)) = users::check_number(n)
    {
        return Err(invalid("number", why));
    }
    let pin = c.pin.filter(|p| !p.is_empty());
    if let Some(p) = &pin
        && let Err(db::Error::Invalid(why)) = users::check_pin(p)
    {
        return Err(invalid("pin", why));
    }
    let new = users::NewUser {
        username: c.username,
        display: c.display,
        password: c.password,
        admin: c.admin,
        line,
    };
    let dial_in = users::DialIn {
        number: number.map(Some),
        pin: pin.map(Some),
    };
    match app.core().add_user_with(new, dial_in).await {
        Ok(u) => Ok((StatusCode::CREATED, Json(public(&app, &u)))),
        Err(db::Error::Exists(what)) => {
            // `users::add` names what is taken: "user …", "line …" or "number …".
            let field = if what.starts_with("line ") {
                "line"
            } else if what.starts_with("number ") {
                "number"
            } else {
                "username"
            };
            Err(
                ApiError::plain(StatusCode::CONFLICT, format!("{what} already exists"))
                    .with("field", field),
            )
        }
        Err(db::Error::Invalid(why)) => Err(invalid("form", why)),
        Err(e) => Err(e.into()),
    }
}

pub(super) async fn remove(
    State(app): State<Web>,
    auth: Auth,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    require_admin(&app, &auth)?;
    match app.core().remove_user(name).await {
        Ok(removed) => {
            app.end_sessions_of(removed.id);
            if wants_representation(&headers) {
                Ok((
                    [(PREFERENCE_APPLIED, "return=representation")],
                    Json(removed),
                )
                    .into_response())
            } else {
                Ok(StatusCode::NO_CONTENT.into_response())
            }
        }
        Err(db::Error::NotFound(_)) => {
            Err(app.reject(Reject::NotFound, StatusCode::NOT_FOUND, "no such user"))
        }
        Err(e) => Err(e.into()),
    }
}

/// RFC 7240's answer header, for [`wants_representation`].
const PREFERENCE_APPLIED: &str = "preference-applied";

/// Whether the request says `Prefer: return=representation` (RFC 7240 §4.2): then a deletion
/// answers 200 with what it did instead of an empty 204.
fn wants_representation(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.split(';').next())
        .filter_map(|p| p.split_once('='))
        .any(|(k, v)| {
            k.trim().eq_ignore_ascii_case("return")
                && v.trim()
                    .trim_matches('"')
                    .eq_ignore_ascii_case("representation")
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    use axum::body::Body;
    use axum::http::{Method, Request};
    use tower::ServiceExt;

    struct NoGateways;

    impl crate::GatewayStatus for NoGateways {
        fn health(&self) -> Vec<crate::GatewayHealth> {
            vec![]
        }
    }

    /// Sends `body` to `path` as `token`'s session; the status and the JSON answer.
    async fn call(
        web: &Web,
        token: &str,
        method: Method,
        path: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_string()))
            .unwrap();
        let resp = crate::router(web.clone()).oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), 1 << 20)
            .await
            .unwrap();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn admins_set_dial_in_numbers_and_pins_and_the_json_never_shows_a_pin() {
        let dir = tempfile::tempdir().unwrap();
        let clock = Arc::new(offhook_domain::clock::ManualClock::new(
            1_795_000_000_000_000,
        ));
        let core = offhook_domain::VoiceMessaging::open(
            dir.path(),
            offhook_domain::Config::default(),
            clock,
        )
        .await
        .unwrap();
        let web = Web::new(core.clone(), crate::Config::default(), Arc::new(NoGateways));
        let new = |name: &str, admin| users::NewUser {
            username: name.into(),
            display: None,
            password: "pw".into(),
            admin,
            line: None,
        };
        let root = core.add_user(new("root", true)).await.unwrap();
        let root = web.new_session(&root).token;
        let post = |body: Value| call(&web, &root, Method::POST, "/api/v1/users", body);
        let (status, bob) = post(json!({"username": "bob", "password": "pw",
            "number": "2041", "pin": "4321"}))
        .await;
        assert_eq!(status, StatusCode::CREATED, "{bob}");
        assert_eq!(bob["number"], "2041");
        assert!(
            bob.get("pin").is_none() && !bob.to_string().contains("4321"),
            "{bob}"
        );
        assert!(
            core.identify("2041".into(), "4321".into())
                .await
                .unwrap()
                .is_some()
        );
        // Refused, naming the field, and nobody added.
        for (body, want, field) in [
            (json!({"number": "2041"}), StatusCode::CONFLICT, "number"),
            (json!({"number": "20x1"}), StatusCode::BAD_REQUEST, "number"),
            (json!({"pin": "12"}), StatusCode::BAD_REQUEST, "pin"),
        ] {
            let mut body = body;
            body["username"] = json!("carol");
            body["password"] = json!("pw");
            let (status, err) = post(body.clone()).await;
            assert_eq!(
                (status, err["field"].as_str()),
                (want, Some(field)),
                "{body}: {err}"
            );
        }
        let listed = core.users().await.unwrap();
        assert!(listed.iter().all(|u| u.username != "carol"));
        // PATCH: an admin changes and removes them; the list shows the number.
        let patch = |token: String, body: Value| {
            let web = web.clone();
            async move { call(&web, &token, Method::PATCH, "/api/v1/users/bob", body).await }
        };
        let (status, bob) = patch(root.clone(), json!({"number": "2050", "pin": "9999"})).await;
        assert_eq!(
            (status, bob["number"].as_str()),
            (StatusCode::OK, Some("2050"))
        );
        assert!(
            core.identify("2050".into(), "9999".into())
                .await
                .unwrap()
                .is_some()
        );
        let (_, all) = call(&web, &root, Method::GET, "/api/v1/users", Value::Null).await;
        assert!(
            all.as_array()
                .unwrap()
                .iter()
                .any(|u| u["number"] == "2050"),
            "{all}"
        );
        let (status, bob) = patch(root.clone(), json!({"number": null})).await;
        assert_eq!(
            (status, bob["number"].clone()),
            (StatusCode::OK, Value::Null)
        );
        // Bob himself may not set them.
        let bobs = web
            .new_session(
                &core
                    .users()
                    .await
                    .unwrap()
                    .into_iter()
                    .find(|u| u.username == "bob")
                    .unwrap(),
            )
            .token;
        let (status, err) = patch(bobs, json!({"pin": "1111"})).await;
        assert_eq!(
            (status, err["field"].as_str()),
            (StatusCode::FORBIDDEN, Some("pin"))
        );
        assert!(
            core.identify("2050".into(), "1111".into())
                .await
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_deletion_answers_what_it_did_only_when_asked() {
        let asks = |values: &[&str]| {
            let mut h = HeaderMap::new();
            for v in values {
                h.append("prefer", v.parse().unwrap());
            }
            wants_representation(&h)
        };
        assert!(!asks(&[]));
        assert!(asks(&["return=representation"]));
        assert!(asks(&["respond-async, Return = \"Representation\"; x=1"]));
        assert!(asks(&["wait=5", "return=representation"]));
        assert!(!asks(&["return=minimal"]));
        assert!(!asks(&["representation"]));
        assert!(!asks(&["handling=representation"]));
    }
}
