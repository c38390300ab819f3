use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use codecs::g711::Law;
use codecs::rtcp;
use codecs::rtp::Csrcs;
use gateway_control::model::Codec;

use super::*;
use crate::media::SourceError;

const GATEWAY: &str = "127.0.0.1:4000";

#[derive(Clone, Default)]
struct Shared(Arc<Mutex<(Vec<i16>, bool)>>);

impl CaptureSink for Shared {
    fn write(&mut self, pcm: &[i16]) -> std::io::Result<()> {
        self.0.lock().unwrap().0.extend_from_slice(pcm);
        Ok(())
    }
    fn finish(self: Box<Self>) -> std::io::Result<std::path::PathBuf> {
        self.0.lock().unwrap().1 = true;
        Ok("rec.wav".into())
    }
}

impl Shared {
    fn samples(&self) -> Vec<i16> {
        self.0.lock().unwrap().0.clone()
    }
}

struct Harness {
    t0: Instant,
    s: Stream,
    sink: Shared,
    events: Vec<MediaEvent>,
    sent: Vec<Transmit>,
}

fn media() -> Media {
    Media {
        address: GATEWAY.parse().unwrap(),
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        telephone_event: Some(101),
    }
}

/// 160 µ-law codes of a ramp tagged by the packet number, so every sample is known.
fn frame_pcm(n: u16) -> Vec<i16> {
    (0..160)
        .map(|i| {
            Law::Ulaw
                .decode_sample(Law::Ulaw.encode_sample((i as i16 - 80) * 64 + (n % 256) as i16 * 8))
        })
        .collect()
}

fn rtp(n: u16, pt: u8, marker: bool, payload: &[u8]) -> Vec<u8> {
    rtp_from(
        Ssrc(0x1234),
        1000u16.wrapping_add(n),
        5000 + u32::from(n) * 160,
        pt,
        marker,
        payload,
    )
}

/// An RTP packet with every header field given.
fn rtp_from(ssrc: Ssrc, seq: u16, ts: u32, pt: u8, marker: bool, payload: &[u8]) -> Vec<u8> {
    let repr = rtp::Repr {
        marker,
        payload_type: pt,
        sequence_number: SequenceNumber(seq),
        timestamp: Timestamp(ts),
        ssrc,
        csrcs: Csrcs::default(),
        extension: None,
        payload,
        padding: 0,
    };
    let mut b = vec![0; repr.buffer_len()];
    repr.emit(&mut b).unwrap();
    b
}

fn audio(n: u16) -> Vec<u8> {
    let mut codes = [0u8; 160];
    Law::Ulaw.encode(&frame_pcm(n), &mut codes).unwrap();
    rtp(n, 0, n == 0, &codes)
}

impl Harness {
    fn new() -> Self {
        Self::with(media(), &Config::default())
    }

    /// A stream of call 7 on port 20000 whose remote is `media`, at wall-clock time 1.7e9 s.
    fn with(media: Media, config: &Config) -> Self {
        let t0 = Instant::now_for_tests();
        let mut s = Stream::new(
            t0,
            Duration::from_secs(1_700_000_000),
            CallId(7),
            LineId::new(gateway_control::model::GatewayId::new("gw"), "aaln/1"),
            20_000,
            config,
        );
        s.handle_remote(t0, media);
        Self {
            t0,
            s,
            sink: Shared::default(),
            events: Vec::new(),
            sent: Vec::new(),
        }
    }

    fn at(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    fn drain(&mut self) {
        while let Some(t) = self.s.poll_transmit() {
            self.sent.push(t);
        }
        while let Some(e) = self.s.poll_event() {
            self.events.push(e);
        }
    }

    fn capture(&mut self, silence: Option<Duration>, max: Duration, live: Option<usize>) {
        self.s
            .handle_start_capture(self.t0, Box::new(self.sink.clone()), silence, max, live);
    }

    /// Delivers packet `n` at `ms`, running due timeouts first, as a driver would.
    fn recv(&mut self, ms: u64, datagram: &[u8]) {
        self.run_until(ms);
        self.s
            .handle_datagram(self.at(ms), GATEWAY.parse().unwrap(), datagram);
        self.drain();
    }

    fn run_until(&mut self, ms: u64) {
        let end = self.at(ms);
        while let Some(t) = self.s.poll_timeout().filter(|&t| t <= end) {
            self.s.handle_timeout(t);
            self.drain();
        }
    }

    fn stop(&mut self, ms: u64) -> Finished {
        self.run_until(ms);
        self.s.handle_stop_capture(self.at(ms));
        self.drain();
        self.s.poll_finished().expect("a finished capture")
    }
}

trait NowForTests {
    fn now_for_tests() -> Self;
}

impl NowForTests for Instant {
    #[allow(clippy::disallowed_methods)] // an arbitrary origin; tests only add offsets to it
    fn now_for_tests() -> Self {
        Self::now()
    }
}

fn expected(frames: impl IntoIterator<Item = u16>) -> Vec<i16> {
    frames.into_iter().flat_map(frame_pcm).collect()
}

#[test]
fn in_order_audio_is_recorded_exactly_and_at_once() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), Some(160));
    for n in 0..100u16 {
        h.recv(u64::from(n) * 20, &audio(n));
        // The frame is out as soon as its packet is in, not after the jitter delay.
        assert_eq!(h.sink.samples().len(), (usize::from(n) + 1) * 160);
    }
    let f = h.stop(3000);
    assert_eq!(f.duration, Duration::from_secs(2));
    assert_eq!(h.sink.samples(), expected(0..100));
    let st = h.s.stats();
    assert_eq!((st.audio_packets, st.captured_samples), (100, 16_000));
    assert_eq!((st.lost_frames, st.concealed_frames, st.late), (0, 0, 0));
    assert_eq!(
        h.events
            .iter()
            .filter(|e| matches!(e, MediaEvent::Buffer { .. }))
            .count(),
        100
    );
}

#[test]
fn reordered_packets_are_put_back_in_order() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    let order = [0u16, 2, 1, 3, 5, 4, 6];
    for (i, &n) in order.iter().enumerate() {
        h.recv(i as u64 * 20, &audio(n));
    }
    h.stop(200);
    assert_eq!(h.sink.samples(), expected(0..7));
    let st = h.s.stats();
    assert_eq!(st.reordered, 2);
    assert_eq!(st.concealed_frames, 0);
}

#[test]
fn a_lost_packet_is_concealed_and_counted() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    for n in (0..20u16).filter(|&n| n != 7) {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    h.stop(1000);
    let got = h.sink.samples();
    assert_eq!(got.len(), 20 * 160, "the lost frame keeps its place");
    assert_eq!(&got[..7 * 160], &expected(0..7)[..]);
    // The first good frame after concealment is blended into it (G.711 Appendix I).
    assert_eq!(&got[9 * 160..], &expected(9..20)[..]);
    assert_ne!(
        &got[7 * 160..8 * 160],
        &[0i16; 160][..],
        "concealment, not silence"
    );
    let st = h.s.stats();
    assert_eq!((st.lost_frames, st.concealed_frames), (1, 1));
}

#[test]
fn duplicates_are_dropped_and_counted() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    for n in 0..10u16 {
        h.recv(u64::from(n) * 20, &audio(n));
        h.recv(u64::from(n) * 20 + 1, &audio(n));
    }
    h.stop(300);
    assert_eq!(h.sink.samples(), expected(0..10));
    assert_eq!(h.s.stats().duplicates, 10);
}

#[test]
fn trailing_concealment_is_not_recorded_and_pauses_are_silence() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    for n in 0..10u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    // The sender pauses 1 s (silence suppression), then goes on where its clock is.
    for n in 60..70u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    h.stop(5000);
    let got = h.sink.samples();
    assert_eq!(got.len(), 70 * 160);
    assert_eq!(&got[..1600], &expected(0..10)[..]);
    assert!(got[1600..60 * 160].iter().all(|&s| s == 0));
    // The new talkspurt fades in from the concealment that was dropped (G.711 Appendix I).
    assert_eq!(&got[61 * 160..], &expected(61..70)[..]);
    let st = h.s.stats();
    assert_eq!((st.concealed_frames, st.gap_samples), (0, 50 * 160));
}

#[test]
fn wrong_source_and_early_packets_are_dropped_and_counted() {
    let t0 = Instant::now_for_tests();
    let mut s = Stream::new(
        t0,
        Duration::ZERO,
        CallId(1),
        LineId::new(gateway_control::model::GatewayId::new("gw"), "aaln/1"),
        20_000,
        &Config::default(),
    );
    s.handle_datagram(t0, GATEWAY.parse().unwrap(), &audio(0));
    s.handle_remote(t0, media());
    let other: SocketAddr = "127.0.0.1:4002".parse().unwrap();
    s.handle_datagram(t0, other, &audio(1));
    s.handle_datagram(t0, GATEWAY.parse().unwrap(), &[0x80]);
    s.handle_datagram(
        t0,
        GATEWAY.parse().unwrap(),
        &rtp(2, 8, false, &[0xd5; 160]),
    );
    s.handle_rtcp(t0, GATEWAY.parse().unwrap(), &[0x80, 201, 0, 1, 0, 0, 0, 1]);
    s.handle_rtcp(t0, "127.0.0.1:4001".parse().unwrap(), &[0x81]);
    let st = s.stats();
    assert_eq!(st.datagrams, 4);
    assert_eq!(
        (
            st.before_remote,
            st.wrong_source,
            st.malformed,
            st.wrong_payload_type
        ),
        (1, 1, 1, 1)
    );
    assert_eq!((st.rtcp_wrong_source, st.rtcp_malformed), (1, 1));
    assert_eq!(st.audio_packets, 0);
}

fn event(n: u16, event: u8, end: bool, duration: u16) -> Vec<u8> {
    let e = dtmf::Repr {
        event,
        end,
        volume: 10,
        duration,
    };
    let mut p = [0u8; 4];
    e.emit(&mut p).unwrap();
    let mut b = rtp(n, 101, duration == 160, &p);
    // All packets of one event carry its start timestamp.
    b[4..8].copy_from_slice(&5000u32.to_be_bytes());
    b
}

#[test]
fn rfc4733_events_become_one_digit_each() {
    let mut h = Harness::new();
    h.recv(0, &event(0, 5, false, 160));
    h.recv(20, &event(1, 5, false, 320));
    h.recv(40, &event(2, 5, true, 480));
    h.recv(41, &event(3, 5, true, 480));
    let digits: Vec<_> = h
        .events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Digit { digit, .. } => Some(digit.as_char()),
            _ => None,
        })
        .collect();
    assert_eq!(digits, ['5']);
    assert_eq!(h.s.stats().event_packets, 4);
}

fn silent(n: u16) -> Vec<u8> {
    rtp(n, 0, n == 0, &[0xff; 160])
}

#[test]
fn silence_is_reported_once_after_the_silence_time() {
    let mut h = Harness::new();
    h.capture(Some(Duration::from_secs(1)), Duration::from_secs(60), None);
    for n in 0..40u16 {
        h.recv(u64::from(n) * 20, &silent(n));
    }
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, MediaEvent::Silence { .. }))
    );
    for n in 40..100u16 {
        h.recv(u64::from(n) * 20, &silent(n));
    }
    let silences = h
        .events
        .iter()
        .filter(|e| matches!(e, MediaEvent::Silence { .. }))
        .count();
    assert_eq!(silences, 1);
}

#[test]
fn silence_is_reported_when_the_gateway_sends_nothing() {
    let mut h = Harness::new();
    h.capture(Some(Duration::from_secs(3)), Duration::from_secs(60), None);
    h.run_until(2999);
    assert!(h.events.is_empty());
    h.run_until(3000);
    assert_eq!(h.events, [MediaEvent::Silence { call: CallId(7) }]);
}

#[test]
fn max_length_truncates_and_is_reported_once() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_millis(1010), None);
    for n in 0..100u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    let f = h.stop(2500);
    assert_eq!(h.sink.samples(), expected(0..100)[..8080].to_vec());
    assert_eq!(f.duration, Duration::from_millis(1010));
    assert_eq!(h.events, [MediaEvent::MaxLength { call: CallId(7) }]);
}

#[test]
fn live_buffers_are_full_then_the_last_one_shorter() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), Some(400));
    for n in 0..51u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    // 51 × 160 = 8160 samples: 20 buffers of 400 as soon as they fill…
    let sizes: Vec<usize> = h
        .events
        .iter()
        .map(|e| match e {
            MediaEvent::Buffer { pcm, .. } => pcm.len(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(sizes, vec![400; 20]);
    // …and the last 160 at the stop.
    h.stop(1100);
    let all: Vec<i16> = h
        .events
        .iter()
        .enumerate()
        .flat_map(|(i, e)| match e {
            MediaEvent::Buffer { seq, pcm, .. } => {
                assert_eq!(*seq, i as u64);
                pcm.clone()
            }
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(h.events.len(), 21);
    assert_eq!(all, expected(0..51));
}

struct Frames(u16, u16);

impl FrameSource for Frames {
    fn next_frame(&mut self, out: &mut [u8]) -> Result<bool, SourceError> {
        if self.0 == self.1 {
            return Ok(false);
        }
        out.fill(self.0 as u8);
        self.0 += 1;
        Ok(true)
    }
}

fn parse_sent(t: &Transmit) -> (bool, u16, u32, u8, Vec<u8>) {
    let r = rtp::Repr::parse_bytes(&t.payload).unwrap();
    (
        r.marker,
        r.sequence_number.0,
        r.timestamp.0,
        r.payload_type,
        r.payload.to_vec(),
    )
}

#[test]
fn a_message_plays_paced_with_consecutive_headers_then_play_done() {
    let mut h = Harness::new();
    h.s.handle_play_message(h.at(0), Box::new(Frames(0, 5)));
    let mut times = Vec::new();
    while let Some(t) = h.s.poll_timeout().filter(|&t| t <= h.at(200)) {
        h.s.handle_timeout(t);
        let before = h.sent.len();
        h.drain();
        if h.sent.len() > before {
            times.push(t.duration_since(h.t0).as_millis());
        }
    }
    assert_eq!(times, [0, 20, 40, 60, 80]);
    let p: Vec<_> = h.sent.iter().filter(|t| !t.rtcp).map(parse_sent).collect();
    assert_eq!(p.len(), 5);
    for (i, (m, seq, ts, pt, payload)) in p.iter().enumerate() {
        assert_eq!(*m, i == 0, "marker on the first packet only");
        assert_eq!(*seq, p[0].1.wrapping_add(i as u16));
        assert_eq!(*ts, p[0].2.wrapping_add(160 * i as u32));
        assert_eq!(*pt, 0);
        assert_eq!(payload, &vec![i as u8; 160]);
    }
    assert!(h.sent.iter().all(|t| t.destination == media().address));
    assert_eq!(h.events, [MediaEvent::PlayDone { call: CallId(7) }]);
    assert!(!h.s.is_playing());
}

#[test]
fn live_playout_skips_time_when_starved_and_marks_the_resume() {
    let mut h = Harness::new();
    let mut q = LiveQueue::new(&Config::default());
    q.push(&[1000; 320]);
    h.s.handle_play_live(h.at(0), StreamId(9), q);
    h.run_until(60); // ticks at 0, 20 (audio), 40, 60 (starved)
    assert!(
        !h.s.handle_live_buffer(StreamId(8), &[1; 160]),
        "not this stream"
    );
    assert!(h.s.handle_live_buffer(StreamId(9), &[2000; 160]));
    assert!(h.s.handle_live_end(StreamId(9)));
    h.run_until(200);
    let p: Vec<_> = h.sent.iter().filter(|t| !t.rtcp).map(parse_sent).collect();
    assert_eq!(p.len(), 3);
    assert_eq!((p[0].0, p[1].0, p[2].0), (true, false, true));
    assert_eq!(p[1].1, p[0].1.wrapping_add(1));
    assert_eq!(p[2].1, p[0].1.wrapping_add(2));
    assert_eq!(
        p[2].2,
        p[0].2.wrapping_add(4 * 160),
        "two starved ticks skipped"
    );
    assert_eq!(p[2].4, vec![Law::Ulaw.encode_sample(2000); 160]);
    assert_eq!(h.events, [MediaEvent::PlayDone { call: CallId(7) }]);
    assert_eq!(h.s.stats().live_starved, 2);
}

#[test]
fn rtcp_reports_go_to_port_plus_one_rr_then_sr_while_playing() {
    let mut h = Harness::new();
    for n in 0..10u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    h.run_until(8000);
    let reports: Vec<_> = h.sent.iter().filter(|t| t.rtcp).cloned().collect();
    assert!(!reports.is_empty(), "a report within 1.5 intervals");
    let to: SocketAddr = "127.0.0.1:4001".parse().unwrap();
    assert!(reports.iter().all(|t| t.destination == to));
    let parsed = rtcp::parse_compound(&reports[0].payload).unwrap();
    match &parsed[0] {
        rtcp::Repr::ReceiverReport { ssrc, reports, .. } => {
            assert_eq!(*ssrc, h.s.ssrc());
            assert_eq!(reports.len(), 1);
            assert_eq!(reports[0].ssrc, Ssrc(0x1234));
            assert_eq!(reports[0].extended_highest_seq, 1009);
            assert_eq!(reports[0].cumulative_lost, 0);
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(parsed[1], rtcp::Repr::SourceDescription(_)));
    h.sent.clear();
    h.s.handle_play_message(h.at(8000), Box::new(Frames(0, 1000)));
    h.run_until(16_000);
    let sr = h
        .sent
        .iter()
        .find(|t| t.rtcp)
        .expect("a report while playing");
    match &rtcp::parse_compound(&sr.payload).unwrap()[0] {
        rtcp::Repr::SenderReport { info, .. } => assert!(info.packet_count > 0),
        other => panic!("{other:?}"),
    }
    // The gateway's own report is accepted and counted.
    h.s.handle_rtcp(h.at(16_000), to, &reports[0].payload);
    assert_eq!(h.s.stats().rtcp_received, 1);
}

#[test]
fn a_missing_packet_is_waited_for_200_ms_then_concealed() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    for n in (0..10u16).filter(|&n| n != 7) {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    // Frame 7 is due 200 ms after its place in the stream (0 + 200 + 7 × 20 ms).
    h.run_until(339);
    assert_eq!(h.sink.samples().len(), 7 * 160);
    h.recv(339, &audio(7));
    assert_eq!(
        h.sink.samples(),
        expected(0..10),
        "a late packet still in time"
    );
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    for n in (0..10u16).filter(|&n| n != 7) {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    h.run_until(340);
    assert_eq!(h.sink.samples().len(), 10 * 160);
    assert_eq!(h.s.stats().concealed_frames, 1);
}

mod opus;
mod playout;
mod progress;
mod receive;
mod reports;
