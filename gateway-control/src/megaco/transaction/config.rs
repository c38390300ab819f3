//! The transaction layer's settings and counters.

use std::time::Duration;

/// The longest duration a setting takes: a day.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

/// Retransmission, pending and history settings. Names of H.248.1 Annex D.1 and of the root
/// package (Annex E.1) in brackets; "peer" is the MG for a controller's layer and the MGC for a
/// gateway's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The acknowledgement delay assumed before the first sample (AAD₀): the first
    /// retransmission timer. 200 ms.
    pub initial_rtt: Duration,
    /// `N` in `AAD + N·ADEV` (Annex D.1.3). 2.
    pub deviation_factor: u32,
    /// The smallest retransmission timer, however fast the peer answers. 200 ms.
    pub min_retransmit_interval: Duration,
    /// The back-off cap: 4 s, the maximum Annex D.1.3 suggests.
    pub max_retransmit_interval: Duration,
    /// Retransmissions of a request (over UDP) before it is given up. 7.
    pub max_retransmissions: u32,
    /// The longest a request with no TransactionPending is retransmitted or waited for, from
    /// its first send, over UDP and TCP alike. 20 s: below [`Config::long_timer`], so that no
    /// retransmission reaches a peer that has forgotten the transaction.
    pub request_timeout: Duration,
    /// LONG-TIMER (Annex D.1.1): how long replied transaction ids are remembered (with the
    /// reply, until acknowledged) so that duplicates are not executed again. 30 s.
    pub long_timer: Duration,
    /// How long a request answered with TransactionPending waits for its reply or the next
    /// Pending before it is given up (the longer timer of Annex D.1.4). The peer repeats its
    /// Pending every provisional response timer (MGProvisionalResponseTimerValue when the
    /// peer is the MG; gateways use about 2 s), so the default, 10 s, survives several lost
    /// Pendings in a row.
    pub pending_timeout: Duration,
    /// Pendings accepted for one request (MGOriginatedPendingLimit when the peer is the MG,
    /// MGCOriginatedPendingLimit when it is the MGC); one more and the request has failed. 8.
    pub peer_pending_limit: u32,
    /// How long a received request may execute before the layer asks for a TransactionPending
    /// to be sent ([`Event::PendingDue`](super::Event::PendingDue)), and again every interval
    /// while it executes: our own provisional response timer (MGCProvisionalResponseTimerValue
    /// for a controller, MGProvisionalResponseTimerValue for a gateway; below the normal
    /// execution time the peer expects of us plus network delay). 2 s.
    pub provisional_timer: Duration,
    /// Pendings sent for one received request (MGCOriginatedPendingLimit for a controller,
    /// MGOriginatedPendingLimit for a gateway): the peer gives up after that many. 8.
    pub pending_limit: u32,
    /// How long an acknowledgement that is due waits for a message to ride on before it is
    /// reported as [`Event::AcksDue`](super::Event::AcksDue). 100 ms.
    pub ack_delay: Duration,
    /// Remembered incoming transactions per peer. 1024.
    pub max_history_per_peer: usize,
    /// Remembered incoming transactions in total. 16,384.
    pub max_history: usize,
    /// Outgoing requests in flight to one peer. 1024.
    pub max_in_flight_per_peer: usize,
    /// Outgoing requests in flight, all peers together. 16,384.
    pub max_in_flight: usize,
    /// Peers with remembered state (delay estimates, acknowledgements, history). 4096.
    pub max_peers: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            initial_rtt: Duration::from_millis(200),
            deviation_factor: 2,
            min_retransmit_interval: Duration::from_millis(200),
            max_retransmit_interval: Duration::from_secs(4),
            max_retransmissions: 7,
            request_timeout: Duration::from_secs(20),
            long_timer: Duration::from_secs(30),
            pending_timeout: Duration::from_secs(10),
            peer_pending_limit: 8,
            provisional_timer: Duration::from_secs(2),
            pending_limit: 8,
            ack_delay: Duration::from_millis(100),
            max_history_per_peer: 1024,
            max_history: 16_384,
            max_in_flight_per_peer: 1024,
            max_in_flight: 16_384,
            max_peers: 4096,
        }
    }
}

/// A [`Config`] value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A duration or count that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// The retransmission bounds are not ordered `min ≤ initial ≤ max`.
    #[error("retransmission intervals must satisfy min <= initial <= max")]
    IntervalOrder,
    /// A per-peer bound exceeds its total.
    #[error("{0} per peer exceeds the total")]
    PerPeerOrder(&'static str),
    /// A duration longer than a day (the layer adds them to instants).
    #[error("{0} must be at most a day")]
    TooLong(&'static str),
    /// [`Config::request_timeout`] is not shorter than [`Config::long_timer`]: a
    /// retransmission could reach a peer that has forgotten the transaction and run it twice.
    #[error("request_timeout must be shorter than long_timer")]
    TimerOrder,
}

impl Config {
    pub(super) fn validate(self) -> Result<Self, ConfigError> {
        for (name, d, positive) in [
            ("initial_rtt", self.initial_rtt, true),
            (
                "min_retransmit_interval",
                self.min_retransmit_interval,
                true,
            ),
            (
                "max_retransmit_interval",
                self.max_retransmit_interval,
                true,
            ),
            ("request_timeout", self.request_timeout, true),
            ("long_timer", self.long_timer, true),
            ("pending_timeout", self.pending_timeout, true),
            ("provisional_timer", self.provisional_timer, true),
            ("ack_delay", self.ack_delay, false),
        ] {
            if positive && d.is_zero() {
                return Err(ConfigError::Zero(name));
            }
            if d > MAX_DURATION {
                return Err(ConfigError::TooLong(name));
            }
        }
        for (name, n) in [
            ("max_history_per_peer", self.max_history_per_peer),
            ("max_in_flight_per_peer", self.max_in_flight_per_peer),
            ("max_peers", self.max_peers),
        ] {
            if n == 0 {
                return Err(ConfigError::Zero(name));
            }
        }
        if !(self.min_retransmit_interval <= self.initial_rtt
            && self.initial_rtt <= self.max_retransmit_interval)
        {
            return Err(ConfigError::IntervalOrder);
        }
        if self.max_history_per_peer > self.max_history {
            return Err(ConfigError::PerPeerOrder("max_history"));
        }
        if self.max_in_flight_per_peer > self.max_in_flight {
            return Err(ConfigError::PerPeerOrder("max_in_flight"));
        }
        if self.request_timeout >= self.long_timer {
            return Err(ConfigError::TimerOrder);
        }
        Ok(self)
    }

    fn set(&mut self, f: impl FnOnce(&mut Self)) -> Result<&mut Self, ConfigError> {
        let mut next = self.clone();
        f(&mut next);
        *self = next.validate()?;
        Ok(self)
    }

    /// Sets [`Config::initial_rtt`].
    pub fn initial_rtt(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.initial_rtt = d)
    }

    /// Sets [`Config::deviation_factor`].
    pub fn deviation_factor(&mut self, n: u32) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.deviation_factor = n)
    }

    /// Sets [`Config::min_retransmit_interval`] and [`Config::max_retransmit_interval`].
    pub fn retransmit_interval(
        &mut self,
        min: Duration,
        max: Duration,
    ) -> Result<&mut Self, ConfigError> {
        self.set(|c| {
            c.min_retransmit_interval = min;
            c.max_retransmit_interval = max;
        })
    }

    /// Sets [`Config::max_retransmissions`].
    pub fn max_retransmissions(&mut self, n: u32) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_retransmissions = n)
    }

    /// Sets [`Config::request_timeout`] and [`Config::long_timer`] (LONG-TIMER) together:
    /// the first must be the shorter.
    pub fn timeouts(
        &mut self,
        request_timeout: Duration,
        long_timer: Duration,
    ) -> Result<&mut Self, ConfigError> {
        self.set(|c| {
            c.request_timeout = request_timeout;
            c.long_timer = long_timer;
        })
    }

    /// Sets [`Config::pending_timeout`] and [`Config::peer_pending_limit`]: how requests of
    /// ours wait once the peer said Pending.
    pub fn peer_pending(
        &mut self,
        timeout: Duration,
        limit: u32,
    ) -> Result<&mut Self, ConfigError> {
        self.set(|c| {
            c.pending_timeout = timeout;
            c.peer_pending_limit = limit;
        })
    }

    /// Sets [`Config::provisional_timer`] and [`Config::pending_limit`]: when and how often
    /// Pendings are due for requests we execute.
    pub fn provisional(&mut self, timer: Duration, limit: u32) -> Result<&mut Self, ConfigError> {
        self.set(|c| {
            c.provisional_timer = timer;
            c.pending_limit = limit;
        })
    }

    /// Sets [`Config::ack_delay`].
    pub fn ack_delay(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.ack_delay = d)
    }

    /// Sets [`Config::max_history_per_peer`] and [`Config::max_history`].
    pub fn max_history(&mut self, per_peer: usize, total: usize) -> Result<&mut Self, ConfigError> {
        self.set(|c| {
            c.max_history_per_peer = per_peer;
            c.max_history = total;
        })
    }

    /// Sets [`Config::max_in_flight_per_peer`] and [`Config::max_in_flight`].
    pub fn max_in_flight(
        &mut self,
        per_peer: usize,
        total: usize,
    ) -> Result<&mut Self, ConfigError> {
        self.set(|c| {
            c.max_in_flight_per_peer = per_peer;
            c.max_in_flight = total;
        })
    }

    /// Sets [`Config::max_peers`].
    pub fn max_peers(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_peers = n)
    }
}

/// What the layer counts. Every dropped or ignored input has a counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Requests sent for the first time.
    pub requests_sent: u64,
    /// Request retransmissions.
    pub retransmissions: u64,
    /// Requests given up ([`Event::TimedOut`](super::Event::TimedOut)).
    pub timeouts: u64,
    /// Requests refused by [`Transactions::send_request`](super::Transactions::send_request).
    pub send_refused: u64,
    /// Requests cancelled by the caller.
    pub cancelled: u64,
    /// Replies matched to a request in flight.
    pub replies: u64,
    /// Replies matching no request in flight (duplicates, late), dropped.
    pub unmatched_replies: u64,
    /// Replies or Pendings for a request in flight that came from another address, dropped.
    pub from_wrong_peer: u64,
    /// TransactionPendings matched to a request in flight.
    pub pendings_received: u64,
    /// TransactionPendings matching no request in flight (late, after the reply), ignored.
    pub unmatched_pendings: u64,
    /// Requests failed because the peer sent more Pendings than
    /// [`Config::peer_pending_limit`].
    pub pending_limit_exceeded: u64,
    /// Delay samples taken (Karn's rule).
    pub rtt_samples: u64,
    /// Replies not sampled because the request was retransmitted or answered with Pending.
    pub rtt_samples_skipped: u64,
    /// New incoming requests.
    pub requests_received: u64,
    /// Duplicates of a request still executing (a Pending is due for them).
    pub duplicates_executing: u64,
    /// Pendings asked for ([`Event::PendingDue`](super::Event::PendingDue)).
    pub pendings_due: u64,
    /// Duplicates of a replied request, answered with the cached reply.
    pub replies_replayed: u64,
    /// Duplicates of a request whose reply was acknowledged (or not kept), dropped.
    pub duplicates_dropped: u64,
    /// Replies sent (first transmission).
    pub replies_sent: u64,
    /// Replies sent for a request the layer was not executing (not cached).
    pub replies_uncached: u64,
    /// `ImmAckRequired` replies retransmitted because they were not yet acknowledged.
    pub reply_retransmissions: u64,
    /// `ImmAckRequired` replies whose retransmissions ran out unacknowledged.
    pub replies_unacknowledged: u64,
    /// Remembered transactions evicted early because a bound was reached.
    pub history_evictions: u64,
    /// Remembered transactions forgotten after LONG-TIMER.
    pub history_expired: u64,
    /// Incoming requests not remembered because [`Config::max_peers`] was reached.
    pub history_refused: u64,
    /// Cached replies released by a TransactionResponseAck.
    pub acks_received: u64,
    /// Acknowledged ids with no cached reply (late, duplicated, unknown), ignored.
    pub acks_unmatched: u64,
    /// Acknowledgements reported as [`Event::AcksDue`](super::Event::AcksDue) (ids).
    pub acks_due: u64,
    /// Acknowledgements handed out by
    /// [`Transactions::take_response_acks`](super::Transactions::take_response_acks) (ids).
    pub acks_piggybacked: u64,
    /// Acknowledgements dropped because a peer had too many pending, or too many peers.
    pub acks_dropped: u64,
    /// Stand-alone messages sent with [`Transactions::send_raw`](super::Transactions::send_raw).
    pub raw_sent: u64,
}

impl Stats {
    /// Every counter as `(name, value)`, in a fixed order.
    pub fn counters(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        // No `..`: a new field does not compile until it is listed here.
        let Self {
            requests_sent,
            retransmissions,
            timeouts,
            send_refused,
            cancelled,
            replies,
            unmatched_replies,
            from_wrong_peer,
            pendings_received,
            unmatched_pendings,
            pending_limit_exceeded,
            rtt_samples,
            rtt_samples_skipped,
            requests_received,
            duplicates_executing,
            pendings_due,
            replies_replayed,
            duplicates_dropped,
            replies_sent,
            replies_uncached,
            reply_retransmissions,
            replies_unacknowledged,
            history_evictions,
            history_expired,
            history_refused,
            acks_received,
            acks_unmatched,
            acks_due,
            acks_piggybacked,
            acks_dropped,
            raw_sent,
        } = *self;
        [
            ("requests_sent", requests_sent),
            ("retransmissions", retransmissions),
            ("timeouts", timeouts),
            ("send_refused", send_refused),
            ("cancelled", cancelled),
            ("replies", replies),
            ("unmatched_replies", unmatched_replies),
            ("from_wrong_peer", from_wrong_peer),
            ("pendings_received", pendings_received),
            ("unmatched_pendings", unmatched_pendings),
            ("pending_limit_exceeded", pending_limit_exceeded),
            ("rtt_samples", rtt_samples),
            ("rtt_samples_skipped", rtt_samples_skipped),
            ("requests_received", requests_received),
            ("duplicates_executing", duplicates_executing),
            ("pendings_due", pendings_due),
            ("replies_replayed", replies_replayed),
            ("duplicates_dropped", duplicates_dropped),
            ("replies_sent", replies_sent),
            ("replies_uncached", replies_uncached),
            ("reply_retransmissions", reply_retransmissions),
            ("replies_unacknowledged", replies_unacknowledged),
            ("history_evictions", history_evictions),
            ("history_expired", history_expired),
            ("history_refused", history_refused),
            ("acks_received", acks_received),
            ("acks_unmatched", acks_unmatched),
            ("acks_due", acks_due),
            ("acks_piggybacked", acks_piggybacked),
            ("acks_dropped", acks_dropped),
            ("raw_sent", raw_sent),
        ]
        .into_iter()
    }
}
