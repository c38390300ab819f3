//! `[messages]`: what the messaging core accepts and how long it keeps audio.

use std::time::Duration;

use serde::Deserialize;

use super::Error;
use super::values::{bad, duration, parse_size, size};

/// The keys of `[messages]`.
pub(super) const KEYS: &[&str] = &[
    "retention",
    "max_upload",
    "max_attachments",
    "max_duration",
    "sweep_interval",
    "quota_per_user",
    "upload_rate",
    "disk_reserve",
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
    /// `quota_per_user`: bytes each user's sent messages may hold on disk (0: no quota).
    pub quota_per_user: u64,
    /// `upload_rate`: bytes each user may upload per period (`None`: no limit).
    pub upload_rate: Option<UploadRate>,
    /// `disk_reserve`: bytes the data directory's disk keeps free; uploads that would leave
    /// less are refused (`Some(0)`: no guard; `None` (`"auto"`): the smaller of 1 GiB and 5 %
    /// of the disk).
    pub disk_reserve: Option<u64>,
}

/// `upload_rate`: `bytes` per `per`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadRate {
    /// Bytes per period.
    pub bytes: u64,
    /// The period.
    pub per: Duration,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    retention: Option<String>,
    max_upload: Option<String>,
    max_attachments: Option<u32>,
    max_duration: Option<String>,
    sweep_interval: Option<String>,
    quota_per_user: Option<String>,
    upload_rate: Option<String>,
    disk_reserve: Option<String>,
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
            quota_per_user: size(
                "messages.quota_per_user",
                &pick(u.quota_per_user, d.quota_per_user),
            )? as u64,
            upload_rate: upload_rate(&pick(u.upload_rate, d.upload_rate))?,
            disk_reserve: disk_reserve(&pick(u.disk_reserve, d.disk_reserve))?,
        })
    }
}

/// `"64MiB/min"`: a size per second (`s`), minute (`min` or `m`) or hour (`h`); `"0"` or
/// `"off"`: no limit.
fn upload_rate(v: &str) -> Result<Option<UploadRate>, Error> {
    let err = || {
        bad(
            "messages.upload_rate",
            format!("{v:?}"),
            "expected a size per period such as \"64MiB/min\", \"1MB/s\" or \"1GiB/h\", or \"off\"",
        )
    };
    let t = v.trim();
    if t == "off" || t == "0" {
        return Ok(None);
    }
    let (amount, period) = t.split_once('/').ok_or_else(err)?;
    let per = match period.trim() {
        "s" => Duration::from_secs(1),
        "m" | "min" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        _ => return Err(err()),
    };
    match parse_size(amount) {
        Some(0) => Ok(None),
        Some(n) => Ok(Some(UploadRate {
            bytes: n as u64,
            per,
        })),
        None => Err(err()),
    }
}

/// `"auto"` (`None`) or a size (`"0"`: no guard).
fn disk_reserve(v: &str) -> Result<Option<u64>, Error> {
    if v.trim() == "auto" {
        return Ok(None);
    }
    parse_size(v).map(|n| Some(n as u64)).ok_or_else(|| {
        bad(
            "messages.disk_reserve",
            format!("{v:?}"),
            "expected \"auto\" or a size such as \"512MiB\" or \"2GiB\" (\"0\": no reserve)",
        )
    })
}

fn retention(v: &str) -> Result<Retention, Error> {
    // The console's parser (offhook_domain::settings), so both read the same values.
    match offhook_domain::settings::parse_retention(v) {
        Ok(offhook_domain::config::Retention::Delivered) => Ok(Retention::Delivered),
        Ok(offhook_domain::config::Retention::Played) => Ok(Retention::Played),
        Ok(offhook_domain::config::Retention::Period(d)) => Ok(Retention::Period(d)),
        Ok(_) | Err(_) => Err(bad(
            "messages.retention",
            format!("{v:?}"),
            "expected \"delivered\", \"played\" or a period such as \"30d\"",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_reserves() {
        assert_eq!(disk_reserve("auto").unwrap(), None);
        assert_eq!(disk_reserve("0").unwrap(), Some(0));
        assert_eq!(disk_reserve("2GiB").unwrap(), Some(2 << 30));
        assert_eq!(disk_reserve(" 512MiB ").unwrap(), Some(512 << 20));
        for bad in ["", "lots", "-1", "1TB", "automatic"] {
            let e = disk_reserve(bad).unwrap_err().to_string();
            assert!(e.contains("messages.disk_reserve"), "{e}");
        }
    }

    #[test]
    fn upload_rates() {
        let r = |bytes, secs| {
            Some(UploadRate {
                bytes,
                per: Duration::from_secs(secs),
            })
        };
        let ok = |v| upload_rate(v).unwrap();
        assert_eq!(ok("64MiB/min"), r(64 << 20, 60));
        assert_eq!(ok(" 1MB / s "), r(1_000_000, 1));
        assert_eq!(ok("1GiB/h"), r(1 << 30, 3600));
        assert_eq!(ok("500/m"), r(500, 60));
        assert_eq!(ok("off"), None);
        assert_eq!(ok("0"), None);
        assert_eq!(ok("0MiB/s"), None);
        for bad in ["64MiB", "64MiB/day", "fast/s", "/s", ""] {
            let e = upload_rate(bad).unwrap_err().to_string();
            assert!(e.contains("messages.upload_rate"), "{bad:?}: {e}");
        }
    }
}
