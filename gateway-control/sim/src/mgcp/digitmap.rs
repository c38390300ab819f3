//! Digit maps (RFC 3435 §2.1.5): the parser and matcher live in `gateway_control::digitmap`,
//! shared with the call agent, which sends them.

pub use gateway_control::digitmap::*;
