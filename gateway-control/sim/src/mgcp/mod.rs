//! The MGCP side of the simulator: N analog lines `aaln/1`…`aaln/N` behind an MGCP
//! residential gateway (RFC 3435, line package RFC 3660), as a call agent sees a Cisco VG/ATA
//! or Grandstream HT.
//!
//! # What it does
//! - On start it announces itself with `RSIP *@domain` and `RM: restart` (RFC 3435 §4.4.6),
//!   retransmitted until answered, and announced again after [`Config::restart_retry`] if it
//!   never is.
//! - It obeys `RQNT` (§2.3.3): `X:`, `N:`, `R:` with actions `N`, `A`, `D`, `S`, `I`, `K` and
//!   embedded `E(R(…),S(…),D(…))`, `S:`, `D:` digit maps with the timer `T` (§2.1.5, see
//!   [`digitmap`]), `Q:` `process`/`discard` and `step`/`loop`; `T:` is accepted and ignored.
//!   It answers `200`, or: `401`/`402` when asked to detect (or ring for) a hook state the line
//!   already has, `500` unknown endpoint, `504` a verb it does not know or take, `510` bad
//!   syntax or missing `X:`, `512`/`513` events or signals of the line package it cannot detect
//!   or generate, `518` unknown package, `519` `D` action without a digit map, `522` no such
//!   event or signal, `523` illegal actions, `538` bad signal parameter, `539` bad `Q:`.
//! - Observed events are sent in `NTFY` to the notified entity with the current `X:`,
//!   retransmitted until answered. After a notification, events are quarantined until the next
//!   request (§4.4.1, "step"); the request then processes (`Q: process`, the default) or drops
//!   (`Q: discard`) them. Timeout signals stop when a requested event is detected unless `K`.
//!   A NTFY never answered makes the line send `RSIP aaln/N` with `RM: disconnected` (§4.4.7)
//!   until one is answered.
//! - Ringing follows a cadence — `L/rg` 2 s on / 4 s off ([`Config::ring_cadence`]),
//!   distinctive `L/r0`–`L/r7` the usual analog-adapter patterns — until picked up, stopped,
//!   or its timeout
//!   (180 s, `to=` in ms, capped by [`Config::ring_timeout`]), which reports `L/oc`.
//! - `CRCX`, `MDCX`, `DLCX` (answered `250` with `P:` statistics), `AUEP`, `AUCX`, `EPCF`;
//!   connection ids in hex, modes, `L:` `a:`/`p:`, local SDP answers on an RTP port the driver
//!   supplied ([`Gateway::add_rtp_port`]); `403` with no port free, `540` beyond
//!   [`Config::max_connections`] per line, `505` for an unusable remote description, `515`
//!   unknown connection, `516` wrong call id, `517` bad mode, `532` unsupported codec or ptime.
//! - FXO ports ([`Config::fxo`], `--fxo 3-4`) face a simulated PBX ([`crate::analog::fxo`]):
//!   `S: L/hd` seizes (or answers a ringing port), `D/` signals dial (`L/oc` once out), `L/hu`
//!   releases; the port reports `L/rg` (with `L/ci` caller id) per ring burst, `L/lsa` on the
//!   far end's answer and `L/osi` on its hang-up, and plays busy and reorder tone on its
//!   connection (the mapping and its sources are in the `trunk` module).
//! - Retransmission and duplicate suppression are [`gateway_control::mgcp::transaction`]'s.
//! - A [`Profile`] makes it behave like a real gateway rather than RFC 3435 to the letter: a
//!   Cisco IOS gateway (`MGCP 0.1`, lenient audit answers, keep-alive `NTFY *@…`) or a
//!   PacketCable NCS 1.0 MTA (`MGCP 1.0 NCS 1.0`, the line package only).
//!
//!
//! [`Gateway`] is the sans-IO core; it implements [`Simulator`](crate::Simulator).

mod commands;
mod config;
pub mod digitmap;
mod gateway;
mod line;
mod profile;
mod request;
mod trunk;

#[cfg(test)]
mod tests;

pub use config::{Config, ConfigError, MAX_LINES};
pub use gateway::{Gateway, Stats};
pub use profile::{Profile, UnknownProfile};
