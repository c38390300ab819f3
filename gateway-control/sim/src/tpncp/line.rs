//! One analog line of the board (one channel): the phone, the channel's voice state (open with
//! a coder, RTP active to a remote), the ring signal with its caller id, the tone and the lamp.
//! Each change is reported as [`Output`]s and, for what the host must know, as events queued in
//! [`Effects`] for the board to send.

use std::time::{Duration, Instant};

use gateway_control::model::Codec;
use gateway_control::tpncp::wire::{CallerIdText, DigitEntry, Event, ToneType};

use crate::analog::{Connection, Output, Phone, StopReason, key_index};

use super::Config;
use super::fxo::Fxo;

/// How long each key of `digits` is reported pressed, and the pause after it
/// (`digit_on_time`, `inter_digit_time` of `acEV_DIGIT`).
pub(super) const KEY_ON_MS: i32 = 100;
/// See [`KEY_ON_MS`].
pub(super) const KEY_GAP_MS: i32 = 100;

/// What handling an input produced: outputs to report and events for the host, in order.
#[derive(Debug, Default)]
pub(super) struct Effects {
    pub(super) outputs: Vec<Output>,
    /// (line index, event).
    pub(super) events: Vec<(usize, Event)>,
}

/// A channel opened by `acCMD_OPEN_CHANNEL`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Open {
    pub(super) codec: Codec,
    pub(super) ptime: Duration,
}

/// A tone playing.
#[derive(Debug, Clone)]
pub(super) struct Tone {
    pub(super) name: String,
    pub(super) until: Option<Instant>,
}

/// One line: channel `index`, MediaPack port `index + 1`.
#[derive(Debug)]
pub(super) struct Line {
    pub(super) index: usize,
    pub(super) number: u16,
    pub(super) phone: Phone,
    pub(super) open: Option<Open>,
    /// The RTP connection, from `acCMD_ACTIVATE_RTP_RTCP` to its deactivation or the close.
    pub(super) conn: Option<Connection>,
    /// The ring signal is on (the bell follows its cadence in the phone).
    pub(super) ringing: bool,
    pub(super) tone: Option<Tone>,
    pub(super) lamp: bool,
    /// An FXO port ([`Config::fxo`]): the PBX's side of it.
    pub(super) fxo: Option<Fxo>,
}

impl Line {
    pub(super) fn new(index: usize) -> Self {
        // Config::validate bounds lines to MAX_LINES, well inside u16.
        let number = (index + 1) as u16;
        Self {
            index,
            number,
            phone: Phone::new(number),
            open: None,
            conn: None,
            ringing: false,
            tone: None,
            lamp: false,
            fxo: None,
        }
    }

    fn event(&self, fx: &mut Effects, e: Event) {
        fx.events.push((self.index, e));
    }

    /// The handset goes off (`off`) or on hook; false when it already was.
    pub(super) fn hook(&mut self, off: bool, auto: bool, fx: &mut Effects) -> bool {
        let Some(o) = self.phone.hook(off, auto) else {
            return false;
        };
        fx.outputs.push(o);
        if off {
            self.event(fx, Event::OffHook);
            // Ring trip: the off-hook stops the ring.
            self.stop_ring(StopReason::Hook, fx);
        } else {
            self.event(fx, Event::OnHook);
            self.stop_tone(StopReason::Hook, fx);
        }
        true
    }

    /// A hook flash (the line is off-hook).
    pub(super) fn flash(&mut self, fx: &mut Effects) {
        fx.outputs.push(Output::Flash { line: self.number });
        self.event(fx, Event::FlashHook);
    }

    /// One key pressed (the line is off-hook): reported in an `acEV_DIGIT` of its own.
    pub(super) fn key(&mut self, key: char, fx: &mut Effects) {
        let Some(digit) = key_index(key) else {
            return;
        };
        fx.outputs.push(Output::Digit {
            line: self.number,
            digit: key,
        });
        self.event(
            fx,
            Event::Digits(vec![DigitEntry {
                digit: digit as i32,
                on_time_ms: KEY_ON_MS,
                inter_digit_ms: KEY_GAP_MS,
            }]),
        );
    }

    /// Starts ringing: pattern 0 is the standard cadence, 1–7 the distinctive ones. A ring
    /// already on is replaced (its cadence starts again).
    pub(super) fn ring(
        &mut self,
        now: Instant,
        config: &Config,
        pattern: i32,
        caller_id: Option<&CallerIdText>,
        fx: &mut Effects,
    ) {
        self.stop_ring(StopReason::Replaced, fx);
        let mut params = Vec::new();
        if pattern != 0 {
            params.push(format!("pattern={pattern}"));
        }
        if let Some(cid) = caller_id {
            if let Some(n) = &cid.number {
                params.push(format!("number={n}"));
            }
            if let Some(n) = &cid.name {
                params.push(format!("name={n}"));
            }
        }
        fx.outputs.push(Output::Signal {
            line: self.number,
            name: "ring".into(),
            params: (!params.is_empty()).then(|| params.join(" ")),
        });
        self.ringing = true;
        // Patterns 1–7 are the distinctive cadences (taken modulo 8, negative ones as 0).
        let distinctive = u8::try_from(pattern.rem_euclid(8)).ok().filter(|&p| p != 0);
        if let Some(o) = self.phone.ring(
            now,
            distinctive,
            (config.ring_on, config.ring_off),
            config.autoanswer_delay,
        ) {
            fx.outputs.push(o);
            self.event(fx, Event::RingStart);
        }
    }

    /// Stops the ring signal, if on.
    pub(super) fn stop_ring(&mut self, reason: StopReason, fx: &mut Effects) {
        if !std::mem::take(&mut self.ringing) {
            return;
        }
        fx.outputs.push(Output::SignalStopped {
            line: self.number,
            name: "ring".into(),
            reason,
        });
        if let Some(o) = self.phone.silence() {
            fx.outputs.push(o);
            self.event(fx, Event::RingEnd);
        }
    }

    /// Plays a tone (replacing any), for `duration_ms` or until stopped (0 or less).
    pub(super) fn play_tone(
        &mut self,
        now: Instant,
        tone: ToneType,
        duration_ms: i32,
        fx: &mut Effects,
    ) {
        self.stop_tone(StopReason::Replaced, fx);
        let name = tone_name(tone);
        let until = u64::try_from(duration_ms)
            .ok()
            .filter(|&ms| ms > 0)
            .map(|ms| now + Duration::from_millis(ms));
        fx.outputs.push(Output::Signal {
            line: self.number,
            name: name.clone(),
            params: until.map(|_| format!("duration={duration_ms}")),
        });
        self.tone = Some(Tone { name, until });
    }

    /// Stops the tone, if one plays.
    pub(super) fn stop_tone(&mut self, reason: StopReason, fx: &mut Effects) {
        if let Some(t) = self.tone.take() {
            fx.outputs.push(Output::SignalStopped {
                line: self.number,
                name: t.name,
                reason,
            });
        }
    }

    /// The message-waiting lamp on or off; reported when it changes.
    pub(super) fn lamp(&mut self, on: bool, fx: &mut Effects) {
        if self.lamp == on {
            return;
        }
        self.lamp = on;
        fx.outputs.push(if on {
            Output::Signal {
                line: self.number,
                name: "lamp".into(),
                params: None,
            }
        } else {
            Output::SignalStopped {
                line: self.number,
                name: "lamp".into(),
                reason: StopReason::Replaced,
            }
        });
    }

    /// The earliest instant this line needs [`Self::handle_timeout`].
    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        [
            self.phone.poll_timeout(),
            self.tone.as_ref().and_then(|t| t.until),
            self.conn.as_ref().and_then(Connection::poll_timeout),
            self.fxo.as_ref().and_then(Fxo::poll_timeout),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// The bell's cadence, autoanswer and the tone's end (the connection's `say` is the
    /// board's, which sends the packets).
    pub(super) fn handle_timeout(&mut self, now: Instant, fx: &mut Effects) {
        if self.fxo.is_some() {
            return self.fxo_timeout(now, fx);
        }
        if let Some(o) = self.phone.handle_timeout(now) {
            let on = matches!(o, Output::Ringing { on: true, .. });
            fx.outputs.push(o);
            self.event(fx, if on { Event::RingStart } else { Event::RingEnd });
        }
        if self.phone.autoanswer_due(now) {
            self.hook(true, true, fx);
        }
        if self
            .tone
            .as_ref()
            .and_then(|t| t.until)
            .is_some_and(|t| t <= now)
        {
            self.stop_tone(StopReason::Timeout, fx);
        }
    }

    /// `acEV_ANALOG_IF_FXS_STATUS` for this line (`acEV_ANALOG_IF_FXO_STATUS` for an FXO
    /// port).
    pub(super) fn status(&self) -> Event {
        if let Some(status) = self.fxo_status() {
            return status;
        }
        Event::FxsStatus {
            off_hook: self.phone.is_off_hook(),
            ringing: self.ringing,
            message_waiting: self.lamp,
        }
    }
}

/// A tone's name in the output lines.
pub(super) fn tone_name(tone: ToneType) -> String {
    match tone {
        ToneType::Dial => "dial".into(),
        ToneType::Ringing => "ringback".into(),
        ToneType::Busy => "busy".into(),
        ToneType::Reorder => "reorder".into(),
        ToneType::Confirmation => "confirmation".into(),
        ToneType::Waiting => "call_waiting".into(),
        ToneType::StutterDial => "stutter_dial".into(),
        ToneType::Other(n) => format!("tone_{n}"),
        // ToneType is non-exhaustive: a tone added later is named by its debug form.
        other => format!("{other:?}").to_ascii_lowercase(),
    }
}
