//! xz (LZMA2) compression with a hard cap on decompressed size.
//!
//! The container is the `.xz` file format (tukaani.org "The .xz File Format" 1.1.0) holding one
//! LZMA2 stream with a CRC64 check, so `xz -d` reads what we write and we read what `xz` writes.
//!
//! # Why `liblzma` and not `lzma-rs`
//! The issue suggested the pure-Rust `lzma-rs`. Its encoder (0.3.0) only emits literals: measured
//! on the G.711 µ-law encoding of `fixtures/speech-8k.wav` (91,115 bytes) `lzma_rs::xz_compress`
//! produced 91,172 bytes, a ratio of 1.001, so it does not compress at all. `liblzma` (bindings to
//! the reference xz-utils library) gives real LZMA2 with presets 0–9: 53,388 bytes (0.586) at
//! preset 9 on the same input. We therefore use `liblzma`, driving its raw [`liblzma::stream`]
//! API ourselves so that every failure maps onto the typed [`Error`](enum@Error) below.
//!
//! # Bombs
//! Decompression is bounded twice, both limits held in [`DecodeLimits`]:
//! - `max_output`: decoded bytes beyond it fail with [`Error::TooLarge`] as soon as the first
//!   excess byte is produced. The decoder is never handed more output space than
//!   `max_output + 1 - produced`, so nothing past the cap is ever allocated or written.
//! - `memlimit`: the decoder's own memory (mostly the LZMA2 dictionary, which the stream header
//!   declares) is bounded by liblzma; a stream asking for more fails with [`Error::MemLimit`].
use std::io::{self, Read, Write};

use liblzma::stream::{Action, Check, Status, Stream};
use thiserror::Error;
use tracing::debug;

/// Preset used when none is given: the xz default, a good ratio/speed balance for speech.
pub const DEFAULT_PRESET: u32 = 6;
/// Default cap on decompressed output: 256 MiB, far above a 10-minute 16 kHz PCM message
/// (19.2 MB).
pub const DEFAULT_MAX_OUTPUT: u64 = 256 * 1024 * 1024;
/// Default decoder memory limit: 96 MiB, enough for preset 9 (64 MiB dictionary, ~65 MiB in
/// total) but not for a hostile stream declaring a 1.5 GiB dictionary.
pub const DEFAULT_MEMLIMIT: u64 = 96 * 1024 * 1024;
/// Size of the internal input and scratch buffers.
const BUF_LEN: usize = 32 * 1024;

/// Errors from compression and decompression.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    // Malformed input.
    /// The input does not start with an xz stream header.
    #[error("not an xz stream: bad stream header at offset 0")]
    Format,
    /// The compressed data is corrupt (bad LZMA2 data, index, footer or check).
    #[error("corrupt xz data near compressed offset {offset}")]
    Corrupt {
        /// Compressed bytes consumed when the decoder gave up.
        offset: u64,
    },
    /// The input ended before the stream footer.
    #[error("xz stream truncated after {offset} compressed bytes")]
    Truncated {
        /// Compressed bytes consumed before the input ended.
        offset: u64,
    },
    /// Bytes follow the end of the xz stream.
    #[error("trailing data after the xz stream at compressed offset {offset}")]
    TrailingData {
        /// Offset of the first byte after the stream footer.
        offset: u64,
    },
    /// The stream uses filters or options this build does not support.
    #[error("unsupported xz options near compressed offset {offset}")]
    Unsupported {
        /// Compressed bytes consumed when the decoder gave up.
        offset: u64,
    },

    // Limits (input is valid but too big for the caller's limits).
    /// The decompressed output would exceed `limit` bytes.
    #[error("decompressed output exceeds the cap of {limit} bytes")]
    TooLarge {
        /// The configured cap.
        limit: u64,
    },
    /// The decoder would need more memory than `limit` bytes (dictionary size in the header).
    #[error("xz decoder needs more than the memory limit of {limit} bytes")]
    MemLimit {
        /// The configured memory limit.
        limit: u64,
    },

    // API misuse.
    /// The preset level is outside 0..=9.
    #[error("invalid xz preset {0}: must be 0..=9")]
    Preset(u32),
    /// liblzma reported an internal or allocation failure.
    #[error("liblzma failure: {0}")]
    Library(String),

    // I/O of the wrapped reader or writer.
    /// The underlying reader or writer failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// Recovers a typed error from an `io::Error` returned by [`XzReader`]'s or [`XzWriter`]'s
    /// `Read`/`Write` impls; other I/O errors become [`Error::Io`].
    pub fn from_io(e: io::Error) -> Self {
        if !e.get_ref().is_some_and(|inner| inner.is::<Self>()) {
            return Self::Io(e);
        }
        match e.into_inner().map(|inner| inner.downcast::<Self>()) {
            Some(Ok(typed)) => *typed,
            _ => Self::Library("lost error".into()),
        }
    }

    fn into_io(self) -> io::Error {
        match self {
            Self::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// An xz compression preset, 0 (fastest) to 9 (smallest), optionally "extreme" (`xz -e`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Preset {
    level: u32,
    extreme: bool,
}

impl Preset {
    /// A preset `level` in 0..=9.
    pub fn new(level: u32) -> Result<Self, Error> {
        if level > 9 {
            return Err(Error::Preset(level));
        }
        Ok(Self {
            level,
            extreme: false,
        })
    }

    /// The same level with the extreme flag (slower, sometimes slightly smaller).
    pub fn extreme(self) -> Self {
        Self {
            extreme: true,
            ..self
        }
    }

    /// The level, 0..=9.
    pub fn level(self) -> u32 {
        self.level
    }

    fn raw(self) -> u32 {
        self.level
            | if self.extreme {
                liblzma::stream::PRESET_EXTREME
            } else {
                0
            }
    }
}

impl Default for Preset {
    fn default() -> Self {
        Self {
            level: DEFAULT_PRESET,
            extreme: false,
        }
    }
}

/// Limits applied while decompressing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Maximum decompressed bytes; one more fails with [`Error::TooLarge`].
    pub max_output: u64,
    /// Maximum decoder memory in bytes; exceeding it fails with [`Error::MemLimit`].
    pub memlimit: u64,
}

impl DecodeLimits {
    /// Default limits with `max_output` replaced.
    pub fn with_max_output(max_output: u64) -> Self {
        Self {
            max_output,
            ..Self::default()
        }
    }
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_output: DEFAULT_MAX_OUTPUT,
            memlimit: DEFAULT_MEMLIMIT,
        }
    }
}

fn map_lzma(e: liblzma::stream::Error, offset: u64, limits: &DecodeLimits) -> Error {
    use liblzma::stream::Error as E;
    match e {
        E::Format => Error::Format,
        E::Data => Error::Corrupt { offset },
        E::Options | E::UnsupportedCheck => Error::Unsupported { offset },
        E::MemLimit => Error::MemLimit {
            limit: limits.memlimit,
        },
        other => Error::Library(format!("{other:?}")),
    }
}

/// Streaming compressor: bytes written are compressed into the inner writer.
///
/// Call [`XzWriter::finish`] to write the stream footer; dropping the writer without it leaves a
/// truncated stream (which the reader rejects).
pub struct XzWriter<W: Write> {
    inner: W,
    stream: Stream,
    buf: Vec<u8>,
}

impl<W: Write> XzWriter<W> {
    /// A compressor at `preset` writing into `inner`.
    pub fn new(inner: W, preset: Preset) -> Result<Self, Error> {
        let stream = Stream::new_easy_encoder(preset.raw(), Check::Crc64)
            .map_err(|e| Error::Library(format!("{e:?}")))?;
        Ok(Self {
            inner,
            stream,
            buf: Vec::with_capacity(BUF_LEN),
        })
    }

    /// Uncompressed bytes accepted so far.
    pub fn total_in(&self) -> u64 {
        self.stream.total_in()
    }

    /// Compressed bytes produced so far.
    pub fn total_out(&self) -> u64 {
        self.stream.total_out()
    }

    fn drain(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.inner.write_all(&self.buf)?;
            self.buf.clear();
        }
        Ok(())
    }

    /// Finishes the stream, flushes and returns the inner writer.
    pub fn finish(mut self) -> Result<W, Error> {
        loop {
            self.drain()?;
            let status = self
                .stream
                .process_vec(&[], &mut self.buf, Action::Finish)
                .map_err(|e| Error::Library(format!("{e:?}")))?;
            if matches!(status, Status::StreamEnd) {
                self.drain()?;
                break;
            }
        }
        self.inner.flush()?;
        Ok(self.inner)
    }
}

impl<W: Write> Write for XzWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        loop {
            self.drain()?;
            let before = self.stream.total_in();
            self.stream
                .process_vec(data, &mut self.buf, Action::Run)
                .map_err(|e| Error::Library(format!("{e:?}")).into_io())?;
            let used = (self.stream.total_in() - before) as usize;
            if used > 0 {
                return Ok(used);
            }
        }
    }

    /// Writes out what has been compressed so far. This does not force the encoder to emit
    /// buffered input (that would cost ratio); [`XzWriter::finish`] does.
    fn flush(&mut self) -> io::Result<()> {
        self.drain()?;
        self.inner.flush()
    }
}

/// The decoding state shared by [`XzReader`] and [`decompress`]: a liblzma stream decoder plus the
/// output cap.
struct Decoder {
    stream: Stream,
    limits: DecodeLimits,
    ended: bool,
}

impl Decoder {
    fn new(limits: DecodeLimits) -> Result<Self, Error> {
        // No CONCATENATED flag: exactly one stream, anything after it is trailing data.
        let stream = Stream::new_stream_decoder(limits.memlimit.max(1), 0)
            .map_err(|e| Error::Library(format!("{e:?}")))?;
        Ok(Self {
            stream,
            limits,
            ended: false,
        })
    }

    /// Decodes from `input` into `out`; returns (input consumed, output produced).
    fn step(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        at_eof: bool,
    ) -> Result<(usize, usize), Error> {
        let produced = self.stream.total_out();
        // Never offer more than one byte past the cap.
        let room = self
            .limits
            .max_output
            .saturating_add(1)
            .saturating_sub(produced);
        let len = out.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let (in0, out0) = (self.stream.total_in(), produced);
        let action = if at_eof { Action::Finish } else { Action::Run };
        let status = self
            .stream
            .process(input, &mut out[..len], action)
            .map_err(|e| map_lzma(e, self.stream.total_in(), &self.limits))?;
        let used = (self.stream.total_in() - in0) as usize;
        let made = (self.stream.total_out() - out0) as usize;
        if self.stream.total_out() > self.limits.max_output {
            debug!(limit = self.limits.max_output, "xz output cap exceeded");
            return Err(Error::TooLarge {
                limit: self.limits.max_output,
            });
        }
        match status {
            Status::StreamEnd => self.ended = true,
            Status::MemNeeded if at_eof && made == 0 && used == 0 && len > 0 => {
                return Err(Error::Truncated {
                    offset: self.stream.total_in(),
                });
            }
            _ => {}
        }
        Ok((used, made))
    }
}

/// Streaming decompressor with an output cap: reads an xz stream from `inner` and yields the
/// decompressed bytes.
///
/// Errors surface from `read` as `io::Error`s of kind `InvalidData` wrapping an [`Error`](enum@Error);
/// [`Error::from_io`] recovers it.
pub struct XzReader<R: Read> {
    inner: R,
    decoder: Decoder,
    buf: Box<[u8]>,
    pos: usize,
    len: usize,
    eof: bool,
    checked_tail: bool,
}

impl<R: Read> XzReader<R> {
    /// A decompressor reading from `inner` under `limits`.
    pub fn new(inner: R, limits: DecodeLimits) -> Result<Self, Error> {
        Ok(Self {
            inner,
            decoder: Decoder::new(limits)?,
            buf: vec![0; BUF_LEN].into_boxed_slice(),
            pos: 0,
            len: 0,
            eof: false,
            checked_tail: false,
        })
    }

    /// Decompressed bytes produced so far.
    pub fn total_out(&self) -> u64 {
        self.decoder.stream.total_out()
    }

    /// Compressed bytes consumed so far.
    pub fn total_in(&self) -> u64 {
        self.decoder.stream.total_in()
    }

    /// Returns the inner reader.
    pub fn into_inner(self) -> R {
        self.inner
    }

    fn fill(&mut self) -> Result<(), Error> {
        if self.pos == self.len && !self.eof {
            self.pos = 0;
            self.len = loop {
                match self.inner.read(&mut self.buf) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(Error::Io(e)),
                }
            };
            self.eof = self.len == 0;
        }
        Ok(())
    }

    fn read_typed(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            if self.decoder.ended {
                if !self.checked_tail {
                    // The stream is complete; nothing may follow it.
                    self.fill()?;
                    if self.pos < self.len {
                        return Err(Error::TrailingData {
                            offset: self.total_in(),
                        });
                    }
                    self.checked_tail = true;
                }
                return Ok(0);
            }
            self.fill()?;
            let (used, made) = self
                .decoder
                .step(&self.buf[self.pos..self.len], out, self.eof)?;
            self.pos += used;
            if made > 0 {
                return Ok(made);
            }
            if self.eof && used == 0 && !self.decoder.ended {
                return Err(Error::Truncated {
                    offset: self.total_in(),
                });
            }
        }
    }
}

impl<R: Read> Read for XzReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.read_typed(out).map_err(Error::into_io)
    }
}

/// Compresses `data` into a complete xz stream.
pub fn compress(data: &[u8], preset: Preset) -> Result<Vec<u8>, Error> {
    let mut w = XzWriter::new(Vec::with_capacity(data.len() / 2 + 64), preset)?;
    w.write_all(data).map_err(Error::from_io)?;
    w.finish()
}

/// Decompresses one complete xz stream under `limits`.
///
/// The output grows only as bytes are produced, so a bomb fails with [`Error::TooLarge`] having
/// allocated at most `limits.max_output` bytes.
pub fn decompress(data: &[u8], limits: DecodeLimits) -> Result<Vec<u8>, Error> {
    let mut dec = Decoder::new(limits)?;
    let mut out = Vec::new();
    let mut scratch = vec![0u8; BUF_LEN];
    let mut pos = 0;
    while !dec.ended {
        let (used, made) = dec.step(&data[pos..], &mut scratch, true)?;
        pos += used;
        out.extend_from_slice(&scratch[..made]);
        if used == 0 && made == 0 && !dec.ended {
            return Err(Error::Truncated { offset: pos as u64 });
        }
    }
    if pos < data.len() {
        return Err(Error::TrailingData { offset: pos as u64 });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speechy(n: usize) -> Vec<u8> {
        // Deterministic, compressible but not trivial.
        (0..n)
            .map(|i| ((i * 7 + (i / 13) * 3) % 251) as u8 ^ ((i / 1000) as u8))
            .collect()
    }

    #[test]
    fn round_trip_sizes() {
        for n in [0, 1, 100, BUF_LEN, BUF_LEN + 1, 300_000] {
            let data = speechy(n);
            let z = compress(&data, Preset::new(1).unwrap()).unwrap();
            assert_eq!(
                decompress(&z, DecodeLimits::default()).unwrap(),
                data,
                "n={n}"
            );
            let mut r = XzReader::new(&z[..], DecodeLimits::default()).unwrap();
            let mut back = Vec::new();
            r.read_to_end(&mut back).unwrap();
            assert_eq!(back, data);
        }
    }

    #[test]
    fn compresses_repetitive_input() {
        let data = speechy(200_000);
        let z = compress(&data, Preset::default()).unwrap();
        assert!(z.len() * 5 < data.len(), "{} -> {}", data.len(), z.len());
    }

    #[test]
    fn xz_tool_compatible_magic() {
        let z = compress(b"hello", Preset::default()).unwrap();
        assert_eq!(&z[..6], &[0xFD, b'7', b'z', b'X', b'Z', 0x00]);
    }

    #[test]
    fn cap_exact_and_one_over() {
        let data = speechy(10_000);
        let z = compress(&data, Preset::new(0).unwrap()).unwrap();
        assert_eq!(
            decompress(&z, DecodeLimits::with_max_output(10_000)).unwrap(),
            data
        );
        assert!(matches!(
            decompress(&z, DecodeLimits::with_max_output(9_999)),
            Err(Error::TooLarge { limit: 9_999 })
        ));
        let mut r = XzReader::new(&z[..], DecodeLimits::with_max_output(9_999)).unwrap();
        let err = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(matches!(
            Error::from_io(err),
            Error::TooLarge { limit: 9_999 }
        ));
    }

    #[test]
    fn truncated_corrupt_trailing_and_garbage() {
        let data = speechy(50_000);
        let z = compress(&data, Preset::new(3).unwrap()).unwrap();
        for cut in [0, 5, 12, z.len() / 2, z.len() - 1] {
            let e = decompress(&z[..cut], DecodeLimits::default()).unwrap_err();
            assert!(matches!(e, Error::Truncated { .. }), "cut {cut}: {e:?}");
            let mut r = XzReader::new(&z[..cut], DecodeLimits::default()).unwrap();
            let e = Error::from_io(r.read_to_end(&mut Vec::new()).unwrap_err());
            assert!(
                matches!(e, Error::Truncated { .. }),
                "reader cut {cut}: {e:?}"
            );
        }
        let mut bad = z.clone();
        bad[z.len() / 2] ^= 0x40;
        let e = decompress(&bad, DecodeLimits::default()).unwrap_err();
        assert!(matches!(e, Error::Corrupt { .. }), "{e:?}");
        let mut long = z.clone();
        long.push(0);
        let e = decompress(&long, DecodeLimits::default()).unwrap_err();
        assert!(matches!(e, Error::TrailingData { offset } if offset == z.len() as u64));
        let mut r = XzReader::new(&long[..], DecodeLimits::default()).unwrap();
        let e = Error::from_io(r.read_to_end(&mut Vec::new()).unwrap_err());
        assert!(matches!(e, Error::TrailingData { .. }), "{e:?}");
        assert!(matches!(
            decompress(b"this is not xz at all", DecodeLimits::default()),
            Err(Error::Format)
        ));
    }

    #[test]
    fn memlimit_rejects_large_dictionary() {
        let z = compress(b"abc", Preset::new(9).unwrap()).unwrap();
        let limits = DecodeLimits {
            memlimit: 1024 * 1024,
            ..DecodeLimits::default()
        };
        assert!(matches!(
            decompress(&z, limits),
            Err(Error::MemLimit { limit }) if limit == 1024 * 1024
        ));
    }

    #[test]
    fn bad_preset() {
        assert!(matches!(Preset::new(10), Err(Error::Preset(10))));
    }
}
