//! Short-time spectra shared by the VAD, the noise estimate and the denoiser.
//!
//! Frames advance by one hop `H` (10 or 20 ms) and are analysed over `2H` samples with a periodic
//! square-root Hann window. The same window is used again for synthesis, so analysis × synthesis
//! is a Hann window whose copies at hop `H` sum to exactly 1 (overlap-add with perfect
//! reconstruction, no clicks at frame joins).
use std::f32::consts::PI;
use std::sync::Arc;

use rustfft::num_complex::Complex32;
use rustfft::{Fft, FftPlanner};

/// Forward/inverse FFT of size `2H` with the sqrt-Hann window and scratch space.
pub(super) struct Stft {
    pub(super) hop: usize,
    window: Vec<f32>,
    fwd: Arc<dyn Fft<f32>>,
    inv: Arc<dyn Fft<f32>>,
    scratch: Vec<Complex32>,
    /// The last `2H` input samples (analysis buffer), oldest first.
    history: Vec<f32>,
    /// Spectrum of the last analysed frame.
    pub(super) spec: Vec<Complex32>,
}

impl Stft {
    pub(super) fn new(hop: usize) -> Self {
        let n = 2 * hop;
        let window = (0..n).map(|i| (PI * i as f32 / n as f32).sin()).collect();
        let mut planner = FftPlanner::new();
        let fwd = planner.plan_fft_forward(n);
        let inv = planner.plan_fft_inverse(n);
        let scratch_len = fwd
            .get_inplace_scratch_len()
            .max(inv.get_inplace_scratch_len());
        Self {
            hop,
            window,
            fwd,
            inv,
            scratch: vec![Complex32::new(0.0, 0.0); scratch_len],
            history: vec![0.0; n],
            spec: vec![Complex32::new(0.0, 0.0); n],
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
        for ((c, &x), &w) in self.spec.iter_mut().zip(&self.history).zip(&self.window) {
            *c = Complex32::new(x * w, 0.0);
        }
        self.fwd
            .process_with_scratch(&mut self.spec, &mut self.scratch);
    }

    /// One-sided power spectrum `|X_k|²` of the last frame into `out` (length `H + 1`).
    pub(super) fn power(&self, out: &mut [f32]) {
        for (o, c) in out.iter_mut().zip(&self.spec) {
            *o = c.norm_sqr();
        }
    }

    /// Applies real gains `g` (length `H + 1`, mirrored to the negative frequencies) to the
    /// current spectrum, inverts it and returns the windowed time frame in `out` (length `2H`).
    pub(super) fn synthesise(&mut self, gains: &[f32], out: &mut [f32]) {
        let n = 2 * self.hop;
        for (k, &g) in gains.iter().enumerate() {
            self.spec[k] *= g;
            if k != 0 && k != self.hop {
                self.spec[n - k] *= g;
            }
        }
        self.inv
            .process_with_scratch(&mut self.spec, &mut self.scratch);
        let scale = 1.0 / n as f32;
        for ((o, c), &w) in out.iter_mut().zip(&self.spec).zip(&self.window) {
            *o = c.re * scale * w;
        }
    }
}
