//! FXO terminations (`--fxo`): lines that face the simulated PBX ([`crate::analog::fxo`]),
//! controlled the way Offhook's controller maps trunks onto H.248 (see
//! `gateway_control::megaco::controller`'s trunk module): the Basic CAS signals of ITU-T
//! H.248.25 (`bcas/sz` seize, `bcas/ans` answer, `bcas/cl` clear, all brief), DTMF dialling as
//! a signal list of `dg` signals (H.248.1 Annex E.5) whose last one asks for `g/sc` (E.1), and
//! the events `bcas/sz` (incoming seizure, with the caller id as `cid`), `bcas/ans` (polarity
//! reversal), `bcas/cl` (loop-current drop, or the ringing stopped), `cd/bt` and `cd/ct` (busy
//! and congestion tone detected on the line, Annex E.8). Far-end keys go through `dd` as on a
//! station line.
//!
//! A seize while the port rings (glare), an answer with nothing ringing, a dial on a port not
//! seized and a seize of a port in use are refused with H.248.8 code 540 (unexpected initial
//! hook state); a bad dial list with 449. The command then changes nothing.

use std::time::Instant;

use gateway_control::megaco::{ErrorCode, SignalArg, SignalParm};

use super::Config;
use super::line::{Effects, NewSignal, Watch};
use super::mg::Mg;
use super::plan::{Refusal, code, refuse};
use crate::analog::fxo::{Detected, Port, State, Tone};
use crate::analog::{LineCommand, Output, TrunkCommand};

/// An FXO line's port and the tone last reported.
#[derive(Debug)]
pub(crate) struct Fxo {
    pub(crate) port: Port,
    /// The PBX's tone last seen, to report `cd/bt` or `cd/ct` once when it starts.
    tone: Option<Tone>,
    /// A chunk of that tone is what the line's connection is sending (its end is not a
    /// `say_done`).
    pub(crate) tone_playing: bool,
}

impl Fxo {
    pub(crate) fn new(line: u16, config: &Config) -> Self {
        Self {
            port: Port::new(
                line,
                config.fxo.supervision_mode(),
                (config.ring_on, config.ring_off),
            ),
            tone: None,
            tone_playing: false,
        }
    }
}

/// What a Signals descriptor asks of the port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Action {
    Seize,
    Answer,
    Release,
    /// The keys, and the `SigID` to report with `g/sc` if the last asked for completion.
    Dial {
        keys: String,
        notify: Option<String>,
    },
}

/// Whether `package/item` is an event an FXO line detects beyond `dd`.
pub(crate) fn is_event(package: &str, item: &str) -> bool {
    matches!(
        (package, item),
        ("bcas", "sz" | "ans" | "cl") | ("g", "sc") | ("cd", "bt" | "ct")
    )
}

/// Reads a Signals descriptor for an FXO line: the port action, and the other signals (tones),
/// refused if the port cannot do it in its state.
pub(crate) fn signals(
    list: &[SignalParm<'_>],
    port: &Port,
    config: &Config,
) -> Result<(Option<Action>, Vec<NewSignal>), Refusal> {
    let mut action = None;
    let mut others = Vec::new();
    for p in list {
        let next = match p {
            SignalParm::Signal(s) => match s.name.to_ascii_lowercase().as_str() {
                "bcas/sz" => Action::Seize,
                "bcas/ans" => Action::Answer,
                "bcas/cl" => Action::Release,
                _ => {
                    others.push(super::plan::signal(s, config)?);
                    continue;
                }
            },
            SignalParm::List(_, list) => {
                let mut keys = String::new();
                let mut notify = None;
                for s in list {
                    let name = s.name.to_ascii_lowercase();
                    let key = name
                        .strip_prefix("dg/")
                        .and_then(super::digits::key)
                        .ok_or_else(|| {
                            refuse(code::BAD_PARAMETER_VALUE, format!("cannot dial {}", s.name))
                        })?;
                    keys.push(key);
                    notify = s
                        .params
                        .iter()
                        .any(|a| matches!(a, SignalArg::NotifyCompletion(_)))
                        .then(|| name.clone());
                }
                if keys.is_empty() || keys.len() > crate::analog::fxo::MAX_DIALLED {
                    return Err(refuse(
                        code::BAD_PARAMETER_VALUE,
                        "empty or too long dial list",
                    ));
                }
                Action::Dial { keys, notify }
            }
        };
        if action.replace(next).is_some() {
            return Err(refuse(
                ErrorCode::NOT_IMPLEMENTED.0,
                "one line signal or dial list at a time",
            ));
        }
    }
    let state = port.state();
    let refused = match &action {
        Some(Action::Seize) if state == State::Ringing => Some("glare: the port is ringing"),
        Some(Action::Seize) if state != State::Idle => Some("the port is in use"),
        Some(Action::Answer) if state != State::Ringing => Some("nothing rings the port"),
        Some(Action::Dial { .. }) if state != State::Seized => Some("the port is not seized"),
        _ => None,
    };
    if let Some(why) = refused {
        return Err(refuse(code::HOOK_STATE, why));
    }
    Ok((action, others))
}

impl Mg {
    /// Does what a Signals descriptor asked of line `li`'s port (checked by [`signals`]).
    pub(crate) fn trunk_act(&mut self, now: Instant, li: usize, action: Action) {
        let line = &mut self.lines[li];
        let Some(fxo) = &mut line.fxo else {
            return;
        };
        let mut fx = Effects::default();
        let done = match action {
            Action::Seize => fxo.port.seize(now),
            Action::Answer => fxo.port.answer(now),
            Action::Release => {
                fxo.port.release(now);
                fxo.tone = None;
                Ok(())
            }
            Action::Dial { keys, notify } => {
                let done = fxo.port.dial(now, &keys, true);
                if let (Ok(()), Some(signal)) = (&done, notify) {
                    let params = vec![("SigID", signal), ("Meth", "TO".to_owned())];
                    line.detect(&mut fx, |w| is_named(w, "g/sc"), "g/sc", params);
                }
                done
            }
        };
        if let Err(e) = done {
            tracing::debug!(line = line.number, error = %e, "port refused after the check");
        }
        self.apply(fx);
    }

    /// Reports what the ports detected and prints what they say.
    pub(crate) fn poll_ports(&mut self, now: Instant) {
        let mut fx = Effects::default();
        for li in 0..self.lines.len() {
            let config = &self.config;
            let line = &mut self.lines[li];
            let Some(fxo) = &mut line.fxo else {
                continue;
            };
            while let Some(o) = fxo.port.poll_output() {
                fx.outputs.push_back(o);
            }
            let tone = fxo.port.tone();
            let started = (tone != fxo.tone).then_some(tone).flatten();
            fxo.tone = tone;
            let detected: Vec<Detected> = std::iter::from_fn(|| fxo.port.poll_detected())
                .take(crate::analog::fxo::MAX_PORT_EVENTS)
                .collect();
            let mut reports: Vec<(&str, Vec<(&'static str, String)>)> = Vec::new();
            for d in detected {
                match d {
                    Detected::Ring { caller_id } => reports.push((
                        "bcas/sz",
                        caller_id
                            .map(|n| vec![("cid", format!("\"{n}\""))])
                            .unwrap_or_default(),
                    )),
                    Detected::RingingStopped | Detected::LoopCurrentDrop => {
                        reports.push(("bcas/cl", Vec::new()));
                    }
                    Detected::PolarityReversal => reports.push(("bcas/ans", Vec::new())),
                    Detected::Digit(k) => {
                        for (event, params) in reports.drain(..) {
                            line.detect(&mut fx, |w| is_named(w, event), event, params);
                        }
                        line.key(now, config, k, &mut fx);
                    }
                }
            }
            // The tone the line now carries, as the MG's call-progress detector hears it.
            match started {
                Some(Tone::Busy) => reports.push(("cd/bt", Vec::new())),
                Some(_) => reports.push(("cd/ct", Vec::new())),
                None => {}
            }
            for (event, params) in reports {
                line.detect(&mut fx, |w| is_named(w, event), event, params);
            }
        }
        self.apply(fx);
    }

    /// Keeps the PBX's tone (busy, reorder) going as audio on each FXO line's newest sending
    /// RTP connection, a chunk at a time, while nothing else is sent there.
    pub(crate) fn trunk_tones(&mut self, now: Instant) {
        for line in &mut self.lines {
            let (Some(fxo), Some(context)) = (&mut line.fxo, line.context) else {
                continue;
            };
            let Some(term) = self.contexts.get_mut(&context).and_then(|c| {
                c.rtp
                    .iter_mut()
                    .rev()
                    .find(|t| t.conn.mode().sends() && t.conn.remote.is_some())
            }) else {
                continue;
            };
            if term.conn.saying() {
                continue;
            }
            match fxo.port.tone_chunk() {
                Some(chunk) => {
                    fxo.tone_playing = true;
                    term.conn.start_say(now, chunk);
                }
                None => fxo.tone_playing = false,
            }
        }
    }

    /// A stdin command on an FXO line: the far phone or the PBX's caller. `None` if the line
    /// is not FXO or the command is not the far side's; `Some(Err)` if the port refused it.
    pub(crate) fn trunk_line(
        &mut self,
        now: Instant,
        li: usize,
        cmd: &LineCommand,
    ) -> Option<Result<(), String>> {
        let delay = self.config.autoanswer_delay;
        let fxo = self.lines.get_mut(li)?.fxo.as_mut()?;
        let done = match cmd {
            LineCommand::OffHook(_) => fxo.port.far_off_hook(now),
            LineCommand::OnHook(_) => fxo.port.far_on_hook(now),
            LineCommand::Digits(_, keys) => fxo.port.far_digits(now, keys),
            LineCommand::AutoAnswer(_, on) => {
                fxo.port.far_autoanswer(*on, delay);
                Ok(())
            }
            LineCommand::Flash(_) => Err("no flash on an FXO port"),
            _ => return None,
        };
        Some(done.map_err(str::to_owned))
    }

    /// `busy N` or `ring N [NUMBER]`.
    pub(crate) fn trunk_command(&mut self, now: Instant, command: TrunkCommand) {
        let n = command.line();
        let port = usize::from(n)
            .checked_sub(1)
            .and_then(|li| self.lines.get_mut(li))
            .and_then(|l| l.fxo.as_mut());
        let done = match (port, command) {
            (None, _) => Err("not an FXO port"),
            (Some(f), TrunkCommand::Busy(_)) => f.port.far_busy(now),
            (Some(f), TrunkCommand::Ring { caller_id, .. }) => f.port.ring(now, caller_id),
        };
        if let Err(why) = done {
            self.stats.line_commands_refused += 1;
            self.outputs.push_back(Output::Error {
                line: Some(n),
                message: why.into(),
            });
        }
    }
}

fn is_named(w: &Watch, name: &str) -> bool {
    matches!(w, Watch::Named(n) if n.eq_ignore_ascii_case(name))
}
