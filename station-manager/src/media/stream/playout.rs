//! Paced playout (RFC 3550 §5.1 sequence numbers and timestamps, RFC 3551 §4.1 marker bit)
//! of a stored message or a live stream.

use std::time::Instant;

use codecs::rtp::Packetizer;
use tracing::{debug, warn};

use super::{MAX_BURST, MAX_TRANSMIT, Playout, Source, Stream, Transmit};
use crate::media::{FrameSource, LiveFrame, LiveQueue, law};
use crate::{MediaEvent, StreamId};

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
            pcm: vec![0; frame],
            codes: vec![0; frame],
        });
    }

    pub(super) fn play_due(&mut self, now: Instant) {
        let Some(remote) = self.remote else {
            return;
        };
        let law = law(remote.codec).unwrap_or(codecs::g711::Law::Ulaw);
        let mut sent = 0;
        while let Some(p) = self.play.as_mut()
            && now >= p.next
        {
            if sent == MAX_BURST {
                debug!(call = %self.call, "playout timer late: re-anchored");
                p.next = now;
                break;
            }
            let n = p.codes.len();
            let more = match &mut p.source {
                Source::Message(src) => match src.next_frame(&mut p.codes) {
                    Ok(more) => Ok(more.then_some(true)),
                    Err(e) => Err(e.0),
                },
                Source::Live(_, q) => match q.next_frame(&mut p.pcm) {
                    LiveFrame::Audio => {
                        let _ = law.encode(&p.pcm, &mut p.codes);
                        Ok(Some(true))
                    }
                    LiveFrame::Starved => Ok(Some(false)),
                    LiveFrame::Done => Ok(None),
                },
            };
            p.next += remote.ptime;
            match more {
                Ok(Some(true)) => {
                    let repr = p.packetizer.packet(&p.codes, n as u32);
                    let mut buf = vec![0; repr.buffer_len().min(MAX_TRANSMIT)];
                    if let Ok(len) = repr.emit(&mut buf) {
                        buf.truncate(len);
                        self.next_seq = repr.sequence_number.wrapping_add(1);
                        self.next_ts = repr.timestamp.wrapping_add(n as u32);
                        self.sent_octets = self.sent_octets.wrapping_add(n as u32);
                        self.stats.rtp_sent += 1;
                        self.transmits.push_back(Transmit {
                            destination: remote.address,
                            rtcp: false,
                            payload: buf,
                        });
                    }
                    sent += 1;
                }
                Ok(Some(false)) => {
                    self.stats.live_starved += 1;
                    p.packetizer.skip(n as u32);
                    self.next_ts = self.next_ts.wrapping_add(n as u32);
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
