//! How a gateway speaks, learnt from the commands it sends (issue 15): RFC 3435's MGCP 1.0,
//! RFC 2705's MGCP 0.1 (Cisco IOS: `mgcp call-agent … service-type mgcp version 0.1`, its
//! default), or the PacketCable NCS 1.0
//! profile (ITU-T J.162) of cable modems' embedded MTAs.
//!
//! The call agent answers any of them and writes its own commands to a gateway in the version
//! the gateway last used on a command of its own (RFC 3435 §3.2.1.4 names the version on each
//! command; RFC 3435 §1 keeps 1.0 backward compatible with 0.1 for everything the agent sends:
//! `RQNT` with `N:`, `X:`, `R:`, `S:`, `AUEP` with `F:`, `CRCX`/`MDCX`/`DLCX` with `C:`, `I:`,
//! `L:`, `M:`). Until a gateway has sent a command it is spoken to in 1.0.
//!
//! NCS has one event package for an analog line, `L` (J.162 Annex A.1): digits are `L/0`…`L/#`,
//! there is no `D` or `G` package. To an NCS gateway the agent writes the `D` package as `L`;
//! observed digits are read from either package.

use crate::mgcp::wire::Version;

/// A gateway's protocol version and profile.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// `MGCP 1.0` (RFC 3435).
    #[default]
    Mgcp1,
    /// `MGCP 0.1` (RFC 2705).
    Mgcp01,
    /// `MGCP 1.0 NCS 1.0` (PacketCable NCS, ITU-T J.162).
    Ncs,
}

impl Dialect {
    /// Every dialect, in the order a gateway that refuses the version (`528`) is tried.
    pub(crate) const ALL: [Self; 3] = [Self::Mgcp1, Self::Ncs, Self::Mgcp01];

    /// The dialect tried after this one was refused.
    pub(crate) fn next(self) -> Self {
        match self {
            Self::Mgcp1 => Self::Ncs,
            Self::Ncs => Self::Mgcp01,
            Self::Mgcp01 => Self::Mgcp1,
        }
    }

    /// The dialect of a command's version line; `None` for a version the agent does not speak
    /// (answered `528`). A profile other than NCS (`TGCP 1.0`…) is spoken to as plain 1.0.
    pub(crate) fn of(v: Version<'_>) -> Option<Self> {
        match (v.major, v.minor) {
            (1, 0) if v.is_ncs() => Some(Self::Ncs),
            (1, 0) => Some(Self::Mgcp1),
            (0, 1) => Some(Self::Mgcp01),
            _ => None,
        }
    }

    /// The version line for commands to such a gateway.
    pub(crate) fn version(self) -> Version<'static> {
        match self {
            Self::Mgcp1 => Version::V1_0,
            Self::Mgcp01 => Version::V0_1,
            Self::Ncs => Version::NCS_1_0,
        }
    }

    /// The package to write for one of RFC 3660's: NCS has only `L`.
    pub(crate) fn package(self, package: &'static str) -> &'static str {
        match (self, package) {
            (Self::Ncs, "D") => "L",
            (_, p) => p,
        }
    }

    /// The name used in logs and the console.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Mgcp1 => "MGCP 1.0",
            Self::Mgcp01 => "MGCP 0.1",
            Self::Ncs => "MGCP 1.0 NCS 1.0",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_map_to_dialects_and_back() {
        for d in [Dialect::Mgcp1, Dialect::Mgcp01, Dialect::Ncs] {
            assert_eq!(Dialect::of(d.version()), Some(d), "{}", d.as_str());
        }
        let tgcp = Version {
            major: 1,
            minor: 0,
            profile: Some("TGCP 1.0"),
        };
        assert_eq!(Dialect::of(tgcp), Some(Dialect::Mgcp1));
        for (major, minor) in [(1, 1), (0, 0), (2, 0), (0, 2)] {
            let v = Version {
                major,
                minor,
                profile: None,
            };
            assert_eq!(Dialect::of(v), None, "{major}.{minor}");
        }
        // The name logged is the version line written.
        for d in Dialect::ALL {
            let v = d.version();
            let mut line = format!("MGCP {}.{}", v.major, v.minor);
            if let Some(p) = v.profile {
                line = format!("{line} {p}");
            }
            assert_eq!(d.as_str(), line);
        }
        assert_eq!(Dialect::Ncs.package("D"), "L");
        assert_eq!(Dialect::Ncs.package("L"), "L");
        assert_eq!(Dialect::Mgcp01.package("D"), "D");
        assert_eq!(Dialect::Mgcp1.package("D"), "D");
        // `next` visits every dialect once, in `ALL`'s order.
        let mut d = Dialect::ALL[0];
        for want in Dialect::ALL.iter().cycle().skip(1).take(3) {
            d = d.next();
            assert_eq!(d, *want);
        }
    }
}
