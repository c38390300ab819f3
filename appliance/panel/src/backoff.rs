//! Reconnection back-off: exponential, capped, with optional jitter from a seeded RNG.

use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Computes the delay before reconnection attempt `n` (0-based): `initial · 2ⁿ`, capped at
/// `max`; with jitter, a uniformly drawn value between half of that and all of it ("equal
/// jitter"), so that several clients restarted together do not reconnect in lockstep.
#[derive(Debug, Clone)]
pub struct Backoff {
    initial: Duration,
    max: Duration,
    rng: Option<StdRng>,
}

impl Default for Backoff {
    /// 0.5 s doubling to 30 s, no jitter.
    fn default() -> Self {
        Self::new(Duration::from_millis(500), Duration::from_secs(30))
    }
}

impl Backoff {
    /// `initial` doubling up to `max` (at least `initial`), no jitter.
    pub fn new(initial: Duration, max: Duration) -> Self {
        Self {
            initial,
            max: max.max(initial),
            rng: None,
        }
    }

    /// The same, with jitter drawn from an RNG seeded with `seed`.
    #[must_use]
    pub fn with_jitter(mut self, seed: u64) -> Self {
        self.rng = Some(StdRng::seed_from_u64(seed));
        self
    }

    /// The delay before attempt `attempt` (0 is the first reconnection).
    pub fn delay(&mut self, attempt: u32) -> Duration {
        let factor = 1u32.checked_shl(attempt.min(31)).unwrap_or(u32::MAX);
        let full = self
            .initial
            .checked_mul(factor)
            .map_or(self.max, |d| d.min(self.max));
        match &mut self.rng {
            None => full,
            Some(rng) => {
                let half = full / 2;
                half + (full - half).mul_f64(rng.r#gen::<f64>())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn doubles_to_the_cap() {
        let mut b = Backoff::default();
        let ms: Vec<u128> = (0..9).map(|n| b.delay(n).as_millis()).collect();
        assert_eq!(
            ms,
            [500, 1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]
        );
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn jitter_is_seeded() {
        let mut a = Backoff::default().with_jitter(7);
        let mut b = Backoff::default().with_jitter(7);
        let xs: Vec<Duration> = (0..10).map(|n| a.delay(n)).collect();
        let ys: Vec<Duration> = (0..10).map(|n| b.delay(n)).collect();
        assert_eq!(xs, ys);
        assert_ne!(
            xs,
            (0..10)
                .map(|n| Backoff::default().delay(n))
                .collect::<Vec<_>>()
        );
    }

    proptest! {
        #[test]
        fn jitter_stays_between_half_and_full(seed: u64, attempt in 0u32..64) {
            let full = Backoff::default().delay(attempt);
            let d = Backoff::default().with_jitter(seed).delay(attempt);
            prop_assert!(d >= full / 2 && d <= full);
        }
    }
}
