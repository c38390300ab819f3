//! The SIP message codec (RFC 3261 §7, §20, §25): requests, responses, headers, URIs, and TCP
//! framing (§18.3).
//!
//! Messages are owned values: [`parse`] copies what it needs out of the datagram, so a message
//! outlives the receive buffer and can be kept by a transaction. Every count and length is
//! bounded by a `const` below, checked before allocating; the parser never panics, and a
//! [`ParseError`] names the field and the byte offset, and says how to [`answer`](ParseError::answer).
//!
//! Encoding always writes `Content-Length` (from the body), canonical header names and CRLF.

use std::fmt;
use std::str::FromStr;

/// The largest message accepted, in bytes: a UDP datagram's payload can be no larger, and TCP
/// messages are held to the same bound (a longer one closes the connection).
pub const MAX_MESSAGE: usize = 65_535;
/// The most header lines in one message (after unfolding); more is an error (Answer 400).
pub const MAX_HEADERS: usize = 128;
/// The most Via values in one message (counting comma-separated values); more is an error.
pub const MAX_VIA: usize = 32;

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

/// A header name. Names are case-insensitive and compact forms are read as the full name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
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
    /// The message is longer than [`MAX_MESSAGE`] (answer 413 if answerable).
    TooLarge,
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
    keepalives: usize,
    failed: bool,
}

impl Method {
    /// The method's token.
    pub fn as_str(&self) -> &str {
        todo!()
    }
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Method {
    type Err = ParseError;
    fn from_str(_s: &str) -> Result<Self, ParseError> {
        todo!()
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

impl Uri {
    /// The value of URI parameter `name` (case-insensitive); `Some("")` for a flag parameter.
    pub fn param(&self, _name: &str) -> Option<&str> {
        todo!()
    }
}

impl fmt::Display for Uri {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
    }
}

impl FromStr for Uri {
    type Err = ParseError;
    fn from_str(_s: &str) -> Result<Self, ParseError> {
        todo!()
    }
}

impl NameAddr {
    /// The `tag` parameter.
    pub fn tag(&self) -> Option<&str> {
        self.param("tag")
    }
    /// The value of header parameter `name` (case-insensitive); `Some("")` for a flag.
    pub fn param(&self, _name: &str) -> Option<&str> {
        todo!()
    }
}

impl fmt::Display for NameAddr {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
    }
}

impl FromStr for NameAddr {
    type Err = ParseError;
    fn from_str(_s: &str) -> Result<Self, ParseError> {
        todo!()
    }
}

impl Via {
    /// The `branch` parameter.
    pub fn branch(&self) -> Option<&str> {
        todo!()
    }
    /// The `received` parameter.
    pub fn received(&self) -> Option<&str> {
        todo!()
    }
    /// The `rport` parameter (RFC 3581): `None` if absent, `Some(None)` if present without a
    /// value, `Some(Some(port))` if filled in.
    pub fn rport(&self) -> Option<Option<u16>> {
        todo!()
    }
}

impl fmt::Display for Via {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
    }
}

impl FromStr for Via {
    type Err = ParseError;
    fn from_str(_s: &str) -> Result<Self, ParseError> {
        todo!()
    }
}

impl fmt::Display for CSeq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.seq, self.method)
    }
}

impl FromStr for CSeq {
    type Err = ParseError;
    fn from_str(_s: &str) -> Result<Self, ParseError> {
        todo!()
    }
}

impl Contact {
    /// The `expires` parameter, if present and numeric.
    pub fn expires(&self) -> Option<u32> {
        todo!()
    }
    /// The `q` parameter, if present (as written, e.g. `"0.7"`).
    pub fn q(&self) -> Option<&str> {
        todo!()
    }
}

impl fmt::Display for Contact {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
    }
}

impl HeaderName {
    /// The canonical spelling (`"Call-ID"`, `"CSeq"`, `"WWW-Authenticate"`).
    pub fn as_str(&self) -> &str {
        todo!()
    }
    /// Reads a header name: case-insensitive, compact forms map to the full name.
    pub fn parse(_name: &str) -> Self {
        todo!()
    }
}

impl fmt::Display for HeaderName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Headers {
    /// No headers.
    pub fn new() -> Self {
        Self(Vec::new())
    }
    /// The first value of `name`.
    pub fn get(&self, _name: &HeaderName) -> Option<&str> {
        todo!()
    }
    /// Every value of `name`, in order; comma-separated lists are split for Via, Contact,
    /// Route, Record-Route, Allow and Supported.
    pub fn get_all<'a>(&'a self, _name: &'a HeaderName) -> impl Iterator<Item = &'a str> + 'a {
        std::iter::empty()
    }
    /// Appends a header.
    pub fn push(&mut self, name: HeaderName, value: impl Into<String>) {
        self.0.push((name, value.into()));
    }
    /// Replaces every `name` header with this one value (at the first one's place, else at
    /// the end).
    pub fn set(&mut self, _name: HeaderName, _value: impl Into<String>) {
        todo!()
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
    /// Every Via value, top first.
    pub fn via(&self) -> Result<Vec<Via>, ParseError> {
        todo!()
    }
    /// The topmost Via.
    pub fn top_via(&self) -> Result<Via, ParseError> {
        todo!()
    }
    /// The From header.
    pub fn from(&self) -> Result<NameAddr, ParseError> {
        todo!()
    }
    /// The To header.
    pub fn to(&self) -> Result<NameAddr, ParseError> {
        todo!()
    }
    /// The Call-ID.
    pub fn call_id(&self) -> Option<&str> {
        todo!()
    }
    /// The CSeq header.
    pub fn cseq(&self) -> Result<CSeq, ParseError> {
        todo!()
    }
    /// Every Contact value.
    pub fn contacts(&self) -> Result<Vec<Contact>, ParseError> {
        todo!()
    }
    /// The Expires header, if present and numeric.
    pub fn expires(&self) -> Option<u32> {
        todo!()
    }
    /// The Max-Forwards header, if present and numeric.
    pub fn max_forwards(&self) -> Option<u32> {
        todo!()
    }
    /// The Content-Length header, if present and numeric.
    pub fn content_length(&self) -> Option<usize> {
        todo!()
    }
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
        todo!()
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
        todo!()
    }
    /// A response to `req` per RFC 3261 §8.2.6: Via(s), From, To (a to-tag added when given
    /// and absent), Call-ID, CSeq copied; Content-Length 0.
    pub fn to_request(_req: &Request, _status: u16, _reason: &str, _to_tag: Option<&str>) -> Self {
        todo!()
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

/// The RFC 3261 §21 reason phrase for `status` (a class phrase for unknown codes).
pub fn reason_phrase(_status: u16) -> &'static str {
    todo!()
}

/// Parses one whole message: a UDP datagram or a message framed by [`StreamFramer`].
pub fn parse(_bytes: &[u8]) -> Result<Message, ParseError> {
    todo!()
}

/// The response to a request that failed to parse with `Answer::Respond(status)`: Via(s),
/// From, To, Call-ID and CSeq copied leniently from the raw bytes, a To tag added if absent,
/// `reason` as the reason phrase. `None` when those headers cannot be read (then drop).
pub fn error_response(_bytes: &[u8], _status: u16, _reason: &str) -> Option<Response> {
    todo!()
}

impl ParseError {
    /// How to answer the message that failed: `Respond(code)` for a request whose Via, From,
    /// To, Call-ID and CSeq could be read (505 bad version, 413 too large, 414 URI too long,
    /// 416 unsupported scheme, else 400); `Drop` for responses and unreadable requests.
    pub fn answer(&self) -> Answer {
        todo!()
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, _f: &mut fmt::Formatter<'_>) -> fmt::Result {
        todo!()
    }
}

impl std::error::Error for ParseError {}

impl StreamFramer {
    /// An empty framer.
    pub fn new() -> Self {
        Self::default()
    }
    /// Appends bytes read from the stream.
    pub fn push(&mut self, _bytes: &[u8]) {
        todo!()
    }
    /// The next whole message, if one is buffered. After an `Err` the stream cannot be
    /// resynchronised: the caller closes the connection.
    pub fn pop(&mut self) -> Option<Result<Message, ParseError>> {
        todo!()
    }
    /// How many CRLF keep-alive pings were skipped since the last call (each is answered
    /// with a single CRLF, RFC 5626 §3.5.1); resets the count.
    pub fn pop_keepalives(&mut self) -> usize {
        std::mem::take(&mut self.keepalives)
    }
}
