//! The message-waiting lamp (RFC 3842 `message-summary`) and the contacts' keep-alives.
//!
//! The station manager turns a line's lamp on and off ([`Tone::MessageWaitingLamp`] and
//! `StopTone`); each change is sent to every registered phone of the user: in its subscription
//! when it subscribed (`SUBSCRIBE` with `Event: message-summary`), as an unsolicited NOTIFY
//! otherwise, as most phones expect. A phone that registers is told the lamp's state if it is
//! on. Keep-alives are OPTIONS to every registered contact, counted when answered.
//!
//! [`Tone::MessageWaitingLamp`]: gateway_control::model::Tone::MessageWaitingLamp

use std::collections::{BTreeSet, HashMap, HashSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::model::LineId;

use super::{Agent, without_tag};
use crate::transaction::{ClientTx, ServerTx};
use crate::wire::{HeaderName, Method, NameAddr, Request, Response, Transport, Uri};

/// The most `message-summary` subscriptions kept; past it the one expiring first goes.
pub const MAX_SUBSCRIPTIONS: usize = 10_000;
/// The longest subscription granted.
pub const MAX_SUBSCRIPTION: Duration = Duration::from_secs(3600);

/// One phone's subscription (a dialog of its own, RFC 6665).
#[derive(Debug)]
struct Subscription {
    user: String,
    peer: SocketAddr,
    transport: Transport,
    target: Uri,
    /// Our side (the SUBSCRIBE's To) and our tag.
    local: NameAddr,
    local_tag: String,
    /// The phone's side (the SUBSCRIBE's From) and its tag.
    remote: NameAddr,
    remote_tag: String,
    cseq: u32,
    expires: Instant,
}

/// The lamps, the subscriptions and the keep-alives.
#[derive(Debug, Default)]
pub(super) struct Mwi {
    lamps: HashMap<String, bool>,
    /// Users whose lamp must be sent.
    dirty: BTreeSet<String>,
    /// By Call-ID.
    subs: HashMap<String, Subscription>,
    notifies: HashSet<ClientTx>,
    keepalives: HashSet<ClientTx>,
    /// When the next round of keep-alives goes.
    pub(super) next_keepalive: Option<Instant>,
}

impl Mwi {
    /// A phone of `user` registered: it hears the lamp if it is on.
    pub(super) fn registered(&mut self, user: &str) {
        if self.lamps.get(user).copied().unwrap_or(false) {
            self.dirty.insert(user.to_owned());
        }
    }
}

/// The `application/simple-message-summary` body (RFC 3842 §5).
fn summary(on: bool, account: &Uri) -> Vec<u8> {
    format!(
        "Messages-Waiting: {}\r\nMessage-Account: {account}\r\n",
        if on { "yes" } else { "no" }
    )
    .into_bytes()
}

impl Agent {
    /// The station turns the lamp on or off.
    pub(super) fn set_lamp(&mut self, _now: Instant, line: &LineId, on: bool) {
        let user = line.endpoint.to_string();
        let was = self.mwi.lamps.insert(user.clone(), on).unwrap_or(false);
        if was != on {
            self.mwi.dirty.insert(user);
        }
    }

    /// Sends the lamps that changed.
    pub(super) fn mwi_flush(&mut self, now: Instant) {
        while let Some(user) = self.mwi.dirty.pop_first() {
            let on = self.mwi.lamps.get(&user).copied().unwrap_or(false);
            let account = self.local_uri_for(&user);
            let mut subscribed = HashSet::new();
            let ids: Vec<String> = self
                .mwi
                .subs
                .iter()
                .filter(|(_, s)| s.user == user && s.expires > now)
                .map(|(id, _)| id.clone())
                .collect();
            for id in ids {
                let peer = self.mwi.subs[&id].peer;
                subscribed.insert(peer);
                self.notify_subscription(now, &id, on, None);
            }
            let bindings: Vec<_> = self
                .registrar
                .bindings(&user)
                .iter()
                .filter(|b| !subscribed.contains(&b.source))
                .map(|b| (b.contact.uri.clone(), b.source, b.transport))
                .collect();
            for (target, to, transport) in bindings {
                let mut r = Request::new(Method::Notify, target);
                let tag = self.token();
                r.headers.push(
                    HeaderName::From,
                    format!("<{}>;tag={tag}", self.local_uri_for("offhook")),
                );
                r.headers.push(HeaderName::To, format!("<{account}>"));
                let call_id = format!("{}@{}", self.token(), self.config.local.ip());
                r.headers.push(HeaderName::CallId, call_id);
                r.headers.push(HeaderName::CSeq, "1 NOTIFY");
                r.headers.push(HeaderName::MaxForwards, "70");
                r.headers.push(HeaderName::Event, "message-summary");
                r.headers.push(HeaderName::SubscriptionState, "active");
                r.headers.push(
                    HeaderName::ContentType,
                    "application/simple-message-summary",
                );
                r.headers
                    .push(HeaderName::UserAgent, self.config.user_agent.clone());
                r.body = summary(on, &account);
                let tx = self
                    .transactions
                    .send_request(now, to, transport, self.config.local, r);
                self.mwi.notifies.insert(tx);
                self.stats.notifies += 1;
            }
        }
    }

    fn local_uri_for(&self, user: &str) -> Uri {
        Uri {
            scheme: crate::wire::Scheme::Sip,
            user: Some(user.to_owned()),
            host: self.config.local.ip().to_string(),
            port: Some(self.config.local.port()),
            params: vec![],
            headers: vec![],
        }
    }

    /// A NOTIFY in the subscription `id`; `terminated` ends it with that reason.
    fn notify_subscription(&mut self, now: Instant, id: &str, on: bool, terminated: Option<&str>) {
        let Some(s) = self.mwi.subs.get_mut(id) else {
            return;
        };
        s.cseq += 1;
        let mut r = Request::new(Method::Notify, s.target.clone());
        r.headers
            .push(HeaderName::From, format!("{};tag={}", s.local, s.local_tag));
        r.headers
            .push(HeaderName::To, format!("{};tag={}", s.remote, s.remote_tag));
        r.headers.push(HeaderName::CallId, id.to_owned());
        r.headers
            .push(HeaderName::CSeq, format!("{} NOTIFY", s.cseq));
        r.headers.push(HeaderName::MaxForwards, "70");
        r.headers.push(HeaderName::Event, "message-summary");
        let state = match terminated {
            Some(reason) => format!("terminated;reason={reason}"),
            None => format!(
                "active;expires={}",
                s.expires.saturating_duration_since(now).as_secs()
            ),
        };
        r.headers.push(HeaderName::SubscriptionState, state);
        r.headers.push(
            HeaderName::ContentType,
            "application/simple-message-summary",
        );
        let (peer, transport, user) = (s.peer, s.transport, s.user.clone());
        r.headers.push(
            HeaderName::Contact,
            format!("<{}>", self.local_uri_for("offhook")),
        );
        r.body = summary(on, &self.local_uri_for(&user));
        let tx = self
            .transactions
            .send_request(now, peer, transport, self.config.local, r);
        self.mwi.notifies.insert(tx);
        self.stats.notifies += 1;
        if terminated.is_some() {
            self.mwi.subs.remove(id);
        }
    }

    /// SUBSCRIBE: `message-summary` only.
    pub(super) fn on_subscribe(
        &mut self,
        now: Instant,
        tx: Option<ServerTx>,
        from: SocketAddr,
        transport: Transport,
        request: Request,
    ) {
        let event = request.headers.get(&HeaderName::Event).unwrap_or_default();
        let package = event.split(';').next().unwrap_or_default().trim();
        if !package.eq_ignore_ascii_case("message-summary") {
            let mut r = Response::to_request(&request, 489, "Bad Event", None);
            r.headers
                .push(HeaderName::Other("Allow-Events".into()), "message-summary");
            return self.respond(now, tx, r);
        }
        let Some(user) = self.authenticate(now, tx, from, &request) else {
            return;
        };
        let Some(call_id) = request.headers.call_id().map(str::to_owned) else {
            return;
        };
        let asked = request.headers.expires().unwrap_or(3600);
        let granted = Duration::from_secs(asked.into()).min(MAX_SUBSCRIPTION);
        let existing = self.mwi.subs.get(&call_id).map(|s| s.local_tag.clone());
        let local_tag = match existing {
            Some(tag) => tag,
            None => {
                let (Ok(remote), Ok(local)) = (request.headers.from(), request.headers.to()) else {
                    let r = self.simple(&request, 400, None);
                    return self.respond(now, tx, r);
                };
                if self.mwi.subs.len() >= MAX_SUBSCRIPTIONS
                    && let Some(first) = self
                        .mwi
                        .subs
                        .iter()
                        .min_by_key(|(_, s)| s.expires)
                        .map(|(id, _)| id.clone())
                {
                    self.mwi.subs.remove(&first);
                }
                let (remote, remote_tag) = without_tag(remote);
                let (local, _) = without_tag(local);
                let target = crate::agent::contact_uri(&request.headers)
                    .unwrap_or_else(|| remote.uri.clone());
                let local_tag = self.token();
                self.mwi.subs.insert(
                    call_id.clone(),
                    Subscription {
                        user: user.clone(),
                        peer: from,
                        transport,
                        target,
                        local,
                        local_tag: local_tag.clone(),
                        remote,
                        remote_tag,
                        cseq: 0,
                        expires: now,
                    },
                );
                self.stats.subscriptions += 1;
                local_tag
            }
        };
        if let Some(s) = self.mwi.subs.get_mut(&call_id) {
            s.expires = now + granted;
        }
        let mut ok = Response::to_request(&request, 200, "OK", Some(&local_tag));
        ok.headers
            .push(HeaderName::Expires, granted.as_secs().to_string());
        ok.headers.push(
            HeaderName::Contact,
            format!("<{}>", self.local_uri_for("offhook")),
        );
        self.respond(now, tx, ok);
        let on = self.mwi.lamps.get(&user).copied().unwrap_or(false);
        let ended = granted.is_zero().then_some("timeout");
        self.notify_subscription(now, &call_id, on, ended);
    }

    /// A response to a NOTIFY or a keep-alive.
    pub(super) fn mwi_response(&mut self, tx: ClientTx, response: &Response) {
        if response.status < 200 {
            return;
        }
        if self.mwi.keepalives.remove(&tx) {
            self.stats.keepalives_answered += 1;
        }
        self.mwi.notifies.remove(&tx);
    }

    /// A NOTIFY or a keep-alive got no answer.
    pub(super) fn mwi_timeout(&mut self, tx: ClientTx) {
        self.mwi.keepalives.remove(&tx);
        self.mwi.notifies.remove(&tx);
    }

    /// Sends a round of keep-alives when it is due, and forgets expired subscriptions.
    pub(super) fn keepalive(&mut self, now: Instant) {
        let Some(every) = self.config.keepalive else {
            return;
        };
        let next = *self.mwi.next_keepalive.get_or_insert(now + every);
        if next > now {
            return;
        }
        self.mwi.next_keepalive = Some(now + every);
        self.mwi.subs.retain(|_, s| s.expires > now);
        let users: Vec<String> = self.registrar.users().map(str::to_owned).collect();
        for user in users {
            let bindings: Vec<_> = self
                .registrar
                .bindings(&user)
                .iter()
                .map(|b| (b.contact.uri.clone(), b.source, b.transport))
                .collect();
            for (target, to, transport) in bindings {
                let mut r = Request::new(Method::Options, target);
                let tag = self.token();
                r.headers.push(
                    HeaderName::From,
                    format!("<{}>;tag={tag}", self.local_uri_for("offhook")),
                );
                r.headers
                    .push(HeaderName::To, format!("<{}>", self.local_uri_for(&user)));
                let call_id = format!("{}@{}", self.token(), self.config.local.ip());
                r.headers.push(HeaderName::CallId, call_id);
                r.headers.push(HeaderName::CSeq, "1 OPTIONS");
                r.headers.push(HeaderName::MaxForwards, "70");
                let tx = self
                    .transactions
                    .send_request(now, to, transport, self.config.local, r);
                self.mwi.keepalives.insert(tx);
                self.stats.keepalives_sent += 1;
            }
        }
    }
}
