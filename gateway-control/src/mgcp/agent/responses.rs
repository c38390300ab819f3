//! Final responses and timeouts of our commands, and the gateway service state they drive
//! (start-up, unreachable and probing, back up).

use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::outgoing::{AuditWhy, Connection, InFlight, Job};
use super::{CallAgent, Dialect, Service, Timer};
use crate::mgcp::endpoint::{Hook, SignalChange};
use crate::mgcp::transaction::ResponseOutcome;
use crate::mgcp::wire::{self, AudioDescription, Param, ReturnCode, Sdp};
use crate::model::{Codec, DownReason, Event, LineId, Media};

impl CallAgent {
    pub(super) fn incoming_response(&mut self, now: Instant, g: usize, r: &wire::Response<'_>) {
        let addr = self.gateways[g].address;
        // What is not understood is skipped; the rest of the response counts (issue 15).
        let skipped = r
            .params
            .iter()
            .filter(|p| matches!(p, Param::Unread(_) | Param::Other(..)))
            .count();
        if skipped > 0 {
            self.stats.response_lines_skipped += skipped as u64;
            debug!(gateway = %self.gateways[g].id, lines = skipped, "response lines not understood, skipped");
        }
        let ack_requested = r
            .params
            .iter()
            .any(|p| matches!(p, Param::ResponseAck(v) if v.is_empty()));
        match self
            .tx
            .handle_response(now, addr, r.transaction, r.code, ack_requested)
        {
            ResponseOutcome::Final => {}
            ResponseOutcome::Provisional | ResponseOutcome::Acknowledged => return,
            ResponseOutcome::Unmatched => {
                self.stats.unmatched_responses += 1;
                return;
            }
        }
        let Some(inf) = self.in_flight.remove(&r.transaction) else {
            self.stats.unmatched_responses += 1;
            return;
        };
        self.gateways[inf.gateway].in_flight -= 1;
        self.gateway_heard(now, g);
        if r.code == ReturnCode::INCOMPATIBLE_VERSION && self.try_next_dialect(g, inf.dialect) {
            // Sent again in the next version; not a failure of the command.
            match inf.job {
                Job::Arm { line } => self.request_arm(line),
                job => self.gateways[g].queue.push_front(job),
            }
            return;
        }
        if r.code.is_success() {
            self.gateways[g].version_refusals = 0;
        }
        self.on_final(now, inf, r);
    }

    /// A command sent in `sent` was refused `528` (incompatible version): a gateway that was
    /// never heard from (it restarted before the call agent did, and speaks NCS or 0.1) is
    /// spoken to in the next dialect, MGCP 1.0 → NCS 1.0 → MGCP 0.1, until each was refused
    /// once. Returns whether to send the command again.
    fn try_next_dialect(&mut self, g: usize, sent: Dialect) -> bool {
        let gw = &mut self.gateways[g];
        if gw.dialect != sent {
            // Already moved on by an earlier refusal: send it again in the new one.
            return true;
        }
        if usize::from(gw.version_refusals) + 1 >= Dialect::ALL.len() {
            return false;
        }
        gw.version_refusals += 1;
        let next = sent.next();
        warn!(gateway = %gw.id, from = sent.as_str(), to = next.as_str(), "gateway refused the version (528): trying the next");
        gw.dialect = next;
        self.stats.dialect_changes += 1;
        true
    }

    /// Anything answered by the gateway: it is reachable.
    pub(super) fn gateway_heard(&mut self, now: Instant, g: usize) {
        match self.gateways[g].service {
            Service::Starting => {
                self.gateways[g].service = Service::Up;
                self.stats.gateway_up += 1;
                let gateway = self.gateways[g].id.clone();
                debug!(%gateway, "gateway up");
                self.emit(Event::GatewayUp { gateway });
            }
            Service::Unreachable { .. } => {
                self.cancel_probe(g);
                self.gateways[g].service = Service::Up;
                self.stats.gateway_up += 1;
                let gateway = self.gateways[g].id.clone();
                debug!(%gateway, "gateway reachable again");
                self.emit(Event::GatewayUp { gateway });
                self.audit_all(now, g);
            }
            Service::Up | Service::Announced(_) | Service::Checking { .. } => {}
        }
    }

    pub(super) fn cancel_probe(&mut self, g: usize) {
        if let Some(t) = self.gateways[g].probe_at.take() {
            self.timers.remove(&t);
        }
    }

    /// Audits (then arms) every line of gateway `g`. A starting gateway with no line yet (its
    /// phones are given out later, from the console) is probed instead (`AUEP *`), so that it
    /// is reported up once it answers.
    pub(super) fn audit_all(&mut self, now: Instant, g: usize) {
        let _ = now;
        if self.gateways[g].order.is_empty() && self.gateways[g].service == Service::Starting {
            self.enqueue(g, Job::Probe);
        }
        for i in 0..self.gateways[g].order.len() {
            let line = self.gateways[g].order[i];
            self.lines[line].arm_failures = 0;
            self.request_resync(line, AuditWhy::Sync);
        }
    }

    fn on_final(&mut self, now: Instant, inf: InFlight, r: &wire::Response<'_>) {
        let g = inf.gateway;
        let ok = r.code.is_success();
        let reason = if r.comment.is_empty() {
            r.code.reason()
        } else {
            r.comment
        };
        match inf.job {
            Job::Arm { line } | Job::Signal { line, .. } => {
                if ok {
                    self.lines[line].arm_failures = 0;
                } else {
                    // A refused request ends a dial string being collected (a gateway without
                    // digit maps answers `519` or `522`): reported once, not sent again.
                    if let Job::Signal {
                        change: SignalChange::Trunk(_),
                        ..
                    } = &inf.job
                    {
                        self.trunk_refused(now, line);
                    }
                    let collecting = self.lines[line].collect.take().is_some();
                    if matches!(inf.job, Job::Signal { .. }) || collecting {
                        let id = self.lines[line].id.clone();
                        self.fail(id, None, r.code.0, reason);
                    }
                    let latest = self.lines[line].request == inf.request;
                    let hook_mismatch = r.code == ReturnCode::ALREADY_OFF_HOOK
                        || r.code == ReturnCode::ALREADY_ON_HOOK;
                    if latest || hook_mismatch {
                        self.arm_failed(now, line, r.code);
                    }
                }
            }
            Job::Audit {
                line,
                why: AuditWhy::Check,
            } => self.check_answered(g, line, r),
            Job::Audit { line, why } => {
                if why != AuditWhy::Model {
                    self.lines[line].resyncing = false;
                }
                if self.lines[line].retired {
                    // Removed while the audit was out: nothing to report or arm.
                    return;
                }
                if !ok {
                    if why == AuditWhy::Model {
                        let id = self.lines[line].id.clone();
                        self.fail(id, None, r.code.0, reason);
                    } else {
                        self.audit_failed(now, line, r.code);
                    }
                    return;
                }
                self.lines[line].hook_hint = None;
                let audited = hook_from(r);
                let before = self.lines[line].hook;
                let changed = match audited {
                    Some(h) => self.lines[line].set_hook(h),
                    None => false,
                };
                let id = self.lines[line].id.clone();
                let off_hook = self.lines[line].hook == Hook::OffHook;
                match why {
                    AuditWhy::Model | AuditWhy::Sync => {
                        self.emit(Event::LineStatus { line: id, off_hook });
                    }
                    AuditWhy::Resync if changed => {
                        let e = if off_hook {
                            Event::OffHook { line: id }
                        } else {
                            Event::OnHook { line: id }
                        };
                        self.emit(e);
                    }
                    AuditWhy::Resync | AuditWhy::Check => {}
                }
                if why != AuditWhy::Model || (changed && before != Hook::Unknown) {
                    self.request_arm(line);
                }
            }
            Job::Probe => {}
            Job::Crcx {
                call, line, ptime, ..
            } => {
                if !ok {
                    self.drop_connection(g, call, r.code.0, reason);
                    self.fail(line, Some(call), r.code.0, reason);
                    return;
                }
                let id = wire::find(&r.params, |p| match p {
                    Param::ConnectionId(i) => Some(*i),
                    _ => None,
                });
                let specific = wire::find(&r.params, |p| match p {
                    Param::SpecificEndpointId(e) => Some(e.local),
                    _ => None,
                });
                let endpoint = specific.unwrap_or(&line.endpoint);
                let media = r.sdp.as_ref().and_then(|s| media_of(s, ptime));
                let (Some(id), Some(local)) = (id, media) else {
                    warn!(%line, "CRCX answer without connection id or usable SDP");
                    self.drop_connection(g, call, r.code.0, "bad CRCX answer");
                    self.fail(
                        line.clone(),
                        Some(call),
                        r.code.0,
                        "answer lacks a connection id or a usable session description",
                    );
                    if let Some(id) = id {
                        // Do not leak it on the gateway.
                        self.gateways[g].connections.insert(
                            call,
                            Connection::Open {
                                endpoint: endpoint.into(),
                                id: id.to_owned(),
                            },
                        );
                        self.enqueue(
                            g,
                            Job::Dlcx {
                                call,
                                line,
                                report: false,
                            },
                        );
                    }
                    return;
                };
                let specific_line = LineId::new(self.gateways[g].id.clone(), endpoint);
                let deferred = match self.gateways[g].connections.insert(
                    call,
                    Connection::Open {
                        endpoint: specific_line.endpoint.clone(),
                        id: id.to_owned(),
                    },
                ) {
                    Some(Connection::Pending { deferred }) => deferred,
                    _ => Vec::new(),
                };
                self.emit(Event::ConnectionCreated {
                    line: specific_line,
                    call,
                    local,
                });
                for c in deferred {
                    let line = c.line().and_then(|l| self.by_line.get(l)).copied();
                    self.model_command(now, g, line, c);
                }
            }
            Job::Mdcx { call, line, .. } => {
                if ok {
                    self.emit(Event::ConnectionModified { line, call });
                } else {
                    self.fail(line, Some(call), r.code.0, reason);
                }
            }
            Job::Dlcx { call, line, report } => {
                self.gateways[g].connections.remove(&call);
                if !report {
                    return;
                }
                if ok {
                    self.emit(Event::ConnectionDeleted { line, call });
                } else {
                    self.fail(line, Some(call), r.code.0, reason);
                }
            }
        }
    }

    /// A re-arm (or the audit before one) failed: audit and try again, a bounded number of
    /// times.
    fn arm_failed(&mut self, now: Instant, line: usize, code: ReturnCode) {
        if self.lines[line].retired || !self.count_failure(now, line, code) {
            return;
        }
        // 401/402 say what the hook is; kept in case the audit cannot tell.
        self.lines[line].hook_hint = match code {
            ReturnCode::ALREADY_OFF_HOOK => Some(Hook::OffHook),
            ReturnCode::ALREADY_ON_HOOK => Some(Hook::OnHook),
            _ => None,
        };
        debug!(line = %self.lines[line].id, code = code.0, "re-arm failed: audit and retry");
        self.request_resync(line, AuditWhy::Resync);
    }

    /// A start-up or resynchronising audit failed (some gateways do not audit `ES`): arm with
    /// the best knowledge — the hook a `401`/`402` revealed, else the last known — since a
    /// wrong guess is answered `401`/`402` and corrected.
    fn audit_failed(&mut self, now: Instant, line: usize, code: ReturnCode) {
        if self.lines[line].retired || !self.count_failure(now, line, code) {
            return;
        }
        if let Some(h) = self.lines[line].hook_hint.take()
            && self.lines[line].set_hook(h)
        {
            let id = self.lines[line].id.clone();
            self.emit(if h == Hook::OffHook {
                Event::OffHook { line: id }
            } else {
                Event::OnHook { line: id }
            });
        }
        self.request_arm(line);
    }

    /// Counts a failed re-arm or audit; `false` once the line is given up for
    /// [`Config::arm_retry_interval`](super::Config::arm_retry_interval).
    fn count_failure(&mut self, now: Instant, line: usize, code: ReturnCode) -> bool {
        self.stats.arm_failures += 1;
        let l = &mut self.lines[line];
        l.arm_failures += 1;
        if l.arm_failures > self.config.max_arm_failures {
            self.stats.lines_unarmed += 1;
            warn!(line = %l.id, code = code.0, "line cannot be armed; retried later");
            let at = now + self.config.arm_retry_interval;
            self.set_timer(at, Timer::Rearm(line));
            return false;
        }
        true
    }

    /// A given-up line's retry time has come: audit and arm it again from scratch.
    pub(super) fn retry_line(&mut self, line: usize) {
        let g = self.lines[line].gateway;
        if matches!(self.gateways[g].service, Service::Unreachable { .. }) {
            return; // it is re-audited when the gateway is back
        }
        self.lines[line].arm_failures = 0;
        self.request_resync(line, AuditWhy::Resync);
    }

    /// A command got no final response.
    pub(super) fn timed_out(&mut self, now: Instant, txid: wire::TransactionId) {
        let Some(inf) = self.in_flight.remove(&txid) else {
            return;
        };
        let g = inf.gateway;
        self.gateways[g].in_flight -= 1;
        self.stats.timeouts += 1;
        debug!(gateway = %self.gateways[g].id, transaction = %txid, "command timed out");
        self.job_failed(&inf.job, 0, "timeout");
        self.job_dropped(&inf.job);
        if let Job::Dlcx { call, .. } = inf.job {
            self.gateways[g].connections.remove(&call);
        }
        match self.gateways[g].service {
            Service::Unreachable { interval } => {
                if matches!(inf.job, Job::Probe) {
                    let next = (interval * 2).min(self.config.max_probe_interval);
                    self.gateways[g].service = Service::Unreachable { interval: next };
                    self.schedule_probe(now + next, g);
                }
            }
            // A probe or a check that outlived its question (the gateway came back by
            // itself, or the claim was settled) says nothing new; a check still waited for
            // settles its claim as the deadline would.
            Service::Checking { .. }
                if matches!(
                    inf.job,
                    Job::Probe
                        | Job::Audit {
                            why: AuditWhy::Check,
                            ..
                        }
                ) =>
            {
                self.check_deadline(now, g);
            }
            _ if matches!(
                inf.job,
                Job::Probe
                    | Job::Audit {
                        why: AuditWhy::Check,
                        ..
                    }
            ) => {}
            _ => self.unreachable(now, g),
        }
        self.pump(now, g);
    }

    fn schedule_probe(&mut self, at: Instant, g: usize) {
        self.cancel_probe(g);
        self.gateways[g].probe_at = Some((at, Timer::Probe(g)));
        self.set_timer(at, Timer::Probe(g));
    }

    /// The gateway stopped answering: report it once (not again if it announced its going),
    /// fail what waits, start probing.
    pub(super) fn unreachable(&mut self, now: Instant, g: usize) {
        let interval = self.config.probe_interval;
        let announced = matches!(self.gateways[g].service, Service::Announced(_));
        self.gateways[g].service = Service::Unreachable { interval };
        let gateway = self.gateways[g].id.clone();
        if announced {
            // It said it was going: already reported down; now probe until it is back.
            debug!(%gateway, "announced-down gateway stopped answering");
        } else {
            self.stats.gateway_down += 1;
            warn!(%gateway, "gateway unreachable");
            self.emit(Event::GatewayDown {
                gateway,
                reason: DownReason::Unreachable,
            });
        }
        let queued: Vec<Job> = self.gateways[g].queue.drain(..).collect();
        for job in &queued {
            self.job_failed(job, 0, "gateway unreachable");
            self.job_dropped(job);
        }
        self.clear_connections(g, 0, "gateway unreachable");
        self.schedule_probe(now + interval, g);
    }

    /// Forgets every connection of gateway `g` (the model's `GatewayDown` says they are gone).
    pub(super) fn clear_connections(&mut self, g: usize, code: u16, reason: &str) {
        let calls: Vec<_> = self.gateways[g].connections.keys().copied().collect();
        for call in calls {
            self.drop_connection(g, call, code, reason);
        }
    }

    /// The probe timer fired.
    pub(super) fn probe(&mut self, now: Instant, g: usize) {
        self.gateways[g].probe_at = None;
        if matches!(self.gateways[g].service, Service::Unreachable { .. }) {
            self.gateways[g].queue.push_front(Job::Probe);
            self.pump(now, g);
        }
    }
}

/// The hook state from an AUEP answer's `ES:` (EventStates).
pub(super) fn hook_from(r: &wire::Response<'_>) -> Option<Hook> {
    let states = wire::find(&r.params, |p| match p {
        Param::EventStates(v) => Some(v),
        _ => None,
    })?;
    states.iter().find_map(|e| {
        let pkg_ok = e.name.package.is_none_or(|p| p.eq_ignore_ascii_case("L"));
        match e.name.event {
            ev if pkg_ok && ev.eq_ignore_ascii_case("hd") => Some(Hook::OffHook),
            ev if pkg_ok && ev.eq_ignore_ascii_case("hu") => Some(Hook::OnHook),
            _ => None,
        }
    })
}

/// The gateway's side of the media, from its session description as the codec reads it
/// ([`AudioDescription::from_sdp`]: the first `m=audio` stream, media-level `c=` over
/// session-level, IPv4 or IPv6): the first G.711 payload type offered, `a=ptime` when it is
/// 1–1000 ms (else `default_ptime`, what the CRCX asked for), and the telephone-event type.
fn media_of(sdp: &Sdp<'_>, default_ptime: Duration) -> Option<Media> {
    let audio = match AudioDescription::from_sdp(sdp) {
        Ok(a) => a,
        Err(e) => {
            debug!(error = %e, "unusable session description");
            return None;
        }
    };
    let codec = audio.payload_types.iter().find_map(|pt| match pt {
        0 => Some(Codec::Pcmu),
        8 => Some(Codec::Pcma),
        _ => None,
    })?;
    let ptime = audio
        .ptime
        .filter(|ms| (1..=1000).contains(ms))
        .map_or(default_ptime, |ms| Duration::from_millis(ms.into()));
    Some(Media {
        address: audio.address,
        codec,
        ptime,
        telephone_event: audio.telephone_event,
    })
}
