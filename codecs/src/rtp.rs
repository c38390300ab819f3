//! RTP packets (RFC 3550 §5.1), header extensions (RFC 3550 §5.3.1, RFC 8285) and the
//! identifier newtypes shared by [`crate::rtcp`], [`crate::dtmf`] and [`crate::jitter`].
//!
//! Follows smoltcp's wire style: [`Packet`] is a checked view over a byte buffer with field
//! accessors, and [`Repr`] is the parsed, owned-or-borrowed high-level form with
//! `parse`/`emit`/`buffer_len`. [`Packet::new_checked`] validates every length (CSRC list,
//! extension, padding) so that no accessor can panic afterwards.
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
//! |V=2|P|X|  CC   |M|     PT      |       sequence number         |
//! |                           timestamp                           |
//! |           synchronization source (SSRC) identifier            |
//! |            contributing source (CSRC) identifiers             |
//! ```

use core::cmp::Ordering;
use core::fmt;

use thiserror::Error;

/// Synchronisation source identifier (RFC 3550 §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ssrc(pub u32);

impl fmt::Display for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:08x}", self.0)
    }
}

/// RTP sequence number, compared modulo 2^16 (RFC 3550 §5.1, RFC 1982 serial arithmetic).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SequenceNumber(pub u16);

impl SequenceNumber {
    /// The number `n` steps later, wrapping at 65535.
    #[must_use]
    pub const fn wrapping_add(self, n: u16) -> Self {
        Self(self.0.wrapping_add(n))
    }

    /// Signed distance `self - earlier` in the shortest direction around the circle.
    pub const fn distance(self, earlier: Self) -> i16 {
        self.0.wrapping_sub(earlier.0) as i16
    }

    /// Whether `self` comes after `other` (modulo 2^16).
    pub const fn is_after(self, other: Self) -> bool {
        self.distance(other) > 0
    }

    /// Orders two sequence numbers by wrapping distance. This is not a total order over all
    /// of u16, so it is a method rather than an `Ord` impl.
    pub const fn wrapping_cmp(self, other: Self) -> Ordering {
        let d = self.distance(other);
        if d > 0 {
            Ordering::Greater
        } else if d < 0 {
            Ordering::Less
        } else {
            Ordering::Equal
        }
    }
}

/// RTP media timestamp, compared modulo 2^32.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Timestamp(pub u32);

impl Timestamp {
    /// The timestamp `n` clock ticks later, wrapping.
    #[must_use]
    pub const fn wrapping_add(self, n: u32) -> Self {
        Self(self.0.wrapping_add(n))
    }

    /// Signed distance `self - earlier` in clock ticks, the shortest way round.
    pub const fn distance(self, earlier: Self) -> i32 {
        self.0.wrapping_sub(earlier.0) as i32
    }

    /// Whether `self` comes after `other` (modulo 2^32).
    pub const fn is_after(self, other: Self) -> bool {
        self.distance(other) > 0
    }
}

/// Errors from parsing or emitting RTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    // Malformed input.
    /// The buffer ends before `field`, which starts at `offset` and needs `needed` bytes.
    #[error("truncated: {field} at offset {offset} needs {needed} bytes, packet has {len}")]
    Truncated {
        /// Field that did not fit.
        field: &'static str,
        /// Where it starts.
        offset: usize,
        /// Bytes up to the end of the field.
        needed: usize,
        /// Packet length.
        len: usize,
    },
    /// The version field (offset 0) is not 2.
    #[error("version at offset 0 is {0}, expected 2")]
    Version(u8),
    /// The padding count (last byte, at `offset`) is 0 or larger than the space after the header.
    #[error(
        "padding count {count} at offset {offset} exceeds the {available} bytes after the header"
    )]
    Padding {
        /// Offset of the count byte.
        offset: usize,
        /// Its value.
        count: u8,
        /// Bytes between the header and the end of the packet.
        available: usize,
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
    /// A [`Repr`] that cannot be encoded: extension data not a multiple of 4 or over 262140
    /// bytes, more than 15 CSRCs, or padding of 0 with the padding flag implied.
    #[error("cannot encode: {0}")]
    Unrepresentable(&'static str),
}

/// Field offsets (RFC 3550 §5.1).
mod field {
    use core::ops::Range;
    pub(super) const VER_P_X_CC: usize = 0;
    pub(super) const M_PT: usize = 1;
    pub(super) const SEQ: Range<usize> = 2..4;
    pub(super) const TIMESTAMP: Range<usize> = 4..8;
    pub(super) const SSRC: Range<usize> = 8..12;
    pub(super) const CSRC: usize = 12;
}

/// Fixed header length.
pub const HEADER_LEN: usize = field::CSRC;
/// Largest CSRC count the 4-bit CC field allows.
pub const MAX_CSRCS: usize = 15;
/// RFC 8285 one-byte header extension profile.
pub const EXT_ONE_BYTE: u16 = 0xBEDE;

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The big-endian `u32` at `at`; the caller has checked the length.
pub(crate) fn be32(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A read/write view over an RTP packet.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    buffer: T,
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checks; accessors may panic until [`Self::check_len`] passes.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer and validates version, CSRC list, extension and padding.
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Validates the buffer so that every accessor is in bounds.
    pub fn check_len(&self) -> Result<(), Error> {
        let b = self.buffer.as_ref();
        let len = b.len();
        let trunc = |field, offset, needed| Error::Truncated {
            field,
            offset,
            needed,
            len,
        };
        if len < HEADER_LEN {
            return Err(trunc("fixed header", 0, HEADER_LEN));
        }
        if self.version() != 2 {
            return Err(Error::Version(self.version()));
        }
        let csrc_end = HEADER_LEN + 4 * self.csrc_count();
        if len < csrc_end {
            return Err(trunc("CSRC list", HEADER_LEN, csrc_end));
        }
        let mut header_end = csrc_end;
        if self.has_extension() {
            if len < csrc_end + 4 {
                return Err(trunc("extension header", csrc_end, csrc_end + 4));
            }
            let words = be16(b, csrc_end + 2) as usize;
            header_end = csrc_end + 4 + 4 * words;
            if len < header_end {
                return Err(trunc("extension data", csrc_end + 4, header_end));
            }
        }
        if self.has_padding() {
            let count = b[len - 1];
            let available = len - header_end;
            if count == 0 || count as usize > available {
                return Err(Error::Padding {
                    offset: len - 1,
                    count,
                    available,
                });
            }
        }
        Ok(())
    }

    /// Returns the underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    /// Version field (2 for RFC 3550).
    pub fn version(&self) -> u8 {
        self.buffer.as_ref()[field::VER_P_X_CC] >> 6
    }

    /// Padding flag.
    pub fn has_padding(&self) -> bool {
        self.buffer.as_ref()[field::VER_P_X_CC] & 0x20 != 0
    }

    /// Extension flag.
    pub fn has_extension(&self) -> bool {
        self.buffer.as_ref()[field::VER_P_X_CC] & 0x10 != 0
    }

    /// Number of CSRCs.
    pub fn csrc_count(&self) -> usize {
        (self.buffer.as_ref()[field::VER_P_X_CC] & 0x0F) as usize
    }

    /// Marker bit.
    pub fn marker(&self) -> bool {
        self.buffer.as_ref()[field::M_PT] & 0x80 != 0
    }

    /// Payload type.
    pub fn payload_type(&self) -> u8 {
        self.buffer.as_ref()[field::M_PT] & 0x7F
    }

    /// Sequence number.
    pub fn sequence_number(&self) -> SequenceNumber {
        SequenceNumber(be16(self.buffer.as_ref(), field::SEQ.start))
    }

    /// Timestamp.
    pub fn timestamp(&self) -> Timestamp {
        Timestamp(be32(self.buffer.as_ref(), field::TIMESTAMP.start))
    }

    /// SSRC.
    pub fn ssrc(&self) -> Ssrc {
        Ssrc(be32(self.buffer.as_ref(), field::SSRC.start))
    }

    /// The CSRCs, in order.
    pub fn csrcs(&self) -> impl Iterator<Item = Ssrc> + '_ {
        let b = self.buffer.as_ref();
        (0..self.csrc_count()).map(move |i| Ssrc(be32(b, field::CSRC + 4 * i)))
    }

    fn extension_start(&self) -> usize {
        HEADER_LEN + 4 * self.csrc_count()
    }

    /// Length of everything before the payload (fixed header, CSRCs, extension).
    pub fn header_len(&self) -> usize {
        let start = self.extension_start();
        if self.has_extension() {
            start + 4 + 4 * be16(self.buffer.as_ref(), start + 2) as usize
        } else {
            start
        }
    }

    /// Number of padding bytes at the end, including the count byte (0 without padding).
    pub fn padding_len(&self) -> usize {
        if self.has_padding() {
            let b = self.buffer.as_ref();
            b[b.len() - 1] as usize
        } else {
            0
        }
    }

    /// The header extension, if the X bit is set.
    pub fn extension(&self) -> Option<Extension<'_>> {
        if !self.has_extension() {
            return None;
        }
        let b = self.buffer.as_ref();
        let start = self.extension_start();
        Some(Extension {
            profile: be16(b, start),
            data: &b[start + 4..self.header_len()],
        })
    }

    /// The payload, without header and padding.
    pub fn payload(&self) -> &[u8] {
        let b = self.buffer.as_ref();
        &b[self.header_len()..b.len() - self.padding_len()]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    fn set_first_byte(&mut self, version: u8, padding: bool, extension: bool, cc: u8) {
        self.buffer.as_mut()[field::VER_P_X_CC] =
            (version << 6) | (u8::from(padding) << 5) | (u8::from(extension) << 4) | (cc & 0x0F);
    }

    /// Sets the marker bit and payload type.
    pub fn set_marker_payload_type(&mut self, marker: bool, pt: u8) {
        self.buffer.as_mut()[field::M_PT] = (u8::from(marker) << 7) | (pt & 0x7F);
    }

    /// Sets the sequence number.
    pub fn set_sequence_number(&mut self, seq: SequenceNumber) {
        self.buffer.as_mut()[field::SEQ].copy_from_slice(&seq.0.to_be_bytes());
    }

    /// Sets the timestamp.
    pub fn set_timestamp(&mut self, ts: Timestamp) {
        self.buffer.as_mut()[field::TIMESTAMP].copy_from_slice(&ts.0.to_be_bytes());
    }

    /// Sets the SSRC.
    pub fn set_ssrc(&mut self, ssrc: Ssrc) {
        self.buffer.as_mut()[field::SSRC].copy_from_slice(&ssrc.0.to_be_bytes());
    }

    /// The payload, mutable (valid once the header is written).
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let start = self.header_len();
        let end = self.buffer.as_ref().len() - self.padding_len();
        &mut self.buffer.as_mut()[start..end]
    }
}

/// A header extension (RFC 3550 §5.3.1): 16-bit profile and data (a multiple of 4 bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extension<'a> {
    /// "Defined by profile" field: 0xBEDE for RFC 8285 one-byte, 0x100x for two-byte headers.
    pub profile: u16,
    /// Extension data, without the 4-byte extension header.
    pub data: &'a [u8],
}

/// One RFC 8285 element: local identifier and data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionElement<'a> {
    /// Local identifier (1–14 one-byte, 1–255 two-byte).
    pub id: u8,
    /// Element data.
    pub data: &'a [u8],
}

impl<'a> Extension<'a> {
    /// Whether this is an RFC 8285 one-byte header extension.
    pub const fn is_one_byte(&self) -> bool {
        self.profile == EXT_ONE_BYTE
    }

    /// Whether this is an RFC 8285 two-byte header extension (0x100 followed by 4 app bits).
    pub const fn is_two_byte(&self) -> bool {
        self.profile >> 4 == 0x100
    }

    /// Iterates the RFC 8285 elements. Yields nothing for other profiles; stops at the
    /// first malformed element (an element running past the data, or the one-byte id 15).
    pub fn elements(&self) -> impl Iterator<Item = ExtensionElement<'a>> + 'a {
        let data = self.data;
        let one = self.is_one_byte();
        let two = self.is_two_byte();
        let mut pos = if one || two { 0 } else { data.len() };
        core::iter::from_fn(move || {
            loop {
                let &first = data.get(pos)?;
                if first == 0 {
                    pos += 1; // padding byte
                    continue;
                }
                let (id, len, hdr) = if one {
                    if first >> 4 == 15 {
                        pos = data.len();
                        return None;
                    }
                    (first >> 4, (first & 0x0F) as usize + 1, 1)
                } else {
                    (first, *data.get(pos + 1)? as usize, 2)
                };
                let start = pos + hdr;
                let Some(el) = data.get(start..start + len) else {
                    pos = data.len();
                    return None;
                };
                pos = start + len;
                return Some(ExtensionElement { id, data: el });
            }
        })
    }
}

/// The CSRC list of a [`Repr`], held inline (at most 15 entries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Csrcs {
    ids: [Ssrc; MAX_CSRCS],
    len: u8,
}

impl Csrcs {
    /// Builds a list, or `None` when more than 15 are given.
    pub fn from_slice(ids: &[Ssrc]) -> Option<Self> {
        let mut c = Self::default();
        c.ids.get_mut(..ids.len())?.copy_from_slice(ids);
        c.len = ids.len() as u8;
        Some(c)
    }

    /// The entries.
    pub fn as_slice(&self) -> &[Ssrc] {
        &self.ids[..self.len as usize]
    }
}

/// High-level form of an RTP packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Marker bit.
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence_number: SequenceNumber,
    /// Timestamp.
    pub timestamp: Timestamp,
    /// SSRC.
    pub ssrc: Ssrc,
    /// CSRC list.
    pub csrcs: Csrcs,
    /// Header extension.
    pub extension: Option<Extension<'a>>,
    /// Payload bytes.
    pub payload: &'a [u8],
    /// Padding bytes to append, including the count byte; 0 means no padding.
    pub padding: u8,
}

impl<'a> Repr<'a> {
    /// Parses a checked packet.
    pub fn parse<T: AsRef<[u8]> + ?Sized>(packet: &Packet<&'a T>) -> Result<Self, Error> {
        packet.check_len()?;
        let b: &'a [u8] = packet.buffer.as_ref();
        let view = Packet::new_unchecked(b);
        let mut csrcs = Csrcs::default();
        for (slot, id) in csrcs.ids.iter_mut().zip(view.csrcs()) {
            *slot = id;
        }
        csrcs.len = view.csrc_count() as u8;
        let extension = if view.has_extension() {
            let start = view.extension_start();
            Some(Extension {
                profile: be16(b, start),
                data: &b[start + 4..view.header_len()],
            })
        } else {
            None
        };
        Ok(Self {
            marker: view.marker(),
            payload_type: view.payload_type(),
            sequence_number: view.sequence_number(),
            timestamp: view.timestamp(),
            ssrc: view.ssrc(),
            csrcs,
            extension,
            payload: &b[view.header_len()..b.len() - view.padding_len()],
            padding: view.padding_len() as u8,
        })
    }

    /// Parses a byte slice (shorthand for `new_checked` + `parse`).
    pub fn parse_bytes(bytes: &'a [u8]) -> Result<Self, Error> {
        Self::parse(&Packet::new_checked(bytes)?)
    }

    /// Header length: fixed header, CSRCs and extension.
    pub fn header_len(&self) -> usize {
        HEADER_LEN
            + 4 * self.csrcs.as_slice().len()
            + self.extension.map_or(0, |e| 4 + e.data.len())
    }

    /// Bytes [`Self::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        self.header_len() + self.payload.len() + self.padding as usize
    }

    /// Writes the packet into the front of `buffer` and returns the length written.
    pub fn emit(&self, buffer: &mut [u8]) -> Result<usize, Error> {
        let needed = self.buffer_len();
        if let Some(e) = self.extension
            && (!e.data.len().is_multiple_of(4) || e.data.len() / 4 > u16::MAX as usize)
        {
            return Err(Error::Unrepresentable(
                "extension data length must be a multiple of 4 up to 262140",
            ));
        }
        let Some(buf) = buffer.get_mut(..needed) else {
            return Err(Error::BufferTooShort {
                needed,
                got: buffer.len(),
            });
        };
        let mut p = Packet::new_unchecked(&mut *buf);
        let cc = self.csrcs.as_slice().len();
        p.set_first_byte(2, self.padding > 0, self.extension.is_some(), cc as u8);
        p.set_marker_payload_type(self.marker, self.payload_type);
        p.set_sequence_number(self.sequence_number);
        p.set_timestamp(self.timestamp);
        p.set_ssrc(self.ssrc);
        let mut at = HEADER_LEN;
        for id in self.csrcs.as_slice() {
            buf[at..at + 4].copy_from_slice(&id.0.to_be_bytes());
            at += 4;
        }
        if let Some(e) = self.extension {
            buf[at..at + 2].copy_from_slice(&e.profile.to_be_bytes());
            buf[at + 2..at + 4].copy_from_slice(&((e.data.len() / 4) as u16).to_be_bytes());
            buf[at + 4..at + 4 + e.data.len()].copy_from_slice(e.data);
            at += 4 + e.data.len();
        }
        buf[at..at + self.payload.len()].copy_from_slice(self.payload);
        at += self.payload.len();
        if self.padding > 0 {
            // Zeros, the last of which is replaced by the count (RFC 3550 §5.1).
            buf[at..].fill(0);
            buf[needed - 1] = self.padding;
        }
        Ok(needed)
    }
}

/// Stamps the outgoing packets of one stream: consecutive sequence numbers, timestamps that
/// advance by the samples in each payload, and the marker bit on the first packet of each
/// talkspurt (RFC 3551 §4.1). The initial sequence number and timestamp should be random
/// (RFC 3550 §5.1); the caller draws them from its seeded RNG.
#[derive(Debug, Clone)]
pub struct Packetizer {
    ssrc: Ssrc,
    payload_type: u8,
    next_seq: SequenceNumber,
    next_ts: Timestamp,
    marker: bool,
}

impl Packetizer {
    /// A stream whose first packet has `first_seq` and `first_ts` (and the marker bit).
    pub const fn new(
        ssrc: Ssrc,
        payload_type: u8,
        first_seq: SequenceNumber,
        first_ts: Timestamp,
    ) -> Self {
        Self {
            ssrc,
            payload_type: payload_type & 0x7F,
            next_seq: first_seq,
            next_ts: first_ts,
            marker: true,
        }
    }

    /// The packet carrying `payload`, which holds `samples` clock ticks of media.
    pub fn packet<'a>(&mut self, payload: &'a [u8], samples: u32) -> Repr<'a> {
        let repr = Repr {
            marker: core::mem::take(&mut self.marker),
            payload_type: self.payload_type,
            sequence_number: self.next_seq,
            timestamp: self.next_ts,
            ssrc: self.ssrc,
            csrcs: Csrcs::default(),
            extension: None,
            payload,
            padding: 0,
        };
        self.next_seq = self.next_seq.wrapping_add(1);
        self.next_ts = self.next_ts.wrapping_add(samples);
        repr
    }

    /// Skips `samples` ticks of suppressed silence; the next packet starts a talkspurt.
    pub fn skip(&mut self, samples: u32) {
        self.next_ts = self.next_ts.wrapping_add(samples);
        self.marker = true;
    }
}

#[cfg(test)]
mod tests;
