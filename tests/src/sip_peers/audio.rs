//! Audio checks for what a phone heard: level and likeness to what was said.

use std::path::Path;

/// The RMS of 16-bit samples, in full-scale units (0 to 32768).
pub fn rms(samples: &[i16]) -> f64 {
    if samples.is_empty() {
        return 0.0;
    }
    let sum: f64 = samples.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    (sum / samples.len() as f64).sqrt()
}

/// The 16-bit samples of a mono WAV file.
pub fn wav_samples(path: &Path) -> Vec<i16> {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    r.samples::<i16>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The best normalised cross-correlation of `heard` against `said` over lags `0..max_lag`
/// (`heard` starts later than `said`, e.g. by the call's set-up), computed on 20 ms energy
/// envelopes so that codec and level changes do not matter. 1.0 is a perfect match; unrelated
/// audio stays near 0.
pub fn envelope_correlation(said: &[i16], heard: &[i16], max_lag: usize) -> (f64, usize) {
    const FRAME: usize = 160;
    let env = |x: &[i16]| -> Vec<f64> { x.chunks(FRAME).map(rms).collect() };
    let (a, b) = (env(said), env(heard));
    let mut best = (f64::MIN, 0);
    for lag in 0..max_lag.div_ceil(FRAME).max(1) {
        // heard[i + lag] against said[i]: the heard copy runs late by `lag` frames.
        let n = a.len().min(b.len().saturating_sub(lag));
        if n < 25 {
            break;
        }
        let x = &a[..n];
        let y = &b[lag..lag + n];
        let c = pearson(x, y);
        if c > best.0 {
            best = (c, lag * FRAME);
        }
    }
    best
}

fn pearson(x: &[f64], y: &[f64]) -> f64 {
    let n = x.len() as f64;
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (a, b) in x.iter().zip(y) {
        sxy += (a - mx) * (b - my);
        sxx += (a - mx) * (a - mx);
        syy += (b - my) * (b - my);
    }
    if sxx == 0.0 || syy == 0.0 {
        return 0.0;
    }
    sxy / (sxx * syy).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn correlation_finds_a_delayed_copy_and_rejects_noise() {
        // A 4 s "speech" of bursts, its copy delayed by 0.5 s at half level, and unrelated bursts.
        let burst = |seed: u64, len: usize| -> Vec<i16> {
            let mut s = seed;
            (0..len)
                .map(|i| {
                    s = s
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let on = !(i / 1200 + (seed as usize)).is_multiple_of(3);
                    if on { ((s >> 48) as i16) / 4 } else { 0 }
                })
                .collect()
        };
        let said = burst(1, 32_000);
        let mut heard = vec![0i16; 4000];
        heard.extend(said.iter().map(|s| s / 2));
        let (c, lag) = envelope_correlation(&said, &heard, 8000);
        assert!(c > 0.9, "{c}");
        assert_eq!(lag, 4000);
        let other = burst(2, 36_000);
        let (c, _) = envelope_correlation(&said, &other, 800);
        assert!(c < 0.5, "{c}");
    }
}
