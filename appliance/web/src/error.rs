//! Refusals and failures as HTTP responses: a status and `{"error": …}`; every refusal is
//! counted in `/metrics` by kind. The core's errors map to statuses here, and only here.

use axum::Json;
use std::time::Duration;

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use offhook_domain::limits::{DiskFull, OverQuota};
use offhook_domain::mailbox::{ReadError, ResolveError};
use offhook_domain::metrics::{Metrics, Reject};
use offhook_domain::{RecordError, accept, audio, db};
use serde_json::json;
use tracing::debug;

/// A refused request: its status and a one-line cause.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// The cause, for humans.
    pub message: String,
    /// Figures a client can act on, added to the JSON beside `error` (e.g. `quota`, `used`).
    pub detail: serde_json::Map<String, serde_json::Value>,
    /// When to try again, sent as `Retry-After` (whole seconds, rounded up).
    pub retry_after: Option<Duration>,
}

impl ApiError {
    /// A server-side failure (not counted as a rejection: it is not the client's fault).
    pub fn internal(e: impl std::fmt::Display) -> Self {
        tracing::error!(error = %e, "request failed");
        Self::plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }

    /// A refusal that is not counted (a state the client could not know, e.g. 409).
    pub fn plain(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            detail: serde_json::Map::new(),
            retry_after: None,
        }
    }

    /// The same, with `Retry-After`.
    pub fn retry_after(mut self, wait: Duration) -> Self {
        self.retry_after = Some(wait);
        self
    }

    /// The same, with `key: value` beside `error` in the JSON.
    pub fn with(mut self, key: &str, value: impl Into<serde_json::Value>) -> Self {
        self.detail.insert(key.to_owned(), value.into());
        self
    }
}

/// Counts a refusal and builds its response.
pub(crate) fn reject(
    metrics: &Metrics,
    kind: Reject,
    status: StatusCode,
    message: impl Into<String>,
) -> ApiError {
    metrics.reject(kind);
    let message = message.into();
    debug!(kind = kind.label(), status = status.as_u16(), %message, "request refused");
    ApiError::plain(status, message)
}

impl From<db::Error> for ApiError {
    fn from(e: db::Error) -> Self {
        Self::internal(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = self.detail;
        body.insert("error".to_owned(), json!(self.message));
        let mut response = (self.status, Json(body)).into_response();
        if let Some(wait) = self.retry_after {
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
        }
        response
    }
}

/// An unknown recipient is 400; a database failure 500.
pub(crate) fn resolve_error(metrics: &Metrics, e: ResolveError) -> ApiError {
    match e {
        ResolveError::UnknownRecipient(_) => reject(
            metrics,
            Reject::UnknownRecipient,
            StatusCode::BAD_REQUEST,
            e.to_string(),
        ),
        e => ApiError::internal(e),
    }
}

/// Unsupported audio is 415, bad audio 400, anything else 500.
pub(crate) fn audio_error(metrics: &Metrics, e: &audio::Error) -> ApiError {
    match e {
        audio::Error::Unsupported(_) => reject(
            metrics,
            Reject::UnsupportedAudio,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            e.to_string(),
        ),
        _ if e.is_input() => reject(
            metrics,
            Reject::BadAudio,
            StatusCode::BAD_REQUEST,
            e.to_string(),
        ),
        _ => ApiError::internal(e),
    }
}

/// The status of a message not accepted.
pub(crate) fn accept_error(metrics: &Metrics, e: accept::Error) -> ApiError {
    match e {
        accept::Error::Media(e) => audio_error(metrics, &e),
        accept::Error::Empty => reject(
            metrics,
            Reject::BadAudio,
            StatusCode::BAD_REQUEST,
            e.to_string(),
        ),
        accept::Error::OverQuota(o) => over_quota(metrics, &o),
        accept::Error::DiskFull(d) => disk_full(metrics, &d),
        accept::Error::TooFast { retry_after } => reject(
            metrics,
            Reject::UploadTooFast,
            StatusCode::TOO_MANY_REQUESTS,
            format!("{e}: you are uploading faster than this appliance allows"),
        )
        .retry_after(retry_after),
        accept::Error::Db(ref d) if d.is_storage_full() => {
            tracing::warn!(error = %e, "upload refused: the appliance's storage is full");
            ApiError::plain(
                StatusCode::INSUFFICIENT_STORAGE,
                "the appliance's storage is full: nothing was kept; try again later",
            )
        }
        e => ApiError::internal(e),
    }
}

/// 507 Insufficient Storage (RFC 4918 §11.5: the server cannot store what the request needs
/// stored), naming the quota, what is used and what the request needed, counted.
pub(crate) fn over_quota(metrics: &Metrics, o: &OverQuota) -> ApiError {
    reject(
        metrics,
        Reject::OverQuota,
        StatusCode::INSUFFICIENT_STORAGE,
        o.to_string(),
    )
    .with("quota", o.quota)
    .with("used", o.used)
    .with("size", o.size)
}

/// 507 Insufficient Storage: the data directory's disk is down to its reserve; names what is
/// free, the reserve and what the request needed, counted.
pub(crate) fn disk_full(metrics: &Metrics, d: &DiskFull) -> ApiError {
    tracing::warn!(
        free = d.free,
        reserve = d.reserve,
        size = d.size,
        "refused: the disk is down to its reserve"
    );
    reject(
        metrics,
        Reject::DiskFull,
        StatusCode::INSUFFICIENT_STORAGE,
        d.to_string(),
    )
    .with("free", d.free)
    .with("reserve", d.reserve)
    .with("size", d.size)
}

/// Not found is 404 (counted), not ready 409, removed by retention 410, else 500.
pub(crate) fn read_error(metrics: &Metrics, e: ReadError) -> ApiError {
    match e {
        ReadError::NotFound | ReadError::NoAttachment => reject(
            metrics,
            Reject::NotFound,
            StatusCode::NOT_FOUND,
            e.to_string(),
        ),
        ReadError::Failed | ReadError::Processing => {
            ApiError::plain(StatusCode::CONFLICT, e.to_string())
        }
        ReadError::Removed => ApiError::plain(StatusCode::GONE, e.to_string()),
        e => ApiError::internal(e),
    }
}

/// The HTTP status of a refused record request: no phone is 409, over quota 507, its gateway
/// down 503.
pub(crate) fn record_error_status(e: &RecordError) -> StatusCode {
    match e {
        RecordError::NoPhone => StatusCode::CONFLICT,
        RecordError::OverQuota(_) | RecordError::DiskFull(_) => StatusCode::INSUFFICIENT_STORAGE,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    }
}

/// A refused record request: over quota as an upload over quota is (507 with the figures,
/// counted), the others plain.
pub(crate) fn record_error(metrics: &Metrics, e: &RecordError) -> ApiError {
    match e {
        RecordError::OverQuota(o) => over_quota(metrics, o),
        RecordError::DiskFull(d) => disk_full(metrics, d),
        e => ApiError::plain(record_error_status(e), e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_errors_map_to_statuses() {
        let m = Metrics::default();
        let unknown = resolve_error(&m, ResolveError::UnknownRecipient("zed".into()));
        assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
        assert_eq!(unknown.message, "unknown recipient \"zed\"");
        assert_eq!(m.rejected(Reject::UnknownRecipient), 1);
        let e = audio::Error::Unsupported("x".into());
        assert_eq!(
            audio_error(&m, &e).status,
            StatusCode::UNSUPPORTED_MEDIA_TYPE
        );
        let e = audio::Error::BadInput("x".into());
        assert_eq!(audio_error(&m, &e).status, StatusCode::BAD_REQUEST);
        let e = audio::Error::Internal("x".into());
        assert_eq!(
            audio_error(&m, &e).status,
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(
            read_error(&m, ReadError::NotFound).status,
            StatusCode::NOT_FOUND
        );
        assert_eq!(m.rejected(Reject::NotFound), 1);
        assert_eq!(
            read_error(&m, ReadError::Processing).status,
            StatusCode::CONFLICT
        );
        assert_eq!(read_error(&m, ReadError::Removed).status, StatusCode::GONE);
        assert_eq!(
            record_error_status(&RecordError::NoPhone),
            StatusCode::CONFLICT
        );
        assert_eq!(
            record_error_status(&RecordError::GatewayDown),
            StatusCode::SERVICE_UNAVAILABLE
        );
    }

    #[test]
    fn a_full_disk_is_507_and_other_storage_failures_500() {
        let m = Metrics::default();
        let full = |e: db::Error| accept_error(&m, accept::Error::Db(e)).status;
        let io = |k: std::io::ErrorKind| db::Error::Io(std::io::Error::from(k));
        assert_eq!(
            full(io(std::io::ErrorKind::StorageFull)),
            StatusCode::INSUFFICIENT_STORAGE
        );
        assert_eq!(
            full(io(std::io::ErrorKind::QuotaExceeded)),
            StatusCode::INSUFFICIENT_STORAGE
        );
        let sqlite_full = rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        );
        assert_eq!(
            full(db::Error::Sqlite(sqlite_full)),
            StatusCode::INSUFFICIENT_STORAGE
        );
        assert_eq!(
            full(io(std::io::ErrorKind::PermissionDenied)),
            StatusCode::INTERNAL_SERVER_ERROR
        );
        assert_eq!(full(db::Error::Closed), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn a_disk_down_to_its_reserve_is_507_with_the_figures_counted() {
        let m = Metrics::default();
        let full = DiskFull {
            free: 900,
            reserve: 1000,
            size: 200,
        };
        let e = accept_error(&m, accept::Error::DiskFull(full));
        assert_eq!(e.status, StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(
            (&e.detail["free"], &e.detail["reserve"], &e.detail["size"]),
            (&json!(900), &json!(1000), &json!(200))
        );
        assert!(e.message.contains("nearly full"), "{}", e.message);
        let r = record_error(&m, &RecordError::DiskFull(full));
        assert_eq!(r.status, StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(
            record_error_status(&RecordError::DiskFull(full)),
            StatusCode::INSUFFICIENT_STORAGE
        );
        assert_eq!(m.rejected(Reject::DiskFull), 2);
        assert_eq!(m.rejected(Reject::OverQuota), 0);
    }

    #[test]
    fn over_quota_is_507_with_the_figures_and_too_fast_429_with_retry_after() {
        let m = Metrics::default();
        let over = OverQuota {
            quota: 1000,
            used: 900,
            size: 200,
        };
        let e = accept_error(&m, accept::Error::OverQuota(over));
        assert_eq!(e.status, StatusCode::INSUFFICIENT_STORAGE);
        assert_eq!(m.rejected(Reject::OverQuota), 1);
        assert_eq!(
            (&e.detail["quota"], &e.detail["used"], &e.detail["size"]),
            (&json!(1000), &json!(900), &json!(200))
        );
        assert!(e.message.contains("quota"), "{}", e.message);
        let r = e.into_response();
        assert_eq!(r.status(), StatusCode::INSUFFICIENT_STORAGE);
        assert!(r.headers().get(header::RETRY_AFTER).is_none());

        let e = accept_error(
            &m,
            accept::Error::TooFast {
                retry_after: Duration::from_millis(2001),
            },
        );
        assert_eq!(e.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(m.rejected(Reject::UploadTooFast), 1);
        let r = e.into_response();
        assert_eq!(r.headers()[header::RETRY_AFTER], "3");
    }
}
