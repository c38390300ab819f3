//! Scenario tests with explicit arrival and playout times.

use proptest::prelude::*;

use super::*;
use crate::g711;
use crate::rtp::Csrcs;

/// An arbitrary origin; only offsets from it matter.
#[allow(clippy::disallowed_methods)]
fn origin() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// The µ-law code used as the payload of packet `n`: decodes to a distinct level.
fn code(n: u16) -> u8 {
    0x80 + (n % 100) as u8
}

struct Harness {
    jb: JitterBuffer,
    t0: Instant,
    payload: Vec<u8>,
}

impl Harness {
    fn new() -> Self {
        Self::with(Config::default())
    }

    fn with(config: Config) -> Self {
        Self {
            jb: JitterBuffer::new(config),
            t0: origin(),
            payload: vec![0; 160],
        }
    }

    /// Pushes packet `n` (payload level `code(n)`) at `at` ms.
    fn push(&mut self, at: u64, ssrc: u32, seq: u16, ts: u32, marker: bool, n: u16) -> Push {
        self.payload.fill(code(n));
        let repr = rtp::Repr {
            marker,
            payload_type: 0,
            sequence_number: SequenceNumber(seq),
            timestamp: Timestamp(ts),
            ssrc: Ssrc(ssrc),
            csrcs: Csrcs::default(),
            extension: None,
            payload: &self.payload,
            padding: 0,
        };
        self.jb.push(self.t0 + ms(at), &repr)
    }

    /// Pops every frame due at `at` ms: (kind, timestamp, first sample).
    fn pop(&mut self, at: u64) -> Vec<(FrameKind, u32, i16)> {
        let mut out = Vec::new();
        while let Some(f) = self.jb.pop(self.t0 + ms(at)) {
            assert_eq!(f.pcm.len(), 160);
            out.push((f.kind, f.timestamp.0, f.pcm[100]));
        }
        out
    }
}

fn level(n: u16) -> i16 {
    g711::ulaw_decode_sample(code(n))
}

#[test]
fn in_order_stream_plays_after_target_delay() {
    let mut h = Harness::new();
    for n in 0..10u16 {
        assert_eq!(
            h.push(
                20 * u64::from(n),
                1,
                100 + n,
                1000 + 160 * u32::from(n),
                n == 0,
                n
            ),
            Push::Accepted
        );
        let due = h.pop(20 * u64::from(n));
        if n < 3 {
            assert!(due.is_empty(), "nothing before 60 ms");
        } else {
            assert_eq!(
                due,
                vec![(
                    FrameKind::Audio,
                    1000 + 160 * u32::from(n - 3),
                    level(n - 3)
                )]
            );
        }
    }
    assert_eq!(h.jb.poll_timeout(), Some(h.t0 + ms(200)));
    assert_eq!(h.jb.len(), 3);
    let s = h.jb.stats();
    assert_eq!(
        (s.received, s.played, s.lost, s.late, s.duplicates),
        (10, 7, 0, 0, 0)
    );
}

#[test]
fn pcm_through_g711_rtp_and_jitter_buffer_round_trips() {
    // PCM → µ-law → RTP bytes → parse → jitter buffer → PCM equals PCM → µ-law → PCM.
    let pcm: Vec<i16> = (0..160 * 8)
        .map(|i| ((i * 977) % 20_000) as i16 - 10_000)
        .collect();
    let mut packetizer = rtp::Packetizer::new(Ssrc(3), 0, SequenceNumber(65534), Timestamp(77));
    let mut jb = JitterBuffer::new(Config::default());
    let t0 = origin();
    let mut out = Vec::new();
    for (n, frame) in pcm.chunks(160).enumerate() {
        let mut codes = [0u8; 160];
        g711::encode_ulaw(frame, &mut codes).unwrap();
        let mut wire = [0u8; 172];
        packetizer.packet(&codes, 160).emit(&mut wire).unwrap();
        let now = t0 + ms(20 * n as u64);
        assert_eq!(
            jb.push(now, &rtp::Repr::parse_bytes(&wire).unwrap()),
            Push::Accepted
        );
        while let Some(f) = jb.pop(now) {
            assert_eq!(f.kind, FrameKind::Audio);
            out.extend_from_slice(f.pcm);
        }
    }
    while let Some(f) = jb.pop(t0 + ms(160 + 40)) {
        out.extend_from_slice(f.pcm);
    }
    let expected: Vec<i16> = pcm
        .iter()
        .map(|&x| g711::ulaw_decode_sample(g711::ulaw_encode_sample(x)))
        .collect();
    assert_eq!(out, expected);
}

#[test]
fn reordered_packets_play_in_order() {
    let mut h = Harness::new();
    for (at, n) in [(0, 0u16), (20, 2), (30, 1), (60, 3), (80, 4)] {
        h.push(at, 1, n, 160 * u32::from(n), n == 0, n);
    }
    let frames = h.pop(140);
    let order: Vec<_> = frames.iter().map(|f| (f.0, f.2)).collect();
    assert_eq!(
        order,
        (0..5)
            .map(|n| (FrameKind::Audio, level(n)))
            .collect::<Vec<_>>()
    );
    assert_eq!(h.jb.stats().reordered, 1);
    assert_eq!(h.jb.stats().lost, 0);
}

#[test]
fn duplicates_are_dropped_and_counted() {
    let mut h = Harness::new();
    assert_eq!(h.push(0, 1, 7, 0, true, 0), Push::Accepted);
    assert_eq!(h.push(1, 1, 7, 0, true, 0), Push::Duplicate);
    assert_eq!(h.push(20, 1, 8, 160, false, 1), Push::Accepted);
    assert_eq!(h.push(21, 1, 7, 0, true, 0), Push::Duplicate);
    assert_eq!(h.pop(80).len(), 2);
    // A duplicate of an already played packet is still a duplicate, not late.
    assert_eq!(h.push(90, 1, 7, 0, true, 0), Push::Duplicate);
    let s = h.jb.stats();
    assert_eq!((s.duplicates, s.late, s.played), (3, 0, 2));
}

#[test]
fn loss_is_concealed_not_silent() {
    let mut h = Harness::new();
    // A 170 Hz tone as real audio, then packet 5 lost.
    let tone: Vec<i16> = (0..160 * 10)
        .map(|i| (8000.0 * (2.0 * core::f32::consts::PI * 170.0 * i as f32 / 8000.0).sin()) as i16)
        .collect();
    let t0 = h.t0;
    let mut kinds = Vec::new();
    let mut concealed_energy = 0.0f64;
    for n in 0..10u16 {
        if n != 5 {
            let mut payload = [0u8; 160];
            g711::encode_ulaw(
                &tone[160 * n as usize..160 * (n as usize + 1)],
                &mut payload,
            )
            .unwrap();
            let repr = rtp::Repr {
                marker: n == 0,
                payload_type: 0,
                sequence_number: SequenceNumber(n),
                timestamp: Timestamp(160 * u32::from(n)),
                ssrc: Ssrc(9),
                csrcs: Csrcs::default(),
                extension: None,
                payload: &payload,
                padding: 0,
            };
            h.jb.push(t0 + ms(20 * u64::from(n)), &repr);
        }
        while let Some(f) = h.jb.pop(t0 + ms(20 * u64::from(n))) {
            kinds.push(f.kind);
            if f.kind == FrameKind::Concealed {
                concealed_energy = f.pcm.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / 160.0;
            }
        }
    }
    assert_eq!(kinds.len(), 7);
    assert_eq!(kinds[5], FrameKind::Concealed);
    assert!(
        kinds
            .iter()
            .enumerate()
            .all(|(i, k)| (i == 5) == (*k == FrameKind::Concealed))
    );
    // The tone's power is 8000²/2 = 32e6; concealment keeps most of it.
    assert!(concealed_energy > 0.5 * 32e6, "{concealed_energy}");
    let s = h.jb.stats();
    assert_eq!((s.lost, s.concealed, s.underruns), (1, 1, 0));
}

#[test]
fn sequence_and_timestamp_wrap() {
    let mut h = Harness::new();
    let ts0 = u32::MAX - 2 * 160 + 1;
    let mut expected = Vec::new();
    for i in 0..8u16 {
        let seq = 65533u16.wrapping_add(i);
        let ts = ts0.wrapping_add(160 * u32::from(i));
        expected.push((FrameKind::Audio, ts, level(i)));
        h.push(20 * u64::from(i), 5, seq, ts, i == 0, i);
    }
    // Again with seq 0 and 1 (packets 3 and 4) swapped across the wrap.
    let mut r = Harness::new();
    for i in [0u16, 1, 2, 4, 3, 5, 6, 7] {
        r.push(
            20 * u64::from(i),
            5,
            65533u16.wrapping_add(i),
            ts0.wrapping_add(160 * u32::from(i)),
            i == 0,
            i,
        );
    }
    assert_eq!(h.pop(200), expected);
    assert_eq!(r.pop(200), expected);
    assert_eq!(r.jb.stats().reordered, 1);
    assert_eq!(r.jb.stats().duplicates, 0);
}

#[test]
fn ssrc_change_resets() {
    let mut h = Harness::new();
    for n in 0..4u16 {
        h.push(20 * u64::from(n), 1, n, 160 * u32::from(n), n == 0, n);
    }
    assert_eq!(h.pop(60).len(), 1);
    // A new source with unrelated numbering.
    for n in 0..4u16 {
        h.push(
            80 + 20 * u64::from(n),
            2,
            40_000 + n,
            9_999_000 + 160 * u32::from(n),
            n == 0,
            50 + n,
        );
    }
    let frames = h.pop(140);
    assert_eq!(
        frames.first(),
        Some(&(FrameKind::Audio, 9_999_000, level(50)))
    );
    assert_eq!(frames.len(), 1, "the new stream waits its own target delay");
    let s = h.jb.stats();
    assert_eq!((s.ssrc_changes, s.talkspurts, s.lost), (1, 2, 0));
}

#[test]
fn timestamp_jump_resynchronises() {
    let mut h = Harness::new();
    for n in 0..4u16 {
        h.push(20 * u64::from(n), 1, n, 160 * u32::from(n), n == 0, n);
    }
    h.pop(80);
    // Sender restart: same SSRC, timestamp 10 s ahead, no marker.
    for n in 4..8u16 {
        let ts = 80_000 + 160 * u32::from(n);
        h.push(20 * u64::from(n), 1, n, ts, false, n);
    }
    // Re-anchored at 80 ms with the adapted delay (40 ms: no jitter measured).
    let frames = h.pop(180);
    assert_eq!(frames.len(), 4);
    assert!(frames.iter().all(|f| f.0 == FrameKind::Audio), "{frames:?}");
    assert_eq!(frames.last().map(|f| f.1), Some(80_000 + 160 * 7));
    assert_eq!(h.jb.stats().timestamp_jumps, 1);
}

#[test]
fn new_talkspurt_after_silence_reanchors() {
    let mut h = Harness::with({
        let mut c = Config::default();
        c.adaptive(false).unwrap();
        c
    });
    for n in 0..3u16 {
        h.push(20 * u64::from(n), 1, n, 160 * u32::from(n), n == 0, n);
    }
    // Plays 3 frames, conceals 3 (60 ms), then goes idle.
    let frames = h.pop(400);
    assert_eq!(frames.iter().filter(|f| f.0 == FrameKind::Audio).count(), 3);
    assert_eq!(
        frames
            .iter()
            .filter(|f| f.0 == FrameKind::Concealed)
            .count(),
        3
    );
    assert_eq!(h.jb.poll_timeout(), None);
    // 500 ms of silence later (4000 units), a marked packet starts a new talkspurt.
    h.push(500, 1, 3, 4000 + 480, true, 3);
    assert!(h.pop(559).is_empty());
    assert_eq!(h.pop(560), vec![(FrameKind::Audio, 4480, level(3))]);
    let s = h.jb.stats();
    assert_eq!((s.talkspurts, s.underruns, s.lost), (2, 3, 0));
}

#[test]
fn sender_restart_with_older_timestamps_recovers_after_idle() {
    let mut h = Harness::new();
    for n in 0..4u16 {
        h.push(
            20 * u64::from(n),
            1,
            n,
            16_000 + 160 * u32::from(n),
            n == 0,
            n,
        );
    }
    assert_eq!(h.pop(120).len(), 4);
    // The sender restarts its clock 0.5 s back; sequence numbers continue.
    assert_eq!(h.push(121, 1, 4, 12_000, false, 4), Push::Late);
    // Playing: 3 frames concealed (60 ms), then idle; the next new packet re-anchors.
    assert_eq!(h.pop(200).len(), 3);
    assert_eq!(h.push(201, 1, 5, 12_160, false, 5), Push::Accepted);
    // The jump back inflated the jitter estimate (capped), so the delay is at most 200 ms.
    let frames = h.pop(401);
    assert_eq!(frames.first(), Some(&(FrameKind::Audio, 12_160, level(5))));
    let s = h.jb.stats();
    // 3 underruns after the restart packet, 3 more after the single new frame.
    assert_eq!((s.late, s.underruns, s.talkspurts), (1, 6, 2));
}

#[test]
fn late_packets_are_dropped() {
    let mut h = Harness::new();
    h.push(0, 1, 0, 0, true, 0);
    h.push(20, 1, 2, 320, false, 2);
    assert_eq!(h.pop(100).len(), 3);
    assert_eq!(h.push(101, 1, 1, 160, false, 1), Push::Late);
    let s = h.jb.stats();
    assert_eq!((s.late, s.lost, s.concealed), (1, 1, 1));
}

#[test]
fn held_frames_are_capped_and_delay_bounded() {
    let mut h = Harness::new();
    // A burst of 200 packets at one instant: never more than max_delay worth held.
    for n in 0..200u16 {
        h.push(0, 1, n, 160 * u32::from(n), n == 0, n);
        assert!(h.jb.len() <= 11, "held {}", h.jb.len());
    }
    assert!(h.jb.stats().overflow > 0);
    assert!(h.jb.stats().timestamp_jumps == 0);
    // What is played is the newest audio, in order.
    let frames = h.pop(60);
    assert_eq!(frames.len(), 1);
    assert!(frames[0].1 > 160 * 180);
}

#[test]
fn adaptive_delay_follows_jitter() {
    let mut h = Harness::new();
    // Packets alternately on time and 40 ms late.
    for n in 0..100u16 {
        let at = 20 * u64::from(n) + if n % 2 == 1 { 40 } else { 0 };
        h.push(at, 1, n, 160 * u32::from(n), n == 0, n);
        h.pop(at);
    }
    assert!(h.jb.jitter() > 200, "jitter {}", h.jb.jitter());
    // The next talkspurt uses a longer delay than the 60 ms default.
    h.pop(5000);
    h.push(5000, 1, 100, 1_000_000, true, 0);
    assert!(h.jb.current_delay() > ms(60), "{:?}", h.jb.current_delay());
    assert!(h.jb.current_delay() <= ms(200));
}

#[test]
fn non_g711_and_partial_frames_are_invalid() {
    let mut jb = JitterBuffer::new(Config::default());
    let payload = [0u8; 100];
    let repr = rtp::Repr {
        marker: false,
        payload_type: 0,
        sequence_number: SequenceNumber(0),
        timestamp: Timestamp(0),
        ssrc: Ssrc(1),
        csrcs: Csrcs::default(),
        extension: None,
        payload: &payload,
        padding: 0,
    };
    let t = origin();
    assert_eq!(jb.push(t, &repr), Push::Invalid);
    assert_eq!(
        jb.push(
            t,
            &rtp::Repr {
                payload_type: 101,
                ..repr
            }
        ),
        Push::Invalid
    );
    assert_eq!(jb.stats().invalid, 2);
    assert!(jb.pop(t + ms(1000)).is_none());
}

#[test]
fn config_setters_validate() {
    let mut c = Config::default();
    c.target_delay(ms(100)).unwrap().max_delay(ms(300)).unwrap();
    assert!(matches!(
        c.target_delay(ms(500)),
        Err(ConfigError::DelayOrder { .. })
    ));
    assert_eq!(
        c.target_delay,
        ms(100),
        "a rejected setter leaves the config unchanged"
    );
    assert!(matches!(
        c.max_packets(5),
        Err(ConfigError::Capacity { .. })
    ));
    assert_eq!(
        c.frame(0, 8000).unwrap_err(),
        ConfigError::Zero("frame_samples")
    );
    c.frame(80, 8000).unwrap().max_packets(100).unwrap();
}

proptest! {
    /// Arbitrary arrival patterns (reorder, duplicates, loss, SSRC flips, wild timestamps):
    /// no panic, every packet accounted for, never more than `max_packets` held.
    #[test]
    fn arbitrary_streams_keep_invariants(
        ops in proptest::collection::vec(
            (0u16..80, 1u32..3, any::<bool>(), 0u64..45, proptest::option::weighted(0.05, any::<u32>())),
            1..300,
        )
    ) {
        let mut h = Harness::new();
        let mut t = 0;
        let mut accepted = 0u64;
        let mut frames = 0u64;
        for (n, ssrc, marker, dt, wild_ts) in ops {
            t += dt;
            let ts = wild_ts.unwrap_or((u32::MAX - 1000).wrapping_add(160 * u32::from(n)));
            if h.push(t, ssrc, 65_500u16.wrapping_add(n), ts, marker, n) == Push::Accepted {
                accepted += 1;
            }
            prop_assert!(h.jb.len() <= 50);
            frames += h.pop(t).len() as u64;
        }
        let s = *h.jb.stats();
        prop_assert_eq!(s.received, accepted + s.duplicates + s.late + s.invalid);
        prop_assert_eq!(frames, s.played + s.concealed);
        prop_assert_eq!(s.concealed, s.lost + s.underruns);
    }
}
