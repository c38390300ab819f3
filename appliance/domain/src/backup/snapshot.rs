//! Taking a backup: the consistent snapshot of a data directory, streamed into a [`Writer`].
//! The order of its steps, and why it is consistent, is in the [module above](super).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs::{self, File};
use std::io::{ErrorKind, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use rusqlite::{Connection, OpenFlags};
use tracing::{debug, info};

use super::Error;
use super::format::{Kdf, Totals, Writer, check_path};
use crate::db::{Paths, spool};

/// What a backup holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    /// Messages in the database.
    pub messages: u64,
    /// Messages that changed during the backup (acknowledged, or deleted, after it began) and
    /// were left out of it.
    pub left_out: u64,
    /// Files and bytes written.
    pub totals: Totals,
}

/// How many times a busy database is tried before giving up (50 ms apart).
const BUSY_TRIES: u32 = 200;

/// Writes a backup of the data directory at `paths` to `out`, encrypted under `passphrase`
/// with `kdf`. Works whether a server is using the directory or not. Returns `out` (for the
/// caller to fsync) and what was written.
pub fn create<W: Write>(
    paths: &Paths,
    passphrase: &[u8],
    kdf: Kdf,
    out: W,
) -> Result<(W, Summary), Error> {
    if !paths.db.is_file() {
        return Err(Error::NoDatabase(paths.root.display().to_string()));
    }
    let scratch = tempfile::Builder::new()
        .prefix(".backup-")
        .tempdir_in(&paths.root)
        .map_err(Error::io(format!(
            "a scratch directory in {}",
            paths.root.display()
        )))?;

    // 1. Hold what the server removes from messages it keeps: the spool segments (removed
    // once their uploads are transcoded) and whole-file uploads of earlier versions.
    let mut held = HashMap::new();
    hold(&paths.media, "", |n| n.ends_with(".raw"), &mut held)?;
    hold(
        &paths.media.join(spool::DIR),
        &format!("{}/", spool::DIR),
        |n| n.ends_with(".seg"),
        &mut held,
    )?;

    // 2. The database at one commit.
    let snap = scratch.path().join("offhook.db");
    copy_database(&paths.db, &snap)?;
    let conn = Connection::open(&snap)?;
    conn.pragma_update(None, "journal_mode", "DELETE")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    let named = named_files(&conn)?;
    let mut left_out: BTreeSet<String> = BTreeSet::new();
    // A segment created since step 1 holds only uploads acknowledged since; a file already
    // gone belongs to a message deleted since T. (Found now rather than while writing, so that
    // the other files of such a message are not written for nothing.)
    for (name, uses) in &named {
        check_path(&format!("media/{name}"))
            .map_err(|_| Error::Changed(format!("a row names {name:?}, not a media file")))?;
        let gone = if spool::segment_of(name).is_some() {
            !held.contains_key(name)
        } else {
            !held.contains_key(name) && !paths.media.join(name).exists()
        };
        if gone {
            left_out.extend(uses.iter().map(|u| u.message.clone()));
        }
    }

    let mut w = Writer::new(out, passphrase, kdf)?;
    let key = File::open(&paths.key).map_err(Error::io(paths.key.display().to_string()))?;
    add(&mut w, "master.key", &key)?;
    let tls = paths.root.join("tls");
    if tls.is_dir() {
        let mut names: Vec<_> = fs::read_dir(&tls)
            .map_err(Error::io(tls.display().to_string()))?
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        for name in names {
            let path = format!("tls/{name}");
            if check_path(&path).is_err() {
                continue;
            }
            let f = File::open(tls.join(&name)).map_err(Error::io(path.clone()))?;
            add(&mut w, &path, &f)?;
        }
    }

    // 3. The files the snapshot's rows name, one open at a time.
    for (name, uses) in &named {
        let kept: Vec<&Use> = uses
            .iter()
            .filter(|u| !left_out.contains(&u.message))
            .collect();
        if kept.is_empty() {
            continue;
        }
        let file = if spool::segment_of(name).is_some() {
            segment(&paths.media, name, held.remove(name))?
        } else {
            match File::open(paths.media.join(name)) {
                Ok(f) => Some(f),
                Err(e) if e.kind() == ErrorKind::NotFound => held.remove(name),
                Err(e) => return Err(Error::io(format!("media/{name}"))(e)),
            }
        };
        let Some(file) = file else {
            // Deleted since T, after the check above: the message goes (a file of it already
            // written is an orphan, which the restored server's start-up sweep removes).
            left_out.extend(kept.iter().map(|u| u.message.clone()));
            continue;
        };
        // Of a segment, only up to the last byte its rows name.
        let len = match kept.iter().map(|u| u.end).max().flatten() {
            Some(end) => {
                let have = file_len(&file)?;
                if have < end {
                    return Err(Error::Changed(format!(
                        "media/{name} holds {have} bytes, its rows name up to {end}"
                    )));
                }
                end
            }
            None => file_len(&file)?,
        };
        add_len(&mut w, &format!("media/{name}"), &file, len)?;
    }
    drop(held);

    // 4. Messages whose files are gone leave the snapshot, which goes last.
    for id in &left_out {
        conn.execute("DELETE FROM messages WHERE id = ?1", [id])?;
    }
    if !left_out.is_empty() {
        info!(
            messages = left_out.len(),
            "messages changed during the backup were left out"
        );
    }
    let messages: u64 = conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?;
    drop(conn);
    let db = File::open(&snap).map_err(Error::io("the database snapshot"))?;
    add_len(&mut w, "offhook.db", &db, file_len(&db)?)?;
    let (out, totals) = w.finish()?;
    debug!(files = totals.files, bytes = totals.bytes, "backup written");
    Ok((
        out,
        Summary {
            messages,
            left_out: left_out.len() as u64,
            totals,
        },
    ))
}

/// One use of a media file by a row.
#[derive(Debug)]
pub(super) struct Use {
    /// The message whose row names the file.
    pub(super) message: String,
    /// For a spool segment, the end of the upload in it.
    pub(super) end: Option<u64>,
}

/// Every media file the rows of `conn` name, with the messages naming each. The schema may be
/// an earlier version's (a restored backup's): columns and tables it lacks name nothing.
pub(super) fn named_files(conn: &Connection) -> Result<BTreeMap<String, Vec<Use>>, Error> {
    let mut named: BTreeMap<String, Vec<Use>> = BTreeMap::new();
    let columns = columns(conn, "messages")?;
    let has = |c: &str| columns.iter().any(|k| k == c);
    if has("audio_file") {
        let sql = format!(
            "SELECT id, audio_file, {}, {}, audio_bytes FROM messages",
            if has("raw_file") { "raw_file" } else { "NULL" },
            if has("raw_offset") {
                "raw_offset"
            } else {
                "NULL"
            },
        );
        let mut stmt = conn.prepare(&sql)?;
        let rows = stmt.query_map([], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, Option<String>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<i64>>(3)?,
                r.get::<_, i64>(4)?,
            ))
        })?;
        for row in rows {
            let (id, audio, raw, offset, bytes) = row?;
            if let Some(audio) = audio {
                named.entry(audio).or_default().push(Use {
                    message: id.clone(),
                    end: None,
                });
            }
            if let Some(raw) = raw {
                let end = offset.map(|o| (o.max(0) as u64).saturating_add(bytes.max(0) as u64));
                named.entry(raw).or_default().push(Use { message: id, end });
            }
        }
    }
    if table_exists(conn, "attachments")? {
        let mut stmt = conn.prepare("SELECT message_id, file FROM attachments")?;
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))? {
            let (id, file) = row?;
            named.entry(file).or_default().push(Use {
                message: id,
                end: None,
            });
        }
    }
    Ok(named)
}

/// The column names of `table` (none: no such table).
fn columns(conn: &Connection, table: &str) -> Result<Vec<String>, Error> {
    let mut stmt = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let cols = stmt
        .query_map([], |r| r.get::<_, String>(1))?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(cols)
}

/// Whether `table` exists.
pub(super) fn table_exists(conn: &Connection, table: &str) -> Result<bool, Error> {
    Ok(!columns(conn, table)?.is_empty())
}

/// Opens every regular file in `dir` whose name `wanted` takes (never temporaries: names
/// beginning with a dot) and keeps it under `prefix` + its name. A file removed meanwhile is
/// skipped.
fn hold(
    dir: &Path,
    prefix: &str,
    wanted: impl Fn(&str) -> bool,
    held: &mut HashMap<String, File>,
) -> Result<(), Error> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::io(dir.display().to_string())(e)),
    };
    for entry in entries {
        let entry = entry.map_err(Error::io(dir.display().to_string()))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if name.starts_with('.') || !wanted(&name) || !entry.file_type().is_ok_and(|t| t.is_file())
        {
            continue;
        }
        match File::open(entry.path()) {
            Ok(f) => {
                held.insert(format!("{prefix}{name}"), f);
            }
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(entry.path().display().to_string())(e)),
        }
    }
    Ok(())
}

/// A spool segment rows name, as held in step 1 (`None`: created since, so it holds only
/// uploads acknowledged after the backup began). The name must still be that file, or gone.
fn segment(media: &Path, name: &str, held: Option<File>) -> Result<Option<File>, Error> {
    let Some(f) = held else {
        return Ok(None);
    };
    match fs::metadata(media.join(name)) {
        Ok(now) => {
            let then = f.metadata().map_err(Error::io(format!("media/{name}")))?;
            if (now.dev(), now.ino()) != (then.dev(), then.ino()) {
                return Err(Error::Changed(format!(
                    "spool segment media/{name} was replaced (did the server restart?)"
                )));
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io(format!("media/{name}"))(e)),
    }
    Ok(Some(f))
}

/// Copies the database at `from` to a new file `to` in one step of SQLite's online backup
/// API, over a read-only connection: one read transaction, so the copy is the database at
/// one commit, whatever the server writes meanwhile (in WAL mode it is not held up).
fn copy_database(from: &Path, to: &Path) -> Result<(), Error> {
    use rusqlite::backup::{Backup, StepResult};
    let src = Connection::open_with_flags(
        from,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    src.busy_timeout(std::time::Duration::from_secs(10))?;
    let mut dst = Connection::open(to)?;
    let backup = Backup::new(&src, &mut dst)?;
    for _ in 0..BUSY_TRIES {
        match backup.step(-1)? {
            StepResult::Done => return Ok(()),
            StepResult::More => {}
            _ => std::thread::sleep(std::time::Duration::from_millis(50)),
        }
    }
    Err(Error::Changed(format!(
        "the database stayed locked for {} s",
        BUSY_TRIES * 50 / 1000
    )))
}

fn file_len(f: &File) -> Result<u64, Error> {
    Ok(f.metadata()
        .map_err(Error::io("a file being backed up"))?
        .len())
}

fn add<W: Write>(w: &mut Writer<W>, path: &str, f: &File) -> Result<(), Error> {
    add_len(w, path, f, file_len(f)?)
}

fn add_len<W: Write>(w: &mut Writer<W>, path: &str, f: &File, len: u64) -> Result<(), Error> {
    let mode = f.metadata().map_err(Error::io(path.to_owned()))?.mode() & 0o777;
    w.file(
        path,
        mode,
        len,
        std::io::BufReader::with_capacity(64 << 10, f),
    )
}
