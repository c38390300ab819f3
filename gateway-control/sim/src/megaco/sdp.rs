//! The session descriptions of Local and Remote (H.248.1 §7.1.8, Annex C.11: SDP of RFC 4566
//! where `$` means "the MG chooses" and `-` "any"): what an analog gateway reads from them —
//! the address and port, the payload types and `a=ptime` — and the Local it answers with.

use std::fmt::Write as _;
use std::net::{IpAddr, SocketAddr};

use gateway_control::model::Codec;

/// The longest session description read.
const MAX_SDP: usize = 4096;
/// At most this many payload types are read from one `m=` line.
const MAX_PAYLOADS: usize = 32;

/// What a session description says about its audio stream; `None` fields were `$`, `-` or
/// absent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Description {
    pub(crate) address: Option<IpAddr>,
    pub(crate) port: Option<u16>,
    /// Payload types in preference order (empty: `$` or none).
    pub(crate) payloads: Vec<u8>,
    pub(crate) ptime: Option<u32>,
}

/// Why a description cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SdpError {
    /// Too long, no `m=audio`, or a line that does not read.
    Malformed(&'static str),
    /// A media line other than RTP audio.
    Unsupported,
}

impl Description {
    /// Reads the text between the braces of `Local { … }` or `Remote { … }`.
    pub(crate) fn parse(text: &str) -> Result<Self, SdpError> {
        if text.len() > MAX_SDP {
            return Err(SdpError::Malformed("too long"));
        }
        let mut d = Self::default();
        let mut audio = false;
        for raw in text.lines() {
            let line = raw.trim();
            if line.is_empty() {
                continue;
            }
            let Some((kind, value)) = line.split_once('=') else {
                return Err(SdpError::Malformed("a line without ="));
            };
            match kind.trim() {
                "c" => {
                    let mut w = value.split_whitespace();
                    let (net, family, addr) = (w.next(), w.next(), w.next());
                    if net != Some("IN") || !matches!(family, Some("IP4" | "IP6")) {
                        return Err(SdpError::Malformed("c="));
                    }
                    d.address = match addr {
                        Some("$" | "-") | None => None,
                        Some(a) => Some(a.parse().map_err(|_| SdpError::Malformed("c= address"))?),
                    };
                }
                "m" => {
                    let mut w = value.split_whitespace();
                    if w.next() != Some("audio") {
                        return Err(SdpError::Unsupported);
                    }
                    d.port = match w.next() {
                        Some("$" | "-") => None,
                        Some(p) => Some(
                            p.split('/')
                                .next()
                                .and_then(|p| p.parse().ok())
                                .ok_or(SdpError::Malformed("m= port"))?,
                        ),
                        None => return Err(SdpError::Malformed("m= port")),
                    };
                    if !matches!(w.next(), Some("RTP/AVP")) {
                        return Err(SdpError::Unsupported);
                    }
                    for pt in w.take(MAX_PAYLOADS) {
                        match pt {
                            "$" | "-" => {}
                            pt => d
                                .payloads
                                .push(pt.parse().map_err(|_| SdpError::Malformed("m= format"))?),
                        }
                    }
                    audio = true;
                }
                "a" => {
                    if let Some(p) = value.strip_prefix("ptime:") {
                        d.ptime = p.trim().parse().ok();
                    }
                }
                _ => {}
            }
        }
        if !audio {
            return Err(SdpError::Malformed("no m=audio"));
        }
        Ok(d)
    }

    /// The remote RTP address, when fully specified.
    pub(crate) fn socket(&self) -> Option<SocketAddr> {
        Some(SocketAddr::new(
            self.address?,
            self.port.filter(|&p| p != 0)?,
        ))
    }
}

/// The codecs an analog gateway has, by payload type.
pub(crate) fn codec(payload: u8) -> Option<Codec> {
    match payload {
        0 => Some(Codec::Pcmu),
        8 => Some(Codec::Pcma),
        _ => None,
    }
}

/// The Local description the gateway answers with: its address, port and one codec, on lines
/// of their own between the braces.
pub(crate) fn local(address: SocketAddr, codec: Codec, ptime: Option<u32>) -> String {
    let family = if address.is_ipv4() { "IP4" } else { "IP6" };
    let mut s = String::new();
    let _ = write!(
        s,
        "\nv=0\nc=IN {family} {}\nm=audio {} RTP/AVP {}\n",
        address.ip(),
        address.port(),
        codec.payload_type()
    );
    if let Some(p) = ptime {
        let _ = writeln!(s, "a=ptime:{p}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_the_controller_writes() {
        let local = Description::parse("\nv=0\nc=IN IP4 $\nm=audio $ RTP/AVP 0\n").unwrap();
        assert_eq!(local.address, None);
        assert_eq!(local.port, None);
        assert_eq!(local.payloads, vec![0]);
        let remote = Description::parse(
            "v=0\r\nc=IN IP4 127.0.0.1\r\nm=audio 16400 RTP/AVP 8 0\r\na=ptime:20",
        )
        .unwrap();
        assert_eq!(remote.socket(), Some("127.0.0.1:16400".parse().unwrap()));
        assert_eq!(remote.payloads, vec![8, 0]);
        assert_eq!(remote.ptime, Some(20));
        assert_eq!(
            Description::parse("v=0\nm=video 1 RTP/AVP 31"),
            Err(SdpError::Unsupported)
        );
        assert!(Description::parse("v=0\nc=IN IP4 x\nm=audio 1 RTP/AVP 0").is_err());
        assert!(Description::parse("v=0").is_err());
        let ours = super::local("127.0.0.1:40000".parse().unwrap(), Codec::Pcmu, None);
        assert_eq!(ours, "\nv=0\nc=IN IP4 127.0.0.1\nm=audio 40000 RTP/AVP 0\n");
        assert_eq!(
            Description::parse(&ours).unwrap().socket(),
            Some("127.0.0.1:40000".parse().unwrap())
        );
    }
}
