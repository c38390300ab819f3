//! Framing SIP messages on a stream (RFC 3261 §18.3): the header block ends at the first
//! empty line and Content-Length, mandatory on streams, gives the body's length. CRLFs between
//! messages are skipped (§7.5); a double CRLF there is an RFC 5626 §3.5.1 keep-alive ping,
//! counted so that the driver can answer each with a single CRLF.

use super::parse::parse;
use super::{MAX_MESSAGE, Message, ParseError, ParseErrorKind, StreamFramer, addr::err};

/// The most bytes held while waiting for the rest of a message: one whole message and the
/// start of the next; past it the stream is in error.
const MAX_BUFFERED: usize = 2 * MAX_MESSAGE;

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

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
    /// Bytes past twice [`MAX_MESSAGE`] waiting in the framer make the next `pop` an error.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.failed {
            return;
        }
        let room = (MAX_BUFFERED + 1).saturating_sub(self.buf.len());
        self.buf.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// The next whole message, if one is buffered. After an `Err` (a message over
    /// [`MAX_MESSAGE`], a missing or bad Content-Length, or a message that does not parse)
    /// every later call returns `None`: the caller closes the connection.
    pub fn pop(&mut self) -> Option<Result<Message, ParseError>> {
        if self.failed {
            return None;
        }
        loop {
            if self.buf.starts_with(b"\r\n\r\n") {
                self.buf.drain(..4);
                self.keepalives += 1;
            } else if self.buf.starts_with(b"\r\n") && self.buf.len() >= 4 {
                self.buf.drain(..2); // a pong or a stray CRLF before a start line
            } else if self.buf.starts_with(b"\n") {
                self.buf.drain(..1);
            } else {
                break;
            }
        }
        if self.buf.starts_with(b"\r") {
            return None; // a CRLF or keep-alive still arriving
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

    fn frame(&mut self) -> Option<Result<Message, ParseError>> {
        let window = &self.buf[..self.buf.len().min(MAX_MESSAGE)];
        let head_end = match (find(window, b"\r\n\r\n"), find(window, b"\n\n")) {
            (Some(a), Some(b)) if b + 2 < a + 4 => b + 2,
            (Some(a), _) => a + 4,
            (None, Some(b)) => b + 2,
            (None, None) if self.buf.len() >= MAX_MESSAGE => {
                return Some(Err(err(ParseErrorKind::TooLarge, "message", MAX_MESSAGE)));
            }
            (None, None) => return None,
        };
        let length = match content_length(&self.buf[..head_end]) {
            Ok(n) => n,
            Err(e) => return Some(Err(e)),
        };
        let total = head_end + length;
        if total > MAX_MESSAGE {
            return Some(Err(err(ParseErrorKind::TooLarge, "message", MAX_MESSAGE)));
        }
        if self.buf.len() < total {
            return None;
        }
        let message: Vec<u8> = self.buf.drain(..total).collect();
        Some(parse(&message))
    }
}
