//! The MEGACO text parser (H.248.1 Annex B grammar). Borrowing; bounded; never panics.
//!
//! One recursive-descent function per grammar rule, over a [`Cursor`] that skips `LWSP`
//! (whitespace, line ends, `;` comments) before every token. Keywords are matched
//! case-insensitively in either spelling, and only where the grammar expects them.

use std::net::{Ipv4Addr, Ipv6Addr};

use tracing::trace;

use super::tokens as t;
use super::{MAX_DEPTH, MAX_LIST, MAX_MESSAGE, MAX_TRANSACTIONS};
use crate::megaco::{
    AckRange, ActionReply, ActionRequest, Body, Command, CommandRequest, ContextId,
    ContextProperty, ErrorCode, Message, MessageId, ReplyResult, TerminationId, Transaction,
    TransactionId, TransactionReply, TransactionRequest, Verb,
};

/// Why a message could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MEGACO {kind} at byte {offset}")]
pub struct ParseError {
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// Byte offset in the message where it was found.
    pub offset: usize,
    /// The transaction being read when it failed, once its id was read.
    pub transaction: Option<TransactionId>,
    /// The part of the message being read.
    pub within: Within,
}

/// The part of a message a [`ParseError`] was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Within {
    /// The header, or between transactions.
    Message,
    /// A transaction request.
    Request,
    /// A transaction reply.
    Reply,
    /// A transaction pending.
    Pending,
    /// A transaction response ack.
    ResponseAck,
}

impl ParseError {
    /// The H.248.8 code that describes the failure: 501 (not implemented) for what the codec
    /// does not model, 443 and 444 for an unknown command or descriptor, otherwise the syntax
    /// error of the part it was found in — 400 (message), 401 (transaction request), 403
    /// (TransactionReply), 404 (TransactionPending) or 405 (TransactionResponseAck).
    pub fn code(&self) -> ErrorCode {
        match (self.kind, self.within) {
            (ParseErrorKind::Unsupported(_), _) => ErrorCode::NOT_IMPLEMENTED,
            (ParseErrorKind::UnknownCommand, _) => ErrorCode::UNKNOWN_COMMAND,
            (ParseErrorKind::UnknownDescriptor, _) => ErrorCode::UNKNOWN_DESCRIPTOR,
            (_, Within::Message) => ErrorCode::SYNTAX_ERROR_IN_MESSAGE,
            (_, Within::Request) => ErrorCode::SYNTAX_ERROR_IN_TRANSACTION,
            (_, Within::Reply) => ErrorCode::SYNTAX_ERROR_IN_REPLY,
            (_, Within::Pending) => ErrorCode::SYNTAX_ERROR_IN_PENDING,
            (_, Within::ResponseAck) => ErrorCode::SYNTAX_ERROR_IN_RESPONSE_ACK,
        }
    }

    /// How a receiver answers with a transaction reply, if it can: only a transaction request
    /// whose id was read is answered, with [`code`](Self::code). Anything else gets, at the
    /// caller's choice, a message-level `Error = 400` (H.248.1 §8.2.2) or nothing.
    pub fn answer(&self) -> Option<(TransactionId, ErrorCode)> {
        if self.within != Within::Request {
            return None;
        }
        self.transaction.map(|id| (id, self.code()))
    }
}

/// What is wrong with a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Larger than [`MAX_MESSAGE`](super::MAX_MESSAGE), or a count limit exceeded.
    #[error("too large: {0}")]
    TooLarge(&'static str),
    /// Braces nested deeper than [`MAX_DEPTH`](super::MAX_DEPTH).
    #[error("nested too deep")]
    TooDeep,
    /// Not UTF-8.
    #[error("not UTF-8 text")]
    NotText,
    /// Something else was found where the grammar wants this.
    #[error("expected {0}")]
    Expected(&'static str),
    /// A word that is not one of the grammar's tokens for this place.
    #[error("unknown {0}")]
    Unknown(&'static str),
    /// A command that is not one of H.248.1 §7.2's (answered with 443).
    #[error("unknown command")]
    UnknownCommand,
    /// A descriptor that is not one of H.248.1 §7.1's (answered with 444).
    #[error("unknown descriptor")]
    UnknownDescriptor,
    /// A number out of its range.
    #[error("{0} out of range")]
    Range(&'static str),
    /// A quoted string or a braced text without its end.
    #[error("unterminated {0}")]
    Unterminated(&'static str),
    /// Valid H.248.1 the codec does not model (see the module docs of `megaco`).
    #[error("unsupported {0}")]
    Unsupported(&'static str),
}

pub(super) type Result<T> = std::result::Result<T, ParseError>;

/// Parses one message.
///
/// Errors name what is wrong and the byte offset where; inside a transaction they carry its id
/// ([`ParseError::answer`]).
pub fn parse(input: &[u8]) -> Result<Message<'_>> {
    let fail = |kind, offset| ParseError {
        kind,
        offset,
        transaction: None,
        within: Within::Message,
    };
    if input.len() > MAX_MESSAGE {
        return Err(fail(ParseErrorKind::TooLarge("message"), MAX_MESSAGE));
    }
    let text =
        std::str::from_utf8(input).map_err(|e| fail(ParseErrorKind::NotText, e.valid_up_to()))?;
    let mut c = Cursor {
        text,
        pos: 0,
        depth: 0,
        transaction: None,
        within: Within::Message,
    };
    let message = c.message()?;
    trace!(version = message.version, "megaco message parsed");
    Ok(message)
}

/// A position in the message, and what the errors need to know.
pub(super) struct Cursor<'a> {
    text: &'a str,
    pub(super) pos: usize,
    pub(super) depth: usize,
    transaction: Option<TransactionId>,
    within: Within,
}

/// `SafeChar` of Annex B: the characters of an unquoted `VALUE`.
fn is_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"+-&!_/'?@^`~*$\\()%|.".contains(&b)
}

/// The characters of names, ids and numbers: a narrower set than `SafeChar`, so that a
/// name never swallows a parameter's value.
fn is_name(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"_/*$@.+-".contains(&b)
}

/// `yyyymmddThhmmsshh` (Annex B `TimeStamp`).
pub(super) fn is_timestamp(w: &str) -> bool {
    let b = w.as_bytes();
    b.len() == 17
        && (b[8] == b'T' || b[8] == b't')
        && b[..8].iter().chain(&b[9..]).all(u8::is_ascii_digit)
}

/// An extension name, `X-…` or `X+…`.
pub(super) fn is_extension(w: &str) -> bool {
    let b = w.as_bytes();
    b.len() > 2 && (b[0] == b'X' || b[0] == b'x') && (b[1] == b'-' || b[1] == b'+')
}

impl<'a> Cursor<'a> {
    pub(super) fn fail_at(&self, kind: ParseErrorKind, offset: usize) -> ParseError {
        ParseError {
            kind,
            offset,
            transaction: self.transaction,
            within: self.within,
        }
    }

    pub(super) fn fail(&self, kind: ParseErrorKind) -> ParseError {
        self.fail_at(kind, self.pos)
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Skips `LWSP`: spaces, tabs, line ends and comments.
    pub(super) fn lwsp(&mut self) {
        let bytes = self.text.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => self.pos += 1,
                b';' => {
                    self.pos = match bytes[self.pos..].iter().position(|&b| b == b'\n') {
                        Some(i) => self.pos + i + 1,
                        None => bytes.len(),
                    };
                }
                _ => break,
            }
        }
    }

    /// Skips `LWSP`, then takes `b` if it is next.
    pub(super) fn eat(&mut self, b: u8) -> bool {
        self.lwsp();
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    pub(super) fn expect(&mut self, b: u8, what: &'static str) -> Result<()> {
        if self.eat(b) {
            Ok(())
        } else {
            Err(self.fail(ParseErrorKind::Expected(what)))
        }
    }

    pub(super) fn equal(&mut self) -> Result<()> {
        self.expect(b'=', "`=`")
    }

    /// Whether `{` comes next (without taking it).
    pub(super) fn at_open(&mut self) -> bool {
        self.lwsp();
        self.peek() == Some(b'{')
    }

    /// The next run of name characters, after `LWSP`; its start offset.
    pub(super) fn word(&mut self) -> (&'a str, usize) {
        self.lwsp();
        let start = self.pos;
        let len = self.text.as_bytes()[start..]
            .iter()
            .position(|&b| !is_name(b))
            .unwrap_or(self.text.len() - start);
        self.pos += len;
        (&self.text[start..start + len], start)
    }

    /// A non-empty word.
    pub(super) fn name(&mut self, what: &'static str) -> Result<(&'a str, usize)> {
        let (w, at) = self.word();
        if w.is_empty() {
            return Err(self.fail_at(ParseErrorKind::Expected(what), at));
        }
        Ok((w, at))
    }

    /// The next word, without taking it.
    pub(super) fn peek_word(&mut self) -> &'a str {
        let pos = self.pos;
        let (w, _) = self.word();
        self.pos = pos;
        w
    }

    pub(super) fn u32(&mut self, what: &'static str) -> Result<u32> {
        let (w, at) = self.word();
        if w.is_empty() || !w.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.fail_at(ParseErrorKind::Expected(what), at));
        }
        w.parse()
            .map_err(|_| self.fail_at(ParseErrorKind::Range(what), at))
    }

    pub(super) fn u16(&mut self, what: &'static str) -> Result<u16> {
        let at = {
            self.lwsp();
            self.pos
        };
        let n = self.u32(what)?;
        u16::try_from(n).map_err(|_| self.fail_at(ParseErrorKind::Range(what), at))
    }

    /// A version number: one or two digits.
    pub(super) fn version(&mut self) -> Result<u8> {
        let (w, at) = self.word();
        if w.is_empty() || w.len() > 2 || !w.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.fail_at(ParseErrorKind::Expected("version"), at));
        }
        w.parse()
            .map_err(|_| self.fail_at(ParseErrorKind::Range("version"), at))
    }

    /// `VALUE`: a quoted string (kept with its quotes) or a run of `SafeChar`.
    pub(super) fn value(&mut self) -> Result<&'a str> {
        self.lwsp();
        let start = self.pos;
        let bytes = self.text.as_bytes();
        if self.peek() == Some(b'"') {
            let Some(len) = bytes[start + 1..].iter().position(|&b| b == b'"') else {
                return Err(self.fail(ParseErrorKind::Unterminated("quoted string")));
            };
            self.pos = start + len + 2;
            return Ok(&self.text[start..self.pos]);
        }
        let len = bytes[start..]
            .iter()
            .position(|&b| !is_safe(b))
            .unwrap_or(bytes.len() - start);
        if len == 0 {
            return Err(self.fail(ParseErrorKind::Expected("value")));
        }
        self.pos += len;
        Ok(&self.text[start..self.pos])
    }

    /// `{`, counting depth.
    pub(super) fn open(&mut self) -> Result<()> {
        self.expect(b'{', "`{`")?;
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.fail(ParseErrorKind::TooDeep));
        }
        Ok(())
    }

    /// `{ item, item… }`: `f` reads one item.
    pub(super) fn braced<T>(
        &mut self,
        what: &'static str,
        allow_empty: bool,
        mut f: impl FnMut(&mut Self) -> Result<T>,
    ) -> Result<Vec<T>> {
        self.open()?;
        let mut items = Vec::new();
        if self.eat(b'}') {
            if !allow_empty {
                return Err(self.fail_at(ParseErrorKind::Expected(what), self.pos - 1));
            }
        } else {
            loop {
                if items.len() >= MAX_LIST {
                    return Err(self.fail(ParseErrorKind::TooLarge(what)));
                }
                items.push(f(self)?);
                if self.eat(b',') {
                    continue;
                }
                self.expect(b'}', "`,` or `}`")?;
                break;
            }
        }
        self.depth -= 1;
        Ok(items)
    }

    /// `{ text }` with the text taken as written: up to the first `}` not escaped as `\}`
    /// (Annex B `octetString`), or, when `nested`, up to the matching `}`, skipping quoted
    /// strings.
    pub(super) fn raw(&mut self, what: &'static str, nested: bool) -> Result<&'a str> {
        self.expect(b'{', "`{`")?;
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let mut i = start;
        let mut depth = 0usize;
        while let Some(&b) = bytes.get(i) {
            match b {
                b'\\' if !nested && bytes.get(i + 1) == Some(&b'}') => i += 1,
                b'"' if nested => match bytes[i + 1..].iter().position(|&b| b == b'"') {
                    Some(len) => i += len + 1,
                    None => break,
                },
                b'{' if nested => {
                    depth += 1;
                    if self.depth + depth > MAX_DEPTH {
                        return Err(self.fail_at(ParseErrorKind::TooDeep, i));
                    }
                }
                b'}' if depth == 0 => {
                    self.pos = i + 1;
                    return Ok(&self.text[start..i]);
                }
                b'}' => depth -= 1,
                _ => {}
            }
            i += 1;
        }
        Err(self.fail_at(ParseErrorKind::Unterminated(what), start))
    }

    // The grammar, from the top.

    fn message(&mut self) -> Result<Message<'a>> {
        self.lwsp();
        if self.peek() == Some(b'!') {
            self.pos += 1;
        } else {
            let start = self.pos;
            let len = self.text.as_bytes()[start..]
                .iter()
                .position(|b| !b.is_ascii_alphabetic())
                .unwrap_or(self.text.len() - start);
            let word = &self.text[start..start + len];
            if t::AUTHENTICATION.is(word) {
                return Err(
                    self.fail_at(ParseErrorKind::Unsupported("authentication header"), start)
                );
            }
            if !word.eq_ignore_ascii_case(t::MEGACO.0) {
                return Err(self.fail_at(ParseErrorKind::Expected("`MEGACO/` or `!/`"), start));
            }
            self.pos += len;
        }
        if self.peek() != Some(b'/') {
            return Err(self.fail(ParseErrorKind::Expected("`/`")));
        }
        self.pos += 1;
        if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
            return Err(self.fail(ParseErrorKind::Expected("version")));
        }
        let version = self.version()?;
        self.sep()?;
        let mid = self.mid()?;
        self.sep()?;
        let body = if t::ERROR.is(self.peek_word()) {
            self.word();
            Body::Error(self.error_descriptor()?)
        } else {
            let mut transactions = Vec::new();
            loop {
                self.lwsp();
                if self.pos >= self.text.len() {
                    break;
                }
                if transactions.len() >= MAX_TRANSACTIONS {
                    return Err(self.fail(ParseErrorKind::TooLarge("transactions")));
                }
                transactions.push(self.transaction()?);
            }
            if transactions.is_empty() {
                return Err(self.fail(ParseErrorKind::Expected("transaction")));
            }
            Body::Transactions(transactions)
        };
        self.lwsp();
        if self.pos < self.text.len() {
            return Err(self.fail(ParseErrorKind::Expected("end of message")));
        }
        Ok(Message { version, mid, body })
    }

    /// `SEP`: at least one space, line end or comment.
    fn sep(&mut self) -> Result<()> {
        if !matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n' | b';')) {
            return Err(self.fail(ParseErrorKind::Expected("separator")));
        }
        self.lwsp();
        Ok(())
    }

    /// `mId`.
    pub(super) fn mid(&mut self) -> Result<MessageId<'a>> {
        self.lwsp();
        let start = self.pos;
        let bytes = self.text.as_bytes();
        let close = match self.peek() {
            Some(b'[') => b']',
            Some(b'<') => b'>',
            _ => {
                let (w, at) = self.name("mId")?;
                if t::MTP.is(w) && self.at_open() {
                    // LBRKT and RBRKT take white space on both sides; OTP writes `MTP { 0A1B }`.
                    let hex = self
                        .raw("MTP address", false)?
                        .trim_matches([' ', '\t', '\r', '\n']);
                    let ok =
                        (4..=8).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit());
                    if !ok {
                        return Err(self.fail_at(ParseErrorKind::Expected("MTP address"), at));
                    }
                    return Ok(MessageId::Mtp(hex));
                }
                if !w.as_bytes()[0].is_ascii_alphabetic() && w.as_bytes()[0] != b'*' {
                    return Err(self.fail_at(ParseErrorKind::Expected("mId"), at));
                }
                return Ok(MessageId::Device(w));
            }
        };
        let Some(len) = bytes[start + 1..].iter().position(|&b| b == close) else {
            return Err(self.fail(ParseErrorKind::Unterminated("mId")));
        };
        let inner = &self.text[start + 1..start + 1 + len];
        self.pos = start + len + 2;
        let port = if self.peek() == Some(b':') {
            self.pos += 1;
            if !self.peek().is_some_and(|b| b.is_ascii_digit()) {
                return Err(self.fail(ParseErrorKind::Expected("port")));
            }
            Some(self.u16("port")?)
        } else {
            None
        };
        let bad = |what| self.fail_at(ParseErrorKind::Expected(what), start + 1);
        if close == b'>' {
            let ok = !inner.is_empty()
                && inner.len() <= 64
                && inner.as_bytes()[0].is_ascii_alphanumeric()
                && inner
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
            return if ok {
                Ok(MessageId::Domain(inner, port))
            } else {
                Err(bad("domain name"))
            };
        }
        if inner.contains(':') {
            let addr: Ipv6Addr = inner.parse().map_err(|_| bad("IPv6 address"))?;
            Ok(MessageId::Ip6(addr, port))
        } else {
            let addr: Ipv4Addr = inner.parse().map_err(|_| bad("IPv4 address"))?;
            Ok(MessageId::Ip4(addr, port))
        }
    }

    fn transaction_id(&mut self) -> Result<TransactionId> {
        self.equal()?;
        Ok(TransactionId(self.u32("transaction id")?))
    }

    fn transaction(&mut self) -> Result<Transaction<'a>> {
        self.transaction = None;
        self.within = Within::Message;
        let (w, at) = self.word();
        if t::TRANSACTION.is(w) {
            self.within = Within::Request;
            let id = self.transaction_id()?;
            self.transaction = Some(id);
            let actions = self.braced("action", false, Self::action_request)?;
            Ok(Transaction::Request(TransactionRequest { id, actions }))
        } else if t::REPLY.is(w) {
            self.within = Within::Reply;
            let id = self.transaction_id()?;
            self.transaction = Some(id);
            self.open()?;
            let imm_ack_required = t::IMM_ACK_REQUIRED.is(self.peek_word());
            if imm_ack_required {
                self.word();
                if !self.eat(b',') {
                    self.expect(b'}', "`,` or `}`")?;
                    self.depth -= 1;
                    return Ok(Transaction::Reply(TransactionReply {
                        id,
                        imm_ack_required,
                        result: ReplyResult::Actions(Vec::new()),
                    }));
                }
            }
            let result = if t::ERROR.is(self.peek_word()) {
                self.word();
                let error = self.error_descriptor()?;
                self.expect(b'}', "`}`")?;
                ReplyResult::Error(error)
            } else if !imm_ack_required && self.eat(b'}') {
                ReplyResult::Actions(Vec::new())
            } else {
                let mut actions = Vec::new();
                loop {
                    if actions.len() >= MAX_LIST {
                        return Err(self.fail(ParseErrorKind::TooLarge("action replies")));
                    }
                    actions.push(self.action_reply()?);
                    if !self.eat(b',') {
                        break;
                    }
                }
                self.expect(b'}', "`,` or `}`")?;
                ReplyResult::Actions(actions)
            };
            self.depth -= 1;
            Ok(Transaction::Reply(TransactionReply {
                id,
                imm_ack_required,
                result,
            }))
        } else if t::PENDING.is(w) {
            self.within = Within::Pending;
            let id = self.transaction_id()?;
            self.transaction = Some(id);
            self.open()?;
            self.expect(b'}', "`}`")?;
            self.depth -= 1;
            Ok(Transaction::Pending(id))
        } else if t::RESPONSE_ACK.is(w) {
            self.within = Within::ResponseAck;
            let ranges = self.braced("transaction ranges", false, Self::ack_range)?;
            Ok(Transaction::ResponseAck(ranges))
        } else if w.is_empty() {
            Err(self.fail_at(ParseErrorKind::Expected("transaction"), at))
        } else {
            Err(self.fail_at(ParseErrorKind::Unknown("transaction"), at))
        }
    }

    fn ack_range(&mut self) -> Result<AckRange> {
        let (w, at) = self.name("transaction id")?;
        let id = |s: &str| {
            (!s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()))
                .then(|| s.parse().ok().map(TransactionId))
                .flatten()
        };
        let (first, last) = match w.split_once('-') {
            Some((a, b)) => (id(a), id(b)),
            None => (id(w), id(w)),
        };
        match (first, last) {
            (Some(first), Some(last)) => Ok(AckRange { first, last }),
            _ => Err(self.fail_at(ParseErrorKind::Expected("transaction id range"), at)),
        }
    }

    fn context_id(&mut self) -> Result<ContextId> {
        self.equal()?;
        let (w, at) = self.word();
        Ok(match w {
            "-" => ContextId::Null,
            "$" => ContextId::Choose,
            "*" => ContextId::All,
            _ if !w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()) => ContextId::Number(
                w.parse()
                    .map_err(|_| self.fail_at(ParseErrorKind::Range("context id"), at))?,
            ),
            _ => return Err(self.fail_at(ParseErrorKind::Expected("context id"), at)),
        })
    }

    /// A context property, if the word is one.
    fn context_property(&mut self, w: &str, at: usize) -> Result<Option<ContextProperty>> {
        if t::PRIORITY.is(w) {
            self.equal()?;
            Ok(Some(ContextProperty::Priority(self.u16("priority")?)))
        } else if t::EMERGENCY.is(w) {
            Ok(Some(ContextProperty::Emergency))
        } else if t::TOPOLOGY.is(w) || t::CONTEXT_AUDIT.is(w) {
            Err(self.fail_at(ParseErrorKind::Unsupported("context descriptor"), at))
        } else {
            Ok(None)
        }
    }

    fn action_request(&mut self) -> Result<ActionRequest<'a>> {
        let (w, at) = self.word();
        if !t::CONTEXT.is(w) {
            return Err(self.fail_at(ParseErrorKind::Expected("`Context`"), at));
        }
        let context = self.context_id()?;
        let mut properties = Vec::new();
        let mut commands = Vec::new();
        self.braced("command", true, |c| {
            let (w, at) = c.name("command")?;
            match c.context_property(w, at)? {
                Some(p) => properties.push(p),
                None => commands.push(c.command_request(w, at)?),
            }
            Ok(())
        })?;
        Ok(ActionRequest {
            context,
            properties,
            commands,
        })
    }

    fn action_reply(&mut self) -> Result<ActionReply<'a>> {
        let (w, at) = self.word();
        if !t::CONTEXT.is(w) {
            return Err(self.fail_at(ParseErrorKind::Expected("`Context`"), at));
        }
        let context = self.context_id()?;
        let mut properties = Vec::new();
        let mut commands = Vec::new();
        let mut error = None;
        self.braced("command reply", true, |c| {
            let (w, at) = c.name("command reply")?;
            if error.is_some() {
                // The error descriptor ends an action reply.
                return Err(c.fail_at(ParseErrorKind::Expected("`}`"), at));
            }
            if t::ERROR.is(w) {
                error = Some(c.error_descriptor()?);
            } else if let Some(p) = c.context_property(w, at)? {
                properties.push(p);
            } else {
                commands.push(c.command(w, at)?);
            }
            Ok(())
        })?;
        Ok(ActionReply {
            context,
            properties,
            commands,
            error,
        })
    }

    fn command_request(&mut self, w: &'a str, at: usize) -> Result<CommandRequest<'a>> {
        let mut rest = w;
        let mut prefix = |p: &str| {
            let found = rest.len() > 2 && rest[..2].eq_ignore_ascii_case(p);
            if found {
                rest = &rest[2..];
            }
            found
        };
        let optional = prefix("O-");
        let wildcard_reply = prefix("W-");
        let command = self.command(rest, at + (w.len() - rest.len()))?;
        Ok(CommandRequest {
            optional,
            wildcard_reply,
            command,
        })
    }

    /// `Verb = TerminationID [{ descriptors }]`, the verb already read.
    fn command(&mut self, w: &str, at: usize) -> Result<Command<'a>> {
        let verb = [
            (t::ADD, Verb::Add),
            (t::MODIFY, Verb::Modify),
            (t::SUBTRACT, Verb::Subtract),
            (t::MOVE, Verb::Move),
            (t::AUDIT_VALUE, Verb::AuditValue),
            (t::AUDIT_CAP, Verb::AuditCapabilities),
            (t::NOTIFY, Verb::Notify),
            (t::SERVICE_CHANGE, Verb::ServiceChange),
        ]
        .into_iter()
        .find_map(|(tok, verb)| tok.is(w).then_some(verb))
        .ok_or_else(|| self.fail_at(ParseErrorKind::UnknownCommand, at))?;
        self.equal()?;
        let (termination, _) = self.name("termination id")?;
        let descriptors = if self.at_open() {
            self.braced("descriptor", true, Self::descriptor)?
        } else {
            Vec::new()
        };
        Ok(Command {
            verb,
            termination: TerminationId(termination),
            descriptors,
        })
    }
}
