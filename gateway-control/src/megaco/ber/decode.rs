//! The BER decoder: Annex A's ASN.1 module read into the message tree. Borrowing the input
//! and the [`Arena`]; bounded; never panics.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use tracing::trace;

use super::names;
use super::termid;
use super::tlv::{OCTET_STRING, Reader, SEQUENCE, Tlv, ctx, ctx_c};
use super::{Arena, MAX_LIST, MAX_MESSAGE, MAX_TRANSACTIONS};
use crate::megaco::packages::{Item, Scope};
use crate::megaco::text::Within;
use crate::megaco::{
    AckRange, ActionReply, ActionRequest, AuditItem, Body, Command, CommandRequest, ContextId,
    ContextProperty, Descriptor, DigitMapDescriptor, DigitMapRef, ErrorCode, ErrorDescriptor,
    EventParm, EventSpec, EventSpecParm, EventsDescriptor, LocalControlParm, MediaParm, Message,
    MessageId, NotifyReason, ObservedEvent, ObservedEventsDescriptor, ParmValue, Property,
    ReplyResult, RequestId, RequestedEvent, ServiceChangeAddress, ServiceChangeMethod,
    ServiceChangeParm, ServiceState, Signal, SignalArg, SignalParm, SignalType, Statistic,
    StreamMode, TerminationId, TerminationStateParm, Transaction, TransactionId, TransactionReply,
    TransactionRequest, Verb,
};

/// Why a message could not be decoded, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MEGACO BER {kind} at byte {offset}")]
pub struct DecodeError {
    /// What is wrong.
    pub kind: DecodeErrorKind,
    /// Byte offset in the message of the element found wrong (or where one is missing).
    pub offset: usize,
    /// The transaction being read when it failed, once its id was read.
    pub transaction: Option<TransactionId>,
    /// The part of the message being read.
    pub within: Within,
}

/// What is wrong with a message. Each names the ASN.1 component concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// Larger than [`MAX_MESSAGE`](super::MAX_MESSAGE), a list longer than
    /// [`MAX_LIST`](super::MAX_LIST), or a length that cannot be.
    #[error("too large: {0}")]
    TooLarge(&'static str),
    /// Nested deeper than [`MAX_DEPTH`](super::MAX_DEPTH).
    #[error("nested too deep")]
    TooDeep,
    /// A length runs past the end of its container.
    #[error("truncated element")]
    Truncated,
    /// A string that is not text of the form needed.
    #[error("{0} is not valid text")]
    NotText(&'static str),
    /// An element of another type (or tag) where this one must be.
    #[error("expected {0}")]
    Expected(&'static str),
    /// A mandatory component is absent.
    #[error("missing {0}")]
    Missing(&'static str),
    /// An element where none may be.
    #[error("unexpected element in {0}")]
    Unexpected(&'static str),
    /// A number out of its ASN.1 range.
    #[error("{0} out of range")]
    Range(&'static str),
    /// A command that is not one of version 1's (answered with 443).
    #[error("unknown command")]
    UnknownCommand,
    /// A descriptor that is not one of version 1's (answered with 444).
    #[error("unknown descriptor")]
    UnknownDescriptor,
    /// Valid Annex A the tree does not model (see the module docs).
    #[error("unsupported {0}")]
    Unsupported(&'static str),
}

impl DecodeError {
    pub(super) fn at(kind: DecodeErrorKind, offset: usize) -> Self {
        Self {
            kind,
            offset,
            transaction: None,
            within: Within::Message,
        }
    }

    /// The H.248.8 code that describes the failure, as [`text::ParseError::code`] does: 501
    /// for what the codec does not model, 443 and 444 for an unknown command or descriptor,
    /// otherwise the syntax error of the part it was found in (400, 401, 403, 404 or 405).
    ///
    /// [`text::ParseError::code`]: crate::megaco::text::ParseError::code
    pub fn code(&self) -> ErrorCode {
        match (self.kind, self.within) {
            (DecodeErrorKind::Unsupported(_), _) => ErrorCode::NOT_IMPLEMENTED,
            (DecodeErrorKind::UnknownCommand, _) => ErrorCode::UNKNOWN_COMMAND,
            (DecodeErrorKind::UnknownDescriptor, _) => ErrorCode::UNKNOWN_DESCRIPTOR,
            (_, Within::Message) => ErrorCode::SYNTAX_ERROR_IN_MESSAGE,
            (_, Within::Request) => ErrorCode::SYNTAX_ERROR_IN_TRANSACTION,
            (_, Within::Reply) => ErrorCode::SYNTAX_ERROR_IN_REPLY,
            (_, Within::Pending) => ErrorCode::SYNTAX_ERROR_IN_PENDING,
            (_, Within::ResponseAck) => ErrorCode::SYNTAX_ERROR_IN_RESPONSE_ACK,
        }
    }

    /// How a receiver answers with a transaction reply, if it can: only a transaction request
    /// whose id was read is answered, with [`code`](Self::code).
    pub fn answer(&self) -> Option<(TransactionId, ErrorCode)> {
        if self.within != Within::Request {
            return None;
        }
        self.transaction.map(|id| (id, self.code()))
    }
}

type Result<T> = std::result::Result<T, DecodeError>;

use DecodeErrorKind as K;

fn fail<T>(kind: DecodeErrorKind, tlv: &Tlv<'_>) -> Result<T> {
    Err(DecodeError::at(kind, tlv.offset))
}

/// Decodes one message. Names, termination ids, session descriptions and quoted values are
/// written into `arena`; everything else borrows `data`.
///
/// Errors name what is wrong and the byte offset where; inside a transaction they carry its id
/// ([`DecodeError::answer`]).
pub fn decode<'a>(data: &'a [u8], arena: &'a Arena) -> Result<Message<'a>> {
    if data.len() > MAX_MESSAGE {
        return Err(DecodeError::at(K::TooLarge("message"), MAX_MESSAGE));
    }
    let mut d = Decoder {
        arena,
        scratch: String::new(),
        transaction: None,
        within: Within::Message,
    };
    let message = d.message(data).map_err(|mut e| {
        e.transaction = d.transaction;
        e.within = d.within;
        e
    })?;
    trace!(version = message.version, "megaco BER message decoded");
    Ok(message)
}

struct Decoder<'a> {
    arena: &'a Arena,
    scratch: String,
    transaction: Option<TransactionId>,
    within: Within,
}

impl<'a> Decoder<'a> {
    /// Text written by `f`, kept in the arena.
    fn make(&mut self, f: impl FnOnce(&mut String)) -> &'a str {
        self.scratch.clear();
        f(&mut self.scratch);
        self.arena.alloc(&self.scratch)
    }

    /// The elements of a SEQUENCE OF, at most [`MAX_LIST`].
    fn list<T>(
        &mut self,
        tlv: Tlv<'a>,
        what: &'static str,
        mut f: impl FnMut(&mut Self, Tlv<'a>) -> Result<T>,
    ) -> Result<Vec<T>> {
        let mut r = Reader::enter(tlv)?;
        let mut out = Vec::new();
        while let Some(e) = r.next()? {
            if out.len() >= MAX_LIST {
                return fail(K::TooLarge(what), &e);
            }
            out.push(f(self, e)?);
        }
        Ok(out)
    }

    fn message(&mut self, data: &'a [u8]) -> Result<Message<'a>> {
        let mut top = Reader::new(data);
        let outer = top.expect(SEQUENCE, "MegacoMessage")?;
        top.end("MegacoMessage")?;
        let mut r = Reader::enter(outer)?;
        if let Some(auth) = r.optional(ctx_c(0))? {
            return fail(K::Unsupported("authHeader"), &auth);
        }
        let mess = r.expect(ctx_c(1), "mess")?;
        r.end("MegacoMessage")?;
        let mut r = Reader::enter(mess)?;
        let version = r.expect(ctx(0), "version")?.u8("version", 99)?;
        let mid = self.choice(&mut r, ctx_c(1), "mId", |d, t| d.mid(t, 0))?;
        let body = r.expect(ctx_c(2), "messageBody")?;
        r.skip_extensions(3)?;
        let e = one(body, "messageBody")?;
        let body = match e.tag {
            t if t == ctx_c(0) => Body::Error(self.error_descriptor(e)?),
            t if t == ctx_c(1) => {
                let mut r = Reader::enter(e)?;
                let mut ts = Vec::new();
                while let Some(t) = r.next()? {
                    if ts.len() >= MAX_TRANSACTIONS {
                        return fail(K::TooLarge("transactions"), &t);
                    }
                    ts.push(self.transaction(t)?);
                    self.transaction = None;
                    self.within = Within::Message;
                }
                Body::Transactions(ts)
            }
            _ => return fail(K::Expected("messageError or transactions"), &e),
        };
        Ok(Message { version, mid, body })
    }

    /// A component whose type is a CHOICE: `[n]` around the alternative.
    fn choice<T>(
        &mut self,
        r: &mut Reader<'a>,
        tag: u8,
        what: &'static str,
        f: impl FnOnce(&mut Self, Tlv<'a>) -> Result<T>,
    ) -> Result<T> {
        let outer = r.expect(tag, what)?;
        f(self, one(outer, what)?)
    }

    /// `MId`, or the same alternatives of `ServiceChangeAddress` (tags `first` higher).
    fn mid(&mut self, e: Tlv<'a>, first: u8) -> Result<MessageId<'a>> {
        let port = |r: &mut Reader<'a>| -> Result<Option<u16>> {
            r.optional(ctx(1))?.map(|p| p.u16("portNumber")).transpose()
        };
        let n = e.tag & 0x1f;
        let tag = |i: u8| {
            if i <= 2 {
                ctx_c(first + i)
            } else {
                ctx(first + i)
            }
        };
        match n.checked_sub(first) {
            Some(i @ 0..=1) if e.tag == tag(i) => {
                let mut r = Reader::enter(e)?;
                let a = r.expect(ctx(0), "address")?;
                let octets = a.octets("address")?;
                let port = port(&mut r)?;
                r.end("address")?;
                match (i, octets.len()) {
                    (0, 4) => Ok(MessageId::Ip4(
                        Ipv4Addr::new(octets[0], octets[1], octets[2], octets[3]),
                        port,
                    )),
                    (1, 16) => {
                        let mut b = [0u8; 16];
                        b.copy_from_slice(octets);
                        Ok(MessageId::Ip6(Ipv6Addr::from(b), port))
                    }
                    _ => fail(K::Range("address"), &a),
                }
            }
            Some(2) if e.tag == tag(2) => {
                let mut r = Reader::enter(e)?;
                let name = r.expect(ctx(0), "domainName")?;
                let text = name.ia5("domainName")?;
                if text.is_empty()
                    || !text
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
                {
                    return fail(K::NotText("domainName"), &name);
                }
                let port = port(&mut r)?;
                r.end("domainName")?;
                Ok(MessageId::Domain(text, port))
            }
            Some(3) if e.tag == tag(3) => {
                let text = e.ia5("deviceName")?;
                if text.is_empty()
                    || text.len() > 64
                    || !text
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"_/*@$.-".contains(&b))
                {
                    return fail(K::NotText("deviceName"), &e);
                }
                Ok(MessageId::Device(text))
            }
            Some(4) if e.tag == tag(4) => {
                let octets = e.octets("mtpAddress")?;
                if !(2..=4).contains(&octets.len()) {
                    return fail(K::Range("mtpAddress"), &e);
                }
                Ok(MessageId::Mtp(self.make(|s| {
                    for b in octets {
                        let _ = write!(s, "{b:02X}");
                    }
                })))
            }
            _ => fail(K::Unsupported("mId alternative"), &e),
        }
    }

    fn transaction(&mut self, t: Tlv<'a>) -> Result<Transaction<'a>> {
        match t.tag {
            x if x == ctx_c(0) => {
                self.within = Within::Request;
                let mut r = Reader::enter(t)?;
                let id = TransactionId(r.expect(ctx(0), "transactionId")?.u32("transactionId")?);
                self.transaction = Some(id);
                let actions = r.expect(ctx_c(1), "actions")?;
                let actions = self.list(actions, "actions", Self::action_request)?;
                r.skip_extensions(2)?;
                Ok(Transaction::Request(TransactionRequest { id, actions }))
            }
            x if x == ctx_c(1) => {
                self.within = Within::Pending;
                let mut r = Reader::enter(t)?;
                let id = TransactionId(r.expect(ctx(0), "transactionId")?.u32("transactionId")?);
                self.transaction = Some(id);
                r.skip_extensions(1)?;
                Ok(Transaction::Pending(id))
            }
            x if x == ctx_c(2) => {
                self.within = Within::Reply;
                let mut r = Reader::enter(t)?;
                let id = TransactionId(r.expect(ctx(0), "transactionId")?.u32("transactionId")?);
                self.transaction = Some(id);
                let imm_ack_required = match r.optional(ctx(1))? {
                    Some(n) => {
                        n.null("immAckRequired")?;
                        true
                    }
                    None => false,
                };
                let result = self.choice(&mut r, ctx_c(2), "transactionResult", |d, e| {
                    if e.tag == ctx_c(0) {
                        Ok(ReplyResult::Error(d.error_descriptor(e)?))
                    } else if e.tag == ctx_c(1) {
                        Ok(ReplyResult::Actions(d.list(
                            e,
                            "actionReplies",
                            Self::action_reply,
                        )?))
                    } else {
                        fail(K::Expected("transactionError or actionReplies"), &e)
                    }
                })?;
                r.skip_extensions(3)?;
                Ok(Transaction::Reply(TransactionReply {
                    id,
                    imm_ack_required,
                    result,
                }))
            }
            x if x == ctx_c(3) => {
                self.within = Within::ResponseAck;
                let ranges = self.list(t, "transactionResponseAck", |_, e| {
                    if e.tag != SEQUENCE {
                        return fail(K::Expected("TransactionAck"), &e);
                    }
                    let mut r = Reader::enter(e)?;
                    let first = TransactionId(r.expect(ctx(0), "firstAck")?.u32("firstAck")?);
                    let last = match r.optional(ctx(1))? {
                        Some(l) => TransactionId(l.u32("lastAck")?),
                        None => first,
                    };
                    r.end("TransactionAck")?;
                    Ok(AckRange { first, last })
                })?;
                Ok(Transaction::ResponseAck(ranges))
            }
            _ => fail(K::Unsupported("transaction alternative"), &t),
        }
    }

    fn error_descriptor(&mut self, e: Tlv<'a>) -> Result<ErrorDescriptor<'a>> {
        let mut r = Reader::enter(e)?;
        let code = ErrorCode(r.expect(ctx(0), "errorCode")?.u16("errorCode")?);
        let text = match r.optional(ctx(1))? {
            Some(t) => {
                let s = t.ia5("errorText")?;
                // The tree keeps the text without quotes: a quote or a control character
                // would break its text form, so they become `'` and a space.
                Some(if s.bytes().all(|b| b != b'"' && !b.is_ascii_control()) {
                    s
                } else {
                    self.make(|out| {
                        out.extend(s.chars().map(|c| match c {
                            '"' => '\'',
                            c if c.is_ascii_control() => ' ',
                            c => c,
                        }))
                    })
                })
            }
            None => None,
        };
        r.end("ErrorDescriptor")?;
        Ok(ErrorDescriptor { code, text })
    }

    fn context(&mut self, r: &mut Reader<'a>) -> Result<ContextId> {
        Ok(match r.expect(ctx(0), "contextId")?.u32("contextId")? {
            0 => ContextId::Null,
            0xffff_fffe => ContextId::Choose,
            0xffff_ffff => ContextId::All,
            n => ContextId::Number(n),
        })
    }

    /// `ContextRequest`: priority [0], emergency [1], topologyReq [2].
    fn context_request(&mut self, e: Option<Tlv<'a>>) -> Result<Vec<ContextProperty>> {
        let Some(e) = e else {
            return Ok(Vec::new());
        };
        let mut r = Reader::enter(e)?;
        let mut props = Vec::new();
        if let Some(p) = r.optional(ctx(0))? {
            props.push(ContextProperty::Priority(u16::from(p.u8("priority", 15)?)));
        }
        if let Some(b) = r.optional(ctx(1))? {
            if b.boolean("emergency")? {
                props.push(ContextProperty::Emergency);
            }
        }
        if let Some(t) = r.optional(ctx_c(2))? {
            return fail(K::Unsupported("topologyReq"), &t);
        }
        r.skip_extensions(3)?;
        Ok(props)
    }

    fn action_request(&mut self, e: Tlv<'a>) -> Result<ActionRequest<'a>> {
        if e.tag != SEQUENCE {
            return fail(K::Expected("ActionRequest"), &e);
        }
        let mut r = Reader::enter(e)?;
        let context = self.context(&mut r)?;
        let request = r.optional(ctx_c(1))?;
        let properties = self.context_request(request)?;
        if let Some(a) = r.optional(ctx_c(2))? {
            return fail(K::Unsupported("contextAttrAuditReq"), &a);
        }
        let commands = r.expect(ctx_c(3), "commandRequests")?;
        let commands = self.list(commands, "commandRequests", Self::command_request)?;
        r.end("ActionRequest")?;
        Ok(ActionRequest {
            context,
            properties,
            commands,
        })
    }

    fn action_reply(&mut self, e: Tlv<'a>) -> Result<ActionReply<'a>> {
        if e.tag != SEQUENCE {
            return fail(K::Expected("ActionReply"), &e);
        }
        let mut r = Reader::enter(e)?;
        let context = self.context(&mut r)?;
        let error = match r.optional(ctx_c(1))? {
            Some(e) => Some(self.error_descriptor(e)?),
            None => None,
        };
        let reply = r.optional(ctx_c(2))?;
        let properties = self.context_request(reply)?;
        let commands = r.expect(ctx_c(3), "commandReply")?;
        let commands = self.list(commands, "commandReply", Self::command_reply)?;
        r.end("ActionReply")?;
        Ok(ActionReply {
            context,
            properties,
            commands,
            error,
        })
    }

    fn command_request(&mut self, e: Tlv<'a>) -> Result<CommandRequest<'a>> {
        if e.tag != SEQUENCE {
            return fail(K::Expected("CommandRequest"), &e);
        }
        let mut r = Reader::enter(e)?;
        let command = self.choice(&mut r, ctx_c(0), "command", Self::command)?;
        let flag = |r: &mut Reader<'a>, tag, what| -> Result<bool> {
            r.optional(tag)?
                .map(|n| n.null(what))
                .transpose()
                .map(|n| n.is_some())
        };
        let optional = flag(&mut r, ctx(1), "optional")?;
        let wildcard_reply = flag(&mut r, ctx(2), "wildcardReturn")?;
        r.skip_extensions(3)?;
        Ok(CommandRequest {
            optional,
            wildcard_reply,
            command,
        })
    }

    /// `TerminationIDList` of exactly one termination.
    fn termination_list(&mut self, r: &mut Reader<'a>) -> Result<TerminationId<'a>> {
        let list = r.expect(ctx_c(0), "terminationID")?;
        let mut ids = Reader::enter(list)?;
        let Some(first) = ids.next()? else {
            return fail(K::Missing("terminationID"), &list);
        };
        if first.tag != SEQUENCE {
            return fail(K::Expected("TerminationID"), &first);
        }
        if let Some(more) = ids.next()? {
            return fail(K::Unsupported("several terminations in one command"), &more);
        }
        self.termination_id(first)
    }

    /// `TerminationID`: wildcard [0], id [1].
    fn termination_id(&mut self, e: Tlv<'a>) -> Result<TerminationId<'a>> {
        let mut r = Reader::enter(e)?;
        let w = r.expect(ctx_c(0), "wildcard")?;
        let mut wildcards = [0u8; 8];
        let mut count = 0;
        let mut wr = Reader::enter(w)?;
        while let Some(field) = wr.next()? {
            match field.octets("wildcard")? {
                [b] if field.tag == OCTET_STRING && count < 8 => {
                    wildcards[count] = *b;
                    count += 1;
                }
                _ => return fail(K::Expected("a one-octet WildcardField"), &field),
            }
        }
        let id = r.expect(ctx(1), "id")?;
        let octets = id.octets("id")?;
        r.skip_extensions(2)?;
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        let result = termid::decode(&wildcards[..count], octets, &mut text);
        let s = self.arena.alloc(&text);
        self.scratch = text;
        match result {
            Ok(()) => Ok(TerminationId(s)),
            Err(termid::Refused::Length) => fail(K::Range("terminationID"), &id),
            Err(termid::Refused::Wildcards) => fail(K::Unsupported("wildcard combination"), &w),
        }
    }

    fn command(&mut self, e: Tlv<'a>) -> Result<Command<'a>> {
        let verb = match e.tag {
            t if t == ctx_c(0) => Verb::Add,
            t if t == ctx_c(1) => Verb::Move,
            t if t == ctx_c(2) => Verb::Modify,
            t if t == ctx_c(3) => Verb::Subtract,
            t if t == ctx_c(4) => Verb::AuditCapabilities,
            t if t == ctx_c(5) => Verb::AuditValue,
            t if t == ctx_c(6) => Verb::Notify,
            t if t == ctx_c(7) => Verb::ServiceChange,
            _ => return fail(K::UnknownCommand, &e),
        };
        let mut r = Reader::enter(e)?;
        let (termination, descriptors) = match verb {
            Verb::Add | Verb::Move | Verb::Modify => {
                let t = self.termination_list(&mut r)?;
                let ds = match r.optional(ctx_c(1))? {
                    Some(ds) => self.list(ds, "descriptors", Self::amm_descriptor)?,
                    None => Vec::new(),
                };
                (t, ds)
            }
            Verb::Subtract => {
                let t = self.termination_list(&mut r)?;
                let ds = match r.optional(ctx_c(1))? {
                    Some(a) => vec![Descriptor::Audit(audit(a)?)],
                    None => Vec::new(),
                };
                (t, ds)
            }
            Verb::AuditCapabilities | Verb::AuditValue => {
                let t = r.expect(ctx_c(0), "terminationID")?;
                let t = self.termination_id(t)?;
                let a = r.expect(ctx_c(1), "auditDescriptor")?;
                (t, vec![Descriptor::Audit(audit(a)?)])
            }
            Verb::Notify => {
                let t = self.termination_list(&mut r)?;
                let o = r.expect(ctx_c(1), "observedEventsDescriptor")?;
                let mut ds = vec![Descriptor::ObservedEvents(self.observed_events(o)?)];
                if let Some(e) = r.optional(ctx_c(2))? {
                    ds.push(Descriptor::Error(self.error_descriptor(e)?));
                }
                (t, ds)
            }
            Verb::ServiceChange => {
                let t = self.termination_list(&mut r)?;
                let p = r.expect(ctx_c(1), "serviceChangeParms")?;
                (
                    t,
                    vec![Descriptor::ServiceChange(self.service_change_parm(p)?)],
                )
            }
        };
        r.skip_extensions(3)?;
        Ok(Command {
            verb,
            termination,
            descriptors,
        })
    }

    /// `AmmDescriptor`.
    fn amm_descriptor(&mut self, e: Tlv<'a>) -> Result<Descriptor<'a>> {
        Ok(match e.tag {
            t if t == ctx_c(0) => Descriptor::Media(self.media(e)?),
            t if t == ctx_c(1) => return fail(K::Unsupported("modemDescriptor"), &e),
            t if t == ctx_c(2) => return fail(K::Unsupported("muxDescriptor"), &e),
            t if t == ctx_c(3) => Descriptor::Events(self.events(e)?),
            t if t == ctx_c(4) => Descriptor::EventBuffer(self.event_buffer(e)?),
            t if t == ctx_c(5) => Descriptor::Signals(self.signals(e)?),
            t if t == ctx_c(6) => Descriptor::DigitMap(self.digit_map(e)?),
            t if t == ctx_c(7) => Descriptor::Audit(audit(e)?),
            _ => return fail(K::UnknownDescriptor, &e),
        })
    }

    fn command_reply(&mut self, e: Tlv<'a>) -> Result<Command<'a>> {
        let verb = match e.tag {
            t if t == ctx_c(0) => Verb::Add,
            t if t == ctx_c(1) => Verb::Move,
            t if t == ctx_c(2) => Verb::Modify,
            t if t == ctx_c(3) => Verb::Subtract,
            t if t == ctx_c(4) => Verb::AuditCapabilities,
            t if t == ctx_c(5) => Verb::AuditValue,
            t if t == ctx_c(6) => Verb::Notify,
            t if t == ctx_c(7) => Verb::ServiceChange,
            _ => return fail(K::UnknownCommand, &e),
        };
        let (termination, descriptors) = match verb {
            Verb::Add | Verb::Move | Verb::Modify | Verb::Subtract => {
                let mut r = Reader::enter(e)?;
                let t = self.termination_list(&mut r)?;
                let ds = match r.optional(ctx_c(1))? {
                    Some(a) => self.termination_audit(a)?,
                    None => Vec::new(),
                };
                r.skip_extensions(2)?;
                (t, ds)
            }
            Verb::AuditCapabilities | Verb::AuditValue => {
                let a = one(e, "auditReply")?;
                if a.tag == ctx_c(0) {
                    return fail(K::Unsupported("contextAuditResult"), &a);
                } else if a.tag == ctx_c(1) {
                    return fail(K::Unsupported("an audit error without termination"), &a);
                } else if a.tag != ctx_c(2) {
                    return fail(K::Unsupported("auditReply alternative"), &a);
                }
                let mut r = Reader::enter(a)?;
                let t = r.expect(ctx_c(0), "terminationID")?;
                let t = self.termination_id(t)?;
                let audit = r.expect(ctx_c(1), "terminationAuditResult")?;
                let ds = self.termination_audit(audit)?;
                r.end("AuditResult")?;
                (t, ds)
            }
            Verb::Notify => {
                let mut r = Reader::enter(e)?;
                let t = self.termination_list(&mut r)?;
                let mut ds = Vec::new();
                if let Some(e) = r.optional(ctx_c(1))? {
                    ds.push(Descriptor::Error(self.error_descriptor(e)?));
                }
                r.skip_extensions(2)?;
                (t, ds)
            }
            Verb::ServiceChange => {
                let mut r = Reader::enter(e)?;
                let t = self.termination_list(&mut r)?;
                let result = r.expect(ctx_c(1), "serviceChangeResult")?;
                let result = one(result, "serviceChangeResult")?;
                let ds = if result.tag == ctx_c(0) {
                    vec![Descriptor::Error(self.error_descriptor(result)?)]
                } else if result.tag == ctx_c(1) {
                    let parms = self.service_change_res_parm(result)?;
                    if parms.is_empty() {
                        Vec::new()
                    } else {
                        vec![Descriptor::ServiceChange(parms)]
                    }
                } else {
                    return fail(
                        K::Expected("errorDescriptor or serviceChangeResParms"),
                        &result,
                    );
                };
                r.skip_extensions(2)?;
                (t, ds)
            }
        };
        Ok(Command {
            verb,
            termination,
            descriptors,
        })
    }

    /// `TerminationAudit`: SEQUENCE OF AuditReturnParameter.
    fn termination_audit(&mut self, e: Tlv<'a>) -> Result<Vec<Descriptor<'a>>> {
        self.list(e, "terminationAudit", |d, p| {
            Ok(match p.tag {
                t if t == ctx_c(0) => Descriptor::Error(d.error_descriptor(p)?),
                t if t == ctx_c(1) => Descriptor::Media(d.media(p)?),
                t if t == ctx_c(2) => return fail(K::Unsupported("modemDescriptor"), &p),
                t if t == ctx_c(3) => return fail(K::Unsupported("muxDescriptor"), &p),
                t if t == ctx_c(4) => Descriptor::Events(d.events(p)?),
                t if t == ctx_c(5) => Descriptor::EventBuffer(d.event_buffer(p)?),
                t if t == ctx_c(6) => Descriptor::Signals(d.signals(p)?),
                t if t == ctx_c(7) => Descriptor::DigitMap(d.digit_map(p)?),
                t if t == ctx_c(8) => Descriptor::ObservedEvents(d.observed_events(p)?),
                t if t == ctx_c(9) => Descriptor::Statistics(d.statistics(p)?),
                t if t == ctx_c(10) => return fail(K::Unsupported("packagesDescriptor"), &p),
                t if t == ctx_c(11) => Descriptor::Audit(audit(p)?),
                _ => return fail(K::UnknownDescriptor, &p),
            })
        })
    }

    /// A `PkgdName`: four octets.
    fn pkgd(
        &mut self,
        e: &Tlv<'a>,
        scope: Scope,
        what: &'static str,
    ) -> Result<(&'a str, u16, u16)> {
        let [a, b, c, d] = e.octets(what)? else {
            return fail(K::Range(what), e);
        };
        let (package, item) = (u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d]));
        let name = self.make(|s| names::pkgd_name(scope, package, item, s));
        Ok((name, package, item))
    }

    /// A value in text: a bare token if every character is a `SafeChar`, else quoted.
    fn value_text(&mut self, e: &Tlv<'a>) -> Result<&'a str> {
        let octets = e.octets("value")?;
        if !octets.is_empty() && octets.iter().all(|&b| names::is_safe(b)) {
            // SafeChars are ASCII.
            return std::str::from_utf8(octets).or_else(|_| fail(K::NotText("value"), e));
        }
        let s = std::str::from_utf8(octets).or_else(|_| fail(K::NotText("value"), e))?;
        if !names::is_quotable(s) {
            return fail(K::NotText("value"), e);
        }
        Ok(self.make(|out| {
            out.push('"');
            out.push_str(s);
            out.push('"');
        }))
    }

    /// `Value` (SEQUENCE OF OCTET STRING) and `extraInfo`.
    fn parm_value(&mut self, value: Tlv<'a>, extra: Option<Tlv<'a>>) -> Result<ParmValue<'a>> {
        let values = self.list(value, "value", |d, v| {
            if v.tag != OCTET_STRING {
                return fail(K::Expected("OCTET STRING"), &v);
            }
            d.value_text(&v)
        })?;
        let extra = match extra {
            Some(x) => Some(one(x, "extraInfo")?),
            None => None,
        };
        let single = |values: &[&'a str], x: &Tlv<'a>| -> Result<&'a str> {
            match values {
                [v] => Ok(*v),
                _ => fail(K::Expected("one value with a relation"), x),
            }
        };
        Ok(match extra {
            None => match values.len() {
                0 => ParmValue::Equal("$"),
                1 => ParmValue::Equal(values[0]),
                _ => ParmValue::OneOf(values),
            },
            Some(x) if x.tag == ctx(0) => {
                let v = single(&values, &x)?;
                match x.unsigned("relation", 2)? {
                    0 => ParmValue::Greater(v),
                    1 => ParmValue::Less(v),
                    _ => ParmValue::NotEqual(v),
                }
            }
            Some(x) if x.tag == ctx(1) && x.boolean("range")? => match values.as_slice() {
                [a, b] => ParmValue::Range(a, b),
                _ => return fail(K::Expected("two values of a range"), &x),
            },
            Some(x) if x.tag == ctx(2) && x.boolean("sublist")? => ParmValue::AllOf(values),
            Some(x) if x.tag == ctx(1) || x.tag == ctx(2) => {
                // range or sublist FALSE: as without extraInfo, but a list stays a list.
                match values.len() {
                    0 => ParmValue::Equal("$"),
                    1 if x.tag == ctx(1) => ParmValue::Equal(values[0]),
                    _ => ParmValue::OneOf(values),
                }
            }
            Some(x) => return fail(K::Expected("relation, range or sublist"), &x),
        })
    }

    /// `PropertyParm`: name [0], value [1], extraInfo [2].
    fn property_parm(&mut self, e: Tlv<'a>) -> Result<Property<'a>> {
        if e.tag != SEQUENCE {
            return fail(K::Expected("PropertyParm"), &e);
        }
        let mut r = Reader::enter(e)?;
        let name = r.expect(ctx(0), "name")?;
        let (name, _, _) = self.pkgd(&name, Scope::Property, "name")?;
        let value = r.expect(ctx_c(1), "value")?;
        let extra = r.optional(ctx_c(2))?;
        let value = self.parm_value(value, extra)?;
        r.skip_extensions(3)?;
        Ok(Property { name, value })
    }

    /// `EventParameter` or `SigParameter` of `owner`: name [0], value [1], extraInfo [2].
    fn parameter(&mut self, e: Tlv<'a>, owner: Option<&'static Item>) -> Result<Property<'a>> {
        if e.tag != SEQUENCE {
            return fail(K::Expected("parameter"), &e);
        }
        let mut r = Reader::enter(e)?;
        let name = r.expect(ctx(0), "parameterName")?;
        let [a, b] = name.octets("parameterName")? else {
            return fail(K::Range("parameterName"), &name);
        };
        let id = u16::from_be_bytes([*a, *b]);
        let name = self.make(|s| names::param_name(owner, id, s));
        let value = r.expect(ctx_c(1), "value")?;
        let extra = r.optional(ctx_c(2))?;
        let value = self.parm_value(value, extra)?;
        r.skip_extensions(3)?;
        Ok(Property { name, value })
    }

    /// `MediaDescriptor`: termStateDescr [0], streams [1].
    fn media(&mut self, e: Tlv<'a>) -> Result<Vec<MediaParm<'a>>> {
        let mut r = Reader::enter(e)?;
        let mut parms = Vec::new();
        if let Some(s) = r.optional(ctx_c(0))? {
            parms.push(MediaParm::TerminationState(self.termination_state(s)?));
        }
        if let Some(streams) = r.optional(ctx_c(1))? {
            let s = one(streams, "streams")?;
            if s.tag == ctx_c(0) {
                self.stream_parms(s, &mut parms)?;
            } else if s.tag == ctx_c(1) {
                let streams = self.list(s, "multiStream", |d, sd| {
                    if sd.tag != SEQUENCE {
                        return fail(K::Expected("StreamDescriptor"), &sd);
                    }
                    let mut r = Reader::enter(sd)?;
                    let id = r.expect(ctx(0), "streamID")?.u16("streamID")?;
                    let p = r.expect(ctx_c(1), "streamParms")?;
                    let mut inner = Vec::new();
                    d.stream_parms(p, &mut inner)?;
                    r.end("StreamDescriptor")?;
                    Ok(MediaParm::Stream(id, inner))
                })?;
                parms.extend(streams);
            } else {
                return fail(K::Expected("oneStream or multiStream"), &s);
            }
        }
        r.skip_extensions(2)?;
        Ok(parms)
    }

    /// `TerminationStateDescriptor`: propertyParms [0], eventBufferControl [1],
    /// serviceState [2].
    fn termination_state(&mut self, e: Tlv<'a>) -> Result<Vec<TerminationStateParm<'a>>> {
        let mut r = Reader::enter(e)?;
        let props = r.expect(ctx_c(0), "propertyParms")?;
        let mut parms = self.list(props, "propertyParms", |d, p| {
            Ok(TerminationStateParm::Property(d.property_parm(p)?))
        })?;
        if let Some(b) = r.optional(ctx(1))? {
            parms.push(TerminationStateParm::LockStep(
                b.unsigned("eventBufferControl", 1)? == 1,
            ));
        }
        if let Some(s) = r.optional(ctx(2))? {
            parms.push(TerminationStateParm::ServiceStates(
                match s.unsigned("serviceState", 2)? {
                    0 => ServiceState::Test,
                    1 => ServiceState::OutOfService,
                    _ => ServiceState::InService,
                },
            ));
        }
        r.skip_extensions(3)?;
        Ok(parms)
    }

    /// `StreamParms`: localControlDescriptor [0], localDescriptor [1], remoteDescriptor [2].
    fn stream_parms(&mut self, e: Tlv<'a>, out: &mut Vec<MediaParm<'a>>) -> Result<()> {
        let mut r = Reader::enter(e)?;
        if let Some(c) = r.optional(ctx_c(0))? {
            out.push(MediaParm::LocalControl(self.local_control(c)?));
        }
        if let Some(l) = r.optional(ctx_c(1))? {
            out.push(MediaParm::Local(self.local_remote(l)?));
        }
        if let Some(l) = r.optional(ctx_c(2))? {
            out.push(MediaParm::Remote(self.local_remote(l)?));
        }
        r.skip_extensions(3)
    }

    /// `LocalControlDescriptor`: streamMode [0], reserveValue [1], reserveGroup [2],
    /// propertyParms [3].
    fn local_control(&mut self, e: Tlv<'a>) -> Result<Vec<LocalControlParm<'a>>> {
        let mut r = Reader::enter(e)?;
        let mut parms = Vec::new();
        if let Some(m) = r.optional(ctx(0))? {
            parms.push(LocalControlParm::Mode(
                match m.unsigned("streamMode", 4)? {
                    0 => StreamMode::SendOnly,
                    1 => StreamMode::ReceiveOnly,
                    2 => StreamMode::SendReceive,
                    3 => StreamMode::Inactive,
                    _ => StreamMode::LoopBack,
                },
            ));
        }
        if let Some(b) = r.optional(ctx(1))? {
            parms.push(LocalControlParm::ReservedValue(b.boolean("reserveValue")?));
        }
        if let Some(b) = r.optional(ctx(2))? {
            parms.push(LocalControlParm::ReservedGroup(b.boolean("reserveGroup")?));
        }
        if let Some(props) = r.optional(ctx_c(3))? {
            let props = self.list(props, "propertyParms", |d, p| {
                Ok(LocalControlParm::Property(d.property_parm(p)?))
            })?;
            parms.extend(props);
        }
        r.skip_extensions(4)?;
        Ok(parms)
    }

    /// `LocalRemoteDescriptor` as the text of a session description.
    fn local_remote(&mut self, e: Tlv<'a>) -> Result<&'a str> {
        let mut r = Reader::enter(e)?;
        let groups = r.expect(ctx_c(0), "propGrps")?;
        r.skip_extensions(1)?;
        let mut text = std::mem::take(&mut self.scratch);
        text.clear();
        text.push('\n');
        let result = sdp_groups(groups, &mut text);
        let s = self.arena.alloc(&text);
        self.scratch = text;
        result.map(|()| s)
    }

    /// `EventsDescriptor`: requestID [0], eventList [1].
    fn events(&mut self, e: Tlv<'a>) -> Result<EventsDescriptor<'a>> {
        let mut r = Reader::enter(e)?;
        let id = request_id(r.expect(ctx(0), "requestID")?)?;
        let list = r.expect(ctx_c(1), "eventList")?;
        let events = self.list(list, "eventList", Self::requested_event)?;
        r.skip_extensions(2)?;
        Ok(EventsDescriptor {
            request_id: (!events.is_empty()).then_some(id),
            events,
        })
    }

    /// `RequestedEvent`: pkgdName [0], streamID [1], eventAction [2], evParList [3].
    fn requested_event(&mut self, e: Tlv<'a>) -> Result<RequestedEvent<'a>> {
        if e.tag != SEQUENCE {
            return fail(K::Expected("RequestedEvent"), &e);
        }
        let mut r = Reader::enter(e)?;
        let n = r.expect(ctx(0), "pkgdName")?;
        let (name, package, item) = self.pkgd(&n, Scope::Event, "pkgdName")?;
        let owner = names::pkgd_item(Scope::Event, package, item);
        let mut params = Vec::new();
        if let Some(s) = r.optional(ctx(1))? {
            params.push(EventParm::Stream(s.u16("streamID")?));
        }
        if let Some(a) = r.optional(ctx_c(2))? {
            let mut a = Reader::enter(a)?;
            if let Some(k) = a.optional(ctx(0))? {
                if k.boolean("keepActive")? {
                    params.push(EventParm::KeepActive);
                }
            }
            if let Some(dm) = a.optional(ctx_c(1))? {
                let dm = one(dm, "eventDM")?;
                params.push(EventParm::DigitMap(if dm.tag == ctx(0) {
                    DigitMapRef::Name(self.digit_map_name(&dm)?)
                } else if dm.tag == ctx_c(1) {
                    DigitMapRef::Value(self.digit_map_value(dm)?)
                } else {
                    return fail(K::Expected("digitMapName or digitMapValue"), &dm);
                }));
            }
            if let Some(x) = a.optional(ctx_c(2))? {
                return fail(K::Unsupported("embedded events (secondEvent)"), &x);
            }
            if let Some(x) = a.optional(ctx_c(3))? {
                return fail(K::Unsupported("embedded signals"), &x);
            }
            a.skip_extensions(4)?;
        }
        if let Some(list) = r.optional(ctx_c(3))? {
            let others = self.list(list, "evParList", |d, p| {
                Ok(EventParm::Other(d.parameter(p, owner)?))
            })?;
            params.extend(others);
        }
        r.skip_extensions(4)?;
        Ok(RequestedEvent { name, params })
    }

    /// The content of an `EventSpec` or `ObservedEvent`: eventName [0], streamID [1],
    /// eventParList [2], and timeNotation [3] of an ObservedEvent.
    fn event_spec(
        &mut self,
        e: Tlv<'a>,
    ) -> Result<(&'a str, Vec<EventSpecParm<'a>>, Option<&'a str>)> {
        if e.tag != SEQUENCE {
            return fail(K::Expected("event"), &e);
        }
        let mut r = Reader::enter(e)?;
        let n = r.expect(ctx(0), "eventName")?;
        let (name, package, item) = self.pkgd(&n, Scope::Event, "eventName")?;
        let owner = names::pkgd_item(Scope::Event, package, item);
        let mut params = Vec::new();
        if let Some(s) = r.optional(ctx(1))? {
            params.push(EventSpecParm::Stream(s.u16("streamID")?));
        }
        if let Some(list) = r.optional(ctx_c(2))? {
            let others = self.list(list, "eventParList", |d, p| {
                Ok(EventSpecParm::Other(d.parameter(p, owner)?))
            })?;
            params.extend(others);
        }
        let timestamp = match r.optional(ctx_c(3))? {
            Some(t) => Some(self.time_notation(t)?),
            None => None,
        };
        r.skip_extensions(4)?;
        Ok((name, params, timestamp))
    }

    fn event_buffer(&mut self, e: Tlv<'a>) -> Result<Vec<EventSpec<'a>>> {
        self.list(e, "eventBufferDescriptor", |d, s| {
            let (name, params, time) = d.event_spec(s)?;
            if time.is_some() {
                return fail(K::Unexpected("EventSpec"), &s);
            }
            Ok(EventSpec { name, params })
        })
    }

    /// `ObservedEventsDescriptor`: requestId [0], observedEventLst [1].
    fn observed_events(&mut self, e: Tlv<'a>) -> Result<ObservedEventsDescriptor<'a>> {
        let mut r = Reader::enter(e)?;
        let request_id = request_id(r.expect(ctx(0), "requestId")?)?;
        let list = r.expect(ctx_c(1), "observedEventLst")?;
        let events = self.list(list, "observedEventLst", |d, o| {
            let (name, params, timestamp) = d.event_spec(o)?;
            Ok(ObservedEvent {
                timestamp,
                name,
                params,
            })
        })?;
        r.end("ObservedEventsDescriptor")?;
        Ok(ObservedEventsDescriptor { request_id, events })
    }

    /// `TimeNotation` as `yyyymmddThhmmsshh`.
    fn time_notation(&mut self, e: Tlv<'a>) -> Result<&'a str> {
        let mut r = Reader::enter(e)?;
        let date = r.expect(ctx(0), "date")?;
        let time = r.expect(ctx(1), "time")?;
        r.end("TimeNotation")?;
        let digits = |t: &Tlv<'a>, what| -> Result<&'a str> {
            let s = t.ia5(what)?;
            if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
                Ok(s)
            } else {
                fail(K::NotText(what), t)
            }
        };
        let (date, time) = (digits(&date, "date")?, digits(&time, "time")?);
        Ok(self.make(|s| {
            s.push_str(date);
            s.push('T');
            s.push_str(time);
        }))
    }

    /// `SignalsDescriptor`: SEQUENCE OF SignalRequest.
    fn signals(&mut self, e: Tlv<'a>) -> Result<Vec<SignalParm<'a>>> {
        self.list(e, "signalsDescriptor", |d, s| {
            if s.tag == ctx_c(0) {
                Ok(SignalParm::Signal(d.signal(s)?))
            } else if s.tag == ctx_c(1) {
                let mut r = Reader::enter(s)?;
                let id = r.expect(ctx(0), "id")?.u16("id")?;
                let list = r.expect(ctx_c(1), "signalList")?;
                let signals = d.list(list, "signalList", |d, s| {
                    if s.tag != SEQUENCE {
                        return fail(K::Expected("Signal"), &s);
                    }
                    d.signal(s)
                })?;
                r.end("SeqSigList")?;
                Ok(SignalParm::List(id, signals))
            } else {
                fail(K::Unsupported("signalRequest alternative"), &s)
            }
        })
    }

    /// `Signal`: signalName [0], streamID [1], sigType [2], duration [3],
    /// notifyCompletion [4], keepActive [5], sigParList [6].
    fn signal(&mut self, e: Tlv<'a>) -> Result<Signal<'a>> {
        let mut r = Reader::enter(e)?;
        let n = r.expect(ctx(0), "signalName")?;
        let (name, package, item) = self.pkgd(&n, Scope::Signal, "signalName")?;
        let owner = names::pkgd_item(Scope::Signal, package, item);
        let mut params = Vec::new();
        if let Some(s) = r.optional(ctx(1))? {
            params.push(SignalArg::Stream(s.u16("streamID")?));
        }
        if let Some(t) = r.optional(ctx(2))? {
            params.push(SignalArg::Type(match t.unsigned("sigType", 2)? {
                0 => SignalType::Brief,
                1 => SignalType::OnOff,
                _ => SignalType::TimeOut,
            }));
        }
        if let Some(d) = r.optional(ctx(3))? {
            params.push(SignalArg::Duration(d.u16("duration")?));
        }
        if let Some(b) = r.optional(ctx(4))? {
            let bits = b.bits("notifyCompletion")?;
            let reasons = [
                NotifyReason::TimeOut,
                NotifyReason::InterruptedByEvent,
                NotifyReason::InterruptedByNewSignals,
                NotifyReason::Other,
            ];
            params.push(SignalArg::NotifyCompletion(
                reasons
                    .into_iter()
                    .filter(|&r| bits & super::encode::reason_bit(r) != 0)
                    .collect(),
            ));
        }
        if let Some(k) = r.optional(ctx(5))? {
            if k.boolean("keepActive")? {
                params.push(SignalArg::KeepActive);
            }
        }
        if let Some(list) = r.optional(ctx_c(6))? {
            let others = self.list(list, "sigParList", |d, p| {
                Ok(SignalArg::Other(d.parameter(p, owner)?))
            })?;
            params.extend(others);
        }
        r.skip_extensions(7)?;
        Ok(Signal { name, params })
    }

    fn digit_map_name(&mut self, e: &Tlv<'a>) -> Result<&'a str> {
        let [a, b] = e.octets("digitMapName")? else {
            return fail(K::Range("digitMapName"), e);
        };
        let id = [*a, *b];
        Ok(self.make(|s| names::dialplan_name(id, s)))
    }

    /// `DigitMapValue` as text: its timers, then its body.
    fn digit_map_value(&mut self, e: Tlv<'a>) -> Result<&'a str> {
        let mut r = Reader::enter(e)?;
        let timer = |r: &mut Reader<'a>, tag, what| -> Result<Option<u8>> {
            r.optional(tag)?.map(|t| t.u8(what, 99)).transpose()
        };
        let start = timer(&mut r, ctx(0), "startTimer")?;
        let short = timer(&mut r, ctx(1), "shortTimer")?;
        let long = timer(&mut r, ctx(2), "longTimer")?;
        let b = r.expect(ctx(3), "digitMapBody")?;
        // White space around the body is not part of it (the encoder drops it).
        let body = b.ia5("digitMapBody")?.trim();
        // Nothing that would read back as a timer or end the braces of the text form.
        let control = |c: u8| c.is_ascii_control() && !matches!(c, b'\n' | b'\r' | b'\t');
        if body.contains([':', '}', '{']) || body.bytes().any(control) {
            return fail(K::NotText("digitMapBody"), &b);
        }
        r.skip_extensions(4)?;
        let v = names::DigitMapValue {
            start,
            short,
            long,
            body,
        };
        if start.is_none() && short.is_none() && long.is_none() {
            return Ok(body);
        }
        Ok(self.make(|s| names::digit_map_text(&v, s)))
    }

    /// `DigitMapDescriptor`: digitMapName [0], digitMapValue [1].
    fn digit_map(&mut self, e: Tlv<'a>) -> Result<DigitMapDescriptor<'a>> {
        let mut r = Reader::enter(e)?;
        let name = match r.optional(ctx(0))? {
            Some(n) => Some(self.digit_map_name(&n)?),
            None => None,
        };
        let value = match r.optional(ctx_c(1))? {
            Some(v) => Some(self.digit_map_value(v)?),
            None => None,
        };
        r.end("DigitMapDescriptor")?;
        Ok(DigitMapDescriptor { name, value })
    }

    /// `StatisticsDescriptor`: SEQUENCE OF StatisticsParameter (statName [0], statValue [1]).
    fn statistics(&mut self, e: Tlv<'a>) -> Result<Vec<Statistic<'a>>> {
        self.list(e, "statisticsDescriptor", |d, s| {
            if s.tag != SEQUENCE {
                return fail(K::Expected("StatisticsParameter"), &s);
            }
            let mut r = Reader::enter(s)?;
            let n = r.expect(ctx(0), "statName")?;
            let (name, _, _) = d.pkgd(&n, Scope::Statistic, "statName")?;
            let value = match r.optional(ctx_c(1))? {
                Some(v) => d.single_value(v, "statValue")?,
                None => None,
            };
            r.end("StatisticsParameter")?;
            Ok(Statistic { name, value })
        })
    }

    /// A `Value` that the tree holds as one text: none for the empty sequence.
    fn single_value(&mut self, e: Tlv<'a>, what: &'static str) -> Result<Option<&'a str>> {
        let mut r = Reader::enter(e)?;
        let Some(v) = r.next()? else {
            return Ok(None);
        };
        if v.tag != OCTET_STRING {
            return fail(K::Expected("OCTET STRING"), &v);
        }
        if let Some(more) = r.next()? {
            return fail(K::Unsupported(what), &more);
        }
        self.value_text(&v).map(Some)
    }

    fn service_change_address(&mut self, e: Tlv<'a>) -> Result<ServiceChangeAddress<'a>> {
        let a = one(e, "serviceChangeAddress")?;
        if a.tag == ctx(0) {
            return Ok(ServiceChangeAddress::Port(a.u16("portNumber")?));
        }
        Ok(ServiceChangeAddress::Mid(self.mid(a, 1)?))
    }

    /// `ServiceChangeProfile` as name and version.
    fn profile(&mut self, e: Tlv<'a>) -> Result<ServiceChangeParm<'a>> {
        let mut r = Reader::enter(e)?;
        let p = r.expect(ctx(0), "profileName")?;
        r.end("ServiceChangeProfile")?;
        let text = p.ia5("profileName")?;
        let parsed = text.rsplit_once('/').and_then(|(name, version)| {
            let ok = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
                && (1..=2).contains(&version.len());
            let version: u8 = version.parse().ok()?;
            (ok && version <= 99).then_some((name, version))
        });
        match parsed {
            Some((name, version)) => Ok(ServiceChangeParm::Profile(name, version)),
            None => fail(K::NotText("profileName"), &p),
        }
    }

    /// `ServiceChangeParm`: serviceChangeMethod [0], serviceChangeAddress [1],
    /// serviceChangeVersion [2], serviceChangeProfile [3], serviceChangeReason [4],
    /// serviceChangeDelay [5], serviceChangeMgcId [6], timeStamp [7], nonStandardData [8].
    fn service_change_parm(&mut self, e: Tlv<'a>) -> Result<Vec<ServiceChangeParm<'a>>> {
        let mut r = Reader::enter(e)?;
        let m = r.expect(ctx(0), "serviceChangeMethod")?;
        let method = match m.unsigned("serviceChangeMethod", u64::MAX)? {
            0 => ServiceChangeMethod::Failover,
            1 => ServiceChangeMethod::Forced,
            2 => ServiceChangeMethod::Graceful,
            3 => ServiceChangeMethod::Restart,
            4 => ServiceChangeMethod::Disconnected,
            5 => ServiceChangeMethod::HandOff,
            _ => return fail(K::Unsupported("serviceChangeMethod"), &m),
        };
        let mut parms = vec![ServiceChangeParm::Method(method)];
        if let Some(a) = r.optional(ctx_c(1))? {
            parms.push(ServiceChangeParm::Address(self.service_change_address(a)?));
        }
        if let Some(v) = r.optional(ctx(2))? {
            parms.push(ServiceChangeParm::Version(
                v.u8("serviceChangeVersion", 99)?,
            ));
        }
        if let Some(p) = r.optional(ctx_c(3))? {
            parms.push(self.profile(p)?);
        }
        let reason = r.expect(ctx_c(4), "serviceChangeReason")?;
        if let Some(reason) = self.single_value(reason, "several reasons")? {
            parms.push(ServiceChangeParm::Reason(reason));
        }
        if let Some(d) = r.optional(ctx(5))? {
            parms.push(ServiceChangeParm::Delay(d.u32("serviceChangeDelay")?));
        }
        if let Some(m) = r.optional(ctx_c(6))? {
            let m = one(m, "serviceChangeMgcId")?;
            parms.push(ServiceChangeParm::MgcIdToTry(self.mid(m, 0)?));
        }
        if let Some(t) = r.optional(ctx_c(7))? {
            parms.push(ServiceChangeParm::TimeStamp(self.time_notation(t)?));
        }
        if let Some(n) = r.optional(ctx_c(8))? {
            return fail(K::Unsupported("nonStandardData"), &n);
        }
        r.skip_extensions(9)?;
        Ok(parms)
    }

    /// `ServiceChangeResParm`: serviceChangeMgcId [0], serviceChangeAddress [1],
    /// serviceChangeVersion [2], serviceChangeProfile [3], timeStamp [4].
    fn service_change_res_parm(&mut self, e: Tlv<'a>) -> Result<Vec<ServiceChangeParm<'a>>> {
        let mut r = Reader::enter(e)?;
        let mut parms = Vec::new();
        if let Some(m) = r.optional(ctx_c(0))? {
            let m = one(m, "serviceChangeMgcId")?;
            parms.push(ServiceChangeParm::MgcIdToTry(self.mid(m, 0)?));
        }
        if let Some(a) = r.optional(ctx_c(1))? {
            parms.push(ServiceChangeParm::Address(self.service_change_address(a)?));
        }
        if let Some(v) = r.optional(ctx(2))? {
            parms.push(ServiceChangeParm::Version(
                v.u8("serviceChangeVersion", 99)?,
            ));
        }
        if let Some(p) = r.optional(ctx_c(3))? {
            parms.push(self.profile(p)?);
        }
        if let Some(t) = r.optional(ctx_c(4))? {
            parms.push(ServiceChangeParm::TimeStamp(self.time_notation(t)?));
        }
        r.skip_extensions(5)?;
        Ok(parms)
    }
}

/// The one element inside an explicit tag (a CHOICE component).
fn one<'a>(outer: Tlv<'a>, what: &'static str) -> Result<Tlv<'a>> {
    let mut r = Reader::enter(outer)?;
    let Some(inner) = r.next()? else {
        return fail(K::Missing(what), &outer);
    };
    r.end(what)?;
    Ok(inner)
}

fn request_id(e: Tlv<'_>) -> Result<RequestId> {
    Ok(match e.u32("requestID")? {
        0xffff_ffff => RequestId::All,
        n => RequestId::Number(n),
    })
}

/// `AuditDescriptor`: auditToken [0] BIT STRING OPTIONAL.
fn audit(e: Tlv<'_>) -> Result<Vec<AuditItem>> {
    let mut r = Reader::enter(e)?;
    let bits = match r.optional(ctx(0))? {
        Some(b) => b.bits("auditToken")?,
        None => 0,
    };
    r.skip_extensions(1)?;
    const ORDER: [AuditItem; 10] = [
        AuditItem::Mux,
        AuditItem::Modem,
        AuditItem::Media,
        AuditItem::Events,
        AuditItem::Signals,
        AuditItem::DigitMap,
        AuditItem::Statistics,
        AuditItem::ObservedEvents,
        AuditItem::Packages,
        AuditItem::EventBuffer,
    ];
    Ok(ORDER
        .into_iter()
        .filter(|&i| bits & super::encode::audit_bit(i) != 0)
        .collect())
}

/// The property groups of a Local or Remote descriptor as SDP lines.
fn sdp_groups(groups: Tlv<'_>, out: &mut String) -> Result<()> {
    let mut gr = Reader::enter(groups)?;
    let mut count = 0;
    while let Some(group) = gr.next()? {
        if group.tag != SEQUENCE {
            return fail(K::Expected("PropertyGroup"), &group);
        }
        let mut pr = Reader::enter(group)?;
        while let Some(p) = pr.next()? {
            count += 1;
            if count > MAX_LIST {
                return fail(K::TooLarge("propGrps"), &p);
            }
            if p.tag != SEQUENCE {
                return fail(K::Expected("PropertyParm"), &p);
            }
            let mut r = Reader::enter(p)?;
            let n = r.expect(ctx(0), "name")?;
            let letter = match n.octets("name")? {
                [0, 0, a, b] => names::sdp_letter(u16::from_be_bytes([*a, *b])),
                _ => None,
            };
            let Some(letter) = letter else {
                return fail(
                    K::Unsupported("a property other than SDP in Local or Remote"),
                    &n,
                );
            };
            let v = r.expect(ctx_c(1), "value")?;
            if let Some(x) = r.optional(ctx_c(2))? {
                return fail(K::Unsupported("extraInfo in a session description"), &x);
            }
            r.skip_extensions(3)?;
            let mut vr = Reader::enter(v)?;
            let value = vr.expect(OCTET_STRING, "value")?;
            vr.end("value")?;
            let text = std::str::from_utf8(value.octets("value")?)
                .ok()
                .filter(|t| !t.contains(['\n', '\r']) && t.trim_end() == *t);
            let Some(text) = text else {
                return fail(K::NotText("SDP value"), &value);
            };
            out.push_str(letter);
            out.push('=');
            names::escape_braces(text, out);
            out.push('\n');
        }
    }
    Ok(())
}
