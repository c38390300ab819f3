//! Offhook's HTTP front end: the REST API and WebSocket endpoint of the reference, on axum,
//! over the voice-messaging core ([`offhook_domain::VoiceMessaging`]). This crate keeps only
//! HTTP state (sessions, the shutdown flag, its settings); every rule is the core's.
//!
//! Every refusal is a JSON `{"error": …}` with a 4xx status and a count in `/metrics`
//! (`offhook_rejected_total{kind=…}`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// The OpenAPI document is one `json!` literal, deeper than the default limit allows.
#![recursion_limit = "256"]

mod auth;
mod backup;
mod config;
pub mod devices;
mod error;
pub mod front;
pub mod log_view;
pub mod login_limit;
mod messages;
pub mod openapi;
pub mod settings;
pub mod tls;
pub mod ui;
mod user_edit;
mod users;
mod ws;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use offhook_domain::VoiceMessaging;
use offhook_domain::metrics::Reject;
use serde_json::json;

use crate::auth::SessionInfo;
pub use crate::auth::{Auth, COOKIE};
pub use crate::config::{Config, ConfigError, MetricsAccess};
pub use crate::error::ApiError;

/// One media gateway as `/api/v1/health` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayHealth {
    /// Its configured name.
    pub name: String,
    /// Its protocol.
    pub protocol: &'static str,
    /// Whether it is in service.
    pub up: bool,
}

/// One registered SIP contact as `/api/v1/health` shows it to admins.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SipContact {
    /// The SIP user name it registered as.
    pub user: String,
    /// Its Contact URI.
    pub contact: String,
    /// Where its requests come from.
    pub source: String,
    /// `udp`, `tcp` or `tls`.
    pub transport: &'static str,
    /// Seconds until the registration lapses.
    pub expires_in: u64,
    /// Its `User-Agent`, if it sent one.
    pub user_agent: Option<String>,
}

/// The SIP registrar as `/api/v1/health` shows it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SipHealth {
    /// Where it listens.
    pub listen: String,
    /// Every registered contact (about a second old).
    pub contacts: Vec<SipContact>,
}

/// Where `/api/v1/health` reads the gateways' state (the binary's gateway registry).
pub trait GatewayStatus: Send + Sync + 'static {
    /// Every configured gateway and whether it is up.
    fn health(&self) -> Vec<GatewayHealth>;

    /// The SIP registrar, when it runs.
    fn sip(&self) -> Option<SipHealth> {
        None
    }
}

/// The HTTP layer's state: the core it serves, and its own (sessions, settings, the shutdown
/// flag). Clones share one state.
#[derive(Clone)]
pub struct Web(Arc<Inner>);

struct Inner {
    core: VoiceMessaging,
    config: Config,
    gateways: Arc<dyn GatewayStatus>,
    shutting_down: AtomicBool,
    sessions: Mutex<HashMap<String, SessionInfo>>,
    /// The next session's number (see `auth`).
    next_login: std::sync::atomic::AtomicU64,
    /// How many times an admin flag was set on open sessions (see `auth`).
    flags_set: std::sync::atomic::AtomicU64,
    /// The key CSRF tokens are derived under (see `auth`).
    csrf_key: ring::hmac::Key,
    front: Arc<front::FrontStats>,
    login_limit: login_limit::LoginLimit,
    /// The HTTPS certificate, when one is served (`GET /api/v1/tls`).
    tls: std::sync::OnceLock<tls::Info>,
    /// The process's log, for admins (`GET /api/v1/log`).
    log: std::sync::OnceLock<Arc<dyn log_view::LogSource>>,
    /// The config file's network settings, shown read-only (`GET /api/v1/settings`).
    network: std::sync::OnceLock<Vec<settings::NetworkSetting>>,
    /// The LAN provisioning servers, when on (`/api/v1/devices/…/files`, templates, DHCP).
    provisioning: std::sync::OnceLock<Box<dyn devices::Provisioning>>,
}

impl std::fmt::Debug for Web {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Web")
            .field("core", &self.0.core)
            .finish_non_exhaustive()
    }
}

impl Web {
    /// The HTTP layer over `core`, with `gateways` for `/api/v1/health`.
    pub fn new(core: VoiceMessaging, config: Config, gateways: Arc<dyn GatewayStatus>) -> Self {
        Self(Arc::new(Inner {
            core,
            config,
            gateways,
            shutting_down: AtomicBool::new(false),
            sessions: Mutex::new(HashMap::new()),
            next_login: std::sync::atomic::AtomicU64::new(1),
            flags_set: std::sync::atomic::AtomicU64::new(0),
            csrf_key: auth::csrf_key(),
            front: Arc::default(),
            login_limit: login_limit::LoginLimit::default(),
            tls: std::sync::OnceLock::new(),
            log: std::sync::OnceLock::new(),
            network: std::sync::OnceLock::new(),
            provisioning: std::sync::OnceLock::new(),
        }))
    }

    /// Tells the web layer which certificate the front serves (for `GET /api/v1/tls`). The
    /// first call counts.
    pub fn set_tls(&self, info: tls::Info) {
        let _ = self.0.tls.set(info);
    }

    /// The config file's network settings, shown to admins read-only in `GET /api/v1/settings`
    /// (they apply at restart). The first call counts.
    pub fn set_network(&self, network: Vec<settings::NetworkSetting>) {
        let _ = self.0.network.set(network);
    }

    /// Gives admins the provisioning servers' side of the API (rendered files, templates,
    /// DHCP); without it those answer 404. The first call counts.
    pub fn set_provisioning(&self, p: Box<dyn devices::Provisioning>) {
        let _ = self.0.provisioning.set(p);
    }

    /// Gives admins the process's log (`GET /api/v1/log`); without it the log is empty.
    pub fn set_log(&self, source: Arc<dyn log_view::LogSource>) {
        let _ = self.0.log.set(source);
    }

    /// The counters [`front::serve`] keeps, shown in `/metrics` (`offhook_http_total`).
    pub fn front_stats(&self) -> Arc<front::FrontStats> {
        self.0.front.clone()
    }

    /// The core.
    pub fn core(&self) -> &VoiceMessaging {
        &self.0.core
    }

    /// Shutdown begins: new requests get 503.
    pub fn begin_shutdown(&self) {
        self.0.shutting_down.store(true, Ordering::SeqCst);
    }

    /// Whether shutdown has begun.
    pub fn is_shutting_down(&self) -> bool {
        self.0.shutting_down.load(Ordering::SeqCst)
    }

    /// Counts a refusal and builds its response.
    pub fn reject(&self, kind: Reject, status: StatusCode, message: impl Into<String>) -> ApiError {
        error::reject(self.0.core.metrics(), kind, status, message)
    }
}

async fn refuse_while_stopping(State(app): State<Web>, req: Request, next: Next) -> Response {
    if app.is_shutting_down() {
        return app
            .reject(
                Reject::ShuttingDown,
                StatusCode::SERVICE_UNAVAILABLE,
                "server is shutting down",
            )
            .into_response();
    }
    next.run(req).await
}

/// Bodies declared longer than this are refused without being read.
const DRAIN_MAX: u64 = 256 << 20;

/// Refuses an upload without a valid session before reading any of it. Refuses an upload whose
/// declared length is over the cap before reading it, but reads (and drops) its body first, up to [`DRAIN_MAX`], so that the client, still sending, gets to read
/// the 413 instead of a reset connection. Bodies without a declared length are capped by
/// `DefaultBodyLimit` while they stream.
async fn upload_cap(State(app): State<Web>, req: Request, next: Next) -> Response {
    // The session first, before a byte of the body is read: a stranger's upload is refused
    // unread, and the connection closed rather than drained.
    let (parts, body) = req.into_parts();
    if let Err(e) = app.authenticate(auth::token_of(&parts).as_deref()) {
        let mut refused = e.into_response();
        refused.headers_mut().insert(
            header::CONNECTION,
            header::HeaderValue::from_static("close"),
        );
        return refused;
    }
    let req = Request::from_parts(parts, body);
    let cap = app.core().config().upload_limit() as u64;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(n) if n > cap => {
            if n <= DRAIN_MAX {
                let mut body = req.into_body().into_data_stream();
                let _ = tokio::time::timeout(std::time::Duration::from_secs(30), async {
                    while let Some(Ok(_)) = futures_util::StreamExt::next(&mut body).await {}
                })
                .await;
            }
            app.reject(
                Reject::TooLarge,
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("upload of {n} bytes is over the {cap} byte limit"),
            )
            .into_response()
        }
        _ => next.run(req).await,
    }
}

/// `/api/v1/health`: what a load balancer needs (up, and the gateways' state) for anyone; the
/// users' phones and whether each can ring only for a caller with a session (the list names
/// users by GUID).
async fn health(
    State(app): State<Web>,
    parts: axum::http::request::Parts,
) -> Json<serde_json::Value> {
    let gateways: Vec<_> = app
        .0
        .gateways
        .health()
        .into_iter()
        .map(|g| json!({"name": g.name, "protocol": g.protocol, "up": g.up}))
        .collect();
    let mut body = json!({"status": "ok", "gateways": gateways});
    let federation = app.core().federation();
    if let Some(site) = federation.site() {
        let sites: Vec<_> = federation
            .sites()
            .into_iter()
            .map(
                |(name, at)| json!({"name": name, "last_seen": offhook_domain::clock::rfc3339(at)}),
            )
            .collect();
        body["federation"] =
            json!({"site": site, "connected": federation.connected(), "sites": sites});
    }
    let session = app.session_of(&parts);
    if let Some(sip) = app.0.gateways.sip() {
        let mut users: Vec<&str> = sip.contacts.iter().map(|c| c.user.as_str()).collect();
        users.sort_unstable();
        users.dedup();
        body["sip"] = json!({
            "listen": sip.listen,
            "registered_users": users.len(),
            "registered_contacts": sip.contacts.len(),
        });
        if session.as_ref().is_some_and(|s| s.admin) {
            body["sip"]["contacts"] = json!(sip.contacts);
        }
    }
    if session.as_ref().is_some_and(|s| s.admin) {
        // The core's parts, for the admin console (see `offhook_domain::health`).
        body["subsystems"] = json!(app.core().health().await);
        // Each phone line and what it does (about a second old).
        body["lines"] = json!(app.core().lines());
    }
    if session.is_some() {
        // Users' phones: `available` is false while the phone's gateway is down (record → 503).
        let stations: Vec<_> = app
            .core()
            .availability()
            .into_iter()
            .map(|(user, available)| json!({"user": user, "available": available}))
            .collect();
        body["stations"] = json!(stations);
    }
    Json(body)
}

async fn metrics(State(app): State<Web>, parts: axum::http::request::Parts) -> Response {
    match app.0.config.metrics {
        MetricsAccess::Open => {}
        MetricsAccess::Off => return not_found(State(app)).await.into_response(),
        MetricsAccess::Admin => match app.authenticate(auth::token_of(&parts).as_deref()) {
            Ok(a) if a.admin => {}
            Ok(_) => {
                return app
                    .reject(Reject::Forbidden, StatusCode::FORBIDDEN, "admins only")
                    .into_response();
            }
            Err(e) => return e.into_response(),
        },
    }
    let core = app.core();
    let front = &app.0.front;
    core.metrics().set_family(
        "offhook_http_total",
        "HTTP connections the front closed to make room (idle_evicted), accepts that failed, \
         TLS handshakes that failed or timed out, and plain HTTP sent to a TLS port.",
        front.counters(),
    );
    let mut text = core.metrics().render();
    let (segments, bytes) = core.spool_usage();
    offhook_domain::metrics::gauges(
        &mut text,
        &[
            (
                "offhook_transcode_waiting",
                "Messages acknowledged and waiting for a transcoding worker.",
                core.transcode_waiting() as u64,
            ),
            (
                "offhook_spool_segments",
                "Upload spool segments on disk.",
                segments as u64,
            ),
            (
                "offhook_spool_bytes",
                "Bytes held in the upload spool's segments.",
                bytes,
            ),
        ],
    );
    if core.federation().site().is_some() {
        let pending = core.outbox_len().await.unwrap_or(0);
        core.federation().render(&mut text, pending);
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text).into_response()
}

/// `GET /api/v1/tls` (admins): the certificate served over HTTPS, to compare its fingerprint
/// with the one a browser shows; `{"enabled": false}` when the server serves none.
async fn tls_info(State(app): State<Web>, auth: Auth) -> Result<Json<serde_json::Value>, ApiError> {
    if !auth.admin {
        return Err(app.reject(Reject::Forbidden, StatusCode::FORBIDDEN, "admins only"));
    }
    Ok(Json(match app.0.tls.get() {
        Some(info) => json!({
            "enabled": true,
            "fingerprint_sha256": info.fingerprint_sha256,
            "self_signed": info.self_signed,
            "not_after": info.not_after,
        }),
        None => json!({"enabled": false}),
    }))
}

async fn not_found(State(app): State<Web>) -> ApiError {
    app.reject(Reject::NotFound, StatusCode::NOT_FOUND, "no such endpoint")
}

/// The router: every route of CONTRACT.md's REST table (and of [`openapi::document`]).
pub fn router(app: Web) -> Router {
    let upload_cap = app.core().config().upload_limit();
    let mut router = Router::new();
    for path in ui::paths() {
        router = router.route(path, get(move || async move { ui::serve(path) }));
    }
    router
        .route(
            "/api/v1/session",
            post(users::login).get(users::session).delete(users::logout),
        )
        .route("/api/v1/tls", get(tls_info))
        .route("/api/v1/admin/backup", post(backup::create))
        .route(
            "/api/v1/admin/restore",
            // A backup is as large as the appliance's data; only an admin gets this far
            // (the session is checked before the body is read).
            post(backup::restore).layer(DefaultBodyLimit::disable()),
        )
        .route(
            "/api/v1/settings",
            get(settings::get).patch(settings::patch),
        )
        .route("/api/v1/contacts", get(users::contacts))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route(
            "/api/v1/users/{name}",
            delete(users::remove).patch(user_edit::edit),
        )
        .route(
            "/api/v1/users/{name}/contacts",
            get(user_edit::contacts).put(user_edit::set_contacts),
        )
        .route(
            "/api/v1/users/{name}/stations",
            get(user_edit::stations).put(user_edit::set_stations),
        )
        .route(
            "/api/v1/messages",
            get(messages::list)
                .post(messages::create)
                .layer(DefaultBodyLimit::max(upload_cap))
                .layer(middleware::from_fn_with_state(
                    app.clone(),
                    self::upload_cap,
                )),
        )
        .route("/api/v1/messages/{id}", delete(messages::remove))
        .route("/api/v1/messages/{id}/audio", get(messages::audio))
        .route("/api/v1/messages/{id}/waveform", get(messages::waveform))
        .route(
            "/api/v1/messages/{id}/attachments/{n}",
            get(messages::attachment),
        )
        .route("/api/v1/usage", get(messages::usage))
        .route("/api/v1/devices", get(devices::list).post(devices::create))
        .route(
            "/api/v1/devices/{mac}",
            get(devices::get)
                .patch(devices::patch)
                .delete(devices::remove),
        )
        .route("/api/v1/devices/{mac}/files/{name}", get(devices::file))
        .route("/api/v1/dhcp", get(devices::dhcp))
        .route("/api/v1/dhcp/leases", get(devices::leases))
        .route("/api/v1/provisioning/templates", get(devices::templates))
        .route(
            "/api/v1/provisioning/templates/{vendor}/{kind}",
            get(devices::template)
                .put(devices::put_template)
                .delete(devices::delete_template),
        )
        .route("/api/v1/record", post(messages::record))
        .route("/api/v1/record/{id}", get(messages::record_status))
        .route("/api/v1/ws", get(ws::upgrade))
        .route("/api/v1/health", get(health))
        .route("/api/v1/log", get(log_view::log))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        // Before any route's own layers (the upload's): a forged upload is refused unread.
        .layer(middleware::from_fn_with_state(
            app.clone(),
            auth::csrf_guard,
        ))
        .layer(middleware::from_fn_with_state(
            app.clone(),
            refuse_while_stopping,
        ))
        .with_state(app)
}
