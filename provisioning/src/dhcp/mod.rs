//! A DHCPv4 server for the phones on the LAN (RFC 2131, options RFC 2132, relay agent
//! information RFC 3046, long options RFC 3396).
//!
//! - [`wire`]: the message format, parsed and emitted in smoltcp's style.
//! - [`server`] (its items re-exported here): the sans-IO server core — pools, reservations,
//!   leases, per-vendor options — fed datagrams and wall-clock time, drained for replies.
//! - `driver` (feature `driver`): the tokio UDP loop around the core.

pub mod server;
pub mod wire;

#[cfg(feature = "driver")]
pub mod driver;

pub use server::*;
