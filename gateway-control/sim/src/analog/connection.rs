//! One RTP connection on a line (RFC 3435 §2.3.5): its ids, mode, codec, both media addresses,
//! the RTP sender for `say` (RFC 3550/3551: 20 ms G.711 packets, random initial sequence
//! number, timestamp and SSRC, marker on the first packet) and receive statistics for the
//! `P:` ConnectionParameters of a DLCX answer (§3.2.2.14).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use codecs::g711::Law;
use codecs::rtp::{self, Packetizer, SequenceNumber, Ssrc, Timestamp};

use gateway_control::model::Codec;

/// The largest `say` accepted: 10 minutes of 8 kHz audio.
pub const MAX_SAY_SAMPLES: usize = 8000 * 600;
/// The largest RTP datagram sent or accepted.
const MAX_RTP: usize = 1500;

/// A connection's mode, as far as an analog line cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    SendOnly,
    RecvOnly,
    SendRecv,
    Conference,
    Inactive,
    Loopback,
}

impl Mode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::SendOnly => "sendonly",
            Self::RecvOnly => "recvonly",
            Self::SendRecv => "sendrecv",
            Self::Conference => "confrnce",
            Self::Inactive => "inactive",
            Self::Loopback => "loopback",
        }
    }

    /// The gateway sends the line's audio.
    pub(crate) fn sends(self) -> bool {
        matches!(self, Self::SendOnly | Self::SendRecv | Self::Conference)
    }

    /// The gateway plays what it receives.
    pub(crate) fn receives(self) -> bool {
        matches!(self, Self::RecvOnly | Self::SendRecv | Self::Conference)
    }
}

/// An audio file being sent, 8 kHz mono.
#[derive(Debug)]
struct Say {
    samples: Vec<i16>,
    pos: usize,
    next: Instant,
    packets: u64,
}

/// Counters for `P:`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RtpStats {
    pub(crate) packets_sent: u64,
    pub(crate) octets_sent: u64,
    pub(crate) packets_received: u64,
    pub(crate) octets_received: u64,
    /// Packets received that were not RTP or not for this connection's codec.
    pub(crate) dropped: u64,
    highest_seq: Option<u16>,
    expected_gaps: u64,
    /// RFC 3550 §6.4.1 interarrival jitter, in timestamp units (8 kHz), and what it needs.
    jitter: f64,
    first_arrival: Option<Instant>,
    last_transit: Option<f64>,
}

impl RtpStats {
    /// Packets lost, from gaps in the sequence numbers.
    pub(crate) fn lost(&self) -> u64 {
        self.expected_gaps
    }

    /// Interarrival jitter in milliseconds.
    pub(crate) fn jitter_ms(&self) -> u64 {
        (self.jitter / 8.0).round() as u64
    }

    /// Updates the jitter estimate with a packet stamped `ts` that arrived `now`.
    fn arrival(&mut self, now: Instant, ts: u32) {
        let base = *self.first_arrival.get_or_insert(now);
        let arrival = now.saturating_duration_since(base).as_secs_f64() * 8000.0;
        let transit = arrival - f64::from(ts);
        if let Some(prev) = self.last_transit {
            // Timestamps wrap at 2^32; a difference beyond half of that is a wrap, not jitter.
            let mut d = (transit - prev).abs();
            if d > f64::from(u32::MAX / 2) {
                d = (d - f64::from(u32::MAX) - 1.0).abs();
            }
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.last_transit = Some(transit);
    }
}

/// One connection.
#[derive(Debug)]
pub(crate) struct Connection {
    pub(crate) id: String,
    pub(crate) call: String,
    mode: Mode,
    pub(crate) codec: Codec,
    pub(crate) ptime: Duration,
    pub(crate) local: SocketAddr,
    pub(crate) remote: Option<SocketAddr>,
    pub(crate) stats: RtpStats,
    packetizer: Packetizer,
    say: Option<Say>,
}

/// An RTP packet to send from `local`.
#[derive(Debug)]
pub(crate) struct RtpOut {
    pub(crate) local_port: u16,
    pub(crate) to: SocketAddr,
    pub(crate) bytes: Vec<u8>,
}

fn law(codec: Codec) -> Law {
    match codec {
        Codec::Pcmu => Law::Ulaw,
        Codec::Pcma => Law::Alaw,
        // The simulated gateways are G.711 only: their parsers yield only payload types 0
        // and 8, so no connection here is ever Opus.
        Codec::Opus { .. } => Law::Ulaw,
    }
}

impl Connection {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        id: String,
        call: String,
        mode: Mode,
        codec: Codec,
        ptime: Duration,
        local: SocketAddr,
        remote: Option<SocketAddr>,
        random: (u32, u16, u32),
    ) -> Self {
        let (ssrc, seq, ts) = random;
        Self {
            id,
            call,
            mode,
            codec,
            ptime,
            local,
            remote,
            stats: RtpStats::default(),
            packetizer: Packetizer::new(
                Ssrc(ssrc),
                codec.payload_type(),
                SequenceNumber(seq),
                Timestamp(ts),
            ),
            say: None,
        }
    }

    pub(crate) fn mode(&self) -> Mode {
        self.mode
    }

    pub(crate) fn set_mode(&mut self, mode: Mode) {
        self.mode = mode;
    }

    /// Changes the codec: later packets use its payload type.
    pub(crate) fn set_codec(&mut self, codec: Codec, random: (u32, u16, u32)) {
        if codec != self.codec {
            self.codec = codec;
            let (ssrc, seq, ts) = random;
            self.packetizer = Packetizer::new(
                Ssrc(ssrc),
                codec.payload_type(),
                SequenceNumber(seq),
                Timestamp(ts),
            );
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.say.as_ref().map(|s| s.next)
    }

    pub(crate) fn saying(&self) -> bool {
        self.say.is_some()
    }

    /// Starts sending `samples` (8 kHz mono), first packet now.
    pub(crate) fn start_say(&mut self, now: Instant, mut samples: Vec<i16>) {
        samples.truncate(MAX_SAY_SAMPLES);
        self.say = Some(Say {
            samples,
            pos: 0,
            next: now,
            packets: 0,
        });
    }

    /// Stops a `say`; returns the packets sent, if one was running.
    pub(crate) fn stop_say(&mut self) -> Option<u64> {
        self.say.take().map(|s| s.packets)
    }

    fn frame_samples(&self) -> usize {
        // ptime is bounded to 10–60 ms when set.
        (self.ptime.as_millis() as usize * 8).max(80)
    }

    /// Sends the packets due by `now`. Returns `Some(packets)` once the file is done.
    pub(crate) fn poll_say(&mut self, now: Instant, out: &mut Vec<RtpOut>) -> Option<u64> {
        let frame = self.frame_samples();
        let law = law(self.codec);
        let step = self.ptime;
        let remote = self.remote;
        let sends = self.mode.sends();
        let say = self.say.as_mut()?;
        while say.next <= now {
            if say.pos >= say.samples.len() {
                let packets = say.packets;
                self.say = None;
                return Some(packets);
            }
            let end = (say.pos + frame).min(say.samples.len());
            let mut pcm = say.samples[say.pos..end].to_vec();
            pcm.resize(frame, 0);
            say.pos = end;
            say.next += step;
            let Some(to) = remote.filter(|_| sends) else {
                // Inactive or no remote yet: time passes, nothing is sent (as a real line
                // would keep talking into a muted connection).
                self.packetizer.skip(frame as u32);
                continue;
            };
            let mut payload = vec![0u8; frame];
            if law.encode(&pcm, &mut payload).is_err() {
                continue;
            }
            let repr = self.packetizer.packet(&payload, frame as u32);
            let mut bytes = vec![0u8; repr.buffer_len()];
            if repr.emit(&mut bytes).is_err() {
                continue;
            }
            say.packets += 1;
            self.stats.packets_sent += 1;
            self.stats.octets_sent += payload.len() as u64;
            out.push(RtpOut {
                local_port: self.local.port(),
                to,
                bytes,
            });
        }
        None
    }

    /// An RTP datagram arrived for this connection; returns the decoded audio if the mode lets
    /// the line play it.
    pub(crate) fn handle_rtp(&mut self, now: Instant, data: &[u8]) -> Option<Vec<i16>> {
        if data.len() > MAX_RTP {
            self.stats.dropped += 1;
            return None;
        }
        let Ok(repr) = rtp::Repr::parse_bytes(data) else {
            self.stats.dropped += 1;
            return None;
        };
        let Some(law) = Law::from_payload_type(repr.payload_type) else {
            // Telephone events and comfort noise are counted but not played.
            self.stats.packets_received += 1;
            return None;
        };
        self.stats.packets_received += 1;
        self.stats.octets_received += repr.payload.len() as u64;
        self.stats.arrival(now, repr.timestamp.0);
        let seq = repr.sequence_number.0;
        if let Some(prev) = self.stats.highest_seq {
            let ahead = seq.wrapping_sub(prev);
            if ahead > 0 && ahead < 0x8000 {
                self.stats.expected_gaps += u64::from(ahead - 1);
                self.stats.highest_seq = Some(seq);
            }
        } else {
            self.stats.highest_seq = Some(seq);
        }
        if !self.mode.receives() {
            return None;
        }
        let mut pcm = vec![0i16; repr.payload.len()];
        law.decode(repr.payload, &mut pcm).ok()?;
        Some(pcm)
    }

    /// The `P:` list of a DLCX answer: `PS=…, OS=…, PR=…, OR=…, PL=…, JI=…, LA=0` (latency
    /// would need RTCP, which the simulator does not send).
    pub(crate) fn parameters(&self) -> String {
        let s = &self.stats;
        format!(
            "PS={}, OS={}, PR={}, OR={}, PL={}, JI={}, LA=0",
            s.packets_sent,
            s.octets_sent,
            s.packets_received,
            s.octets_received,
            s.lost(),
            s.jitter_ms()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A base instant for virtual time, never a measurement.
    #[allow(clippy::disallowed_methods)]
    fn epoch() -> Instant {
        Instant::now()
    }

    fn conn(mode: Mode) -> Connection {
        Connection::new(
            "A1".into(),
            "C1".into(),
            mode,
            Codec::Pcmu,
            Duration::from_millis(20),
            "127.0.0.1:16384".parse().unwrap(),
            Some("127.0.0.1:4000".parse().unwrap()),
            (0x1234_5678, 1000, 50_000),
        )
    }

    #[test]
    fn say_is_paced_at_20ms_with_consecutive_seq_and_timestamps() {
        let t0 = epoch();
        let mut c = conn(Mode::SendRecv);
        c.start_say(t0, vec![1000; 400]); // 50 ms: 3 packets, the last padded
        let mut out = Vec::new();
        assert_eq!(c.poll_say(t0, &mut out), None);
        assert_eq!(out.len(), 1);
        assert_eq!(c.poll_timeout(), Some(t0 + Duration::from_millis(20)));
        assert_eq!(c.poll_say(t0 + Duration::from_millis(40), &mut out), None);
        assert_eq!(out.len(), 3);
        assert_eq!(
            c.poll_say(t0 + Duration::from_millis(60), &mut out),
            Some(3)
        );
        for (i, p) in out.iter().enumerate() {
            let r = rtp::Repr::parse_bytes(&p.bytes).unwrap();
            assert_eq!(r.sequence_number.0, 1000 + i as u16);
            assert_eq!(r.timestamp.0, 50_000 + 160 * i as u32);
            assert_eq!(r.ssrc.0, 0x1234_5678);
            assert_eq!(r.marker, i == 0);
            assert_eq!(r.payload_type, 0);
            assert_eq!(r.payload.len(), 160);
        }
        assert!(!c.saying());
    }

    #[test]
    fn receive_counts_loss_and_plays_only_when_the_mode_allows() {
        let mut tx = conn(Mode::SendRecv);
        let t0 = epoch();
        tx.start_say(t0, vec![500; 160 * 4]);
        let mut out = Vec::new();
        tx.poll_say(t0 + Duration::from_secs(1), &mut out);
        assert_eq!(out.len(), 4);
        let mut rx = conn(Mode::SendOnly);
        assert!(
            rx.handle_rtp(t0, &out[0].bytes).is_none(),
            "sendonly plays nothing"
        );
        rx.set_mode(Mode::RecvOnly);
        let pcm = rx
            .handle_rtp(t0 + Duration::from_millis(70), &out[2].bytes)
            .unwrap();
        assert_eq!(pcm.len(), 160);
        assert!((pcm[0] - 500).abs() < 40);
        assert_eq!(rx.stats.lost(), 1);
        assert!(rx.handle_rtp(t0, b"junk").is_none());
        assert_eq!(rx.stats.dropped, 1);
        assert!(
            rx.parameters()
                .starts_with("PS=0, OS=0, PR=2, OR=320, PL=1")
        );
    }
}
