//! Offhook's media-gateway control.
//!
//! Analog phones reach Offhook through media gateways. Every protocol that drives a gateway
//! (MGCP, MEGACO/H.248 and AudioCodes TPNCP) is translated to one common
//! [`model`] of gateways, lines, commands and events; the station manager sees only that model.
//!
//! Each protocol is a sans-IO core (no sockets, clocks, threads or channels): the caller feeds it
//! datagrams, commands and timeouts with the current time, then drains what it wants sent, the
//! model events it produced, and when it next wants to be woken. See [`Controller`]. The
//! [`driver`] module (feature `driver`) runs a core on a tokio UDP socket.
//!
//! The crate holds no audio code: the analog-gateway simulator that plays the gateway side of
//! each protocol is the `gateway-sim` crate, and the virtual-time harness that pairs a core with
//! it is `gateway-harness`.
#![warn(missing_docs)]
#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Instant;

pub mod digitmap;
pub mod megaco;
pub mod mgcp;
pub mod model;
pub mod pcap;
#[cfg(test)]
mod proptest_text;
pub mod tpncp;

#[cfg(feature = "driver")]
pub mod driver;

/// A datagram a core wants sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Where to.
    pub destination: SocketAddr,
    /// The bytes.
    pub contents: Vec<u8>,
}

/// The sans-IO interface every controller core (one per protocol) offers its driver.
///
/// The driver's loop, in quinn's order:
/// 1. feed whatever happened: [`handle_datagram`](Self::handle_datagram) for each received
///    datagram, [`handle_command`](Self::handle_command) for each model command, and
///    [`handle_timeout`](Self::handle_timeout) when the instant from `poll_timeout` has passed;
/// 2. drain [`poll_transmit`](Self::poll_transmit) and send each datagram;
/// 3. drain [`poll_event`](Self::poll_event) and deliver each model event;
/// 4. sleep until [`poll_timeout`](Self::poll_timeout) or the next input.
///
/// `now` is always supplied by the caller; cores never read a clock.
pub trait Controller {
    /// A datagram arrived from `from`.
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]);
    /// The station manager (or a test) asks for something to be done on a line.
    fn handle_command(&mut self, now: Instant, command: model::Command);
    /// The instant returned by [`poll_timeout`](Self::poll_timeout) has been reached.
    fn handle_timeout(&mut self, now: Instant);
    /// The next datagram to send, if any.
    fn poll_transmit(&mut self) -> Option<Transmit>;
    /// The next model event, if any.
    fn poll_event(&mut self) -> Option<model::Event>;
    /// When the core next needs [`handle_timeout`](Self::handle_timeout).
    fn poll_timeout(&self) -> Option<Instant>;
}
