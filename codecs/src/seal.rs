//! AES-256-GCM sealed envelopes for stored audio and attachments, streamable chunk by chunk.
//!
//! AES-GCM is NIST SP 800-38D used as an AEAD in the sense of RFC 5116 (`AEAD_AES_256_GCM`, §5.2:
//! 32-byte key, 12-byte nonce, 16-byte tag). A long message is split into chunks that are sealed
//! one by one with the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár, "Online
//! Authenticated-Encryption and its Nonce-Reuse Misuse-Resistance", CRYPTO 2015, as used by age and
//! Tink): each chunk's nonce encodes its index and whether it is the last one, so reordering,
//! dropping, truncating or extending the chunk sequence makes a tag fail.
//!
//! # Format, version 1 (all integers big-endian)
//! ```text
//! offset  len  field
//!      0    4  magic "OHSL"
//!      4    1  version = 1
//!      5    1  flags: bit 0 = payload xz-compressed before encryption; other bits must be 0
//!      6    4  chunk size C (plaintext bytes per chunk), MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE
//!     10   12  nonce base N, random per envelope (OS RNG)
//!     22   16  key check: GCM tag of the empty message, nonce N ^ 0x02 in byte 11, AAD = bytes 0..22
//!     38    …  chunks: ciphertext ‖ 16-byte tag; every chunk but the last holds exactly C bytes of
//!              plaintext, the last 0..=C (0 only when the whole plaintext is empty)
//! ```
//! Chunk `i` (a `u32`) is sealed with nonce `N ^ (0⁷ ‖ be32(i) ‖ last)`, where `last` is 1 for the
//! final chunk and 0 otherwise, and associated data `header[0..22] ‖ id`, where `id` is the
//! caller's associated data (the message UUID). The key check lets the reader tell a wrong key
//! (or a modified header) from a modified body; it adds no secrecy and the chunk tags alone carry
//! the integrity guarantee.
//!
//! Nonces are random per envelope, so under one key the usual random-nonce bound applies (NIST SP
//! 800-38D §8.3): keep the total number of chunks sealed under a key well below 2³² (at 64 KiB per
//! chunk that is 256 TiB).
//!
//! # Compress, then encrypt
//! With [`Compression::Xz`] the plaintext goes through [`crate::xz`] before sealing, and the opener
//! decompresses under the caller's `max_len` cap. The flag is authenticated with the header.
//!
//! # Release of plaintext
//! [`OpenReader`] holds each chunk until its tag has verified; no byte of an unverified chunk is
//! ever returned, and end of stream is reported only after the chunk marked last has verified.
use std::io::{self, Read, Write};

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes256Gcm, KeyInit, Nonce, Tag};
use rand::rngs::OsRng;
use rand::{CryptoRng, RngCore};
use thiserror::Error;
use tracing::debug;
use zeroize::Zeroize;

use crate::xz;

/// Envelope magic.
pub const MAGIC: [u8; 4] = *b"OHSL";
/// The format version this module writes and reads.
pub const VERSION: u8 = 1;
/// Length of the fixed header (magic to nonce base).
pub const HEADER_LEN: usize = 22;
/// Length of a GCM tag.
pub const TAG_LEN: usize = 16;
/// Bytes before the first chunk: header plus key check.
pub const PREAMBLE_LEN: usize = HEADER_LEN + TAG_LEN;
/// Default plaintext bytes per chunk.
pub const DEFAULT_CHUNK_SIZE: u32 = 64 * 1024;
/// Smallest chunk size accepted.
pub const MIN_CHUNK_SIZE: u32 = 64;
/// Largest chunk size accepted; bounds the reader's buffer before it allocates.
pub const MAX_CHUNK_SIZE: u32 = 1024 * 1024;
/// Flag bit: the payload was xz-compressed before encryption.
const FLAG_XZ: u8 = 0x01;

mod field {
    use std::ops::Range;
    pub(super) const MAGIC: Range<usize> = 0..4;
    pub(super) const VERSION: usize = 4;
    pub(super) const FLAGS: usize = 5;
    pub(super) const CHUNK_SIZE: Range<usize> = 6..10;
    pub(super) const NONCE_BASE: Range<usize> = 10..22;
}

/// Errors from sealing and opening envelopes.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum Error {
    // Malformed input.
    /// The envelope does not start with `OHSL`.
    #[error("bad magic at offset 0: not a sealed envelope")]
    BadMagic,
    /// The version byte (offset 4) is not one this build reads.
    #[error("unsupported envelope version {version} at offset 4")]
    UnsupportedVersion {
        /// The version found.
        version: u8,
    },
    /// Unknown flag bits are set (offset 5).
    #[error("unknown flags {flags:#04x} at offset 5")]
    UnknownFlags {
        /// The flags byte.
        flags: u8,
    },
    /// The chunk size (offset 6) is outside `MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE`.
    #[error("chunk size {size} at offset 6 outside {MIN_CHUNK_SIZE}..={MAX_CHUNK_SIZE}")]
    ChunkSize {
        /// The declared size.
        size: u32,
    },
    /// The envelope ends before the header or before the chunk marked last.
    #[error("envelope truncated in {field} (chunk {chunk}, offset {offset})")]
    Truncated {
        /// What was being read: `"header"`, `"chunk"`.
        field: &'static str,
        /// Index of the chunk being read (0 for the header).
        chunk: u64,
        /// Envelope offset where the input ended.
        offset: u64,
    },
    /// Data follows the chunk marked last.
    #[error("trailing data after the last chunk at offset {offset}")]
    TrailingData {
        /// Offset of the first extra byte's chunk.
        offset: u64,
    },

    // Authentication (wrong key or id, or modified data: the cases cannot be told apart further).
    /// The key check failed: the key is wrong, or the header was modified.
    #[error("wrong key or modified header (key check at offset 22 failed)")]
    WrongKey,
    /// A chunk's tag did not verify: wrong id (associated data), or the chunk was modified,
    /// reordered or moved.
    #[error(
        "authentication failed for chunk {chunk} at offset {offset}: wrong id or modified data"
    )]
    Authentication {
        /// Index of the failing chunk.
        chunk: u64,
        /// Envelope offset of the chunk.
        offset: u64,
    },

    // Limits.
    /// The opened plaintext would exceed the caller's `max_len`.
    #[error("opened plaintext exceeds the cap of {limit} bytes")]
    TooLarge {
        /// The cap.
        limit: u64,
    },
    /// More chunks than the 32-bit counter allows.
    #[error("too many chunks for one envelope (limit 2^32)")]
    TooManyChunks,
    /// The decompressed payload is malformed (after authentication, so the sealer produced it).
    #[error("compressed payload: {0}")]
    Xz(xz::Error),

    // I/O of the wrapped reader or writer.
    /// The underlying reader or writer failed.
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
}

impl Error {
    /// Recovers a typed error from an `io::Error` returned by [`SealWriter`]'s or
    /// [`OpenReader`]'s `Write`/`Read` impls; other I/O errors become [`Error::Io`].
    pub fn from_io(e: io::Error) -> Self {
        let wrapped = e
            .get_ref()
            .is_some_and(|i| i.is::<Self>() || i.is::<xz::Error>());
        if !wrapped {
            return Self::Io(e);
        }
        let Some(inner) = e.into_inner() else {
            return Self::Io(io::Error::other("lost error"));
        };
        match inner.downcast::<Self>() {
            Ok(typed) => *typed,
            Err(other) => match other.downcast::<xz::Error>() {
                Ok(x) => Self::from_xz(*x),
                Err(_) => Self::Io(io::Error::other("lost error")),
            },
        }
    }

    fn from_xz(e: xz::Error) -> Self {
        match e {
            xz::Error::Io(io) => Self::from_io(io),
            xz::Error::TooLarge { limit } => Self::TooLarge { limit },
            other => Self::Xz(other),
        }
    }

    fn into_io(self) -> io::Error {
        match self {
            Self::Io(e) => e,
            other => io::Error::new(io::ErrorKind::InvalidData, other),
        }
    }
}

/// A 256-bit AES-GCM key. Zeroized on drop; `Debug` never shows it.
#[derive(Clone)]
pub struct Key([u8; 32]);

impl Key {
    /// A key from raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// A fresh key from the OS RNG.
    pub fn generate() -> Self {
        Self::generate_with(&mut OsRng)
    }

    /// A fresh key from `rng` (tests pass a seeded RNG).
    pub fn generate_with<G: RngCore + CryptoRng>(rng: &mut G) -> Self {
        let mut k = [0u8; 32];
        rng.fill_bytes(&mut k);
        Self(k)
    }

    /// The raw key bytes, for storing the key (wrapped) elsewhere.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new((&self.0).into())
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// Whether to compress the payload before encrypting it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// Store the plaintext as is (already-compressed audio such as Opus).
    #[default]
    None,
    /// xz-compress at the given preset first (PCM, G.711, attachments).
    Xz(xz::Preset),
}

/// Options for [`SealWriter::with_options`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealOptions {
    /// Plaintext bytes per chunk, `MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE`.
    pub chunk_size: u32,
    /// Compression applied before sealing.
    pub compression: Compression,
}

impl Default for SealOptions {
    fn default() -> Self {
        Self {
            chunk_size: DEFAULT_CHUNK_SIZE,
            compression: Compression::None,
        }
    }
}

fn chunk_nonce(base: &[u8; 12], index: u32, last: bool) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut n = *base;
    for (b, c) in n[7..11].iter_mut().zip(index.to_be_bytes()) {
        *b ^= c;
    }
    n[11] ^= u8::from(last);
    n.into()
}

fn key_check_nonce(base: &[u8; 12]) -> Nonce<aes_gcm::aead::consts::U12> {
    let mut n = *base;
    n[11] ^= 0x02;
    n.into()
}

/// Seals plaintext written to it into chunks on the inner writer (no compression layer).
struct ChunkSealer<W: Write> {
    inner: W,
    cipher: Aes256Gcm,
    base: [u8; 12],
    /// `header ‖ id`, the associated data of every chunk.
    aad: Vec<u8>,
    chunk_size: usize,
    buf: Vec<u8>,
    index: u64,
}

impl<W: Write> ChunkSealer<W> {
    fn new<G: RngCore + CryptoRng>(
        key: &Key,
        id: &[u8],
        mut inner: W,
        opts: &SealOptions,
        rng: &mut G,
    ) -> Result<Self, Error> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&opts.chunk_size) {
            return Err(Error::ChunkSize {
                size: opts.chunk_size,
            });
        }
        let mut base = [0u8; 12];
        rng.fill_bytes(&mut base);
        let mut header = [0u8; HEADER_LEN];
        header[field::MAGIC].copy_from_slice(&MAGIC);
        header[field::VERSION] = VERSION;
        header[field::FLAGS] = match opts.compression {
            Compression::None => 0,
            Compression::Xz(_) => FLAG_XZ,
        };
        header[field::CHUNK_SIZE].copy_from_slice(&opts.chunk_size.to_be_bytes());
        header[field::NONCE_BASE].copy_from_slice(&base);
        let cipher = key.cipher();
        let check = cipher
            .encrypt_in_place_detached(&key_check_nonce(&base), &header, &mut [])
            .map_err(|_| Error::TooManyChunks)?;
        inner.write_all(&header)?;
        inner.write_all(&check)?;
        let mut aad = Vec::with_capacity(HEADER_LEN + id.len());
        aad.extend_from_slice(&header);
        aad.extend_from_slice(id);
        let chunk_size = opts.chunk_size as usize;
        Ok(Self {
            inner,
            cipher,
            base,
            aad,
            chunk_size,
            buf: Vec::with_capacity(chunk_size + TAG_LEN),
            index: 0,
        })
    }

    fn seal_buffered(&mut self, last: bool) -> Result<(), Error> {
        let index = u32::try_from(self.index).map_err(|_| Error::TooManyChunks)?;
        let tag = self
            .cipher
            .encrypt_in_place_detached(
                &chunk_nonce(&self.base, index, last),
                &self.aad,
                &mut self.buf,
            )
            .map_err(|_| Error::TooManyChunks)?;
        self.buf.extend_from_slice(&tag);
        self.inner.write_all(&self.buf)?;
        self.buf.clear();
        self.index += 1;
        Ok(())
    }

    fn finish(mut self) -> Result<W, Error> {
        self.seal_buffered(true)?;
        self.inner.flush()?;
        debug!(chunks = self.index, "envelope sealed");
        Ok(self.inner)
    }
}

impl<W: Write> Write for ChunkSealer<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if data.is_empty() {
            return Ok(0);
        }
        // A full buffer is sealed only once more data proves it is not the last chunk.
        if self.buf.len() == self.chunk_size {
            self.seal_buffered(false).map_err(Error::into_io)?;
        }
        let n = data.len().min(self.chunk_size - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

enum WriterInner<W: Write> {
    Plain(Box<ChunkSealer<W>>),
    Xz(Box<xz::XzWriter<ChunkSealer<W>>>),
}

/// Streaming sealer: plaintext written to it comes out as an envelope on the inner writer.
///
/// The header is written on construction; [`SealWriter::finish`] must be called to seal the last
/// chunk. An envelope whose writer was dropped unfinished fails to open with
/// [`Error::Truncated`] or [`Error::Authentication`].
pub struct SealWriter<W: Write> {
    inner: WriterInner<W>,
}

impl<W: Write> SealWriter<W> {
    /// A sealer with the default chunk size and a nonce base from the OS RNG.
    pub fn new(key: &Key, id: &[u8], inner: W, compression: Compression) -> Result<Self, Error> {
        let opts = SealOptions {
            compression,
            ..SealOptions::default()
        };
        Self::with_options(key, id, inner, opts, &mut OsRng)
    }

    /// A sealer with explicit options and nonce RNG (tests pass a seeded RNG; production uses
    /// [`SealWriter::new`]).
    pub fn with_options<G: RngCore + CryptoRng>(
        key: &Key,
        id: &[u8],
        inner: W,
        opts: SealOptions,
        rng: &mut G,
    ) -> Result<Self, Error> {
        let sealer = ChunkSealer::new(key, id, inner, &opts, rng)?;
        let inner = match opts.compression {
            Compression::None => WriterInner::Plain(Box::new(sealer)),
            Compression::Xz(preset) => WriterInner::Xz(Box::new(
                xz::XzWriter::new(sealer, preset).map_err(Error::from_xz)?,
            )),
        };
        Ok(Self { inner })
    }

    /// Seals the last chunk, flushes and returns the inner writer.
    pub fn finish(self) -> Result<W, Error> {
        match self.inner {
            WriterInner::Plain(s) => s.finish(),
            WriterInner::Xz(x) => x.finish().map_err(Error::from_xz)?.finish(),
        }
    }
}

impl<W: Write> Write for SealWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        match &mut self.inner {
            WriterInner::Plain(s) => s.write(data),
            WriterInner::Xz(x) => x.write(data),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.inner {
            WriterInner::Plain(s) => s.flush(),
            WriterInner::Xz(x) => x.flush(),
        }
    }
}

/// Reads and verifies chunks, releasing each chunk's plaintext only after its tag verified.
struct ChunkOpener<R: Read> {
    inner: R,
    cipher: Aes256Gcm,
    base: [u8; 12],
    aad: Vec<u8>,
    chunk_size: usize,
    /// Ciphertext of the current chunk, then its plaintext once verified.
    buf: Vec<u8>,
    pos: usize,
    /// One byte read past a full chunk, to learn whether it was the last.
    lookahead: Option<u8>,
    index: u64,
    /// Envelope offset of the next unread byte.
    offset: u64,
    done: bool,
    /// Cap on released plaintext.
    limit: u64,
    released: u64,
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

impl<R: Read> ChunkOpener<R> {
    /// Reads and checks the preamble; returns the opener and whether the payload is xz.
    fn new(key: &Key, id: &[u8], mut inner: R, limit: u64) -> Result<(Self, bool), Error> {
        let mut pre = [0u8; PREAMBLE_LEN];
        let n = read_full(&mut inner, &mut pre)?;
        if n >= 4 && pre[field::MAGIC] != MAGIC {
            return Err(Error::BadMagic);
        }
        if n < PREAMBLE_LEN {
            return Err(Error::Truncated {
                field: "header",
                chunk: 0,
                offset: n as u64,
            });
        }
        let version = pre[field::VERSION];
        if version != VERSION {
            return Err(Error::UnsupportedVersion { version });
        }
        let flags = pre[field::FLAGS];
        if flags & !FLAG_XZ != 0 {
            return Err(Error::UnknownFlags { flags });
        }
        let mut cs = [0u8; 4];
        cs.copy_from_slice(&pre[field::CHUNK_SIZE]);
        let size = u32::from_be_bytes(cs);
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&size) {
            return Err(Error::ChunkSize { size });
        }
        let mut base = [0u8; 12];
        base.copy_from_slice(&pre[field::NONCE_BASE]);
        let cipher = key.cipher();
        let (header, check) = pre.split_at(HEADER_LEN);
        cipher
            .decrypt_in_place_detached(
                &key_check_nonce(&base),
                header,
                &mut [],
                Tag::from_slice(check),
            )
            .map_err(|_| Error::WrongKey)?;
        let mut aad = Vec::with_capacity(HEADER_LEN + id.len());
        aad.extend_from_slice(header);
        aad.extend_from_slice(id);
        let chunk_size = size as usize;
        Ok((
            Self {
                inner,
                cipher,
                base,
                aad,
                chunk_size,
                buf: Vec::with_capacity(chunk_size + TAG_LEN),
                pos: 0,
                lookahead: None,
                index: 0,
                offset: PREAMBLE_LEN as u64,
                done: false,
                limit,
                released: 0,
            },
            flags & FLAG_XZ != 0,
        ))
    }

    fn decrypt(&mut self, index: u32, last: bool) -> bool {
        let split = self.buf.len() - TAG_LEN;
        let (ct, tag) = self.buf.split_at_mut(split);
        let tag = Tag::clone_from_slice(tag);
        self.cipher
            .decrypt_in_place_detached(&chunk_nonce(&self.base, index, last), &self.aad, ct, &tag)
            .is_ok()
    }

    /// Reads, verifies and decrypts the next chunk into `buf`.
    fn next_chunk(&mut self) -> Result<(), Error> {
        let index = u32::try_from(self.index).map_err(|_| Error::TooManyChunks)?;
        let full = self.chunk_size + TAG_LEN;
        self.buf.clear();
        self.buf.resize(full, 0);
        let mut n = 0;
        if let Some(b) = self.lookahead.take() {
            self.buf[0] = b;
            n = 1;
        }
        n += read_full(&mut self.inner, &mut self.buf[n..])?;
        let chunk_offset = self.offset;
        let last = if n == full {
            let mut one = [0u8; 1];
            match read_full(&mut self.inner, &mut one)? {
                0 => true,
                _ => {
                    self.lookahead = Some(one[0]);
                    false
                }
            }
        } else {
            true
        };
        if n < TAG_LEN {
            return Err(Error::Truncated {
                field: "chunk",
                chunk: self.index,
                offset: chunk_offset + n as u64,
            });
        }
        self.buf.truncate(n);
        if !self.decrypt(index, last) {
            // Tell truncation at a chunk boundary and appended data from other damage.
            return Err(if last && n == full && self.decrypt(index, false) {
                Error::Truncated {
                    field: "chunk",
                    chunk: self.index + 1,
                    offset: chunk_offset + n as u64,
                }
            } else if !last && self.decrypt(index, true) {
                Error::TrailingData {
                    offset: chunk_offset + n as u64,
                }
            } else {
                debug!(
                    chunk = self.index,
                    offset = chunk_offset,
                    "chunk tag mismatch"
                );
                Error::Authentication {
                    chunk: self.index,
                    offset: chunk_offset,
                }
            });
        }
        self.buf.truncate(n - TAG_LEN);
        self.released += self.buf.len() as u64;
        if self.released > self.limit {
            return Err(Error::TooLarge { limit: self.limit });
        }
        self.offset += n as u64;
        self.index += 1;
        self.pos = 0;
        self.done = last;
        Ok(())
    }

    fn read_typed(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        while self.pos == self.buf.len() {
            if self.done || out.is_empty() {
                return Ok(0);
            }
            self.next_chunk()?;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

impl<R: Read> Read for ChunkOpener<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        self.read_typed(out).map_err(Error::into_io)
    }
}

enum ReaderInner<R: Read> {
    Plain(Box<ChunkOpener<R>>),
    Xz(Box<xz::XzReader<ChunkOpener<R>>>),
}

/// Streaming opener: reads an envelope from the inner reader and yields verified plaintext
/// (decompressed if the envelope says so), at most `max_len` bytes.
///
/// Errors surface from `read` as `io::Error`s of kind `InvalidData` wrapping an [`Error`](enum@Error);
/// [`Error::from_io`] recovers it. After an error the reader must be discarded.
pub struct OpenReader<R: Read> {
    inner: ReaderInner<R>,
}

impl<R: Read> OpenReader<R> {
    /// Reads and checks the header; fails early on bad magic, version, flags, chunk size or key.
    pub fn new(key: &Key, id: &[u8], inner: R, max_len: u64) -> Result<Self, Error> {
        let (opener, compressed) = ChunkOpener::new(key, id, inner, u64::MAX)?;
        let inner = if compressed {
            ReaderInner::Xz(Box::new(
                xz::XzReader::new(opener, xz::DecodeLimits::with_max_output(max_len))
                    .map_err(Error::from_xz)?,
            ))
        } else {
            let mut opener = opener;
            opener.limit = max_len;
            ReaderInner::Plain(Box::new(opener))
        };
        Ok(Self { inner })
    }

    /// Whether the payload is xz-compressed inside the envelope.
    pub fn is_compressed(&self) -> bool {
        matches!(self.inner, ReaderInner::Xz(_))
    }
}

impl<R: Read> Read for OpenReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        match &mut self.inner {
            ReaderInner::Plain(o) => o.read(out),
            ReaderInner::Xz(x) => x.read(out),
        }
    }
}

/// Seals `plaintext` in one go (OS RNG nonce base, default chunk size).
pub fn seal(
    key: &Key,
    id: &[u8],
    plaintext: &[u8],
    compression: Compression,
) -> Result<Vec<u8>, Error> {
    let opts = SealOptions {
        compression,
        ..SealOptions::default()
    };
    seal_with(key, id, plaintext, opts, &mut OsRng)
}

/// Seals `plaintext` in one go with explicit options and nonce RNG.
pub fn seal_with<G: RngCore + CryptoRng>(
    key: &Key,
    id: &[u8],
    plaintext: &[u8],
    opts: SealOptions,
    rng: &mut G,
) -> Result<Vec<u8>, Error> {
    let chunks = plaintext.len() / opts.chunk_size.max(1) as usize + 1;
    let cap = PREAMBLE_LEN + plaintext.len() + chunks * TAG_LEN;
    let mut w = SealWriter::with_options(key, id, Vec::with_capacity(cap), opts, rng)?;
    w.write_all(plaintext).map_err(Error::from_io)?;
    w.finish()
}

/// Opens an envelope in one go, refusing plaintext longer than `max_len`.
pub fn open(key: &Key, id: &[u8], envelope: &[u8], max_len: u64) -> Result<Vec<u8>, Error> {
    let mut r = OpenReader::new(key, id, envelope, max_len)?;
    let mut out = Vec::new();
    r.read_to_end(&mut out).map_err(Error::from_io)?;
    Ok(out)
}
