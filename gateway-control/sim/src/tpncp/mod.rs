//! The TPNCP side of the simulator: an AudioCodes MediaPack FXS board with N analog lines,
//! driven by a host over TPNCP (AudioCodes' Trunk Pack Network Control Protocol, binary, TCP
//! and UDP port 2424; layouts of Wireshark's `tpncp.dat`, encoded by
//! [`gateway_control::tpncp::wire`]) — the peer of Offhook's TPNCP host controller.
//!
//! # What it does
//! - Line N is channel N − 1 (MediaPack port N); channel c's RTP port is
//!   [`Config::rtp_port`] + 10 × c (AudioCodes' `BaseUDPPort` and `UDPPortSpacing`).
//! - It takes one host at a time over TCP: a new connection replaces the one up (a host that
//!   lost its connection without the board noticing must get back in), a connection from an
//!   address other than [`Config::controller`] is refused. Datagrams on the same port are
//!   answered too; a UDP sender becomes the host when no TCP connection is up. Answers go to
//!   the command's sender in its byte order; events go to the host in the byte order of its
//!   last message ([`Config::byte_order`] before any).
//! - Every command is acknowledged with `acEV_COMMAND_ACK` (echoing its sequence number and
//!   id) once carried out, the events it caused following (`acEV_ANALOG_IF_FXS_STATUS` for
//!   `acCMD_ANALOG_IF_QUERY_STATUS`, `acEV_ANALOG_IF_RING_START` for a ring); or refused with
//!   `acEV_ERROR` on its channel, with an [`ErrorCode`] and a text: unknown channel, RTP on a
//!   closed channel or another port than the channel's, payload types not the coder's,
//!   opening an open channel, ringing an off-hook line. Unknown ids and messages that do not
//!   decode are counted ([`Stats`]) and refused the same way when their header was readable.
//!   Closing a closed channel, stopping a tone or ring that is not on are acknowledged (a host
//!   re-syncing does that).
//! - `acCMD_OPEN_CHANNEL` sets the coder (G.711 A-law or µ-law) and the packet time;
//!   `acCMD_ACTIVATE_RTP_RTCP` starts RTP to the remote (a `connection` `created`, or
//!   `modified` with a new remote), `acCMD_DEACTIVATE_RTP_RTCP` and `acCMD_CLOSE_CHANNEL` end
//!   it (`deleted`); `say` and `hear` use that connection.
//! - `acCMD_ANALOG_IF_DISTINCTIVE_RING` rings with the analog core's cadence (pattern 0
//!   standard, 1–7 distinctive), each burst reported as `acEV_ANALOG_IF_RING_START` and
//!   `…_RING_END`, until stopped by the host or an off-hook (ring trip: `acEV_OFF_HOOK`, then
//!   the ring's end). Tones, analog signals and the message-waiting lamp are printed.
//! - `offhook`/`onhook`/`flash` send `acEV_OFF_HOOK`/`acEV_ON_HOOK`/`acEV_FLASH_HOOK`;
//!   `digits` sends one `acEV_DIGIT` per key (one entry of the 40, 100 ms on, 100 ms after).
//!   Events while no host is connected are lost (counted), as on a board; its channels keep
//!   their state across connections, so a host's re-sync after reconnecting is visible.
//! - Lines named in [`Config::fxo`] are FXO ports facing a simulated PBX: seized and answered
//!   with `acCMD_SEND_ANALOG_SIGNAL` off-hook, dialled with `acCMD_DIAL` (`acEV_DIAL_ENDED`
//!   once played), rung by the PBX (`ring N [NUMBER]`: `acEV_ANALOG_IF_RING_START`/`_END`,
//!   `acEV_DETECT_CALLER_ID`), answer and disconnect supervision as polarity reversal and
//!   current disconnect; the table and the glare rule are in the `fxo` module.
//! - With [`Config::keepalive`], `acEV_KEEP_ALIVE` (channel -1, with the commands processed)
//!   goes to the host at that interval.
//!
//! [`Board`] is the sans-IO core; it implements [`Simulator`](crate::Simulator). [`run`]
//! (feature `driver`) serves it on a TCP listener and a UDP socket on the same address,
//! stdin and stdout; TCP messages are cut by [`Deframer`](gateway_control::tpncp::wire::Deframer)
//! and broken framing closes the connection.

mod board;
mod config;
#[cfg(feature = "driver")]
mod driver;
mod execute;
mod fxo;
mod line;

#[cfg(test)]
mod tests;

pub use board::{Board, Disconnect, Stats};
pub use config::{Config, ConfigError, MAX_LINES};
#[cfg(feature = "driver")]
pub use driver::{DriverConfig, run, run_with};
pub use execute::ErrorCode;
