//! Session descriptions (RFC 8866, which obsoletes RFC 4566) and the offer/answer model
//! (RFC 3264), with RFC 4733 telephone-event.
//!
//! [`Session::parse`] reads the subset of SDP a SIP phone sends (`v o s c t m a`, other lines
//! skipped), bounded by [`MAX_SDP`], [`MAX_MEDIA`], [`MAX_FORMATS`] and [`MAX_ATTRIBUTES`];
//! [`Session::encode`] writes it back. [`offer`], [`answer`] and [`accept_answer`] apply
//! RFC 3264 §5–§7 to what Offhook can do ([`Capabilities`]).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use gateway_control::model::{Codec, Media};

/// The largest session description accepted, in bytes (an SDP body is rarely over 1 KiB).
pub const MAX_SDP: usize = 8 * 1024;
/// The most `m=` lines accepted in one session description.
pub const MAX_MEDIA: usize = 8;
/// The most formats (payload types) accepted on one `m=` line.
pub const MAX_FORMATS: usize = 32;
/// The most `a=` lines accepted in the whole session description.
pub const MAX_ATTRIBUTES: usize = 128;

/// A session description (RFC 8866 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// `o=`: who made it, and its version.
    pub origin: Origin,
    /// `s=`: the session name (`-` when there is none).
    pub name: String,
    /// The session-level `c=` address, used by media without their own.
    pub connection: Option<IpAddr>,
    /// The session-level direction attribute (media inherit it unless they carry their own).
    pub direction: Option<Direction>,
    /// The `m=` sections, in order.
    pub media: Vec<MediaDescription>,
}

/// The `o=` line (RFC 8866 §5.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// The user name (`-` when there is none).
    pub username: String,
    /// The session id.
    pub session_id: u64,
    /// The session version, incremented on each new offer (RFC 3264 §8).
    pub version: u64,
    /// The originator's address (`IN IP4` or `IN IP6`).
    pub address: IpAddr,
}

/// One `m=` section (RFC 8866 §5.14) with the attributes Offhook reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaDescription {
    /// The media type: `audio`, `video`, …
    pub kind: String,
    /// The transport port; 0 means the stream is declined or removed (RFC 3264 §6).
    pub port: u16,
    /// The transport protocol: `RTP/AVP`, …
    pub protocol: String,
    /// The payload types, in the sender's order of preference.
    pub formats: Vec<u8>,
    /// `a=rtpmap` lines.
    pub rtpmap: Vec<RtpMap>,
    /// `a=fmtp` lines: payload type and its parameters (e.g. `0-15` for telephone-event).
    pub fmtp: Vec<(u8, String)>,
    /// The media-level `c=` address.
    pub connection: Option<IpAddr>,
    /// The direction attribute (`sendrecv` when absent at both levels).
    pub direction: Direction,
    /// `a=ptime`, in milliseconds.
    pub ptime: Option<u32>,
}

/// An `a=rtpmap` line (RFC 8866 §6.6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RtpMap {
    /// The payload type it describes.
    pub payload_type: u8,
    /// The encoding name as written (`PCMU`, `telephone-event`, `opus`).
    pub encoding: String,
    /// The RTP clock rate in Hz.
    pub clock_rate: u32,
    /// The channel count, when given.
    pub channels: Option<u8>,
}

/// Which way a stream flows, seen from the side that wrote the description (RFC 3264 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Direction {
    /// Both ways.
    #[default]
    SendRecv,
    /// The writer only sends.
    SendOnly,
    /// The writer only receives.
    RecvOnly,
    /// Neither way.
    Inactive,
}

/// Why a session description was refused; each names the line (1-based) and field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// The body is larger than [`MAX_SDP`].
    #[error("SDP body of {len} bytes exceeds {MAX_SDP}")]
    TooLong {
        /// The body's length.
        len: usize,
    },
    /// A line or field is malformed.
    #[error("SDP line {line}: bad {field}")]
    Malformed {
        /// The 1-based line number.
        line: usize,
        /// The field that is wrong (`o= session-id`, `m= port`, …).
        field: &'static str,
    },
    /// A required line (`v=`, `o=`, `s=`) is missing.
    #[error("SDP: missing {field} line")]
    Missing {
        /// The missing line's type (`v=`, `o=`, `s=`).
        field: &'static str,
    },
    /// More of something than the bounds allow.
    #[error("SDP line {line}: too many {field}")]
    TooMany {
        /// The 1-based line number where the bound was passed.
        line: usize,
        /// What there are too many of (`m= lines`, `formats`, `attributes`).
        field: &'static str,
    },
}

impl Session {
    /// Parses a session description.
    pub fn parse(text: &[u8]) -> Result<Self, SdpError> {
        let _ = text;
        todo!()
    }

    /// Writes the description, CRLF line endings.
    pub fn encode(&self) -> String {
        todo!()
    }
}

/// What Offhook can do on a call: our RTP address, the codecs in preference order,
/// telephone-event.
///
/// The media engine speaks G.711 only for now, so `codecs` holds [`Codec`]s (PCMU, PCMA);
/// Opus offered by a phone is parsed and kept in [`MediaDescription::rtpmap`] but never chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Capabilities {
    /// Our RTP address and port.
    pub address: SocketAddr,
    /// The codecs we accept, best first.
    pub codecs: Vec<Codec>,
    /// The telephone-event payload type we use in offers (101), or `None` for no RFC 4733.
    pub telephone_event: Option<u8>,
    /// Our packetisation time.
    pub ptime: Duration,
}

/// What an offer/answer exchange agreed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    /// The phone's side: where it receives RTP, the codec, ptime and telephone-event type.
    pub remote: Media,
    /// The stream's direction as seen from the phone.
    pub direction: Direction,
    /// Whether the phone holds the call (`sendonly`/`inactive` from it, or `c=0.0.0.0`).
    pub on_hold: bool,
}

/// No audio stream in the description has a codec in common with us (answer with 488).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("no audio stream with a codec in common")]
pub struct NoCommonCodec;

/// An offer from us (for INVITE with SDP or re-INVITE): our codecs, telephone-event 0-15.
pub fn offer(caps: &Capabilities, session_id: u64, version: u64, direction: Direction) -> Session {
    let _ = (caps, session_id, version, direction);
    todo!()
}

/// Our answer to the phone's offer, and the phone's side as the station manager's
/// [`Media`], or why not (→ 488).
pub fn answer(
    offer: &Session,
    caps: &Capabilities,
    session_id: u64,
    version: u64,
) -> Result<(Session, Negotiated), NoCommonCodec> {
    let _ = (offer, caps, session_id, version);
    todo!()
}

/// The phone's answer to our offer: what was agreed.
pub fn accept_answer(our_offer: &Session, answer: &Session) -> Result<Negotiated, NoCommonCodec> {
    let _ = (our_offer, answer);
    todo!()
}
