//! Client transactions: INVITE (RFC 3261 §17.1.1, RFC 6026 §8.4) and non-INVITE (§17.1.2),
//! and CANCEL (§9.1).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::{debug, trace};

use super::timer::{Owner, Timer};
use super::{ClientTx, Event, MAGIC_COOKIE, Transactions, config::TIMER_D, reliable, with_top_via};
use crate::wire::{HeaderName, Method, Request, Response, Transport, Via};

/// Where a client transaction is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum State {
    /// INVITE sent, nothing heard.
    Calling,
    /// Non-INVITE sent, nothing heard.
    Trying,
    /// A provisional response heard.
    Proceeding,
    /// A final response heard (300–699 for INVITE, any for non-INVITE); absorbing.
    Completed,
    /// A 2xx to the INVITE heard; 2xx retransmissions go to the TU (RFC 6026).
    Accepted,
}

/// A CANCEL asked for an INVITE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Cancel {
    None,
    /// Asked before any provisional response: sent with the first one (§9.1), as this id.
    Pending(u64),
    Sent,
}

#[derive(Debug)]
pub(crate) struct Client {
    pub(crate) state: State,
    pub(crate) to: SocketAddr,
    pub(crate) transport: Transport,
    key: (String, Method),
    /// The request as sent (for the ACK and the CANCEL).
    request: Request,
    bytes: Vec<u8>,
    /// The next retransmission interval (Timers A and E).
    interval: Duration,
    /// The ACK to a 300–699, resent for each retransmission of it (§17.1.1.2).
    ack: Option<Vec<u8>>,
    pub(crate) cancel: Cancel,
}

impl Client {
    fn invite(&self) -> bool {
        self.request.method == Method::Invite
    }
}

/// The request §9.1 (CANCEL) or §17.1.1.3 (ACK to a non-2xx) builds from `invite`: its
/// Request-URI, top Via, From, Call-ID and Route, the CSeq number with `method`, and `to` as
/// To.
fn derived(invite: &Request, method: Method, to: Option<&str>) -> Request {
    let mut out = Request::new(method.clone(), invite.uri.clone());
    if let Some(via) = invite.headers.get_all(&HeaderName::Via).next() {
        out.headers.push(HeaderName::Via, via);
    }
    out.headers.push(HeaderName::MaxForwards, "70");
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        let value = match (&name, to) {
            (HeaderName::To, Some(to)) => Some(to),
            _ => invite.headers.get(&name),
        };
        if let Some(v) = value {
            out.headers.push(name, v);
        }
    }
    if let Ok(cseq) = invite.headers.cseq() {
        out.headers
            .push(HeaderName::CSeq, format!("{} {method}", cseq.seq));
    }
    for route in invite.headers.get_all(&HeaderName::Route) {
        out.headers.push(HeaderName::Route, route);
    }
    out
}

impl Transactions {
    /// Starts a client transaction. Adds the top Via (our address, transport, a fresh
    /// `z9hG4bK` branch, `rport`) if the request has none of ours; sends it.
    ///
    /// An ACK is sent once and kept nowhere (use [`Transactions::send_stateless`] for it). If
    /// [`Config::max_transactions`](super::Config::max_transactions) are kept, nothing is sent
    /// and [`Event::Timeout`] reports the transaction at once.
    pub fn send_request(
        &mut self,
        now: Instant,
        to: SocketAddr,
        transport: Transport,
        local: SocketAddr,
        mut request: Request,
    ) -> ClientTx {
        let id = self.id();
        let ours = request.headers.top_via().ok().filter(|via| {
            via.host == local.ip().to_string()
                && via.port == Some(local.port())
                && via.branch().is_some_and(|b| b.starts_with(MAGIC_COOKIE))
        });
        let via = match ours {
            Some(via) => via,
            None => {
                let via = Via {
                    transport,
                    host: local.ip().to_string(),
                    port: Some(local.port()),
                    params: vec![
                        (
                            "branch".into(),
                            Some(format!("{MAGIC_COOKIE}{}", self.token())),
                        ),
                        ("rport".into(), None),
                    ],
                };
                request.headers = with_top_via(&request.headers, &via, true);
                via
            }
        };
        if request.method == Method::Ack {
            self.stats.stateless_sent += 1;
            self.transmit(to, transport, request.encode());
            return ClientTx(id);
        }
        if self.full() {
            debug!(tx = %ClientTx(id), "transaction table full: request not sent");
            self.stats.refused_local += 1;
            self.events.push_back(Event::Timeout { tx: ClientTx(id) });
            return ClientTx(id);
        }
        self.start_client(now, id, to, transport, via, request);
        ClientTx(id)
    }

    fn start_client(
        &mut self,
        now: Instant,
        id: u64,
        to: SocketAddr,
        transport: Transport,
        via: Via,
        request: Request,
    ) {
        let invite = request.method == Method::Invite;
        let key = (
            via.branch().unwrap_or_default().to_owned(),
            request.method.clone(),
        );
        let bytes = request.encode();
        debug!(tx = %ClientTx(id), method = %request.method, %to, "client transaction started");
        self.stats.requests_sent += 1;
        self.transmit(to, transport, bytes.clone());
        let owner = Owner::Client(id);
        let t64 = self.config.t64();
        let (retransmit, timeout) = if invite {
            (Timer::A, Timer::B)
        } else {
            (Timer::E, Timer::F)
        };
        if !reliable(transport) {
            self.timers.set(owner, retransmit, now + self.config.t1);
        }
        self.timers.set(owner, timeout, now + t64);
        if let Some(old) = self.client_keys.insert(key.clone(), id) {
            // The TU reused a branch: the older transaction can no longer be matched.
            debug!(tx = %ClientTx(old), "branch reused: older client transaction ended");
            self.end_client(old);
            self.client_keys.insert(key.clone(), id);
        }
        self.clients.insert(
            id,
            Client {
                state: if invite {
                    State::Calling
                } else {
                    State::Trying
                },
                to,
                transport,
                key,
                request,
                bytes,
                interval: self.config.t1,
                ack: None,
                cancel: Cancel::None,
            },
        );
    }

    /// CANCEL for a pending INVITE client transaction (§9.1): builds and sends it as its own
    /// non-INVITE client transaction once a provisional response arrived (at once if one has).
    ///
    /// `None` when there is nothing to cancel: `invite` is not an INVITE client transaction
    /// still waiting for its final response, or it was cancelled already. A CANCEL still
    /// waiting for a provisional response is never sent if the final response comes first,
    /// and its transaction then reports nothing.
    pub fn cancel(&mut self, now: Instant, invite: ClientTx) -> Option<ClientTx> {
        let c = self.clients.get(&invite.0)?;
        if !c.invite() || c.cancel != Cancel::None {
            return None;
        }
        let state = c.state;
        let id = self.id();
        match state {
            State::Calling => {
                debug!(tx = %invite, cancel = %ClientTx(id), "CANCEL waits for a provisional response");
                self.clients.get_mut(&invite.0)?.cancel = Cancel::Pending(id);
            }
            State::Proceeding => self.send_cancel(now, invite.0, id),
            _ => return None,
        }
        Some(ClientTx(id))
    }

    fn send_cancel(&mut self, now: Instant, invite: u64, id: u64) {
        let Some(c) = self.clients.get_mut(&invite) else {
            return;
        };
        c.cancel = Cancel::Sent;
        let request = derived(&c.request, Method::Cancel, None);
        let (to, transport) = (c.to, c.transport);
        let Ok(via) = request.headers.top_via() else {
            return;
        };
        let guard = now + self.config.t64();
        self.timers
            .set(Owner::Client(invite), Timer::CancelGuard, guard);
        if self.full() {
            self.stats.refused_local += 1;
            self.events.push_back(Event::Timeout { tx: ClientTx(id) });
            return;
        }
        self.start_client(now, id, to, transport, via, request);
    }

    pub(crate) fn handle_response(&mut self, now: Instant, response: Response) {
        let (Ok(via), Ok(cseq)) = (response.headers.top_via(), response.headers.cseq()) else {
            debug!("response without a usable Via or CSeq dropped");
            self.stats.malformed += 1;
            return;
        };
        if !(100..=699).contains(&response.status) {
            self.stats.malformed += 1;
            return;
        }
        let key = (via.branch().unwrap_or_default().to_owned(), cseq.method);
        let Some(&id) = self.client_keys.get(&key) else {
            trace!(
                status = response.status,
                "response matches no client transaction"
            );
            self.stats.unmatched_responses += 1;
            return;
        };
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let tx = ClientTx(id);
        let owner = Owner::Client(id);
        let status = response.status;
        let invite = c.invite();
        match (invite, c.state, status) {
            (_, State::Calling | State::Trying | State::Proceeding, 100..=199) => {
                c.state = State::Proceeding;
                let pending = match c.cancel {
                    Cancel::Pending(cancel) => Some(cancel),
                    _ => None,
                };
                if invite {
                    // §17.1.1.2: no more retransmissions; Timer B only covers Calling.
                    self.timers.cancel(owner, Timer::A);
                    self.timers.cancel(owner, Timer::B);
                }
                trace!(%tx, status, "provisional response");
                self.pass_response(tx, response);
                if let Some(cancel) = pending {
                    self.send_cancel(now, id, cancel);
                }
            }
            (true, State::Calling | State::Proceeding, 200..=299) => {
                c.state = State::Accepted;
                debug!(%tx, status, "INVITE accepted");
                for t in [Timer::A, Timer::B, Timer::CancelGuard] {
                    self.timers.cancel(owner, t);
                }
                self.timers.set(owner, Timer::M, now + self.config.t64());
                self.pass_response(tx, response);
            }
            (true, State::Calling | State::Proceeding, _) => {
                let to_header = response.headers.get(&HeaderName::To);
                let ack = derived(&c.request, Method::Ack, to_header).encode();
                c.ack = Some(ack.clone());
                c.state = State::Completed;
                let (to, transport) = (c.to, c.transport);
                debug!(%tx, status, "INVITE completed");
                self.stats.requests_sent += 1;
                self.transmit(to, transport, ack);
                for t in [Timer::A, Timer::B, Timer::CancelGuard] {
                    self.timers.cancel(owner, t);
                }
                self.pass_response(tx, response);
                if reliable(transport) {
                    self.end_client(id);
                } else {
                    self.timers.set(owner, Timer::D, now + TIMER_D);
                }
            }
            (false, State::Trying | State::Proceeding, _) => {
                c.state = State::Completed;
                let transport = c.transport;
                debug!(%tx, status, "client transaction completed");
                self.timers.cancel(owner, Timer::E);
                self.timers.cancel(owner, Timer::F);
                self.pass_response(tx, response);
                if reliable(transport) {
                    self.end_client(id);
                } else {
                    self.timers.set(owner, Timer::K, now + self.config.t4);
                }
            }
            (true, State::Accepted, 200..=299) => {
                // RFC 6026 §8.4: each 2xx retransmission goes to the TU, which ACKs it.
                self.pass_response(tx, response);
            }
            (true, State::Completed, 300..=699) => {
                // §17.1.1.2: the ACK is resent, the response absorbed.
                self.stats.absorbed += 1;
                if let Some(ack) = c.ack.clone() {
                    let (to, transport) = (c.to, c.transport);
                    self.stats.request_retransmissions += 1;
                    self.transmit(to, transport, ack);
                }
            }
            _ => {
                trace!(%tx, status, "response absorbed");
                self.stats.absorbed += 1;
            }
        }
    }

    fn pass_response(&mut self, tx: ClientTx, response: Response) {
        self.stats.responses_received += 1;
        self.events.push_back(Event::Response { tx, response });
    }

    pub(crate) fn client_timer(&mut self, now: Instant, id: u64, timer: Timer) {
        let Some(c) = self.clients.get_mut(&id) else {
            return;
        };
        let owner = Owner::Client(id);
        let tx = ClientTx(id);
        match timer {
            Timer::A | Timer::E => {
                // Timer A doubles without bound (Timer B ends it); Timer E doubles up to T2,
                // and is T2 once a provisional response came (§17.1.2.2).
                c.interval = match (timer, c.state) {
                    (Timer::A, _) => c.interval * 2,
                    (_, State::Proceeding) => self.config.t2,
                    _ => (c.interval * 2).min(self.config.t2),
                };
                let next = now + c.interval;
                let (to, transport, bytes) = (c.to, c.transport, c.bytes.clone());
                trace!(%tx, ?timer, "request retransmitted");
                self.stats.request_retransmissions += 1;
                self.transmit(to, transport, bytes);
                self.timers.set(owner, timer, next);
            }
            Timer::B | Timer::F | Timer::CancelGuard => {
                debug!(%tx, ?timer, "client transaction timed out");
                self.stats.timeouts += 1;
                self.events.push_back(Event::Timeout { tx });
                self.end_client(id);
            }
            Timer::D | Timer::K | Timer::M => {
                trace!(%tx, ?timer, "client transaction ended");
                self.end_client(id);
            }
            _ => {}
        }
    }

    pub(crate) fn end_client(&mut self, id: u64) {
        self.timers.cancel_all(Owner::Client(id));
        if let Some(c) = self.clients.remove(&id)
            && self.client_keys.get(&c.key) == Some(&id)
        {
            self.client_keys.remove(&c.key);
        }
    }
}
