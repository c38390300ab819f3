#![no_main]
//! Feeds a TPNCP host with a TCP board and a UDP board arbitrary inputs: stream bytes from the
//! TCP board (raw, or as an event behind a valid header so that the fuzzer reaches the event
//! handling sooner), datagrams from the UDP board and from a stranger, acknowledgements of
//! what the host sent, errors, connections opening and closing (also stale ones), model
//! commands and time jumps. It must never panic, and after each input every `poll_*` is
//! drained and the host keeps its bounds.
//!
//! Input format: a sequence of records `op, len (u16 le), payload`; `op % 8` picks raw stream
//! bytes, a framed event on the stream (`payload[0]` picks the id, `payload[1]` the channel,
//! the rest is the body), a raw datagram from the UDP board, one from a stranger, an
//! acknowledgement (or with `payload[1]` odd an `acEV_ERROR`) of the `payload[0]`-th command
//! still unanswered, a connection event (`payload[0]`: opened, closed, or a stale link), or a
//! tick (`payload[0..2]` ms, le) with a model command chosen by the next two bytes.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::model::{
    Cadence, CallId, CallerId, Codec, Command, ConnectionMode, DigitMap, GatewayId, LineId, Media,
    Tone,
};
use gateway_control::tpncp::controller::{
    Config, GatewayConfig, Host, Link, LinkId, MAX_LINES_PER_GATEWAY, MAX_QUEUED_PER_LINE,
    Transport,
};
use gateway_control::tpncp::wire::{
    self, ByteOrder, Event as WEvent, Header, MAX_LEN, Seq, VERSION,
};
use libfuzzer_sys::fuzz_target;

const LINES: [&str; 3] = ["0", "1", "7"];
/// Event ids the framed op picks from (and one unknown).
const IDS: [u32; 12] = [1, 2, 14, 15, 33, 35, 45, 230, 245, 246, 3, 999];

fn tcp() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 2424))
}

fn udp() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 2], 2424))
}

fn config() -> Config {
    let mut u = GatewayConfig::new(GatewayId::new("u1"), Some(udp()), &LINES);
    u.transport = Transport::Udp;
    u.byte_order = ByteOrder::Little;
    Config {
        gateways: vec![
            GatewayConfig::new(GatewayId::new("t1"), Some(tcp()), &LINES),
            u,
        ],
        ..Config::default()
    }
}

fn command(selector: u8, arg: u8) -> Command {
    let gw = GatewayId::new(if arg & 1 == 0 { "t1" } else { "u1" });
    let endpoint = match arg % 5 {
        0 => "0",
        1 => "1",
        2 => "7",
        3 => "9",
        _ => "x",
    };
    let line = LineId::new(gw, endpoint);
    let call = CallId(u64::from(arg % 4));
    let remote = (arg & 4 != 0).then(|| Media {
        address: SocketAddr::from(([127, 0, 0, 1], 16384)),
        codec: Codec::Pcma,
        ptime: Duration::from_millis(20),
        telephone_event: Some(101),
    });
    let mode = match arg % 3 {
        0 => ConnectionMode::SendRecv,
        1 => ConnectionMode::Inactive,
        _ => ConnectionMode::Loopback,
    };
    match selector % 13 {
        0 => Command::Ring {
            line,
            cadence: Cadence::Distinctive(arg % 10),
            caller_id: (arg & 8 != 0).then(|| CallerId {
                number: Some("5551234".into()),
                name: Some("é".repeat(usize::from(arg))),
            }),
        },
        1 => Command::StopRing { line },
        2 => Command::PlayTone {
            line,
            tone: if arg & 2 == 0 {
                Tone::Busy
            } else {
                Tone::MessageWaitingLamp
            },
        },
        3 => Command::StopTone { line },
        4 => Command::CreateConnection {
            line,
            call,
            mode,
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(u64::from(arg)),
            remote,
        },
        5 => Command::ModifyConnection {
            line,
            call,
            mode: Some(mode),
            remote,
        },
        6 => Command::DeleteConnection { line, call },
        7 => Command::AddLine { line },
        8 => Command::RemoveLine { line },
        9 => Command::CollectDigits {
            line,
            map: DigitMap::parse(if arg & 2 == 0 { "(xxxx|*xx|0T)" } else { "x.#" })
                .expect("valid map"),
        },
        10 => Command::GatewayAddress {
            gateway: line.gateway.clone(),
            address: SocketAddr::from(([127, 0, 0, 3 + (arg & 1)], 2424)),
        },
        11 => Command::AddLine {
            line: LineId::new(line.gateway.clone(), &(u16::from(arg) * 4).to_string()),
        },
        _ => Command::Audit { line },
    }
}

/// An event message with a valid header: `id`, `channel`, then `body`, in `order`.
fn framed(order: ByteOrder, seq: u16, id: u32, channel: i32, body: &[u8]) -> Vec<u8> {
    let total = (16 + body.len()).min(MAX_LEN);
    let body = &body[..total - 16];
    let length = u16::try_from(total - 4).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(total);
    let (v, l, s, i, c) = match order {
        ByteOrder::Big => (
            VERSION.to_be_bytes(),
            length.to_be_bytes(),
            seq.to_be_bytes(),
            id.to_be_bytes(),
            channel.to_be_bytes(),
        ),
        ByteOrder::Little => (
            VERSION.to_le_bytes(),
            length.to_le_bytes(),
            seq.to_le_bytes(),
            id.to_le_bytes(),
            channel.to_le_bytes(),
        ),
    };
    out.extend_from_slice(&v);
    out.extend_from_slice(&l);
    out.extend_from_slice(&s);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&i);
    out.extend_from_slice(&c);
    out.extend_from_slice(body);
    out
}

/// What the host sent and is not answered yet: (to the TCP board?, header, command).
type Unanswered = Vec<(bool, Header, wire::Command)>;

fuzz_target!(|data: &[u8]| {
    #[allow(clippy::disallowed_methods)] // a base instant for virtual time
    let start = Instant::now();
    let mut now = start;
    let Ok(mut host) = Host::new(config(), now) else {
        return;
    };
    let mut link: Option<LinkId> = None;
    let mut pending: Option<LinkId> = None;
    let mut old: Option<LinkId> = None;
    let mut unanswered: Unanswered = Vec::new();
    let mut seq = 0u16;
    let mut rest = data;
    let mut inputs = 0;
    loop {
        // Drain, as the driver does, checking the bounds.
        let mut out = 0;
        while let Some(l) = host.poll_link() {
            out += 1;
            assert!(out < 100_000, "runaway links");
            match l {
                Link::Connect { link: id, .. } => pending = Some(id),
                Link::Write {
                    link: id, bytes, ..
                } => {
                    assert!(bytes.len() <= MAX_LEN);
                    assert_eq!(Some(id), link, "a write on a link not open");
                    if let Ok((h, c)) = wire::decode_command(&bytes) {
                        unanswered.push((true, h, c));
                    }
                }
                Link::Close { link: id, .. } => {
                    if link == Some(id) {
                        old = link.take();
                    }
                    if pending == Some(id) {
                        pending = None;
                    }
                }
            }
        }
        while let Some(t) = host.poll_transmit() {
            out += 1;
            assert!(out < 100_000, "runaway transmissions");
            assert!(t.contents.len() <= MAX_LEN);
            if let Ok((h, c)) = wire::decode_command(&t.contents) {
                unanswered.push((false, h, c));
            }
        }
        if unanswered.len() > 4096 {
            unanswered.drain(..2048);
        }
        let mut events = 0;
        while host.poll_event().is_some() {
            events += 1;
            assert!(events < 100_000, "runaway events");
        }
        if let Some(t) = host.poll_timeout() {
            assert!(t >= start);
        }
        for g in ["t1", "u1"] {
            let (queued, in_flight) = host.backlog(&GatewayId::new(g)).expect("configured");
            assert!(
                queued <= MAX_LINES_PER_GATEWAY * MAX_QUEUED_PER_LINE
                    && in_flight <= MAX_LINES_PER_GATEWAY + 1,
                "{queued} {in_flight}"
            );
        }
        if rest.len() < 3 || inputs >= 256 {
            break;
        }
        inputs += 1;
        let op = rest[0];
        let len = usize::from(u16::from_le_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let payload = &rest[3..3 + len];
        rest = &rest[3 + len..];
        let byte = |i: usize| payload.get(i).copied().unwrap_or(0);
        seq = seq.wrapping_add(1);
        match op % 8 {
            0 => {
                if let Some(l) = link {
                    host.handle_stream(now, l, payload);
                }
            }
            1 => {
                let id = IDS[usize::from(byte(0)) % IDS.len()];
                let channel = i32::from(byte(1) % 10) - 1;
                let m = framed(
                    ByteOrder::Big,
                    seq,
                    id,
                    channel,
                    payload.get(2..).unwrap_or(&[]),
                );
                if let Some(l) = link {
                    host.handle_stream(now, l, &m);
                }
                let m = framed(
                    ByteOrder::Little,
                    seq,
                    id,
                    channel,
                    payload.get(2..).unwrap_or(&[]),
                );
                host.handle_datagram(now, udp(), &m);
            }
            2 => host.handle_datagram(now, udp(), payload),
            3 => host.handle_datagram(now, SocketAddr::from(([127, 0, 0, 9], 2424)), payload),
            4 => {
                if unanswered.is_empty() {
                    continue;
                }
                let i = usize::from(byte(0)) % unanswered.len();
                let (to_tcp, h, c) = unanswered.remove(i);
                let event = if byte(1) & 1 == 0 {
                    WEvent::CommandAck {
                        seq: h.seq,
                        command_id: wire::command_id(&c),
                    }
                } else {
                    WEvent::Error {
                        code: i32::from(byte(2)),
                        text: "refused".into(),
                    }
                };
                let mut reply = |event: &WEvent| {
                    let mut m = Vec::new();
                    let header = Header {
                        order: h.order,
                        version: VERSION,
                        seq: Seq(seq),
                    };
                    wire::encode_event(&header, c.channel(), event, &mut m);
                    match (to_tcp, link) {
                        (true, Some(l)) => host.handle_stream(now, l, &m),
                        (true, None) => {}
                        (false, _) => host.handle_datagram(now, udp(), &m),
                    }
                };
                reply(&event);
                if matches!(c, wire::Command::QueryStatus { .. }) {
                    reply(&WEvent::FxsStatus {
                        off_hook: byte(3) & 1 != 0,
                        ringing: false,
                        message_waiting: byte(3) & 2 != 0,
                    });
                }
            }
            5 => match byte(0) % 4 {
                0 => {
                    if let Some(p) = pending.take() {
                        link = Some(p);
                        host.handle_connected(now, p);
                    }
                }
                1 => {
                    if let Some(l) = link.take() {
                        old = Some(l);
                        host.handle_closed(now, l);
                    } else if let Some(p) = pending.take() {
                        host.handle_closed(now, p);
                    }
                }
                2 => {
                    if let Some(o) = old {
                        host.handle_stream(now, o, payload);
                        host.handle_connected(now, o);
                        host.handle_closed(now, o);
                    }
                }
                _ => host.handle_stream(now, LinkId(u64::from(byte(1)) + 1000), payload),
            },
            6 => {
                let cmd = command(byte(0), byte(1));
                host.handle_command(now, cmd);
            }
            _ => {
                let jump = u64::from(u16::from_le_bytes([byte(0), byte(1)]));
                now += Duration::from_millis(jump);
                if byte(2) & 1 == 1 {
                    host.handle_command(now, command(byte(3), byte(4)));
                }
                if host.poll_timeout().is_some_and(|t| t <= now) {
                    host.handle_timeout(now);
                }
            }
        }
    }
});
