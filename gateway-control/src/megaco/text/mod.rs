//! The MEGACO text encoding (H.248.1 Annex B, RFC 3525 Annex B): syntax only, no state.
//!
//! [`parse`] reads one message into a [`Message`] that borrows the input; [`encode`] writes
//! one, in the [`Form::Pretty`] layout of the RFC's examples (long tokens, one item per line,
//! four-space indentation) or the [`Form::Compact`] one (short tokens, no spaces). Input may use
//! either spelling of every token, in any case, with any whitespace, LF or CRLF line ends and
//! `;` comments between tokens; the `MEGACO/1` and `!/1` headers are both read.
//!
//! Every size is bounded before anything is allocated ([`MAX_MESSAGE`], [`MAX_TRANSACTIONS`],
//! [`MAX_LIST`], [`MAX_DEPTH`]); the parser never panics, and its errors name what is wrong, the
//! byte offset, and the transaction being read so that a request can be answered with an
//! H.248.8 error ([`ParseError::answer`]).
//!
//! For every message `parse` returns, `parse(encode(m, form)) == m` in both forms. Values are
//! kept as written (quoted strings with their quotes), and the session descriptions of
//! Local and Remote, inline digit maps and `Embed` contents as the exact text between their
//! braces, so the encoder writes them back unchanged. A message built by hand must keep to the
//! grammar (names and values from the allowed characters, no unbalanced braces in raw texts);
//! the encoder does not check.

mod descriptor;
mod encode;
mod parse;
#[cfg(test)]
mod roundtrip;
#[cfg(test)]
mod tests;
mod tokens;

pub use encode::{Form, encode};
pub use parse::{ParseError, ParseErrorKind, Within, parse};

#[cfg(doc)]
use super::Message;

/// The largest message accepted: H.248.1 Annex D.1 caps a UDP message at the path MTU, but
/// TCP (Annex D.2) carries up to 64 KiB per TPKT.
pub const MAX_MESSAGE: usize = 65_536;
/// At most this many transactions in one message.
pub const MAX_TRANSACTIONS: usize = 64;
/// At most this many items in any one list (actions, commands, descriptors, events, ranges…):
/// a wildcard audit answer of a 288-line gateway lists one command reply per termination.
pub const MAX_LIST: usize = 512;
/// At most this many nested braces, counted inside `Embed` texts too.
pub const MAX_DEPTH: usize = 16;
