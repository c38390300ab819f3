//! `[tpncp]`: the AudioCodes TPNCP host. The appliance connects out to each gateway with
//! `protocol = "tpncp"` (its `address`, port 2424 by default), so there is nothing to listen
//! on: the section holds the session's timers. The gateways' own keys (`transport`,
//! `rtp_port`, `byte_order`) are in `[[gateway]]` (`super::gateway`).

use std::time::Duration;

use serde::Deserialize;

use super::Error;
use super::values::{bad, positive_duration};

/// The keys of `[tpncp]`.
pub(super) const KEYS: &[&str] = &["keepalive", "ack_timeout", "reconnect_min", "reconnect_max"];

/// `[tpncp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tpncp {
    /// `keepalive`: a board silent this long is probed; an unanswered probe takes it down.
    pub keepalive: Duration,
    /// `ack_timeout`: how long a command waits for the board's acknowledgement.
    pub ack_timeout: Duration,
    /// `reconnect_min`: the first wait before connecting again to a board that went away;
    /// it doubles (with jitter) after each failed attempt ...
    pub reconnect_min: Duration,
    /// `reconnect_max`: ... up to this.
    pub reconnect_max: Duration,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    keepalive: Option<String>,
    ack_timeout: Option<String>,
    reconnect_min: Option<String>,
    reconnect_max: Option<String>,
}

impl Tpncp {
    /// Builds the section from the user's keys over the defaults'.
    pub(super) fn build(u: Raw, d: Raw) -> Result<Self, Error> {
        let positive =
            |key: &str, v: Option<String>| positive_duration(key, &v.unwrap_or_default());
        let keepalive = positive("tpncp.keepalive", u.keepalive.or(d.keepalive))?;
        let ack_timeout = positive("tpncp.ack_timeout", u.ack_timeout.or(d.ack_timeout))?;
        let reconnect_min = positive("tpncp.reconnect_min", u.reconnect_min.or(d.reconnect_min))?;
        let max_text = u.reconnect_max.or(d.reconnect_max);
        let reconnect_max = positive("tpncp.reconnect_max", max_text.clone())?;
        if reconnect_max < reconnect_min {
            return Err(bad(
                "tpncp.reconnect_max",
                max_text.unwrap_or_default(),
                "must not be below tpncp.reconnect_min",
            ));
        }
        Ok(Self {
            keepalive,
            ack_timeout,
            reconnect_min,
            reconnect_max,
        })
    }
}
