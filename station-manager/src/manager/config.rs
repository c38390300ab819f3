//! The stations' settings ([`Config`]), each set through a setter that refuses values out of
//! range ([`ConfigError`]).

use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::time::Duration;

use gateway_control::model::Codec;

/// A [`Config`] value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A duration that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// The port range holds no even port with its odd neighbour.
    #[error("the RTP port range holds no even/odd port pair")]
    Ports,
    /// Distinctive ring patterns are 0–7.
    #[error("distinctive ring patterns are 0 to 7")]
    Cadence,
    /// The live buffer must be a whole number of 125 µs samples, at most one second.
    #[error("the live buffer must be 1 ms to 1 s")]
    LiveBuffer,
    /// The retry interval of a phone behind a trunk is 30 s to 24 h.
    #[error("the trunk retry interval must be 30 s to 24 h")]
    TrunkRetry,
}

/// The stations' settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) record_ring_timeout: Duration,
    pub(crate) message_ring_timeout: Duration,
    pub(crate) record_cadence: u8,
    pub(crate) silence: Option<Duration>,
    pub(crate) max_length: Duration,
    pub(crate) live_buffer: Duration,
    pub(crate) live_backlog: Duration,
    pub(crate) codec: Codec,
    pub(crate) ptime: Duration,
    pub(crate) telephone_event: Option<u8>,
    pub(crate) ports: RangeInclusive<u16>,
    pub(crate) media_address: IpAddr,
    pub(crate) first_call: u64,
    pub(crate) message_lamp: bool,
    pub(crate) trunk_retry: Duration,
    pub(crate) trunk_retries: u8,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            record_ring_timeout: Duration::from_secs(30),
            message_ring_timeout: Duration::from_secs(60),
            record_cadence: 1,
            silence: Some(Duration::from_secs(5)),
            max_length: Duration::from_secs(120),
            live_buffer: Duration::from_millis(20),
            live_backlog: Duration::from_secs(10),
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            telephone_event: Some(101),
            ports: 16384..=32767,
            media_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            first_call: 1,
            message_lamp: false,
            trunk_retry: Duration::from_secs(300),
            trunk_retries: 3,
        }
    }
}

fn positive(d: Duration, what: &'static str) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        Err(ConfigError::Zero(what))
    } else {
        Ok(d)
    }
}

impl Config {
    /// How long a phone rings to record before the request fails with "no answer" (30 s).
    pub fn record_ring_timeout(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.record_ring_timeout = positive(d, "record ring timeout")?;
        Ok(self)
    }

    /// How long a phone rings for waiting messages or a live stream (60 s); the messages stay
    /// waiting for the next pick-up.
    pub fn message_ring_timeout(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.message_ring_timeout = positive(d, "message ring timeout")?;
        Ok(self)
    }

    /// A phone behind a trunk whose message ring failed (busy, no answer, every port busy) is
    /// rung again `every` (5 min), up to `attempts` times (3; 0: never) after each new message;
    /// its user can also dial in. A phone on a gateway's own line is not: it can pick up to
    /// listen whenever it likes. `every` is 30 s to 24 h.
    pub fn trunk_retry(&mut self, every: Duration, attempts: u8) -> Result<&mut Self, ConfigError> {
        if every < Duration::from_secs(30) || every > Duration::from_secs(86_400) {
            return Err(ConfigError::TrunkRetry);
        }
        self.trunk_retry = every;
        self.trunk_retries = attempts;
        Ok(self)
    }

    /// The distinctive ring pattern (0–7) that says "pick up to record" (1); messages ring
    /// with the normal cadence.
    pub fn record_cadence(&mut self, n: u8) -> Result<&mut Self, ConfigError> {
        if n > 7 {
            return Err(ConfigError::Cadence);
        }
        self.record_cadence = n;
        Ok(self)
    }

    /// The silence that ends a recording (5 s); `None` never stops on silence.
    pub fn silence(&mut self, d: Option<Duration>) -> Result<&mut Self, ConfigError> {
        if let Some(d) = d {
            positive(d, "silence time")?;
        }
        self.silence = d;
        Ok(self)
    }

    /// The longest recording (120 s).
    pub fn max_length(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.max_length = positive(d, "maximum length")?;
        Ok(self)
    }

    /// The size of each intercom buffer (20 ms), 1 ms to 1 s.
    pub fn live_buffer(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        if d < Duration::from_millis(1) || d > Duration::from_secs(1) {
            return Err(ConfigError::LiveBuffer);
        }
        self.live_buffer = d;
        Ok(self)
    }

    /// The most live audio a ringing phone holds for when it is picked up (10 s); older
    /// buffers are dropped (and counted) beyond it.
    pub fn live_backlog(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.live_backlog = positive(d, "live backlog")?;
        Ok(self)
    }

    /// The codec asked of the gateway (PCMU).
    pub fn codec(&mut self, c: Codec) -> &mut Self {
        self.codec = c;
        self
    }

    /// The RFC 4733 payload type offered for in-band digits (101); `None` offers none.
    pub fn telephone_event(&mut self, pt: Option<u8>) -> &mut Self {
        self.telephone_event = pt;
        self
    }

    /// The RTP ports (16384–32767): even ports for RTP, the odd one above each for RTCP.
    pub fn ports(&mut self, range: RangeInclusive<u16>) -> Result<&mut Self, ConfigError> {
        let start = range.start().saturating_add(range.start() % 2);
        if start >= *range.end() {
            return Err(ConfigError::Ports);
        }
        self.ports = range;
        Ok(self)
    }

    /// The address gateways send RTP to (127.0.0.1).
    pub fn media_address(&mut self, ip: IpAddr) -> &mut Self {
        self.media_address = ip;
        self
    }

    /// The first gateway call id handed out (1); a restarted appliance may start elsewhere.
    pub fn first_call(&mut self, n: u64) -> &mut Self {
        self.first_call = n;
        self
    }

    /// Also light the phone's message-waiting lamp (RFC 3660 `L/vmwi`) while messages wait,
    /// for phones that have one (off).
    pub fn message_lamp(&mut self, on: bool) -> &mut Self {
        self.message_lamp = on;
        self
    }

    /// Samples in one live buffer at 8 kHz.
    pub(crate) fn live_samples(&self) -> usize {
        usize::try_from(self.live_buffer.as_micros() / 125)
            .unwrap_or(1)
            .max(1)
    }

    /// Samples of live audio a ringing phone holds at most.
    pub(crate) fn backlog_samples(&self) -> usize {
        usize::try_from(self.live_backlog.as_micros() / 125).unwrap_or(usize::MAX)
    }
}
