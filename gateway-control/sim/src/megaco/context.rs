//! Contexts (H.248.1 §6.1) of the simulated gateway: each holds at most one analog line and its
//! ephemeral RTP terminations `rtp/N`, each with one RTP connection of the analog core.

use gateway_control::megaco::StreamMode;

use crate::analog::{Connection, Mode};

/// An ephemeral RTP termination: one audio stream.
#[derive(Debug)]
pub(crate) struct RtpTerm {
    /// `rtp/7`.
    pub(crate) name: String,
    pub(crate) conn: Connection,
    pub(crate) mode: StreamMode,
    /// `a=ptime` when one was asked for.
    pub(crate) ptime: Option<u32>,
    /// The Remote description as last given, for audits.
    pub(crate) remote: Option<String>,
}

/// A context.
#[derive(Debug)]
pub(crate) struct Context {
    pub(crate) id: u32,
    /// The analog line in it (index into the lines).
    pub(crate) line: Option<usize>,
    /// The number of the last line that was in it, for reporting a connection after the line
    /// was subtracted first.
    pub(crate) last_line: u16,
    pub(crate) rtp: Vec<RtpTerm>,
}

impl Context {
    pub(crate) fn new(id: u32) -> Self {
        Self {
            id,
            line: None,
            last_line: 0,
            rtp: Vec::new(),
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.line.is_none() && self.rtp.is_empty()
    }
}

/// The analog core's mode for a stream mode. H.248.1 §7.1.7: send and receive are seen from
/// the context's exterior, here the network, so an RTP termination in `SendOnly` sends RTP
/// and passes nothing it receives to the line — MGCP's `sendonly` (RFC 3435 §3.2.2.6), the
/// model's [`ConnectionMode::SendOnly`](gateway_control::model::ConnectionMode::SendOnly).
pub(crate) fn mode(m: StreamMode) -> Mode {
    match m {
        StreamMode::SendOnly => Mode::SendOnly,
        StreamMode::ReceiveOnly => Mode::RecvOnly,
        StreamMode::SendReceive => Mode::SendRecv,
        StreamMode::Inactive => Mode::Inactive,
        StreamMode::LoopBack => Mode::Loopback,
    }
}
