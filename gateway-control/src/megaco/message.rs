//! The MEGACO message tree (H.248.1 §7 and §8, in the shape of the Annex B grammar), shared by
//! the text encoding and, later, the binary one. Every text field borrows the datagram.

use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

/// A transaction id (H.248.1 §8.2.1): 32 bits. Transaction 0 is allowed by the grammar; an
/// agent never sends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TransactionId(pub u32);

impl fmt::Display for TransactionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// An error code of H.248.8 (at most four digits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    /// 400: syntax error in message.
    pub const SYNTAX_ERROR_IN_MESSAGE: Self = Self(400);
    /// 401: syntax error in transaction.
    pub const SYNTAX_ERROR_IN_TRANSACTION: Self = Self(401);
    /// 402: invalid identifier.
    pub const INVALID_IDENTIFIER: Self = Self(402);
    /// 403: syntax error in TransactionReply.
    pub const SYNTAX_ERROR_IN_REPLY: Self = Self(403);
    /// 404: syntax error in TransactionPending.
    pub const SYNTAX_ERROR_IN_PENDING: Self = Self(404);
    /// 405: syntax error in TransactionResponseAck.
    pub const SYNTAX_ERROR_IN_RESPONSE_ACK: Self = Self(405);
    /// 406: version not supported.
    pub const VERSION_NOT_SUPPORTED: Self = Self(406);
    /// 410: incorrect identifier.
    pub const INCORRECT_IDENTIFIER: Self = Self(410);
    /// 411: the transaction refers to an unknown ContextID.
    pub const UNKNOWN_CONTEXT: Self = Self(411);
    /// 421: unknown action or illegal combination of actions.
    pub const UNKNOWN_ACTION: Self = Self(421);
    /// 422: syntax error in action.
    pub const SYNTAX_ERROR_IN_ACTION: Self = Self(422);
    /// 430: unknown TerminationID.
    pub const UNKNOWN_TERMINATION: Self = Self(430);
    /// 442: syntax error in command.
    pub const SYNTAX_ERROR_IN_COMMAND: Self = Self(442);
    /// 443: unsupported or unknown command.
    pub const UNKNOWN_COMMAND: Self = Self(443);
    /// 444: unsupported or unknown descriptor.
    pub const UNKNOWN_DESCRIPTOR: Self = Self(444);
    /// 500: internal software failure in the MG.
    pub const INTERNAL_FAILURE: Self = Self(500);
    /// 501: not implemented.
    pub const NOT_IMPLEMENTED: Self = Self(501);
    /// 502: not ready.
    pub const NOT_READY: Self = Self(502);
    /// 510: insufficient resources.
    pub const INSUFFICIENT_RESOURCES: Self = Self(510);
    /// 540, unexpected initial hook state: what an MG answers a seize of a trunk that rings
    /// for an incoming call (glare).
    pub const UNEXPECTED_INITIAL_HOOK_STATE: Self = Self(540);
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A whole message (H.248.1 §7.1.1 `megacoMessage`, without the authentication header).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    /// The protocol version (1 to 99; 1, 2 and 3 exist).
    pub version: u8,
    /// Who sent the message.
    pub mid: MessageId<'a>,
    /// Its transactions, or an error about the message as a whole.
    pub body: Body<'a>,
}

/// The sender's identity, `mId` of Annex B.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageId<'a> {
    /// `[192.0.2.1]:2944`.
    Ip4(Ipv4Addr, Option<u16>),
    /// `[2001:db8::1]:2944`.
    Ip6(Ipv6Addr, Option<u16>),
    /// `<mg1.example.net>:2944`; the name without its angle brackets.
    Domain(&'a str, Option<u16>),
    /// A device name (`pathNAME`), such as `mg1/line`.
    Device(&'a str),
    /// `MTP{0A1B}`: an SS7 point code, 4 to 8 hex digits.
    Mtp(&'a str),
}

/// What a message carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body<'a> {
    /// One or more transactions.
    Transactions(Vec<Transaction<'a>>),
    /// An error descriptor for the whole message (such as 400, syntax error in message).
    Error(ErrorDescriptor<'a>),
}

/// One transaction of a message (H.248.1 §8).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transaction<'a> {
    /// `Transaction = id { actions }`.
    Request(TransactionRequest<'a>),
    /// `Reply = id { … }`.
    Reply(TransactionReply<'a>),
    /// `Pending = id { }`: the request is being worked on.
    Pending(TransactionId),
    /// `TransactionResponseAck { ranges }`: replies received.
    ResponseAck(Vec<AckRange>),
}

/// A range of acknowledged transactions; `first == last` for one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AckRange {
    /// First id.
    pub first: TransactionId,
    /// Last id, inclusive.
    pub last: TransactionId,
}

/// A transaction request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionRequest<'a> {
    /// The transaction id.
    pub id: TransactionId,
    /// Its actions, one per context.
    pub actions: Vec<ActionRequest<'a>>,
}

/// A transaction reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransactionReply<'a> {
    /// The id of the request answered.
    pub id: TransactionId,
    /// `ImmAckRequired`: the receiver must send a ResponseAck at once.
    pub imm_ack_required: bool,
    /// The outcome.
    pub result: ReplyResult<'a>,
}

/// The outcome of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyResult<'a> {
    /// The transaction failed as a whole.
    Error(ErrorDescriptor<'a>),
    /// One reply per action.
    Actions(Vec<ActionReply<'a>>),
}

/// A context id (H.248.1 §6.1): a number, or one of the special values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextId {
    /// A context number.
    Number(u32),
    /// `-`: the null context (terminations not in a call).
    Null,
    /// `$`: a new context, chosen by the MG.
    Choose,
    /// `*`: all contexts.
    All,
}

/// A context property (Annex B `contextProperty`, version 1 subset).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ContextProperty {
    /// `Priority = n`.
    Priority(u16),
    /// `Emergency`.
    Emergency,
}

/// An action request: commands for one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRequest<'a> {
    /// The context.
    pub context: ContextId,
    /// Context properties, in order.
    pub properties: Vec<ContextProperty>,
    /// Commands, in order.
    pub commands: Vec<CommandRequest<'a>>,
}

/// An action reply: the answer for one context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionReply<'a> {
    /// The context (the number chosen by the MG when the request said `$`).
    pub context: ContextId,
    /// Context properties, in order.
    pub properties: Vec<ContextProperty>,
    /// Command replies, in order.
    pub commands: Vec<Command<'a>>,
    /// An error ending the action (after the replies of the commands that were carried out).
    pub error: Option<ErrorDescriptor<'a>>,
}

/// A command in a request, with its `O-` (optional) and `W-` (wildcarded response) prefixes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandRequest<'a> {
    /// `O-`: a failure of this command does not stop the action.
    pub optional: bool,
    /// `W-`: answer a wildcard with one reply rather than one per termination.
    pub wildcard_reply: bool,
    /// The command.
    pub command: Command<'a>,
}

/// A command or a command reply: `Verb = TerminationID { descriptors }`.
///
/// The codec does not check which descriptors a verb may carry (Notify's ObservedEvents,
/// ServiceChange's Services…): that is the agent's business, which answers 447.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command<'a> {
    /// The verb.
    pub verb: Verb,
    /// The termination.
    pub termination: TerminationId<'a>,
    /// Its descriptors, in order (empty: no braces).
    pub descriptors: Vec<Descriptor<'a>>,
}

/// The commands of H.248.1 §7.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verb {
    /// Add a termination to a context.
    Add,
    /// Modify a termination's properties.
    Modify,
    /// Remove a termination from its context.
    Subtract,
    /// Move a termination to another context.
    Move,
    /// Read current values.
    AuditValue,
    /// Read possible values.
    AuditCapabilities,
    /// Report events.
    Notify,
    /// Registration, restart, failover…
    ServiceChange,
}

impl Verb {
    /// Every verb, in §7.2 order.
    pub const ALL: [Self; 8] = [
        Self::Add,
        Self::Modify,
        Self::Subtract,
        Self::Move,
        Self::AuditValue,
        Self::AuditCapabilities,
        Self::Notify,
        Self::ServiceChange,
    ];
}

/// A termination id (Annex B `TerminationID`): `ROOT`, `$`, `*`, or a name that may hold the
/// wildcards `*` and `$`, such as `al/*` or `rtp/$`. Kept as written (names are
/// case-insensitive; compare with [`eq_ignore_ascii_case`](str::eq_ignore_ascii_case)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TerminationId<'a>(pub &'a str);

impl TerminationId<'_> {
    /// Whether this is the ROOT termination (the MG as a whole).
    pub fn is_root(&self) -> bool {
        self.0.eq_ignore_ascii_case("ROOT")
    }

    /// Whether the id holds a wildcard.
    pub fn is_wildcard(&self) -> bool {
        self.0.contains(['*', '$'])
    }
}

/// The descriptors the codec models (H.248.1 §7.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Descriptor<'a> {
    /// `Media { … }`.
    Media(Vec<MediaParm<'a>>),
    /// `Events` (empty: clear) or `Events = id { … }`.
    Events(EventsDescriptor<'a>),
    /// `Signals { … }` (empty: stop all signals).
    Signals(Vec<SignalParm<'a>>),
    /// `ObservedEvents = id { … }`.
    ObservedEvents(ObservedEventsDescriptor<'a>),
    /// `DigitMap = name`, `DigitMap { value }` or both.
    DigitMap(DigitMapDescriptor<'a>),
    /// `EventBuffer { … }`.
    EventBuffer(Vec<EventSpec<'a>>),
    /// `Services { … }`.
    ServiceChange(Vec<ServiceChangeParm<'a>>),
    /// `Audit { … }`.
    Audit(Vec<AuditItem>),
    /// `Statistics { … }`.
    Statistics(Vec<Statistic<'a>>),
    /// `Error = code { "text" }`.
    Error(ErrorDescriptor<'a>),
}

/// One item of a Media descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaParm<'a> {
    /// `TerminationState { … }`.
    TerminationState(Vec<TerminationStateParm<'a>>),
    /// `Stream = id { … }`, holding only LocalControl, Local and Remote.
    Stream(u16, Vec<Self>),
    /// `LocalControl { … }`.
    LocalControl(Vec<LocalControlParm<'a>>),
    /// `Local { sdp }`: the text between the braces, exactly as written (line ends, indentation
    /// and `\}` escapes included). A session description built to send starts and ends with a
    /// line end, so that the braces stand on lines of their own.
    Local(&'a str),
    /// `Remote { sdp }`, like [`Local`](Self::Local).
    Remote(&'a str),
}

/// One item of a TerminationState descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TerminationStateParm<'a> {
    /// `ServiceStates = …`.
    ServiceStates(ServiceState),
    /// `Buffer = OFF | LockStep`: whether events are buffered (true: lock step).
    LockStep(bool),
    /// A package property.
    Property(Property<'a>),
}

/// A termination's service state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceState {
    /// `Test`.
    Test,
    /// `OutOfService`.
    OutOfService,
    /// `InService`.
    InService,
}

/// One item of a LocalControl descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalControlParm<'a> {
    /// `Mode = …`.
    Mode(StreamMode),
    /// `ReservedValue = ON|OFF`.
    ReservedValue(bool),
    /// `ReservedGroup = ON|OFF`.
    ReservedGroup(bool),
    /// A package property, such as `tdmc/gain=2`.
    Property(Property<'a>),
}

/// A stream mode (§7.1.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamMode {
    /// `SendOnly`.
    SendOnly,
    /// `ReceiveOnly`.
    ReceiveOnly,
    /// `SendReceive`.
    SendReceive,
    /// `Inactive`.
    Inactive,
    /// `LoopBack`.
    LoopBack,
}

/// `name = value` and its relatives (Annex B `propertyParm`, `eventOther`, `sigOther`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Property<'a> {
    /// The name: `pkg/item` for properties, a bare name for event and signal parameters.
    pub name: &'a str,
    /// The value.
    pub value: ParmValue<'a>,
}

/// A parameter's value (Annex B `parmValue`). Each value is kept as written: a token, or a
/// quoted string with its quotes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParmValue<'a> {
    /// `= v`.
    Equal(&'a str),
    /// `> v`.
    Greater(&'a str),
    /// `< v`.
    Less(&'a str),
    /// `# v` (not equal).
    NotEqual(&'a str),
    /// `= [a, b]`: one of.
    OneOf(Vec<&'a str>),
    /// `= [a : b]`: a range.
    Range(&'a str, &'a str),
    /// `= {a, b}`: all of.
    AllOf(Vec<&'a str>),
}

/// An Events descriptor. `request_id == None` is the bare `Events` that clears the events
/// (its `events` then empty).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventsDescriptor<'a> {
    /// The RequestID that Notify will echo.
    pub request_id: Option<RequestId>,
    /// The events to detect.
    pub events: Vec<RequestedEvent<'a>>,
}

/// A RequestID: a number, or `*` in audits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestId {
    /// A number.
    Number(u32),
    /// `*`.
    All,
}

/// An event to detect: `pkg/event { parameters }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestedEvent<'a> {
    /// `pkg/event` (`pkg/*`, `*/*`).
    pub name: &'a str,
    /// Its parameters, in order.
    pub params: Vec<EventParm<'a>>,
}

/// A parameter of a requested event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventParm<'a> {
    /// `KeepActive`: signals keep playing when the event occurs.
    KeepActive,
    /// `DigitMap = name` or `DigitMap = { value }`.
    DigitMap(DigitMapRef<'a>),
    /// `Stream = id`.
    Stream(u16),
    /// `Embed { … }`: embedded Signals and Events, kept as the text between the braces.
    Embed(&'a str),
    /// Any other parameter.
    Other(Property<'a>),
}

/// A digit map named or given inline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DigitMapRef<'a> {
    /// By name.
    Name(&'a str),
    /// Inline: the text between the braces as written.
    Value(&'a str),
}

/// An item of a Signals descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalParm<'a> {
    /// One signal.
    Signal(Signal<'a>),
    /// `SignalList = id { signals }`: played in sequence.
    List(u16, Vec<Signal<'a>>),
}

/// A signal: `pkg/signal { parameters }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signal<'a> {
    /// `pkg/signal`.
    pub name: &'a str,
    /// Its parameters, in order.
    pub params: Vec<SignalArg<'a>>,
}

/// A parameter of a signal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignalArg<'a> {
    /// `Stream = id`.
    Stream(u16),
    /// `SignalType = OnOff | TimeOut | Brief`.
    Type(SignalType),
    /// `Duration = n` (ms).
    Duration(u16),
    /// `NotifyCompletion = { reasons }`.
    NotifyCompletion(Vec<NotifyReason>),
    /// `KeepActive`.
    KeepActive,
    /// Any other parameter.
    Other(Property<'a>),
}

/// A signal's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalType {
    /// Plays until stopped.
    OnOff,
    /// Plays until a timeout.
    TimeOut,
    /// Plays briefly.
    Brief,
}

/// Why a signal ended, for NotifyCompletion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyReason {
    /// It timed out.
    TimeOut,
    /// An event interrupted it.
    InterruptedByEvent,
    /// A new Signals descriptor replaced it.
    InterruptedByNewSignals,
    /// Anything else.
    Other,
}

/// An ObservedEvents descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedEventsDescriptor<'a> {
    /// The RequestID of the Events descriptor that armed them.
    pub request_id: RequestId,
    /// What was seen.
    pub events: Vec<ObservedEvent<'a>>,
}

/// An event seen: `[timestamp:] pkg/event { parameters }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObservedEvent<'a> {
    /// When, `yyyymmddThhmmsshh`, as written.
    pub timestamp: Option<&'a str>,
    /// `pkg/event`.
    pub name: &'a str,
    /// Its parameters, in order.
    pub params: Vec<EventSpecParm<'a>>,
}

/// An entry of an EventBuffer descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventSpec<'a> {
    /// `pkg/event`.
    pub name: &'a str,
    /// Its parameters, in order.
    pub params: Vec<EventSpecParm<'a>>,
}

/// A parameter of an observed or buffered event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventSpecParm<'a> {
    /// `Stream = id`.
    Stream(u16),
    /// `name = value`, such as `ds="916135551212"`.
    Other(Property<'a>),
}

/// A DigitMap descriptor: a name, a value, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DigitMapDescriptor<'a> {
    /// `= name`.
    pub name: Option<&'a str>,
    /// `{ value }`: the text between the braces as written.
    pub value: Option<&'a str>,
}

/// One item of a ServiceChange (`Services`) descriptor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceChangeParm<'a> {
    /// `Method = …`.
    Method(ServiceChangeMethod<'a>),
    /// `Reason = value`, as written (usually a quoted `"901 Cold Boot"`).
    Reason(&'a str),
    /// `Delay = n` (seconds).
    Delay(u32),
    /// `ServiceChangeAddress = …`.
    Address(ServiceChangeAddress<'a>),
    /// `Profile = name/version`.
    Profile(&'a str, u8),
    /// `Version = n`.
    Version(u8),
    /// `MgcIdToTry = mId`.
    MgcIdToTry(MessageId<'a>),
    /// `TimeStamp`, `yyyymmddThhmmsshh`.
    TimeStamp(&'a str),
    /// An extension `X-name = value` (or `X+name`).
    Extension(Property<'a>),
}

/// A ServiceChange method (§7.2.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceChangeMethod<'a> {
    /// `Failover`.
    Failover,
    /// `Forced`.
    Forced,
    /// `Graceful`.
    Graceful,
    /// `Restart`.
    Restart,
    /// `Disconnected`.
    Disconnected,
    /// `HandOff`.
    HandOff,
    /// An extension method, `X-…`.
    Extension(&'a str),
}

/// Where to talk to instead: a whole mId or only a port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServiceChangeAddress<'a> {
    /// A port on the same address.
    Port(u16),
    /// Another address.
    Mid(MessageId<'a>),
}

/// A descriptor named in an Audit descriptor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditItem {
    /// `Mux`.
    Mux,
    /// `Modem`.
    Modem,
    /// `Media`.
    Media,
    /// `Signals`.
    Signals,
    /// `EventBuffer`.
    EventBuffer,
    /// `DigitMap`.
    DigitMap,
    /// `Statistics`.
    Statistics,
    /// `Events`.
    Events,
    /// `ObservedEvents`.
    ObservedEvents,
    /// `Packages`.
    Packages,
}

impl AuditItem {
    /// Every item, in Annex B order.
    pub const ALL: [Self; 10] = [
        Self::Mux,
        Self::Modem,
        Self::Media,
        Self::Signals,
        Self::EventBuffer,
        Self::DigitMap,
        Self::Statistics,
        Self::Events,
        Self::ObservedEvents,
        Self::Packages,
    ];
}

/// A statistic: `pkg/name [= value]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Statistic<'a> {
    /// `pkg/name`.
    pub name: &'a str,
    /// The value as written.
    pub value: Option<&'a str>,
}

/// `Error = code { "text" }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorDescriptor<'a> {
    /// The H.248.8 code.
    pub code: ErrorCode,
    /// The text, without its quotes.
    pub text: Option<&'a str>,
}
