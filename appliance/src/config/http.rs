//! `[http]`: where the REST API, the WebSocket (and later the web UI) listen, and the limits
//! of the HTTP front.

use std::net::SocketAddr;
use std::time::Duration;

use offhook_web::MetricsAccess;
use serde::Deserialize;

use super::Error;
use super::values::{bad, duration, parsed, positive};

/// The keys of `[http]`.
pub(super) const KEYS: &[&str] = &[
    "listen",
    "header_timeout",
    "max_idle_connections",
    "metrics",
];

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http {
    /// `listen`: where the REST API and WebSocket listen.
    pub listen: SocketAddr,
    /// `header_timeout`: how long a connection may take to send a request head.
    pub header_timeout: Duration,
    /// `max_idle_connections`: connections waiting for a request kept at most.
    pub max_idle_connections: usize,
    /// `metrics`: who may read `/metrics`.
    pub metrics: MetricsAccess,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    listen: Option<String>,
    header_timeout: Option<String>,
    max_idle_connections: Option<u32>,
    metrics: Option<String>,
}

impl Http {
    /// Builds the section from the user's keys over the defaults'.
    pub(super) fn build(user: Raw, defaults: Raw) -> Result<Self, Error> {
        let listen = user.listen.or(defaults.listen).unwrap_or_default();
        let header_timeout = user
            .header_timeout
            .or(defaults.header_timeout)
            .unwrap_or_default();
        let metrics = user.metrics.or(defaults.metrics).unwrap_or_default();
        let metrics = match metrics.as_str() {
            "open" => MetricsAccess::Open,
            "admin" => MetricsAccess::Admin,
            "off" => MetricsAccess::Off,
            _ => {
                return Err(bad(
                    "http.metrics",
                    format!("{metrics:?}"),
                    "expected \"open\", \"admin\" or \"off\"",
                ));
            }
        };
        Ok(Self {
            metrics,
            listen: parsed(
                "http.listen",
                &listen,
                "expected an address such as \"127.0.0.1:8080\"",
            )?,
            header_timeout: match duration("http.header_timeout", &header_timeout)? {
                d if d.is_zero() => {
                    return Err(bad(
                        "http.header_timeout",
                        &header_timeout,
                        "must be positive",
                    ));
                }
                d => d,
            },
            max_idle_connections: positive(
                "http.max_idle_connections",
                user.max_idle_connections
                    .or(defaults.max_idle_connections)
                    .unwrap_or(0),
            )? as usize,
        })
    }
}
