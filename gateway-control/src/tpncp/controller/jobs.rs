//! Model commands turned into jobs: each a few TPNCP commands sent one after the other on the
//! line's channel, one job in flight per channel, and what each outcome reports.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::debug;

use super::config::{MAX_LINES_PER_GATEWAY, MAX_QUEUED_PER_LINE, channel_of, rtp_port_of};
use super::trunk::{Trunk, TrunkJob};
use super::{Collect, Connection, Host, Line, Timer, code};
use crate::model::{
    Cadence, CallId, CallerId, Codec, Command, ConnectionMode, Event, LineId, Media, Tone,
};
use crate::tpncp::wire::{self, CallerIdText, Channel, Coder, ToneType};

/// One thing to do on a channel.
#[derive(Debug, Clone)]
pub(super) enum Job {
    /// One command of a re-synchronisation: its failure is of no consequence.
    Sync(wire::Command),
    /// A status query, reported as [`Event::LineStatus`]; `model`: asked for by a model
    /// command (a failure is reported), not by the re-sync.
    Status { model: bool },
    /// A keep-alive probe: a status query whose answer only corrects the hook state.
    Probe,
    /// Ring, tones and the lamp: nothing answers success.
    Signal(Signal),
    /// A new connection (already the line's [`Connection`] while it runs).
    Connect {
        call: CallId,
        mode: ConnectionMode,
        codec: Codec,
        ptime: Duration,
        remote: Option<Media>,
    },
    /// A mode or remote change.
    Modify {
        call: CallId,
        mode: Option<ConnectionMode>,
        remote: Option<Media>,
    },
    /// The end of a connection.
    Delete { call: CallId },
    /// A trunk's hook or a number to dial (see [`super::trunk`]).
    Trunk(TrunkJob),
}

/// The signals a line is asked for.
#[derive(Debug, Clone)]
pub(super) enum Signal {
    Ring {
        pattern: i32,
        caller_id: Option<CallerIdText>,
    },
    StopRing,
    Tone(ToneType),
    Lamp,
    /// The tone, and the lamp if lit.
    StopTone,
}

impl Job {
    fn call(&self) -> Option<CallId> {
        match self {
            Self::Connect { call, .. } | Self::Modify { call, .. } | Self::Delete { call } => {
                Some(*call)
            }
            _ => None,
        }
    }
}

/// The ring of a channel stopped.
fn stop_ring(channel: Channel) -> wire::Command {
    wire::Command::Ring {
        channel,
        on: false,
        pattern: 0,
        caller_id: None,
    }
}

/// A channel's ring and tone stopped (by the re-sync, and for a removed line).
pub(super) fn silence(channel: Channel) -> [wire::Command; 2] {
    [stop_ring(channel), wire::Command::StopTone { channel }]
}

/// The `acCMD_…` name of a command, for logs and failure reasons.
pub(super) fn verb(command: &wire::Command) -> &'static str {
    match command {
        wire::Command::OpenChannel { .. } => "acCMD_OPEN_CHANNEL",
        wire::Command::CloseChannel { .. } => "acCMD_CLOSE_CHANNEL",
        wire::Command::ActivateRtp { .. } => "acCMD_ACTIVATE_RTP_RTCP",
        wire::Command::Dial { .. } => "acCMD_DIAL",
        wire::Command::DeactivateRtp { .. } => "acCMD_DEACTIVATE_RTP_RTCP",
        wire::Command::PlayTone { .. } => "acCMD_PLAY_TONE",
        wire::Command::StopTone { .. } => "acCMD_STOP_PLAY_TONE",
        wire::Command::SendAnalogSignal { .. } => "acCMD_SEND_ANALOG_SIGNAL",
        wire::Command::MessageWaiting { .. } => {
            "acCMD_ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION"
        }
        wire::Command::QueryStatus { .. } => "acCMD_ANALOG_IF_QUERY_STATUS",
        wire::Command::Ring { .. } => "acCMD_ANALOG_IF_DISTINCTIVE_RING",
    }
}

fn tone_type(tone: Tone) -> Option<ToneType> {
    Some(match tone {
        Tone::Dial => ToneType::Dial,
        Tone::StutterDial => ToneType::StutterDial,
        Tone::Busy => ToneType::Busy,
        Tone::Ringback => ToneType::Ringing,
        Tone::CallWaiting => ToneType::Waiting,
        Tone::Confirmation | Tone::OperationComplete => ToneType::Confirmation,
        Tone::Reorder | Tone::OperationFailure => ToneType::Reorder,
        Tone::MessageWaitingLamp => return None,
    })
}

/// Caller id as a ring carries it: the encoder cuts the number to 20 bytes and the name to
/// 50, at a character boundary (`tpncp.dat`: 21 and 51 bytes with their NUL).
fn caller_id_text(cid: CallerId) -> CallerIdText {
    CallerIdText {
        number: cid.number,
        name: cid.name,
    }
}

impl Line {
    /// A command in flight on the line's channel was carried out: its effect on the state.
    pub(super) fn acked(&mut self, command: &wire::Command) {
        match command {
            wire::Command::OpenChannel { .. } => self.open = true,
            wire::Command::CloseChannel { .. } => {
                self.open = false;
                self.active = false;
            }
            wire::Command::ActivateRtp { .. } => self.active = true,
            wire::Command::DeactivateRtp { .. } => self.active = false,
            wire::Command::MessageWaiting { on, .. } => self.lamp = *on,
            _ => {}
        }
    }
}

impl Host {
    /// A model command: checked, then queued as a job on its line's channel.
    pub(super) fn command(&mut self, now: Instant, command: Command) {
        let Some(g) = self
            .gateways
            .iter()
            .position(|gw| &gw.id == command.gateway())
        else {
            if let Some(line) = command.line() {
                self.refuse(
                    line.clone(),
                    command.call(),
                    code::UNKNOWN_LINE,
                    "no such TPNCP gateway is configured",
                );
            }
            return;
        };
        match command {
            Command::GatewayAddress { address, .. } => self.move_gateway(now, g, address),
            Command::AddLine { line } => self.add_line(now, g, line, false),
            Command::AddTrunk { line } => self.add_line(now, g, line, true),
            Command::RemoveLine { line } => self.remove_line(now, g, &line),
            other => self.line_command(now, g, other),
        }
    }

    /// A command about one line's signals, connection, status or digits.
    fn line_command(&mut self, now: Instant, g: usize, command: Command) {
        let call = command.call();
        let Some(line) = command.line().cloned() else {
            return;
        };
        let Some(channel) = channel_of(&line.endpoint)
            .filter(|c| self.gateways[g].lines.get(c).is_some_and(|l| l.watched))
        else {
            return self.refuse(line, call, code::UNKNOWN_LINE, "the line is not configured");
        };
        if !self.gateways[g].state.in_session() {
            return self.refuse(line, call, code::NOT_READY, "the board is not connected");
        }
        let Some(l) = self.gateways[g].lines.get_mut(&channel) else {
            return;
        };
        let job = match command {
            Command::Ring {
                cadence, caller_id, ..
            } => Job::Signal(Signal::Ring {
                pattern: match cadence {
                    Cadence::Normal => 0,
                    Cadence::Distinctive(n) => i32::from(n),
                },
                caller_id: caller_id.map(caller_id_text),
            }),
            Command::StopRing { .. } => Job::Signal(Signal::StopRing),
            Command::PlayTone { tone, .. } => Job::Signal(match tone_type(tone) {
                Some(t) => Signal::Tone(t),
                None => Signal::Lamp,
            }),
            Command::StopTone { .. } => Job::Signal(Signal::StopTone),
            Command::CreateConnection {
                call,
                mode,
                codec,
                ptime,
                remote,
                ..
            } => {
                if mode == ConnectionMode::Loopback {
                    return self.refuse(
                        line,
                        Some(call),
                        code::NOT_IMPLEMENTED,
                        "TPNCP has no loopback connection mode",
                    );
                }
                if l.pending.is_some() {
                    return self.refuse(
                        line,
                        Some(call),
                        code::INSUFFICIENT_RESOURCES,
                        "the channel already has a connection",
                    );
                }
                l.pending = Some(call);
                Job::Connect {
                    call,
                    mode,
                    codec,
                    ptime,
                    remote,
                }
            }
            Command::ModifyConnection {
                call, mode, remote, ..
            } => {
                if l.pending != Some(call) {
                    return self.refuse(
                        line,
                        Some(call),
                        code::UNKNOWN_CALL,
                        "no such connection on the line",
                    );
                }
                if mode == Some(ConnectionMode::Loopback) {
                    return self.refuse(
                        line,
                        Some(call),
                        code::NOT_IMPLEMENTED,
                        "TPNCP has no loopback connection mode",
                    );
                }
                Job::Modify { call, mode, remote }
            }
            Command::DeleteConnection { call, .. } => {
                if l.pending != Some(call) {
                    return self.refuse(
                        line,
                        Some(call),
                        code::UNKNOWN_CALL,
                        "no such connection on the line",
                    );
                }
                l.pending = None;
                Job::Delete { call }
            }
            Command::Audit { .. } => Job::Status { model: true },
            Command::CollectDigits { map, .. } => {
                if !l.off_hook {
                    return self.refuse(line, None, code::ON_HOOK, "the phone is on-hook");
                }
                l.collect = Some(Collect {
                    map,
                    dialled: String::new(),
                });
                self.timers.stop(Timer::Digits(g, channel));
                return;
            }
            Command::Seize { .. }
            | Command::Dial { .. }
            | Command::Answer { .. }
            | Command::Release { .. } => match self.trunk_job(g, channel, command) {
                Ok(Some(job)) => job,
                Ok(None) => return,
                Err((code, reason)) => return self.refuse(line, None, code, reason),
            },
            _ => return,
        };
        self.enqueue(now, g, channel, job);
    }

    /// [`Command::AddLine`] (and [`Command::AddTrunk`], `trunk`): a channel watched from now
    /// on, queried at once if the board is in session (otherwise with the others when it
    /// comes up).
    fn add_line(&mut self, now: Instant, g: usize, line: LineId, trunk: bool) {
        let Some(channel) = channel_of(&line.endpoint) else {
            return self.refuse(
                line,
                None,
                code::UNKNOWN_LINE,
                "the line is not a channel number",
            );
        };
        let gw = &mut self.gateways[g];
        if rtp_port_of(gw.rtp_port, channel).is_none() {
            return self.refuse(
                line,
                None,
                code::UNKNOWN_LINE,
                "the channel's RTP port would be beyond 65535",
            );
        }
        let full = gw.lines.len() >= MAX_LINES_PER_GATEWAY;
        match gw.lines.get_mut(&channel) {
            Some(l) => {
                l.watched = true;
                if trunk && l.trunk.is_none() {
                    l.trunk = Some(Trunk::Idle);
                }
            }
            None if full => {
                return self.refuse(
                    line,
                    None,
                    code::INSUFFICIENT_RESOURCES,
                    "too many lines on the board",
                );
            }
            None => {
                let mut l = Line::new(line);
                l.trunk = trunk.then_some(Trunk::Idle);
                gw.lines.insert(channel, l);
            }
        }
        if self.gateways[g].state.in_session() {
            self.enqueue(now, g, channel, Job::Status { model: true });
        }
    }

    /// [`Command::RemoveLine`]: the channel's events are dropped from now on, its queued jobs
    /// forgotten, and (if the board is in session) its ring and tone stopped.
    fn remove_line(&mut self, now: Instant, g: usize, line: &LineId) {
        let Some(channel) = channel_of(&line.endpoint) else {
            return;
        };
        let Some(l) = self.gateways[g].lines.get_mut(&channel) else {
            return;
        };
        l.watched = false;
        l.queue.clear();
        l.collect = None;
        l.pending = None;
        self.timers.stop(Timer::Digits(g, channel));
        if self.gateways[g].state.in_session() {
            for command in silence(channel) {
                self.enqueue(now, g, channel, Job::Sync(command));
            }
        }
    }

    fn refuse(&mut self, line: LineId, call: Option<CallId>, code: u16, reason: &str) {
        self.stats.commands_failed += 1;
        debug!(%line, code, reason, "command refused");
        self.events.push_back(Event::CommandFailed {
            line,
            call,
            code,
            reason: reason.into(),
        });
    }

    /// Queues a job on a channel and starts it if the channel is free.
    pub(super) fn enqueue(&mut self, now: Instant, g: usize, channel: Channel, job: Job) {
        let Some(line) = self.gateways[g].lines.get_mut(&channel) else {
            return;
        };
        if line.queue.len() >= MAX_QUEUED_PER_LINE {
            self.job_failed(
                g,
                channel,
                job,
                code::INSUFFICIENT_RESOURCES,
                "too many commands queued for the line",
            );
            return;
        }
        line.queue.push_back(job);
        self.next_job(now, g, channel);
    }

    /// Starts the channel's next job if none is in flight.
    pub(super) fn next_job(&mut self, now: Instant, g: usize, channel: Channel) {
        while !self.gateways[g].in_flight.contains_key(&channel) {
            let Some(job) = self.gateways[g]
                .lines
                .get_mut(&channel)
                .and_then(|l| l.queue.pop_front())
            else {
                return;
            };
            self.start_job(now, g, channel, job);
        }
    }

    /// Sends a job's first command; a job with nothing to send is done at once.
    pub(super) fn start_job(&mut self, now: Instant, g: usize, channel: Channel, job: Job) {
        let mut steps = match self.plan(g, channel, &job) {
            Ok(steps) => steps,
            Err((code, reason)) => return self.job_failed(g, channel, job, code, reason),
        };
        match steps.pop_front() {
            Some(first) => self.send(now, g, channel, first, job, steps),
            None => self.job_done(g, channel, job, None),
        }
    }

    /// The commands a job takes, from the channel's state when it starts.
    fn plan(
        &mut self,
        g: usize,
        channel: Channel,
        job: &Job,
    ) -> Result<VecDeque<wire::Command>, (u16, &'static str)> {
        let gw = &mut self.gateways[g];
        let board = gw.address;
        let rtp_port = gw.rtp_port;
        let line = gw.lines.get_mut(&channel);
        let mut steps = VecDeque::new();
        let activate = |remote: &Media, codec: Codec| {
            let pt = i32::from(codec.payload_type());
            rtp_port_of(rtp_port, channel).map(|local_rtp_port| wire::Command::ActivateRtp {
                channel,
                local_rtp_port,
                remote: remote.address,
                tx_payload_type: pt,
                rx_payload_type: pt,
            })
        };
        match (job, line) {
            (Job::Sync(c), _) => steps.push_back(c.clone()),
            (Job::Status { .. } | Job::Probe, _) => {
                steps.push_back(wire::Command::QueryStatus { channel });
            }
            (Job::Signal(signal), Some(line)) => match signal {
                Signal::Ring { pattern, caller_id } => steps.push_back(wire::Command::Ring {
                    channel,
                    on: true,
                    pattern: *pattern,
                    caller_id: caller_id.clone(),
                }),
                Signal::StopRing => steps.push_back(stop_ring(channel)),
                Signal::Tone(tone) => steps.push_back(wire::Command::PlayTone {
                    channel,
                    tone: *tone,
                    duration_ms: 0,
                }),
                Signal::Lamp => {
                    steps.push_back(wire::Command::MessageWaiting { channel, on: true });
                }
                Signal::StopTone => {
                    steps.push_back(wire::Command::StopTone { channel });
                    if line.lamp {
                        steps.push_back(wire::Command::MessageWaiting { channel, on: false });
                    }
                }
            },
            (
                Job::Connect {
                    call,
                    mode,
                    codec,
                    ptime,
                    remote,
                },
                Some(line),
            ) => {
                let telephone_event = remote.and_then(|m| m.telephone_event);
                let coder = match codec {
                    Codec::Pcmu => Coder::Mulaw,
                    Codec::Pcma => Coder::Alaw,
                    // TPNCP boards are G.711 only here: Opus (SIP calls) is refused like
                    // any other connection the board cannot make.
                    Codec::Opus { .. } => {
                        return Err((code::NOT_IMPLEMENTED, "the board is G.711 only (no Opus)"));
                    }
                };
                steps.push_back(wire::Command::OpenChannel {
                    channel,
                    coder,
                    frames_per_packet: frames_per_packet(*ptime),
                    dtmf_payload_type: telephone_event.unwrap_or(0),
                });
                if let Some(r) = remote.filter(|_| *mode != ConnectionMode::Inactive) {
                    steps.push_back(
                        activate(&r, *codec)
                            .ok_or((code::INSUFFICIENT_RESOURCES, "the channel has no RTP port"))?,
                    );
                }
                if board.is_none() {
                    return Err((code::NOT_READY, "the board's address is unknown"));
                }
                line.connection = Some(Connection {
                    call: *call,
                    codec: *codec,
                    ptime: *ptime,
                    mode: *mode,
                    remote: *remote,
                    telephone_event,
                    created: false,
                });
            }
            (Job::Modify { call, mode, remote }, Some(line)) => {
                let Some(c) = line.connection.as_ref().filter(|c| c.call == *call) else {
                    return Err((code::UNKNOWN_CALL, "no such connection on the line"));
                };
                let mode = mode.unwrap_or(c.mode);
                let new_remote = remote.or(c.remote);
                if mode == ConnectionMode::Inactive {
                    if line.active {
                        steps.push_back(wire::Command::DeactivateRtp { channel });
                    }
                } else if let Some(r) = new_remote
                    && (!line.active || new_remote != c.remote)
                {
                    steps.push_back(
                        activate(&r, c.codec)
                            .ok_or((code::INSUFFICIENT_RESOURCES, "the channel has no RTP port"))?,
                    );
                }
            }
            (Job::Trunk(t), Some(line)) => {
                // A dial queued behind a seize the board refused: the port is not off hook.
                if matches!(t, TrunkJob::Dial(_)) && !matches!(line.trunk, Some(Trunk::OffHook(_)))
                {
                    return Err((code::ON_HOOK, "the trunk is not seized"));
                }
                steps.push_back(t.command(channel));
            }
            (Job::Delete { .. }, Some(line)) => {
                if line.active {
                    steps.push_back(wire::Command::DeactivateRtp { channel });
                }
                if line.open {
                    steps.push_back(wire::Command::CloseChannel { channel });
                }
            }
            (_, None) => return Err((code::UNKNOWN_LINE, "the line is not configured")),
        }
        Ok(steps)
    }

    /// The channel's command in flight is answered: its job goes on with its next command,
    /// or is done, and the channel takes its next job.
    pub(super) fn advance(&mut self, now: Instant, g: usize, channel: Channel) {
        let Some(mut f) = self.gateways[g].in_flight.remove(&channel) else {
            return;
        };
        self.timers.stop(Timer::Ack(g, channel));
        match f.rest.pop_front() {
            Some(next) => self.send(now, g, channel, next, f.job, f.rest),
            None => {
                self.job_done(g, channel, f.job, f.status);
                self.next_job(now, g, channel);
            }
        }
    }

    /// A job carried out: what it reports. `status`: a query's answer (off-hook, lamp).
    fn job_done(&mut self, g: usize, channel: Channel, job: Job, status: Option<(bool, bool)>) {
        if let Job::Trunk(t) = &job {
            self.trunk_job_done(g, channel, t);
        }
        let gw = &mut self.gateways[g];
        let board = gw.address;
        let rtp_port = gw.rtp_port;
        let Some(line) = gw.lines.get_mut(&channel) else {
            return;
        };
        let id = line.id.clone();
        match job {
            Job::Sync(_) | Job::Signal(_) | Job::Trunk(_) => {}
            Job::Status { .. } => {
                if let Some((off_hook, lamp)) = status {
                    line.off_hook = off_hook;
                    line.lamp = lamp;
                    if line.watched {
                        self.events
                            .push_back(Event::LineStatus { line: id, off_hook });
                    }
                }
            }
            Job::Probe => {
                if let Some((off_hook, lamp)) = status {
                    line.lamp = lamp;
                    self.hook(g, channel, off_hook);
                }
            }
            Job::Connect { call, .. } => {
                let Some(c) = line.connection.as_mut().filter(|c| c.call == call) else {
                    return;
                };
                c.created = true;
                let port = rtp_port_of(rtp_port, channel).unwrap_or(rtp_port);
                let ip = board.map_or(std::net::Ipv4Addr::UNSPECIFIED.into(), |a| a.ip());
                let local = Media {
                    address: SocketAddr::new(ip, port),
                    codec: c.codec,
                    ptime: c.ptime,
                    telephone_event: c.telephone_event,
                };
                self.events.push_back(Event::ConnectionCreated {
                    line: id,
                    call,
                    local,
                });
            }
            Job::Modify { call, mode, remote } => {
                if let Some(c) = line.connection.as_mut().filter(|c| c.call == call) {
                    c.mode = mode.unwrap_or(c.mode);
                    c.remote = remote.or(c.remote);
                }
                self.events
                    .push_back(Event::ConnectionModified { line: id, call });
            }
            Job::Delete { call } => {
                if line.connection.as_ref().is_some_and(|c| c.call == call) {
                    line.connection = None;
                }
                self.events
                    .push_back(Event::ConnectionDeleted { line: id, call });
            }
        }
    }

    /// A job that will not be done: reported, as the model asks.
    pub(super) fn job_failed(
        &mut self,
        g: usize,
        channel: Channel,
        job: Job,
        code: u16,
        reason: &str,
    ) {
        let in_session = self.gateways[g].state.in_session();
        if let Job::Trunk(t) = &job {
            self.trunk_job_failed(g, channel, t);
        }
        let Some(line) = self.gateways[g].lines.get_mut(&channel) else {
            debug!(channel = channel.0, reason, "job for no line dropped");
            return;
        };
        let id = line.id.clone();
        match &job {
            Job::Sync(_) | Job::Probe | Job::Status { model: false } => {
                debug!(line = %id, reason, "internal command failed");
                return;
            }
            Job::Connect { call, .. } => {
                if line.pending == Some(*call) {
                    line.pending = None;
                }
                if line.connection.as_ref().is_some_and(|c| c.call == *call) {
                    line.connection = None;
                }
                // Opened before a later step failed: closed again.
                if line.open && in_session {
                    line.queue
                        .push_front(Job::Sync(wire::Command::CloseChannel { channel }));
                }
            }
            Job::Delete { call } => {
                if line.connection.as_ref().is_some_and(|c| c.call == *call) {
                    line.connection = None;
                }
                // The connection is gone from Offhook's view either way.
                self.events.push_back(Event::ConnectionDeleted {
                    line: id,
                    call: *call,
                });
                return;
            }
            Job::Status { model: true } | Job::Signal(_) | Job::Modify { .. } | Job::Trunk(_) => {}
        }
        self.stats.jobs_failed += 1;
        self.events.push_back(Event::CommandFailed {
            line: id,
            call: job.call(),
            code,
            reason: reason.to_owned(),
        });
    }
}

/// `m` of `acCMD_OPEN_CHANNEL`: 10 ms G.711 frames per packet, 1 to 12.
fn frames_per_packet(ptime: Duration) -> i32 {
    let frames = ptime.as_millis() / 10;
    i32::try_from(frames.clamp(1, 12)).unwrap_or(1)
}
