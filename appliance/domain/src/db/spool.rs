//! The upload spool: sealed uploads appended to shared segment files, made durable by the group
//! commit with one `fdatasync` per segment written, instead of one file, `fsync` and rename per
//! upload.
//!
//! A segment is `media/spool/<seq>.seg` (16 hex digits). Uploads are appended to the current
//! segment at offsets handed out under a lock and written in parallel; a full segment (past
//! [`SEGMENT_BYTES`]) is closed and the next append opens a new one. A message row names its
//! upload as `spool/<seq>.seg` with its offset (`raw_offset`) and length (`audio_bytes`).
//!
//! Durability: the writer thread calls [`Spool::sync`] before each `COMMIT`. It `fdatasync`s every
//! segment written since the last call and, if a segment was created, the spool directory. A
//! write completes before its row's job is queued, so every row in a batch names bytes that are
//! durable before the batch commits. Bytes whose row never committed (a failed request, a crash)
//! are never named and go with their segment.
//!
//! Space: a segment is removed once it is not the current one, no append into it is still
//! waiting for its commit (its *pin*), and no row names it. [`Spool::candidates`] lists the
//! segments that pass the first two tests; the caller checks the rows. Whenever uploads stop
//! being needed (transcoded, failed, deleted) the current segment is closed if nothing is being
//! appended to it, so a quiet spool empties rather than keeping sealed uploads until a segment
//! fills. At start-up every segment is closed, and those no row names are removed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use tracing::warn;

/// A segment is closed once an append would take it past this size (an upload larger than it
/// gets a segment of its own).
pub const SEGMENT_BYTES: u64 = 64 << 20;

/// The directory of the spool, under the media directory.
pub const DIR: &str = "spool";

/// Where an upload was stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// The segment's name relative to the media directory (`spool/<seq>.seg`), as rows keep it.
    pub file: String,
    /// The offset of the upload in the segment.
    pub offset: u64,
    /// Its length.
    pub len: u64,
}

/// The spool of a data directory.
#[derive(Debug)]
pub struct Spool {
    dir: PathBuf,
    segment_bytes: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// The segment appends go to.
    current: Option<u64>,
    /// Segments open for writing or with writes not yet synced.
    open: BTreeMap<u64, Open>,
    /// Every segment on disk, with the bytes handed out in it.
    on_disk: BTreeMap<u64, u64>,
    /// The next segment's number.
    next: u64,
    /// A segment was created since the last sync: the directory needs an fsync.
    created: bool,
}

#[derive(Debug)]
struct Open {
    file: Arc<File>,
    /// Written since the last sync.
    dirty: bool,
    /// Appends whose rows have not yet committed (or failed).
    pins: usize,
}

/// An append waiting for its row's commit; the segment it is in is kept until it is dropped.
#[derive(Debug)]
pub struct Pin {
    spool: Arc<Spool>,
    seq: u64,
    /// Where the upload is.
    pub stored: Stored,
    /// This append closed the segment before its own, which may now be removable.
    pub closed_one: bool,
}

impl Drop for Pin {
    fn drop(&mut self) {
        let mut s = self.spool.lock();
        if let Some(o) = s.open.get_mut(&self.seq) {
            o.pins = o.pins.saturating_sub(1);
        }
        s.forget_idle(self.seq);
    }
}

/// The file name of segment `seq` in the spool directory.
fn file_name(seq: u64) -> String {
    format!("{seq:016x}.seg")
}

/// The number of the segment whose file in the spool directory is `name`.
fn file_seq(name: &str) -> Option<u64> {
    let hex = name.strip_suffix(".seg")?;
    if hex.len() != 16 {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

/// The name of segment `seq` relative to the media directory, as rows keep it.
pub fn segment_name(seq: u64) -> String {
    format!("{DIR}/{}", file_name(seq))
}

/// The number of the segment a row names, if it names one.
pub fn segment_of(file: &str) -> Option<u64> {
    file_seq(file.strip_prefix(DIR)?.strip_prefix('/')?)
}

impl State {
    /// Drops the handle of a segment that is closed, synced and unpinned.
    fn forget_idle(&mut self, seq: u64) {
        let closed = self.current != Some(seq);
        if closed && self.open.get(&seq).is_some_and(|o| !o.dirty && o.pins == 0) {
            self.open.remove(&seq);
        }
    }
}

impl Spool {
    /// Opens the spool under `media`: every segment left by an earlier run is closed (no more
    /// appends go to it), and those `named` does not hold are removed. Returns the spool and the
    /// segments removed.
    pub fn open(media: &Path, named: &BTreeSet<u64>) -> std::io::Result<(Arc<Self>, usize)> {
        Self::open_sized(media, named, SEGMENT_BYTES)
    }

    /// [`open`](Self::open), closing segments at `segment_bytes` instead of [`SEGMENT_BYTES`].
    pub fn open_sized(
        media: &Path,
        named: &BTreeSet<u64>,
        segment_bytes: u64,
    ) -> std::io::Result<(Arc<Self>, usize)> {
        let dir = media.join(DIR);
        fs::create_dir_all(&dir)?;
        // Numbers are never reused while a row names them, even if its segment went missing.
        let mut state = State {
            next: named.last().map_or(0, |n| n.saturating_add(1)),
            ..State::default()
        };
        let mut removed = 0;
        for entry in fs::read_dir(&dir)? {
            let entry = entry?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(seq) = file_seq(&name) {
                state.next = state.next.max(seq.saturating_add(1));
                if named.contains(&seq) {
                    state.on_disk.insert(seq, entry.metadata()?.len());
                    continue;
                }
            }
            fs::remove_file(entry.path())?;
            removed += 1;
        }
        if removed > 0 {
            super::sync_dir(&dir)?;
        }
        // The directory itself (created above) must survive before a row names a file in it.
        super::sync_dir(media)?;
        Ok((
            Arc::new(Self {
                dir,
                segment_bytes,
                state: Mutex::new(state),
            }),
            removed,
        ))
    }

    fn path(&self, seq: u64) -> PathBuf {
        self.dir.join(file_name(seq))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Appends `data`. The bytes are written (not yet durable) when this returns; they are
    /// durable once the next [`sync`](Self::sync) returns. The returned pin must live until the
    /// row naming the upload has committed or failed.
    pub fn append(self: &Arc<Self>, data: &[u8]) -> std::io::Result<Pin> {
        let len = data.len() as u64;
        let (seq, offset, file, closed_one) = {
            let mut s = self.lock();
            let mut closed_one = false;
            let used = s.current.and_then(|c| s.on_disk.get(&c).copied());
            let full =
                used.is_none_or(|used| used > 0 && used.saturating_add(len) > self.segment_bytes);
            if full {
                let seq = s.next;
                let file = File::options()
                    .write(true)
                    .read(true)
                    .create_new(true)
                    .open(self.path(seq))?;
                s.next += 1;
                s.created = true;
                s.on_disk.insert(seq, 0);
                let old = s.current.replace(seq);
                s.open.insert(
                    seq,
                    Open {
                        file: Arc::new(file),
                        dirty: false,
                        pins: 0,
                    },
                );
                if let Some(old) = old {
                    s.forget_idle(old);
                    closed_one = true;
                }
            }
            let Some(seq) = s.current else {
                return Err(std::io::Error::other("no current segment"));
            };
            let used = s
                .on_disk
                .get_mut(&seq)
                .ok_or_else(|| std::io::Error::other("current segment not on disk"))?;
            let offset = *used;
            *used += len;
            let open = s
                .open
                .get_mut(&seq)
                .ok_or_else(|| std::io::Error::other("current segment not open"))?;
            open.pins += 1;
            (seq, offset, open.file.clone(), closed_one)
        };
        let pin = Pin {
            spool: self.clone(),
            seq,
            stored: Stored {
                file: segment_name(seq),
                offset,
                len,
            },
            closed_one,
        };
        // Written outside the lock: appends to one segment go on in parallel at their own
        // offsets. If it fails, the bytes handed out stay a hole no row names.
        file.write_all_at(data, offset)?;
        if let Some(o) = self.lock().open.get_mut(&seq) {
            o.dirty = true;
        }
        Ok(pin)
    }

    /// Makes every completed append durable: `fdatasync`s each segment written since the last
    /// call, then the directory if a segment was created.
    pub fn sync(&self) -> std::io::Result<()> {
        let (files, created) = {
            let mut s = self.lock();
            let mut files = Vec::new();
            let mut idle = Vec::new();
            for (seq, o) in &mut s.open {
                if o.dirty {
                    o.dirty = false;
                    files.push(o.file.clone());
                    idle.push(*seq);
                }
            }
            for seq in idle {
                s.forget_idle(seq);
            }
            (files, std::mem::take(&mut s.created))
        };
        let synced = files.iter().try_for_each(|f| f.sync_data()).and_then(|()| {
            if created {
                super::sync_dir(&self.dir)
            } else {
                Ok(())
            }
        });
        if synced.is_err() {
            // Nothing synced counts as synced: the next call tries again.
            let mut s = self.lock();
            s.created |= created;
            for o in s.open.values_mut() {
                o.dirty = true;
            }
        }
        synced
    }

    /// Closes the current segment if no append into it is waiting for its commit, so that it can
    /// be removed once its uploads are transcoded instead of lingering until it fills; the next
    /// append opens a new one.
    pub fn close_if_unpinned(&self) {
        let mut s = self.lock();
        if let Some(seq) = s.current
            && s.open.get(&seq).is_none_or(|o| o.pins == 0)
        {
            s.current = None;
            s.forget_idle(seq);
        }
    }

    /// Segments that may be removed if no row names them: closed, with no append waiting for
    /// its commit. A segment closed and unpinned stays so, so the caller may check the rows after
    /// this returns.
    pub fn candidates(&self) -> Vec<u64> {
        let s = self.lock();
        s.on_disk
            .keys()
            .copied()
            .filter(|seq| s.current != Some(*seq))
            .filter(|seq| s.open.get(seq).is_none_or(|o| o.pins == 0))
            .collect()
    }

    /// Removes segment `seq`, which must be a [`candidates`](Self::candidates) entry no committed
    /// row names. Losing the removal in a crash is harmless: start-up removes unnamed segments.
    pub fn remove(&self, seq: u64) {
        let mut s = self.lock();
        if s.current == Some(seq) || s.open.get(&seq).is_some_and(|o| o.pins > 0) {
            return;
        }
        s.open.remove(&seq);
        if s.on_disk.remove(&seq).is_some() {
            let path = self.path(seq);
            if let Err(e) = fs::remove_file(&path) {
                warn!(file = %path.display(), error = %e, "cannot remove a spool segment");
            }
        }
    }

    /// Opens an upload for reading, as a stream of its bytes.
    pub fn open_upload(&self, stored: &Stored) -> std::io::Result<impl Read + use<>> {
        let seq = segment_of(&stored.file).ok_or_else(|| {
            std::io::Error::other(format!("{} is not a spool segment", stored.file))
        })?;
        let mut file = File::open(self.path(seq))?;
        file.seek(SeekFrom::Start(stored.offset))?;
        Ok(BufReader::new(file.take(stored.len)))
    }

    /// Segments on disk, oldest first.
    pub fn segments(&self) -> Vec<u64> {
        self.lock().on_disk.keys().copied().collect()
    }

    /// The segments on disk and the bytes they hold (for `/metrics`).
    pub fn usage(&self) -> (usize, u64) {
        let s = self.lock();
        (s.on_disk.len(), s.on_disk.values().sum())
    }
}

#[cfg(test)]
mod tests;
