//! The backup format (round trips, and every kind of damage refused) and backup/restore of a
//! data directory, with cheap key derivation.

use std::fs;
use std::io::{Cursor, Write};
use std::path::Path;

use proptest::prelude::*;
use uuid::Uuid;

use super::format::{self, HEADER_LEN, Kdf, KdfLimits, Reader, Writer};
use super::{Error, apply_staged, create, restore, stage, verify_tree};
use crate::audio::SealKey;
use crate::db::messages::{self, NewAttachment, NewMessage, Status};
use crate::db::users::{self, NewUser};
use crate::db::{self, Paths, spool};

const PASS: &[u8] = b"correct horse battery";

/// Limits that keep a damaged header's cost cheap too.
fn tight() -> KdfLimits {
    KdfLimits {
        max_m_cost: 64,
        max_t_cost: 2,
        max_p_cost: 1,
    }
}

fn archive(entries: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut w = Writer::new(Vec::new(), PASS, Kdf::insecure_for_tests()).unwrap();
    for (path, data) in entries {
        w.file(path, 0o600, data.len() as u64, &data[..]).unwrap();
    }
    w.finish().unwrap().0
}

/// Every entry of a backup, or the first error.
fn read_all(file: &[u8], pass: &[u8]) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let mut r = Reader::open(file, pass, &tight(), Some(file.len() as u64))?;
    let mut out = Vec::new();
    while let Some(e) = r.next_entry()? {
        let mut data = Vec::new();
        r.copy_body(&mut data)?;
        out.push((e.path, data));
    }
    Ok(out)
}

fn sample() -> Vec<(&'static str, Vec<u8>)> {
    vec![
        ("master.key", vec![7; 32]),
        (
            "offhook.db",
            (0..200_000u32).map(|i| (i % 251) as u8).collect(),
        ),
        ("media/a.audio", Vec::new()),
        ("media/spool/0000000000000000.seg", vec![1; 70_000]),
        ("tls/cert.pem", b"-----BEGIN".to_vec()),
    ]
}

#[test]
fn entries_round_trip() {
    let entries = sample();
    let file = archive(&entries);
    let back = read_all(&file, PASS).unwrap();
    let want: Vec<(String, Vec<u8>)> = entries
        .into_iter()
        .map(|(p, d)| (p.to_owned(), d))
        .collect();
    assert_eq!(back, want);
}

#[test]
fn a_wrong_passphrase_is_told_as_such() {
    let file = archive(&sample());
    let e = read_all(&file, b"not the passphrase").unwrap_err();
    assert!(matches!(e, Error::WrongPassphrase), "{e}");
    assert_eq!(e.to_string(), "wrong passphrase or not an Offhook backup");
}

#[test]
fn a_file_that_is_not_a_backup_says_so() {
    let e = read_all(b"SQLite format 3\0 and more than thirty-eight bytes", PASS).unwrap_err();
    assert!(matches!(e, Error::NotBackup), "{e}");
    let e = read_all(b"OHBACK", PASS).unwrap_err();
    assert!(matches!(e, Error::Truncated(_)), "{e}");
}

#[test]
fn absurd_key_derivation_costs_are_refused_before_any_work() {
    let mut file = archive(&sample());
    // 4 TiB of memory.
    file[10..14].copy_from_slice(&u32::MAX.to_be_bytes());
    let e = Reader::open(&file[..], PASS, &KdfLimits::default(), None).unwrap_err();
    assert!(
        matches!(e, Error::Kdf(ref m) if m.contains("offset 10")),
        "{e}"
    );
    let mut file = archive(&sample());
    file[14..18].copy_from_slice(&0u32.to_be_bytes());
    let e = Reader::open(&file[..], PASS, &KdfLimits::default(), None).unwrap_err();
    assert!(
        matches!(e, Error::Kdf(ref m) if m.contains("offset 14")),
        "{e}"
    );
}

#[test]
fn swapped_chunks_are_detected() {
    let file = archive(&sample());
    // Chunks of 64 KiB + 16 after the two headers.
    let start = HEADER_LEN + codecs::seal::PREAMBLE_LEN;
    let chunk = (64 << 10) + 16;
    assert!(file.len() > start + 3 * chunk);
    let mut swapped = file.clone();
    let (a, b) = (start..start + chunk, start + chunk..start + 2 * chunk);
    swapped[a.clone()].copy_from_slice(&file[b.clone()]);
    swapped[b].copy_from_slice(&file[a]);
    let e = read_all(&swapped, PASS).unwrap_err();
    assert!(matches!(e, Error::Damaged(_)), "{e}");
    // A chunk dropped.
    let mut dropped = file[..start + chunk].to_vec();
    dropped.extend_from_slice(&file[start + 2 * chunk..]);
    assert!(read_all(&dropped, PASS).is_err());
    // Data appended.
    let mut longer = file.clone();
    longer.extend_from_slice(&[0; 40]);
    assert!(read_all(&longer, PASS).is_err());
}

#[test]
fn paths_outside_the_data_dirs_known_places_are_refused() {
    for bad in [
        "../x",
        "/etc/passwd",
        "media/../../x",
        "media/./a",
        "media//a",
        "media",
        "media/spool",
        "media/a/b",
        "recordings/a.wav",
        "tls/a/b",
        "offhook.db/x",
        "",
        "media/a\0",
        // Shaped like a known place, but with a bad last component.
        "media/",
        "media/.",
        "media/..",
        "tls/..",
        "media/spool/",
        "media/spool/..",
    ] {
        assert!(format::check_path(bad).is_err(), "{bad:?} taken");
    }
    for good in [
        "offhook.db",
        "master.key",
        "media/x.audio",
        "media/spool/1.seg",
        "tls/key.pem",
    ] {
        format::check_path(good).unwrap();
    }
    let mut w = Writer::new(Vec::new(), PASS, Kdf::insecure_for_tests()).unwrap();
    assert!(matches!(
        w.file("../x", 0, 0, &b""[..]),
        Err(Error::Path { .. })
    ));
}

/// A backup whose plaintext archive is `plain`, sealed as the writer would.
fn sealed_archive(plain: &[u8]) -> Vec<u8> {
    let good = archive(&[]);
    let header: [u8; HEADER_LEN] = good[..HEADER_LEN].try_into().unwrap();
    let (kdf, salt) = format::parse_header(&header, &tight()).unwrap();
    let key = kdf.derive(PASS, &salt).unwrap();
    let mut out = header.to_vec();
    let mut w =
        codecs::seal::SealWriter::new(&key, &header, &mut out, codecs::seal::Compression::None)
            .unwrap();
    w.write_all(plain).unwrap();
    w.finish().unwrap();
    out
}

fn entry(path: &str, len: u64, body: &[u8]) -> Vec<u8> {
    let mut e = vec![b'F'];
    e.extend_from_slice(&(path.len() as u16).to_be_bytes());
    e.extend_from_slice(path.as_bytes());
    e.extend_from_slice(&0o600u32.to_be_bytes());
    e.extend_from_slice(&len.to_be_bytes());
    e.extend_from_slice(body);
    e
}

fn end(files: u64, bytes: u64) -> Vec<u8> {
    let mut e = vec![b'E'];
    e.extend_from_slice(&files.to_be_bytes());
    e.extend_from_slice(&bytes.to_be_bytes());
    e
}

#[test]
fn a_malformed_archive_inside_a_good_envelope_is_refused() {
    let cases: Vec<(Vec<u8>, &str)> = vec![
        ([entry("../../etc/x", 1, b"x"), end(1, 1)].concat(), "path"),
        (
            [
                entry("media/a", 1, b"x"),
                entry("media/a", 1, b"x"),
                end(2, 2),
            ]
            .concat(),
            "twice",
        ),
        (
            [entry("media/a", 1 << 40, b"x"), end(1, 1)].concat(),
            "claims",
        ),
        ([entry("media/a", 1, b"x"), end(2, 1)].concat(), "counts"),
        (
            [entry("media/a", 1, b"x"), end(1, 1), vec![0]].concat(),
            "after the end",
        ),
        (entry("media/a", 1, b"x"), "ends inside"),
        (vec![b'Z'], "tag"),
    ];
    for (plain, want) in cases {
        let file = sealed_archive(&plain);
        let e = read_all(&file, PASS).unwrap_err();
        assert!(e.to_string().contains(want), "{want}: {e}");
    }
}

/// `entry`, with its mode.
fn entry_with_mode(path: &str, mode: u32, body: &[u8]) -> Vec<u8> {
    let mut e = entry(path, body.len() as u64, body);
    let at = 1 + 2 + path.len();
    e[at..at + 4].copy_from_slice(&mode.to_be_bytes());
    e
}

#[test]
fn a_short_file_is_truncated_if_it_starts_as_a_backup_and_foreign_otherwise() {
    // Eight bytes or more of something else: not a backup, however short.
    let e = read_all(b"GIF89a, not a backup", PASS).unwrap_err();
    assert!(matches!(e, Error::NotBackup), "{e}");
    // The magic and a version, then nothing: a backup cut inside its header.
    let e = read_all(b"OHBACKUP\x01", PASS).unwrap_err();
    assert!(
        matches!(e, Error::Truncated(ref m) if m.contains("offset 9 inside its 38-byte header")),
        "{e}"
    );
}

#[test]
fn key_derivation_costs_at_the_limits_are_taken() {
    let mut header = archive(&[])[..HEADER_LEN].to_vec();
    let limits = tight();
    header[10..14].copy_from_slice(&limits.max_m_cost.to_be_bytes());
    header[14..18].copy_from_slice(&limits.max_t_cost.to_be_bytes());
    header[18..22].copy_from_slice(&limits.max_p_cost.to_be_bytes());
    let (kdf, _) = format::parse_header(&header, &limits).unwrap();
    assert_eq!(
        (kdf.m_cost, kdf.t_cost, kdf.p_cost),
        (limits.max_m_cost, limits.max_t_cost, limits.max_p_cost)
    );
    for (at, name) in [(10, "memory"), (14, "passes"), (18, "lanes")] {
        let mut over = header.clone();
        let v = u32::from_be_bytes(over[at..at + 4].try_into().unwrap()) + 1;
        over[at..at + 4].copy_from_slice(&v.to_be_bytes());
        let e = format::parse_header(&over, &limits).unwrap_err();
        assert!(
            matches!(e, Error::Kdf(ref m) if m.contains(name) && m.contains(&format!("offset {at}"))),
            "{name}: {e}"
        );
    }
}

#[test]
fn modes_keep_their_permission_bits_only() {
    let mut w = Writer::new(Vec::new(), PASS, Kdf::insecure_for_tests()).unwrap();
    // A regular file's st_mode, and every permission bit.
    w.file("media/a", 0o100_640, 1, &b"a"[..]).unwrap();
    w.file("media/b", 0o7777, 1, &b"b"[..]).unwrap();
    let (file, totals) = w.finish().unwrap();
    assert_eq!(totals, format::Totals { files: 2, bytes: 2 });
    let mut r = Reader::open(&file[..], PASS, &tight(), Some(file.len() as u64)).unwrap();
    let mut modes = Vec::new();
    while let Some(e) = r.next_entry().unwrap() {
        modes.push((e.path, e.mode));
    }
    assert_eq!(
        modes,
        [
            ("media/a".to_owned(), 0o640),
            ("media/b".to_owned(), 0o7777)
        ]
    );
    // A mode beyond the permission bits is not one the writer makes.
    let file = sealed_archive(&[entry_with_mode("media/a", 0o10000, b"x"), end(1, 1)].concat());
    let e = read_all(&file, PASS).unwrap_err();
    assert!(
        matches!(e, Error::Archive(ref m) if m.contains("mode 0o10000 out of range")),
        "{e}"
    );
}

#[test]
fn bodies_left_unread_are_skipped() {
    let entries = sample();
    let file = archive(&entries);
    let mut r = Reader::open(&file[..], PASS, &tight(), Some(file.len() as u64)).unwrap();
    let mut listed = Vec::new();
    // Only the names: the 200 000 and 70 000 bytes in between are skipped, not taken as entries.
    while let Some(e) = r.next_entry().unwrap() {
        listed.push((e.path, e.len));
    }
    let want: Vec<(String, u64)> = entries
        .iter()
        .map(|(p, d)| ((*p).to_owned(), d.len() as u64))
        .collect();
    assert_eq!(listed, want);
    assert_eq!(
        r.totals(),
        format::Totals {
            files: 5,
            bytes: want.iter().map(|(_, n)| n).sum()
        }
    );
    assert_eq!(r.next_entry().unwrap(), None, "the end stays the end");
}

#[test]
fn paths_of_the_longest_length_are_taken_and_longer_ones_refused() {
    let longest = format!("media/{}", "a".repeat(format::MAX_PATH - "media/".len()));
    assert_eq!(longest.len(), 255);
    format::check_path(&longest).unwrap();
    let file = archive(&[(&longest, b"long".to_vec())]);
    assert_eq!(
        read_all(&file, PASS).unwrap(),
        [(longest.clone(), b"long".to_vec())]
    );
    let longer = format!("{longest}a");
    let e = format::check_path(&longer).unwrap_err();
    assert!(
        matches!(e, Error::Path { ref why, .. } if why == "too long"),
        "{e}"
    );
    // In an archive the length field is checked before the path is read.
    let file = sealed_archive(&[entry(&longer, 1, b"x"), end(1, 1)].concat());
    let e = read_all(&file, PASS).unwrap_err();
    assert!(
        matches!(e, Error::Archive(ref m) if m.contains("a path of 256 bytes (at most 255)")),
        "{e}"
    );
}

#[test]
fn a_body_cut_short_inside_a_good_envelope_says_how_much_was_there() {
    let file = sealed_archive(&entry("media/a", 5, b"ab"));
    let e = read_all(&file, PASS).unwrap_err();
    assert!(
        matches!(e, Error::Truncated(ref m) if m.contains("after 2 of an entry's 5 bytes")),
        "{e}"
    );
}

/// A reader that is interrupted (`EINTR`) before every read, and then reads at most 7 bytes.
struct Interrupting<'a> {
    data: &'a [u8],
    interrupt: bool,
}

impl std::io::Read for Interrupting<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.interrupt = !self.interrupt;
        if self.interrupt {
            return Err(std::io::ErrorKind::Interrupted.into());
        }
        let n = buf.len().min(7).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

#[test]
fn interrupted_reads_are_retried() {
    let entries = sample();
    let file = archive(&entries);
    let input = Interrupting {
        data: &file,
        interrupt: false,
    };
    let mut r = Reader::open(input, PASS, &tight(), Some(file.len() as u64)).unwrap();
    let mut back = Vec::new();
    while let Some(e) = r.next_entry().unwrap() {
        let mut data = Vec::new();
        r.copy_body(&mut data).unwrap();
        back.push((e.path, data));
    }
    let want: Vec<(String, Vec<u8>)> = entries
        .into_iter()
        .map(|(p, d)| (p.to_owned(), d))
        .collect();
    assert_eq!(back, want);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_entries_round_trip(
        files in proptest::collection::vec(
            (0u8..40, proptest::collection::vec(any::<u8>(), 0..3000)), 0..6),
    ) {
        let mut seen = std::collections::BTreeSet::new();
        let entries: Vec<(String, Vec<u8>)> = files
            .into_iter()
            .filter(|(n, _)| seen.insert(*n))
            .map(|(n, d)| (format!("media/f{n}"), d))
            .collect();
        let refs: Vec<(&str, Vec<u8>)> = entries.iter().map(|(p, d)| (p.as_str(), d.clone())).collect();
        let file = archive(&refs);
        prop_assert_eq!(read_all(&file, PASS).unwrap(), entries);
    }

    #[test]
    fn any_single_bit_flip_is_detected(seed in any::<u64>()) {
        let file = archive(&[("master.key", vec![1; 32]), ("media/x", vec![2; 70_000])]);
        let bit = (seed % (file.len() as u64 * 8)) as usize;
        let mut bad = file.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        prop_assert!(read_all(&bad, PASS).is_err(), "bit {} flipped unnoticed", bit);
    }

    #[test]
    fn any_truncation_is_detected(cut in any::<u64>()) {
        let file = archive(&[("master.key", vec![1; 32]), ("media/x", vec![2; 70_000])]);
        let len = (cut % file.len() as u64) as usize;
        prop_assert!(read_all(&file[..len], PASS).is_err(), "cut at {} unnoticed", len);
    }
}

// --- Data directories ---

struct Tree {
    _dir: tempfile::TempDir,
    paths: Paths,
    ready: Uuid,
    processing: Uuid,
}

/// A data directory with a user, a ready message with an attachment, and one still
/// `processing` in a spool segment.
fn tree() -> Tree {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::new(&dir.path().join("data"));
    let key = db::load_or_create_key(&paths).unwrap();
    let conn = db::connect(&paths).unwrap();
    fs::create_dir_all(paths.media.join(spool::DIR)).unwrap();
    let user = |name: &str| NewUser {
        username: name.into(),
        display: None,
        password: "pw".into(),
        admin: false,
        line: None,
    };
    let alice = users::add(&conn, &key, &user("alice"), 0).unwrap().id;
    let bob = users::add(&conn, &key, &user("bob"), 0).unwrap().id;
    let ready = Uuid::new_v4();
    let audio = codecs::seal::seal(
        key_of(&key),
        ready.as_bytes(),
        &[5; 100_000],
        codecs::seal::Compression::None,
    )
    .unwrap();
    fs::write(paths.media.join(format!("{ready}.audio")), &audio).unwrap();
    let att = crate::audio::seal_attachment(&key, b"aad", b"hello").unwrap();
    fs::write(paths.media.join(format!("{ready}.0.att")), &att).unwrap();
    let msg = |id: Uuid, status, file: String, offset, bytes, attachments| NewMessage {
        id,
        sender: alice,
        recipients: vec![bob],
        created_ms: 1,
        duration_ms: 1000,
        codec: "opus".into(),
        status,
        audio_file: file,
        raw_offset: offset,
        audio_bytes: bytes,
        attachments,
    };
    messages::insert(
        &conn,
        &msg(
            ready,
            Status::Ready,
            format!("{ready}.audio"),
            None,
            audio.len() as u64,
            vec![NewAttachment {
                name: "a.txt".into(),
                content_type: "text/plain".into(),
                file: format!("{ready}.0.att"),
                bytes: 5,
            }],
        ),
    )
    .unwrap();
    let processing = Uuid::new_v4();
    let upload = crate::audio::seal_raw(&[9u8; 3000][..], &key, processing, Vec::new()).unwrap();
    let mut seg = vec![0xAA; 100];
    seg.extend_from_slice(&upload);
    // Bytes past every named upload (one whose commit never happened) are not backed up.
    seg.extend_from_slice(&[0xBB; 50]);
    fs::write(paths.media.join(spool::segment_name(0)), &seg).unwrap();
    messages::insert(
        &conn,
        &msg(
            processing,
            Status::Processing,
            spool::segment_name(0),
            Some(100),
            upload.len() as u64,
            vec![],
        ),
    )
    .unwrap();
    fs::create_dir_all(paths.root.join("tls")).unwrap();
    fs::write(paths.root.join("tls/cert.pem"), b"cert").unwrap();
    fs::create_dir_all(&paths.recordings).unwrap();
    fs::write(paths.recordings.join("1.wav"), b"unacknowledged").unwrap();
    Tree {
        _dir: dir,
        paths,
        ready,
        processing,
    }
}

fn key_of(k: &SealKey) -> &codecs::seal::Key {
    k.key()
}

fn backup_of(paths: &Paths) -> (Vec<u8>, super::Summary) {
    create(paths, PASS, Kdf::insecure_for_tests(), Vec::new()).unwrap()
}

fn restore_into(file: &[u8], root: &Path) -> Result<super::Restored, Error> {
    restore(
        Cursor::new(file),
        Some(file.len() as u64),
        PASS,
        &tight(),
        root,
    )
}

#[test]
fn a_data_dir_round_trips_with_what_its_rows_name() {
    let t = tree();
    let (file, summary) = backup_of(&t.paths);
    assert_eq!((summary.messages, summary.left_out), (2, 0));
    let target = t.paths.root.with_file_name("restored");
    let restored = restore_into(&file, &target).unwrap();
    assert_eq!((restored.users, restored.messages), (2, 2));
    let same = |rel: &str| {
        assert_eq!(
            fs::read(t.paths.root.join(rel)).unwrap(),
            fs::read(target.join(rel)).unwrap(),
            "{rel}"
        );
    };
    same("master.key");
    same("tls/cert.pem");
    same(&format!("media/{}.audio", t.ready));
    same(&format!("media/{}.0.att", t.ready));
    // The segment up to the last named byte.
    let seg = fs::read(target.join("media").join(spool::segment_name(0))).unwrap();
    let orig = fs::read(t.paths.media.join(spool::segment_name(0))).unwrap();
    assert_eq!(seg[..], orig[..orig.len() - 50]);
    assert!(!target.join("recordings").exists());
    assert!(!target.join(".restore-tmp").exists());
    // The normal code opens it, and reads the processing upload back.
    let conn = db::connect(&Paths::new(&target)).unwrap();
    let p = messages::pending_transcode(&conn, t.processing)
        .unwrap()
        .unwrap();
    assert_eq!(p.raw_offset, Some(100));
    // No scratch directory is left in the source.
    let left: Vec<_> = fs::read_dir(&t.paths.root)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(".backup"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn a_message_whose_file_is_gone_is_left_out_not_left_dangling() {
    let t = tree();
    fs::remove_file(t.paths.media.join(format!("{}.audio", t.ready))).unwrap();
    let (file, summary) = backup_of(&t.paths);
    assert_eq!((summary.messages, summary.left_out), (1, 1));
    let target = t.paths.root.with_file_name("restored");
    let restored = restore_into(&file, &target).unwrap();
    assert_eq!(restored.messages, 1);
    assert!(!target.join(format!("media/{}.0.att", t.ready)).exists());
}

#[test]
fn restore_refuses_a_dir_that_is_not_empty_and_names_what_is_there() {
    let t = tree();
    let (file, _) = backup_of(&t.paths);
    let e = restore_into(&file, &t.paths.root).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::NotEmpty { .. }), "{text}");
    assert!(
        text.contains("offhook.db") && text.contains("master.key"),
        "{text}"
    );
}

#[test]
fn a_damaged_backup_leaves_nothing_behind() {
    let t = tree();
    let (file, _) = backup_of(&t.paths);
    let target = t.paths.root.with_file_name("restored");
    let mut bad = file.clone();
    let at = bad.len() - 100;
    bad[at] ^= 1;
    assert!(matches!(
        restore_into(&bad, &target),
        Err(Error::Damaged(_))
    ));
    assert!(!target.exists());
    assert!(matches!(
        restore_into(&file[..file.len() - 1], &target),
        Err(Error::Truncated(_) | Error::Damaged(_))
    ));
    assert!(!target.exists());
    // An empty directory stays, empty.
    fs::create_dir(&target).unwrap();
    let e = restore(
        Cursor::new(&file),
        None,
        b"wrong passphrase",
        &tight(),
        &target,
    )
    .unwrap_err();
    assert!(matches!(e, Error::WrongPassphrase));
    assert_eq!(fs::read_dir(&target).unwrap().count(), 0);
}

#[test]
fn verification_finds_a_wrong_key_and_a_missing_file() {
    let t = tree();
    let (file, _) = backup_of(&t.paths);
    let target = t.paths.root.with_file_name("restored");
    restore_into(&file, &target).unwrap();
    verify_tree(&target).unwrap();
    let key = fs::read(target.join("master.key")).unwrap();
    fs::write(target.join("master.key"), [0u8; 32]).unwrap();
    let e = verify_tree(&target).unwrap_err();
    assert!(e.to_string().contains("master.key does not open"), "{e}");
    fs::write(target.join("master.key"), key).unwrap();
    fs::remove_file(target.join(format!("media/{}.audio", t.ready))).unwrap();
    let e = verify_tree(&target).unwrap_err();
    assert!(e.to_string().contains("is missing"), "{e}");
}

#[test]
fn a_staged_restore_is_swapped_in_at_start_keeping_the_old_data() {
    let t = tree();
    let (file, _) = backup_of(&t.paths);
    // The live directory moves on: a WAL and a new user the backup does not have.
    let other = t.paths.root.with_file_name("other");
    restore_into(&file, &other).unwrap();
    let other_paths = Paths::new(&other);
    let conn = db::connect(&other_paths).unwrap();
    let key = db::load_or_create_key(&other_paths).unwrap();
    let carol = NewUser {
        username: "carol".into(),
        display: None,
        password: "pw".into(),
        admin: false,
        line: None,
    };
    users::add(&conn, &key, &carol, 0).unwrap();
    stage(Cursor::new(&file), None, PASS, &tight(), &other).unwrap();
    drop(conn);
    assert!(other.join(super::STAGED).is_dir());
    assert_eq!(apply_staged(&t.paths.root, 5).unwrap(), None);
    let before = apply_staged(&other, 1234).unwrap().unwrap();
    assert!(before.ends_with("before-restore-1234"));
    assert!(before.join("offhook.db").exists());
    assert!(!other.join(super::STAGED).exists());
    let conn = db::connect(&other_paths).unwrap();
    assert!(users::by_name(&conn, "carol").unwrap().is_none());
    assert!(users::by_name(&conn, "alice").unwrap().is_some());
    // Nothing staged: nothing happens.
    assert_eq!(apply_staged(&other, 1235).unwrap(), None);
}

#[test]
fn an_interrupted_apply_resumes() {
    let t = tree();
    let (file, _) = backup_of(&t.paths);
    let root = t.paths.root.clone();
    stage(Cursor::new(&file), None, PASS, &tight(), &root).unwrap();
    // Stopped in phase 2: the old data aside (still marked partial), one entry moved in.
    let partial = root.join("before-restore-7.partial");
    fs::create_dir(&partial).unwrap();
    for name in ["offhook.db", "master.key", "media", "tls", "recordings"] {
        fs::rename(root.join(name), partial.join(name)).unwrap();
    }
    fs::rename(root.join(super::STAGED), root.join("restore-applying")).unwrap();
    fs::rename(
        root.join("restore-applying/master.key"),
        root.join("master.key"),
    )
    .unwrap();
    let before = apply_staged(&root, 99).unwrap().unwrap();
    assert!(before.ends_with("before-restore-7"));
    assert!(before.join("recordings").is_dir());
    verify_tree(&root).unwrap();
    assert!(!root.join("restore-applying").exists());
}

#[test]
fn a_backup_taken_while_rows_and_files_come_and_go_restores_whole() {
    let t = tree();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let churn = {
        let (paths, stop) = (t.paths.clone(), stop.clone());
        std::thread::spawn(move || {
            let conn = db::connect(&paths).unwrap();
            let key = db::load_or_create_key(&paths).unwrap();
            let alice = users::by_name(&conn, "alice").unwrap().unwrap().id;
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let id = Uuid::new_v4();
                let sealed = codecs::seal::seal(
                    key.key(),
                    id.as_bytes(),
                    &[3; 1000],
                    codecs::seal::Compression::None,
                )
                .unwrap();
                let name = format!("{id}.audio");
                db::write_file(&paths.media, &name, &sealed).unwrap();
                messages::insert(
                    &conn,
                    &NewMessage {
                        id,
                        sender: alice,
                        recipients: vec![],
                        created_ms: 1,
                        duration_ms: 1,
                        codec: "opus".into(),
                        status: Status::Ready,
                        audio_file: name.clone(),
                        raw_offset: None,
                        audio_bytes: sealed.len() as u64,
                        attachments: vec![],
                    },
                )
                .unwrap();
                // Every other one is deleted again: row first, then the file.
                if n % 2 == 1 {
                    conn.execute("DELETE FROM messages WHERE id = ?1", [id.to_string()])
                        .unwrap();
                    fs::remove_file(paths.media.join(&name)).unwrap();
                }
                n += 1;
            }
        })
    };
    for i in 0..5 {
        let (file, _) = backup_of(&t.paths);
        let target = t.paths.root.with_file_name(format!("restored{i}"));
        restore_into(&file, &target).unwrap();
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    churn.join().unwrap();
}

#[test]
fn a_dir_without_a_database_has_nothing_to_back_up() {
    let dir = tempfile::tempdir().unwrap();
    let e = create(
        &Paths::new(dir.path()),
        PASS,
        Kdf::insecure_for_tests(),
        Vec::new(),
    )
    .unwrap_err();
    assert!(matches!(e, Error::NoDatabase(_)), "{e}");
}
