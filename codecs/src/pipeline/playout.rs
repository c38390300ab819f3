//! Playout of a stored message as G.711 frames (or 8 kHz PCM frames), for RTP to a phone.
use std::io::Read;

use super::{CHUNK, Error, Format, MAX_STORED_LEN, Source};
use crate::g711::Law;
use crate::opus::SampleRate;
use crate::seal::{Key, OpenReader};

/// Plays a sealed message out as G.711 frames for RTP, one frame per call, decoding as it goes.
///
/// The last frame is padded with silence to a whole frame.
pub struct G711Playout<R: Read> {
    source: Source<OpenReader<R>>,
    law: Law,
    pcm: Vec<i16>,
    done: bool,
}

impl<R: Read> std::fmt::Debug for G711Playout<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("G711Playout")
            .field("law", &self.law)
            .field("frame_samples", &self.pcm.len())
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl<R: Read> G711Playout<R> {
    /// Opens the sealed message `sealed` (key and id as it was stored with) for playout as `law`
    /// frames of `frame_samples` samples (160 for the 20 ms of RFC 3551's default ptime).
    pub fn new(
        sealed: R,
        key: &Key,
        id: &[u8],
        law: Law,
        frame_samples: usize,
    ) -> Result<Self, Error> {
        if frame_samples == 0 || frame_samples > CHUNK {
            return Err(Error::Config {
                field: "frame_samples",
                reason: "must be 1 to 4096",
            });
        }
        let opened = OpenReader::new(key, id, sealed, MAX_STORED_LEN)?;
        let source = Source::new(opened, Format::OggOpus, SampleRate::Hz8000)?;
        Ok(Self {
            source,
            law,
            pcm: vec![0; frame_samples],
            done: false,
        })
    }

    /// Writes the next frame into `out` (one code per sample, `frame_samples` long) and returns
    /// true, or returns false when the message has ended.
    pub fn next_frame(&mut self, out: &mut [u8]) -> Result<bool, Error> {
        if self.done {
            return Ok(false);
        }
        let frame = self.pcm.len();
        if out.len() < frame {
            return Err(Error::Config {
                field: "out",
                reason: "shorter than a frame",
            });
        }
        let mut filled = 0;
        while filled < frame {
            let n = self.source.read(&mut self.pcm[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            self.done = true;
            return Ok(false);
        }
        if filled < frame {
            self.pcm[filled..].fill(0);
            self.done = true;
        }
        for (code, &sample) in out[..frame].iter_mut().zip(&self.pcm) {
            *code = self.law.encode_sample(sample);
        }
        Ok(true)
    }

    /// Writes the next `out.len()` samples of 8 kHz PCM into `out` (the law is not applied;
    /// for a stream that encodes itself, such as Opus RTP) and returns true, or returns false
    /// when the message has ended. The last frame is padded with silence.
    pub fn next_pcm(&mut self, out: &mut [i16]) -> Result<bool, Error> {
        if self.done || out.is_empty() {
            return Ok(false);
        }
        let mut filled = 0;
        while filled < out.len() {
            let n = self.source.read(&mut out[filled..])?;
            if n == 0 {
                break;
            }
            filled += n;
        }
        if filled == 0 {
            self.done = true;
            return Ok(false);
        }
        if filled < out.len() {
            out[filled..].fill(0);
            self.done = true;
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;
    use crate::pipeline::{IngestConfig, ingest};
    use crate::wav::WavWriter;

    const ID: &[u8] = b"playout-pcm";

    /// 1.05 s of a 440 Hz tone, stored as Offhook stores messages.
    fn sealed(key: &Key) -> Vec<u8> {
        let pcm: Vec<i16> = (0..8400)
            .map(|i| ((i as f64 * 440.0 * std::f64::consts::TAU / 8000.0).sin() * 8000.0) as i16)
            .collect();
        let mut w = WavWriter::new(Cursor::new(Vec::new()), 8000, 1, Some(8400)).unwrap();
        w.write_samples(&pcm).unwrap();
        let wav = w.finish().unwrap().into_inner();
        let mut out = Vec::new();
        let config = IngestConfig {
            clean: false,
            ..IngestConfig::default()
        };
        ingest(Cursor::new(wav), &mut out, key, ID, &config).unwrap();
        out
    }

    #[test]
    fn pcm_frames_are_the_samples_the_g711_frames_encode() {
        let key = Key::from_bytes([3; 32]);
        let sealed = sealed(&key);
        let open = || G711Playout::new(Cursor::new(&sealed), &key, ID, Law::Alaw, 160).unwrap();
        let (mut codes, mut pcm) = (open(), open());
        let (mut c, mut p) = ([0u8; 160], [0i16; 160]);
        let mut frames = 0;
        let mut loud = 0;
        while codes.next_frame(&mut c).unwrap() {
            assert!(pcm.next_pcm(&mut p).unwrap(), "as many PCM frames");
            for (&code, &sample) in c.iter().zip(&p) {
                assert_eq!(code, Law::Alaw.encode_sample(sample));
            }
            loud += p.iter().filter(|s| s.unsigned_abs() > 2000).count();
            frames += 1;
        }
        assert!(!pcm.next_pcm(&mut p).unwrap(), "ends with the codes");
        assert!(!pcm.next_pcm(&mut p).unwrap(), "ended stays ended");
        assert_eq!(frames, 53, "1.05 s in 20 ms frames, the last padded");
        assert!(loud > 4000, "the tone is there ({loud} loud samples)");
    }
}
