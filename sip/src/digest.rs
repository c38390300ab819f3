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
/// The length of a nonce from [`Nonces::issue`], in characters (40 bytes, base64url unpadded).
pub const NONCE_LEN: usize = 54;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::hmac;
use std::fmt;

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
///
/// A nonce is `base64url(time_ms as 8 big-endian bytes ‖ HMAC-SHA-256(key, those 8 bytes))`,
/// [`NONCE_LEN`] characters. Replays within `max_age_ms` are not detected (that would need
/// state, e.g. remembering the last `nc` per nonce); a registrar keeps `max_age_ms` short.
pub struct Nonces {
    key: hmac::Key,
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

impl fmt::Debug for Nonces {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Nonces { key: <redacted> }")
    }
}

impl Nonces {
    /// A nonce source under `key` (random, per boot).
    pub fn new(key: [u8; 32]) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &key),
        }
    }

    fn tag(&self, time: [u8; 8]) -> hmac::Tag {
        hmac::sign(&self.key, &time)
    }

    /// A nonce issued at `now_ms`.
    pub fn issue(&self, now_ms: u64) -> String {
        let time = now_ms.to_be_bytes();
        let mut raw = [0u8; 40];
        raw[..8].copy_from_slice(&time);
        raw[8..].copy_from_slice(self.tag(time).as_ref());
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// Whether `nonce` is one of ours and younger than `max_age_ms` at `now_ms`.
    ///
    /// A nonce from the future (issued after `now_ms`) is [`NonceState::Invalid`]: with a
    /// monotonic clock and a per-boot key that cannot be one of ours.
    pub fn check(&self, nonce: &str, now_ms: u64, max_age_ms: u64) -> NonceState {
        if nonce.len() != NONCE_LEN {
            return NonceState::Invalid;
        }
        let mut raw = [0u8; 40];
        match URL_SAFE_NO_PAD.decode_slice(nonce, &mut raw) {
            Ok(40) => {}
            _ => return NonceState::Invalid,
        }
        let mut time = [0u8; 8];
        time.copy_from_slice(&raw[..8]);
        if hmac::verify(&self.key, &time, &raw[8..]).is_err() {
            return NonceState::Invalid;
        }
        let issued = u64::from_be_bytes(time);
        match now_ms.checked_sub(issued) {
            None => NonceState::Invalid,
            Some(age) if age > max_age_ms => NonceState::Stale,
            Some(_) => NonceState::Fresh,
        }
    }
}

impl Algorithm {
    /// The name as written in `algorithm=` (`MD5`, `SHA-256`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Md5 => "MD5",
            Self::Sha256 => "SHA-256",
        }
    }

    /// Reads an `algorithm=` value (case-insensitive). `-sess` variants and others are refused.
    pub fn from_name(name: &str) -> Result<Self, DigestError> {
        if name.eq_ignore_ascii_case("MD5") {
            Ok(Self::Md5)
        } else if name.eq_ignore_ascii_case("SHA-256") {
            Ok(Self::Sha256)
        } else {
            Err(DigestError::UnsupportedAlgorithm(name.to_owned()))
        }
    }

    /// `H(data)` as lower-case hex (RFC 7616 §3.4).
    fn hex_hash(self, parts: &[&str]) -> String {
        let mut out = String::with_capacity(64);
        match self {
            Self::Md5 => {
                use md5::Digest as _;
                let mut h = md5::Md5::new();
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        h.update(b":");
                    }
                    h.update(part.as_bytes());
                }
                push_hex(&mut out, &h.finalize());
            }
            Self::Sha256 => {
                let mut h = ring::digest::Context::new(&ring::digest::SHA256);
                for (i, part) in parts.iter().enumerate() {
                    if i > 0 {
                        h.update(b":");
                    }
                    h.update(part.as_bytes());
                }
                push_hex(&mut out, h.finish().as_ref());
            }
        }
        out
    }
}

/// Appends `bytes` as lower-case hex.
fn push_hex(out: &mut String, bytes: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0xf)]));
    }
}

/// One auth-param: lower-cased name, unescaped value, offset of the name.
struct Param {
    name: String,
    value: String,
    offset: usize,
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn skip_ws(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() && matches!(bytes[i], b' ' | b'\t') {
        i += 1;
    }
    i
}

/// Splits `Digest <auth-param list>` (RFC 7235 §2.1, RFC 7616 §3.3): token names, token or
/// quoted-string values, names case-insensitive, duplicates refused, at most [`MAX_PARAMS`].
fn parse_params(value: &str) -> Result<Vec<Param>, DigestError> {
    if value.len() > MAX_HEADER {
        return Err(DigestError::TooLong { len: value.len() });
    }
    let bytes = value.as_bytes();
    let mut i = skip_ws(bytes, 0);
    let scheme_start = i;
    while i < bytes.len() && is_tchar(bytes[i]) {
        i += 1;
    }
    if !value[scheme_start..i].eq_ignore_ascii_case("Digest") {
        return Err(DigestError::NotDigest);
    }
    if i < bytes.len() && !matches!(bytes[i], b' ' | b'\t') {
        return Err(DigestError::Malformed {
            field: "scheme",
            offset: i,
        });
    }
    let mut params: Vec<Param> = Vec::new();
    loop {
        i = skip_ws(bytes, i);
        // Empty list elements (`a=1,,b=2`) are allowed by the #rule (RFC 7230 §7).
        if i < bytes.len() && bytes[i] == b',' {
            i += 1;
            continue;
        }
        if i >= bytes.len() {
            break;
        }
        let offset = i;
        while i < bytes.len() && is_tchar(bytes[i]) {
            i += 1;
        }
        if i == offset {
            return Err(DigestError::Malformed {
                field: "parameter name",
                offset,
            });
        }
        let name = value[offset..i].to_ascii_lowercase();
        i = skip_ws(bytes, i);
        if i >= bytes.len() || bytes[i] != b'=' {
            return Err(DigestError::Malformed {
                field: "'=' after parameter name",
                offset: i,
            });
        }
        i = skip_ws(bytes, i + 1);
        let mut param_value = String::new();
        if i < bytes.len() && bytes[i] == b'"' {
            i += 1;
            loop {
                let Some(&b) = bytes.get(i) else {
                    return Err(DigestError::Malformed {
                        field: "closing quote",
                        offset: i,
                    });
                };
                match b {
                    b'"' => {
                        i += 1;
                        break;
                    }
                    b'\\' => {
                        let Some(&next) = bytes.get(i + 1) else {
                            return Err(DigestError::Malformed {
                                field: "quoted-pair",
                                offset: i,
                            });
                        };
                        if next.is_ascii_control() && next != b'\t' {
                            return Err(DigestError::Malformed {
                                field: "quoted-pair",
                                offset: i,
                            });
                        }
                        i += 1;
                    }
                    b if b.is_ascii_control() && b != b'\t' => {
                        return Err(DigestError::Malformed {
                            field: "quoted-string",
                            offset: i,
                        });
                    }
                    _ => {}
                }
                // Copy one whole UTF-8 character (the input is a &str, so boundaries hold).
                let len = utf8_len(b_at(bytes, i));
                param_value.push_str(&value[i..i + len]);
                i += len;
            }
        } else {
            let start = i;
            while i < bytes.len() && is_tchar(bytes[i]) {
                i += 1;
            }
            if i == start {
                return Err(DigestError::Malformed {
                    field: "parameter value",
                    offset: i,
                });
            }
            param_value.push_str(&value[start..i]);
        }
        if params.iter().any(|p| p.name == name) {
            return Err(DigestError::Duplicate { name, offset });
        }
        if params.len() == MAX_PARAMS {
            return Err(DigestError::TooManyParams { offset });
        }
        params.push(Param {
            name,
            value: param_value,
            offset,
        });
        i = skip_ws(bytes, i);
        match bytes.get(i) {
            None => break,
            Some(b',') => i += 1,
            Some(_) => {
                return Err(DigestError::Malformed {
                    field: "',' between parameters",
                    offset: i,
                });
            }
        }
    }
    Ok(params)
}

fn b_at(bytes: &[u8], i: usize) -> u8 {
    bytes.get(i).copied().unwrap_or(0)
}

/// The length of the UTF-8 sequence starting with `first` (1 for ASCII and stray bytes).
fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn take(params: &mut Vec<Param>, name: &str) -> Option<Param> {
    let at = params.iter().position(|p| p.name == name)?;
    Some(params.swap_remove(at))
}

fn required(params: &mut Vec<Param>, name: &'static str) -> Result<String, DigestError> {
    take(params, name)
        .map(|p| p.value)
        .ok_or(DigestError::Missing { field: name })
}

/// Appends `, name="value"` (or without the comma when first), escaping `"` and `\` and
/// leaving out control characters, which a quoted-string cannot hold (no header injection).
fn push_quoted(out: &mut String, name: &str, value: &str) {
    push_name(out, name);
    out.push('"');
    for c in value.chars() {
        match c {
            '"' | '\\' => {
                out.push('\\');
                out.push(c);
            }
            '\t' => out.push(c),
            c if c.is_ascii_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Appends `name=value` as a token when it is one, quoted otherwise.
fn push_token(out: &mut String, name: &str, value: &str) {
    if !value.is_empty() && value.bytes().all(is_tchar) {
        push_name(out, name);
        out.push_str(value);
    } else {
        push_quoted(out, name, value);
    }
}

fn push_name(out: &mut String, name: &str) {
    if !out.ends_with(' ') {
        out.push_str(", ");
    }
    out.push_str(name);
    out.push('=');
}

impl Challenge {
    /// The value for `WWW-Authenticate` (starting `Digest `), with `qop="auth"`.
    pub fn header_value(&self) -> String {
        let mut out = String::from("Digest ");
        push_quoted(&mut out, "realm", &self.realm);
        push_quoted(&mut out, "nonce", &self.nonce);
        if let Some(opaque) = &self.opaque {
            push_quoted(&mut out, "opaque", opaque);
        }
        push_token(&mut out, "algorithm", self.algorithm.name());
        push_quoted(&mut out, "qop", "auth");
        if self.stale {
            push_token(&mut out, "stale", "true");
        }
        out
    }

    /// Parses a `WWW-Authenticate` value. A `qop` list without `auth` is refused (we answer
    /// with `qop=auth` only); a challenge with no `qop` at all (RFC 2069) is accepted.
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        let mut params = parse_params(value)?;
        let realm = required(&mut params, "realm")?;
        let nonce = required(&mut params, "nonce")?;
        let opaque = take(&mut params, "opaque").map(|p| p.value);
        let algorithm = match take(&mut params, "algorithm") {
            Some(p) => Algorithm::from_name(&p.value)?,
            None => Algorithm::Md5,
        };
        if let Some(qop) = take(&mut params, "qop")
            && !qop
                .value
                .split(',')
                .any(|q| q.trim().eq_ignore_ascii_case("auth"))
        {
            return Err(DigestError::UnsupportedQop(qop.value));
        }
        let stale = match take(&mut params, "stale") {
            None => false,
            Some(p) if p.value.eq_ignore_ascii_case("true") => true,
            Some(p) if p.value.eq_ignore_ascii_case("false") => false,
            Some(p) => {
                return Err(DigestError::Malformed {
                    field: "stale",
                    offset: p.offset,
                });
            }
        };
        Ok(Self {
            realm,
            nonce,
            algorithm,
            stale,
            opaque,
        })
    }
}

impl Credentials {
    /// Parses an `Authorization` value. `qop`, when present, must be `auth`, and then `nc`
    /// (8 hex digits) and `cnonce` are required (RFC 7616 §3.4). Unknown parameters are ignored.
    pub fn parse(value: &str) -> Result<Self, DigestError> {
        let mut params = parse_params(value)?;
        let username = required(&mut params, "username")?;
        let realm = required(&mut params, "realm")?;
        let nonce = required(&mut params, "nonce")?;
        let uri = required(&mut params, "uri")?;
        let response = required(&mut params, "response")?;
        let algorithm = match take(&mut params, "algorithm") {
            Some(p) => Algorithm::from_name(&p.value)?,
            None => Algorithm::Md5,
        };
        let qop = take(&mut params, "qop").map(|p| p.value);
        let nc = take(&mut params, "nc");
        let cnonce = take(&mut params, "cnonce").map(|p| p.value);
        let opaque = take(&mut params, "opaque").map(|p| p.value);
        if let Some(q) = &qop {
            if !q.eq_ignore_ascii_case("auth") {
                return Err(DigestError::UnsupportedQop(q.clone()));
            }
            if nc.is_none() {
                return Err(DigestError::Missing { field: "nc" });
            }
            if cnonce.is_none() {
                return Err(DigestError::Missing { field: "cnonce" });
            }
        }
        if let Some(p) = &nc
            && (p.value.len() != 8 || !p.value.bytes().all(|b| b.is_ascii_hexdigit()))
        {
            return Err(DigestError::Malformed {
                field: "nc",
                offset: p.offset,
            });
        }
        Ok(Self {
            username,
            realm,
            nonce,
            uri,
            response,
            algorithm,
            qop,
            nc: nc.map(|p| p.value),
            cnonce,
            opaque,
        })
    }

    /// The value for `Authorization` (starting `Digest `).
    pub fn header_value(&self) -> String {
        let mut out = String::from("Digest ");
        push_quoted(&mut out, "username", &self.username);
        push_quoted(&mut out, "realm", &self.realm);
        push_quoted(&mut out, "nonce", &self.nonce);
        push_quoted(&mut out, "uri", &self.uri);
        push_quoted(&mut out, "response", &self.response);
        push_token(&mut out, "algorithm", self.algorithm.name());
        if let Some(cnonce) = &self.cnonce {
            push_quoted(&mut out, "cnonce", cnonce);
        }
        if let Some(opaque) = &self.opaque {
            push_quoted(&mut out, "opaque", opaque);
        }
        if let Some(qop) = &self.qop {
            push_token(&mut out, "qop", qop);
        }
        if let Some(nc) = &self.nc {
            push_token(&mut out, "nc", nc);
        }
        out
    }
}

/// The request-digest (lower-case hex) a client computes, and the check a server makes.
///
/// `qop_nc_cnonce` is `Some((nc, cnonce))` for `qop=auth`, `None` for the RFC 2069 form
/// (RFC 7616 §3.4.1: `H(H(A1):nonce:nc:cnonce:qop:H(A2))`, A1 = `user:realm:password`,
/// A2 = `method:uri`).
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
    let ha1 = alg.hex_hash(&[username, realm, password]);
    let ha2 = alg.hex_hash(&[method, uri]);
    match qop_nc_cnonce {
        Some((nc, cnonce)) => alg.hex_hash(&[&ha1, nonce, nc, cnonce, "auth", &ha2]),
        None => alg.hex_hash(&[&ha1, nonce, &ha2]),
    }
}

/// Whether `creds` prove knowledge of `password` for `method` (constant-time compare).
///
/// Only the request-digest is checked: the caller checks the nonce ([`Nonces::check`]), the
/// realm, that `uri` matches the Request-URI, and which user `username` is.
pub fn verify(creds: &Credentials, method: &str, password: &str) -> bool {
    let qop = match (&creds.qop, &creds.nc, &creds.cnonce) {
        (Some(q), Some(nc), Some(cnonce)) if q.eq_ignore_ascii_case("auth") => {
            Some((nc.as_str(), cnonce.as_str()))
        }
        (Some(_), _, _) => return false,
        (None, _, _) => None,
    };
    let expected = response(
        creds.algorithm,
        &creds.username,
        &creds.realm,
        password,
        method,
        &creds.uri,
        &creds.nonce,
        qop,
    );
    let given = creds.response.to_ascii_lowercase();
    // Compare MACs of both under a fixed key: ring's verify is constant-time, and equal MACs
    // mean equal inputs.
    let key = hmac::Key::new(hmac::HMAC_SHA256, b"offhook digest compare");
    let tag = hmac::sign(&key, expected.as_bytes());
    hmac::verify(&key, given.as_bytes(), tag.as_ref()).is_ok()
}

/// For a client (our own tests, a future trunk): the Authorization answering `challenge`,
/// always with `qop=auth` and nonce count `nc`.
pub fn authorize(
    challenge: &Challenge,
    username: &str,
    password: &str,
    method: &str,
    uri: &str,
    cnonce: &str,
    nc: u32,
) -> Credentials {
    let nc = format!("{nc:08x}");
    let response = response(
        challenge.algorithm,
        username,
        &challenge.realm,
        password,
        method,
        uri,
        &challenge.nonce,
        Some((&nc, cnonce)),
    );
    Credentials {
        username: username.to_owned(),
        realm: challenge.realm.clone(),
        nonce: challenge.nonce.clone(),
        uri: uri.to_owned(),
        response,
        algorithm: challenge.algorithm,
        qop: Some("auth".to_owned()),
        nc: Some(nc),
        cnonce: Some(cnonce.to_owned()),
        opaque: challenge.opaque.clone(),
    }
}

#[cfg(test)]
mod tests;
