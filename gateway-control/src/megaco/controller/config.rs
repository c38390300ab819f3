//! The controller's settings.

use std::collections::HashSet;
use std::net::IpAddr;
use std::time::Duration;

use crate::megaco::transaction;
use crate::model::GatewayId;

/// The most media gateways one controller serves.
pub const MAX_GATEWAYS: usize = 1024;
/// The most lines (analog terminations) per media gateway.
pub const MAX_LINES_PER_GATEWAY: usize = 4096;
/// The most model commands waiting per line; beyond it a command fails at once.
pub const MAX_QUEUED_PER_LINE: usize = 64;

/// One media gateway the controller serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayConfig {
    /// Its name (`[[gateway]] name`).
    pub id: GatewayId,
    /// The mId it registers with (`[[gateway]] mid`): a device name (`mg1`), a domain name
    /// (`<mg1.example.net>:2944`) or an address (`[192.0.2.7]:2944`); matched without regard to
    /// case, and without regard to the port when this has none.
    pub mid: String,
    /// Where its messages must come from, when known (`[[gateway]] address`): messages naming
    /// its mId from another IP address are refused (counted). It is also where the controller
    /// looks for it at start, with the port of `mid` or 2944, before it registers.
    pub address: Option<IpAddr>,
    /// Its lines' termination ids (`aaln/1`…), each audited and armed once it registers.
    pub lines: Vec<String>,
}

/// Settings of a [`super::MediaGatewayController`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The controller's own mId, written in every message: `[IP]:port` of its listen address.
    pub mid: String,
    /// The gateways.
    pub gateways: Vec<GatewayConfig>,
    /// Retransmission and duplicate-suppression settings.
    pub transaction: transaction::Config,
    /// How often a registered gateway is audited (`AuditValue` on ROOT) to see that it is still
    /// there. 60 s.
    pub keepalive: Duration,
    /// How often an unreachable gateway is probed the same way. 10 s.
    pub probe_interval: Duration,
    /// Seeds the transaction ids.
    pub rng_seed: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mid: "[127.0.0.1]:2944".into(),
            gateways: Vec::new(),
            transaction: transaction::Config::default(),
            keepalive: Duration::from_secs(60),
            probe_interval: Duration::from_secs(10),
            rng_seed: 0,
        }
    }
}

/// Why a [`Config`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The controller's own mId is not an mId.
    #[error("controller mId {0:?} is not an mId (`[IP]:port`, `<domain>:port` or a device name)")]
    OwnMid(String),
    /// A gateway's mId is not an mId.
    #[error("gateway {gateway}: mId {mid:?} is not an mId")]
    Mid {
        /// The gateway.
        gateway: GatewayId,
        /// The mId.
        mid: String,
    },
    /// Two gateways have one mId or one name.
    #[error("gateway {0} is configured twice (by name or by mId)")]
    Duplicate(GatewayId),
    /// A line name cannot be a termination id of one line.
    #[error("gateway {gateway}: {line:?} is not the termination id of one line")]
    Line {
        /// The gateway.
        gateway: GatewayId,
        /// The name.
        line: String,
    },
    /// Too many gateways or lines.
    #[error("too many {0}")]
    TooMany(&'static str),
    /// A duration is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
}

/// Whether `name` can be the termination id of one analog line: 1–64 characters of the
/// `pathNAME` alphabet (letters, digits, `_`, `/`, `.`, `-`), beginning with a letter or digit,
/// neither a wildcard (`*`, `$`) nor `ROOT`.
pub fn valid_line_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'/' | b'.' | b'-'))
        && !name.eq_ignore_ascii_case("root")
}

/// Whether `text` is an mId: `[IP]:port` or `[IP]`, `<domain>:port` or `<domain>`, or a device
/// name (a letter, then letters, digits, `_`, `/`, `.`, `-`).
pub fn valid_mid(text: &str) -> bool {
    MidKey::parse(text).is_some()
}

/// An mId as the controller compares them: its lowercase text without the port, and the port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct MidKey {
    pub(crate) base: String,
    pub(crate) port: Option<u16>,
}

impl MidKey {
    /// Reads a configured mId; `None` if it is not one.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        let text = text.trim();
        let (base, port) = match (text.starts_with('[') || text.starts_with('<'))
            .then(|| text.rsplit_once(':'))
            .flatten()
        {
            Some((base, port)) if base.ends_with(']') || base.ends_with('>') => {
                (base, Some(port.parse().ok()?))
            }
            _ => (text, None),
        };
        let ok = if let Some(ip) = base.strip_prefix('[') {
            ip.strip_suffix(']')?.parse::<IpAddr>().is_ok()
        } else if let Some(name) = base.strip_prefix('<') {
            let name = name.strip_suffix('>')?;
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-'))
        } else {
            !base.is_empty()
                && base.len() <= 64
                && base.starts_with(|c: char| c.is_ascii_alphabetic())
                && base
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'/' | b'.' | b'-'))
        };
        if !ok {
            return None;
        }
        let base = match base.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            // Canonical address text, so `[::0001]` and `[::1]` agree.
            Some(ip) => format!("[{}]", ip.parse::<IpAddr>().ok()?),
            None => base.to_ascii_lowercase(),
        };
        Some(Self { base, port })
    }

    /// Whether a message's mId `other` names the gateway configured as `self`.
    pub(crate) fn matches(&self, other: &Self) -> bool {
        self.base == other.base && (self.port.is_none() || self.port == other.port)
    }
}

impl Config {
    /// Checks everything a controller needs; the keys of each gateway's mId.
    pub(crate) fn validate(&self) -> Result<Vec<MidKey>, ConfigError> {
        if MidKey::parse(&self.mid).is_none() {
            return Err(ConfigError::OwnMid(self.mid.clone()));
        }
        if self.keepalive.is_zero() {
            return Err(ConfigError::Zero("keepalive"));
        }
        if self.probe_interval.is_zero() {
            return Err(ConfigError::Zero("probe_interval"));
        }
        if self.gateways.len() > MAX_GATEWAYS {
            return Err(ConfigError::TooMany("gateways"));
        }
        let mut names = HashSet::new();
        let mut keys: Vec<MidKey> = Vec::with_capacity(self.gateways.len());
        for g in &self.gateways {
            let key = MidKey::parse(&g.mid).ok_or_else(|| ConfigError::Mid {
                gateway: g.id.clone(),
                mid: g.mid.clone(),
            })?;
            if !names.insert(g.id.clone())
                || keys.iter().any(|k| {
                    k.base == key.base
                        && (k.port == key.port || k.port.is_none() || key.port.is_none())
                })
            {
                return Err(ConfigError::Duplicate(g.id.clone()));
            }
            if g.lines.len() > MAX_LINES_PER_GATEWAY {
                return Err(ConfigError::TooMany("lines"));
            }
            if let Some(bad) = g.lines.iter().find(|l| !valid_line_name(l)) {
                return Err(ConfigError::Line {
                    gateway: g.id.clone(),
                    line: bad.clone(),
                });
            }
            keys.push(key);
        }
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mids_compare_by_lowercase_name_and_port() {
        let k = |s| MidKey::parse(s).unwrap();
        assert!(k("MG1").matches(&k("mg1")));
        assert!(k("[127.0.0.1]").matches(&k("[127.0.0.1]:2944")));
        assert!(!k("[127.0.0.1]:2945").matches(&k("[127.0.0.1]:2944")));
        assert!(k("[::1]:5").matches(&k("[0::0001]:5")));
        assert!(k("<Mg.Example.net>:2944").matches(&k("<mg.example.net>:2944")));
        assert!(!k("<mg.example.net>").matches(&k("mg.example.net")));
        for bad in [
            "",
            "[1.2.3]",
            "[1.2.3.4]:x",
            "<>",
            "1mg",
            "mg 1",
            "[1.2.3.4]:99999",
        ] {
            assert_eq!(MidKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn line_names_are_single_terminations() {
        for ok in ["aaln/1", "A0", "tdm/3/7", "line_1"] {
            assert!(valid_line_name(ok), "{ok}");
        }
        for bad in [
            "",
            "root",
            "ROOT",
            "aaln/*",
            "$",
            "/x",
            "a b",
            &"x".repeat(65),
        ] {
            assert!(!valid_line_name(bad), "{bad}");
        }
    }

    #[test]
    fn validation_names_the_fault() {
        let gw = |name: &str, mid: &str| GatewayConfig {
            id: GatewayId::new(name),
            mid: mid.into(),
            address: None,
            lines: vec!["aaln/1".into()],
        };
        let mut c = Config {
            gateways: vec![gw("a", "mg1"), gw("b", "MG1")],
            ..Config::default()
        };
        assert_eq!(
            c.validate(),
            Err(ConfigError::Duplicate(GatewayId::new("b")))
        );
        c.gateways = vec![gw("a", "[192.0.2.1]"), gw("b", "[192.0.2.1]:2944")];
        assert_eq!(
            c.validate(),
            Err(ConfigError::Duplicate(GatewayId::new("b")))
        );
        c.gateways = vec![gw("a", "[192.0.2.1]:2945"), gw("b", "[192.0.2.1]:2944")];
        assert!(c.validate().is_ok());
        c.gateways[1].lines.push("*".into());
        assert!(matches!(c.validate(), Err(ConfigError::Line { .. })));
        c.gateways.truncate(1);
        c.mid = "no good".into();
        assert!(matches!(c.validate(), Err(ConfigError::OwnMid(_))));
    }
}
