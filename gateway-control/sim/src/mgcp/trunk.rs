//! FXO endpoints on the MGCP side: lines named in [`Config::fxo`](super::Config::fxo) are
//! `aaln/N` ports facing a simulated PBX ([`crate::analog::fxo`]), controlled with RFC 3660
//! line-package (`L`) names used in the FXO direction: what an FXS gateway *signals* to a phone
//! (`lsa` line-side answer supervision, `osi` open switch interval, `rg` ringing) an FXO port
//! *detects* on its line and reports as the event of the same name, and the hook switch the
//! call agent watches on a phone (`hd`, `hu`) is the one it works on an FXO port.
//!
//! | call agent | on the wire | port |
//! | --- | --- | --- |
//! | arm for incoming calls | `RQNT` `R: L/rg(N)` | |
//! | incoming call | `NTFY` `O: L/rg,L/ci(,"2041",)` (caller id in RFC 3660's `ci(time,number,name)` syntax), once per ring burst | [`Detected::Ring`] |
//! | seize | `RQNT` `S: L/hd` `R: L/lsa(N),L/osi(N),L/oc(N),D/[0-9#*](N)` | [`Port::seize`] |
//! | dial | `RQNT` `S: D/2,D/0,D/4,D/1` (RFC 3660 DTMF package, played in order) | [`Port::dial`]; `O: L/oc` once out |
//! | far-end answer | `NTFY` `O: L/lsa` (polarity reversal) | [`Detected::PolarityReversal`] |
//! | far-end disconnect | `NTFY` `O: L/osi` (loop-current drop, CPC) | [`Detected::LoopCurrentDrop`] |
//! | answer an incoming call | `RQNT` `S: L/hd` `R: L/osi(N),D/[0-9#*](N)` | [`Port::answer`] |
//! | caller's keys | `NTFY` `O: D/1` | [`Detected::Digit`] |
//! | release | `RQNT` `S: L/hu` `R: L/rg(N)` | [`Port::release`] |
//!
//! Refusals (RFC 3435 §2.4 return codes): `L/hd` on a ringing port from a request that asks
//! for answer supervision (`L/lsa`: the call agent is placing a call, not answering one) is
//! glare, `501` (endpoint not ready); `L/hd` on a port already off hook `401`; digits on a port
//! not seized `402`; `L/hd`/`L/hu` on an FXS line `522` (no such signal), as before.
//!
//! [`Detected::Ring`]: crate::analog::fxo::Detected::Ring
//! [`Detected::PolarityReversal`]: crate::analog::fxo::Detected::PolarityReversal
//! [`Detected::LoopCurrentDrop`]: crate::analog::fxo::Detected::LoopCurrentDrop
//! [`Detected::Digit`]: crate::analog::fxo::Detected::Digit
//! [`Port::seize`]: crate::analog::fxo::Port::seize
//! [`Port::dial`]: crate::analog::fxo::Port::dial
//! [`Port::answer`]: crate::analog::fxo::Port::answer
//! [`Port::release`]: crate::analog::fxo::Port::release

use std::time::Instant;

use gateway_control::mgcp::wire::ReturnCode;
use tracing::debug;

use super::line::{Effects, Line};
use super::request::{EventSpec, Observed, Refusal, Signal};
use super::{Config, Gateway};
use crate::Output;
use crate::analog::fxo::{Detected, Port, State};
use crate::analog::{LineCommand, TrunkCommand, key_index};

/// An FXO port and what the MGCP side remembers about it.
#[derive(Debug)]
pub(crate) struct Trunk {
    pub(crate) port: Port,
    /// The caller id of the call ringing, reported with each `L/rg`.
    caller_id: Option<String>,
    /// The line's sending connection is playing the PBX's tone (not a `say`).
    tone_playing: bool,
    /// The number was dialled by the last request: report `L/oc` once it is installed.
    dialled: bool,
}

impl Trunk {
    pub(crate) fn new(line: u16, config: &Config) -> Self {
        Self {
            port: Port::new(
                line,
                config.fxo.supervision_mode(),
                (config.ring_on, config.ring_off),
            ),
            caller_id: None,
            tone_playing: false,
            dialled: false,
        }
    }
}

fn is_hook_signal(s: &Signal) -> Option<bool> {
    match s.name.to_ascii_lowercase().as_str() {
        "l/hd" => Some(true),
        "l/hu" => Some(false),
        _ => None,
    }
}

fn dial_key(s: &Signal) -> Option<char> {
    let (pkg, key) = s.name.split_once('/')?;
    let mut chars = key.chars();
    let (Some(c), None) = (chars.next(), chars.next()) else {
        return None;
    };
    (pkg.eq_ignore_ascii_case("D") && key_index(c).is_some()).then_some(c)
}

impl Line {
    /// Checks a request's hook-switch and dial signals against the port (before anything of
    /// the request is applied).
    pub(crate) fn check_trunk_signals(
        &self,
        signals: &[Signal],
        requested: Option<&[super::request::Requested]>,
    ) -> Result<(), Refusal> {
        let hook = signals.iter().find_map(is_hook_signal);
        let Some(trunk) = &self.fxo else {
            return match hook {
                Some(_) => Err(Refusal::new(ReturnCode::NO_SUCH_EVENT, "not a signal")),
                None => Ok(()),
            };
        };
        let state = trunk.port.state();
        if hook == Some(true) {
            let placing = requested.is_some_and(|r| Self::requests(r, EventSpec::Reversal));
            match state {
                State::Idle => {}
                State::Ringing if !placing => {}
                State::Ringing => {
                    return Err(Refusal::new(
                        ReturnCode::NOT_READY,
                        "glare: the port is ringing",
                    ));
                }
                _ => return Err(Refusal::new(ReturnCode::ALREADY_OFF_HOOK, "port in use")),
            }
        }
        let dials = signals.iter().any(|s| dial_key(s).is_some());
        let seized = state == State::Seized || (hook == Some(true) && state == State::Idle);
        if dials && hook != Some(false) && !seized {
            return Err(Refusal::new(ReturnCode::ALREADY_ON_HOOK, "port not seized"));
        }
        Ok(())
    }

    /// Works the port's hook switch and dials, taking those signals out of `list` (checked
    /// by [`check_trunk_signals`](Self::check_trunk_signals)); returns the signals left.
    pub(crate) fn trunk_signals(&mut self, now: Instant, list: Vec<Signal>) -> Vec<Signal> {
        let Some(trunk) = &mut self.fxo else {
            return list;
        };
        let mut rest = Vec::with_capacity(list.len());
        let mut digits = String::new();
        for s in list {
            match (is_hook_signal(&s), dial_key(&s)) {
                (Some(true), _) => {
                    let r = if trunk.port.state() == State::Ringing {
                        trunk.port.answer(now)
                    } else {
                        trunk.port.seize(now)
                    };
                    if let Err(e) = r {
                        debug!(line = self.number, %e, "off-hook refused");
                    }
                }
                (Some(false), _) => {
                    trunk.port.release(now);
                    trunk.caller_id = None;
                    if trunk.tone_playing {
                        trunk.tone_playing = false;
                        for c in &mut self.connections {
                            c.stop_say();
                        }
                    }
                }
                (None, Some(k)) => digits.push(k),
                (None, None) => rest.push(s),
            }
        }
        if !digits.is_empty() {
            match trunk.port.dial(now, &digits, true) {
                Ok(()) => trunk.dialled = true,
                Err(e) => debug!(line = self.number, %e, "dial refused"),
            }
        }
        rest
    }

    /// After a request is installed: `L/oc` for a number dialled, then whatever the port has.
    pub(crate) fn trunk_installed(&mut self, now: Instant, config: &Config, fx: &mut Effects) {
        let dialled = self
            .fxo
            .as_mut()
            .is_some_and(|t| std::mem::take(&mut t.dialled));
        self.drain_trunk(now, config, fx);
        if dialled {
            self.observe(now, config, Observed::OperationComplete, fx);
        }
    }

    /// Reports what the port printed and detected.
    pub(crate) fn drain_trunk(&mut self, now: Instant, config: &Config, fx: &mut Effects) {
        let Some(trunk) = &mut self.fxo else {
            return;
        };
        let mut observed = Vec::new();
        while let Some(o) = trunk.port.poll_output() {
            if let Output::Ringing { on: true, .. } = o {
                observed.push(Observed::Ringing);
            }
            fx.outputs.push_back(o);
        }
        while let Some(d) = trunk.port.poll_detected() {
            match d {
                Detected::Ring { caller_id } => trunk.caller_id = caller_id,
                Detected::RingingStopped => trunk.caller_id = None,
                Detected::PolarityReversal => observed.push(Observed::Reversal),
                Detected::LoopCurrentDrop => observed.push(Observed::LoopDrop),
                Detected::Digit(d) => {
                    fx.outputs.push_back(Output::Digit {
                        line: self.number,
                        digit: d,
                    });
                    observed.push(Observed::Digit(d));
                }
            }
        }
        for ev in observed {
            self.observe(now, config, ev, fx);
        }
    }

    /// Adds the caller id after an `L/rg` being notified.
    pub(crate) fn trunk_notified(&self, observed: &mut Vec<String>) {
        let Some(number) = self.fxo.as_ref().and_then(|t| t.caller_id.as_deref()) else {
            return;
        };
        if observed.iter().any(|o| o == "L/rg") {
            observed.push(format!("L/ci(,\"{number}\",)"));
        }
    }

    /// Keeps the PBX's tone going on the line's sending connection; true when it started a
    /// chunk.
    pub(crate) fn trunk_tone(&mut self, now: Instant) -> bool {
        let Some(trunk) = &mut self.fxo else {
            return false;
        };
        let Some(conn) = self
            .connections
            .iter_mut()
            .rev()
            .find(|c| c.mode().sends() && c.remote.is_some())
        else {
            return false;
        };
        if conn.saying() {
            return false;
        }
        let Some(chunk) = trunk.port.tone_chunk() else {
            return false;
        };
        trunk.tone_playing = true;
        conn.start_say(now, chunk);
        true
    }

    /// Whether a finished `say` was the PBX's tone (not reported as `say_done`).
    pub(crate) fn tone_say(&self) -> bool {
        self.fxo.as_ref().is_some_and(|t| t.tone_playing)
    }

    /// A line command on an FXO port: the far phone or the caller. `None` when the command is
    /// not about the port (`say`, `hear`); otherwise the refusal, if any.
    pub(crate) fn trunk_line_command(
        &mut self,
        now: Instant,
        config: &Config,
        cmd: &LineCommand,
        fx: &mut Effects,
    ) -> Option<Option<String>> {
        let trunk = self.fxo.as_mut()?;
        let r = match cmd {
            LineCommand::OffHook(_) => trunk.port.far_off_hook(now),
            LineCommand::OnHook(_) => trunk.port.far_on_hook(now),
            LineCommand::Digits(_, keys) => trunk.port.far_digits(now, keys),
            LineCommand::Flash(_) => Err("an FXO port has no hook flash from the PBX side"),
            LineCommand::AutoAnswer(_, on) => {
                trunk.port.far_autoanswer(*on, config.autoanswer_delay);
                Ok(())
            }
            LineCommand::Say { .. } | LineCommand::Hear { .. } => return None,
        };
        self.drain_trunk(now, config, fx);
        Some(r.err().map(str::to_owned))
    }
}

impl Gateway {
    /// `busy N`, `ring N [NUMBER]` (see [`crate::Simulator::handle_trunk`]).
    pub fn handle_trunk(&mut self, now: Instant, cmd: TrunkCommand) {
        let n = cmd.line();
        let li = usize::from(n).wrapping_sub(1);
        let Some(line) = self.lines.get_mut(li).filter(|l| l.fxo.is_some()) else {
            self.refuse_trunk(n);
            return;
        };
        let Some(trunk) = line.fxo.as_mut() else {
            return;
        };
        let r = match cmd {
            TrunkCommand::Busy(_) => trunk.port.far_busy(now),
            TrunkCommand::Ring { caller_id, .. } => trunk.port.ring(now, caller_id),
        };
        let mut fx = Effects::default();
        line.drain_trunk(now, &self.config, &mut fx);
        line.trunk_tone(now);
        if let Err(why) = r {
            self.stats.line_commands_refused += 1;
            fx.outputs.push_back(Output::Error {
                line: Some(n),
                message: why.into(),
            });
        }
        self.apply(fx);
        self.after(now);
    }

    fn refuse_trunk(&mut self, n: u16) {
        self.stats.line_commands_refused += 1;
        debug!(line = n, "trunk command for a line that is not an FXO port");
        self.outputs.push_back(Output::Error {
            line: Some(n),
            message: format!("line {n} is not an FXO port"),
        });
    }
}
