//! A read-only TFTP server: RFC 1350, with options (RFC 2347), blksize (RFC 2348), timeout and
//! tsize (RFC 2349) and windowsize (RFC 7440).
//!
//! - [`wire`]: the packets.
//! - [`transfer`]: one read transfer, sans-IO: option negotiation, windowed sending,
//!   retransmission, block-number rollover.
//! - [`server`]: what to do with a request: file lookup through [`server::Files`], netascii,
//!   refusals, the transfer limit and the counters.
//! - `driver` (feature `driver`): the tokio loop, one UDP socket and task per transfer.

#[cfg(feature = "driver")]
pub mod driver;
pub mod server;
pub mod transfer;
pub mod wire;
