//! Voice clean-up on real speech (`/work/shared/fixtures/speech-{8k,16k}.wav`, 11.4 s, natural
//! speech with few pauses), with noise made here from a seeded RNG.
use std::time::Duration;

use codecs::cleanup::loudness::integrated_lufs;
use codecs::cleanup::{
    Analyzer, Config, Plan, Processor, SampleRate, SilenceTimer, Vad, VadConfig, clean, clean_with,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const FIXTURES: &str = "/work/shared/fixtures";
/// Speech-to-noise ratio of the noisy cases (speech power over the fixture / noise power).
const SNR_DB: f64 = 10.0;

fn fixture(rate: u32) -> Vec<i16> {
    let name = if rate == 8000 {
        "speech-8k.wav"
    } else {
        "speech-16k.wav"
    };
    let mut r = hound::WavReader::open(format!("{FIXTURES}/{name}")).unwrap();
    assert_eq!(r.spec().sample_rate, rate);
    assert_eq!(r.spec().channels, 1);
    r.samples::<i16>().map(Result::unwrap).collect()
}

fn pad(x: &[i16], before: usize, after: usize) -> Vec<i16> {
    let mut v = vec![0; before];
    v.extend_from_slice(x);
    v.extend(std::iter::repeat_n(0, after));
    v
}

fn scale(x: &[i16], gain_db: f32) -> Vec<i16> {
    let g = 10f32.powf(gain_db / 20.0);
    x.iter()
        .map(|&s| (f32::from(s) * g).round().clamp(-32768.0, 32767.0) as i16)
        .collect()
}

fn plan_of(x: &[i16], cfg: Config) -> Plan {
    let mut a = Analyzer::new(cfg);
    for c in x.chunks(333) {
        a.feed(c);
    }
    a.finish()
}

fn power(x: &[f32]) -> f64 {
    x.iter().map(|&s| f64::from(s) * f64::from(s)).sum::<f64>() / x.len().max(1) as f64
}

fn db(p: f64) -> f64 {
    10.0 * p.log10()
}

fn correlation(a: &[f32], b: &[f32]) -> f64 {
    let n = a.len().min(b.len());
    let (ma, mb) = (
        a[..n].iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64,
        b[..n].iter().map(|&v| f64::from(v)).sum::<f64>() / n as f64,
    );
    let (mut sab, mut saa, mut sbb) = (0.0, 0.0, 0.0);
    for i in 0..n {
        let (x, y) = (f64::from(a[i]) - ma, f64::from(b[i]) - mb);
        sab += x * y;
        saa += x * x;
        sbb += y * y;
    }
    sab / (saa * sbb).sqrt()
}

/// White or pink (Paul Kellet's three-pole approximation) Gaussian noise, seeded.
fn noise(n: usize, pink: bool, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut gauss = move || {
        let (u1, u2): (f32, f32) = (rng.r#gen::<f32>().max(1e-9), rng.r#gen());
        (-2.0 * u1.ln()).sqrt() * (2.0 * std::f32::consts::PI * u2).cos()
    };
    let mut b = [0.0f32; 3];
    let v: Vec<f32> = (0..n)
        .map(|_| {
            let w = gauss();
            if pink {
                b[0] = 0.99765 * b[0] + w * 0.099_046;
                b[1] = 0.963 * b[1] + w * 0.296_516_4;
                b[2] = 0.57 * b[2] + w * 1.052_691_3;
                b[0] + b[1] + b[2] + w * 0.1848
            } else {
                w
            }
        })
        .collect();
    let rms = power(&v).sqrt() as f32;
    v.into_iter().map(|s| s / rms).collect()
}

#[test]
fn padded_speech_is_trimmed_to_the_margin() {
    for rate in [8000u32, 16000] {
        let x = fixture(rate);
        let p = rate as usize;
        let padded = pad(&x, p, p);
        let plan = plan_of(&padded, Config::new(rate).unwrap());
        let margin = (rate / 5) as u64; // 200 ms
        let slack = u64::from(rate / 50); // 20 ms: one VAD frame plus its window
        // The speech in the fixture: every sample above −40 dB of its peak.
        let peak = x.iter().map(|s| s.unsigned_abs()).max().unwrap();
        let loud: Vec<usize> = (0..x.len())
            .filter(|&i| x[i].unsigned_abs() > peak / 100)
            .collect();
        let (first, last) = ((p + loud[0]) as u64, (p + loud[loud.len() - 1]) as u64);
        assert!(plan.keep.start <= first && plan.keep.end > last, "{plan:?}");
        assert!(
            plan.keep.start + margin + slack >= first,
            "rate {rate}: kept too much before: {:?} first {first}",
            plan.keep
        );
        assert!(
            plan.keep.end <= last + margin + slack,
            "rate {rate}: kept too much after: {:?} last {last}",
            plan.keep
        );
        let out = clean(&padded, rate).unwrap();
        assert_eq!(out.len() as u64, plan.keep.end - plan.keep.start);
        // Faded in and out: the first and last samples are silent, no click at the cut.
        assert_eq!(out[0], 0);
        assert_eq!(*out.last().unwrap(), 0);
    }
}

fn noisy_case(rate: u32, pink: bool) -> (f64, f64, f64) {
    let x = fixture(rate);
    let p = rate as usize;
    let clean_padded = pad(&x, p, p);
    let speech_power = power(&x.iter().map(|&s| f32::from(s)).collect::<Vec<_>>());
    let n = noise(clean_padded.len(), pink, 7);
    let k = (speech_power / 10f64.powf(SNR_DB / 10.0)).sqrt() as f32;
    let noisy: Vec<i16> = clean_padded
        .iter()
        .zip(&n)
        .map(|(&s, &w)| (f32::from(s) + k * w).round().clamp(-32768.0, 32767.0) as i16)
        .collect();
    // Margin wide enough to keep the whole 1 s noise-only lead-in in the output.
    let cfg = Config::new(rate)
        .unwrap()
        .margin(Duration::from_millis(1500))
        .unwrap();
    let plan = plan_of(&noisy, cfg);
    assert_eq!(plan.keep.start, 0, "{plan:?}");
    assert!(plan.noise_frames > 0);
    let out = clean_with(&noisy, cfg).unwrap();
    let g = 10f64.powf(f64::from(plan.gain_db) / 20.0);
    let out_f: Vec<f32> = out.iter().map(|&s| (f64::from(s) / g) as f32).collect();
    let in_f: Vec<f32> = noisy.iter().map(|&s| f32::from(s)).collect();
    // Noise-only lead-in (skip the first 100 ms while the filter settles).
    let lead = rate as usize / 10..p - rate as usize / 20;
    let reduction = db(power(&in_f[lead.clone()])) - db(power(&out_f[lead]));
    let clean_f: Vec<f32> = x.iter().map(|&s| f32::from(s)).collect();
    let r_out = correlation(&out_f[p..p + x.len()], &clean_f);
    let r_in = correlation(&in_f[p..p + x.len()], &clean_f);
    (reduction, r_out, r_in)
}

#[test]
fn white_noise_at_10db_snr_is_reduced() {
    for rate in [8000, 16000] {
        let (reduction, r_out, r_in) = noisy_case(rate, false);
        eprintln!("white {rate}: noise -{reduction:.1} dB, corr {r_out:.3} (noisy {r_in:.3})");
        assert!(reduction >= 10.0, "rate {rate}: only {reduction:.1} dB");
        assert!(
            r_out >= 0.93 && r_out > r_in,
            "rate {rate}: {r_out} vs {r_in}"
        );
    }
}

#[test]
fn pink_noise_at_10db_snr_is_reduced() {
    for rate in [8000, 16000] {
        let (reduction, r_out, r_in) = noisy_case(rate, true);
        eprintln!("pink {rate}: noise -{reduction:.1} dB, corr {r_out:.3} (noisy {r_in:.3})");
        assert!(reduction >= 10.0, "rate {rate}: only {reduction:.1} dB");
        assert!(
            r_out >= 0.93 && r_out > r_in,
            "rate {rate}: {r_out} vs {r_in}"
        );
    }
}

#[test]
fn quiet_speech_reaches_the_target() {
    for rate in [8000, 16000] {
        let x = fixture(rate);
        let l0 = integrated_lufs(&x, rate).unwrap();
        let quiet = scale(&x, -30.0 - l0);
        let lq = integrated_lufs(&quiet, rate).unwrap();
        assert!((lq + 30.0).abs() < 0.2, "{lq}");
        let out = clean(&quiet, rate).unwrap();
        let l = integrated_lufs(&out, rate).unwrap();
        eprintln!("quiet {rate}: {lq:.2} LUFS -> {l:.2} LUFS");
        assert!((l + 16.0).abs() <= 1.0, "rate {rate}: {l} LUFS");
        let peak = out.iter().map(|s| s.unsigned_abs()).max().unwrap();
        assert!(peak <= 23198, "ceiling −3 dBFS: {peak}");
    }
}

#[test]
fn gain_is_capped_for_very_quiet_input() {
    let x = fixture(8000);
    let very_quiet = scale(&x, -30.0); // about −51 LUFS
    let plan = plan_of(&very_quiet, Config::new(8000).unwrap());
    assert!(plan.speech.is_some(), "still detected as speech");
    assert_eq!(plan.gain_db, 20.0);
}

#[test]
fn loud_and_clipped_speech_is_not_clipped() {
    for rate in [8000, 16000] {
        let x = fixture(rate);
        let peak = f32::from(x.iter().map(|s| s.unsigned_abs()).max().unwrap());
        for extra_db in [0.0, 12.0] {
            // Peak at full scale, then 12 dB into hard clipping.
            let loud = scale(&x, 20.0 * (32767.0 / peak).log10() + extra_db);
            let out = clean(&loud, rate).unwrap();
            let max = out.iter().map(|s| s.unsigned_abs()).max().unwrap();
            assert!(max <= 23198, "rate {rate} +{extra_db}: peak {max}");
            let l = integrated_lufs(&out, rate).unwrap();
            assert!((l + 16.0).abs() <= 1.5, "rate {rate} +{extra_db}: {l}");
        }
    }
}

#[test]
fn silence_and_noise_only_give_empty_output() {
    for rate in [8000u32, 16000] {
        assert!(clean(&[], rate).unwrap().is_empty());
        assert!(clean(&vec![0; 5 * rate as usize], rate).unwrap().is_empty());
        let hiss: Vec<i16> = noise(5 * rate as usize, false, 3)
            .iter()
            .map(|&w| (w * 100.0) as i16)
            .collect();
        let out = clean(&hiss, rate).unwrap();
        assert!(
            out.len() < rate as usize / 2,
            "rate {rate}: {} samples kept",
            out.len()
        );
    }
}

#[test]
fn vad_finds_the_speech_and_flags_two_seconds_of_silence_after_it() {
    for rate in [8000u32, 16000] {
        let x = fixture(rate);
        let sr = SampleRate::from_hz(rate).unwrap();
        let mut vad = Vad::new(VadConfig::default(), sr);
        let mut timer = SilenceTimer::new(sr, Duration::from_secs(2));
        let mut decisions = Vec::new();
        let input = pad(&x, 0, 3 * rate as usize);
        for c in input.chunks(97) {
            vad.feed(c, &mut decisions);
        }
        let in_speech = decisions
            .iter()
            .filter(|d| d.start < x.len() as u64)
            .collect::<Vec<_>>();
        let share = in_speech.iter().filter(|d| d.speech).count() as f64 / in_speech.len() as f64;
        assert!(
            share > 0.8,
            "rate {rate}: speech in {share:.2} of the speech"
        );
        let fired = decisions
            .iter()
            .find(|d| timer.update(d))
            .map(|d| d.start + u64::from(d.len))
            .expect("timer never fired");
        let end = x.len() as u64;
        let two_s = 2 * u64::from(rate);
        // Fires 2 s (plus the 250 ms hangover, plus a frame) after the speech ends, not before.
        assert!(
            fired >= end + two_s,
            "rate {rate}: fired at {fired}, speech ends {end}"
        );
        assert!(
            fired <= end + two_s + u64::from(rate) * 3 / 10,
            "rate {rate}: {fired}"
        );
    }
}

#[test]
fn streaming_passes_match_the_one_shot_helper() {
    let x = pad(&fixture(8000), 4000, 4000);
    let cfg = Config::new(8000).unwrap();
    let mut rng = StdRng::seed_from_u64(5);
    let mut a = Analyzer::new(cfg);
    let mut i = 0;
    while i < x.len() {
        let n = rng.gen_range(1..700).min(x.len() - i);
        a.feed(&x[i..i + n]);
        i += n;
    }
    let plan = a.finish();
    let mut p = Processor::new(&plan);
    let mut out = Vec::new();
    let mut i = 0;
    while i < x.len() {
        let n = rng.gen_range(1..700).min(x.len() - i);
        p.feed(&x[i..i + n], &mut out);
        i += n;
    }
    p.finish(&mut out).unwrap();
    assert_eq!(out, clean(&x, 8000).unwrap());
}

#[test]
fn clean_input_passes_nearly_unchanged_apart_from_gain() {
    let x = fixture(16000);
    let plan = plan_of(&x, Config::new(16000).unwrap());
    let out = clean(&x, 16000).unwrap();
    let g = 10f32.powf(plan.gain_db / 20.0);
    let a: Vec<f32> = x[plan.keep.start as usize..plan.keep.end as usize]
        .iter()
        .map(|&s| f32::from(s) * g)
        .collect();
    let b: Vec<f32> = out.iter().map(|&s| f32::from(s)).collect();
    let r = correlation(&a, &b);
    assert!(r > 0.99, "{r}");
}
