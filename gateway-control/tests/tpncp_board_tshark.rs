//! Wire check of the simulated TPNCP board against Wireshark's dissector (`tshark -o
//! tpncp.load_db:TRUE`): Offhook's host drives the board through the harness's
//! [`Pair`] in virtual time over UDP, in both byte orders — re-sync, a distinctive ring with
//! caller id and its cadence, off-hook, a connection, digits, flash, tones, the lamp, refusals
//! (`acEV_ERROR` with its text), keep-alives — and every datagram either way is written to a
//! pcap. tshark must show each frame as TPNCP with the id and channel we sent, and nothing
//! malformed or flagged. tshark is a real peer: without it the test fails (`scripts/deps --test`
//! installs it).

use std::net::{SocketAddr, SocketAddrV4};
use std::time::{Duration, Instant};

use gateway_control::model::{
    Cadence, CallId, CallerId, Codec, Command, ConnectionMode, GatewayId, LineId, Media, Tone,
};
use gateway_control::pcap::PcapWriter;
use gateway_control::tpncp::controller::{self as host, GatewayConfig, Host, Transport};
use gateway_control::tpncp::wire::{self, ByteOrder, Channel, Header, Seq, VERSION};
use gateway_harness::{Lossy, Pair, Sent, Side, Wire};
use gateway_sim::LineCommand;
use gateway_sim::tpncp::{Board, Config};

mod tpncp_support;
use tpncp_support::tshark;

const HOST: &str = "192.0.2.10:40000";
const BOARD: &str = "192.0.2.20:2424";

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

/// The host and the board over a perfect link, recording every datagram from the start, and
/// the datagrams put straight on the link from the host's address (not recorded by the pair):
/// each with how many recorded ones came before it.
struct Session {
    pair: Pair<Host, Board>,
    injected: Vec<(usize, Sent)>,
}

impl Session {
    fn new(order: ByteOrder) -> Self {
        let now = epoch();
        let board_addr: SocketAddr = BOARD.parse().unwrap();
        let mut gw = GatewayConfig::new(GatewayId::new("tp1"), Some(board_addr), &["0", "1"]);
        gw.transport = Transport::Udp;
        gw.byte_order = order;
        let config = host::Config {
            gateways: vec![gw],
            ..host::Config::default()
        };
        let mut board = Config::new(2).unwrap();
        board.byte_order = order;
        board.keepalive(Some(Duration::from_secs(7))).unwrap();
        let mut pair = Pair::new(
            Host::new(config, now).unwrap(),
            HOST.parse().unwrap(),
            Board::new(board).unwrap(),
            board_addr,
            now,
            Lossy::default(),
        );
        pair.record();
        Self {
            pair,
            injected: Vec::new(),
        }
    }

    /// Each step is followed by 200 ms for its answers.
    fn command(&mut self, c: Command) {
        self.pair.command(c);
        self.pair.run(Duration::from_millis(200));
    }

    fn line(&mut self, c: LineCommand) {
        self.pair.line(c);
        self.pair.run(Duration::from_millis(200));
    }

    /// `bytes` put on the link to the board as if from the host, and delivered now.
    fn send_to_board(&mut self, bytes: Vec<u8>) {
        let p = &mut self.pair;
        let sent = Sent {
            at: p.elapsed(),
            to: Side::Gateway,
            contents: bytes.clone(),
        };
        self.injected.push((p.sent().len(), sent));
        let now = p.now();
        p.wire.send(now, Side::Gateway, bytes);
        p.deliver();
    }

    /// Every datagram either way, oldest first.
    fn frames(self) -> Vec<Sent> {
        let mut frames = Vec::new();
        let mut injected = self.injected.into_iter().peekable();
        for (i, s) in self.pair.sent().iter().enumerate() {
            while let Some((_, f)) = injected.next_if(|(before, _)| *before == i) {
                frames.push(f);
            }
            frames.push(s.clone());
        }
        frames.extend(injected.map(|(_, f)| f));
        frames
    }
}

/// A scripted session in `order`.
fn session(order: ByteOrder) -> Vec<Sent> {
    let mut p = Session::new(order);
    p.pair.run(Duration::from_secs(1));
    let line = LineId::new(GatewayId::new("tp1"), "0");
    p.command(Command::Ring {
        line: line.clone(),
        cadence: Cadence::Distinctive(1),
        caller_id: Some(CallerId {
            number: Some("2041".into()),
            name: Some("Alice Smith".into()),
        }),
    });
    p.pair.run(Duration::from_secs(3));
    p.line(LineCommand::OffHook(1));
    p.command(Command::StopRing { line: line.clone() });
    p.command(Command::PlayTone {
        line: line.clone(),
        tone: Tone::Dial,
    });
    p.line(LineCommand::Digits(1, "5*#".into()));
    p.command(Command::StopTone { line: line.clone() });
    p.command(Command::CreateConnection {
        line: line.clone(),
        call: CallId(1),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        remote: Some(Media {
            address: "192.0.2.10:16400".parse().unwrap(),
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            telephone_event: None,
        }),
    });
    p.line(LineCommand::Flash(1));
    p.command(Command::DeleteConnection {
        line: line.clone(),
        call: CallId(1),
    });
    p.command(Command::PlayTone {
        line: line.clone(),
        tone: Tone::MessageWaitingLamp,
    });
    p.line(LineCommand::OnHook(1));
    // Refusals, straight from the host's address: RTP on a closed channel, an unknown channel,
    // an unknown id.
    let header = Header {
        order,
        version: VERSION,
        seq: Seq(900),
    };
    let mut m = Vec::new();
    wire::encode_command(
        &header,
        &wire::Command::ActivateRtp {
            channel: Channel(1),
            local_rtp_port: 6010,
            remote: "192.0.2.10:16500".parse().unwrap(),
            tx_payload_type: 0,
            rx_payload_type: 0,
        },
        &mut m,
    );
    p.send_to_board(m);
    let mut m = Vec::new();
    wire::encode_command(
        &header,
        &wire::Command::QueryStatus {
            channel: Channel(9),
        },
        &mut m,
    );
    p.send_to_board(m.clone());
    match order {
        ByteOrder::Big => m[8..12].copy_from_slice(&6u32.to_be_bytes()),
        ByteOrder::Little => m[8..12].copy_from_slice(&6u32.to_le_bytes()),
    }
    p.send_to_board(m);
    p.pair.run(Duration::from_secs(15));
    assert_eq!(p.pair.gateway.stats().refused, 2);
    assert_eq!(p.pair.gateway.stats().unknown_commands, 1);
    p.frames()
}

/// The id and channel of a frame we sent, as tshark prints them.
fn expected(f: &Sent) -> (String, String) {
    if f.to == Side::Gateway {
        // The unknown id is not decodable: read it raw.
        match wire::decode_command(&f.contents) {
            Ok((_, c)) => (wire::command_id(&c).to_string(), c.channel().0.to_string()),
            Err(e) => (e.id.unwrap().to_string(), String::new()),
        }
    } else {
        let (_, channel, event) = wire::decode_event(&f.contents).unwrap();
        (wire::event_id(&event).to_string(), channel.0.to_string())
    }
}

#[test]
fn tshark_reads_every_board_message_in_both_orders() {
    let (host, board): (SocketAddrV4, SocketAddrV4) =
        (HOST.parse().unwrap(), BOARD.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tpncp-board.pcap");
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
            "-T",
            "fields",
            "-E",
            "occurrence=f",
            "-e",
            "frame.protocols",
            "-e",
            "tpncp.command_id",
            "-e",
            "tpncp.event_id",
            "-e",
            "tpncp.channel_id",
        ],
    );
    let rows: Vec<Vec<&str>> = shown.lines().map(|l| l.split('\t').collect()).collect();
    assert_eq!(rows.len(), frames.len());
    let mut events = std::collections::BTreeSet::new();
    for (i, (row, f)) in rows.iter().zip(&frames).enumerate() {
        assert!(row[0].ends_with(":tpncp"), "frame {}: {row:?}", i + 1);
        let (id, channel) = expected(f);
        let shown_id = if f.to == Side::Gateway {
            row[1]
        } else {
            row[2]
        };
        assert_eq!(shown_id, id, "frame {}: {row:?}", i + 1);
        if !channel.is_empty() {
            assert_eq!(row[3], channel, "frame {}: {row:?}", i + 1);
        }
        if f.to == Side::Controller {
            events.insert(id);
        }
    }
    // acEV_ERROR, DIGIT, ON_HOOK, OFF_HOOK, KEEP_ALIVE, FLASH_HOOK, COMMAND_ACK, FXS_STATUS,
    // RING_START, RING_END: every event the board sends.
    for id in [1, 2, 14, 15, 33, 35, 45, 230, 245, 246] {
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
    let pdml = tshark(&path, &["-T", "pdml"]);
    assert!(!pdml.contains("Unknown Data"), "unknown data");
    // The refusal's text and the caller id are there as sent.
    assert!(pdml.contains("is not open"), "acEV_ERROR's error_string");
    assert!(pdml.contains("Alice Smith"), "the caller id's name");
}
