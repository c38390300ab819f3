//! What the simulated MG says by itself: ServiceChange on ROOT to register (H.248.1 §7.2.8,
//! §11.3) and again after losing its controller (§11.5), and Notify for what its lines observed
//! (§7.2.7); and how every message is encoded.

use std::net::SocketAddr;
use std::time::Instant;

use gateway_control::megaco::encoding::{self, Encoding};
use gateway_control::megaco::{
    AckRange, ActionRequest, Body, Command, CommandRequest, ContextId, Descriptor, EventSpecParm,
    Message, ObservedEvent, ObservedEventsDescriptor, ParmValue, Property, RequestId,
    ServiceChangeAddress, ServiceChangeMethod, ServiceChangeParm, TerminationId, Transaction,
    TransactionRequest, Verb,
};
use tracing::{debug, warn};

use super::config::message_id;
use super::line::Observation;
use super::mg::{Method, Mg, Sent};
use crate::analog::Output;

/// Encodes a message of `mid` holding `transactions`, then the acknowledgements `acks`;
/// `None` (logged) when the binary encoding cannot carry it.
pub(super) fn encode(
    mid: &str,
    encoding: Encoding,
    mut transactions: Vec<Transaction<'_>>,
    acks: Vec<AckRange>,
) -> Option<Vec<u8>> {
    if !acks.is_empty() {
        transactions.push(Transaction::ResponseAck(acks));
    }
    let m = Message {
        version: 1,
        mid: message_id(mid),
        body: Body::Transactions(transactions),
    };
    let mut out = Vec::new();
    match encoding::encode(&m, encoding, &mut out) {
        Ok(()) => Some(out),
        Err(e) => {
            warn!(error = %e.0, %encoding, "message not encodable");
            None
        }
    }
}

/// The id of line `n` (`aaln/N`, or in binary `00000000/HHHHHHHH/LLLLLLLL`).
pub(crate) fn line_name(encoding: Encoding, n: u16) -> String {
    match encoding {
        Encoding::Binary => format!("00000000/{:08b}/{:08b}", n >> 8, n & 0xff),
        _ => format!("aaln/{n}"),
    }
}

/// The id of RTP termination `n` (`rtp/N`, or in binary `00000001/HHHHHHHH/LLLLLLLL`).
pub(crate) fn rtp_name(encoding: Encoding, n: u16) -> String {
    match encoding {
        Encoding::Binary => format!("00000001/{:08b}/{:08b}", n >> 8, n & 0xff),
        _ => format!("rtp/{n}"),
    }
}

impl Mg {
    /// Sends a request holding one action to the controller.
    pub(super) fn send_request(
        &mut self,
        now: Instant,
        action: ActionRequest<'_>,
        sent: Sent,
    ) -> Result<(), String> {
        let to = self.controller;
        let id = self.txn.allocate_id();
        let request = Transaction::Request(TransactionRequest {
            id,
            actions: vec![action],
        });
        let acks = self.txn.take_response_acks(to);
        let Some(bytes) = encode(&self.mid, self.config.encoding, vec![request], acks) else {
            return Err(format!("not encodable in {}", self.config.encoding));
        };
        let reliable = self.reliable();
        self.txn
            .send_request(now, to, reliable, id, bytes)
            .map_err(|e| e.to_string())?;
        self.sent.insert(id, sent);
        Ok(())
    }

    /// Sends `ServiceChange` on ROOT (H.248.1 §7.2.8, the dialogue's step 1).
    pub(crate) fn service_change(&mut self, now: Instant, method: Method) {
        let (m, reason) = match method {
            Method::Restart => (ServiceChangeMethod::Restart, "\"901 Cold Boot\""),
            Method::Disconnected => (
                ServiceChangeMethod::Disconnected,
                "\"900 Service Restored\"",
            ),
            Method::HandOff => (ServiceChangeMethod::HandOff, "\"903 MGC Directed Change\""),
        };
        let mut services = vec![ServiceChangeParm::Method(m)];
        if let Some(port) = self.config.local_port
            && self.config.mid.is_some()
        {
            services.push(ServiceChangeParm::Address(ServiceChangeAddress::Port(port)));
        }
        services.push(ServiceChangeParm::Reason(reason));
        services.push(ServiceChangeParm::Profile("ResGW", 1));
        let action = ActionRequest {
            context: ContextId::Null,
            properties: Vec::new(),
            commands: vec![CommandRequest {
                optional: false,
                wildcard_reply: false,
                command: Command {
                    verb: Verb::ServiceChange,
                    termination: TerminationId("ROOT"),
                    descriptors: vec![Descriptor::ServiceChange(services)],
                },
            }],
        };
        match self.send_request(now, action, Sent::ServiceChange(method)) {
            Ok(()) => {
                self.stats.service_changes += 1;
                self.restart_in_flight = true;
                debug!(method = method.as_str(), controller = %self.controller, "ServiceChange sent");
            }
            Err(e) => {
                warn!(error = %e, "ServiceChange not sent");
                self.restart_at = Some((now + self.config.restart_retry, method));
            }
        }
    }

    /// Sends `Notify` for what a line observed, in the context the line is in.
    pub(super) fn send_notify(&mut self, now: Instant, o: Observation) {
        let li = usize::from(o.line - 1);
        let context = self.lines[li]
            .context
            .map_or(ContextId::Null, ContextId::Number);
        self.outputs.push_back(Output::Notify {
            line: o.line,
            request: o.request_id.to_string(),
            observed: vec![o.render()],
        });
        let params = o
            .params
            .iter()
            .map(|(name, value)| {
                EventSpecParm::Other(Property {
                    name,
                    value: ParmValue::Equal(value),
                })
            })
            .collect();
        let name = self.lines[li].name.clone();
        let action = ActionRequest {
            context,
            properties: Vec::new(),
            commands: vec![CommandRequest {
                optional: false,
                wildcard_reply: false,
                command: Command {
                    verb: Verb::Notify,
                    termination: TerminationId(&name),
                    descriptors: vec![Descriptor::ObservedEvents(ObservedEventsDescriptor {
                        request_id: RequestId::Number(o.request_id),
                        events: vec![ObservedEvent {
                            timestamp: None,
                            name: &o.event,
                            params,
                        }],
                    })],
                },
            }],
        };
        match self.send_request(now, action, Sent::Notify { line: o.line }) {
            Ok(()) => self.stats.notifications += 1,
            Err(e) => {
                warn!(line = o.line, error = %e, "notify not sent");
                self.outputs.push_back(Output::Error {
                    line: Some(o.line),
                    message: format!("Notify not sent: {e}"),
                });
            }
        }
    }

    /// Later requests go to `to`.
    pub(crate) fn move_to(&mut self, to: SocketAddr) {
        self.controller = to;
    }

    /// Registers again (at the next timeout, `now`) with `method`.
    pub(crate) fn restart_later(&mut self, now: Instant, method: Method) {
        self.registered = false;
        self.restart_at = Some((now, method));
    }
}
