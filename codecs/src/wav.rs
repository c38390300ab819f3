//! WAV (RIFF/WAVE) files: a streaming reader and a 16-bit PCM writer.
//!
//! The reader follows the RIFF layout of the Microsoft "Multimedia Programming Interface and Data
//! Specifications 1.0" (1991) and the `WAVE_FORMAT_EXTENSIBLE` extension (RFC 2361 lists the format
//! codes). It accepts 8-bit unsigned, 16/24/32-bit PCM, 32-bit IEEE float, µ-law (format 7) and
//! A-law (format 6) at any sample rate and up to [`MAX_CHANNELS`] channels, and always yields
//! interleaved `i16` samples, chunk by chunk, so a long file never sits in memory.
//!
//! Headers from the wild lie, so the reader:
//! - ignores the RIFF size,
//! - treats a `data` size of 0 or `0xFFFF_FFFF` as "streamed: read to end of file",
//! - stops at end of file when the `data` size is larger than the file and reports it through
//!   [`WavReader::truncation`],
//! - honours the pad byte after odd-sized chunks,
//! - refuses a `fmt ` chunk above [`MAX_FMT_SIZE`] before reading it, and gives up after skipping
//!   [`MAX_SKIPPED_BYTES`] of unknown chunks (skipping never allocates).
//!
//! The writer emits 16-bit PCM. Given the frame count up front it writes an exact header and so
//! works on pipes; otherwise it writes the streamed sizes (`0xFFFF_FFFF`) and, when the output is
//! seekable, [`WavWriter::finish_seekable`] patches the real sizes in.

use std::io::{self, Read, Seek, SeekFrom, Write};

use tracing::{debug, warn};

/// Largest `fmt ` chunk we read into memory (the extensible format needs 40 bytes).
pub const MAX_FMT_SIZE: u32 = 1024;
/// Most bytes of unknown chunks skipped before the `data` chunk before the file is refused.
pub const MAX_SKIPPED_BYTES: u64 = 16 * 1024 * 1024;
/// Most channels the reader accepts.
pub const MAX_CHANNELS: u16 = 64;
/// Highest sample rate the reader and writer accept (above any real audio interface).
pub const MAX_SAMPLE_RATE: u32 = 768_000;
/// Size of the header [`WavWriter`] writes.
pub const WRITER_HEADER_LEN: usize = 44;

/// `data` chunk sizes that mean "unknown length, read to end of file".
const STREAMED_SIZES: [u32; 2] = [0, u32::MAX];
/// Bytes read per refill; a multiple of every block alignment up to 64 channels × 4 bytes.
const READ_BUF_LEN: usize = 8192;

const FORMAT_PCM: u16 = 1;
const FORMAT_FLOAT: u16 = 3;
const FORMAT_ALAW: u16 = 6;
const FORMAT_MULAW: u16 = 7;
const FORMAT_EXTENSIBLE: u16 = 0xFFFE;
/// The KSDATAFORMAT_SUBTYPE GUID tail shared by all the format codes above.
const SUBTYPE_TAIL: [u8; 14] = [
    0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
];

/// Errors from reading or writing WAV files.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- malformed input ----
    /// A header field holds a value that no valid file has.
    #[error("invalid {field} at offset {offset}: {reason}")]
    Malformed {
        /// The field, e.g. `"fmt block_align"`.
        field: &'static str,
        /// Byte offset of the field in the file.
        offset: u64,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The file ends inside its header.
    #[error("file ends inside {field} at offset {offset}")]
    Truncated {
        /// What was being read.
        field: &'static str,
        /// Where the file ended.
        offset: u64,
    },
    /// A chunk is larger than we accept.
    #[error("{field} at offset {offset} declares {size} bytes; the limit is {limit}")]
    TooLarge {
        /// The chunk or field.
        field: &'static str,
        /// Byte offset of the size field.
        offset: u64,
        /// Declared size.
        size: u64,
        /// Our limit.
        limit: u64,
    },
    /// A well-formed file in a format we do not decode.
    #[error("unsupported {field} {value} at offset {offset}")]
    Unsupported {
        /// The field, e.g. `"fmt format_tag"`.
        field: &'static str,
        /// Byte offset of the field.
        offset: u64,
        /// Its value.
        value: u32,
    },
    // ---- API misuse ----
    /// The writer was asked for something the format cannot hold.
    #[error("invalid writer spec: {0}")]
    InvalidSpec(&'static str),
    /// The writer was given a different number of frames than it declared.
    #[error("declared {declared} frames but {written} were written")]
    LengthMismatch {
        /// Frames declared in [`WavWriter::new`].
        declared: u64,
        /// Frames written.
        written: u64,
    },
    /// Samples passed to the writer were not a whole number of frames.
    #[error("{len} samples is not a whole number of {channels}-channel frames")]
    PartialFrame {
        /// Samples passed.
        len: usize,
        /// Channels per frame.
        channels: u16,
    },
    // ---- I/O ----
    /// The underlying reader or writer failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

/// How samples are stored in the `data` chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SampleFormat {
    /// 8-bit unsigned PCM (128 is silence).
    U8,
    /// 16-bit signed little-endian PCM.
    I16,
    /// 24-bit signed little-endian PCM (reduced to 16 bits by truncation).
    I24,
    /// 32-bit signed little-endian PCM (reduced to 16 bits by truncation).
    I32,
    /// 32-bit IEEE float, nominal range ±1.0 (clamped and rounded to 16 bits).
    F32,
    /// G.711 µ-law, one byte per sample.
    MuLaw,
    /// G.711 A-law, one byte per sample.
    ALaw,
}

impl SampleFormat {
    /// Bytes one sample of one channel takes in the file.
    pub fn bytes_per_sample(self) -> u16 {
        match self {
            Self::U8 | Self::MuLaw | Self::ALaw => 1,
            Self::I16 => 2,
            Self::I24 => 3,
            Self::I32 | Self::F32 => 4,
        }
    }
}

/// What a WAV file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WavSpec {
    /// Frames per second.
    pub sample_rate: u32,
    /// Interleaved channels per frame.
    pub channels: u16,
    /// Storage format of the samples.
    pub format: SampleFormat,
}

/// The `data` chunk promised more bytes than the file held.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Truncation {
    /// Bytes the `data` chunk declared.
    pub declared_bytes: u64,
    /// Bytes actually present (including a trailing partial frame, which is dropped).
    pub read_bytes: u64,
}

/// Streaming WAV reader yielding interleaved `i16` samples.
///
/// ```no_run
/// # fn main() -> Result<(), codecs::wav::Error> {
/// let file = std::fs::File::open("in.wav")?;
/// let mut reader = codecs::wav::WavReader::new(std::io::BufReader::new(file))?;
/// let mut buf = [0i16; 1024];
/// loop {
///     let n = reader.read_mono(&mut buf)?;
///     if n == 0 { break; }
///     // use buf[..n]
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct WavReader<R> {
    inner: R,
    spec: WavSpec,
    block_align: usize,
    /// Bytes of `data` left to read; `None` when streamed (read to EOF).
    remaining: Option<u64>,
    declared: Option<u64>,
    read_bytes: u64,
    eof: bool,
    truncation: Option<Truncation>,
    buf: Box<[u8; READ_BUF_LEN]>,
    /// Bytes of an incomplete frame kept at the front of `buf`.
    have: usize,
    /// Scratch for [`Self::read_mono`].
    scratch: Vec<i16>,
}

impl<R: Read> WavReader<R> {
    /// Parses the header up to the start of the `data` chunk.
    pub fn new(mut inner: R) -> Result<Self, Error> {
        let mut offset = 0u64;
        let mut riff = [0u8; 12];
        read_header(&mut inner, &mut riff, "RIFF header", &mut offset)?;
        if &riff[0..4] != b"RIFF" {
            return Err(malformed("RIFF id", 0, "not \"RIFF\""));
        }
        if &riff[8..12] != b"WAVE" {
            return Err(malformed("RIFF form type", 8, "not \"WAVE\""));
        }
        let mut spec = None;
        let mut skipped = 0u64;
        loop {
            let mut hdr = [0u8; 8];
            let chunk_at = offset;
            read_header(&mut inner, &mut hdr, "chunk header", &mut offset)?;
            let id = [hdr[0], hdr[1], hdr[2], hdr[3]];
            let size = u32::from_le_bytes([hdr[4], hdr[5], hdr[6], hdr[7]]);
            match &id {
                b"fmt " => {
                    if size > MAX_FMT_SIZE {
                        return Err(Error::TooLarge {
                            field: "fmt chunk",
                            offset: chunk_at + 4,
                            size: size.into(),
                            limit: MAX_FMT_SIZE.into(),
                        });
                    }
                    let mut body = [0u8; MAX_FMT_SIZE as usize];
                    let body = &mut body[..size as usize];
                    let body_at = offset;
                    read_header(&mut inner, body, "fmt chunk", &mut offset)?;
                    spec = Some(parse_fmt(body, body_at)?);
                    skip_pad(&mut inner, size, &mut offset)?;
                }
                b"data" => {
                    let Some((spec, block_align)) = spec else {
                        return Err(malformed("data chunk", chunk_at, "comes before fmt chunk"));
                    };
                    let declared = (!STREAMED_SIZES.contains(&size)).then_some(u64::from(size));
                    debug!(
                        rate = spec.sample_rate,
                        channels = spec.channels,
                        format = ?spec.format,
                        data_bytes = ?declared,
                        "wav header parsed"
                    );
                    return Ok(Self {
                        inner,
                        spec,
                        block_align,
                        remaining: declared,
                        declared,
                        read_bytes: 0,
                        eof: false,
                        truncation: None,
                        buf: Box::new([0; READ_BUF_LEN]),
                        have: 0,
                        scratch: Vec::new(),
                    });
                }
                _ => {
                    let padded = u64::from(size) + u64::from(size & 1);
                    skipped += padded;
                    if skipped > MAX_SKIPPED_BYTES {
                        return Err(Error::TooLarge {
                            field: "chunks before data",
                            offset: chunk_at + 4,
                            size: skipped,
                            limit: MAX_SKIPPED_BYTES,
                        });
                    }
                    let n = io::copy(&mut (&mut inner).take(padded), &mut io::sink())?;
                    offset += n;
                    if n < padded {
                        return Err(Error::Truncated {
                            field: "skipped chunk",
                            offset,
                        });
                    }
                    debug!(chunk = ?String::from_utf8_lossy(&id), size, "skipped wav chunk");
                }
            }
        }
    }

    /// The format of the file.
    pub fn spec(&self) -> WavSpec {
        self.spec
    }

    /// Frames the `data` chunk declares, or `None` for a streamed file (size 0 or `0xFFFF_FFFF`).
    /// A lying header can declare more than the file holds; see [`Self::truncation`].
    pub fn declared_frames(&self) -> Option<u64> {
        self.declared.map(|d| d / self.block_align as u64)
    }

    /// Set once the file has ended before the declared `data` size.
    pub fn truncation(&self) -> Option<Truncation> {
        self.truncation
    }

    /// Reads whole frames of interleaved samples into `out` and returns the number of samples
    /// written (a multiple of the channel count); 0 means the end of the data.
    ///
    /// `out` must hold at least one frame; a shorter slice reads nothing.
    pub fn read_samples(&mut self, out: &mut [i16]) -> Result<usize, Error> {
        let channels = usize::from(self.spec.channels);
        let bps = usize::from(self.spec.format.bytes_per_sample());
        let max_frames = (out.len() / channels).min(READ_BUF_LEN / self.block_align);
        if max_frames == 0 {
            return Ok(0);
        }
        let mut want = max_frames * self.block_align;
        if let Some(rem) = self.remaining {
            want = want.min(
                usize::try_from(rem)
                    .unwrap_or(usize::MAX)
                    .saturating_add(self.have),
            );
        }
        while self.have < want && !self.eof {
            let limit = want - self.have;
            let n = match self.inner.read(&mut self.buf[self.have..self.have + limit]) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            };
            if n == 0 {
                self.eof = true;
                break;
            }
            self.have += n;
            self.read_bytes += n as u64;
            if let Some(rem) = self.remaining.as_mut() {
                *rem -= n as u64;
            }
        }
        if self.eof {
            self.note_eof();
        }
        let frames = self.have / self.block_align;
        let used = frames * self.block_align;
        for (o, s) in out.iter_mut().zip(self.buf[..used].chunks_exact(bps)) {
            *o = decode_sample(self.spec.format, s);
        }
        self.buf.copy_within(used..self.have, 0);
        self.have -= used;
        if frames == 0 && self.have > 0 && (self.eof || self.remaining == Some(0)) {
            debug!(
                bytes = self.have,
                "dropping partial frame at end of wav data"
            );
            self.have = 0;
        }
        Ok(frames * channels)
    }

    /// Like [`Self::read_samples`] but averages the channels of each frame; returns frames read.
    pub fn read_mono(&mut self, out: &mut [i16]) -> Result<usize, Error> {
        let channels = usize::from(self.spec.channels);
        if channels == 1 {
            return self.read_samples(out);
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.resize((out.len() * channels).min(READ_BUF_LEN), 0);
        let n = self.read_samples(&mut scratch);
        let frames = match n {
            Ok(n) => downmix_to_mono(&scratch[..n], self.spec.channels, out),
            Err(_) => 0,
        };
        self.scratch = scratch;
        n.map(|_| frames)
    }

    /// Returns the underlying reader, positioned somewhere inside the `data` chunk.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn note_eof(&mut self) {
        if let (Some(declared), None) = (self.declared, self.truncation)
            && self.read_bytes < declared
        {
            warn!(
                declared,
                read = self.read_bytes,
                "wav data shorter than its header says"
            );
            self.truncation = Some(Truncation {
                declared_bytes: declared,
                read_bytes: self.read_bytes,
            });
        }
    }
}

/// Averages interleaved frames into `out`; returns the frames written
/// (`min(interleaved.len() / channels, out.len())`). `channels == 0` writes nothing.
pub fn downmix_to_mono(interleaved: &[i16], channels: u16, out: &mut [i16]) -> usize {
    let ch = usize::from(channels);
    if ch == 0 {
        return 0;
    }
    let mut n = 0;
    for (o, frame) in out.iter_mut().zip(interleaved.chunks_exact(ch)) {
        let sum: i32 = frame.iter().map(|&s| i32::from(s)).sum();
        // The mean of i16 values always fits in i16.
        *o = (sum / ch as i32) as i16;
        n += 1;
    }
    n
}

fn malformed(field: &'static str, offset: u64, reason: &'static str) -> Error {
    Error::Malformed {
        field,
        offset,
        reason,
    }
}

fn read_header<R: Read>(
    r: &mut R,
    buf: &mut [u8],
    field: &'static str,
    offset: &mut u64,
) -> Result<(), Error> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(Error::Truncated {
                    field,
                    offset: *offset + got as u64,
                });
            }
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    *offset += got as u64;
    Ok(())
}

fn skip_pad<R: Read>(r: &mut R, size: u32, offset: &mut u64) -> Result<(), Error> {
    if size & 1 == 1 {
        let mut pad = [0u8; 1];
        read_header(r, &mut pad, "chunk pad byte", offset)?;
    }
    Ok(())
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Parses a `fmt ` chunk body found at `base`; returns the spec and block alignment.
fn parse_fmt(b: &[u8], base: u64) -> Result<(WavSpec, usize), Error> {
    if b.len() < 16 {
        return Err(malformed("fmt chunk", base, "shorter than 16 bytes"));
    }
    let mut tag = le16(b, 0);
    let channels = le16(b, 2);
    let sample_rate = le32(b, 4);
    let block_align = le16(b, 12);
    let bits = le16(b, 14);
    if tag == FORMAT_EXTENSIBLE {
        if b.len() < 40 || le16(b, 16) < 22 {
            return Err(malformed(
                "fmt extension",
                base + 16,
                "extensible format shorter than 22 bytes",
            ));
        }
        if b[26..40] != SUBTYPE_TAIL {
            return Err(malformed("fmt sub_format", base + 24, "unknown GUID"));
        }
        tag = le16(b, 24);
    }
    if channels == 0 {
        return Err(malformed("fmt channels", base + 2, "zero"));
    }
    if channels > MAX_CHANNELS {
        return Err(Error::Unsupported {
            field: "fmt channels",
            offset: base + 2,
            value: channels.into(),
        });
    }
    if sample_rate == 0 {
        return Err(malformed("fmt sample_rate", base + 4, "zero"));
    }
    if sample_rate > MAX_SAMPLE_RATE {
        return Err(Error::Unsupported {
            field: "fmt sample_rate",
            offset: base + 4,
            value: sample_rate,
        });
    }
    let container = block_align / channels;
    let unsupported_bits = Error::Unsupported {
        field: "fmt bits_per_sample",
        offset: base + 14,
        value: bits.into(),
    };
    let format = match tag {
        FORMAT_PCM => match (bits, container) {
            (1..=8, 1) => SampleFormat::U8,
            (9..=16, 2) => SampleFormat::I16,
            (17..=24, 3) => SampleFormat::I24,
            (25..=32, 4) => SampleFormat::I32,
            _ => return Err(unsupported_bits),
        },
        FORMAT_FLOAT if bits == 32 => SampleFormat::F32,
        FORMAT_FLOAT => return Err(unsupported_bits),
        FORMAT_MULAW if bits == 8 => SampleFormat::MuLaw,
        FORMAT_ALAW if bits == 8 => SampleFormat::ALaw,
        FORMAT_MULAW | FORMAT_ALAW => return Err(unsupported_bits),
        other => {
            return Err(Error::Unsupported {
                field: "fmt format_tag",
                offset: base,
                value: other.into(),
            });
        }
    };
    if block_align != channels * format.bytes_per_sample() {
        return Err(malformed(
            "fmt block_align",
            base + 12,
            "does not match channels and sample size",
        ));
    }
    let spec = WavSpec {
        sample_rate,
        channels,
        format,
    };
    Ok((spec, usize::from(block_align)))
}

fn decode_sample(format: SampleFormat, s: &[u8]) -> i16 {
    match format {
        SampleFormat::U8 => (i16::from(s[0]) - 128) << 8,
        SampleFormat::I16 => i16::from_le_bytes([s[0], s[1]]),
        SampleFormat::I24 => i16::from_le_bytes([s[1], s[2]]),
        SampleFormat::I32 => i16::from_le_bytes([s[2], s[3]]),
        SampleFormat::F32 => {
            let f = f32::from_le_bytes([s[0], s[1], s[2], s[3]]);
            if f.is_nan() {
                0
            } else {
                // `as` saturates, and the clamp keeps +1.0 from wrapping.
                (f * 32768.0).round().clamp(-32768.0, 32767.0) as i16
            }
        }
        SampleFormat::MuLaw => crate::g711::ulaw_decode_sample(s[0]),
        SampleFormat::ALaw => crate::g711::alaw_decode_sample(s[0]),
    }
}

/// Streaming 16-bit PCM WAV writer.
///
/// With a frame count given up front the header is final from the start, so any `Write` (a pipe,
/// a socket) works and [`Self::finish`] checks the count. Without one, the header carries the
/// streamed sizes `0xFFFF_FFFF` (which our reader and most players accept) and
/// [`Self::finish_seekable`] patches the true sizes when the output can seek.
#[derive(Debug)]
pub struct WavWriter<W: Write> {
    inner: W,
    channels: u16,
    declared_frames: Option<u64>,
    written_frames: u64,
}

impl<W: Write> WavWriter<W> {
    /// Writes the header for 16-bit PCM at `sample_rate` with `channels` (1 or 2).
    pub fn new(
        mut inner: W,
        sample_rate: u32,
        channels: u16,
        frames: Option<u64>,
    ) -> Result<Self, Error> {
        if !(1..=2).contains(&channels) {
            return Err(Error::InvalidSpec("channels must be 1 or 2"));
        }
        if sample_rate == 0 || sample_rate > MAX_SAMPLE_RATE {
            return Err(Error::InvalidSpec("sample rate out of range"));
        }
        let data_len = match frames {
            Some(f) => {
                let bytes = f
                    .checked_mul(u64::from(channels) * 2)
                    .filter(|&b| b <= u64::from(u32::MAX) - 36 && b < u64::from(u32::MAX) - 1)
                    .ok_or(Error::InvalidSpec("more frames than a RIFF file can hold"))?;
                bytes as u32
            }
            None => u32::MAX,
        };
        inner.write_all(&header(sample_rate, channels, data_len))?;
        Ok(Self {
            inner,
            channels,
            declared_frames: frames,
            written_frames: 0,
        })
    }

    /// Appends interleaved samples (a whole number of frames).
    pub fn write_samples(&mut self, samples: &[i16]) -> Result<(), Error> {
        let ch = usize::from(self.channels);
        if !samples.len().is_multiple_of(ch) {
            return Err(Error::PartialFrame {
                len: samples.len(),
                channels: self.channels,
            });
        }
        let frames = (samples.len() / ch) as u64;
        let total = self.written_frames + frames;
        let limit = self
            .declared_frames
            .unwrap_or((u64::from(u32::MAX) - 37) / (2 * ch as u64));
        if total > limit {
            return Err(Error::LengthMismatch {
                declared: limit,
                written: total,
            });
        }
        let mut bytes = [0u8; 4096];
        for chunk in samples.chunks(bytes.len() / 2) {
            for (b, s) in bytes.chunks_exact_mut(2).zip(chunk) {
                b.copy_from_slice(&s.to_le_bytes());
            }
            self.inner.write_all(&bytes[..chunk.len() * 2])?;
        }
        self.written_frames = total;
        Ok(())
    }

    /// Frames written so far.
    pub fn frames_written(&self) -> u64 {
        self.written_frames
    }

    /// Flushes and returns the output. Fails if a declared frame count was not met.
    pub fn finish(mut self) -> Result<W, Error> {
        if let Some(declared) = self.declared_frames
            && declared != self.written_frames
        {
            return Err(Error::LengthMismatch {
                declared,
                written: self.written_frames,
            });
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write + Seek> WavWriter<W> {
    /// Patches the RIFF and `data` sizes to what was written, flushes, and returns the output
    /// positioned at its end. The header must start at stream position 0.
    pub fn finish_seekable(mut self) -> Result<W, Error> {
        let data = self.written_frames * u64::from(self.channels) * 2;
        // write_samples keeps `data` within u32 - 37.
        let data = u32::try_from(data).map_err(|_| Error::InvalidSpec("file too large"))?;
        self.inner.seek(SeekFrom::Start(4))?;
        self.inner.write_all(&(data + 36).to_le_bytes())?;
        self.inner.seek(SeekFrom::Start(40))?;
        self.inner.write_all(&data.to_le_bytes())?;
        self.inner.seek(SeekFrom::End(0))?;
        self.declared_frames = None;
        self.finish()
    }
}

fn header(sample_rate: u32, channels: u16, data_len: u32) -> [u8; WRITER_HEADER_LEN] {
    let mut h = [0u8; WRITER_HEADER_LEN];
    let block_align = channels * 2;
    h[0..4].copy_from_slice(b"RIFF");
    h[4..8].copy_from_slice(&data_len.saturating_add(36).to_le_bytes());
    h[8..12].copy_from_slice(b"WAVE");
    h[12..16].copy_from_slice(b"fmt ");
    h[16..20].copy_from_slice(&16u32.to_le_bytes());
    h[20..22].copy_from_slice(&FORMAT_PCM.to_le_bytes());
    h[22..24].copy_from_slice(&channels.to_le_bytes());
    h[24..28].copy_from_slice(&sample_rate.to_le_bytes());
    h[28..32].copy_from_slice(&(sample_rate * u32::from(block_align)).to_le_bytes());
    h[32..34].copy_from_slice(&block_align.to_le_bytes());
    h[34..36].copy_from_slice(&16u16.to_le_bytes());
    h[36..40].copy_from_slice(b"data");
    h[40..44].copy_from_slice(&data_len.to_le_bytes());
    h
}

#[cfg(test)]
mod tests;
