//! Carrying out the host's commands: each is acknowledged (`acEV_COMMAND_ACK`, echoing its
//! sequence number and id) once done, then the events it caused follow; or it is refused with
//! `acEV_ERROR` on its channel, with one of the board's [`ErrorCode`]s and a text saying why.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::model::Codec;
use gateway_control::tpncp::wire::{self, AnalogSignal, Coder, Command, Event, Header, id};

use tracing::debug;

use super::Board;
use super::line::{Effects, Open};
use crate::analog::{Connection, ConnectionAction, Mode, Output, StopReason};

/// The `error_code` of the board's `acEV_ERROR` answers. `tpncp.dat` names no codes for
/// `acEV_ERROR`; these are the simulator's own, stable, and listed in the crate docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// 1: an id the board does not know.
    UnknownCommand,
    /// 2: the message did not decode (truncated, lying length, bad value).
    Malformed,
    /// 3: no such channel.
    UnknownChannel,
    /// 4: the channel is not open (`acCMD_ACTIVATE_RTP_RTCP`, `acCMD_DEACTIVATE_RTP_RTCP`).
    ChannelClosed,
    /// 5: the channel is already open (`acCMD_OPEN_CHANNEL`).
    ChannelOpen,
    /// 6: `local_rtp_port` is not the channel's port (`rtp_port + 10 × channel`).
    WrongPort,
    /// 7: a parameter the board cannot use (payload type not the coder's, no remote
    /// address, frames per packet out of 1–6).
    BadParameter,
    /// 8: ringing an off-hook line.
    OffHook,
    /// 9: the channel's RTP port could not be bound.
    NoRtpPort,
    /// 10: an FXO port seized while it rings for a call not yet reported (glare).
    Glare,
    /// 11: an FXO port seized or answered while already off hook.
    PortInUse,
    /// 12: `acCMD_DIAL` on an FXO port that is not seized (or still dialling).
    NotSeized,
    /// 13: a station command on an FXO port (`acCMD_ANALOG_IF_DISTINCTIVE_RING`).
    FxoPort,
}

impl ErrorCode {
    /// The number sent in `error_code`.
    pub fn code(self) -> i32 {
        match self {
            Self::UnknownCommand => 1,
            Self::Malformed => 2,
            Self::UnknownChannel => 3,
            Self::ChannelClosed => 4,
            Self::ChannelOpen => 5,
            Self::WrongPort => 6,
            Self::BadParameter => 7,
            Self::OffHook => 8,
            Self::NoRtpPort => 9,
            Self::Glare => 10,
            Self::PortInUse => 11,
            Self::NotSeized => 12,
            Self::FxoPort => 13,
        }
    }
}

/// Why a command was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Refusal {
    pub(super) code: ErrorCode,
    pub(super) text: String,
}

impl Refusal {
    pub(super) fn new(code: ErrorCode, text: String) -> Self {
        Self { code, text }
    }
}

/// A command id's name as printed (`acCMD_OPEN_CHANNEL`…; `unknown` for the others).
pub(super) fn verb(command: u32) -> &'static str {
    match command {
        id::OPEN_CHANNEL => "acCMD_OPEN_CHANNEL",
        id::CLOSE_CHANNEL => "acCMD_CLOSE_CHANNEL",
        id::ACTIVATE_RTP_RTCP => "acCMD_ACTIVATE_RTP_RTCP",
        id::DIAL => "acCMD_DIAL",
        id::DEACTIVATE_RTP_RTCP => "acCMD_DEACTIVATE_RTP_RTCP",
        id::PLAY_TONE => "acCMD_PLAY_TONE",
        id::STOP_PLAY_TONE => "acCMD_STOP_PLAY_TONE",
        id::SEND_ANALOG_SIGNAL => "acCMD_SEND_ANALOG_SIGNAL",
        id::ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION => {
            "acCMD_ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION"
        }
        id::ANALOG_IF_QUERY_STATUS => "acCMD_ANALOG_IF_QUERY_STATUS",
        id::ANALOG_IF_DISTINCTIVE_RING => "acCMD_ANALOG_IF_DISTINCTIVE_RING",
        _ => "unknown",
    }
}

fn codec(coder: Coder) -> Codec {
    match coder {
        Coder::Alaw => Codec::Pcma,
        Coder::Mulaw => Codec::Pcmu,
    }
}

/// The connection line of a channel's RTP connection: its id is the channel number, TPNCP
/// has no call id (`-`).
fn connection(line: u16, action: ConnectionAction, c: &Connection) -> Output {
    Output::Connection {
        line,
        action,
        id: c.id.clone(),
        call: c.call.clone(),
        mode: c.mode().as_str(),
        codec: c.codec.name(),
        local: c.local,
        remote: c.remote,
    }
}

impl Board {
    /// Carries out one decoded command from `from` and answers it; a command seen again
    /// (same sender, sequence number and id as one of the last
    /// [`RECENT_ANSWERS`](super::board::RECENT_ANSWERS)) is answered again as it was the first
    /// time and not carried out twice, since over UDP the host sends a command again when its
    /// acknowledgement is lost.
    pub(super) fn execute(
        &mut self,
        now: Instant,
        from: SocketAddr,
        header: Header,
        cmd: &Command,
    ) {
        let key = (from, header.seq, wire::command_id(cmd));
        if let Some((_, answers)) = self.recent.iter().find(|(k, _)| *k == key) {
            let answers = answers.clone();
            self.stats.duplicates += 1;
            debug!(%from, seq = header.seq.0, "command repeated; answered again");
            self.stats.events += answers.len() as u64;
            self.transmits.extend(answers);
            return;
        }
        let start = self.transmits.len();
        let fx = self.answer(now, from, header, cmd);
        let answers = self.transmits.range(start..).cloned().collect();
        if self.recent.len() == super::board::RECENT_ANSWERS {
            self.recent.pop_front();
        }
        self.recent.push_back((key, answers));
        if let Some(fx) = fx {
            self.apply(fx);
        }
        // An FXO port's tone starts on a connection activated after it.
        if let Some(li) = self.line_of(cmd.channel()) {
            self.lines[li].fxo_tone(now);
        }
    }

    /// Carries out a command and sends its answer (the ack, and the status a query asks for,
    /// or the refusal); returns what it does to the line after that.
    fn answer(
        &mut self,
        now: Instant,
        from: SocketAddr,
        header: Header,
        cmd: &Command,
    ) -> Option<Effects> {
        let command_id = wire::command_id(cmd);
        let channel = cmd.channel();
        let Some(li) = self.line_of(channel) else {
            self.stats.refused += 1;
            let refusal = Refusal::new(
                ErrorCode::UnknownChannel,
                format!(
                    "no channel {} (the board has {})",
                    channel.0,
                    self.lines.len()
                ),
            );
            self.refuse(from, header, command_id, None, channel, refusal);
            return None;
        };
        let number = self.lines[li].number;
        let mut fx = Effects::default();
        if let Err(refusal) = self.carry_out(now, li, cmd, &mut fx) {
            self.stats.refused += 1;
            self.refuse(from, header, command_id, Some(number), channel, refusal);
            return None;
        }
        self.stats.commands += 1;
        self.outputs.push_back(Output::HostCommand {
            line: Some(number),
            verb: verb(command_id),
            seq: header.seq.0,
            code: 0,
        });
        let ack = Event::CommandAck {
            seq: header.seq,
            command_id,
        };
        self.send_event(from, header.order, channel, &ack);
        if matches!(cmd, Command::QueryStatus { .. }) {
            let status = self.lines[li].status();
            self.send_event(from, header.order, channel, &status);
        }
        Some(fx)
    }

    fn carry_out(
        &mut self,
        now: Instant,
        li: usize,
        cmd: &Command,
        fx: &mut Effects,
    ) -> Result<(), Refusal> {
        if let Some(r) = self.lines[li].fxo_command(now, cmd, fx) {
            return r;
        }
        match cmd {
            Command::OpenChannel {
                coder,
                frames_per_packet,
                ..
            } => {
                let line = &mut self.lines[li];
                if line.open.is_some() {
                    return Err(Refusal::new(
                        ErrorCode::ChannelOpen,
                        format!("channel {li} is already open"),
                    ));
                }
                let frames = u64::try_from(*frames_per_packet)
                    .ok()
                    .filter(|f| (1..=6).contains(f))
                    .ok_or_else(|| {
                        Refusal::new(
                            ErrorCode::BadParameter,
                            format!("m = {frames_per_packet}: 1 to 6 frames of 10 ms"),
                        )
                    })?;
                line.open = Some(Open {
                    codec: codec(*coder),
                    ptime: Duration::from_millis(10 * frames),
                });
                Ok(())
            }
            Command::CloseChannel { .. } => {
                // Closing a closed channel is acknowledged: a host re-syncing after a
                // reconnection closes what may be open.
                self.end_connection(li, fx);
                self.lines[li].open = None;
                Ok(())
            }
            Command::ActivateRtp {
                local_rtp_port,
                remote,
                tx_payload_type,
                rx_payload_type,
                ..
            } => self.activate(
                now,
                li,
                *local_rtp_port,
                *remote,
                (*tx_payload_type, *rx_payload_type),
                fx,
            ),
            Command::DeactivateRtp { .. } => {
                if self.lines[li].open.is_none() {
                    return Err(closed(li));
                }
                self.end_connection(li, fx);
                Ok(())
            }
            Command::PlayTone {
                tone, duration_ms, ..
            } => {
                self.lines[li].play_tone(now, *tone, *duration_ms, fx);
                Ok(())
            }
            Command::StopTone { .. } => {
                self.lines[li].stop_tone(StopReason::Replaced, fx);
                Ok(())
            }
            Command::SendAnalogSignal {
                signal,
                duration_ms,
                ..
            } => {
                let name = match signal {
                    AnalogSignal::HookFlash => "hookflash".to_owned(),
                    AnalogSignal::OffHook => "offhook".to_owned(),
                    AnalogSignal::OnHook => "onhook".to_owned(),
                    AnalogSignal::Other(n) => format!("analog_{n}"),
                };
                let line = &self.lines[li];
                fx.outputs.push(Output::Signal {
                    line: line.number,
                    name,
                    params: Some(format!("duration={duration_ms}")),
                });
                Ok(())
            }
            Command::MessageWaiting { on, .. } => {
                self.lines[li].lamp(*on, fx);
                Ok(())
            }
            // Answered in `execute`, after the acknowledgement.
            Command::QueryStatus { .. } => Ok(()),
            Command::Ring {
                on,
                pattern,
                caller_id,
                ..
            } => {
                let line = &mut self.lines[li];
                if !on {
                    line.stop_ring(StopReason::Replaced, fx);
                    return Ok(());
                }
                if line.phone.is_off_hook() {
                    return Err(Refusal::new(
                        ErrorCode::OffHook,
                        format!("line {} is off-hook", line.number),
                    ));
                }
                line.ring(now, &self.config, *pattern, caller_id.as_ref(), fx);
                Ok(())
            }
            // Command is non-exhaustive: a command decoded but not simulated.
            _ => Err(Refusal::new(
                ErrorCode::UnknownCommand,
                format!("command {} not simulated", wire::command_id(cmd)),
            )),
        }
    }

    /// `acCMD_ACTIVATE_RTP_RTCP`: RTP between the channel's port and `remote`, created or
    /// moved to the new remote.
    fn activate(
        &mut self,
        now: Instant,
        li: usize,
        local_rtp_port: u16,
        remote: SocketAddr,
        (tx, rx): (i32, i32),
        fx: &mut Effects,
    ) -> Result<(), Refusal> {
        let _ = now;
        let Some(open) = self.lines[li].open else {
            return Err(closed(li));
        };
        let port = self.config.channel_port(li);
        if local_rtp_port != port {
            return Err(Refusal::new(
                ErrorCode::WrongPort,
                format!("local_rtp_port {local_rtp_port} is not channel {li}'s ({port})"),
            ));
        }
        if !self.port_usable(port) {
            return Err(Refusal::new(
                ErrorCode::NoRtpPort,
                format!("channel {li}'s RTP port {port} is not bound"),
            ));
        }
        if remote.ip().is_unspecified() || remote.port() == 0 {
            return Err(Refusal::new(
                ErrorCode::BadParameter,
                format!("no remote RTP address ({remote})"),
            ));
        }
        let pt = i32::from(open.codec.payload_type());
        if tx != pt || rx != pt {
            return Err(Refusal::new(
                ErrorCode::BadParameter,
                format!(
                    "payload types tx {tx} rx {rx}: the channel's coder is {} ({pt})",
                    open.codec.name()
                ),
            ));
        }
        let random = self.rtp_random();
        let local = SocketAddr::new(self.config.media_address, port);
        let line = &mut self.lines[li];
        let number = line.number;
        let action = match line.conn.as_mut() {
            Some(c) => {
                c.remote = Some(remote);
                ConnectionAction::Modified
            }
            None => {
                line.conn = Some(Connection::new(
                    li.to_string(),
                    "-".into(),
                    Mode::SendRecv,
                    open.codec,
                    open.ptime,
                    local,
                    Some(remote),
                    random,
                ));
                ConnectionAction::Created
            }
        };
        if let Some(c) = &line.conn {
            fx.outputs.push(connection(number, action, c));
        }
        Ok(())
    }

    /// Ends the channel's RTP connection, if any: a `say` is cut short, `hear` ends.
    fn end_connection(&mut self, li: usize, fx: &mut Effects) {
        let line = &mut self.lines[li];
        let Some(mut c) = line.conn.take() else {
            return;
        };
        let number = line.number;
        if let Some(packets) = c.stop_say() {
            fx.outputs.push(Output::SayDone {
                line: number,
                packets,
                complete: false,
            });
        }
        fx.outputs
            .push(connection(number, ConnectionAction::Deleted, &c));
        if line.phone.hearing {
            line.phone.hearing = false;
            fx.outputs.push(Output::HearEnded { line: number });
        }
    }
}

fn closed(li: usize) -> Refusal {
    Refusal::new(
        ErrorCode::ChannelClosed,
        format!("channel {li} is not open"),
    )
}
