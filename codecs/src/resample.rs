//! Sample-rate conversion for mono `i16` audio, built on `rubato`'s FFT resampler.
//!
//! Any input rate converts to any output rate (in practice 8, 16 and 48 kHz). [`Resampler`]
//! streams: feed it chunks of any size with [`Resampler::process`] and call
//! [`Resampler::finish`] at the end. It compensates the filter delay, so the output is
//! time-aligned with the input and its total length is exactly
//! `round(input_len × out_rate / in_rate)`.

use rubato::{FftFixedIn, Resampler as _};
use tracing::debug;

/// Highest sample rate accepted.
pub const MAX_RATE: u32 = 384_000;
/// Input frames per FFT block, in milliseconds of input.
const BLOCK_MS: u32 = 20;

/// Errors from the resampler.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- API misuse ----
    /// A rate of zero or above [`MAX_RATE`].
    #[error("unsupported sample rate {0} Hz")]
    UnsupportedRate(u32),
    /// Input was passed after [`Resampler::finish`].
    #[error("resampler already finished")]
    Finished,
    // ---- library ----
    /// rubato failed to build the resampler.
    #[error("rubato: {0}")]
    Construction(#[from] rubato::ResamplerConstructionError),
    /// rubato failed while processing.
    #[error("rubato: {0}")]
    Process(#[from] rubato::ResampleError),
}

/// Streaming mono resampler with delay compensation.
pub struct Resampler {
    /// `None` when the rates are equal (samples pass through untouched).
    inner: Option<FftFixedIn<f32>>,
    in_rate: u32,
    out_rate: u32,
    /// Input waiting for a full block.
    pending: Vec<f32>,
    out_buf: Vec<Vec<f32>>,
    /// Output samples still to drop for the filter delay.
    delay_left: usize,
    in_total: u64,
    out_total: u64,
    finished: bool,
}

impl std::fmt::Debug for Resampler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Resampler")
            .field("in_rate", &self.in_rate)
            .field("out_rate", &self.out_rate)
            .field("in_total", &self.in_total)
            .field("out_total", &self.out_total)
            .finish_non_exhaustive()
    }
}

impl Resampler {
    /// A resampler from `in_rate` to `out_rate` Hz.
    pub fn new(in_rate: u32, out_rate: u32) -> Result<Self, Error> {
        for r in [in_rate, out_rate] {
            if r == 0 || r > MAX_RATE {
                return Err(Error::UnsupportedRate(r));
            }
        }
        let (inner, delay, out_max) = if in_rate == out_rate {
            (None, 0, 0)
        } else {
            let block = (in_rate * BLOCK_MS / 1000).max(1) as usize;
            let r = FftFixedIn::<f32>::new(in_rate as usize, out_rate as usize, block, 1, 1)?;
            let (d, m) = (r.output_delay(), r.output_frames_max());
            (Some(r), d, m)
        };
        debug!(in_rate, out_rate, delay, "resampler created");
        Ok(Self {
            inner,
            in_rate,
            out_rate,
            pending: Vec::new(),
            out_buf: vec![vec![0.0; out_max]],
            delay_left: delay,
            in_total: 0,
            out_total: 0,
            finished: false,
        })
    }

    /// Input rate in Hz.
    pub fn input_rate(&self) -> u32 {
        self.in_rate
    }

    /// Output rate in Hz.
    pub fn output_rate(&self) -> u32 {
        self.out_rate
    }

    /// Output length for `input_len` input samples: `round(input_len × out / in)`.
    pub fn output_len_for(&self, input_len: u64) -> u64 {
        let (i, o) = (u128::from(self.in_rate), u128::from(self.out_rate));
        ((u128::from(input_len) * o * 2 + i) / (2 * i)) as u64
    }

    /// Resamples `input`, appending what is ready to `out`. Output lags input by up to one
    /// block plus the filter delay; [`Self::finish`] returns the rest.
    pub fn process(&mut self, input: &[i16], out: &mut Vec<i16>) -> Result<(), Error> {
        if self.finished {
            return Err(Error::Finished);
        }
        self.in_total += input.len() as u64;
        if self.inner.is_none() {
            out.extend_from_slice(input);
            self.out_total += input.len() as u64;
            return Ok(());
        }
        self.pending
            .extend(input.iter().map(|&s| f32::from(s) / 32768.0));
        self.run_blocks(out, u64::MAX)
    }

    /// Flushes the remaining input and delayed output; the total output length is then
    /// [`Self::output_len_for`] the total input.
    pub fn finish(&mut self, out: &mut Vec<i16>) -> Result<(), Error> {
        if self.finished {
            return Err(Error::Finished);
        }
        self.finished = true;
        let Some(r) = self.inner.as_ref() else {
            return Ok(());
        };
        let target = self.output_len_for(self.in_total);
        let block = r.input_frames_next();
        // Pad with silence until enough output has come out of the filter.
        while self.out_total < target {
            let short = block - self.pending.len() % block;
            self.pending.resize(self.pending.len() + short, 0.0);
            self.run_blocks(out, target)?;
        }
        Ok(())
    }

    /// Runs every full block of `pending`, emitting at most `limit` samples in total.
    fn run_blocks(&mut self, out: &mut Vec<i16>, limit: u64) -> Result<(), Error> {
        let Some(r) = self.inner.as_mut() else {
            return Ok(());
        };
        let block = r.input_frames_next();
        let mut used = 0;
        while self.pending.len() - used >= block {
            let input = [&self.pending[used..used + block]];
            let (_, produced) = r.process_into_buffer(&input, &mut self.out_buf, None)?;
            used += block;
            let mut frames = &self.out_buf[0][..produced];
            let drop = self.delay_left.min(frames.len());
            self.delay_left -= drop;
            frames = &frames[drop..];
            let room = usize::try_from(limit - self.out_total).unwrap_or(usize::MAX);
            let frames = &frames[..frames.len().min(room)];
            out.extend(
                frames
                    .iter()
                    .map(|&f| (f * 32768.0).round().clamp(-32768.0, 32767.0) as i16),
            );
            self.out_total += frames.len() as u64;
        }
        self.pending.drain(..used);
        Ok(())
    }
}

/// Resamples a whole clip (convenience for tests and short prompts).
pub fn resample(input: &[i16], in_rate: u32, out_rate: u32) -> Result<Vec<i16>, Error> {
    let mut r = Resampler::new(in_rate, out_rate)?;
    let mut out = Vec::with_capacity(r.output_len_for(input.len() as u64) as usize);
    r.process(input, &mut out)?;
    r.finish(&mut out)?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(rate: u32, hz: f64, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                (10000.0 * (2.0 * std::f64::consts::PI * hz * i as f64 / f64::from(rate)).sin())
                    as i16
            })
            .collect()
    }

    #[test]
    fn lengths_are_exact_for_any_chunking() {
        for (a, b) in [
            (8000, 16000),
            (16000, 8000),
            (8000, 48000),
            (48000, 8000),
            (44100, 16000),
            (22050, 8000),
            (8000, 8000),
        ] {
            for n in [0usize, 1, 7, 159, 160, 1000, 12345] {
                let input = sine(a, 440.0, n);
                for chunk in [1usize, 13, 160, 4096] {
                    let mut r = Resampler::new(a, b).unwrap();
                    let mut out = Vec::new();
                    for c in input.chunks(chunk) {
                        r.process(c, &mut out).unwrap();
                    }
                    r.finish(&mut out).unwrap();
                    let want = ((n as f64) * f64::from(b) / f64::from(a)).round() as usize;
                    assert_eq!(out.len(), want, "{a}->{b} n={n} chunk={chunk}");
                }
            }
        }
    }

    #[test]
    fn output_is_time_aligned_and_clean() {
        // A 440 Hz tone upsampled and downsampled matches the tone generated at the target rate.
        for (a, b) in [
            (8000, 16000),
            (16000, 8000),
            (8000, 48000),
            (48000, 8000),
            (44100, 8000),
        ] {
            let n = a as usize; // one second
            let out = resample(&sine(a, 440.0, n), a, b).unwrap();
            let reference = sine(b, 440.0, out.len());
            // skip the edges, where the filter sees the zero padding
            let edge = b as usize / 50;
            let err: f64 = out[edge..out.len() - edge]
                .iter()
                .zip(&reference[edge..])
                .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
                .sum::<f64>()
                / (out.len() - 2 * edge) as f64;
            let snr = 10.0 * (5e7 / err).log10();
            // a one-sample misalignment at 8 kHz would give about 6 dB
            assert!(snr > 40.0, "{a}->{b}: SNR {snr:.1} dB");
        }
    }

    #[test]
    fn rejects_bad_rates_and_use_after_finish() {
        assert!(matches!(
            Resampler::new(0, 8000),
            Err(Error::UnsupportedRate(0))
        ));
        assert!(matches!(
            Resampler::new(8000, 1_000_000),
            Err(Error::UnsupportedRate(_))
        ));
        let mut r = Resampler::new(8000, 16000).unwrap();
        let mut out = Vec::new();
        r.finish(&mut out).unwrap();
        assert!(matches!(r.process(&[0], &mut out), Err(Error::Finished)));
    }
}
