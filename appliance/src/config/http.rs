//! `[http]`: where the REST API, the WebSocket (and later the web UI) listen, and the limits
//! of the HTTP front.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use offhook_web::MetricsAccess;
use serde::Deserialize;

use super::Error;
use super::values::{bad, parsed, positive, positive_duration};

/// The keys of `[http]`.
pub(super) const KEYS: &[&str] = &[
    "listen",
    "header_timeout",
    "max_idle_connections",
    "metrics",
    "tls",
    "tls_cert",
    "tls_key",
    "loopback_listen",
];

/// How `listen` is served, as decided from `tls`, `listen` and the certificate keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tls {
    /// Plain HTTP: `listen` is a loopback address (or `tls = "off"` there).
    Off,
    /// HTTPS on `listen`.
    On {
        /// The owner's certificate chain and key (PEM); `None`: a self-signed one kept in the
        /// data dir.
        files: Option<(PathBuf, PathBuf)>,
        /// Plain HTTP for local clients (the CLI): `None` for none.
        plain: Option<Plain>,
    },
}

/// Where local clients get plain HTTP while `listen` is HTTPS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plain {
    /// A listener of its own on this loopback address.
    Listener(SocketAddr),
    /// On `listen` itself, for connections made to a loopback address: `listen` is on all
    /// addresses and on the port `loopback_listen` names, so it holds that address already.
    Listen,
}

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
    /// `tls`, `tls_cert`, `tls_key`, `loopback_listen`: HTTPS on `listen`, and plain HTTP for
    /// local clients.
    pub tls: Tls,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    listen: Option<String>,
    header_timeout: Option<String>,
    max_idle_connections: Option<u32>,
    metrics: Option<String>,
    tls: Option<String>,
    tls_cert: Option<PathBuf>,
    tls_key: Option<PathBuf>,
    loopback_listen: Option<String>,
}

impl Http {
    /// Builds the section from the user's keys over the defaults'.
    pub(super) fn build(user: Raw, defaults: Raw) -> Result<Self, Error> {
        let tls_keys = TlsKeys {
            mode: user.tls.or(defaults.tls),
            files: (user.tls_cert, user.tls_key),
            plain_named: user.loopback_listen.is_some(),
            plain: user.loopback_listen.or(defaults.loopback_listen),
        };
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
        let listen = parsed(
            "http.listen",
            &listen,
            "expected an address such as \"127.0.0.1:8080\"",
        )?;
        let tls = tls(listen, tls_keys)?;
        Ok(Self {
            metrics,
            tls,
            listen,
            header_timeout: positive_duration("http.header_timeout", &header_timeout)?,
            max_idle_connections: positive(
                "http.max_idle_connections",
                user.max_idle_connections
                    .or(defaults.max_idle_connections)
                    .unwrap_or(0),
            )? as usize,
        })
    }
}

/// The keys [`tls`] decides from.
struct TlsKeys {
    mode: Option<String>,
    files: (Option<PathBuf>, Option<PathBuf>),
    plain: Option<String>,
    /// `loopback_listen` is the user's, not the default.
    plain_named: bool,
}

/// Decides [`Tls`] (docs/CONFIG.md, `[http]`).
fn tls(listen: SocketAddr, keys: TlsKeys) -> Result<Tls, Error> {
    let mode = keys.mode.as_deref().unwrap_or("auto");
    let files = match keys.files {
        (Some(c), Some(k)) => Some((c, k)),
        (None, None) => None,
        _ => {
            return Err(bad(
                "http.tls_cert",
                "one of tls_cert and tls_key",
                "set both (the certificate chain and its private key, PEM files) or neither",
            ));
        }
    };
    let loopback = listen.ip().to_canonical().is_loopback();
    let on = match mode {
        "on" => true,
        // A certificate given says HTTPS, wherever `listen` is.
        "auto" => !loopback || files.is_some(),
        "off" if !loopback => {
            return Err(bad(
                "http.tls",
                "\"off\"",
                "plain HTTP is served only on a loopback listen address (passwords and session \
                 cookies would cross the network in clear): use \"auto\", or listen on \
                 127.0.0.1 behind a TLS-terminating proxy on this machine",
            ));
        }
        "off" if files.is_some() => {
            return Err(bad(
                "http.tls",
                "\"off\"",
                "tls_cert and tls_key are set: remove them, or use \"on\"",
            ));
        }
        "off" => false,
        other => {
            return Err(bad(
                "http.tls",
                format!("{other:?}"),
                "expected \"auto\", \"on\" or \"off\"",
            ));
        }
    };
    let plain = match keys.plain.as_deref() {
        None | Some("off") => None,
        Some(a) => {
            let addr: SocketAddr = parsed(
                "http.loopback_listen",
                a,
                "expected a loopback address such as \"127.0.0.1:8080\", or \"off\"",
            )?;
            if !addr.ip().to_canonical().is_loopback() {
                return Err(bad(
                    "http.loopback_listen",
                    format!("{a:?}"),
                    "must be a loopback address (it serves plain HTTP): 127.0.0.1 or [::1]",
                ));
            }
            Some(addr)
        }
    };
    if !on {
        return Ok(Tls::Off);
    }
    let plain = match plain {
        // On loopback, `listen` is for local clients already: a second, plain listener only
        // when asked for by name (the default's 127.0.0.1:8080 would clash with other servers).
        Some(_) if loopback && !keys.plain_named => None,
        Some(addr) if addr == listen => {
            return Err(bad(
                "http.loopback_listen",
                addr,
                "is listen itself, which serves HTTPS: choose another port, or \"off\"",
            ));
        }
        Some(addr) if listen.ip().is_unspecified() && addr.port() == listen.port() => {
            Some(Plain::Listen)
        }
        Some(addr) => Some(Plain::Listener(addr)),
        None => None,
    };
    Ok(Tls::On { files, plain })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(toml: &str) -> Result<Http, Error> {
        let user: Raw = ::toml::from_str(toml).unwrap();
        let defaults: Raw = ::toml::from_str(
            "listen = \"127.0.0.1:8080\"\nheader_timeout = \"10s\"\nmax_idle_connections = 1\n\
             metrics = \"open\"\ntls = \"auto\"\nloopback_listen = \"127.0.0.1:8080\"\n",
        )
        .unwrap();
        Http::build(user, defaults)
    }

    fn tls(toml: &str) -> Tls {
        build(toml).unwrap().tls
    }

    fn err(toml: &str) -> String {
        build(toml).unwrap_err().to_string()
    }

    #[test]
    fn tls_is_on_off_loopback_and_plain_stays_for_local_clients() {
        assert_eq!(tls(""), Tls::Off, "the CONTRACT's default stays plain HTTP");
        let on = |plain| Tls::On { files: None, plain };
        let local = "127.0.0.1:8080".parse().unwrap();
        assert_eq!(
            tls("listen = \"192.0.2.1:8443\""),
            on(Some(Plain::Listener(local)))
        );
        // On all addresses and the same port: loopback connections to it stay plain.
        assert_eq!(tls("listen = \"0.0.0.0:8080\""), on(Some(Plain::Listen)));
        assert_eq!(tls("listen = \"[::]:8080\""), on(Some(Plain::Listen)));
        assert_eq!(
            tls("listen = \"0.0.0.0:8443\""),
            on(Some(Plain::Listener(local)))
        );
        assert_eq!(
            tls("listen = \"0.0.0.0:443\"\nloopback_listen = \"off\""),
            on(None)
        );
        // Forced on loopback: no second listener unless named.
        assert_eq!(tls("tls = \"on\""), on(None));
        let other = "127.0.0.1:9000".parse().unwrap();
        assert_eq!(
            tls("tls = \"on\"\nloopback_listen = \"127.0.0.1:9000\""),
            on(Some(Plain::Listener(other)))
        );
        // A certificate says HTTPS.
        assert_eq!(
            tls("tls_cert = \"c.pem\"\ntls_key = \"k.pem\""),
            Tls::On {
                files: Some(("c.pem".into(), "k.pem".into())),
                plain: None
            }
        );
        assert_eq!(tls("listen = \"127.0.0.2:80\"\ntls = \"off\""), Tls::Off);
    }

    #[test]
    fn tls_settings_that_make_no_sense_are_refused_by_name() {
        for (toml, key, says) in [
            ("tls = \"yes\"", "http.tls", "expected \"auto\""),
            (
                "listen = \"0.0.0.0:80\"\ntls = \"off\"",
                "http.tls",
                "loopback",
            ),
            (
                "tls = \"off\"\ntls_cert = \"c\"\ntls_key = \"k\"",
                "http.tls",
                "remove them",
            ),
            ("tls_cert = \"c\"", "http.tls_cert", "set both"),
            ("tls_key = \"k\"", "http.tls_cert", "set both"),
            (
                "listen = \"0.0.0.0:80\"\nloopback_listen = \"192.0.2.1:8080\"",
                "http.loopback_listen",
                "loopback address",
            ),
            (
                "loopback_listen = \"x\"",
                "http.loopback_listen",
                "or \"off\"",
            ),
            (
                "tls = \"on\"\nloopback_listen = \"127.0.0.1:8080\"",
                "http.loopback_listen",
                "listen itself",
            ),
        ] {
            let e = err(toml);
            assert!(e.contains(key) && e.contains(says), "{toml}: {e}");
        }
    }
}
