//! The codec of a stream: G.711 (RFC 3551) or Opus (RFC 7587), and switching between them
//! when the remote side's codec changes.
//!
//! The stream's PCM is always 8 kHz (recordings, live buffers, stored messages). For Opus the
//! jitter buffer decodes to it (with in-band FEC and Opus' own concealment), playout encodes
//! 20 ms frames of it with the VOIP application and in-band FEC, and RTP timestamps count the
//! 48 kHz clock RFC 7587 §4.1 prescribes whatever the audio bandwidth (960 per 20 ms frame).

use std::time::Instant;

use codecs::jitter::{JitterBuffer, Payload};
use codecs::opus::{self, Encoder, EncoderConfig, SampleRate};
use codecs::rtcp::ReceiverStats;
use gateway_control::model::Codec;
use tracing::{debug, warn};

use super::{RATE, Stream};
use crate::MediaEvent;

/// Packet loss Opus' in-band FEC is tuned for, in percent: a LAN loses little, and more FEC
/// costs bits of the 16 kbit/s.
const OPUS_LOSS_PCT: u8 = 5;

/// What the jitter buffer is told of the codec.
pub(super) fn payload(codec: Codec) -> Payload {
    match codec {
        Codec::Pcmu | Codec::Pcma => Payload::G711,
        Codec::Opus { payload_type } => Payload::Opus { payload_type },
    }
}

/// The duration of an Opus packet in 48 kHz ticks, from its TOC byte and frame count
/// (RFC 6716 §3.1, §3.2.5); 0 for a packet too short to say.
pub(super) fn opus_ticks(packet: &[u8]) -> u32 {
    let Some(&toc) = packet.first() else {
        return 0;
    };
    let config = toc >> 3;
    // Frame sizes in 48 kHz ticks: SILK 10/20/40/60 ms, hybrid 10/20 ms, CELT 2.5/5/10/20 ms.
    let frame = match config {
        0..=11 => [480, 960, 1920, 2880][usize::from(config % 4)],
        12..=15 => [480, 960][usize::from(config % 2)],
        _ => [120, 240, 480, 960][usize::from(config % 4)],
    };
    let frames = match toc & 0x3 {
        0 => 1,
        1 | 2 => 2,
        _ => packet.get(1).map_or(0, |c| u32::from(c & 0x3F)),
    };
    frame * frames
}

/// The Opus encoder of a playout and its output buffer.
pub(super) struct OpusOut {
    encoder: Encoder,
    out: Vec<u8>,
}

impl OpusOut {
    /// An 8 kHz VOIP encoder with in-band FEC, at the default 16 kbit/s.
    pub(super) fn new() -> Result<Self, opus::Error> {
        let config = EncoderConfig {
            sample_rate: SampleRate::Hz8000,
            inband_fec: true,
            packet_loss_pct: OPUS_LOSS_PCT,
            ..EncoderConfig::default()
        };
        Ok(Self {
            encoder: Encoder::new(config)?,
            out: vec![0; opus::MAX_PACKET_LEN],
        })
    }

    /// Encodes one 20 ms frame (160 samples).
    pub(super) fn encode(&mut self, pcm: &[i16]) -> Result<&[u8], opus::Error> {
        let n = self.encoder.encode(pcm, &mut self.out)?;
        Ok(&self.out[..n])
    }
}

impl Stream {
    /// The remote codec is now `codec`, of another kind than before (or the first): what the
    /// old jitter buffer holds is written, and a buffer for the new codec replaces it (its
    /// counters kept in the stream's). The SSRC pin stays; reception statistics restart on the
    /// new RTP clock. A playout keeps playing, encoded the new way from its next frame.
    pub(super) fn change_codec(&mut self, now: Instant, codec: Codec) {
        self.flush_jitter(now);
        let ticks = codec.clock_rate() / RATE;
        match JitterBuffer::with_payload(self.config.jitter.clone(), payload(codec)) {
            Ok(jitter) => {
                let old = std::mem::replace(&mut self.jitter, jitter);
                let old = old.stats();
                self.stats.duplicates += old.duplicates;
                self.stats.late += old.late;
                self.stats.invalid += old.invalid;
                self.stats.reordered += old.reordered;
                self.stats.lost_frames += old.lost;
                self.stats.fec_recovered += old.fec_recovered;
            }
            Err(error) => {
                warn!(call = %self.call, %error, codec = codec.name(), "no jitter buffer for the codec");
                self.events.push_back(MediaEvent::Failed {
                    call: self.call,
                    reason: format!("jitter buffer for {}: {error}", codec.name()),
                });
                return;
            }
        }
        debug!(call = %self.call, codec = codec.name(), ticks, "codec changes");
        self.ticks = ticks;
        self.expected = None;
        self.window.clear();
        if let Some(r) = self.reception.as_mut() {
            *r = ReceiverStats::new(r.ssrc(), codec.clock_rate());
        }
        if let Some(c) = self.capture.as_mut() {
            // Timestamps of the new clock do not continue the old ones.
            c.next_ts = None;
            c.held.clear();
        }
        self.watch_new_clock();
        if let Some(p) = self.play.as_mut() {
            p.opus = None;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opus_packet_durations_from_the_toc() {
        // RFC 6716 §3.1: config 1 (SILK NB 20 ms), code 0: one frame.
        assert_eq!(opus_ticks(&[1 << 3, 0xAA]), 960);
        // Config 3 (SILK NB 60 ms), code 1: two frames.
        assert_eq!(opus_ticks(&[(3 << 3) | 1]), 5760);
        // Config 13 (hybrid SWB 20 ms), code 2.
        assert_eq!(opus_ticks(&[(13 << 3) | 2, 0]), 1920);
        // Config 16 (CELT NB 2.5 ms), code 3 with 8 frames.
        assert_eq!(opus_ticks(&[(16 << 3) | 3, 8]), 960);
        // Config 31 (CELT FB 20 ms), code 3 with its count missing.
        assert_eq!(opus_ticks(&[(31 << 3) | 3]), 0);
        assert_eq!(opus_ticks(&[]), 0);
    }

    #[test]
    fn the_encoder_makes_20_ms_packets_the_decoder_reads() {
        let mut enc = OpusOut::new().unwrap();
        let pcm: Vec<i16> = (0..160).map(|i| ((i * 300) % 4000) as i16).collect();
        let packet = enc.encode(&pcm).unwrap().to_vec();
        assert_eq!(opus_ticks(&packet), 960);
        let mut dec = opus::Decoder::new(SampleRate::Hz8000).unwrap();
        let mut out = vec![0; 960];
        assert_eq!(dec.decode(&packet, &mut out).unwrap(), 160);
    }
}
