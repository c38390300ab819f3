//! The trunk layer through the manager, with the gateway's events written by hand: what the
//! station behind a trunk and the dial-in caller cause on the ports, and what the ports'
//! events cause for them.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gateway_control::model::{
    CallId, CallerId, Codec, Command, Digit, Disconnect, Event, GatewayId, LineId, Media,
};

use super::{Selection, TrunkGroup, station_line};
use crate::manager::{Config, StationManager};
use crate::{
    Input, MediaCommand, MediaEvent, MessageId, Output, Progress, Prompt, RequestId, StopReason,
    UserId,
};

const ALICE: UserId = UserId([0xA1; 16]);
const CAROL: UserId = UserId([0xCA; 16]);
const DAVE: UserId = UserId([0xDA; 16]);
const ERIN: UserId = UserId([0xE1; 16]);

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

fn port(n: u16) -> LineId {
    LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"))
}

/// The manager, its virtual clock, and everything it has said, drained as it goes.
struct T {
    m: StationManager,
    now: Instant,
    commands: Vec<Command>,
    media: Vec<MediaCommand>,
    outputs: Vec<Output>,
}

impl T {
    /// Trunk `pbx` on ports 3 and 4 (dial-in), carol behind it at 2041, dave at 2042, erin
    /// at 2043; the gateway is up.
    fn new(selection: Selection) -> Self {
        Self::with(selection, super::ANSWER_TIMEOUT)
    }

    fn with(selection: Selection, answer: Duration) -> Self {
        let mut m = StationManager::new(Config::default());
        let group = TrunkGroup::new("pbx", vec![port(3), port(4)])
            .unwrap()
            .selection(selection)
            .dial_in(true)
            .answer_timeout(answer)
            .unwrap();
        m.add_trunk(group).unwrap();
        for (user, number) in [(CAROL, "2041"), (DAVE, "2042"), (ERIN, "2043")] {
            let line = m.trunk_station_line("pbx", number).unwrap();
            m.add_station(line, user).unwrap();
        }
        let mut t = Self {
            m,
            now: epoch(),
            commands: Vec::new(),
            media: Vec::new(),
            outputs: Vec::new(),
        };
        t.ev(gw1_up());
        assert!(
            t.take_commands()
                .iter()
                .filter(|c| matches!(c, Command::AddTrunk { .. }))
                .count()
                == 2
        );
        t.media.clear();
        for n in ["2041", "2042", "2043"] {
            assert_eq!(t.state(&station_line("pbx", n)), "Idle");
        }
        t
    }

    fn drain(&mut self) {
        while let Some(c) = self.m.poll_command() {
            self.commands.push(c);
        }
        while let Some(c) = self.m.poll_media() {
            self.media.push(c);
        }
        while let Some(o) = self.m.poll_output() {
            self.outputs.push(o);
        }
    }

    fn ev(&mut self, e: Event) {
        self.m.handle_event(self.now, e);
        self.drain();
    }

    fn media_ev(&mut self, e: MediaEvent) {
        self.m.handle_media(self.now, e);
        self.drain();
    }

    fn input(&mut self, i: Input) {
        self.m.handle_input(self.now, i);
        self.drain();
    }

    fn advance(&mut self, d: Duration) {
        self.now += d;
        while let Some(t) = self.m.poll_timeout().filter(|t| *t <= self.now) {
            let _ = t;
            self.m.handle_timeout(self.now);
            self.drain();
        }
    }

    fn take_commands(&mut self) -> Vec<Command> {
        std::mem::take(&mut self.commands)
    }

    fn take_media(&mut self) -> Vec<MediaCommand> {
        std::mem::take(&mut self.media)
    }

    fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    fn state(&self, line: &LineId) -> &'static str {
        self.m.station(line).map_or("none", |s| s.state_name())
    }

    /// The gateway made the connection `call` on `line` (answering a `CreateConnection`).
    fn created(&mut self, line: &LineId, call: CallId) {
        self.ev(Event::ConnectionCreated {
            line: line.clone(),
            call,
            local: media(),
        });
    }

    fn key(&mut self, line: &LineId, keys: &str) {
        for k in keys.chars() {
            self.ev(Event::Digit {
                line: line.clone(),
                digit: Digit::new(k).unwrap(),
            });
        }
    }

    /// Rings carol to record for alice; returns the port seized and our watching call.
    fn ring_carol(&mut self, request: u64) -> (LineId, CallId) {
        self.input(Input::Record {
            request: RequestId(request),
            user: CAROL,
            to: vec![ALICE],
            delivery: crate::Delivery::Record,
        });
        let commands = self.take_commands();
        let (port, call) = seized(&commands).expect("a port seized");
        assert!(
            commands.contains(&Command::Dial {
                line: port.clone(),
                number: digits("2041"),
                method: gateway_control::model::DialMethod::Dtmf,
            }),
            "{commands:#?}"
        );
        self.created(&port, call);
        assert!(
            self.take_media()
                .contains(&MediaCommand::WatchProgress { call }),
            "the line is heard for call progress"
        );
        (port, call)
    }

    /// The station's connection on `port` after an answer: its call id.
    fn station_call(&mut self, port: &LineId) -> CallId {
        let commands = self.take_commands();
        let call = commands
            .iter()
            .find_map(|c| match c {
                Command::CreateConnection { line, call, .. } if line == port => Some(*call),
                _ => None,
            })
            .unwrap_or_else(|| panic!("no connection on {port}: {commands:#?}"));
        self.created(port, call);
        call
    }
}

/// `user` is asked to record a message for alice.
fn record(request: u64, user: UserId) -> Input {
    Input::Record {
        request: RequestId(request),
        user,
        to: vec![ALICE],
        delivery: crate::Delivery::Record,
    }
}

fn gw1_up() -> Event {
    Event::GatewayUp {
        gateway: GatewayId::new("gw1"),
    }
}

fn media() -> Media {
    Media {
        address: SocketAddr::from(([127, 0, 0, 1], 40000)),
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        telephone_event: None,
    }
}

fn digits(s: &str) -> Vec<Digit> {
    s.chars().map(|c| Digit::new(c).unwrap()).collect()
}

/// The port a `Seize` named and the connection made on it.
fn seized(commands: &[Command]) -> Option<(LineId, CallId)> {
    let port = commands.iter().find_map(|c| match c {
        Command::Seize { line } => Some(line.clone()),
        _ => None,
    })?;
    let call = commands.iter().find_map(|c| match c {
        Command::CreateConnection { line, call, .. } if *line == port => Some(*call),
        _ => None,
    })?;
    Some((port, call))
}

fn released(commands: &[Command], port: &LineId) -> bool {
    commands.contains(&Command::Release { line: port.clone() })
}

fn failure(outputs: &[Output]) -> Option<String> {
    outputs.iter().find_map(|o| match o {
        Output::RecordFailed { reason, .. } => Some(reason.clone()),
        _ => None,
    })
}

#[test]
fn a_station_behind_a_trunk_is_seized_dialled_answered_recorded_and_hung_up() {
    let mut t = T::new(Selection::FirstFree);
    let (p, watch) = t.ring_carol(1);
    assert_eq!(p, port(3), "first free");
    t.ev(Event::DialComplete { line: p.clone() });
    t.ev(Event::FarEndAnswer { line: p.clone() });
    // Our watching call goes before the station's connection is made.
    let commands = t.commands.clone();
    let del = commands
        .iter()
        .position(|c| matches!(c, Command::DeleteConnection { call, .. } if *call == watch));
    let create = commands
        .iter()
        .position(|c| matches!(c, Command::CreateConnection { line, .. } if *line == p));
    assert!(del.unwrap() < create.unwrap(), "{commands:#?}");
    let c = t.station_call(&p);
    assert!(t.media.contains(&MediaCommand::WatchProgress { call: c }));
    assert_eq!(t.state(&station_line("pbx", "2041")), "Recording");
    assert!(
        t.take_outputs()
            .iter()
            .any(|o| matches!(o, Output::Capturing { user, .. } if *user == CAROL))
    );
    // The far end hangs up: loop-current drop.
    t.ev(Event::FarEndDisconnect {
        line: p.clone(),
        why: Disconnect::LoopCurrentDrop,
    });
    assert!(released(&t.take_commands(), &p), "released at once");
    t.media_ev(MediaEvent::Captured {
        call: c,
        file: PathBuf::from("/tmp/x.wav"),
        duration: Duration::from_secs(4),
        speech: Duration::from_secs(3),
    });
    let commands = t.take_commands();
    assert!(
        commands.contains(&Command::DeleteConnection {
            line: p.clone(),
            call: c
        }),
        "{commands:#?}"
    );
    assert!(!released(&commands, &p), "released once");
    let recorded = t.take_outputs();
    assert!(recorded.iter().any(|o| matches!(
        o,
        Output::Recorded { request: Some(RequestId(1)), user, to, reason: StopReason::OnHook, .. }
            if *user == CAROL && to == &vec![ALICE]
    )), "{recorded:#?}");
    assert_eq!(t.m.stats().trunks.answered_by_line, 1);
    assert_eq!(t.m.stats().trunks.far_end_gone, 1);
    // The port is free again: the next call takes it.
    let (again, _) = t.ring_carol(2);
    assert_eq!(again, port(3));
}

#[test]
fn without_an_answer_signal_voice_after_dialling_answers() {
    let mut t = T::new(Selection::FirstFree);
    let (p, watch) = t.ring_carol(1);
    // Voice before the number is out (our DTMF echoed) is not an answer.
    t.media_ev(MediaEvent::Progress {
        call: watch,
        heard: Progress::Voice,
    });
    assert_eq!(t.state(&station_line("pbx", "2041")), "AwaitingOffHook");
    t.ev(Event::DialComplete { line: p.clone() });
    t.media_ev(MediaEvent::Progress {
        call: watch,
        heard: Progress::Ringback,
    });
    assert_eq!(t.state(&station_line("pbx", "2041")), "AwaitingOffHook");
    t.media_ev(MediaEvent::Progress {
        call: watch,
        heard: Progress::Voice,
    });
    let c = t.station_call(&p);
    assert_eq!(t.state(&station_line("pbx", "2041")), "Recording");
    assert_eq!(t.m.stats().trunks.answered_by_voice, 1);
    // The far end hangs up on a line without CPC: the PBX plays reorder on the call.
    t.media_ev(MediaEvent::Progress {
        call: c,
        heard: Progress::Reorder,
    });
    assert!(released(&t.take_commands(), &p));
    assert_eq!(t.state(&station_line("pbx", "2041")), "AwaitingCapture");
}

#[test]
fn busy_tone_fails_the_ring_and_frees_the_port() {
    let mut t = T::new(Selection::FirstFree);
    let (p, watch) = t.ring_carol(1);
    t.ev(Event::DialComplete { line: p.clone() });
    t.media_ev(MediaEvent::Progress {
        call: watch,
        heard: Progress::Busy,
    });
    let commands = t.take_commands();
    assert!(released(&commands, &p));
    assert!(commands.contains(&Command::DeleteConnection {
        line: p.clone(),
        call: watch
    }));
    assert!(t.media.contains(&MediaCommand::Close { call: watch }));
    let why = failure(&t.take_outputs()).unwrap();
    assert!(why.contains("busy"), "{why}");
    assert_eq!(t.state(&station_line("pbx", "2041")), "Idle");
    assert_eq!(t.m.stats().trunks.busy, 1);
    // The gateway's own busy detection does the same.
    let (p, _) = t.ring_carol(2);
    t.ev(Event::FarEndDisconnect {
        line: p.clone(),
        why: Disconnect::Busy,
    });
    assert!(released(&t.take_commands(), &p));
    assert!(failure(&t.take_outputs()).unwrap().contains("busy"));
}

#[test]
fn no_answer_releases_the_trunk_when_the_ring_times_out() {
    let mut t = T::new(Selection::FirstFree);
    let (p, _) = t.ring_carol(1);
    t.ev(Event::DialComplete { line: p.clone() });
    t.advance(Duration::from_secs(31));
    assert!(released(&t.take_commands(), &p));
    assert_eq!(
        failure(&t.take_outputs()).as_deref(),
        Some("no answer after 30 s")
    );
    assert_eq!(t.m.stats().trunks.unanswered, 1);
}

#[test]
fn the_trunks_answer_timeout_gives_up_sooner_than_the_ring() {
    let mut t = T::with(Selection::FirstFree, Duration::from_secs(12));
    let (p, watch) = t.ring_carol(1);
    t.advance(Duration::from_secs(11));
    assert!(t.take_outputs().is_empty());
    t.advance(Duration::from_secs(1));
    let commands = t.take_commands();
    assert!(released(&commands, &p));
    assert!(commands.contains(&Command::DeleteConnection {
        line: p.clone(),
        call: watch
    }));
    assert_eq!(
        failure(&t.take_outputs()).as_deref(),
        Some("the phone could not be rung: no answer after 12 s")
    );
    assert_eq!(t.m.stats().trunks.unanswered, 1);
    assert_eq!(t.state(&station_line("pbx", "2041")), "Idle");
    assert_eq!(
        TrunkGroup::new("x", vec![port(1)])
            .unwrap()
            .answer_timeout(Duration::ZERO),
        Err(super::TrunkError::AnswerTimeout)
    );
}

#[test]
fn when_every_trunk_is_busy_the_ring_fails_saying_so() {
    let mut t = T::new(Selection::FirstFree);
    let (a, _) = t.ring_carol(1);
    t.input(record(2, DAVE));
    let (b, _) = seized(&t.take_commands()).unwrap();
    assert_eq!((a, b), (port(3), port(4)));
    t.input(record(3, ERIN));
    assert!(seized(&t.take_commands()).is_none());
    let why = failure(&t.take_outputs()).unwrap();
    assert_eq!(
        why,
        "the phone could not be rung: all 2 lines of trunk pbx are busy"
    );
    assert_eq!(t.m.stats().trunks.all_busy, 1);
}

#[test]
fn round_robin_moves_on_and_glare_moves_the_call_to_another_port() {
    let mut t = T::new(Selection::RoundRobin);
    let (a, _) = t.ring_carol(1);
    t.advance(Duration::from_secs(31));
    t.take_commands();
    t.take_outputs();
    let (b, _) = t.ring_carol(2);
    assert_eq!((a.clone(), b.clone()), (port(3), port(4)), "round robin");
    t.advance(Duration::from_secs(31));
    t.take_commands();
    t.take_outputs();
    // Glare: port 3 is seized by us as a call comes in on it.
    let (c, _) = t.ring_carol(3);
    assert_eq!(c, port(3));
    t.ev(Event::IncomingCall {
        line: c.clone(),
        caller_id: None,
    });
    let commands = t.take_commands();
    assert!(released(&commands, &c));
    assert_eq!(seized(&commands).map(|(p, _)| p), Some(port(4)));
    assert_eq!(t.m.stats().trunks.glare, 1);
    // A seize the gateway refuses goes to the next port, and with none left the ring fails.
    port_4_failed(&mut t, 401, "off hook");
    assert!(released(&t.take_commands(), &port(4)));
    let why = failure(&t.take_outputs()).unwrap();
    assert!(
        why.contains("no line of trunk pbx could be seized"),
        "{why}"
    );
}

/// A caller dials in on port 4 with no caller id; returns our call there.
/// A dial-in call on port 4, answered, on a gateway that cannot collect dial strings (it
/// refuses the first [`Command::CollectDigits`], which is never sent again on the port): the
/// caller's keys come one by one.
fn dial_in(t: &mut T, caller: Option<&str>) -> CallId {
    let call = dial_in_collecting(t, caller);
    if collects(&t.take_commands()) {
        port_4_failed(t, 522, "no digit maps");
    }
    assert_eq!(t.m.stats().trunks.collect_refused, 1);
    call
}

/// A command on port 4 failed at the gateway (no call named).
fn port_4_failed(t: &mut T, code: u16, reason: &str) {
    t.ev(Event::CommandFailed {
        line: port(4),
        call: None,
        code,
        reason: reason.into(),
    });
}

/// Whether the commands ask the gateway to collect a dial string on port 4.
fn collects(commands: &[Command]) -> bool {
    commands.iter().any(|c| {
        matches!(c, Command::CollectDigits { line, map }
            if *line == port(4) && map.as_str() == super::DIAL_IN_MAP)
    })
}

/// The gateway's report of a dial string collected on port 4.
fn dialled(t: &mut T, keys: &str) {
    t.ev(Event::Dialled {
        line: port(4),
        digits: keys.chars().map(|k| Digit::new(k).unwrap()).collect(),
    });
}

/// A dial-in call on port 4, answered; the gateway collects dial strings.
fn dial_in_collecting(t: &mut T, caller: Option<&str>) -> CallId {
    t.ev(Event::IncomingCall {
        line: port(4),
        caller_id: caller.map(|n| CallerId {
            number: Some(n.into()),
            name: None,
        }),
    });
    let commands = t.take_commands();
    assert!(commands.contains(&Command::Answer { line: port(4) }));
    let call = commands
        .iter()
        .find_map(|c| match c {
            Command::CreateConnection { line, call, .. } if *line == port(4) => Some(*call),
            _ => None,
        })
        .unwrap();
    t.created(&port(4), call);
    call
}

fn prompts(media: &[MediaCommand]) -> Vec<Prompt> {
    media
        .iter()
        .filter_map(|m| match m {
            MediaCommand::PlayPrompt { prompt, .. } => Some(*prompt),
            _ => None,
        })
        .collect()
}

/// Plays prompts to their ends until none is started.
fn hear_out(t: &mut T, call: CallId) -> Vec<Prompt> {
    let mut heard = Vec::new();
    loop {
        let started = prompts(&t.take_media());
        if started.is_empty() {
            return heard;
        }
        heard.extend(started);
        t.media_ev(MediaEvent::PlayDone { call });
    }
}

#[test]
fn a_caller_dials_in_identifies_and_hears_their_messages() {
    let mut t = T::new(Selection::FirstFree);
    let call = dial_in(&mut t, None);
    assert_eq!(prompts(&t.take_media()), vec![Prompt::EnterNumber]);
    // Keys barge in on the prompt.
    t.key(&port(4), "2041#");
    assert!(t.media.contains(&MediaCommand::StopPlay { call }));
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterPin]);
    t.key(&port(4), "4321#");
    assert_eq!(
        t.take_outputs(),
        vec![Output::Identify {
            line: port(4),
            number: "2041".into(),
            pin: "4321".into()
        }]
    );
    let message = MessageId([7; 16]);
    t.input(Input::Identified {
        line: port(4),
        user: Some(CAROL),
        waiting: vec![(message, ALICE)],
    });
    assert_eq!(hear_out(&mut t, call), vec![Prompt::Menu]);
    t.key(&port(4), "1");
    // Our call ends; the caller's station takes the port and plays the message.
    let caller_line = LineId::new(GatewayId::new("dial-in:pbx"), "aaln/4");
    assert!(t.commands.contains(&Command::DeleteConnection {
        line: port(4),
        call
    }));
    let c = t.station_call(&port(4));
    assert_eq!(t.state(&caller_line), "Playing");
    assert!(
        t.take_media()
            .contains(&MediaCommand::PlayMessage { call: c, message })
    );
    t.media_ev(MediaEvent::PlayDone { call: c });
    assert!(t.take_outputs().contains(&Output::Played {
        user: CAROL,
        message
    }));
    // Nothing left: the station ends its call, the port is released, the station removed.
    let commands = t.take_commands();
    assert!(commands.contains(&Command::DeleteConnection {
        line: port(4),
        call: c
    }));
    assert!(released(&commands, &port(4)));
    assert!(t.m.stations().all(|s| s.line() != &caller_line));
    assert_eq!(t.m.stats().trunks.identified, 1);
    // Carol's station behind the trunk did not ring.
    assert_eq!(t.state(&station_line("pbx", "2041")), "Idle");
}

#[test]
fn three_wrong_pins_end_the_call() {
    let mut t = T::new(Selection::FirstFree);
    // Caller id gives the number: only the PIN is asked for.
    let call = dial_in(&mut t, Some("2041"));
    assert_eq!(prompts(&t.take_media()), vec![Prompt::EnterPin]);
    for n in 0..3 {
        if n == 0 {
            t.key(&port(4), "0000#");
        } else {
            t.key(&port(4), "2041#");
            assert_eq!(prompts(&t.take_media()), vec![Prompt::EnterPin]);
            t.key(&port(4), "9999#");
        }
        let asked = t.take_outputs();
        assert!(
            matches!(&asked[..], [Output::Identify { .. }]),
            "{asked:#?}"
        );
        t.input(Input::Identified {
            line: port(4),
            user: None,
            waiting: vec![],
        });
        let heard = hear_out(&mut t, call);
        if n < 2 {
            assert_eq!(heard, vec![Prompt::Wrong, Prompt::EnterNumber]);
        } else {
            assert_eq!(heard, vec![Prompt::Wrong, Prompt::Goodbye]);
        }
    }
    let commands = t.take_commands();
    assert!(released(&commands, &port(4)));
    assert!(commands.contains(&Command::DeleteConnection {
        line: port(4),
        call
    }));
    assert_eq!(t.m.stats().trunks.wrong_pins, 3);
    // A late answer is dropped and counted, never a panic.
    t.input(Input::Identified {
        line: port(4),
        user: Some(CAROL),
        waiting: vec![],
    });
    assert!(t.m.stats().trunks.dropped >= 1);
}

#[test]
fn a_caller_leaves_a_message_for_a_user_by_number() {
    let mut t = T::new(Selection::FirstFree);
    let call = dial_in(&mut t, Some("2041"));
    assert_eq!(prompts(&t.take_media()), vec![Prompt::EnterPin]);
    t.key(&port(4), "4321#");
    t.take_outputs();
    t.input(Input::Identified {
        line: port(4),
        user: Some(CAROL),
        waiting: vec![],
    });
    assert_eq!(
        hear_out(&mut t, call)[..],
        [Prompt::NoMessages, Prompt::Menu]
    );
    t.key(&port(4), "2");
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterRecipient]);
    t.key(&port(4), "7000#");
    assert_eq!(
        t.take_outputs(),
        vec![Output::LookUp {
            line: port(4),
            number: "7000".into()
        }]
    );
    t.input(Input::Recipient {
        line: port(4),
        user: Some(ALICE),
    });
    assert_eq!(hear_out(&mut t, call), vec![Prompt::SpeakAfterTone]);
    let c = t.station_call(&port(4));
    let caller_line = LineId::new(GatewayId::new("dial-in:pbx"), "aaln/4");
    assert_eq!(t.state(&caller_line), "Recording");
    // `#` from the caller ends the recording.
    t.key(&port(4), "#");
    t.media_ev(MediaEvent::Captured {
        call: c,
        file: PathBuf::from("/tmp/y.wav"),
        duration: Duration::from_secs(5),
        speech: Duration::from_secs(4),
    });
    let out = t.take_outputs();
    assert!(
        out.iter().any(|o| matches!(
            o,
            Output::Recorded { request: None, user, to, reason: StopReason::StopKey, .. }
                if *user == CAROL && to == &vec![ALICE]
        )),
        "{out:#?}"
    );
    // The caller hangs up; the port is free.
    t.ev(Event::FarEndDisconnect {
        line: port(4),
        why: Disconnect::LoopCurrentDrop,
    });
    let _ = t.take_commands();
    assert!(t.m.stations().all(|s| s.line() != &caller_line));
}

#[test]
fn events_for_idle_trunks_and_keys_out_of_place_are_counted_drops() {
    let mut t = T::new(Selection::FirstFree);
    t.ev(Event::Digit {
        line: port(3),
        digit: Digit::new('5').unwrap(),
    });
    t.ev(Event::FarEndAnswer { line: port(3) });
    t.ev(Event::FarEndDisconnect {
        line: port(4),
        why: Disconnect::Busy,
    });
    t.ev(Event::OffHook { line: port(3) });
    assert_eq!(t.m.stats().trunks.dropped, 4);
    assert!(t.take_commands().is_empty());
    // An incoming call on a trunk without dial-in is left ringing.
    let mut m = StationManager::new(Config::default());
    m.add_trunk(TrunkGroup::new("out", vec![port(5)]).unwrap())
        .unwrap();
    m.handle_event(epoch(), gw1_up());
    while m.poll_command().is_some() {}
    m.handle_event(
        epoch(),
        Event::IncomingCall {
            line: port(5),
            caller_id: None,
        },
    );
    assert_eq!(m.poll_command(), None);
    assert_eq!(m.stats().trunks.incoming_ignored, 1);
}

#[test]
fn trunk_groups_and_numbers_are_checked() {
    use super::TrunkError;
    assert_eq!(
        TrunkGroup::new("x", vec![]),
        Err(TrunkError::Ports("x".into()))
    );
    let other = LineId::new(GatewayId::new("gw2"), "aaln/1");
    assert_eq!(
        TrunkGroup::new("x", vec![port(1), other]),
        Err(TrunkError::Gateways("x".into()))
    );
    let mut m = StationManager::new(Config::default());
    m.add_trunk(TrunkGroup::new("pbx", vec![port(3)]).unwrap())
        .unwrap();
    assert_eq!(
        m.add_trunk(TrunkGroup::new("pbx2", vec![port(3)]).unwrap()),
        Err(TrunkError::PortTwice(port(3)))
    );
    assert_eq!(
        m.trunk_station_line("pbx", "20a1"),
        Err(TrunkError::Number("20a1".into()))
    );
    assert_eq!(
        m.trunk_station_line("nope", "2041"),
        Err(TrunkError::Unknown("nope".into()))
    );
    assert_eq!(
        m.trunk_station_line("pbx", "2041").unwrap(),
        station_line("pbx", "2041")
    );
}

#[test]
fn a_group_names_its_gateway_and_may_be_added_once_the_gateway_is_up() {
    let group = TrunkGroup::new("pbx", vec![port(3)]).unwrap();
    assert_eq!(group.name(), "pbx");
    assert_eq!(group.gateway(), Some(&GatewayId::new("gw1")));
    // The gateway is up before the trunk is added: phones behind it ring at once.
    let mut m = StationManager::new(Config::default());
    m.handle_event(epoch(), gw1_up());
    m.add_trunk(group).unwrap();
    let line = m.trunk_station_line("pbx", "2041").unwrap();
    m.add_station(line.clone(), CAROL).unwrap();
    m.handle_input(epoch(), record(1, CAROL));
    let commands: Vec<Command> = std::iter::from_fn(|| m.poll_command()).collect();
    assert!(
        commands.contains(&Command::Seize { line: port(3) }),
        "{commands:#?}"
    );
}

#[test]
fn each_station_dials_on_its_own_trunk() {
    let mut m = StationManager::new(Config::default());
    m.add_trunk(TrunkGroup::new("a", vec![port(3)]).unwrap())
        .unwrap();
    m.add_trunk(TrunkGroup::new("b", vec![port(4)]).unwrap())
        .unwrap();
    m.add_station(m.trunk_station_line("b", "77").unwrap(), CAROL)
        .unwrap();
    m.handle_event(epoch(), gw1_up());
    while m.poll_command().is_some() {}
    m.handle_input(epoch(), record(1, CAROL));
    let commands: Vec<Command> = std::iter::from_fn(|| m.poll_command()).collect();
    assert!(
        commands.contains(&Command::Seize { line: port(4) }),
        "trunk b's port: {commands:#?}"
    );
}

#[test]
fn a_station_removed_while_its_call_is_placed_releases_the_port() {
    let mut t = T::new(Selection::FirstFree);
    let (p, watch) = t.ring_carol(1);
    let now = t.now;
    t.m.remove_station(now, &station_line("pbx", "2041"));
    t.drain();
    let commands = t.take_commands();
    assert!(released(&commands, &p), "{commands:#?}");
    assert!(t.media.contains(&MediaCommand::Close { call: watch }));
    // The port is free for the next phone.
    t.input(record(2, DAVE));
    assert_eq!(seized(&t.take_commands()).map(|(p, _)| p), Some(port(3)));
}

#[test]
fn the_stations_own_ring_timeout_releases_the_trunk_too() {
    let mut config = Config::default();
    config.record_ring_timeout(Duration::from_secs(10)).unwrap();
    let mut m = StationManager::new(config);
    m.add_trunk(TrunkGroup::new("pbx", vec![port(3)]).unwrap())
        .unwrap();
    m.add_station(station_line("pbx", "2041"), CAROL).unwrap();
    let now = epoch();
    m.handle_event(now, gw1_up());
    while m.poll_command().is_some() {}
    m.handle_input(now, record(1, CAROL));
    while m.poll_command().is_some() {}
    m.handle_timeout(now + Duration::from_secs(10));
    let commands: Vec<Command> = std::iter::from_fn(|| m.poll_command()).collect();
    assert!(released(&commands, &port(3)), "{commands:#?}");
    assert_eq!(m.stats().trunks.unanswered, 1);
}

/// The message a phone behind a trunk is rung for is heard elsewhere first: the ring stops and
/// the trunk is released; the far end's late answer finds the port idle.
#[test]
fn a_message_withdrawn_while_ringing_releases_the_trunk() {
    let mut t = T::new(Selection::FirstFree);
    let message = MessageId([3; 16]);
    // A message rings carol's phone; it is heard elsewhere before she answers.
    t.input(Input::MessageWaiting {
        user: CAROL,
        message,
        from: ALICE,
    });
    let commands = t.take_commands();
    let (p, _) = seized(&commands).expect("rung for the message");
    t.input(Input::MessageGone {
        user: CAROL,
        message,
    });
    t.ev(Event::FarEndAnswer { line: p.clone() });
    // No connection is made, the trunk is released and the station is idle again.
    let commands = t.take_commands();
    assert!(released(&commands, &p), "{commands:#?}");
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::CreateConnection { line, .. } if *line == p)),
        "{commands:#?}"
    );
    assert_eq!(t.state(&station_line("pbx", "2041")), "Idle");
}

#[test]
fn a_gateway_going_down_frees_its_ports_and_its_phones_wait_for_it() {
    let mut t = T::new(Selection::FirstFree);
    let (_, watch) = t.ring_carol(1);
    t.ev(Event::GatewayDown {
        gateway: GatewayId::new("gw1"),
        reason: gateway_control::model::DownReason::Forced,
    });
    assert!(t.media.contains(&MediaCommand::Close { call: watch }));
    assert_eq!(t.state(&station_line("pbx", "2041")), "AwaitingGateway");
    assert!(!t.m.is_available(CAROL).unwrap());
    t.take_commands();
    t.ev(gw1_up());
    assert_eq!(t.state(&station_line("pbx", "2041")), "Idle");
    let (p, _) = t.ring_carol(2);
    assert_eq!(p, port(3), "the port was freed");
}

/// A dial-in caller's call, answered on port 4 and identified as carol with no messages.
fn identified(t: &mut T) -> CallId {
    let call = dial_in(t, Some("2041"));
    t.key(&port(4), "4321#");
    t.take_outputs();
    t.input(Input::Identified {
        line: port(4),
        user: Some(CAROL),
        waiting: vec![],
    });
    hear_out(t, call);
    call
}

#[test]
fn dial_in_keys_in_band_bounded_typed_ahead_and_timed_out() {
    let mut t = T::new(Selection::FirstFree);
    // Caller id with no digits in it asks for the number.
    let call = dial_in(&mut t, Some("anonymous"));
    assert_eq!(prompts(&t.take_media()), vec![Prompt::EnterNumber]);
    assert_eq!(t.m.stats().trunks.dial_ins, 1);
    // In-band (RFC 4733) keys on our call count; an empty number asks again.
    let key = |t: &mut T, k: char| {
        t.media_ev(MediaEvent::Digit {
            call,
            digit: Digit::new(k).unwrap(),
        });
    };
    key(&mut t, '#');
    assert_eq!(prompts(&t.take_media()), vec![Prompt::EnterNumber]);
    // At most MAX_KEYS keys are kept.
    for _ in 0..20 {
        key(&mut t, '5');
    }
    key(&mut t, '#');
    assert_eq!(prompts(&t.take_media()), vec![Prompt::EnterPin]);
    // Keys then silence: the timeout takes them as if `#` ended them.
    key(&mut t, '4');
    t.advance(super::DIGIT_TIMEOUT - Duration::from_millis(1));
    assert!(t.take_outputs().is_empty());
    t.advance(Duration::from_millis(1));
    assert_eq!(
        t.take_outputs(),
        vec![Output::Identify {
            line: port(4),
            number: "5".repeat(super::MAX_KEYS),
            pin: "4".into()
        }]
    );
    // Keys typed while the core checks wait for the next prompt (at most MAX_KEYS).
    for _ in 0..20 {
        key(&mut t, '2');
    }
    let dropped = t.m.stats().trunks.dropped;
    assert_eq!(dropped, 20 - super::MAX_KEYS as u64);
    t.input(Input::Identified {
        line: port(4),
        user: Some(CAROL),
        waiting: vec![],
    });
    // The typed-ahead `2` chose "leave a message"; the rest are the recipient's number.
    assert!(
        prompts(&t.take_media()).contains(&Prompt::EnterRecipient),
        "typed ahead"
    );
    // A LineStatus is no fault.
    t.ev(Event::LineStatus {
        line: port(4),
        off_hook: true,
    });
    assert_eq!(t.m.stats().trunks.dropped, dropped);
}

#[test]
fn silence_replays_the_prompt_then_says_goodbye() {
    let mut t = T::new(Selection::FirstFree);
    let call = dial_in(&mut t, None);
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterNumber]);
    t.advance(super::DIGIT_TIMEOUT);
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterNumber]);
    t.advance(super::DIGIT_TIMEOUT);
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterNumber]);
    t.advance(super::DIGIT_TIMEOUT);
    assert_eq!(prompts(&t.take_media()), vec![Prompt::Goodbye]);
    t.media_ev(MediaEvent::PlayDone { call });
    assert!(released(&t.take_commands(), &port(4)));
}

#[test]
fn an_empty_recipient_asks_again_and_an_unknown_one_is_said() {
    let mut t = T::new(Selection::FirstFree);
    let call = identified(&mut t);
    t.key(&port(4), "2");
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterRecipient]);
    t.key(&port(4), "#");
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterRecipient]);
    assert!(t.take_outputs().is_empty());
    for n in 0..3 {
        t.key(&port(4), "9999#");
        assert_eq!(
            t.take_outputs(),
            vec![Output::LookUp {
                line: port(4),
                number: "9999".into()
            }]
        );
        t.input(Input::Recipient {
            line: port(4),
            user: None,
        });
        let last = if n < 2 {
            Prompt::EnterRecipient
        } else {
            Prompt::Goodbye
        };
        assert_eq!(hear_out(&mut t, call), vec![Prompt::UnknownRecipient, last]);
    }
    assert!(released(&t.take_commands(), &port(4)));
}

#[test]
fn the_caller_hanging_up_or_the_line_failing_ends_a_dial_in_call() {
    // Loop-current drop.
    let mut t = T::new(Selection::FirstFree);
    let call = dial_in(&mut t, None);
    t.ev(Event::FarEndDisconnect {
        line: port(4),
        why: Disconnect::LoopCurrentDrop,
    });
    let commands = t.take_commands();
    assert!(released(&commands, &port(4)));
    assert!(commands.contains(&Command::DeleteConnection {
        line: port(4),
        call
    }));
    assert_eq!(t.m.stats().trunks.dropped, 0);
    // Reorder heard on a line without CPC.
    let call = dial_in(&mut t, None);
    t.media_ev(MediaEvent::Progress {
        call,
        heard: Progress::Reorder,
    });
    assert!(released(&t.take_commands(), &port(4)));
    // The gateway dropping our connection.
    let call = dial_in(&mut t, None);
    t.ev(Event::ConnectionLost {
        line: port(4),
        call,
        reason: "gone".into(),
    });
    assert!(released(&t.take_commands(), &port(4)));
    assert!(t.media.contains(&MediaCommand::Close { call }));
    // Media events of other calls mean nothing to the session.
    let call = dial_in(&mut t, None);
    t.take_media();
    t.media_ev(MediaEvent::PlayDone {
        call: CallId(call.0 + 1000),
    });
    t.media_ev(MediaEvent::Digit {
        call: CallId(call.0 + 1000),
        digit: Digit::new('#').unwrap(),
    });
    assert!(prompts(&t.take_media()).is_empty());
}

#[test]
fn idle_trunks_take_status_and_late_connection_news_quietly() {
    let mut t = T::new(Selection::FirstFree);
    t.ev(Event::LineStatus {
        line: port(3),
        off_hook: false,
    });
    t.ev(Event::ConnectionDeleted {
        line: port(3),
        call: CallId(999),
    });
    assert_eq!(t.m.stats().trunks.dropped, 0);
}

#[test]
fn numbers_to_dial_are_bounded() {
    use super::{MAX_NUMBER, parse_number};
    assert!(parse_number(&"1".repeat(MAX_NUMBER)).is_ok());
    assert!(parse_number(&"1".repeat(MAX_NUMBER + 1)).is_err());
    assert!(parse_number("").is_err());
    assert_eq!(parse_number("*9#").unwrap().len(), 3);
    assert_eq!(Selection::FirstFree.to_string(), "first-free");
    assert_eq!(Selection::RoundRobin.to_string(), "round-robin");
}

#[test]
fn events_for_the_other_phase_of_a_placed_call_are_counted_drops() {
    let mut t = T::new(Selection::FirstFree);
    let (p, _) = t.ring_carol(1);
    assert_eq!(t.m.stats().trunks.seized, 1);
    // Placing: keys and status are no answer; a status is no fault either.
    t.ev(Event::LineStatus {
        line: p.clone(),
        off_hook: true,
    });
    assert_eq!(t.m.stats().trunks.dropped, 0);
    t.ev(Event::Digit {
        line: p.clone(),
        digit: Digit::new('5').unwrap(),
    });
    assert_eq!(t.m.stats().trunks.dropped, 1);
    t.ev(Event::DialComplete { line: p.clone() });
    // A ring after the number is out is no glare: dropped.
    t.ev(Event::IncomingCall {
        line: p.clone(),
        caller_id: None,
    });
    assert_eq!(t.m.stats().trunks.dropped, 2);
    assert_eq!(t.m.stats().trunks.glare, 0);
    t.ev(Event::FarEndAnswer { line: p.clone() });
    let c = t.station_call(&p);
    // Talking: a second answer, a dial completion, a refusal or a ring are dropped…
    for e in [
        Event::FarEndAnswer { line: p.clone() },
        Event::DialComplete { line: p.clone() },
        Event::CommandFailed {
            line: p.clone(),
            call: None,
            code: 401,
            reason: "x".into(),
        },
        Event::IncomingCall {
            line: p.clone(),
            caller_id: None,
        },
    ] {
        t.ev(e);
    }
    assert_eq!(t.m.stats().trunks.dropped, 6);
    assert_eq!(t.m.stats().trunks.answered_by_line, 1);
    assert_eq!(t.m.stats().trunks.glare, 0);
    assert!(!released(&t.take_commands(), &p));
    // …and the far end's `#` reaches the station: the recording stops.
    t.ev(Event::Digit {
        line: p.clone(),
        digit: Digit::new('#').unwrap(),
    });
    assert!(
        t.media.contains(&MediaCommand::StopCapture { call: c }),
        "{:#?}",
        t.media
    );
    // A far-end disconnect now is the hang-up, not a failed ring.
    t.ev(Event::FarEndDisconnect {
        line: p.clone(),
        why: Disconnect::Busy,
    });
    assert_eq!(t.m.stats().trunks.busy, 0);
    assert_eq!(t.m.stats().trunks.far_end_gone, 1);
}

#[test]
fn busy_is_counted_and_reorder_is_not_busy() {
    let mut t = T::new(Selection::FirstFree);
    let (p, _) = t.ring_carol(1);
    t.ev(Event::FarEndDisconnect {
        line: p.clone(),
        why: Disconnect::Reorder,
    });
    assert_eq!(t.m.stats().trunks.busy, 0);
    let why = failure(&t.take_outputs()).unwrap();
    assert!(why.contains("reorder"), "{why}");
    let (p, _) = t.ring_carol(2);
    t.ev(Event::FarEndDisconnect {
        line: p,
        why: Disconnect::Busy,
    });
    assert_eq!(t.m.stats().trunks.busy, 1);
    // A refused seize counts as glare, tried elsewhere.
    let (p, _) = t.ring_carol(3);
    t.ev(Event::CommandFailed {
        line: p,
        call: None,
        code: 501,
        reason: "glare".into(),
    });
    assert_eq!(t.m.stats().trunks.glare, 1);
    assert_eq!(seized(&t.take_commands()).map(|(p, _)| p), Some(port(4)));
}

#[test]
fn round_robin_wraps_forward_past_a_busy_port() {
    let mut m = StationManager::new(Config::default());
    let group = TrunkGroup::new("pbx", vec![port(3), port(4), port(5)])
        .unwrap()
        .selection(Selection::RoundRobin)
        .dial_in(true);
    m.add_trunk(group).unwrap();
    for (user, number) in [(CAROL, "2041"), (DAVE, "2042"), (ERIN, "2043")] {
        m.add_station(station_line("pbx", number), user).unwrap();
    }
    let mut t = T {
        m,
        now: epoch(),
        commands: Vec::new(),
        media: Vec::new(),
        outputs: Vec::new(),
    };
    t.ev(gw1_up());
    t.take_commands();
    let (a, _) = t.ring_carol(1);
    t.input(record(2, DAVE));
    let (b, _) = seized(&t.take_commands()).unwrap();
    assert_eq!((a.clone(), b.clone()), (port(3), port(4)));
    // Port 5 takes an incoming call; both calls placed end busy.
    t.ev(Event::IncomingCall {
        line: port(5),
        caller_id: None,
    });
    for p in [a, b] {
        t.ev(Event::FarEndDisconnect {
            line: p,
            why: Disconnect::Busy,
        });
    }
    t.take_commands();
    // The last used was port 4; port 5 is busy: round robin wraps forward to port 3.
    t.input(record(3, ERIN));
    assert_eq!(seized(&t.take_commands()).map(|(p, _)| p), Some(port(3)));
}

/// Trunk `pbx` (ports 3 and 4, dial-in) with carol and dave behind it, and media ports for one
/// call only.
fn one_media_port() -> T {
    let mut config = Config::default();
    config.ports(20000..=20001).unwrap();
    let mut m = StationManager::new(config);
    m.add_trunk(
        TrunkGroup::new("pbx", vec![port(3), port(4)])
            .unwrap()
            .dial_in(true),
    )
    .unwrap();
    m.add_station(station_line("pbx", "2041"), CAROL).unwrap();
    m.add_station(station_line("pbx", "2042"), DAVE).unwrap();
    let mut t = T {
        m,
        now: epoch(),
        commands: Vec::new(),
        media: Vec::new(),
        outputs: Vec::new(),
    };
    t.ev(gw1_up());
    t.take_commands();
    t
}

#[test]
fn with_no_media_port_left_a_call_in_is_not_answered_and_a_call_out_is_hung_up() {
    let mut t = one_media_port();
    // Carol's call takes the only media port (ours while placing, hers once answered).
    let (p, _) = t.ring_carol(1);
    t.ev(Event::FarEndAnswer { line: p.clone() });
    let _ = t.station_call(&p);
    // An incoming call finds no port: not answered, counted.
    t.ev(Event::IncomingCall {
        line: port(4),
        caller_id: None,
    });
    assert!(
        !t.take_commands()
            .contains(&Command::Answer { line: port(4) })
    );
    assert_eq!(t.m.stats().trunks.incoming_ignored, 1);
    t.ev(Event::FarEndDisconnect {
        line: port(4),
        why: Disconnect::RingingStopped,
    });
    // Dave's call is placed without hearing the line; answered, his phone has no media port:
    // the request fails and the trunk is hung up rather than held open.
    t.input(record(2, DAVE));
    assert!(
        t.take_commands()
            .contains(&Command::Seize { line: port(4) })
    );
    t.ev(Event::FarEndAnswer { line: port(4) });
    assert!(released(&t.take_commands(), &port(4)));
    let why = failure(&t.take_outputs()).unwrap();
    assert!(why.contains("no media port free"), "{why}");
    assert_eq!(t.state(&station_line("pbx", "2042")), "Idle");
}

#[test]
fn the_far_end_cut_off_before_an_answer_fails_the_ring_saying_so() {
    let mut t = T::new(Selection::FirstFree);
    let (p, _) = t.ring_carol(1);
    t.ev(Event::FarEndDisconnect {
        line: p.clone(),
        why: Disconnect::LoopCurrentDrop,
    });
    let why = failure(&t.take_outputs()).unwrap();
    assert!(why.contains("cut off before an answer"), "{why}");
    assert!(released(&t.take_commands(), &p));
}

#[test]
fn losing_the_connection_that_hears_the_line_leaves_the_answer_to_the_line() {
    let mut t = T::new(Selection::FirstFree);
    let (p, watch) = t.ring_carol(1);
    t.ev(Event::ConnectionLost {
        line: p.clone(),
        call: watch,
        reason: "gone".into(),
    });
    assert!(t.media.contains(&MediaCommand::Close { call: watch }));
    assert!(
        !t.commands.contains(&Command::DeleteConnection {
            line: p.clone(),
            call: watch
        }),
        "a lost connection is not deleted again"
    );
    t.ev(Event::FarEndAnswer { line: p.clone() });
    let _ = t.station_call(&p);
    assert_eq!(t.state(&station_line("pbx", "2041")), "Recording");
}

#[test]
fn dial_in_silences_replay_each_stage_prompt_only_once_the_time_is_up() {
    let mut t = T::new(Selection::FirstFree);
    let call = dial_in(&mut t, Some("2041"));
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterPin]);
    t.advance(super::DIGIT_TIMEOUT - Duration::from_millis(1));
    assert!(prompts(&t.take_media()).is_empty(), "not yet");
    t.advance(Duration::from_millis(1));
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterPin]);
    t.key(&port(4), "4321#");
    t.take_outputs();
    // An answer the session is not waiting for is dropped and counted.
    let dropped = t.m.stats().trunks.dropped;
    t.input(Input::Recipient {
        line: port(4),
        user: Some(ALICE),
    });
    assert_eq!(t.m.stats().trunks.dropped, dropped + 1);
    t.input(Input::Identified {
        line: port(4),
        user: Some(CAROL),
        waiting: vec![],
    });
    assert_eq!(
        hear_out(&mut t, call),
        vec![Prompt::NoMessages, Prompt::Menu]
    );
    // `1` with nothing to hear says so and offers the menu again.
    t.key(&port(4), "1");
    assert_eq!(
        hear_out(&mut t, call),
        vec![Prompt::NoMessages, Prompt::Menu]
    );
    t.advance(super::DIGIT_TIMEOUT);
    assert_eq!(hear_out(&mut t, call), vec![Prompt::Menu]);
    t.key(&port(4), "2");
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterRecipient]);
    t.advance(super::DIGIT_TIMEOUT);
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterRecipient]);
    // A far-end answer on a dial-in call means nothing: dropped and counted.
    let dropped = t.m.stats().trunks.dropped;
    t.ev(Event::FarEndAnswer { line: port(4) });
    assert_eq!(t.m.stats().trunks.dropped, dropped + 1);
}

#[test]
fn the_gateway_collects_the_number_pin_and_recipient() {
    let mut t = T::new(Selection::FirstFree);
    let call = dial_in_collecting(&mut t, None);
    assert!(collects(&t.take_commands()));
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterNumber]);
    // In-band keys are the gateway's to collect: not counted twice.
    t.media_ev(MediaEvent::Digit {
        call,
        digit: Digit::new('9').unwrap(),
    });
    dialled(&mut t, "2041#");
    assert!(collects(&t.take_commands()), "the PIN is collected too");
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterPin]);
    // The gateway's timer ended the PIN: as if `#` had.
    dialled(&mut t, "4321");
    assert_eq!(
        t.take_outputs(),
        vec![Output::Identify {
            line: port(4),
            number: "2041".into(),
            pin: "4321".into()
        }]
    );
    assert_eq!(t.m.stats().trunks.dial_strings, 2);
    t.input(Input::Identified {
        line: port(4),
        user: Some(CAROL),
        waiting: vec![],
    });
    assert!(!collects(&t.take_commands()), "a menu key comes alone");
    // A command failing while nothing is collected is no refusal to collect.
    port_4_failed(&mut t, 510, "busy");
    assert_eq!(t.m.stats().trunks.collect_refused, 0);
    assert_eq!(
        hear_out(&mut t, call),
        vec![Prompt::NoMessages, Prompt::Menu]
    );
    t.key(&port(4), "2");
    assert!(collects(&t.take_commands()));
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterRecipient]);
    dialled(&mut t, "1001#");
    assert_eq!(
        t.take_outputs(),
        vec![Output::LookUp {
            line: port(4),
            number: "1001".into()
        }]
    );
    // A report no collection asked for is dropped and counted.
    let dropped = t.m.stats().trunks.dropped;
    dialled(&mut t, "5#");
    assert_eq!(t.m.stats().trunks.dropped, dropped + 1);
}

#[test]
fn collecting_silences_and_refusal() {
    let mut t = T::new(Selection::FirstFree);
    let call = dial_in_collecting(&mut t, Some("2041"));
    t.take_commands();
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterPin]);
    // The gateway's timer with nothing keyed is a silence: the prompt again, collected again.
    dialled(&mut t, "");
    assert!(collects(&t.take_commands()));
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterPin]);
    // A gateway that never reports: our own, longer, time-out.
    t.advance(super::COLLECT_TIMEOUT - Duration::from_millis(1));
    assert!(prompts(&t.take_media()).is_empty(), "not yet");
    t.advance(Duration::from_millis(1));
    assert!(collects(&t.take_commands()));
    assert_eq!(hear_out(&mut t, call), vec![Prompt::EnterPin]);
    // Refused now: single keys from then on, on the shorter time-out, never asked again.
    port_4_failed(&mut t, 519, "no digit map");
    assert_eq!(t.m.stats().trunks.collect_refused, 1);
    t.advance(super::DIGIT_TIMEOUT - Duration::from_millis(1));
    assert!(prompts(&t.take_media()).is_empty(), "not yet");
    t.advance(Duration::from_millis(1));
    assert!(!collects(&t.take_commands()));
    assert_eq!(prompts(&t.take_media()), vec![Prompt::Goodbye]);
}

/// A message ring to a phone behind a trunk that fails (every port busy, then no answer) is
/// rung again after the retry interval, three times; a new message starts the retries over.
#[test]
fn a_failed_message_ring_behind_a_trunk_is_tried_again_later() {
    let mut t = T::new(Selection::FirstFree);
    // Both ports busy recording for dave and erin.
    t.input(record(1, DAVE));
    t.input(record(2, ERIN));
    assert_eq!(
        t.take_commands()
            .iter()
            .filter(|c| matches!(c, Command::Seize { .. }))
            .count(),
        2
    );
    t.input(Input::MessageWaiting {
        user: CAROL,
        message: MessageId([3; 16]),
        from: ALICE,
    });
    assert!(seized(&t.take_commands()).is_none(), "every port is busy");
    let carol = station_line("pbx", "2041");
    assert_eq!(t.state(&carol), "Idle");
    // Dave's and erin's rings give up (30 s) and free the ports; carol's retry comes later,
    // not with the other timers.
    for _ in 0..6 {
        t.advance(Duration::from_secs(10));
        assert!(seized(&t.take_commands()).is_none(), "not with the others");
    }
    t.take_outputs();
    t.advance(Duration::from_secs(300 - 60 - 1));
    assert!(seized(&t.take_commands()).is_none(), "not yet");
    t.advance(Duration::from_secs(1));
    assert!(seized(&t.take_commands()).is_some(), "rung again");
    // Unanswered (the trunk gives up after 30 s), twice more, then no more.
    for _ in 0..2 {
        t.advance(super::ANSWER_TIMEOUT);
        t.take_commands();
        t.advance(Duration::from_secs(299));
        assert!(seized(&t.take_commands()).is_none(), "not yet");
        t.advance(Duration::from_secs(1));
        assert!(seized(&t.take_commands()).is_some());
    }
    t.advance(Duration::from_secs(3600));
    assert!(
        seized(&t.take_commands()).is_none(),
        "three retries at most"
    );
    assert_eq!(t.m.stats().stations.retries, 3);
    // A new message rings at once and earns three retries again.
    t.input(Input::MessageWaiting {
        user: CAROL,
        message: MessageId([4; 16]),
        from: ALICE,
    });
    assert!(seized(&t.take_commands()).is_some());
    t.advance(super::ANSWER_TIMEOUT);
    t.take_commands();
    t.advance(Duration::from_secs(300));
    assert!(seized(&t.take_commands()).is_some());
    assert_eq!(t.m.stats().stations.retries, 4);
    // Answered: the messages are heard, nothing is retried.
    t.ev(Event::FarEndAnswer { line: port(3) });
    t.advance(Duration::from_secs(3600));
    assert_eq!(t.m.stats().stations.retries, 4);
}
