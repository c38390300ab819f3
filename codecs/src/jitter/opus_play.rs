//! Opus storage and decoding for the jitter buffer (RFC 7587 payloads, RFC 6716 packets).
//!
//! A packet of `n` frames occupies `n` consecutive ring slots; its bytes are kept once, in the
//! region of the pool that belongs to its first slot, tagged with the packet's RTP timestamp.
//! At playout the first frame played of a packet decodes the whole packet into `scratch` (one
//! stateful decoder, in timestamp order) and the later frames are copied from there. A slot
//! whose packet's bytes have since been overwritten finds the tag changed and is concealed.

use crate::opus::{Decoder, SampleRate};

use tracing::debug;

use super::ConfigError;

/// Longest Opus RTP payload stored: three frames of 1275 bytes plus the longest code-3
/// framing (TOC, frame count, padding length and two 2-byte frame lengths; RFC 6716 §3.2.5).
/// 1275 bytes is one frame at Opus' 510 kbit/s ceiling, and a telephone sends 20–60 ms at a
/// few dozen kbit/s, so only a malformed or hostile packet comes near this.
pub const MAX_OPUS_PAYLOAD: usize = 1275 * 3 + 7;

/// The RTP clock rate of every Opus stream (RFC 7587 §4.1).
pub(super) const OPUS_RTP_RATE: u32 = 48_000;

/// The packet whose bytes a pool region holds.
#[derive(Debug, Clone, Copy, Default)]
struct Region {
    /// Bytes stored; 0: none.
    len: usize,
    /// RTP timestamp of the packet's first frame.
    timestamp: u32,
    /// Frames the packet spans.
    frames: usize,
}

/// What the decode scratch holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decoded {
    Nothing,
    /// The packet at this timestamp decoded to this many frames.
    Packet {
        timestamp: u32,
        frames: usize,
    },
    /// The packet at this timestamp failed to decode (already counted).
    Failed {
        timestamp: u32,
    },
}

/// How a held frame was played.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Played {
    /// Decoded audio.
    Audio,
    /// Its packet failed to decode here: concealed, count the packet as invalid.
    Corrupt,
    /// Its packet failed to decode earlier, or its bytes were overwritten: concealed.
    Unavailable,
}

/// The Opus side of a [`super::JitterBuffer`].
pub(super) struct OpusPlay {
    payload_type: u8,
    decoder: Decoder,
    frame_samples: usize,
    /// `regions.len() * MAX_OPUS_PAYLOAD` bytes.
    pool: Vec<u8>,
    regions: Vec<Region>,
    /// One packet's decoded PCM (up to 120 ms).
    scratch: Vec<i16>,
    decoded: Decoded,
}

impl std::fmt::Debug for OpusPlay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpusPlay")
            .field("payload_type", &self.payload_type)
            .field("decoder", &self.decoder)
            .field("decoded", &self.decoded)
            .finish_non_exhaustive()
    }
}

impl OpusPlay {
    /// Storage for `slots` frames of `frame_samples` PCM samples at `clock_rate` Hz.
    pub(super) fn new(
        payload_type: u8,
        slots: usize,
        frame_samples: usize,
        clock_rate: u32,
    ) -> Result<Self, ConfigError> {
        let err = ConfigError::Opus {
            payload_type,
            clock_rate,
            frame_samples,
        };
        if payload_type > 127 {
            return Err(err);
        }
        let rate = SampleRate::from_hz(clock_rate).map_err(|_| err)?;
        let decoder = Decoder::new(rate).map_err(|_| err)?;
        // Opus conceals in multiples of 2.5 ms, and at most 120 ms at a time.
        let quantum = clock_rate as usize / 400;
        if !frame_samples.is_multiple_of(quantum) || frame_samples > decoder.max_frame_samples() {
            return Err(err);
        }
        Ok(Self {
            payload_type,
            frame_samples,
            pool: vec![0; slots * MAX_OPUS_PAYLOAD],
            regions: vec![Region::default(); slots],
            scratch: vec![0; decoder.max_frame_samples()],
            decoded: Decoded::Nothing,
            decoder,
        })
    }

    /// Frames `payload` spans, or why it cannot be buffered.
    pub(super) fn frames(&self, payload_type: u8, payload: &[u8]) -> Result<usize, &'static str> {
        if payload_type != self.payload_type {
            return Err("payload type");
        }
        if payload.is_empty() {
            return Err("empty payload");
        }
        if payload.len() > MAX_OPUS_PAYLOAD {
            return Err("payload over MAX_OPUS_PAYLOAD");
        }
        let samples = self
            .decoder
            .packet_samples(payload)
            .map_err(|_| "unparsable Opus packet")?;
        if samples == 0 || !samples.is_multiple_of(self.frame_samples) {
            return Err("duration not whole frames");
        }
        Ok(samples / self.frame_samples)
    }

    /// Keeps `payload` (checked by [`Self::frames`]) in the region of slot `idx`.
    pub(super) fn store(&mut self, idx: usize, timestamp: u32, frames: usize, payload: &[u8]) {
        let (Some(region), Some(bytes)) = (
            self.regions.get_mut(idx),
            self.pool
                .get_mut(idx * MAX_OPUS_PAYLOAD..idx * MAX_OPUS_PAYLOAD + payload.len()),
        ) else {
            return;
        };
        bytes.copy_from_slice(payload);
        *region = Region {
            len: payload.len(),
            timestamp,
            frames,
        };
        if matches!(self.decoded, Decoded::Packet { timestamp: t, .. } | Decoded::Failed { timestamp: t } if t == timestamp)
        {
            // A newer copy of a packet already decoded: decode it afresh.
            self.decoded = Decoded::Nothing;
        }
    }

    /// Forgets every stored packet.
    pub(super) fn clear(&mut self) {
        self.regions.fill(Region::default());
        self.decoded = Decoded::Nothing;
    }

    /// Plays frame `frame` of the packet starting at `timestamp`, whose first frame's slot is
    /// `start`, into `out` (`frame_samples` long).
    pub(super) fn play(
        &mut self,
        start: usize,
        timestamp: u32,
        frame: usize,
        out: &mut [i16],
    ) -> Played {
        let spf = self.frame_samples;
        let known = matches!(
            self.decoded,
            Decoded::Packet { timestamp: t, .. } | Decoded::Failed { timestamp: t } if t == timestamp
        );
        if !known {
            let Some((r, bytes)) = region(&self.regions, &self.pool, start, timestamp) else {
                self.conceal(out);
                return Played::Unavailable;
            };
            match self.decoder.decode(bytes, &mut self.scratch) {
                Ok(n) if n == r.frames * spf => {
                    self.decoded = Decoded::Packet {
                        timestamp,
                        frames: r.frames,
                    };
                }
                result => {
                    debug!(
                        ts = timestamp,
                        ?result,
                        "Opus packet fails to decode: concealing"
                    );
                    self.decoded = Decoded::Failed { timestamp };
                    self.conceal(out);
                    return Played::Corrupt;
                }
            }
        }
        if let Decoded::Packet {
            timestamp: t,
            frames,
        } = self.decoded
            && t == timestamp
            && frame < frames
            && let (Some(src), Some(dst)) = (
                self.scratch.get(frame * spf..(frame + 1) * spf),
                out.get_mut(..spf),
            )
        {
            dst.copy_from_slice(src);
            if frame + 1 == frames {
                self.decoded = Decoded::Nothing;
            }
            return Played::Audio;
        }
        self.conceal(out);
        Played::Unavailable
    }

    /// Rebuilds the frame before the packet starting at `next_ts` in slot `next` from that
    /// packet's in-band FEC. False if the packet is not there or libopus fails.
    pub(super) fn recover(&mut self, next: usize, next_ts: u32, out: &mut [i16]) -> bool {
        let spf = self.frame_samples;
        let Some(dst) = out.get_mut(..spf) else {
            return false;
        };
        let Some((_, bytes)) = region(&self.regions, &self.pool, next, next_ts) else {
            return false;
        };
        matches!(self.decoder.decode_fec(bytes, dst), Ok(n) if n == spf)
    }

    /// Opus packet-loss concealment for one frame (silence if libopus fails).
    pub(super) fn conceal(&mut self, out: &mut [i16]) {
        let spf = self.frame_samples;
        let Some(dst) = out.get_mut(..spf) else {
            return;
        };
        if !matches!(self.decoder.conceal(dst), Ok(n) if n == spf) {
            dst.fill(0);
        }
    }
}

/// The packet starting at `timestamp` whose bytes are in region `idx`, if still there.
fn region<'a>(
    regions: &[Region],
    pool: &'a [u8],
    idx: usize,
    timestamp: u32,
) -> Option<(Region, &'a [u8])> {
    let r = *regions.get(idx)?;
    if r.len == 0 || r.timestamp != timestamp {
        return None;
    }
    let bytes = pool.get(idx * MAX_OPUS_PAYLOAD..idx * MAX_OPUS_PAYLOAD + r.len)?;
    Some((r, bytes))
}
