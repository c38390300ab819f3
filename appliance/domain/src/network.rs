//! The LAN settings an installer sets from the front panel or the web console: the appliance's
//! LAN address and prefix (`lan.address`), its default gateway (`lan.gateway`), and the DHCP
//! server for the phones (`dhcp.server` on or off, its pool `dhcp.pool`).
//!
//! They are settings like the others ([`crate::settings`]): the config file gives each its
//! value at start, a value set from a console is kept in the database and wins from then on, and
//! a change is all or nothing. What is special is that they hang together: the gateway and the
//! pool must be in the address's subnet, the pool must hold neither the address nor the
//! gateway, and the DHCP server needs a pool. A change is checked as the whole it makes with the
//! values it leaves alone ([`Network::check`]), and refused with a reason short enough for a
//! 20-column display.
//!
//! The core keeps them and tells whoever watches ([`crate::VoiceMessaging::watch_network`]);
//! applying them to the machine (the interface's address, the DHCP server's socket) is the
//! appliance's business, which reports the outcome back for the health check
//! ([`crate::VoiceMessaging::network_applied`]).

use std::fmt;
use std::net::Ipv4Addr;

use serde::Serialize;

/// `lan.address`.
pub const ADDRESS: &str = "lan.address";
/// `lan.gateway`.
pub const GATEWAY: &str = "lan.gateway";
/// `dhcp.server`.
pub const DHCP: &str = "dhcp.server";
/// `dhcp.pool`.
pub const POOL: &str = "dhcp.pool";

/// The shortest prefix a LAN may have (a /8 is already 16 million addresses).
const MIN_PREFIX: u8 = 8;
/// The longest: a /30 is the smallest subnet with room for the appliance and one more.
const MAX_PREFIX: u8 = 30;
/// The most addresses a pool may hold (the DHCP server keeps its leases in memory).
pub const MAX_POOL: u32 = 65_536;

/// An IPv4 address with its prefix length: `192.0.2.10/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Cidr {
    /// The address.
    pub address: Ipv4Addr,
    /// The prefix length.
    pub prefix: u8,
}

impl Cidr {
    fn mask(self) -> u32 {
        u32::MAX
            .checked_shl(32 - u32::from(self.prefix))
            .unwrap_or(0)
    }

    /// The subnet's network address.
    pub fn network(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) & self.mask())
    }

    /// The subnet's broadcast address.
    pub fn broadcast(self) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.address) | !self.mask())
    }

    /// The netmask in dotted form (`255.255.255.0`).
    pub fn netmask(self) -> Ipv4Addr {
        Ipv4Addr::from(self.mask())
    }

    /// Whether `a` is a host address of this subnet (neither its network nor broadcast
    /// address).
    pub fn holds(self, a: Ipv4Addr) -> bool {
        u32::from(a) & self.mask() == u32::from(self.network())
            && a != self.network()
            && a != self.broadcast()
    }

    /// The prefix length of a dotted netmask (`255.255.255.0` is 24); `None` for a mask whose
    /// ones are not contiguous.
    pub fn prefix_of(mask: Ipv4Addr) -> Option<u8> {
        let m = u32::from(mask);
        let ones = m.leading_ones();
        (m.checked_shl(ones).unwrap_or(0) == 0).then_some(ones as u8)
    }

    /// Parses `a.b.c.d/n`.
    pub fn parse(v: &str) -> Result<Self, String> {
        let (a, p) = v
            .trim()
            .split_once('/')
            .ok_or("give address/prefix, such as 192.0.2.10/24")?;
        let address: Ipv4Addr = a.parse().map_err(|_| format!("{a:?} is not an address"))?;
        let prefix: u8 = p.parse().map_err(|_| format!("{p:?} is not a prefix"))?;
        Ok(Self { address, prefix })
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.address, self.prefix)
    }
}

/// The LAN settings in force.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Network {
    /// `lan.address`; `None`: the appliance leaves the interface's address alone.
    pub address: Option<Cidr>,
    /// `lan.gateway`; `None`: no default route set by the appliance.
    pub gateway: Option<Ipv4Addr>,
    /// `dhcp.server`.
    pub dhcp: bool,
    /// `dhcp.pool`: the first and last address handed out.
    pub pool: Option<(Ipv4Addr, Ipv4Addr)>,
}

/// An address that a host may have: not 0.0.0.0, loopback, link-local, multicast or broadcast.
fn unicast(a: Ipv4Addr) -> Result<Ipv4Addr, String> {
    if a.is_unspecified()
        || a.is_loopback()
        || a.is_link_local()
        || a.is_multicast()
        || a.is_broadcast()
        || a.octets()[0] >= 240
    {
        return Err(format!("{a} is not a host address"));
    }
    Ok(a)
}

fn address(v: &str) -> Result<Ipv4Addr, String> {
    v.trim()
        .parse()
        .map_err(|_| format!("{:?} is not an address", v.trim()))
}

impl Network {
    /// Parses `key`'s value as a console writes it, into `self`. An empty value clears an
    /// address, gateway or pool.
    pub fn set(&mut self, key: &str, v: &str) -> Result<(), String> {
        let v = v.trim();
        match key {
            ADDRESS if v.is_empty() => self.address = None,
            ADDRESS => {
                let c = Cidr::parse(v)?;
                unicast(c.address)?;
                if !(MIN_PREFIX..=MAX_PREFIX).contains(&c.prefix) {
                    return Err(format!("prefix must be {MIN_PREFIX} to {MAX_PREFIX}"));
                }
                if !c.holds(c.address) {
                    return Err(format!("{} is not a host of /{}", c.address, c.prefix));
                }
                self.address = Some(c);
            }
            GATEWAY if v.is_empty() => self.gateway = None,
            GATEWAY => self.gateway = Some(unicast(address(v)?)?),
            DHCP => {
                self.dhcp = match v {
                    "on" => true,
                    "off" => false,
                    _ => return Err("give on or off".into()),
                }
            }
            POOL if v.is_empty() => self.pool = None,
            POOL => {
                let (a, b) = v.split_once('-').ok_or("give first-last")?;
                let (a, b) = (unicast(address(a)?)?, unicast(address(b)?)?);
                if a > b {
                    return Err(format!("{a} is after {b}"));
                }
                if u32::from(b) - u32::from(a) >= MAX_POOL {
                    return Err(format!("more than {MAX_POOL} addresses"));
                }
                self.pool = Some((a, b));
            }
            _ => return Err("not a LAN setting".into()),
        }
        Ok(())
    }

    /// `key`'s value as the config file and the console write it.
    pub fn text(&self, key: &str) -> String {
        match key {
            ADDRESS => self.address.map(|c| c.to_string()).unwrap_or_default(),
            GATEWAY => self.gateway.map(|g| g.to_string()).unwrap_or_default(),
            DHCP => if self.dhcp { "on" } else { "off" }.into(),
            POOL => self
                .pool
                .map(|(a, b)| format!("{a}-{b}"))
                .unwrap_or_default(),
            _ => String::new(),
        }
    }

    /// Whether the settings hang together; if not, the key to blame and why, in few words.
    /// `changed` says which keys a change set: a conflict is blamed on one of them, so that the
    /// console points at what its user just typed.
    pub fn check(&self, changed: &[&'static str]) -> Result<(), (&'static str, String)> {
        let blame = |pair: [&'static str; 2]| {
            pair.into_iter()
                .find(|k| changed.contains(k))
                .unwrap_or(pair[0])
        };
        if let Some(lan) = self.address {
            let subnet = format!("{}/{}", lan.network(), lan.prefix);
            if let Some(g) = self.gateway {
                if !lan.holds(g) {
                    return Err((blame([GATEWAY, ADDRESS]), format!("not in {subnet}")));
                }
                if g == lan.address {
                    return Err((blame([GATEWAY, ADDRESS]), "is the LAN address".into()));
                }
            }
            if let Some((a, b)) = self.pool {
                if !lan.holds(a) || !lan.holds(b) {
                    return Err((blame([POOL, ADDRESS]), format!("not in {subnet}")));
                }
                if (a..=b).contains(&lan.address) {
                    return Err((blame([POOL, ADDRESS]), "holds the LAN address".into()));
                }
            }
        } else if self.gateway.is_some() && changed.contains(&GATEWAY) {
            return Err((GATEWAY, "set lan.address first".into()));
        }
        if let (Some(g), Some((a, b))) = (self.gateway, self.pool)
            && (a..=b).contains(&g)
        {
            return Err((blame([POOL, GATEWAY]), "holds the gateway".into()));
        }
        if self.dhcp && self.pool.is_none() {
            return Err((blame([DHCP, POOL]), "needs a pool".into()));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lan() -> Network {
        let mut n = Network::default();
        n.set(ADDRESS, "192.0.2.10/24").unwrap();
        n.set(GATEWAY, "192.0.2.1").unwrap();
        n.set(POOL, "192.0.2.100-192.0.2.199").unwrap();
        n.set(DHCP, "on").unwrap();
        n
    }

    #[test]
    fn values_read_back_as_written() {
        let n = lan();
        assert_eq!(n.check(&[]), Ok(()));
        for (k, v) in [
            (ADDRESS, "192.0.2.10/24"),
            (GATEWAY, "192.0.2.1"),
            (DHCP, "on"),
            (POOL, "192.0.2.100-192.0.2.199"),
        ] {
            assert_eq!(n.text(k), v);
        }
        let c = n.address.unwrap();
        assert_eq!(c.network(), Ipv4Addr::new(192, 0, 2, 0));
        assert_eq!(c.broadcast(), Ipv4Addr::new(192, 0, 2, 255));
        assert_eq!(c.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(Network::default().text(ADDRESS), "");
        assert_eq!(Network::default().text(DHCP), "off");
    }

    #[test]
    fn single_values_out_of_range_are_refused() {
        let mut n = Network::default();
        for (k, v, why) in [
            (ADDRESS, "192.0.2.10", "address/prefix"),
            (ADDRESS, "192.0.2.300/24", "not an address"),
            (ADDRESS, "192.0.2.10/x", "not a prefix"),
            (ADDRESS, "192.0.2.10/31", "prefix must be 8 to 30"),
            (ADDRESS, "192.0.2.10/7", "prefix must be 8 to 30"),
            (ADDRESS, "192.0.2.0/24", "not a host of /24"),
            (ADDRESS, "192.0.2.255/24", "not a host of /24"),
            (ADDRESS, "127.0.0.2/8", "not a host address"),
            (ADDRESS, "0.0.0.0/8", "not a host address"),
            (ADDRESS, "224.0.0.1/24", "not a host address"),
            (ADDRESS, "169.254.1.1/16", "not a host address"),
            (ADDRESS, "240.0.0.1/8", "not a host address"),
            (GATEWAY, "255.255.255.255", "not a host address"),
            (DHCP, "yes", "on or off"),
            (POOL, "192.0.2.100", "first-last"),
            (POOL, "192.0.2.9-192.0.2.8", "is after"),
            (POOL, "198.18.0.0-198.19.0.0", "more than 65536"),
            ("lan.mtu", "1500", "not a LAN setting"),
        ] {
            let e = n.set(k, v).unwrap_err();
            assert!(e.contains(why), "{k}={v}: {e}");
        }
        assert_eq!(n, Network::default(), "nothing set by a refusal");
        n.set(POOL, "198.18.0.0-198.18.255.255").unwrap();
        n.set(ADDRESS, "192.0.2.254/24").unwrap();
        n.set(ADDRESS, "192.0.2.1/30").unwrap();
        n.set(ADDRESS, "").unwrap();
        assert_eq!(n.address, None);
        n.set(GATEWAY, "192.0.2.1").unwrap();
        n.set(GATEWAY, " ").unwrap();
        assert_eq!(n.gateway, None, "an empty gateway is none");
        n.set(POOL, "192.0.2.9-192.0.2.9").unwrap();
        assert_eq!(n.text(POOL), "192.0.2.9-192.0.2.9", "a pool of one address");
    }

    #[test]
    fn conflicts_are_blamed_on_what_changed() {
        let mut n = lan();
        n.set(ADDRESS, "198.51.100.10/24").unwrap();
        assert_eq!(
            n.check(&[ADDRESS]),
            Err((ADDRESS, "not in 198.51.100.0/24".into()))
        );
        assert_eq!(
            n.check(&[POOL]),
            Err((GATEWAY, "not in 198.51.100.0/24".into())),
            "neither changed: blamed on the one that depends on the other"
        );
        let mut n = lan();
        n.set(GATEWAY, "192.0.2.10").unwrap();
        assert_eq!(
            n.check(&[GATEWAY]),
            Err((GATEWAY, "is the LAN address".into()))
        );
        let mut n = lan();
        n.set(POOL, "192.0.2.2-192.0.2.20").unwrap();
        assert_eq!(
            n.check(&[POOL]),
            Err((POOL, "holds the LAN address".into()))
        );
        n.set(ADDRESS, "192.0.2.50/24").unwrap();
        assert_eq!(n.check(&[ADDRESS]), Ok(()));
        n.set(POOL, "192.0.2.1-192.0.2.20").unwrap();
        assert_eq!(n.check(&[POOL]), Err((POOL, "holds the gateway".into())));
        let mut n = lan();
        n.set(POOL, "192.0.2.0-192.0.2.20").unwrap();
        assert_eq!(n.check(&[POOL]), Err((POOL, "not in 192.0.2.0/24".into())));
        n.set(POOL, "192.0.2.200-192.0.2.255").unwrap();
        assert_eq!(n.check(&[POOL]), Err((POOL, "not in 192.0.2.0/24".into())));
        n.set(POOL, "").unwrap();
        assert_eq!(n.check(&[POOL]), Err((POOL, "needs a pool".into())));
        assert_eq!(n.check(&[DHCP]), Err((DHCP, "needs a pool".into())));
        n.set(DHCP, "off").unwrap();
        assert_eq!(n.check(&[DHCP]), Ok(()));
        let mut n = Network::default();
        n.set(GATEWAY, "192.0.2.1").unwrap();
        assert_eq!(
            n.check(&[GATEWAY]),
            Err((GATEWAY, "set lan.address first".into()))
        );
        assert_eq!(n.check(&[]), Ok(()), "the file's own values are not blamed");
    }

    proptest::proptest! {
        /// Any text for any key: taken or refused, never a panic; a refusal changes nothing; a
        /// value taken reads back as one that gives the same settings.
        #[test]
        fn any_text_is_taken_or_refused_and_reads_back(
            key in proptest::sample::select(vec![ADDRESS, GATEWAY, DHCP, POOL, "lan.mtu"]),
            value in "\\PC{0,40}",
        ) {
            let mut n = lan();
            let before = n.clone();
            match n.set(key, &value) {
                Ok(()) => {
                    let mut again = before;
                    again.set(key, &n.text(key)).unwrap();
                    proptest::prop_assert_eq!(again, n.clone());
                }
                Err(_) => proptest::prop_assert_eq!(&n, &before),
            }
            let _ = n.check(&[key]);
        }

        /// Every address and prefix a LAN may have reads back as written.
        #[test]
        fn lan_addresses_read_back(a in 1u8..=223, b: u8, c: u8, d: u8, prefix in 8u8..=30) {
            let mut n = Network::default();
            let v = format!("{a}.{b}.{c}.{d}/{prefix}");
            if n.set(ADDRESS, &v).is_ok() {
                proptest::prop_assert_eq!(n.text(ADDRESS), v);
                let c = n.address.unwrap();
                proptest::prop_assert!(c.holds(c.address));
                proptest::prop_assert_eq!(Cidr::prefix_of(c.netmask()), Some(prefix));
            }
        }
    }

    #[test]
    fn netmasks_give_their_prefix() {
        assert_eq!(Cidr::prefix_of(Ipv4Addr::new(255, 255, 255, 0)), Some(24));
        assert_eq!(Cidr::prefix_of(Ipv4Addr::new(255, 255, 252, 0)), Some(22));
        assert_eq!(Cidr::prefix_of(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(Cidr::prefix_of(Ipv4Addr::new(255, 255, 255, 255)), Some(32));
        assert_eq!(Cidr::prefix_of(Ipv4Addr::new(255, 0, 255, 0)), None);
        assert_eq!(Cidr::prefix_of(Ipv4Addr::new(0, 255, 255, 255)), None);
    }
}
