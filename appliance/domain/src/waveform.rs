//! A message's waveform, to draw before it is played: the loudest sample in each of a few
//! hundred equal spans of the audio (`codecs::pipeline::peaks`, decoded as the WAV export is,
//! keeping only the peaks). Looking at it does not count as playing the message.

use serde::Serialize;
use uuid::Uuid;

use crate::VoiceMessaging;
use crate::mailbox::ReadError;

pub use codecs::pipeline::MAX_POINTS;

/// A waveform: `peaks[i]` is the loudest sample of the `i`-th span, 0 (silence) to 255 (full
/// scale).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waveform {
    /// The audio's length.
    pub duration_ms: u64,
    /// One value per span.
    pub peaks: Vec<u8>,
}

impl VoiceMessaging {
    /// The waveform of `message` as `user` sees it, in `points` spans (1 to [`MAX_POINTS`]).
    /// Unlike [`Self::audio`], it does not mark the message played.
    pub async fn waveform(
        &self,
        user: Uuid,
        message: Uuid,
        points: usize,
    ) -> Result<Waveform, ReadError> {
        let (_, path) = self.stored_audio(user, message).await?;
        let key = self.0.key.clone();
        let w = tokio::task::spawn_blocking(move || {
            crate::audio::waveform_of(&path, &key, message, points)
        })
        .await
        .map_err(|e| ReadError::Internal(e.to_string()))?
        .map_err(ReadError::Internal)?;
        Ok(Waveform {
            duration_ms: w.duration_ms,
            peaks: w.peaks,
        })
    }
}
