//! Digest access authentication for SIP: RFC 2617 (MD5), RFC 7616 (SHA-256) as RFC 8760
//! brings it to SIP, `qop=auth` only.
//!
//! A registrar issues stateless [`Nonces`], sends a [`Challenge`] in `WWW-Authenticate`, parses
//! the phone's [`Credentials`] from `Authorization` and calls [`verify`]. A client answers a
//! challenge with [`authorize`].

/// The longest header value parsed, in bytes.
pub const MAX_HEADER: usize = 4 * 1024;
/// The most auth-params accepted in one header value.
pub const MAX_PARAMS: usize = 16;

/// The hash algorithm (RFC 7616 §3.3 `algorithm`). The `-sess` variants are parsed and refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Algorithm {
    /// `MD5` (the default when `algorithm` is absent).
    #[default]
    Md5,
    /// `SHA-256`.
    Sha256,
}

/// Stateless nonces: the issue time (ms, a monotonic count the caller supplies) and an
/// HMAC-SHA-256 of it under a per-boot key, base64url; checked without keeping state.
pub struct Nonces {
    key: [u8; 32],
}

/// What [`Nonces::check`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NonceState {
    /// Ours and younger than the maximum age.
    Fresh,
    /// Ours but too old (challenge again with `stale=true`).
    Stale,
    /// Not ours, or malformed.
    Invalid,
}

/// A digest challenge (`WWW-Authenticate` / `Proxy-Authenticate`); `qop="auth"` is always offered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The protection space.
    pub realm: String,
    /// The server's nonce.
    pub nonce: String,
    /// The hash algorithm.
    pub algorithm: Algorithm,
    /// Whether the previous nonce was stale (retry without asking the user).
    pub stale: bool,
    /// Opaque data the client returns as is.
    pub opaque: Option<String>,
}

/// A digest response (`Authorization` / `Proxy-Authorization`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The realm answered.
    pub realm: String,
    /// The nonce answered.
    pub nonce: String,
    /// The digest-uri (the Request-URI).
    pub uri: String,
    /// The request-digest, hex.
    pub response: String,
    /// The hash algorithm.
    pub algorithm: Algorithm,
    /// `auth` when qop is used.
    pub qop: Option<String>,
    /// The nonce count (8 hex digits), with qop.
    pub nc: Option<String>,
    /// The client nonce, with qop.
    pub cnonce: Option<String>,
    /// The challenge's opaque value, returned.
    pub opaque: Option<String>,
}

/// Why a digest header value was refused; each names the field and byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DigestError {
    /// The value is longer than [`MAX_HEADER`].
    #[error("digest header of {len} bytes exceeds {MAX_HEADER}")]
    TooLong {
        /// The value's length.
        len: usize,
    },
    /// The syntax is wrong at `offset`.
    #[error("digest header: bad {field} at byte {offset}")]
    Malformed {
        /// What was expected there.
        field: &'static str,
        /// The byte offset in the value.
        offset: usize,
    },
    /// The scheme is not `Digest`.
    #[error("digest header: scheme is not Digest")]
    NotDigest,
    /// More auth-params than [`MAX_PARAMS`].
    #[error("digest header: more than {MAX_PARAMS} parameters at byte {offset}")]
    TooManyParams {
        /// The offset of the parameter past the bound.
        offset: usize,
    },
    /// A parameter appears twice.
    #[error("digest header: duplicate {name} at byte {offset}")]
    Duplicate {
        /// The parameter's name.
        name: String,
        /// Its second occurrence's offset.
        offset: usize,
    },
    /// A required parameter is missing.
    #[error("digest header: missing {field}")]
    Missing {
        /// The parameter's name.
        field: &'static str,
    },
    /// The algorithm is one we do not support (`MD5-sess`, `SHA-512-256`, …).
    #[error("digest header: unsupported algorithm {0:?}")]
    UnsupportedAlgorithm(String),
    /// A qop other than `auth` (e.g. `auth-int`) was used.
    #[error("digest header: unsupported qop {0:?}")]
    UnsupportedQop(String),
}

impl Nonces {
    /// A nonce source under `key` (random, per boot).
    pub fn new(key: [u8; 32]) -> Self {
        Self { key }
    }

    /// A nonce issued at `now_ms`.
    pub fn issue(&self, now_ms: u64) -> String {
        let _ = (now_ms, self.key);
        todo!()
    }

    /// Whether `nonce` is one of ours and younger than `max_age_ms` at `now_ms`.
    pub fn check(&self, nonce: &str, now_ms: u64, max_age_ms: u64) -> NonceState {
        let _ = (nonce, now_ms, max_age_ms);
        todo!()
    }
}

impl Challenge {
    /// The value for `WWW-Authenticate` (starting `Digest `).
    pub fn header_value(&self) -> String {
        todo!()
    }

    /// Parses a `WWW-Authenticate` value.
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        let _ = value;
        todo!()
    }
}

impl Credentials {
    /// Parses an `Authorization` value.
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        let _ = value;
        todo!()
    }

    /// The value for `Authorization` (starting `Digest `).
    pub fn header_value(&self) -> String {
        todo!()
    }
}

/// The request-digest (lower-case hex) a client computes, and the check a server makes.
///
/// `qop_nc_cnonce` is `Some((nc, cnonce))` for `qop=auth`, `None` for the RFC 2069 form.
#[allow(clippy::too_many_arguments)]
pub fn response(
    alg: Algorithm,
    username: &str,
    realm: &str,
    password: &str,
    method: &str,
    uri: &str,
    nonce: &str,
    qop_nc_cnonce: Option<(&str, &str)>,
) -> String {
    let _ = (
        alg,
        username,
        realm,
        password,
        method,
        uri,
        nonce,
        qop_nc_cnonce,
    );
    todo!()
}

/// Whether `creds` prove knowledge of `password` for `method` (constant-time compare).
pub fn verify(creds: &Credentials, method: &str, password: &str) -> bool {
    let _ = (creds, method, password);
    todo!()
}

/// For a client (our own tests, a future trunk): the Authorization answering `challenge`.
pub fn authorize(
    challenge: &Challenge,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
    nc: u32,
) -> Credentials {
    let _ = (challenge, username, password, method, uri, cnonce, nc);
    todo!()
}
