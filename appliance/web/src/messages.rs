//! Sending, listing, fetching and deleting voice messages.

use axum::Json;
use axum::body::Bytes;
use axum::extract::multipart::MultipartError;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

use offhook_domain::accept;
use offhook_domain::audio::Format;
use offhook_domain::db::messages::{MessageView, Status};
use offhook_domain::limits::Usage;
use offhook_domain::metrics::Reject;
use offhook_domain::{RecordMode, RecordStatus};

use crate::error::{accept_error, read_error, record_error, resolve_error};
use crate::users::json_body;
use crate::{ApiError, Auth, Web};

fn multipart_error(app: &Web, e: &MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        app.reject(
            Reject::TooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "upload larger than the {} byte limit",
                app.core().config().upload_limit()
            ),
        )
    } else {
        app.reject(
            Reject::MalformedMultipart,
            StatusCode::BAD_REQUEST,
            format!("malformed multipart body: {}", e.body_text()),
        )
    }
}

struct Upload {
    to: Vec<String>,
    audio: Bytes,
    attachments: Vec<(String, String, Bytes)>,
}

async fn read_upload(app: &Web, mut mp: Multipart) -> Result<Upload, ApiError> {
    let mut to = Vec::new();
    let mut audio = None;
    let mut attachments = Vec::new();
    let mut too_many = false;
    while let Some(field) = mp
        .next_field()
        .await
        .map_err(|e| multipart_error(app, &e))?
    {
        match field.name().unwrap_or("") {
            "to" => {
                let v = field.text().await.map_err(|e| multipart_error(app, &e))?;
                to.extend(
                    v.split(',')
                        .map(str::trim)
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned),
                );
            }
            "audio" => audio = Some(field.bytes().await.map_err(|e| multipart_error(app, &e))?),
            "attachment" => {
                if attachments.len() >= app.core().config().attachment_limit() {
                    // Not kept; the rest of the body (bounded by the upload cap) is read and
                    // dropped so that the client, still sending, reads the 413.
                    too_many = true;
                    continue;
                }
                let name = field.file_name().unwrap_or("attachment").to_owned();
                let ctype = field
                    .content_type()
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let data = field.bytes().await.map_err(|e| multipart_error(app, &e))?;
                attachments.push((name, ctype, data));
            }
            other => {
                return Err(app.reject(
                    Reject::MalformedMultipart,
                    StatusCode::BAD_REQUEST,
                    format!(
                        "unexpected multipart field {other:?} (expected to, audio, attachment)"
                    ),
                ));
            }
        }
    }
    if too_many {
        let limit = app.core().config().attachment_limit();
        return Err(app.reject(
            Reject::TooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("at most {limit} attachments per message"),
        ));
    }
    let Some(audio) = audio else {
        return Err(app.reject(
            Reject::MalformedMultipart,
            StatusCode::BAD_REQUEST,
            "missing the audio part",
        ));
    };
    if to.is_empty() {
        return Err(app.reject(
            Reject::MalformedMultipart,
            StatusCode::BAD_REQUEST,
            "missing the to part",
        ));
    }
    to.sort();
    to.dedup();
    Ok(Upload {
        to,
        audio,
        attachments,
    })
}

async fn resolve(app: &Web, names: Vec<String>) -> Result<Vec<Uuid>, ApiError> {
    app.core()
        .resolve(names)
        .await
        .map_err(|e| resolve_error(app.core().metrics(), e))
}

/// `POST /api/v1/messages`: runs the cheap checks, stores the upload as received (sealed, fsynced)
/// and commits the message as `processing`, then answers; the transcoder makes it `ready` and
/// delivers it afterwards (see docs/DURABILITY.md).
pub(super) async fn create(
    State(app): State<Web>,
    auth: Auth,
    mp: Result<Multipart, MultipartRejection>,
) -> Result<Json<Value>, ApiError> {
    let mp = mp.map_err(|e| {
        app.reject(
            Reject::MalformedMultipart,
            StatusCode::BAD_REQUEST,
            e.body_text(),
        )
    })?;
    let up = read_upload(&app, mp).await?;
    let recipients = resolve(&app, up.to).await?;
    let attachments = up
        .attachments
        .into_iter()
        .map(|(name, content_type, data)| accept::Attachment {
            name,
            content_type,
            data,
        })
        .collect();
    let accepted = app
        .core()
        .accept(
            auth.user,
            recipients,
            accept::Audio::Bytes(up.audio),
            attachments,
        )
        .await
        .map_err(|e| accept_error(app.core().metrics(), e))?;
    Ok(Json(
        json!({"id": accepted.id, "duration_ms": accepted.estimate_ms, "status": Status::Processing.as_str()}),
    ))
}

/// `GET /api/v1/usage`: the bytes the caller's messages hold on disk, their quota and what
/// they may upload now.
pub(super) async fn usage(State(app): State<Web>, auth: Auth) -> Result<Json<Usage>, ApiError> {
    Ok(Json(app.core().usage(auth.user).await?))
}

pub(super) async fn list(
    State(app): State<Web>,
    auth: Auth,
) -> Result<Json<Vec<MessageView>>, ApiError> {
    let me = auth.user;
    Ok(Json(app.core().list_for(me).await?))
}

fn parse_id(app: &Web, s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s)
        .map_err(|_| app.reject(Reject::NotFound, StatusCode::NOT_FOUND, "no such message"))
}

#[derive(Deserialize)]
pub(super) struct AudioQuery {
    format: Option<String>,
}

pub(super) async fn audio(
    State(app): State<Web>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<AudioQuery>,
) -> Result<Response, ApiError> {
    let id = parse_id(&app, &id)?;
    let format = match q.format.as_deref() {
        None | Some("wav") => Format::Wav,
        Some("ogg" | "opus") => Format::OggOpus,
        Some(other) => {
            return Err(app.reject(
                Reject::MalformedJson,
                StatusCode::BAD_REQUEST,
                format!("format must be wav or ogg, not {other:?}"),
            ));
        }
    };
    let export = app
        .core()
        .audio(auth.user, id, format)
        .await
        .map_err(|e| read_error(app.core().metrics(), e))?;
    // Streamed as it is exported: the first chunk, then the rest as the exporter makes them.
    let rest = futures_util::stream::unfold(export.rest, |mut rx| async move {
        rx.recv().await.map(|chunk| (chunk, rx))
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(std::future::ready(Ok::<_, std::io::Error>(export.first))),
        rest,
    );
    Ok((
        [(header::CONTENT_TYPE, export.mime)],
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

#[derive(Deserialize)]
pub(super) struct WaveformQuery {
    /// Spans (1–2000; 576 by default).
    points: Option<usize>,
}

/// `GET /api/v1/messages/{id}/waveform?points=N`: `{duration_ms, peaks: [0–255…]}`, the
/// loudest sample of each of N equal spans, to draw before playing; it does not mark the
/// message played.
pub(super) async fn waveform(
    State(app): State<Web>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<WaveformQuery>,
) -> Result<Json<Value>, ApiError> {
    let id = parse_id(&app, &id)?;
    let points = q.points.unwrap_or(576);
    if !(1..=offhook_domain::waveform::MAX_POINTS).contains(&points) {
        return Err(app
            .reject(
                Reject::MalformedJson,
                StatusCode::BAD_REQUEST,
                format!(
                    "points must be 1 to {}",
                    offhook_domain::waveform::MAX_POINTS
                ),
            )
            .with("field", "points"));
    }
    let w = app
        .core()
        .waveform(auth.user, id, points)
        .await
        .map_err(|e| read_error(app.core().metrics(), e))?;
    Ok(Json(json!(w)))
}

pub(super) async fn attachment(
    State(app): State<Web>,
    auth: Auth,
    Path((id, n)): Path<(String, u32)>,
) -> Result<Response, ApiError> {
    let id = parse_id(&app, &id)?;
    let (data, name, ctype) = app
        .core()
        .attachment(auth.user, id, n)
        .await
        .map_err(|e| read_error(app.core().metrics(), e))?;
    Ok((
        [
            (header::CONTENT_TYPE, inert_type(&ctype).to_owned()),
            (header::CONTENT_DISPOSITION, content_disposition(&name)),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            // Even opened in a tab, it runs nothing and loads nothing, as no origin at all.
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox".to_owned(),
            ),
        ],
        data,
    )
        .into_response())
}

/// The Content-Type an attachment is served with: the uploader's, when it is a type browsers
/// only display (images, audio, video, PDF, plain text); anything else — HTML, SVG, XML,
/// scripts, unknown types — as `application/octet-stream`, so no browser renders an uploaded
/// page as a page of this origin.
fn inert_type(declared: &str) -> &str {
    let essence = declared
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let inert = matches!(
        essence.as_str(),
        "image/png" | "image/jpeg" | "image/gif" | "image/webp" | "application/pdf" | "text/plain"
    ) || (essence.starts_with("audio/") || essence.starts_with("video/"))
        && !essence.contains('+');
    if inert && declared.is_ascii() && !declared.contains(['\r', '\n']) {
        declared
    } else {
        "application/octet-stream"
    }
}

/// `attachment` with the name as RFC 6266 wants it: an ASCII `filename` for old clients, and
/// the exact name, UTF-8 and percent-encoded (RFC 8187), as `filename*`.
fn content_disposition(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    let mut encoded = String::new();
    for b in name.bytes() {
        let attr_char = b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b);
        if attr_char {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

pub(super) async fn remove(
    State(app): State<Web>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&app, &id)?;
    let me = auth.user;
    if app.core().delete_for(me, id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(app.reject(Reject::NotFound, StatusCode::NOT_FOUND, "no such message"))
    }
}

#[derive(Deserialize)]
pub(super) struct Record {
    to: Vec<String>,
    #[serde(default)]
    mode: Option<RecordMode>,
}

/// `POST /api/v1/record`: rings the caller's own phone; what they say after picking up, until
/// they hang up or press `#`, goes to the recipients. Answers 202 with the request's id at once
/// (409 if the caller has no phone, 503 if its gateway is down); `GET /api/v1/record/{id}` tells
/// how it ended.
pub(super) async fn record(
    State(app): State<Web>,
    auth: Auth,
    body: Result<Json<Record>, JsonRejection>,
) -> Result<Response, ApiError> {
    let r = json_body(&app, body)?;
    let to = resolve(&app, r.to).await?;
    match app.core().start_recording(auth.user, to, r.mode).await {
        Ok((id, delivery)) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({
                "request": id,
                "status": "pending",
                "mode": delivery.as_str(),
            })),
        )
            .into_response()),
        Err(e) => Err(record_error(app.core().metrics(), &e)),
    }
}

#[derive(Deserialize)]
pub(super) struct StatusQuery {
    /// Seconds to wait (at most 300): for the request to finish, or with `stage`, to leave
    /// that stage.
    #[serde(default)]
    wait: u64,
    /// `ringing` or `recording`: wait only until the request is past this stage.
    stage: Option<String>,
}

/// A record request's status as the API and the WebSocket tell it: `status` is `pending`
/// until it ends (`stored` with `message`, or `failed` with `reason`); while pending, `stage`
/// says whether the phone rings or the user speaks.
pub(super) fn record_status_json(id: u64, status: &RecordStatus) -> Value {
    match status {
        RecordStatus::Pending => json!({"request": id, "status": "pending", "stage": "ringing"}),
        RecordStatus::Recording => {
            json!({"request": id, "status": "pending", "stage": "recording"})
        }
        RecordStatus::Stored(m) => json!({"request": id, "status": "stored", "message": m}),
        RecordStatus::Failed(reason) => {
            json!({"request": id, "status": "failed", "reason": reason})
        }
        _ => json!({"request": id, "status": "pending"}),
    }
}

/// `GET /api/v1/record/{id}[?wait=S[&stage=ringing|recording]]`: see [`record_status_json`].
pub(super) async fn record_status(
    State(app): State<Web>,
    auth: Auth,
    Path(id): Path<u64>,
    Query(q): Query<StatusQuery>,
) -> Result<Json<Value>, ApiError> {
    let wait = Duration::from_secs(q.wait.min(300));
    let seen = match q.stage.as_deref() {
        None => None,
        Some("ringing") => Some(RecordStatus::Pending),
        Some("recording") => Some(RecordStatus::Recording),
        Some(other) => {
            return Err(app
                .reject(
                    Reject::MalformedJson,
                    StatusCode::BAD_REQUEST,
                    format!("stage {other:?}: use ringing or recording"),
                )
                .with("field", "stage"));
        }
    };
    let core = app.core();
    let status = match seen {
        None => core.record_status(auth.user, id, wait).await,
        Some(seen) => {
            core.record_progress(auth.user, id, wait, |s| *s != seen)
                .await
        }
    };
    match status {
        None => Err(app.reject(
            Reject::NotFound,
            StatusCode::NOT_FOUND,
            "no such record request",
        )),
        Some(s) => Ok(Json(record_status_json(id, &s))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_types_browsers_merely_display_keep_their_type() {
        for kept in [
            "image/png",
            "audio/ogg",
            "text/plain; charset=utf-8",
            "application/pdf",
        ] {
            assert_eq!(inert_type(kept), kept);
        }
        for page in [
            "text/html",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/xml",
            "application/javascript",
            "TEXT/HTML; charset=utf-8",
            "multipart/x-mixed-replace",
            "",
            "image/png\r\nX-Evil: 1",
        ] {
            assert_eq!(inert_type(page), "application/octet-stream", "{page:?}");
        }
    }

    #[test]
    fn names_are_sent_as_rfc_6266_wants() {
        assert_eq!(
            content_disposition("notes.txt"),
            "attachment; filename=\"notes.txt\"; filename*=UTF-8''notes.txt"
        );
        assert_eq!(
            content_disposition("Grüße \"x\".pdf"),
            "attachment; filename=\"Gr__e _x_.pdf\"; filename*=UTF-8''Gr%C3%BC%C3%9Fe%20%22x%22.pdf"
        );
        assert_eq!(
            content_disposition("a\r\nb"),
            "attachment; filename=\"a__b\"; filename*=UTF-8''a%0D%0Ab"
        );
    }
}
