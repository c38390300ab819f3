//! The scenario harness: the real [`StationManager`], the real gateway controller core and the
//! real analog-gateway simulator core of one protocol ([`Protocol`]: MGCP, MEGACO or TPNCP;
//! see [`peer`]), in virtual time. A [`gateway_harness::Pair`] moves the protocol's messages
//! between the controller and the simulator over a perfect link (cut on demand); this harness
//! moves model commands and events between the controller and the manager; time jumps to the
//! earliest `poll_timeout` of any of them. Nothing sleeps.
//!
//! The media engine is the only stand-in ([`FakeMedia`], see [`fake_media`]). Where the
//! behaviour depends on media, `station_media.rs` drives the real engine core instead
//! ([`engine`]: one `media::Stream` per call, real RTP in and out).
//!
//! [`Harness::new`] is MGCP with Alice, Bob and Carol on lines 1–3 of four; [`Harness::on`]
//! is the same on any protocol, and [`Harness::with`] takes a [`Spec`] (protocol, line count,
//! which lines are stations, which are FXO trunk ports).
#![allow(dead_code)] // each scenario file uses its own part of the harness

pub(crate) mod engine;
pub(crate) mod fake_media;
pub(crate) mod peer;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::model::{CallId, Command, Event, LineId};
use gateway_harness::{Lossy, Pair};
use gateway_sim::{self as sim, FxoConfig, LineCommand, Simulator as _, Supervision, TrunkCommand};
use station_manager::manager::{Config, StationManager};
use station_manager::trunk::TrunkGroup;
use station_manager::{Input, MediaCommand, MediaEvent, Output, Progress, UserId};

pub(crate) use fake_media::FakeMedia;
pub(crate) use peer::{Ctl, Protocol, Sim};

pub(crate) const ALICE: UserId = UserId([0xA1; 16]);
pub(crate) const BOB: UserId = UserId([0xB0; 16]);
pub(crate) const CAROL: UserId = UserId([0xCA; 16]);

/// How long a new harness waits for the gateway to come up and its lines to be armed.
const BOOT: Duration = Duration::from_secs(2);
/// The longest a new harness waits for that (TPNCP connects, then re-syncs every channel).
const BOOT_LIMIT: Duration = Duration::from_secs(30);

/// A virtual-time base, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

/// MGCP line `n` (`aaln/n` on `gw1`), the line of [`Harness::new`]; see [`Protocol::line`]
/// for the others.
pub(crate) fn line(n: u16) -> LineId {
    Protocol::Mgcp.line(n)
}

/// What a [`Harness`] is built with.
#[derive(Debug, Clone)]
pub(crate) struct Spec {
    /// The protocol between controller and gateway.
    pub(crate) protocol: Protocol,
    /// The gateway's analog lines (1 to `lines`).
    pub(crate) lines: u16,
    /// The stations: a line and its user.
    pub(crate) stations: Vec<(u16, UserId)>,
    /// Lines that are FXO (trunk) ports facing the simulated PBX.
    pub(crate) fxo: Vec<u16>,
    /// The supervision the simulated PBX gives on its trunks.
    pub(crate) supervision: Supervision,
    /// Trunk groups given to the manager (their ports are FXO lines).
    pub(crate) trunks: Vec<TrunkGroup>,
    /// Phones behind a trunk: the trunk's name, the number dialled, the user.
    pub(crate) behind: Vec<(String, String, UserId)>,
}

impl Spec {
    /// Four lines on `protocol`, Alice, Bob and Carol on lines 1–3, no FXO port.
    pub(crate) fn new(protocol: Protocol) -> Self {
        Self {
            protocol,
            lines: 4,
            stations: vec![(1, ALICE), (2, BOB), (3, CAROL)],
            fxo: Vec::new(),
            supervision: Supervision::Full,
            trunks: Vec::new(),
            behind: Vec::new(),
        }
    }

    /// The gateway has `n` lines.
    pub(crate) fn lines(mut self, n: u16) -> Self {
        self.lines = n;
        self
    }

    /// These stations instead of Alice, Bob and Carol.
    pub(crate) fn stations(mut self, stations: &[(u16, UserId)]) -> Self {
        self.stations = stations.to_vec();
        self
    }

    /// These lines are FXO ports too (a station on one is dropped).
    pub(crate) fn fxo(mut self, lines: &[u16]) -> Self {
        for n in lines {
            if !self.fxo.contains(n) {
                self.fxo.push(*n);
            }
        }
        self.stations.retain(|(n, _)| !lines.contains(n));
        self
    }

    /// The simulated PBX gives this supervision (`--fxo-supervision`).
    pub(crate) fn supervision(mut self, s: Supervision) -> Self {
        self.supervision = s;
        self
    }

    /// A trunk group `name` on FXO lines `ports` (made FXO ports), first free, DTMF, taking
    /// dial-in calls if `dial_in`; `group` may change the rest.
    pub(crate) fn trunk(
        self,
        name: &str,
        ports: &[u16],
        dial_in: bool,
        group: impl FnOnce(TrunkGroup) -> TrunkGroup,
    ) -> Self {
        let lines = ports.iter().map(|n| self.protocol.line(*n)).collect();
        let g = TrunkGroup::new(name, lines).unwrap().dial_in(dial_in);
        let mut s = self.fxo(ports);
        s.trunks.push(group(g));
        s
    }

    /// The simulator's FXO ports and supervision.
    fn fxo_config(&self) -> FxoConfig {
        let mut c = FxoConfig::new();
        for n in &self.fxo {
            c.lines(&n.to_string()).unwrap();
        }
        c.supervision(self.supervision);
        c
    }

    /// `user`'s phone is behind trunk `trunk`, reached by dialling `number`.
    pub(crate) fn behind(mut self, trunk: &str, number: &str, user: UserId) -> Self {
        self.behind.push((trunk.into(), number.into(), user));
        self
    }
}

pub(crate) struct Harness {
    pub(crate) mgr: StationManager,
    /// The controller (`pair.controller`) and the simulated gateway (`pair.gateway`), with
    /// what the gateway reported (`pair.outputs`).
    pub(crate) pair: Pair<Ctl, Sim>,
    pub(crate) media: FakeMedia,
    /// Play the IVM core's part for intercom: relay each phone's live buffers to the
    /// recipients' phones (`LiveStart` before the first, `LiveEnd` after the last).
    pub(crate) relay_live: bool,
    pub(crate) outputs: Vec<Output>,
    pub(crate) commands: Vec<Command>,
    pub(crate) events: Vec<Event>,
    /// What it was built with.
    pub(crate) spec: Spec,
    notes: peer::Notes,
}

impl Harness {
    /// MGCP: Alice on line 1, Bob on line 2, Carol on line 3, the stations' config from
    /// `tweak`; the gateway registered and every line armed.
    pub(crate) fn new(tweak: impl FnOnce(&mut Config)) -> Self {
        Self::on(Protocol::Mgcp, tweak)
    }

    /// [`Harness::new`] over `protocol`.
    pub(crate) fn on(protocol: Protocol, tweak: impl FnOnce(&mut Config)) -> Self {
        Self::with(Spec::new(protocol), tweak)
    }

    /// The harness `spec` describes, the stations' config from `tweak`; the gateway up and
    /// every station idle and available.
    pub(crate) fn with(spec: Spec, tweak: impl FnOnce(&mut Config)) -> Self {
        let now = epoch();
        let p = spec.protocol;
        let (ctl_addr, gw_addr) = p.addresses();
        let notes = peer::notes();
        let gw = peer::gateway(p, spec.lines, &spec.fxo_config(), now, 5, &notes);
        let ctl = peer::controller(p, spec.lines, &spec.fxo, now, &notes);
        let mut config = Config::default();
        config.media_address("192.0.2.1".parse().unwrap());
        tweak(&mut config);
        let mut mgr = StationManager::new(config);
        for (n, user) in &spec.stations {
            mgr.add_station(p.line(*n), *user).unwrap();
        }
        for g in &spec.trunks {
            mgr.add_trunk(g.clone()).unwrap();
        }
        for (trunk, number, user) in &spec.behind {
            let line = mgr.trunk_station_line(trunk, number).unwrap();
            mgr.add_station(line, *user).unwrap();
        }
        let mut h = Self {
            mgr,
            pair: Pair::new(ctl, ctl_addr, gw, gw_addr, now, Lossy::default()),
            media: FakeMedia::default(),
            relay_live: false,
            outputs: Vec::new(),
            commands: Vec::new(),
            events: Vec::new(),
            spec,
            notes,
        };
        h.advance(BOOT);
        let ready = |h: &Self| {
            h.pair.gateway.is_registered()
                && h.spec.stations.iter().all(|(n, user)| {
                    h.mgr.is_available(*user) == Some(true) && h.state(*n) == "Idle"
                })
        };
        assert!(
            h.run_until(BOOT_LIMIT - BOOT, ready),
            "{p:?}: the gateway did not come up with every station idle: {:#?}",
            h.events
        );
        h.outputs.clear();
        h
    }

    /// The protocol in use.
    pub(crate) fn protocol(&self) -> Protocol {
        self.spec.protocol
    }

    /// Line `n` as this harness's protocol names it.
    pub(crate) fn line(&self, n: u16) -> LineId {
        self.spec.protocol.line(n)
    }

    /// The virtual line of the phone behind trunk `trunk` at `number`.
    pub(crate) fn behind_line(&self, trunk: &str, number: &str) -> LineId {
        self.mgr.trunk_station_line(trunk, number).unwrap()
    }

    /// The state of the station on `line` (any line: FXS or behind a trunk).
    pub(crate) fn state_of(&self, line: &LineId) -> &'static str {
        self.mgr.station(line).unwrap().state_name()
    }

    /// The user of the station on line `n`.
    pub(crate) fn user(&self, n: u16) -> UserId {
        self.spec
            .stations
            .iter()
            .find(|(l, _)| *l == n)
            .map(|(_, u)| *u)
            .unwrap_or_else(|| panic!("no station on line {n}"))
    }

    pub(crate) fn state(&self, n: u16) -> &'static str {
        self.mgr.station(&self.line(n)).unwrap().state_name()
    }

    /// The current (virtual) time.
    pub(crate) fn now(&self) -> Instant {
        self.pair.now()
    }

    /// Cuts the network between the call agent and the gateway (every datagram is lost), or
    /// restores it.
    pub(crate) fn cut(&mut self, cut: bool) {
        self.pair.wire.set_cut(cut);
    }

    /// Moves everything between the cores until all are quiet (no time passes).
    pub(crate) fn exchange(&mut self) {
        loop {
            self.pair.deliver();
            let now = self.pair.now();
            let mut moved = false;
            for e in self.pair.take_events() {
                self.events.push(e.clone());
                self.mgr.handle_event(now, e);
                moved = true;
            }
            while let Some(c) = self.mgr.poll_command() {
                self.commands.push(c.clone());
                self.pair.controller.handle_command(now, c);
                moved = true;
            }
            while let Some(m) = self.mgr.poll_media() {
                self.media.handle(now, m);
                moved = true;
            }
            while let Some(e) = self.media.events.pop_front() {
                self.mgr.handle_media(now, e);
                moved = true;
            }
            while let Some(o) = self.mgr.poll_output() {
                if self.relay_live {
                    self.relay(&o);
                }
                self.outputs.push(o);
                moved = true;
            }
            if !moved {
                break;
            }
        }
    }

    fn relay(&mut self, o: &Output) {
        let now = self.now();
        match o {
            Output::LiveBuffer {
                user,
                to,
                stream,
                seq,
                pcm,
                ..
            } => {
                if *seq == 0 {
                    for r in to {
                        self.mgr.handle_input(
                            now,
                            Input::LiveStart {
                                user: *r,
                                stream: *stream,
                                from: *user,
                            },
                        );
                    }
                }
                self.mgr.handle_input(
                    now,
                    Input::LiveBuffer {
                        stream: *stream,
                        pcm: pcm.clone(),
                    },
                );
            }
            Output::LiveEnd { stream, .. } => {
                self.mgr
                    .handle_input(now, Input::LiveEnd { stream: *stream });
            }
            _ => {}
        }
    }

    /// The earliest instant anything is due: a core's timer, a datagram, a media event.
    fn next_timeout(&self) -> Option<Instant> {
        [
            self.pair.poll_timeout(),
            self.mgr.poll_timeout(),
            self.media.poll_timeout(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Moves time to `t`: the controller's and the gateway's timers and datagrams due, then
    /// the manager's and the media's timers, then everything they caused.
    fn step_to(&mut self, t: Instant) {
        self.pair.advance_to(t);
        let now = self.now();
        if self.mgr.poll_timeout().is_some_and(|t| t <= now) {
            self.mgr.handle_timeout(now);
        }
        if self.media.poll_timeout().is_some_and(|t| t <= now) {
            self.media.handle_timeout(now);
        }
        self.exchange();
    }

    /// Exchanges, then jumps time to each timeout due within `d`, and on to `now + d`.
    pub(crate) fn advance(&mut self, d: Duration) {
        let end = self.now() + d;
        self.exchange();
        while let Some(t) = self.next_timeout().filter(|&t| t <= end) {
            self.step_to(t);
        }
        self.pair.advance_to(end);
        self.exchange();
    }

    /// Runs from deadline to deadline until `done` holds (checked before the first step and
    /// after each) or `limit` has passed; returns whether it held. Time stops where it held.
    pub(crate) fn run_until(
        &mut self,
        limit: Duration,
        mut done: impl FnMut(&Self) -> bool,
    ) -> bool {
        let end = self.now() + limit;
        self.exchange();
        loop {
            if done(self) {
                return true;
            }
            match self.next_timeout().filter(|&t| t <= end) {
                Some(t) => self.step_to(t),
                None => {
                    self.pair.advance_to(end);
                    self.exchange();
                    return done(self);
                }
            }
        }
    }

    /// Something happens on the simulated phone (pick-up, keys, hang-up), then a moment passes.
    pub(crate) fn phone(&mut self, c: LineCommand) {
        self.pair.gateway.handle_line(self.now(), c);
        self.advance(Duration::from_millis(500));
    }

    pub(crate) fn input(&mut self, i: Input) {
        self.mgr.handle_input(self.now(), i);
        self.advance(Duration::from_millis(100));
    }

    pub(crate) fn media_event(&mut self, e: MediaEvent) {
        self.media.inject(e);
        self.advance(Duration::from_millis(100));
    }

    /// The gateway reboots: a new simulator core announces its restart (MGCP `RSIP`, MEGACO
    /// `ServiceChange`; TPNCP: the host's connection closes); phones on hook.
    pub(crate) fn restart_gateway(&mut self) {
        let now = self.now();
        let s = &self.spec;
        self.pair.gateway =
            peer::gateway(s.protocol, s.lines, &s.fxo_config(), now, 6, &self.notes);
        self.pair.controller.gateway_rebooted(now);
    }

    /// Removes and returns the outputs so far.
    pub(crate) fn take_outputs(&mut self) -> Vec<Output> {
        std::mem::take(&mut self.outputs)
    }

    /// The call the manager last opened media for.
    pub(crate) fn last_call(&self) -> CallId {
        self.media
            .log
            .iter()
            .rev()
            .find_map(|m| match m {
                MediaCommand::Open { call, .. } => Some(*call),
                _ => None,
            })
            .expect("a call was opened")
    }

    /// The ring signals the simulator applied to line `n`, in order (`L/rg`, `L/r1`…).
    pub(crate) fn rings(&self, n: u16) -> Vec<String> {
        self.pair
            .outputs
            .iter()
            .filter_map(|o| match o {
                sim::Output::Signal { line, name, .. }
                    if *line == n && (name == "L/rg" || name.starts_with("L/r")) =>
                {
                    Some(name.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// Every output that is a `Recorded`, with the fields the scenarios look at.
    pub(crate) fn recorded(&self) -> Vec<&Output> {
        self.outputs
            .iter()
            .filter(|o| matches!(o, Output::Recorded { .. }))
            .collect()
    }

    pub(crate) fn file_for(call: CallId) -> PathBuf {
        std::env::temp_dir().join(format!("offhook-test-{call}.wav"))
    }

    // ---- trunk scenarios ----

    /// The open call on line `n`, if any: the last connection the manager asked for on that
    /// line whose media is still open (a station behind a trunk opens its media under its
    /// own virtual line, its connection on the port).
    pub(crate) fn call_on(&self, n: u16) -> Option<CallId> {
        let line = self.line(n);
        self.commands
            .iter()
            .rev()
            .find_map(|c| match c {
                Command::CreateConnection { line: l, call, .. }
                    if *l == line && self.media.is_open(*call) =>
                {
                    Some(*call)
                }
                _ => None,
            })
            .or_else(|| self.media.call_on(&line))
    }

    /// Keys pressed on line `n` (the simulator's `digits`: on an FXO port, the far caller's
    /// keys), then a moment passes.
    pub(crate) fn keys(&mut self, n: u16, keys: &str) {
        self.phone(LineCommand::Digits(n, keys.into()));
    }

    /// The media engine hears `heard` on line `n`'s open call from now on (reported if the
    /// call is watched), then a moment passes.
    pub(crate) fn progress(&mut self, n: u16, heard: Progress) {
        let call = self
            .call_on(n)
            .unwrap_or_else(|| panic!("no call open on line {n}"));
        self.media.progress_at(self.now(), call, heard);
        self.advance(Duration::from_millis(100));
    }

    /// The media engine will hear `heard` on `call` at `at` (reported then if the call is open
    /// and watched); nothing moves now.
    pub(crate) fn progress_at(&mut self, at: Instant, call: CallId, heard: Progress) {
        self.media.progress_at(at, call, heard);
    }

    /// What the simulator reported about line `n` so far, oldest first.
    pub(crate) fn sim_outputs(&self, n: u16) -> Vec<&sim::Output> {
        self.pair
            .outputs
            .iter()
            .filter(|o| peer::line_of(o) == Some(n))
            .collect()
    }

    /// The simulated PBX acts on FXO port `c.line()` (`busy N`, `ring N [NUMBER]`), then a
    /// moment passes. Panics if the gateway has no FXO ports.
    pub(crate) fn pbx(&mut self, c: TrunkCommand) {
        let now = self.now();
        assert!(
            self.pair.gateway.handle_trunk(now, c),
            "the gateway has no FXO ports"
        );
        self.advance(Duration::from_millis(500));
    }

    /// The numbers the simulated PBX took as dialled on FXO port `n`, oldest first.
    pub(crate) fn dialed(&self, n: u16) -> Vec<String> {
        self.pair
            .outputs
            .iter()
            .filter_map(|o| match o {
                sim::Output::Dialed { line, number } if *line == n => Some(number.clone()),
                _ => None,
            })
            .collect()
    }

    /// How many times the controller answered an incoming call on FXO port `n`.
    pub(crate) fn answered(&self, n: u16) -> usize {
        self.pair
            .outputs
            .iter()
            .filter(|o| matches!(o, sim::Output::Answered { line } if *line == n))
            .count()
    }
}
