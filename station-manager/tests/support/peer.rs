//! The gateway side of the scenario harness, for each protocol: the real controller core
//! ([`Ctl`]) and the real simulated gateway core ([`Sim`]), joined by one
//! [`gateway_harness::Pair`].
//!
//! - MGCP (RFC 3435): the call agent and the simulator's MGCP gateway, datagrams over the
//!   pair's link; endpoints `aaln/N` on gateway `gw1`.
//! - MEGACO (H.248.1, UDP per Annex D.1): the media gateway controller and the simulator's MG;
//!   terminations `aaln/N` on gateway `mg1`.
//! - TPNCP (AudioCodes' host protocol over TCP port 2424): the host and the simulator's board.
//!   The host writes a byte stream ([`Host::poll_link`]); [`TcpHost`] cuts it into messages
//!   as the board's driver does (`tpncp::wire::Deframer`), and hands the board's messages to
//!   the host in seeded random pieces ([`Host::handle_stream`]), as a TCP connection may
//!   deliver them (the same link as `gateway-control/tests/tpncp_sim.rs`). The board learns
//!   of the connection's opening and closing through a shared note queue. Line N is channel
//!   N − 1, named `N − 1` on gateway `mp114`.
//!
//! The pair's link is perfect unless cut. On TPNCP a cut loses whole messages (a stalled
//! TCP connection): the host's acknowledgement timeout then closes the connection and
//! reconnects.

use std::cell::RefCell;
use std::collections::{BTreeMap, VecDeque};
use std::net::SocketAddr;
use std::rc::Rc;
use std::time::Instant;

use gateway_control::megaco::controller::{
    Config as MegacoConfig, GatewayConfig as MegacoGateway, MediaGatewayController,
};
use gateway_control::mgcp::{CallAgent, Config as AgentConfig, GatewayConfig};
use gateway_control::model::{Command, Event, GatewayId, LineId};
use gateway_control::tpncp::controller::{
    Config as HostConfig, GatewayConfig as BoardConfig, Host, Link, LinkId,
};
use gateway_control::tpncp::wire::Deframer;
use gateway_control::{Controller, Transmit};
use gateway_sim::megaco::Mg;
use gateway_sim::tpncp::{Board, Disconnect};
use gateway_sim::{
    self as sim, ConnectionAction, FxoConfig, Gateway, LineCommand, Output, Simulator,
    TrunkCommand, Via,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// The protocols the harness runs the station manager over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Protocol {
    /// RFC 3435 MGCP.
    Mgcp,
    /// H.248.1 MEGACO (text, over UDP).
    Megaco,
    /// AudioCodes TPNCP (binary, over TCP).
    Tpncp,
}

impl Protocol {
    /// Every protocol, for scenarios that run on each.
    pub(crate) const ALL: [Self; 3] = [Self::Mgcp, Self::Megaco, Self::Tpncp];

    /// The gateway's name in the model.
    pub(crate) fn gateway(self) -> GatewayId {
        GatewayId::new(match self {
            Self::Mgcp => "gw1",
            Self::Megaco => "mg1",
            Self::Tpncp => "mp114",
        })
    }

    /// Analog line `n` (from 1) as the protocol names it: MGCP endpoint and MEGACO
    /// termination `aaln/n`, TPNCP channel `n − 1`.
    pub(crate) fn line(self, n: u16) -> LineId {
        LineId::new(self.gateway(), &Self::local_name(self, n))
    }

    fn local_name(self, n: u16) -> String {
        match self {
            Self::Mgcp | Self::Megaco => format!("aaln/{n}"),
            Self::Tpncp => n.saturating_sub(1).to_string(),
        }
    }

    /// The controller's address (`192.0.2.1`) and the gateway's (`192.0.2.2`), on the
    /// protocol's ports.
    pub(crate) fn addresses(self) -> (SocketAddr, SocketAddr) {
        let (c, g) = match self {
            Self::Mgcp => ("192.0.2.1:2727", "192.0.2.2:2427"),
            Self::Megaco => ("192.0.2.1:2944", "192.0.2.2:2944"),
            Self::Tpncp => ("192.0.2.1:40000", "192.0.2.2:2424"),
        };
        (c.parse().unwrap(), g.parse().unwrap())
    }
}

/// What the gateway was told about the host's TCP connection (TPNCP only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Note {
    Connected,
    Closed,
}

pub(crate) type Notes = Rc<RefCell<VecDeque<Note>>>;

/// The TPNCP host over a simulated TCP connection (see the module docs).
pub(crate) struct TcpHost {
    /// The host core.
    pub(crate) host: Host,
    board: SocketAddr,
    link: Option<LinkId>,
    deframer: Deframer,
    rng: StdRng,
    /// The instant of the last input: the connection opens then.
    now: Instant,
    out: VecDeque<Transmit>,
    notes: Notes,
    /// Bytes from the board that arrived while no connection was up (lost).
    pub(crate) lost_while_closed: u64,
}

impl TcpHost {
    /// Carries out what the host asked of its connections.
    fn pump(&mut self) {
        while let Some(l) = self.host.poll_link() {
            match l {
                Link::Connect { link, address, .. } => {
                    assert_eq!(address, self.board, "the host connects to the board");
                    self.link = Some(link);
                    self.deframer = Deframer::new();
                    self.notes.borrow_mut().push_back(Note::Connected);
                    self.host.handle_connected(self.now, link);
                }
                Link::Write { link, bytes, .. } => {
                    if self.link != Some(link) {
                        continue;
                    }
                    self.deframer.push(&bytes);
                    while let Some(m) = self.deframer.next() {
                        let contents = m.expect("the host frames its messages");
                        self.out.push_back(Transmit {
                            destination: self.board,
                            contents,
                        });
                    }
                }
                Link::Close { link, .. } => {
                    if self.link == Some(link) {
                        self.link = None;
                        self.notes.borrow_mut().push_back(Note::Closed);
                    }
                }
            }
        }
    }

    /// The board rebooted: its end of the connection is gone.
    fn board_rebooted(&mut self, now: Instant) {
        self.now = now;
        if let Some(link) = self.link.take() {
            self.host.handle_closed(now, link);
        }
    }
}

impl Controller for TcpHost {
    fn handle_datagram(&mut self, now: Instant, _from: SocketAddr, data: &[u8]) {
        self.now = now;
        let Some(link) = self.link else {
            self.lost_while_closed += data.len() as u64;
            return;
        };
        let mut rest = data;
        while !rest.is_empty() {
            let n = self.rng.gen_range(1..=rest.len());
            let (piece, tail) = rest.split_at(n);
            self.host.handle_stream(now, link, piece);
            rest = tail;
        }
    }

    fn handle_command(&mut self, now: Instant, command: Command) {
        self.now = now;
        self.host.handle_command(now, command);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        self.host.handle_timeout(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.pump();
        self.out.pop_front()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.pump();
        self.host.poll_event()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        self.host.poll_timeout()
    }
}

/// The controller core of the harness's protocol.
#[allow(clippy::large_enum_variant)] // one per harness, made once and never moved again
pub(crate) enum Ctl {
    /// The MGCP call agent.
    Mgcp(CallAgent),
    /// The MEGACO media gateway controller.
    Megaco(MediaGatewayController),
    /// The TPNCP host on its TCP connection.
    Tpncp(TcpHost),
}

impl Ctl {
    fn inner(&mut self) -> &mut dyn Controller {
        match self {
            Self::Mgcp(c) => c,
            Self::Megaco(c) => c,
            Self::Tpncp(c) => c,
        }
    }

    /// The gateway rebooted (TPNCP: its TCP connection closes under the host).
    pub(crate) fn gateway_rebooted(&mut self, now: Instant) {
        if let Self::Tpncp(t) = self {
            t.board_rebooted(now);
        }
    }
}

impl Controller for Ctl {
    fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
        self.inner().handle_datagram(now, from, data);
    }

    fn handle_command(&mut self, now: Instant, command: Command) {
        self.inner().handle_command(now, command);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.inner().handle_timeout(now);
    }

    fn poll_transmit(&mut self) -> Option<Transmit> {
        self.inner().poll_transmit()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.inner().poll_event()
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match self {
            Self::Mgcp(c) => c.poll_timeout(),
            Self::Megaco(c) => c.poll_timeout(),
            Self::Tpncp(c) => c.poll_timeout(),
        }
    }
}

/// The simulated gateway core of the harness's protocol.
#[allow(clippy::large_enum_variant)] // one per harness, made once and never moved again
pub(crate) enum Core {
    /// The MGCP gateway.
    Mgcp(Gateway),
    /// The MEGACO media gateway.
    Megaco(Mg),
    /// The TPNCP board.
    Tpncp(Board),
}

/// What the simulator's outputs said about one line (MEGACO and TPNCP, whose cores do not
/// expose it).
#[derive(Debug, Default)]
struct Seen {
    ringing: bool,
    /// Connection id → our RTP address.
    connections: BTreeMap<String, SocketAddr>,
}

/// The counters the scenarios compare across protocols.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct SimStats {
    /// Controller commands the gateway refused.
    pub(crate) refused: u64,
}

/// The simulated gateway, whichever protocol it speaks, with what its outputs showed.
pub(crate) struct Sim {
    /// The core.
    pub(crate) core: Core,
    lines: u16,
    seen: BTreeMap<u16, Seen>,
    notes: Option<Notes>,
}

impl Sim {
    /// Whether the gateway registered (MGCP `RSIP`, MEGACO `ServiceChange` answered) or, on
    /// TPNCP, a host connected.
    pub(crate) fn is_registered(&self) -> bool {
        match &self.core {
            Core::Mgcp(g) => g.is_registered(),
            Core::Megaco(m) => m.is_registered(),
            Core::Tpncp(b) => b.host().is_some(),
        }
    }

    /// Whether line `n` is being rung (`None`: no such line). MGCP asks the core; MEGACO and
    /// TPNCP go by the ring signals printed (started, stopped, or tripped by off-hook).
    pub(crate) fn is_ringing(&self, n: u16) -> Option<bool> {
        match &self.core {
            Core::Mgcp(g) => g.is_ringing(n),
            _ if (1..=self.lines).contains(&n) => {
                Some(self.seen.get(&n).is_some_and(|s| s.ringing))
            }
            _ => None,
        }
    }

    /// The local RTP addresses of line `n`'s connections.
    pub(crate) fn connections(&self, n: u16) -> Vec<SocketAddr> {
        match &self.core {
            Core::Mgcp(g) => g.connections(n),
            _ => self
                .seen
                .get(&n)
                .map(|s| s.connections.values().copied().collect())
                .unwrap_or_default(),
        }
    }

    /// The gateway's counters.
    pub(crate) fn stats(&self) -> SimStats {
        let refused = match &self.core {
            Core::Mgcp(g) => g.stats().refused,
            Core::Megaco(m) => m.stats().refused,
            Core::Tpncp(b) => b.stats().refused,
        };
        SimStats { refused }
    }

    fn inner(&mut self) -> &mut dyn Simulator {
        match &mut self.core {
            Core::Mgcp(g) => g,
            Core::Megaco(m) => m,
            Core::Tpncp(b) => b,
        }
    }

    /// Tells the board what happened to the host's connection since its last input.
    fn take_notes(&mut self, now: Instant, host: SocketAddr) {
        let (Some(notes), Core::Tpncp(b)) = (&self.notes, &mut self.core) else {
            return;
        };
        while let Some(n) = notes.borrow_mut().pop_front() {
            match n {
                Note::Connected => b.handle_connected(now, host),
                Note::Closed => b.handle_disconnected(now, host, Disconnect::Closed),
            }
        }
    }

    fn observe(&mut self, o: &Output) {
        let ring = |name: &str| name == "ring" || name.starts_with("al/ri");
        match o {
            Output::Signal { line, name, .. } if ring(name) => {
                self.seen.entry(*line).or_default().ringing = true;
            }
            Output::SignalStopped { line, name, .. } if ring(name) => {
                self.seen.entry(*line).or_default().ringing = false;
            }
            Output::Hook {
                line,
                off_hook: true,
                ..
            } => self.seen.entry(*line).or_default().ringing = false,
            Output::Connection {
                line,
                action,
                id,
                local,
                ..
            } => {
                let c = &mut self.seen.entry(*line).or_default().connections;
                match action {
                    ConnectionAction::Deleted => {
                        c.remove(id);
                    }
                    _ => {
                        c.insert(id.clone(), *local);
                    }
                }
            }
            _ => {}
        }
    }
}

/// The host's address, where the board's connection notes come from.
fn host_addr() -> SocketAddr {
    Protocol::Tpncp.addresses().0
}

impl Simulator for Sim {
    fn handle_datagram(&mut self, now: Instant, via: Via, from: SocketAddr, data: &[u8]) {
        self.take_notes(now, host_addr());
        self.inner().handle_datagram(now, via, from, data);
    }

    fn handle_line(&mut self, now: Instant, command: LineCommand) {
        self.take_notes(now, host_addr());
        self.inner().handle_line(now, command);
    }

    fn handle_trunk(&mut self, now: Instant, command: TrunkCommand) -> bool {
        self.take_notes(now, host_addr());
        self.inner().handle_trunk(now, command)
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.take_notes(now, host_addr());
        self.inner().handle_timeout(now);
    }

    fn poll_transmit(&mut self) -> Option<sim::Transmit> {
        self.inner().poll_transmit()
    }

    fn poll_output(&mut self) -> Option<Output> {
        let o = self.inner().poll_output()?;
        self.observe(&o);
        Some(o)
    }

    fn poll_timeout(&self) -> Option<Instant> {
        match &self.core {
            Core::Mgcp(g) => g.poll_timeout(),
            Core::Megaco(m) => m.poll_timeout(),
            Core::Tpncp(b) => Simulator::poll_timeout(b),
        }
    }
}

/// A new controller core for `protocol` with `lines` analog lines, created at `now`. The FXO
/// ports (`fxo`) are not among the lines it is configured with, as in the appliance, whose
/// drivers start watching only station lines: the manager adds the trunks (`AddTrunk`).
pub(crate) fn controller(
    protocol: Protocol,
    lines: u16,
    fxo: &[u16],
    now: Instant,
    notes: &Notes,
) -> Ctl {
    let (_, gw) = protocol.addresses();
    let names: Vec<String> = (1..=lines)
        .filter(|n| !fxo.contains(n))
        .map(|n| protocol.local_name(n))
        .collect();
    match protocol {
        Protocol::Mgcp => {
            let mut ac = AgentConfig::default();
            ac.gateway(GatewayConfig {
                id: protocol.gateway(),
                address: gw,
                domain: "[192.0.2.2]".into(),
                lines: names,
            })
            .unwrap()
            .notified_entity("offhook@[192.0.2.1]:2727")
            .unwrap()
            .rng_seed(9)
            .unwrap();
            Ctl::Mgcp(CallAgent::new(ac, now).unwrap())
        }
        Protocol::Megaco => {
            let config = MegacoConfig {
                mid: "[192.0.2.1]:2944".into(),
                gateways: vec![MegacoGateway {
                    id: protocol.gateway(),
                    mid: "mg1".into(),
                    address: Some(gw.ip()),
                    lines: names,
                }],
                rng_seed: 9,
                ..MegacoConfig::default()
            };
            Ctl::Megaco(MediaGatewayController::new(config, now).unwrap())
        }
        Protocol::Tpncp => {
            let refs: Vec<&str> = names.iter().map(String::as_str).collect();
            let config = HostConfig {
                gateways: vec![BoardConfig::new(protocol.gateway(), Some(gw), &refs)],
                rng_seed: 9,
                ..HostConfig::default()
            };
            Ctl::Tpncp(TcpHost {
                host: Host::new(config, now).unwrap(),
                board: gw,
                link: None,
                deframer: Deframer::new(),
                rng: StdRng::seed_from_u64(9),
                now,
                out: VecDeque::new(),
                notes: notes.clone(),
                lost_while_closed: 0,
            })
        }
    }
}

/// A new simulated gateway for `protocol` with `lines` lines (FXO ports and their
/// supervision from `fxo`),
/// booted at `now`, its random choices from `seed`.
pub(crate) fn gateway(
    protocol: Protocol,
    lines: u16,
    fxo: &FxoConfig,
    now: Instant,
    seed: u64,
    notes: &Notes,
) -> Sim {
    let (ca, _) = protocol.addresses();
    let media = "192.0.2.2".parse().unwrap();
    let core = match protocol {
        Protocol::Mgcp => {
            let mut gc = sim::Config::new(lines, ca).unwrap();
            gc.domain("[192.0.2.2]").unwrap();
            gc.media_address(media);
            gc.seed(seed);
            gc.fxo(fxo.clone()).unwrap();
            let mut gw = Gateway::new(gc, now);
            for i in 0..2 * lines {
                gw.add_rtp_port(16384 + 2 * i);
            }
            Core::Mgcp(gw)
        }
        Protocol::Megaco => {
            let mut mc = sim::megaco::Config::new(lines, ca).unwrap();
            mc.mid("mg1").unwrap();
            mc.media_address(media);
            mc.seed(seed);
            mc.fxo(fxo.clone());
            let mut mg = Mg::new(mc, now);
            for i in 0..2 * lines {
                mg.add_rtp_port(16384 + 2 * i);
            }
            Core::Megaco(mg)
        }
        Protocol::Tpncp => {
            let mut bc = sim::tpncp::Config::new(usize::from(lines)).unwrap();
            bc.media_address = media;
            bc.seed = seed;
            bc.fxo = fxo.clone();
            Core::Tpncp(Board::new(bc).unwrap())
        }
    };
    Sim {
        core,
        lines,
        seen: BTreeMap::new(),
        notes: (protocol == Protocol::Tpncp).then(|| notes.clone()),
    }
}

/// A fresh note queue between a TPNCP host and its board.
pub(crate) fn notes() -> Notes {
    Rc::default()
}

/// The line an output is about, if it names one.
pub(crate) fn line_of(o: &Output) -> Option<u16> {
    match o {
        Output::Hook { line, .. }
        | Output::Flash { line }
        | Output::Digit { line, .. }
        | Output::Notify { line, .. }
        | Output::Signal { line, .. }
        | Output::SignalStopped { line, .. }
        | Output::Ringing { line, .. }
        | Output::Connection { line, .. }
        | Output::Dialed { line, .. }
        | Output::Answered { line } => Some(*line),
        Output::Restart { line, .. }
        | Output::Command { line, .. }
        | Output::HostCommand { line, .. }
        | Output::Error { line, .. } => *line,
        _ => None,
    }
}
