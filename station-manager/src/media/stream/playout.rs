//! Paced playout (RFC 3550 §5.1 sequence numbers and timestamps, RFC 3551 §4.1 marker bit)
//! of a stored message or a live stream, as G.711 frames of the remote's ptime or as 20 ms
//! Opus frames (RFC 7587 §4.2: timestamps step 960 on the 48 kHz clock).

use std::time::{Duration, Instant};

use codecs::rtp::Packetizer;
use tracing::{debug, warn};

use super::codec::OpusOut;
use super::{FRAME, MAX_BURST, MAX_TRANSMIT, Playout, Source, Stream, Transmit};
use crate::media::{FrameSource, LiveFrame, LiveQueue, law};
use crate::{MediaEvent, StreamId};

/// The Opus frame Offhook sends (`codecs::opus` encodes 20 ms frames).
const OPUS_FRAME: Duration = Duration::from_millis(20);

impl Stream {
    /// Plays a stored message, replacing what was playing (which gets no `PlayDone`).
    pub fn handle_play_message(&mut self, now: Instant, source: Box<dyn FrameSource>) {
        self.start_play(now, Source::Message(source));
    }

    /// Plays a live stream from `queue` (which may already hold what came while ringing).
    pub fn handle_play_live(&mut self, now: Instant, stream: StreamId, queue: LiveQueue) {
        self.start_play(now, Source::Live(stream, queue));
    }

    /// A buffer of the live stream being played. Returns false (and drops it) if `stream` is
    /// not what plays.
    pub fn handle_live_buffer(&mut self, stream: StreamId, pcm: &[i16]) -> bool {
        match &mut self.play {
            Some(Playout {
                source: Source::Live(s, q),
                ..
            }) if *s == stream => {
                q.push(pcm);
                true
            }
            _ => false,
        }
    }

    /// The live stream being played ended: what is queued still plays, then `PlayDone`.
    pub fn handle_live_end(&mut self, stream: StreamId) -> bool {
        match &mut self.play {
            Some(Playout {
                source: Source::Live(s, q),
                ..
            }) if *s == stream => {
                q.end();
                true
            }
            _ => false,
        }
    }

    /// Stops playing (no `PlayDone`).
    pub fn handle_stop_play(&mut self) {
        if let Some(p) = self.play.take() {
            self.end_play(p);
            debug!(call = %self.call, "playout stopped");
        }
    }

    pub(super) fn end_play(&mut self, p: Playout) {
        if let Source::Live(_, q) = p.source {
            self.stats.live_dropped += q.dropped;
            self.stats.live_skipped += q.skipped;
        }
    }

    pub(super) fn start_play(&mut self, now: Instant, source: Source) {
        self.handle_stop_play();
        let frame = self
            .remote
            .map_or(160, |r| (r.ptime.as_micros() * 8 / 1000) as usize)
            .clamp(8, 480);
        let pt = self.remote.map_or(0, |r| r.codec.payload_type());
        debug!(call = %self.call, frame, "playout starts");
        self.play = Some(Playout {
            source,
            packetizer: Packetizer::new(self.ssrc, pt, self.next_seq, self.next_ts),
            next: now,
            pcm: vec![0; frame.max(FRAME)],
            codes: vec![0; frame],
            opus: None,
        });
    }

    pub(super) fn play_due(&mut self, now: Instant) {
        let Some(remote) = self.remote else {
            return;
        };
        // G.711: frames of the remote's ptime (as at the start); Opus: 20 ms of 8 kHz PCM.
        let law = law(remote.codec);
        let ticks = remote.codec.clock_rate() / 8000;
        let mut sent = 0;
        while let Some(p) = self.play.as_mut()
            && now >= p.next
        {
            if sent == MAX_BURST {
                debug!(call = %self.call, "playout timer late: re-anchored");
                p.next = now;
                break;
            }
            let (n, step) = match law {
                Some(_) => (p.codes.len(), remote.ptime),
                None => (FRAME, OPUS_FRAME),
            };
            let more = match &mut p.source {
                Source::Message(src) => {
                    let read = match law {
                        Some(_) => src.next_frame(&mut p.codes),
                        None => src.next_pcm(&mut p.pcm[..n]),
                    };
                    read.map(|more| more.then_some(true)).map_err(|e| e.0)
                }
                Source::Live(_, q) => match q.next_frame(&mut p.pcm[..n]) {
                    LiveFrame::Audio => {
                        if let Some(law) = law {
                            let _ = law.encode(&p.pcm[..n], &mut p.codes);
                        }
                        Ok(Some(true))
                    }
                    LiveFrame::Starved => Ok(Some(false)),
                    LiveFrame::Done => Ok(None),
                },
            };
            p.next += step;
            let span = n as u32 * ticks;
            let more = match (more, law) {
                (Ok(Some(true)), None) => {
                    let opus = match p.opus.take() {
                        Some(o) => Ok(o),
                        None => OpusOut::new(),
                    };
                    match opus {
                        Ok(mut o) => {
                            let r = o.encode(&p.pcm[..n]).map(|b| b.to_vec());
                            p.opus = Some(o);
                            r.map(Payload::Opus)
                                .map(Some)
                                .map_err(|e| format!("Opus: {e}"))
                        }
                        Err(e) => Err(format!("Opus encoder: {e}")),
                    }
                }
                (Ok(Some(true)), Some(_)) => Ok(Some(Payload::G711)),
                (Ok(Some(false)), _) => Ok(Some(Payload::Starved)),
                (Ok(None), _) => Ok(None),
                (Err(e), _) => Err(e),
            };
            match more {
                Ok(Some(Payload::Starved)) => {
                    self.stats.live_starved += 1;
                    p.packetizer.skip(span);
                    self.next_ts = self.next_ts.wrapping_add(span);
                }
                Ok(Some(payload)) => {
                    let bytes = match &payload {
                        Payload::Opus(b) => b.as_slice(),
                        _ => p.codes.as_slice(),
                    };
                    let repr = p.packetizer.packet(bytes, span);
                    let mut buf = vec![0; repr.buffer_len().min(MAX_TRANSMIT)];
                    if let Ok(len) = repr.emit(&mut buf) {
                        buf.truncate(len);
                        self.next_seq = repr.sequence_number.wrapping_add(1);
                        self.next_ts = repr.timestamp.wrapping_add(span);
                        self.sent_octets = self.sent_octets.wrapping_add(bytes.len() as u32);
                        self.stats.rtp_sent += 1;
                        self.transmits.push_back(Transmit {
                            destination: remote.address,
                            rtcp: false,
                            payload: buf,
                        });
                    }
                    sent += 1;
                }
                Ok(None) => {
                    if let Some(p) = self.play.take() {
                        self.end_play(p);
                    }
                    debug!(call = %self.call, "playout done");
                    self.events
                        .push_back(MediaEvent::PlayDone { call: self.call });
                }
                Err(reason) => {
                    if let Some(p) = self.play.take() {
                        self.end_play(p);
                    }
                    warn!(call = %self.call, %reason, "message audio failed");
                    self.events.push_back(MediaEvent::Failed {
                        call: self.call,
                        reason,
                    });
                }
            }
        }
    }
}

/// What one playout tick sends.
enum Payload {
    /// The G.711 codes in `Playout::codes`.
    G711,
    /// An Opus packet.
    Opus(Vec<u8>),
    /// Nothing: the live stream had no audio (the timestamp moves on).
    Starved,
}
