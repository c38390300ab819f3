//! HTTP provisioning (RFC 9110): the generated configuration files and firmware, per device.
//!
//! One handler serves every path, so that every request, refused or not, is logged once:
//! - `GET /<file>` and `GET /<dir>/…/<file>`: the last path segment is offered to the
//!   [`Provisioner`]; a generated file is served from memory. Anything else is a firmware file
//!   from [`HttpState::firmware`] (a [`files::Root`], which no name can leave), streamed with
//!   its `Content-Length`.
//! - `GET /<mac>/<file>` (the MAC in any spelling): the per-device form, what the site's
//!   provisioning URL points phones at. A per-device file there must be that MAC's (404
//!   otherwise); shared files and firmware are served as at the top.
//! - `HEAD` gives the same status and headers with no body; other methods get 405.
//!
//! Per-device files carry the user's SIP secret. With [`HttpAuth`] set they need HTTP basic
//! auth (RFC 7617): one shared user and password, or per device, the MAC as user name and
//! the device's own [`Device::http_secret`](crate::templates::Device::http_secret). Shared
//! files and firmware hold no secret and need none. Passwords are compared in constant time.
//!
//! Each request is logged (`info!`, with peer, MAC, file, status and bytes; never the
//! credentials) and reported to [`HttpState::on_fetch`], for the appliance's record of who
//! fetched what.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use subtle::ConstantTimeEq as _;
use tokio::io::AsyncReadExt as _;
use tracing::{Instrument as _, debug, info, info_span};

use crate::Mac;
use crate::files::{self, Refusal};
use crate::templates::naming::{self, Request as Named};
use crate::templates::{Provisioner, RenderError, Rendered};

/// The longest request path accepted (before percent-decoding), in bytes.
pub const MAX_PATH_LEN: usize = 1024;
/// The size of the chunks a firmware file is streamed in.
const CHUNK: usize = 64 * 1024;
/// The realm of the basic auth challenge.
const REALM: &str = "Basic realm=\"offhook provisioning\", charset=\"UTF-8\"";

/// Where the current [`Provisioner`] comes from: called once per request, so that the
/// appliance can swap in a new one (site or templates changed) without restarting the server.
pub type ProvisionerSource = Arc<dyn Fn() -> Arc<Provisioner> + Send + Sync>;

/// Called once per request with what was fetched.
pub type FetchHook = Arc<dyn Fn(Fetch) + Send + Sync>;

/// HTTP basic auth for per-device files.
#[derive(Clone, PartialEq, Eq)]
pub enum HttpAuth {
    /// One user name and password for every device.
    Shared {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// The device's MAC as user name (any case, bare or with `-` or `.`, but not `:`, which
    /// basic auth reserves), its `http_secret` as password; a device without one cannot fetch
    /// its files.
    PerDevice,
}

impl fmt::Debug for HttpAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Shared { user, .. } => f
                .debug_struct("Shared")
                .field("user", user)
                .field("password", &"<redacted>")
                .finish(),
            Self::PerDevice => f.write_str("PerDevice"),
        }
    }
}

/// One request, as reported to [`HttpState::on_fetch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fetch {
    /// Who asked (absent when the server was not started with connection info, as in tests).
    pub peer: Option<SocketAddr>,
    /// The path asked for, percent-decoded when it could be.
    pub path: String,
    /// The device the file is for, when it is a per-device file (or the path names a MAC).
    pub mac: Option<Mac>,
    /// The status answered.
    pub status: u16,
    /// The body's length (0 for `HEAD` and errors); for firmware, the file's length, sent
    /// unless the client went away.
    pub bytes: u64,
}

/// Counters of the requests answered, by outcome.
#[derive(Debug, Default)]
pub struct HttpStats {
    served: AtomicU64,
    not_found: AtomicU64,
    forbidden: AtomicU64,
    unauthorized: AtomicU64,
    bad_request: AtomicU64,
    failed: AtomicU64,
}

/// A snapshot of [`HttpStats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct HttpCounts {
    /// 200 answers (files generated or streamed).
    pub served: u64,
    /// 404: no such file or device, or another device's file.
    pub not_found: u64,
    /// 403: a firmware name that breaks the root's rules.
    pub forbidden: u64,
    /// 401: missing or wrong credentials.
    pub unauthorized: u64,
    /// 400, 405, 414: malformed paths, other methods, overlong paths.
    pub bad_request: u64,
    /// 500: a template or a file that failed.
    pub failed: u64,
}

impl HttpStats {
    /// The counts so far.
    pub fn counts(&self) -> HttpCounts {
        let l = |c: &AtomicU64| c.load(Ordering::Relaxed);
        HttpCounts {
            served: l(&self.served),
            not_found: l(&self.not_found),
            forbidden: l(&self.forbidden),
            unauthorized: l(&self.unauthorized),
            bad_request: l(&self.bad_request),
            failed: l(&self.failed),
        }
    }

    fn count(&self, status: StatusCode) {
        let c = match status {
            StatusCode::OK => &self.served,
            StatusCode::NOT_FOUND => &self.not_found,
            StatusCode::FORBIDDEN => &self.forbidden,
            StatusCode::UNAUTHORIZED => &self.unauthorized,
            s if s.is_client_error() => &self.bad_request,
            _ => &self.failed,
        };
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the router serves, and to whom.
pub struct HttpState {
    /// The current provisioner.
    pub provisioner: ProvisionerSource,
    /// The firmware directory, if any.
    pub firmware: Option<files::Root>,
    /// Basic auth for per-device files; `None` serves them to anyone on the LAN.
    pub auth: Option<HttpAuth>,
    /// Told of every request.
    pub on_fetch: Option<FetchHook>,
    /// The counters.
    pub stats: HttpStats,
}

impl fmt::Debug for HttpState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpState")
            .field("firmware", &self.firmware)
            .field("auth", &self.auth)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl HttpState {
    /// Serves `provisioner`'s files only: no firmware, no auth, no hook.
    pub fn new(provisioner: ProvisionerSource) -> Self {
        Self {
            provisioner,
            firmware: None,
            auth: None,
            on_fetch: None,
            stats: HttpStats::default(),
        }
    }

    /// The same, for one provisioner that never changes.
    pub fn fixed(provisioner: Provisioner) -> Self {
        let p = Arc::new(provisioner);
        Self::new(Arc::new(move || p.clone()))
    }
}

/// The provisioning router (see the module docs).
pub fn router(state: Arc<HttpState>) -> Router {
    Router::new().fallback(handle).with_state(state)
}

/// Serves the router on `listener` until `shutdown` completes, with the peers' addresses.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: Arc<HttpState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(state).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

async fn handle(State(state): State<Arc<HttpState>>, request: Request) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    let raw = request.uri().path();
    let span = info_span!("http_fetch", peer = ?peer);
    let answer = answer(&state, request.method(), raw, request.headers())
        .instrument(span.clone())
        .await;
    let Answer {
        status,
        path,
        mac,
        bytes,
        response,
    } = answer;
    let _entered = span.enter();
    state.stats.count(status);
    let mac_field = mac.map(|m| m.to_string());
    info!(file = %path, mac = mac_field.as_deref(), status = status.as_u16(), bytes, "fetch");
    if let Some(hook) = &state.on_fetch {
        hook(Fetch {
            peer,
            path,
            mac,
            status: status.as_u16(),
            bytes,
        });
    }
    response
}

/// A response with what the log needs to know about it.
struct Answer {
    status: StatusCode,
    path: String,
    mac: Option<Mac>,
    bytes: u64,
    response: Response,
}

impl Answer {
    fn refuse(status: StatusCode, path: String, mac: Option<Mac>) -> Self {
        let mut response = status.into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(REALM));
        }
        Self {
            status,
            path,
            mac,
            bytes: 0,
            response,
        }
    }
}

async fn answer(state: &HttpState, method: &Method, raw: &str, headers: &HeaderMap) -> Answer {
    if raw.len() > MAX_PATH_LEN {
        let shown: String = raw.chars().take(64).collect();
        return Answer::refuse(StatusCode::URI_TOO_LONG, shown + "…", None);
    }
    let Some(path) = percent_decode(raw) else {
        return Answer::refuse(StatusCode::BAD_REQUEST, raw.to_owned(), None);
    };
    let head = *method == Method::HEAD;
    if !head && *method != Method::GET {
        return Answer::refuse(StatusCode::METHOD_NOT_ALLOWED, path, None);
    }
    let relative = path.trim_start_matches('/');
    // The per-device form: a MAC, then the rest.
    let (path_mac, rest) = match relative.split_once('/') {
        Some((first, rest)) => match first.parse::<Mac>() {
            Ok(mac) => (Some(mac), rest),
            Err(_) => (None, relative),
        },
        None => (None, relative),
    };
    let last = rest.rsplit('/').next().unwrap_or(rest);
    let named = naming::parse(last);
    let file_mac = match &named {
        Some(Named::Device { mac, .. }) => Some(*mac),
        _ => None,
    };
    let mac = file_mac.or(path_mac);
    if let (Some(p), Some(f)) = (path_mac, file_mac)
        && p != f
    {
        debug!(path_mac = %p, file_mac = %f, "another device's file");
        return Answer::refuse(StatusCode::NOT_FOUND, path, mac);
    }
    let provisioner = (state.provisioner)();
    if let Some(file_mac) = file_mac
        && !authorised(state, &provisioner, file_mac, headers)
    {
        return Answer::refuse(StatusCode::UNAUTHORIZED, path, mac);
    }
    if named.is_some() {
        match provisioner.render(last) {
            Ok(Some(rendered)) => return generated(rendered, head, path, mac),
            Ok(None) => {}
            Err(RenderError::NotFound { .. }) => {
                return Answer::refuse(StatusCode::NOT_FOUND, path, mac);
            }
            Err(e) => {
                debug!(error = %e, "template failed");
                return Answer::refuse(StatusCode::INTERNAL_SERVER_ERROR, path, mac);
            }
        }
    }
    let name = rest.to_owned();
    firmware(state, &name, head, path, mac).await
}

fn generated(rendered: Rendered, head: bool, path: String, mac: Option<Mac>) -> Answer {
    let len = rendered.body.len() as u64;
    let headers = [
        (header::CONTENT_TYPE, rendered.content_type),
        // The per-device files hold the SIP secret: no cache is to keep them.
        (header::CACHE_CONTROL, "no-store"),
    ];
    let body = if head {
        Body::empty()
    } else {
        Body::from(rendered.body)
    };
    let mut response = (headers, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Answer {
        status: StatusCode::OK,
        path,
        mac: rendered.device.or(mac),
        bytes: if head { 0 } else { len },
        response,
    }
}

async fn firmware(
    state: &HttpState,
    name: &str,
    head: bool,
    path: String,
    mac: Option<Mac>,
) -> Answer {
    let Some(root) = state.firmware.clone() else {
        return Answer::refuse(StatusCode::NOT_FOUND, path, mac);
    };
    if name.is_empty() {
        // No directory listing.
        return Answer::refuse(StatusCode::NOT_FOUND, path, mac);
    }
    let owned = name.to_owned();
    let opened = tokio::task::spawn_blocking(move || root.open(&owned)).await;
    let (file, len) = match opened {
        Ok(Ok(opened)) => opened,
        Ok(Err(Refusal::NotFound)) => return Answer::refuse(StatusCode::NOT_FOUND, path, mac),
        Ok(Err(Refusal::Forbidden(why))) => {
            debug!(why, "firmware name refused");
            return Answer::refuse(StatusCode::FORBIDDEN, path, mac);
        }
        Ok(Err(e)) => {
            debug!(error = %e, "firmware file failed");
            return Answer::refuse(StatusCode::INTERNAL_SERVER_ERROR, path, mac);
        }
        Err(e) => {
            debug!(error = %e, "firmware open task failed");
            return Answer::refuse(StatusCode::INTERNAL_SERVER_ERROR, path, mac);
        }
    };
    let body = if head {
        Body::empty()
    } else {
        // At most the length announced, even if the file grows meanwhile.
        let reader = tokio::fs::File::from_std(file).take(len);
        Body::from_stream(futures_util::stream::unfold(
            reader,
            |mut reader| async move {
                let mut buf = Vec::with_capacity(CHUNK);
                match (&mut reader).take(CHUNK as u64).read_to_end(&mut buf).await {
                    Ok(0) => None,
                    Ok(_) => Some((Ok::<_, std::io::Error>(Bytes::from(buf)), reader)),
                    Err(e) => Some((Err(e), reader)),
                }
            },
        ))
    };
    let mut response = ([(header::CONTENT_TYPE, "application/octet-stream")], body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    Answer {
        status: StatusCode::OK,
        path,
        mac,
        bytes: if head { 0 } else { len },
        response,
    }
}

/// Whether the request may have `mac`'s per-device files.
fn authorised(state: &HttpState, provisioner: &Provisioner, mac: Mac, headers: &HeaderMap) -> bool {
    let Some(auth) = &state.auth else {
        return true;
    };
    let Some((user, password)) = basic_credentials(headers) else {
        debug!(%mac, "per-device file without credentials");
        return false;
    };
    let ok = match auth {
        HttpAuth::Shared {
            user: want_user,
            password: want_password,
        } => {
            let u = user.as_bytes().ct_eq(want_user.as_bytes());
            let p = password.as_bytes().ct_eq(want_password.as_bytes());
            bool::from(u & p)
        }
        HttpAuth::PerDevice => {
            let secret = provisioner.device(mac).and_then(|d| d.http_secret);
            let user_ok = user.parse::<Mac>().is_ok_and(|u| u == mac);
            match secret {
                Some(secret) => {
                    let p = bool::from(password.as_bytes().ct_eq(secret.as_bytes()));
                    user_ok & p
                }
                None => false,
            }
        }
    };
    if !ok {
        debug!(%mac, "per-device file with wrong credentials");
    }
    ok
}

/// The user name and password of an `Authorization: Basic` header (RFC 7617 §2).
fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

/// `%XX` sequences decoded (RFC 3986 §2.1); `None` for a bad escape or a result that is not
/// UTF-8.
fn percent_decode(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3)?;
            if !hex.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests;
