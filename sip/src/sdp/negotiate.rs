//! The offer/answer model (RFC 3264 §5–§7) over [`Session`], for what Offhook can do
//! ([`Capabilities`]).

use std::net::SocketAddr;
use std::time::Duration;

use gateway_control::model::{Codec, Media};

use super::{
    Capabilities, Direction, MediaDescription, Negotiated, NoCommonCodec, Origin, RtpMap, Session,
};

/// The default packetisation time when a description has no `a=ptime` (RFC 3551 §4.5).
pub const DEFAULT_PTIME: Duration = Duration::from_millis(20);

/// The `a=fmtp` we write for telephone-event: the 16 DTMF events (RFC 4733 §3.2).
const TELEPHONE_EVENTS: &str = "0-15";

/// The dynamic payload type Offhook gives Opus in its offers (telephone-event is 101).
pub const OPUS_PAYLOAD_TYPE: u8 = 96;

/// The `a=fmtp` we write for Opus (RFC 7587 §6.1): Offhook decodes to and encodes from 8 kHz
/// PCM, so it asks for nothing above narrowband (`maxplaybackrate`) and says it captures
/// nothing above it (`sprop-maxcapturerate`); mono both ways; in-band FEC asked for, since
/// the jitter buffer recovers a lost packet from the next one's FEC.
pub const OPUS_FMTP: &str =
    "maxplaybackrate=8000; sprop-maxcapturerate=8000; stereo=0; sprop-stereo=0; useinbandfec=1";

/// The name Offhook writes in `o=` and `s=`.
const NAME: &str = "Offhook";

/// The `a=rtpmap` of a codec: `PCMU/8000`, `PCMA/8000`, and Opus always as `opus/48000/2`
/// (RFC 7587 §7: the RTP clock is 48 kHz and two channels are declared whatever is sent).
fn codec_rtpmap(codec: Codec) -> RtpMap {
    RtpMap {
        payload_type: codec.payload_type(),
        encoding: codec.name().to_owned(),
        clock_rate: codec.clock_rate(),
        channels: matches!(codec, Codec::Opus { .. }).then_some(2),
    }
}

/// Whether two codecs are the same encoding, whatever dynamic payload type each side gave
/// Opus.
pub fn same_encoding(a: Codec, b: Codec) -> bool {
    match (a, b) {
        (Codec::Opus { .. }, Codec::Opus { .. }) => true,
        _ => a == b,
    }
}

/// Whether `caps` lists `codec`'s encoding.
fn supported(caps: &[Codec], codec: Codec) -> bool {
    caps.iter().any(|&c| same_encoding(c, codec))
}

/// The `a=fmtp` we write for `codec`, if any.
fn codec_fmtp(codec: Codec) -> Option<(u8, String)> {
    matches!(codec, Codec::Opus { .. }).then(|| (codec.payload_type(), OPUS_FMTP.to_owned()))
}

impl MediaDescription {
    /// The `a=rtpmap` for payload type `pt`, if any.
    pub fn rtpmap_for(&self, pt: u8) -> Option<&RtpMap> {
        self.rtpmap.iter().find(|r| r.payload_type == pt)
    }

    /// The codec payload type `pt` stands for: its `a=rtpmap` when there is one (G.711 at
    /// 8 kHz mono; Opus as `opus/48000/2` on a dynamic payload type, RFC 7587 §7, where a
    /// missing channel count is tolerated), else the RFC 3551 static assignment (0 PCMU,
    /// 8 PCMA). Anything else is `None`.
    pub fn codec(&self, pt: u8) -> Option<Codec> {
        match self.rtpmap_for(pt) {
            Some(r) if r.encoding.eq_ignore_ascii_case("opus") => {
                let dynamic = (96..=127).contains(&pt);
                (dynamic && r.clock_rate == 48_000 && r.channels.is_none_or(|c| c == 2))
                    .then_some(Codec::Opus { payload_type: pt })
            }
            Some(r) => {
                if r.clock_rate != 8000 || r.channels.is_some_and(|c| c != 1) {
                    None
                } else if r.encoding.eq_ignore_ascii_case("PCMU") {
                    Some(Codec::Pcmu)
                } else if r.encoding.eq_ignore_ascii_case("PCMA") {
                    Some(Codec::Pcma)
                } else {
                    None
                }
            }
            None => match pt {
                0 => Some(Codec::Pcmu),
                8 => Some(Codec::Pcma),
                _ => None,
            },
        }
    }

    /// The payload type of the first listed `telephone-event/8000` (RFC 4733 §7.1.1).
    pub fn telephone_event(&self) -> Option<u8> {
        self.formats.iter().copied().find(|&pt| {
            self.rtpmap_for(pt).is_some_and(|r| {
                r.encoding.eq_ignore_ascii_case("telephone-event") && r.clock_rate == 8000
            })
        })
    }

    /// Whether this is an audio RTP/AVP stream that was not refused (port 0).
    pub(super) fn usable_audio(&self) -> bool {
        self.kind == "audio" && self.protocol == "RTP/AVP" && self.port != 0
    }

    /// The stream as declined (RFC 3264 §6: port 0, the offer's formats, no attributes).
    fn declined(&self) -> Self {
        Self {
            kind: self.kind.clone(),
            port: 0,
            protocol: self.protocol.clone(),
            formats: self.formats.clone(),
            rtpmap: Vec::new(),
            fmtp: Vec::new(),
            connection: None,
            direction: self.direction,
            ptime: None,
        }
    }
}

/// The far side of a stream: its address (media level, else session level) and whether it
/// is on hold by the old `c=0.0.0.0` convention (RFC 3264 §8.4, from RFC 2543).
fn remote_address(session: &Session, m: &MediaDescription) -> Option<(SocketAddr, bool)> {
    let ip = m.connection.or(session.connection)?;
    Some((SocketAddr::new(ip, m.port), ip.is_unspecified()))
}

fn ptime_of(m: &MediaDescription) -> Duration {
    match m.ptime {
        Some(ms) if ms > 0 => Duration::from_millis(u64::from(ms)),
        _ => DEFAULT_PTIME,
    }
}

fn on_hold(direction: Direction, null_address: bool) -> bool {
    null_address || matches!(direction, Direction::SendOnly | Direction::Inactive)
}

fn ptime_ms(caps: &Capabilities) -> u32 {
    u32::try_from(caps.ptime.as_millis()).unwrap_or(u32::MAX)
}

fn our_session(
    caps: &Capabilities,
    session_id: u64,
    version: u64,
    media: Vec<MediaDescription>,
) -> Session {
    Session {
        origin: Origin {
            username: "-".to_owned(),
            session_id,
            version,
            address: caps.address.ip(),
        },
        name: NAME.to_owned(),
        connection: Some(caps.address.ip()),
        direction: None,
        media,
    }
}

/// An offer from us (for INVITE with SDP or re-INVITE): one audio stream with our codecs in
/// order and, when `caps.telephone_event` is set, telephone-event 0-15.
pub fn offer(caps: &Capabilities, session_id: u64, version: u64, direction: Direction) -> Session {
    let mut formats: Vec<u8> = caps.codecs.iter().map(|c| c.payload_type()).collect();
    let mut rtpmap: Vec<RtpMap> = caps.codecs.iter().map(|&c| codec_rtpmap(c)).collect();
    let mut fmtp: Vec<(u8, String)> = caps.codecs.iter().filter_map(|&c| codec_fmtp(c)).collect();
    if let Some(pt) = caps.telephone_event {
        formats.push(pt);
        rtpmap.push(RtpMap {
            payload_type: pt,
            encoding: "telephone-event".to_owned(),
            clock_rate: 8000,
            channels: None,
        });
        fmtp.push((pt, TELEPHONE_EVENTS.to_owned()));
    }
    let audio = MediaDescription {
        kind: "audio".to_owned(),
        port: caps.address.port(),
        protocol: "RTP/AVP".to_owned(),
        formats,
        rtpmap,
        fmtp,
        connection: None,
        direction,
        ptime: Some(ptime_ms(caps)),
    };
    our_session(caps, session_id, version, vec![audio])
}

/// Our answer to the phone's offer, and the phone's side as the station manager's
/// [`Media`], or why not (→ 488).
///
/// RFC 3264 §6: the answer has the offer's m-lines in order; the first usable audio stream
/// (`audio`, `RTP/AVP`, port not 0, an address) with a codec in common is accepted, every other
/// stream is declined with port 0. The codec is the first of the offer's formats that we
/// support (the offerer's preference), Opus keeping the offer's payload type, as does
/// telephone-event. Our
/// direction mirrors the phone's (`sendonly` ↔ `recvonly`).
pub fn answer(
    offer: &Session,
    caps: &Capabilities,
    session_id: u64,
    version: u64,
) -> Result<(Session, Negotiated), NoCommonCodec> {
    let mut negotiated = None;
    let mut media = Vec::with_capacity(offer.media.len());
    for m in &offer.media {
        if negotiated.is_some() || !m.usable_audio() {
            media.push(m.declined());
            continue;
        }
        let chosen = m.formats.iter().find_map(|&pt| {
            m.codec(pt)
                .filter(|&c| supported(&caps.codecs, c))
                .map(|c| (pt, c))
        });
        let (Some((pt, codec)), Some((address, null_address))) = (chosen, remote_address(offer, m))
        else {
            media.push(m.declined());
            continue;
        };
        let telephone_event = caps.telephone_event.and(m.telephone_event());
        let mut formats = vec![pt];
        let mut rtpmap = vec![RtpMap {
            payload_type: pt,
            ..codec_rtpmap(codec)
        }];
        let mut fmtp: Vec<(u8, String)> = codec_fmtp(codec).into_iter().collect();
        if let Some(te) = telephone_event {
            formats.push(te);
            rtpmap.push(RtpMap {
                payload_type: te,
                encoding: "telephone-event".to_owned(),
                clock_rate: 8000,
                channels: None,
            });
            fmtp.push((te, TELEPHONE_EVENTS.to_owned()));
        }
        media.push(MediaDescription {
            kind: m.kind.clone(),
            port: caps.address.port(),
            protocol: m.protocol.clone(),
            formats,
            rtpmap,
            fmtp,
            connection: None,
            direction: m.direction.mirrored(),
            ptime: Some(ptime_ms(caps)),
        });
        negotiated = Some(Negotiated {
            remote: Media {
                address,
                codec,
                ptime: ptime_of(m),
                telephone_event,
            },
            direction: m.direction,
            on_hold: on_hold(m.direction, null_address),
        });
    }
    let negotiated = negotiated.ok_or(NoCommonCodec)?;
    Ok((our_session(caps, session_id, version, media), negotiated))
}

/// The phone's answer to our offer: what was agreed.
///
/// The answer must have as many m-lines as the offer (RFC 3264 §6); the first stream that
/// both sides kept (port not 0) and whose codec is one we offered is used. The phone sends
/// with the answer's payload types, so telephone-event is the answer's.
pub fn accept_answer(our_offer: &Session, answer: &Session) -> Result<Negotiated, NoCommonCodec> {
    if our_offer.media.len() != answer.media.len() {
        return Err(NoCommonCodec);
    }
    for (ours, theirs) in our_offer.media.iter().zip(&answer.media) {
        if !ours.usable_audio() || !theirs.usable_audio() {
            continue;
        }
        let offered: Vec<Codec> = ours
            .formats
            .iter()
            .filter_map(|&pt| ours.codec(pt))
            .collect();
        let Some(codec) = theirs
            .formats
            .iter()
            .find_map(|&pt| theirs.codec(pt).filter(|&c| supported(&offered, c)))
        else {
            continue;
        };
        let Some((address, null_address)) = remote_address(answer, theirs) else {
            continue;
        };
        let telephone_event = ours.telephone_event().and(theirs.telephone_event());
        return Ok(Negotiated {
            remote: Media {
                address,
                codec,
                ptime: ptime_of(theirs),
                telephone_event,
            },
            direction: theirs.direction,
            on_hold: on_hold(theirs.direction, null_address),
        });
    }
    Err(NoCommonCodec)
}
