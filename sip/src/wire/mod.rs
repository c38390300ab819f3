//! The SIP message codec (RFC 3261 §7, §20, §25): requests, responses, headers, URIs, and TCP
//! framing (§18.3).
//!
//! Messages are owned values: [`parse`] copies what it needs out of the datagram, so a message
//! outlives the receive buffer and can be kept by a transaction. Every count and length is
//! bounded by a `const` below, checked before allocating; the parser never panics, and a
//! [`ParseError`] names the field and the byte offset, and says how to [`answer`](ParseError::answer).
//!
//! Encoding always writes `Content-Length` (from the body), canonical header names and CRLF.
//! Header values are kept as text (unfolded, trimmed); the typed accessors on [`Headers`]
//! read them on demand. [`parse`] checks the headers every transaction needs (the top Via,
//! From, To, Call-ID, CSeq) and every Contact, so a message that parses can be answered.
//!
//! - `addr`: URIs, name-addrs, Via, CSeq, Contact (parse and Display);
//! - `header`: header names and [`Headers`];
//! - `parse`: [`parse`], [`ParseError`] and [`error_response`];
//! - `framer`: [`StreamFramer`] for TCP.
//!
//! Test vectors are RFC 4475's torture messages and baresip's own REGISTER and INVITE; the
//! `sip_wire` fuzz target checks that what parses encodes and re-parses to the same message.

use std::fmt;
use std::str::FromStr;

mod addr;
mod framer;
mod header;
mod parse;
#[cfg(test)]
mod tests;

pub use parse::{error_response, parse};

/// The largest message accepted, in bytes: a UDP datagram's payload can be no larger, and TCP
/// messages are held to the same bound (a longer one closes the connection).
pub const MAX_MESSAGE: usize = 65_535;
/// The most header lines in one message (after unfolding); more is an error (Answer 400).
pub const MAX_HEADERS: usize = 128;
/// The most Via values in one message (counting comma-separated values); more is an error.
/// Each hop adds one and Max-Forwards starts at 70 (RFC 3261 §8.1.1.6), so no legitimate
/// request carries more; RFC 4475's `longreq` carries 34.
pub const MAX_VIA: usize = 70;
/// The longest URI, in bytes (longer: 414 Request-URI Too Long for a Request-URI).
pub const MAX_URI: usize = 8_192;
/// The most parameters in one URI, one URI's headers, or one header value.
pub const MAX_PARAMS: usize = 64;

/// A SIP message: a request or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A request (RFC 3261 §7.1).
    Request(Request),
    /// A response (RFC 3261 §7.2).
    Response(Response),
}

/// A SIP request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The method of the request line.
    pub method: Method,
    /// The Request-URI.
    pub uri: Uri,
    /// The headers, in order.
    pub headers: Headers,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

/// A SIP response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code, 100..=699.
    pub status: u16,
    /// The reason phrase (may be empty).
    pub reason: String,
    /// The headers, in order.
    pub headers: Headers,
    /// The body (`Content-Length` bytes).
    pub body: Vec<u8>,
}

/// A request method (RFC 3261 §7.1 and the extensions in common use).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Method {
    /// INVITE.
    Invite,
    /// ACK.
    Ack,
    /// BYE.
    Bye,
    /// CANCEL.
    Cancel,
    /// REGISTER.
    Register,
    /// OPTIONS.
    Options,
    /// INFO (RFC 6086).
    Info,
    /// SUBSCRIBE (RFC 6665).
    Subscribe,
    /// NOTIFY (RFC 6665).
    Notify,
    /// MESSAGE (RFC 3428).
    Message,
    /// UPDATE (RFC 3311).
    Update,
    /// PRACK (RFC 3262).
    Prack,
    /// REFER (RFC 3515).
    Refer,
    /// PUBLISH (RFC 3903).
    Publish,
    /// Any other token; methods are case-sensitive (RFC 3261 §7.1).
    Other(String),
}

/// A transport named in a Via header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

/// A URI scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `sip:`.
    Sip,
    /// `sips:`.
    Sips,
    /// `tel:` (RFC 3966); the number is kept in `host`.
    Tel,
}

/// A SIP, SIPS or tel URI (RFC 3261 §19.1, RFC 3966).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Uri {
    /// The scheme.
    pub scheme: Scheme,
    /// The user part (with its password, if any, as written), unescaped.
    pub user: Option<String>,
    /// The host; an IPv6 reference is kept without its brackets. For `tel:` the number.
    pub host: String,
    /// The port, if written.
    pub port: Option<u16>,
    /// The URI parameters (`;name=value` or `;name`), in order.
    pub params: Vec<(String, Option<String>)>,
    /// The URI headers (`?name=value&...`), in order.
    pub headers: Vec<(String, String)>,
}

/// A name-addr or addr-spec with header parameters: the value of From, To, Contact, Route…
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NameAddr {
    /// The display name, unquoted.
    pub display: Option<String>,
    /// The URI.
    pub uri: Uri,
    /// The header parameters after the address (`;tag=…`), in order.
    pub params: Vec<(String, Option<String>)>,
}

/// One Via value (RFC 3261 §20.42).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Via {
    /// The transport of `SIP/2.0/<transport>`.
    pub transport: Transport,
    /// The sent-by host; IPv6 without brackets.
    pub host: String,
    /// The sent-by port, if written.
    pub port: Option<u16>,
    /// The parameters (`branch`, `received`, `rport`…), in order.
    pub params: Vec<(String, Option<String>)>,
}

/// The CSeq header (RFC 3261 §20.16).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CSeq {
    /// The sequence number (less than 2^31 per §8.1.1.5, though any u32 is read).
    pub seq: u32,
    /// The method.
    pub method: Method,
}

/// One Contact value (RFC 3261 §20.10).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Contact {
    /// `*`: every binding (REGISTER with Expires 0 only).
    Star,
    /// An address with its parameters (`expires`, `q`…).
    Addr(NameAddr),
}

/// A header name. Names are case-insensitive (an `Other` name compares so too) and compact
/// forms are read as the full name.
#[derive(Debug, Clone, Eq)]
pub enum HeaderName {
    /// Via (`v`).
    Via,
    /// From (`f`).
    From,
    /// To (`t`).
    To,
    /// Call-ID (`i`).
    CallId,
    /// CSeq.
    CSeq,
    /// Contact (`m`).
    Contact,
    /// Max-Forwards.
    MaxForwards,
    /// Expires.
    Expires,
    /// Min-Expires.
    MinExpires,
    /// Content-Length (`l`).
    ContentLength,
    /// Content-Type (`c`).
    ContentType,
    /// Authorization.
    Authorization,
    /// WWW-Authenticate.
    WwwAuthenticate,
    /// Proxy-Authorization.
    ProxyAuthorization,
    /// Proxy-Authenticate.
    ProxyAuthenticate,
    /// Allow.
    Allow,
    /// Supported (`k`).
    Supported,
    /// Require.
    Require,
    /// Unsupported.
    Unsupported,
    /// User-Agent.
    UserAgent,
    /// Server.
    Server,
    /// Event (`o`).
    Event,
    /// Subscription-State.
    SubscriptionState,
    /// Accept.
    Accept,
    /// Retry-After.
    RetryAfter,
    /// Record-Route.
    RecordRoute,
    /// Route.
    Route,
    /// Date.
    Date,
    /// Any other header, spelled as received (compared case-insensitively).
    Other(String),
}

/// The headers of a message: order kept, duplicates kept.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(HeaderName, String)>);

/// Why a message could not be parsed, where, and how to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// The field (header name or message part) where it was found.
    pub field: &'static str,
    /// Byte offset in the message where it was found.
    pub offset: usize,
    /// Whether the message was a request whose Via, From, To, Call-ID and CSeq could be read,
    /// so that a response can be built.
    pub answerable: bool,
}

/// What is wrong with a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// The message is longer than [`MAX_MESSAGE`] (answer 513 if answerable).
    TooLarge,
    /// Content-Length announces a body larger than [`MAX_MESSAGE`] (answer 413).
    BodyTooLarge,
    /// A count limit was exceeded ([`MAX_HEADERS`], [`MAX_VIA`]).
    TooMany,
    /// The Request-URI is too long (answer 414).
    UriTooLong,
    /// The start line is malformed.
    StartLine,
    /// The version is not `SIP/2.0` (answer 505).
    Version,
    /// The Request-URI has an unsupported scheme (answer 416).
    UnsupportedScheme,
    /// Bytes that are not UTF-8 text.
    NotUtf8,
    /// A header line or value is malformed.
    Header,
    /// A Via names a transport other than UDP, TCP or TLS.
    UnsupportedTransport,
    /// The CSeq method differs from the request method (RFC 4475 §3.1.2.17).
    MethodMismatch,
    /// A mandatory header is missing.
    Missing,
    /// Content-Length is malformed, negative or too large.
    ContentLength,
    /// Content-Length is larger than the bytes present.
    Truncated,
    /// The message ended before the empty line that ends the headers.
    Incomplete,
}

/// How to answer a message that failed to parse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// Send a response with this status (the reason text is the error's Display).
    Respond(u16),
    /// Drop silently (and count).
    Drop,
}

/// Splits a TCP (or TLS) byte stream into messages (RFC 3261 §18.3); skips CRLF keep-alives
/// (RFC 5626 §3.5.1), counting them so the driver can answer each `\r\n\r\n` with `\r\n`.
#[derive(Debug, Default)]
pub struct StreamFramer {
    buf: Vec<u8>,
    /// Where the search for the empty line resumes: the start of the first line of `buf`
    /// not yet seen whole, so that no byte is scanned twice however the stream is cut.
    scan: usize,
    /// The length of the message at the front of `buf`, once its header block is whole.
    want: Option<usize>,
    keepalives: usize,
    failed: bool,
    /// Bytes were pushed past the buffer's bound and dropped: once the whole messages before
    /// them are popped, the stream is in error.
    overflowed: bool,
}

impl Method {
    /// The method's token.
    pub fn as_str(&self) -> &str {
        match self {
            Self::Invite => "INVITE",
            Self::Ack => "ACK",
            Self::Bye => "BYE",
            Self::Cancel => "CANCEL",
            Self::Register => "REGISTER",
            Self::Options => "OPTIONS",
            Self::Info => "INFO",
            Self::Subscribe => "SUBSCRIBE",
            Self::Notify => "NOTIFY",
            Self::Message => "MESSAGE",
            Self::Update => "UPDATE",
            Self::Prack => "PRACK",
            Self::Refer => "REFER",
            Self::Publish => "PUBLISH",
            Self::Other(s) => s,
        }
    }

    /// The method for a token already checked to be one (case-sensitive, §7.1).
    fn from_token(s: &str) -> Self {
        match s {
            "INVITE" => Self::Invite,
            "ACK" => Self::Ack,
            "BYE" => Self::Bye,
            "CANCEL" => Self::Cancel,
            "REGISTER" => Self::Register,
            "OPTIONS" => Self::Options,
            "INFO" => Self::Info,
            "SUBSCRIBE" => Self::Subscribe,
            "NOTIFY" => Self::Notify,
            "MESSAGE" => Self::Message,
            "UPDATE" => Self::Update,
            "PRACK" => Self::Prack,
            "REFER" => Self::Refer,
            "PUBLISH" => Self::Publish,
            other => Self::Other(other.to_string()),
        }
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = ParseError;
    /// Reads a method token (RFC 3261 §25.1 `token`); methods are case-sensitive, so
    /// `invite` is `Other("invite")`.
    fn from_str(s: &str) -> Result<Self, ParseError> {
        if addr::is_token(s) {
            Ok(Self::from_token(s))
        } else {
            Err(addr::err(ParseErrorKind::StartLine, "Method", 0))
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        })
    }
}

/// Reads `delta-seconds` (`1*DIGIT`); values past `u32::MAX` saturate (RFC 3261 §20.19 caps
/// Expires at 2^32-1).
fn delta_seconds(s: &str) -> Option<u32> {
    let s = s.trim();
    if s.is_empty() || !s.bytes().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some(s.parse::<u32>().unwrap_or(u32::MAX))
}

/// Writes the headers (canonical names; CR and LF in values, which would forge header lines,
/// become spaces), a `Content-Length` for `body` at the place of the first one (or last), the
/// empty line and the body.
fn encode_rest(out: &mut Vec<u8>, headers: &Headers, body: &[u8]) {
    let mut wrote_length = false;
    for (name, value) in headers.iter() {
        if *name == HeaderName::ContentLength {
            if !wrote_length {
                out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
                wrote_length = true;
            }
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend(
            value
                .bytes()
                .map(|b| if b == b'\r' || b == b'\n' { b' ' } else { b }),
        );
        out.extend_from_slice(b"\r\n");
    }
    if !wrote_length {
        out.extend_from_slice(format!("Content-Length: {}\r\n", body.len()).as_bytes());
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

impl Request {
    /// A request with no headers and no body.
    pub fn new(method: Method, uri: Uri) -> Self {
        Self {
            method,
            uri,
            headers: Headers::new(),
            body: Vec::new(),
        }
    }
    /// The request's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        out.extend_from_slice(format!("{} {} SIP/2.0\r\n", self.method, self.uri).as_bytes());
        encode_rest(&mut out, &self.headers, &self.body);
        out
    }
}

impl Response {
    /// A response with no headers and no body.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Self {
            status,
            reason: reason.into(),
            headers: Headers::new(),
            body: Vec::new(),
        }
    }
    /// The response's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(512 + self.body.len());
        let reason: String = self
            .reason
            .chars()
            .map(|c| if c == '\r' || c == '\n' { ' ' } else { c })
            .collect();
        out.extend_from_slice(format!("SIP/2.0 {:03} {reason}\r\n", self.status).as_bytes());
        encode_rest(&mut out, &self.headers, &self.body);
        out
    }
    /// A response to `req` per RFC 3261 §8.2.6: Via(s), From, To (a to-tag added when given
    /// and absent), Call-ID, CSeq copied; Content-Length 0.
    pub fn to_request(req: &Request, status: u16, reason: &str, to_tag: Option<&str>) -> Self {
        let mut response = Self::new(status, reason);
        for (name, value) in req.headers.iter() {
            match name {
                HeaderName::To => {
                    let mut value = value.to_string();
                    if let Some(tag) = to_tag {
                        let has_tag = addr::parse_name_addr(&value, "To", 0)
                            .map(|a| a.tag().is_some())
                            .unwrap_or(false);
                        if !has_tag {
                            value = format!("{value};tag={tag}");
                        }
                    }
                    response.headers.push(HeaderName::To, value);
                }
                HeaderName::Via | HeaderName::From | HeaderName::CallId | HeaderName::CSeq => {
                    response.headers.push(name.clone(), value);
                }
                _ => {}
            }
        }
        response.headers.push(HeaderName::ContentLength, "0");
        response
    }
}

impl Message {
    /// The message's bytes.
    pub fn encode(&self) -> Vec<u8> {
        match self {
            Self::Request(r) => r.encode(),
            Self::Response(r) => r.encode(),
        }
    }
    /// The headers.
    pub fn headers(&self) -> &Headers {
        match self {
            Self::Request(r) => &r.headers,
            Self::Response(r) => &r.headers,
        }
    }
    /// The headers, mutably.
    pub fn headers_mut(&mut self) -> &mut Headers {
        match self {
            Self::Request(r) => &mut r.headers,
            Self::Response(r) => &mut r.headers,
        }
    }
    /// The body.
    pub fn body(&self) -> &[u8] {
        match self {
            Self::Request(r) => &r.body,
            Self::Response(r) => &r.body,
        }
    }
}

/// The RFC 3261 §21 reason phrase for `status` (with RFC 3265's 489, RFC 3329's 494 and
/// RFC 6665's 204); a class phrase for other codes.
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Trying",
        180 => "Ringing",
        181 => "Call Is Being Forwarded",
        182 => "Queued",
        183 => "Session Progress",
        200 => "OK",
        202 => "Accepted",
        204 => "No Notification",
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Moved Temporarily",
        305 => "Use Proxy",
        380 => "Alternative Service",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        407 => "Proxy Authentication Required",
        408 => "Request Timeout",
        410 => "Gone",
        413 => "Request Entity Too Large",
        414 => "Request-URI Too Long",
        415 => "Unsupported Media Type",
        416 => "Unsupported URI Scheme",
        420 => "Bad Extension",
        421 => "Extension Required",
        423 => "Interval Too Brief",
        480 => "Temporarily Unavailable",
        481 => "Call/Transaction Does Not Exist",
        482 => "Loop Detected",
        483 => "Too Many Hops",
        484 => "Address Incomplete",
        485 => "Ambiguous",
        486 => "Busy Here",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        489 => "Bad Event",
        491 => "Request Pending",
        493 => "Undecipherable",
        494 => "Security Agreement Required",
        500 => "Server Internal Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Server Time-out",
        505 => "Version Not Supported",
        513 => "Message Too Large",
        600 => "Busy Everywhere",
        603 => "Decline",
        604 => "Does Not Exist Anywhere",
        606 => "Not Acceptable",
        _ => match status / 100 {
            1 => "Provisional",
            2 => "Success",
            3 => "Redirection",
            4 => "Client Error",
            5 => "Server Error",
            _ => "Global Failure",
        },
    }
}
