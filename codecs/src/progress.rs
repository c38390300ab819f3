//! Call-progress tone and voice detection on 8 kHz PCM: what a trunk's far end plays while a
//! call is placed (dial tone, ringback, busy, reorder) and when someone answers (voice).
//!
//! Tones, by plan:
//!
//! | tone | North America (ANSI T1.401, ITU-T E.180 Suppl. 2) | CEPT (ETSI TR 101 041-2, ITU-T E.180) |
//! | --- | --- | --- |
//! | dial | 350+440 Hz continuous | 425 Hz continuous |
//! | ringback | 440+480 Hz, 2 s on / 4 s off | 425 Hz, 1 s / 4 s (France 440 Hz, 1.5 s / 3.5 s) |
//! | busy | 480+620 Hz, 0.5 s / 0.5 s | 425 Hz, 0.5 s / 0.5 s (some 0.375 / 0.375) |
//! | reorder | 480+620 Hz, 0.25 s / 0.25 s (0.2 / 0.3 also seen) | 425 Hz, 0.25 s / 0.25 s or 0.2 / 0.6 |
//!
//! (Asterisk's `indications.conf` lists the same figures per country.)
//!
//! # How
//!
//! Samples are taken in blocks of [`BLOCK`] (40 ms). Over each block the detector computes the
//! block's energy and, with Goertzel filters (the DTMF receiver's method, ITU-T Q.24), the power
//! at the five tone frequencies and the eight DTMF frequencies. Each filter's power over the
//! block energy is the fraction of the block that the frequency *explains* (1.0 for a pure tone
//! filling the block). 40 ms gives 25 Hz resolution, enough to separate 440 from 480 Hz
//! (1.6 bins: the other tone leaks at −14 dB); 425 and 440 Hz (0.6 bins) are not separated and
//! need not be, as they are one family ("a single tone").
//!
//! Each block is then one of:
//! - *silent*: mean power below [`SILENCE_DBM0`], or within [`FLOOR_MARGIN_DB`] of the line's
//!   noise floor (minimum statistics over the last 2.56 s of blocks that were silent or
//!   *other*, as in
//!   the VADs of ITU-T G.729 Annex B), so that a noisy line's hiss in a tone's off periods is
//!   silence and not voice;
//! - a *tone* of a family (350+440, 440+480, 480+620, or a single 425/440 Hz tone) when that
//!   family explains at least [`TONE_PURITY`] of the energy, each tone of a pair at least
//!   [`MIN_COMPONENT`] (so twist up to about 9 dB);
//! - *DTMF* when a low-group and a high-group key frequency do the same: a key press is not a
//!   call-progress tone and not voice, whoever presses it;
//! - *ambiguous* when the best family explains between [`EDGE_PURITY`] and [`TONE_PURITY`]:
//!   a tone that starts or stops inside the block, or a tone in noise; it lengthens whatever
//!   run it is in and is no evidence of voice;
//! - *other*: energy that no family explains: speech, music, noise.
//!
//! Runs of equal blocks are debounced ([`CONFIRM`] blocks make a change) and their lengths give
//! the cadence: one on-run and the silence next to it (before or after), both seen from their
//! start, classify busy, reorder or ringback; a run seen from the start of watching is not
//! trusted, so a detector started in the middle of a busy burst needs at most two cadence
//! cycles. Dial tone is a run of 350+440 Hz of [`DIAL_PAIR`] or a single tone of
//! [`DIAL_SINGLE`] (longer than any ringback burst); 440+480 Hz is ringback alone, so a burst of
//! [`RINGBACK_PAIR`] is enough; a single-tone burst of ringback length followed by
//! [`RINGBACK_OFF`] of silence is ringback before the cycle completes.
//!
//! Voice is [`VOICE`] worth of *other* blocks with no confirmed tone or DTMF run between them
//! (and each tonal block taking [`TONAL_PENALTY`] blocks of evidence away)
//! and no silence longer than [`VOICE_GAP`] (pauses between words do not reset it). Silence is
//! not a state of its own: after a tone stops, what was last heard stands until something else
//! is recognised (a station times out a silent line itself).
//!
//! Not recognised (by design, for now): the UK's 400+450 Hz double ringback, Italy's cadenced
//! dial tone, special information tones; they are *other*, hence voice if long enough. Noise
//! that rises suddenly by more than [`FLOOR_MARGIN_DB`] is *other* until the floor follows it
//! (at most 2.56 s), so it may be heard as voice.
//!
//! State is a fixed set of numbers: no allocation after [`Detector::new`], none per block.

/// Samples per analysis block (40 ms at 8 kHz).
pub const BLOCK: usize = 320;
/// Sample rate the detector expects.
pub const RATE_HZ: u32 = 8000;
/// Blocks below this mean power (dBm0) are silent. Well above a quiet line's noise (−60 to
/// −70 dBm0) and well below the quietest tone plans send (about −25 dBm0 per tone).
pub const SILENCE_DBM0: f32 = -45.0;
/// Fraction of a block's energy a tone family must explain for the block to be that tone.
pub const TONE_PURITY: f32 = 0.65;
/// Below this fraction the block is *other* (evidence of voice); between it and
/// [`TONE_PURITY`] it is ambiguous (a tone's edge).
pub const EDGE_PURITY: f32 = 0.3;
/// Fraction each tone of a pair must explain on its own (twist limit, about 9 dB).
pub const MIN_COMPONENT: f32 = 0.1;
/// Consecutive blocks of a new kind that end the current run.
pub const CONFIRM: u32 = 2;
/// Continuous 350+440 Hz that is dial tone.
pub const DIAL_PAIR: Ms = Ms(1000);
/// Continuous single 425/440 Hz tone that is dial tone (longer than France's 1.5 s ringback).
pub const DIAL_SINGLE: Ms = Ms(3000);
/// A 440+480 Hz burst this long is ringback.
pub const RINGBACK_PAIR: Ms = Ms(800);
/// Silence after a single-tone burst of ringback length that makes it ringback.
pub const RINGBACK_OFF: Ms = Ms(2400);
/// Voice heard for this long (not counting pauses) is reported.
pub const VOICE: Ms = Ms(320);
/// Voice evidence (in blocks) one tonal block (tone, DTMF, a tone's edge) takes away.
pub const TONAL_PENALTY: u32 = 2;
/// Silence that forgets the voice heard so far.
pub const VOICE_GAP: Ms = Ms(600);

/// A length of time in milliseconds (the detector's own unit for its thresholds).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ms(pub u32);

impl Ms {
    /// Whole blocks in this time, rounded to nearest.
    const fn blocks(self) -> u32 {
        let block_ms = (BLOCK as u32 * 1000) / RATE_HZ;
        (self.0 + block_ms / 2) / block_ms
    }
}

/// Milliseconds in `blocks` blocks.
const fn ms(blocks: u32) -> u32 {
    blocks.saturating_mul((BLOCK as u32 * 1000) / RATE_HZ)
}

/// Cadences, `(on, off)` ranges in ms, inclusive, with ±2 blocks for edges and debounce.
mod cadence {
    /// Reorder: 0.25/0.25 and 0.2/0.3.
    pub(super) const REORDER: ((u32, u32), (u32, u32)) = ((140, 320), (140, 400));
    /// Congestion 0.2/0.6.
    pub(super) const CONGESTION: ((u32, u32), (u32, u32)) = ((140, 320), (480, 760));
    /// Busy: 0.5/0.5 and 0.375/0.375.
    pub(super) const BUSY: ((u32, u32), (u32, u32)) = ((321, 700), (280, 700));
    /// Ringback: 1/4, 2/4, 1.5/3.5.
    pub(super) const RINGBACK: ((u32, u32), (u32, u32)) = ((700, 2600), (2400, 5400));

    pub(super) fn fits(r: ((u32, u32), (u32, u32)), on: u32, off: u32) -> bool {
        (r.0.0..=r.0.1).contains(&on) && (r.1.0..=r.1.1).contains(&off)
    }
}

/// What the line plays, as recognised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Heard {
    /// Continuous dial tone.
    DialTone,
    /// Ringback (audible ringing).
    Ringback,
    /// Busy tone (slow cadence).
    Busy,
    /// Reorder / congestion (fast cadence).
    Reorder,
    /// Speech, or sound that is no call-progress tone.
    Voice,
}

/// Tone families (frequency sets); cadence tells their meaning apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// 350+440 Hz: North American dial tone.
    Dial,
    /// 440+480 Hz: North American ringback.
    Ring,
    /// 480+620 Hz: North American busy and reorder.
    Low,
    /// A single 425 or 440 Hz tone: every CEPT tone, France.
    Single,
}

/// What one block is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Block {
    Silent,
    Tone(Family),
    Dtmf,
    Ambiguous,
    Other,
}

/// A run's kind (an ambiguous block never starts one).
type Kind = Block;

/// Goertzel frequencies: the five tone frequencies, then DTMF low and high groups.
const FREQS: [f32; 13] = [
    350.0, 425.0, 440.0, 480.0, 620.0, 697.0, 770.0, 852.0, 941.0, 1209.0, 1336.0, 1477.0, 1633.0,
];
const F350: usize = 0;
const F425: usize = 1;
const F440: usize = 2;
const F480: usize = 3;
const F620: usize = 4;
const DTMF_LOW: core::ops::Range<usize> = 5..9;
const DTMF_HIGH: core::ops::Range<usize> = 9..13;

/// Amplitude of a 0 dBm0 sine in 16-bit PCM (G.711's digital milliwatt, Tables 5 and 6,
/// decodes to peaks of about 22,700).
const DBM0_AMPLITUDE: f32 = 22_700.0;

/// Blocks within this many dB of the noise floor are silent.
pub const FLOOR_MARGIN_DB: f32 = 6.0;
/// [`FLOOR_MARGIN_DB`] as an energy ratio.
const FLOOR_MARGIN: f32 = 3.981;
/// Blocks per segment of the noise-floor window.
const FLOOR_SEGMENT_BLOCKS: u32 = 8;
/// Segments of the noise-floor window (8 × 8 blocks: 2.56 s).
const FLOOR_SEGMENTS: usize = 8;

/// The line's noise floor by minimum statistics: the least energy of a block that is no tone,
/// key press or tone's edge over the last [`FLOOR_SEGMENTS`] segments (and the current one). Tones' off
/// periods and pauses between words keep it at the line's noise; a continuous tone does not
/// raise it (its blocks are not taken), it only lets it expire.
#[derive(Debug, Clone)]
struct Floor {
    mins: [f32; FLOOR_SEGMENTS],
    current: f32,
    blocks: u32,
    next: usize,
}

impl Floor {
    fn new() -> Self {
        Self {
            mins: [f32::INFINITY; FLOOR_SEGMENTS],
            current: f32::INFINITY,
            blocks: 0,
            next: 0,
        }
    }

    /// Takes one block's energy (into the floor if `eligible`) and returns the floor,
    /// this block included (infinite: none known).
    fn update(&mut self, energy: f32, eligible: bool) -> f32 {
        if eligible {
            self.current = self.current.min(energy);
        }
        let floor = self.mins.iter().copied().fold(self.current, f32::min);
        self.blocks += 1;
        if self.blocks >= FLOOR_SEGMENT_BLOCKS {
            self.mins[self.next] = self.current;
            self.next = (self.next + 1) % FLOOR_SEGMENTS;
            self.current = f32::INFINITY;
            self.blocks = 0;
        }
        floor
    }
}

/// A run of equal blocks.
#[derive(Debug, Clone, Copy)]
struct Run {
    kind: Kind,
    blocks: u32,
    /// Seen from its start (not the run the detector started in).
    clean: bool,
}

/// The call-progress detector of one stream. Feed it received audio in any block sizes with
/// [`Detector::feed`]; it answers what is heard each time that changes.
#[derive(Debug, Clone)]
pub struct Detector {
    coeff: [f32; FREQS.len()],
    s1: [f32; FREQS.len()],
    s2: [f32; FREQS.len()],
    energy: f32,
    filled: usize,
    silence_energy: f32,
    floor: Floor,
    /// The current run, and the one before it.
    run: Option<Run>,
    prev: Option<Run>,
    /// A different kind seen for fewer than [`CONFIRM`] blocks (kind, blocks).
    pending: Option<(Kind, u32)>,
    voice_blocks: u32,
    quiet_blocks: u32,
    heard: Option<Heard>,
    samples: u64,
    changed_at: u64,
    blocks: u64,
}

impl Default for Detector {
    fn default() -> Self {
        Self::new()
    }
}

impl Detector {
    /// A detector that has heard nothing.
    pub fn new() -> Self {
        let coeff = FREQS.map(|f| 2.0 * (core::f32::consts::TAU * f / RATE_HZ as f32).cos());
        let level = DBM0_AMPLITUDE * DBM0_AMPLITUDE / 2.0;
        Self {
            coeff,
            s1: [0.0; FREQS.len()],
            s2: [0.0; FREQS.len()],
            energy: 0.0,
            filled: 0,
            silence_energy: level * 10f32.powf(SILENCE_DBM0 / 10.0) * BLOCK as f32,
            floor: Floor::new(),
            run: None,
            prev: None,
            pending: None,
            voice_blocks: 0,
            quiet_blocks: 0,
            heard: None,
            samples: 0,
            changed_at: 0,
            blocks: 0,
        }
    }

    /// Feeds 8 kHz 16-bit PCM. Returns what is heard now if that changed within `pcm`.
    ///
    /// What is heard changes at most once per [`BLOCK`] samples: feed at most that many at a
    /// time (a 20 ms frame, say) to see every change; of a longer input only its last change
    /// is returned (its time is [`Self::changed_at`] either way).
    pub fn feed(&mut self, pcm: &[i16]) -> Option<Heard> {
        let mut change = None;
        for &x in pcm {
            let x = f32::from(x);
            self.energy += x * x;
            for i in 0..FREQS.len() {
                let s = x + self.coeff[i] * self.s1[i] - self.s2[i];
                self.s2[i] = self.s1[i];
                self.s1[i] = s;
            }
            self.filled += 1;
            self.samples += 1;
            if self.filled == BLOCK {
                let block = self.classify();
                self.reset_block();
                if let Some(h) = self.block(block) {
                    change = Some(h);
                }
            }
        }
        change
    }

    /// What is heard now (`None` until something is recognised).
    pub fn heard(&self) -> Option<Heard> {
        self.heard
    }

    /// Samples fed so far.
    pub fn samples(&self) -> u64 {
        self.samples
    }

    /// The sample count at the end of the block where what is heard last changed.
    pub fn changed_at(&self) -> u64 {
        self.changed_at
    }

    /// Whole blocks analysed so far.
    pub fn blocks(&self) -> u64 {
        self.blocks
    }

    fn reset_block(&mut self) {
        self.s1 = [0.0; FREQS.len()];
        self.s2 = [0.0; FREQS.len()];
        self.energy = 0.0;
        self.filled = 0;
    }

    /// The fraction of the block's energy at each frequency.
    fn fractions(&self) -> [f32; FREQS.len()] {
        let norm = 2.0 / (BLOCK as f32 * self.energy);
        core::array::from_fn(|i| {
            let (a, b) = (self.s1[i], self.s2[i]);
            let power = a * a + b * b - self.coeff[i] * a * b;
            (power * norm).clamp(0.0, 1.0)
        })
    }

    /// The block's kind: silent below the absolute level or near the noise floor, otherwise
    /// by its spectrum.
    fn classify(&mut self) -> Block {
        let kind = if self.energy < self.silence_energy {
            Block::Silent
        } else {
            self.spectral()
        };
        // A tone, a key or a tone's edge is no measure of the line's noise.
        let noise = matches!(kind, Block::Silent | Block::Other);
        let floor = self.floor.update(self.energy, noise);
        if floor.is_finite() && self.energy < floor * FLOOR_MARGIN {
            Block::Silent
        } else {
            kind
        }
    }

    /// The block's kind by its spectrum (it is above the absolute silence level).
    fn spectral(&self) -> Block {
        let r = self.fractions();
        let pair = |a: f32, b: f32| {
            if a >= MIN_COMPONENT && b >= MIN_COMPONENT {
                a + b
            } else {
                0.0
            }
        };
        let max_of = |range: core::ops::Range<usize>| r[range].iter().copied().fold(0.0, f32::max);
        let candidates = [
            (Block::Tone(Family::Dial), pair(r[F350], r[F440])),
            (Block::Tone(Family::Ring), pair(r[F440], r[F480])),
            (Block::Tone(Family::Low), pair(r[F480], r[F620])),
            (Block::Tone(Family::Single), r[F425].max(r[F440])),
            (Block::Dtmf, pair(max_of(DTMF_LOW), max_of(DTMF_HIGH))),
        ];
        let (best, purity) = candidates
            .into_iter()
            .fold((Block::Other, 0.0), |a, c| if c.1 > a.1 { c } else { a });
        if purity >= TONE_PURITY {
            best
        } else if purity >= EDGE_PURITY {
            Block::Ambiguous
        } else {
            Block::Other
        }
    }

    /// One block's kind: run tracking, cadence and voice. Returns a change.
    fn block(&mut self, b: Block) -> Option<Heard> {
        self.blocks += 1;
        // Voice evidence, per raw block.
        match b {
            Block::Other => {
                self.voice_blocks = self.voice_blocks.saturating_add(1);
                self.quiet_blocks = 0;
            }
            Block::Silent => {
                self.quiet_blocks = self.quiet_blocks.saturating_add(1);
                if self.quiet_blocks >= VOICE_GAP.blocks() {
                    self.voice_blocks = 0;
                }
            }
            // Tonal blocks weigh against voice: key presses and tone edges alternate with
            // blocks that look like nothing known.
            Block::Tone(_) | Block::Dtmf | Block::Ambiguous => {
                self.voice_blocks = self.voice_blocks.saturating_sub(TONAL_PENALTY);
            }
        }
        let mut found = self.track(b);
        if found.is_none() && self.voice_blocks >= VOICE.blocks() {
            found = Some(Heard::Voice);
        }
        let found = found?;
        if self.heard == Some(found) {
            return None;
        }
        self.heard = Some(found);
        self.changed_at = self.samples;
        Some(found)
    }

    /// Run tracking with debounce; returns a tone recognised by this block, if any.
    fn track(&mut self, b: Block) -> Option<Heard> {
        let Some(mut run) = self.run else {
            if b != Block::Ambiguous {
                self.run = Some(Run {
                    kind: b,
                    blocks: 1,
                    clean: false,
                });
            }
            return None;
        };
        let mut heard = None;
        if b == run.kind {
            // A glitch shorter than CONFIRM belonged to this run.
            run.blocks = run
                .blocks
                .saturating_add(1 + self.pending.map_or(0, |p| p.1));
            self.pending = None;
        } else if b == Block::Ambiguous {
            match &mut self.pending {
                Some((_, n)) => *n = n.saturating_add(1),
                None => run.blocks = run.blocks.saturating_add(1),
            }
        } else {
            match self.pending {
                Some((k, n)) if k == b => {
                    if n.saturating_add(1) >= CONFIRM {
                        let next = Run {
                            kind: b,
                            blocks: n.saturating_add(1),
                            clean: true,
                        };
                        heard = self.run_ended(run, next.kind);
                        self.pending = None;
                        self.prev = Some(run);
                        self.run = Some(next);
                        return heard.or_else(|| self.ongoing(next));
                    }
                    self.pending = Some((k, n.saturating_add(1)));
                }
                Some((_, n)) => {
                    run.blocks = run.blocks.saturating_add(n);
                    self.pending = Some((b, 1));
                }
                None => self.pending = Some((b, 1)),
            }
        }
        self.run = Some(run);
        heard.or_else(|| self.ongoing(run))
    }

    /// `run` ended and a run of `next` starts.
    fn run_ended(&mut self, run: Run, next: Kind) -> Option<Heard> {
        if matches!(next, Block::Tone(_) | Block::Dtmf) {
            // Whatever sounded like voice was a tone's edge or a key press.
            self.voice_blocks = 0;
        }
        let prev = self.prev?;
        if !(run.clean && prev.clean) {
            return None;
        }
        match (prev.kind, run.kind, next) {
            // A burst, then its silence: the burst started after a silence of the same tone.
            (Block::Tone(f), Block::Silent, Block::Tone(g)) if f == g => {
                cycle(f, ms(prev.blocks), ms(run.blocks))
            }
            // Silence (itself seen from its start), then a burst that ended.
            (Block::Silent, Block::Tone(f), Block::Silent) => {
                cycle(f, ms(run.blocks), ms(prev.blocks))
            }
            _ => None,
        }
    }

    /// What the current run says before it ends (continuous tones, a ringback's long silence).
    fn ongoing(&self, run: Run) -> Option<Heard> {
        let len = ms(run.blocks);
        match run.kind {
            Block::Tone(Family::Dial) if len >= DIAL_PAIR.0 => Some(Heard::DialTone),
            Block::Tone(Family::Single) if len >= DIAL_SINGLE.0 => Some(Heard::DialTone),
            Block::Tone(Family::Ring) if len >= RINGBACK_PAIR.0 => Some(Heard::Ringback),
            Block::Silent if len >= RINGBACK_OFF.0 => {
                let prev = self.prev?;
                let on = ms(prev.blocks);
                let burst = matches!(prev.kind, Block::Tone(Family::Single | Family::Ring));
                (burst
                    && prev.clean
                    && (cadence::RINGBACK.0.0..=cadence::RINGBACK.0.1).contains(&on))
                .then_some(Heard::Ringback)
            }
            _ => None,
        }
    }
}

/// A cadence cycle of `on` ms of family `f` and `off` ms of silence.
fn cycle(f: Family, on: u32, off: u32) -> Option<Heard> {
    match f {
        Family::Low | Family::Single => {
            if cadence::fits(cadence::REORDER, on, off)
                || cadence::fits(cadence::CONGESTION, on, off)
            {
                Some(Heard::Reorder)
            } else if cadence::fits(cadence::BUSY, on, off) {
                Some(Heard::Busy)
            } else if f == Family::Single && cadence::fits(cadence::RINGBACK, on, off) {
                Some(Heard::Ringback)
            } else {
                None
            }
        }
        Family::Ring => cadence::fits(cadence::RINGBACK, on, off).then_some(Heard::Ringback),
        Family::Dial => None,
    }
}

#[cfg(test)]
mod tests;
