//! The server's configuration: subnets and their pools, reservations, per-vendor options.
//!
//! Plain data with public fields, `Default`, and chained setters that validate what they are
//! given (quinn-proto's `TransportConfig`). [`Server::new`](super::Server::new) validates the
//! whole again, since the fields are public.

use std::net::Ipv4Addr;
use std::time::Duration;

use thiserror::Error;

use crate::Mac;

/// Most address ranges (or exclusions) one subnet may list.
pub const MAX_RANGES: usize = 256;
/// Most subnets one server may serve.
pub const MAX_SUBNETS: usize = 256;
/// Longest string option (domain, TFTP server name, boot file, URL) we configure.
pub const MAX_STRING_OPTION: usize = 255;
/// Most IPv4 addresses in one list option (routers, DNS, NTP, Cisco TFTP).
pub const MAX_ADDRESS_LIST: usize = 16;
/// Longest vendor-specific (43) payload we configure.
pub const MAX_VENDOR_SPECIFIC: usize = 255;

/// Why a configuration is refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A prefix length over 30 (no room for hosts) or a network address with host bits set.
    #[error("{network}/{prefix} is not a network address with a prefix of at most 30")]
    Network {
        /// The network address given.
        network: Ipv4Addr,
        /// The prefix length given.
        prefix: u8,
    },
    /// A range (or exclusion) whose start is after its end or that leaves its subnet.
    #[error("range {start}-{end} is reversed or outside {network}/{prefix}")]
    Range {
        /// First address.
        start: Ipv4Addr,
        /// Last address.
        end: Ipv4Addr,
        /// The subnet's network.
        network: Ipv4Addr,
        /// The subnet's prefix.
        prefix: u8,
    },
    /// Two subnets overlap.
    #[error("subnets {0} and {1} overlap")]
    OverlappingSubnets(Ipv4Addr, Ipv4Addr),
    /// A reservation's address is in no subnet, or is the network or broadcast address.
    #[error("reservation {ip} for {mac} is not a host address of any subnet")]
    ReservationOutside {
        /// The reserved MAC.
        mac: Mac,
        /// The address reserved for it.
        ip: Ipv4Addr,
    },
    /// Two reservations for one MAC, or one address reserved twice.
    #[error("duplicate reservation for {mac} or {ip}")]
    DuplicateReservation {
        /// The MAC of the second reservation.
        mac: Mac,
        /// Its address.
        ip: Ipv4Addr,
    },
    /// A vendor rule's MAC prefix is empty or longer than 6 bytes, or its vendor class empty.
    #[error("a vendor rule needs a vendor class or a MAC prefix of 1 to 6 bytes")]
    VendorMatch,
    /// Too many subnets, ranges or exclusions, or an option value too long for the wire.
    #[error("{0} exceeds its limit")]
    Limit(&'static str),
    /// A duration of zero where time must pass (lease time, offer hold).
    #[error("{0} must be at least one second")]
    Duration(&'static str),
}

/// Everything the server hands out, and to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The subnets served, each with its pools and options.
    pub subnets: Vec<Subnet>,
    /// Fixed addresses by MAC; a reservation's address need not be in a pool.
    pub reservations: Vec<Reservation>,
    /// Per-vendor options: the first rule that matches wins, and its set fields override the
    /// subnet's.
    pub vendors: Vec<VendorRule>,
    /// How long an offered address stays held for the client it was offered to.
    pub offer_hold: Duration,
    /// How long a DECLINEd address is quarantined.
    pub decline_hold: Duration,
    /// The starvation guard: DISCOVERs from MACs that hold nothing, per relay (giaddr) and
    /// option-82 circuit id, or per directly attached link.
    pub new_clients: RateLimit,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            subnets: Vec::new(),
            reservations: Vec::new(),
            vendors: Vec::new(),
            offer_hold: Duration::from_secs(30),
            decline_hold: Duration::from_secs(600),
            new_clients: RateLimit {
                per_second: 50,
                burst: 200,
            },
        }
    }
}

impl Config {
    /// Adds a subnet, refusing one that overlaps a subnet already there.
    pub fn subnet(&mut self, subnet: Subnet) -> Result<&mut Self, ConfigError> {
        subnet.validate()?;
        if self.subnets.len() >= MAX_SUBNETS {
            return Err(ConfigError::Limit("subnets"));
        }
        if let Some(other) = self.subnets.iter().find(|s| s.overlaps(&subnet)) {
            return Err(ConfigError::OverlappingSubnets(
                other.network,
                subnet.network,
            ));
        }
        self.subnets.push(subnet);
        Ok(self)
    }

    /// Adds a reservation, refusing a duplicate MAC or address.
    pub fn reservation(&mut self, reservation: Reservation) -> Result<&mut Self, ConfigError> {
        if self
            .reservations
            .iter()
            .any(|r| r.mac == reservation.mac || r.ip == reservation.ip)
        {
            return Err(ConfigError::DuplicateReservation {
                mac: reservation.mac,
                ip: reservation.ip,
            });
        }
        self.reservations.push(reservation);
        Ok(self)
    }

    /// Adds a vendor rule after those already there.
    pub fn vendor(&mut self, rule: VendorRule) -> Result<&mut Self, ConfigError> {
        rule.validate()?;
        self.vendors.push(rule);
        Ok(self)
    }

    /// Sets how long an offered address stays held (at least a second).
    pub fn offer_hold(&mut self, hold: Duration) -> Result<&mut Self, ConfigError> {
        if hold.as_secs() == 0 {
            return Err(ConfigError::Duration("offer_hold"));
        }
        self.offer_hold = hold;
        Ok(self)
    }

    /// Sets how long a declined address is quarantined (at least a second).
    pub fn decline_hold(&mut self, hold: Duration) -> Result<&mut Self, ConfigError> {
        if hold.as_secs() == 0 {
            return Err(ConfigError::Duration("decline_hold"));
        }
        self.decline_hold = hold;
        Ok(self)
    }

    /// Sets the new-client rate limit.
    pub fn new_clients(&mut self, limit: RateLimit) -> &mut Self {
        self.new_clients = limit;
        self
    }

    /// Checks the whole configuration, as [`Server::new`](super::Server::new) does.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.subnets.len() > MAX_SUBNETS {
            return Err(ConfigError::Limit("subnets"));
        }
        for (i, s) in self.subnets.iter().enumerate() {
            s.validate()?;
            if let Some(other) = self.subnets[..i].iter().find(|o| o.overlaps(s)) {
                return Err(ConfigError::OverlappingSubnets(other.network, s.network));
            }
        }
        validate_reservations(&self.subnets, &self.reservations)?;
        for rule in &self.vendors {
            rule.validate()?;
        }
        if self.offer_hold.as_secs() == 0 {
            return Err(ConfigError::Duration("offer_hold"));
        }
        if self.decline_hold.as_secs() == 0 {
            return Err(ConfigError::Duration("decline_hold"));
        }
        Ok(())
    }
}

/// Checks that every reservation is a host address of some subnet and that no MAC or address
/// is reserved twice.
pub(super) fn validate_reservations(
    subnets: &[Subnet],
    reservations: &[Reservation],
) -> Result<(), ConfigError> {
    let mut macs = std::collections::HashSet::new();
    let mut ips = std::collections::HashSet::new();
    for r in reservations {
        if !subnets.iter().any(|s| s.is_host(r.ip)) {
            return Err(ConfigError::ReservationOutside {
                mac: r.mac,
                ip: r.ip,
            });
        }
        if !macs.insert(r.mac) || !ips.insert(r.ip) {
            return Err(ConfigError::DuplicateReservation {
                mac: r.mac,
                ip: r.ip,
            });
        }
    }
    Ok(())
}

/// A token bucket: `burst` at once, refilled at `per_second`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Sustained rate; 0 means unlimited.
    pub per_second: u32,
    /// Bucket size: how many may come at once.
    pub burst: u32,
}

/// One IPv4 subnet: where its pools are and what its clients are told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet {
    /// The network address (host bits zero).
    pub network: Ipv4Addr,
    /// The prefix length, at most 30.
    pub prefix: u8,
    /// The pools: inclusive address ranges inside the subnet.
    pub ranges: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// Inclusive ranges never handed out, even inside a pool.
    pub exclude: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// The options its clients get.
    pub options: Options,
}

impl Subnet {
    /// A subnet with no pools yet.
    pub fn new(network: Ipv4Addr, prefix: u8) -> Result<Self, ConfigError> {
        let s = Self {
            network,
            prefix,
            ranges: Vec::new(),
            exclude: Vec::new(),
            options: Options::default(),
        };
        s.validate_network()?;
        Ok(s)
    }

    /// Adds a pool range.
    pub fn range(mut self, start: Ipv4Addr, end: Ipv4Addr) -> Result<Self, ConfigError> {
        self.check_range(start, end)?;
        if self.ranges.len() >= MAX_RANGES {
            return Err(ConfigError::Limit("ranges"));
        }
        self.ranges.push((start, end));
        Ok(self)
    }

    /// Adds an excluded range.
    pub fn exclude(mut self, start: Ipv4Addr, end: Ipv4Addr) -> Result<Self, ConfigError> {
        self.check_range(start, end)?;
        if self.exclude.len() >= MAX_RANGES {
            return Err(ConfigError::Limit("exclusions"));
        }
        self.exclude.push((start, end));
        Ok(self)
    }

    /// Sets the options.
    pub fn options(mut self, options: Options) -> Result<Self, ConfigError> {
        options.validate()?;
        self.options = options;
        Ok(self)
    }

    /// The subnet mask.
    pub fn mask(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask_bits())
    }

    fn mask_bits(&self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix.min(32)))
            .unwrap_or(0)
    }

    /// Whether `ip` is in this subnet (network and broadcast addresses included).
    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & self.mask_bits() == u32::from(self.network)
    }

    /// Whether `ip` is a host address of this subnet (neither network nor broadcast address).
    pub fn is_host(&self, ip: Ipv4Addr) -> bool {
        let host = u32::from(ip) & !self.mask_bits();
        self.contains(ip) && host != 0 && host != !self.mask_bits()
    }

    fn overlaps(&self, other: &Self) -> bool {
        self.contains(other.network) || other.contains(self.network)
    }

    fn validate_network(&self) -> Result<(), ConfigError> {
        if self.prefix > 30 || u32::from(self.network) & !self.mask_bits() != 0 {
            return Err(ConfigError::Network {
                network: self.network,
                prefix: self.prefix,
            });
        }
        Ok(())
    }

    fn check_range(&self, start: Ipv4Addr, end: Ipv4Addr) -> Result<(), ConfigError> {
        if start > end || !self.is_host(start) || !self.is_host(end) {
            return Err(ConfigError::Range {
                start,
                end,
                network: self.network,
                prefix: self.prefix,
            });
        }
        Ok(())
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.validate_network()?;
        if self.ranges.len() > MAX_RANGES {
            return Err(ConfigError::Limit("ranges"));
        }
        if self.exclude.len() > MAX_RANGES {
            return Err(ConfigError::Limit("exclusions"));
        }
        for &(a, b) in self.ranges.iter().chain(&self.exclude) {
            self.check_range(a, b)?;
        }
        self.options.validate()
    }
}

/// The options a subnet or vendor rule gives its clients. Unset fields fall back: a vendor
/// rule's to the subnet's, the subnet's to nothing (the lease time to one hour).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Lease time (51); T1 (58) and T2 (59) are 50 % and 87.5 % of it.
    pub lease_time: Option<Duration>,
    /// Routers (3).
    pub routers: Vec<Ipv4Addr>,
    /// DNS servers (6).
    pub dns: Vec<Ipv4Addr>,
    /// Domain name (15).
    pub domain: Option<String>,
    /// NTP servers (42).
    pub ntp: Vec<Ipv4Addr>,
    /// TFTP server name (66), always sent as a string.
    pub tftp_server: Option<String>,
    /// Boot file name (67).
    pub boot_file: Option<String>,
    /// Cisco's TFTP server list (150).
    pub cisco_tftp: Vec<Ipv4Addr>,
    /// Polycom's provisioning server URL (160).
    pub provisioning_url: Option<String>,
    /// Vendor-specific information (43), raw.
    pub vendor_specific: Option<Vec<u8>>,
}

impl Options {
    /// These options with `over`'s set fields replacing ours.
    pub fn overridden_by(&self, over: &Self) -> Self {
        fn list(base: &[Ipv4Addr], over: &[Ipv4Addr]) -> Vec<Ipv4Addr> {
            if over.is_empty() { base } else { over }.to_vec()
        }
        Self {
            lease_time: over.lease_time.or(self.lease_time),
            routers: list(&self.routers, &over.routers),
            dns: list(&self.dns, &over.dns),
            domain: over.domain.clone().or_else(|| self.domain.clone()),
            ntp: list(&self.ntp, &over.ntp),
            tftp_server: over
                .tftp_server
                .clone()
                .or_else(|| self.tftp_server.clone()),
            boot_file: over.boot_file.clone().or_else(|| self.boot_file.clone()),
            cisco_tftp: list(&self.cisco_tftp, &over.cisco_tftp),
            provisioning_url: over
                .provisioning_url
                .clone()
                .or_else(|| self.provisioning_url.clone()),
            vendor_specific: over
                .vendor_specific
                .clone()
                .or_else(|| self.vendor_specific.clone()),
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        if self.lease_time.is_some_and(|t| t.as_secs() == 0) {
            return Err(ConfigError::Duration("lease_time"));
        }
        for (name, list) in [
            ("routers", &self.routers),
            ("dns", &self.dns),
            ("ntp", &self.ntp),
            ("cisco_tftp", &self.cisco_tftp),
        ] {
            if list.len() > MAX_ADDRESS_LIST {
                return Err(ConfigError::Limit(name));
            }
        }
        for (name, s) in [
            ("domain", &self.domain),
            ("tftp_server", &self.tftp_server),
            ("boot_file", &self.boot_file),
            ("provisioning_url", &self.provisioning_url),
        ] {
            if s.as_ref()
                .is_some_and(|s| s.is_empty() || s.len() > MAX_STRING_OPTION)
            {
                return Err(ConfigError::Limit(name));
            }
        }
        if self
            .vendor_specific
            .as_ref()
            .is_some_and(|v| v.len() > MAX_VENDOR_SPECIFIC)
        {
            return Err(ConfigError::Limit("vendor_specific"));
        }
        Ok(())
    }
}

/// Options for one vendor's phones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VendorRule {
    /// Which clients it applies to.
    pub matches: VendorMatch,
    /// What they get instead of the subnet's options (set fields only).
    pub options: Options,
}

impl VendorRule {
    fn validate(&self) -> Result<(), ConfigError> {
        match &self.matches {
            VendorMatch::VendorClass(c) if c.is_empty() => return Err(ConfigError::VendorMatch),
            VendorMatch::MacPrefix(p) if p.is_empty() || p.len() > 6 => {
                return Err(ConfigError::VendorMatch);
            }
            _ => {}
        }
        self.options.validate()
    }

    /// Whether the rule applies to a client with this MAC and vendor class (option 60).
    pub fn matches(&self, mac: Mac, vendor_class: Option<&[u8]>) -> bool {
        match &self.matches {
            VendorMatch::VendorClass(prefix) => vendor_class.is_some_and(|class| {
                class.len() >= prefix.len()
                    && class[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
            }),
            VendorMatch::MacPrefix(prefix) => mac.0.starts_with(prefix),
        }
    }
}

/// How a vendor rule recognises its phones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VendorMatch {
    /// The vendor class identifier (option 60) starts with this, compared case-insensitively.
    VendorClass(String),
    /// The MAC address starts with these 1 to 6 bytes (usually the 3-byte OUI).
    MacPrefix(Vec<u8>),
}

/// A fixed address for one MAC.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The client.
    pub mac: Mac,
    /// Its address: a host address of a subnet, in a pool or not.
    pub ip: Ipv4Addr,
    /// A host name to tell it (option 12), if it asks.
    pub hostname: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    #[test]
    fn subnets_and_ranges_are_checked() {
        assert!(Subnet::new(ip("10.0.0.0"), 24).is_ok());
        assert!(Subnet::new(ip("10.0.0.1"), 24).is_err());
        assert!(Subnet::new(ip("10.0.0.0"), 31).is_err());
        let s = Subnet::new(ip("10.0.0.0"), 24).unwrap();
        assert!(s.clone().range(ip("10.0.0.10"), ip("10.0.0.20")).is_ok());
        assert!(s.clone().range(ip("10.0.0.20"), ip("10.0.0.10")).is_err());
        assert!(s.clone().range(ip("10.0.0.0"), ip("10.0.0.10")).is_err());
        assert!(s.clone().range(ip("10.0.0.10"), ip("10.0.0.255")).is_err());
        assert!(s.clone().range(ip("10.0.1.10"), ip("10.0.1.20")).is_err());
        assert_eq!(s.mask(), ip("255.255.255.0"));
        assert!(s.is_host(ip("10.0.0.1")) && !s.is_host(ip("10.0.0.255")));
    }

    #[test]
    fn overlaps_and_duplicates_are_refused() {
        let mut c = Config::default();
        c.subnet(Subnet::new(ip("10.0.0.0"), 16).unwrap()).unwrap();
        assert!(c.subnet(Subnet::new(ip("10.0.5.0"), 24).unwrap()).is_err());
        c.subnet(Subnet::new(ip("10.1.0.0"), 24).unwrap()).unwrap();
        let mac = Mac([1, 2, 3, 4, 5, 6]);
        c.reservation(Reservation {
            mac,
            ip: ip("10.0.0.5"),
            hostname: None,
        })
        .unwrap();
        assert!(
            c.reservation(Reservation {
                mac,
                ip: ip("10.0.0.6"),
                hostname: None
            })
            .is_err()
        );
        assert!(c.validate().is_ok());
        c.reservations.push(Reservation {
            mac: Mac([9; 6]),
            ip: ip("192.168.0.1"),
            hostname: None,
        });
        assert!(matches!(
            c.validate(),
            Err(ConfigError::ReservationOutside { .. })
        ));
        assert!(c.offer_hold(Duration::ZERO).is_err());
        assert!(
            c.vendor(VendorRule {
                matches: VendorMatch::MacPrefix(vec![]),
                options: Options::default()
            })
            .is_err()
        );
    }

    #[test]
    fn vendor_rules_match_class_prefix_and_mac_prefix() {
        let rule = VendorRule {
            matches: VendorMatch::VendorClass("Polycom".into()),
            options: Options::default(),
        };
        let mac = Mac([0, 4, 0xf2, 1, 2, 3]);
        assert!(rule.matches(mac, Some(b"polycom-SoundPointIP")));
        assert!(!rule.matches(mac, Some(b"Poly")));
        assert!(!rule.matches(mac, None));
        let rule = VendorRule {
            matches: VendorMatch::MacPrefix(vec![0, 4, 0xf2]),
            options: Options::default(),
        };
        assert!(rule.matches(mac, None));
        assert!(!rule.matches(Mac([0, 4, 0xf3, 1, 2, 3]), None));
    }

    #[test]
    fn overrides_take_set_fields_only() {
        let base = Options {
            routers: vec![ip("10.0.0.1")],
            domain: Some("lan".into()),
            ..Options::default()
        };
        let over = Options {
            domain: Some("phones".into()),
            tftp_server: Some("10.0.0.2".into()),
            ..Options::default()
        };
        let o = base.overridden_by(&over);
        assert_eq!(o.routers, vec![ip("10.0.0.1")]);
        assert_eq!(o.domain.as_deref(), Some("phones"));
        assert_eq!(o.tftp_server.as_deref(), Some("10.0.0.2"));
    }
}
