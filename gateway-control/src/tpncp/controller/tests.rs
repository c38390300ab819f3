//! The host against a scripted board, in virtual time: every command it sends is decoded
//! back, and the board's side is written as wire events.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::model::{Cadence, CallerId, Digit, DownReason, Tone};
use crate::tpncp::wire::{Command as WCommand, DigitEntry, Event as WEvent, Header, ToneType};

const BOARD: &str = "127.0.0.1:2424";

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn config(transport: Transport) -> Config {
    let mut gw = GatewayConfig::new(
        GatewayId::new("b1"),
        Some(BOARD.parse().unwrap()),
        &["0", "1"],
    );
    gw.transport = transport;
    Config {
        gateways: vec![gw],
        rng_seed: 7,
        ..Config::default()
    }
}

fn line(n: &str) -> LineId {
    LineId::new(GatewayId::new("b1"), n)
}

/// One command the host sent.
#[derive(Debug, Clone)]
struct Sent {
    header: Header,
    command: WCommand,
}

impl Sent {
    fn channel(&self) -> Channel {
        self.command.channel()
    }
}

struct Board {
    host: Host,
    now: Instant,
    start: Instant,
    link: Option<LinkId>,
    order: ByteOrder,
    seq: Seq,
    udp: bool,
    /// Links asked for, other than writes.
    links: Vec<Link>,
}

impl Board {
    fn new() -> Self {
        Self::with(config(Transport::Tcp))
    }

    fn with(config: Config) -> Self {
        let now = epoch();
        let udp = config.gateways[0].transport == Transport::Udp;
        let order = config.gateways[0].byte_order;
        Self {
            host: Host::new(config, now).unwrap(),
            now,
            start: now,
            link: None,
            order,
            seq: Seq(1000),
            udp,
            links: Vec::new(),
        }
    }

    /// What the host sent since the last call (decoded), and the other links it asked for.
    fn sent(&mut self) -> Vec<Sent> {
        let mut out = Vec::new();
        while let Some(link) = self.host.poll_link() {
            match link {
                Link::Write { link, bytes, .. } => {
                    assert_eq!(Some(link), self.link, "write on a stale link");
                    out.push(decode(&bytes));
                }
                other => self.links.push(other),
            }
        }
        while let Some(t) = self.host.poll_transmit() {
            // Other boards' datagrams are not this board's business.
            if t.destination == BOARD.parse().unwrap() {
                out.push(decode(&t.contents));
            }
        }
        out
    }

    /// The host's last connection request: accepted.
    fn accept(&mut self) {
        self.sent();
        let Some(Link::Connect { link, address, .. }) = self
            .links
            .iter()
            .rev()
            .find(|l| matches!(l, Link::Connect { .. }))
            .cloned()
        else {
            panic!("no connection asked for: {:?}", self.links);
        };
        assert_eq!(address, BOARD.parse().unwrap());
        self.links.clear();
        self.link = Some(link);
        self.host.handle_connected(self.now, link);
    }

    /// The driver reports the current connection closed.
    fn close(&mut self) {
        let link = self.link.expect("no connection open");
        self.host.handle_closed(self.now, link);
    }

    fn events(&mut self) -> Vec<Event> {
        std::iter::from_fn(|| self.host.poll_event()).collect()
    }

    fn event_bytes(&mut self, channel: i32, event: &WEvent) -> Vec<u8> {
        self.seq = self.seq.next();
        let mut out = Vec::new();
        let header = Header {
            order: self.order,
            version: wire::VERSION,
            seq: self.seq,
        };
        wire::encode_event(&header, Channel(channel), event, &mut out);
        out
    }

    /// Bytes from the board, over its connection or as a datagram.
    fn board_sends(&mut self, bytes: &[u8]) {
        if self.udp {
            self.host
                .handle_datagram(self.now, BOARD.parse().unwrap(), bytes);
        } else {
            let link = self.link.expect("connected");
            self.host.handle_stream(self.now, link, bytes);
        }
    }

    fn event(&mut self, channel: i32, event: WEvent) {
        let bytes = self.event_bytes(channel, &event);
        self.board_sends(&bytes);
    }

    fn ack(&mut self, s: &Sent) {
        self.event(
            s.channel().0,
            WEvent::CommandAck {
                seq: s.header.seq,
                command_id: wire::command_id(&s.command),
            },
        );
    }

    fn status(&mut self, channel: Channel, off_hook: bool) {
        self.event(
            channel.0,
            WEvent::FxsStatus {
                off_hook,
                ringing: false,
                message_waiting: false,
            },
        );
    }

    /// Acknowledges each command (queries answered with `off_hook`), and whatever follows,
    /// until the host sends nothing more; returns all it sent.
    fn answer_all(&mut self, off_hook: bool) -> Vec<Sent> {
        let mut all = Vec::new();
        loop {
            let sent = self.sent();
            if sent.is_empty() {
                return all;
            }
            for s in &sent {
                self.ack(s);
                if matches!(s.command, WCommand::QueryStatus { .. }) {
                    self.status(s.channel(), off_hook);
                }
            }
            all.extend(sent);
        }
    }

    /// Connects and re-syncs: the board up, both lines on-hook.
    fn up() -> Self {
        Self::up_with(config(Transport::Tcp))
    }

    fn up_with(config: Config) -> Self {
        let mut b = Self::with(config);
        b.accept();
        b.answer_all(false);
        let events = b.events();
        assert_eq!(
            events[0],
            Event::GatewayUp {
                gateway: GatewayId::new("b1")
            }
        );
        assert!(b.host.is_up(&GatewayId::new("b1")));
        b
    }

    fn command(&mut self, c: Command) {
        self.host.handle_command(self.now, c);
    }

    /// Moves virtual time to `at`, firing every timer due on the way at its own instant.
    fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        while let Some(t) = self.host.poll_timeout().filter(|t| *t <= target) {
            self.now = t.max(self.now);
            self.host.handle_timeout(self.now);
        }
        self.now = target;
    }

    /// Offsets from the start, of the connection requests asked for so far.
    fn since_start(&self) -> Duration {
        self.now - self.start
    }
}

fn decode(bytes: &[u8]) -> Sent {
    let (header, command) = wire::decode_command(bytes).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(header.version, wire::VERSION);
    Sent { header, command }
}

fn commands(sent: &[Sent]) -> Vec<WCommand> {
    sent.iter().map(|s| s.command.clone()).collect()
}

fn failed(events: &[Event]) -> Vec<(LineId, Option<CallId>, u16)> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::CommandFailed {
                line, call, code, ..
            } => Some((line.clone(), *call, *code)),
            _ => None,
        })
        .collect()
}

fn media(port: u16) -> Media {
    Media {
        address: SocketAddr::from(([192, 0, 2, 9], port)),
        codec: Codec::Pcmu,
        ptime: ms(20),
        telephone_event: Some(101),
    }
}

fn create(l: &str, call: u64, remote: Option<Media>) -> Command {
    Command::CreateConnection {
        line: line(l),
        call: CallId(call),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote,
    }
}

fn modify(l: &str, call: u64, mode: Option<ConnectionMode>, remote: Option<Media>) -> Command {
    Command::ModifyConnection {
        line: line(l),
        call: CallId(call),
        mode,
        remote,
    }
}

fn delete(l: &str, call: u64) -> Command {
    Command::DeleteConnection {
        line: line(l),
        call: CallId(call),
    }
}

// ---------------------------------------------------------------------------------------------
// Configuration

#[test]
fn lines_are_canonical_channel_numbers() {
    for ok in ["0", "7", "10", "1023"] {
        assert!(channel_of(ok).is_some(), "{ok}");
    }
    assert_eq!(channel_of("12"), Some(Channel(12)));
    for bad in ["", "01", "-1", "+1", "1024", "a", "1 ", "99999", "aaln/1"] {
        assert_eq!(channel_of(bad), None, "{bad:?}");
    }
}

#[test]
fn validation_names_the_fault() {
    let base = config(Transport::Tcp);
    let check = |f: &dyn Fn(&mut Config)| {
        let mut c = base.clone();
        f(&mut c);
        Host::new(c, epoch()).err()
    };
    assert_eq!(check(&|_| {}), None);
    assert_eq!(
        check(&|c| c.gateways[0].lines.push("x".into())),
        Some(ConfigError::Line {
            gateway: GatewayId::new("b1"),
            line: "x".into()
        })
    );
    assert_eq!(
        check(&|c| c.gateways[0].lines.push("1".into())),
        Some(ConfigError::DuplicateLine {
            gateway: GatewayId::new("b1"),
            line: "1".into()
        })
    );
    assert_eq!(
        check(&|c| c.gateways[0].rtp_port = 65530),
        Some(ConfigError::RtpPort {
            gateway: GatewayId::new("b1"),
            line: "1".into()
        })
    );
    assert_eq!(
        check(&|c| c.gateways.push(c.gateways[0].clone())),
        Some(ConfigError::Duplicate(GatewayId::new("b1")))
    );
    assert_eq!(
        check(&|c| {
            c.gateways[0].transport = Transport::Udp;
            let mut other = c.gateways[0].clone();
            other.id = GatewayId::new("b2");
            c.gateways.push(other);
        }),
        Some(ConfigError::SharedAddress(GatewayId::new("b2")))
    );
    // Two TCP boards may share an address (a test bench); only UDP needs it to tell them apart.
    assert_eq!(
        check(&|c| {
            let mut other = c.gateways[0].clone();
            other.id = GatewayId::new("b2");
            c.gateways.push(other);
        }),
        None
    );
    assert_eq!(
        check(&|c| c.keepalive = Duration::ZERO),
        Some(ConfigError::Zero("keepalive"))
    );
    assert_eq!(
        check(&|c| c.ack_timeout = Duration::ZERO),
        Some(ConfigError::Zero("ack_timeout"))
    );
    assert_eq!(
        check(&|c| c.reconnect_max = ms(999)),
        Some(ConfigError::Backoff)
    );
    assert_eq!(
        check(&|c| c.reconnect_max = c.reconnect_min),
        None,
        "no back-off growth is allowed"
    );
    let many = |n: usize| {
        move |c: &mut Config| {
            c.gateways = (0..n)
                .map(|i| GatewayConfig::new(GatewayId::new(&format!("g{i}")), None, &["0"]))
                .collect();
        }
    };
    assert_eq!(check(&many(MAX_GATEWAYS)), None);
    assert_eq!(
        check(&many(MAX_GATEWAYS + 1)),
        Some(ConfigError::TooMany("gateways"))
    );
    assert_eq!(
        check(&|c| c.gateways[0].lines = (0..=256).map(|n| n.to_string()).collect()),
        Some(ConfigError::TooMany("lines"))
    );
    // The highest channel whose RTP and RTCP ports fit.
    assert_eq!(
        check(&|c| {
            c.gateways[0].rtp_port = 65534 - 10;
            c.gateways[0].lines = vec!["1".into()];
        }),
        None
    );
    assert_eq!(
        check(&|c| {
            c.gateways[0].rtp_port = 65535 - 10;
            c.gateways[0].lines = vec!["1".into()];
        }),
        Some(ConfigError::RtpPort {
            gateway: GatewayId::new("b1"),
            line: "1".into()
        })
    );
}

// ---------------------------------------------------------------------------------------------
// Session

#[test]
fn connects_then_resyncs_every_line_and_reports_up_before_the_statuses() {
    let mut b = Board::new();
    assert!(!b.host.is_up(&GatewayId::new("b1")));
    b.accept();
    let first = b.sent();
    // One command in flight per channel: each line's re-sync begins with the ring stopped.
    assert_eq!(
        commands(&first),
        vec![
            WCommand::Ring {
                channel: Channel(0),
                on: false,
                pattern: 0,
                caller_id: None
            },
            WCommand::Ring {
                channel: Channel(1),
                on: false,
                pattern: 0,
                caller_id: None
            },
        ]
    );
    assert!(b.events().is_empty());
    // Sequence numbers grow from 1.
    assert_eq!(first[0].header.seq, Seq(1));
    assert_eq!(first[1].header.seq, Seq(2));
    b.ack(&first[0]);
    assert_eq!(
        b.events(),
        vec![Event::GatewayUp {
            gateway: GatewayId::new("b1")
        }]
    );
    assert!(b.host.is_up(&GatewayId::new("b1")));
    b.ack(&first[1]);
    let mut rest = Vec::new();
    loop {
        let sent = b.sent();
        if sent.is_empty() {
            break;
        }
        for s in &sent {
            b.ack(s);
            if let WCommand::QueryStatus { channel } = s.command {
                b.status(channel, channel == Channel(1));
            }
        }
        rest.extend(commands(&sent));
    }
    for c in [Channel(0), Channel(1)] {
        let mine: Vec<&WCommand> = rest.iter().filter(|x| x.channel() == c).collect();
        assert_eq!(
            mine,
            vec![
                &WCommand::StopTone { channel: c },
                &WCommand::CloseChannel { channel: c },
                &WCommand::QueryStatus { channel: c },
            ]
        );
    }
    assert_eq!(
        b.events(),
        vec![
            Event::LineStatus {
                line: line("0"),
                off_hook: false
            },
            Event::LineStatus {
                line: line("1"),
                off_hook: true
            },
        ]
    );
    let s = b.host.stats();
    assert_eq!((s.sessions_up, s.connects, s.acks), (1, 1, 8));
    assert_eq!(b.host.backlog(&GatewayId::new("b1")), Some((0, 0)));
    assert_eq!(b.host.backlog(&GatewayId::new("nope")), None);
}

#[test]
fn a_status_may_come_before_or_after_its_acknowledgement() {
    let mut b = Board::up();
    b.command(Command::Audit { line: line("0") });
    let q = b.sent();
    assert_eq!(
        commands(&q),
        vec![WCommand::QueryStatus {
            channel: Channel(0)
        }]
    );
    b.ack(&q[0]);
    assert!(b.events().is_empty(), "waits for the status");
    b.status(Channel(0), true);
    assert_eq!(
        b.events(),
        vec![Event::LineStatus {
            line: line("0"),
            off_hook: true
        }]
    );
    b.command(Command::Audit { line: line("0") });
    let q = b.sent();
    b.status(Channel(0), false);
    assert!(b.events().is_empty(), "waits for the acknowledgement");
    b.ack(&q[0]);
    assert_eq!(
        b.events(),
        vec![Event::LineStatus {
            line: line("0"),
            off_hook: false
        }]
    );
    // A second acknowledgement of the same command is a duplicate.
    b.ack(&q[0]);
    assert_eq!(b.host.stats().acks_unmatched, 1);
    assert!(b.events().is_empty());
}

#[test]
fn one_command_in_flight_per_channel_and_channels_in_parallel() {
    let mut b = Board::up();
    b.command(Command::StopRing { line: line("0") });
    b.command(Command::PlayTone {
        line: line("0"),
        tone: Tone::Dial,
    });
    b.command(Command::StopRing { line: line("1") });
    let sent = b.sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0].channel(), Channel(0));
    assert_eq!(sent[1].channel(), Channel(1));
    assert_eq!(b.host.backlog(&GatewayId::new("b1")), Some((1, 2)));
    b.ack(&sent[0]);
    let next = b.sent();
    assert_eq!(
        commands(&next),
        vec![WCommand::PlayTone {
            channel: Channel(0),
            tone: ToneType::Dial,
            duration_ms: 0
        }]
    );
    assert!(next[0].header.seq > sent[1].header.seq);
}

#[test]
fn acknowledgements_match_by_sequence_number_and_id() {
    let mut b = Board::up();
    b.command(Command::StopRing { line: line("0") });
    let s = b.sent().remove(0);
    // Right seq, wrong id; wrong seq, right id: neither counts.
    b.event(
        0,
        WEvent::CommandAck {
            seq: s.header.seq,
            command_id: wire::id::PLAY_TONE,
        },
    );
    b.event(
        0,
        WEvent::CommandAck {
            seq: s.header.seq.next(),
            command_id: wire::id::ANALOG_IF_DISTINCTIVE_RING,
        },
    );
    assert_eq!(b.host.stats().acks_unmatched, 2);
    assert_eq!(b.host.backlog(&GatewayId::new("b1")), Some((0, 1)));
    // The board may acknowledge on any channel: the sequence number is what counts.
    b.event(
        -1,
        WEvent::CommandAck {
            seq: s.header.seq,
            command_id: wire::id::ANALOG_IF_DISTINCTIVE_RING,
        },
    );
    assert_eq!(b.host.backlog(&GatewayId::new("b1")), Some((0, 0)));
    // Late: counted, nothing done.
    b.ack(&s);
    assert_eq!(b.host.stats().acks_unmatched, 3);
    assert!(b.events().is_empty());
}

#[test]
fn an_error_fails_the_channels_command_and_the_next_goes() {
    let mut b = Board::up();
    b.command(Command::Ring {
        line: line("1"),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    b.command(Command::StopRing { line: line("1") });
    let s = b.sent();
    b.event(
        1,
        WEvent::Error {
            code: 17,
            text: "the phone is off\u{7}-hook".into(),
        },
    );
    let events = b.events();
    assert_eq!(failed(&events), vec![(line("1"), None, 17)]);
    let Event::CommandFailed { reason, .. } = &events[0] else {
        unreachable!()
    };
    assert_eq!(
        reason,
        "the board refused acCMD_ANALOG_IF_DISTINCTIVE_RING: the phone is off-hook (17)"
    );
    assert_eq!(b.sent().len(), 1, "the stop goes next");
    // Its acknowledgement, late, is counted.
    b.ack(&s[0]);
    assert_eq!(b.host.stats().acks_unmatched, 1);
    // An error with no command in flight, or a code beyond u16, or 0.
    b.event(
        0,
        WEvent::Error {
            code: 5,
            text: String::new(),
        },
    );
    assert_eq!(b.host.stats().errors_unmatched, 1);
    for code in [0, -3, 70_000] {
        b.command(Command::StopRing { line: line("0") });
        b.sent();
        b.event(
            0,
            WEvent::Error {
                code,
                text: "x".repeat(300),
            },
        );
        let events = b.events();
        assert_eq!(failed(&events), vec![(line("0"), None, code::REFUSED)]);
        let Event::CommandFailed { reason, .. } = &events[0] else {
            unreachable!()
        };
        assert!(reason.len() < 160, "{reason}");
    }
    assert_eq!(b.host.stats().errors_received, 4);
    assert!(
        b.host.is_up(&GatewayId::new("b1")),
        "errors do not end a session"
    );
}

// ---------------------------------------------------------------------------------------------
// Translation

#[test]
fn ring_with_caller_id_pattern_and_stop() {
    let mut b = Board::up();
    b.command(Command::Ring {
        line: line("1"),
        cadence: Cadence::Distinctive(3),
        caller_id: Some(CallerId {
            number: Some("5551234".into()),
            name: Some(format!("A{}", "é".repeat(30))),
        }),
    });
    let s = b.answer_all(false);
    let WCommand::Ring {
        channel,
        on,
        pattern,
        caller_id: Some(cid),
    } = &s[0].command
    else {
        panic!("{s:?}")
    };
    assert_eq!((*channel, *on, *pattern), (Channel(1), true, 3));
    assert_eq!(cid.number.as_deref(), Some("5551234"));
    // Cut to 50 bytes, at a character boundary (byte 50 is inside the 25th "é").
    assert_eq!(
        cid.name.as_deref(),
        Some(format!("A{}", "é".repeat(24)).as_str())
    );
    b.command(Command::Ring {
        line: line("1"),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    b.command(Command::StopRing { line: line("1") });
    assert_eq!(
        commands(&b.answer_all(false)),
        vec![
            WCommand::Ring {
                channel: Channel(1),
                on: true,
                pattern: 0,
                caller_id: None
            },
            WCommand::Ring {
                channel: Channel(1),
                on: false,
                pattern: 0,
                caller_id: None
            },
        ]
    );
    assert!(b.events().is_empty(), "success is silent");
}

#[test]
fn tones_and_the_lamp() {
    let mut b = Board::up();
    for (tone, want) in [
        (Tone::Dial, ToneType::Dial),
        (Tone::Ringback, ToneType::Ringing),
        (Tone::Busy, ToneType::Busy),
        (Tone::Reorder, ToneType::Reorder),
        (Tone::Confirmation, ToneType::Confirmation),
        (Tone::CallWaiting, ToneType::Waiting),
        (Tone::StutterDial, ToneType::StutterDial),
        (Tone::OperationComplete, ToneType::Confirmation),
        (Tone::OperationFailure, ToneType::Reorder),
    ] {
        b.command(Command::PlayTone {
            line: line("0"),
            tone,
        });
        assert_eq!(
            commands(&b.answer_all(false)),
            vec![WCommand::PlayTone {
                channel: Channel(0),
                tone: want,
                duration_ms: 0
            }]
        );
    }
    // Without the lamp, a stop is one command.
    b.command(Command::StopTone { line: line("0") });
    assert_eq!(
        commands(&b.answer_all(false)),
        vec![WCommand::StopTone {
            channel: Channel(0)
        }]
    );
    b.command(Command::PlayTone {
        line: line("0"),
        tone: Tone::MessageWaitingLamp,
    });
    assert_eq!(
        commands(&b.answer_all(false)),
        vec![WCommand::MessageWaiting {
            channel: Channel(0),
            on: true
        }]
    );
    b.command(Command::StopTone { line: line("0") });
    assert_eq!(
        commands(&b.answer_all(false)),
        vec![
            WCommand::StopTone {
                channel: Channel(0)
            },
            WCommand::MessageWaiting {
                channel: Channel(0),
                on: false
            },
        ]
    );
    b.command(Command::StopTone { line: line("0") });
    assert_eq!(b.answer_all(false).len(), 1, "the lamp is out");
    assert!(b.events().is_empty());
}

#[test]
fn a_lamp_left_lit_is_learnt_from_the_status() {
    let mut b = Board::new();
    b.accept();
    loop {
        let sent = b.sent();
        if sent.is_empty() {
            break;
        }
        for s in &sent {
            b.ack(s);
            if let WCommand::QueryStatus { channel } = s.command {
                b.event(
                    channel.0,
                    WEvent::FxsStatus {
                        off_hook: false,
                        ringing: false,
                        message_waiting: true,
                    },
                );
            }
        }
    }
    b.command(Command::StopTone { line: line("1") });
    assert_eq!(b.answer_all(false).len(), 2, "tone and lamp");
}

#[test]
fn a_connection_is_opened_activated_modified_and_deleted() {
    let mut b = Board::up();
    b.command(create("1", 7, Some(media(4000))));
    let s = b.answer_all(false);
    assert_eq!(
        commands(&s),
        vec![
            WCommand::OpenChannel {
                channel: Channel(1),
                coder: wire::Coder::Mulaw,
                frames_per_packet: 2,
                dtmf_payload_type: 101
            },
            WCommand::ActivateRtp {
                channel: Channel(1),
                local_rtp_port: 6010,
                remote: media(4000).address,
                tx_payload_type: 0,
                rx_payload_type: 0
            },
        ]
    );
    assert_eq!(
        b.events(),
        vec![Event::ConnectionCreated {
            line: line("1"),
            call: CallId(7),
            local: Media {
                address: "127.0.0.1:6010".parse().unwrap(),
                codec: Codec::Pcmu,
                ptime: ms(20),
                telephone_event: Some(101),
            },
        }]
    );
    // A second connection on the channel is refused at once.
    b.command(create("1", 8, None));
    assert_eq!(
        failed(&b.events()),
        vec![(line("1"), Some(CallId(8)), code::INSUFFICIENT_RESOURCES)]
    );
    // A new remote: activated again there.
    b.command(modify("1", 7, None, Some(media(5000))));
    let s = b.answer_all(false);
    assert!(
        matches!(s[..], [Sent { command: WCommand::ActivateRtp { remote, .. }, .. }] if remote == media(5000).address)
    );
    assert_eq!(
        b.events(),
        vec![Event::ConnectionModified {
            line: line("1"),
            call: CallId(7)
        }]
    );
    // Nothing new: nothing sent, still answered.
    b.command(modify("1", 7, Some(ConnectionMode::SendOnly), None));
    assert!(b.answer_all(false).is_empty());
    assert_eq!(b.events().len(), 1);
    // Inactive: RTP stops; active again with the known remote.
    b.command(modify("1", 7, Some(ConnectionMode::Inactive), None));
    assert_eq!(
        commands(&b.answer_all(false)),
        vec![WCommand::DeactivateRtp {
            channel: Channel(1)
        }]
    );
    b.command(modify("1", 7, Some(ConnectionMode::RecvOnly), None));
    assert!(matches!(
        commands(&b.answer_all(false))[..],
        [WCommand::ActivateRtp {
            local_rtp_port: 6010,
            ..
        }]
    ));
    b.events();
    // Unknown calls.
    b.command(modify("1", 9, None, None));
    b.command(delete("1", 9));
    assert_eq!(
        failed(&b.events()),
        vec![
            (line("1"), Some(CallId(9)), code::UNKNOWN_CALL),
            (line("1"), Some(CallId(9)), code::UNKNOWN_CALL),
        ]
    );
    b.command(delete("1", 7));
    assert_eq!(
        commands(&b.answer_all(false)),
        vec![
            WCommand::DeactivateRtp {
                channel: Channel(1)
            },
            WCommand::CloseChannel {
                channel: Channel(1)
            },
        ]
    );
    assert_eq!(
        b.events(),
        vec![Event::ConnectionDeleted {
            line: line("1"),
            call: CallId(7)
        }]
    );
    // The channel is free again, even while the delete is still in flight.
    b.command(create("1", 10, None));
    b.command(delete("1", 10));
    b.command(create("1", 11, None));
    assert!(failed(&b.events()).is_empty());
}

#[test]
fn connection_modes_and_packetisation() {
    let mut b = Board::up();
    // Inactive, or no remote yet: the channel is opened only; A-law, 30 ms, no DTMF type.
    b.command(Command::CreateConnection {
        line: line("0"),
        call: CallId(1),
        mode: ConnectionMode::Inactive,
        codec: Codec::Pcma,
        ptime: ms(30),
        remote: Some(Media {
            telephone_event: None,
            ..media(4000)
        }),
    });
    assert_eq!(
        commands(&b.answer_all(false)),
        vec![WCommand::OpenChannel {
            channel: Channel(0),
            coder: wire::Coder::Alaw,
            frames_per_packet: 3,
            dtmf_payload_type: 0
        }]
    );
    let events = b.events();
    assert!(
        matches!(&events[..], [Event::ConnectionCreated { local, .. }]
        if local.address.port() == 6000 && local.codec == Codec::Pcma && local.telephone_event.is_none())
    );
    // Becoming active with its remote: RTP in A-law's payload type.
    b.command(modify("0", 1, Some(ConnectionMode::SendRecv), None));
    assert!(matches!(
        commands(&b.answer_all(false))[..],
        [WCommand::ActivateRtp {
            tx_payload_type: 8,
            rx_payload_type: 8,
            ..
        }]
    ));
    // A delete of a channel whose RTP never ran: just closed.
    b.command(create("1", 2, None));
    b.answer_all(false);
    b.command(delete("1", 2));
    assert_eq!(
        commands(&b.answer_all(false)),
        vec![WCommand::CloseChannel {
            channel: Channel(1)
        }]
    );
    // Loopback: TPNCP has none.
    b.command(Command::CreateConnection {
        line: line("1"),
        call: CallId(3),
        mode: ConnectionMode::Loopback,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    b.command(modify("0", 1, Some(ConnectionMode::Loopback), None));
    let events = b.events();
    assert_eq!(
        failed(&events),
        vec![
            (line("1"), Some(CallId(3)), code::NOT_IMPLEMENTED),
            (line("0"), Some(CallId(1)), code::NOT_IMPLEMENTED),
        ]
    );
    assert!(b.answer_all(false).is_empty());
    // Opus (SIP calls only): the boards are G.711 only, nothing is sent.
    b.command(Command::CreateConnection {
        line: line("1"),
        call: CallId(4),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Opus { payload_type: 96 },
        ptime: ms(20),
        remote: Some(media(4000)),
    });
    assert_eq!(
        failed(&b.events()),
        vec![(line("1"), Some(CallId(4)), code::NOT_IMPLEMENTED)]
    );
    assert!(b.answer_all(false).is_empty());
    // Packetisation bounds: 5 ms is one frame, 200 ms twelve.
    assert_eq!(jobs_fpp(ms(5)), 1);
    assert_eq!(jobs_fpp(ms(200)), 12);
}

fn jobs_fpp(ptime: Duration) -> i32 {
    let mut b = Board::up();
    b.command(Command::CreateConnection {
        line: line("0"),
        call: CallId(1),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime,
        remote: None,
    });
    match b.sent()[0].command {
        WCommand::OpenChannel {
            frames_per_packet, ..
        } => frames_per_packet,
        ref other => panic!("{other:?}"),
    }
}

#[test]
fn a_refused_activation_closes_the_channel_again() {
    let mut b = Board::up();
    b.command(create("0", 1, Some(media(4000))));
    let open = b.sent();
    b.ack(&open[0]);
    let activate = b.sent();
    assert!(matches!(activate[0].command, WCommand::ActivateRtp { .. }));
    b.event(
        0,
        WEvent::Error {
            code: 42,
            text: "no".into(),
        },
    );
    assert_eq!(failed(&b.events()), vec![(line("0"), Some(CallId(1)), 42)]);
    assert_eq!(
        commands(&b.answer_all(false)),
        vec![WCommand::CloseChannel {
            channel: Channel(0)
        }]
    );
    // The line is free for the next call.
    b.command(create("0", 2, None));
    b.answer_all(false);
    assert!(matches!(b.events()[..], [Event::ConnectionCreated { .. }]));
}

#[test]
fn a_refused_delete_still_reports_the_connection_deleted() {
    let mut b = Board::up();
    b.command(create("0", 1, None));
    b.answer_all(false);
    b.events();
    b.command(delete("0", 1));
    b.sent();
    b.event(
        0,
        WEvent::Error {
            code: 3,
            text: String::new(),
        },
    );
    assert_eq!(
        b.events(),
        vec![Event::ConnectionDeleted {
            line: line("0"),
            call: CallId(1)
        }]
    );
}

#[test]
fn unknown_lines_and_boards_and_a_board_not_connected() {
    let mut b = Board::new();
    b.command(Command::StopRing { line: line("0") });
    b.command(Command::StopRing { line: line("5") });
    b.command(Command::StopRing { line: line("x") });
    b.command(Command::StopRing {
        line: LineId::new(GatewayId::new("b9"), "0"),
    });
    b.command(Command::GatewayAddress {
        gateway: GatewayId::new("b9"),
        address: BOARD.parse().unwrap(),
    });
    let events = b.events();
    assert_eq!(
        failed(&events),
        vec![
            (line("0"), None, code::NOT_READY),
            (line("5"), None, code::UNKNOWN_LINE),
            (line("x"), None, code::UNKNOWN_LINE),
            (
                LineId::new(GatewayId::new("b9"), "0"),
                None,
                code::UNKNOWN_LINE
            ),
        ]
    );
    assert_eq!(b.host.stats().commands_failed, 4);
    // Connection commands name their call.
    b.command(create("0", 1, None));
    b.command(create("5", 2, None));
    b.command(Command::DeleteConnection {
        line: LineId::new(GatewayId::new("b9"), "0"),
        call: CallId(3),
    });
    b.command(modify("x", 4, None, None));
    let calls: Vec<Option<CallId>> = failed(&b.events()).iter().map(|f| f.1).collect();
    assert_eq!(
        calls,
        vec![
            Some(CallId(1)),
            Some(CallId(2)),
            Some(CallId(3)),
            Some(CallId(4))
        ]
    );
    assert!(b.sent().is_empty());
}

#[test]
fn commands_wait_behind_the_resync_and_the_queue_is_bounded() {
    let mut b = Board::new();
    b.accept();
    // Syncing: model commands queue behind the re-sync.
    b.command(Command::StopTone { line: line("0") });
    let mut sent = commands(&b.answer_all(false));
    sent.retain(|c| c.channel() == Channel(0));
    assert_eq!(sent.len(), 5);
    assert_eq!(
        sent[4],
        WCommand::StopTone {
            channel: Channel(0)
        }
    );
    b.events();
    b.command(Command::StopRing { line: line("0") });
    for _ in 0..MAX_QUEUED_PER_LINE {
        b.command(Command::StopTone { line: line("0") });
    }
    assert!(b.events().is_empty());
    b.command(Command::StopTone { line: line("0") });
    assert_eq!(
        failed(&b.events()),
        vec![(line("0"), None, code::INSUFFICIENT_RESOURCES)]
    );
    assert_eq!(
        b.host.backlog(&GatewayId::new("b1")),
        Some((MAX_QUEUED_PER_LINE, 1))
    );
    assert_eq!(b.host.stats().jobs_failed, 1);
}

// ---------------------------------------------------------------------------------------------
// Events

#[test]
fn hook_events_are_reported_once() {
    let mut b = Board::up();
    b.event(0, WEvent::OffHook);
    b.event(0, WEvent::OffHook);
    b.event(0, WEvent::FlashHook);
    b.event(0, WEvent::OnHook);
    b.event(0, WEvent::OnHook);
    b.event(1, WEvent::RingStart);
    b.event(1, WEvent::RingEnd);
    b.event(
        -1,
        WEvent::KeepAlive {
            commands_processed: 4,
        },
    );
    assert_eq!(
        b.events(),
        vec![
            Event::OffHook { line: line("0") },
            Event::HookFlash { line: line("0") },
            Event::OnHook { line: line("0") },
        ]
    );
    let s = b.host.stats();
    assert_eq!(
        (
            s.hook_events,
            s.redundant_hook,
            s.ring_events,
            s.keepalives_received
        ),
        (3, 2, 2, 1)
    );
    // Channels that are no watched line.
    b.event(7, WEvent::OffHook);
    b.event(-1, WEvent::FlashHook);
    b.event(
        7,
        WEvent::Digits(vec![DigitEntry {
            digit: 1,
            on_time_ms: 0,
            inter_digit_ms: 0,
        }]),
    );
    assert!(b.events().is_empty());
    assert_eq!(b.host.stats().unknown_channel, 3);
}

#[test]
fn an_unsolicited_status_corrects_the_hook_state() {
    let mut b = Board::up();
    b.status(Channel(1), true);
    b.status(Channel(1), true);
    b.status(Channel(9), true);
    assert_eq!(b.events(), vec![Event::OffHook { line: line("1") }]);
    assert_eq!(b.host.stats().status_unsolicited, 3);
    assert_eq!(b.host.stats().unknown_channel, 1);
}

fn digits(codes: &[i32]) -> WEvent {
    WEvent::Digits(
        codes
            .iter()
            .map(|&digit| DigitEntry {
                digit,
                on_time_ms: 80,
                inter_digit_ms: 60,
            })
            .collect(),
    )
}

/// A board that is never probed.
fn quiet() -> Config {
    Config {
        keepalive: Duration::from_secs(3600),
        ..config(Transport::Tcp)
    }
}

fn keys(text: &str) -> Vec<Digit> {
    text.chars().map(|c| Digit::new(c).unwrap()).collect()
}

#[test]
fn each_key_is_reported_when_not_collecting() {
    let mut b = Board::up();
    b.event(0, digits(&[0, 9, 10, 11, 12, 15, 16, -1]));
    let got: Vec<char> = b
        .events()
        .into_iter()
        .map(|e| match e {
            Event::Digit { digit, line: l } => {
                assert_eq!(l, line("0"));
                digit.as_char()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(got, vec!['0', '9', '*', '#', 'A', 'D']);
    assert_eq!(b.host.stats().bad_digits, 2);
    assert_eq!(b.host.stats().digits, 6);
    assert_eq!(inbound::digit_of(13), Digit::new('B'));
    assert_eq!(inbound::digit_of(14), Digit::new('C'));
}

fn collect(b: &mut Board, l: &str, map: &str) {
    b.command(Command::CollectDigits {
        line: line(l),
        map: DigitMap::parse(map).unwrap(),
    });
}

#[test]
fn digits_are_collected_against_the_map() {
    let mut b = Board::up_with(quiet());
    // On-hook: refused.
    collect(&mut b, "0", "(xxxx|*xx|0T)");
    assert_eq!(failed(&b.events()), vec![(line("0"), None, code::ON_HOOK)]);
    b.event(0, WEvent::OffHook);
    b.events();
    // Complete at the fourth key, in two events, with no single keys meanwhile.
    collect(&mut b, "0", "(xxxx|*xx|0T)");
    b.event(0, digits(&[1, 2]));
    assert!(b.events().is_empty());
    b.event(0, digits(&[3, 4, 5]));
    assert_eq!(
        b.events(),
        vec![
            Event::Dialled {
                line: line("0"),
                digits: keys("1234")
            },
            Event::Digit {
                line: line("0"),
                digit: Digit::new('5').unwrap()
            },
        ]
    );
    // "0" completes only when the short timer (4 s) runs out.
    collect(&mut b, "0", "(xxxx|*xx|0T)");
    b.event(0, digits(&[0]));
    b.advance(ms(3900));
    assert!(b.events().is_empty());
    b.advance(ms(200));
    assert_eq!(
        b.events(),
        vec![Event::Dialled {
            line: line("0"),
            digits: keys("0")
        }]
    );
    // A dead end at once.
    collect(&mut b, "0", "(xxxx|*xx|0T)");
    b.event(0, digits(&[5, 11]));
    assert_eq!(
        b.events(),
        vec![Event::Dialled {
            line: line("0"),
            digits: keys("5#")
        }]
    );
    // A partial number after the long timer (16 s).
    collect(&mut b, "0", "(xxxx|*xx|0T)");
    b.event(0, digits(&[9, 1]));
    b.advance(ms(15_900));
    assert!(b.events().is_empty());
    b.advance(ms(200));
    assert_eq!(
        b.events(),
        vec![Event::Dialled {
            line: line("0"),
            digits: keys("91")
        }]
    );
    // Nothing dialled: the collection waits (no timer before the first key).
    collect(&mut b, "0", "(xxxx)");
    b.advance(Duration::from_secs(60));
    assert!(b.events().is_empty());
    // Hanging up ends it.
    b.event(0, digits(&[1]));
    b.event(0, WEvent::OnHook);
    b.advance(Duration::from_secs(60));
    assert_eq!(b.events(), vec![Event::OnHook { line: line("0") }]);
    assert_eq!(b.host.stats().dialled, 4);
}

#[test]
fn a_long_dial_string_is_reported_at_its_bound() {
    let mut b = Board::up_with(quiet());
    b.event(1, WEvent::OffHook);
    b.events();
    collect(&mut b, "1", "x.#");
    b.event(1, digits(&[1; 40]));
    assert!(b.events().is_empty());
    b.event(1, digits(&[2; 30]));
    let events = b.events();
    let Event::Dialled { digits, .. } = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(digits.len(), crate::digitmap::MAX_DIGITS);
    assert_eq!(events.len(), 1 + 70 - crate::digitmap::MAX_DIGITS);
}

// ---------------------------------------------------------------------------------------------
// Keep-alive, loss, reconnection

#[test]
fn a_silent_board_is_probed_and_a_heard_one_is_not() {
    let mut b = Board::up();
    // The board's own keep-alives count as heard.
    for _ in 0..3 {
        b.advance(Duration::from_secs(6));
        b.event(
            -1,
            WEvent::KeepAlive {
                commands_processed: 0,
            },
        );
    }
    assert!(b.sent().is_empty());
    assert_eq!(b.host.stats().probes_sent, 0);
    b.advance(Duration::from_secs(10));
    let probe = b.sent();
    assert_eq!(
        commands(&probe),
        vec![WCommand::QueryStatus {
            channel: Channel(0)
        }]
    );
    assert_eq!(b.host.stats().probes_sent, 1);
    // Answered: the line's hook state is corrected, nothing else reported.
    b.ack(&probe[0]);
    b.status(Channel(0), true);
    assert_eq!(b.events(), vec![Event::OffHook { line: line("0") }]);
    // A command in flight when the board goes quiet serves as the probe.
    b.command(Command::StopRing { line: line("1") });
    b.sent();
    b.advance(Duration::from_secs(3));
    assert!(b.sent().is_empty());
    assert_eq!(b.host.stats().probes_sent, 1);
}

#[test]
fn reconnection_scenario_in_virtual_time() {
    let mut b = Board::up();
    let first = b.link.unwrap();
    b.command(create("0", 1, None));
    b.answer_all(false);
    b.events();
    // The board goes silent: probed after 10 s, no answer within 4 s.
    b.advance(Duration::from_secs(10));
    let t_probe = b.since_start();
    assert_eq!(b.sent().len(), 1);
    b.advance(Duration::from_secs(4));
    assert_eq!(
        b.events(),
        vec![
            Event::ConnectionLost {
                line: line("0"),
                call: CallId(1),
                reason: "the connection to the board was lost".into()
            },
            Event::GatewayDown {
                gateway: GatewayId::new("b1"),
                reason: DownReason::Unreachable
            },
        ]
    );
    assert!(!b.host.is_up(&GatewayId::new("b1")));
    b.sent();
    assert!(matches!(b.links[..], [Link::Close { .. }]), "{:?}", b.links);
    b.links.clear();
    assert_eq!(b.host.stats().ack_timeouts, 1);
    assert_eq!(b.since_start(), t_probe + Duration::from_secs(4));
    // Attempts: each refused at once; the waits grow (1, 2, 4, 8 … s less up to a quarter)
    // up to 60 s.
    let lost = b.now;
    let mut at = Vec::new();
    let mut last = lost;
    for _ in 0..9 {
        let next = b.host.poll_timeout().expect("a reconnection is timed");
        b.advance(next - b.now);
        b.sent();
        let Some(Link::Connect { link, .. }) = b.links.pop() else {
            panic!("{:?}", b.links)
        };
        at.push(b.now - last);
        last = b.now;
        b.host.handle_closed(b.now, link);
        assert!(b.events().is_empty(), "no second GatewayDown");
    }
    for (i, wait) in at.iter().enumerate() {
        let base = Duration::from_secs(1 << i).min(Duration::from_secs(60));
        assert!(
            *wait <= base && *wait >= base * 3 / 4,
            "attempt {i}: {wait:?}"
        );
    }
    assert!(at[1] > at[0] && at[2] > at[1] && at[5] > at[4]);
    assert!(*at.last().unwrap() >= Duration::from_secs(45));
    // Accepted: every channel re-synced, up, then each line's status.
    let next = b.host.poll_timeout().unwrap();
    b.advance(next - b.now);
    b.accept();
    // A new connection has a handle of its own: the old one's bytes are not taken.
    assert_ne!(b.link, Some(first));
    let stale = b.host.stats().stale_link;
    let off = b.event_bytes(0, &WEvent::OffHook);
    b.host.handle_stream(b.now, first, &off);
    assert_eq!(b.host.stats().stale_link, stale + 1);
    let sent = b.answer_all(true);
    assert_eq!(sent.len(), 8);
    assert_eq!(
        b.events(),
        vec![
            Event::GatewayUp {
                gateway: GatewayId::new("b1")
            },
            Event::LineStatus {
                line: line("0"),
                off_hook: true
            },
            Event::LineStatus {
                line: line("1"),
                off_hook: true
            },
        ]
    );
    let s = b.host.stats();
    assert_eq!((s.sessions_up, s.sessions_lost, s.connects), (2, 1, 11));
    // The back-off starts again from the minimum after a session came up.
    b.close();
    let wait = b.host.poll_timeout().unwrap() - b.now;
    assert!(
        wait <= Duration::from_secs(1) && wait >= ms(750),
        "{wait:?}"
    );
}

#[test]
fn the_jitter_is_seeded() {
    let waits = |seed| {
        let mut c = config(Transport::Tcp);
        c.rng_seed = seed;
        let mut b = Board::with(c);
        let mut out = Vec::new();
        for _ in 0..5 {
            b.sent();
            let Some(Link::Connect { link, .. }) = b.links.pop() else {
                panic!()
            };
            b.host.handle_closed(b.now, link);
            let t = b.host.poll_timeout().unwrap();
            out.push(t - b.now);
            b.advance(t - b.now);
        }
        out
    };
    assert_eq!(waits(1), waits(1));
    assert_ne!(waits(1), waits(2));
}

#[test]
fn a_connection_that_never_opens_is_abandoned() {
    let mut b = Board::new();
    b.sent();
    assert!(matches!(b.links[..], [Link::Connect { .. }]));
    b.links.clear();
    b.advance(Duration::from_secs(5));
    b.sent();
    assert!(matches!(b.links[..], [Link::Close { .. }]), "{:?}", b.links);
    assert!(b.events().is_empty());
    // The next attempt after the back-off.
    b.links.clear();
    b.advance(Duration::from_secs(1));
    b.sent();
    assert!(
        matches!(b.links[..], [Link::Connect { .. }]),
        "{:?}",
        b.links
    );
}

#[test]
fn a_tcp_close_mid_command_fails_it_and_loses_the_connections() {
    let mut b = Board::up();
    b.command(create("0", 1, None));
    b.answer_all(false);
    b.command(delete("0", 1));
    b.command(create("1", 2, Some(media(4000))));
    b.command(Command::StopRing { line: line("1") });
    b.command(Command::Audit { line: line("1") });
    let sent = b.sent();
    assert_eq!(sent.len(), 2);
    b.ack(&sent[1]); // the open of channel 1: its activation in flight
    b.sent();
    b.events();
    let link = b.link.unwrap();
    b.host.handle_closed(b.now, link);
    assert_eq!(
        b.events(),
        vec![
            // In flight first, by channel: the delete, then the create.
            Event::ConnectionDeleted {
                line: line("0"),
                call: CallId(1)
            },
            Event::CommandFailed {
                line: line("1"),
                call: Some(CallId(2)),
                code: code::NOT_READY,
                reason: "the connection to the board closed".into()
            },
            Event::CommandFailed {
                line: line("1"),
                call: None,
                code: code::NOT_READY,
                reason: "the connection to the board closed".into()
            },
            Event::CommandFailed {
                line: line("1"),
                call: None,
                code: code::NOT_READY,
                reason: "the connection to the board closed".into()
            },
            Event::GatewayDown {
                gateway: GatewayId::new("b1"),
                reason: DownReason::Unreachable
            },
        ]
    );
    b.sent();
    assert!(b.links.is_empty(), "closed by the driver: no Close asked");
    // What the old connection still delivers is ignored.
    b.host.handle_stream(b.now, link, &[0; 20]);
    b.host.handle_closed(b.now, link);
    b.host.handle_connected(b.now, link);
    assert_eq!(b.host.stats().stale_link, 3);
    // Commands meanwhile fail at once.
    b.command(Command::StopRing { line: line("0") });
    assert_eq!(
        failed(&b.events()),
        vec![(line("0"), None, code::NOT_READY)]
    );
}

#[test]
fn a_frame_error_closes_the_connection_and_a_bad_message_does_not() {
    let mut b = Board::up();
    // Malformed (truncated structure) and unknown ids: dropped, counted; the session stays.
    let mut off = b.event_bytes(0, &WEvent::OffHook);
    let mut truncated = b.event_bytes(
        0,
        &WEvent::CommandAck {
            seq: Seq(1),
            command_id: 3,
        },
    );
    truncated.truncate(20);
    let len = u16::try_from(truncated.len() - 4).unwrap();
    truncated[2..4].copy_from_slice(&len.to_be_bytes());
    b.board_sends(&truncated);
    let mut unknown = off.clone();
    unknown[8..12].copy_from_slice(&999u32.to_be_bytes());
    b.board_sends(&unknown);
    assert_eq!(
        (b.host.stats().malformed, b.host.stats().unknown_id),
        (1, 1)
    );
    assert!(b.host.is_up(&GatewayId::new("b1")));
    // Several messages in one read, and one split across reads.
    let mut two = off.clone();
    two.extend(b.event_bytes(0, &WEvent::OnHook));
    let on_again = b.event_bytes(0, &WEvent::OffHook);
    two.extend_from_slice(&on_again[..5]);
    b.board_sends(&two);
    b.board_sends(&on_again[5..]);
    assert_eq!(b.events().len(), 3);
    // A length below a header's: the stream cannot be read further.
    off[2..4].copy_from_slice(&2u16.to_be_bytes());
    b.board_sends(&off);
    assert_eq!(b.host.stats().frame_errors, 1);
    assert!(!b.host.is_up(&GatewayId::new("b1")));
    b.sent();
    assert!(matches!(b.links[..], [Link::Close { .. }]));
    assert_eq!(
        b.events(),
        vec![Event::GatewayDown {
            gateway: GatewayId::new("b1"),
            reason: DownReason::Unreachable
        }]
    );
}

#[test]
fn bad_input_never_panics_and_is_counted() {
    let mut b = Board::up();
    let samples = [
        b.event_bytes(0, &WEvent::OffHook),
        b.event_bytes(1, &digits(&[1, 2, 3])),
        b.event_bytes(
            -1,
            &WEvent::CommandAck {
                seq: Seq(9),
                command_id: 4,
            },
        ),
        b.event_bytes(
            0,
            &WEvent::Error {
                code: 1,
                text: "e".into(),
            },
        ),
        b.event_bytes(
            0,
            &WEvent::FxsStatus {
                off_hook: true,
                ringing: true,
                message_waiting: true,
            },
        ),
    ];
    let mut c = config(Transport::Udp);
    c.gateways[0].lines = vec!["0".into(), "1".into()];
    let mut u = Board::with(c);
    u.answer_all(false);
    for m in &samples {
        // Every truncation, as a datagram: each one counted as a drop.
        for len in 0..m.len() {
            let before = u.host.stats().malformed + u.host.stats().unknown_id;
            u.board_sends(&m[..len]);
            assert_eq!(
                u.host.stats().malformed + u.host.stats().unknown_id,
                before + 1,
                "{len}"
            );
        }
        // Lying lengths.
        for lie in [0u16, 1, 11, 12, 100, u16::MAX] {
            let mut m = m.clone();
            m[2..4].copy_from_slice(&lie.to_be_bytes());
            u.board_sends(&m);
        }
        // Trailing bytes.
        let mut long = m.clone();
        long.push(0);
        u.board_sends(&long);
    }
    assert!(u.host.is_up(&GatewayId::new("b1")));
    // Over TCP the same bytes (a length that lies the stream out of step) at worst end the
    // session, counted.
    for m in &samples {
        for len in 0..m.len() {
            if b.link.is_none() || !b.host.is_up(&GatewayId::new("b1")) {
                b = Board::up();
            }
            b.board_sends(&m[..len]);
        }
    }
    // From a stranger.
    u.host
        .handle_datagram(u.now, "127.0.0.1:9".parse().unwrap(), &samples[0]);
    assert_eq!(u.host.stats().unknown_source, 1);
}

#[test]
fn udp_retransmits_with_the_same_sequence_number_then_gives_up() {
    let mut b = Board::with(config(Transport::Udp));
    // No connection: the re-sync starts at once.
    let first = b.sent();
    assert_eq!(first.len(), 2);
    assert!(b.links.is_empty());
    // Retransmissions after 0.5, 1.5 and 3.5 s (0.5 s doubling), same sequence number.
    let mut times = Vec::new();
    for _ in 0..3 {
        let t = b.host.poll_timeout().unwrap();
        b.advance(t - b.now);
        let again = b.sent();
        assert_eq!(again.len(), 2);
        assert_eq!(again[0].header.seq, first[0].header.seq);
        times.push(b.since_start());
    }
    assert_eq!(times, vec![ms(500), ms(1500), ms(3500)]);
    assert_eq!(b.host.stats().retransmits, 6);
    // Acknowledging the retransmission of one of them: its line goes on.
    b.ack(&first[0]);
    assert_eq!(
        b.events(),
        vec![Event::GatewayUp {
            gateway: GatewayId::new("b1")
        }]
    );
    assert_eq!(
        commands(&b.sent()),
        vec![WCommand::StopTone {
            channel: Channel(0)
        }]
    );
    // The other's last wait ends at 4 s: the board is given up.
    let t = b.host.poll_timeout().unwrap();
    b.advance(t - b.now);
    assert_eq!(b.since_start(), ms(4000));
    assert!(b.events().contains(&Event::GatewayDown {
        gateway: GatewayId::new("b1"),
        reason: DownReason::Unreachable
    }));
    b.sent();
    // A datagram between sessions is ignored; the re-sync starts again after the back-off.
    b.event(0, WEvent::OffHook);
    assert_eq!(b.host.stats().stale_link, 1);
    b.advance(Duration::from_secs(1));
    let again = b.sent();
    assert_eq!(again.len(), 2);
    assert!(again[0].header.seq > first[1].header.seq);
    b.ack(&again[0]);
    b.ack(&again[1]);
    b.answer_all(false);
    assert!(b.host.is_up(&GatewayId::new("b1")));
}

#[test]
fn udp_without_retransmissions_waits_the_whole_timeout() {
    let mut c = config(Transport::Udp);
    c.max_retransmits = 0;
    let mut b = Board::with(c);
    b.sent();
    b.advance(ms(3999));
    assert!(b.sent().is_empty());
    b.advance(ms(1));
    assert_eq!(b.host.stats().ack_timeouts, 1);
}

#[test]
fn a_board_without_lines_is_probed_on_channel_zero() {
    let mut c = config(Transport::Tcp);
    c.gateways[0].lines.clear();
    let mut b = Board::with(c);
    b.accept();
    let sent = b.sent();
    assert_eq!(
        commands(&sent),
        vec![WCommand::QueryStatus {
            channel: Channel(0)
        }]
    );
    // An error is an answer too.
    b.event(
        0,
        WEvent::Error {
            code: 2,
            text: "no such channel".into(),
        },
    );
    assert_eq!(
        b.events(),
        vec![Event::GatewayUp {
            gateway: GatewayId::new("b1")
        }]
    );
}

#[test]
fn lines_added_and_removed() {
    let mut b = Board::up();
    b.command(Command::AddLine { line: line("5") });
    let q = b.answer_all(true);
    assert_eq!(
        commands(&q),
        vec![WCommand::QueryStatus {
            channel: Channel(5)
        }]
    );
    assert_eq!(
        b.events(),
        vec![Event::LineStatus {
            line: line("5"),
            off_hook: true
        }]
    );
    // Added again: audited again.
    b.command(Command::AddLine { line: line("5") });
    assert_eq!(b.answer_all(true).len(), 1);
    b.events();
    b.command(Command::RemoveLine { line: line("5") });
    // Its signals stopped, then nothing more taken from it.
    assert_eq!(
        commands(&b.answer_all(true)),
        vec![
            WCommand::Ring {
                channel: Channel(5),
                on: false,
                pattern: 0,
                caller_id: None
            },
            WCommand::StopTone {
                channel: Channel(5)
            },
        ]
    );
    b.event(5, WEvent::OnHook);
    b.command(Command::StopRing { line: line("5") });
    assert_eq!(
        failed(&b.events()),
        vec![(line("5"), None, code::UNKNOWN_LINE)]
    );
    assert_eq!(b.host.stats().unknown_channel, 1);
    // Bad names, and a port beyond 65535.
    b.command(Command::AddLine { line: line("05") });
    b.command(Command::AddLine { line: line("1023") });
    b.command(Command::RemoveLine { line: line("x") });
    assert_eq!(
        failed(&b.events()),
        vec![(line("05"), None, code::UNKNOWN_LINE)]
    );
    let mut c = config(Transport::Tcp);
    c.gateways[0].rtp_port = 60000;
    let mut b = Board::with(c);
    b.command(Command::AddLine { line: line("600") });
    assert_eq!(
        failed(&b.events()),
        vec![(line("600"), None, code::UNKNOWN_LINE)]
    );
    // Added while not connected: synced with the others.
    b.command(Command::AddLine { line: line("2") });
    assert!(b.events().is_empty());
    b.accept();
    let sent = b.answer_all(false);
    assert_eq!(sent.len(), 12);
}

#[test]
fn too_many_lines() {
    let mut c = config(Transport::Tcp);
    c.gateways[0].lines = (0..MAX_LINES_PER_GATEWAY).map(|n| n.to_string()).collect();
    let mut b = Board::with(c);
    b.command(Command::AddLine { line: line("300") });
    assert_eq!(
        failed(&b.events()),
        vec![(line("300"), None, code::INSUFFICIENT_RESOURCES)]
    );
}

#[test]
fn a_new_address_reconnects_there() {
    let mut b = Board::up();
    let moved: SocketAddr = "127.0.0.1:2425".parse().unwrap();
    // The same address, or an unspecified one: nothing.
    for address in [BOARD.parse().unwrap(), "0.0.0.0:2424".parse().unwrap()] {
        b.command(Command::GatewayAddress {
            gateway: GatewayId::new("b1"),
            address,
        });
    }
    b.sent();
    assert!(b.links.is_empty());
    b.command(Command::GatewayAddress {
        gateway: GatewayId::new("b1"),
        address: moved,
    });
    b.sent();
    assert!(
        matches!(&b.links[..], [Link::Close { .. }, Link::Connect { address, .. }] if *address == moved),
        "{:?}",
        b.links
    );
    assert!(b.events().contains(&Event::GatewayDown {
        gateway: GatewayId::new("b1"),
        reason: DownReason::Unreachable
    }));
    // A board configured without an address connects once it has one.
    let mut c = config(Transport::Tcp);
    c.gateways[0].address = None;
    let mut b = Board::with(c);
    b.sent();
    assert!(b.links.is_empty());
    b.command(Command::StopRing { line: line("0") });
    assert_eq!(
        failed(&b.events()),
        vec![(line("0"), None, code::NOT_READY)]
    );
    b.command(Command::GatewayAddress {
        gateway: GatewayId::new("b1"),
        address: BOARD.parse().unwrap(),
    });
    b.accept();
    b.answer_all(false);
    assert!(b.host.is_up(&GatewayId::new("b1")));
}

#[test]
fn udp_boards_move_only_to_a_free_address() {
    let mut c = config(Transport::Udp);
    let mut other = c.gateways[0].clone();
    other.id = GatewayId::new("b2");
    other.address = Some("127.0.0.1:2500".parse().unwrap());
    c.gateways.push(other);
    let mut b = Board::with(c);
    b.answer_all(false);
    b.events();
    b.command(Command::GatewayAddress {
        gateway: GatewayId::new("b1"),
        address: "127.0.0.1:2500".parse().unwrap(),
    });
    assert!(b.host.is_up(&GatewayId::new("b1")));
    b.command(Command::GatewayAddress {
        gateway: GatewayId::new("b1"),
        address: "127.0.0.1:2600".parse().unwrap(),
    });
    // Re-synced at the new address; the old one is a stranger now.
    let moved: Vec<Transmit> = std::iter::from_fn(|| b.host.poll_transmit()).collect();
    assert!(moved.iter().all(|t| t.destination.port() == 2600));
    assert_eq!(moved.len(), 2);
    b.host
        .handle_datagram(b.now, BOARD.parse().unwrap(), &[0; 16]);
    assert_eq!(b.host.stats().unknown_source, 1);
}

#[test]
fn little_endian_boards() {
    let mut c = config(Transport::Tcp);
    c.gateways[0].byte_order = ByteOrder::Little;
    let mut b = Board::with(c);
    b.accept();
    let sent = b.sent();
    assert_eq!(sent[0].header.order, ByteOrder::Little);
    b.ack(&sent[0]);
    b.ack(&sent[1]);
    b.answer_all(false);
    assert!(b.host.is_up(&GatewayId::new("b1")));
}

#[test]
fn counters_are_named_for_metrics() {
    let b = Board::up();
    let names: Vec<&str> = b.host.stats().counters().map(|(n, _)| n).collect();
    assert!(names.contains(&"acks_unmatched") && names.contains(&"frame_errors"));
    let mut unique = names.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), names.len());
    assert!(
        b.host
            .stats()
            .counters()
            .any(|(n, v)| n == "acks" && v == 8)
    );
    assert!(b.host.timers.len() >= 1);
    assert_eq!(
        b.host.timers.get(Timer::Keepalive(0)),
        Some(b.now + Duration::from_secs(10))
    );
}

#[test]
fn a_refused_open_sends_no_close() {
    let mut b = Board::up();
    // A first call opens and closes the channel.
    b.command(create("0", 1, None));
    b.answer_all(false);
    b.command(delete("0", 1));
    b.answer_all(false);
    b.events();
    // The next one is refused at its open: nothing was opened, nothing to close.
    b.command(create("0", 2, Some(media(4000))));
    let open = b.sent();
    assert!(matches!(open[0].command, WCommand::OpenChannel { .. }));
    b.event(
        0,
        WEvent::Error {
            code: 9,
            text: "busy".into(),
        },
    );
    assert_eq!(failed(&b.events()), vec![(line("0"), Some(CallId(2)), 9)]);
    assert!(b.sent().is_empty());
}

#[test]
fn deleted_connections_are_not_lost_later() {
    let mut b = Board::up();
    b.command(create("0", 1, Some(media(4000))));
    b.command(create("1", 2, None));
    b.answer_all(false);
    b.command(delete("0", 1));
    b.answer_all(false);
    // A delete the board refuses: gone all the same.
    b.command(delete("1", 2));
    b.sent();
    b.event(
        1,
        WEvent::Error {
            code: 3,
            text: String::new(),
        },
    );
    b.events();
    b.close();
    assert_eq!(
        b.events(),
        vec![Event::GatewayDown {
            gateway: GatewayId::new("b1"),
            reason: DownReason::Unreachable
        }]
    );
}

#[test]
fn a_modified_remote_is_kept() {
    let mut b = Board::up();
    b.command(create("0", 1, Some(media(4000))));
    b.answer_all(false);
    for (mode, remote) in [
        (None, Some(media(5000))),
        (Some(ConnectionMode::Inactive), None),
        (Some(ConnectionMode::SendRecv), None),
    ] {
        b.command(modify("0", 1, mode, remote));
    }
    let sent = commands(&b.answer_all(false));
    let remotes: Vec<SocketAddr> = sent
        .iter()
        .filter_map(|c| match c {
            WCommand::ActivateRtp { remote, .. } => Some(*remote),
            _ => None,
        })
        .collect();
    assert_eq!(remotes, vec![media(5000).address, media(5000).address]);
    // Inactive, then a new remote while inactive: nothing sent until active again.
    b.command(modify(
        "0",
        1,
        Some(ConnectionMode::Inactive),
        Some(media(6000)),
    ));
    assert_eq!(
        commands(&b.answer_all(false)),
        vec![WCommand::DeactivateRtp {
            channel: Channel(0)
        }]
    );
    b.command(modify("0", 1, Some(ConnectionMode::SendOnly), None));
    assert!(matches!(
        commands(&b.answer_all(false))[..],
        [WCommand::ActivateRtp { remote, .. }] if remote == media(6000).address
    ));
}

#[test]
fn inputs_out_of_turn_on_a_connection() {
    let mut b = Board::new();
    b.sent();
    let Some(Link::Connect { link, .. }) = b.links.pop() else {
        panic!()
    };
    // Bytes before the connection is reported open: not taken.
    let off = b.event_bytes(0, &WEvent::OffHook);
    b.host.handle_stream(b.now, link, &off);
    assert_eq!(b.host.stats().stale_link, 1);
    assert_eq!(b.host.stats().messages_received, 0);
    b.link = Some(link);
    b.host.handle_connected(b.now, link);
    let first = b.sent();
    // Reported open twice: the second is ignored.
    b.host.handle_connected(b.now, link);
    assert_eq!(b.host.stats().stale_link, 2);
    assert!(b.sent().is_empty());
    b.ack(&first[0]);
    assert_eq!(b.host.stats().messages_received, 1);
    assert!(b.host.is_up(&GatewayId::new("b1")));
}

#[test]
fn udp_retransmissions_end_at_the_timeout_even_below_their_number() {
    // 3 s then 6 s: the second would come after the 4 s timeout, so there is one.
    let mut c = config(Transport::Udp);
    c.retransmit_interval = Duration::from_secs(3);
    let mut b = Board::with(c);
    assert_eq!(b.sent().len(), 2);
    assert_eq!(b.host.stats().commands_sent, 2);
    b.advance(Duration::from_secs(3));
    assert_eq!(b.sent().len(), 2);
    b.advance(Duration::from_secs(1));
    assert!(b.sent().is_empty());
    assert_eq!(b.host.stats().retransmits, 2);
    assert_eq!(b.host.stats().ack_timeouts, 1);
    assert_eq!(b.host.stats().commands_sent, 2);
}

#[test]
fn one_board_lost_leaves_the_others_timers_alone() {
    let mut c = config(Transport::Udp);
    let mut other = c.gateways[0].clone();
    other.id = GatewayId::new("b2");
    let b2: SocketAddr = "127.0.0.1:2500".parse().unwrap();
    other.address = Some(b2);
    c.gateways.push(other);
    let now = epoch();
    let mut host = Host::new(c, now).unwrap();
    let mut t = now;
    let mut to_b2_after_down = 0;
    let mut down = false;
    let mut seq = Seq(0);
    // b1 answers nothing; b2 everything, for a minute.
    while t < now + Duration::from_secs(60) {
        while let Some(x) = host.poll_transmit() {
            if x.destination != b2 {
                continue;
            }
            to_b2_after_down += usize::from(down);
            let s = decode(&x.contents);
            let mut reply = |e: WEvent| {
                seq = seq.next();
                let mut out = Vec::new();
                let h = Header {
                    order: ByteOrder::Big,
                    version: wire::VERSION,
                    seq,
                };
                wire::encode_event(&h, s.channel(), &e, &mut out);
                host.handle_datagram(t, b2, &out);
            };
            reply(WEvent::CommandAck {
                seq: s.header.seq,
                command_id: wire::command_id(&s.command),
            });
            if matches!(s.command, WCommand::QueryStatus { .. }) {
                reply(WEvent::FxsStatus {
                    off_hook: false,
                    ringing: false,
                    message_waiting: false,
                });
            }
        }
        while let Some(e) = host.poll_event() {
            assert!(!matches!(e, Event::GatewayDown { .. }), "{e:?}");
        }
        // b1 never came up: its session is lost (and retried) without a GatewayDown.
        down |= host.stats().ack_timeouts > 0;
        t += ms(100);
        if host.poll_timeout().is_some_and(|d| d <= t) {
            host.handle_timeout(t);
        }
    }
    assert!(host.is_up(&GatewayId::new("b2")));
    assert!(!host.is_up(&GatewayId::new("b1")));
    // b2's keep-alive probes went on after b1's losses.
    assert!(to_b2_after_down >= 4, "{to_b2_after_down}");
}

mod trunk;
