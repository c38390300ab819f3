//! `[[gateway]]`: the media gateways, each speaking one protocol.

use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;

use super::{Error, entry};

/// The keys of a `[[gateway]]` entry.
pub(super) const KEYS: &[&str] = &[
    "name",
    "protocol",
    "address",
    "domain",
    "mid",
    "transport",
    "rtp_port",
    "byte_order",
];

/// The protocol a gateway speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Protocol {
    /// MGCP (RFC 3435).
    Mgcp,
    /// MEGACO / H.248.1.
    Megaco,
    /// AudioCodes TPNCP.
    Tpncp,
}

impl Protocol {
    /// Every protocol, in the order `/api/v1/health` and the docs list them.
    pub const ALL: [Self; 3] = [Self::Mgcp, Self::Megaco, Self::Tpncp];

    /// The name used in the config and in `/api/v1/health`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mgcp => "mgcp",
            Self::Megaco => "megaco",
            Self::Tpncp => "tpncp",
        }
    }

    /// The port a gateway of this protocol listens on when its address names none.
    pub fn default_port(self) -> u16 {
        match self {
            Self::Mgcp => 2427,
            Self::Megaco => gateway_control::megaco::controller::DEFAULT_PORT,
            Self::Tpncp => gateway_control::tpncp::controller::DEFAULT_PORT,
        }
    }
}

/// One `[[gateway]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// `name`: which stations refer to.
    pub name: String,
    /// `protocol`.
    pub protocol: Protocol,
    /// `address`: where it listens (MGCP: its port, 2427 by default; TPNCP: 2424), by IP
    /// address or DNS name.
    pub address: Option<GatewayAddress>,
    /// `domain`: the MGCP domain of its endpoint names (`local@domain`); by default `[ip]` of
    /// its address, or its DNS name.
    pub domain: Option<String>,
    /// `mid`: the MEGACO mId it registers with.
    pub mid: Option<String>,
    /// `transport`, `rtp_port`, `byte_order`: how a TPNCP board is reached (the defaults for
    /// the other protocols, which refuse these keys).
    pub board: Board,
}

/// How the appliance talks to a TPNCP board (`[[gateway]]` keys of `protocol = "tpncp"`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Board {
    /// `transport`: `"tcp"` (the default: one connection to the board's port) or `"udp"`.
    pub udp: bool,
    /// `rtp_port`: the board's first RTP port (AudioCodes' `BaseUDPPort`, 6000 by default);
    /// channel N sends and receives RTP on `rtp_port + 10 × N`.
    pub rtp_port: u16,
    /// `byte_order`: `"big"` (the default, network order) or `"little"`.
    pub little_endian: bool,
}

impl Default for Board {
    fn default() -> Self {
        Self {
            udp: false,
            rtp_port: 6000,
            little_endian: false,
        }
    }
}

/// Where a gateway listens: an IP address, or a DNS name that the appliance resolves when it
/// starts and again whenever the gateway restarts, goes unreachable or is heard from
/// elsewhere.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayAddress {
    /// An IP address and port.
    Ip(SocketAddr),
    /// A DNS name and port.
    Name {
        /// The name, as written.
        host: String,
        /// The port.
        port: u16,
    },
}

impl GatewayAddress {
    /// The port.
    pub fn port(&self) -> u16 {
        match self {
            Self::Ip(a) => a.port(),
            Self::Name { port, .. } => *port,
        }
    }
}

impl std::fmt::Display for GatewayAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ip(a) => write!(f, "{a}"),
            Self::Name { host, port } => write!(f, "{host}:{port}"),
        }
    }
}

#[derive(Debug, Deserialize)]
pub(super) struct Raw {
    name: String,
    protocol: String,
    address: Option<String>,
    domain: Option<String>,
    mid: Option<String>,
    transport: Option<String>,
    rtp_port: Option<u32>,
    byte_order: Option<String>,
}

/// Reads the TPNCP keys of gateway `i`, refusing them on other protocols.
fn board(i: usize, g: &Raw, protocol: Protocol) -> Result<Board, Error> {
    let mut b = Board::default();
    for (key, set) in [
        ("transport", g.transport.is_some()),
        ("rtp_port", g.rtp_port.is_some()),
        ("byte_order", g.byte_order.is_some()),
    ] {
        if set && protocol != Protocol::Tpncp {
            return Err(entry(
                format!("gateway[{i}].{key}"),
                "is only for a TPNCP gateway (protocol = \"tpncp\")",
            ));
        }
    }
    if let Some(t) = &g.transport {
        b.udp = match t.as_str() {
            "tcp" => false,
            "udp" => true,
            _ => {
                return Err(entry(
                    format!("gateway[{i}].transport"),
                    &format!("expected \"tcp\" or \"udp\" (got {t:?})"),
                ));
            }
        };
    }
    if let Some(o) = &g.byte_order {
        b.little_endian = match o.as_str() {
            "big" => false,
            "little" => true,
            _ => {
                return Err(entry(
                    format!("gateway[{i}].byte_order"),
                    &format!("expected \"big\" or \"little\" (got {o:?})"),
                ));
            }
        };
    }
    if let Some(p) = g.rtp_port {
        // Channels use rtp_port + 10 × N and the port above for RTCP: leave room for some.
        b.rtp_port = u16::try_from(p)
            .ok()
            .filter(|p| (1024..=65000).contains(p) && p % 2 == 0)
            .ok_or_else(|| {
                entry(
                    format!("gateway[{i}].rtp_port"),
                    &format!("expected an even port from 1024 to 65000 (got {p})"),
                )
            })?;
    }
    Ok(b)
}

/// Checks and converts the `[[gateway]]` entries.
pub(super) fn build(raw: Vec<Raw>) -> Result<Vec<Gateway>, Error> {
    let mut out: Vec<Gateway> = Vec::with_capacity(raw.len());
    for (i, g) in raw.into_iter().enumerate() {
        let protocol = Protocol::ALL
            .into_iter()
            .find(|p| p.as_str() == g.protocol)
            .ok_or_else(|| {
                entry(
                    format!("gateway[{i}].protocol"),
                    &format!(
                        "expected \"mgcp\", \"megaco\" or \"tpncp\" (got {:?})",
                        g.protocol
                    ),
                )
            })?;
        let board = board(i, &g, protocol)?;
        let address = match g.address {
            Some(a) => Some(parse_address(&a, protocol).ok_or_else(|| {
                entry(
                    format!("gateway[{i}].address"),
                    &format!(
                        "expected an address such as \"192.0.2.10:2427\" or \"vg224.example.net\" (got {a:?})"
                    ),
                )
            })?),
            None if protocol == Protocol::Megaco && g.mid.is_some() => None,
            None if protocol == Protocol::Megaco => {
                return Err(entry(
                    format!("gateway[{i}].mid"),
                    "is required for a MEGACO gateway without an address",
                ));
            }
            None => return Err(entry(format!("gateway[{i}].address"), "is required")),
        };
        if let Some(mid) = &g.mid
            && !gateway_control::megaco::controller::valid_mid(mid)
        {
            return Err(entry(
                format!("gateway[{i}].mid"),
                &format!(
                    "expected an mId such as \"mg1\", \"[192.0.2.7]:2944\" or \"<mg1.example.net>:2944\" (got {mid:?})"
                ),
            ));
        }
        if g.name.is_empty() || g.name.contains('/') {
            return Err(entry(
                format!("gateway[{i}].name"),
                "must be non-empty, without '/'",
            ));
        }
        if out.iter().any(|x| x.name == g.name) {
            return Err(entry(format!("gateway[{i}].name"), "is used twice"));
        }
        out.push(Gateway {
            name: g.name,
            protocol,
            address,
            domain: g.domain,
            mid: g.mid,
            board,
        });
    }
    Ok(out)
}

/// An address with a port, or a bare IP that gets the protocol's default port; or a DNS name
/// (RFC 1123 host name), with a port or the protocol's.
fn parse_address(v: &str, protocol: Protocol) -> Option<GatewayAddress> {
    if let Ok(a) = v.parse() {
        return Some(GatewayAddress::Ip(a));
    }
    if let Ok(ip) = v.parse::<IpAddr>() {
        return Some(GatewayAddress::Ip(SocketAddr::new(
            ip,
            protocol.default_port(),
        )));
    }
    let (host, port) = match v.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().ok().filter(|p| *p != 0)?),
        None => (v, protocol.default_port()),
    };
    is_host_name(host).then(|| GatewayAddress::Name {
        host: host.to_owned(),
        port,
    })
}

/// An RFC 1123 host name: dot-separated labels of 1–63 letters, digits and hyphens, not
/// starting or ending with a hyphen, at most 253 characters, and not all digits and dots (a
/// mistyped IPv4 address such as `192.0.2` is not a name).
fn is_host_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let label_ok = |l: &str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    (1..=253).contains(&host.len())
        && host.split('.').all(label_ok)
        && !host.bytes().all(|b| b.is_ascii_digit() || b == b'.')
}
