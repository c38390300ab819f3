//! Requests from gateways: registrations and other service changes, and notifications.

use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::build::{key_of_digit, key_of_event};
use super::jobs::Job;
use super::{MediaGatewayController, Peer, REQUEST_ID_WINDOW, Service};
use crate::megaco::encoding;
use crate::megaco::transaction::RequestOutcome;
use crate::megaco::{
    ActionReply, Body, Command as MCommand, ContextId, Descriptor, ErrorCode, ErrorDescriptor,
    EventSpecParm, Message, ObservedEvent, ParmValue, ReplyResult, RequestId, ServiceChangeMethod,
    ServiceChangeParm, Transaction, TransactionReply, TransactionRequest, Verb,
};
use crate::model::{Digit, DownReason, Event};

/// What one command of a request came to: the reply command, or an error that ends its
/// action.
type Answer<'a> = Result<MCommand<'a>, ErrorDescriptor<'static>>;

impl MediaGatewayController {
    /// A request from a gateway: executed once (the transaction layer answers duplicates),
    /// answered at once.
    pub(super) fn on_request(
        &mut self,
        now: Instant,
        g: usize,
        peer: Peer,
        request: &TransactionRequest<'_>,
    ) {
        if self
            .transactions
            .handle_request(now, peer.addr, peer.reliable, request.id)
            == RequestOutcome::Duplicate
        {
            return;
        }
        self.hold = true;
        let mut replies = Vec::with_capacity(request.actions.len());
        for action in &request.actions {
            let mut commands = Vec::with_capacity(action.commands.len());
            let mut error = None;
            for c in &action.commands {
                match self.execute(now, g, action.context, &c.command) {
                    Ok(reply) => commands.push(reply),
                    Err(e) => {
                        error = Some(e);
                        break;
                    }
                }
            }
            let failed = error.is_some();
            replies.push(ActionReply {
                context: action.context,
                properties: Vec::new(),
                commands,
                error,
            });
            // H.248.1 §8.2.2: the actions after a failed one are not executed.
            if failed {
                break;
            }
        }
        let acks = self.transactions.take_response_acks(peer.addr);
        let mut transactions = vec![Transaction::Reply(TransactionReply {
            id: request.id,
            imm_ack_required: false,
            result: ReplyResult::Actions(replies),
        })];
        if !acks.is_empty() {
            transactions.push(Transaction::ResponseAck(acks));
        }
        let message = Message {
            version: 1,
            mid: self.own.message_id(),
            body: Body::Transactions(transactions),
        };
        let mut out = Vec::new();
        match encoding::encode(&message, peer.encoding, &mut out) {
            Ok(()) => {
                self.transactions
                    .send_reply(now, peer.addr, peer.reliable, request.id, out, false)
            }
            Err(e) => {
                self.stats.encode_failures += 1;
                warn!(error = %e, "reply not sent");
            }
        }
        // Now what the request caused.
        self.hold = false;
        if std::mem::take(&mut self.gateways[g].audit_wanted) {
            self.audit_root(now, g);
        }
        for l in 0..self.gateways[g].lines.len() {
            if !self.gateways[g].lines[l].queue.is_empty() {
                self.next_job(now, g, l);
            }
        }
        self.drain_transaction_events(now);
    }

    fn execute<'a>(
        &mut self,
        now: Instant,
        g: usize,
        context: ContextId,
        command: &MCommand<'a>,
    ) -> Answer<'a> {
        let echo = MCommand {
            verb: command.verb,
            termination: command.termination,
            descriptors: Vec::new(),
        };
        match command.verb {
            Verb::ServiceChange => {
                self.service_change(now, g, command)?;
                Ok(echo)
            }
            Verb::Notify => {
                self.stats.notifies += 1;
                self.notify(now, g, context, command)?;
                Ok(echo)
            }
            _ => {
                self.stats.commands_refused += 1;
                Err(ErrorDescriptor {
                    code: ErrorCode::NOT_IMPLEMENTED,
                    text: Some("a media gateway controller does not take this command"),
                })
            }
        }
    }

    fn service_change(
        &mut self,
        now: Instant,
        g: usize,
        command: &MCommand<'_>,
    ) -> Result<(), ErrorDescriptor<'static>> {
        let parms = command
            .descriptors
            .iter()
            .find_map(|d| match d {
                Descriptor::ServiceChange(p) => Some(p.as_slice()),
                _ => None,
            })
            .unwrap_or(&[]);
        let method = parms.iter().find_map(|p| match p {
            ServiceChangeParm::Method(m) => Some(*m),
            _ => None,
        });
        let delay = parms.iter().find_map(|p| match p {
            ServiceChangeParm::Delay(d) => Some(Duration::from_secs((*d).into())),
            _ => None,
        });
        let Some(method) = method else {
            return Err(ErrorDescriptor {
                code: ErrorCode::SYNTAX_ERROR_IN_COMMAND,
                text: Some("ServiceChange without a Method"),
            });
        };
        let termination = command.termination.0;
        if termination.eq_ignore_ascii_case("root") {
            let id = self.gateways[g].id.clone();
            match method {
                ServiceChangeMethod::Restart
                | ServiceChangeMethod::Failover
                | ServiceChangeMethod::Disconnected => {
                    self.stats.registrations += 1;
                    info!(gateway = %id, ?method, "media gateway registered");
                    // A restart loses every context; a failover or a reconnection keeps them.
                    if method == ServiceChangeMethod::Restart {
                        self.lose_state(g, "the media gateway restarted");
                    }
                    let was_up = self.gateways[g].service == Service::Up;
                    self.gateways[g].service = Service::Auditing;
                    if was_up {
                        // Its lines are audited and armed again when the ROOT audit answers.
                        self.events.push_back(Event::GatewayDown {
                            gateway: id,
                            reason: DownReason::Forced,
                        });
                    }
                    // What is in flight to it was sent before it registered: it may never be
                    // answered, and its timeout must not report the new registration down.
                    self.cancel_in_flight(g);
                    self.set_timer(g, None);
                    self.audit_root(now, g);
                }
                ServiceChangeMethod::Graceful => {
                    self.stats.service_losses += 1;
                    let delay = delay.unwrap_or_default();
                    self.gateway_down(
                        now,
                        g,
                        Service::Out(DownReason::Graceful(delay)),
                        DownReason::Graceful(delay),
                    );
                }
                ServiceChangeMethod::Forced => {
                    self.stats.service_losses += 1;
                    self.gateway_down(now, g, Service::Out(DownReason::Forced), DownReason::Forced);
                }
                ServiceChangeMethod::HandOff | ServiceChangeMethod::Extension(_) => {
                    return Err(ErrorDescriptor {
                        code: ErrorCode::NOT_IMPLEMENTED,
                        text: Some("this ServiceChange method is not taken from a gateway"),
                    });
                }
            }
            return Ok(());
        }
        // A line, or lines by a trailing wildcard (`aaln/*`).
        let lines: Vec<usize> = match termination.strip_suffix('*') {
            Some(prefix) => {
                let prefix = prefix.to_ascii_lowercase();
                (0..self.gateways[g].lines.len())
                    .filter(|&l| {
                        self.gateways[g].lines[l]
                            .name
                            .to_ascii_lowercase()
                            .starts_with(&prefix)
                    })
                    .collect()
            }
            None => self.find_line(g, termination).into_iter().collect(),
        };
        if lines.is_empty() {
            return Err(ErrorDescriptor {
                code: ErrorCode::UNKNOWN_TERMINATION,
                text: None,
            });
        }
        for l in lines {
            match method {
                ServiceChangeMethod::Restart
                | ServiceChangeMethod::Failover
                | ServiceChangeMethod::Disconnected => {
                    let line = &mut self.gateways[g].lines[l];
                    line.present = true;
                    if method == ServiceChangeMethod::Restart {
                        line.off_hook = false;
                        line.collect = None;
                    }
                    if line.watched && self.gateways[g].service == Service::Up {
                        self.enqueue(now, g, l, Job::AuditLine { report: true });
                        self.enqueue(now, g, l, Job::Arm);
                    }
                }
                ServiceChangeMethod::Forced | ServiceChangeMethod::Graceful => {
                    self.stats.service_losses += 1;
                    warn!(line = %self.line_id(g, l), ?method, "line out of service");
                    self.gateways[g].lines[l].present = false;
                }
                _ => {
                    return Err(ErrorDescriptor {
                        code: ErrorCode::NOT_IMPLEMENTED,
                        text: Some("this ServiceChange method is not taken for a termination"),
                    });
                }
            }
        }
        Ok(())
    }

    fn notify(
        &mut self,
        now: Instant,
        g: usize,
        _context: ContextId,
        command: &MCommand<'_>,
    ) -> Result<(), ErrorDescriptor<'static>> {
        let Some(l) = self.find_line(g, command.termination.0) else {
            self.stats.events_ignored += 1;
            return Err(ErrorDescriptor {
                code: ErrorCode::UNKNOWN_TERMINATION,
                text: None,
            });
        };
        for d in &command.descriptors {
            let Descriptor::ObservedEvents(observed) = d else {
                continue;
            };
            let current = self.gateways[g].lines[l].request_id;
            let fresh = match observed.request_id {
                RequestId::Number(r) => r <= current && current - r < REQUEST_ID_WINDOW,
                RequestId::All => false,
            };
            if !fresh || !self.gateways[g].lines[l].watched {
                self.stats.events_ignored += observed.events.len() as u64;
                debug!(line = %self.line_id(g, l), ?observed.request_id, current, "events of an old request ignored");
                continue;
            }
            let rid = match observed.request_id {
                RequestId::Number(r) => r,
                RequestId::All => 0,
            };
            for event in &observed.events {
                self.observed(now, g, l, rid, event);
            }
        }
        Ok(())
    }

    /// One observed event, of the request `rid` armed.
    fn observed(&mut self, now: Instant, g: usize, l: usize, rid: u32, event: &ObservedEvent<'_>) {
        if self.trunk_observed(now, g, l, event) {
            return;
        }
        let line_id = self.line_id(g, l);
        let line = &mut self.gateways[g].lines[l];
        let name = event.name;
        let reported = if name.eq_ignore_ascii_case("al/of") {
            (!line.off_hook).then(|| {
                line.off_hook = true;
                Event::OffHook { line: line_id }
            })
        } else if name.eq_ignore_ascii_case("al/on") {
            line.off_hook.then(|| {
                line.off_hook = false;
                line.collect = None;
                Event::OnHook { line: line_id }
            })
        } else if name.eq_ignore_ascii_case("al/fl") {
            line.off_hook.then_some(Event::HookFlash { line: line_id })
        } else if name.eq_ignore_ascii_case("dd/ce") {
            let digits = event.params.iter().find_map(|p| match p {
                EventSpecParm::Other(prop) if prop.name.eq_ignore_ascii_case("ds") => {
                    match prop.value {
                        ParmValue::Equal(v) => Some(v.trim_matches('"')),
                        _ => None,
                    }
                }
                _ => None,
            });
            let keys: Vec<Digit> = digits
                .unwrap_or("")
                .chars()
                .filter_map(key_of_digit)
                .collect();
            // Keys under a request from before the map are keys of their own; the map's
            // request and every later one (re-arms carry the map again) collect.
            let collected = line.collect.is_some() && rid.wrapping_sub(line.collect_from) < 1 << 31;
            match (
                line.off_hook,
                collected.then(|| line.collect.take()).flatten(),
            ) {
                (true, Some(_)) => Some(Event::Dialled {
                    line: line_id,
                    digits: keys,
                }),
                // Keys one by one, through the map each key completes.
                (true, None) if !keys.is_empty() => {
                    let last = keys.len() - 1;
                    for &digit in &keys[..last] {
                        self.stats.events_reported += 1;
                        self.events.push_back(Event::Digit {
                            line: line_id.clone(),
                            digit,
                        });
                    }
                    Some(Event::Digit {
                        line: line_id,
                        digit: keys[last],
                    })
                }
                _ => None,
            }
        } else if let Some(key) = key_of_event(name) {
            (line.off_hook && line.collect.is_none())
                .then(|| Digit::new(key))
                .flatten()
                .map(|digit| Event::Digit {
                    line: line_id,
                    digit,
                })
        } else {
            None
        };
        let Some(reported) = reported else {
            self.stats.events_ignored += 1;
            debug!(line = %self.line_id(g, l), event = name, "observed event ignored");
            return;
        };
        self.stats.events_reported += 1;
        // A completed digit map is armed again (an MG may stop matching once it completes).
        let rearm = matches!(
            reported,
            Event::OffHook { .. } | Event::OnHook { .. } | Event::Dialled { .. }
        ) || name.eq_ignore_ascii_case("dd/ce");
        self.events.push_back(reported);
        if rearm {
            self.enqueue(now, g, l, Job::Arm);
        }
    }
}
