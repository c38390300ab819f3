//! `[messages]`: what the messaging core accepts and how long it keeps audio.

use std::time::Duration;

use serde::Deserialize;

use super::Error;
use super::values::{bad, duration, parse_duration, size};

/// The keys of `[messages]`.
pub(super) const KEYS: &[&str] = &[
    "retention",
    "max_upload",
    "max_attachments",
    "max_duration",
    "sweep_interval",
];

/// What happens to a message's audio once it is no longer needed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retention {
    /// Deleted once every recipient has acknowledged it.
    Delivered,
    /// Deleted once every recipient has played it.
    Played,
    /// Deleted this long after it was sent (or when all its users delete it).
    Period(Duration),
}

/// `[messages]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Messages {
    /// `retention`: audio retention.
    pub retention: Retention,
    /// `max_upload`: largest accepted upload body, in bytes.
    pub max_upload: usize,
    /// `max_attachments`: most attachments one message may carry.
    pub max_attachments: usize,
    /// `max_duration`: longest accepted recording.
    pub max_duration: Duration,
    /// `sweep_interval`: period of the retention sweep.
    pub sweep_interval: Duration,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    retention: Option<String>,
    max_upload: Option<String>,
    max_attachments: Option<u32>,
    max_duration: Option<String>,
    sweep_interval: Option<String>,
}

impl Messages {
    /// Builds the section from the user's keys over the defaults'.
    pub(super) fn build(u: Raw, d: Raw) -> Result<Self, Error> {
        let pick = |a: Option<String>, b: Option<String>| a.or(b).unwrap_or_default();
        Ok(Self {
            retention: retention(&pick(u.retention, d.retention))?,
            max_upload: size("messages.max_upload", &pick(u.max_upload, d.max_upload))?,
            max_attachments: u.max_attachments.or(d.max_attachments).unwrap_or(0) as usize,
            max_duration: duration(
                "messages.max_duration",
                &pick(u.max_duration, d.max_duration),
            )?,
            sweep_interval: duration(
                "messages.sweep_interval",
                &pick(u.sweep_interval, d.sweep_interval),
            )?,
        })
    }
}

fn retention(v: &str) -> Result<Retention, Error> {
    match v {
        "delivered" => Ok(Retention::Delivered),
        "played" => Ok(Retention::Played),
        _ => parse_duration(v).map(Retention::Period).ok_or_else(|| {
            bad(
                "messages.retention",
                format!("{v:?}"),
                "expected \"delivered\", \"played\" or a period such as \"30d\"",
            )
        }),
    }
}
