//! Offhook's virtual-time test harness: one [`Pair`] puts any gateway controller (a
//! [`Controller`]: the MGCP call agent today) in front of any simulated gateway (a
//! [`Simulator`]) over a link, moves datagrams both ways, and jumps time to the earliest
//! deadline of either core or of a datagram in flight, as quinn-proto's `Pair` and str0m's
//! `progress()` do. Nothing sleeps; a test reads as a script at explicit instants.
//!
//! The link is a [`Wire`]: [`Lossy`], seeded and in memory (loss, duplication, reordering
//! through random delay, a cut), or [`Udp`], two loopback sockets for benches that measure the
//! cores and the kernel together in wall-clock time.
//!
//! ```text
//! let mut pair = Pair::new(agent, ca_addr, gateway, gw_addr, now, Lossy::new(seed).loss(0.2));
//! pair.run(Duration::from_secs(2));            // register, audit, arm
//! pair.line(LineCommand::OffHook(1));          // the phone's side
//! pair.command(Command::CreateConnection {…}); // the controller's side
//! let events = pair.take_events();             // model events; pair.outputs: the gateway's
//! ```
#![warn(missing_docs)]
#![forbid(unsafe_code)]

mod wire;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::model::{Command, Event};
use gateway_sim::{LineCommand, Output, Simulator, Via};

pub use wire::{LinkStats, Lossy, Udp, Wire};

/// Which end of the link a datagram goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The gateway controller (the call agent).
    Controller,
    /// The simulated gateway's control socket.
    Gateway,
}

/// One datagram put on the link, kept when [`Pair::record`] is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sent {
    /// How long after the pair's start it was sent.
    pub at: Duration,
    /// Its destination.
    pub to: Side,
    /// The bytes.
    pub contents: Vec<u8>,
}

/// A controller and a simulated gateway, and the link between them.
///
/// Every input is followed by a drain of both cores, in quinn's order: each core's
/// `poll_transmit` onto the link (controller first), then the controller's `poll_event` into
/// [`events`](Self::events) and the gateway's `poll_output` into [`outputs`](Self::outputs).
/// The gateway's RTP is not carried (it is counted in [`rtp`](Self::rtp)).
pub struct Pair<C, S, W = Lossy> {
    /// The controller core.
    pub controller: C,
    /// The simulated gateway core (replace it to reboot the gateway).
    pub gateway: S,
    /// Model events from the controller, oldest first, until taken.
    pub events: Vec<Event>,
    /// What the gateway reported, oldest first, until taken.
    pub outputs: Vec<Output>,
    /// RTP datagrams the gateway sent (not carried).
    pub rtp: u64,
    /// The link.
    pub wire: W,
    controller_addr: SocketAddr,
    gateway_addr: SocketAddr,
    start: Instant,
    now: Instant,
    record: Option<Vec<Sent>>,
}

impl<C, S, W> std::fmt::Debug for Pair<C, S, W> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pair")
            .field("controller_addr", &self.controller_addr)
            .field("gateway_addr", &self.gateway_addr)
            .field("elapsed", &(self.now - self.start))
            .field("events", &self.events.len())
            .field("outputs", &self.outputs.len())
            .finish_non_exhaustive()
    }
}

impl<C: Controller, S: Simulator, W: Wire> Pair<C, S, W> {
    /// `controller` at `controller_addr` and `gateway` at `gateway_addr` (where each sends the
    /// other's datagrams), both created at `now`, over `wire`. Whatever the cores queued when
    /// they were created goes on the link with the first step (so [`record`](Self::record)
    /// called now sees it).
    pub fn new(
        controller: C,
        controller_addr: SocketAddr,
        gateway: S,
        gateway_addr: SocketAddr,
        now: Instant,
        wire: W,
    ) -> Self {
        Self {
            controller,
            gateway,
            events: Vec::new(),
            outputs: Vec::new(),
            rtp: 0,
            wire,
            controller_addr,
            gateway_addr,
            start: now,
            now,
            record: None,
        }
    }

    /// The current (virtual) time.
    pub fn now(&self) -> Instant {
        self.now
    }

    /// How long since the pair was created.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    /// Keeps every datagram put on the link from now on, for [`sent`](Self::sent).
    pub fn record(&mut self) {
        self.record.get_or_insert_with(Vec::new);
    }

    /// Every datagram put on the link since [`record`](Self::record), oldest first.
    pub fn sent(&self) -> &[Sent] {
        self.record.as_deref().unwrap_or_default()
    }

    /// Takes the model events so far.
    pub fn take_events(&mut self) -> Vec<Event> {
        std::mem::take(&mut self.events)
    }

    /// Takes the gateway's outputs so far.
    pub fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    /// The controller is given a model command now; datagrams due now are delivered.
    pub fn command(&mut self, command: Command) {
        self.controller.handle_command(self.now, command);
        self.drain();
        self.deliver();
    }

    /// Something happens on a simulated phone now; datagrams due now are delivered.
    pub fn line(&mut self, command: LineCommand) {
        self.gateway.handle_line(self.now, command);
        self.drain();
        self.deliver();
    }

    /// The earliest instant at which something is due: either core's timer or a datagram.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.controller.poll_timeout(),
            self.gateway.poll_timeout(),
            self.wire.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Moves time to `now` (never backwards): delivers every datagram due, each followed by a
    /// drain, then fires each core's timer if due, then drains again.
    pub fn advance_to(&mut self, now: Instant) {
        self.now = self.now.max(now);
        self.deliver();
        let now = self.now;
        if self.controller.poll_timeout().is_some_and(|t| t <= now) {
            self.controller.handle_timeout(now);
        }
        if self.gateway.poll_timeout().is_some_and(|t| t <= now) {
            self.gateway.handle_timeout(now);
        }
        self.drain();
        self.deliver();
    }

    /// Runs everything due within `d`, jumping from one deadline to the next, and ends at
    /// `now + d`.
    pub fn run(&mut self, d: Duration) {
        let end = self.now + d;
        self.deliver();
        while let Some(next) = self.poll_timeout().filter(|&t| t <= end) {
            self.advance_to(next);
        }
        self.now = end;
    }

    /// Runs until `done` holds (checked after every step) or `limit` has passed; returns
    /// whether it held.
    pub fn run_until(&mut self, limit: Duration, mut done: impl FnMut(&mut Self) -> bool) -> bool {
        let end = self.now + limit;
        self.deliver();
        loop {
            if done(self) {
                return true;
            }
            match self.poll_timeout().filter(|&t| t <= end) {
                Some(next) => self.advance_to(next),
                None => {
                    self.now = end;
                    return done(self);
                }
            }
        }
    }

    /// Delivers every datagram due at the current time (with a zero-delay link, until both
    /// sides are quiet).
    pub fn deliver(&mut self) {
        self.drain();
        while let Some((to, contents)) = self.wire.poll_receive(self.now) {
            match to {
                Side::Controller => {
                    self.controller
                        .handle_datagram(self.now, self.gateway_addr, &contents);
                }
                Side::Gateway => {
                    self.gateway.handle_datagram(
                        self.now,
                        Via::Control,
                        self.controller_addr,
                        &contents,
                    );
                }
            }
            self.drain();
        }
    }

    /// Puts what both cores want sent on the link and collects their events and outputs.
    fn drain(&mut self) {
        while let Some(t) = self.controller.poll_transmit() {
            assert_eq!(
                t.destination, self.gateway_addr,
                "the controller sent to an address that is not the gateway's"
            );
            self.send(Side::Gateway, t.contents);
        }
        while let Some(t) = self.gateway.poll_transmit() {
            match t.via {
                Via::Control => {
                    assert_eq!(
                        t.destination, self.controller_addr,
                        "the gateway sent control to an address that is not the controller's"
                    );
                    self.send(Side::Controller, t.contents);
                }
                Via::Rtp(_) => self.rtp += 1,
            }
        }
        while let Some(e) = self.controller.poll_event() {
            self.events.push(e);
        }
        while let Some(o) = self.gateway.poll_output() {
            self.outputs.push(o);
        }
    }

    fn send(&mut self, to: Side, contents: Vec<u8>) {
        if let Some(log) = &mut self.record {
            log.push(Sent {
                at: self.now - self.start,
                to,
                contents: contents.clone(),
            });
        }
        self.wire.send(self.now, to, contents);
    }
}

#[cfg(test)]
mod tests;
