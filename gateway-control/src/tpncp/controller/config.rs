//! The host's settings.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::time::Duration;

use crate::model::GatewayId;
use crate::tpncp::wire::{ByteOrder, Channel};

/// The most boards one host drives.
pub const MAX_GATEWAYS: usize = 256;
/// The most lines (channels) per board, configured and added together.
pub const MAX_LINES_PER_GATEWAY: usize = 256;
/// The highest channel number a line may name.
pub const MAX_CHANNEL: i32 = 1023;
/// The most model commands waiting per line; beyond it a command fails at once.
pub const MAX_QUEUED_PER_LINE: usize = 64;
/// The board's RTP port spacing: channel `c` sends and receives RTP on `rtp_port + 10 c`
/// (AudioCodes' `BaseUDPPort` and `UDPPortSpacing`).
pub const RTP_PORT_SPACING: u16 = 10;
/// The port a board listens on for TPNCP.
pub const DEFAULT_PORT: u16 = 2424;

/// How the host talks to a board.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transport {
    /// A TCP connection the host opens to the board's port (the default): no retransmission;
    /// a missing acknowledgement or a framing error closes it.
    #[default]
    Tcp,
    /// Datagrams to and from the board's address; commands are retransmitted.
    Udp,
}

/// One board the host drives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Its name (`[[gateway]] name`).
    pub id: GatewayId,
    /// Where it listens (port 2424), when known; without one the host waits for a
    /// [`Command::GatewayAddress`](crate::model::Command::GatewayAddress).
    pub address: Option<SocketAddr>,
    /// TCP or UDP.
    pub transport: Transport,
    /// Its lines: channel numbers as decimal text (`"0"`, `"1"`…; MediaPack port N is channel
    /// N − 1), without sign or leading zeros.
    pub lines: Vec<String>,
    /// The board's `BaseUDPPort`: channel `c`'s RTP port is `rtp_port + 10 c`.
    pub rtp_port: u16,
    /// The byte order the host writes its commands in.
    pub byte_order: ByteOrder,
}

impl GatewayConfig {
    /// A TCP board at `address` with these channels, RTP from port 6000, big-endian.
    pub fn new(id: GatewayId, address: Option<SocketAddr>, lines: &[&str]) -> Self {
        Self {
            id,
            address,
            transport: Transport::Tcp,
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
            rtp_port: 6000,
            byte_order: ByteOrder::Big,
        }
    }
}

/// Settings of a [`super::Host`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The boards.
    pub gateways: Vec<GatewayConfig>,
    /// A board heard from for this long is probed (`acCMD_ANALOG_IF_QUERY_STATUS`). 10 s.
    pub keepalive: Duration,
    /// How long a command waits for its `acEV_COMMAND_ACK` (over UDP, with its retransmissions)
    /// before the board is taken to be gone. 4 s.
    pub ack_timeout: Duration,
    /// UDP: the first retransmission comes after this, each next one after twice the previous
    /// wait, within [`Config::ack_timeout`]. 500 ms.
    pub retransmit_interval: Duration,
    /// UDP: at most this many retransmissions of a command. 3.
    pub max_retransmits: u32,
    /// How long a TCP connection may take to open. 5 s.
    pub connect_timeout: Duration,
    /// The first wait before reconnecting to a board that went away; each failed attempt
    /// doubles it (less up to a quarter, seeded jitter). 1 s.
    pub reconnect_min: Duration,
    /// The longest wait between reconnection attempts. 60 s.
    pub reconnect_max: Duration,
    /// Digit collection: the wait after a key when a pattern could complete with the timer
    /// (RFC 3435 `T`, the short interdigit timer). 4 s.
    pub interdigit_short: Duration,
    /// Digit collection: the wait after any other key (the long interdigit timer). 16 s.
    pub interdigit_long: Duration,
    /// Trunks: an incoming call whose ring has been silent this long (no
    /// `acEV_ANALOG_IF_RING_START`) was given up by the caller. Longer than the longest
    /// silence of a ring cadence (4 s in North America, GR-506; 5 s in some countries). 8 s.
    pub ring_gap: Duration,
    /// Seeds the reconnection jitter.
    pub rng_seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            gateways: Vec::new(),
            keepalive: Duration::from_secs(10),
            ack_timeout: Duration::from_secs(4),
            retransmit_interval: Duration::from_millis(500),
            max_retransmits: 3,
            connect_timeout: Duration::from_secs(5),
            reconnect_min: Duration::from_secs(1),
            reconnect_max: Duration::from_secs(60),
            interdigit_short: Duration::from_secs(4),
            interdigit_long: Duration::from_secs(16),
            ring_gap: Duration::from_secs(8),
            rng_seed: 0,
        }
    }
}

/// Why a [`Config`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Two boards have one name.
    #[error("gateway {0} is configured twice")]
    Duplicate(GatewayId),
    /// Two UDP boards have one address (their datagrams could not be told apart).
    #[error("gateway {0}: another UDP gateway has its address")]
    SharedAddress(GatewayId),
    /// A line is not a channel number.
    #[error(
        "gateway {gateway}: line {line:?} is not a channel number (0 to {MAX_CHANNEL}, decimal, no leading zeros)"
    )]
    Line {
        /// The board.
        gateway: GatewayId,
        /// The line as configured.
        line: String,
    },
    /// A channel is configured twice on one board.
    #[error("gateway {gateway}: channel {line} is configured twice")]
    DuplicateLine {
        /// The board.
        gateway: GatewayId,
        /// The line as configured.
        line: String,
    },
    /// A channel's RTP port (`rtp_port + 10 c`, and RTCP above it) is beyond 65535.
    #[error("gateway {gateway}: the RTP port of channel {line} is beyond 65535")]
    RtpPort {
        /// The board.
        gateway: GatewayId,
        /// The line as configured.
        line: String,
    },
    /// Too many boards or lines.
    #[error("too many {0}")]
    TooMany(&'static str),
    /// A duration is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// `reconnect_max` is below `reconnect_min`.
    #[error("reconnect_max must be at least reconnect_min")]
    Backoff,
}

/// The channel a line name stands for: canonical decimal text from 0 to [`MAX_CHANNEL`].
pub fn channel_of(line: &str) -> Option<Channel> {
    let canonical = !line.is_empty()
        && line.len() <= 4
        && line.bytes().all(|b| b.is_ascii_digit())
        && (line == "0" || !line.starts_with('0'));
    let n: i32 = line.parse().ok().filter(|_| canonical)?;
    (n <= MAX_CHANNEL).then_some(Channel(n))
}

/// The board's RTP port for a channel, if it fits (RTCP takes the port above it).
pub(crate) fn rtp_port_of(base: u16, channel: Channel) -> Option<u16> {
    let offset = u16::try_from(channel.0)
        .ok()?
        .checked_mul(RTP_PORT_SPACING)?;
    base.checked_add(offset).filter(|p| *p < u16::MAX)
}

impl Config {
    /// Checks everything a host needs.
    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        for (name, d) in [
            ("keepalive", self.keepalive),
            ("ack_timeout", self.ack_timeout),
            ("retransmit_interval", self.retransmit_interval),
            ("connect_timeout", self.connect_timeout),
            ("reconnect_min", self.reconnect_min),
            ("interdigit_short", self.interdigit_short),
            ("interdigit_long", self.interdigit_long),
            ("ring_gap", self.ring_gap),
        ] {
            if d.is_zero() {
                return Err(ConfigError::Zero(name));
            }
        }
        if self.reconnect_max < self.reconnect_min {
            return Err(ConfigError::Backoff);
        }
        if self.gateways.len() > MAX_GATEWAYS {
            return Err(ConfigError::TooMany("gateways"));
        }
        let mut names = HashSet::new();
        let mut udp = HashSet::new();
        for g in &self.gateways {
            if !names.insert(g.id.clone()) {
                return Err(ConfigError::Duplicate(g.id.clone()));
            }
            if g.transport == Transport::Udp
                && let Some(a) = g.address
                && !udp.insert(a)
            {
                return Err(ConfigError::SharedAddress(g.id.clone()));
            }
            if g.lines.len() > MAX_LINES_PER_GATEWAY {
                return Err(ConfigError::TooMany("lines"));
            }
            let mut channels = HashSet::new();
            for line in &g.lines {
                let Some(c) = channel_of(line) else {
                    return Err(ConfigError::Line {
                        gateway: g.id.clone(),
                        line: line.clone(),
                    });
                };
                if !channels.insert(c) {
                    return Err(ConfigError::DuplicateLine {
                        gateway: g.id.clone(),
                        line: line.clone(),
                    });
                }
                if rtp_port_of(g.rtp_port, c).is_none() {
                    return Err(ConfigError::RtpPort {
                        gateway: g.id.clone(),
                        line: line.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}
