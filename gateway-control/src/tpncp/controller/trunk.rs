//! Trunks: a board's FXO channels (the board is the phone on a line from a PBX or exchange),
//! mapped onto the model's [`Command::Seize`], [`Command::Dial`], [`Command::Answer`] and
//! [`Command::Release`] and its trunk events.
//!
//! AudioCodes publishes no TPNCP specification; the mapping follows the commands and events
//! Wireshark's `tpncp.dat` (L7.40.016.001) names for analog FXO ports, and what AudioCodes'
//! own FXO (DAA) driver for its boards emits for each line condition (`daa_if.c`: the hook set
//! by the host, ring detection as `acEV_ANALOG_IF_RING_START`/`_END` with
//! `EVENT_TRIGGER_RING_DETECTION`, polarity as `acEV_ANALOG_IF_REVERSAL_POLARITY_DETECTED`
//! with `line_polarity_state` normal or reversed, a short loss of loop current while off hook
//! as `acEV_ANALOG_IF_CURRENT_DISCONNECT_DETECTED`):
//!
//! | model | TPNCP |
//! | --- | --- |
//! | `Seize`, `Answer` | `acCMD_SEND_ANALOG_SIGNAL` `ANALOG_SIGNAL_OFFHOOK` (64) |
//! | `Release` | `acCMD_SEND_ANALOG_SIGNAL` `ANALOG_SIGNAL_ONHOOK` (65) |
//! | `Dial` (DTMF) | `acCMD_DIAL`, one entry per digit, 100 ms on and 100 ms apart |
//! | `DialComplete` | `acEV_DIAL_ENDED` |
//! | `IncomingCall` | `acEV_DETECT_CALLER_ID` after the first ring, else the second `…_RING_START` |
//! | `FarEndAnswer` | `acEV_ANALOG_IF_REVERSAL_POLARITY_DETECTED` (reversed) on a seized port |
//! | `FarEndDisconnect` | `acEV_ANALOG_IF_CURRENT_DISCONNECT_DETECTED` (loop-current drop); no ring for [`Config::ring_gap`](super::Config::ring_gap) (ringing stopped) |
//!
//! Caller id arrives between the first and second ring (Bellcore GR-30 / ETSI EN 300 659-1
//! type 1), so the call is reported once it is decoded, or at the second ring without it.
//! A board refusing a seize (glare: the port rings) answers `acEV_ERROR`, reported as
//! [`Event::CommandFailed`] with its code; a seize the host knows to be glare is refused at
//! once ([`code::IN_USE`]). `acCMD_DIAL` generates in-band signals only (`tpncp.dat` names no
//! loop-disconnect signalling system), so pulse dialling is refused ([`code::NOT_IMPLEMENTED`]).
//! An FXO event for an idle trunk, for a station line, or out of place (digits before the
//! port is off hook, a second answer) is counted in [`Stats::trunk_dropped`](super::Stats)
//! and dropped.

use std::time::Instant;

use tracing::debug;

use super::jobs::Job;
use super::{Host, Timer, code};
use crate::model::{CallerId, Command, DialMethod, Digit, Disconnect, Event};
use crate::tpncp::wire::{self, AnalogSignal, CallerIdText, Channel, DigitEntry, structs};

/// The most digits one [`Command::Dial`] takes: the entries of one `acCMD_DIAL`.
pub const MAX_DIAL_DIGITS: usize = structs::DIGITS;
/// How long each DTMF digit sounds (`digit_on_time`), in milliseconds: Q.24's minimum is
/// 40 ms; 100 ms is what exchanges and PBXs take without fail.
const DTMF_ON_MS: i32 = 100;
/// The silence after each DTMF digit (`inter_digit_time`), in milliseconds.
const DTMF_GAP_MS: i32 = 100;

/// A trunk's call as the host knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) enum Trunk {
    /// On hook, not ringing.
    #[default]
    Idle,
    /// An incoming call rings.
    Ringing {
        /// Ring bursts so far.
        bursts: u32,
        /// [`Event::IncomingCall`] was reported.
        reported: bool,
    },
    /// Off hook: seized for a call out, or an incoming call answered.
    OffHook(Call),
}

/// An off-hook trunk's call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(super) struct Call {
    /// Seized by the host (an outgoing call), not answered.
    outgoing: bool,
    /// `acEV_DIAL_ENDED` awaited: one per `acCMD_DIAL` sent.
    dialing: u32,
    /// [`Event::FarEndAnswer`] was reported.
    answered: bool,
    /// [`Event::FarEndDisconnect`] was reported.
    gone: bool,
    /// The board acknowledged the off-hook.
    confirmed: bool,
    /// A ring came while the seize was on its way (glare): if the board refuses the seize,
    /// the port rings for that call.
    rang: bool,
}

/// A trunk command as a job: the hook or a number.
#[derive(Debug, Clone)]
pub(super) enum TrunkJob {
    /// Off hook: to seize the port, or to answer its call.
    OffHook,
    /// On hook.
    OnHook,
    /// Digits to dial.
    Dial(Vec<DigitEntry>),
}

impl TrunkJob {
    /// The command that carries it out.
    pub(super) fn command(&self, channel: Channel) -> wire::Command {
        match self {
            Self::OffHook | Self::OnHook => wire::Command::SendAnalogSignal {
                channel,
                signal: if matches!(self, Self::OffHook) {
                    AnalogSignal::OffHook
                } else {
                    AnalogSignal::OnHook
                },
                duration_ms: 0,
            },
            Self::Dial(digits) => wire::Command::Dial {
                channel,
                digits: digits.clone(),
            },
        }
    }
}

/// `acEV_DIGIT`'s (and `acCMD_DIAL`'s) code of a key: 0–9, 10 `*`, 11 `#`, 12–15 `A`–`D`.
pub(super) fn digit_code(digit: Digit) -> i32 {
    match digit.as_char() {
        c @ '0'..='9' => c as i32 - '0' as i32,
        '*' => 10,
        '#' => 11,
        c => 12 + (c.to_ascii_uppercase() as i32 - 'A' as i32).clamp(0, 3),
    }
}

impl Host {
    /// A trunk command on a watched trunk channel: its job, or why it is refused.
    pub(super) fn trunk_job(
        &mut self,
        g: usize,
        channel: Channel,
        command: Command,
    ) -> Result<Option<Job>, (u16, &'static str)> {
        let Some(line) = self.gateways[g].lines.get_mut(&channel) else {
            return Err((code::UNKNOWN_LINE, "the line is not configured"));
        };
        let Some(trunk) = line.trunk.as_mut() else {
            return Err((code::UNKNOWN_LINE, "the line is not a trunk (no AddTrunk)"));
        };
        let job = match command {
            Command::Seize { .. } => match trunk {
                Trunk::Idle => {
                    *trunk = Trunk::OffHook(Call {
                        outgoing: true,
                        ..Call::default()
                    });
                    line.off_hook = true;
                    TrunkJob::OffHook
                }
                Trunk::Ringing { .. } => {
                    return Err((code::IN_USE, "the trunk rings for an incoming call (glare)"));
                }
                Trunk::OffHook(_) => return Err((code::IN_USE, "the trunk is in use")),
            },
            Command::Answer { .. } => match trunk {
                Trunk::Ringing { .. } => {
                    *trunk = Trunk::OffHook(Call::default());
                    line.off_hook = true;
                    self.timers.stop(Timer::Ring(g, channel));
                    TrunkJob::OffHook
                }
                Trunk::Idle => return Err((code::ON_HOOK, "no call rings on the trunk")),
                Trunk::OffHook(_) => return Err((code::IN_USE, "the trunk is in use")),
            },
            Command::Dial { number, method, .. } => {
                let Trunk::OffHook(call) = trunk else {
                    return Err((code::ON_HOOK, "the trunk is not seized"));
                };
                if method == DialMethod::Pulse {
                    return Err((
                        code::NOT_IMPLEMENTED,
                        "TPNCP boards dial in-band only (no pulse dialling)",
                    ));
                }
                if number.len() > MAX_DIAL_DIGITS {
                    return Err((
                        code::INSUFFICIENT_RESOURCES,
                        "the number is longer than 40 digits",
                    ));
                }
                if number.is_empty() {
                    // Nothing to send: dialled at once.
                    let id = line.id.clone();
                    self.events.push_back(Event::DialComplete { line: id });
                    return Ok(None);
                }
                call.dialing += 1;
                TrunkJob::Dial(
                    number
                        .iter()
                        .map(|d| DigitEntry {
                            digit: digit_code(*d),
                            on_time_ms: DTMF_ON_MS,
                            inter_digit_ms: DTMF_GAP_MS,
                        })
                        .collect(),
                )
            }
            Command::Release { .. } => {
                // A ringing call cannot be refused on an analog line: it rings on.
                if matches!(trunk, Trunk::OffHook(_)) {
                    *trunk = Trunk::Idle;
                }
                line.off_hook = false;
                line.collect = None;
                self.timers.stop(Timer::Digits(g, channel));
                TrunkJob::OnHook
            }
            _ => return Ok(None),
        };
        Ok(Some(Job::Trunk(job)))
    }

    /// A trunk job the board carried out: an off-hook is confirmed.
    pub(super) fn trunk_job_done(&mut self, g: usize, channel: Channel, job: &TrunkJob) {
        if let (TrunkJob::OffHook, Some(Some(Trunk::OffHook(call)))) = (
            job,
            self.gateways[g]
                .lines
                .get_mut(&channel)
                .map(|l| &mut l.trunk),
        ) {
            call.confirmed = true;
        }
    }

    /// A trunk job that failed: the state it assumed is undone.
    pub(super) fn trunk_job_failed(&mut self, g: usize, channel: Channel, job: &TrunkJob) {
        let Some(line) = self.gateways[g].lines.get_mut(&channel) else {
            return;
        };
        let Some(trunk) = line.trunk.as_mut() else {
            return;
        };
        match (job, &mut *trunk) {
            (TrunkJob::OffHook, Trunk::OffHook(call)) => {
                // A refused answer leaves the call ringing; a refused seize leaves the port idle,
                // or ringing if a ring crossed it (glare).
                *trunk = if call.outgoing && !call.rang {
                    Trunk::Idle
                } else if call.outgoing {
                    Trunk::Ringing {
                        bursts: 1,
                        reported: false,
                    }
                } else {
                    Trunk::Ringing {
                        bursts: 1,
                        reported: true,
                    }
                };
                line.off_hook = false;
            }
            (TrunkJob::Dial(_), Trunk::OffHook(call)) => {
                call.dialing = call.dialing.saturating_sub(1);
            }
            _ => {}
        }
    }

    /// Whether a channel is a watched trunk.
    pub(super) fn is_trunk(&self, g: usize, channel: Channel) -> bool {
        self.gateways[g]
            .lines
            .get(&channel)
            .is_some_and(|l| l.watched && l.trunk.is_some())
    }

    /// An FXO event (or a station event) on a trunk, or an FXO event on a station line (which
    /// is dropped).
    pub(super) fn trunk_event(
        &mut self,
        now: Instant,
        g: usize,
        channel: Channel,
        event: wire::Event,
    ) {
        let gap = self.config.ring_gap;
        let Some(line) = self.gateways[g]
            .lines
            .get_mut(&channel)
            .filter(|l| l.watched)
        else {
            return self.trunk_dropped(g, channel, "FXO event for no watched line");
        };
        let Some(trunk) = line.trunk.as_mut() else {
            return self.trunk_dropped(g, channel, "FXO event for a station line");
        };
        let id = line.id.clone();
        let report = match (event, &mut *trunk) {
            (wire::Event::RingStart, Trunk::Idle) => {
                *trunk = Trunk::Ringing {
                    bursts: 1,
                    reported: false,
                };
                self.timers.set(Timer::Ring(g, channel), now + gap);
                None
            }
            (wire::Event::RingStart, Trunk::Ringing { bursts, reported }) => {
                *bursts = bursts.saturating_add(1);
                self.timers.set(Timer::Ring(g, channel), now + gap);
                // No caller id came between the first two rings: the call is reported without.
                (!std::mem::replace(reported, true)).then_some(Event::IncomingCall {
                    line: id,
                    caller_id: None,
                })
            }
            // Glare: the ring crossed the seize, which the board will refuse.
            (
                wire::Event::RingStart,
                Trunk::OffHook(
                    call @ Call {
                        outgoing: true,
                        confirmed: false,
                        rang: false,
                        ..
                    },
                ),
            ) => {
                call.rang = true;
                self.timers.set(Timer::Ring(g, channel), now + gap);
                None
            }
            (wire::Event::RingEnd, Trunk::Ringing { .. }) => {
                self.timers.set(Timer::Ring(g, channel), now + gap);
                None
            }
            (
                wire::Event::CallerId(text),
                Trunk::Ringing {
                    reported: reported @ false,
                    ..
                },
            ) => {
                *reported = true;
                Some(Event::IncomingCall {
                    line: id,
                    caller_id: Some(caller_id(text)),
                })
            }
            (wire::Event::DialEnded, Trunk::OffHook(call)) if call.dialing > 0 => {
                call.dialing -= 1;
                Some(Event::DialComplete { line: id })
            }
            (
                wire::Event::PolarityReversal { reversed: true },
                Trunk::OffHook(
                    call @ Call {
                        outgoing: true,
                        answered: false,
                        gone: false,
                        ..
                    },
                ),
            ) => {
                call.answered = true;
                Some(Event::FarEndAnswer { line: id })
            }
            (wire::Event::CurrentDisconnect, Trunk::OffHook(call @ Call { gone: false, .. })) => {
                call.gone = true;
                Some(Event::FarEndDisconnect {
                    line: id,
                    why: Disconnect::LoopCurrentDrop,
                })
            }
            (wire::Event::Digits(entries), Trunk::OffHook(_)) => {
                return self.digits(now, g, channel, &entries);
            }
            (event, state) => {
                let state = *state;
                debug!(gateway = %self.gateways[g].id, channel = channel.0, ?event, ?state, "FXO event out of place dropped");
                self.stats.trunk_dropped += 1;
                return;
            }
        };
        if let Some(event) = report {
            self.stats.trunk_events += 1;
            debug!(gateway = %self.gateways[g].id, channel = channel.0, ?event, "trunk");
            self.events.push_back(event);
        }
    }

    fn trunk_dropped(&mut self, g: usize, channel: Channel, why: &'static str) {
        self.stats.trunk_dropped += 1;
        debug!(gateway = %self.gateways[g].id, channel = channel.0, why, "FXO event dropped");
    }

    /// The ring of an incoming call stayed silent for [`Config::ring_gap`](super::Config):
    /// the caller gave up.
    pub(super) fn ring_timer(&mut self, g: usize, channel: Channel) {
        let Some(line) = self.gateways[g].lines.get_mut(&channel) else {
            return;
        };
        let Some(Trunk::Ringing { reported, .. }) = line.trunk else {
            return;
        };
        line.trunk = Some(Trunk::Idle);
        let id = line.id.clone();
        debug!(line = %id, reported, "ringing stopped");
        if reported {
            self.stats.trunk_events += 1;
            self.events.push_back(Event::FarEndDisconnect {
                line: id,
                why: Disconnect::RingingStopped,
            });
        }
    }
}

/// Caller id as the model carries it (an empty text is none).
fn caller_id(text: CallerIdText) -> CallerId {
    CallerId {
        number: text.number.filter(|n| !n.is_empty()),
        name: text.name.filter(|n| !n.is_empty()),
    }
}
