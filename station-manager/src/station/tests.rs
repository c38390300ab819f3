//! One station, state by state, with hand-fed events.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gateway_control::model::{
    Cadence, CallId, Codec, Command, Digit, DownReason, Event, GatewayId, LineId, Media, Tone,
};

use super::*;
use crate::{Delivery, StopReason};

struct T {
    st: Station,
    calls: Calls,
    now: Instant,
}

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

fn line() -> LineId {
    LineId::new(GatewayId::new("gw1"), "aaln/1")
}

const ME: UserId = UserId([1; 16]);
const BOB: UserId = UserId([2; 16]);

impl T {
    /// A station whose gateway is up and whose phone is on hook.
    fn up() -> Self {
        let mut t = Self {
            st: Station::new(line(), ME, Config::default()),
            calls: Calls::new(20000..=20009, 1),
            now: epoch(),
        };
        assert!(!t.st.is_available());
        t.ev(Event::GatewayUp {
            gateway: GatewayId::new("gw1"),
        });
        t.ev(Event::LineStatus {
            line: line(),
            off_hook: false,
        });
        assert_eq!(t.st.state_name(), "Idle");
        t
    }

    fn ev(&mut self, e: Event) {
        self.st.handle_event(self.now, &e, &mut self.calls);
    }

    fn input(&mut self, i: Input) {
        self.st.handle_input(self.now, i, &mut self.calls);
    }

    fn media(&mut self, e: MediaEvent) {
        self.st.handle_media(self.now, e, &mut self.calls);
    }

    fn commands(&mut self) -> Vec<Command> {
        std::iter::from_fn(|| self.st.poll_command()).collect()
    }

    fn media_out(&mut self) -> Vec<MediaCommand> {
        std::iter::from_fn(|| self.st.poll_media()).collect()
    }

    fn outputs(&mut self) -> Vec<Output> {
        std::iter::from_fn(|| self.st.poll_output()).collect()
    }

    fn record(&mut self, delivery: Delivery) {
        self.input(Input::Record {
            request: RequestId(7),
            user: ME,
            to: vec![BOB],
            delivery,
        });
    }

    /// Picks up and has the connection created; returns the call.
    fn pick_up_and_connect(&mut self) -> CallId {
        self.ev(Event::OffHook { line: line() });
        assert_eq!(self.st.state_name(), "AwaitingConnection");
        let call = self
            .commands()
            .into_iter()
            .find_map(|c| match c {
                Command::CreateConnection { call, remote, .. } => {
                    assert_eq!(remote.unwrap().address.port() % 2, 0);
                    Some(call)
                }
                _ => None,
            })
            .expect("CreateConnection");
        self.ev(Event::ConnectionCreated {
            line: line(),
            call,
            local: Media {
                address: "192.0.2.2:16384".parse().unwrap(),
                codec: Codec::Pcmu,
                ptime: Duration::from_millis(20),
                telephone_event: None,
            },
        });
        call
    }

    fn captured(&mut self, call: CallId, ms: u64) {
        self.captured_speech(call, ms, ms);
    }

    fn captured_speech(&mut self, call: CallId, ms: u64, speech_ms: u64) {
        self.media(MediaEvent::Captured {
            call,
            file: PathBuf::from("/tmp/x.wav"),
            duration: Duration::from_millis(ms),
            speech: Duration::from_millis(speech_ms),
        });
    }
}

fn recorded_reason(out: &[Output]) -> Option<StopReason> {
    out.iter().find_map(|o| match o {
        Output::Recorded { reason, .. } => Some(*reason),
        _ => None,
    })
}

#[test]
fn record_request_rings_distinctively_and_times_out() {
    let mut t = T::up();
    t.record(Delivery::Record);
    assert_eq!(t.st.state_name(), "AwaitingOffHook");
    assert!(t.commands().iter().any(|c| matches!(
        c,
        Command::Ring {
            cadence: Cadence::Distinctive(1),
            ..
        }
    )));
    let at = t.st.poll_timeout().unwrap();
    assert_eq!(at - t.now, Duration::from_secs(30));
    t.now = at;
    t.st.handle_timeout(t.now, &mut t.calls);
    assert!(
        t.commands()
            .iter()
            .any(|c| matches!(c, Command::StopRing { .. }))
    );
    let out = t.outputs();
    assert!(
        matches!(&out[..], [Output::RecordFailed { request: RequestId(7), reason }] if reason.starts_with("no answer")),
        "{out:?}"
    );
    assert_eq!(t.st.state_name(), "Idle");
    assert_eq!(t.st.poll_timeout(), None);
}

#[test]
fn recording_stops_on_the_stop_key_and_hangs_up_after_the_file() {
    let mut t = T::up();
    t.record(Delivery::Record);
    let call = t.pick_up_and_connect();
    assert_eq!(t.st.state_name(), "Recording");
    assert!(t.commands().iter().any(|c| matches!(
        c,
        Command::PlayTone {
            tone: Tone::Confirmation,
            ..
        }
    )));
    let m = t.media_out();
    assert!(matches!(m[0], MediaCommand::Open { .. }));
    assert!(matches!(m[1], MediaCommand::Remote { .. }));
    assert!(matches!(
        m[2],
        MediaCommand::StartCapture {
            live_buffer: None,
            ..
        }
    ));
    t.ev(Event::Digit {
        line: line(),
        digit: Digit::new('#').unwrap(),
    });
    assert_eq!(t.st.state_name(), "AwaitingCapture");
    assert_eq!(t.media_out(), vec![MediaCommand::StopCapture { call }]);
    t.captured(call, 3000);
    assert_eq!(recorded_reason(&t.outputs()), Some(StopReason::StopKey));
    assert!(
        t.commands()
            .iter()
            .any(|c| matches!(c, Command::DeleteConnection { .. }))
    );
    assert_eq!(t.media_out(), vec![MediaCommand::Close { call }]);
    assert_eq!(t.calls.ports().in_use(), 0);
    assert_eq!(t.st.state_name(), "AwaitingOnHook");
    t.ev(Event::OnHook { line: line() });
    assert_eq!(t.st.state_name(), "Idle");
}

#[test]
fn an_empty_recording_plays_the_error_tone_and_is_handed_over_as_empty() {
    let mut t = T::up();
    t.record(Delivery::Record);
    let call = t.pick_up_and_connect();
    t.commands();
    t.media_out();
    t.media(MediaEvent::Silence { call });
    assert_eq!(t.media_out(), vec![MediaCommand::StopCapture { call }]);
    // Five seconds of line noise, none of it speech.
    t.captured_speech(call, 5000, 0);
    let out = t.outputs();
    assert!(
        out.iter().any(|o| matches!(
            o,
            Output::Recorded { speech, reason: StopReason::Silence, .. } if speech.is_zero()
        )),
        "{out:#?}"
    );
    let commands = t.commands();
    assert!(commands.iter().any(|c| matches!(
        c,
        Command::PlayTone {
            tone: Tone::Reorder,
            ..
        }
    )));
    assert!(!commands.iter().any(|c| matches!(
        c,
        Command::PlayTone {
            tone: Tone::Confirmation,
            ..
        }
    )));
}

#[test]
fn in_band_stop_key_silence_and_on_hook_each_stop() {
    for (how, want) in [
        ("inband", StopReason::StopKey),
        ("silence", StopReason::Silence),
        ("max", StopReason::MaxLength),
        ("onhook", StopReason::OnHook),
    ] {
        let mut t = T::up();
        t.record(Delivery::Record);
        let call = t.pick_up_and_connect();
        match how {
            "inband" => t.media(MediaEvent::Digit {
                call,
                digit: Digit::new('#').unwrap(),
            }),
            "silence" => t.media(MediaEvent::Silence { call }),
            "max" => t.media(MediaEvent::MaxLength { call }),
            _ => t.ev(Event::OnHook { line: line() }),
        }
        t.captured(call, 1000);
        assert_eq!(recorded_reason(&t.outputs()), Some(want), "{how}");
    }
}

#[test]
fn gateway_down_mid_recording_keeps_what_was_captured() {
    let mut t = T::up();
    t.record(Delivery::Record);
    let call = t.pick_up_and_connect();
    t.media_out();
    t.commands();
    t.ev(Event::GatewayDown {
        gateway: GatewayId::new("gw1"),
        reason: DownReason::Forced,
    });
    assert_eq!(t.media_out(), vec![MediaCommand::StopCapture { call }]);
    t.captured(call, 1500);
    assert_eq!(recorded_reason(&t.outputs()), Some(StopReason::GatewayLost));
    assert!(t.commands().is_empty(), "no DLCX to a gateway that is down");
    assert_eq!(t.st.state_name(), "AwaitingGateway");
    assert!(!t.st.is_available());
    t.record(Delivery::Record);
    assert!(
        matches!(&t.outputs()[..], [Output::RecordFailed { reason, .. }] if reason.contains("down"))
    );
}

#[test]
fn nothing_captured_before_the_gateway_went_down_is_a_failure() {
    let mut t = T::up();
    t.record(Delivery::Record);
    let call = t.pick_up_and_connect();
    t.ev(Event::ConnectionLost {
        line: line(),
        call,
        reason: "restart".into(),
    });
    t.captured(call, 0);
    assert!(matches!(
        &t.outputs()[..],
        [
            Output::Capturing {
                request: Some(RequestId(7)),
                user: ME
            },
            Output::RecordFailed { .. }
        ]
    ));
}

#[test]
fn a_busy_phone_refuses_a_second_request() {
    let mut t = T::up();
    t.record(Delivery::Record);
    t.outputs();
    t.input(Input::Record {
        request: RequestId(8),
        user: ME,
        to: vec![BOB],
        delivery: Delivery::Record,
    });
    assert!(matches!(
        &t.outputs()[..],
        [Output::RecordFailed { request: RequestId(8), reason }] if reason.contains("busy")
    ));
}

#[test]
fn intercom_capture_sends_live_buffers_then_the_message() {
    let mut t = T::up();
    t.record(Delivery::Intercom);
    let call = t.pick_up_and_connect();
    assert!(t.media_out().iter().any(|m| matches!(
        m,
        MediaCommand::StartCapture {
            live_buffer: Some(160),
            ..
        }
    )));
    for seq in 0..3 {
        t.media(MediaEvent::Buffer {
            call,
            seq,
            pcm: vec![0; 160],
            received: t.now,
        });
    }
    t.ev(Event::OnHook { line: line() });
    t.captured(call, 60);
    let out = t.outputs();
    assert!(matches!(out[0], Output::Capturing { .. }), "{out:?}");
    assert_eq!(
        out.iter()
            .filter(|o| matches!(o, Output::LiveBuffer { .. }))
            .count(),
        3
    );
    assert!(matches!(out[4], Output::LiveEnd { .. }));
    assert!(matches!(
        out[5],
        Output::Recorded {
            stream: Some(_),
            ..
        }
    ));
}

#[test]
fn messages_ring_normally_and_play_in_turn_with_keys() {
    let mut t = T::up();
    for n in 1..=3u8 {
        t.input(Input::MessageWaiting {
            user: ME,
            message: MessageId([n; 16]),
            from: BOB,
        });
    }
    assert!(t.commands().iter().any(|c| matches!(
        c,
        Command::Ring {
            cadence: Cadence::Normal,
            ..
        }
    )));
    let call = t.pick_up_and_connect();
    assert_eq!(t.st.state_name(), "Playing");
    t.media(MediaEvent::PlayDone { call });
    t.ev(Event::Digit {
        line: line(),
        digit: Digit::new('7').unwrap(),
    });
    assert_eq!(
        t.outputs(),
        vec![
            Output::Played {
                user: ME,
                message: MessageId([1; 16])
            },
            Output::Deleted {
                user: ME,
                message: MessageId([2; 16])
            }
        ]
    );
    t.media(MediaEvent::PlayDone { call });
    assert_eq!(t.st.state_name(), "AwaitingOnHook");
    assert_eq!(t.calls.ports().in_use(), 0);
}

#[test]
fn a_live_stream_to_a_ringing_phone_is_held_bounded() {
    let mut t = T::up();
    let stream = StreamId(5);
    t.input(Input::LiveStart {
        user: ME,
        stream,
        from: BOB,
    });
    // 30 s of 20 ms buffers against a 10 s backlog.
    for _ in 0..1500 {
        t.input(Input::LiveBuffer {
            stream,
            pcm: vec![1; 160],
        });
    }
    assert_eq!(t.st.stats().live_dropped, 1000);
    t.pick_up_and_connect();
    let held = t
        .media_out()
        .iter()
        .filter(|m| matches!(m, MediaCommand::LiveBuffer { .. }))
        .count();
    assert_eq!(held, 500);
    assert_eq!(t.st.state_name(), "Intercom");
}

#[test]
fn hanging_up_or_losing_the_gateway_mid_message_leaves_it_waiting() {
    let mut t = T::up();
    t.input(Input::MessageWaiting {
        user: ME,
        message: MessageId([1; 16]),
        from: BOB,
    });
    let call = t.pick_up_and_connect();
    t.ev(Event::OnHook { line: line() });
    assert_eq!(t.st.state_name(), "Idle", "no ring right after a hang-up");
    assert_eq!(t.st.waiting(), 1);
    assert!(t.outputs().is_empty());
    assert!(t.media_out().contains(&MediaCommand::Close { call }));
    // Again, and this time the gateway drops the call.
    let call = t.pick_up_and_connect();
    t.ev(Event::ConnectionLost {
        line: line(),
        call,
        reason: "gateway-initiated delete".into(),
    });
    assert_eq!(t.st.state_name(), "AwaitingOnHook");
    assert_eq!(t.st.waiting(), 1);
    assert_eq!(t.st.stats().connections_lost, 1);
    assert_eq!(t.calls.ports().in_use(), 0);
}

#[test]
fn a_message_that_cannot_be_played_is_skipped() {
    let mut t = T::up();
    for n in 1..=2 {
        t.input(Input::MessageWaiting {
            user: ME,
            message: MessageId([n; 16]),
            from: BOB,
        });
    }
    let call = t.pick_up_and_connect();
    t.media_out();
    t.media(MediaEvent::Failed {
        call,
        reason: "no such message".into(),
    });
    assert_eq!(
        t.media_out(),
        vec![MediaCommand::PlayMessage {
            call,
            message: MessageId([2; 16])
        }]
    );
    assert!(t.outputs().is_empty(), "not marked played");
    assert_eq!(t.st.stats().play_failures, 1);
}

#[test]
fn a_message_withdrawn_elsewhere_stops_the_ring() {
    let mut t = T::up();
    t.input(Input::MessageWaiting {
        user: ME,
        message: MessageId([1; 16]),
        from: BOB,
    });
    assert_eq!(t.st.state_name(), "AwaitingOffHook");
    t.commands();
    t.input(Input::MessageGone {
        user: ME,
        message: MessageId([1; 16]),
    });
    assert_eq!(t.commands(), vec![Command::StopRing { line: line() }]);
    assert_eq!(t.st.state_name(), "Idle");
    assert_eq!(t.st.poll_timeout(), None);
}

#[test]
fn a_record_request_outranks_a_message_ring() {
    let mut t = T::up();
    t.input(Input::MessageWaiting {
        user: ME,
        message: MessageId([1; 16]),
        from: BOB,
    });
    t.commands();
    t.record(Delivery::Record);
    assert!(matches!(
        &t.commands()[..],
        [Command::Ring {
            cadence: Cadence::Distinctive(1),
            ..
        }]
    ));
    t.pick_up_and_connect();
    assert_eq!(t.st.state_name(), "Recording");
    assert_eq!(t.st.waiting(), 1, "the message still waits");
}

const OTHER_CALL: CallId = CallId(999);

fn msg(n: u8) -> MessageId {
    MessageId([n; 16])
}

impl T {
    /// A key pressed on the phone, as the gateway reports it.
    fn key(&mut self, k: char) {
        self.ev(Event::Digit {
            line: line(),
            digit: Digit::new(k).unwrap(),
        });
    }

    /// A key arriving in-band (RFC 4733) on `call`, as the media engine reports it.
    fn in_band(&mut self, call: CallId, k: char) {
        self.media(MediaEvent::Digit {
            call,
            digit: Digit::new(k).unwrap(),
        });
    }

    /// Message `n` from Bob waits for me.
    fn message(&mut self, n: u8) {
        self.input(Input::MessageWaiting {
            user: ME,
            message: msg(n),
            from: BOB,
        });
    }

    fn gone(&mut self, n: u8) {
        self.input(Input::MessageGone {
            user: ME,
            message: msg(n),
        });
    }

    fn gateway_down(&mut self, reason: DownReason) {
        self.ev(Event::GatewayDown {
            gateway: GatewayId::new("gw1"),
            reason,
        });
    }

    /// Drains every outbox.
    fn drain(&mut self) {
        self.commands();
        self.media_out();
        self.outputs();
    }
}

mod faults;
mod listening;
mod recording;
