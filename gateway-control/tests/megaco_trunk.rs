//! Trunks (FXO ports) end to end in virtual time: the MEGACO controller core against the
//! simulated gateway whose lines 3 and 4 face a simulated PBX (`--fxo 3-4`). Seize, dial,
//! far-end answer and hang-up, busy, an incoming call with caller id answered and keyed,
//! glare, a PBX without supervision, and bad input counted.

use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::megaco::controller::{Config, GatewayConfig, MediaGatewayController};
use gateway_control::model::{
    CallId, CallerId, Codec, Command, ConnectionMode, DialMethod, Digit, Disconnect, Event,
    GatewayId, LineId, Media,
};
use gateway_control::pcap::PcapWriter;
use gateway_harness::{Lossy, Pair, Side};
use gateway_sim::megaco::{self as sim, Mg};
use gateway_sim::{FxoConfig, LineCommand, Output, Simulator, Supervision, TrunkCommand};

type Sim = Pair<MediaGatewayController, Mg>;

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

const MGC: &str = "192.0.2.1:2944";
const MG: &str = "192.0.2.2:2944";
const STEP: Duration = Duration::from_millis(200);

fn line_id(n: u16) -> LineId {
    LineId::new(GatewayId::new("mg1"), &format!("aaln/{n}"))
}

/// Four lines, 3 and 4 FXO ports with `supervision`, both added as trunks and idle.
fn pair(supervision: Supervision) -> Sim {
    pair_with(supervision, false)
}

/// [`pair`], every datagram kept from the start if `record`.
fn pair_with(supervision: Supervision, record: bool) -> Sim {
    let now = epoch();
    let mgc: SocketAddr = MGC.parse().unwrap();
    let mut mc = sim::Config::new(4, mgc).unwrap();
    mc.mid("mg1").unwrap();
    mc.media_address("192.0.2.2".parse().unwrap());
    mc.seed(5);
    let mut fxo = FxoConfig::new();
    fxo.lines("3-4").unwrap().supervision(supervision);
    mc.fxo(fxo);
    let mut mg = Mg::new(mc, now);
    for i in 0..8 {
        mg.add_rtp_port(16384 + 2 * i);
    }
    let config = Config {
        mid: "[192.0.2.1]:2944".into(),
        gateways: vec![GatewayConfig {
            id: GatewayId::new("mg1"),
            mid: "mg1".into(),
            address: Some("192.0.2.2".parse().unwrap()),
            lines: vec!["aaln/1".into(), "aaln/2".into()],
        }],
        rng_seed: 9,
        ..Config::default()
    };
    let core = MediaGatewayController::new(config, now).unwrap();
    let mut p = Pair::new(core, mgc, mg, MG.parse().unwrap(), now, Lossy::default());
    if record {
        p.record();
    }
    p.run(STEP);
    assert!(p.controller.is_up(&GatewayId::new("mg1")));
    for n in [3, 4] {
        p.command(Command::AddTrunk { line: line_id(n) });
    }
    p.run(STEP);
    for n in [3, 4] {
        take(
            &mut p,
            |e| matches!(e, Event::LineStatus { line, off_hook: false } if *line == line_id(n)),
        );
    }
    p.events.clear();
    p.outputs.clear();
    p
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

/// The events since the last call, none of them a failure.
fn events(p: &mut Sim) -> Vec<Event> {
    let events = p.take_events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::CommandFailed { .. })),
        "{events:#?}"
    );
    events
}

fn trunk(p: &mut Sim, command: TrunkCommand) {
    let now = p.now();
    assert!(p.gateway.handle_trunk(now, command));
    p.deliver();
}

fn dial(p: &mut Sim, n: u16, number: &str) {
    p.command(Command::Seize { line: line_id(n) });
    p.command(Command::Dial {
        line: line_id(n),
        number: number.chars().map(|c| Digit::new(c).unwrap()).collect(),
        method: DialMethod::Dtmf,
    });
    p.run(STEP);
    assert_eq!(events(p), vec![Event::DialComplete { line: line_id(n) }]);
    let dialed = p.take_outputs();
    assert!(
        dialed.contains(&Output::Dialed {
            line: n,
            number: number.into()
        }),
        "{dialed:#?}"
    );
}

fn gone(n: u16, why: Disconnect) -> Event {
    Event::FarEndDisconnect {
        line: line_id(n),
        why,
    }
}

fn release(p: &mut Sim, n: u16) {
    p.command(Command::Release { line: line_id(n) });
    p.run(STEP);
    assert_eq!(events(p), vec![]);
}

#[test]
fn a_call_out_is_dialled_answered_and_hung_up_by_the_far_end() {
    let mut p = pair(Supervision::Full);
    dial(&mut p, 3, "2041");
    p.line(LineCommand::OffHook(3));
    p.run(STEP);
    assert_eq!(
        events(&mut p),
        vec![Event::FarEndAnswer { line: line_id(3) }]
    );
    p.line(LineCommand::Digits(3, "5#".into()));
    p.run(STEP);
    let key = |c| Event::Digit {
        line: line_id(3),
        digit: Digit::new(c).unwrap(),
    };
    assert_eq!(events(&mut p), vec![key('5'), key('#')]);
    p.line(LineCommand::OnHook(3));
    p.run(STEP);
    assert_eq!(events(&mut p), vec![gone(3, Disconnect::LoopCurrentDrop)]);
    release(&mut p, 3);
    // Idle again: it can be seized and dialled once more.
    dial(&mut p, 3, "2042");
    release(&mut p, 3);
    assert_eq!(p.controller.stats().trunk_inputs_dropped, 0);
}

/// Busy: the gateway's tone detector reports it, and the tone goes on as audio on the
/// port's connection towards Offhook (for a controller that listens for it) until released.
#[test]
fn a_busy_number_is_heard_by_the_gateway_and_sent_as_audio() {
    let mut p = pair(Supervision::Full);
    dial(&mut p, 4, "2041");
    p.command(Command::CreateConnection {
        line: line_id(4),
        call: CallId(7),
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
    take(&mut p, |e| matches!(e, Event::ConnectionCreated { .. }));
    assert_eq!(p.rtp, 0);
    trunk(&mut p, TrunkCommand::Busy(4));
    p.run(Duration::from_secs(3));
    assert_eq!(events(&mut p), vec![gone(4, Disconnect::Busy)]);
    // 20 ms packets for three seconds, chunk after chunk, none reported as a `say`.
    assert!((140..=151).contains(&p.rtp), "{} RTP packets", p.rtp);
    assert!(
        !p.take_outputs()
            .iter()
            .any(|o| matches!(o, Output::SayDone { .. })),
    );
    p.command(Command::DeleteConnection {
        line: line_id(4),
        call: CallId(7),
    });
    p.run(STEP);
    take(&mut p, |e| matches!(e, Event::ConnectionDeleted { .. }));
    release(&mut p, 4);
    let sent = p.rtp;
    p.run(Duration::from_secs(2));
    assert_eq!(p.rtp, sent, "the tone ends with the call");
}

#[test]
fn an_incoming_call_with_caller_id_is_answered_keyed_and_ended_by_the_caller() {
    let mut p = pair(Supervision::Full);
    trunk(
        &mut p,
        TrunkCommand::Ring {
            line: 3,
            caller_id: Some("2041".into()),
        },
    );
    p.run(STEP);
    assert_eq!(
        events(&mut p),
        vec![Event::IncomingCall {
            line: line_id(3),
            caller_id: Some(CallerId {
                number: Some("2041".into()),
                name: None
            })
        }]
    );
    p.command(Command::Answer { line: line_id(3) });
    p.run(STEP);
    assert!(p.take_outputs().contains(&Output::Answered { line: 3 }));
    p.line(LineCommand::Digits(3, "1234#".into()));
    p.run(STEP);
    let keys: String = events(&mut p)
        .iter()
        .map(|e| match e {
            Event::Digit { line, digit } if *line == line_id(3) => digit.as_char(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(keys, "1234#");
    p.line(LineCommand::OnHook(3));
    p.run(STEP);
    assert_eq!(events(&mut p), vec![gone(3, Disconnect::LoopCurrentDrop)]);
    release(&mut p, 3);
}

#[test]
fn glare_is_refused_by_the_gateway_and_the_ringing_call_reported() {
    let mut p = pair(Supervision::Full);
    trunk(
        &mut p,
        TrunkCommand::Ring {
            line: 4,
            caller_id: None,
        },
    );
    // The controller seizes before it has heard of the ringing.
    p.command(Command::Seize { line: line_id(4) });
    p.run(STEP);
    take(
        &mut p,
        |e| matches!(e, Event::IncomingCall { line, caller_id: None } if *line == line_id(4)),
    );
    take(
        &mut p,
        |e| matches!(e, Event::CommandFailed { line, code: 540, call: None, .. } if *line == line_id(4)),
    );
    assert!(p.events.is_empty(), "{:#?}", p.events);
    // The caller gives up.
    p.line(LineCommand::OnHook(4));
    p.run(STEP);
    assert_eq!(events(&mut p), vec![gone(4, Disconnect::RingingStopped)]);
}

#[test]
fn without_supervision_answer_is_not_signalled_and_the_end_is_reorder() {
    let mut p = pair(Supervision::None);
    dial(&mut p, 3, "2041");
    p.line(LineCommand::OffHook(3));
    p.run(STEP);
    assert_eq!(events(&mut p), vec![]);
    p.line(LineCommand::OnHook(3));
    p.run(STEP);
    assert_eq!(events(&mut p), vec![gone(3, Disconnect::Reorder)]);
    release(&mut p, 3);
}

#[test]
fn bad_input_is_counted_and_refused_never_fatal() {
    let mut p = pair(Supervision::Full);
    // Events for an idle trunk, forged under each RequestID it may have been armed with.
    for rid in 1..=3 {
        let forged = format!(
            "MEGACO/1 mg1\nTransaction = {} {{ Context = - {{ Notify = aaln/3 {{ ObservedEvents = {rid} {{ bcas/ans, g/sc, bcas/cl }} }} }} }}",
            9000 + rid
        );
        let now = p.now();
        p.controller
            .handle_datagram(now, MG.parse().unwrap(), forged.as_bytes());
    }
    p.run(STEP);
    assert!(p.take_events().is_empty());
    assert!(p.controller.stats().trunk_inputs_dropped >= 3);
    // Commands out of place: dial on an idle trunk, answer with nothing ringing.
    p.command(Command::Dial {
        line: line_id(3),
        number: vec![Digit::new('1').unwrap()],
        method: DialMethod::Dtmf,
    });
    p.command(Command::Answer { line: line_id(3) });
    p.run(STEP);
    let failed = p.take_events();
    assert_eq!(failed.len(), 2, "{failed:#?}");
    assert!(
        failed
            .iter()
            .all(|e| matches!(e, Event::CommandFailed { .. }))
    );
    // The PBX side out of place: busy on an idle port, a ring on a station line.
    trunk(&mut p, TrunkCommand::Busy(3));
    trunk(
        &mut p,
        TrunkCommand::Ring {
            line: 1,
            caller_id: None,
        },
    );
    let errors = p.take_outputs();
    assert_eq!(
        errors
            .iter()
            .filter(|o| matches!(o, Output::Error { .. }))
            .count(),
        2,
        "{errors:#?}"
    );
    // Still working.
    dial(&mut p, 3, "2041");
}

fn tshark(path: &std::path::Path, args: &[&str]) -> String {
    let out = std::process::Command::new("tshark")
        .args(["-r", &path.display().to_string()])
        .args(["-d", "udp.port==2944,megaco"])
        .args(args)
        .output()
        .expect("tshark is installed (scripts/deps --test installs it)");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The trunk exchanges (seize, dial list, answer, clear, incoming seizure with caller id,
/// answer, keys, glare's error) written to a pcap and read back by Wireshark's MEGACO
/// dissector: every frame MEGACO, none malformed or flagged, the trunk items all seen.
#[test]
fn tshark_reads_the_trunk_exchanges_cleanly() {
    let mut p = pair_with(Supervision::Full, true);
    dial(&mut p, 3, "20*4#");
    p.line(LineCommand::OffHook(3));
    p.line(LineCommand::OnHook(3));
    p.run(STEP);
    p.take_events();
    release(&mut p, 3);
    trunk(
        &mut p,
        TrunkCommand::Ring {
            line: 4,
            caller_id: Some("2041".into()),
        },
    );
    p.command(Command::Seize { line: line_id(4) });
    p.run(STEP);
    p.command(Command::Answer { line: line_id(4) });
    p.line(LineCommand::Digits(4, "1#".into()));
    p.run(STEP);
    p.take_events();
    release(&mut p, 4);
    p.run(STEP);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trunk.pcap");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).unwrap());
    let mut pcap = PcapWriter::new(file).unwrap();
    let (mgc, mg): (SocketAddrV4, SocketAddrV4) = (MGC.parse().unwrap(), MG.parse().unwrap());
    let mut frames = 0;
    let mut all = String::new();
    for sent in p.sent() {
        let (from, to) = match sent.to {
            Side::Gateway => (mgc, mg),
            Side::Controller => (mg, mgc),
        };
        pcap.write_udp(sent.at, from, to, &sent.contents).unwrap();
        all.push_str(&String::from_utf8_lossy(&sent.contents));
        frames += 1;
    }
    drop(pcap);
    for item in [
        "bcas/sz",
        "bcas/ans",
        "bcas/cl",
        "g/sc",
        "cd/bt",
        "SignalList",
        "dg/d4",
        "cid",
        "Error = 540",
    ] {
        assert!(all.contains(item), "{item} never exchanged");
    }
    let flagged = tshark(
        &path,
        &[
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 0x00600000 || !megaco",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ],
    );
    assert!(
        flagged.trim().is_empty(),
        "tshark flagged frames:\n{flagged}"
    );
    let megaco = tshark(
        &path,
        &["-Y", "megaco", "-T", "fields", "-e", "frame.number"],
    );
    assert_eq!(megaco.lines().count(), frames);
    let verbose = tshark(&path, &["-Y", "megaco", "-V"]);
    for item in ["bcas/sz", "bcas/ans", "g/sc", "dg/d4"] {
        assert!(verbose.contains(item), "tshark does not show {item}");
    }
}
