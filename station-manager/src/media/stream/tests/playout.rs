//! Playout: pacing, a late timer, ptime, codec and address changes, stopping, live streams.

use super::*;

fn played(h: &Harness) -> Vec<(bool, u16, u32, u8, Vec<u8>)> {
    h.sent.iter().filter(|t| !t.rtcp).map(parse_sent).collect()
}

#[test]
fn a_late_timer_sends_at_most_three_packets_then_paces_from_now() {
    let mut h = Harness::new();
    h.s.handle_play_message(h.at(0), Box::new(Frames(0, 100)));
    h.s.handle_timeout(h.at(0));
    h.drain();
    // The driver wakes up 200 ms late: ten packets are overdue.
    h.s.handle_timeout(h.at(200));
    h.drain();
    assert_eq!(played(&h).len(), 4, "the first and a burst of three");
    assert_eq!(h.s.poll_timeout(), Some(h.at(200)), "re-anchored at now");
    h.run_until(200);
    assert_eq!(played(&h).len(), 5);
    assert_eq!(h.s.poll_timeout(), Some(h.at(220)));
    h.run_until(300);
    let p = played(&h);
    assert_eq!(p.len(), 10);
    for (i, (m, seq, ts, _, payload)) in p.iter().enumerate() {
        assert_eq!(*m, i == 0);
        assert_eq!(*seq, p[0].1.wrapping_add(i as u16), "no sequence gap");
        assert_eq!(*ts, p[0].2.wrapping_add(160 * i as u32));
        assert_eq!(payload, &vec![i as u8; 160], "nothing skipped");
    }
}

#[test]
fn the_packet_size_follows_the_gateway_ptime() {
    for (ms, samples) in [(10u64, 80usize), (30, 240), (60, 480)] {
        let mut h = Harness::with(
            Media {
                ptime: Duration::from_millis(ms),
                ..media()
            },
            &Config::default(),
        );
        h.s.handle_play_message(h.at(0), Box::new(Frames(0, 3)));
        h.run_until(10 * ms);
        let p = played(&h);
        assert_eq!(p.len(), 3);
        assert!(p.iter().all(|p| p.4.len() == samples), "{ms} ms");
        assert_eq!(p[1].2, p[0].2.wrapping_add(samples as u32));
        assert_eq!(h.events, [MediaEvent::PlayDone { call: CallId(7) }]);
    }
}

#[test]
fn a_new_codec_while_playing_changes_the_payload_type_not_the_sequence() {
    let mut h = Harness::new();
    h.s.handle_play_message(h.at(0), Box::new(Frames(0, 4)));
    h.run_until(20);
    let pcma = Media {
        codec: Codec::Pcma,
        ..media()
    };
    h.s.handle_remote(h.at(30), pcma);
    h.run_until(100);
    let p = played(&h);
    let pts: Vec<_> = p.iter().map(|p| (p.3, p.0)).collect();
    assert_eq!(pts, [(0, true), (0, false), (8, true), (8, false)]);
    for (i, x) in p.iter().enumerate() {
        assert_eq!(x.1, p[0].1.wrapping_add(i as u16));
        assert_eq!(x.2, p[0].2.wrapping_add(160 * i as u32));
    }
}

#[test]
fn a_new_address_while_playing_continues_the_same_stream_there() {
    let mut h = Harness::new();
    h.s.handle_play_message(h.at(0), Box::new(Frames(0, 4)));
    h.run_until(20);
    let moved: SocketAddr = "127.0.0.1:4100".parse().unwrap();
    h.s.handle_remote(
        h.at(30),
        Media {
            address: moved,
            ..media()
        },
    );
    h.run_until(100);
    let rtp: Vec<_> = h.sent.iter().filter(|t| !t.rtcp).collect();
    let to: Vec<_> = rtp.iter().map(|t| t.destination.port()).collect();
    assert_eq!(to, [4000, 4000, 4100, 4100]);
    let markers: Vec<_> = played(&h).iter().map(|p| p.0).collect();
    assert_eq!(markers, [true, false, false, false], "one talkspurt");
}

#[test]
fn stopping_playout_sends_nothing_more_and_reports_nothing() {
    let mut h = Harness::new();
    h.s.handle_play_message(h.at(0), Box::new(Frames(0, 100)));
    h.run_until(40);
    h.s.handle_stop_play();
    assert!(!h.s.is_playing());
    h.run_until(1000);
    assert_eq!(played(&h).len(), 3);
    assert!(h.events.is_empty());
    assert_eq!(h.s.stats().rtp_sent, 3);
}

#[test]
fn a_message_that_fails_midway_reports_failed_and_stops() {
    struct Broken(u8);
    impl FrameSource for Broken {
        fn next_frame(&mut self, out: &mut [u8]) -> Result<bool, SourceError> {
            if self.0 == 0 {
                return Err(SourceError("corrupt frame".into()));
            }
            self.0 -= 1;
            out.fill(0xff);
            Ok(true)
        }
    }
    let mut h = Harness::new();
    h.s.handle_play_message(h.at(0), Box::new(Broken(2)));
    h.run_until(1000);
    assert_eq!(played(&h).len(), 2);
    assert_eq!(
        h.events,
        [MediaEvent::Failed {
            call: CallId(7),
            reason: "corrupt frame".into()
        }]
    );
    assert!(!h.s.is_playing());
}

#[test]
fn a_new_message_replaces_the_one_playing_and_continues_the_stream() {
    let mut h = Harness::new();
    h.s.handle_play_message(h.at(0), Box::new(Frames(0, 100)));
    h.run_until(20);
    h.s.handle_play_message(h.at(30), Box::new(Frames(50, 52)));
    h.run_until(1000);
    let p = played(&h);
    let payloads: Vec<u8> = p.iter().map(|p| p.4[0]).collect();
    assert_eq!(payloads, [0, 1, 50, 51]);
    let markers: Vec<_> = p.iter().map(|p| p.0).collect();
    assert_eq!(markers, [true, false, true, false], "a new talkspurt");
    assert_eq!(p[2].1, p[1].1.wrapping_add(1));
    assert_eq!(p[2].2, p[1].2.wrapping_add(160));
    assert_eq!(
        h.events,
        [MediaEvent::PlayDone { call: CallId(7) }],
        "one, for the second"
    );
}

#[test]
fn live_calls_for_another_stream_or_a_message_are_refused() {
    let mut h = Harness::new();
    let q = LiveQueue::new(&Config::default());
    assert!(
        !h.s.handle_live_buffer(StreamId(9), &[1; 160]),
        "nothing plays"
    );
    assert!(!h.s.handle_live_end(StreamId(9)));
    h.s.handle_play_live(h.at(0), StreamId(9), q);
    assert!(!h.s.handle_live_end(StreamId(8)));
    assert!(h.s.handle_live_buffer(StreamId(9), &[1000; 160]));
    h.run_until(100);
    assert!(h.s.is_playing(), "not ended by another stream's end");
    assert!(h.events.is_empty());
    h.s.handle_play_message(h.at(100), Box::new(Frames(0, 1)));
    assert!(!h.s.handle_live_buffer(StreamId(9), &[1; 160]));
    assert!(!h.s.handle_live_end(StreamId(9)));
}

#[test]
fn live_drops_and_catch_up_skips_are_counted_while_playing_and_after() {
    let mut config = Config::default();
    config
        .live_queue_max(Duration::from_millis(400))
        .unwrap()
        .live_catchup(Duration::from_millis(100), 2)
        .unwrap();
    let mut h = Harness::with(media(), &config);
    let mut q = LiveQueue::new(&config);
    // 600 ms queued while ringing: 200 ms of it dropped.
    q.push(&[500; 4800]);
    h.s.handle_play_live(h.at(0), StreamId(9), q);
    assert_eq!(h.s.stats().live_dropped, 1600);
    h.run_until(100);
    let while_playing = h.s.stats();
    assert!(while_playing.live_skipped > 0);
    assert!(h.s.handle_live_buffer(StreamId(9), &[500; 4000]));
    let dropped = h.s.stats().live_dropped;
    assert!(dropped > 1600, "the queue was full again");
    h.s.handle_stop_play();
    let after = h.s.stats();
    assert_eq!(after.live_dropped, dropped);
    assert!(after.live_skipped >= while_playing.live_skipped);
    // A stream that ends on its own keeps its counts too.
    let mut q = LiveQueue::new(&config);
    q.push(&[500; 4800]);
    h.s.handle_play_live(h.at(200), StreamId(10), q);
    h.s.handle_live_end(StreamId(10));
    h.run_until(2000);
    let done = h.s.stats();
    assert_eq!(done.live_dropped, dropped + 1600);
    assert!(done.live_skipped > after.live_skipped);
    assert!(h.events.contains(&MediaEvent::PlayDone { call: CallId(7) }));
}
