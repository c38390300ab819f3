//! The HTTP layer's settings: a plain struct with defaults and validated chained setters.

use std::time::Duration;

/// A setting out of range (API misuse).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A value outside what the web layer accepts.
    #[error("{name} must be positive")]
    NotPositive {
        /// The setting.
        name: &'static str,
    },
}

/// Who may read `/metrics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MetricsAccess {
    /// Anyone who reaches the listen address (a scraper on the LAN).
    #[default]
    Open,
    /// Admins' sessions only.
    Admin,
    /// No one: `/metrics` is 404.
    Off,
}

/// The HTTP layer's settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) metrics: MetricsAccess,
    pub(crate) session_ttl: Duration,
    pub(crate) ping_interval: Duration,
    pub(crate) ping_timeout: Duration,
    pub(crate) frame_rate: u32,
    pub(crate) frame_burst: u32,
    pub(crate) max_frame: usize,
    pub(crate) max_sessions_per_user: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            metrics: MetricsAccess::Open,
            session_ttl: Duration::from_secs(12 * 3600),
            ping_interval: Duration::from_secs(20),
            ping_timeout: Duration::from_secs(60),
            frame_rate: 120,
            frame_burst: 200,
            max_frame: 64 << 10,
            max_sessions_per_user: 16,
        }
    }
}

fn positive(ok: bool, name: &'static str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::NotPositive { name })
    }
}

impl Config {
    /// Who may read `/metrics`.
    pub fn metrics(&mut self, access: MetricsAccess) -> &mut Self {
        self.metrics = access;
        self
    }

    /// Session token lifetime.
    pub fn session_ttl(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        positive(!d.is_zero(), "session_ttl")?;
        self.session_ttl = d;
        Ok(self)
    }

    /// Interval of WebSocket pings.
    pub fn ping_interval(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        positive(!d.is_zero(), "ping_interval")?;
        self.ping_interval = d;
        Ok(self)
    }

    /// Silence after which a WebSocket client is dropped.
    pub fn ping_timeout(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        positive(!d.is_zero(), "ping_timeout")?;
        self.ping_timeout = d;
        Ok(self)
    }

    /// Sustained WebSocket frames per second per connection, and the burst above it.
    pub fn frame_rate(&mut self, rate: u32, burst: u32) -> Result<&mut Self, ConfigError> {
        positive(rate > 0, "frame_rate")?;
        positive(burst > 0, "frame_burst")?;
        self.frame_rate = rate;
        self.frame_burst = burst;
        Ok(self)
    }

    /// WebSocket sessions one user may have open at once; one more upgrade gets 429.
    pub fn max_sessions_per_user(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        positive(n > 0, "max_sessions_per_user")?;
        self.max_sessions_per_user = n;
        Ok(self)
    }

    /// Largest WebSocket frame, in bytes.
    pub fn max_frame(&mut self, bytes: usize) -> Result<&mut Self, ConfigError> {
        positive(bytes > 0, "max_frame")?;
        self.max_frame = bytes;
        Ok(self)
    }
}
