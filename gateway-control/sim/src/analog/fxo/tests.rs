use std::time::{Duration, Instant};

use super::*;
use crate::Output;

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

const CADENCE: (Duration, Duration) = (Duration::from_secs(2), Duration::from_secs(4));

fn port(s: Supervision) -> Port {
    Port::new(3, s, CADENCE)
}

fn detected(p: &mut Port) -> Vec<Detected> {
    std::iter::from_fn(|| p.poll_detected()).collect()
}

fn outputs(p: &mut Port) -> Vec<Output> {
    std::iter::from_fn(|| p.poll_output()).collect()
}

/// Goertzel power of `f` Hz in 8 kHz `x`.
fn power(x: &[i16], f: f64) -> f64 {
    let w = std::f64::consts::TAU * f / 8000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for &v in x {
        let s = f64::from(v) + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    s1 * s1 + s2 * s2 - c * s1 * s2
}

fn energy(x: &[i16]) -> f64 {
    x.iter().map(|&v| f64::from(v).powi(2)).sum()
}

#[test]
fn ranges_and_supervision_parse() {
    let mut c = FxoConfig::new();
    c.lines("3-4").unwrap().lines(" 7 ,9-9").unwrap();
    assert_eq!(c.fxo_lines().collect::<Vec<_>>(), [3, 4, 7, 9]);
    assert!(c.is_fxo(4) && !c.is_fxo(5) && !c.is_fxo(1));
    assert_eq!(c.highest(), Some(9));
    for bad in ["", "0", "4-3", "a", "3-", "-3", "4097", "1-4097", "3--4"] {
        assert!(
            matches!(FxoConfig::new().lines(bad), Err(FxoError::Range(_))),
            "{bad:?}"
        );
    }
    let many = vec!["1"; MAX_FXO_RANGES + 1].join(",");
    assert_eq!(
        FxoConfig::new().lines(&many).map(|_| ()),
        Err(FxoError::TooManyRanges)
    );
    assert_eq!("none".parse(), Ok(Supervision::None));
    assert_eq!("full".parse(), Ok(Supervision::Full));
    assert!("partial".parse::<Supervision>().is_err());
    assert_eq!(FxoConfig::new().supervision_mode(), Supervision::Full);
}

#[test]
fn busy_and_reorder_have_their_pair_and_cadence() {
    for (tone, on) in [(Tone::Busy, 4000), (Tone::Reorder, 2000)] {
        let mut g = ToneGen::new(tone);
        let x: Vec<i16> = (0..4).flat_map(|_| g.chunk(MAX_TONE_CHUNK)).collect();
        for (i, period) in x.chunks(2 * on).enumerate() {
            let (sound, quiet) = period.split_at(on);
            assert!(energy(quiet) == 0.0, "{tone:?} period {i} is silent off");
            let p480 = power(sound, 480.0);
            let p620 = power(sound, 620.0);
            let p440 = power(sound, 440.0);
            let p350 = power(sound, 350.0);
            assert!(p480 > 100.0 * p440 && p620 > 100.0 * p350, "{tone:?}");
            assert!((p480 / p620 - 1.0).abs() < 0.1, "equal levels");
        }
    }
}

#[test]
fn tone_chunks_join_without_a_seam() {
    let whole = ToneGen::new(Tone::Busy).chunk(6000);
    let mut g = ToneGen::new(Tone::Busy);
    let mut parts = g.chunk(2500);
    parts.extend(g.chunk(3500));
    assert_eq!(parts, whole);
    assert_eq!(g.chunk(usize::MAX).len(), MAX_TONE_CHUNK);
}

#[test]
fn outgoing_call_with_full_supervision() {
    let t = epoch();
    let mut p = port(Supervision::Full);
    p.seize(t).unwrap();
    assert_eq!(p.state(), State::Seized);
    assert!(p.state().off_hook());
    p.dial(t, "2041", true).unwrap();
    assert_eq!(
        outputs(&mut p),
        [Output::Dialed {
            line: 3,
            number: "2041".into()
        }]
    );
    assert_eq!(p.state(), State::Dialled);
    assert_eq!(p.dial(t, "5", true), Err(Refusal::NotSeized));
    p.far_off_hook(t).unwrap();
    assert_eq!(detected(&mut p), [Detected::PolarityReversal]);
    p.far_digits(t, "1#").unwrap();
    assert_eq!(
        detected(&mut p),
        [Detected::Digit('1'), Detected::Digit('#')]
    );
    p.far_on_hook(t).unwrap();
    assert_eq!(detected(&mut p), [Detected::LoopCurrentDrop]);
    assert_eq!(p.state(), State::FarEndGone);
    assert_eq!(p.tone_chunk(), None, "full supervision: no reorder");
    p.release(t);
    assert_eq!(p.state(), State::Idle);
    assert!(p.far_on_hook(t).is_err());
}

#[test]
fn without_supervision_answer_is_silent_and_hang_up_plays_reorder() {
    let t = epoch();
    let mut p = port(Supervision::None);
    p.seize(t).unwrap();
    p.dial(t, "2041", true).unwrap();
    p.far_off_hook(t).unwrap();
    assert_eq!(detected(&mut p), []);
    assert_eq!(p.state(), State::Answered);
    p.far_on_hook(t).unwrap();
    assert_eq!(detected(&mut p), []);
    assert_eq!(p.tone(), Some(Tone::Reorder));
    let chunk = p.tone_chunk().unwrap();
    assert_eq!(chunk, ToneGen::new(Tone::Reorder).chunk(MAX_TONE_CHUNK));
    p.release(t);
    assert_eq!(p.tone_chunk(), None, "release stops the tone");
}

#[test]
fn digits_without_an_end_complete_at_the_dial_timeout() {
    let t = epoch();
    let mut p = port(Supervision::Full);
    p.seize(t).unwrap();
    p.dial(t, "20", false).unwrap();
    p.dial(t + Duration::from_secs(1), "41", false).unwrap();
    assert_eq!(outputs(&mut p), []);
    let due = t + Duration::from_secs(1) + DIAL_TIMEOUT;
    assert_eq!(p.poll_timeout(), Some(due));
    p.handle_timeout(due - Duration::from_millis(1));
    assert_eq!(p.state(), State::Seized);
    p.handle_timeout(due);
    assert_eq!(
        outputs(&mut p),
        [Output::Dialed {
            line: 3,
            number: "2041".into()
        }]
    );
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn bad_dial_strings_are_refused_whole() {
    let t = epoch();
    let mut p = port(Supervision::Full);
    assert_eq!(p.dial(t, "1", true), Err(Refusal::NotSeized));
    p.seize(t).unwrap();
    assert_eq!(p.seize(t), Err(Refusal::InUse));
    assert_eq!(p.dial(t, "12x", true), Err(Refusal::BadNumber));
    let long = "1".repeat(MAX_DIALLED + 1);
    assert_eq!(p.dial(t, &long, true), Err(Refusal::BadNumber));
    p.dial(t, &long[1..], false).unwrap();
    assert_eq!(p.dial(t, "1", true), Err(Refusal::BadNumber));
    assert_eq!(p.state(), State::Seized);
}

#[test]
fn busy_plays_busy_tone() {
    let t = epoch();
    let mut p = port(Supervision::Full);
    assert!(p.far_busy(t).is_err(), "idle: nothing to be busy");
    p.seize(t).unwrap();
    p.dial(t, "2041", true).unwrap();
    p.far_busy(t).unwrap();
    assert_eq!(p.state(), State::Busy);
    assert_eq!(p.tone(), Some(Tone::Busy));
    assert!(p.far_off_hook(t).is_err(), "a busy far end never answers");
    assert_eq!(detected(&mut p), []);
}

#[test]
fn incoming_call_rings_with_caller_id_and_refuses_a_seize() {
    let t = epoch();
    let mut p = port(Supervision::Full);
    assert_eq!(p.answer(t), Err(Refusal::NotRinging));
    p.ring(t, Some("2041".into())).unwrap();
    assert_eq!(
        detected(&mut p),
        [Detected::Ring {
            caller_id: Some("2041".into())
        }]
    );
    assert_eq!(outputs(&mut p), [Output::Ringing { line: 3, on: true }]);
    assert!(p.ring(t, None).is_err());
    assert_eq!(p.seize(t), Err(Refusal::Glare));
    p.release(t);
    assert_eq!(p.state(), State::Ringing, "on hook already: still ringing");
    assert_eq!(p.poll_timeout(), Some(t + CADENCE.0));
    p.handle_timeout(t + CADENCE.0);
    assert_eq!(outputs(&mut p), [Output::Ringing { line: 3, on: false }]);
    let t2 = t + CADENCE.0 + CADENCE.1;
    p.handle_timeout(t2);
    assert_eq!(outputs(&mut p), [Output::Ringing { line: 3, on: true }]);
    p.answer(t2).unwrap();
    assert_eq!(
        outputs(&mut p),
        [
            Output::Ringing { line: 3, on: false },
            Output::Answered { line: 3 }
        ]
    );
    assert_eq!(p.caller_id(), Some("2041"));
    assert_eq!(p.answer(t2), Err(Refusal::InUse));
    p.far_digits(t2, "1234#").unwrap();
    assert_eq!(detected(&mut p).len(), 5);
    p.far_on_hook(t2).unwrap();
    assert_eq!(detected(&mut p), [Detected::LoopCurrentDrop]);
    assert_eq!(p.poll_timeout(), None);
}

#[test]
fn a_caller_giving_up_stops_the_ringing() {
    let t = epoch();
    let mut p = port(Supervision::None);
    p.ring(t, None).unwrap();
    let _ = (detected(&mut p), outputs(&mut p));
    p.far_on_hook(t).unwrap();
    assert_eq!(detected(&mut p), [Detected::RingingStopped]);
    assert_eq!(outputs(&mut p), [Output::Ringing { line: 3, on: false }]);
    assert_eq!(p.state(), State::Idle);
    assert_eq!(p.caller_id(), None);
    assert!(p.far_digits(t, "1").is_err(), "digits out of place");
}

#[test]
fn the_far_phone_can_answer_by_itself() {
    let t = epoch();
    let mut p = port(Supervision::Full);
    p.far_autoanswer(true, Duration::from_secs(3));
    p.seize(t).unwrap();
    p.dial(t, "2041", true).unwrap();
    assert_eq!(p.poll_timeout(), Some(t + Duration::from_secs(3)));
    p.handle_timeout(t + Duration::from_secs(3));
    assert_eq!(p.state(), State::Answered);
    assert_eq!(detected(&mut p), [Detected::PolarityReversal]);
}

#[test]
fn a_flood_of_far_end_keys_is_bounded_and_counted() {
    let t = epoch();
    let mut p = port(Supervision::Full);
    p.seize(t).unwrap();
    p.dial(t, "1", true).unwrap();
    p.far_off_hook(t).unwrap();
    for _ in 0..MAX_PORT_EVENTS {
        p.far_digits(t, "5").unwrap();
    }
    assert_eq!(p.dropped(), 1, "the reversal was pushed out");
    assert_eq!(detected(&mut p).len(), MAX_PORT_EVENTS);
}
