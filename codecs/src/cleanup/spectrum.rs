//! Short-time spectra shared by the VAD, the noise estimate and the denoiser.
//!
//! Frames advance by one hop `H` (10 or 20 ms) and are analysed over `2H` samples with a periodic
//! square-root Hann window. The same window is used again for synthesis, so analysis × synthesis
//! is a Hann window whose copies at hop `H` sum to exactly 1 (overlap-add with perfect
//! reconstruction, no clicks at frame joins).
//!
//! The frames are real, so their spectra are computed with a real-input FFT (`realfft`: one
//! complex FFT of size `H` and a twiddle pass) that yields only the `H + 1` non-negative
//! frequencies; the negative ones are their conjugates and are never needed.
use std::f32::consts::PI;
use std::sync::Arc;

use realfft::num_complex::Complex32;
use realfft::{ComplexToReal, RealFftPlanner, RealToComplex};

/// Forward/inverse real FFT of size `2H` with the sqrt-Hann window and scratch space.
pub(super) struct Stft {
    pub(super) hop: usize,
    window: Vec<f32>,
    fwd: Arc<dyn RealToComplex<f32>>,
    inv: Arc<dyn ComplexToReal<f32>>,
    scratch: Vec<Complex32>,
    /// The last `2H` input samples (analysis buffer), oldest first.
    history: Vec<f32>,
    /// Time-domain work buffer of `2H` samples (the FFTs use their input as scratch).
    time: Vec<f32>,
    /// One-sided spectrum (`H + 1` bins) of the last analysed frame.
    spec: Vec<Complex32>,
}

impl Stft {
    pub(super) fn new(hop: usize) -> Self {
        let n = 2 * hop;
        let window = (0..n).map(|i| (PI * i as f32 / n as f32).sin()).collect();
        let mut planner = RealFftPlanner::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let scratch_len = fwd.get_scratch_len().max(inv.get_scratch_len());
        Self {
            hop,
            window,
            fwd,
            inv,
            scratch: vec![Complex32::new(0.0, 0.0); scratch_len],
            history: vec![0.0; n],
            time: vec![0.0; n],
            spec: vec![Complex32::new(0.0, 0.0); hop + 1],
        }
    }

    /// Number of one-sided bins, `H + 1`.
    pub(super) fn bins(&self) -> usize {
        self.hop + 1
    }

    /// Shifts in one hop of samples and computes the spectrum of the last `2H` samples.
    pub(super) fn analyse(&mut self, hop_samples: &[f32]) {
        debug_assert_eq!(hop_samples.len(), self.hop);
        self.history.copy_within(self.hop.., 0);
        self.history[self.hop..].copy_from_slice(hop_samples);
        for ((t, &x), &w) in self.time.iter_mut().zip(&self.history).zip(&self.window) {
            *t = x * w;
        }
        // The lengths are the plan's, so the transform cannot fail.
        let done = self
            .fwd
            .process_with_scratch(&mut self.time, &mut self.spec, &mut self.scratch);
        debug_assert!(done.is_ok());
    }

    /// One-sided power spectrum `|X_k|²` of the last frame into `out` (length `H + 1`).
    pub(super) fn power(&self, out: &mut [f32]) {
        for (o, c) in out.iter_mut().zip(&self.spec) {
            *o = c.norm_sqr();
        }
    }

    /// Applies real gains `g` (length `H + 1`; the negative frequencies, being conjugates, take
    /// the same gains) to the current spectrum, inverts it and returns the windowed time frame
    /// in `out` (length `2H`). The spectrum is used up.
    pub(super) fn synthesise(&mut self, gains: &[f32], out: &mut [f32]) {
        let n = 2 * self.hop;
        for (c, &g) in self.spec.iter_mut().zip(gains) {
            *c *= g;
        }
        // The spectrum came from a real frame: DC and Nyquist are real, which is all the
        // inverse checks besides the plan's lengths.
        let done = self
            .inv
            .process_with_scratch(&mut self.spec, &mut self.time, &mut self.scratch);
        debug_assert!(done.is_ok());
        let scale = 1.0 / n as f32;
        for ((o, &t), &w) in out.iter_mut().zip(&self.time).zip(&self.window) {
            *o = t * scale * w;
        }
    }
}

#[cfg(test)]
mod tests {
    use rustfft::FftPlanner;

    use super::*;

    /// A seeded test signal: two tones and noise, at speech-like levels (full scale 32768).
    fn signal(n: usize) -> Vec<f32> {
        let mut seed = 0x2545_f491u32;
        (0..n)
            .map(|i| {
                seed ^= seed << 13;
                seed ^= seed >> 17;
                seed ^= seed << 5;
                let t = i as f32;
                8000.0 * (0.05 * t).sin()
                    + 3000.0 * (0.31 * t).sin()
                    + 2000.0 * (seed as f32 / u32::MAX as f32 - 0.5)
            })
            .collect()
    }

    /// The real-input spectrum agrees with a full complex FFT of the same windowed frame (the
    /// way it was computed before) to float rounding, and the negative half is not needed.
    #[test]
    fn matches_a_complex_fft() {
        for hop in [80, 160] {
            let n = 2 * hop;
            let x = signal(3 * hop);
            let mut stft = Stft::new(hop);
            for h in x.chunks(hop) {
                stft.analyse(h);
            }
            let last = &x[x.len() - n..];
            let mut full: Vec<Complex32> = last
                .iter()
                .enumerate()
                .map(|(i, &v)| Complex32::new(v * (PI * i as f32 / n as f32).sin(), 0.0))
                .collect();
            FftPlanner::new().plan_fft_forward(n).process(&mut full);
            let scale = full.iter().map(|c| c.norm()).fold(0.0f32, f32::max);
            let mut power = vec![0.0; stft.bins()];
            stft.power(&mut power);
            for k in 0..=hop {
                let d = (stft.spec[k] - full[k]).norm();
                assert!(d <= scale * 1e-5, "hop {hop} bin {k}: {d} of {scale}");
                let p = full[k].norm_sqr();
                assert!((power[k] - p).abs() <= scale * scale * 1e-5, "bin {k}");
            }
            assert_eq!(stft.spec[0].im, 0.0);
            assert_eq!(stft.spec[hop].im, 0.0);
        }
    }

    /// With unit gains, overlap-adding the synthesis frames gives back the input one hop late.
    #[test]
    fn unit_gains_reconstruct_the_input() {
        for hop in [80, 160] {
            let x = signal(20 * hop);
            let mut stft = Stft::new(hop);
            let gains = vec![1.0; stft.bins()];
            let mut frame = vec![0.0; 2 * hop];
            let mut tail = vec![0.0; hop];
            let mut out = Vec::new();
            for h in x.chunks(hop) {
                stft.analyse(h);
                stft.synthesise(&gains, &mut frame);
                out.extend(tail.iter().zip(&frame[..hop]).map(|(&t, &f)| t + f));
                tail.copy_from_slice(&frame[hop..]);
            }
            for (i, (&y, &want)) in out[hop..].iter().zip(&x).enumerate() {
                assert!(
                    (y - want).abs() < 0.05,
                    "hop {hop} sample {i}: {y} vs {want}"
                );
            }
        }
    }

    /// Gains of zero above a bin silence those frequencies: a tone ten bins above it drops by
    /// more than 60 dB (what is left is the window's leakage into the bins kept).
    #[test]
    fn gains_apply_to_their_bins() {
        let hop = 80;
        let n = 2 * hop;
        // A tone exactly on bin 40 (of 80).
        let x: Vec<f32> = (0..20 * hop)
            .map(|i| 10_000.0 * (2.0 * PI * 40.0 * i as f32 / n as f32).sin())
            .collect();
        let mut stft = Stft::new(hop);
        let mut gains = vec![1.0; stft.bins()];
        gains[30..].fill(0.0);
        let mut frame = vec![0.0; n];
        let mut peak = 0.0f32;
        for (i, h) in x.chunks(hop).enumerate() {
            stft.analyse(h);
            stft.synthesise(&gains, &mut frame);
            if i > 2 {
                peak = frame.iter().fold(peak, |m, &v| m.max(v.abs()));
            }
        }
        assert!(peak < 10.0, "{peak}");
    }
}
