//! The SIP transaction layer (RFC 3261 §17, with RFC 6026's Accepted states and RFC 3581's
//! `rport`), sans-IO.
//!
//! One [`Transactions`] holds every client and server transaction of one SIP endpoint (the
//! appliance's registrar and user agent: the transaction user, TU). It retransmits requests
//! and responses on its timers, absorbs retransmissions, matches responses, ACKs and CANCELs to
//! their transactions, and reports to the TU only what is new.
//!
//! # The loop
//! The caller (the driver, or a test) feeds it inputs and then drains it, in quinn's order:
//! ```text
//! loop {
//!     // an input: a parsed message, a TU call, or the time
//!     tx.handle_message(now, from, transport, message);   // or send_request / respond / cancel
//!     tx.handle_timeout(now);                              // when poll_timeout() is due
//!     while let Some(out) = tx.poll_transmit() { socket.send_to(&out.bytes, out.to) }
//!     while let Some(event) = tx.poll_event() { tu.handle(event) }
//!     sleep_until(tx.poll_timeout());
//! }
//! ```
//!
//! # The four state machines
//! - INVITE client (§17.1.1, RFC 6026 §8.4): Calling → Proceeding (a 1xx) → Completed (a
//!   300–699, ACKed here, §17.1.1.3; Timer D) or Accepted (a 2xx; every 2xx retransmission is
//!   passed to the TU, which ACKs each, §13.2.2.4; Timer M). Timer A retransmits (T1, doubling,
//!   unreliable transports only), Timer B (64·T1) times the transaction out in Calling.
//! - Non-INVITE client (§17.1.2): Trying → Proceeding → Completed (Timer K); Timer E
//!   retransmits (T1 doubling to T2; T2 in Proceeding), Timer F (64·T1) times out.
//! - INVITE server (§17.2.1, RFC 6026 §8.7): Proceeding (a `100 Trying` is sent at once) →
//!   Completed (a 300–699; Timer G retransmits, Timer H waits for the ACK) → Confirmed (Timer I)
//!   — or Accepted (a 2xx; Timer L). The 2xx is retransmitted here (T1 doubling to T2) until
//!   the ACK arrives (§13.3.1.4, the UAS core's duty, done by the layer so the TU need not),
//!   also over TCP, as §13.3.1.4 asks. No ACK by Timer L is [`Event::AckLost`].
//! - Non-INVITE server (§17.2.2): Trying → Proceeding → Completed (Timer J).
//!
//! Over a reliable transport (TCP, TLS) Timers A, E and G are not used and D, I, J, K are
//! zero: the transaction ends at once (§17.1.1.2, §17.1.2.2, §17.2.1, §17.2.2).
//!
//! # Matching
//! Responses match a client transaction by the top Via's branch and the CSeq method
//! (§17.1.3). Requests match a server transaction by the top Via's branch, its sent-by and the
//! method, an ACK matching its INVITE (§17.2.3). Only branches with the `z9hG4bK` magic cookie
//! are compared this way; the RFC 2543 fallback (§17.2.3, matching by Request-URI, tags,
//! Call-ID, CSeq and Via) is not implemented: a request without the cookie is matched on its
//! branch as if it had one, and one with no branch at all is answered `400`. An ACK to a 2xx
//! has a branch of its own: it matches the Accepted INVITE server transaction by Call-ID and
//! CSeq number, stops the 2xx retransmissions, and is passed to the TU once with `tx: None`.
//! Responses are not checked against our sent-by (§18.1.2): the branches are ours, 64 random
//! bits each, and a response with a branch we did not send matches nothing.
//! A CANCEL matches the INVITE server transaction with its branch and sent-by: the layer
//! answers it `200` (or `481` when nothing matches, §9.2) and reports [`Event::Cancelled`].
//!
//! # Addresses (§18.2.1, RFC 3581)
//! The layer adds `received` to the top Via of a request whose sent-by is not the source
//! address, and fills an empty `rport` with the source port. Responses go to the source over
//! a reliable transport; otherwise to the source address at the `rport` port when the request
//! asked for it, else at the sent-by port (5060, or 5061 for TLS, when absent). Names in
//! sent-by are never resolved (sans-IO): the source address stands for them.
//!
//! # Bounds
//! At most [`Config::max_transactions`] transactions are kept; a new request past it is
//! answered `503` with `Retry-After` and forgotten. A request that starts work (no To tag, not
//! a CANCEL) finds only seven eighths of the table ([`IN_DIALOG_RESERVE`]), and none while the
//! driver reports its socket backlogged ([`Transactions::set_shedding`]): under a flood of new
//! calls, the BYEs and ACKs of the calls already taken on still get through. Before refusing,
//! the oldest transactions that only absorb retransmissions are ended early. Every transaction ends by a timer but two,
//! which end when the TU acts: an INVITE server transaction in Proceeding (the TU answers it)
//! and an INVITE client transaction in Proceeding (the TU cancels it; once cancelled, it ends
//! 64·T1 after the CANCEL if no final response came, §9.1). Retransmissions are bounded by
//! the timers (at the defaults, at most 6 retransmissions of an INVITE, 10 of a non-INVITE
//! request, 10 of a final response).
//! Reliable provisional responses (RFC 3262, PRACK) are not supported.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, trace};

use crate::wire::{HeaderName, Headers, Message, Method, Request, Response, Transport, Via};

mod client;
mod config;
mod server;
mod timer;

use client::Client;
pub use config::{Config, ConfigError, MAX_T1, Stats, TIMER_D};
use server::Server;
use timer::{Owner, Timers};

/// One in this many of [`Config::max_transactions`] is kept for requests within a dialog and
/// CANCELs: a flood of new requests fills the table only to the rest, and a BYE still finds room.
pub const IN_DIALOG_RESERVE: usize = 8;

/// The branch prefix of RFC 3261 §8.1.1.7 (the "magic cookie").
pub const MAGIC_COOKIE: &str = "z9hG4bK";

/// A client transaction (a request this endpoint sent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientTx(u64);

/// A server transaction (a request this endpoint received).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServerTx(u64);

impl fmt::Display for ClientTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

impl fmt::Display for ServerTx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s{}", self.0)
    }
}

/// A datagram (or a message for a stream) to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Where to.
    pub to: SocketAddr,
    /// Over what.
    pub transport: Transport,
    /// The encoded message.
    pub bytes: Vec<u8>,
}

/// What the layer reports to the TU.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A new request for the TU (not a retransmission). ACK to a 2xx and a stray ACK come here
    /// too with `tx: None` (§17.2.1: they are not part of the INVITE server transaction).
    Request {
        /// The server transaction to answer on ([`Transactions::respond`]); `None` for an ACK.
        tx: Option<ServerTx>,
        /// The source address.
        from: SocketAddr,
        /// The transport it came over.
        transport: Transport,
        /// The request, its top Via with `received` and `rport` filled in.
        request: Request,
    },
    /// A CANCEL matched a pending INVITE server transaction: the layer already answered the
    /// CANCEL 200 (§9.2); the TU must answer the INVITE 487.
    Cancelled {
        /// The INVITE's server transaction.
        invite: ServerTx,
    },
    /// A response for a client transaction (provisional and final; for INVITE every 2xx
    /// retransmission too, since the TU must ACK each, §13.2.2.4).
    Response {
        /// The client transaction.
        tx: ClientTx,
        /// The response.
        response: Response,
    },
    /// The client transaction timed out (Timer B or F, CANCEL's 64·T1 guard), its transport
    /// failed ([`Transactions::transport_failed`]), or the table was full when it was started:
    /// treat as 408.
    Timeout {
        /// The client transaction.
        tx: ClientTx,
    },
    /// A server transaction ended without the ACK to its final response: Timer H for a
    /// 300–699, Timer L for a 2xx (the TU should then end the dialog with BYE, §13.3.1.4).
    AckLost {
        /// The INVITE's server transaction.
        tx: ServerTx,
    },
}

/// Every client and server transaction of one SIP endpoint. See the [module](self) docs for
/// the loop that drives it.
#[derive(Debug)]
pub struct Transactions {
    config: Config,
    rng: StdRng,
    next_id: u64,
    clients: HashMap<u64, Client>,
    client_keys: HashMap<(String, Method), u64>,
    servers: HashMap<u64, Server>,
    /// Server transactions whose work is done, oldest first ([`Self::linger`]).
    lingering: VecDeque<u64>,
    /// Whether new requests that start work are answered `503` ([`Self::set_shedding`]).
    shedding: bool,
    server_keys: HashMap<ServerKey, u64>,
    /// INVITE server transactions in Accepted by (Call-ID, CSeq number), for the ACK to a 2xx.
    accepted: HashMap<(String, u32), u64>,
    timers: Timers,
    transmits: VecDeque<Outgoing>,
    events: VecDeque<Event>,
    stats: Stats,
}

/// What identifies a server transaction (§17.2.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ServerKey {
    branch: String,
    host: String,
    port: u16,
    method: Method,
}

impl ServerKey {
    /// The key of a request with top Via `via` (an ACK is keyed as its INVITE), or `None`
    /// without a branch.
    fn of(via: &Via, method: &Method) -> Option<Self> {
        let method = match method {
            Method::Ack => Method::Invite,
            m => m.clone(),
        };
        Some(Self {
            branch: via.branch()?.to_owned(),
            host: via.host.to_ascii_lowercase(),
            port: via.port.unwrap_or(default_port(via.transport)),
            method,
        })
    }
}

/// The port of §18.2.2 (and §19.1.2) when a Via names none.
fn default_port(transport: Transport) -> u16 {
    match transport {
        Transport::Tls => 5061,
        _ => 5060,
    }
}

/// Whether `transport` is reliable (§17: Timers A, E, G unused; D, I, J, K zero).
fn reliable(transport: Transport) -> bool {
    !matches!(transport, Transport::Udp)
}

/// `headers` with its top Via replaced by `top` (or `top` put above the others when
/// `insert`), every Via on a line of its own where the first one was.
fn with_top_via(headers: &Headers, top: &Via, insert: bool) -> Headers {
    let mut rest: Vec<String> = headers
        .get_all(&HeaderName::Via)
        .map(str::to_owned)
        .collect();
    if !insert && !rest.is_empty() {
        rest.remove(0);
    }
    let mut out = Headers::new();
    let mut placed = false;
    for (name, value) in headers.iter() {
        if *name == HeaderName::Via {
            if !placed {
                placed = true;
                out.push(HeaderName::Via, top.to_string());
                for v in rest.drain(..) {
                    out.push(HeaderName::Via, v);
                }
            }
        } else {
            out.push(name.clone(), value);
        }
    }
    if !placed {
        // No Via at all: the new one goes first, where §7.3.1 readers expect it.
        let mut first = Headers::new();
        first.push(HeaderName::Via, top.to_string());
        for (name, value) in out.iter() {
            first.push(name.clone(), value);
        }
        out = first;
    }
    out
}

impl Transactions {
    /// An empty layer.
    pub fn new(config: Config) -> Self {
        Self {
            rng: StdRng::seed_from_u64(config.rng_seed),
            config,
            next_id: 1,
            clients: HashMap::new(),
            client_keys: HashMap::new(),
            servers: HashMap::new(),
            lingering: VecDeque::new(),
            shedding: false,
            server_keys: HashMap::new(),
            accepted: HashMap::new(),
            timers: Timers::default(),
            transmits: VecDeque::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A message arrived from `from` over `transport` (the driver parsed it; a message that
    /// did not parse is the driver's to answer, with [`Transactions::send_stateless`]).
    pub fn handle_message(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        message: Message,
    ) {
        match message {
            Message::Request(request) => self.handle_request(now, from, transport, request),
            Message::Response(response) => self.handle_response(now, response),
        }
    }

    /// Sent outside any transaction: the ACK to a 2xx and stateless answers (to a malformed
    /// request).
    pub fn send_stateless(&mut self, to: SocketAddr, transport: Transport, message: &Message) {
        self.stats.stateless_sent += 1;
        trace!(%to, %transport, "stateless send");
        self.transmit(to, transport, message.encode());
    }

    /// Sending to `to` over `transport` failed (a TCP connection refused or lost, an ICMP
    /// unreachable): every client transaction to it ends with [`Event::Timeout`] (§17.1.1.2,
    /// §17.1.2.2: a transport error is reported as a timeout) and every server transaction
    /// answering it ends (§17.2.4), counted in [`Stats::transport_failures`].
    pub fn transport_failed(&mut self, to: SocketAddr, transport: Transport) {
        let mut clients: Vec<u64> = self
            .clients
            .iter()
            .filter(|(_, c)| c.to == to && c.transport == transport)
            .map(|(&id, _)| id)
            .collect();
        clients.sort_unstable();
        for id in clients {
            debug!(tx = %ClientTx(id), %to, "transport failed");
            self.stats.transport_failures += 1;
            self.events.push_back(Event::Timeout { tx: ClientTx(id) });
            self.end_client(id);
        }
        let servers: Vec<u64> = self
            .servers
            .iter()
            .filter(|(_, s)| s.to == to && s.transport == transport)
            .map(|(&id, _)| id)
            .collect();
        for id in servers {
            debug!(tx = %ServerTx(id), %to, "transport failed");
            self.stats.transport_failures += 1;
            self.end_server(id);
        }
    }

    /// Fires every timer due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        while let Some((owner, timer)) = self.timers.pop_due(now) {
            match owner {
                Owner::Client(id) => self.client_timer(now, id, timer),
                Owner::Server(id) => self.server_timer(now, id, timer),
            }
        }
    }

    /// When [`Transactions::handle_timeout`] must next be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Outgoing> {
        self.transmits.pop_front()
    }

    /// The next event for the TU.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// Transactions kept now (client and server).
    pub fn len(&self) -> usize {
        self.clients.len() + self.servers.len()
    }

    /// Whether no transaction is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn full(&self) -> bool {
        self.len() >= self.config.max_transactions
    }

    /// The most transactions a new request may find before it is refused: all of
    /// [`Config::max_transactions`] for a request within a dialog (a To tag) or a CANCEL, which
    /// end work already taken on; [`IN_DIALOG_RESERVE`] less for the rest, which start new work.
    fn limit_for(&self, starts_work: bool) -> usize {
        let max = self.config.max_transactions;
        if starts_work {
            max - max / IN_DIALOG_RESERVE
        } else {
            max
        }
    }

    /// Whether fewer than `limit` transactions are kept once the oldest of those whose work is
    /// done have made room ([`Server::evictable`]: a completed non-INVITE over UDP, Timer J,
    /// 32 s; an INVITE confirmed by its ACK, Timer I; an INVITE whose 2xx was ACKed, Timer L,
    /// 32 s; an INVITE refused and waiting for its ACK, Timer H, 32 s). At 800 registrations a
    /// second the first kind alone would hold 51,200 slots, and a flood of INVITEs refused
    /// `503` by a load generator that never ACKs them would fill the table with the last.
    fn room_after_eviction(&mut self, limit: usize) -> bool {
        while self.len() >= limit {
            let Some(id) = self.lingering.pop_front() else {
                return false;
            };
            if self.servers.get(&id).is_some_and(Server::evictable) {
                self.end_server(id);
                self.stats.evicted_completed += 1;
            }
        }
        true
    }

    /// Tells the layer whether its socket is backlogged (the driver could not empty it for a
    /// while): while it is, new requests that would start work (no To tag, not a CANCEL) are
    /// answered `503` with `Retry-After` at once, counted in [`Stats::shed`], so that what is
    /// left of the time goes to the dialogs and transactions already taken on.
    pub fn set_shedding(&mut self, on: bool) {
        if on != self.shedding {
            debug!(on, "shedding new requests");
        }
        self.shedding = on;
    }

    /// A server transaction's work is done ([`Server::evictable`]):
    /// the oldest of those are the first to go when the table is full. Ids already ended are
    /// dropped from the front; past twice the table's size the queue is compacted, so it stays
    /// bounded even when a long-lived id (Timer L) holds the front while shorter ones (Timer I)
    /// end behind it.
    fn linger(&mut self, id: u64) {
        while self
            .lingering
            .front()
            .is_some_and(|f| !self.servers.contains_key(f))
        {
            self.lingering.pop_front();
        }
        self.lingering.push_back(id);
        if self.lingering.len() > 2 * self.config.max_transactions {
            let servers = &self.servers;
            self.lingering.retain(|l| servers.contains_key(l));
        }
    }

    fn id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    fn transmit(&mut self, to: SocketAddr, transport: Transport, bytes: Vec<u8>) {
        self.transmits.push_back(Outgoing {
            to,
            transport,
            bytes,
        });
    }

    /// A fresh token of 16 hex digits (branches and tags).
    fn token(&mut self) -> String {
        format!("{:016x}", self.rng.r#gen::<u64>())
    }

    /// A stateless response to `request` from `from` (the layer's own: `400`, `503`).
    fn answer_stateless(
        &mut self,
        from: SocketAddr,
        transport: Transport,
        request: &Request,
        status: u16,
        reason: &str,
        extra: Option<(HeaderName, String)>,
    ) {
        if request.method == Method::Ack {
            return; // never answered (§17.2.1)
        }
        let tag = self.token();
        let mut response = Response::to_request(request, status, reason, Some(&tag));
        if let Some((name, value)) = extra {
            response.headers.push(name, value);
        }
        let to = request
            .headers
            .top_via()
            .map_or(from, |via| server::destination(from, transport, &via));
        debug!(%to, status, "stateless answer");
        self.stats.responses_sent += 1;
        self.transmit(to, transport, response.encode());
    }
}

#[cfg(test)]
mod tests;
