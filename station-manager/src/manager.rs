//! The station manager: every configured [`Station`], and the routing between them, the gateway
//! model, the media engine and the IVM core.

use std::collections::{HashMap, HashSet, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::ops::RangeInclusive;
use std::time::{Duration, Instant};

use gateway_control::model::{CallId, Codec, Command, Event, GatewayId, LineId};
use tracing::debug;

use crate::station::{Answered, Calls, Station, Stats as StationStats};
use crate::trunk::{self, Trunks};
use crate::{Input, MediaCommand, MediaEvent, Output, RequestId, StreamId, UserId};

/// A [`Config`] value out of range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A duration that must be positive is zero.
    #[error("{0} must be positive")]
    Zero(&'static str),
    /// The port range holds no even port with its odd neighbour.
    #[error("the RTP port range holds no even/odd port pair")]
    Ports,
    /// Distinctive ring patterns are 0–7.
    #[error("distinctive ring patterns are 0 to 7")]
    Cadence,
    /// The live buffer must be a whole number of 125 µs samples, at most one second.
    #[error("the live buffer must be 1 ms to 1 s")]
    LiveBuffer,
    /// The retry interval of a phone behind a trunk is 30 s to 24 h.
    #[error("the trunk retry interval must be 30 s to 24 h")]
    TrunkRetry,
}

/// The stations' settings.
#[derive(Debug, Clone)]
pub struct Config {
    pub(crate) record_ring_timeout: Duration,
    pub(crate) message_ring_timeout: Duration,
    pub(crate) record_cadence: u8,
    pub(crate) silence: Option<Duration>,
    pub(crate) max_length: Duration,
    pub(crate) live_buffer: Duration,
    pub(crate) live_backlog: Duration,
    pub(crate) codec: Codec,
    pub(crate) ptime: Duration,
    pub(crate) telephone_event: Option<u8>,
    pub(crate) ports: RangeInclusive<u16>,
    pub(crate) media_address: IpAddr,
    pub(crate) first_call: u64,
    pub(crate) message_lamp: bool,
    pub(crate) trunk_retry: Duration,
    pub(crate) trunk_retries: u8,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            record_ring_timeout: Duration::from_secs(30),
            message_ring_timeout: Duration::from_secs(60),
            record_cadence: 1,
            silence: Some(Duration::from_secs(5)),
            max_length: Duration::from_secs(120),
            live_buffer: Duration::from_millis(20),
            live_backlog: Duration::from_secs(10),
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            telephone_event: Some(101),
            ports: 16384..=32767,
            media_address: IpAddr::V4(Ipv4Addr::LOCALHOST),
            first_call: 1,
            message_lamp: false,
            trunk_retry: Duration::from_secs(300),
            trunk_retries: 3,
        }
    }
}

fn positive(d: Duration, what: &'static str) -> Result<Duration, ConfigError> {
    if d.is_zero() {
        Err(ConfigError::Zero(what))
    } else {
        Ok(d)
    }
}

impl Config {
    /// How long a phone rings to record before the request fails with "no answer" (30 s).
    pub fn record_ring_timeout(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.record_ring_timeout = positive(d, "record ring timeout")?;
        Ok(self)
    }

    /// How long a phone rings for waiting messages or a live stream (60 s); the messages stay
    /// waiting for the next pick-up.
    pub fn message_ring_timeout(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.message_ring_timeout = positive(d, "message ring timeout")?;
        Ok(self)
    }

    /// A phone behind a trunk whose message ring failed (busy, no answer, every port busy) is
    /// rung again `every` (5 min), up to `attempts` times (3; 0: never) after each new message;
    /// its user can also dial in. A phone on a gateway's own line is not: it can pick up to
    /// listen whenever it likes. `every` is 30 s to 24 h.
    pub fn trunk_retry(&mut self, every: Duration, attempts: u8) -> Result<&mut Self, ConfigError> {
        if every < Duration::from_secs(30) || every > Duration::from_secs(86_400) {
            return Err(ConfigError::TrunkRetry);
        }
        self.trunk_retry = every;
        self.trunk_retries = attempts;
        Ok(self)
    }

    /// The distinctive ring pattern (0–7) that says "pick up to record" (1); messages ring
    /// with the normal cadence.
    pub fn record_cadence(&mut self, n: u8) -> Result<&mut Self, ConfigError> {
        if n > 7 {
            return Err(ConfigError::Cadence);
        }
        self.record_cadence = n;
        Ok(self)
    }

    /// The silence that ends a recording (5 s); `None` never stops on silence.
    pub fn silence(&mut self, d: Option<Duration>) -> Result<&mut Self, ConfigError> {
        if let Some(d) = d {
            positive(d, "silence time")?;
        }
        self.silence = d;
        Ok(self)
    }

    /// The longest recording (120 s).
    pub fn max_length(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.max_length = positive(d, "maximum length")?;
        Ok(self)
    }

    /// The size of each intercom buffer (20 ms), 1 ms to 1 s.
    pub fn live_buffer(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        if d < Duration::from_millis(1) || d > Duration::from_secs(1) {
            return Err(ConfigError::LiveBuffer);
        }
        self.live_buffer = d;
        Ok(self)
    }

    /// The most live audio a ringing phone holds for when it is picked up (10 s); older
    /// buffers are dropped (and counted) beyond it.
    pub fn live_backlog(&mut self, d: Duration) -> Result<&mut Self, ConfigError> {
        self.live_backlog = positive(d, "live backlog")?;
        Ok(self)
    }

    /// The codec asked of the gateway (PCMU).
    pub fn codec(&mut self, c: Codec) -> &mut Self {
        self.codec = c;
        self
    }

    /// The RFC 4733 payload type offered for in-band digits (101); `None` offers none.
    pub fn telephone_event(&mut self, pt: Option<u8>) -> &mut Self {
        self.telephone_event = pt;
        self
    }

    /// The RTP ports (16384–32767): even ports for RTP, the odd one above each for RTCP.
    pub fn ports(&mut self, range: RangeInclusive<u16>) -> Result<&mut Self, ConfigError> {
        let start = range.start().saturating_add(range.start() % 2);
        if start >= *range.end() {
            return Err(ConfigError::Ports);
        }
        self.ports = range;
        Ok(self)
    }

    /// The address gateways send RTP to (127.0.0.1).
    pub fn media_address(&mut self, ip: IpAddr) -> &mut Self {
        self.media_address = ip;
        self
    }

    /// The first gateway call id handed out (1); a restarted appliance may start elsewhere.
    pub fn first_call(&mut self, n: u64) -> &mut Self {
        self.first_call = n;
        self
    }

    /// Also light the phone's message-waiting lamp (RFC 3660 `L/vmwi`) while messages wait,
    /// for phones that have one (off).
    pub fn message_lamp(&mut self, on: bool) -> &mut Self {
        self.message_lamp = on;
        self
    }

    /// Samples in one live buffer at 8 kHz.
    pub(crate) fn live_samples(&self) -> usize {
        usize::try_from(self.live_buffer.as_micros() / 125)
            .unwrap_or(1)
            .max(1)
    }

    /// Samples of live audio a ringing phone holds at most.
    pub(crate) fn backlog_samples(&self) -> usize {
        usize::try_from(self.live_backlog.as_micros() / 125).unwrap_or(usize::MAX)
    }
}

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
}

impl StationManager {
    /// A manager with no stations yet.
    pub fn new(config: Config) -> Self {
        let calls = Calls::new(config.ports.clone(), config.first_call);
        Self {
            trunks: Trunks::new(config.clone()),
            transient: HashSet::new(),
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
        match slot {
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
        }
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
    pub fn handle_timeout(&mut self, now: Instant) {
        self.pump(now);
        for i in 0..self.stations.len() {
            if self.stations[i].poll_timeout().is_some_and(|t| t <= now) {
                self.stations[i].handle_timeout(now, &mut self.calls);
                self.collect(now, i);
            }
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
        let stations = self.stations.iter().filter_map(Station::poll_timeout).min();
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
