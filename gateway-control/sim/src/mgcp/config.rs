//! The simulated MGCP gateway's settings.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use gateway_control::mgcp::transaction;

use super::Profile;
use crate::analog::FxoConfig;

/// The most lines one simulated gateway has.
pub const MAX_LINES: u16 = 4096;

/// A [`Config`] value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Lines must be 1 to [`MAX_LINES`].
    #[error("lines must be 1 to {MAX_LINES}")]
    Lines,
    /// A duration that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// The domain is empty or holds a space or `@`.
    #[error("bad domain name")]
    Domain,
    /// An FXO port beyond the gateway's lines.
    #[error("FXO line {0} is beyond the gateway's lines")]
    FxoLine(u16),
}

/// The simulated gateway's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) lines: u16,
    pub(crate) domain: String,
    pub(crate) call_agent: SocketAddr,
    pub(crate) media_address: IpAddr,
    pub(crate) seed: u64,
    pub(crate) ring_on: Duration,
    pub(crate) ring_off: Duration,
    pub(crate) ring_timeout: Duration,
    pub(crate) autoanswer_delay: Duration,
    pub(crate) short_timer: Duration,
    pub(crate) long_timer: Duration,
    pub(crate) restart_retry: Duration,
    pub(crate) max_connections: usize,
    pub(crate) transactions: transaction::Config,
    pub(crate) profile: Profile,
    /// `None`: the profile's default; `Some(ZERO)`: off.
    keepalive: Option<Duration>,
    pub(crate) fxo: FxoConfig,
}

impl Config {
    /// `lines` lines in domain `[127.0.0.1]`, talking to the call agent at `call_agent`.
    pub fn new(lines: u16, call_agent: SocketAddr) -> Result<Self, ConfigError> {
        let mut c = Self {
            lines: 1,
            domain: "[127.0.0.1]".into(),
            call_agent,
            media_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            seed: 0,
            ring_on: Duration::from_secs(2),
            ring_off: Duration::from_secs(4),
            ring_timeout: Duration::from_secs(180),
            autoanswer_delay: Duration::from_secs(1),
            short_timer: Duration::from_secs(4),
            long_timer: Duration::from_secs(16),
            restart_retry: Duration::from_secs(5),
            max_connections: 2,
            transactions: transaction::Config::default(),
            profile: Profile::default(),
            keepalive: None,
            fxo: FxoConfig::new(),
        };
        c.lines(lines)?;
        Ok(c)
    }

    /// Number of lines, 1 to [`MAX_LINES`].
    pub fn lines(&mut self, n: u16) -> Result<&mut Self, ConfigError> {
        if !(1..=MAX_LINES).contains(&n) {
            return Err(ConfigError::Lines);
        }
        self.lines = n;
        Ok(self)
    }

    /// The endpoint domain (`[192.0.2.1]`, `gw1.example.net`); endpoints are `aaln/N@domain`.
    pub fn domain(&mut self, domain: &str) -> Result<&mut Self, ConfigError> {
        if domain.is_empty() || domain.contains([' ', '@', '\t']) {
            return Err(ConfigError::Domain);
        }
        self.domain = domain.to_owned();
        Ok(self)
    }

    /// The address put in local session descriptions (where the call agent sends RTP).
    pub fn media_address(&mut self, ip: IpAddr) -> &mut Self {
        self.media_address = ip;
        self
    }

    /// Seeds transaction ids, connection ids, SSRCs, sequence numbers and timestamps.
    pub fn seed(&mut self, seed: u64) -> &mut Self {
        self.seed = seed;
        self
    }

    /// The ring cadence: bell on, then off (2 s / 4 s).
    pub fn ring_cadence(&mut self, on: Duration, off: Duration) -> Result<&mut Self, ConfigError> {
        if on.is_zero() || off.is_zero() {
            return Err(ConfigError::Zero("ring cadence"));
        }
        self.ring_on = on;
        self.ring_off = off;
        Ok(self)
    }

    /// The longest a ring lasts (180 s, RFC 3660's default for `L/rg`).
    pub fn ring_timeout(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        if d.is_zero() {
            return Err(ConfigError::Zero("ring timeout"));
        }
        self.ring_timeout = d;
        Ok(self)
    }

    /// How long autoanswer lets it ring before picking up (1 s).
    pub fn autoanswer_delay(&mut self, d: Duration) -> &mut Self {
        self.autoanswer_delay = d;
        self
    }

    /// The interdigit timers (§2.1.5): short (4 s), when a pattern could complete with `T`,
    /// and long (16 s), while more digits are needed.
    pub fn digit_timers(
        &mut self,
        short: Duration,
        long: Duration,
    ) -> Result<&mut Self, ConfigError> {
        if short.is_zero() || long.is_zero() {
            return Err(ConfigError::Zero("digit timer"));
        }
        self.short_timer = short;
        self.long_timer = long;
        Ok(self)
    }

    /// How long after an unanswered or refused restart it is announced again (5 s).
    pub fn restart_retry(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        if d.is_zero() {
            return Err(ConfigError::Zero("restart retry"));
        }
        self.restart_retry = d;
        Ok(self)
    }

    /// Connections per line (2, as an ATA allows for call waiting).
    pub fn max_connections(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        if n == 0 {
            return Err(ConfigError::Zero("max connections"));
        }
        self.max_connections = n;
        Ok(self)
    }

    /// Retransmission and duplicate-suppression settings.
    pub fn transactions(&mut self, t: transaction::Config) -> &mut Self {
        self.transactions = t;
        self
    }

    /// Which real gateway to behave like ([`Profile::Rfc3435`]).
    pub fn profile(&mut self, p: Profile) -> &mut Self {
        self.profile = p;
        self
    }

    /// The keep-alive interval: once the restart is acknowledged, a `NTFY` for `*@domain` with
    /// an empty `O:` goes to the call agent whenever nothing else was sent for this long.
    /// Zero turns it off. Unset, the profile decides (10 s for [`Profile::Cisco`], off
    /// otherwise).
    pub fn keepalive(&mut self, d: Duration) -> &mut Self {
        self.keepalive = Some(d);
        self
    }

    /// Which lines are FXO ports facing a simulated PBX, and its supervision (none: every line
    /// is an FXS line). Set the line count first: an FXO line beyond it is refused.
    pub fn fxo(&mut self, fxo: FxoConfig) -> Result<&mut Self, ConfigError> {
        if let Some(n) = fxo.highest().filter(|&n| n > self.lines) {
            return Err(ConfigError::FxoLine(n));
        }
        self.fxo = fxo;
        Ok(self)
    }

    /// The keep-alive interval in effect, `None` when off.
    pub(crate) fn keepalive_interval(&self) -> Option<Duration> {
        match self.keepalive {
            Some(d) if d.is_zero() => None,
            Some(d) => Some(d),
            None => self.profile.default_keepalive(),
        }
    }
}
