//! Stopping the stations: every recording still open is finished and stored, for as long as
//! that keeps making progress.
//!
//! Storing a recording reads its WAV, seals it and appends it to the upload spool with an
//! fsync: 9.6 MB for ten minutes of audio. A fixed limit on the stop would lose whatever did
//! not fit in it (measured: 1,000 ten-minute recordings at a stop, 370 stored in 20 s, 630
//! lost), so the stop waits until none is left, and gives up only after `stall` passes with
//! none stored. The caller hears of each one stored (`on_progress`), to tell the service
//! manager that the stop is still moving (systemd's `EXTEND_TIMEOUT_USEC`).
//!
//! Stores run at most [`super::to_core::STORES_AT_ONCE`] at a time: each holds its recording
//! sealed in memory until the spool has it, and a stop with a thousand of them would otherwise
//! hold gigabytes.

use std::pin::pin;
use std::time::Duration;

use tokio::sync::{oneshot, watch};
use tracing::warn;

/// A stop asked of the station task: it answers `done` once nothing is left to store, and
/// counts in `stored` the outputs it has finished since the stop began.
#[derive(Debug)]
pub(crate) struct Stop {
    pub(super) done: oneshot::Sender<()>,
    pub(super) stored: watch::Sender<u64>,
}

/// How the wait for a stop ended (the stall is logged where it happens; the tests read this).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Drained {
    /// Nothing is left to store (or the station task is gone).
    Stored,
    /// `stall` passed with nothing stored; what is left is not waited for.
    Stalled,
}

impl Stop {
    /// A stop request, the receiver of its answer and the counter of what it has stored.
    pub(super) fn new() -> (Self, oneshot::Receiver<()>, watch::Receiver<u64>) {
        let (done, done_rx) = oneshot::channel();
        let (stored, stored_rx) = watch::channel(0);
        (Self { done, stored }, done_rx, stored_rx)
    }
}

/// Waits for `done`, for as long as `stored` moves at least once every `stall`; calls
/// `on_progress` with the count each time it moves.
pub(super) async fn wait_stored(
    done: oneshot::Receiver<()>,
    mut stored: watch::Receiver<u64>,
    stall: Duration,
    mut on_progress: impl FnMut(u64),
) -> Drained {
    let mut done = pin!(done);
    let mut quiet = pin!(tokio::time::sleep(stall));
    let mut counting = true;
    loop {
        tokio::select! {
            // Answered, or the task is gone (nothing left that could be stored).
            _ = &mut done => return Drained::Stored,
            changed = stored.changed(), if counting => {
                if changed.is_err() {
                    // The task dropped its counter: its answer comes next.
                    counting = false;
                    continue;
                }
                let n = *stored.borrow_and_update();
                on_progress(n);
                quiet.as_mut().reset(tokio::time::Instant::now() + stall);
            }
            () = &mut quiet => {
                warn!(
                    ?stall,
                    stored = *stored.borrow(),
                    "recordings still open at the stop: none stored for a while, the rest are \
                     not waited for"
                );
                return Drained::Stalled;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STALL: Duration = Duration::from_secs(20);

    /// Counts on `stored` every `every` for `n` times, then answers a second later: a stop far
    /// longer than `STALL` that keeps moving.
    fn storing(stop: Stop, every: Duration, n: u64) {
        tokio::spawn(async move {
            for i in 1..=n {
                tokio::time::sleep(every).await;
                stop.stored.send_replace(i);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = stop.done.send(());
        });
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_stop_that_keeps_storing_is_waited_for_to_the_end() {
        let (stop, done, stored) = Stop::new();
        storing(stop, Duration::from_secs(15), 8);
        let start = tokio::time::Instant::now();
        let mut seen = Vec::new();
        let drained = wait_stored(done, stored, STALL, |n| seen.push(n)).await;
        assert_eq!(drained, Drained::Stored);
        assert_eq!(seen, (1..=8).collect::<Vec<_>>());
        // 121 s: six times the stall, which a fixed limit would have cut at 20 s.
        assert_eq!(start.elapsed(), Duration::from_secs(121));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_that_stores_nothing_gives_up_after_the_stall() {
        let (stop, done, stored) = Stop::new();
        let start = tokio::time::Instant::now();
        let drained = wait_stored(done, stored, STALL, |_| panic!("no progress")).await;
        assert_eq!(drained, Drained::Stalled);
        assert_eq!(start.elapsed(), STALL);
        drop(stop);
    }

    #[tokio::test(start_paused = true)]
    async fn the_stall_counts_from_the_last_recording_stored() {
        let (stop, done, stored) = Stop::new();
        let start = tokio::time::Instant::now();
        let keep = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(19)).await;
            stop.stored.send_replace(1);
            // Then nothing, but still running.
            tokio::time::sleep(Duration::from_secs(3600)).await;
            drop(stop);
        });
        let mut seen = 0;
        let drained = wait_stored(done, stored, STALL, |n| seen = n).await;
        assert_eq!((drained, seen), (Drained::Stalled, 1));
        assert_eq!(start.elapsed(), Duration::from_secs(39));
        keep.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_stop_with_nothing_open_ends_at_once() {
        let (stop, done, stored) = Stop::new();
        let _ = stop.done.send(());
        let start = tokio::time::Instant::now();
        let drained = wait_stored(done, stored, STALL, |_| {}).await;
        assert_eq!(
            (drained, start.elapsed()),
            (Drained::Stored, Duration::ZERO)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_station_task_gone_ends_the_wait() {
        let (stop, done, stored) = Stop::new();
        let start = tokio::time::Instant::now();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_secs(5)).await;
            drop(stop);
        });
        let drained = wait_stored(done, stored, STALL, |_| {}).await;
        assert_eq!(
            (drained, start.elapsed()),
            (Drained::Stored, Duration::from_secs(5))
        );
    }
}
