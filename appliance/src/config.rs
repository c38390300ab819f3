//! The appliance's TOML configuration, with embedded defaults.
//!
//! The sections parsed here are the messaging core's (`[http]`, `[messages]`, `[clients]`) and the
//! gateway-control ones (`[media]`, `[mgcp]`, `[[gateway]]`, `[[station]]`, `[[trunk]]`); every
//! other section (`[megaco]`, `[sip]`, `[dhcp]`, …) is accepted and left to the subsystem that
//! will own it. A bad value yields an error naming its key (`gateway[1].address`).

use std::net::{IpAddr, SocketAddr};
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

[media]
address = "127.0.0.1"      # where gateways send RTP
rtp_ports = "16384-32767"  # RTP on the even ports, RTCP on the odd one above each

[mgcp]
listen = "0.0.0.0:2727"    # the call agent; bound only when an MGCP gateway is configured

[clients]
ping_interval = "20s"      # WebSocket pings to each client
ping_timeout = "60s"       # a client silent this long is offline
session_ttl = "12h"        # lifetime of a session token
frame_rate = 120           # WebSocket frames per second a client may send (sustained; intercom sends 50/s)
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
    /// An entry of a table array (`[[gateway]]`, `[[station]]`, `[[trunk]]`) is incomplete or
    /// inconsistent.
    #[error("config key `{key}`: {message}")]
    Entry {
        /// The dotted key with its index, such as `gateway[0].address`.
        key: String,
        /// What is wrong.
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
    /// The address gateways send RTP to.
    pub media_address: IpAddr,
    /// The RTP port range on that address.
    pub media_ports: std::ops::RangeInclusive<u16>,
    /// Where the MGCP call agent listens.
    pub mgcp_listen: SocketAddr,
    /// The configured media gateways.
    pub gateways: Vec<Gateway>,
    /// The configured stations (a user's phone on a gateway line or behind a trunk).
    pub stations: Vec<Station>,
    /// The configured analog trunks (FXO ports).
    pub trunks: Vec<Trunk>,
}

/// The protocol a gateway speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// MGCP (RFC 3435).
    Mgcp,
    /// MEGACO / H.248.1.
    Megaco,
    /// AudioCodes TPNCP.
    Tpncp,
}

impl Protocol {
    /// The name used in the config and in `/api/v1/health`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mgcp => "mgcp",
            Self::Megaco => "megaco",
            Self::Tpncp => "tpncp",
        }
    }
}

/// One `[[gateway]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// Its name, which stations refer to.
    pub name: String,
    /// Its protocol.
    pub protocol: Protocol,
    /// Where it listens (MGCP: its port, 2427 by default; TPNCP: 2424).
    pub address: Option<SocketAddr>,
    /// The MGCP domain of its endpoint names (`local@domain`); by default `[ip]` of its address.
    pub domain: Option<String>,
    /// The MEGACO mId it registers with.
    pub mid: Option<String>,
}

/// One `[[station]]`: a user's phone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Station {
    /// The user it belongs to.
    pub user: String,
    /// Where the phone is.
    pub place: StationPlace,
}

/// Where a station's phone is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StationPlace {
    /// On a line of a gateway.
    Line {
        /// The gateway's name.
        gateway: String,
        /// The line's endpoint name on it (`aaln/1`).
        endpoint: String,
    },
    /// Reached by dialling out over a trunk.
    Trunk {
        /// The trunk's name.
        trunk: String,
        /// The number to dial.
        dial: String,
    },
}

/// One `[[trunk]]`: FXO ports of a gateway towards a PBX or the public network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trunk {
    /// Its name, which stations refer to.
    pub name: String,
    /// The gateway holding the ports.
    pub gateway: String,
    /// The ports' endpoint names, used first-free.
    pub endpoints: Vec<String>,
    /// Whether incoming calls on these ports are answered.
    pub dial_in: bool,
}

#[derive(Deserialize, Default)]
struct Raw {
    #[serde(default)]
    http: RawHttp,
    #[serde(default)]
    messages: RawMessages,
    #[serde(default)]
    clients: RawClients,
    #[serde(default)]
    media: RawMedia,
    #[serde(default)]
    mgcp: RawMgcp,
    #[serde(default)]
    gateway: Vec<RawGateway>,
    #[serde(default)]
    station: Vec<RawStation>,
    #[serde(default)]
    trunk: Vec<RawTrunk>,
}

#[derive(Deserialize, Default)]
struct RawMedia {
    address: Option<String>,
    rtp_ports: Option<String>,
}

#[derive(Deserialize, Default)]
struct RawMgcp {
    listen: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawGateway {
    name: String,
    protocol: String,
    address: Option<String>,
    domain: Option<String>,
    mid: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStation {
    user: String,
    gateway: Option<String>,
    endpoint: Option<String>,
    trunk: Option<String>,
    dial: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTrunk {
    name: String,
    gateway: String,
    endpoints: Vec<String>,
    #[serde(default)]
    dial_in: bool,
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
        Self {
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
            media_address: address(
                "media.address",
                &pick(u.media.address, d.media.address),
                "expected an IP address such as \"127.0.0.1\"",
            )?,
            media_ports: port_range(&pick(u.media.rtp_ports, d.media.rtp_ports))?,
            mgcp_listen: address(
                "mgcp.listen",
                &pick(u.mgcp.listen, d.mgcp.listen),
                "expected an address such as \"0.0.0.0:2727\"",
            )?,
            gateways: gateways(u.gateway)?,
            stations: Vec::new(),
            trunks: Vec::new(),
        }
        .with_stations(u.station, u.trunk)
    }

    /// Adds the stations and trunks, checking that each names a configured gateway or trunk.
    fn with_stations(
        mut self,
        stations: Vec<RawStation>,
        trunks: Vec<RawTrunk>,
    ) -> Result<Self, Error> {
        let gateway_known = |key: String, name: &str, gws: &[Gateway]| {
            if gws.iter().any(|g| g.name == name) {
                Ok(())
            } else {
                Err(Error::Entry {
                    key,
                    message: format!("no [[gateway]] is named {name:?}"),
                })
            }
        };
        for (i, t) in trunks.into_iter().enumerate() {
            gateway_known(format!("trunk[{i}].gateway"), &t.gateway, &self.gateways)?;
            if t.endpoints.is_empty() {
                return Err(entry(
                    format!("trunk[{i}].endpoints"),
                    "needs at least one port",
                ));
            }
            if self.trunks.iter().any(|x| x.name == t.name) {
                return Err(entry(format!("trunk[{i}].name"), "is used twice"));
            }
            self.trunks.push(Trunk {
                name: t.name,
                gateway: t.gateway,
                endpoints: t.endpoints,
                dial_in: t.dial_in,
            });
        }
        for (i, s) in stations.into_iter().enumerate() {
            let place = match (s.gateway, s.endpoint, s.trunk, s.dial) {
                (Some(gateway), Some(endpoint), None, None) => {
                    gateway_known(format!("station[{i}].gateway"), &gateway, &self.gateways)?;
                    StationPlace::Line { gateway, endpoint }
                }
                (None, None, Some(trunk), Some(dial)) => {
                    if !self.trunks.iter().any(|t| t.name == trunk) {
                        return Err(entry(
                            format!("station[{i}].trunk"),
                            &format!("no [[trunk]] is named {trunk:?}"),
                        ));
                    }
                    StationPlace::Trunk { trunk, dial }
                }
                _ => {
                    return Err(entry(
                        format!("station[{i}]"),
                        "needs either `gateway` and `endpoint`, or `trunk` and `dial`",
                    ));
                }
            };
            self.stations.push(Station {
                user: s.user,
                place,
            });
        }
        Ok(self)
    }
}

/// `"A-B"`: 1024 <= A < B, room for at least one RTP/RTCP pair.
fn port_range(v: &str) -> Result<std::ops::RangeInclusive<u16>, Error> {
    let parsed = v.split_once('-').and_then(|(a, b)| {
        let (a, b): (u16, u16) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
        (a >= 1024 && b > a.saturating_add(a % 2)).then_some(a..=b)
    });
    parsed.ok_or(Error::Value {
        key: "media.rtp_ports",
        value: v.to_owned(),
        message: "expected a port range such as \"16384-32767\" (from 1024 up)",
    })
}

fn entry(key: String, message: &str) -> Error {
    Error::Entry {
        key,
        message: message.to_owned(),
    }
}

fn address<T: std::str::FromStr>(
    key: &'static str,
    v: &str,
    message: &'static str,
) -> Result<T, Error> {
    v.parse().map_err(|_| Error::Value {
        key,
        value: v.to_owned(),
        message,
    })
}

fn gateways(raw: Vec<RawGateway>) -> Result<Vec<Gateway>, Error> {
    let mut out: Vec<Gateway> = Vec::with_capacity(raw.len());
    for (i, g) in raw.into_iter().enumerate() {
        let protocol = match g.protocol.as_str() {
            "mgcp" => Protocol::Mgcp,
            "megaco" => Protocol::Megaco,
            "tpncp" => Protocol::Tpncp,
            other => {
                return Err(entry(
                    format!("gateway[{i}].protocol"),
                    &format!("expected \"mgcp\", \"megaco\" or \"tpncp\" (got {other:?})"),
                ));
            }
        };
        let address = match g.address {
            Some(a) => Some(parse_gateway_address(&a, protocol).ok_or_else(|| {
                entry(
                    format!("gateway[{i}].address"),
                    &format!("expected an address such as \"192.0.2.10:2427\" (got {a:?})"),
                )
            })?),
            None if protocol == Protocol::Megaco => None,
            None => return Err(entry(format!("gateway[{i}].address"), "is required")),
        };
        if g.name.is_empty() || g.name.contains('/') {
            return Err(entry(
                format!("gateway[{i}].name"),
                "must be non-empty, without '/'",
            ));
        }
        if out.iter().any(|x| x.name == g.name) {
            return Err(entry(format!("gateway[{i}].name"), "is used twice"));
        }
        out.push(Gateway {
            name: g.name,
            protocol,
            address,
            domain: g.domain,
            mid: g.mid,
        });
    }
    Ok(out)
}

/// An address with a port, or a bare IP that gets the protocol's default port.
fn parse_gateway_address(v: &str, protocol: Protocol) -> Option<SocketAddr> {
    if let Ok(a) = v.parse() {
        return Some(a);
    }
    let ip: IpAddr = v.parse().ok()?;
    let port = match protocol {
        Protocol::Mgcp => 2427,
        Protocol::Megaco => 2944,
        Protocol::Tpncp => 2424,
    };
    Some(SocketAddr::new(ip, port))
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
address = "127.0.0.1:2427"
[sip]
listen = "127.0.0.1:5060"
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
    fn gateways_stations_and_trunks() {
        let c = Config::parse(
            "t.toml",
            r#"
[mgcp]
listen = "127.0.0.1:2727"
[[gateway]]
name = "gw1"
protocol = "mgcp"
address = "127.0.0.1"
[[gateway]]
name = "mg1"
protocol = "megaco"
mid = "mg1"
[[station]]
user = "alice"
gateway = "gw1"
endpoint = "aaln/1"
[[station]]
user = "carol"
trunk = "pbx"
dial = "2041"
[[trunk]]
name = "pbx"
gateway = "gw1"
endpoints = ["aaln/3", "aaln/4"]
dial_in = true
"#,
        )
        .unwrap();
        assert_eq!(c.mgcp_listen.to_string(), "127.0.0.1:2727");
        assert_eq!(c.gateways.len(), 2);
        assert_eq!(c.gateways[0].address.unwrap().to_string(), "127.0.0.1:2427");
        assert_eq!(c.gateways[1].protocol, Protocol::Megaco);
        assert_eq!(
            c.stations[0].place,
            StationPlace::Line {
                gateway: "gw1".into(),
                endpoint: "aaln/1".into()
            }
        );
        assert_eq!(
            c.stations[1].place,
            StationPlace::Trunk {
                trunk: "pbx".into(),
                dial: "2041".into()
            }
        );
        assert_eq!(c.trunks[0].endpoints, ["aaln/3", "aaln/4"]);
        assert_eq!(Config::defaults().mgcp_listen.to_string(), "0.0.0.0:2727");
    }

    #[test]
    fn bad_gateway_entries_name_their_key() {
        let gw = "[[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"127.0.0.1:2427\"\n";
        for (text, key) in [
            (
                "[[gateway]]\nname = \"g\"\nprotocol = \"sip\"\n",
                "gateway[0].protocol",
            ),
            (
                "[[gateway]]\nname = \"g\"\nprotocol = \"mgcp\"\n",
                "gateway[0].address",
            ),
            (
                "[[gateway]]\nname = \"g\"\nprotocol = \"mgcp\"\naddress = \"x\"\n",
                "gateway[0].address",
            ),
            (&format!("{gw}{gw}"), "gateway[1].name"),
            (
                &format!(
                    "{gw}[[station]]\nuser = \"a\"\ngateway = \"gw9\"\nendpoint = \"aaln/1\"\n"
                ),
                "station[0].gateway",
            ),
            (
                &format!("{gw}[[station]]\nuser = \"a\"\ngateway = \"gw1\"\n"),
                "station[0]",
            ),
            ("[mgcp]\nlisten = \"2727\"\n", "mgcp.listen"),
            ("[media]\naddress = \"here\"\n", "media.address"),
            ("[media]\nrtp_ports = \"30000-20000\"\n", "media.rtp_ports"),
            ("[media]\nrtp_ports = \"80-90\"\n", "media.rtp_ports"),
        ] {
            let e = Config::parse("t.toml", text).unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
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
