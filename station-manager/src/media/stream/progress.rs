//! Call-progress watching for trunk supervision: the call's received audio, decoded to 8 kHz
//! PCM (G.711 or Opus, after the jitter buffer), runs through `codecs::progress::Detector`
//! (ITU-T E.180 / ETSI TR 101 041-2 tones by frequency and cadence, and voice), and each change
//! is reported as [`MediaEvent::Progress`].
//!
//! Cadence is time, and silence is part of it: a frame concealed because nothing arrived is
//! heard as silence (not as the concealment's fading copy of the last tone burst), and a gap in
//! the sender's timestamps (silence suppression during a tone's off period) is fed as that
//! many samples of silence, up to [`MAX_GAP`].

use codecs::progress::{Detector, Heard};
use codecs::rtp::Timestamp;
use tracing::debug;

use super::{FRAME, Stream};
use crate::{MediaEvent, Progress};

/// Longest timestamp gap fed to the detector as silence; a longer one is a restart of the
/// sender's clock, and the detector just goes on.
pub(super) const MAX_GAP: u32 = 10 * 8000;

/// One frame of silence.
const ZEROS: [i16; FRAME] = [0; FRAME];

/// The detector of a watched call, and where its audio is up to.
#[derive(Debug)]
pub(super) struct Watch {
    detector: Detector,
    /// Timestamp after the last frame fed.
    next_ts: Option<Timestamp>,
}

impl Stream {
    /// Starts watching what the line plays ([`MediaEvent::Progress`] on each change), until
    /// the stream ends. Watching again changes nothing.
    pub fn handle_watch_progress(&mut self) {
        if self.watch.is_none() {
            debug!(call = %self.call, "watching call progress");
            self.watch = Some(Watch {
                detector: Detector::new(),
                next_ts: None,
            });
        }
    }

    /// Whether call progress is watched.
    pub fn is_watching_progress(&self) -> bool {
        self.watch.is_some()
    }

    /// The sender's timestamps restart (a codec change): no gap to the old ones is silence.
    pub(super) fn watch_new_clock(&mut self) {
        if let Some(w) = self.watch.as_mut() {
            w.next_ts = None;
        }
    }

    /// Feeds the frame in `scratch` (timestamp `ts`; `underrun`: concealed with nothing
    /// received) to the detector.
    pub(super) fn watch_frame(&mut self, ts: Timestamp, underrun: bool) {
        let Some(w) = self.watch.as_mut() else {
            return;
        };
        let (call, events) = (self.call, &mut self.events);
        let mut report = |heard: Option<Heard>| {
            if let Some(heard) = heard.and_then(progress) {
                debug!(%call, ?heard, "call progress");
                events.push_back(MediaEvent::Progress { call, heard });
            }
        };
        let ticks = self.ticks.max(1) as i32;
        if let Some(next) = w.next_ts {
            let gap = ts.distance(next) / ticks;
            if gap > 0 && gap as u32 <= MAX_GAP {
                let mut left = gap as usize;
                while left > 0 {
                    let n = left.min(FRAME);
                    report(w.detector.feed(&ZEROS[..n]));
                    left -= n;
                }
            }
        }
        let pcm = if underrun {
            &ZEROS[..]
        } else {
            &self.scratch[..]
        };
        report(w.detector.feed(pcm));
        w.next_ts = Some(ts.wrapping_add(pcm.len() as u32 * self.ticks));
    }
}

/// The station manager's name for what the detector heard.
fn progress(h: Heard) -> Option<Progress> {
    Some(match h {
        Heard::DialTone => Progress::DialTone,
        Heard::Ringback => Progress::Ringback,
        Heard::Busy => Progress::Busy,
        Heard::Reorder => Progress::Reorder,
        Heard::Voice => Progress::Voice,
        _ => return None,
    })
}
