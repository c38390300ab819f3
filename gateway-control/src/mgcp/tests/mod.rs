//! Call-agent scenarios in virtual time: a [`Harness`] moves datagrams between the
//! [`CallAgent`] and a scripted gateway and jumps time to the earliest `poll_timeout`.
//! Scenarios read like smoltcp's `send!`/`recv!`: what the gateway sends, at which instant,
//! and what the call agent answers.

mod claims;
mod config;
mod connections;
mod digitmaps;
mod field;
mod gateways;
mod input;
mod lines;
mod piggyback;
mod reachability;
mod restarts;
mod rsip;
mod scenarios;
mod watch;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::wire::{self, Message, Param};
use super::{CallAgent, Config, GatewayConfig};
use crate::model::{Codec, Event, GatewayId, LineId, Media};
use crate::{Controller, Transmit};

/// The tests' time origin; only differences matter.
#[allow(clippy::disallowed_methods)] // a base instant for virtual time, never a measurement
pub(super) fn t0() -> Instant {
    Instant::now()
}

pub(super) fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

pub(super) const GW: &str = "gw1";

pub(super) fn gw_addr() -> SocketAddr {
    "192.0.2.1:2427".parse().unwrap()
}

pub(super) fn line(n: usize) -> LineId {
    LineId::new(GatewayId::new(GW), &format!("aaln/{n}"))
}

/// When the retransmissions of a command first sent at 0 go out (RFC 3435 §4.3): the first
/// timer `first`, doubled each time up to `cap`, `count` times.
pub(super) fn backoff(first: Duration, cap: Duration, count: usize) -> Vec<Duration> {
    let mut at = Duration::ZERO;
    let mut interval = first;
    (0..count)
        .map(|_| {
            at += interval;
            interval = (interval * 2).min(cap);
            at
        })
        .collect()
}

/// `text` with CRLF line ends, whichever it had.
pub(super) fn crlf(text: &str) -> String {
    text.replace("\r\n", "\n").replace('\n', "\r\n")
}

/// The messages of a datagram, each with its own line ends, split at the `.` lines.
pub(super) fn split_piggybacked(datagram: &str) -> Vec<String> {
    let mut messages = vec![String::new()];
    for line in datagram.split_inclusive('\n') {
        if line.trim_end() == "." {
            messages.push(String::new());
        } else if let Some(last) = messages.last_mut() {
            last.push_str(line);
        }
    }
    messages
}

/// A command the call agent sent, parsed into owned pieces for assertions.
#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub(super) at: Duration,
    pub(super) text: String,
}

impl Sent {
    pub(super) fn verb(&self) -> &str {
        &self.text[..4]
    }

    pub(super) fn txid(&self) -> u32 {
        self.text
            .split_whitespace()
            .nth(1)
            .and_then(|t| t.parse().ok())
            .unwrap()
    }

    pub(super) fn endpoint(&self) -> &str {
        self.text.split_whitespace().nth(2).unwrap()
    }

    /// The value of parameter `name` (`X`, `R`, `S`…), trimmed.
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.text
            .split("\r\n")
            .take_while(|l| !l.is_empty())
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
            })
    }

    /// The message, parsed by the real parser.
    pub(super) fn parsed(&self) -> Message<'_> {
        let mut m =
            wire::parse(self.text.as_bytes()).unwrap_or_else(|e| panic!("{e}: {}", self.text));
        assert_eq!(m.len(), 1, "{}", self.text);
        m.remove(0)
    }

    /// Whether the command is piggy-backing acknowledgements.
    pub(super) fn acks(&self) -> usize {
        match self.parsed() {
            Message::Command(c) => wire::find(&c.params, |p| match p {
                Param::ResponseAck(v) => Some(v.len()),
                _ => None,
            })
            .unwrap_or(0),
            Message::Response(_) => 0,
        }
    }
}

/// The call agent, one scripted gateway, and virtual time.
pub(super) struct Harness {
    pub(super) agent: CallAgent,
    pub(super) start: Instant,
    pub(super) now: Instant,
    /// What the call agent sent to the gateway, not yet looked at.
    pub(super) inbox: VecDeque<Sent>,
    /// Model events, not yet looked at.
    pub(super) events: VecDeque<Event>,
    /// Every datagram the call agent sent: when, and how many messages it held.
    pub(super) datagrams: Vec<(Duration, usize)>,
    /// The size of each, in bytes.
    pub(super) sizes: Vec<usize>,
}

impl Harness {
    pub(super) fn config(lines: usize) -> Config {
        let mut c = Config::default();
        c.gateway(GatewayConfig {
            id: GatewayId::new(GW),
            address: gw_addr(),
            domain: "gw1.example.net".to_owned(),
            lines: (1..=lines).map(|n| format!("aaln/{n}")).collect(),
        })
        .unwrap()
        .notified_entity("ca@[192.0.2.100]:2727")
        .unwrap()
        .rng_seed(7)
        .unwrap();
        c
    }

    pub(super) fn new(config: Config) -> Self {
        let start = t0();
        let agent = CallAgent::new(config, start).unwrap();
        let mut h = Self {
            agent,
            start,
            now: start,
            inbox: VecDeque::new(),
            events: VecDeque::new(),
            datagrams: Vec::new(),
            sizes: Vec::new(),
        };
        h.drain();
        h
    }

    /// A harness whose `lines` lines are audited on hook and armed.
    pub(super) fn armed(lines: usize) -> Self {
        let mut h = Self::new(Self::config(lines));
        h.answer_until_quiet(|s| match s.verb() {
            "AUEP" => format!("200 {} OK\r\nES: L/hu\r\n", s.txid()),
            _ => format!("200 {} OK\r\n", s.txid()),
        });
        h.events.clear();
        h
    }

    pub(super) fn drain(&mut self) {
        while let Some(Transmit {
            destination,
            contents,
        }) = self.agent.poll_transmit()
        {
            assert_eq!(destination, gw_addr());
            let at = self.now - self.start;
            let text = String::from_utf8(contents).unwrap();
            // Piggy-backed messages (RFC 3435 §3.5.5) are looked at one by one.
            let messages = split_piggybacked(&text);
            assert_eq!(
                wire::parse(text.as_bytes()).map(|m| m.len()),
                Ok(messages.len()),
                "{text}"
            );
            self.datagrams.push((at, messages.len()));
            self.sizes.push(text.len());
            self.inbox
                .extend(messages.into_iter().map(|text| Sent { at, text }));
        }
        while let Some(e) = self.agent.poll_event() {
            self.events.push_back(e);
        }
    }

    /// The gateway sends `text` now.
    pub(super) fn send(&mut self, text: &str) {
        let now = self.now;
        self.agent
            .handle_datagram(now, gw_addr(), crlf(text).as_bytes());
        self.drain();
    }

    /// The next thing the call agent sent; panics if none.
    pub(super) fn recv(&mut self) -> Sent {
        self.inbox.pop_front().expect("the call agent sent nothing")
    }

    /// The next model event; panics if none.
    pub(super) fn event(&mut self) -> Event {
        self.events.pop_front().expect("no model event")
    }

    pub(super) fn command(&mut self, c: crate::model::Command) {
        let now = self.now;
        self.agent.handle_command(now, c);
        self.drain();
    }

    /// Moves time forward by `d`, running every timer on the way.
    pub(super) fn advance(&mut self, d: Duration) {
        let until = self.now + d;
        while let Some(at) = self.agent.poll_timeout() {
            if at > until {
                break;
            }
            self.now = at.max(self.now);
            let now = self.now;
            self.agent.handle_timeout(now);
            self.drain();
        }
        self.now = until;
    }

    /// Answers every command the call agent sends with `f` until it sends nothing more.
    pub(super) fn answer_until_quiet(&mut self, f: impl Fn(&Sent) -> String) {
        for _ in 0..1_000_000 {
            let Some(s) = self.inbox.pop_front() else {
                return;
            };
            if s.text.starts_with(|c: char| c.is_ascii_digit()) {
                continue; // a response or response ack of ours
            }
            let reply = f(&s);
            self.send(&reply);
        }
        panic!("the call agent never went quiet");
    }
}

// Helpers the scenario files share.

pub(super) fn ok(s: &Sent) -> String {
    format!("200 {} OK\n", s.txid())
}

pub(super) fn off_hook_request(s: &Sent) {
    assert_eq!(s.verb(), "RQNT");
    assert_eq!(
        s.param("R"),
        Some("L/hu(N),L/hf(N),D/[0-9#*](N)"),
        "{}",
        s.text
    );
}

pub(super) fn on_hook_request(s: &Sent) {
    assert_eq!(s.verb(), "RQNT");
    assert_eq!(s.param("R"), Some("L/hd(N)"), "{}", s.text);
}

pub(super) fn media(port: u16) -> Media {
    Media {
        address: format!("192.0.2.100:{port}").parse().unwrap(),
        codec: Codec::Pcmu,
        ptime: ms(20),
        telephone_event: Some(101),
    }
}

/// The session description a gateway answers a create with.
pub(super) const GW_SDP: &str = "v=0\no=- 1 0 IN IP4 192.0.2.1\ns=-\nc=IN IP4 192.0.2.1\nt=0 0\nm=audio 16384 RTP/AVP 0 101\na=rtpmap:101 telephone-event/8000\na=ptime:20\n";

/// The gateway answers every check audit (`AUEP` asking `F: ES,I`) waiting in the inbox that
/// its endpoint is out of service (`501`), confirming a restart claim.
pub(super) fn out_of_service(h: &mut Harness) {
    let checks: Vec<Sent> = h.inbox.drain(..).collect();
    assert!(!checks.is_empty(), "no check audit");
    for s in checks {
        assert_eq!(
            (s.verb(), s.param("F")),
            ("AUEP", Some("ES,I")),
            "{}",
            s.text
        );
        h.send(&format!("501 {} endpoint out of service\n", s.txid()));
    }
}
