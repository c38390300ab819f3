//! `[clients]`: the WebSocket clients' pings, sessions and flood limits.

use std::time::Duration;

use serde::Deserialize;

use super::Error;
use super::values::{duration, positive, size};

/// The keys of `[clients]`.
pub(super) const KEYS: &[&str] = &[
    "ping_interval",
    "ping_timeout",
    "session_ttl",
    "frame_rate",
    "frame_burst",
    "max_frame",
    "max_sessions_per_user",
];

/// `[clients]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clients {
    /// `ping_interval`: interval of WebSocket pings.
    pub ping_interval: Duration,
    /// `ping_timeout`: silence after which a client is dropped.
    pub ping_timeout: Duration,
    /// `session_ttl`: session token lifetime.
    pub session_ttl: Duration,
    /// `frame_rate`: sustained WebSocket frames per second per connection.
    pub frame_rate: u32,
    /// `frame_burst`: burst of WebSocket frames per connection.
    pub frame_burst: u32,
    /// `max_frame`: largest WebSocket frame, in bytes.
    pub max_frame: usize,
    /// `max_sessions_per_user`: WebSocket sessions one user may have open at once.
    pub max_sessions_per_user: usize,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    ping_interval: Option<String>,
    ping_timeout: Option<String>,
    session_ttl: Option<String>,
    frame_rate: Option<u32>,
    frame_burst: Option<u32>,
    max_frame: Option<String>,
    max_sessions_per_user: Option<u32>,
}

impl Clients {
    /// Builds the section from the user's keys over the defaults'.
    pub(super) fn build(u: Raw, d: Raw) -> Result<Self, Error> {
        let pick = |a: Option<String>, b: Option<String>| a.or(b).unwrap_or_default();
        Ok(Self {
            ping_interval: duration(
                "clients.ping_interval",
                &pick(u.ping_interval, d.ping_interval),
            )?,
            ping_timeout: duration(
                "clients.ping_timeout",
                &pick(u.ping_timeout, d.ping_timeout),
            )?,
            session_ttl: duration("clients.session_ttl", &pick(u.session_ttl, d.session_ttl))?,
            frame_rate: positive(
                "clients.frame_rate",
                u.frame_rate.or(d.frame_rate).unwrap_or(0),
            )?,
            frame_burst: positive(
                "clients.frame_burst",
                u.frame_burst.or(d.frame_burst).unwrap_or(0),
            )?,
            max_frame: size("clients.max_frame", &pick(u.max_frame, d.max_frame))?,
            max_sessions_per_user: positive(
                "clients.max_sessions_per_user",
                u.max_sessions_per_user
                    .or(d.max_sessions_per_user)
                    .unwrap_or(0),
            )? as usize,
        })
    }
}
