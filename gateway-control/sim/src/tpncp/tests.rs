//! Scenario tests of the board core in virtual time: a scripted host sends encoded commands,
//! reads the board's events back with the wire decoder, and time jumps to each
//! `poll_timeout`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::tpncp::wire::{
    self, AnalogSignal, ByteOrder, CallerIdText, Channel, Coder, Command, DigitEntry, Event,
    Header, Seq, ToneType, VERSION, id,
};

use super::*;
use crate::analog::*;
use crate::{Transmit, Via};

const HOST: &str = "127.0.0.1:40512";
const REMOTE: &str = "127.0.0.1:16400";

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// One event the board sent on its control channel, decoded.
#[derive(Debug, Clone, PartialEq)]
struct Sent {
    to: SocketAddr,
    order: ByteOrder,
    seq: Seq,
    channel: Channel,
    event: Event,
}

struct Harness {
    board: Board,
    now: Instant,
    host: SocketAddr,
    order: ByteOrder,
    next_seq: u16,
    /// Control messages not yet looked at.
    sent: Vec<Sent>,
    rtp: Vec<Transmit>,
    outputs: Vec<Output>,
}

impl Harness {
    fn new(config: Config) -> Self {
        Self {
            board: Board::new(config).unwrap(),
            now: epoch(),
            host: HOST.parse().unwrap(),
            order: ByteOrder::Big,
            next_seq: 1,
            sent: Vec::new(),
            rtp: Vec::new(),
            outputs: Vec::new(),
        }
    }

    fn lines(n: usize) -> Self {
        Self::new(Config::new(n).unwrap())
    }

    fn drain(&mut self) {
        while let Some(t) = self.board.poll_transmit() {
            match t.via {
                Via::Control => {
                    let (header, channel, event) =
                        wire::decode_event(&t.contents).expect("the board's events decode");
                    assert_eq!(header.version, VERSION);
                    self.sent.push(Sent {
                        to: t.destination,
                        order: header.order,
                        seq: header.seq,
                        channel,
                        event,
                    });
                }
                Via::Rtp(_) => self.rtp.push(t),
            }
        }
        while let Some(o) = self.board.poll_output() {
            self.outputs.push(o);
        }
    }

    /// Sends raw bytes from the host.
    fn raw(&mut self, data: &[u8]) {
        self.board.handle_datagram(self.now, self.host, data);
        self.drain();
    }

    /// Sends a command; returns its sequence number.
    fn send(&mut self, c: &Command) -> u16 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let mut out = Vec::new();
        let header = Header {
            order: self.order,
            version: VERSION,
            seq: Seq(seq),
        };
        wire::encode_command(&header, c, &mut out);
        self.raw(&out);
        seq
    }

    fn line(&mut self, c: LineCommand) {
        self.board.handle_line(self.now, c);
        self.drain();
    }

    /// Moves time to `at`, firing every timeout on the way.
    fn advance_to(&mut self, at: Instant) {
        while let Some(t) = self.board.poll_timeout().filter(|&t| t <= at) {
            self.now = self.now.max(t);
            self.board.handle_timeout(self.now);
            self.drain();
        }
        self.now = at;
    }

    fn advance(&mut self, d: Duration) {
        self.advance_to(self.now + d);
    }

    fn take_sent(&mut self) -> Vec<Sent> {
        std::mem::take(&mut self.sent)
    }

    fn take_events(&mut self) -> Vec<(Channel, Event)> {
        self.take_sent()
            .into_iter()
            .map(|s| (s.channel, s.event))
            .collect()
    }

    fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    /// Sends `c` and asserts it was acknowledged (first of the events it caused, returned
    /// after it).
    fn ok(&mut self, c: &Command) -> Vec<(Channel, Event)> {
        let seq = self.send(c);
        let mut events = self.take_events();
        assert!(!events.is_empty(), "no answer to {c:?}");
        let (channel, ack) = events.remove(0);
        assert_eq!(channel, c.channel());
        assert_eq!(
            ack,
            Event::CommandAck {
                seq: Seq(seq),
                command_id: wire::command_id(c),
            },
            "{c:?}"
        );
        events
    }

    /// Sends `c` and asserts it was refused with `code`; returns the error's text.
    fn refused(&mut self, c: &Command, code: ErrorCode) -> String {
        let seq = self.send(c);
        let events = self.take_events();
        assert_eq!(events.len(), 1, "{c:?}: {events:?}");
        let (channel, Event::Error { code: got, text }) = events[0].clone() else {
            panic!("{c:?} answered {events:?}");
        };
        assert_eq!(channel, c.channel());
        assert_eq!(got, code.code(), "{c:?}: {text}");
        let line = usize::try_from(c.channel().0)
            .ok()
            .filter(|&ch| ch < self.board.config().lines)
            .map(|ch| ch as u16 + 1);
        assert!(
            self.take_outputs().contains(&Output::HostCommand {
                line,
                verb: execute_verb(c),
                seq,
                code: code.code(),
            }),
            "{c:?}"
        );
        text
    }

    fn open(&mut self, channel: i32, coder: Coder) {
        self.ok(&Command::OpenChannel {
            channel: Channel(channel),
            coder,
            frames_per_packet: 2,
            dtmf_payload_type: 101,
        });
    }

    fn activate(&mut self, channel: i32, pt: i32) {
        self.ok(&activate(channel, 6000 + 10 * channel as u16, pt));
    }
}

fn execute_verb(c: &Command) -> &'static str {
    execute::verb(wire::command_id(c))
}

fn activate(channel: i32, port: u16, pt: i32) -> Command {
    Command::ActivateRtp {
        channel: Channel(channel),
        local_rtp_port: port,
        remote: REMOTE.parse().unwrap(),
        tx_payload_type: pt,
        rx_payload_type: pt,
    }
}

fn ring(channel: i32, on: bool) -> Command {
    Command::Ring {
        channel: Channel(channel),
        on,
        pattern: 0,
        caller_id: None,
    }
}

#[test]
fn every_command_is_acknowledged_and_printed() {
    let mut h = Harness::lines(2);
    h.open(1, Coder::Mulaw);
    assert_eq!(
        h.take_outputs(),
        [
            Output::Host {
                event: "connected",
                peer: h.host,
                reason: None
            },
            Output::HostCommand {
                line: Some(2),
                verb: "acCMD_OPEN_CHANNEL",
                seq: 1,
                code: 0,
            }
        ]
    );
    h.activate(1, 0);
    let out = h.take_outputs();
    assert!(
        matches!(
            &out[1],
            Output::Connection {
                line: 2,
                action: ConnectionAction::Created,
                id,
                mode: "sendrecv",
                codec: "PCMU",
                local,
                remote: Some(r),
                ..
            } if id == "1" && local.port() == 6010 && r.to_string() == REMOTE
        ),
        "{out:?}"
    );
    // Activated again with another remote: modified.
    let mut again = activate(1, 6010, 0);
    if let Command::ActivateRtp { remote, .. } = &mut again {
        *remote = "127.0.0.1:16500".parse().unwrap();
    }
    h.ok(&again);
    assert!(h.take_outputs().iter().any(|o| matches!(
        o,
        Output::Connection { action: ConnectionAction::Modified, remote: Some(r), .. } if r.port() == 16500
    )));
    h.ok(&Command::PlayTone {
        channel: Channel(0),
        tone: ToneType::Busy,
        duration_ms: 0,
    });
    h.ok(&Command::StopTone {
        channel: Channel(0),
    });
    h.ok(&Command::SendAnalogSignal {
        channel: Channel(0),
        signal: AnalogSignal::HookFlash,
        duration_ms: 300,
    });
    h.ok(&Command::MessageWaiting {
        channel: Channel(0),
        on: true,
    });
    h.ok(&Command::MessageWaiting {
        channel: Channel(0),
        on: false,
    });
    assert_eq!(
        h.take_outputs()
            .into_iter()
            .filter(|o| !matches!(o, Output::HostCommand { .. }))
            .collect::<Vec<_>>(),
        [
            Output::Signal {
                line: 1,
                name: "busy".into(),
                params: None
            },
            Output::SignalStopped {
                line: 1,
                name: "busy".into(),
                reason: StopReason::Replaced
            },
            Output::Signal {
                line: 1,
                name: "hookflash".into(),
                params: Some("duration=300".into())
            },
            Output::Signal {
                line: 1,
                name: "lamp".into(),
                params: None
            },
            Output::SignalStopped {
                line: 1,
                name: "lamp".into(),
                reason: StopReason::Replaced
            },
        ]
    );
    let after = h.ok(&Command::QueryStatus {
        channel: Channel(0),
    });
    assert_eq!(
        after,
        [(
            Channel(0),
            Event::FxsStatus {
                off_hook: false,
                ringing: false,
                message_waiting: false
            }
        )]
    );
    assert_eq!(h.ok(&ring(0, true)), [(Channel(0), Event::RingStart)]);
    assert_eq!(h.ok(&ring(0, false)), [(Channel(0), Event::RingEnd)]);
    h.ok(&Command::DeactivateRtp {
        channel: Channel(1),
    });
    h.ok(&Command::CloseChannel {
        channel: Channel(1),
    });
    // Closing, stopping what is not on: acknowledged (a host re-syncing does it).
    h.ok(&Command::CloseChannel {
        channel: Channel(1),
    });
    h.ok(&Command::StopTone {
        channel: Channel(1),
    });
    h.ok(&ring(1, false));
    let deleted = h
        .take_outputs()
        .into_iter()
        .filter(|o| {
            matches!(
                o,
                Output::Connection {
                    action: ConnectionAction::Deleted,
                    ..
                }
            )
        })
        .count();
    assert_eq!(deleted, 1);
    assert_eq!(h.board.stats().commands, 16);
    assert_eq!(h.board.stats().refused, 0);
}

#[test]
fn refusals_carry_their_code_on_the_channel() {
    let mut h = Harness::lines(2);
    let no_channel = h.refused(
        &Command::QueryStatus {
            channel: Channel(2),
        },
        ErrorCode::UnknownChannel,
    );
    assert!(no_channel.contains("no channel 2"), "{no_channel}");
    h.refused(&ring(-1, true), ErrorCode::UnknownChannel);
    h.refused(&activate(0, 6000, 0), ErrorCode::ChannelClosed);
    h.refused(
        &Command::DeactivateRtp {
            channel: Channel(0),
        },
        ErrorCode::ChannelClosed,
    );
    h.refused(
        &Command::OpenChannel {
            channel: Channel(0),
            coder: Coder::Alaw,
            frames_per_packet: 0,
            dtmf_payload_type: 0,
        },
        ErrorCode::BadParameter,
    );
    h.open(0, Coder::Alaw);
    h.refused(
        &Command::OpenChannel {
            channel: Channel(0),
            coder: Coder::Alaw,
            frames_per_packet: 2,
            dtmf_payload_type: 0,
        },
        ErrorCode::ChannelOpen,
    );
    let port = h.refused(&activate(0, 6010, 8), ErrorCode::WrongPort);
    assert!(port.contains("6010") && port.contains("6000"), "{port}");
    let pt = h.refused(&activate(0, 6000, 0), ErrorCode::BadParameter);
    assert!(pt.contains("PCMA"), "{pt}");
    let mut nowhere = activate(0, 6000, 8);
    if let Command::ActivateRtp { remote, .. } = &mut nowhere {
        *remote = "0.0.0.0:16400".parse().unwrap();
    }
    h.refused(&nowhere, ErrorCode::BadParameter);
    // The driver bound only channel 1's port.
    h.board.add_rtp_port(6010);
    h.refused(&activate(0, 6000, 8), ErrorCode::NoRtpPort);
    h.line(LineCommand::OffHook(1));
    h.take_events();
    let off = h.refused(&ring(0, true), ErrorCode::OffHook);
    assert!(off.contains("off-hook"), "{off}");
    assert_eq!(h.board.stats().refused, 11);
    assert_eq!(h.board.stats().commands, 1);
}

#[test]
fn hook_keys_and_flash_become_events() {
    let mut h = Harness::lines(2);
    // No host yet: the events are lost (counted), the outputs printed.
    h.line(LineCommand::OffHook(2));
    h.line(LineCommand::OnHook(2));
    assert!(h.take_sent().is_empty());
    assert_eq!(h.board.stats().events_unsent, 2);
    assert_eq!(h.take_outputs().len(), 2);
    // A command makes its sender the host.
    h.ok(&Command::QueryStatus {
        channel: Channel(1),
    });
    h.line(LineCommand::OffHook(2));
    h.line(LineCommand::Digits(2, "1#*D".into()));
    h.line(LineCommand::Flash(2));
    h.line(LineCommand::OnHook(2));
    let entry = |digit| {
        Event::Digits(vec![DigitEntry {
            digit,
            on_time_ms: 100,
            inter_digit_ms: 100,
        }])
    };
    let sent = h.take_sent();
    assert!(
        sent.iter()
            .all(|s| s.to == h.host && s.channel == Channel(1))
    );
    assert_eq!(
        sent.iter().map(|s| s.event.clone()).collect::<Vec<_>>(),
        [
            Event::OffHook,
            entry(1),
            entry(11),
            entry(10),
            entry(15),
            Event::FlashHook,
            Event::OnHook
        ]
    );
    // The board numbers its events one after another.
    for w in sent.windows(2) {
        assert_eq!(w[1].seq, w[0].seq.next());
    }
    let out = h.take_outputs();
    assert_eq!(
        out[0],
        Output::Host {
            event: "connected",
            peer: h.host,
            reason: None
        }
    );
    assert!(out.contains(&Output::Digit {
        line: 2,
        digit: '#'
    }));
    assert!(out.contains(&Output::Flash { line: 2 }));
    // On-hook: keys and flash are refused, as is a line that does not exist.
    h.line(LineCommand::Digits(2, "1".into()));
    h.line(LineCommand::Flash(2));
    h.line(LineCommand::OnHook(2));
    h.line(LineCommand::OffHook(3));
    assert!(h.take_sent().is_empty());
    assert_eq!(h.board.stats().line_commands_refused, 4);
}

#[test]
fn the_ring_follows_its_cadence_and_stops_on_off_hook() {
    let mut h = Harness::lines(1);
    let cid = CallerIdText {
        number: Some("2041".into()),
        name: Some("Alice".into()),
    };
    let t0 = h.now;
    h.ok(&Command::Ring {
        channel: Channel(0),
        on: true,
        pattern: 0,
        caller_id: Some(cid),
    });
    assert!(h.take_outputs().contains(&Output::Signal {
        line: 1,
        name: "ring".into(),
        params: Some("number=2041 name=Alice".into()),
    }));
    assert_eq!(h.board.poll_timeout(), Some(t0 + ms(2000)));
    h.advance_to(t0 + ms(2000));
    assert_eq!(h.take_events(), [(Channel(0), Event::RingEnd)]);
    h.advance_to(t0 + ms(6000));
    assert_eq!(h.take_events(), [(Channel(0), Event::RingStart)]);
    let status = h.ok(&Command::QueryStatus {
        channel: Channel(0),
    });
    assert_eq!(
        status,
        [(
            Channel(0),
            Event::FxsStatus {
                off_hook: false,
                ringing: true,
                message_waiting: false
            }
        )]
    );
    h.take_outputs();
    h.advance_to(t0 + ms(7000));
    h.line(LineCommand::OffHook(1));
    assert_eq!(
        h.take_events(),
        [(Channel(0), Event::OffHook), (Channel(0), Event::RingEnd)]
    );
    assert_eq!(
        h.take_outputs(),
        [
            Output::Hook {
                line: 1,
                off_hook: true,
                auto: false
            },
            Output::SignalStopped {
                line: 1,
                name: "ring".into(),
                reason: StopReason::Hook
            },
            Output::Ringing { line: 1, on: false },
        ]
    );
    assert_eq!(h.board.poll_timeout(), None);
}

#[test]
fn a_distinctive_ring_stopped_in_its_silence_sends_no_end() {
    let mut h = Harness::lines(1);
    let t0 = h.now;
    h.ok(&Command::Ring {
        channel: Channel(0),
        on: true,
        pattern: 1,
        caller_id: None,
    });
    // Pattern 1: 800 ms on, 400 off, 800 on, 4 s off.
    h.advance_to(t0 + ms(800));
    h.advance_to(t0 + ms(1200));
    h.advance_to(t0 + ms(2000));
    h.advance_to(t0 + ms(2500));
    assert_eq!(
        h.take_events(),
        [
            (Channel(0), Event::RingEnd),
            (Channel(0), Event::RingStart),
            (Channel(0), Event::RingEnd),
        ]
    );
    assert!(h.ok(&ring(0, false)).is_empty());
}

#[test]
fn autoanswer_picks_up_a_ringing_line() {
    let mut h = Harness::lines(1);
    h.line(LineCommand::AutoAnswer(1, true));
    let t0 = h.now;
    h.ok(&ring(0, true));
    h.advance_to(t0 + ms(1000));
    assert_eq!(
        h.take_events(),
        [(Channel(0), Event::OffHook), (Channel(0), Event::RingEnd)]
    );
    assert!(h.take_outputs().contains(&Output::Hook {
        line: 1,
        off_hook: true,
        auto: true
    }));
}

#[test]
fn a_timed_tone_ends_and_on_hook_stops_a_tone() {
    let mut h = Harness::lines(1);
    let t0 = h.now;
    h.ok(&Command::PlayTone {
        channel: Channel(0),
        tone: ToneType::Dial,
        duration_ms: 5000,
    });
    h.advance_to(t0 + ms(5000));
    let out = h.take_outputs();
    assert_eq!(
        out[2..],
        [
            Output::Signal {
                line: 1,
                name: "dial".into(),
                params: Some("duration=5000".into())
            },
            Output::SignalStopped {
                line: 1,
                name: "dial".into(),
                reason: StopReason::Timeout
            }
        ]
    );
    h.line(LineCommand::OffHook(1));
    assert_eq!(h.take_events(), [(Channel(0), Event::OffHook)]);
    h.ok(&Command::PlayTone {
        channel: Channel(0),
        tone: ToneType::Other(99),
        duration_ms: 0,
    });
    h.take_outputs();
    h.line(LineCommand::OnHook(1));
    assert!(h.take_outputs().contains(&Output::SignalStopped {
        line: 1,
        name: "tone_99".into(),
        reason: StopReason::Hook
    }));
}

#[test]
fn keepalive_goes_to_a_connected_host_only() {
    let mut config = Config::new(1).unwrap();
    config.keepalive(Some(Duration::from_secs(5))).unwrap();
    let mut h = Harness::new(config);
    assert_eq!(h.board.poll_timeout(), None, "no host, no keep-alive");
    let t0 = h.now;
    h.board.handle_connected(t0, h.host);
    h.drain();
    h.ok(&Command::QueryStatus {
        channel: Channel(0),
    });
    h.advance_to(t0 + Duration::from_secs(10));
    let sent = h.take_sent();
    assert_eq!(sent.len(), 2);
    for s in &sent {
        assert_eq!(s.to, h.host);
        assert_eq!(s.channel, Channel(-1));
        assert_eq!(
            s.event,
            Event::KeepAlive {
                commands_processed: 1
            }
        );
    }
    assert_eq!(h.board.stats().keepalives, 2);
    h.board
        .handle_disconnected(h.now, h.host, Disconnect::Closed);
    h.drain();
    assert_eq!(h.board.poll_timeout(), None);
    assert_eq!(
        h.take_outputs().last(),
        Some(&Output::Host {
            event: "disconnected",
            peer: h.host,
            reason: None
        })
    );
}

#[test]
fn answers_follow_the_host_byte_order_and_events_go_to_the_tcp_host() {
    let mut h = Harness::lines(1);
    let tcp: SocketAddr = "127.0.0.1:40600".parse().unwrap();
    h.board.handle_connected(h.now, tcp);
    h.drain();
    // A UDP sender while the TCP host is up: answered, in its order, but not the host.
    h.order = ByteOrder::Little;
    h.send(&Command::QueryStatus {
        channel: Channel(0),
    });
    h.line(LineCommand::OffHook(1));
    let sent = h.take_sent();
    assert_eq!(
        sent.iter().map(|s| (s.to, s.order)).collect::<Vec<_>>(),
        [
            (h.host, ByteOrder::Little),
            (h.host, ByteOrder::Little),
            (tcp, ByteOrder::Big),
        ]
    );
    // The TCP host speaks little-endian: events follow.
    h.host = tcp;
    h.ok(&Command::QueryStatus {
        channel: Channel(0),
    });
    h.line(LineCommand::OnHook(1));
    assert!(h.take_sent().iter().all(|s| s.order == ByteOrder::Little));
    // A new connection replaces it; the state stays.
    h.board
        .handle_disconnected(h.now, tcp, Disconnect::Replaced);
    let new: SocketAddr = "127.0.0.1:40700".parse().unwrap();
    h.board.handle_connected(h.now, new);
    h.drain();
    h.line(LineCommand::OffHook(1));
    let sent = h.take_sent();
    assert_eq!((sent[0].to, sent[0].order), (new, ByteOrder::Big));
    assert_eq!(h.board.stats().connections, 2);
    let out = h.take_outputs();
    assert!(out.contains(&Output::Host {
        event: "disconnected",
        peer: tcp,
        reason: Some("replaced".into())
    }));
}

#[test]
fn only_the_controller_is_heard() {
    let mut config = Config::new(1).unwrap();
    config.controller = Some("192.0.2.1".parse().unwrap());
    let mut h = Harness::new(config);
    h.send(&Command::QueryStatus {
        channel: Channel(0),
    });
    h.board.handle_connected(h.now, h.host);
    h.drain();
    assert!(h.take_sent().is_empty());
    assert_eq!(h.board.stats().foreign, 2);
    assert_eq!(h.board.host(), None);
    assert_eq!(
        h.take_outputs(),
        [Output::Host {
            event: "refused",
            peer: h.host,
            reason: Some("not the controller".into())
        }]
    );
    h.board
        .handle_disconnected(h.now, h.host, Disconnect::Framing("length 3".into()));
    h.board
        .handle_disconnected(h.now, h.host, Disconnect::Io("reset".into()));
    h.drain();
    assert_eq!(h.board.stats().frame_errors, 1);
    let reasons: Vec<_> = h
        .take_outputs()
        .into_iter()
        .filter_map(|o| match o {
            Output::Host { reason, .. } => reason,
            _ => None,
        })
        .collect();
    assert_eq!(reasons, ["framing: length 3", "i/o: reset"]);
}

#[test]
fn say_sends_rtp_and_hear_plays_what_arrives() {
    let mut h = Harness::lines(2);
    h.line(LineCommand::Say {
        line: 2,
        samples: vec![0; 160],
    });
    assert_eq!(h.board.stats().line_commands_refused, 1, "no RTP yet");
    h.open(1, Coder::Alaw);
    h.activate(1, 8);
    h.line(LineCommand::Hear { line: 2, on: true });
    h.line(LineCommand::Say {
        line: 2,
        samples: vec![1000; 400],
    });
    h.advance(ms(100));
    assert_eq!(h.rtp.len(), 3);
    for t in &h.rtp {
        assert_eq!(t.via, Via::Rtp(6010));
        assert_eq!(t.destination, REMOTE.parse().unwrap());
        let p = codecs::rtp::Repr::parse_bytes(&t.contents).unwrap();
        assert_eq!(p.payload_type, 8);
        assert_eq!(p.payload.len(), 160);
    }
    assert!(h.take_outputs().contains(&Output::SayDone {
        line: 2,
        packets: 3,
        complete: true
    }));
    let from: SocketAddr = REMOTE.parse().unwrap();
    let packet = h.rtp[0].contents.clone();
    h.board.handle_rtp(h.now, 6010, from, &packet);
    h.board.handle_rtp(h.now, 6000, from, &packet);
    h.board.handle_rtp(h.now, 6010, from, b"junk");
    h.drain();
    assert!(matches!(
        &h.take_outputs()[..],
        [Output::Audio { line: 2, samples }] if samples.len() == 160
    ));
    assert_eq!(h.board.stats().rtp_dropped, 2);
    // Closing the channel cuts a say short and ends hearing.
    h.line(LineCommand::Say {
        line: 2,
        samples: vec![0; 8000],
    });
    h.ok(&Command::CloseChannel {
        channel: Channel(1),
    });
    let out = h.take_outputs();
    assert!(out.contains(&Output::SayDone {
        line: 2,
        packets: 1,
        complete: false
    }));
    assert!(out.contains(&Output::HearEnded { line: 2 }));
}

/// A command encoded in `order`.
fn encoded(c: &Command, order: ByteOrder) -> Vec<u8> {
    let mut out = Vec::new();
    let header = Header {
        order,
        version: VERSION,
        seq: Seq(9),
    };
    wire::encode_command(&header, c, &mut out);
    out
}

#[test]
fn bad_input_is_counted_and_answered_when_the_header_was_read() {
    for order in [ByteOrder::Big, ByteOrder::Little] {
        // Channel 1: its id reads differently in the wrong order.
        let mut h = Harness::lines(2);
        let whole = encoded(&activate(1, 6010, 0), order);
        // Truncated at every length: too short for a header, nothing to answer; else an
        // error on the channel once bytes 12–15 are there.
        for n in 0..whole.len() {
            h.raw(&whole[..n]);
            let sent = h.take_sent();
            if n < wire::MIN_LEN {
                assert!(sent.is_empty(), "{n} bytes answered");
                continue;
            }
            assert_eq!(sent.len(), 1, "{n} bytes");
            let Event::Error { code, .. } = sent[0].event else {
                panic!("{n} bytes answered {:?}", sent[0].event);
            };
            assert_eq!(code, ErrorCode::Malformed.code());
            assert_eq!(sent[0].order, order);
            let channel = if n >= wire::MIN_LEN + 4 { 1 } else { -1 };
            assert_eq!(sent[0].channel, Channel(channel));
        }
        assert_eq!(h.board.stats().malformed, whole.len() as u64);
        // Trailing bytes.
        let mut long = whole.clone();
        long.push(0);
        h.raw(&long);
        assert_eq!(h.board.stats().malformed, whole.len() as u64 + 1);
        // An unknown id: answered with its code, printed as `unknown`.
        let mut unknown = encoded(
            &Command::QueryStatus {
                channel: Channel(1),
            },
            order,
        );
        match order {
            ByteOrder::Big => unknown[8..12].copy_from_slice(&6u32.to_be_bytes()),
            ByteOrder::Little => unknown[8..12].copy_from_slice(&6u32.to_le_bytes()),
        }
        h.take_sent();
        h.take_outputs();
        h.raw(&unknown);
        let sent = h.take_sent();
        assert!(
            matches!(
                &sent[..],
                [Sent {
                    event: Event::Error { code: 1, .. },
                    channel: Channel(1),
                    ..
                }]
            ),
            "{sent:?}"
        );
        assert_eq!(
            h.take_outputs(),
            [Output::HostCommand {
                line: Some(2),
                verb: "unknown",
                seq: 9,
                code: 1
            }]
        );
        assert_eq!(h.board.stats().unknown_commands, 1);
        assert_eq!(h.board.stats().commands, 0);
    }
}

#[test]
fn a_command_with_a_lying_length_is_refused() {
    let mut h = Harness::lines(1);
    let mut m = encoded(
        &Command::QueryStatus {
            channel: Channel(0),
        },
        ByteOrder::Big,
    );
    m[3] = m[3].wrapping_add(4);
    h.raw(&m);
    let sent = h.take_sent();
    assert!(
        matches!(
            &sent[..],
            [Sent {
                event: Event::Error { code: 2, .. },
                ..
            }]
        ),
        "{sent:?}"
    );
    assert_eq!(h.board.stats().malformed, 1);
}

#[test]
fn event_ids_are_the_tables() {
    assert_eq!(wire::event_id(&Event::RingStart), id::ANALOG_IF_RING_START);
}

mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever arrives, the board does not panic, every answer decodes, and the input
        /// is counted.
        #[test]
        fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..200)) {
            let mut h = Harness::lines(2);
            h.raw(&data);
            let s = *h.board.stats();
            prop_assert_eq!(s.commands + s.refused + s.unknown_commands + s.malformed, 1);
        }

        /// Headers of real commands with random bodies.
        #[test]
        fn random_bodies_never_panic(
            id in prop::sample::select(vec![2u32, 3, 4, 35, 47, 48, 212, 220, 222, 229, 5]),
            body in proptest::collection::vec(any::<u8>(), 0..800),
            little in any::<bool>(),
        ) {
            let mut m = Vec::new();
            let len = (wire::MIN_LEN + body.len() - 4) as u16;
            if little {
                m.extend_from_slice(&VERSION.to_le_bytes());
                m.extend_from_slice(&len.to_le_bytes());
                m.extend_from_slice(&[7, 0, 0, 0]);
                m.extend_from_slice(&id.to_le_bytes());
            } else {
                m.extend_from_slice(&VERSION.to_be_bytes());
                m.extend_from_slice(&len.to_be_bytes());
                m.extend_from_slice(&[0, 7, 0, 0]);
                m.extend_from_slice(&id.to_be_bytes());
            }
            m.extend_from_slice(&body);
            let mut h = Harness::lines(2);
            h.raw(&m);
            h.advance(Duration::from_secs(30));
            prop_assert_eq!(h.take_sent().iter().filter(|s| s.to == h.host).count() >= 1, true);
        }
    }
}

/// Over UDP the host sends a command again when its acknowledgement is lost: the board answers
/// it again, byte for byte, and does not carry it out twice (an open channel is not refused as
/// already open, a ring is not started again). A new sequence number is a new command.
#[test]
fn a_repeated_command_is_answered_again_not_carried_out_again() {
    let mut h = Harness::lines(2);
    let open = Command::OpenChannel {
        channel: Channel(0),
        coder: Coder::Mulaw,
        frames_per_packet: 2,
        dtmf_payload_type: 101,
    };
    let mut bytes = Vec::new();
    let header = Header {
        order: ByteOrder::Big,
        version: VERSION,
        seq: Seq(40),
    };
    wire::encode_command(&header, &open, &mut bytes);
    h.raw(&bytes);
    let first = h.take_sent();
    assert!(
        matches!(
            first[..],
            [Sent {
                event: Event::CommandAck { seq: Seq(40), .. },
                ..
            }]
        ),
        "{first:?}"
    );
    let printed = |outputs: Vec<Output>| {
        outputs
            .iter()
            .filter(|o| matches!(o, Output::HostCommand { .. }))
            .count()
    };
    assert_eq!(printed(h.take_outputs()), 1, "the command printed once");
    h.raw(&bytes);
    assert_eq!(
        h.take_sent(),
        first,
        "the same answer, with the board's same numbering"
    );
    assert_eq!(printed(h.take_outputs()), 0, "not carried out again");
    assert_eq!(
        (h.board.stats().duplicates, h.board.stats().refused),
        (1, 0)
    );

    // A refusal is repeated too.
    let mut bad = Vec::new();
    let stray = Command::CloseChannel {
        channel: Channel(9),
    };
    wire::encode_command(
        &Header {
            seq: Seq(41),
            ..header
        },
        &stray,
        &mut bad,
    );
    h.raw(&bad);
    let refusal = h.take_sent();
    h.raw(&bad);
    assert_eq!(h.take_sent(), refusal);
    assert_eq!(
        (h.board.stats().duplicates, h.board.stats().refused),
        (2, 1)
    );

    // The same command with a new number is carried out: the channel is open already.
    h.next_seq = 42;
    h.refused(&open, ErrorCode::ChannelOpen);

    // A ring repeated rings once: one ring start.
    h.next_seq = 50;
    let seq = h.send(&ring(1, true));
    let events = h.take_events();
    let mut again = Vec::new();
    wire::encode_command(
        &Header {
            seq: Seq(seq),
            ..header
        },
        &ring(1, true),
        &mut again,
    );
    h.raw(&again);
    let repeated = h.take_events();
    assert_eq!(repeated.len(), 1, "only the ack again: {repeated:?}");
    assert_eq!(repeated[0], events[0]);
    assert_eq!(h.board.stats().duplicates, 3);
}

mod fxo;
