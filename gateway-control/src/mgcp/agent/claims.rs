//! Restart claims checked before they are believed. MGCP has no authentication of its own
//! (RFC 3435 §5 leaves it to IPsec): whoever can send a datagram with a gateway's source
//! address can say, with `RSIP … RM: forced` (§2.3.12, §4.4.6), that the gateway or a line
//! went out of service and lost its calls. Such a claim is checked with an audit of each line
//! it names (AUEP `F: ES,I`, §2.3.10: the hook, and the connections the endpoint still has);
//! so is a graceful restart whose delay is over. See the decisions on [`CallAgent`].

use std::time::Instant;

use tracing::{debug, warn};

use super::outgoing::{AuditWhy, Connection, Job};
use super::responses::hook_from;
use super::{CallAgent, Service, Timer};
use crate::mgcp::endpoint::Hook;
use crate::mgcp::wire::{self, Param};
use crate::model::{CallId, DownReason, Event};

impl CallAgent {
    /// `RM: forced` for the whole gateway. Checked when the gateway is in service or only
    /// announced a graceful restart; believed otherwise (it is already down or starting).
    pub(super) fn forced_claim(&mut self, now: Instant, g: usize) {
        match self.gateways[g].service {
            Service::Up => self.start_check(now, g, false),
            Service::Announced(DownReason::Graceful(_)) => self.start_check(now, g, true),
            // The check under way covers it; its deadline is not pushed back.
            Service::Checking { .. } => {}
            _ => self.believe_forced(g),
        }
    }

    /// Audits every line of `g` to check a restart claim; `reported`: the gateway was already
    /// reported down, so a refuted claim reports it up.
    fn start_check(&mut self, now: Instant, g: usize, reported: bool) {
        if self.gateways[g].order.is_empty() {
            // Nothing to audit: believed.
            self.believe_forced(g);
            return;
        }
        debug!(gateway = %self.gateways[g].id, "restart claim: checking every line");
        self.cancel_probe(g);
        self.gateways[g].service = Service::Checking { reported };
        self.gateways[g].unchecked = self.gateways[g].order.iter().copied().collect();
        for i in 0..self.gateways[g].order.len() {
            let line = self.gateways[g].order[i];
            self.enqueue(
                g,
                Job::Audit {
                    line,
                    why: AuditWhy::Check,
                },
            );
        }
        let at = now + self.config.restart_check_timeout;
        self.gateways[g].probe_at = Some((at, Timer::CheckDeadline(g)));
        self.set_timer(at, Timer::CheckDeadline(g));
    }

    /// The gateway is believed to have restarted by force: reported down once, every
    /// connection gone; it is audited again when it says `RM: restart` (or, if it stops
    /// answering, when a probe is answered).
    pub(super) fn believe_forced(&mut self, g: usize) {
        if self.gateways[g].service != Service::Announced(DownReason::Forced) {
            self.cancel_probe(g);
            self.gateways[g].service = Service::Announced(DownReason::Forced);
            self.stats.gateway_down += 1;
            let gateway = self.gateways[g].id.clone();
            self.emit(Event::GatewayDown {
                gateway,
                reason: DownReason::Forced,
            });
        }
        self.clear_connections(g, 0, "gateway restarted");
    }

    /// `RM: forced` for one line of a gateway in service: checked like the whole gateway's.
    /// Returns whether a check was queued (otherwise the claim is believed).
    pub(super) fn line_forced_claim(&mut self, g: usize, line: usize) -> bool {
        if self.gateways[g].service != Service::Up {
            return false;
        }
        self.enqueue(
            g,
            Job::Audit {
                line,
                why: AuditWhy::Check,
            },
        );
        true
    }

    /// A check audit of `line` was answered.
    pub(super) fn check_answered(&mut self, g: usize, line: usize, r: &wire::Response<'_>) {
        if self.lines[line].retired {
            return; // removed during the check, which no longer waits for it
        }
        let whole = match self.gateways[g].service {
            Service::Checking { .. } => true,
            Service::Up => false,
            // Late: the claim was already believed.
            _ => return,
        };
        if !r.code.is_success() {
            // Out of service (`501`), unknown, or it cannot say: the claim is believed.
            self.stats.restart_claims_confirmed += 1;
            debug!(line = %self.lines[line].id, code = r.code.0, "restart claim confirmed");
            if whole {
                self.gateways[g].unchecked.clear();
                self.believe_forced(g);
            } else {
                self.lose_connections(g, line, "");
                self.lines[line].arm_failures = 0;
                self.request_resync(line, AuditWhy::Sync);
            }
            return;
        }
        self.lines[line].hook_hint = None;
        if let Some(h) = hook_from(r)
            && self.lines[line].set_hook(h)
        {
            let id = self.lines[line].id.clone();
            self.emit(if h == Hook::OffHook {
                Event::OffHook { line: id }
            } else {
                Event::OnHook { line: id }
            });
        }
        let listed = wire::find(&r.params, |p| match p {
            Param::ConnectionId(ids) => Some(*ids),
            _ => None,
        })
        .unwrap_or("");
        self.lose_connections(g, line, listed);
        self.lines[line].arm_failures = 0;
        self.request_arm(line);
        if !whole {
            self.claim_refuted(g);
            return;
        }
        self.unchecked_answered(g, line);
    }

    /// `line` no longer waits for its check audit (answered in service, or removed): once no
    /// line of the check waits, the claim is refuted.
    pub(super) fn unchecked_answered(&mut self, g: usize, line: usize) {
        if !self.gateways[g].unchecked.remove(&line) || !self.gateways[g].unchecked.is_empty() {
            return;
        }
        self.cancel_probe(g);
        let reported = self.gateways[g].service == Service::Checking { reported: true };
        self.gateways[g].service = Service::Up;
        self.claim_refuted(g);
        if reported {
            self.stats.gateway_up += 1;
            let gateway = self.gateways[g].id.clone();
            self.emit(Event::GatewayUp { gateway });
        }
    }

    fn claim_refuted(&mut self, g: usize) {
        self.stats.restart_claims_refuted += 1;
        let gw = &mut self.gateways[g];
        if gw.claim_warned {
            debug!(gateway = %gw.id, "restart claim refuted");
        } else {
            gw.claim_warned = true;
            warn!(
                gateway = %gw.id,
                "restart claim refuted: the gateway answers in service (a forged RSIP?); \
                 further ones are logged at debug and counted"
            );
        }
    }

    /// Forgets the open connections of `line` whose ConnectionId is not in `keep` (a
    /// comma-separated list, as AUEP `I:` gives it), each reported lost.
    pub(super) fn lose_connections(&mut self, g: usize, line: usize, keep: &str) {
        let endpoint = self.lines[line].local().clone();
        let lost: Vec<CallId> = self.gateways[g]
            .connections
            .iter()
            .filter(|(_, c)| match c {
                Connection::Open { endpoint: e, id } => {
                    e.eq_ignore_ascii_case(&endpoint)
                        && !keep.split(',').any(|k| k.trim().eq_ignore_ascii_case(id))
                }
                Connection::Pending { .. } => false,
            })
            .map(|(call, _)| *call)
            .collect();
        for call in lost {
            self.gateways[g].connections.remove(&call);
            self.stats.connections_lost += 1;
            let id = self.lines[line].id.clone();
            self.emit(Event::ConnectionLost {
                line: id,
                call,
                reason: "restart".to_owned(),
            });
        }
    }

    /// The check's time is up with lines unanswered: the claim is believed, and the gateway,
    /// silent, is probed until it answers.
    pub(super) fn check_deadline(&mut self, now: Instant, g: usize) {
        self.cancel_probe(g);
        if !matches!(self.gateways[g].service, Service::Checking { .. }) {
            return;
        }
        self.stats.restart_claims_confirmed += 1;
        debug!(gateway = %self.gateways[g].id, "restart claim unanswered: believed");
        self.gateways[g].unchecked.clear();
        self.believe_forced(g);
        self.unreachable(now, g);
    }

    /// A graceful restart's delay is over: a gateway still in service did not go.
    pub(super) fn graceful_over(&mut self, now: Instant, g: usize) {
        self.gateways[g].probe_at = None;
        if matches!(
            self.gateways[g].service,
            Service::Announced(DownReason::Graceful(_))
        ) {
            self.start_check(now, g, true);
        }
    }
}
