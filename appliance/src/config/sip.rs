//! `[sip]`: the SIP registrar and user agent that make IP handsets stations (the `sip` crate).
//! On by default on UDP and TCP `0.0.0.0:5060` (CONTRACT.md).

use std::net::SocketAddr;
use std::time::Duration;

use serde::Deserialize;

use super::Error;
use super::values::{bad, parsed, positive, positive_duration};

/// The keys of `[sip]`.
pub(super) const KEYS: &[&str] = &[
    "enabled",
    "listen",
    "listen_code",
    "realm",
    "digest_algorithms",
    "keepalive",
    "min_expires",
    "max_expires",
    "auth_failures_per_minute",
    "max_transactions",
    "max_calls_setting_up",
];

/// `[sip]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sip {
    /// `enabled`: whether the registrar and user agent run.
    pub enabled: bool,
    /// `listen`: UDP and TCP.
    pub listen: SocketAddr,
    /// `listen_code`: what a phone dials to listen to its user's messages.
    pub listen_code: String,
    /// `realm`: the digest realm phones authenticate in.
    pub realm: String,
    /// `digest_algorithms`: the challenges offered, in order (RFC 8760).
    pub digest_algorithms: Vec<sip::digest::Algorithm>,
    /// `keepalive`: how often each registered phone is sent an OPTIONS (`0s`: never).
    pub keepalive: Option<Duration>,
    /// `min_expires`: the shortest registration taken (shorter ones are answered 423).
    pub min_expires: Duration,
    /// `max_expires`: the longest registration granted.
    pub max_expires: Duration,
    /// `auth_failures_per_minute`: wrong credentials from one address before it is refused
    /// for the rest of the minute.
    pub auth_failures_per_minute: u32,
    /// `max_transactions`: SIP transactions at once; past it new requests are answered 503.
    pub max_transactions: usize,
    /// `max_calls_setting_up`: phones' calls being set up at once; past it 503.
    pub max_calls_setting_up: usize,
}

#[derive(Debug, Deserialize, Default)]
pub(super) struct Raw {
    enabled: Option<bool>,
    listen: Option<String>,
    listen_code: Option<String>,
    realm: Option<String>,
    digest_algorithms: Option<Vec<String>>,
    keepalive: Option<String>,
    min_expires: Option<String>,
    max_expires: Option<String>,
    auth_failures_per_minute: Option<u32>,
    max_transactions: Option<u32>,
    max_calls_setting_up: Option<u32>,
}

impl Sip {
    /// Builds the section from the user's keys over the defaults'.
    pub(super) fn build(u: Raw, d: Raw) -> Result<Self, Error> {
        let listen = parsed(
            "sip.listen",
            &u.listen.or(d.listen).unwrap_or_default(),
            "expected an address such as \"0.0.0.0:5060\"",
        )?;
        let listen_code = u.listen_code.or(d.listen_code).unwrap_or_default();
        if listen_code.is_empty()
            || listen_code.len() > 16
            || !listen_code
                .chars()
                .all(|c| c.is_ascii_digit() || c == '*' || c == '#')
        {
            return Err(bad(
                "sip.listen_code",
                &listen_code,
                "expected 1 to 16 keys of 0-9, * and #, such as \"*97\"",
            ));
        }
        let realm = u.realm.or(d.realm).unwrap_or_default();
        if realm.is_empty()
            || realm.len() > 64
            || !realm
                .chars()
                .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
        {
            return Err(bad(
                "sip.realm",
                &realm,
                "expected 1 to 64 printable characters without quotes or backslashes",
            ));
        }
        let names = u
            .digest_algorithms
            .or(d.digest_algorithms)
            .unwrap_or_default();
        let mut digest_algorithms = Vec::new();
        for n in &names {
            let a = sip::digest::Algorithm::from_name(n).map_err(|_| {
                bad(
                    "sip.digest_algorithms",
                    n,
                    "expected \"MD5\" or \"SHA-256\"",
                )
            })?;
            if digest_algorithms.contains(&a) {
                return Err(bad("sip.digest_algorithms", n, "named twice"));
            }
            digest_algorithms.push(a);
        }
        if digest_algorithms.is_empty() {
            return Err(bad(
                "sip.digest_algorithms",
                "[]",
                "expected at least one algorithm",
            ));
        }
        let keepalive_text = u.keepalive.or(d.keepalive).unwrap_or_default();
        let keepalive = if keepalive_text.trim() == "0s" || keepalive_text.trim() == "0" {
            None
        } else {
            Some(positive_duration("sip.keepalive", &keepalive_text)?)
        };
        let min_expires = positive_duration(
            "sip.min_expires",
            &u.min_expires.or(d.min_expires).unwrap_or_default(),
        )?;
        let max_expires = positive_duration(
            "sip.max_expires",
            &u.max_expires.or(d.max_expires).unwrap_or_default(),
        )?;
        if max_expires < min_expires {
            return Err(bad(
                "sip.max_expires",
                format!("{}s", max_expires.as_secs()),
                "expected at least sip.min_expires",
            ));
        }
        let auth_failures_per_minute = positive(
            "sip.auth_failures_per_minute",
            u.auth_failures_per_minute
                .or(d.auth_failures_per_minute)
                .unwrap_or_default(),
        )?;
        let max_transactions = positive(
            "sip.max_transactions",
            u.max_transactions
                .or(d.max_transactions)
                .unwrap_or_default(),
        )?;
        let max_calls_setting_up = positive(
            "sip.max_calls_setting_up",
            u.max_calls_setting_up
                .or(d.max_calls_setting_up)
                .unwrap_or_default(),
        )?;
        Ok(Self {
            enabled: u.enabled.or(d.enabled).unwrap_or(true),
            listen,
            listen_code,
            realm,
            digest_algorithms,
            keepalive,
            min_expires,
            max_expires,
            auth_failures_per_minute,
            max_transactions: max_transactions as usize,
            max_calls_setting_up: max_calls_setting_up as usize,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::config::Config;

    #[test]
    fn defaults_and_refusals() {
        let d = Config::defaults().sip;
        assert!(d.enabled);
        assert_eq!(d.listen.to_string(), "0.0.0.0:5060");
        assert_eq!(d.listen_code, "*97");
        assert_eq!(d.realm, "offhook");
        assert_eq!(d.digest_algorithms, [sip::digest::Algorithm::Md5]);
        assert_eq!(d.keepalive, Some(std::time::Duration::from_secs(30)));
        let c = Config::parse(
            "t.toml",
            "[sip]\nlisten = \"127.0.0.1:5070\"\nlisten_code = \"#1\"\nkeepalive = \"0s\"\nenabled = false\n",
        )
        .unwrap();
        assert_eq!(
            (
                c.sip.listen.port(),
                c.sip.listen_code.as_str(),
                c.sip.keepalive,
                c.sip.enabled
            ),
            (5070, "#1", None, false)
        );
        for (text, key) in [
            ("[sip]\nlisten = \"5060\"\n", "sip.listen"),
            ("[sip]\nlisten_code = \"9a\"\n", "sip.listen_code"),
            ("[sip]\nlisten_code = \"\"\n", "sip.listen_code"),
            ("[sip]\nrealm = \"a\\\"b\"\n", "sip.realm"),
            (
                "[sip]\nmin_expires = \"10m\"\nmax_expires = \"1m\"\n",
                "sip.max_expires",
            ),
            (
                "[sip]\nauth_failures_per_minute = 0\n",
                "sip.auth_failures_per_minute",
            ),
            ("[sip]\nkeepalive = \"soon\"\n", "sip.keepalive"),
            (
                "[sip]\ndigest_algorithms = [\"SHA-1\"]\n",
                "sip.digest_algorithms",
            ),
            ("[sip]\ndigest_algorithms = []\n", "sip.digest_algorithms"),
            (
                "[sip]\ndigest_algorithms = [\"MD5\", \"md5\"]\n",
                "sip.digest_algorithms",
            ),
        ] {
            let e = Config::parse("t.toml", text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }
}
