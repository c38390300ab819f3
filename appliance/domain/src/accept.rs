//! Accepting a message: the one path by which a recording becomes a message, whether it was
//! uploaded (`POST /api/v1/messages`) or spoken into a phone (the station manager).
//!
//! The audio is sealed as received and appended to the upload spool, attachments are written to
//! files of their own (fsynced), then the message row commits as `processing` in the next group
//! commit, which makes the spooled upload durable first; only then is the message acknowledged
//! (see docs/DURABILITY.md). The transcoder takes it from there.

use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;
use tracing::{info, warn};
use uuid::Uuid;

use crate::VoiceMessaging;
use crate::audio as media;
use crate::db::messages::{self as store, NewAttachment, NewMessage, Status};
use crate::db::{self, spool};
use crate::limits::{self, OverQuota, QuotaCheck, Taken};
use crate::phones::RecordStatus;

/// The recording to accept.
#[derive(Debug)]
pub enum Audio {
    /// An upload held in memory (its size is capped by `messages.max_upload`).
    Bytes(Bytes),
    /// A WAV file recorded on a phone or from an intercom stream; it is read as a stream, and
    /// removed once the message is stored (or refused).
    Recorded(Recording),
}

/// A recording on disk: 8 kHz 16-bit mono WAV.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    /// The file.
    pub file: PathBuf,
    /// How much of it is speech, if that was measured.
    ///
    /// A recording is *empty* when this is `Some(ZERO)`: the media engine that captured it ran
    /// every frame through the codecs voice-activity detector (`codecs::cleanup::Vad`, the one
    /// that also drives the silence timer) and none was judged speech: the caller picked up,
    /// said nothing, and the silence timer ended it. Length alone does not decide it (a
    /// recording of line noise is long and empty). `None` means not measured: an intercom
    /// stream from a client, which its sender ended on purpose.
    pub speech: Option<Duration>,
}

impl Recording {
    /// Whether nothing was said in it (see [`Recording::speech`]).
    pub fn is_empty(&self) -> bool {
        self.speech == Some(Duration::ZERO)
    }
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
    /// A recording in which nothing was said: not sent (see [`Recording::speech`]).
    #[error("nothing was recorded: no speech heard")]
    Empty,
    /// The upload would pass its sender's storage quota: nothing of it is kept.
    #[error("{0}")]
    OverQuota(OverQuota),
    /// The data directory's disk is down to its reserve (`messages.disk_reserve`): nothing of
    /// it is kept.
    #[error("{0}")]
    DiskFull(limits::DiskFull),
    /// The sender uploads faster than `messages.upload_rate`: nothing of it is kept.
    #[error("uploading too fast: try again in {} s", retry_after.as_secs_f64().ceil())]
    TooFast {
        /// How long until the upload would be taken.
        retry_after: Duration,
    },
}

impl From<QuotaCheck> for Error {
    fn from(e: QuotaCheck) -> Self {
        match e {
            QuotaCheck::Over(o) => Self::OverQuota(o),
            QuotaCheck::Db(d) => Self::Db(d),
        }
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Self::Db(e.into())
    }
}

impl VoiceMessaging {
    /// Accepts a message: stores `audio` and `attachments` from `sender` to `recipients`,
    /// durably, and queues it for transcoding; the recipients get it once it is ready
    /// ([`crate::Event::MessageReady`]). An empty recording is refused ([`Error::Empty`]) and
    /// its file removed.
    pub async fn accept(
        &self,
        sender: Uuid,
        recipients: Vec<Uuid>,
        audio: Audio,
        attachments: Vec<Attachment>,
    ) -> Result<Accepted, Error> {
        store(self, sender, recipients, audio, attachments).await
    }

    /// Accepts a recording made on `sender`'s phone (for record request `request`, if it
    /// answers one) and records how the request ended for [`Self::record_status`].
    pub async fn accept_phone_recording(
        &self,
        request: Option<u64>,
        sender: Uuid,
        to: Vec<Uuid>,
        recording: Recording,
    ) -> Result<Accepted, Error> {
        let stored = self
            .accept(sender, to, Audio::Recorded(recording), vec![])
            .await;
        let status = match &stored {
            Ok(a) => RecordStatus::Stored(a.id),
            Err(Error::Empty) => RecordStatus::Failed(Error::Empty.to_string()),
            Err(e) => RecordStatus::Failed(format!("the recording could not be stored: {e}")),
        };
        if let Some(request) = request {
            self.0.phones.set_status(request, status);
        }
        stored
    }
}

async fn store(
    core: &VoiceMessaging,
    sender: Uuid,
    recipients: Vec<Uuid>,
    audio: Audio,
    attachments: Vec<Attachment>,
) -> Result<Accepted, Error> {
    let id = Uuid::new_v4();
    let (key_core, max) = (core.clone(), core.0.config.max_duration);
    let recorded = match &audio {
        Audio::Recorded(r) if r.is_empty() => {
            if let Err(e) = tokio::fs::remove_file(&r.file).await {
                warn!(file = %r.file.display(), error = %e, "cannot remove an empty recording");
            }
            return Err(Error::Empty);
        }
        Audio::Recorded(r) => Some(r.file.clone()),
        Audio::Bytes(_) => None,
    };
    // An upload pays the sender's upload rate and is held to their quota before anything of
    // it is written; a recording is neither (see `crate::limits`).
    let quota = core.0.settings.quota_per_user();
    let upload = match &audio {
        Audio::Bytes(bytes) => {
            let size = attachments.iter().fold(bytes.len() as u64, |n, a| {
                n.saturating_add(a.data.len() as u64)
            });
            let taken = Taken::take(core, sender, size)
                .map_err(|retry_after| Error::TooFast { retry_after })?;
            // What it will hold on disk at most: the audio sealed, and the attachments.
            let stored =
                (sealed_capacity(bytes.len()) as u64).saturating_add(size - bytes.len() as u64);
            Some((taken, stored))
        }
        Audio::Recorded(_) => None,
    };
    // (No quota: no reader connection taken for the check.)
    let precheck = upload
        .as_ref()
        .map(|(_, stored)| *stored)
        .filter(|_| quota != 0);
    // Check and seal the upload, append it to the spool and write the attachments (fsynced),
    // off the async threads.
    // (An upload's size against the disk's reserve; a recording is already on the disk.)
    let reserve = core.0.config.disk_reserve;
    let needs_room = upload.as_ref().map(|(_, stored)| *stored);
    let written = tokio::task::spawn_blocking(move || {
        let dir = key_core.0.db.paths().media.clone();
        if let Some(stored) = needs_room {
            limits::check_disk(&dir, reserve, stored)?.map_err(Error::DiskFull)?;
        }
        if let Some(stored) = precheck {
            key_core
                .0
                .db
                .read_blocking(|c| Ok(limits::check(c, sender, stored, quota)))??;
        }
        let (estimate_ms, sealed) = match &audio {
            Audio::Bytes(bytes) => {
                let estimate_ms = media::check_upload(bytes, max)?;
                let sealed = media::seal_raw(
                    &bytes[..],
                    &key_core.0.key,
                    id,
                    Vec::with_capacity(sealed_capacity(bytes.len())),
                )?;
                (estimate_ms, sealed)
            }
            Audio::Recorded(r) => {
                let file = std::fs::File::open(&r.file)?;
                let len = file.metadata()?.len();
                // 8 kHz 16-bit mono after the 44-byte header: 16 bytes per millisecond.
                let estimate_ms = len.saturating_sub(44) / 16;
                let capacity = sealed_capacity(usize::try_from(len).unwrap_or(0));
                let sealed = media::seal_raw(
                    std::io::BufReader::new(file),
                    &key_core.0.key,
                    id,
                    Vec::with_capacity(capacity),
                )?;
                (estimate_ms, sealed)
            }
        };
        // Durable with the group commit that stores the row; pinned until then.
        let pin = key_core.0.db.spool().append(&sealed)?;
        let mut atts = Vec::new();
        for (n, a) in attachments.iter().enumerate() {
            let file = format!("{id}.{n}.att");
            let sealed = media::seal_attachment(&key_core.0.key, &attachment_aad(id, n), &a.data)?;
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
        created_ms: core.0.clock.now_ms(),
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
    // Uploads racing each other passed the check above together: the quota is checked again
    // in the transaction that stores the message, against what it really holds.
    let charge = upload.is_some().then(|| {
        msg.attachments
            .iter()
            .fold(msg.audio_bytes, |n, a| n.saturating_add(a.bytes))
    });
    let committed = core
        .0
        .db
        .write_holding(pin, move |c| {
            if let Some(size) = charge {
                match limits::check(c, sender, size, quota) {
                    Ok(()) => {}
                    Err(QuotaCheck::Over(o)) => return Ok(Err(o)),
                    Err(QuotaCheck::Db(e)) => return Err(e),
                }
            }
            store::insert(c, &msg).map(Ok)
        })
        .await;
    let refused = match committed {
        Ok(Ok(())) => None,
        Ok(Err(over)) => Some(Error::OverQuota(over)),
        Err(e) => Some(e.into()),
    };
    if let Some(e) = refused {
        remove_files(core, files);
        collect_spool(core, false);
        return Err(e);
    }
    if let Some((taken, _)) = upload {
        taken.keep();
    }
    if closed_one {
        collect_spool(core, false);
    }
    if let Some(path) = recorded {
        // Stored (sealed) now; the recording itself is no longer needed.
        if let Err(e) = tokio::fs::remove_file(&path).await {
            warn!(file = %path.display(), error = %e, "cannot remove a stored recording");
        }
    }
    core.0
        .metrics
        .messages_accepted
        .fetch_add(1, Ordering::Relaxed);
    core.0.transcoder.push(id);
    info!(message_id = %id, from = %sender, recipients = recipients.len(), duration_ms = estimate_ms, "message accepted");
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
pub fn remove_files(core: &VoiceMessaging, mut files: Vec<String>) {
    let before = files.len();
    files.retain(|f| spool::segment_of(f).is_none());
    if files.len() < before {
        collect_spool(core, true);
    }
    let dir = core.0.db.paths().media.clone();
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
pub fn collect_spool(core: &VoiceMessaging, close_current: bool) {
    let db = core.0.db.clone();
    tokio::spawn(async move { db.collect_spool(close_current).await });
}
