//! Loudness per ITU-R BS.1770-4: K-weighting, 400 ms gating blocks with 75 % overlap, absolute
//! gate at −70 LUFS and relative gate at −10 LU. Blocks are additionally gated by the VAD
//! ("speech-gated loudness"): only blocks of which at least half the frames are speech count, so
//! long pauses and noise do not pull the measurement down.
//!
//! The K-weighting filters are designed for the actual sample rate from the analogue prototypes
//! behind BS.1770's 48 kHz table (a high shelf of +4 dB at 1682 Hz and a 38 Hz high-pass), by the
//! bilinear transform; at 48 kHz the coefficients reproduce the table (see the tests).

/// A biquad section in direct form I, in f64.
#[derive(Debug, Clone, Copy)]
struct Biquad {
    b: [f64; 3],
    a: [f64; 2],
    x: [f64; 2],
    y: [f64; 2],
}

impl Biquad {
    fn run(&mut self, x: f64) -> f64 {
        let y = self.b[0] * x + self.b[1] * self.x[0] + self.b[2] * self.x[1]
            - self.a[0] * self.y[0]
            - self.a[1] * self.y[1];
        self.x = [x, self.x[0]];
        self.y = [y, self.y[0]];
        y
    }
}

fn shelf(rate: f64) -> Biquad {
    let (f0, gain_db, q) = (
        1_681.974_450_955_533,
        3.999_843_853_973_347,
        0.707_175_236_955_419_6,
    );
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let vh = 10f64.powf(gain_db / 20.0);
    let vb = vh.powf(0.499_666_774_154_541_6);
    let a0 = 1.0 + k / q + k * k;
    Biquad {
        b: [
            (vh + vb * k / q + k * k) / a0,
            2.0 * (k * k - vh) / a0,
            (vh - vb * k / q + k * k) / a0,
        ],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
        x: [0.0; 2],
        y: [0.0; 2],
    }
}

fn highpass(rate: f64) -> Biquad {
    let (f0, q) = (38.135_470_876_024_44, 0.500_327_037_323_877_3);
    let k = (std::f64::consts::PI * f0 / rate).tan();
    let a0 = 1.0 + k / q + k * k;
    Biquad {
        b: [1.0, -2.0, 1.0],
        a: [2.0 * (k * k - 1.0) / a0, (1.0 - k / q + k * k) / a0],
        x: [0.0; 2],
        y: [0.0; 2],
    }
}

/// Streaming loudness meter: accumulates K-weighted energy in 100 ms sub-blocks with the number of
/// speech frames in each. Memory: 16 bytes per 100 ms (about 100 KB for a 10-minute message).
pub(super) struct Meter {
    stages: [Biquad; 2],
    sub_len: usize,
    sub_pos: usize,
    sub_sum: f64,
    sub_speech: u32,
    sub_frames: u32,
    subs: Vec<(f64, f32)>,
}

impl Meter {
    pub(super) fn new(rate_hz: u32) -> Self {
        let rate = f64::from(rate_hz);
        Self {
            stages: [shelf(rate), highpass(rate)],
            sub_len: rate_hz as usize / 10,
            sub_pos: 0,
            sub_sum: 0.0,
            sub_speech: 0,
            sub_frames: 0,
            subs: Vec::new(),
        }
    }

    /// Adds one VAD frame of samples (scaled so that full scale is ±1) and its decision.
    pub(super) fn frame(&mut self, samples: &[f32], speech: bool) {
        let mut rest = samples;
        while !rest.is_empty() {
            let take = (self.sub_len - self.sub_pos).min(rest.len());
            let (chunk, more) = rest.split_at(take);
            // The filters and the sum in locals over a stretch with no call in it, so that they
            // stay in registers (the same operations in the same order as sample by sample).
            let [mut shelf, mut highpass] = self.stages;
            let mut sum = self.sub_sum;
            for &s in chunk {
                let y = highpass.run(shelf.run(f64::from(s)));
                sum += y * y;
            }
            self.stages = [shelf, highpass];
            self.sub_sum = sum;
            self.sub_pos += take;
            rest = more;
            if self.sub_pos == self.sub_len {
                self.close_sub();
            }
        }
        self.sub_frames += 1;
        self.sub_speech += u32::from(speech);
    }

    fn close_sub(&mut self) {
        let speech = if self.sub_frames == 0 {
            0.0
        } else {
            self.sub_speech as f32 / self.sub_frames as f32
        };
        self.subs.push((self.sub_sum / self.sub_len as f64, speech));
        self.sub_pos = 0;
        self.sub_sum = 0.0;
        self.sub_speech = 0;
        self.sub_frames = 0;
    }

    /// Integrated loudness in LUFS over gated blocks; `None` if no block passes the gates.
    /// With `speech_gated`, blocks with less than half speech frames are left out.
    pub(super) fn integrated(&self, speech_gated: bool) -> Option<f32> {
        let blocks: Vec<f64> = self
            .subs
            .windows(4)
            .filter(|w| !speech_gated || w.iter().map(|s| s.1).sum::<f32>() >= 2.0)
            .map(|w| w.iter().map(|s| s.0).sum::<f64>() / 4.0)
            .collect();
        let lufs = |ms: f64| -0.691 + 10.0 * ms.log10();
        let abs: Vec<f64> = blocks
            .into_iter()
            .filter(|&m| m > 0.0 && lufs(m) > -70.0)
            .collect();
        if abs.is_empty() {
            return None;
        }
        let rel_gate = lufs(abs.iter().sum::<f64>() / abs.len() as f64) - 10.0;
        let rel: Vec<f64> = abs.into_iter().filter(|&m| lufs(m) > rel_gate).collect();
        Some(lufs(rel.iter().sum::<f64>() / rel.len() as f64) as f32)
    }
}

/// BS.1770-4 integrated loudness (LUFS) of a whole signal, without speech gating. For tests and
/// tools; the clean-up itself measures while streaming.
pub fn integrated_lufs(samples: &[i16], rate_hz: u32) -> Option<f32> {
    let mut m = Meter::new(rate_hz);
    let frame = (rate_hz / 100) as usize;
    for chunk in samples.chunks(frame.max(1)) {
        let f: Vec<f32> = chunk.iter().map(|&s| f32::from(s) / 32768.0).collect();
        m.frame(&f, false);
    }
    m.integrated(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn k_weighting_matches_bs1770_table_at_48k() {
        let s = shelf(48_000.0);
        let h = highpass(48_000.0);
        let close = |a: f64, b: f64| (a - b).abs() < 1e-9;
        assert!(close(s.b[0], 1.535_124_859_586_97), "{}", s.b[0]);
        assert!(close(s.b[1], -2.691_696_189_406_38));
        assert!(close(s.b[2], 1.198_392_810_852_85));
        assert!(close(s.a[0], -1.690_659_293_182_41));
        assert!(close(s.a[1], 0.732_480_774_215_85));
        assert!(close(h.a[0], -1.990_047_454_833_98), "{}", h.a[0]);
        assert!(close(h.a[1], 0.990_072_250_366_21));
    }

    #[test]
    fn full_scale_1k_sine_reads_about_minus_3_lufs() {
        // BS.1770: a 0 dBFS 997 Hz sine reads −3.01 LKFS (K-weighting adds ~+0.7 dB at 1 kHz,
        // balanced by the −0.691 constant).
        for rate in [8000u32, 16000, 48000] {
            let x: Vec<i16> = (0..rate * 3)
                .map(|i| {
                    let t = i as f32 / rate as f32;
                    (32767.0 * (2.0 * std::f32::consts::PI * 997.0 * t).sin()) as i16
                })
                .collect();
            let l = integrated_lufs(&x, rate).unwrap();
            assert!((l + 3.01).abs() < 0.15, "rate {rate}: {l}");
        }
    }

    #[test]
    fn silence_has_no_loudness() {
        assert_eq!(integrated_lufs(&[0; 16000], 8000), None);
    }
}
