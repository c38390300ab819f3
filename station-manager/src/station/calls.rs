//! Handles for calls: RTP ports (RFC 3550 §11: RTP on an even port, RTCP on the next odd one),
//! gateway [`CallId`]s and live [`StreamId`]s. The [`StationManager`](crate::manager::StationManager)
//! owns one [`Calls`] for all its stations.

use std::collections::{HashSet, VecDeque};
use std::ops::RangeInclusive;

use gateway_control::model::CallId;

use crate::StreamId;

/// Streams the stations start have this bit set, so they never collide with the stream ids the
/// appliance picks for its own senders (which keep it clear).
pub const STATION_STREAM_BIT: u64 = 1 << 63;

/// A sans-IO allocator of even RTP ports in a range (RTCP is the odd port above each).
///
/// Ports are handed out round-robin (released ports go to the back of the line), so that a port
/// is not reused at once and late packets of an old call do not reach a new one.
#[derive(Debug, Clone)]
pub struct PortAllocator {
    free: VecDeque<u16>,
    used: HashSet<u16>,
}

impl PortAllocator {
    /// Every even port `p` in `range` with `p + 1` also in it.
    pub fn new(range: RangeInclusive<u16>) -> Self {
        let start = range.start().saturating_add(range.start() % 2);
        let end = *range.end();
        let free = (start..end).step_by(2).collect();
        Self {
            free,
            used: HashSet::new(),
        }
    }

    /// An unused RTP port, or `None` when every one is taken.
    pub fn allocate(&mut self) -> Option<u16> {
        let p = self.free.pop_front()?;
        self.used.insert(p);
        Some(p)
    }

    /// Gives `port` back; `false` if it was not allocated (nothing changes).
    pub fn release(&mut self, port: u16) -> bool {
        if !self.used.remove(&port) {
            return false;
        }
        self.free.push_back(port);
        true
    }

    /// Ports free now.
    pub fn available(&self) -> usize {
        self.free.len()
    }

    /// Ports in use now.
    pub fn in_use(&self) -> usize {
        self.used.len()
    }
}

/// The manager's allocators, lent to a station for each input.
#[derive(Debug, Clone)]
pub struct Calls {
    ports: PortAllocator,
    next_call: u64,
}

impl Calls {
    /// Ports from `ports`; call ids count up from `first_call` (never 0).
    pub fn new(ports: RangeInclusive<u16>, first_call: u64) -> Self {
        Self {
            ports: PortAllocator::new(ports),
            next_call: first_call.max(1),
        }
    }

    /// A new call: its id and its RTP port, or `None` when no port is free.
    pub fn open(&mut self) -> Option<(CallId, u16)> {
        let port = self.ports.allocate()?;
        let call = CallId(self.next_call);
        self.next_call = self.next_call.wrapping_add(1).max(1);
        Some((call, port))
    }

    /// Releases a call's port.
    pub fn close(&mut self, port: u16) -> bool {
        self.ports.release(port)
    }

    /// The live stream a station's intercom call sends as.
    pub fn stream_for(call: CallId) -> StreamId {
        StreamId(STATION_STREAM_BIT | call.0)
    }

    /// The port allocator.
    pub fn ports(&self) -> &PortAllocator {
        &self.ports
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_even_and_leave_room_for_rtcp() {
        let mut a = PortAllocator::new(16383..=16389);
        let got: Vec<_> = std::iter::from_fn(|| a.allocate()).collect();
        assert_eq!(got, vec![16384, 16386, 16388]);
        assert_eq!(a.available(), 0);
        assert!(a.release(16386));
        assert!(!a.release(16386), "double release refused");
        assert!(!a.release(16385), "never allocated");
        assert_eq!(a.allocate(), Some(16386));
    }

    #[test]
    fn released_ports_go_to_the_back() {
        let mut a = PortAllocator::new(20000..=20005);
        let p = a.allocate().unwrap();
        a.release(p);
        assert_eq!(a.allocate(), Some(20002));
        assert_eq!(a.in_use(), 1);
    }

    #[test]
    fn calls_get_distinct_ids_and_run_out_of_ports() {
        let mut c = Calls::new(30000..=30003, 0);
        let (a, pa) = c.open().unwrap();
        let (b, pb) = c.open().unwrap();
        assert_ne!(a, b);
        assert_ne!(a, CallId(0));
        assert_eq!((pa, pb), (30000, 30002));
        assert!(c.open().is_none());
        assert!(c.close(pa));
        assert!(c.open().is_some());
        assert_ne!(Calls::stream_for(a), Calls::stream_for(b));
        assert!(Calls::stream_for(a).0 & STATION_STREAM_BIT != 0);
    }
}
