//! The session-description subset RFC 3435 §3.5 embeds (RFC 4566): `v=`, `o=`, `s=`, `c=`,
//! `t=`, `m=audio`, `a=rtpmap`, `a=ptime`, `a=fmtp`, direction attributes.

use std::net::SocketAddr;

/// One `x=value` line of a session description.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SdpLine<'a> {
    /// The type letter (`v`, `o`, `c`, `m`, `a`…).
    pub kind: u8,
    /// The text after `=`.
    pub value: &'a str,
}

/// An embedded session description, line by line, borrowing the datagram.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Sdp<'a> {
    /// The lines, in order.
    pub lines: Vec<SdpLine<'a>>,
}

/// The audio stream an analog gateway's session description describes, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AudioDescription {
    /// RTP address and port (`c=` and `m=audio`).
    pub address: SocketAddr,
    /// Payload types offered, in preference order.
    pub payload_types: Vec<u8>,
    /// `a=ptime`, milliseconds.
    pub ptime: Option<u32>,
    /// The payload type mapped to `telephone-event/8000`, if any.
    pub telephone_event: Option<u8>,
}
