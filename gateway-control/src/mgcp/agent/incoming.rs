//! Commands from gateways: `NTFY` (RFC 3435 §2.3.4), gateway-initiated `DLCX` (§2.3.8) and
//! `RSIP` (§2.3.12, §4.4.6). Everything else is answered `504`.

use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::outgoing::{AuditWhy, Connection};
use super::{CallAgent, Service, Timer};
use crate::mgcp::transaction::CommandOutcome;
use crate::mgcp::wire::{self, AckRange, Param, RestartMethod, ReturnCode, Verb};
use crate::model::{CallId, DownReason, Event};

impl CallAgent {
    pub(super) fn incoming_command(&mut self, now: Instant, g: usize, c: &wire::Command<'_>) {
        let addr = self.gateways[g].address;
        let acks: &[AckRange] = wire::find(&c.params, |p| match p {
            Param::ResponseAck(v) => Some(v.as_slice()),
            _ => None,
        })
        .unwrap_or(&[]);
        if self.tx.handle_command(now, addr, c.transaction, acks) == CommandOutcome::Duplicate {
            return;
        }
        if c.version.major != 1 || c.version.minor != 0 {
            self.stats.version_answered += 1;
            self.respond(now, addr, c.transaction, ReturnCode::INCOMPATIBLE_VERSION);
            return;
        }
        match c.verb {
            Verb::Ntfy => self.notify(now, g, c),
            Verb::Dlcx => self.gateway_delete(now, g, c),
            Verb::Rsip => self.restart(now, g, c),
            _ => {
                self.stats.unsupported_commands += 1;
                warn!(gateway = %self.gateways[g].id, verb = c.verb.as_str(), "unsupported command");
                self.respond(now, addr, c.transaction, ReturnCode::UNSUPPORTED_COMMAND);
            }
        }
    }

    /// The line a gateway command names, or `None` after answering `500`.
    fn line_named(&mut self, now: Instant, g: usize, c: &wire::Command<'_>) -> Option<usize> {
        let key = c.endpoint.local.to_ascii_lowercase();
        let found = self.gateways[g].lines.get(key.as_str()).copied();
        if found.is_none() {
            self.stats.unknown_endpoint += 1;
            let addr = self.gateways[g].address;
            warn!(gateway = %self.gateways[g].id, endpoint = %c.endpoint, "unknown endpoint");
            self.respond(now, addr, c.transaction, ReturnCode::UNKNOWN_ENDPOINT);
        }
        found
    }

    fn notify(&mut self, now: Instant, g: usize, c: &wire::Command<'_>) {
        let observed_nothing = wire::find(&c.params, |p| match p {
            Param::ObservedEvents(v) => Some(v.is_empty()),
            _ => None,
        })
        .unwrap_or(true);
        if c.endpoint.local == "*" && observed_nothing {
            // A keep-alive (Cisco IOS): the gateway is there; nothing happened on a line.
            self.stats.keepalives += 1;
            let addr = self.gateways[g].address;
            self.respond(now, addr, c.transaction, ReturnCode::OK);
            self.gateway_heard(now, g);
            return;
        }
        let Some(line) = self.line_named(now, g, c) else {
            return;
        };
        self.stats.notifications += 1;
        let addr = self.gateways[g].address;
        self.respond(now, addr, c.transaction, ReturnCode::OK);
        self.gateway_heard(now, g);
        let x = wire::find(&c.params, |p| match p {
            Param::RequestIdentifier(x) => Some(*x),
            _ => None,
        });
        if !self.lines[line].is_current(x) {
            self.stats.stale_notifications += 1;
            debug!(line = %self.lines[line].id, request = ?x, "notification for a request that is not current");
        }
        self.lines[line].notified();
        let observed = wire::find(&c.params, |p| match p {
            Param::ObservedEvents(v) => Some(v),
            _ => None,
        });
        for e in observed.into_iter().flatten() {
            match self.lines[line].observe(e) {
                Ok(Some(o)) => {
                    let ev = self.lines[line].event(o);
                    self.emit(ev);
                }
                Ok(None) => self.stats.redundant_events += 1,
                Err(_) => {
                    self.stats.unrecognised_events += 1;
                    debug!(line = %self.lines[line].id, event = e.name.event, "unrecognised event ignored");
                }
            }
        }
        // Lockstep (§4.4.1 "step"): every notification is followed by a fresh request.
        self.request_arm(line);
    }

    fn gateway_delete(&mut self, now: Instant, g: usize, c: &wire::Command<'_>) {
        let Some(line) = self.line_named(now, g, c) else {
            return;
        };
        let addr = self.gateways[g].address;
        let call = wire::find(&c.params, |p| match p {
            Param::CallId(x) => Some(*x),
            _ => None,
        })
        .and_then(|x| u64::from_str_radix(x, 16).ok())
        .map(CallId);
        let reason = wire::find(&c.params, |p| match p {
            Param::ReasonCode(r) => Some(format!("{} {}", r.code, r.text).trim().to_owned()),
            _ => None,
        })
        .unwrap_or_default();
        let endpoint = self.lines[line].local().clone();
        let calls: Vec<CallId> = match call {
            Some(call) => vec![call],
            // No call id: every connection on the endpoint.
            None => self.gateways[g]
                .connections
                .iter()
                .filter(|(_, conn)| {
                    matches!(conn, Connection::Open { endpoint: e, .. } if e.eq_ignore_ascii_case(&endpoint))
                })
                .map(|(call, _)| *call)
                .collect(),
        };
        for call in calls {
            if self.gateways[g].connections.remove(&call).is_some() {
                self.stats.connections_lost += 1;
                self.emit(Event::ConnectionLost {
                    line: self.lines[line].id.clone(),
                    call,
                    reason: reason.clone(),
                });
            } else {
                debug!(line = %self.lines[line].id, %call, "gateway deleted an unknown connection");
            }
        }
        self.respond(now, addr, c.transaction, ReturnCode::DELETED);
    }

    fn restart(&mut self, now: Instant, g: usize, c: &wire::Command<'_>) {
        self.stats.restarts += 1;
        let addr = self.gateways[g].address;
        let method = wire::find(&c.params, |p| match p {
            Param::RestartMethod(m) => Some(*m),
            _ => None,
        })
        .unwrap_or(RestartMethod::Restart);
        let delay = wire::find(&c.params, |p| match p {
            Param::RestartDelay(s) => Some(Duration::from_secs(u64::from(*s))),
            _ => None,
        })
        .unwrap_or(Duration::ZERO);
        let whole = c.endpoint.is_wildcard() || c.endpoint.local.eq_ignore_ascii_case("all");
        debug!(gateway = %self.gateways[g].id, endpoint = %c.endpoint, ?method, ?delay, "restart in progress");
        if !whole {
            let Some(line) = self.line_named(now, g, c) else {
                return;
            };
            self.respond(now, addr, c.transaction, ReturnCode::OK);
            self.line_restart(g, line, method);
            return;
        }
        self.respond(now, addr, c.transaction, ReturnCode::OK);
        let gateway = self.gateways[g].id.clone();
        match method {
            RestartMethod::Graceful => {
                if matches!(self.gateways[g].service, Service::Up | Service::Starting) {
                    // Checked when the delay is over (no delay: wait for the calls to end, at
                    // most `max_restart_delay`); a restart delay still running keeps its timer.
                    if self.gateways[g].probe_at.is_none() {
                        let max = self.config.max_restart_delay;
                        let after = if delay.is_zero() { max } else { delay.min(max) };
                        let at = now + after;
                        self.gateways[g].probe_at = Some((at, Timer::GracefulOver(g)));
                        self.set_timer(at, Timer::GracefulOver(g));
                    }
                    self.gateways[g].service = Service::Announced(DownReason::Graceful(delay));
                    self.stats.gateway_down += 1;
                    self.emit(Event::GatewayDown {
                        gateway,
                        reason: DownReason::Graceful(delay),
                    });
                }
            }
            RestartMethod::Forced => self.forced_claim(now, g),
            RestartMethod::Restart => {
                if matches!(
                    self.gateways[g].service,
                    Service::Up | Service::Announced(DownReason::Graceful(_))
                ) {
                    self.stats.gateway_down += 1;
                    self.emit(Event::GatewayDown {
                        gateway,
                        reason: DownReason::Forced,
                    });
                }
                self.clear_connections(g, 0, "gateway restarted");
                self.cancel_probe(g);
                self.gateways[g].service = Service::Starting;
                let delay = delay.min(self.config.max_restart_delay);
                if delay.is_zero() {
                    self.audit_all(now, g);
                } else {
                    let at = now + delay;
                    self.gateways[g].probe_at = Some((at, Timer::Restart(g)));
                    self.set_timer(at, Timer::Restart(g));
                }
            }
            RestartMethod::Disconnected => {
                if matches!(self.gateways[g].service, Service::Unreachable { .. }) {
                    self.cancel_probe(g);
                    self.gateways[g].service = Service::Starting;
                }
                self.audit_all(now, g);
            }
            RestartMethod::CancelGraceful => {
                if matches!(
                    self.gateways[g].service,
                    Service::Announced(DownReason::Graceful(_))
                ) {
                    self.cancel_probe(g);
                    self.gateways[g].service = Service::Up;
                    self.stats.gateway_up += 1;
                    self.emit(Event::GatewayUp { gateway });
                }
            }
            RestartMethod::Other(m) => {
                debug!(gateway = %self.gateways[g].id, method = m, "unknown restart method ignored");
            }
        }
    }

    /// RSIP for one line: its connections are gone after a restart, or a forced restart that
    /// its check confirmed (or that comes while the gateway is not in service); it is audited
    /// and armed again.
    fn line_restart(&mut self, g: usize, line: usize, method: RestartMethod<'_>) {
        if method == RestartMethod::Forced && self.line_forced_claim(g, line) {
            return;
        }
        if matches!(method, RestartMethod::Forced | RestartMethod::Restart) {
            self.lose_connections(g, line, "");
        }
        if matches!(
            method,
            RestartMethod::Forced | RestartMethod::Restart | RestartMethod::Disconnected
        ) {
            self.lines[line].arm_failures = 0;
            self.request_resync(line, AuditWhy::Sync);
        }
    }
}
