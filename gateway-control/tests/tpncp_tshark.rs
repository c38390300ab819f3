//! Every TPNCP command and event Offhook encodes, read back by Wireshark's dissector
//! (`tshark -o tpncp.load_db:TRUE`): over UDP in both byte orders, and over one TCP stream
//! (big-endian: tshark's TCP reassembly reads the length big-endian) with several messages
//! per segment and one split across two. For each message: the id tshark names, every field
//! Offhook sets shown with Offhook's value, the structure read to its end, and nothing
//! malformed or flagged anywhere. tshark is a real peer: without it the test fails
//! (`scripts/deps --test` installs it).

use std::io::Write;
use std::net::SocketAddrV4;
use std::path::Path;
use std::time::Duration;

use gateway_control::pcap::PcapWriter;
use gateway_control::tpncp::wire::*;

mod tpncp_support;
use tpncp_support::tshark;

const HOST: &str = "192.0.2.10:40000";
const BOARD: &str = "192.0.2.20:2424";

/// One message and what tshark must show for it.
struct Case {
    bytes: Vec<u8>,
    /// `acCMD_…` / `acEV_…`.
    name: &'static str,
    id: u32,
    is_command: bool,
    seq: u16,
    /// Structure fields (without `tpncp.`) and the values tshark must show.
    fields: Vec<(&'static str, String)>,
    /// The structure's last field, shown when tshark read it to its end.
    last: Option<&'static str>,
}

/// A message, its name in the table, the fields and values tshark must show, and the last
/// field of its structure.
type Expected<M> = (
    M,
    &'static str,
    Vec<(&'static str, String)>,
    Option<&'static str>,
);

fn fields(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|&(k, v)| (k, v.to_owned())).collect()
}

fn commands() -> Vec<Expected<Command>> {
    let cid = CallerIdText {
        number: Some("5551234".into()),
        name: Some("Alice Smith".into()),
    };
    vec![
        (
            Command::OpenChannel {
                channel: Channel(1),
                coder: Coder::Mulaw,
                frames_per_packet: 2,
                dtmf_payload_type: 101,
            },
            "acCMD_OPEN_CHANNEL",
            fields(&[
                ("channel_id", "1"),
                ("active", "1"),
                ("m", "2"),
                ("coder", "1"),
                ("rtpdtmfrfc2833_payload_type", "101"),
                ("security_cmd_offset", "768"),
            ]),
            Some("dtls_context_id"),
        ),
        (
            Command::CloseChannel {
                channel: Channel(2),
            },
            "acCMD_CLOSE_CHANNEL",
            fields(&[("channel_id", "2")]),
            Some("command_seq_number"),
        ),
        (
            Command::ActivateRtp {
                channel: Channel(3),
                local_rtp_port: 4000,
                remote: "192.0.2.7:5004".parse().unwrap(),
                tx_payload_type: 8,
                rx_payload_type: 18,
            },
            "acCMD_ACTIVATE_RTP_RTCP",
            fields(&[
                ("channel_id", "3"),
                ("reserved_remote_rtpip_add", "192.0.2.7"),
                ("local_rtp_port", "4000"),
                ("remote_rtp_port", "5004"),
                ("remote_rtcp_port", "5005"),
                ("tx_rtp_payload_type", "8"),
                ("rx_rtp_payload_type", "18"),
                ("remote_rtpip_add_address_family", "2"),
                ("remote_rtpip_add_i_pvx_addr32_addr", "192.0.2.7"),
                ("rtp_state_offset", "664"),
                ("secondary_rtp_seq_num", "0"),
            ]),
            Some("state_update_time_stamp"),
        ),
        (
            Command::ActivateRtp {
                channel: Channel(4),
                local_rtp_port: 4002,
                remote: "[2001:db8::7]:6000".parse().unwrap(),
                tx_payload_type: 0,
                rx_payload_type: 96,
            },
            "acCMD_ACTIVATE_RTP_RTCP",
            fields(&[
                ("channel_id", "4"),
                ("local_rtp_port", "4002"),
                ("remote_rtp_port", "6000"),
                ("remote_rtcp_port", "6001"),
                ("rx_rtp_payload_type", "96"),
                ("remote_rtpip_add_address_family", "10"),
                ("remote_rtpip_add_i_pvx_addr32_addr", "2001:db8::7"),
                ("rtp_state_offset", "664"),
            ]),
            Some("state_update_time_stamp"),
        ),
        (
            Command::DeactivateRtp {
                channel: Channel(5),
            },
            "acCMD_DEACTIVATE_RTP_RTCP",
            fields(&[("channel_id", "5")]),
            Some("dummy2"),
        ),
        (
            Command::PlayTone {
                channel: Channel(6),
                tone: ToneType::Busy,
                duration_ms: 3000,
            },
            "acCMD_PLAY_TONE",
            fields(&[
                ("channel_id", "6"),
                ("tone_type", "3"),
                ("duration", "3000"),
            ]),
            Some("add_tone_to_voice"),
        ),
        (
            Command::StopTone {
                channel: Channel(7),
            },
            "acCMD_STOP_PLAY_TONE",
            fields(&[("channel_id", "7")]),
            Some("suppress_end_event"),
        ),
        (
            Command::SendAnalogSignal {
                channel: Channel(8),
                signal: AnalogSignal::HookFlash,
                duration_ms: 300,
            },
            "acCMD_SEND_ANALOG_SIGNAL",
            fields(&[
                ("channel_id", "8"),
                ("duration", "300"),
                ("signal_code", "16"),
            ]),
            Some("signal_code"),
        ),
        (
            Command::MessageWaiting {
                channel: Channel(9),
                on: true,
            },
            "acCMD_ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION",
            fields(&[("channel_id", "9"), ("analog_if_polarity_state", "1")]),
            Some("analog_if_polarity_state"),
        ),
        (
            Command::QueryStatus {
                channel: Channel(10),
            },
            "acCMD_ANALOG_IF_QUERY_STATUS",
            fields(&[("channel_id", "10")]),
            Some("channel_id"),
        ),
        (
            Command::Ring {
                channel: Channel(11),
                on: true,
                pattern: 2,
                caller_id: Some(cid),
            },
            "acCMD_ANALOG_IF_DISTINCTIVE_RING",
            fields(&[
                ("channel_id", "11"),
                ("ring_state", "1"),
                ("ring_type", "2"),
                ("cid_available", "1"),
                ("number", "5551234"),
                ("name", "Alice Smith"),
                ("number_availability", "1"),
                ("name_availability", "1"),
            ]),
            Some("duration"),
        ),
        (
            Command::Ring {
                channel: Channel(12),
                on: false,
                pattern: 0,
                caller_id: None,
            },
            "acCMD_ANALOG_IF_DISTINCTIVE_RING",
            fields(&[
                ("channel_id", "12"),
                ("ring_state", "0"),
                ("cid_available", "0"),
            ]),
            Some("duration"),
        ),
    ]
}

fn events() -> Vec<Expected<Event>> {
    let digit = |digit, on_time_ms, inter_digit_ms| DigitEntry {
        digit,
        on_time_ms,
        inter_digit_ms,
    };
    vec![
        (
            Event::Error {
                code: 7,
                text: "bad channel".into(),
            },
            "acEV_ERROR",
            fields(&[
                ("error_code", "7"),
                ("length", "11"),
                ("error_string", "bad channel"),
            ]),
            Some("error_string"),
        ),
        (
            Event::Digits(vec![digit(1, 80, 0), digit(0, 90, 120), digit(11, 70, 150)]),
            "acEV_DIGIT",
            fields(&[
                ("num_digits", "3"),
                ("digit_0", "1"),
                ("digit_on_time_0", "80"),
                ("digit_1", "0"),
                ("digit_on_time_1", "90"),
                ("inter_digit_time_1", "120"),
                ("digit_2", "11"),
                ("digit_on_time_2", "70"),
                ("inter_digit_time_2", "150"),
            ]),
            Some("detection_direction_39"),
        ),
        (Event::OnHook, "acEV_ON_HOOK", vec![], None),
        (Event::OffHook, "acEV_OFF_HOOK", vec![], None),
        (
            Event::KeepAlive {
                commands_processed: 42,
            },
            "acEV_KEEP_ALIVE",
            fields(&[("num_cmd_processed", "42")]),
            Some("num_active_to_nw"),
        ),
        (Event::FlashHook, "acEV_FLASH_HOOK", vec![], None),
        (
            Event::CommandAck {
                seq: Seq(9),
                command_id: 229,
            },
            "acEV_COMMAND_ACK",
            fields(&[("seq_number", "9"), ("cmd_id", "229")]),
            Some("cmd_id"),
        ),
        (
            Event::FxsStatus {
                off_hook: true,
                ringing: true,
                message_waiting: true,
            },
            "acEV_ANALOG_IF_FXS_STATUS",
            fields(&[
                ("hook", "1"),
                ("ring", "1"),
                ("message_waiting_indication", "1"),
            ]),
            Some("board_analog_voltages"),
        ),
        (
            Event::RingStart,
            "acEV_ANALOG_IF_RING_START",
            fields(&[("event_trigger", "0")]),
            Some("event_trigger"),
        ),
        (
            Event::RingEnd,
            "acEV_ANALOG_IF_RING_END",
            fields(&[("event_trigger", "0")]),
            Some("event_trigger"),
        ),
    ]
}

/// Every command and event in `order`, sequence numbers from `seq`.
fn cases(order: ByteOrder, seq: &mut u16) -> Vec<Case> {
    let mut all = Vec::new();
    for (command, name, fields, last) in commands() {
        *seq += 1;
        let header = Header {
            order,
            version: VERSION,
            seq: Seq(*seq),
        };
        let mut bytes = Vec::new();
        encode_command(&header, &command, &mut bytes);
        all.push(Case {
            bytes,
            name,
            id: command_id(&command),
            is_command: true,
            seq: *seq,
            fields,
            last,
        });
    }
    for (event, name, mut fields, last) in events() {
        *seq += 1;
        let header = Header {
            order,
            version: VERSION,
            seq: Seq(*seq),
        };
        let mut bytes = Vec::new();
        encode_event(&header, Channel(13), &event, &mut bytes);
        // The event header's channel.
        fields.insert(0, ("", "13".into()));
        all.push(Case {
            bytes,
            name,
            id: event_id(&event),
            is_command: false,
            seq: *seq,
            fields,
            last,
        });
    }
    all
}

/// An XML attribute of one PDML line.
fn attr<'a>(line: &'a str, name: &str) -> Option<&'a str> {
    let start = line.find(&format!(" {name}=\""))? + name.len() + 3;
    let len = line[start..].find('"')?;
    Some(&line[start..start + len])
}

/// One TPNCP message as tshark showed it: header fields, then structure fields.
#[derive(Debug, Default)]
struct Shown {
    header: Vec<(String, String)>,
    body: Vec<(String, String)>,
}

/// The TPNCP messages of a PDML document, in order (several per packet over TCP).
fn parse_pdml(pdml: &str) -> Vec<Shown> {
    let mut all: Vec<Shown> = Vec::new();
    let mut in_body = false;
    for line in pdml.lines() {
        if line.contains("<proto name=\"tpncp\"") {
            all.push(Shown::default());
            in_body = false;
            continue;
        }
        if line.contains("<proto ") && !line.contains("fake-field-wrapper") {
            in_body = false;
        }
        let Some(current) = all.last_mut() else {
            continue;
        };
        if line.contains("show=\"TPNCP Command:") || line.contains("show=\"TPNCP Event:") {
            in_body = true;
            continue;
        }
        let (Some(name), Some(show)) = (attr(line, "name"), attr(line, "show")) else {
            continue;
        };
        let Some(name) = name.strip_prefix("tpncp.") else {
            continue;
        };
        let pair = (name.to_owned(), show.to_owned());
        if in_body {
            current.body.push(pair);
        } else {
            current.header.push(pair);
        }
    }
    all
}

fn check(case: &Case, shown: &Shown, what: &str) {
    let header = |name: &str| {
        shown
            .header
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let id_field = if case.is_command {
        "command_id"
    } else {
        "event_id"
    };
    assert_eq!(
        header(id_field),
        Some(case.id.to_string().as_str()),
        "{what}: {shown:?}"
    );
    assert_eq!(header("version"), Some("7401"), "{what}");
    assert_eq!(
        header("seq_number"),
        Some(case.seq.to_string().as_str()),
        "{what}"
    );
    assert_eq!(
        header("length"),
        Some((case.bytes.len() - 4).to_string().as_str()),
        "{what}"
    );
    for (field, want) in &case.fields {
        if field.is_empty() {
            assert_eq!(header("channel_id"), Some(want.as_str()), "{what}: channel");
            continue;
        }
        let got = shown
            .body
            .iter()
            .find(|(n, _)| n == field)
            .map(|(_, v)| v.as_str());
        assert_eq!(got, Some(want.as_str()), "{what}: {field}");
    }
    match case.last {
        Some(last) => assert_eq!(
            shown.body.last().map(|(n, _)| n.as_str()),
            Some(last),
            "{what}: read to the end"
        ),
        None => assert!(shown.body.is_empty(), "{what}: no structure"),
    }
}

/// Nothing malformed, no expert item (in particular no "TPNCP Unknown Data"), and over UDP
/// every frame TPNCP.
fn assert_clean(path: &Path, pdml: &str, filter: &str) {
    let flagged = tshark(
        path,
        &[
            "-Y",
            filter,
            "-T",
            "fields",
            "-e",
            "frame.number",
            "-e",
            "_ws.expert.message",
        ],
    );
    assert!(flagged.trim().is_empty(), "tshark flagged:\n{flagged}");
    assert!(!pdml.contains("Unknown Data"), "unknown data");
    assert!(!pdml.contains("_ws.malformed"));
}

#[test]
fn tshark_reads_every_message_over_udp_in_both_orders() {
    let (host, board): (SocketAddrV4, SocketAddrV4) =
        (HOST.parse().unwrap(), BOARD.parse().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tpncp-udp.pcap");
    let mut pcap = PcapWriter::new(std::fs::File::create(&path).unwrap()).unwrap();
    let mut seq = 0;
    let mut all = Vec::new();
    for order in [ByteOrder::Big, ByteOrder::Little] {
        for case in cases(order, &mut seq) {
            let (src, dst) = if case.is_command {
                (host, board)
            } else {
                (board, host)
            };
            let at = Duration::from_millis(10 * all.len() as u64);
            pcap.write_udp(at, src, dst, &case.bytes).unwrap();
            all.push((order, case));
        }
    }
    pcap.flush().unwrap();
    drop(pcap);
    let pdml = tshark(&path, &["-T", "pdml"]);
    let shown = parse_pdml(&pdml);
    assert_eq!(shown.len(), all.len());
    for ((order, case), shown) in all.iter().zip(&shown) {
        check(case, shown, &format!("{} {order:?}", case.name));
    }
    assert_clean(&path, &pdml, "_ws.malformed || _ws.expert || !tpncp");
}

/// A libpcap file of one TCP connection (LINKTYPE_RAW, IPv4), handshake included, so that
/// tshark's TCP analysis has nothing to flag.
struct TcpPcap {
    out: std::io::BufWriter<std::fs::File>,
    host: SocketAddrV4,
    board: SocketAddrV4,
    /// Next sequence numbers, host's and board's.
    next: [u32; 2],
    frames: u32,
}

impl TcpPcap {
    fn new(path: &Path, host: SocketAddrV4, board: SocketAddrV4) -> Self {
        let mut out = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
        let mut header = [0u8; 24];
        header[0..4].copy_from_slice(&0xa1b2_c3d4u32.to_le_bytes());
        header[4..6].copy_from_slice(&2u16.to_le_bytes());
        header[6..8].copy_from_slice(&4u16.to_le_bytes());
        header[16..20].copy_from_slice(&65_535u32.to_le_bytes());
        header[20..24].copy_from_slice(&101u32.to_le_bytes());
        out.write_all(&header).unwrap();
        let mut p = Self {
            out,
            host,
            board,
            next: [1000, 5000],
            frames: 0,
        };
        p.segment(true, 0x02, &[]); // SYN
        p.next[0] += 1;
        p.segment(false, 0x12, &[]); // SYN, ACK
        p.next[1] += 1;
        p.segment(true, 0x10, &[]); // ACK
        p
    }

    /// One segment from the host (`from_host`) or the board, with these flags.
    fn segment(&mut self, from_host: bool, flags: u8, payload: &[u8]) {
        let (src, dst, seq, ack) = if from_host {
            (self.host, self.board, self.next[0], self.next[1])
        } else {
            (self.board, self.host, self.next[1], self.next[0])
        };
        let total = (20 + 20 + payload.len()) as u16;
        let mut ip = [0u8; 20];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&total.to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&src.ip().octets());
        ip[16..20].copy_from_slice(&dst.ip().octets());
        let sum = ip
            .chunks(2)
            .map(|w| u32::from(u16::from_be_bytes([w[0], w[1]])))
            .sum::<u32>();
        let sum = (sum & 0xFFFF) + (sum >> 16);
        ip[10..12].copy_from_slice(&(!((sum & 0xFFFF) + (sum >> 16)) as u16).to_be_bytes());
        let mut tcp = [0u8; 20];
        tcp[0..2].copy_from_slice(&src.port().to_be_bytes());
        tcp[2..4].copy_from_slice(&dst.port().to_be_bytes());
        tcp[4..8].copy_from_slice(&seq.to_be_bytes());
        let ack = if flags == 0x02 { 0 } else { ack };
        tcp[8..12].copy_from_slice(&ack.to_be_bytes());
        tcp[12] = 5 << 4;
        tcp[13] = flags;
        tcp[14..16].copy_from_slice(&65_535u16.to_be_bytes());
        let mut record = [0u8; 16];
        self.frames += 1;
        record[4..8].copy_from_slice(&(self.frames * 1000).to_le_bytes());
        record[8..12].copy_from_slice(&u32::from(total).to_le_bytes());
        record[12..16].copy_from_slice(&u32::from(total).to_le_bytes());
        self.out.write_all(&record).unwrap();
        self.out.write_all(&ip).unwrap();
        self.out.write_all(&tcp).unwrap();
        self.out.write_all(payload).unwrap();
        let i = usize::from(!from_host);
        self.next[i] = self.next[i].wrapping_add(payload.len() as u32);
    }

    /// Data from the host or the board, then the other side's acknowledgement.
    fn data(&mut self, from_host: bool, payload: &[u8]) {
        self.segment(from_host, 0x18, payload);
        self.segment(!from_host, 0x10, &[]);
    }
}

#[test]
fn tshark_reads_several_messages_per_tcp_segment() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tpncp-tcp.pcap");
    let mut pcap = TcpPcap::new(&path, HOST.parse().unwrap(), BOARD.parse().unwrap());
    let mut seq = 100;
    let all = cases(ByteOrder::Big, &mut seq);
    let (commands, events): (Vec<&Case>, Vec<&Case>) = all.iter().partition(|c| c.is_command);
    let concat = |cases: &[&Case]| {
        cases
            .iter()
            .flat_map(|c| c.bytes.clone())
            .collect::<Vec<u8>>()
    };
    // Commands: three in one segment, then the rest with one message split across two.
    let first = concat(&commands[..3]);
    pcap.data(true, &first);
    let rest = concat(&commands[3..]);
    let cut = commands[3].bytes.len() + 100;
    pcap.data(true, &rest[..cut]);
    pcap.data(true, &rest[cut..]);
    // Events: all in one segment.
    pcap.data(false, &concat(&events));
    pcap.out.flush().unwrap();
    drop(pcap);
    let pdml = tshark(&path, &["-T", "pdml"]);
    let shown = parse_pdml(&pdml);
    assert_eq!(shown.len(), all.len());
    // tshark shows messages in the order of the segments that complete them.
    let order: Vec<&Case> = commands.iter().chain(&events).copied().collect();
    for (case, shown) in order.iter().zip(&shown) {
        check(case, shown, &format!("{} over TCP", case.name));
    }
    // The handshake carries chat-level expert items of its own.
    assert_clean(&path, &pdml, "_ws.malformed || (_ws.expert && tpncp)");
}
