//! Ingest: an upload turned into a stored message (decode, clean-up in one pass from memory or
//! two streaming passes, Opus encoding, sealing), and the passes [`super::convert`] shares.

use std::io::{self, Read, Seek, Write};
use std::time::Duration;

use super::*;

/// Settings for [`ingest`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IngestConfig {
    /// Opus bit rate of the stored message, bits per second.
    pub bitrate: u32,
    /// Trim silence, remove noise and normalise loudness before encoding.
    pub clean: bool,
    /// Longest accepted message.
    pub max_duration: Duration,
    /// Opus encoder complexity (0..=10) of the stored message; `None`:
    /// [`opus::stored_complexity`] of the working rate.
    pub complexity: Option<u8>,
    /// Messages up to this long are decoded once into memory and cleaned from there; longer ones
    /// are streamed in two passes over the input. Zero always streams.
    pub in_memory: Duration,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            bitrate: opus::STORED_BITRATE,
            clean: true,
            max_duration: Duration::from_secs(30 * 60),
            complexity: None,
            in_memory: IN_MEMORY_MAX,
        }
    }
}

/// What [`ingest`] stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IngestReport {
    /// Duration of the stored message, milliseconds.
    pub duration_ms: u64,
    /// Bytes written to the output (the sealed envelope).
    pub stored_bytes: u64,
    /// Rate of the stored audio (8000 or 16000).
    pub sample_rate: u32,
}

/// Counts what goes through a writer.
struct Counting<W> {
    inner: W,
    count: u64,
}

impl<W: Write> Write for Counting<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.count += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Where PCM goes: pass 1 (analysis) runs only when cleaning.
pub(super) struct Passes {
    pub(super) format: Format,
    pub(super) opus_rate: SampleRate,
    pub(super) rate: u32,
    pub(super) limit: Option<(u64, u64)>,
    pub(super) clean: bool,
    /// Most samples (at `rate`) held in memory for a single pass; 0 always reads twice.
    pub(super) hold: usize,
}

impl Passes {
    /// Streams `input` (positioned at `start`), resampled to `self.rate` and cleaned up if asked,
    /// into `sink`.
    ///
    /// Cleaning needs the whole recording analysed before the first sample comes out. Pass 1
    /// decodes and analyses, and keeps the decoded samples while there are at most `self.hold`
    /// of them; then pass 2 cleans from memory. A longer input drops what it held as soon as it
    /// outgrows the bound and goes on analysing; pass 2 then rewinds and decodes `input` again.
    /// Both ways feed the clean-up the same samples, so the output is the same.
    pub(super) fn run<R: Read + Seek>(
        &self,
        input: &mut R,
        start: u64,
        mut sink: impl FnMut(&[i16]) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if !self.clean {
            let mut source = Source::new(&mut *input, self.format, self.opus_rate)?;
            pump(&mut source, self.rate, self.limit, sink)?;
            return Ok(());
        }
        let mut analyzer = Analyzer::new(cleanup::Config::new(self.rate)?);
        let mut held: Option<Vec<i16>> = (self.hold > 0).then(Vec::new);
        let mut source = Source::new(&mut *input, self.format, self.opus_rate)?;
        pump(&mut source, self.rate, self.limit, |pcm| {
            analyzer.feed(pcm);
            let outgrown = match &mut held {
                Some(buf) if buf.len() + pcm.len() <= self.hold => {
                    // Grow by doubling, but never past the bound.
                    let need = buf.len() + pcm.len();
                    if need > buf.capacity() {
                        let grown = (buf.capacity() * 2).clamp(need, self.hold);
                        buf.reserve_exact(grown - buf.len());
                    }
                    buf.extend_from_slice(pcm);
                    false
                }
                Some(_) => true,
                None => false,
            };
            if outgrown {
                held = None;
            }
            Ok(())
        })?;
        drop(source);
        let plan = analyzer.finish();
        let mut processor = Processor::new(&plan);
        let mut cleaned = Vec::with_capacity(CHUNK * 2);
        match held {
            Some(buf) => {
                for pcm in buf.chunks(CHUNK) {
                    cleaned.clear();
                    processor.feed(pcm, &mut cleaned);
                    sink(&cleaned)?;
                }
            }
            None => {
                rewind(input, start)?;
                let mut source = Source::new(&mut *input, self.format, self.opus_rate)?;
                pump(&mut source, self.rate, self.limit, |pcm| {
                    cleaned.clear();
                    processor.feed(pcm, &mut cleaned);
                    sink(&cleaned)
                })?;
            }
        }
        cleaned.clear();
        processor.finish(&mut cleaned)?;
        sink(&cleaned)
    }
}

/// Samples at `rate` in `d`, as a bound on memory.
pub(super) fn samples_in(d: Duration, rate: u32) -> usize {
    usize::try_from(d.as_millis() * u128::from(rate) / 1000).unwrap_or(usize::MAX)
}

/// The rate `input` (at `start`) decodes to as `format` with Ogg Opus decoded at `opus_rate`,
/// or, for Ogg Opus with `opus_rate` `None`, the rate its `OpusHead` names; the input is
/// rewound to `start`.
pub(super) fn probe<R: Read + Seek>(
    input: &mut R,
    start: u64,
    format: Format,
) -> Result<(u32, SampleRate), Error> {
    let probed = match format {
        Format::OggOpus => {
            let reader = OggOpusReader::new(&mut *input, SampleRate::Hz48000)?;
            let rate = opus_rate_for(reader.head().input_sample_rate);
            (rate.hz(), rate)
        }
        _ => {
            let source = Source::new(&mut *input, format, SampleRate::Hz48000)?;
            (source.sample_rate(), SampleRate::Hz48000)
        }
    };
    rewind(input, start)?;
    Ok(probed)
}

fn limit_for(max: Duration, rate: u32) -> Option<(u64, u64)> {
    let limit_ms = u64::try_from(max.as_millis()).unwrap_or(u64::MAX);
    Some((limit_ms.saturating_mul(u64::from(rate)) / 1000, limit_ms))
}

/// Turns an upload into a stored message: decodes `input` (WAV or Ogg Opus, sniffed), cleans it
/// up, encodes Ogg Opus, and seals it with `key`, binding `id` (the message UUID) as associated
/// data, into `out`. A message up to [`IngestConfig::in_memory`] long is decoded once and cleaned
/// from memory; a longer one is read twice (hence `Seek`), so memory stays bounded.
pub fn ingest<R: Read + Seek, W: Write>(
    mut input: R,
    out: W,
    key: &Key,
    id: &[u8],
    config: &IngestConfig,
) -> Result<IngestReport, Error> {
    let start = input.stream_position()?;
    let mut head = [0u8; 12];
    let n = read_some(&mut input, &mut head)?;
    let format = Format::sniff(&head[..n]).ok_or(Error::UnknownFormat)?;
    rewind(&mut input, start)?;
    let (source_rate, _) = probe(&mut input, start, format)?;
    let rate = working_rate(source_rate);
    let passes = Passes {
        format,
        opus_rate: opus_rate_for(rate),
        rate,
        limit: limit_for(config.max_duration, rate),
        clean: config.clean,
        hold: samples_in(config.in_memory, rate),
    };

    let mut writer_config = WriterConfig::new(rate, serial_for(id))?;
    writer_config.encoder = writer_config.encoder.bitrate(config.bitrate)?.complexity(
        config
            .complexity
            .unwrap_or_else(|| opus::stored_complexity(rate)),
    )?;
    writer_config.original_sample_rate = Some(source_rate);
    let sealed = SealWriter::new(
        key,
        id,
        Counting {
            inner: out,
            count: 0,
        },
        Compression::None,
    )?;
    let mut encoder = OggOpusWriter::new(sealed, writer_config)?;
    passes.run(&mut input, start, |pcm| Ok(encoder.write(pcm)?))?;
    let samples = encoder.samples_written();
    let mut counting = encoder.finish()?.finish()?;
    counting.flush()?;
    Ok(IngestReport {
        duration_ms: samples * 1000 / u64::from(rate),
        stored_bytes: counting.count,
        sample_rate: rate,
    })
}

/// A stable Ogg serial number for a message: the stream is alone in its file, so it only has to
/// be deterministic (RFC 3533 §4 asks for uniqueness within one physical stream).
pub(super) fn serial_for(id: &[u8]) -> u32 {
    id.chunks(4).fold(0x4f48_4b31, |acc, c| {
        let mut word = [0u8; 4];
        word[..c.len()].copy_from_slice(c);
        acc.rotate_left(5) ^ u32::from_le_bytes(word)
    })
}
