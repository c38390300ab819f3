//! Streaming voice activity detection and the "time without speech" timer.
//!
//! Each hop (10 or 20 ms) is analysed over two hops with a sqrt-Hann window. Two features are
//! taken from the 250–3800 Hz band: its energy in dBFS and its spectral flatness (geometric over
//! arithmetic mean of the power spectrum; near 1 for white noise, low for voiced speech with its
//! harmonics). The noise floor is a minimum-statistics estimate: the lowest band energy over the
//! last 3 s (kept as 30 block minima of 100 ms), which follows a falling noise level at once and
//! a rising one within 3 s, and is not dragged up by speech because speech has pauses between
//! words. A frame is raw speech when it is above an absolute level and either `threshold_db` above
//! the floor, or half that and tonal (flatness below [`FLATNESS_SPEECH`]). A hangover keeps the
//! decision at speech for a while after the last raw speech frame so that word gaps and weak
//! endings are not cut. The idea follows the energy/spectral-feature VADs of ITU-T G.729 Annex B
//! and WebRTC; the details here are our own.
//!
//! An energy gate in front of the spectrum ([`Vad::feed`]): by Parseval, the windowed frame's
//! energy in the time domain bounds its band energy from above, so a frame whose bound is below
//! [`ABSOLUTE_FLOOR_DBFS`] − `threshold_db` − [`GATE_MARGIN_DB`] is not speech whatever its
//! spectrum, and needs no FFT. The decisions stay exactly those of the ungated detector: the
//! gated frame's energy is taken as its bound, which only matters through the noise floor; with
//! such a frame in the floor's window, the floor is below `ABSOLUTE_FLOOR_DBFS − threshold_db`
//! both with its true energy and with its bound, and any floor that low makes every frame above
//! the absolute floor speech and every other frame not. Only the `energy_dbfs` of a gated frame,
//! and the `floor_dbfs` while it is in the window, differ from what the spectrum would give.
use std::f32::consts::PI;
use std::time::Duration;

use super::spectrum::Stft;
use super::{Error, SampleRate};

/// Frames with band energy below this (dBFS) are never speech.
pub const ABSOLUTE_FLOOR_DBFS: f32 = -62.0;
/// Spectral flatness below which a frame counts as tonal.
pub const FLATNESS_SPEECH: f32 = 0.3;
/// Margin (dB) kept between the energy gate and the level below which the noise floor no longer
/// matters, so that rounding in the time-domain bound cannot move a frame across.
pub const GATE_MARGIN_DB: f32 = 1.0;
/// Blocks of the minimum-statistics window.
const FLOOR_BLOCKS: usize = 30;
/// Length of one floor block.
const FLOOR_BLOCK: Duration = Duration::from_millis(100);

/// Frame (hop) length of the detector.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FrameLen {
    /// 10 ms frames.
    #[default]
    Ms10,
    /// 20 ms frames.
    Ms20,
}

impl FrameLen {
    /// Samples per frame at `rate`.
    pub fn samples(self, rate: SampleRate) -> usize {
        let per_10ms = rate.hz() as usize / 100;
        match self {
            Self::Ms10 => per_10ms,
            Self::Ms20 => 2 * per_10ms,
        }
    }
}

/// VAD settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VadConfig {
    /// Frame length.
    pub frame: FrameLen,
    /// Energy above the noise floor (dB) that makes a frame speech.
    pub threshold_db: f32,
    /// How long the decision stays at speech after the last speech frame.
    pub hangover: Duration,
}

impl Default for VadConfig {
    fn default() -> Self {
        Self {
            frame: FrameLen::Ms10,
            threshold_db: 10.0,
            hangover: Duration::from_millis(250),
        }
    }
}

impl VadConfig {
    /// Sets the threshold; it must be in 3..=40 dB.
    pub fn threshold_db(mut self, db: f32) -> Result<Self, Error> {
        if !(3.0..=40.0).contains(&db) {
            return Err(Error::Config {
                field: "threshold_db",
            });
        }
        self.threshold_db = db;
        Ok(self)
    }

    /// Sets the hangover; at most 2 s.
    pub fn hangover(mut self, d: Duration) -> Result<Self, Error> {
        if d > Duration::from_secs(2) {
            return Err(Error::Config { field: "hangover" });
        }
        self.hangover = d;
        Ok(self)
    }
}

/// The decision for one frame.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameDecision {
    /// Index of the frame's first sample in the stream.
    pub start: u64,
    /// Frame length in samples.
    pub len: u32,
    /// Speech (including hangover) or not.
    pub speech: bool,
    /// Speech by the features alone, without hangover.
    pub raw_speech: bool,
    /// Band energy, dBFS (for a frame the energy gate of [`Vad::feed`] passed over, an upper
    /// bound of it, below [`ABSOLUTE_FLOOR_DBFS`]).
    pub energy_dbfs: f32,
    /// Current noise floor estimate, dBFS (with a frame the energy gate passed over in its
    /// window, an upper bound of it, below [`ABSOLUTE_FLOOR_DBFS`] − `threshold_db`).
    pub floor_dbfs: f32,
}

/// Streaming voice activity detector; feed any number of samples at a time.
pub struct Vad {
    cfg: VadConfig,
    stft: Stft,
    band: (usize, usize),
    pending: Vec<f32>,
    power: Vec<f32>,
    next_start: u64,
    frames_per_block: usize,
    block_frames: usize,
    block_min: f32,
    blocks: [f32; FLOOR_BLOCKS],
    blocks_filled: usize,
    block_pos: usize,
    hangover_frames: u32,
    hang: u32,
    /// The last hop fed, kept when it was gated (the STFT has not seen it).
    prev: Vec<f32>,
    /// The last hop's energy weighted by the window's first half (its share of the next
    /// frame's windowed energy), when known.
    prev_energy: Option<f32>,
    /// The analysis window squared (a periodic Hann window), for the energy gate's bound.
    hann: Vec<f32>,
    /// The gate's level: mean square of the windowed frame (full scale 1.0) below which the
    /// frame is not analysed.
    gate_ms: f32,
    /// The STFT has not seen `prev` (that hop was gated): it is shifted in before the next
    /// analysis.
    stale: bool,
    /// Frames the energy gate passed over without a spectrum.
    gated: u64,
}

impl Vad {
    /// A detector for `rate`.
    pub fn new(cfg: VadConfig, rate: SampleRate) -> Self {
        let hop = cfg.frame.samples(rate);
        let n = 2 * hop;
        let bin_hz = rate.hz() as f32 / n as f32;
        let lo = (250.0 / bin_hz).ceil() as usize;
        let hi = ((3800.0 / bin_hz).floor() as usize).min(hop);
        let frame_ms = hop as u64 * 1000 / u64::from(rate.hz());
        let gate_db = ABSOLUTE_FLOOR_DBFS - cfg.threshold_db - GATE_MARGIN_DB;
        Self {
            cfg,
            stft: Stft::new(hop),
            band: (lo, hi),
            pending: Vec::with_capacity(hop),
            power: vec![0.0; hop + 1],
            next_start: 0,
            frames_per_block: (FLOOR_BLOCK.as_millis() as u64 / frame_ms).max(1) as usize,
            block_frames: 0,
            block_min: f32::INFINITY,
            blocks: [f32::INFINITY; FLOOR_BLOCKS],
            blocks_filled: 0,
            block_pos: 0,
            hangover_frames: (cfg.hangover.as_millis() as u64 / frame_ms) as u32,
            hang: 0,
            prev: vec![0.0; hop],
            prev_energy: Some(0.0),
            hann: (0..n)
                .map(|i| (PI * i as f32 / n as f32).sin().powi(2))
                .collect(),
            gate_ms: 10f32.powf(gate_db / 10.0),
            stale: false,
            gated: 0,
        }
    }

    /// Frames the energy gate of [`Vad::feed`] decided without a spectrum.
    pub fn gated_frames(&self) -> u64 {
        self.gated
    }

    /// Samples per frame.
    pub fn frame_len(&self) -> usize {
        self.stft.hop
    }

    /// Feeds samples; pushes one decision per completed frame onto `out`. Frames clearly below
    /// the speech threshold skip the spectrum (see the module documentation): the decisions are
    /// those of [`Vad::feed_ungated`].
    pub fn feed(&mut self, samples: &[i16], out: &mut Vec<FrameDecision>) {
        self.feed_frames(samples, true, |d, _| out.push(*d));
    }

    /// Like [`Vad::feed`], analysing the spectrum of every frame.
    pub fn feed_ungated(&mut self, samples: &[i16], out: &mut Vec<FrameDecision>) {
        self.feed_frames(samples, false, |d, _| out.push(*d));
    }

    /// Like [`Vad::feed_ungated`], also handing each frame's power spectrum to `f`.
    pub(super) fn feed_with(&mut self, samples: &[i16], f: impl FnMut(&FrameDecision, &[f32])) {
        self.feed_frames(samples, false, f);
    }

    fn feed_frames(
        &mut self,
        samples: &[i16],
        gate: bool,
        mut f: impl FnMut(&FrameDecision, &[f32]),
    ) {
        let hop = self.stft.hop;
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (hop - self.pending.len()).min(rest.len());
            self.pending
                .extend(rest[..take].iter().map(|&s| f32::from(s)));
            rest = &rest[take..];
            if self.pending.len() == hop {
                let frame = std::mem::take(&mut self.pending);
                let d = self.decide(&frame, gate);
                self.pending = frame;
                self.pending.clear();
                f(&d, &self.power);
            }
        }
    }

    /// An upper bound of the band's mean square (full scale 1.0) of the frame made of the last
    /// hop and `frame`, if the last hop's share is known: the frame's windowed energy in the
    /// time domain. By Parseval the power spectrum sums to `n` times that energy; the band
    /// holds at most half of it (it lies strictly between DC and Nyquist, each of its bins
    /// mirrored in the other half), and `decide` turns a band sum `S` into `4 S / n²`. Also
    /// keeps `frame`'s share of the next frame's energy.
    fn bound_ms(&mut self, frame: &[f32]) -> Option<f32> {
        /// Independent sums, so that the compiler can use vector instructions (one serial
        /// sum of 320 products costs more than the FFT's butterflies).
        const LANES: usize = 8;
        let (first, second) = self.hann.split_at(frame.len());
        let (mut now, mut next) = ([0.0f32; LANES], [0.0f32; LANES]);
        let chunks = frame
            .chunks(LANES)
            .zip(first.chunks(LANES))
            .zip(second.chunks(LANES));
        for ((x, w1), w2) in chunks {
            for (j, ((&x, &w1), &w2)) in x.iter().zip(w1).zip(w2).enumerate() {
                next[j] += x * x * w1;
                now[j] += x * x * w2;
            }
        }
        let energy = self.prev_energy.map(|e| e + now.iter().sum::<f32>());
        self.prev_energy = Some(next.iter().sum());
        let n = self.hann.len();
        let half = if self.band.1 < self.stft.hop {
            0.5
        } else {
            1.0
        };
        energy.map(|e| half * 4.0 * e / n as f32 / (32768.0 * 32768.0))
    }

    fn decide(&mut self, frame: &[f32], gate: bool) -> FrameDecision {
        let bound = if gate {
            self.bound_ms(frame)
        } else {
            self.prev_energy = None;
            None
        };
        // The band's power sum, when the spectrum was analysed.
        let mut band_sum = None;
        let energy = if let Some(bound) = bound.filter(|&b| b < self.gate_ms) {
            self.stale = true;
            self.gated += 1;
            self.prev.copy_from_slice(frame);
            (10.0 * bound.max(1e-12).log10()).max(-120.0)
        } else {
            if self.stale {
                self.stft.analyse(&self.prev);
                self.stale = false;
            }
            self.stft.analyse(frame);
            self.stft.power(&mut self.power);
            let (lo, hi) = self.band;
            let n = (2 * self.stft.hop) as f32;
            let sum: f32 = self.power[lo..=hi].iter().sum();
            band_sum = Some(sum);
            // Parseval over the one-sided band, compensating the window's mean square of 1/2.
            let ms = 2.0 * sum / (n * n) / 0.5;
            (10.0 * (ms / (32768.0 * 32768.0)).max(1e-12).log10()).max(-120.0)
        };
        let floor = self.update_floor(energy);
        let above = energy - floor;
        // Flatness (a logarithm per bin) is computed only for a frame between half the
        // threshold and the threshold above the floor, the only ones it decides.
        let raw = energy > ABSOLUTE_FLOOR_DBFS
            && (above > self.cfg.threshold_db
                || (above > self.cfg.threshold_db / 2.0
                    && band_sum.is_some_and(|sum| self.flatness(sum) < FLATNESS_SPEECH)));
        let speech = if raw {
            self.hang = self.hangover_frames;
            true
        } else if self.hang > 0 {
            self.hang -= 1;
            true
        } else {
            false
        };
        let d = FrameDecision {
            start: self.next_start,
            len: self.stft.hop as u32,
            speech,
            raw_speech: raw,
            energy_dbfs: energy,
            floor_dbfs: floor,
        };
        self.next_start += self.stft.hop as u64;
        d
    }

    /// Spectral flatness of the band of the last analysed frame, whose power sums to `sum`.
    fn flatness(&self, sum: f32) -> f32 {
        let (lo, hi) = self.band;
        let band = &self.power[lo..=hi];
        let mean = sum / band.len() as f32;
        let log_mean = band.iter().map(|&p| (p + 1e-3).ln()).sum::<f32>() / band.len() as f32;
        if mean > 0.0 {
            (log_mean.exp() / (mean + 1e-3)).min(1.0)
        } else {
            1.0
        }
    }

    fn update_floor(&mut self, energy: f32) -> f32 {
        self.block_min = self.block_min.min(energy);
        self.block_frames += 1;
        let past = self.blocks[..self.blocks_filled]
            .iter()
            .fold(f32::INFINITY, |a, &b| a.min(b));
        let floor = past.min(self.block_min);
        if self.block_frames == self.frames_per_block {
            self.blocks[self.block_pos] = self.block_min;
            self.block_pos = (self.block_pos + 1) % FLOOR_BLOCKS;
            self.blocks_filled = (self.blocks_filled + 1).min(FLOOR_BLOCKS);
            self.block_frames = 0;
            self.block_min = f32::INFINITY;
        }
        floor
    }
}

/// Tells when a configured time without speech has passed, counting samples (not clocks).
///
/// The station manager feeds it every VAD decision while recording and stops the recording when
/// [`SilenceTimer::update`] returns `true`. Time counts from the start or from the last speech.
#[derive(Debug, Clone)]
pub struct SilenceTimer {
    limit: u64,
    silent: u64,
}

impl SilenceTimer {
    /// A timer that fires after `timeout` of non-speech at `rate`.
    pub fn new(rate: SampleRate, timeout: Duration) -> Self {
        let limit = (timeout.as_micros() * u128::from(rate.hz()) / 1_000_000) as u64;
        Self { limit, silent: 0 }
    }

    /// Accounts for one decision; returns whether the silence limit has been reached.
    pub fn update(&mut self, d: &FrameDecision) -> bool {
        if d.speech {
            self.silent = 0;
        } else {
            self.silent = self.silent.saturating_add(u64::from(d.len));
        }
        self.expired()
    }

    /// Whether the limit has been reached.
    pub fn expired(&self) -> bool {
        self.silent >= self.limit
    }

    /// Samples of non-speech since the last speech.
    pub fn silent_samples(&self) -> u64 {
        self.silent
    }

    /// Restarts the count.
    pub fn reset(&mut self) {
        self.silent = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(n: usize, amp: f32, rate: f32) -> Vec<i16> {
        (0..n)
            .map(|i| (amp * (2.0 * PI * 440.0 * i as f32 / rate).sin()) as i16)
            .collect()
    }

    #[test]
    fn silence_is_not_speech_and_tone_is() {
        let rate = SampleRate::Hz8000;
        let mut vad = Vad::new(VadConfig::default(), rate);
        let mut d = Vec::new();
        vad.feed(&vec![0; 8000], &mut d);
        assert_eq!(d.len(), 100);
        assert!(d.iter().all(|f| !f.speech));
        d.clear();
        vad.feed(&tone(8000, 8000.0, 8000.0), &mut d);
        assert!(d[2..].iter().all(|f| f.speech));
        assert_eq!(d[0].start, 8000);
    }

    #[test]
    fn hangover_then_timer() {
        let rate = SampleRate::Hz16000;
        let cfg = VadConfig::default()
            .hangover(Duration::from_millis(200))
            .unwrap();
        let mut vad = Vad::new(cfg, rate);
        let mut timer = SilenceTimer::new(rate, Duration::from_secs(1));
        let mut d = Vec::new();
        // Min-statistics needs to have seen something quieter than the tone first.
        vad.feed(&vec![0; 8000], &mut d);
        vad.feed(&tone(16000, 8000.0, 16000.0), &mut d);
        vad.feed(&vec![0; 32000], &mut d);
        let fired: Vec<usize> = d
            .iter()
            .enumerate()
            .filter(|(_, f)| timer.update(f))
            .map(|(i, _)| i)
            .collect();
        // Tone in frames 50..150 (frame 150's window still holds its tail); hangover 20 frames;
        // then 100 frames (1 s) of silence.
        let last_raw = d.iter().rposition(|f| f.raw_speech).unwrap();
        assert!((149..=150).contains(&last_raw), "{last_raw}");
        assert!(d[..50].iter().all(|f| !f.speech) && d[51..149].iter().all(|f| f.raw_speech));
        assert_eq!(fired.first(), Some(&(last_raw + 20 + 100)));
        assert!(d[last_raw + 20].speech && !d[last_raw + 21].speech);
    }

    /// The speech fixture (`/work/shared/fixtures/speech-8k.wav`, the same bytes), 8 kHz.
    fn speech() -> Vec<i16> {
        let bytes: &[u8] = include_bytes!("../../tests/data/speech-8k.wav");
        let mut r = crate::wav::WavReader::new(std::io::Cursor::new(bytes)).unwrap();
        let mut pcm = vec![0i16; 8000 * 30];
        let mut got = 0;
        loop {
            let k = r.read_mono(&mut pcm[got..]).unwrap();
            if k == 0 {
                break;
            }
            got += k;
        }
        pcm.truncate(got);
        pcm
    }

    /// Speech scaled by `gain_db`, between stretches of silence, over seeded white noise of
    /// `noise_dbfs` (RMS; `None`: digital silence).
    fn scene(speech: &[i16], gain_db: f32, noise_dbfs: Option<f32>, seed: u64) -> Vec<i16> {
        use rand::rngs::StdRng;
        use rand::{Rng, SeedableRng};
        let mut rng = StdRng::seed_from_u64(seed);
        let g = 10f32.powf(gain_db / 20.0);
        let mut x = vec![0.0f32; 8000];
        x.extend(speech.iter().map(|&s| f32::from(s) * g));
        x.extend(std::iter::repeat_n(0.0, 12_000));
        x.extend(speech[..speech.len() / 3].iter().map(|&s| f32::from(s) * g));
        x.extend(std::iter::repeat_n(0.0, 4000));
        // Uniform noise of RMS `a`: amplitude a·√3.
        let a = noise_dbfs.map_or(0.0, |db| 32768.0 * 10f32.powf(db / 20.0) * 3f32.sqrt());
        x.iter()
            .map(|&v| {
                let n = if a > 0.0 { rng.gen_range(-a..a) } else { 0.0 };
                (v + n).round().clamp(-32768.0, 32767.0) as i16
            })
            .collect()
    }

    #[test]
    fn the_energy_gate_decides_as_the_spectrum_does() {
        let speech = speech();
        let gate_db = ABSOLUTE_FLOOR_DBFS - VadConfig::default().threshold_db - GATE_MARGIN_DB;
        let mut gated_total = 0;
        let mut speech_frames = 0;
        let mut silent_frames = 0;
        let levels = [0.0, -20.0, -40.0, -50.0];
        let noises = [
            None,
            Some(-90.0),
            Some(-80.0),
            Some(-75.0),
            Some(-72.0),
            Some(-60.0),
        ];
        for (i, (&gain, &noise)) in levels
            .iter()
            .flat_map(|g| noises.iter().map(move |n| (g, n)))
            .enumerate()
        {
            for frame in [FrameLen::Ms20, FrameLen::Ms10] {
                let x = scene(&speech, gain, noise, i as u64);
                let cfg = VadConfig {
                    frame,
                    ..VadConfig::default()
                };
                let (mut gated, mut full) = (
                    Vad::new(cfg, SampleRate::Hz8000),
                    Vad::new(cfg, SampleRate::Hz8000),
                );
                let (mut a, mut b) = (Vec::new(), Vec::new());
                // Chunks of any size, as RTP frames and file reads come.
                for c in x.chunks(173) {
                    gated.feed(c, &mut a);
                }
                for c in x.chunks(160) {
                    full.feed_ungated(c, &mut b);
                }
                assert_eq!(a.len(), b.len());
                assert_eq!(full.gated_frames(), 0);
                for (k, (g, f)) in a.iter().zip(&b).enumerate() {
                    let at = format!("gain {gain} dB, noise {noise:?}, {frame:?}, frame {k}");
                    assert_eq!((g.start, g.len), (f.start, f.len), "{at}");
                    assert_eq!(g.raw_speech, f.raw_speech, "{at}: {g:?} {f:?}");
                    assert_eq!(g.speech, f.speech, "{at}: {g:?} {f:?}");
                    if g.energy_dbfs < gate_db {
                        // Gated: its energy is a bound of the spectrum's.
                        assert!(f.energy_dbfs <= g.energy_dbfs + 1e-3, "{at}: {g:?} {f:?}");
                    } else {
                        // Analysed with the same history as without the gate.
                        assert_eq!(g.energy_dbfs, f.energy_dbfs, "{at}");
                    }
                    if f.speech {
                        speech_frames += 1;
                    } else {
                        silent_frames += 1;
                    }
                }
                gated_total += gated.gated_frames();
                if noise.is_none_or(|n| n <= -80.0) {
                    // Digital silence and quiet lines: the pauses skip the spectrum.
                    assert!(
                        gated.gated_frames() > 100,
                        "{gain} {noise:?}: {}",
                        gated.gated_frames()
                    );
                }
                if noise == Some(-60.0) {
                    assert_eq!(gated.gated_frames(), 0, "noise above the gate");
                }
            }
        }
        assert!(gated_total > 10_000, "{gated_total}");
        assert!(speech_frames > 10_000 && silent_frames > 10_000);
    }

    #[test]
    fn the_gate_spares_the_spectrum_of_a_quiet_line_only() {
        let mut vad = Vad::new(VadConfig::default(), SampleRate::Hz8000);
        let mut d = Vec::new();
        vad.feed(&vec![0; 8000], &mut d);
        assert_eq!(vad.gated_frames(), 100);
        vad.feed(&tone(8000, 8000.0, 8000.0), &mut d);
        assert_eq!(vad.gated_frames(), 100);
        assert!(d[102..].iter().all(|f| f.speech));
        // A tone 5 dB above the gate is analysed (and is not speech: under the absolute floor).
        let amp = 32768.0 * 2f32.sqrt() * 10f32.powf((ABSOLUTE_FLOOR_DBFS - 6.0) / 20.0);
        d.clear();
        vad.feed(&tone(8000, amp, 8000.0), &mut d);
        assert_eq!(vad.gated_frames(), 100);
        assert!(
            d[2..]
                .iter()
                .all(|f| !f.raw_speech && f.energy_dbfs > -70.0)
        );
    }

    #[test]
    fn config_validation() {
        assert!(VadConfig::default().threshold_db(1.0).is_err());
        assert!(
            VadConfig::default()
                .hangover(Duration::from_secs(5))
                .is_err()
        );
        assert_eq!(FrameLen::Ms20.samples(SampleRate::Hz16000), 320);
    }
}
