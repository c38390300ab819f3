//! The core's rules, each against a temporary database and a virtual clock; what the stations
//! subsystem would hear is read from an event subscription.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;
use uuid::Uuid;

use crate::accept::{self, Audio, Recording};
use crate::clock::{ManualClock, rfc3339};
use crate::db::messages::{self as store, NewMessage, Status};
use crate::db::users::{self, NewUser};
use crate::mailbox::ResolveError;
use crate::{Config, Delivery, Event, RecordError, RecordMode, RecordStatus, VoiceMessaging};

/// 2026-11-18T11:06:40Z.
const T0_US: i64 = 1_795_000_000_000_000;

struct Fixture {
    core: VoiceMessaging,
    clock: Arc<ManualClock>,
    events: UnboundedReceiver<Event>,
    dir: tempfile::TempDir,
    alice: Uuid,
    bob: Uuid,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(T0_US));
    let mut config = Config::default();
    config.transcode_workers(Some(1)).unwrap();
    let core = VoiceMessaging::open(dir.path(), config, clock.clone())
        .await
        .unwrap();
    let events = core.subscribe();
    let mut ids = Vec::new();
    for name in ["alice", "bob"] {
        let new = NewUser {
            username: name.into(),
            display: None,
            password: "pw".into(),
            admin: false,
            line: None,
        };
        let key = core.0.key.clone();
        let u = core
            .db()
            .write(move |c| users::add(c, &key, &new, T0_US / 1000))
            .await
            .unwrap();
        ids.push(u.id);
    }
    Fixture {
        core,
        clock,
        events,
        dir,
        alice: ids[0],
        bob: ids[1],
    }
}

impl Fixture {
    /// A ready message from alice to bob, stored directly (no transcoding).
    async fn ready_message(&self) -> Uuid {
        let id = Uuid::new_v4();
        let msg = NewMessage {
            id,
            sender: self.alice,
            recipients: vec![self.bob],
            created_ms: self.core.clock().now_ms(),
            duration_ms: 1000,
            codec: "opus".into(),
            status: Status::Ready,
            audio_file: format!("{id}.audio"),
            raw_offset: None,
            audio_bytes: 0,
            attachments: vec![],
        };
        self.core
            .db()
            .write(move |c| store::insert(c, &msg))
            .await
            .unwrap();
        id
    }

    fn next_event(&mut self) -> Option<Event> {
        self.events.try_recv().ok()
    }

    async fn wait_event(&mut self) -> Event {
        tokio::time::timeout(Duration::from_secs(60), self.events.recv())
            .await
            .expect("an event within the deadline")
            .expect("the bus is open")
    }
}

fn speech_wav() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../codecs/tests/data/speech-8k.wav"
    ))
    .expect("codecs test fixture")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_accepted_upload_is_stamped_by_the_clock_and_announced_when_ready() {
    let mut f = fixture().await;
    f.clock.advance(Duration::from_secs(60));
    f.core.start().await.unwrap();
    let a = f
        .core
        .accept(
            f.alice,
            vec![f.bob],
            Audio::Bytes(speech_wav().into()),
            vec![],
        )
        .await
        .unwrap();
    assert!(a.estimate_ms > 10_000, "{a:?}");
    let ev = f.wait_event().await;
    assert_eq!(
        ev,
        Event::MessageReady {
            message: a.id,
            from: f.alice,
            recipients: vec![f.bob],
        }
    );
    let list = f.core.list_for(f.bob).await.unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].status, "ready");
    assert_eq!(list[0].created, rfc3339(T0_US / 1000 + 60_000));
    assert_eq!(
        f.core
            .metrics()
            .messages_ready
            .load(std::sync::atomic::Ordering::Relaxed),
        1
    );
}

#[tokio::test]
async fn bad_audio_is_refused_as_the_senders_fault() {
    let f = fixture().await;
    let e = f
        .core
        .accept(
            f.alice,
            vec![f.bob],
            Audio::Bytes(b"not audio".to_vec().into()),
            vec![],
        )
        .await
        .unwrap_err();
    assert!(matches!(&e, accept::Error::Media(m) if m.is_input()), "{e}");
    assert!(f.core.list_for(f.bob).await.unwrap().is_empty());
}

#[tokio::test]
async fn marked_played_over_the_websocket_also_withdraws_it_from_the_users_phones() {
    let mut f = fixture().await;
    let id = f.ready_message().await;
    // What the WebSocket's `post {played}` and the phone's `#` both call.
    assert!(f.core.mark_played(f.bob, id).await.unwrap());
    assert_eq!(
        f.next_event(),
        Some(Event::MessageGone {
            user: f.bob,
            message: id,
        })
    );
    assert!(f.core.list_for(f.bob).await.unwrap()[0].played);
    // Again: nothing changes, the phones are told again (harmless: they forget it).
    assert!(!f.core.mark_played(f.bob, id).await.unwrap());
}

#[tokio::test]
async fn delivery_is_counted_once() {
    let f = fixture().await;
    let id = f.ready_message().await;
    assert!(f.core.mark_delivered(f.bob, id).await.unwrap());
    assert!(!f.core.mark_delivered(f.bob, id).await.unwrap());
    let n = f
        .core
        .metrics()
        .messages_delivered
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(n, 1);
}

#[tokio::test]
async fn deleted_for_a_user_is_gone_for_them_and_their_phones_only() {
    let mut f = fixture().await;
    let id = f.ready_message().await;
    assert!(f.core.delete_for(f.bob, id).await.unwrap());
    assert_eq!(
        f.next_event(),
        Some(Event::MessageGone {
            user: f.bob,
            message: id,
        })
    );
    assert!(f.core.list_for(f.bob).await.unwrap().is_empty());
    assert_eq!(f.core.list_for(f.alice).await.unwrap().len(), 1);
    assert!(!f.core.delete_for(f.bob, id).await.unwrap());
    assert_eq!(f.next_event(), None);
}

#[tokio::test]
async fn recipients_resolve_without_duplicates_and_unknown_names_refuse_the_list() {
    let f = fixture().await;
    let to = f
        .core
        .resolve(vec!["bob".into(), "alice".into(), "bob".into()])
        .await
        .unwrap();
    assert_eq!(to, vec![f.alice, f.bob]);
    let e = f
        .core
        .resolve(vec!["bob".into(), "zed".into()])
        .await
        .unwrap_err();
    assert!(matches!(&e, ResolveError::UnknownRecipient(n) if n == "zed"));
    assert_eq!(e.to_string(), "unknown recipient \"zed\"");
}

#[tokio::test]
async fn presence_follows_the_first_and_last_session() {
    let mut f = fixture().await;
    let s1 = f.core.connect(f.bob, "bob", 0);
    let s2 = f.core.connect(f.bob, "bob", 0);
    assert!(f.core.is_online(f.bob));
    let online = Event::Presence {
        user: f.bob,
        online: true,
        status: None,
    };
    assert_eq!(f.next_event(), Some(online));
    assert_eq!(f.next_event(), None, "a second session is no news");
    f.core.set_status(f.bob, "bob", "busy");
    assert!(matches!(f.next_event(), Some(Event::Presence { status: Some(s), .. }) if s == "busy"));
    f.core.disconnect(f.bob, "bob", s1.id);
    assert_eq!(f.next_event(), None);
    f.core.disconnect(f.bob, "bob", s2.id);
    assert!(!f.core.is_online(f.bob));
    assert_eq!(
        f.next_event(),
        Some(Event::Presence {
            user: f.bob,
            online: false,
            status: None,
        })
    );
}

#[tokio::test]
async fn a_recording_is_requested_only_from_a_phone_that_can_ring() {
    let mut f = fixture().await;
    let refused = f.core.request_recording(f.alice, vec![f.bob], None);
    assert_eq!(refused, Err(RecordError::NoPhone));
    f.core.set_phones([f.alice]);
    let refused = f.core.request_recording(f.alice, vec![f.bob], None);
    assert_eq!(refused, Err(RecordError::GatewayDown));
    f.core.set_available(f.alice, true);
    assert_eq!(f.core.availability(), vec![(f.alice, true)]);
    // Auto: bob is offline, so it is recorded.
    let (id, delivery) = f
        .core
        .request_recording(f.alice, vec![f.bob], None)
        .unwrap();
    assert_eq!(delivery, Delivery::Record);
    assert_eq!(
        f.next_event(),
        Some(Event::RecordingRequested {
            request: id,
            user: f.alice,
            to: vec![f.bob],
            delivery: Delivery::Record,
        })
    );
    // Auto with bob online, and an explicit mode.
    let _session = f.core.connect(f.bob, "bob", 0);
    let _ = f.next_event();
    let (_, delivery) = f
        .core
        .request_recording(f.alice, vec![f.bob], None)
        .unwrap();
    assert_eq!(delivery, Delivery::Intercom);
    f.core.set_default_mode(f.alice, RecordMode::Record);
    let (_, delivery) = f
        .core
        .request_recording(f.alice, vec![f.bob], None)
        .unwrap();
    assert_eq!(delivery, Delivery::Record);
    // Nobody else sees the request; its owner sees it pending, then failed.
    assert_eq!(f.core.record_status(f.bob, id, Duration::ZERO).await, None);
    assert_eq!(
        f.core.record_status(f.alice, id, Duration::ZERO).await,
        Some(RecordStatus::Pending)
    );
    f.core.recording_failed(id, "no answer");
    assert_eq!(
        f.core.record_status(f.alice, id, Duration::ZERO).await,
        Some(RecordStatus::Failed("no answer".into()))
    );
}

/// A record request's progress: ringing (`Pending`), then `Recording` once the phone is picked
/// up, then its end; `record_status` waits for the end, `record_progress` for any change.
#[tokio::test(start_paused = true)]
async fn a_record_request_is_followed_ringing_recording_and_stored() {
    let f = fixture().await;
    f.core.set_phones([f.alice]);
    f.core.set_available(f.alice, true);
    let (id, _) = f
        .core
        .request_recording(f.alice, vec![f.bob], Some(RecordMode::Record))
        .unwrap();
    assert!(RecordStatus::Pending.is_open() && RecordStatus::Recording.is_open());
    assert!(!RecordStatus::Stored(id_of(1)).is_open());
    assert!(!RecordStatus::Failed("x".into()).is_open());
    // Picked up while someone waits past "ringing": they are woken with "recording".
    let waiter = {
        let core = f.core.clone();
        let alice = f.alice;
        tokio::spawn(async move {
            core.record_progress(alice, id, Duration::from_secs(30), |s| {
                *s != RecordStatus::Pending
            })
            .await
        })
    };
    settle().await;
    assert!(!waiter.is_finished(), "nothing happened yet");
    f.core.recording_started(id);
    assert_eq!(waiter.await.unwrap(), Some(RecordStatus::Recording));
    // Only a ringing request becomes "recording"; an unknown one is ignored.
    f.core.recording_started(id);
    f.core.recording_started(id + 1000);
    // `record_status` waits through "recording" for the end.
    let waiter = {
        let core = f.core.clone();
        let alice = f.alice;
        tokio::spawn(async move { core.record_status(alice, id, Duration::from_secs(30)).await })
    };
    settle().await;
    assert!(!waiter.is_finished(), "recording is not the end");
    f.core.recording_failed(id, "nothing was said");
    assert_eq!(
        waiter.await.unwrap(),
        Some(RecordStatus::Failed("nothing was said".into()))
    );
    // A failed request does not become "recording" again.
    f.core.recording_started(id);
    assert_eq!(
        f.core.record_status(f.alice, id, Duration::ZERO).await,
        Some(RecordStatus::Failed("nothing was said".into()))
    );
    // Waiting runs out at its deadline, with the status then.
    let (other, _) = f
        .core
        .request_recording(f.alice, vec![f.bob], Some(RecordMode::Record))
        .unwrap();
    let started = tokio::time::Instant::now();
    assert_eq!(
        f.core
            .record_status(f.alice, other, Duration::from_secs(5))
            .await,
        Some(RecordStatus::Pending)
    );
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

/// Lets the spawned waiters run until they wait.
async fn settle() {
    for _ in 0..20 {
        tokio::task::yield_now().await;
    }
}

/// Finished record requests are forgotten, oldest first, past the bound; one still under way
/// never is.
#[tokio::test]
async fn past_the_bound_the_oldest_finished_request_is_forgotten_not_an_open_one() {
    let f = fixture().await;
    f.core.set_phones([f.alice]);
    f.core.set_available(f.alice, true);
    let ask = || {
        f.core
            .request_recording(f.alice, vec![f.bob], Some(RecordMode::Record))
            .unwrap()
            .0
    };
    let open = ask();
    let first_finished = ask();
    f.core.recording_failed(first_finished, "no answer");
    for _ in 0..crate::phones::KEEP_REQUESTS {
        let id = ask();
        f.core.recording_failed(id, "no answer");
    }
    assert_eq!(
        f.core.record_status(f.alice, open, Duration::ZERO).await,
        Some(RecordStatus::Pending),
        "still under way: kept"
    );
    assert_eq!(
        f.core
            .record_status(f.alice, first_finished, Duration::ZERO)
            .await,
        None,
        "the oldest finished: forgotten"
    );
}

fn id_of(n: u8) -> Uuid {
    Uuid::from_bytes([n; 16])
}

#[tokio::test]
async fn the_lines_listed_are_the_last_told() {
    let f = fixture().await;
    assert!(f.core.lines().is_empty());
    let line = crate::LineView {
        line: "gw1/aaln/1".into(),
        user: f.alice,
        state: "idle",
        waiting: 2,
    };
    f.core.set_lines(vec![line.clone()]);
    assert_eq!(f.core.lines(), vec![line]);
    f.core.set_lines(vec![]);
    assert!(f.core.lines().is_empty());
}

/// A message with no audio yet, or none ever, answers why; so does one whose audio retention
/// took; and another user's is not found.
#[tokio::test]
async fn audio_not_there_says_why() {
    let f = fixture().await;
    let insert = |status: Status, audio: bool| {
        let id = Uuid::new_v4();
        let msg = NewMessage {
            id,
            sender: f.alice,
            recipients: vec![f.bob],
            created_ms: 0,
            duration_ms: 1000,
            codec: "opus".into(),
            status,
            audio_file: if audio {
                format!("{id}.audio")
            } else {
                String::new()
            },
            raw_offset: None,
            audio_bytes: 0,
            attachments: vec![],
        };
        (id, msg)
    };
    for (status, want) in [
        (Status::Processing, crate::mailbox::ReadError::Processing),
        (Status::Failed, crate::mailbox::ReadError::Failed),
    ] {
        let (id, msg) = insert(status, true);
        f.core
            .db()
            .write(move |c| store::insert(c, &msg))
            .await
            .unwrap();
        let e = f.core.waveform(f.alice, id, 10).await.unwrap_err();
        assert_eq!(e.to_string(), want.to_string());
    }
    let id = f.ready_message().await;
    f.core
        .db()
        .write(move |c| {
            c.execute(
                "UPDATE messages SET audio_file = NULL WHERE id = ?1",
                [id.to_string()],
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let e = f.core.waveform(f.bob, id, 10).await.unwrap_err();
    assert!(matches!(e, crate::mailbox::ReadError::Removed), "{e}");
    let stranger = f.core.waveform(Uuid::new_v4(), id, 10).await.unwrap_err();
    assert!(matches!(stranger, crate::mailbox::ReadError::NotFound));
}

#[tokio::test]
async fn an_empty_recording_is_not_sent() {
    let mut f = fixture().await;
    f.core.set_phones([f.alice]);
    f.core.set_available(f.alice, true);
    let (request, _) = f
        .core
        .request_recording(f.alice, vec![f.bob], Some(RecordMode::Record))
        .unwrap();
    let _ = f.next_event();
    // Five seconds of line noise in which the VAD heard no speech.
    let file = f.dir.path().join("empty.wav");
    let mut w = codecs::wav::WavWriter::new(
        std::io::BufWriter::new(std::fs::File::create(&file).unwrap()),
        8000,
        1,
        None,
    )
    .unwrap();
    w.write_samples(&vec![3i16; 40_000]).unwrap();
    w.finish_seekable().unwrap();
    let recording = Recording {
        file: file.clone(),
        speech: Some(Duration::ZERO),
    };
    assert!(recording.is_empty());
    let e = f
        .core
        .accept_phone_recording(Some(request), f.alice, vec![f.bob], recording)
        .await
        .unwrap_err();
    assert!(matches!(e, accept::Error::Empty));
    assert!(!file.exists(), "the empty recording is removed");
    assert!(f.core.list_for(f.bob).await.unwrap().is_empty());
    assert!(f.core.list_for(f.alice).await.unwrap().is_empty());
    assert_eq!(f.next_event(), None, "nobody's phone rings");
    assert_eq!(
        f.core.record_status(f.alice, request, Duration::ZERO).await,
        Some(RecordStatus::Failed(
            "nothing was recorded: no speech heard".into()
        ))
    );
}

#[tokio::test]
async fn a_live_stream_reaches_only_recipients_with_phones() {
    let mut f = fixture().await;
    assert_eq!(f.core.live_start(f.alice, &[f.bob]), None);
    f.core.set_phones([f.bob]);
    let stream = f.core.live_start(f.alice, &[f.alice, f.bob]).unwrap();
    assert_eq!(
        f.next_event(),
        Some(Event::LiveStart {
            stream,
            from: f.alice,
            to: vec![f.bob],
        })
    );
    f.core.live_buffer(stream, &[1, 2, 3], true);
    assert!(matches!(f.next_event(), Some(Event::LiveBuffer { pcm, .. }) if *pcm == [1, 2, 3]));
    assert_eq!(f.next_event(), Some(Event::LiveEnd { stream }));
    let message = Uuid::new_v4();
    f.core.live_stored(stream, &[f.alice, f.bob], message);
    assert_eq!(
        f.next_event(),
        Some(Event::LiveStored {
            stream,
            to: vec![f.bob],
            message,
        })
    );
}

#[tokio::test]
async fn a_request_nothing_hears_fails_at_once() {
    let f = fixture().await;
    f.core.set_phones([f.alice]);
    f.core.set_available(f.alice, true);
    drop(f.events);
    let (id, _) = f
        .core
        .request_recording(f.alice, vec![f.bob], None)
        .unwrap();
    assert_eq!(
        f.core.record_status(f.alice, id, Duration::ZERO).await,
        Some(RecordStatus::Failed("the station manager stopped".into()))
    );
}

/// A message whose transcoding failed for the appliance's reason (a full disk) stays
/// `processing`; the retention sweep's [`crate::transcode::requeue`] queues it again, once, and
/// it becomes ready, without waiting for a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_left_processing_is_retried_by_the_sweep_once() {
    let mut f = fixture().await;
    // Accepted before the workers run: queued, not yet transcoded.
    let a = f
        .core
        .accept(
            f.alice,
            vec![f.bob],
            Audio::Bytes(speech_wav().into()),
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(f.core.transcode_waiting(), 1);
    assert_eq!(
        crate::transcode::requeue(&f.core).await.unwrap(),
        0,
        "already queued: not queued twice"
    );
    // As a worker whose transcoding failed would: no longer queued, still `processing`.
    f.core.0.transcoder.take_for_test(a.id);
    assert_eq!(f.core.transcode_waiting(), 0);
    assert_eq!(crate::transcode::requeue(&f.core).await.unwrap(), 1);
    assert_eq!(crate::transcode::requeue(&f.core).await.unwrap(), 0);
    f.core.start().await.unwrap();
    let ev = f.wait_event().await;
    assert!(
        matches!(ev, Event::MessageReady { message, .. } if message == a.id),
        "{ev:?}"
    );
    assert!(f.next_event().is_none(), "transcoded once");
}
