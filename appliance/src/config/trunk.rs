//! `[[trunk]]`: FXO ports of a gateway towards a PBX or the public network.

use std::time::Duration;

use gateway_control::model::DialMethod;
use serde::Deserialize;
use station_manager::trunk::Selection;

use super::{Error, entry};
use crate::config::Gateway;

/// The keys of a `[[trunk]]` entry.
pub(super) const KEYS: &[&str] = &[
    "name",
    "gateway",
    "endpoints",
    "dial_in",
    "select",
    "dialing",
    "answer_timeout",
];

/// One `[[trunk]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    /// `name`: which stations refer to.
    pub name: String,
    /// `gateway`: the gateway holding the ports.
    pub gateway: String,
    /// `endpoints`: the ports' endpoint names, used first-free.
    pub endpoints: Vec<String>,
    /// `dial_in`: whether incoming calls on these ports are answered.
    pub dial_in: bool,
    /// `select`: how a port is picked for a call placed (`first-free` or `round-robin`).
    pub select: Selection,
    /// `dialing`: `dtmf` or `pulse`.
    pub dialing: DialMethod,
    /// `answer_timeout`: how long a call placed waits for an answer.
    pub answer_timeout: Duration,
}

#[derive(Debug, Deserialize)]
pub(super) struct Raw {
    name: String,
    gateway: String,
    endpoints: Vec<String>,
    #[serde(default)]
    dial_in: bool,
    select: Option<String>,
    dialing: Option<String>,
    answer_timeout: Option<String>,
}

/// An error unless `name` is a configured gateway.
pub(super) fn gateway_known(key: String, name: &str, gateways: &[Gateway]) -> Result<(), Error> {
    if gateways.iter().any(|g| g.name == name) {
        Ok(())
    } else {
        Err(entry(key, &format!("no [[gateway]] is named {name:?}")))
    }
}

/// Checks and converts the `[[trunk]]` entries against the gateways.
pub(super) fn build(raw: Vec<Raw>, gateways: &[Gateway]) -> Result<Vec<Trunk>, Error> {
    let mut out: Vec<Trunk> = Vec::with_capacity(raw.len());
    for (i, t) in raw.into_iter().enumerate() {
        gateway_known(format!("trunk[{i}].gateway"), &t.gateway, gateways)?;
        if t.endpoints.is_empty() {
            return Err(entry(
                format!("trunk[{i}].endpoints"),
                "needs at least one port",
            ));
        }
        if out.iter().any(|x| x.name == t.name) {
            return Err(entry(format!("trunk[{i}].name"), "is used twice"));
        }
        if t.endpoints.len() > station_manager::trunk::MAX_PORTS {
            return Err(entry(
                format!("trunk[{i}].endpoints"),
                &format!("at most {} ports", station_manager::trunk::MAX_PORTS),
            ));
        }
        let taken = |e: &String| {
            out.iter()
                .any(|x| x.gateway == t.gateway && x.endpoints.contains(e))
        };
        if let Some((_, e)) = t
            .endpoints
            .iter()
            .enumerate()
            .find(|(k, e)| taken(e) || t.endpoints[..*k].contains(e))
        {
            return Err(entry(
                format!("trunk[{i}].endpoints"),
                &format!("port {e:?} is in another trunk or listed twice"),
            ));
        }
        let select = match t.select.as_deref() {
            None | Some("first-free") => Selection::FirstFree,
            Some("round-robin") => Selection::RoundRobin,
            Some(_) => {
                return Err(entry(
                    format!("trunk[{i}].select"),
                    "must be \"first-free\" or \"round-robin\"",
                ));
            }
        };
        let dialing = match t.dialing.as_deref() {
            None | Some("dtmf") => DialMethod::Dtmf,
            Some("pulse") => DialMethod::Pulse,
            Some(_) => {
                return Err(entry(
                    format!("trunk[{i}].dialing"),
                    "must be \"dtmf\" or \"pulse\"",
                ));
            }
        };
        let answer_timeout = match t.answer_timeout.as_deref() {
            None => station_manager::trunk::ANSWER_TIMEOUT,
            Some(text) => match super::parse_duration(text) {
                Some(d) if !d.is_zero() && d <= Duration::from_secs(600) => d,
                _ => {
                    return Err(entry(
                        format!("trunk[{i}].answer_timeout"),
                        "must be a duration from 1s to 10m (\"45s\")",
                    ));
                }
            },
        };
        out.push(Trunk {
            name: t.name,
            gateway: t.gateway,
            endpoints: t.endpoints,
            dial_in: t.dial_in,
            select,
            dialing,
            answer_timeout,
        });
    }
    Ok(out)
}
