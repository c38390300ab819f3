//! The MGCP encoder: CRLF line ends, parameters in the order given, canonical spacing
//! (`Name: value`, list items joined with `,`, connection options and parameters with `, `).
//!
//! For every message [`super::parse`] can return, `parse(encode(m)) == [m]`. Values built by
//! hand must keep to the grammar the parser accepts (hex ids, no line ends, balanced
//! parentheses in raw event parameters, an [`Other`](super::Param::Other) name that is not one of
//! RFC 3435's); the encoder writes them as given and does not check. An
//! [`Unread`](super::Param::Unread) line of a response is written back as it was read. Nor
//! does the encoder enforce [`MAX_DATAGRAM`](super::MAX_DATAGRAM): a caller that builds large
//! messages (many piggy-backed ones, a long SDP) checks the length of what it sends.

use std::fmt;

use super::{
    Action, Command, EndpointName, EventName, EventRef, Message, Mode, Pair, Param, RequestedEvent,
    Response, RestartMethod, ReturnCode, Sdp,
};

/// The standard commentary for a return code: RFC 3435 §2.4, as refined by RFC 3661.
pub(super) fn reason_phrase(code: ReturnCode) -> &'static str {
    match code.0 {
        0 => "Response Acknowledgement",
        100 => "Transaction being executed",
        101 => "Transaction queued",
        200 => "OK",
        250 => "Connection deleted",
        400 => "Transient error",
        401 => "Phone already off hook",
        402 => "Phone already on hook",
        403 => "Insufficient resources now",
        404 => "Insufficient bandwidth now",
        405 => "Endpoint restarting",
        406 => "Transaction timeout",
        407 => "Transaction aborted",
        409 => "Internal overload",
        410 => "No endpoint available",
        500 => "Endpoint unknown",
        501 => "Endpoint not ready",
        502 => "Insufficient resources",
        503 => "All of wildcard too complicated",
        504 => "Unknown or unsupported command",
        505 => "Unsupported RemoteConnectionDescriptor",
        506 => "Unable to satisfy both LocalConnectionOptions and RemoteConnectionDescriptor",
        507 => "Unsupported functionality",
        508 => "Unknown or unsupported quarantine handling",
        509 => "Error in RemoteConnectionDescriptor",
        510 => "Protocol error",
        511 => "Unrecognized extension",
        512 => "Not equipped to detect requested event",
        513 => "Not equipped to generate requested signal",
        514 => "Cannot send the specified announcement",
        515 => "Incorrect connection id",
        516 => "Unknown or incorrect call id",
        517 => "Unsupported or invalid mode",
        518 => "Unsupported or unknown package",
        519 => "Endpoint does not have a digit map",
        520 => "Endpoint restarting",
        521 => "Endpoint redirected to another Call Agent",
        522 => "No such event or signal",
        523 => "Unknown action or illegal combination of actions",
        524 => "Internal inconsistency in LocalConnectionOptions",
        525 => "Unknown extension in LocalConnectionOptions",
        526 => "Insufficient bandwidth",
        527 => "Missing RemoteConnectionDescriptor",
        528 => "Incompatible protocol version",
        529 => "Internal hardware failure",
        530 => "CAS signaling protocol error",
        531 => "Failure of a grouping of trunks",
        532 => "Unsupported value(s) in LocalConnectionOptions",
        533 => "Response too large",
        534 => "Codec negotiation failure",
        535 => "Packetization period not supported",
        536 => "Unknown or unsupported RestartMethod",
        537 => "Unknown or unsupported digit map extension",
        538 => "Event/signal parameter error",
        539 => "Invalid or unsupported command parameter",
        540 => "Per endpoint connection limit exceeded",
        541 => "Invalid or unsupported LocalConnectionOptions",
        800..=899 => "Package specific",
        _ => "",
    }
}

pub(super) fn piggybacked(messages: &[Message<'_>], out: &mut Vec<u8>) {
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b".\r\n");
        }
        m.encode(out);
    }
}

/// Appends `n` in decimal.
pub(super) fn push_u32(out: &mut Vec<u8>, mut n: u32) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn push_str(out: &mut Vec<u8>, s: &str) {
    out.extend_from_slice(s.as_bytes());
}

fn push_endpoint(out: &mut Vec<u8>, e: &EndpointName<'_>) {
    push_str(out, e.local);
    out.push(b'@');
    push_str(out, e.domain);
}

fn push_event_name(out: &mut Vec<u8>, e: &EventName<'_>) {
    if let Some(p) = e.package {
        push_str(out, p);
        out.push(b'/');
    }
    push_str(out, e.event);
    if let Some(c) = e.connection {
        out.push(b'@');
        push_str(out, c);
    }
}

fn push_event_ref(out: &mut Vec<u8>, e: &EventRef<'_>) {
    push_event_name(out, &e.name);
    if let Some(p) = e.params {
        out.push(b'(');
        push_str(out, p);
        out.push(b')');
    }
}

fn push_action(out: &mut Vec<u8>, a: &Action<'_>) {
    match a {
        Action::Notify => out.push(b'N'),
        Action::Accumulate => out.push(b'A'),
        Action::AccumulateDigitMap => out.push(b'D'),
        Action::Swap => out.push(b'S'),
        Action::Ignore => out.push(b'I'),
        Action::KeepSignals => out.push(b'K'),
        Action::Embedded(inner) => {
            out.extend_from_slice(b"E(");
            push_str(out, inner);
            out.push(b')');
        }
        Action::Other(s) => push_str(out, s),
    }
}

fn push_requested_event(out: &mut Vec<u8>, r: &RequestedEvent<'_>) {
    push_event_name(out, &r.name);
    if !r.actions.is_empty() || r.params.is_some() {
        out.push(b'(');
        for (i, a) in r.actions.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_action(out, a);
        }
        out.push(b')');
    }
    if let Some(p) = r.params {
        out.push(b'(');
        push_str(out, p);
        out.push(b')');
    }
}

fn push_list<T>(out: &mut Vec<u8>, items: &[T], sep: &[u8], mut f: impl FnMut(&mut Vec<u8>, &T)) {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(sep);
        }
        f(out, item);
    }
}

fn push_pairs(out: &mut Vec<u8>, pairs: &[Pair<'_>], sep: u8) {
    push_list(out, pairs, b", ", |out, p| {
        push_str(out, p.key);
        if !p.value.is_empty() {
            out.push(sep);
            push_str(out, p.value);
        }
    });
}

impl fmt::Display for EventName<'_> {
    /// `[package/]event[@connection]`, as on the wire.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(p) = self.package {
            write!(f, "{p}/")?;
        }
        f.write_str(self.event)?;
        if let Some(c) = self.connection {
            write!(f, "@{c}")?;
        }
        Ok(())
    }
}

impl fmt::Display for EventRef<'_> {
    /// `name[(params)]`, as on the wire.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name)?;
        if let Some(p) = self.params {
            write!(f, "({p})")?;
        }
        Ok(())
    }
}

impl Mode<'_> {
    /// The mode as written on the wire (`sendrecv`, …; an extension as given).
    pub fn as_str(&self) -> &str {
        match self {
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::SendRecv => "sendrecv",
            Self::Conference => "confrnce",
            Self::Inactive => "inactive",
            Self::Loopback => "loopback",
            Self::ContinuityTest => "conttest",
            Self::NetworkLoop => "netwloop",
            Self::NetworkTest => "netwtest",
            Self::Data => "data",
            Self::Other(s) => s,
        }
    }
}

impl RestartMethod<'_> {
    /// The method as written on the wire (`graceful`, …; an extension as given).
    pub fn as_str(&self) -> &str {
        match self {
            Self::Graceful => "graceful",
            Self::Forced => "forced",
            Self::Restart => "restart",
            Self::Disconnected => "disconnected",
            Self::CancelGraceful => "cancel-graceful",
            Self::Other(s) => s,
        }
    }
}

impl Param<'_> {
    /// The parameter's code as written on the wire (`K`, `ES`, …; an extension's name as
    /// given).
    pub fn name(&self) -> &str {
        match self {
            Self::ResponseAck(_) => "K",
            Self::BearerInformation(_) => "B",
            Self::CallId(_) => "C",
            Self::ConnectionId(_) => "I",
            Self::NotifiedEntity(_) => "N",
            Self::RequestIdentifier(_) => "X",
            Self::LocalConnectionOptions(_) => "L",
            Self::ConnectionMode(_) => "M",
            Self::RequestedEvents(_) => "R",
            Self::SignalRequests(_) => "S",
            Self::DigitMap(_) => "D",
            Self::ObservedEvents(_) => "O",
            Self::ConnectionParameters(_) => "P",
            Self::ReasonCode(_) => "E",
            Self::SpecificEndpointId(_) => "Z",
            Self::SecondEndpointId(_) => "Z2",
            Self::SecondConnectionId(_) => "I2",
            Self::RequestedInfo(_) => "F",
            Self::QuarantineHandling(_) => "Q",
            Self::DetectEvents(_) => "T",
            Self::RestartMethod(_) => "RM",
            Self::RestartDelay(_) => "RD",
            Self::Capabilities(_) => "A",
            Self::EventStates(_) => "ES",
            Self::MaxDatagram(_) => "MD",
            Self::PackageList(_) => "PL",
            Self::Other(name, _) => name,
            Self::Unread(line) => line.split(':').next().map_or("", super::parse::trim_wsp),
        }
    }

    /// Appends the parameter line `Name: value` with its CRLF (`Name:` alone when the value is
    /// empty).
    pub fn encode(&self, out: &mut Vec<u8>) {
        if let Self::Unread(line) = self {
            push_str(out, line);
            out.extend_from_slice(b"\r\n");
            return;
        }
        push_str(out, self.name());
        out.push(b':');
        let start = out.len();
        out.push(b' ');
        match self {
            Self::ResponseAck(ranges) => push_list(out, ranges, b", ", |out, r| {
                push_u32(out, r.first.0);
                if r.last != r.first {
                    out.push(b'-');
                    push_u32(out, r.last.0);
                }
            }),
            Self::BearerInformation(s)
            | Self::CallId(s)
            | Self::ConnectionId(s)
            | Self::NotifiedEntity(s)
            | Self::RequestIdentifier(s)
            | Self::DigitMap(s)
            | Self::SecondConnectionId(s)
            | Self::QuarantineHandling(s)
            | Self::Capabilities(s)
            | Self::PackageList(s)
            | Self::Other(_, s) => push_str(out, s),
            Self::LocalConnectionOptions(pairs) => push_pairs(out, pairs, b':'),
            Self::ConnectionParameters(pairs) => push_pairs(out, pairs, b'='),
            Self::ConnectionMode(m) => push_str(out, m.as_str()),
            Self::RequestedEvents(events) => push_list(out, events, b",", push_requested_event),
            Self::SignalRequests(events)
            | Self::ObservedEvents(events)
            | Self::DetectEvents(events)
            | Self::EventStates(events) => push_list(out, events, b",", push_event_ref),
            Self::ReasonCode(r) => {
                let code = r.code.min(999);
                out.push(b'0' + (code / 100) as u8);
                out.push(b'0' + (code / 10 % 10) as u8);
                out.push(b'0' + (code % 10) as u8);
                if !r.text.is_empty() {
                    out.push(b' ');
                    push_str(out, r.text);
                }
            }
            Self::SpecificEndpointId(e) | Self::SecondEndpointId(e) => push_endpoint(out, e),
            Self::RequestedInfo(codes) => push_list(out, codes, b",", |out, c| push_str(out, c)),
            Self::RestartMethod(m) => push_str(out, m.as_str()),
            Self::RestartDelay(n) | Self::MaxDatagram(n) => push_u32(out, *n),
            // Written whole above.
            Self::Unread(_) => {}
        }
        if out.len() == start + 1 {
            out.truncate(start);
        }
        out.extend_from_slice(b"\r\n");
    }
}

impl Sdp<'_> {
    /// Appends the description's lines, each ended with CRLF. A `v=` line other than the first
    /// starts a second description and is preceded by an empty line (RFC 3435 §3.5: an
    /// AuditConnection response may carry the local and the remote descriptor).
    pub fn encode(&self, out: &mut Vec<u8>) {
        for (i, line) in self.lines.iter().enumerate() {
            if i > 0 && line.kind == b'v' {
                out.extend_from_slice(b"\r\n");
            }
            out.push(line.kind);
            out.push(b'=');
            push_str(out, line.value);
            out.extend_from_slice(b"\r\n");
        }
    }
}

fn push_body(out: &mut Vec<u8>, params: &[Param<'_>], sdp: Option<&Sdp<'_>>) {
    for p in params {
        p.encode(out);
    }
    if let Some(sdp) = sdp.filter(|s| !s.lines.is_empty()) {
        out.extend_from_slice(b"\r\n");
        sdp.encode(out);
    }
}

impl Command<'_> {
    /// Appends the command to `out`: `VERB txid endpoint MGCP 1.0[ profile]`, the parameter
    /// lines, then an empty line and the session description if there is one.
    pub fn encode(&self, out: &mut Vec<u8>) {
        push_str(out, self.verb.as_str());
        out.push(b' ');
        push_u32(out, self.transaction.0);
        out.push(b' ');
        push_endpoint(out, &self.endpoint);
        out.extend_from_slice(b" MGCP ");
        push_u32(out, self.version.major.into());
        out.push(b'.');
        push_u32(out, self.version.minor.into());
        if let Some(profile) = self.version.profile {
            out.push(b' ');
            push_str(out, profile);
        }
        out.extend_from_slice(b"\r\n");
        push_body(out, &self.params, self.sdp.as_ref());
    }
}

impl Response<'_> {
    /// Appends the response to `out`: `code txid[ /package][ commentary]`, the parameter lines,
    /// then an empty line and the session description if there is one.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let code = self.code.0.min(999);
        out.push(b'0' + (code / 100) as u8);
        out.push(b'0' + (code / 10 % 10) as u8);
        out.push(b'0' + (code % 10) as u8);
        out.push(b' ');
        push_u32(out, self.transaction.0);
        if let Some(package) = self.package {
            out.extend_from_slice(b" /");
            push_str(out, package);
        }
        if !self.comment.is_empty() {
            out.push(b' ');
            push_str(out, self.comment);
        }
        out.extend_from_slice(b"\r\n");
        push_body(out, &self.params, self.sdp.as_ref());
    }
}
