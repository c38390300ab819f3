//! The protocol-free FXO (trunk) port core: lines of a simulated gateway that face a simulated
//! PBX instead of a phone (`offhook gateway-sim --fxo 3-4`).
//!
//! On an FXO port the gateway is the phone. The controller seizes the port (loop start: the
//! gateway closes the loop and the PBX returns dial tone), dials a number and, when the far
//! phone answers, talks; or the PBX rings the port for an incoming call, with caller id, and
//! the controller answers it. What each side does and what the line carries follow:
//! - loop-start signalling, ringing and the reversal of battery polarity on answer (answer
//!   supervision) and the loop-current drop (open switch interval, calling-party control, CPC)
//!   on far-end disconnect: Telcordia GR-506-CORE (LSSGR, signalling for analog interfaces)
//!   and ANSI/TIA-464; a PBX gives reversal and CPC on its trunks only on request, hence
//!   [`Supervision::None`], where answer is only heard and the PBX plays reorder after the far
//!   end hangs up;
//! - on-hook caller id, sent between the first and the second ring: Telcordia GR-30-CORE;
//! - the busy and reorder tones: [`tone`] (ANSI T1.401, GR-506 §17).
//!
//! A protocol side keeps one [`Port`] per FXO line (see [`FxoConfig::is_fxo`]), maps its
//! protocol's seize, dial, answer and release onto the port's methods, feeds it the stdin
//! commands for the line (`offhook`/`onhook`/`digits`/`autoanswer` play the far phone or the
//! caller; [`TrunkCommand`]: `busy N`, `ring N [NUMBER]`) and reports each [`Detected`] in its
//! protocol's terms. The port prints `{"line":3,"event":"dialed","number":"2041"}`
//! ([`Output::Dialed`](crate::Output::Dialed)) once the number is complete and
//! `{"line":3,"event":"answered"}` ([`Output::Answered`](crate::Output::Answered)) when the
//! controller answers an incoming call.

mod config;
mod port;
pub mod tone;

#[cfg(test)]
mod tests;

pub use config::{FxoConfig, FxoError, MAX_FXO_LINE, MAX_FXO_RANGES, Supervision};
pub use port::{DIAL_TIMEOUT, Detected, MAX_DIALLED, MAX_PORT_EVENTS, Port, Refusal, State};
pub use tone::{MAX_TONE_CHUNK, Tone, ToneGen};

/// The simulated PBX's side of a trunk, typed on stdin: what only an FXO port understands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrunkCommand {
    /// `busy N`: the number the controller dialled on port N is busy.
    Busy(u16),
    /// `ring N [NUMBER]`: a call from the PBX rings port N, with that caller id.
    Ring {
        /// The port.
        line: u16,
        /// The caller's number, digits only, at most [`MAX_CALLER_ID`].
        caller_id: Option<String>,
    },
}

impl TrunkCommand {
    /// The line concerned.
    pub fn line(&self) -> u16 {
        match self {
            Self::Busy(n) | Self::Ring { line: n, .. } => *n,
        }
    }
}

/// The longest caller id number `ring` takes (GR-30's MDMF number field holds 20 characters).
pub const MAX_CALLER_ID: usize = 20;
