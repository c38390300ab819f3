//! The appliance's TOML configuration, with embedded defaults.
//!
//! Only the sections the messaging core reads are parsed here (`[http]`, `[messages]`, `[clients]`);
//! every other section (`[mgcp]`, `[[gateway]]`, `[[station]]`, …) is accepted and left to the
//! subsystems that own it. A bad value yields an error naming its key.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

/// The configuration embedded in the binary; a `--config` file overrides any of its keys.
pub const DEFAULTS: &str = r#"
[http]
listen = "127.0.0.1:8080"

[messages]
# "delivered": delete the audio once every recipient has acknowledged it;
# "played": once every recipient has played it; or a period such as "30d", "12h", "90m".
retention = "30d"
max_upload = "16MiB"       # cap on one POST /api/v1/messages body
max_duration = "10m"       # longest accepted recording
sweep_interval = "1m"      # how often retention runs

[clients]
ping_interval = "20s"      # WebSocket pings to each client
ping_timeout = "60s"       # a client silent this long is offline
session_ttl = "12h"        # lifetime of a session token
frame_rate = 50            # WebSocket frames per second a client may send (sustained)
frame_burst = 200          # ... and in a burst
max_frame = "64KiB"        # largest WebSocket frame accepted
"#;

/// A configuration error, naming the offending key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TOML is malformed or a key has the wrong type.
    #[error("config {path}: {message}")]
    Syntax {
        /// The file.
        path: String,
        /// The parser's message, which names the key.
        message: String,
    },
    /// A key has a value of the right type but not an accepted one.
    #[error("config key `{key}`: {message} (got {value:?})")]
    Value {
        /// The dotted key.
        key: &'static str,
        /// The value found.
        value: String,
        /// What was expected.
        message: &'static str,
    },
}

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

/// The messaging core's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the REST API and WebSocket listen.
    pub http_listen: SocketAddr,
    /// Audio retention.
    pub retention: Retention,
    /// Largest accepted upload body, in bytes.
    pub max_upload: usize,
    /// Longest accepted recording.
    pub max_duration: Duration,
    /// Period of the retention sweep.
    pub sweep_interval: Duration,
    /// Interval of WebSocket pings.
    pub ping_interval: Duration,
    /// Silence after which a client is dropped.
    pub ping_timeout: Duration,
    /// Session token lifetime.
    pub session_ttl: Duration,
    /// Sustained WebSocket frames per second per connection.
    pub frame_rate: u32,
    /// Burst of WebSocket frames per connection.
    pub frame_burst: u32,
    /// Largest WebSocket frame.
    pub max_frame: usize,
}

#[derive(Deserialize, Default)]
struct Raw {
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    messages: RawMessages,
    #[serde(default)]
    clients: RawClients,
}

#[derive(Deserialize, Default)]
struct RawHttp {
    listen: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawMessages {
    retention: Option<String>,
    max_upload: Option<String>,
    max_duration: Option<String>,
    sweep_interval: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawClients {
    ping_interval: Option<String>,
    ping_timeout: Option<String>,
    session_ttl: Option<String>,
    frame_rate: Option<u32>,
    frame_burst: Option<u32>,
    max_frame: Option<String>,
}

impl Config {
    /// The embedded defaults.
    pub fn defaults() -> Self {
        Self::from_layers(None).expect("embedded defaults are valid")
    }

    /// Reads `path` over the embedded defaults; `None` gives the defaults.
    pub fn load(path: Option<&Path>) -> Result<Self, Error> {
        match path {
            None => Self::from_layers(None),
            Some(p) => {
                let text = std::fs::read_to_string(p).map_err(|source| Error::Read {
                    path: p.display().to_string(),
                    source,
                })?;
                Self::from_layers(Some((&p.display().to_string(), &text)))
            }
        }
    }

    /// Parses `text` (named `name` in errors) over the embedded defaults.
    pub fn parse(name: &str, text: &str) -> Result<Self, Error> {
        Self::from_layers(Some((name, text)))
    }

    fn from_layers(user: Option<(&str, &str)>) -> Result<Self, Error> {
        let parse = |name: &str, text: &str| -> Result<Raw, Error> {
            toml::from_str(text).map_err(|e| Error::Syntax {
                path: name.to_owned(),
                message: e.to_string().trim().replace('\n', " "),
            })
        };
        let d = parse("<embedded defaults>", DEFAULTS)?;
        let u = match user {
            Some((name, text)) => parse(name, text)?,
            None => Raw::default(),
        };
        let pick = |a: Option<String>, b: Option<String>| a.or(b).unwrap_or_default();
        let listen = pick(u.http.listen, d.http.listen);
        Ok(Self {
            http_listen: listen.parse().map_err(|_| Error::Value {
                key: "http.listen",
                value: listen.clone(),
                message: "expected an address such as \"127.0.0.1:8080\"",
            })?,
            retention: retention(&pick(u.messages.retention, d.messages.retention))?,
            max_upload: size(
                "messages.max_upload",
                &pick(u.messages.max_upload, d.messages.max_upload),
            )?,
            max_duration: duration(
                "messages.max_duration",
                &pick(u.messages.max_duration, d.messages.max_duration),
            )?,
            sweep_interval: duration(
                "messages.sweep_interval",
                &pick(u.messages.sweep_interval, d.messages.sweep_interval),
            )?,
            ping_interval: duration(
                "clients.ping_interval",
                &pick(u.clients.ping_interval, d.clients.ping_interval),
            )?,
            ping_timeout: duration(
                "clients.ping_timeout",
                &pick(u.clients.ping_timeout, d.clients.ping_timeout),
            )?,
            session_ttl: duration(
                "clients.session_ttl",
                &pick(u.clients.session_ttl, d.clients.session_ttl),
            )?,
            frame_rate: positive(
                "clients.frame_rate",
                u.clients.frame_rate.or(d.clients.frame_rate),
            )?,
            frame_burst: positive(
                "clients.frame_burst",
                u.clients.frame_burst.or(d.clients.frame_burst),
            )?,
            max_frame: size(
                "clients.max_frame",
                &pick(u.clients.max_frame, d.clients.max_frame),
            )?,
        })
    }
}

fn positive(key: &'static str, v: Option<u32>) -> Result<u32, Error> {
    match v {
        Some(n) if n > 0 => Ok(n),
        other => Err(Error::Value {
            key,
            value: format!("{other:?}"),
            message: "expected a positive integer",
        }),
    }
}

fn retention(v: &str) -> Result<Retention, Error> {
    match v {
        "delivered" => Ok(Retention::Delivered),
        "played" => Ok(Retention::Played),
        _ => parse_duration(v)
            .map(Retention::Period)
            .ok_or(Error::Value {
                key: "messages.retention",
                value: v.to_owned(),
                message: "expected \"delivered\", \"played\" or a period such as \"30d\"",
            }),
    }
}

fn duration(key: &'static str, v: &str) -> Result<Duration, Error> {
    parse_duration(v).ok_or(Error::Value {
        key,
        value: v.to_owned(),
        message: "expected a duration such as \"500ms\", \"20s\", \"10m\", \"12h\" or \"30d\"",
    })
}

fn size(key: &'static str, v: &str) -> Result<usize, Error> {
    parse_size(v).ok_or(Error::Value {
        key,
        value: v.to_owned(),
        message: "expected a size such as \"65536\", \"64KiB\" or \"16MiB\"",
    })
}

/// Parses `"<n><unit>"` with unit ms, s, m, h or d.
pub fn parse_duration(v: &str) -> Option<Duration> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = v.split_at(split);
    let n: u64 = n.parse().ok()?;
    let ms = match unit.trim() {
        "ms" => 1,
        "s" => 1000,
        "m" | "min" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return None,
    };
    n.checked_mul(ms).map(Duration::from_millis)
}

/// Parses a byte count with an optional unit (B, kB, KiB, MB, MiB, GB, GiB).
pub fn parse_size(v: &str) -> Option<usize> {
    let v = v.trim();
    let split = v.find(|c: char| !c.is_ascii_digit()).unwrap_or(v.len());
    let (n, unit) = v.split_at(split);
    let n: usize = n.parse().ok()?;
    let mult: usize = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1000,
        "KiB" => 1024,
        "MB" => 1_000_000,
        "MiB" => 1 << 20,
        "GB" => 1_000_000_000,
        "GiB" => 1 << 30,
        _ => return None,
    };
    n.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse() {
        let c = Config::defaults();
        assert_eq!(c.http_listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            c.retention,
            Retention::Period(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(c.max_upload, 16 << 20);
    }

    #[test]
    fn other_sections_are_accepted_and_keys_override() {
        let c = Config::parse(
            "t.toml",
            r#"
[http]
listen = "127.0.0.1:9999"
[mgcp]
listen = "127.0.0.1:2727"
[[gateway]]
name = "gw1"
protocol = "mgcp"
[[station]]
user = "alice"
gateway = "gw1"
endpoint = "aaln/1"
[messages]
retention = "delivered"
max_upload = "1MiB"
"#,
        )
        .unwrap();
        assert_eq!(c.http_listen.port(), 9999);
        assert_eq!(c.retention, Retention::Delivered);
        assert_eq!(c.max_upload, 1 << 20);
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = Config::parse("t.toml", "[messages]\nretention = \"forever\"\n").unwrap_err();
        assert!(e.to_string().contains("messages.retention"), "{e}");
        let e = Config::parse("t.toml", "[http]\nlisten = \"nowhere\"\n").unwrap_err();
        assert!(e.to_string().contains("http.listen"), "{e}");
        let e = Config::parse("t.toml", "[clients]\nping_timeout = 5\n").unwrap_err();
        assert!(e.to_string().contains("ping_timeout"), "{e}");
        let e = Config::parse("t.toml", "[clients]\nframe_rate = 0\n").unwrap_err();
        assert!(e.to_string().contains("clients.frame_rate"), "{e}");
    }

    #[test]
    fn units() {
        assert_eq!(parse_duration("1500ms"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        assert_eq!(parse_duration("h"), None);
        assert_eq!(parse_size("64KiB"), Some(65536));
        assert_eq!(parse_size("12"), Some(12));
        assert_eq!(parse_size("1TB"), None);
    }
}
