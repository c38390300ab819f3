//! Station scenarios over the real media engine core, where the behaviour depends on media:
//! keys arriving in RTP (RFC 4733) while recording and while listening, audio arriving after a
//! capture stopped, intercom buffers the engine still held at the stop, and messages deleted
//! while they play. The real [`StationManager`] meets real [`Stream`] cores (see
//! `support::engine`) and real RTP packets, in virtual time.
//!
//! The gateway's control side is played by hand with model events here: the MGCP simulator
//! offers no `telephone-event` payload type in its SDP, and in-band keys need one. Its
//! connections answer with `telephone_event: Some(101)`, as a gateway that offers RFC 4733 does.
//!
//! [`Stream`]: station_manager::media::Stream

mod support;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use codecs::g711::Law;
use gateway_control::model::{CallId, Codec, Command, Event, GatewayId, Media, Tone};
use station_manager::manager::{Config, StationManager};
use station_manager::{
    Delivery, Input, MediaCommand, MessageId, Output, RequestId, StopReason, UserId,
};
use support::engine::{Engine, FRAME, Phone, message_audio, voice};
use support::{ALICE, BOB, line};

const EVENT_PT: u8 = 101;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

struct Rig {
    mgr: StationManager,
    engine: Engine,
    now: Instant,
    /// Events the hand-played gateway reports next.
    gateway: VecDeque<Event>,
    next_port: u16,
    phones: HashMap<CallId, Phone>,
    commands: Vec<Command>,
    outputs: Vec<Output>,
}

impl Rig {
    /// Alice on line 1 and Bob on line 2, gateway up, both phones on hook.
    fn new(tweak: impl FnOnce(&mut Config)) -> Self {
        let mut config = Config::default();
        config.media_address("192.0.2.1".parse().unwrap());
        tweak(&mut config);
        let mut mgr = StationManager::new(config);
        mgr.add_station(line(1), ALICE).unwrap();
        mgr.add_station(line(2), BOB).unwrap();
        let mut r = Self {
            mgr,
            engine: Engine::new(),
            now: epoch(),
            gateway: VecDeque::from([
                Event::GatewayUp {
                    gateway: GatewayId::new("gw1"),
                },
                Event::LineStatus {
                    line: line(1),
                    off_hook: false,
                },
                Event::LineStatus {
                    line: line(2),
                    off_hook: false,
                },
            ]),
            next_port: 16384,
            phones: HashMap::new(),
            commands: Vec::new(),
            outputs: Vec::new(),
        };
        r.exchange();
        r
    }

    fn state(&self, n: u16) -> &'static str {
        self.mgr.station(&line(n)).unwrap().state_name()
    }

    /// The gateway's answers: connections are created and deleted as asked.
    fn gateway_answers(&mut self, c: &Command) {
        match c {
            Command::CreateConnection { line, call, .. } => {
                let port = self.next_port;
                self.next_port += 2;
                self.gateway.push_back(Event::ConnectionCreated {
                    line: line.clone(),
                    call: *call,
                    local: Media {
                        address: ([192, 0, 2, 2], port).into(),
                        codec: Codec::Pcmu,
                        ptime: ms(20),
                        telephone_event: Some(EVENT_PT),
                    },
                });
                self.phones.insert(*call, Phone::new(EVENT_PT));
            }
            Command::DeleteConnection { line, call } => {
                self.gateway.push_back(Event::ConnectionDeleted {
                    line: line.clone(),
                    call: *call,
                });
            }
            _ => {}
        }
    }

    /// Moves everything between the manager, the gateway and the engine until all are quiet.
    fn exchange(&mut self) {
        let now = self.now;
        loop {
            let mut moved = false;
            while let Some(e) = self.gateway.pop_front() {
                self.mgr.handle_event(now, e);
                moved = true;
            }
            while let Some(c) = self.mgr.poll_command() {
                self.gateway_answers(&c);
                self.commands.push(c);
                moved = true;
            }
            while let Some(m) = self.mgr.poll_media() {
                self.engine.handle(now, m);
                moved = true;
            }
            while let Some(e) = self.engine.events.pop_front() {
                self.mgr.handle_media(now, e);
                moved = true;
            }
            while let Some(o) = self.mgr.poll_output() {
                self.outputs.push(o);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }

    /// Jumps to each timeout due within `d`, and on to `now + d`.
    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        self.exchange();
        while let Some(t) = [self.mgr.poll_timeout(), self.engine.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
            .filter(|&t| t <= end)
        {
            self.now = self.now.max(t);
            if self.mgr.poll_timeout().is_some_and(|t| t <= self.now) {
                self.mgr.handle_timeout(self.now);
            }
            self.engine.handle_timeout(self.now);
            self.exchange();
        }
        self.now = end;
        self.exchange();
    }

    fn event(&mut self, e: Event) {
        self.gateway.push_back(e);
        self.exchange();
    }

    fn input(&mut self, i: Input) {
        self.mgr.handle_input(self.now, i);
        self.exchange();
    }

    /// The call on line `n`'s phone (the last one opened).
    fn call(&self) -> CallId {
        self.engine
            .log
            .iter()
            .rev()
            .find_map(|m| match m {
                MediaCommand::Open { call, .. } => Some(*call),
                _ => None,
            })
            .expect("a call")
    }

    /// The phone speaks `frames` 20 ms frames of voice, one packet every 20 ms; returns what
    /// the line carried after G.711 (what a recording of it holds).
    fn speak(&mut self, call: CallId, frames: usize) -> Vec<i16> {
        let mut line_audio = Vec::new();
        for n in 0..frames {
            let pcm = voice(n);
            let bytes = self.phones.get_mut(&call).unwrap().audio(&pcm);
            line_audio.extend(pcm.iter().map(|&s| ulaw(s)));
            self.engine.receive(self.now, call, &bytes);
            self.advance(ms(20));
        }
        line_audio
    }

    /// A key pressed on the phone, sent in RTP (RFC 4733) only.
    fn press(&mut self, call: CallId, key: char) {
        let start = self.now;
        let packets = self.phones.get_mut(&call).unwrap().key(key);
        for (at, bytes) in packets {
            let due = start + Duration::from_micros(u64::from(at) * 125);
            self.advance(due.saturating_duration_since(self.now));
            self.engine.receive(self.now, call, &bytes);
            self.exchange();
        }
    }

    fn off_hook(&mut self, n: u16) {
        self.event(Event::OffHook { line: line(n) });
    }

    fn on_hook(&mut self, n: u16) {
        self.event(Event::OnHook { line: line(n) });
    }

    /// The `Recorded` outputs.
    fn recorded(&self) -> Vec<&Output> {
        self.outputs
            .iter()
            .filter(|o| matches!(o, Output::Recorded { .. }))
            .collect()
    }

    /// What the phone on `call` heard, as (message tag, frame number) per RTP packet.
    fn heard(&self, call: CallId) -> Vec<(u8, u8)> {
        self.engine
            .heard(call)
            .into_iter()
            .map(|(_, p)| (p[0], p[1]))
            .collect()
    }

    /// Stores message `tag` (`ms` long) for Bob, from Alice, and tells the station manager.
    fn message_for_bob(&mut self, tag: u8, ms: usize) -> MessageId {
        let id = MessageId([tag; 16]);
        self.engine.store.insert(id, message_audio(ms, tag));
        self.input(Input::MessageWaiting {
            user: BOB,
            message: id,
            from: ALICE,
        });
        id
    }
}

fn ulaw(s: i16) -> i16 {
    Law::Ulaw.decode_sample(Law::Ulaw.encode_sample(s))
}

/// Alice's phone rings for request 1 to Bob and she picks up: returns the call.
fn alice_records(r: &mut Rig, delivery: Delivery) -> CallId {
    r.input(Input::Record {
        request: RequestId(1),
        user: ALICE,
        to: vec![BOB],
        delivery,
    });
    assert_eq!(r.state(1), "AwaitingOffHook");
    r.off_hook(1);
    assert_eq!(r.state(1), "Recording");
    let call = r.call();
    assert!(r.engine.stream(call).unwrap().is_capturing());
    call
}

/// The one recording: (request, sender, recipients, reason, duration, speech).
fn the_recording(
    r: &Rig,
) -> (
    Option<RequestId>,
    UserId,
    Vec<UserId>,
    StopReason,
    Duration,
    Duration,
) {
    let rec = r.recorded();
    assert_eq!(rec.len(), 1, "{:#?}", r.outputs);
    let Output::Recorded {
        request,
        user,
        to,
        reason,
        duration,
        speech,
        ..
    } = rec[0].clone()
    else {
        unreachable!()
    };
    (request, user, to, reason, duration, speech)
}

#[test]
fn the_stop_key_in_rtp_ends_a_recording_which_keeps_what_was_said() {
    let mut r = Rig::new(|_| {});
    let call = alice_records(&mut r, Delivery::Record);
    let said = r.speak(call, 100);
    r.press(call, '#');
    let (request, user, to, reason, duration, speech) = the_recording(&r);
    assert_eq!((request, user, to), (Some(RequestId(1)), ALICE, vec![BOB]));
    assert_eq!(reason, StopReason::StopKey);
    assert_eq!(duration, Duration::from_secs(2));
    assert!(speech > Duration::ZERO, "{speech:?}");
    assert_eq!(
        r.engine.recordings[0].1.samples(),
        said,
        "the audio, sample for sample"
    );
    assert_eq!(r.state(1), "AwaitingOnHook");
    assert!(r.commands.contains(&Command::DeleteConnection {
        line: line(1),
        call
    }));
    assert!(r.commands.contains(&Command::PlayTone {
        line: line(1),
        tone: Tone::Confirmation
    }));
    assert_eq!(r.mgr.ports_in_use(), 0);
    assert_eq!(
        r.mgr.stats().stations.ignored,
        0,
        "the end packets repeat one key"
    );
}

#[test]
fn other_keys_in_rtp_do_not_stop_a_recording() {
    let mut r = Rig::new(|_| {});
    let call = alice_records(&mut r, Delivery::Record);
    let before = r.speak(call, 25);
    r.press(call, '5');
    assert_eq!(r.state(1), "Recording");
    assert!(r.engine.stream(call).unwrap().is_capturing());
    assert_eq!(r.mgr.stats().stations.ignored, 1);
    let after = r.speak(call, 25);
    r.on_hook(1);
    let (.., reason, _, _) = the_recording(&r);
    assert_eq!(reason, StopReason::OnHook);
    // The 100 ms the key took (no audio) is filled, and the voice after it is kept; its first
    // frame is blended with the concealment that filled the pause (G.711 Appendix I).
    let samples = r.engine.recordings[0].1.samples();
    assert_eq!(samples.len(), before.len() + 800 + after.len());
    assert!(samples.starts_with(&before));
    assert!(samples.ends_with(&after[FRAME..]));
    assert_eq!(r.state(1), "Idle");
}

#[test]
fn intercom_buffers_the_engine_held_at_the_stop_still_go_out_before_the_end() {
    // 30 ms live buffers from 20 ms packets: 100 ms spoken is three buffers and 10 ms left.
    let mut r = Rig::new(|c| {
        c.live_buffer(ms(30)).unwrap();
    });
    let call = alice_records(&mut r, Delivery::Intercom);
    let said = r.speak(call, 5);
    let sent_before_stop = r
        .outputs
        .iter()
        .filter(|o| matches!(o, Output::LiveBuffer { .. }))
        .count();
    assert_eq!(sent_before_stop, 3);
    r.press(call, '#');
    let mut live = Vec::new();
    let mut seqs = Vec::new();
    let mut ends = 0;
    for o in &r.outputs {
        match o {
            Output::LiveBuffer { seq, pcm, .. } => {
                assert_eq!(ends, 0, "a buffer after the stream's end");
                seqs.push(*seq);
                live.extend_from_slice(pcm);
            }
            Output::LiveEnd { .. } => ends += 1,
            Output::Capturing { .. } => assert!(seqs.is_empty(), "capture began first"),
            Output::Recorded { stream, .. } => {
                assert_eq!(ends, 1, "the stream ends before the message is handed over");
                assert!(stream.is_some());
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(seqs, vec![0, 1, 2, 3]);
    assert_eq!(
        live, said,
        "every sample went out live, the last 10 ms after the stop"
    );
    assert_eq!(r.engine.recordings[0].1.samples(), said);
    assert_eq!(the_recording(&r).4, ms(100));
}

/// Messages 1–3 (3 s each) wait for Bob; his phone rings and he picks up. Returns the call.
fn bob_listens(r: &mut Rig) -> CallId {
    for tag in 1..=3 {
        r.message_for_bob(tag, 3000);
    }
    assert_eq!(r.state(2), "AwaitingOffHook");
    r.off_hook(2);
    assert_eq!(r.state(2), "Playing");
    r.call()
}

/// The runs of consecutive frames of one message in what was heard: (tag, first, last).
fn runs(heard: &[(u8, u8)]) -> Vec<(u8, u8, u8)> {
    let mut out: Vec<(u8, u8, u8)> = Vec::new();
    for &(tag, n) in heard {
        match out.last_mut() {
            Some((t, _, last)) if *t == tag && n == *last + 1 => *last = n,
            _ => out.push((tag, n, n)),
        }
    }
    out
}

fn message(tag: u8) -> MessageId {
    MessageId([tag; 16])
}

#[test]
fn keys_in_rtp_skip_delete_and_replay_during_playback() {
    let mut r = Rig::new(|_| {});
    let call = bob_listens(&mut r);
    r.advance(ms(1000));
    r.press(call, '#');
    r.advance(ms(500));
    r.press(call, '7');
    r.advance(ms(1000));
    r.press(call, '4');
    r.advance(ms(4000));
    let heard = runs(&r.heard(call));
    // Message 1 from its start until the key, message 2 from its start, message 3 from its
    // start, then message 3 again from its start to its end.
    assert_eq!(heard.len(), 4, "{heard:?}");
    assert_eq!(
        heard.iter().map(|h| (h.0, h.1)).collect::<Vec<_>>(),
        [(1, 0), (2, 0), (3, 0), (3, 0)]
    );
    assert!((50..=52).contains(&heard[0].2), "{heard:?}");
    assert_eq!(heard[3].2, 149, "played to its end");
    assert_eq!(
        r.outputs,
        vec![
            Output::Played {
                user: BOB,
                message: message(1)
            },
            Output::Deleted {
                user: BOB,
                message: message(2)
            },
            Output::Played {
                user: BOB,
                message: message(3)
            },
        ]
    );
    // Nothing left: the confirmation tone and the call ends.
    assert_eq!(r.state(2), "AwaitingOnHook");
    assert!(r.commands.contains(&Command::DeleteConnection {
        line: line(2),
        call
    }));
    let stats = r.mgr.stats().stations;
    assert_eq!((stats.played, stats.deleted), (2, 1));
}

#[test]
fn a_message_deleted_while_it_plays_stops_on_the_line() {
    let mut r = Rig::new(|_| {});
    let call = bob_listens(&mut r);
    r.advance(ms(1000));
    // Deleted in the web UI: gone from the store, and the IVM core says so.
    r.engine.store.remove(&message(1));
    r.input(Input::MessageGone {
        user: BOB,
        message: message(1),
    });
    // Message 3 is removed from the store without a word (its file lost): it cannot play.
    r.engine.store.remove(&message(3));
    r.advance(ms(4000));
    let heard = runs(&r.heard(call));
    assert_eq!(heard.len(), 2, "{heard:?}");
    assert_eq!((heard[0].0, heard[0].1), (1, 0));
    assert!((49..=51).contains(&heard[0].2), "{heard:?}");
    assert_eq!(heard[1], (2, 0, 149));
    assert_eq!(
        r.outputs,
        vec![Output::Played {
            user: BOB,
            message: message(2)
        }],
        "neither the deleted message nor the one that failed counts as heard"
    );
    let stats = r.mgr.stats().stations;
    assert_eq!((stats.played, stats.play_failures), (1, 1));
    assert_eq!(r.state(2), "AwaitingOnHook");
}

#[test]
fn a_reply_with_star_in_rtp_records_only_the_reply_and_playback_resumes() {
    let mut r = Rig::new(|_| {});
    let call = bob_listens(&mut r);
    r.advance(ms(500));
    r.press(call, '*');
    assert_eq!(r.state(2), "Recording");
    let said = r.speak(call, 50);
    r.press(call, '#');
    let (request, user, to, reason, duration, _) = the_recording(&r);
    assert_eq!((request, user, to), (None, BOB, vec![ALICE]));
    assert_eq!(
        (reason, duration),
        (StopReason::StopKey, Duration::from_secs(1))
    );
    assert_eq!(r.engine.recordings[0].1.samples(), said);
    assert_eq!(r.state(2), "Playing", "on to message 2 on the same call");
    // The phone keeps sending audio while message 2 plays: it is not recorded.
    r.speak(call, 50);
    assert_eq!(r.engine.recordings.len(), 1);
    assert_eq!(r.engine.recordings[0].1.samples(), said);
    let heard = runs(&r.heard(call));
    assert_eq!(
        heard.iter().map(|h| (h.0, h.1)).collect::<Vec<_>>(),
        [(1, 0), (2, 0)]
    );
    assert!(heard[0].2 < 30, "message 1 stopped at the key: {heard:?}");
}
