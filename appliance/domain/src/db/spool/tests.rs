use super::*;

impl Spool {
    fn read(&self, stored: &Stored) -> std::io::Result<Vec<u8>> {
        let mut out = Vec::new();
        self.open_upload(stored)?.read_to_end(&mut out)?;
        Ok(out)
    }
}

#[test]
fn names_round_trip_and_foreign_names_are_refused() {
    assert_eq!(segment_name(0x2a), "spool/000000000000002a.seg");
    assert_eq!(segment_of(&segment_name(0x2a)), Some(0x2a));
    assert_eq!(segment_of("spool/2a.seg"), None);
    assert_eq!(segment_of("abc.raw"), None);
    assert_eq!(segment_of("spool/000000000000002g.seg"), None);
}

#[test]
fn appends_read_back_and_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(dir.path(), &BTreeSet::new()).unwrap();
    let a = spool.append(b"first upload").unwrap();
    let b = spool.append(&[7u8; 1000]).unwrap();
    assert_eq!(a.stored.file, b.stored.file, "one segment");
    assert_eq!((a.stored.offset, b.stored.offset), (0, 12));
    spool.sync().unwrap();
    assert_eq!(spool.usage(), (1, 1012));
    assert_eq!(spool.read(&a.stored).unwrap(), b"first upload");
    assert_eq!(spool.read(&b.stored).unwrap(), vec![7u8; 1000]);
}

#[test]
fn a_full_segment_is_closed_and_removable_once_unpinned() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open_sized(dir.path(), &BTreeSet::new(), 1000).unwrap();
    let big = vec![1u8; 990];
    let a = spool.append(&big).unwrap();
    let b = spool.append(b"does not fit").unwrap();
    assert_ne!(a.stored.file, b.stored.file);
    assert!(spool.candidates().is_empty(), "pinned and current");
    drop(a);
    let closed = segment_of(&spool_file(&spool, 0)).unwrap();
    assert_eq!(spool.candidates(), vec![closed]);
    spool.remove(closed);
    assert_eq!(spool.segments().len(), 1);
    spool.sync().unwrap();
    assert_eq!(spool.read(&b.stored).unwrap(), b"does not fit");
}

fn spool_file(spool: &Spool, n: usize) -> String {
    segment_name(spool.segments()[n])
}

#[test]
fn the_current_segment_closes_only_when_unpinned() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(dir.path(), &BTreeSet::new()).unwrap();
    let a = spool.append(b"one").unwrap();
    spool.close_if_unpinned();
    assert!(spool.candidates().is_empty(), "pinned: still current");
    let seq = segment_of(&a.stored.file).unwrap();
    drop(a);
    spool.close_if_unpinned();
    assert_eq!(spool.candidates(), vec![seq]);
    let b = spool.append(b"two").unwrap();
    assert!(!b.closed_one, "nothing was open to close");
    assert_ne!(segment_of(&b.stored.file), Some(seq));
}

#[test]
fn reopening_closes_segments_and_removes_the_unnamed() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(dir.path(), &BTreeSet::new()).unwrap();
    let a = spool.append(b"kept").unwrap();
    spool.sync().unwrap();
    let seq = segment_of(&a.stored.file).unwrap();
    drop((a, spool));
    let (spool, _) = Spool::open(dir.path(), &BTreeSet::new()).unwrap();
    assert!(spool.segments().is_empty(), "unnamed: removed");
    let b = spool.append(b"again").unwrap();
    let seq_b = segment_of(&b.stored.file).unwrap();
    assert!(seq_b > seq, "numbers are not reused");
    spool.sync().unwrap();
    let stored = b.stored.clone();
    drop((b, spool));
    let (spool, removed) = Spool::open(dir.path(), &BTreeSet::from([seq_b])).unwrap();
    assert_eq!(removed, 0);
    assert_eq!(spool.usage(), (1, 5), "sized from the file");
    assert_eq!(spool.read(&stored).unwrap(), b"again");
    assert_eq!(spool.candidates(), vec![seq_b], "closed by the restart");
    let c = spool.append(b"new").unwrap();
    assert_ne!(segment_of(&c.stored.file), Some(seq_b));
}

/// Writers append, "commit" (sync, then name the upload) and later "transcode" (read back,
/// then unname) while a collector closes and removes segments, as the server does: no named
/// upload is ever lost or altered, and the spool ends with only named segments.
#[test]
fn concurrent_appends_syncs_and_collection_never_lose_a_named_upload() {
    use std::collections::HashMap;
    use std::sync::atomic::{AtomicBool, Ordering};
    type Named = Mutex<HashMap<u64, Vec<(Stored, Vec<u8>)>>>;
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open_sized(dir.path(), &BTreeSet::new(), 8 * 1024).unwrap();
    let named: Arc<Named> = Arc::default();
    let done = Arc::new(AtomicBool::new(false));
    let collector = {
        let (spool, named, done) = (spool.clone(), named.clone(), done.clone());
        std::thread::spawn(move || {
            let mut removed = 0;
            while !done.load(Ordering::Relaxed) {
                spool.close_if_unpinned();
                for seq in spool.candidates() {
                    let is_named = named
                        .lock()
                        .unwrap()
                        .get(&seq)
                        .is_some_and(|v| !v.is_empty());
                    if !is_named {
                        spool.remove(seq);
                        removed += 1;
                    }
                }
                std::thread::yield_now();
            }
            removed
        })
    };
    let writers: Vec<_> = (0..4u8)
        .map(|w| {
            let (spool, named) = (spool.clone(), named.clone());
            std::thread::spawn(move || {
                let mut mine: Vec<(u64, Stored, Vec<u8>)> = Vec::new();
                for i in 0..400u32 {
                    let len = 100 + (i as usize * 37 + w as usize * 11) % 3000;
                    let data: Vec<u8> = (0..len).map(|k| (k as u32 ^ i) as u8 ^ w).collect();
                    let pin = spool.append(&data).unwrap();
                    spool.sync().unwrap();
                    let seq = segment_of(&pin.stored.file).unwrap();
                    named
                        .lock()
                        .unwrap()
                        .entry(seq)
                        .or_default()
                        .push((pin.stored.clone(), data.clone()));
                    mine.push((seq, pin.stored.clone(), data));
                    drop(pin);
                    if i % 3 == 0 {
                        let (seq, stored, data) = mine.remove(0);
                        assert_eq!(spool.read(&stored).unwrap(), data, "named upload altered");
                        let mut n = named.lock().unwrap();
                        let list = n.get_mut(&seq).unwrap();
                        let at = list.iter().position(|(s, _)| *s == stored).unwrap();
                        list.remove(at);
                    }
                }
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    done.store(true, Ordering::Relaxed);
    let removed = collector.join().unwrap();
    assert!(
        removed > 0,
        "nothing was collected: the test tested nothing"
    );
    let named = named.lock().unwrap();
    for list in named.values() {
        for (stored, data) in list {
            assert_eq!(&spool.read(stored).unwrap(), data);
        }
    }
    let still: BTreeSet<u64> = named
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, _)| *k)
        .collect();
    spool.close_if_unpinned();
    for seq in spool.candidates() {
        if !still.contains(&seq) {
            spool.remove(seq);
        }
    }
    assert_eq!(spool.segments().into_iter().collect::<BTreeSet<_>>(), still);
}

/// The files under `dir` this process holds open (from `/proc/self/fd`; other tests' files
/// are elsewhere).
fn open_handles(dir: &Path) -> usize {
    let dir = dir.canonicalize().unwrap();
    fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(&dir))
        .count()
}

#[test]
fn a_segment_is_held_open_only_while_it_takes_appends_or_waits_for_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open_sized(dir.path(), &BTreeSet::new(), 1000).unwrap();
    let a = spool.append(&[1; 600]).unwrap();
    let b = spool.append(&[2; 600]).unwrap();
    assert_eq!(open_handles(dir.path()), 2);
    drop((a, b));
    assert_eq!(open_handles(dir.path()), 2, "the first is not synced yet");
    spool.sync().unwrap();
    assert_eq!(open_handles(dir.path()), 1, "the current one stays open");
    spool.close_if_unpinned();
    assert_eq!(open_handles(dir.path()), 0);
    // A closed segment still pinned stays open after its sync, and closes with its last pin.
    let c = spool.append(&[3; 990]).unwrap();
    let e = spool.append(&[4; 20]).unwrap();
    spool.sync().unwrap();
    assert_eq!(open_handles(dir.path()), 2);
    drop(c);
    assert_eq!(open_handles(dir.path()), 1);
    drop(e);
    spool.close_if_unpinned();
    assert_eq!(open_handles(dir.path()), 0);
    assert_eq!(spool.segments().len(), 4);
}

#[test]
fn a_closed_segment_stays_while_an_append_into_it_waits_for_its_commit() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open_sized(dir.path(), &BTreeSet::new(), 1000).unwrap();
    let a = spool.append(&[1; 990]).unwrap();
    spool.sync().unwrap();
    let b = spool.append(&[2; 20]).unwrap();
    assert!(b.closed_one);
    let first = segment_of(&a.stored.file).unwrap();
    assert!(spool.candidates().is_empty(), "a's row has not committed");
    spool.remove(first);
    assert_eq!(spool.read(&a.stored).unwrap(), [1; 990], "not removed");
    drop(a);
    assert_eq!(spool.candidates(), [first]);
    spool.remove(first);
    assert_eq!(spool.segments(), [segment_of(&b.stored.file).unwrap()]);
    assert!(!dir.path().join(segment_name(first)).exists());
}

#[test]
fn the_current_segment_is_never_removed() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(dir.path(), &BTreeSet::new()).unwrap();
    let a = spool.append(b"upload").unwrap();
    let seq = segment_of(&a.stored.file).unwrap();
    drop(a);
    spool.sync().unwrap();
    spool.remove(seq);
    assert_eq!(spool.segments(), [seq]);
    let b = spool.append(b"next").unwrap();
    assert_eq!(segment_of(&b.stored.file), Some(seq), "still current");
    assert_eq!(spool.usage(), (1, 10));
}

#[test]
fn uploads_that_exactly_fill_a_segment_share_it_and_a_large_one_gets_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open_sized(dir.path(), &BTreeSet::new(), 1000).unwrap();
    let a = spool.append(&[1; 400]).unwrap();
    let b = spool.append(&[2; 600]).unwrap();
    assert_eq!(a.stored.file, b.stored.file);
    assert_eq!(b.stored.offset, 400);
    assert!(!b.closed_one);
    let c = spool.append(&[3; 1]).unwrap();
    assert_ne!(c.stored.file, b.stored.file, "full");
    assert!(c.closed_one);
    // Larger than a segment: alone in the next one, and the one after is new again.
    let d = spool.append(&[4; 2500]).unwrap();
    let e = spool.append(&[5; 1]).unwrap();
    let files: BTreeSet<_> = [&c, &d, &e].iter().map(|p| p.stored.file.clone()).collect();
    assert_eq!(files.len(), 3);
    assert_eq!((d.stored.offset, d.stored.len), (0, 2500));
    spool.sync().unwrap();
    assert_eq!(spool.usage(), (4, 1000 + 1 + 2500 + 1));
    assert_eq!(spool.read(&d.stored).unwrap(), vec![4; 2500]);
}

#[test]
fn start_up_removes_every_unnamed_file_and_never_reuses_a_named_number() {
    let dir = tempfile::tempdir().unwrap();
    let spool_dir = dir.path().join(DIR);
    fs::create_dir_all(&spool_dir).unwrap();
    // Left by a crash: two segments no row names, one that a row names, and a stray file.
    for seq in [1u64, 2, 3] {
        fs::write(spool_dir.join(file_name(seq)), [seq as u8; 7]).unwrap();
    }
    fs::write(spool_dir.join("0000000000000004.seg.tmp"), b"x").unwrap();
    // A row also names segment 9, whose file is gone.
    let (spool, removed) = Spool::open(dir.path(), &BTreeSet::from([2, 9])).unwrap();
    assert_eq!(removed, 3);
    let left: Vec<_> = fs::read_dir(&spool_dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(left, [file_name(2)]);
    assert_eq!(spool.usage(), (1, 7));
    assert_eq!(spool.candidates(), [2], "closed by the restart");
    let a = spool.append(b"new").unwrap();
    assert_eq!(a.stored.file, segment_name(10));
    drop((a, spool));
    let (_, removed) = Spool::open(dir.path(), &BTreeSet::from([2])).unwrap();
    assert_eq!(removed, 1, "the new, unnamed one");
}

#[test]
fn a_failed_sync_is_retried_whole_until_it_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let (spool, _) = Spool::open(dir.path(), &BTreeSet::new()).unwrap();
    let a = spool.append(b"upload").unwrap();
    // The spool directory cannot be synced (here: it is gone): the new segment's name is not
    // durable, so the sync fails, and keeps failing while that is so.
    let spool_dir = dir.path().join(DIR);
    fs::rename(&spool_dir, dir.path().join("elsewhere")).unwrap();
    assert!(spool.sync().is_err());
    assert!(spool.sync().is_err(), "the directory still needs its sync");
    fs::rename(dir.path().join("elsewhere"), &spool_dir).unwrap();
    spool.sync().unwrap();
    drop(a);
    spool.close_if_unpinned();
    assert_eq!(open_handles(dir.path()), 0, "synced, so no longer held");
    spool.sync().unwrap();
}
