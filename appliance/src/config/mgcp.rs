//! `[mgcp]`: the MGCP call agent (RFC 3435). Its tuning keys are applied through the core's
//! validated setters ([`mgcp::Config`], [`mgcp::transaction::Config`]), so an out-of-range value
//! is reported with its key; the gateways and the notified entity are added when the agent
//! starts (`crate::gateways`), as they depend on the other sections and the bound socket.

use std::net::SocketAddr;
use std::time::Duration;

use gateway_control::mgcp;
use serde::Deserialize;

use super::Error;
use super::values::{bad, duration, parsed};

/// The keys of `[mgcp]`.
pub(super) const KEYS: &[&str] = &[
    "listen",
    "piggyback",
    "max_outstanding",
    "max_send_rate",
    "max_queued",
    "probe_interval",
    "max_probe_interval",
    "max_restart_delay",
    "max_arm_failures",
    "arm_retry_interval",
    "initial_rtt",
    "max_retransmit_interval",
    "max_retransmissions",
    "t_max",
    "t_hist",
];

/// `[mgcp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mgcp {
    /// `listen`: where the call agent listens (bound only when an MGCP gateway is configured).
    pub listen: SocketAddr,
    /// The call agent's settings from the other keys, without gateways; validated.
    pub agent: mgcp::Config,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    listen: Option<String>,
    piggyback: Option<bool>,
    max_outstanding: Option<usize>,
    max_send_rate: Option<u32>,
    max_queued: Option<usize>,
    probe_interval: Option<String>,
    max_probe_interval: Option<String>,
    max_restart_delay: Option<String>,
    max_arm_failures: Option<u32>,
    arm_retry_interval: Option<String>,
    initial_rtt: Option<String>,
    max_retransmit_interval: Option<String>,
    max_retransmissions: Option<u32>,
    t_max: Option<String>,
    t_hist: Option<String>,
}

/// Applies one setter, reporting its refusal against `key`.
fn set<C, V: std::fmt::Debug + Clone, E: std::fmt::Display>(
    config: &mut C,
    key: &str,
    value: Option<V>,
    setter: impl FnOnce(&mut C, V) -> Result<&mut C, E>,
) -> Result<(), Error> {
    if let Some(v) = value {
        setter(config, v.clone()).map_err(|e| bad(key, format!("{v:?}"), &e.to_string()))?;
    }
    Ok(())
}

fn dur(key: &str, v: Option<String>) -> Result<Option<Duration>, Error> {
    v.map(|v| duration(key, &v)).transpose()
}

impl Mgcp {
    /// Builds the section from the user's keys over the defaults'.
    pub(super) fn build(u: Raw, d: Raw) -> Result<Self, Error> {
        let listen = u.listen.or(d.listen).unwrap_or_default();
        let listen = parsed(
            "mgcp.listen",
            &listen,
            "expected an address such as \"0.0.0.0:2727\"",
        )?;

        let mut t = mgcp::transaction::Config::default();
        // The bounds first, so that raising `initial_rtt` above today's maximum works.
        let max_rtx = dur(
            "mgcp.max_retransmit_interval",
            u.max_retransmit_interval.or(d.max_retransmit_interval),
        )?;
        set(&mut t, "mgcp.max_retransmit_interval", max_rtx, |c, v| {
            c.max_retransmit_interval(v)
        })?;
        let initial = dur("mgcp.initial_rtt", u.initial_rtt.or(d.initial_rtt))?;
        set(&mut t, "mgcp.initial_rtt", initial, |c, v| c.initial_rtt(v))?;
        set(
            &mut t,
            "mgcp.max_retransmissions",
            u.max_retransmissions.or(d.max_retransmissions),
            |c, v| c.max_retransmissions(v),
        )?;
        let t_max = dur("mgcp.t_max", u.t_max.or(d.t_max))?;
        set(&mut t, "mgcp.t_max", t_max, |c, v| c.t_max(v))?;
        let t_hist = dur("mgcp.t_hist", u.t_hist.or(d.t_hist))?;
        set(&mut t, "mgcp.t_hist", t_hist, |c, v| c.t_hist(v))?;

        let mut a = mgcp::Config::default();
        a.transaction(t)
            .map_err(|e| bad("mgcp", "transaction settings", &e.to_string()))?;
        set(
            &mut a,
            "mgcp.piggyback",
            u.piggyback.or(d.piggyback),
            |c, v| c.piggyback(v),
        )?;
        set(
            &mut a,
            "mgcp.max_outstanding",
            u.max_outstanding.or(d.max_outstanding),
            |c, v| c.max_outstanding(v),
        )?;
        // Unset by default: no rate limit.
        set(
            &mut a,
            "mgcp.max_send_rate",
            u.max_send_rate.or(d.max_send_rate),
            |c, v| c.max_send_rate(Some(v)),
        )?;
        set(
            &mut a,
            "mgcp.max_queued",
            u.max_queued.or(d.max_queued),
            |c, v| c.max_queued(v),
        )?;
        let first = dur("mgcp.probe_interval", u.probe_interval.or(d.probe_interval))?;
        let max = dur(
            "mgcp.max_probe_interval",
            u.max_probe_interval.or(d.max_probe_interval),
        )?;
        let probes = Some((
            first.unwrap_or(a.probe_interval),
            max.unwrap_or(a.max_probe_interval),
        ));
        set(&mut a, "mgcp.probe_interval", probes, |c, (f, m)| {
            c.probe_interval(f, m)
        })?;
        let restart = dur(
            "mgcp.max_restart_delay",
            u.max_restart_delay.or(d.max_restart_delay),
        )?;
        set(&mut a, "mgcp.max_restart_delay", restart, |c, v| {
            c.max_restart_delay(v)
        })?;
        set(
            &mut a,
            "mgcp.max_arm_failures",
            u.max_arm_failures.or(d.max_arm_failures),
            |c, v| c.max_arm_failures(v),
        )?;
        let retry = dur(
            "mgcp.arm_retry_interval",
            u.arm_retry_interval.or(d.arm_retry_interval),
        )?;
        set(&mut a, "mgcp.arm_retry_interval", retry, |c, v| {
            c.arm_retry_interval(v)
        })?;
        Ok(Self { listen, agent: a })
    }
}
