//! Handles for calls: RTP ports (RFC 3550 §11: RTP on an even port, RTCP on the next odd one),
//! gateway [`CallId`]s and live [`StreamId`]s. The [`StationManager`](crate::manager::StationManager)
//! owns one [`Calls`] for all its stations.

use std::ops::RangeInclusive;

use gateway_control::model::CallId;

use crate::StreamId;
use crate::media::{PortAllocator, PortError};

/// Streams the stations start have this bit set, so they never collide with the stream ids the
/// appliance picks for its own senders (which keep it clear).
pub const STATION_STREAM_BIT: u64 = 1 << 63;

/// The manager's allocators, lent to a station for each input.
#[derive(Debug, Clone)]
pub struct Calls {
    ports: PortAllocator,
    next_call: u64,
}

impl Calls {
    /// Ports from `ports`; call ids count up from `first_call` (never 0).
    pub fn new(ports: RangeInclusive<u16>, first_call: u64) -> Result<Self, PortError> {
        Ok(Self {
            ports: PortAllocator::new(*ports.start(), *ports.end())?,
            next_call: first_call.max(1),
        })
    }

    /// A new call: its id and its RTP port, or `None` when no port is free.
    pub fn open(&mut self) -> Option<(CallId, u16)> {
        let port = self.ports.allocate().ok()?;
        let call = CallId(self.next_call);
        self.next_call = self.next_call.wrapping_add(1).max(1);
        Some((call, port))
    }

    /// Releases a call's port; `false` if it was not in use.
    pub fn close(&mut self, port: u16) -> bool {
        self.ports.release(port).is_ok()
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
    fn calls_get_distinct_ids_and_run_out_of_ports() {
        let mut c = Calls::new(30000..=30003, 0).unwrap();
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
