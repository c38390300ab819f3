//! Writes an intercom stream's audio to its WAV file on a task of its own.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use codecs::wav::WavWriter;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::SAMPLE_RATE;

/// Buffers queued for a stream's writer before the session waits for the disk (about 5 s of
/// 20 ms buffers; at most [`super::MAX_PCM_BYTES`] each).
const WRITE_QUEUE: usize = 256;

/// Appends a stream's audio to its WAV file on a writer task, so the session never waits on
/// the disk (unless [`WRITE_QUEUE`] buffers are already waiting).
#[derive(Debug)]
pub(super) struct Recorder {
    tx: mpsc::Sender<Vec<i16>>,
    task: JoinHandle<std::io::Result<PathBuf>>,
}

impl Recorder {
    pub(super) fn start(path: PathBuf) -> Self {
        let (tx, rx) = mpsc::channel(WRITE_QUEUE);
        let task = tokio::spawn(write_wav(path, rx));
        Self { tx, task }
    }

    /// Queues samples; a writer that already failed drops them (its error comes at finish).
    pub(super) async fn push(&self, pcm: Vec<i16>) {
        let _ = self.tx.send(pcm).await;
    }

    /// Closes the file; returns its path.
    pub(super) async fn finish(self) -> std::io::Result<PathBuf> {
        drop(self.tx);
        self.task.await.map_err(std::io::Error::other)?
    }
}

type Wav = WavWriter<BufWriter<File>>;

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> std::io::Result<T> + Send + 'static,
) -> std::io::Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(std::io::Error::other)?
}

async fn write_wav(path: PathBuf, mut rx: mpsc::Receiver<Vec<i16>>) -> std::io::Result<PathBuf> {
    let p = path.clone();
    let mut w: Wav = blocking(move || {
        if let Some(dir) = p.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let f = BufWriter::new(File::create(&p)?);
        WavWriter::new(f, SAMPLE_RATE, 1, None).map_err(std::io::Error::other)
    })
    .await?;
    let result = async {
        while let Some(first) = rx.recv().await {
            // Whatever queued meanwhile goes in the same trip to the blocking pool.
            let mut batch = vec![first];
            while let Ok(more) = rx.try_recv() {
                batch.push(more);
            }
            w = blocking(move || {
                for b in &batch {
                    w.write_samples(b).map_err(std::io::Error::other)?;
                }
                Ok(w)
            })
            .await?;
        }
        blocking(move || {
            let mut f = w.finish_seekable().map_err(std::io::Error::other)?;
            f.flush()
        })
        .await
    }
    .await;
    if let Err(e) = result {
        let _ = tokio::fs::remove_file(&path).await;
        return Err(e);
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_recorder_writes_a_wav() {
        let dir = tempfile::tempdir().unwrap();
        let r = Recorder::start(dir.path().join("live").join("x.wav"));
        for i in 0..10i16 {
            r.push(vec![i; 160]).await;
        }
        let path = r.finish().await.unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(bytes.len(), 44 + 1600 * 2);
        assert_eq!(u32::from_le_bytes(bytes[40..44].try_into().unwrap()), 3200);
        assert_eq!(i16::from_le_bytes([bytes[44 + 320], bytes[45 + 320]]), 1);
    }
}
