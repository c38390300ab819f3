//! The media engine on loopback, with tokio time paused: a fake gateway socket sends and
//! receives RTP as a media gateway would.
#![cfg(feature = "driver")]

use std::sync::Arc;
use std::time::Duration;

use codecs::g711::Law;
use codecs::rtp::{Csrcs, Repr, SequenceNumber, Ssrc, Timestamp};
use codecs::wav::WavReader;
use gateway_control::model::{CallId, Codec, GatewayId, LineId, Media};
use station_manager::media::driver::{EngineConfig, MediaEngine, MediaHandle};
use station_manager::media::{FrameSource, MessageAudio, SourceError};
use station_manager::{MediaCommand, MediaEvent, MessageId, Progress, Prompt};
use tokio::net::UdpSocket;
use tokio::sync::mpsc::UnboundedReceiver;

/// A store with one message: `frames` frames whose codes are the frame number.
struct Store {
    frames: u16,
}

struct Counting(u16, u16);

impl FrameSource for Counting {
    fn next_frame(&mut self, out: &mut [u8]) -> Result<bool, SourceError> {
        if self.0 == self.1 {
            return Ok(false);
        }
        out.fill(self.0 as u8);
        self.0 += 1;
        Ok(true)
    }
}

impl MessageAudio for Store {
    fn open(
        &self,
        message: MessageId,
        _law: Law,
        frame_samples: usize,
    ) -> Result<Box<dyn FrameSource>, SourceError> {
        assert_eq!(frame_samples, 160);
        if message != MessageId([1; 16]) {
            return Err(SourceError("no such message".into()));
        }
        Ok(Box::new(Counting(0, self.frames)))
    }

    /// Two prompts are recorded: "goodbye" (25 frames) and "enter-number" (1000 frames);
    /// every other prompt has no recording (the trait's default answer).
    fn open_prompt(
        &self,
        prompt: Prompt,
        law: Law,
        frame_samples: usize,
    ) -> Result<Box<dyn FrameSource>, SourceError> {
        assert_eq!((law, frame_samples), (Law::Ulaw, 160));
        match prompt {
            Prompt::Goodbye => Ok(Box::new(Counting(100, 125))),
            Prompt::EnterNumber => Ok(Box::new(Counting(0, 1000))),
            _ => Err(SourceError(format!("no recording of {}", prompt.name()))),
        }
    }
}

fn pcm(n: usize) -> Vec<i16> {
    (0..160)
        .map(|i| {
            Law::Ulaw
                .decode_sample(Law::Ulaw.encode_sample(((i * 37 + n * 11) % 4000) as i16 - 2000))
        })
        .collect()
}

async fn next_event(events: &mut UnboundedReceiver<MediaEvent>) -> MediaEvent {
    tokio::time::timeout(Duration::from_secs(30), events.recv())
        .await
        .expect("an event in time")
        .expect("engine running")
}

/// An even port on loopback whose odd neighbour is free too (the engine binds RTP on the one
/// and RTCP on the other), chosen by the system so that parallel tests never share one.
fn free_rtp_port() -> u16 {
    for _ in 0..1000 {
        let rtp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let port = rtp.local_addr().unwrap().port();
        if port.is_multiple_of(2)
            && port < u16::MAX
            && std::net::UdpSocket::bind(("127.0.0.1", port + 1)).is_ok()
        {
            return port;
        }
    }
    panic!("no free RTP/RTCP port pair on loopback");
}

async fn setup(
    port: u16,
    frames: u16,
) -> (
    tempfile::TempDir,
    MediaHandle,
    UnboundedReceiver<MediaEvent>,
    UdpSocket,
) {
    let dir = tempfile::tempdir().unwrap();
    let (engine, events) = MediaEngine::spawn(
        EngineConfig::new(dir.path().to_owned()),
        Arc::new(Store { frames }),
    );
    let gateway = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let call = CallId(1);
    engine
        .command(MediaCommand::Open {
            call,
            port,
            line: LineId::new(GatewayId::new("gw"), "aaln/1"),
        })
        .unwrap();
    engine
        .command(MediaCommand::Remote {
            call,
            remote: Media {
                address: gateway.local_addr().unwrap(),
                codec: Codec::Pcmu,
                ptime: Duration::from_millis(20),
                telephone_event: Some(101),
            },
        })
        .unwrap();
    (dir, engine, events, gateway)
}

#[tokio::test(start_paused = true)]
async fn two_seconds_of_g711_are_recorded_sample_exact() {
    let port = free_rtp_port();
    let (_dir, engine, mut events, gateway) = setup(port, 0).await;
    let call = CallId(1);
    engine
        .command(MediaCommand::StartCapture {
            call,
            silence: None,
            max_length: Duration::from_secs(60),
            live_buffer: Some(1600),
        })
        .unwrap();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    // Let the engine create the file before the audio starts.
    for _ in 0..5 {
        tick.tick().await;
    }
    let to = format!("127.0.0.1:{port}");
    // A stray sender is dropped and does not reach the recording.
    let stray = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut sent = Vec::new();
    for n in 0..100usize {
        tick.tick().await;
        let mut codes = [0u8; 160];
        Law::Ulaw.encode(&pcm(n), &mut codes).unwrap();
        // Sequence numbers and timestamps wrap during the call.
        let repr = Repr {
            marker: n == 0,
            payload_type: 0,
            sequence_number: SequenceNumber(65_500u16.wrapping_add(n as u16)),
            timestamp: Timestamp((u32::MAX - 800).wrapping_add(n as u32 * 160)),
            ssrc: Ssrc(77),
            csrcs: Csrcs::default(),
            extension: None,
            payload: &codes,
            padding: 0,
        };
        let mut b = vec![0; repr.buffer_len()];
        repr.emit(&mut b).unwrap();
        gateway.send_to(&b, &to).await.unwrap();
        if n % 10 == 0 {
            stray.send_to(&b, &to).await.unwrap();
        }
        sent.extend(pcm(n));
    }
    let mut live = Vec::new();
    while live.len() < 10 {
        match next_event(&mut events).await {
            MediaEvent::Buffer { seq, pcm, .. } => {
                assert_eq!(seq, live.len() as u64);
                live.push(pcm);
            }
            other => panic!("{other:?}"),
        }
    }
    engine.command(MediaCommand::StopCapture { call }).unwrap();
    let (file, duration) = match next_event(&mut events).await {
        MediaEvent::Captured { file, duration, .. } => (file, duration),
        other => panic!("{other:?}"),
    };
    assert_eq!(duration, Duration::from_secs(2));
    let mut r = WavReader::new(std::fs::File::open(&file).unwrap()).unwrap();
    assert_eq!(r.declared_frames(), Some(16_000));
    let mut got = vec![0; 20_000];
    let mut n = 0;
    while let k @ 1.. = r.read_mono(&mut got[n..]).unwrap() {
        n += k;
    }
    assert_eq!(&got[..n], &sent[..], "every sample, in order");
    assert_eq!(live.concat(), sent);
    let stats = engine.stats().await.unwrap();
    assert_eq!(stats.wrong_source, 10);
    assert_eq!(stats.audio_packets, 100);
    assert_eq!(stats.concealed_frames, 0);
}

#[tokio::test(start_paused = true)]
async fn a_message_is_played_paced_with_correct_headers() {
    let port = free_rtp_port();
    let (_dir, engine, mut events, gateway) = setup(port, 50).await;
    let call = CallId(1);
    engine
        .command(MediaCommand::PlayMessage {
            call,
            message: MessageId([1; 16]),
        })
        .unwrap();
    let mut buf = [0u8; 1500];
    let mut got = Vec::new();
    while got.len() < 50 {
        let (n, from) = gateway.recv_from(&mut buf).await.unwrap();
        if from.port() == port + 1 {
            continue; // an RTCP report
        }
        assert_eq!(
            from.port(),
            port,
            "symmetric RTP: from the port we receive on"
        );
        let r = Repr::parse_bytes(&buf[..n]).unwrap();
        got.push((
            tokio::time::Instant::now(),
            r.marker,
            r.sequence_number,
            r.timestamp,
            r.payload_type,
            r.payload.to_vec(),
        ));
    }
    assert_eq!(next_event(&mut events).await, MediaEvent::PlayDone { call });
    let (t0, _, seq0, ts0, _, _) = got[0].clone();
    for (i, (t, marker, seq, ts, pt, payload)) in got.iter().enumerate() {
        assert_eq!(
            *t - t0,
            Duration::from_millis(20 * i as u64),
            "paced at 20 ms"
        );
        assert_eq!(*marker, i == 0);
        assert_eq!(*seq, seq0.wrapping_add(i as u16));
        assert_eq!(*ts, ts0.wrapping_add(160 * i as u32));
        assert_eq!(*pt, 0);
        assert_eq!(payload, &vec![i as u8; 160]);
    }
    // An unknown message fails cleanly.
    engine
        .command(MediaCommand::PlayMessage {
            call,
            message: MessageId([2; 16]),
        })
        .unwrap();
    assert!(matches!(
        next_event(&mut events).await,
        MediaEvent::Failed { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn live_audio_buffered_while_ringing_plays_once_picked_up() {
    let port = free_rtp_port();
    let (_dir, engine, mut events, gateway) = setup(port, 0).await;
    let call = CallId(1);
    let stream = station_manager::StreamId(5);
    // 200 ms spoken while the phone rings, in buffers of 400 samples.
    for i in 0..4i16 {
        engine
            .live_buffer(stream, vec![100 * (i + 1); 400])
            .unwrap();
    }
    engine
        .command(MediaCommand::PlayLive { call, stream })
        .unwrap();
    engine.live_buffer(stream, vec![500; 160]).unwrap();
    engine.live_end(stream).unwrap();
    let mut buf = [0u8; 1500];
    let mut payloads = Vec::new();
    while payloads.len() < 11 {
        let (n, from) = gateway.recv_from(&mut buf).await.unwrap();
        if from.port() != port {
            continue;
        }
        payloads.push(Repr::parse_bytes(&buf[..n]).unwrap().payload.to_vec());
    }
    assert_eq!(next_event(&mut events).await, MediaEvent::PlayDone { call });
    let decoded: Vec<i16> = payloads
        .concat()
        .iter()
        .map(|&c| Law::Ulaw.decode_sample(c))
        .collect();
    let mut sent = Vec::new();
    for i in 0..4i16 {
        sent.extend(vec![
            Law::Ulaw.decode_sample(
                Law::Ulaw.encode_sample(100 * (i + 1))
            );
            400
        ]);
    }
    sent.extend(vec![
        Law::Ulaw.decode_sample(Law::Ulaw.encode_sample(500));
        160
    ]);
    assert_eq!(
        decoded, sent,
        "everything, in order, below the catch-up threshold"
    );
}

#[tokio::test(start_paused = true)]
async fn live_buffers_addressed_by_call_play_then_play_done() {
    let port = free_rtp_port();
    let (_dir, engine, mut events, gateway) = setup(port, 0).await;
    let call = CallId(1);
    let stream = station_manager::StreamId(6);
    engine
        .command(MediaCommand::PlayLive { call, stream })
        .unwrap();
    for i in 0..3i16 {
        engine
            .command(MediaCommand::LiveBuffer {
                call,
                pcm: vec![1000 * (i + 1); 160],
            })
            .unwrap();
    }
    engine.command(MediaCommand::LiveEnd { call }).unwrap();
    let mut buf = [0u8; 1500];
    let mut codes = Vec::new();
    while codes.len() < 3 {
        let (n, from) = gateway.recv_from(&mut buf).await.unwrap();
        if from.port() == port {
            codes.push(Repr::parse_bytes(&buf[..n]).unwrap().payload[0]);
        }
    }
    assert_eq!(
        codes,
        [1000, 2000, 3000].map(|s| Law::Ulaw.encode_sample(s))
    );
    assert_eq!(next_event(&mut events).await, MediaEvent::PlayDone { call });
}

/// RTP audio packets (not RTCP) that reach the gateway within `window` of virtual time.
async fn received(gateway: &UdpSocket, port: u16, window: Duration) -> Vec<Vec<u8>> {
    let mut buf = [0u8; 1500];
    let mut got = Vec::new();
    let end = tokio::time::Instant::now() + window;
    while let Ok(r) = tokio::time::timeout_at(end, gateway.recv_from(&mut buf)).await {
        let (n, from) = r.unwrap();
        if from.port() == port {
            got.push(Repr::parse_bytes(&buf[..n]).unwrap().payload.to_vec());
        }
    }
    got
}

#[tokio::test(start_paused = true)]
async fn a_prompt_plays_as_rtp_of_its_length_then_play_done() {
    let port = free_rtp_port();
    let (_dir, engine, mut events, gateway) = setup(port, 0).await;
    let call = CallId(1);
    engine
        .command(MediaCommand::PlayPrompt {
            call,
            prompt: Prompt::Goodbye,
        })
        .unwrap();
    let got = received(&gateway, port, Duration::from_secs(2)).await;
    let want: Vec<Vec<u8>> = (100..125u8).map(|c| vec![c; 160]).collect();
    assert_eq!(got, want, "the prompt's 25 frames, in order, once");
    assert_eq!(next_event(&mut events).await, MediaEvent::PlayDone { call });

    // A prompt with no recording fails cleanly.
    engine
        .command(MediaCommand::PlayPrompt {
            call,
            prompt: Prompt::Menu,
        })
        .unwrap();
    match next_event(&mut events).await {
        MediaEvent::Failed { call: c, reason } => {
            assert_eq!(c, call);
            assert!(reason.contains("menu"), "{reason}");
        }
        other => panic!("{other:?}"),
    }

    // StopPlay stops a long prompt, with no PlayDone.
    engine
        .command(MediaCommand::PlayPrompt {
            call,
            prompt: Prompt::EnterNumber,
        })
        .unwrap();
    let first = received(&gateway, port, Duration::from_millis(205)).await;
    assert!((9..=12).contains(&first.len()), "{}", first.len());
    engine.command(MediaCommand::StopPlay { call }).unwrap();
    let after = received(&gateway, port, Duration::from_secs(1)).await;
    assert!(after.len() <= 1, "{} packets after StopPlay", after.len());
    assert!(
        tokio::time::timeout(Duration::from_secs(5), events.recv())
            .await
            .is_err(),
        "no PlayDone after StopPlay"
    );
}

/// 480+620 Hz, 0.5 s on / 0.5 s off (busy, ANSI T1.401), frame `n` of it, at about −20 dBm0.
fn busy(n: usize) -> [u8; 160] {
    let mut codes = [0u8; 160];
    let pcm: Vec<i16> = (0..160)
        .map(|i| {
            let k = n * 160 + i;
            if k % 8000 >= 4000 {
                return 0;
            }
            let t = k as f64 / 8000.0;
            let s = (t * std::f64::consts::TAU * 480.0).sin()
                + (t * std::f64::consts::TAU * 620.0).sin();
            (s * 1600.0) as i16
        })
        .collect();
    Law::Ulaw.encode(&pcm, &mut codes).unwrap();
    codes
}

#[tokio::test(start_paused = true)]
async fn busy_tone_on_the_line_is_reported_as_progress() {
    let port = free_rtp_port();
    let (_dir, engine, mut events, gateway) = setup(port, 0).await;
    let call = CallId(1);
    engine
        .command(MediaCommand::WatchProgress { call })
        .unwrap();
    let mut tick = tokio::time::interval(Duration::from_millis(20));
    tick.tick().await;
    let to = format!("127.0.0.1:{port}");
    for n in 0..150usize {
        tick.tick().await;
        let codes = busy(n);
        let repr = Repr {
            marker: n == 0,
            payload_type: 0,
            sequence_number: SequenceNumber(n as u16),
            timestamp: Timestamp(n as u32 * 160),
            ssrc: Ssrc(9),
            csrcs: Csrcs::default(),
            extension: None,
            payload: &codes,
            padding: 0,
        };
        let mut b = vec![0; repr.buffer_len()];
        repr.emit(&mut b).unwrap();
        gateway.send_to(&b, &to).await.unwrap();
    }
    assert_eq!(
        next_event(&mut events).await,
        MediaEvent::Progress {
            call,
            heard: Progress::Busy
        }
    );
    // Watching a call that is not open fails.
    engine
        .command(MediaCommand::WatchProgress { call: CallId(99) })
        .unwrap();
    assert!(matches!(
        next_event(&mut events).await,
        MediaEvent::Failed {
            call: CallId(99),
            ..
        }
    ));
}
