//! The appliance's TOML configuration, with embedded defaults: one module per section.
//!
//! - the messaging core's: [`http`] (`[http]`), [`messages`], [`clients`];
//! - gateway control's: [`media`], [`mgcp`], [`megaco`], [`tpncp`], [`gateway`] (`[[gateway]]`), [`station`],
//!   [`trunk`].
//!
//! A user's file is laid over [`DEFAULTS`] key by key. Every key is checked against its
//! section's list first (`check`): an unknown key or section is an error naming it, its line and
//! the closest known name. A bad value is an error naming its dotted key (`gateway[1].address`,
//! `mgcp.max_outstanding`); the protocol sections build their core's `Config` through its
//! validated setters, so the core's own limits are reported against the key too.
//!
//! The sections of parts not built yet ([`NOT_BUILT`]:
//! `[lcd]`, `[federation]`) are *not* errors: CONTRACT.md's example config
//! holds them and `offhook serve` must start with it, and an owner who writes them ahead of the
//! part should not have to delete them again when it ships. They are listed in
//! [`Config::not_built`] and [`Config::warn_not_built`] logs a warning naming each at start-up,
//! so nobody believes them in force. Their keys are not checked, as nothing defines them yet.

mod check;
pub mod clients;
pub mod dhcp;
pub mod gateway;
pub mod http;
pub mod media;
pub mod megaco;
pub mod messages;
pub mod mgcp;
pub mod provisioning;
pub mod sip;
pub mod station;
pub mod tpncp;
pub mod trunk;
mod values;

use std::path::Path;

use serde::Deserialize;

pub use clients::Clients;
pub use dhcp::Dhcp;
pub use gateway::{Gateway, GatewayAddress, Protocol};
pub use http::{Http, Plain, Tls};
pub use media::Media;
pub use megaco::Megaco;
pub use messages::{Messages, Retention, UploadRate};
pub use mgcp::Mgcp;
pub use provisioning::{Provisioning, Tftp};
pub use sip::Sip;
pub use station::{Station, StationPlace};
pub use tpncp::Tpncp;
pub use trunk::Trunk;
pub use values::{parse_duration, parse_size};

/// The configuration embedded in the binary; a `--config` file overrides any of its keys.
pub const DEFAULTS: &str = r#"
[http]
listen = "127.0.0.1:8080"
header_timeout = "10s"         # a connection sends a request head within this, or is closed
max_idle_connections = 256     # connections waiting for a request; beyond, the oldest is closed
metrics = "open"               # who reads /metrics: "open" (anyone), "admin" (admins' sessions), "off"
tls = "auto"                   # HTTPS on listen: "auto" (when listen is not loopback), "on", "off"
# tls_cert = "/etc/offhook/tls/cert.pem"   # the owner's certificate chain and key (PEM);
# tls_key = "/etc/offhook/tls/key.pem"     # unset: a self-signed one made in DATA/tls
loopback_listen = "127.0.0.1:8080"         # plain HTTP for local clients while listen is HTTPS

[messages]
# "delivered": delete the audio once every recipient has acknowledged it;
# "played": once every recipient has played it; or a period such as "30d", "12h", "90m".
retention = "30d"
max_upload = "16MiB"       # cap on one POST /api/v1/messages body
max_attachments = 16       # attachments one message may carry (0: none)
max_duration = "10m"       # longest accepted recording
sweep_interval = "1m"      # how often retention runs
quota_per_user = "1GiB"    # bytes each user's sent messages may hold on disk ("0": no quota)
upload_rate = "64MiB/min"  # bytes each user may upload per s, min or h, in bursts of max_upload ("off": no limit)

[media]
address = "127.0.0.1"      # where gateways send RTP
rtp_ports = "16384-32767"  # RTP on the even ports, RTCP on the odd one above each

[mgcp]
listen = "0.0.0.0:2727"    # the call agent; bound only when an MGCP gateway is configured
piggyback = true           # several messages to a gateway in one datagram (off for osmo-mgw 1.10)
max_outstanding = 32       # commands in flight per gateway; the rest wait in order
# max_send_rate = 100      # new commands per second per gateway (unset: no limit)
max_queued = 16384         # commands waiting per gateway before new ones fail
probe_interval = "1s"      # first probe of an unreachable gateway; then doubling ...
max_probe_interval = "64s" # ... up to this
max_restart_delay = "300s" # longest RestartDelay honoured before re-auditing
max_arm_failures = 3       # a line whose re-arm fails this often in a row is left alone ...
arm_retry_interval = "60s" # ... for this long
initial_rtt = "200ms"      # first retransmission timer (RFC 3435 section 4.3)
max_retransmit_interval = "4s"
max_retransmissions = 7
t_max = "20s"              # a command unanswered this long has failed
t_hist = "30s"             # responses kept this long to answer duplicates

[megaco]
listen = "0.0.0.0:2944"    # the MGC, UDP and TCP, every encoding; bound only when a MEGACO gateway is configured
# listen_binary = "0.0.0.0:2945"  # an extra UDP and TCP address for the binary encoding only
# mid = "[192.0.2.1]:2944" # the controller's mId (default: [IP]:port of listen, the media address for 0.0.0.0)
keepalive = "60s"          # a registered gateway is audited this often
probe_interval = "10s"     # an unreachable gateway is probed this often

[tpncp]
keepalive = "10s"          # a board silent this long is probed (the host connects to each board's port 2424)
ack_timeout = "2s"         # a command unacknowledged this long fails (TCP: the connection is closed)
reconnect_min = "1s"       # first wait before connecting again to a board that went away; then doubling ...
reconnect_max = "60s"      # ... up to this

[sip]
enabled = true             # the SIP registrar and user agent: IP handsets as stations
listen = "0.0.0.0:5060"    # UDP and TCP
listen_code = "*97"        # what a phone dials to listen to its user's messages
realm = "offhook"          # the digest realm phones authenticate in
digest_algorithms = ["MD5"] # challenges offered, in order; add "SHA-256" (RFC 8760) for phones that take it
keepalive = "30s"          # each registered phone is sent an OPTIONS this often ("0s": never)
min_expires = "60s"        # shorter registrations are answered 423 Interval Too Brief
max_expires = "1h"         # longer ones are granted this
auth_failures_per_minute = 10  # wrong credentials from one address before it is refused for the minute
max_transactions = 10000   # SIP transactions at once; past it new requests are answered 503
max_calls_setting_up = 64  # phones' calls being set up at once; past it a new one is answered 503

[clients]
ping_interval = "20s"      # WebSocket pings to each client
ping_timeout = "60s"       # a client silent this long is offline
session_ttl = "12h"        # lifetime of a session token
frame_rate = 120           # WebSocket frames per second a client may send (sustained; intercom sends 50/s)
frame_burst = 200          # ... and in a burst
max_frame = "64KiB"        # largest WebSocket frame accepted
max_sessions_per_user = 16 # WebSocket sessions one user may have open at once
"#;

/// The shape of a section: a table (`[http]`) or an array of tables (`[[gateway]]`), with the
/// keys it knows.
#[derive(Debug, Clone, Copy)]
pub enum Shape {
    /// `[name]`.
    Table(&'static [&'static str]),
    /// `[[name]]`.
    Array(&'static [&'static str]),
}

/// Every section the parser knows, with its keys (the docs test checks each is documented).
pub const SECTIONS: &[(&str, Shape)] = &[
    ("http", Shape::Table(http::KEYS)),
    ("messages", Shape::Table(messages::KEYS)),
    ("clients", Shape::Table(clients::KEYS)),
    ("media", Shape::Table(media::KEYS)),
    ("mgcp", Shape::Table(mgcp::KEYS)),
    ("megaco", Shape::Table(megaco::KEYS)),
    ("tpncp", Shape::Table(tpncp::KEYS)),
    ("gateway", Shape::Array(gateway::KEYS)),
    ("station", Shape::Array(station::KEYS)),
    ("trunk", Shape::Array(trunk::KEYS)),
    ("dhcp", Shape::Table(dhcp::KEYS)),
    ("tftp", Shape::Table(provisioning::TFTP_KEYS)),
    ("provisioning", Shape::Table(provisioning::KEYS)),
    ("sip", Shape::Table(sip::KEYS)),
];

/// Sections of parts not built yet: accepted, and warned about at start-up (see the module
/// docs for why they are not errors).
pub const NOT_BUILT: &[&str] = &["lcd", "federation"];

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
    /// A key its section does not have.
    #[error(
        "config {path}: unknown key {key:?} in {section} at line {line}{}",
        did_you_mean(*suggestion)
    )]
    UnknownKey {
        /// The file.
        path: String,
        /// `[http]`, or `gateway[1]` for an entry of a table array.
        section: String,
        /// The key.
        key: String,
        /// Its line, from 1.
        line: usize,
        /// The closest known key, if one is close.
        suggestion: Option<&'static str>,
    },
    /// A section the appliance does not have.
    #[error(
        "config {path}: unknown section [{section}] at line {line}{}",
        did_you_mean(*suggestion)
    )]
    UnknownSection {
        /// The file.
        path: String,
        /// The section's name.
        section: String,
        /// Its line, from 1.
        line: usize,
        /// The closest known section, if one is close.
        suggestion: Option<&'static str>,
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
    #[error("config key `{key}`: {message} (got {value})")]
    Value {
        /// The dotted key, such as `mgcp.max_outstanding`.
        key: String,
        /// The value found.
        value: String,
        /// What was expected, or why the core refused it.
        message: String,
    },
}

fn did_you_mean(suggestion: Option<&str>) -> String {
    suggestion.map_or_else(String::new, |s| format!("; did you mean {s:?}?"))
}

fn entry(key: String, message: &str) -> Error {
    Error::Entry {
        key,
        message: message.to_owned(),
    }
}

/// The configuration, one field per section.
#[derive(Debug, Clone)]
pub struct Config {
    /// `[http]`.
    pub http: Http,
    /// `[messages]`.
    pub messages: Messages,
    /// `[clients]`.
    pub clients: Clients,
    /// `[media]`.
    pub media: Media,
    /// `[mgcp]`.
    pub mgcp: Mgcp,
    /// `[megaco]`.
    pub megaco: Megaco,
    /// `[tpncp]`.
    pub tpncp: Tpncp,
    /// The `[[gateway]]` entries.
    pub gateways: Vec<Gateway>,
    /// The `[[station]]` entries (a user's phone on a gateway line or behind a trunk).
    pub stations: Vec<Station>,
    /// The `[[trunk]]` entries (FXO ports).
    pub trunks: Vec<Trunk>,
    /// `[dhcp]`, when it names an interface.
    pub dhcp: Option<Dhcp>,
    /// `[tftp]`.
    pub tftp: Tftp,
    /// `[provisioning]`.
    pub provisioning: Provisioning,
    /// `[sip]`.
    pub sip: Sip,
    /// Sections of parts not built yet that the file holds ([`NOT_BUILT`]).
    pub not_built: Vec<&'static str>,
}

#[derive(Deserialize, Default)]
struct Raw {
    #[serde(default)]
    http: http::Raw,
    #[serde(default)]
    messages: messages::Raw,
    #[serde(default)]
    clients: clients::Raw,
    #[serde(default)]
    media: media::Raw,
    #[serde(default)]
    mgcp: mgcp::Raw,
    #[serde(default)]
    megaco: megaco::Raw,
    #[serde(default)]
    tpncp: tpncp::Raw,
    #[serde(default)]
    gateway: Vec<gateway::Raw>,
    #[serde(default)]
    station: Vec<station::Raw>,
    #[serde(default)]
    trunk: Vec<trunk::Raw>,
    dhcp: Option<dhcp::Raw>,
    #[serde(default)]
    tftp: provisioning::TftpRaw,
    #[serde(default)]
    provisioning: provisioning::Raw,
    #[serde(default)]
    sip: sip::Raw,
}

/// Checks a file's keys, then reads its values.
fn read(name: &str, text: &str) -> Result<(Raw, Vec<&'static str>), Error> {
    let not_built = check::keys(name, text)?;
    let raw = toml::from_str(text).map_err(|e| Error::Syntax {
        path: name.to_owned(),
        message: e.to_string().trim().replace('\n', " "),
    })?;
    Ok((raw, not_built))
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

    /// Logs a warning naming each section of a part not built yet, which has no effect.
    pub fn warn_not_built(&self) {
        for section in &self.not_built {
            tracing::warn!(
                section = %format_args!("[{section}]"),
                "this config section is for a part not built yet; it has no effect"
            );
        }
    }

    fn from_layers(user: Option<(&str, &str)>) -> Result<Self, Error> {
        let (d, _) = read("<embedded defaults>", DEFAULTS)?;
        let (u, not_built) = match user {
            Some((name, text)) => read(name, text)?,
            None => (Raw::default(), Vec::new()),
        };
        let gateways = gateway::build(u.gateway)?;
        let trunks = trunk::build(u.trunk, &gateways)?;
        let stations = station::build(u.station, &gateways, &trunks)?;
        Ok(Self {
            http: Http::build(u.http, d.http)?,
            messages: Messages::build(u.messages, d.messages)?,
            clients: Clients::build(u.clients, d.clients)?,
            media: Media::build(u.media, d.media)?,
            mgcp: Mgcp::build(u.mgcp, d.mgcp)?,
            megaco: Megaco::build(u.megaco, d.megaco)?,
            tpncp: Tpncp::build(u.tpncp, d.tpncp)?,
            gateways,
            stations,
            trunks,
            dhcp: Dhcp::build(u.dhcp)?,
            tftp: Tftp::build(u.tftp)?,
            provisioning: Provisioning::build(u.provisioning)?,
            sip: Sip::build(u.sip, d.sip)?,
            not_built,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn defaults_parse() {
        let c = Config::defaults();
        assert_eq!(c.http.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(
            c.messages.retention,
            Retention::Period(Duration::from_secs(30 * 86_400))
        );
        assert_eq!(c.messages.max_upload, 16 << 20);
        assert_eq!(c.messages.quota_per_user, 1 << 30);
        assert_eq!(
            c.messages.upload_rate,
            Some(UploadRate {
                bytes: 64 << 20,
                per: Duration::from_secs(60)
            })
        );
    }

    #[test]
    fn unbuilt_sections_are_accepted_and_keys_override() {
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
        assert_eq!(c.http.listen.port(), 9999);
        assert_eq!(c.messages.retention, Retention::Delivered);
        assert_eq!(c.messages.max_upload, 1 << 20);
    }

    #[test]
    fn bad_values_name_their_key() {
        let e = Config::parse("t.toml", "[messages]\nretention = \"forever\"\n").unwrap_err();
        assert!(e.to_string().contains("messages.retention"), "{e}");
        let e = Config::parse("t.toml", "[http]\nlisten = \"nowhere\"\n").unwrap_err();
        assert!(e.to_string().contains("http.listen"), "{e}");
        let e = Config::parse("t.toml", "[clients]\nping_timeout = 5\n").unwrap_err();
        assert!(e.to_string().contains("ping_timeout"), "{e}");
        let e = Config::parse("t.toml", "[messages]\nquota_per_user = \"lots\"\n").unwrap_err();
        assert!(e.to_string().contains("messages.quota_per_user"), "{e}");
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
        assert_eq!(c.mgcp.listen.to_string(), "127.0.0.1:2727");
        assert_eq!(c.gateways.len(), 2);
        assert_eq!(
            c.gateways[0].address.as_ref().unwrap().to_string(),
            "127.0.0.1:2427"
        );
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
        assert_eq!(Config::defaults().mgcp.listen.to_string(), "0.0.0.0:2727");
    }

    /// Issue 15: a gateway named by DNS name, with or without a port.
    #[test]
    fn gateways_by_dns_name() {
        let c = Config::parse(
            "t.toml",
            "[[gateway]]\nname = \"vg\"\nprotocol = \"mgcp\"\naddress = \"VG224.example.net\"\n\
             [[gateway]]\nname = \"mta\"\nprotocol = \"mgcp\"\naddress = \"mta-7.cable.example:2728\"\n\
             [[gateway]]\nname = \"lan\"\nprotocol = \"mgcp\"\naddress = \"localhost.\"\n",
        )
        .unwrap();
        let name = |host: &str, port| GatewayAddress::Name {
            host: host.into(),
            port,
        };
        assert_eq!(c.gateways[0].address, Some(name("VG224.example.net", 2427)));
        assert_eq!(
            c.gateways[1].address,
            Some(name("mta-7.cable.example", 2728))
        );
        assert_eq!(c.gateways[2].address, Some(name("localhost.", 2427)));
        assert_eq!(
            c.gateways[1].address.as_ref().unwrap().to_string(),
            "mta-7.cable.example:2728"
        );
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
                "[[gateway]]\nname = \"g\"\nprotocol = \"mgcp\"\naddress = \"gw 1\"\n",
                "gateway[0].address",
            ),
            (
                "[[gateway]]\nname = \"g\"\nprotocol = \"mgcp\"\naddress = \"192.0.2\"\n",
                "gateway[0].address",
            ),
            (
                "[[gateway]]\nname = \"g\"\nprotocol = \"mgcp\"\naddress = \"vg.example.net:0\"\n",
                "gateway[0].address",
            ),
            (
                "[[gateway]]\nname = \"g\"\nprotocol = \"mgcp\"\naddress = \"-vg.example.net\"\n",
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
    fn unknown_keys_and_sections_name_their_line_and_the_nearest_key() {
        let e = Config::parse(
            "t.toml",
            "[media]\naddress = \"127.0.0.1\"\n[http]\nlistne = \"x\"\n",
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(r#"unknown key "listne" in [http] at line 4; did you mean "listen"?"#),
            "{e}"
        );
        let e = Config::parse("t.toml", "\n[foo]\nx = 1\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("unknown section [foo] at line 2"), "{e}");
        assert!(!e.contains("did you mean"), "{e}");
        let e = Config::parse("t.toml", "[[gateways]]\nname = \"g\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains(r#"did you mean "gateway"?"#), "{e}");
        let gw = "[[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"127.0.0.1\"\n";
        let e = Config::parse("t.toml", &format!("{gw}{gw}adress = \"x\"\n"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(r#"unknown key "adress" in gateway[1] at line 9; did you mean "address"?"#),
            "{e}"
        );
    }

    #[test]
    fn the_contract_example_parses_with_its_unbuilt_sections_listed() {
        // The reference's example, with documentation addresses (RFC 5737) for the LAN.
        let text = r#"
[http]
listen = "127.0.0.1:8080"
header_timeout = "10s"         # a connection sends a request head within this, or is closed
max_idle_connections = 256     # connections waiting for a request; beyond, the oldest is closed
metrics = "open"               # who reads /metrics: "open" (anyone), "admin" (admins' sessions), "off"
[media]
address = "127.0.0.1"
[mgcp]
listen = "127.0.0.1:2727"
[megaco]
listen = "127.0.0.1:2944"
[[gateway]]
name = "gw1"
protocol = "mgcp"
address = "127.0.0.1:2427"
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
[dhcp]
interface = "lan0"
range = "192.0.2.100-192.0.2.250"
router = "192.0.2.1"
lease = "1h"
[tftp]
enabled = true
[provisioning]
http_listen = "192.0.2.1:8088"
registrar = "192.0.2.1"
[sip]
listen = "127.0.0.1:5060"
[lcd]
server = "127.0.0.1:13666"
[federation]
site = "hq"
servers = ["nats://127.0.0.1:4222"]
"#;
        let c = Config::parse("contract.toml", text).unwrap();
        assert_eq!(c.megaco.listen.to_string(), "127.0.0.1:2944");
        assert_eq!(c.gateways[1].mid.as_deref(), Some("mg1"));
        assert_eq!(c.not_built, ["federation", "lcd"]);
        let dhcp = c.dhcp.expect("[dhcp] names an interface");
        assert_eq!(dhcp.interface, "lan0");
        assert!(c.tftp.enabled);
        assert_eq!(
            c.provisioning.http_listen.map(|a| a.to_string()).as_deref(),
            Some("192.0.2.1:8088")
        );
    }

    #[test]
    fn megaco_settings_and_gateways_are_checked() {
        let d = Config::defaults().megaco;
        assert_eq!(d.listen.to_string(), "0.0.0.0:2944");
        assert_eq!((d.listen_binary, d.mid), (None, None));
        assert_eq!(d.keepalive, Duration::from_secs(60));
        let c = Config::parse(
            "t.toml",
            "[megaco]\nlisten_binary = \"127.0.0.1:2945\"\nmid = \"<mgc.example.net>:2944\"\nkeepalive = \"5s\"\n",
        )
        .unwrap();
        assert_eq!(c.megaco.listen_binary.unwrap().port(), 2945);
        assert_eq!(c.megaco.keepalive, Duration::from_secs(5));
        for (text, key) in [
            ("[megaco]\nlisten = \"2944\"\n", "megaco.listen"),
            ("[megaco]\nmid = \"not an mid\"\n", "megaco.mid"),
            ("[megaco]\nkeepalive = \"0s\"\n", "megaco.keepalive"),
            (
                "[[gateway]]\nname = \"mg\"\nprotocol = \"megaco\"\n",
                "gateway[0].mid",
            ),
            (
                "[[gateway]]\nname = \"mg\"\nprotocol = \"megaco\"\nmid = \"[1.2.3]\"\n",
                "gateway[0].mid",
            ),
        ] {
            let e = Config::parse("t.toml", text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn tpncp_settings_and_board_keys_are_checked() {
        let d = Config::defaults().tpncp;
        assert_eq!(
            (d.keepalive, d.ack_timeout, d.reconnect_min, d.reconnect_max),
            (
                Duration::from_secs(10),
                Duration::from_secs(2),
                Duration::from_secs(1),
                Duration::from_secs(60)
            )
        );
        let c = Config::parse(
            "t.toml",
            "[tpncp]\nkeepalive = \"3s\"\nreconnect_max = \"5s\"\n\
             [[gateway]]\nname = \"tp\"\nprotocol = \"tpncp\"\naddress = \"192.0.2.9\"\n\
             transport = \"udp\"\nrtp_port = 4000\nbyte_order = \"little\"\n\
             [[gateway]]\nname = \"tp2\"\nprotocol = \"tpncp\"\naddress = \"192.0.2.10\"\n",
        )
        .unwrap();
        assert_eq!(c.tpncp.keepalive, Duration::from_secs(3));
        assert_eq!(c.tpncp.reconnect_max, Duration::from_secs(5));
        let (tp, tp2) = (&c.gateways[0], &c.gateways[1]);
        assert_eq!(tp.address.as_ref().unwrap().port(), 2424);
        assert_eq!(
            tp.board,
            gateway::Board {
                udp: true,
                rtp_port: 4000,
                little_endian: true
            }
        );
        assert_eq!(tp2.board, gateway::Board::default());
        assert_eq!(tp2.board.rtp_port, 6000);
        for (text, key) in [
            ("[tpncp]\nkeepalive = \"0s\"\n", "tpncp.keepalive"),
            ("[tpncp]\nack_timeout = \"soon\"\n", "tpncp.ack_timeout"),
            (
                "[tpncp]\nreconnect_min = \"10s\"\nreconnect_max = \"5s\"\n",
                "tpncp.reconnect_max",
            ),
            (
                "[[gateway]]\nname = \"tp\"\nprotocol = \"tpncp\"\n",
                "gateway[0].address",
            ),
            (
                "[[gateway]]\nname = \"tp\"\nprotocol = \"tpncp\"\naddress = \"192.0.2.9\"\ntransport = \"sctp\"\n",
                "gateway[0].transport",
            ),
            (
                "[[gateway]]\nname = \"tp\"\nprotocol = \"tpncp\"\naddress = \"192.0.2.9\"\nrtp_port = 6001\n",
                "gateway[0].rtp_port",
            ),
            (
                "[[gateway]]\nname = \"tp\"\nprotocol = \"tpncp\"\naddress = \"192.0.2.9\"\nrtp_port = 70000\n",
                "gateway[0].rtp_port",
            ),
            (
                "[[gateway]]\nname = \"tp\"\nprotocol = \"tpncp\"\naddress = \"192.0.2.9\"\nbyte_order = \"middle\"\n",
                "gateway[0].byte_order",
            ),
            (
                "[[gateway]]\nname = \"gw\"\nprotocol = \"mgcp\"\naddress = \"192.0.2.9\"\nrtp_port = 6000\n",
                "gateway[0].rtp_port",
            ),
        ] {
            let e = Config::parse("t.toml", text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn mgcp_settings_go_through_the_agents_setters() {
        assert_eq!(
            Config::defaults().mgcp.agent,
            gateway_control::mgcp::Config::default(),
            "DEFAULTS and the call agent's own defaults agree"
        );
        let c = Config::parse(
            "t.toml",
            "[mgcp]\npiggyback = false\nmax_send_rate = 50\ninitial_rtt = \"5s\"\nmax_retransmit_interval = \"8s\"\n",
        )
        .unwrap();
        assert!(!c.mgcp.agent.piggyback);
        assert_eq!(c.mgcp.agent.max_send_rate, Some(50));
        assert_eq!(c.mgcp.agent.transaction.initial_rtt.as_secs(), 5);
        for (text, key) in [
            ("[mgcp]\nmax_outstanding = 0\n", "mgcp.max_outstanding"),
            ("[mgcp]\nmax_send_rate = 0\n", "mgcp.max_send_rate"),
            ("[mgcp]\nt_max = \"0s\"\n", "mgcp.t_max"),
            ("[mgcp]\ninitial_rtt = \"10s\"\n", "mgcp.initial_rtt"),
            ("[mgcp]\nprobe_interval = \"2m\"\n", "mgcp.probe_interval"),
            (
                "[mgcp]\narm_retry_interval = \"soon\"\n",
                "mgcp.arm_retry_interval",
            ),
        ] {
            let e = Config::parse("t.toml", text).unwrap_err().to_string();
            assert!(e.contains(key), "{key}: {e}");
        }
    }
}
