//! Comparing what a phone said or heard with what was sent: 8 kHz samples of a WAV file and the
//! correlation of two recordings' loudness over time.

use std::path::Path;

/// 8 kHz mono samples of a WAV file (any rate is resampled by picking every n-th sample; the
/// files compared here are all 8 kHz).
pub fn samples(path: &Path) -> Vec<f64> {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    assert_eq!(spec.sample_rate, 8000, "{}", path.display());
    let ch = usize::from(spec.channels);
    r.samples::<i16>()
        .map(|s| f64::from(s.expect("sample")))
        .step_by(ch)
        .collect()
}

/// The best normalised cross-correlation of the envelopes of `a` and `b` (20 ms frames, RMS)
/// over shifts of up to ±10 s. Envelopes, not samples: the message path cleans the audio (gain,
/// noise reduction) and codes it with Opus, which keeps the speech's shape, not its samples.
pub fn envelope_correlation(a: &[f64], b: &[f64]) -> f64 {
    let env = |x: &[f64]| -> Vec<f64> {
        x.chunks(160)
            .map(|c| (c.iter().map(|v| v * v).sum::<f64>() / c.len() as f64).sqrt())
            .collect()
    };
    let (ea, eb) = (env(a), env(b));
    let norm = |e: &[f64]| {
        let mean = e.iter().sum::<f64>() / e.len().max(1) as f64;
        let v: Vec<f64> = e.iter().map(|x| x - mean).collect();
        let n = v.iter().map(|x| x * x).sum::<f64>().sqrt().max(1e-9);
        v.into_iter().map(|x| x / n).collect::<Vec<_>>()
    };
    let (na, nb) = (norm(&ea), norm(&eb));
    let mut best = f64::MIN;
    for shift in -500i64..=500 {
        let mut s = 0.0;
        for (i, x) in na.iter().enumerate() {
            let j = i as i64 + shift;
            if j >= 0 && (j as usize) < nb.len() {
                s += x * nb[j as usize];
            }
        }
        best = best.max(s);
    }
    best
}
