//! The session-description subset RFC 3435 §3.5 embeds (RFC 4566): `v=`, `o=`, `s=`, `c=`,
//! `t=`, `m=audio`, `a=rtpmap`, `a=ptime`, `a=fmtp`, direction attributes.
//!
//! [`Sdp`] keeps the lines as written, borrowing the datagram; [`AudioDescription`] is the owned
//! audio stream an analog gateway describes, read with [`AudioDescription::from_sdp`] and written
//! with [`AudioDescription::write`].
//!
//! To put a description built from owned text into a [`Command`](super::Command), write the text
//! into a buffer that outlives the command and parse it:
//!
//! ```
//! use gateway_control::mgcp::wire::{AudioDescription, Sdp};
//! let audio = AudioDescription {
//!     address: "192.0.2.10:16384".parse().unwrap(),
//!     payload_types: vec![0, 101],
//!     ptime: Some(20),
//!     telephone_event: Some(101),
//! };
//! let mut text = Vec::new();
//! audio.write(&mut text, 1);
//! let sdp = Sdp::parse(&text).unwrap();
//! assert_eq!(AudioDescription::from_sdp(&sdp), Ok(audio));
//! // `Some(sdp)` now goes in `Command::sdp`, borrowing `text`.
//! ```

use std::net::{IpAddr, SocketAddr};

use super::MAX_SDP_LINES;
use super::encode::push_u32;
use super::parse::{ParseError, ParseErrorKind, offset_in, parse_sdp_line};

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

/// Why a session description does not describe an audio stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// A line the description needs is absent (`c=`, `m=audio`).
    #[error("session description lacks {0}")]
    Missing(&'static str),
    /// A line is present but malformed; names the line.
    #[error("session description has a bad {0}")]
    Invalid(&'static str),
}

impl<'a> Sdp<'a> {
    /// Parses a standalone session description (CRLF or LF line ends, empty lines skipped,
    /// at most [`MAX_SDP_LINES`] lines). Offsets in the error are relative to `text`.
    pub fn parse(text: &'a [u8]) -> Result<Self, ParseError> {
        let fail = |kind, offset| ParseError {
            kind,
            offset,
            transaction: None,
            is_command: None,
        };
        if text.len() > super::MAX_DATAGRAM {
            return Err(fail(
                ParseErrorKind::TooLarge("datagram"),
                super::MAX_DATAGRAM,
            ));
        }
        let text = std::str::from_utf8(text)
            .map_err(|e| fail(ParseErrorKind::NotText, e.valid_up_to()))?;
        let mut lines = Vec::new();
        for raw in text.split('\n') {
            let line = raw.strip_suffix('\r').unwrap_or(raw);
            if let Some(bad) = line
                .bytes()
                .position(|b| (b < 0x20 && b != b'\t') || b == 0x7f)
            {
                return Err(fail(
                    ParseErrorKind::ControlCharacter(line.as_bytes()[bad]),
                    offset_in(text, line) + bad,
                ));
            }
            if line.is_empty() {
                continue;
            }
            if lines.len() >= MAX_SDP_LINES {
                return Err(fail(
                    ParseErrorKind::TooLarge("session description lines"),
                    offset_in(text, line),
                ));
            }
            let parsed = parse_sdp_line(line)
                .map_err(|what| fail(ParseErrorKind::Sdp(what), offset_in(text, line)))?;
            lines.push(parsed);
        }
        Ok(Self { lines })
    }

    /// The values of the lines of type `kind`, in order.
    pub fn values(&self, kind: u8) -> impl Iterator<Item = &'a str> + '_ {
        self.lines
            .iter()
            .filter(move |l| l.kind == kind)
            .map(|l| l.value)
    }

    /// The value of the first `a=name` or `a=name:value` attribute (`Some("")` for a flag).
    pub fn attribute(&self, name: &str) -> Option<&'a str> {
        self.values(b'a').find_map(|a| match a.split_once(':') {
            Some((n, v)) if n == name => Some(v),
            None if a == name => Some(""),
            _ => None,
        })
    }
}

fn parse_connection(value: &str) -> Result<IpAddr, SdpError> {
    let mut words = value.split_ascii_whitespace();
    let (Some("IN"), Some(kind), Some(addr)) = (words.next(), words.next(), words.next()) else {
        return Err(SdpError::Invalid("c= line"));
    };
    // A multicast address may carry `/ttl`; the address is what precedes it.
    let addr = addr.split('/').next().unwrap_or(addr);
    let ip: IpAddr = addr.parse().map_err(|_| SdpError::Invalid("c= address"))?;
    match (kind, ip) {
        ("IP4", IpAddr::V4(_)) | ("IP6", IpAddr::V6(_)) => Ok(ip),
        _ => Err(SdpError::Invalid("c= address type")),
    }
}

impl AudioDescription {
    /// Reads the first `m=audio` stream: its port and payload types, its connection address
    /// (media-level `c=` over session-level), `a=ptime` and the `telephone-event/8000` mapping.
    pub fn from_sdp(sdp: &Sdp<'_>) -> Result<Self, SdpError> {
        let mut session_addr = None;
        let mut media: Option<(u16, Vec<u8>)> = None;
        let mut media_addr = None;
        let mut ptime = None;
        let mut telephone_event = None;
        let mut in_audio = false;
        for line in &sdp.lines {
            match line.kind {
                b'm' => {
                    if media.is_some() {
                        // Only the first audio stream matters; stop at the next stream.
                        break;
                    }
                    let mut words = line.value.split_ascii_whitespace();
                    if words.next() != Some("audio") {
                        in_audio = false;
                        continue;
                    }
                    in_audio = true;
                    let port = words
                        .next()
                        .and_then(|p| p.split('/').next())
                        .and_then(|p| p.parse::<u16>().ok())
                        .ok_or(SdpError::Invalid("m= port"))?;
                    if !words.next().is_some_and(|p| p.starts_with("RTP/AVP")) {
                        return Err(SdpError::Invalid("m= transport"));
                    }
                    let mut pts = Vec::new();
                    for pt in words {
                        if pts.len() >= super::MAX_LIST {
                            return Err(SdpError::Invalid("m= payload list"));
                        }
                        let pt: u8 = pt
                            .parse()
                            .ok()
                            .filter(|pt| *pt < 128)
                            .ok_or(SdpError::Invalid("m= payload type"))?;
                        pts.push(pt);
                    }
                    media = Some((port, pts));
                }
                b'c' if media.is_none() => session_addr = Some(parse_connection(line.value)?),
                b'c' if in_audio => media_addr = Some(parse_connection(line.value)?),
                b'a' if media.is_none() || in_audio => {
                    let Some((name, value)) = line.value.split_once(':') else {
                        continue;
                    };
                    match name {
                        "ptime" => {
                            ptime = Some(
                                value
                                    .trim()
                                    .parse::<u32>()
                                    .map_err(|_| SdpError::Invalid("a=ptime"))?,
                            );
                        }
                        "rtpmap" => {
                            let (pt, encoding) =
                                value.split_once(' ').ok_or(SdpError::Invalid("a=rtpmap"))?;
                            let pt: u8 = pt.parse().map_err(|_| SdpError::Invalid("a=rtpmap"))?;
                            if encoding
                                .trim()
                                .to_ascii_lowercase()
                                .starts_with("telephone-event/8000")
                            {
                                telephone_event = Some(pt);
                            }
                        }
                        _ => {}
                    }
                }
                _ => {}
            }
        }
        let (port, payload_types) = media.ok_or(SdpError::Missing("m=audio"))?;
        let ip = media_addr.or(session_addr).ok_or(SdpError::Missing("c="))?;
        Ok(Self {
            address: SocketAddr::new(ip, port),
            payload_types,
            ptime,
            telephone_event,
        })
    }

    /// Appends a minimal valid RFC 4566 description of the stream, lines ended with CRLF:
    /// `v=0`, `o=- id id IN IP4 addr`, `s=-`, `c=`, `t=0 0`, `m=audio`, an `a=rtpmap` for each
    /// payload type with a known name (0 PCMU, 8 PCMA, the other RFC 3551 static types, and the
    /// telephone-event type), `a=fmtp:<te> 0-15`, and `a=ptime`.
    pub fn write(&self, out: &mut Vec<u8>, session_id: u64) {
        let ip = self.address.ip();
        let net = match ip {
            IpAddr::V4(_) => "IN IP4 ",
            IpAddr::V6(_) => "IN IP6 ",
        };
        let ip = ip.to_string();
        let id = session_id.to_string();
        out.extend_from_slice(b"v=0\r\no=- ");
        for part in [
            id.as_str(),
            " ",
            id.as_str(),
            " ",
            net,
            ip.as_str(),
            "\r\ns=-\r\nc=",
        ] {
            out.extend_from_slice(part.as_bytes());
        }
        out.extend_from_slice(net.as_bytes());
        out.extend_from_slice(ip.as_bytes());
        out.extend_from_slice(b"\r\nt=0 0\r\nm=audio ");
        push_u32(out, self.address.port().into());
        out.extend_from_slice(b" RTP/AVP");
        for pt in &self.payload_types {
            out.push(b' ');
            push_u32(out, (*pt).into());
        }
        out.extend_from_slice(b"\r\n");
        for &pt in &self.payload_types {
            let name = if Some(pt) == self.telephone_event {
                "telephone-event/8000"
            } else {
                match static_name(pt) {
                    Some(name) => name,
                    None => continue,
                }
            };
            out.extend_from_slice(b"a=rtpmap:");
            push_u32(out, pt.into());
            out.push(b' ');
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        if let Some(te) = self.telephone_event {
            out.extend_from_slice(b"a=fmtp:");
            push_u32(out, te.into());
            out.extend_from_slice(b" 0-15\r\n");
        }
        if let Some(ptime) = self.ptime {
            out.extend_from_slice(b"a=ptime:");
            push_u32(out, ptime);
            out.extend_from_slice(b"\r\n");
        }
    }
}

/// The RFC 3551 static audio payload types an analog gateway may offer.
fn static_name(pt: u8) -> Option<&'static str> {
    Some(match pt {
        0 => "PCMU/8000",
        3 => "GSM/8000",
        4 => "G723/8000",
        8 => "PCMA/8000",
        9 => "G722/8000",
        13 => "CN/8000",
        15 => "G728/8000",
        18 => "G729/8000",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_then_read_ipv4_and_ipv6() {
        for addr in ["192.0.2.10:16384", "[2001:db8::7]:20000"] {
            let audio = AudioDescription {
                address: addr.parse().unwrap(),
                payload_types: vec![8, 0, 101],
                ptime: Some(20),
                telephone_event: Some(101),
            };
            let mut text = Vec::new();
            audio.write(&mut text, 42);
            let sdp = Sdp::parse(&text).unwrap();
            assert_eq!(sdp.values(b'v').next(), Some("0"));
            assert_eq!(sdp.attribute("fmtp"), Some("101 0-15"));
            assert_eq!(
                sdp.values(b'a').filter(|a| a.starts_with("rtpmap")).count(),
                3
            );
            assert_eq!(AudioDescription::from_sdp(&sdp), Ok(audio));
        }
    }

    #[test]
    fn written_text_is_exact() {
        let audio = AudioDescription {
            address: "192.0.2.1:4000".parse().unwrap(),
            payload_types: vec![0, 8, 96],
            ptime: None,
            telephone_event: None,
        };
        let mut text = Vec::new();
        audio.write(&mut text, 7);
        assert_eq!(
            std::str::from_utf8(&text).unwrap(),
            "v=0\r\no=- 7 7 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
             m=audio 4000 RTP/AVP 0 8 96\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n"
        );
    }

    #[test]
    fn media_level_connection_wins_and_missing_lines_are_named() {
        let text = b"v=0\no=- 1 1 IN IP4 1.1.1.1\ns=-\nc=IN IP4 1.1.1.1\nt=0 0\n\
                     m=audio 5004 RTP/AVP 0\nc=IN IP4 2.2.2.2\na=ptime:30\n";
        let sdp = Sdp::parse(text).unwrap();
        let audio = AudioDescription::from_sdp(&sdp).unwrap();
        assert_eq!(audio.address, "2.2.2.2:5004".parse().unwrap());
        assert_eq!(audio.ptime, Some(30));

        let no_media = Sdp::parse(b"v=0\nc=IN IP4 1.1.1.1\n").unwrap();
        assert_eq!(
            AudioDescription::from_sdp(&no_media),
            Err(SdpError::Missing("m=audio"))
        );
        let no_conn = Sdp::parse(b"v=0\nm=audio 1 RTP/AVP 0\n").unwrap();
        assert_eq!(
            AudioDescription::from_sdp(&no_conn),
            Err(SdpError::Missing("c="))
        );
        let bad = Sdp::parse(b"c=IN IP4 999.1.1.1\nm=audio 1 RTP/AVP 0\n").unwrap();
        assert_eq!(
            AudioDescription::from_sdp(&bad),
            Err(SdpError::Invalid("c= address"))
        );
        let v6_as_v4 = Sdp::parse(b"c=IN IP4 ::1\nm=audio 1 RTP/AVP 0\n").unwrap();
        assert_eq!(
            AudioDescription::from_sdp(&v6_as_v4),
            Err(SdpError::Invalid("c= address type"))
        );
    }

    #[test]
    fn standalone_parse_rejects_bad_lines_with_offsets() {
        let err = Sdp::parse(b"v=0\r\nnot sdp\r\n").unwrap_err();
        assert_eq!(err.kind, ParseErrorKind::Sdp("line is not type=value"));
        assert_eq!(err.offset, 5);
        let many = "a=x\n".repeat(MAX_SDP_LINES + 1);
        let err = Sdp::parse(many.as_bytes()).unwrap_err();
        assert_eq!(
            err.kind,
            ParseErrorKind::TooLarge("session description lines")
        );
        assert_eq!(err.offset, MAX_SDP_LINES * 4);
    }
}
