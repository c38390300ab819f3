//! The simulated MG's sans-IO core: H.248 text on the control channel (through the shared
//! [`transaction`](gateway_control::megaco::transaction) layer), registration, the lines, their
//! contexts and RTP. Commands are carried out in [`super::execute`].

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, trace, warn};

use super::Config;
use super::announce::{encode, line_name};
use super::config::message_id;
use super::context::Context;
use super::line::{Effects, Line, Observation};
use super::reply::{ActionOut, build_reply};
use crate::analog::{LineCommand, Output};
use crate::{Transmit, Via};
use gateway_control::megaco::encoding::{self, DecodeError, Encoding};
use gateway_control::megaco::transaction::{self, ReplyOutcome, RequestOutcome, Transactions};
use gateway_control::megaco::{
    Body, Descriptor, ErrorCode, ErrorDescriptor, Message, MessageId, ReplyResult,
    ServiceChangeAddress, ServiceChangeParm, Transaction, TransactionId, TransactionReply,
    TransactionRequest,
};

/// What the gateway counts; every dropped input has a counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Transaction requests executed (duplicates excluded).
    pub requests: u64,
    /// Duplicate requests (answered again or dropped by the transaction layer).
    pub duplicates: u64,
    /// Messages that did not parse, dropped or answered with an error.
    pub malformed: u64,
    /// Commands answered with an error descriptor.
    pub refused: u64,
    /// Notify requests sent.
    pub notifications: u64,
    /// ServiceChange requests sent.
    pub service_changes: u64,
    /// Replies matching nothing we sent, dropped.
    pub unmatched_replies: u64,
    /// Requests we sent that were never answered.
    pub timeouts: u64,
    /// Message-level errors received from the controller.
    pub errors_received: u64,
    /// RTP datagrams for no connection, or unparseable, dropped.
    pub rtp_dropped: u64,
    /// Line commands refused (bad line, wrong hook state, no connection).
    pub line_commands_refused: u64,
}

/// Why the gateway announces itself (ServiceChange on ROOT).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Method {
    /// At start (`901 Cold Boot`).
    Restart,
    /// After losing its controller (`900 Service Restored`, §11.5).
    Disconnected,
    /// To a new controller the old one handed it to (`903 MGC Directed Change`).
    HandOff,
}

impl Method {
    pub(super) fn as_str(self) -> &'static str {
        match self {
            Self::Restart => "restart",
            Self::Disconnected => "disconnected",
            Self::HandOff => "handoff",
        }
    }
}

/// What an outgoing request was.
#[derive(Debug, Clone, Copy)]
pub(super) enum Sent {
    ServiceChange(Method),
    Notify { line: u16 },
}

/// The simulated analog media gateway, speaking H.248.
///
/// The driver's loop, in quinn's order:
/// 1. feed inputs: [`handle_datagram`](Self::handle_datagram) for each message from the
///    controller (a UDP datagram, or one TPKT's payload over TCP),
///    [`handle_rtp`](Self::handle_rtp) for RTP on a connection's socket,
///    [`handle_line`](Self::handle_line) for a line command, and
///    [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout) is due;
/// 2. drain [`poll_transmit`](Self::poll_transmit) and send each message from its [`Via`];
/// 3. drain [`poll_output`](Self::poll_output) and report each [`Output`];
/// 4. wait for the next input or [`poll_timeout`](Self::poll_timeout).
///
/// Creating the gateway queues its registration (`ServiceChange` on ROOT, `Method = Restart`),
/// retransmitted until the controller replies, and sent again after
/// [`Config::restart_retry`] if it never does or refuses.
pub struct Mg {
    pub(crate) config: Config,
    pub(super) mid: String,
    pub(crate) lines: Vec<Line>,
    pub(crate) contexts: BTreeMap<u32, Context>,
    pub(crate) next_context: u32,
    pub(crate) next_rtp: u16,
    pub(crate) rtp_ports: VecDeque<u16>,
    /// Local RTP port → (context, RTP termination name).
    pub(crate) by_port: HashMap<u16, (u32, String)>,
    pub(super) txn: Transactions,
    pub(crate) rng: StdRng,
    transmits: VecDeque<Transmit>,
    pub(crate) outputs: VecDeque<Output>,
    pub(super) controller: SocketAddr,
    pub(super) registered: bool,
    /// When to announce again, and how.
    pub(super) restart_at: Option<(Instant, Method)>,
    /// A ServiceChange awaits its reply.
    pub(super) restart_in_flight: bool,
    last_heard: Instant,
    pub(super) sent: HashMap<TransactionId, Sent>,
    pub(crate) observations: Vec<Observation>,
    pub(crate) stats: Stats,
}

impl std::fmt::Debug for Mg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mg")
            .field("mid", &self.mid)
            .field("lines", &self.lines.len())
            .field("contexts", &self.contexts.len())
            .field("registered", &self.registered)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Mg {
    /// A gateway with `config.lines` idle lines, registering with the controller at `now`.
    pub fn new(config: Config, now: Instant) -> Self {
        let lines = (1..=config.lines)
            .map(|n| {
                let mut line = Line::new(n, line_name(config.encoding, n));
                line.fxo = config
                    .fxo
                    .is_fxo(n)
                    .then(|| super::trunk::Fxo::new(n, &config));
                line
            })
            .collect();
        let txn = Transactions::new(config.transactions.clone(), config.seed);
        let mut rng = StdRng::seed_from_u64(config.seed ^ 0x4d45_4741_434f);
        let next_context = rng.gen_range(1..=9999);
        let mid = config.mid_text();
        let controller = config.controller;
        let mut mg = Self {
            config,
            mid,
            lines,
            contexts: BTreeMap::new(),
            next_context,
            next_rtp: 1,
            rtp_ports: VecDeque::new(),
            by_port: HashMap::new(),
            txn,
            rng,
            transmits: VecDeque::new(),
            outputs: VecDeque::new(),
            controller,
            registered: false,
            restart_at: None,
            restart_in_flight: false,
            last_heard: now,
            sent: HashMap::new(),
            observations: Vec::new(),
            stats: Stats::default(),
        };
        mg.service_change(now, Method::Restart);
        mg
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The transaction layer's counters.
    pub fn transaction_stats(&self) -> &transaction::Stats {
        self.txn.stats()
    }

    /// The mId in the header of our messages.
    pub fn mid(&self) -> &str {
        &self.mid
    }

    /// Whether the controller has answered our registration.
    pub fn is_registered(&self) -> bool {
        self.registered
    }

    /// Where requests go: the controller, or the address its reply gave.
    pub fn controller(&self) -> SocketAddr {
        self.controller
    }

    /// The contexts in use, by number.
    pub fn contexts(&self) -> impl Iterator<Item = u32> + '_ {
        self.contexts.keys().copied()
    }

    /// Makes a local RTP port available for connections (the driver binds it).
    pub fn add_rtp_port(&mut self, port: u16) {
        self.rtp_ports.push_back(port);
    }

    pub(super) fn reliable(&self) -> bool {
        self.config.transport == super::Transport::Tcp
    }

    // ---- inputs ----

    /// A message from the controller: a UDP datagram, or one TPKT's payload over TCP, in any
    /// encoding (told apart by its first bytes; replies go in the request's).
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let Some(enc) = encoding::detect(data) else {
            self.stats.malformed += 1;
            debug!(%from, len = data.len(), "not a MEGACO message; dropped");
            return;
        };
        let decoded = encoding::decode(data, enc);
        let message = match decoded.message() {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed += 1;
                debug!(%from, error = %e.text, "malformed MEGACO message");
                self.answer_malformed(now, from, enc, &e);
                return;
            }
        };
        if from.ip() == self.controller.ip() {
            self.last_heard = now;
        }
        let transactions = match message.body {
            Body::Transactions(ts) => ts,
            Body::Error(e) => {
                self.stats.errors_received += 1;
                warn!(%from, code = e.code.0, text = e.text.unwrap_or(""), "message error received");
                return;
            }
        };
        for t in &transactions {
            match t {
                Transaction::Request(r) => self.handle_request(now, from, enc, r),
                Transaction::Reply(r) => self.handle_reply(now, from, r),
                Transaction::Pending(id) => {
                    if !self.txn.handle_pending(now, from, *id) {
                        self.stats.unmatched_replies += 1;
                    }
                }
                Transaction::ResponseAck(ranges) => self.txn.handle_response_ack(now, from, ranges),
            }
        }
        self.after(now);
    }

    /// An undecodable message: a request whose id was read gets an error reply, anything else
    /// a message-level error (H.248.1 §8.2.2, 400 and the decoder's codes).
    fn answer_malformed(&mut self, now: Instant, from: SocketAddr, enc: Encoding, e: &DecodeError) {
        let reason: String = e.text.chars().filter(|&c| c != '"').take(80).collect();
        let error = ErrorDescriptor {
            code: e.code,
            text: Some(&reason),
        };
        if let Some(id) = e.transaction {
            if self.txn.handle_request(now, from, self.reliable(), id) == RequestOutcome::Duplicate
            {
                return;
            }
            let reply = Transaction::Reply(TransactionReply {
                id,
                imm_ack_required: false,
                result: ReplyResult::Error(error),
            });
            let acks = self.txn.take_response_acks(from);
            if let Some(bytes) = encode(&self.mid, enc, vec![reply], acks) {
                self.txn
                    .send_reply(now, from, self.reliable(), id, bytes, false);
            }
            return;
        }
        let m = Message {
            version: 1,
            mid: message_id(&self.mid),
            body: Body::Error(error),
        };
        let mut out = Vec::new();
        if encoding::encode(&m, enc, &mut out).is_ok() {
            self.txn.send_raw(from, out);
        }
    }

    fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        enc: Encoding,
        r: &TransactionRequest<'_>,
    ) {
        if self.txn.handle_request(now, from, self.reliable(), r.id) == RequestOutcome::Duplicate {
            self.stats.duplicates += 1;
            return;
        }
        self.stats.requests += 1;
        trace!(%from, transaction = r.id.0, "request");
        let actions: Vec<ActionOut> = self.execute(now, r);
        let reply = build_reply(r.id, &actions);
        let acks = self.txn.take_response_acks(from);
        let bytes = encode(&self.mid, enc, vec![reply], acks).or_else(|| {
            // What the request asked for cannot be written back in its encoding: say so.
            let failed = Transaction::Reply(TransactionReply {
                id: r.id,
                imm_ack_required: false,
                result: ReplyResult::Error(ErrorDescriptor {
                    code: ErrorCode::INTERNAL_FAILURE,
                    text: Some("reply not encodable"),
                }),
            });
            encode(&self.mid, enc, vec![failed], Vec::new())
        });
        if let Some(bytes) = bytes {
            self.txn
                .send_reply(now, from, self.reliable(), r.id, bytes, false);
        }
    }

    fn handle_reply(&mut self, now: Instant, from: SocketAddr, r: &TransactionReply<'_>) {
        if self.txn.handle_reply(now, from, r.id) == ReplyOutcome::Unmatched {
            self.stats.unmatched_replies += 1;
            debug!(%from, transaction = r.id.0, "late or duplicate reply dropped");
            return;
        }
        let error = match &r.result {
            ReplyResult::Error(e) => Some(e.code),
            ReplyResult::Actions(actions) => actions.iter().find_map(|a| {
                a.error.map(|e| e.code).or_else(|| {
                    a.commands.iter().find_map(|c| {
                        c.descriptors.iter().find_map(|d| match d {
                            Descriptor::Error(e) => Some(e.code),
                            _ => None,
                        })
                    })
                })
            }),
        };
        match self.sent.remove(&r.id) {
            Some(Sent::ServiceChange(method)) => {
                self.restart_in_flight = false;
                self.outputs.push_back(Output::Restart {
                    line: None,
                    method: method.as_str(),
                    acknowledged: error.is_none(),
                    code: Some(error.map_or(200, |c| c.0)),
                });
                match error {
                    None => {
                        self.registered = true;
                        self.last_heard = now;
                        self.redirect(r);
                        debug!(controller = %self.controller, "registered");
                    }
                    Some(code) => {
                        warn!(code = code.0, "registration refused; retrying later");
                        self.restart_at = Some((now + self.config.restart_retry, method));
                    }
                }
            }
            Some(Sent::Notify { line }) => {
                if let Some(code) = error {
                    warn!(line, code = code.0, "notify refused");
                    self.outputs.push_back(Output::Error {
                        line: Some(line),
                        message: format!("Notify answered {}", code.0),
                    });
                    // A controller that no longer knows us (it restarted) refuses with a 5xx
                    // code: register again, as after losing it.
                    if code.0 >= 500 && code.0 != 501 {
                        self.lost_controller(now);
                    }
                }
            }
            None => {
                self.stats.unmatched_replies += 1;
                debug!(%from, transaction = r.id.0, "reply to nothing we sent");
            }
        }
    }

    /// A successful registration reply may name another address for the controller
    /// (ServiceChangeAddress, §7.2.8): later requests go there.
    fn redirect(&mut self, r: &TransactionReply<'_>) {
        let ReplyResult::Actions(actions) = &r.result else {
            return;
        };
        let services = actions
            .iter()
            .flat_map(|a| &a.commands)
            .flat_map(|c| &c.descriptors)
            .filter_map(|d| match d {
                Descriptor::ServiceChange(p) => Some(p),
                _ => None,
            })
            .flatten();
        for p in services {
            let to = match p {
                ServiceChangeParm::Address(ServiceChangeAddress::Port(port)) => {
                    Some(SocketAddr::new(self.controller.ip(), *port))
                }
                ServiceChangeParm::Address(ServiceChangeAddress::Mid(MessageId::Ip4(a, p))) => {
                    Some(SocketAddr::new((*a).into(), p.unwrap_or(2944)))
                }
                ServiceChangeParm::Address(ServiceChangeAddress::Mid(MessageId::Ip6(a, p))) => {
                    Some(SocketAddr::new((*a).into(), p.unwrap_or(2944)))
                }
                _ => None,
            };
            if let Some(to) = to.filter(|t| *t != self.controller) {
                debug!(from = %self.controller, %to, "controller moved");
                self.controller = to;
            }
        }
    }

    /// An RTP datagram arrived on the socket bound to `local_port`.
    pub fn handle_rtp(&mut self, now: Instant, local_port: u16, from: SocketAddr, data: &[u8]) {
        let Some((ctx, name)) = self.by_port.get(&local_port).cloned() else {
            self.stats.rtp_dropped += 1;
            debug!(local_port, %from, "RTP for no connection dropped");
            return;
        };
        let Some(c) = self.contexts.get_mut(&ctx) else {
            self.stats.rtp_dropped += 1;
            return;
        };
        let line = c.line;
        let Some(t) = c.rtp.iter_mut().find(|t| t.name == name) else {
            self.stats.rtp_dropped += 1;
            return;
        };
        let samples = t.conn.handle_rtp(now, data);
        match (samples, line) {
            (Some(samples), Some(li)) if self.lines[li].phone.hearing => {
                self.outputs.push_back(Output::Audio {
                    line: self.lines[li].number,
                    samples,
                });
            }
            _ => trace!(local_port, "RTP not played"),
        }
    }

    /// A line command from the operator (or a test).
    pub fn handle_line(&mut self, now: Instant, cmd: LineCommand) {
        let n = cmd.line();
        let Some(li) = usize::from(n)
            .checked_sub(1)
            .filter(|&i| i < self.lines.len())
        else {
            self.refuse_line(Some(n), format!("no line {n}"));
            return;
        };
        if let Some(done) = self.trunk_line(now, li, &cmd) {
            if let Err(why) = done {
                self.refuse_line(Some(n), why);
            }
            self.after(now);
            return;
        }
        let mut fx = Effects::default();
        let config = &self.config;
        let line = &mut self.lines[li];
        let refused: Option<String> =
            match cmd {
                LineCommand::OffHook(_) => (!line.hook(now, config, true, false, &mut fx))
                    .then(|| "already off-hook".into()),
                LineCommand::OnHook(_) => (!line.hook(now, config, false, false, &mut fx))
                    .then(|| "already on-hook".into()),
                LineCommand::Digits(_, keys) if line.phone.is_off_hook() => {
                    for k in keys.chars() {
                        line.key(now, config, k, &mut fx);
                    }
                    None
                }
                LineCommand::Flash(_) if line.phone.is_off_hook() => {
                    line.flash(&mut fx);
                    None
                }
                LineCommand::Digits(..) | LineCommand::Flash(_) => Some("line is on-hook".into()),
                LineCommand::AutoAnswer(_, on) => {
                    let ringing = line.ringing();
                    line.phone
                        .set_autoanswer(now, on, ringing, config.autoanswer_delay);
                    None
                }
                LineCommand::Say { samples, .. } => {
                    let context = line.context.and_then(|c| self.contexts.get_mut(&c));
                    // The newest stream that sends.
                    let term = context.and_then(|c| {
                        c.rtp
                            .iter_mut()
                            .rev()
                            .find(|t| t.conn.mode().sends() && t.conn.remote.is_some())
                    });
                    match term {
                        Some(t) if t.conn.saying() => Some("already saying something".into()),
                        Some(t) => {
                            t.conn.start_say(now, samples);
                            None
                        }
                        None => Some("no connection that sends".into()),
                    }
                }
                LineCommand::Hear { on, .. } => {
                    let was = line.phone.hearing;
                    line.phone.hearing = on;
                    if was && !on {
                        fx.outputs.push_back(Output::HearEnded { line: n });
                    }
                    None
                }
            };
        if let Some(why) = refused {
            self.refuse_line(Some(n), why);
        }
        self.apply(fx);
        self.after(now);
    }

    fn refuse_line(&mut self, line: Option<u16>, message: String) {
        self.stats.line_commands_refused += 1;
        debug!(?line, why = %message, "line command refused");
        self.outputs.push_back(Output::Error { line, message });
    }

    /// The control connection (TCP) was lost and made again: the controller may have lost us,
    /// so the gateway announces itself again.
    pub fn handle_reconnect(&mut self, now: Instant) {
        // What was in flight went down with the connection: no point waiting for it.
        let lost: Vec<TransactionId> = self
            .sent
            .iter()
            .filter(|(_, s)| matches!(s, Sent::Notify { .. }))
            .map(|(id, _)| *id)
            .collect();
        for id in lost {
            self.txn.cancel(id);
            self.sent.remove(&id);
            debug!(transaction = id.0, "notify lost with the connection");
        }
        self.lost_controller(now);
        self.after(now);
    }

    /// The instant from [`poll_timeout`](Self::poll_timeout) has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.txn.handle_timeout(now);
        self.transaction_events(now);
        if let Some((at, method)) = self.restart_at
            && at <= now
        {
            self.restart_at = None;
            self.service_change(now, method);
        }
        if let Some(at) = self.silence_deadline()
            && at <= now
        {
            warn!(silent_for = ?self.config.controller_silence, "controller silent");
            self.last_heard = now;
            self.lost_controller(now);
        }
        let mut fx = Effects::default();
        for li in 0..self.lines.len() {
            if self.lines[li].poll_timeout().is_some_and(|t| t <= now) {
                self.lines[li].handle_timeout(now, &self.config, &mut fx);
            }
        }
        self.apply(fx);
        self.poll_media(now);
        self.after(now);
    }

    fn transaction_events(&mut self, now: Instant) {
        while let Some(ev) = self.txn.poll_event() {
            match ev {
                transaction::Event::TimedOut { transaction, .. } => {
                    self.stats.timeouts += 1;
                    match self.sent.remove(&transaction) {
                        Some(Sent::ServiceChange(method)) => {
                            self.restart_in_flight = false;
                            self.outputs.push_back(Output::Restart {
                                line: None,
                                method: method.as_str(),
                                acknowledged: false,
                                code: None,
                            });
                            self.restart_at = Some((now + self.config.restart_retry, method));
                        }
                        Some(Sent::Notify { line }) => {
                            self.outputs.push_back(Output::Error {
                                line: Some(line),
                                message: "Notify timed out".into(),
                            });
                            self.lost_controller(now);
                        }
                        None => {}
                    }
                }
                transaction::Event::AcksDue { peer, ranges } => {
                    if let Some(bytes) = encode(&self.mid, self.config.encoding, Vec::new(), ranges)
                    {
                        self.txn.send_raw(peer, bytes);
                    }
                }
                transaction::Event::PendingDue { peer, transaction } => {
                    let acks = self.txn.take_response_acks(peer);
                    if let Some(bytes) = encode(
                        &self.mid,
                        self.config.encoding,
                        vec![Transaction::Pending(transaction)],
                        acks,
                    ) {
                        self.txn.send_raw(peer, bytes);
                    }
                }
                _ => {}
            }
        }
    }

    /// The controller stopped answering: announce again with `Method = Disconnected` (H.248.1
    /// §11.5) unless a registration is already under way.
    fn lost_controller(&mut self, now: Instant) {
        if !self.registered && (self.restart_in_flight || self.restart_at.is_some()) {
            return;
        }
        self.registered = false;
        self.service_change(now, Method::Disconnected);
    }

    fn silence_deadline(&self) -> Option<Instant> {
        let silence = self.config.controller_silence?;
        self.registered.then(|| self.last_heard + silence)
    }

    /// Sends the RTP that became due.
    fn poll_media(&mut self, now: Instant) {
        let mut out = Vec::new();
        for c in self.contexts.values_mut() {
            let line = c.line.map_or(c.last_line, |li| self.lines[li].number);
            // The end of a chunk of an FXO port's tone is not a `say` done.
            let tone = c
                .line
                .and_then(|li| self.lines[li].fxo.as_ref())
                .is_some_and(|f| f.tone_playing);
            for t in &mut c.rtp {
                if t.conn.poll_timeout().is_some_and(|at| at <= now)
                    && let Some(packets) = t.conn.poll_say(now, &mut out)
                    && !tone
                {
                    self.outputs.push_back(Output::SayDone {
                        line,
                        packets,
                        complete: true,
                    });
                }
            }
        }
        for p in out {
            self.transmits.push_back(Transmit {
                via: Via::Rtp(p.local_port),
                destination: p.to,
                contents: p.bytes,
            });
        }
        self.trunk_tones(now);
    }

    // ---- outputs ----

    /// The next message or RTP datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        if let Some(t) = self.transmits.pop_front() {
            return Some(t);
        }
        self.txn.poll_transmit().map(|t| Transmit {
            via: Via::Control,
            destination: t.destination,
            contents: t.contents,
        })
    }

    /// The next thing to report.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let lines = self.lines.iter().filter_map(Line::poll_timeout).min();
        let media = self
            .contexts
            .values()
            .flat_map(|c| &c.rtp)
            .filter_map(|t| t.conn.poll_timeout())
            .min();
        [
            self.txn.poll_timeout(),
            self.restart_at.map(|(t, _)| t),
            self.silence_deadline(),
            lines,
            media,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- internals ----

    /// Moves line effects into the queues.
    pub(crate) fn apply(&mut self, fx: Effects) {
        self.outputs.extend(fx.outputs);
        self.observations.extend(fx.observations);
    }

    /// Sends the notifications the handlers queued, and media that became due.
    fn after(&mut self, now: Instant) {
        self.poll_ports(now);
        self.trunk_tones(now);
        for o in std::mem::take(&mut self.observations) {
            self.send_notify(now, o);
        }
        self.transaction_events(now);
        let due = self
            .contexts
            .values()
            .flat_map(|c| &c.rtp)
            .any(|t| t.conn.poll_timeout().is_some_and(|at| at <= now));
        if due {
            self.poll_media(now);
        }
    }

    /// A random triple for a new RTP stream: SSRC, first sequence number, first timestamp.
    pub(crate) fn rtp_random(&mut self) -> (u32, u16, u32) {
        (self.rng.r#gen(), self.rng.r#gen(), self.rng.r#gen())
    }
}

impl crate::Simulator for Mg {
    fn handle_datagram(&mut self, now: Instant, via: Via, from: SocketAddr, data: &[u8]) {
        match via {
            Via::Control => Self::handle_datagram(self, now, from, data),
            Via::Rtp(port) => self.handle_rtp(now, port, from, data),
        }
    }

    fn handle_trunk(&mut self, now: Instant, command: crate::TrunkCommand) -> bool {
        self.trunk_command(now, command);
        self.after(now);
        true
    }

    fn handle_line(&mut self, now: Instant, command: LineCommand) {
        Self::handle_line(self, now, command);
    }

    fn handle_timeout(&mut self, now: Instant) {
        Self::handle_timeout(self, now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        Self::poll_transmit(self)
    }

    fn poll_output(&mut self) -> Option<Output> {
        Self::poll_output(self)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        Self::poll_timeout(self)
    }
}
