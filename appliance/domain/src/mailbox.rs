//! The rules on stored messages, each stated once: resolving recipients, marking a copy
//! delivered or played, deleting it for a user, and reading its audio and attachments. Every
//! front end (the REST API, the WebSocket, the phones) goes through these.

use tracing::warn;
use uuid::Uuid;

use crate::VoiceMessaging;
use crate::accept::{attachment_aad, remove_files};
use crate::audio::{self, Format};
use crate::db::messages::{self as store, MessageView, State, Status};
use crate::db::{self, users};
use crate::events::Event;

/// Why recipients could not be resolved.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// No user of that name (the sender's fault).
    #[error("unknown recipient {0:?}")]
    UnknownRecipient(String),
    /// The database failed.
    #[error("{0}")]
    Db(#[from] db::Error),
}

/// Why a message's audio or attachment could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// No such message, or not the caller's to see.
    #[error("no such message")]
    NotFound,
    /// No such attachment of a visible message.
    #[error("no such attachment")]
    NoAttachment,
    /// Its upload was corrupt: it has no audio.
    #[error("the message failed: its audio could not be decoded")]
    Failed,
    /// Still being transcoded.
    #[error("the message is still being processed; try again shortly")]
    Processing,
    /// The retention policy removed the audio.
    #[error("the audio was removed by the retention policy")]
    Removed,
    /// Storage or the media pipeline failed.
    #[error("{0}")]
    Internal(String),
}

impl From<db::Error> for ReadError {
    fn from(e: db::Error) -> Self {
        Self::Internal(e.to_string())
    }
}

impl VoiceMessaging {
    /// `message` as `user` sees it, and where its sealed audio is: `NotFound` if it is not
    /// theirs to see, `Processing` or `Failed` if it has no audio yet or never will, `Removed`
    /// once retention took the audio.
    pub(crate) async fn stored_audio(
        &self,
        user: Uuid,
        message: Uuid,
    ) -> Result<(MessageView, std::path::PathBuf), ReadError> {
        let (view, file) = self
            .0
            .db
            .read(move |c| store::get_for(c, user, message))
            .await?
            .ok_or(ReadError::NotFound)?;
        if view.status != Status::Ready.as_str() {
            // Only the sender can see a message that is not ready; it has no audio yet.
            return Err(if view.status == Status::Failed.as_str() {
                ReadError::Failed
            } else {
                ReadError::Processing
            });
        }
        let file = file.ok_or(ReadError::Removed)?;
        Ok((view, self.0.db.paths().media.join(file)))
    }

    /// Looks up recipients by username (`name`, or `name@site` for a user of another site that
    /// the federation directory lists; `name@` this site is `name`): duplicates are dropped (the list comes back sorted by
    /// name, then as ids), and the first unknown name (or a name that is not a person) refuses
    /// the whole list.
    pub async fn resolve(&self, mut names: Vec<String>) -> Result<Vec<Uuid>, ResolveError> {
        // `name@this-site` is the local user `name`.
        if let Some(site) = self.0.federation.site() {
            let own = format!("@{site}");
            for n in &mut names {
                if let Some(bare) = n.strip_suffix(&own) {
                    *n = bare.to_owned();
                }
            }
        }
        names.sort();
        names.dedup();
        let found = self
            .0
            .db
            .read(move |c| {
                names
                    .into_iter()
                    .map(|n| {
                        let id = users::by_name(c, &n)?
                            .filter(|u| u.kind == "user" || u.kind == "remote")
                            .map(|u| u.id);
                        Ok(id.ok_or(n))
                    })
                    .collect::<Result<Vec<_>, db::Error>>()
            })
            .await?;
        found
            .into_iter()
            .map(|r| r.map_err(ResolveError::UnknownRecipient))
            .collect()
    }

    /// `user`'s client acknowledged receipt of `message`. Returns whether the copy changed.
    pub async fn mark_delivered(&self, user: Uuid, message: Uuid) -> Result<bool, db::Error> {
        let changed = self
            .0
            .db
            .write(move |c| store::advance(c, message, user, State::Delivered))
            .await?;
        if changed {
            self.0
                .metrics
                .messages_delivered
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(changed)
    }

    /// `user` played `message` (on a client, by fetching its audio, or on a phone): the copy
    /// is marked played and the user's phones stop offering it ([`Event::MessageGone`]).
    /// Returns whether the copy changed.
    pub async fn mark_played(&self, user: Uuid, message: Uuid) -> Result<bool, db::Error> {
        let changed = self
            .0
            .db
            .write(move |c| store::advance(c, message, user, State::Played))
            .await?;
        self.publish(Event::MessageGone { user, message });
        Ok(changed)
    }

    /// Deletes `message` for `user` (its audio goes once nobody needs it), and their phones
    /// stop offering it ([`Event::MessageGone`]). Returns false if they had no such message.
    pub async fn delete_for(&self, user: Uuid, message: Uuid) -> Result<bool, db::Error> {
        match self
            .0
            .db
            .write(move |c| store::delete_for(c, user, message))
            .await?
        {
            None => Ok(false),
            Some(files) => {
                remove_files(self, files);
                self.publish(Event::MessageGone { user, message });
                Ok(true)
            }
        }
    }

    /// `user`'s messages, sent and received, newest first.
    pub async fn list_for(&self, user: Uuid) -> Result<Vec<MessageView>, db::Error> {
        self.0.db.read(move |c| store::list_for(c, user)).await
    }

    /// `message` as `user` sees it, if they may.
    pub async fn view(&self, user: Uuid, message: Uuid) -> Result<Option<MessageView>, db::Error> {
        Ok(self
            .0
            .db
            .read(move |c| store::get_for(c, user, message))
            .await?
            .map(|(v, _)| v))
    }

    /// The audio of `message` in `format`, as it is exported: streamed in chunks of
    /// [`audio::EXPORT_CHUNK`] bytes, at most two waiting, so that an export holds a few hundred
    /// kilobytes whatever the message's length and however many run at once. The sealed file is
    /// checked whole before the first chunk (a tampered message fails here, with an error, not
    /// halfway through a response). Fetching a received message's audio counts as playing it
    /// ([`Self::mark_played`]), once the export is under way.
    pub async fn audio(
        &self,
        user: Uuid,
        message: Uuid,
        format: Format,
    ) -> Result<audio::Export, ReadError> {
        let (view, path) = self.stored_audio(user, message).await?;
        let export = audio::export_stream(path, self.0.key.clone(), message, format)
            .await
            .map_err(|e| ReadError::Internal(e.to_string()))?;
        if view.direction == "in" {
            // Awaited, so that a following listing shows it played.
            if let Err(e) = self.mark_played(user, message).await {
                warn!(error = %e, "cannot mark a message played");
                return Err(e.into());
            }
        }
        Ok(export)
    }

    /// Attachment `n` of `message`: its bytes, file name and MIME type.
    pub async fn attachment(
        &self,
        user: Uuid,
        message: Uuid,
        n: u32,
    ) -> Result<(Vec<u8>, String, String), ReadError> {
        self.view(user, message).await?.ok_or(ReadError::NotFound)?;
        let (file, name, ctype) = self
            .0
            .db
            .read(move |c| store::attachment_file(c, message, n))
            .await?
            .ok_or(ReadError::NoAttachment)?;
        let path = self.0.db.paths().media.join(file);
        let core = self.clone();
        let data = tokio::task::spawn_blocking(move || {
            let sealed = std::fs::read(path).map_err(|e| audio::Error::Internal(e.to_string()))?;
            audio::open_attachment(&core.0.key, &attachment_aad(message, n as usize), &sealed)
        })
        .await
        .map_err(|e| ReadError::Internal(e.to_string()))?
        .map_err(|e| ReadError::Internal(e.to_string()))?;
        Ok((data, name, ctype))
    }
}

impl VoiceMessaging {
    /// Opens stored audio file `file` of `message` for playout to a phone as `law` frames of
    /// `frame_samples` samples.
    pub fn playout(
        &self,
        file: &str,
        message: Uuid,
        law: codecs::g711::Law,
        frame_samples: usize,
    ) -> Result<codecs::pipeline::G711Playout<std::io::Cursor<Vec<u8>>>, ReadError> {
        let sealed = std::fs::read(self.0.db.paths().media.join(file))
            .map_err(|e| ReadError::Internal(e.to_string()))?;
        audio::playout(sealed, &self.0.key, message, law, frame_samples)
            .map_err(|e| ReadError::Internal(e.to_string()))
    }
}
