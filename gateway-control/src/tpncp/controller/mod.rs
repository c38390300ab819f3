//! The TPNCP host: Offhook drives AudioCodes analog boards' FXS channels (station lines) and
//! FXO channels (trunks); see [`Host`].

mod config;
mod inbound;
mod jobs;
mod session;
mod stats;
#[cfg(test)]
mod tests;
mod timer;
mod trunk;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;

pub use config::{
    Config, ConfigError, DEFAULT_PORT, GatewayConfig, MAX_CHANNEL, MAX_GATEWAYS,
    MAX_LINES_PER_GATEWAY, MAX_QUEUED_PER_LINE, RTP_PORT_SPACING, Transport, channel_of,
};
pub use stats::Stats;
pub use trunk::MAX_DIAL_DIGITS;

use super::wire::{self, ByteOrder, Channel, Deframer, Seq};
use crate::model::{
    CallId, Codec, Command, ConnectionMode, DigitMap, Event, GatewayId, LineId, Media,
};
use crate::{Controller, Transmit};
use jobs::Job;
use timer::{Timer, Timers};

/// The codes of [`Event::CommandFailed`] the host gives (H.248.1 §14.2's numbers where one
/// fits; a board's refusal carries the board's own `error_code`).
pub mod code {
    /// The board never acknowledged the command.
    pub const TIMEOUT: u16 = 0;
    /// The phone is on-hook (digit collection asked of an idle line), or the trunk is not
    /// seized (dialling) or has no call ringing (answering).
    pub const ON_HOOK: u16 = 402;
    /// The trunk is in use (seized, answered), or ringing for an incoming call (glare).
    pub const IN_USE: u16 = 401;
    /// The line is not a configured channel (or no such board).
    pub const UNKNOWN_LINE: u16 = 430;
    /// A board refused the command with an error code of 0 or beyond 65535.
    pub const REFUSED: u16 = 500;
    /// What TPNCP cannot do: a loopback connection, pulse dialling.
    pub const NOT_IMPLEMENTED: u16 = 501;
    /// The board is not connected, or its session was lost meanwhile.
    pub const NOT_READY: u16 = 502;
    /// The line's queue is full, the channel already has a connection, or a number is
    /// longer than one `acCMD_DIAL` holds.
    pub const INSUFFICIENT_RESOURCES: u16 = 510;
    /// The call is not the line's connection.
    pub const UNKNOWN_CALL: u16 = 516;
}

/// One TCP connection (attempt) to a board: the driver's handle for it, never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LinkId(pub u64);

/// What the host asks of the driver's TCP connections ([`Host::poll_link`]), in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Open a TCP connection to a board; answer [`Host::handle_connected`] once open, or
    /// [`Host::handle_closed`] if it fails.
    Connect {
        /// The connection's handle.
        link: LinkId,
        /// Which board.
        gateway: GatewayId,
        /// Where it listens.
        address: SocketAddr,
    },
    /// Write these bytes (whole messages) on a connection.
    Write {
        /// The connection.
        link: LinkId,
        /// Which board (for logs).
        gateway: GatewayId,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// Close a connection (or abandon the attempt); nothing more is taken from it.
    Close {
        /// The connection.
        link: LinkId,
        /// Which board.
        gateway: GatewayId,
    },
}

/// A board's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// No address known yet.
    Idle,
    /// TCP connection asked for, not open yet.
    Connecting,
    /// Connected (or, over UDP, started): re-sync commands sent, no answer yet.
    Syncing,
    /// The board answered: reported [`Event::GatewayUp`].
    Up,
    /// Waiting to reconnect.
    Waiting,
}

impl State {
    /// Connected (or, over UDP, started) and not lost since: commands go to the board.
    fn in_session(self) -> bool {
        matches!(self, Self::Syncing | Self::Up)
    }
}

/// A connection on a line, as the station manager asked for it.
#[derive(Debug, Clone)]
struct Connection {
    call: CallId,
    codec: Codec,
    ptime: Duration,
    mode: ConnectionMode,
    remote: Option<Media>,
    /// RFC 4733 payload type given to the board at `acCMD_OPEN_CHANNEL`.
    telephone_event: Option<u8>,
    /// [`Event::ConnectionCreated`] was reported.
    created: bool,
}

/// Digits collected against a map.
#[derive(Debug, Clone)]
struct Collect {
    map: DigitMap,
    dialled: String,
}

struct Line {
    id: LineId,
    /// Watched: configured or added, not removed.
    watched: bool,
    off_hook: bool,
    /// The message-waiting lamp is lit.
    lamp: bool,
    /// The channel is open (`acCMD_OPEN_CHANNEL` acknowledged, not closed since).
    open: bool,
    /// RTP is active on it.
    active: bool,
    connection: Option<Connection>,
    /// The call the line will have once its queued jobs are done (what model commands are
    /// checked against).
    pending: Option<CallId>,
    collect: Option<Collect>,
    /// A trunk (FXO port, [`Command::AddTrunk`]): its call; `None` for a station line.
    trunk: Option<trunk::Trunk>,
    /// Jobs waiting for the channel's command in flight.
    queue: VecDeque<Job>,
}

impl Line {
    fn new(id: LineId) -> Self {
        Self {
            id,
            watched: true,
            off_hook: false,
            lamp: false,
            open: false,
            active: false,
            connection: None,
            pending: None,
            collect: None,
            trunk: None,
            queue: VecDeque::new(),
        }
    }
}

/// A command sent and not yet answered.
struct InFlight {
    seq: Seq,
    command: wire::Command,
    /// The encoded message, for UDP retransmission (empty when never retransmitted).
    bytes: Vec<u8>,
    sent: Instant,
    retransmits: u32,
    /// `acEV_COMMAND_ACK` came.
    acked: bool,
    /// `acEV_ANALOG_IF_FXS_STATUS` came (a query's answer): off-hook and lamp.
    status: Option<(bool, bool)>,
    /// The job it is a step of, with its steps still to send.
    job: Job,
    rest: VecDeque<wire::Command>,
}

struct Gateway {
    id: GatewayId,
    address: Option<SocketAddr>,
    transport: Transport,
    order: ByteOrder,
    rtp_port: u16,
    lines: BTreeMap<Channel, Line>,
    state: State,
    /// The current TCP connection (or attempt).
    link: Option<LinkId>,
    deframer: Deframer,
    seq: Seq,
    /// One command in flight per channel.
    in_flight: BTreeMap<Channel, InFlight>,
    last_heard: Instant,
    /// Failed (re)connection attempts since the last session came up.
    attempts: u32,
}

/// The TPNCP host: a sans-IO [`Controller`] that drives the FXS channels of AudioCodes boards
/// (MediaPack, Mediant) over TPNCP (TCP or UDP port 2424) and translates between
/// [`crate::model`] and the board's commands and events (the layouts of [`super::wire`]).
///
/// # Driving it
/// Like every core (see [`Controller`]), plus the TCP connections the host opens to its boards:
/// after any input, also drain [`poll_link`](Self::poll_link) and do what it says (open a
/// connection, write bytes to it, close it), then report [`handle_connected`](Self::handle_connected),
/// [`handle_stream`](Self::handle_stream) (raw bytes: the host deframes them) and
/// [`handle_closed`](Self::handle_closed) for that [`LinkId`]. UDP boards use
/// [`Controller::handle_datagram`] and [`Controller::poll_transmit`]. [`Host::new`] already
/// asks to connect to every board with an address: drain before waiting.
///
/// # The session
/// - Each command carries the board's next sequence number and waits for its
///   `acEV_COMMAND_ACK` (same sequence number and id); `acEV_ERROR` on the channel fails it.
///   One command is in flight per channel, the rest wait in order (at most
///   [`MAX_QUEUED_PER_LINE`] per line). Over UDP a command is retransmitted with its sequence
///   number, after [`Config::retransmit_interval`] doubling; over TCP never. A command not
///   acknowledged within [`Config::ack_timeout`] ends the session.
/// - A board not heard from for [`Config::keepalive`] (its own `acEV_KEEP_ALIVE` counts) is
///   probed with `acCMD_ANALOG_IF_QUERY_STATUS` on its first line; a session that ends
///   (no answer, the connection closed, a framing error) reports [`Event::GatewayDown`]
///   (`Unreachable`) with its connections lost, and the host reconnects after an exponential
///   back-off from [`Config::reconnect_min`] to [`Config::reconnect_max`] with seeded jitter.
/// - After every (re)connection each line is re-synchronised: ring stopped, tone stopped,
///   channel closed, status queried. The first answer reports [`Event::GatewayUp`], each
///   status [`Event::LineStatus`].
///
/// # Translation
/// A line is a channel (`"0"`, `"1"`…). Ring is `acCMD_ANALOG_IF_DISTINCTIVE_RING` (pattern
/// and caller id); tones are `acCMD_PLAY_TONE`, the lamp is
/// `acCMD_ANALOG_IF_GENERATE_MESSAGE_WAITING_INDICATION`. A connection is
/// `acCMD_OPEN_CHANNEL` then, once the remote side is known and the mode not inactive,
/// `acCMD_ACTIVATE_RTP_RTCP`; the board's side is its address at `rtp_port + 10 × channel`.
/// Digits are collected by the host against the digit map, with the interdigit timers of
/// [`Config`].
///
/// A trunk ([`Command::AddTrunk`]) is an FXO channel: seized and answered with
/// `acCMD_SEND_ANALOG_SIGNAL` off-hook, released on-hook, dialled with `acCMD_DIAL`; ring
/// detection, caller id, polarity reversal and current disconnect become the model's trunk
/// events (the table is in the `trunk` module's docs), and the re-sync puts it on hook.
pub struct Host {
    gateways: Vec<Gateway>,
    /// UDP boards by address.
    by_address: HashMap<SocketAddr, usize>,
    timers: Timers,
    events: VecDeque<Event>,
    transmits: VecDeque<Transmit>,
    links: VecDeque<Link>,
    next_link: u64,
    stats: Stats,
    rng: StdRng,
    config: Config,
}

impl Host {
    /// A host for `config`'s boards; those with an address are connected to at once.
    pub fn new(config: Config, now: Instant) -> Result<Self, ConfigError> {
        config.validate()?;
        let mut by_address = HashMap::new();
        let gateways = config
            .gateways
            .iter()
            .enumerate()
            .map(|(g, c)| {
                if c.transport == Transport::Udp
                    && let Some(a) = c.address
                {
                    by_address.insert(a, g);
                }
                let lines = c
                    .lines
                    .iter()
                    .filter_map(|l| {
                        let channel = channel_of(l)?;
                        Some((channel, Line::new(LineId::new(c.id.clone(), l))))
                    })
                    .collect();
                Gateway {
                    id: c.id.clone(),
                    address: c.address,
                    transport: c.transport,
                    order: c.byte_order,
                    rtp_port: c.rtp_port,
                    lines,
                    state: State::Idle,
                    link: None,
                    deframer: Deframer::new(),
                    seq: Seq(0),
                    in_flight: BTreeMap::new(),
                    last_heard: now,
                    attempts: 0,
                }
            })
            .collect();
        let mut host = Self {
            gateways,
            by_address,
            timers: Timers::default(),
            events: VecDeque::new(),
            transmits: VecDeque::new(),
            links: VecDeque::new(),
            next_link: 0,
            stats: Stats::default(),
            rng: StdRng::seed_from_u64(config.rng_seed),
            config,
        };
        for g in 0..host.gateways.len() {
            if host.gateways[g].address.is_some() {
                host.connect(now, g);
            }
        }
        Ok(host)
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Whether a board's session is up (it answered since the last (re)connection).
    pub fn is_up(&self, gateway: &GatewayId) -> bool {
        self.gateways
            .iter()
            .any(|g| &g.id == gateway && g.state == State::Up)
    }

    /// A board's jobs waiting on its lines and its commands in flight (`None` if it is not
    /// configured): at most [`MAX_QUEUED_PER_LINE`] wait per line, one is in flight per channel.
    pub fn backlog(&self, gateway: &GatewayId) -> Option<(usize, usize)> {
        let gw = self.gateways.iter().find(|g| &g.id == gateway)?;
        let queued = gw.lines.values().map(|l| l.queue.len()).sum();
        Some((queued, gw.in_flight.len()))
    }

    /// The next thing to do with a TCP connection.
    pub fn poll_link(&mut self) -> Option<Link> {
        self.links.pop_front()
    }

    fn new_link(&mut self) -> LinkId {
        self.next_link += 1;
        LinkId(self.next_link)
    }

    fn gateway_of_link(&mut self, link: LinkId) -> Option<usize> {
        let g = self.gateways.iter().position(|g| g.link == Some(link));
        if g.is_none() {
            self.stats.stale_link += 1;
            tracing::debug!(link = link.0, "input from a connection already given up");
        }
        g
    }
}

impl Controller for Host {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        let Some(&g) = self.by_address.get(&from) else {
            self.stats.unknown_source += 1;
            tracing::debug!(%from, len = data.len(), "datagram from no configured board");
            return;
        };
        if !self.gateways[g].state.in_session() {
            self.stats.stale_link += 1;
            tracing::debug!(%from, "datagram from a board between sessions");
            return;
        }
        self.handle_message(now, g, data);
    }

    fn handle_command(&mut self, now: Instant, command: Command) {
        self.command(now, command);
    }

    fn handle_timeout(&mut self, now: Instant) {
        while let Some(timer) = self.timers.pop_due(now) {
            self.fire(now, timer);
        }
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }
}
