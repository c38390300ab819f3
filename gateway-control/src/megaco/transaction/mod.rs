//! MEGACO transactions (H.248.1 §8.2, Annex D.1 over UDP and Annex D.2 over TCP): retransmission
//! of requests, at-most-once execution of received requests, TransactionPending and
//! TransactionResponseAck.
//!
//! The layer is symmetric: a controller and a gateway (the simulator) use it the same way. It
//! handles encoded messages and transaction ids only; callers parse and encode with
//! [`super::text`], and build the two messages the layer asks for but cannot write itself (it
//! knows no mId): a stand-alone `TransactionResponseAck` ([`Event::AcksDue`]) and a
//! `Pending` ([`Event::PendingDue`]), both sent with [`Transactions::send_raw`].
//!
//! # Requests we send (Annex D.1.3, D.1.4)
//! [`Transactions::send_request`] registers an encoded message holding one TransactionRequest
//! and transmits it. Over UDP it is retransmitted until a reply or a Pending arrives: first
//! after the peer's estimated acknowledgement delay `AAD + N·ADEV` (200 ms before any sample;
//! the first sample `s` sets `AAD = s`, `ADEV = s/2`, later ones are smoothed with gains 1/8
//! and 1/4), then, as D.1.3 says, with the transaction's AAD doubled at each retransmission
//! and the timer drawn uniformly between `AAD/2` and `AAD` plus `N·ADEV` (the random part
//! breaks the synchronisation of requests triggered together), bounded by
//! [`Config::min_retransmit_interval`] and [`Config::max_retransmit_interval`] (4 s). After
//! [`Config::max_retransmissions`], or [`Config::request_timeout`] (20 s) after the first
//! send, the request is given up and reported as [`Event::TimedOut`]. Over TCP (`reliable`)
//! nothing is retransmitted; the same timeout applies. Delay samples follow Karn's rule: only
//! requests answered without a retransmission and without a Pending update the estimate.
//!
//! A TransactionPending (§8.2.3, D.1.4) stops retransmission: the request has arrived and is
//! executing. It then waits [`Config::pending_timeout`] for its reply; each further Pending
//! restarts that wait, up to [`Config::peer_pending_limit`] Pendings (the peer's
//! MG/MGCOriginatedPendingLimit); one more, or the wait running out, and it has failed
//! ([`Event::TimedOut`] with `pending`). A Pending after the reply is ignored.
//!
//! Every reply received is acknowledged (D.1.2.2; replies with `ImmAckRequired`, and replies
//! after a Pending, must be; others may be, which lets the peer free its cache early): the
//! ids wait for the next message the caller sends to that peer, which carries them as a
//! `TransactionResponseAck` from [`Transactions::take_response_acks`]; if none goes within
//! [`Config::ack_delay`], [`Event::AcksDue`] asks for a stand-alone one.
//!
//! # Requests we receive (Annex D.1.1, D.1.2.2, D.1.4)
//! [`Transactions::handle_request`] says whether a request is new. Replies are remembered per
//! peer for [`Config::long_timer`] (LONG-TIMER, 30 s), bounded per peer and in total (the
//! oldest are evicted and counted): a duplicate of a replied request gets the cached reply
//! again; a duplicate of one still executing asks for a Pending ([`Event::PendingDue`]), as
//! does a request still executing after [`Config::provisional_timer`], every interval, up to
//! [`Config::pending_limit`] Pendings. A TransactionResponseAck releases cached replies; the
//! id is still remembered until LONG-TIMER runs out, so a late duplicate is dropped rather
//! than executed twice. A reply with `ImmAckRequired` sent over UDP is retransmitted on the
//! same back-off until it is acknowledged.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, trace};

use super::text::MAX_MESSAGE;
use super::{AckRange, TransactionId};

mod config;
mod incoming;
mod outgoing;

use crate::Transmit;
pub use config::{Config, ConfigError, Stats};
use incoming::Remembered;
use outgoing::Outgoing;

/// Why [`Transactions::send_request`] refused a request (API misuse or a full table).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The encoded message is larger than [`MAX_MESSAGE`].
    #[error("request of {0} bytes is too large")]
    TooLarge(usize),
    /// A request with this transaction id is already in flight.
    #[error("transaction {0} is already in flight")]
    InFlight(TransactionId),
    /// [`Config::max_in_flight`] requests are in flight.
    #[error("too many requests in flight")]
    TooManyInFlight,
    /// [`Config::max_in_flight_per_peer`] requests are in flight to this peer.
    #[error("too many requests in flight to {0}")]
    TooManyToPeer(SocketAddr),
}

/// What the layer reports on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A request of ours got no reply: retransmissions ran out, the request timeout passed, the
    /// reply did not follow a Pending in time, or the peer sent too many Pendings.
    TimedOut {
        /// The peer it was sent to.
        peer: SocketAddr,
        /// Its transaction id.
        transaction: TransactionId,
        /// Whether a TransactionPending had been received for it.
        pending: bool,
    },
    /// Acknowledgements that are due and found no request or reply to ride on: the caller
    /// encodes a stand-alone `TransactionResponseAck` message for `peer` and passes it to
    /// [`Transactions::send_raw`]. At most [`MAX_ACK_RANGES`] ranges each.
    AcksDue {
        /// Where to.
        peer: SocketAddr,
        /// The ids, as ranges.
        ranges: Vec<AckRange>,
    },
    /// A request from `peer` is still executing and a TransactionPending is due (a duplicate
    /// of it arrived, or it has run for [`Config::provisional_timer`]): the caller encodes
    /// `Pending = transaction {}` and passes it to [`Transactions::send_raw`].
    PendingDue {
        /// Where to.
        peer: SocketAddr,
        /// The request still executing.
        transaction: TransactionId,
    },
}

/// What a received reply means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyOutcome {
    /// The reply to a request in flight: act on it. The transaction is finished.
    Final,
    /// A reply to no request in flight (a duplicate, late after a timeout, or from the wrong
    /// address): ignore it. It was counted, and acknowledged again if from the right peer.
    Unmatched,
}

/// What a received request is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome {
    /// Not seen before: execute it, then call [`Transactions::send_reply`].
    New,
    /// A duplicate: the layer resent the cached reply, asked for a Pending, or dropped it.
    Duplicate,
}

/// The layer's one timer kind per purpose (one deadline each, kept in one ordered set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// A request of ours: retransmit, or give up.
    Request(TransactionId),
    /// A request we execute: a Pending is due.
    Provisional(SocketAddr, TransactionId),
    /// An `ImmAckRequired` reply: retransmit until acknowledged.
    Reply(SocketAddr, TransactionId),
    /// A remembered incoming transaction: forget it (LONG-TIMER).
    History(SocketAddr, TransactionId),
    /// Acknowledgements due to a peer: report them.
    Ack(SocketAddr),
}

struct Peer {
    /// Whether `aad`/`adev` come from a sample rather than [`Config::initial_rtt`].
    sampled: bool,
    aad: Duration,
    adev: Duration,
    /// Ids of replies to acknowledge: with the next message, or reported at `ack_deadline`.
    acks: BTreeSet<TransactionId>,
    ack_deadline: Option<Instant>,
    /// Remembered incoming transactions, oldest first.
    history: BTreeMap<u64, TransactionId>,
}

/// At most this many ranges are handed out at once (by
/// [`Transactions::take_response_acks`] or in one [`Event::AcksDue`]): well within what the
/// text parser reads in one list.
pub const MAX_ACK_RANGES: usize = 64;
const _: () = assert!(MAX_ACK_RANGES <= super::text::MAX_LIST);

/// Pending acknowledgements kept per peer (ids, before they are folded into ranges).
const MAX_PENDING_ACKS: usize = 4 * MAX_ACK_RANGES;

/// The transaction layer of one MEGACO entity. See the [module docs](self).
///
/// Drive it like every core: feed `send_request`/`handle_reply`/`handle_pending`/
/// `handle_request`/`send_reply`/`handle_response_ack`/`handle_timeout` with the current
/// time, then drain [`poll_transmit`](Self::poll_transmit) and
/// [`poll_event`](Self::poll_event), and wake at [`poll_timeout`](Self::poll_timeout).
/// Before encoding any message for a peer, take the acknowledgements owed to it with
/// [`take_response_acks`](Self::take_response_acks).
pub struct Transactions {
    config: Config,
    rng: StdRng,
    next_id: TransactionId,
    outgoing: HashMap<TransactionId, Outgoing>,
    in_flight: HashMap<SocketAddr, usize>,
    remembered: HashMap<(SocketAddr, TransactionId), Remembered>,
    /// All remembered transactions, oldest first, for the total bound.
    history_order: BTreeMap<u64, (SocketAddr, TransactionId)>,
    next_seq: u64,
    peers: HashMap<SocketAddr, Peer>,
    timers: BTreeSet<(Instant, Timer)>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
}

impl Transactions {
    /// A layer whose first transaction id is drawn from `rng_seed`, so that a restarted entity
    /// does not reuse the ids its peers still remember. The same seed draws the retransmission
    /// jitter.
    pub fn new(config: Config, rng_seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(rng_seed);
        let first = rng.gen_range(1..=u32::MAX);
        Self {
            config,
            rng,
            next_id: TransactionId(first),
            outgoing: HashMap::new(),
            in_flight: HashMap::new(),
            remembered: HashMap::new(),
            history_order: BTreeMap::new(),
            next_seq: 0,
            peers: HashMap::new(),
            timers: BTreeSet::new(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// A fresh transaction id: the next in sequence (4,294,967,295 wraps to 1; 0 is never
    /// used), skipping ids of requests still in flight.
    pub fn allocate_id(&mut self) -> TransactionId {
        // At most `outgoing.len() + 1` candidates are looked at: one of them is free.
        loop {
            let id = self.next_id;
            self.next_id = TransactionId(id.0.checked_add(1).unwrap_or(1));
            if !self.outgoing.contains_key(&id) {
                return id;
            }
        }
    }

    /// Requests of ours in flight to `peer`.
    pub fn in_flight(&self, peer: SocketAddr) -> usize {
        self.in_flight.get(&peer).copied().unwrap_or(0)
    }

    /// Requests of ours in flight, all peers.
    pub fn in_flight_total(&self) -> usize {
        self.outgoing.len()
    }

    /// Whether `transaction` is in flight.
    pub fn is_in_flight(&self, transaction: TransactionId) -> bool {
        self.outgoing.contains_key(&transaction)
    }

    /// Incoming transactions remembered (executing, replied or acknowledged), all peers.
    pub fn remembered(&self) -> usize {
        self.remembered.len()
    }

    /// Peers with state kept.
    pub fn peers(&self) -> usize {
        self.peers.len()
    }

    /// The current first retransmission timer for `peer` (`AAD + N·ADEV`, bounded).
    pub fn retransmit_timeout(&self, peer: SocketAddr) -> Duration {
        match self.peers.get(&peer) {
            Some(p) => self.bounded(p.aad + p.adev * self.config.deviation_factor),
            None => self.config.initial_rtt,
        }
    }

    fn bounded(&self, d: Duration) -> Duration {
        d.clamp(
            self.config.min_retransmit_interval,
            self.config.max_retransmit_interval,
        )
    }

    fn peer_mut(&mut self, peer: SocketAddr) -> Option<&mut Peer> {
        if !self.peers.contains_key(&peer) {
            if self.peers.len() >= self.config.max_peers {
                self.prune_peers();
            }
            if self.peers.len() >= self.config.max_peers {
                return None;
            }
            self.peers.insert(
                peer,
                Peer {
                    sampled: false,
                    aad: self.config.initial_rtt,
                    adev: Duration::ZERO,
                    acks: BTreeSet::new(),
                    ack_deadline: None,
                    history: BTreeMap::new(),
                },
            );
        }
        self.peers.get_mut(&peer)
    }

    /// Drops peers that hold nothing but a delay estimate and have nothing in flight.
    fn prune_peers(&mut self) {
        let busy = &self.in_flight;
        self.peers
            .retain(|a, p| busy.contains_key(a) || !p.history.is_empty() || !p.acks.is_empty());
    }

    /// Sends a message the layer does not track (a stand-alone TransactionResponseAck, a
    /// Pending, an error reply to an unparseable message).
    pub fn send_raw(&mut self, peer: SocketAddr, bytes: Vec<u8>) {
        self.stats.raw_sent += 1;
        trace!(%peer, len = bytes.len(), "message sent");
        self.transmits.push_back(Transmit {
            destination: peer,
            contents: bytes,
        });
    }

    // Requests we send are in `outgoing.rs`, requests we receive in `incoming.rs`.

    // ---- time ----

    /// When [`handle_timeout`](Self::handle_timeout) is next needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// Runs every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some(&(at, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            match timer {
                Timer::Request(id) => self.request_timer(now, id),
                Timer::Provisional(peer, id) => self.provisional_timer(now, peer, id),
                Timer::Reply(peer, id) => self.reply_timer(now, peer, id),
                Timer::History(peer, id) => {
                    self.forget(peer, id);
                    self.stats.history_expired += 1;
                }
                Timer::Ack(peer) => self.ack_timer(peer),
            }
        }
    }

    // ---- output ----

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

/// Folds ascending ids into at most [`MAX_ACK_RANGES`] ranges; returns them and how many ids
/// they hold.
fn ranges_of(ids: impl IntoIterator<Item = TransactionId>) -> (Vec<AckRange>, usize) {
    let mut ranges: Vec<AckRange> = Vec::new();
    let mut n = 0;
    for id in ids {
        let full = ranges.len() == MAX_ACK_RANGES;
        match ranges.last_mut() {
            Some(r) if r.last.0.checked_add(1) == Some(id.0) => r.last = id,
            _ if full => break,
            _ => ranges.push(AckRange {
                first: id,
                last: id,
            }),
        }
        n += 1;
    }
    (ranges, n)
}

#[cfg(test)]
mod tests;
