//! Header names (RFC 3261 §7.3.3 compact forms, §20) and the [`Headers`] list with its typed
//! accessors.

use std::fmt;
use std::hash::{Hash, Hasher};

use super::addr::{self, split_list};
use super::{
    CSeq, Contact, HeaderName, Headers, MAX_VIA, NameAddr, ParseError, ParseErrorKind, Via,
    delta_seconds,
};

/// Every known name with its canonical spelling and its compact form (§7.3.3, RFC 3265 `o`,
/// RFC 3515 `r`…, only those we name).
const NAMES: &[(HeaderName, &str, Option<char>)] = &[
    (HeaderName::Via, "Via", Some('v')),
    (HeaderName::From, "From", Some('f')),
    (HeaderName::To, "To", Some('t')),
    (HeaderName::CallId, "Call-ID", Some('i')),
    (HeaderName::CSeq, "CSeq", None),
    (HeaderName::Contact, "Contact", Some('m')),
    (HeaderName::MaxForwards, "Max-Forwards", None),
    (HeaderName::Expires, "Expires", None),
    (HeaderName::MinExpires, "Min-Expires", None),
    (HeaderName::ContentLength, "Content-Length", Some('l')),
    (HeaderName::ContentType, "Content-Type", Some('c')),
    (HeaderName::Authorization, "Authorization", None),
    (HeaderName::WwwAuthenticate, "WWW-Authenticate", None),
    (HeaderName::ProxyAuthorization, "Proxy-Authorization", None),
    (HeaderName::ProxyAuthenticate, "Proxy-Authenticate", None),
    (HeaderName::Allow, "Allow", None),
    (HeaderName::Supported, "Supported", Some('k')),
    (HeaderName::Require, "Require", None),
    (HeaderName::Unsupported, "Unsupported", None),
    (HeaderName::UserAgent, "User-Agent", None),
    (HeaderName::Server, "Server", None),
    (HeaderName::Event, "Event", Some('o')),
    (HeaderName::SubscriptionState, "Subscription-State", None),
    (HeaderName::Accept, "Accept", None),
    (HeaderName::RetryAfter, "Retry-After", None),
    (HeaderName::RecordRoute, "Record-Route", None),
    (HeaderName::Route, "Route", None),
    (HeaderName::Date, "Date", None),
];

/// Compact forms of headers we keep as `Other`, mapped to their full names (§7.3.3 `s`, `e`;
/// RFC 3515 `r`, RFC 3892 `b`, RFC 3841 `j`, `d`, RFC 4028 `x`, RFC 3903 `u`…).
const OTHER_COMPACT: &[(char, &str)] = &[
    ('s', "Subject"),
    ('e', "Content-Encoding"),
    ('r', "Refer-To"),
    ('b', "Referred-By"),
    ('u', "Allow-Events"),
    ('x', "Session-Expires"),
    ('j', "Reject-Contact"),
    ('d', "Request-Disposition"),
    ('a', "Accept-Contact"),
    ('y', "Identity"),
];

impl HeaderName {
    /// The canonical spelling (`"Call-ID"`, `"CSeq"`, `"WWW-Authenticate"`); an `Other`
    /// name as received.
    pub fn as_str(&self) -> &str {
        if let Self::Other(s) = self {
            return s;
        }
        NAMES
            .iter()
            .find(|(n, _, _)| n == self)
            .map_or("", |(_, s, _)| s)
    }

    /// Reads a header name: case-insensitive, compact forms map to the full name. The caller
    /// checks it is a token.
    pub fn parse(name: &str) -> Self {
        let mut chars = name.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            let c = c.to_ascii_lowercase();
            if let Some((n, _, _)) = NAMES.iter().find(|(_, _, k)| *k == Some(c)) {
                return n.clone();
            }
            if let Some((_, full)) = OTHER_COMPACT.iter().find(|(k, _)| *k == c) {
                return Self::Other((*full).to_string());
            }
        }
        NAMES
            .iter()
            .find(|(_, s, _)| s.eq_ignore_ascii_case(name))
            .map_or_else(|| Self::Other(name.to_string()), |(n, _, _)| n.clone())
    }

    /// Whether values of this header are comma-separated lists that [`Headers::get_all`]
    /// splits (RFC 3261 §7.3.1).
    fn is_list(&self) -> bool {
        matches!(
            self,
            Self::Via
                | Self::Contact
                | Self::Route
                | Self::RecordRoute
                | Self::Allow
                | Self::Supported
                | Self::Require
                | Self::Unsupported
                | Self::Accept
        )
    }
}

impl PartialEq for HeaderName {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Other(a), Self::Other(b)) => a.eq_ignore_ascii_case(b),
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }
}

impl Hash for HeaderName {
    fn hash<H: Hasher>(&self, state: &mut H) {
        std::mem::discriminant(self).hash(state);
        if let Self::Other(s) = self {
            for b in s.bytes() {
                state.write_u8(b.to_ascii_lowercase());
            }
        }
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

fn missing(field: &'static str) -> ParseError {
    addr::err(ParseErrorKind::Missing, field, 0)
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self(Vec::new())
    }
    /// The first value of `name` (the whole line, unsplit).
    pub fn get(&self, name: &HeaderName) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
    /// Every value of `name`, in order; comma-separated lists are split (and empty elements
    /// skipped) for Via, Contact, Route, Record-Route, Allow, Supported, Require, Unsupported
    /// and Accept.
    pub fn get_all<'a>(&'a self, name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |(n, _)| n == name)
            .flat_map(move |(_, v)| {
                let parts: Vec<&str> = if name.is_list() {
                    split_list(v)
                        .into_iter()
                        .map(|(_, e)| e)
                        .filter(|e| !e.is_empty())
                        .collect()
                } else {
                    vec![v.as_str()]
                };
                parts
            })
    }
    /// Appends a header.
    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.push((name, value.into()));
    }
    /// Replaces every `name` header with this one value (at the first one's place, else at
    /// the end).
    pub fn set(&mut self, name: HeaderName, value: impl Into<String>) {
        let value = value.into();
        match self.0.iter().position(|(n, _)| *n == name) {
            Some(i) => {
                self.0[i].1 = value;
                let mut seen = 0;
                self.0.retain(|(n, _)| {
                    let keep = *n != name || seen == 0;
                    if *n == name {
                        seen += 1;
                    }
                    keep
                });
            }
            None => self.0.push((name, value)),
        }
    }
    /// Removes every `name` header.
    pub fn remove(&mut self, name: &HeaderName) {
        self.0.retain(|(n, _)| n != name);
    }
    /// Every header, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&HeaderName, &str)> {
        self.0.iter().map(|(n, v)| (n, v.as_str()))
    }
    /// The number of header lines.
    pub fn len(&self) -> usize {
        self.0.len()
    }
    /// Whether there are no headers.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Every Via value, top first (at most [`MAX_VIA`]).
    pub fn via(&self) -> Result<Vec<Via>, ParseError> {
        let mut out = Vec::new();
        for (name, value) in &self.0 {
            if *name != HeaderName::Via {
                continue;
            }
            for (at, v) in split_list(value) {
                if out.len() == MAX_VIA {
                    return Err(addr::err(ParseErrorKind::TooMany, "Via", at));
                }
                out.push(addr::parse_via(v, at)?);
            }
        }
        Ok(out)
    }
    /// The topmost Via.
    pub fn top_via(&self) -> Result<Via, ParseError> {
        let value = self.get(&HeaderName::Via).ok_or_else(|| missing("Via"))?;
        let (at, v) = split_list(value)
            .into_iter()
            .next()
            .ok_or_else(|| missing("Via"))?;
        addr::parse_via(v, at)
    }
    /// The From header.
    pub fn from(&self) -> Result<NameAddr, ParseError> {
        let v = self.get(&HeaderName::From).ok_or_else(|| missing("From"))?;
        addr::parse_name_addr(v, "From", 0)
    }
    /// The To header.
    pub fn to(&self) -> Result<NameAddr, ParseError> {
        let v = self.get(&HeaderName::To).ok_or_else(|| missing("To"))?;
        addr::parse_name_addr(v, "To", 0)
    }
    /// The Call-ID.
    pub fn call_id(&self) -> Option<&str> {
        self.get(&HeaderName::CallId)
    }
    /// The CSeq header.
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        let v = self.get(&HeaderName::CSeq).ok_or_else(|| missing("CSeq"))?;
        addr::parse_cseq(v, 0)
    }
    /// Every Contact value, in order (none when absent).
    pub fn contacts(&self) -> Result<Vec<Contact>, ParseError> {
        let mut out = Vec::new();
        for (name, value) in &self.0 {
            if *name == HeaderName::Contact {
                for (at, v) in split_list(value) {
                    out.push(addr::parse_contact(v, at)?);
                }
            }
        }
        Ok(out)
    }
    /// The Expires header, if present and numeric (values past `u32::MAX` saturate).
    pub fn expires(&self) -> Option<u32> {
        delta_seconds(self.get(&HeaderName::Expires)?)
    }
    /// The Max-Forwards header, if present and numeric.
    pub fn max_forwards(&self) -> Option<u32> {
        self.get(&HeaderName::MaxForwards)?.trim().parse().ok()
    }
    /// The Content-Length header, if present and numeric.
    pub fn content_length(&self) -> Option<usize> {
        self.get(&HeaderName::ContentLength)?.trim().parse().ok()
    }
}
