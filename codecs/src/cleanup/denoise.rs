//! Noise reduction: a short-time Wiener filter with the decision-directed a-priori SNR estimate
//! (Ephraim & Malah, IEEE Trans. ASSP 32(6), 1984) and a spectral floor.
//!
//! The noise power spectrum is fixed for the whole message: pass 1 averages the spectra of frames
//! whose band energy sits within a few dB of the noise floor. Per bin, the gain is
//! `ξ / (1 + ξ)` with `ξ = α·G²·γ_prev + (1 − α)·max(γ − 1, 0)`, floored at `floor` so residual
//! noise keeps its character (no "musical noise" of isolated spectral peaks). Frames are
//! overlap-added with the sqrt-Hann window pair of [`super::spectrum`], so the output has no frame
//! seams. No noise is ever added.
use super::spectrum::Stft;

/// Smoothing of the decision-directed estimate.
const ALPHA: f32 = 0.98;

pub(super) struct Denoiser {
    stft: Stft,
    /// Noise power per bin, at least `min_noise`.
    noise: Vec<f32>,
    floor: f32,
    prev_gain: Vec<f32>,
    prev_gamma: Vec<f32>,
    gains: Vec<f32>,
    power: Vec<f32>,
    frame: Vec<f32>,
    /// Second half of the previous synthesis frame, waiting for its overlap.
    tail: Vec<f32>,
}

impl Denoiser {
    /// `noise` is the one-sided noise power spectrum for frames of `2 * hop` samples;
    /// `floor` the smallest gain (linear amplitude).
    pub(super) fn new(hop: usize, noise: &[f32], floor: f32) -> Self {
        let stft = Stft::new(hop);
        let bins = stft.bins();
        // Noise power of white noise at about −100 dBFS (16-bit quantisation noise is −101 dBFS), so
        // clean recordings pass unchanged.
        let min_noise = (2 * hop) as f32 * 0.05;
        let noise = (0..bins)
            .map(|k| noise.get(k).copied().unwrap_or(0.0).max(min_noise))
            .collect();
        Self {
            stft,
            noise,
            floor,
            prev_gain: vec![1.0; bins],
            prev_gamma: vec![0.0; bins],
            gains: vec![1.0; bins],
            power: vec![0.0; bins],
            frame: vec![0.0; 2 * hop],
            tail: vec![0.0; hop],
        }
    }

    /// Takes one hop of input and returns one hop of output, delayed by one hop.
    pub(super) fn process(&mut self, input: &[f32], out: &mut [f32]) {
        self.stft.analyse(input);
        self.stft.power(&mut self.power);
        for k in 0..self.gains.len() {
            let gamma = self.power[k] / self.noise[k];
            let xi = ALPHA * self.prev_gain[k] * self.prev_gain[k] * self.prev_gamma[k]
                + (1.0 - ALPHA) * (gamma - 1.0).max(0.0);
            let g = (xi / (1.0 + xi)).max(self.floor);
            self.gains[k] = g;
            self.prev_gain[k] = g;
            self.prev_gamma[k] = gamma;
        }
        self.stft.synthesise(&self.gains, &mut self.frame);
        let hop = self.tail.len();
        for ((o, &t), &f) in out.iter_mut().zip(&self.tail).zip(&self.frame[..hop]) {
            *o = t + f;
        }
        self.tail.copy_from_slice(&self.frame[hop..]);
    }
}
