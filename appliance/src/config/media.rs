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

/// What `rtp` shares with the ports the kernel hands to sockets bound to port 0 (`ephemeral`,
/// from `net.ipv4.ip_local_port_range`) that are not set aside (`reserved`, from
/// `net.ipv4.ip_local_reserved_ports`): any program on the machine may then take one of those
/// ports, and the call given it fails to open its media ("Address already in use"). `None`
/// when there is no such port.
pub fn ephemeral_overlap(
    rtp: &RangeInclusive<u16>,
    ephemeral: &RangeInclusive<u16>,
    reserved: &[RangeInclusive<u16>],
) -> Option<RangeInclusive<u16>> {
    let lo = (*rtp.start()).max(*ephemeral.start());
    let hi = (*rtp.end()).min(*ephemeral.end());
    if lo > hi {
        return None;
    }
    // The first port of lo..=hi that no reserved range covers, and the last.
    let free = |p: &u16| !reserved.iter().any(|r| r.contains(p));
    let first = (lo..=hi).find(free)?;
    let last = (lo..=hi).rev().find(free)?;
    Some(first..=last)
}

/// The ranges of `net.ipv4.ip_local_port_range` ("32768\t60999") or
/// `net.ipv4.ip_local_reserved_ports` ("16384-32767,40000"); what does not parse is left out.
pub fn kernel_port_ranges(text: &str) -> Vec<RangeInclusive<u16>> {
    let port = |s: &str| s.trim().parse::<u16>().ok();
    if let Some((a, b)) = text.trim().split_once(char::is_whitespace) {
        return port(a)
            .zip(port(b))
            .map(|(a, b)| a..=b)
            .into_iter()
            .collect();
    }
    text.split(',')
        .filter_map(|r| match r.split_once('-') {
            Some((a, b)) => port(a).zip(port(b)).map(|(a, b)| a..=b),
            None => port(r).map(|p| p..=p),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_kernels_port_ranges_parse() {
        assert_eq!(kernel_port_ranges("32768\t60999\n"), [32768..=60999]);
        assert_eq!(
            kernel_port_ranges("16384-32767,40000\n"),
            [16384..=32767, 40000..=40000]
        );
        assert_eq!(kernel_port_ranges("\n"), []);
        assert_eq!(kernel_port_ranges("x-y,7"), [7..=7]);
    }

    #[test]
    fn rtp_ports_among_the_ephemeral_ones_are_found_unless_reserved() {
        let ephemeral = 32768..=60999;
        // The default range stops below the ephemeral ports.
        assert_eq!(ephemeral_overlap(&(16384..=32767), &ephemeral, &[]), None);
        assert_eq!(
            ephemeral_overlap(&(30000..=42100), &ephemeral, &[]),
            Some(32768..=42100)
        );
        assert_eq!(
            ephemeral_overlap(&(30000..=42100), &ephemeral, &[30000..=42100]),
            None
        );
        // Partly reserved: what is left, from its first free port to its last.
        assert_eq!(
            ephemeral_overlap(&(30000..=42100), &ephemeral, &[32768..=40000]),
            Some(40001..=42100)
        );
        assert_eq!(
            ephemeral_overlap(&(60000..=65000), &ephemeral, &[]),
            Some(60000..=60999)
        );
    }
}
