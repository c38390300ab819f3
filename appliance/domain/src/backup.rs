//! Backup and restore of a data directory: `offhook backup FILE` / `offhook restore FILE`, and
//! the admin console's download and staged restore.
//!
//! # The file (all integers big-endian)
//! ```text
//! offset  len  field
//!      0    8  magic "OHBACKUP"
//!      8    1  version = 1
//!      9    1  key derivation = 1: Argon2id v0x13 (RFC 9106)
//!     10    4  memory, KiB        (the reader refuses more than its KdfLimits before deriving)
//!     14    4  passes
//!     18    4  lanes
//!     22   16  salt (OS RNG)
//!     38    …  one codecs::seal envelope (AES-256-GCM, 64 KiB chunks, STREAM: nonce prefix,
//!              chunk counter and last-chunk flag), keyed by Argon2id(passphrase, salt), its
//!              associated data the 38 bytes above
//! ```
//! The envelope's key check tells a wrong passphrase (or a changed header) from damage; every
//! chunk's tag covers the header too, so changing the cost parameters, the salt, a byte of any
//! chunk, the chunks' order or the file's length fails authentication. Plaintext is released
//! chunk by chunk only once its tag verified.
//!
//! Inside the envelope, the archive is a sequence of entries and one end entry:
//! ```text
//! 'F'  u16 path length, path (UTF-8), u32 mode, u64 length, the bytes
//! 'E'  u64 files, u64 bytes             (checked against what came before; nothing may follow)
//! ```
//! Paths are checked by [`format::check_path`]: only `offhook.db`, `master.key`,
//! `media/NAME`, `media/spool/NAME` and `tls/NAME` (no `..`, no absolute path, no duplicate),
//! and no entry may claim more bytes than the file still holds. Both sides stream: neither
//! holds more than a chunk of the backup in memory.
//!
//! # What is in it
//! The database (a snapshot by SQLite's online backup API), the master sealing key, the
//! sealed media every row of that snapshot names (Opus audio, attachments, and the spool
//! segments of messages still `processing`, up to the last byte a row names), and `tls/` (the
//! appliance's certificate and key). Not `recordings/` or `live/`: what is being recorded
//! there has been acknowledged to nobody (docs/DURABILITY.md).
//!
//! # Why the snapshot is consistent while the server runs
//! The server keeps writing while [`create`] runs (another process, or the same one for the
//! console): messages arrive, become `ready` (`<id>.audio` created, the spool segment then
//! removed when no row names it), and are deleted (rows first, files after the commit). The
//! backup is taken in this order:
//!
//! 1. Every spool segment (and every whole-file upload an earlier version left, `<id>.raw`)
//!    is opened and the descriptor kept: the server removes these from messages it keeps
//!    (once transcoded), and through the descriptor they stay readable.
//! 2. The database is copied in one step of the online backup API over a read-only
//!    connection: one read transaction, the state at one commit T.
//! 3. Each file a row of the snapshot names is written to the archive, one open at a time (an
//!    appliance holds more messages than a process may hold descriptors): a spool segment
//!    (or `.raw` upload) through its descriptor from step 1, up to the last byte a row names;
//!    any other file (an `<id>.audio`, an attachment) opened by name.
//! 4. A message whose file could be taken neither way is deleted from the snapshot (with its
//!    recipients' copies and attachments, by the schema's cascades), so that the restored
//!    database never names a missing file; the snapshot is written last. (A file of such a
//!    message written before is an orphan, which the restored server's start-up sweep
//!    removes.)
//!
//! Nothing acknowledged before the backup began is lost by step 4. A message acknowledged
//! before step 1 was committed with its files (they are durable before the row commits),
//! and if it is in the snapshot at T, every file its row names there was named by committed
//! rows from its creation until T (files are removed only after the commit that stops naming
//! them). Its spool segment therefore existed at step 1 and was opened. Its attachments and
//! its `<id>.audio` are removed only when the message is deleted; if one is gone in step 3,
//! the message was deleted after T, and leaving it out is what a backup taken a moment later
//! would have done. Messages acknowledged during the backup are present and whole, or
//! absent: a spool segment created after step 1 holds only such uploads, and its messages are
//! left out.
//!
//! Files in `media/` never change once a committed row names them: they are written to a
//! temporary name, fsynced and renamed into place before the commit, and a message leaves
//! `processing` once (the transcoder runs one job per message and the update is conditional).
//! Spool segments are only appended to, and the bytes a committed row names are never written
//! again. A segment's number is reused only after it was removed and the server restarted;
//! should that happen during a backup (the descriptor from step 1 is no longer the file of
//! that name), the backup fails and says to run it again rather than guess.
//!
//! # Restore
//! [`restore`] refuses a data directory that is not empty (naming what is there), extracts
//! into `DATA/.restore-tmp`, verifies everything (every chunk's tag, the archive's counts,
//! `PRAGMA integrity_check` and `foreign_key_check`, a schema this version knows, the key
//! against the media, every file the rows name present and long enough), and only then moves
//! `master.key`, `tls`, `media` and last `offhook.db` into place. Any failure removes what was
//! extracted. The next `offhook serve` opens the result with the normal code (migrating a
//! backup from an older version).
//!
//! The console's restore ([`stage`]) does the same into `DATA/restore-staged` while the
//! server keeps serving; [`apply_staged`], called by `offhook serve` before the database
//! opens, swaps it in and keeps the data it replaces in `DATA/before-restore-SECONDS` (inside
//! the data directory: a service's own directory is often the only one it may write).

pub mod format;
mod restore;
mod snapshot;
#[cfg(test)]
mod tests;

pub use self::format::{Kdf, KdfLimits, Reader, Totals, Writer};
pub use self::restore::{
    BEFORE_PREFIX, Restored, STAGED, apply_staged, restore, stage, verify_tree,
};
pub use self::snapshot::{Summary, create};

/// Shortest passphrase a backup is made with.
pub const MIN_PASSPHRASE: usize = 8;

/// A backup or restore failure, grouped by who is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // The file given.
    /// The file does not begin with the backup magic.
    #[error("not an Offhook backup (no OHBACKUP magic at offset 0)")]
    NotBackup,
    /// The version byte is not one this build reads.
    #[error("backup format version {0} at offset 8 is not one this version reads (1)")]
    Version(u8),
    /// The key derivation's parameters are unusable or over the limits.
    #[error("key derivation: {0}")]
    Kdf(String),
    /// The key check failed.
    #[error("wrong passphrase or not an Offhook backup")]
    WrongPassphrase,
    /// A chunk failed authentication, or data follows the last chunk.
    #[error("the backup is damaged or was modified: {0}")]
    Damaged(String),
    /// The file ends early.
    #[error("the backup is truncated: {0}")]
    Truncated(String),
    /// The archive inside is malformed (it authenticated, so its writer was faulty).
    #[error("the backup's archive is malformed: {0}")]
    Archive(String),
    /// An entry's path is not one a data directory holds.
    #[error("the backup holds a path it must not: {path:?}: {why}")]
    Path {
        /// The path (cut at the longest allowed).
        path: String,
        /// What is wrong with it.
        why: String,
    },
    /// What was restored does not hold together.
    #[error("the backup's contents do not check out: {0}")]
    Contents(String),

    // The caller or the data directory.
    /// The passphrase is unusable.
    #[error("{0}")]
    Passphrase(String),
    /// Restore needs an empty data directory.
    #[error(
        "{dir} is not empty (it holds {entries}): restore needs an empty or new data directory"
    )]
    NotEmpty {
        /// The directory.
        dir: String,
        /// What it holds, comma-separated (the first few).
        entries: String,
    },
    /// The data directory has nothing to back up.
    #[error("{0} holds no Offhook database to back up")]
    NoDatabase(String),
    /// A file changed under the backup in a way it cannot account for.
    #[error("the data changed under the backup: {0}; run it again")]
    Changed(String),

    // The system.
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// Reading or writing a file failed.
    #[error("{what}: {source}")]
    Io {
        /// What was being done.
        what: String,
        /// Why it failed.
        source: std::io::Error,
    },
}

impl Error {
    fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let what = what.into();
        move |source| Self::Io { what, source }
    }

    fn write(source: std::io::Error) -> Self {
        Self::Io {
            what: "writing the backup".into(),
            source,
        }
    }

    fn read(source: std::io::Error) -> Self {
        Self::Io {
            what: "reading the backup".into(),
            source,
        }
    }

    fn sealing(e: codecs::seal::Error) -> Self {
        match e {
            codecs::seal::Error::Io(io) => Self::write(io),
            other => Self::Io {
                what: "sealing the backup".into(),
                source: std::io::Error::other(other.to_string()),
            },
        }
    }

    fn opening(e: codecs::seal::Error) -> Self {
        use codecs::seal::Error as S;
        match e {
            S::WrongKey => Self::WrongPassphrase,
            S::Truncated { .. } => {
                Self::Truncated(format!("{e} (offsets after the 38-byte header)"))
            }
            S::Io(io) => Self::read(io),
            S::BadMagic
            | S::UnsupportedVersion { .. }
            | S::UnknownFlags { .. }
            | S::ChunkSize { .. } => {
                // The envelope's own header is covered by the key check only indirectly: a
                // changed one is damage (or a file that is not a backup).
                Self::Damaged(format!("{e} (at offset 38)"))
            }
            other => Self::Damaged(format!("{other} (offsets after the 38-byte header)")),
        }
    }

    fn opening_io(e: std::io::Error) -> Self {
        Self::opening(codecs::seal::Error::from_io(e))
    }

    /// Whether the file given (not the system) is at fault: a console answers 400, not 500.
    pub fn is_input(&self) -> bool {
        !matches!(
            self,
            Self::Sqlite(_) | Self::Io { .. } | Self::NoDatabase(_) | Self::Changed(_)
        )
    }
}

/// Checks a passphrase a backup is to be made with.
pub fn check_passphrase(passphrase: &str) -> Result<(), Error> {
    if passphrase.chars().count() < MIN_PASSPHRASE {
        return Err(Error::Passphrase(format!(
            "the passphrase must have at least {MIN_PASSPHRASE} characters"
        )));
    }
    Ok(())
}
