//! The sans-IO core of one call's media.
//!
//! RTP (RFC 3550, RFC 3551 PCMU/PCMA, RFC 7587 Opus), RFC 4733 telephone events, RTCP
//! reports (RFC 3550 §6.4) and paced playout for one [`CallId`]. See [`Stream`] for the
//! driving loop.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use codecs::cleanup::{FrameLen, SampleRate, SilenceTimer, Vad, VadConfig};
use codecs::dtmf;
use codecs::jitter::{FrameKind, JitterBuffer, Push};
use codecs::rtcp::ReceiverStats;
use codecs::rtp::{self, Packetizer, SequenceNumber, Ssrc, Timestamp};
use gateway_control::model::{CallId, Digit, LineId, Media};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, trace, warn};

use super::{CaptureSink, Config, FrameSource, LiveQueue, Stats};
use crate::{MediaEvent, StreamId};

/// Samples per second of the PCM the stream records and plays (G.711's rate; Opus is
/// decoded to and encoded from it).
const RATE: u32 = 8000;
/// Samples per jitter-buffer frame (20 ms; [`Config::jitter`] enforces it).
pub(crate) const FRAME: usize = 160;
/// Frames tracked ahead of the jitter buffer's head (its own hard limit).
const WINDOW: usize = 4096;
/// Largest timestamp gap filled with silence in a recording (longer ones are a restart).
const MAX_GAP_SAMPLES: u32 = 60 * RATE;
/// Most packets sent at once when the playout timer fired late; beyond, playout re-anchors.
const MAX_BURST: u32 = 3;
/// Largest datagram sent (an RTP header and 60 ms of G.711 fit many times over).
const MAX_TRANSMIT: usize = 1500;
/// Seconds from 1900 (NTP era 0) to 1970.
const NTP_UNIX_OFFSET: u64 = 2_208_988_800;

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// From the RTCP socket (port + 1) rather than the RTP one.
    pub rtcp: bool,
    /// The bytes.
    pub payload: Vec<u8>,
}

/// A capture that stopped: its sink still has to be finished (a blocking file operation the
/// driver runs off its async threads), then reported as [`MediaEvent::Captured`].
pub struct Finished {
    /// The connection.
    pub call: CallId,
    /// The sink to finish.
    pub sink: Box<dyn CaptureSink>,
    /// Length of the audio written.
    pub duration: Duration,
    /// How much of it the voice-activity detector judged speech (zero: nothing was said).
    pub speech: Duration,
}

impl std::fmt::Debug for Finished {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finished")
            .field("call", &self.call)
            .field("duration", &self.duration)
            .field("speech", &self.speech)
            .finish_non_exhaustive()
    }
}

/// The one timer of a stream is the earliest of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The jitter buffer's next frame is due (a frame is missing, or the first is early).
    Jitter,
    /// The next playout packet.
    Play,
    /// The next RTCP report.
    Rtcp,
    /// No audio at all for the silence time (the gateway suppresses silence).
    CaptureIdle,
}

struct Capture {
    sink: Box<dyn CaptureSink>,
    samples: u64,
    max_samples: u64,
    /// Voice-activity detection over everything captured: it decides whether anything was
    /// said (`speech_samples`) and drives the silence timer, if any.
    vad: Vad,
    speech_samples: u64,
    silence: Option<(Duration, SilenceTimer)>,
    decisions: Vec<codecs::cleanup::FrameDecision>,
    live: Option<(usize, Vec<i16>, u64)>,
    /// Timestamp after the last frame written, for gap filling.
    next_ts: Option<Timestamp>,
    /// Concealment with nothing buffered behind it, held back until audio resumes (it is
    /// dropped if the talkspurt ended instead).
    held: Vec<i16>,
    last_frame: Instant,
    silence_reported: bool,
    max_reported: bool,
}

enum Source {
    Message(Box<dyn FrameSource>),
    Live(StreamId, LiveQueue),
}

struct Playout {
    source: Source,
    packetizer: Packetizer,
    next: Instant,
    /// One frame of PCM: the G.711 frame, or 20 ms for Opus, whichever is longer.
    pcm: Vec<i16>,
    /// One G.711 frame (ptime at start).
    codes: Vec<u8>,
    /// The Opus encoder and its output, made at the first Opus frame.
    opus: Option<codec::OpusOut>,
}

/// The media of one call. Inputs: [`Self::handle_remote`] and the other `handle_*` methods,
/// [`Self::handle_datagram`] / [`Self::handle_rtcp`] for what arrives on the RTP and RTCP
/// ports, and [`Self::handle_timeout`]. After each input the caller drains, in this order,
/// [`Self::poll_transmit`] (send), [`Self::poll_event`] (report), [`Self::poll_finished`]
/// (finish a recording file) and finally [`Self::poll_timeout`] (when to call
/// `handle_timeout` next).
///
/// Before [`Self::handle_remote`] every datagram is dropped and counted in
/// `Stats::before_remote`: Offhook opens the port before the gateway connection exists, so
/// anything arriving then is not the call's media (osmo-mgw's dummy packet comes after CRCX,
/// and the call agent learns the gateway's address from the CRCX answer before any audio
/// matters). Latching the first source would let a stray sender own the call.
///
/// Within the gateway's address, the stream is pinned to the first synchronisation source
/// (SSRC) whose audio or telephone event it accepts; packets of any other SSRC are dropped and
/// counted in `Stats::wrong_ssrc`. MGCP has no authentication, so a sender on the LAN that
/// forges the gateway's address could otherwise mix its audio into a recording (as Asterisk's
/// `strictrtp` pins a stream to its first source). The pin is released only when the gateway's
/// address changes ([`Self::handle_remote`] with a new address): a gateway that restarts its
/// stream under a new SSRC in the middle of a connection is not followed (its packets are
/// counted, so an operator sees it), because following it would hand the call to whichever
/// forger speaks first after a pause in the real audio (silence suppression makes pauses
/// common).
///
/// Received audio is popped from the jitter buffer as soon as the frame at its head is
/// present, not at its scheduled playout time: a recording and a live buffer have no playout
/// clock to wait for, and this keeps the latency of in-order audio to the processing time. The
/// schedule still decides when a missing frame is given up and concealed.
pub struct Stream {
    call: CallId,
    line: LineId,
    config: Config,
    port: u16,
    remote: Option<Media>,
    jitter: JitterBuffer,
    /// PCM samples per received frame (20 ms at 8 kHz).
    frame: usize,
    /// RTP clock ticks per PCM sample of the remote codec: 1 for G.711, 6 for Opus (48 kHz).
    ticks: u32,
    /// Timestamp of the jitter buffer's head frame, and which of the next frames are held.
    expected: Option<Timestamp>,
    window: VecDeque<bool>,
    scratch: Vec<i16>,
    dtmf: dtmf::Receiver,
    reception: Option<ReceiverStats>,
    capture: Option<Capture>,
    play: Option<Playout>,
    /// Call-progress detection, once asked for.
    watch: Option<progress::Watch>,
    events: VecDeque<MediaEvent>,
    transmits: VecDeque<Transmit>,
    finished: Option<Finished>,
    stats: Stats,
    rng: StdRng,
    ssrc: Ssrc,
    next_seq: SequenceNumber,
    next_ts: Timestamp,
    rtcp_due: Instant,
    /// `(instant, seconds since the Unix epoch then)` for SR NTP timestamps.
    wall: (Instant, Duration),
    sent_octets: u32,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("call", &self.call)
            .field("port", &self.port)
            .field("remote", &self.remote)
            .field("capturing", &self.capture.is_some())
            .field("playing", &self.play.is_some())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Stream {
    /// The media of `call` on local RTP `port`. `wall` is the time since the Unix epoch at
    /// `now` (for RTCP sender reports).
    pub fn new(
        now: Instant,
        wall: Duration,
        call: CallId,
        line: LineId,
        port: u16,
        config: &Config,
    ) -> Self {
        let mut rng = StdRng::seed_from_u64(config.seed ^ call.0.rotate_left(17));
        let ssrc = Ssrc(rng.r#gen());
        let next_seq = SequenceNumber(rng.r#gen());
        let next_ts = Timestamp(rng.r#gen());
        let jitter = JitterBuffer::new(config.jitter.clone());
        let frame = FRAME;
        let first_report = config.rtcp_interval.mul_f64(rng.gen_range(0.5..1.5));
        Self {
            call,
            line,
            port,
            remote: None,
            frame,
            ticks: 1,
            jitter,
            expected: None,
            window: VecDeque::new(),
            scratch: vec![0; frame],
            dtmf: dtmf::Receiver::new(),
            reception: None,
            capture: None,
            play: None,
            watch: None,
            events: VecDeque::new(),
            transmits: VecDeque::new(),
            finished: None,
            stats: Stats::default(),
            rng,
            ssrc,
            next_seq,
            next_ts,
            rtcp_due: now + first_report,
            wall: (now, wall),
            sent_octets: 0,
            config: config.clone(),
        }
    }

    /// The connection.
    pub fn call(&self) -> CallId {
        self.call
    }

    /// Offhook's RTP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// The gateway's side, once known.
    pub fn remote(&self) -> Option<&Media> {
        self.remote.as_ref()
    }

    /// Whether a capture is running.
    pub fn is_capturing(&self) -> bool {
        self.capture.is_some()
    }

    /// Whether something is playing.
    pub fn is_playing(&self) -> bool {
        self.play.is_some()
    }

    /// Counters, including the jitter buffer's.
    pub fn stats(&self) -> Stats {
        let j = self.jitter.stats();
        let mut s = self.stats;
        // `self.stats` holds the counts of jitter buffers replaced on a codec change.
        s.duplicates += j.duplicates;
        s.late += j.late;
        s.invalid += j.invalid;
        s.reordered += j.reordered;
        s.lost_frames += j.lost;
        s.fec_recovered += j.fec_recovered;
        if let Some(Playout {
            source: Source::Live(_, q),
            ..
        }) = &self.play
        {
            s.live_dropped += q.dropped;
            s.live_skipped += q.skipped;
        }
        s
    }

    /// The gateway's side of the connection is known (or changed): send there, accept only
    /// from there.
    pub fn handle_remote(&mut self, now: Instant, remote: Media) {
        debug!(call = %self.call, line = %self.line, remote = %remote.address, codec = remote.codec.name(), "remote media");
        if let Some(p) = self.play.as_mut()
            && self.remote.is_some_and(|r| r.codec != remote.codec)
        {
            p.packetizer = Packetizer::new(
                self.ssrc,
                remote.codec.payload_type(),
                self.next_seq,
                self.next_ts,
            );
        }
        if self.remote.is_some_and(|r| r.address != remote.address) {
            // Another source: pin again on its first packet.
            self.reception = None;
        }
        self.remote = Some(remote);
        if self.jitter.payload() != codec::payload(remote.codec) {
            self.change_codec(now, remote.codec);
        }
    }

    /// A datagram arrived on the RTP port from `from` at `now`.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, datagram: &[u8]) {
        self.stats.datagrams += 1;
        let Some(remote) = self.remote else {
            self.stats.before_remote += 1;
            debug!(call = %self.call, %from, "RTP before the remote is known: dropped");
            return;
        };
        if from != remote.address {
            self.stats.wrong_source += 1;
            debug!(call = %self.call, %from, expected = %remote.address, "RTP from the wrong source: dropped");
            return;
        }
        let repr = match rtp::Repr::parse_bytes(datagram) {
            Ok(r) => r,
            Err(error) => {
                self.stats.malformed += 1;
                debug!(call = %self.call, %error, len = datagram.len(), "malformed RTP: dropped");
                return;
            }
        };
        if let Some(r) = &self.reception
            && r.ssrc() != repr.ssrc
        {
            self.stats.wrong_ssrc += 1;
            debug!(call = %self.call, ssrc = repr.ssrc.0, pinned = r.ssrc().0, "RTP from another SSRC than the stream's: dropped");
            return;
        }
        trace!(call = %self.call, seq = repr.sequence_number.0, ts = repr.timestamp.0, pt = repr.payload_type, "rtp");
        if repr.payload_type == remote.codec.payload_type() {
            self.stats.audio_packets += 1;
            self.count_reception(now, &repr);
            self.handle_audio(now, &repr);
        } else if Some(repr.payload_type) == remote.telephone_event {
            self.stats.event_packets += 1;
            self.count_reception(now, &repr);
            if let Some(d) = self
                .dtmf
                .handle(repr.marker, repr.timestamp, repr.payload)
                .and_then(|d| d.digit.as_char())
                .and_then(Digit::new)
            {
                self.stats.digits += 1;
                debug!(call = %self.call, digit = %d, "digit");
                self.events.push_back(MediaEvent::Digit {
                    call: self.call,
                    digit: d,
                });
            }
        } else {
            self.stats.wrong_payload_type += 1;
            debug!(call = %self.call, pt = repr.payload_type, "unexpected payload type: dropped");
        }
    }

    /// Counts an accepted packet; the first one pins the stream to its SSRC.
    fn count_reception(&mut self, now: Instant, repr: &rtp::Repr<'_>) {
        let clock = self.remote.map_or(RATE, |r| r.codec.clock_rate());
        self.reception
            .get_or_insert_with(|| ReceiverStats::new(repr.ssrc, clock))
            .handle_rtp(now, repr.sequence_number, repr.timestamp);
    }

    fn handle_audio(&mut self, now: Instant, repr: &rtp::Repr<'_>) {
        let idle = self.jitter.poll_timeout().is_none();
        if self.jitter.push(now, repr) == Push::Accepted {
            let step = self.frame_ticks() as usize;
            let frames = if self.ticks == 1 {
                repr.payload.len() / self.frame
            } else {
                codec::opus_ticks(repr.payload) as usize / step
            };
            if idle || self.expected.is_none() {
                self.expected = Some(repr.timestamp);
                self.window.clear();
            }
            let cap = WINDOW;
            for f in 0..frames {
                let ts = repr.timestamp.wrapping_add((f * step) as u32);
                let Some(expected) = self.expected else { break };
                let d = ts.distance(expected);
                if d < 0 || !(d as usize).is_multiple_of(step) {
                    continue;
                }
                let i = d as usize / step;
                if i >= cap {
                    continue;
                }
                if self.window.len() <= i {
                    self.window.resize(i + 1, false);
                }
                self.window[i] = true;
            }
        }
        self.drain_jitter(now);
    }

    /// Pops every frame that is present at the head or due.
    fn drain_jitter(&mut self, now: Instant) {
        loop {
            let at = match self.jitter.poll_timeout() {
                Some(due) if self.window.front() == Some(&true) => due.max(now),
                Some(_) => now,
                None => return,
            };
            let Some(frame) = self.jitter.pop(at) else {
                return;
            };
            let ts = frame.timestamp;
            let kind = frame.kind;
            self.scratch.copy_from_slice(frame.pcm);
            if Some(ts) == self.expected {
                self.window.pop_front();
            } else {
                self.window.clear();
            }
            self.expected = Some(ts.wrapping_add(self.frame_ticks()));
            let underrun = kind == FrameKind::Concealed && self.jitter.is_empty();
            self.watch_frame(ts, underrun);
            self.capture_frame(now, ts, kind, underrun);
        }
    }

    fn capture_frame(&mut self, now: Instant, ts: Timestamp, kind: FrameKind, underrun: bool) {
        let Some(c) = self.capture.as_mut() else {
            return;
        };
        let n = self.scratch.len();
        if underrun {
            // Bounded by the jitter buffer's max_conceal before it goes idle.
            if c.held.len() < 64 * n {
                c.held.extend_from_slice(&self.scratch);
            }
            return;
        }
        c.last_frame = now;
        let ticks = self.ticks as i32;
        if let Some(next) = c.next_ts {
            let held = c.held.len() as i32;
            // In samples: RTP ticks over ticks per sample (a partial sample is dropped).
            let gap = ts.distance(next) / ticks;
            if held > 0 && gap == held {
                // Audio resumed right after the held-back concealment: it was a real loss.
                let held = std::mem::take(&mut c.held);
                self.stats.concealed_frames += (held.len() / n) as u64;
                let (call, stats, events) = (self.call, &mut self.stats, &mut self.events);
                write(now, call, c, &held, stats, events);
            } else {
                c.held.clear();
                if gap > 0 && gap as u32 <= MAX_GAP_SAMPLES {
                    self.stats.gap_samples += gap as u64;
                    let zeros = vec![0i16; gap as usize];
                    let (call, stats, events) = (self.call, &mut self.stats, &mut self.events);
                    write(now, call, c, &zeros, stats, events);
                }
            }
        }
        let Some(c) = self.capture.as_mut() else {
            return;
        };
        if kind == FrameKind::Concealed {
            self.stats.concealed_frames += 1;
        }
        c.next_ts = Some(ts.wrapping_add(n as u32 * self.ticks));
        let (call, stats, events) = (self.call, &mut self.stats, &mut self.events);
        write(now, call, c, &self.scratch, stats, events);
    }

    /// Starts capturing into `sink`. A capture already running is stopped first.
    pub fn handle_start_capture(
        &mut self,
        now: Instant,
        sink: Box<dyn CaptureSink>,
        silence: Option<Duration>,
        max_length: Duration,
        live_buffer: Option<usize>,
    ) {
        self.handle_stop_capture(now);
        debug!(call = %self.call, ?silence, ?max_length, ?live_buffer, "capture starts");
        let rate = SampleRate::Hz8000;
        self.capture = Some(Capture {
            sink,
            samples: 0,
            max_samples: (max_length.as_micros() * u128::from(RATE) / 1_000_000) as u64,
            vad: Vad::new(
                VadConfig {
                    frame: FrameLen::Ms20,
                    ..VadConfig::default()
                },
                rate,
            ),
            speech_samples: 0,
            silence: silence.map(|d| (d, SilenceTimer::new(rate, d))),
            decisions: Vec::new(),
            live: live_buffer
                .filter(|&n| n > 0)
                .map(|n| (n, Vec::with_capacity(n), 0)),
            next_ts: None,
            held: Vec::new(),
            last_frame: now,
            silence_reported: false,
            max_reported: false,
        });
    }

    /// Stops capturing: the frames still buffered are written, the last live buffer (if
    /// shorter) is reported, and the sink is handed out by [`Self::poll_finished`].
    pub fn handle_stop_capture(&mut self, now: Instant) {
        if self.capture.is_none() {
            return;
        }
        self.flush_jitter(now);
        let Some(mut c) = self.capture.take() else {
            return;
        };
        if let Some((_, buf, seq)) = c.live.as_mut()
            && !buf.is_empty()
        {
            self.events.push_back(MediaEvent::Buffer {
                call: self.call,
                seq: *seq,
                pcm: std::mem::take(buf),
                received: now,
            });
        }
        let duration = Duration::from_micros(c.samples * 1_000_000 / u64::from(RATE));
        let speech = Duration::from_micros(c.speech_samples * 1_000_000 / u64::from(RATE));
        debug!(call = %self.call, samples = c.samples, speech_samples = c.speech_samples, "capture stops");
        self.finished = Some(Finished {
            call: self.call,
            sink: c.sink,
            duration,
            speech,
        });
    }

    /// Everything still in the jitter buffer is written, as if its time had come.
    fn flush_jitter(&mut self, now: Instant) {
        while !self.jitter.is_empty() {
            let Some(due) = self.jitter.poll_timeout() else {
                break;
            };
            self.drain_jitter(due.max(now));
        }
    }

    /// RTP clock ticks per received frame.
    fn frame_ticks(&self) -> u32 {
        self.frame as u32 * self.ticks
    }

    /// Time passed: due frames, playout packets and reports.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.drain_jitter(now);
        self.check_capture_idle(now);
        self.play_due(now);
        if now >= self.rtcp_due {
            self.send_report(now);
            let next = self
                .config
                .rtcp_interval
                .mul_f64(self.rng.gen_range(0.5..1.5));
            self.rtcp_due = now + next;
        }
    }

    fn check_capture_idle(&mut self, now: Instant) {
        if let Some(c) = self.capture.as_mut()
            && let Some((d, _)) = &c.silence
            && !c.silence_reported
            && now >= c.last_frame + *d
        {
            c.silence_reported = true;
            debug!(call = %self.call, "no audio for the silence time");
            self.events
                .push_back(MediaEvent::Silence { call: self.call });
        }
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event to report.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// A stopped capture whose sink must be finished.
    pub fn poll_finished(&mut self) -> Option<Finished> {
        self.finished.take()
    }

    /// When to call [`Self::handle_timeout`].
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers().map(|(t, _)| t).min()
    }

    fn timers(&self) -> impl Iterator<Item = (Instant, Timer)> + '_ {
        let capture_idle = self.capture.as_ref().and_then(|c| {
            let (d, _) = c.silence.as_ref()?;
            (!c.silence_reported).then_some(c.last_frame + *d)
        });
        [
            self.jitter.poll_timeout().map(|t| (t, Timer::Jitter)),
            self.play.as_ref().map(|p| (p.next, Timer::Play)),
            self.remote.map(|_| (self.rtcp_due, Timer::Rtcp)),
            capture_idle.map(|t| (t, Timer::CaptureIdle)),
        ]
        .into_iter()
        .flatten()
    }
}

/// Writes `pcm` to the capture up to its maximum length, with silence detection and live
/// buffers.
fn write(
    now: Instant,
    call: CallId,
    c: &mut Capture,
    pcm: &[i16],
    stats: &mut Stats,
    events: &mut VecDeque<MediaEvent>,
) {
    if c.max_reported {
        return;
    }
    let room = c.max_samples.saturating_sub(c.samples);
    let pcm = &pcm[..pcm.len().min(room as usize)];
    if let Err(error) = c.sink.write(pcm) {
        // Reported once: the capture then ends as if at its maximum length.
        warn!(%call, %error, "recording write failed");
        c.max_reported = true;
        events.push_back(MediaEvent::Failed {
            call,
            reason: format!("recording: {error}"),
        });
        return;
    }
    c.samples += pcm.len() as u64;
    stats.captured_samples += pcm.len() as u64;
    if let Some((n, buf, seq)) = c.live.as_mut() {
        let mut rest = pcm;
        while !rest.is_empty() {
            let take = (*n - buf.len()).min(rest.len());
            buf.extend_from_slice(&rest[..take]);
            rest = &rest[take..];
            if buf.len() == *n {
                let full = std::mem::replace(buf, Vec::with_capacity(*n));
                events.push_back(MediaEvent::Buffer {
                    call,
                    seq: *seq,
                    pcm: full,
                    received: now,
                });
                *seq += 1;
            }
        }
    }
    c.decisions.clear();
    c.vad.feed(pcm, &mut c.decisions);
    c.speech_samples += c
        .decisions
        .iter()
        .filter(|d| d.speech)
        .map(|d| u64::from(d.len))
        .sum::<u64>();
    if let Some((_, timer)) = c.silence.as_mut() {
        let mut expired = false;
        for d in &c.decisions {
            expired |= timer.update(d);
        }
        if expired && !c.silence_reported {
            c.silence_reported = true;
            debug!(%call, "silence");
            events.push_back(MediaEvent::Silence { call });
        }
    }
    if c.samples >= c.max_samples && !c.max_reported {
        c.max_reported = true;
        debug!(%call, "maximum length");
        events.push_back(MediaEvent::MaxLength { call });
    }
}

mod codec;
mod playout;
mod progress;
mod reports;
#[cfg(test)]
mod tests;
