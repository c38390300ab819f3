//! Accepting a message: the one path by which a recording becomes a message, whether it was
//! uploaded (`POST /api/v1/messages`) or spoken into a phone (the station manager).
//!
//! The audio is sealed as received into a file (fsynced), attachments likewise, then the
//! message row commits as `processing` in the next group commit; only then is the message
//! acknowledged (see docs/DURABILITY.md). The transcoder takes it from there.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::Ordering;

use axum::body::Bytes;
use tracing::{info, warn};
use uuid::Uuid;

use crate::api::App;
use crate::db::messages::{self as store, NewAttachment, NewMessage, Status};
use crate::db::{self};
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
    let (key_app, max) = (app.clone(), app.config.max_duration);
    let recorded = match &audio {
        Audio::Recorded(path) => Some(path.clone()),
        Audio::Bytes(_) => None,
    };
    // Check, seal and write the files (fsynced) off the async threads.
    let written = tokio::task::spawn_blocking(move || {
        let dir = key_app.db.paths().media.clone();
        let raw_file = format!("{id}.raw");
        let (estimate_ms, raw_bytes) = match &audio {
            Audio::Bytes(bytes) => {
                let estimate_ms = media::check_upload(bytes, max)?;
                let raw_bytes = db::create_file(&dir, &raw_file, |w| {
                    let mut counted = CountingWriter { inner: w, count: 0 };
                    media::seal_raw(&bytes[..], &key_app.key, id, &mut counted)?;
                    Ok::<_, Error>(counted.count)
                })?;
                (estimate_ms, raw_bytes)
            }
            Audio::Recorded(path) => {
                let file = std::fs::File::open(path)?;
                // 8 kHz 16-bit mono after the 44-byte header: 16 bytes per millisecond.
                let estimate_ms = file.metadata()?.len().saturating_sub(44) / 16;
                let raw_bytes = db::create_file(&dir, &raw_file, |w| {
                    let mut counted = CountingWriter { inner: w, count: 0 };
                    media::seal_raw(
                        std::io::BufReader::new(file),
                        &key_app.key,
                        id,
                        &mut counted,
                    )?;
                    Ok::<_, Error>(counted.count)
                })?;
                (estimate_ms, raw_bytes)
            }
        };
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
        Ok::<_, Error>((estimate_ms, raw_file, raw_bytes, atts))
    })
    .await
    .map_err(|e| Error::Db(std::io::Error::other(e).into()))??;
    let (estimate_ms, raw_file, raw_bytes, atts) = written;
    let msg = NewMessage {
        id,
        sender,
        recipients: recipients.clone(),
        created_ms: app.clock.now_ms(),
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
        remove_files(app, files);
        return Err(e.into());
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

/// Removes media files in the background (after a failed commit or a delete).
pub fn remove_files(app: &App, files: Vec<String>) {
    let dir = app.db.paths().media.clone();
    tokio::task::spawn_blocking(move || {
        for f in files {
            if let Err(e) = std::fs::remove_file(dir.join(&f)) {
                warn!(file = %f, error = %e, "cannot remove media file");
            }
        }
    });
}

/// Counts the bytes written through it (the sealed upload's size on disk).
struct CountingWriter<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for CountingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
