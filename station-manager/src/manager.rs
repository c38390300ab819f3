//! The station manager: every configured [`Station`], and the routing between them, the gateway
//! model, the media engine and the IVM core.

use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::time::Instant;

use gateway_control::model::{CallId, Command, Event, GatewayId, LineId};
use tracing::debug;

use crate::station::{Answered, Calls, Station, Stats as StationStats};
use crate::trunk::{self, Trunks};
use crate::{Input, MediaCommand, MediaEvent, Output, RequestId, StreamId, UserId};

mod config;
mod timers;
pub use config::{Config, ConfigError};
use timers::Timers;

/// A station could not be added.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddError {
    /// The line already has a station.
    #[error("line {0} already has a station")]
    Duplicate(LineId),
    /// The line's removed station is still storing what it recorded: add it again once
    /// [`StationManager::is_capturing`] says it is done.
    #[error("line {0} is still storing the recording of the phone removed from it")]
    Retiring(LineId),
}

/// What the manager counts (the stations' own counters are summed in [`Stats::stations`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Gateway events for a line with no station, dropped.
    pub unknown_line: u64,
    /// Media events for a call no station has, dropped.
    pub unknown_call: u64,
    /// Inputs for a user with no station, or a stream no station plays, dropped (a record
    /// request is answered [`Output::RecordFailed`]).
    pub unknown_user: u64,
    /// Record failures from one of a user's several phones not passed on (another phone
    /// answered, or still rings).
    pub failures_merged: u64,
    /// The stations' counters, summed.
    pub stations: StationStats,
    /// The trunks' counters.
    pub trunks: trunk::Stats,
}

/// A record request rung on several phones: which still ring, and whether one answered.
#[derive(Debug)]
struct Pending {
    ringing: Vec<usize>,
    /// The phone that was picked up; only its outcome counts from then on.
    winner: Option<usize>,
}

/// Every station, as one sans-IO core.
///
/// The caller's loop, in quinn's order:
/// 1. feed what happened: [`handle_event`](Self::handle_event) for each gateway model event,
///    [`handle_input`](Self::handle_input) for each IVM-core input,
///    [`handle_media`](Self::handle_media) for each media-engine event, and
///    [`handle_timeout`](Self::handle_timeout) once [`poll_timeout`](Self::poll_timeout) is due;
/// 2. drain [`poll_command`](Self::poll_command) to the gateway controller;
/// 3. drain [`poll_media`](Self::poll_media) to the media engine;
/// 4. drain [`poll_output`](Self::poll_output) to the IVM core;
/// 5. wait for the next input or [`poll_timeout`](Self::poll_timeout).
///
/// A user may have several stations: a record request or a message rings all that can ring,
/// the first to pick up wins and the others stop ringing; a message heard or deleted on one is
/// withdrawn from the others.
///
/// Phones behind trunks ([`Self::add_trunk`], [`trunk::station_line`]) are stations on virtual
/// lines: the [`trunk`] layer carries their commands to the trunk ports and the ports' events
/// back. Dial-in callers get a short-lived station of their own, which rings no other phone
/// and takes no requests.
#[derive(Debug)]
pub struct StationManager {
    config: Config,
    calls: Calls,
    stations: Vec<Station>,
    by_line: HashMap<LineId, usize>,
    by_user: HashMap<UserId, Vec<usize>>,
    by_call: HashMap<CallId, usize>,
    streams: HashMap<StreamId, Vec<usize>>,
    requests: HashMap<RequestId, Pending>,
    /// Stations whose phone was removed: they only finish what they were doing.
    retired: HashSet<usize>,
    gateways_up: HashSet<GatewayId>,
    commands: VecDeque<Command>,
    media: VecDeque<MediaCommand>,
    outputs: VecDeque<Output>,
    stats: Stats,
    /// Each user's availability as last queued in `availability`.
    available: HashMap<UserId, bool>,
    availability: VecDeque<(UserId, bool)>,
    trunks: Trunks,
    /// Dial-in callers' stations: not in `by_user`, removed when their call ends.
    transient: HashSet<usize>,
    /// Every station's deadline, earliest first: kept in step by [`Self::rearm`] after each
    /// call into a station.
    timers: Timers,
}

impl StationManager {
    /// A manager with no stations yet.
    pub fn new(config: Config) -> Self {
        let calls = Calls::new(config.ports.clone(), config.first_call);
        Self {
            trunks: Trunks::new(config.clone()),
            transient: HashSet::new(),
            timers: Timers::default(),
            config,
            calls,
            stations: Vec::new(),
            by_line: HashMap::new(),
            by_user: HashMap::new(),
            by_call: HashMap::new(),
            streams: HashMap::new(),
            requests: HashMap::new(),
            retired: HashSet::new(),
            gateways_up: HashSet::new(),
            commands: VecDeque::new(),
            available: HashMap::new(),
            availability: VecDeque::new(),
            media: VecDeque::new(),
            outputs: VecDeque::new(),
            stats: Stats::default(),
        }
    }

    /// Adds `user`'s phone on `line`, at start or while running. The gateway controller is
    /// told to watch the line ([`Command::AddLine`]; at start it already does, and the line is
    /// not audited twice). The phone is unavailable until its gateway reports
    /// [`Event::GatewayUp`], and rings only once the line's [`Event::LineStatus`] came, which
    /// the controller sends at once for a gateway already up.
    ///
    /// A line whose station was removed takes the new one once the old one has stored what
    /// it recorded ([`AddError::Retiring`] until then).
    pub fn add_station(&mut self, line: LineId, user: UserId) -> Result<(), AddError> {
        let slot = match self.by_line.get(&line) {
            Some(&i) if !self.retired.contains(&i) => return Err(AddError::Duplicate(line)),
            Some(&i) if self.stations[i].is_capturing() => return Err(AddError::Retiring(line)),
            Some(&i) => Some(i),
            None => None,
        };
        let mut station = Station::new(line.clone(), user, self.config.clone());
        if self.gateways_up.contains(&line.gateway) {
            station.gateway_known_up();
        }
        if self.trunks.is_virtual(&line) {
            // Its line status comes with the next event handled.
            self.trunks.line_added(&line);
        } else {
            self.commands
                .push_back(Command::AddLine { line: line.clone() });
        }
        let i = self.place_station(slot, station);
        self.by_line.insert(line, i);
        self.by_user.entry(user).or_default().push(i);
        self.note_availability(user);
        Ok(())
    }

    /// Puts `station` in `slot` (a removed station's) or a new one; returns its index.
    fn place_station(&mut self, slot: Option<usize>, station: Station) -> usize {
        let i = match slot {
            Some(i) => {
                // The removed station's calls are over; late events for them are dropped.
                self.retired.remove(&i);
                self.transient.remove(&i);
                self.by_call.retain(|_, s| *s != i);
                self.stations[i] = station;
                i
            }
            None => {
                self.stations.push(station);
                self.stations.len() - 1
            }
        };
        self.rearm(i);
        i
    }

    /// Station `i` may have changed its deadline: the heap follows.
    fn rearm(&mut self, i: usize) {
        self.timers.set(i, self.stations[i].poll_timeout());
    }

    /// Takes the phone on `line` from its user, while running. What it was doing ends as at
    /// shutdown: a recording stops and is still stored ([`Output::Recorded`] with
    /// [`crate::StopReason::Removed`]), a record request ringing only there fails, playback
    /// stops and its connections are deleted; then the gateway controller is told to stop
    /// watching the line ([`Command::RemoveLine`]). From then on the line's events only finish
    /// that work, and inputs for the user no longer reach it. Returns the user it had, or
    /// `None` if the line has no station.
    pub fn remove_station(&mut self, now: Instant, line: &LineId) -> Option<UserId> {
        let i = *self.by_line.get(line)?;
        if !self.retired.insert(i) {
            return None;
        }
        let user = self.stations[i].user();
        if let Some(list) = self.by_user.get_mut(&user) {
            list.retain(|&s| s != i);
            if list.is_empty() {
                self.by_user.remove(&user);
            }
        }
        for targets in self.streams.values_mut() {
            targets.retain(|&s| s != i);
        }
        self.stations[i].stop(&mut self.calls, crate::StopReason::Removed);
        self.collect(now, i);
        self.route(now, Command::RemoveLine { line: line.clone() });
        self.transient.remove(&i);
        self.pump(now);
        Some(user)
    }

    /// The appliance is shutting down: every recording stops and is still delivered as
    /// [`Output::Recorded`] with [`crate::StopReason::Shutdown`] once the engine has finished
    /// its file; rings stop, record requests still ringing fail, playback stops and every
    /// connection is deleted. Keep driving the manager until [`Self::is_capturing`] is false.
    pub fn shutdown(&mut self, now: Instant) {
        for i in 0..self.stations.len() {
            self.stations[i].shutdown(&mut self.calls);
            self.collect(now, i);
        }
        self.pump(now);
    }

    /// Whether any station is still capturing or finishing a recording.
    pub fn is_capturing(&self) -> bool {
        self.stations.iter().any(Station::is_capturing)
    }

    /// The next change in a user's availability ([`Self::is_available`]), in order; every user
    /// with a station is reported once when added. Costs nothing per event for the caller.
    pub fn poll_availability(&mut self) -> Option<(UserId, bool)> {
        self.availability.pop_front()
    }

    fn note_availability(&mut self, user: UserId) {
        let now = self.is_available(user).unwrap_or(false);
        if self.available.insert(user, now) != Some(now) {
            self.availability.push_back((user, now));
        }
    }

    /// Whether `user` can be rung to record now: `None` if they have no station (HTTP 409),
    /// `Some(false)` if every station's gateway is down (HTTP 503).
    pub fn is_available(&self, user: UserId) -> Option<bool> {
        // (Dial-in callers' stations are not in `by_user`.)
        let list = self.by_user.get(&user)?;
        Some(list.iter().any(|&i| self.stations[i].is_available()))
    }

    /// Every phone (not those removed), in the order added.
    pub fn stations(&self) -> impl Iterator<Item = &Station> + '_ {
        self.stations
            .iter()
            .enumerate()
            .filter(|(i, _)| !self.retired.contains(i))
            .map(|(_, s)| s)
    }

    /// The station on `line`.
    pub fn station(&self, line: &LineId) -> Option<&Station> {
        self.by_line.get(line).map(|&i| &self.stations[i])
    }

    /// The settings.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// RTP ports in use.
    pub fn ports_in_use(&self) -> usize {
        self.calls.ports().in_use()
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        let mut s = self.stats;
        s.trunks = self.trunks.stats();
        s.stations = self
            .stations
            .iter()
            .fold(StationStats::default(), |acc, st| acc.sum(st.stats()));
        s
    }

    /// A gateway model event.
    pub fn handle_event(&mut self, now: Instant, event: Event) {
        // What the trunks queued meanwhile (a phone added behind one) comes first.
        self.pump(now);
        let for_trunks = match &event {
            Event::GatewayUp { .. } | Event::GatewayDown { .. } => true,
            e => e.line().is_some_and(|l| self.trunks.is_port(l)),
        };
        if for_trunks {
            self.trunks.handle_event(now, &event, &mut self.calls);
        }
        if !for_trunks || matches!(event, Event::GatewayUp { .. } | Event::GatewayDown { .. }) {
            self.deliver(now, event);
        }
        self.pump(now);
    }

    /// A gateway event (or one the trunks made for a virtual line) to the stations.
    fn deliver(&mut self, now: Instant, event: Event) {
        match &event {
            Event::GatewayUp { gateway } | Event::GatewayDown { gateway, .. } => {
                if matches!(event, Event::GatewayUp { .. }) {
                    self.gateways_up.insert(gateway.clone());
                } else {
                    self.gateways_up.remove(gateway);
                }
                for i in self.on_gateway(gateway) {
                    self.stations[i].handle_event(now, &event, &mut self.calls);
                    self.collect(now, i);
                }
            }
            Event::LineStatus { line, .. }
            | Event::OffHook { line }
            | Event::OnHook { line }
            | Event::HookFlash { line }
            | Event::Digit { line, .. }
            | Event::ConnectionCreated { line, .. }
            | Event::ConnectionModified { line, .. }
            | Event::ConnectionDeleted { line, .. }
            | Event::ConnectionLost { line, .. }
            | Event::CommandFailed { line, .. } => {
                let i = match self.by_line.get(line) {
                    Some(&i) if !self.retired.contains(&i) || is_about_a_call(&event) => i,
                    _ => {
                        self.stats.unknown_line += 1;
                        debug!(%line, "event for a line with no station dropped");
                        return;
                    }
                };
                self.stations[i].handle_event(now, &event, &mut self.calls);
                self.collect(now, i);
            }
            _ => debug!(?event, "gateway event not used"),
        }
    }

    /// An input from the IVM core.
    pub fn handle_input(&mut self, now: Instant, input: Input) {
        self.pump(now);
        match input {
            Input::Identified {
                line,
                user,
                waiting,
            } => {
                let answer = trunk::Answer::Identified(user, waiting);
                self.trunks
                    .handle_answer(now, &line, answer, &mut self.calls);
                self.pump(now);
            }
            Input::Recipient { line, user } => {
                let answer = trunk::Answer::Recipient(user);
                self.trunks
                    .handle_answer(now, &line, answer, &mut self.calls);
                self.pump(now);
            }
            Input::Record { request, user, .. } => {
                let targets: Vec<usize> = self
                    .stations_of(user)
                    .into_iter()
                    .filter(|&i| self.stations[i].can_ring())
                    .collect();
                if targets.is_empty() {
                    let reason = match self.is_available(user) {
                        None => "the user has no phone",
                        Some(false) => "the phone's gateway is down",
                        Some(true) => "the phone is busy",
                    };
                    self.stats.unknown_user += u64::from(!self.by_user.contains_key(&user));
                    self.outputs.push_back(Output::RecordFailed {
                        request,
                        reason: reason.into(),
                    });
                    return;
                }
                self.requests.insert(
                    request,
                    Pending {
                        ringing: targets.clone(),
                        winner: None,
                    },
                );
                self.send_to(now, &targets, &input);
            }
            Input::MessageWaiting { user, .. }
            | Input::MessageGone { user, .. }
            | Input::LiveStored { user, .. }
            | Input::LiveStart { user, .. } => {
                let targets = self.stations_of(user);
                if targets.is_empty() {
                    self.stats.unknown_user += 1;
                    debug!("input for a user with no station dropped");
                    return;
                }
                if let Input::LiveStart { stream, .. } = &input {
                    self.streams.insert(*stream, targets.clone());
                }
                self.send_to(now, &targets, &input);
            }
            Input::LiveBuffer { stream, .. } | Input::LiveEnd { stream } => {
                let ended = matches!(input, Input::LiveEnd { .. });
                let Some(targets) = self.streams.get(&stream).cloned() else {
                    self.stats.unknown_user += 1;
                    debug!(%stream, "buffer for a stream no station plays dropped");
                    return;
                };
                if ended {
                    self.streams.remove(&stream);
                }
                self.send_to(now, &targets, &input);
            }
        }
        self.pump(now);
    }

    /// An event from the media engine.
    pub fn handle_media(&mut self, now: Instant, event: MediaEvent) {
        self.pump(now);
        let call = media_call(&event);
        if self.trunks.wants_media(&event, call) {
            self.trunks.handle_media(now, event, &mut self.calls);
            self.pump(now);
            return;
        }
        let Some(&i) = self.by_call.get(&call) else {
            self.stats.unknown_call += 1;
            debug!(%call, "media event for no station's call dropped");
            return;
        };
        self.stations[i].handle_media(now, event, &mut self.calls);
        self.collect(now, i);
        self.pump(now);
    }

    /// The instant from [`poll_timeout`](Self::poll_timeout) has passed.
    ///
    /// The stations due are taken from the timer heap, O(log n) each, and handled in the order
    /// of a pass over the stations: one that comes due meanwhile (another's work re-armed it)
    /// is handled in this pass if the pass has not reached it yet, else at the next call
    /// (`poll_timeout` is then already due).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.pump(now);
        let mut due = BTreeSet::new();
        let mut passed = Vec::new();
        let mut next = 0;
        loop {
            while let Some(i) = self.timers.pop_due(now) {
                if i >= next {
                    due.insert(i);
                } else {
                    passed.push(i);
                }
            }
            let Some(i) = due.pop_first() else { break };
            next = i + 1;
            if self.stations[i].poll_timeout().is_some_and(|t| t <= now) {
                self.stations[i].handle_timeout(now, &mut self.calls);
                self.collect(now, i);
            }
            self.rearm(i);
        }
        for i in passed {
            self.rearm(i);
        }
        if self.trunks.poll_timeout().is_some_and(|t| t <= now) {
            self.trunks.handle_timeout(now, &mut self.calls);
        }
        self.pump(now);
    }

    /// The next command for the gateway controller.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.commands.pop_front()
    }

    /// The next command for the media engine.
    pub fn poll_media(&mut self) -> Option<MediaCommand> {
        self.media.pop_front()
    }

    /// The next output for the IVM core.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let stations = self.timers.next();
        #[cfg(debug_assertions)]
        {
            let scanned = self.stations.iter().filter_map(Station::poll_timeout).min();
            debug_assert_eq!(stations, scanned, "the timer heap follows the stations");
        }
        match (stations, self.trunks.poll_timeout()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    fn stations_of(&self, user: UserId) -> Vec<usize> {
        self.by_user.get(&user).cloned().unwrap_or_default()
    }

    fn on_gateway(&self, gateway: &GatewayId) -> Vec<usize> {
        (0..self.stations.len())
            .filter(|&i| &self.stations[i].line().gateway == gateway && !self.retired.contains(&i))
            .collect()
    }

    fn send_to(&mut self, now: Instant, targets: &[usize], input: &Input) {
        for &i in targets {
            self.stations[i].handle_input(now, input.clone(), &mut self.calls);
            self.collect(now, i);
        }
    }

    /// Moves station `i`'s outbox to ours, keeping the call map, merging the outcomes of a
    /// request rung on several phones, and stopping the others when one is picked up.
    fn collect(&mut self, now: Instant, i: usize) {
        let transient = self.transient.contains(&i);
        if !transient {
            self.note_availability(self.stations[i].user());
        }
        // Media first: a trunk watches a station's call once its connection is asked for,
        // which must reach the engine after the call is opened.
        while let Some(m) = self.stations[i].poll_media() {
            match &m {
                MediaCommand::Open { call, .. } => {
                    self.by_call.insert(*call, i);
                }
                MediaCommand::Close { call } => {
                    self.by_call.remove(call);
                }
                _ => {}
            }
            self.media.push_back(m);
        }
        while let Some(c) = self.stations[i].poll_command() {
            self.route(now, c);
        }
        let mut withdrawn = Vec::new();
        while let Some(o) = self.stations[i].poll_output() {
            match &o {
                Output::RecordFailed { request, .. } => {
                    if let Some(p) = self.requests.get_mut(request) {
                        p.ringing.retain(|&s| s != i);
                        let last = match p.winner {
                            Some(w) => w == i,
                            None => p.ringing.is_empty(),
                        };
                        if !last {
                            self.stats.failures_merged += 1;
                            continue;
                        }
                        self.requests.remove(request);
                    }
                }
                Output::Recorded {
                    request: Some(r), ..
                } => {
                    self.requests.remove(r);
                }
                Output::Played { user, message } | Output::Deleted { user, message } => {
                    withdrawn.push(Input::MessageGone {
                        user: *user,
                        message: *message,
                    });
                }
                _ => {}
            }
            self.outputs.push_back(o);
        }
        let answered = self.stations[i].take_answered();
        if let Some(answered) = answered.filter(|_| !transient) {
            let others: Vec<usize> = self
                .stations_of(self.stations[i].user())
                .into_iter()
                .filter(|&s| s != i)
                .collect();
            if let Answered::Record(r) = answered
                && let Some(p) = self.requests.get_mut(&r)
            {
                p.winner = Some(i);
                p.ringing.clear();
            }
            for s in others {
                self.stations[s].cancel(now, &answered);
                self.collect(now, s);
            }
        }
        for input in withdrawn {
            let others: Vec<usize> = self
                .stations_of(self.stations[i].user())
                .into_iter()
                .filter(|&s| s != i)
                .collect();
            self.send_to(now, &others, &input);
        }
        self.rearm(i);
    }
}

/// Whether a line event answers a connection command: the only events a removed station
/// still takes, to finish its calls.
fn is_about_a_call(e: &Event) -> bool {
    matches!(
        e,
        Event::ConnectionCreated { .. }
            | Event::ConnectionModified { .. }
            | Event::ConnectionDeleted { .. }
            | Event::ConnectionLost { .. }
            | Event::CommandFailed { call: Some(_), .. }
    )
}

/// The call a media event is about.
pub(crate) fn media_call(e: &MediaEvent) -> CallId {
    match e {
        MediaEvent::Digit { call, .. }
        | MediaEvent::Silence { call }
        | MediaEvent::MaxLength { call }
        | MediaEvent::Buffer { call, .. }
        | MediaEvent::Captured { call, .. }
        | MediaEvent::PlayDone { call }
        | MediaEvent::Progress { call, .. }
        | MediaEvent::Failed { call, .. } => *call,
    }
}

mod trunks;

#[cfg(test)]
mod tests;
