//! A jitter buffer for one G.711 RTP stream, with packet-loss concealment after
//! ITU-T G.711 Appendix I (pitch-period repetition with overlap-add, attenuated over 60 ms).
//!
//! The buffer is sans-IO and clock-free: every call takes `now`. Feed each RTP packet of the
//! stream with [`JitterBuffer::push`]; then call [`JitterBuffer::pop`] until it returns `None`,
//! and come back at [`JitterBuffer::poll_timeout`]. Each popped [`Frame`] is one
//! `frame_samples` block (20 ms by default) of linear PCM: decoded audio, or concealment when
//! the packet for that slot is missing at its playout time.
//!
//! Placement is by RTP timestamp; sequence numbers only detect duplicates and reordering
//! (RFC 3550 §5.1: several packets may share a timestamp, never a sequence number). Playout
//! starts `target_delay` after the first packet of a talkspurt. A marker bit on a packet
//! arriving to an empty buffer, or a timestamp jump beyond what the buffer can hold, starts a
//! new talkspurt; an SSRC change resets the buffer. When the buffer stays empty for
//! `max_conceal` the stream goes idle and `pop` returns `None` until the next packet.
//!
//! Memory is fixed at construction: at most `max_packets` frames are held, in a ring.
//! Every dropped input is counted in [`Stats`] and logged at `debug`.

mod plc;

use std::time::{Duration, Instant};

use thiserror::Error;
use tracing::{debug, trace};

use crate::g711::Law;
use crate::rtp::{self, SequenceNumber, Ssrc, Timestamp};

/// Invalid configuration values (API misuse).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `frame_samples` or `clock_rate` is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// `frame_samples` is over 8000.
    #[error("frame of {0} samples is over 8000")]
    FrameTooLong(usize),
    /// The delays are not ordered `min ≤ target ≤ max`.
    #[error("delays must satisfy min {min:?} <= target {target:?} <= max {max:?}")]
    DelayOrder {
        /// Minimum delay.
        min: Duration,
        /// Target delay.
        target: Duration,
        /// Maximum delay.
        max: Duration,
    },
    /// `max_packets` frames cannot cover `max_delay` plus one frame, or exceed 4096.
    #[error(
        "max_packets {max_packets} must hold max_delay plus one frame ({needed}) and be at most 4096"
    )]
    Capacity {
        /// The configured cap.
        max_packets: usize,
        /// Frames needed.
        needed: usize,
    },
}

/// Largest `frame_samples` accepted (1 s at 8 kHz), bounding the buffer's allocation.
pub const MAX_FRAME_SAMPLES: usize = 8000;

/// Jitter-buffer configuration. Build with [`Config::default`] and the chained setters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    target_delay: Duration,
    min_delay: Duration,
    max_delay: Duration,
    max_packets: usize,
    adaptive: bool,
    frame_samples: usize,
    clock_rate: u32,
    max_conceal: Duration,
}

impl Default for Config {
    /// 20 ms frames at 8 kHz, 60 ms initial delay adapting within 20–200 ms, at most 50
    /// frames (1 s) held, idle after 60 ms without packets.
    fn default() -> Self {
        Self {
            target_delay: Duration::from_millis(60),
            min_delay: Duration::from_millis(20),
            max_delay: Duration::from_millis(200),
            max_packets: 50,
            adaptive: true,
            frame_samples: 160,
            clock_rate: 8000,
            max_conceal: Duration::from_millis(60),
        }
    }
}

impl Config {
    fn validate(self) -> Result<Self, ConfigError> {
        if self.frame_samples == 0 {
            return Err(ConfigError::Zero("frame_samples"));
        }
        if self.clock_rate == 0 {
            return Err(ConfigError::Zero("clock_rate"));
        }
        if self.frame_samples > MAX_FRAME_SAMPLES {
            return Err(ConfigError::FrameTooLong(self.frame_samples));
        }
        if !(self.min_delay <= self.target_delay && self.target_delay <= self.max_delay) {
            return Err(ConfigError::DelayOrder {
                min: self.min_delay,
                target: self.target_delay,
                max: self.max_delay,
            });
        }
        let needed = self.frames_in(self.max_delay) + 2;
        if self.max_packets < needed || self.max_packets > 4096 {
            return Err(ConfigError::Capacity {
                max_packets: self.max_packets,
                needed,
            });
        }
        Ok(self)
    }

    fn set(&mut self, f: impl FnOnce(&mut Self)) -> Result<&mut Self, ConfigError> {
        let mut next = self.clone();
        f(&mut next);
        *self = next.validate()?;
        Ok(self)
    }

    /// Playout delay at the start of a stream (and of each talkspurt when not adaptive).
    pub fn target_delay(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.target_delay = d)
    }

    /// Lower bound for the adaptive delay.
    pub fn min_delay(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.min_delay = d)
    }

    /// Upper bound for the delay: frames further ahead make the buffer skip forward.
    pub fn max_delay(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_delay = d)
    }

    /// Hard cap on frames held; a packet further ahead is treated as a timestamp jump.
    pub fn max_packets(&mut self, n: usize) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_packets = n)
    }

    /// Whether each talkspurt after the first sets its delay from the measured jitter
    /// (2 frames + 3 × jitter, within min and max).
    pub fn adaptive(&mut self, on: bool) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.adaptive = on)
    }

    /// Samples per output frame and RTP clock rate (160 and 8000 for 20 ms of G.711).
    pub fn frame(
        &mut self,
        frame_samples: usize,
        clock_rate: u32,
    ) -> Result<&mut Self, ConfigError> {
        self.set(|c| {
            c.frame_samples = frame_samples;
            c.clock_rate = clock_rate;
        })
    }

    /// How long to conceal with nothing buffered before going idle.
    pub fn max_conceal(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.set(|c| c.max_conceal = d)
    }

    fn frame_duration(&self) -> Duration {
        Duration::from_nanos(self.frame_samples as u64 * 1_000_000_000 / u64::from(self.clock_rate))
    }

    fn frames_in(&self, d: Duration) -> usize {
        (d.as_nanos() / self.frame_duration().as_nanos().max(1)) as usize
    }
}

/// Counters. Every packet handed to [`JitterBuffer::push`] is counted in `received` and, if
/// dropped, in exactly one of `duplicates`, `late` or `invalid`. Frame counters (`played`,
/// `lost`, `underruns`, `concealed`, `overflow`) count 20 ms frames, not packets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Packets pushed.
    pub received: u64,
    /// Packets whose sequence number was already seen (dropped).
    pub duplicates: u64,
    /// Packets that arrived after their playout time (dropped).
    pub late: u64,
    /// Packets with a payload type other than 0/8 or a payload not a whole number of frames.
    pub invalid: u64,
    /// Packets arriving with a sequence number below the highest seen (kept if in time).
    pub reordered: u64,
    /// Frames missing at playout while later frames were buffered.
    pub lost: u64,
    /// Frames missing at playout with nothing buffered (end of talkspurt or burst loss).
    pub underruns: u64,
    /// Frames produced by concealment.
    pub concealed: u64,
    /// Frames of decoded audio played.
    pub played: u64,
    /// Frames skipped because the buffer exceeded `max_delay`.
    pub overflow: u64,
    /// Resets on a new SSRC.
    pub ssrc_changes: u64,
    /// Resynchronisations on a timestamp jump beyond the buffer (sender restart, long pause).
    pub timestamp_jumps: u64,
    /// Talkspurts started (including the first).
    pub talkspurts: u64,
}

/// What [`JitterBuffer::push`] did with a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Push {
    /// Buffered.
    Accepted,
    /// Already seen.
    Duplicate,
    /// Its playout time has passed.
    Late,
    /// Not a G.711 payload of whole frames.
    Invalid,
}

/// Kind of a popped frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Decoded from a received packet.
    Audio,
    /// Synthesised by loss concealment (fading to silence after 60 ms).
    Concealed,
}

/// One output frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Audio or concealment.
    pub kind: FrameKind,
    /// RTP timestamp of the frame's first sample.
    pub timestamp: Timestamp,
    /// `frame_samples` samples of linear PCM.
    pub pcm: &'a [i16],
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    occupied: bool,
    timestamp: u32,
    law_alaw: bool,
}

#[derive(Debug, Clone, Copy)]
struct Stream {
    ssrc: Ssrc,
    /// Timestamp of the next frame to play.
    next_ts: Timestamp,
    /// When it is due.
    next_due: Instant,
    /// Whether frames are being played (false: idle between talkspurts).
    playing: bool,
    highest_seq: SequenceNumber,
    /// Bit i set: `highest_seq - i` has been seen.
    seen: u64,
    /// Consecutive frames concealed with nothing buffered.
    empty_run: usize,
    // Interarrival jitter (RFC 3550 A.8) in timestamp units, scaled by 16.
    epoch: Instant,
    epoch_ts: Timestamp,
    transit: Option<i64>,
    jitter_q4: u64,
}

/// Jitter buffer for one G.711 stream. See the [module documentation](self).
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    config: Config,
    frame_duration: Duration,
    delay: Duration,
    slots: Vec<Slot>,
    /// `slots.len() * frame_samples` bytes of G.711.
    pool: Vec<u8>,
    /// Ring index of `next_ts`.
    head: usize,
    held: usize,
    stream: Option<Stream>,
    plc: plc::Plc,
    out: Vec<i16>,
    stats: Stats,
}

impl JitterBuffer {
    /// A buffer with `config`; allocates all its memory now.
    pub fn new(config: Config) -> Self {
        let cap = config.max_packets;
        Self {
            frame_duration: config.frame_duration(),
            delay: config.target_delay,
            slots: vec![Slot::default(); cap],
            pool: vec![0; cap * config.frame_samples],
            out: vec![0; config.frame_samples],
            head: 0,
            held: 0,
            stream: None,
            plc: plc::Plc::new(),
            stats: Stats::default(),
            config,
        }
    }

    /// Counters.
    pub const fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The configuration.
    pub const fn config(&self) -> &Config {
        &self.config
    }

    /// Frames currently held.
    pub const fn len(&self) -> usize {
        self.held
    }

    /// Whether no frames are held.
    pub const fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// Playout delay in use for the current talkspurt.
    pub const fn current_delay(&self) -> Duration {
        self.delay
    }

    /// Interarrival jitter estimate in timestamp units (RFC 3550 A.8).
    pub fn jitter(&self) -> u32 {
        self.stream.map_or(0, |s| (s.jitter_q4 >> 4) as u32)
    }

    /// When the next frame is due, if a stream is playing.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.stream.filter(|s| s.playing).map(|s| s.next_due)
    }

    fn clear(&mut self) {
        self.slots.fill(Slot::default());
        self.held = 0;
    }

    /// Starts a talkspurt at `ts`: playout of `ts` is due `delay` after `now`. The first
    /// talkspurt of a stream uses `target_delay`; later ones adapt to the measured jitter.
    fn anchor(&mut self, now: Instant, ts: Timestamp, first: bool) {
        let Some(s) = self.stream.as_mut() else {
            return;
        };
        if first {
            self.delay = self.config.target_delay;
        } else if self.config.adaptive {
            let jitter = Duration::from_nanos(
                (s.jitter_q4 >> 4) * 1_000_000_000 / u64::from(self.config.clock_rate),
            );
            self.delay = (2 * self.frame_duration + 3 * jitter)
                .clamp(self.config.min_delay, self.config.max_delay);
        }
        s.next_ts = ts;
        s.next_due = now + self.delay;
        s.playing = true;
        s.empty_run = 0;
        self.stats.talkspurts += 1;
        debug!(ssrc = %s.ssrc, ts = ts.0, delay_ms = self.delay.as_millis() as u64, "talkspurt starts");
    }

    /// Adds a packet received at `now`.
    pub fn push(&mut self, now: Instant, packet: &rtp::Repr<'_>) -> Push {
        self.stats.received += 1;
        let spf = self.config.frame_samples;
        let Some(law) = Law::from_payload_type(packet.payload_type) else {
            self.stats.invalid += 1;
            debug!(pt = packet.payload_type, "dropping packet: not G.711");
            return Push::Invalid;
        };
        let frames = packet.payload.len() / spf;
        if frames == 0 || !packet.payload.len().is_multiple_of(spf) {
            self.stats.invalid += 1;
            debug!(
                len = packet.payload.len(),
                "dropping packet: not whole frames"
            );
            return Push::Invalid;
        }
        let (seq, ts) = (packet.sequence_number, packet.timestamp);
        if let Some(s) = self.stream
            && s.ssrc != packet.ssrc
        {
            self.stats.ssrc_changes += 1;
            debug!(old = %s.ssrc, new = %packet.ssrc, "SSRC change: resetting");
            self.stream = None;
            self.clear();
            self.plc.reset();
            self.delay = self.config.target_delay;
        }
        let new_stream = self.stream.is_none();
        let s = self.stream.get_or_insert(Stream {
            ssrc: packet.ssrc,
            next_ts: ts,
            next_due: now,
            playing: false,
            highest_seq: seq.wrapping_add(u16::MAX),
            seen: 0,
            empty_run: 0,
            epoch: now,
            epoch_ts: ts,
            transit: None,
            jitter_q4: 0,
        });

        // Duplicate and reorder detection over the last 64 sequence numbers.
        let d = seq.distance(s.highest_seq);
        let newest = d > 0;
        if d > 0 {
            s.seen = if d >= 64 { 0 } else { s.seen << d };
            s.seen |= 1;
            s.highest_seq = seq;
        } else if d > -64 {
            let bit = 1u64 << (-d);
            if s.seen & bit != 0 {
                self.stats.duplicates += 1;
                debug!(seq = seq.0, "dropping duplicate");
                return Push::Duplicate;
            }
            s.seen |= bit;
            self.stats.reordered += 1;
        } else {
            self.stats.reordered += 1;
        }

        let cap = self.slots.len();
        let span = (cap * spf) as i64;
        let dist = i64::from(ts.distance(s.next_ts));
        let playing = s.playing;
        let jump = dist >= span || dist <= -span || dist % spf as i64 != 0;
        // A.8 jitter, in timestamp units; a jump restarts the transit baseline.
        let restart = !playing && newest && dist < 0 && self.held == 0;
        if jump || restart {
            s.epoch = now;
            s.epoch_ts = ts;
            s.transit = None;
        }
        let arrival = (now.saturating_duration_since(s.epoch).as_nanos()
            * u128::from(self.config.clock_rate)
            / 1_000_000_000) as i64;
        let transit = arrival - i64::from(ts.distance(s.epoch_ts));
        if let Some(last) = s.transit {
            // A packet later than max_delay cannot be saved by waiting: cap its weight there.
            let cap_ticks =
                self.config.max_delay.as_millis() as u64 * u64::from(self.config.clock_rate) / 1000;
            let dj = (transit - last).unsigned_abs().min(cap_ticks);
            s.jitter_q4 = s.jitter_q4 + dj - ((s.jitter_q4 + 8) >> 4);
        }
        s.transit = Some(transit);

        if new_stream || jump {
            if jump {
                self.stats.timestamp_jumps += 1;
                debug!(ts = ts.0, dist, "timestamp jump: resynchronising");
            }
            self.clear();
            self.anchor(now, ts, new_stream);
        } else if self.held == 0
            && ((dist >= 0 && (!playing || packet.marker)) || (!playing && newest))
        {
            // A talkspurt starts: after idling, or with a marker on an empty buffer. An idle
            // stream whose newest packet carries an older timestamp restarted its clock.
            self.anchor(now, ts, false);
        } else if dist < 0 {
            self.stats.late += 1;
            debug!(seq = seq.0, ts = ts.0, "dropping late packet");
            return Push::Late;
        }
        let Some(s) = self.stream.as_mut() else {
            return Push::Invalid; // unreachable: the stream was set above
        };
        let mut k = (ts.distance(s.next_ts) as i64 / spf as i64) as usize;

        // Keep within max_delay: skip forward over the oldest frames.
        let max_frames = self.config.frames_in(self.config.max_delay).max(1);
        let last = k + frames - 1;
        if last > max_frames {
            let skip = last - max_frames;
            for i in 0..skip {
                let slot = &mut self.slots[(self.head + i) % cap];
                if slot.occupied {
                    slot.occupied = false;
                    self.held -= 1;
                }
            }
            self.head = (self.head + skip) % cap;
            s.next_ts = s.next_ts.wrapping_add((skip * spf) as u32);
            self.stats.overflow += skip as u64;
            debug!(skip, "buffer over max_delay: skipping forward");
            k -= skip.min(k);
        }

        for f in 0..frames {
            let idx = (self.head + k + f) % cap;
            let slot = &mut self.slots[idx];
            if !slot.occupied {
                self.held += 1;
            }
            *slot = Slot {
                occupied: true,
                timestamp: ts.0.wrapping_add((f * spf) as u32),
                law_alaw: law == Law::Alaw,
            };
            self.pool[idx * spf..(idx + 1) * spf]
                .copy_from_slice(&packet.payload[f * spf..(f + 1) * spf]);
        }
        trace!(seq = seq.0, ts = ts.0, held = self.held, "buffered");
        Push::Accepted
    }

    /// Returns the next frame if it is due at `now`. Call repeatedly until `None`.
    pub fn pop(&mut self, now: Instant) -> Option<Frame<'_>> {
        let s = self.stream.as_mut()?;
        if !s.playing || now < s.next_due {
            return None;
        }
        let cap = self.slots.len();
        let spf = self.config.frame_samples;
        let slot = self.slots[self.head];
        let timestamp = s.next_ts;
        if slot.occupied && slot.timestamp != timestamp.0 {
            // Cannot happen while placement is relative to `next_ts`; never play a stale frame.
            self.slots[self.head].occupied = false;
            self.held -= 1;
        }
        let kind = if slot.occupied && slot.timestamp == timestamp.0 {
            let law = if slot.law_alaw { Law::Alaw } else { Law::Ulaw };
            let codes = &self.pool[self.head * spf..(self.head + 1) * spf];
            let _ = law.decode(codes, &mut self.out);
            self.plc.good_frame(&mut self.out);
            self.slots[self.head].occupied = false;
            self.held -= 1;
            s.empty_run = 0;
            self.stats.played += 1;
            FrameKind::Audio
        } else {
            if self.held == 0 {
                if s.empty_run >= self.config.frames_in(self.config.max_conceal) {
                    s.playing = false;
                    debug!(ssrc = %s.ssrc, "buffer empty: stream idle");
                    return None;
                }
                s.empty_run += 1;
                self.stats.underruns += 1;
            } else {
                self.stats.lost += 1;
                debug!(ts = timestamp.0, "frame lost");
            }
            self.plc.conceal(&mut self.out);
            self.stats.concealed += 1;
            FrameKind::Concealed
        };
        self.head = (self.head + 1) % cap;
        s.next_ts = timestamp.wrapping_add(spf as u32);
        s.next_due += self.frame_duration;
        Some(Frame {
            kind,
            timestamp,
            pcm: &self.out,
        })
    }
}

#[cfg(test)]
mod tests;
