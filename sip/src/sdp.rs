//! Session descriptions (RFC 8866, which obsoletes RFC 4566) and the offer/answer model
//! (RFC 3264), with RFC 4733 telephone-event and Opus (RFC 7587: `opus/48000/2`).
//!
//! [`Session::parse`] reads the subset of SDP a SIP phone sends (`v o s c t m a`, other lines
//! skipped), bounded by [`MAX_SDP`], [`MAX_MEDIA`], [`MAX_FORMATS`] and [`MAX_ATTRIBUTES`];
//! [`Session::encode`] writes it back. [`offer`], [`answer`] and [`accept_answer`] apply
//! RFC 3264 §5–§7 to what Offhook can do ([`Capabilities`]).

use std::fmt::{self, Write as _};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
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

/// Which section of the description a line belongs to.
enum Section {
    Session,
    Media,
}

fn malformed(line: usize, field: &'static str) -> SdpError {
    SdpError::Malformed { line, field }
}

/// Reads `IN IP4 <addr>` / `IN IP6 <addr>` (a multicast `/ttl` suffix is dropped).
fn parse_connection(value: &str, line: usize) -> Result<IpAddr, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    if fields.next() != Some("IN") {
        return Err(malformed(line, "c= nettype"));
    }
    let v6 = match fields.next() {
        Some("IP4") => false,
        Some("IP6") => true,
        _ => return Err(malformed(line, "c= addrtype")),
    };
    let addr = fields.next().ok_or(malformed(line, "c= address"))?;
    let addr = addr.split('/').next().unwrap_or(addr);
    let ip: IpAddr = addr.parse().map_err(|_| malformed(line, "c= address"))?;
    if ip.is_ipv6() != v6 || fields.next().is_some() {
        return Err(malformed(line, "c= address"));
    }
    Ok(ip)
}

/// Reads `o=<username> <sess-id> <sess-version> IN IP4|IP6 <address>`. An address that is a
/// host name (RFC 8866 allows one) becomes the unspecified address of its type: nothing
/// reads the origin's address.
fn parse_origin(value: &str, line: usize) -> Result<Origin, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    let username = fields
        .next()
        .ok_or(malformed(line, "o= username"))?
        .to_owned();
    let session_id = fields
        .next()
        .and_then(|f| f.parse().ok())
        .ok_or(malformed(line, "o= sess-id"))?;
    let version = fields
        .next()
        .and_then(|f| f.parse().ok())
        .ok_or(malformed(line, "o= sess-version"))?;
    if fields.next() != Some("IN") {
        return Err(malformed(line, "o= nettype"));
    }
    let unspecified: IpAddr = match fields.next() {
        Some("IP4") => Ipv4Addr::UNSPECIFIED.into(),
        Some("IP6") => Ipv6Addr::UNSPECIFIED.into(),
        _ => return Err(malformed(line, "o= addrtype")),
    };
    let addr = fields.next().ok_or(malformed(line, "o= address"))?;
    if fields.next().is_some() {
        return Err(malformed(line, "o= address"));
    }
    let address = match addr.parse::<IpAddr>() {
        Ok(ip) if ip.is_ipv6() == unspecified.is_ipv6() => ip,
        _ => unspecified,
    };
    Ok(Origin {
        username,
        session_id,
        version,
        address,
    })
}

/// Whether a transport protocol carries RTP, whose formats are payload type numbers.
fn is_rtp(protocol: &str) -> bool {
    protocol.split('/').any(|p| p == "RTP")
}

fn parse_media(value: &str, line: usize) -> Result<MediaDescription, SdpError> {
    let mut fields = value.split_ascii_whitespace();
    let kind = fields.next().ok_or(malformed(line, "m= media"))?.to_owned();
    let port = fields.next().ok_or(malformed(line, "m= port"))?;
    let port = port.split_once('/').map_or(port, |(p, _count)| p);
    let port = port.parse().map_err(|_| malformed(line, "m= port"))?;
    let protocol = fields.next().ok_or(malformed(line, "m= proto"))?.to_owned();
    let mut formats = Vec::new();
    if is_rtp(&protocol) {
        for fmt in fields {
            if formats.len() == MAX_FORMATS {
                return Err(SdpError::TooMany {
                    line,
                    field: "formats",
                });
            }
            formats.push(parse_payload_type(fmt).ok_or(malformed(line, "m= fmt"))?);
        }
        if formats.is_empty() {
            return Err(malformed(line, "m= fmt"));
        }
    } else if fields.next().is_none() {
        // Non-RTP formats (`t38`, `*`) are not kept; there must still be one.
        return Err(malformed(line, "m= fmt"));
    }
    Ok(MediaDescription {
        kind,
        port,
        protocol,
        formats,
        rtpmap: Vec::new(),
        fmtp: Vec::new(),
        connection: None,
        direction: Direction::SendRecv,
        ptime: None,
    })
}

/// An RTP payload type, 0–127 (RFC 3550 §5.1: 7 bits).
fn parse_payload_type(s: &str) -> Option<u8> {
    if s.is_empty() || s.len() > 3 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok().filter(|pt| *pt < 128)
}

/// Reads `<pt> <encoding>/<clock rate>[/<channels>]`.
fn parse_rtpmap(value: &str, line: usize) -> Result<RtpMap, SdpError> {
    let (pt, rest) = value.split_once(' ').ok_or(malformed(line, "a=rtpmap"))?;
    let payload_type = parse_payload_type(pt).ok_or(malformed(line, "a=rtpmap payload type"))?;
    let rest = rest.trim_matches(|c| c == ' ' || c == '\t');
    let mut parts = rest.split('/');
    let encoding = parts.next().unwrap_or_default();
    if encoding.is_empty() || encoding.contains([' ', '\t']) {
        return Err(malformed(line, "a=rtpmap encoding"));
    }
    let clock_rate = parts
        .next()
        .and_then(|r| r.parse().ok())
        .ok_or(malformed(line, "a=rtpmap clock rate"))?;
    let channels = match parts.next() {
        None => None,
        Some(c) => Some(
            c.parse()
                .map_err(|_| malformed(line, "a=rtpmap channels"))?,
        ),
    };
    if parts.next().is_some() {
        return Err(malformed(line, "a=rtpmap"));
    }
    Ok(RtpMap {
        payload_type,
        encoding: encoding.to_owned(),
        clock_rate,
        channels,
    })
}

fn parse_direction(attr: &str) -> Option<Direction> {
    match attr {
        "sendrecv" => Some(Direction::SendRecv),
        "sendonly" => Some(Direction::SendOnly),
        "recvonly" => Some(Direction::RecvOnly),
        "inactive" => Some(Direction::Inactive),
        _ => None,
    }
}

impl Direction {
    /// The attribute name (`sendrecv`, …).
    pub fn name(self) -> &'static str {
        match self {
            Self::SendRecv => "sendrecv",
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::Inactive => "inactive",
        }
    }

    /// The direction an answer takes to an offer of `self` (RFC 3264 §6.1): `sendonly` ↔
    /// `recvonly`, the others unchanged.
    pub fn mirrored(self) -> Self {
        match self {
            Self::SendOnly => Self::RecvOnly,
            Self::RecvOnly => Self::SendOnly,
            other => other,
        }
    }
}

mod negotiate;
pub use negotiate::{
    DEFAULT_PTIME, OPUS_FMTP, OPUS_PAYLOAD_TYPE, accept_answer, answer, offer, same_encoding,
};

#[cfg(test)]
mod tests;

impl Session {
    /// Parses a session description.
    ///
    /// Lines end in CRLF or LF. `v=`, `o=` and `s=` are required; `c=`, `m=` and the
    /// attributes `rtpmap`, `fmtp`, `ptime` and the direction are read; other lines and
    /// attributes are skipped (they still count toward [`MAX_ATTRIBUTES`]). A medium without
    /// its own direction takes the session's, else `sendrecv`.
    pub fn parse(text: &[u8]) -> Result<Self, SdpError> {
        if text.len() > MAX_SDP {
            return Err(SdpError::TooLong { len: text.len() });
        }
        let mut version_seen = false;
        let mut origin = None;
        let mut name = None;
        let mut connection = None;
        let mut direction = None;
        let mut media: Vec<MediaDescription> = Vec::new();
        // Which media had an explicit direction attribute.
        let mut explicit = [false; MAX_MEDIA];
        let mut attributes = 0;
        let mut section = Section::Session;
        for (index, raw) in text.split(|&b| b == b'\n').enumerate() {
            let line = index + 1;
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            if raw.is_empty() {
                continue;
            }
            if raw.iter().any(|&b| b == 0 || b == b'\r') {
                return Err(malformed(line, "character"));
            }
            let text = std::str::from_utf8(raw).map_err(|_| malformed(line, "UTF-8"))?;
            let (kind, value) = match text.as_bytes() {
                [k, b'=', ..] if k.is_ascii_lowercase() => (*k, &text[2..]),
                _ => return Err(malformed(line, "type=value")),
            };
            if !version_seen {
                if kind != b'v' || value != "0" {
                    return Err(malformed(line, "v="));
                }
                version_seen = true;
                continue;
            }
            match (kind, &section) {
                (b'v', _) => return Err(malformed(line, "v= (repeated)")),
                (b'o', Section::Session) => {
                    if origin.is_some() {
                        return Err(malformed(line, "o= (repeated)"));
                    }
                    origin = Some(parse_origin(value, line)?);
                }
                (b's', Section::Session) => {
                    if name.is_some() {
                        return Err(malformed(line, "s= (repeated)"));
                    }
                    name = Some(value.to_owned());
                }
                (b'c', Section::Session) => connection = Some(parse_connection(value, line)?),
                (b'c', Section::Media) => {
                    if let Some(m) = media.last_mut() {
                        m.connection = Some(parse_connection(value, line)?);
                    }
                }
                (b'm', _) => {
                    if media.len() == MAX_MEDIA {
                        return Err(SdpError::TooMany {
                            line,
                            field: "m= lines",
                        });
                    }
                    media.push(parse_media(value, line)?);
                    section = Section::Media;
                }
                (b'a', _) => {
                    attributes += 1;
                    if attributes > MAX_ATTRIBUTES {
                        return Err(SdpError::TooMany {
                            line,
                            field: "attributes",
                        });
                    }
                    let (attr, attr_value) = value.split_once(':').unwrap_or((value, ""));
                    let current = media.len().checked_sub(1);
                    match (current, parse_direction(attr)) {
                        (None, Some(d)) => direction = Some(d),
                        (Some(i), Some(d)) => {
                            media[i].direction = d;
                            explicit[i] = true;
                        }
                        (Some(i), None) => {
                            parse_media_attribute(&mut media[i], attr, attr_value, line)?
                        }
                        (None, None) => {}
                    }
                }
                (b'o' | b's', Section::Media) => return Err(malformed(line, "line order")),
                _ => {}
            }
        }
        if !version_seen {
            return Err(SdpError::Missing { field: "v=" });
        }
        let origin = origin.ok_or(SdpError::Missing { field: "o=" })?;
        let name = name.ok_or(SdpError::Missing { field: "s=" })?;
        if let Some(d) = direction {
            for (m, explicit) in media.iter_mut().zip(explicit) {
                if !explicit {
                    m.direction = d;
                }
            }
        }
        Ok(Self {
            origin,
            name,
            connection,
            direction,
            media,
        })
    }

    /// Writes the description, CRLF line endings. Every medium's direction is written
    /// explicitly. Text fields have CR, LF and NUL replaced by spaces, so that a field cannot
    /// start a line of its own.
    pub fn encode(&self) -> String {
        let mut out = String::with_capacity(256);
        let o = &self.origin;
        let _ = write!(
            out,
            "v=0\r\no={} {} {} {}\r\ns={}\r\n",
            Clean(&o.username),
            o.session_id,
            o.version,
            Addr(o.address),
            Clean(&self.name)
        );
        if let Some(c) = self.connection {
            let _ = write!(out, "c={}\r\n", Addr(c));
        }
        out.push_str("t=0 0\r\n");
        if let Some(d) = self.direction {
            let _ = write!(out, "a={}\r\n", d.name());
        }
        for m in &self.media {
            let _ = write!(
                out,
                "m={} {} {}",
                Clean(&m.kind),
                m.port,
                Clean(&m.protocol)
            );
            for f in &m.formats {
                let _ = write!(out, " {f}");
            }
            if m.formats.is_empty() {
                out.push_str(" *");
            }
            out.push_str("\r\n");
            if let Some(c) = m.connection {
                let _ = write!(out, "c={}\r\n", Addr(c));
            }
            for r in &m.rtpmap {
                let _ = write!(
                    out,
                    "a=rtpmap:{} {}/{}",
                    r.payload_type,
                    Clean(&r.encoding),
                    r.clock_rate
                );
                if let Some(ch) = r.channels {
                    let _ = write!(out, "/{ch}");
                }
                out.push_str("\r\n");
            }
            for (pt, params) in &m.fmtp {
                let _ = write!(out, "a=fmtp:{pt} {}\r\n", Clean(params));
            }
            if let Some(p) = m.ptime {
                let _ = write!(out, "a=ptime:{p}\r\n");
            }
            let _ = write!(out, "a={}\r\n", m.direction.name());
        }
        out
    }
}

/// Reads the media-level attributes Offhook uses; others are skipped.
fn parse_media_attribute(
    m: &mut MediaDescription,
    attr: &str,
    value: &str,
    line: usize,
) -> Result<(), SdpError> {
    match attr {
        "rtpmap" => m.rtpmap.push(parse_rtpmap(value, line)?),
        "fmtp" => {
            let (pt, params) = value.split_once(' ').unwrap_or((value, ""));
            let pt = parse_payload_type(pt).ok_or(malformed(line, "a=fmtp payload type"))?;
            m.fmtp.push((
                pt,
                params.trim_matches(|c| c == ' ' || c == '\t').to_owned(),
            ));
        }
        "ptime" => {
            // Some phones write `20.0`; the fraction is dropped.
            let whole = value.split_once('.').map_or(value, |(w, _)| w);
            m.ptime = Some(
                whole
                    .trim()
                    .parse()
                    .map_err(|_| malformed(line, "a=ptime"))?,
            );
        }
        _ => {}
    }
    Ok(())
}

/// Displays `IN IP4 <addr>` or `IN IP6 <addr>`.
struct Addr(IpAddr);

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            IpAddr::V4(a) => write!(f, "IN IP4 {a}"),
            IpAddr::V6(a) => write!(f, "IN IP6 {a}"),
        }
    }
}

/// Displays text with CR, LF and NUL replaced by spaces.
struct Clean<'a>(&'a str);

impl fmt::Display for Clean<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            f.write_char(if matches!(c, '\r' | '\n' | '\0') {
                ' '
            } else {
                c
            })?;
        }
        Ok(())
    }
}

/// What Offhook can do on a call: our RTP address, the codecs in preference order,
/// telephone-event.
///
/// `codecs` holds PCMU, PCMA and Opus (RFC 7587). In our offers Opus is written with the
/// payload type given here (`opus/48000/2` and [`OPUS_FMTP`]); in answers an offered Opus is
/// matched whatever its payload type, which the answer keeps.
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
    /// On an RFC 2543 hold (`c=0.0.0.0`) the address is unspecified: send nothing there.
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
