//! The sans-IO DHCPv4 server (RFC 2131 §4.3, §4.4): address allocation, leases, replies.
//!
//! See [`Server`] for the loop a driver runs around it.
//!
//! # Decisions worth knowing
//! - Time is wall-clock seconds ([`UnixTime`]), not a monotonic instant: leases are persisted
//!   and must mean the same after a restart.
//! - Replies to a client without an address go to 255.255.255.255:68 with
//!   [`Transmit::broadcast`] set, even when the client did not set the broadcast bit: unicasting
//!   to `yiaddr` would need an ARP entry injected into the kernel, which we do not do.
//! - The client is identified by its MAC (`chaddr`); the client identifier (61) is read but
//!   not used as the key, since phones are provisioned by MAC.
//! - One lease record per MAC and per address. A released or expired lease keeps its MAC's
//!   affinity to the address until the address is given to someone else; free addresses are
//!   handed out never-used first, then least recently freed.
//! - The lease time a client asks for (51) is ignored: it gets the configured one.

use std::net::{Ipv4Addr, SocketAddrV4};

use crate::Mac;

mod config;

pub use config::{
    Config, ConfigError, MAX_ADDRESS_LIST, MAX_RANGES, MAX_STRING_OPTION, MAX_SUBNETS,
    MAX_VENDOR_SPECIFIC, Options, RateLimit, Reservation, Subnet, VendorMatch, VendorRule,
};

/// Wall-clock time in whole seconds since the Unix epoch.
///
/// The core's time input is wall time, not a monotonic instant, because leases outlive the
/// process: an expiry stored before a restart must still mean the same moment after it. The
/// driver reads the system clock; tests pass whatever times they like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct UnixTime(pub u64);

impl UnixTime {
    /// This time plus `secs` seconds, saturating.
    #[must_use]
    pub const fn plus_secs(self, secs: u64) -> Self {
        Self(self.0.saturating_add(secs))
    }
}

/// A binding of an address to a MAC, as the server keeps and the store persists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The client.
    pub mac: Mac,
    /// Its address.
    pub ip: Ipv4Addr,
    /// When the binding ends (for `Released`: when it was released; for `Declined`: when the
    /// quarantine ends).
    pub expires: UnixTime,
    /// What the binding is.
    pub state: LeaseState,
    /// The host name the client gave (option 12).
    pub hostname: Option<String>,
    /// The vendor class the client gave (option 60).
    pub vendor_class: Option<String>,
}

/// The state of a [`Lease`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeaseState {
    /// Given to the client; the address is held until `expires`. A `Bound` lease past its
    /// expiry is an expired one: the address is free but keeps its MAC's affinity.
    Bound,
    /// Given back by the client (RELEASE); the address is free but keeps its MAC's affinity.
    Released,
    /// Refused by the client as already in use (DECLINE); quarantined until `expires`.
    Declined,
}

/// A datagram the server wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to: a relay's port 67, a client's port 68, or 255.255.255.255:68.
    pub destination: SocketAddrV4,
    /// Whether `destination` is the limited broadcast address (the socket needs
    /// `SO_BROADCAST`).
    pub broadcast: bool,
    /// The DHCP message.
    pub payload: Vec<u8>,
    /// When Some, the driver must make this lease durable BEFORE sending (ACKs).
    pub lease: Option<Lease>,
}

/// Something the server's owner should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// A MAC this server had not seen since it started: an offer or an ACK went to it.
    DeviceSeen {
        /// The device.
        mac: Mac,
        /// Its vendor class (option 60), if it sent one.
        vendor_class: Option<String>,
        /// The address offered or given to it.
        ip: Option<Ipv4Addr>,
    },
    /// A lease changed with no reply to gate on it (RELEASE, DECLINE): persist it lazily.
    LeaseChanged(Lease),
}

/// The DHCP server core.
///
/// It holds no socket and reads no clock. Its owner runs this loop (quinn's order):
/// 1. feed what happened: [`handle_datagram`](Self::handle_datagram) for each datagram received
///    on port 67, and [`handle_timeout`](Self::handle_timeout) once the time from
///    [`poll_timeout`](Self::poll_timeout) has come;
/// 2. drain [`poll_transmit`](Self::poll_transmit): for each [`Transmit`], make its `lease`
///    durable first if it has one, then send it;
/// 3. drain [`poll_event`](Self::poll_event) (devices seen, lease changes to persist);
/// 4. sleep until [`poll_timeout`](Self::poll_timeout) or the next datagram.
///
/// Every input carries `now`, wall-clock seconds ([`UnixTime`]).
#[derive(Debug)]
pub struct Server {
    config: Config,
    server_ip: Ipv4Addr,
    leases: Vec<Lease>,
    stats: Stats,
}

impl Server {
    /// A server for `config`, identifying itself as `server_ip` (option 54), with the leases
    /// its store kept: a held address is never offered to another MAC.
    pub fn new(
        config: Config,
        server_ip: Ipv4Addr,
        leases: impl IntoIterator<Item = Lease>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        Ok(Self {
            config,
            server_ip,
            leases: leases.into_iter().collect(),
            stats: Stats::default(),
        })
    }

    /// A datagram arrived on port 67 from `from`.
    pub fn handle_datagram(&mut self, now: UnixTime, from: SocketAddrV4, datagram: &[u8]) {
        let _ = (now, from, datagram, &self.config, self.server_ip);
        self.stats.received += 1;
    }

    /// The time from [`poll_timeout`](Self::poll_timeout) has come.
    pub fn handle_timeout(&mut self, now: UnixTime) {
        let _ = now;
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        None
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        None
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next needed (an offer, lease or
    /// quarantine ends).
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        None
    }

    /// Replaces the reservations (devices edited at run time). Invalid reservations (outside
    /// every subnet, duplicates) are refused whole.
    pub fn set_reservations(&mut self, reservations: Vec<Reservation>) {
        self.config.reservations = reservations;
    }

    /// Every lease the server knows of, in no particular order.
    pub fn leases(&self) -> impl Iterator<Item = &Lease> {
        self.leases.iter()
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }
}

/// What the server did and dropped, counted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Datagrams handed to the server.
    pub received: u64,
}

impl Stats {
    /// Every counter with its name, for metrics.
    pub fn counters(&self) -> [(&'static str, u64); 1] {
        [("received", self.received)]
    }
}
