//! Wire check of the trunk (FXO) exchange against Wireshark's dissector (`tshark -o
//! tpncp.load_db:TRUE`): Offhook's host drives the simulated board's FXO port through the
//! harness in virtual time over UDP, in both byte orders — seize, `acCMD_DIAL`, its
//! `acEV_DIAL_ENDED`, polarity reversal, current disconnect, release; an incoming call's ring
//! bursts with `acEV_DETECT_CALLER_ID`, answer, the caller's keys; glare refused; the FXO
//! status query — and every datagram either way goes to a pcap. tshark must show each frame
//! as TPNCP with the id and channel we sent, the fields Offhook sets with their values, and
//! nothing malformed or flagged. tshark is a real peer: without it the test fails
//! (`scripts/deps --test` installs it).

use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use gateway_control::model::{Command, DialMethod, Digit, GatewayId, LineId};
use gateway_control::pcap::PcapWriter;
use gateway_control::tpncp::controller::{self as host, GatewayConfig, Host, Transport};
use gateway_control::tpncp::wire::{self, ByteOrder};
use gateway_harness::{Lossy, Pair, Sent, Side};
use gateway_sim::tpncp::{Board, Config};
use gateway_sim::{FxoConfig, LineCommand, TrunkCommand};

mod tpncp_support;
use tpncp_support::tshark;

const HOST: &str = "192.0.2.10:40000";
const BOARD: &str = "192.0.2.20:2424";

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

fn trunk() -> LineId {
    LineId::new(GatewayId::new("tp1"), "1")
}

/// A scripted trunk session in `order` (line 2, channel 1, is the FXO port); every datagram.
fn session(order: ByteOrder) -> Vec<Sent> {
    let now = epoch();
    let board_addr: SocketAddr = BOARD.parse().unwrap();
    let mut gw = GatewayConfig::new(GatewayId::new("tp1"), Some(board_addr), &["0"]);
    gw.transport = Transport::Udp;
    gw.byte_order = order;
    let config = host::Config {
        gateways: vec![gw],
        ..host::Config::default()
    };
    let mut board = Config::new(2).unwrap();
    board.byte_order = order;
    let mut fxo = FxoConfig::new();
    fxo.lines("2").unwrap();
    board.fxo(fxo).unwrap();
    let mut p = Pair::new(
        Host::new(config, now).unwrap(),
        HOST.parse().unwrap(),
        Board::new(board).unwrap(),
        board_addr,
        now,
        Lossy::default(),
    );
    p.record();
    let step = Duration::from_millis(200);
    p.run(Duration::from_secs(1));
    p.command(Command::AddTrunk { line: trunk() });
    p.run(step);
    // A call out: seize, dial, answer, the far end hangs up, release.
    p.command(Command::Seize { line: trunk() });
    p.command(Command::Dial {
        line: trunk(),
        number: "2041*#".chars().map(|c| Digit::new(c).unwrap()).collect(),
        method: DialMethod::Dtmf,
    });
    p.run(Duration::from_secs(2));
    p.line(LineCommand::OffHook(2));
    p.run(step);
    p.line(LineCommand::OnHook(2));
    p.run(step);
    p.command(Command::Release { line: trunk() });
    p.run(step);
    // An incoming call: a seize crossing its first ring (glare), then caller id, answer,
    // keys, the caller hangs up.
    let at = p.now();
    p.gateway.handle_trunk(
        at,
        TrunkCommand::Ring {
            line: 2,
            caller_id: Some("5551234".into()),
        },
    );
    p.command(Command::Seize { line: trunk() });
    p.run(Duration::from_secs(3));
    p.command(Command::Answer { line: trunk() });
    p.run(step);
    p.line(LineCommand::Digits(2, "9#".into()));
    p.run(step);
    p.line(LineCommand::OnHook(2));
    p.run(step);
    p.command(Command::Release { line: trunk() });
    p.command(Command::Audit { line: trunk() });
    p.run(step);
    let events = p.take_events();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, gateway_control::model::Event::IncomingCall { .. })),
        "{events:?}"
    );
    p.sent().to_vec()
}

/// The id and channel of a frame we sent, as tshark prints them.
fn expected(f: &Sent) -> (String, String) {
    if f.to == Side::Gateway {
        let (_, c) = wire::decode_command(&f.contents).unwrap();
        (wire::command_id(&c).to_string(), c.channel().0.to_string())
    } else {
        let (_, channel, event) = wire::decode_event(&f.contents).unwrap();
        (wire::event_id(&event).to_string(), channel.0.to_string())
    }
}

#[test]
fn tshark_reads_the_trunk_exchange_in_both_orders() {
    let (host, board): (SocketAddrV4, SocketAddrV4) =
        (HOST.parse().unwrap(), BOARD.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tpncp-trunk.pcap");
    let mut pcap = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
    let mut frames = session(ByteOrder::Big);
    let offset = frames.last().unwrap().at + Duration::from_secs(1);
    frames.extend(session(ByteOrder::Little).into_iter().map(|mut f| {
        f.at += offset;
        f
    }));
    for f in &frames {
        let (src, dst) = if f.to == Side::Gateway {
            (host, board)
        } else {
            (board, host)
        };
        pcap.write_udp(f.at, src, dst, &f.contents).unwrap();
    }
    pcap.flush().unwrap();
    drop(pcap);

    let shown = tshark(
        &path,
        &[
            "-Y",
            "tpncp",
            "-T",
            "fields",
            "-E",
            "occurrence=f",
            "-e",
            "tpncp.command_id",
            "-e",
            "tpncp.event_id",
            "-e",
            "tpncp.channel_id",
        ],
    );
    let rows: Vec<Vec<&str>> = shown.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), frames.len(), "every frame is TPNCP");
    let (mut commands, mut events) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    for (i, (row, f)) in rows.iter().zip(&frames).enumerate() {
        let (id, channel) = expected(f);
        let shown_id = if f.to == Side::Gateway {
            commands.insert(id.clone());
            row[0]
        } else {
            events.insert(id.clone());
            row[1]
        };
        assert_eq!(shown_id, id, "frame {}: {row:?}", i + 1);
        assert_eq!(row[2], channel, "frame {}: {row:?}", i + 1);
    }
    // acCMD_DIAL, SEND_ANALOG_SIGNAL, QUERY_STATUS; acEV_ERROR (glare), DIGIT, DIAL_ENDED,
    // DETECT_CALLER_ID, FXO_STATUS, REVERSAL_POLARITY_DETECTED, RING_START, RING_END,
    // CURRENT_DISCONNECT_DETECTED.
    for id in [5, 212, 222] {
        assert!(
            commands.contains(&id.to_string()),
            "command {id} never sent"
        );
    }
    for id in [1, 2, 4, 34, 229, 237, 245, 246, 264] {
        assert!(events.contains(&id.to_string()), "event {id} never sent");
    }

    let flagged = tshark(
        &path,
        &[
            "-Y",
            "_ws.malformed || _ws.expert",
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ],
    );
    assert!(flagged.trim().is_empty(), "tshark flagged:\n{flagged}");
    // The values Offhook sets, as Wireshark reads them, in both orders.
    let values = tshark(
        &path,
        &[
            "-Y",
            "tpncp.command_id == 5 || tpncp.event_id == 34 || tpncp.event_id == 237",
            "-T",
            "fields",
            "-E",
            "occurrence=f",
            "-e",
            "tpncp.num_digits",
            "-e",
            "tpncp.digit_0",
            "-e",
            "tpncp.digit_4",
            "-e",
            "tpncp.number",
            "-e",
            "tpncp.line_polarity_state",
        ],
    );
    let rows: Vec<&str> = values.lines().collect();
    assert_eq!(
        rows,
        [
            "6\t2\t10\t\t",
            "\t\t\t\t1",
            "\t\t\t5551234\t",
            "6\t2\t10\t\t",
            "\t\t\t\t1",
            "\t\t\t5551234\t",
        ],
        "{values}"
    );
    let pdml = tshark(&path, &["-T", "pdml"]);
    assert!(!pdml.contains("Unknown Data"), "unknown data");
}
