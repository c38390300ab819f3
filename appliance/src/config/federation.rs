//! `[federation]`: this appliance as one site of many, joined over a NATS JetStream cluster
//! (issue 24; see docs/FEDERATION.md). Off when the section is absent: nothing of it runs and
//! no NATS server is needed. The settings are checked by `offhook_federation::Config`'s
//! setters; their errors name the key.

use std::path::PathBuf;

use serde::Deserialize;

use super::Error;
use super::values;

/// The keys of `[federation]`.
pub(super) const KEYS: &[&str] = &[
    "site",
    "servers",
    "key_file",
    "credentials",
    "user",
    "password",
    "tls_ca",
    "replicas",
    "max_message",
    "heartbeat",
];

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    site: Option<String>,
    servers: Option<Vec<String>>,
    key_file: Option<PathBuf>,
    credentials: Option<PathBuf>,
    user: Option<String>,
    password: Option<String>,
    tls_ca: Option<PathBuf>,
    replicas: Option<usize>,
    max_message: Option<String>,
    heartbeat: Option<String>,
}

fn from(e: offhook_federation::config::Error) -> Error {
    Error::Value {
        key: format!("federation.{}", e.key),
        value: String::new(),
        message: e.message,
    }
}

/// Builds `[federation]`, when the file has it.
pub(super) fn build(raw: Option<Raw>) -> Result<Option<offhook_federation::Config>, Error> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    let site = raw.site.ok_or_else(|| {
        values::bad(
            "federation.site",
            "(missing)",
            "name this site, such as \"hq\"",
        )
    })?;
    let servers = raw
        .servers
        .unwrap_or_else(|| vec!["nats://127.0.0.1:4222".to_owned()]);
    let mut c = offhook_federation::Config::new(&site, servers).map_err(from)?;
    if let Some(k) = raw.key_file {
        c.key_file(&k).map_err(from)?;
    }
    if let Some(p) = raw.credentials {
        c.credentials(p);
    }
    match (raw.user, raw.password) {
        (Some(u), Some(p)) => {
            c.user(u, p);
        }
        (None, None) => {}
        _ => {
            return Err(values::bad(
                "federation.user",
                "",
                "give both user and password, or neither",
            ));
        }
    }
    if let Some(p) = raw.tls_ca {
        c.tls_ca(p);
    }
    if let Some(n) = raw.replicas {
        c.replicas(n).map_err(from)?;
    }
    if let Some(m) = raw.max_message {
        let bytes = values::size("federation.max_message", &m)?;
        c.max_message(bytes as u64).map_err(from)?;
    }
    if let Some(h) = raw.heartbeat {
        let every = values::positive_duration("federation.heartbeat", &h)?;
        c.heartbeat(every).map_err(from)?;
    }
    Ok(Some(c))
}
