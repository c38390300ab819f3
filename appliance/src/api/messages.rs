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
use station_manager::Delivery;
use std::time::Duration;
use uuid::Uuid;

use super::users::json_body;
use super::{ApiError, App, Auth};
use crate::accept::{self, attachment_aad, remove_files};
use crate::db::messages::{self as store, MessageView, State as Copy, Status};
use crate::db::{self, users};
use crate::media;
use crate::metrics::Reject;
use crate::stations::{self, RecordError, RecordMode, RecordStatus};

fn multipart_error(app: &App, e: &MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        app.reject(
            Reject::TooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "upload larger than the {} byte limit",
                app.config.messages.max_upload
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

async fn read_upload(app: &App, mut mp: Multipart) -> Result<Upload, ApiError> {
    let mut to = Vec::new();
    let mut audio = None;
    let mut attachments = Vec::new();
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

/// Looks up recipients by username; refuses the first unknown one.
async fn resolve(app: &App, names: Vec<String>) -> Result<Vec<(Uuid, String)>, ApiError> {
    let found = app
        .db
        .read(move |c| {
            names
                .into_iter()
                .map(|n| {
                    Ok((
                        users::by_name(c, &n)?
                            .filter(|u| u.kind == "user")
                            .map(|u| u.id),
                        n,
                    ))
                })
                .collect::<Result<Vec<_>, db::Error>>()
        })
        .await?;
    found
        .into_iter()
        .map(|(id, name)| {
            id.map(|id| (id, name.clone())).ok_or_else(|| {
                app.reject(
                    Reject::UnknownRecipient,
                    StatusCode::BAD_REQUEST,
                    format!("unknown recipient {name:?}"),
                )
            })
        })
        .collect()
}

fn media_error(app: &App, e: &media::Error) -> ApiError {
    match e {
        media::Error::Unsupported(_) => app.reject(
            Reject::UnsupportedAudio,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            e.to_string(),
        ),
        _ if e.is_input() => app.reject(Reject::BadAudio, StatusCode::BAD_REQUEST, e.to_string()),
        _ => ApiError::internal(e),
    }
}

/// `POST /api/v1/messages`: runs the cheap checks, stores the upload as received (sealed, fsynced)
/// and commits the message as `processing`, then answers; the transcoder makes it `ready` and
/// delivers it afterwards (see crate::transcode and docs/DURABILITY.md).
pub(super) async fn create(
    State(app): State<App>,
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
    let to: Vec<Uuid> = recipients.iter().map(|r| r.0).collect();
    let accepted = accept::accept(
        &app,
        auth.user,
        to,
        accept::Audio::Bytes(up.audio),
        attachments,
    )
    .await
    .map_err(|e| match e {
        accept::Error::Media(e) => media_error(&app, &e),
        accept::Error::Db(e) => e.into(),
    })?;
    Ok(Json(
        json!({"id": accepted.id, "duration_ms": accepted.estimate_ms, "status": Status::Processing.as_str()}),
    ))
}

pub(super) async fn list(
    State(app): State<App>,
    auth: Auth,
) -> Result<Json<Vec<MessageView>>, ApiError> {
    let me = auth.user;
    Ok(Json(app.db.read(move |c| store::list_for(c, me)).await?))
}

fn parse_id(app: &App, s: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(s)
        .map_err(|_| app.reject(Reject::NotFound, StatusCode::NOT_FOUND, "no such message"))
}

async fn visible(app: &App, me: Uuid, id: Uuid) -> Result<(MessageView, Option<String>), ApiError> {
    app.db
        .read(move |c| store::get_for(c, me, id))
        .await?
        .ok_or_else(|| app.reject(Reject::NotFound, StatusCode::NOT_FOUND, "no such message"))
}

#[derive(Deserialize)]
pub(super) struct AudioQuery {
    format: Option<String>,
}

pub(super) async fn audio(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
    Query(q): Query<AudioQuery>,
) -> Result<Response, ApiError> {
    let id = parse_id(&app, &id)?;
    let format = match q.format.as_deref() {
        None | Some("wav") => media::Format::Wav,
        Some("ogg" | "opus") => media::Format::OggOpus,
        Some(other) => {
            return Err(app.reject(
                Reject::MalformedJson,
                StatusCode::BAD_REQUEST,
                format!("format must be wav or ogg, not {other:?}"),
            ));
        }
    };
    let (view, file) = visible(&app, auth.user, id).await?;
    if view.status != Status::Ready.as_str() {
        // Only the sender can see a message that is not ready; it has no playable audio yet.
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: if view.status == Status::Failed.as_str() {
                "the message failed: its audio could not be decoded".into()
            } else {
                "the message is still being processed; try again shortly".into()
            },
        });
    }
    let Some(file) = file else {
        return Err(ApiError {
            status: StatusCode::GONE,
            message: "the audio was removed by the retention policy".into(),
        });
    };
    let path = app.db.paths().media.join(file);
    let key_app = app.clone();
    let out = tokio::task::spawn_blocking(move || {
        let sealed = std::fs::read(path).map_err(|e| media::Error::Internal(e.to_string()))?;
        media::export_audio(&sealed, &key_app.key, id, format)
    })
    .await
    .map_err(ApiError::internal)?;
    let (bytes, mime) = out.map_err(ApiError::internal)?;
    if view.direction == "in" {
        let me = auth.user;
        // Playing it counts as played; awaited so a following listing shows it.
        app.db
            .write(move |c| store::advance(c, id, me, Copy::Played))
            .await?;
        app.stations.message_gone(me, id);
    }
    Ok(([(header::CONTENT_TYPE, mime)], bytes).into_response())
}

pub(super) async fn attachment(
    State(app): State<App>,
    auth: Auth,
    Path((id, n)): Path<(String, u32)>,
) -> Result<Response, ApiError> {
    let id = parse_id(&app, &id)?;
    visible(&app, auth.user, id).await?;
    let Some((file, name, ctype)) = app
        .db
        .read(move |c| store::attachment_file(c, id, n))
        .await?
    else {
        return Err(app.reject(
            Reject::NotFound,
            StatusCode::NOT_FOUND,
            "no such attachment",
        ));
    };
    let path = app.db.paths().media.join(file);
    let key_app = app.clone();
    let data = tokio::task::spawn_blocking(move || {
        let sealed = std::fs::read(path).map_err(|e| media::Error::Internal(e.to_string()))?;
        media::open_attachment(&key_app.key, &attachment_aad(id, n as usize), &sealed)
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)?;
    let disposition = format!(
        "attachment; filename=\"{}\"",
        name.replace(['"', '\\', '\r', '\n'], "_")
    );
    Ok((
        [
            (header::CONTENT_TYPE, ctype),
            (header::CONTENT_DISPOSITION, disposition),
        ],
        data,
    )
        .into_response())
}

pub(super) async fn remove(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&app, &id)?;
    let me = auth.user;
    match app.db.write(move |c| store::delete_for(c, me, id)).await? {
        None => Err(app.reject(Reject::NotFound, StatusCode::NOT_FOUND, "no such message")),
        Some(files) => {
            remove_files(&app, files);
            app.stations.message_gone(me, id);
            Ok(StatusCode::NO_CONTENT)
        }
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
    State(app): State<App>,
    auth: Auth,
    body: Result<Json<Record>, JsonRejection>,
) -> Result<Response, ApiError> {
    let r = json_body(&app, body)?;
    let to: Vec<Uuid> = resolve(&app, r.to)
        .await?
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    match stations::request_recording(&app, auth.user, to, r.mode) {
        Ok((id, delivery)) => Ok((
            StatusCode::ACCEPTED,
            Json(json!({
                "request": id,
                "status": "pending",
                "mode": if delivery == Delivery::Intercom { "intercom" } else { "record" },
            })),
        )
            .into_response()),
        Err(e) => Err(ApiError {
            status: record_error_status(&e),
            message: e.to_string(),
        }),
    }
}

/// The HTTP status of a refused record request.
pub(super) fn record_error_status(e: &RecordError) -> StatusCode {
    match e {
        RecordError::NoPhone => StatusCode::CONFLICT,
        RecordError::GatewayDown => StatusCode::SERVICE_UNAVAILABLE,
    }
}

#[derive(Deserialize)]
pub(super) struct StatusQuery {
    /// Seconds to wait for the request to finish (at most 300).
    #[serde(default)]
    wait: u64,
}

/// `GET /api/v1/record/{id}`: `{request, status: pending|stored|failed, message?, reason?}`.
pub(super) async fn record_status(
    State(app): State<App>,
    auth: Auth,
    Path(id): Path<u64>,
    Query(q): Query<StatusQuery>,
) -> Result<Json<Value>, ApiError> {
    let wait = Duration::from_secs(q.wait.min(300));
    match app.stations.record_status(auth.user, id, wait).await {
        None => Err(app.reject(
            Reject::NotFound,
            StatusCode::NOT_FOUND,
            "no such record request",
        )),
        Some(RecordStatus::Pending) => Ok(Json(json!({"request": id, "status": "pending"}))),
        Some(RecordStatus::Stored(m)) => Ok(Json(
            json!({"request": id, "status": "stored", "message": m}),
        )),
        Some(RecordStatus::Failed(reason)) => Ok(Json(
            json!({"request": id, "status": "failed", "reason": reason}),
        )),
    }
}
