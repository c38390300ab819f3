//! Opus streams through the jitter buffer: real packets from `codecs::opus::Encoder`, explicit
//! arrival and playout times.

use proptest::prelude::*;

use super::*;
use crate::opus::{self, Encoder, EncoderConfig};
use crate::rtp::Csrcs;

const PT: u8 = 111;
/// RTP timestamp units per 20 ms frame (48 kHz clock).
const TICKS: u32 = 960;

/// An arbitrary origin; only offsets from it matter.
#[allow(clippy::disallowed_methods)]
fn origin() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

/// Speech-like 8 kHz audio: a voiced tone whose pitch sweeps 120–240 Hz, with harmonics up to
/// 3 kHz and a 4 Hz syllabic envelope.
fn speech(samples: usize) -> Vec<i16> {
    let mut phase = 0f64;
    (0..samples)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let f0 = 120.0 + 120.0 * (0.5 + 0.5 * (2.0 * std::f64::consts::PI * 0.7 * t).sin());
            phase += 2.0 * std::f64::consts::PI * f0 / 8000.0;
            let env = 0.55 + 0.45 * (2.0 * std::f64::consts::PI * 4.0 * t).sin();
            let mut v = 0.0;
            for h in 1..=(3000.0 / f0) as usize {
                v += (h as f64 * phase).sin() / h as f64;
            }
            (5000.0 * env * v) as i16
        })
        .collect()
}

/// 20 ms packets of `pcm`.
fn encode(pcm: &[i16], fec: bool) -> Vec<Vec<u8>> {
    let config = EncoderConfig {
        inband_fec: fec,
        packet_loss_pct: if fec { 20 } else { 0 },
        ..EncoderConfig::new(8000).unwrap().bitrate(24_000).unwrap()
    };
    let mut enc = Encoder::new(config).unwrap();
    let mut buf = [0u8; opus::MAX_PACKET_LEN];
    pcm.chunks_exact(160)
        .map(|f| {
            let n = enc.encode(f, &mut buf).unwrap();
            buf[..n].to_vec()
        })
        .collect()
}

/// What one fresh decoder makes of `packets`, in order, with nothing lost.
fn reference(packets: &[Vec<u8>]) -> Vec<i16> {
    let mut dec = opus::Decoder::new(opus::SampleRate::Hz8000).unwrap();
    let mut out = vec![0i16; dec.max_frame_samples()];
    let mut pcm = Vec::new();
    for p in packets {
        let n = dec.decode(p, &mut out).unwrap();
        pcm.extend_from_slice(&out[..n]);
    }
    pcm
}

/// Best normalised cross-correlation of `b` against `a` over lags 0..100 samples (the codec
/// delays its output).
fn correlation(a: &[i16], b: &[i16]) -> f64 {
    (0..100)
        .map(|lag| {
            let n = a.len().min(b.len() - lag);
            let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
            for i in 0..n {
                let (x, y) = (f64::from(a[i]), f64::from(b[i + lag]));
                ab += x * y;
                aa += x * x;
                bb += y * y;
            }
            ab / (aa * bb).sqrt().max(1.0)
        })
        .fold(f64::MIN, f64::max)
}

struct Harness {
    jb: JitterBuffer,
    t0: Instant,
}

impl Harness {
    fn new() -> Self {
        Self::with(Config::default())
    }

    fn with(config: Config) -> Self {
        Self {
            jb: JitterBuffer::with_payload(config, Payload::Opus { payload_type: PT }).unwrap(),
            t0: origin(),
        }
    }

    fn push_pt(&mut self, at: u64, pt: u8, seq: u16, ts: u32, payload: &[u8]) -> Push {
        self.push_from(at, Ssrc(7), pt, seq, ts, payload)
    }

    fn push_from(
        &mut self,
        at: u64,
        ssrc: Ssrc,
        pt: u8,
        seq: u16,
        ts: u32,
        payload: &[u8],
    ) -> Push {
        let repr = rtp::Repr {
            marker: seq == 0,
            payload_type: pt,
            sequence_number: SequenceNumber(seq),
            timestamp: Timestamp(ts),
            ssrc,
            csrcs: Csrcs::default(),
            extension: None,
            payload,
            padding: 0,
        };
        self.jb.push(self.t0 + ms(at), &repr)
    }

    /// Pushes packet `n` of a 20 ms stream (timestamp `n * 960`) at `at` ms.
    fn push(&mut self, at: u64, n: u16, payload: &[u8]) -> Push {
        self.push_pt(at, PT, n, u32::from(n) * TICKS, payload)
    }

    /// Pops every frame due at `at` ms.
    fn pop(&mut self, at: u64) -> Vec<(FrameKind, u32, Vec<i16>)> {
        let mut out = Vec::new();
        while let Some(f) = self.jb.pop(self.t0 + ms(at)) {
            out.push((f.kind, f.timestamp.0, f.pcm.to_vec()));
        }
        out
    }
}

fn pcm_of(frames: &[(FrameKind, u32, Vec<i16>)]) -> Vec<i16> {
    frames.iter().flat_map(|f| f.2.iter().copied()).collect()
}

#[test]
fn in_order_stream_decodes_to_the_source() {
    let source = speech(8000);
    let packets = encode(&source, false);
    let mut h = Harness::new();
    let mut frames = Vec::new();
    for (n, p) in packets.iter().enumerate() {
        let at = 20 * n as u64;
        assert_eq!(h.push(at, n as u16, p), Push::Accepted);
        frames.extend(h.pop(at));
    }
    frames.extend(h.pop(20 * packets.len() as u64 + 40));
    assert_eq!(frames.len(), packets.len());
    for (i, (kind, ts, pcm)) in frames.iter().enumerate() {
        assert_eq!(*kind, FrameKind::Audio);
        assert_eq!(*ts, i as u32 * TICKS, "timestamps in 48 kHz units");
        assert_eq!(pcm.len(), 160);
    }
    let out = pcm_of(&frames);
    // Exactly one decoder's output over the packets in order...
    assert_eq!(out, reference(&packets));
    // ...which is the source, delayed by the codec.
    let c = correlation(&source, &out);
    assert!(c > 0.9, "correlation {c}");
    let s = h.jb.stats();
    assert_eq!((s.played, s.concealed, s.invalid), (50, 0, 0));
}

#[test]
fn reordered_packets_play_in_order() {
    let packets = encode(&speech(8000), false);
    let mut h = Harness::new();
    let mut frames = Vec::new();
    assert_eq!(h.push(0, 0, &packets[0]), Push::Accepted);
    // Then each even packet overtakes the odd one before it by 10 ms.
    for n in (1..packets.len() - 1).step_by(2) {
        let at = 20 * n as u64 + 25;
        assert_eq!(h.push(at, n as u16 + 1, &packets[n + 1]), Push::Accepted);
        assert_eq!(h.push(at + 10, n as u16, &packets[n]), Push::Accepted);
        frames.extend(h.pop(at + 10));
    }
    assert_eq!(h.push(1000, 49, &packets[49]), Push::Accepted);
    frames.extend(h.pop(1000 + 40));
    assert_eq!(frames.len(), 50);
    assert!(frames.iter().all(|f| f.0 == FrameKind::Audio));
    assert_eq!(pcm_of(&frames), reference(&packets));
    let s = h.jb.stats();
    assert_eq!(s.reordered, 24);
    assert_eq!((s.lost, s.late, s.concealed), (0, 0, 0));
}

/// Plays `packets` sent every 20 ms with packet `lost` missing; packet `lost + 1` arrives at
/// `next_at` ms. Returns the PCM of frame `lost` and the stats.
fn play_with_loss(packets: &[Vec<u8>], lost: usize, next_at: u64) -> (Vec<i16>, Stats) {
    let mut h = Harness::new();
    let mut frames = Vec::new();
    let mut late = None;
    for (n, p) in packets.iter().enumerate() {
        let at = 20 * n as u64;
        if let Some((t, m)) = late
            && t <= at
        {
            frames.extend(h.pop(t));
            h.push(t, m, &packets[usize::from(m)]);
            late = None;
        }
        if n == lost {
            continue;
        }
        if n == lost + 1 && next_at != at {
            late = Some((next_at, n as u16));
            continue;
        }
        frames.extend(h.pop(at));
        h.push(at, n as u16, p);
    }
    frames.extend(h.pop(20 * packets.len() as u64 + 40));
    assert_eq!(frames.len(), packets.len());
    assert_eq!(frames[lost].0, FrameKind::Concealed);
    (frames[lost].2.clone(), *h.jb.stats())
}

fn error_energy(a: &[i16], b: &[i16]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (f64::from(x) - f64::from(y)).powi(2))
        .sum()
}

#[test]
fn lost_packet_is_rebuilt_from_the_next_packets_fec() {
    let packets = encode(&speech(8000), true);
    let clean = reference(&packets);
    // Frame 15 is voiced: SILK codes FEC (LBRR) only for frames with speech activity.
    let lost = 15;
    let want = &clean[lost * 160..(lost + 1) * 160];

    // Packet 16 is held when frame 15 is due (at 60 + 300 ms): FEC.
    let (fec, s) = play_with_loss(&packets, lost, 20 * (lost as u64 + 1));
    assert_eq!((s.lost, s.fec_recovered, s.concealed), (1, 1, 1));
    assert_eq!(s.played, packets.len() as u64 - 1);

    // Packet 16 arrives just after frame 15 was due, in time for its own frame: Opus PLC.
    let (plc, s) = play_with_loss(&packets, lost, 60 + 20 * lost as u64 + 5);
    assert_eq!((s.lost, s.fec_recovered, s.concealed), (1, 0, 1));
    assert_eq!(s.played, packets.len() as u64 - 1);

    let (e_fec, e_plc) = (error_energy(&fec, want), error_energy(&plc, want));
    assert!(
        e_fec * 4.0 < e_plc,
        "FEC error {e_fec:.3e} should be well under PLC error {e_plc:.3e}"
    );
}

#[test]
fn lost_packet_without_fec_data_is_concealed() {
    // With FEC off in the encoder the next packet carries none: libopus conceals instead, and
    // the frame still carries audio rather than silence.
    let packets = encode(&speech(8000), false);
    let (pcm, s) = play_with_loss(&packets, 10, 220);
    assert_eq!((s.lost, s.fec_recovered, s.concealed), (1, 1, 1));
    assert!(pcm.iter().any(|&x| x.unsigned_abs() > 100));
}

/// Joins two code-0 packets with the same TOC configuration into one code-2 packet (two
/// frames of different sizes, RFC 6716 §3.2.4).
fn join(a: &[u8], b: &[u8]) -> Vec<u8> {
    assert_eq!(a[0] & 3, 0);
    assert_eq!(a[0], b[0], "same configuration");
    let len = a.len() - 1;
    assert!(len < 252);
    let mut p = vec![(a[0] & !3) | 2, len as u8];
    p.extend_from_slice(&a[1..]);
    p.extend_from_slice(&b[1..]);
    p
}

#[test]
fn forty_ms_packets_fill_two_frames() {
    let packets = encode(&speech(8000), false);
    let joined: Vec<Vec<u8>> = packets
        .chunks_exact(2)
        .map(|c| join(&c[0], &c[1]))
        .collect();
    let mut h = Harness::new();
    let mut frames = Vec::new();
    for (n, p) in joined.iter().enumerate() {
        let at = 40 * n as u64 + 40;
        let repr_ts = n as u32 * 2 * TICKS;
        assert_eq!(h.push_pt(at, PT, n as u16, repr_ts, p), Push::Accepted);
        frames.extend(h.pop(at));
    }
    // Playout starts 60 ms after the first packet (at 40 ms): frame 49 is due at 1080 ms.
    frames.extend(h.pop(1080));
    assert_eq!(frames.len(), 50);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!((f.0, f.1), (FrameKind::Audio, i as u32 * TICKS));
    }
    assert_eq!(pcm_of(&frames), reference(&joined));
    assert_eq!(h.jb.stats().played, 50);
}

#[test]
fn foreign_garbage_and_overlong_packets_are_invalid() {
    let packets = encode(&speech(1600), false);
    let mut h = Harness::new();
    assert_eq!(h.push_pt(0, 0, 0, 0, &packets[0]), Push::Invalid, "PCMU PT");
    assert_eq!(h.push_pt(0, 112, 0, 0, &packets[0]), Push::Invalid);
    assert_eq!(h.push(0, 0, &[]), Push::Invalid, "empty");
    // Code 3 with a frame count of 0 (RFC 6716 R5), and a 10 ms SILK packet (TOC config 0).
    assert_eq!(h.push(0, 0, &[0x03, 0x00]), Push::Invalid);
    assert_eq!(h.push(0, 0, &[0x00, 0x55, 0x55]), Push::Invalid, "10 ms");
    // Code 3, 48 frames of 20 ms: over 120 ms.
    assert_eq!(h.push(0, 0, &[0x4b, 48, 0, 0]), Push::Invalid);
    let mut long = packets[0].clone();
    long.resize(MAX_OPUS_PAYLOAD + 1, 0);
    assert_eq!(h.push(0, 0, &long), Push::Invalid, "over MAX_OPUS_PAYLOAD");
    assert_eq!(h.jb.stats().invalid, 7);
    assert!(h.jb.is_empty());
    assert!(h.pop(1000).is_empty());

    // A packet too long for the buffer's reach: 120 ms with max_delay 40 ms.
    let mut c = Config::default();
    c.min_delay(ms(20)).unwrap().target_delay(ms(40)).unwrap();
    c.max_delay(ms(40)).unwrap();
    let mut h = Harness::with(c);
    let six = [0x4b, 6, 0, 0, 0, 0, 0, 0];
    assert_eq!(h.push(0, 0, &six), Push::Invalid);
    assert_eq!(
        h.push(0, 0, &[0x4b, 3, 0, 0, 0]),
        Push::Accepted,
        "60 ms fits"
    );
}

#[test]
fn packet_that_fails_to_decode_is_concealed_and_counted() {
    let packets = encode(&speech(1600), false);
    let mut h = Harness::new();
    // A one-frame code-0 packet whose frame is over 1275 bytes: it parses, but cannot decode.
    let mut bad = packets[1].clone();
    bad.resize(1400, 0x5a);
    assert_eq!(h.push(0, 0, &packets[0]), Push::Accepted);
    assert_eq!(h.push(20, 1, &bad), Push::Accepted);
    assert_eq!(h.push(40, 2, &packets[2]), Push::Accepted);
    let kinds: Vec<FrameKind> = h.pop(1000).iter().map(|f| f.0).collect();
    assert_eq!(
        &kinds[..3],
        [FrameKind::Audio, FrameKind::Concealed, FrameKind::Audio]
    );
    let s = h.jb.stats();
    assert_eq!((s.invalid, s.played, s.lost), (1, 2, 0));
    // Its frame was concealed (and after the stream ended, the three frames of max_conceal).
    assert_eq!((s.concealed, s.underruns), (1 + 3, 3));
}

#[test]
fn jitter_is_reported_in_48_khz_units() {
    // The same arrivals through a G.711 buffer and an Opus buffer: the Opus estimate is six
    // times larger, its clock running at 48 kHz instead of 8.
    let packets = encode(&speech(8000), false);
    let mut opus = Harness::new();
    let mut g711 = JitterBuffer::new(Config::default());
    let ulaw = [0xffu8; 160];
    for (n, p) in packets.iter().enumerate() {
        let at = 20 * n as u64 + if n % 2 == 1 { 40 } else { 0 };
        opus.push(at, n as u16, p);
        let repr = rtp::Repr {
            marker: n == 0,
            payload_type: 0,
            sequence_number: SequenceNumber(n as u16),
            timestamp: Timestamp(n as u32 * 160),
            ssrc: Ssrc(7),
            csrcs: Csrcs::default(),
            extension: None,
            payload: &ulaw,
            padding: 0,
        };
        g711.push(opus.t0 + ms(at), &repr);
    }
    let (o, g) = (opus.jb.jitter(), g711.jitter());
    assert!(g > 200, "G.711 jitter {g}");
    assert!(o.abs_diff(6 * g) <= 6 * 2, "Opus {o} vs 6 × G.711 {g}");
    // It sets the next talkspurt's delay in time units, the same for both.
    opus.pop(5000);
    opus.push(5000, 60, &packets[0]);
    assert!(opus.jb.current_delay() > ms(60));
}

#[test]
fn payload_config_is_checked() {
    let opus = Payload::Opus { payload_type: 96 };
    let jb = JitterBuffer::with_payload(Config::default(), opus).unwrap();
    assert_eq!(jb.payload(), opus);
    let jb = JitterBuffer::with_payload(Config::default(), Payload::G711).unwrap();
    assert_eq!(jb.payload(), Payload::G711);
    assert_eq!(
        JitterBuffer::new(Config::default()).payload(),
        Payload::G711
    );
    let mut c = Config::default();
    c.frame(441, 22050).unwrap();
    assert!(matches!(
        JitterBuffer::with_payload(c, opus),
        Err(ConfigError::Opus {
            clock_rate: 22050,
            ..
        })
    ));
    let mut c = Config::default();
    c.frame(90, 8000).unwrap(); // 11.25 ms: not a multiple of 2.5 ms
    assert!(JitterBuffer::with_payload(c, opus).is_err());
    let mut c = Config::default();
    c.frame(320, 16000).unwrap(); // 20 ms wideband
    assert!(JitterBuffer::with_payload(c, opus).is_ok());
    assert!(
        JitterBuffer::with_payload(Config::default(), Payload::Opus { payload_type: 128 }).is_err()
    );
}

proptest! {
    /// Arbitrary pushes (real packets, arbitrary bytes, other payload types, wild timestamps)
    /// and pops: no panic, never more than `max_packets` frames held, every packet and frame
    /// accounted for.
    #[test]
    fn arbitrary_opus_streams_keep_invariants(
        ops in proptest::collection::vec(
            (
                0u16..60,
                any::<bool>(),
                0u64..45,
                proptest::option::weighted(0.05, any::<u32>()),
                proptest::option::weighted(0.4, proptest::collection::vec(any::<u8>(), 0..300)),
                prop_oneof![8 => Just(PT), 1 => Just(0u8), 1 => any::<u8>()],
            ),
            1..200,
        )
    ) {
        let packets = encode(&speech(1600), true);
        let mut h = Harness::new();
        let mut t = 0;
        let (mut accepted, mut refused) = (0u64, 0u64);
        let mut frames = 0u64;
        for (n, marker, dt, wild_ts, bytes, pt) in ops {
            t += dt;
            let ts = wild_ts.unwrap_or((u32::MAX - 5000).wrapping_add(TICKS * u32::from(n)));
            let payload = bytes.unwrap_or_else(|| packets[usize::from(n) % packets.len()].clone());
            let seq = 65_500u16.wrapping_add(n);
            let repr = rtp::Repr {
                marker,
                payload_type: pt & 0x7f,
                sequence_number: SequenceNumber(seq),
                timestamp: Timestamp(ts),
                ssrc: Ssrc(7),
                csrcs: Csrcs::default(),
                extension: None,
                payload: &payload,
                padding: 0,
            };
            match h.jb.push(h.t0 + ms(t), &repr) {
                Push::Accepted => accepted += 1,
                Push::Invalid => refused += 1,
                _ => {}
            }
            prop_assert!(h.jb.len() <= 50);
            frames += h.pop(t).len() as u64;
        }
        let s = *h.jb.stats();
        prop_assert_eq!(s.received, accepted + s.duplicates + s.late + refused);
        prop_assert!(s.invalid >= refused);
        prop_assert_eq!(frames, s.played + s.concealed);
        // Frames of packets that failed to decode are concealed without being lost.
        prop_assert!(s.concealed >= s.lost + s.underruns + (s.invalid - refused));
        prop_assert!(s.fec_recovered <= s.lost);
    }
}

#[test]
fn an_ssrc_change_forgets_the_old_streams_frames() {
    // The old sender's packets 0..4 are held (playout is due at 60 ms) when a new sender
    // starts on the same timestamps and loses its packet 1: the old stream's frame at 960 must
    // not stand in for it.
    let old = encode(&speech(800), false);
    let new = encode(&speech(1600)[800..], false);
    let mut h = Harness::new();
    for (n, p) in old.iter().enumerate().take(4) {
        assert_eq!(h.push(0, n as u16, p), Push::Accepted);
    }
    assert_eq!(h.jb.len(), 4);
    let s8 = Ssrc(8);
    assert_eq!(h.push_from(10, s8, PT, 0, 0, &new[0]), Push::Accepted);
    assert_eq!(h.jb.len(), 1, "only the new stream's frame is held");
    assert_eq!(
        h.push_from(10, s8, PT, 2, 2 * TICKS, &new[2]),
        Push::Accepted
    );
    assert_eq!(h.jb.len(), 2);
    let frames = h.pop(200);
    let kinds: Vec<(FrameKind, u32)> = frames.iter().map(|f| (f.0, f.1)).collect();
    assert_eq!(
        &kinds[..3],
        [
            (FrameKind::Audio, 0),
            (FrameKind::Concealed, TICKS),
            (FrameKind::Audio, 2 * TICKS)
        ]
    );
    let s = h.jb.stats();
    assert_eq!((s.ssrc_changes, s.lost, s.played), (1, 1, 2));
}

#[test]
fn a_timestamp_jump_forgets_the_frames_held() {
    let packets = encode(&speech(1600), false);
    let mut h = Harness::new();
    for (n, p) in packets.iter().enumerate().take(4) {
        assert_eq!(h.push(0, n as u16, p), Push::Accepted);
    }
    // Same SSRC, timestamp 10 s ahead: the held frames can never play.
    let far = 480_000;
    assert_eq!(h.push_pt(10, PT, 4, far, &packets[4]), Push::Accepted);
    assert_eq!(h.jb.len(), 1);
    assert_eq!(h.jb.stats().timestamp_jumps, 1);
    let frames = h.pop(200);
    assert_eq!((frames[0].0, frames[0].1), (FrameKind::Audio, far));
}

#[test]
fn the_payload_bound_is_three_longest_frames_and_their_framing() {
    // RFC 6716 §3.2.5: 1275-byte frames, and code 3 framing of at most 7 bytes here.
    assert_eq!(MAX_OPUS_PAYLOAD, 3 * 1275 + 7);
    // The bound is what `push` checks: a packet (code 0, SILK NB 20 ms) of exactly that many
    // bytes parses and is held (it fails only at decoding), one byte more is refused.
    let mut h = Harness::new();
    let mut p = vec![0u8; 3832];
    p[0] = 1 << 3;
    assert_eq!(h.push(0, 0, &p), Push::Accepted);
    p.push(0);
    assert_eq!(h.push(20, 1, &p), Push::Invalid);
    assert_eq!(h.jb.stats().invalid, 1);
}

#[test]
fn debug_names_the_opus_payload_type() {
    let h = Harness::new();
    let dbg = format!("{:?}", h.jb);
    assert!(dbg.contains("OpusPlay { payload_type: 111"), "{dbg}");
}

#[test]
fn a_timestamp_jump_backwards_resynchronises() {
    // A sender restarting its clock 10 s back while frames are still held: a jump (RFC 3550
    // §5.1 lets the timestamp start anywhere), not a run of late packets.
    let packets = encode(&speech(1600), false);
    let base = 1_000_000;
    let mut h = Harness::new();
    for (n, p) in packets.iter().enumerate().take(5) {
        h.pop(20 * n as u64);
        let ts = base + n as u32 * TICKS;
        assert_eq!(
            h.push_pt(20 * n as u64, PT, n as u16, ts, p),
            Push::Accepted
        );
    }
    assert!(!h.jb.is_empty());
    let back = base - 480_000;
    for n in 5..8u16 {
        let ts = back + u32::from(n - 5) * TICKS;
        let p = &packets[usize::from(n)];
        assert_eq!(h.push_pt(100, PT, n, ts, p), Push::Accepted, "packet {n}");
    }
    let s = h.jb.stats();
    assert_eq!((s.timestamp_jumps, s.late), (1, 0));
    let frames = h.pop(400);
    assert_eq!(frames[0].1, back);
    assert_eq!(frames.iter().filter(|f| f.0 == FrameKind::Audio).count(), 3);
}

#[test]
fn opus_concealment_continues_the_voice() {
    // The talker stops sending (nothing held): libopus' PLC extrapolates the last frames
    // rather than leaving silence or repeating the last frame as it was.
    let packets = encode(&speech(8000), false);
    let mut h = Harness::new();
    let mut frames = Vec::new();
    for (n, p) in packets.iter().enumerate().take(16) {
        frames.extend(h.pop(20 * n as u64));
        h.push(20 * n as u64, n as u16, p);
    }
    frames.extend(h.pop(20 * 16 + 60));
    assert_eq!(frames.len(), 17);
    let (last, plc) = (&frames[15], &frames[16]);
    assert_eq!((last.0, plc.0), (FrameKind::Audio, FrameKind::Concealed));
    assert!(plc.2.iter().any(|&x| x.unsigned_abs() > 300), "not silence");
    assert_ne!(plc.2, last.2, "not the last frame again");
    assert_eq!(h.jb.stats().underruns, 1);
}

/// A G.711 packet of `payload` (PT 0), number `n` of a 20 ms stream.
fn g711_repr(n: u16, payload: &[u8]) -> rtp::Repr<'_> {
    rtp::Repr {
        marker: n == 0,
        payload_type: 0,
        sequence_number: SequenceNumber(n),
        timestamp: Timestamp(u32::from(n) * 160),
        ssrc: Ssrc(7),
        csrcs: Csrcs::default(),
        extension: None,
        payload,
        padding: 0,
    }
}

#[test]
fn g711_payloads_must_be_whole_frames() {
    // push's payload check, G.711 side: empty, or one frame and a part, is invalid.
    let mut jb = JitterBuffer::new(Config::default());
    let t = origin();
    assert_eq!(jb.push(t, &g711_repr(0, &[])), Push::Invalid);
    assert_eq!(jb.push(t, &g711_repr(0, &[0xff; 200])), Push::Invalid);
    assert_eq!(jb.push(t, &g711_repr(0, &[0xff; 100])), Push::Invalid);
    assert_eq!(jb.stats().invalid, 3);
    assert!(jb.is_empty());
    // Two frames in one packet: each keeps its own codes.
    let mut two = [0xffu8; 320];
    two[160..].fill(0x80);
    assert_eq!(jb.push(t, &g711_repr(0, &two)), Push::Accepted);
    assert_eq!(jb.len(), 2);
    let due = t + ms(60);
    let first = jb.pop(due).map(|f| (f.kind, f.pcm.to_vec()));
    assert_eq!(first, Some((FrameKind::Audio, vec![0; 160])));
    let second = jb
        .pop(due + ms(20))
        .map(|f| (f.kind, f.timestamp, f.pcm.to_vec()));
    let loud = Law::Ulaw.decode_sample(0x80);
    assert_eq!(
        second,
        Some((FrameKind::Audio, Timestamp(160), vec![loud; 160]))
    );
}

#[test]
fn frames_beyond_max_delay_push_out_exactly_the_oldest() {
    // Default max_delay 200 ms: ten 20 ms frames ahead of the head may wait.
    let packets = encode(&speech(2400), false);
    let mut h = Harness::new();
    for (n, p) in packets.iter().enumerate().take(11) {
        assert_eq!(h.push(0, n as u16, p), Push::Accepted);
    }
    assert_eq!(
        (h.jb.stats().overflow, h.jb.len()),
        (0, 11),
        "frame 10 at the edge"
    );
    // Frame 11 is one over: frame 0 alone goes, and playout moves on to frame 1.
    assert_eq!(h.push(0, 11, &packets[11]), Push::Accepted);
    assert_eq!((h.jb.stats().overflow, h.jb.len()), (1, 11));
    // Frames 12 and 13 at once: two more go.
    let both = join(&packets[12], &packets[13]);
    assert_eq!(h.push_pt(0, PT, 12, 12 * TICKS, &both), Push::Accepted);
    assert_eq!((h.jb.stats().overflow, h.jb.len()), (3, 11));
    let frames = h.pop(60 + 20 * 10);
    assert_eq!(frames.len(), 11);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!((f.0, f.1), (FrameKind::Audio, (i as u32 + 3) * TICKS));
    }
    assert_eq!(pcm_of(&frames).len(), 11 * 160);
}

#[test]
fn forty_ms_packets_across_the_rings_end_and_cut_by_max_delay() {
    // A 13-slot ring (an odd count, just over max_delay's 10 frames plus two): two-frame
    // packets straddle its end.
    let mut c = Config::default();
    c.max_packets(13).unwrap();
    let packets = encode(&speech(8000), false);
    let joined: Vec<Vec<u8>> = packets
        .chunks_exact(2)
        .map(|c| join(&c[0], &c[1]))
        .collect();
    let mut h = Harness::with(c.clone());
    let mut frames = Vec::new();
    for (n, p) in joined.iter().enumerate() {
        let at = 40 * n as u64;
        assert_eq!(
            h.push_pt(at, PT, n as u16, n as u32 * 2 * TICKS, p),
            Push::Accepted
        );
        frames.extend(h.pop(at));
    }
    // Playout starts at 60 ms: frame 49 is due at 1040 ms.
    frames.extend(h.pop(1040));
    assert_eq!(frames.len(), 50);
    assert!(frames.iter().all(|f| f.0 == FrameKind::Audio));
    assert_eq!(pcm_of(&frames), reference(&joined));

    // Six packets at once reach 40 ms past max_delay: the first packet's first frame goes,
    // and its second frame still plays, decoded from the bytes kept with the first.
    let mut h = Harness::with(c);
    for (n, p) in joined.iter().enumerate().take(6) {
        let ts = n as u32 * 2 * TICKS;
        assert_eq!(h.push_pt(0, PT, n as u16, ts, p), Push::Accepted);
    }
    assert_eq!(h.jb.stats().overflow, 1);
    let frames = h.pop(60 + 20 * 10);
    assert_eq!(frames.len(), 11);
    for (i, f) in frames.iter().enumerate() {
        assert_eq!((f.0, f.1), (FrameKind::Audio, (i as u32 + 1) * TICKS));
    }
}

#[test]
fn a_frame_lost_where_the_timestamp_wraps_to_zero_is_lost() {
    // RFC 3550 §5.1: the timestamp starts anywhere and wraps. The frame at 0 is missing.
    let packets = encode(&speech(1600), false);
    let start = 0u32.wrapping_sub(2 * TICKS);
    let mut h = Harness::new();
    for n in [0u16, 1, 3, 4] {
        let ts = start.wrapping_add(u32::from(n) * TICKS);
        let p = &packets[usize::from(n)];
        assert_eq!(h.push_pt(0, PT, n, ts, p), Push::Accepted);
    }
    assert_eq!(h.jb.len(), 4);
    let frames = h.pop(140);
    let kinds: Vec<(FrameKind, u32)> = frames.iter().map(|f| (f.0, f.1)).collect();
    assert_eq!(
        kinds,
        [
            (FrameKind::Audio, start),
            (FrameKind::Audio, start.wrapping_add(TICKS)),
            (FrameKind::Concealed, 0),
            (FrameKind::Audio, TICKS),
            (FrameKind::Audio, 2 * TICKS),
        ]
    );
    let s = h.jb.stats();
    assert_eq!((s.lost, s.played, s.concealed), (1, 4, 1));
    assert!(h.jb.is_empty());
}
