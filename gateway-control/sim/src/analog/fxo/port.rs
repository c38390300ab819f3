//! One FXO port's line to the simulated PBX: the port's state, what the controller does with
//! it (seize, dial, answer, release), what the far phone or the PBX's caller does (stdin), and
//! what the port's line interface detects for the protocol side to report.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::tone::{Tone, ToneGen};
use super::{MAX_TONE_CHUNK, Supervision};
use crate::analog::{Bell, Output, key_index};

/// The longest number the PBX takes on one seizure (E.164's 15 digits plus an access code and
/// room for PBX feature codes).
pub const MAX_DIALLED: usize = 32;
/// How long after the last dialled digit the PBX takes the number as complete, for
/// protocol sides that dial digit by digit without saying when the number ends
/// ([`Port::dial`] with `last` false).
pub const DIAL_TIMEOUT: Duration = Duration::from_secs(4);
/// The most detected events queued on one port before the oldest are dropped (a far phone
/// keying faster than the protocol side drains them).
pub const MAX_PORT_EVENTS: usize = 128;

/// Where a port's call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// On hook, nothing ringing.
    Idle,
    /// Seized by the controller; the PBX is collecting the dialled number.
    Seized,
    /// The number is dialled and the far phone rings.
    Dialled,
    /// The far end is busy: busy tone on the line.
    Busy,
    /// The far phone answered: talking.
    Answered,
    /// The far end hung up (or the caller, on an incoming call); with
    /// [`Supervision::None`] the PBX plays reorder.
    FarEndGone,
    /// A call from the PBX rings the port.
    Ringing,
    /// The controller answered the incoming call: talking.
    AnsweredIncoming,
}

impl State {
    /// Whether the controller holds the port off hook.
    pub fn off_hook(self) -> bool {
        !matches!(self, Self::Idle | Self::Ringing)
    }
}

/// Why the port refused what the controller asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Seize while an incoming call rings the port: glare.
    #[error("glare: the port is ringing for an incoming call")]
    Glare,
    /// Seize or answer while the port is already off hook.
    #[error("the port is in use")]
    InUse,
    /// Dial on a port that is not seized, or after the number was complete.
    #[error("the port is not seized for dialling")]
    NotSeized,
    /// Answer with no incoming call ringing.
    #[error("nothing is ringing the port")]
    NotRinging,
    /// A key that is not 0-9, *, #, A-D, or more than [`MAX_DIALLED`] digits.
    #[error("bad or too long dial string")]
    BadNumber,
}

/// What the port's line interface detects, for the protocol side to report to the controller
/// in its own terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Detected {
    /// Ringing voltage: an incoming call, with the caller id sent between the first and
    /// second ring when the PBX gave one.
    Ring {
        /// The caller's number.
        caller_id: Option<String>,
    },
    /// The ringing stopped before the controller answered: the caller gave up.
    RingingStopped,
    /// Polarity (battery) reversal: the far end answered ([`Supervision::Full`] only).
    PolarityReversal,
    /// A loop-current drop (CPC, open switch interval): the far end hung up
    /// ([`Supervision::Full`] only).
    LoopCurrentDrop,
    /// A DTMF key from the far end, while talking.
    Digit(char),
}

/// One FXO port. The protocol side owns one for each FXO line, calls the controller-side
/// methods when its protocol asks for them and the far-side methods for stdin commands on the
/// line, then drains [`poll_detected`](Self::poll_detected) (report each to the controller),
/// [`poll_output`](Self::poll_output) (print each) and, whenever the line's connection is not
/// sending anything else, [`tone_chunk`](Self::tone_chunk) (send it as the line's audio);
/// [`handle_timeout`](Self::handle_timeout) at [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct Port {
    line: u16,
    supervision: Supervision,
    state: State,
    dialled: String,
    dial_deadline: Option<Instant>,
    caller_id: Option<String>,
    bell: Option<Bell>,
    ring_cadence: (Duration, Duration),
    far_autoanswer: Option<Duration>,
    far_answer_at: Option<Instant>,
    tone: Option<ToneGen>,
    detected: VecDeque<Detected>,
    outputs: VecDeque<Output>,
    dropped: u64,
}

impl Port {
    /// Line `line`, idle, with the PBX giving `supervision` and ringing with the `on`/`off`
    /// cadence.
    pub fn new(line: u16, supervision: Supervision, ring_cadence: (Duration, Duration)) -> Self {
        Self {
            line,
            supervision,
            state: State::Idle,
            dialled: String::new(),
            dial_deadline: None,
            caller_id: None,
            bell: None,
            ring_cadence,
            far_autoanswer: None,
            far_answer_at: None,
            tone: None,
            detected: VecDeque::new(),
            outputs: VecDeque::new(),
            dropped: 0,
        }
    }

    /// The line number.
    pub fn line(&self) -> u16 {
        self.line
    }

    /// Where the call stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// The caller id of the incoming call ringing or answered, if it had one.
    pub fn caller_id(&self) -> Option<&str> {
        self.caller_id.as_deref()
    }

    /// Detected events dropped because [`MAX_PORT_EVENTS`] were already queued.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    // --- What the controller does (through the protocol) ---

    /// The controller takes the port off hook to place a call.
    pub fn seize(&mut self, _now: Instant) -> Result<(), Refusal> {
        match self.state {
            State::Idle => {
                self.state = State::Seized;
                self.dialled.clear();
                Ok(())
            }
            State::Ringing => Err(Refusal::Glare),
            _ => Err(Refusal::InUse),
        }
    }

    /// The controller dials `digits` on the seized port; `last` says the number is complete
    /// (the protocol's dial string ended), otherwise the PBX waits [`DIAL_TIMEOUT`] for more.
    /// Once complete the port prints `dialed` and the far phone rings.
    pub fn dial(&mut self, now: Instant, digits: &str, last: bool) -> Result<(), Refusal> {
        if self.state != State::Seized {
            return Err(Refusal::NotSeized);
        }
        if self.dialled.len() + digits.len() > MAX_DIALLED
            || !digits.chars().all(|c| key_index(c).is_some())
        {
            return Err(Refusal::BadNumber);
        }
        self.dialled
            .extend(digits.chars().map(|c| c.to_ascii_uppercase()));
        if last {
            self.number_complete(now);
        } else {
            self.dial_deadline = Some(now + DIAL_TIMEOUT);
        }
        Ok(())
    }

    /// The controller answers the incoming call ringing the port.
    pub fn answer(&mut self, _now: Instant) -> Result<(), Refusal> {
        match self.state {
            State::Ringing => {
                self.stop_bell();
                self.state = State::AnsweredIncoming;
                self.outputs.push_back(Output::Answered { line: self.line });
                Ok(())
            }
            State::Idle => Err(Refusal::NotRinging),
            _ => Err(Refusal::InUse),
        }
    }

    /// The controller puts the port back on hook: whatever call it had is over. A port
    /// ringing for an incoming call keeps ringing (it never went off hook).
    pub fn release(&mut self, _now: Instant) {
        if self.state == State::Ringing {
            return;
        }
        self.state = State::Idle;
        self.dialled.clear();
        self.dial_deadline = None;
        self.far_answer_at = None;
        self.caller_id = None;
        self.tone = None;
    }

    // --- What the far side does (stdin) ---

    /// `offhook N`: the far phone answers the call the controller dialled.
    pub fn far_off_hook(&mut self, _now: Instant) -> Result<(), &'static str> {
        if self.state != State::Dialled {
            return Err("no call from the gateway is ringing the far phone");
        }
        self.far_answer_at = None;
        self.state = State::Answered;
        if self.supervision == Supervision::Full {
            self.detect(Detected::PolarityReversal);
        }
        Ok(())
    }

    /// `onhook N`: the far phone hangs up, or the caller of an incoming call gives up or
    /// hangs up.
    pub fn far_on_hook(&mut self, _now: Instant) -> Result<(), &'static str> {
        match self.state {
            State::Answered | State::AnsweredIncoming => {
                self.state = State::FarEndGone;
                match self.supervision {
                    Supervision::Full => self.detect(Detected::LoopCurrentDrop),
                    Supervision::None => self.tone = Some(ToneGen::new(Tone::Reorder)),
                }
                Ok(())
            }
            State::Ringing => {
                self.stop_bell();
                self.state = State::Idle;
                self.caller_id = None;
                self.detect(Detected::RingingStopped);
                Ok(())
            }
            _ => Err("the far end is not off hook"),
        }
    }

    /// `busy N`: the number dialled is busy; the PBX plays busy tone.
    pub fn far_busy(&mut self, _now: Instant) -> Result<(), &'static str> {
        if !matches!(self.state, State::Dialled | State::Seized) {
            return Err("no call from the gateway to be busy");
        }
        self.dial_deadline = None;
        self.far_answer_at = None;
        self.state = State::Busy;
        self.tone = Some(ToneGen::new(Tone::Busy));
        Ok(())
    }

    /// `ring N [NUMBER]`: a call from the PBX, with caller id `NUMBER`.
    pub fn ring(&mut self, now: Instant, caller_id: Option<String>) -> Result<(), &'static str> {
        if self.state != State::Idle {
            return Err("the port is in use");
        }
        self.state = State::Ringing;
        self.caller_id.clone_from(&caller_id);
        let (on, off) = self.ring_cadence;
        self.bell = Some(Bell::new(now, None, on, off));
        self.outputs.push_back(Output::Ringing {
            line: self.line,
            on: true,
        });
        self.detect(Detected::Ring { caller_id });
        Ok(())
    }

    /// `digits N KEYS`: the far party presses keys while talking.
    pub fn far_digits(&mut self, _now: Instant, keys: &str) -> Result<(), &'static str> {
        if !matches!(self.state, State::Answered | State::AnsweredIncoming) {
            return Err("no call is up on the port");
        }
        for k in keys.chars().filter(|&c| key_index(c).is_some()) {
            self.detect(Detected::Digit(k.to_ascii_uppercase()));
        }
        Ok(())
    }

    /// `autoanswer N on|off`: the far phone picks up by itself `delay` after it starts
    /// ringing.
    pub fn far_autoanswer(&mut self, on: bool, delay: Duration) {
        self.far_autoanswer = on.then_some(delay);
        if !on {
            self.far_answer_at = None;
        }
    }

    // --- Draining ---

    /// The next thing the line interface detected, for the protocol side to report.
    pub fn poll_detected(&mut self) -> Option<Detected> {
        self.detected.pop_front()
    }

    /// The next thing to print (`dialed`, `answered`, the bell's `ringing`).
    pub fn poll_output(&mut self) -> Option<Output> {
        self.outputs.pop_front()
    }

    /// The tone the PBX is playing down the line, if any.
    pub fn tone(&self) -> Option<Tone> {
        self.tone.as_ref().map(ToneGen::tone)
    }

    /// The next second of the tone the PBX plays down the line, continuing the last chunk;
    /// `None` when no tone plays.
    pub fn tone_chunk(&mut self) -> Option<Vec<i16>> {
        self.tone.as_mut().map(|t| t.chunk(MAX_TONE_CHUNK))
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        [
            self.dial_deadline,
            self.far_answer_at,
            self.bell.as_ref().map(|b| b.next),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Runs what is due at `now`: the PBX's dialling timeout, the far phone's autoanswer and
    /// the bell's cadence.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.dial_deadline.is_some_and(|t| t <= now) {
            self.number_complete(now);
        }
        if self.far_answer_at.is_some_and(|t| t <= now) {
            let _ = self.far_off_hook(now);
        }
        if let Some(bell) = self.bell.as_mut().filter(|b| b.next <= now) {
            let on = bell.step(now);
            self.outputs.push_back(Output::Ringing {
                line: self.line,
                on,
            });
        }
    }

    fn number_complete(&mut self, now: Instant) {
        self.dial_deadline = None;
        self.state = State::Dialled;
        self.outputs.push_back(Output::Dialed {
            line: self.line,
            number: self.dialled.clone(),
        });
        self.far_answer_at = self.far_autoanswer.map(|d| now + d);
    }

    fn stop_bell(&mut self) {
        if self.bell.take().is_some_and(|b| b.on) {
            self.outputs.push_back(Output::Ringing {
                line: self.line,
                on: false,
            });
        }
    }

    fn detect(&mut self, d: Detected) {
        if self.detected.len() >= MAX_PORT_EVENTS {
            self.detected.pop_front();
            self.dropped += 1;
            tracing::debug!(
                line = self.line,
                "FXO port event queue full; oldest dropped"
            );
        }
        self.detected.push_back(d);
    }
}
