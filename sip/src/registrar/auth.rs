//! Digest authentication of a phone's requests (RFC 3261 §22, RFC 8760) and the per-source
//! limit on failed attempts.

use std::collections::HashMap;
use std::net::IpAddr;

use crate::digest::{self, Challenge, Credentials, NonceState, Nonces};
use crate::wire::{HeaderName, Request, Scheme, Uri};

use super::Config;

/// The most source addresses whose failed authentications are remembered; when the table is
/// full, the address whose last failure is the oldest is forgotten.
pub const MAX_FAILURE_SOURCES: usize = 4096;

/// The length of the rate limit's window, in ms.
const MINUTE_MS: u64 = 60_000;

/// What checking a request's credentials found.
#[derive(Debug)]
pub(super) enum Verdict {
    /// The credentials are good: the user they prove.
    User(String),
    /// No usable credentials (none, another realm, an algorithm not offered, a nonce not ours):
    /// challenge afresh.
    Challenge,
    /// The right password, but an old nonce: challenge with `stale=true`.
    Stale,
    /// An unknown user or a wrong password (counted against the source).
    Failed,
    /// Credentials that cannot be read, or that answer another Request-URI.
    Malformed(&'static str),
}

/// One source's failures in its current minute.
#[derive(Debug, Clone, Copy)]
struct Window {
    start_ms: u64,
    failures: u32,
    last_ms: u64,
}

/// Failed authentications per source address, in fixed one-minute windows.
#[derive(Debug, Default)]
pub(super) struct Failures {
    sources: HashMap<IpAddr, Window>,
}

impl Failures {
    /// Whether `ip` has used up its failures for its current minute.
    pub(super) fn limited(&mut self, ip: IpAddr, now_ms: u64, limit: u32) -> bool {
        let Some(w) = self.sources.get(&ip) else {
            return false;
        };
        if now_ms.saturating_sub(w.start_ms) >= MINUTE_MS {
            self.sources.remove(&ip);
            return false;
        }
        w.failures >= limit
    }

    /// Counts one failure of `ip`; returns whether a source was forgotten to make room.
    pub(super) fn record(&mut self, ip: IpAddr, now_ms: u64) -> bool {
        if let Some(w) = self.sources.get_mut(&ip) {
            if now_ms.saturating_sub(w.start_ms) >= MINUTE_MS {
                *w = Window {
                    start_ms: now_ms,
                    failures: 0,
                    last_ms: now_ms,
                };
            }
            w.failures = w.failures.saturating_add(1);
            w.last_ms = now_ms;
            return false;
        }
        let mut evicted = false;
        if self.sources.len() >= MAX_FAILURE_SOURCES {
            let oldest = self
                .sources
                .iter()
                .min_by_key(|(_, w)| w.last_ms)
                .map(|(ip, _)| *ip);
            if let Some(oldest) = oldest {
                self.sources.remove(&oldest);
                evicted = true;
            }
        }
        self.sources.insert(
            ip,
            Window {
                start_ms: now_ms,
                failures: 1,
                last_ms: now_ms,
            },
        );
        evicted
    }

    /// How many sources are remembered.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.sources.len()
    }
}

/// Whether the digest-uri names the same resource as the Request-URI: same scheme, user, host
/// (case-insensitive) and port (RFC 2617 §3.2.2.5 asks the server to check it; parameters are
/// not compared, as phones differ in which they repeat).
fn same_resource(digest_uri: &str, request_uri: &Uri) -> bool {
    let Ok(uri) = digest_uri.parse::<Uri>() else {
        return false;
    };
    let scheme = |s: Scheme| match s {
        Scheme::Sip => 0,
        Scheme::Sips => 1,
        Scheme::Tel => 2,
    };
    scheme(uri.scheme) == scheme(request_uri.scheme)
        && uri.user == request_uri.user
        && uri.host.eq_ignore_ascii_case(&request_uri.host)
        && uri.port == request_uri.port
}

/// Checks the `Authorization` (or `Proxy-Authorization`) of `request` against `accounts`.
pub(super) fn check(
    config: &Config,
    nonces: &Nonces,
    now_ms: u64,
    request: &Request,
    accounts: &dyn super::Accounts,
) -> Verdict {
    let values = request
        .headers
        .get_all(&HeaderName::Authorization)
        .chain(request.headers.get_all(&HeaderName::ProxyAuthorization));
    let mut unreadable = false;
    let mut ours = None;
    for value in values {
        match Credentials::parse(value) {
            Ok(c) if c.realm == config.realm => {
                ours = Some(c);
                break;
            }
            Ok(_) => {}
            Err(e) => {
                tracing::debug!(error = %e, "unreadable credentials");
                unreadable = true;
            }
        }
    }
    let Some(creds) = ours else {
        return if unreadable {
            Verdict::Malformed("Bad Authorization")
        } else {
            Verdict::Challenge
        };
    };
    if !config.algorithms.contains(&creds.algorithm) {
        return Verdict::Challenge;
    }
    let max_age_ms = u64::try_from(config.nonce_max_age.as_millis()).unwrap_or(u64::MAX);
    let nonce = nonces.check(&creds.nonce, now_ms, max_age_ms);
    if nonce == NonceState::Invalid {
        return Verdict::Challenge;
    }
    if !same_resource(&creds.uri, &request.uri) {
        return Verdict::Malformed("Digest URI Does Not Match The Request-URI");
    }
    let Some(secret) = accounts.secret(&creds.username) else {
        // Hash as for a known user, so that the answer's timing does not tell which users exist.
        let _ = digest::verify(&creds, request.method.as_str(), "");
        return Verdict::Failed;
    };
    if !digest::verify(&creds, request.method.as_str(), &secret) {
        return Verdict::Failed;
    }
    match nonce {
        NonceState::Fresh => Verdict::User(creds.username),
        NonceState::Stale | NonceState::Invalid => Verdict::Stale,
    }
}

/// The `WWW-Authenticate` values: one challenge per configured algorithm, in order, all with
/// the same fresh nonce.
pub(super) fn challenges(
    config: &Config,
    nonces: &Nonces,
    now_ms: u64,
    stale: bool,
) -> Vec<String> {
    let nonce = nonces.issue(now_ms);
    config
        .algorithms
        .iter()
        .map(|&algorithm| {
            Challenge {
                realm: config.realm.clone(),
                nonce: nonce.clone(),
                algorithm,
                stale,
                opaque: None,
            }
            .header_value()
        })
        .collect()
}
