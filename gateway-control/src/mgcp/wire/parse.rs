//! The MGCP parser (RFC 3435 §3, Appendix A grammar). Borrowing; bounded; never panics.

use super::{Message, TransactionId};

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

/// What is wrong with a datagram, grouped by what the receiver should answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// Longer than [`super::MAX_DATAGRAM`], or a count limit exceeded.
    #[error("too large: {0}")]
    TooLarge(&'static str),
    /// Not UTF-8 / not text where text is required.
    #[error("not text")]
    NotText,
    /// The first line is missing or malformed.
    #[error("bad first line: {0}")]
    FirstLine(&'static str),
    /// The verb is not one of RFC 3435's (answer 510 if a transaction id was read).
    #[error("unknown verb")]
    UnknownVerb,
    /// The version is not `MGCP 1.0` (answer 528).
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

/// Parses one datagram into its messages (one, or several piggy-backed).
pub fn parse(datagram: &[u8]) -> Result<Vec<Message<'_>>, ParseError> {
    let _ = datagram;
    Err(ParseError {
        kind: ParseErrorKind::Empty,
        offset: 0,
        transaction: None,
        is_command: None,
    })
}
