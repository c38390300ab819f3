//! RTCP (RFC 3550 §6): sender and receiver reports with report blocks (§6.4), source
//! descriptions (§6.5, CNAME and the other items), BYE (§6.6), compound packets with the
//! validity checks of Appendix A.2, and receiver statistics per Appendices A.1, A.3 and A.8
//! in [`ReceiverStats`].
//!
//! Wire style follows smoltcp: [`Packet`] is a checked view of one RTCP packet at the front
//! of a buffer, [`Repr`] its parsed form with `parse`/`emit`/`buffer_len`, and [`Compound`]
//! iterates the packets of a compound datagram. RTCP is rare (one compound every few
//! seconds), so [`Repr`] collects report blocks and SDES chunks in `Vec`s; their counts come
//! from a 5-bit field, so no parse allocates more than 31 elements.

mod stats;

pub use stats::{NtpTime, ReceiverStats};
use thiserror::Error;

use crate::rtp::{Ssrc, be32};

/// Errors from parsing or emitting RTCP. Offsets are from the start of the compound buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    // Malformed input.
    /// The buffer ends before `field`.
    #[error("truncated: {field} at offset {offset} needs {needed} bytes, {len} available")]
    Truncated {
        /// Field that did not fit.
        field: &'static str,
        /// Its offset.
        offset: usize,
        /// Bytes the field needs.
        needed: usize,
        /// Bytes available from `offset`.
        len: usize,
    },
    /// The version (at `offset`) is not 2.
    #[error("version at offset {offset} is {version}, expected 2")]
    Version {
        /// Offset of the packet header.
        offset: usize,
        /// Version found.
        version: u8,
    },
    /// The length field (at `offset` + 2) declares more bytes than the buffer holds.
    #[error("length at offset {offset} declares {declared} bytes, {available} available")]
    Length {
        /// Offset of the packet header.
        offset: usize,
        /// Declared packet length in bytes.
        declared: usize,
        /// Bytes left in the buffer.
        available: usize,
    },
    /// The padding count is 0 or exceeds the packet body.
    #[error("padding count {count} at offset {offset} exceeds the {available}-byte body")]
    Padding {
        /// Offset of the count byte.
        offset: usize,
        /// Its value.
        count: u8,
        /// Body length.
        available: usize,
    },
    /// An SDES chunk has no terminating null item.
    #[error("SDES chunk at offset {offset} has no end item")]
    SdesUnterminated {
        /// Offset of the chunk.
        offset: usize,
    },
    // Peer protocol violations (RFC 3550 A.2).
    /// A compound packet does not start with SR or RR.
    #[error("compound packet starts with packet type {0}, not SR or RR")]
    CompoundStart(u8),
    /// A packet other than the last of a compound has the padding bit.
    #[error("padding bit set on the packet at offset {offset}, which is not the last")]
    PaddingNotLast {
        /// Offset of the packet.
        offset: usize,
    },
    // API misuse.
    /// `emit` was given a buffer shorter than [`Repr::buffer_len`].
    #[error("emit buffer is {got} bytes, packet needs {needed}")]
    BufferTooShort {
        /// `buffer_len()`.
        needed: usize,
        /// Buffer length.
        got: usize,
    },
    /// The [`Repr`] cannot be encoded (more than 31 blocks/chunks/sources, an SDES item or
    /// BYE reason over 255 bytes, a cumulative loss outside 24 bits, or over 256 KiB).
    #[error("cannot encode: {0}")]
    Unrepresentable(&'static str),
}

/// Packet type: sender report.
pub const SR: u8 = 200;
/// Packet type: receiver report.
pub const RR: u8 = 201;
/// Packet type: source description.
pub const SDES: u8 = 202;
/// Packet type: goodbye.
pub const BYE: u8 = 203;
/// Packet type: application-defined.
pub const APP: u8 = 204;

/// SDES item type: canonical name.
pub const SDES_CNAME: u8 = 1;

/// Common header length.
pub const HEADER_LEN: usize = 4;
/// Report block length.
pub const REPORT_BLOCK_LEN: usize = 24;
const SENDER_INFO_LEN: usize = 20;
const MAX_COUNT: usize = 31;

mod field {
    pub(super) const V_P_COUNT: usize = 0;
    pub(super) const PT: usize = 1;
    pub(super) const LENGTH: core::ops::Range<usize> = 2..4;
}

/// A view of the RTCP packet at the front of a buffer (the buffer may hold more packets).
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checks.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer and checks the header, declared length and padding.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Self::new_unchecked(buffer);
        p.check(0)?;
        Ok(p)
    }

    /// Checks the packet, reporting offsets relative to `base`.
    fn check(&self, base: usize) -> Result<(), Error> {
        let b = self.buffer.as_ref();
        if b.len() < HEADER_LEN {
            return Err(Error::Truncated {
                field: "header",
                offset: base,
                needed: HEADER_LEN,
                len: b.len(),
            });
        }
        if self.version() != 2 {
            return Err(Error::Version {
                offset: base,
                version: self.version(),
            });
        }
        let declared = self.total_len();
        if declared > b.len() {
            return Err(Error::Length {
                offset: base,
                declared,
                available: b.len(),
            });
        }
        if self.has_padding() {
            let count = b[declared - 1];
            let available = declared - HEADER_LEN;
            if count == 0 || count as usize > available {
                return Err(Error::Padding {
                    offset: base + declared - 1,
                    count,
                    available,
                });
            }
        }
        Ok(())
    }

    /// Version field.
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::V_P_COUNT] >> 6
    }

    /// Padding bit.
    pub fn has_padding(&self) -> bool {
        self.buffer.as_ref()[field::V_P_COUNT] & 0x20 != 0
    }

    /// Count field: report blocks, SDES chunks or BYE sources (APP: subtype).
    pub fn count(&self) -> u8 {
        self.buffer.as_ref()[field::V_P_COUNT] & 0x1F
    }

    /// Packet type.
    pub fn packet_type(&self) -> u8 {
        self.buffer.as_ref()[field::PT]
    }

    /// Length of this packet in bytes, from the length field.
    pub fn total_len(&self) -> usize {
        let b = self.buffer.as_ref();
        (usize::from(u16::from_be_bytes([
            b[field::LENGTH.start],
            b[field::LENGTH.start + 1],
        ])) + 1)
            * 4
    }

    /// The body after the common header, without padding.
    pub fn body(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        let end = self.total_len();
        let pad = if self.has_padding() {
            b[end - 1] as usize
        } else {
            0
        };
        &b[HEADER_LEN..end - pad]
    }
}

/// NTP-format sender information of an SR (§6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SenderInfo {
    /// Wall-clock time of the report.
    pub ntp_time: NtpTime,
    /// RTP timestamp corresponding to `ntp_time`.
    pub rtp_time: u32,
    /// Packets sent.
    pub packet_count: u32,
    /// Payload octets sent.
    pub octet_count: u32,
}

/// A reception report block (§6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// Source this block reports on.
    pub ssrc: Ssrc,
    /// Fraction lost since the last report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost: 24-bit signed (−8388608..=8388607); duplicates make it negative.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received.
    pub extended_highest_seq: u32,
    /// Interarrival jitter in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP time of the last SR received (0 if none).
    pub last_sr: u32,
    /// Delay since that SR in 1/65536 s (0 if none).
    pub delay_since_last_sr: u32,
}

impl ReportBlock {
    fn parse(b: &[u8]) -> Self {
        let lost = u32::from_be_bytes([0, b[5], b[6], b[7]]);
        // Sign-extend the 24-bit field.
        let cumulative_lost = ((lost << 8) as i32) >> 8;
        Self {
            ssrc: Ssrc(be32(b, 0)),
            fraction_lost: b[4],
            cumulative_lost,
            extended_highest_seq: be32(b, 8),
            jitter: be32(b, 12),
            last_sr: be32(b, 16),
            delay_since_last_sr: be32(b, 20),
        }
    }

    fn emit(&self, b: &mut [u8]) -> Result<(), Error> {
        if !(-0x80_0000..=0x7F_FFFF).contains(&self.cumulative_lost) {
            return Err(Error::Unrepresentable(
                "cumulative lost outside 24-bit signed range",
            ));
        }
        b[0..4].copy_from_slice(&self.ssrc.0.to_be_bytes());
        b[4] = self.fraction_lost;
        b[5..8].copy_from_slice(&(self.cumulative_lost as u32).to_be_bytes()[1..]);
        b[8..12].copy_from_slice(&self.extended_highest_seq.to_be_bytes());
        b[12..16].copy_from_slice(&self.jitter.to_be_bytes());
        b[16..20].copy_from_slice(&self.last_sr.to_be_bytes());
        b[20..24].copy_from_slice(&self.delay_since_last_sr.to_be_bytes());
        Ok(())
    }
}

/// One SDES item (§6.5): type and value (UTF-8 by the RFC, kept as bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SdesItem<'a> {
    /// Item type (1 CNAME, 2 NAME, … 8 PRIV).
    pub kind: u8,
    /// Item text.
    pub value: &'a [u8],
}

/// One SDES chunk: a source and its items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk<'a> {
    /// Source described.
    pub ssrc: Ssrc,
    /// Items, in order.
    pub items: Vec<SdesItem<'a>>,
}

impl SdesChunk<'_> {
    /// The CNAME item, if present.
    pub fn cname(&self) -> Option<&[u8]> {
        self.items
            .iter()
            .find(|i| i.kind == SDES_CNAME)
            .map(|i| i.value)
    }

    fn len(&self) -> usize {
        let items: usize = self.items.iter().map(|i| 2 + i.value.len()).sum();
        // SSRC, items, at least one null octet, padded to 32 bits.
        (4 + items + 1).div_ceil(4) * 4
    }
}

/// High-level form of one RTCP packet. Padding is removed on parse; `emit` adds it only when
/// the content (an SR/RR extension or an opaque body) is not a multiple of 4 bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repr<'a> {
    /// Sender report.
    SenderReport {
        /// Sender.
        ssrc: Ssrc,
        /// Sender information.
        info: SenderInfo,
        /// Reception reports.
        reports: Vec<ReportBlock>,
        /// Profile-specific extension after the blocks.
        extension: &'a [u8],
    },
    /// Receiver report.
    ReceiverReport {
        /// Reporter.
        ssrc: Ssrc,
        /// Reception reports.
        reports: Vec<ReportBlock>,
        /// Profile-specific extension after the blocks.
        extension: &'a [u8],
    },
    /// Source description.
    SourceDescription(Vec<SdesChunk<'a>>),
    /// Goodbye.
    Goodbye {
        /// Sources leaving.
        sources: Vec<Ssrc>,
        /// Reason for leaving.
        reason: Option<&'a [u8]>,
    },
    /// Any other packet type (APP, XR, feedback…), kept opaque.
    Other {
        /// Packet type.
        packet_type: u8,
        /// Count/subtype field.
        count: u8,
        /// Body, without padding.
        body: &'a [u8],
    },
}

fn truncated(field: &'static str, offset: usize, needed: usize, len: usize) -> Error {
    Error::Truncated {
        field,
        offset,
        needed,
        len,
    }
}

fn parse_reports(
    body: &[u8],
    at: usize,
    count: usize,
    base: usize,
) -> Result<(Vec<ReportBlock>, usize), Error> {
    let end = at + count * REPORT_BLOCK_LEN;
    if body.len() < end {
        return Err(truncated(
            "report blocks",
            base + at,
            end - at,
            body.len().saturating_sub(at),
        ));
    }
    let reports = body[at..end]
        .chunks_exact(REPORT_BLOCK_LEN)
        .map(ReportBlock::parse)
        .collect();
    Ok((reports, end))
}

fn parse_sdes(body: &[u8], count: usize, base: usize) -> Result<Vec<SdesChunk<'_>>, Error> {
    let mut chunks = Vec::with_capacity(count);
    let mut at = 0;
    for _ in 0..count {
        let start = at;
        if body.len() < at + 4 {
            return Err(truncated(
                "SDES chunk",
                base + at,
                4,
                body.len().saturating_sub(at),
            ));
        }
        let ssrc = Ssrc(be32(body, at));
        at += 4;
        let mut items = Vec::new();
        loop {
            let Some(&kind) = body.get(at) else {
                return Err(Error::SdesUnterminated {
                    offset: base + start,
                });
            };
            if kind == 0 {
                // End of list, then null octets up to the next 32-bit boundary.
                at = (at + 1).div_ceil(4) * 4;
                break;
            }
            let Some(&len) = body.get(at + 1) else {
                return Err(truncated("SDES item length", base + at + 1, 1, 0));
            };
            let Some(value) = body.get(at + 2..at + 2 + len as usize) else {
                return Err(truncated(
                    "SDES item",
                    base + at + 2,
                    len as usize,
                    body.len() - (at + 2).min(body.len()),
                ));
            };
            items.push(SdesItem { kind, value });
            at += 2 + len as usize;
        }
        chunks.push(SdesChunk { ssrc, items });
    }
    Ok(chunks)
}

impl<'a> Repr<'a> {
    /// Parses the packet at the front of `packet`'s buffer.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Self, Error> {
        Self::parse_at(packet.buffer.as_ref(), 0)
    }

    fn parse_at(bytes: &'a [u8], base: usize) -> Result<Self, Error> {
        let p = Packet::new_unchecked(bytes);
        p.check(base)?;
        let count = p.count() as usize;
        let body: &'a [u8] = {
            let end = p.total_len();
            let pad = if p.has_padding() {
                bytes[end - 1] as usize
            } else {
                0
            };
            &bytes[HEADER_LEN..end - pad]
        };
        let base = base + HEADER_LEN;
        Ok(match p.packet_type() {
            SR => {
                if body.len() < 4 + SENDER_INFO_LEN {
                    return Err(truncated(
                        "sender info",
                        base,
                        4 + SENDER_INFO_LEN,
                        body.len(),
                    ));
                }
                let info = SenderInfo {
                    ntp_time: NtpTime((u64::from(be32(body, 4)) << 32) | u64::from(be32(body, 8))),
                    rtp_time: be32(body, 12),
                    packet_count: be32(body, 16),
                    octet_count: be32(body, 20),
                };
                let (reports, end) = parse_reports(body, 24, count, base)?;
                Self::SenderReport {
                    ssrc: Ssrc(be32(body, 0)),
                    info,
                    reports,
                    extension: &body[end..],
                }
            }
            RR => {
                if body.len() < 4 {
                    return Err(truncated("reporter SSRC", base, 4, body.len()));
                }
                let (reports, end) = parse_reports(body, 4, count, base)?;
                Self::ReceiverReport {
                    ssrc: Ssrc(be32(body, 0)),
                    reports,
                    extension: &body[end..],
                }
            }
            SDES => Self::SourceDescription(parse_sdes(body, count, base)?),
            BYE => {
                let end = count * 4;
                if body.len() < end {
                    return Err(truncated("BYE sources", base, end, body.len()));
                }
                let sources = body[..end]
                    .chunks_exact(4)
                    .map(|c| Ssrc(be32(c, 0)))
                    .collect();
                let reason = match body.get(end) {
                    None => None,
                    Some(&len) => match body.get(end + 1..end + 1 + len as usize) {
                        Some(text) => Some(text),
                        None => {
                            return Err(truncated(
                                "BYE reason",
                                base + end + 1,
                                len as usize,
                                body.len() - end - 1,
                            ));
                        }
                    },
                };
                Self::Goodbye { sources, reason }
            }
            packet_type => Self::Other {
                packet_type,
                count: p.count(),
                body,
            },
        })
    }

    fn body_len(&self) -> usize {
        match self {
            Self::SenderReport {
                reports, extension, ..
            } => 4 + SENDER_INFO_LEN + reports.len() * REPORT_BLOCK_LEN + extension.len(),
            Self::ReceiverReport {
                reports, extension, ..
            } => 4 + reports.len() * REPORT_BLOCK_LEN + extension.len(),
            Self::SourceDescription(chunks) => chunks.iter().map(SdesChunk::len).sum(),
            Self::Goodbye { sources, reason } => {
                4 * sources.len() + reason.map_or(0, |r| (1 + r.len()).div_ceil(4) * 4)
            }
            Self::Other { body, .. } => body.len(),
        }
    }

    /// Bytes [`Self::emit`] writes: the body rounded up to 32 bits with padding.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.body_len().div_ceil(4) * 4
    }

    fn validate(&self) -> Result<(u8, u8), Error> {
        let too_many = |n: usize| {
            if n > MAX_COUNT {
                Err(Error::Unrepresentable("more than 31 entries"))
            } else {
                Ok(n as u8)
            }
        };
        if self.buffer_len() > 65536 * 4 {
            return Err(Error::Unrepresentable("packet longer than 256 KiB"));
        }
        Ok(match self {
            Self::SenderReport { reports, .. } => (SR, too_many(reports.len())?),
            Self::ReceiverReport { reports, .. } => (RR, too_many(reports.len())?),
            Self::SourceDescription(chunks) => {
                if chunks
                    .iter()
                    .flat_map(|c| &c.items)
                    .any(|i| i.value.len() > 255 || i.kind == 0)
                {
                    return Err(Error::Unrepresentable(
                        "SDES item over 255 bytes or of type 0",
                    ));
                }
                (SDES, too_many(chunks.len())?)
            }
            Self::Goodbye { sources, reason } => {
                if reason.is_some_and(|r| r.len() > 255) {
                    return Err(Error::Unrepresentable("BYE reason over 255 bytes"));
                }
                (BYE, too_many(sources.len())?)
            }
            Self::Other {
                packet_type, count, ..
            } => {
                if *count > 31 {
                    return Err(Error::Unrepresentable("count over 31"));
                }
                (*packet_type, *count)
            }
        })
    }

    /// Writes the packet into the front of `buffer` and returns its length.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<usize, Error> {
        let (pt, count) = self.validate()?;
        let needed = self.buffer_len();
        let Some(b) = buffer.get_mut(..needed) else {
            return Err(Error::BufferTooShort {
                needed,
                got: buffer.len(),
            });
        };
        b.fill(0);
        let body_len = self.body_len();
        let pad = needed - HEADER_LEN - body_len;
        b[field::V_P_COUNT] = 0x80 | (u8::from(pad > 0) << 5) | count;
        b[field::PT] = pt;
        b[field::LENGTH].copy_from_slice(&((needed / 4 - 1) as u16).to_be_bytes());
        if pad > 0 {
            b[needed - 1] = pad as u8;
        }
        let body = &mut b[HEADER_LEN..HEADER_LEN + body_len];
        let put32 =
            |body: &mut [u8], at: usize, v: u32| body[at..at + 4].copy_from_slice(&v.to_be_bytes());
        let emit_blocks = |body: &mut [u8], reports: &[ReportBlock]| -> Result<usize, Error> {
            for (chunk, r) in body.chunks_exact_mut(REPORT_BLOCK_LEN).zip(reports) {
                r.emit(chunk)?;
            }
            Ok(reports.len() * REPORT_BLOCK_LEN)
        };
        match self {
            Self::SenderReport {
                ssrc,
                info,
                reports,
                extension,
            } => {
                put32(body, 0, ssrc.0);
                body[4..12].copy_from_slice(&info.ntp_time.0.to_be_bytes());
                put32(body, 12, info.rtp_time);
                put32(body, 16, info.packet_count);
                put32(body, 20, info.octet_count);
                let n = emit_blocks(&mut body[24..], reports)?;
                body[24 + n..].copy_from_slice(extension);
            }
            Self::ReceiverReport {
                ssrc,
                reports,
                extension,
            } => {
                put32(body, 0, ssrc.0);
                let n = emit_blocks(&mut body[4..], reports)?;
                body[4 + n..].copy_from_slice(extension);
            }
            Self::SourceDescription(chunks) => {
                let mut at = 0;
                for c in chunks {
                    put32(body, at, c.ssrc.0);
                    let mut i = at + 4;
                    for item in &c.items {
                        body[i] = item.kind;
                        body[i + 1] = item.value.len() as u8;
                        body[i + 2..i + 2 + item.value.len()].copy_from_slice(item.value);
                        i += 2 + item.value.len();
                    }
                    // Null terminator and padding are already zero.
                    at += c.len();
                }
            }
            Self::Goodbye { sources, reason } => {
                for (i, s) in sources.iter().enumerate() {
                    put32(body, 4 * i, s.0);
                }
                if let Some(r) = reason {
                    let at = 4 * sources.len();
                    body[at] = r.len() as u8;
                    body[at + 1..at + 1 + r.len()].copy_from_slice(r);
                }
            }
            Self::Other { body: data, .. } => body.copy_from_slice(data),
        }
        Ok(needed)
    }
}

/// Iterates the packets of a compound RTCP datagram, checking each length (RFC 3550 A.2).
///
/// Yields an error once and then stops; packet offsets in errors are from the datagram start.
#[derive(Debug, Clone)]
pub struct Compound<'a> {
    bytes: &'a [u8],
    offset: usize,
    failed: bool,
}

impl<'a> Compound<'a> {
    /// Iterates `bytes`.
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self {
            bytes,
            offset: 0,
            failed: false,
        }
    }
}

impl<'a> Iterator for Compound<'a> {
    type Item = Result<Repr<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.offset >= self.bytes.len() {
            return None;
        }
        let rest = &self.bytes[self.offset..];
        let result = Repr::parse_at(rest, self.offset).and_then(|r| {
            let p = Packet::new_unchecked(rest);
            let len = p.total_len();
            if p.has_padding() && len != rest.len() {
                return Err(Error::PaddingNotLast {
                    offset: self.offset,
                });
            }
            self.offset += len;
            Ok(r)
        });
        self.failed = result.is_err();
        Some(result)
    }
}

/// Parses a whole compound datagram, requiring an SR or RR first (RFC 3550 A.2).
pub fn parse_compound(bytes: &[u8]) -> Result<Vec<Repr<'_>>, Error> {
    let packets = Compound::new(bytes).collect::<Result<Vec<_>, _>>()?;
    match packets.first() {
        None => Err(truncated("header", 0, HEADER_LEN, 0)),
        Some(Repr::SenderReport { .. } | Repr::ReceiverReport { .. }) => Ok(packets),
        Some(_) => Err(Error::CompoundStart(bytes[field::PT])),
    }
}

/// Writes `packets` back to back into `buffer` and returns the total length.
pub fn emit_compound(packets: &[Repr<'_>], buffer: &mut [u8]) -> Result<usize, Error> {
    let mut at = 0;
    for p in packets {
        let rest = buffer.get_mut(at..).unwrap_or_default();
        at += p.emit(rest)?;
    }
    Ok(at)
}

#[cfg(test)]
mod tests;
