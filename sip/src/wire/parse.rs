//! The SIP message parser (RFC 3261 §7, §25). Bounded; never panics; copies out.
//!
//! A message is a start line, header lines (CRLF or bare LF ends a line; a line starting with
//! SP or HTAB continues the previous one and is unfolded to one SP, §7.3.1), an empty line,
//! and a body of `Content-Length` bytes. CRLFs before the start line are skipped (§7.5). On a
//! datagram a missing Content-Length means "the rest of the datagram" (§18.3); bytes beyond
//! Content-Length are ignored (RFC 4475 §3.1.1.8). Every parsed message carries exactly one
//! Content-Length, equal to its body's length, so that `parse(encode(m)) == m`.
//!
//! Checked here, beyond the syntax of the lines: the start line; the top Via, From, To, CSeq
//! and every Contact parse; Call-ID is present; the CSeq method is the request's (RFC 4475
//! §3.1.2.17); Max-Forwards is at most 255; Content-Length values agree; the number of Via
//! values is at most [`MAX_VIA`]. Other headers are kept as text for whoever reads them.

use std::fmt;

use super::addr::{self, err, is_token, split_list};
use super::{
    Answer, HeaderName, Headers, MAX_HEADERS, MAX_MESSAGE, MAX_VIA, Message, Method, ParseError,
    ParseErrorKind, Request, Response,
};

/// One line: its offset, its text without the line end, the offset of the next line, and
/// whether it had a line end.
fn next_line(bytes: &[u8], pos: usize) -> Option<(usize, &[u8], usize, bool)> {
    let rest = bytes.get(pos..).filter(|r| !r.is_empty())?;
    Some(match rest.iter().position(|&b| b == b'\n') {
        Some(i) => {
            let line = &rest[..i];
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            (pos, line, pos + i + 1, true)
        }
        None => (pos, rest, bytes.len(), false),
    })
}

fn skip_leading_crlf(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .position(|&b| b != b'\r' && b != b'\n')
        .unwrap_or(bytes.len())
}

/// The start line and the unfolded header lines (offset, text), and where the body starts.
struct Lines {
    start: (usize, String),
    headers: Vec<(usize, String)>,
    body_start: usize,
}

fn text<'a>(line: &'a [u8], field: &'static str, at: usize) -> Result<&'a str, ParseError> {
    let s = std::str::from_utf8(line)
        .map_err(|e| err(ParseErrorKind::NotUtf8, field, at + e.valid_up_to()))?;
    match s.find('\r') {
        Some(i) => Err(err(ParseErrorKind::Header, field, at + i)),
        None => Ok(s),
    }
}

fn split_lines(bytes: &[u8]) -> Result<Lines, ParseError> {
    let mut pos = skip_leading_crlf(bytes);
    let (at, line, next, _) =
        next_line(bytes, pos).ok_or_else(|| err(ParseErrorKind::StartLine, "start line", pos))?;
    let start = (at, text(line, "start line", at)?.to_string());
    pos = next;
    let mut headers: Vec<(usize, String)> = Vec::new();
    let body_start = loop {
        let Some((at, line, next, ended)) = next_line(bytes, pos) else {
            break bytes.len();
        };
        pos = next;
        if line.is_empty() {
            if ended {
                break next;
            }
            break bytes.len();
        }
        let s = text(line, "header", at)?;
        if s.starts_with([' ', '\t']) {
            let Some((_, last)) = headers.last_mut() else {
                return Err(err(ParseErrorKind::Header, "header", at));
            };
            last.push(' ');
            last.push_str(s.trim_matches([' ', '\t']));
            continue;
        }
        if headers.len() == MAX_HEADERS {
            return Err(err(ParseErrorKind::TooMany, "header", at));
        }
        headers.push((at, s.to_string()));
    };
    Ok(Lines {
        start,
        headers,
        body_start,
    })
}

/// Parses one whole message: a UDP datagram or a message framed by
/// [`StreamFramer`](super::StreamFramer).
pub fn parse(bytes: &[u8]) -> Result<Message, ParseError> {
    parse_message(bytes).map_err(|mut e| {
        e.answerable = essentials(bytes).is_some();
        e
    })
}

fn parse_message(bytes: &[u8]) -> Result<Message, ParseError> {
    if bytes.len() > MAX_MESSAGE {
        return Err(err(ParseErrorKind::TooLarge, "message", MAX_MESSAGE));
    }
    let lines = split_lines(bytes)?;
    let (start_at, start) = &lines.start;
    let start_at = *start_at;

    let mut headers = Headers::new();
    let mut offsets = Vec::with_capacity(lines.headers.len());
    for (at, line) in &lines.headers {
        let colon = line
            .find(':')
            .ok_or_else(|| err(ParseErrorKind::Header, "header", *at))?;
        let name = line[..colon].trim_end_matches([' ', '\t']);
        if !is_token(name) {
            return Err(err(ParseErrorKind::Header, "header", *at));
        }
        let raw = &line[colon + 1..];
        let value = raw.trim_matches([' ', '\t']);
        let value_at = at + colon + 1 + (raw.len() - raw.trim_start_matches([' ', '\t']).len());
        headers.push(HeaderName::parse(name), value);
        offsets.push(value_at);
    }
    check_headers(&headers, &offsets)?;
    let cseq_at = headers
        .iter()
        .zip(&offsets)
        .find(|((n, _), _)| **n == HeaderName::CSeq)
        .map_or(0, |(_, &o)| o);
    let body = body(bytes, &mut headers, &offsets, lines.body_start)?;

    let message = if let Some(rest) = start.strip_prefix("SIP/") {
        let bad = |i: usize| err(ParseErrorKind::StartLine, "status line", start_at + i);
        let (version, rest) = rest.split_once(' ').ok_or_else(|| bad(0))?;
        if version != "2.0" {
            return Err(err(ParseErrorKind::Version, "status line", start_at));
        }
        let (code, reason) = rest.split_once(' ').unwrap_or((rest, ""));
        if code.len() != 3 || !code.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad(8));
        }
        let status: u16 = code.parse().map_err(|_| bad(8))?;
        if !(100..=699).contains(&status) {
            return Err(bad(8));
        }
        Message::Response(Response {
            status,
            reason: reason.to_string(),
            headers,
            body,
        })
    } else {
        let bad = |i: usize| err(ParseErrorKind::StartLine, "request line", start_at + i);
        let parts: Vec<&str> = start.splitn(4, ' ').collect();
        let [method, uri, version] = parts[..] else {
            return Err(bad(0));
        };
        let version_at = method.len() + uri.len() + 2;
        match version.strip_prefix("SIP/") {
            Some("2.0") => {}
            Some(_) => {
                return Err(err(
                    ParseErrorKind::Version,
                    "request line",
                    start_at + version_at,
                ));
            }
            None => return Err(bad(version_at)),
        }
        if !is_token(method) {
            return Err(bad(0));
        }
        let method = Method::from_token(method);
        let uri = addr::parse_uri(uri, "Request-URI", start_at + method.as_str().len() + 1)?;
        let cseq = headers.cseq().map_err(|e| at_field(e, cseq_at))?;
        if cseq.method != method {
            return Err(err(ParseErrorKind::MethodMismatch, "CSeq", cseq_at));
        }
        Message::Request(Request {
            method,
            uri,
            headers,
            body,
        })
    };
    Ok(message)
}

/// Moves an error from a header value's own offsets to the message's.
fn at_field(mut e: ParseError, base: usize) -> ParseError {
    e.offset += base;
    e
}

/// Reads the body per Content-Length and leaves exactly one Content-Length, equal to its
/// length, at the first one's place (or last).
fn body(
    bytes: &[u8],
    headers: &mut Headers,
    offsets: &[usize],
    body_start: usize,
) -> Result<Vec<u8>, ParseError> {
    const F: &str = "Content-Length";
    let available = bytes.len().saturating_sub(body_start);
    let mut length = None;
    for ((name, value), &at) in headers.iter().zip(offsets) {
        if *name != HeaderName::ContentLength {
            continue;
        }
        if value.starts_with('-') || value.is_empty() || !value.bytes().all(|c| c.is_ascii_digit())
        {
            return Err(err(ParseErrorKind::ContentLength, F, at));
        }
        let digits = value.trim_start_matches('0');
        let n = if digits.len() > 6 {
            usize::MAX
        } else {
            digits.parse().unwrap_or(0)
        };
        if n > MAX_MESSAGE {
            return Err(err(ParseErrorKind::BodyTooLarge, F, at));
        }
        if length.is_some_and(|l| l != n) {
            return Err(err(ParseErrorKind::ContentLength, F, at));
        }
        length = Some(n);
    }
    if length.is_none() && headers.len() >= MAX_HEADERS {
        // No room for the Content-Length every parsed message carries.
        return Err(err(ParseErrorKind::TooMany, "header", body_start));
    }
    let n = length.unwrap_or(available);
    if n > available {
        let at = headers
            .iter()
            .zip(offsets)
            .find(|((h, _), _)| **h == HeaderName::ContentLength);
        return Err(err(
            ParseErrorKind::Truncated,
            F,
            at.map_or(body_start, |(_, &o)| o),
        ));
    }
    headers.set(HeaderName::ContentLength, n.to_string());
    Ok(bytes[body_start..body_start + n].to_vec())
}

fn check_headers(headers: &Headers, offsets: &[usize]) -> Result<(), ParseError> {
    let at_of = |name: &HeaderName| {
        headers
            .iter()
            .zip(offsets)
            .find(|((n, _), _)| *n == name)
            .map_or(0, |(_, &o)| o)
    };
    let value = |name: &HeaderName, field: &'static str| {
        headers
            .get(name)
            .ok_or_else(|| err(ParseErrorKind::Missing, field, 0))
    };
    let mut vias = 0;
    for ((name, v), &at) in headers.iter().zip(offsets) {
        if *name == HeaderName::Via {
            vias += split_list(v).len();
            if vias > MAX_VIA {
                return Err(err(ParseErrorKind::TooMany, "Via", at));
            }
        }
    }
    let via = value(&HeaderName::Via, "Via")?;
    let (i, top) = split_list(via).into_iter().next().unwrap_or((0, ""));
    addr::parse_via(top, at_of(&HeaderName::Via) + i)?;
    for ((name, v), &at) in headers.iter().zip(offsets) {
        if *name == HeaderName::Contact {
            for (i, c) in split_list(v) {
                addr::parse_contact(c, at + i)?;
            }
        }
    }
    for (name, field) in [(HeaderName::From, "From"), (HeaderName::To, "To")] {
        addr::parse_name_addr(value(&name, field)?, field, at_of(&name))?;
    }
    if value(&HeaderName::CallId, "Call-ID")?.is_empty() {
        return Err(err(
            ParseErrorKind::Missing,
            "Call-ID",
            at_of(&HeaderName::CallId),
        ));
    }
    addr::parse_cseq(value(&HeaderName::CSeq, "CSeq")?, at_of(&HeaderName::CSeq))?;
    if let Some(mf) = headers.get(&HeaderName::MaxForwards) {
        let significant = mf.trim_start_matches('0').len();
        let ok = !mf.is_empty() && mf.bytes().all(|c| c.is_ascii_digit()) && significant <= 3;
        if !ok || mf.parse::<u32>().map_or(true, |n| n > 255) {
            return Err(err(
                ParseErrorKind::Header,
                "Max-Forwards",
                at_of(&HeaderName::MaxForwards),
            ));
        }
    }
    Ok(())
}

/// The headers a response to a broken request copies, read leniently.
struct Essentials {
    vias: Vec<String>,
    from: String,
    to: String,
    call_id: String,
    cseq: String,
}

/// Reads Via, From, To, Call-ID and CSeq from a request whose request line is readable
/// (`token SP … SP SIP/…`), however broken the rest.
fn essentials(bytes: &[u8]) -> Option<Essentials> {
    let bytes = bytes.get(..MAX_MESSAGE).unwrap_or(bytes);
    let pos = skip_leading_crlf(bytes);
    let (_, line, mut pos, _) = next_line(bytes, pos)?;
    let line = std::str::from_utf8(line).ok()?.trim_end();
    let (method, rest) = line.split_once(' ')?;
    if !is_token(method) || !rest.rsplit(' ').next()?.starts_with("SIP/") {
        return None;
    }
    let mut lines: Vec<String> = Vec::new();
    while let Some((_, line, next, _)) = next_line(bytes, pos) {
        pos = next;
        if line.is_empty() || lines.len() > MAX_HEADERS {
            break;
        }
        let s = String::from_utf8_lossy(line);
        match lines.last_mut() {
            Some(last) if s.starts_with([' ', '\t']) => {
                last.push(' ');
                last.push_str(s.trim());
            }
            _ => lines.push(s.into_owned()),
        }
    }
    let mut e = Essentials {
        vias: Vec::new(),
        from: String::new(),
        to: String::new(),
        call_id: String::new(),
        cseq: String::new(),
    };
    for line in &lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim().to_string();
        match HeaderName::parse(name.trim()) {
            HeaderName::Via if e.vias.len() < MAX_VIA => e.vias.push(value),
            HeaderName::From if e.from.is_empty() => e.from = value,
            HeaderName::To if e.to.is_empty() => e.to = value,
            HeaderName::CallId if e.call_id.is_empty() => e.call_id = value,
            HeaderName::CSeq if e.cseq.is_empty() => e.cseq = value,
            _ => {}
        }
    }
    let complete = [&e.from, &e.to, &e.call_id, &e.cseq]
        .iter()
        .all(|v| !v.is_empty());
    (complete && !e.vias.is_empty() && !e.vias[0].is_empty()).then_some(e)
}

/// The response to a request that failed to parse with `Answer::Respond(status)`: Via(s),
/// From, To, Call-ID and CSeq copied leniently from the raw bytes, a To tag (derived from the
/// Call-ID and CSeq, so a retransmission gets the same one) added if absent, `reason` as the
/// reason phrase. `None` when those headers cannot be read (then drop).
pub fn error_response(bytes: &[u8], status: u16, reason: &str) -> Option<Response> {
    let e = essentials(bytes)?;
    let mut response = Response::new(status, reason);
    for via in e.vias {
        response.headers.push(HeaderName::Via, via);
    }
    response.headers.push(HeaderName::From, e.from);
    let has_tag = match addr::parse_name_addr(&e.to, "To", 0) {
        Ok(to) => to.tag().is_some(),
        Err(_) => e.to.to_ascii_lowercase().contains("tag="),
    };
    let mut to = e.to;
    if !has_tag {
        // FNV-1a: a stable tag without a random source.
        let hash = e
            .call_id
            .bytes()
            .chain(e.cseq.bytes())
            .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
            });
        to.push_str(&format!(";tag={hash:016x}"));
    }
    response.headers.push(HeaderName::To, to);
    response.headers.push(HeaderName::CallId, e.call_id);
    response.headers.push(HeaderName::CSeq, e.cseq);
    response.headers.push(HeaderName::ContentLength, "0");
    Some(response)
}

impl ParseError {
    /// How to answer the message that failed: `Respond(code)` for a request whose Via, From,
    /// To, Call-ID and CSeq could be read (505 bad version, 513 message too large, 413 body
    /// too large, 414 URI too long, 416 unsupported scheme, else 400); `Drop` for responses
    /// and requests whose request line or those headers are unreadable.
    pub fn answer(&self) -> Answer {
        if !self.answerable {
            return Answer::Drop;
        }
        Answer::Respond(match self.kind {
            ParseErrorKind::Version => 505,
            ParseErrorKind::TooLarge => 513,
            ParseErrorKind::BodyTooLarge => 413,
            ParseErrorKind::UriTooLong => 414,
            ParseErrorKind::UnsupportedScheme => 416,
            _ => 400,
        })
    }
}

impl fmt::Display for ParseErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::TooLarge => "message too large",
            Self::BodyTooLarge => "body too large",
            Self::TooMany => "too many values",
            Self::UriTooLong => "URI too long",
            Self::StartLine => "malformed start line",
            Self::Version => "unsupported SIP version",
            Self::UnsupportedScheme => "unsupported URI scheme",
            Self::NotUtf8 => "not UTF-8",
            Self::Header => "malformed header",
            Self::UnsupportedTransport => "unsupported transport",
            Self::MethodMismatch => "CSeq method differs from request method",
            Self::Missing => "missing header",
            Self::ContentLength => "bad Content-Length",
            Self::Truncated => "Content-Length exceeds the message",
            Self::Incomplete => "incomplete message",
        })
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({} at byte {})", self.kind, self.field, self.offset)
    }
}

impl std::error::Error for ParseError {}
