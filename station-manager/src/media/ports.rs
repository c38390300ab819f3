//! RTP port allocation: even ports over a configured range, RTCP on port + 1 (RFC 3550 §11).
//!
//! Sans-IO and bounded: the allocator holds one bit per even port of the range and hands out
//! the least recently released port first, so a port just closed is not reused at once (late
//! packets of the old call then find no socket rather than the next call).

use std::collections::VecDeque;

use thiserror::Error;
use tracing::debug;

/// Largest range accepted (every even port of 1024–65535).
pub const MAX_PORTS: usize = 32_256;

/// Invalid configuration or misuse of the allocator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum PortError {
    // API misuse.
    /// The range is empty, starts below 1024, or does not leave room for RTCP on port + 1.
    #[error("port range {first}..={last} holds no even RTP/RTCP pair at or above 1024")]
    Range {
        /// First port.
        first: u16,
        /// Last port.
        last: u16,
    },
    /// Every pair of the range is in use.
    #[error("all {0} RTP ports are in use")]
    Exhausted(usize),
    /// The port is not one this allocator handed out, or it was already released.
    #[error("port {0} was not allocated")]
    NotAllocated(u16),
}

/// Hands out even RTP ports of `first..=last` (RTCP on port + 1).
#[derive(Debug, Clone)]
pub struct PortAllocator {
    base: u16,
    in_use: Vec<bool>,
    free: VecDeque<u16>,
}

impl PortAllocator {
    /// An allocator over the even ports of `first..=last` whose port + 1 is also in range.
    pub fn new(first: u16, last: u16) -> Result<Self, PortError> {
        let base = first.saturating_add(first % 2);
        if first < 1024 || last <= base {
            return Err(PortError::Range { first, last });
        }
        let pairs = (usize::from(last) - usize::from(base)).div_ceil(2);
        let pairs = pairs.min(MAX_PORTS);
        let free = (0..pairs).map(|i| i as u16).collect();
        Ok(Self {
            base,
            in_use: vec![false; pairs],
            free,
        })
    }

    /// Pairs in the range.
    pub fn capacity(&self) -> usize {
        self.in_use.len()
    }

    /// Pairs in use.
    pub fn in_use(&self) -> usize {
        self.capacity() - self.free.len()
    }

    /// Takes a free RTP port.
    pub fn allocate(&mut self) -> Result<u16, PortError> {
        let Some(i) = self.free.pop_front() else {
            debug!(capacity = self.capacity(), "RTP ports exhausted");
            return Err(PortError::Exhausted(self.capacity()));
        };
        self.in_use[usize::from(i)] = true;
        Ok(self.base + 2 * i)
    }

    /// Gives `port` back.
    pub fn release(&mut self, port: u16) -> Result<(), PortError> {
        let index = port
            .checked_sub(self.base)
            .filter(|d| d % 2 == 0)
            .map(|d| d / 2)
            .filter(|&i| self.in_use.get(usize::from(i)) == Some(&true))
            .ok_or(PortError::NotAllocated(port))?;
        self.in_use[usize::from(index)] = false;
        self.free.push_back(index);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn even_ports_until_exhausted_then_reuses_oldest_released() {
        let mut a = PortAllocator::new(20_001, 20_010).unwrap();
        // 20002, 20004, 20006, 20008 (20010 has no room for RTCP on 20011).
        assert_eq!(a.capacity(), 4);
        let got: Vec<u16> = (0..4).map(|_| a.allocate().unwrap()).collect();
        assert_eq!(got, [20_002, 20_004, 20_006, 20_008]);
        assert_eq!(a.allocate(), Err(PortError::Exhausted(4)));
        a.release(20_006).unwrap();
        a.release(20_002).unwrap();
        assert_eq!(a.in_use(), 2);
        assert_eq!(a.allocate(), Ok(20_006));
        assert_eq!(a.allocate(), Ok(20_002));
    }

    #[test]
    fn release_checks_the_port() {
        let mut a = PortAllocator::new(30_000, 30_003).unwrap();
        let p = a.allocate().unwrap();
        assert_eq!(a.release(p + 1), Err(PortError::NotAllocated(p + 1)));
        assert_eq!(a.release(29_998), Err(PortError::NotAllocated(29_998)));
        a.release(p).unwrap();
        assert_eq!(a.release(p), Err(PortError::NotAllocated(p)));
    }

    #[test]
    fn bad_ranges() {
        assert!(PortAllocator::new(1000, 2000).is_err());
        assert!(PortAllocator::new(5000, 5000).is_err());
        assert!(PortAllocator::new(5001, 5002).is_err());
        assert_eq!(PortAllocator::new(5000, 5001).unwrap().capacity(), 1);
        assert_eq!(
            PortAllocator::new(1024, u16::MAX).unwrap().capacity(),
            MAX_PORTS
        );
    }
}
