//! Offhook's SIP: IP handsets as voice-messaging stations.
//!
//! A SIP phone is a station just like an analog line, only reached over SIP (RFC 3261) instead
//! of through a media gateway. This crate holds, each as a sans-IO core (no sockets, clocks,
//! threads or channels; the caller supplies `now`):
//! - [`wire`]: the message codec (requests, responses, headers; UDP datagrams and TCP framing);
//! - [`sdp`]: session descriptions and the offer/answer model (RFC 4566, RFC 3264);
//! - [`digest`]: digest authentication (RFC 2617, RFC 7616, RFC 8760);
//! - [`transaction`]: the transaction layer and its timers (RFC 3261 §17);
//! - [`registrar`]: registrations and their bindings (RFC 3261 §10);
//! - [`agent`]: the user agent that translates the gateway [`model`](gateway_control::model)
//!   to SIP, so that the station manager drives a SIP phone as it drives an analog line.
//!
//! The `driver` feature runs the agent on tokio UDP and TCP sockets.
#![warn(missing_docs)]

pub mod agent;
pub mod digest;
#[cfg(feature = "driver")]
pub mod driver;
pub mod registrar;
pub mod sdp;
pub mod transaction;
pub mod wire;
