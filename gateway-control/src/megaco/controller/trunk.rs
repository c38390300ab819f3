//! Trunks: FXO terminations, where the gateway is the phone on a line from a PBX or the public
//! network.
//!
//! # The mapping
//! H.248.1 Annex E has no package for the network side of an analog line (its `al` package is
//! the subscriber side: the MG watches a phone's hook). ITU-T H.248.25 (Basic CAS packages,
//! after draft-manyfolks-megaco-caspackage) gives a trunk's line signalling as signals and
//! events of its Basic CAS package `bcas`; the rest comes from Annex E:
//!
//! | model                      | H.248                                                        |
//! |----------------------------|--------------------------------------------------------------|
//! | [`Command::AddTrunk`]      | Modify: `Events{bcas/sz}` (incoming seizure: the line rings)  |
//! | [`Command::Seize`]         | Modify: `Signals{bcas/sz}`, Events of a seized port           |
//! | [`Command::Dial`] (DTMF)   | Modify: `Signals{SL{dg/d2, dg/d0, …, dg/d1{NC={TO}}}}` (E.5)  |
//! | [`Command::Answer`]        | Modify: `Signals{bcas/ans}`, Events of an answered port        |
//! | [`Command::Release`]       | Modify: `Signals{bcas/cl}`, `Events{bcas/sz}` again            |
//! | [`Event::IncomingCall`]    | `bcas/sz` observed on an idle port (`cid`, `cname`: caller id) |
//! | [`Event::DialComplete`]    | `g/sc` (Annex E.1 signal completion) of the dial list          |
//! | [`Event::FarEndAnswer`]    | `bcas/ans` (polarity reversal) on a seized port                |
//! | [`Event::FarEndDisconnect`]| `bcas/cl` (loop-current drop, or ringing that stopped), `cd/bt` and `cd/ct` (Annex E.8 busy and congestion tone detected) |
//!
//! Digits on a seized or answered port are `dd/ce` with the map every key completes, as on a
//! station line (Annex E.6). The seize, answer and clear signals are brief: they change the
//! port's line state rather than play until stopped, so a later Signals descriptor (a tone,
//! the dial list, or an empty one) does not hang the port up (H.248.1 §7.1.11 leaves a brief
//! signal to end by itself).
//!
//! # What is not from a standard
//! - The caller id on `bcas/sz`: H.248.25 carries no caller id; the MG reports the number and
//!   name it decoded between the first two rings as the event parameters `cid` and `cname`
//!   (quoted strings). A value out of bounds is dropped and counted, the call still reported.
//! - Pulse dialling: H.248.25's addressing package `bcasaddr` would carry it, but its items
//!   could not be checked against the Recommendation's text; [`DialMethod::Pulse`] is refused
//!   with 501 (not implemented), as the model allows.
//! - `bcas` has no binary ids here (its IANA serial could not be checked either): a trunk on a
//!   gateway that speaks binary (Annex A) fails its commands with an encode failure.
//!
//! # Glare
//! A seize sent while the port rings for an incoming call is refused by the MG (the simulator
//! answers H.248.8 error 540, unexpected initial hook state); the refusal reaches the station
//! as [`Event::CommandFailed`] with the MG's code, and the incoming call as
//! [`Event::IncomingCall`]. The controller sends the seize whatever it believes, since only the
//! MG knows whether the line started ringing.

use std::time::Instant;

use tracing::debug;

use super::MediaGatewayController;
use super::jobs::Job;
use crate::megaco::{
    ErrorCode, EventParm, EventSpecParm, NotifyReason, ObservedEvent, ParmValue, Property,
    RequestedEvent, Signal, SignalArg, SignalParm,
};
use crate::model::{CallerId, Command, DialMethod, Digit, Disconnect, Event, LineId};

/// The most digits one [`Command::Dial`] may carry (E.164 numbers have at most 15; a PBX
/// prefix and an extension fit too).
pub const MAX_DIAL_DIGITS: usize = 32;

/// The longest caller-id number or name taken from a `bcas/sz` event, in characters
/// (Bellcore GR-30 allows 15 for a name and a number; room is left for longer ETSI numbers).
pub const MAX_CALLER_ID_LEN: usize = 32;

/// The incoming seizure event and the seize signal.
const SEIZE: &str = "bcas/sz";
/// The answer event (the far end answered) and signal (we answer).
const ANSWER: &str = "bcas/ans";
/// The clear event (the far end is gone) and signal (we hang up).
const CLEAR: &str = "bcas/cl";
/// Signal completion (Annex E.1).
const COMPLETION: &str = "g/sc";
/// Busy tone detected (Annex E.8).
const BUSY: &str = "cd/bt";
/// Congestion (reorder) tone detected (Annex E.8).
const CONGESTION: &str = "cd/ct";

/// Where a trunk's call is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// On hook, armed for an incoming seizure.
    Idle,
    /// Ringing for an incoming call, not answered.
    Ringing,
    /// Seized by us for an outgoing call.
    Outgoing {
        /// The far end answered (`bcas/ans`).
        answered: bool,
    },
    /// An incoming call we answered.
    Incoming,
    /// The far end is gone; the port stays off hook until released.
    Cleared,
}

impl Phase {
    /// Whether the port is off hook (seized or answered).
    pub(super) fn off_hook(self) -> bool {
        matches!(self, Self::Outgoing { .. } | Self::Incoming | Self::Cleared)
    }
}

/// A trunk's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Trunk {
    pub(super) phase: Phase,
    /// A dial list is playing: its `g/sc` is [`Event::DialComplete`].
    pub(super) dialling: bool,
    /// A seize is queued or in flight: a dial may follow it at once (the line's jobs go one
    /// after the other, so the MG sees the dial after the seize it acknowledged).
    pub(super) seizing: bool,
}

impl Trunk {
    pub(super) const IDLE: Self = Self {
        phase: Phase::Idle,
        dialling: false,
        seizing: false,
    };
}

/// What a trunk job does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum TrunkOp {
    Seize,
    /// The number, as `dg` signals.
    Dial(Vec<Digit>),
    Answer,
    Release,
}

impl TrunkOp {
    /// The phase the port is in once the MG did it (`None`: unchanged).
    pub(super) fn target(&self) -> Option<Phase> {
        match self {
            Self::Seize => Some(Phase::Outgoing { answered: false }),
            Self::Answer => Some(Phase::Incoming),
            Self::Release => Some(Phase::Idle),
            Self::Dial(_) => None,
        }
    }

    /// The line signal it sends (the dial list aside).
    fn signal(&self) -> Option<&'static str> {
        match self {
            Self::Seize => Some(SEIZE),
            Self::Answer => Some(ANSWER),
            Self::Release => Some(CLEAR),
            Self::Dial(_) => None,
        }
    }
}

/// The events a trunk in `phase` is armed for; `digits`: with `dd/ce` naming `map_name`.
pub(super) fn events(phase: Phase, map_name: &str) -> Vec<RequestedEvent<'_>> {
    let plain = |name| RequestedEvent {
        name,
        params: Vec::new(),
    };
    let mut events = match phase {
        Phase::Idle => return vec![plain(SEIZE)],
        Phase::Ringing => return vec![plain(CLEAR)],
        Phase::Outgoing { answered: false } => vec![plain(ANSWER)],
        Phase::Outgoing { answered: true } | Phase::Incoming | Phase::Cleared => Vec::new(),
    };
    events.extend([
        plain(CLEAR),
        plain(BUSY),
        plain(CONGESTION),
        plain(COMPLETION),
    ]);
    events.push(RequestedEvent {
        name: "dd/ce",
        params: vec![EventParm::DigitMap(crate::megaco::DigitMapRef::Name(
            map_name,
        ))],
    });
    events
}

/// The Signals descriptor of a trunk job.
pub(super) fn signals(op: &TrunkOp) -> Vec<SignalParm<'static>> {
    if let Some(name) = op.signal() {
        return vec![SignalParm::Signal(Signal {
            name,
            params: Vec::new(),
        })];
    }
    let TrunkOp::Dial(number) = op else {
        return Vec::new();
    };
    let last = number.len().saturating_sub(1);
    let list = number
        .iter()
        .enumerate()
        .filter_map(|(i, d)| {
            let name = dtmf_signal(*d)?;
            let params = if i == last {
                vec![SignalArg::NotifyCompletion(vec![NotifyReason::TimeOut])]
            } else {
                Vec::new()
            };
            Some(Signal { name, params })
        })
        .collect();
    vec![SignalParm::List(1, list)]
}

/// The `dg` signal (Annex E.5) of a key: `ds` is `*` and `do` is `#`.
fn dtmf_signal(digit: Digit) -> Option<&'static str> {
    const NAMES: [&str; 16] = [
        "dg/d0", "dg/d1", "dg/d2", "dg/d3", "dg/d4", "dg/d5", "dg/d6", "dg/d7", "dg/d8", "dg/d9",
        "dg/da", "dg/db", "dg/dc", "dg/dd", "dg/ds", "dg/do",
    ];
    let i = match digit.as_char() {
        c @ '0'..='9' => c as usize - '0' as usize,
        c @ 'A'..='D' => 10 + (c as usize - 'A' as usize),
        '*' => 14,
        '#' => 15,
        _ => return None,
    };
    NAMES.get(i).copied()
}

/// A quoted or bare parameter value, unquoted.
fn value<'a>(params: &[EventSpecParm<'a>], name: &str) -> Option<&'a str> {
    params.iter().find_map(|p| match p {
        EventSpecParm::Other(Property {
            name: n,
            value: ParmValue::Equal(v),
        }) if n.eq_ignore_ascii_case(name) => Some(v.trim_matches('"')),
        _ => None,
    })
}

/// The caller id of an incoming seizure; `Err` if a value is out of bounds.
fn caller_id(params: &[EventSpecParm<'_>]) -> Result<Option<CallerId>, ()> {
    let number = value(params, "cid");
    let name = value(params, "cname");
    let ok_number = |n: &str| {
        n.len() <= MAX_CALLER_ID_LEN
            && !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit() || "+*#".contains(c))
    };
    let ok_name = |n: &str| {
        n.chars().count() <= MAX_CALLER_ID_LEN
            && !n.is_empty()
            && n.chars().all(|c| c == ' ' || c.is_ascii_graphic())
    };
    if number.is_some_and(|n| !ok_number(n)) || name.is_some_and(|n| !ok_name(n)) {
        return Err(());
    }
    if number.is_none() && name.is_none() {
        return Ok(None);
    }
    Ok(Some(CallerId {
        number: number.map(str::to_owned),
        name: name.map(str::to_owned),
    }))
}

impl MediaGatewayController {
    /// A trunk command for line `l`: the job to queue, or `None` when it was refused (and
    /// reported) here.
    pub(super) fn trunk_job(&mut self, g: usize, l: usize, command: Command) -> Option<Job> {
        let line_id = self.line_id(g, l);
        let Some(trunk) = self.gateways[g].lines[l].trunk else {
            self.trunk_refused(line_id, ErrorCode::UNKNOWN_TERMINATION, "not a trunk");
            return None;
        };
        let op = match command {
            Command::Seize { .. } => {
                if trunk.phase.off_hook() || trunk.seizing {
                    self.trunk_refused(line_id, ErrorCode::NOT_READY, "the trunk is in use");
                    return None;
                }
                if let Some(t) = &mut self.gateways[g].lines[l].trunk {
                    t.seizing = true;
                }
                TrunkOp::Seize
            }
            Command::Answer { .. } => {
                if trunk.phase != Phase::Ringing {
                    self.trunk_refused(line_id, ErrorCode::NOT_READY, "no call to answer");
                    return None;
                }
                TrunkOp::Answer
            }
            Command::Release { .. } => TrunkOp::Release,
            Command::Dial { number, method, .. } => {
                if method == DialMethod::Pulse {
                    self.trunk_refused(
                        line_id,
                        ErrorCode::NOT_IMPLEMENTED,
                        "pulse dialling is not implemented for H.248",
                    );
                    return None;
                }
                if number.is_empty() || number.len() > MAX_DIAL_DIGITS {
                    self.trunk_refused(
                        line_id,
                        ErrorCode::SYNTAX_ERROR_IN_COMMAND,
                        "the number is empty or too long",
                    );
                    return None;
                }
                if !trunk.seizing
                    && !matches!(trunk.phase, Phase::Outgoing { .. } | Phase::Incoming)
                {
                    self.trunk_refused(line_id, ErrorCode::NOT_READY, "the trunk is not seized");
                    return None;
                }
                if let Some(t) = &mut self.gateways[g].lines[l].trunk {
                    t.dialling = true;
                }
                TrunkOp::Dial(number)
            }
            _ => return None,
        };
        Some(Job::Trunk(op))
    }

    fn trunk_refused(&mut self, line: LineId, code: ErrorCode, reason: &str) {
        self.stats.commands_failed += 1;
        debug!(%line, reason, "trunk command refused");
        self.events.push_back(Event::CommandFailed {
            line,
            call: None,
            code: code.0,
            reason: reason.into(),
        });
    }

    /// The MG did a trunk job (`ok`) or refused it.
    pub(super) fn trunk_done(&mut self, g: usize, l: usize, op: &TrunkOp, ok: bool) {
        let line = &mut self.gateways[g].lines[l];
        let Some(trunk) = &mut line.trunk else {
            return;
        };
        if matches!(op, TrunkOp::Dial(_)) && !ok {
            trunk.dialling = false;
        }
        if matches!(op, TrunkOp::Seize) {
            trunk.seizing = false;
        }
        if !ok {
            return;
        }
        if let Some(phase) = op.target() {
            trunk.phase = phase;
            // A dial queued right behind the seize is already under way.
            if !matches!(op, TrunkOp::Seize) {
                trunk.dialling = false;
            }
            line.off_hook = phase.off_hook();
            if phase == Phase::Idle {
                line.collect = None;
            }
        }
    }

    /// An observed event on a trunk; `false` if it is not a trunk event (digits are taken as
    /// on a station line).
    pub(super) fn trunk_observed(
        &mut self,
        now: Instant,
        g: usize,
        l: usize,
        event: &ObservedEvent<'_>,
    ) -> bool {
        let line_id = self.line_id(g, l);
        let line = &mut self.gateways[g].lines[l];
        let Some(trunk) = &mut line.trunk else {
            return false;
        };
        let name = event.name;
        let is = |n: &str| name.eq_ignore_ascii_case(n);
        if is("dd/ce") || super::build::key_of_event(name).is_some() {
            return false;
        }
        let mut rearm = false;
        let reported = match trunk.phase {
            Phase::Idle if is(SEIZE) => {
                trunk.phase = Phase::Ringing;
                rearm = true;
                let caller_id = caller_id(&event.params).unwrap_or_else(|()| {
                    self.stats.trunk_inputs_dropped += 1;
                    debug!(line = %line_id, "caller id out of bounds dropped");
                    None
                });
                Some(Event::IncomingCall {
                    line: line_id.clone(),
                    caller_id,
                })
            }
            Phase::Ringing if is(CLEAR) => {
                trunk.phase = Phase::Idle;
                rearm = true;
                Some(Event::FarEndDisconnect {
                    line: line_id.clone(),
                    why: Disconnect::RingingStopped,
                })
            }
            Phase::Outgoing { answered: false } if is(ANSWER) => {
                trunk.phase = Phase::Outgoing { answered: true };
                rearm = true;
                Some(Event::FarEndAnswer {
                    line: line_id.clone(),
                })
            }
            Phase::Outgoing { .. } | Phase::Incoming if is(CLEAR) || is(BUSY) || is(CONGESTION) => {
                trunk.phase = Phase::Cleared;
                trunk.dialling = false;
                let why = if is(CLEAR) {
                    Disconnect::LoopCurrentDrop
                } else if is(BUSY) {
                    Disconnect::Busy
                } else {
                    Disconnect::Reorder
                };
                Some(Event::FarEndDisconnect {
                    line: line_id.clone(),
                    why,
                })
            }
            Phase::Outgoing { .. } | Phase::Incoming if is(COMPLETION) && trunk.dialling => {
                let signal = value(&event.params, "SigID");
                if signal.is_none_or(|s| s.get(..3).is_some_and(|p| p.eq_ignore_ascii_case("dg/")))
                {
                    trunk.dialling = false;
                    Some(Event::DialComplete {
                        line: line_id.clone(),
                    })
                } else {
                    None
                }
            }
            _ => None,
        };
        let Some(reported) = reported else {
            self.stats.events_ignored += 1;
            self.stats.trunk_inputs_dropped += 1;
            debug!(line = %line_id, event = name, "trunk event out of place ignored");
            return true;
        };
        self.stats.events_reported += 1;
        self.events.push_back(reported);
        if rearm {
            self.enqueue(now, g, l, Job::Arm);
        }
        true
    }
}
