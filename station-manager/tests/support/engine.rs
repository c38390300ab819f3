//! The real media engine core ([`Stream`], one per call) driven in virtual time, in place of
//! the tokio driver: each [`MediaCommand`] is carried out on the call's [`Stream`] as the
//! driver's call task does, recordings go to memory instead of WAV files, stored messages come
//! from a map, and every datagram the engine sends is kept, as the gateway would receive it.
//!
//! The gateway's side of the RTP is [`Phone`]: it builds real RTP packets (RFC 3550) of G.711
//! audio and RFC 4733 key presses with `codecs`' types, and hands them to the call's stream as
//! datagrams from the gateway's media address.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use codecs::dtmf::{self, EventPackets};
use codecs::g711::Law;
use codecs::rtp::{self, SequenceNumber, Ssrc, Timestamp};
use gateway_control::model::CallId;
use station_manager::media::{
    CaptureSink, Config, FrameSource, LiveQueue, SourceError, Stream, Transmit,
};
use station_manager::{MediaCommand, MediaEvent, MessageId, StreamId};

/// Samples in one 20 ms frame at 8 kHz.
pub(crate) const FRAME: usize = 160;

/// What one recording captured, shared between its sink and the test.
#[derive(Debug, Clone, Default)]
pub(crate) struct Captured(Arc<Mutex<Vec<i16>>>);

impl Captured {
    pub(crate) fn samples(&self) -> Vec<i16> {
        self.0.lock().unwrap().clone()
    }
}

struct MemorySink {
    into: Captured,
    path: PathBuf,
}

impl CaptureSink for MemorySink {
    fn write(&mut self, pcm: &[i16]) -> io::Result<()> {
        self.into.0.lock().unwrap().extend_from_slice(pcm);
        Ok(())
    }

    fn finish(self: Box<Self>) -> io::Result<PathBuf> {
        Ok(self.path)
    }
}

/// A stored message's G.711 codes, played frame by frame.
struct StoredMessage {
    codes: Vec<u8>,
    at: usize,
}

impl FrameSource for StoredMessage {
    fn next_frame(&mut self, out: &mut [u8]) -> Result<bool, SourceError> {
        if self.at >= self.codes.len() {
            return Ok(false);
        }
        let end = (self.at + out.len()).min(self.codes.len());
        let n = end - self.at;
        out[..n].copy_from_slice(&self.codes[self.at..end]);
        out[n..].fill(Law::Ulaw.encode_sample(0));
        self.at = end;
        Ok(true)
    }

    fn next_pcm(&mut self, out: &mut [i16]) -> Result<bool, SourceError> {
        if self.at >= self.codes.len() {
            return Ok(false);
        }
        let end = (self.at + out.len()).min(self.codes.len());
        let n = end - self.at;
        for (o, &c) in out.iter_mut().zip(&self.codes[self.at..end]) {
            *o = Law::Ulaw.decode_sample(c);
        }
        out[n..].fill(0);
        self.at = end;
        Ok(true)
    }
}

/// A datagram the engine sent, and when.
#[derive(Debug, Clone)]
pub(crate) struct Sent {
    pub(crate) at: Instant,
    pub(crate) call: CallId,
    pub(crate) transmit: Transmit,
}

impl Sent {
    /// The RTP packet, if it is one.
    pub(crate) fn rtp(&self) -> Option<rtp::Repr<'_>> {
        if self.transmit.rtcp {
            return None;
        }
        rtp::Repr::parse_bytes(&self.transmit.payload).ok()
    }
}

/// The media engine: real [`Stream`] cores, in memory.
pub(crate) struct Engine {
    config: Config,
    streams: BTreeMap<CallId, (Stream, Option<StreamId>)>,
    /// The message store (µ-law codes, 8 kHz).
    pub(crate) store: HashMap<MessageId, Vec<u8>>,
    /// Every recording started, by call, in order.
    pub(crate) recordings: Vec<(CallId, Captured)>,
    pub(crate) events: VecDeque<MediaEvent>,
    /// Every datagram sent, in order.
    pub(crate) sent: Vec<Sent>,
    /// Every command received, in order.
    pub(crate) log: Vec<MediaCommand>,
    /// Datagrams that arrived for a call already closed.
    pub(crate) closed_port: usize,
}

impl Engine {
    pub(crate) fn new() -> Self {
        Self {
            config: Config::default(),
            streams: BTreeMap::new(),
            store: HashMap::new(),
            recordings: Vec::new(),
            events: VecDeque::new(),
            sent: Vec::new(),
            log: Vec::new(),
            closed_port: 0,
        }
    }

    pub(crate) fn stream(&self, call: CallId) -> Option<&Stream> {
        self.streams.get(&call).map(|(s, _)| s)
    }

    pub(crate) fn handle(&mut self, now: Instant, cmd: MediaCommand) {
        self.log.push(cmd.clone());
        if let MediaCommand::Open { call, port, line } = cmd {
            // The wall clock only stamps RTCP sender reports.
            let wall = Duration::from_secs(1_800_000_000);
            let s = Stream::new(now, wall, call, line, port, &self.config);
            assert!(self.streams.insert(call, (s, None)).is_none());
            return;
        }
        let call = command_call(&cmd);
        if let MediaCommand::Close { call } = cmd {
            let Some((mut s, _)) = self.streams.remove(&call) else {
                return self.fail(call, "no media open for this call");
            };
            s.handle_stop_capture(now);
            s.handle_stop_play();
            self.flush(now, &mut s);
            return;
        }
        let Some((mut s, mut live)) = self.streams.remove(&call) else {
            return self.fail(call, "no media open for this call");
        };
        match cmd {
            MediaCommand::Remote { remote, .. } => s.handle_remote(now, remote),
            MediaCommand::StartCapture {
                silence,
                max_length,
                live_buffer,
                ..
            } => {
                let into = Captured::default();
                let n = self.recordings.len();
                self.recordings.push((call, into.clone()));
                let path = PathBuf::from(format!("memory/{call}-{n}.wav"));
                let sink = Box::new(MemorySink { into, path });
                s.handle_start_capture(now, sink, silence, max_length, live_buffer);
            }
            MediaCommand::StopCapture { .. } => s.handle_stop_capture(now),
            MediaCommand::PlayMessage { message, .. } => match self.store.get(&message) {
                Some(codes) => {
                    let source = StoredMessage {
                        codes: codes.clone(),
                        at: 0,
                    };
                    s.handle_play_message(now, Box::new(source));
                }
                None => self.events.push_back(MediaEvent::Failed {
                    call,
                    reason: "message audio: no such message".into(),
                }),
            },
            MediaCommand::PlayLive { stream, .. } => {
                live = Some(stream);
                s.handle_play_live(now, stream, LiveQueue::new(&self.config));
            }
            MediaCommand::LiveBuffer { pcm, .. } => {
                if let Some(id) = live {
                    s.handle_live_buffer(id, &pcm);
                }
            }
            MediaCommand::LiveEnd { .. } => {
                if let Some(id) = live {
                    s.handle_live_end(id);
                }
            }
            MediaCommand::StopPlay { .. } => s.handle_stop_play(),
            other => panic!("unexpected media command {other:?}"),
        }
        self.flush(now, &mut s);
        self.streams.insert(call, (s, live));
    }

    fn fail(&mut self, call: CallId, reason: &str) {
        self.events.push_back(MediaEvent::Failed {
            call,
            reason: reason.into(),
        });
    }

    /// Drains a stream in the documented order: transmit, events, the finished recording.
    fn flush(&mut self, now: Instant, s: &mut Stream) {
        while let Some(transmit) = s.poll_transmit() {
            self.sent.push(Sent {
                at: now,
                call: s.call(),
                transmit,
            });
        }
        while let Some(e) = s.poll_event() {
            self.events.push_back(e);
        }
        if let Some(f) = s.poll_finished() {
            let event = match f.sink.finish() {
                Ok(file) => MediaEvent::Captured {
                    call: f.call,
                    file,
                    duration: f.duration,
                    speech: f.speech,
                },
                Err(e) => MediaEvent::Failed {
                    call: f.call,
                    reason: format!("recording: {e}"),
                },
            };
            self.events.push_back(event);
        }
    }

    /// A datagram from the gateway's media address arrives on `call`'s RTP port (lost if the
    /// call was closed: nothing listens there any more).
    pub(crate) fn receive(&mut self, now: Instant, call: CallId, datagram: &[u8]) {
        let Some((s, _)) = self.streams.get_mut(&call) else {
            self.closed_port += 1;
            return;
        };
        let from = s.remote().expect("the gateway's media is known").address;
        s.handle_datagram(now, from, datagram);
        let mut s = self.streams.remove(&call).unwrap();
        self.flush(now, &mut s.0);
        self.streams.insert(call, s);
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let due: Vec<CallId> = self
            .streams
            .iter()
            .filter(|(_, (s, _))| s.poll_timeout().is_some_and(|t| t <= now))
            .map(|(c, _)| *c)
            .collect();
        for call in due {
            let mut s = self.streams.remove(&call).unwrap();
            s.0.handle_timeout(now);
            self.flush(now, &mut s.0);
            self.streams.insert(call, s);
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.streams
            .values()
            .filter_map(|(s, _)| s.poll_timeout())
            .min()
    }

    /// The RTP packets sent on `call` (what the phone hears), in order.
    pub(crate) fn heard(&self, call: CallId) -> Vec<(Instant, Vec<u8>)> {
        self.sent
            .iter()
            .filter(|s| s.call == call)
            .filter_map(|s| Some((s.at, s.rtp()?.payload.to_vec())))
            .collect()
    }
}

fn command_call(cmd: &MediaCommand) -> CallId {
    match cmd {
        MediaCommand::Open { call, .. }
        | MediaCommand::Remote { call, .. }
        | MediaCommand::StartCapture { call, .. }
        | MediaCommand::StopCapture { call }
        | MediaCommand::PlayMessage { call, .. }
        | MediaCommand::PlayLive { call, .. }
        | MediaCommand::LiveBuffer { call, .. }
        | MediaCommand::LiveEnd { call }
        | MediaCommand::StopPlay { call }
        | MediaCommand::Close { call } => *call,
        other => panic!("unexpected media command {other:?}"),
    }
}

/// The gateway's RTP sender for one call: G.711 µ-law audio (payload type 0) and RFC 4733
/// telephone events on payload type `event_pt`, sharing one sequence-number and timestamp
/// space (RFC 4733 §2.1); the first audio packet of each talkspurt has the marker bit
/// (RFC 3551 §4.1).
pub(crate) struct Phone {
    event_pt: u8,
    seq: SequenceNumber,
    ts: Timestamp,
    ssrc: Ssrc,
    talkspurt: bool,
}

impl Phone {
    pub(crate) fn new(event_pt: u8) -> Self {
        Self {
            event_pt,
            seq: SequenceNumber(40_000),
            ts: Timestamp(7_000),
            ssrc: Ssrc(0x5eed_0001),
            talkspurt: true,
        }
    }

    fn packet(&mut self, marker: bool, pt: u8, ts: Timestamp, payload: &[u8]) -> Vec<u8> {
        let repr = rtp::Repr {
            marker,
            payload_type: pt,
            sequence_number: self.seq,
            timestamp: ts,
            ssrc: self.ssrc,
            csrcs: rtp::Csrcs::default(),
            extension: None,
            payload,
            padding: 0,
        };
        self.seq = self.seq.wrapping_add(1);
        let mut b = vec![0; repr.buffer_len()];
        let n = repr.emit(&mut b).unwrap();
        b.truncate(n);
        b
    }

    /// The next 20 ms audio packet carrying `pcm` (160 samples).
    pub(crate) fn audio(&mut self, pcm: &[i16]) -> Vec<u8> {
        let mut codes = [0u8; FRAME];
        Law::Ulaw.encode(pcm, &mut codes).unwrap();
        let marker = std::mem::take(&mut self.talkspurt);
        let b = self.packet(marker, 0, self.ts, &codes);
        self.ts = self.ts.wrapping_add(FRAME as u32);
        b
    }

    /// The RFC 4733 packets of `key` held 100 ms, updates every 50 ms (RFC 4733 §2.5.1), each
    /// with the time after the key went down at which it is sent (in 8 kHz ticks). The audio
    /// timestamp moves on by the event's length, and the next audio starts a talkspurt.
    pub(crate) fn key(&mut self, key: char) -> Vec<(u32, Vec<u8>)> {
        let digit = dtmf::Digit::from_char(key).expect("a DTMF key");
        let start = self.ts;
        let mut out = Vec::new();
        for p in EventPackets::new(digit, 10, 800, 400) {
            let mut payload = [0u8; 4];
            p.payload.emit(&mut payload).unwrap();
            let ts = start.wrapping_add(p.timestamp_offset);
            let b = self.packet(p.marker, self.event_pt, ts, &payload);
            out.push((p.send_at, b));
        }
        self.ts = self.ts.wrapping_add(800);
        self.talkspurt = true;
        out
    }
}

/// A 20 ms frame `n` of a voice-like test signal: a 300 Hz tone whose loudness varies as a
/// talker's does, so the voice-activity detector hears speech.
pub(crate) fn voice(n: usize) -> Vec<i16> {
    (0..FRAME)
        .map(|i| {
            let t = (n * FRAME + i) as f64 / 8000.0;
            let envelope = 0.6 + 0.4 * (2.0 * std::f64::consts::PI * 3.0 * t).sin();
            let s = 8000.0 * envelope * (2.0 * std::f64::consts::PI * 300.0 * t).sin();
            s as i16
        })
        .collect()
}

/// `ms` of a voice-like signal as a stored message, in µ-law codes. The first two codes of
/// each 20 ms frame are `tag` and the frame's number (below 256), so that a packet heard names
/// the message and the frame it carries.
pub(crate) fn message_audio(ms: usize, tag: u8) -> Vec<u8> {
    let frames = ms / 20;
    assert!(frames <= 256);
    let mut codes = vec![0u8; frames * FRAME];
    for (n, frame) in codes.chunks_mut(FRAME).enumerate() {
        Law::Ulaw.encode(&voice(n), frame).unwrap();
        frame[0] = tag;
        frame[1] = n as u8;
    }
    codes
}
