//! One analog line: hook state, the current notification request (RFC 3435 §2.3.3), digit
//! collection against the digit map (§2.1.5), quarantine of events between a notification and
//! the next request (§4.4.1), signals with the ring cadence, and autoanswer.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use tracing::debug;

use super::Config;
use super::connection::Connection;
use super::digitmap::{DigitMap, MatchState};
use super::output::{Output, StopReason};
use super::request::{Embedded, EventSpec, Observed, Requested, RingKind, Signal, SignalType};
use crate::model::Codec;

/// Events quarantined beyond this many are dropped (and counted).
pub(super) const MAX_QUARANTINE: usize = 32;
/// Events accumulated (action `A`/`D`) beyond this many are dropped.
const MAX_ACCUMULATED: usize = 64;

/// A notification the line wants sent: its request id and observed events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Notification {
    pub(super) line: u16,
    pub(super) request: String,
    pub(super) observed: Vec<String>,
    pub(super) to: Option<SocketAddr>,
}

/// What a line's handlers produce for the gateway to act on.
#[derive(Debug, Default)]
pub(super) struct Effects {
    pub(super) outputs: VecDeque<Output>,
    pub(super) notifications: Vec<Notification>,
    /// Events dropped because the quarantine or accumulation buffer was full.
    pub(super) dropped: u64,
}

/// `Q:` handling (§3.2.2.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Quarantine {
    /// `discard` rather than `process`.
    pub(super) discard: bool,
    /// `loop` rather than `step`: keep notifying under the same request.
    pub(super) looping: bool,
}

/// A validated notification request to install.
#[derive(Debug)]
pub(super) struct NewRequest {
    pub(super) id: String,
    pub(super) requested: Vec<Requested>,
    /// `None` when the command had no `S:` (timeout signals then stop, as with an empty list).
    pub(super) signals: Option<Vec<Signal>>,
    pub(super) digit_map: Option<DigitMap>,
    pub(super) quarantine: Quarantine,
}

/// A signal being played.
#[derive(Debug, Clone)]
pub(super) struct Active {
    pub(super) signal: Signal,
    /// When a timeout signal ends.
    pub(super) until: Option<Instant>,
}

/// Distinctive ringing `L/r0`…`L/r7` (RFC 3660 leaves the patterns to local convention):
/// bursts of (on, off) milliseconds, repeated. `r0` is the standard ring; `r1`–`r3` are the
/// Telcordia GR-506 distinctive patterns, `r4`–`r7` the further ones analog adapters offer.
const DISTINCTIVE: [&[(u64, u64)]; 8] = [
    &[(2000, 4000)],
    &[(800, 400), (800, 4000)],
    &[(400, 200), (400, 200), (800, 4000)],
    &[(300, 200), (1000, 200), (300, 4000)],
    &[(200, 200), (200, 200), (200, 200), (1000, 4000)],
    &[(200, 400), (200, 400), (200, 4000)],
    &[(4500, 4000)],
    &[(250, 9750)],
];

/// The bell, while a ring signal is active: which burst of the cadence, and whether it sounds.
#[derive(Debug, Clone)]
struct Bell {
    cadence: Vec<(Duration, Duration)>,
    burst: usize,
    on: bool,
    next: Instant,
}

impl Bell {
    fn new(now: Instant, kind: RingKind, config: &Config) -> Self {
        let cadence: Vec<(Duration, Duration)> = match kind {
            RingKind::Distinctive(n) => DISTINCTIVE[usize::from(n) % DISTINCTIVE.len()]
                .iter()
                .map(|&(on, off)| (Duration::from_millis(on), Duration::from_millis(off)))
                .collect(),
            RingKind::Normal | RingKind::None => vec![(config.ring_on, config.ring_off)],
        };
        let next = now + cadence[0].0;
        Self {
            cadence,
            burst: 0,
            on: true,
            next,
        }
    }

    /// Moves to the next half of the cadence at `now`; returns whether the bell now sounds.
    fn step(&mut self, now: Instant) -> bool {
        if self.on {
            self.on = false;
            self.next = now + self.cadence[self.burst].1;
        } else {
            self.burst = (self.burst + 1) % self.cadence.len();
            self.on = true;
            self.next = now + self.cadence[self.burst].0;
        }
        self.on
    }
}

/// One analog line.
#[derive(Debug)]
pub(super) struct Line {
    pub(super) number: u16,
    pub(super) name: String,
    pub(super) off_hook: bool,
    pub(super) request_id: Option<String>,
    pub(super) notified: Option<SocketAddr>,
    pub(super) notified_text: Option<String>,
    pub(super) requested: Vec<Requested>,
    pub(super) digit_map: Option<DigitMap>,
    pub(super) quarantine_mode: Quarantine,
    dialled: String,
    digit_deadline: Option<Instant>,
    accumulated: Vec<Observed>,
    pub(super) signals: Vec<Active>,
    bell: Option<Bell>,
    quarantine: VecDeque<Observed>,
    /// A notification went out under the current request (step mode): buffer until the next.
    awaiting_request: bool,
    pub(super) autoanswer: bool,
    autoanswer_at: Option<Instant>,
    pub(super) hearing: bool,
    pub(super) connections: Vec<Connection>,
    /// The digit map as written, for audits.
    pub(super) digit_map_text: Option<String>,
    /// The codec for connections that do not name one (EPCF `B: e:mu`/`e:A`).
    pub(super) bearer: Codec,
}

impl Line {
    pub(super) fn new(number: u16) -> Self {
        Self {
            number,
            name: format!("aaln/{number}"),
            off_hook: false,
            request_id: None,
            notified: None,
            notified_text: None,
            requested: Vec::new(),
            digit_map: None,
            quarantine_mode: Quarantine::default(),
            dialled: String::new(),
            digit_deadline: None,
            accumulated: Vec::new(),
            signals: Vec::new(),
            bell: None,
            quarantine: VecDeque::new(),
            awaiting_request: false,
            autoanswer: false,
            autoanswer_at: None,
            hearing: false,
            connections: Vec::new(),
            digit_map_text: None,
            bearer: Codec::Pcmu,
        }
    }

    /// Turns autoanswer on or off; switched on while the bell rings, it picks up after the
    /// delay from now.
    pub(super) fn set_autoanswer(&mut self, now: Instant, config: &Config, on: bool) {
        self.autoanswer = on;
        self.autoanswer_at =
            (on && self.ringing() && !self.off_hook).then(|| now + config.autoanswer_delay);
    }

    /// Whether a ring signal is active.
    pub(super) fn ringing(&self) -> bool {
        self.signals.iter().any(|a| a.signal.ring.is_ring())
    }

    /// The earliest instant this line needs [`Self::handle_timeout`].
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        let signals = self.signals.iter().filter_map(|a| a.until);
        let conns = self.connections.iter().filter_map(Connection::poll_timeout);
        signals
            .chain(conns)
            .chain(self.bell.as_ref().map(|b| b.next))
            .chain(self.digit_deadline)
            .chain(self.autoanswer_at)
            .min()
    }

    /// Installs a new notification request (RQNT, or the R:/S: of CRCX/MDCX/DLCX), already
    /// validated by the caller; then replays or discards the quarantine.
    pub(super) fn install_request(
        &mut self,
        now: Instant,
        config: &Config,
        req: NewRequest,
        fx: &mut Effects,
    ) {
        let NewRequest {
            id,
            requested,
            signals,
            digit_map,
            quarantine,
        } = req;
        self.request_id = Some(id);
        self.requested = requested;
        if let Some(map) = digit_map {
            self.digit_map = Some(map);
        }
        self.quarantine_mode = quarantine;
        self.dialled.clear();
        self.digit_deadline = None;
        self.accumulated.clear();
        self.awaiting_request = false;
        self.apply_signals(now, config, signals.unwrap_or_default(), fx);
        if quarantine.discard {
            self.quarantine.clear();
        } else {
            let pending: Vec<Observed> = self.quarantine.drain(..).collect();
            for ev in pending {
                self.observe(now, config, ev, fx);
            }
        }
    }

    /// Applies a SignalRequests list: timeout signals not repeated stop, brief ones play once,
    /// on/off ones are switched (RFC 3435 §2.3.3).
    pub(super) fn apply_signals(
        &mut self,
        now: Instant,
        config: &Config,
        list: Vec<Signal>,
        fx: &mut Effects,
    ) {
        let keep: Vec<String> = list
            .iter()
            .filter(|s| matches!(s.kind, SignalType::Timeout(_)))
            .map(|s| s.name.clone())
            .collect();
        let mut i = 0;
        while i < self.signals.len() {
            let s = &self.signals[i].signal;
            if matches!(s.kind, SignalType::Timeout(_)) && !keep.contains(&s.name) {
                let gone = self.signals.remove(i);
                self.stopped(gone.signal, StopReason::Replaced, fx);
            } else {
                i += 1;
            }
        }
        for s in list {
            match s.kind {
                SignalType::Brief => fx.outputs.push_back(Output::Signal {
                    line: self.number,
                    name: s.name,
                    params: s.params,
                }),
                SignalType::OnOff => {
                    let on = self.signals.iter().position(|a| a.signal.name == s.name);
                    match (on, s.off) {
                        (Some(i), true) => {
                            let gone = self.signals.remove(i);
                            self.stopped(gone.signal, StopReason::Replaced, fx);
                        }
                        (None, false) => {
                            fx.outputs.push_back(Output::Signal {
                                line: self.number,
                                name: s.name.clone(),
                                params: s.params.clone(),
                            });
                            self.signals.push(Active {
                                signal: s,
                                until: None,
                            });
                        }
                        _ => {}
                    }
                }
                SignalType::Timeout(d) => {
                    if self.signals.iter().any(|a| a.signal.name == s.name) {
                        continue;
                    }
                    let d = if s.ring.is_ring() {
                        d.min(config.ring_timeout)
                    } else {
                        d
                    };
                    fx.outputs.push_back(Output::Signal {
                        line: self.number,
                        name: s.name.clone(),
                        params: s.params.clone(),
                    });
                    if s.ring.is_ring() {
                        self.bell_on(now, s.ring, config, fx);
                    }
                    self.signals.push(Active {
                        signal: s,
                        until: Some(now + d),
                    });
                }
            }
        }
    }

    fn bell_on(&mut self, now: Instant, kind: RingKind, config: &Config, fx: &mut Effects) {
        if self.bell.is_none() {
            self.bell = Some(Bell::new(now, kind, config));
            fx.outputs.push_back(Output::Ringing {
                line: self.number,
                on: true,
            });
            if self.autoanswer {
                self.autoanswer_at = Some(now + config.autoanswer_delay);
            }
        }
    }

    fn stopped(&mut self, signal: Signal, reason: StopReason, fx: &mut Effects) {
        if signal.ring.is_ring() && !self.ringing() {
            if self.bell.take().is_some_and(|b| b.on) {
                fx.outputs.push_back(Output::Ringing {
                    line: self.number,
                    on: false,
                });
            }
            self.autoanswer_at = None;
        }
        fx.outputs.push_back(Output::SignalStopped {
            line: self.number,
            name: signal.name,
            reason,
        });
    }

    /// Stops the active signals `which` selects.
    fn stop_signals(
        &mut self,
        reason: StopReason,
        fx: &mut Effects,
        which: impl Fn(&Signal) -> bool,
    ) {
        let mut i = 0;
        while i < self.signals.len() {
            if which(&self.signals[i].signal) {
                let gone = self.signals.remove(i);
                self.stopped(gone.signal, reason, fx);
            } else {
                i += 1;
            }
        }
    }

    /// Timers: signal timeouts, the bell, the interdigit timer, autoanswer, `say` pacing is the
    /// connection's (handled by the gateway, which owns the transmit queue).
    pub(super) fn handle_timeout(&mut self, now: Instant, config: &Config, fx: &mut Effects) {
        if let Some(bell) = &mut self.bell
            && bell.next <= now
        {
            let on = bell.step(now);
            fx.outputs.push_back(Output::Ringing {
                line: self.number,
                on,
            });
        }
        let (expired, active): (Vec<Active>, Vec<Active>) = std::mem::take(&mut self.signals)
            .into_iter()
            .partition(|a| a.until.is_some_and(|u| u <= now));
        self.signals = active;
        for gone in expired {
            self.stopped(gone.signal, StopReason::Timeout, fx);
            self.observe(now, config, Observed::OperationComplete, fx);
        }
        if self.digit_deadline.is_some_and(|d| d <= now) {
            self.digit_deadline = None;
            let matched = self
                .digit_map
                .as_ref()
                .map(|m| m.check(&self.dialled, true));
            debug!(line = self.number, ?matched, "interdigit timer expired");
            if !self.dialled.is_empty() {
                self.notify(None, fx);
            }
        }
        if self.autoanswer_at.is_some_and(|t| t <= now) {
            self.autoanswer_at = None;
            if !self.off_hook && self.ringing() {
                self.hook(now, config, true, true, fx);
            }
        }
    }

    /// The handset changes state (a line command, or autoanswer).
    pub(super) fn hook(
        &mut self,
        now: Instant,
        config: &Config,
        off: bool,
        auto: bool,
        fx: &mut Effects,
    ) -> bool {
        if self.off_hook == off {
            return false;
        }
        self.off_hook = off;
        self.autoanswer_at = None;
        fx.outputs.push_back(Output::Hook {
            line: self.number,
            off_hook: off,
            auto,
        });
        if off {
            self.stop_signals(StopReason::Hook, fx, |s| s.ring.is_ring());
        } else {
            self.stop_signals(StopReason::Hook, fx, |s| {
                matches!(s.kind, SignalType::Timeout(_)) && !s.ring.is_ring()
            });
            self.dialled.clear();
            self.digit_deadline = None;
        }
        let ev = if off {
            Observed::OffHook
        } else {
            Observed::OnHook
        };
        self.observe(now, config, ev, fx);
        true
    }

    /// An event happened on the line: quarantine it, or act on the request (§2.3.3).
    pub(super) fn observe(
        &mut self,
        now: Instant,
        config: &Config,
        ev: Observed,
        fx: &mut Effects,
    ) {
        if self.awaiting_request {
            if self.quarantine.len() >= MAX_QUARANTINE {
                fx.dropped += 1;
                debug!(line = self.number, "quarantine full, event dropped");
            } else {
                debug!(line = self.number, event = %ev.render(), "quarantined");
                self.quarantine.push_back(ev);
            }
            return;
        }
        let Some(req) = self.requested.iter().find(|r| r.spec.covers(ev)).cloned() else {
            debug!(line = self.number, event = %ev.render(), "not requested");
            return;
        };
        if !req.actions.keep_signals {
            self.stop_signals(StopReason::Event, fx, |s| {
                matches!(s.kind, SignalType::Timeout(_))
            });
        }
        let a = &req.actions;
        if a.ignore {
            return;
        }
        if a.swap {
            // Hook-flash swap between two connections: the held one becomes active.
            let modes: Vec<_> = self.connections.iter().map(Connection::mode).collect();
            if let [first, second] = modes[..] {
                self.connections[0].set_mode(second);
                self.connections[1].set_mode(first);
            }
            return;
        }
        if a.accumulate || a.digit_map {
            if self.accumulated.len() >= MAX_ACCUMULATED {
                fx.dropped += 1;
                return;
            }
            self.accumulated.push(ev);
        }
        let digit_complete = if a.digit_map {
            if let Observed::Digit(d) = ev {
                self.dialled.push(d);
            }
            match self
                .digit_map
                .as_ref()
                .map(|m| m.check(&self.dialled, false))
            {
                Some(MatchState::Partial { short }) => {
                    self.digit_deadline = Some(
                        now + if short {
                            config.short_timer
                        } else {
                            config.long_timer
                        },
                    );
                    false
                }
                Some(MatchState::Complete { .. }) | None => true,
            }
        } else {
            false
        };
        if let Some(e) = a.embedded.clone() {
            self.embedded(now, config, *e, fx);
        }
        if a.notify {
            self.accumulated.push(ev);
            self.notify(None, fx);
        } else if digit_complete {
            self.notify(None, fx);
        }
    }

    /// An embedded request becomes the line's request, with no notification of its own.
    fn embedded(&mut self, now: Instant, config: &Config, e: Embedded, fx: &mut Effects) {
        if let Some(r) = e.requested {
            self.requested = r;
        }
        if let Some(map) = e.digit_map {
            self.digit_map = Some(map);
        }
        if let Some(s) = e.signals {
            self.apply_signals(now, config, s, fx);
        }
    }

    fn notify(&mut self, to: Option<SocketAddr>, fx: &mut Effects) {
        let observed: Vec<String> = self.accumulated.drain(..).map(Observed::render).collect();
        self.dialled.clear();
        self.digit_deadline = None;
        if !self.quarantine_mode.looping {
            self.awaiting_request = true;
        }
        let request = self.request_id.clone().unwrap_or_else(|| "0".into());
        fx.outputs.push_back(Output::Notify {
            line: self.number,
            request: request.clone(),
            observed: observed.clone(),
        });
        fx.notifications.push(Notification {
            line: self.number,
            request,
            observed,
            to: to.or(self.notified),
        });
    }

    /// The hook state as an EventStates entry.
    pub(super) fn event_state(&self) -> &'static str {
        if self.off_hook { "L/hd" } else { "L/hu" }
    }

    /// Whether an off-hook or on-hook transition is waiting in quarantine (RFC 3435 §2.3.3: the
    /// 401/402 checks consider the line's state as the call agent will learn it).
    pub(super) fn hook_change_pending(&self) -> bool {
        self.quarantine
            .iter()
            .any(|e| matches!(e, Observed::OffHook | Observed::OnHook))
    }

    /// Whether any requested event asks for `spec`.
    pub(super) fn requests(list: &[Requested], spec: EventSpec) -> bool {
        list.iter().any(|r| r.spec == spec)
    }
}
