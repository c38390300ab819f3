//! The transaction layer's settings and counters.

use std::time::Duration;

/// Retransmission and history settings (RFC 3435 §4.3 names in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The acknowledgement delay assumed before the first sample (AAD₀): the first
    /// retransmission timer. 200 ms.
    pub initial_rtt: Duration,
    /// `N` in `AAD + N·ADEV`. 2.
    pub deviation_factor: u32,
    /// The smallest retransmission timer, however fast the peer answers: 200 ms, so that a
    /// LAN peer's near-zero samples never make the timer more aggressive than RFC 3435's
    /// initial value (the estimate still raises it for slow peers).
    pub min_retransmit_interval: Duration,
    /// The back-off cap. 4 s.
    pub max_retransmit_interval: Duration,
    /// Retransmissions before a command is given up (Max2). 7.
    pub max_retransmissions: u32,
    /// The longest a command is retransmitted, from its first send (T-MAX). 20 s.
    pub t_max: Duration,
    /// How long responses are remembered for duplicate suppression (T-HIST). 30 s.
    pub t_hist: Duration,
    /// How long a command answered provisionally waits for its final response. 30 s.
    pub provisional_timeout: Duration,
    /// How long an acknowledgement that is due waits for a command to ride on before a `000`
    /// is sent on its own. 100 ms.
    pub ack_delay: Duration,
    /// Remembered incoming transactions per peer. 1024.
    pub max_history_per_peer: usize,
    /// Remembered incoming transactions in total. 16,384.
    pub max_history: usize,
    /// Outgoing commands in flight, all peers together. 16,384.
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
            t_max: Duration::from_secs(20),
            t_hist: Duration::from_secs(30),
            provisional_timeout: Duration::from_secs(30),
            ack_delay: Duration::from_millis(100),
            max_history_per_peer: 1024,
            max_history: 16_384,
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
    /// The per-peer history bound exceeds the total.
    #[error("max_history_per_peer exceeds max_history")]
    HistoryOrder,
}

impl Config {
    fn validate(self) -> Result<Self, ConfigError> {
        for (name, d) in [
            ("initial_rtt", self.initial_rtt),
            ("min_retransmit_interval", self.min_retransmit_interval),
            ("t_max", self.t_max),
            ("t_hist", self.t_hist),
            ("provisional_timeout", self.provisional_timeout),
        ] {
            if d.is_zero() {
                return Err(ConfigError::Zero(name));
            }
        }
        for (name, n) in [
            ("max_history_per_peer", self.max_history_per_peer),
            ("max_in_flight", self.max_in_flight),
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
            return Err(ConfigError::HistoryOrder);
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

    /// Sets [`Config::min_retransmit_interval`].
    pub fn min_retransmit_interval(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.min_retransmit_interval = d)
    }

    /// Sets [`Config::max_retransmit_interval`].
    pub fn max_retransmit_interval(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_retransmit_interval = d)
    }

    /// Sets [`Config::max_retransmissions`].
    pub fn max_retransmissions(&mut self, n: u32) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_retransmissions = n)
    }

    /// Sets [`Config::t_max`].
    pub fn t_max(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.t_max = d)
    }

    /// Sets [`Config::t_hist`].
    pub fn t_hist(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.t_hist = d)
    }

    /// Sets [`Config::provisional_timeout`].
    pub fn provisional_timeout(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.provisional_timeout = d)
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

    /// Sets [`Config::max_in_flight`].
    pub fn max_in_flight(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_in_flight = n)
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
    /// Commands sent for the first time.
    pub commands_sent: u64,
    /// Command retransmissions.
    pub retransmissions: u64,
    /// Commands given up ([`Event::TimedOut`](super::Event::TimedOut)).
    pub timeouts: u64,
    /// Commands refused by [`Transactions::send_command`](super::Transactions::send_command).
    pub send_refused: u64,
    /// Final responses matched to a command in flight.
    pub final_responses: u64,
    /// Provisional responses matched to a command in flight.
    pub provisional_responses: u64,
    /// Responses matching no command in flight (duplicates, late), dropped.
    pub unmatched_responses: u64,
    /// Responses for a command in flight that came from another address, dropped.
    pub responses_from_wrong_peer: u64,
    /// Delay samples taken (Karn's rule).
    pub rtt_samples: u64,
    /// Final responses not sampled because the command was retransmitted or answered
    /// provisionally (Karn's rule).
    pub rtt_samples_skipped: u64,
    /// New incoming commands.
    pub commands_received: u64,
    /// Duplicates of a command still executing, answered with `100`.
    pub provisional_sent: u64,
    /// Duplicates of a finished command, answered with the cached response.
    pub responses_replayed: u64,
    /// Duplicates of a command whose response was already acknowledged, dropped.
    pub duplicates_after_ack: u64,
    /// Responses sent (first transmission).
    pub responses_sent: u64,
    /// Final responses retransmitted because they were not yet acknowledged.
    pub response_retransmissions: u64,
    /// Remembered transactions evicted early because a bound was reached.
    pub history_evictions: u64,
    /// Remembered transactions forgotten after T-HIST.
    pub history_expired: u64,
    /// Incoming commands not remembered because [`Config::max_peers`] was reached.
    pub history_refused: u64,
    /// Cached responses released by `K:` or `000`.
    pub acks_received: u64,
    /// `000` acknowledgements for no cached response (late, duplicated, or unknown), ignored.
    pub acks_unmatched: u64,
    /// Acknowledgements sent as `000` messages.
    pub response_acks_sent: u64,
    /// Acknowledgements handed out for `K:` lines.
    pub acks_piggybacked: u64,
    /// Acknowledgements dropped because a peer had too many pending.
    pub acks_dropped: u64,
}

impl Stats {
    /// Every exported counter as `(name, value)`, in a fixed order (the names `/metrics` uses
    /// without their `tx_` prefix).
    pub fn counters(&self) -> impl Iterator<Item = (&'static str, u64)> + '_ {
        self.prefixed_counters()
            .into_iter()
            .map(|(name, v)| (name.strip_prefix("tx_").unwrap_or(name), v))
    }

    /// The counters named as the call agent exports them (`tx_` prefix).
    pub(crate) fn prefixed_counters(&self) -> [(&'static str, u64); 23] {
        // No `..`: a new field does not compile until it is listed here (or named `_`).
        let Self {
            commands_sent,
            retransmissions,
            timeouts,
            send_refused,
            final_responses,
            provisional_responses,
            unmatched_responses,
            responses_from_wrong_peer,
            rtt_samples,
            rtt_samples_skipped,
            commands_received,
            provisional_sent,
            responses_replayed,
            duplicates_after_ack,
            responses_sent,
            response_retransmissions,
            history_evictions,
            history_expired,
            history_refused,
            acks_received,
            // Not exported (it was never in `/metrics`); named so a new field cannot be missed.
            acks_unmatched: _,
            response_acks_sent,
            acks_piggybacked,
            acks_dropped,
        } = *self;
        [
            ("tx_commands_sent", commands_sent),
            ("tx_retransmissions", retransmissions),
            ("tx_timeouts", timeouts),
            ("tx_send_refused", send_refused),
            ("tx_final_responses", final_responses),
            ("tx_provisional_responses", provisional_responses),
            ("tx_unmatched_responses", unmatched_responses),
            ("tx_responses_from_wrong_peer", responses_from_wrong_peer),
            ("tx_rtt_samples", rtt_samples),
            ("tx_rtt_samples_skipped", rtt_samples_skipped),
            ("tx_commands_received", commands_received),
            ("tx_provisional_sent", provisional_sent),
            ("tx_responses_replayed", responses_replayed),
            ("tx_duplicates_after_ack", duplicates_after_ack),
            ("tx_responses_sent", responses_sent),
            ("tx_response_retransmissions", response_retransmissions),
            ("tx_history_evictions", history_evictions),
            ("tx_history_expired", history_expired),
            ("tx_history_refused", history_refused),
            ("tx_acks_received", acks_received),
            ("tx_response_acks_sent", response_acks_sent),
            ("tx_acks_piggybacked", acks_piggybacked),
            ("tx_acks_dropped", acks_dropped),
        ]
    }
}
