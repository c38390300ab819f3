//! The MGCP encoder: CRLF line ends, parameters in the order given.

use super::{Command, Message, Response, ReturnCode};

pub(super) fn reason_phrase(code: ReturnCode) -> &'static str {
    let _ = code;
    ""
}

pub(super) fn piggybacked(messages: &[Message<'_>], out: &mut Vec<u8>) {
    for (i, m) in messages.iter().enumerate() {
        if i > 0 {
            out.extend_from_slice(b".\r\n");
        }
        m.encode(out);
    }
}

impl Command<'_> {
    /// Appends the command to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let _ = out;
    }
}

impl Response<'_> {
    /// Appends the response to `out`.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let _ = out;
    }
}
