//! The simulated gateway's sans-IO core: MGCP on the control socket (through the shared
//! [`transaction`](gateway_control::mgcp::transaction) layer), the lines, their connections and RTP.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use tracing::{debug, trace, warn};

mod announce;

use super::line::{Effects, Line, Notification};
use super::{Config, Profile};
use crate::analog::{LineCommand, Output};
use crate::{Transmit, Via};
use gateway_control::mgcp::transaction::{self, CommandOutcome, ResponseOutcome, Transactions};
use gateway_control::mgcp::wire::{
    self, AckRange, Command, EndpointName, Message, Param, Response, RestartMethod, ReturnCode,
    TransactionId, Verb,
};

/// What the gateway counts; every dropped input has a counter.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// MGCP commands executed (duplicates excluded).
    pub commands: u64,
    /// Datagrams on the control socket that were not MGCP, dropped.
    pub malformed: u64,
    /// Commands answered with an error code.
    pub refused: u64,
    /// NTFYs sent.
    pub notifications: u64,
    /// Responses matching nothing we sent, dropped.
    pub unmatched_responses: u64,
    /// Commands we sent that were never answered.
    pub timeouts: u64,
    /// RTP datagrams for no connection, or unparseable, dropped.
    pub rtp_dropped: u64,
    /// Line events dropped because a quarantine or accumulation buffer was full.
    pub events_dropped: u64,
    /// Line commands refused (bad line, wrong hook state, no connection).
    pub line_commands_refused: u64,
    /// Keep-alive NTFYs sent ([`Config::keepalive`]).
    pub keepalives: u64,
}

/// What an outgoing command was for.
#[derive(Debug, Clone, Copy)]
enum Sent {
    /// `RSIP`: `RM: restart` for the whole gateway, or `RM: disconnected` for one line.
    Restart {
        line: Option<u16>,
    },
    Notify {
        line: u16,
    },
    /// `NTFY *@domain` with nothing observed ([`Config::keepalive`]).
    KeepAlive,
}

/// The simulated analog gateway.
///
/// The driver's loop, in quinn's order:
/// 1. feed inputs: [`handle_datagram`](Self::handle_datagram) for MGCP on the control socket,
///    [`handle_rtp`](Self::handle_rtp) for RTP on a connection's socket,
///    [`handle_line`](Self::handle_line) for a line command, and
///    [`handle_timeout`](Self::handle_timeout) when [`poll_timeout`](Self::poll_timeout) is due;
/// 2. drain [`poll_transmit`](Self::poll_transmit) and send each datagram from its [`Via`];
/// 3. drain [`poll_output`](Self::poll_output) and report each [`Output`];
/// 4. wait for the next input or [`poll_timeout`](Self::poll_timeout).
///
/// Creating the gateway queues its restart announcement (`RSIP` with `RM: restart` for
/// `*@domain`), retransmitted until the call agent answers.
pub struct Gateway {
    pub(crate) config: Config,
    pub(crate) lines: Vec<Line>,
    txn: Transactions,
    pub(crate) rng: StdRng,
    transmits: VecDeque<Transmit>,
    pub(crate) outputs: VecDeque<Output>,
    pub(crate) rtp_ports: VecDeque<u16>,
    /// Local RTP port → (line index, connection id).
    pub(crate) by_port: HashMap<u16, (usize, String)>,
    pub(crate) next_connection: u64,
    sent: HashMap<TransactionId, Sent>,
    restart_at: Option<Instant>,
    restarted: bool,
    /// When the next keep-alive is due, while they are on and the restart was answered.
    keepalive_at: Option<Instant>,
    /// A keep-alive awaits its answer.
    keepalive_pending: bool,
    pending_notifications: Vec<Notification>,
    pub(crate) stats: Stats,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway")
            .field("lines", &self.lines.len())
            .field("domain", &self.config.domain)
            .field("registered", &self.restarted)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// A gateway with `config.lines` idle lines, announcing itself to the call agent at `now`.
    pub fn new(config: Config, now: Instant) -> Self {
        let lines = (1..=config.lines)
            .map(|n| {
                let mut line = Line::new(n);
                if config.fxo.is_fxo(n) {
                    line.fxo = Some(super::trunk::Trunk::new(n, &config));
                }
                line
            })
            .collect();
        let txn = Transactions::new(config.transactions.clone(), config.seed);
        let rng = StdRng::seed_from_u64(config.seed ^ 0x5157_4741_5445);
        let mut gw = Self {
            config,
            lines,
            txn,
            rng,
            transmits: VecDeque::new(),
            outputs: VecDeque::new(),
            rtp_ports: VecDeque::new(),
            by_port: HashMap::new(),
            next_connection: 0,
            sent: HashMap::new(),
            restart_at: None,
            restarted: false,
            keepalive_at: None,
            keepalive_pending: false,
            pending_notifications: Vec::new(),
            stats: Stats::default(),
        };
        gw.next_connection = u64::from(gw.rng.r#gen::<u32>());
        gw.send_rsip(now, None);
        gw
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The transaction layer's counters (retransmissions, duplicates…).
    pub fn transaction_stats(&self) -> &transaction::Stats {
        self.txn.stats()
    }

    /// Whether the call agent has answered the restart announcement.
    pub fn is_registered(&self) -> bool {
        self.restarted
    }

    /// Whether line `n` (from 1) is off-hook; `None` for no such line.
    pub fn is_off_hook(&self, n: u16) -> Option<bool> {
        self.line(n).map(|l| l.phone.is_off_hook())
    }

    /// Whether line `n` is ringing.
    pub fn is_ringing(&self, n: u16) -> Option<bool> {
        self.line(n).map(Line::ringing)
    }

    /// The local RTP addresses of line `n`'s connections.
    pub fn connections(&self, n: u16) -> Vec<SocketAddr> {
        self.line(n)
            .map(|l| l.connections.iter().map(|c| c.local).collect())
            .unwrap_or_default()
    }

    /// Gives the gateway an RTP port the driver has bound; each connection takes one and
    /// returns it when deleted. Without free ports, CRCX is answered `403`.
    pub fn add_rtp_port(&mut self, port: u16) {
        self.rtp_ports.push_back(port);
    }

    fn line(&self, n: u16) -> Option<&Line> {
        self.lines.get(usize::from(n).checked_sub(1)?)
    }

    pub(crate) fn media_address(&self, port: u16) -> SocketAddr {
        SocketAddr::new(self.config.media_address, port)
    }

    // ---- inputs ----

    /// An MGCP datagram arrived on the control socket.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let messages = match wire::parse(data) {
            Ok(m) => m,
            Err(e) => {
                self.stats.malformed += 1;
                debug!(%from, error = %e, "malformed MGCP datagram");
                if let Some((t, code)) = e.answer() {
                    let mut out = Vec::new();
                    response(code, t, Vec::new(), None).encode(&mut out);
                    self.txn.send_response(now, from, t, out);
                    self.sent_something(now);
                }
                return;
            }
        };
        if self.config.profile == Profile::Rfc3435
            && let Some(t) = messages.iter().find_map(|m| match m {
                Message::Command(c) if !self.config.profile.accepts(&c.version) => {
                    Some(c.transaction)
                }
                _ => None,
            })
        {
            // What this profile did before the parser accepted RFC 2705's `MGCP 0.1`: the
            // datagram is malformed, and the command is answered 528 without being executed.
            self.stats.malformed += 1;
            debug!(%from, transaction = t.0, "unsupported protocol version");
            let mut out = Vec::new();
            response(ReturnCode::INCOMPATIBLE_VERSION, t, Vec::new(), None).encode(&mut out);
            self.txn.send_response(now, from, t, out);
            self.sent_something(now);
            return;
        }
        for m in messages {
            match m {
                Message::Command(c) => self.handle_command(now, from, &c),
                Message::Response(r) => self.handle_response(now, from, &r),
            }
        }
        self.after(now);
    }

    fn handle_command(&mut self, now: Instant, from: SocketAddr, c: &Command<'_>) {
        let acks: &[AckRange] = wire::find(&c.params, |p| match p {
            Param::ResponseAck(a) => Some(a.as_slice()),
            _ => None,
        })
        .unwrap_or(&[]);
        if self.txn.handle_command(now, from, c.transaction, acks) == CommandOutcome::Duplicate {
            return;
        }
        self.stats.commands += 1;
        // The command is reported before what it caused.
        let at = self.outputs.len();
        let reply = self.execute(now, from, c);
        if reply.code.is_error() {
            self.stats.refused += 1;
            debug!(
                verb = c.verb.as_str(),
                code = reply.code.0,
                why = reply.why,
                "refused"
            );
        }
        self.outputs.insert(
            at,
            Output::Command {
                line: reply.line,
                verb: c.verb.as_str(),
                transaction: c.transaction.0,
                code: reply.code.0,
            },
        );
        let ack_wanted = self.txn.provisional_sent(from, c.transaction);
        let mut params: Vec<Param<'_>> = Vec::new();
        if ack_wanted {
            params.push(Param::ResponseAck(Vec::new()));
        }
        params.extend(reply.params.iter().map(|(k, v)| Param::Other(k, v)));
        let sdp = match &reply.sdp {
            Some(text) => wire::Sdp::parse(text).ok(),
            None => None,
        };
        let mut out = Vec::new();
        let mut r = response(reply.code, c.transaction, params, sdp);
        r.comment = reply.comment();
        r.encode(&mut out);
        self.txn.send_response(now, from, c.transaction, out);
        self.sent_something(now);
    }

    fn handle_response(&mut self, now: Instant, from: SocketAddr, r: &Response<'_>) {
        let ack_requested = r
            .params
            .iter()
            .any(|p| matches!(p, Param::ResponseAck(a) if a.is_empty()));
        match self
            .txn
            .handle_response(now, from, r.transaction, r.code, ack_requested)
        {
            ResponseOutcome::Final => match self.sent.remove(&r.transaction) {
                Some(Sent::Restart { line }) => {
                    let ok = r.code.is_success();
                    self.outputs.push_back(Output::Restart {
                        line,
                        method: if line.is_some() {
                            "disconnected"
                        } else {
                            "restart"
                        },
                        acknowledged: ok,
                        code: Some(r.code.0),
                    });
                    if line.is_some() {
                        if !ok {
                            warn!(line, code = r.code.0, "disconnected restart refused");
                        }
                    } else if ok {
                        self.restarted = true;
                        self.sent_something(now);
                    } else {
                        warn!(code = r.code.0, "restart refused; retrying later");
                        self.restart_at = Some(now + self.config.restart_retry);
                    }
                }
                Some(Sent::Notify { line }) => {
                    if r.code.is_error() {
                        warn!(line, code = r.code.0, "notification refused");
                        self.outputs.push_back(Output::Error {
                            line: Some(line),
                            message: format!("NTFY answered {}", r.code.0),
                        });
                    }
                }
                Some(Sent::KeepAlive) => {
                    self.keepalive_pending = false;
                    if r.code.is_error() {
                        warn!(code = r.code.0, "keep-alive refused");
                    }
                    self.outputs.push_back(Output::KeepAlive {
                        code: Some(r.code.0),
                    });
                }
                None => {
                    self.stats.unmatched_responses += 1;
                    debug!(%from, transaction = r.transaction.0, "response to nothing we sent");
                }
            },
            ResponseOutcome::Provisional | ResponseOutcome::Acknowledged => {}
            ResponseOutcome::Unmatched => {
                self.stats.unmatched_responses += 1;
                debug!(%from, transaction = r.transaction.0, "late or duplicate response dropped");
            }
        }
    }

    /// An RTP datagram arrived on the socket bound to `local_port`.
    pub fn handle_rtp(&mut self, now: Instant, local_port: u16, from: SocketAddr, data: &[u8]) {
        let Some((li, id)) = self.by_port.get(&local_port).cloned() else {
            self.stats.rtp_dropped += 1;
            debug!(local_port, %from, "RTP for no connection dropped");
            return;
        };
        let line = &mut self.lines[li];
        let hearing = line.phone.hearing;
        let Some(c) = line.connections.iter_mut().find(|c| c.id == id) else {
            self.stats.rtp_dropped += 1;
            debug!(local_port, "RTP for a deleted connection dropped");
            return;
        };
        match c.handle_rtp(now, data) {
            Some(samples) if hearing => self.outputs.push_back(Output::Audio {
                line: line.number,
                samples,
            }),
            Some(_) => {}
            None => trace!(local_port, "RTP not played"),
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
        let mut fx = Effects::default();
        let config = &self.config;
        let line = &mut self.lines[li];
        if let Some(refused) = line.trunk_line_command(now, config, &cmd, &mut fx) {
            line.trunk_tone(now);
            if let Some(why) = refused {
                self.refuse_line(Some(n), why);
            }
            self.apply(fx);
            self.after(now);
            return;
        }
        let refused =
            match cmd {
                LineCommand::OffHook(_) => (!line.hook(now, config, true, false, &mut fx))
                    .then(|| "already off-hook".into()),
                LineCommand::OnHook(_) => (!line.hook(now, config, false, false, &mut fx))
                    .then(|| "already on-hook".into()),
                LineCommand::Digits(_, digits) if line.phone.is_off_hook() => {
                    for d in digits.chars() {
                        fx.outputs.push_back(Output::Digit { line: n, digit: d });
                        line.observe(now, config, super::request::Observed::Digit(d), &mut fx);
                    }
                    None
                }
                LineCommand::Flash(_) if line.phone.is_off_hook() => {
                    fx.outputs.push_back(Output::Flash { line: n });
                    line.observe(now, config, super::request::Observed::Flash, &mut fx);
                    None
                }
                LineCommand::Digits(..) | LineCommand::Flash(_) => Some("line is on-hook".into()),
                LineCommand::AutoAnswer(_, on) => {
                    line.set_autoanswer(now, config, on);
                    None
                }
                // The newest connection that sends: one left by a call agent that crashed is
                // older, and its audio would go where nothing listens for it any more.
                LineCommand::Say { samples, .. } => match line
                    .connections
                    .iter_mut()
                    .rev()
                    .find(|c| c.mode().sends() && c.remote.is_some())
                {
                    Some(c) if c.saying() => Some("already saying something".into()),
                    Some(c) => {
                        c.start_say(now, samples);
                        None
                    }
                    None => Some("no connection that sends".into()),
                },
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

    /// The instant from [`poll_timeout`](Self::poll_timeout) has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.txn.handle_timeout(now);
        while let Some(ev) = self.txn.poll_event() {
            // The only event the layer has today; a new one is not ours to act on.
            let transaction::Event::TimedOut { transaction, .. } = ev else {
                continue;
            };
            self.stats.timeouts += 1;
            match self.sent.remove(&transaction) {
                Some(Sent::Restart { line: None }) => {
                    self.outputs.push_back(Output::Restart {
                        line: None,
                        method: "restart",
                        acknowledged: false,
                        code: None,
                    });
                    self.restart_at = Some(now + self.config.restart_retry);
                }
                Some(Sent::Restart { line: Some(n) }) => {
                    // Still cut off: keep announcing (each attempt lasts T-MAX).
                    self.outputs.push_back(Output::Restart {
                        line: Some(n),
                        method: "disconnected",
                        acknowledged: false,
                        code: None,
                    });
                    self.send_rsip(now, Some(n));
                }
                Some(Sent::Notify { line }) => {
                    // RFC 3435 §4.4.7: the endpoint lost its call agent; it says so with
                    // `RM: disconnected` until someone answers.
                    self.outputs.push_back(Output::Error {
                        line: Some(line),
                        message: "NTFY timed out".into(),
                    });
                    self.send_rsip(now, Some(line));
                }
                Some(Sent::KeepAlive) => {
                    // The call agent is gone; a Cisco gateway would try the next one. Keep
                    // sending, so that it is seen to come back.
                    self.keepalive_pending = false;
                    warn!("keep-alive unanswered");
                    self.outputs.push_back(Output::KeepAlive { code: None });
                }
                None => {}
            }
        }
        if self.restart_at.is_some_and(|t| t <= now) {
            self.restart_at = None;
            self.send_rsip(now, None);
        }
        if self.keepalive_at.is_some_and(|t| t <= now) {
            self.send_keepalive(now);
        }
        let mut fx = Effects::default();
        for li in 0..self.lines.len() {
            let due = self.lines[li].poll_timeout().is_some_and(|t| t <= now);
            if !due {
                continue;
            }
            self.lines[li].handle_timeout(now, &self.config, &mut fx);
            self.lines[li].drain_trunk(now, &self.config, &mut fx);
            self.poll_media(now, li, &mut fx);
        }
        self.apply(fx);
        self.after(now);
    }

    fn poll_media(&mut self, now: Instant, li: usize, fx: &mut Effects) {
        let line = &mut self.lines[li];
        let mut out = Vec::new();
        let tone = line.tone_say();
        let mut tone_done = false;
        for c in &mut line.connections {
            if let Some(packets) = c.poll_say(now, &mut out) {
                if tone {
                    tone_done = true;
                    continue;
                }
                fx.outputs.push_back(Output::SayDone {
                    line: line.number,
                    packets,
                    complete: true,
                });
            }
        }
        if tone_done || tone {
            // The PBX's tone goes on until the port is released.
            line.trunk_tone(now);
        }
        for p in out {
            self.transmits.push_back(Transmit {
                via: Via::Rtp(p.local_port),
                destination: p.to,
                contents: p.bytes,
            });
        }
    }

    // ---- outputs ----

    /// The next datagram to send.
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
        [
            self.txn.poll_timeout(),
            self.restart_at,
            self.keepalive_at,
            lines,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    // ---- internals ----

    /// Moves line effects into the queues and sends the notifications they asked for.
    pub(crate) fn apply(&mut self, fx: Effects) {
        self.stats.events_dropped += fx.dropped;
        self.outputs.extend(fx.outputs);
        for n in fx.notifications {
            self.pending_notifications.push(n);
        }
    }

    /// Sends what the handlers queued (notifications need `now`).
    pub(crate) fn after(&mut self, now: Instant) {
        let pending = std::mem::take(&mut self.pending_notifications);
        for n in pending {
            self.send_notify(now, n);
        }
        // Media that became due while handling (a `say` starts at once).
        for li in 0..self.lines.len() {
            if self.lines[li]
                .connections
                .iter()
                .any(|c| c.poll_timeout().is_some_and(|t| t <= now))
            {
                let mut fx = Effects::default();
                self.poll_media(now, li, &mut fx);
                self.stats.events_dropped += fx.dropped;
                self.outputs.extend(fx.outputs);
            }
        }
    }

    /// A random triple for a new RTP stream: SSRC, first sequence number, first timestamp.
    pub(crate) fn rtp_random(&mut self) -> (u32, u16, u32) {
        (self.rng.r#gen(), self.rng.r#gen(), self.rng.r#gen())
    }
}

/// A response with the standard commentary.
fn response<'a>(
    code: ReturnCode,
    transaction: TransactionId,
    params: Vec<Param<'a>>,
    sdp: Option<wire::Sdp<'a>>,
) -> Response<'a> {
    Response {
        code,
        transaction,
        package: None,
        comment: code.reason(),
        params,
        sdp,
    }
}

impl crate::Simulator for Gateway {
    fn handle_datagram(&mut self, now: Instant, via: Via, from: SocketAddr, data: &[u8]) {
        match via {
            Via::Control => Self::handle_datagram(self, now, from, data),
            Via::Rtp(port) => self.handle_rtp(now, port, from, data),
        }
    }

    fn handle_line(&mut self, now: Instant, command: LineCommand) {
        Self::handle_line(self, now, command);
    }

    fn handle_trunk(&mut self, now: Instant, command: crate::TrunkCommand) -> bool {
        Self::handle_trunk(self, now, command);
        true
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

/// Parses a NotifiedEntity (`ca@[192.0.2.1]:2727`, `ca@192.0.2.1`, `[::1]:2727`) into an
/// address when its host is an IP literal; names are not resolved (sans-IO), the caller then
/// notifies the command's source.
pub(crate) fn notified_address(text: &str) -> Option<SocketAddr> {
    let host = text.rsplit_once('@').map_or(text, |(_, h)| h);
    if let Ok(a) = host.parse::<SocketAddr>() {
        return Some(a);
    }
    let (h, port) = match host.rsplit_once(':') {
        Some((h, p)) if h.ends_with(']') || !h.contains(':') => (h, p.parse().ok()?),
        _ => (host, 2727),
    };
    let ip: IpAddr = h
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok()?;
    Some(SocketAddr::new(ip, port))
}
