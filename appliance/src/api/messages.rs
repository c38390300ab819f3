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
use tracing::{info, warn};
use uuid::Uuid;

use super::users::json_body;
use super::{ApiError, App, Auth};
use crate::db::messages::{
    self as store, MessageView, NewAttachment, NewMessage, State as Copy, Status,
};
use crate::db::{self, users};
use crate::media;
use crate::metrics::Reject;

fn multipart_error(app: &App, e: &MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        app.reject(
            Reject::TooLarge,
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "upload larger than the {} byte limit",
                app.config.max_upload
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
    let id = Uuid::new_v4();
    let (key_app, audio, max) = (app.clone(), up.audio, app.config.max_duration);
    let attachments = up.attachments;
    // Check, seal and write the files (fsynced) off the async threads.
    let written = tokio::task::spawn_blocking(move || {
        let estimate_ms = media::check_upload(&audio, max)?;
        let dir = key_app.db.paths().media.clone();
        let raw_file = format!("{id}.raw");
        let raw_bytes = db::create_file(&dir, &raw_file, |w| {
            let mut counted = CountingWriter { inner: w, count: 0 };
            media::seal_raw(&audio, &key_app.key, id, &mut counted)?;
            Ok::<_, StoreError>(counted.count)
        })?;
        let mut atts = Vec::new();
        for (n, (name, ctype, data)) in attachments.iter().enumerate() {
            let file = format!("{id}.{n}.att");
            let sealed = media::seal_attachment(&key_app.key, &attachment_aad(id, n), data)?;
            db::write_file(&dir, &file, &sealed)?;
            atts.push(NewAttachment {
                name: name.clone(),
                content_type: ctype.clone(),
                file,
                bytes: data.len() as u64,
            });
        }
        Ok::<_, StoreError>((estimate_ms, raw_file, raw_bytes, atts))
    })
    .await
    .map_err(ApiError::internal)?;
    let (estimate_ms, raw_file, raw_bytes, atts) = match written {
        Ok(w) => w,
        Err(StoreError::Media(e)) => return Err(media_error(&app, &e)),
        Err(StoreError::Db(e)) => return Err(e.into()),
    };
    let created_ms = app.clock.now_ms();
    let msg = NewMessage {
        id,
        sender: auth.user,
        recipients: recipients.iter().map(|r| r.0).collect(),
        created_ms,
        duration_ms: estimate_ms,
        codec: "upload".to_owned(),
        status: Status::Processing,
        audio_file: raw_file,
        audio_bytes: raw_bytes,
        attachments: atts.clone(),
    };
    let files: Vec<String> = std::iter::once(msg.audio_file.clone())
        .chain(atts.iter().map(|a| a.file.clone()))
        .collect();
    if let Err(e) = app.db.write(move |c| store::insert(c, &msg)).await {
        remove_files(&app, files);
        return Err(e.into());
    }
    app.metrics
        .messages_accepted
        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    app.transcoder.push(id);
    info!(message = %id, from = %auth.username, recipients = recipients.len(), duration_ms = estimate_ms, "message accepted");
    Ok(Json(
        json!({"id": id, "duration_ms": estimate_ms, "status": Status::Processing.as_str()}),
    ))
}

/// Why an upload's files could not be written.
enum StoreError {
    Media(media::Error),
    Db(db::Error),
}

impl From<media::Error> for StoreError {
    fn from(e: media::Error) -> Self {
        Self::Media(e)
    }
}

impl From<std::io::Error> for StoreError {
    fn from(e: std::io::Error) -> Self {
        Self::Db(e.into())
    }
}

/// Counts the bytes written through it (the sealed upload's size on disk).
struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: std::io::Write> std::io::Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn attachment_aad(id: Uuid, n: usize) -> Vec<u8> {
    let mut aad = id.as_bytes().to_vec();
    aad.extend_from_slice(&(n as u64).to_be_bytes());
    aad
}

fn remove_files(app: &App, files: Vec<String>) {
    let dir = app.db.paths().media.clone();
    tokio::task::spawn_blocking(move || {
        for f in files {
            if let Err(e) = std::fs::remove_file(dir.join(&f)) {
                warn!(file = %f, error = %e, "cannot remove media file");
            }
        }
    });
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
            Ok(StatusCode::NO_CONTENT)
        }
    }
}

#[derive(Deserialize)]
pub(super) struct Record {
    to: Vec<String>,
}

/// `POST /api/v1/record`: ringing the caller's phone needs the station manager, which is not part
/// of the messaging core; until it is wired in, a caller with a line gets 503.
pub(super) async fn record(
    State(app): State<App>,
    auth: Auth,
    body: Result<Json<Record>, JsonRejection>,
) -> Result<Response, ApiError> {
    let r = json_body(&app, body)?;
    resolve(&app, r.to).await?;
    let me = auth.user;
    let user = app.db.read(move |c| users::by_id(c, me)).await?;
    if user.is_none_or(|u| u.stations.is_empty()) {
        return Err(ApiError {
            status: StatusCode::CONFLICT,
            message: "you have no phone line".into(),
        });
    }
    Err(ApiError {
        status: StatusCode::SERVICE_UNAVAILABLE,
        message: "your phone's gateway is not reachable".into(),
    })
}
