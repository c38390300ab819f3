//! FXO channels on the TPNCP side: lines named in [`Config::fxo`](super::Config::fxo) are
//! ports of the board facing a simulated PBX ([`crate::analog::fxo`]), driven with the
//! commands and reporting the events an AudioCodes board has for analog FXO ports
//! (Wireshark's `tpncp.dat`, L7.40.016.001; the events as AudioCodes' FXO (DAA) driver emits
//! them for each line condition):
//!
//! | host | on the wire | port |
//! | --- | --- | --- |
//! | seize | `acCMD_SEND_ANALOG_SIGNAL` `ANALOG_SIGNAL_OFFHOOK` on an idle port | [`Port::seize`] |
//! | dial | `acCMD_DIAL` (DTMF); `acEV_DIAL_ENDED` once its digits have played (each entry's on time and gap) | [`Port::dial`], `dialed` printed then |
//! | answer | `acCMD_SEND_ANALOG_SIGNAL` `ANALOG_SIGNAL_OFFHOOK` on a ringing port whose call was reported | [`Port::answer`] |
//! | release | `acCMD_SEND_ANALOG_SIGNAL` `ANALOG_SIGNAL_ONHOOK` | [`Port::release`] |
//! | status | `acCMD_ANALOG_IF_QUERY_STATUS` → `acEV_ANALOG_IF_FXO_STATUS` (`seized_line`) | [`Port::state`] |
//! | incoming call | `acEV_ANALOG_IF_RING_START`/`_END` per ring burst (`EVENT_TRIGGER_RING_DETECTION`), `acEV_DETECT_CALLER_ID` after the first burst | [`Detected::Ring`] |
//! | far-end answer | `acEV_ANALOG_IF_REVERSAL_POLARITY_DETECTED` (`line_polarity_state` 1, reversed) | [`Detected::PolarityReversal`] |
//! | far-end disconnect | `acEV_ANALOG_IF_CURRENT_DISCONNECT_DETECTED` | [`Detected::LoopCurrentDrop`] |
//! | the far party's keys | `acEV_DIGIT` | [`Detected::Digit`] |
//!
//! TPNCP has one off-hook signal for seizing and answering, so the board tells them apart by
//! what it has reported: an off-hook on a port that rings for a call the host has not been
//! told of yet (no caller id sent, no second ring) crosses that call — glare, refused with
//! [`ErrorCode::Glare`]; once reported, an off-hook answers it. A port in use refuses a
//! seize ([`ErrorCode::PortInUse`]), a dial on a port not seized is refused
//! ([`ErrorCode::NotSeized`]), and ringing an FXO port ([`ErrorCode::FxoPort`]) too. The
//! PBX's busy and reorder tones play on the channel's RTP connection.
//!
//! [`Port::seize`]: crate::analog::fxo::Port::seize
//! [`Port::dial`]: crate::analog::fxo::Port::dial
//! [`Port::answer`]: crate::analog::fxo::Port::answer
//! [`Port::release`]: crate::analog::fxo::Port::release
//! [`Port::state`]: crate::analog::fxo::Port::state
//! [`Detected::Ring`]: crate::analog::fxo::Detected::Ring
//! [`Detected::PolarityReversal`]: crate::analog::fxo::Detected::PolarityReversal
//! [`Detected::LoopCurrentDrop`]: crate::analog::fxo::Detected::LoopCurrentDrop
//! [`Detected::Digit`]: crate::analog::fxo::Detected::Digit

use std::time::{Duration, Instant};

use gateway_control::tpncp::wire::{AnalogSignal, CallerIdText, Command, DigitEntry, Event};
use tracing::debug;

use super::execute::{ErrorCode, Refusal};
use super::line::{Effects, KEY_GAP_MS, KEY_ON_MS, Line};
use super::{Board, Config};
use crate::analog::fxo::{Detected, Port, State};
use crate::analog::{LineCommand, Output, TrunkCommand, key_index};

/// The longest a digit of `acCMD_DIAL` is taken to sound or pause, in milliseconds (a host's
/// larger value is cut to it, so that a dial always ends).
const MAX_DIGIT_MS: u64 = 10_000;

/// An FXO port and what the board remembers about its calls.
#[derive(Debug)]
pub(super) struct Fxo {
    pub(super) port: Port,
    /// The caller id of the call ringing, sent after its first ring burst.
    caller_id: Option<String>,
    /// Ring bursts of the call ringing.
    bursts: u32,
    /// The host was told of the call ringing (caller id, or a second ring): an off-hook
    /// answers it.
    announced: bool,
    /// The channel's connection plays the PBX's tone (not a `say`).
    pub(super) tone_playing: bool,
    /// `acCMD_DIAL`'s digits play until this instant; then the number is complete.
    dialing: Option<(Instant, String)>,
}

impl Fxo {
    pub(super) fn new(number: u16, config: &Config) -> Self {
        Self {
            port: Port::new(
                number,
                config.fxo.supervision_mode(),
                (config.ring_on, config.ring_off),
            ),
            caller_id: None,
            bursts: 0,
            announced: false,
            tone_playing: false,
            dialing: None,
        }
    }

    pub(super) fn poll_timeout(&self) -> Option<Instant> {
        [self.port.poll_timeout(), self.dialing.as_ref().map(|d| d.0)]
            .into_iter()
            .flatten()
            .min()
    }
}

/// The keys of `acCMD_DIAL`'s entries, and how long they take to play.
fn dial_string(digits: &[DigitEntry]) -> Result<(String, Duration), Refusal> {
    let mut number = String::new();
    let mut ms = 0u64;
    for d in digits {
        let key = u8::try_from(d.digit)
            .ok()
            .and_then(|c| match c {
                0..=9 => Some(char::from(b'0' + c)),
                10 => Some('*'),
                11 => Some('#'),
                12..=15 => Some(char::from(b'A' + c - 12)),
                _ => None,
            })
            .filter(|c| key_index(*c).is_some())
            .ok_or_else(|| {
                Refusal::new(
                    ErrorCode::BadParameter,
                    format!("digit code {} is no key", d.digit),
                )
            })?;
        number.push(key);
        for t in [d.on_time_ms, d.inter_digit_ms] {
            ms += u64::try_from(t).unwrap_or(0).min(MAX_DIGIT_MS);
        }
    }
    Ok((number, Duration::from_millis(ms)))
}

impl Line {
    /// A command for an FXO channel the board handles differently from an FXS one; `None`
    /// for the others (channel, RTP, tones, status), carried out as on any channel.
    pub(super) fn fxo_command(
        &mut self,
        now: Instant,
        cmd: &Command,
        fx: &mut Effects,
    ) -> Option<Result<(), Refusal>> {
        let number = self.number;
        let f = self.fxo.as_mut()?;
        let r = match cmd {
            Command::SendAnalogSignal {
                signal: AnalogSignal::OffHook,
                ..
            } => match f.port.state() {
                State::Ringing if f.announced => f.port.answer(now).map_err(|e| e.to_string()),
                State::Ringing => Err(String::new()),
                _ => f.port.seize(now).map_err(|e| e.to_string()),
            }
            .map_err(|e| {
                if e.is_empty() {
                    Refusal::new(
                        ErrorCode::Glare,
                        format!("glare: port {number} rings for an incoming call"),
                    )
                } else {
                    Refusal::new(ErrorCode::PortInUse, format!("port {number}: {e}"))
                }
            }),
            Command::SendAnalogSignal {
                signal: AnalogSignal::OnHook,
                ..
            } => {
                f.port.release(now);
                f.dialing = None;
                if std::mem::take(&mut f.tone_playing)
                    && let Some(c) = self.conn.as_mut()
                {
                    c.stop_say();
                }
                Ok(())
            }
            Command::Dial { digits, .. } => {
                if f.port.state() != State::Seized || f.dialing.is_some() {
                    return Some(Err(Refusal::new(
                        ErrorCode::NotSeized,
                        format!("port {number} is not seized for dialling"),
                    )));
                }
                dial_string(digits).map(|(keys, takes)| {
                    f.dialing = Some((now + takes, keys));
                })
            }
            Command::Ring { .. } => Err(Refusal::new(
                ErrorCode::FxoPort,
                format!("port {number} is an FXO port: the PBX rings it"),
            )),
            _ => return None,
        };
        if r.is_ok()
            && let Command::SendAnalogSignal { signal, .. } = cmd
        {
            fx.outputs.push(Output::Signal {
                line: number,
                name: if *signal == AnalogSignal::OffHook {
                    "offhook".into()
                } else {
                    "onhook".into()
                },
                params: None,
            });
        }
        self.drain_fxo(fx);
        Some(r)
    }

    /// `acEV_ANALOG_IF_FXO_STATUS` for an FXO channel.
    pub(super) fn fxo_status(&self) -> Option<Event> {
        let f = self.fxo.as_ref()?;
        Some(Event::FxoStatus {
            seized: f.port.state().off_hook(),
        })
    }

    /// A line command on an FXO port: the far phone or the caller. `None` when it is not
    /// about the port (`say`, `hear`); otherwise the refusal, if any.
    pub(super) fn fxo_line(
        &mut self,
        now: Instant,
        cmd: &LineCommand,
        autoanswer_delay: Duration,
        fx: &mut Effects,
    ) -> Option<Option<&'static str>> {
        let f = self.fxo.as_mut()?;
        let r = match cmd {
            LineCommand::OffHook(_) => f.port.far_off_hook(now),
            LineCommand::OnHook(_) => f.port.far_on_hook(now),
            LineCommand::Digits(_, keys) => f.port.far_digits(now, keys),
            LineCommand::Flash(_) => Err("an FXO port has no hook flash from the PBX side"),
            LineCommand::AutoAnswer(_, on) => {
                f.port.far_autoanswer(*on, autoanswer_delay);
                Ok(())
            }
            LineCommand::Say { .. } | LineCommand::Hear { .. } => return None,
        };
        self.drain_fxo(fx);
        self.fxo_tone(now);
        Some(r.err())
    }

    /// The port's timers (the PBX's ring cadence, the far phone's autoanswer) and the end of
    /// a dial.
    pub(super) fn fxo_timeout(&mut self, now: Instant, fx: &mut Effects) {
        let Some(f) = self.fxo.as_mut() else {
            return;
        };
        if f.port.poll_timeout().is_some_and(|t| t <= now) {
            f.port.handle_timeout(now);
        }
        if let Some((_, keys)) = f.dialing.take_if(|(at, _)| *at <= now) {
            match f.port.dial(now, &keys, true) {
                Ok(()) => fx.events.push((self.index, Event::DialEnded)),
                Err(e) => debug!(line = self.number, error = %e, "dial dropped"),
            }
        }
        self.drain_fxo(fx);
        self.fxo_tone(now);
    }

    /// What the port printed and detected, reported (printed, and as events for the host).
    pub(super) fn drain_fxo(&mut self, fx: &mut Effects) {
        let (index, number) = (self.index, self.number);
        let Some(f) = self.fxo.as_mut() else {
            return;
        };
        // Detections first: a ring's caller id is known before its first burst's events.
        while let Some(d) = f.port.poll_detected() {
            let event = match d {
                Detected::Ring { caller_id } => {
                    f.caller_id = caller_id;
                    f.bursts = 0;
                    f.announced = false;
                    continue;
                }
                Detected::RingingStopped => {
                    f.caller_id = None;
                    f.announced = false;
                    continue;
                }
                Detected::PolarityReversal => Event::PolarityReversal { reversed: true },
                Detected::LoopCurrentDrop => Event::CurrentDisconnect,
                Detected::Digit(key) => {
                    fx.outputs.push(Output::Digit {
                        line: number,
                        digit: key,
                    });
                    let Some(code) = key_index(key) else {
                        continue;
                    };
                    Event::Digits(vec![DigitEntry {
                        digit: code as i32,
                        on_time_ms: KEY_ON_MS,
                        inter_digit_ms: KEY_GAP_MS,
                    }])
                }
            };
            fx.events.push((index, event));
        }
        while let Some(o) = f.port.poll_output() {
            if let Output::Ringing { on, .. } = o {
                if on {
                    f.bursts += 1;
                    fx.events.push((index, Event::RingStart));
                    // The second ring announces a call without caller id.
                    if f.bursts >= 2 {
                        f.announced = true;
                    }
                } else {
                    fx.events.push((index, Event::RingEnd));
                    // Caller id between the first and second ring (GR-30 on-hook, type 1).
                    if f.bursts == 1
                        && f.port.state() == State::Ringing
                        && let Some(cid) = f.caller_id.clone()
                    {
                        f.announced = true;
                        fx.events.push((
                            index,
                            Event::CallerId(CallerIdText {
                                number: Some(cid),
                                name: None,
                            }),
                        ));
                    }
                }
            }
            fx.outputs.push(o);
        }
    }

    /// Keeps the PBX's tone going on the channel's connection while nothing else is sent.
    pub(super) fn fxo_tone(&mut self, now: Instant) {
        let Some(f) = self.fxo.as_mut() else {
            return;
        };
        let Some(conn) = self.conn.as_mut().filter(|c| c.remote.is_some()) else {
            return;
        };
        if conn.saying() {
            return;
        }
        let Some(chunk) = f.port.tone_chunk() else {
            return;
        };
        f.tone_playing = true;
        conn.start_say(now, chunk);
    }
}

impl Board {
    /// `busy N`, `ring N [NUMBER]` (see [`crate::Simulator::handle_trunk`]).
    pub fn handle_trunk(&mut self, now: Instant, cmd: TrunkCommand) {
        let n = cmd.line();
        let li = usize::from(n).wrapping_sub(1);
        let Some(line) = self.lines.get_mut(li).filter(|l| l.fxo.is_some()) else {
            self.refuse_trunk(n, format!("line {n} is not an FXO port"));
            return;
        };
        let Some(f) = line.fxo.as_mut() else {
            return;
        };
        let r = match cmd {
            TrunkCommand::Busy(_) => f.port.far_busy(now),
            TrunkCommand::Ring { caller_id, .. } => f.port.ring(now, caller_id),
        };
        let mut fx = Effects::default();
        line.drain_fxo(&mut fx);
        line.fxo_tone(now);
        if let Err(why) = r {
            self.refuse_trunk(n, why.into());
        }
        self.apply(fx);
        self.poll_media(now);
    }

    fn refuse_trunk(&mut self, line: u16, message: String) {
        self.stats.line_commands_refused += 1;
        debug!(line, why = %message, "trunk command refused");
        self.outputs.push_back(Output::Error {
            line: Some(line),
            message,
        });
    }
}
