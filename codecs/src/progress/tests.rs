use proptest::prelude::*;

use super::*;
use crate::g711::Law;

/// Deterministic noise generator (xorshift), roughly Gaussian (sum of four uniforms).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> f32 {
        let mut sum = 0.0;
        for _ in 0..4 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            sum += (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        }
        // Four uniforms of variance 1/12 each: unit variance after scaling by sqrt(3).
        sum * 3f32.sqrt()
    }
}

/// The RMS of a sine at `dbm0`.
fn sine_rms(dbm0: f32) -> f32 {
    DBM0_AMPLITUDE / 2f32.sqrt() * 10f32.powf(dbm0 / 20.0)
}

/// A cadenced tone: `freqs` together at `level` dBm0 in total, `on`/`off` ms (off 0:
/// continuous), `total` ms long, starting `phase` ms into the cycle, with noise at `noise`
/// dBm0 (or none), through µ-law as a gateway would send it.
struct Tone<'a> {
    freqs: &'a [f32],
    level: f32,
    on: u32,
    off: u32,
    phase: u32,
    noise: Option<f32>,
}

impl Tone<'_> {
    fn render(&self, total_ms: u32, seed: u64) -> Vec<i16> {
        let n = (total_ms * 8) as usize;
        let amp = DBM0_AMPLITUDE * 10f32.powf(self.level / 20.0) / (self.freqs.len() as f32).sqrt();
        let noise_rms = self.noise.map_or(0.0, sine_rms);
        let mut noise = Noise(seed | 1);
        let cycle = (self.on + self.off) * 8;
        (0..n)
            .map(|i| {
                let t = i as u32 + self.phase * 8;
                let on = self.off == 0 || t % cycle < self.on * 8;
                let mut x = noise.next() * noise_rms;
                if on {
                    for (k, f) in self.freqs.iter().enumerate() {
                        let w = core::f32::consts::TAU * f * t as f32 / 8000.0;
                        x += amp * (w + k as f32).sin();
                    }
                }
                Law::Ulaw.decode_sample(Law::Ulaw.encode_sample(x.clamp(-32768.0, 32767.0) as i16))
            })
            .collect()
    }
}

/// Every change, with the sample count at which it was reported, fed in 20 ms frames.
fn changes(pcm: &[i16]) -> Vec<(u64, Heard)> {
    let mut d = Detector::new();
    let mut out = Vec::new();
    for frame in pcm.chunks(160) {
        if let Some(h) = d.feed(frame) {
            out.push((d.changed_at(), h));
        }
    }
    out
}

fn heard(pcm: &[i16]) -> Vec<Heard> {
    changes(pcm).into_iter().map(|(_, h)| h).collect()
}

const NA_DIAL: &[f32] = &[350.0, 440.0];
const NA_RING: &[f32] = &[440.0, 480.0];
const NA_BUSY: &[f32] = &[480.0, 620.0];
const CEPT: &[f32] = &[425.0];
const FRANCE: &[f32] = &[440.0];

/// Levels across the range lines give: −30 (a long loop) to −5 dBm0.
const LEVELS: [f32; 4] = [-30.0, -20.0, -12.0, -5.0];

fn tone(freqs: &[f32], level: f32, on: u32, off: u32, phase: u32) -> Tone<'_> {
    Tone {
        freqs,
        level,
        on,
        off,
        phase,
        noise: Some(-55.0),
    }
}

/// Each plan's tones at each level give exactly their one change, within two cadence cycles
/// of any starting point in the cycle.
fn check(freqs: &[f32], on: u32, off: u32, total: u32, want: Heard, within: u32) {
    for level in LEVELS {
        for phase in [0, 90, (on + off) / 3, on, on + off / 2] {
            let pcm = tone(freqs, level, on, off, phase).render(total, u64::from(phase) + 7);
            let got = changes(&pcm);
            assert_eq!(
                got.iter().map(|c| c.1).collect::<Vec<_>>(),
                [want],
                "{freqs:?} {on}/{off} at {level} dBm0, phase {phase} ms"
            );
            assert!(
                got[0].0 <= u64::from(within) * 8,
                "{freqs:?} {on}/{off} at {level} dBm0, phase {phase}: {want:?} after {} ms",
                got[0].0 / 8
            );
        }
    }
}

#[test]
fn north_american_tones() {
    check(NA_DIAL, 1000, 0, 4000, Heard::DialTone, 1100);
    check(NA_RING, 2000, 4000, 14_000, Heard::Ringback, 6000 + 900);
    check(NA_BUSY, 500, 500, 5000, Heard::Busy, 2000);
    check(NA_BUSY, 250, 250, 3000, Heard::Reorder, 1000);
    check(NA_BUSY, 200, 300, 3000, Heard::Reorder, 1000);
}

#[test]
fn cept_tones() {
    check(CEPT, 1000, 0, 5000, Heard::DialTone, 3100);
    check(CEPT, 1000, 4000, 12_000, Heard::Ringback, 10_000);
    check(CEPT, 500, 500, 5000, Heard::Busy, 2000);
    check(CEPT, 375, 375, 5000, Heard::Busy, 1500);
    check(CEPT, 250, 250, 3000, Heard::Reorder, 1000);
    check(CEPT, 200, 600, 4000, Heard::Reorder, 1600);
    check(FRANCE, 1500, 3500, 12_000, Heard::Ringback, 10_000);
}

#[test]
fn busy_latency_is_at_most_two_cycles() {
    // Worst case over every starting point (10 ms steps): the first burst is not trusted.
    let mut worst = 0;
    for phase in (0..1000).step_by(10) {
        let pcm = tone(NA_BUSY, -20.0, 500, 500, phase).render(4000, 3);
        let got = changes(&pcm);
        assert_eq!(got.first().map(|c| c.1), Some(Heard::Busy), "phase {phase}");
        worst = worst.max(got[0].0);
    }
    eprintln!("busy 0.5/0.5: worst latency {worst} samples");
    assert!(worst <= 16_000, "worst busy latency {worst} samples");
    assert!(worst >= 8_000, "needs a whole cycle: {worst} samples");
}

#[test]
fn quiet_lines_and_noise_say_nothing() {
    assert_eq!(heard(&vec![0; 80_000]), []);
    let hiss = Tone {
        freqs: &[],
        level: 0.0,
        on: 1,
        off: 0,
        phase: 0,
        noise: Some(-55.0),
    };
    assert_eq!(heard(&hiss.render(10_000, 5)), []);
    // A tone below the silence level is silence.
    assert_eq!(
        heard(&tone(NA_BUSY, -50.0, 500, 500, 0).render(5000, 1)),
        []
    );
}

/// The project's speech fixture (11.4 s of natural speech, 8 kHz).
fn speech() -> Vec<i16> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/speech-8k.wav");
    let mut r = crate::wav::WavReader::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = vec![0; 200_000];
    let mut n = 0;
    while let k @ 1.. = r.read_mono(&mut out[n..]).unwrap() {
        n += k;
    }
    out.truncate(n);
    out
}

#[test]
fn speech_is_voice_and_never_a_tone() {
    let s = speech();
    assert!(s.len() > 80_000);
    let through_ulaw: Vec<i16> = s
        .iter()
        .map(|&x| Law::Ulaw.decode_sample(Law::Ulaw.encode_sample(x)))
        .collect();
    for (name, pcm) in [("linear", &s), ("µ-law", &through_ulaw)] {
        let got = changes(pcm);
        assert_eq!(
            got.iter().map(|c| c.1).collect::<Vec<_>>(),
            [Heard::Voice],
            "{name}"
        );
        // Quieter speech (−20 dB) too.
        let quiet: Vec<i16> = pcm.iter().map(|&x| x / 10).collect();
        assert_eq!(heard(&quiet), [Heard::Voice], "{name} −20 dB");
    }
}

#[test]
fn tone_then_speech_then_tone() {
    let mut pcm = tone(NA_RING, -15.0, 2000, 4000, 0).render(7000, 1);
    pcm.extend(speech().iter().take(40_000));
    pcm.extend(tone(NA_BUSY, -15.0, 250, 250, 0).render(3000, 2));
    assert_eq!(heard(&pcm), [Heard::Ringback, Heard::Voice, Heard::Reorder]);
    // Busy (CEPT) into speech: voice after the busy, not before.
    let mut pcm = tone(CEPT, -15.0, 500, 500, 0).render(3000, 1);
    let at = pcm.len() as u64;
    pcm.extend(speech().iter().take(40_000));
    let got = changes(&pcm);
    assert_eq!(
        got.iter().map(|c| c.1).collect::<Vec<_>>(),
        [Heard::Busy, Heard::Voice]
    );
    assert!(got[1].0 > at);
    eprintln!(
        "voice after busy: {} samples into the speech",
        got[1].0 - at
    );
    assert!(got[1].0 - at <= 8000, "voice within 1 s of the speech");
}

/// DTMF key presses (ITU-T Q.23 pairs), as a caller keys a number: not busy, not voice.
#[test]
fn dtmf_is_neither_tone_nor_voice() {
    const LOW: [f32; 4] = [697.0, 770.0, 852.0, 941.0];
    const HIGH: [f32; 4] = [1209.0, 1336.0, 1477.0, 1633.0];
    for (on, off) in [(50, 50), (100, 100), (200, 100), (500, 500)] {
        for level in [-25.0, -10.0] {
            let mut pcm = Vec::new();
            for k in 0..16 {
                let pair = [LOW[k % 4], HIGH[(k / 4) % 4]];
                let key = tone(&pair, level, on, off, 0);
                pcm.extend(key.render(on + off, k as u64 + 1));
            }
            assert_eq!(heard(&pcm), [], "keys {on}/{off} ms at {level} dBm0");
        }
    }
}

#[test]
fn dial_tone_then_busy() {
    let mut pcm = tone(NA_DIAL, -13.0, 1000, 0, 0).render(2000, 1);
    pcm.extend(vec![0; 2400]);
    pcm.extend(tone(NA_BUSY, -20.0, 500, 500, 0).render(4000, 2));
    assert_eq!(heard(&pcm), [Heard::DialTone, Heard::Busy]);
}

#[test]
fn unknown_cadences_are_not_guessed() {
    // 480+620 Hz at 1 s / 1 s is no plan's busy or reorder.
    assert_eq!(
        heard(&tone(NA_BUSY, -20.0, 1000, 1000, 0).render(8000, 1)),
        []
    );
    // Nor is 350+440 Hz cadenced (stutter dial tone is no progress state).
    assert_eq!(
        heard(&tone(NA_DIAL, -20.0, 100, 100, 0).render(3000, 1)),
        []
    );
}

#[test]
fn block_boundaries_do_not_matter() {
    let pcm = tone(NA_BUSY, -20.0, 500, 500, 130).render(5000, 9);
    let whole = changes(&pcm);
    for size in [1, 7, 159, 320] {
        let mut d = Detector::new();
        let mut got = Vec::new();
        for c in pcm.chunks(size) {
            if let Some(h) = d.feed(c) {
                got.push((d.changed_at(), h));
            }
        }
        assert_eq!(got, whole, "chunks of {size}");
    }
    // One big feed returns the last change.
    let mut d = Detector::new();
    assert_eq!(d.feed(&pcm), Some(Heard::Busy));
    assert_eq!(d.heard(), Some(Heard::Busy));
    assert_eq!(d.blocks(), pcm.len() as u64 / BLOCK as u64);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any input, in any block sizes: no panic, the same changes as 20 ms frames, and the
    /// state stays the fixed-size struct (nothing grows; checked by its Clone being equal in
    /// size by construction, and the counters bounded by the input).
    #[test]
    fn any_input_any_chunking(
        pcm in proptest::collection::vec(any::<i16>(), 0..6000),
        sizes in proptest::collection::vec(1usize..=BLOCK, 1..20),
        loud in any::<bool>(),
    ) {
        let pcm: Vec<i16> = if loud {
            pcm.iter().map(|&x| if x >= 0 { i16::MAX } else { i16::MIN }).collect()
        } else {
            pcm
        };
        let want = changes(&pcm);
        let mut d = Detector::new();
        let mut got = Vec::new();
        let mut rest = &pcm[..];
        let mut i = 0;
        while !rest.is_empty() {
            let n = sizes[i % sizes.len()].min(rest.len());
            if let Some(h) = d.feed(&rest[..n]) {
                got.push((d.changed_at(), h));
            }
            rest = &rest[n..];
            i += 1;
        }
        prop_assert_eq!(got, want);
        prop_assert_eq!(d.samples(), pcm.len() as u64);
        prop_assert!(d.changed_at() <= d.samples());
    }
}

/// A noisy line (hiss 18–20 dB under the tone, above the absolute silence level): the off
/// periods are silence by the noise floor, not voice.
#[test]
fn tones_on_a_noisy_line() {
    for (level, noise) in [(-20.0, -38.0), (-10.0, -30.0), (-5.0, -25.0)] {
        for (on, off, want) in [
            (500, 500, Heard::Busy),
            (250, 250, Heard::Reorder),
            (2000, 4000, Heard::Ringback),
        ] {
            let t = Tone {
                noise: Some(noise),
                ..tone(NA_BUSY, level, on, off, 0)
            };
            let t = if want == Heard::Ringback {
                Tone {
                    freqs: NA_RING,
                    ..t
                }
            } else {
                t
            };
            assert_eq!(
                heard(&t.render(13_000, 3)),
                [want],
                "{on}/{off} at {level} dBm0, noise {noise} dBm0"
            );
        }
        let hiss = Tone {
            freqs: &[],
            noise: Some(noise),
            ..tone(NA_BUSY, level, 1, 0, 0)
        };
        assert_eq!(heard(&hiss.render(10_000, 4)), [], "hiss at {noise} dBm0");
    }
}
