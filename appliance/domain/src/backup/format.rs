//! The backup file: a header naming the key derivation, then one sealed envelope
//! ([`codecs::seal`], AES-256-GCM in 64 KiB chunks with the STREAM construction) holding an
//! archive of entries. See the [module above](super) for the layout.

use std::collections::HashSet;
use std::io::{self, Read, Write};

use codecs::seal::{self, Compression, Key, OpenReader, SealOptions, SealWriter};
use rand::RngCore;
use rand::rngs::OsRng;
use zeroize::Zeroize;

use super::Error;

/// The backup file's magic.
pub const MAGIC: [u8; 8] = *b"OHBACKUP";
/// The format version this module writes and reads.
pub const VERSION: u8 = 1;
/// The only key derivation: Argon2id (RFC 9106), version 0x13.
pub const KDF_ARGON2ID: u8 = 1;
/// Length of the header (magic to salt), which is also the envelope's associated data.
pub const HEADER_LEN: usize = 38;
/// Length of the salt.
pub const SALT_LEN: usize = 16;
/// Longest entry path.
pub const MAX_PATH: usize = 255;
/// Most entries in one backup.
pub const MAX_ENTRIES: u64 = 1 << 24;

mod field {
    use std::ops::Range;
    pub(super) const MAGIC: Range<usize> = 0..8;
    pub(super) const VERSION: usize = 8;
    pub(super) const KDF: usize = 9;
    pub(super) const M_COST: Range<usize> = 10..14;
    pub(super) const T_COST: Range<usize> = 14..18;
    pub(super) const P_COST: Range<usize> = 18..22;
    pub(super) const SALT: Range<usize> = 22..38;
}

/// Entry tags in the archive.
const TAG_FILE: u8 = b'F';
const TAG_END: u8 = b'E';

/// Argon2id's cost parameters, as the header carries them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Kdf {
    /// Memory in KiB.
    pub m_cost: u32,
    /// Passes.
    pub t_cost: u32,
    /// Lanes.
    pub p_cost: u32,
}

impl Default for Kdf {
    /// 64 MiB, 3 passes, 1 lane: RFC 9106 §4's second recommended option, about a quarter of
    /// a second on the appliance's class of machine.
    fn default() -> Self {
        Self {
            m_cost: 64 << 10,
            t_cost: 3,
            p_cost: 1,
        }
    }
}

impl Kdf {
    /// The cheapest parameters Argon2 allows: for tests and fuzzing only, never for a backup
    /// anyone keeps.
    pub fn insecure_for_tests() -> Self {
        Self {
            m_cost: 8,
            t_cost: 1,
            p_cost: 1,
        }
    }

    /// The key for `passphrase` and `salt` under these parameters.
    pub fn derive(&self, passphrase: &[u8], salt: &[u8; SALT_LEN]) -> Result<Key, Error> {
        let params = argon2::Params::new(self.m_cost, self.t_cost, self.p_cost, Some(32))
            .map_err(|e| Error::Kdf(e.to_string()))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = [0u8; 32];
        argon
            .hash_password_into(passphrase, salt, &mut out)
            .map_err(|e| Error::Kdf(e.to_string()))?;
        let key = Key::from_bytes(out);
        out.zeroize();
        Ok(key)
    }
}

/// The most a backup file may ask of the reader's key derivation: a file is refused before
/// any work if its header asks for more.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfLimits {
    /// Most memory, KiB.
    pub max_m_cost: u32,
    /// Most passes.
    pub max_t_cost: u32,
    /// Most lanes.
    pub max_p_cost: u32,
}

impl Default for KdfLimits {
    /// 1 GiB, 16 passes, 8 lanes: well above what this version writes, well below what would
    /// stall the appliance.
    fn default() -> Self {
        Self {
            max_m_cost: 1 << 20,
            max_t_cost: 16,
            max_p_cost: 8,
        }
    }
}

/// What an archive held.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Files.
    pub files: u64,
    /// Their bytes.
    pub bytes: u64,
}

/// Writes a backup: the header, then entries, sealed as they are written.
pub struct Writer<W: Write> {
    seal: SealWriter<W>,
    totals: Totals,
}

impl<W: Write> std::fmt::Debug for Writer<W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer")
            .field("totals", &self.totals)
            .finish_non_exhaustive()
    }
}

impl<W: Write> Writer<W> {
    /// Writes the header to `out` with a fresh random salt and derives the key from
    /// `passphrase` with `kdf`.
    pub fn new(mut out: W, passphrase: &[u8], kdf: Kdf) -> Result<Self, Error> {
        let mut salt = [0u8; SALT_LEN];
        OsRng.fill_bytes(&mut salt);
        let key = kdf.derive(passphrase, &salt)?;
        let mut header = [0u8; HEADER_LEN];
        header[field::MAGIC].copy_from_slice(&MAGIC);
        header[field::VERSION] = VERSION;
        header[field::KDF] = KDF_ARGON2ID;
        header[field::M_COST].copy_from_slice(&kdf.m_cost.to_be_bytes());
        header[field::T_COST].copy_from_slice(&kdf.t_cost.to_be_bytes());
        header[field::P_COST].copy_from_slice(&kdf.p_cost.to_be_bytes());
        header[field::SALT].copy_from_slice(&salt);
        out.write_all(&header).map_err(Error::write)?;
        let seal = SealWriter::with_options(
            &key,
            &header,
            out,
            SealOptions {
                chunk_size: seal::DEFAULT_CHUNK_SIZE,
                compression: Compression::None,
            },
            &mut OsRng,
        )
        .map_err(Error::sealing)?;
        Ok(Self {
            seal,
            totals: Totals::default(),
        })
    }

    /// Adds a file entry: exactly `len` bytes read from `data` (fewer is an error: the file
    /// changed under the backup).
    pub fn file(&mut self, path: &str, mode: u32, len: u64, data: impl Read) -> Result<(), Error> {
        check_path(path)?;
        let mut head = Vec::with_capacity(1 + 2 + path.len() + 4 + 8);
        head.push(TAG_FILE);
        head.extend_from_slice(&(path.len() as u16).to_be_bytes());
        head.extend_from_slice(path.as_bytes());
        head.extend_from_slice(&(mode & 0o7777).to_be_bytes());
        head.extend_from_slice(&len.to_be_bytes());
        self.seal.write_all(&head).map_err(Error::write)?;
        let copied = io::copy(&mut data.take(len), &mut self.seal).map_err(Error::write)?;
        if copied != len {
            return Err(Error::Changed(format!(
                "{path} ended after {copied} of {len} bytes while it was being read"
            )));
        }
        self.totals.files += 1;
        self.totals.bytes += len;
        Ok(())
    }

    /// Writes the end entry and seals the last chunk; returns the output and what was written.
    pub fn finish(mut self) -> Result<(W, Totals), Error> {
        let mut end = vec![TAG_END];
        end.extend_from_slice(&self.totals.files.to_be_bytes());
        end.extend_from_slice(&self.totals.bytes.to_be_bytes());
        self.seal.write_all(&end).map_err(Error::write)?;
        let out = self.seal.finish().map_err(Error::sealing)?;
        Ok((out, self.totals))
    }
}

/// One entry of a backup being read; its bytes are read with [`Reader::copy_body`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Its path (checked by [`check_path`]).
    pub path: String,
    /// Its mode bits.
    pub mode: u32,
    /// Its length.
    pub len: u64,
}

/// Reads a backup: checks the header, derives the key, then yields entries whose bytes are
/// released only once their chunk authenticated.
pub struct Reader<R: Read> {
    open: OpenReader<R>,
    /// Plaintext bytes the file can still hold (its length, less what was read): no entry may
    /// claim more.
    budget: u64,
    /// Body bytes of the current entry not yet read.
    pending: u64,
    seen: HashSet<String>,
    totals: Totals,
    done: bool,
}

impl<R: Read> std::fmt::Debug for Reader<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reader")
            .field("totals", &self.totals)
            .finish_non_exhaustive()
    }
}

/// Parses a header; refuses a KDF cost over `limits` before any work.
pub fn parse_header(header: &[u8], limits: &KdfLimits) -> Result<(Kdf, [u8; SALT_LEN]), Error> {
    if header.len() < HEADER_LEN {
        return Err(if header.len() >= 8 && header[field::MAGIC] != MAGIC {
            Error::NotBackup
        } else {
            Error::Truncated(format!(
                "the file ends at offset {} inside its {HEADER_LEN}-byte header",
                header.len()
            ))
        });
    }
    if header[field::MAGIC] != MAGIC {
        return Err(Error::NotBackup);
    }
    if header[field::VERSION] != VERSION {
        return Err(Error::Version(header[field::VERSION]));
    }
    if header[field::KDF] != KDF_ARGON2ID {
        return Err(Error::Kdf(format!(
            "unknown key derivation {} at offset 9",
            header[field::KDF]
        )));
    }
    let be = |r: std::ops::Range<usize>| {
        let mut b = [0u8; 4];
        b.copy_from_slice(&header[r]);
        u32::from_be_bytes(b)
    };
    let kdf = Kdf {
        m_cost: be(field::M_COST),
        t_cost: be(field::T_COST),
        p_cost: be(field::P_COST),
    };
    let over = |name: &str, v: u32, max: u32, at: usize| {
        (v > max || v == 0).then(|| {
            Error::Kdf(format!(
                "{name} {v} at offset {at} outside 1..={max}: refused before deriving"
            ))
        })
    };
    if let Some(e) = over("memory (KiB)", kdf.m_cost, limits.max_m_cost, 10)
        .or_else(|| over("passes", kdf.t_cost, limits.max_t_cost, 14))
        .or_else(|| over("lanes", kdf.p_cost, limits.max_p_cost, 18))
    {
        return Err(e);
    }
    let mut salt = [0u8; SALT_LEN];
    salt.copy_from_slice(&header[field::SALT]);
    Ok((kdf, salt))
}

impl<R: Read> Reader<R> {
    /// Reads the header from `input`, derives the key (within `limits`) and checks it against
    /// the envelope. `file_len` is the backup's length if known (no entry may claim more).
    pub fn open(
        mut input: R,
        passphrase: &[u8],
        limits: &KdfLimits,
        file_len: Option<u64>,
    ) -> Result<Self, Error> {
        let mut header = [0u8; HEADER_LEN];
        let n = read_full(&mut input, &mut header).map_err(Error::read)?;
        let (kdf, salt) = parse_header(&header[..n], limits)?;
        let key = kdf.derive(passphrase, &salt)?;
        Self::open_with_key(input, &header, &key, file_len)
    }

    /// [`open`](Self::open) after the header, with the key already derived (the fuzz target's
    /// way past the key derivation).
    pub fn open_with_key(
        input: R,
        header: &[u8; HEADER_LEN],
        key: &Key,
        file_len: Option<u64>,
    ) -> Result<Self, Error> {
        let open = OpenReader::new(key, header, input, u64::MAX).map_err(Error::opening)?;
        Ok(Self {
            open,
            budget: file_len.map_or(u64::MAX, |l| l.saturating_sub(HEADER_LEN as u64)),
            pending: 0,
            seen: HashSet::new(),
            totals: Totals::default(),
            done: false,
        })
    }

    fn read_exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), Error> {
        let n = read_full(&mut self.open, buf).map_err(Error::opening_io)?;
        if n < buf.len() {
            return Err(Error::Truncated(format!(
                "the archive ends inside {what} (entry {})",
                self.totals.files + 1
            )));
        }
        self.budget = self.budget.saturating_sub(n as u64);
        Ok(())
    }

    /// The next entry, or `None` after the end entry (whose counts are checked, and after
    /// which the envelope must end). Bytes of the previous entry not read are skipped.
    pub fn next_entry(&mut self) -> Result<Option<Entry>, Error> {
        if self.done {
            return Ok(None);
        }
        if self.pending > 0 {
            self.copy_body(&mut io::sink())?;
        }
        let mut tag = [0u8; 1];
        self.read_exact(&mut tag, "an entry's tag")?;
        match tag[0] {
            TAG_FILE => {}
            TAG_END => {
                let mut counts = [0u8; 16];
                self.read_exact(&mut counts, "the end entry")?;
                let (files, bytes) = counts.split_at(8);
                let declared = Totals {
                    files: u64::from_be_bytes(files.try_into().unwrap_or_default()),
                    bytes: u64::from_be_bytes(bytes.try_into().unwrap_or_default()),
                };
                if declared != self.totals {
                    return Err(Error::Archive(format!(
                        "the end entry counts {} files of {} bytes, the archive held {} of {}",
                        declared.files, declared.bytes, self.totals.files, self.totals.bytes
                    )));
                }
                let mut more = [0u8; 1];
                if read_full(&mut self.open, &mut more).map_err(Error::opening_io)? != 0 {
                    return Err(Error::Archive("data after the end entry".into()));
                }
                self.done = true;
                return Ok(None);
            }
            t => {
                return Err(Error::Archive(format!(
                    "unknown entry tag {t:#04x} (entry {})",
                    self.totals.files + 1
                )));
            }
        }
        if self.totals.files >= MAX_ENTRIES {
            return Err(Error::Archive(format!("more than {MAX_ENTRIES} entries")));
        }
        let mut len = [0u8; 2];
        self.read_exact(&mut len, "an entry's path length")?;
        let path_len = usize::from(u16::from_be_bytes(len));
        if path_len > MAX_PATH {
            return Err(Error::Archive(format!(
                "entry {} has a path of {path_len} bytes (at most {MAX_PATH})",
                self.totals.files + 1
            )));
        }
        let mut path = vec![0u8; path_len];
        self.read_exact(&mut path, "an entry's path")?;
        let path = String::from_utf8(path).map_err(|_| {
            Error::Archive(format!(
                "entry {} has a path that is not UTF-8",
                self.totals.files + 1
            ))
        })?;
        check_path(&path)?;
        let mut rest = [0u8; 12];
        self.read_exact(&mut rest, "an entry's mode and length")?;
        let (mode, len) = rest.split_at(4);
        let mode = u32::from_be_bytes(mode.try_into().unwrap_or_default());
        let len = u64::from_be_bytes(len.try_into().unwrap_or_default());
        if mode > 0o7777 {
            return Err(Error::Archive(format!(
                "{path}: mode {mode:#o} out of range"
            )));
        }
        if len > self.budget {
            return Err(Error::Archive(format!(
                "{path} claims {len} bytes; the file holds at most {} more",
                self.budget
            )));
        }
        if !self.seen.insert(path.clone()) {
            return Err(Error::Archive(format!("{path} appears twice")));
        }
        self.pending = len;
        self.totals.files += 1;
        self.totals.bytes += len;
        Ok(Some(Entry { path, mode, len }))
    }

    /// What was read so far.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// Copies the current entry's bytes to `out`.
    pub fn copy_body(&mut self, out: &mut impl Write) -> Result<(), Error> {
        let want = self.pending;
        let mut body = (&mut self.open).take(want);
        let copied = copy_distinguishing(&mut body, out)?;
        self.pending = 0;
        self.budget = self.budget.saturating_sub(copied);
        if copied < want {
            return Err(Error::Truncated(format!(
                "the archive ends after {copied} of an entry's {want} bytes"
            )));
        }
        Ok(())
    }
}

/// `io::copy`, telling the envelope's errors (read side) from the output's (write side).
fn copy_distinguishing(r: &mut impl Read, w: &mut impl Write) -> Result<u64, Error> {
    let mut buf = vec![0u8; 64 << 10];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::opening_io(e)),
        };
        w.write_all(&buf[..k]).map_err(Error::write)?;
        n += k as u64;
    }
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
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

/// Checks an entry path: relative, `/`-separated, no empty, `.` or `..` component, and one of
/// the data directory's known places: `offhook.db`, `master.key`, `media/NAME`,
/// `media/spool/NAME`, `tls/NAME`.
pub fn check_path(path: &str) -> Result<(), Error> {
    let bad = |why: &str| Error::Path {
        path: path.chars().take(MAX_PATH).collect(),
        why: why.into(),
    };
    if path.len() > MAX_PATH {
        return Err(bad("too long"));
    }
    let parts: Vec<&str> = path.split('/').collect();
    if parts
        .iter()
        .any(|p| p.is_empty() || *p == "." || *p == ".." || p.contains('\0'))
    {
        return Err(bad(
            "an empty, `.` or `..` component, a NUL, or an absolute path",
        ));
    }
    let known = matches!(
        parts.as_slice(),
        ["offhook.db" | "master.key"] | ["media" | "tls", _] | ["media", "spool", _]
    );
    if !known
        || parts
            .last()
            .is_some_and(|p| *p == "spool" && parts.len() == 2)
    {
        return Err(bad(
            "not one of offhook.db, master.key, media/NAME, media/spool/NAME, tls/NAME",
        ));
    }
    Ok(())
}
