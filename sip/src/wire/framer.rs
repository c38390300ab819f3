//! Framing SIP messages on a stream (RFC 3261 §18.3): the header block ends at the first
//! empty line and Content-Length, mandatory on streams, gives the body's length. CRLFs between
//! messages are skipped (§7.5); a double CRLF there is an RFC 5626 §3.5.1 keep-alive ping,
//! counted so that the driver can answer each with a single CRLF.

use super::parse::parse;
use super::{MAX_MESSAGE, Message, ParseError, ParseErrorKind, StreamFramer, addr::err};

/// The most bytes held while waiting for the rest of a message: one whole message and the
/// start of the next; past it the stream is in error.
const MAX_BUFFERED: usize = 2 * MAX_MESSAGE;

/// The Content-Length of a header block, read leniently (the full parse checks it again).
fn content_length(head: &[u8]) -> Result<usize, ParseError> {
    const F: &str = "Content-Length";
    let mut at = 0;
    for line in head.split(|&b| b == b'\n') {
        let here = at;
        at += line.len() + 1;
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            continue;
        };
        let name = line[..colon].trim_ascii();
        if !(name.eq_ignore_ascii_case(b"content-length") || name.eq_ignore_ascii_case(b"l")) {
            continue;
        }
        let value = line[colon + 1..].trim_ascii();
        if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
            return Err(err(ParseErrorKind::ContentLength, F, here));
        }
        let digits = value.iter().skip_while(|&&b| b == b'0').count();
        let n = value.iter().fold(0usize, |n, &b| {
            n.saturating_mul(10).saturating_add(usize::from(b - b'0'))
        });
        if digits > 6 || n > MAX_MESSAGE {
            return Err(err(ParseErrorKind::BodyTooLarge, F, here));
        }
        return Ok(n);
    }
    Err(err(ParseErrorKind::Missing, F, 0))
}

impl StreamFramer {
    /// An empty framer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends bytes read from the stream; call [`pop`](Self::pop) until `None` after each.
    /// Bytes past twice [`MAX_MESSAGE`] waiting in the framer are dropped: the whole messages
    /// before them still pop, and then `pop` is an error instead of framing what follows the
    /// gap.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed || self.overflowed {
            return;
        }
        let room = (MAX_BUFFERED + 1).saturating_sub(self.buf.len());
        if bytes.len() > room {
            self.overflowed = true;
        }
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The next whole message, if one is buffered. After an `Err` (a message over
    /// [`MAX_MESSAGE`], a missing or bad Content-Length, or a message that does not parse)
    /// every later call returns `None`: the caller closes the connection.
    pub fn pop(&mut self) -> Option<Result<Message, ParseError>> {
        if self.failed {
            return None;
        }
        match self.pop_whole() {
            None if self.overflowed => {
                self.failed = true;
                self.buf = Vec::new();
                let e = err(ParseErrorKind::TooLarge, "stream buffer", MAX_BUFFERED);
                Some(Err(e))
            }
            popped => popped,
        }
    }

    /// The next message whole in the buffer, if any; `pop` without the overflow check.
    fn pop_whole(&mut self) -> Option<Result<Message, ParseError>> {
        while self.want.is_none() && self.scan == 0 {
            if self.buf.len() < 4 && b"\r\n\r\n".starts_with(&self.buf) {
                return None; // empty, or a CRLF or keep-alive still arriving
            } else if self.buf.starts_with(b"\r\n\r\n") {
                self.buf.drain(..4);
                self.keepalives += 1;
            } else if self.buf.starts_with(b"\r\n") {
                self.buf.drain(..2); // a pong or a stray CRLF before a start line (§7.5)
            } else if self.buf.starts_with(b"\n") {
                self.buf.drain(..1);
            } else {
                break;
            }
        }
        let result = self.frame()?;
        if result.is_err() {
            self.failed = true;
            self.buf = Vec::new();
        }
        Some(result)
    }

    /// How many CRLF keep-alive pings were skipped since the last call (each is answered
    /// with a single CRLF, RFC 5626 §3.5.1); resets the count.
    pub fn pop_keepalives(&mut self) -> usize {
        std::mem::take(&mut self.keepalives)
    }

    /// The end of the header block (just past its empty line), scanning only new lines.
    fn head_end(&mut self) -> Option<usize> {
        loop {
            let rest = &self.buf[self.scan..];
            let i = rest.iter().position(|&b| b == b'\n')?;
            let line = &rest[..i];
            let empty = line.is_empty() || line == b"\r";
            let start = self.scan;
            self.scan += i + 1;
            if empty && start > 0 {
                return Some(self.scan);
            }
        }
    }

    fn frame(&mut self) -> Option<Result<Message, ParseError>> {
        let total = match self.want {
            Some(total) => total,
            None => {
                let Some(head_end) = self.head_end() else {
                    if self.buf.len() >= MAX_MESSAGE {
                        let e = err(ParseErrorKind::TooLarge, "message", MAX_MESSAGE);
                        return Some(Err(e));
                    }
                    return None;
                };
                let length = match content_length(&self.buf[..head_end]) {
                    Ok(n) => n,
                    Err(e) => return Some(Err(e)),
                };
                let total = head_end + length;
                if total > MAX_MESSAGE {
                    return Some(Err(err(ParseErrorKind::TooLarge, "message", MAX_MESSAGE)));
                }
                self.want = Some(total);
                total
            }
        };
        if self.buf.len() < total {
            return None;
        }
        let message: Vec<u8> = self.buf.drain(..total).collect();
        (self.scan, self.want) = (0, None);
        Some(parse(&message))
    }
}
