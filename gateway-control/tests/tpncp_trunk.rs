//! Trunks over TPNCP: the host against the simulated board's FXO port (line 3, channel 2),
//! both sans-IO, in virtual time over the harness's link (UDP, a 3 ms LAN). The far phone and
//! the PBX are played on the board's side (`offhook 3`, `ring 3 2041`…); what the host
//! reported is read from its model events, what the board did from its outputs.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::model::{
    CallId, CallerId, Codec, Command, ConnectionMode, DialMethod, Digit, Disconnect, Event,
    GatewayId, LineId, Media,
};
use gateway_control::tpncp::controller::{Config, GatewayConfig, Host, Transport};
use gateway_control::tpncp::wire::{self, ByteOrder, CallerIdText, Channel, Header, Seq};
use gateway_harness::{Lossy, Pair};
use gateway_sim::tpncp::{self, Board, ErrorCode};
use gateway_sim::{FxoConfig, LineCommand, Output, Supervision, TrunkCommand};

#[allow(clippy::disallowed_methods)] // a base instant for virtual time, never a measurement
fn t0() -> Instant {
    Instant::now()
}

fn host_addr() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn board_addr() -> SocketAddr {
    "127.0.0.1:2424".parse().unwrap()
}

fn gw() -> GatewayId {
    GatewayId::new("mp114")
}

/// The trunk: channel 2, the board's line 3.
fn trunk() -> LineId {
    LineId::new(gw(), "2")
}

fn keys(text: &str) -> Vec<Digit> {
    text.chars().map(|c| Digit::new(c).unwrap()).collect()
}

/// The host (channels 0 and 1 station lines) and a four-line board whose line 3 is an FXO
/// port, up, with the trunk added.
fn pair(supervision: Supervision) -> Pair<Host, Board> {
    let now = t0();
    let mut g = GatewayConfig::new(gw(), Some(board_addr()), &["0", "1"]);
    g.transport = Transport::Udp;
    let host = Host::new(
        Config {
            gateways: vec![g],
            rng_seed: 5,
            ..Config::default()
        },
        now,
    )
    .unwrap();
    let mut c = tpncp::Config::new(4).unwrap();
    let mut fxo = FxoConfig::new();
    fxo.lines("3").unwrap().supervision(supervision);
    c.fxo(fxo).unwrap();
    let link = Lossy::new(9).delay(Duration::from_millis(3), Duration::from_millis(3));
    let mut p = Pair::new(
        host,
        host_addr(),
        Board::new(c).unwrap(),
        board_addr(),
        now,
        link,
    );
    assert!(p.run_until(Duration::from_secs(5), |p| {
        p.events.contains(&Event::GatewayUp { gateway: gw() })
    }));
    p.run(Duration::from_secs(1));
    p.take_events();
    p.command(Command::AddTrunk { line: trunk() });
    p.run(Duration::from_secs(1));
    assert_eq!(
        p.take_events(),
        [Event::LineStatus {
            line: trunk(),
            off_hook: false
        }]
    );
    p.take_outputs();
    p
}

fn connect(p: &mut Pair<Host, Board>) {
    p.command(Command::CreateConnection {
        line: trunk(),
        call: CallId(1),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        remote: Some(Media {
            address: "127.0.0.1:16384".parse().unwrap(),
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            telephone_event: None,
        }),
    });
}

fn pbx(p: &mut Pair<Host, Board>, cmd: TrunkCommand) {
    let now = p.now();
    p.gateway.handle_trunk(now, cmd);
    p.deliver();
}

fn run(p: &mut Pair<Host, Board>, secs: u64) -> (Vec<Event>, Vec<Output>) {
    p.run(Duration::from_secs(secs));
    (p.take_events(), p.take_outputs())
}

/// Seized, connected and dialled: the board printed `dialed`, the host reported it.
fn dialled(p: &mut Pair<Host, Board>) {
    p.command(Command::Seize { line: trunk() });
    connect(p);
    p.command(Command::Dial {
        line: trunk(),
        number: keys("2041"),
        method: DialMethod::Dtmf,
    });
    let (events, outputs) = run(p, 2);
    assert!(
        outputs.contains(&Output::Dialed {
            line: 3,
            number: "2041".into()
        }),
        "{outputs:?}"
    );
    assert!(
        events.contains(&Event::DialComplete { line: trunk() }),
        "{events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, Event::ConnectionCreated { .. })),
        "{events:?}"
    );
}

#[test]
fn a_call_out_is_answered_and_hung_up_by_the_far_end() {
    let mut p = pair(Supervision::Full);
    dialled(&mut p);
    p.line(LineCommand::OffHook(3));
    let (events, _) = run(&mut p, 1);
    assert_eq!(events, [Event::FarEndAnswer { line: trunk() }]);
    p.line(LineCommand::Digits(3, "5".into()));
    let (events, _) = run(&mut p, 1);
    assert_eq!(
        events,
        [Event::Digit {
            line: trunk(),
            digit: Digit::new('5').unwrap()
        }]
    );
    p.line(LineCommand::OnHook(3));
    let (events, _) = run(&mut p, 1);
    assert_eq!(
        events,
        [Event::FarEndDisconnect {
            line: trunk(),
            why: Disconnect::LoopCurrentDrop
        }]
    );
    p.command(Command::DeleteConnection {
        line: trunk(),
        call: CallId(1),
    });
    p.command(Command::Release { line: trunk() });
    let (events, outputs) = run(&mut p, 1);
    assert_eq!(
        events,
        [Event::ConnectionDeleted {
            line: trunk(),
            call: CallId(1)
        }]
    );
    assert!(outputs.iter().any(|o| matches!(
        o,
        Output::Signal { line: 3, name, .. } if name == "onhook"
    )));
    assert_eq!(p.controller.stats().trunk_dropped, 0);
    assert_eq!(p.gateway.stats().refused, 0, "{:?}", p.gateway.stats());
}

#[test]
fn a_busy_number_gives_busy_tone_on_the_connection_and_no_answer() {
    let mut p = pair(Supervision::Full);
    dialled(&mut p);
    let before = p.rtp;
    pbx(&mut p, TrunkCommand::Busy(3));
    let (events, _) = run(&mut p, 2);
    assert_eq!(events, []);
    // Two seconds of 20 ms packets: the busy tone, for the station manager to hear.
    assert!(p.rtp - before >= 95, "{}", p.rtp - before);
    p.command(Command::Release { line: trunk() });
    run(&mut p, 1);
    let before = p.rtp;
    run(&mut p, 2);
    assert_eq!(p.rtp, before, "the tone stops with the call");
}

#[test]
fn without_supervision_nothing_signals_answer_or_hang_up() {
    let mut p = pair(Supervision::None);
    dialled(&mut p);
    p.line(LineCommand::OffHook(3));
    p.line(LineCommand::OnHook(3));
    let before = p.rtp;
    let (events, _) = run(&mut p, 2);
    assert_eq!(events, []);
    // The PBX plays reorder instead.
    assert!(p.rtp - before >= 95, "{}", p.rtp - before);
}

#[test]
fn an_incoming_call_with_caller_id_is_answered_and_keyed_then_the_caller_hangs_up() {
    let mut p = pair(Supervision::Full);
    pbx(
        &mut p,
        TrunkCommand::Ring {
            line: 3,
            caller_id: Some("2041".into()),
        },
    );
    let (events, _) = run(&mut p, 3);
    assert_eq!(
        events,
        [Event::IncomingCall {
            line: trunk(),
            caller_id: Some(CallerId {
                number: Some("2041".into()),
                name: None
            })
        }]
    );
    p.command(Command::Answer { line: trunk() });
    connect(&mut p);
    let (_, outputs) = run(&mut p, 1);
    assert!(
        outputs.contains(&Output::Answered { line: 3 }),
        "{outputs:?}"
    );
    p.line(LineCommand::Digits(3, "1234#".into()));
    let (events, _) = run(&mut p, 1);
    let digits: String = events
        .iter()
        .filter_map(|e| match e {
            Event::Digit { digit, .. } => Some(digit.as_char()),
            _ => None,
        })
        .collect();
    assert_eq!(digits, "1234#");
    p.line(LineCommand::OnHook(3));
    let (events, _) = run(&mut p, 1);
    assert_eq!(
        events,
        [Event::FarEndDisconnect {
            line: trunk(),
            why: Disconnect::LoopCurrentDrop
        }]
    );
    // Ringing long over: no give-up reported later.
    let (events, _) = run(&mut p, 20);
    assert_eq!(events, []);
}

#[test]
fn a_caller_without_caller_id_is_reported_at_the_second_ring_and_gives_up() {
    let mut p = pair(Supervision::Full);
    pbx(
        &mut p,
        TrunkCommand::Ring {
            line: 3,
            caller_id: None,
        },
    );
    let (events, _) = run(&mut p, 5);
    assert_eq!(events, [], "one ring and no caller id: not yet a call");
    let (events, _) = run(&mut p, 2);
    assert_eq!(
        events,
        [Event::IncomingCall {
            line: trunk(),
            caller_id: None
        }]
    );
    p.line(LineCommand::OnHook(3));
    let (events, _) = run(&mut p, 7);
    assert_eq!(events, [], "within the ring gap");
    let (events, _) = run(&mut p, 2);
    assert_eq!(
        events,
        [Event::FarEndDisconnect {
            line: trunk(),
            why: Disconnect::RingingStopped
        }]
    );
}

#[test]
fn glare_a_seize_crossing_the_first_ring_is_refused_by_the_board() {
    let mut p = pair(Supervision::Full);
    pbx(
        &mut p,
        TrunkCommand::Ring {
            line: 3,
            caller_id: Some("2041".into()),
        },
    );
    // The ring's event is on the link: the host does not know yet.
    p.command(Command::Seize { line: trunk() });
    let (events, _) = run(&mut p, 1);
    let failed: Vec<u16> = events
        .iter()
        .filter_map(|e| match e {
            Event::CommandFailed { line, code, .. } if *line == trunk() => Some(*code),
            _ => None,
        })
        .collect();
    assert_eq!(failed, [ErrorCode::Glare.code() as u16]);
    assert_eq!(p.gateway.stats().refused, 1);
    // Once the ring is known, the host refuses a seize itself; the call is still answerable.
    let (events, _) = run(&mut p, 2);
    assert!(
        matches!(events[..], [Event::IncomingCall { .. }]),
        "{events:?}"
    );
    p.command(Command::Seize { line: trunk() });
    assert!(matches!(
        p.take_events()[..],
        [Event::CommandFailed { code: 401, .. }]
    ));
    p.command(Command::Answer { line: trunk() });
    let (_, outputs) = run(&mut p, 1);
    assert!(
        outputs.contains(&Output::Answered { line: 3 }),
        "{outputs:?}"
    );
}

#[test]
fn fxo_events_out_of_place_are_counted_never_reported() {
    let mut p = pair(Supervision::Full);
    let mut seq = 9000;
    let mut inject = |p: &mut Pair<Host, Board>, channel: i32, event: wire::Event| {
        seq += 1;
        let mut bytes = Vec::new();
        let header = Header {
            order: ByteOrder::Big,
            version: wire::VERSION,
            seq: Seq(seq),
        };
        wire::encode_event(&header, Channel(channel), &event, &mut bytes);
        let now = p.now();
        p.controller.handle_datagram(now, board_addr(), &bytes);
    };
    // Digits, a dial end and a polarity reversal on the idle trunk; caller id on a station
    // line; a current disconnect on a channel no one watches.
    inject(
        &mut p,
        2,
        wire::Event::Digits(vec![wire::DigitEntry {
            digit: 1,
            on_time_ms: 100,
            inter_digit_ms: 100,
        }]),
    );
    inject(&mut p, 2, wire::Event::DialEnded);
    inject(&mut p, 2, wire::Event::PolarityReversal { reversed: true });
    inject(&mut p, 0, wire::Event::CallerId(CallerIdText::default()));
    inject(&mut p, 3, wire::Event::CurrentDisconnect);
    let (events, _) = run(&mut p, 1);
    assert_eq!(events, []);
    assert_eq!(p.controller.stats().trunk_dropped, 5);
    // The trunk still works.
    dialled(&mut p);
}
