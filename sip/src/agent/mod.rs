//! The user agent: SIP phones as stations of the gateway [`model`](gateway_control::model).
//!
//! The station manager drives a SIP phone exactly as it drives an analog line behind a media
//! gateway. The agent is one gateway (named in [`Config::gateway`], `sip` in the appliance) whose
//! lines are the users' SIP user names: line `sip/alice` is every phone registered as `alice`.
//! It translates the model to SIP and back:
//!
//! | model | SIP |
//! | --- | --- |
//! | [`Command::Ring`] | an INVITE without an offer to every registered contact of the user (forking): first to answer wins, the others are cancelled |
//! | [`Event::OffHook`] | a 200 to that INVITE, or an INVITE from the phone (dial-in) |
//! | [`Command::CreateConnection`] | our SDP answer: in the ACK of the phone's 200 (its offer came in the 200: RFC 3261 §13.2.1 delayed offer), or in our 200 to the phone's INVITE |
//! | [`Event::ConnectionCreated`] | the phone's side of the media, from its offer |
//! | [`Command::DeleteConnection`] | BYE, then [`Event::ConnectionDeleted`] and [`Event::OnHook`] |
//! | [`Event::OnHook`] | BYE (or CANCEL) from the phone |
//! | [`Event::Digit`] | SIP INFO (`application/dtmf-relay`, `application/dtmf`); RFC 4733 digits come through the media as on every line |
//! | [`Tone::MessageWaitingLamp`] / [`Command::StopTone`] | a `message-summary` NOTIFY (RFC 3842): in the phone's subscription if it has one, unsolicited otherwise |
//! | [`Command::Audit`], [`Command::AddLine`] | [`Event::LineStatus`]: off hook while a call is up |
//!
//! A ring to a user with no phone registered fails at once ([`Event::CommandFailed`] with code
//! 480), so a record request says why instead of waiting for the ring timeout.
//!
//! Calls a phone makes are [`Notice`]s to the appliance besides the model events: the listen
//! code (`*97`) is the user picking up to listen ([`Event::OffHook`], as on an analog line), and
//! another user's name is [`Notice::Dialled`]: the appliance asks the core for a recording from
//! the caller to that user, whose [`Command::Ring`] on the caller's line is then answered by the
//! call already waiting, so the record and intercom flows run unchanged.
//!
//! The agent also holds the [`Registrar`] (REGISTER, digest authentication) and the
//! [`Transactions`] layer; [`Notice::Registered`] and [`Notice::Unregistered`] say when a user's
//! first phone registers and their last one goes.
//!
//! # Decisions worth knowing
//! - **Delayed offer.** We ring with an INVITE carrying no SDP because the station manager opens
//!   its RTP port only when the phone answers; the phone puts its offer in the 200 and our answer
//!   goes in the ACK (RFC 3261 §13.2.1 makes every UA support this).
//! - **Hanging up ends the line's call.** The station manager deletes a connection only when it
//!   is done with the call, so the agent sends BYE and reports the line on hook.
//! - **Nothing to play.** A tone asked for on a call with no media (the phone picked up to
//!   listen and no message waits) cannot be heard: the call ends instead (BYE, or 480 "No
//!   Messages" to a phone's own call).

mod calls;
mod mwi;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use gateway_control::model::{Command, Event, GatewayId, LineId, Tone};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::debug;

use crate::registrar::{self, Accounts, Outcome, Registrar, RegistrarEvent};
use crate::transaction::{self, Transactions};
use crate::wire::{
    self, Answer, HeaderName, Message, Method, Request, Response, Transport, reason_phrase,
};

pub use calls::CallStats;
pub use mwi::{MAX_SUBSCRIPTION, MAX_SUBSCRIPTIONS};

/// How long a phone's call to another user waits for the ring the appliance's record request
/// makes on the caller's line before it is refused (480).
pub const DIAL_WAIT: Duration = Duration::from_secs(5);

/// The longest the ACK to a phone's 200 waits for the station's connection: past it the call
/// is acknowledged with its media refused and ended (the station had nothing to play).
pub const ACK_WAIT: Duration = Duration::from_millis(500);

/// The agent's settings.
#[derive(Clone)]
pub struct Config {
    /// The gateway id of the SIP lines (`sip`).
    pub gateway: GatewayId,
    /// Our address as phones reach it: Via, Contact and the host of our URIs.
    pub local: SocketAddr,
    /// The code a phone dials to listen to its user's messages (`*97`).
    pub listen_code: String,
    /// `User-Agent` and `Server`.
    pub user_agent: String,
    /// Where the registrar reads the users' secrets.
    pub accounts: Arc<dyn Accounts + Send + Sync>,
    /// The registrar's settings.
    pub registrar: registrar::Config,
    /// The transaction layer's settings.
    pub transactions: transaction::Config,
    /// How often each registered contact is sent an OPTIONS keep-alive (`None`: never).
    pub keepalive: Option<Duration>,
    /// Phones' calls being set up at once (waiting for the station's connection or for the
    /// ring of a record request); past it a new one is answered 503 with `Retry-After` at
    /// once, so that an overload sheds calls instead of letting every one time out.
    pub max_calls_setting_up: usize,
    /// The key the registrar's nonces are signed with (random at each start).
    pub nonce_key: [u8; 32],
    /// Seeds tags, Call-IDs and branches (tests give a fixed one).
    pub rng_seed: u64,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("gateway", &self.gateway)
            .field("local", &self.local)
            .field("listen_code", &self.listen_code)
            .field("keepalive", &self.keepalive)
            .finish_non_exhaustive()
    }
}

/// What the agent tells the appliance besides model events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Notice {
    /// The user's first phone registered: make its station.
    Registered {
        /// The SIP user name.
        user: String,
    },
    /// The user's last phone is gone (unregistered or expired).
    Unregistered {
        /// The SIP user name.
        user: String,
    },
    /// A phone of `user` called `target` (a user name that is not the listen code): ask for a
    /// recording from `user` to `target`. The call waits [`DIAL_WAIT`] for the ring on `line`.
    Dialled {
        /// The caller's line.
        line: LineId,
        /// The caller's SIP user name.
        user: String,
        /// What they dialled (the Request-URI's user part).
        target: String,
    },
}

/// A datagram or stream message to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Where.
    pub to: SocketAddr,
    /// Over which transport (TCP and TLS: the connection the phone opened to that address).
    pub transport: Transport,
    /// The encoded message.
    pub bytes: Vec<u8>,
}

/// The agent's counters (the transaction layer and the registrar count their own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Messages that could not be parsed (answered 400 where they could be, else dropped).
    pub malformed: u64,
    /// Requests answered 405 or 501 (a method we do not take).
    pub unsupported: u64,
    /// Requests refused because they did not authenticate (401 sent, or refused).
    pub unauthenticated: u64,
    /// The calls' counters.
    pub calls: CallStats,
    /// NOTIFYs sent for the message-waiting lamp.
    pub notifies: u64,
    /// SUBSCRIBEs to `message-summary` accepted.
    pub subscriptions: u64,
    /// OPTIONS keep-alives sent, and those answered.
    pub keepalives_sent: u64,
    /// OPTIONS keep-alives answered.
    pub keepalives_answered: u64,
}

/// The user agent (see the module's documentation).
pub struct Agent {
    config: Config,
    transactions: Transactions,
    registrar: Registrar,
    /// `now_ms` counts from here (the registrar's nonces).
    epoch: Instant,
    lines: HashMap<Arc<str>, calls::Line>,
    calls: calls::Calls,
    mwi: mwi::Mwi,
    events: VecDeque<Event>,
    notices: VecDeque<Notice>,
    out: VecDeque<Outgoing>,
    rng: StdRng,
    stats: Stats,
}

impl std::fmt::Debug for Agent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agent")
            .field("config", &self.config)
            .field("lines", &self.lines.len())
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Agent {
    /// An agent; its gateway is up at once ([`Event::GatewayUp`] is the first event).
    pub fn new(config: Config, now: Instant) -> Self {
        let registrar = Registrar::new(config.registrar.clone(), config.nonce_key);
        let transactions = Transactions::new(config.transactions.clone());
        let rng = StdRng::seed_from_u64(config.rng_seed);
        let mut events = VecDeque::new();
        events.push_back(Event::GatewayUp {
            gateway: config.gateway.clone(),
        });
        let mut mwi = mwi::Mwi::default();
        mwi.next_keepalive = config.keepalive.map(|every| now + every);
        Self {
            config,
            transactions,
            registrar,
            epoch: now,
            lines: HashMap::new(),
            calls: calls::Calls::default(),
            mwi,
            events,
            notices: VecDeque::new(),
            out: VecDeque::new(),
            rng,
            stats: Stats::default(),
        }
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The registrar (bindings, counters).
    pub fn registrar(&self) -> &Registrar {
        &self.registrar
    }

    /// The transaction layer's counters.
    pub fn transaction_stats(&self) -> transaction::Stats {
        self.transactions.stats()
    }

    /// The agent's own counters.
    pub fn stats(&self) -> Stats {
        Stats {
            calls: self.calls.stats,
            ..self.stats
        }
    }

    /// Every counter of the agent, its registrar and its transaction layer as `(kind, value)`,
    /// for `/metrics`.
    pub fn counters(&self) -> Vec<(&'static str, u64)> {
        let s = self.stats();
        let r = self.registrar.stats();
        let mut out = vec![
            ("unparsable", s.malformed),
            ("unsupported", s.unsupported),
            ("unauthenticated", s.unauthenticated),
            ("rings", s.calls.rings),
            ("ring_no_phone", s.calls.no_phone),
            ("answered", s.calls.answered),
            ("dial_in", s.calls.dial_in),
            ("dialled", s.calls.dialled),
            ("hangups_by_phone", s.calls.hangups_by_phone),
            ("hangups_by_us", s.calls.hangups_by_us),
            ("no_common_codec", s.calls.no_common_codec),
            ("info_digits", s.calls.info_digits),
            ("calls_shed", s.calls.shed),
            ("notifies", s.notifies),
            ("subscriptions", s.subscriptions),
            ("keepalives_sent", s.keepalives_sent),
            ("keepalives_answered", s.keepalives_answered),
            ("reg_registered", r.registered),
            ("reg_refreshed", r.refreshed),
            ("reg_removed", r.removed),
            ("reg_expired", r.expired),
            ("reg_evicted", r.evicted),
            ("reg_challenged", r.challenged),
            ("reg_stale", r.stale),
            ("reg_auth_failed", r.auth_failed),
            ("reg_rate_limited", r.rate_limited),
            ("reg_malformed", r.malformed),
            ("reg_forbidden", r.forbidden),
            ("reg_too_brief", r.too_brief),
            ("reg_out_of_order", r.out_of_order),
            ("reg_full", r.full),
            ("reg_authenticated", r.authenticated),
        ];
        out.extend(self.transactions.stats().counters());
        out
    }

    fn now_ms(&self, now: Instant) -> u64 {
        u64::try_from(now.saturating_duration_since(self.epoch).as_millis()).unwrap_or(u64::MAX)
    }

    fn line_id(&self, user: &str) -> LineId {
        LineId::new(self.config.gateway.clone(), user)
    }

    fn token(&mut self) -> String {
        format!("{:016x}", self.rng.r#gen::<u64>())
    }

    /// A whole message arrived from `from` (a UDP datagram, or one framed off a TCP stream).
    pub fn handle_message(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        bytes: &[u8],
    ) {
        match wire::parse(bytes) {
            Ok(message) => self
                .transactions
                .handle_message(now, from, transport, message),
            Err(e) => {
                self.stats.malformed += 1;
                debug!(%from, error = %e, "malformed SIP message");
                if let Answer::Respond(status) = e.answer()
                    && let Some(response) = wire::error_response(bytes, status, &e.to_string())
                {
                    self.transactions
                        .send_stateless(from, transport, &Message::Response(response));
                }
            }
        }
        self.drain(now);
    }

    /// A message already framed and parsed (off a TCP stream).
    pub fn handle_parsed(
        &mut self,
        now: Instant,
        from: SocketAddr,
        transport: Transport,
        message: Message,
    ) {
        self.transactions
            .handle_message(now, from, transport, message);
        self.drain(now);
    }

    /// Whether the driver's socket is backlogged: while it is, new requests that start work
    /// (a phone's new call, a REGISTER, a SUBSCRIBE) are answered `503` with `Retry-After` before
    /// any authentication or call set-up, and requests within dialogs still get through. See
    /// [`Transactions::set_shedding`](crate::transaction::Transactions::set_shedding).
    pub fn set_shedding(&mut self, on: bool) {
        self.transactions.set_shedding(on);
    }

    /// A model command from the station manager.
    pub fn handle_command(&mut self, now: Instant, command: Command) {
        let Some(line) = command.line().cloned() else {
            return;
        };
        if line.gateway != self.config.gateway {
            self.events.push_back(Event::CommandFailed {
                line,
                call: command.call(),
                code: 500,
                reason: "not a SIP line".into(),
            });
            return;
        }
        match command {
            Command::Ring {
                cadence, caller_id, ..
            } => self.ring(now, &line, cadence, caller_id.as_ref()),
            Command::StopRing { .. } => self.stop_ring(now, &line),
            Command::PlayTone {
                tone: Tone::MessageWaitingLamp,
                ..
            } => self.set_lamp(now, &line, true),
            Command::PlayTone { tone, .. } => self.tone(now, &line, tone),
            Command::StopTone { .. } => self.set_lamp(now, &line, false),
            Command::CreateConnection {
                call,
                remote,
                ptime,
                ..
            } => self.connect(now, &line, call, remote, ptime),
            Command::ModifyConnection { call, .. } => {
                // The direction is the media engine's to keep; the phone's side stays.
                self.events
                    .push_back(Event::ConnectionModified { line, call });
            }
            Command::DeleteConnection { call, .. } => self.hang_up(now, &line, call),
            Command::Audit { .. } | Command::AddLine { .. } => {
                self.lines.entry(line.endpoint.clone()).or_default().watched = true;
                let off_hook = self.is_off_hook(&line.endpoint);
                self.events.push_back(Event::LineStatus { line, off_hook });
            }
            Command::RemoveLine { .. } => {
                if let Some(l) = self.lines.get_mut(&line.endpoint) {
                    l.watched = false;
                }
                self.stop_ring(now, &line);
                self.end_line_calls(now, &line);
            }
            Command::CollectDigits { .. } => self.events.push_back(Event::CommandFailed {
                line,
                call: None,
                code: 501,
                reason: "a SIP phone dials its own numbers".into(),
            }),
            _ => {}
        }
        self.drain(now);
    }

    /// The instant from [`Self::poll_timeout`] has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.transactions.handle_timeout(now);
        self.registrar.handle_timeout(now);
        self.calls_timeout(now);
        self.keepalive(now);
        self.drain(now);
    }

    /// When [`Self::handle_timeout`] is next wanted.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.transactions.poll_timeout(),
            self.registrar.poll_timeout(),
            self.calls_poll_timeout(),
            self.mwi.next_keepalive,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The next message to send.
    pub fn poll_transmit(&mut self) -> Option<Outgoing> {
        if let Some(o) = self.out.pop_front() {
            return Some(o);
        }
        self.transactions.poll_transmit().map(|o| Outgoing {
            to: o.to,
            transport: o.transport,
            bytes: o.bytes,
        })
    }

    /// The next model event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// The next notice for the appliance.
    pub fn poll_notice(&mut self) -> Option<Notice> {
        self.notices.pop_front()
    }

    /// Moves what the transaction layer and the registrar produced into the agent.
    fn drain(&mut self, now: Instant) {
        while let Some(e) = self.transactions.poll_event() {
            match e {
                transaction::Event::Request {
                    tx,
                    from,
                    transport,
                    request,
                } => self.on_request(now, tx, from, transport, request),
                transaction::Event::Cancelled { invite } => self.on_cancelled(now, invite),
                transaction::Event::Response { tx, response } => {
                    self.on_response(now, tx, response);
                }
                transaction::Event::Timeout { tx } => self.on_client_timeout(now, tx),
                transaction::Event::AckLost { .. } => {}
            }
        }
        while let Some(e) = self.registrar.poll_event() {
            match e {
                RegistrarEvent::Registered { user } => {
                    self.mwi.registered(&user);
                    self.notices.push_back(Notice::Registered { user });
                }
                RegistrarEvent::Unregistered { user } => {
                    self.notices.push_back(Notice::Unregistered { user });
                }
                RegistrarEvent::ContactAdded { user } => self.mwi.registered(&user),
            }
        }
        self.mwi_flush(now);
    }

    fn respond(&mut self, now: Instant, tx: Option<transaction::ServerTx>, response: Response) {
        if let Some(tx) = tx {
            self.transactions.respond(now, tx, response);
        }
    }

    fn simple(&self, request: &Request, status: u16, to_tag: Option<&str>) -> Response {
        let mut r = Response::to_request(request, status, reason_phrase(status), to_tag);
        r.headers
            .push(HeaderName::Server, self.config.user_agent.clone());
        r
    }

    /// A request from a phone (past the transaction layer).
    fn on_request(
        &mut self,
        now: Instant,
        tx: Option<transaction::ServerTx>,
        from: SocketAddr,
        transport: Transport,
        request: Request,
    ) {
        match request.method {
            Method::Register => {
                let outcome = self.registrar.handle_register(
                    now,
                    self.now_ms(now),
                    from,
                    transport,
                    &request,
                    &*self.config.accounts.clone(),
                );
                if let Outcome::Respond(mut r) = outcome {
                    r.headers
                        .push(HeaderName::Server, self.config.user_agent.clone());
                    self.respond(now, tx, r);
                }
            }
            Method::Options => {
                let mut r = self.simple(&request, 200, None);
                r.headers.push(HeaderName::Allow, ALLOW);
                r.headers.push(HeaderName::Accept, "application/sdp");
                self.respond(now, tx, r);
            }
            Method::Invite => self.on_invite(now, tx, from, transport, request),
            Method::Ack => self.on_ack(now, &request),
            Method::Bye => self.on_bye(now, tx, &request),
            Method::Info => self.on_info(now, tx, &request),
            Method::Subscribe => self.on_subscribe(now, tx, from, transport, request),
            Method::Notify => {
                // Nothing is subscribed to from phones: accept and forget.
                let r = self.simple(&request, 200, None);
                self.respond(now, tx, r);
            }
            Method::Cancel => {
                // A CANCEL that matched nothing (the layer answers those that match).
                let r = self.simple(&request, 481, None);
                self.respond(now, tx, r);
            }
            _ => {
                self.stats.unsupported += 1;
                let mut r = self.simple(&request, 405, None);
                r.headers.push(HeaderName::Allow, ALLOW);
                self.respond(now, tx, r);
            }
        }
    }

    /// Authenticates a phone's request other than REGISTER: its SIP user, or `None` after the
    /// challenge or refusal was sent.
    fn authenticate(
        &mut self,
        now: Instant,
        tx: Option<transaction::ServerTx>,
        from: SocketAddr,
        request: &Request,
    ) -> Option<String> {
        let accounts = self.config.accounts.clone();
        match self
            .registrar
            .authenticate(self.now_ms(now), from, request, &*accounts)
        {
            Ok(user) => Some(user),
            Err(outcome) => {
                self.stats.unauthenticated += 1;
                if let Outcome::Respond(mut r) = outcome {
                    r.headers
                        .push(HeaderName::Server, self.config.user_agent.clone());
                    self.respond(now, tx, r);
                }
                None
            }
        }
    }

    fn is_off_hook(&self, user: &str) -> bool {
        self.calls.has_call(user)
    }
}

/// The first Contact's URI (a `Contact: *` or an unreadable one gives `None`).
fn contact_uri(headers: &wire::Headers) -> Option<wire::Uri> {
    headers.contacts().ok()?.into_iter().find_map(|c| match c {
        wire::Contact::Addr(a) => Some(a.uri),
        wire::Contact::Star => None,
    })
}

/// A From or To without its tag, and the tag (empty when there is none).
fn without_tag(mut a: wire::NameAddr) -> (wire::NameAddr, String) {
    let tag = a.tag().unwrap_or_default().to_owned();
    a.params.retain(|(k, _)| !k.eq_ignore_ascii_case("tag"));
    (a, tag)
}

/// The methods we take, for `Allow`.
pub const ALLOW: &str = "INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, SUBSCRIBE, NOTIFY, REGISTER";
