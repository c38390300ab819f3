//! Opus calls (RFC 7587): received audio recorded as 8 kHz PCM, messages and live buffers
//! played as 20 ms Opus packets on the 48 kHz RTP clock, payload types checked, RTCP on the
//! 48 kHz clock, and a codec change in the middle of a call.

use codecs::opus::{Decoder, Encoder, EncoderConfig, SampleRate};

use super::*;

const PT: u8 = 111;

fn opus_media() -> Media {
    Media {
        codec: Codec::Opus { payload_type: PT },
        ..media()
    }
}

/// `frames` × 20 ms of a voice-like signal: two partials whose loudness swings, 8 kHz.
fn source(frames: usize) -> Vec<i16> {
    (0..frames * 160)
        .map(|i| {
            let t = i as f64 / 8000.0;
            let env = 0.55 + 0.45 * (t * std::f64::consts::TAU * 3.0).sin();
            let s = (t * std::f64::consts::TAU * 310.0).sin()
                + 0.6 * (t * std::f64::consts::TAU * 1170.0).sin();
            (s * env * 6000.0) as i16
        })
        .collect()
}

/// The Opus packets a phone would send for `pcm` (8 kHz, 20 ms frames).
fn phone_packets(pcm: &[i16]) -> Vec<Vec<u8>> {
    let mut enc = Encoder::new(EncoderConfig {
        inband_fec: true,
        packet_loss_pct: 10,
        ..EncoderConfig::default()
    })
    .unwrap();
    let mut out = vec![0; codecs::opus::MAX_PACKET_LEN];
    pcm.chunks(160)
        .map(|f| {
            let n = enc.encode(f, &mut out).unwrap();
            out[..n].to_vec()
        })
        .collect()
}

/// Packet `n` of an Opus stream: timestamps step 960 (20 ms at 48 kHz).
fn opus_rtp(n: u16, payload: &[u8]) -> Vec<u8> {
    rtp_from(
        Ssrc(0x1234),
        1000u16.wrapping_add(n),
        7000 + u32::from(n) * 960,
        PT,
        n == 0,
        payload,
    )
}

/// The best normalised correlation of `b` against `a` over lags 0..=`max_lag` of `b`.
fn correlation(a: &[i16], b: &[i16], max_lag: usize) -> (f64, usize) {
    (0..=max_lag)
        .map(|lag| {
            let pairs = a.iter().zip(b.iter().skip(lag));
            let (mut ab, mut aa, mut bb) = (0f64, 0f64, 0f64);
            for (&x, &y) in pairs {
                let (x, y) = (f64::from(x), f64::from(y));
                ab += x * y;
                aa += x * x;
                bb += y * y;
            }
            (ab / (aa * bb).sqrt().max(1.0), lag)
        })
        .fold((f64::MIN, 0), |best, c| if c.0 > best.0 { c } else { best })
}

/// A message of PCM, for `next_pcm` (an Opus call never asks for G.711 codes).
struct Pcm(Vec<i16>, usize);

impl FrameSource for Pcm {
    fn next_frame(&mut self, _: &mut [u8]) -> Result<bool, SourceError> {
        panic!("an Opus call asked for G.711 codes")
    }

    fn next_pcm(&mut self, out: &mut [i16]) -> Result<bool, SourceError> {
        if self.1 >= self.0.len() {
            return Ok(false);
        }
        let end = (self.1 + out.len()).min(self.0.len());
        out[..end - self.1].copy_from_slice(&self.0[self.1..end]);
        out[end - self.1..].fill(0);
        self.1 = end;
        Ok(true)
    }
}

/// Decodes the Opus packets sent, checking the RTP headers of a 20 ms, 48 kHz stream.
fn decode_sent(h: &Harness) -> Vec<i16> {
    let packets: Vec<_> = h.sent.iter().filter(|t| !t.rtcp).map(parse_sent).collect();
    let mut dec = Decoder::new(SampleRate::Hz8000).unwrap();
    let mut pcm = Vec::new();
    let mut out = vec![0; 960];
    for (i, (marker, seq, ts, pt, payload)) in packets.iter().enumerate() {
        assert_eq!(*pt, PT);
        assert_eq!(*marker, i == 0);
        assert_eq!(*seq, packets[0].1.wrapping_add(i as u16));
        assert_eq!(
            *ts,
            packets[0].2.wrapping_add(960 * i as u32),
            "48 kHz clock"
        );
        let n = dec.decode(payload, &mut out).unwrap();
        assert_eq!(n, 160, "20 ms packets");
        pcm.extend_from_slice(&out[..n]);
    }
    pcm
}

#[test]
fn opus_received_is_recorded_as_pcm_close_to_what_the_phone_said() {
    let mut h = Harness::with(opus_media(), &Config::default());
    h.capture(None, Duration::from_secs(60), None);
    let said = source(50);
    for (n, p) in phone_packets(&said).iter().enumerate() {
        h.recv(n as u64 * 20, &opus_rtp(n as u16, p));
    }
    let f = h.stop(1000);
    assert_eq!(f.duration, Duration::from_secs(1));
    let got = h.sink.samples();
    assert_eq!(got.len(), 50 * 160, "one 20 ms frame per packet, at 8 kHz");
    let (corr, lag) = correlation(&said, &got, 80);
    assert!(corr > 0.9, "correlation {corr:.3} at lag {lag}");
    let s = h.s.stats();
    assert_eq!(s.audio_packets, 50);
    assert_eq!(
        (s.wrong_payload_type, s.concealed_frames, s.invalid),
        (0, 0, 0)
    );
}

#[test]
fn a_lost_opus_packet_leaves_the_recording_whole() {
    let mut h = Harness::with(opus_media(), &Config::default());
    h.capture(None, Duration::from_secs(60), None);
    let said = source(30);
    for (n, p) in phone_packets(&said).iter().enumerate() {
        if n != 12 {
            h.recv(n as u64 * 20, &opus_rtp(n as u16, p));
        }
    }
    h.stop(1000);
    let got = h.sink.samples();
    assert_eq!(
        got.len(),
        30 * 160,
        "the lost frame recovered or concealed in place"
    );
    let s = h.s.stats();
    assert_eq!(
        (s.lost_frames, s.fec_recovered),
        (1, 1),
        "rebuilt from packet 13's FEC"
    );
    let (corr, lag) = correlation(&said, &got, 80);
    assert!(corr > 0.8, "correlation {corr:.3} at lag {lag}");
}

#[test]
fn other_payload_types_are_dropped_and_counted_on_an_opus_call() {
    let mut h = Harness::with(opus_media(), &Config::default());
    h.capture(None, Duration::from_secs(60), None);
    // PCMU, and Opus on a payload type that was not negotiated.
    h.recv(0, &audio(0));
    let packet = phone_packets(&source(1)).remove(0);
    h.recv(
        20,
        &rtp_from(Ssrc(0x1234), 1001, 7960, PT + 1, false, &packet),
    );
    h.stop(500);
    assert!(h.sink.samples().is_empty());
    let s = h.s.stats();
    assert_eq!((s.wrong_payload_type, s.audio_packets), (2, 0));
    // The other way round: Opus on a G.711 call.
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    h.recv(0, &opus_rtp(0, &packet));
    assert_eq!(h.s.stats().wrong_payload_type, 1);
}

#[test]
fn a_message_plays_as_opus_packets_that_decode_to_it() {
    let mut h = Harness::with(opus_media(), &Config::default());
    let message = source(40);
    h.s.handle_play_message(h.at(0), Box::new(Pcm(message.clone(), 0)));
    h.run_until(2000);
    assert!(
        matches!(h.events.last(), Some(MediaEvent::PlayDone { .. })),
        "{:?}",
        h.events
    );
    let heard = decode_sent(&h);
    assert_eq!(heard.len(), 40 * 160);
    let (corr, lag) = correlation(&message, &heard, 80);
    assert!(corr > 0.9, "correlation {corr:.3} at lag {lag}");
    let s = h.s.stats();
    assert_eq!(s.rtp_sent, 40);
    // Paced 20 ms apart whatever the ptime.
    assert!(
        h.sent
            .iter()
            .filter(|t| !t.rtcp)
            .all(|t| t.destination == media().address)
    );
}

#[test]
fn live_buffers_play_as_opus() {
    let mut h = Harness::with(
        Media {
            ptime: Duration::from_millis(30),
            ..opus_media()
        },
        &Config::default(),
    );
    let said = source(25);
    // All of it queued at once: no catching up here.
    let mut config = Config::default();
    config
        .live_catchup(Duration::from_secs(10), 4)
        .unwrap()
        .live_queue_max(Duration::from_secs(20))
        .unwrap();
    let mut q = LiveQueue::new(&config);
    q.push(&said);
    q.end();
    h.s.handle_play_live(h.at(0), StreamId(3), q);
    h.run_until(1000);
    let heard = decode_sent(&h);
    assert_eq!(
        heard.len(),
        25 * 160,
        "20 ms Opus frames even with a 30 ms ptime"
    );
    let (corr, lag) = correlation(&said, &heard, 80);
    assert!(corr > 0.9, "correlation {corr:.3} at lag {lag}");
}

#[test]
fn sender_reports_and_jitter_use_the_48_khz_clock() {
    let mut h = Harness::with(opus_media(), &Config::default());
    let packets = phone_packets(&source(200));
    // Paced exactly 20 ms apart: no jitter on a 48 kHz clock (on an 8 kHz one, each packet
    // would look 100 ms early).
    for (n, p) in packets.iter().enumerate() {
        h.recv(n as u64 * 20, &opus_rtp(n as u16, p));
    }
    h.s.handle_play_message(h.at(4000), Box::new(Pcm(source(500), 0)));
    h.run_until(9000);
    let first_ts = h
        .sent
        .iter()
        .find(|t| !t.rtcp)
        .map(|t| parse_sent(t).2)
        .unwrap();
    let sr = h
        .sent
        .iter()
        .rev()
        .filter(|t| t.rtcp)
        .find_map(|t| match &rtcp::parse_compound(&t.payload).unwrap()[0] {
            rtcp::Repr::SenderReport { info, reports, .. } => Some((*info, reports[0])),
            _ => None,
        })
        .expect("a sender report while playing");
    assert!(sr.0.packet_count > 50);
    assert_eq!(
        sr.0.rtp_time.wrapping_sub(first_ts),
        sr.0.packet_count * 960,
        "48 kHz ticks"
    );
    assert_eq!(sr.1.jitter, 0, "{:?}", sr.1);
}

#[test]
fn a_change_from_g711_to_opus_keeps_recording_and_the_counters() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    for n in 0..5u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    h.recv(100, &audio(3));
    assert_eq!(h.s.stats().duplicates, 1);
    h.s.handle_remote(h.at(100), opus_media());
    let said = source(10);
    for (n, p) in phone_packets(&said).iter().enumerate() {
        h.recv(120 + n as u64 * 20, &opus_rtp(n as u16, p));
    }
    h.stop(1000);
    let got = h.sink.samples();
    assert_eq!(&got[..5 * 160], &expected(0..5)[..]);
    assert_eq!(got.len(), 15 * 160);
    let s = h.s.stats();
    assert_eq!((s.duplicates, s.audio_packets, s.wrong_ssrc), (1, 16, 0));
}

#[test]
fn intercom_from_an_opus_phone_to_a_g711_one_is_live_pcm_between_them() {
    // The Opus phone talks: its audio comes out as live buffers of 8 kHz PCM...
    let mut opus = Harness::with(opus_media(), &Config::default());
    opus.capture(None, Duration::from_secs(60), Some(800));
    let said = source(20);
    for (n, p) in phone_packets(&said).iter().enumerate() {
        opus.recv(n as u64 * 20, &opus_rtp(n as u16, p));
    }
    opus.stop(600);
    let buffers: Vec<Vec<i16>> = opus
        .events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Buffer { pcm, .. } => Some(pcm.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(buffers.len(), 4, "20 × 160 samples in buffers of 800");
    // ...which a G.711 phone's stream plays as µ-law, unchanged but for the law's rounding.
    let mut g711 = Harness::new();
    let mut config = Config::default();
    config.live_catchup(Duration::from_secs(10), 4).unwrap();
    let mut q = LiveQueue::new(&config);
    for b in &buffers {
        q.push(b);
    }
    q.end();
    g711.s.handle_play_live(g711.at(0), StreamId(5), q);
    g711.run_until(1000);
    let played: Vec<i16> = g711
        .sent
        .iter()
        .filter(|t| !t.rtcp)
        .flat_map(|t| parse_sent(t).4)
        .map(|c| Law::Ulaw.decode_sample(c))
        .collect();
    let pcm: Vec<i16> = buffers.concat();
    assert_eq!(played.len(), pcm.len());
    for (p, s) in played.iter().zip(&pcm) {
        assert_eq!(*p, Law::Ulaw.decode_sample(Law::Ulaw.encode_sample(*s)));
    }
    let (corr, lag) = correlation(&said, &pcm, 80);
    assert!(corr > 0.9, "correlation {corr:.3} at lag {lag}");
}

/// The jitter buffer's counters as the stream reports them.
fn jitter_counters(s: &Stats) -> [u64; 6] {
    [
        s.duplicates,
        s.late,
        s.invalid,
        s.reordered,
        s.lost_frames,
        s.fec_recovered,
    ]
}

#[test]
fn a_codec_change_keeps_every_jitter_counter() {
    let mut h = Harness::with(opus_media(), &Config::default());
    h.capture(None, Duration::from_secs(60), None);
    let packets = phone_packets(&source(13));
    let send = |h: &mut Harness, at: u64, n: usize| h.recv(at, &opus_rtp(n as u16, &packets[n]));
    for n in 0..3 {
        send(&mut h, n as u64 * 20, n);
    }
    // 3 lost (rebuilt from 4's FEC); 6 overtakes 5; 7 twice; a 10 ms packet (not whole
    // frames); 9 after its playout time (rebuilt from 10's FEC first).
    send(&mut h, 80, 4);
    send(&mut h, 120, 6);
    send(&mut h, 125, 5);
    send(&mut h, 140, 7);
    send(&mut h, 145, 7);
    send(&mut h, 160, 8);
    h.recv(165, &opus_rtp(8, &[0x00, 0x55, 0x55]));
    for n in 10..13 {
        send(&mut h, n as u64 * 20, n);
    }
    // Frame 9 is due at 200 + 9 × 20 ms (the stream's 200 ms target delay).
    send(&mut h, 400, 9);
    h.run_until(1000);
    let before = jitter_counters(&h.s.stats());
    // 5 and 9 both came after a higher sequence number: reordered twice.
    assert_eq!(before, [1, 1, 1, 2, 2, 2]);
    // Opus to G.711 and back: the replaced buffers' counts stay in the stream's.
    h.s.handle_remote(h.at(1000), media());
    assert_eq!(jitter_counters(&h.s.stats()), before);
    h.s.handle_remote(h.at(1000), opus_media());
    assert_eq!(jitter_counters(&h.s.stats()), before);
}

#[test]
fn opus_frames_are_recorded_as_soon_as_their_packet_is_in() {
    let mut h = Harness::with(opus_media(), &Config::default());
    h.capture(None, Duration::from_secs(60), None);
    for (n, p) in phone_packets(&source(20)).iter().enumerate() {
        h.recv(n as u64 * 20, &opus_rtp(n as u16, p));
        assert_eq!(h.sink.samples().len(), (n + 1) * 160, "packet {n}");
    }
}

/// A message store that has only G.711 (the trait's default `next_pcm`).
struct CodesOnly;

impl FrameSource for CodesOnly {
    fn next_frame(&mut self, out: &mut [u8]) -> Result<bool, SourceError> {
        out.fill(0xff);
        Ok(true)
    }
}

#[test]
fn a_g711_only_message_fails_on_an_opus_call() {
    let mut h = Harness::with(opus_media(), &Config::default());
    h.s.handle_play_message(h.at(0), Box::new(CodesOnly));
    h.run_until(200);
    let failed: Vec<&str> = h
        .events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Failed { reason, .. } => Some(reason.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(failed.len(), 1, "{:?}", h.events);
    assert!(failed[0].contains("G.711 only"), "{}", failed[0]);
    assert!(h.sent.iter().all(|t| t.rtcp), "nothing played");
}

#[test]
fn fec_recovered_is_summed_and_listed_for_metrics() {
    let mut total = Stats {
        lost_frames: 4,
        fec_recovered: 2,
        ..Stats::default()
    };
    total += Stats {
        lost_frames: 1,
        fec_recovered: 3,
        ..Stats::default()
    };
    assert_eq!((total.lost_frames, total.fec_recovered), (5, 5));
    let counters: Vec<(&str, u64)> = total.counters().collect();
    assert!(counters.contains(&("fec_recovered", 5)), "{counters:?}");
    assert!(counters.contains(&("lost_frames", 5)), "{counters:?}");
}

#[test]
fn an_opus_pause_is_recorded_as_silence_counted_in_8_khz_samples() {
    // A phone stops sending for 2 s (Opus DTX, or silence suppression): its clock runs on
    // 96,000 ticks at 48 kHz, which are 16,000 samples of silence in the 8 kHz recording.
    let mut h = Harness::with(opus_media(), &Config::default());
    h.capture(None, Duration::from_secs(60), None);
    let packets = phone_packets(&source(8));
    for n in 0..5u16 {
        h.recv(u64::from(n) * 20, &opus_rtp(n, &packets[usize::from(n)]));
    }
    let base = 7000 + 5 * 960 + 96_000;
    for k in 0..3u16 {
        let ts = base + u32::from(k) * 960;
        let p = &packets[5 + usize::from(k)];
        h.recv(
            2100 + u64::from(k) * 20,
            &rtp_from(Ssrc(0x1234), 1005 + k, ts, PT, k == 0, p),
        );
        let tail = &h.sink.samples()[5 * 160 + 16_000..];
        assert_eq!(tail.len(), (usize::from(k) + 1) * 160, "frame {k} at once");
    }
    let got = h.sink.samples();
    assert!(got[800..800 + 16_000].iter().all(|&s| s == 0));
    assert_eq!(h.s.stats().gap_samples, 16_000);
}
