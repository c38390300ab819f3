//! Vendor profiles: the quirks of real gateways a call agent meets, so that it is tested against
//! them and not only against the letter of RFC 3435.
//!
//! | | [`Rfc3435`](Profile::Rfc3435) (default) | [`Cisco`](Profile::Cisco) | [`Ncs`](Profile::Ncs) |
//! | --- | --- | --- | --- |
//! | version on RSIP, NTFY | `MGCP 1.0` | `MGCP 0.1` | `MGCP 1.0 NCS 1.0` |
//! | commands accepted in | `MGCP 1.0` (any profile name) | `MGCP 0.1`, `MGCP 1.0` | `MGCP 1.0 NCS 1.0` only |
//! | otherwise | `528` | `528` | `528` |
//! | packages | `L`, `D`, `G` | `L`, `D`, `G` | `L` only (`518` for others) |
//! | digits reported as | `D/5` | `D/5` | `L/5` |
//! | audit `F: I`, no connection | no `I:` line | an empty `I:` line | no `I:` line |
//! | audit `F: A` | `A:` | `A:` and a vendor `X-` line | `A:` with `v:L` |
//! | keep-alive `NTFY *@…` | off | every 10 s of silence | off |
//!
//! Sources:
//! - Cisco IOS speaks RFC 2705's `MGCP 0.1` unless told otherwise: "The default service type and
//!   version is mgcp 0.1" (*MGCP 1.0 Including NCS 1.0 and TGCP 1.0 Profiles*, Cisco IOS Release
//!   12.2(2)XA, command reference for `call-agent` and `mgcp call-agent`, whose syntax is
//!   `mgcp call-agent {dns-name | ip-address} [port] [service-type type] [version
//!   version]`; there is no `mgcp version` command). Its NTFY look like `NTFY 41
//!   aaln/S1/SU0/1@c26001.atl0.cisco.com MGCP 0.1` (*Sample of Debug MGCP Packets*, Cisco
//!   document 42104).
//! - Its keep-alive: "the gateway maintains this connection by sending empty MGCP Notify (NTFY)
//!   keepalive messages to Cisco CallManager at 15-second intervals", and tries the next call
//!   agent when one goes unacknowledged for 30 s (Cisco's CallManager documentation of IOS MGCP
//!   gateways, the `ccm-manager` feature). The IOS voice command references searched list no
//!   command that sets it (`mgcp timer receive-rtcp` is the RTCP receive timer, not a
//!   keep-alive); the simulator's default is 10 s, shorter to keep tests quick, and
//!   [`Config::keepalive`](super::Config::keepalive) changes it.
//! - PacketCable NCS 1.0 is ITU-T J.162 (PKT-SP-EC-MGCP): the command header carries the
//!   profile after the version (J.162 §7.2, "Command header"; MTAs send `NTFY 64440
//!   aaln/1@[…] MGCP 1.0 NCS 1.0`), the return codes are listed in §6.5 ("Return codes and
//!   error codes"), and Annex A defines the event packages, first the line package `L` (A.1),
//!   which holds the DTMF digits and the tones RFC 3660 splits into `D` and `G`. The copy of
//!   J.162 the search tools hold has only its table of contents: the codes used here are
//!   RFC 3435 §2.4's, which NCS profiles, `528` "incompatible protocol version" for a command
//!   whose version the endpoint does not speak and `518` "unsupported or unknown package".
//!   J.162's 2005 edition adds a FAX package (A.2), which the simulator does not model.

use std::time::Duration;

use gateway_control::mgcp::wire::Version;

/// Which real gateway the simulator behaves like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Profile {
    /// RFC 3435 to the letter (with RFC 3660's packages): the simulator's behaviour before
    /// profiles existed, unchanged.
    #[default]
    Rfc3435,
    /// A Cisco IOS gateway (VG2xx, ISR FXS ports) on its default `service-type mgcp version
    /// 0.1`: commands sent in `MGCP 0.1`, both versions accepted, lenient audit answers and
    /// keep-alives.
    Cisco,
    /// A PacketCable NCS 1.0 embedded MTA (ITU-T J.162): `MGCP 1.0 NCS 1.0` both ways, and only
    /// the line package `L`.
    Ncs,
}

impl Profile {
    /// The profile's name on the command line (`rfc3435`, `cisco`, `ncs`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Rfc3435 => "rfc3435",
            Self::Cisco => "cisco",
            Self::Ncs => "ncs",
        }
    }

    /// The version written on the commands the gateway sends (RSIP, NTFY).
    pub fn version(self) -> Version<'static> {
        match self {
            Self::Rfc3435 => Version::V1_0,
            Self::Cisco => Version::V0_1,
            Self::Ncs => Version::NCS_1_0,
        }
    }

    /// Whether a command in version `v` is executed; otherwise it is answered `528`
    /// (incompatible protocol version, RFC 3435 §2.4; J.162 §6.5).
    pub fn accepts(self, v: &Version<'_>) -> bool {
        match self {
            // As before: the version checked, a profile name ignored.
            Self::Rfc3435 => (v.major, v.minor) == (1, 0),
            Self::Cisco => matches!((v.major, v.minor), (0, 1) | (1, 0)) && v.profile.is_none(),
            Self::Ncs => (v.major, v.minor) == (1, 0) && v.profile.is_some_and(is_ncs_1_0),
        }
    }

    /// Whether event package `package` (upper case) exists here.
    pub(crate) fn has_package(self, package: char) -> bool {
        match self {
            Self::Rfc3435 | Self::Cisco => matches!(package, 'L' | 'D' | 'G'),
            Self::Ncs => package == 'L',
        }
    }

    /// The package digits are reported in: RFC 3660's DTMF package `D`, or NCS's line package.
    pub(crate) fn digit_package(self) -> char {
        match self {
            Self::Rfc3435 | Self::Cisco => 'D',
            Self::Ncs => 'L',
        }
    }

    /// The `A:` (Capabilities, RFC 3435 §3.2.2.17) of an audit answer.
    pub(crate) fn capabilities(self) -> &'static str {
        match self {
            Self::Rfc3435 => {
                "a:PCMU;PCMA, p:10-60, e:off, s:off, v:L;D;G, \
                 m:sendonly;recvonly;sendrecv;inactive;confrnce;loopback"
            }
            // IOS's form (echo cancellation and silence suppression on, its default G.711
            // packetisation range), listing only what this simulator really does.
            Self::Cisco => {
                "a:PCMU;PCMA, p:10-20, e:on, s:on, v:L;G;D, \
                 m:sendonly;recvonly;sendrecv;inactive;loopback"
            }
            Self::Ncs => {
                "a:PCMU;PCMA, p:10-60, e:off, s:off, v:L, \
                 m:sendonly;recvonly;sendrecv;inactive;loopback"
            }
        }
    }

    /// A vendor extension line added to a capabilities answer, name and value. RFC 3435
    /// §3.2.2 reserves `X-` names for vendor extensions, which a receiver that does not know
    /// them ignores. The material searched documents no particular `X-` line in IOS's audit
    /// answers, so the value is the one setting that makes a gateway speak 0.1 (the `call-agent`
    /// command's `service-type mgcp version 0.1`), under a neutral name.
    pub(crate) fn vendor_capability(self) -> Option<(&'static str, &'static str)> {
        match self {
            Self::Cisco => Some(("X-ServiceType", "mgcp 0.1")),
            Self::Rfc3435 | Self::Ncs => None,
        }
    }

    /// Whether an audit for `I` (ConnectionId) on an endpoint without connections is answered
    /// with an empty `I:` line (as IOS does) rather than none (RFC 3435's grammar has no empty
    /// ConnectionId list).
    pub(crate) fn empty_connection_list(self) -> bool {
        self == Self::Cisco
    }

    /// The keep-alive interval when [`Config::keepalive`](super::Config::keepalive) is not set.
    pub(crate) fn default_keepalive(self) -> Option<Duration> {
        match self {
            Self::Cisco => Some(Duration::from_secs(10)),
            Self::Rfc3435 | Self::Ncs => None,
        }
    }
}

impl std::str::FromStr for Profile {
    type Err = UnknownProfile;

    fn from_str(s: &str) -> Result<Self, UnknownProfile> {
        [Self::Rfc3435, Self::Cisco, Self::Ncs]
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(s))
            .ok_or(UnknownProfile)
    }
}

impl std::fmt::Display for Profile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A profile name that is none of `rfc3435`, `cisco`, `ncs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown profile (expected rfc3435, cisco or ncs)")]
pub struct UnknownProfile;

/// `NCS 1.0` (case-insensitive, any run of spaces or tabs between the words).
fn is_ncs_1_0(profile: &str) -> bool {
    let mut words = profile.split([' ', '\t']).filter(|w| !w.is_empty());
    matches!(
        (words.next(), words.next(), words.next()),
        (Some(name), Some("1.0"), None) if name.eq_ignore_ascii_case("NCS")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(major: u8, minor: u8, profile: Option<&str>) -> Version<'_> {
        Version {
            major,
            minor,
            profile,
        }
    }

    #[test]
    fn versions_accepted_per_profile() {
        let cases = [
            (v(1, 0, None), [true, true, false]),
            (v(0, 1, None), [false, true, false]),
            (v(1, 0, Some("NCS 1.0")), [true, false, true]),
            (v(1, 0, Some("ncs  1.0")), [true, false, true]),
            (v(1, 0, Some("NCS 1.5")), [true, false, false]),
            (v(1, 0, Some("TGCP 1.0")), [true, false, false]),
            (v(0, 1, Some("NCS 1.0")), [false, false, false]),
        ];
        for (version, want) in cases {
            let got = [Profile::Rfc3435, Profile::Cisco, Profile::Ncs].map(|p| p.accepts(&version));
            assert_eq!(got, want, "{version:?}");
        }
    }

    #[test]
    fn names_round_trip() {
        for p in [Profile::Rfc3435, Profile::Cisco, Profile::Ncs] {
            assert_eq!(p.name().parse::<Profile>(), Ok(p));
            assert_eq!(p.to_string(), p.name());
        }
        assert_eq!("CISCO".parse::<Profile>(), Ok(Profile::Cisco));
        assert!("tgcp".parse::<Profile>().is_err());
    }
}
