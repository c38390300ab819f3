//! The database manager: SQLite (WAL, `synchronous=FULL`) beside the sealed audio files.
//!
//! Writes go through one writer thread that groups whatever jobs are queued into a single
//! transaction (group commit): each job runs in its own savepoint, the upload spool's segments
//! written since the last commit are fdatasynced and the audio directory fsynced, once each, the
//! transaction commits (fsyncing the WAL), and only then is every job's caller answered.
//! Reads use a small pool of read-only connections. See docs/DURABILITY.md.

pub mod devices;
pub mod initial_password;
pub mod messages;
pub(crate) mod migrations;
pub mod remote;
pub mod secrets;
pub mod spool;
pub mod users;

use self::migrations::MIGRATIONS;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, Mutex};

use rusqlite::Connection;
use tokio::sync::oneshot;
use tracing::{debug, info, warn};

use crate::audio::SealKey;

/// A database error, split by who is at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A name that must be unique is taken (caller's fault).
    #[error("{0} already exists")]
    Exists(String),
    /// The thing asked for does not exist (caller's fault).
    #[error("no such {0}")]
    NotFound(String),
    /// The caller passed something unusable.
    #[error("{0}")]
    Invalid(String),
    /// SQLite failed.
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The file system failed.
    #[error("storage: {0}")]
    Io(#[from] std::io::Error),
    /// The writer thread is gone (shutting down).
    #[error("the database is shutting down")]
    Closed,
}

impl Error {
    /// Whether this means the disk (or the disk quota) is full: nothing could be stored, and
    /// an upload refused for it is 507.
    pub fn is_storage_full(&self) -> bool {
        match self {
            Self::Io(io) => matches!(
                io.kind(),
                std::io::ErrorKind::StorageFull | std::io::ErrorKind::QuotaExceeded
            ),
            Self::Sqlite(rusqlite::Error::SqliteFailure(f, _)) => {
                f.code == rusqlite::ErrorCode::DiskFull
            }
            _ => false,
        }
    }
}

/// The files of a data directory.
#[derive(Debug, Clone)]
pub struct Paths {
    /// The data directory.
    pub root: PathBuf,
    /// The SQLite database.
    pub db: PathBuf,
    /// Sealed audio and attachments.
    pub media: PathBuf,
    /// The master sealing key (0600).
    pub key: PathBuf,
    /// Phone recordings being captured (WAV, unacknowledged until stored).
    pub recordings: PathBuf,
    /// Live intercom streams being written (WAV, unacknowledged until stored).
    pub live: PathBuf,
}

impl Paths {
    /// The layout under `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_owned(),
            db: root.join("offhook.db"),
            media: root.join("media"),
            key: root.join("master.key"),
            recordings: root.join("recordings"),
            live: root.join("live"),
        }
    }
}

/// Creates the data directory if need be, and makes it (and so all it holds) reachable by its
/// owner only, 0700, whatever the umask and whatever its mode was.
pub fn private_root(paths: &Paths) -> Result<(), Error> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&paths.root)?;
    fs::set_permissions(&paths.root, fs::Permissions::from_mode(0o700))?;
    Ok(())
}

/// Opens a connection with the appliance's pragmas and runs pending migrations. The database
/// file is 0600 whatever the umask (SQLite gives its WAL and shared-memory files the same mode).
///
/// The file is created here (0600) only when it does not exist, and its mode is otherwise set
/// by path: opening and closing a descriptor of a database file that SQLite connections of
/// this process hold would drop their POSIX locks (all of a process's locks on a file go with
/// any descriptor of it that closes), and another process could then checkpoint and delete the
/// WAL under them.
pub fn connect(paths: &Paths) -> Result<Connection, Error> {
    use std::os::unix::fs::PermissionsExt;
    private_root(paths)?;
    if !paths.db.exists() {
        // No connection of ours can have it open yet.
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&paths.db)
        {
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e.into()),
        }
    }
    fs::set_permissions(&paths.db, fs::Permissions::from_mode(0o600))?;
    let mut conn = Connection::open(&paths.db)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Runs the pending migrations, each in its own transaction, with foreign keys off: a migration
/// may rebuild a table (SQLite cannot alter a constraint in place), and dropping the old table
/// with foreign keys on would delete, or cascade to, the rows that reference it. `PRAGMA
/// foreign_keys` cannot change inside a transaction, so it is turned off before and back on
/// after; every migration is checked with `PRAGMA foreign_key_check` before it commits.
fn migrate(conn: &mut Connection) -> Result<(), Error> {
    let version: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if version >= MIGRATIONS.len() {
        return Ok(());
    }
    let enforced: bool = conn.pragma_query_value(None, "foreign_keys", |r| r.get(0))?;
    conn.pragma_update(None, "foreign_keys", "OFF")?;
    let result = run_migrations(conn, version);
    if enforced {
        conn.pragma_update(None, "foreign_keys", "ON")?;
    }
    result
}

fn run_migrations(conn: &mut Connection, version: usize) -> Result<(), Error> {
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated between our read and our lock.
        let now: usize = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if now > i {
            continue;
        }
        tx.execute_batch(sql)?;
        let broken = tx
            .prepare("PRAGMA foreign_key_check")?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        if let Some(table) = broken.first() {
            // Dropping the transaction rolls the migration back.
            return Err(Error::Invalid(format!(
                "migration {} would leave {} rows of {table} naming nothing: not applied",
                i + 1,
                broken.len()
            )));
        }
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
        info!(version = i + 1, "database migrated");
    }
    Ok(())
}

/// Loads the master sealing key, creating it (0600, fsynced) on first use.
pub fn load_or_create_key(paths: &Paths) -> Result<SealKey, Error> {
    private_root(paths)?;
    match fs::read(&paths.key) {
        Ok(bytes) => {
            let b: [u8; 32] = bytes.try_into().map_err(|_| {
                Error::Invalid(format!("{} is not a 32-byte key", paths.key.display()))
            })?;
            Ok(SealKey::from_bytes(b))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = SealKey::generate();
            let tmp = paths.key.with_extension("key.tmp");
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)?;
            f.write_all(&key.to_bytes())?;
            f.sync_all()?;
            // hard_link fails if another process created the key first: then use theirs.
            match fs::hard_link(&tmp, &paths.key) {
                Ok(()) => {
                    fs::remove_file(&tmp)?;
                    sync_dir(&paths.root)?;
                    info!("master seal key created");
                    Ok(key)
                }
                Err(_) => {
                    fs::remove_file(&tmp)?;
                    load_or_create_key(paths)
                }
            }
        }
        Err(e) => Err(e.into()),
    }
}

/// fsyncs a directory so that the names created in it survive power loss.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Writes `data` to `dir/name` durably (temp file, fsync, rename); the caller fsyncs `dir`.
pub fn write_file(dir: &Path, name: &str, data: &[u8]) -> std::io::Result<PathBuf> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut f = File::create(&tmp)?;
    f.write_all(data)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, &path)?;
    Ok(path)
}

/// Creates `dir/name` durably: `fill` writes a temp file, which is fsynced and renamed into place;
/// the caller fsyncs `dir`. A failed `fill` leaves no file.
pub fn create_file<T, E: From<std::io::Error>>(
    dir: &Path,
    name: &str,
    fill: impl FnOnce(&mut std::io::BufWriter<File>) -> Result<T, E>,
) -> Result<T, E> {
    let path = dir.join(name);
    let tmp = dir.join(format!(".{name}.tmp"));
    let mut w = std::io::BufWriter::new(File::create(&tmp)?);
    let filled = fill(&mut w).and_then(|t| {
        let f = w.into_inner().map_err(|e| e.into_error())?;
        f.sync_all()?;
        Ok(t)
    });
    match filled {
        Ok(t) => {
            fs::rename(&tmp, &path)?;
            Ok(t)
        }
        Err(e) => {
            let _ = fs::remove_file(&tmp);
            Err(e)
        }
    }
}

type Completion = Box<dyn FnOnce(Result<(), Error>) + Send>;
type Job = Box<dyn FnOnce(&Connection) -> (bool, Completion) + Send>;

/// Longest batch the writer commits at once.
const MAX_BATCH: usize = 512;

/// The shared handle to the database.
#[derive(Clone)]
pub struct Db {
    writer: std_mpsc::Sender<Job>,
    readers: Arc<Vec<Mutex<Connection>>>,
    paths: Arc<Paths>,
    spool: Arc<spool::Spool>,
}

impl std::fmt::Debug for Db {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Db").field("paths", &self.paths).finish()
    }
}

impl Db {
    /// Opens the database (migrating it), removes files left by interrupted writes, and starts the
    /// writer thread. The returned handle joins the writer when every `Db` clone is dropped.
    pub fn open(
        paths: &Paths,
        readers: usize,
    ) -> Result<(Self, std::thread::JoinHandle<()>), Error> {
        let conn = connect(paths)?;
        fs::create_dir_all(&paths.media)?;
        remove_orphans(&conn, &paths.media)?;
        let (spool, removed) = spool::Spool::open(&paths.media, &named_segments(&conn)?)?;
        if removed > 0 {
            info!(removed, "removed spool segments no message names");
        }
        remove_unfinished(&[&paths.recordings, &paths.live]);
        let mut pool = Vec::new();
        for _ in 0..readers.max(1) {
            pool.push(Mutex::new(connect(paths)?));
        }
        let (tx, rx) = std_mpsc::channel::<Job>();
        let media = paths.media.clone();
        let writer_spool = spool.clone();
        let handle = std::thread::Builder::new()
            .name("db-writer".into())
            .spawn(move || writer_loop(&conn, &rx, &media, &writer_spool))?;
        Ok((
            Self {
                writer: tx,
                readers: Arc::new(pool),
                paths: Arc::new(paths.clone()),
                spool,
            },
            handle,
        ))
    }

    /// The upload spool, synced by every group commit.
    pub fn spool(&self) -> &Arc<spool::Spool> {
        &self.spool
    }

    /// Removes the spool segments no append is waiting on and no row names any more. Called
    /// after rows stop naming a segment (transcoded, failed, deleted), closing the current
    /// segment if nothing is being appended to it, and after an append closes a segment.
    pub async fn collect_spool(&self, close_current: bool) {
        if close_current {
            self.spool.close_if_unpinned();
        }
        let candidates = self.spool.candidates();
        if candidates.is_empty() {
            return;
        }
        let unnamed = self
            .read(move |c| {
                let mut stmt =
                    c.prepare_cached("SELECT 1 FROM messages WHERE raw_file = ?1 LIMIT 1")?;
                let mut out = Vec::new();
                for seq in candidates {
                    if !stmt.exists([spool::segment_name(seq)])? {
                        out.push(seq);
                    }
                }
                Ok(out)
            })
            .await;
        match unnamed {
            Ok(unnamed) => {
                for seq in unnamed {
                    self.spool.remove(seq);
                    debug!(segment = seq, "spool segment removed");
                }
            }
            Err(e) => warn!(error = %e, "cannot check the spool's segments"),
        }
    }

    /// The data directory's layout.
    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    /// Runs `f` in the next group commit; resolves once the commit is durable.
    pub async fn write<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    {
        self.write_holding((), f).await
    }

    /// [`write`](Self::write), keeping `guard` alive until the commit has succeeded or failed,
    /// even if the caller stops waiting (a spool [`Pin`](spool::Pin) must outlive the commit of
    /// the row that names its upload).
    pub async fn write_holding<T, F, G>(&self, guard: G, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
        G: Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let r = f(conn);
            let ok = r.is_ok();
            let done: Completion = Box::new(move |commit| {
                drop(guard);
                let _ = tx.send(commit.and(r));
            });
            (ok, done)
        });
        self.writer.send(job).map_err(|_| Error::Closed)?;
        rx.await.map_err(|_| Error::Closed)?
    }

    /// Runs `f` on a read connection off the async threads.
    pub async fn read<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Error> + Send + 'static,
    {
        let readers = self.readers.clone();
        tokio::task::spawn_blocking(move || read_on(&readers, f))
            .await
            .map_err(|_| Error::Closed)?
    }

    /// Runs `f` on a read connection on this thread, for code already off the async threads.
    pub fn read_blocking<T>(
        &self,
        f: impl FnOnce(&Connection) -> Result<T, Error>,
    ) -> Result<T, Error> {
        read_on(&self.readers, f)
    }
}

/// Runs `f` on the first free reader, or waits for the first one.
fn read_on<T>(
    readers: &[Mutex<Connection>],
    f: impl FnOnce(&Connection) -> Result<T, Error>,
) -> Result<T, Error> {
    let guard = readers
        .iter()
        .find_map(|m| m.try_lock().ok())
        .unwrap_or_else(|| readers[0].lock().unwrap_or_else(|p| p.into_inner()));
    f(&guard)
}

fn writer_loop(
    conn: &Connection,
    rx: &std_mpsc::Receiver<Job>,
    media: &Path,
    spool: &spool::Spool,
) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let n = jobs.len();
        let result = run_batch(conn, jobs, media, spool);
        debug!(jobs = n, ok = result.is_ok(), "group commit");
    }
    debug!("db writer stopped");
}

fn run_batch(
    conn: &Connection,
    jobs: Vec<Job>,
    media: &Path,
    spool: &spool::Spool,
) -> Result<(), ()> {
    let mut completions = Vec::with_capacity(jobs.len());
    if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
        warn!(error = %e, "cannot begin a write transaction");
        // Run nothing: dropping the jobs answers every caller with an error.
        drop(jobs);
        return Err(());
    }
    for job in jobs {
        if conn.execute_batch("SAVEPOINT job").is_err() {
            continue;
        }
        let (ok, done) = job(conn);
        let end = if ok {
            "RELEASE job"
        } else {
            "ROLLBACK TO job; RELEASE job"
        };
        if let Err(e) = conn.execute_batch(end) {
            warn!(error = %e, "savepoint");
        }
        completions.push(done);
    }
    // Spooled uploads become durable here, with one fdatasync per segment written; files were
    // fsynced by their writers and their directory entries become durable here too, all before
    // the rows naming them commit.
    let commit = spool
        .sync()
        .and_then(|()| sync_dir(media))
        .map_err(Error::from)
        .and_then(|()| conn.execute_batch("COMMIT").map_err(Error::from));
    let failed = commit.is_err();
    if failed {
        let _ = conn.execute_batch("ROLLBACK");
    }
    for done in completions {
        done(match &commit {
            Ok(()) => Ok(()),
            Err(e) => Err(commit_failed(e)),
        });
    }
    if failed { Err(()) } else { Ok(()) }
}

/// What each job of a batch whose commit failed is told: a full disk stays a full disk (an
/// upload refused for it is 507, not 500), whichever write found it (the spool's, the
/// directory's or the database's own).
fn commit_failed(e: &Error) -> Error {
    let message = format!("commit failed: {e}");
    if e.is_storage_full() {
        Error::Io(std::io::Error::new(
            std::io::ErrorKind::StorageFull,
            message,
        ))
    } else {
        Error::Invalid(message)
    }
}

/// Deletes media files no committed row names: temp files of interrupted writes, and files written
/// for uploads whose transaction never committed.
fn remove_orphans(conn: &Connection, media: &Path) -> Result<(), Error> {
    let mut named = std::collections::HashSet::new();
    let mut stmt = conn.prepare(
        "SELECT audio_file FROM messages WHERE audio_file IS NOT NULL
         UNION ALL SELECT raw_file FROM messages WHERE raw_file IS NOT NULL
         UNION ALL SELECT file FROM attachments",
    )?;
    for f in stmt.query_map([], |r| r.get::<_, String>(0))? {
        named.insert(f?);
    }
    let mut removed = 0u64;
    for entry in fs::read_dir(media)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            // The spool, swept by `Spool::open`.
            continue;
        }
        let name = entry.file_name().to_string_lossy().into_owned();
        if !named.contains(&name) {
            fs::remove_file(entry.path())?;
            removed += 1;
        }
    }
    if removed > 0 {
        sync_dir(media)?;
        info!(removed, "removed media files of uncommitted writes");
    }
    Ok(())
}

/// The spool segments committed rows name.
fn named_segments(conn: &Connection) -> Result<std::collections::BTreeSet<u64>, Error> {
    let mut stmt = conn.prepare(
        "SELECT DISTINCT raw_file FROM messages WHERE raw_file IS NOT NULL AND raw_offset IS NOT NULL",
    )?;
    let names = stmt.query_map([], |r| r.get::<_, String>(0))?;
    let mut out = std::collections::BTreeSet::new();
    for n in names {
        out.extend(spool::segment_of(&n?));
    }
    Ok(out)
}

/// Removes recordings and live streams a previous run left unfinished (it was killed, or the
/// machine lost power): nothing in them was acknowledged to anyone, and a call number reused
/// by this run must not find its file taken. Counted in the log.
fn remove_unfinished(dirs: &[&Path]) {
    for dir in dirs {
        let Ok(entries) = fs::read_dir(dir) else {
            continue;
        };
        let (mut files, mut bytes) = (0u64, 0u64);
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_some_and(|x| x == "wav") {
                bytes += e.metadata().map(|m| m.len()).unwrap_or(0);
                match fs::remove_file(&path) {
                    Ok(()) => files += 1,
                    Err(err) => {
                        warn!(file = %path.display(), error = %err, "cannot remove an unfinished recording")
                    }
                }
            }
        }
        if files > 0 {
            warn!(dir = %dir.display(), files, bytes, "removed recordings left unfinished by the previous run (never acknowledged)");
        }
    }
}

#[cfg(test)]
mod deletion_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_commit_that_found_the_disk_full_says_so() {
        let io = |kind| Error::Io(std::io::Error::from(kind));
        let full =
            |e: &Error| matches!(e, Error::Io(io) if io.kind() == std::io::ErrorKind::StorageFull);
        assert!(full(&commit_failed(&io(std::io::ErrorKind::StorageFull))));
        assert!(full(&commit_failed(&io(std::io::ErrorKind::QuotaExceeded))));
        let sqlite_full = Error::Sqlite(rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
            None,
        ));
        assert!(full(&commit_failed(&sqlite_full)));
        let other = commit_failed(&io(std::io::ErrorKind::PermissionDenied));
        assert!(matches!(other, Error::Invalid(m) if m.starts_with("commit failed: ")));
    }

    #[tokio::test]
    async fn group_commit_isolates_failing_jobs() {
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        let (db, _h) = Db::open(&paths, 1).unwrap();
        let a = db.write(|c| {
            c.execute("INSERT INTO meta VALUES ('a', '1')", [])?;
            Ok(())
        });
        let b = db.write(|c| {
            c.execute("INSERT INTO meta VALUES ('b', '1')", [])?;
            Err::<(), _>(Error::Invalid("no".into()))
        });
        let (a, b) = tokio::join!(a, b);
        assert!(a.is_ok());
        assert!(b.is_err());
        let n: i64 = db
            .read(|c| Ok(c.query_row("SELECT count(*) FROM meta", [], |r| r.get(0))?))
            .await
            .unwrap();
        assert_eq!(n, 1);
    }

    /// A request dropped while its row waits for the group commit (a client that hung up) must
    /// not release its spool pin before that row has committed.
    #[tokio::test]
    async fn a_held_guard_outlives_the_commit_even_if_the_caller_stops_waiting() {
        struct Guard(std_mpsc::Sender<()>);
        impl Drop for Guard {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        let dir = tempfile::tempdir().unwrap();
        let (db, _h) = Db::open(&Paths::new(dir.path()), 1).unwrap();
        let (tx, dropped) = std_mpsc::channel();
        let write = db.write_holding(Guard(tx), |c| {
            c.execute("INSERT INTO meta VALUES ('held', '1')", [])?;
            Ok(())
        });
        // Polled once (the job is queued), then abandoned.
        let mut write = Box::pin(write);
        std::future::poll_fn(|cx| {
            let _ = write.as_mut().poll(cx);
            std::task::Poll::Ready(())
        })
        .await;
        drop(write);
        let db2 = db.clone();
        tokio::task::spawn_blocking(move || {
            dropped
                .recv_timeout(std::time::Duration::from_secs(10))
                .unwrap();
            drop(db2);
        })
        .await
        .unwrap();
        let n: i64 = db
            .read(|c| {
                Ok(
                    c.query_row("SELECT count(*) FROM meta WHERE key = 'held'", [], |r| {
                        r.get(0)
                    })?,
                )
            })
            .await
            .unwrap();
        assert_eq!(n, 1, "the guard was dropped before its row committed");
    }

    #[test]
    fn key_is_created_once_with_0600() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let paths = Paths::new(dir.path());
        let k1 = load_or_create_key(&paths).unwrap();
        let k2 = load_or_create_key(&paths).unwrap();
        assert_eq!(k1.to_bytes(), k2.to_bytes());
        let mode = fs::metadata(&paths.key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
