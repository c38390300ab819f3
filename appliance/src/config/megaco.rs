//! `[megaco]`: the MEGACO / H.248.1 media gateway controller. The gateways (`[[gateway]]` with
//! `protocol = "megaco"` and their `mid`) are added when the controller starts
//! (`crate::gateways`).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::Error;
use super::values::{bad, parsed, positive_duration};

/// The keys of `[megaco]`.
pub(super) const KEYS: &[&str] = &[
    "listen",
    "listen_binary",
    "mid",
    "keepalive",
    "probe_interval",
];

/// `[megaco]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Megaco {
    /// `listen`: UDP and TCP, every encoding (bound only when a MEGACO gateway is configured).
    pub listen: SocketAddr,
    /// `listen_binary`: an extra UDP and TCP address that takes only the binary encoding
    /// (H.248.1 Annex D's port 2945).
    pub listen_binary: Option<SocketAddr>,
    /// `mid`: the controller's own mId; by default `[IP]:port` of `listen` (with the media
    /// address when `listen` is a wildcard).
    pub mid: Option<String>,
    /// `keepalive`: how often a registered gateway is audited.
    pub keepalive: Duration,
    /// `probe_interval`: how often an unreachable gateway is probed.
    pub probe_interval: Duration,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    listen: Option<String>,
    listen_binary: Option<String>,
    mid: Option<String>,
    keepalive: Option<String>,
    probe_interval: Option<String>,
}

impl Megaco {
    /// Builds the section from the user's keys over the defaults'.
    pub(super) fn build(u: Raw, d: Raw) -> Result<Self, Error> {
        let address = "expected an address such as \"0.0.0.0:2944\"";
        let listen = parsed(
            "megaco.listen",
            &u.listen.or(d.listen).unwrap_or_default(),
            address,
        )?;
        let listen_binary = u
            .listen_binary
            .or(d.listen_binary)
            .map(|v| parsed("megaco.listen_binary", &v, address))
            .transpose()?;
        let positive =
            |key: &str, v: Option<String>| positive_duration(key, &v.unwrap_or_default());
        let keepalive = positive("megaco.keepalive", u.keepalive.or(d.keepalive))?;
        let probe_interval = positive(
            "megaco.probe_interval",
            u.probe_interval.or(d.probe_interval),
        )?;
        let mid = u.mid.or(d.mid);
        if let Some(m) = &mid
            && !gateway_control::megaco::controller::valid_mid(m)
        {
            return Err(bad(
                "megaco.mid",
                m,
                "expected an mId such as \"[192.0.2.1]:2944\", \"<mgc.example.net>:2944\" or \"mgc1\"",
            ));
        }
        Ok(Self {
            listen,
            listen_binary,
            mid,
            keepalive,
            probe_interval,
        })
    }
}
