//! MGCP message syntax (RFC 3435 §3), syntax only: no state, no clocks.
//!
//! [`parse`] reads one datagram — one message or several piggy-backed ones separated by a line
//! holding a single `.` (§3.5.5) — into [`Message`]s that borrow the datagram; [`Message::encode`]
//! writes a message back. Line ends may be CRLF or LF on input; output always uses CRLF (the
//! usual gateway practice, and what osmo-mgw expects). Embedded session descriptions (§3.5) are
//! kept as [`Sdp`] lines with typed accessors for the audio subset RFC 3435 uses.
//!
//! Every size is bounded before anything is allocated ([`MAX_DATAGRAM`], [`MAX_MESSAGES`],
//! [`MAX_PARAMS`], [`MAX_LIST`], [`MAX_SDP_LINES`]); the parser never panics.

use std::fmt;

mod encode;
mod params;
mod parse;
#[cfg(test)]
mod roundtrip;
mod sdp;
#[cfg(test)]
mod tests;

pub use parse::{ParseError, ParseErrorKind, parse, parse_each};
pub use sdp::{AudioDescription, Sdp, SdpError, SdpLine};

/// The largest datagram accepted or produced (RFC 3435 §3.5.5 lets gateways announce more with
/// `MD`; 8 KiB covers every message a call agent exchanges with an analog gateway).
pub const MAX_DATAGRAM: usize = 8192;
/// At most this many piggy-backed messages in one datagram.
pub const MAX_MESSAGES: usize = 16;
/// At most this many parameter lines in one message. A wildcard audit's answer lists every
/// endpoint of the gateway on a `Z:` line of its own (RFC 3435 §2.3.10): 512 holds the largest
/// analog gateways (288 ports) within [`MAX_DATAGRAM`].
pub const MAX_PARAMS: usize = 512;
/// At most this many items in one list-valued parameter (events, signals, acks, options…): a
/// dial string collected under a digit map comes as one `O:` item per digit (RFC 3435
/// §2.1.5), and an international number with prefixes and a PIN is far below this.
pub const MAX_LIST: usize = 256;
/// At most this many lines in one embedded session description.
pub const MAX_SDP_LINES: usize = 64;

/// An MGCP transaction id (RFC 3435 §3.2.1.2): 1 to 999,999,999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub u32);

impl TransactionId {
    /// The largest transaction id.
    pub const MAX: u32 = 999_999_999;

    /// The next id, wrapping from 999,999,999 back to 1.
    #[must_use]
    pub fn next(self) -> Self {
        if self.0 >= Self::MAX {
            Self(1)
        } else {
            Self(self.0 + 1)
        }
    }
}

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The command verbs of RFC 3435 §2.3.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// EndpointConfiguration.
    Epcf,
    /// CreateConnection.
    Crcx,
    /// ModifyConnection.
    Mdcx,
    /// DeleteConnection.
    Dlcx,
    /// NotificationRequest.
    Rqnt,
    /// Notify.
    Ntfy,
    /// AuditEndpoint.
    Auep,
    /// AuditConnection.
    Aucx,
    /// RestartInProgress.
    Rsip,
}

impl Verb {
    /// Every verb, in RFC 3435 §2.3 order.
    pub const ALL: [Self; 9] = [
        Self::Epcf,
        Self::Crcx,
        Self::Mdcx,
        Self::Dlcx,
        Self::Rqnt,
        Self::Ntfy,
        Self::Auep,
        Self::Aucx,
        Self::Rsip,
    ];

    /// The four-letter code.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Epcf => "EPCF",
            Self::Crcx => "CRCX",
            Self::Mdcx => "MDCX",
            Self::Dlcx => "DLCX",
            Self::Rqnt => "RQNT",
            Self::Ntfy => "NTFY",
            Self::Auep => "AUEP",
            Self::Aucx => "AUCX",
            Self::Rsip => "RSIP",
        }
    }
}

/// An endpoint name, `local@domain` (RFC 3435 §3.2.1.3). The local part may hold wildcards:
/// `*` (all) and `$` (any one, chosen by the gateway).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EndpointName<'a> {
    /// The local name, such as `aaln/1` or `rtpbridge/*`.
    pub local: &'a str,
    /// The domain, such as `[192.0.2.1]`, `gw1.example.net` or `mgw`.
    pub domain: &'a str,
}

impl EndpointName<'_> {
    /// Whether the local name contains a wildcard term.
    pub fn is_wildcard(&self) -> bool {
        self.local.split('/').any(|term| term == "*" || term == "$")
    }
}

impl fmt::Display for EndpointName<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local, self.domain)
    }
}

/// The protocol version on a command line: `MGCP 1.0` (or RFC 2705's `MGCP 0.1`), optionally
/// followed by a profile such as `NCS 1.0` (RFC 3435 §3.2.1.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version<'a> {
    /// Major version (1).
    pub major: u8,
    /// Minor version (0).
    pub minor: u8,
    /// A profile name and version, as written, if present.
    pub profile: Option<&'a str>,
}

impl Version<'_> {
    /// `MGCP 1.0`.
    pub const V1_0: Version<'static> = Version {
        major: 1,
        minor: 0,
        profile: None,
    };

    /// `MGCP 0.1`: RFC 2705, RFC 3435's predecessor, still spoken by Cisco IOS gateways on
    /// their default `service-type mgcp version 0.1` (on their RSIP and NTFY).
    pub const V0_1: Version<'static> = Version {
        major: 0,
        minor: 1,
        profile: None,
    };

    /// `MGCP 1.0 NCS 1.0`: the PacketCable NCS 1.0 profile (ITU-T J.162), spoken by cable
    /// modems' embedded MTAs.
    pub const NCS_1_0: Version<'static> = Version {
        major: 1,
        minor: 0,
        profile: Some("NCS 1.0"),
    };

    /// Whether the profile named is PacketCable NCS (any version; case-insensitive).
    pub fn is_ncs(&self) -> bool {
        self.profile.is_some_and(|p| {
            p.split(parse::is_wsp)
                .next()
                .is_some_and(|name| name.eq_ignore_ascii_case("NCS"))
        })
    }
}

/// A response code (RFC 3435 §2.4, RFC 3661).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ReturnCode(pub u16);

impl ReturnCode {
    /// 000: response acknowledgement.
    pub const ACK: Self = Self(0);
    /// 100: the transaction is being executed; a final response follows.
    pub const EXECUTING: Self = Self(100);
    /// 101: the transaction has been queued.
    pub const QUEUED: Self = Self(101);
    /// 200: the requested transaction was executed normally.
    pub const OK: Self = Self(200);
    /// 250: the connection was deleted.
    pub const DELETED: Self = Self(250);
    /// 400: the transaction could not be executed, due to a transient error.
    pub const TRANSIENT_ERROR: Self = Self(400);
    /// 401: the phone is already off hook.
    pub const ALREADY_OFF_HOOK: Self = Self(401);
    /// 402: the phone is already on hook.
    pub const ALREADY_ON_HOOK: Self = Self(402);
    /// 403: not enough resources available now.
    pub const NO_RESOURCES_NOW: Self = Self(403);
    /// 405: the endpoint is restarting.
    pub const RESTARTING: Self = Self(405);
    /// 406: transaction time-out.
    pub const TIMEOUT: Self = Self(406);
    /// 407: transaction aborted by some external action.
    pub const ABORTED: Self = Self(407);
    /// 409: the transaction could not be executed because of internal overload.
    pub const OVERLOAD: Self = Self(409);
    /// 500: the endpoint is unknown.
    pub const UNKNOWN_ENDPOINT: Self = Self(500);
    /// 501: the endpoint is not ready.
    pub const NOT_READY: Self = Self(501);
    /// 502: not enough resources.
    pub const NO_RESOURCES: Self = Self(502);
    /// 503: "all of" wildcard too complicated.
    pub const WILDCARD_TOO_COMPLICATED: Self = Self(503);
    /// 504: unknown or unsupported command.
    pub const UNSUPPORTED_COMMAND: Self = Self(504);
    /// 505: unsupported remote connection descriptor.
    pub const UNSUPPORTED_SDP: Self = Self(505);
    /// 510: protocol error (unknown verb, bad syntax).
    pub const PROTOCOL_ERROR: Self = Self(510);
    /// 511: unrecognized extension.
    pub const UNRECOGNIZED_EXTENSION: Self = Self(511);
    /// 512: the gateway is not equipped to detect one of the requested events.
    pub const CANNOT_DETECT: Self = Self(512);
    /// 513: the gateway is not equipped to generate one of the requested signals.
    pub const CANNOT_SIGNAL: Self = Self(513);
    /// 515: incorrect connection id.
    pub const INCORRECT_CONNECTION_ID: Self = Self(515);
    /// 516: unknown or incorrect call id.
    pub const UNKNOWN_CALL_ID: Self = Self(516);
    /// 517: unsupported or invalid mode.
    pub const INVALID_MODE: Self = Self(517);
    /// 518: unsupported or unknown package.
    pub const UNKNOWN_PACKAGE: Self = Self(518);
    /// 519: the endpoint does not have a digit map.
    pub const NO_DIGIT_MAP: Self = Self(519);
    /// 520: the endpoint is restarting.
    pub const ENDPOINT_RESTARTING: Self = Self(520);
    /// 521: endpoint redirected to another call agent.
    pub const REDIRECTED: Self = Self(521);
    /// 522: no such event or signal.
    pub const NO_SUCH_EVENT: Self = Self(522);
    /// 523: unknown action or illegal combination of actions.
    pub const UNKNOWN_ACTION: Self = Self(523);
    /// 524: internal inconsistency in local connection options.
    pub const INCONSISTENT_OPTIONS: Self = Self(524);
    /// 525: unknown extension in local connection options.
    pub const UNKNOWN_OPTION_EXTENSION: Self = Self(525);
    /// 526: insufficient bandwidth.
    pub const INSUFFICIENT_BANDWIDTH: Self = Self(526);
    /// 527: missing remote connection descriptor.
    pub const MISSING_SDP: Self = Self(527);
    /// 528: incompatible protocol version.
    pub const INCOMPATIBLE_VERSION: Self = Self(528);
    /// 529: internal hardware failure.
    pub const HARDWARE_FAILURE: Self = Self(529);
    /// 532: unsupported value(s) in local connection options.
    pub const UNSUPPORTED_OPTION_VALUE: Self = Self(532);
    /// 533: response too large.
    pub const RESPONSE_TOO_LARGE: Self = Self(533);
    /// 538: event/signal parameter error.
    pub const PARAMETER_ERROR: Self = Self(538);
    /// 539: invalid or unsupported command parameter.
    pub const UNSUPPORTED_PARAMETER: Self = Self(539);
    /// 540: per endpoint connection limit exceeded.
    pub const CONNECTION_LIMIT: Self = Self(540);
    /// 541: invalid or unsupported local connection options.
    pub const INVALID_OPTIONS: Self = Self(541);

    /// 1xx: provisional.
    pub fn is_provisional(self) -> bool {
        (100..200).contains(&self.0)
    }

    /// 2xx: success.
    pub fn is_success(self) -> bool {
        (200..300).contains(&self.0)
    }

    /// 4xx or 5xx: failure (transient or permanent).
    pub fn is_error(self) -> bool {
        (400..600).contains(&self.0)
    }

    /// The standard commentary for the code (RFC 3435 §2.4, RFC 3661), or `""`.
    pub fn reason(self) -> &'static str {
        encode::reason_phrase(self)
    }
}

impl fmt::Display for ReturnCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:03}", self.0)
    }
}

/// A parsed datagram's message: a command or a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message<'a> {
    /// A command.
    Command(Command<'a>),
    /// A response (including a `000` response acknowledgement).
    Response(Response<'a>),
}

impl Message<'_> {
    /// The message's transaction id.
    pub fn transaction(&self) -> TransactionId {
        match self {
            Self::Command(c) => c.transaction,
            Self::Response(r) => r.transaction,
        }
    }

    /// Appends the message to `out`, lines ended with CRLF. Piggy-backing several messages is
    /// the caller's business (see [`encode_piggybacked`]).
    pub fn encode(&self, out: &mut Vec<u8>) {
        match self {
            Self::Command(c) => c.encode(out),
            Self::Response(r) => r.encode(out),
        }
    }
}

/// Writes several messages into one datagram, separated by `.` lines (RFC 3435 §3.5.5).
pub fn encode_piggybacked(messages: &[Message<'_>], out: &mut Vec<u8>) {
    encode::piggybacked(messages, out);
}

/// A command: `VERB txid endpoint MGCP 1.0`, parameter lines, optional SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The verb.
    pub verb: Verb,
    /// The transaction id.
    pub transaction: TransactionId,
    /// The endpoint the command is for (or, for NTFY/RSIP, from).
    pub endpoint: EndpointName<'a>,
    /// The protocol version.
    pub version: Version<'a>,
    /// Parameter lines, in order.
    pub params: Vec<Param<'a>>,
    /// The embedded session description (RemoteConnectionDescriptor), if any.
    pub sdp: Option<Sdp<'a>>,
}

/// A response: `code txid [/package] [commentary]`, parameter lines, optional SDP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response<'a> {
    /// The return code.
    pub code: ReturnCode,
    /// The transaction id of the command it answers.
    pub transaction: TransactionId,
    /// The package name given after the transaction id for package-specific codes (`/pkg`).
    pub package: Option<&'a str>,
    /// The commentary (may be empty).
    pub comment: &'a str,
    /// Parameter lines, in order.
    pub params: Vec<Param<'a>>,
    /// The embedded session description (LocalConnectionDescriptor), if any.
    pub sdp: Option<Sdp<'a>>,
}

/// A range of transaction ids in a ResponseAck (`K:`) parameter; `first == last` for one id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckRange {
    /// First id.
    pub first: TransactionId,
    /// Last id, inclusive.
    pub last: TransactionId,
}

/// A connection mode (RFC 3435 §3.2.2.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode<'a> {
    /// `sendonly`.
    SendOnly,
    /// `recvonly`.
    RecvOnly,
    /// `sendrecv`.
    SendRecv,
    /// `confrnce`.
    Conference,
    /// `inactive`.
    Inactive,
    /// `loopback`.
    Loopback,
    /// `conttest`.
    ContinuityTest,
    /// `netwloop`.
    NetworkLoop,
    /// `netwtest`.
    NetworkTest,
    /// `data`.
    Data,
    /// An extension mode, as written.
    Other(&'a str),
}

/// A RestartMethod (RFC 3435 §2.3.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RestartMethod<'a> {
    /// `graceful`: out of service after RestartDelay; existing connections may finish.
    Graceful,
    /// `forced`: out of service now; connections lost.
    Forced,
    /// `restart`: back in service after RestartDelay; connections lost.
    Restart,
    /// `disconnected`: the endpoint lost contact with its call agent and is back.
    Disconnected,
    /// `cancel-graceful`: a graceful restart is cancelled.
    CancelGraceful,
    /// An extension method, as written.
    Other(&'a str),
}

/// An event or signal name (RFC 3435 §3.2.2.4): `[package/]event[@connection]`, where the event
/// part may be `*`, `all`, or a digit range such as `[0-9#*T]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventName<'a> {
    /// The package (`L`, `D`, `G`…), if given.
    pub package: Option<&'a str>,
    /// The event or signal code (`hd`, `rg`, `9`, `[0-9#*]`, `*`).
    pub event: &'a str,
    /// The connection the event applies to (`@conn-id`, `@*`, `@$`), if given.
    pub connection: Option<&'a str>,
}

/// An action attached to a requested event (RFC 3435 §2.3.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action<'a> {
    /// `N`: notify immediately.
    Notify,
    /// `A`: accumulate.
    Accumulate,
    /// `D`: accumulate according to the digit map.
    AccumulateDigitMap,
    /// `S`: swap (hook flash).
    Swap,
    /// `I`: ignore.
    Ignore,
    /// `K`: keep signals active.
    KeepSignals,
    /// `E(...)`: an embedded notification request; the text inside the parentheses, raw
    /// (for example `R(L/hu),S(L/dl)`).
    Embedded(&'a str),
    /// An extension action, as written.
    Other(&'a str),
}

/// One entry of a RequestedEvents (`R:`) list: an event, its actions and its parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedEvent<'a> {
    /// The event.
    pub name: EventName<'a>,
    /// The actions in `( … )`, empty when none were given (notify is then implied).
    pub actions: Vec<Action<'a>>,
    /// Event parameters, the raw text of a second `( … )` group, if present.
    pub params: Option<&'a str>,
}

/// One entry of a SignalRequests (`S:`), ObservedEvents (`O:`), DetectEvents (`T:`) or
/// EventStates (`ES:`) list: a name and the raw text of its parameters in `( … )`, if any
/// (`L/ci(10/14/17/26,"555 1212",Alice)`, `L/rg(to=6000)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventRef<'a> {
    /// The event or signal.
    pub name: EventName<'a>,
    /// Its parameters, raw, without the parentheses.
    pub params: Option<&'a str>,
}

/// A `key:value` item of LocalConnectionOptions (`L:`) or ConnectionParameters (`P:`, with `=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Pair<'a> {
    /// The key (`p`, `a`, `e`, `PS`, `OR`…).
    pub key: &'a str,
    /// The value, raw (`20`, `PCMU;PCMA`, `1245`).
    pub value: &'a str,
}

/// A ReasonCode (`E:`): a three-digit code and text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Reason<'a> {
    /// The code (for example 900 restart, 901 endpoint malfunction, 902 loss of connectivity).
    pub code: u16,
    /// The text after it.
    pub text: &'a str,
}

/// A parameter line (RFC 3435 §3.2.2), in the order RFC 3435 Appendix A lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Param<'a> {
    /// `K:` ResponseAck.
    ResponseAck(Vec<AckRange>),
    /// `B:` BearerInformation, raw (`e:mu`).
    BearerInformation(&'a str),
    /// `C:` CallId (hex, at most 32 characters).
    CallId(&'a str),
    /// `I:` ConnectionId (hex, at most 32 characters).
    ConnectionId(&'a str),
    /// `N:` NotifiedEntity (`ca@[192.0.2.1]:2727`).
    NotifiedEntity(&'a str),
    /// `X:` RequestIdentifier (hex, at most 32 characters).
    RequestIdentifier(&'a str),
    /// `L:` LocalConnectionOptions.
    LocalConnectionOptions(Vec<Pair<'a>>),
    /// `M:` ConnectionMode.
    ConnectionMode(Mode<'a>),
    /// `R:` RequestedEvents (an empty list clears them).
    RequestedEvents(Vec<RequestedEvent<'a>>),
    /// `S:` SignalRequests (an empty list stops all signals).
    SignalRequests(Vec<EventRef<'a>>),
    /// `D:` DigitMap, raw (`(0T|00T|[1-7]xxx|8xxxxxxx|#xxxxxxx|*xx|91xxxxxxxxxx|9011x.T)`).
    DigitMap(&'a str),
    /// `O:` ObservedEvents.
    ObservedEvents(Vec<EventRef<'a>>),
    /// `P:` ConnectionParameters.
    ConnectionParameters(Vec<Pair<'a>>),
    /// `E:` ReasonCode.
    ReasonCode(Reason<'a>),
    /// `Z:` SpecificEndpointId.
    SpecificEndpointId(EndpointName<'a>),
    /// `Z2:` SecondEndpointId.
    SecondEndpointId(EndpointName<'a>),
    /// `I2:` SecondConnectionId.
    SecondConnectionId(&'a str),
    /// `F:` RequestedInfo: the parameter codes asked for.
    RequestedInfo(Vec<&'a str>),
    /// `Q:` QuarantineHandling, raw (`process,loop`).
    QuarantineHandling(&'a str),
    /// `T:` DetectEvents.
    DetectEvents(Vec<EventRef<'a>>),
    /// `RM:` RestartMethod.
    RestartMethod(RestartMethod<'a>),
    /// `RD:` RestartDelay, seconds.
    RestartDelay(u32),
    /// `A:` Capabilities, raw.
    Capabilities(&'a str),
    /// `ES:` EventStates.
    EventStates(Vec<EventRef<'a>>),
    /// `RD`-like numeric `MD:` MaxMGCPDatagram, bytes.
    MaxDatagram(u32),
    /// `PL:` PackageList, raw (`L:1,G:1,D:0`).
    PackageList(&'a str),
    /// Any other line (`X-…` extensions, vendor parameters), name and raw value.
    Other(&'a str, &'a str),
    /// A line of a response that does not follow the grammar (an empty `I:`, an `M:` listing
    /// several modes, a line without `:`), raw, without its line end. Only responses keep
    /// such lines (see [`parse_each`]); in a command they are an error.
    Unread(&'a str),
}

/// Looks up the first parameter matching `f` — the pattern every consumer uses.
///
/// ```
/// # use gateway_control::mgcp::wire::{Message, Param, find, parse};
/// let messages = parse(b"NTFY 1 aaln/1@gw MGCP 1.0\r\nX: 1A\r\n").unwrap();
/// let Message::Command(cmd) = &messages[0] else { unreachable!() };
/// let x = find(&cmd.params, |p| match p { Param::RequestIdentifier(x) => Some(*x), _ => None });
/// assert_eq!(x, Some("1A"));
/// ```
pub fn find<'p, 'a, T>(
    params: &'p [Param<'a>],
    f: impl FnMut(&'p Param<'a>) -> Option<T>,
) -> Option<T> {
    params.iter().find_map(f)
}
