//! The MGCP parser (RFC 3435 §3, Appendix A grammar). Borrowing; bounded; never panics.
//!
//! A datagram is UTF-8 text of at most [`MAX_DATAGRAM`] bytes whose lines end with CRLF or LF
//! (the last one may lack its end). It holds one message or several separated by a line holding
//! only `.` (§3.5.5). A message is a first line (command or response), parameter lines
//! `Name: value` (names case-insensitive, whitespace around the value optional), and, after an
//! empty line, a session description (§3.5). Control characters other than horizontal tab are
//! rejected anywhere, so every slice handed out is printable text.

use tracing::trace;

use super::params::parse_param;
use super::{
    Command, EndpointName, MAX_DATAGRAM, MAX_MESSAGES, MAX_PARAMS, MAX_SDP_LINES, Message, Param,
    Response, ReturnCode, Sdp, SdpLine, TransactionId, Verb, Version,
};

/// Why a datagram could not be parsed, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("MGCP {kind} at byte {offset}")]
pub struct ParseError {
    /// What is wrong.
    pub kind: ParseErrorKind,
    /// Byte offset in the datagram where it was found.
    pub offset: usize,
    /// The transaction id, when the first line was readable far enough to find it, so that a
    /// command can still be answered (510, 528…) per RFC 3661.
    pub transaction: Option<TransactionId>,
    /// Whether the message that failed was a command (`Some(true)`), a response (`Some(false)`),
    /// or unknown.
    pub is_command: Option<bool>,
}

impl ParseError {
    /// How a receiver answers the failed message, if it can: only a command whose transaction id
    /// was read gets an answer — 528 (incompatible protocol version) for
    /// [`ParseErrorKind::Version`], 504 (unknown or unsupported command, RFC 3435 §2.4) for
    /// [`ParseErrorKind::UnknownVerb`], 510 (protocol error) for anything else. Responses and
    /// unreadable first lines are dropped.
    pub fn answer(&self) -> Option<(TransactionId, ReturnCode)> {
        if self.is_command != Some(true) {
            return None;
        }
        let code = match self.kind {
            ParseErrorKind::Version => ReturnCode::INCOMPATIBLE_VERSION,
            ParseErrorKind::UnknownVerb => ReturnCode::UNSUPPORTED_COMMAND,
            _ => ReturnCode::PROTOCOL_ERROR,
        };
        self.transaction.map(|t| (t, code))
    }
}

/// What is wrong with a datagram, grouped by what the receiver should answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Longer than [`super::MAX_DATAGRAM`], or a count limit exceeded.
    #[error("too large: {0}")]
    TooLarge(&'static str),
    /// Not UTF-8.
    #[error("not UTF-8 text")]
    NotText,
    /// A control character other than tab inside a line; a carriage return not followed by a
    /// line feed is one (RFC 3435 Appendix A: lines end with CRLF or LF).
    #[error("{}", control_text(*.0))]
    ControlCharacter(u8),
    /// The first line is missing or malformed.
    #[error("bad first line: {0}")]
    FirstLine(&'static str),
    /// The verb is not one of RFC 3435's (answer 510 if a transaction id was read).
    #[error("unknown verb")]
    UnknownVerb,
    /// The version is neither `MGCP 1.0` nor RFC 2705's `MGCP 0.1` (answer 528).
    #[error("unsupported protocol version")]
    Version,
    /// A parameter line is malformed; names the parameter.
    #[error("bad parameter {0}")]
    Param(&'static str),
    /// The session description is malformed.
    #[error("bad session description: {0}")]
    Sdp(&'static str),
    /// The datagram holds nothing.
    #[error("empty")]
    Empty,
}

fn control_text(byte: u8) -> String {
    if byte == b'\r' {
        "a carriage return without a line feed (lines end with CRLF or LF)".to_owned()
    } else {
        format!("control character 0x{byte:02X} inside a line")
    }
}

/// Whitespace inside a line (RFC 3435 Appendix A `WSP`).
pub(super) fn is_wsp(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `s` without leading and trailing `WSP`.
pub(super) fn trim_wsp(s: &str) -> &str {
    s.trim_matches(is_wsp)
}

/// The byte offset of `sub` inside `base`. `sub` is always a slice of `base` here; should it not
/// be, the answer saturates instead of panicking.
pub(super) fn offset_in(base: &str, sub: &str) -> usize {
    (sub.as_ptr() as usize)
        .saturating_sub(base.as_ptr() as usize)
        .min(base.len())
}

/// A parameter-level failure: what is wrong and the text where it is wrong (a slice of the
/// datagram, turned into an offset by the caller).
pub(super) struct Fault<'a> {
    pub(super) kind: ParseErrorKind,
    pub(super) at: &'a str,
}

impl<'a> Fault<'a> {
    pub(super) fn param(name: &'static str, at: &'a str) -> Self {
        Self {
            kind: ParseErrorKind::Param(name),
            at,
        }
    }

    pub(super) fn too_large(what: &'static str, at: &'a str) -> Self {
        Self {
            kind: ParseErrorKind::TooLarge(what),
            at,
        }
    }
}

/// One line of the datagram, without its line end.
#[derive(Clone, Copy)]
struct Line<'a> {
    text: &'a str,
}

/// Splits the datagram into lines (CRLF or LF), checking that each holds no control character.
struct Lines<'a> {
    base: &'a str,
    rest: &'a str,
}

impl<'a> Lines<'a> {
    fn new(base: &'a str) -> Self {
        Self { base, rest: base }
    }

    fn offset(&self) -> usize {
        offset_in(self.base, self.rest)
    }

    fn next_line(&mut self) -> Result<Option<Line<'a>>, ParseError> {
        if self.rest.is_empty() {
            return Ok(None);
        }
        let (raw, rest) = match self.rest.find('\n') {
            Some(i) => (&self.rest[..i], &self.rest[i + 1..]),
            None => (self.rest, ""),
        };
        self.rest = rest;
        let text = raw.strip_suffix('\r').unwrap_or(raw);
        if let Some(bad) = text
            .bytes()
            .position(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
        {
            return Err(ParseError {
                kind: ParseErrorKind::ControlCharacter(text.as_bytes()[bad]),
                offset: offset_in(self.base, text) + bad,
                transaction: None,
                is_command: None,
            });
        }
        Ok(Some(Line { text }))
    }
}

/// Parses one datagram into its messages (one, or several piggy-backed), all or nothing: the
/// first message that fails fails the datagram. A receiver uses [`parse_each`] instead, which
/// lets each piggy-backed message stand alone.
///
/// Errors name what is wrong and the byte offset where; when the failing message's first line
/// was readable as far as its transaction id, [`ParseError::transaction`] carries it so that the
/// command can be answered (504 for [`ParseErrorKind::UnknownVerb`], 510 for malformed
/// parameters, 528 for [`ParseErrorKind::Version`]).
pub fn parse(datagram: &[u8]) -> Result<Vec<Message<'_>>, ParseError> {
    parse_each(datagram)?.into_iter().collect()
}

/// Parses one datagram into its messages, each on its own (RFC 3435 §3.5.5: the messages of a
/// piggy-backed datagram are processed as if received one by one): a message that fails is an
/// `Err` in its place — answered on its own if it is a command ([`ParseError::answer`]) — and
/// the messages after it are still read, from the next `.` separator on.
///
/// The outer error is for the datagram as a whole: larger than [`MAX_DATAGRAM`], not UTF-8, or
/// more than [`MAX_MESSAGES`] messages.
///
/// In a response, a parameter line that does not follow the grammar (an empty `I:`, an `M:`
/// listing several modes) does not fail the message: it is kept raw as [`Param::Unread`], so
/// that what is understood of the response still counts.
///
/// [`Param::Unread`]: super::Param::Unread
pub fn parse_each(datagram: &[u8]) -> Result<Vec<Result<Message<'_>, ParseError>>, ParseError> {
    if datagram.len() > MAX_DATAGRAM {
        return Err(ParseError {
            kind: ParseErrorKind::TooLarge("datagram"),
            offset: MAX_DATAGRAM,
            transaction: None,
            is_command: None,
        });
    }
    let text = std::str::from_utf8(datagram).map_err(|e| ParseError {
        kind: ParseErrorKind::NotText,
        offset: e.valid_up_to(),
        transaction: None,
        is_command: None,
    })?;
    let mut lines = Lines::new(text);
    let mut messages = Vec::new();
    loop {
        if messages.len() >= MAX_MESSAGES {
            return Err(ParseError {
                kind: ParseErrorKind::TooLarge("messages"),
                offset: lines.offset(),
                transaction: None,
                is_command: None,
            });
        }
        let (message, more) = match parse_message(&mut lines) {
            Ok((message, more)) => {
                trace!(
                    transaction = message.transaction().0,
                    command = matches!(message, Message::Command(_)),
                    "mgcp message parsed"
                );
                (Ok(message), more)
            }
            Err(e) => (Err(e), skip_message(&mut lines)),
        };
        messages.push(message);
        if !more {
            return Ok(messages);
        }
    }
}

/// Skips what is left of a message that failed; returns whether a `.` separator announced
/// another one.
fn skip_message(lines: &mut Lines<'_>) -> bool {
    loop {
        match lines.next_line() {
            Ok(Some(line)) if line.text == "." => return true,
            Ok(None) => return false,
            // A line with a control character is skipped like any other.
            Ok(Some(_)) | Err(_) => {}
        }
    }
}

/// The first line, read.
enum Head<'a> {
    Command {
        verb: Verb,
        transaction: TransactionId,
        endpoint: EndpointName<'a>,
        version: Version<'a>,
    },
    Response {
        code: ReturnCode,
        transaction: TransactionId,
        package: Option<&'a str>,
        comment: &'a str,
    },
}

/// Parses one message; the flag says whether a `.` separator announced another one.
fn parse_message<'a>(lines: &mut Lines<'a>) -> Result<(Message<'a>, bool), ParseError> {
    let base = lines.base;
    let first = loop {
        match lines.next_line()? {
            Some(line) if trim_wsp(line.text).is_empty() => {}
            Some(line) => break line,
            None => {
                return Err(ParseError {
                    kind: ParseErrorKind::Empty,
                    offset: base.len(),
                    transaction: None,
                    is_command: None,
                });
            }
        }
    };
    let head = parse_head(base, first.text)?;
    let (transaction, is_command) = match &head {
        Head::Command { transaction, .. } => (*transaction, true),
        Head::Response { transaction, .. } => (*transaction, false),
    };
    let fail = |kind: ParseErrorKind, offset: usize| ParseError {
        kind,
        offset,
        transaction: Some(transaction),
        is_command: Some(is_command),
    };

    let mut params = Vec::new();
    let mut sdp_lines = Vec::new();
    let mut in_sdp = false;
    let mut more = false;
    while let Some(line) = lines.next_line()? {
        let text = line.text;
        if text == "." {
            more = true;
            break;
        }
        if in_sdp {
            if text.is_empty() {
                // A second description (AuditConnection's RemoteConnectionDescriptor) follows
                // an empty line; the lines are kept in one list.
                continue;
            }
            if sdp_lines.len() >= MAX_SDP_LINES {
                return Err(fail(
                    ParseErrorKind::TooLarge("session description lines"),
                    offset_in(base, text),
                ));
            }
            let sdp_line = parse_sdp_line(text)
                .map_err(|what| fail(ParseErrorKind::Sdp(what), offset_in(base, text)))?;
            sdp_lines.push(sdp_line);
        } else if trim_wsp(text).is_empty() {
            in_sdp = true;
        } else {
            if params.len() >= MAX_PARAMS {
                return Err(fail(
                    ParseErrorKind::TooLarge("parameters"),
                    offset_in(base, text),
                ));
            }
            let param = match parse_param(text) {
                Ok(param) => param,
                // RFC 3435 §3.5.x gives no licence for this, but real gateways answer with
                // an empty `I:`, an `M:` listing their modes, and the like: a response is
                // read for what it says, so a line outside the grammar is kept raw.
                Err(_) if !is_command => Param::Unread(text),
                Err(f) => return Err(fail(f.kind, offset_in(base, f.at))),
            };
            params.push(param);
        }
    }
    let sdp = if sdp_lines.is_empty() {
        None
    } else {
        Some(Sdp { lines: sdp_lines })
    };
    let message = match head {
        Head::Command {
            verb,
            transaction,
            endpoint,
            version,
        } => Message::Command(Command {
            verb,
            transaction,
            endpoint,
            version,
            params,
            sdp,
        }),
        Head::Response {
            code,
            transaction,
            package,
            comment,
        } => Message::Response(Response {
            code,
            transaction,
            package,
            comment,
            params,
            sdp,
        }),
    };
    Ok((message, more))
}

/// Splits off the first `WSP`-delimited token of `s` (which has no leading whitespace) and
/// returns it with the rest, leading whitespace removed.
fn token(s: &str) -> (&str, &str) {
    match s.find(is_wsp) {
        Some(i) => (&s[..i], s[i..].trim_start_matches(is_wsp)),
        None => (s, &s[s.len()..]),
    }
}

/// A transaction id: 1 to 9 digits, 1..=999,999,999 (§3.2.1.2).
pub(super) fn parse_transaction(s: &str) -> Option<TransactionId> {
    if s.is_empty() || s.len() > 9 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u32 = s.parse().ok()?;
    (n >= 1).then_some(TransactionId(n))
}

/// `local@domain` (§3.2.1.3): both parts non-empty, no whitespace, one `@`.
pub(super) fn parse_endpoint(s: &str) -> Option<EndpointName<'_>> {
    let (local, domain) = s.split_once('@')?;
    let ok = |part: &str| {
        !part.is_empty() && !part.contains(|c: char| c == '@' || c == ',' || is_wsp(c))
    };
    (ok(local) && ok(domain)).then_some(EndpointName { local, domain })
}

fn parse_verb(s: &str) -> Option<Verb> {
    Verb::ALL
        .into_iter()
        .find(|v| v.as_str().eq_ignore_ascii_case(s))
}

fn parse_head<'a>(base: &'a str, line: &'a str) -> Result<Head<'a>, ParseError> {
    let line = trim_wsp(line);
    let (first, rest) = token(line);
    let is_command = !first.bytes().all(|b| b.is_ascii_digit());
    let fail = |kind, at: &str, transaction| ParseError {
        kind,
        offset: offset_in(base, at),
        transaction,
        is_command: Some(is_command),
    };
    let (tx_text, rest) = token(rest);
    if !is_command {
        if first.len() != 3 {
            return Err(fail(
                ParseErrorKind::FirstLine("response code"),
                first,
                None,
            ));
        }
        let code = first
            .parse()
            .map(ReturnCode)
            .map_err(|_| fail(ParseErrorKind::FirstLine("response code"), first, None))?;
        let transaction = parse_transaction(tx_text)
            .ok_or_else(|| fail(ParseErrorKind::FirstLine("transaction id"), tx_text, None))?;
        let (package, comment) = match rest.strip_prefix('/') {
            Some(after) => {
                let (package, comment) = token(after);
                if package.is_empty() || package.contains('/') {
                    return Err(fail(
                        ParseErrorKind::FirstLine("package"),
                        rest,
                        Some(transaction),
                    ));
                }
                (Some(package), comment)
            }
            None => (None, rest),
        };
        return Ok(Head::Response {
            code,
            transaction,
            package,
            comment,
        });
    }

    let verb = parse_verb(first);
    let transaction = parse_transaction(tx_text);
    let Some(verb) = verb else {
        let kind = if first.len() == 4 && first.bytes().all(|b| b.is_ascii_alphanumeric()) {
            ParseErrorKind::UnknownVerb
        } else {
            ParseErrorKind::FirstLine("verb")
        };
        return Err(fail(kind, first, transaction));
    };
    let Some(transaction) = transaction else {
        return Err(fail(
            ParseErrorKind::FirstLine("transaction id"),
            tx_text,
            None,
        ));
    };
    let tx = Some(transaction);
    let (endpoint_text, rest) = token(rest);
    let endpoint = parse_endpoint(endpoint_text)
        .ok_or_else(|| fail(ParseErrorKind::FirstLine("endpoint"), endpoint_text, tx))?;
    let (protocol, rest) = token(rest);
    if protocol.is_empty() {
        return Err(fail(ParseErrorKind::FirstLine("version"), protocol, tx));
    }
    if !protocol.eq_ignore_ascii_case("MGCP") {
        return Err(fail(ParseErrorKind::Version, protocol, tx));
    }
    let (number, profile) = token(rest);
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let Some((major, minor)) = number
        .split_once('.')
        .filter(|(a, b)| digits(a) && digits(b))
    else {
        return Err(fail(ParseErrorKind::FirstLine("version"), number, tx));
    };
    // 1.0 is RFC 3435's; 0.1 is RFC 2705's, which Cisco IOS gateways still send on their
    // default `service-type mgcp version 0.1`: its commands and parameters are a subset of
    // 1.0's.
    let (major, minor) = match (major.parse::<u8>(), minor.parse::<u8>()) {
        (Ok(1), Ok(0)) => (1, 0),
        (Ok(0), Ok(1)) => (0, 1),
        _ => return Err(fail(ParseErrorKind::Version, number, tx)),
    };
    Ok(Head::Command {
        verb,
        transaction,
        endpoint,
        version: Version {
            major,
            minor,
            profile: (!profile.is_empty()).then_some(profile),
        },
    })
}

/// One `x=value` line of a session description: a letter, `=`, the rest raw.
pub(super) fn parse_sdp_line(text: &str) -> Result<SdpLine<'_>, &'static str> {
    let bytes = text.as_bytes();
    match bytes {
        [kind, b'=', ..] if kind.is_ascii_alphabetic() => Ok(SdpLine {
            kind: *kind,
            value: &text[2..],
        }),
        _ => Err("line is not type=value"),
    }
}
