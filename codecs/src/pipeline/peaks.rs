//! A message's waveform: the loudest sample of each of `points` equal spans, for a page to draw
//! before the message is played. [`peaks`] decodes the sealed message twice, as the WAV
//! [`super::export`] does (once to count, once to measure), and keeps `points` values whatever
//! the message's length.

use std::io::{Read, Seek};

use super::{Error, Format, Key, Source, counted, open_sealed, pump};

/// Most spans a waveform has.
pub const MAX_POINTS: usize = 2000;

/// A waveform: `peaks[i]` is the loudest sample of the `i`-th span, 0 (silence) to 255 (full
/// scale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waveform {
    /// The audio's length, as the WAV export has it.
    pub duration_ms: u64,
    /// One value per span.
    pub peaks: Vec<u8>,
}

/// The loudest sample of each of `points` equal spans of `total` samples, fed in any chunks.
#[derive(Debug, Clone)]
pub struct Spans {
    total: u64,
    seen: u64,
    peaks: Vec<u16>,
}

impl Spans {
    /// Spans for `total` samples; `points` is held to 1..=[`MAX_POINTS`].
    pub fn new(total: u64, points: usize) -> Self {
        Self {
            total: total.max(1),
            seen: 0,
            peaks: vec![0; points.clamp(1, MAX_POINTS)],
        }
    }

    /// The next samples; any beyond `total` count in the last span.
    pub fn push(&mut self, pcm: &[i16]) {
        let points = self.peaks.len() as u64;
        for s in pcm {
            let span = (self.seen * points / self.total).min(points - 1) as usize;
            self.peaks[span] = self.peaks[span].max(s.unsigned_abs());
            self.seen += 1;
        }
    }

    /// Each span's peak on 0–255.
    pub fn finish(self) -> Vec<u8> {
        self.peaks
            .into_iter()
            .map(|p| u8::try_from(u32::from(p) * 255 / 32768).unwrap_or(u8::MAX))
            .collect()
    }
}

/// The waveform of a sealed message (as [`super::ingest`] stored it) in `points` spans, at the
/// rate its WAV export has: every tag is checked by the counting pass before anything is
/// measured.
pub fn peaks<R: Read + Seek>(
    mut sealed: R,
    key: &Key,
    id: &[u8],
    points: usize,
) -> Result<Waveform, Error> {
    let (rate, hz, total) = counted(&mut sealed, key, id, |rate| rate.hz())?;
    let mut source = Source::new(open_sealed(key, id, &mut sealed)?, Format::OggOpus, rate)?;
    let mut spans = Spans::new(total, points);
    pump(&mut source, hz, None, |pcm| {
        spans.push(pcm);
        Ok(())
    })?;
    Ok(Waveform {
        duration_ms: total * 1000 / u64::from(hz),
        peaks: spans.finish(),
    })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn each_span_keeps_its_loudest_sample() {
        // Four spans of 100 samples: silence, quiet, full scale (negative), half.
        let mut s = vec![0i16; 400];
        s[150] = 3000;
        s[250] = i16::MIN;
        s[399] = 16384;
        let mut spans = Spans::new(400, 4);
        spans.push(&s);
        assert_eq!(spans.finish(), [0, 23, 255, 127]);
        // More spans than samples: each sample its own span, the others silent.
        let mut few = Spans::new(2, 4);
        few.push(&[0, i16::MAX]);
        assert_eq!(few.finish(), [0, 0, 254, 0]);
        // Samples past the count given land in the last span; points are bounded.
        let mut over = Spans::new(2, 2);
        over.push(&[1, 1, 20_000]);
        assert_eq!(over.finish(), [0, 155]);
        assert_eq!(Spans::new(10, 0).finish().len(), 1);
        assert_eq!(Spans::new(10, 1_000_000).finish().len(), MAX_POINTS);
    }

    proptest! {
        #[test]
        fn chunks_do_not_change_the_peaks(
            pcm in proptest::collection::vec(any::<i16>(), 0..2000),
            points in 1usize..300,
            cut in 1usize..500,
        ) {
            let mut whole = Spans::new(pcm.len() as u64, points);
            whole.push(&pcm);
            let mut parts = Spans::new(pcm.len() as u64, points);
            for c in pcm.chunks(cut) {
                parts.push(c);
            }
            let (a, b) = (whole.finish(), parts.finish());
            prop_assert_eq!(&a, &b);
            prop_assert_eq!(a.len(), points);
            // The loudest span holds the loudest sample.
            let loudest = pcm.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
            let expected = u8::try_from(u32::from(loudest) * 255 / 32768).unwrap_or(u8::MAX);
            prop_assert_eq!(a.iter().copied().max().unwrap_or(0), expected);
        }
    }
}
