//! The MEGACO side of the simulator: N analog lines `aaln/1`…`aaln/N` behind an H.248.1
//! residential gateway (ITU-T H.248.1 v1 / RFC 3525, packages of Annex E), as an MGC sees an
//! analog MG — the peer of Offhook's MEGACO controller.
//!
//! # What it does
//! - On start it registers with `ServiceChange` on ROOT, `Method = Restart`, `Reason = "901
//!   Cold Boot"`, `Profile = ResGW/1` (§7.2.8), retransmitted until replied (Annex D.1), and
//!   sent again after [`Config::restart_retry`] if the controller stays silent or refuses.
//!   A request of ours that times out, a 5xx reply to a Notify, a TCP reconnection or
//!   [`Config::controller_silence`] without a word from the controller make it announce
//!   itself again with `Method = Disconnected` (`900 Service Restored`, §11.5). A
//!   `ServiceChangeAddress` in the reply moves later requests there; a `HandOff` from the
//!   controller with `MgcIdToTry` makes it register at the new one.
//! - It obeys Add, Modify, Subtract, AuditValue and AuditCapabilities (§7.2) in the null
//!   context `-`, a new one `$` and numbered ones (`*` for Subtract and audits), with
//!   wildcards (`*`, `aaln/*`); Move and Notify are answered 501. On `aaln/N`: Events
//!   (`al/of`, `al/on`, `al/fl`, `dd/ce` with a digit map, `dd/d0`…`dd/dd`, `dd/ds`, `dd/do`,
//!   `dd/*`; `KeepActive`), Signals (`al/ri`; `cg/dt`, `cg/rt`, `cg/bt`, `cg/ct` as TimeOut
//!   signals; `cg/sit`, `cg/wt`, `cg/pt`, `cg/cw`, `cg/cr` brief; `SignalType`, `Duration`),
//!   DigitMap descriptors. Add of `$` (or `rtp/$`) creates an RTP termination `rtp/N` with
//!   an RTP port the driver supplied ([`Mg::add_rtp_port`]) and answers its Local SDP;
//!   LocalControl Mode (default Inactive), Local and Remote set its stream (PCMU or PCMA).
//!   Subtract answers the stream's Statistics (`nt/os`, `nt/or`, `rtp/ps`, `rtp/pr`,
//!   `rtp/pl`, `rtp/jit`); a line subtracted returns to the null context with no events and
//!   no signals (§7.1); a context is deleted with its last termination.
//! - Events armed with a RequestID are notified (`Notify` with ObservedEvents) in the
//!   context the line is in, and stay armed until the next Events descriptor; an armed event
//!   stops the signals playing unless `KeepActive`. Off-hook stops the ring, on-hook every
//!   signal. Digits against a digit map end in one `dd/ce { ds = "…", Meth = UM|FM|PM }`,
//!   the dial string in digit-map symbols (`E` for `*`, `F` for `#`, Annex E.6.2).
//! - Errors of H.248.8: 400/401 and the parser's codes for what does not parse (a request whose
//!   id was read gets an error reply, other MEGACO text a message-level error), 411 unknown
//!   context, 421 a command in a context it cannot be in, 430 unknown termination, 431
//!   wildcard matching none, 433 line already in a context, 434 context full, 435
//!   termination in another context, 447, 449, 451/452 no such event/signal in `al`, `dd`,
//!   `cg`, 501 not implemented (Move, signal lists on station lines, embedded events), 510 no RTP port, 512/513
//!   other packages, 515 codec, 520 undefined digit map, 540 ringing an off-hook line.
//! - Every encoding is read (pretty and compact text, Annex A BER), told apart per message;
//!   replies go in the request's, what it starts in [`Config::encoding`]. In binary the
//!   terminations have Erlang/OTP's bit-string ids (lines `00000000/00000000/0000000N`, RTP
//!   terminations `00000001/…`), since Annex A cannot carry `aaln/N`. Retransmission, duplicates, Pending and acks are the shared
//!   [`transaction`](gateway_control::megaco::transaction) layer's.
//!
//! - Lines named in [`Config::fxo`] are FXO ports facing the simulated PBX
//!   ([`crate::analog::fxo`]): they take the Basic CAS signals `bcas/sz`, `bcas/ans` and
//!   `bcas/cl` (ITU-T H.248.25), a signal list of `dg` keys as the number dialled (`g/sc` when
//!   its last key asked for completion), and report `bcas/sz` (with the caller id as `cid`),
//!   `bcas/ans`, `bcas/cl`, `cd/bt` and `cd/ct` (module `trunk`); glare and the other seizures out
//!   of place are refused with 540.
//!
//! Not simulated: the digit map's start timer (no `dd/ce` is reported before the first
//! digit), EventBuffer/lockstep, `g/sc` signal completion on station lines, timestamps in ObservedEvents,
//! TopologyDescriptors, and more than one line per context.
//!
//! [`Mg`] is the sans-IO core; it implements [`Simulator`](crate::Simulator). [`run`]
//! (feature `driver`) puts it on a UDP socket or a TCP connection (TPKT), stdin and stdout.

mod announce;
mod audit;
mod config;
mod context;
mod digits;
#[cfg(feature = "driver")]
mod driver;
mod execute;
mod line;
mod mg;
mod plan;
mod reply;
mod sdp;
mod trunk;

#[cfg(test)]
mod tests;

pub use config::{Config, ConfigError, Encoding, MAX_LINES, Transport};
#[cfg(feature = "driver")]
pub use driver::{DriverConfig, run, run_with};
pub use mg::{Mg, Stats};
