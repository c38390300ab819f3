//! The stations' deadlines in a min-heap, so that the manager's
//! [`poll_timeout`](super::StationManager::poll_timeout) is O(1) and each change to a station's
//! timer O(log n), instead of a scan of every station per wake-up.
//!
//! Each station has at most one live entry: `(deadline, station, generation)`, live while the
//! station's generation is still the entry's. Re-arming or cancelling bumps the generation and
//! leaves the old entry in the heap (lazy invalidation); dead entries are dropped when they
//! reach the top, and the heap is rebuilt from the armed deadlines once dead entries outnumber
//! live ones, which keeps it within twice the stations (plus a little).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

/// A station's armed deadline and the generation its live entry carries.
#[derive(Debug, Clone, Copy, Default)]
struct Armed {
    at: Option<Instant>,
    generation: u64,
}

/// Dead entries tolerated beyond the live ones before the heap is rebuilt.
const SLACK: usize = 64;

/// The stations' deadlines.
#[derive(Debug, Default)]
pub(super) struct Timers {
    /// `(deadline, station, generation)`, earliest first. The top entry is always live.
    heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    armed: Vec<Armed>,
    /// Stations with a deadline (live entries).
    live: usize,
}

impl Timers {
    /// Station `i`'s deadline is now `at` (`None`: no timer). Costs nothing if it did not
    /// change, O(log n) if it did.
    pub(super) fn set(&mut self, i: usize, at: Option<Instant>) {
        if self.armed.len() <= i {
            self.armed.resize(i + 1, Armed::default());
        }
        let a = &mut self.armed[i];
        if a.at == at {
            return;
        }
        a.generation += 1;
        match (a.at, at) {
            (None, Some(_)) => self.live += 1,
            (Some(_), None) => self.live -= 1,
            _ => {}
        }
        a.at = at;
        if let Some(at) = at {
            self.heap.push(Reverse((at, i, a.generation)));
        }
        self.tidy();
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, ..))| *at)
    }

    /// Takes the station with the earliest deadline if that is due at `now`; its timer counts
    /// as unset until [`Self::set`] again.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<usize> {
        let &Reverse((at, i, _)) = self.heap.peek()?;
        if at > now {
            return None;
        }
        self.heap.pop();
        let a = &mut self.armed[i];
        a.at = None;
        a.generation += 1;
        self.live -= 1;
        self.tidy();
        Some(i)
    }

    fn is_live(&self, (at, i, generation): (Instant, usize, u64)) -> bool {
        let a = self.armed[i];
        a.generation == generation && a.at == Some(at)
    }

    /// Drops dead entries from the top, or rebuilds the heap from the live ones when too many
    /// dead ones gathered.
    fn tidy(&mut self) {
        if self.heap.len() > 2 * self.live + SLACK {
            let live = self
                .armed
                .iter()
                .enumerate()
                .filter_map(|(i, a)| a.at.map(|at| Reverse((at, i, a.generation))));
            self.heap = live.collect();
            return;
        }
        while let Some(&Reverse(top)) = self.heap.peek() {
            if self.is_live(top) {
                break;
            }
            self.heap.pop();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[allow(clippy::disallowed_methods)]
    fn epoch() -> Instant {
        // A base instant for virtual time, never a measurement.
        Instant::now()
    }

    /// What the module documentation promises: each armed station has exactly one live entry
    /// (and others none), `live` counts the armed stations, and the top entry is live.
    fn check(t: &Timers) {
        for (i, a) in t.armed.iter().enumerate() {
            let live = t
                .heap
                .iter()
                .filter(|Reverse(e)| e.1 == i && t.is_live(*e))
                .count();
            assert_eq!(
                live,
                usize::from(a.at.is_some()),
                "station {i}'s live entries"
            );
        }
        let armed = t.armed.iter().filter(|a| a.at.is_some()).count();
        assert_eq!(t.live, armed, "live counts the armed stations");
        if let Some(&Reverse(top)) = t.heap.peek() {
            assert!(t.is_live(top), "the top entry is live: {top:?}");
        }
    }

    #[test]
    fn the_earliest_live_deadline_comes_first_and_dead_ones_never() {
        let t0 = epoch();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut t = Timers::default();
        assert_eq!(t.next(), None);
        t.set(3, Some(ms(30)));
        t.set(1, Some(ms(10)));
        t.set(2, Some(ms(20)));
        assert_eq!(t.next(), Some(ms(10)));
        // Later, then back to the old value: the first entry for it is dead.
        t.set(1, Some(ms(40)));
        assert_eq!(t.next(), Some(ms(20)));
        t.set(1, Some(ms(10)));
        t.set(1, Some(ms(10)));
        assert_eq!(t.next(), Some(ms(10)));
        // Cancelled.
        t.set(1, None);
        assert_eq!(t.next(), Some(ms(20)));
        assert_eq!(t.pop_due(ms(19)), None);
        assert_eq!(t.pop_due(ms(25)), Some(2));
        assert_eq!(t.pop_due(ms(25)), None);
        assert_eq!(t.next(), Some(ms(30)));
        // Earlier than everything.
        t.set(7, Some(ms(5)));
        assert_eq!(t.pop_due(ms(100)), Some(7));
        assert_eq!(t.pop_due(ms(100)), Some(3));
        // Station 1's dead entries at 10 and 40 are never handed out.
        assert_eq!(t.pop_due(ms(100)), None);
        assert_eq!(t.next(), None);
        // Popped: armed again at the same instant, it comes back.
        t.set(3, Some(ms(30)));
        assert_eq!(t.pop_due(ms(100)), Some(3));
    }

    #[test]
    fn re_arming_over_and_over_keeps_the_heap_bounded() {
        let t0 = epoch();
        let mut t = Timers::default();
        let mut expected = vec![t0 + Duration::from_secs(60); 100];
        for (i, at) in expected.iter().enumerate() {
            t.set(i, Some(*at));
        }
        for k in 0..100_000u64 {
            let i = (k % 100) as usize;
            expected[i] = t0 + Duration::from_millis(k % 997);
            t.set(i, Some(expected[i]));
            assert!(t.heap.len() <= 2 * 100 + SLACK + 1, "{}", t.heap.len());
        }
        // Each station fires once, at its last deadline, in deadline order.
        let mut fired = Vec::new();
        while let Some(i) = t.pop_due(t0 + Duration::from_secs(1)) {
            fired.push(i);
        }
        assert_eq!(fired.len(), 100);
        assert!(fired.windows(2).all(|w| expected[w[0]] <= expected[w[1]]));
        fired.sort_unstable();
        fired.dedup();
        assert_eq!(fired.len(), 100, "each station once");
        assert_eq!(t.next(), None);
    }

    #[test]
    fn each_armed_station_has_one_live_entry_through_re_arming_cancelling_and_firing() {
        let t0 = epoch();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut t = Timers::default();
        t.set(0, Some(ms(1)));
        t.set(1, Some(ms(10)));
        check(&t);
        // Later, then back to the same instant, behind station 0: the first entry at 10 ms stays
        // in the heap, dead, beside the live one at the same instant.
        t.set(1, Some(ms(40)));
        t.set(1, Some(ms(10)));
        check(&t);
        assert_eq!(t.heap.len(), 4);
        // Station 0 cancelled: its entry leaves the top, and so does station 1's dead one.
        t.set(0, None);
        check(&t);
        assert_eq!(t.heap.len(), 2);
        assert_eq!(t.next(), Some(ms(10)));
        // A cancelled station that is not at the top.
        t.set(2, Some(ms(20)));
        t.set(2, None);
        check(&t);
        // Fired, armed again at the same instant: it fires again, once.
        assert_eq!(t.pop_due(ms(10)), Some(1));
        check(&t);
        t.set(1, Some(ms(10)));
        check(&t);
        assert_eq!(t.pop_due(ms(50)), Some(1));
        check(&t);
        assert_eq!(t.pop_due(ms(50)), None);
        assert_eq!(t.heap.len(), 0, "the dead entries at 20 and 40 ms dropped");
        check(&t);
    }

    #[test]
    fn the_heap_is_rebuilt_once_dead_entries_outnumber_live_ones_by_more_than_the_slack() {
        let t0 = epoch();
        let ms = |n| t0 + Duration::from_millis(n);
        let mut t = Timers::default();
        for i in 0..100u64 {
            t.set(i as usize, Some(ms(i)));
        }
        assert_eq!(t.heap.len(), 100);
        // Station 99 re-armed later and later, behind the others: each old entry stays, dead
        // (lazy invalidation), up to 100 + SLACK of them.
        for k in 1..=100 + SLACK as u64 {
            t.set(99, Some(ms(1000 + k)));
        }
        assert_eq!(t.heap.len(), 2 * 100 + SLACK);
        check(&t);
        // One more: rebuilt from the armed deadlines.
        t.set(99, Some(ms(5000)));
        assert_eq!(t.heap.len(), 100);
        check(&t);
        assert_eq!(t.next(), Some(ms(0)));
    }
}
