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
//! - Time never goes backwards inside the server: an input older than the newest seen is
//!   taken as happening at the newest, so a clock stepped back cannot revive an expired hold.
//! - The rate limit on new clients keys on the relay (giaddr) and its circuit id; option 82
//!   in a datagram that did not come through a relay is not trusted for it.
//! - A MAC's outstanding offer is kept (and re-offered) until it expires, the client picks
//!   another server, or it is bound.

use std::collections::{HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};

use tracing::{debug, trace, warn};

use super::wire::{self, MessageType, Op, Repr};
use crate::Mac;

mod config;
mod pool;
mod ratelimit;
mod reply;
mod stats;
#[cfg(test)]
mod tests;

use pool::Addresses;
use ratelimit::{Key, Limiter};
use reply::Reply;
pub use stats::{STATS_COUNT, Stats};

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

/// Most MACs remembered for [`Event::DeviceSeen`]; past it the memory starts afresh (a device
/// may then be reported twice).
pub const MAX_SEEN: usize = 100_000;
/// Most transmits or events queued; past it the oldest are dropped (a driver that drains them
/// after every input never gets near).
pub const MAX_QUEUED: usize = 4096;
/// Longest host name or vendor class kept in a lease.
pub const MAX_NAME: usize = 255;

/// The DHCP server core.
///
/// It holds no socket and reads no clock. Its owner runs this loop (quinn's order):
/// 1. feed what happened: [`handle_datagram`](Self::handle_datagram) for each datagram received
///    on port 67, and [`handle_timeout`](Self::handle_timeout) once the time from
///    [`poll_timeout`](Self::poll_timeout) has come;
/// 2. drain [`poll_transmit`](Self::poll_transmit): for each [`Transmit`], make its `lease`
///    durable first if it has one, then send it;
/// 3. drain [`poll_event`](Self::poll_event) (devices seen, lease changes to persist lazily);
/// 4. sleep until [`poll_timeout`](Self::poll_timeout) or the next datagram.
///
/// Every input carries `now`, wall-clock seconds ([`UnixTime`]).
#[derive(Debug)]
pub struct Server {
    config: Config,
    server_ip: Ipv4Addr,
    addresses: Addresses,
    limiter: Limiter,
    seen: HashSet<Mac>,
    now: UnixTime,
    transmits: VecDeque<Transmit>,
    events: VecDeque<Event>,
    stats: Stats,
}

fn text(bytes: Option<&[u8]>) -> Option<String> {
    bytes.map(|b| String::from_utf8_lossy(&b[..b.len().min(MAX_NAME)]).into_owned())
}

fn secs(d: std::time::Duration) -> u64 {
    d.as_secs().max(1)
}

impl Server {
    /// A server for `config`, identifying itself as `server_ip` (option 54), with the leases
    /// its store kept: a held address is never offered to another MAC. Leases outside every
    /// subnet are ignored.
    pub fn new(
        config: Config,
        server_ip: Ipv4Addr,
        leases: impl IntoIterator<Item = Lease>,
    ) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut addresses = Addresses::new(&config.subnets, &config.reservations);
        for lease in leases {
            addresses.load(lease);
        }
        debug!(
            subnets = config.subnets.len(),
            pool = addresses.pool_size(),
            leases = addresses.leases.len(),
            "dhcp server ready"
        );
        Ok(Self {
            limiter: Limiter::new(config.new_clients),
            config,
            server_ip,
            addresses,
            seen: HashSet::new(),
            now: UnixTime(0),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        })
    }

    /// The address the server identifies itself with.
    pub fn server_ip(&self) -> Ipv4Addr {
        self.server_ip
    }

    fn advance(&mut self, now: UnixTime) -> UnixTime {
        self.now = self.now.max(now);
        self.stats.expired += self.addresses.expire(self.now);
        self.now
    }

    /// A datagram arrived on port 67 from `from`.
    pub fn handle_datagram(&mut self, now: UnixTime, from: SocketAddrV4, datagram: &[u8]) {
        let now = self.advance(now);
        self.stats.received += 1;
        let req = match Repr::parse_bytes(datagram) {
            Ok(r) => r,
            Err(e) => {
                self.count_parse_error(&e);
                debug!(%from, error = %e, "dhcp datagram dropped");
                return;
            }
        };
        trace!(%from, kind = %req.message_type, mac = %req.chaddr, xid = req.xid.0, "dhcp request");
        if req.op != Op::Request {
            self.stats.dropped_not_request += 1;
            debug!(%from, "dhcp BOOTREPLY dropped");
            return;
        }
        match req.message_type {
            MessageType::Discover => self.discover(now, &req),
            MessageType::Request => self.request(now, &req),
            MessageType::Decline => self.decline(now, &req),
            MessageType::Release => self.release(now, &req),
            MessageType::Inform => self.inform(now, from, &req),
            other => {
                self.stats.dropped_not_request += 1;
                debug!(%from, kind = %other, "dhcp message type not for a server dropped");
            }
        }
    }

    fn count_parse_error(&mut self, e: &wire::Error) {
        let s = &mut self.stats;
        *match e {
            wire::Error::TooLong { .. } => &mut s.dropped_oversize,
            wire::Error::Truncated { .. } | wire::Error::OptionTruncated { .. } => {
                &mut s.dropped_truncated
            }
            wire::Error::MagicCookie(_) => &mut s.dropped_bad_cookie,
            wire::Error::Op(_) => &mut s.dropped_not_request,
            wire::Error::HardwareAddress { .. } => &mut s.dropped_hardware,
            wire::Error::MissingMessageType => &mut s.dropped_no_message_type,
            wire::Error::OptionLength {
                code: wire::code::MESSAGE_TYPE,
                ..
            } => &mut s.dropped_no_message_type,
            wire::Error::Overload { .. } | wire::Error::OptionLength { .. } => {
                &mut s.dropped_bad_overload
            }
            _ => &mut s.dropped_malformed,
        } += 1;
    }

    /// The subnet a request is about: the relay's, else the client's address's, else ours.
    fn subnet_for(&self, req: &Repr<'_>) -> Option<usize> {
        if !req.giaddr.is_unspecified() {
            return self.addresses.subnet_of(req.giaddr);
        }
        if !req.ciaddr.is_unspecified()
            && let Some(s) = self.addresses.subnet_of(req.ciaddr)
        {
            return Some(s);
        }
        self.addresses.subnet_of(self.server_ip)
    }

    fn subnet_or_drop(&mut self, req: &Repr<'_>) -> Option<usize> {
        let s = self.subnet_for(req);
        if s.is_none() {
            self.stats.dropped_no_subnet += 1;
            debug!(mac = %req.chaddr, giaddr = %req.giaddr, "dhcp: no subnet for the link, dropped");
        }
        s
    }

    /// The subnet's options with the first matching vendor rule's over them.
    fn options_for(&self, s: usize, req: &Repr<'_>) -> Options {
        let base = &self.addresses.subnet(s).options;
        match self
            .config
            .vendors
            .iter()
            .find(|v| v.matches(req.chaddr, req.vendor_class()))
        {
            Some(rule) => base.overridden_by(&rule.options),
            None => base.clone(),
        }
    }

    fn lease_secs(options: &Options) -> u32 {
        options.lease_time.map_or(reply::DEFAULT_LEASE_SECS, |d| {
            u32::try_from(secs(d)).unwrap_or(u32::MAX)
        })
    }

    fn discover(&mut self, now: UnixTime, req: &Repr<'_>) {
        let Some(s) = self.subnet_or_drop(req) else {
            return;
        };
        let mac = req.chaddr;
        if !self.addresses.holds_something(mac, now) {
            let circuit = req.relay_agent_info().and_then(|i| i.circuit_id());
            if !self.limiter.allow(Key::new(req.giaddr, circuit), now) {
                self.stats.rate_limited += 1;
                debug!(%mac, giaddr = %req.giaddr, "dhcp DISCOVER rate limited");
                return;
            }
        }
        let Some(ip) = self.addresses.choose(mac, s, req.requested_ip(), now) else {
            self.stats.dropped_pool_exhausted += 1;
            warn!(%mac, subnet = %self.addresses.subnet(s).network, "dhcp pool exhausted");
            return;
        };
        let until = now.plus_secs(secs(self.config.offer_hold));
        self.addresses.offer(mac, ip, until, now);
        debug!(%mac, %ip, "dhcp offer");
        let options = self.options_for(s, req);
        let lease_secs = Self::lease_secs(&options);
        if self.send(
            req,
            MessageType::Offer,
            ip,
            Some(lease_secs),
            s,
            &options,
            None,
            None,
        ) {
            self.stats.offers += 1;
            self.device_seen(req, Some(ip));
        }
    }

    fn request(&mut self, now: UnixTime, req: &Repr<'_>) {
        let Some(s) = self.subnet_or_drop(req) else {
            return;
        };
        let mac = req.chaddr;
        let subnet = self.addresses.subnet(s);
        let (ip, ok) = if let Some(server_id) = req.server_id() {
            // SELECTING.
            if server_id != self.server_ip {
                self.addresses.cancel_offer(mac, now);
                self.stats.dropped_other_server += 1;
                debug!(%mac, %server_id, "dhcp client chose another server");
                return;
            }
            let Some(ip) = req
                .requested_ip()
                .or(Some(req.ciaddr).filter(|a| !a.is_unspecified()))
            else {
                self.stats.dropped_no_address += 1;
                debug!(%mac, "dhcp REQUEST without an address dropped");
                return;
            };
            (ip, self.addresses.available_for(mac, ip, s, now))
        } else {
            // INIT-REBOOT (requested address) or RENEWING/REBINDING (ciaddr).
            let Some(ip) = req
                .requested_ip()
                .filter(|_| req.ciaddr.is_unspecified())
                .or(Some(req.ciaddr).filter(|a| !a.is_unspecified()))
            else {
                self.stats.dropped_no_address += 1;
                debug!(%mac, "dhcp REQUEST without an address dropped");
                return;
            };
            let reserved = self.addresses.reservation(mac).map(|r| r.ip);
            let known = self.addresses.by_mac.get(&mac).copied();
            if !subnet.is_host(ip) || reserved.is_some_and(|r| r != ip) {
                (ip, false)
            } else if reserved == Some(ip) || known.is_some() {
                (
                    ip,
                    known.is_none_or(|k| k == ip) && self.addresses.available_for(mac, ip, s, now),
                )
            } else if self.addresses.taken_by_other(mac, ip, now) {
                (ip, false)
            } else {
                self.stats.dropped_unknown_client += 1;
                debug!(%mac, %ip, "dhcp REQUEST from a client we have no record of: silent");
                return;
            }
        };
        if !ok {
            debug!(%mac, %ip, "dhcp nak");
            let options = Options::default();
            if self.send(
                req,
                MessageType::Nak,
                Ipv4Addr::UNSPECIFIED,
                None,
                s,
                &options,
                None,
                None,
            ) {
                self.stats.naks += 1;
            }
            return;
        }
        let options = self.options_for(s, req);
        let lease_secs = Self::lease_secs(&options);
        let reservation_name = self
            .addresses
            .reservation(mac)
            .and_then(|r| r.hostname.clone());
        let lease = Lease {
            mac,
            ip,
            expires: now.plus_secs(u64::from(lease_secs)),
            state: LeaseState::Bound,
            hostname: text(req.host_name()),
            vendor_class: text(req.vendor_class()),
        };
        if let Some(old) = self.addresses.bind(lease.clone(), now) {
            self.push_event(Event::LeaseChanged(old));
        }
        debug!(%mac, %ip, secs = lease_secs, "dhcp ack");
        if self.send(
            req,
            MessageType::Ack,
            ip,
            Some(lease_secs),
            s,
            &options,
            reservation_name.as_deref(),
            Some(lease),
        ) {
            self.stats.acks += 1;
            self.device_seen(req, Some(ip));
        }
    }

    /// Whether a RELEASE or DECLINE is for us (option 54 must name us, RFC 2131 §4.4.4, §4.4.6).
    fn for_us(&mut self, req: &Repr<'_>) -> bool {
        if req.server_id() == Some(self.server_ip) {
            return true;
        }
        self.stats.dropped_other_server += 1;
        debug!(mac = %req.chaddr, kind = %req.message_type, "dhcp message for another server dropped");
        false
    }

    fn decline(&mut self, now: UnixTime, req: &Repr<'_>) {
        if !self.for_us(req) {
            return;
        }
        let Some(ip) = req.requested_ip() else {
            self.stats.dropped_no_address += 1;
            debug!(mac = %req.chaddr, "dhcp DECLINE without an address dropped");
            return;
        };
        let until = now.plus_secs(secs(self.config.decline_hold));
        match self.addresses.decline(req.chaddr, ip, until) {
            Some(lease) => {
                self.stats.declines += 1;
                warn!(mac = %req.chaddr, %ip, "dhcp address declined: quarantined");
                self.push_event(Event::LeaseChanged(lease));
            }
            None => {
                self.stats.dropped_no_lease += 1;
                debug!(mac = %req.chaddr, %ip, "dhcp DECLINE of an address not leased to it");
            }
        }
    }

    fn release(&mut self, now: UnixTime, req: &Repr<'_>) {
        if !self.for_us(req) {
            return;
        }
        match self.addresses.release(req.chaddr, req.ciaddr, now) {
            Some(lease) => {
                self.stats.releases += 1;
                debug!(mac = %req.chaddr, ip = %req.ciaddr, "dhcp release");
                self.push_event(Event::LeaseChanged(lease));
            }
            None => {
                self.stats.dropped_no_lease += 1;
                debug!(mac = %req.chaddr, ip = %req.ciaddr, "dhcp RELEASE of an address not leased to it");
            }
        }
    }

    fn inform(&mut self, _now: UnixTime, from: SocketAddrV4, req: &Repr<'_>) {
        let Some(s) = self.subnet_or_drop(req) else {
            return;
        };
        if req.giaddr.is_unspecified() && req.ciaddr.is_unspecified() && from.ip().is_unspecified()
        {
            self.stats.dropped_no_address += 1;
            debug!(mac = %req.chaddr, "dhcp INFORM with no address to answer dropped");
            return;
        }
        let options = self.options_for(s, req);
        let (destination, broadcast, flag) = reply::route(req, false, Some(*from.ip()));
        self.finish(
            req,
            MessageType::Ack,
            Ipv4Addr::UNSPECIFIED,
            None,
            s,
            &options,
            None,
            None,
            (destination, broadcast, flag),
        );
        self.stats.informs += 1;
    }

    #[allow(clippy::too_many_arguments)]
    fn send(
        &mut self,
        req: &Repr<'_>,
        kind: MessageType,
        yiaddr: Ipv4Addr,
        lease_secs: Option<u32>,
        s: usize,
        options: &Options,
        hostname: Option<&str>,
        lease: Option<Lease>,
    ) -> bool {
        let route = reply::route(req, kind == MessageType::Nak, None);
        self.finish(
            req, kind, yiaddr, lease_secs, s, options, hostname, lease, route,
        )
    }

    #[allow(clippy::too_many_arguments)]
    fn finish(
        &mut self,
        req: &Repr<'_>,
        kind: MessageType,
        yiaddr: Ipv4Addr,
        lease_secs: Option<u32>,
        s: usize,
        options: &Options,
        hostname: Option<&str>,
        lease: Option<Lease>,
        (destination, broadcast, flag): (SocketAddrV4, bool, bool),
    ) -> bool {
        let r = Reply {
            kind,
            yiaddr,
            lease_secs,
            mask: self.addresses.subnet(s).mask(),
            options,
            hostname,
        };
        match reply::encode(req, &r, self.server_ip, flag) {
            Ok(payload) => {
                if self.transmits.len() >= MAX_QUEUED {
                    self.transmits.pop_front();
                }
                self.transmits.push_back(Transmit {
                    destination,
                    broadcast,
                    payload,
                    lease,
                });
                true
            }
            Err(e) => {
                self.stats.dropped_unencodable += 1;
                warn!(mac = %req.chaddr, error = %e, "dhcp reply could not be encoded");
                false
            }
        }
    }

    fn push_event(&mut self, event: Event) {
        if self.events.len() >= MAX_QUEUED {
            self.events.pop_front();
        }
        self.events.push_back(event);
    }

    fn device_seen(&mut self, req: &Repr<'_>, ip: Option<Ipv4Addr>) {
        if self.seen.contains(&req.chaddr) {
            return;
        }
        if self.seen.len() >= MAX_SEEN {
            self.seen.clear();
        }
        self.seen.insert(req.chaddr);
        self.push_event(Event::DeviceSeen {
            mac: req.chaddr,
            vendor_class: text(req.vendor_class()),
            ip,
        });
    }

    /// The time from [`poll_timeout`](Self::poll_timeout) has come: offers, leases and
    /// quarantines due by `now` end.
    pub fn handle_timeout(&mut self, now: UnixTime) {
        self.advance(now);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next needed (an offer, lease or
    /// quarantine ends).
    pub fn poll_timeout(&self) -> Option<UnixTime> {
        self.addresses.next_timer()
    }

    /// Replaces the reservations (devices edited at run time). A reservation outside every
    /// subnet, or repeating an earlier one's MAC or address, is skipped with a warning.
    pub fn set_reservations(&mut self, reservations: Vec<Reservation>) {
        let mut kept: Vec<Reservation> = Vec::with_capacity(reservations.len());
        for r in reservations {
            let candidate = std::slice::from_ref(&r);
            let duplicate = kept.iter().any(|k| k.mac == r.mac || k.ip == r.ip);
            if duplicate || config::validate_reservations(&self.config.subnets, candidate).is_err()
            {
                warn!(mac = %r.mac, ip = %r.ip, "dhcp reservation outside every subnet or repeated: skipped");
                continue;
            }
            kept.push(r);
        }
        self.addresses.set_reservations(&kept);
        self.config.reservations = kept;
    }

    /// Every lease the server knows of, in no particular order.
    pub fn leases(&self) -> impl Iterator<Item = &Lease> {
        self.addresses.leases.values()
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Checks the bookkeeping (for tests and fuzzing): one record per address and MAC, indexes
    /// consistent, nothing both held and free.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        self.addresses.check_invariants(self.now)
    }
}
