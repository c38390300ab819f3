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
mod incoming;
mod outgoing;

use crate::Transmit;
pub use config::{Config, ConfigError, Stats};
use incoming::Remembered;
use outgoing::Outgoing;

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

struct Peer {
    /// Whether `aad`/`adev` come from a sample rather than [`Config::initial_rtt`].
    sampled: bool,
    aad: Duration,
    adev: Duration,
    /// Ids of final responses that must be acknowledged: in the next `K:`, or as `000`s at
    /// `ack_deadline` if no command goes first.
    acks: BTreeSet<TransactionId>,
    ack_deadline: Option<Instant>,
    /// Remembered incoming transactions, oldest first.
    history: BTreeMap<u64, TransactionId>,
}

/// At most this many ranges go in one `K:` line: what gateways have always been sent, well
/// within what they accept (the parser reads up to [`MAX_LIST`] items).
pub(crate) const MAX_ACK_RANGES: usize = 64;
const _: () = assert!(MAX_ACK_RANGES <= MAX_LIST);

/// Pending acknowledgements kept per peer (ids, before they are folded into ranges).
const MAX_PENDING_ACKS: usize = 4 * MAX_ACK_RANGES;

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

    // Outgoing commands are in `outgoing.rs`, incoming ones in `incoming.rs`.

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
mod tests;
