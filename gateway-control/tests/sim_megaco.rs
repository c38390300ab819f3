//! The MEGACO controller core against the simulated MEGACO media gateway core, in virtual time:
//! messages move directly between the two (seeded loss on request), and time jumps to the
//! earliest deadline.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::megaco::controller::{Config, GatewayConfig, MediaGatewayController};
use gateway_control::model::{
    Cadence, CallId, Codec, Command, ConnectionMode, Digit, DigitMap, Event, GatewayId, LineId,
    Media,
};
use gateway_harness::{Lossy, Pair};
use gateway_sim::megaco::{self as sim, Mg};
use gateway_sim::{LineCommand, Output};

type Sim = Pair<MediaGatewayController, Mg>;

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

const MGC: &str = "192.0.2.1:2944";
const MG: &str = "192.0.2.2:2944";

fn line_id(n: u16) -> LineId {
    LineId::new(GatewayId::new("mg1"), &format!("aaln/{n}"))
}

/// `lines` lines; the controller and the MG over a link that loses every `lose_every`-th
/// datagram (both ways) if set; runs for `patience` (registration, audits, arming).
fn new_pair(lines: u16, lose_every: Option<u64>, patience: Duration) -> Sim {
    new_pair_with(lines, lose_every, patience, sim::Encoding::Pretty, false)
}

/// [`new_pair`] with the MG writing `encoding` (the controller answers in kind), every
/// datagram kept from the start if `record`.
fn new_pair_with(
    lines: u16,
    lose_every: Option<u64>,
    patience: Duration,
    encoding: sim::Encoding,
    record: bool,
) -> Sim {
    let now = epoch();
    let mgc: SocketAddr = MGC.parse().unwrap();
    let mg_addr: SocketAddr = MG.parse().unwrap();
    let mut mc = sim::Config::new(lines, mgc).unwrap();
    mc.mid("mg1").unwrap();
    mc.media_address("192.0.2.2".parse().unwrap());
    mc.seed(5);
    mc.encoding(encoding);
    let mut mg = Mg::new(mc, now);
    for i in 0..lines * 2 {
        mg.add_rtp_port(16384 + 2 * i);
    }
    let config = Config {
        mid: "[192.0.2.1]:2944".into(),
        gateways: vec![GatewayConfig {
            id: GatewayId::new("mg1"),
            mid: "mg1".into(),
            address: Some("192.0.2.2".parse().unwrap()),
            lines: (1..=lines).map(|n| format!("aaln/{n}")).collect(),
        }],
        rng_seed: 9,
        ..Config::default()
    };
    let mgc_core = MediaGatewayController::new(config, now).unwrap();
    let link = match lose_every {
        Some(n) => Lossy::default().lose_every(n),
        None => Lossy::default(),
    };
    let mut p = Pair::new(mgc_core, mgc, mg, mg_addr, now, link);
    if record {
        p.record();
    }
    p.run(patience);
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

#[test]
fn lines_are_armed_and_a_call_goes_through() {
    call_flow(None, Duration::from_millis(200));
}

/// Every fifth datagram lost, both ways: retransmission and duplicate suppression on both
/// sides carry the same call through, only later.
#[test]
fn a_call_goes_through_with_a_fifth_of_the_datagrams_lost() {
    let p = call_flow(Some(5), Duration::from_secs(20));
    assert!(p.wire.stats().lost >= 3, "{} lost", p.wire.stats().lost);
    assert!(
        p.controller.transaction_stats().retransmissions
            + p.gateway.transaction_stats().retransmissions
            > 0
    );
}

fn call_flow(lose_every: Option<u64>, patience: Duration) -> Sim {
    call_flow_on(new_pair(3, lose_every, patience), patience)
}

fn call_flow_on(mut p: Sim, patience: Duration) -> Sim {
    assert!(p.gateway.is_registered());
    assert!(p.controller.is_up(&GatewayId::new("mg1")));
    take(&mut p, |e| matches!(e, Event::GatewayUp { .. }));
    for n in 1..=3 {
        take(
            &mut p,
            |e| matches!(e, Event::LineStatus { line, off_hook: false } if *line == line_id(n)),
        );
    }
    p.events.clear();

    // Ringing line 1, picked up: the ring stops and off-hook reaches the controller.
    p.command(Command::Ring {
        line: line_id(1),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    p.run(patience);
    assert!(
        p.outputs
            .iter()
            .any(|o| matches!(o, Output::Ringing { line: 1, .. })),
        "{:#?}",
        p.outputs
    );
    p.line(LineCommand::OffHook(1));
    p.run(patience);
    take(
        &mut p,
        |e| matches!(e, Event::OffHook { line } if *line == line_id(1)),
    );

    // A connection, with the MG's media address in the answer.
    p.command(Command::CreateConnection {
        line: line_id(1),
        call: CallId(0x51),
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
    p.run(patience);
    let Event::ConnectionCreated { local, .. } = take(&mut p, |e| {
        matches!(
            e,
            Event::ConnectionCreated {
                call: CallId(0x51),
                ..
            }
        )
    }) else {
        unreachable!()
    };
    assert_eq!(
        local.address.ip(),
        "192.0.2.2".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(p.gateway.contexts().count(), 1);

    // A key while off-hook.
    p.line(LineCommand::Digits(1, "#".into()));
    p.run(patience);
    take(
        &mut p,
        |e| matches!(e, Event::Digit { line, digit } if *line == line_id(1) && *digit == Digit::new('#').unwrap()),
    );

    // A dialled number through a digit map.
    p.command(Command::CollectDigits {
        line: line_id(1),
        map: DigitMap::parse("(xxxx|#)").unwrap(),
    });
    p.run(patience);
    p.line(LineCommand::Digits(1, "2041".into()));
    p.run(patience + Duration::from_secs(5));
    let Event::Dialled { digits, .. } = take(&mut p, |e| matches!(e, Event::Dialled { .. })) else {
        unreachable!()
    };
    let dialled: String = digits.iter().map(|d| d.as_char()).collect();
    assert_eq!(dialled, "2041");

    // Hang-up, then the connection goes: the context is deleted.
    p.line(LineCommand::OnHook(1));
    p.run(patience);
    take(
        &mut p,
        |e| matches!(e, Event::OnHook { line } if *line == line_id(1)),
    );
    p.command(Command::DeleteConnection {
        line: line_id(1),
        call: CallId(0x51),
    });
    p.run(patience);
    take(&mut p, |e| {
        matches!(
            e,
            Event::ConnectionDeleted {
                call: CallId(0x51),
                ..
            }
        )
    });
    assert_eq!(p.gateway.contexts().count(), 0);
    assert!(
        !p.events
            .iter()
            .any(|e| matches!(e, Event::CommandFailed { .. })),
        "{:#?}",
        p.events
    );
    // The line is armed again: a new off-hook is reported.
    p.line(LineCommand::OffHook(1));
    p.run(patience);
    take(
        &mut p,
        |e| matches!(e, Event::OffHook { line } if *line == line_id(1)),
    );
    p
}

/// An MG that restarts is registered again, and its lines are audited and armed anew; the
/// connection it lost is reported lost.
#[test]
fn a_restarted_mg_registers_again_and_connections_are_lost() {
    let mut p = new_pair(2, None, Duration::from_millis(200));
    p.line(LineCommand::OffHook(2));
    p.run(Duration::from_millis(100));
    p.command(Command::CreateConnection {
        line: line_id(2),
        call: CallId(7),
        mode: ConnectionMode::SendOnly,
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        remote: None,
    });
    p.run(Duration::from_millis(100));
    take(&mut p, |e| {
        matches!(
            e,
            Event::ConnectionCreated {
                call: CallId(7),
                ..
            }
        )
    });
    p.events.clear();
    // A new MG at the same address: it registers with Restart.
    let now = p.now();
    let mut mc = sim::Config::new(2, MGC.parse().unwrap()).unwrap();
    mc.mid("mg1").unwrap();
    mc.media_address("192.0.2.2".parse().unwrap());
    let mut mg = Mg::new(mc, now);
    mg.add_rtp_port(16384);
    p.gateway = mg;
    p.run(Duration::from_secs(1));
    take(&mut p, |e| {
        matches!(
            e,
            Event::ConnectionLost {
                call: CallId(7),
                ..
            }
        )
    });
    take(&mut p, |e| matches!(e, Event::GatewayUp { .. }));
    take(
        &mut p,
        |e| matches!(e, Event::LineStatus { line, .. } if *line == line_id(2)),
    );
}

/// The controller's messages (and the MG's) through an independent decoder: the whole call
/// flow, in pretty and in compact text, written to a pcap and read by Wireshark's MEGACO
/// dissector: every frame is MEGACO, none malformed or flagged. (The binary form is checked
/// against Erlang/OTP's decoder instead, `tests/otp_ber.rs`: tshark 4.0 flags some valid
/// BER strings.) tshark is required: scripts/deps --test installs it.
#[test]
fn tshark_reads_the_dialogue_without_fault() {
    use gateway_control::pcap::PcapWriter;
    for encoding in [sim::Encoding::Pretty, sim::Encoding::Compact] {
        let p = call_flow_on(
            new_pair_with(3, None, Duration::from_millis(200), encoding, true),
            Duration::from_millis(200),
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("megaco.pcap");
        let file = std::fs::File::create(&path).unwrap();
        let mut pcap = PcapWriter::new(std::io::BufWriter::new(file)).unwrap();
        let (mgc, mg) = (MGC.parse().unwrap(), MG.parse().unwrap());
        for sent in p.sent() {
            let (src, dst) = match sent.to {
                gateway_harness::Side::Gateway => (mgc, mg),
                gateway_harness::Side::Controller => (mg, mgc),
            };
            pcap.write_udp(sent.at, src, dst, &sent.contents).unwrap();
        }
        pcap.flush().unwrap();
        drop(pcap);
        assert!(p.sent().len() > 20, "{} messages", p.sent().len());
        let tshark = |args: &[&str]| {
            let out = std::process::Command::new("tshark")
                .args([
                    "-r",
                    &path.display().to_string(),
                    "-d",
                    "udp.port==2944,megaco",
                ])
                .args(args)
                .output()
                .expect("tshark is installed (scripts/deps --test installs it)");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let flagged = tshark(&[
            "-Y",
            "_ws.malformed || _ws.expert.severity >= 0x00600000 || !megaco",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ]);
        assert!(
            flagged.trim().is_empty(),
            "tshark flagged ({encoding:?}):\n{flagged}"
        );
        let frames = tshark(&["-Y", "megaco", "-T", "fields", "-e", "frame.number"]);
        assert_eq!(frames.lines().count(), p.sent().len(), "{encoding:?}");
        // The controller's own commands are there, as tshark names them.
        let commands = tshark(&["-Y", "megaco", "-T", "fields", "-e", "megaco.command"]);
        for verb in [
            "AuditValue",
            "Modify",
            "Add",
            "Subtract",
            "Notify",
            "ServiceChange",
        ] {
            assert!(
                commands
                    .to_ascii_lowercase()
                    .contains(&verb.to_ascii_lowercase())
                    || commands.contains(short(verb)),
                "{encoding:?}: tshark saw no {verb}:\n{commands}"
            );
        }
    }
}

/// The compact token of a command.
fn short(verb: &str) -> &'static str {
    match verb {
        "AuditValue" => "AV",
        "Modify" => "MF",
        "Add" => "A",
        "Subtract" => "S",
        "Notify" => "N",
        _ => "SC",
    }
}
