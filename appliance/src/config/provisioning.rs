//! `[tftp]` and `[provisioning]`: how phones fetch their configuration files, over TFTP and
//! HTTP, and what those files say. Both serve only while `[dhcp]` names the LAN interface (the
//! address they default to is that interface's).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::Error;
use super::values::{bad, parsed, positive_duration};

/// The keys of `[tftp]`.
pub(super) const TFTP_KEYS: &[&str] = &[
    "enabled",
    "listen",
    "root",
    "max_blksize",
    "max_window",
    "max_transfers",
    "timeout",
    "retries",
];

/// The keys of `[provisioning]`.
pub(super) const KEYS: &[&str] = &[
    "http_listen",
    "tls",
    "registrar",
    "sip_port",
    "ntp",
    "timezone",
    "name",
    "firmware",
    "templates",
    "auth",
    "user",
    "password",
];

/// `max_blksize`'s default (RFC 2348's largest).
pub const DEFAULT_MAX_BLKSIZE: u16 = 65464;
/// `max_window`'s default.
pub const DEFAULT_MAX_WINDOW: u16 = 64;
/// `max_transfers`'s default.
pub const DEFAULT_MAX_TRANSFERS: usize = 4096;
/// `timeout`'s default: a block unacknowledged this long is sent again.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
/// `retries`' default.
pub const DEFAULT_RETRIES: u32 = 5;

/// `[tftp]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tftp {
    /// `enabled`.
    pub enabled: bool,
    /// `listen`: `None` is the DHCP interface's address, port 69.
    pub listen: Option<SocketAddr>,
    /// `root`: the directory served (relative: under the data directory).
    pub root: PathBuf,
    /// `max_blksize`: the largest block size granted (RFC 2348).
    pub max_blksize: u16,
    /// `max_window`: the largest window granted (RFC 7440).
    pub max_window: u16,
    /// `max_transfers`: transfers at once; one more is refused as busy.
    pub max_transfers: usize,
    /// `timeout`: the retransmission timeout when the client asks for none (RFC 2349).
    pub timeout: Duration,
    /// `retries`: retransmissions of a block before the transfer is abandoned.
    pub retries: u32,
}

/// Who may fetch per-device files over HTTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpAuth {
    /// `"none"`: anyone on the LAN.
    None,
    /// `"device"`: each phone with its own credentials (user name its MAC, password its
    /// device secret, shown by `offhook device show`).
    Device,
    /// `"shared"`: one user name and password (`user`, `password`) for every phone.
    Shared {
        /// `user`.
        user: String,
        /// `password`.
        password: String,
    },
}

/// `[provisioning]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Provisioning {
    /// `http_listen`: the HTTP provisioning server; `None`: none.
    pub http_listen: Option<SocketAddr>,
    /// `tls`: HTTPS there, with the appliance's certificate.
    pub tls: bool,
    /// `registrar`: the SIP registrar phones are told of; `None`: the DHCP interface's address.
    pub registrar: Option<String>,
    /// `sip_port`: the registrar's port phones are told of; `None`: `[sip] listen`'s.
    pub sip_port: Option<u16>,
    /// `ntp`: time servers phones are told of; empty: `[dhcp] ntp`, else the registrar.
    pub ntp: Vec<String>,
    /// `timezone`: an IANA zone name.
    pub timezone: String,
    /// `name`: the label phones show.
    pub name: String,
    /// `firmware`: a directory of firmware files served over HTTP (and TFTP when no `[tftp]
    /// root` file has the name).
    pub firmware: Option<PathBuf>,
    /// `templates`: a directory of template overrides.
    pub templates: Option<PathBuf>,
    /// `auth`.
    pub auth: HttpAuth,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct TftpRaw {
    enabled: Option<bool>,
    listen: Option<String>,
    root: Option<String>,
    max_blksize: Option<u16>,
    max_window: Option<u16>,
    max_transfers: Option<usize>,
    timeout: Option<String>,
    retries: Option<u32>,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    http_listen: Option<String>,
    tls: Option<bool>,
    registrar: Option<String>,
    sip_port: Option<u16>,
    ntp: Option<Vec<String>>,
    timezone: Option<String>,
    name: Option<String>,
    firmware: Option<String>,
    templates: Option<String>,
    auth: Option<String>,
    user: Option<String>,
    password: Option<String>,
}

impl Tftp {
    /// Builds `[tftp]`.
    pub(super) fn build(u: TftpRaw) -> Result<Self, Error> {
        let listen = u
            .listen
            .map(|l| {
                parsed(
                    "tftp.listen",
                    &l,
                    "expected an address such as \"10.99.0.1:69\"",
                )
            })
            .transpose()?;
        let max_blksize = u.max_blksize.unwrap_or(DEFAULT_MAX_BLKSIZE);
        if !(512..=65464).contains(&max_blksize) {
            return Err(bad(
                "tftp.max_blksize",
                max_blksize,
                "expected 512 to 65464 (RFC 2348)",
            ));
        }
        let max_window = u.max_window.unwrap_or(DEFAULT_MAX_WINDOW);
        if max_window == 0 {
            return Err(bad("tftp.max_window", 0, "expected 1 to 65535 (RFC 7440)"));
        }
        let max_transfers = u.max_transfers.unwrap_or(DEFAULT_MAX_TRANSFERS);
        if max_transfers == 0 || max_transfers > 65_536 {
            return Err(bad(
                "tftp.max_transfers",
                max_transfers,
                "expected 1 to 65536",
            ));
        }
        let timeout = u
            .timeout
            .map(|t| positive_duration("tftp.timeout", &t))
            .transpose()?
            .unwrap_or(DEFAULT_TIMEOUT);
        if timeout > Duration::from_secs(255) {
            return Err(bad(
                "tftp.timeout",
                format!("{timeout:?}"),
                "expected at most 255 s (RFC 2349)",
            ));
        }
        Ok(Self {
            enabled: u.enabled.unwrap_or(false),
            listen,
            root: PathBuf::from(u.root.unwrap_or_else(|| "tftp".into())),
            max_blksize,
            max_window,
            max_transfers,
            timeout,
            retries: u.retries.unwrap_or(DEFAULT_RETRIES),
        })
    }
}

impl Provisioning {
    /// Builds `[provisioning]`.
    pub(super) fn build(u: Raw) -> Result<Self, Error> {
        let http_listen = u
            .http_listen
            .map(|l| {
                parsed(
                    "provisioning.http_listen",
                    &l,
                    "expected an address such as \"10.99.0.1:8088\"",
                )
            })
            .transpose()?;
        let text = |key: &str, v: Option<String>, default: &str| -> Result<String, Error> {
            let v = v.unwrap_or_else(|| default.to_owned());
            if v.is_empty() || v.len() > 128 || v.chars().any(char::is_control) {
                return Err(bad(key, format!("{v:?}"), "expected 1 to 128 characters"));
            }
            Ok(v)
        };
        let timezone = text("provisioning.timezone", u.timezone, "UTC")?;
        if !timezone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '/' | '_' | '-' | '+'))
        {
            return Err(bad(
                "provisioning.timezone",
                timezone,
                "expected an IANA zone such as \"Europe/Paris\"",
            ));
        }
        let registrar = u
            .registrar
            .map(|r| text("provisioning.registrar", Some(r), ""))
            .transpose()?;
        let auth = match u.auth.as_deref().unwrap_or("none") {
            "none" => HttpAuth::None,
            "device" => HttpAuth::Device,
            "shared" => match (u.user, u.password) {
                (Some(user), Some(password))
                    if !user.is_empty() && !user.contains(':') && password.len() >= 8 =>
                {
                    HttpAuth::Shared { user, password }
                }
                _ => {
                    return Err(bad(
                        "provisioning.auth",
                        "\"shared\"",
                        "needs provisioning.user (no ':') and provisioning.password (8 characters or more)",
                    ));
                }
            },
            other => {
                return Err(bad(
                    "provisioning.auth",
                    format!("{other:?}"),
                    "expected \"none\", \"device\" or \"shared\"",
                ));
            }
        };
        let ntp = u.ntp.unwrap_or_default();
        for n in &ntp {
            text("provisioning.ntp", Some(n.clone()), "")?;
        }
        Ok(Self {
            http_listen,
            tls: u.tls.unwrap_or(false),
            registrar,
            sip_port: match u.sip_port {
                Some(0) => return Err(bad("provisioning.sip_port", 0, "expected 1 to 65535")),
                p => p,
            },
            ntp,
            timezone,
            name: text("provisioning.name", u.name, "Offhook")?,
            firmware: u.firmware.map(PathBuf::from),
            templates: u.templates.map(PathBuf::from),
            auth,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        let t = Tftp::build(TftpRaw::default()).unwrap();
        assert!(!t.enabled);
        assert_eq!(
            (t.max_blksize, t.max_window),
            (DEFAULT_MAX_BLKSIZE, DEFAULT_MAX_WINDOW)
        );
        let p = Provisioning::build(Raw::default()).unwrap();
        assert_eq!(
            (p.sip_port, p.timezone.as_str(), p.auth),
            (None, "UTC", HttpAuth::None)
        );
    }

    #[test]
    fn bad_values_name_their_key() {
        let raw = |t: &str| toml::from_str::<Raw>(t).unwrap();
        for (t, key) in [
            ("auth = \"shared\"", "provisioning.auth"),
            ("auth = \"open\"", "provisioning.auth"),
            ("timezone = \"Europe Paris\"", "provisioning.timezone"),
            ("http_listen = \"nowhere\"", "provisioning.http_listen"),
            ("sip_port = 0", "provisioning.sip_port"),
        ] {
            let e = Provisioning::build(raw(t)).unwrap_err().to_string();
            assert!(e.contains(key), "{t}: {e}");
        }
        let traw = |t: &str| toml::from_str::<TftpRaw>(t).unwrap();
        for (t, key) in [
            ("max_blksize = 8", "tftp.max_blksize"),
            ("max_window = 0", "tftp.max_window"),
            ("timeout = \"300s\"", "tftp.timeout"),
            ("listen = \"x\"", "tftp.listen"),
        ] {
            let e = Tftp::build(traw(t)).unwrap_err().to_string();
            assert!(e.contains(key), "{t}: {e}");
        }
    }
}
