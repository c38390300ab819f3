//! The layer's one timer table: every armed timer of every transaction, earliest first.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

/// The timers of RFC 3261 §17 (Table 4) and RFC 6026, and the three this layer adds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Timer {
    /// INVITE request retransmission (client, Calling; unreliable transports).
    A,
    /// INVITE transaction timeout (client, Calling).
    B,
    /// Wait for retransmitted final responses (INVITE client, Completed).
    D,
    /// Non-INVITE request retransmission (client, Trying and Proceeding; unreliable).
    E,
    /// Non-INVITE transaction timeout (client).
    F,
    /// Non-2xx final response retransmission (INVITE server, Completed; unreliable).
    G,
    /// Wait for the ACK (INVITE server, Completed).
    H,
    /// Absorb ACK retransmissions (INVITE server, Confirmed).
    I,
    /// Absorb request retransmissions (non-INVITE server, Completed).
    J,
    /// Absorb response retransmissions (non-INVITE client, Completed).
    K,
    /// Absorb INVITE retransmissions after a 2xx (INVITE server, Accepted; RFC 6026 §8.7).
    L,
    /// Pass 2xx retransmissions to the TU (INVITE client, Accepted; RFC 6026 §8.4).
    M,
    /// 2xx retransmission until the ACK (RFC 3261 §13.3.1.4: the UAS core's job, done here).
    Resend2xx,
    /// No final response 64·T1 after a CANCEL was sent: the INVITE is given up (§9.1).
    CancelGuard,
    /// A non-INVITE server transaction the TU has not answered after 64·T1 (the client has
    /// given up by then, Timer F) is dropped, so that a TU that forgets cannot fill the table.
    Abandon,
}

impl Timer {
    const ALL: [Self; 15] = [
        Self::A,
        Self::B,
        Self::D,
        Self::E,
        Self::F,
        Self::G,
        Self::H,
        Self::I,
        Self::J,
        Self::K,
        Self::L,
        Self::M,
        Self::Resend2xx,
        Self::CancelGuard,
        Self::Abandon,
    ];
}

/// Which transaction a timer belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Owner {
    Client(u64),
    Server(u64),
}

/// Armed timers: a queue ordered by deadline and the deadline of each (owner, timer), so that
/// re-arming or cancelling removes the old entry and [`Timers::next`] is never stale.
#[derive(Debug, Default)]
pub(crate) struct Timers {
    queue: BTreeSet<(Instant, Owner, Timer)>,
    armed: HashMap<(Owner, Timer), Instant>,
}

impl Timers {
    pub(crate) fn set(&mut self, owner: Owner, timer: Timer, at: Instant) {
        if let Some(old) = self.armed.insert((owner, timer), at) {
            self.queue.remove(&(old, owner, timer));
        }
        self.queue.insert((at, owner, timer));
    }

    pub(crate) fn cancel(&mut self, owner: Owner, timer: Timer) {
        if let Some(old) = self.armed.remove(&(owner, timer)) {
            self.queue.remove(&(old, owner, timer));
        }
    }

    pub(crate) fn cancel_all(&mut self, owner: Owner) {
        for timer in Timer::ALL {
            self.cancel(owner, timer);
        }
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.queue.first().map(|&(at, _, _)| at)
    }

    /// The earliest timer due at `now`, disarmed.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Owner, Timer)> {
        let &(at, owner, timer) = self.queue.first()?;
        if at > now {
            return None;
        }
        self.queue.remove(&(at, owner, timer));
        self.armed.remove(&(owner, timer));
        Some((owner, timer))
    }

    #[cfg(test)]
    pub(crate) fn deadline(&self, owner: Owner, timer: Timer) -> Option<Instant> {
        self.armed.get(&(owner, timer)).copied()
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }
}
