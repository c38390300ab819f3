//! URIs (RFC 3261 §19.1, §25.1; RFC 3966 for `tel:`), name-addr values (§20.10, §20.20,
//! §20.39), Via (§20.42), CSeq (§20.16) and Contact (§20.10): parsing and display.
//!
//! Parsing is tolerant of the linear white space RFC 3261 allows around `;`, `=` and `/`
//! (RFC 4475 §3.1.1.1), and strict where the RFC is: a URI holds no white space, an addr-spec
//! outside `<>` holds no `?` or `,` (§20, RFC 4475 §3.1.2.13), a parameter has a name
//! (§3.1.2.1), a quoted string is closed (§3.1.2.6).

use std::fmt;
use std::str::FromStr;

use super::{
    CSeq, Contact, MAX_PARAMS, MAX_URI, Method, NameAddr, ParseError, ParseErrorKind, Scheme,
    Transport, Uri, Via,
};

type Params = Vec<(String, Option<String>)>;

pub(super) fn err(kind: ParseErrorKind, field: &'static str, offset: usize) -> ParseError {
    ParseError {
        kind,
        field,
        offset,
        answerable: false,
    }
}

/// RFC 3261 §25.1 `token` characters.
pub(super) fn is_token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-.!%*_+`'~".contains(c)
}

pub(super) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.chars().all(is_token_char)
}

fn is_ws(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Offset of `inner` (a subslice of `outer`) within `outer`.
fn off(outer: &str, inner: &str) -> usize {
    (inner.as_ptr() as usize).saturating_sub(outer.as_ptr() as usize)
}

/// Reads a quoted string starting at `s[0] == '"'`: its unescaped content and the byte index
/// just past the closing quote. `None` when it is not closed.
pub(super) fn quoted(s: &str) -> Option<(String, usize)> {
    let mut out = String::new();
    let mut chars = s.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => out.push(chars.next()?.1),
            '"' => return Some((out, i + 1)),
            c => out.push(c),
        }
    }
    None
}

/// Writes `s` as a quoted string; `"` and `\` and control characters are escaped, CR and LF
/// (which cannot be escaped, §25.1 quoted-pair) become spaces.
fn write_quoted(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("\"")?;
    for c in s.chars() {
        match c {
            '\r' | '\n' => f.write_str(" ")?,
            '"' | '\\' => write!(f, "\\{c}")?,
            c if c.is_ascii_control() && c != '\t' => write!(f, "\\{c}")?,
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

/// Header parameters: `*( LWS ";" LWS name [ LWS "=" LWS value ] )` to the end of `s`. A
/// quoted value is kept with its quotes, as written.
fn header_params(s: &str, field: &'static str, base: usize) -> Result<Params, ParseError> {
    let mut params = Vec::new();
    let mut rest = s.trim_start_matches(is_ws);
    while !rest.is_empty() {
        let at = |r: &str| base + off(s, r);
        let Some(r) = rest.strip_prefix(';') else {
            return Err(err(ParseErrorKind::Header, field, at(rest)));
        };
        let r = r.trim_start_matches(is_ws);
        let name_len = r.find(|c: char| !is_token_char(c)).unwrap_or(r.len());
        if name_len == 0 {
            return Err(err(ParseErrorKind::Header, field, at(r)));
        }
        if params.len() == MAX_PARAMS {
            return Err(err(ParseErrorKind::TooMany, field, at(r)));
        }
        let name = &r[..name_len];
        let mut r = r[name_len..].trim_start_matches(is_ws);
        let value = if let Some(v) = r.strip_prefix('=') {
            let v = v.trim_start_matches(is_ws);
            let len = if v.starts_with('"') {
                quoted(v)
                    .ok_or_else(|| err(ParseErrorKind::Header, field, at(v)))?
                    .1
            } else {
                v.find(|c: char| is_ws(c) || c == ';' || c == ',' || c == '"')
                    .unwrap_or(v.len())
            };
            if len == 0 {
                return Err(err(ParseErrorKind::Header, field, at(v)));
            }
            r = v[len..].trim_start_matches(is_ws);
            Some(v[..len].to_string())
        } else {
            None
        };
        params.push((name.to_string(), value));
        rest = r;
    }
    Ok(params)
}

fn write_params(f: &mut fmt::Formatter<'_>, params: &Params) -> fmt::Result {
    for (name, value) in params {
        match value {
            Some(v) => write!(f, ";{name}={v}")?,
            None => write!(f, ";{name}")?,
        }
    }
    Ok(())
}

pub(super) fn find_param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_deref().unwrap_or(""))
}

/// Characters a URI's user part may hold unescaped (§25.1 `unreserved`, `user-unreserved`,
/// and `:` between user and password).
fn user_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || b"-_.!~*'()&=+$,;?/:".contains(&c)
}

fn unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |j: usize| b.get(j).and_then(|&c| (c as char).to_digit(16));
        match (b[i], hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (c, _, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

fn host_ok(host: &str, bracketed: bool) -> bool {
    !host.is_empty()
        && host.chars().all(|c| {
            if bracketed {
                c.is_ascii_hexdigit() || c == ':' || c == '.'
            } else {
                c.is_ascii_alphanumeric() || c == '-' || c == '.' || c == '_'
            }
        })
}

/// `host [":" port]`, IPv6 references in brackets (kept without them).
fn host_port(
    s: &str,
    field: &'static str,
    base: usize,
) -> Result<(String, Option<u16>), ParseError> {
    let bad = || err(ParseErrorKind::Header, field, base);
    let (host, port) = if let Some(r) = s.strip_prefix('[') {
        let end = r.find(']').ok_or_else(bad)?;
        let host = &r[..end];
        if !host_ok(host, true) {
            return Err(bad());
        }
        (host, &r[end + 1..])
    } else {
        let end = s.find(':').unwrap_or(s.len());
        if !host_ok(&s[..end], false) {
            return Err(bad());
        }
        (&s[..end], &s[end..])
    };
    let port = if port.is_empty() {
        None
    } else {
        let digits = port.strip_prefix(':').ok_or_else(bad)?;
        if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|c| c.is_ascii_digit()) {
            return Err(err(ParseErrorKind::Header, field, base + off(s, digits)));
        }
        Some(digits.parse::<u16>().map_err(|_| bad())?)
    };
    Ok((host.to_string(), port))
}

/// Parses a URI; `field` names where it was found, `base` its offset in the message.
pub(super) fn parse_uri(s: &str, field: &'static str, base: usize) -> Result<Uri, ParseError> {
    if s.len() > MAX_URI {
        return Err(err(ParseErrorKind::UriTooLong, field, base + MAX_URI));
    }
    let bad = |at: usize| err(ParseErrorKind::Header, field, base + at);
    let colon = s.find(':').ok_or_else(|| bad(0))?;
    let scheme = &s[..colon];
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !scheme_ok {
        return Err(bad(0));
    }
    if let Some(i) = s.find(|c: char| c.is_whitespace() || c.is_control() || "<>\"".contains(c)) {
        return Err(bad(i));
    }
    let scheme = if scheme.eq_ignore_ascii_case("sip") {
        Scheme::Sip
    } else if scheme.eq_ignore_ascii_case("sips") {
        Scheme::Sips
    } else if scheme.eq_ignore_ascii_case("tel") {
        Scheme::Tel
    } else {
        return Err(err(ParseErrorKind::UnsupportedScheme, field, base));
    };
    let rest = &s[colon + 1..];
    let (user, hostpart) = match (scheme, rest.find('@')) {
        (Scheme::Tel, _) | (_, None) => (None, rest),
        (_, Some(at)) => {
            let user = unescape(&rest[..at]).ok_or_else(|| bad(colon + 1))?;
            if user.is_empty() {
                return Err(bad(colon + 1));
            }
            (Some(user), &rest[at + 1..])
        }
    };
    let hp_end = hostpart.find([';', '?']).unwrap_or(hostpart.len());
    let (host, port) = if scheme == Scheme::Tel {
        let number = &hostpart[..hp_end];
        if number.is_empty() {
            return Err(bad(colon + 1));
        }
        (number.to_string(), None)
    } else {
        host_port(&hostpart[..hp_end], field, base + off(s, hostpart))?
    };
    let tail = &hostpart[hp_end..];
    let (param_part, header_part) = match tail.find('?') {
        Some(q) => (&tail[..q], Some(&tail[q + 1..])),
        None => (tail, None),
    };
    let mut params = Vec::new();
    for p in param_part.split(';').skip(1) {
        let (name, value) = match p.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (p, None),
        };
        if name.is_empty() || params.len() == MAX_PARAMS {
            return Err(bad(off(s, p)));
        }
        params.push((name.to_string(), value));
    }
    let mut headers = Vec::new();
    if let Some(h) = header_part {
        for kv in h.split('&') {
            let (name, value) = kv.split_once('=').unwrap_or((kv, ""));
            if name.is_empty() || headers.len() == MAX_PARAMS {
                return Err(bad(off(s, kv)));
            }
            headers.push((name.to_string(), value.to_string()));
        }
    }
    Ok(Uri {
        scheme,
        user,
        host,
        port,
        params,
        headers,
    })
}

impl Uri {
    /// The value of URI parameter `name` (case-insensitive); `Some("")` for a flag parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sip => "sip",
            Self::Sips => "sips",
            Self::Tel => "tel",
        })
    }
}

fn write_host(f: &mut fmt::Formatter<'_>, host: &str, port: Option<u16>) -> fmt::Result {
    if host.contains(':') {
        write!(f, "[{host}]")?;
    } else {
        f.write_str(host)?;
    }
    match port {
        Some(p) => write!(f, ":{p}"),
        None => Ok(()),
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.scheme)?;
        if self.scheme == Scheme::Tel {
            f.write_str(&self.host)?;
        } else {
            if let Some(user) = &self.user {
                for &b in user.as_bytes() {
                    if user_char(b) {
                        write!(f, "{}", b as char)?;
                    } else {
                        write!(f, "%{b:02X}")?;
                    }
                }
                f.write_str("@")?;
            }
            write_host(f, &self.host, self.port)?;
        }
        for (name, value) in &self.params {
            match value {
                Some(v) => write!(f, ";{name}={v}")?,
                None => write!(f, ";{name}")?,
            }
        }
        for (i, (name, value)) in self.headers.iter().enumerate() {
            write!(f, "{}{name}={value}", if i == 0 { '?' } else { '&' })?;
        }
        Ok(())
    }
}

impl FromStr for Uri {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse_uri(s, "URI", 0)
    }
}

/// Parses a name-addr or addr-spec with header parameters.
pub(super) fn parse_name_addr(
    s: &str,
    field: &'static str,
    base: usize,
) -> Result<NameAddr, ParseError> {
    let t = s.trim_matches(is_ws);
    let at = |r: &str| base + off(s, r);
    let (display, rest) = if t.starts_with('"') {
        let (display, end) = quoted(t).ok_or_else(|| err(ParseErrorKind::Header, field, at(t)))?;
        (Some(display), t[end..].trim_start_matches(is_ws))
    } else if let Some(lt) = t.find('<') {
        let d = t[..lt].trim_matches(is_ws);
        if let Some(bad) = d.find(|c: char| !is_token_char(c) && !is_ws(c)) {
            return Err(err(ParseErrorKind::Header, field, at(d) + bad));
        }
        ((!d.is_empty()).then(|| d.to_string()), &t[lt..])
    } else {
        // addr-spec: the URI ends at the first `;`, and must hold no `?` or `,` (§20).
        let end = t.find(';').unwrap_or(t.len());
        let u = t[..end].trim_end_matches(is_ws);
        if let Some(bad) = u.find(['?', ',']) {
            return Err(err(ParseErrorKind::Header, field, at(u) + bad));
        }
        let uri = parse_uri(u, field, at(u))?;
        let params = header_params(&t[end..], field, at(&t[end..]))?;
        return Ok(NameAddr {
            display: None,
            uri,
            params,
        });
    };
    let Some(inner) = rest.strip_prefix('<') else {
        return Err(err(ParseErrorKind::Header, field, at(rest)));
    };
    let gt = inner
        .find('>')
        .ok_or_else(|| err(ParseErrorKind::Header, field, at(inner)))?;
    let uri = parse_uri(&inner[..gt], field, at(inner))?;
    let after = &inner[gt + 1..];
    let params = header_params(after, field, at(after))?;
    Ok(NameAddr {
        display,
        uri,
        params,
    })
}

impl NameAddr {
    /// A name-addr with no display name and no parameters.
    pub fn new(uri: Uri) -> Self {
        Self {
            display: None,
            uri,
            params: Vec::new(),
        }
    }
    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag")
    }
    /// The value of header parameter `name` (case-insensitive); `Some("")` for a flag.
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(d) = &self.display {
            write_quoted(f, d)?;
            f.write_str(" ")?;
        }
        write!(f, "<{}>", self.uri)?;
        write_params(f, &self.params)
    }
}

impl FromStr for NameAddr {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse_name_addr(s, "name-addr", 0)
    }
}

/// Parses one Via value: `SIP / 2.0 / transport LWS sent-by *(; via-params)`.
pub(super) fn parse_via(s: &str, base: usize) -> Result<Via, ParseError> {
    const F: &str = "Via";
    let at = |r: &str| base + off(s, r);
    let mut r = s.trim_start_matches(is_ws);
    for (i, part) in ["SIP", "2.0"].into_iter().enumerate() {
        let ok = r
            .get(..part.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(part));
        if !ok {
            return Err(err(
                if i == 0 {
                    ParseErrorKind::Header
                } else {
                    ParseErrorKind::Version
                },
                F,
                at(r),
            ));
        }
        r = r[part.len()..].trim_start_matches(is_ws);
        r = r
            .strip_prefix('/')
            .ok_or_else(|| err(ParseErrorKind::Header, F, at(r)))?;
        r = r.trim_start_matches(is_ws);
    }
    let t_len = r.find(|c: char| !is_token_char(c)).unwrap_or(r.len());
    let transport = &r[..t_len];
    let transport = if transport.eq_ignore_ascii_case("UDP") {
        Transport::Udp
    } else if transport.eq_ignore_ascii_case("TCP") {
        Transport::Tcp
    } else if transport.eq_ignore_ascii_case("TLS") {
        Transport::Tls
    } else {
        return Err(err(ParseErrorKind::UnsupportedTransport, F, at(r)));
    };
    let r = &r[t_len..];
    if !r.starts_with(is_ws) {
        return Err(err(ParseErrorKind::Header, F, at(r)));
    }
    let r = r.trim_start_matches(is_ws);
    let end = r.find(';').unwrap_or(r.len());
    let sent_by: String = r[..end].chars().filter(|&c| !is_ws(c)).collect();
    let (host, port) = host_port(&sent_by, F, at(r))?;
    let params = header_params(&r[end..], F, at(&r[end..]))?;
    Ok(Via {
        transport,
        host,
        port,
        params,
    })
}

impl Via {
    /// A Via for `transport` and `host[:port]` with a `branch` parameter.
    pub fn new(
        transport: Transport,
        host: impl Into<String>,
        port: Option<u16>,
        branch: &str,
    ) -> Self {
        Self {
            transport,
            host: host.into(),
            port,
            params: vec![("branch".to_string(), Some(branch.to_string()))],
        }
    }
    /// The value of parameter `name` (case-insensitive); `Some("")` for a flag.
    pub fn param(&self, name: &str) -> Option<&str> {
        find_param(&self.params, name)
    }
    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&str> {
        self.param("branch")
    }
    /// The `received` parameter.
    pub fn received(&self) -> Option<&str> {
        self.param("received")
    }
    /// The `rport` parameter (RFC 3581): `None` if absent, `Some(None)` if present without a
    /// (numeric) value, `Some(Some(port))` if filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        self.param("rport").map(|v| v.parse().ok())
    }
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SIP/2.0/{} ", self.transport)?;
        write_host(f, &self.host, self.port)?;
        write_params(f, &self.params)
    }
}

impl FromStr for Via {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse_via(s, 0)
    }
}

/// Parses `1*DIGIT LWS Method`; the number must fit in 32 bits (RFC 4475 §3.1.2.4).
pub(super) fn parse_cseq(s: &str, base: usize) -> Result<CSeq, ParseError> {
    let t = s.trim_matches(is_ws);
    let at = base + off(s, t);
    let bad = || err(ParseErrorKind::Header, "CSeq", at);
    let (num, method) = t.split_once(is_ws).ok_or_else(bad)?;
    if num.is_empty() || num.len() > 10 || !num.bytes().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    let seq = num.parse::<u32>().map_err(|_| bad())?;
    let method = method.trim_start_matches(is_ws);
    if !is_token(method) {
        return Err(bad());
    }
    Ok(CSeq {
        seq,
        method: Method::from_token(method),
    })
}

impl FromStr for CSeq {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse_cseq(s, 0)
    }
}

/// Parses one Contact value: `*` or a name-addr.
pub(super) fn parse_contact(s: &str, base: usize) -> Result<Contact, ParseError> {
    if s.trim_matches(is_ws) == "*" {
        Ok(Contact::Star)
    } else {
        parse_name_addr(s, "Contact", base).map(Contact::Addr)
    }
}

impl Contact {
    /// The address, unless this is `*`.
    pub fn addr(&self) -> Option<&NameAddr> {
        match self {
            Self::Star => None,
            Self::Addr(a) => Some(a),
        }
    }
    /// The `expires` parameter, if present and numeric (larger values saturate).
    pub fn expires(&self) -> Option<u32> {
        super::delta_seconds(self.addr()?.param("expires")?)
    }
    /// The `q` parameter, if present (as written, e.g. `"0.7"`).
    pub fn q(&self) -> Option<&str> {
        self.addr()?.param("q")
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Star => f.write_str("*"),
            Self::Addr(a) => a.fmt(f),
        }
    }
}

impl FromStr for Contact {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        parse_contact(s, 0)
    }
}

/// Splits a comma-separated header value into its elements (trimmed; empty ones kept), with
/// their offsets in `s`. Commas inside quoted strings and `<...>` do not split.
pub(super) fn split_list(s: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let (mut start, mut in_quote, mut in_angle, mut escaped) = (0, false, false, false);
    for (i, c) in s.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quote => escaped = true,
            '"' => in_quote = !in_quote,
            '<' if !in_quote => in_angle = true,
            '>' if !in_quote => in_angle = false,
            ',' if !in_quote && !in_angle => {
                out.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out.into_iter()
        .map(|e| {
            let t = e.trim_matches(is_ws);
            (off(s, t), t)
        })
        .collect()
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}
