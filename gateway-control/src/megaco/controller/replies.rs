//! What a gateway's reply to a job means: connections made and gone, lines found missing,
//! refusals reported.

use std::time::{Duration, Instant};

use tracing::{debug, warn};

use super::{MediaGatewayController, Peer, Service};
use crate::megaco::transaction::ReplyOutcome;
use crate::megaco::{
    ActionReply, ContextId, Descriptor, ErrorCode, ErrorDescriptor, MediaParm, ReplyResult,
    TransactionReply, Verb,
};
use crate::mgcp::wire::{AudioDescription, Sdp};
use crate::model::{CallId, Codec, Event, Media};

use super::jobs::{Connection, Job};

/// What a reply said.
enum Outcome<'m, 'a> {
    Done(&'m [ActionReply<'a>]),
    Failed(ErrorDescriptor<'a>),
}

impl MediaGatewayController {
    /// A reply from a gateway.
    pub(super) fn on_reply(
        &mut self,
        now: Instant,
        g: usize,
        peer: Peer,
        reply: &TransactionReply<'_>,
    ) {
        if self.transactions.handle_reply(now, peer.addr, reply.id) != ReplyOutcome::Final {
            return;
        }
        let Some((owner, job)) = self.jobs.remove(&reply.id) else {
            self.stats.replies_unmatched += 1;
            return;
        };
        if owner != g {
            // The transaction layer matched it by address; the mId disagrees. Believe the
            // transaction's owner.
            debug!(transaction = %reply.id, "reply from another gateway's mId");
        }
        let g = owner;
        let outcome = match &reply.result {
            ReplyResult::Error(e) => Outcome::Failed(*e),
            ReplyResult::Actions(actions) => match actions.iter().find_map(|a| a.error) {
                Some(e) => Outcome::Failed(e),
                None => Outcome::Done(actions),
            },
        };
        if matches!(outcome, Outcome::Failed(_)) {
            self.stats.error_replies += 1;
        }
        if matches!(job, Job::AuditRoot) {
            self.gateways[g].auditing = false;
            // Any answer, even an error, shows it is there.
            match self.gateways[g].service {
                Service::Out(_) => {}
                _ => self.gateway_up(now, g),
            }
            return;
        }
        let Some(l) = self.gateways[g]
            .lines
            .iter()
            .position(|line| line.busy == Some(reply.id))
        else {
            return;
        };
        self.gateways[g].lines[l].busy = None;
        self.job_done(g, l, job, outcome);
        self.next_job(now, g, l);
    }

    fn job_done(&mut self, g: usize, l: usize, job: Job, outcome: Outcome<'_, '_>) {
        let line_id = self.line_id(g, l);
        let actions = match outcome {
            Outcome::Failed(e) => {
                let code = e.code;
                let text = e.text.unwrap_or("").trim_matches('"').to_owned();
                warn!(line = %line_id, code = code.0, text, "the media gateway refused a request");
                match &job {
                    Job::AuditLine { .. } if matches!(code.0, 430 | 431) => {
                        self.gateways[g].lines[l].present = false;
                    }
                    Job::Disconnect { call } => {
                        // It is gone either way.
                        self.forget_connection(g, *call);
                        self.events.push_back(Event::ConnectionDeleted {
                            line: line_id.clone(),
                            call: *call,
                        });
                        return;
                    }
                    Job::Collect { .. } => self.gateways[g].lines[l].collect = None,
                    Job::Trunk(op) => self.trunk_done(g, l, op, false),
                    _ => {}
                }
                self.events.push_back(Event::CommandFailed {
                    line: line_id,
                    call: job.call(),
                    code: code.0,
                    reason: if text.is_empty() {
                        format!("H.248 error {}", code.0)
                    } else {
                        text
                    },
                });
                return;
            }
            Outcome::Done(actions) => actions,
        };
        match job {
            Job::AuditRoot => {}
            Job::AuditLine { report } => {
                self.gateways[g].lines[l].present = true;
                if report {
                    self.events.push_back(Event::LineStatus {
                        line: line_id,
                        off_hook: self.gateways[g].lines[l].off_hook,
                    });
                }
            }
            Job::Arm | Job::Signal { .. } | Job::Collect { .. } => {}
            Job::Trunk(op) => self.trunk_done(g, l, &op, true),
            Job::Connect {
                call, codec, ptime, ..
            } => match connected(actions, &self.gateways[g].lines[l].name) {
                Ok((context, termination, local)) => {
                    let media = media_of(local, codec, ptime);
                    self.gateways[g].lines[l].context = Some(context);
                    match media {
                        Ok(local) => {
                            self.gateways[g].connections.insert(
                                call,
                                Connection {
                                    line: l,
                                    termination: termination.into(),
                                    context,
                                },
                            );
                            self.events.push_back(Event::ConnectionCreated {
                                line: line_id,
                                call,
                                local,
                            });
                        }
                        Err(why) => {
                            // Undo what the gateway made, then report.
                            self.gateways[g].connections.insert(
                                call,
                                Connection {
                                    line: l,
                                    termination: termination.into(),
                                    context,
                                },
                            );
                            self.gateways[g].lines[l]
                                .queue
                                .push_front(Job::Disconnect { call });
                            self.events.push_back(Event::CommandFailed {
                                line: line_id,
                                call: Some(call),
                                code: ErrorCode::INTERNAL_FAILURE.0,
                                reason: why,
                            });
                        }
                    }
                }
                Err(why) => {
                    self.stats.replies_unmatched += 1;
                    self.events.push_back(Event::CommandFailed {
                        line: line_id,
                        call: Some(call),
                        code: ErrorCode::INTERNAL_FAILURE.0,
                        reason: why,
                    });
                }
            },
            Job::Modify { call, .. } => {
                self.events.push_back(Event::ConnectionModified {
                    line: line_id,
                    call,
                });
            }
            Job::Disconnect { call } => {
                self.forget_connection(g, call);
                self.events.push_back(Event::ConnectionDeleted {
                    line: line_id,
                    call,
                });
            }
        }
    }

    /// Drops a connection; a line left in no connection is back in the null context, armed
    /// again there.
    fn forget_connection(&mut self, g: usize, call: CallId) {
        let Some(conn) = self.gateways[g].connections.remove(&call) else {
            return;
        };
        let still = self.gateways[g]
            .connections
            .values()
            .any(|c| c.line == conn.line);
        if !still {
            self.gateways[g].lines[conn.line].context = None;
            self.gateways[g].lines[conn.line].queue.push_front(Job::Arm);
        }
    }
}

/// The context, RTP termination and its Local SDP from the reply to a connect.
fn connected<'a>(
    actions: &[ActionReply<'a>],
    line: &str,
) -> Result<(u32, &'a str, &'a str), String> {
    let action = actions.first().ok_or("the reply has no action")?;
    let ContextId::Number(context) = action.context else {
        return Err("the reply names no context".into());
    };
    for command in &action.commands {
        if command.verb != Verb::Add || command.termination.0.eq_ignore_ascii_case(line) {
            continue;
        }
        for d in &command.descriptors {
            if let Descriptor::Media(parms) = d
                && let Some(local) = find_local(parms)
            {
                return Ok((context, command.termination.0, local));
            }
        }
        return Err(format!(
            "the reply for {} has no Local description",
            command.termination.0
        ));
    }
    Err("the reply names no RTP termination".into())
}

fn find_local<'a>(parms: &[MediaParm<'a>]) -> Option<&'a str> {
    parms.iter().find_map(|p| match p {
        MediaParm::Local(sdp) => Some(*sdp),
        MediaParm::Stream(_, inner) => find_local(inner),
        _ => None,
    })
}

/// Our view of the gateway's RTP end from its Local SDP.
fn media_of(sdp: &str, codec: Codec, ptime: Duration) -> Result<Media, String> {
    let parsed = Sdp::parse(sdp.trim().as_bytes()).map_err(|e| format!("its Local SDP: {e}"))?;
    let audio = AudioDescription::from_sdp(&parsed).map_err(|e| format!("its Local SDP: {e}"))?;
    if audio.address.ip().is_unspecified() || audio.address.port() == 0 {
        return Err("its Local SDP has no address".into());
    }
    let codec = match audio.payload_types.first() {
        Some(0) => Codec::Pcmu,
        Some(8) => Codec::Pcma,
        _ => codec,
    };
    Ok(Media {
        address: audio.address,
        codec,
        ptime: audio
            .ptime
            .map_or(ptime, |ms| Duration::from_millis(ms.into())),
        telephone_event: audio.telephone_event,
    })
}
