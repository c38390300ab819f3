//! The TPNCP wire format: syntax only.
//!
//! Every message starts with an 8-byte header, then a 32-bit id (`acCMD_…` host → board,
//! `acEV_…` board → host); an event then carries its channel id, and the id's structure
//! follows (a command's structure starts with its own `channel_id`):
//!
//! ```text
//!  0               2               4               6       7       8
//! +---------------+---------------+---------------+-------+-------+
//! | version       | length        | seq           | l.ext | rsvd  |
//! +---------------+---------------+---------------+-------+-------+
//! | id (command or event)                                         |  8
//! +---------------------------------------------------------------+
//! | channel id (events only)                                      | 12
//! +---------------------------------------------------------------+
//! | the structure of the id …                                     |
//! ```
//!
//! `length` is the total length − 4 (`length extension` is its high byte; Offhook's messages
//! never need it). The whole message is in one byte order, detected as Wireshark does: the
//! 16 bits at offset 8, read big-endian, are zero in a big-endian message (every id is
//! below 65536). Field layouts come from the generated tables of [`structs`], which follow
//! Wireshark's `tpncp.dat`. [`encode_command`] and [`encode_event`] write the fields
//! [`Command`] and [`Event`] name and zero every other field; [`decode_command`] and
//! [`decode_event`] read exactly one message. Over TCP, a [`Deframer`] cuts the stream into
//! messages.

mod decode;
mod deframer;
mod encode;
mod message;
pub mod structs;
#[cfg(test)]
mod tests;

pub use decode::{decode_command, decode_event};
pub use deframer::{Deframer, FrameError};
pub use encode::{command_id, encode_command, encode_event, event_id};
pub use message::*;

/// The header's size: version, length, sequence number, length extension, reserved.
pub const HEADER_LEN: usize = 8;
/// The smallest message: the header and an id.
pub const MIN_LEN: usize = HEADER_LEN + 4;
/// The largest message accepted: what the 16-bit length field can say without its extension
/// byte. Every allocation for one message is bounded by it.
pub const MAX_LEN: usize = u16::MAX as usize + 4;

/// The ids Offhook knows (`acCMD_…` and `acEV_…` in `tpncp.dat`, without the prefix).
pub mod id {
    /// `acCMD_OPEN_CHANNEL`.
    pub const OPEN_CHANNEL: u32 = 2;
    /// `acCMD_CLOSE_CHANNEL`.
    pub const CLOSE_CHANNEL: u32 = 3;
    /// `acCMD_ACTIVATE_RTP_RTCP`.
    pub const ACTIVATE_RTP_RTCP: u32 = 4;
    /// `acCMD_DIAL`: in-band digits generated on the channel (an FXO port dials with it).
    pub const DIAL: u32 = 5;
    /// `acCMD_DEACTIVATE_RTP_RTCP`.
    pub const DEACTIVATE_RTP_RTCP: u32 = 35;
    /// `acCMD_PLAY_TONE`.
    pub const PLAY_TONE: u32 = 47;
    /// `acCMD_STOP_PLAY_TONE`.
    pub const STOP_PLAY_TONE: u32 = 48;
    /// `acCMD_SEND_ANALOG_SIGNAL`.
    pub const SEND_ANALOG_SIGNAL: u32 = 212;
    /// `acCMD_ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION`.
    pub const ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION: u32 = 220;
    /// `acCMD_ANALOG_IF_QUERY_STATUS`.
    pub const ANALOG_IF_QUERY_STATUS: u32 = 222;
    /// `acCMD_ANALOG_IF_DISTINCTIVE_RING`.
    pub const ANALOG_IF_DISTINCTIVE_RING: u32 = 229;

    /// `acEV_ERROR`.
    pub const ERROR: u32 = 1;
    /// `acEV_DIGIT`.
    pub const DIGIT: u32 = 2;
    /// `acEV_DIAL_ENDED`: the digits of `acCMD_DIAL` are out.
    pub const DIAL_ENDED: u32 = 4;
    /// `acEV_ON_HOOK`.
    pub const ON_HOOK: u32 = 14;
    /// `acEV_OFF_HOOK`.
    pub const OFF_HOOK: u32 = 15;
    /// `acEV_KEEP_ALIVE`.
    pub const KEEP_ALIVE: u32 = 33;
    /// `acEV_DETECT_CALLER_ID`: caller id decoded on an FXO port (between the first rings).
    pub const DETECT_CALLER_ID: u32 = 34;
    /// `acEV_FLASH_HOOK`.
    pub const FLASH_HOOK: u32 = 35;
    /// `acEV_COMMAND_ACK`.
    pub const COMMAND_ACK: u32 = 45;
    /// `acEV_ANALOG_IF_FXO_STATUS`: an FXO port's answer to `acCMD_ANALOG_IF_QUERY_STATUS`.
    pub const ANALOG_IF_FXO_STATUS: u32 = 229;
    /// `acEV_ANALOG_IF_FXS_STATUS`.
    pub const ANALOG_IF_FXS_STATUS: u32 = 230;
    /// `acEV_ANALOG_IF_REVERSAL_POLARITY_DETECTED`: an FXO port's line reversed its polarity
    /// (answer supervision).
    pub const ANALOG_IF_REVERSAL_POLARITY_DETECTED: u32 = 237;
    /// `acEV_ANALOG_IF_RING_START`.
    pub const ANALOG_IF_RING_START: u32 = 245;
    /// `acEV_ANALOG_IF_RING_END`.
    pub const ANALOG_IF_RING_END: u32 = 246;
    /// `acEV_ANALOG_IF_CURRENT_DISCONNECT_DETECTED`: an off-hook FXO port lost loop current
    /// for a moment (the exchange's calling party control: the far end hung up).
    pub const ANALOG_IF_CURRENT_DISCONNECT_DETECTED: u32 = 264;
}

/// Why one message could not be decoded, where, and what of its header was read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("TPNCP {kind} at byte {offset}")]
pub struct DecodeError {
    /// What is wrong.
    pub kind: DecodeErrorKind,
    /// Byte offset in the message where it was found.
    pub offset: usize,
    /// The header, when the message was long enough to read it (12 bytes: the byte order is
    /// known only with the id), so that the failure can be counted and answered.
    pub header: Option<Header>,
    /// The id, when the header was read.
    pub id: Option<u32>,
}

/// What is wrong with a message, grouped by fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    // Malformed: the bytes do not make a message.
    /// The message ends inside this field.
    #[error("truncated in {0}")]
    Truncated(&'static str),
    /// The length field disagrees with the bytes given.
    #[error("length field says {says} bytes, have {have}")]
    Length {
        /// The total length the header announces (length + 4, with its extension).
        says: usize,
        /// The total length given.
        have: usize,
    },
    /// The message goes on after the id's structure.
    #[error("{have} bytes, the structure ends at {expected}")]
    Trailing {
        /// The message's size with its structure.
        expected: usize,
        /// The bytes given.
        have: usize,
    },
    // Not understood: a well-formed message Offhook does not handle.
    /// An id Offhook has no structure for (another `tpncp.dat` id, or none at all).
    #[error("unknown id {0}")]
    UnknownId(u32),
    // Invalid: a field holds a value Offhook cannot represent.
    /// This field's value is not one Offhook reads (a coder, an address family, a count,
    /// text that is not UTF-8 or not terminated).
    #[error("bad value in {0}")]
    BadValue(&'static str),
}
