//! Server transactions: INVITE (RFC 3261 §17.2.1, RFC 6026 §8.7) and non-INVITE (§17.2.2),
//! CANCEL matching (§9.2), and the addresses of responses (§18.2.1, §18.2.2, RFC 3581).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tracing::{debug, trace, warn};

use super::timer::{Owner, Timer};
use super::{Event, ServerKey, ServerTx, Transactions, default_port, reliable, with_top_via};
use crate::wire::{HeaderName, Method, Request, Response, Transport, Via};

/// Where a server transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// Non-INVITE received, not answered.
    Trying,
    /// Provisionally answered (an INVITE starts here: the layer sent `100`).
    Proceeding,
    /// Final response sent (300–699 for INVITE); waiting for the ACK or absorbing.
    Completed,
    /// ACK to the 300–699 received; absorbing ACK retransmissions (Timer I).
    Confirmed,
    /// 2xx to the INVITE sent (RFC 6026); retransmitted until its ACK, INVITE absorbed.
    Accepted,
}

#[derive(Debug)]
pub(crate) struct Server {
    pub(crate) state: State,
    pub(crate) invite: bool,
    /// Where responses go.
    pub(crate) to: SocketAddr,
    pub(crate) transport: Transport,
    key: ServerKey,
    /// The last response sent, resent for a retransmitted request.
    last: Option<Vec<u8>>,
    /// The next Timer G (or 2xx retransmission) interval.
    interval: Duration,
    /// The To tag of the TU's provisional response, for the `200` to a CANCEL (§9.2).
    to_tag: Option<String>,
    /// (Call-ID, CSeq number) once a 2xx was sent, for the ACK to it.
    dialog: Option<(String, u32)>,
    /// Whether the ACK to the 2xx came.
    acked: bool,
    /// Whether [`Event::Cancelled`] was reported (once, even if CANCEL comes again on a new
    /// transaction, as it may over TCP where Timer J is zero).
    cancelled: bool,
}

impl Server {
    /// Whether the transaction's work is done and it only waits on a timer, so that it may be
    /// ended early to make room: a non-INVITE in Completed (absorbing retransmissions, Timer
    /// J), an INVITE in Confirmed (Timer I) or whose 2xx was ACKed (Timer L), and an INVITE
    /// refused with a 300–699 that waits for its ACK (Timer H), resending the refusal on Timer
    /// G. Ending one early costs a late retransmission of its request being taken as new, or
    /// for the last kind, a refusal not resent: the phone's own retransmission of the INVITE,
    /// if the refusal was lost, is answered again.
    pub(crate) fn evictable(&self) -> bool {
        match self.state {
            State::Completed => true,
            State::Confirmed => true,
            State::Accepted => self.acked,
            State::Trying | State::Proceeding => false,
        }
    }
}

/// Where responses to a request with top Via `via` from `from` go (§18.2.2, RFC 3581 §4):
/// the connection over a reliable transport; else the source address (it is `received` or
/// sent-by itself) at the source port when `rport` was asked for, at sent-by's port otherwise.
pub(crate) fn destination(from: SocketAddr, transport: Transport, via: &Via) -> SocketAddr {
    if reliable(transport) {
        return from;
    }
    let port = match via.rport() {
        Some(_) => from.port(),
        None => via.port.unwrap_or(default_port(via.transport)),
    };
    SocketAddr::new(from.ip(), port)
}

fn set_param(params: &mut Vec<(String, Option<String>)>, name: &str, value: String) {
    match params
        .iter_mut()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
    {
        Some(p) => p.1 = Some(value),
        None => params.push((name.to_owned(), Some(value))),
    }
}

impl Transactions {
    pub(crate) fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        mut request: Request,
    ) {
        let Ok(mut via) = request.headers.top_via() else {
            debug!(%from, "request without a usable Via dropped");
            self.stats.malformed += 1;
            return;
        };
        // §18.2.1 and RFC 3581 §4: `received` when sent-by is not the source (always with
        // `rport`), and the source port in an empty `rport`.
        let rport = via.rport();
        if via.host.parse::<IpAddr>().ok() != Some(from.ip()) || rport.is_some() {
            set_param(&mut via.params, "received", from.ip().to_string());
            if rport.is_some() {
                set_param(&mut via.params, "rport", from.port().to_string());
            }
            request.headers = with_top_via(&request.headers, &via, false);
        }
        let cseq = request.headers.cseq();
        let usable = matches!(&cseq, Ok(c) if c.method == request.method)
            && request.headers.call_id().is_some();
        let key = ServerKey::of(&via, &request.method);
        let (Ok(cseq), true, Some(key)) = (cseq, usable, key) else {
            warn!(%from, "request without a usable CSeq, Call-ID or Via branch");
            self.stats.malformed += 1;
            self.answer_stateless(from, transport, &request, 400, "Bad Request", None);
            return;
        };
        let existing = self.server_keys.get(&key).copied();
        if request.method == Method::Ack {
            self.handle_ack(now, from, transport, request, existing, cseq.seq);
            return;
        }
        if let Some(id) = existing {
            self.retransmitted_request(id);
            return;
        }
        let starts_work = request.method != Method::Cancel
            && request.headers.to().ok().is_none_or(|t| t.tag().is_none());
        let refused = if starts_work && self.shedding {
            self.stats.shed += 1;
            Some("socket backlogged")
        } else if !self.room_after_eviction(self.limit_for(starts_work)) {
            self.stats.refused_busy += 1;
            Some("transaction table full")
        } else {
            None
        };
        if let Some(why) = refused {
            debug!(%from, method = %request.method, why, "503");
            let retry = self.config.retry_after.as_secs().to_string();
            self.answer_stateless(
                from,
                transport,
                &request,
                503,
                "Service Unavailable",
                Some((HeaderName::RetryAfter, retry)),
            );
            return;
        }
        self.stats.requests_received += 1;
        let to = destination(from, transport, &via);
        let invite = request.method == Method::Invite;
        let id = self.id();
        let tx = ServerTx(id);
        debug!(%tx, method = %request.method, %from, "server transaction started");
        self.server_keys.insert(key.clone(), id);
        self.servers.insert(
            id,
            Server {
                state: if invite {
                    State::Proceeding
                } else {
                    State::Trying
                },
                invite,
                to,
                transport,
                key: key.clone(),
                last: None,
                interval: self.config.t1,
                to_tag: None,
                dialog: None,
                acked: false,
                cancelled: false,
            },
        );
        match request.method {
            Method::Invite => {
                // §17.2.1: `100 Trying` at once, rather than guess whether the TU answers
                // within 200 ms.
                let trying = Response::to_request(&request, 100, "Trying", None);
                self.respond(now, tx, trying);
                self.events.push_back(Event::Request {
                    tx: Some(tx),
                    from,
                    transport,
                    request,
                });
            }
            Method::Cancel => self.handle_cancel(now, tx, key, &request),
            _ => {
                let abandon = now + self.config.t64();
                self.timers.set(Owner::Server(id), Timer::Abandon, abandon);
                self.events.push_back(Event::Request {
                    tx: Some(tx),
                    from,
                    transport,
                    request,
                });
            }
        }
    }

    /// §17.2.1, §17.2.2: a retransmission gets the last response again (if any); the TU
    /// hears nothing. In Accepted the INVITE is absorbed: the 2xx timer resends the 2xx.
    fn retransmitted_request(&mut self, id: u64) {
        self.stats.absorbed += 1;
        let Some(s) = self.servers.get(&id) else {
            return;
        };
        trace!(tx = %ServerTx(id), "request retransmission absorbed");
        if s.state == State::Accepted {
            return;
        }
        if let Some(bytes) = s.last.clone() {
            let (to, transport) = (s.to, s.transport);
            self.stats.response_retransmissions += 1;
            self.transmit(to, transport, bytes);
        }
    }

    /// An ACK: to a 300–699 it confirms its INVITE transaction (absorbed); to a 2xx, or
    /// stray, it goes to the TU (the first ACK to one 2xx only).
    fn handle_ack(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        request: Request,
        existing: Option<u64>,
        seq: u32,
    ) {
        let by_dialog = || {
            let call_id = request.headers.call_id()?.to_owned();
            self.accepted.get(&(call_id, seq)).copied()
        };
        let id = existing
            .filter(|id| self.servers.get(id).is_some_and(|s| s.invite))
            .or_else(by_dialog);
        if let Some(id) = id {
            let t4 = self.config.t4;
            let Some(s) = self.servers.get_mut(&id) else {
                return;
            };
            let owner = Owner::Server(id);
            match s.state {
                State::Completed => {
                    s.state = State::Confirmed;
                    let transport = s.transport;
                    debug!(tx = %ServerTx(id), "INVITE confirmed by ACK");
                    self.stats.absorbed += 1;
                    self.timers.cancel(owner, Timer::G);
                    self.timers.cancel(owner, Timer::H);
                    if reliable(transport) {
                        self.end_server(id);
                    } else {
                        self.timers.set(owner, Timer::I, now + t4);
                        self.linger(id);
                    }
                    return;
                }
                State::Accepted if !s.acked => {
                    s.acked = true;
                    debug!(tx = %ServerTx(id), "2xx acknowledged");
                    self.timers.cancel(owner, Timer::Resend2xx);
                    self.linger(id);
                }
                State::Accepted | State::Confirmed => {
                    self.stats.absorbed += 1;
                    return;
                }
                State::Trying | State::Proceeding => {
                    // An ACK before any final response: nothing to acknowledge.
                    self.stats.absorbed += 1;
                    return;
                }
            }
        }
        self.stats.acks_passed += 1;
        self.events.push_back(Event::Request {
            tx: None,
            from,
            transport,
            request,
        });
    }

    /// §9.2: a CANCEL is answered here: `200` when it matches an INVITE server transaction
    /// (and [`Event::Cancelled`] when that one has no final response yet), `481` otherwise.
    fn handle_cancel(&mut self, now: Instant, tx: ServerTx, key: ServerKey, request: &Request) {
        let invite_key = ServerKey {
            method: Method::Invite,
            ..key
        };
        let invite = self.server_keys.get(&invite_key).copied();
        let (status, reason, tag) = match invite.and_then(|id| self.servers.get(&id)) {
            Some(s) => {
                self.stats.cancels_matched += 1;
                (200, "OK", s.to_tag.clone())
            }
            None => {
                self.stats.cancels_unmatched += 1;
                (481, "Call/Transaction Does Not Exist", None)
            }
        };
        let tag = tag.unwrap_or_else(|| self.token());
        let response = Response::to_request(request, status, reason, Some(&tag));
        self.respond(now, tx, response);
        if let Some(id) = invite
            && let Some(s) = self.servers.get_mut(&id)
            && s.state == State::Proceeding
            && !s.cancelled
        {
            s.cancelled = true;
            debug!(invite = %ServerTx(id), "INVITE cancelled");
            self.events.push_back(Event::Cancelled {
                invite: ServerTx(id),
            });
        }
    }

    /// Sends a response on a server transaction (provisional or final). A 2xx to an INVITE
    /// moves it to RFC 6026's Accepted state: the layer retransmits the 2xx (T1 doubling to T2,
    /// §13.3.1.4) until its ACK arrives or Timer L (64·T1) ends the transaction, which is then
    /// [`Event::AckLost`]. A further 2xx in Accepted is sent too. Anything else on a
    /// transaction that has its final response, or has ended, is ignored (and counted).
    pub fn respond(&mut self, now: Instant, tx: ServerTx, response: Response) {
        let id = tx.0;
        let (t1, t64) = (self.config.t1, self.config.t64());
        let Some(s) = self.servers.get_mut(&id) else {
            debug!(%tx, "response for an ended server transaction ignored");
            self.stats.responses_refused += 1;
            return;
        };
        let status = response.status;
        let owner = Owner::Server(id);
        let mut lingers = false;
        let next = match (s.invite, s.state, status) {
            (_, State::Trying | State::Proceeding, 100..=199) => {
                if let Some(tag) = response
                    .headers
                    .to()
                    .ok()
                    .and_then(|to| to.tag().map(str::to_owned))
                {
                    s.to_tag = Some(tag);
                }
                State::Proceeding
            }
            (true, State::Proceeding, 200..=299) => {
                if let (Some(call_id), Ok(cseq)) =
                    (response.headers.call_id(), response.headers.cseq())
                {
                    s.dialog = Some((call_id.to_owned(), cseq.seq));
                }
                self.timers.set(owner, Timer::L, now + t64);
                self.timers.set(owner, Timer::Resend2xx, now + t1);
                State::Accepted
            }
            (true, State::Accepted, 200..=299) => State::Accepted,
            (true, State::Proceeding, 300..=699) => {
                if !reliable(s.transport) {
                    self.timers.set(owner, Timer::G, now + t1);
                }
                self.timers.set(owner, Timer::H, now + t64);
                lingers = true;
                State::Completed
            }
            (false, State::Trying | State::Proceeding, 200..=699) => {
                self.timers.cancel(owner, Timer::Abandon);
                if !reliable(s.transport) {
                    self.timers.set(owner, Timer::J, now + t64);
                    lingers = true;
                }
                State::Completed
            }
            _ => {
                debug!(%tx, status, "response not allowed in this state ignored");
                self.stats.responses_refused += 1;
                return;
            }
        };
        trace!(%tx, status, from = ?s.state, to = ?next, "response sent");
        s.state = next;
        if next == State::Accepted
            && let Some(dialog) = s.dialog.clone()
        {
            self.accepted.insert(dialog, id);
        }
        let bytes = response.encode();
        s.last = Some(bytes.clone());
        let (to, transport, invite) = (s.to, s.transport, s.invite);
        self.stats.responses_sent += 1;
        self.transmit(to, transport, bytes);
        if !invite && next == State::Completed && reliable(transport) {
            self.end_server(id); // Timer J is zero
        }
        if lingers {
            self.linger(id);
        }
    }

    pub(crate) fn server_timer(&mut self, now: Instant, id: u64, timer: Timer) {
        let t2 = self.config.t2;
        let Some(s) = self.servers.get_mut(&id) else {
            return;
        };
        let tx = ServerTx(id);
        match timer {
            Timer::G | Timer::Resend2xx => {
                s.interval = (s.interval * 2).min(t2);
                let next = now + s.interval;
                let Some(s) = self.servers.get(&id) else {
                    return;
                };
                if let Some(bytes) = s.last.clone() {
                    let (to, transport) = (s.to, s.transport);
                    trace!(%tx, ?timer, "response retransmitted");
                    self.stats.response_retransmissions += 1;
                    self.transmit(to, transport, bytes);
                }
                self.timers.set(Owner::Server(id), timer, next);
            }
            Timer::H | Timer::L => {
                if timer == Timer::H || !s.acked {
                    debug!(%tx, ?timer, "server transaction ended without ACK");
                    self.stats.acks_lost += 1;
                    self.events.push_back(Event::AckLost { tx });
                }
                self.end_server(id);
            }
            Timer::Abandon => {
                warn!(%tx, "request never answered by the TU dropped");
                self.stats.abandoned += 1;
                self.end_server(id);
            }
            Timer::I | Timer::J => {
                trace!(%tx, ?timer, "server transaction ended");
                self.end_server(id);
            }
            _ => {}
        }
    }

    pub(crate) fn end_server(&mut self, id: u64) {
        self.timers.cancel_all(Owner::Server(id));
        if let Some(s) = self.servers.remove(&id) {
            if self.server_keys.get(&s.key) == Some(&id) {
                self.server_keys.remove(&s.key);
            }
            if let Some(dialog) = s.dialog
                && self.accepted.get(&dialog) == Some(&id)
            {
                self.accepted.remove(&dialog);
            }
        }
    }
}
