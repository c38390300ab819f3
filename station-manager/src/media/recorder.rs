//! Recording files: captured 8 kHz 16-bit mono PCM streamed to a WAV file as it arrives.
//!
//! The header is written first with the streaming sentinel sizes (`0xFFFF_FFFF`, which
//! `codecs::wav::WavReader` and most players accept), so a crash leaves at worst a readable
//! file with that sentinel; [`CaptureSink::finish`] patches the true sizes. Memory is one
//! write buffer per recording, whatever the length.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter};
use std::path::{Path, PathBuf};

use codecs::wav::WavWriter;
use gateway_control::model::CallId;

use super::CaptureSink;

/// Bytes buffered per recording before a write to the file (about 4 s of audio).
pub(crate) const WRITE_BUFFER: usize = 64 * 1024;

/// A WAV file being recorded.
#[derive(Debug)]
pub struct Recorder {
    path: PathBuf,
    writer: WavWriter<BufWriter<File>>,
}

impl Recorder {
    /// Creates `dir/<call>-<n>.wav` (a new file; `n` tells apart successive recordings of
    /// one call). Blocking.
    pub fn create(dir: &Path, call: CallId, n: u64) -> io::Result<Self> {
        let path = dir.join(format!("{call}-{n}.wav"));
        let file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)?;
        let writer = WavWriter::new(BufWriter::with_capacity(WRITE_BUFFER, file), 8000, 1, None)
            .map_err(io::Error::other)?;
        Ok(Self { path, writer })
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl CaptureSink for Recorder {
    fn write(&mut self, pcm: &[i16]) -> io::Result<()> {
        self.writer.write_samples(pcm).map_err(io::Error::other)
    }

    fn finish(self: Box<Self>) -> io::Result<PathBuf> {
        let file = self
            .writer
            .finish_seekable()
            .map_err(io::Error::other)?
            .into_inner()
            .map_err(|e| e.into_error())?;
        file.sync_data()?;
        Ok(self.path)
    }
}

#[cfg(test)]
mod tests {
    use codecs::wav::WavReader;

    use super::*;

    #[test]
    fn streams_then_patches_the_sizes() {
        let dir = tempfile::tempdir().unwrap();
        let mut r = Recorder::create(dir.path(), CallId(0xAB), 1).unwrap();
        let pcm: Vec<i16> = (0..40_000).map(|i| (i % 300) as i16 - 150).collect();
        for chunk in pcm.chunks(160) {
            r.write(chunk).unwrap();
        }
        // Before finishing, what reached the file (past the 64 KiB buffer) carries the
        // streaming sentinel.
        let path = r.path().to_owned();
        let partial = std::fs::read(&path).unwrap();
        assert_eq!(&partial[40..44], &u32::MAX.to_le_bytes());
        let done = Box::new(r).finish().unwrap();
        assert_eq!(done, path);
        let mut reader = WavReader::new(File::open(&done).unwrap()).unwrap();
        assert_eq!(reader.declared_frames(), Some(40_000));
        let mut back = vec![0; 50_000];
        let mut n = 0;
        while let k @ 1.. = reader.read_mono(&mut back[n..]).unwrap() {
            n += k;
        }
        assert_eq!(&back[..n], &pcm[..]);
        assert!(
            Recorder::create(dir.path(), CallId(0xAB), 1).is_err(),
            "never overwrites"
        );
    }
}
