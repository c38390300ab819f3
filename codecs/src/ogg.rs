//! Ogg pages and packets (RFC 3533).
//!
//! [`Page`] parses and emits one page (RFC 3533 §6: capture pattern `OggS`, version 0, header type
//! flags, 64-bit granule position, serial number, sequence number, CRC-32 with polynomial
//! `0x04c11db7` computed over the page with the CRC field zeroed, segment table and body).
//! [`PacketReader`] reassembles packets from a byte stream (packets spanning pages, the continued
//! flag, lacing values of 255, EOS), resynchronising on the next `OggS` after garbage or a bad CRC.
//! [`PacketWriter`] lays packets out into pages. Both stream: the reader holds at most one page and
//! one packet of at most its configured cap.

use std::io::{self, Read, Write};

use tracing::{debug, trace, warn};

/// The capture pattern that starts every page.
pub const CAPTURE: [u8; 4] = *b"OggS";
/// Size of the fixed part of a page header.
pub const HEADER_LEN: usize = 27;
/// Largest possible page: header, 255 lacing values, 255 × 255 body bytes.
pub const MAX_PAGE_LEN: usize = HEADER_LEN + 255 + 255 * 255;
/// Default cap on a reassembled packet ([`PacketReader::with_max_packet_len`] changes it).
pub const DEFAULT_MAX_PACKET_LEN: usize = 1024 * 1024;
/// Granule position meaning "no packet finishes on this page" (−1 in RFC 3533).
pub const GRANULE_NONE: u64 = u64::MAX;

/// Header type flag: the page starts with the continuation of a packet.
pub const FLAG_CONTINUED: u8 = 0x01;
/// Header type flag: first page of a logical bitstream.
pub const FLAG_BOS: u8 = 0x02;
/// Header type flag: last page of a logical bitstream.
pub const FLAG_EOS: u8 = 0x04;

mod field {
    use std::ops::Range;
    pub(super) const CAPTURE: Range<usize> = 0..4;
    pub(super) const VERSION: usize = 4;
    pub(super) const HEADER_TYPE: usize = 5;
    pub(super) const GRANULE: Range<usize> = 6..14;
    pub(super) const SERIAL: Range<usize> = 14..18;
    pub(super) const SEQUENCE: Range<usize> = 18..22;
    pub(super) const CRC: Range<usize> = 22..26;
    pub(super) const SEGMENTS: usize = 26;
}

/// Errors from parsing or writing Ogg.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- malformed input ----
    /// The buffer ends before the page does; `needed` bytes in total are required.
    #[error("page incomplete: {needed} bytes needed, {have} present")]
    Incomplete {
        /// Bytes the whole page needs (as far as known).
        needed: usize,
        /// Bytes present.
        have: usize,
    },
    /// The page does not start with `OggS`.
    #[error("capture pattern missing at offset {offset}")]
    Capture {
        /// Offset of the page in the stream.
        offset: u64,
    },
    /// A header field has a value this version of the format does not allow.
    #[error("invalid {field} at offset {offset}: {value}")]
    Field {
        /// The field.
        field: &'static str,
        /// Offset of the field in the stream.
        offset: u64,
        /// Its value.
        value: u64,
    },
    /// The page checksum does not match.
    #[error("CRC mismatch at offset {offset}: page says {stored:#010x}, computed {computed:#010x}")]
    Crc {
        /// Offset of the page in the stream.
        offset: u64,
        /// CRC in the page.
        stored: u32,
        /// CRC computed.
        computed: u32,
    },
    /// A packet grew beyond the reader's cap.
    #[error("packet at offset {offset} exceeds {limit} bytes")]
    PacketTooLarge {
        /// Offset of the page where the cap was crossed.
        offset: u64,
        /// The cap.
        limit: usize,
    },
    // ---- API misuse ----
    /// A packet was written after the EOS page.
    #[error("stream already ended")]
    Ended,
    // ---- I/O ----
    /// The underlying reader or writer failed.
    #[error("i/o: {0}")]
    Io(#[from] io::Error),
}

const CRC_TABLE: [u32; 256] = {
    let mut t = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut r = (i as u32) << 24;
        let mut b = 0;
        while b < 8 {
            r = if r & 0x8000_0000 != 0 {
                (r << 1) ^ 0x04c1_1db7
            } else {
                r << 1
            };
            b += 1;
        }
        t[i] = r;
        i += 1;
    }
    t
};

/// Ogg's CRC-32 (polynomial `0x04c11db7`, initial value 0, no reflection, no final XOR).
pub fn crc32(data: &[u8]) -> u32 {
    crc32_update(0, data)
}

fn crc32_update(mut crc: u32, data: &[u8]) -> u32 {
    for &b in data {
        crc = (crc << 8) ^ CRC_TABLE[((crc >> 24) as u8 ^ b) as usize];
    }
    crc
}

/// One Ogg page, borrowing its segment table and body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page<'a> {
    /// Header type flags ([`FLAG_CONTINUED`], [`FLAG_BOS`], [`FLAG_EOS`]).
    pub header_type: u8,
    /// Codec-defined position of the last packet that finishes on this page, or [`GRANULE_NONE`].
    pub granule: u64,
    /// Logical bitstream serial number.
    pub serial: u32,
    /// Page sequence number.
    pub sequence: u32,
    /// Lacing values (at most 255).
    pub segments: &'a [u8],
    /// Page body: the sum of the lacing values in bytes.
    pub body: &'a [u8],
}

impl<'a> Page<'a> {
    /// Parses the page at the start of `buf`, verifying its CRC, and returns it with its length.
    ///
    /// `offset` is the stream position of `buf[0]`, used only in errors. A short buffer gives
    /// [`Error::Incomplete`] with the number of bytes needed.
    pub fn parse(buf: &'a [u8], offset: u64) -> Result<(Self, usize), Error> {
        if buf.len() < HEADER_LEN {
            return Err(Error::Incomplete {
                needed: HEADER_LEN,
                have: buf.len(),
            });
        }
        if buf[field::CAPTURE] != CAPTURE {
            return Err(Error::Capture { offset });
        }
        if buf[field::VERSION] != 0 {
            return Err(Error::Field {
                field: "stream_structure_version",
                offset: offset + field::VERSION as u64,
                value: buf[field::VERSION].into(),
            });
        }
        let header_type = buf[field::HEADER_TYPE];
        if header_type & !(FLAG_CONTINUED | FLAG_BOS | FLAG_EOS) != 0 {
            return Err(Error::Field {
                field: "header_type_flag",
                offset: offset + field::HEADER_TYPE as u64,
                value: header_type.into(),
            });
        }
        let nseg = usize::from(buf[field::SEGMENTS]);
        let body_at = HEADER_LEN + nseg;
        if buf.len() < body_at {
            return Err(Error::Incomplete {
                needed: body_at,
                have: buf.len(),
            });
        }
        let segments = &buf[HEADER_LEN..body_at];
        let body_len: usize = segments.iter().map(|&s| usize::from(s)).sum();
        let total = body_at + body_len;
        if buf.len() < total {
            return Err(Error::Incomplete {
                needed: total,
                have: buf.len(),
            });
        }
        let stored = le32(&buf[field::CRC]);
        let mut crc = crc32_update(0, &buf[..field::CRC.start]);
        crc = crc32_update(crc, &[0; 4]);
        let computed = crc32_update(crc, &buf[field::CRC.end..total]);
        if stored != computed {
            return Err(Error::Crc {
                offset,
                stored,
                computed,
            });
        }
        let page = Self {
            header_type,
            granule: u64::from_le_bytes(buf[field::GRANULE].try_into().unwrap_or_default()),
            serial: le32(&buf[field::SERIAL]),
            sequence: le32(&buf[field::SEQUENCE]),
            segments,
            body: &buf[body_at..total],
        };
        Ok((page, total))
    }

    /// Bytes [`Self::emit`] writes.
    pub fn buffer_len(&self) -> usize {
        HEADER_LEN + self.segments.len() + self.body.len()
    }

    /// Appends the page, with its CRC, to `out`.
    ///
    /// The caller keeps `segments` to at most 255 values summing to `body.len()`; the writer in
    /// this module always does. A longer table is cut at 255 values.
    pub fn emit(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let nseg = self.segments.len().min(255);
        out.extend_from_slice(&CAPTURE);
        out.push(0);
        out.push(self.header_type);
        out.extend_from_slice(&self.granule.to_le_bytes());
        out.extend_from_slice(&self.serial.to_le_bytes());
        out.extend_from_slice(&self.sequence.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        out.push(nseg as u8);
        out.extend_from_slice(&self.segments[..nseg]);
        out.extend_from_slice(self.body);
        let crc = crc32(&out[start..]);
        out[start + field::CRC.start..start + field::CRC.end].copy_from_slice(&crc.to_le_bytes());
    }

    /// The page starts with the continuation of a packet from the previous page.
    pub fn is_continued(&self) -> bool {
        self.header_type & FLAG_CONTINUED != 0
    }

    /// First page of its logical bitstream.
    pub fn is_bos(&self) -> bool {
        self.header_type & FLAG_BOS != 0
    }

    /// Last page of its logical bitstream.
    pub fn is_eos(&self) -> bool {
        self.header_type & FLAG_EOS != 0
    }
}

fn le32(b: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    a.copy_from_slice(&b[..4]);
    u32::from_le_bytes(a)
}

/// A packet returned by [`PacketReader::next_packet`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// The packet bytes.
    pub data: &'a [u8],
    /// The page's granule position if this is the last packet finishing on that page.
    pub granule: Option<u64>,
    /// The packet is the first of the logical bitstream.
    pub bos: bool,
    /// The packet is the last of the logical bitstream (last packet on an EOS page).
    pub eos: bool,
}

/// What [`PacketReader`] dropped or repaired, for the caller's statistics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Pages read and accepted.
    pub pages: u64,
    /// Bytes skipped while searching for a capture pattern.
    pub garbage_bytes: u64,
    /// Pages dropped for a bad CRC or header.
    pub bad_pages: u64,
    /// Pages of other logical bitstreams ignored.
    pub foreign_pages: u64,
    /// Partial packets discarded because of a sequence gap or missing continuation.
    pub lost_packets: u64,
}

/// Reassembles the packets of the first logical bitstream in a byte stream.
///
/// Pages of other serial numbers are skipped (multiplexed streams are not our use); the stream
/// ends at the EOS page or end of input.
#[derive(Debug)]
pub struct PacketReader<R> {
    inner: R,
    max_packet_len: usize,
    buf: Vec<u8>,
    /// Valid bytes in `buf`.
    len: usize,
    /// Stream offset of `buf[0]`.
    offset: u64,
    eof: bool,
    /// Length of the current page at the front of `buf`, 0 if none.
    page_len: usize,
    /// Next lacing value to consume in the current page, and the body cursor.
    seg_idx: usize,
    body_pos: usize,
    serial: Option<u32>,
    next_sequence: Option<u32>,
    packet: Vec<u8>,
    /// A packet is being assembled across pages.
    partial: bool,
    /// The current partial packet is being thrown away (too large or broken).
    discarding: bool,
    first_packet: bool,
    ended: bool,
    stats: Stats,
}

impl<R: Read> PacketReader<R> {
    /// A reader with the [`DEFAULT_MAX_PACKET_LEN`] cap.
    pub fn new(inner: R) -> Self {
        Self::with_max_packet_len(inner, DEFAULT_MAX_PACKET_LEN)
    }

    /// A reader refusing packets longer than `max_packet_len` bytes.
    pub fn with_max_packet_len(inner: R, max_packet_len: usize) -> Self {
        Self {
            inner,
            max_packet_len,
            buf: vec![0; MAX_PAGE_LEN],
            len: 0,
            offset: 0,
            eof: false,
            page_len: 0,
            seg_idx: 0,
            body_pos: 0,
            serial: None,
            next_sequence: None,
            packet: Vec::new(),
            partial: false,
            discarding: false,
            first_packet: true,
            ended: false,
            stats: Stats::default(),
        }
    }

    /// Counters of what was skipped or dropped.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Serial number of the logical bitstream being read, once its first page is seen.
    pub fn serial(&self) -> Option<u32> {
        self.serial
    }

    /// Returns the next complete packet, or `None` at the end of the logical bitstream.
    ///
    /// A packet longer than the cap gives [`Error::PacketTooLarge`]; the reader then skips the
    /// rest of that packet, so reading may continue.
    pub fn next_packet(&mut self) -> Result<Option<Packet<'_>>, Error> {
        loop {
            if self.page_len != 0 {
                if let Some((granule, bos, eos)) = self.take_from_page()? {
                    return Ok(Some(Packet {
                        data: &self.packet,
                        granule,
                        bos,
                        eos,
                    }));
                }
                continue;
            }
            if self.ended {
                return Ok(None);
            }
            if !self.load_page()? {
                if self.partial {
                    self.stats.lost_packets += 1;
                    debug!("ogg stream ended inside a packet");
                }
                self.ended = true;
                return Ok(None);
            }
        }
    }

    /// Consumes lacing values of the current page; when a packet completes (in `self.packet`)
    /// returns its granule, BOS and EOS.
    fn take_from_page(&mut self) -> Result<Option<(Option<u64>, bool, bool)>, Error> {
        let nseg = usize::from(self.buf[field::SEGMENTS]);
        let body_at = HEADER_LEN + nseg;
        while self.seg_idx < nseg {
            if !self.partial {
                self.packet.clear();
            }
            let lace = usize::from(self.buf[HEADER_LEN + self.seg_idx]);
            self.seg_idx += 1;
            let start = body_at + self.body_pos;
            self.body_pos += lace;
            if !self.discarding {
                if self.packet.len() + lace > self.max_packet_len {
                    self.discarding = true;
                    self.packet.clear();
                    if lace == 255 {
                        self.partial = true;
                    } else {
                        self.partial = false;
                        self.discarding = false;
                    }
                    return Err(Error::PacketTooLarge {
                        offset: self.offset,
                        limit: self.max_packet_len,
                    });
                }
                self.packet
                    .extend_from_slice(&self.buf[start..start + lace]);
            }
            if lace == 255 {
                self.partial = true;
                continue;
            }
            // Packet complete.
            self.partial = false;
            if self.discarding {
                self.discarding = false;
                continue;
            }
            let last_on_page = !self.buf[HEADER_LEN + self.seg_idx..body_at]
                .iter()
                .any(|&l| l < 255);
            let header_type = self.buf[field::HEADER_TYPE];
            let granule =
                u64::from_le_bytes(self.buf[field::GRANULE].try_into().unwrap_or([0xFF; 8]));
            let bos = std::mem::take(&mut self.first_packet);
            let eos = last_on_page && header_type & FLAG_EOS != 0;
            if eos {
                self.ended = true;
            }
            trace!(len = self.packet.len(), granule, "ogg packet");
            let granule = (last_on_page && granule != GRANULE_NONE).then_some(granule);
            return Ok(Some((granule, bos, eos)));
        }
        // Page exhausted: drop it from the buffer.
        let header_type = self.buf[field::HEADER_TYPE];
        self.consume(self.page_len);
        self.page_len = 0;
        if header_type & FLAG_EOS != 0 {
            if self.partial {
                self.stats.lost_packets += 1;
                self.partial = false;
            }
            self.ended = true;
        }
        Ok(None)
    }

    fn consume(&mut self, n: usize) {
        self.buf.copy_within(n..self.len, 0);
        self.len -= n;
        self.offset += n as u64;
    }

    /// Fills `buf` to at least `want` bytes unless input ends; returns whether it got them.
    fn fill(&mut self, want: usize) -> Result<bool, Error> {
        while self.len < want && !self.eof {
            match self.inner.read(&mut self.buf[self.len..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.len += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(self.len >= want)
    }

    /// Finds, verifies and installs the next page of our stream; false at end of input.
    fn load_page(&mut self) -> Result<bool, Error> {
        loop {
            if !self.fill(HEADER_LEN)? {
                if self.len > 0 {
                    self.stats.garbage_bytes += self.len as u64;
                    debug!(bytes = self.len, "trailing bytes after last ogg page");
                    let n = self.len;
                    self.consume(n);
                }
                return Ok(false);
            }
            let needed = match Page::parse(&self.buf[..self.len], self.offset) {
                Ok((page, len)) => {
                    let (serial, seq, cont, bos) = (
                        page.serial,
                        page.sequence,
                        page.is_continued(),
                        page.is_bos(),
                    );
                    if self.accept(serial, seq, cont, bos) {
                        self.page_len = len;
                        self.seg_idx = 0;
                        self.body_pos = 0;
                        self.stats.pages += 1;
                        trace!(serial, seq, len, "ogg page");
                        return Ok(true);
                    }
                    self.consume(len);
                    continue;
                }
                Err(Error::Incomplete { needed, .. }) => needed,
                Err(Error::Capture { .. }) => {
                    self.resync(0);
                    continue;
                }
                Err(e) => {
                    self.stats.bad_pages += 1;
                    warn!(offset = self.offset, error = %e, "dropping bad ogg page");
                    self.resync(1);
                    continue;
                }
            };
            if !self.fill(needed)? {
                // Input ends inside a page: treat it as garbage and resync past its start.
                self.stats.bad_pages += 1;
                debug!(offset = self.offset, "ogg stream ends inside a page");
                self.resync(1);
            }
        }
    }

    /// Drops bytes up to the next capture pattern at or after `from + 0`.
    fn resync(&mut self, from: usize) {
        let skip = self.buf[from.min(self.len)..self.len]
            .windows(4)
            .position(|w| w == CAPTURE)
            .map_or(self.len.saturating_sub(3).max(from.min(self.len)), |p| {
                p + from
            });
        self.stats.garbage_bytes += skip as u64;
        self.consume(skip);
    }

    /// Decides whether a verified page belongs to our stream and handles sequence gaps.
    fn accept(&mut self, serial: u32, seq: u32, continued: bool, bos: bool) -> bool {
        match self.serial {
            None => {
                if !bos {
                    debug!(serial, "first ogg page lacks BOS");
                }
                self.serial = Some(serial);
            }
            Some(s) if s != serial => {
                self.stats.foreign_pages += 1;
                debug!(serial, "skipping page of another ogg stream");
                return false;
            }
            Some(_) => {}
        }
        let gap = self.next_sequence.is_some_and(|n| n != seq);
        self.next_sequence = Some(seq.wrapping_add(1));
        if gap || (continued != self.partial) {
            if self.partial {
                self.stats.lost_packets += 1;
                self.packet.clear();
                self.partial = false;
            }
            if continued {
                // The head of this packet is gone: drop its tail.
                self.stats.lost_packets += 1;
                self.discarding = true;
                self.partial = true;
            }
            debug!(
                seq,
                gap, continued, "ogg page sequence gap or continuation mismatch"
            );
        }
        true
    }
}

/// Lays packets out into Ogg pages for one logical bitstream.
///
/// The first page carries BOS. A page is written when [`Self::flush_page`] is called, when a
/// packet is written with `eos`, or when the lacing table fills up (255 values, about 64 KiB), in
/// which case a packet may continue on the next page.
#[derive(Debug)]
pub struct PacketWriter<W: Write> {
    inner: W,
    serial: u32,
    sequence: u32,
    segments: Vec<u8>,
    body: Vec<u8>,
    /// Granule of the last packet completed on the pending page.
    granule: u64,
    /// The pending page begins with the tail of a packet.
    continued: bool,
    bos_written: bool,
    ended: bool,
    page: Vec<u8>,
}

impl<W: Write> PacketWriter<W> {
    /// A writer for the logical bitstream `serial`.
    pub fn new(inner: W, serial: u32) -> Self {
        Self {
            inner,
            serial,
            sequence: 0,
            segments: Vec::with_capacity(255),
            body: Vec::new(),
            granule: GRANULE_NONE,
            continued: false,
            bos_written: false,
            ended: false,
            page: Vec::with_capacity(MAX_PAGE_LEN),
        }
    }

    /// Adds a packet ending at `granule`. With `eos` the packet is the last one and its page is
    /// written with the EOS flag.
    pub fn write_packet(&mut self, data: &[u8], granule: u64, eos: bool) -> Result<(), Error> {
        if self.ended {
            return Err(Error::Ended);
        }
        let mut rest = data;
        let mut first = true;
        loop {
            if self.segments.len() == 255 {
                self.write_page(false)?;
                // The next page continues this packet unless the packet has not started yet.
                self.continued = !first;
            }
            first = false;
            let take = rest.len().min(255);
            self.segments.push(take as u8);
            self.body.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if take < 255 {
                break;
            }
        }
        self.granule = granule;
        if eos {
            self.write_page(true)?;
            self.ended = true;
        }
        Ok(())
    }

    /// Writes the pending page, if any packet data is pending.
    pub fn flush_page(&mut self) -> Result<(), Error> {
        if !self.segments.is_empty() {
            self.write_page(false)?;
        }
        Ok(())
    }

    /// Pages written so far.
    pub fn pages_written(&self) -> u32 {
        self.sequence
    }

    /// Writes any pending data (with EOS if no packet carried it yet), flushes and returns the
    /// output. An empty stream gets a lone BOS+EOS page.
    pub fn finish(mut self) -> Result<W, Error> {
        if !self.ended {
            self.write_page(true)?;
        }
        self.inner.flush()?;
        Ok(self.inner)
    }

    fn write_page(&mut self, eos: bool) -> Result<(), Error> {
        // A page on which no packet completes (last lacing value 255) carries granule -1.
        let completes = self.segments.iter().any(|&l| l < 255);
        let mut header_type = 0;
        if self.continued {
            header_type |= FLAG_CONTINUED;
        }
        if !self.bos_written {
            header_type |= FLAG_BOS;
        }
        if eos {
            header_type |= FLAG_EOS;
        }
        let page = Page {
            header_type,
            granule: if completes {
                self.granule
            } else {
                GRANULE_NONE
            },
            serial: self.serial,
            sequence: self.sequence,
            segments: &self.segments,
            body: &self.body,
        };
        self.page.clear();
        page.emit(&mut self.page);
        self.inner.write_all(&self.page)?;
        trace!(
            seq = self.sequence,
            len = self.page.len(),
            "ogg page written"
        );
        self.sequence = self.sequence.wrapping_add(1);
        self.bos_written = true;
        self.continued = false;
        self.segments.clear();
        self.body.clear();
        Ok(())
    }
}

#[cfg(test)]
mod tests;
