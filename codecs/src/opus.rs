//! Opus (RFC 6716) encoding and decoding through libopus.
//!
//! A thin safe layer over the `opus` crate (bound to the system libopus): mono only, the five
//! Opus input rates, the VOIP application, 20 ms frames, 16 kbit/s by default. The decoder adds
//! packet-loss concealment ([`Decoder::conceal`]) and in-band FEC recovery
//! ([`Decoder::decode_fec`]). Errors from libopus are mapped onto [`Error`].

use libopus::{Application, Bitrate, Channels};
use tracing::trace;

/// Frame duration used throughout Offhook.
pub const FRAME_MS: u32 = 20;
/// Default bitrate in bit/s: at 16 kbit/s Opus scores as well as G.711 on PESQ.
pub const DEFAULT_BITRATE: u32 = 16_000;
/// Bit rate of stored messages, bit/s ([`crate::pipeline::IngestConfig::bitrate`]); see
/// [`stored_complexity`] for why 20 kbit/s rather than [`DEFAULT_BITRATE`].
pub const STORED_BITRATE: u32 = 20_000;

/// Encoder complexity of a stored message whose audio runs at `rate` Hz (the clean-up's working
/// rate: 8000 narrowband, 16000 wideband).
///
/// Chosen by measurement (issue 23; `scripts/opus_pesq.py --bitrates 16000 20000 24000
/// --complexities 10 5 3 1 0`, `cargo bench -p codecs --bench ingest`; libopus 1.3.1, SILK at
/// 8 and 16 kHz, the 11.4 s speech fixtures, PESQ narrowband at 8 kHz and wideband at 16 kHz;
/// encode CPU per 11.4 s):
///
/// | setting | PESQ-NB, 8 kHz | encode | PESQ-WB, 16 kHz | encode |
/// | --- | --- | --- | --- | --- |
/// | complexity 10 (= 8, 9), 16 kbit/s: the setting before | 4.433 | 59 ms | 4.208 | 126 ms |
/// | complexity 10, 20 kbit/s | 4.478 | 58 ms | 4.385 | 128 ms |
/// | complexity 5, 16 kbit/s | 4.405 | 31 ms | 4.106 | 62 ms |
/// | complexity 5, 20 kbit/s | 4.455 | 33 ms | **4.336** | **62 ms** |
/// | complexity 1, 20 kbit/s | **4.434** | **16 ms** | 3.950 | 28 ms |
/// | complexity 0, 20 kbit/s | 4.403 | 13 ms | 3.983 | 23 ms |
///
/// Libopus' SILK encoder is over 90 % of a message's transcoding, and its cost is set by the
/// complexity (the noise-shaping quantiser's search), hardly by the bit rate; its quality is
/// bought back by a few more bits. So stored messages are 20 kbit/s (a 10 s message is 25 kB
/// rather than 20 kB), and the complexity is the lowest whose PESQ stays within 0.05 of
/// complexity 10 at the same 20 kbit/s, which is also at least the quality of the setting
/// before: narrowband 1 (4.434 against 4.478; 4.433 before), wideband 5 (4.336 against 4.385;
/// 4.208 before). Narrowband, the phones' G.711, encodes in a quarter of the time it took;
/// wideband in half. The same holds on a second clip (the 16 kHz fixture taken to 8 kHz:
/// complexity 1 at 20 kbit/s 4.424, complexity 10 at 16 kbit/s 4.417).
pub fn stored_complexity(rate: u32) -> u8 {
    if rate <= 8000 { 1 } else { 5 }
}
/// Largest Opus packet (RFC 6716 §3.4: 1275 bytes per frame, up to 3 frames plus framing).
pub const MAX_PACKET_LEN: usize = 4000;
/// Most samples one packet decodes to: 120 ms at 48 kHz.
pub const MAX_FRAME_SAMPLES_48K: usize = 5760;

/// Errors from the Opus wrapper.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    // ---- malformed input ----
    /// libopus rejected a packet as corrupt.
    #[error("invalid Opus packet ({len} bytes)")]
    InvalidPacket {
        /// Length of the packet.
        len: usize,
    },
    // ---- API misuse ----
    /// A sample rate Opus does not support.
    #[error("unsupported sample rate {0} Hz (Opus takes 8, 12, 16, 24 or 48 kHz)")]
    UnsupportedRate(u32),
    /// A setting out of range.
    #[error("invalid {setting}: {value}")]
    InvalidSetting {
        /// The setting.
        setting: &'static str,
        /// The value given.
        value: i64,
    },
    /// A PCM frame of the wrong length was passed to the encoder.
    #[error("frame has {got} samples; {expected} expected")]
    FrameLength {
        /// Samples expected (20 ms at the encoder rate).
        expected: usize,
        /// Samples given.
        got: usize,
    },
    /// The output buffer is too small.
    #[error("output buffer too small")]
    BufferTooSmall,
    // ---- library ----
    /// Any other failure reported by libopus.
    #[error("libopus: {0}")]
    Codec(libopus::Error),
}

fn map_err(e: libopus::Error, len: usize) -> Error {
    match e.code() {
        libopus::ErrorCode::InvalidPacket => Error::InvalidPacket { len },
        libopus::ErrorCode::BufferTooSmall => Error::BufferTooSmall,
        _ => Error::Codec(e),
    }
}

/// A sample rate Opus accepts at its PCM interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SampleRate {
    /// 8 kHz (narrowband telephony).
    Hz8000,
    /// 12 kHz.
    Hz12000,
    /// 16 kHz (wideband).
    Hz16000,
    /// 24 kHz.
    Hz24000,
    /// 48 kHz (Opus' internal rate and the Ogg Opus granule rate).
    Hz48000,
}

impl SampleRate {
    /// The rate for `hz`, if Opus supports it.
    pub fn from_hz(hz: u32) -> Result<Self, Error> {
        Ok(match hz {
            8000 => Self::Hz8000,
            12000 => Self::Hz12000,
            16000 => Self::Hz16000,
            24000 => Self::Hz24000,
            48000 => Self::Hz48000,
            other => return Err(Error::UnsupportedRate(other)),
        })
    }

    /// Samples per second.
    pub fn hz(self) -> u32 {
        match self {
            Self::Hz8000 => 8000,
            Self::Hz12000 => 12000,
            Self::Hz16000 => 16000,
            Self::Hz24000 => 24000,
            Self::Hz48000 => 48000,
        }
    }

    /// Samples in one [`FRAME_MS`] frame.
    pub fn frame_samples(self) -> usize {
        (self.hz() * FRAME_MS / 1000) as usize
    }

    /// How many 48 kHz samples one sample at this rate spans (6, 4, 3, 2 or 1).
    pub fn factor_48k(self) -> u32 {
        48000 / self.hz()
    }
}

/// Encoder settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncoderConfig {
    /// Input sample rate.
    pub sample_rate: SampleRate,
    /// Target bitrate in bit/s (500..=512000).
    pub bitrate: u32,
    /// Computational complexity 0..=10; `None` keeps libopus' default.
    pub complexity: Option<u8>,
    /// Embed in-band forward error correction (useful for live RTP, not for files).
    pub inband_fec: bool,
    /// Expected packet loss in percent (0..=100), which tunes FEC.
    pub packet_loss_pct: u8,
}

impl Default for EncoderConfig {
    fn default() -> Self {
        Self {
            sample_rate: SampleRate::Hz8000,
            bitrate: DEFAULT_BITRATE,
            complexity: None,
            inband_fec: false,
            packet_loss_pct: 0,
        }
    }
}

impl EncoderConfig {
    /// The default configuration at `sample_rate` Hz.
    pub fn new(sample_rate: u32) -> Result<Self, Error> {
        Ok(Self {
            sample_rate: SampleRate::from_hz(sample_rate)?,
            ..Self::default()
        })
    }

    /// Sets the bitrate in bit/s.
    pub fn bitrate(mut self, bps: u32) -> Result<Self, Error> {
        if !(500..=512_000).contains(&bps) {
            return Err(Error::InvalidSetting {
                setting: "bitrate",
                value: bps.into(),
            });
        }
        self.bitrate = bps;
        Ok(self)
    }

    /// Sets the complexity (0..=10).
    pub fn complexity(mut self, complexity: u8) -> Result<Self, Error> {
        if complexity > 10 {
            return Err(Error::InvalidSetting {
                setting: "complexity",
                value: complexity.into(),
            });
        }
        self.complexity = Some(complexity);
        Ok(self)
    }
}

/// Mono Opus encoder producing one packet per 20 ms frame.
pub struct Encoder {
    inner: libopus::Encoder,
    config: EncoderConfig,
    lookahead: u32,
}

impl std::fmt::Debug for Encoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Encoder")
            .field("config", &self.config)
            .field("lookahead", &self.lookahead)
            .finish_non_exhaustive()
    }
}

impl Encoder {
    /// Creates an encoder for the VOIP application.
    pub fn new(config: EncoderConfig) -> Result<Self, Error> {
        // Re-run the setters' checks: the fields are public.
        config.bitrate(config.bitrate)?;
        if let Some(c) = config.complexity {
            config.complexity(c)?;
        }
        if config.packet_loss_pct > 100 {
            return Err(Error::InvalidSetting {
                setting: "packet_loss_pct",
                value: config.packet_loss_pct.into(),
            });
        }
        let e = |e| map_err(e, 0);
        let mut inner =
            libopus::Encoder::new(config.sample_rate.hz(), Channels::Mono, Application::Voip)
                .map_err(e)?;
        inner
            .set_bitrate(Bitrate::Bits(config.bitrate as i32))
            .map_err(e)?;
        if let Some(c) = config.complexity {
            inner.set_complexity(i32::from(c)).map_err(e)?;
        }
        inner.set_inband_fec(config.inband_fec).map_err(e)?;
        inner
            .set_packet_loss_perc(i32::from(config.packet_loss_pct))
            .map_err(e)?;
        let lookahead = u32::try_from(inner.get_lookahead().map_err(e)?).unwrap_or(0);
        Ok(Self {
            inner,
            config,
            lookahead,
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> EncoderConfig {
        self.config
    }

    /// Samples per frame at the input rate.
    pub fn frame_samples(&self) -> usize {
        self.config.sample_rate.frame_samples()
    }

    /// The encoder's algorithmic delay in samples at the input rate (RFC 7845 pre-skip source).
    pub fn lookahead(&self) -> u32 {
        self.lookahead
    }

    /// Changes the bitrate (bit/s) from the next frame on.
    pub fn set_bitrate(&mut self, bps: u32) -> Result<(), Error> {
        self.config = self.config.bitrate(bps)?;
        self.inner
            .set_bitrate(Bitrate::Bits(bps as i32))
            .map_err(|e| map_err(e, 0))
    }

    /// Encodes one 20 ms frame into `out` (at least [`MAX_PACKET_LEN`] is always enough) and
    /// returns the packet length.
    pub fn encode(&mut self, pcm: &[i16], out: &mut [u8]) -> Result<usize, Error> {
        let expected = self.frame_samples();
        if pcm.len() != expected {
            return Err(Error::FrameLength {
                expected,
                got: pcm.len(),
            });
        }
        let out_len = out.len().min(MAX_PACKET_LEN);
        let n = self
            .inner
            .encode(pcm, &mut out[..out_len])
            .map_err(|e| map_err(e, 0))?;
        trace!(bytes = n, "opus frame encoded");
        Ok(n)
    }
}

/// Mono Opus decoder with loss concealment.
pub struct Decoder {
    inner: libopus::Decoder,
    rate: SampleRate,
}

impl std::fmt::Debug for Decoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Decoder")
            .field("rate", &self.rate)
            .finish_non_exhaustive()
    }
}

impl Decoder {
    /// A decoder producing mono PCM at `rate`.
    pub fn new(rate: SampleRate) -> Result<Self, Error> {
        let inner = libopus::Decoder::new(rate.hz(), Channels::Mono).map_err(|e| map_err(e, 0))?;
        Ok(Self { inner, rate })
    }

    /// Sets the output gain in Q7.8 dB (the Ogg Opus header's `output_gain`).
    pub fn set_gain(&mut self, q8_db: i16) -> Result<(), Error> {
        self.inner
            .set_gain(i32::from(q8_db))
            .map_err(|e| map_err(e, 0))
    }

    /// Output rate.
    pub fn sample_rate(&self) -> SampleRate {
        self.rate
    }

    /// Most samples one packet can decode to at this rate (120 ms); size `out` buffers with it.
    pub fn max_frame_samples(&self) -> usize {
        MAX_FRAME_SAMPLES_48K / self.rate.factor_48k() as usize
    }

    /// Samples `packet` will decode to at this rate, without decoding it.
    pub fn packet_samples(&self, packet: &[u8]) -> Result<usize, Error> {
        libopus::packet::get_nb_samples(packet, self.rate.hz())
            .map_err(|e| map_err(e, packet.len()))
    }

    /// Decodes one packet into `out`; returns the samples written.
    ///
    /// An empty packet is treated as lost (same as [`Self::conceal`] for one 20 ms frame).
    pub fn decode(&mut self, packet: &[u8], out: &mut [i16]) -> Result<usize, Error> {
        if packet.is_empty() {
            return self.conceal(out);
        }
        if packet.len() > MAX_PACKET_LEN {
            return Err(Error::InvalidPacket { len: packet.len() });
        }
        let cap = out.len().min(self.max_frame_samples());
        self.inner
            .decode(packet, &mut out[..cap], false)
            .map_err(|e| map_err(e, packet.len()))
    }

    /// Fills `out` (whose length should be a multiple of 2.5 ms, normally one 20 ms frame) with
    /// concealment for a lost packet; returns the samples written.
    pub fn conceal(&mut self, out: &mut [i16]) -> Result<usize, Error> {
        let cap = out.len().min(self.max_frame_samples());
        self.inner
            .decode(&[], &mut out[..cap], false)
            .map_err(|e| map_err(e, 0))
    }

    /// Recovers the frame *before* `next_packet` from the FEC data carried in `next_packet`
    /// (falls back to concealment when it carries none). `out` should be one frame long. Call
    /// [`Self::decode`] with `next_packet` afterwards as usual.
    pub fn decode_fec(&mut self, next_packet: &[u8], out: &mut [i16]) -> Result<usize, Error> {
        if next_packet.is_empty() || next_packet.len() > MAX_PACKET_LEN {
            return self.conceal(out);
        }
        let cap = out.len().min(self.max_frame_samples());
        self.inner
            .decode(next_packet, &mut out[..cap], true)
            .map_err(|e| map_err(e, next_packet.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(rate: u32, n: usize) -> Vec<i16> {
        (0..n)
            .map(|i| {
                let t = i as f64 / f64::from(rate);
                (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
            })
            .collect()
    }

    #[test]
    fn encode_decode_all_rates() {
        for hz in [8000, 12000, 16000, 24000, 48000] {
            let mut enc = Encoder::new(EncoderConfig::new(hz).unwrap()).unwrap();
            let mut dec = Decoder::new(SampleRate::from_hz(hz).unwrap()).unwrap();
            let fs = enc.frame_samples();
            assert_eq!(fs, hz as usize / 50);
            assert!(enc.lookahead() > 0);
            let pcm = tone(hz, fs * 50);
            let mut pkt = [0u8; MAX_PACKET_LEN];
            let mut out = vec![0i16; dec.max_frame_samples()];
            let mut energy = 0f64;
            for frame in pcm.chunks(fs) {
                let n = enc.encode(frame, &mut pkt).unwrap();
                assert!(n > 0 && n < 200, "16 kbit/s is 40 bytes per frame, got {n}");
                assert_eq!(dec.packet_samples(&pkt[..n]).unwrap(), fs);
                let m = dec.decode(&pkt[..n], &mut out).unwrap();
                assert_eq!(m, fs);
                energy += out[..m].iter().map(|&s| f64::from(s).powi(2)).sum::<f64>();
            }
            let rms = (energy / pcm.len() as f64).sqrt();
            // the tone's RMS is 8000/√2 ≈ 5657
            assert!((4000.0..7000.0).contains(&rms), "{hz} Hz: rms {rms}");
        }
    }

    #[test]
    fn stored_messages_take_the_complexity_of_their_rate() {
        assert_eq!(stored_complexity(8000), 1);
        assert_eq!(stored_complexity(16000), 5);
        assert_eq!(stored_complexity(12000), 5);
        const { assert!(STORED_BITRATE > DEFAULT_BITRATE) };
    }

    #[test]
    fn rejects_bad_settings_and_frames() {
        assert!(matches!(
            EncoderConfig::new(44100),
            Err(Error::UnsupportedRate(44100))
        ));
        let c = EncoderConfig::default();
        assert!(matches!(
            c.bitrate(100),
            Err(Error::InvalidSetting {
                setting: "bitrate",
                ..
            })
        ));
        assert!(matches!(
            c.complexity(11),
            Err(Error::InvalidSetting { .. })
        ));
        let mut enc = Encoder::new(c).unwrap();
        let mut pkt = [0u8; MAX_PACKET_LEN];
        assert!(matches!(
            enc.encode(&[0; 100], &mut pkt),
            Err(Error::FrameLength {
                expected: 160,
                got: 100
            })
        ));
        let mut dec = Decoder::new(SampleRate::Hz8000).unwrap();
        let mut out = [0i16; 960];
        // A code-3 packet declaring 0 frames is invalid (RFC 6716 §3.2.5, R5).
        assert!(matches!(
            dec.decode(&[0x03, 0x00], &mut out),
            Err(Error::InvalidPacket { len: 2 })
        ));
    }

    #[test]
    fn concealment_and_fec_produce_a_frame() {
        let cfg = EncoderConfig {
            inband_fec: true,
            packet_loss_pct: 20,
            ..EncoderConfig::new(16000).unwrap()
        };
        let mut enc = Encoder::new(cfg).unwrap();
        let mut dec = Decoder::new(SampleRate::Hz16000).unwrap();
        let pcm = tone(16000, 320 * 10);
        let mut pkts = Vec::new();
        for frame in pcm.chunks(320) {
            let mut pkt = [0u8; MAX_PACKET_LEN];
            let n = enc.encode(frame, &mut pkt).unwrap();
            pkts.push(pkt[..n].to_vec());
        }
        let mut out = [0i16; 320];
        for p in &pkts[..5] {
            assert_eq!(dec.decode(p, &mut out).unwrap(), 320);
        }
        // packet 5 lost: recover it from packet 6's FEC, then decode 6
        assert_eq!(dec.decode_fec(&pkts[6], &mut out).unwrap(), 320);
        assert!(out.iter().any(|&s| s != 0));
        assert_eq!(dec.decode(&pkts[6], &mut out).unwrap(), 320);
        // two more lost with no next packet: plain concealment
        assert_eq!(dec.conceal(&mut out).unwrap(), 320);
        assert_eq!(dec.decode(&[], &mut out).unwrap(), 320);
    }
}
