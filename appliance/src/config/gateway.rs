//! `[[gateway]]`: the media gateways, each speaking one protocol.

use std::net::{IpAddr, SocketAddr};

use serde::Deserialize;

use super::{Error, entry};

/// The keys of a `[[gateway]]` entry.
pub(super) const KEYS: &[&str] = &["name", "protocol", "address", "domain", "mid"];

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
            Self::Megaco => 2944,
            Self::Tpncp => 2424,
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
    /// `address`: where it listens (MGCP: its port, 2427 by default; TPNCP: 2424).
    pub address: Option<SocketAddr>,
    /// `domain`: the MGCP domain of its endpoint names (`local@domain`); by default `[ip]` of
    /// its address.
    pub domain: Option<String>,
    /// `mid`: the MEGACO mId it registers with.
    pub mid: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Raw {
    name: String,
    protocol: String,
    address: Option<String>,
    domain: Option<String>,
    mid: Option<String>,
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
        let address = match g.address {
            Some(a) => Some(parse_address(&a, protocol).ok_or_else(|| {
                entry(
                    format!("gateway[{i}].address"),
                    &format!("expected an address such as \"192.0.2.10:2427\" (got {a:?})"),
                )
            })?),
            None if protocol == Protocol::Megaco => None,
            None => return Err(entry(format!("gateway[{i}].address"), "is required")),
        };
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
        });
    }
    Ok(out)
}

/// An address with a port, or a bare IP that gets the protocol's default port.
fn parse_address(v: &str, protocol: Protocol) -> Option<SocketAddr> {
    if let Ok(a) = v.parse() {
        return Some(a);
    }
    let ip: IpAddr = v.parse().ok()?;
    Some(SocketAddr::new(ip, protocol.default_port()))
}
