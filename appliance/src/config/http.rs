//! `[http]`: where the REST API, the WebSocket (and later the web UI) listen.

use std::net::SocketAddr;

use serde::Deserialize;

use super::Error;
use super::values::parsed;

/// The keys of `[http]`.
pub(super) const KEYS: &[&str] = &["listen"];

/// `[http]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Http {
    /// `listen`: where the REST API and WebSocket listen.
    pub listen: SocketAddr,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    listen: Option<String>,
}

impl Http {
    /// Builds the section from the user's keys over the defaults'.
    pub(super) fn build(user: Raw, defaults: Raw) -> Result<Self, Error> {
        let listen = user.listen.or(defaults.listen).unwrap_or_default();
        Ok(Self {
            listen: parsed(
                "http.listen",
                &listen,
                "expected an address such as \"127.0.0.1:8080\"",
            )?,
        })
    }
}
