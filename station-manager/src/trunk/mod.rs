//! Trunks: phones reached over a gateway's FXO ports, and callers who dial in on them.
//!
//! A phone behind a PBX or on the public network is a station like any other, on a *virtual
//! line* [`station_line`]`(trunk, number)`. This layer sits between the stations and the gateway
//! controller and makes that line behave as an analog line would:
//!
//! | the station says or hears | on the trunk port |
//! | --- | --- |
//! | `Ring` | pick a free port of the group, `Seize`, a connection of our own to hear the line, `Dial` the number |
//! | `OffHook` | the far end answered: `FarEndAnswer` (polarity reversal), or voice heard after `DialComplete` |
//! | `CommandFailed` (ringing) | all ports busy, busy or reorder tone (or the gateway's `FarEndDisconnect`) before an answer |
//! | `StopRing` (ring timeout) | no answer: `Release` |
//! | `CreateConnection`… | the station's connection on the port (ours is deleted first: some gateways allow one per port) |
//! | `OnHook` | `FarEndDisconnect` (loop-current drop), or busy / reorder / dial tone heard on the call |
//! | `DeleteConnection` | the station is done: `Release` (and `OnHook` if the far end is still there) |
//!
//! Tones and the message lamp mean nothing on a trunk and are dropped.
//!
//! **Dial-in** (`dialin.rs`): an incoming call on a port of a group with `dial_in` is answered,
//! the caller is greeted with a [`Prompt`](crate::Prompt), keys their number (or caller id gives
//! it) and PIN, each ended with `#`, and the IVM core checks them ([`Output::Identify`]). Three
//! wrong tries end the call. Once identified, `1` hears the new messages and `2` then a
//! number then `#` leaves a message for that user. Both are done by a short-lived station of
//! the caller on the virtual line `dial-in:<group>/<port>`, so the keys are an analog line's
//! (`#` next, `7` delete, `4` again, `*` reply; `#` ends a recording).
//!
//! Decisions worth knowing:
//! - **Port selection**: first free in the configured order, or round robin from the port after
//!   the last one used. A seize or dial the gateway refuses (glare with an incoming call, a
//!   faulty port) is tried on the next free port; only when every port was tried does the ring
//!   fail, with a reason that names the trunk.
//! - **Glare**: an incoming call on a port we seized but have not finished dialling on gives
//!   the port up (our seize met their ring): the outgoing call moves to another port and the
//!   incoming one is released — the PBX tries it again.
//! - **Answer by voice** counts only after [`Event::DialComplete`]: our own DTMF echoed back
//!   must not answer the call. Ringback and dial tone are not voice.
//! - A station's connection on a port is watched for call progress too: busy, reorder or dial
//!   tone after an answer means the far end hung up on a line without loop-current
//!   disconnect.
//! - A dial-in caller who keys nothing for [`DIGIT_TIMEOUT`] hears the prompt again; after
//!   [`MAX_TRIES`] silences, wrong PINs or unknown recipients the call ends with goodbye.
//! - **Dial strings**: the number, PIN and recipient are collected by the gateway against
//!   [`DIAL_IN_MAP`] ([`Command::CollectDigits`]; MGCP's digit maps, H.248's, or the TPNCP
//!   core's own matching) and reported in one piece, so no key is lost between two
//!   notifications. While it collects, the prompt is not cut by the first key (the gateway
//!   reports no single key) and RFC 4733 keys on our connection are ignored (the gateway has
//!   them). A port whose gateway refuses to collect gets its keys one by one from then on.
//!
//! [`Event::DialComplete`]: gateway_control::model::Event::DialComplete
//! [`Output::Identify`]: crate::Output::Identify

mod dialin;
mod group;
mod outbound;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use gateway_control::model::{
    Command, ConnectionMode, Digit, DownReason, Event, GatewayId, LineId, Media,
};
use tracing::debug;

use crate::manager::Config;
use crate::station::Calls;
use crate::{MediaCommand, MediaEvent, MessageId, Output, UserId};

pub(crate) use dialin::Answer;
use dialin::Session;
pub(crate) use group::parse_number;
pub use group::{ANSWER_TIMEOUT, Selection, TrunkError, TrunkGroup, station_line};

/// The virtual gateway of the stations behind trunk `name` is `trunk:<name>`.
pub const STATION_PREFIX: &str = "trunk:";
/// The virtual gateway of dial-in callers on trunk `name` is `dial-in:<name>`.
pub const DIAL_IN_PREFIX: &str = "dial-in:";
/// The longest number a station behind a trunk may have.
pub const MAX_NUMBER: usize = 32;
/// The most keys a dial-in caller may key before `#` (a number or a PIN).
pub const MAX_KEYS: usize = 16;
/// How long a dial-in caller has to key something before the prompt is played again.
pub const DIGIT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a dial-in caller has to key a number or PIN while the gateway collects it: the
/// gateway's own timers end the string (RFC 3435's long timer is 16 s), this one only covers a
/// gateway that never reports.
pub const COLLECT_TIMEOUT: Duration = Duration::from_secs(30);
/// The dial plan a dial-in number or PIN is collected with: keys ended by `#`, or by the
/// gateway's timer (RFC 3435 §2.1.5).
pub const DIAL_IN_MAP: &str = "([0-9*].#|[0-9*].T)";
/// Wrong PINs, unknown recipients or silences before a dial-in call ends.
pub const MAX_TRIES: u8 = 3;
/// The most ports one trunk group may have.
pub const MAX_PORTS: usize = 256;

/// What the trunks count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Ports seized to place a call.
    pub seized: u64,
    /// Rings that found every port of their group busy.
    pub all_busy: u64,
    /// Seizes lost to an incoming call (glare) or refused by the gateway, tried elsewhere.
    pub glare: u64,
    /// Calls placed that met busy or reorder.
    pub busy: u64,
    /// Calls placed that were answered: signalled by the line (polarity reversal).
    pub answered_by_line: u64,
    /// Calls placed that were answered: voice heard.
    pub answered_by_voice: u64,
    /// Calls placed, abandoned unanswered (ring timeout).
    pub unanswered: u64,
    /// Answered calls the far end ended.
    pub far_end_gone: u64,
    /// Incoming calls answered for dial-in.
    pub dial_ins: u64,
    /// Incoming calls not answered (no dial-in on the group, or the port was busy).
    pub incoming_ignored: u64,
    /// Dial-in callers identified.
    pub identified: u64,
    /// Wrong number-and-PIN tries.
    pub wrong_pins: u64,
    /// Numbers and PINs the gateway collected against the dial-in digit map.
    pub dial_strings: u64,
    /// Ports whose gateway refused to collect dial strings (their keys come one by one).
    pub collect_refused: u64,
    /// Events, keys and answers that meant nothing for the port's state (an idle trunk's
    /// far-end events, keys on an unanswered call…), dropped.
    pub dropped: u64,
}

/// A call of the trunks' own: its id and local RTP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OwnCall {
    id: gateway_control::model::CallId,
    port: u16,
    /// The gateway connection exists (answered `ConnectionCreated`).
    created: bool,
}

/// What a port is doing.
#[derive(Debug)]
enum PortState {
    Idle,
    /// Placing a call for the station on `vline`.
    Out(outbound::Placing),
    /// The far end answered the call placed for `vline`.
    Talking(outbound::Talking),
    /// A call came in (dial-in).
    In(Box<Session>),
}

#[derive(Debug)]
struct Port {
    line: LineId,
    group: usize,
    state: PortState,
    /// When a call placed is given up unanswered, or a dial-in caller's time to key runs out.
    timer: Option<Instant>,
    /// The gateway refused to collect dial strings on this port: keys come one by one.
    no_collect: bool,
}

#[derive(Debug)]
struct Group {
    spec: TrunkGroup,
    /// The port after which round robin looks next.
    last: usize,
    up: bool,
}

/// Which port a virtual line is on, and what it dials.
#[derive(Debug, Clone)]
struct Virtual {
    group: usize,
    /// The number (stations behind a trunk); `None` for a dial-in caller's line.
    number: Option<Vec<Digit>>,
    /// The port carrying its call.
    port: Option<usize>,
}

/// A short-lived station the manager is asked to add for a dial-in caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Spawn {
    pub(crate) line: LineId,
    pub(crate) user: UserId,
    pub(crate) then: Then,
}

/// What the dial-in caller's station does once added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Then {
    /// Hear these messages, `(message, sender)`.
    Listen(Vec<(MessageId, UserId)>),
    /// Record a message for these users.
    Record(Vec<UserId>),
}

/// The trunk layer: one sans-IO part of the [`StationManager`](crate::manager::StationManager),
/// which routes to it every command for a virtual line, every event of a trunk port, and
/// every media event of its calls, and drains its outboxes after each.
#[derive(Debug)]
pub(crate) struct Trunks {
    config: Config,
    groups: Vec<Group>,
    ports: Vec<Port>,
    by_port: HashMap<LineId, usize>,
    vlines: HashMap<LineId, Virtual>,
    /// Calls of our own (hearing a dialled line, dial-in prompts), by id: their port.
    own: HashMap<gateway_control::model::CallId, usize>,
    /// Stations' calls on ports, by id: their port and the station's virtual line.
    carried: HashMap<gateway_control::model::CallId, (usize, LineId)>,
    commands: VecDeque<Command>,
    media: VecDeque<MediaCommand>,
    events: VecDeque<Event>,
    outputs: VecDeque<Output>,
    spawns: VecDeque<Spawn>,
    retire: VecDeque<LineId>,
    stats: Stats,
}

impl Trunks {
    pub(crate) fn new(config: Config) -> Self {
        Self {
            config,
            groups: Vec::new(),
            ports: Vec::new(),
            by_port: HashMap::new(),
            vlines: HashMap::new(),
            own: HashMap::new(),
            carried: HashMap::new(),
            commands: VecDeque::new(),
            media: VecDeque::new(),
            events: VecDeque::new(),
            outputs: VecDeque::new(),
            spawns: VecDeque::new(),
            retire: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Adds a group; its ports are watched as trunks ([`Command::AddTrunk`]).
    pub(crate) fn add_group(
        &mut self,
        group: TrunkGroup,
        gateway_up: bool,
    ) -> Result<(), TrunkError> {
        if self.groups.iter().any(|g| g.spec.name == group.name) {
            return Err(TrunkError::NameTwice(group.name));
        }
        if let Some(p) = group.ports.iter().find(|p| self.by_port.contains_key(*p)) {
            return Err(TrunkError::PortTwice(p.clone()));
        }
        let g = self.groups.len();
        for line in &group.ports {
            self.by_port.insert(line.clone(), self.ports.len());
            self.ports.push(Port {
                line: line.clone(),
                group: g,
                state: PortState::Idle,
                timer: None,
                no_collect: false,
            });
            self.commands
                .push_back(Command::AddTrunk { line: line.clone() });
        }
        self.groups.push(Group {
            spec: group,
            last: usize::MAX,
            up: gateway_up,
        });
        Ok(())
    }

    /// The virtual line of a station behind `trunk` dialled as `number`, checked.
    pub(crate) fn station_line(&self, trunk: &str, number: &str) -> Result<LineId, TrunkError> {
        if !self.groups.iter().any(|g| g.spec.name == trunk) {
            return Err(TrunkError::Unknown(trunk.to_owned()));
        }
        parse_number(number)?;
        Ok(station_line(trunk, number))
    }

    /// A station was added on virtual line `line`: its status follows if the trunk is up.
    pub(crate) fn line_added(&mut self, line: &LineId) {
        let Some(v) = self.virtual_of(line) else {
            return;
        };
        let (group, bound) = (v.group, v.port.is_some());
        if self.groups[group].up {
            self.events.push_back(Event::LineStatus {
                line: line.clone(),
                off_hook: bound,
            });
        }
    }

    /// Whether `line` is a virtual line of ours (a station behind a trunk or a dial-in caller).
    pub(crate) fn is_virtual(&self, line: &LineId) -> bool {
        let g = line.gateway.as_str();
        let name = g
            .strip_prefix(STATION_PREFIX)
            .or_else(|| g.strip_prefix(DIAL_IN_PREFIX));
        name.is_some_and(|n| self.groups.iter().any(|x| x.spec.name == n))
    }

    /// Whether `line` is one of the trunk ports.
    pub(crate) fn is_port(&self, line: &LineId) -> bool {
        self.by_port.contains_key(line)
    }

    /// Whether `call` is one of ours or a station's call on a port: its media events come here.
    pub(crate) fn wants_media(
        &self,
        event: &MediaEvent,
        call: gateway_control::model::CallId,
    ) -> bool {
        self.own.contains_key(&call)
            || (matches!(event, MediaEvent::Progress { .. }) && self.carried.contains_key(&call))
    }

    pub(crate) fn stats(&self) -> Stats {
        self.stats
    }

    /// The group of a virtual line, from its gateway name.
    fn group_of_virtual(&self, line: &LineId) -> Option<usize> {
        let g = line.gateway.as_str();
        let name = g
            .strip_prefix(STATION_PREFIX)
            .or_else(|| g.strip_prefix(DIAL_IN_PREFIX))?;
        self.groups.iter().position(|x| x.spec.name == name)
    }

    fn virtual_of(&mut self, line: &LineId) -> Option<&mut Virtual> {
        if !self.vlines.contains_key(line) {
            let group = self.group_of_virtual(line)?;
            let number = if line.gateway.as_str().starts_with(STATION_PREFIX) {
                Some(parse_number(&line.endpoint).ok()?)
            } else {
                None
            };
            self.vlines.insert(
                line.clone(),
                Virtual {
                    group,
                    number,
                    port: None,
                },
            );
        }
        self.vlines.get_mut(line)
    }

    /// A command a station gave its virtual line.
    pub(crate) fn handle_station_command(
        &mut self,
        now: Instant,
        command: Command,
        calls: &mut Calls,
    ) {
        let Some(line) = command.line().cloned() else {
            return;
        };
        let Some(v) = self.virtual_of(&line).cloned() else {
            debug!(%line, "command for an unknown virtual line dropped");
            return;
        };
        let up = self.groups[v.group].up;
        match command {
            // (Stations never audit their line and are added through `line_added`; a
            // caller asking anyway hears the same.)
            Command::AddLine { .. } | Command::Audit { .. } => {
                if up {
                    self.events.push_back(Event::LineStatus {
                        line,
                        off_hook: v.port.is_some(),
                    });
                }
            }
            Command::RemoveLine { .. } => {
                if let Some(p) = v.port {
                    self.hang_up(p, calls, false);
                }
                self.vlines.remove(&line);
            }
            Command::Ring { .. } => match v.number {
                Some(number) => self.place(now, line, v.group, number, calls),
                // A dial-in caller is on the line already: the ring is answered at once.
                None => self.events.push_back(Event::OffHook { line }),
            },
            Command::StopRing { .. } => {
                if let Some(p) = v.port
                    && matches!(self.ports[p].state, PortState::Out(_))
                {
                    self.stats.unanswered += 1;
                    self.hang_up(p, calls, false);
                }
            }
            Command::PlayTone { .. } | Command::StopTone { .. } => {
                // Nothing to hear and no connection: the station's call is over.
                if let Some(p) = v.port
                    && self.station_done_without_call(p)
                {
                    self.hang_up(p, calls, true);
                }
            }
            Command::CreateConnection { .. }
            | Command::ModifyConnection { .. }
            | Command::DeleteConnection { .. } => self.carry(now, line, v.port, command, calls),
            _ => debug!(%line, "command for a virtual line not used"),
        }
    }

    /// An event of a trunk port (or its gateway).
    pub(crate) fn handle_event(&mut self, now: Instant, event: &Event, calls: &mut Calls) {
        match event {
            Event::GatewayUp { gateway } => self.gateway_up(gateway),
            Event::GatewayDown { gateway, reason } => self.gateway_down(gateway, *reason, calls),
            _ => {
                let Some(line) = event.line() else {
                    return;
                };
                let Some(&p) = self.by_port.get(line) else {
                    return;
                };
                match &self.ports[p].state {
                    PortState::Idle => self.on_idle_port(now, p, event, calls),
                    PortState::Out(_) | PortState::Talking(_) => {
                        self.on_outbound(now, p, event, calls);
                    }
                    PortState::In(_) => self.on_dial_in(now, p, dialin::In::Gateway(event), calls),
                }
            }
        }
    }

    /// A media event of one of our calls, or call progress on a station's call on a port.
    pub(crate) fn handle_media(&mut self, now: Instant, event: MediaEvent, calls: &mut Calls) {
        let call = crate::manager::media_call(&event);
        let Some(p) = self
            .own
            .get(&call)
            .copied()
            .or_else(|| self.carried.get(&call).map(|(p, _)| *p))
        else {
            return;
        };
        match &self.ports[p].state {
            PortState::Out(_) | PortState::Talking(_) => {
                self.on_outbound_media(now, p, call, &event, calls);
            }
            PortState::In(_) => self.on_dial_in(now, p, dialin::In::Media(call, &event), calls),
            PortState::Idle => {}
        }
    }

    /// An answer from the IVM core for a dial-in caller.
    pub(crate) fn handle_answer(
        &mut self,
        now: Instant,
        line: &LineId,
        answer: Answer,
        calls: &mut Calls,
    ) {
        match self.by_port.get(line) {
            Some(&p) if matches!(self.ports[p].state, PortState::In(_)) => {
                self.on_dial_in(now, p, dialin::In::Core(answer), calls);
            }
            _ => {
                self.stats.dropped += 1;
                debug!(%line, "answer for a call no longer there dropped");
            }
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant, calls: &mut Calls) {
        for p in 0..self.ports.len() {
            if self.ports[p].timer.is_some_and(|t| t <= now) {
                self.ports[p].timer = None;
                match self.ports[p].state {
                    PortState::Out(_) => self.not_answered(p, calls),
                    PortState::In(_) => self.on_dial_in(now, p, dialin::In::Timeout, calls),
                    _ => {}
                }
            }
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.ports.iter().filter_map(|p| p.timer).min()
    }

    pub(crate) fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    pub(crate) fn poll_media(&mut self) -> Option<MediaCommand> {
        self.media.pop_front()
    }

    pub(crate) fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    pub(crate) fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    pub(crate) fn poll_spawn(&mut self) -> Option<Spawn> {
        self.spawns.pop_front()
    }

    pub(crate) fn poll_retire(&mut self) -> Option<LineId> {
        self.retire.pop_front()
    }

    fn gateway_up(&mut self, gateway: &GatewayId) {
        for g in 0..self.groups.len() {
            if &self.groups[g].spec.ports[0].gateway != gateway {
                continue;
            }
            self.groups[g].up = true;
            let name = &self.groups[g].spec.name;
            for prefix in [STATION_PREFIX, DIAL_IN_PREFIX] {
                self.events.push_back(Event::GatewayUp {
                    gateway: GatewayId::new(&format!("{prefix}{name}")),
                });
            }
            let mut lines: Vec<LineId> = self
                .vlines
                .iter()
                .filter(|(_, v)| v.group == g)
                .map(|(l, _)| l.clone())
                .collect();
            lines.sort();
            for line in lines {
                self.events.push_back(Event::LineStatus {
                    line,
                    off_hook: false,
                });
            }
        }
    }

    fn gateway_down(&mut self, gateway: &GatewayId, reason: DownReason, calls: &mut Calls) {
        for g in 0..self.groups.len() {
            if &self.groups[g].spec.ports[0].gateway != gateway {
                continue;
            }
            self.groups[g].up = false;
            for p in 0..self.ports.len() {
                if self.ports[p].group == g {
                    // The gateway forgot its connections: ours close, stations hear it below.
                    self.forget(p, calls, true);
                }
            }
            let name = &self.groups[g].spec.name;
            for prefix in [STATION_PREFIX, DIAL_IN_PREFIX] {
                self.events.push_back(Event::GatewayDown {
                    gateway: GatewayId::new(&format!("{prefix}{name}")),
                    reason,
                });
            }
        }
    }

    /// Frees port `p` without telling the gateway: our calls close, virtual lines are
    /// unbound, a dial-in caller's station is retired. `down`: the gateway is down, so the
    /// stations' connections on the port are gone too.
    fn forget(&mut self, p: usize, calls: &mut Calls, down: bool) {
        let state = std::mem::replace(&mut self.ports[p].state, PortState::Idle);
        self.ports[p].timer = None;
        let (vline, own) = match state {
            PortState::Idle => return,
            PortState::Out(o) => (Some(o.vline), o.watch),
            PortState::Talking(t) => {
                if down && let Some(c) = t.station_call {
                    self.carried.remove(&c);
                }
                (Some(t.vline), None)
            }
            PortState::In(s) => {
                if down && let Some(c) = s.station_call {
                    self.carried.remove(&c);
                }
                if let Some(v) = &s.station {
                    self.retire.push_back(v.clone());
                }
                (s.station.clone(), s.call)
            }
        };
        if let Some(c) = own {
            self.close_own(c, calls);
        }
        if let Some(v) = vline
            && let Some(x) = self.vlines.get_mut(&v)
        {
            x.port = None;
        }
    }

    /// Opens a call of our own on port `p`: media socket and gateway connection.
    fn open_own(&mut self, p: usize, calls: &mut Calls) -> Option<OwnCall> {
        let (id, port) = calls.open()?;
        let line = self.ports[p].line.clone();
        self.media.push_back(MediaCommand::Open {
            call: id,
            port,
            line: line.clone(),
        });
        let media = Media {
            address: (self.config.media_address, port).into(),
            codec: self.config.codec,
            ptime: self.config.ptime,
            telephone_event: self.config.telephone_event,
        };
        self.commands.push_back(Command::CreateConnection {
            line,
            call: id,
            mode: ConnectionMode::SendRecv,
            codec: self.config.codec,
            ptime: self.config.ptime,
            remote: Some(media),
        });
        self.own.insert(id, p);
        Some(OwnCall {
            id,
            port,
            created: false,
        })
    }

    /// Closes a call of our own: deletes the gateway connection (if made) and the media.
    fn close_own(&mut self, c: OwnCall, calls: &mut Calls) {
        let p = self.own.remove(&c.id);
        if c.created
            && let Some(p) = p
            && self.groups[self.ports[p].group].up
        {
            self.commands.push_back(Command::DeleteConnection {
                line: self.ports[p].line.clone(),
                call: c.id,
            });
        }
        self.media.push_back(MediaCommand::Close { call: c.id });
        calls.close(c.port);
    }

    /// Ends whatever port `p` carries and releases it. `tell`: the station on its virtual
    /// line hears an on-hook (the far end is gone, or its own call ended without a
    /// connection).
    fn hang_up(&mut self, p: usize, calls: &mut Calls, tell: bool) {
        let vline = match &self.ports[p].state {
            PortState::Out(o) => Some(o.vline.clone()),
            PortState::Talking(t) => Some(t.vline.clone()),
            PortState::In(s) => s.station.clone(),
            PortState::Idle => None,
        };
        // A station's connection on the port stays known (`carried`) until the station
        // deletes it, which it does when it hears the on-hook.
        self.forget(p, calls, false);
        self.release(p);
        if tell && let Some(v) = vline {
            self.events.push_back(Event::OnHook { line: v });
        }
    }

    /// Puts port `p` on hook (if its gateway is there to hear it).
    fn release(&mut self, p: usize) {
        if self.groups[self.ports[p].group].up {
            self.commands.push_back(Command::Release {
                line: self.ports[p].line.clone(),
            });
        }
    }

    fn station_done_without_call(&self, p: usize) -> bool {
        match &self.ports[p].state {
            PortState::Talking(t) => t.station_call.is_none() && !t.far_gone,
            PortState::In(s) => s.station.is_some() && s.station_call.is_none() && s.handed,
            _ => false,
        }
    }

    /// Events on an idle port: only an incoming call means something.
    fn on_idle_port(&mut self, now: Instant, p: usize, event: &Event, calls: &mut Calls) {
        match event {
            Event::IncomingCall { caller_id, .. } => {
                let g = self.ports[p].group;
                if !self.groups[g].spec.dial_in {
                    self.stats.incoming_ignored += 1;
                    debug!(port = %self.ports[p].line, "incoming call on a trunk without dial-in not answered");
                    return;
                }
                let caller = caller_id.as_ref().and_then(|c| c.number.clone());
                self.answer_incoming(now, p, caller, calls);
            }
            Event::LineStatus { .. }
            | Event::ConnectionDeleted { .. }
            | Event::ConnectionLost { .. }
            | Event::CommandFailed { call: Some(_), .. } => {}
            _ => {
                self.stats.dropped += 1;
                debug!(port = %self.ports[p].line, ?event, "event for an idle trunk dropped");
            }
        }
    }
}
