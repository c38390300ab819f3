//! The streaming media pipeline the rest of the product uses.
//!
//! Every path is a chain of three parts, and holds at most a bounded stretch of a recording in
//! memory:
//!
//! - a [`Source`] decodes a file — WAV of any rate (PCM, µ-law, A-law), raw G.711 or Ogg Opus —
//!   to mono 16-bit PCM, chunk by chunk;
//! - the PCM is resampled ([`crate::resample`]) to the working rate and, for messages, cleaned up
//!   ([`crate::cleanup::Analyzer`], then [`crate::cleanup::Processor`]): in one pass over the
//!   input for recordings up to [`IN_MEMORY_MAX`] (decoded once, cleaned from memory), in two
//!   streaming passes over the input for longer ones;
//! - a sink encodes it: [`crate::wav::WavWriter`], raw G.711, or Ogg Opus
//!   ([`crate::oggopus::OggOpusWriter`]), for messages behind a [`crate::seal::SealWriter`].
//!
//! The entry points:
//!
//! | call | in | out |
//! | --- | --- | --- |
//! | [`ingest`] | an upload (WAV or Ogg Opus, sniffed) | a sealed Ogg Opus message |
//! | [`export`] | a sealed message | WAV, Ogg Opus or raw G.711 |
//! | [`G711Playout`] | a sealed message | 20 ms G.711 frames for RTP |
//! | [`convert`] | any supported file | any supported file |
//!
//! Messages are stored as Ogg Opus (RFC 7845), mono, 20 kbit/s by default
//! ([`opus::STORED_BITRATE`]), encoder complexity [`opus::stored_complexity`] of the rate
//! (chosen by PESQ and speed, see there): Ogg carries the pre-skip and the exact length, so a stored message
//! plays in any Ogg Opus player once opened.
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::time::Duration;

use thiserror::Error;

mod ingest;
mod peaks;
mod playout;
pub use ingest::{IngestConfig, IngestReport, ingest};
use ingest::{Passes, probe, samples_in, serial_for};
pub use peaks::{MAX_POINTS, Spans, Waveform, peaks};
pub use playout::G711Playout;

use crate::cleanup::{self, Analyzer, Processor};
use crate::g711::Law;
use crate::oggopus::{self, OggOpusReader, OggOpusWriter, WriterConfig};
use crate::opus::{self, SampleRate};
use crate::resample::{self, Resampler};
use crate::seal::{self, Compression, Key, OpenReader, SealWriter};
use crate::wav::{self, WavReader, WavWriter};

/// PCM is moved through the pipeline in chunks of this many samples.
const CHUNK: usize = 4096;
/// The largest opened (Ogg Opus) message [`export`] accepts: about 2.5 hours at 64 kbit/s.
pub const MAX_STORED_LEN: u64 = 64 * 1024 * 1024;
/// The longest message [`ingest`] holds whole in memory by default: 5 minutes, at most 9.6 MB of
/// 16 kHz PCM (4.8 MB at 8 kHz) per message being ingested.
pub const IN_MEMORY_MAX: Duration = Duration::from_secs(5 * 60);

/// Errors from the pipeline.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    // ---- malformed or unsupported input ----
    /// The input is neither WAV nor Ogg Opus.
    #[error("unrecognised audio: expected a WAV or Ogg Opus file")]
    UnknownFormat,
    /// The input WAV is malformed or unsupported.
    #[error("wav: {0}")]
    Wav(wav::Error),
    /// The input Ogg Opus is malformed or unsupported.
    #[error("ogg opus: {0}")]
    OggOpus(oggopus::Error),
    /// The input is longer than allowed.
    #[error("audio longer than the limit of {limit_ms} ms")]
    TooLong {
        /// The limit, in milliseconds.
        limit_ms: u64,
    },
    // ---- stored data ----
    /// A sealed message could not be opened: wrong key or id, or tampered data.
    #[error("sealed audio: {0}")]
    Seal(#[from] seal::Error),
    // ---- API misuse ----
    /// A setting is out of range.
    #[error("invalid setting {field}: {reason}")]
    Config {
        /// The setting.
        field: &'static str,
        /// Why.
        reason: &'static str,
    },
    /// The encoder refused its settings.
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
    /// The resampler refused its rates.
    #[error("resample: {0}")]
    Resample(#[from] resample::Error),
    /// The clean-up refused its settings.
    #[error("clean-up: {0}")]
    Cleanup(#[from] cleanup::Error),
    // ---- I/O ----
    /// Reading the input or writing the output failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// True when the input audio itself is at fault (a client sent a bad file), false when the
    /// fault is ours: settings, stored data, or I/O.
    pub fn is_input(&self) -> bool {
        matches!(
            self,
            Self::UnknownFormat | Self::TooLong { .. } | Self::Wav(_) | Self::OggOpus(_)
        )
    }
}

/// A failure of a sealed envelope read through a decoder comes back inside an `io::Error`: lift
/// it out, so that a wrong key or tampered data is [`Error::Seal`], not a malformed-input error.
fn lift_io(e: io::Error) -> Error {
    match seal::Error::from_io(e) {
        seal::Error::Io(e) => Error::Io(e),
        sealed => Error::Seal(sealed),
    }
}

impl From<wav::Error> for Error {
    fn from(e: wav::Error) -> Self {
        match e {
            wav::Error::Io(io) => lift_io(io),
            other => Self::Wav(other),
        }
    }
}

impl From<oggopus::Error> for Error {
    fn from(e: oggopus::Error) -> Self {
        match e {
            oggopus::Error::Ogg(crate::ogg::Error::Io(io)) => lift_io(io),
            other => Self::OggOpus(other),
        }
    }
}

/// A file format the pipeline reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Format {
    /// RIFF WAVE: read in any rate and PCM/G.711 format, written as 16-bit PCM.
    Wav,
    /// Raw G.711 µ-law at 8 kHz, no header.
    Ulaw,
    /// Raw G.711 A-law at 8 kHz, no header.
    Alaw,
    /// Ogg Opus (RFC 7845).
    OggOpus,
}

impl Format {
    /// The format a file name's extension names (`.wav`, `.ulaw`/`.mulaw`, `.alaw`,
    /// `.ogg`/`.opus`), case-insensitively.
    pub fn from_path(path: &Path) -> Option<Self> {
        let ext = path.extension()?.to_str()?.to_ascii_lowercase();
        match ext.as_str() {
            "wav" | "wave" => Some(Self::Wav),
            "ulaw" | "mulaw" | "ul" => Some(Self::Ulaw),
            "alaw" | "al" => Some(Self::Alaw),
            "ogg" | "opus" | "oga" => Some(Self::OggOpus),
            _ => None,
        }
    }

    /// The format of a file with a header, from its first bytes (raw G.711 has none).
    pub fn sniff(head: &[u8]) -> Option<Self> {
        match head {
            [
                b'R',
                b'I',
                b'F',
                b'F',
                _,
                _,
                _,
                _,
                b'W',
                b'A',
                b'V',
                b'E',
                ..,
            ] => Some(Self::Wav),
            [b'O', b'g', b'g', b'S', ..] => Some(Self::OggOpus),
            _ => None,
        }
    }
}

/// Decodes a file of any [`Format`] to mono 16-bit PCM, chunk by chunk.
pub struct Source<R: Read> {
    decoder: Decoder<R>,
    rate: u32,
}

enum Decoder<R: Read> {
    Wav(WavReader<R>),
    G711 { inner: R, law: Law, buf: Vec<u8> },
    OggOpus(Box<OggOpusReader<R>>),
}

impl<R: Read> std::fmt::Debug for Source<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.decoder {
            Decoder::Wav(_) => "wav",
            Decoder::G711 { law: Law::Ulaw, .. } => "ulaw",
            Decoder::G711 { .. } => "alaw",
            Decoder::OggOpus(_) => "ogg-opus",
        };
        f.debug_struct("Source")
            .field("format", &kind)
            .field("rate", &self.rate)
            .finish()
    }
}

impl<R: Read> Source<R> {
    /// Opens `inner` as `format`. Ogg Opus is decoded at `opus_rate`; the other formats at
    /// their own rate (8 kHz for raw G.711).
    pub fn new(inner: R, format: Format, opus_rate: SampleRate) -> Result<Self, Error> {
        let (decoder, rate) = match format {
            Format::Wav => {
                let reader = WavReader::new(inner)?;
                let rate = reader.spec().sample_rate;
                (Decoder::Wav(reader), rate)
            }
            Format::Ulaw | Format::Alaw => {
                let law = if format == Format::Ulaw {
                    Law::Ulaw
                } else {
                    Law::Alaw
                };
                (
                    Decoder::G711 {
                        inner,
                        law,
                        buf: vec![0; CHUNK],
                    },
                    8000,
                )
            }
            Format::OggOpus => {
                let reader = OggOpusReader::new(inner, opus_rate)?;
                (Decoder::OggOpus(Box::new(reader)), opus_rate.hz())
            }
        };
        Ok(Self { decoder, rate })
    }

    /// Samples per second of what [`Source::read`] yields.
    pub fn sample_rate(&self) -> u32 {
        self.rate
    }

    /// Fills `out` with the next samples; 0 means the end of the input.
    pub fn read(&mut self, out: &mut [i16]) -> Result<usize, Error> {
        match &mut self.decoder {
            Decoder::Wav(reader) => Ok(reader.read_mono(out)?),
            Decoder::OggOpus(reader) => Ok(reader.read(out)?),
            Decoder::G711 { inner, law, buf } => {
                let want = out.len().min(buf.len());
                let n = read_some(inner, &mut buf[..want])?;
                let decoded = law
                    .decode(&buf[..n], &mut out[..n])
                    .map_err(|_| Error::Config {
                        field: "buffer",
                        reason: "decode buffer too small",
                    })?;
                Ok(decoded)
            }
        }
    }
}

/// Reads until `buf` is full or the input ends, retrying interrupted reads.
fn read_some<R: Read>(inner: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match inner.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// Streams every sample of `source`, resampled to `rate`, to `sink` in chunks.
/// Returns the number of samples delivered.
fn pump<R: Read>(
    source: &mut Source<R>,
    rate: u32,
    limit: Option<(u64, u64)>,
    mut sink: impl FnMut(&[i16]) -> Result<(), Error>,
) -> Result<u64, Error> {
    let mut resampler = if source.sample_rate() == rate {
        None
    } else {
        Some(Resampler::new(source.sample_rate(), rate)?)
    };
    let mut buf = vec![0i16; CHUNK];
    let mut resampled = Vec::with_capacity(CHUNK * 6);
    let mut total = 0u64;
    let mut deliver = |pcm: &[i16], total: &mut u64| -> Result<(), Error> {
        *total += pcm.len() as u64;
        if let Some((max_samples, limit_ms)) = limit
            && *total > max_samples
        {
            return Err(Error::TooLong { limit_ms });
        }
        sink(pcm)
    };
    loop {
        let n = source.read(&mut buf)?;
        if n == 0 {
            break;
        }
        match &mut resampler {
            None => deliver(&buf[..n], &mut total)?,
            Some(r) => {
                resampled.clear();
                r.process(&buf[..n], &mut resampled)?;
                deliver(&resampled, &mut total)?;
            }
        }
    }
    if let Some(r) = &mut resampler {
        resampled.clear();
        r.finish(&mut resampled)?;
        deliver(&resampled, &mut total)?;
    }
    Ok(total)
}

/// The Opus rate to decode at for PCM wanted at about `rate` Hz.
fn opus_rate_for(rate: u32) -> SampleRate {
    match rate {
        0..=8000 => SampleRate::Hz8000,
        8001..=12000 => SampleRate::Hz12000,
        12001..=16000 => SampleRate::Hz16000,
        16001..=24000 => SampleRate::Hz24000,
        _ => SampleRate::Hz48000,
    }
}

/// The clean-up works at 8 or 16 kHz: narrowband input stays narrowband.
fn working_rate(source_rate: u32) -> u32 {
    if source_rate <= 8000 { 8000 } else { 16000 }
}

fn rewind<R: Seek>(input: &mut R, start: u64) -> Result<(), Error> {
    input.seek(SeekFrom::Start(start))?;
    Ok(())
}

/// What [`export`] and [`convert`] wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    /// Duration of the audio written, milliseconds.
    pub duration_ms: u64,
    /// Sample rate of the audio written.
    pub sample_rate: u32,
}

/// Writes a sealed message (as [`ingest`] stored it) to `out` as `format`.
///
/// Ogg Opus is the stored stream itself, opened and checked chunk by chunk. WAV is 16-bit PCM at
/// the message's own rate; since `out` need not be seekable, the message is decoded twice: once
/// to count the samples for the WAV header, once to write them.
pub fn export<R: Read + Seek, W: Write>(
    mut sealed: R,
    out: W,
    key: &Key,
    id: &[u8],
    format: Format,
) -> Result<Report, Error> {
    let (rate, out_rate, samples) = counted(&mut sealed, key, id, |rate| match format {
        Format::Ulaw | Format::Alaw => 8000,
        Format::Wav | Format::OggOpus => rate.hz(),
    })?;
    let report = Report {
        duration_ms: samples * 1000 / u64::from(out_rate),
        sample_rate: out_rate,
    };
    match format {
        Format::OggOpus => {
            let mut out = out;
            io::copy(&mut open_sealed(key, id, &mut sealed)?, &mut out)?;
            out.flush()?;
        }
        Format::Wav => {
            let mut source =
                Source::new(open_sealed(key, id, &mut sealed)?, Format::OggOpus, rate)?;
            let mut writer = WavWriter::new(out, out_rate, 1, Some(samples))?;
            pump(&mut source, out_rate, None, |pcm| {
                Ok(writer.write_samples(pcm)?)
            })?;
            writer.finish()?.flush()?;
        }
        Format::Ulaw | Format::Alaw => {
            let mut source =
                Source::new(open_sealed(key, id, &mut sealed)?, Format::OggOpus, rate)?;
            let mut sink = G711Sink::new(out, format);
            pump(&mut source, out_rate, None, |pcm| sink.write(pcm))?;
            sink.inner.flush()?;
        }
    }
    Ok(report)
}

/// Before a decode of a sealed message: its stored rate, the rate `out_rate` picks for the
/// output, and its length in samples at that rate. The length comes from a first decode, which
/// also checks every tag: a tampered message fails here, before anything is written. The stream
/// is left where it was.
fn counted<R: Read + Seek>(
    sealed: &mut R,
    key: &Key,
    id: &[u8],
    out_rate: impl FnOnce(SampleRate) -> u32,
) -> Result<(SampleRate, u32, u64), Error> {
    let start = sealed.stream_position()?;
    let rate = {
        let head = OggOpusReader::new(open_sealed(key, id, &mut *sealed)?, SampleRate::Hz48000)?;
        opus_rate_for(head.head().input_sample_rate)
    };
    rewind(sealed, start)?;
    let out = out_rate(rate);
    let mut counter = Source::new(open_sealed(key, id, &mut *sealed)?, Format::OggOpus, rate)?;
    let samples = pump(&mut counter, out, None, |_| Ok(()))?;
    drop(counter);
    rewind(sealed, start)?;
    Ok((rate, out, samples))
}

fn open_sealed<'a, R: Read>(
    key: &Key,
    id: &[u8],
    sealed: &'a mut R,
) -> Result<OpenReader<&'a mut R>, Error> {
    Ok(OpenReader::new(key, id, sealed, MAX_STORED_LEN)?)
}

/// Raw G.711 output.
struct G711Sink<W> {
    inner: W,
    law: Law,
    buf: Vec<u8>,
}

impl<W: Write> G711Sink<W> {
    fn new(inner: W, format: Format) -> Self {
        let law = if format == Format::Alaw {
            Law::Alaw
        } else {
            Law::Ulaw
        };
        Self {
            inner,
            law,
            buf: Vec::with_capacity(CHUNK),
        }
    }

    fn write(&mut self, pcm: &[i16]) -> Result<(), Error> {
        self.buf.resize(pcm.len(), 0);
        let n = self
            .law
            .encode(pcm, &mut self.buf)
            .map_err(|_| Error::Config {
                field: "buffer",
                reason: "encode buffer too small",
            })?;
        self.inner.write_all(&self.buf[..n])?;
        Ok(())
    }
}

/// Settings for [`convert`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvertOptions {
    bitrate: u32,
    clean: bool,
}

impl Default for ConvertOptions {
    fn default() -> Self {
        Self {
            bitrate: opus::DEFAULT_BITRATE,
            clean: false,
        }
    }
}

impl ConvertOptions {
    /// The Opus bit rate for Ogg Opus output (6,000 to 510,000 bit/s).
    pub fn bitrate(mut self, bps: u32) -> Result<Self, Error> {
        if !(6_000..=510_000).contains(&bps) {
            return Err(Error::Config {
                field: "bitrate",
                reason: "Opus takes 6000 to 510000 bit/s",
            });
        }
        self.bitrate = bps;
        Ok(self)
    }

    /// Whether to apply the message clean-up (trim, noise reduction, loudness).
    pub fn clean(mut self, clean: bool) -> Self {
        self.clean = clean;
        self
    }
}

/// Converts `input` as `in_format` to `out_format` in `out`.
///
/// The output keeps the input's rate where the format allows (G.711 is 8 kHz; Opus takes 8, 12,
/// 16, 24 or 48 kHz, so other rates go to the next one up); with clean-up it is 8 or 16 kHz.
/// Ogg Opus input decodes at the rate its `OpusHead` names.
pub fn convert<R: Read + Seek, W: Write + Seek>(
    mut input: R,
    in_format: Format,
    out: W,
    out_format: Format,
    options: &ConvertOptions,
) -> Result<Report, Error> {
    let start = input.stream_position()?;
    let (source_rate, opus_rate) = probe(&mut input, start, in_format)?;
    let rate = match out_format {
        Format::Ulaw | Format::Alaw => 8000,
        _ if options.clean => working_rate(source_rate),
        Format::OggOpus => opus_rate_for(source_rate).hz(),
        Format::Wav => source_rate,
    };
    let passes = Passes {
        format: in_format,
        opus_rate,
        rate,
        limit: None,
        clean: options.clean,
        hold: samples_in(IN_MEMORY_MAX, working_rate(source_rate)),
    };
    // Clean-up works at 8 or 16 kHz; G.711 output is 8 kHz either way.
    let passes = if options.clean && rate != working_rate(source_rate) {
        Passes {
            rate: working_rate(source_rate),
            ..passes
        }
    } else {
        passes
    };
    let mut samples = 0u64;
    let mut count = |pcm: &[i16]| samples += pcm.len() as u64;
    match out_format {
        Format::Wav => {
            let mut writer = WavWriter::new(out, passes.rate, 1, None)?;
            passes.run(&mut input, start, |pcm| {
                count(pcm);
                Ok(writer.write_samples(pcm)?)
            })?;
            writer.finish_seekable()?.flush()?;
        }
        Format::OggOpus => {
            let mut config = WriterConfig::new(passes.rate, serial_for(&[]))?;
            config.encoder = config.encoder.bitrate(options.bitrate)?;
            config.original_sample_rate = Some(source_rate);
            let mut writer = OggOpusWriter::new(out, config)?;
            passes.run(&mut input, start, |pcm| {
                count(pcm);
                Ok(writer.write(pcm)?)
            })?;
            writer.finish()?.flush()?;
        }
        Format::Ulaw | Format::Alaw => {
            let mut sink = G711Sink::new(out, out_format);
            if passes.rate == 8000 {
                passes.run(&mut input, start, |pcm| {
                    count(pcm);
                    sink.write(pcm)
                })?;
            } else {
                // Cleaned at 16 kHz, then down to 8 kHz for G.711.
                let mut down = Resampler::new(passes.rate, 8000)?;
                let mut narrow = Vec::with_capacity(CHUNK);
                passes.run(&mut input, start, |pcm| {
                    narrow.clear();
                    down.process(pcm, &mut narrow)?;
                    count(&narrow);
                    sink.write(&narrow)
                })?;
                narrow.clear();
                down.finish(&mut narrow)?;
                count(&narrow);
                sink.write(&narrow)?;
            }
            sink.inner.flush()?;
        }
    }
    let out_rate = match out_format {
        Format::Ulaw | Format::Alaw => 8000,
        _ => passes.rate,
    };
    Ok(Report {
        duration_ms: samples * 1000 / u64::from(out_rate),
        sample_rate: out_rate,
    })
}

#[cfg(test)]
mod tests;
