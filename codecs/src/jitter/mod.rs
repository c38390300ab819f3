//! A jitter buffer for one G.711 or Opus RTP stream. G.711 is concealed after ITU-T G.711
//! Appendix I (pitch-period repetition with overlap-add, attenuated over 60 ms); Opus (RFC 7587)
//! is decoded by one stateful libopus decoder, which rebuilds a lost frame from the in-band FEC
//! of the next packet when that is held, and otherwise conceals it with Opus PLC.
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
//! Timestamps are RTP timestamps: in `clock_rate` units for G.711, in 48 kHz units for Opus
//! (RFC 7587 §4.1), whatever PCM rate Opus is decoded to. Placement, jump detection and the
//! interarrival jitter all use the stream's RTP clock.
//!
//! Memory is fixed at construction: at most `max_packets` frames are held, in a ring (an Opus
//! buffer also keeps up to [`MAX_OPUS_PAYLOAD`] bytes per frame slot, G.711 buffers none).
//! Every dropped input is counted in [`Stats`] and logged at `debug`.

mod opus_play;
mod plc;

use std::time::{Duration, Instant};

use thiserror::Error;
use tracing::{debug, trace};

use crate::g711::Law;
use crate::rtp::{self, SequenceNumber, Ssrc, Timestamp};

pub use opus_play::MAX_OPUS_PAYLOAD;
use opus_play::{OPUS_RTP_RATE, OpusPlay, Played};

/// What the buffered stream carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Payload {
    /// G.711 (payload types 0 and 8), as today.
    G711,
    /// Opus (RFC 7587) on this dynamic payload type: RTP clock 48 kHz, decoded to the config's
    /// PCM rate (`clock_rate`, 8000 by default).
    Opus {
        /// The payload type negotiated for Opus.
        payload_type: u8,
    },
}

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
    /// Opus cannot play this stream: `clock_rate` is not an Opus rate (8, 12, 16, 24 or
    /// 48 kHz), the frame is not a multiple of 2.5 ms or is over 120 ms, the payload type is
    /// over 127, or libopus could not create the decoder.
    #[error(
        "Opus cannot play {frame_samples}-sample frames at {clock_rate} Hz on payload type {payload_type}"
    )]
    Opus {
        /// The configured payload type.
        payload_type: u8,
        /// The configured PCM rate.
        clock_rate: u32,
        /// The configured frame.
        frame_samples: usize,
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
    /// Packets with a payload type other than the stream's (0/8 for G.711) or a payload not a
    /// whole number of frames; for Opus also empty, unparsable or over-long payloads, and
    /// packets that passed `push` but fail to decode at playout (their frames are concealed).
    pub invalid: u64,
    /// Packets arriving with a sequence number below the highest seen (kept if in time).
    pub reordered: u64,
    /// Frames missing at playout while later frames were buffered.
    pub lost: u64,
    /// Opus: of the `lost` frames, those decoded from the in-band FEC of the next packet, held
    /// at their playout time (also counted in `concealed`, and popped as
    /// [`FrameKind::Concealed`]). libopus conceals instead when that packet carries no FEC.
    pub fec_recovered: u64,
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
    /// Not a payload of the stream's codec and payload type, of whole frames.
    Invalid,
}

/// Kind of a popped frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameKind {
    /// Decoded from a received packet.
    Audio,
    /// Synthesised by loss concealment (G.711 fades to silence after 60 ms), or for Opus
    /// rebuilt from in-band FEC.
    Concealed,
}

/// One output frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// Audio or concealment.
    pub kind: FrameKind,
    /// RTP timestamp of the frame's first sample (48 kHz units for Opus).
    pub timestamp: Timestamp,
    /// `frame_samples` samples of linear PCM.
    pub pcm: &'a [i16],
}

#[derive(Debug, Clone, Copy, Default)]
struct Slot {
    occupied: bool,
    timestamp: u32,
    law_alaw: bool,
    /// Opus: index of this frame in its packet.
    frame: u16,
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
    // Interarrival jitter (RFC 3550 A.8) in RTP timestamp units, scaled by 16.
    epoch: Instant,
    epoch_ts: Timestamp,
    transit: Option<i64>,
    jitter_q4: u64,
}

/// Jitter buffer for one G.711 or Opus stream. See the [module documentation](self).
///
/// Not `Clone`: an Opus buffer owns a libopus decoder, whose state cannot be copied.
#[derive(Debug)]
pub struct JitterBuffer {
    config: Config,
    payload: Payload,
    frame_duration: Duration,
    /// RTP clock rate: `clock_rate` for G.711, 48000 for Opus.
    rtp_rate: u32,
    /// RTP timestamp units per frame.
    frame_ticks: u32,
    delay: Duration,
    slots: Vec<Slot>,
    /// `slots.len() * frame_samples` bytes of G.711 (empty for Opus).
    pool: Vec<u8>,
    opus: Option<Box<OpusPlay>>,
    /// Ring index of `next_ts`.
    head: usize,
    held: usize,
    stream: Option<Stream>,
    plc: plc::Plc,
    out: Vec<i16>,
    stats: Stats,
}

impl JitterBuffer {
    /// A G.711 buffer with `config`; allocates all its memory now. Same as
    /// [`Self::with_payload`] with [`Payload::G711`], which cannot fail.
    pub fn new(config: Config) -> Self {
        Self::build(config, true)
    }

    fn build(config: Config, g711: bool) -> Self {
        let cap = config.max_packets;
        Self {
            payload: Payload::G711,
            frame_duration: config.frame_duration(),
            rtp_rate: config.clock_rate,
            frame_ticks: config.frame_samples as u32,
            delay: config.target_delay,
            slots: vec![Slot::default(); cap],
            pool: vec![0; if g711 { cap * config.frame_samples } else { 0 }],
            opus: None,
            out: vec![0; config.frame_samples],
            head: 0,
            held: 0,
            stream: None,
            plc: plc::Plc::new(),
            stats: Stats::default(),
            config,
        }
    }

    /// A buffer for a stream carrying `payload`; allocates all its memory now. For Opus,
    /// `config`'s `frame_samples` and `clock_rate` describe the decoded PCM (an Opus rate, a
    /// frame of a multiple of 2.5 ms up to 120 ms), and a pool of [`MAX_OPUS_PAYLOAD`] bytes per
    /// slot is allocated.
    pub fn with_payload(config: Config, payload: Payload) -> Result<Self, ConfigError> {
        let Payload::Opus { payload_type } = payload else {
            return Ok(Self::new(config));
        };
        let opus = OpusPlay::new(
            payload_type,
            config.max_packets,
            config.frame_samples,
            config.clock_rate,
        )?;
        // Exact: the frame is a multiple of 2.5 ms at an Opus rate, which divides 48 kHz.
        let frame_ticks = (config.frame_samples as u64 * u64::from(OPUS_RTP_RATE)
            / u64::from(config.clock_rate)) as u32;
        let mut jb = Self::build(config, false);
        jb.payload = payload;
        jb.rtp_rate = OPUS_RTP_RATE;
        jb.frame_ticks = frame_ticks;
        jb.opus = Some(Box::new(opus));
        Ok(jb)
    }

    /// The payload this buffer plays.
    pub const fn payload(&self) -> Payload {
        self.payload
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

    /// Interarrival jitter estimate in RTP timestamp units (RFC 3550 A.8): 48 kHz units for
    /// Opus.
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
        if let Some(o) = self.opus.as_mut() {
            o.clear();
        }
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
            let jitter =
                Duration::from_nanos((s.jitter_q4 >> 4) * 1_000_000_000 / u64::from(self.rtp_rate));
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
        let tpf = self.frame_ticks;
        let max_frames = self.config.frames_in(self.config.max_delay).max(1);
        let (law, frames) = if let Some(o) = self.opus.as_ref() {
            // A packet longer than the buffer's reach would overrun the skip-forward below.
            match o.frames(packet.payload_type, packet.payload) {
                Ok(frames) if frames <= max_frames + 1 => (Law::Ulaw, frames),
                result => {
                    self.stats.invalid += 1;
                    debug!(
                        pt = packet.payload_type,
                        len = packet.payload.len(),
                        ?result,
                        "dropping packet: not Opus of whole frames"
                    );
                    return Push::Invalid;
                }
            }
        } else {
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
            (law, frames)
        };
        let (seq, ts) = (packet.sequence_number, packet.timestamp);
        if let Some(s) = self.stream
            && s.ssrc != packet.ssrc
        {
            self.stats.ssrc_changes += 1;
            debug!(old = %s.ssrc, new = %packet.ssrc, "SSRC change: resetting");
            self.stream = None;
            self.clear();
            self.plc.reset();
            // The Opus decoder keeps its state: libopus adapts to the new stream within a
            // frame, and re-creating it would allocate.
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
        let span = cap as i64 * i64::from(tpf);
        let dist = i64::from(ts.distance(s.next_ts));
        let playing = s.playing;
        let jump = dist >= span || dist <= -span || dist % i64::from(tpf) != 0;
        // A.8 jitter, in timestamp units; a jump restarts the transit baseline.
        let restart = !playing && newest && dist < 0 && self.held == 0;
        if jump || restart {
            s.epoch = now;
            s.epoch_ts = ts;
            s.transit = None;
        }
        let arrival = (now.saturating_duration_since(s.epoch).as_nanos()
            * u128::from(self.rtp_rate)
            / 1_000_000_000) as i64;
        let transit = arrival - i64::from(ts.distance(s.epoch_ts));
        if let Some(last) = s.transit {
            // A packet later than max_delay cannot be saved by waiting: cap its weight there.
            let cap_ticks =
                self.config.max_delay.as_millis() as u64 * u64::from(self.rtp_rate) / 1000;
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
        let mut k = (i64::from(ts.distance(s.next_ts)) / i64::from(tpf)) as usize;

        // Keep within max_delay: skip forward over the oldest frames.
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
            s.next_ts = s.next_ts.wrapping_add((skip as u32).wrapping_mul(tpf));
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
                timestamp: ts.0.wrapping_add((f as u32).wrapping_mul(tpf)),
                law_alaw: law == Law::Alaw,
                frame: f as u16,
            };
            if self.opus.is_none() {
                self.pool[idx * spf..(idx + 1) * spf]
                    .copy_from_slice(&packet.payload[f * spf..(f + 1) * spf]);
            }
        }
        if let Some(o) = self.opus.as_mut() {
            o.store((self.head + k) % cap, ts.0, frames, packet.payload);
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
            self.slots[self.head].occupied = false;
            self.held -= 1;
            s.empty_run = 0;
            let played = if let Some(o) = self.opus.as_mut() {
                let f = usize::from(slot.frame);
                let start = (self.head + cap - f % cap) % cap;
                let first = timestamp
                    .0
                    .wrapping_sub((f as u32).wrapping_mul(self.frame_ticks));
                o.play(start, first, f, &mut self.out)
            } else {
                let law = if slot.law_alaw { Law::Alaw } else { Law::Ulaw };
                let codes = &self.pool[self.head * spf..(self.head + 1) * spf];
                let _ = law.decode(codes, &mut self.out);
                self.plc.good_frame(&mut self.out);
                Played::Audio
            };
            match played {
                Played::Audio => {
                    self.stats.played += 1;
                    FrameKind::Audio
                }
                Played::Corrupt | Played::Unavailable => {
                    if played == Played::Corrupt {
                        self.stats.invalid += 1;
                    }
                    self.stats.concealed += 1;
                    FrameKind::Concealed
                }
            }
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
            if let Some(o) = self.opus.as_mut() {
                // In-band FEC for this frame travels in the next packet (RFC 6716 §2.1.7).
                let next = (self.head + 1) % cap;
                let next_slot = self.slots[next];
                let next_ts = timestamp.0.wrapping_add(self.frame_ticks);
                if self.held > 0
                    && next_slot.occupied
                    && next_slot.frame == 0
                    && next_slot.timestamp == next_ts
                    && o.recover(next, next_ts, &mut self.out)
                {
                    self.stats.fec_recovered += 1;
                    debug!(ts = timestamp.0, "frame rebuilt from FEC");
                } else {
                    o.conceal(&mut self.out);
                }
            } else {
                self.plc.conceal(&mut self.out);
            }
            self.stats.concealed += 1;
            FrameKind::Concealed
        };
        self.head = (self.head + 1) % cap;
        s.next_ts = timestamp.wrapping_add(self.frame_ticks);
        s.next_due += self.frame_duration;
        Some(Frame {
            kind,
            timestamp,
            pcm: &self.out,
        })
    }
}

#[cfg(test)]
mod opus_tests;
#[cfg(test)]
mod tests;
