//! Commands from gateways: `NTFY` (RFC 3435 §2.3.4), gateway-initiated `DLCX` (§2.3.8) and
//! `RSIP` (§2.3.12, §4.4.6). Everything else is answered `504`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::outgoing::{AuditWhy, Connection};
use super::{CallAgent, Dialect, Service, Timer};
use crate::mgcp::endpoint::dial_keys;
use crate::mgcp::transaction::CommandOutcome;
use crate::mgcp::wire::{self, AckRange, Param, RestartMethod, ReturnCode, Verb};
use crate::model::{CallId, Digit, DownReason, Event, GatewayId};

impl CallAgent {
    /// A command from gateway `g`, received from `peer`: its configured address, or another
    /// port of its IP (answered there, RFC 3435 §3.5: a response goes to the command's source).
    pub(super) fn incoming_command(
        &mut self,
        now: Instant,
        g: usize,
        peer: SocketAddr,
        c: &wire::Command<'_>,
    ) {
        let acks: &[AckRange] = wire::find(&c.params, |p| match p {
            Param::ResponseAck(v) => Some(v.as_slice()),
            _ => None,
        })
        .unwrap_or(&[]);
        if self.tx.handle_command(now, peer, c.transaction, acks) == CommandOutcome::Duplicate {
            return;
        }
        let Some(dialect) = Dialect::of(c.version) else {
            self.stats.version_answered += 1;
            self.respond(now, peer, c.transaction, ReturnCode::INCOMPATIBLE_VERSION);
            return;
        };
        self.learn_dialect(g, dialect);
        match c.verb {
            Verb::Ntfy => self.notify(now, g, peer, c),
            Verb::Dlcx => self.gateway_delete(now, g, peer, c),
            Verb::Rsip => self.restart(now, g, peer, c),
            _ => {
                self.stats.unsupported_commands += 1;
                warn!(gateway = %self.gateways[g].id, verb = c.verb.as_str(), "unsupported command");
                self.respond(now, peer, c.transaction, ReturnCode::UNSUPPORTED_COMMAND);
            }
        }
    }

    /// The line a gateway command names, or `None` after answering `500`.
    fn line_named(
        &mut self,
        now: Instant,
        g: usize,
        peer: SocketAddr,
        c: &wire::Command<'_>,
    ) -> Option<usize> {
        let key = c.endpoint.local.to_ascii_lowercase();
        let found = self.gateways[g].lines.get(key.as_str()).copied();
        if found.is_none() {
            self.stats.unknown_endpoint += 1;
            warn!(gateway = %self.gateways[g].id, endpoint = %c.endpoint, "unknown endpoint");
            self.respond(now, peer, c.transaction, ReturnCode::UNKNOWN_ENDPOINT);
        }
        found
    }

    fn notify(&mut self, now: Instant, g: usize, peer: SocketAddr, c: &wire::Command<'_>) {
        let observed_nothing = wire::find(&c.params, |p| match p {
            Param::ObservedEvents(v) => Some(v.is_empty()),
            _ => None,
        })
        .unwrap_or(true);
        if c.endpoint.local == "*" && observed_nothing {
            // A keep-alive (Cisco IOS): the gateway is there; nothing happened on a line.
            self.stats.keepalives += 1;
            self.respond(now, peer, c.transaction, ReturnCode::OK);
            self.gateway_heard(now, g);
            return;
        }
        let Some(line) = self.line_named(now, g, peer, c) else {
            return;
        };
        self.stats.notifications += 1;
        self.respond(now, peer, c.transaction, ReturnCode::OK);
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
        let mut dialled: Option<Vec<Digit>> = None;
        let collected = self.lines[line].collects_for(x);
        if self.lines[line].trunk.is_some() {
            let observed = observed.map(Vec::as_slice).unwrap_or_default();
            self.trunk_notified(now, line, observed, collected);
            self.request_arm(line);
            return;
        }
        for e in observed.into_iter().flatten() {
            if collected && let Some(keys) = dial_keys(e) {
                // A dial string collected under the digit map: reported in one piece.
                dialled.get_or_insert_with(Vec::new).extend(keys);
                continue;
            }
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
        // Hanging up in the same notification ended the collection: nothing is reported.
        if let Some(digits) = dialled
            && self.lines[line].collect.take().is_some()
        {
            self.stats.dial_strings += 1;
            let line = self.lines[line].id.clone();
            self.emit(Event::Dialled { line, digits });
        }
        // Lockstep (§4.4.1 "step"): every notification is followed by a fresh request.
        self.request_arm(line);
    }

    fn gateway_delete(&mut self, now: Instant, g: usize, peer: SocketAddr, c: &wire::Command<'_>) {
        let Some(line) = self.line_named(now, g, peer, c) else {
            return;
        };
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
        self.respond(now, peer, c.transaction, ReturnCode::DELETED);
    }

    fn restart(&mut self, now: Instant, g: usize, peer: SocketAddr, c: &wire::Command<'_>) {
        self.stats.restarts += 1;
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
            let Some(line) = self.line_named(now, g, peer, c) else {
                return;
            };
            self.respond(now, peer, c.transaction, ReturnCode::OK);
            self.line_restart(g, line, method);
            return;
        }
        self.respond(now, peer, c.transaction, ReturnCode::OK);
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

/// Messages from where no gateway was configured to be, and how gateways speak.
impl CallAgent {
    /// A message of a datagram from a configured gateway that could not be parsed: a command
    /// whose transaction id was read is answered (`528`, `504` or `510`, [`wire::ParseError::answer`]),
    /// anything else dropped. Counted either way.
    pub(super) fn malformed(&mut self, now: Instant, from: SocketAddr, e: &wire::ParseError) {
        match e.answer() {
            Some((txid, code)) => {
                if code == ReturnCode::INCOMPATIBLE_VERSION {
                    self.stats.version_answered += 1;
                } else if code == ReturnCode::UNSUPPORTED_COMMAND {
                    self.stats.unsupported_commands += 1;
                } else {
                    self.stats.malformed_answered += 1;
                }
                warn!(%from, error = %e, code = code.0, "malformed command");
                self.respond(now, from, txid, code);
            }
            None => {
                self.stats.malformed_dropped += 1;
                debug!(%from, error = %e, "unparseable message dropped");
            }
        }
    }

    /// The gateway a command from an unexpected source is for: the one whose endpoint domain
    /// it names (case-insensitively, RFC 3435 §3.2.1.3: domain names are not case-sensitive)
    /// and whose IP address it came from, on another port (if two gateways there share the
    /// domain, neither). A command naming a gateway's domain from another IP address is not
    /// taken (a gateway that moved, or a forgery) but logged, naming where the gateway is
    /// configured.
    pub(super) fn stray_command(
        &mut self,
        from: SocketAddr,
        c: &wire::Command<'_>,
    ) -> Option<usize> {
        let domain = c.endpoint.domain;
        let mut named = None;
        let mut same_ip = None;
        for (g, gw) in self.gateways.iter().enumerate() {
            if !gw.domain.eq_ignore_ascii_case(domain) {
                continue;
            }
            if gw.address.ip() != from.ip() {
                named.get_or_insert(g);
            } else if same_ip.replace(g).is_some() {
                // Two gateways on this IP with this domain (`[ip]` by default): which one
                // spoke cannot be told, so neither is taken.
                debug!(%from, %domain, "command from another port, for either of two gateways");
                return None;
            }
        }
        if let Some(g) = same_ip {
            self.heard_on_another_port(g, from);
            return Some(g);
        }
        if let Some(g) = named {
            self.stats.wrong_address += 1;
            let gw = &self.gateways[g];
            warn!(
                gateway = %gw.id,
                configured = %gw.address,
                %from,
                verb = c.verb.as_str(),
                "a command names this gateway's endpoints from another address: not taken (did the gateway move?)"
            );
        }
        None
    }

    /// The gateway a response from an unexpected source answers: the one the command in
    /// flight with its transaction id went to, if the response comes from that gateway's IP
    /// address.
    pub(super) fn stray_response(
        &mut self,
        from: SocketAddr,
        r: &wire::Response<'_>,
    ) -> Option<usize> {
        let g = self.in_flight.get(&r.transaction)?.gateway;
        if self.gateways[g].address.ip() == from.ip() {
            self.heard_on_another_port(g, from);
            return Some(g);
        }
        self.stats.wrong_address += 1;
        let gw = &self.gateways[g];
        warn!(gateway = %gw.id, configured = %gw.address, %from, "a response for this gateway came from another address: not taken");
        None
    }

    fn heard_on_another_port(&mut self, g: usize, from: SocketAddr) {
        self.stats.unexpected_source += 1;
        let gw = &mut self.gateways[g];
        if gw.stray_source != Some(from) {
            gw.stray_source = Some(from);
            warn!(
                gateway = %gw.id,
                configured = %gw.address,
                %from,
                "gateway heard from another port than configured; answering there"
            );
        }
    }

    /// Notes the version and profile gateway `g` used on a command; commands to it follow.
    pub(super) fn learn_dialect(&mut self, g: usize, dialect: Dialect) {
        let gw = &mut self.gateways[g];
        gw.version_refusals = 0;
        if gw.dialect != dialect {
            self.stats.dialect_changes += 1;
            debug!(gateway = %gw.id, from = gw.dialect.as_str(), to = dialect.as_str(), "gateway dialect");
            gw.dialect = dialect;
        }
    }
}

impl CallAgent {
    /// [`crate::model::Command::GatewayAddress`]: the gateway is now at `address`. Commands
    /// waiting go there; a gateway that had an address is audited again there (its lines may
    /// have changed while it moved). Commands in flight to the old address are left to their
    /// retransmissions and time-outs. An unknown gateway, an unspecified address, or one that
    /// another gateway has, changes nothing.
    pub(super) fn gateway_address(&mut self, now: Instant, id: &GatewayId, address: SocketAddr) {
        let Some(&g) = self.by_gateway.get(id) else {
            debug!(gateway = %id, "address for an unknown gateway");
            return;
        };
        let old = self.gateways[g].address;
        if old == address || address.ip().is_unspecified() {
            return;
        }
        if let Some(&other) = self.by_address.get(&address) {
            warn!(
                gateway = %id,
                other = %self.gateways[other].id,
                %address,
                "another gateway is configured at this address: not moved"
            );
            return;
        }
        if self.by_address.get(&old) == Some(&g) {
            self.by_address.remove(&old);
        }
        self.by_address.insert(address, g);
        let gw = &mut self.gateways[g];
        gw.address = address;
        gw.stray_source = None;
        self.stats.address_changes += 1;
        warn!(gateway = %id, from = %old, to = %address, "gateway address changed");
        if !old.ip().is_unspecified() {
            self.audit_all(now, g);
        }
        self.pump(now, g);
        self.flush(true);
    }
}
