//! The scenario harness: the real [`StationManager`], the real MGCP call agent core and the
//! real analog-gateway simulator core, in virtual time. A [`gateway_harness::Pair`] moves MGCP
//! datagrams between the agent and the simulator over a perfect link (cut on demand); this
//! harness moves model commands and events between the agent and the manager; time jumps to
//! the earliest `poll_timeout` of any of them. Nothing sleeps.
//!
//! The media engine is the only stand-in ([`FakeMedia`]): it answers each [`MediaCommand`]
//! with plausible [`MediaEvent`]s — `Captured` with a made-up temp file path and the virtual
//! time captured, `MaxLength` at the asked maximum, a live `Buffer` every 20 ms in intercom,
//! `PlayDone` after a message's length — and records every command it was given. Where the
//! behaviour depends on media, `station_media.rs` drives the real engine core instead
//! ([`engine`]: one `media::Stream` per call, real RTP in and out).
#![allow(dead_code)] // each scenario file uses its own part of the harness

pub(crate) mod engine;

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::mgcp::{CallAgent, Config as AgentConfig, GatewayConfig};
use gateway_control::model::{CallId, Command, Event, GatewayId, LineId};
use gateway_harness::{Lossy, Pair};
use gateway_sim::{self as sim, Gateway, LineCommand};
use station_manager::manager::{Config, StationManager};
use station_manager::{Input, MediaCommand, MediaEvent, Output, UserId};

pub(crate) const ALICE: UserId = UserId([0xA1; 16]);
pub(crate) const BOB: UserId = UserId([0xB0; 16]);
pub(crate) const CAROL: UserId = UserId([0xCA; 16]);

/// How long each stored message plays in the stand-in.
pub(crate) const MESSAGE_LENGTH: Duration = Duration::from_secs(3);
/// The stand-in's live buffer interval.
const BUFFER_EVERY: Duration = Duration::from_millis(20);

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

pub(crate) fn line(n: u16) -> LineId {
    LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"))
}

/// One open call in the stand-in.
#[derive(Debug, Default)]
struct FakeCall {
    capture_from: Option<Instant>,
    live_buffer: Option<usize>,
    next_seq: u64,
    live_in: usize,
}

/// The media-engine stand-in.
#[derive(Debug, Default)]
pub(crate) struct FakeMedia {
    calls: HashMap<CallId, FakeCall>,
    scheduled: Vec<(Instant, MediaEvent)>,
    events: VecDeque<MediaEvent>,
    /// Every command received, in order.
    pub(crate) log: Vec<MediaCommand>,
}

fn call_of(e: &MediaEvent) -> CallId {
    match e {
        MediaEvent::Digit { call, .. }
        | MediaEvent::Silence { call }
        | MediaEvent::MaxLength { call }
        | MediaEvent::Buffer { call, .. }
        | MediaEvent::Captured { call, .. }
        | MediaEvent::PlayDone { call }
        | MediaEvent::Failed { call, .. } => *call,
        _ => unreachable!("the stand-in makes no other event"),
    }
}

impl FakeMedia {
    fn cancel(&mut self, call: CallId, what: fn(&MediaEvent) -> bool) {
        self.scheduled
            .retain(|(_, e)| !(call_of(e) == call && what(e)));
    }

    pub(crate) fn handle(&mut self, now: Instant, cmd: MediaCommand) {
        self.log.push(cmd.clone());
        match cmd {
            MediaCommand::Open { call, .. } => {
                assert!(self.calls.insert(call, FakeCall::default()).is_none());
            }
            MediaCommand::Remote { call, .. } => assert!(self.calls.contains_key(&call)),
            MediaCommand::StartCapture {
                call,
                max_length,
                live_buffer,
                ..
            } => {
                let c = self.calls.get_mut(&call).expect("capture on an open call");
                c.capture_from = Some(now);
                c.live_buffer = live_buffer;
                self.scheduled
                    .push((now + max_length, MediaEvent::MaxLength { call }));
                if let Some(n) = live_buffer {
                    self.scheduled.push((
                        now + BUFFER_EVERY,
                        MediaEvent::Buffer {
                            call,
                            seq: 0,
                            pcm: vec![0; n],
                        },
                    ));
                }
            }
            MediaCommand::StopCapture { call } => {
                let c = self.calls.get_mut(&call).expect("stop on an open call");
                if let Some(from) = c.capture_from.take() {
                    self.events.push_back(MediaEvent::Captured {
                        call,
                        file: std::env::temp_dir().join(format!("offhook-test-{call}.wav")),
                        duration: now - from,
                        // The simulated line always speaks.
                        speech: now - from,
                    });
                }
                self.cancel(call, |e| {
                    matches!(e, MediaEvent::MaxLength { .. } | MediaEvent::Buffer { .. })
                });
            }
            MediaCommand::PlayMessage { call, .. } => {
                self.scheduled
                    .push((now + MESSAGE_LENGTH, MediaEvent::PlayDone { call }));
            }
            MediaCommand::PlayLive { call, .. } => assert!(self.calls.contains_key(&call)),
            MediaCommand::LiveBuffer { call, .. } => {
                self.calls
                    .get_mut(&call)
                    .expect("live on an open call")
                    .live_in += 1;
            }
            MediaCommand::LiveEnd { call } => {
                // Plays out what it holds (bounded by what the station sent), 20 ms a buffer.
                self.scheduled
                    .push((now + BUFFER_EVERY, MediaEvent::PlayDone { call }));
            }
            MediaCommand::StopPlay { call } => {
                self.cancel(call, |e| matches!(e, MediaEvent::PlayDone { .. }));
            }
            MediaCommand::Close { call } => {
                assert!(self.calls.remove(&call).is_some(), "close of an open call");
                self.cancel(call, |_| true);
            }
            other => panic!("unexpected media command {other:?}"),
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant) {
        let mut due: Vec<(Instant, MediaEvent)> = Vec::new();
        self.scheduled.retain(|(at, e)| {
            if *at <= now {
                due.push((*at, e.clone()));
                false
            } else {
                true
            }
        });
        due.sort_by_key(|(at, _)| *at);
        for (at, e) in due {
            if let MediaEvent::Buffer { call, seq, pcm } = &e {
                self.scheduled.push((
                    at + BUFFER_EVERY,
                    MediaEvent::Buffer {
                        call: *call,
                        seq: seq + 1,
                        pcm: pcm.clone(),
                    },
                ));
            }
            self.events.push_back(e);
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.scheduled.iter().map(|(at, _)| *at).min()
    }

    /// Live buffers the call was given to play.
    pub(crate) fn live_in(&self, call: CallId) -> usize {
        self.calls.get(&call).map_or(0, |c| c.live_in)
    }

    /// Makes the engine report `e` now (an in-band digit, silence).
    pub(crate) fn inject(&mut self, e: MediaEvent) {
        self.events.push_back(e);
    }
}

pub(crate) struct Harness {
    pub(crate) mgr: StationManager,
    /// The call agent (`pair.controller`) and the simulated gateway (`pair.gateway`), with
    /// what the gateway reported (`pair.outputs`).
    pub(crate) pair: Pair<CallAgent, Gateway>,
    pub(crate) media: FakeMedia,
    /// Play the IVM core's part for intercom: relay each phone's live buffers to the
    /// recipients' phones (`LiveStart` before the first, `LiveEnd` after the last).
    pub(crate) relay_live: bool,
    pub(crate) outputs: Vec<Output>,
    pub(crate) commands: Vec<Command>,
    pub(crate) events: Vec<Event>,
}

/// The call agent's address.
const CA: &str = "192.0.2.1:2727";
/// The gateway's address.
const GW: &str = "192.0.2.2:2427";

fn sim_gateway(ca: SocketAddr, now: Instant, seed: u64) -> Gateway {
    let mut gc = sim::Config::new(4, ca).unwrap();
    gc.domain("[192.0.2.2]").unwrap();
    gc.media_address("192.0.2.2".parse().unwrap());
    gc.seed(seed);
    let mut gw = Gateway::new(gc, now);
    for i in 0..8 {
        gw.add_rtp_port(16384 + 2 * i);
    }
    gw
}

impl Harness {
    /// Alice on line 1, Bob on line 2, Carol on line 3, the stations' config from `tweak`; the
    /// gateway registered and every line armed.
    pub(crate) fn new(tweak: impl FnOnce(&mut Config)) -> Self {
        let now = epoch();
        let ca: SocketAddr = CA.parse().unwrap();
        let gw_addr: SocketAddr = GW.parse().unwrap();
        let gw = sim_gateway(ca, now, 5);
        let mut ac = AgentConfig::default();
        ac.gateway(GatewayConfig {
            id: GatewayId::new("gw1"),
            address: gw_addr,
            domain: "[192.0.2.2]".into(),
            lines: (1..=4).map(|n| format!("aaln/{n}")).collect(),
        })
        .unwrap()
        .notified_entity("offhook@[192.0.2.1]:2727")
        .unwrap()
        .rng_seed(9)
        .unwrap();
        let agent = CallAgent::new(ac, now).unwrap();
        let mut config = Config::default();
        config.media_address("192.0.2.1".parse().unwrap());
        tweak(&mut config);
        let mut mgr = StationManager::new(config);
        mgr.add_station(line(1), ALICE).unwrap();
        mgr.add_station(line(2), BOB).unwrap();
        mgr.add_station(line(3), CAROL).unwrap();
        let mut h = Self {
            mgr,
            pair: Pair::new(agent, ca, gw, gw_addr, now, Lossy::default()),
            media: FakeMedia::default(),
            relay_live: false,
            outputs: Vec::new(),
            commands: Vec::new(),
            events: Vec::new(),
        };
        h.advance(Duration::from_secs(2));
        assert!(h.pair.gateway.is_registered());
        for n in 1..=3 {
            assert_eq!(h.mgr.is_available(h.user(n)), Some(true), "line {n}");
            assert_eq!(h.state(n), "Idle");
        }
        h.outputs.clear();
        h
    }

    pub(crate) fn user(&self, n: u16) -> UserId {
        [ALICE, BOB, CAROL][usize::from(n) - 1]
    }

    pub(crate) fn state(&self, n: u16) -> &'static str {
        self.mgr.station(&line(n)).unwrap().state_name()
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

    /// Exchanges, then jumps time to each timeout due within `d`, and on to `now + d`.
    pub(crate) fn advance(&mut self, d: Duration) {
        let end = self.now() + d;
        self.exchange();
        loop {
            let next = [
                self.pair.poll_timeout(),
                self.mgr.poll_timeout(),
                self.media.poll_timeout(),
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(t) = next.filter(|&t| t <= end) else {
                break;
            };
            // The agent's and the gateway's timers, and datagrams due.
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
        self.pair.advance_to(end);
        self.exchange();
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

    /// The gateway reboots: a new simulator core announces `RSIP restart`; phones on hook.
    pub(crate) fn restart_gateway(&mut self) {
        self.pair.gateway = sim_gateway(CA.parse().unwrap(), self.now(), 6);
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
}
