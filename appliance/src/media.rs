//! Every call into the `codecs` media pipeline goes through this module: storing an uploaded
//! recording, exporting it for playback, and sealing attachments.
//!
//! TEMPORARY until `codecs::pipeline` lands: the bodies below keep WAV uploads as they are (parsing
//! the header for the duration and refusing files whose header lies about their length), refuse Ogg
//! Opus, and seal with AES-256-GCM directly. The signatures are the ones the real pipeline will sit
//! behind; the rest of the appliance never sees the difference.

use std::time::Duration;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Nonce};
use uuid::Uuid;

/// A media error, split by who is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The uploaded audio is malformed (→ 400).
    #[error("bad audio: {0}")]
    BadInput(String),
    /// The uploaded audio is in a format we do not take (→ 415).
    #[error("unsupported audio: {0}")]
    Unsupported(String),
    /// The recording is longer than allowed (→ 400).
    #[error("recording is {got_ms} ms long, the limit is {limit_ms} ms")]
    TooLong {
        /// Its length.
        got_ms: u64,
        /// The limit.
        limit_ms: u64,
    },
    /// Stored data failed to open: our fault (→ 500).
    #[error("stored media is corrupt or sealed with another key")]
    Corrupt,
}

impl Error {
    /// True when the uploaded audio was at fault.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Self::BadInput(_) | Self::Unsupported(_) | Self::TooLong { .. }
        )
    }
}

/// The appliance's master sealing key.
pub struct SealKey([u8; 32]);

impl SealKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let key = Aes256Gcm::generate_key(OsRng);
        Self(key.into())
    }

    /// The key from its stored bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(b)
    }

    /// The bytes to store.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.0
    }
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

/// Output format of [`export_audio`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// 16-bit PCM WAV.
    Wav,
    /// Ogg Opus.
    OggOpus,
}

/// A recording ready to be written to disk.
#[derive(Debug)]
pub struct Stored {
    /// Its length.
    pub duration_ms: u64,
    /// The sealed envelope.
    pub sealed: Vec<u8>,
    /// What is inside the envelope.
    pub codec: &'static str,
}

/// Checks, cleans, encodes and seals an uploaded recording; `id` is the message's id (the AAD).
pub fn store_audio(
    input: &[u8],
    key: &SealKey,
    id: Uuid,
    max_duration: Duration,
) -> Result<Stored, Error> {
    // TEMPORARY until codecs::pipeline lands: keep the WAV as uploaded.
    if input.starts_with(b"OggS") {
        return Err(Error::Unsupported(
            "Ogg Opus uploads need the codecs pipeline (not yet merged)".into(),
        ));
    }
    let info = wav_info(input)?;
    let limit_ms = u64::try_from(max_duration.as_millis()).unwrap_or(u64::MAX);
    if info.duration_ms > limit_ms {
        return Err(Error::TooLong {
            got_ms: info.duration_ms,
            limit_ms,
        });
    }
    Ok(Stored {
        duration_ms: info.duration_ms,
        sealed: seal(key, id.as_bytes(), input),
        codec: "wav",
    })
}

/// Opens a stored recording and writes it out in `format`; returns the bytes and their MIME type.
pub fn export_audio(
    sealed: &[u8],
    key: &SealKey,
    id: Uuid,
    format: Format,
) -> Result<(Vec<u8>, &'static str), Error> {
    // TEMPORARY until codecs::pipeline lands: the stored WAV is returned as it is.
    let plain = open(key, id.as_bytes(), sealed)?;
    match format {
        Format::Wav => Ok((plain, "audio/wav")),
        Format::OggOpus => Err(Error::Unsupported(
            "Ogg Opus export needs the codecs pipeline (not yet merged)".into(),
        )),
    }
}

/// Seals an attachment; `aad` binds it to its message and position.
pub fn seal_attachment(key: &SealKey, aad: &[u8], data: &[u8]) -> Vec<u8> {
    seal(key, aad, data)
}

/// Opens an attachment sealed by [`seal_attachment`].
pub fn open_attachment(key: &SealKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Error> {
    open(key, aad, sealed)
}

// TEMPORARY until codecs::seal lands: nonce ‖ AES-256-GCM ciphertext.
fn seal(key: &SealKey, aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let cipher = Aes256Gcm::new(&key.0.into());
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let ct = cipher
        .encrypt(&nonce, Payload { msg: plain, aad })
        .expect("AES-GCM encryption of an in-memory buffer cannot fail");
    let mut out = Vec::with_capacity(12 + ct.len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&ct);
    out
}

fn open(key: &SealKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Error> {
    if sealed.len() < 12 + 16 {
        return Err(Error::Corrupt);
    }
    let cipher = Aes256Gcm::new(&key.0.into());
    let (nonce, ct) = sealed.split_at(12);
    cipher
        .decrypt(Nonce::from_slice(nonce), Payload { msg: ct, aad })
        .map_err(|_| Error::Corrupt)
}

struct WavInfo {
    duration_ms: u64,
}

// TEMPORARY until codecs::pipeline lands: just enough RIFF parsing to measure and validate.
fn wav_info(b: &[u8]) -> Result<WavInfo, Error> {
    let bad = |m: &str| Error::BadInput(m.to_owned());
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Err(Error::Unsupported(
            "expected a WAV (RIFF/WAVE) or Ogg Opus file".into(),
        ));
    }
    let mut pos = 12usize;
    let mut fmt: Option<(u16, u16, u32, u16)> = None;
    while pos + 8 <= b.len() {
        let id = &b[pos..pos + 4];
        let len = u32::from_le_bytes([b[pos + 4], b[pos + 5], b[pos + 6], b[pos + 7]]) as usize;
        let body = pos + 8;
        if id == b"fmt " {
            if len < 16 || body + 16 > b.len() {
                return Err(bad("fmt chunk is truncated"));
            }
            let f = &b[body..body + 16];
            let tag = u16::from_le_bytes([f[0], f[1]]);
            let channels = u16::from_le_bytes([f[2], f[3]]);
            let rate = u32::from_le_bytes([f[4], f[5], f[6], f[7]]);
            let bits = u16::from_le_bytes([f[14], f[15]]);
            fmt = Some((tag, channels, rate, bits));
        } else if id == b"data" {
            let (tag, channels, rate, bits) = fmt.ok_or_else(|| bad("data chunk before fmt"))?;
            let ok = match tag {
                1 => bits == 8 || bits == 16,
                6 | 7 => bits == 8,
                _ => false,
            };
            if !ok {
                return Err(Error::Unsupported(format!(
                    "WAV format tag {tag} with {bits}-bit samples (PCM 8/16-bit, A-law, µ-law only)"
                )));
            }
            if channels == 0 || channels > 2 || !(4000..=192_000).contains(&rate) {
                return Err(bad("WAV with an impossible channel count or sample rate"));
            }
            let available = b.len() - body;
            if len > available {
                return Err(bad(&format!(
                    "WAV header claims {len} bytes of audio but the file holds {available}"
                )));
            }
            let frame = u64::from(channels) * u64::from(bits / 8);
            let frames = len as u64 / frame;
            return Ok(WavInfo {
                duration_ms: frames * 1000 / u64::from(rate),
            });
        }
        pos = body.saturating_add(len).saturating_add(len & 1);
    }
    Err(bad("WAV has no data chunk"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(rate: u32, samples: usize, claim: Option<u32>) -> Vec<u8> {
        let data_len = u32::try_from(samples * 2).unwrap();
        let mut v = Vec::new();
        v.extend_from_slice(b"RIFF");
        v.extend_from_slice(&(36 + data_len).to_le_bytes());
        v.extend_from_slice(b"WAVEfmt ");
        v.extend_from_slice(&16u32.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&1u16.to_le_bytes());
        v.extend_from_slice(&rate.to_le_bytes());
        v.extend_from_slice(&(rate * 2).to_le_bytes());
        v.extend_from_slice(&2u16.to_le_bytes());
        v.extend_from_slice(&16u16.to_le_bytes());
        v.extend_from_slice(b"data");
        v.extend_from_slice(&claim.unwrap_or(data_len).to_le_bytes());
        v.resize(v.len() + samples * 2, 0);
        v
    }

    #[test]
    fn store_and_export_round_trip() {
        let key = SealKey::generate();
        let id = Uuid::new_v4();
        let input = wav(8000, 16_000, None);
        let s = store_audio(&input, &key, id, Duration::from_secs(60)).unwrap();
        assert_eq!(s.duration_ms, 2000);
        let (out, mime) = export_audio(&s.sealed, &key, id, Format::Wav).unwrap();
        assert_eq!(mime, "audio/wav");
        assert_eq!(out, input);
        // Another message id (AAD) does not open it.
        assert!(export_audio(&s.sealed, &key, Uuid::new_v4(), Format::Wav).is_err());
    }

    #[test]
    fn lying_header_and_overlong_are_input_errors() {
        let key = SealKey::generate();
        let lying = wav(8000, 100, Some(1_000_000));
        let e = store_audio(&lying, &key, Uuid::new_v4(), Duration::from_secs(60)).unwrap_err();
        assert!(e.is_input(), "{e}");
        let long = wav(8000, 8000 * 3, None);
        let e = store_audio(&long, &key, Uuid::new_v4(), Duration::from_secs(2)).unwrap_err();
        assert!(matches!(e, Error::TooLong { .. }));
        let e =
            store_audio(b"not audio", &key, Uuid::new_v4(), Duration::from_secs(2)).unwrap_err();
        assert!(e.is_input());
    }
}
