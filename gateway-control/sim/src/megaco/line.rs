//! One analog line as a physical termination `aaln/N` (H.248.1 §6.2): its context, the Events
//! descriptor in force (§7.1.9) with its RequestID, the signals playing (§7.1.11), its digit
//! maps and the digits collected against one (§7.1.14); the phone itself (hook, bell,
//! autoanswer) is [`crate::analog::Phone`].
//!
//! Events stay armed until the next Events descriptor replaces them (no lockstep buffering:
//! EventBufferControl is `Off`). A detected event that is armed is notified with the RequestID
//! and stops the signals playing unless it was armed with `KeepActive`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tracing::debug;

use super::Config;
use super::digits::{self, Map};
use crate::analog::{Output, Phone, StopReason};
use gateway_control::digitmap::MatchState;

/// At most this many named digit maps per termination.
pub(crate) const MAX_MAPS: usize = 16;

/// What an armed event watches for.
#[derive(Debug, Clone)]
pub(crate) enum Watch {
    /// `al/of`.
    OffHook,
    /// `al/on`.
    OnHook,
    /// `al/fl`.
    Flash,
    /// `dd/d0`…: one key.
    Key(char),
    /// `dd/*`: every key, each notified on its own.
    AnyKey,
    /// `dd/ce`: a dial string completed against this map.
    Completion(Box<Map>),
    /// An FXO line's event by name (`bcas/sz`, `g/sc`…, [`super::trunk`]).
    Named(String),
}

/// One event of the Events descriptor in force.
#[derive(Debug, Clone)]
pub(crate) struct Armed {
    pub(crate) watch: Watch,
    /// The name as armed (`al/of`), for audits.
    pub(crate) name: String,
    pub(crate) keep_active: bool,
}

/// How a signal plays (§7.1.11 SignalType).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Until stopped.
    OnOff,
    /// Until stopped or this long.
    TimeOut(Duration),
    /// Once, briefly: reported and done.
    Brief,
}

/// A signal to apply.
#[derive(Debug, Clone)]
pub(crate) struct NewSignal {
    /// `al/ri`, `cg/dt`… (lower case).
    pub(crate) name: String,
    pub(crate) kind: Kind,
    /// Its parameters as written, for the output line.
    pub(crate) params: Option<String>,
}

/// A signal playing.
#[derive(Debug, Clone)]
pub(crate) struct Active {
    pub(crate) name: String,
    pub(crate) until: Option<Instant>,
}

impl Active {
    fn rings(&self) -> bool {
        self.name == "al/ri"
    }
}

/// An event to notify: the RequestID it was armed under, and the event as ObservedEvents
/// writes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Observation {
    pub(crate) line: u16,
    pub(crate) request_id: u32,
    /// `al/of`, `dd/ce`…
    pub(crate) event: String,
    /// Its parameters, `(name, value as written)`.
    pub(crate) params: Vec<(&'static str, String)>,
}

impl Observation {
    /// The event as printed in the `notify` output line: `dd/ce{ds="12F",Meth=UM}`.
    pub(crate) fn render(&self) -> String {
        if self.params.is_empty() {
            return self.event.clone();
        }
        let params: Vec<String> = self
            .params
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect();
        format!("{}{{{}}}", self.event, params.join(","))
    }
}

/// What a line's handlers produce for the gateway.
#[derive(Debug, Default)]
pub(crate) struct Effects {
    pub(crate) outputs: VecDeque<Output>,
    pub(crate) observations: Vec<Observation>,
}

/// One analog line.
#[derive(Debug)]
pub(crate) struct Line {
    pub(crate) number: u16,
    pub(crate) name: String,
    pub(crate) phone: Phone,
    /// The context it is in; `None`: the null context.
    pub(crate) context: Option<u32>,
    pub(crate) request_id: Option<u32>,
    pub(crate) events: Vec<Armed>,
    pub(crate) signals: Vec<Active>,
    /// Named digit maps (DigitMap descriptors), newest last; an unnamed one is named `""`.
    pub(crate) maps: Vec<(String, Map, String)>,
    dialled: String,
    digit_deadline: Option<Instant>,
    /// The port of an FXO line (`--fxo`).
    pub(crate) fxo: Option<super::trunk::Fxo>,
}

impl Line {
    pub(crate) fn new(number: u16, name: String) -> Self {
        Self {
            number,
            name,
            phone: Phone::new(number),
            context: None,
            request_id: None,
            events: Vec::new(),
            signals: Vec::new(),
            maps: Vec::new(),
            dialled: String::new(),
            digit_deadline: None,
            fxo: None,
        }
    }

    /// Whether the bell has a ring signal.
    pub(crate) fn ringing(&self) -> bool {
        self.signals.iter().any(Active::rings)
    }

    /// The earliest instant this line needs [`Self::handle_timeout`].
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.signals
            .iter()
            .filter_map(|a| a.until)
            .chain(self.phone.poll_timeout())
            .chain(self.digit_deadline)
            .chain(self.fxo.as_ref().and_then(|f| f.port.poll_timeout()))
            .min()
    }

    /// Back to the defaults of a termination returned to the null context (H.248.1 §7.1: every
    /// descriptor but TerminationState and LocalControl empty): no events, no signals.
    pub(crate) fn reset(&mut self, fx: &mut Effects) {
        self.request_id = None;
        self.events.clear();
        self.stop_signals(StopReason::Replaced, fx, |_| true);
        self.dialled.clear();
        self.digit_deadline = None;
    }

    /// Installs a new Events descriptor (`None` for the bare `Events` that clears it).
    pub(crate) fn set_events(&mut self, request_id: Option<u32>, events: Vec<Armed>) {
        self.request_id = request_id;
        self.events = events;
        self.dialled.clear();
        self.digit_deadline = None;
    }

    /// Defines a digit map (DigitMap descriptor); a map of the same name is replaced.
    pub(crate) fn define_map(&mut self, name: &str, map: Map, text: &str) {
        self.maps.retain(|(n, ..)| !n.eq_ignore_ascii_case(name));
        if self.maps.len() == MAX_MAPS {
            self.maps.remove(0);
        }
        self.maps.push((name.to_owned(), map, text.to_owned()));
    }

    /// A digit map by name; `None` for the newest.
    pub(crate) fn map(&self, name: Option<&str>) -> Option<&Map> {
        match name {
            Some(n) => self
                .maps
                .iter()
                .find(|(m, ..)| m.eq_ignore_ascii_case(n))
                .map(|(_, m, _)| m),
            None => self.maps.last().map(|(_, m, _)| m),
        }
    }

    /// Applies a Signals descriptor: signals not in it stop, signals already playing go on,
    /// new ones start (an empty one stops all).
    pub(crate) fn apply_signals(
        &mut self,
        now: Instant,
        config: &Config,
        list: Vec<NewSignal>,
        fx: &mut Effects,
    ) {
        self.stop_signals(StopReason::Replaced, fx, |a| {
            !list.iter().any(|s| s.name == a.name)
        });
        for s in list {
            if self.signals.iter().any(|a| a.name == s.name) {
                continue;
            }
            fx.outputs.push_back(Output::Signal {
                line: self.number,
                name: s.name.clone(),
                params: s.params.clone(),
            });
            let until = match s.kind {
                Kind::Brief => continue,
                Kind::OnOff => None,
                Kind::TimeOut(d) => Some(now + d),
            };
            let active = Active {
                name: s.name,
                until,
            };
            if active.rings() {
                let cadence = (config.ring_on, config.ring_off);
                fx.outputs
                    .extend(self.phone.ring(now, None, cadence, config.autoanswer_delay));
            }
            self.signals.push(active);
        }
    }

    /// Stops the signals `which` selects.
    fn stop_signals(
        &mut self,
        reason: StopReason,
        fx: &mut Effects,
        which: impl Fn(&Active) -> bool,
    ) {
        let mut i = 0;
        while i < self.signals.len() {
            if which(&self.signals[i]) {
                let gone = self.signals.remove(i);
                if gone.rings() {
                    fx.outputs.extend(self.phone.silence());
                }
                fx.outputs.push_back(Output::SignalStopped {
                    line: self.number,
                    name: gone.name,
                    reason,
                });
            } else {
                i += 1;
            }
        }
    }

    /// Signal timeouts, the bell's cadence, the digit-map timer and autoanswer.
    pub(crate) fn handle_timeout(&mut self, now: Instant, config: &Config, fx: &mut Effects) {
        if let Some(f) = &mut self.fxo {
            f.port.handle_timeout(now);
        }
        fx.outputs.extend(self.phone.handle_timeout(now));
        self.stop_signals(StopReason::Timeout, fx, |a| {
            a.until.is_some_and(|u| u <= now)
        });
        if self.digit_deadline.is_some_and(|d| d <= now) {
            self.digit_deadline = None;
            self.complete_digits(true, fx);
        }
        if self.phone.autoanswer_due(now) && !self.phone.is_off_hook() && self.ringing() {
            self.hook(now, config, true, true, fx);
        }
    }

    /// The handset changes state (a line command, or autoanswer); false if it already was.
    pub(crate) fn hook(
        &mut self,
        _now: Instant,
        _config: &Config,
        off: bool,
        auto: bool,
        fx: &mut Effects,
    ) -> bool {
        let Some(changed) = self.phone.hook(off, auto) else {
            return false;
        };
        fx.outputs.push_back(changed);
        if off {
            self.stop_signals(StopReason::Hook, fx, Active::rings);
            self.detect(fx, |w| matches!(w, Watch::OffHook), "al/of", Vec::new());
        } else {
            self.stop_signals(StopReason::Hook, fx, |_| true);
            self.dialled.clear();
            self.digit_deadline = None;
            self.detect(fx, |w| matches!(w, Watch::OnHook), "al/on", Vec::new());
        }
        true
    }

    /// A hook flash (the line is off-hook).
    pub(crate) fn flash(&mut self, fx: &mut Effects) {
        fx.outputs.push_back(Output::Flash { line: self.number });
        self.detect(fx, |w| matches!(w, Watch::Flash), "al/fl", Vec::new());
    }

    /// A key pressed (the line is off-hook): notified on its own if armed, and collected
    /// against the digit map of an armed `dd/ce`.
    pub(crate) fn key(&mut self, now: Instant, config: &Config, key: char, fx: &mut Effects) {
        fx.outputs.push_back(Output::Digit {
            line: self.number,
            digit: key,
        });
        if let Some(name) = digits::event(key) {
            self.detect(
                fx,
                |w| matches!(w, Watch::Key(k) if *k == key) || matches!(w, Watch::AnyKey),
                &format!("dd/{name}"),
                Vec::new(),
            );
        }
        let Some((map, keep)) = self.events.iter().find_map(|a| match &a.watch {
            Watch::Completion(m) => Some((m.clone(), a.keep_active)),
            _ => None,
        }) else {
            return;
        };
        if self.dialled.is_empty() && !keep {
            // The first digit ends dial tone and other signals (§7.1.14).
            self.stop_signals(StopReason::Event, fx, |_| true);
        }
        if self.dialled.len() >= gateway_control::digitmap::MAX_DIGITS {
            self.complete_digits(false, fx);
            return;
        }
        self.dialled.push(key);
        match map.map.check(&self.dialled, false) {
            MatchState::Partial { short } => {
                let d = if short {
                    map.short.unwrap_or(config.short_timer)
                } else {
                    map.long.unwrap_or(config.long_timer)
                };
                self.digit_deadline = Some(now + d);
            }
            MatchState::Complete { .. } => self.complete_digits(false, fx),
        }
    }

    /// The dial string is complete (`timer`: the digit-map timer ran out): `dd/ce` with `ds`
    /// and `Meth` (E.6.2: `UM` unambiguous match, `FM` full match at the timer, `PM` partial
    /// match — no pattern matched).
    fn complete_digits(&mut self, timer: bool, fx: &mut Effects) {
        self.digit_deadline = None;
        if self.dialled.is_empty() {
            return;
        }
        let dialled = std::mem::take(&mut self.dialled);
        let Some(map) = self.events.iter().find_map(|a| match &a.watch {
            Watch::Completion(m) => Some(m.clone()),
            _ => None,
        }) else {
            return;
        };
        let matched = matches!(
            map.map.check(&dialled, timer),
            MatchState::Complete { matched: true } | MatchState::Partial { .. }
        );
        let method = match (matched, timer) {
            (true, false) => "UM",
            (true, true) => "FM",
            (false, _) => "PM",
        };
        debug!(line = self.number, method, "dial string complete");
        let params = vec![
            ("ds", format!("\"{}\"", digits::symbols(&dialled))),
            ("Meth", method.to_owned()),
        ];
        self.detect(fx, |w| matches!(w, Watch::Completion(_)), "dd/ce", params);
    }

    /// An event happened: if armed, it is notified and stops the signals (unless KeepActive).
    pub(crate) fn detect(
        &mut self,
        fx: &mut Effects,
        which: impl Fn(&Watch) -> bool,
        event: &str,
        params: Vec<(&'static str, String)>,
    ) {
        let Some(request_id) = self.request_id else {
            debug!(line = self.number, event, "no events armed");
            return;
        };
        let Some(armed) = self.events.iter().find(|a| which(&a.watch)) else {
            debug!(line = self.number, event, "not armed");
            return;
        };
        if !armed.keep_active {
            self.stop_signals(StopReason::Event, fx, |_| true);
        }
        fx.observations.push(Observation {
            line: self.number,
            request_id,
            event: event.to_owned(),
            params,
        });
    }
}
