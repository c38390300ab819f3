//! Failed logins are limited per client address: each address has a bucket of
//! [`BURST`] failures that refills at one per [`REFILL`]. A login from an address whose bucket is
//! empty is refused with 429 and `Retry-After`, *without* checking the password (so a guessing
//! run neither learns anything nor costs the server an argon2 check). A try is taken *before*
//! the password is checked, so that guesses sent all at once are held like guesses in a row;
//! a successful login gives its try back, and other addresses are not affected: a user logging in from elsewhere still gets
//! in while their name is being guessed.
//!
//! Addresses are IPv4 addresses, or the /64 prefix of an IPv6 address (one host's share of a
//! subnet). The table is bounded (65,536 addresses): when it grows past that, the addresses whose
//! bucket has refilled are forgotten, then, if that is not enough, the fullest ones.
//!
//! Behind a reverse proxy every client has the proxy's address: the limit then applies to all of
//! them together (docs/SECURITY.md).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Duration;

/// Failed logins an address may make in a burst.
pub const BURST: u32 = 10;
/// One more failure is allowed this long after the last.
pub const REFILL: Duration = Duration::from_secs(6);
/// Addresses remembered at most.
const MAX_ADDRESSES: usize = 65_536;

/// The per-address buckets.
#[derive(Debug, Default)]
pub(crate) struct LoginLimit {
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    /// Failures still allowed, in thousandths (so that refilling is exact in integers).
    milli: u64,
    at_ms: i64,
}

const FULL: u64 = BURST as u64 * 1000;

fn refill_ms() -> u64 {
    u64::try_from(REFILL.as_millis()).unwrap_or(u64::MAX).max(1)
}

fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl Bucket {
    fn refilled(self, now_ms: i64) -> u64 {
        let elapsed = u64::try_from(now_ms.saturating_sub(self.at_ms)).unwrap_or(0);
        let gained = elapsed.saturating_mul(1000) / refill_ms();
        self.milli.saturating_add(gained).min(FULL)
    }
}

impl LoginLimit {
    /// Takes one try for `ip`, before its password is checked; `Err(wait)` (nothing taken) if
    /// it has none left, with how long until it has. Taking before checking, under one lock,
    /// holds however many guesses arrive at once; a successful login gives the try back
    /// ([`Self::succeeded`]).
    pub(crate) fn take(&self, ip: IpAddr, now_ms: i64) -> Result<(), Duration> {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let have = map.get(&key(ip)).map_or(FULL, |b| b.refilled(now_ms));
        if have < 1000 {
            let wait_ms = ((1000 - have) * refill_ms()).div_ceil(1000);
            return Err(Duration::from_millis(wait_ms.max(1)));
        }
        if map.len() >= MAX_ADDRESSES && !map.contains_key(&key(ip)) {
            make_room(&mut map, now_ms);
        }
        map.insert(
            key(ip),
            Bucket {
                milli: have - 1000,
                at_ms: now_ms,
            },
        );
        Ok(())
    }

    /// Gives back the try a successful login took.
    pub(crate) fn succeeded(&self, ip: IpAddr, now_ms: i64) {
        let mut map = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(b) = map.get_mut(&key(ip)) {
            b.milli = b.refilled(now_ms).saturating_add(1000).min(FULL);
            b.at_ms = now_ms;
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.buckets.lock().unwrap().len()
    }
}

/// Forgets the addresses whose bucket has refilled; if that is not enough, the quarter fullest.
fn make_room(map: &mut HashMap<IpAddr, Bucket>, now_ms: i64) {
    map.retain(|_, b| b.refilled(now_ms) < FULL);
    if map.len() >= MAX_ADDRESSES {
        let mut fullest: Vec<(u64, IpAddr)> =
            map.iter().map(|(k, b)| (b.refilled(now_ms), *k)).collect();
        fullest.sort_unstable_by_key(|b| std::cmp::Reverse(b.0));
        for (_, k) in fullest.into_iter().take(MAX_ADDRESSES / 4) {
            map.remove(&k);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, 2));

    #[test]
    fn a_burst_of_tries_then_one_per_refill_and_other_addresses_unaffected() {
        let l = LoginLimit::default();
        let t = 1_000_000;
        for n in 0..BURST {
            assert_eq!(l.take(A, t), Ok(()), "try {n} of the burst");
        }
        assert_eq!(
            l.take(A, t),
            Err(REFILL),
            "taken before any password is checked"
        );
        assert_eq!(l.take(B, t), Ok(()), "another address is not limited");
        let half = i64::try_from(REFILL.as_millis() / 2).unwrap();
        assert_eq!(l.take(A, t + half), Err(REFILL / 2));
        let full = i64::try_from(REFILL.as_millis()).unwrap();
        assert_eq!(l.take(A, t + full), Ok(()), "one more after a refill");
        assert_eq!(l.take(A, t + full), Err(REFILL));
    }

    #[test]
    fn a_successful_login_gives_its_try_back() {
        let l = LoginLimit::default();
        for _ in 0..BURST {
            l.take(A, 0).unwrap();
            l.succeeded(A, 0);
        }
        assert_eq!(
            l.take(A, 0),
            Ok(()),
            "an owner logging in often is never limited"
        );
        for _ in 1..BURST {
            l.take(A, 0).unwrap();
        }
        assert!(l.take(A, 0).is_err());
        l.succeeded(A, 0);
        assert_eq!(l.take(A, 0), Ok(()));
        l.succeeded(B, 0);
        assert_eq!(
            l.len(),
            1,
            "a success from an unknown address records nothing"
        );
    }

    #[test]
    fn an_ipv6_host_is_limited_by_its_64_prefix() {
        let l = LoginLimit::default();
        let one: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let same: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        let other: IpAddr = "2001:db8:1:3::1".parse().unwrap();
        for _ in 0..BURST {
            l.take(one, 0).unwrap();
        }
        assert!(l.take(same, 0).is_err(), "same /64");
        assert!(l.take(other, 0).is_ok(), "another /64");
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        for _ in 0..BURST {
            l.take(mapped, 0).unwrap();
        }
        assert!(
            l.take(A, 0).is_err(),
            "an IPv4-mapped address is its IPv4 address"
        );
    }

    #[test]
    fn the_table_is_bounded() {
        let l = LoginLimit::default();
        for i in 0..(MAX_ADDRESSES as u32 + 10) {
            l.take(IpAddr::V4(i.into()), 0).unwrap();
        }
        assert!(l.len() <= MAX_ADDRESSES, "{} addresses", l.len());
        assert!(l.len() > MAX_ADDRESSES / 2, "only the room needed is made");
    }
}
