//! `[dhcp]`: the DHCPv4 server for the phones' LAN. Absent, or with no `interface`, it is off:
//! a DHCP server answering on the wrong network takes it over, so it serves only the one
//! interface named, and never by default.
//!
//! The addresses it hands out on that link are `range` (less `exclude`), in the interface's
//! subnet unless `subnet` says otherwise. `[[dhcp.reservation]]` fixes a MAC's address,
//! `[[dhcp.vendor]]` gives one vendor's phones their own provisioning options (by DHCP option 60
//! or MAC prefix), and `[[dhcp.relay]]` serves other subnets through a relay agent.

use std::net::Ipv4Addr;
use std::time::Duration;

use provisioning::Mac;
use serde::Deserialize;

use super::Error;
use super::values::{bad, duration, parsed, positive_duration};

/// The keys of `[dhcp]`.
pub(super) const KEYS: &[&str] = &[
    "interface",
    "subnet",
    "range",
    "exclude",
    "router",
    "dns",
    "domain",
    "ntp",
    "lease",
    "tftp_server",
    "boot_file",
    "provisioning_url",
    "vendor_specific",
    "new_clients_per_second",
    "new_client_burst",
    "offer_hold",
    "decline_hold",
    "reservation",
    "vendor",
    "relay",
];

/// The defaults of `[dhcp]`'s keys, as CONFIG.md gives them.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(3600);
/// `new_clients_per_second`'s default.
pub const DEFAULT_NEW_CLIENTS_PER_SECOND: u32 = 50;
/// `new_client_burst`'s default.
pub const DEFAULT_NEW_CLIENT_BURST: u32 = 200;
/// `offer_hold`'s default.
pub const DEFAULT_OFFER_HOLD: Duration = Duration::from_secs(30);
/// `decline_hold`'s default.
pub const DEFAULT_DECLINE_HOLD: Duration = Duration::from_secs(600);

/// An inclusive range of addresses.
pub type Range = (Ipv4Addr, Ipv4Addr);

/// `[dhcp]`, when on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dhcp {
    /// `interface`: the only interface served (SO_BINDTODEVICE).
    pub interface: String,
    /// `subnet`: the served link's network and prefix; `None`: the interface's.
    pub subnet: Option<(Ipv4Addr, u8)>,
    /// `range`: the pool(s).
    pub ranges: Vec<Range>,
    /// `exclude`: addresses of the pool never handed out.
    pub exclude: Vec<Range>,
    /// The options every client of the link gets.
    pub options: Options,
    /// `new_clients_per_second`: DISCOVERs from clients that hold nothing, per relay and port.
    pub new_clients_per_second: u32,
    /// `new_client_burst`: ... in bursts of this many.
    pub new_client_burst: u32,
    /// `offer_hold`: how long an offered address waits for its REQUEST.
    pub offer_hold: Duration,
    /// `decline_hold`: how long an address a client declined (in use by someone) is left alone.
    pub decline_hold: Duration,
    /// `[[dhcp.reservation]]`.
    pub reservations: Vec<Reservation>,
    /// `[[dhcp.vendor]]`.
    pub vendors: Vec<Vendor>,
    /// `[[dhcp.relay]]`.
    pub relays: Vec<Relay>,
}

/// The options of a link, a relayed subnet or a vendor rule (unset fields: not sent, or the
/// link's for a vendor rule).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// `router` (option 3).
    pub routers: Vec<Ipv4Addr>,
    /// `dns` (option 6).
    pub dns: Vec<Ipv4Addr>,
    /// `domain` (option 15).
    pub domain: Option<String>,
    /// `ntp` (option 42).
    pub ntp: Vec<Ipv4Addr>,
    /// `lease` (option 51).
    pub lease: Option<Duration>,
    /// `tftp_server` (option 66, a name or address; option 150 too when it is an address).
    pub tftp_server: Option<String>,
    /// `boot_file` (option 67).
    pub boot_file: Option<String>,
    /// `provisioning_url` (option 160).
    pub provisioning_url: Option<String>,
    /// `vendor_specific` (option 43), from hex.
    pub vendor_specific: Option<Vec<u8>>,
}

/// `[[dhcp.reservation]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// `mac`.
    pub mac: Mac,
    /// `ip`.
    pub ip: Ipv4Addr,
    /// `hostname`.
    pub hostname: Option<String>,
}

/// `[[dhcp.vendor]]`: options for one vendor's phones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vendor {
    /// `class` (option 60 starts with it, any case) or `mac_prefix` (1 to 6 bytes).
    pub matches: VendorMatch,
    /// Its options, over the link's.
    pub options: Options,
}

/// What a `[[dhcp.vendor]]` entry matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VendorMatch {
    /// `class`.
    Class(String),
    /// `mac_prefix`.
    MacPrefix(Vec<u8>),
}

/// `[[dhcp.relay]]`: a subnet served through a relay agent (giaddr in it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relay {
    /// `network`.
    pub network: (Ipv4Addr, u8),
    /// `range`.
    pub ranges: Vec<Range>,
    /// `exclude`.
    pub exclude: Vec<Range>,
    /// Its options.
    pub options: Options,
}

/// One address, or several.
#[derive(Debug, Deserialize, Clone)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn items(self) -> Vec<String> {
        match self {
            Self::One(s) => vec![s],
            Self::Many(v) => v,
        }
    }
}

#[derive(Debug, Deserialize, Default, Clone)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOptions {
    router: Option<OneOrMany>,
    dns: Option<OneOrMany>,
    domain: Option<String>,
    ntp: Option<OneOrMany>,
    lease: Option<String>,
    tftp_server: Option<String>,
    boot_file: Option<String>,
    provisioning_url: Option<String>,
    vendor_specific: Option<String>,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    interface: Option<String>,
    subnet: Option<String>,
    range: Option<OneOrMany>,
    exclude: Option<OneOrMany>,
    new_clients_per_second: Option<u32>,
    new_client_burst: Option<u32>,
    offer_hold: Option<String>,
    decline_hold: Option<String>,
    #[serde(default)]
    reservation: Vec<RawReservation>,
    #[serde(default)]
    vendor: Vec<RawVendor>,
    #[serde(default)]
    relay: Vec<RawRelay>,
    #[serde(flatten)]
    options: RawOptions,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReservation {
    mac: String,
    ip: String,
    hostname: Option<String>,
}

// Unknown keys: the flattened options refuse them (deny_unknown_fields does not combine with
// flatten on the outer struct).
#[derive(Debug, Deserialize)]
pub(super) struct RawVendor {
    class: Option<String>,
    mac_prefix: Option<String>,
    #[serde(flatten)]
    options: RawOptions,
}

#[derive(Debug, Deserialize)]
pub(super) struct RawRelay {
    network: String,
    range: OneOrMany,
    exclude: Option<OneOrMany>,
    #[serde(flatten)]
    options: RawOptions,
}

fn address(key: &str, v: &str) -> Result<Ipv4Addr, Error> {
    parsed(
        key,
        v.trim(),
        "expected an IPv4 address such as \"10.99.0.1\"",
    )
}

fn addresses(key: &str, v: Option<OneOrMany>) -> Result<Vec<Ipv4Addr>, Error> {
    v.map_or_else(Vec::new, OneOrMany::items)
        .iter()
        .map(|a| address(key, a))
        .collect()
}

/// `"A-B"` or a single address `"A"`, A <= B.
fn range(key: &str, v: &str) -> Result<Range, Error> {
    let (a, b) = v.split_once('-').unwrap_or((v, v));
    let (a, b) = (address(key, a)?, address(key, b)?);
    if a > b {
        return Err(bad(
            key,
            format!("{v:?}"),
            "the range's first address is above its last",
        ));
    }
    Ok((a, b))
}

fn parse_ranges(key: &str, v: Option<OneOrMany>) -> Result<Vec<Range>, Error> {
    v.map_or_else(Vec::new, OneOrMany::items)
        .iter()
        .map(|r| range(key, r))
        .collect()
}

/// `"10.99.0.0/24"`.
fn network(key: &str, v: &str) -> Result<(Ipv4Addr, u8), Error> {
    let parsed = v.split_once('/').and_then(|(a, p)| {
        let a: Ipv4Addr = a.trim().parse().ok()?;
        let p: u8 = p.trim().parse().ok()?;
        (p <= 32).then_some((a, p))
    });
    let (a, p) = parsed.ok_or_else(|| {
        bad(
            key,
            format!("{v:?}"),
            "expected a network such as \"10.99.0.0/24\"",
        )
    })?;
    let mask = u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0);
    Ok((Ipv4Addr::from(u32::from(a) & mask), p))
}

/// Whether `ip` is in `network`.
pub fn contains(network: (Ipv4Addr, u8), ip: Ipv4Addr) -> bool {
    let mask = u32::MAX.checked_shl(32 - u32::from(network.1)).unwrap_or(0);
    u32::from(ip) & mask == u32::from(network.0) & mask
}

fn hex(key: &str, v: &str) -> Result<Vec<u8>, Error> {
    let digits: String = v
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '-'))
        .collect();
    let ok = digits.len().is_multiple_of(2) && digits.len() <= 510 && !digits.is_empty();
    let bytes = (0..digits.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(digits.get(i..i + 2).unwrap_or("zz"), 16).ok())
        .collect::<Option<Vec<u8>>>();
    match bytes {
        Some(b) if ok => Ok(b),
        _ => Err(bad(
            key,
            format!("{v:?}"),
            "expected hex bytes such as \"01:04:0a:63:00:01\" (1 to 255)",
        )),
    }
}

fn parse_options(prefix: &str, r: RawOptions) -> Result<Options, Error> {
    let key = |k: &str| format!("{prefix}.{k}");
    let text = |k: &str, v: Option<String>| -> Result<Option<String>, Error> {
        match v {
            Some(s) if s.is_empty() || s.len() > 255 || s.contains('\0') => Err(bad(
                &key(k),
                format!("{s:?}"),
                "expected 1 to 255 characters, no NUL",
            )),
            v => Ok(v),
        }
    };
    Ok(Options {
        routers: addresses(&key("router"), r.router)?,
        dns: addresses(&key("dns"), r.dns)?,
        domain: text("domain", r.domain)?,
        ntp: addresses(&key("ntp"), r.ntp)?,
        lease: r
            .lease
            .map(|l| positive_duration(&key("lease"), &l))
            .transpose()?,
        tftp_server: text("tftp_server", r.tftp_server)?,
        boot_file: text("boot_file", r.boot_file)?,
        provisioning_url: text("provisioning_url", r.provisioning_url)?,
        vendor_specific: r
            .vendor_specific
            .map(|v| hex(&key("vendor_specific"), &v))
            .transpose()?,
    })
}

impl Dhcp {
    /// Builds the section; `None` when it is off.
    pub(super) fn build(u: Option<Raw>) -> Result<Option<Self>, Error> {
        let Some(u) = u else { return Ok(None) };
        let Some(interface) = u.interface else {
            return Ok(None);
        };
        if interface.is_empty() || interface.len() > 15 || interface.contains(['/', ' ', '\0']) {
            return Err(bad(
                "dhcp.interface",
                format!("{interface:?}"),
                "expected an interface name such as \"lan0\"",
            ));
        }
        let subnet = u.subnet.map(|s| network("dhcp.subnet", &s)).transpose()?;
        let ranges = parse_ranges("dhcp.range", u.range)?;
        if ranges.is_empty() {
            return Err(bad(
                "dhcp.range",
                "nothing",
                "the server needs addresses to hand out, such as \"10.99.0.100-10.99.0.250\"",
            ));
        }
        if let Some(net) = subnet
            && let Some(r) = ranges
                .iter()
                .find(|r| !contains(net, r.0) || !contains(net, r.1))
        {
            return Err(bad(
                "dhcp.range",
                format!("{}-{}", r.0, r.1),
                "is not inside dhcp.subnet",
            ));
        }
        let exclude = parse_ranges("dhcp.exclude", u.exclude)?;
        let options = parse_options("dhcp", u.options)?;
        let mut reservations = Vec::new();
        for (i, r) in u.reservation.into_iter().enumerate() {
            let key = |k: &str| format!("dhcp.reservation[{i}].{k}");
            let mac = r
                .mac
                .parse::<Mac>()
                .map_err(|e| bad(&key("mac"), format!("{:?}", r.mac), &e.to_string()))?;
            let ip = address(&key("ip"), &r.ip)?;
            if reservations
                .iter()
                .any(|o: &Reservation| o.mac == mac || o.ip == ip)
            {
                return Err(bad(&key("mac"), mac, "a MAC or address is reserved twice"));
            }
            reservations.push(Reservation {
                mac,
                ip,
                hostname: r.hostname,
            });
        }
        let mut vendors = Vec::new();
        for (i, v) in u.vendor.into_iter().enumerate() {
            let prefix = format!("dhcp.vendor[{i}]");
            let matches = match (v.class, v.mac_prefix) {
                (Some(c), None) if !c.is_empty() => VendorMatch::Class(c),
                (None, Some(p)) => {
                    let bytes = hex(&format!("{prefix}.mac_prefix"), &p)?;
                    if bytes.len() > 6 {
                        return Err(bad(
                            &format!("{prefix}.mac_prefix"),
                            p,
                            "a MAC prefix has 1 to 6 bytes",
                        ));
                    }
                    VendorMatch::MacPrefix(bytes)
                }
                _ => {
                    return Err(super::entry(
                        prefix,
                        "give either `class` (DHCP option 60) or `mac_prefix`",
                    ));
                }
            };
            vendors.push(Vendor {
                matches,
                options: parse_options(&prefix, v.options)?,
            });
        }
        let mut relays = Vec::new();
        for (i, r) in u.relay.into_iter().enumerate() {
            let prefix = format!("dhcp.relay[{i}]");
            let net = network(&format!("{prefix}.network"), &r.network)?;
            let ranges = parse_ranges(&format!("{prefix}.range"), Some(r.range))?;
            if let Some(x) = ranges
                .iter()
                .find(|x| !contains(net, x.0) || !contains(net, x.1))
            {
                return Err(bad(
                    &format!("{prefix}.range"),
                    format!("{}-{}", x.0, x.1),
                    "is not inside its network",
                ));
            }
            relays.push(Relay {
                network: net,
                ranges,
                exclude: ranges_of(&prefix, r.exclude)?,
                options: parse_options(&prefix, r.options)?,
            });
        }
        let hold = |k: &str, v: Option<String>, d: Duration| -> Result<Duration, Error> {
            v.map_or(Ok(d), |v| duration(&format!("dhcp.{k}"), &v))
        };
        Ok(Some(Self {
            interface,
            subnet,
            ranges,
            exclude,
            options,
            new_clients_per_second: u
                .new_clients_per_second
                .unwrap_or(DEFAULT_NEW_CLIENTS_PER_SECOND),
            new_client_burst: u.new_client_burst.unwrap_or(DEFAULT_NEW_CLIENT_BURST),
            offer_hold: hold("offer_hold", u.offer_hold, DEFAULT_OFFER_HOLD)?,
            decline_hold: hold("decline_hold", u.decline_hold, DEFAULT_DECLINE_HOLD)?,
            reservations,
            vendors,
            relays,
        }))
    }

    /// The lease time of the link.
    pub fn lease(&self) -> Duration {
        self.options.lease.unwrap_or(DEFAULT_LEASE)
    }
}

fn ranges_of(prefix: &str, v: Option<OneOrMany>) -> Result<Vec<Range>, Error> {
    parse_ranges(&format!("{prefix}.exclude"), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<Dhcp>, Error> {
        let raw: Raw = toml::from_str(text).map_err(|e| bad("dhcp", "", &e.to_string()))?;
        Dhcp::build(Some(raw))
    }

    #[test]
    fn contracts_example() {
        let d = parse(
            r#"
interface = "lan0"
range = "10.99.0.100-10.99.0.250"
router = "10.99.0.1"
lease = "1h"
"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(d.interface, "lan0");
        assert_eq!(
            d.ranges,
            vec![(Ipv4Addr::new(10, 99, 0, 100), Ipv4Addr::new(10, 99, 0, 250))]
        );
        assert_eq!(d.options.routers, vec![Ipv4Addr::new(10, 99, 0, 1)]);
        assert_eq!(d.lease(), Duration::from_secs(3600));
        assert_eq!(d.new_clients_per_second, DEFAULT_NEW_CLIENTS_PER_SECOND);
    }

    #[test]
    fn no_interface_is_off() {
        assert_eq!(parse(r#"range = "10.0.0.1-10.0.0.9""#).unwrap(), None);
        assert_eq!(Dhcp::build(None).unwrap(), None);
    }

    #[test]
    fn everything() {
        let d = parse(
            r#"
interface = "lan0"
subnet = "10.99.0.7/24"
range = ["10.99.0.100-10.99.0.150", "10.99.0.200-10.99.0.250"]
exclude = ["10.99.0.120", "10.99.0.130-10.99.0.131"]
dns = ["10.99.0.1", "10.99.0.2"]
ntp = "10.99.0.1"
domain = "lan"
tftp_server = "10.99.0.1"
provisioning_url = "http://10.99.0.1:8088/"
vendor_specific = "01:04:0a:63:00:01"
[[reservation]]
mac = "00-04-F2-AB-CD-EF"
ip = "10.99.0.50"
[[vendor]]
class = "Polycom"
boot_file = "000000000000.cfg"
[[vendor]]
mac_prefix = "00:04:13"
tftp_server = "snom.lan"
[[relay]]
network = "10.20.0.0/24"
range = "10.20.0.10-10.20.0.99"
router = "10.20.0.1"
"#,
        )
        .unwrap()
        .unwrap();
        assert_eq!(d.subnet, Some((Ipv4Addr::new(10, 99, 0, 0), 24)));
        assert_eq!(d.exclude.len(), 2);
        assert_eq!(d.options.dns.len(), 2);
        assert_eq!(d.options.vendor_specific, Some(vec![1, 4, 10, 99, 0, 1]));
        assert_eq!(d.reservations[0].mac.to_string(), "00:04:f2:ab:cd:ef");
        assert_eq!(d.vendors[0].matches, VendorMatch::Class("Polycom".into()));
        assert_eq!(
            d.vendors[1].matches,
            VendorMatch::MacPrefix(vec![0, 4, 0x13])
        );
        assert_eq!(d.relays[0].network, (Ipv4Addr::new(10, 20, 0, 0), 24));
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("interface = \"lan0\"", "dhcp.range"),
            (
                "interface = \"lan0\"\nrange = \"10.0.0.9-10.0.0.1\"",
                "dhcp.range",
            ),
            ("interface = \"lan0\"\nrange = \"10.0.0.1-x\"", "dhcp.range"),
            (
                "interface = \"lan0\"\nsubnet = \"10.1.0.0/24\"\nrange = \"10.0.0.1-10.0.0.9\"",
                "dhcp.range",
            ),
            (
                "interface = \"lan0\"\nrange = \"10.0.0.1\"\nlease = \"0s\"",
                "dhcp.lease",
            ),
            (
                "interface = \"lan0\"\nrange = \"10.0.0.1\"\nvendor_specific = \"zz\"",
                "dhcp.vendor_specific",
            ),
            (
                "interface = \"lan0\"\nrange = \"10.0.0.1\"\n[[reservation]]\nmac = \"nope\"\nip = \"10.0.0.2\"",
                "dhcp.reservation[0].mac",
            ),
            (
                "interface = \"lan0\"\nrange = \"10.0.0.1\"\n[[vendor]]\nboot_file = \"x\"",
                "dhcp.vendor[0]",
            ),
            (
                "interface = \"lan 0\"\nrange = \"10.0.0.1\"",
                "dhcp.interface",
            ),
        ] {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text:?}: {e}");
        }
    }
}
