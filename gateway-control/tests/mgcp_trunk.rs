//! MGCP trunks (FXO ports) end to end in virtual time: the call agent core against the
//! simulated gateway's FXO ports (`--fxo 3-4`), over the harness's link; and the trunk
//! exchange read back by Wireshark's MGCP dissector.

mod support;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::mgcp::{CallAgent, Config as AgentConfig, GatewayConfig};
use gateway_control::model::{
    CallId, Codec, Command, ConnectionMode, DialMethod, Digit, DigitMap, Disconnect, Event,
    GatewayId, LineId, Media,
};
use gateway_harness::{Lossy, Pair, Sent, Side};
use gateway_sim::{
    self as sim, FxoConfig, Gateway, LineCommand, Output, Supervision, TrunkCommand,
};

type Sim = Pair<CallAgent, Gateway>;

const CA: &str = "192.0.2.1:2727";
const GW: &str = "192.0.2.2:2427";
const STEP: Duration = Duration::from_millis(200);

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

/// Station lines 1-2 (configured), FXO ports 3-4 (added as trunks).
fn new(supervision: Supervision) -> Sim {
    let now = epoch();
    let ca: SocketAddr = CA.parse().unwrap();
    let gw_addr: SocketAddr = GW.parse().unwrap();
    let mut gc = sim::Config::new(4, ca).unwrap();
    gc.domain("[192.0.2.2]").unwrap();
    gc.media_address("192.0.2.2".parse().unwrap());
    gc.seed(5);
    let mut fxo = FxoConfig::new();
    fxo.lines("3-4").unwrap().supervision(supervision);
    gc.fxo(fxo).unwrap();
    let mut gw = Gateway::new(gc, now);
    for i in 0..8 {
        gw.add_rtp_port(16384 + 2 * i);
    }
    let mut ac = AgentConfig::default();
    ac.gateway(GatewayConfig {
        id: GatewayId::new("gw1"),
        address: gw_addr,
        domain: "[192.0.2.2]".into(),
        lines: vec!["aaln/1".into(), "aaln/2".into()],
    })
    .unwrap()
    .notified_entity("offhook@[192.0.2.1]:2727")
    .unwrap()
    .rng_seed(9)
    .unwrap();
    let agent = CallAgent::new(ac, now).unwrap();
    let mut p = Pair::new(agent, ca, gw, gw_addr, now, Lossy::default());
    p.run(STEP);
    for n in [3, 4] {
        p.command(Command::AddTrunk { line: line(n) });
    }
    p.run(STEP);
    p.events.clear();
    p.outputs.clear();
    p
}

fn line(n: u16) -> LineId {
    LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"))
}

fn trunk(p: &mut Sim, cmd: TrunkCommand) {
    let now = p.now();
    p.gateway.handle_trunk(now, cmd);
    p.deliver();
}

fn digits(s: &str) -> Vec<Digit> {
    s.chars().map(|c| Digit::new(c).unwrap()).collect()
}

/// Removes and returns the first event that matches.
fn take(p: &mut Sim, want: impl Fn(&Event) -> bool) -> Event {
    let i = p
        .events
        .iter()
        .position(want)
        .unwrap_or_else(|| panic!("not among {:#?}", p.events));
    p.events.remove(i)
}

fn seize_and_dial(p: &mut Sim, n: u16, number: &str) {
    p.command(Command::Seize { line: line(n) });
    p.command(Command::Dial {
        line: line(n),
        number: digits(number),
        method: DialMethod::Dtmf,
    });
    p.run(STEP);
    assert!(
        p.outputs.contains(&Output::Dialed {
            line: n,
            number: number.into()
        }),
        "{:#?}",
        p.outputs
    );
    take(
        p,
        |e| matches!(e, Event::DialComplete { line: l } if *l == line(n)),
    );
}

fn connect(p: &mut Sim, n: u16) {
    p.command(Command::CreateConnection {
        line: line(n),
        call: CallId(0x70 + u64::from(n)),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        remote: Some(Media {
            address: "192.0.2.1:40000".parse().unwrap(),
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            telephone_event: None,
        }),
    });
    p.run(STEP);
    take(p, |e| matches!(e, Event::ConnectionCreated { .. }));
}

#[test]
fn outgoing_call_answered_and_hung_up_by_the_far_end() {
    let mut p = new(Supervision::Full);
    seize_and_dial(&mut p, 3, "2041");
    p.line(LineCommand::OffHook(3));
    p.run(STEP);
    take(
        &mut p,
        |e| matches!(e, Event::FarEndAnswer { line: l } if *l == line(3)),
    );
    p.line(LineCommand::OnHook(3));
    p.run(STEP);
    take(
        &mut p,
        |e| matches!(e, Event::FarEndDisconnect { line: l, why: Disconnect::LoopCurrentDrop } if *l == line(3)),
    );
    p.command(Command::Release { line: line(3) });
    p.run(STEP);
    // Free again: a second call on the same port goes through.
    p.outputs.clear();
    seize_and_dial(&mut p, 3, "2042");
    assert!(p.events.is_empty(), "{:#?}", p.events);
    assert_eq!(p.controller.stats().trunk_out_of_place, 0);
}

#[test]
fn busy_is_tone_on_the_connection_and_no_event() {
    let mut p = new(Supervision::Full);
    seize_and_dial(&mut p, 3, "2041");
    connect(&mut p, 3);
    let before = p.rtp;
    trunk(&mut p, TrunkCommand::Busy(3));
    p.run(Duration::from_secs(3));
    // 20 ms packets for 3 s, the tone going on past its first one-second chunk.
    assert!(p.rtp - before >= 140, "{} RTP packets", p.rtp - before);
    assert!(p.events.is_empty(), "{:#?}", p.events);
    assert!(
        !p.outputs
            .iter()
            .any(|o| matches!(o, Output::SayDone { .. })),
        "the tone is not a say"
    );
    p.command(Command::Release { line: line(3) });
    p.run(STEP);
    let after = p.rtp;
    p.run(Duration::from_secs(2));
    assert_eq!(p.rtp, after, "release ends the tone");
}

#[test]
fn without_supervision_answer_and_hang_up_are_only_heard() {
    let mut p = new(Supervision::None);
    seize_and_dial(&mut p, 3, "2041");
    connect(&mut p, 3);
    p.line(LineCommand::OffHook(3));
    p.run(STEP);
    let before = p.rtp;
    p.line(LineCommand::OnHook(3));
    p.run(Duration::from_secs(2));
    assert!(p.events.is_empty(), "{:#?}", p.events);
    assert!(p.rtp - before >= 90, "reorder tone: {}", p.rtp - before);
}

#[test]
fn incoming_call_with_caller_id_answered_keyed_and_hung_up() {
    let mut p = new(Supervision::Full);
    trunk(
        &mut p,
        TrunkCommand::Ring {
            line: 4,
            caller_id: Some("2041".into()),
        },
    );
    p.run(STEP);
    let Event::IncomingCall { caller_id, .. } = take(
        &mut p,
        |e| matches!(e, Event::IncomingCall { line: l, .. } if *l == line(4)),
    ) else {
        unreachable!()
    };
    assert_eq!(caller_id.and_then(|c| c.number).as_deref(), Some("2041"));
    // Later ring bursts are the same call, and keep it ringing.
    p.run(Duration::from_secs(13));
    assert!(p.events.is_empty(), "{:#?}", p.events);
    p.command(Command::Answer { line: line(4) });
    p.run(STEP);
    assert!(
        p.outputs.contains(&Output::Answered { line: 4 }),
        "{:#?}",
        p.outputs
    );
    p.line(LineCommand::Digits(4, "12#".into()));
    p.run(STEP);
    for want in digits("12#") {
        take(
            &mut p,
            |e| matches!(e, Event::Digit { line: l, digit } if *l == line(4) && *digit == want),
        );
    }
    p.line(LineCommand::OnHook(4));
    p.run(STEP);
    take(
        &mut p,
        |e| matches!(e, Event::FarEndDisconnect { line: l, why: Disconnect::LoopCurrentDrop } if *l == line(4)),
    );
    assert!(p.events.is_empty(), "{:#?}", p.events);
}

/// The dial-in's number and PIN are collected by the gateway against a digit map (RFC 3435
/// §2.1.5) and reported in one piece; a key typed after the report is a single key again, and
/// a collection on an idle port is refused.
#[test]
fn an_answered_call_collects_dial_strings_with_the_digit_map() {
    let mut p = new(Supervision::Full);
    let map = DigitMap::parse("(x.#|x.T)").unwrap();
    p.command(Command::CollectDigits {
        line: line(4),
        map: map.clone(),
    });
    p.run(STEP);
    take(
        &mut p,
        |e| matches!(e, Event::CommandFailed { line: l, code: 402, .. } if *l == line(4)),
    );
    trunk(
        &mut p,
        TrunkCommand::Ring {
            line: 4,
            caller_id: None,
        },
    );
    p.run(STEP);
    take(&mut p, |e| matches!(e, Event::IncomingCall { .. }));
    p.command(Command::Answer { line: line(4) });
    p.run(STEP);
    p.command(Command::CollectDigits {
        line: line(4),
        map: map.clone(),
    });
    p.run(STEP);
    p.line(LineCommand::Digits(4, "2041#".into()));
    p.run(STEP);
    let Event::Dialled { digits: got, .. } = take(
        &mut p,
        |e| matches!(e, Event::Dialled { line: l, .. } if *l == line(4)),
    ) else {
        unreachable!()
    };
    assert_eq!(got, digits("2041#"));
    assert!(p.events.is_empty(), "{:#?}", p.events);
    // Keys stopped short of `#`: the gateway's timer ends the string.
    p.command(Command::CollectDigits {
        line: line(4),
        map: map.clone(),
    });
    p.run(STEP);
    p.line(LineCommand::Digits(4, "43".into()));
    p.run(Duration::from_secs(20));
    let Event::Dialled { digits: got, .. } = take(&mut p, |e| matches!(e, Event::Dialled { .. }))
    else {
        unreachable!()
    };
    assert_eq!(got, digits("43"));
    // No collection: single keys.
    p.line(LineCommand::Digits(4, "1".into()));
    p.run(STEP);
    take(&mut p, |e| matches!(e, Event::Digit { .. }));
    // Hanging up while keys are being collected reports the hang-up, not the keys.
    p.command(Command::CollectDigits { line: line(4), map });
    p.run(STEP);
    p.line(LineCommand::Digits(4, "9".into()));
    p.line(LineCommand::OnHook(4));
    p.run(STEP);
    take(&mut p, |e| matches!(e, Event::FarEndDisconnect { .. }));
    assert!(p.events.is_empty(), "{:#?}", p.events);
    assert_eq!(p.controller.stats().dial_strings, 2);
}

#[test]
fn a_caller_giving_up_is_ringing_stopped() {
    let mut p = new(Supervision::Full);
    trunk(
        &mut p,
        TrunkCommand::Ring {
            line: 4,
            caller_id: None,
        },
    );
    p.run(Duration::from_secs(3));
    take(&mut p, |e| matches!(e, Event::IncomingCall { .. }));
    p.line(LineCommand::OnHook(4));
    let gone = p.now();
    p.run_until(Duration::from_secs(20), |p| !p.events.is_empty());
    take(
        &mut p,
        |e| matches!(e, Event::FarEndDisconnect { line: l, why: Disconnect::RingingStopped } if *l == line(4)),
    );
    // The last burst began at 0 s: reported RING_GONE after it, within the burst's 2 s.
    let waited = p.now() - gone;
    assert!(waited <= gateway_control::mgcp::RING_GONE, "{waited:?}");
    // Answering it now is too late.
    p.command(Command::Answer { line: line(4) });
    take(
        &mut p,
        |e| matches!(e, Event::CommandFailed { line: l, .. } if *l == line(4)),
    );
}

#[test]
fn seizing_a_ringing_port_is_glare() {
    let mut p = new(Supervision::Full);
    trunk(
        &mut p,
        TrunkCommand::Ring {
            line: 3,
            caller_id: None,
        },
    );
    p.run(STEP);
    take(&mut p, |e| matches!(e, Event::IncomingCall { .. }));
    // Known to the agent: refused at once.
    p.command(Command::Seize { line: line(3) });
    p.run(STEP);
    take(
        &mut p,
        |e| matches!(e, Event::CommandFailed { line: l, code: 501, .. } if *l == line(3)),
    );

    // Crossing on the wire: the gateway refuses the seize, and the call still rings.
    let now = p.now();
    p.gateway.handle_trunk(
        now,
        TrunkCommand::Ring {
            line: 4,
            caller_id: None,
        },
    );
    p.controller
        .handle_command(now, Command::Seize { line: line(4) });
    p.deliver();
    p.run(STEP);
    take(
        &mut p,
        |e| matches!(e, Event::CommandFailed { line: l, code: 501, .. } if *l == line(4)),
    );
    take(
        &mut p,
        |e| matches!(e, Event::IncomingCall { line: l, .. } if *l == line(4)),
    );
    p.command(Command::Answer { line: line(4) });
    p.run(STEP);
    assert!(
        p.outputs.contains(&Output::Answered { line: 4 }),
        "{:#?}",
        p.outputs
    );
}

#[test]
fn out_of_place_input_is_counted_and_dropped() {
    let mut p = new(Supervision::Full);
    let gw: SocketAddr = GW.parse().unwrap();
    let now = p.now();
    for (t, o) in [(900, "D/5"), (901, "L/lsa"), (902, "L/osi"), (903, "L/oc")] {
        let text = format!("NTFY {t} aaln/3@[192.0.2.2] MGCP 1.0\r\nX: 1\r\nO: {o}\r\n");
        p.controller.handle_datagram(now, gw, text.as_bytes());
    }
    p.deliver();
    p.run(STEP);
    assert!(
        !p.events.iter().any(|e| matches!(
            e,
            Event::Digit { .. }
                | Event::FarEndAnswer { .. }
                | Event::FarEndDisconnect { .. }
                | Event::DialComplete { .. }
        )),
        "{:#?}",
        p.events
    );
    assert_eq!(p.controller.stats().trunk_out_of_place, 4);
    // A trunk command for a station line fails, counted.
    p.command(Command::Seize { line: line(1) });
    take(
        &mut p,
        |e| matches!(e, Event::CommandFailed { line: l, .. } if *l == line(1)),
    );
    assert_eq!(p.controller.stats().trunk_out_of_place, 5);
    // Pulse dialling has no MGCP signal.
    p.command(Command::Seize { line: line(3) });
    p.command(Command::Dial {
        line: line(3),
        number: digits("1"),
        method: DialMethod::Pulse,
    });
    p.run(STEP);
    take(
        &mut p,
        |e| matches!(e, Event::CommandFailed { line: l, code: 513, .. } if *l == line(3)),
    );
    // The simulator refuses far-end commands out of place, and `busy` on a station line.
    p.line(LineCommand::OffHook(4));
    trunk(&mut p, TrunkCommand::Busy(1));
    let errors = p
        .outputs
        .iter()
        .filter(|o| matches!(o, Output::Error { .. }))
        .count();
    assert_eq!(errors, 2, "{:#?}", p.outputs);
}

/// An outgoing call (seize, dial, answer, far-end hang-up, release) and an incoming one (ring
/// with caller id, answer, keys, caller hang-up), written to a pcap: tshark reads every
/// datagram as MGCP, flags nothing, and sees the trunk signals and events as we wrote them.
#[test]
fn the_trunk_exchange_reads_clean_in_tshark() {
    use std::net::SocketAddrV4;

    use gateway_control::pcap::PcapWriter;

    let mut p = new(Supervision::Full);
    p.record();
    seize_and_dial(&mut p, 3, "2041");
    p.line(LineCommand::OffHook(3));
    p.line(LineCommand::OnHook(3));
    p.command(Command::Release { line: line(3) });
    trunk(
        &mut p,
        TrunkCommand::Ring {
            line: 4,
            caller_id: Some("2041".into()),
        },
    );
    p.run(STEP);
    p.command(Command::Answer { line: line(4) });
    p.run(STEP);
    p.line(LineCommand::Digits(4, "5".into()));
    p.run(STEP);
    p.command(Command::CollectDigits {
        line: line(4),
        map: DigitMap::parse("(x.#|x.T)").unwrap(),
    });
    p.run(STEP);
    p.line(LineCommand::Digits(4, "12#".into()));
    p.run(STEP);
    p.line(LineCommand::OnHook(4));
    p.command(Command::Release { line: line(4) });
    p.run(STEP);

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trunk.pcap");
    let file = std::fs::File::create(&path).unwrap();
    let mut pcap = PcapWriter::new(std::io::BufWriter::new(file)).unwrap();
    let (ca, gw): (SocketAddrV4, SocketAddrV4) = (CA.parse().unwrap(), GW.parse().unwrap());
    for Sent { at, to, contents } in p.sent() {
        let (src, dst) = match to {
            Side::Gateway => (ca, gw),
            Side::Controller => (gw, ca),
        };
        pcap.write_udp(*at + Duration::from_secs(1_000_000_000), src, dst, contents)
            .unwrap();
    }
    pcap.flush().unwrap();
    drop(pcap);
    support::assert_clean(&path);
    let fields = support::tshark(
        &path,
        &[
            "-T",
            "fields",
            "-e",
            "mgcp.param.signalreq",
            "-e",
            "mgcp.param.reqevents",
            "-e",
            "mgcp.param.observedevents",
            "-e",
            "mgcp.param.digitmap",
        ],
    );
    for want in [
        "L/hd",
        "D/2,D/0,D/4,D/1",
        "L/hu",
        "L/rg(N)",
        "L/lsa(N),L/osi(N),L/oc(N),D/[0-9#*](N)",
        "L/oc",
        "L/lsa",
        "L/osi",
        "L/rg,L/ci(,\"2041\",)",
        "D/5",
        "L/osi(N),D/[0-9#*T](D)",
    ] {
        assert!(fields.contains(want), "{want} missing from:\n{fields}");
    }
    assert!(
        fields.contains("(x.#|x.T)"),
        "digit map missing from:\n{fields}"
    );
    assert!(
        fields.contains("D/1,D/2,D/#") || fields.contains("D/12#"),
        "collected string missing from:\n{fields}"
    );
}
