//! The analog-gateway simulator (`offhook gateway-sim`): N analog lines `aaln/1`…`aaln/N`
//! behind an MGCP residential gateway, as a call agent sees a Cisco VG/ATA or Grandstream HT.
//!
//! # What it does
//! - On start it announces itself with `RSIP *@domain` and `RM: restart` (RFC 3435 §4.4.6),
//!   retransmitted until answered, and announced again after [`Config::restart_retry`] if it
//!   never is.
//! - It obeys `RQNT` (§2.3.3): `X:`, `N:`, `R:` with actions `N`, `A`, `D`, `S`, `I`, `K` and
//!   embedded `E(R(…),S(…),D(…))`, `S:`, `D:` digit maps with the timer `T` (§2.1.5, see
//!   [`digitmap`]), `Q:` `process`/`discard` and `step`/`loop`; `T:` is accepted and ignored.
//!   It answers `200`, or: `401`/`402` when asked to detect (or ring for) a hook state the line
//!   already has, `500` unknown endpoint, `510` bad syntax or missing `X:`, `512`/`513` events
//!   or signals of the line package it cannot detect or generate, `518` unknown package,
//!   `519` `D` action without a digit map, `522` no such event or signal, `523` illegal
//!   actions, `538` bad signal parameter, `539` bad `Q:`.
//! - Observed events are sent in `NTFY` to the notified entity with the current `X:`,
//!   retransmitted until answered. After a notification, events are quarantined until the next
//!   request (§4.4.1, "step"); the request then processes (`Q: process`, the default) or drops
//!   (`Q: discard`) them. Timeout signals stop when a requested event is detected unless `K`.
//!   A NTFY never answered makes the line send `RSIP aaln/N` with `RM: disconnected` (§4.4.7)
//!   until one is answered.
//! - Ringing follows a cadence — `L/rg` 2 s on / 4 s off ([`Config::ring_cadence`]),
//!   distinctive `L/r0`–`L/r7` the usual analog-adapter patterns — until picked up, stopped,
//!   or its timeout
//!   (180 s, `to=` in ms, capped by [`Config::ring_timeout`]), which reports `L/oc`.
//! - `CRCX`, `MDCX`, `DLCX` (answered `250` with `P:` statistics), `AUEP`, `AUCX`, `EPCF`;
//!   connection ids in hex, modes, `L:` `a:`/`p:`, local SDP answers on an RTP port the driver
//!   supplied ([`Gateway::add_rtp_port`]); `403` with no port free, `540` beyond
//!   [`Config::max_connections`] per line, `505` for an unusable remote description, `515`
//!   unknown connection, `516` wrong call id, `517` bad mode, `532` unsupported codec or ptime.
//! - Retransmission and duplicate suppression are [`crate::mgcp::transaction`]'s.
//!
//! # Line commands (stdin, one a line)
//! `offhook N`, `onhook N`, `digits N 123#`, `flash N`, `say N FILE.wav` (WAV of any rate and
//! channel count, resampled to 8 kHz mono and sent as 20 ms G.711 RTP in the connection's codec,
//! paced in real time), `hear N FILE.wav` (save what line N receives, decoded, as 8 kHz 16-bit
//! WAV until its connection is deleted or `hear N off`), `autoanswer N on|off` (pick up
//! [`Config::autoanswer_delay`] after ringing starts), `quit`. Empty lines and `#` comments are
//! ignored.
//!
//! # Output (stdout, one JSON object a line)
//! | line | when |
//! | --- | --- |
//! | `{"event":"rsip","method":"restart","acknowledged":true,"code":200}` | the restart was answered (`false` and no `code` when it timed out) |
//! | `{"line":1,"event":"rsip","method":"disconnected","acknowledged":true,"code":200}` | a line whose NTFY went unanswered announced itself again (§4.4.7) |
//! | `{"line":1,"event":"offhook"}` / `"onhook"` (+ `"auto":true` for autoanswer) | hook change |
//! | `{"line":1,"event":"flash"}`, `{"line":1,"event":"digit","digit":"5"}` | key presses |
//! | `{"line":1,"event":"command","verb":"RQNT","transaction":12,"code":200}` | a call-agent command and our answer (`line` absent for the whole gateway) |
//! | `{"line":1,"event":"notify","request":"A1","observed":["L/hd"]}` | a NTFY sent |
//! | `{"line":1,"signal":"L/rg"}` (+ `"params":"to=6000"`) | a signal applied |
//! | `{"line":1,"signal":"L/rg","stopped":true,"reason":"hook"}` | reasons `timeout`, `hook`, `event`, `replaced` |
//! | `{"line":1,"event":"ringing","on":true}` | the bell, each cadence step |
//! | `{"line":1,"event":"connection","action":"created","id":"1F","call":"A3","mode":"sendrecv","codec":"PCMU","local":"127.0.0.1:16384","remote":"127.0.0.1:16400"}` | `created`, `modified`, `deleted`; `remote` absent until known |
//! | `{"line":1,"event":"say_done","file":"a.wav","packets":50}` (+ `"complete":false`) | a `say` ended |
//! | `{"line":1,"event":"hear_done","file":"b.wav","ms":1000}` | a `hear` ended |
//! | `{"error":"…"}` (+ `"line":N`) | a command failed |
//!
//! # Driving it
//! [`Gateway`] is the sans-IO core (no tokio, usable in virtual time); [`run`] (feature
//! `driver`) puts it on sockets, stdin and stdout.

mod command;
mod commands;
mod connection;
pub mod digitmap;
mod gateway;
mod line;
mod output;
mod request;

#[cfg(feature = "driver")]
mod driver;
#[cfg(test)]
mod tests;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

pub use command::{Input, InputError, LineCommand, MAX_DIGITS, MAX_INPUT_LINE};
pub use connection::MAX_SAY_SAMPLES;
#[cfg(feature = "driver")]
pub use driver::{DriverConfig, Stdout, run, run_with};
pub use gateway::{Gateway, Stats, Transmit, Via};
pub use output::{ConnectionAction, Output, StopReason, error_line, file_done, say_done};

use crate::mgcp::transaction;

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
}
