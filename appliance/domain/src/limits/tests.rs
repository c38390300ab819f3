//! The quota's accounting along every path a message takes, the upload buckets in virtual time,
//! and the accept path refusing as a user gone bad would be refused.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use super::*;
use crate::accept::{self, Attachment, Audio, Recording};
use crate::clock::ManualClock;
use crate::config::Retention;
use crate::db::messages::{self as store, NewAttachment, NewMessage, State, Status};
use crate::db::users;
use crate::db::{self, Paths};
use crate::{Config, VoiceMessaging};

const T0_US: i64 = 1_795_000_000_000_000;

fn message(sender: Uuid, to: &[Uuid], status: Status, audio: u64, atts: &[u64]) -> NewMessage {
    let id = Uuid::new_v4();
    NewMessage {
        id,
        sender,
        recipients: to.to_vec(),
        created_ms: 1000,
        duration_ms: 1000,
        codec: "upload".into(),
        status,
        audio_file: format!("{id}.f"),
        raw_offset: None,
        audio_bytes: audio,
        attachments: atts
            .iter()
            .enumerate()
            .map(|(n, b)| NewAttachment {
                name: format!("{n}.txt"),
                content_type: "text/plain".into(),
                file: format!("{id}.{n}.att"),
                bytes: *b,
            })
            .collect(),
    }
}

#[test]
fn usage_follows_a_message_through_transcoding_retention_and_every_delete() {
    let dir = tempfile::tempdir().unwrap();
    let conn = db::connect(&Paths::new(dir.path())).unwrap();
    let (a, b, c) = (
        users::test_user(&conn, "alice"),
        users::test_user(&conn, "bob"),
        users::test_user(&conn, "carol"),
    );
    assert_eq!(used(&conn, a).unwrap(), 0);
    assert_eq!(used(&conn, Uuid::new_v4()).unwrap(), 0, "unknown user");

    // An upload: the sealed bytes in the spool while processing, and its attachments.
    let m1 = message(a, &[b, c], Status::Processing, 1000, &[10, 5]);
    store::insert(&conn, &m1).unwrap();
    assert_eq!(used(&conn, a).unwrap(), 1015);
    assert_eq!(used(&conn, b).unwrap(), 0, "recipients are not charged");
    // Transcoded: the Opus file replaces the upload.
    assert!(store::mark_ready(&conn, m1.id, "x.audio", 300, 1000, "opus").unwrap());
    assert_eq!(used(&conn, a).unwrap(), 315);
    // A corrupt upload gives its bytes back when it fails.
    let m2 = message(a, &[b], Status::Processing, 500, &[]);
    store::insert(&conn, &m2).unwrap();
    assert_eq!(used(&conn, a).unwrap(), 815);
    assert!(store::mark_failed(&conn, m2.id).unwrap());
    assert_eq!(used(&conn, a).unwrap(), 315);
    // Held while any holder has it: the recipients, then the sender.
    assert_eq!(store::delete_for(&conn, b, m1.id).unwrap(), Some(vec![]));
    assert_eq!(store::delete_for(&conn, a, m1.id).unwrap(), Some(vec![]));
    assert_eq!(used(&conn, a).unwrap(), 315, "carol still has it");
    assert!(store::delete_for(&conn, c, m1.id).unwrap().is_some());
    assert_eq!(used(&conn, a).unwrap(), 0, "the failed one holds nothing");
    assert!(store::delete_for(&conn, a, m2.id).unwrap().is_some());
    // Recipients never see a failed message: it went with its sender's delete.
    assert!(store::delete_for(&conn, b, m2.id).unwrap().is_none());
    assert_eq!(used(&conn, a).unwrap(), 0);

    // Retention "delivered": the audio goes once delivered, the attachments stay.
    let m3 = message(a, &[b], Status::Ready, 700, &[20]);
    store::insert(&conn, &m3).unwrap();
    assert_eq!(used(&conn, a).unwrap(), 720);
    assert!(store::advance(&conn, m3.id, b, State::Delivered).unwrap());
    assert_eq!(
        store::sweep(&conn, Retention::Delivered, 0).unwrap().len(),
        1
    );
    assert_eq!(used(&conn, a).unwrap(), 20);
    // Retention by age removes the rest.
    let m4 = message(b, &[a], Status::Ready, 40, &[2]);
    store::insert(&conn, &m4).unwrap();
    assert_eq!(used(&conn, b).unwrap(), 42);
    store::sweep(&conn, Retention::Period(Duration::from_secs(1)), 10_000).unwrap();
    assert_eq!((used(&conn, a).unwrap(), used(&conn, b).unwrap()), (0, 0));
}

#[test]
fn the_check_refuses_what_would_pass_the_quota_and_names_both_figures() {
    let dir = tempfile::tempdir().unwrap();
    let conn = db::connect(&Paths::new(dir.path())).unwrap();
    let (a, b) = (
        users::test_user(&conn, "alice"),
        users::test_user(&conn, "bob"),
    );
    store::insert(&conn, &message(a, &[b], Status::Ready, 600, &[])).unwrap();
    assert!(check(&conn, a, 400, 1000).is_ok(), "exactly full is fine");
    match check(&conn, a, 401, 1000) {
        Err(QuotaCheck::Over(o)) => assert_eq!(
            o,
            OverQuota {
                quota: 1000,
                used: 600,
                size: 401
            }
        ),
        other => panic!("{other:?}"),
    }
    assert!(check(&conn, a, u64::MAX, 0).is_ok(), "0: no quota");
    assert!(check(&conn, b, 1000, 1000).is_ok(), "bob's own figure");
}

/// Databases written before the quota get their figures at migration.
#[test]
fn the_migration_counts_what_earlier_versions_stored() {
    let dir = tempfile::tempdir().unwrap();
    let paths = Paths::new(dir.path());
    let conn = db::connect(&paths).unwrap();
    let (a, b) = (
        users::test_user(&conn, "alice"),
        users::test_user(&conn, "bob"),
    );
    store::insert(&conn, &message(a, &[b], Status::Ready, 600, &[7, 3])).unwrap();
    let failed = message(a, &[b], Status::Processing, 50, &[]);
    store::insert(&conn, &failed).unwrap();
    store::mark_failed(&conn, failed.id).unwrap();
    store::insert(&conn, &message(b, &[a], Status::Processing, 99, &[])).unwrap();
    // As before the migration: no table, no triggers, the version of the one before it, and
    // the migrations that came after it undone too (the console's settings, the LAN's devices,
    // leases and templates, the users' dial-in numbers and PINs, federation's remote users, outbox
    // and received ids).
    let usage = db::migrations::MIGRATIONS
        .iter()
        .position(|m| m.contains("CREATE TABLE usage"))
        .unwrap();
    conn.execute_batch(
        "DROP TRIGGER usage_user_insert; DROP TRIGGER usage_user_delete;
         DROP TRIGGER usage_message_insert; DROP TRIGGER usage_message_update;
         DROP TRIGGER usage_message_delete; DROP TRIGGER usage_attachment_insert;
         DROP TABLE usage; DROP TABLE settings;
         DROP TABLE devices; DROP TABLE leases; DROP TABLE templates;
         DROP TABLE dial_in_failures; DROP INDEX users_number;
         ALTER TABLE users DROP COLUMN number; ALTER TABLE users DROP COLUMN pin_hash;
         DROP TABLE outbox; DROP TABLE federation_received; DROP INDEX users_site;
         ALTER TABLE users DROP COLUMN site;",
    )
    .unwrap();
    conn.pragma_update(None, "user_version", usage).unwrap();
    drop(conn);
    let conn = db::connect(&paths).unwrap();
    assert_eq!(used(&conn, a).unwrap(), 610);
    assert_eq!(used(&conn, b).unwrap(), 99);
    let c = users::test_user(&conn, "carol");
    store::insert(&conn, &message(c, &[a], Status::Ready, 5, &[])).unwrap();
    assert_eq!(used(&conn, c).unwrap(), 5, "users added later are counted");
}

fn rate(bytes: u64, secs: u64) -> Option<Rate> {
    Some(Rate {
        bytes,
        per: Duration::from_secs(secs),
    })
}

#[test]
fn a_bucket_holds_one_burst_and_refills_at_the_rate() {
    // 1000 bytes a second, bursts of 5000; time in milliseconds.
    let r = UploadRate::new(rate(1000, 1), 5000);
    let (u, other) = (Uuid::new_v4(), Uuid::new_v4());
    assert_eq!(r.available(u, 0), Some(5000));
    assert_eq!(r.take(u, 3000, 0), Ok(3000));
    assert_eq!(r.take(u, 2000, 0), Ok(2000));
    assert_eq!(r.available(u, 0), Some(0));
    assert_eq!(r.take(u, 2000, 0), Err(Duration::from_millis(2000)));
    assert_eq!(r.take(u, 1, 0), Err(Duration::from_millis(1)));
    assert_eq!(r.take(other, 5000, 0), Ok(5000), "others are unaffected");
    // Refilled by 1000 a second.
    assert_eq!(r.take(u, 2000, 1000), Err(Duration::from_millis(1000)));
    assert_eq!(r.available(u, 1500), Some(1500));
    assert_eq!(r.take(u, 2000, 2000), Ok(2000));
    assert_eq!(r.available(u, 2000), Some(0));
    // Never more than a burst, however long the wait.
    assert_eq!(r.available(u, 1_000_000), Some(5000));
    // A clock that steps back refills nothing.
    assert_eq!(r.available(u, 1000), Some(0));
    // More than a burst takes a whole (full) bucket.
    assert_eq!(r.take(u, 9999, 1_000_000), Ok(5000));
    assert_eq!(r.take(u, 9999, 1_000_000), Err(Duration::from_secs(5)));
}

#[test]
fn what_a_refused_upload_took_is_given_back_up_to_a_burst() {
    let r = UploadRate::new(rate(1000, 1), 5000);
    let u = Uuid::new_v4();
    assert_eq!(r.take(u, 4000, 0), Ok(4000));
    r.give_back(u, 3000, 500);
    assert_eq!(r.available(u, 500), Some(4500));
    r.give_back(u, 3000, 500);
    assert_eq!(r.available(u, 500), Some(5000), "capped at a burst");
    // Nothing to give back to a user who took nothing.
    r.give_back(Uuid::new_v4(), 10, 0);
    assert_eq!(r.len(), 1);
}

#[test]
fn without_a_rate_nothing_is_taken_or_remembered() {
    for r in [
        UploadRate::new(None, 5000),
        UploadRate::new(rate(0, 1), 5000),
    ] {
        let u = Uuid::new_v4();
        assert_eq!(r.take(u, u64::MAX, 0), Ok(0));
        r.give_back(u, 10, 0);
        assert_eq!(r.available(u, 0), None);
        assert_eq!(r.len(), 0);
    }
}

#[test]
fn full_buckets_are_forgotten_when_too_many_users_are_remembered() {
    let r = UploadRate::new(rate(1000, 1), 5000);
    for _ in 0..MAX_BUCKETS {
        assert!(r.take(Uuid::new_v4(), 1000, 0).is_ok());
    }
    let busy = Uuid::new_v4();
    assert!(r.take(busy, 1000, 999).is_ok(), "not yet refilled: kept");
    assert_eq!(r.len(), MAX_BUCKETS + 1);
    // A second later every one of them has refilled, except the last.
    assert!(r.take(Uuid::new_v4(), 1000, 1000).is_ok());
    assert_eq!(r.len(), 2);
    assert_eq!(r.available(busy, 1000), Some(4001), "remembered");
}

struct Fixture {
    core: VoiceMessaging,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
    alice: Uuid,
    bob: Uuid,
}

async fn fixture(quota: u64, upload_rate: Option<Rate>) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0_US));
    let mut config = Config::default();
    config
        .quota_per_user(quota)
        .unwrap()
        .upload_rate(upload_rate)
        .unwrap()
        .max_upload(1 << 20)
        .unwrap();
    let core = VoiceMessaging::open(dir.path(), config, clock.clone())
        .await
        .unwrap();
    let (alice, bob) = core
        .db()
        .write(|c| Ok((users::test_user(c, "alice"), users::test_user(c, "bob"))))
        .await
        .unwrap();
    Fixture {
        core,
        clock,
        dir,
        alice,
        bob,
    }
}

/// A 16-bit 8 kHz mono WAV of `ms` milliseconds of a tone.
fn wav(ms: u32) -> Vec<u8> {
    let samples = 8 * ms;
    let mut w = Vec::new();
    w.extend_from_slice(b"RIFF");
    w.extend_from_slice(&(36 + samples * 2).to_le_bytes());
    w.extend_from_slice(b"WAVEfmt ");
    w.extend_from_slice(&16u32.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&1u16.to_le_bytes());
    w.extend_from_slice(&8000u32.to_le_bytes());
    w.extend_from_slice(&16000u32.to_le_bytes());
    w.extend_from_slice(&2u16.to_le_bytes());
    w.extend_from_slice(&16u16.to_le_bytes());
    w.extend_from_slice(b"data");
    w.extend_from_slice(&(samples * 2).to_le_bytes());
    for i in 0..samples {
        let s = ((f64::from(i) * 0.2).sin() * 8000.0) as i16;
        w.extend_from_slice(&s.to_le_bytes());
    }
    w
}

impl Fixture {
    async fn upload(&self, ms: u32, attachment: usize) -> Result<accept::Accepted, accept::Error> {
        let atts = (attachment > 0)
            .then(|| Attachment {
                name: "a.bin".into(),
                content_type: "application/octet-stream".into(),
                data: vec![7; attachment].into(),
            })
            .into_iter()
            .collect();
        self.core
            .accept(
                self.alice,
                vec![self.bob],
                Audio::Bytes(wav(ms).into()),
                atts,
            )
            .await
    }

    async fn used(&self, user: Uuid) -> u64 {
        self.core.usage(user).await.unwrap().used
    }

    /// Files in the media directory, and bytes in the spool.
    fn on_disk(&self) -> (usize, u64) {
        let media = self.dir.path().join("media");
        let files = std::fs::read_dir(media)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_type().unwrap().is_file())
            .count();
        (files, self.core.spool_usage().1)
    }
}

#[tokio::test]
async fn an_upload_over_quota_is_refused_before_anything_is_written() {
    // A second of audio is 16 kB; the quota holds two such uploads and a bit.
    let f = fixture(40_000, None).await;
    f.upload(1000, 1000).await.unwrap();
    f.upload(1000, 0).await.unwrap();
    let used = f.used(f.alice).await;
    assert!((33_000..40_000).contains(&used), "{used}");
    let before = f.on_disk();
    let e = f.upload(1000, 0).await.unwrap_err();
    match &e {
        accept::Error::OverQuota(o) => {
            assert_eq!((o.quota, o.used), (40_000, used));
            assert!(o.size > 16_000, "{o:?}");
        }
        other => panic!("{other}"),
    }
    assert!(e.to_string().contains("quota"), "{e}");
    assert_eq!(f.on_disk(), before, "nothing of it was written");
    assert_eq!(f.used(f.alice).await, used);
    // Its attachment counts too: refused before either is written.
    let e = f.upload(100, 40_000 - used as usize).await.unwrap_err();
    assert!(matches!(e, accept::Error::OverQuota(_)), "{e}");
    assert_eq!(f.on_disk(), before, "nothing of it was written");
    // A small one still fits, and bob is not held to alice's figure.
    f.upload(100, 0).await.unwrap();
    let bob = f
        .core
        .accept(f.bob, vec![f.alice], Audio::Bytes(wav(1000).into()), vec![])
        .await;
    assert!(bob.is_ok());
    let usage = f.core.usage(f.alice).await.unwrap();
    assert_eq!(usage.quota, Some(40_000));
    assert_eq!(usage.upload_available, None);
}

#[tokio::test]
async fn deleting_messages_makes_room_again() {
    let f = fixture(20_000, None).await;
    let first = f.upload(1000, 0).await.unwrap();
    assert!(matches!(
        f.upload(1000, 0).await,
        Err(accept::Error::OverQuota(_))
    ));
    // Held by bob too: only when both have deleted it is the room back.
    assert!(f.core.delete_for(f.alice, first.id).await.unwrap());
    assert!(f.used(f.alice).await > 16_000);
    assert!(f.core.delete_for(f.bob, first.id).await.unwrap());
    assert_eq!(f.used(f.alice).await, 0);
    f.upload(1000, 0).await.unwrap();
}

/// Two uploads that each fit, but not together, pass the check made before writing at the
/// same time: the transaction that stores them refuses the second, and nothing of it stays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn uploads_racing_for_the_last_room_are_checked_again_when_stored() {
    let f = fixture(30_000, None).await;
    // Hold the database writer until both uploads are written and waiting for it.
    let (release, held) = std::sync::mpsc::channel::<()>();
    let (started, holding) = tokio::sync::oneshot::channel::<()>();
    let db = f.core.db().clone();
    let hold = tokio::spawn(async move {
        db.write(move |_| {
            let _ = started.send(());
            let _ = held.recv();
            Ok(())
        })
        .await
    });
    holding.await.unwrap();
    let (one, two) = (f.upload(1000, 100), f.upload(1000, 100));
    let (mut one, mut two) = (Box::pin(one), Box::pin(two));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    // Poll both until both are appended to the spool (past the check before writing).
    while f.core.spool_usage().1 < 2 * 16_000 {
        assert!(tokio::time::Instant::now() < deadline, "both appended");
        let _ = tokio::time::timeout(Duration::from_millis(5), &mut one).await;
        let _ = tokio::time::timeout(Duration::from_millis(5), &mut two).await;
    }
    release.send(()).unwrap();
    hold.await.unwrap().unwrap();
    let (one, two) = tokio::join!(one, two);
    let refused = [&one, &two]
        .iter()
        .filter(|r| matches!(r, Err(accept::Error::OverQuota(_))))
        .count();
    assert_eq!(refused, 1, "{one:?} {two:?}");
    assert!(f.used(f.alice).await <= 30_000);
    assert_eq!(f.core.list_for(f.alice).await.unwrap().len(), 1);
    // The refused one's attachment, written before the check, is removed.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while f.on_disk().0 > 1 {
        assert!(tokio::time::Instant::now() < deadline, "{:?}", f.on_disk());
        tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn uploads_faster_than_the_rate_wait_and_what_a_refused_one_took_comes_back() {
    // 20 kB a second; the burst is one largest upload (1 MiB here).
    let f = fixture(0, rate(20_000, 1)).await;
    let burst = 1u64 << 20;
    let usage = f.core.usage(f.alice).await.unwrap();
    assert_eq!(usage.upload_available, Some(burst));
    assert_eq!(usage.quota, None, "quota 0: none");
    // Refused for its audio: what it took is given back.
    let bad = f
        .core
        .accept(
            f.alice,
            vec![f.bob],
            Audio::Bytes(vec![0u8; 100_000].into()),
            vec![],
        )
        .await;
    assert!(matches!(bad, Err(accept::Error::Media(_))), "{bad:?}");
    assert_eq!(
        f.core.usage(f.alice).await.unwrap().upload_available,
        Some(burst)
    );
    // 200 kB at a time: five go, the sixth must wait.
    let size = |ms: u32, att: usize| (wav(ms).len() + att) as u64;
    let mut sent = 0;
    while f.upload(1000, 184_000).await.is_ok() {
        sent += size(1000, 184_000);
    }
    let left = burst - sent;
    match f.upload(1000, 184_000).await {
        Err(accept::Error::TooFast { retry_after }) => {
            let missing = size(1000, 184_000) - left;
            assert_eq!(
                retry_after,
                Duration::from_millis((missing * 1000).div_ceil(20_000))
            );
            f.clock.advance(retry_after);
        }
        other => panic!("{other:?}"),
    }
    f.upload(1000, 184_000).await.unwrap();
    // Bob's bucket is his own.
    let bob = f
        .core
        .accept(f.bob, vec![f.alice], Audio::Bytes(wav(1000).into()), vec![])
        .await;
    assert!(bob.is_ok());
}

/// A recording cannot be asked for again: it is stored over the quota, but the next one may
/// not start, and uploads are refused.
#[tokio::test]
async fn a_recording_is_stored_over_quota_and_the_next_may_not_start() {
    let f = fixture(20_000, rate(1, 3600)).await;
    assert_eq!(f.core.may_record(f.alice).await.unwrap(), Ok(()));
    let rec = |ms| {
        let file = f.dir.path().join(format!("{}.wav", Uuid::new_v4()));
        std::fs::write(&file, wav(ms)).unwrap();
        Recording {
            file,
            speech: Some(Duration::from_millis(u64::from(ms))),
        }
    };
    for _ in 0..2 {
        let a = f
            .core
            .accept(f.alice, vec![f.bob], Audio::Recorded(rec(1000)), vec![])
            .await
            .expect("recordings pay no rate and pass the quota");
        assert_eq!(a.estimate_ms, 1000);
    }
    let used = f.used(f.alice).await;
    assert!(used > 20_000, "{used}");
    assert_eq!(
        f.core.may_record(f.alice).await.unwrap(),
        Err(OverQuota {
            quota: 20_000,
            used,
            size: 0
        })
    );
    assert!(matches!(
        f.upload(10, 0).await,
        Err(accept::Error::OverQuota(_))
    ));
    assert_eq!(f.core.may_record(f.bob).await.unwrap(), Ok(()));
}

/// The check before writing allows for the sealing's overhead exactly: an upload that fits
/// the bound is taken, and what it then holds stays within the quota.
#[tokio::test]
async fn an_upload_exactly_within_the_bound_is_taken() {
    let audio = wav(1000);
    let bound = (audio.len() + audio.len() / 1024 + 256) as u64;
    let f = fixture(bound + 500, None).await;
    f.core
        .accept(
            f.alice,
            vec![f.bob],
            Audio::Bytes(audio.into()),
            vec![Attachment {
                name: "a".into(),
                content_type: "text/plain".into(),
                data: vec![1; 500].into(),
            }],
        )
        .await
        .unwrap();
    let used = f.used(f.alice).await;
    assert!(used <= bound + 500 && used > bound - 300, "{used} {bound}");
}

/// Deleted by every holder while still processing: the upload's room and its spool bytes are
/// given back at once, not at the next start.
#[tokio::test]
async fn a_processing_upload_deleted_by_every_holder_frees_its_spool_bytes() {
    let f = fixture(0, None).await;
    let a = f.upload(1000, 0).await.unwrap();
    let (_, spooled) = f.on_disk();
    assert!(spooled > 16_000, "{spooled}");
    assert!(f.core.delete_for(f.alice, a.id).await.unwrap());
    assert!(f.core.delete_for(f.bob, a.id).await.unwrap());
    assert_eq!(f.used(f.alice).await, 0);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while f.on_disk().1 > 0 {
        assert!(tokio::time::Instant::now() < deadline, "spool never freed");
        tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_millis(10)).await;
    }
}

#[test]
fn an_attachments_associated_data_is_its_message_and_index() {
    let id = Uuid::new_v4();
    let aad = accept::attachment_aad(id, 258);
    assert_eq!(&aad[..16], id.as_bytes());
    assert_eq!(&aad[16..], &[0, 0, 0, 0, 0, 0, 1, 2]);
}

/// A record request may not start over quota (the recording would be stored whatever its
/// size); a user without a phone is told that first, and one under quota goes on to the phone.
#[tokio::test]
async fn a_record_request_over_quota_is_refused_before_the_phone_rings() {
    let f = fixture(10_000, None).await;
    f.core.set_phones([f.alice]);
    assert_eq!(
        f.core.start_recording(f.alice, vec![f.bob], None).await,
        Err(RecordError::GatewayDown),
        "under quota: on to the phone"
    );
    f.upload(1000, 0).await.unwrap_err();
    let file = f.dir.path().join("r.wav");
    std::fs::write(&file, wav(1000)).unwrap();
    let rec = Recording {
        file,
        speech: Some(Duration::from_secs(1)),
    };
    f.core
        .accept(f.alice, vec![f.bob], Audio::Recorded(rec), vec![])
        .await
        .unwrap();
    let used = f.used(f.alice).await;
    assert_eq!(
        f.core.start_recording(f.alice, vec![f.bob], None).await,
        Err(RecordError::OverQuota(OverQuota {
            quota: 10_000,
            used,
            size: 0
        }))
    );
    assert_eq!(
        f.core.start_recording(f.bob, vec![f.alice], None).await,
        Err(RecordError::NoPhone)
    );
    // Exactly used up is used up.
    let g = fixture(used, None).await;
    g.core.set_phones([g.alice]);
    let file = g.dir.path().join("r.wav");
    std::fs::write(&file, wav(1000)).unwrap();
    let rec = Recording {
        file,
        speech: Some(Duration::from_secs(1)),
    };
    g.core
        .accept(g.alice, vec![g.bob], Audio::Recorded(rec), vec![])
        .await
        .unwrap();
    assert_eq!(g.used(g.alice).await, used);
    assert!(matches!(
        g.core.start_recording(g.alice, vec![g.bob], None).await,
        Err(RecordError::OverQuota(_))
    ));
}

#[test]
fn an_upload_must_leave_the_reserve_free() {
    // Room: exactly the reserve left after it.
    assert_eq!(disk_room(1_000, 600, 400), Ok(()));
    let refused = |free, reserve, size| {
        assert_eq!(
            disk_room(free, reserve, size),
            Err(DiskFull {
                free,
                reserve,
                size
            })
        );
    };
    refused(1_000, 600, 401);
    // Already inside the reserve: even nothing more (a recording about to start) is refused.
    refused(599, 600, 0);
    // Larger than the disk's free space (no wrapping below zero).
    refused(100, 1, 200);
    // No guard: anything goes, even what does not fit (the write then fails as it would).
    assert_eq!(disk_room(100, 0, 200), Ok(()));
    assert_eq!(disk_room(600, 600, 0), Ok(()));
}

#[test]
fn the_automatic_reserve_is_5_percent_of_the_disk_up_to_1_gib() {
    assert_eq!(reserve_for(None, 2_000_000_000), 100_000_000);
    assert_eq!(reserve_for(None, 250 << 30), MAX_AUTO_RESERVE);
    assert_eq!(reserve_for(None, 20 << 30), 1 << 30);
    assert_eq!(reserve_for(Some(7), 250 << 30), 7);
    assert_eq!(reserve_for(Some(0), 250 << 30), 0);
    assert_eq!(reserve_for(None, 0), 0);
}

#[test]
fn the_disk_check_reads_the_real_disk() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (free, total) = disk_space(dir.path()).expect("statvfs");
    assert!(free > 0 && total >= free, "{free} of {total}");
    assert_eq!(check_disk(dir.path(), Some(0), u64::MAX).unwrap(), Ok(()));
    let refused = check_disk(dir.path(), Some(u64::MAX), 1)
        .unwrap()
        .unwrap_err();
    assert_eq!((refused.reserve, refused.size), (u64::MAX, 1));
    assert!(refused.free > 0);
    assert!(check_disk(&dir.path().join("gone"), None, 1).is_err());
}
