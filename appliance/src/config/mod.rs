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
//! The sections of parts not built yet ([`NOT_BUILT`], none today; `[federation]` was one until
//! issue 24) are *not* errors: CONTRACT.md's example config may hold them and `offhook serve`
//! must start with it, and an owner who writes them ahead of the
//! part should not have to delete them again when it ships. They are listed in
//! [`Config::not_built`] and [`Config::warn_not_built`] logs a warning naming each at start-up,
//! so nobody believes them in force. Their keys are not checked, as nothing defines them yet.

mod check;
pub mod clients;
pub mod dhcp;
pub mod federation;
pub mod gateway;
pub mod http;
pub mod lcd;
pub mod media;
pub mod megaco;
pub mod messages;
pub mod mgcp;
pub mod network;
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
disk_reserve = "auto"      # free space the data disk keeps, uploads that would eat into it get 507:
                           # a size, "auto" (1 GiB or 5 % of the disk, the smaller) or "0" (none)

[media]
address = "127.0.0.1"      # where gateways send RTP
rtp_ports = "16384-32767"  # RTP on the even ports, RTCP on the odd one above each
realtime_priority = 10     # the engine's threads in SCHED_FIFO at this priority (1-99; 0: normal),
                           # so other work on a busy core does not make packets late; needs CAP_SYS_NICE or LimitRTPRIO

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
    ("network", Shape::Table(network::KEYS)),
    ("dhcp", Shape::Table(dhcp::KEYS)),
    ("tftp", Shape::Table(provisioning::TFTP_KEYS)),
    ("provisioning", Shape::Table(provisioning::KEYS)),
    ("sip", Shape::Table(sip::KEYS)),
    ("lcd", Shape::Table(lcd::KEYS)),
    ("federation", Shape::Table(federation::KEYS)),
];

/// Sections of parts not built yet: accepted, and warned about at start-up (see the module
/// docs for why they are not errors).
pub const NOT_BUILT: &[&str] = &[];

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
    /// `[network]`: the LAN interface and its settings.
    pub network: network::Network,
    /// `[dhcp]`, when it names an interface.
    pub dhcp: Option<Dhcp>,
    /// `[tftp]`.
    pub tftp: Tftp,
    /// `[provisioning]`.
    pub provisioning: Provisioning,
    /// `[sip]`.
    pub sip: Sip,
    /// `[lcd]`, when it names LCDd's address: the front panel.
    pub lcd: Option<lcd::Lcd>,
    /// `[federation]`, when the file has it: this site's part in the federation.
    pub federation: Option<offhook_federation::Config>,
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
    network: network::Raw,
    #[serde(default)]
    tftp: provisioning::TftpRaw,
    #[serde(default)]
    provisioning: provisioning::Raw,
    #[serde(default)]
    sip: sip::Raw,
    #[serde(default)]
    lcd: lcd::Raw,
    federation: Option<federation::Raw>,
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
        let dhcp = Dhcp::build(u.dhcp)?;
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
            network: network::Network::build(u.network, dhcp.as_ref())?,
            dhcp,
            tftp: Tftp::build(u.tftp)?,
            provisioning: Provisioning::build(u.provisioning)?,
            sip: Sip::build(u.sip, d.sip)?,
            lcd: lcd::Lcd::build(u.lcd)?,
            federation: federation::build(u.federation)?,
            not_built,
        })
    }
}

#[cfg(test)]
mod tests;
