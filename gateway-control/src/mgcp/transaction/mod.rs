//! MGCP transactions over UDP (RFC 3435 §3.5, §4.3): retransmission of commands, at-most-once
//! execution of received commands, and response acknowledgement.
//!
//! The layer is symmetric: a call agent and a gateway (the simulator) use it the same way. It
//! handles encoded bytes and transaction ids only; callers parse and encode with
//! [`super::wire`]. The only messages it writes itself are the two that have no parameters: the
//! `100` provisional response and the `000` response acknowledgement.
//!
//! # Outgoing commands (§4.3)
//! [`Transactions::send_command`] registers an encoded command and transmits it. It is
//! retransmitted until a response arrives, first after the peer's estimated acknowledgement
//! delay `AAD + N·ADEV` (200 ms before any sample; the first sample `s` sets `AAD = s`,
//! `ADEV = s/2`, later ones are smoothed as in RFC 6298), then with exponential back-off capped at
//! [`Config::max_retransmit_interval`] (4 s). After [`Config::max_retransmissions`]
//! retransmissions (Max2, 7 by default), or [`Config::t_max`] (20 s) after the first send, the
//! transaction is given up one capped interval after its last retransmission and reported as
//! [`Event::TimedOut`]. Delay samples follow Karn's rule: only transactions answered without a
//! retransmission (and without a provisional response) update the estimate.
//!
//! A provisional (`1xx`) response stops retransmission (§3.5.6: the command has arrived and is
//! executing); the transaction then waits [`Config::provisional_timeout`] for the final response
//! before it is reported as timed out. A final response that follows a provisional one, or that
//! carries an empty `K:` (a request for acknowledgement), must be acknowledged: the layer keeps
//! the id for the next command to the same peer, which the caller sends with the
//! [`Transactions::take_response_acks`] ranges in its `K:` line (what real call agents do), and
//! sends a stand-alone `000` only when no command has gone to that peer within
//! [`Config::ack_delay`]. Other final responses are not acknowledged: the peer keeps them for
//! T-HIST, and some gateways (osmo-mgw) refuse commands carrying an unrequested `K:`.
//!
//! # Incoming commands (§3.5.6, §4.3)
//! [`Transactions::handle_command`] says whether a command is new. A duplicate of a command
//! still executing is answered with `100`; a duplicate of a finished one gets the cached
//! response replayed. Responses stay cached for [`Config::t_hist`] (30 s), bounded per peer and
//! in total (the oldest are evicted and counted). A `K:` in a later command, or a `000`,
//! releases the cached bytes; the transaction id is still remembered until T-HIST runs out, so
//! a late duplicate is dropped rather than executed twice. A final response sent after a
//! provisional one is retransmitted on the same back-off until it is acknowledged (the caller
//! adds an empty `K:` to it when [`Transactions::provisional_sent`] says so).

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, trace, warn};

use super::wire::{AckRange, MAX_DATAGRAM, MAX_LIST, MAX_MESSAGES, ReturnCode, TransactionId};

mod config;

use crate::Transmit;
pub use config::{Config, ConfigError, Stats};

/// Why [`Transactions::send_command`] refused a command (API misuse or a full table).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SendError {
    /// The encoded command is larger than [`MAX_DATAGRAM`].
    #[error("command of {0} bytes is too large")]
    TooLarge(usize),
    /// A command with this transaction id is already in flight.
    #[error("transaction {0} is already in flight")]
    InFlight(TransactionId),
    /// [`Config::max_in_flight`] commands are in flight.
    #[error("too many commands in flight")]
    TooManyInFlight,
}

/// What the layer reports on its own.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// An outgoing command got no final response: retransmissions ran out, T-MAX passed, or the
    /// final response did not follow a provisional one in time.
    TimedOut {
        /// The peer it was sent to.
        peer: SocketAddr,
        /// Its transaction id.
        transaction: TransactionId,
        /// Whether a provisional response had been received.
        provisional: bool,
    },
}

/// What a received response meant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseOutcome {
    /// The final response to a command in flight: act on it. The transaction is finished.
    Final,
    /// A provisional response to a command in flight: retransmission stopped, wait for the
    /// final one.
    Provisional,
    /// A `000` response acknowledgement: a cached response was released (or was already gone).
    Acknowledged,
    /// A response to no command in flight (a duplicate, or late after a timeout): ignore it.
    /// It was counted, and re-acknowledged if it asked for that.
    Unmatched,
}

/// What a received command is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CommandOutcome {
    /// Not seen before: execute it, then call [`Transactions::send_response`].
    New,
    /// A duplicate: the layer answered it (`100` or the cached response) or dropped it.
    Duplicate,
}

/// The layer's one timer kind per purpose (one deadline each, kept in one ordered set).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// An outgoing command: retransmit, or give up.
    Command(TransactionId),
    /// A final response sent after a provisional one: retransmit until acknowledged.
    Response(SocketAddr, TransactionId),
    /// A remembered incoming transaction: forget it (T-HIST).
    History(SocketAddr, TransactionId),
    /// Acknowledgements due to a peer: send them as `000`s.
    Ack(SocketAddr),
}

struct Outgoing {
    peer: SocketAddr,
    bytes: Vec<u8>,
    first_sent: Instant,
    retransmissions: u32,
    interval: Duration,
    deadline: Instant,
    provisional: bool,
}

enum Cached {
    /// Received, not answered yet.
    Executing { provisional_sent: bool },
    /// Answered; the response is kept for replay until acknowledged.
    Answered {
        bytes: Vec<u8>,
        /// Set when a provisional went first: the response is retransmitted until acknowledged.
        retransmit: Option<(Instant, Duration, u32)>,
    },
    /// Answered and acknowledged: duplicates are dropped.
    Acknowledged,
}

struct Remembered {
    seq: u64,
    state: Cached,
    expires: Instant,
}

struct Peer {
    /// Whether `aad`/`adev` come from a sample rather than [`Config::initial_rtt`].
    sampled: bool,
    aad: Duration,
    adev: Duration,
    /// Ids of final responses received, offered in the next `K:`; the flag says whether an
    /// acknowledgement is due (must be sent, as `000` if nothing else goes).
    acks: BTreeMap<TransactionId, bool>,
    ack_deadline: Option<Instant>,
    /// Remembered incoming transactions, oldest first.
    history: BTreeMap<u64, TransactionId>,
}

/// Pending acknowledgements kept per peer (ids, before they are folded into ranges).
const MAX_PENDING_ACKS: usize = 4 * MAX_LIST;

/// The transaction layer of one MGCP entity. See the [module docs](self).
///
/// Drive it like every core: feed `send_command`/`handle_response`/`handle_command`/
/// `send_response`/`handle_timeout` with the current time, then drain
/// [`poll_transmit`](Self::poll_transmit) and [`poll_event`](Self::poll_event), and wake at
/// [`poll_timeout`](Self::poll_timeout).
pub struct Transactions {
    config: Config,
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
    /// does not reuse the ids its peers still remember.
    pub fn new(config: Config, rng_seed: u64) -> Self {
        let mut rng = StdRng::seed_from_u64(rng_seed);
        let first = rng.gen_range(1..=TransactionId::MAX);
        Self {
            config,
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

    /// A fresh transaction id: the next in sequence (999,999,999 wraps to 1), skipping ids of
    /// commands still in flight.
    pub fn allocate_id(&mut self) -> TransactionId {
        // At most `outgoing.len() + 1` candidates are looked at: one of them is free.
        loop {
            let id = self.next_id;
            self.next_id = id.next();
            if !self.outgoing.contains_key(&id) {
                return id;
            }
        }
    }

    /// Outgoing commands in flight to `peer`.
    pub fn in_flight(&self, peer: SocketAddr) -> usize {
        self.in_flight.get(&peer).copied().unwrap_or(0)
    }

    /// Outgoing commands in flight, all peers.
    pub fn in_flight_total(&self) -> usize {
        self.outgoing.len()
    }

    /// Whether `transaction` is in flight.
    pub fn is_in_flight(&self, transaction: TransactionId) -> bool {
        self.outgoing.contains_key(&transaction)
    }

    /// The current first retransmission timer for `peer` (`AAD + N·ADEV`, bounded).
    pub fn retransmit_timeout(&self, peer: SocketAddr) -> Duration {
        match self.peers.get(&peer) {
            Some(p) => self.rto(p),
            None => self.config.initial_rtt,
        }
    }

    fn rto(&self, p: &Peer) -> Duration {
        (p.aad + p.adev * self.config.deviation_factor).clamp(
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
                    acks: BTreeMap::new(),
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

    // ---- outgoing commands ----

    /// Acknowledgements to put in the `K:` line of a command about to be sent to `peer`, as
    /// ranges (at most [`MAX_LIST`]); they are then considered sent. Call it just before
    /// encoding each new command.
    pub fn take_response_acks(&mut self, peer: SocketAddr) -> Vec<AckRange> {
        let Some(p) = self.peers.get_mut(&peer) else {
            return Vec::new();
        };
        let mut ranges: Vec<AckRange> = Vec::new();
        let mut taken = Vec::new();
        for &id in p.acks.keys() {
            let full = ranges.len() == MAX_LIST;
            match ranges.last_mut() {
                Some(r) if r.last.next() == id && id.0 > r.last.0 => r.last = id,
                _ if full => break,
                _ => ranges.push(AckRange {
                    first: id,
                    last: id,
                }),
            }
            taken.push(id);
        }
        for id in &taken {
            p.acks.remove(id);
        }
        if p.acks.values().all(|due| !due)
            && let Some(deadline) = p.ack_deadline.take()
        {
            self.timers.remove(&(deadline, Timer::Ack(peer)));
        }
        self.stats.acks_piggybacked += taken.len() as u64;
        ranges
    }

    /// Sends an encoded command and retransmits it until it is answered or given up.
    pub fn send_command(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        transaction: TransactionId,
        bytes: Vec<u8>,
    ) -> Result<(), SendError> {
        let refused = if bytes.len() > MAX_DATAGRAM {
            Some(SendError::TooLarge(bytes.len()))
        } else if self.outgoing.contains_key(&transaction) {
            Some(SendError::InFlight(transaction))
        } else if self.outgoing.len() >= self.config.max_in_flight {
            Some(SendError::TooManyInFlight)
        } else {
            None
        };
        if let Some(e) = refused {
            self.stats.send_refused += 1;
            debug!(%peer, %transaction, error = %e, "command refused");
            return Err(e);
        }
        let interval = match self.peer_mut(peer) {
            Some(_) => self.retransmit_timeout(peer),
            None => self.config.initial_rtt,
        };
        let deadline = now + interval;
        trace!(%peer, %transaction, len = bytes.len(), "command sent");
        self.transmits.push_back(Transmit {
            destination: peer,
            contents: bytes.clone(),
        });
        *self.in_flight.entry(peer).or_insert(0) += 1;
        self.outgoing.insert(
            transaction,
            Outgoing {
                peer,
                bytes,
                first_sent: now,
                retransmissions: 0,
                interval,
                deadline,
                provisional: false,
            },
        );
        self.timers.insert((deadline, Timer::Command(transaction)));
        self.stats.commands_sent += 1;
        Ok(())
    }

    fn take_outgoing(&mut self, id: TransactionId) -> Option<Outgoing> {
        let o = self.outgoing.remove(&id)?;
        if let Some(n) = self.in_flight.get_mut(&o.peer) {
            *n -= 1;
            if *n == 0 {
                self.in_flight.remove(&o.peer);
            }
        }
        Some(o)
    }

    /// Stops retransmitting `transaction` without reporting anything (the caller no longer
    /// cares). Returns whether it was in flight.
    pub fn cancel(&mut self, transaction: TransactionId) -> bool {
        match self.take_outgoing(transaction) {
            Some(o) => {
                self.timers
                    .remove(&(o.deadline, Timer::Command(transaction)));
                true
            }
            None => false,
        }
    }

    /// A response arrived from `peer`. `ack_requested` is whether it carried an empty `K:`.
    pub fn handle_response(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        transaction: TransactionId,
        code: ReturnCode,
        ack_requested: bool,
    ) -> ResponseOutcome {
        if code == ReturnCode::ACK {
            if !self.release(peer, transaction) {
                self.stats.acks_unmatched += 1;
                debug!(%peer, %transaction, "response acknowledgement for nothing cached");
            }
            return ResponseOutcome::Acknowledged;
        }
        let matched = match self.outgoing.get(&transaction) {
            Some(o) if o.peer == peer => true,
            Some(o) => {
                self.stats.responses_from_wrong_peer += 1;
                warn!(%peer, expected = %o.peer, %transaction, "response from the wrong address");
                return ResponseOutcome::Unmatched;
            }
            None => false,
        };
        if !matched {
            self.stats.unmatched_responses += 1;
            debug!(%peer, %transaction, code = code.0, "unmatched response dropped");
            if !code.is_provisional() && ack_requested {
                self.queue_ack(now, peer, transaction, true);
            }
            return ResponseOutcome::Unmatched;
        }
        if code.is_provisional() {
            let timeout = self.config.provisional_timeout;
            let Some(o) = self.outgoing.get_mut(&transaction) else {
                return ResponseOutcome::Unmatched;
            };
            self.stats.provisional_responses += 1;
            if !o.provisional {
                o.provisional = true;
                let old = o.deadline;
                o.deadline = now + timeout;
                let new = o.deadline;
                self.timers.remove(&(old, Timer::Command(transaction)));
                self.timers.insert((new, Timer::Command(transaction)));
                trace!(%peer, %transaction, code = code.0, "provisional response");
            }
            return ResponseOutcome::Provisional;
        }
        let Some(o) = self.take_outgoing(transaction) else {
            return ResponseOutcome::Unmatched;
        };
        self.timers
            .remove(&(o.deadline, Timer::Command(transaction)));
        self.stats.final_responses += 1;
        if o.retransmissions == 0 && !o.provisional {
            let sample = now.saturating_duration_since(o.first_sent);
            if let Some(p) = self.peers.get_mut(&peer) {
                // RFC 6298-style: the first sample replaces the prior (AAD = s, ADEV = s/2),
                // later ones are smoothed with gains 1/8 and 1/4, as §4.3 suggests.
                if p.sampled {
                    let diff = sample.abs_diff(p.aad);
                    p.adev = p.adev * 3 / 4 + diff / 4;
                    p.aad = p.aad * 7 / 8 + sample / 8;
                } else {
                    p.aad = sample;
                    p.adev = sample / 2;
                    p.sampled = true;
                }
                self.stats.rtt_samples += 1;
            }
        } else {
            self.stats.rtt_samples_skipped += 1;
        }
        // Only acknowledgements RFC 3435 §3.5.6 requires go out: some gateways (osmo-mgw)
        // refuse any command carrying `K:` with 539, so acknowledging every response would cost
        // interoperability for a little cache memory on the gateway (T-HIST bounds it anyway).
        if o.provisional || ack_requested {
            self.queue_ack(now, peer, transaction, true);
        }
        ResponseOutcome::Final
    }

    fn queue_ack(&mut self, now: Instant, peer: SocketAddr, id: TransactionId, due: bool) {
        let delay = self.config.ack_delay;
        let Some(p) = self.peer_mut(peer) else {
            self.stats.acks_dropped += 1;
            return;
        };
        let mut dropped = false;
        if p.acks.len() >= MAX_PENDING_ACKS && !p.acks.contains_key(&id) {
            // Forget the oldest optional one if any, else the oldest.
            let victim = p
                .acks
                .iter()
                .find(|(_, due)| !**due)
                .or_else(|| p.acks.iter().next())
                .map(|(id, _)| *id);
            if let Some(v) = victim {
                p.acks.remove(&v);
            }
            dropped = true;
        }
        let entry = p.acks.entry(id).or_insert(false);
        *entry |= due;
        if due && p.ack_deadline.is_none() {
            let deadline = now + delay;
            p.ack_deadline = Some(deadline);
            self.timers.insert((deadline, Timer::Ack(peer)));
        }
        if dropped {
            self.stats.acks_dropped += 1;
        }
    }

    // ---- incoming commands ----

    /// A command arrived from `peer`; `acks` is its `K:` list (it releases cached responses
    /// first). Says whether to execute it.
    pub fn handle_command(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        transaction: TransactionId,
        acks: &[AckRange],
    ) -> CommandOutcome {
        for r in acks {
            self.release_range(peer, *r);
        }
        if let Some(r) = self.remembered.get_mut(&(peer, transaction)) {
            match &mut r.state {
                Cached::Executing { provisional_sent } => {
                    *provisional_sent = true;
                    self.stats.provisional_sent += 1;
                    debug!(%peer, %transaction, "duplicate of an executing command: 100");
                    let bytes = bodiless(ReturnCode::EXECUTING, transaction);
                    self.transmits.push_back(Transmit {
                        destination: peer,
                        contents: bytes,
                    });
                }
                Cached::Answered { bytes, .. } => {
                    self.stats.responses_replayed += 1;
                    debug!(%peer, %transaction, "duplicate command: response replayed");
                    self.transmits.push_back(Transmit {
                        destination: peer,
                        contents: bytes.clone(),
                    });
                }
                Cached::Acknowledged => {
                    self.stats.duplicates_after_ack += 1;
                    debug!(%peer, %transaction, "duplicate of an acknowledged command dropped");
                }
            }
            return CommandOutcome::Duplicate;
        }
        self.stats.commands_received += 1;
        let expires = now + self.config.t_hist;
        self.remember(
            peer,
            transaction,
            Cached::Executing {
                provisional_sent: false,
            },
            expires,
        );
        CommandOutcome::New
    }

    /// Whether a `100` went out for `transaction` from `peer`: its final response must then
    /// carry an empty `K:` asking for acknowledgement (§3.5.6).
    pub fn provisional_sent(&self, peer: SocketAddr, transaction: TransactionId) -> bool {
        matches!(
            self.remembered.get(&(peer, transaction)),
            Some(Remembered {
                state: Cached::Executing {
                    provisional_sent: true
                },
                ..
            })
        )
    }

    /// Sends the encoded response to a command from `peer` and caches it for duplicates
    /// (T-HIST). Also used for responses to commands the layer never saw (a `510` to an
    /// unparseable one): those are sent without caching.
    pub fn send_response(
        &mut self,
        now: Instant,
        peer: SocketAddr,
        transaction: TransactionId,
        bytes: Vec<u8>,
    ) {
        self.stats.responses_sent += 1;
        self.transmits.push_back(Transmit {
            destination: peer,
            contents: bytes.clone(),
        });
        let rto = self.retransmit_timeout(peer);
        let t_hist = self.config.t_hist;
        let Some(r) = self.remembered.get_mut(&(peer, transaction)) else {
            return;
        };
        let provisional = match r.state {
            Cached::Executing { provisional_sent } => provisional_sent,
            // Answered twice: keep the first answer, which duplicates already got.
            Cached::Answered { .. } | Cached::Acknowledged => return,
        };
        let old = r.expires;
        r.expires = now + t_hist;
        let new = r.expires;
        r.state = Cached::Answered {
            bytes,
            retransmit: provisional.then_some((now + rto, rto, 0)),
        };
        self.timers
            .remove(&(old, Timer::History(peer, transaction)));
        self.timers.insert((new, Timer::History(peer, transaction)));
        if provisional {
            self.timers
                .insert((now + rto, Timer::Response(peer, transaction)));
        }
    }

    fn remember(&mut self, peer: SocketAddr, id: TransactionId, state: Cached, expires: Instant) {
        let per_peer = self.config.max_history_per_peer;
        // Make room: per peer, then in total.
        let oldest_of_peer = match self.peer_mut(peer) {
            Some(p) if p.history.len() >= per_peer => p.history.values().next().copied(),
            Some(_) => None,
            None => {
                self.stats.history_refused += 1;
                debug!(%peer, transaction = %id, "too many peers: command not remembered");
                return;
            }
        };
        if let Some(old) = oldest_of_peer {
            self.forget(peer, old);
            self.stats.history_evictions += 1;
        }
        if self.remembered.len() >= self.config.max_history
            && let Some((_, &(p, old))) = self.history_order.iter().next()
        {
            self.forget(p, old);
            self.stats.history_evictions += 1;
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        if let Some(p) = self.peers.get_mut(&peer) {
            p.history.insert(seq, id);
        }
        self.history_order.insert(seq, (peer, id));
        self.remembered.insert(
            (peer, id),
            Remembered {
                seq,
                state,
                expires,
            },
        );
        self.timers.insert((expires, Timer::History(peer, id)));
    }

    fn forget(&mut self, peer: SocketAddr, id: TransactionId) {
        let Some(r) = self.remembered.remove(&(peer, id)) else {
            return;
        };
        self.history_order.remove(&r.seq);
        if let Some(p) = self.peers.get_mut(&peer) {
            p.history.remove(&r.seq);
        }
        self.timers.remove(&(r.expires, Timer::History(peer, id)));
        if let Cached::Answered {
            retransmit: Some((at, _, _)),
            ..
        } = r.state
        {
            self.timers.remove(&(at, Timer::Response(peer, id)));
        }
    }

    fn release_range(&mut self, peer: SocketAddr, r: AckRange) {
        // A range is bounded by what is remembered for the peer, not by its width.
        if r.first.0 > r.last.0 {
            return;
        }
        let ids: Vec<TransactionId> = match self.peers.get(&peer) {
            Some(p) if (r.last.0 - r.first.0) as usize >= p.history.len() => p
                .history
                .values()
                .filter(|id| (r.first.0..=r.last.0).contains(&id.0))
                .copied()
                .collect(),
            Some(_) => (r.first.0..=r.last.0).map(TransactionId).collect(),
            None => return,
        };
        for id in ids {
            self.release(peer, id);
        }
    }

    /// Releases the cached response of `id`; returns whether one was cached.
    fn release(&mut self, peer: SocketAddr, id: TransactionId) -> bool {
        let Some(r) = self.remembered.get_mut(&(peer, id)) else {
            return false;
        };
        let Cached::Answered { retransmit, .. } = &r.state else {
            return false;
        };
        if let Some((at, _, _)) = retransmit {
            self.timers.remove(&(*at, Timer::Response(peer, id)));
        }
        r.state = Cached::Acknowledged;
        self.stats.acks_received += 1;
        trace!(%peer, transaction = %id, "cached response released");
        true
    }

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
                Timer::Command(id) => self.command_timer(now, id),
                Timer::Response(peer, id) => self.response_timer(now, peer, id),
                Timer::History(peer, id) => {
                    self.forget(peer, id);
                    self.stats.history_expired += 1;
                }
                Timer::Ack(peer) => self.ack_timer(peer),
            }
        }
    }

    fn command_timer(&mut self, now: Instant, id: TransactionId) {
        let max = self.config.max_retransmissions;
        let cap = self.config.max_retransmit_interval;
        let t_max = self.config.t_max;
        let Some(o) = self.outgoing.get_mut(&id) else {
            return;
        };
        let give_up = o.provisional
            || o.retransmissions >= max
            || now.saturating_duration_since(o.first_sent) >= t_max;
        if give_up {
            let (peer, provisional) = (o.peer, o.provisional);
            self.take_outgoing(id);
            self.stats.timeouts += 1;
            debug!(%peer, transaction = %id, provisional, "command timed out");
            self.events.push_back(Event::TimedOut {
                peer,
                transaction: id,
                provisional,
            });
            return;
        }
        o.retransmissions += 1;
        o.interval = (o.interval * 2).min(cap);
        o.deadline = (now + o.interval).min(o.first_sent + t_max);
        self.stats.retransmissions += 1;
        trace!(peer = %o.peer, transaction = %id, n = o.retransmissions, "command retransmitted");
        self.transmits.push_back(Transmit {
            destination: o.peer,
            contents: o.bytes.clone(),
        });
        self.timers.insert((o.deadline, Timer::Command(id)));
    }

    fn response_timer(&mut self, now: Instant, peer: SocketAddr, id: TransactionId) {
        let max = self.config.max_retransmissions;
        let cap = self.config.max_retransmit_interval;
        let Some(Remembered {
            state: Cached::Answered { bytes, retransmit },
            ..
        }) = self.remembered.get_mut(&(peer, id))
        else {
            return;
        };
        let Some((_, interval, n)) = *retransmit else {
            return;
        };
        if n >= max {
            *retransmit = None;
            debug!(%peer, transaction = %id, "final response never acknowledged");
            return;
        }
        let interval = (interval * 2).min(cap);
        *retransmit = Some((now + interval, interval, n + 1));
        self.stats.response_retransmissions += 1;
        self.transmits.push_back(Transmit {
            destination: peer,
            contents: bytes.clone(),
        });
        self.timers
            .insert((now + interval, Timer::Response(peer, id)));
    }

    fn ack_timer(&mut self, peer: SocketAddr) {
        let Some(p) = self.peers.get_mut(&peer) else {
            return;
        };
        p.ack_deadline = None;
        let due: Vec<TransactionId> = p
            .acks
            .iter()
            .filter(|(_, due)| **due)
            .map(|(id, _)| *id)
            .collect();
        if due.is_empty() {
            return;
        }
        // Piggy-backed `000`s, one per transaction (§3.5.5), within the datagram bounds every
        // MGCP parser here accepts.
        let acks = due.iter().map(|id| {
            p.acks.remove(id);
            Transmit {
                destination: peer,
                contents: bodiless(ReturnCode::ACK, *id),
            }
        });
        let datagrams = piggyback(acks, MAX_MESSAGES, MAX_DATAGRAM);
        self.stats.response_acks_sent += due.len() as u64;
        trace!(%peer, n = due.len(), "response acknowledgements sent");
        self.transmits
            .extend(datagrams.into_iter().map(|(datagram, _)| datagram));
    }

    // ---- output ----

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

/// Piggy-backs messages (RFC 3435 §3.5.5): each message joins the latest datagram already bound
/// for its destination, after a `.` line, while that datagram holds fewer than `max_messages`
/// messages and stays within `max_bytes`; otherwise it starts a new datagram. The order of the
/// messages to each destination is kept. Returns the datagrams, each with how many messages it
/// holds.
///
/// Each input must be one encoded message ending with a line end (what [`super::wire`] writes);
/// one larger than `max_bytes` goes alone. Every message in a datagram is processed as if it
/// had come alone (§3.5.5), so the transaction layer still retransmits each command on its own.
pub fn piggyback(
    messages: impl IntoIterator<Item = Transmit>,
    max_messages: usize,
    max_bytes: usize,
) -> Vec<(Transmit, usize)> {
    const SEPARATOR: &[u8] = b".\r\n";
    let mut out: Vec<(Transmit, usize)> = Vec::new();
    // Destination → index in `out` of its open datagram.
    let mut open: HashMap<SocketAddr, usize> = HashMap::new();
    for m in messages {
        if let Some(&i) = open.get(&m.destination)
            && let Some((datagram, n)) = out.get_mut(i)
            && *n < max_messages
            && datagram.contents.ends_with(b"\n")
            && datagram.contents.len() + SEPARATOR.len() + m.contents.len() <= max_bytes
        {
            datagram.contents.extend_from_slice(SEPARATOR);
            datagram.contents.extend_from_slice(&m.contents);
            *n += 1;
            continue;
        }
        open.insert(m.destination, out.len());
        out.push((m, 1));
    }
    out
}

/// A response with no parameters: `100 <id> ...` or `000 <id> ...`.
fn bodiless(code: ReturnCode, id: TransactionId) -> Vec<u8> {
    let comment = if code == ReturnCode::ACK {
        "OK"
    } else {
        "Executing"
    };
    format!("{code} {id} {comment}\r\n").into_bytes()
}

#[cfg(test)]
#[path = "../tests/transaction.rs"]
mod tests;
