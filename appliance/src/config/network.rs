//! `[network]`: the appliance's LAN interface, and the address and default gateway it gives it.
//!
//! Without `interface`, the appliance leaves its network to the system. With it, `address`
//! (`"192.0.2.10/24"`) and `gateway` are given to that interface at start and whenever they are
//! changed from the front panel or the web console (the settings `lan.address` and
//! `lan.gateway`, kept in the database, win over the file's from then on). The DHCP server's
//! on/off and pool are the settings `dhcp.server` and `dhcp.pool`, whose file values come from
//! `[dhcp]` (on when it names an interface, the pool its first `range`); without `[dhcp]`, a
//! DHCP server turned on from a console serves `interface`.

use offhook_domain::network::{self as lan, Network as Lan};
use serde::Deserialize;

use super::{Dhcp, Error};

/// The keys of `[network]`.
pub(super) const KEYS: &[&str] = &["interface", "address", "gateway"];

/// `[network]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Network {
    /// `interface`: the LAN interface the appliance manages; `None`: it manages none.
    pub interface: Option<String>,
    /// The LAN settings' values in the file (`address`, `gateway`, and `[dhcp]`'s on/off and
    /// first range).
    pub lan: Lan,
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct Raw {
    interface: Option<String>,
    address: Option<String>,
    gateway: Option<String>,
}

impl Network {
    pub(super) fn build(raw: Raw, dhcp: Option<&Dhcp>) -> Result<Self, Error> {
        if let Some(i) = &raw.interface
            && (i.is_empty() || i.len() > 15 || i.contains(['/', ' ', '\0']))
        {
            return Err(Error::Value {
                key: "network.interface".into(),
                value: format!("{i:?}"),
                message: "expected an interface name such as \"lan0\"".into(),
            });
        }
        let mut l = Lan::default();
        let mut set = |key: &str, file_key: &str, v: &str| {
            l.set(key, v).map_err(|message| Error::Value {
                key: file_key.into(),
                value: format!("{v:?}"),
                message,
            })
        };
        if let Some(a) = &raw.address {
            set(lan::ADDRESS, "network.address", a)?;
        }
        if let Some(g) = &raw.gateway {
            set(lan::GATEWAY, "network.gateway", g)?;
        }
        if let Some(d) = dhcp {
            set(lan::DHCP, "dhcp.interface", "on")?;
            if let Some((a, b)) = d.ranges.first() {
                set(lan::POOL, "dhcp.range", &format!("{a}-{b}"))?;
            }
        }
        if (l.address.is_some() || l.gateway.is_some()) && raw.interface.is_none() {
            return Err(Error::Value {
                key: "network.interface".into(),
                value: "none".into(),
                message: "network.address and network.gateway need the interface they are for"
                    .into(),
            });
        }
        // A file's values are checked with nothing changed: a conflict is blamed on what
        // depends on the address (the gateway, the pool), never on the address itself.
        l.check(&[]).map_err(|(key, why)| Error::Value {
            key: match key {
                lan::GATEWAY => "network.gateway",
                lan::POOL => "dhcp.range",
                _ => "dhcp.interface",
            }
            .into(),
            value: l.text(key),
            message: why,
        })?;
        Ok(Self {
            interface: raw.interface,
            lan: l,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    fn load(text: &str) -> Result<Config, String> {
        Config::parse("test.toml", text).map_err(|e| e.to_string())
    }

    #[test]
    fn the_file_gives_the_lans_settings() {
        let c = load(
            "[network]\ninterface = \"lan0\"\naddress = \"192.0.2.10/24\"\ngateway = \"192.0.2.1\"\n\
             [dhcp]\ninterface = \"lan0\"\nrange = \"192.0.2.100-192.0.2.199\"\n",
        )
        .unwrap();
        assert_eq!(c.network.interface.as_deref(), Some("lan0"));
        assert_eq!(c.network.lan.text("lan.address"), "192.0.2.10/24");
        assert_eq!(c.network.lan.text("lan.gateway"), "192.0.2.1");
        assert_eq!(c.network.lan.text("dhcp.server"), "on");
        assert_eq!(c.network.lan.text("dhcp.pool"), "192.0.2.100-192.0.2.199");
        let c = load("").unwrap();
        assert_eq!(c.network, super::Network::default());
        let c = load("[network]\ninterface = \"lan0123456789ab\"\n").unwrap();
        assert_eq!(
            c.network.interface.as_deref(),
            Some("lan0123456789ab"),
            "15 characters, the kernel's longest"
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        for (text, key) in [
            ("[network]\ninterface = \"lan 0\"\n", "network.interface"),
            (
                "[network]\ninterface = \"lan0\"\naddress = \"192.0.2.10\"\n",
                "network.address",
            ),
            (
                "[network]\ninterface = \"lan0\"\ngateway = \"x\"\n",
                "network.gateway",
            ),
            (
                "[network]\naddress = \"192.0.2.10/24\"\n",
                "network.interface",
            ),
            (
                "[network]\ninterface = \"lan0\"\naddress = \"192.0.2.10/24\"\ngateway = \"198.51.100.1\"\n",
                "network.gateway",
            ),
            (
                "[network]\ninterface = \"lan0\"\naddress = \"192.0.2.10/24\"\n\
                 [dhcp]\ninterface = \"lan0\"\nrange = \"198.51.100.1-198.51.100.9\"\n",
                "dhcp.range",
            ),
            ("[network]\nmtu = 1500\n", "\"mtu\" in [network]"),
            ("[network]\ninterface = \"\"\n", "network.interface"),
            (
                "[network]\ninterface = \"lan0123456789abc\"\n",
                "network.interface",
            ),
            ("[network]\ninterface = \"lan0/1\"\n", "network.interface"),
            (
                "[network]\ninterface = \"lan0\"\naddress = \"192.0.2.10/24\"\n\
                 [dhcp]\ninterface = \"lan0\"\nrange = \"192.0.2.5-192.0.2.20\"\n",
                "dhcp.range",
            ),
        ] {
            let e = load(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
