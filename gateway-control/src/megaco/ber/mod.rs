//! The MEGACO binary encoding: H.248.1 Annex A, the ASN.1 module `MEDIA-GATEWAY-CONTROL`
//! under the Basic Encoding Rules (X.690). Syntax only, no state.
//!
//! [`encode`] writes a [`Message`] as BER; [`decode`] reads one back into the same tree the
//! text codec ([`super::text`]) uses, so that the controller handles both alike. The reference
//! to interoperate with is Erlang/OTP's `megaco_ber_encoder` with its default encoding config
//! (`[]`), version 1: the tags are those of OTP's `MEDIA-GATEWAY-CONTROL-v1` module (automatic
//! tags; a component whose type is a CHOICE is tagged explicitly), and the bytes this encoder
//! writes are the bytes OTP writes for the same message (`tests/otp_ber.rs` checks both ways).
//!
//! # What the text tree holds, and its binary form
//!
//! The tree keeps text; Annex A carries numbers and structures. Each text field has one binary
//! form, and the decoder writes the canonical text of it (so `decode(encode(m)) == m` for a tree
//! in canonical form, and `decode → encode → decode` is stable for any input):
//!
//! - **Package items** (`al/of`, `cg/dt`, `nt/jit`, `dd/ce`…) and the parameters of events and
//!   signals (`ds`, `Meth`, `strict`…) are looked up in [`super::packages`] by scope (property,
//!   event, signal, statistic). A name it does not know fails encoding
//!   ([`EncodeError::UnknownName`]), unless written as the raw id: `x` and four hex digits
//!   (`x00ab/x0003`, `x0007` for a parameter), which is also how an id unknown to the registry
//!   decodes. `*` is the wildcard id `0xFFFF`.
//! - **Termination ids** follow OTP's default term-id config `[8,8,8]`
//!   (`megaco_binary_term_id`): the id is written as levels of eight binary digits separated by
//!   `/`, one level per octet (`11111111/00000000/00000001` is the octets `FF 00 01`); `ROOT`
//!   is eight `FF` octets. A level may end early with a wildcard, `*` (ALL) or `$` (CHOOSE),
//!   after 0 to 7 digits: a wildcard in the last level given is written "this level and all
//!   below" with the id padded to three octets, as OTP does, otherwise it covers its level
//!   only (`*` alone is wildcard octet `D7` and id `00 00 00`). Text ids such as `al/1` cannot
//!   be expressed ([`EncodeError::Malformed`]); an MG that speaks binary to OTP uses such
//!   bit-string ids, and so must its controller.
//! - **Values** of properties and parameters are `Value ::= SEQUENCE OF OCTET STRING` with an
//!   optional relation, range or sublist flag: `= v` is one octet string, `> v`, `< v`, `# v`
//!   add the relation, `[a, b]` is the sublist-false list, `{a, b}` the sublist-true one,
//!   `[a : b]` the range, and `$` (CHOOSE) the empty sequence. A value decodes as a bare token
//!   when every character is a `SafeChar`, otherwise quoted; quotes are dropped when encoding.
//! - **Local and Remote** hold SDP text; Annex A holds property groups of the Annex C ids
//!   (`v` = `0xB001` … `m` = `0xB00F`). Each `x=value` line is one property, and each `v=` line
//!   starts a new group. The decoder writes `"\nv=0\nc=IN IP4 …\n"`: a line end first and after
//!   every line, the text encoder's own layout. A `}` in a value is written `\}`.
//! - **Timestamps** `yyyymmddThhmmsshh` are `TimeNotation {date, time}`; **digit maps** are
//!   `DigitMapValue` with the `T:`, `S:` and `L:` timers taken off the front of the text;
//!   digit-map **names** are two octets, `dialplanNN` in text as OTP spells them; a **Profile**
//!   is the IA5String `name/version`; an **mtpAddress** is its octets in upper-case hex.
//! - Context `-` is context id 0, `$` is `0xFFFFFFFE`, `*` is `0xFFFFFFFF`; RequestID `*` is
//!   `0xFFFFFFFF`; a bare `Events` (clear) is RequestID 0 with no events.
//!
//! Each command has its own ASN.1 shape: an Add takes only Media, Events, Signals, DigitMap,
//! EventBuffer and Audit descriptors, a Notify exactly one ObservedEvents (and an optional
//! Error), a ServiceChange exactly one Services descriptor, and so on. A tree that breaks this
//! fails encoding with [`EncodeError::Unsupported`]. So do what version 1 of Annex A cannot
//! carry: extension (`X-`) methods and parameters, `Embed`, several terminations per command.
//! The decoder refuses, with [`DecodeErrorKind::Unsupported`] (H.248.8 code 501), what the
//! tree does not model, as the text parser does: the authentication header, Modem, Mux,
//! Topology, Packages and ContextAudit, audit replies of a whole context, embedded events and
//! signals, nonStandardData.
//!
//! # Versions
//!
//! Versions 2 and 3 of the module only append to version 1 (new components after the
//! extension markers, new choices), so a message of any version is written with version 1's
//! tags and its own `version` field, and read likewise. Extension additions of a SEQUENCE
//! that do not change what the message asks are skipped (X.680 §52.7: version 2's
//! `durationTimer` of a digit map and `serviceChangeInfo`, version 3's
//! `serviceChangeIncompleteFlag`…); those that do are refused as unsupported (501): version
//! 2's `auditPropertyToken` (individual property audits) and version 3's segmented replies
//! (`segmentNumber`, the `segmentReply` transaction). An unknown CHOICE alternative is an
//! error. The text form of a digit map has no place for `durationTimer` (`Z:`): it is lost.
//!
//! # Bounds
//!
//! Input over [`MAX_MESSAGE`], lists over [`MAX_LIST`] items or more than
//! [`MAX_TRANSACTIONS`] transactions, and nesting deeper than [`MAX_DEPTH`] are refused before
//! anything is allocated for them; every length is checked against the input; the decoder
//! never panics. The text it makes (names, ids, SDP) goes into an [`Arena`] the caller
//! provides and resets, at most a few times the input's size.

mod decode;
mod encode;
mod names;
#[cfg(test)]
mod roundtrip;
mod termid;
#[cfg(test)]
mod tests;
mod tlv;

pub use decode::{DecodeError, DecodeErrorKind, decode};
pub use encode::{EncodeError, encode};

#[cfg(doc)]
use super::Message;

pub use super::text::{MAX_LIST, MAX_MESSAGE, MAX_TRANSACTIONS};

/// Nesting deeper than this many constructed values is refused. Annex A's module is not
/// recursive in what the codec models; its deepest paths (the value of a property of a Local
/// descriptor of one of several streams, in an Add or in an audit reply) are 22 levels.
pub const MAX_DEPTH: usize = 24;

/// Where [`decode`] keeps the text it makes (names of ids, termination ids, SDP, quoted
/// values): the decoded [`Message`] borrows it as it borrows the input. Reuse one arena per
/// receive loop and [`reset`](Self::reset) it between messages.
#[derive(Debug, Default)]
pub struct Arena {
    bump: bumpalo::Bump,
}

impl Arena {
    /// An empty arena.
    pub fn new() -> Self {
        Self::default()
    }

    /// Frees everything decoded into it (the borrow checker ensures no message still uses it),
    /// keeping its largest block for the next message.
    pub fn reset(&mut self) {
        self.bump.reset();
    }

    /// Bytes held.
    pub fn allocated_bytes(&self) -> usize {
        self.bump.allocated_bytes()
    }

    fn alloc(&self, s: &str) -> &str {
        self.bump.alloc_str(s)
    }
}
