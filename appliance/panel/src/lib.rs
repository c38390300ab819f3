//! Offhook's front panel: an LCDproc client.
//!
//! Appliances drive their front-panel displays through LCDproc: `LCDd` talks to the hardware
//! (HD44780, Crystalfontz, Matrix Orbital…) and applications are its clients over a TCP text
//! protocol ("protocol 0.3" of LCDd 0.5.x). This crate is the reusable protocol layer; the
//! appliance's own screens and set-up menu are built on it.
//!
//! - [`protocol`]: the wire format, syntax only: [`protocol::parse`] for LCDd's lines and
//!   [`protocol::Command::encode`] for the client's, built from validated ids and text.
//! - [`session`]: the sans-IO core: handshake, batches synchronised by `noop`, typed events,
//!   the declared state replayed on every connection, and [`session::Stats`]. Its loop is
//!   documented on the module.
//! - [`backoff`]: the reconnection delays.
//! - [`driver`] (feature `driver`): the tokio task that connects to LCDd, runs the session,
//!   and reconnects with the back-off. The application talks to it through a
//!   [`driver::Panel`] handle and an event channel.
//! - [`lcdd`]: a real LCDd in a tmux pane, for tests (this crate's and the appliance's).
#![warn(missing_docs)]
#![forbid(unsafe_code)]

pub mod backoff;
pub mod declared;
pub mod protocol;
pub mod session;

#[cfg(feature = "driver")]
pub mod driver;
pub mod lcdd;
