//! Playout of a stored message as G.711 frames, for RTP to a phone.
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
}
