//! Accepting a message: the one path by which a recording becomes a message, whether it was
//! uploaded (`POST /api/v1/messages`) or spoken into a phone (the station manager).
//!
//! The audio is sealed as received and appended to the upload spool, attachments are written to
//! files of their own (fsynced), then the message row commits as `processing` in the next group
//! commit, which makes the spooled upload durable first; only then is the message acknowledged
//! (see docs/DURABILITY.md). The transcoder takes it from there.

use std::path::PathBuf;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use tracing::{info, warn};
use uuid::Uuid;

use crate::api::App;
use crate::db::messages::{self as store, NewAttachment, NewMessage, Status};
use crate::db::{self, spool};
use crate::media;

/// The recording to accept.
#[derive(Debug)]
pub enum Audio {
    /// An upload held in memory (its size is capped by `messages.max_upload`).
    Bytes(Bytes),
    /// A WAV file the media engine recorded; it is read as a stream, and removed once the
    /// message is stored.
    Recorded(PathBuf),
}

/// Room for `len` bytes sealed (a preamble, then a tag per 64 KiB chunk), reserved up front so
/// the sealed copy is not reallocated.
fn sealed_capacity(len: usize) -> usize {
    len.saturating_add(len / 1024).saturating_add(256)
}

/// An attachment to store with the message.
#[derive(Debug)]
pub struct Attachment {
    /// Its file name.
    pub name: String,
    /// Its MIME type.
    pub content_type: String,
    /// Its bytes.
    pub data: Bytes,
}

/// A message stored and acknowledged.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    /// Its GUID.
    pub id: Uuid,
    /// The duration the audio's header tells (final once transcoded).
    pub estimate_ms: u64,
}

/// Why a message could not be accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The audio is bad or unsupported (the sender's fault), or the pipeline failed.
    #[error("{0}")]
    Media(#[from] media::Error),
    /// Storage failed.
    #[error("{0}")]
    Db(#[from] db::Error),
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Db(e.into())
    }
}

/// Stores `audio` and `attachments` as a message from `sender` to `recipients`, durably, and
/// queues it for transcoding.
pub async fn accept(
    app: &App,
    sender: Uuid,
    recipients: Vec<Uuid>,
    audio: Audio,
    attachments: Vec<Attachment>,
) -> Result<Accepted, Error> {
    let id = Uuid::new_v4();
    let (key_app, max) = (app.clone(), app.config.messages.max_duration);
    let recorded = match &audio {
        Audio::Recorded(path) => Some(path.clone()),
        Audio::Bytes(_) => None,
    };
    // Check and seal the upload, append it to the spool and write the attachments (fsynced),
    // off the async threads.
    let written = tokio::task::spawn_blocking(move || {
        let dir = key_app.db.paths().media.clone();
        let (estimate_ms, sealed) = match &audio {
            Audio::Bytes(bytes) => {
                let estimate_ms = media::check_upload(bytes, max)?;
                let sealed = media::seal_raw(
                    &bytes[..],
                    &key_app.key,
                    id,
                    Vec::with_capacity(sealed_capacity(bytes.len())),
                )?;
                (estimate_ms, sealed)
            }
            Audio::Recorded(path) => {
                let file = std::fs::File::open(path)?;
                let len = file.metadata()?.len();
                // 8 kHz 16-bit mono after the 44-byte header: 16 bytes per millisecond.
                let estimate_ms = len.saturating_sub(44) / 16;
                let capacity = sealed_capacity(usize::try_from(len).unwrap_or(0));
                let sealed = media::seal_raw(
                    std::io::BufReader::new(file),
                    &key_app.key,
                    id,
                    Vec::with_capacity(capacity),
                )?;
                (estimate_ms, sealed)
            }
        };
        // Durable with the group commit that stores the row; pinned until then.
        let pin = key_app.db.spool().append(&sealed)?;
        let mut atts = Vec::new();
        for (n, a) in attachments.iter().enumerate() {
            let file = format!("{id}.{n}.att");
            let sealed = media::seal_attachment(&key_app.key, &attachment_aad(id, n), &a.data)?;
            db::write_file(&dir, &file, &sealed)?;
            atts.push(NewAttachment {
                name: a.name.clone(),
                content_type: a.content_type.clone(),
                file,
                bytes: a.data.len() as u64,
            });
        }
        Ok::<_, Error>((estimate_ms, pin, atts))
    })
    .await
    .map_err(|e| Error::Db(std::io::Error::other(e).into()))??;
    let (estimate_ms, pin, atts) = written;
    let msg = NewMessage {
        id,
        sender,
        recipients: recipients.clone(),
        created_ms: app.clock.now_ms(),
        duration_ms: estimate_ms,
        codec: "upload".to_owned(),
        status: Status::Processing,
        audio_file: pin.stored.file.clone(),
        raw_offset: Some(pin.stored.offset),
        audio_bytes: pin.stored.len,
        attachments: atts.clone(),
    };
    let files: Vec<String> = atts.iter().map(|a| a.file.clone()).collect();
    // The pin is held until the commit is over, committed (the segment is named) or not (its
    // bytes are garbage), even if this request is dropped meanwhile.
    let closed_one = pin.closed_one;
    let committed = app
        .db
        .write_holding(pin, move |c| store::insert(c, &msg))
        .await;
    if let Err(e) = committed {
        remove_files(app, files);
        collect_spool(app, false);
        return Err(e.into());
    }
    if closed_one {
        collect_spool(app, false);
    }
    if let Some(path) = recorded {
        // Stored (sealed) now; the recording itself is no longer needed.
        if let Err(e) = tokio::fs::remove_file(&path).await {
            warn!(file = %path.display(), error = %e, "cannot remove a stored recording");
        }
    }
    app.metrics
        .messages_accepted
        .fetch_add(1, Ordering::Relaxed);
    app.transcoder.push(id);
    info!(message = %id, from = %sender, recipients = recipients.len(), duration_ms = estimate_ms, "message accepted");
    Ok(Accepted { id, estimate_ms })
}

/// The associated data of attachment `n` of message `id`.
pub fn attachment_aad(id: Uuid, n: usize) -> Vec<u8> {
    let mut aad = id.as_bytes().to_vec();
    aad.extend_from_slice(&(n as u64).to_be_bytes());
    aad
}

/// Removes media files in the background (after a failed commit or a delete). A spool segment
/// named among them is removed only once no other message needs it.
pub fn remove_files(app: &App, mut files: Vec<String>) {
    let before = files.len();
    files.retain(|f| spool::segment_of(f).is_none());
    if files.len() < before {
        collect_spool(app, true);
    }
    let dir = app.db.paths().media.clone();
    tokio::task::spawn_blocking(move || {
        for f in files {
            if let Err(e) = std::fs::remove_file(dir.join(&f)) {
                warn!(file = %f, error = %e, "cannot remove media file");
            }
        }
    });
}

/// Removes, in the background, the spool segments nothing needs any more (see
/// [`db::Db::collect_spool`]).
pub fn collect_spool(app: &App, close_current: bool) {
    let db = app.db.clone();
    tokio::spawn(async move { db.collect_spool(close_current).await });
}
