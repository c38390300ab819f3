//! What the station manager's commands do to a line's call: its connection (our SDP answer),
//! hanging up, a tone where there is no media to play it on.

use std::time::{Duration, Instant};

use gateway_control::model::{CallId, Event, LineId, Media, Tone};
use tracing::debug;

use super::{Phase, capabilities, refusal};
use crate::agent::Agent;
use crate::sdp::{self, Direction, Session};
use crate::wire::{HeaderName, Method, Response};

impl Agent {
    /// The station's connection: our side of the media, answered with the phone's side.
    pub(in crate::agent) fn connect(
        &mut self,
        now: Instant,
        line: &LineId,
        call: CallId,
        ours: Option<Media>,
        _ptime: Duration,
    ) {
        let fail = |agent: &mut Self, code: u16, reason: &str| {
            agent.events.push_back(Event::CommandFailed {
                line: line.clone(),
                call: Some(call),
                code,
                reason: reason.into(),
            });
        };
        let Some(ours) = ours else {
            return fail(self, 510, "a SIP call needs Offhook's side of the media");
        };
        let Some(mut d) = self.calls.dialogs.remove(&line.endpoint) else {
            return fail(self, 481, "no call on this line");
        };
        let caps = capabilities(&ours);
        let phase = std::mem::replace(&mut d.phase, Phase::Confirmed);
        match phase {
            Phase::AwaitingConnectionForAck { ok, .. } => {
                let offer = Session::parse(&ok.body).ok();
                let answer = offer
                    .as_ref()
                    .map(|o| sdp::answer(o, &caps, d.sdp_session, d.sdp_version));
                let mut ack = self.in_dialog(&mut d, Method::Ack);
                match answer {
                    Some(Ok((session, negotiated))) => {
                        ack.headers.push(HeaderName::ContentType, "application/sdp");
                        ack.body = session.encode().into_bytes();
                        d.ack = Some(self.send_ack(d.peer, d.transport, ack));
                        d.connection = Some(call);
                        d.caps = Some(caps);
                        self.events.push_back(Event::ConnectionCreated {
                            line: line.clone(),
                            call,
                            local: negotiated.remote,
                        });
                        self.calls.dialogs.insert(line.endpoint.clone(), d);
                    }
                    _ => {
                        // No offer, or nothing in common: refuse its streams, then hang up.
                        self.calls.stats.no_common_codec += 1;
                        if let Some(o) = &offer {
                            ack.headers.push(HeaderName::ContentType, "application/sdp");
                            ack.body = refusal(o).encode().into_bytes();
                        }
                        self.send_ack(d.peer, d.transport, ack);
                        self.send_bye(now, &mut d);
                        if let Some(tx) = d.invite_tx {
                            self.calls.clients.remove(&tx);
                        }
                        fail(self, 488, "the phone offered no codec Offhook takes");
                        self.events.push_back(Event::OnHook { line: line.clone() });
                    }
                }
            }
            Phase::AwaitingConnectionForAnswer { tx, invite } => {
                let mut ok = self.simple(&invite, 200, Some(&d.local_tag.clone()));
                ok.headers
                    .push(HeaderName::Contact, self.contact_value(d.transport));
                ok.headers.push(HeaderName::Allow, crate::agent::ALLOW);
                ok.headers.push(HeaderName::ContentType, "application/sdp");
                if invite.body.is_empty() {
                    // The phone wants our offer; its answer comes in the ACK.
                    let offer =
                        sdp::offer(&caps, d.sdp_session, d.sdp_version, Direction::SendRecv);
                    ok.body = offer.encode().into_bytes();
                    d.phase = Phase::AwaitingAck;
                    d.connection = Some(call);
                    d.caps = Some(caps);
                    self.transactions.respond(now, tx, ok);
                    self.calls.dialogs.insert(line.endpoint.clone(), d);
                    return;
                }
                let answer = Session::parse(&invite.body)
                    .ok()
                    .map(|o| sdp::answer(&o, &caps, d.sdp_session, d.sdp_version));
                match answer {
                    Some(Ok((session, negotiated))) => {
                        ok.body = session.encode().into_bytes();
                        self.transactions.respond(now, tx, ok);
                        d.connection = Some(call);
                        d.caps = Some(caps);
                        self.events.push_back(Event::ConnectionCreated {
                            line: line.clone(),
                            call,
                            local: negotiated.remote,
                        });
                        self.calls.dialogs.insert(line.endpoint.clone(), d);
                    }
                    _ => {
                        self.calls.stats.no_common_codec += 1;
                        let r = self.simple(&invite, 488, Some(&d.local_tag));
                        self.transactions.respond(now, tx, r);
                        fail(self, 488, "the phone offered no codec Offhook takes");
                        self.events.push_back(Event::OnHook { line: line.clone() });
                    }
                }
            }
            Phase::AwaitingAck | Phase::Confirmed => {
                d.phase = phase;
                self.calls.dialogs.insert(line.endpoint.clone(), d);
                fail(self, 400, "the call already has its connection");
            }
        }
    }

    /// The station is done with the call: hang up.
    pub(in crate::agent) fn hang_up(&mut self, now: Instant, line: &LineId, call: CallId) {
        if self.calls.ended.remove(&call).is_some() {
            self.events.push_back(Event::ConnectionDeleted {
                line: line.clone(),
                call,
            });
            return;
        }
        let matches = self
            .calls
            .dialogs
            .get(&line.endpoint)
            .is_some_and(|d| d.connection == Some(call));
        if !matches {
            self.events.push_back(Event::CommandFailed {
                line: line.clone(),
                call: Some(call),
                code: 515,
                reason: "no such connection".into(),
            });
            return;
        }
        let mut d = self.calls.take(&line.endpoint).expect("looked up above");
        self.send_bye(now, &mut d);
        self.events.push_back(Event::ConnectionDeleted {
            line: line.clone(),
            call,
        });
        self.events.push_back(Event::OnHook { line: line.clone() });
    }

    /// A tone on a SIP line: there is no media to play it on while the call waits for its
    /// connection, so the call ends (the station had nothing for the phone).
    pub(in crate::agent) fn tone(&mut self, now: Instant, line: &LineId, tone: Tone) {
        let Some(d) = self.calls.dialogs.get(&line.endpoint) else {
            return;
        };
        if d.connection.is_some() {
            debug!(%line, ?tone, "a tone during a SIP call is not played");
            return;
        }
        let mut d = self.calls.take(&line.endpoint).expect("looked up above");
        match std::mem::replace(&mut d.phase, Phase::Confirmed) {
            Phase::AwaitingConnectionForAck { ok, .. } => {
                let mut ack = self.in_dialog(&mut d, Method::Ack);
                if let Ok(offer) = Session::parse(&ok.body) {
                    ack.headers.push(HeaderName::ContentType, "application/sdp");
                    ack.body = refusal(&offer).encode().into_bytes();
                }
                self.send_ack(d.peer, d.transport, ack);
                self.send_bye(now, &mut d);
            }
            Phase::AwaitingConnectionForAnswer { tx, invite } => {
                let r = Response::to_request(&invite, 480, "No Messages", Some(&d.local_tag));
                self.transactions.respond(now, tx, r);
            }
            Phase::AwaitingAck | Phase::Confirmed => {
                self.send_bye(now, &mut d);
            }
        }
        self.events.push_back(Event::OnHook { line: line.clone() });
    }

    /// The line's station is gone: its calls end.
    pub(in crate::agent) fn end_line_calls(&mut self, now: Instant, line: &LineId) {
        if let Some(mut d) = self.calls.take(&line.endpoint) {
            match std::mem::replace(&mut d.phase, Phase::Confirmed) {
                Phase::AwaitingConnectionForAnswer { tx, invite } => {
                    let r = self.simple(&invite, 480, Some(&d.local_tag));
                    self.transactions.respond(now, tx, r);
                }
                _ => self.send_bye(now, &mut d),
            }
        }
    }
}
