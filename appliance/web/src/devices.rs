//! The IP phones on the LAN, their DHCP leases and the configuration templates (admins only).
//!
//! - `GET /api/v1/devices`, `POST /api/v1/devices` `{mac, vendor, model, user, ip}`;
//! - `GET|PATCH|DELETE /api/v1/devices/{mac}` (PATCH: fields left out stay, `null` clears);
//! - `GET /api/v1/devices/{mac}/files/{name}`: the file the phone would fetch, as rendered now;
//! - `GET /api/v1/dhcp`: the pools and options in force (from the config file), and
//!   `GET /api/v1/dhcp/leases`;
//! - `GET /api/v1/provisioning/templates`, and `GET|PUT|DELETE
//!   /api/v1/provisioning/templates/{vendor}/{kind}` (a template that does not compile is
//!   refused with 400 and the compiler's message; DELETE goes back to the default).
//!
//! A MAC in a path may be spelt any way (`00:04:F2:AB:CD:EF`, `0004f2abcdef`, ...).

use std::future::Future;
use std::net::Ipv4Addr;
use std::pin::Pin;

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use tracing::info;

use offhook_domain::db::{self, devices};
use offhook_domain::metrics::Reject;
use provisioning::Mac;
use provisioning::templates::Vendor;

use crate::users::{json_body, require_admin};
use crate::{ApiError, Auth, Web};

/// The longest template source accepted.
const MAX_TEMPLATE: usize = 256 * 1024;

/// What the provisioning servers offer the API; set by the appliance when `[dhcp]` is on.
pub trait Provisioning: Send + Sync + 'static {
    /// The file `name` as phone `mac` would get it now: `(content type, body)`; `None` when
    /// the name is not one of that phone's files.
    fn render(&self, mac: Mac, name: &str) -> Result<Option<(&'static str, Vec<u8>)>, String>;
    /// Checks that a template compiles.
    fn check_template(&self, vendor: Vendor, kind: &str, source: &str) -> Result<(), String>;
    /// Builds the templates again from the database (after an edit).
    fn reload_templates(&self) -> Pin<Box<dyn Future<Output = Result<(), String>> + Send + '_>>;
    /// The pools, options and counters in force, as JSON.
    fn dhcp(&self) -> Value;
    /// The kinds of template each vendor has.
    fn template_kinds(&self) -> Vec<(Vendor, &'static str)>;
    /// A vendor's default template for `kind`.
    fn default_template(&self, vendor: Vendor, kind: &str) -> Option<&'static str>;
}

fn provisioning(app: &Web) -> Result<&dyn Provisioning, ApiError> {
    app.0.provisioning.get().map(AsRef::as_ref).ok_or_else(|| {
        app.reject(
            Reject::NotFound,
            StatusCode::NOT_FOUND,
            "provisioning is off: [dhcp] interface is not set",
        )
    })
}

fn bad(app: &Web, why: impl Into<String>) -> ApiError {
    app.reject(Reject::MalformedJson, StatusCode::BAD_REQUEST, why)
}

fn mac_of(app: &Web, text: &str) -> Result<Mac, ApiError> {
    text.parse()
        .map_err(|e: provisioning::mac::ParseError| bad(app, format!("{text:?}: {e}")))
}

fn vendor_of(app: &Web, text: &str) -> Result<Vendor, ApiError> {
    text.parse().map_err(|_| {
        bad(
            app,
            format!("{text:?}: expected cisco, polycom, yealink, grandstream or snom"),
        )
    })
}

/// A database refusal as the status it deserves.
fn refused(app: &Web, e: db::Error) -> ApiError {
    match e {
        db::Error::NotFound(_) => {
            app.reject(Reject::NotFound, StatusCode::NOT_FOUND, e.to_string())
        }
        db::Error::Exists(_) => ApiError::plain(StatusCode::CONFLICT, e.to_string()),
        db::Error::Invalid(_) => bad(app, e.to_string()),
        e => ApiError::from(e),
    }
}

/// `Some(None)` for an explicit `null`, `None` for a field left out.
fn nullable<'de, T: Deserialize<'de>, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct Fields {
    mac: Option<String>,
    #[serde(default, deserialize_with = "nullable")]
    vendor: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    model: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    user: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    ip: Option<Option<String>>,
}

impl Fields {
    fn change(self, app: &Web) -> Result<devices::Change, ApiError> {
        let vendor = match self.vendor {
            Some(Some(v)) => Some(Some(vendor_of(app, &v)?.to_string())),
            Some(None) => Some(None),
            None => None,
        };
        let ip = match self.ip {
            Some(Some(ip)) => {
                Some(Some(ip.parse::<Ipv4Addr>().map_err(|_| {
                    bad(app, format!("ip {ip:?}: expected an IPv4 address"))
                })?))
            }
            Some(None) => Some(None),
            None => None,
        };
        Ok(devices::Change {
            vendor,
            model: self.model,
            user: self.user,
            ip,
        })
    }
}

pub(super) async fn list(State(app): State<Web>, auth: Auth) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &auth)?;
    let all = app.core().db().read(devices::list).await?;
    Ok(Json(json!(all)))
}

pub(super) async fn create(
    State(app): State<Web>,
    auth: Auth,
    body: Result<Json<Fields>, JsonRejection>,
) -> Result<Response, ApiError> {
    require_admin(&app, &auth)?;
    let mut fields = json_body(&app, body)?;
    let mac = fields
        .mac
        .take()
        .ok_or_else(|| bad(&app, "mac is required"))?;
    let mac = mac_of(&app, &mac)?;
    let change = fields.change(&app)?;
    let d = app
        .core()
        .add_device(mac, change)
        .await
        .map_err(|e| refused(&app, e))?;
    info!(%mac, by = %auth.username, "device added");
    Ok((StatusCode::CREATED, Json(json!(d))).into_response())
}

pub(super) async fn get(
    State(app): State<Web>,
    auth: Auth,
    Path(mac): Path<String>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &auth)?;
    let mac = mac_of(&app, &mac)?;
    let d = app
        .core()
        .db()
        .read(move |c| devices::get(c, mac))
        .await?
        .ok_or_else(|| app.reject(Reject::NotFound, StatusCode::NOT_FOUND, "no such device"))?;
    Ok(Json(json!(d)))
}

pub(super) async fn patch(
    State(app): State<Web>,
    auth: Auth,
    Path(mac): Path<String>,
    body: Result<Json<Fields>, JsonRejection>,
) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &auth)?;
    let mac = mac_of(&app, &mac)?;
    let fields = json_body(&app, body)?;
    if fields.mac.is_some() {
        return Err(bad(&app, "a device's MAC cannot change: add a new device"));
    }
    let change = fields.change(&app)?;
    let d = app
        .core()
        .db()
        .write(move |c| devices::set(c, mac, &change))
        .await
        .map_err(|e| refused(&app, e))?;
    info!(%mac, by = %auth.username, "device changed");
    Ok(Json(json!(d)))
}

pub(super) async fn remove(
    State(app): State<Web>,
    auth: Auth,
    Path(mac): Path<String>,
) -> Result<StatusCode, ApiError> {
    require_admin(&app, &auth)?;
    let mac = mac_of(&app, &mac)?;
    app.core()
        .db()
        .write(move |c| devices::remove(c, mac))
        .await
        .map_err(|e| refused(&app, e))?;
    info!(%mac, by = %auth.username, "device removed");
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn file(
    State(app): State<Web>,
    auth: Auth,
    Path((mac, name)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    require_admin(&app, &auth)?;
    let mac = mac_of(&app, &mac)?;
    let p = provisioning(&app)?;
    match p.render(mac, &name) {
        Ok(Some((content_type, body))) => {
            Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
        }
        Ok(None) => Err(app.reject(
            Reject::NotFound,
            StatusCode::NOT_FOUND,
            format!("{name:?} is not a file of {mac}"),
        )),
        Err(e) => Err(app.reject(Reject::NotFound, StatusCode::NOT_FOUND, e)),
    }
}

pub(super) async fn dhcp(State(app): State<Web>, auth: Auth) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &auth)?;
    Ok(Json(provisioning(&app)?.dhcp()))
}

pub(super) async fn leases(State(app): State<Web>, auth: Auth) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &auth)?;
    let all = app.core().db().read(devices::leases).await?;
    Ok(Json(json!(all)))
}

pub(super) async fn templates(State(app): State<Web>, auth: Auth) -> Result<Json<Value>, ApiError> {
    require_admin(&app, &auth)?;
    let p = provisioning(&app)?;
    let stored = app.core().db().read(devices::templates).await?;
    let list: Vec<Value> = p
        .template_kinds()
        .into_iter()
        .map(|(vendor, kind)| {
            let v = vendor.to_string();
            let overridden = stored.iter().any(|(sv, sk, _)| *sv == v && sk == kind);
            json!({"vendor": v, "kind": kind, "overridden": overridden})
        })
        .collect();
    Ok(Json(json!(list)))
}

fn known_kind(app: &Web, p: &dyn Provisioning, vendor: Vendor, kind: &str) -> Result<(), ApiError> {
    if p.template_kinds()
        .iter()
        .any(|(v, k)| *v == vendor && *k == kind)
    {
        Ok(())
    } else {
        Err(app.reject(
            Reject::NotFound,
            StatusCode::NOT_FOUND,
            format!("{vendor} has no template {kind:?}"),
        ))
    }
}

pub(super) async fn template(
    State(app): State<Web>,
    auth: Auth,
    Path((vendor, kind)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    require_admin(&app, &auth)?;
    let p = provisioning(&app)?;
    let vendor = vendor_of(&app, &vendor)?;
    known_kind(&app, p, vendor, &kind)?;
    let (v, k) = (vendor.to_string(), kind.clone());
    let stored = app
        .core()
        .db()
        .read(move |c| {
            Ok(devices::templates(c)?
                .into_iter()
                .find(|(sv, sk, _)| *sv == v && *sk == k)
                .map(|(_, _, s)| s))
        })
        .await?;
    let source = stored
        .or_else(|| p.default_template(vendor, &kind).map(str::to_owned))
        .unwrap_or_default();
    Ok((
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        source,
    )
        .into_response())
}

pub(super) async fn put_template(
    State(app): State<Web>,
    auth: Auth,
    Path((vendor, kind)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    require_admin(&app, &auth)?;
    let p = provisioning(&app)?;
    let vendor = vendor_of(&app, &vendor)?;
    known_kind(&app, p, vendor, &kind)?;
    if body.len() > MAX_TEMPLATE {
        return Err(app.reject(
            Reject::TooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a template is at most {MAX_TEMPLATE} bytes"),
        ));
    }
    let source =
        String::from_utf8(body.to_vec()).map_err(|_| bad(&app, "a template is UTF-8 text"))?;
    p.check_template(vendor, &kind, &source)
        .map_err(|e| bad(&app, format!("the template does not compile: {e}")))?;
    let (v, k) = (vendor.to_string(), kind.clone());
    app.core()
        .db()
        .write(move |c| devices::set_template(c, &v, &k, Some(&source)))
        .await?;
    p.reload_templates().await.map_err(ApiError::internal)?;
    info!(%vendor, kind, by = %auth.username, "template set");
    Ok(StatusCode::NO_CONTENT)
}

pub(super) async fn delete_template(
    State(app): State<Web>,
    auth: Auth,
    Path((vendor, kind)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    require_admin(&app, &auth)?;
    let p = provisioning(&app)?;
    let vendor = vendor_of(&app, &vendor)?;
    known_kind(&app, p, vendor, &kind)?;
    let (v, k) = (vendor.to_string(), kind.clone());
    app.core()
        .db()
        .write(move |c| devices::set_template(c, &v, &k, None))
        .await?;
    p.reload_templates().await.map_err(ApiError::internal)?;
    info!(%vendor, kind, by = %auth.username, "template back to the default");
    Ok(StatusCode::NO_CONTENT)
}
