//! MGCP, the Media Gateway Control Protocol (RFC 3435), with the line package and basic packages
//! of RFC 3660 and the return codes of RFC 3661, from the call agent's side.
//!
//! - [`wire`]: syntax only — parse and encode messages.
//! - [`transaction`]: retransmission (§4.3), duplicate suppression and response acknowledgement
//!   (§3.5.6); shared with the gateway simulator (the `gateway-sim` crate).
//! - `endpoint`: per line, the notification-request bookkeeping that keeps every line armed,
//!   and the translation to and from [`crate::model`].
//! - [`CallAgent`]: the sans-IO core tying them together ([`crate::Controller`]).

mod agent;
mod endpoint;
pub mod transaction;
pub mod wire;

#[cfg(test)]
mod tests;

pub use agent::{
    CallAgent, Config, ConfigError, GatewayConfig, MAX_GATEWAYS, MAX_LINES_PER_GATEWAY,
    MAX_PIGGYBACKED, PIGGYBACK_BYTES, RING_GONE, Stats, valid_line_name,
};
