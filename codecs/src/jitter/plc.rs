//! Packet-loss concealment for G.711, in the spirit of ITU-T G.711 Appendix I.
//!
//! On the first lost frame the pitch period is estimated by normalised autocorrelation over
//! the last 20 ms (lags of 5–15 ms, 40–120 samples at 8 kHz). The last pitch period is then
//! repeated; after 10 ms of erasure the repeated segment grows to two, after 20 ms to three
//! periods, with a cross-fade of a quarter period at each change. From 10 ms on the output is
//! attenuated linearly by 20 % per 10 ms, reaching silence at 60 ms. When audio resumes, the
//! first samples of the good frame are overlap-added with the continued synthetic signal
//! (4 ms, plus 1 ms per further 10 ms of erasure).
//!
//! Unlike Appendix I there is no 3.75 ms output delay, so the start of an erasure is not
//! overlap-added with the last good samples: synthesis starts one pitch period back, which
//! continues a periodic signal in phase.

/// Samples of history kept (48.75 ms at 8 kHz, as in Appendix I).
const HISTORY: usize = 390;
const MIN_PITCH: usize = 40;
const MAX_PITCH: usize = 120;
const CORR_LEN: usize = 160;
/// 10 ms at 8 kHz.
const STEP: usize = 80;
/// Erasure length at which the output reaches silence (60 ms).
const SILENT_AFTER: usize = 6 * STEP;

#[derive(Debug, Clone)]
pub(super) struct Plc {
    /// Last output samples, oldest first.
    history: Vec<f32>,
    /// Snapshot of the last 3 pitch periods at the start of the erasure.
    pitch_buf: Vec<f32>,
    pitch: usize,
    periods: usize,
    pos: usize,
    /// Samples concealed in the current erasure.
    erased: usize,
    /// Cross-fade state when the number of repeated periods changes: (old periods, old pos, left).
    fade: Option<(usize, usize, usize)>,
}

impl Plc {
    pub(super) fn new() -> Self {
        Self {
            history: vec![0.0; HISTORY],
            pitch_buf: Vec::with_capacity(3 * MAX_PITCH),
            pitch: MAX_PITCH,
            periods: 1,
            pos: 0,
            erased: 0,
            fade: None,
        }
    }

    pub(super) fn reset(&mut self) {
        self.history.fill(0.0);
        self.erased = 0;
        self.fade = None;
    }

    fn remember(&mut self, pcm: &[i16]) {
        let n = pcm.len().min(HISTORY);
        self.history.copy_within(n.., 0);
        let start = HISTORY - n;
        for (h, &s) in self.history[start..].iter_mut().zip(&pcm[pcm.len() - n..]) {
            *h = f32::from(s);
        }
    }

    /// Pitch period in samples by normalised autocorrelation of the last 20 ms.
    fn estimate_pitch(&self) -> usize {
        let h = &self.history;
        let end = HISTORY;
        let x = &h[end - CORR_LEN..end];
        let mut best = (f32::MIN, MAX_PITCH);
        for lag in MIN_PITCH..=MAX_PITCH {
            let y = &h[end - CORR_LEN - lag..end - lag];
            let (mut xy, mut yy) = (0.0f32, 0.0f32);
            for (a, b) in x.iter().zip(y) {
                xy += a * b;
                yy += b * b;
            }
            let score = if yy > 0.0 { xy / yy.sqrt() } else { 0.0 };
            if score > best.0 {
                best = (score, lag);
            }
        }
        best.1
    }

    fn sample_at(&self, periods: usize, pos: usize) -> f32 {
        let len = periods * self.pitch;
        // pitch_buf holds 3 periods; the last `periods` of them form the loop.
        self.pitch_buf[3 * self.pitch - len + pos % len]
    }

    fn gain(erased: usize) -> f32 {
        if erased < STEP {
            1.0
        } else if erased >= SILENT_AFTER {
            0.0
        } else {
            1.0 - 0.2 * (erased - STEP) as f32 / STEP as f32
        }
    }

    fn next_synthetic(&mut self) -> f32 {
        let periods = match self.erased {
            e if e < STEP => 1,
            e if e < 2 * STEP => 2,
            _ => 3,
        };
        if periods != self.periods {
            self.fade = Some((self.periods, self.pos, (self.pitch / 4).max(1)));
            self.periods = periods;
            // Start the longer loop in phase: one period back from the same point.
            self.pos %= self.pitch;
        }
        let mut s = self.sample_at(self.periods, self.pos);
        if let Some((old, old_pos, left)) = self.fade {
            let total = (self.pitch / 4).max(1);
            let w = left as f32 / (total + 1) as f32;
            s = w * self.sample_at(old, old_pos) + (1.0 - w) * s;
            self.fade = (left > 1).then_some((old, old_pos + 1, left - 1));
        }
        self.pos += 1;
        let g = Self::gain(self.erased);
        self.erased += 1;
        s * g
    }

    /// Fills `out` with concealment for a lost frame.
    pub(super) fn conceal(&mut self, out: &mut [i16]) {
        if self.erased == 0 {
            self.pitch = self.estimate_pitch();
            self.pitch_buf.clear();
            self.pitch_buf
                .extend_from_slice(&self.history[HISTORY - 3 * self.pitch..]);
            self.periods = 1;
            self.pos = 0;
            self.fade = None;
        }
        for o in out.iter_mut() {
            *o = self.next_synthetic().round().clamp(-32768.0, 32767.0) as i16;
        }
        self.remember(out);
    }

    /// Takes a good frame; after an erasure, blends its start with the synthetic signal.
    pub(super) fn good_frame(&mut self, pcm: &mut [i16]) {
        if self.erased > 0 {
            let extra = (self.erased / STEP).saturating_sub(1);
            let len = (32 + 8 * extra).min(pcm.len());
            for (i, s) in pcm[..len].iter_mut().enumerate() {
                let w = (i + 1) as f32 / (len + 1) as f32;
                let syn = self.next_synthetic();
                *s = (syn * (1.0 - w) + f32::from(*s) * w)
                    .round()
                    .clamp(-32768.0, 32767.0) as i16;
            }
            self.erased = 0;
            self.fade = None;
        }
        self.remember(pcm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sine(n: usize, offset: usize, hz: f32) -> Vec<i16> {
        (offset..offset + n)
            .map(|i| (8000.0 * (2.0 * core::f32::consts::PI * hz * i as f32 / 8000.0).sin()) as i16)
            .collect()
    }

    fn energy(x: &[i16]) -> f64 {
        x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len() as f64
    }

    fn correlation(a: &[i16], b: &[i16]) -> f64 {
        let ab: f64 = a
            .iter()
            .zip(b)
            .map(|(&x, &y)| f64::from(x) * f64::from(y))
            .sum();
        ab / (energy(a) * energy(b)).sqrt() / a.len() as f64
    }

    #[test]
    fn conceals_a_periodic_signal_in_phase_then_fades_to_silence() {
        let mut plc = Plc::new();
        // 170 Hz: a period of 47.06 samples, so a 20 ms frame is not a whole number of periods.
        for f in 0..5 {
            let mut frame = sine(160, 160 * f, 170.0);
            plc.good_frame(&mut frame);
        }
        let mut lost = [[0i16; 160]; 4];
        for f in &mut lost {
            plc.conceal(f);
        }
        assert!((46..=48).contains(&plc.pitch), "pitch {}", plc.pitch);
        let truth = sine(160, 800, 170.0);
        // The first 10 ms continue the waveform closely; neither silence nor a replay of the
        // last frame (which would be out of phase).
        assert!(correlation(&lost[0][..80], &truth[..80]) > 0.95);
        assert!(correlation(&sine(160, 640, 170.0)[..80], &truth[..80]) < 0.5);
        let e = [
            energy(&lost[0]),
            energy(&lost[1]),
            energy(&lost[2]),
            energy(&lost[3]),
        ];
        assert!(e[0] > 0.7 * energy(&truth));
        assert!(e[1] < e[0] && e[2] < e[1], "{e:?}");
        assert!(lost[2][150..].iter().all(|&s| s.abs() < 400));
        assert!(lost[3].iter().all(|&s| s == 0), "silent after 60 ms");
    }

    #[test]
    fn recovery_blends_into_the_good_frame() {
        let mut plc = Plc::new();
        for f in 0..3 {
            plc.good_frame(&mut sine(160, 160 * f, 200.0));
        }
        let mut lost = [0i16; 160];
        plc.conceal(&mut lost);
        let original = vec![5000i16; 160];
        let mut good = original.clone();
        plc.good_frame(&mut good);
        // 20 ms erased: 4 ms + 1 ms per further 10 ms = 40 samples of overlap-add.
        assert!(
            good[..40].iter().all(|&s| s != 5000),
            "start is overlap-added"
        );
        assert_eq!(good[40..], original[40..], "rest is untouched");
        // Without an erasure, good frames pass through unchanged.
        let mut again = original.clone();
        plc.good_frame(&mut again);
        assert_eq!(again, original);
    }

    #[test]
    fn silence_in_gives_silence_out() {
        let mut plc = Plc::new();
        let mut out = [1i16; 160];
        plc.conceal(&mut out);
        assert!(out.iter().all(|&s| s == 0));
    }
}
