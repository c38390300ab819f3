//! The MEGACO media gateway controller core; see [`MediaGatewayController`].

mod build;
mod config;
mod inbound;
mod jobs;
mod replies;
mod stats;
#[cfg(test)]
mod tests;
mod trunk;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

pub use config::{
    Config, ConfigError, GatewayConfig, MAX_GATEWAYS, MAX_LINES_PER_GATEWAY, MAX_QUEUED_PER_LINE,
    valid_line_name, valid_mid,
};
pub use stats::Stats;
pub use trunk::{MAX_CALLER_ID_LEN, MAX_DIAL_DIGITS};

use super::encoding::{self, Encoding};
use super::transaction::{self, Transactions};
use super::{Body, ErrorCode, ErrorDescriptor, Message, MessageId, Transaction, TransactionId};
use crate::model::{CallId, Command, DownReason, Event, GatewayId, LineId};
use crate::{Controller, Transmit};
use config::MidKey;
use jobs::{Connection, Job};

/// The port an MG listens on when its mId does not say (H.248.1 Annex D: 2944 for text, 2945
/// for binary; Offhook's controller takes both on one port).
pub const DEFAULT_PORT: u16 = 2944;

/// How far behind the current RequestID an observed event may be and still count: an MG may
/// report an event armed by the previous Events descriptor while the Modify replacing it is
/// on its way.
const REQUEST_ID_WINDOW: u32 = 8;

/// Where and how a gateway is talked to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Peer {
    addr: SocketAddr,
    /// Over TCP (no retransmission).
    reliable: bool,
    encoding: Encoding,
}

/// A gateway's service state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    /// Not heard from since start (and not found at its configured address).
    Unregistered,
    /// Registered (or found); its ROOT audit is on its way: the answer reports `GatewayUp`.
    Auditing,
    Up,
    /// It said it is going out of service (ServiceChange Graceful or Forced).
    Out(DownReason),
    /// Requests to it timed out; it is probed every [`Config::probe_interval`].
    Unreachable,
}

/// What one line is armed for.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Arming {
    /// Off-hook (`al/of`).
    OnHook,
    /// On-hook, flash and each key (`al/on`, `al/fl`, `dd/ce` with a map every key completes).
    OffHook,
    /// On-hook, flash and a dialled number (`dd/ce` with this digit map).
    Collecting(crate::model::DigitMap),
    /// A trunk's line signalling for its phase ([`trunk`]).
    Trunk(trunk::Phase),
}

struct Line {
    name: Box<str>,
    /// Watched: configured or added, not removed.
    watched: bool,
    /// The gateway knows it (its audit did not fail with 430).
    present: bool,
    off_hook: bool,
    /// Collecting digits with this map (until `dd/ce` or on-hook).
    collect: Option<crate::model::DigitMap>,
    /// The RequestID of the first request that carried [`Self::collect`]'s map: a `dd/ce`
    /// under an earlier one crossed it, and is keys of their own.
    collect_from: u32,
    /// The last RequestID sent to it.
    request_id: u32,
    /// The context it is in, when connected.
    context: Option<u32>,
    /// Jobs waiting for the one in flight.
    queue: VecDeque<Job>,
    /// The transaction of its job in flight.
    busy: Option<TransactionId>,
    /// Watched as a trunk (FXO port), and where its call is.
    trunk: Option<trunk::Trunk>,
}

struct Gateway {
    id: GatewayId,
    key: MidKey,
    address: Option<IpAddr>,
    peer: Option<Peer>,
    service: Service,
    lines: Vec<Line>,
    /// Lowercase termination id → index in `lines`.
    by_name: HashMap<Box<str>, usize>,
    connections: HashMap<CallId, Connection>,
    /// Its keep-alive or probe timer.
    timer: Option<Instant>,
    /// Whether its ROOT audit (keep-alive, probe or registration) is in flight.
    auditing: bool,
    /// A ROOT audit is wanted once the reply being written has gone ([`MediaGatewayController::hold`]).
    audit_wanted: bool,
}

/// The MEGACO media gateway controller: a sans-IO [`Controller`] that accepts the
/// registrations of configured media gateways, keeps each of their lines audited and armed, and
/// translates between [`crate::model`] and H.248.1.
///
/// # Driving it
/// Like every core (see [`Controller`]), plus [`handle_stream_message`](Self::handle_stream_message)
/// for each message read from a TCP connection (framed by [`super::tpkt`]). A message is answered
/// in its own encoding (pretty or compact text, or binary), and every request the controller
/// sends to a gateway is in the encoding that gateway last used. [`MediaGatewayController::new`]
/// already queues a ROOT audit to each gateway configured with an address: drain before waiting.
///
/// # The dialogue
/// - A gateway registers with ServiceChange on ROOT (Restart, Failover or Disconnected) from a
///   configured mId (and from its configured address, if one is given); the reply is immediate.
///   The controller then audits ROOT; the answer makes it `GatewayUp`, and each line is audited
///   (an Error 430 marks it missing) and armed: `al/of{strict=state}` on-hook, so that a line
///   already off-hook reports at once; `al/on`, `al/fl` and `dd/ce` off-hook, with a digit map
///   that each key completes, or the map of the number being collected. Each line's RequestID grows with each
///   arming, and a Notify is taken for the last eight of them.
/// - Ring is `al/ri`, tones are `cg/*` (dial `dt`, ringback `rt`, busy `bt`, congestion `ct`
///   for reorder and failure, call waiting `cw`, warning `wt` for confirmation: cg has no
///   confirmation tone), all as Signals on the line in whatever context it is in; an empty
///   Signals descriptor stops them. The message-waiting lamp has no H.248.1 package: it fails
///   with 501.
/// - A connection is an Add of the line and of an ephemeral RTP termination (`$`) into a new
///   context (`$`), the RTP one with `Local` asking the gateway to choose (`$`) and `Remote`
///   pointing at our media; the reply's context number and Local SDP give
///   [`Event::ConnectionCreated`]. Deleting it subtracts both (the gateway deletes the context),
///   and the line is armed again in the null context.
/// - A ServiceChange Forced or Graceful on ROOT reports the gateway down; on a line it marks the
///   line missing until a Restart on it. A gateway is audited on ROOT every
///   [`Config::keepalive`]; a request that gets no reply reports it unreachable, and it is then
///   probed every [`Config::probe_interval`] until it answers or registers again.
///
/// # Decisions
/// - **One request in flight per line**, the rest queued in order: H.248 leaves the order of
///   concurrent transactions to the MG, and a Signals{} must not overtake the al/ri it stops.
///   Different lines go in parallel.
/// - **Who may register**: only configured mIds; a message from an unknown mId is dropped and
///   counted (answering every stranger would make the controller a reflector). Errors for
///   unreadable messages go only to addresses a configured gateway is known at.
/// - **The address of a gateway** is where its last message came from (and over which
///   transport); a ServiceChangeAddress naming another port or address is not followed (NAT
///   and the TCP connections make the source the only address known to work).
pub struct MediaGatewayController {
    own: OwnMid,
    gateways: Vec<Gateway>,
    transactions: Transactions,
    /// Requests in flight: their gateway and job.
    jobs: HashMap<TransactionId, (usize, Job)>,
    timers: BTreeSet<(Instant, usize)>,
    events: VecDeque<Event>,
    stats: Stats,
    keepalive: Duration,
    probe_interval: Duration,
    /// While a request from a gateway is being executed, the requests it causes wait, so that
    /// the reply goes first.
    hold: bool,
}

/// The controller's own mId, owned.
#[derive(Debug, Clone)]
enum OwnMid {
    Ip(IpAddr, Option<u16>),
    Domain(String, Option<u16>),
    Device(String),
}

impl OwnMid {
    fn parse(text: &str) -> Option<Self> {
        let key = MidKey::parse(text)?;
        if let Some(ip) = key.base.strip_prefix('[').and_then(|s| s.strip_suffix(']')) {
            return Some(Self::Ip(ip.parse().ok()?, key.port));
        }
        if let Some(name) = key.base.strip_prefix('<').and_then(|s| s.strip_suffix('>')) {
            return Some(Self::Domain(name.to_owned(), key.port));
        }
        Some(Self::Device(key.base))
    }

    fn message_id(&self) -> MessageId<'_> {
        match self {
            Self::Ip(IpAddr::V4(a), p) => MessageId::Ip4(*a, *p),
            Self::Ip(IpAddr::V6(a), p) => MessageId::Ip6(*a, *p),
            Self::Domain(n, p) => MessageId::Domain(n, *p),
            Self::Device(n) => MessageId::Device(n),
        }
    }
}

/// The comparable form of a message's mId.
fn key_of(mid: &MessageId<'_>) -> MidKey {
    let (base, port) = match *mid {
        MessageId::Ip4(a, p) => (format!("[{a}]"), p),
        MessageId::Ip6(a, p) => (format!("[{a}]"), p),
        MessageId::Domain(n, p) => (format!("<{}>", n.to_ascii_lowercase()), p),
        MessageId::Device(n) => (n.to_ascii_lowercase(), None),
        MessageId::Mtp(n) => (format!("mtp{{{}}}", n.to_ascii_lowercase()), None),
    };
    MidKey { base, port }
}

impl MediaGatewayController {
    /// A controller for `config`'s gateways. Those configured with an address are audited on
    /// ROOT at once (they may have registered with a controller that restarted since).
    pub fn new(config: Config, now: Instant) -> Result<Self, ConfigError> {
        let keys = config.validate()?;
        let own =
            OwnMid::parse(&config.mid).ok_or_else(|| ConfigError::OwnMid(config.mid.clone()))?;
        let gateways = config
            .gateways
            .iter()
            .zip(keys)
            .map(|(g, key)| {
                let mut gw = Gateway {
                    id: g.id.clone(),
                    address: g.address,
                    peer: g.address.map(|ip| Peer {
                        addr: SocketAddr::new(ip, key.port.unwrap_or(DEFAULT_PORT)),
                        reliable: false,
                        encoding: Encoding::Pretty,
                    }),
                    key,
                    service: Service::Unregistered,
                    lines: Vec::new(),
                    by_name: HashMap::new(),
                    connections: HashMap::new(),
                    timer: None,
                    auditing: false,
                    audit_wanted: false,
                };
                for l in &g.lines {
                    gw.add_line(l);
                }
                gw
            })
            .collect();
        let mut core = Self {
            own,
            gateways,
            transactions: Transactions::new(config.transaction.clone(), config.rng_seed),
            jobs: HashMap::new(),
            timers: BTreeSet::new(),
            events: VecDeque::new(),
            stats: Stats::default(),
            keepalive: config.keepalive,
            probe_interval: config.probe_interval,
            hold: false,
        };
        for g in 0..core.gateways.len() {
            if core.gateways[g].peer.is_some() {
                core.audit_root(now, g);
            }
        }
        Ok(core)
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The transaction layer's counters.
    pub fn transaction_stats(&self) -> &transaction::Stats {
        self.transactions.stats()
    }

    /// Whether a gateway is up (registered and answering).
    pub fn is_up(&self, gateway: &GatewayId) -> bool {
        self.gateways
            .iter()
            .any(|g| &g.id == gateway && g.service == Service::Up)
    }

    /// A gateway's jobs waiting on its lines, and its requests in flight (`None` if it is not
    /// configured). At most [`MAX_QUEUED_PER_LINE`] wait per line, one is in flight per line and
    /// one more for ROOT.
    pub fn backlog(&self, gateway: &GatewayId) -> Option<(usize, usize)> {
        let g = self.gateways.iter().position(|g| &g.id == gateway)?;
        let queued = self.gateways[g].lines.iter().map(|l| l.queue.len()).sum();
        let in_flight = self.jobs.values().filter(|(owner, _)| *owner == g).count();
        Some((queued, in_flight))
    }

    /// A message read from a TCP connection with `from` (TPKT-framed, Annex D.2): handled as a
    /// datagram, but what is sent back to `from` is never retransmitted.
    pub fn handle_stream_message(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        self.handle_message(now, from, true, data);
    }

    fn handle_message(&mut self, now: Instant, from: SocketAddr, reliable: bool, data: &[u8]) {
        self.stats.messages_received += 1;
        let Some(encoding) = encoding::detect(data) else {
            self.stats.malformed += 1;
            debug!(%from, len = data.len(), "not a MEGACO message");
            self.answer_malformed(
                from,
                Encoding::Pretty,
                None,
                ErrorCode::SYNTAX_ERROR_IN_MESSAGE,
                "not a MEGACO message",
            );
            return;
        };
        if encoding.is_text() {
            self.stats.text_received += 1;
        } else {
            self.stats.binary_received += 1;
        }
        let decoded = encoding::decode(data, encoding);
        let message = match decoded.message() {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed += 1;
                debug!(%from, error = %e.text, "unreadable MEGACO message");
                self.answer_malformed(from, encoding, e.transaction, e.code, &e.text);
                return;
            }
        };
        let key = key_of(&message.mid);
        let Some(g) = self.gateways.iter().position(|gw| gw.key.matches(&key)) else {
            self.stats.unknown_mid += 1;
            debug!(%from, mid = key.base, "message from an mId no gateway is configured with");
            return;
        };
        if self.gateways[g].address.is_some_and(|ip| ip != from.ip()) {
            self.stats.wrong_address += 1;
            warn!(gateway = %self.gateways[g].id, %from, "message with a gateway's mId from another address");
            return;
        }
        let peer = Peer {
            addr: from,
            reliable,
            encoding,
        };
        self.gateways[g].peer = Some(peer);
        let transactions = match &message.body {
            Body::Transactions(t) => t,
            Body::Error(e) => {
                self.stats.error_replies += 1;
                warn!(gateway = %self.gateways[g].id, code = e.code.0, text = e.text.unwrap_or(""), "the gateway could not read a message of ours");
                return;
            }
        };
        for t in transactions {
            match t {
                Transaction::Request(r) => self.on_request(now, g, peer, r),
                Transaction::Reply(r) => self.on_reply(now, g, peer, r),
                Transaction::Pending(id) => {
                    self.transactions.handle_pending(now, from, *id);
                }
                Transaction::ResponseAck(ranges) => {
                    self.transactions.handle_response_ack(now, from, ranges);
                }
            }
        }
    }

    /// Answers an unreadable message with an error, only to an address a gateway is known at.
    fn answer_malformed(
        &mut self,
        to: SocketAddr,
        encoding: Encoding,
        transaction: Option<TransactionId>,
        code: ErrorCode,
        text: &str,
    ) {
        let known = self
            .gateways
            .iter()
            .any(|g| g.address == Some(to.ip()) || g.peer.is_some_and(|p| p.addr == to));
        if !known {
            return;
        }
        let text = sanitize(text);
        let error = ErrorDescriptor {
            code,
            text: Some(&text),
        };
        let body = match transaction {
            Some(id) => Body::Transactions(vec![Transaction::Reply(super::TransactionReply {
                id,
                imm_ack_required: false,
                result: super::ReplyResult::Error(error),
            })]),
            None => Body::Error(error),
        };
        let message = Message {
            version: 1,
            mid: self.own.message_id(),
            body,
        };
        // In the sender's encoding; in text if that cannot carry it (an error text the BER
        // encoder refuses).
        let mut out = Vec::new();
        if encoding::encode(&message, encoding, &mut out).is_err() {
            out.clear();
            if encoding::encode(&message, Encoding::Pretty, &mut out).is_err() {
                return;
            }
        }
        self.stats.errors_sent += 1;
        self.transactions.send_raw(to, out);
    }

    fn set_timer(&mut self, g: usize, at: Option<Instant>) {
        if let Some(old) = self.gateways[g].timer.take() {
            self.timers.remove(&(old, g));
        }
        if let Some(at) = at {
            self.timers.insert((at, g));
            self.gateways[g].timer = Some(at);
        }
    }

    fn gateway_up(&mut self, now: Instant, g: usize) {
        let was = self.gateways[g].service;
        self.gateways[g].service = Service::Up;
        self.set_timer(g, Some(now + self.keepalive));
        if was != Service::Up {
            info!(gateway = %self.gateways[g].id, "media gateway up");
            self.events.push_back(Event::GatewayUp {
                gateway: self.gateways[g].id.clone(),
            });
            for l in 0..self.gateways[g].lines.len() {
                if self.gateways[g].lines[l].watched {
                    self.enqueue(now, g, l, Job::AuditLine { report: true });
                    self.enqueue(now, g, l, Job::Arm);
                }
            }
        }
    }

    /// The gateway went away (`reason`): its connections are lost and its queued jobs fail.
    fn gateway_down(&mut self, now: Instant, g: usize, service: Service, reason: DownReason) {
        let was = self.gateways[g].service;
        self.gateways[g].service = service;
        self.lose_state(g, "the media gateway went out of service");
        if matches!(was, Service::Up | Service::Auditing) {
            warn!(gateway = %self.gateways[g].id, ?reason, "media gateway down");
            self.events.push_back(Event::GatewayDown {
                gateway: self.gateways[g].id.clone(),
                reason,
            });
        }
        let at = (service == Service::Unreachable && self.gateways[g].peer.is_some())
            .then(|| now + self.probe_interval);
        self.set_timer(g, at);
    }

    /// Forgets every connection (reported lost) and fails every queued job of a gateway.
    fn lose_state(&mut self, g: usize, why: &str) {
        let gw = &mut self.gateways[g];
        let mut lost: Vec<(CallId, Connection)> = gw.connections.drain().collect();
        lost.sort_by_key(|(c, _)| *c);
        for (call, conn) in lost {
            self.events.push_back(Event::ConnectionLost {
                line: LineId::new(
                    self.gateways[g].id.clone(),
                    &self.gateways[g].lines[conn.line].name,
                ),
                call,
                reason: why.to_owned(),
            });
        }
        for l in 0..self.gateways[g].lines.len() {
            let line = &mut self.gateways[g].lines[l];
            line.context = None;
            line.off_hook = false;
            line.collect = None;
            if line.trunk.is_some() {
                line.trunk = Some(trunk::Trunk::IDLE);
            }
            let queued: Vec<Job> = line.queue.drain(..).collect();
            for job in queued {
                self.job_failed(g, l, &job, ErrorCode::NOT_READY.0, why);
            }
        }
    }

    fn line_id(&self, g: usize, l: usize) -> LineId {
        LineId::new(self.gateways[g].id.clone(), &self.gateways[g].lines[l].name)
    }

    fn find_line(&self, g: usize, name: &str) -> Option<usize> {
        self.gateways[g]
            .by_name
            .get(name.to_ascii_lowercase().as_str())
            .copied()
    }
}

impl Gateway {
    fn add_line(&mut self, name: &str) -> Option<usize> {
        let key: Box<str> = name.to_ascii_lowercase().into();
        if let Some(&l) = self.by_name.get(&key) {
            self.lines[l].watched = true;
            return Some(l);
        }
        if self.lines.len() >= MAX_LINES_PER_GATEWAY {
            return None;
        }
        self.by_name.insert(key, self.lines.len());
        self.lines.push(Line {
            name: name.into(),
            watched: true,
            present: true,
            off_hook: false,
            collect: None,
            collect_from: 0,
            request_id: 0,
            context: None,
            queue: VecDeque::new(),
            busy: None,
            trunk: None,
        });
        Some(self.lines.len() - 1)
    }
}

/// An error text as a quoted string may carry it: printable ASCII without `"`, at most 80
/// characters.
fn sanitize(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic() && *c != '"' || *c == ' ')
        .take(80)
        .collect()
}

impl Controller for MediaGatewayController {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        self.handle_message(now, from, false, data);
    }

    fn handle_command(&mut self, now: Instant, command: Command) {
        self.command(now, command);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.transactions.handle_timeout(now);
        self.drain_transaction_events(now);
        while let Some(&(at, g)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            self.gateways[g].timer = None;
            match self.gateways[g].service {
                Service::Up | Service::Unreachable | Service::Unregistered => {
                    self.audit_root(now, g)
                }
                Service::Auditing | Service::Out(_) => {}
            }
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transactions.poll_transmit()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let ours = self.timers.first().map(|(at, _)| *at);
        match (ours, self.transactions.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
