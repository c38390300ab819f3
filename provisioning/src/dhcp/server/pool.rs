//! Who holds which address: lease records, offers, quarantines, reservations and the free
//! addresses of each pool.
//!
//! Allocation never scans: each pool has a cursor over the addresses no one has touched since
//! the server started (it only moves forward, skipping touched ones, so its cost is amortised
//! O(1)), and a set of freed addresses ordered by when they were freed (O(log n)). An address
//! is "touched" once it has a lease record, an offer, a reservation or a place in the freed
//! set; from then on it is accounted for by those and never by the cursor again.

use std::collections::{BTreeSet, HashMap};
use std::net::Ipv4Addr;

use super::{Lease, LeaseState, Reservation, Subnet, UnixTime};
use crate::Mac;

/// An address offered to a MAC and held for it until `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Offer {
    pub(super) mac: Mac,
    pub(super) until: UnixTime,
}

/// Who an address is held for, at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Holder {
    /// No one: it may be given.
    Free,
    /// This MAC: a bound lease or an offer.
    Mac(Mac),
    /// No one may have it: it was declined.
    Quarantine,
}

/// One subnet's pool: its addresses, the never-used cursor and the freed set.
#[derive(Debug)]
struct Pool {
    /// Inclusive ranges with the exclusions taken out; sorted, disjoint, not adjacent.
    ranges: Vec<(u32, u32)>,
    /// The next untouched candidate: (range index, address).
    cursor: Option<(usize, u32)>,
    /// Freed addresses, least recently freed first.
    freed: BTreeSet<(UnixTime, Ipv4Addr)>,
}

impl Pool {
    fn new(subnet: &Subnet) -> Self {
        let mut ranges: Vec<(u32, u32)> = subnet
            .ranges
            .iter()
            .map(|&(a, b)| (u32::from(a), u32::from(b)))
            .collect();
        ranges.sort_unstable();
        let mut merged: Vec<(u32, u32)> = Vec::with_capacity(ranges.len());
        for (a, b) in ranges {
            match merged.last_mut() {
                Some(last) if a <= last.1.saturating_add(1) => last.1 = last.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        for &(xa, xb) in &subnet.exclude {
            let (xa, xb) = (u32::from(xa), u32::from(xb));
            let mut out = Vec::with_capacity(merged.len() + 1);
            for (a, b) in merged {
                if xb < a || xa > b {
                    out.push((a, b));
                    continue;
                }
                if a < xa {
                    out.push((a, xa - 1));
                }
                if b > xb {
                    out.push((xb + 1, b));
                }
            }
            merged = out;
        }
        let cursor = merged.first().map(|&(a, _)| (0, a));
        Self {
            ranges: merged,
            cursor,
            freed: BTreeSet::new(),
        }
    }

    fn contains(&self, ip: Ipv4Addr) -> bool {
        let ip = u32::from(ip);
        let i = self.ranges.partition_point(|&(_, b)| b < ip);
        self.ranges.get(i).is_some_and(|&(a, _)| a <= ip)
    }

    fn advance(&mut self) {
        self.cursor = match self.cursor {
            Some((i, a)) if a < self.ranges[i].1 => Some((i, a + 1)),
            Some((i, _)) => self.ranges.get(i + 1).map(|&(a, _)| (i + 1, a)),
            None => None,
        };
    }

    fn size(&self) -> u64 {
        self.ranges.iter().map(|&(a, b)| u64::from(b - a) + 1).sum()
    }
}

/// Every address's state.
#[derive(Debug)]
pub(super) struct Addresses {
    subnets: Vec<Subnet>,
    pools: Vec<Pool>,
    /// One lease record per address.
    pub(super) leases: HashMap<Ipv4Addr, Lease>,
    /// Each MAC's own lease record (Bound or Released): its affinity.
    pub(super) by_mac: HashMap<Mac, Ipv4Addr>,
    offers: HashMap<Ipv4Addr, Offer>,
    offer_by_mac: HashMap<Mac, Ipv4Addr>,
    reserved_by_ip: HashMap<Ipv4Addr, Mac>,
    reserved_by_mac: HashMap<Mac, Reservation>,
    /// Addresses in a freed set, and when they were freed.
    freed_at: HashMap<Ipv4Addr, UnixTime>,
    /// When offers, leases and quarantines end.
    timers: BTreeSet<(UnixTime, Ipv4Addr)>,
}

impl Addresses {
    pub(super) fn new(subnets: &[Subnet], reservations: &[Reservation]) -> Self {
        let mut a = Self {
            subnets: subnets.to_vec(),
            pools: subnets.iter().map(Pool::new).collect(),
            leases: HashMap::new(),
            by_mac: HashMap::new(),
            offers: HashMap::new(),
            offer_by_mac: HashMap::new(),
            reserved_by_ip: HashMap::new(),
            reserved_by_mac: HashMap::new(),
            freed_at: HashMap::new(),
            timers: BTreeSet::new(),
        };
        a.set_reservations(reservations);
        a
    }

    /// The subnet `ip` belongs to.
    pub(super) fn subnet_of(&self, ip: Ipv4Addr) -> Option<usize> {
        self.subnets.iter().position(|s| s.contains(ip))
    }

    /// The subnet's configuration.
    pub(super) fn subnet(&self, s: usize) -> &Subnet {
        &self.subnets[s]
    }

    /// How many addresses the pools hold in all.
    pub(super) fn pool_size(&self) -> u64 {
        self.pools.iter().map(Pool::size).sum()
    }

    /// Loads a lease the store kept. Of two records for one address the later-expiring wins;
    /// a MAC's affinity goes to its latest Bound or Released record.
    pub(super) fn load(&mut self, lease: Lease) {
        if self.subnet_of(lease.ip).is_none() {
            return;
        }
        if let Some(old) = self.leases.get(&lease.ip) {
            if old.expires >= lease.expires {
                return;
            }
            let old = old.clone();
            self.remove_record(&old);
        }
        if lease.state != LeaseState::Declined {
            let newer = match self
                .by_mac
                .get(&lease.mac)
                .and_then(|ip| self.leases.get(ip))
            {
                Some(current) => current.expires <= lease.expires,
                None => true,
            };
            if newer {
                self.by_mac.insert(lease.mac, lease.ip);
            }
        }
        self.untake(lease.ip);
        let (ip, expires, state) = (lease.ip, lease.expires, lease.state);
        self.leases.insert(ip, lease);
        match state {
            LeaseState::Bound | LeaseState::Declined => {
                self.timers.insert((expires, ip));
            }
            LeaseState::Released => self.hold_ended(ip, expires, expires),
        }
    }

    fn remove_record(&mut self, lease: &Lease) {
        self.leases.remove(&lease.ip);
        self.timers.remove(&(lease.expires, lease.ip));
        if self.by_mac.get(&lease.mac) == Some(&lease.ip) {
            self.by_mac.remove(&lease.mac);
        }
    }

    /// Replaces the reservations; the caller has validated them.
    pub(super) fn set_reservations(&mut self, reservations: &[Reservation]) {
        let old: Vec<Ipv4Addr> = self.reserved_by_ip.keys().copied().collect();
        self.reserved_by_ip = reservations.iter().map(|r| (r.ip, r.mac)).collect();
        self.reserved_by_mac = reservations.iter().map(|r| (r.mac, r.clone())).collect();
        for ip in old {
            if !self.reserved_by_ip.contains_key(&ip) {
                // Freed long ago, as far as allocation order goes.
                self.hold_ended(ip, UnixTime(0), UnixTime(0));
            }
        }
    }

    /// The reservation for `mac`.
    pub(super) fn reservation(&self, mac: Mac) -> Option<&Reservation> {
        self.reserved_by_mac.get(&mac)
    }

    /// Who holds `ip` at `now`.
    pub(super) fn holder(&self, ip: Ipv4Addr, now: UnixTime) -> Holder {
        if let Some(l) = self.leases.get(&ip).filter(|l| l.expires > now) {
            match l.state {
                LeaseState::Bound => return Holder::Mac(l.mac),
                LeaseState::Declined => return Holder::Quarantine,
                LeaseState::Released => {}
            }
        }
        match self.offers.get(&ip) {
            Some(o) if o.until > now => Holder::Mac(o.mac),
            _ => Holder::Free,
        }
    }

    /// Whether `mac` holds an unexpired bound lease or has a reservation.
    pub(super) fn holds_something(&self, mac: Mac, now: UnixTime) -> bool {
        self.reserved_by_mac.contains_key(&mac)
            || self
                .by_mac
                .get(&mac)
                .and_then(|ip| self.leases.get(ip))
                .is_some_and(|l| l.state == LeaseState::Bound && l.expires > now)
    }

    /// Whether `ip`, on subnet `s`, may be given to `mac` at `now`: its reservation, or a pool
    /// address reserved for no one else and held by no one else.
    pub(super) fn available_for(&self, mac: Mac, ip: Ipv4Addr, s: usize, now: UnixTime) -> bool {
        let allowed = match self.reserved_by_ip.get(&ip) {
            Some(&owner) => owner == mac && self.subnets[s].is_host(ip),
            None => self.pools[s].contains(ip),
        };
        allowed
            && match self.holder(ip, now) {
                Holder::Free => true,
                Holder::Mac(m) => m == mac,
                Holder::Quarantine => false,
            }
    }

    /// Whether `ip` is held by, or reserved for, a MAC other than `mac`, or quarantined.
    pub(super) fn taken_by_other(&self, mac: Mac, ip: Ipv4Addr, now: UnixTime) -> bool {
        self.reserved_by_ip.get(&ip).is_some_and(|&m| m != mac)
            || matches!(self.holder(ip, now), Holder::Quarantine)
            || matches!(self.holder(ip, now), Holder::Mac(m) if m != mac)
    }

    /// The address to offer `mac` on subnet `s`: its reservation; else its outstanding offer;
    /// else its current or previous address; else the one it asks for; else the next free one.
    pub(super) fn choose(
        &mut self,
        mac: Mac,
        s: usize,
        requested: Option<Ipv4Addr>,
        now: UnixTime,
    ) -> Option<Ipv4Addr> {
        let reserved = self
            .reserved_by_mac
            .get(&mac)
            .map(|r| r.ip)
            .filter(|&ip| self.subnets[s].contains(ip));
        let offered = self.offer_by_mac.get(&mac).copied();
        let previous = self.by_mac.get(&mac).copied();
        let candidates = [reserved, offered, previous, requested];
        if let Some(ip) = candidates
            .into_iter()
            .flatten()
            .find(|&ip| self.available_for(mac, ip, s, now))
        {
            return Some(ip);
        }
        self.next_free(s, now)
    }

    fn touched(&self, ip: Ipv4Addr) -> bool {
        self.leases.contains_key(&ip)
            || self.offers.contains_key(&ip)
            || self.freed_at.contains_key(&ip)
            || self.reserved_by_ip.contains_key(&ip)
    }

    fn next_free(&mut self, s: usize, now: UnixTime) -> Option<Ipv4Addr> {
        while let Some((_, a)) = self.pools[s].cursor {
            self.pools[s].advance();
            let ip = Ipv4Addr::from(a);
            if !self.touched(ip) {
                return Some(ip);
            }
        }
        while let Some(&(at, ip)) = self.pools[s].freed.first() {
            if !self.reserved_by_ip.contains_key(&ip)
                && self.holder(ip, now) == Holder::Free
                && self.pools[s].contains(ip)
            {
                return Some(ip);
            }
            // Stale: reserved or held since it was freed. Whoever frees it again re-adds it.
            self.pools[s].freed.remove(&(at, ip));
            self.freed_at.remove(&ip);
        }
        None
    }

    /// Takes `ip` out of its pool's freed set.
    fn untake(&mut self, ip: Ipv4Addr) {
        if let Some(at) = self.freed_at.remove(&ip)
            && let Some(s) = self.subnet_of(ip)
        {
            self.pools[s].freed.remove(&(at, ip));
        }
    }

    /// A hold on `ip` may have ended: if it is free at `now`, in a pool and reserved for no
    /// one, it joins its pool's freed set as freed at `at`.
    fn hold_ended(&mut self, ip: Ipv4Addr, at: UnixTime, now: UnixTime) {
        if self.freed_at.contains_key(&ip)
            || self.reserved_by_ip.contains_key(&ip)
            || self.holder(ip, now) != Holder::Free
        {
            return;
        }
        let Some(s) = self.subnet_of(ip) else { return };
        if self.pools[s].contains(ip) {
            self.pools[s].freed.insert((at, ip));
            self.freed_at.insert(ip, at);
        }
    }

    /// Holds `ip` for `mac` until `until`, cancelling the MAC's offer of another address.
    pub(super) fn offer(&mut self, mac: Mac, ip: Ipv4Addr, until: UnixTime, now: UnixTime) {
        if let Some(old) = self.offer_by_mac.get(&mac).copied()
            && old != ip
        {
            self.cancel_offer(mac, now);
        }
        if let Some(old) = self.offers.insert(ip, Offer { mac, until }) {
            self.timers.remove(&(old.until, ip));
            if old.mac != mac && self.offer_by_mac.get(&old.mac) == Some(&ip) {
                self.offer_by_mac.remove(&old.mac);
            }
        }
        self.offer_by_mac.insert(mac, ip);
        self.timers.insert((until, ip));
        self.untake(ip);
    }

    /// Forgets the offer made to `mac`, if any (it chose another server).
    pub(super) fn cancel_offer(&mut self, mac: Mac, now: UnixTime) -> bool {
        let Some(ip) = self.offer_by_mac.remove(&mac) else {
            return false;
        };
        if let Some(o) = self.offers.remove(&ip) {
            self.timers.remove(&(o.until, ip));
        }
        self.hold_ended(ip, now, now);
        true
    }

    /// Binds `lease` (Bound), replacing the address's and the MAC's previous records. Returns
    /// the MAC's superseded record on another address, now Released, for the store.
    pub(super) fn bind(&mut self, lease: Lease, now: UnixTime) -> Option<Lease> {
        let (mac, ip) = (lease.mac, lease.ip);
        if let Some(o) = self.offers.remove(&ip) {
            self.timers.remove(&(o.until, ip));
            if self.offer_by_mac.get(&o.mac) == Some(&ip) {
                self.offer_by_mac.remove(&o.mac);
            }
        }
        self.cancel_offer(mac, now);
        let mut superseded = None;
        if let Some(old_ip) = self.by_mac.get(&mac).copied()
            && old_ip != ip
            && let Some(old) = self.leases.get(&old_ip).cloned()
        {
            self.remove_record(&old);
            self.hold_ended(old_ip, now, now);
            superseded = Some(Lease {
                state: LeaseState::Released,
                expires: now,
                ..old
            });
        }
        if let Some(old) = self.leases.get(&ip).cloned() {
            self.remove_record(&old);
        }
        self.untake(ip);
        self.timers.insert((lease.expires, ip));
        self.by_mac.insert(mac, ip);
        self.leases.insert(ip, lease);
        superseded
    }

    /// `mac` gives `ip` back: its record becomes Released at `now`, keeping the affinity.
    pub(super) fn release(&mut self, mac: Mac, ip: Ipv4Addr, now: UnixTime) -> Option<Lease> {
        let lease = self
            .leases
            .get_mut(&ip)
            .filter(|l| l.mac == mac && l.state == LeaseState::Bound)?;
        let old_expiry = lease.expires;
        lease.state = LeaseState::Released;
        lease.expires = now;
        let lease = lease.clone();
        self.timers.remove(&(old_expiry, ip));
        self.hold_ended(ip, now, now);
        Some(lease)
    }

    /// `mac` found `ip` in use: the address is quarantined until `until`, and no longer the
    /// MAC's.
    pub(super) fn decline(&mut self, mac: Mac, ip: Ipv4Addr, until: UnixTime) -> Option<Lease> {
        let lease = self
            .leases
            .get_mut(&ip)
            .filter(|l| l.mac == mac && l.state != LeaseState::Declined)?;
        let old_expiry = lease.expires;
        lease.state = LeaseState::Declined;
        lease.expires = until;
        let lease = lease.clone();
        self.timers.remove(&(old_expiry, ip));
        self.timers.insert((until, ip));
        if self.by_mac.get(&mac) == Some(&ip) {
            self.by_mac.remove(&mac);
        }
        if let Some(o) = self.offers.remove(&ip) {
            self.timers.remove(&(o.until, ip));
            if self.offer_by_mac.get(&o.mac) == Some(&ip) {
                self.offer_by_mac.remove(&o.mac);
            }
        }
        self.untake(ip);
        Some(lease)
    }

    /// The earliest time something ends.
    pub(super) fn next_timer(&self) -> Option<UnixTime> {
        self.timers.first().map(|&(t, _)| t)
    }

    /// Ends every offer, lease and quarantine due by `now`; returns how many leases expired.
    pub(super) fn expire(&mut self, now: UnixTime) -> u64 {
        let mut expired = 0;
        while let Some(&(at, ip)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.remove(&(at, ip));
            if let Some(o) = self.offers.get(&ip).copied()
                && o.until <= now
            {
                self.offers.remove(&ip);
                if self.offer_by_mac.get(&o.mac) == Some(&ip) {
                    self.offer_by_mac.remove(&o.mac);
                }
            }
            if let Some(l) = self.leases.get(&ip)
                && l.expires == at
            {
                match l.state {
                    LeaseState::Bound => expired += 1,
                    LeaseState::Declined => {
                        self.leases.remove(&ip);
                    }
                    LeaseState::Released => {}
                }
            }
            self.hold_ended(ip, at, now);
        }
        expired
    }

    /// How many addresses are held (bound unexpired, offered or quarantined) at `now`.
    #[cfg(test)]
    pub(super) fn held_count(&self, now: UnixTime) -> usize {
        let mut held: std::collections::HashSet<Ipv4Addr> = std::collections::HashSet::new();
        for (ip, l) in &self.leases {
            if l.expires > now && l.state != LeaseState::Released {
                held.insert(*ip);
            }
        }
        for (ip, o) in &self.offers {
            if o.until > now {
                held.insert(*ip);
            }
        }
        held.len()
    }

    /// Checks the bookkeeping's invariants (tests and fuzzing).
    pub(super) fn check_invariants(&self, now: UnixTime) -> Result<(), String> {
        for (ip, l) in &self.leases {
            if *ip != l.ip {
                return Err(format!("record for {ip} says {}", l.ip));
            }
            if self.freed_at.contains_key(ip) && self.holder(*ip, now) != Holder::Free {
                return Err(format!("{ip} is both held and free"));
            }
        }
        for (mac, ip) in &self.by_mac {
            if self.leases.get(ip).is_none_or(|l| l.mac != *mac) {
                return Err(format!("{mac} points at {ip}, which is not its record"));
            }
        }
        for (mac, ip) in &self.offer_by_mac {
            if self.offers.get(ip).is_none_or(|o| o.mac != *mac) {
                return Err(format!("{mac}'s offer of {ip} is missing"));
            }
        }
        let in_sets: usize = self.pools.iter().map(|p| p.freed.len()).sum();
        if in_sets != self.freed_at.len() {
            return Err("freed sets and their index disagree".into());
        }
        Ok(())
    }
}
