//! The bell of an analog line: the ring cadence, standard or distinctive, whatever protocol
//! asked for it.

use std::time::{Duration, Instant};

/// Distinctive ringing patterns 0…7 (MGCP names them `L/r0`…`L/r7`; RFC 3660 leaves the
/// patterns to local convention): bursts of (on, off) milliseconds, repeated. Pattern 0 is the
/// standard ring; 1–3 are the Telcordia GR-506 distinctive patterns, 4–7 the further ones
/// analog adapters offer.
const DISTINCTIVE: [&[(u64, u64)]; 8] = [
    &[(2000, 4000)],
    &[(800, 400), (800, 4000)],
    &[(400, 200), (400, 200), (800, 4000)],
    &[(300, 200), (1000, 200), (300, 4000)],
    &[(200, 200), (200, 200), (200, 200), (1000, 4000)],
    &[(200, 400), (200, 400), (200, 4000)],
    &[(4500, 4000)],
    &[(250, 9750)],
];

/// The bell, while a ring signal is active: which burst of the cadence, and whether it sounds.
#[derive(Debug, Clone)]
pub(crate) struct Bell {
    cadence: Vec<(Duration, Duration)>,
    burst: usize,
    /// Whether the bell sounds now.
    pub(crate) on: bool,
    /// When it next changes.
    pub(crate) next: Instant,
}

impl Bell {
    /// Starts ringing at `now`: distinctive pattern `distinctive` (taken modulo 8), or else the
    /// standard cadence `on`/`off`.
    pub(crate) fn new(now: Instant, distinctive: Option<u8>, on: Duration, off: Duration) -> Self {
        let cadence: Vec<(Duration, Duration)> = match distinctive {
            Some(n) => DISTINCTIVE[usize::from(n) % DISTINCTIVE.len()]
                .iter()
                .map(|&(on, off)| (Duration::from_millis(on), Duration::from_millis(off)))
                .collect(),
            None => vec![(on, off)],
        };
        let next = now + cadence[0].0;
        Self {
            cadence,
            burst: 0,
            on: true,
            next,
        }
    }

    /// Moves to the next half of the cadence at `now`; returns whether the bell now sounds.
    pub(crate) fn step(&mut self, now: Instant) -> bool {
        if self.on {
            self.on = false;
            self.next = now + self.cadence[self.burst].1;
        } else {
            self.burst = (self.burst + 1) % self.cadence.len();
            self.on = true;
            self.next = now + self.cadence[self.burst].0;
        }
        self.on
    }
}
