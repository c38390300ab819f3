//! Which of the three encodings a message is in, told apart by its first bytes, and writing a
//! message in a chosen one.
//!
//! H.248.1 leaves the encoding to configuration; an MGC that serves every gateway on one port
//! (as Offhook does, `[megaco] listen`) has to recognise each message's: text begins with its
//! header (`MEGACO/` pretty, `!/` compact, in any case, after optional white space and `;`
//! comments); binary is an ASN.1 BER `MegacoMessage`, a SEQUENCE, so its first byte is `0x30`.

use super::ber;
use super::text::{self, Form};
use super::{ErrorCode, Message, TransactionId};

/// An encoding of H.248.1 messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Encoding {
    /// Annex B text, long tokens, one item per line.
    Pretty,
    /// Annex B text, short tokens, no spaces.
    Compact,
    /// Annex A, ASN.1 BER.
    Binary,
}

impl Encoding {
    /// Its name in configs and logs: `pretty`, `compact`, `binary`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pretty => "pretty",
            Self::Compact => "compact",
            Self::Binary => "binary",
        }
    }

    /// Whether it is one of the text forms.
    pub fn is_text(self) -> bool {
        self != Self::Binary
    }
}

impl std::fmt::Display for Encoding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The encoding `data` is in, from its first meaningful bytes; `None` when it is none of them
/// (the message is then malformed whatever its intent).
pub fn detect(data: &[u8]) -> Option<Encoding> {
    if data.first() == Some(&0x30) {
        return Some(Encoding::Binary);
    }
    let mut rest = data;
    loop {
        match rest.first() {
            Some(b' ' | b'\t' | b'\r' | b'\n') => rest = &rest[1..],
            Some(b';') => {
                let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                rest = &rest[end..];
            }
            _ => break,
        }
    }
    if rest.starts_with(b"!/") {
        Some(Encoding::Compact)
    } else if rest.len() >= 7 && rest[..7].eq_ignore_ascii_case(b"MEGACO/") {
        Some(Encoding::Pretty)
    } else {
        None
    }
}

/// Writes `message` in `encoding`. Binary fails when the BER encoder cannot carry something
/// the tree holds (a package name it has no binary id for).
pub fn encode(
    message: &Message<'_>,
    encoding: Encoding,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    match encoding {
        Encoding::Pretty => text::encode(message, Form::Pretty, out),
        Encoding::Compact => text::encode(message, Form::Compact, out),
        Encoding::Binary => return encode_binary(message, out),
    }
    Ok(())
}

/// A received message, ready to be read in its encoding.
#[derive(Debug)]
pub struct Decoded<'a> {
    data: &'a [u8],
    encoding: Encoding,
    /// Where the binary decoder writes the text the tree borrows.
    arena: ber::Arena,
}

/// Reads `data`, whose encoding [`detect`] found.
pub fn decode(data: &[u8], encoding: Encoding) -> Decoded<'_> {
    Decoded {
        data,
        encoding,
        arena: ber::Arena::new(),
    }
}

impl Decoded<'_> {
    /// The message, borrowing the datagram (and, for binary, this value's scratch space).
    pub fn message(&self) -> Result<Message<'_>, DecodeError> {
        match self.encoding {
            Encoding::Pretty | Encoding::Compact => text::parse(self.data).map_err(|e| {
                let answer = e.answer();
                DecodeError {
                    code: answer.map_or(e.code(), |(_, code)| code),
                    transaction: answer.map(|(id, _)| id),
                    text: e.to_string(),
                }
            }),
            Encoding::Binary => ber::decode(self.data, &self.arena).map_err(|e| {
                let answer = e.answer();
                DecodeError {
                    code: answer.map_or(e.code(), |(_, code)| code),
                    transaction: answer.map(|(id, _)| id),
                    text: e.to_string(),
                }
            }),
        }
    }
}

/// Why a message could not be read, and how to answer it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    /// The H.248.8 code to answer with.
    pub code: ErrorCode,
    /// The request to answer, when its id was read; otherwise a message-level error answers.
    pub transaction: Option<TransactionId>,
    /// What is wrong, and where.
    pub text: String,
}

/// Why a message could not be written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot encode in binary: {0}")]
pub struct EncodeError(pub String);

fn encode_binary(message: &Message<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    ber::encode(message, out).map_err(|e| EncodeError(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_tell_the_encodings_apart() {
        assert_eq!(
            detect(b"MEGACO/1 [1.2.3.4]:2944 T=1{}"),
            Some(Encoding::Pretty)
        );
        assert_eq!(detect(b"megaco/1 x"), Some(Encoding::Pretty));
        assert_eq!(
            detect(b"  \r\n; note\n!/1 [1.2.3.4]"),
            Some(Encoding::Compact)
        );
        assert_eq!(detect(&[0x30, 0x80]), Some(Encoding::Binary));
        assert_eq!(detect(b"MEGACO"), None);
        assert_eq!(detect(b"; only a comment"), None);
        assert_eq!(detect(b""), None);
        assert_eq!(detect(b"!1"), None);
    }
}
