//! Trunks (FXO ports) in the call agent: [`Command::AddTrunk`] and the trunk commands become
//! notification requests, notifications on a trunk become trunk events (the mapping is
//! [`crate::mgcp::endpoint`]'s `trunk` module, RFC 3660 line and DTMF packages).
//!
//! [`Command::AddTrunk`]: crate::model::Command::AddTrunk

use std::time::{Duration, Instant};

use tracing::debug;

use super::outgoing::Job;
use super::{CallAgent, Timer};
use crate::mgcp::endpoint::Call;
use crate::mgcp::endpoint::{
    SignalChange, Trunk, TrunkChange, TrunkObserved, caller_id, dial_keys,
};
use crate::mgcp::wire::{EventRef, ReturnCode};
use crate::model::{Command, DialMethod, Disconnect, Event, LineId};

/// How long a ringing trunk may go without a ring burst (`L/rg`) before the caller is taken to
/// have given up ([`Disconnect::RingingStopped`]): longer than the 6 s period of the North
/// American cadence (2 s on, 4 s off; GR-506) and the shorter European ones.
pub const RING_GONE: Duration = Duration::from_secs(8);

impl CallAgent {
    /// [`Command::AddTrunk`]: watched as [`Command::AddLine`] does, armed for incoming calls.
    pub(super) fn add_trunk(&mut self, now: Instant, line: LineId) {
        let known = self.by_line.get(&line).copied();
        self.add_line(now, line.clone());
        let Some(&idx) = self.by_line.get(&line) else {
            return;
        };
        if self.lines[idx].trunk.is_none() {
            self.lines[idx].trunk = Some(Trunk::default());
            if known.is_some() {
                // Armed as a station line until now.
                self.request_arm(idx);
                let g = self.lines[idx].gateway;
                self.pump(now, g);
                self.flush(true);
            }
        }
    }

    /// The job for a trunk command on `line`, or `None` when it failed at once.
    pub(super) fn trunk_job(&mut self, line: usize, command: Command) -> Option<Job> {
        let id = self.lines[line].id.clone();
        if self.lines[line].trunk.is_none() {
            self.stats.trunk_out_of_place += 1;
            debug!(line = %id, "trunk command for a line that is not a trunk");
            self.fail(id, None, ReturnCode::NO_SUCH_EVENT.0, "not a trunk");
            return None;
        }
        let change = match command {
            Command::Seize { .. } => TrunkChange::Seize,
            Command::Answer { .. } => TrunkChange::Answer,
            Command::Release { .. } => TrunkChange::Release,
            Command::Dial {
                method: DialMethod::Pulse,
                ..
            } => {
                self.fail(
                    id,
                    None,
                    ReturnCode::CANNOT_SIGNAL.0,
                    "pulse dialling has no MGCP signal",
                );
                return None;
            }
            Command::Dial { number, .. } => TrunkChange::Dial(number),
            _ => return None,
        };
        Some(Job::Signal {
            line,
            change: SignalChange::Trunk(change),
        })
    }

    /// The gateway refused a trunk change: the port is as it was (or rings: glare, the call
    /// that rang meanwhile is reported now, without the caller id it came with).
    pub(super) fn trunk_refused(&mut self, now: Instant, line: usize) {
        let Some(t) = &mut self.lines[line].trunk else {
            return;
        };
        if t.refused() {
            self.ringing(now, line);
            let line = self.lines[line].id.clone();
            self.emit(Event::IncomingCall {
                line,
                caller_id: None,
            });
        }
    }

    /// A ring burst on `line`: the caller is there for [`RING_GONE`] more.
    fn ringing(&mut self, now: Instant, line: usize) {
        self.timers.retain(|(_, t)| *t != Timer::RingGone(line));
        self.set_timer(now + RING_GONE, Timer::RingGone(line));
    }

    /// [`RING_GONE`] without a ring burst: if the call still rings, the caller gave up.
    pub(super) fn ring_gone(&mut self, line: usize) {
        let Some(t) = &mut self.lines[line].trunk else {
            return;
        };
        if t.call == Call::Ringing {
            t.call = Call::Idle;
            let line = self.lines[line].id.clone();
            debug!(%line, "ringing stopped");
            self.emit(Event::FarEndDisconnect {
                line,
                why: Disconnect::RingingStopped,
            });
        }
    }

    /// The events of a notification on a trunk.
    /// `collected`: the keys are a dial string collected under the digit map.
    pub(super) fn trunk_notified(
        &mut self,
        now: Instant,
        line: usize,
        observed: &[EventRef<'_>],
        collected: bool,
    ) {
        let caller = observed.iter().find_map(caller_id);
        let mut dialled: Option<Vec<crate::model::Digit>> = None;
        for e in observed {
            let id = self.lines[line].id.clone();
            if collected && let Some(keys) = dial_keys(e) {
                // A dial string collected under the digit map: reported in one piece.
                dialled.get_or_insert_with(Vec::new).extend(keys);
                continue;
            }
            let Some(trunk) = &mut self.lines[line].trunk else {
                return;
            };
            match trunk.observe(&id, e) {
                TrunkObserved::Event(ev @ Event::FarEndDisconnect { .. }) => {
                    // The caller hung up: the keys collected so far are not reported.
                    self.lines[line].collect = None;
                    dialled = None;
                    self.emit(ev);
                }
                TrunkObserved::Event(Event::IncomingCall { line, .. }) => {
                    self.emit(Event::IncomingCall {
                        line,
                        caller_id: caller.clone(),
                    });
                }
                TrunkObserved::Event(ev) => self.emit(ev),
                TrunkObserved::Nothing => {}
                TrunkObserved::Dropped => {
                    self.stats.trunk_out_of_place += 1;
                    debug!(line = %id, event = e.name.event, "trunk event out of place dropped");
                }
                TrunkObserved::Unrecognised => {
                    self.stats.unrecognised_events += 1;
                    debug!(line = %id, event = e.name.event, "unrecognised event ignored");
                }
            }
        }
        if let Some(digits) = dialled
            && self.lines[line].collect.take().is_some()
        {
            self.stats.dial_strings += 1;
            let line = self.lines[line].id.clone();
            self.emit(Event::Dialled { line, digits });
        }
        let rang = observed
            .iter()
            .any(|e| e.name.event.eq_ignore_ascii_case("rg"));
        if rang
            && self.lines[line]
                .trunk
                .as_ref()
                .is_some_and(|t| t.call == Call::Ringing)
        {
            self.ringing(now, line);
        }
    }
}
