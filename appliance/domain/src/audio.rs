//! Every call into the `codecs` media pipeline goes through this module: storing an uploaded
//! recording (sniffed WAV or Ogg Opus → cleaned → Ogg Opus → sealed), exporting it for playback,
//! and sealing attachments. The message id is the associated data of every envelope, so a file
//! cannot be passed off as another message's.

use std::io::{Cursor, Read, Seek, SeekFrom, Write};
use std::time::Duration;

use bytes::Bytes;
use codecs::pipeline::{self, IngestConfig};
use codecs::seal::{self, Compression, Key, OpenReader, SealWriter};
use codecs::xz;
use uuid::Uuid;

/// Largest plaintext an attachment envelope may open to.
const MAX_ATTACHMENT: u64 = 256 << 20;

/// A media error, split by who is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The uploaded audio is malformed or too long (→ 400).
    #[error("bad audio: {0}")]
    BadInput(String),
    /// The uploaded audio is in a format we do not take (→ 415).
    #[error("unsupported audio: {0}")]
    Unsupported(String),
    /// The pipeline failed on our side, or stored data failed to open (→ 500).
    #[error("media pipeline: {0}")]
    Internal(String),
}

impl Error {
    /// True when the uploaded audio was at fault.
    pub fn is_input(&self) -> bool {
        matches!(self, Self::BadInput(_) | Self::Unsupported(_))
    }
}

fn classify(e: &pipeline::Error) -> Error {
    match e {
        pipeline::Error::UnknownFormat => Error::Unsupported(e.to_string()),
        _ if e.is_input() => Error::BadInput(e.to_string()),
        _ => Error::Internal(e.to_string()),
    }
}

/// The appliance's master sealing key. A clone is zeroized on drop like the original.
#[derive(Clone)]
pub struct SealKey(Key);

impl SealKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self(Key::generate())
    }

    /// The key from its stored bytes.
    pub fn from_bytes(b: [u8; 32]) -> Self {
        Self(Key::from_bytes(b))
    }

    /// The bytes to store.
    pub fn to_bytes(&self) -> [u8; 32] {
        *self.0.as_bytes()
    }

    /// The key itself, for sealing with [`codecs::seal`].
    pub(crate) fn key(&self) -> &Key {
        &self.0
    }
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealKey(..)")
    }
}

/// Output format of [`export_stream`].
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
    /// Its length after clean-up.
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
    check_wav_length(input)?;
    let config = IngestConfig {
        max_duration,
        ..IngestConfig::default()
    };
    let mut sealed = Vec::with_capacity(input.len() / 8 + 1024);
    let report = pipeline::ingest(
        Cursor::new(input),
        &mut sealed,
        &key.0,
        id.as_bytes(),
        &config,
    )
    .map_err(|e| classify(&e))?;
    Ok(Stored {
        duration_ms: report.duration_ms,
        sealed,
        codec: "opus",
    })
}

/// The cheap checks run before a message is acknowledged: the format is sniffed (WAV or Ogg
/// Opus, else 415), a WAV's `data` length must fit in the upload, and a WAV whose header gives a
/// duration longer than `max_duration` is refused. Returns the duration the header tells (an
/// estimate until the message is transcoded; 0 for Ogg Opus, whose header does not tell it).
pub fn check_upload(input: &[u8], max_duration: Duration) -> Result<u64, Error> {
    let head = &input[..input.len().min(12)];
    let format =
        pipeline::Format::sniff(head).ok_or_else(|| classify(&pipeline::Error::UnknownFormat))?;
    if format != pipeline::Format::Wav {
        return Ok(0);
    }
    check_wav_length(input)?;
    let ms = wav_header_ms(input).unwrap_or(0);
    let max = u64::try_from(max_duration.as_millis()).unwrap_or(u64::MAX);
    if ms > max {
        return Err(Error::BadInput(format!(
            "the recording lasts {ms} ms; the limit is {max} ms"
        )));
    }
    Ok(ms)
}

/// A WAV's duration from its `fmt ` byte rate and `data` length (the length is capped at what
/// the upload holds; the streaming sentinels count as "to the end").
fn wav_header_ms(b: &[u8]) -> Option<u64> {
    let mut pos = 12usize;
    let mut byte_rate = None;
    while let Some(h) = b.get(pos..pos + 8) {
        let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let body = pos + 8;
        match &h[0..4] {
            b"fmt " => {
                let r = b.get(body + 8..body + 12)?;
                byte_rate = Some(u64::from(u32::from_le_bytes([r[0], r[1], r[2], r[3]])));
            }
            b"data" => {
                let available = (b.len() - body) as u64;
                let len = if len == 0 || len == u32::MAX {
                    available
                } else {
                    u64::from(len).min(available)
                };
                return byte_rate
                    .filter(|&r| r > 0)
                    .map(|r| len.saturating_mul(1000) / r);
            }
            _ => {}
        }
        pos = body
            .saturating_add(len as usize)
            .saturating_add(len as usize & 1);
    }
    None
}

/// Seals an upload as received (no compression, `id` as associated data) into `out`, streaming
/// it from `input`.
pub fn seal_raw<R: Read, W: Write>(
    mut input: R,
    key: &SealKey,
    id: Uuid,
    out: W,
) -> Result<W, Error> {
    let internal = |e: seal::Error| Error::Internal(e.to_string());
    let mut w = SealWriter::new(&key.0, id.as_bytes(), out, Compression::None).map_err(internal)?;
    std::io::copy(&mut input, &mut w).map_err(|e| Error::Internal(e.to_string()))?;
    w.finish().map_err(internal)
}

/// Opens a stored message (`sealed`, as [`store_audio`] or [`transcode`] wrote it) for playout
/// to a phone as `law` frames of `frame_samples` samples.
pub fn playout(
    sealed: Vec<u8>,
    key: &SealKey,
    id: Uuid,
    law: codecs::g711::Law,
    frame_samples: usize,
) -> Result<pipeline::G711Playout<Cursor<Vec<u8>>>, Error> {
    pipeline::G711Playout::new(
        Cursor::new(sealed),
        &key.0,
        id.as_bytes(),
        law,
        frame_samples,
    )
    .map_err(|e| Error::Internal(e.to_string()))
}

/// The largest opened upload [`transcode`] reads into memory: 10 MiB, a little more than 5
/// minutes of 16 kHz 16-bit mono WAV. Larger uploads go to a scratch file instead.
pub const UPLOAD_IN_MEMORY: u64 = 10 << 20;

/// Transcodes a sealed upload (from [`seal_raw`]) into a stored message written to `out`, as
/// [`store_audio`] does. The upload is opened into memory if it holds at most
/// [`UPLOAD_IN_MEMORY`] bytes; a larger one is copied into the file `scratch` makes (an empty
/// file, read twice by the pipeline). A message up to 5 minutes long is decoded once
/// ([`codecs::pipeline::IN_MEMORY_MAX`]), so a worker holds at most one upload and one decoded
/// message in memory: about 20 MB. `len_hint` is the sealed upload's length (the opened upload is
/// a little shorter), to size the buffer once. Returns the duration and the bytes written.
pub fn transcode<R: Read, W: Write>(
    raw: R,
    len_hint: u64,
    scratch: impl FnOnce() -> std::io::Result<std::fs::File>,
    key: &SealKey,
    id: Uuid,
    max_duration: Duration,
    out: W,
) -> Result<(u64, u64), Error> {
    let input = Upload {
        raw,
        len_hint,
        in_memory: UPLOAD_IN_MEMORY,
    };
    transcode_with(input, scratch, key, id, max_duration, out)
}

/// A sealed upload to transcode, opened into memory if it holds at most `in_memory` bytes.
struct Upload<R> {
    raw: R,
    len_hint: u64,
    in_memory: u64,
}

fn transcode_with<R: Read, W: Write>(
    upload: Upload<R>,
    scratch: impl FnOnce() -> std::io::Result<std::fs::File>,
    key: &SealKey,
    id: Uuid,
    max_duration: Duration,
    out: W,
) -> Result<(u64, u64), Error> {
    let internal = |e: &dyn std::fmt::Display| Error::Internal(e.to_string());
    let mut opened =
        OpenReader::new(&key.0, id.as_bytes(), upload.raw, u64::MAX).map_err(|e| internal(&e))?;
    let capacity = upload.len_hint.min(upload.in_memory + 1);
    let mut head = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
    (&mut opened)
        .take(upload.in_memory + 1)
        .read_to_end(&mut head)
        .map_err(|e| internal(&e))?;
    let config = IngestConfig {
        max_duration,
        ..IngestConfig::default()
    };
    let report = if head.len() as u64 <= upload.in_memory {
        pipeline::ingest(Cursor::new(head), out, &key.0, id.as_bytes(), &config)
    } else {
        let mut file = scratch().map_err(|e| internal(&e))?;
        file.write_all(&head).map_err(|e| internal(&e))?;
        drop(head);
        std::io::copy(&mut opened, &mut file).map_err(|e| internal(&e))?;
        file.seek(SeekFrom::Start(0)).map_err(|e| internal(&e))?;
        let file = std::io::BufReader::new(file);
        pipeline::ingest(file, out, &key.0, id.as_bytes(), &config)
    }
    .map_err(|e| classify(&e))?;
    Ok((report.duration_ms, report.stored_bytes))
}

/// Refuses a WAV whose `data` chunk claims more bytes than the upload holds. The pipeline would
/// take what is there (as for a stream whose header was never fixed up); an upload is a whole
/// file, so a header that lies about its length is a client error. The streaming sentinels 0 and
/// 0xFFFFFFFF are accepted.
fn check_wav_length(b: &[u8]) -> Result<(), Error> {
    if b.len() < 12 || &b[0..4] != b"RIFF" || &b[8..12] != b"WAVE" {
        return Ok(());
    }
    let mut pos = 12usize;
    while let Some(h) = b.get(pos..pos + 8) {
        let len = u32::from_le_bytes([h[4], h[5], h[6], h[7]]);
        let body = pos + 8;
        if &h[0..4] == b"data" {
            let available = b.len() - body;
            if len != 0 && len != u32::MAX && len as usize > available {
                return Err(Error::BadInput(format!(
                    "WAV header claims {len} bytes of audio but the file holds {available}"
                )));
            }
            return Ok(());
        }
        pos = body
            .saturating_add(len as usize)
            .saturating_add(len as usize & 1);
    }
    Ok(())
}

/// Bytes per chunk of a streamed export.
pub const EXPORT_CHUNK: usize = 64 << 10;

/// A message's audio being exported: its MIME type, the first chunk (the file checked whole),
/// and the rest as they come. A failure after the first chunk arrives as an `Err` item: the
/// response is cut short.
#[derive(Debug)]
pub struct Export {
    /// `audio/wav` or `audio/ogg`.
    pub mime: &'static str,
    /// The first chunk.
    pub first: Bytes,
    /// The following chunks.
    pub rest: tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>,
}

/// Writes into chunks sent on a bounded channel (the exporting thread waits while two are
/// unread; a receiver gone ends the export with `BrokenPipe`).
struct ChunkWriter {
    buf: Vec<u8>,
    tx: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
}

impl ChunkWriter {
    fn send(&mut self) -> std::io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::replace(
            &mut self.buf,
            Vec::with_capacity(EXPORT_CHUNK),
        ));
        self.tx.blocking_send(Ok(chunk)).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the reader went away")
        })
    }
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        let room = EXPORT_CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == EXPORT_CHUNK {
            self.send()?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The waveform of the sealed message at `path` in `points` spans, on the calling thread (a
/// blocking one): see [`crate::waveform`].
pub(crate) fn waveform_of(
    path: &std::path::Path,
    key: &SealKey,
    id: Uuid,
    points: usize,
) -> Result<pipeline::Waveform, String> {
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    pipeline::peaks(std::io::BufReader::new(file), &key.0, id.as_bytes(), points)
        .map_err(|e| e.to_string())
}

/// Exports the sealed file at `path` as `format`, streamed (see [`Export`]); returns once the
/// first chunk is ready, or the error that stopped the export before it.
pub async fn export_stream(
    path: std::path::PathBuf,
    key: SealKey,
    id: Uuid,
    format: Format,
) -> Result<Export, Error> {
    let (f, mime) = match format {
        Format::Wav => (pipeline::Format::Wav, "audio/wav"),
        Format::OggOpus => (pipeline::Format::OggOpus, "audio/ogg"),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(2);
    tokio::task::spawn_blocking(move || {
        let mut w = ChunkWriter {
            buf: Vec::with_capacity(EXPORT_CHUNK),
            tx: tx.clone(),
        };
        let result = std::fs::File::open(&path)
            .map_err(|e| e.to_string())
            .and_then(|file| {
                pipeline::export(file, &mut w, &key.0, id.as_bytes(), f).map_err(|e| e.to_string())
            })
            .and_then(|_| w.send().map_err(|e| e.to_string()));
        if let Err(e) = result {
            let _ = tx.blocking_send(Err(std::io::Error::other(e)));
        }
    });
    match rx.recv().await {
        Some(Ok(first)) => Ok(Export {
            mime,
            first,
            rest: rx,
        }),
        Some(Err(e)) => Err(Error::Internal(e.to_string())),
        None => Err(Error::Internal("the export stopped without a word".into())),
    }
}

/// Seals an attachment, xz-compressed first at a fast preset (attachments are often already
/// compressed); `aad` binds it to its message and position.
pub fn seal_attachment(key: &SealKey, aad: &[u8], data: &[u8]) -> Result<Vec<u8>, Error> {
    let preset = xz::Preset::new(1).map_err(|e| Error::Internal(e.to_string()))?;
    seal::seal(&key.0, aad, data, Compression::Xz(preset))
        .map_err(|e| Error::Internal(e.to_string()))
}

/// Opens an attachment sealed by [`seal_attachment`].
pub fn open_attachment(key: &SealKey, aad: &[u8], sealed: &[u8]) -> Result<Vec<u8>, Error> {
    seal::open(&key.0, aad, sealed, MAX_ATTACHMENT).map_err(|e| Error::Internal(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speech() -> Vec<u8> {
        std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../codecs/tests/data/speech-8k.wav"
        ))
        .expect("codecs test fixture")
    }

    /// Exports `sealed` (written to a file) with [`export_stream`]; the chunks, or the error.
    async fn export_chunks(
        sealed: &[u8],
        key: &SealKey,
        id: Uuid,
        format: Format,
    ) -> Result<(Vec<Bytes>, &'static str), Error> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sealed");
        std::fs::write(&path, sealed).unwrap();
        let mut e = export_stream(path, key.clone(), id, format).await?;
        let mut chunks = vec![e.first];
        while let Some(c) = e.rest.recv().await {
            chunks.push(c.map_err(|e| Error::Internal(e.to_string()))?);
        }
        Ok((chunks, e.mime))
    }

    #[tokio::test]
    async fn store_and_export_round_trip() {
        let key = SealKey::generate();
        let id = Uuid::new_v4();
        let input = speech();
        let s = store_audio(&input, &key, id, Duration::from_secs(60)).unwrap();
        // 11.4 s of speech; the clean-up may trim a little silence at the ends.
        assert!(
            (9_000..=11_500).contains(&s.duration_ms),
            "{}",
            s.duration_ms
        );
        assert!(
            s.sealed.len() < input.len() / 4,
            "not Opus: {} bytes",
            s.sealed.len()
        );
        let (chunks, mime) = export_chunks(&s.sealed, &key, id, Format::Wav)
            .await
            .unwrap();
        assert_eq!(mime, "audio/wav");
        // Streamed: whole chunks but the last, and the WAV as long as its header says.
        assert!(chunks.len() > 2, "{} chunks", chunks.len());
        let (last, whole) = chunks.split_last().unwrap();
        assert!(whole.iter().all(|c| c.len() == EXPORT_CHUNK));
        assert!(!last.is_empty() && last.len() <= EXPORT_CHUNK);
        let out: Vec<u8> = chunks.concat();
        assert_eq!(&out[0..4], b"RIFF");
        let riff = u32::from_le_bytes(out[4..8].try_into().unwrap()) as usize;
        assert_eq!(riff + 8, out.len());
        let (ogg, mime) = export_chunks(&s.sealed, &key, id, Format::OggOpus)
            .await
            .unwrap();
        assert_eq!(mime, "audio/ogg");
        assert_eq!(&ogg[0][0..4], b"OggS");
        // Another message id (AAD) does not open it: an error before any chunk.
        assert!(
            export_chunks(&s.sealed, &key, Uuid::new_v4(), Format::Wav)
                .await
                .is_err()
        );
    }

    #[test]
    fn bad_uploads_are_input_errors() {
        let key = SealKey::generate();
        let mut lying = speech()[..20_000].to_vec();
        let data = lying.windows(4).position(|w| w == b"data").unwrap();
        lying[data + 4..data + 8].copy_from_slice(&1_000_000u32.to_le_bytes());
        let e = store_audio(&lying, &key, Uuid::new_v4(), Duration::from_secs(60)).unwrap_err();
        assert!(matches!(e, Error::BadInput(_)), "{e}");
        let e = store_audio(&speech(), &key, Uuid::new_v4(), Duration::from_secs(2)).unwrap_err();
        assert!(matches!(e, Error::BadInput(_)), "{e}");
        let e =
            store_audio(b"not audio", &key, Uuid::new_v4(), Duration::from_secs(2)).unwrap_err();
        assert!(matches!(e, Error::Unsupported(_)), "{e}");
    }

    #[test]
    fn transcode_opens_small_uploads_in_memory_and_large_ones_into_scratch() {
        let key = SealKey::generate();
        let id = Uuid::new_v4();
        let input = speech();
        let sealed = seal_raw(&input[..], &key, id, Vec::new()).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let run = |in_memory: u64| {
            let mut scratch_made = false;
            let upload = Upload {
                raw: &sealed[..],
                len_hint: sealed.len() as u64,
                in_memory,
            };
            let mut out = Vec::new();
            let scratch = || {
                scratch_made = true;
                tempfile::tempfile_in(dir.path())
            };
            let (ms, bytes) =
                transcode_with(upload, scratch, &key, id, Duration::from_secs(60), &mut out)
                    .unwrap();
            assert_eq!(bytes, out.len() as u64);
            let mut wav = Vec::new();
            pipeline::export(
                Cursor::new(&out),
                &mut wav,
                key.key(),
                id.as_bytes(),
                pipeline::Format::Wav,
            )
            .unwrap();
            (scratch_made, ms, wav)
        };
        let (scratch, ms, small) = run(UPLOAD_IN_MEMORY);
        assert!(!scratch, "a 180 kB upload went to a scratch file");
        assert!((9_000..=11_500).contains(&ms), "{ms}");
        // With a bound below the upload's size, it spills, and the message is the same.
        let (scratch, spilled_ms, spilled) = run(input.len() as u64 / 2);
        assert!(scratch, "the upload did not go to a scratch file");
        assert_eq!(spilled_ms, ms);
        assert_eq!(spilled, small);
        // Exactly at the bound it still fits.
        let (scratch, _, _) = run(input.len() as u64);
        assert!(!scratch);
        // A wrong key is an internal error, not the upload's fault.
        let other = SealKey::generate();
        let upload = Upload {
            raw: &sealed[..],
            len_hint: 0,
            in_memory: UPLOAD_IN_MEMORY,
        };
        let e = transcode_with(
            upload,
            || tempfile::tempfile_in(dir.path()),
            &other,
            id,
            Duration::from_secs(60),
            Vec::new(),
        )
        .unwrap_err();
        assert!(!e.is_input(), "{e}");
    }

    #[test]
    fn attachments_round_trip() {
        let key = SealKey::generate();
        let sealed = seal_attachment(&key, b"aad", b"hello hello hello").unwrap();
        assert_eq!(
            open_attachment(&key, b"aad", &sealed).unwrap(),
            b"hello hello hello"
        );
        assert!(open_attachment(&key, b"other", &sealed).is_err());
    }
}
