//! A phone's requests about calls: its INVITE (to the listen code, to another user, or a
//! re-INVITE), the ACK to our 200, BYE, CANCEL and INFO.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use gateway_control::model::{Digit, Event};
use tracing::{debug, info};

use super::{Dialog, Phase, Waiting, name_addr};
use crate::agent::{Agent, DIAL_WAIT, Notice};
use crate::sdp::{self, Direction, Session};
use crate::transaction::ServerTx;
use crate::wire::{HeaderName, Request, Response, Transport, Uri};

/// The user part of a Request-URI as dialled: `%2A97` is `*97`.
fn dialled(uri: &Uri) -> Option<String> {
    let user = uri.user.as_deref()?;
    // A `user;param` user part (RFC 3261 `user=phone` numbers) keeps only the number.
    Some(user.split(';').next().unwrap_or(user).to_owned())
}

/// A digit from an INFO body (`application/dtmf-relay`: `Signal=5`; `application/dtmf`: `5`).
fn info_digit(body: &[u8]) -> Option<Digit> {
    let text = std::str::from_utf8(body).ok()?;
    let value = text
        .lines()
        .find_map(|l| {
            let (k, v) = l.split_once('=')?;
            k.trim().eq_ignore_ascii_case("signal").then_some(v.trim())
        })
        .or_else(|| Some(text.trim()))?;
    let mut chars = value.chars();
    let c = chars.next()?;
    if chars.next().is_some() {
        // `Signal=10` and `11` are `*` and `#` in some phones' relay format.
        return match value {
            "10" => Digit::new('*'),
            "11" => Digit::new('#'),
            _ => None,
        };
    }
    Digit::new(c)
}

impl Agent {
    /// An INVITE from a phone: a re-INVITE in a call, a call to the listen code, or a call to
    /// another user.
    pub(in crate::agent) fn on_invite(
        &mut self,
        now: Instant,
        tx: Option<ServerTx>,
        from: SocketAddr,
        transport: Transport,
        invite: Request,
    ) {
        let Some(tx) = tx else {
            return;
        };
        let has_to_tag = invite.headers.to().ok().is_some_and(|t| t.tag().is_some());
        if has_to_tag {
            return self.reinvite(now, tx, &invite);
        }
        let Some(user) = self.authenticate(now, Some(tx), from, &invite) else {
            return;
        };
        if self.calls.setting_up() >= self.config.max_calls_setting_up {
            self.calls.stats.shed += 1;
            let mut r = self.simple(&invite, 503, None);
            r.headers.push(HeaderName::RetryAfter, "1");
            return self.transactions.respond(now, tx, r);
        }
        let user: Arc<str> = Arc::from(user.as_str());
        let watched = self.lines.get(&user).is_some_and(|l| l.watched);
        if !watched {
            let r = self.simple(&invite, 480, None);
            return self.transactions.respond(now, tx, r);
        }
        if self.calls.dialogs.contains_key(&user)
            || self.calls.waiting.contains_key(&user)
            || self.calls.rings.contains_key(&user)
        {
            let r = self.simple(&invite, 486, None);
            return self.transactions.respond(now, tx, r);
        }
        let Some(target) = dialled(&invite.uri) else {
            let r = self.simple(&invite, 404, None);
            return self.transactions.respond(now, tx, r);
        };
        // The transaction layer has answered `100 Trying` already.
        if target == self.config.listen_code {
            self.calls.stats.dial_in += 1;
            info!(user = %user, "a phone dialled in to listen");
            self.start_incoming(&user, tx, invite, from, transport);
            self.events.push_back(Event::OffHook {
                line: self.line_id(&user),
            });
        } else {
            self.calls.stats.dialled += 1;
            info!(user = %user, target, "a phone dialled a user");
            self.notices.push_back(Notice::Dialled {
                line: self.line_id(&user),
                user: user.to_string(),
                target,
            });
            self.calls.waiting.insert(
                user,
                Waiting {
                    tx,
                    invite,
                    from,
                    transport,
                    deadline: now + DIAL_WAIT,
                },
            );
        }
    }

    pub(super) fn accept_waiting(&mut self, now: Instant, user: &Arc<str>, w: Waiting) {
        let _ = now;
        self.calls.stats.answered += 1;
        self.start_incoming(user, w.tx, w.invite, w.from, w.transport);
        self.events.push_back(Event::OffHook {
            line: self.line_id(user),
        });
    }

    /// A dialog for a phone's INVITE, waiting for the station's connection.
    fn start_incoming(
        &mut self,
        user: &Arc<str>,
        tx: ServerTx,
        invite: Request,
        from: SocketAddr,
        transport: Transport,
    ) {
        let local_tag = self.token();
        let strip = crate::agent::without_tag;
        let (remote, remote_tag) = invite
            .headers
            .from()
            .map(strip)
            .unwrap_or_else(|_| (name_addr(invite.uri.clone()), String::new()));
        let (local, _) = invite
            .headers
            .to()
            .map(strip)
            .unwrap_or_else(|_| (name_addr(invite.uri.clone()), String::new()));
        let target =
            crate::agent::contact_uri(&invite.headers).unwrap_or_else(|| remote.uri.clone());
        let call_id = invite.headers.call_id().unwrap_or_default().to_owned();
        let sdp_session = self.rng_session();
        self.calls.dialogs.insert(
            user.clone(),
            Dialog {
                call_id,
                local_tag,
                remote_tag,
                local,
                remote,
                target,
                peer: from,
                transport,
                local_cseq: 0,
                phase: Phase::AwaitingConnectionForAnswer { tx, invite },
                connection: None,
                caps: None,
                sdp_session,
                sdp_version: 1,
                ack: None,
                invite_tx: None,
            },
        );
    }

    /// A re-INVITE (hold, resume, a session refresh): answered from the call's media.
    fn reinvite(&mut self, now: Instant, tx: ServerTx, invite: &Request) {
        let user = invite
            .headers
            .call_id()
            .and_then(|c| self.calls.by_call_id(c));
        let Some(user) = user else {
            let r = self.simple(invite, 481, None);
            return self.transactions.respond(now, tx, r);
        };
        let d = self.calls.dialogs.get_mut(&user).expect("found by call id");
        let (Some(caps), Phase::Confirmed) = (d.caps.clone(), &d.phase) else {
            let r = Response::to_request(invite, 491, "Request Pending", None);
            return self.transactions.respond(now, tx, r);
        };
        d.sdp_version += 1;
        let (session_id, version) = (d.sdp_session, d.sdp_version);
        let transport = d.transport;
        let local = self.contact_value(transport);
        let offer = Session::parse(&invite.body).ok();
        let mut ok = Response::to_request(invite, 200, "OK", None);
        ok.headers.push(HeaderName::Contact, local);
        ok.headers.push(HeaderName::ContentType, "application/sdp");
        match offer.map(|o| sdp::answer(&o, &caps, session_id, version)) {
            Some(Ok((session, negotiated))) => {
                debug!(user = %user, on_hold = negotiated.on_hold, "re-INVITE");
                ok.body = session.encode().into_bytes();
            }
            Some(Err(_)) => {
                let r = Response::to_request(invite, 488, "Not Acceptable Here", None);
                return self.transactions.respond(now, tx, r);
            }
            None => {
                ok.body = sdp::offer(&caps, session_id, version, Direction::SendRecv)
                    .encode()
                    .into_bytes();
            }
        }
        self.transactions.respond(now, tx, ok);
    }

    /// The ACK to our 200 (a phone's call): the call is up; its answer, when we offered.
    pub(in crate::agent) fn on_ack(&mut self, _now: Instant, ack: &Request) {
        let Some(user) = ack.headers.call_id().and_then(|c| self.calls.by_call_id(c)) else {
            return;
        };
        let line = self.line_id(&user);
        let Some(d) = self.calls.dialogs.get_mut(&user) else {
            return;
        };
        if !matches!(d.phase, Phase::AwaitingAck) {
            return;
        }
        d.phase = Phase::Confirmed;
        let (Some(caps), Some(call)) = (d.caps.clone(), d.connection) else {
            return;
        };
        let ours = sdp::offer(&caps, d.sdp_session, d.sdp_version, Direction::SendRecv);
        match Session::parse(&ack.body)
            .ok()
            .map(|a| sdp::accept_answer(&ours, &a))
        {
            Some(Ok(n)) => self.events.push_back(Event::ConnectionCreated {
                line,
                call,
                local: n.remote,
            }),
            _ => {
                self.calls.stats.no_common_codec += 1;
                self.events.push_back(Event::ConnectionLost {
                    line,
                    call,
                    reason: "the phone's ACK had no usable answer".into(),
                });
            }
        }
    }

    /// BYE from the phone: the handset is down.
    pub(in crate::agent) fn on_bye(&mut self, now: Instant, tx: Option<ServerTx>, bye: &Request) {
        let user = bye.headers.call_id().and_then(|c| self.calls.by_call_id(c));
        let Some(user) = user else {
            let r = self.simple(bye, 481, None);
            return self.respond(now, tx, r);
        };
        let d = self.calls.take(&user).expect("found by call id");
        let r = self.simple(bye, 200, None);
        self.respond(now, tx, r);
        self.calls.stats.hangups_by_phone += 1;
        if let Some(call) = d.connection {
            self.calls.ended.insert(call, user.clone());
        }
        if let Phase::AwaitingConnectionForAnswer { tx, invite } = d.phase {
            let r = self.simple(&invite, 487, Some(&d.local_tag));
            self.transactions.respond(now, tx, r);
        }
        self.events.push_back(Event::OnHook {
            line: self.line_id(&user),
        });
    }

    /// The phone cancelled its INVITE (the layer answered the CANCEL).
    pub(in crate::agent) fn on_cancelled(&mut self, now: Instant, invite_tx: ServerTx) {
        if let Some(user) = self
            .calls
            .waiting
            .iter()
            .find(|(_, w)| w.tx == invite_tx)
            .map(|(u, _)| u.clone())
        {
            let w = self.calls.waiting.remove(&user).expect("found");
            let r = self.simple(&w.invite, 487, None);
            self.transactions.respond(now, w.tx, r);
            self.calls.stats.hangups_by_phone += 1;
            return;
        }
        let user = self
            .calls
            .dialogs
            .iter()
            .find(|(_, d)| {
                matches!(&d.phase, Phase::AwaitingConnectionForAnswer { tx, .. } if *tx == invite_tx)
            })
            .map(|(u, _)| u.clone());
        let Some(user) = user else {
            return;
        };
        let d = self.calls.take(&user).expect("found");
        if let Phase::AwaitingConnectionForAnswer { tx, invite } = d.phase {
            let r = self.simple(&invite, 487, Some(&d.local_tag));
            self.transactions.respond(now, tx, r);
        }
        self.calls.stats.hangups_by_phone += 1;
        self.events.push_back(Event::OnHook {
            line: self.line_id(&user),
        });
    }

    /// INFO in a call: a key.
    pub(in crate::agent) fn on_info(&mut self, now: Instant, tx: Option<ServerTx>, info: &Request) {
        let user = info
            .headers
            .call_id()
            .and_then(|c| self.calls.by_call_id(c));
        let Some(user) = user else {
            let r = self.simple(info, 481, None);
            return self.respond(now, tx, r);
        };
        let r = self.simple(info, 200, None);
        self.respond(now, tx, r);
        if let Some(digit) = info_digit(&info.body) {
            self.calls.stats.info_digits += 1;
            self.events.push_back(Event::Digit {
                line: self.line_id(&user),
                digit,
            });
        }
    }
}

#[cfg(test)]
mod unit {
    use super::*;
    use crate::wire::Scheme;

    #[test]
    fn info_bodies_give_their_key() {
        let d = |b: &[u8]| info_digit(b).map(Digit::as_char);
        assert_eq!(d(b"Signal=5\r\nDuration=160\r\n"), Some('5'));
        assert_eq!(d(b"signal= #\r\n"), Some('#'));
        assert_eq!(d(b"Signal=10\r\n"), Some('*'));
        assert_eq!(d(b"Signal=11\r\n"), Some('#'));
        assert_eq!(d(b"7"), Some('7'));
        assert_eq!(d(b"Signal=12\r\n"), None);
        assert_eq!(d(b"Signal=x\r\n"), None);
        assert_eq!(d(b""), None);
    }

    #[test]
    fn the_dialled_user_is_unescaped_and_without_parameters() {
        let uri = |user: &str| Uri {
            scheme: Scheme::Sip,
            user: Some(user.into()),
            host: "h".into(),
            port: None,
            params: vec![],
            headers: vec![],
        };
        assert_eq!(dialled(&uri("*97")).as_deref(), Some("*97"));
        assert_eq!(dialled(&uri("bob;user=phone")).as_deref(), Some("bob"));
    }
}
