//! Restoring a backup: into an empty data directory ([`restore`]), or staged beside a running
//! one ([`stage`]) and swapped in at the next start ([`apply_staged`]).

use std::collections::BTreeMap;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{BufWriter, ErrorKind, Read};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};
use tracing::{info, warn};

use super::Error;
use super::format::{KdfLimits, Reader, Totals};
use super::snapshot::{named_files, table_exists};
use crate::db::{self, spool};

/// What a restore brought back.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Restored {
    /// Users (and tombstones).
    pub users: u64,
    /// Messages.
    pub messages: u64,
    /// Files and bytes.
    pub totals: Totals,
}

/// The extraction directory of [`restore`], inside the data directory.
const RESTORE_TMP: &str = ".restore-tmp";
/// Where [`stage`] extracts before the staged tree is complete.
const STAGING_TMP: &str = ".restore-staged.tmp";
/// A verified tree waiting for the next start.
pub const STAGED: &str = "restore-staged";
/// A staged tree being moved into place.
const APPLYING: &str = "restore-applying";
/// The prefix of the directories that keep what a staged restore replaced.
pub const BEFORE_PREFIX: &str = "before-restore-";
/// The top-level names a restore writes, in the order they are moved into place: the database
/// last, so that a crash in between leaves a directory `offhook serve` starts afresh in (and
/// restore refuses until it is emptied), never a database without its key or media.
const TOP: [&str; 4] = ["master.key", "tls", "media", "offhook.db"];

/// Restores the backup read from `input` (`file_len` bytes long, if known) into the data
/// directory `root`, which must be empty or absent. Everything is verified before anything is
/// moved into place; on failure `root` is left as it was.
pub fn restore(
    input: impl Read,
    file_len: Option<u64>,
    passphrase: &[u8],
    limits: &KdfLimits,
    root: &Path,
) -> Result<Restored, Error> {
    let existed = root.exists();
    if existed {
        check_empty(root)?;
    }
    private_dir(root)?;
    let tmp = root.join(RESTORE_TMP);
    let done = extract_verified(input, file_len, passphrase, limits, &tmp).and_then(|r| {
        for name in TOP {
            let from = tmp.join(name);
            if from.exists() {
                fs::rename(&from, root.join(name))
                    .map_err(Error::io(format!("moving {name} into place")))?;
            }
        }
        fs::remove_dir(&tmp).map_err(Error::io(tmp.display().to_string()))?;
        db::sync_dir(root).map_err(Error::io(root.display().to_string()))?;
        Ok(r)
    });
    if done.is_err() {
        let _ = fs::remove_dir_all(&tmp);
        if !existed {
            let _ = fs::remove_dir(root);
        }
    }
    done
}

/// Extracts the backup read from `input` into the fresh directory `tmp` and verifies what it
/// holds ([`verify_tree`]).
fn extract_verified(
    input: impl Read,
    file_len: Option<u64>,
    passphrase: &[u8],
    limits: &KdfLimits,
    tmp: &Path,
) -> Result<Restored, Error> {
    fresh_dir(tmp)?;
    let totals = extract(input, file_len, passphrase, limits, tmp)?;
    verify_tree(tmp).map(|r| Restored { totals, ..r })
}

/// Verifies the backup read from `input` fully and keeps it, extracted, as
/// `root/restore-staged` (replacing one staged before), for [`apply_staged`] at the next
/// start. The data directory in use is not touched.
pub fn stage(
    input: impl Read,
    file_len: Option<u64>,
    passphrase: &[u8],
    limits: &KdfLimits,
    root: &Path,
) -> Result<Restored, Error> {
    let tmp = root.join(STAGING_TMP);
    let done = extract_verified(input, file_len, passphrase, limits, &tmp).and_then(|r| {
        let staged = root.join(STAGED);
        if staged.exists() {
            fs::remove_dir_all(&staged).map_err(Error::io(format!(
                "removing the restore staged before ({})",
                staged.display()
            )))?;
        }
        fs::rename(&tmp, &staged).map_err(Error::io(staged.display().to_string()))?;
        db::sync_dir(root).map_err(Error::io(root.display().to_string()))?;
        Ok(r)
    });
    if done.is_err() {
        let _ = fs::remove_dir_all(&tmp);
    }
    done
}

/// Swaps a restore staged by [`stage`] into the data directory `root`, before anything opens
/// it: what was there moves into `root/before-restore-<now_secs>`, the staged tree takes its
/// place. Returns where the old data went, or `None` when nothing was staged. Resumes where
/// it stopped if an earlier start was interrupted.
pub fn apply_staged(root: &Path, now_secs: u64) -> Result<Option<PathBuf>, Error> {
    let staged = root.join(STAGED);
    let applying = root.join(APPLYING);
    if !staged.is_dir() && !applying.is_dir() {
        return Ok(None);
    }
    let sync = |d: &Path| db::sync_dir(d).map_err(Error::io(d.display().to_string()));
    // A directory an interrupted start began to fill, if any.
    let partial = list(root)?
        .into_iter()
        .find(|n| n.starts_with(BEFORE_PREFIX) && n.ends_with(".partial"));
    let partial =
        root.join(partial.unwrap_or_else(|| format!("{BEFORE_PREFIX}{now_secs}.partial")));
    if staged.is_dir() {
        // Phase 1: everything in the way moves aside (the database's WAL and shared memory
        // with it: a WAL left behind would be replayed into the restored database).
        private_dir(&partial)?;
        for name in list(root)? {
            if keep_in_place(&name) {
                continue;
            }
            fs::rename(root.join(&name), partial.join(&name))
                .map_err(Error::io(format!("moving {name} aside")))?;
        }
        sync(&partial)?;
        fs::rename(&staged, &applying).map_err(Error::io(applying.display().to_string()))?;
        sync(root)?;
    }
    // Phase 2: the staged tree moves in.
    let before = match partial.to_str().and_then(|p| p.strip_suffix(".partial")) {
        Some(p) => PathBuf::from(p),
        None => partial.clone(),
    };
    if partial.is_dir() {
        fs::rename(&partial, &before).map_err(Error::io(before.display().to_string()))?;
    }
    for name in list(&applying)? {
        fs::rename(applying.join(&name), root.join(&name))
            .map_err(Error::io(format!("moving the restored {name} into place")))?;
    }
    fs::remove_dir(&applying).map_err(Error::io(applying.display().to_string()))?;
    sync(root)?;
    info!(previous = %before.display(), "staged restore applied");
    Ok(Some(before))
}

/// Entries of the data directory a staged restore leaves where they are.
fn keep_in_place(name: &str) -> bool {
    name == STAGED
        || name == APPLYING
        || name == "lost+found"
        || name.starts_with(BEFORE_PREFIX)
        || name.starts_with(".restore")
}

fn list(dir: &Path) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).map_err(Error::io(dir.display().to_string()))? {
        let e = e.map_err(Error::io(dir.display().to_string()))?;
        out.push(e.file_name().to_string_lossy().into_owned());
    }
    out.sort();
    Ok(out)
}

fn check_empty(root: &Path) -> Result<(), Error> {
    if !root.is_dir() {
        return Err(Error::NotEmpty {
            dir: root.display().to_string(),
            entries: "a file, not a directory".into(),
        });
    }
    let names: Vec<String> = list(root)?
        .into_iter()
        .filter(|n| n != "lost+found")
        .collect();
    if names.is_empty() {
        return Ok(());
    }
    let mut entries = names.iter().take(6).cloned().collect::<Vec<_>>().join(", ");
    if names.len() > 6 {
        entries.push_str(&format!(" and {} more", names.len() - 6));
    }
    Err(Error::NotEmpty {
        dir: root.display().to_string(),
        entries,
    })
}

fn private_dir(dir: &Path) -> Result<(), Error> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(Error::io(dir.display().to_string()))
}

/// A new, empty directory at `dir` (one left by an interrupted run is removed first).
fn fresh_dir(dir: &Path) -> Result<(), Error> {
    match fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(dir.display().to_string())(e)),
    }
    DirBuilder::new()
        .mode(0o700)
        .create(dir)
        .map_err(Error::io(dir.display().to_string()))
}

/// Writes every entry of the backup under `dir`, each file fsynced, then the directories.
fn extract(
    input: impl Read,
    file_len: Option<u64>,
    passphrase: &[u8],
    limits: &KdfLimits,
    dir: &Path,
) -> Result<Totals, Error> {
    let mut reader = Reader::open(input, passphrase, limits, file_len)?;
    let mut dirs = vec![dir.to_owned()];
    while let Some(entry) = reader.next_entry()? {
        // Checked by the reader: a known relative path without `..`.
        let path = dir.join(&entry.path);
        if let Some(parent) = path.parent().filter(|p| !dirs.iter().any(|d| d == p)) {
            private_dir(parent)?;
            dirs.push(parent.to_owned());
        }
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .map_err(Error::io(format!("writing {}", entry.path)))?;
        let mut w = BufWriter::with_capacity(64 << 10, file);
        reader.copy_body(&mut w)?;
        let file = w
            .into_inner()
            .map_err(|e| Error::io(format!("writing {}", entry.path))(e.into_error()))?;
        file.sync_all()
            .map_err(Error::io(format!("writing {}", entry.path)))?;
    }
    for d in &dirs {
        db::sync_dir(d).map_err(Error::io(d.display().to_string()))?;
    }
    Ok(reader.totals())
}

/// Checks that the data directory tree at `dir` holds together: a 32-byte key, a database
/// that passes `integrity_check` and `foreign_key_check` with a schema this version knows,
/// and every media file its rows name, present, long enough, and sealed under that key.
pub fn verify_tree(dir: &Path) -> Result<Restored, Error> {
    let bad = |s: String| Error::Contents(s);
    let key = match fs::read(dir.join("master.key")) {
        Ok(k) => k,
        Err(e) if e.kind() == ErrorKind::NotFound => return Err(bad("no master.key".into())),
        Err(e) => return Err(Error::io("reading the restored master.key")(e)),
    };
    let key: [u8; 32] = key
        .try_into()
        .map_err(|k: Vec<u8>| bad(format!("master.key has {} bytes, not 32", k.len())))?;
    let key = codecs::seal::Key::from_bytes(key);
    let db_path = dir.join("offhook.db");
    if !db_path.is_file() {
        return Err(bad("no offhook.db".into()));
    }
    let conn = Connection::open_with_flags(&db_path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    let integrity: String = conn.query_row("PRAGMA integrity_check", [], |r| r.get(0))?;
    if integrity != "ok" {
        return Err(bad(format!(
            "the database fails integrity_check: {integrity}"
        )));
    }
    let version: usize = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = db::migrations::MIGRATIONS.len();
    if version > known {
        return Err(bad(format!(
            "its database has schema version {version}, newer than this version knows \
             ({known}): restore it with the version of offhook that made it, or a later one"
        )));
    }
    let broken: Option<String> = conn
        .prepare("PRAGMA foreign_key_check")?
        .query_map([], |r| r.get(0))?
        .next()
        .transpose()?;
    if let Some(table) = broken {
        return Err(bad(format!("rows of {table} name rows that are not there")));
    }
    let count = |table: &str| -> Result<u64, Error> {
        if table_exists(&conn, table)? {
            Ok(conn.query_row(&format!("SELECT count(*) FROM {table}"), [], |r| r.get(0))?)
        } else {
            Ok(0)
        }
    };
    let (users, messages) = (count("users")?, count("messages")?);
    // Each media file the rows name: the first message naming it, and the furthest byte a row
    // needs of it.
    let files: BTreeMap<String, (String, u64)> = named_files(&conn)?
        .into_iter()
        .filter_map(|(name, uses)| {
            let end = uses.iter().filter_map(|u| u.end).max().unwrap_or(0);
            let first = uses.into_iter().next()?;
            Some((name, (first.message, end)))
        })
        .collect();
    let media = dir.join("media");
    for (name, (id, end)) in &files {
        super::format::check_path(&format!("media/{name}"))
            .map_err(|_| bad(format!("message {id} names {name:?}, not a media file")))?;
        let path = media.join(name);
        let len = match fs::metadata(&path) {
            Ok(m) if m.is_file() => m.len(),
            _ => {
                return Err(bad(format!(
                    "media/{name}, named by message {id}, is missing"
                )));
            }
        };
        if len < *end {
            return Err(bad(format!(
                "media/{name} holds {len} bytes, message {id} needs {end}"
            )));
        }
        if spool::segment_of(name).is_none() {
            // The envelope's key check: the key restored is the one this file was sealed
            // under (the chunks themselves are checked when they are played).
            let f = File::open(&path).map_err(Error::io(format!("media/{name}")))?;
            match codecs::seal::OpenReader::new(&key, &[], f, 0) {
                Ok(_) => {}
                Err(codecs::seal::Error::WrongKey) => {
                    return Err(bad(format!("master.key does not open media/{name}")));
                }
                Err(e) => return Err(bad(format!("media/{name} is not a sealed file: {e}"))),
            }
        }
    }
    if version < known {
        warn!(
            version,
            known, "the backup's database is older; it is migrated at the next start"
        );
    }
    Ok(Restored {
        users,
        messages,
        totals: Totals::default(),
    })
}
