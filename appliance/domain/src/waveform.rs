//! A message's waveform, to draw before it is played: the loudest sample in each of a few
//! hundred equal spans of the audio. It is decoded from the stored audio as an export is, but
//! streamed through a sink that keeps only the peaks (a few hundred bytes, whatever the
//! message's length), and looking at it does not count as playing the message.

use std::io::Write;

use serde::Serialize;
use uuid::Uuid;

use crate::VoiceMessaging;
use crate::db::messages::{self as store, Status};
use crate::mailbox::ReadError;

/// Most points a waveform has.
pub const MAX_POINTS: usize = 2000;
/// The most header bytes read before the samples (a WAV from the exporter has 44).
const MAX_HEADER: usize = 4096;

/// A waveform: `peaks[i]` is the loudest sample of the `i`-th span, 0 (silence) to 255 (full
/// scale).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Waveform {
    /// The audio's length.
    pub duration_ms: u64,
    /// One value per span.
    pub peaks: Vec<u8>,
}

/// A WAV stream's sink that keeps the peaks of `points` spans.
#[derive(Debug)]
struct Peaks {
    points: usize,
    /// Header bytes until the samples start.
    header: Vec<u8>,
    /// Once the `data` chunk starts: frames in it, and bytes per frame.
    data: Option<(u64, usize)>,
    /// A partial frame carried over between writes.
    partial: Vec<u8>,
    frame: u64,
    peaks: Vec<u16>,
}

impl Peaks {
    fn new(points: usize) -> Self {
        Self {
            points,
            header: Vec::new(),
            data: None,
            partial: Vec::new(),
            frame: 0,
            peaks: vec![0; points],
        }
    }

    /// Reads the RIFF header once enough of it is here: the format, then the `data` chunk's
    /// size. `Ok(Some(n))`: the samples start after `n` header bytes.
    fn parse_header(&mut self) -> std::io::Result<Option<usize>> {
        let h = &self.header;
        let bad = |why: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, why.to_owned());
        if h.len() < 12 {
            return Ok(None);
        }
        if &h[..4] != b"RIFF" || &h[8..12] != b"WAVE" {
            return Err(bad("not a WAV stream"));
        }
        let (mut at, mut format) = (12, None);
        while h.len() >= at + 8 {
            let id = &h[at..at + 4];
            let size = u32::from_le_bytes([h[at + 4], h[at + 5], h[at + 6], h[at + 7]]) as usize;
            let body = at + 8;
            if id == b"data" {
                let (channels, bits): (usize, usize) =
                    format.ok_or_else(|| bad("data before fmt"))?;
                let frame = channels * bits / 8;
                if bits != 16 || frame == 0 {
                    return Err(bad("not 16-bit PCM"));
                }
                self.data = Some(((size / frame) as u64, frame));
                return Ok(Some(body));
            }
            if h.len() < body + size {
                return Ok(None);
            }
            if id == b"fmt " {
                if size < 16 {
                    return Err(bad("short fmt chunk"));
                }
                let channels = u16::from_le_bytes([h[body + 2], h[body + 3]]) as usize;
                let bits = u16::from_le_bytes([h[body + 14], h[body + 15]]) as usize;
                format = Some((channels, bits));
            }
            at = body + size + (size & 1);
        }
        Ok(None)
    }

    fn samples(&mut self, bytes: &[u8]) {
        let Some((frames, frame)) = self.data else {
            return;
        };
        let mut take = |f: &[u8]| {
            let loudest = f
                .chunks_exact(2)
                .map(|s| i16::from_le_bytes([s[0], s[1]]).unsigned_abs())
                .max()
                .unwrap_or(0);
            let span = (self.frame * self.points as u64 / frames.max(1)) as usize;
            let span = span.min(self.points - 1);
            self.peaks[span] = self.peaks[span].max(loudest);
            self.frame += 1;
        };
        let mut rest = bytes;
        if !self.partial.is_empty() {
            let need = frame - self.partial.len();
            let n = need.min(rest.len());
            self.partial.extend_from_slice(&rest[..n]);
            rest = &rest[n..];
            if self.partial.len() < frame {
                return;
            }
            let f = std::mem::take(&mut self.partial);
            take(&f);
        }
        let mut chunks = rest.chunks_exact(frame);
        for f in &mut chunks {
            take(f);
        }
        self.partial.extend_from_slice(chunks.remainder());
    }

    fn finish(self) -> Vec<u8> {
        self.peaks
            .into_iter()
            .map(|p| u8::try_from(u32::from(p) * 255 / 32768).unwrap_or(255))
            .collect()
    }
}

impl Write for Peaks {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.data.is_some() {
            self.samples(buf);
            return Ok(buf.len());
        }
        let room = MAX_HEADER.saturating_sub(self.header.len());
        if room == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "no samples within the first 4 KiB",
            ));
        }
        let n = room.min(buf.len());
        self.header.extend_from_slice(&buf[..n]);
        if let Some(start) = self.parse_header()? {
            let after = self.header.split_off(start);
            self.samples(&after);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The peaks of WAV `bytes` (a whole stream), for tests and for callers holding one in memory.
pub fn peaks_of(bytes: &[u8], points: usize) -> std::io::Result<Vec<u8>> {
    let mut p = Peaks::new(points.clamp(1, MAX_POINTS));
    p.write_all(bytes)?;
    Ok(p.finish())
}

impl VoiceMessaging {
    /// The waveform of `message` as `user` sees it, in `points` spans (1 to [`MAX_POINTS`]).
    /// Unlike [`Self::audio`], it does not mark the message played.
    pub async fn waveform(
        &self,
        user: Uuid,
        message: Uuid,
        points: usize,
    ) -> Result<Waveform, ReadError> {
        let (view, file) = self
            .0
            .db
            .read(move |c| store::get_for(c, user, message))
            .await?
            .ok_or(ReadError::NotFound)?;
        if view.status != Status::Ready.as_str() {
            return Err(if view.status == Status::Failed.as_str() {
                ReadError::Failed
            } else {
                ReadError::Processing
            });
        }
        let path = self
            .0
            .db
            .paths()
            .media
            .join(file.ok_or(ReadError::Removed)?);
        let key = self.0.key.clone();
        let points = points.clamp(1, MAX_POINTS);
        let peaks = tokio::task::spawn_blocking(move || {
            let mut sink = Peaks::new(points);
            crate::audio::export_wav_into(&path, &key, message, &mut sink)?;
            Ok::<_, String>(sink.finish())
        })
        .await
        .map_err(|e| ReadError::Internal(e.to_string()))?
        .map_err(ReadError::Internal)?;
        Ok(Waveform {
            duration_ms: view.duration_ms,
            peaks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(samples: &[i16], channels: u16) -> Vec<u8> {
        let data = samples.len() * 2;
        let mut w = Vec::new();
        w.extend_from_slice(b"RIFF");
        w.extend_from_slice(&(36 + data as u32).to_le_bytes());
        w.extend_from_slice(b"WAVEfmt ");
        w.extend_from_slice(&16u32.to_le_bytes());
        w.extend_from_slice(&1u16.to_le_bytes());
        w.extend_from_slice(&channels.to_le_bytes());
        w.extend_from_slice(&8000u32.to_le_bytes());
        w.extend_from_slice(&(8000 * 2 * u32::from(channels)).to_le_bytes());
        w.extend_from_slice(&(2 * channels).to_le_bytes());
        w.extend_from_slice(&16u16.to_le_bytes());
        // A chunk to skip, of odd length (padded).
        w.extend_from_slice(b"LIST");
        w.extend_from_slice(&3u32.to_le_bytes());
        w.extend_from_slice(b"abc\0");
        w.extend_from_slice(b"data");
        w.extend_from_slice(&(data as u32).to_le_bytes());
        for s in samples {
            w.extend_from_slice(&s.to_le_bytes());
        }
        w
    }

    #[test]
    fn each_span_keeps_its_loudest_sample_whatever_the_writes() {
        // Four spans of 100 samples: silence, a quiet one, full scale (negative), half.
        let mut s = vec![0i16; 400];
        s[150] = 3000;
        s[250] = i16::MIN;
        s[399] = 16384;
        let bytes = wav(&s, 1);
        let whole = peaks_of(&bytes, 4).unwrap();
        assert_eq!(whole, [0, 23, 255, 127]);
        // Written a few bytes at a time (frames and the header cut anywhere), the same.
        for step in [1, 3, 7, 45, 1000] {
            let mut p = Peaks::new(4);
            for chunk in bytes.chunks(step) {
                p.write_all(chunk).unwrap();
            }
            assert_eq!(p.finish(), whole, "step {step}");
        }
        // More points than samples: each sample its own span, the rest silent.
        assert_eq!(peaks_of(&wav(&[0, 32767], 1), 4).unwrap(), [0, 0, 254, 0]);
        // Stereo frames: the louder channel.
        assert_eq!(
            peaks_of(&wav(&[0, 100, -20000, 5], 2), 2).unwrap(),
            [0, 155]
        );
    }

    #[test]
    fn what_is_not_a_16_bit_wav_is_refused() {
        assert!(peaks_of(b"RIFX\0\0\0\0WAVE", 4).is_err());
        let mut eight = wav(&[0; 4], 1);
        eight[34] = 8; // bits per sample
        assert!(peaks_of(&eight, 4).is_err());
        // A header that never reaches its samples stops at 4 KiB.
        let mut endless = wav(&[], 1);
        endless.truncate(36);
        endless.extend_from_slice(b"JUNK");
        endless.extend_from_slice(&100_000u32.to_le_bytes());
        endless.resize(10_000, 0);
        assert!(peaks_of(&endless, 4).is_err());
    }
}
