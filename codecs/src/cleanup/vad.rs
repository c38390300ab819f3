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
use std::time::Duration;

use super::spectrum::Stft;
use super::{Error, SampleRate};

/// Frames with band energy below this (dBFS) are never speech.
pub const ABSOLUTE_FLOOR_DBFS: f32 = -62.0;
/// Spectral flatness below which a frame counts as tonal.
pub const FLATNESS_SPEECH: f32 = 0.3;
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
    /// Band energy, dBFS.
    pub energy_dbfs: f32,
    /// Current noise floor estimate, dBFS.
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
        }
    }

    /// Samples per frame.
    pub fn frame_len(&self) -> usize {
        self.stft.hop
    }

    /// Feeds samples; pushes one decision per completed frame onto `out`.
    pub fn feed(&mut self, samples: &[i16], out: &mut Vec<FrameDecision>) {
        self.feed_with(samples, |d, _| out.push(*d));
    }

    /// Like [`Vad::feed`], also handing each frame's power spectrum to `f`.
    pub(super) fn feed_with(&mut self, samples: &[i16], mut f: impl FnMut(&FrameDecision, &[f32])) {
        let hop = self.stft.hop;
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (hop - self.pending.len()).min(rest.len());
            self.pending
                .extend(rest[..take].iter().map(|&s| f32::from(s)));
            rest = &rest[take..];
            if self.pending.len() == hop {
                let frame = std::mem::take(&mut self.pending);
                let d = self.decide(&frame);
                self.pending = frame;
                self.pending.clear();
                f(&d, &self.power);
            }
        }
    }

    fn decide(&mut self, frame: &[f32]) -> FrameDecision {
        self.stft.analyse(frame);
        self.stft.power(&mut self.power);
        let (lo, hi) = self.band;
        let band = &self.power[lo..=hi];
        let n = (2 * self.stft.hop) as f32;
        let sum: f32 = band.iter().sum();
        // Parseval over the one-sided band, compensating the window's mean square of 1/2.
        let ms = 2.0 * sum / (n * n) / 0.5;
        let energy = (10.0 * (ms / (32768.0 * 32768.0)).max(1e-12).log10()).max(-120.0);
        let mean = sum / band.len() as f32;
        let log_mean = band.iter().map(|&p| (p + 1e-3).ln()).sum::<f32>() / band.len() as f32;
        let flatness = if mean > 0.0 {
            (log_mean.exp() / (mean + 1e-3)).min(1.0)
        } else {
            1.0
        };
        let floor = self.update_floor(energy);
        let above = energy - floor;
        let raw = energy > ABSOLUTE_FLOOR_DBFS
            && (above > self.cfg.threshold_db
                || (above > self.cfg.threshold_db / 2.0 && flatness < FLATNESS_SPEECH));
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
            .map(|i| (amp * (2.0 * std::f32::consts::PI * 440.0 * i as f32 / rate).sin()) as i16)
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
