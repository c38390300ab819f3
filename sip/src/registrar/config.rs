//! The registrar's settings.

use std::time::Duration;

use crate::digest::Algorithm;

/// The largest [`Config::max_users`] setting accepted.
pub const MAX_USERS: usize = 1_000_000;
/// The largest [`Config::max_contacts_per_user`] setting accepted.
pub const MAX_CONTACTS_PER_USER: usize = 64;
/// The longest realm accepted, in bytes.
pub const MAX_REALM: usize = 128;

/// Settings of a [`super::Registrar`]. Build with [`Config::default`] and the chained setters,
/// which refuse values out of range, so that a `Config` is always valid. Each field's default is
/// given on its setter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    // The protection space named in challenges. `"offhook"`.
    pub(super) realm: String,
    // A registration asking for less (but more than zero) is refused with 423 and this value
    // in `Min-Expires` (RFC 3261 §10.3 step 7). 60 s.
    pub(super) min_expires: Duration,
    // A registration asking for more is granted this much. 3600 s.
    pub(super) max_expires: Duration,
    // Granted when neither the contact's `expires` parameter nor an `Expires` header asks for a
    // duration. 3600 s.
    pub(super) default_expires: Duration,
    // The most bindings one user may have; a registration that would exceed it evicts that
    // user's oldest bindings. 10.
    pub(super) max_contacts_per_user: usize,
    // The most users with bindings; a new user beyond it is answered 503. 100,000.
    pub(super) max_users: usize,
    // How long a nonce is accepted; an older one is answered 401 with `stale=true`. 300 s.
    pub(super) nonce_max_age: Duration,
    // Failed authentications (a wrong password or an unknown user) one source IP address may
    // make in a minute; beyond it, every request from that address is refused without being
    // checked until the minute is over. 10.
    pub(super) auth_failures_per_minute: u32,
    // The algorithms offered, one `WWW-Authenticate` each, in this order (RFC 8760 §2.4: the
    // preferred first). `[Sha256, Md5]`.
    pub(super) algorithms: Vec<Algorithm>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            realm: "offhook".to_owned(),
            min_expires: Duration::from_secs(60),
            max_expires: Duration::from_secs(3600),
            default_expires: Duration::from_secs(3600),
            max_contacts_per_user: 10,
            max_users: 100_000,
            nonce_max_age: Duration::from_secs(300),
            auth_failures_per_minute: 10,
            algorithms: vec![Algorithm::Sha256, Algorithm::Md5],
        }
    }
}

/// A [`Config`] value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A count or duration that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// A count above its bound ([`MAX_USERS`], [`MAX_CONTACTS_PER_USER`]).
    #[error("{0} is too large")]
    TooLarge(&'static str),
    /// The expiry bounds are not ordered `min_expires <= default_expires <= max_expires`.
    #[error("expiry bounds must satisfy min <= default <= max")]
    ExpiresOrder,
    /// The realm is empty, too long, or holds a quote, a backslash or a control character.
    #[error("bad realm")]
    BadRealm,
    /// No algorithm, or one listed twice.
    #[error("algorithms must be a non-empty list without repeats")]
    BadAlgorithms,
}

impl Config {
    pub(super) fn validate(self) -> Result<Self, ConfigError> {
        if self.realm.is_empty()
            || self.realm.len() > MAX_REALM
            || self
                .realm
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\\')
        {
            return Err(ConfigError::BadRealm);
        }
        if self.min_expires.is_zero() {
            return Err(ConfigError::Zero("min_expires"));
        }
        if self.min_expires > self.default_expires || self.default_expires > self.max_expires {
            return Err(ConfigError::ExpiresOrder);
        }
        if self.max_expires > Duration::from_secs(u64::from(u32::MAX)) {
            return Err(ConfigError::TooLarge("max_expires"));
        }
        if self.max_contacts_per_user == 0 {
            return Err(ConfigError::Zero("max_contacts_per_user"));
        }
        if self.max_contacts_per_user > MAX_CONTACTS_PER_USER {
            return Err(ConfigError::TooLarge("max_contacts_per_user"));
        }
        if self.max_users == 0 {
            return Err(ConfigError::Zero("max_users"));
        }
        if self.max_users > MAX_USERS {
            return Err(ConfigError::TooLarge("max_users"));
        }
        if self.nonce_max_age.is_zero() {
            return Err(ConfigError::Zero("nonce_max_age"));
        }
        if self.auth_failures_per_minute == 0 {
            return Err(ConfigError::Zero("auth_failures_per_minute"));
        }
        let repeated = self
            .algorithms
            .iter()
            .enumerate()
            .any(|(i, a)| self.algorithms[..i].contains(a));
        if self.algorithms.is_empty() || repeated {
            return Err(ConfigError::BadAlgorithms);
        }
        Ok(self)
    }

    fn set(&mut self, f: impl FnOnce(&mut Self)) -> Result<&mut Self, ConfigError> {
        let mut next = self.clone();
        f(&mut next);
        *self = next.validate()?;
        Ok(self)
    }

    /// The protection space named in challenges. `"offhook"`.
    pub fn realm(&mut self, realm: &str) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.realm = realm.to_owned())
    }

    /// The expiry bounds, which must be ordered. A registration asking for less than `min`
    /// (but more than zero) is refused with 423 and `min` in `Min-Expires` (RFC 3261 §10.3
    /// step 7), 60 s; one asking for nothing is granted `default`, 3600 s; one asking for more
    /// than `max` is granted `max`, 3600 s.
    pub fn expires(
        &mut self,
        min: Duration,
        default: Duration,
        max: Duration,
    ) -> Result<&mut Self, ConfigError> {
        self.set(|c| {
            c.min_expires = min;
            c.default_expires = default;
            c.max_expires = max;
        })
    }

    /// The most bindings one user may have (at most [`MAX_CONTACTS_PER_USER`]); a registration
    /// that would exceed it evicts that user's oldest bindings, and one that lists more contacts
    /// than this is refused. 10.
    pub fn max_contacts_per_user(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_contacts_per_user = n)
    }

    /// The most users with bindings (at most [`MAX_USERS`]); a new user beyond it is answered
    /// 503. 100,000.
    pub fn max_users(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_users = n)
    }

    /// How long a nonce is accepted; an older one is answered 401 with `stale=true`. 300 s.
    pub fn nonce_max_age(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.nonce_max_age = d)
    }

    /// Failed authentications (a wrong password or an unknown user) one source IP address may
    /// make in a minute; beyond it, every request from that address is refused without being
    /// checked until its minute is over. 10.
    pub fn auth_failures_per_minute(&mut self, n: u32) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.auth_failures_per_minute = n)
    }

    /// The algorithms offered, one `WWW-Authenticate` each, in this order (RFC 8760 §2.4: the
    /// preferred first); credentials with another algorithm are challenged again.
    /// `[Sha256, Md5]`.
    pub fn algorithms(&mut self, algorithms: &[Algorithm]) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.algorithms = algorithms.to_vec())
    }
}
