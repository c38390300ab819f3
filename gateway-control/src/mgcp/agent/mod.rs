//! The MGCP call agent core; see [`CallAgent`].

mod claims;
mod config;
mod dialect;
mod incoming;
mod outgoing;
mod responses;
mod stats;
mod trunks;
mod watch;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, trace};

pub use config::{
    Config, ConfigError, GatewayConfig, MAX_GATEWAYS, MAX_LINES_PER_GATEWAY, valid_line_name,
};

use super::endpoint::Line;
use super::transaction::{self, Transactions};
use super::wire::{self, MAX_DATAGRAM, Message, ReturnCode, TransactionId};
use crate::model::{CallId, Command, DownReason, Event, GatewayId, LineId};
use crate::{Controller, Transmit};
use dialect::Dialect;
use outgoing::{InFlight, Job};
pub use stats::Stats;
pub use trunks::RING_GONE;

/// At most this many messages are piggy-backed in one datagram: [`wire::MAX_MESSAGES`], the
/// bound this crate's parser (and so the simulator) accepts.
pub const MAX_PIGGYBACKED: usize = wire::MAX_MESSAGES;

/// Piggy-backed datagrams stay within this many bytes (a single larger message still goes, up
/// to [`MAX_DATAGRAM`]): 1,400 fits an Ethernet MTU with IP and UDP headers to spare, so a
/// packed datagram is never IP-fragmented — losing one fragment would lose every message in
/// it, and piggy-backing must not make loss worse than sending the messages one by one.
pub const PIGGYBACK_BYTES: usize = 1400;

/// A gateway's service state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    /// Audits queued, no answer yet: the first answer reports `GatewayUp`.
    Starting,
    Up,
    /// It announced it is going (graceful or forced).
    Announced(DownReason),
    /// It claimed a forced restart; every line is being audited before the claim is believed
    /// (see [`CallAgent`]'s decisions). `reported`: it was already reported down (graceful).
    Checking {
        reported: bool,
    },
    /// Commands timed out; probing.
    Unreachable {
        interval: Duration,
    },
}

struct Gateway {
    id: GatewayId,
    address: SocketAddr,
    domain: Arc<str>,
    /// Lowercase local name → line index.
    lines: HashMap<Box<str>, usize>,
    /// Line indices in configured order.
    order: Vec<usize>,
    service: Service,
    queue: VecDeque<Job>,
    in_flight: usize,
    /// Earliest next send under the rate limit.
    next_send: Option<Instant>,
    /// Connections by the controller's handle.
    connections: HashMap<CallId, outgoing::Connection>,
    /// The pending probe, restart or check timer's instant, to cancel it.
    probe_at: Option<(Instant, Timer)>,
    /// Lines whose check audit has not been answered in service yet
    /// ([`Service::Checking`]).
    unchecked: BTreeSet<usize>,
    /// Whether a refuted restart claim was logged at `warn` (once per gateway).
    claim_warned: bool,
    /// How it speaks, as its last command showed (or as tried after a `528`).
    dialect: Dialect,
    /// Versions it refused (`528`) in a row; reset by a success.
    version_refusals: u8,
    /// The last unexpected source it was heard from (logged once per new source).
    stray_source: Option<SocketAddr>,
}

/// The core's one timer enum (the transaction layer keeps its own).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    /// The send-rate limit allows the next command.
    Pace(usize),
    /// Probe an unreachable gateway.
    Probe(usize),
    /// A restarting gateway's RestartDelay is over: audit and arm it.
    Restart(usize),
    /// A line given up after repeated failures is tried again.
    Rearm(usize),
    /// A restart claim's audits were not all answered in service in time: believe it.
    CheckDeadline(usize),
    /// A graceful restart's delay is over: check that the gateway went.
    GracefulOver(usize),
    /// No ring burst on a ringing trunk for [`trunks::RING_GONE`]: the caller gave up.
    RingGone(usize),
}

/// The MGCP call agent: a sans-IO [`Controller`] that keeps every configured line of every
/// gateway audited and armed, and translates between [`crate::model`] and MGCP (RFC 3435).
///
/// # Driving it
/// Like every core (see [`Controller`]): feed [`handle_datagram`](Controller::handle_datagram),
/// [`handle_command`](Controller::handle_command) and
/// [`handle_timeout`](Controller::handle_timeout) with the current time, then drain
/// [`poll_transmit`](Controller::poll_transmit), [`poll_event`](Controller::poll_event), and
/// sleep until [`poll_timeout`](Controller::poll_timeout). [`CallAgent::new`] already queues the
/// start-up audits: drain before waiting for input.
///
/// # Decisions
/// - **Pacing**: at most [`Config::max_outstanding`] commands are in flight per gateway; the rest
///   wait in order (optionally at most [`Config::max_send_rate`] a second), so arming 1,000 lines
///   never floods a gateway.
/// - **Unknown peers** (an address that is no configured gateway): dropped and counted, never
///   answered, so the call agent cannot be used to reflect traffic. A configured gateway naming
///   an endpoint we do not know gets `500` (RFC 3661: the endpoint is unknown).
/// - **Another port of a gateway's address** (NAT, a gateway sending from an ephemeral port): a
///   command naming the gateway's domain (case-insensitively) is taken and answered to its
///   source (RFC 3435 §3.5), a response matching a command in flight to it is taken; counted in
///   [`Stats::unexpected_source`], each new source logged at `warn` with the configured
///   address. From another IP address such messages are not taken ([`Stats::wrong_address`]).
/// - **Unparseable messages**: each message of a piggy-backed datagram stands alone (RFC 3435
///   §3.5.5). A command whose transaction id could be read is answered `510` (`528` for a wrong
///   version, `504` for an unknown verb); anything else is dropped. Both are counted. In a
///   response, lines outside the grammar (an empty `I:`, an `M:` listing modes) and unknown
///   parameters are skipped and counted ([`Stats::response_lines_skipped`]); the rest counts.
/// - **Versions**: `MGCP 1.0`, RFC 2705's `MGCP 0.1` (Cisco IOS) and the NCS 1.0 profile are
///   answered; commands to a gateway are written in the version it last used (`dialect.rs`).
/// - **NTFY for a request id that is not current** (the RQNT that replaced it crossed it, or it
///   predates a restart): answered `200`, its hook changes applied (deduplicated against the
///   known hook state), and the line re-armed with a fresh request — the events are facts about
///   the line, and a `538` would make the gateway drop them and lose a hook change. Counted in
///   [`Stats::stale_notifications`].
/// - **Re-arm failures**: `401`/`402` (the hook is not what we thought) trigger an audit, then a
///   re-arm matching the audited state; other failures the same, at most
///   [`Config::max_arm_failures`] times in a row. A gateway that cannot audit (`AUEP` refused)
///   is armed anyway, for the hook state a `401`/`402` revealed or the last known one.
/// - **Unreachable gateway**: the first command to time out reports
///   `GatewayDown { reason: Unreachable }` once; commands for it then fail at once (code 0) and
///   `AUEP` probes follow with doubling intervals until one is answered: `GatewayUp`, then every
///   line is audited (a `LineStatus` each) and armed again.
/// - **Restart claims are checked, not trusted** (issue 13; `claims.rs`). MGCP has no
///   authentication (RFC 3435 §5 leaves it to IPsec), so an `RSIP … RM: forced` may be forged
///   by anyone who can send from the gateway's address. For a gateway in service (or one that
///   only announced a graceful restart) the claim is not reported: every line is audited
///   (`AUEP` with `F: ES,I`) first. If every line answers `200`, the claim is refuted: the
///   gateway stays up (or is reported up again after a graceful announcement), each line is
///   re-armed, the connections the gateway still lists in `I:` are kept (a recording in
///   progress goes on) and only those it no longer has are reported `ConnectionLost`; counted
///   in [`Stats::restart_claims_refuted`], logged at `warn` once per gateway. If any line
///   answers an error (`501` out of service, `500`, or a gateway that cannot audit `I`), the
///   claim is believed at once (`GatewayDown { Forced }`, every connection gone, wait for
///   `RM: restart`, as before). If the lines have not all answered within
///   [`Config::restart_check_timeout`] (4 s), it is believed too, and the silent gateway is
///   probed like an unreachable one, so a claim believed only because the audits were lost
///   heals when a probe is answered. A per-line `forced` is checked the same way for that
///   line. A claim while starting, unreachable or already forced down is believed as before.
/// - **A real forced restart** is therefore reported up to `restart_check_timeout` late when
///   the gateway goes silent (at once when it answers `501`); calls on it were lost either
///   way. Its `RM: restart` when back is taken as before (audit, arm, `GatewayUp`): it is
///   not checked, since it claims the gateway is in service, which the audit that follows
///   proves, and a forged one costs the calls in progress but cannot keep the gateway down.
/// - **Graceful restarts** (`RM: graceful`) are reported as before (calls finish, no new
///   work), and checked when their delay is over (no delay: after
///   [`Config::max_restart_delay`]; repeating the claim does not extend it): a gateway still
///   answering in service did not go and is reported up again; one that answers out of
///   service or not at all is believed down by force.
/// - **Lines added and removed while running** ([`Command::AddLine`], `watch.rs`): an added
///   line is audited and armed at once if its gateway is up or starting, otherwise with the
///   gateway's other lines when it comes back. Adding a line already watched audits it again
///   (a `LineStatus` answers), unless its audit is already on its way, as at start. A removed line gets one last `RQNT` with an
///   empty `R:` and `S:` (nothing more is reported, its signals and lamp stop) and is then
///   unknown: a `NTFY` from it is answered `500`. It keeps its slot (in-flight answers still
///   find it) and takes it back if added again; a gateway holds at most
///   [`MAX_LINES_PER_GATEWAY`] lines, removed ones included.
/// - **Trunks** ([`Command::AddTrunk`], `trunks.rs`; the mapping onto RFC 3660's line and DTMF
///   packages is in the endpoint's `trunk` module): a trunk is added as a line is, then armed
///   for `L/rg` instead of off-hook; seize and answer are `S: L/hd`, dial the `D/` keys,
///   release `S: L/hu`; `L/oc`, `L/lsa`, `L/osi` and `D/x` become `DialComplete`,
///   `FarEndAnswer`, `FarEndDisconnect` and `Digit`. Glare is refused `501`, by the agent when
///   it knows the port rings, by the gateway when the ring crosses the seize (the call then
///   rings as if the seize had never been). Trunk input out of place is counted in
///   [`Stats::trunk_out_of_place`] and dropped.
/// - **Keep-alives**: a `NTFY` for the whole gateway (`*@…`) that observed nothing, as Cisco
///   IOS sends to show it is alive, is answered `200` and counts as hearing from the gateway
///   ([`Stats::keepalives`]). One for `*` that does name events is refused `500` like any
///   endpoint we do not know.
/// - **Local refusals** (unknown line, queue full, gateway unreachable) are reported as
///   `CommandFailed` with code `500` for an unknown line and `0` otherwise.
pub struct CallAgent {
    config: Config,
    tx: Transactions,
    gateways: Vec<Gateway>,
    by_address: HashMap<SocketAddr, usize>,
    by_gateway: HashMap<GatewayId, usize>,
    lines: Vec<Line>,
    by_line: HashMap<LineId, usize>,
    in_flight: HashMap<TransactionId, InFlight>,
    timers: BTreeSet<(Instant, Timer)>,
    events: VecDeque<Event>,
    next_request: u64,
    /// Datagrams ready for [`Controller::poll_transmit`], piggy-backed where allowed.
    outbox: VecDeque<Transmit>,
    stats: Stats,
}

impl CallAgent {
    /// A call agent for `config`'s gateways. It starts at once: every line of every gateway is
    /// audited (`AUEP`) and armed (`RQNT`), paced per gateway.
    pub fn new(config: Config, now: Instant) -> Result<Self, ConfigError> {
        let config = config.validate()?;
        let tx = Transactions::new(config.transaction.clone(), config.rng_seed);
        let mut agent = Self {
            tx,
            gateways: Vec::with_capacity(config.gateways.len()),
            by_address: HashMap::new(),
            by_gateway: HashMap::new(),
            lines: Vec::new(),
            by_line: HashMap::new(),
            in_flight: HashMap::new(),
            timers: BTreeSet::new(),
            events: VecDeque::new(),
            next_request: 1,
            outbox: VecDeque::new(),
            stats: Stats::default(),
            config,
        };
        for (g, gc) in agent.config.gateways.clone().into_iter().enumerate() {
            let mut gw = Gateway {
                id: gc.id.clone(),
                address: gc.address,
                domain: Arc::from(gc.domain.as_str()),
                lines: HashMap::with_capacity(gc.lines.len()),
                order: Vec::with_capacity(gc.lines.len()),
                service: Service::Starting,
                queue: VecDeque::new(),
                in_flight: 0,
                next_send: None,
                connections: HashMap::new(),
                probe_at: None,
                unchecked: BTreeSet::new(),
                claim_warned: false,
                dialect: Dialect::default(),
                version_refusals: 0,
                stray_source: None,
            };
            for name in &gc.lines {
                let idx = agent.lines.len();
                let id = LineId::new(gc.id.clone(), name);
                agent.lines.push(Line::new(id.clone(), g));
                agent.by_line.insert(id, idx);
                gw.lines
                    .insert(name.to_ascii_lowercase().into_boxed_str(), idx);
                gw.order.push(idx);
            }
            if !gc.address.ip().is_unspecified() {
                agent.by_address.insert(gc.address, g);
            }
            agent.by_gateway.insert(gc.id.clone(), g);
            agent.gateways.push(gw);
        }
        for g in 0..agent.gateways.len() {
            agent.audit_all(now, g);
            agent.pump(now, g);
        }
        agent.flush(true);
        Ok(agent)
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.transaction = *self.tx.stats();
        s
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Commands waiting (not yet sent) for the gateway `id`, and in flight.
    pub fn backlog(&self, id: &GatewayId) -> Option<(usize, usize)> {
        let g = &self.gateways[*self.by_gateway.get(id)?];
        Some((g.queue.len(), g.in_flight))
    }

    /// The first retransmission timer now used for gateway `id` (RFC 3435 §4.3:
    /// `AAD + N·ADEV`).
    pub fn retransmit_timeout(&self, id: &GatewayId) -> Option<Duration> {
        let g = &self.gateways[*self.by_gateway.get(id)?];
        Some(self.tx.retransmit_timeout(g.address))
    }

    /// Whether the line is armed as far as the call agent knows: a notification request was
    /// answered `200` (or is in flight) and no re-arm is waiting.
    pub fn is_armed(&self, line: &LineId) -> Option<bool> {
        let l = &self.lines[*self.by_line.get(line)?];
        Some(l.request.is_some() && !l.arm_queued && !l.resyncing && l.arm_failures == 0)
    }

    fn emit(&mut self, e: Event) {
        trace!(event = ?e, "model event");
        if matches!(e, Event::CommandFailed { .. }) {
            self.stats.commands_failed += 1;
        }
        self.events.push_back(e);
    }

    fn fail(&mut self, line: LineId, call: Option<CallId>, code: u16, reason: &str) {
        self.emit(Event::CommandFailed {
            line,
            call,
            code,
            reason: reason.to_owned(),
        });
    }

    fn set_timer(&mut self, at: Instant, t: Timer) {
        self.timers.insert((at, t));
    }

    /// Encodes and sends (through the transaction layer, uncached for unknown transactions) a
    /// response with no parameters.
    fn respond(&mut self, now: Instant, peer: SocketAddr, txid: TransactionId, code: ReturnCode) {
        let r = wire::Response {
            code,
            transaction: txid,
            package: None,
            comment: code.reason(),
            params: Vec::new(),
            sdp: None,
        };
        let mut out = Vec::new();
        r.encode(&mut out);
        self.tx.send_response(now, peer, txid, out);
    }

    /// Moves what the transaction layer has to send into the outbox: piggy-backed (when `pack`
    /// and [`Config::piggyback`]) for the first sends of one input, one by one for
    /// retransmissions.
    fn flush(&mut self, pack: bool) {
        let messages: Vec<Transmit> = std::iter::from_fn(|| self.tx.poll_transmit()).collect();
        if !(pack && self.config.piggyback) {
            self.outbox.extend(messages);
            return;
        }
        for (datagram, n) in transaction::piggyback(messages, MAX_PIGGYBACKED, PIGGYBACK_BYTES) {
            if n > 1 {
                self.stats.piggybacked += n as u64 - 1;
                trace!(to = %datagram.destination, messages = n, len = datagram.contents.len(), "piggy-backed");
            }
            self.outbox.push_back(datagram);
        }
    }

    fn drain_transaction_events(&mut self, now: Instant) {
        while let Some(e) = self.tx.poll_event() {
            match e {
                transaction::Event::TimedOut { transaction, .. } => {
                    self.timed_out(now, transaction);
                }
            }
        }
    }
}

impl Controller for CallAgent {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        self.stats.datagrams += 1;
        trace!(%from, len = data.len(), "datagram");
        if data.len() > MAX_DATAGRAM {
            self.stats.oversized += 1;
            debug!(%from, len = data.len(), "oversized datagram dropped");
            return;
        }
        let messages = match wire::parse_each(data) {
            Ok(m) => m,
            Err(e) => {
                if self.by_address.contains_key(&from) {
                    self.stats.malformed_dropped += 1;
                    debug!(%from, error = %e, "unparseable datagram dropped");
                } else {
                    self.stats.unknown_peer += 1;
                    debug!(%from, "datagram from an unknown peer dropped");
                }
                return;
            }
        };
        let known = self.by_address.get(&from).copied();
        let mut heard = BTreeSet::new();
        for m in &messages {
            // RFC 3435 §3.5.5: each message of a piggy-backed datagram stands alone.
            let g = match m {
                Err(e) => {
                    if known.is_some() {
                        self.malformed(now, from, e);
                    } else {
                        self.stats.unknown_peer += 1;
                    }
                    continue;
                }
                Ok(Message::Command(c)) => known.or_else(|| self.stray_command(from, c)),
                Ok(Message::Response(r)) => known.or_else(|| self.stray_response(from, r)),
            };
            let Some(g) = g else {
                self.stats.unknown_peer += 1;
                debug!(%from, "message from an unknown peer dropped");
                continue;
            };
            match m {
                Ok(Message::Command(c)) => self.incoming_command(now, g, from, c),
                Ok(Message::Response(r)) => self.incoming_response(now, g, r),
                Err(_) => {}
            }
            heard.insert(g);
        }
        for g in heard {
            self.pump(now, g);
        }
        self.drain_transaction_events(now);
        self.flush(true);
    }

    fn handle_command(&mut self, now: Instant, command: Command) {
        match command {
            Command::AddLine { line } => return self.add_line(now, line),
            Command::AddTrunk { line } => return self.add_trunk(now, line),
            Command::RemoveLine { line } => return self.remove_line(now, &line),
            Command::GatewayAddress { gateway, address } => {
                return self.gateway_address(now, &gateway, address);
            }
            _ => {}
        }
        let line = command.line().and_then(|l| self.by_line.get(l)).copied();
        let g = match line {
            Some(idx) => Some(self.lines[idx].gateway),
            // A wildcard CreateConnection names no configured line: find its gateway.
            None => match &command {
                Command::CreateConnection { line, .. } if line.endpoint.contains(['*', '$']) => {
                    self.by_gateway.get(&line.gateway).copied()
                }
                _ => None,
            },
        };
        let Some(g) = g else {
            self.stats.unknown_line_commands += 1;
            let (line, call) = (outgoing::line_id(&command), command.call());
            debug!(%line, "command for an unknown line");
            self.fail(line, call, ReturnCode::UNKNOWN_ENDPOINT.0, "unknown line");
            return;
        };
        self.model_command(now, g, line, command);
        self.pump(now, g);
        self.flush(true);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.tx.handle_timeout(now);
        // Retransmissions and acknowledgements, each alone; what follows is new.
        self.flush(false);
        self.drain_transaction_events(now);
        while let Some(&(at, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            match timer {
                Timer::Pace(g) => self.pump(now, g),
                Timer::Probe(g) => self.probe(now, g),
                Timer::Restart(g) => {
                    self.audit_all(now, g);
                    self.pump(now, g);
                }
                Timer::Rearm(line) => {
                    self.retry_line(line);
                    let g = self.lines[line].gateway;
                    self.pump(now, g);
                }
                Timer::CheckDeadline(g) => {
                    self.check_deadline(now, g);
                    self.pump(now, g);
                }
                Timer::GracefulOver(g) => {
                    self.graceful_over(now, g);
                    self.pump(now, g);
                }
                Timer::RingGone(line) => self.ring_gone(line),
            }
        }
        self.drain_transaction_events(now);
        self.flush(true);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        // Early returns (a `510` to a malformed command) leave their answer in the layer.
        self.outbox.pop_front().or_else(|| self.tx.poll_transmit())
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        let ours = self.timers.first().map(|(at, _)| *at);
        match (ours, self.tx.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}
