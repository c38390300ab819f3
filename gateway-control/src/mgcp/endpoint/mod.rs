//! One analog line as the call agent sees it (RFC 3435 §2.3.3 notification requests, RFC 3660
//! line package `L` and DTMF package `D`).
//!
//! Every line is kept *armed*: there is always a notification request on it that reports the
//! next hook change, so that no pick-up or hang-up is ever missed.
//! - on hook: `R: L/hd(N)`;
//! - off hook: `R: L/hu(N),L/hf(N),D/[0-9#*](N)`: every key is its own notification, so digits
//!   arrive one by one, in order, without a digit map (and so without the `T` timer event).
//!
//! The gateway answers each request with at most one `NTFY` (quarantine handling is left at its
//! default, `process,step`, §4.4.1): events seen after the notification are buffered by the
//! gateway until the next request, and the call agent re-arms the line with a fresh
//! RequestIdentifier after every notification (lockstep). Buffered events are then processed
//! against the new request, so nothing is lost between the two.
//!
//! Signals: ringing (`L/rg`, distinctive `L/r0`–`L/r7`, with `L/ci` caller id) and the
//! call-progress tones are time-out signals, stopped by the gateway when a requested event is
//! detected; the line forgets them on every notification, as the gateway does. The visual
//! message-waiting indicator `L/vmwi` is an on/off signal: it stays until turned off.

use std::fmt::Write as _;
use std::sync::Arc;

use tracing::debug;

mod trunk;

pub(crate) use trunk::{Call, Trunk, TrunkChange, TrunkObserved, caller_id};

use super::wire::{EventRef, ReturnCode};
use crate::model::{Cadence, CallerId, Digit, DigitMap, Event, LineId, Tone};

/// Hook state as last known.
#[allow(clippy::enum_variant_names)] // the telephony terms
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hook {
    /// Not audited yet.
    Unknown,
    /// Handset down.
    OnHook,
    /// Handset up.
    OffHook,
}

/// The time-out signal the station manager asked for, still playing as far as we know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Signal {
    Ring {
        cadence: Cadence,
        caller_id: Option<CallerId>,
    },
    Tone(Tone),
}

/// A change of signals asked for by a model command, applied when its RQNT is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SignalChange {
    Ring {
        cadence: Cadence,
        caller_id: Option<CallerId>,
    },
    StopRing,
    Tone(Tone),
    StopTone,
    /// Collect a dial string against a digit map ([`crate::model::Command::CollectDigits`]).
    Collect(DigitMap),
    /// A trunk command (seize, dial, answer, release; [`trunk`]).
    Trunk(TrunkChange),
}

/// A model event derived from one observed event, before the line id is attached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Observed {
    OffHook,
    OnHook,
    HookFlash,
    Digit(Digit),
}

/// The content of one notification request, owned (the caller builds the wire message from it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Request {
    /// `R:` entries, `(package, event)`, each with action `N`.
    pub(crate) events: &'static [(&'static str, &'static str)],
    /// `S:` entries, `(package, signal, parameters)`. Empty stops every time-out signal.
    pub(crate) signals: Vec<(&'static str, &'static str, Option<String>)>,
    /// A digit map to collect against (`D:`); the `D` package entry then has action `D`
    /// instead of `N`.
    pub(crate) digit_map: Option<DigitMap>,
}

const ON_HOOK_EVENTS: &[(&str, &str)] = &[("L", "hd")];
const OFF_HOOK_EVENTS: &[(&str, &str)] = &[("L", "hu"), ("L", "hf"), ("D", "[0-9#*]")];
/// Collecting a dial string: the keys and the inter-digit timer `T` go to the digit map
/// (RFC 3435 §2.1.5's own example asks `D/[0-9#*T](D)`).
const COLLECT_EVENTS: &[(&str, &str)] = &[("L", "hu"), ("L", "hf"), ("D", "[0-9#*T]")];

/// One line.
#[derive(Debug)]
pub(crate) struct Line {
    pub(crate) id: LineId,
    /// The gateway's index in the agent.
    pub(crate) gateway: usize,
    pub(crate) hook: Hook,
    pub(crate) signal: Option<Signal>,
    /// Whether `L/vmwi(+)` is on.
    pub(crate) lamp: bool,
    /// Whether the lamp must be sent (changed since the last request).
    pub(crate) lamp_dirty: bool,
    /// The RequestIdentifier of the last RQNT sent, and of the one before.
    pub(crate) request: Option<u64>,
    pub(crate) previous_request: Option<u64>,
    /// Whether the last request, and the one before, carried a digit map: only keys notified
    /// under such a request are a collected dial string.
    pub(crate) request_maps: (bool, bool),
    /// An internal re-arm is queued (re-arms coalesce: the RQNT is built when sent).
    pub(crate) arm_queued: bool,
    /// A resynchronising audit is queued or in flight.
    pub(crate) resyncing: bool,
    /// Consecutive failed re-arms (bounded retries).
    pub(crate) arm_failures: u32,
    /// The hook state a `401`/`402` revealed, used if the audit that follows fails.
    pub(crate) hook_hint: Option<Hook>,
    /// The line was removed ([`crate::model::Command::RemoveLine`]): its requests ask for no
    /// events and stop its signals, and it is never re-armed or retried.
    pub(crate) retired: bool,
    /// The dial string being collected, while off hook ([`SignalChange::Collect`]).
    pub(crate) collect: Option<DigitMap>,
    /// Set when the line is a trunk (FXO port, [`crate::model::Command::AddTrunk`]).
    pub(crate) trunk: Option<Trunk>,
}

impl Line {
    pub(crate) fn new(id: LineId, gateway: usize) -> Self {
        Self {
            id,
            gateway,
            hook: Hook::Unknown,
            signal: None,
            lamp: false,
            lamp_dirty: false,
            request: None,
            previous_request: None,
            request_maps: (false, false),
            arm_queued: false,
            resyncing: false,
            arm_failures: 0,
            hook_hint: None,
            retired: false,
            collect: None,
            trunk: None,
        }
    }

    pub(crate) fn local(&self) -> &Arc<str> {
        &self.id.endpoint
    }

    /// Records a new RequestIdentifier as sent.
    pub(crate) fn issue_request(&mut self, x: u64) {
        self.previous_request = self.request;
        self.request = Some(x);
        self.request_maps = (false, self.request_maps.0);
    }

    /// The request just issued carries a digit map.
    pub(crate) fn request_has_map(&mut self) {
        self.request_maps.0 = true;
    }

    /// Whether the keys of a notification for request `x` (the hex text of its `X:`) are a
    /// collected dial string: a dial string is being collected and `x` carried the map. A key
    /// notified under an earlier request crossed the one with the map, and is a key of its
    /// own. A notification without `X:` is taken at its word.
    pub(crate) fn collects_for(&self, x: Option<&str>) -> bool {
        if self.collect.is_none() {
            return false;
        }
        let Some(x) = x else {
            return true;
        };
        let Ok(x) = u64::from_str_radix(x, 16) else {
            return false;
        };
        (self.request == Some(x) && self.request_maps.0)
            || (self.previous_request == Some(x) && self.request_maps.1)
    }

    /// Whether `x` (the hex text of an `X:`) names one of the two latest requests: an NTFY for
    /// the previous one can cross the RQNT that replaced it.
    pub(crate) fn is_current(&self, x: Option<&str>) -> bool {
        let Some(x) = x.and_then(|x| u64::from_str_radix(x, 16).ok()) else {
            return false;
        };
        self.request == Some(x) || self.previous_request == Some(x)
    }

    /// Applies a model command's signal change. Returns the error code to report instead, when
    /// the change cannot apply (ringing an off-hook phone: 401; collecting digits on an on-hook
    /// one: 402).
    pub(crate) fn apply(&mut self, change: &SignalChange) -> Result<(), ReturnCode> {
        match change {
            SignalChange::Trunk(c) => match &mut self.trunk {
                Some(t) => {
                    t.apply(c)?;
                    if !t.talking() {
                        // Releasing the port ends a dial string being collected.
                        self.collect = None;
                    }
                }
                None => return Err(ReturnCode::NO_SUCH_EVENT),
            },
            SignalChange::Collect(map) if self.trunk.is_some() => {
                // A trunk collects the caller's keys once the call is up (answered or seized).
                if !self.trunk.as_ref().is_some_and(Trunk::talking) {
                    return Err(ReturnCode::ALREADY_ON_HOOK);
                }
                self.collect = Some(map.clone());
            }
            SignalChange::Collect(map) => {
                if self.hook != Hook::OffHook {
                    return Err(ReturnCode::ALREADY_ON_HOOK);
                }
                self.collect = Some(map.clone());
            }
            SignalChange::Ring { cadence, caller_id } => {
                if self.hook == Hook::OffHook {
                    return Err(ReturnCode::ALREADY_OFF_HOOK);
                }
                self.signal = Some(Signal::Ring {
                    cadence: *cadence,
                    caller_id: caller_id.clone(),
                });
            }
            SignalChange::StopRing => {
                if matches!(self.signal, Some(Signal::Ring { .. })) {
                    self.signal = None;
                }
            }
            SignalChange::Tone(Tone::MessageWaitingLamp) => {
                self.lamp = true;
                self.lamp_dirty = true;
            }
            SignalChange::Tone(t) => self.signal = Some(Signal::Tone(*t)),
            SignalChange::StopTone => {
                if matches!(self.signal, Some(Signal::Tone(_))) {
                    self.signal = None;
                }
                if self.lamp {
                    self.lamp = false;
                    self.lamp_dirty = true;
                }
            }
        }
        Ok(())
    }

    /// The notification request that keeps the line armed in its current state, with the
    /// signals that should be playing. Clears the lamp's dirty flag (the lamp is sent once).
    pub(crate) fn request_now(&mut self) -> Request {
        if self.retired {
            // An empty `R:` and `S:`: nothing more is reported and every signal stops (RFC
            // 3435 §2.3.3); a lit lamp is put out.
            let mut signals = Vec::new();
            if self.lamp_dirty {
                signals.push(("L", "vmwi", Some("-".to_owned())));
                self.lamp_dirty = false;
            }
            return Request {
                events: &[],
                signals,
                digit_map: None,
            };
        }
        if let Some(t) = &mut self.trunk {
            let digit_map = self.collect.clone().filter(|_| t.talking());
            return Request {
                events: t.events(digit_map.is_some()),
                signals: t.take_signals(),
                digit_map,
            };
        }
        let (events, digit_map) = match (self.hook, &self.collect) {
            (Hook::OffHook, Some(map)) => (COLLECT_EVENTS, Some(map.clone())),
            (Hook::OffHook, None) => (OFF_HOOK_EVENTS, None),
            (Hook::OnHook | Hook::Unknown, _) => (ON_HOOK_EVENTS, None),
        };
        let mut signals = Vec::new();
        match &self.signal {
            Some(Signal::Ring { cadence, caller_id }) => {
                let name = match cadence {
                    Cadence::Normal => "rg",
                    Cadence::Distinctive(n) => DISTINCTIVE[usize::from(*n).min(7)],
                };
                signals.push(("L", name, None));
                if let Some(ci) = caller_id {
                    signals.push(("L", "ci", Some(caller_id_params(ci))));
                }
            }
            Some(Signal::Tone(t)) => {
                if let Some(name) = tone_name(*t) {
                    signals.push(("L", name, None));
                }
            }
            None => {}
        }
        if self.lamp_dirty {
            let on = if self.lamp { "+" } else { "-" };
            signals.push(("L", "vmwi", Some(on.to_owned())));
            self.lamp_dirty = false;
        }
        Request {
            events,
            signals,
            digit_map,
        }
    }

    /// Maps one observed event (`O:` item) to a model event, updating the hook state. `None`
    /// for events that change nothing (a hook state already known) or that we never asked for.
    pub(crate) fn observe(&mut self, e: &EventRef<'_>) -> Result<Option<Observed>, Unrecognised> {
        let package = e.name.package.unwrap_or("");
        let event = e.name.event;
        let is = |p: &str| package.is_empty() || package.eq_ignore_ascii_case(p);
        if is("L") && event.eq_ignore_ascii_case("hd") {
            return Ok(self.set_hook(Hook::OffHook).then_some(Observed::OffHook));
        }
        if is("L") && event.eq_ignore_ascii_case("hu") {
            return Ok(self.set_hook(Hook::OnHook).then_some(Observed::OnHook));
        }
        if is("L") && event.eq_ignore_ascii_case("hf") {
            return Ok(Some(Observed::HookFlash));
        }
        // Digits: RFC 3660's `D` package, or NCS's line package (`L/5`, J.162 Annex A.1).
        if is("D") || is("L") {
            let mut chars = event.chars();
            if let (Some(c), None) = (chars.next(), chars.next())
                && let Some(d) = Digit::new(c)
            {
                return Ok(Some(Observed::Digit(d)));
            }
        }
        Err(Unrecognised)
    }

    /// Sets the hook state; returns whether it changed (and forgets time-out signals, which the
    /// gateway stops on the event).
    pub(crate) fn set_hook(&mut self, hook: Hook) -> bool {
        if self.hook == hook {
            return false;
        }
        debug!(line = %self.id, from = ?self.hook, to = ?hook, "hook state");
        self.hook = hook;
        if hook != Hook::OffHook {
            // Hanging up ends a dial string being collected.
            self.collect = None;
        }
        if hook == Hook::OffHook && matches!(self.signal, Some(Signal::Ring { .. })) {
            self.signal = None;
        }
        true
    }

    /// A notification arrived: the gateway stopped its time-out signals.
    pub(crate) fn notified(&mut self) {
        self.signal = None;
    }

    pub(crate) fn event(&self, o: Observed) -> Event {
        let line = self.id.clone();
        match o {
            Observed::OffHook => Event::OffHook { line },
            Observed::OnHook => Event::OnHook { line },
            Observed::HookFlash => Event::HookFlash { line },
            Observed::Digit(digit) => Event::Digit { line, digit },
        }
    }
}

/// The keys of an observed event that is part of a dial string collected under a digit map:
/// one key (`D/5`), or several in one event as some gateways write them (`D/5551212`), in the
/// `D` package, NCS's `L`, or none; a timer event `T` is skipped. `None` for anything else.
pub(crate) fn dial_keys(e: &EventRef<'_>) -> Option<Vec<Digit>> {
    let package_ok = e
        .name
        .package
        .is_none_or(|p| p.eq_ignore_ascii_case("D") || p.eq_ignore_ascii_case("L"));
    if !package_ok || e.params.is_some() || e.name.connection.is_some() {
        return None;
    }
    let mut keys = Vec::new();
    for c in e.name.event.chars() {
        if !c.eq_ignore_ascii_case(&'T') {
            keys.push(Digit::new(c)?);
        }
    }
    Some(keys)
}

/// An observed event the call agent did not ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Unrecognised;

const DISTINCTIVE: [&str; 8] = ["r0", "r1", "r2", "r3", "r4", "r5", "r6", "r7"];

/// The RFC 3660 line-package signal for a tone; `None` for the lamp (an on/off signal).
pub(crate) fn tone_name(t: Tone) -> Option<&'static str> {
    Some(match t {
        Tone::Dial => "dl",
        Tone::StutterDial => "sl",
        Tone::Busy => "bz",
        Tone::Ringback => "rt",
        Tone::CallWaiting => "wt",
        Tone::Confirmation => "cf",
        Tone::Reorder => "ro",
        Tone::OperationComplete => "oc",
        Tone::OperationFailure => "of",
        Tone::MessageWaitingLamp => return None,
    })
}

/// `L/ci(time,number,name)` parameters (RFC 3660): the time is left empty (the core has no
/// wall clock; the gateway or phone fills it), number and name are quoted and stripped of
/// anything that would break the parameter syntax.
fn caller_id_params(ci: &CallerId) -> String {
    fn clean(s: Option<&str>, max: usize) -> String {
        s.unwrap_or("")
            .chars()
            .filter(|c| !matches!(c, '"' | '(' | ')' | ',' | '\\') && !c.is_control())
            .take(max)
            .collect()
    }
    let mut out = String::from(",");
    let _ = write!(
        out,
        "\"{}\",\"{}\"",
        clean(ci.number.as_deref(), 20),
        clean(ci.name.as_deref(), 15)
    );
    out
}

#[cfg(test)]
mod tests;
