//! What the controller asks of gateways: model commands turned into jobs, one request per job,
//! one job in flight per line, and what each reply means.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::debug;

use super::build::tone_signal;
use super::{MediaGatewayController, Service};
use crate::megaco::encoding;
use crate::megaco::transaction::Event as TxEvent;
use crate::megaco::{Body, ErrorCode, Message, Transaction, TransactionId};
use crate::model::{CallId, Codec, Command, ConnectionMode, DigitMap, DownReason, Event, Media};

/// A connection: an ephemeral RTP termination in the line's context.
#[derive(Debug, Clone)]
pub(super) struct Connection {
    pub(super) line: usize,
    /// The RTP termination's id, as the gateway named it.
    pub(super) termination: Box<str>,
    pub(super) context: u32,
}

/// One request to a gateway.
#[derive(Debug, Clone)]
pub(super) enum Job {
    /// `AuditValue` on ROOT: registration check, keep-alive or probe (not on a line queue).
    AuditRoot,
    /// `AuditValue` on the line; `report`: its answer is reported as [`Event::LineStatus`] once
    /// the line is armed.
    AuditLine { report: bool },
    /// `Modify` of the line's Events for its hook state (and digit collection).
    Arm,
    /// `Modify` of the line's Signals: one signal, or none to stop them.
    Signal { signal: Option<&'static str> },
    /// Digit collection with a map.
    Collect { map: DigitMap },
    /// A new connection.
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
    Disconnect { call: CallId },
    /// A trunk's seize, dial, answer or release ([`super::trunk`]).
    Trunk(super::trunk::TrunkOp),
}

impl Job {
    pub(super) fn call(&self) -> Option<CallId> {
        match self {
            Self::Connect { call, .. } | Self::Modify { call, .. } | Self::Disconnect { call } => {
                Some(*call)
            }
            _ => None,
        }
    }
}

impl MediaGatewayController {
    /// A model command: checked, then queued as a job on its line.
    pub(super) fn command(&mut self, now: Instant, command: Command) {
        let Some(g) = self
            .gateways
            .iter()
            .position(|gw| &gw.id == command.gateway())
        else {
            self.stats.commands_failed += 1;
            if let Some(line) = command.line() {
                self.events.push_back(Event::CommandFailed {
                    line: line.clone(),
                    call: command.call(),
                    code: ErrorCode::UNKNOWN_TERMINATION.0,
                    reason: "no such media gateway is configured".into(),
                });
            }
            return;
        };
        let Some(line) = command.line() else {
            // GatewayAddress: an MG registers itself, from wherever it is.
            return;
        };
        let l = match &command {
            Command::AddLine { line } | Command::AddTrunk { line } => {
                match self.gateways[g].add_line(&line.endpoint) {
                    Some(l) if super::valid_line_name(&line.endpoint) => l,
                    _ => {
                        return self.refuse(
                            line.clone(),
                            None,
                            "too many lines or a bad termination id",
                        );
                    }
                }
            }
            _ => match self.find_line(g, &line.endpoint) {
                Some(l) if self.gateways[g].lines[l].watched => l,
                _ => {
                    return self.refuse(line.clone(), command.call(), "the line is not configured");
                }
            },
        };
        let trunk = self.gateways[g].lines[l].trunk.is_some();
        let job = match command {
            Command::Ring { line, .. } if trunk => {
                return self.refuse(line, None, "a trunk is never rung");
            }
            Command::Seize { .. }
            | Command::Dial { .. }
            | Command::Answer { .. }
            | Command::Release { .. } => match self.trunk_job(g, l, command) {
                Some(job) => job,
                None => return,
            },
            Command::Ring { .. } => Job::Signal {
                signal: Some("al/ri"),
            },
            Command::StopRing { .. } | Command::StopTone { .. } => Job::Signal { signal: None },
            Command::PlayTone { line, tone, .. } => match tone_signal(tone) {
                Some(signal) => Job::Signal {
                    signal: Some(signal),
                },
                None => {
                    self.stats.commands_failed += 1;
                    self.events.push_back(Event::CommandFailed {
                        line,
                        call: None,
                        code: ErrorCode::NOT_IMPLEMENTED.0,
                        reason: format!("H.248.1 has no signal for {tone:?}"),
                    });
                    return;
                }
            },
            Command::CreateConnection {
                call,
                mode,
                codec,
                ptime,
                remote,
                ..
            } => Job::Connect {
                call,
                mode,
                codec,
                ptime,
                remote,
            },
            Command::ModifyConnection {
                call, mode, remote, ..
            } => Job::Modify { call, mode, remote },
            Command::DeleteConnection { call, .. } => Job::Disconnect { call },
            Command::Audit { .. } => {
                self.enqueue(now, g, l, Job::AuditLine { report: true });
                Job::Arm
            }
            Command::AddLine { .. } | Command::AddTrunk { .. } => {
                let line = &mut self.gateways[g].lines[l];
                let wanted = matches!(command, Command::AddTrunk { .. });
                if wanted != line.trunk.is_some() {
                    line.trunk = wanted.then_some(super::trunk::Trunk::IDLE);
                    line.off_hook = false;
                    line.collect = None;
                }
                if self.gateways[g].service != Service::Up {
                    return; // audited and armed when it comes up
                }
                self.enqueue(now, g, l, Job::AuditLine { report: true });
                Job::Arm
            }
            Command::RemoveLine { .. } => {
                let line = &mut self.gateways[g].lines[l];
                line.watched = false;
                line.trunk = None;
                line.queue.clear();
                return;
            }
            Command::CollectDigits { map, .. } => Job::Collect { map },
            _ => return,
        };
        self.enqueue(now, g, l, job);
    }

    fn refuse(&mut self, line: crate::model::LineId, call: Option<CallId>, reason: &str) {
        self.stats.commands_failed += 1;
        self.events.push_back(Event::CommandFailed {
            line,
            call,
            code: ErrorCode::UNKNOWN_TERMINATION.0,
            reason: reason.into(),
        });
    }

    /// Queues a job on a line and sends it if the line is free.
    pub(super) fn enqueue(&mut self, now: Instant, g: usize, l: usize, job: Job) {
        let line = &mut self.gateways[g].lines[l];
        if line.queue.len() >= super::MAX_QUEUED_PER_LINE {
            self.stats.commands_failed += 1;
            self.job_failed(
                g,
                l,
                &job,
                ErrorCode::INSUFFICIENT_RESOURCES.0,
                "too many commands queued for the line",
            );
            return;
        }
        line.queue.push_back(job);
        self.next_job(now, g, l);
    }

    /// Sends the line's next job if none is in flight and the gateway can take it.
    pub(super) fn next_job(&mut self, now: Instant, g: usize, l: usize) {
        if self.hold {
            return;
        }
        loop {
            let gw = &self.gateways[g];
            if gw.lines[l].busy.is_some() {
                return;
            }
            let ready = matches!(gw.service, Service::Up) && gw.peer.is_some();
            let Some(job) = self.gateways[g].lines[l].queue.pop_front() else {
                return;
            };
            if !ready {
                self.job_failed(
                    g,
                    l,
                    &job,
                    ErrorCode::NOT_READY.0,
                    "the media gateway is not in service",
                );
                continue;
            }
            if !self.gateways[g].lines[l].present && !matches!(job, Job::AuditLine { .. }) {
                self.job_failed(
                    g,
                    l,
                    &job,
                    ErrorCode::UNKNOWN_TERMINATION.0,
                    "the media gateway has no such termination",
                );
                continue;
            }
            match self.send_job(now, g, Some(l), job) {
                Some(id) => {
                    self.gateways[g].lines[l].busy = Some(id);
                    return;
                }
                None => continue,
            }
        }
    }

    /// Audits ROOT (registration check, keep-alive, probe).
    pub(super) fn audit_root(&mut self, now: Instant, g: usize) {
        if self.gateways[g].auditing || self.gateways[g].peer.is_none() {
            return;
        }
        if self.hold {
            self.gateways[g].audit_wanted = true;
            return;
        }
        if self.send_job(now, g, None, Job::AuditRoot).is_some() {
            self.gateways[g].auditing = true;
        }
    }

    /// Encodes and sends one job; `None` (the job failed and was reported) if it could not go.
    fn send_job(
        &mut self,
        now: Instant,
        g: usize,
        l: Option<usize>,
        job: Job,
    ) -> Option<TransactionId> {
        let peer = self.gateways[g].peer?;
        let id = self.transactions.allocate_id();
        let acks = self.transactions.take_response_acks(peer.addr);
        let bytes = match self.encode_job(g, l, &job, id, acks) {
            Ok(bytes) => bytes,
            Err(why) => {
                self.stats.encode_failures += 1;
                if let Some(l) = l {
                    self.job_failed(g, l, &job, ErrorCode::INTERNAL_FAILURE.0, &why);
                }
                return None;
            }
        };
        if let Err(e) = self
            .transactions
            .send_request(now, peer.addr, peer.reliable, id, bytes)
        {
            if let Some(l) = l {
                self.job_failed(
                    g,
                    l,
                    &job,
                    ErrorCode::INSUFFICIENT_RESOURCES.0,
                    &e.to_string(),
                );
            }
            return None;
        }
        self.stats.requests_sent += 1;
        self.jobs.insert(id, (g, job));
        Some(id)
    }

    /// Forgets every request in flight to a gateway (the transaction layer stops retransmitting
    /// them); model jobs among them are reported failed.
    pub(super) fn cancel_in_flight(&mut self, g: usize) {
        let mut ids: Vec<TransactionId> = self
            .jobs
            .iter()
            .filter(|(_, (owner, _))| *owner == g)
            .map(|(id, _)| *id)
            .collect();
        ids.sort();
        for id in ids {
            self.transactions.cancel(id);
            let Some((_, job)) = self.jobs.remove(&id) else {
                continue;
            };
            if let Some(l) = self.gateways[g]
                .lines
                .iter()
                .position(|x| x.busy == Some(id))
            {
                self.gateways[g].lines[l].busy = None;
                self.job_failed(
                    g,
                    l,
                    &job,
                    ErrorCode::NOT_READY.0,
                    "the media gateway registered again",
                );
            }
        }
        self.gateways[g].auditing = false;
    }

    /// Reports a job that will not be done (model jobs only; internal ones are logged).
    pub(super) fn job_failed(&mut self, g: usize, l: usize, job: &Job, code: u16, why: &str) {
        if let Job::Trunk(op) = job {
            self.trunk_done(g, l, op, false);
        }
        let line = self.line_id(g, l);
        match job {
            Job::AuditRoot | Job::Arm => debug!(%line, why, "internal request dropped"),
            Job::Disconnect { call } => {
                self.gateways[g].connections.remove(call);
                self.events
                    .push_back(Event::ConnectionDeleted { line, call: *call });
            }
            _ => self.events.push_back(Event::CommandFailed {
                line,
                call: job.call(),
                code,
                reason: why.into(),
            }),
        }
    }

    /// What the transaction layer reported: timeouts and acks due.
    pub(super) fn drain_transaction_events(&mut self, now: Instant) {
        while let Some(event) = self.transactions.poll_event() {
            match event {
                TxEvent::TimedOut { transaction, .. } => self.timed_out(now, transaction),
                TxEvent::AcksDue { peer, ranges } => {
                    self.send_raw_transaction(peer, Transaction::ResponseAck(ranges));
                }
                // The controller answers each request as it reads it, so a request of a
                // gateway is never still executing; should one be, the gateway hears so.
                TxEvent::PendingDue { peer, transaction } => {
                    self.send_raw_transaction(peer, Transaction::Pending(transaction));
                }
            }
        }
    }

    fn timed_out(&mut self, now: Instant, id: TransactionId) {
        self.stats.timeouts += 1;
        let Some((g, job)) = self.jobs.remove(&id) else {
            return;
        };
        if matches!(job, Job::AuditRoot) {
            self.gateways[g].auditing = false;
        } else if let Some(l) = self.gateways[g]
            .lines
            .iter()
            .position(|x| x.busy == Some(id))
        {
            self.gateways[g].lines[l].busy = None;
            self.job_failed(
                g,
                l,
                &job,
                ErrorCode::NOT_READY.0,
                "the media gateway did not answer",
            );
        }
        match self.gateways[g].service {
            Service::Out(_) => {}
            _ => self.gateway_down(now, g, Service::Unreachable, DownReason::Unreachable),
        }
    }

    /// A stand-alone message of one transaction (a ResponseAck or a Pending) to a peer, in the
    /// encoding of the gateway there.
    fn send_raw_transaction(&mut self, to: SocketAddr, transaction: Transaction<'_>) {
        let encoding = self
            .gateways
            .iter()
            .find_map(|g| g.peer.filter(|p| p.addr == to))
            .map_or(encoding::Encoding::Pretty, |p| p.encoding);
        let message = Message {
            version: 1,
            mid: self.own.message_id(),
            body: Body::Transactions(vec![transaction]),
        };
        let mut out = Vec::new();
        if encoding::encode(&message, encoding, &mut out).is_ok() {
            self.transactions.send_raw(to, out);
        }
    }
}
