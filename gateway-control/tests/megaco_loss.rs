//! The MEGACO transaction layer (H.248.1 Annex D) between a controller and a gateway, two
//! `Transactions` instances exchanging real text-encoded messages in virtual time.
//!
//! Over UDP (Annex D.1): 20 % of datagrams lost and 20 % duplicated in both directions
//! (seeded), with 1–20 ms of delay, so that duplicates and retransmissions also arrive out of
//! order. Both sides send requests (the controller Modify, the gateway Notify); every fifth
//! takes 5 s to execute (Pendings), every third reply asks for `ImmAckRequired`, and
//! acknowledgements ride on the next message or go alone. Checks that every request is
//! executed at most once, every request is either replied or reported timed out (never both),
//! every reply received answers a request the peer executed, and every acknowledged reply is
//! released (nothing is retransmitted for ever, and both layers end empty).
//!
//! Over TCP (Annex D.2): the same exchange framed with TPKT and cut in random pieces, on a
//! link that keeps order and loses nothing: nothing is retransmitted and everything is
//! replied.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::megaco::text::{self, Form};
use gateway_control::megaco::tpkt::{self, Deframer};
use gateway_control::megaco::transaction::{
    Config, Event, ReplyOutcome, RequestOutcome, Transactions,
};
use gateway_control::megaco::{
    ActionReply, ActionRequest, Body, Command, CommandRequest, ContextId, Message, MessageId,
    ReplyResult, TerminationId, Transaction, TransactionId, TransactionReply, TransactionRequest,
    Verb,
};
use gateway_harness::{Lossy, Side, Wire};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const REQUESTS: usize = 60;
const LOSS: f64 = 0.2;
const DUPLICATION: f64 = 0.2;
/// Every this many requests takes [`SLOW`] to execute.
const SLOW_EVERY: u32 = 5;
const SLOW: Duration = Duration::from_secs(5);
/// Every this many replies asks for an immediate acknowledgement.
const IMM_ACK_EVERY: u32 = 3;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[allow(clippy::disallowed_methods)] // a base instant for virtual time, never a measurement
fn t0() -> Instant {
    Instant::now()
}

fn mgc_addr() -> SocketAddr {
    "127.0.0.1:2944".parse().unwrap()
}

fn mg_addr() -> SocketAddr {
    "127.0.0.1:2945".parse().unwrap()
}

fn message<'a>(port: u16, transactions: Vec<Transaction<'a>>) -> Vec<u8> {
    let m = Message {
        version: 1,
        mid: MessageId::Ip4([127, 0, 0, 1].into(), Some(port)),
        body: Body::Transactions(transactions),
    };
    let mut out = Vec::new();
    text::encode(&m, Form::Pretty, &mut out);
    out
}

/// What one end does: its transaction layer and the "application" on top, which executes
/// requests (some slowly), replies, and counts.
struct Entity {
    side: Side,
    addr: SocketAddr,
    peer: SocketAddr,
    /// The verb of its requests.
    verb: Verb,
    reliable: bool,
    tx: Transactions,
    /// How many times each received request was executed.
    executed: HashMap<TransactionId, u32>,
    /// Slow requests and when their reply is due.
    deferred: BTreeMap<(Instant, TransactionId), ()>,
    /// Requests sent, and how each ended.
    sent: Vec<TransactionId>,
    replied: HashSet<TransactionId>,
    timed_out: HashSet<TransactionId>,
    /// TCP only: the inbound stream.
    deframer: Deframer,
}

impl Entity {
    fn new(side: Side, reliable: bool, seed: u64) -> Self {
        let (addr, peer, verb) = match side {
            Side::Controller => (mgc_addr(), mg_addr(), Verb::Modify),
            Side::Gateway => (mg_addr(), mgc_addr(), Verb::Notify),
        };
        Self {
            side,
            addr,
            peer,
            verb,
            reliable,
            tx: Transactions::new(Config::default(), seed),
            executed: HashMap::new(),
            deferred: BTreeMap::new(),
            sent: Vec::new(),
            replied: HashSet::new(),
            timed_out: HashSet::new(),
            deframer: Deframer::new(),
        }
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The acknowledgements owed to the peer, to ride on the next message.
    fn acks(&mut self) -> Option<Transaction<'static>> {
        let ranges = self.tx.take_response_acks(self.peer);
        (!ranges.is_empty()).then_some(Transaction::ResponseAck(ranges))
    }

    fn send_request(&mut self, now: Instant, n: usize) {
        let id = self.tx.allocate_id();
        let termination = format!("aaln/{}", n % 8 + 1);
        let request = Transaction::Request(TransactionRequest {
            id,
            actions: vec![ActionRequest {
                context: ContextId::Null,
                properties: Vec::new(),
                commands: vec![CommandRequest {
                    optional: false,
                    wildcard_reply: false,
                    command: Command {
                        verb: self.verb,
                        termination: TerminationId(&termination),
                        descriptors: Vec::new(),
                    },
                }],
            }],
        });
        let mut transactions = vec![request];
        transactions.extend(self.acks());
        let bytes = message(self.port(), transactions);
        self.tx
            .send_request(now, self.peer, self.reliable, id, bytes)
            .unwrap();
        self.sent.push(id);
    }

    fn reply(&mut self, now: Instant, id: TransactionId, verb: Verb) {
        let imm_ack_required =
            self.tx.pending_sent(self.peer, id) || id.0.is_multiple_of(IMM_ACK_EVERY);
        let reply = Transaction::Reply(TransactionReply {
            id,
            imm_ack_required,
            result: ReplyResult::Actions(vec![ActionReply {
                context: ContextId::Null,
                properties: Vec::new(),
                commands: vec![Command {
                    verb,
                    termination: TerminationId("aaln/1"),
                    descriptors: Vec::new(),
                }],
                error: None,
            }]),
        });
        let mut transactions = vec![reply];
        transactions.extend(self.acks());
        let bytes = message(self.port(), transactions);
        self.tx
            .send_reply(now, self.peer, self.reliable, id, bytes, imm_ack_required);
    }

    /// One message from the peer.
    fn receive(&mut self, now: Instant, bytes: &[u8]) {
        let m = text::parse(bytes).expect("every message on the link parses");
        let Body::Transactions(transactions) = m.body else {
            panic!("no error messages here")
        };
        let from = self.peer;
        for t in transactions {
            match t {
                Transaction::Request(r) => {
                    match self.tx.handle_request(now, from, self.reliable, r.id) {
                        RequestOutcome::Duplicate => {}
                        RequestOutcome::New => {
                            *self.executed.entry(r.id).or_insert(0) += 1;
                            let verb = r.actions[0].commands[0].command.verb;
                            if r.id.0.is_multiple_of(SLOW_EVERY) {
                                self.deferred.insert((now + SLOW, r.id), ());
                            } else {
                                self.reply(now, r.id, verb);
                            }
                        }
                    }
                }
                Transaction::Reply(r) => {
                    if self.tx.handle_reply(now, from, r.id) == ReplyOutcome::Final {
                        assert!(self.sent.contains(&r.id), "a reply to a request never sent");
                        assert!(self.replied.insert(r.id), "a second final reply");
                        assert!(!self.timed_out.contains(&r.id), "replied after timing out");
                    }
                }
                Transaction::Pending(id) => {
                    self.tx.handle_pending(now, from, id);
                }
                Transaction::ResponseAck(ranges) => self.tx.handle_response_ack(now, from, &ranges),
            }
        }
    }

    /// Slow requests whose time has come, then the layer's timers.
    fn handle_timeout(&mut self, now: Instant) {
        while let Some((&(at, id), ())) = self.deferred.first_key_value() {
            if at > now {
                break;
            }
            self.deferred.pop_first();
            let verb = match self.side {
                Side::Controller => Verb::Notify,
                Side::Gateway => Verb::Modify,
            };
            self.reply(now, id, verb);
        }
        self.tx.handle_timeout(now);
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let deferred = self.deferred.keys().next().map(|&(at, _)| at);
        [deferred, self.tx.poll_timeout()]
            .into_iter()
            .flatten()
            .min()
    }

    /// What the layer reported: timeouts, and the messages it asks for.
    fn drain_events(&mut self) {
        while let Some(e) = self.tx.poll_event() {
            match e {
                Event::TimedOut { transaction, .. } => {
                    assert!(self.sent.contains(&transaction));
                    assert!(
                        !self.replied.contains(&transaction),
                        "timed out after its reply"
                    );
                    assert!(self.timed_out.insert(transaction), "timed out twice");
                }
                Event::AcksDue { peer, ranges } => {
                    assert_eq!(peer, self.peer);
                    let bytes = message(self.port(), vec![Transaction::ResponseAck(ranges)]);
                    self.tx.send_raw(peer, bytes);
                }
                Event::PendingDue { peer, transaction } => {
                    assert_eq!(peer, self.peer);
                    let mut transactions = vec![Transaction::Pending(transaction)];
                    transactions.extend(self.acks());
                    let bytes = message(self.port(), transactions);
                    self.tx.send_raw(peer, bytes);
                }
                e => panic!("unexpected {e:?}"),
            }
        }
    }
}

/// The controller, the gateway, and the link between them.
struct World {
    now: Instant,
    start: Instant,
    mgc: Entity,
    mg: Entity,
    link: Lossy,
    /// TCP: messages are framed and cut in pieces of random sizes.
    cutter: Option<StdRng>,
    /// The next request each side sends, and when.
    next_request: usize,
}

impl World {
    fn udp(seed: u64) -> Self {
        let link = Lossy::new(seed)
            .loss(LOSS)
            .duplication(DUPLICATION)
            .delay(ms(1), ms(20));
        Self::new(seed, false, link)
    }

    fn tcp(seed: u64) -> Self {
        // One delay for every piece keeps them in order, as TCP does.
        let link = Lossy::new(seed).delay(ms(5), ms(5));
        Self::new(seed, true, link)
    }

    fn new(seed: u64, reliable: bool, link: Lossy) -> Self {
        let start = t0();
        Self {
            now: start,
            start,
            mgc: Entity::new(Side::Controller, reliable, seed),
            mg: Entity::new(Side::Gateway, reliable, seed ^ 0x5EED),
            link,
            cutter: reliable.then(|| StdRng::seed_from_u64(seed)),
            next_request: 0,
        }
    }

    fn request_at(&self) -> Option<Instant> {
        (self.next_request < REQUESTS).then(|| self.start + ms(250) * self.next_request as u32)
    }

    fn entity(&mut self, side: Side) -> &mut Entity {
        match side {
            Side::Controller => &mut self.mgc,
            Side::Gateway => &mut self.mg,
        }
    }

    /// Runs until nothing is left to do or `until`, whichever comes first.
    fn run(&mut self, until: Duration) {
        loop {
            let next = [
                self.request_at(),
                self.mgc.poll_timeout(),
                self.mg.poll_timeout(),
                self.link.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next else { break };
            if next > self.start + until {
                break;
            }
            assert!(next >= self.now);
            self.now = next;
            self.step();
        }
    }

    fn step(&mut self) {
        let now = self.now;
        while let Some((side, bytes)) = self.link.poll_receive(now) {
            let e = self.entity(side);
            if e.reliable {
                e.deframer.push(&bytes);
                while let Some(m) = e.deframer.next() {
                    e.receive(now, &m.expect("a well-framed stream"));
                }
            } else {
                e.receive(now, &bytes);
            }
        }
        if self.request_at().is_some_and(|at| at <= now) {
            let n = self.next_request;
            self.mgc.send_request(now, n);
            self.mg.send_request(now, n);
            self.next_request += 1;
        }
        self.mgc.handle_timeout(now);
        self.mg.handle_timeout(now);
        for side in [Side::Controller, Side::Gateway] {
            let to = match side {
                Side::Controller => Side::Gateway,
                Side::Gateway => Side::Controller,
            };
            let e = self.entity(side);
            e.drain_events();
            let mut out = Vec::new();
            while let Some(t) = e.tx.poll_transmit() {
                assert_eq!(t.destination, e.peer);
                out.push(t.contents);
            }
            for bytes in out {
                match &mut self.cutter {
                    None => self.link.send(now, to, bytes),
                    Some(rng) => {
                        let mut framed = Vec::new();
                        tpkt::frame(&bytes, &mut framed).unwrap();
                        let mut rest = &framed[..];
                        while !rest.is_empty() {
                            let n = rng.gen_range(1..=rest.len().min(64));
                            self.link.send(now, to, rest[..n].to_vec());
                            rest = &rest[n..];
                        }
                    }
                }
            }
        }
    }

    /// Every request ended exactly one way; every reply answered an executed request; at most
    /// one execution each. Returns how many of each side's requests were replied.
    fn check_outcomes(&self) -> (usize, usize) {
        for (e, peer) in [(&self.mgc, &self.mg), (&self.mg, &self.mgc)] {
            assert_eq!(e.sent.len(), REQUESTS);
            for id in &e.sent {
                let replied = e.replied.contains(id);
                assert!(
                    replied != e.timed_out.contains(id),
                    "{:?} request {id}: replied {replied}, timed out {}",
                    e.side,
                    !replied
                );
                if replied {
                    assert_eq!(peer.executed.get(id), Some(&1), "replied but not executed");
                }
            }
            assert!(
                peer.executed.values().all(|&n| n == 1),
                "a request executed twice"
            );
            assert!(peer.executed.keys().all(|id| e.sent.contains(id)));
        }
        (self.mgc.replied.len(), self.mg.replied.len())
    }
}

#[test]
fn lossy_udp_every_request_once_replied_or_timed_out_and_replies_released() {
    for seed in 0..8 {
        let mut w = World::udp(seed);
        // The last request goes at 15 s; 20 s later each has ended one way or the other.
        w.run(Duration::from_secs(40));
        let (mgc, mg) = w.check_outcomes();
        // Eight losses in a row are rare: nearly everything is replied.
        assert!(
            mgc >= REQUESTS - 2 && mg >= REQUESTS - 2,
            "seed {seed}: {mgc}, {mg}"
        );
        for e in [&w.mgc, &w.mg] {
            let s = e.tx.stats();
            assert!(s.retransmissions > 0, "seed {seed}");
            assert!(s.pendings_received > 0, "seed {seed}");
            assert!(s.acks_received > 0, "seed {seed}");
            assert!(s.replies_replayed + s.duplicates_executing + s.duplicates_dropped > 0);
            assert_eq!(
                s.replies_unacknowledged, 0,
                "seed {seed}: every ImmAck reply acked"
            );
            assert_eq!(e.tx.in_flight(e.peer), 0);
            // Every ImmAckRequired reply was acknowledged by now: nothing is retransmitted.
            assert_eq!(e.tx.awaiting_ack(), 0, "seed {seed}");
        }
        // LONG-TIMER later both layers have forgotten everything.
        w.run(Duration::from_secs(90));
        for e in [&w.mgc, &w.mg] {
            assert_eq!(e.tx.remembered(), 0);
            assert_eq!(e.tx.poll_timeout(), None, "seed {seed}");
        }
        let link = w.link.stats();
        assert!(link.lost > 0 && link.duplicated > 0);
    }
}

#[test]
fn tcp_with_tpkt_in_pieces_nothing_retransmitted_everything_replied() {
    for seed in 0..4 {
        let mut w = World::tcp(seed);
        w.run(Duration::from_secs(90));
        assert_eq!(w.check_outcomes(), (REQUESTS, REQUESTS));
        for e in [&w.mgc, &w.mg] {
            let s = e.tx.stats();
            assert_eq!(s.retransmissions + s.reply_retransmissions, 0);
            // Slow requests got their Pendings, over TCP too.
            assert!(s.pendings_received > 0);
            assert_eq!(s.timeouts, 0);
            assert!(!e.deframer.is_failed());
            assert_eq!(e.deframer.buffered(), 0);
            assert_eq!(e.tx.poll_timeout(), None);
        }
    }
}

/// The acknowledgements of the reply ride on the next request when one goes soon enough.
#[test]
fn acks_ride_on_requests() {
    let mut w = World::udp(99);
    w.run(Duration::from_secs(40));
    let s = w.mgc.tx.stats();
    assert!(s.acks_piggybacked > 0 && s.acks_due > 0, "{s:?}");
}
