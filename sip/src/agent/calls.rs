//! Calls: ringing a user's phones (forked INVITEs), the phones' own calls (dial-in), the one
//! dialog each line may have, and what the station manager's commands do to it. The phones'
//! own requests in calls are in [`incoming`], the station's commands for a call in [`station`].

mod incoming;
mod station;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use gateway_control::model::{Cadence, CallId, CallerId, Codec, Event, LineId, Media, Tone};
use tracing::{debug, info};

use super::{ACK_WAIT, Agent};
use crate::sdp::{Capabilities, Session};
use crate::transaction::{ClientTx, ServerTx};
use crate::wire::{HeaderName, Method, NameAddr, Request, Response, Scheme, Transport, Uri};

/// The most forks of one ring (a user's registered contacts are bounded by the registrar too).
const MAX_FORKS: usize = 16;

/// A line's own state besides its call.
#[derive(Debug, Default)]
pub(super) struct Line {
    /// The station manager watches it (a station exists for the user).
    pub(super) watched: bool,
}

/// The calls' counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Rings asked for.
    pub rings: u64,
    /// Rings refused at once: no phone of the user registered.
    pub no_phone: u64,
    /// Rings answered by a phone.
    pub answered: u64,
    /// Calls from phones to the listen code.
    pub dial_in: u64,
    /// Calls from phones to another user.
    pub dialled: u64,
    /// Calls the phone hung up (BYE or CANCEL).
    pub hangups_by_phone: u64,
    /// Calls we hung up (BYE).
    pub hangups_by_us: u64,
    /// Offers with no codec we take (488, or the call ended).
    pub no_common_codec: u64,
    /// Keys received as SIP INFO.
    pub info_digits: u64,
    /// Phones' calls answered 503 because [`Config::max_calls_setting_up`] were being set up.
    ///
    /// [`Config::max_calls_setting_up`]: crate::agent::Config::max_calls_setting_up
    pub shed: u64,
}

/// One INVITE of a ring, to one registered contact.
#[derive(Debug)]
struct Fork {
    tx: ClientTx,
    to: SocketAddr,
    transport: Transport,
    request: Request,
    /// A provisional response came: CANCEL may be sent.
    provisional: bool,
    /// Cancel it when it can be (after a provisional response).
    cancel: bool,
    /// A final response came (or it timed out).
    done: bool,
}

/// A ring in progress on one line.
#[derive(Debug)]
struct Ring {
    forks: Vec<Fork>,
    /// The last refusal, for the failure reported when every fork failed.
    last_failure: Option<(u16, String)>,
}

/// Where a dialog is.
#[derive(Debug)]
enum Phase {
    /// We rang and the phone answered with its offer in the 200: the ACK (with our answer)
    /// waits for the station's connection until `deadline`.
    AwaitingConnectionForAck { ok: Response, deadline: Instant },
    /// The phone called; its INVITE waits for our 200 until the station's connection comes.
    AwaitingConnectionForAnswer { tx: ServerTx, invite: Request },
    /// Our 200 went with our offer (the phone's INVITE had none): its answer comes in the ACK.
    AwaitingAck,
    /// Up.
    Confirmed,
}

/// A line's call (RFC 3261 §12).
#[derive(Debug)]
struct Dialog {
    call_id: String,
    local_tag: String,
    remote_tag: String,
    /// Our address of record in this dialog (From when we called, To when the phone did).
    local: NameAddr,
    /// The phone's (To when we called, From when it did), without the tag.
    remote: NameAddr,
    /// Where in-dialog requests go (the phone's Contact).
    target: Uri,
    peer: SocketAddr,
    transport: Transport,
    local_cseq: u32,
    phase: Phase,
    /// The station's connection, once made.
    connection: Option<CallId>,
    /// Our side of the media (from the station's connection).
    caps: Option<Capabilities>,
    /// The `o=` session id of every SDP we send in the dialog (RFC 3264 §8: only the
    /// version changes), and the version we last sent.
    sdp_session: u64,
    sdp_version: u64,
    /// The ACK we sent to the phone's 200, sent again for each retransmitted 200.
    ack: Option<Vec<u8>>,
    /// Our INVITE's transaction, when we rang.
    invite_tx: Option<ClientTx>,
}

/// A phone's call to another user, waiting for the ring on its own line.
#[derive(Debug)]
struct Waiting {
    tx: ServerTx,
    invite: Request,
    from: SocketAddr,
    transport: Transport,
    deadline: Instant,
}

/// What a client transaction belongs to.
#[derive(Debug, Clone)]
enum Owner {
    Fork(Arc<str>),
    Bye,
    Other,
}

/// Every call of every line.
#[derive(Debug, Default)]
pub(super) struct Calls {
    rings: HashMap<Arc<str>, Ring>,
    dialogs: HashMap<Arc<str>, Dialog>,
    waiting: HashMap<Arc<str>, Waiting>,
    clients: HashMap<ClientTx, Owner>,
    /// Forks cancelled before they answered, with their INVITE (a 200 that still comes is
    /// acknowledged and hung up).
    cancelling: HashMap<ClientTx, Request>,
    /// Connections whose call the phone already ended: deleting them sends nothing.
    ended: HashMap<CallId, Arc<str>>,
    pub(super) stats: CallStats,
}

impl Calls {
    /// Phones' calls waiting for the station: a ring to answer them, or its connection.
    fn setting_up(&self) -> usize {
        self.waiting.len()
            + self
                .dialogs
                .values()
                .filter(|d| matches!(d.phase, Phase::AwaitingConnectionForAnswer { .. }))
                .count()
    }

    /// Whether the line has a call.
    pub(super) fn has_call(&self, user: &str) -> bool {
        self.dialogs.contains_key(user)
    }

    fn by_call_id(&self, call_id: &str) -> Option<Arc<str>> {
        self.dialogs
            .iter()
            .find(|(_, d)| d.call_id == call_id)
            .map(|(u, _)| u.clone())
    }

    /// Ends the line's dialog: its INVITE's transaction is forgotten with it.
    fn take(&mut self, user: &str) -> Option<Dialog> {
        let d = self.dialogs.remove(user)?;
        if let Some(tx) = d.invite_tx {
            self.clients.remove(&tx);
        }
        Some(d)
    }
}

/// Our Capabilities from the station's side of the media: the station's codec first (so a
/// re-offer keeps the call's codec), then Opus (RFC 7587), then the other G.711 law. A phone
/// that prefers Opus in its offer, or takes only Opus from ours, gets an Opus call. Opus
/// takes payload type 96, or 97 should telephone-event be 96.
fn capabilities(media: &Media) -> Capabilities {
    let opus = match media.codec {
        Codec::Opus { .. } => media.codec,
        _ if media.telephone_event == Some(crate::sdp::OPUS_PAYLOAD_TYPE) => Codec::Opus {
            payload_type: crate::sdp::OPUS_PAYLOAD_TYPE + 1,
        },
        _ => Codec::Opus {
            payload_type: crate::sdp::OPUS_PAYLOAD_TYPE,
        },
    };
    let codecs = match media.codec {
        Codec::Pcmu => vec![Codec::Pcmu, opus, Codec::Pcma],
        Codec::Pcma => vec![Codec::Pcma, opus, Codec::Pcmu],
        Codec::Opus { .. } => vec![opus, Codec::Pcmu, Codec::Pcma],
    };
    Capabilities {
        address: media.address,
        codecs,
        telephone_event: media.telephone_event,
        ptime: media.ptime,
    }
}

impl Agent {
    fn local_uri(&self, user: &str) -> Uri {
        Uri {
            scheme: Scheme::Sip,
            user: Some(user.to_owned()),
            host: self.config.local.ip().to_string(),
            port: Some(self.config.local.port()),
            params: vec![],
            headers: vec![],
        }
    }

    fn contact_value(&self, transport: Transport) -> String {
        let mut uri = self.local_uri("offhook");
        if transport != Transport::Udp {
            uri.params.push((
                "transport".into(),
                Some(transport.to_string().to_lowercase()),
            ));
        }
        format!("<{uri}>")
    }

    /// Rings every registered phone of the line's user.
    pub(super) fn ring(
        &mut self,
        now: Instant,
        line: &LineId,
        cadence: Cadence,
        caller_id: Option<&CallerId>,
    ) {
        self.calls.stats.rings += 1;
        let user = line.endpoint.clone();
        // The phone's own call waiting for this ring (it dialled another user): it answers.
        if let Some(w) = self.calls.waiting.remove(&user) {
            self.accept_waiting(now, &user, w);
            return;
        }
        if self.calls.dialogs.contains_key(&user) || self.calls.rings.contains_key(&user) {
            debug!(%line, "already ringing or in a call");
            return;
        }
        let bindings: Vec<_> = self
            .registrar
            .bindings(&user)
            .iter()
            .take(MAX_FORKS)
            .map(|b| (b.contact.uri.clone(), b.source, b.transport))
            .collect();
        if bindings.is_empty() {
            self.calls.stats.no_phone += 1;
            self.events.push_back(Event::CommandFailed {
                line: line.clone(),
                call: None,
                code: 480,
                reason: "no phone of the user is registered".into(),
            });
            return;
        }
        let mut forks = Vec::new();
        for (target, to, transport) in bindings {
            let mut r = Request::new(Method::Invite, target);
            let call_id = format!("{}@{}", self.token(), self.config.local.ip());
            let from_tag = self.token();
            let display = caller_id
                .and_then(|c| c.name.clone())
                .unwrap_or_else(|| "Offhook".into());
            let from_user = caller_id
                .and_then(|c| c.number.clone())
                .unwrap_or_else(|| "offhook".into());
            let from = format!(
                "\"{}\" <{}>;tag={from_tag}",
                display.replace(['"', '\\'], ""),
                self.local_uri(&from_user)
            );
            r.headers.push(HeaderName::From, from);
            r.headers
                .push(HeaderName::To, format!("<{}>", self.local_uri(&user)));
            r.headers.push(HeaderName::CallId, call_id);
            r.headers.push(HeaderName::CSeq, "1 INVITE");
            r.headers.push(HeaderName::MaxForwards, "70");
            r.headers
                .push(HeaderName::Contact, self.contact_value(transport));
            r.headers.push(HeaderName::Allow, super::ALLOW);
            r.headers
                .push(HeaderName::UserAgent, self.config.user_agent.clone());
            if let Cadence::Distinctive(n) = cadence {
                // RFC 7462's alert URN, with the Bellcore pattern most phones map to a ring.
                r.headers.push(
                    HeaderName::Other("Alert-Info".into()),
                    format!("<urn:alert:priority:high>;info=Bellcore-dr{}", n + 1),
                );
            }
            let tx =
                self.transactions
                    .send_request(now, to, transport, self.config.local, r.clone());
            self.calls.clients.insert(tx, Owner::Fork(user.clone()));
            forks.push(Fork {
                tx,
                to,
                transport,
                request: r,
                provisional: false,
                cancel: false,
                done: false,
            });
        }
        self.calls.rings.insert(
            user,
            Ring {
                forks,
                last_failure: None,
            },
        );
    }

    /// Stops ringing: CANCEL every fork that has not answered.
    pub(super) fn stop_ring(&mut self, now: Instant, line: &LineId) {
        if let Some(w) = self.calls.waiting.remove(&line.endpoint) {
            let r = self.simple(&w.invite, 480, None);
            self.transactions.respond(now, w.tx, r);
        }
        let Some(mut ring) = self.calls.rings.remove(&line.endpoint) else {
            return;
        };
        for f in &mut ring.forks {
            self.cancel_fork(now, f);
        }
        // Forks still waiting for a provisional response keep their owner: CANCEL goes then.
        for f in ring.forks.into_iter().filter(|f| !f.done) {
            self.calls.clients.insert(f.tx, Owner::Other);
            self.calls.cancelling.insert(f.tx, f.request);
        }
    }

    fn cancel_fork(&mut self, now: Instant, f: &mut Fork) {
        if f.done {
            return;
        }
        f.cancel = true;
        if f.provisional
            && let Some(c) = self.transactions.cancel(now, f.tx)
        {
            self.calls.clients.insert(c, Owner::Other);
        }
    }

    /// A response to one of our client transactions.
    pub(super) fn on_response(&mut self, now: Instant, tx: ClientTx, response: Response) {
        let owner = self.calls.clients.get(&tx).cloned();
        match owner {
            Some(Owner::Fork(user)) => self.fork_response(now, &user, tx, response),
            Some(Owner::Other) => {
                if let Some(request) = self.calls.cancelling.get(&tx).cloned() {
                    self.late_response(now, tx, &request, &response);
                }
                if response.status >= 200 {
                    self.calls.clients.remove(&tx);
                }
            }
            Some(Owner::Bye) => {
                if response.status >= 200 {
                    self.calls.clients.remove(&tx);
                }
            }
            None => self.mwi_response(tx, &response),
        }
    }

    /// A response to a fork already cancelled: CANCEL it once it is provisional, and end a
    /// call it answered anyway (ACK, then BYE).
    fn late_response(
        &mut self,
        now: Instant,
        tx: ClientTx,
        request: &Request,
        response: &Response,
    ) {
        if response.status < 200 {
            if let Some(c) = self.transactions.cancel(now, tx) {
                self.calls.clients.insert(c, Owner::Other);
            }
        } else if response.status < 300 {
            self.ack_and_bye(now, request, response);
        }
        if response.status >= 200 {
            self.calls.cancelling.remove(&tx);
        }
    }

    fn fork_response(&mut self, now: Instant, user: &Arc<str>, tx: ClientTx, response: Response) {
        // A 2xx retransmitted after the call was set up: ACK it again.
        if response.status >= 200
            && response.status < 300
            && let Some(d) = self.calls.dialogs.get(user)
            && response.headers.call_id() == Some(d.call_id.as_str())
        {
            if let Some(ack) = d.ack.clone() {
                self.out.push_back(super::Outgoing {
                    to: d.peer,
                    transport: d.transport,
                    bytes: ack,
                });
            }
            return;
        }
        let Some(ring) = self.calls.rings.get_mut(user) else {
            return;
        };
        let Some(i) = ring.forks.iter().position(|f| f.tx == tx) else {
            return;
        };
        match response.status {
            100..=199 => {
                ring.forks[i].provisional = true;
                if ring.forks[i].cancel
                    && let Some(c) = self.transactions.cancel(now, tx)
                {
                    self.calls.clients.insert(c, Owner::Other);
                }
            }
            200..=299 => {
                let mut ring = self.calls.rings.remove(user).expect("looked up above");
                let fork = ring.forks.swap_remove(i);
                // Kept while the call lasts: the 200's retransmissions are ACKed again.
                for mut other in ring.forks {
                    self.cancel_fork(now, &mut other);
                    if !other.done {
                        self.calls.clients.insert(other.tx, Owner::Other);
                        self.calls.cancelling.insert(other.tx, other.request);
                    }
                }
                self.answered(now, user, fork, response);
            }
            status => {
                ring.forks[i].done = true;
                self.calls.clients.remove(&tx);
                if status != 487 {
                    ring.last_failure = Some((status, response.reason.clone()));
                }
                self.ring_failed_if_done(user);
            }
        }
    }

    /// Every fork of the ring failed: the station hears why at once.
    fn ring_failed_if_done(&mut self, user: &Arc<str>) {
        let Some(ring) = self.calls.rings.get(user) else {
            return;
        };
        if !ring.forks.iter().all(|f| f.done) {
            return;
        }
        let (code, reason) = ring
            .last_failure
            .clone()
            .unwrap_or((480, "no phone answered".into()));
        self.calls.rings.remove(user);
        self.events.push_back(Event::CommandFailed {
            line: self.line_id(user),
            call: None,
            code,
            reason: format!("the phone refused the call: {code} {reason}"),
        });
    }

    /// A fork answered: the dialog is up, the line is off hook; the ACK waits for the station's
    /// connection (our answer to the phone's offer goes in it).
    fn answered(&mut self, now: Instant, user: &Arc<str>, fork: Fork, ok: Response) {
        self.calls.stats.answered += 1;
        let remote = ok.headers.to().ok();
        let local = fork.request.headers.from().ok();
        let target =
            crate::agent::contact_uri(&ok.headers).unwrap_or_else(|| fork.request.uri.clone());
        let (Some(remote), Some(local), Some(call_id)) =
            (remote, local, ok.headers.call_id().map(str::to_owned))
        else {
            // An answer we cannot make a dialog of: acknowledge and end it.
            self.ack_and_bye(now, &fork.request, &ok);
            return;
        };
        let (remote, remote_tag) = crate::agent::without_tag(remote);
        let (local, local_tag) = crate::agent::without_tag(local);
        info!(user = %user, "the phone answered");
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
                peer: fork.to,
                transport: fork.transport,
                local_cseq: 1,
                phase: Phase::AwaitingConnectionForAck {
                    ok,
                    deadline: now + ACK_WAIT,
                },
                connection: None,
                caps: None,
                sdp_session,
                sdp_version: 1,
                ack: None,
                invite_tx: Some(fork.tx),
            },
        );
        self.events.push_back(Event::OffHook {
            line: self.line_id(user),
        });
    }

    /// An in-dialog request from us: Request-URI, From, To, Call-ID and the next CSeq.
    fn in_dialog(&self, d: &mut Dialog, method: Method) -> Request {
        let cseq = if method == Method::Ack {
            d.local_cseq
        } else {
            d.local_cseq += 1;
            d.local_cseq
        };
        let mut r = Request::new(method.clone(), d.target.clone());
        r.headers
            .push(HeaderName::From, format!("{};tag={}", d.local, d.local_tag));
        r.headers
            .push(HeaderName::To, format!("{};tag={}", d.remote, d.remote_tag));
        r.headers.push(HeaderName::CallId, d.call_id.clone());
        r.headers
            .push(HeaderName::CSeq, format!("{cseq} {}", method.as_str()));
        r.headers.push(HeaderName::MaxForwards, "70");
        r.headers
            .push(HeaderName::UserAgent, self.config.user_agent.clone());
        r
    }

    /// Sends an ACK (a transaction of its own, RFC 3261 §13.2.2.4): a Via with a new branch.
    fn send_ack(&mut self, to: SocketAddr, transport: Transport, mut ack: Request) -> Vec<u8> {
        let via = format!(
            "SIP/2.0/{transport} {};branch=z9hG4bK{};rport",
            sent_by(self.config.local),
            self.token()
        );
        ack.headers.push(HeaderName::Via, via);
        let bytes = ack.encode();
        self.out.push_back(super::Outgoing {
            to,
            transport,
            bytes: bytes.clone(),
        });
        bytes
    }

    /// Acknowledges a 200 we do not want and hangs up.
    fn ack_and_bye(&mut self, now: Instant, invite: &Request, ok: &Response) {
        let (Ok(from), Ok(to), Some(call_id)) =
            (invite.headers.from(), ok.headers.to(), ok.headers.call_id())
        else {
            return;
        };
        let target = crate::agent::contact_uri(&ok.headers).unwrap_or_else(|| invite.uri.clone());
        let Some((to_addr, transport)) = self.destination_of(invite) else {
            return;
        };
        let (local, local_tag) = crate::agent::without_tag(from);
        let (remote, remote_tag) = crate::agent::without_tag(to);
        let mut d = Dialog {
            call_id: call_id.to_owned(),
            local_tag,
            remote_tag,
            local,
            remote,
            target,
            peer: to_addr,
            transport,
            local_cseq: 1,
            phase: Phase::Confirmed,
            connection: None,
            caps: None,
            sdp_session: self.rng_session(),
            sdp_version: 1,
            ack: None,
            invite_tx: None,
        };
        let mut ack = self.in_dialog(&mut d, Method::Ack);
        if !ok.body.is_empty() {
            // An offer came in the 200: an answer refusing its streams (RFC 3264 §6).
            if let Ok(offer) = Session::parse(&ok.body) {
                let refused = refusal(&offer);
                ack.headers.push(HeaderName::ContentType, "application/sdp");
                ack.body = refused.encode().into_bytes();
            }
        }
        self.send_ack(to_addr, transport, ack);
        self.send_bye(now, &mut d);
    }

    fn destination_of(&self, invite: &Request) -> Option<(SocketAddr, Transport)> {
        let user = invite.headers.to().ok()?.uri.user?;
        self.registrar
            .bindings(&user)
            .iter()
            .find(|b| b.contact.uri == invite.uri)
            .map(|b| (b.source, b.transport))
    }

    fn send_bye(&mut self, now: Instant, d: &mut Dialog) {
        let bye = self.in_dialog(d, Method::Bye);
        let tx = self
            .transactions
            .send_request(now, d.peer, d.transport, self.config.local, bye);
        self.calls.clients.insert(tx, Owner::Bye);
        self.calls.stats.hangups_by_us += 1;
    }

    fn rng_session(&mut self) -> u64 {
        use rand::Rng as _;
        self.rng.r#gen::<u32>().into()
    }

    /// A client transaction timed out (no answer: 408).
    pub(super) fn on_client_timeout(&mut self, now: Instant, tx: ClientTx) {
        let timeout = Response::new(408, "Request Timeout");
        match self.calls.clients.get(&tx).cloned() {
            Some(Owner::Fork(user)) => self.fork_response(now, &user, tx, timeout),
            Some(_) => {
                self.calls.clients.remove(&tx);
                self.calls.cancelling.remove(&tx);
            }
            None => self.mwi_timeout(tx),
        }
    }

    /// Deadlines: an ACK waiting too long for the station, a dialled call waiting too long for
    /// its ring.
    pub(super) fn calls_timeout(&mut self, now: Instant) {
        let late: Vec<Arc<str>> = self
            .calls
            .dialogs
            .iter()
            .filter(|(_, d)| {
                matches!(d.phase, Phase::AwaitingConnectionForAck { deadline, .. } if deadline <= now)
            })
            .map(|(u, _)| u.clone())
            .collect();
        for user in late {
            let line = self.line_id(&user);
            self.tone(now, &line, Tone::Reorder);
        }
        let late: Vec<Arc<str>> = self
            .calls
            .waiting
            .iter()
            .filter(|(_, w)| w.deadline <= now)
            .map(|(u, _)| u.clone())
            .collect();
        for user in late {
            let w = self.calls.waiting.remove(&user).expect("found");
            let r = self.simple(&w.invite, 480, None);
            self.transactions.respond(now, w.tx, r);
        }
    }

    pub(super) fn calls_poll_timeout(&self) -> Option<Instant> {
        let acks = self.calls.dialogs.values().filter_map(|d| match d.phase {
            Phase::AwaitingConnectionForAck { deadline, .. } => Some(deadline),
            _ => None,
        });
        let dials = self.calls.waiting.values().map(|w| w.deadline);
        acks.chain(dials).min()
    }
}

/// An answer refusing every stream of `offer` (RFC 3264 §6: port 0).
fn refusal(offer: &Session) -> Session {
    let mut s = offer.clone();
    for m in &mut s.media {
        m.port = 0;
    }
    s
}

fn name_addr(uri: Uri) -> NameAddr {
    NameAddr {
        display: None,
        uri,
        params: vec![],
    }
}

/// `host:port` for a Via's sent-by (an IPv6 host in brackets).
pub(super) fn sent_by(addr: SocketAddr) -> String {
    match addr {
        SocketAddr::V4(a) => a.to_string(),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    }
}
