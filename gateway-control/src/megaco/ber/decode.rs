//! The BER decoder: Annex A's ASN.1 module read into the message tree. Borrowing the input
//! and the [`Arena`]; bounded; never panics.

use std::fmt::Write as _;
use std::net::{Ipv4Addr, Ipv6Addr};

use tracing::trace;

mod descriptor;

use super::termid;
use super::tlv::{OCTET_STRING, Reader, SEQUENCE, Tlv, ctx, ctx_c};
use super::{Arena, MAX_LIST, MAX_MESSAGE, MAX_TRANSACTIONS};
use crate::megaco::text::Within;
use crate::megaco::{
    AckRange, ActionReply, ActionRequest, AuditItem, Body, Command, CommandRequest, ContextId,
    ContextProperty, Descriptor, ErrorCode, ErrorDescriptor, Message, MessageId, ReplyResult,
    TerminationId, Transaction, TransactionId, TransactionReply, TransactionRequest, Verb,
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
                if let Some(segment) = r.optional(ctx(3))? {
                    // Version 3's segmented replies: skipping the number would take one
                    // segment for the whole reply.
                    return fail(K::Unsupported("segmentNumber"), &segment);
                }
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
        if let Some(b) = r.optional(ctx(1))?
            && b.boolean("emergency")?
        {
            props.push(ContextProperty::Emergency);
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

/// `AuditDescriptor`: auditToken [0] BIT STRING OPTIONAL.
fn audit(e: Tlv<'_>) -> Result<Vec<AuditItem>> {
    let mut r = Reader::enter(e)?;
    let bits = match r.optional(ctx(0))? {
        Some(b) => b.bits("auditToken")?,
        None => 0,
    };
    if let Some(token) = r.optional(ctx_c(1))? {
        // Version 2's individual property audit changes what is audited.
        return fail(K::Unsupported("auditPropertyToken"), &token);
    }
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
