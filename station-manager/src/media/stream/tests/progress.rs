//! Call-progress watching on a stream: received G.711 and Opus audio reaches the detector,
//! a sender's silence suppression keeps the cadence, and nothing is reported unless asked.

use codecs::opus::{Encoder, EncoderConfig};

use super::*;
use crate::Progress;

/// 480+620 Hz at −20 dBm0 in total, `on`/`off` ms, `frames` × 20 ms (ANSI T1.401 busy and
/// reorder).
fn tone(frames: usize, on: usize, off: usize) -> Vec<i16> {
    let cycle = (on + off) * 8;
    (0..frames * 160)
        .map(|i| {
            if i % cycle >= on * 8 {
                return 0;
            }
            let t = i as f64 / 8000.0;
            let s = (t * std::f64::consts::TAU * 480.0).sin()
                + (t * std::f64::consts::TAU * 620.0).sin();
            (s * 1600.0) as i16
        })
        .collect()
}

fn progress(events: &[MediaEvent]) -> Vec<Progress> {
    events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Progress { call, heard } => {
                assert_eq!(*call, CallId(7));
                Some(*heard)
            }
            _ => None,
        })
        .collect()
}

/// Sends `pcm` as µ-law packets every 20 ms; `keep` says which frames are sent at all.
fn send_ulaw(h: &mut Harness, pcm: &[i16], keep: impl Fn(usize) -> bool) {
    for (n, f) in pcm.chunks(160).enumerate() {
        if !keep(n) {
            continue;
        }
        let mut codes = [0u8; 160];
        Law::Ulaw.encode(f, &mut codes).unwrap();
        h.recv(n as u64 * 20, &rtp(n as u16, 0, n == 0, &codes));
    }
}

#[test]
fn busy_tone_in_g711_is_reported_once_and_only_when_watched() {
    let pcm = tone(250, 500, 500);
    let mut h = Harness::new();
    h.s.handle_watch_progress();
    h.s.handle_watch_progress();
    assert!(h.s.is_watching_progress());
    send_ulaw(&mut h, &pcm, |_| true);
    assert_eq!(progress(&h.events), [Progress::Busy]);

    let mut h = Harness::new();
    send_ulaw(&mut h, &pcm, |_| true);
    assert_eq!(progress(&h.events), []);
    assert!(!h.s.is_watching_progress());
}

#[test]
fn reorder_with_silence_suppressed_off_periods_keeps_its_cadence() {
    // The sender sends nothing during the 250 ms off periods (12.5 frames: frames wholly
    // inside an off period are left out); the timestamp gaps are the silence.
    let pcm = tone(200, 250, 250);
    let mut h = Harness::new();
    h.s.handle_watch_progress();
    send_ulaw(&mut h, &pcm, |n| {
        pcm[n * 160..(n + 1) * 160].iter().any(|&x| x != 0)
    });
    assert_eq!(progress(&h.events), [Progress::Reorder]);
    assert!(h.s.stats().audio_packets < 150, "off periods were not sent");
}

#[test]
fn tone_in_opus_is_heard_after_decoding() {
    let pcm = tone(250, 250, 250);
    let mut h = Harness::with(
        Media {
            codec: Codec::Opus { payload_type: 111 },
            ..media()
        },
        &Config::default(),
    );
    h.s.handle_watch_progress();
    let mut enc = Encoder::new(EncoderConfig::default()).unwrap();
    let mut out = vec![0; codecs::opus::MAX_PACKET_LEN];
    for (n, f) in pcm.chunks(160).enumerate() {
        let len = enc.encode(f, &mut out).unwrap();
        let p = rtp_from(
            Ssrc(0x1234),
            n as u16,
            n as u32 * 960,
            111,
            n == 0,
            &out[..len],
        );
        h.recv(n as u64 * 20, &p);
    }
    assert_eq!(progress(&h.events), [Progress::Reorder]);
}

/// 440+480 Hz (ringback, ANSI T1.401), continuous, samples `from..from + n`.
fn ringback(from: usize, n: usize) -> Vec<i16> {
    (from..from + n)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let s = (t * std::f64::consts::TAU * 440.0).sin()
                + (t * std::f64::consts::TAU * 480.0).sin();
            (s * 1600.0) as i16
        })
        .collect()
}

#[test]
fn a_codec_change_is_no_gap_in_what_is_heard() {
    // 0.6 s of ringback in G.711, then the call turns to Opus and the same tone goes on for
    // 0.6 s: 1.2 s of one burst, ringback. The Opus timestamps are 5 s of the new clock past
    // where the G.711 ones would continue; heard as a gap, the burst would be two short ones.
    let mut h = Harness::new();
    h.s.handle_watch_progress();
    let g711 = ringback(0, 4800);
    for (n, f) in g711.chunks(160).enumerate() {
        let mut codes = [0u8; 160];
        Law::Ulaw.encode(f, &mut codes).unwrap();
        h.recv(n as u64 * 20, &rtp(n as u16, 0, n == 0, &codes));
    }
    assert_eq!(progress(&h.events), []);
    h.s.handle_remote(
        h.at(600),
        Media {
            codec: Codec::Opus { payload_type: 111 },
            ..media()
        },
    );
    let mut enc = Encoder::new(EncoderConfig::default()).unwrap();
    let mut out = vec![0; codecs::opus::MAX_PACKET_LEN];
    let next_g711_ts = 5000 + 30 * 160;
    for (n, f) in ringback(4800, 4800).chunks(160).enumerate() {
        let len = enc.encode(f, &mut out).unwrap();
        let p = rtp_from(
            Ssrc(0x1234),
            30 + n as u16,
            next_g711_ts + 6 * 40_000 + n as u32 * 960,
            111,
            false,
            &out[..len],
        );
        h.recv(600 + n as u64 * 20, &p);
    }
    assert_eq!(progress(&h.events), [Progress::Ringback]);
}
