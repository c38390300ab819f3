//! A trunk (FXO port) as the call agent sees it: the model's trunk commands and events mapped
//! onto RFC 3660 line-package (`L`) and DTMF-package (`D`) names, used in the FXO direction —
//! what an FXS gateway *signals* to a phone (`rg` ringing, `lsa` line-side answer supervision,
//! the `osi` open switch interval) an FXO port *detects* on its line and reports as the event
//! of the same name, and the hook switch (`hd`, `hu`) the agent watches on a phone is the one
//! it works on an FXO port.
//!
//! | model | MGCP |
//! | --- | --- |
//! | [`Command::AddTrunk`]: armed for calls | `RQNT` `R: L/rg(N)` |
//! | [`Event::IncomingCall`] | `NTFY` `O: L/rg` (first of a call; later bursts refresh), caller id from `L/ci(time,number,name)` |
//! | [`Command::Seize`] | `RQNT` `S: L/hd` `R: L/lsa(N),L/osi(N),L/oc(N),D/[0-9#*](N)` |
//! | [`Command::Dial`] (DTMF) | `RQNT` `S: D/2,D/0,D/4,D/1` (RFC 3660 §2.2, the keys in order) |
//! | [`Event::DialComplete`] | `O: L/oc` (operation complete, RFC 3660 §2.3) |
//! | [`Event::FarEndAnswer`] | `O: L/lsa` (polarity reversal) |
//! | [`Event::FarEndDisconnect`] (`LoopCurrentDrop`) | `O: L/osi` (CPC) |
//! | [`Command::Answer`] | `RQNT` `S: L/hd` `R: L/osi(N),D/[0-9#*](N)` |
//! | [`Event::Digit`] on an answered call | `O: D/x` |
//! | [`Command::CollectDigits`] on a call that is up | `RQNT` `R: L/osi(N),D/[0-9#*T](D)` `D: (x.#\|x.T)` (RFC 3435 §2.1.5) |
//! | [`Event::Dialled`] | `O: D/1,D/2,D/3,D/4,D/#` (or one event `D/1234#`; a timer `D/T` is not a key) |
//! | [`Command::Release`] | `RQNT` `S: L/hu` `R: L/rg(N)` |
//!
//! A seize asks for answer supervision (`L/lsa`), an answer does not: that is how a gateway
//! tells the two apart when a call rings the port at the moment it is seized (glare), which it
//! refuses `501`. Pulse dialling has no signal in RFC 3660's packages: [`Command::Dial`] with
//! [`DialMethod::Pulse`] fails at once. MGCP has no event for ringing that stops: the
//! gateway reports each ring burst (`L/rg`), and a ringing trunk with no burst for the agent's
//! `RING_GONE` (8 s) is reported [`Disconnect::RingingStopped`].
//!
//! [`Command::AddTrunk`]: crate::model::Command::AddTrunk
//! [`Command::Seize`]: crate::model::Command::Seize
//! [`Command::Dial`]: crate::model::Command::Dial
//! [`Command::Answer`]: crate::model::Command::Answer
//! [`Command::Release`]: crate::model::Command::Release
//! [`Event::IncomingCall`]: crate::model::Event::IncomingCall
//! [`Event::DialComplete`]: crate::model::Event::DialComplete
//! [`Event::FarEndAnswer`]: crate::model::Event::FarEndAnswer
//! [`Event::FarEndDisconnect`]: crate::model::Event::FarEndDisconnect
//! [`Event::Digit`]: crate::model::Event::Digit
//! [`Command::CollectDigits`]: crate::model::Command::CollectDigits
//! [`Event::Dialled`]: crate::model::Event::Dialled
//! [`DialMethod::Pulse`]: crate::model::DialMethod::Pulse
//! [`Disconnect::RingingStopped`]: crate::model::Disconnect::RingingStopped

use super::super::wire::{EventRef, ReturnCode};
use crate::model::{CallerId, Digit, Disconnect, Event, LineId};

/// The most digits one [`Command::Dial`](crate::model::Command::Dial) sends (the `S:` list
/// stays well within a datagram).
pub(crate) const MAX_DIAL_DIGITS: usize = 32;

/// Where a trunk's call stands, as the agent knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Call {
    /// On hook, armed for incoming calls.
    Idle,
    /// An incoming call rings (reported).
    Ringing,
    /// Seized for an outgoing call.
    Outgoing,
    /// An incoming call answered.
    Incoming,
}

/// A trunk change asked for by a model command, applied when its RQNT is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TrunkChange {
    Seize,
    Dial(Vec<Digit>),
    Answer,
    Release,
}

/// The trunk state of a line that is an FXO port.
#[derive(Debug, Clone)]
pub(crate) struct Trunk {
    pub(crate) call: Call,
    /// The state before the change in flight, restored when the gateway refuses it.
    before: Call,
    /// Signals for the next request: the hook switch, then the number.
    hook: Option<bool>,
    dial: Vec<Digit>,
    /// A ring seen while a seize was in flight: if the gateway refuses the seize (glare),
    /// the call rings after all.
    rang: bool,
}

impl Default for Trunk {
    fn default() -> Self {
        Self {
            call: Call::Idle,
            before: Call::Idle,
            hook: None,
            dial: Vec::new(),
            rang: false,
        }
    }
}

/// What one observed event on a trunk means.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TrunkObserved {
    /// Report this.
    Event(Event),
    /// Nothing new (a later ring burst of the call already reported).
    Nothing,
    /// Out of place (an event for an idle trunk, digits with no call up): a counted drop.
    Dropped,
    /// Not a trunk event.
    Unrecognised,
}

const IDLE_EVENTS: &[(&str, &str)] = &[("L", "rg")];
const OUTGOING_EVENTS: &[(&str, &str)] =
    &[("L", "lsa"), ("L", "osi"), ("L", "oc"), ("D", "[0-9#*]")];
const INCOMING_EVENTS: &[(&str, &str)] = &[("L", "osi"), ("D", "[0-9#*]")];
/// Collecting a dial string on a call that is up: the keys and the timer go to the digit map
/// (`D/[0-9#*T](D)`, as on a phone line).
const OUTGOING_COLLECT_EVENTS: &[(&str, &str)] =
    &[("L", "lsa"), ("L", "osi"), ("L", "oc"), ("D", "[0-9#*T]")];
const INCOMING_COLLECT_EVENTS: &[(&str, &str)] = &[("L", "osi"), ("D", "[0-9#*T]")];

const KEYS: [&str; 16] = [
    "0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "*", "#", "A", "B", "C", "D",
];

impl Trunk {
    /// Applies a model command's change; the code to fail it with when it cannot apply.
    pub(crate) fn apply(&mut self, change: &TrunkChange) -> Result<(), ReturnCode> {
        self.before = self.call;
        self.rang = false;
        match change {
            TrunkChange::Seize => match self.call {
                Call::Idle => {
                    self.call = Call::Outgoing;
                    self.hook = Some(true);
                    self.dial.clear();
                }
                // Glare: the gateway would refuse it the same way.
                Call::Ringing => return Err(ReturnCode::NOT_READY),
                Call::Outgoing | Call::Incoming => return Err(ReturnCode::ALREADY_OFF_HOOK),
            },
            TrunkChange::Dial(number) => {
                if self.call != Call::Outgoing {
                    return Err(ReturnCode::ALREADY_ON_HOOK);
                }
                if number.is_empty() || number.len() > MAX_DIAL_DIGITS {
                    return Err(ReturnCode::PARAMETER_ERROR);
                }
                self.dial = number.clone();
            }
            TrunkChange::Answer => match self.call {
                Call::Ringing => {
                    self.call = Call::Incoming;
                    self.hook = Some(true);
                }
                Call::Idle => return Err(ReturnCode::NOT_READY),
                Call::Outgoing | Call::Incoming => return Err(ReturnCode::ALREADY_OFF_HOOK),
            },
            TrunkChange::Release => {
                // Releasing a port that only rings leaves it ringing (it is on hook already).
                if self.call != Call::Ringing {
                    self.call = Call::Idle;
                    self.hook = Some(false);
                    self.dial.clear();
                }
            }
        }
        Ok(())
    }

    /// The gateway refused the change in flight: the port is as it was, or ringing when a
    /// ring crossed a seize (glare; returns true: the call is to be reported now).
    pub(crate) fn refused(&mut self) -> bool {
        self.hook = None;
        self.dial.clear();
        if std::mem::take(&mut self.rang) && self.before == Call::Idle {
            self.call = Call::Ringing;
            return true;
        }
        self.call = self.before;
        false
    }

    /// Whether a call is up on the port (seized or answered).
    pub(crate) fn talking(&self) -> bool {
        matches!(self.call, Call::Outgoing | Call::Incoming)
    }

    /// The requested events that keep the port armed in its state; `collecting`: the keys go
    /// to a digit map.
    pub(crate) fn events(&self, collecting: bool) -> &'static [(&'static str, &'static str)] {
        match (self.call, collecting) {
            (Call::Idle | Call::Ringing, _) => IDLE_EVENTS,
            (Call::Outgoing, false) => OUTGOING_EVENTS,
            (Call::Outgoing, true) => OUTGOING_COLLECT_EVENTS,
            (Call::Incoming, false) => INCOMING_EVENTS,
            (Call::Incoming, true) => INCOMING_COLLECT_EVENTS,
        }
    }

    /// The signals of the next request (taken: they are sent once).
    pub(crate) fn take_signals(&mut self) -> Vec<(&'static str, &'static str, Option<String>)> {
        let mut out = Vec::new();
        match self.hook.take() {
            Some(true) => out.push(("L", "hd", None)),
            Some(false) => out.push(("L", "hu", None)),
            None => {}
        }
        for d in std::mem::take(&mut self.dial) {
            let i = "0123456789*#ABCD"
                .find(d.as_char().to_ascii_uppercase())
                .unwrap_or(0);
            out.push(("D", KEYS[i], None));
        }
        out
    }

    /// Maps one observed event.
    pub(crate) fn observe(&mut self, line: &LineId, e: &EventRef<'_>) -> TrunkObserved {
        let package = e.name.package.unwrap_or("");
        let event = e.name.event;
        let is = |p: &str| package.is_empty() || package.eq_ignore_ascii_case(p);
        let line = line.clone();
        let ev = |x| TrunkObserved::Event(x);
        if is("L") && event.eq_ignore_ascii_case("rg") {
            return match self.call {
                Call::Idle => {
                    self.call = Call::Ringing;
                    ev(Event::IncomingCall {
                        line,
                        caller_id: None,
                    })
                }
                Call::Ringing => TrunkObserved::Nothing,
                Call::Outgoing if self.before == Call::Idle => {
                    // Perhaps glare: kept until the seize is answered.
                    self.rang = true;
                    TrunkObserved::Dropped
                }
                Call::Outgoing | Call::Incoming => TrunkObserved::Dropped,
            };
        }
        if is("L") && event.eq_ignore_ascii_case("ci") {
            // Caller id arrives with the ring it belongs to; handled by `caller_id`.
            return TrunkObserved::Nothing;
        }
        let talking = self.talking();
        if is("L") && event.eq_ignore_ascii_case("lsa") {
            return if self.call == Call::Outgoing {
                ev(Event::FarEndAnswer { line })
            } else {
                TrunkObserved::Dropped
            };
        }
        if is("L") && event.eq_ignore_ascii_case("osi") {
            return if talking {
                ev(Event::FarEndDisconnect {
                    line,
                    why: Disconnect::LoopCurrentDrop,
                })
            } else {
                TrunkObserved::Dropped
            };
        }
        if is("L") && event.eq_ignore_ascii_case("oc") {
            return if self.call == Call::Outgoing {
                ev(Event::DialComplete { line })
            } else {
                TrunkObserved::Dropped
            };
        }
        if is("D") || is("L") {
            let mut chars = event.chars();
            if let (Some(c), None) = (chars.next(), chars.next())
                && let Some(digit) = Digit::new(c)
            {
                return if talking {
                    ev(Event::Digit { line, digit })
                } else {
                    TrunkObserved::Dropped
                };
            }
        }
        TrunkObserved::Unrecognised
    }
}

/// The caller id of an `L/ci(time,number,name)` event, if `e` is one with a number or name.
pub(crate) fn caller_id(e: &EventRef<'_>) -> Option<CallerId> {
    let package_ok = e.name.package.is_none_or(|p| p.eq_ignore_ascii_case("L"));
    if !package_ok || !e.name.event.eq_ignore_ascii_case("ci") {
        return None;
    }
    let params = e.params?;
    let mut parts = params.splitn(3, ',').skip(1);
    let clean = |s: Option<&str>, max: usize| {
        let s: String = s
            .unwrap_or("")
            .trim()
            .trim_matches('"')
            .chars()
            .filter(|c| !c.is_control())
            .take(max)
            .collect();
        (!s.is_empty()).then_some(s)
    };
    let number = clean(parts.next(), 20);
    let name = clean(parts.next(), 15);
    (number.is_some() || name.is_some()).then_some(CallerId { number, name })
}

#[cfg(test)]
#[path = "trunk_tests.rs"]
mod tests;
