//! `[media]`: where gateways send RTP, and the ports the media engine uses.

use std::net::IpAddr;
use std::ops::RangeInclusive;

use serde::Deserialize;

use super::Error;
use super::values::{bad, parsed};

/// The keys of `[media]`.
pub(super) const KEYS: &[&str] = &["address", "rtp_ports", "realtime_priority"];

/// `[media]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Media {
    /// `address`: the address gateways send RTP to.
    pub address: IpAddr,
    /// `rtp_ports`: the RTP port range on that address (RTP even, RTCP the odd one above).
    pub rtp_ports: RangeInclusive<u16>,
    /// `realtime_priority`: the media engine's workers' `SCHED_FIFO` priority (1–99), `None`
    /// for the normal policy (`0`).
    pub realtime_priority: Option<u8>,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    address: Option<String>,
    rtp_ports: Option<String>,
    realtime_priority: Option<i64>,
}

impl Media {
    /// Builds the section from the user's keys over the defaults'.
    pub(super) fn build(u: Raw, d: Raw) -> Result<Self, Error> {
        let pick = |a: Option<String>, b: Option<String>| a.or(b).unwrap_or_default();
        Ok(Self {
            address: parsed(
                "media.address",
                &pick(u.address, d.address),
                "expected an IP address such as \"127.0.0.1\"",
            )?,
            rtp_ports: port_range(&pick(u.rtp_ports, d.rtp_ports))?,
            realtime_priority: realtime_priority(
                u.realtime_priority.or(d.realtime_priority).unwrap_or(0),
            )?,
        })
    }
}

/// `0` (the normal policy) or a `SCHED_FIFO` priority from 1 to 99.
fn realtime_priority(v: i64) -> Result<Option<u8>, Error> {
    match u8::try_from(v) {
        Ok(0) => Ok(None),
        Ok(p @ 1..=99) => Ok(Some(p)),
        _ => Err(bad(
            "media.realtime_priority",
            v,
            "expected 0 (normal scheduling) or a SCHED_FIFO priority from 1 to 99",
        )),
    }
}

/// `"A-B"`: 1024 <= A < B, room for at least one RTP/RTCP pair.
fn port_range(v: &str) -> Result<RangeInclusive<u16>, Error> {
    let parsed = v.split_once('-').and_then(|(a, b)| {
        let (a, b): (u16, u16) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        (a >= 1024 && b > a.saturating_add(a % 2)).then_some(a..=b)
    });
    parsed.ok_or_else(|| {
        bad(
            "media.rtp_ports",
            format!("{v:?}"),
            "expected a port range such as \"16384-32767\" (from 1024 up)",
        )
    })
}
