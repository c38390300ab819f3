//! A bounded queue of live intercom audio for one phone.
//!
//! Buffers arrive while the phone is still ringing and keep arriving in real time once it
//! plays, so the backlog of the ringing time would otherwise stay as latency for the rest of
//! the stream. The queue therefore (1) holds at most `max` samples, dropping the oldest beyond
//! (counted), and (2) while more than `catchup` samples are queued, skips one frame in every
//! `skip_every` it plays (counted), so the backlog shrinks steadily to `catchup`.

use std::collections::VecDeque;

use tracing::debug;

use super::Config;

/// What [`LiveQueue::next_frame`] produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveFrame {
    /// A frame of audio was written (padded with silence if the stream ended mid-frame).
    Audio,
    /// Nothing is queued yet; the stream goes on.
    Starved,
    /// The stream ended and everything was played.
    Done,
}

/// Live 8 kHz PCM for one phone: at most `live_queue_max` of it (the oldest is dropped
/// beyond, counted); while more than `live_catchup` is queued, one frame in `skip_every` is
/// skipped (counted), so a backlog from the ringing time shrinks steadily.
#[derive(Debug, Clone)]
pub struct LiveQueue {
    queue: VecDeque<i16>,
    max: usize,
    catchup: usize,
    skip_every: u32,
    played: u32,
    ended: bool,
    /// Samples dropped because the queue was full.
    pub dropped: u64,
    /// Frames skipped to catch up.
    pub skipped: u64,
}

impl LiveQueue {
    /// An empty queue bounded as `config` says.
    pub fn new(config: &Config) -> Self {
        Self {
            queue: VecDeque::new(),
            max: config.live_samples(config.live_queue_max).max(1),
            catchup: config.live_samples(config.live_catchup),
            skip_every: config.live_skip_every,
            played: 0,
            ended: false,
            dropped: 0,
            skipped: 0,
        }
    }

    /// Samples queued.
    pub fn len(&self) -> usize {
        self.queue.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Whether [`Self::end`] was called.
    pub fn is_ended(&self) -> bool {
        self.ended
    }

    /// Appends a buffer, dropping the oldest audio beyond the bound. Ignored after the end.
    pub fn push(&mut self, pcm: &[i16]) {
        if self.ended {
            self.dropped += pcm.len() as u64;
            debug!(samples = pcm.len(), "live buffer after the end: dropped");
            return;
        }
        let pcm = if pcm.len() > self.max {
            self.dropped += (pcm.len() - self.max) as u64;
            &pcm[pcm.len() - self.max..]
        } else {
            pcm
        };
        let over = (self.queue.len() + pcm.len()).saturating_sub(self.max);
        if over > 0 {
            self.queue.drain(..over);
            self.dropped += over as u64;
            debug!(samples = over, "live queue full: oldest audio dropped");
        }
        self.queue.extend(pcm);
    }

    /// Marks the end of the stream: what is queued still plays.
    pub fn end(&mut self) {
        self.ended = true;
    }

    /// Takes the next frame of `out.len()` samples.
    pub fn next_frame(&mut self, out: &mut [i16]) -> LiveFrame {
        let n = out.len();
        if n == 0 {
            return LiveFrame::Starved;
        }
        if self.queue.len() > self.catchup + n {
            self.played += 1;
            if self.played.is_multiple_of(self.skip_every) {
                self.queue.drain(..n);
                self.skipped += 1;
            }
        }
        if self.queue.len() >= n || (self.ended && !self.queue.is_empty()) {
            let take = n.min(self.queue.len());
            for (o, s) in out.iter_mut().zip(self.queue.drain(..take)) {
                *o = s;
            }
            out[take..].fill(0);
            LiveFrame::Audio
        } else if self.ended {
            LiveFrame::Done
        } else {
            LiveFrame::Starved
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(max_ms: u64, catchup_ms: u64) -> LiveQueue {
        let mut c = Config::default();
        c.live_queue_max(std::time::Duration::from_millis(max_ms))
            .unwrap()
            .live_catchup(std::time::Duration::from_millis(catchup_ms), 4)
            .unwrap();
        LiveQueue::new(&c)
    }

    #[test]
    fn bounded_drops_oldest_and_counts() {
        let mut q = queue(100, 1000); // 800 samples
        let pcm: Vec<i16> = (0..1000).map(|i| i as i16).collect();
        q.push(&pcm[..500]);
        q.push(&pcm[500..]);
        assert_eq!(q.len(), 800);
        assert_eq!(q.dropped, 200);
        let mut out = [0i16; 160];
        assert_eq!(q.next_frame(&mut out), LiveFrame::Audio);
        assert_eq!(out[0], 200, "the oldest 200 samples were dropped");
        // A single buffer larger than the bound keeps its newest part.
        q.push(&vec![7; 2000]);
        assert_eq!(q.len(), 800);
        assert_eq!(q.dropped, 200 + 640 + 1200);
    }

    #[test]
    fn catches_up_to_the_threshold_then_plays_every_frame() {
        let mut q = queue(20_000, 200); // catch-up above 1600 samples
        q.push(&vec![1; 8000]); // 1 s queued while ringing
        let mut out = [0i16; 160];
        let mut frames = 0;
        while q.len() > 1600 + 160 {
            assert_eq!(q.next_frame(&mut out), LiveFrame::Audio);
            frames += 1;
            assert!(frames < 100, "catch-up must make progress");
        }
        assert!(q.skipped > 0);
        // 40 frames of backlog above the threshold: 4/3 speed clears it in about 3 × 10.
        assert!((28..=32).contains(&frames), "{frames}");
        let skipped = q.skipped;
        for _ in 0..5 {
            q.next_frame(&mut out);
            q.push(&[1; 160]);
        }
        assert_eq!(q.skipped, skipped, "no skipping at or below the threshold");
    }

    #[test]
    fn starves_then_ends_with_a_padded_frame() {
        let mut q = queue(1000, 200);
        let mut out = [5i16; 160];
        assert_eq!(q.next_frame(&mut out), LiveFrame::Starved);
        q.push(&[3; 100]);
        assert_eq!(q.next_frame(&mut out), LiveFrame::Starved);
        q.end();
        assert_eq!(q.next_frame(&mut out), LiveFrame::Audio);
        assert_eq!(&out[..100], &[3; 100]);
        assert_eq!(&out[100..], &[0; 60]);
        assert_eq!(q.next_frame(&mut out), LiveFrame::Done);
        q.push(&[1; 10]);
        assert_eq!(q.dropped, 10);
    }
}
