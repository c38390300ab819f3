//! The transaction layer's settings (RFC 3261 §17, Table 4) and counters.

use std::time::Duration;

/// Timer D: how long a completed INVITE client transaction absorbs retransmitted final
/// responses over an unreliable transport (RFC 3261 §17.1.1.2: "at least 32 seconds").
pub const TIMER_D: Duration = Duration::from_secs(32);

/// The largest T1 accepted, so that `64·T1` (Timers B, F, H, J, L, M) stays a sane five minutes.
pub const MAX_T1: Duration = Duration::from_millis(4_687);

/// The timer values and bounds of a [`Transactions`](super::Transactions) (RFC 3261 §17,
/// Table 4 names in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The round-trip estimate (T1): the first retransmission interval; `64·T1` is the
    /// transaction timeout. 500 ms.
    pub t1: Duration,
    /// The longest retransmission interval of non-INVITE requests and INVITE responses (T2).
    /// 4 s.
    pub t2: Duration,
    /// How long a message may stay in the network (T4): Timers I and K. 5 s.
    pub t4: Duration,
    /// Transactions kept at once (client and server together). A new request past it is
    /// answered `503` with `Retry-After` and not kept; a request the TU sends past it is not
    /// sent and reported as [`Event::Timeout`](super::Event::Timeout). 10,000.
    pub max_transactions: usize,
    /// The `Retry-After` of the `503` sent past [`Config::max_transactions`]. 5 s.
    pub retry_after: Duration,
    /// The seed of the generator of branches and tags. The appliance seeds it from the
    /// operating system; tests use a fixed value. 0.
    pub rng_seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
            max_transactions: 10_000,
            retry_after: Duration::from_secs(5),
            rng_seed: 0,
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
    /// T1 is larger than [`MAX_T1`].
    #[error("T1 must be at most {MAX_T1:?}")]
    T1TooLarge,
    /// T2 is smaller than T1.
    #[error("T2 must be at least T1")]
    T2BelowT1,
}

impl Config {
    fn validate(self) -> Result<Self, ConfigError> {
        for (name, d) in [("T1", self.t1), ("T2", self.t2), ("T4", self.t4)] {
            if d.is_zero() {
                return Err(ConfigError::Zero(name));
            }
        }
        if self.max_transactions == 0 {
            return Err(ConfigError::Zero("max_transactions"));
        }
        if self.t1 > MAX_T1 {
            return Err(ConfigError::T1TooLarge);
        }
        if self.t2 < self.t1 {
            return Err(ConfigError::T2BelowT1);
        }
        Ok(self)
    }

    fn set(&mut self, f: impl FnOnce(&mut Self)) -> Result<&mut Self, ConfigError> {
        let mut next = self.clone();
        f(&mut next);
        *self = next.validate()?;
        Ok(self)
    }

    /// Sets [`Config::t1`].
    pub fn t1(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.t1 = d)
    }

    /// Sets [`Config::t2`].
    pub fn t2(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.t2 = d)
    }

    /// Sets [`Config::t4`].
    pub fn t4(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.t4 = d)
    }

    /// Sets [`Config::max_transactions`].
    pub fn max_transactions(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_transactions = n)
    }

    /// Sets [`Config::retry_after`] (whole seconds are sent; zero is allowed).
    pub fn retry_after(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.retry_after = d)
    }

    /// Sets [`Config::rng_seed`].
    pub fn rng_seed(&mut self, seed: u64) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.rng_seed = seed)
    }

    /// `64·T1`: Timers B, F, H, J, L and M.
    pub(crate) fn t64(&self) -> Duration {
        self.t1 * 64
    }
}

/// What the layer counts. Every dropped or absorbed input has a counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// New requests received (passed to the TU, or CANCELs handled here).
    pub requests_received: u64,
    /// Requests sent for the first time (client transactions started, ACKs to non-2xx).
    pub requests_sent: u64,
    /// Responses matched to a client transaction and passed to the TU.
    pub responses_received: u64,
    /// Responses sent for the first time (by the TU, or by the layer: `100`, CANCEL's `200`
    /// or `481`, stateless answers).
    pub responses_sent: u64,
    /// Request retransmissions sent (Timers A and E; ACKs resent for a retransmitted final).
    pub request_retransmissions: u64,
    /// Response retransmissions sent (Timer G, the 2xx to INVITE until its ACK, and the last
    /// response resent for a retransmitted request).
    pub response_retransmissions: u64,
    /// Retransmitted requests, ACKs and responses absorbed (not passed to the TU again).
    pub absorbed: u64,
    /// Client transactions timed out (Timers B and F, or CANCEL's 64·T1 guard).
    pub timeouts: u64,
    /// Responses that match no client transaction, dropped.
    pub unmatched_responses: u64,
    /// New requests answered `503` because the table was full: [`Config::max_transactions`]
    /// kept, or seven eighths of it for a request that starts work
    /// ([`IN_DIALOG_RESERVE`](super::IN_DIALOG_RESERVE)).
    pub refused_busy: u64,
    /// New requests that start work answered `503` while the driver reported its socket
    /// backlogged ([`Transactions::set_shedding`](super::Transactions::set_shedding)).
    pub shed: u64,
    /// Requests from the TU not sent because [`Config::max_transactions`] were kept.
    pub refused_local: u64,
    /// CANCELs that matched an INVITE server transaction (answered `200`).
    pub cancels_matched: u64,
    /// CANCELs that matched nothing (answered `481`).
    pub cancels_unmatched: u64,
    /// ACKs outside any transaction (to a 2xx, or stray) passed to the TU.
    pub acks_passed: u64,
    /// Server transactions that ended without the ACK to their final response.
    pub acks_lost: u64,
    /// Non-INVITE server transactions the TU never answered, dropped after 64·T1.
    pub abandoned: u64,
    /// Messages without a usable Via, CSeq or Call-ID (requests answered `400` when they can
    /// be, responses dropped).
    pub malformed: u64,
    /// Calls of [`Transactions::respond`](super::Transactions::respond) for a transaction that
    /// has ended or cannot take that response, ignored.
    pub responses_refused: u64,
    /// Messages sent with [`Transactions::send_stateless`](super::Transactions::send_stateless).
    pub stateless_sent: u64,
    /// Transactions ended by
    /// [`Transactions::transport_failed`](super::Transactions::transport_failed).
    pub transport_failures: u64,
    /// Server transactions that only absorbed retransmissions (a completed non-INVITE, an
    /// INVITE confirmed or whose 2xx was ACKed) ended early to make room for a new request.
    pub evicted_completed: u64,
}

impl Stats {
    /// Every counter as `(name, value)`, in a fixed order (the names `/metrics` uses).
    pub fn counters(&self) -> [(&'static str, u64); 22] {
        // No `..`: a new field does not compile until it is listed here.
        let Self {
            requests_received,
            requests_sent,
            responses_received,
            responses_sent,
            request_retransmissions,
            response_retransmissions,
            absorbed,
            timeouts,
            unmatched_responses,
            refused_busy,
            shed,
            refused_local,
            cancels_matched,
            cancels_unmatched,
            acks_passed,
            acks_lost,
            abandoned,
            malformed,
            responses_refused,
            stateless_sent,
            transport_failures,
            evicted_completed,
        } = *self;
        [
            ("requests_received", requests_received),
            ("requests_sent", requests_sent),
            ("responses_received", responses_received),
            ("responses_sent", responses_sent),
            ("request_retransmissions", request_retransmissions),
            ("response_retransmissions", response_retransmissions),
            ("absorbed", absorbed),
            ("timeouts", timeouts),
            ("unmatched_responses", unmatched_responses),
            ("refused_busy", refused_busy),
            ("shed", shed),
            ("refused_local", refused_local),
            ("cancels_matched", cancels_matched),
            ("cancels_unmatched", cancels_unmatched),
            ("acks_passed", acks_passed),
            ("acks_lost", acks_lost),
            ("abandoned", abandoned),
            ("malformed", malformed),
            ("responses_refused", responses_refused),
            ("stateless_sent", stateless_sent),
            ("transport_failures", transport_failures),
            ("evicted_completed", evicted_completed),
        ]
    }
}
