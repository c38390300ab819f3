//! Commands to gateways: model commands become jobs, jobs wait in a per-gateway queue (pacing),
//! and are encoded only when sent, so that a re-arm reflects the line as it is then and every
//! command carries the latest `K:` acknowledgements.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, trace, warn};

use super::{CallAgent, Dialect, Service};
use crate::mgcp::endpoint::SignalChange;
use crate::mgcp::wire::{
    self, Action, AudioDescription, EndpointName, EventName, EventRef, Mode, Pair, Param,
    RequestedEvent, ReturnCode, Sdp, Verb,
};
use crate::model::{CallId, Codec, Command, ConnectionMode, LineId, Media};

/// Deferred commands kept per connection that is still being created.
const MAX_DEFERRED: usize = 8;

/// Something to send to a gateway.
#[derive(Debug, Clone)]
pub(super) enum Job {
    /// Re-arm a line (coalesced: skipped if another RQNT went first).
    Arm { line: usize },
    /// A model command's RQNT; the change is applied when it is sent.
    Signal { line: usize, change: SignalChange },
    /// AUEP for a line.
    Audit { line: usize, why: AuditWhy },
    /// AUEP to see whether an unreachable gateway answers again.
    Probe,
    Crcx {
        call: CallId,
        line: LineId,
        mode: ConnectionMode,
        codec: Codec,
        ptime: Duration,
        remote: Option<Media>,
    },
    Mdcx {
        call: CallId,
        line: LineId,
        mode: Option<ConnectionMode>,
        remote: Option<Media>,
    },
    Dlcx {
        call: CallId,
        line: LineId,
        /// Whether the model asked for it (a `ConnectionDeleted` follows).
        report: bool,
    },
}

/// Why a line is audited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum AuditWhy {
    /// `Command::Audit`: report `LineStatus`.
    Model,
    /// Start-up or restart: report `LineStatus`, then arm.
    Sync,
    /// A re-arm failed: report the hook change if any, then arm.
    Resync,
    /// A restart claim is checked: the hook and the connections the gateway still has
    /// (`F: ES,I`).
    Check,
}

impl Job {
    /// The model command behind the job, for `CommandFailed`: its line and call.
    pub(super) fn model(&self, agent: &CallAgent) -> Option<(LineId, Option<CallId>)> {
        match self {
            Self::Signal { line, .. }
            | Self::Audit {
                line,
                why: AuditWhy::Model,
            } => Some((agent.lines[*line].id.clone(), None)),
            Self::Crcx { call, line, .. } | Self::Mdcx { call, line, .. } => {
                Some((line.clone(), Some(*call)))
            }
            Self::Dlcx {
                call,
                line,
                report: true,
            } => Some((line.clone(), Some(*call))),
            _ => None,
        }
    }
}

/// A command in flight.
#[derive(Debug)]
pub(super) struct InFlight {
    pub(super) gateway: usize,
    pub(super) job: Job,
    /// The RequestIdentifier of an RQNT.
    pub(super) request: Option<u64>,
    /// The version it was written in.
    pub(super) dialect: Dialect,
}

/// A connection, by the controller's call handle.
#[derive(Debug)]
pub(super) enum Connection {
    /// CRCX in flight; model commands about it wait here.
    Pending { deferred: Vec<Command> },
    /// Created: the specific endpoint and the gateway's ConnectionId.
    Open { endpoint: Arc<str>, id: String },
}

/// The line a model command is about, for `CommandFailed`; `*` of the gateway for a command
/// about a whole gateway.
pub(super) fn line_id(c: &Command) -> LineId {
    c.line()
        .cloned()
        .unwrap_or_else(|| LineId::new(c.gateway().clone(), "*"))
}

impl CallAgent {
    /// Turns a model command into a job (or fails it at once).
    pub(super) fn model_command(
        &mut self,
        now: Instant,
        g: usize,
        line: Option<usize>,
        command: Command,
    ) {
        let _ = now;
        if matches!(self.gateways[g].service, Service::Unreachable { .. }) {
            self.stats.refused_unreachable += 1;
            let call = command.call();
            self.fail(line_id(&command), call, 0, "gateway unreachable");
            return;
        }
        let job = match (command, line) {
            (
                Command::Ring {
                    cadence, caller_id, ..
                },
                Some(line),
            ) => Job::Signal {
                line,
                change: SignalChange::Ring { cadence, caller_id },
            },
            (Command::StopRing { .. }, Some(line)) => Job::Signal {
                line,
                change: SignalChange::StopRing,
            },
            (Command::PlayTone { tone, .. }, Some(line)) => Job::Signal {
                line,
                change: SignalChange::Tone(tone),
            },
            (Command::StopTone { .. }, Some(line)) => Job::Signal {
                line,
                change: SignalChange::StopTone,
            },
            (Command::CollectDigits { map, .. }, Some(line)) => Job::Signal {
                line,
                change: SignalChange::Collect(map),
            },
            (
                c @ (Command::Seize { .. }
                | Command::Dial { .. }
                | Command::Answer { .. }
                | Command::Release { .. }),
                Some(line),
            ) => match self.trunk_job(line, c) {
                Some(job) => job,
                None => return,
            },
            (Command::Audit { .. }, Some(line)) => Job::Audit {
                line,
                why: AuditWhy::Model,
            },
            (
                Command::CreateConnection {
                    line,
                    call,
                    mode,
                    codec,
                    ptime,
                    remote,
                },
                _,
            ) => {
                if self.gateways[g].connections.contains_key(&call) {
                    self.fail(line, Some(call), 0, "call handle already in use");
                    return;
                }
                self.gateways[g].connections.insert(
                    call,
                    Connection::Pending {
                        deferred: Vec::new(),
                    },
                );
                Job::Crcx {
                    call,
                    line,
                    mode,
                    codec,
                    ptime,
                    remote,
                }
            }
            (c @ (Command::ModifyConnection { .. } | Command::DeleteConnection { .. }), _) => {
                let Some(call) = c.call() else { return };
                match self.gateways[g].connections.get_mut(&call) {
                    None => {
                        let line = line_id(&c);
                        self.fail(
                            line,
                            Some(call),
                            ReturnCode::INCORRECT_CONNECTION_ID.0,
                            "unknown connection",
                        );
                        return;
                    }
                    Some(Connection::Pending { deferred }) => {
                        if deferred.len() < MAX_DEFERRED {
                            deferred.push(c);
                        } else {
                            self.stats.queue_full += 1;
                            self.fail(line_id(&c), Some(call), 0, "too many deferred commands");
                        }
                        return;
                    }
                    Some(Connection::Open { .. }) => match c {
                        Command::ModifyConnection {
                            line, mode, remote, ..
                        } => Job::Mdcx {
                            call,
                            line,
                            mode,
                            remote,
                        },
                        Command::DeleteConnection { line, .. } => Job::Dlcx {
                            call,
                            line,
                            report: true,
                        },
                        _ => return,
                    },
                }
            }
            (c, _) => {
                // Only wildcard CRCX reaches here without a line; nothing else can.
                let call = c.call();
                self.fail(
                    line_id(&c),
                    call,
                    ReturnCode::UNKNOWN_ENDPOINT.0,
                    "unknown line",
                );
                return;
            }
        };
        self.enqueue(g, job);
    }

    /// Queues a job for gateway `g`, failing model jobs when the queue is full.
    pub(super) fn enqueue(&mut self, g: usize, job: Job) {
        if self.gateways[g].queue.len() >= self.config.max_queued {
            self.stats.queue_full += 1;
            debug!(gateway = %self.gateways[g].id, "queue full");
            self.job_failed(&job, 0, "call agent queue full");
            self.job_dropped(&job);
            return;
        }
        self.gateways[g].queue.push_back(job);
    }

    /// Asks for a re-arm of `line` (coalesced).
    pub(super) fn request_arm(&mut self, line: usize) {
        let g = self.lines[line].gateway;
        if matches!(self.gateways[g].service, Service::Unreachable { .. }) {
            return;
        }
        if !self.lines[line].arm_queued {
            self.lines[line].arm_queued = true;
            self.enqueue(g, Job::Arm { line });
        }
    }

    /// Asks for an audit then a re-arm of `line`, once at a time.
    pub(super) fn request_resync(&mut self, line: usize, why: AuditWhy) {
        let g = self.lines[line].gateway;
        if matches!(self.gateways[g].service, Service::Unreachable { .. }) {
            return;
        }
        if !self.lines[line].resyncing {
            self.lines[line].resyncing = true;
            self.enqueue(g, Job::Audit { line, why });
        }
    }

    /// Sends queued jobs while the gateway has room (max outstanding, send rate).
    pub(super) fn pump(&mut self, now: Instant, g: usize) {
        let interval = self
            .config
            .max_send_rate
            .map(|r| Duration::from_secs(1) / r.max(1));
        loop {
            let gw = &self.gateways[g];
            if gw.in_flight >= self.config.max_outstanding || gw.queue.is_empty() {
                return;
            }
            if gw.address.ip().is_unspecified() {
                // No address yet (a DNS name not resolved): the jobs wait for one.
                return;
            }
            if let Some(next) = gw.next_send
                && next > now
            {
                self.set_timer(next, super::Timer::Pace(g));
                return;
            }
            let Some(job) = self.gateways[g].queue.pop_front() else {
                return;
            };
            if self.send(now, g, job) {
                let gw = &mut self.gateways[g];
                gw.in_flight += 1;
                gw.next_send = interval.map(|i| now + i);
            }
        }
    }

    /// Encodes and sends one job. Returns whether a command went out.
    fn send(&mut self, now: Instant, g: usize, job: Job) -> bool {
        let mut request = None;
        let local: Arc<str> = match &job {
            Job::Arm { line } => {
                if !self.lines[*line].arm_queued {
                    trace!(line = %self.lines[*line].id, "re-arm already covered");
                    return false;
                }
                self.lines[*line].local().clone()
            }
            Job::Signal { line, change } => {
                if let Err(code) = self.lines[*line].apply(change) {
                    let id = self.lines[*line].id.clone();
                    self.fail(id, None, code.0, code.reason());
                    return false;
                }
                self.lines[*line].local().clone()
            }
            Job::Audit { line, .. } => self.lines[*line].local().clone(),
            Job::Probe => match self.gateways[g].order.first() {
                Some(&l) => self.lines[l].local().clone(),
                None => Arc::from("*"),
            },
            Job::Crcx { line, .. } => line.endpoint.clone(),
            Job::Mdcx { call, line, .. } | Job::Dlcx { call, line, .. } => {
                match self.gateways[g].connections.get(call) {
                    Some(Connection::Open { endpoint, .. }) => endpoint.clone(),
                    _ => line.endpoint.clone(),
                }
            }
        };
        // The session description is written by the codec and read back for the command to
        // borrow; the codec's own output always parses, but a failure is reported, not sent.
        let sdp_text = match &job {
            Job::Crcx {
                call,
                remote: Some(m),
                ..
            }
            | Job::Mdcx {
                call,
                remote: Some(m),
                ..
            } => sdp_for(m, call.0),
            _ => Vec::new(),
        };
        let sdp = match (!sdp_text.is_empty()).then(|| Sdp::parse(&sdp_text)) {
            None => None,
            Some(Ok(sdp)) => Some(sdp),
            Some(Err(e)) => {
                warn!(error = %e, "session description not encodable");
                self.job_failed(&job, 0, "session description not encodable");
                self.job_dropped(&job);
                return false;
            }
        };
        let addr = self.gateways[g].address;
        let domain = self.gateways[g].domain.clone();
        let dialect = self.gateways[g].dialect;
        let txid = self.tx.allocate_id();
        let acks = self.tx.take_response_acks(addr);
        let mut params: Vec<Param<'_>> = Vec::new();
        if !acks.is_empty() {
            params.push(Param::ResponseAck(acks));
        }
        let mut out = Vec::new();
        let endpoint = EndpointName {
            local: &local,
            domain: &domain,
        };
        let verb;
        // Owned values the parameters borrow.
        let x_hex;
        let call_hex;
        let conn_id;
        let ptime_text;
        let rqnt;
        match &job {
            Job::Arm { line } | Job::Signal { line, .. } => {
                let l = &mut self.lines[*line];
                l.arm_queued = false;
                let x = self.next_request;
                self.next_request += 1;
                l.issue_request(x);
                request = Some(x);
                rqnt = l.request_now();
                x_hex = format!("{x:X}");
                verb = Verb::Rqnt;
                params.push(Param::NotifiedEntity(&self.config.notified_entity));
                params.push(Param::RequestIdentifier(&x_hex));
                let collecting = rqnt.digit_map.is_some();
                if collecting {
                    l.request_has_map();
                }
                params.push(Param::RequestedEvents(
                    rqnt.events
                        .iter()
                        .map(|(p, e)| RequestedEvent {
                            name: EventName {
                                package: Some(dialect.package(p)),
                                event: e,
                                connection: None,
                            },
                            actions: vec![if collecting && *p == "D" {
                                Action::AccumulateDigitMap
                            } else {
                                Action::Notify
                            }],
                            params: None,
                        })
                        .collect(),
                ));
                if let Some(map) = &rqnt.digit_map {
                    params.push(Param::DigitMap(map.as_str()));
                }
                params.push(Param::SignalRequests(
                    rqnt.signals
                        .iter()
                        .map(|(p, s, a)| EventRef {
                            name: EventName {
                                package: Some(dialect.package(p)),
                                event: s,
                                connection: None,
                            },
                            params: a.as_deref(),
                        })
                        .collect(),
                ));
                self.stats.rqnts_sent += 1;
            }
            Job::Audit { .. } | Job::Probe => {
                verb = Verb::Auep;
                let check = matches!(
                    job,
                    Job::Audit {
                        why: AuditWhy::Check,
                        ..
                    }
                );
                params.push(Param::RequestedInfo(if check {
                    vec!["ES", "I"]
                } else {
                    vec!["ES"]
                }));
                self.stats.audits_sent += 1;
                if matches!(job, Job::Probe) {
                    self.stats.probes_sent += 1;
                }
            }
            Job::Crcx {
                call,
                mode,
                codec,
                ptime,
                ..
            } => {
                verb = Verb::Crcx;
                call_hex = format!("{:X}", call.0);
                ptime_text = ptime.as_millis().to_string();
                params.push(Param::CallId(&call_hex));
                // No `N:` here: the notified entity is sticky and every line's RQNT sets it;
                // some gateways (osmo-mgw) refuse it on CRCX with 539.
                params.push(Param::LocalConnectionOptions(vec![
                    Pair {
                        key: "p",
                        value: &ptime_text,
                    },
                    Pair {
                        key: "a",
                        value: codec.name(),
                    },
                ]));
                params.push(Param::ConnectionMode(wire_mode(*mode)));
            }
            Job::Mdcx { call, mode, .. } => {
                verb = Verb::Mdcx;
                call_hex = format!("{:X}", call.0);
                conn_id = self.connection_id(g, *call);
                params.push(Param::CallId(&call_hex));
                params.push(Param::ConnectionId(&conn_id));
                if let Some(m) = mode {
                    params.push(Param::ConnectionMode(wire_mode(*m)));
                }
            }
            Job::Dlcx { call, .. } => {
                verb = Verb::Dlcx;
                call_hex = format!("{:X}", call.0);
                conn_id = self.connection_id(g, *call);
                params.push(Param::CallId(&call_hex));
                if !conn_id.is_empty() {
                    params.push(Param::ConnectionId(&conn_id));
                }
            }
        }
        wire::Command {
            verb,
            transaction: txid,
            endpoint,
            version: dialect.version(),
            params,
            sdp,
        }
        .encode(&mut out);
        trace!(gateway = %self.gateways[g].id, verb = verb.as_str(), transaction = %txid, "command");
        if let Err(e) = self.tx.send_command(now, addr, txid, out) {
            debug!(error = %e, "command not sent");
            self.job_failed(&job, 0, "call agent overloaded");
            self.job_dropped(&job);
            return false;
        }
        self.in_flight.insert(
            txid,
            InFlight {
                gateway: g,
                job,
                request,
                dialect,
            },
        );
        true
    }

    fn connection_id(&self, g: usize, call: CallId) -> String {
        match self.gateways[g].connections.get(&call) {
            Some(Connection::Open { id, .. }) => id.clone(),
            _ => String::new(),
        }
    }

    /// Reports a model job as failed (internal jobs are not reported).
    pub(super) fn job_failed(&mut self, job: &Job, code: u16, reason: &str) {
        if let Some((line, call)) = job.model(self) {
            self.fail(line, call, code, reason);
        }
    }

    /// Undoes the bookkeeping of a job that will never be answered.
    pub(super) fn job_dropped(&mut self, job: &Job) {
        match job {
            Job::Arm { line } => self.lines[*line].arm_queued = false,
            Job::Audit { line, why } if !matches!(why, AuditWhy::Model | AuditWhy::Check) => {
                self.lines[*line].resyncing = false;
            }
            Job::Crcx { call, line, .. } => {
                let g = self.gateway_of(line);
                if let Some(g) = g {
                    self.drop_connection(g, *call, 0, "connection never created");
                }
            }
            _ => {}
        }
    }

    pub(super) fn gateway_of(&self, line: &LineId) -> Option<usize> {
        self.by_gateway.get(&line.gateway).copied()
    }

    /// Forgets a connection; model commands deferred on it fail with `code`.
    pub(super) fn drop_connection(&mut self, g: usize, call: CallId, code: u16, reason: &str) {
        if let Some(Connection::Pending { deferred }) = self.gateways[g].connections.remove(&call) {
            for c in deferred {
                self.fail(line_id(&c), Some(call), code, reason);
            }
        }
    }
}

fn wire_mode(m: ConnectionMode) -> Mode<'static> {
    match m {
        ConnectionMode::SendOnly => Mode::SendOnly,
        ConnectionMode::RecvOnly => Mode::RecvOnly,
        ConnectionMode::SendRecv => Mode::SendRecv,
        ConnectionMode::Inactive => Mode::Inactive,
        ConnectionMode::Loopback => Mode::Loopback,
    }
}

/// Offhook's side of the media as a session description (RFC 4566, the RFC 3435 §3.5 subset),
/// written by the codec: the codec's static payload type, then the telephone-event one with
/// its `a=rtpmap` and `a=fmtp:<pt> 0-15` (RFC 4733), and `a=ptime`.
fn sdp_for(m: &Media, session: u64) -> Vec<u8> {
    let mut payload_types = vec![m.codec.payload_type()];
    payload_types.extend(m.telephone_event);
    let mut text = Vec::new();
    AudioDescription {
        address: m.address,
        payload_types,
        ptime: u32::try_from(m.ptime.as_millis()).ok(),
        telephone_event: m.telephone_event,
    }
    .write(&mut text, session);
    text
}
