//! Two transaction layers, a UAC and a UAS, over a lossy network in virtual time: 20 % of
//! datagrams lost and 10 % duplicated in both directions (seeded), with 1–20 ms of delay (so
//! duplicates and retransmissions also arrive out of order). The TUs on both sides are scripts.
//!
//! Checks, for many seeds, that every INVITE and non-INVITE transaction ends with the final
//! response the UAS chose or times out exactly 64·T1 after it started (or after its CANCEL,
//! RFC 3261 §9.1), that nothing reaches either TU twice, that every 2xx is acknowledged or
//! reported lost, and that the request retransmissions on the wire follow Timers A and E.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sip::transaction::{ClientTx, Config, Event, ServerTx, Transactions};
use sip::wire::{self, HeaderName, Message, Method, Request, Response, Transport};

const LOSS: f64 = 0.2;
const DUPLICATION: f64 = 0.1;
const SEEDS: u64 = 40;
/// Calls and requests each scenario starts (one every 300 ms).
const PER_SEED: usize = 24;

fn uac_addr() -> SocketAddr {
    "10.0.0.1:5060".parse().unwrap()
}

fn uas_addr() -> SocketAddr {
    "10.0.0.2:5060".parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[allow(clippy::disallowed_methods)] // a base instant for virtual time, never a measurement
fn t0() -> Instant {
    Instant::now()
}

/// What the UAS's TU does with one request, chosen by its Request-URI user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Script {
    /// INVITE: 180 at once, 200 after a second.
    Answer,
    /// INVITE: 180 at once, 486 after a second.
    Busy,
    /// INVITE: 180 and rings on; the UAC cancels it on the 180, the UAS answers 487.
    Cancel,
    /// OPTIONS: 200 within 0–100 ms.
    Options,
}

impl Script {
    fn user(self) -> &'static str {
        match self {
            Self::Answer => "answer",
            Self::Busy => "busy",
            Self::Cancel => "cancel",
            Self::Options => "options",
        }
    }

    fn of(user: &str) -> Self {
        match user {
            "answer" => Self::Answer,
            "busy" => Self::Busy,
            "cancel" => Self::Cancel,
            _ => Self::Options,
        }
    }

    fn method(self) -> Method {
        match self {
            Self::Options => Method::Options,
            _ => Method::Invite,
        }
    }

    /// The final response the UAS's TU gives.
    fn status(self) -> u16 {
        match self {
            Self::Answer | Self::Options => 200,
            Self::Busy => 486,
            Self::Cancel => 487,
        }
    }
}

/// The lossy network: datagrams in flight by arrival time.
struct Net {
    rng: StdRng,
    in_flight: BTreeMap<(Instant, u64), (SocketAddr, Vec<u8>)>,
    seq: u64,
    /// Every datagram put on the network: (time, destination, bytes).
    log: Vec<(Instant, SocketAddr, Vec<u8>)>,
}

impl Net {
    fn send(&mut self, now: Instant, to: SocketAddr, bytes: Vec<u8>) {
        self.log.push((now, to, bytes.clone()));
        if self.rng.gen_bool(LOSS) {
            return;
        }
        let copies = if self.rng.gen_bool(DUPLICATION) { 2 } else { 1 };
        for _ in 0..copies {
            let delay = ms(self.rng.gen_range(1..=20));
            self.seq += 1;
            self.in_flight
                .insert((now + delay, self.seq), (to, bytes.clone()));
        }
    }

    fn next(&self) -> Option<Instant> {
        self.in_flight.keys().next().map(|&(t, _)| t)
    }
}

/// One transaction the UAC's TU started, and what it heard.
#[derive(Debug)]
struct Started {
    script: Script,
    at: Instant,
    call_id: String,
    finals: Vec<u16>,
    timeout: Option<Instant>,
    cancel: Option<ClientTx>,
    cancel_sent: Option<Instant>,
}

/// A scheduled action of the UAS's TU.
#[derive(Debug)]
enum Later {
    Respond(ServerTx, Request, u16),
}

struct World {
    now: Instant,
    uac: Transactions,
    uas: Transactions,
    net: Net,
    started: HashMap<ClientTx, Started>,
    cancels: HashMap<ClientTx, ClientTx>,
    cancel_finals: HashMap<ClientTx, Vec<u16>>,
    later: BTreeMap<(Instant, u64), Later>,
    later_seq: u64,
    /// UAS side: requests delivered (Call-ID, method), ACKs to 2xx per Call-ID, AckLost per
    /// Call-ID, the INVITE transactions cancelled.
    delivered: HashSet<(String, Method)>,
    acks: HashMap<String, u32>,
    acks_lost: HashSet<String>,
    invites: HashMap<ServerTx, (Request, bool)>,
}

fn config(seed: u64) -> Config {
    let mut c = Config::default();
    c.rng_seed(seed).unwrap();
    c
}

impl World {
    fn new(seed: u64) -> Self {
        let now = t0();
        Self {
            now,
            uac: Transactions::new(config(seed)),
            uas: Transactions::new(config(!seed)),
            net: Net {
                rng: StdRng::seed_from_u64(seed),
                in_flight: BTreeMap::new(),
                seq: 0,
                log: Vec::new(),
            },
            started: HashMap::new(),
            cancels: HashMap::new(),
            cancel_finals: HashMap::new(),
            later: BTreeMap::new(),
            later_seq: 0,
            delivered: HashSet::new(),
            acks: HashMap::new(),
            acks_lost: HashSet::new(),
            invites: HashMap::new(),
        }
    }

    fn start(&mut self, n: usize, script: Script) {
        let call_id = format!("call-{n}@10.0.0.1");
        let method = script.method();
        let mut r = Request::new(
            method.clone(),
            format!("sip:{}@10.0.0.2", script.user()).parse().unwrap(),
        );
        r.headers.push(HeaderName::MaxForwards, "70");
        r.headers
            .push(HeaderName::From, format!("<sip:alice@10.0.0.1>;tag=f{n}"));
        r.headers
            .push(HeaderName::To, format!("<sip:{}@10.0.0.2>", script.user()));
        r.headers.push(HeaderName::CallId, call_id.clone());
        r.headers.push(HeaderName::CSeq, format!("1 {method}"));
        let tx = self
            .uac
            .send_request(self.now, uas_addr(), Transport::Udp, uac_addr(), r);
        self.started.insert(
            tx,
            Started {
                script,
                at: self.now,
                call_id,
                finals: Vec::new(),
                timeout: None,
                cancel: None,
                cancel_sent: None,
            },
        );
        self.drain();
    }

    fn schedule(&mut self, at: Instant, what: Later) {
        self.later_seq += 1;
        self.later.insert((at, self.later_seq), what);
    }

    /// Moves both cores' output onto the network and runs both TUs on their events.
    fn drain(&mut self) {
        loop {
            let mut busy = false;
            while let Some(out) = self.uac.poll_transmit() {
                assert_eq!(out.to, uas_addr());
                self.net.send(self.now, out.to, out.bytes);
                busy = true;
            }
            while let Some(out) = self.uas.poll_transmit() {
                assert_eq!(out.to, uac_addr(), "responses follow the Via (rport)");
                self.net.send(self.now, out.to, out.bytes);
                busy = true;
            }
            while let Some(e) = self.uac.poll_event() {
                self.uac_tu(e);
                busy = true;
            }
            while let Some(e) = self.uas.poll_event() {
                self.uas_tu(e);
                busy = true;
            }
            if !busy {
                return;
            }
        }
    }

    fn uac_tu(&mut self, e: Event) {
        match e {
            Event::Response { tx, response } => {
                if self.cancels.contains_key(&tx) {
                    if response.status >= 200 {
                        self.cancel_finals
                            .entry(tx)
                            .or_default()
                            .push(response.status);
                    }
                    return;
                }
                let now = self.now;
                let s = self.started.get_mut(&tx).expect("an event for a known tx");
                assert!(s.timeout.is_none(), "a response after the timeout: {s:?}");
                match response.status {
                    100..=199 => {
                        if s.script == Script::Cancel && s.cancel.is_none() {
                            let c = self.uac.cancel(now, tx).expect("cancellable on a 1xx");
                            let s = self.started.get_mut(&tx).unwrap();
                            s.cancel = Some(c);
                            s.cancel_sent = Some(now);
                            self.cancels.insert(c, tx);
                        }
                    }
                    200..=299 if s.script.method() == Method::Invite => {
                        s.finals.push(response.status);
                        let ack = ack_for(&response);
                        self.uac
                            .send_stateless(uas_addr(), Transport::Udp, &Message::Request(ack));
                    }
                    status => s.finals.push(status),
                }
            }
            Event::Timeout { tx } => {
                if self.cancels.contains_key(&tx) {
                    self.cancel_finals.entry(tx).or_default().push(408);
                    return;
                }
                let s = self.started.get_mut(&tx).expect("a timeout for a known tx");
                assert!(s.timeout.is_none(), "timed out twice");
                assert!(s.finals.is_empty(), "timed out after a final response");
                s.timeout = Some(self.now);
            }
            other => panic!("the UAC's TU got {other:?}"),
        }
    }

    fn uas_tu(&mut self, e: Event) {
        match e {
            Event::Request {
                tx: Some(tx),
                request,
                ..
            } => {
                let call_id = request.headers.call_id().unwrap().to_owned();
                assert!(
                    self.delivered.insert((call_id, request.method.clone())),
                    "delivered twice: {request:?}"
                );
                let script = Script::of(request.uri.user.as_deref().unwrap_or_default());
                match script {
                    Script::Options => {
                        let delay = ms(self.net.rng.gen_range(0..=100));
                        self.schedule(self.now + delay, Later::Respond(tx, request, 200));
                    }
                    _ => {
                        self.invites.insert(tx, (request.clone(), false));
                        self.respond(tx, &request, 180);
                        if script != Script::Cancel {
                            let at = self.now + Duration::from_secs(1);
                            self.schedule(at, Later::Respond(tx, request, script.status()));
                        }
                    }
                }
            }
            Event::Request {
                tx: None, request, ..
            } => {
                assert_eq!(request.method, Method::Ack);
                let call_id = request.headers.call_id().unwrap().to_owned();
                *self.acks.entry(call_id).or_default() += 1;
            }
            Event::Cancelled { invite } => {
                let (request, cancelled) = self.invites.get_mut(&invite).unwrap();
                assert!(!*cancelled, "cancelled twice");
                *cancelled = true;
                let request = request.clone();
                self.respond(invite, &request, 487);
            }
            Event::AckLost { tx } => {
                let call_id = self.invites[&tx].0.headers.call_id().unwrap().to_owned();
                assert!(self.acks_lost.insert(call_id), "AckLost twice");
            }
            other => panic!("the UAS's TU got {other:?}"),
        }
    }

    fn respond(&mut self, tx: ServerTx, request: &Request, status: u16) {
        let r = Response::to_request(request, status, wire::reason_phrase(status), Some("uas"));
        self.uas.respond(self.now, tx, r);
    }

    fn next(&self) -> Option<Instant> {
        [
            self.uac.poll_timeout(),
            self.uas.poll_timeout(),
            self.net.next(),
            self.later.keys().next().map(|&(t, _)| t),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs every step due up to `end`.
    fn run_to(&mut self, end: Instant) {
        while let Some(t) = self.next().filter(|&t| t <= end) {
            self.now = self.now.max(t);
            let now = self.now;
            while let Some(&(at, seq)) = self.net.in_flight.keys().next() {
                if at > now {
                    break;
                }
                let (to, bytes) = self.net.in_flight.remove(&(at, seq)).unwrap();
                let message = wire::parse(&bytes).expect("both layers send what parses");
                let (core, from) = if to == uac_addr() {
                    (&mut self.uac, uas_addr())
                } else {
                    (&mut self.uas, uac_addr())
                };
                core.handle_message(now, from, Transport::Udp, message);
                self.drain();
            }
            if self.uac.poll_timeout().is_some_and(|t| t <= now) {
                self.uac.handle_timeout(now);
            }
            if self.uas.poll_timeout().is_some_and(|t| t <= now) {
                self.uas.handle_timeout(now);
            }
            self.drain();
            while let Some(entry) = self.later.first_entry() {
                if entry.key().0 > now {
                    break;
                }
                let Later::Respond(tx, request, status) = entry.remove();
                let cancelled = self.invites.get(&tx).is_some_and(|(_, c)| *c);
                if !cancelled {
                    self.respond(tx, &request, status);
                }
                self.drain();
            }
        }
        self.now = self.now.max(end);
    }
}

/// The TU's ACK to a 2xx (§13.2.2.4): the same for each retransmission of the 2xx.
fn ack_for(ok: &Response) -> Request {
    let call_id = ok.headers.call_id().unwrap();
    let mut ack = Request::new(Method::Ack, "sip:answer@10.0.0.2".parse().unwrap());
    ack.headers.push(
        HeaderName::Via,
        format!("SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKack-{call_id};rport"),
    );
    ack.headers.push(HeaderName::MaxForwards, "70");
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        ack.headers
            .push(name.clone(), ok.headers.get(&name).unwrap());
    }
    let seq = ok.headers.cseq().unwrap().seq;
    ack.headers.push(HeaderName::CSeq, format!("{seq} ACK"));
    ack
}

/// The gaps between successive sends of each client request (keyed by branch and method) by
/// the UAC.
fn request_gaps(log: &[(Instant, SocketAddr, Vec<u8>)]) -> Vec<(Method, Vec<Duration>)> {
    let mut sends: BTreeMap<(String, String), (Method, Vec<Instant>)> = BTreeMap::new();
    for (at, to, bytes) in log {
        if *to != uas_addr() {
            continue;
        }
        let Ok(Message::Request(r)) = wire::parse(bytes) else {
            continue;
        };
        if r.method == Method::Ack {
            continue;
        }
        let branch = r.headers.top_via().unwrap().branch().unwrap().to_owned();
        sends
            .entry((branch, r.method.to_string()))
            .or_insert_with(|| (r.method.clone(), Vec::new()))
            .1
            .push(*at);
    }
    sends
        .into_values()
        .map(|(m, times)| (m, times.windows(2).map(|w| w[1] - w[0]).collect()))
        .collect()
}

fn scenario(seed: u64) -> World {
    let mut w = World::new(seed);
    let start = w.now;
    let scripts = [
        Script::Answer,
        Script::Options,
        Script::Busy,
        Script::Cancel,
    ];
    for n in 0..PER_SEED {
        let at = start + ms(300) * n as u32;
        w.run_to(at);
        w.start(n, scripts[n % scripts.len()]);
    }
    // Long enough for every timer: B/F/H/L (32 s), D (32 s), after the last start.
    w.run_to(start + ms(300) * PER_SEED as u32 + Duration::from_secs(70));
    w
}

#[test]
fn every_transaction_ends_as_the_rfc_says_under_loss() {
    let t64 = Duration::from_secs(32);
    let (mut finished, mut timed_out) = (0, 0);
    for seed in 0..SEEDS {
        let w = scenario(seed);
        assert!(
            w.uac.is_empty() && w.uas.is_empty(),
            "seed {seed}: all ended"
        );
        assert_eq!(w.uac.poll_timeout(), None);
        for (tx, s) in &w.started {
            let ctx = format!("seed {seed}, {tx}: {s:?}");
            match (s.finals.first(), s.timeout) {
                (Some(&status), None) => {
                    finished += 1;
                    assert_eq!(status, s.script.status(), "{ctx}");
                    // Only 2xx to INVITE come again (RFC 6026), and always the same.
                    assert!(s.finals.iter().all(|&f| f == status), "{ctx}");
                    if s.finals.len() > 1 {
                        assert_eq!(status, 200, "{ctx}");
                        assert_eq!(s.script.method(), Method::Invite, "{ctx}");
                    }
                }
                (None, Some(at)) => {
                    timed_out += 1;
                    // Timer B or F from the start, or CANCEL's guard (§9.1) from the CANCEL.
                    let from = s.cancel_sent.unwrap_or(s.at);
                    assert_eq!(at - from, t64, "{ctx}");
                }
                _ => panic!("{ctx}: neither one final response nor a timeout"),
            }
            // UAS side: a 2xx is either acknowledged once or reported lost, never both.
            if s.script == Script::Answer && s.finals.first() == Some(&200) {
                let acks = w.acks.get(&s.call_id).copied().unwrap_or(0);
                let lost = w.acks_lost.contains(&s.call_id);
                assert!(
                    (acks == 1 && !lost) || (acks == 0 && lost),
                    "{ctx}: {acks} ACKs, lost {lost}"
                );
            }
        }
        for (cancel, finals) in &w.cancel_finals {
            assert!(
                finals == &[200] || finals == &[408],
                "seed {seed}, CANCEL {cancel}: {finals:?}"
            );
        }
        // Timer A: T1 doubling; Timer E: T1 doubling up to T2 (no provisional to OPTIONS here).
        for (method, gaps) in request_gaps(&w.net.log) {
            let mut expect = ms(500);
            for gap in gaps {
                assert_eq!(gap, expect, "seed {seed}: {method} retransmission gap");
                expect = if method == Method::Invite {
                    expect * 2
                } else {
                    (expect * 2).min(Duration::from_secs(4))
                };
            }
        }
        let stats = w.uas.stats();
        assert!(stats.absorbed > 0, "seed {seed}: duplicates were absorbed");
    }
    // At 20 % loss nearly every transaction finishes well within 64·T1.
    assert!(
        finished > timed_out * 20,
        "{finished} finished, {timed_out} timed out"
    );
    eprintln!("{finished} transactions finished, {timed_out} timed out");
}

#[test]
fn a_dead_link_times_every_transaction_out_at_64_t1() {
    let mut w = World::new(7);
    let start = w.now;
    w.start(0, Script::Answer);
    w.start(1, Script::Options);
    // Nothing arrives: every datagram is dropped.
    let end = start + Duration::from_secs(40);
    w.net.in_flight.clear();
    while let Some(t) = w.next().filter(|&t| t <= end) {
        w.now = t;
        w.uac.handle_timeout(t);
        w.drain();
        w.net.in_flight.clear();
    }
    for s in w.started.values() {
        assert_eq!(s.timeout, Some(start + Duration::from_secs(32)), "{s:?}");
    }
    let gaps = request_gaps(&w.net.log);
    let invite = gaps.iter().find(|(m, _)| *m == Method::Invite).unwrap();
    assert_eq!(invite.1, [500, 1000, 2000, 4000, 8000, 16_000].map(ms));
    let options = gaps.iter().find(|(m, _)| *m == Method::Options).unwrap();
    assert_eq!(
        options.1,
        [500, 1000, 2000, 4000, 4000, 4000, 4000, 4000, 4000, 4000].map(ms)
    );
}
