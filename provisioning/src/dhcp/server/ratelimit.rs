//! The starvation guard: token buckets for DISCOVERs from MACs that hold nothing, one bucket
//! per relay and circuit (option 82) or for the directly attached link.

use std::collections::HashMap;
use std::net::Ipv4Addr;

use super::{RateLimit, UnixTime};

/// Most buckets kept; past it, new relays and circuits share one overflow bucket.
pub(super) const MAX_BUCKETS: usize = 1024;
/// Longest circuit id kept in a bucket's key; longer ones are cut.
const MAX_CIRCUIT_ID: usize = 64;

/// Whose clients share a bucket.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Key {
    /// Clients on the server's own link.
    Direct,
    /// Clients behind a relay, per circuit when the relay says which (option 82, sub-option 1).
    Relay(Ipv4Addr, Vec<u8>),
    /// Every relay or circuit beyond [`MAX_BUCKETS`].
    Overflow,
}

impl Key {
    /// The key for a request relayed by `giaddr` (unspecified: direct) from `circuit`.
    pub(super) fn new(giaddr: Ipv4Addr, circuit: Option<&[u8]>) -> Self {
        if giaddr.is_unspecified() {
            return Self::Direct;
        }
        let circuit = circuit.unwrap_or_default();
        Self::Relay(
            giaddr,
            circuit[..circuit.len().min(MAX_CIRCUIT_ID)].to_vec(),
        )
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: u64,
    at: UnixTime,
}

/// The token buckets.
#[derive(Debug)]
pub(super) struct Limiter {
    limit: RateLimit,
    buckets: HashMap<Key, Bucket>,
}

impl Limiter {
    pub(super) fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: HashMap::new(),
        }
    }

    fn burst(&self) -> u64 {
        u64::from(self.limit.burst.max(1))
    }

    fn refill(&self, b: &mut Bucket, now: UnixTime) {
        let elapsed = now.0.saturating_sub(b.at.0);
        let added = elapsed.saturating_mul(u64::from(self.limit.per_second));
        b.tokens = b.tokens.saturating_add(added).min(self.burst());
        b.at = b.at.max(now);
    }

    /// Whether one more new client may be served through `key` at `now` (taking a token).
    pub(super) fn allow(&mut self, key: Key, now: UnixTime) -> bool {
        if self.limit.per_second == 0 {
            return true;
        }
        let key = if self.buckets.len() >= MAX_BUCKETS && !self.buckets.contains_key(&key) {
            // Buckets that are full again remember nothing worth keeping.
            let burst = self.burst();
            let (limit, mut buckets) = (self.limit, std::mem::take(&mut self.buckets));
            buckets.retain(|_, b| {
                let elapsed = now.0.saturating_sub(b.at.0);
                b.tokens
                    .saturating_add(elapsed.saturating_mul(u64::from(limit.per_second)))
                    < burst
            });
            self.buckets = buckets;
            if self.buckets.len() >= MAX_BUCKETS {
                Key::Overflow
            } else {
                key
            }
        } else {
            key
        };
        let fresh = Bucket {
            tokens: self.burst(),
            at: now,
        };
        let mut b = self.buckets.get(&key).copied().unwrap_or(fresh);
        self.refill(&mut b, now);
        let allowed = b.tokens > 0;
        if allowed {
            b.tokens -= 1;
        }
        self.buckets.insert(key, b);
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_rate() {
        let mut l = Limiter::new(RateLimit {
            per_second: 2,
            burst: 3,
        });
        let t = UnixTime(100);
        assert!((0..3).all(|_| l.allow(Key::Direct, t)));
        assert!(!l.allow(Key::Direct, t));
        assert!(l.allow(Key::new(Ipv4Addr::new(10, 0, 0, 1), Some(b"p1")), t));
        let t = UnixTime(101);
        assert!(l.allow(Key::Direct, t) && l.allow(Key::Direct, t));
        assert!(!l.allow(Key::Direct, t));
        // Never more than the burst after a long pause.
        let t = UnixTime(1_000);
        assert_eq!((0..10).filter(|_| l.allow(Key::Direct, t)).count(), 3);
    }

    #[test]
    fn zero_is_unlimited_and_buckets_are_bounded() {
        let mut l = Limiter::new(RateLimit {
            per_second: 0,
            burst: 0,
        });
        assert!((0..1000).all(|_| l.allow(Key::Direct, UnixTime(0))));
        let mut l = Limiter::new(RateLimit {
            per_second: 1,
            burst: 1,
        });
        for i in 0..(MAX_BUCKETS as u32 + 10) {
            let circuit = i.to_be_bytes();
            assert!(
                l.allow(
                    Key::new(Ipv4Addr::new(10, 0, 0, 1), Some(&circuit)),
                    UnixTime(5)
                ) || i >= MAX_BUCKETS as u32
            );
        }
        assert!(l.buckets.len() <= MAX_BUCKETS + 1);
        assert_eq!(
            Key::new(Ipv4Addr::UNSPECIFIED, Some(b"spoofed")),
            Key::Direct
        );
    }
}
