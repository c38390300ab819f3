//! One read transfer, sans-IO: option negotiation (RFC 2347/2348/2349, RFC 7440), windowed
//! sending, retransmission and block-number rollover.
//!
//! A [`Transfer`] is created for an accepted read request with the options the client asked for
//! and the length of the content; it never holds the content. The driver's loop, in quinn's
//! order:
//!
//! ```text
//! loop {
//!     while let Some(t) = transfer.poll_transmit() { send(t) }   // Data: read the block at its offset
//!     if transfer.is_done() { break }
//!     wait for a datagram or transfer.poll_timeout()
//!     transfer.handle_datagram(now, from, bytes)  or  transfer.handle_timeout(now)
//! }
//! ```
//!
//! Sending follows RFC 7440: up to `windowsize` blocks go out, then the transfer waits. An ACK for
//! block n acknowledges every block up to n and sending resumes at n + 1, so an ACK from the middle
//! of the window (the client saw a gap) costs one round, and a lost ACK or a lost last block costs
//! one timeout, never a stall. An ACK that acknowledges nothing new (a duplicate or an old one) is
//! ignored, so a delayed packet cannot double the traffic (the Sorcerer's Apprentice syndrome,
//! RFC 1123 §4.2.3.1). When [`Config::retries`] full timeouts have passed without progress the
//! transfer gives up and sends ERROR 0.
//!
//! The timeout adapts to the client as TCP's does (RFC 6298: smoothed round trip plus four times
//! its variation, doubled on each timeout, Karn's rule for samples), between
//! [`Config::min_timeout`] and the full timeout (the `timeout` option, or [`Config::timeout`]):
//! a lost block on a LAN then costs milliseconds, not a second. A client that asks for a
//! `timeout` gets exactly that one (RFC 2349). And so that a window fits in a client's default
//! socket buffer, the window granted holds at most [`Config::max_window_bytes`] (a window that
//! overflows it loses its tail every time). Block numbers wrap from 65535 to 0 (as tftp-hpa and curl expect), so a file of
//! any size can be sent; the transfer ends when the final short (possibly empty) block is
//! acknowledged. A datagram from another port (transfer ID) gets ERROR 5 and changes nothing
//! (RFC 1350 §4).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use thiserror::Error;
use tracing::{debug, trace, warn};

use super::wire::{self, ErrorCode, Opcode, Repr, TftpOption};

/// The block size without the `blksize` option (RFC 1350).
pub const DEFAULT_BLKSIZE: u16 = 512;
/// The smallest `blksize` a client may ask for (RFC 2348).
pub const MIN_BLKSIZE: u16 = 8;
/// The largest `blksize` (RFC 2348).
pub const MAX_BLKSIZE: u16 = 65464;
/// The `timeout` option's range, in seconds (RFC 2349).
pub const TIMEOUT_RANGE: core::ops::RangeInclusive<u64> = 1..=255;
/// Control packets (ERROR 5 to strangers) waiting to be sent; more are dropped.
const MAX_PENDING: usize = 8;
/// IPv4 + UDP + TFTP DATA headers, taken from the path MTU to give the largest block.
const IPV4_OVERHEAD: u16 = 20 + 8 + 4;
/// IPv6 + UDP + TFTP DATA headers.
const IPV6_OVERHEAD: u16 = 40 + 8 + 4;

/// A setting outside its range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The named setting is out of range.
    #[error("{0} out of range")]
    OutOfRange(&'static str),
}

/// How transfers negotiate and retransmit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    max_blksize: u16,
    max_windowsize: u16,
    retries: u32,
    timeout: Duration,
    min_timeout: Duration,
    max_window_bytes: u32,
    mtu: Option<u16>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_blksize: MAX_BLKSIZE,
            max_windowsize: 64,
            retries: 5,
            timeout: Duration::from_secs(1),
            min_timeout: Duration::from_millis(10),
            max_window_bytes: 64 * 1024,
            mtu: None,
        }
    }
}

impl Config {
    /// The largest block size granted (8..=65464, default 65464); a larger request is clamped.
    ///
    /// # Errors
    /// Outside 8..=65464.
    pub fn max_blksize(&mut self, v: u16) -> Result<&mut Self, ConfigError> {
        if !(MIN_BLKSIZE..=MAX_BLKSIZE).contains(&v) {
            return Err(ConfigError::OutOfRange("max_blksize"));
        }
        self.max_blksize = v;
        Ok(self)
    }

    /// The largest window granted (1..=65535, default 64); a larger request is clamped.
    ///
    /// # Errors
    /// When 0.
    pub fn max_windowsize(&mut self, v: u16) -> Result<&mut Self, ConfigError> {
        if v == 0 {
            return Err(ConfigError::OutOfRange("max_windowsize"));
        }
        self.max_windowsize = v;
        Ok(self)
    }

    /// Full timeouts without progress before giving up (default 5).
    pub fn retries(&mut self, v: u32) -> &mut Self {
        self.retries = v;
        self
    }

    /// The retransmission timeout when the client does not ask for one (default 1 s).
    ///
    /// # Errors
    /// When zero.
    pub fn timeout(&mut self, v: Duration) -> Result<&mut Self, ConfigError> {
        if v.is_zero() {
            return Err(ConfigError::OutOfRange("timeout"));
        }
        self.timeout = v;
        Ok(self)
    }

    /// The shortest adaptive retransmission timeout (default 10 ms).
    ///
    /// # Errors
    /// When zero.
    pub fn min_timeout(&mut self, v: Duration) -> Result<&mut Self, ConfigError> {
        if v.is_zero() {
            return Err(ConfigError::OutOfRange("min_timeout"));
        }
        self.min_timeout = v;
        Ok(self)
    }

    /// The most bytes a window may hold (default 64 KiB): the window granted is clamped to
    /// this over the block size, and is at least one block.
    pub fn max_window_bytes(&mut self, v: u32) -> &mut Self {
        self.max_window_bytes = v;
        self
    }

    /// The path MTU towards the clients, when the driver knows it (the LAN interface's MTU):
    /// no block is granted that would not fit in one unfragmented datagram.
    ///
    /// # Errors
    /// Below 576 bytes (the least every IPv4 host accepts).
    pub fn path_mtu(&mut self, mtu: u16) -> Result<&mut Self, ConfigError> {
        if mtu < 576 {
            return Err(ConfigError::OutOfRange("path_mtu"));
        }
        self.mtu = Some(mtu);
        Ok(self)
    }

    /// The largest block size for a client at `peer`.
    fn blksize_limit(&self, peer: SocketAddr) -> u16 {
        let overhead = if peer.is_ipv4() {
            IPV4_OVERHEAD
        } else {
            IPV6_OVERHEAD
        };
        self.mtu
            .map_or(self.max_blksize, |mtu| self.max_blksize.min(mtu - overhead))
    }
}

/// What the transfer agreed with the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// Bytes per DATA block.
    pub blksize: u16,
    /// Blocks sent before waiting for an ACK.
    pub windowsize: u16,
    /// The full retransmission timeout (the client's `timeout` option, or the configured one).
    pub timeout: Duration,
    /// Whether the timeout adapts to the round trip (the client did not ask for one).
    pub adaptive: bool,
    /// Whether an OACK opens the transfer (the client asked for at least one option we took).
    pub oack: bool,
}

/// Something to send to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transmit {
    /// DATA block `block`: the 4-byte [`wire::data_header`] then `len` bytes of the content from
    /// `offset`, which the driver reads itself.
    Data {
        /// Where to.
        to: SocketAddr,
        /// Block number on the wire (wrapped).
        block: u16,
        /// Offset of the block in the content.
        offset: u64,
        /// Its length: the block size, or less for the last block.
        len: usize,
    },
    /// A control packet (OACK or ERROR), encoded.
    Packet {
        /// Where to.
        to: SocketAddr,
        /// The datagram.
        bytes: Vec<u8>,
    },
}

/// How a transfer ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every block was acknowledged.
    Completed,
    /// The client sent an ERROR (code 8 when it refused our options).
    PeerError(ErrorCode),
    /// The client stopped answering; ERROR 0 was sent.
    TimedOut,
    /// The server gave up ([`Transfer::abort`]), with an ERROR to the client.
    Aborted,
}

/// What one transfer counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// DATA packets sent, retransmissions included.
    pub blocks_sent: u64,
    /// DATA and OACK packets sent again.
    pub retransmits: u64,
    /// Retransmission timeouts.
    pub timeouts: u64,
    /// Content bytes sent, retransmissions included.
    pub bytes_sent: u64,
    /// ACKs that acknowledged nothing new (ignored).
    pub stale_acks: u64,
    /// ACKs for blocks not sent yet (ignored).
    pub future_acks: u64,
    /// Datagrams from another port than the client's (answered with ERROR 5).
    pub wrong_tid: u64,
    /// Datagrams from the client that are not ACK or ERROR, or do not parse (ignored).
    pub malformed: u64,
}

/// A read transfer. See the module documentation for the loop that drives it.
#[derive(Debug)]
pub struct Transfer {
    peer: SocketAddr,
    len: u64,
    negotiated: Negotiated,
    retries_max: u32,
    /// The encoded OACK, until the client acknowledges it with ACK 0.
    oack: Option<Vec<u8>>,
    /// Whether the OACK is due to be (re)sent.
    oack_due: bool,
    /// Index of the last block (`len / blksize + 1`); block indices start at 1 and do not wrap.
    last: u64,
    /// The highest block acknowledged.
    acked: u64,
    /// The next block to send.
    next: u64,
    /// The highest block sent.
    sent_max: u64,
    deadline: Instant,
    /// The last time an ACK acknowledged something new (or the start).
    last_progress: Instant,
    /// When the packets in flight were sent, and whether any was sent again since (Karn).
    window_sent: Instant,
    resent: bool,
    rtt: Rtt,
    outcome: Option<Outcome>,
    pending: VecDeque<Transmit>,
    stats: Stats,
}

impl Transfer {
    /// Starts a transfer of `len` bytes to `peer`, who asked for `options`.
    ///
    /// Options are read without regard to case; unknown ones and bad values are left out of the
    /// OACK (RFC 2347): `blksize` 8..=65464 (clamped to the configured and path-MTU maximum),
    /// `windowsize` 1..=65535 (clamped), `timeout` 1..=255 s, `tsize` (answered with `len`).
    /// When none is taken, DATA 1 goes first; otherwise the OACK, and DATA 1 after its ACK 0.
    pub fn new(
        now: Instant,
        peer: SocketAddr,
        options: &[TftpOption<'_>],
        len: u64,
        config: &Config,
    ) -> Self {
        let mut negotiated = Negotiated {
            blksize: DEFAULT_BLKSIZE,
            windowsize: 1,
            timeout: config.timeout,
            adaptive: true,
            oack: false,
        };
        let mut blksize = None;
        let mut windowsize = None;
        let mut timeout = None;
        let mut tsize = false;
        for o in options {
            let Some(v) = number(o.value) else {
                debug!(name = o.name, value = o.value, "option value ignored");
                continue;
            };
            let name = o.name;
            if name.eq_ignore_ascii_case("blksize") && blksize.is_none() {
                if v >= u64::from(MIN_BLKSIZE) {
                    let limit = config.blksize_limit(peer);
                    blksize = Some(u16::try_from(v).map_or(limit, |v| v.min(limit)));
                }
            } else if name.eq_ignore_ascii_case("windowsize") && windowsize.is_none() {
                if (1..=65535).contains(&v) {
                    windowsize = Some(u16::try_from(v).map_or(1, |v| v.min(config.max_windowsize)));
                }
            } else if name.eq_ignore_ascii_case("timeout") && timeout.is_none() {
                if TIMEOUT_RANGE.contains(&v) {
                    timeout = Some(v);
                }
            } else if name.eq_ignore_ascii_case("tsize") {
                tsize = true;
            } else {
                debug!(name, "unknown option ignored");
            }
        }
        let mut accepted: Vec<(&str, String)> = Vec::new();
        if let Some(b) = blksize {
            negotiated.blksize = b;
            accepted.push(("blksize", b.to_string()));
        }
        if let Some(t) = timeout {
            negotiated.timeout = Duration::from_secs(t);
            negotiated.adaptive = false;
            accepted.push(("timeout", t.to_string()));
        }
        if tsize {
            accepted.push(("tsize", len.to_string()));
        }
        if let Some(w) = windowsize {
            let fit = config.max_window_bytes / u32::from(negotiated.blksize);
            let w = w.min(u16::try_from(fit.max(1)).unwrap_or(u16::MAX));
            negotiated.windowsize = w;
            accepted.push(("windowsize", w.to_string()));
        }
        let oack = (!accepted.is_empty()).then(|| {
            let options = accepted
                .iter()
                .map(|(name, value)| TftpOption { name, value })
                .collect();
            Repr::Oack { options }
                .to_vec()
                .expect("at most four short options")
        });
        negotiated.oack = oack.is_some();
        debug!(%peer, len, ?negotiated, "transfer starts");
        Self {
            peer,
            len,
            negotiated,
            retries_max: config.retries,
            oack_due: oack.is_some(),
            oack,
            last: len / u64::from(negotiated.blksize) + 1,
            acked: 0,
            next: 1,
            sent_max: 0,
            deadline: now + negotiated.timeout,
            last_progress: now,
            window_sent: now,
            resent: false,
            rtt: Rtt::new(negotiated.timeout, config.min_timeout),
            outcome: None,
            pending: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// What was agreed with the client.
    pub const fn negotiated(&self) -> Negotiated {
        self.negotiated
    }

    /// The client's address (its transfer ID).
    pub const fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// The content length.
    pub const fn len(&self) -> u64 {
        self.len
    }

    /// Whether the content is empty (a single empty DATA block is still sent).
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The counters.
    pub const fn stats(&self) -> &Stats {
        &self.stats
    }

    /// How it ended, once it has.
    pub const fn outcome(&self) -> Option<Outcome> {
        self.outcome
    }

    /// Whether it has ended and has nothing left to send.
    pub fn is_done(&self) -> bool {
        self.outcome.is_some() && self.pending.is_empty()
    }

    /// A datagram from `from` on the transfer's socket.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        if self.outcome.is_some() {
            return;
        }
        if from != self.peer {
            self.stats.wrong_tid += 1;
            debug!(%from, peer = %self.peer, "datagram from an unknown transfer ID");
            self.queue_error(from, ErrorCode::UNKNOWN_TID, "Unknown transfer ID");
            return;
        }
        if let Some(block) = wire::ack_block(datagram) {
            self.handle_ack(now, block);
            return;
        }
        match wire::opcode(datagram) {
            Ok(Opcode::Error) => {
                // The code even from an ERROR too short or garbled to parse: it ends the transfer.
                let code = ErrorCode(
                    datagram
                        .get(2..4)
                        .map_or(0, |b| u16::from_be_bytes([b[0], b[1]])),
                );
                let message = match Repr::parse(datagram) {
                    Ok(Repr::Error { message, .. }) => message,
                    _ => "(malformed)",
                };
                debug!(%code, message, "client ended the transfer");
                self.outcome = Some(Outcome::PeerError(code));
            }
            other => {
                self.stats.malformed += 1;
                debug!(opcode = ?other, len = datagram.len(), "not an ACK or ERROR: dropped");
            }
        }
    }

    fn handle_ack(&mut self, now: Instant, block: u16) {
        trace!(block, "ACK");
        if self.oack.is_some() {
            if block == 0 {
                self.oack = None;
                self.oack_due = false;
                self.progress(now);
            } else {
                self.stats.future_acks += 1;
                debug!(block, "ACK before the OACK's: ignored");
            }
            return;
        }
        // The block index this ACK names: within the 65535 blocks after the last one acknowledged.
        let ahead = u64::from(block.wrapping_sub(self.acked as u16));
        let index = self.acked + ahead;
        if ahead == 0 {
            self.stats.stale_acks += 1;
            trace!(block, "stale ACK ignored");
        } else if index > self.sent_max {
            // Older than the last acknowledged (it wraps to far ahead) or never sent.
            self.stats.future_acks += 1;
            debug!(block, "ACK for a block not sent: ignored");
        } else {
            // Resume after it: when the ACK is from the middle of the window, the client lost
            // the block after it and dropped the rest (RFC 7440 §4).
            self.acked = index;
            self.next = index + 1;
            self.progress(now);
            if self.acked == self.last {
                debug!(peer = %self.peer, bytes = self.len, "transfer complete");
                self.outcome = Some(Outcome::Completed);
            }
        }
    }

    fn progress(&mut self, now: Instant) {
        if self.negotiated.adaptive && !self.resent {
            self.rtt
                .sample(now.saturating_duration_since(self.window_sent));
        }
        self.last_progress = now;
        self.window_sent = now;
        self.resent = false;
        self.deadline = now + self.rto();
    }

    /// The current retransmission timeout.
    fn rto(&self) -> Duration {
        if self.negotiated.adaptive {
            self.rtt.rto
        } else {
            self.negotiated.timeout
        }
    }

    /// When the transfer gives up without progress.
    fn give_up_at(&self) -> Instant {
        self.last_progress + self.negotiated.timeout * (self.retries_max + 1)
    }

    /// Call when [`Self::poll_timeout`] has passed: retransmits, or gives up.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.outcome.is_some() || now < self.deadline {
            return;
        }
        self.stats.timeouts += 1;
        if now >= self.give_up_at() {
            warn!(peer = %self.peer, acked = self.acked, "client stopped answering: giving up");
            self.queue_error(self.peer, ErrorCode::UNDEFINED, "Timed out");
            self.outcome = Some(Outcome::TimedOut);
            return;
        }
        debug!(peer = %self.peer, acked = self.acked, rto = ?self.rto(), "timeout: resending");
        if self.oack.is_some() {
            self.oack_due = true;
        } else {
            self.next = self.acked + 1;
        }
        self.rtt.back_off();
        self.window_sent = now;
        self.resent = true;
        self.deadline = (now + self.rto()).min(self.give_up_at());
    }

    /// The next packet to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.pending.pop_front() {
            return Some(t);
        }
        if self.outcome.is_some() {
            return None;
        }
        if let Some(oack) = &self.oack {
            if !self.oack_due {
                return None;
            }
            if self.stats.timeouts > 0 {
                self.stats.retransmits += 1;
            }
            self.oack_due = false;
            return Some(Transmit::Packet {
                to: self.peer,
                bytes: oack.clone(),
            });
        }
        let window_end = self.acked + u64::from(self.negotiated.windowsize);
        if self.next > self.last || self.next > window_end {
            return None;
        }
        let index = self.next;
        self.next += 1;
        if index <= self.sent_max {
            self.stats.retransmits += 1;
        }
        self.sent_max = self.sent_max.max(index);
        let blksize = u64::from(self.negotiated.blksize);
        let offset = (index - 1) * blksize;
        let len = (self.len - offset).min(blksize) as usize;
        self.stats.blocks_sent += 1;
        self.stats.bytes_sent += len as u64;
        Some(Transmit::Data {
            to: self.peer,
            block: index as u16,
            offset,
            len,
        })
    }

    /// When [`Self::handle_timeout`] is next due; `None` once done.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.outcome.is_none().then_some(self.deadline)
    }

    /// Ends the transfer with an ERROR to the client: the content could not be read.
    pub fn abort(&mut self, code: ErrorCode, message: &str) {
        if self.outcome.is_none() {
            warn!(peer = %self.peer, %code, message, "transfer aborted");
            self.queue_error(self.peer, code, message);
            self.outcome = Some(Outcome::Aborted);
        }
    }

    fn queue_error(&mut self, to: SocketAddr, code: ErrorCode, message: &str) {
        if to != self.peer && self.pending.len() >= MAX_PENDING {
            debug!(%to, "control queue full: ERROR not sent");
            return;
        }
        let bytes = Repr::Error { code, message }
            .to_vec()
            .expect("a short message");
        self.pending.push_back(Transmit::Packet { to, bytes });
    }
}

/// The adaptive retransmission timeout (RFC 6298 §2).
#[derive(Debug, Clone, Copy)]
struct Rtt {
    srtt: Option<Duration>,
    rttvar: Duration,
    rto: Duration,
    min: Duration,
    max: Duration,
}

impl Rtt {
    /// Before any sample, the full timeout.
    fn new(max: Duration, min: Duration) -> Self {
        Self {
            srtt: None,
            rttvar: Duration::ZERO,
            rto: max,
            min: min.min(max),
            max,
        }
    }

    fn sample(&mut self, r: Duration) {
        let srtt = match self.srtt {
            None => {
                self.rttvar = r / 2;
                r
            }
            Some(srtt) => {
                let diff = srtt.abs_diff(r);
                self.rttvar = (self.rttvar * 3 + diff) / 4;
                (srtt * 7 + r) / 8
            }
        };
        self.srtt = Some(srtt);
        self.rto = (srtt + self.rttvar * 4).clamp(self.min, self.max);
    }

    fn back_off(&mut self) {
        self.rto = (self.rto * 2).min(self.max);
    }
}

/// A decimal option value: digits only, no sign or spaces, at most 20 of them.
fn number(s: &str) -> Option<u64> {
    if s.is_empty() || s.len() > 20 || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

#[cfg(test)]
mod tests;
