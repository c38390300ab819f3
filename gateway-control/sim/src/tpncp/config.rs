//! The simulated TPNCP board's settings.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use gateway_control::tpncp::wire::ByteOrder;

use crate::analog::FxoConfig;

/// The most lines (channels) one simulated board has: a MediaPack has up to 24 FXS ports;
/// the bound keeps every channel's RTP port (`rtp_port + 10 × channel`) well inside 16 bits.
pub const MAX_LINES: usize = 256;

/// A [`Config`] value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Lines must be 1 to [`MAX_LINES`].
    #[error("lines must be 1 to {MAX_LINES}")]
    Lines,
    /// The first RTP port must be even, non-zero, and leave room for every channel's port
    /// and its RTCP port (`rtp_port + 10 × (lines − 1) + 1` at most 65535).
    #[error(
        "RTP port {0} must be even and non-zero, with room for every channel's port (+10 each)"
    )]
    RtpPort(u16),
    /// A duration that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// An FXO port beyond the board's lines.
    #[error("FXO line {0} is beyond the board's lines")]
    FxoLine(u16),
}

/// The simulated board's settings. Fields are public (the driver's flags fill them); the
/// setters validate, and [`Board::new`](super::Board::new) checks the whole with
/// [`Config::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Analog lines: line N is channel N − 1 (MediaPack port N).
    pub lines: usize,
    /// Channel 0's RTP port; channel c's is `rtp_port + 10 × c` (AudioCodes' `BaseUDPPort`
    /// and `UDPPortSpacing`), RTCP the next one.
    pub rtp_port: u16,
    /// The byte order of events until the host's first message shows its own.
    pub byte_order: ByteOrder,
    /// How often `acEV_KEEP_ALIVE` is sent while a host is connected; `None` sends none.
    pub keepalive: Option<Duration>,
    /// Accept a host only from this address (any when `None`).
    pub controller: Option<IpAddr>,
    /// The address of the channels' RTP sockets.
    pub media_address: IpAddr,
    /// How long autoanswer lets a line ring before picking up.
    pub autoanswer_delay: Duration,
    /// The standard ring cadence (pattern 0): bell on, then off.
    pub ring_on: Duration,
    /// See [`ring_on`](Self::ring_on).
    pub ring_off: Duration,
    /// Seeds the RTP streams' SSRCs, sequence numbers and timestamps.
    pub seed: u64,
    /// The lines that are FXO ports facing a simulated PBX (`--fxo`), and its supervision.
    pub fxo: FxoConfig,
}

impl Default for Config {
    /// Four lines (a MediaPack MP-114), RTP from port 6000, big-endian, no keep-alive, any
    /// host, media on 127.0.0.1, ring 2 s on / 4 s off, autoanswer after 1 s.
    fn default() -> Self {
        Self {
            lines: 4,
            rtp_port: 6000,
            byte_order: ByteOrder::Big,
            keepalive: None,
            controller: None,
            media_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            autoanswer_delay: Duration::from_secs(1),
            ring_on: Duration::from_secs(2),
            ring_off: Duration::from_secs(4),
            seed: 0,
            fxo: FxoConfig::new(),
        }
    }
}

impl Config {
    /// The defaults with `lines` lines.
    pub fn new(lines: usize) -> Result<Self, ConfigError> {
        let mut c = Self::default();
        c.lines(lines)?;
        Ok(c)
    }

    /// Number of lines, 1 to [`MAX_LINES`] (and room for their RTP ports).
    pub fn lines(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        if !(1..=MAX_LINES).contains(&n) {
            return Err(ConfigError::Lines);
        }
        check_ports(self.rtp_port, n)?;
        self.lines = n;
        Ok(self)
    }

    /// Channel 0's RTP port: even, non-zero, with room for every channel.
    pub fn rtp_port(&mut self, port: u16) -> Result<&mut Self, ConfigError> {
        check_ports(port, self.lines)?;
        self.rtp_port = port;
        Ok(self)
    }

    /// The keep-alive interval (`None`: no `acEV_KEEP_ALIVE`).
    pub fn keepalive(&mut self, every: Option<Duration>) -> Result<&mut Self, ConfigError> {
        if every.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::Zero("keep-alive interval"));
        }
        self.keepalive = every;
        Ok(self)
    }

    /// The standard ring cadence: bell on, then off.
    pub fn ring_cadence(&mut self, on: Duration, off: Duration) -> Result<&mut Self, ConfigError> {
        if on.is_zero() || off.is_zero() {
            return Err(ConfigError::Zero("ring cadence"));
        }
        self.ring_on = on;
        self.ring_off = off;
        Ok(self)
    }

    /// The FXO ports (`--fxo`): every one a line of the board.
    pub fn fxo(&mut self, fxo: FxoConfig) -> Result<&mut Self, ConfigError> {
        check_fxo(&fxo, self.lines)?;
        self.fxo = fxo;
        Ok(self)
    }

    /// Checks every field (they are public).
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !(1..=MAX_LINES).contains(&self.lines) {
            return Err(ConfigError::Lines);
        }
        check_ports(self.rtp_port, self.lines)?;
        if self.keepalive.is_some_and(|d| d.is_zero()) {
            return Err(ConfigError::Zero("keep-alive interval"));
        }
        if self.ring_on.is_zero() || self.ring_off.is_zero() {
            return Err(ConfigError::Zero("ring cadence"));
        }
        check_fxo(&self.fxo, self.lines)
    }

    /// Channel `channel`'s RTP port (no check: `channel` is below [`lines`](Self::lines)).
    pub fn channel_port(&self, channel: usize) -> u16 {
        // validate() guarantees the sum fits for every channel below `lines`.
        (usize::from(self.rtp_port) + 10 * channel) as u16
    }
}

fn check_fxo(fxo: &FxoConfig, lines: usize) -> Result<(), ConfigError> {
    match fxo.highest() {
        Some(n) if usize::from(n) > lines => Err(ConfigError::FxoLine(n)),
        _ => Ok(()),
    }
}

fn check_ports(port: u16, lines: usize) -> Result<(), ConfigError> {
    let last = usize::from(port) + 10 * lines.saturating_sub(1) + 1;
    if port == 0 || !port.is_multiple_of(2) || last > usize::from(u16::MAX) {
        return Err(ConfigError::RtpPort(port));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setters_validate() {
        let mut c = Config::new(2).unwrap();
        assert_eq!(c.rtp_port, 6000);
        assert_eq!(c.channel_port(1), 6010);
        assert_eq!(Config::new(0), Err(ConfigError::Lines));
        assert_eq!(Config::new(MAX_LINES + 1), Err(ConfigError::Lines));
        assert_eq!(c.rtp_port(6001).err(), Some(ConfigError::RtpPort(6001)));
        assert_eq!(c.rtp_port(0).err(), Some(ConfigError::RtpPort(0)));
        // Two lines: 65524 + 10 + 1 = 65535 fits, 65526 does not.
        assert_eq!(c.rtp_port(65526).err(), Some(ConfigError::RtpPort(65526)));
        c.rtp_port(65524).unwrap();
        assert_eq!(c.lines(3).err(), Some(ConfigError::RtpPort(65524)));
        assert!(c.keepalive(Some(Duration::ZERO)).is_err());
        assert!(
            c.ring_cadence(Duration::ZERO, Duration::from_secs(1))
                .is_err()
        );
        c.validate().unwrap();
        c.lines = 0;
        assert_eq!(c.validate(), Err(ConfigError::Lines));
    }
}
