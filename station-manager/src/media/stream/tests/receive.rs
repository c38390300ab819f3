//! Receiving: frames out of the jitter buffer as soon as they can be, losses, pauses and
//! restarts in the recording, digits, speech, and the state a driver reads.

use super::*;

/// `count` consecutive 20 ms frames of audio in one packet, starting at frame `n`.
fn audio_frames(n: u16, count: u16) -> Vec<u8> {
    let pcm = expected(n..n + count);
    let mut codes = vec![0u8; pcm.len()];
    Law::Ulaw.encode(&pcm, &mut codes).unwrap();
    rtp_from(
        Ssrc(0x1234),
        1000 + n / count,
        5000 + u32::from(n) * 160,
        0,
        n == 0,
        &codes,
    )
}

fn count(events: &[MediaEvent], f: impl Fn(&MediaEvent) -> bool) -> usize {
    events.iter().filter(|e| f(e)).count()
}

#[test]
fn packets_of_several_frames_are_recorded_at_once() {
    let mut h = Harness::with(
        Media {
            ptime: Duration::from_millis(40),
            ..media()
        },
        &Config::default(),
    );
    h.capture(None, Duration::from_secs(60), None);
    for p in 0..20u16 {
        h.recv(u64::from(p) * 40, &audio_frames(p * 2, 2));
        assert_eq!(h.sink.samples().len(), (usize::from(p) + 1) * 320);
    }
    h.stop(1000);
    assert_eq!(h.sink.samples(), expected(0..40));
    assert_eq!(h.s.stats().concealed_frames, 0);
}

#[test]
fn reordered_frames_are_written_as_soon_as_the_missing_one_arrives() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    h.recv(0, &audio(0));
    h.recv(20, &audio(2));
    h.recv(25, &audio(3));
    assert_eq!(h.sink.samples(), expected(0..1), "1 is awaited");
    h.recv(30, &audio(1));
    assert_eq!(
        h.sink.samples(),
        expected(0..4),
        "at once, not at 2's due time"
    );
    // The same with two-frame packets arriving in reverse.
    let mut h = Harness::with(
        Media {
            ptime: Duration::from_millis(40),
            ..media()
        },
        &Config::default(),
    );
    h.capture(None, Duration::from_secs(60), None);
    h.recv(0, &audio_frames(0, 2));
    h.recv(40, &audio_frames(4, 2));
    h.recv(41, &audio_frames(2, 2));
    assert_eq!(h.sink.samples(), expected(0..6));
}

#[test]
fn a_new_talkspurt_is_recorded_at_once_whatever_its_timestamp() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    for n in 0..5u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    // After a pause the sender's clock jumped by 2 s and half a frame (a restarted clock need
    // not stay on the old frame grid).
    let mut codes = [0u8; 160];
    Law::Ulaw.encode(&frame_pcm(9), &mut codes).unwrap();
    let base = 5000 + 5 * 160 + 16_000 + 80;
    for k in 0..3u16 {
        let ts = base + u32::from(k) * 160;
        h.recv(
            2100 + u64::from(k) * 20,
            &rtp_from(Ssrc(0x1234), 1005 + k, ts, 0, k == 0, &codes),
        );
        let tail = &h.sink.samples()[5 * 160 + 16_080..];
        assert_eq!(tail.len(), (usize::from(k) + 1) * 160, "frame {k} at once");
    }
    let got = h.sink.samples();
    assert!(got[800..800 + 16_080].iter().all(|&s| s == 0));
    assert_eq!(h.s.stats().gap_samples, 16_080);
}

#[test]
fn pauses_up_to_a_minute_are_silence_and_longer_jumps_are_a_restart() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(600), None);
    h.recv(0, &audio(0));
    // 10 s of silence suppression, then exactly 60 s, then a jump of over a minute.
    h.recv(10_000, &audio(500));
    assert_eq!(h.sink.samples().len(), 501 * 160);
    h.recv(70_020, &audio(3501));
    assert_eq!(h.sink.samples().len(), 3502 * 160);
    assert_eq!(h.s.stats().gap_samples, 3499 * 160);
    h.recv(140_000, &audio(7001));
    let got = h.sink.samples();
    assert_eq!(got.len(), 3503 * 160, "no minute of silence written");
    // (Faded in from the dropped concealment over its first half, G.711 Appendix I.)
    assert_eq!(&got[3502 * 160 + 80..], &frame_pcm(7001)[80..]);
    assert_eq!(h.s.stats().gap_samples, 3499 * 160);
}

#[test]
fn a_loss_at_the_end_of_the_buffer_is_concealed_once_audio_resumes_after_it() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    for n in 0..6u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    // 6, 7 and 8 are lost; nothing is behind them, so their concealment is held back…
    h.run_until(400);
    assert_eq!(h.sink.samples().len(), 6 * 160);
    // …until 9 shows it was a loss, not the end of a talkspurt.
    h.recv(400, &audio(9));
    let got = h.sink.samples();
    assert_eq!(got.len(), 10 * 160);
    assert_eq!(&got[..6 * 160], &expected(0..6)[..]);
    assert_ne!(&got[6 * 160..7 * 160], &[0i16; 160][..], "concealment");
    assert_eq!(h.s.stats().concealed_frames, 3);
}

#[test]
fn stopping_writes_what_waits_behind_a_loss() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    for n in (0..10u16).filter(|&n| n != 7) {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    assert_eq!(h.sink.samples().len(), 7 * 160);
    let f = h.stop(180);
    let got = h.sink.samples();
    assert_eq!(got.len(), 10 * 160);
    assert_eq!(&got[..7 * 160], &expected(0..7)[..]);
    assert_eq!(f.duration, Duration::from_millis(200));
    assert_eq!(h.s.stats().concealed_frames, 1);
}

/// A telephone-event packet of a given event, start timestamp and sequence number.
fn tone(seq: u16, ts: u32, event: u8, marker: bool, end: bool, duration: u16) -> Vec<u8> {
    let mut p = [0u8; 4];
    dtmf::Repr {
        event,
        end,
        volume: 10,
        duration,
    }
    .emit(&mut p)
    .unwrap();
    rtp_from(Ssrc(0x1234), seq, ts, 101, marker, &p)
}

#[test]
fn each_rfc4733_event_is_one_digit_despite_updates_and_end_retransmits() {
    let mut h = Harness::new();
    let mut seq = 0;
    let mut at = 0;
    // "12" then 2 again (a new event: a new timestamp), "#*D", and a flash (event 16), each
    // sent as RFC 4733 §2.5 says: updates every 50 ms, the end packet three times.
    for (i, event) in [1u8, 2, 2, 11, 10, 15, 16].into_iter().enumerate() {
        let ts = 8000 * i as u32;
        for k in 1..=3u16 {
            h.recv(at, &tone(seq, ts, event, k == 1, false, 400 * k));
            (seq, at) = (seq + 1, at + 50);
        }
        for _ in 0..3 {
            h.recv(at, &tone(seq, ts, event, false, true, 1600));
            (seq, at) = (seq + 1, at + 1);
        }
    }
    let digits: String = h
        .events
        .iter()
        .filter_map(|e| match e {
            MediaEvent::Digit { call, digit } => {
                assert_eq!(*call, CallId(7));
                Some(digit.as_char())
            }
            _ => None,
        })
        .collect();
    assert_eq!(digits, "122#*D");
    let st = h.s.stats();
    assert_eq!((st.digits, st.event_packets), (6, 42));
    assert_eq!((st.audio_packets, st.wrong_payload_type), (0, 0));
}

#[test]
fn a_digit_is_heard_while_audio_is_being_recorded() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    for n in 0..10u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    h.recv(200, &tone(1010, 5000 + 10 * 160, 11, true, false, 160));
    assert_eq!(
        h.events,
        [MediaEvent::Digit {
            call: CallId(7),
            digit: Digit::new('#').unwrap()
        }]
    );
    assert_eq!(h.sink.samples(), expected(0..10));
}

#[test]
fn without_live_buffers_a_capture_only_records() {
    let mut h = Harness::new();
    // A live buffer of zero samples means none.
    h.capture(None, Duration::from_secs(60), Some(0));
    for n in 0..10u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    h.stop(300);
    assert_eq!(h.sink.samples(), expected(0..10));
    assert!(h.events.is_empty(), "{:?}", h.events);
}

/// A 400 Hz tone at about −12 dBFS, continuing from frame `n`.
fn tone_frame(n: u16) -> [u8; 160] {
    let mut codes = [0u8; 160];
    for (i, c) in codes.iter_mut().enumerate() {
        let t = f64::from(u32::from(n) * 160 + i as u32) / 8000.0;
        let s = (8000.0 * (2.0 * std::f64::consts::PI * 400.0 * t).sin()) as i16;
        *c = Law::Ulaw.encode_sample(s);
    }
    codes
}

#[test]
fn the_speech_in_a_recording_is_measured() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    // 1 s of line noise, 2 s of voice, 1 s of line noise.
    for n in 0..200u16 {
        let p = if (50..150).contains(&n) {
            rtp(n, 0, false, &tone_frame(n))
        } else {
            silent(n)
        };
        h.recv(u64::from(n) * 20, &p);
    }
    let f = h.stop(4000);
    assert_eq!(f.duration, Duration::from_secs(4));
    assert!(
        f.speech >= Duration::from_millis(1800) && f.speech <= Duration::from_millis(2600),
        "{:?}",
        f.speech
    );
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    for n in 0..100u16 {
        h.recv(u64::from(n) * 20, &silent(n));
    }
    let f = h.stop(2000);
    assert_eq!(
        (f.duration, f.speech),
        (Duration::from_secs(2), Duration::ZERO)
    );
}

#[test]
fn silence_after_the_idle_report_is_not_reported_again() {
    let mut h = Harness::new();
    h.capture(Some(Duration::from_secs(1)), Duration::from_secs(60), None);
    h.run_until(1000);
    assert_eq!(h.events, [MediaEvent::Silence { call: CallId(7) }]);
    for n in 0..100u16 {
        h.recv(1000 + u64::from(n) * 20, &silent(n));
    }
    h.run_until(10_000);
    assert_eq!(
        count(&h.events, |e| matches!(e, MediaEvent::Silence { .. })),
        1
    );
}

#[test]
fn a_line_that_keeps_sending_speech_is_not_idle_even_when_a_packet_is_lost() {
    let mut h = Harness::new();
    h.capture(Some(Duration::from_secs(2)), Duration::from_secs(60), None);
    // Half a second of line silence, then a second of voice; the lost packet makes the jitter
    // buffer's timer fire in between.
    for n in (0..75u16).filter(|&n| n != 40) {
        let p = if n < 25 {
            silent(n)
        } else {
            rtp(n, 0, false, &tone_frame(n))
        };
        h.recv(u64::from(n) * 20, &p);
    }
    h.run_until(1500);
    assert_eq!(h.s.stats().concealed_frames, 1);
    assert!(h.events.is_empty(), "{:?}", h.events);
    // Then the gateway goes quiet: two seconds after the last packet the line is idle.
    h.run_until(3479);
    assert!(h.events.is_empty());
    h.run_until(3480);
    assert_eq!(h.events, [MediaEvent::Silence { call: CallId(7) }]);
}

#[test]
fn a_recording_that_cannot_be_written_fails_once_and_ends() {
    struct Full(usize);
    impl CaptureSink for Full {
        fn write(&mut self, pcm: &[i16]) -> std::io::Result<()> {
            if self.0 < pcm.len() {
                return Err(std::io::Error::other("disk full"));
            }
            self.0 -= pcm.len();
            Ok(())
        }
        fn finish(self: Box<Self>) -> std::io::Result<std::path::PathBuf> {
            Ok("rec.wav".into())
        }
    }
    let mut h = Harness::new();
    let sink = Box::new(Full(3 * 160));
    h.s.handle_start_capture(h.t0, sink, None, Duration::from_secs(60), None);
    for n in 0..10u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    assert_eq!(
        h.events,
        [MediaEvent::Failed {
            call: CallId(7),
            reason: "recording: disk full".into()
        }]
    );
    let f = h.stop(300);
    assert_eq!(f.duration, Duration::from_millis(60));
    assert_eq!(h.s.stats().captured_samples, 480);
}

#[test]
fn the_state_a_driver_reads() {
    let t0 = Instant::now_for_tests();
    let line = LineId::new(gateway_control::model::GatewayId::new("gw"), "aaln/3");
    let config = Config::default();
    let mut s = Stream::new(t0, Duration::ZERO, CallId(3), line.clone(), 20_002, &config);
    assert_eq!((s.call(), s.port(), s.remote()), (CallId(3), 20_002, None));
    assert_eq!(
        s.poll_timeout(),
        None,
        "nothing to do before the remote is known"
    );
    // SSRCs come from the seed and the call: the same each run, different per call.
    let again = Stream::new(t0, Duration::ZERO, CallId(3), line.clone(), 20_002, &config);
    let other = Stream::new(t0, Duration::ZERO, CallId(4), line, 20_004, &config);
    assert_eq!(s.ssrc(), again.ssrc());
    assert_ne!(s.ssrc(), other.ssrc());
    s.handle_remote(t0, media());
    assert_eq!(s.remote(), Some(&media()));
    assert!(!s.is_capturing() && !s.is_playing());
    s.handle_start_capture(
        t0,
        Box::new(Shared::default()),
        None,
        Duration::from_secs(1),
        None,
    );
    assert!(s.is_capturing());
    s.handle_play_message(t0, Box::new(Frames(0, 1)));
    assert!(s.is_playing());
    let debug = format!("{s:?}");
    assert!(
        debug.contains("call: CallId(3)") && debug.contains("capturing: true"),
        "{debug}"
    );
    s.handle_stop_capture(t0);
    assert!(!s.is_capturing());
    let f = s.poll_finished().unwrap();
    assert!(s.poll_finished().is_none(), "handed out once");
    let debug = format!("{f:?}");
    assert!(
        debug.starts_with("Finished") && debug.contains("CallId(3)"),
        "{debug}"
    );
    assert_eq!(s.stats().datagrams, 0);
}

/// The forger's packet `n`: the gateway's address, its own SSRC and a full-scale square wave,
/// with sequence numbers and timestamps that fit the real stream's (the best a forger can do).
fn forged(n: u16) -> Vec<u8> {
    rtp_from(
        Ssrc(0x0bad_0bad),
        1000u16.wrapping_add(n),
        5000 + u32::from(n) * 160,
        0,
        false,
        &[0x80; 160],
    )
}

#[test]
fn a_forger_at_the_gateways_address_stays_out_of_the_recording() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    // Packets of another SSRC from the gateway's own address, interleaved with the real
    // stream and ahead of it in sequence, are all dropped and counted.
    for n in 0..50u16 {
        h.recv(u64::from(n) * 20, &audio(n));
        h.recv(u64::from(n) * 20 + 5, &forged(n + 1));
    }
    let f = h.stop(1100);
    assert_eq!(f.duration, Duration::from_secs(1));
    assert_eq!(h.sink.samples(), expected(0..50));
    let st = h.s.stats();
    assert_eq!((st.audio_packets, st.wrong_ssrc), (50, 50));
    assert_eq!((st.duplicates, st.late, st.reordered), (0, 0, 0));
}

#[test]
fn the_first_accepted_packet_pins_the_stream_even_after_the_real_source_pauses() {
    let mut h = Harness::new();
    h.capture(None, Duration::from_secs(60), None);
    // A packet the stream refuses (another payload type) does not pin it.
    h.recv(0, &rtp_from(Ssrc(0x0bad_0bad), 1, 1, 96, false, &[0; 4]));
    for n in 0..10u16 {
        h.recv(20 + u64::from(n) * 20, &audio(n));
    }
    // Two seconds of silence from the gateway (silence suppression), then the forger: it
    // does not take the stream over however long it talks.
    for n in 10..60u16 {
        h.recv(2_000 + u64::from(n) * 20, &forged(n));
    }
    for n in 60..70u16 {
        h.recv(2_000 + u64::from(n) * 20, &audio(n));
    }
    let st = h.s.stats();
    assert_eq!(
        (st.wrong_payload_type, st.audio_packets, st.wrong_ssrc),
        (1, 20, 50)
    );
    let f = h.stop(3_500);
    // The gateway's 20 frames and the pause its timestamps span; none of the forger's
    // full-scale square wave (the gateway's ramp stays under 6,000).
    assert_eq!(f.duration, Duration::from_millis(70 * 20));
    assert!(h.sink.samples().iter().all(|s| s.abs() < 6_000));
}

#[test]
fn a_new_gateway_address_releases_the_pin() {
    let mut h = Harness::new();
    for n in 0..5u16 {
        h.recv(u64::from(n) * 20, &audio(n));
    }
    // The same address again (a codec change, say) keeps the pin...
    h.s.handle_remote(h.at(100), media());
    h.recv(100, &forged(5));
    assert_eq!(h.s.stats().wrong_ssrc, 1);
    // ...a new address (the gateway moved the connection) takes the first SSRC from there.
    let moved: SocketAddr = "127.0.0.1:4010".parse().unwrap();
    h.s.handle_remote(
        h.at(120),
        Media {
            address: moved,
            ..media()
        },
    );
    h.s.handle_datagram(h.at(120), moved, &forged(6));
    h.s.handle_datagram(h.at(140), moved, &audio(7));
    let st = h.s.stats();
    assert_eq!((st.audio_packets, st.wrong_ssrc), (6, 2));
}
