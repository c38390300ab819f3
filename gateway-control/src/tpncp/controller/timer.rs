//! Every timer of the host, in one table (quinn-proto's `connection/timer.rs`): each timer is
//! set at most once, and [`Timers::next`] is the earliest.

use std::collections::{BTreeSet, HashMap};
use std::time::Instant;

use crate::tpncp::wire::Channel;

/// One timer of one board (by index) or of one of its channels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(super) enum Timer {
    /// The command in flight on a channel: retransmit it (UDP) or give up on the board.
    Ack(usize, Channel),
    /// The interdigit timer of a line collecting digits.
    Digits(usize, Channel),
    /// A trunk's incoming call rang last this long ago: the caller gave up.
    Ring(usize, Channel),
    /// Time to see whether the board was heard from lately, and probe it if not.
    Keepalive(usize),
    /// A TCP connection attempt that has not opened yet.
    Connect(usize),
    /// Time to reconnect to a board that went away.
    Reconnect(usize),
}

impl Timer {
    /// The board the timer belongs to.
    pub(super) fn gateway(self) -> usize {
        match self {
            Self::Ack(g, _)
            | Self::Digits(g, _)
            | Self::Ring(g, _)
            | Self::Keepalive(g)
            | Self::Connect(g)
            | Self::Reconnect(g) => g,
        }
    }
}

/// The table: deadlines by timer and in order.
#[derive(Debug, Default)]
pub(super) struct Timers {
    at: HashMap<Timer, Instant>,
    queue: BTreeSet<(Instant, Timer)>,
}

impl Timers {
    /// Sets (or moves) a timer.
    pub(super) fn set(&mut self, timer: Timer, at: Instant) {
        if let Some(old) = self.at.insert(timer, at) {
            self.queue.remove(&(old, timer));
        }
        self.queue.insert((at, timer));
    }

    /// Stops a timer, if set.
    pub(super) fn stop(&mut self, timer: Timer) {
        if let Some(old) = self.at.remove(&timer) {
            self.queue.remove(&(old, timer));
        }
    }

    /// When a timer is due, if set.
    #[cfg(test)]
    pub(super) fn get(&self, timer: Timer) -> Option<Instant> {
        self.at.get(&timer).copied()
    }

    /// Stops every timer of a board.
    pub(super) fn stop_gateway(&mut self, g: usize) {
        let mine: Vec<Timer> = self
            .at
            .keys()
            .filter(|t| t.gateway() == g)
            .copied()
            .collect();
        for t in mine {
            self.stop(t);
        }
    }

    /// The earliest deadline.
    pub(super) fn next(&self) -> Option<Instant> {
        self.queue.first().map(|(at, _)| *at)
    }

    /// Takes the earliest timer due at `now`.
    pub(super) fn pop_due(&mut self, now: Instant) -> Option<Timer> {
        let &(at, timer) = self.queue.first()?;
        if at > now {
            return None;
        }
        self.queue.pop_first();
        self.at.remove(&timer);
        Some(timer)
    }

    /// How many timers are set.
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.at.len()
    }
}
