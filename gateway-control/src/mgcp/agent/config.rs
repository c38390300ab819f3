//! The call agent's settings.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use crate::mgcp::transaction;
use crate::model::GatewayId;

/// One gateway the call agent controls.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Its name (`[[gateway]] name`).
    pub id: GatewayId,
    /// Where it listens (port 2427 by default). An unspecified IP address (`0.0.0.0`, `::`)
    /// means not known yet (a DNS name that did not resolve): nothing is sent to the gateway
    /// until [`crate::model::Command::GatewayAddress`] gives one.
    pub address: SocketAddr,
    /// The domain part of its endpoint names (`[192.0.2.1]`, `gw1.example.net`).
    pub domain: String,
    /// Its lines' local endpoint names (`aaln/1`…), each audited and armed at start.
    pub lines: Vec<String>,
}

/// Whether `name` can name one line of a gateway: a local endpoint name of 1–255 characters
/// without spaces, `@` or the wildcards `*` and `$`.
pub fn valid_line_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && !name
            .contains(|c: char| c.is_whitespace() || c.is_control() || matches!(c, '@' | '*' | '$'))
}

/// The most lines one gateway may have.
pub const MAX_LINES_PER_GATEWAY: usize = 4096;
/// The most gateways.
pub const MAX_GATEWAYS: usize = 1024;

/// Settings of a [`super::CallAgent`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The gateways (add with [`Config::gateway`]).
    pub gateways: Vec<GatewayConfig>,
    /// Where gateways send notifications (`N:`), such as `offhook@[127.0.0.1]:2727`.
    pub notified_entity: String,
    /// Retransmission and duplicate-suppression settings.
    pub transaction: transaction::Config,
    /// At most this many commands in flight per gateway; the rest wait in order. 32.
    pub max_outstanding: usize,
    /// At most this many new commands per second per gateway, if set.
    pub max_send_rate: Option<u32>,
    /// At most this many commands waiting per gateway (model commands beyond it fail). 16,384.
    pub max_queued: usize,
    /// The first probe of an unreachable gateway comes this long after it was found
    /// unreachable; the interval then doubles. 1 s.
    pub probe_interval: Duration,
    /// The probe interval's cap. 64 s.
    pub max_probe_interval: Duration,
    /// The longest RestartDelay honoured before re-auditing a restarting gateway. 300 s.
    pub max_restart_delay: Duration,
    /// How long the audits that check a restart claim (`RM: forced`, or a graceful delay over)
    /// may take: a gateway whose lines have not all answered in service by then is believed
    /// down. 4 s (the first transmission and four retransmissions at the 200 ms floor).
    pub restart_check_timeout: Duration,
    /// A line whose re-arm fails this many times in a row is left alone (and counted). 3.
    pub max_arm_failures: u32,
    /// ... until this long has passed; then it is audited and armed again. 60 s.
    pub arm_retry_interval: Duration,
    /// Seeds the transaction ids.
    pub rng_seed: u64,
    /// Piggy-backing (RFC 3435 §3.5.5): a response and the commands the same input produced,
    /// or several commands released at once, go to a gateway in one datagram (at most
    /// [`MAX_PIGGYBACKED`](crate::mgcp::MAX_PIGGYBACKED) messages and
    /// [`PIGGYBACK_BYTES`](crate::mgcp::PIGGYBACK_BYTES)). On by default; turn it off for gateways
    /// that read only the first message of a datagram (osmo-mgw 1.10 does).
    pub piggyback: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            gateways: Vec::new(),
            notified_entity: "offhook@[127.0.0.1]:2727".to_owned(),
            transaction: transaction::Config::default(),
            max_outstanding: 32,
            max_send_rate: None,
            max_queued: 16_384,
            probe_interval: Duration::from_secs(1),
            max_probe_interval: Duration::from_secs(64),
            max_restart_delay: Duration::from_secs(300),
            restart_check_timeout: Duration::from_secs(4),
            max_arm_failures: 3,
            arm_retry_interval: Duration::from_secs(60),
            rng_seed: 0,
            piggyback: true,
        }
    }
}

/// A [`Config`] value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A count or duration that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// Two gateways share a name or an address.
    #[error("gateway {0} is configured twice (name or address)")]
    DuplicateGateway(GatewayId),
    /// A line name is empty, too long, holds spaces, `@` or a wildcard, or repeats.
    #[error("gateway {gateway}: bad or repeated line name {line:?}")]
    BadLine {
        /// The gateway.
        gateway: GatewayId,
        /// The name.
        line: String,
    },
    /// The domain is empty or holds spaces.
    #[error("gateway {0}: bad domain")]
    BadDomain(GatewayId),
    /// Too many gateways or lines.
    #[error("too many gateways or lines")]
    TooMany,
    /// The notified entity is empty or holds spaces.
    #[error("bad notified entity")]
    BadNotifiedEntity,
}

impl Config {
    pub(super) fn validate(self) -> Result<Self, ConfigError> {
        if self.max_outstanding == 0 {
            return Err(ConfigError::Zero("max_outstanding"));
        }
        if self.arm_retry_interval.is_zero() {
            return Err(ConfigError::Zero("arm_retry_interval"));
        }
        if self.restart_check_timeout.is_zero() {
            return Err(ConfigError::Zero("restart_check_timeout"));
        }
        if self.max_queued == 0 {
            return Err(ConfigError::Zero("max_queued"));
        }
        if self.max_send_rate == Some(0) {
            return Err(ConfigError::Zero("max_send_rate"));
        }
        if self.probe_interval.is_zero() || self.max_probe_interval < self.probe_interval {
            return Err(ConfigError::Zero("probe_interval"));
        }
        if self.notified_entity.is_empty()
            || self.notified_entity.len() > 255
            || self.notified_entity.chars().any(char::is_whitespace)
        {
            return Err(ConfigError::BadNotifiedEntity);
        }
        if self.gateways.len() > MAX_GATEWAYS {
            return Err(ConfigError::TooMany);
        }
        let mut names = HashSet::new();
        let mut addresses = HashSet::new();
        for g in &self.gateways {
            let unaddressed = g.address.ip().is_unspecified();
            if !names.insert(g.id.clone()) || (!unaddressed && !addresses.insert(g.address)) {
                return Err(ConfigError::DuplicateGateway(g.id.clone()));
            }
            if g.domain.is_empty() || g.domain.len() > 255 || g.domain.contains(char::is_whitespace)
            {
                return Err(ConfigError::BadDomain(g.id.clone()));
            }
            if g.lines.len() > MAX_LINES_PER_GATEWAY {
                return Err(ConfigError::TooMany);
            }
            let mut seen = HashSet::new();
            for l in &g.lines {
                let bad = !valid_line_name(l) || !seen.insert(l.to_ascii_lowercase());
                if bad {
                    return Err(ConfigError::BadLine {
                        gateway: g.id.clone(),
                        line: l.clone(),
                    });
                }
            }
        }
        Ok(self)
    }

    fn set(&mut self, f: impl FnOnce(&mut Self)) -> Result<&mut Self, ConfigError> {
        let mut next = self.clone();
        f(&mut next);
        *self = next.validate()?;
        Ok(self)
    }

    /// Adds a gateway.
    pub fn gateway(&mut self, g: GatewayConfig) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.gateways.push(g))
    }

    /// Sets [`Config::notified_entity`].
    pub fn notified_entity(&mut self, e: &str) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.notified_entity = e.to_owned())
    }

    /// Sets [`Config::transaction`] (validated by its own setters).
    pub fn transaction(&mut self, t: transaction::Config) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.transaction = t)
    }

    /// Sets [`Config::max_outstanding`].
    pub fn max_outstanding(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_outstanding = n)
    }

    /// Sets [`Config::max_send_rate`].
    pub fn max_send_rate(&mut self, per_second: Option<u32>) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_send_rate = per_second)
    }

    /// Sets [`Config::max_queued`].
    pub fn max_queued(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_queued = n)
    }

    /// Sets [`Config::probe_interval`] and [`Config::max_probe_interval`].
    pub fn probe_interval(
        &mut self,
        first: Duration,
        max: Duration,
    ) -> Result<&mut Self, ConfigError> {
        self.set(|c| {
            c.probe_interval = first;
            c.max_probe_interval = max;
        })
    }

    /// Sets [`Config::max_restart_delay`].
    pub fn max_restart_delay(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_restart_delay = d)
    }

    /// Sets [`Config::restart_check_timeout`].
    pub fn restart_check_timeout(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.restart_check_timeout = d)
    }

    /// Sets [`Config::max_arm_failures`].
    pub fn max_arm_failures(&mut self, n: u32) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_arm_failures = n)
    }

    /// Sets [`Config::arm_retry_interval`].
    pub fn arm_retry_interval(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.arm_retry_interval = d)
    }

    /// Sets [`Config::piggyback`].
    pub fn piggyback(&mut self, on: bool) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.piggyback = on)
    }

    /// Sets [`Config::rng_seed`].
    pub fn rng_seed(&mut self, seed: u64) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.rng_seed = seed)
    }
}
