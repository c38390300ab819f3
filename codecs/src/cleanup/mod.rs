//! Voice clean-up for recorded messages: voice activity, trimming, noise reduction and loudness.
//!
//! Works on mono 16-bit PCM at 8 or 16 kHz, in two streaming passes so that a 10-minute message is
//! never whole in memory:
//!
//! 1. An [`Analyzer`] is fed the recording (any slice sizes) and produces a [`Plan`]: where speech
//!    starts and ends, the noise power spectrum (averaged over frames near the noise floor), the
//!    speech-gated loudness and the gain.
//! 2. A [`Processor`] built from the plan is fed the same samples again and emits the cleaned
//!    samples: trimmed to the speech plus [`Config::margin`] (with a short fade at each cut),
//!    denoised (Wiener filter with a spectral floor, sqrt-Hann overlap-add), scaled by
//!    the plan's gain, and peak-limited.
//!
//! # Targets (documented levels)
//! - Loudness: speech-gated integrated loudness per ITU-R BS.1770-4 (K-weighting at the actual
//!   sample rate; see [`loudness`]) brought to [`Config::target_lufs`], default **−16 LUFS**.
//! - Peaks: a look-ahead limiter (5 ms, linear attack ramp, 80 ms release) keeps every sample at or
//!   below [`Config::ceiling_dbfs`], default **−3 dBFS** (sample peak; at 8/16 kHz inter-sample
//!   peaks add well under 1 dB for speech). The gain is also capped so that the limiter never needs
//!   more than [`LIMITER_MAX_REDUCTION_DB`] of reduction.
//!   The gain is set from the input's loudness, so limiting lowers the result a little: on the
//!   11.4 s speech fixture (crest factor 15 dB) the output measures −16.7 to −16.8 LUFS.
//! - Gain is at most [`Config::max_gain_db`], default **+20 dB**, so near-silent recordings are not
//!   turned into loud noise.
//! - Noise: up to [`Config::noise_reduction_db`], default **20 dB**, of suppression per bin.
//!
//! Nothing is added: no comfort noise, no dither.
use std::collections::VecDeque;
use std::ops::Range;
use std::time::Duration;

use thiserror::Error;
use tracing::debug;

mod denoise;
pub mod loudness;
mod spectrum;
pub mod vad;

pub use vad::{FrameDecision, FrameLen, SilenceTimer, Vad, VadConfig};

use denoise::Denoiser;
use loudness::Meter;

/// Largest reduction the limiter is allowed to apply to the loudest peak of the speech.
pub const LIMITER_MAX_REDUCTION_DB: f32 = 6.0;
/// Look-ahead of the peak limiter.
const LIMITER_LOOKAHEAD: Duration = Duration::from_millis(5);
/// Release time constant of the peak limiter.
const LIMITER_RELEASE: Duration = Duration::from_millis(80);

/// Errors from the clean-up API (all are caller mistakes: input audio itself cannot be invalid).
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// Only 8000 and 16000 Hz are supported.
    #[error("unsupported sample rate {rate} Hz (8000 or 16000)")]
    UnsupportedRate {
        /// The rate given.
        rate: u32,
    },
    /// A configuration value is out of range.
    #[error("configuration field `{field}` out of range")]
    Config {
        /// The field.
        field: &'static str,
    },
    /// Pass 2 was fed a different number of samples than pass 1.
    #[error("pass 2 got {got} samples, pass 1 analysed {expected}")]
    InputMismatch {
        /// Samples analysed in pass 1.
        expected: u64,
        /// Samples fed in pass 2.
        got: u64,
    },
}

/// Supported sample rates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SampleRate {
    /// 8 kHz (G.711 narrowband).
    Hz8000,
    /// 16 kHz (wideband).
    Hz16000,
}

impl SampleRate {
    /// The rate for `hz`, if supported.
    pub fn from_hz(hz: u32) -> Result<Self, Error> {
        match hz {
            8000 => Ok(Self::Hz8000),
            16000 => Ok(Self::Hz16000),
            rate => Err(Error::UnsupportedRate { rate }),
        }
    }

    /// Samples per second.
    pub fn hz(self) -> u32 {
        match self {
            Self::Hz8000 => 8000,
            Self::Hz16000 => 16000,
        }
    }

    fn samples(self, d: Duration) -> u64 {
        (d.as_micros() * u128::from(self.hz()) / 1_000_000) as u64
    }
}

/// Clean-up settings. Build with [`Config::new`] and the checked setters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Config {
    rate: SampleRate,
    /// Voice activity detection.
    pub vad: VadConfig,
    /// Kept before the first and after the last speech frame.
    pub margin: Duration,
    /// Fade applied at a trim cut.
    pub fade: Duration,
    /// Loudness target, LUFS.
    pub target_lufs: f32,
    /// Peak ceiling, dBFS.
    pub ceiling_dbfs: f32,
    /// Largest gain, dB.
    pub max_gain_db: f32,
    /// Largest noise suppression per bin, dB (0 disables noise reduction).
    pub noise_reduction_db: f32,
    /// Frames within this many dB of the noise floor feed the noise estimate.
    pub noise_margin_db: f32,
}

impl Config {
    /// Defaults for `rate_hz` (8000 or 16000).
    pub fn new(rate_hz: u32) -> Result<Self, Error> {
        Ok(Self {
            rate: SampleRate::from_hz(rate_hz)?,
            vad: VadConfig::default(),
            margin: Duration::from_millis(200),
            fade: Duration::from_millis(10),
            target_lufs: -16.0,
            ceiling_dbfs: -3.0,
            max_gain_db: 20.0,
            noise_reduction_db: 20.0,
            noise_margin_db: 3.0,
        })
    }

    /// The sample rate.
    pub fn rate(&self) -> SampleRate {
        self.rate
    }

    /// Sets the trim margin (at most 2 s).
    pub fn margin(mut self, d: Duration) -> Result<Self, Error> {
        if d > Duration::from_secs(2) {
            return Err(Error::Config { field: "margin" });
        }
        self.margin = d;
        Ok(self)
    }

    /// Sets the loudness target (−40..=−6 LUFS).
    pub fn target_lufs(mut self, lufs: f32) -> Result<Self, Error> {
        if !(-40.0..=-6.0).contains(&lufs) {
            return Err(Error::Config {
                field: "target_lufs",
            });
        }
        self.target_lufs = lufs;
        Ok(self)
    }

    /// Sets the peak ceiling (−20..=−0.1 dBFS).
    pub fn ceiling_dbfs(mut self, db: f32) -> Result<Self, Error> {
        if !(-20.0..=-0.1).contains(&db) {
            return Err(Error::Config {
                field: "ceiling_dbfs",
            });
        }
        self.ceiling_dbfs = db;
        Ok(self)
    }

    /// Sets the largest gain (0..=40 dB).
    pub fn max_gain_db(mut self, db: f32) -> Result<Self, Error> {
        if !(0.0..=40.0).contains(&db) {
            return Err(Error::Config {
                field: "max_gain_db",
            });
        }
        self.max_gain_db = db;
        Ok(self)
    }

    /// Sets the largest noise suppression (0..=40 dB; 0 turns noise reduction off).
    pub fn noise_reduction_db(mut self, db: f32) -> Result<Self, Error> {
        if !(0.0..=40.0).contains(&db) {
            return Err(Error::Config {
                field: "noise_reduction_db",
            });
        }
        self.noise_reduction_db = db;
        Ok(self)
    }
}

/// The result of pass 1: everything pass 2 needs.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    config: Config,
    /// Samples analysed.
    pub total_samples: u64,
    /// First sample of the first speech frame to the end of the last one (no margin), if any.
    pub speech: Option<Range<u64>>,
    /// Samples the output keeps (speech plus margin); empty if there is no speech.
    pub keep: Range<u64>,
    /// Speech-gated loudness of the input, LUFS.
    pub loudness_lufs: Option<f32>,
    /// Sample peak of the input within `keep`, dBFS.
    pub peak_dbfs: f32,
    /// Gain to apply, dB.
    pub gain_db: f32,
    /// Noise power spectrum (one-sided, per bin of the VAD frame's 2-hop FFT).
    pub noise_psd: Vec<f32>,
    /// Frames that contributed to the noise spectrum.
    pub noise_frames: u64,
}

impl Plan {
    /// The configuration the plan was made with.
    pub fn config(&self) -> &Config {
        &self.config
    }
}

/// Pass 1: feed the recording, then [`Analyzer::finish`] for the [`Plan`].
pub struct Analyzer {
    cfg: Config,
    vad: Vad,
    meter: Meter,
    hop: usize,
    pending: Vec<i16>,
    scaled: Vec<f32>,
    total: u64,
    first_speech: Option<u64>,
    last_speech_end: u64,
    noise_sum: Vec<f64>,
    noise_frames: u64,
    /// Sample peak per 100 ms sub-block.
    peaks: Vec<u16>,
    sub_len: u64,
    decisions: Vec<FrameDecision>,
}

impl Analyzer {
    /// An analyzer for `cfg`.
    pub fn new(cfg: Config) -> Self {
        let vad = Vad::new(cfg.vad, cfg.rate);
        let hop = vad.frame_len();
        Self {
            cfg,
            vad,
            meter: Meter::new(cfg.rate.hz()),
            hop,
            pending: Vec::with_capacity(hop),
            scaled: Vec::with_capacity(hop),
            total: 0,
            first_speech: None,
            last_speech_end: 0,
            noise_sum: vec![0.0; hop + 1],
            noise_frames: 0,
            peaks: Vec::new(),
            sub_len: u64::from(cfg.rate.hz() / 10),
            decisions: Vec::with_capacity(1),
        }
    }

    /// Feeds samples (any length).
    pub fn feed(&mut self, samples: &[i16]) {
        // Peaks a sub-block at a time (one division per sub-block, not per sample).
        let mut rest = samples;
        while !rest.is_empty() {
            let pos = self.total % self.sub_len;
            if pos == 0 {
                self.peaks.push(0);
            }
            let take = usize::try_from(self.sub_len - pos)
                .unwrap_or(usize::MAX)
                .min(rest.len());
            let (chunk, more) = rest.split_at(take);
            let peak = chunk.iter().fold(0, |m: u16, s| m.max(s.unsigned_abs()));
            if let Some(last) = self.peaks.last_mut() {
                *last = (*last).max(peak);
            }
            self.total += take as u64;
            rest = more;
        }
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (self.hop - self.pending.len()).min(rest.len());
            self.pending.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if self.pending.len() == self.hop {
                self.frame();
                self.pending.clear();
            }
        }
    }

    fn frame(&mut self) {
        let (noise_sum, noise_frames, margin) = (
            &mut self.noise_sum,
            &mut self.noise_frames,
            self.cfg.noise_margin_db,
        );
        let decisions = &mut self.decisions;
        self.vad.feed_with(&self.pending, |d, power| {
            if !d.speech && d.energy_dbfs < d.floor_dbfs + margin {
                for (acc, &p) in noise_sum.iter_mut().zip(power) {
                    *acc += f64::from(p);
                }
                *noise_frames += 1;
            }
            decisions.push(*d);
        });
        for d in self.decisions.drain(..) {
            if d.raw_speech {
                self.first_speech.get_or_insert(d.start);
                self.last_speech_end = d.start + u64::from(d.len);
            }
            self.scaled.clear();
            self.scaled
                .extend(self.pending.iter().map(|&s| f32::from(s) / 32768.0));
            self.meter.frame(&self.scaled, d.speech);
        }
    }

    /// Ends pass 1.
    pub fn finish(self) -> Plan {
        let cfg = self.cfg;
        let margin = cfg.rate.samples(cfg.margin);
        let speech = self.first_speech.map(|s| s..self.last_speech_end);
        let keep = match &speech {
            Some(r) => r.start.saturating_sub(margin)..(r.end + margin).min(self.total),
            None => 0..0,
        };
        let peak = if keep.is_empty() {
            0
        } else {
            let first = (keep.start / self.sub_len) as usize;
            let last = ((keep.end - 1) / self.sub_len) as usize;
            self.peaks[first..=last.min(self.peaks.len() - 1)]
                .iter()
                .copied()
                .max()
                .unwrap_or(0)
        };
        let peak_dbfs = 20.0 * (f32::from(peak).max(1.0) / 32768.0).log10();
        let loudness_lufs = if speech.is_some() {
            self.meter.integrated(true)
        } else {
            None
        };
        let gain_db = match loudness_lufs {
            Some(l) => (cfg.target_lufs - l)
                .min(cfg.max_gain_db)
                .min(cfg.ceiling_dbfs + LIMITER_MAX_REDUCTION_DB - peak_dbfs),
            None => 0.0,
        };
        let noise_psd = if self.noise_frames > 0 {
            let n = self.noise_frames as f64;
            self.noise_sum.iter().map(|&s| (s / n) as f32).collect()
        } else {
            vec![0.0; self.hop + 1]
        };
        debug!(
            total = self.total,
            keep_start = keep.start,
            keep_end = keep.end,
            loudness = ?loudness_lufs,
            gain_db,
            noise_frames = self.noise_frames,
            "clean-up plan"
        );
        Plan {
            config: cfg,
            total_samples: self.total,
            speech,
            keep,
            loudness_lufs,
            peak_dbfs,
            gain_db,
            noise_psd,
            noise_frames: self.noise_frames,
        }
    }
}

/// Look-ahead peak limiter: never lets a sample exceed `ceiling`; gain moves along a linear ramp
/// over the look-ahead before a peak and recovers exponentially after it.
///
/// Each sample in the look-ahead line asks for a gain `r + (1 − r)·d/L` (`r` the gain that brings
/// it to the ceiling, `d` its distance from the line's output end, `L` the look-ahead); the gain
/// applied is the least of them. Samples below the ceiling ask for exactly 1, so only the few
/// above it are kept in `peaks` and visited: the work per sample is the number of peaks in the
/// line, not its length (speech rarely has any), with the same result.
struct Limiter {
    ceiling: f32,
    lookahead: usize,
    release: f32,
    gain: f32,
    /// The look-ahead line: a ring of `lookahead + 1` samples, sample `i` at `i % len`.
    delay: Vec<f32>,
    /// Where the next sample goes in `delay` (`pushed % delay.len()`).
    slot: usize,
    /// `(index, r)` of the samples in `delay` above the ceiling, oldest first.
    peaks: VecDeque<(u64, f32)>,
    /// Samples pushed so far.
    pushed: u64,
}

impl Limiter {
    fn new(rate: SampleRate, ceiling: f32) -> Self {
        let lookahead = rate.samples(LIMITER_LOOKAHEAD) as usize;
        let tau = rate.samples(LIMITER_RELEASE) as f32;
        Self {
            ceiling,
            lookahead,
            release: 1.0 - (-1.0 / tau).exp(),
            gain: 1.0,
            delay: vec![0.0; lookahead + 1],
            slot: 0,
            peaks: VecDeque::with_capacity(lookahead + 1),
            pushed: 0,
        }
    }

    /// Pushes one sample; returns the sample `lookahead` places earlier once the line is full.
    fn push(&mut self, x: f32) -> Option<f32> {
        if x.abs() > self.ceiling {
            self.peaks.push_back((self.pushed, self.ceiling / x.abs()));
        }
        self.pushed += 1;
        self.delay[self.slot] = x;
        self.slot += 1;
        if self.slot == self.delay.len() {
            self.slot = 0;
        }
        if self.pushed <= self.lookahead as u64 {
            return None;
        }
        // The line is full: its oldest sample, `lookahead` before `x`, is the one in the slot
        // after `x`'s (where the next sample will go).
        let oldest = self.pushed - self.delay.len() as u64;
        let l = self.lookahead as f32;
        let mut target = 1.0f32;
        for &(i, r) in &self.peaks {
            let d = i - oldest;
            target = target.min(r + (1.0 - r) * d as f32 / l);
        }
        self.gain = (self.gain + (1.0 - self.gain) * self.release).min(target);
        if self.peaks.front().is_some_and(|&(i, _)| i == oldest) {
            self.peaks.pop_front();
        }
        Some(self.delay[self.slot] * self.gain)
    }
}

/// Pass 2: feed the same samples again; cleaned samples come out.
pub struct Processor {
    keep: Range<u64>,
    total_expected: u64,
    fade: u64,
    fade_in: bool,
    fade_out: bool,
    gain: f32,
    hop: usize,
    denoiser: Option<Denoiser>,
    limiter: Limiter,
    pending: Vec<f32>,
    hop_out: Vec<f32>,
    fed: u64,
    /// Samples that have left the limiter (timeline index + `delay`).
    produced: u64,
    delay: u64,
}

impl Processor {
    /// A processor carrying out `plan`.
    pub fn new(plan: &Plan) -> Self {
        let cfg = plan.config;
        let hop = cfg.vad.frame.samples(cfg.rate);
        let denoiser = (cfg.noise_reduction_db > 0.0 && plan.noise_frames > 0).then(|| {
            Denoiser::new(
                hop,
                &plan.noise_psd,
                10f32.powf(-cfg.noise_reduction_db / 20.0),
            )
        });
        let limiter = Limiter::new(cfg.rate, 32768.0 * 10f32.powf(cfg.ceiling_dbfs / 20.0));
        // The limiter holds its look-ahead back itself; only the denoiser's hop needs skipping.
        let delay = if denoiser.is_some() { hop as u64 } else { 0 };
        Self {
            keep: plan.keep.clone(),
            total_expected: plan.total_samples,
            fade: cfg.rate.samples(cfg.fade).max(1),
            fade_in: plan.keep.start > 0,
            fade_out: plan.keep.end < plan.total_samples,
            gain: 10f32.powf(plan.gain_db / 20.0),
            hop,
            denoiser,
            limiter,
            pending: Vec::with_capacity(hop),
            hop_out: vec![0.0; hop],
            fed: 0,
            produced: 0,
            delay,
        }
    }

    /// Feeds samples (any length); appends the cleaned samples that are ready to `out`.
    pub fn feed(&mut self, samples: &[i16], out: &mut Vec<i16>) {
        self.fed += samples.len() as u64;
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (self.hop - self.pending.len()).min(rest.len());
            let (chunk, more) = rest.split_at(take);
            self.pending.extend(chunk.iter().map(|&s| f32::from(s)));
            rest = more;
            if self.pending.len() == self.hop {
                self.run_hop(out);
            }
        }
    }

    fn run_hop(&mut self, out: &mut Vec<i16>) {
        match &mut self.denoiser {
            Some(d) => d.process(&self.pending, &mut self.hop_out),
            None => self.hop_out.copy_from_slice(&self.pending),
        }
        self.pending.clear();
        for i in 0..self.hop {
            let x = self.hop_out[i] * self.gain;
            if let Some(y) = self.limiter.push(x) {
                self.emit(y, out);
            }
        }
    }

    fn emit(&mut self, y: f32, out: &mut Vec<i16>) {
        let produced = self.produced;
        self.produced += 1;
        let Some(t) = produced.checked_sub(self.delay) else {
            return;
        };
        if !self.keep.contains(&t) {
            return;
        }
        let mut g = 1.0;
        if self.fade_in && t - self.keep.start < self.fade {
            g = (t - self.keep.start) as f32 / self.fade as f32;
        }
        if self.fade_out && self.keep.end - t <= self.fade {
            g = g.min((self.keep.end - t - 1) as f32 / self.fade as f32);
        }
        out.push(round_to_i16(y * g));
    }

    /// Flushes the remaining output; fails if pass 2 saw a different number of samples.
    pub fn finish(mut self, out: &mut Vec<i16>) -> Result<(), Error> {
        let flush = self.delay as usize + self.limiter.lookahead + self.hop;
        for _ in 0..flush {
            self.pending.push(0.0);
            if self.pending.len() == self.hop {
                self.run_hop(out);
            }
        }
        if self.fed != self.total_expected {
            return Err(Error::InputMismatch {
                expected: self.total_expected,
                got: self.fed,
            });
        }
        Ok(())
    }
}

/// `x.round().clamp(-32767.0, 32767.0) as i16` (halves away from zero), without a call to
/// libm's `roundf` per sample (x86-64 without SSE4.1 has no rounding instruction). Clamping
/// first changes nothing, the bounds being whole; the fraction `c − trunc(c)` is exact.
fn round_to_i16(x: f32) -> i16 {
    let c = x.clamp(-32767.0, 32767.0);
    // NaN stays NaN through the clamp and converts to 0, as it did.
    let t = c as i32;
    let frac = c - t as f32;
    (t + i32::from(frac >= 0.5) - i32::from(frac <= -0.5)) as i16
}

/// Both passes over an in-memory recording with default settings.
pub fn clean(samples: &[i16], rate_hz: u32) -> Result<Vec<i16>, Error> {
    clean_with(samples, Config::new(rate_hz)?)
}

/// Both passes over an in-memory recording with `cfg`.
pub fn clean_with(samples: &[i16], cfg: Config) -> Result<Vec<i16>, Error> {
    let mut a = Analyzer::new(cfg);
    a.feed(samples);
    let plan = a.finish();
    let mut p = Processor::new(&plan);
    let mut out = Vec::with_capacity((plan.keep.end - plan.keep.start) as usize);
    p.feed(samples, &mut out);
    p.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::f32::consts::PI;

    use super::*;

    #[test]
    fn rates_and_config() {
        assert_eq!(
            SampleRate::from_hz(44100),
            Err(Error::UnsupportedRate { rate: 44100 })
        );
        assert!(clean(&[0; 10], 11025).is_err());
        let c = Config::new(8000).unwrap();
        assert!(c.target_lufs(-3.0).is_err());
        assert!(c.max_gain_db(50.0).is_err());
        assert!(c.margin(Duration::from_secs(3)).is_err());
    }

    #[test]
    fn limiter_holds_ceiling_and_delays() {
        let mut l = Limiter::new(SampleRate::Hz8000, 1000.0);
        let input: Vec<f32> = (0..800)
            .map(|i| if i % 100 == 50 { 5000.0 } else { 500.0 })
            .collect();
        let out: Vec<f32> = input.iter().filter_map(|&x| l.push(x)).collect();
        assert_eq!(out.len(), 800 - 40);
        assert!(out.iter().all(|y| y.abs() <= 1000.0 + 1e-3));
        // Before the first peak's look-ahead window the gain is 1; 10 samples before it, the ramp.
        assert!((out[5] - 500.0).abs() < 1e-3, "{}", out[5]);
        assert!(out[40] < 500.0 * 0.5, "{}", out[40]);
    }

    /// The limiter as first written: every sample of the look-ahead line visited per sample.
    fn reference_limiter(rate: SampleRate, ceiling: f32, input: &[f32]) -> Vec<f32> {
        let lookahead = rate.samples(LIMITER_LOOKAHEAD) as usize;
        let tau = rate.samples(LIMITER_RELEASE) as f32;
        let release = 1.0 - (-1.0 / tau).exp();
        let mut gain = 1.0f32;
        let mut delay: VecDeque<(f32, f32)> = VecDeque::new();
        let mut out = Vec::new();
        for &x in input {
            let need = if x.abs() > ceiling {
                ceiling / x.abs()
            } else {
                1.0
            };
            delay.push_back((x, need));
            if delay.len() <= lookahead {
                continue;
            }
            let l = lookahead as f32;
            let mut target = 1.0f32;
            for (d, &(_, r)) in delay.iter().enumerate() {
                target = target.min(r + (1.0 - r) * d as f32 / l);
            }
            gain = (gain + (1.0 - gain) * release).min(target);
            let (x, _) = delay.pop_front().unwrap();
            out.push(x * gain);
        }
        out
    }

    #[test]
    fn limiter_matches_the_reference_bit_for_bit() {
        // Peaks alone, in clusters, back to back, and a long loud stretch, at both rates.
        let mut seed = 0x1234_5678u32;
        let mut noise = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            (seed as f32 / u32::MAX as f32) * 2.0 - 1.0
        };
        for rate in [SampleRate::Hz8000, SampleRate::Hz16000] {
            let input: Vec<f32> = (0..20_000)
                .map(|i| {
                    let loud = match i {
                        3_000..=3_010 | 7_000..=7_400 => 3.0,
                        _ if i % 997 < 3 || i % 1_500 < 40 => 2.5,
                        _ => 0.6,
                    };
                    20_000.0 * loud * noise()
                })
                .collect();
            let ceiling = 23_197.0;
            let want = reference_limiter(rate, ceiling, &input);
            let mut l = Limiter::new(rate, ceiling);
            let got: Vec<f32> = input.iter().filter_map(|&x| l.push(x)).collect();
            assert!(input.iter().filter(|x| x.abs() > ceiling).count() > 300);
            assert_eq!(got.len(), want.len());
            let differ = got
                .iter()
                .zip(&want)
                .position(|(a, b)| a.to_bits() != b.to_bits());
            assert_eq!(differ, None, "{rate:?}");
        }
    }

    #[test]
    fn rounding_matches_the_library() {
        let want = |x: f32| x.round().clamp(-32767.0, 32767.0) as i16;
        // Every float from −40,000 to 40,000 in steps of 1/64 (all halves and near-halves
        // included), the neighbours of each half, and the edge cases.
        let mut xs: Vec<f32> = (-2_560_000..=2_560_000).map(|i| i as f32 / 64.0).collect();
        for i in -33_000..33_000 {
            let half = i as f32 + 0.5;
            xs.extend([half.next_down(), half, half.next_up()]);
        }
        xs.extend([
            f32::NAN,
            f32::INFINITY,
            f32::NEG_INFINITY,
            f32::MAX,
            f32::MIN,
            0.499_999_97,
            -0.499_999_97,
            -0.0,
        ]);
        for x in xs {
            assert_eq!(round_to_i16(x), want(x), "{x}");
        }
    }

    /// The plan's peak is the loudest sample of the part kept, found per 100 ms sub-block: a
    /// louder train of clicks before the speech (steady, so the VAD takes it for noise) is
    /// trimmed and does not count, and feeding in odd pieces changes nothing.
    #[test]
    fn peak_is_that_of_the_kept_part_whatever_the_pieces() {
        let rate = 8000usize;
        let mut x = vec![0i16; 5 * rate];
        // Clicks of 20,000 every 10 ms for the first second (−4.3 dBFS peaks).
        for i in (0..rate).step_by(80) {
            x[i] = 20_000;
        }
        // A 500 Hz tone peaking at 14,654 (−7.0 dBFS) from 1.5 s to 3.5 s.
        for i in 0..2 * rate {
            let t = i as f32 / rate as f32;
            x[rate + rate / 2 + i] = (14_654.0 * (2.0 * PI * 500.0 * t).sin()).round() as i16;
        }
        let cfg = Config::new(8000).unwrap();
        let mut whole = Analyzer::new(cfg);
        whole.feed(&x);
        let whole = whole.finish();
        let mut pieces = Analyzer::new(cfg);
        for piece in x.chunks(37) {
            pieces.feed(piece);
        }
        let pieces = pieces.finish();
        assert_eq!(whole, pieces);
        let speech = whole.speech.clone().unwrap();
        assert!(speech.start >= rate as u64, "{whole:?}");
        let want = 20.0 * (14_654.0f32 / 32768.0).log10();
        assert!((whole.peak_dbfs - want).abs() < 0.01, "{whole:?}");
    }

    #[test]
    fn pass_two_must_see_the_same_length() {
        let cfg = Config::new(8000).unwrap();
        let mut a = Analyzer::new(cfg);
        a.feed(&[0; 1000]);
        let plan = a.finish();
        let mut p = Processor::new(&plan);
        let mut out = Vec::new();
        p.feed(&[0; 999], &mut out);
        assert_eq!(
            p.finish(&mut out),
            Err(Error::InputMismatch {
                expected: 1000,
                got: 999
            })
        );
    }
}
