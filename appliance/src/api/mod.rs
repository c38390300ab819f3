//! The REST API and WebSocket endpoint of shared/CONTRACT.md, on axum.
//!
//! Every refusal is a JSON `{"error": …}` with a 4xx status and a count in `/metrics`
//! (`offhook_rejected_total{kind=…}`).

mod messages;
pub mod openapi;
mod users;
mod ws;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{DefaultBodyLimit, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use rand::RngCore;
use serde_json::json;
use tracing::debug;
use uuid::Uuid;

use crate::clients::ClientManager;
use crate::clock::Clock;
use crate::config::Config;
use crate::db::Db;
use crate::media::SealKey;
use crate::metrics::{Metrics, Reject};

/// The session cookie's name.
pub const COOKIE: &str = "offhook_session";

/// Everything a request handler can reach.
pub struct Inner {
    /// The database.
    pub db: Db,
    /// Sessions and delivery.
    pub clients: ClientManager,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Settings.
    pub config: Config,
    /// The master sealing key.
    pub key: SealKey,
    /// Wall-clock time.
    pub clock: Arc<dyn Clock>,
    /// Set once shutdown begins: new requests get 503.
    pub shutting_down: AtomicBool,
    /// Messages waiting to be transcoded.
    pub transcoder: crate::transcode::Queue,
    /// The media gateways and their lines.
    pub gateways: Arc<crate::gateways::Gateways>,
    /// The users' phones.
    pub stations: Arc<crate::stations::Stations>,
    sessions: Mutex<HashMap<String, SessionInfo>>,
}

/// The telephony subsystems the API reaches.
pub struct Phones {
    /// The media gateways and their lines.
    pub gateways: Arc<crate::gateways::Gateways>,
    /// The users' phones.
    pub stations: Arc<crate::stations::Stations>,
}

/// The shared application state.
#[derive(Clone)]
pub struct App(pub Arc<Inner>);

impl std::ops::Deref for App {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.0
    }
}

impl App {
    /// Assembles the state.
    pub fn new(
        db: Db,
        clients: ClientManager,
        metrics: Arc<Metrics>,
        config: Config,
        key: SealKey,
        clock: Arc<dyn Clock>,
        phones: Phones,
    ) -> Self {
        let Phones { gateways, stations } = phones;
        Self(Arc::new(Inner {
            db,
            clients,
            metrics,
            config,
            key,
            clock,
            shutting_down: AtomicBool::new(false),
            transcoder: crate::transcode::Queue::default(),
            gateways,
            stations,
            sessions: Mutex::new(HashMap::new()),
        }))
    }

    /// Counts a refusal and builds its response.
    pub fn reject(&self, kind: Reject, status: StatusCode, message: impl Into<String>) -> ApiError {
        self.metrics.reject(kind);
        let message = message.into();
        debug!(kind = kind.label(), status = status.as_u16(), %message, "request refused");
        ApiError { status, message }
    }

    fn new_session(&self, user: &crate::db::users::User) -> String {
        let mut b = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut b);
        let token: String = b.iter().map(|x| format!("{x:02x}")).collect();
        let ttl = i64::try_from(self.config.clients.session_ttl.as_millis()).unwrap_or(i64::MAX);
        let info = SessionInfo {
            user: user.id,
            username: user.username.clone(),
            admin: user.admin,
            expires_ms: self.clock.now_ms().saturating_add(ttl),
        };
        let mut map = self.sessions.lock().unwrap_or_else(|p| p.into_inner());
        let now = self.clock.now_ms();
        if map.len() > 10_000 {
            map.retain(|_, s| s.expires_ms > now);
        }
        map.insert(token.clone(), info);
        token
    }

    fn end_session(&self, token: &str) {
        self.sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(token);
    }

    /// Resolves a session token.
    pub fn authenticate(&self, token: Option<&str>) -> Result<Auth, ApiError> {
        let Some(token) = token else {
            return Err(self.reject(
                Reject::NoSession,
                StatusCode::UNAUTHORIZED,
                "log in first: POST /api/v1/session, then send the token as a Bearer token or cookie",
            ));
        };
        let info = self
            .sessions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned();
        match info {
            None => Err(self.reject(
                Reject::BadToken,
                StatusCode::UNAUTHORIZED,
                "invalid session token",
            )),
            Some(s) if s.expires_ms <= self.clock.now_ms() => {
                self.end_session(token);
                Err(self.reject(
                    Reject::ExpiredToken,
                    StatusCode::UNAUTHORIZED,
                    "session expired: log in again",
                ))
            }
            Some(s) => Ok(Auth {
                user: s.user,
                username: s.username,
                admin: s.admin,
                token: token.to_owned(),
            }),
        }
    }
}

#[derive(Debug, Clone)]
struct SessionInfo {
    user: Uuid,
    username: String,
    admin: bool,
    expires_ms: i64,
}

/// A refused request: its status and a one-line cause.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The cause, for humans.
    pub message: String,
}

impl ApiError {
    /// A server-side failure (not counted as a rejection: it is not the client's fault).
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "request failed");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: "internal error".into(),
        }
    }
}

impl From<crate::db::Error> for ApiError {
    fn from(e: crate::db::Error) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({"error": self.message}))).into_response()
    }
}

/// The authenticated caller.
#[derive(Debug, Clone)]
pub struct Auth {
    /// Their GUID.
    pub user: Uuid,
    /// Their login name.
    pub username: String,
    /// May manage users.
    pub admin: bool,
    token: String,
}

/// The session token of a request: `Authorization: Bearer`, the session cookie, or `?token=`
/// (for browsers' WebSockets).
fn token_of(parts: &Parts) -> Option<String> {
    if let Some(t) = parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        return Some(t.trim().to_owned());
    }
    for v in parts.headers.get_all(header::COOKIE) {
        let Ok(v) = v.to_str() else { continue };
        for kv in v.split(';') {
            if let Some(t) = kv
                .trim()
                .strip_prefix(COOKIE)
                .and_then(|r| r.strip_prefix('='))
            {
                return Some(t.to_owned());
            }
        }
    }
    parts.uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token="))
            .map(str::to_owned)
    })
}

impl FromRequestParts<App> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, ApiError> {
        app.authenticate(token_of(parts).as_deref())
    }
}

async fn refuse_while_stopping(State(app): State<App>, req: Request, next: Next) -> Response {
    if app.shutting_down.load(Ordering::Relaxed) {
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

/// Refuses an upload whose declared length is over the cap before reading it, but reads (and
/// drops) its body first, up to [`DRAIN_MAX`], so that the client, still sending, gets to read
/// the 413 instead of a reset connection. Bodies without a declared length are capped by
/// `DefaultBodyLimit` while they stream.
async fn upload_cap(State(app): State<App>, req: Request, next: Next) -> Response {
    let cap = app.config.messages.max_upload as u64;
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

async fn health(State(app): State<App>) -> Json<serde_json::Value> {
    let gateways: Vec<_> = app
        .gateways
        .health()
        .into_iter()
        .map(|g| json!({"name": g.name, "protocol": g.protocol, "up": g.up}))
        .collect();
    // Users' phones: `available` is false while the phone's gateway is down (record → 503).
    let stations: Vec<_> = app
        .stations
        .availability()
        .into_iter()
        .map(|(user, available)| json!({"user": user, "available": available}))
        .collect();
    Json(json!({"status": "ok", "gateways": gateways, "stations": stations}))
}

async fn metrics(State(app): State<App>) -> impl IntoResponse {
    let mut text = app.metrics.render();
    let (segments, bytes) = app.db.spool().usage();
    crate::metrics::gauges(
        &mut text,
        &[
            (
                "offhook_transcode_waiting",
                "Messages acknowledged and waiting for a transcoding worker.",
                app.transcoder.waiting() as u64,
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
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], text)
}

async fn not_found(State(app): State<App>) -> ApiError {
    app.reject(Reject::NotFound, StatusCode::NOT_FOUND, "no such endpoint")
}

/// The router: every route of CONTRACT.md's REST table (and of [`openapi::document`]).
pub fn router(app: App) -> Router {
    let upload_cap = app.config.messages.max_upload;
    Router::new()
        .route("/api/v1/session", post(users::login).delete(users::logout))
        .route("/api/v1/contacts", get(users::contacts))
        .route("/api/v1/users", get(users::list).post(users::create))
        .route("/api/v1/users/{name}", delete(users::remove))
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
        .route(
            "/api/v1/messages/{id}/attachments/{n}",
            get(messages::attachment),
        )
        .route("/api/v1/record", post(messages::record))
        .route("/api/v1/record/{id}", get(messages::record_status))
        .route("/api/v1/ws", get(ws::upgrade))
        .route("/api/v1/health", get(health))
        .route("/api/v1/openapi.json", get(openapi::serve))
        .route("/metrics", get(metrics))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(
            app.clone(),
            refuse_while_stopping,
        ))
        .with_state(app)
}
