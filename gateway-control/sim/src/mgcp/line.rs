//! One analog line: hook state, the current notification request (RFC 3435 §2.3.3), digit
//! collection against the digit map (§2.1.5), quarantine of events between a notification and
//! the next request (§4.4.1), and signals; the phone itself (hook, bell, autoanswer) is
//! [`crate::analog::Phone`].

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use tracing::debug;

use super::Config;
use super::digitmap::{DigitMap, MatchState};
use super::request::{Embedded, EventSpec, Observed, Requested, RingKind, Signal, SignalType};
use crate::analog::{Connection, Output, Phone, StopReason};
use gateway_control::model::Codec;

/// Events quarantined beyond this many are dropped (and counted).
pub(crate) const MAX_QUARANTINE: usize = 32;
/// Events accumulated (action `A`/`D`) beyond this many are dropped.
const MAX_ACCUMULATED: usize = 64;

/// A notification the line wants sent: its request id and observed events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notification {
    pub(crate) line: u16,
    pub(crate) request: String,
    pub(crate) observed: Vec<String>,
    pub(crate) to: Option<SocketAddr>,
}

/// What a line's handlers produce for the gateway to act on.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub(crate) outputs: VecDeque<Output>,
    pub(crate) notifications: Vec<Notification>,
    /// Events dropped because the quarantine or accumulation buffer was full.
    pub(crate) dropped: u64,
}

/// `Q:` handling (§3.2.2.12).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Quarantine {
    /// `discard` rather than `process`.
    pub(crate) discard: bool,
    /// `loop` rather than `step`: keep notifying under the same request.
    pub(crate) looping: bool,
}

/// A validated notification request to install.
#[derive(Debug)]
pub(crate) struct NewRequest {
    pub(crate) id: String,
    pub(crate) requested: Vec<Requested>,
    /// `None` when the command had no `S:` (timeout signals then stop, as with an empty list).
    pub(crate) signals: Option<Vec<Signal>>,
    pub(crate) digit_map: Option<DigitMap>,
    pub(crate) quarantine: Quarantine,
}

/// A signal being played.
#[derive(Debug, Clone)]
pub(crate) struct Active {
    pub(crate) signal: Signal,
    /// When a timeout signal ends.
    pub(crate) until: Option<Instant>,
}

/// One analog line.
#[derive(Debug)]
pub(crate) struct Line {
    pub(crate) number: u16,
    pub(crate) name: String,
    /// The handset, the bell, autoanswer, and whether received audio is heard.
    pub(crate) phone: Phone,
    pub(crate) request_id: Option<String>,
    pub(crate) notified: Option<SocketAddr>,
    pub(crate) notified_text: Option<String>,
    pub(crate) requested: Vec<Requested>,
    pub(crate) digit_map: Option<DigitMap>,
    pub(crate) quarantine_mode: Quarantine,
    dialled: String,
    digit_deadline: Option<Instant>,
    accumulated: Vec<Observed>,
    pub(crate) signals: Vec<Active>,
    quarantine: VecDeque<Observed>,
    /// A notification went out under the current request (step mode): buffer until the next.
    awaiting_request: bool,
    pub(crate) connections: Vec<Connection>,
    /// The digit map as written, for audits.
    pub(crate) digit_map_text: Option<String>,
    /// The codec for connections that do not name one (EPCF `B: e:mu`/`e:A`).
    pub(crate) bearer: Codec,
    /// The FXO port, when this line faces a PBX ([`super::trunk`]).
    pub(crate) fxo: Option<super::trunk::Trunk>,
}

impl Line {
    pub(crate) fn new(number: u16) -> Self {
        Self {
            number,
            name: format!("aaln/{number}"),
            phone: Phone::new(number),
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
            quarantine: VecDeque::new(),
            awaiting_request: false,
            connections: Vec::new(),
            digit_map_text: None,
            bearer: Codec::Pcmu,
            fxo: None,
        }
    }

    /// Turns autoanswer on or off; switched on while the bell rings, it picks up after the
    /// delay from now.
    pub(crate) fn set_autoanswer(&mut self, now: Instant, config: &Config, on: bool) {
        let ringing = self.ringing();
        self.phone
            .set_autoanswer(now, on, ringing, config.autoanswer_delay);
    }

    /// Whether a ring signal is active.
    pub(crate) fn ringing(&self) -> bool {
        self.signals.iter().any(|a| a.signal.ring.is_ring())
    }

    /// The earliest instant this line needs [`Self::handle_timeout`].
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let signals = self.signals.iter().filter_map(|a| a.until);
        let conns = self.connections.iter().filter_map(Connection::poll_timeout);
        signals
            .chain(conns)
            .chain(self.phone.poll_timeout())
            .chain(self.fxo.as_ref().and_then(|t| t.port.poll_timeout()))
            .chain(self.digit_deadline)
            .min()
    }

    /// Installs a new notification request (RQNT, or the R:/S: of CRCX/MDCX/DLCX), already
    /// validated by the caller; then replays or discards the quarantine.
    pub(crate) fn install_request(
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
        let signals = self.trunk_signals(now, signals.unwrap_or_default());
        self.apply_signals(now, config, signals, fx);
        if quarantine.discard {
            self.quarantine.clear();
        } else {
            let pending: Vec<Observed> = self.quarantine.drain(..).collect();
            for ev in pending {
                self.observe(now, config, ev, fx);
            }
        }
        self.trunk_installed(now, config, fx);
    }

    /// Applies a SignalRequests list: timeout signals not repeated stop, brief ones play once,
    /// on/off ones are switched (RFC 3435 §2.3.3).
    pub(crate) fn apply_signals(
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
        let distinctive = match kind {
            RingKind::Distinctive(n) => Some(n),
            RingKind::Normal | RingKind::None => None,
        };
        let cadence = (config.ring_on, config.ring_off);
        fx.outputs.extend(
            self.phone
                .ring(now, distinctive, cadence, config.autoanswer_delay),
        );
    }

    fn stopped(&mut self, signal: Signal, reason: StopReason, fx: &mut Effects) {
        if signal.ring.is_ring() && !self.ringing() {
            fx.outputs.extend(self.phone.silence());
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
    pub(crate) fn handle_timeout(&mut self, now: Instant, config: &Config, fx: &mut Effects) {
        fx.outputs.extend(self.phone.handle_timeout(now));
        if let Some(t) = &mut self.fxo {
            t.port.handle_timeout(now);
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
                self.notify(config, None, fx);
            }
        }
        if self.phone.autoanswer_due(now) && !self.phone.is_off_hook() && self.ringing() {
            self.hook(now, config, true, true, fx);
        }
    }

    /// The handset changes state (a line command, or autoanswer).
    pub(crate) fn hook(
        &mut self,
        now: Instant,
        config: &Config,
        off: bool,
        auto: bool,
        fx: &mut Effects,
    ) -> bool {
        let Some(changed) = self.phone.hook(off, auto) else {
            return false;
        };
        fx.outputs.push_back(changed);
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
    pub(crate) fn observe(
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
                debug!(line = self.number, event = %ev.render(config.profile), "quarantined");
                self.quarantine.push_back(ev);
            }
            return;
        }
        let Some(req) = self.requested.iter().find(|r| r.spec.covers(ev)).cloned() else {
            debug!(line = self.number, event = %ev.render(config.profile), "not requested");
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
            self.notify(config, None, fx);
        } else if digit_complete {
            self.notify(config, None, fx);
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

    fn notify(&mut self, config: &Config, to: Option<SocketAddr>, fx: &mut Effects) {
        let mut observed: Vec<String> = self
            .accumulated
            .drain(..)
            .map(|ev| ev.render(config.profile))
            .collect();
        self.trunk_notified(&mut observed);
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
    pub(crate) fn event_state(&self) -> &'static str {
        if self.phone.is_off_hook() {
            "L/hd"
        } else {
            "L/hu"
        }
    }

    /// Whether an off-hook or on-hook transition is waiting in quarantine (RFC 3435 §2.3.3: the
    /// 401/402 checks consider the line's state as the call agent will learn it).
    pub(crate) fn hook_change_pending(&self) -> bool {
        self.quarantine
            .iter()
            .any(|e| matches!(e, Observed::OffHook | Observed::OnHook))
    }

    /// Whether any requested event asks for `spec`.
    pub(crate) fn requests(list: &[Requested], spec: EventSpec) -> bool {
        list.iter().any(|r| r.spec == spec)
    }
}
