//! Ogg Opus files (RFC 7845), streaming both ways.
//!
//! [`OggOpusWriter`] encodes mono PCM at an Opus input rate (8, 12, 16, 24 or 48 kHz; put a
//! [`crate::resample::Resampler`] in front for other rates) into an Ogg stream: an `OpusHead`
//! page (§5.1: version 1, channel count 1, pre-skip from the encoder lookahead, input sample
//! rate, gain 0, mapping family 0), an `OpusTags` page (§5.2: vendor `offhook` and optional
//! comments), then audio pages flushed about once a second of audio. Granule positions count
//! 48 kHz samples including the pre-skip (§4); the last page's granule position is trimmed so
//! that a decoder outputs exactly as many samples as were written (§4.4). The EOS flag marks the
//! last page.
//!
//! [`OggOpusReader`] validates both header packets, decodes at a requested rate, drops the
//! pre-skip and trims the end by the final granule position.
//!
//! Neither holds more than one Ogg page and one Opus frame in memory.

use std::io::{Read, Write};

use tracing::{debug, trace, warn};

use crate::ogg::{self, PacketReader, PacketWriter};
use crate::opus::{self, Decoder, Encoder, EncoderConfig, MAX_PACKET_LEN, SampleRate};

/// Vendor string written in `OpusTags`.
pub const VENDOR: &str = "offhook";
/// Audio written between forced page flushes, in 48 kHz samples (1 s).
pub const PAGE_FLUSH_48K: u64 = 48_000;
/// Largest header or audio packet the reader accepts (a larger `OpusTags`, e.g. with cover art,
/// is skipped).
pub const MAX_READ_PACKET_LEN: usize = 128 * 1024;
/// Most comments kept from `OpusTags`.
pub const MAX_COMMENTS: usize = 256;

const HEAD_MAGIC: &[u8; 8] = b"OpusHead";
const TAGS_MAGIC: &[u8; 8] = b"OpusTags";
const HEAD_LEN: usize = 19;

/// Errors from reading or writing Ogg Opus.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- malformed input ----
    /// A header packet is missing or malformed.
    #[error("invalid {field} at offset {offset} of the {packet} packet: {reason}")]
    Header {
        /// `"OpusHead"` or `"OpusTags"`.
        packet: &'static str,
        /// The field.
        field: &'static str,
        /// Offset of the field within the packet.
        offset: usize,
        /// What is wrong.
        reason: &'static str,
    },
    /// A well-formed stream we do not decode (e.g. multichannel mapping families).
    #[error("unsupported {field}: {value}")]
    Unsupported {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u32,
    },
    /// The Ogg layer failed.
    #[error("ogg: {0}")]
    Ogg(#[from] ogg::Error),
    /// The Opus codec failed (a corrupt packet, or a bad setting).
    #[error("opus: {0}")]
    Opus(#[from] opus::Error),
    // ---- API misuse ----
    /// A comment without `=` or with a bad field name (§5.2.1).
    #[error("invalid comment {0:?}: expected FIELD=value")]
    Comment(String),
}

/// Decoded `OpusHead` (RFC 7845 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpusHead {
    /// Output channel count.
    pub channels: u8,
    /// 48 kHz samples to drop at the start.
    pub pre_skip: u16,
    /// Sample rate of the original input (informational).
    pub input_sample_rate: u32,
    /// Gain in Q7.8 dB to apply on output.
    pub output_gain: i16,
    /// Channel mapping family.
    pub mapping_family: u8,
}

impl OpusHead {
    /// Parses an `OpusHead` packet.
    pub fn parse(p: &[u8]) -> Result<Self, Error> {
        let err = |field, offset, reason| Error::Header {
            packet: "OpusHead",
            field,
            offset,
            reason,
        };
        if p.len() < 8 || &p[..8] != HEAD_MAGIC {
            return Err(err("magic", 0, "not \"OpusHead\""));
        }
        if p.len() < HEAD_LEN {
            return Err(err("length", p.len(), "shorter than 19 bytes"));
        }
        // §5.1: major version 0 (upper four bits) is all we understand.
        if p[8] & 0xF0 != 0 {
            return Err(Error::Unsupported {
                field: "OpusHead version",
                value: p[8].into(),
            });
        }
        if p[8] == 0 {
            return Err(err("version", 8, "version 0 is invalid"));
        }
        let head = Self {
            channels: p[9],
            pre_skip: u16::from_le_bytes([p[10], p[11]]),
            input_sample_rate: u32::from_le_bytes([p[12], p[13], p[14], p[15]]),
            output_gain: i16::from_le_bytes([p[16], p[17]]),
            mapping_family: p[18],
        };
        if head.channels == 0 {
            return Err(err("channel count", 9, "zero"));
        }
        if head.mapping_family != 0 {
            return Err(Error::Unsupported {
                field: "channel mapping family",
                value: head.mapping_family.into(),
            });
        }
        if head.channels > 2 {
            return Err(err("channel count", 9, "family 0 allows only 1 or 2"));
        }
        Ok(head)
    }

    /// Appends the 19-byte packet to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(HEAD_MAGIC);
        out.push(1);
        out.push(self.channels);
        out.extend_from_slice(&self.pre_skip.to_le_bytes());
        out.extend_from_slice(&self.input_sample_rate.to_le_bytes());
        out.extend_from_slice(&self.output_gain.to_le_bytes());
        out.push(self.mapping_family);
    }
}

/// Decoded `OpusTags` (RFC 7845 §5.2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OpusTags {
    /// Encoder vendor string.
    pub vendor: String,
    /// `FIELD=value` comments (at most [`MAX_COMMENTS`] are kept).
    pub comments: Vec<String>,
}

impl OpusTags {
    /// Parses an `OpusTags` packet.
    pub fn parse(p: &[u8]) -> Result<Self, Error> {
        let err = |field, offset, reason| Error::Header {
            packet: "OpusTags",
            field,
            offset,
            reason,
        };
        if p.len() < 8 || &p[..8] != TAGS_MAGIC {
            return Err(err("magic", 0, "not \"OpusTags\""));
        }
        let u32_at = |at: usize, field| {
            p.get(at..at + 4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize)
                .ok_or(err(field, at, "packet ends"))
        };
        let vendor_len = u32_at(8, "vendor length")?;
        let vendor = p.get(12..12usize.saturating_add(vendor_len)).ok_or(err(
            "vendor length",
            8,
            "longer than the packet",
        ))?;
        let mut at = 12 + vendor_len;
        let count = u32_at(at, "comment count")?;
        // Each comment takes at least 4 bytes: a larger count is a lie (checked before any
        // allocation).
        if count > (p.len() - at - 4) / 4 {
            return Err(err("comment count", at, "more comments than bytes"));
        }
        at += 4;
        let mut comments = Vec::with_capacity(count.min(MAX_COMMENTS));
        for _ in 0..count {
            let len = u32_at(at, "comment length")?;
            let c = p.get(at + 4..(at + 4).saturating_add(len)).ok_or(err(
                "comment length",
                at,
                "longer than the packet",
            ))?;
            if comments.len() < MAX_COMMENTS {
                comments.push(String::from_utf8_lossy(c).into_owned());
            }
            at += 4 + len;
        }
        Ok(Self {
            vendor: String::from_utf8_lossy(vendor).into_owned(),
            comments,
        })
    }

    /// Appends the packet to `out`.
    pub fn emit(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(TAGS_MAGIC);
        out.extend_from_slice(&(self.vendor.len() as u32).to_le_bytes());
        out.extend_from_slice(self.vendor.as_bytes());
        out.extend_from_slice(&(self.comments.len() as u32).to_le_bytes());
        for c in &self.comments {
            out.extend_from_slice(&(c.len() as u32).to_le_bytes());
            out.extend_from_slice(c.as_bytes());
        }
    }
}

/// Settings for [`OggOpusWriter`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterConfig {
    /// Encoder settings; its sample rate is the rate of the PCM passed to
    /// [`OggOpusWriter::write`].
    pub encoder: EncoderConfig,
    /// Ogg serial number (an input, like every random value in Offhook).
    pub serial: u32,
    /// `FIELD=value` comments for `OpusTags`.
    pub comments: Vec<String>,
    /// Rate of the original recording for `OpusHead`, if it was resampled before encoding;
    /// `None` records the encoder rate.
    pub original_sample_rate: Option<u32>,
}

impl WriterConfig {
    /// Default encoder settings for PCM at `sample_rate` Hz.
    pub fn new(sample_rate: u32, serial: u32) -> Result<Self, Error> {
        Ok(Self {
            encoder: EncoderConfig::new(sample_rate)?,
            serial,
            comments: Vec::new(),
            original_sample_rate: None,
        })
    }
}

/// Streaming Ogg Opus encoder: PCM in, Ogg pages out.
#[derive(Debug)]
pub struct OggOpusWriter<W: Write> {
    ogg: PacketWriter<W>,
    enc: Encoder,
    factor: u64,
    pre_skip: u16,
    /// Samples of the frame being filled.
    frame: Vec<i16>,
    /// Input samples accepted so far.
    input_samples: u64,
    /// Packets encoded so far.
    packets: u64,
    /// The most recent packet, held back so the last one can carry EOS and the trimmed granule.
    held: Vec<u8>,
    has_held: bool,
    last_flush_granule: u64,
    scratch: Box<[u8; MAX_PACKET_LEN]>,
}

impl<W: Write> OggOpusWriter<W> {
    /// Writes the two header pages.
    pub fn new(inner: W, config: WriterConfig) -> Result<Self, Error> {
        for c in &config.comments {
            let ok = c.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.bytes().all(|b| (0x20..=0x7D).contains(&b) && b != b'=')
            });
            if !ok {
                return Err(Error::Comment(c.clone()));
            }
        }
        let enc = Encoder::new(config.encoder)?;
        let rate = config.encoder.sample_rate;
        let factor = u64::from(rate.factor_48k());
        let pre_skip = u16::try_from(u64::from(enc.lookahead()) * factor).unwrap_or(u16::MAX);
        let mut ogg = PacketWriter::new(inner, config.serial);
        let mut buf = Vec::with_capacity(64);
        OpusHead {
            channels: 1,
            pre_skip,
            input_sample_rate: config.original_sample_rate.unwrap_or(rate.hz()),
            output_gain: 0,
            mapping_family: 0,
        }
        .emit(&mut buf);
        ogg.write_packet(&buf, 0, false)?;
        ogg.flush_page()?;
        buf.clear();
        OpusTags {
            vendor: VENDOR.to_owned(),
            comments: config.comments,
        }
        .emit(&mut buf);
        ogg.write_packet(&buf, 0, false)?;
        ogg.flush_page()?;
        debug!(rate = rate.hz(), pre_skip, "ogg opus stream started");
        Ok(Self {
            ogg,
            frame: Vec::with_capacity(enc.frame_samples()),
            enc,
            factor,
            pre_skip,
            input_samples: 0,
            packets: 0,
            held: Vec::with_capacity(MAX_PACKET_LEN),
            has_held: false,
            last_flush_granule: 0,
            scratch: Box::new([0; MAX_PACKET_LEN]),
        })
    }

    /// The pre-skip written in `OpusHead`, in 48 kHz samples.
    pub fn pre_skip(&self) -> u16 {
        self.pre_skip
    }

    /// Input samples accepted so far.
    pub fn samples_written(&self) -> u64 {
        self.input_samples
    }

    /// Encodes `pcm` (mono, at the encoder rate), writing pages as they fill.
    pub fn write(&mut self, mut pcm: &[i16]) -> Result<(), Error> {
        self.input_samples += pcm.len() as u64;
        let fs = self.enc.frame_samples();
        while !pcm.is_empty() {
            let take = (fs - self.frame.len()).min(pcm.len());
            self.frame.extend_from_slice(&pcm[..take]);
            pcm = &pcm[take..];
            if self.frame.len() == fs {
                self.encode_frame()?;
            }
        }
        Ok(())
    }

    /// Pads and encodes the last frame (plus what the encoder delay needs), writes the final
    /// page with EOS and a granule position trimmed to the input length, and returns the output.
    pub fn finish(mut self) -> Result<W, Error> {
        let fs = self.enc.frame_samples();
        let frame_48k = fs as u64 * self.factor;
        let end_48k = u64::from(self.pre_skip) + self.input_samples * self.factor;
        // Encode until the decoded length (packets × frame − pre-skip) covers the input.
        while !self.frame.is_empty() || self.packets * frame_48k < end_48k {
            self.frame.resize(fs, 0);
            self.encode_frame()?;
        }
        if self.has_held {
            self.ogg.write_packet(&self.held, end_48k, true)?;
        }
        debug!(
            samples = self.input_samples,
            packets = self.packets,
            granule = end_48k,
            "ogg opus stream finished"
        );
        Ok(self.ogg.finish()?)
    }

    fn encode_frame(&mut self) -> Result<(), Error> {
        let n = self.enc.encode(&self.frame, &mut self.scratch[..])?;
        self.frame.clear();
        if self.has_held {
            let granule = self.packets * self.enc.frame_samples() as u64 * self.factor;
            self.ogg.write_packet(&self.held, granule, false)?;
            if granule - self.last_flush_granule >= PAGE_FLUSH_48K {
                self.ogg.flush_page()?;
                self.last_flush_granule = granule;
            }
        }
        self.held.clear();
        self.held.extend_from_slice(&self.scratch[..n]);
        self.has_held = true;
        self.packets += 1;
        trace!(bytes = n, packet = self.packets, "ogg opus frame");
        Ok(())
    }
}

/// Streaming Ogg Opus decoder: Ogg pages in, mono PCM out at a chosen rate.
#[derive(Debug)]
pub struct OggOpusReader<R> {
    ogg: PacketReader<R>,
    head: OpusHead,
    tags: OpusTags,
    dec: Decoder,
    factor: u64,
    /// Output samples still to drop for the pre-skip.
    skip: u64,
    /// 48 kHz samples decoded so far (including the pre-skip).
    decoded_48k: u64,
    pcm: Vec<i16>,
    pos: usize,
    done: bool,
    corrupt_packets: u64,
}

impl<R: Read> OggOpusReader<R> {
    /// Reads and validates `OpusHead` and `OpusTags`; output will be at `rate`.
    pub fn new(inner: R, rate: SampleRate) -> Result<Self, Error> {
        let mut ogg = PacketReader::with_max_packet_len(inner, MAX_READ_PACKET_LEN);
        let missing = |packet| Error::Header {
            packet,
            field: "packet",
            offset: 0,
            reason: "stream ends before it",
        };
        let head = match ogg.next_packet()? {
            Some(p) => OpusHead::parse(p.data)?,
            None => return Err(missing("OpusHead")),
        };
        let tags = match ogg.next_packet() {
            Ok(Some(p)) => OpusTags::parse(p.data)?,
            Ok(None) => return Err(missing("OpusTags")),
            Err(ogg::Error::PacketTooLarge { .. }) => {
                warn!("OpusTags larger than the cap: skipped");
                OpusTags::default()
            }
            Err(e) => return Err(e.into()),
        };
        let mut dec = Decoder::new(rate)?;
        if head.output_gain != 0 {
            dec.set_gain(head.output_gain)?;
        }
        let factor = u64::from(rate.factor_48k());
        debug!(
            channels = head.channels,
            pre_skip = head.pre_skip,
            vendor = %tags.vendor,
            "ogg opus headers read"
        );
        Ok(Self {
            ogg,
            skip: u64::from(head.pre_skip).div_ceil(factor),
            head,
            tags,
            pcm: Vec::with_capacity(dec.max_frame_samples()),
            dec,
            factor,
            decoded_48k: 0,
            pos: 0,
            done: false,
            corrupt_packets: 0,
        })
    }

    /// The stream's `OpusHead`.
    pub fn head(&self) -> &OpusHead {
        &self.head
    }

    /// The stream's `OpusTags`.
    pub fn tags(&self) -> &OpusTags {
        &self.tags
    }

    /// Packets that failed to decode and were concealed.
    pub fn corrupt_packets(&self) -> u64 {
        self.corrupt_packets
    }

    /// Counters from the Ogg layer.
    pub fn ogg_stats(&self) -> ogg::Stats {
        self.ogg.stats()
    }

    /// Fills `out` with decoded mono samples; returns how many, 0 at the end of the stream.
    pub fn read(&mut self, out: &mut [i16]) -> Result<usize, Error> {
        let mut n = 0;
        while n < out.len() {
            if self.pos == self.pcm.len() {
                if self.done || !self.decode_next()? {
                    break;
                }
                continue;
            }
            let take = (self.pcm.len() - self.pos).min(out.len() - n);
            out[n..n + take].copy_from_slice(&self.pcm[self.pos..self.pos + take]);
            self.pos += take;
            n += take;
        }
        Ok(n)
    }

    /// Decodes the next packet into `self.pcm[self.pos..]`; false at end of stream.
    fn decode_next(&mut self) -> Result<bool, Error> {
        let cap = self.dec.max_frame_samples();
        self.pcm.resize(cap, 0);
        let (got, granule, eos) = match self.ogg.next_packet() {
            Ok(Some(p)) => {
                let (granule, eos) = (p.granule, p.eos);
                let got = match self.dec.decode(p.data, &mut self.pcm) {
                    Ok(n) => n,
                    Err(opus::Error::InvalidPacket { len }) => {
                        // Conceal one 20 ms frame in its place and count it.
                        self.corrupt_packets += 1;
                        warn!(len, "corrupt opus packet concealed");
                        let fs = self.dec.sample_rate().frame_samples();
                        self.dec.conceal(&mut self.pcm[..fs])?
                    }
                    Err(e) => return Err(e.into()),
                };
                (got, granule, eos)
            }
            Ok(None) => {
                self.done = true;
                self.pcm.clear();
                self.pos = 0;
                return Ok(false);
            }
            Err(ogg::Error::PacketTooLarge { .. }) => {
                // No valid Opus packet is this large; the Ogg layer has skipped it.
                self.corrupt_packets += 1;
                (0, None, false)
            }
            Err(e) => return Err(e.into()),
        };
        let before = self.decoded_48k;
        self.decoded_48k += got as u64 * self.factor;
        let mut keep = got;
        if eos {
            self.done = true;
            if let Some(g) = granule
                && g < self.decoded_48k
            {
                // §4.4: the final granule position trims the padding of the last frame.
                keep = usize::try_from(g.saturating_sub(before).div_ceil(self.factor))
                    .unwrap_or(got)
                    .min(got);
                trace!(trimmed = got - keep, "end trimmed by final granule");
            }
        }
        let drop = usize::try_from(self.skip).unwrap_or(usize::MAX).min(keep);
        self.skip -= drop as u64;
        self.pcm.truncate(keep);
        self.pos = drop;
        Ok(true)
    }
}

#[cfg(test)]
mod tests;
