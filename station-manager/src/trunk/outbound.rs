//! Calls placed to stations behind trunks: port selection, seize and dial, answer supervision,
//! busy and far-end disconnect, and the station's connection carried on the port.

use std::time::Instant;

use gateway_control::model::{CallId, Command, Digit, Disconnect, Event, LineId};
use tracing::debug;

use super::{OwnCall, PortState, Selection, Trunks};
use crate::station::Calls;
use crate::{MediaCommand, MediaEvent, Progress};

/// The code a ring that could not be placed fails with (no port, busy, cut off).
const UNAVAILABLE: u16 = 503;
/// The code a ring fails with when the far end is busy.
const BUSY: u16 = 486;

/// A call being placed.
#[derive(Debug)]
pub(super) struct Placing {
    pub(super) vline: LineId,
    number: Vec<Digit>,
    /// Our connection, hearing the line for call progress.
    pub(super) watch: Option<OwnCall>,
    /// The gateway said the number is out.
    dialled: bool,
    /// Ports tried for this ring (refused seizes), by index.
    tried: Vec<usize>,
}

/// A placed call the far end answered.
#[derive(Debug)]
pub(super) struct Talking {
    pub(super) vline: LineId,
    /// The station's connection on the port.
    pub(super) station_call: Option<CallId>,
    /// The far end hung up; the station was told.
    pub(super) far_gone: bool,
}

impl Trunks {
    /// The station on `vline` rings: place the call on a free port of group `g`.
    pub(super) fn place(
        &mut self,
        now: Instant,
        vline: LineId,
        g: usize,
        number: Vec<Digit>,
        calls: &mut Calls,
    ) {
        self.place_avoiding(now, vline, g, number, Vec::new(), calls);
    }

    fn place_avoiding(
        &mut self,
        now: Instant,
        vline: LineId,
        g: usize,
        number: Vec<Digit>,
        tried: Vec<usize>,
        calls: &mut Calls,
    ) {
        if !self.groups[g].up {
            return self.fail(vline, UNAVAILABLE, "the trunk's gateway is down".into());
        }
        let Some(p) = self.pick(g, &tried) else {
            let n = self.groups[g].spec.ports.len();
            let name = self.groups[g].spec.name.clone();
            let why = if tried.is_empty() {
                self.stats.all_busy += 1;
                format!("all {n} lines of trunk {name} are busy")
            } else {
                format!("no line of trunk {name} could be seized")
            };
            return self.fail(vline, UNAVAILABLE, why);
        };
        self.groups[g].last = p;
        let line = self.ports[p].line.clone();
        debug!(port = %line, station = %vline, "seizing a trunk");
        self.stats.seized += 1;
        self.commands
            .push_back(Command::Seize { line: line.clone() });
        let watch = self.open_own(p, calls);
        self.commands.push_back(Command::Dial {
            line,
            number: number.clone(),
            method: self.groups[g].spec.method,
        });
        if let Some(v) = self.vlines.get_mut(&vline) {
            v.port = Some(p);
        }
        self.ports[p].state = PortState::Out(Placing {
            vline,
            number,
            watch,
            dialled: false,
            tried,
        });
        self.ports[p].timer = Some(now + self.groups[g].spec.answer_timeout);
    }

    /// The answer timeout ran out on the call placed on `p`.
    pub(super) fn not_answered(&mut self, p: usize, calls: &mut Calls) {
        let secs = self.groups[self.ports[p].group]
            .spec
            .answer_timeout
            .as_secs();
        self.stats.unanswered += 1;
        self.give_up(p, UNAVAILABLE, format!("no answer after {secs} s"), calls);
    }

    /// A free port of group `g` not in `tried`, by the group's selection.
    fn pick(&self, g: usize, tried: &[usize]) -> Option<usize> {
        let ports: Vec<usize> = (0..self.ports.len())
            .filter(|&p| self.ports[p].group == g)
            .collect();
        let free =
            |p: &usize| matches!(self.ports[*p].state, PortState::Idle) && !tried.contains(p);
        match self.groups[g].spec.selection {
            Selection::FirstFree => ports.into_iter().find(free),
            Selection::RoundRobin => {
                let after = ports
                    .iter()
                    .position(|&p| p == self.groups[g].last)
                    .map_or(0, |i| i + 1);
                let n = ports.len();
                (0..n).map(|k| ports[(after + k) % n]).find(free)
            }
        }
    }

    /// The ring on `vline` cannot go on: the station hears the failure and stops ringing.
    fn fail(&mut self, vline: LineId, code: u16, reason: String) {
        self.events.push_back(Event::CommandFailed {
            line: vline,
            call: None,
            code,
            reason,
        });
    }

    /// A gateway event on a port placing or carrying a call.
    pub(super) fn on_outbound(&mut self, now: Instant, p: usize, event: &Event, calls: &mut Calls) {
        // Connections: ours, or a station's carried here.
        if let Some(call) = event.call() {
            return self.on_connection_event(now, p, call, event, calls);
        }
        let placing = matches!(self.ports[p].state, PortState::Out(_));
        match event {
            Event::DialComplete { .. } if placing => {
                if let PortState::Out(o) = &mut self.ports[p].state {
                    o.dialled = true;
                }
            }
            Event::FarEndAnswer { .. } if placing => {
                self.stats.answered_by_line += 1;
                self.answered(p, calls);
            }
            Event::FarEndDisconnect { why, .. } if placing => {
                let (code, reason) = refusal(*why);
                self.stats.busy += u64::from(code == BUSY);
                self.give_up(p, code, reason, calls);
            }
            Event::FarEndDisconnect { .. } => self.far_end_gone(p, calls),
            Event::CommandFailed {
                call: None,
                code,
                reason,
                ..
            } if placing => {
                // The seize or the dial was refused (glare, a faulty port): another port.
                debug!(port = %self.ports[p].line, code, %reason, "trunk refused; trying another");
                self.stats.glare += 1;
                self.retry_elsewhere(now, p, calls);
            }
            Event::IncomingCall { .. } if placing => {
                let dialled = matches!(&self.ports[p].state, PortState::Out(o) if o.dialled);
                if dialled {
                    self.stats.dropped += 1;
                    return;
                }
                // Glare: our seize met their ring. Ours goes elsewhere, theirs is released.
                debug!(port = %self.ports[p].line, "glare: incoming call on a seized trunk");
                self.stats.glare += 1;
                self.retry_elsewhere(now, p, calls);
            }
            Event::Digit { digit, .. } if !placing => {
                // The far end's keys reach the station (`#` ends a recording…).
                if let PortState::Talking(t) = &self.ports[p].state {
                    self.events.push_back(Event::Digit {
                        line: t.vline.clone(),
                        digit: *digit,
                    });
                }
            }
            Event::LineStatus { .. } => {}
            _ => {
                self.stats.dropped += 1;
                debug!(port = %self.ports[p].line, ?event, "trunk event out of place dropped");
            }
        }
    }

    /// Call progress on our call (placing) or the station's (talking).
    pub(super) fn on_outbound_media(
        &mut self,
        _now: Instant,
        p: usize,
        call: CallId,
        event: &MediaEvent,
        calls: &mut Calls,
    ) {
        let MediaEvent::Progress { heard, .. } = event else {
            // Our watching call has nothing else to say; a failure leaves the ring to time out.
            if let MediaEvent::Failed { reason, .. } = event {
                debug!(port = %self.ports[p].line, %reason, "trunk media failed");
            }
            return;
        };
        match &self.ports[p].state {
            PortState::Out(o) if o.watch.is_some_and(|w| w.id == call) => match heard {
                Progress::Voice if o.dialled => {
                    self.stats.answered_by_voice += 1;
                    self.answered(p, calls);
                }
                Progress::Busy | Progress::Reorder => {
                    self.stats.busy += 1;
                    let (code, reason) = refusal(if *heard == Progress::Busy {
                        Disconnect::Busy
                    } else {
                        Disconnect::Reorder
                    });
                    self.give_up(p, code, reason, calls);
                }
                _ => {}
            },
            PortState::Talking(t) if t.station_call == Some(call) => {
                if matches!(
                    heard,
                    Progress::Busy | Progress::Reorder | Progress::DialTone
                ) {
                    self.far_end_gone(p, calls);
                }
            }
            _ => {}
        }
    }

    /// The far end answered the call placed on port `p`: our call goes, the station hears
    /// an off-hook and makes its own connection on the port.
    fn answered(&mut self, p: usize, calls: &mut Calls) {
        let PortState::Out(o) = std::mem::replace(&mut self.ports[p].state, PortState::Idle) else {
            return;
        };
        debug!(port = %self.ports[p].line, station = %o.vline, "trunk call answered");
        if let Some(w) = o.watch {
            self.close_own(w, calls);
        }
        self.events.push_back(Event::OffHook {
            line: o.vline.clone(),
        });
        self.ports[p].state = PortState::Talking(Talking {
            vline: o.vline,
            station_call: None,
            far_gone: false,
        });
    }

    /// The call placed on `p` ends before an answer: released, the ring fails.
    fn give_up(&mut self, p: usize, code: u16, reason: String, calls: &mut Calls) {
        let vline = match &self.ports[p].state {
            PortState::Out(o) => o.vline.clone(),
            _ => return,
        };
        self.hang_up(p, calls, false);
        self.fail(vline, code, reason);
    }

    /// Port `p` refused the call being placed: try the group's other ports.
    fn retry_elsewhere(&mut self, now: Instant, p: usize, calls: &mut Calls) {
        let PortState::Out(o) = &self.ports[p].state else {
            return;
        };
        let (vline, number, mut tried) = (o.vline.clone(), o.number.clone(), o.tried.clone());
        tried.push(p);
        let g = self.ports[p].group;
        self.hang_up(p, calls, false);
        self.place_avoiding(now, vline, g, number, tried, calls);
    }

    /// The far end of the answered call on `p` is gone: the station hears an on-hook; the
    /// port is released when the station has deleted its connection.
    fn far_end_gone(&mut self, p: usize, calls: &mut Calls) {
        let PortState::Talking(t) = &mut self.ports[p].state else {
            self.stats.dropped += 1;
            return;
        };
        if t.far_gone {
            return;
        }
        t.far_gone = true;
        self.stats.far_end_gone += 1;
        let vline = t.vline.clone();
        if t.station_call.is_none() {
            self.hang_up(p, calls, true);
        } else {
            // Released at once; the port is free once the station has deleted its
            // connection, which it does when it hears the on-hook.
            self.release(p);
            self.events.push_back(Event::OnHook { line: vline });
        }
    }

    /// A connection event on port `p`: ours is handled here, a station's goes to its line.
    fn on_connection_event(
        &mut self,
        _now: Instant,
        p: usize,
        call: CallId,
        event: &Event,
        calls: &mut Calls,
    ) {
        if self.own.get(&call) == Some(&p) {
            if let PortState::Out(o) = &mut self.ports[p].state
                && let Some(w) = &mut o.watch
                && w.id == call
            {
                match event {
                    Event::ConnectionCreated { local, .. } => {
                        w.created = true;
                        self.media.push_back(MediaCommand::Remote {
                            call,
                            remote: *local,
                        });
                        self.media.push_back(MediaCommand::WatchProgress { call });
                    }
                    Event::ConnectionLost { .. } | Event::CommandFailed { .. } => {
                        // No way to hear the line: answer must come from the line's signal.
                        let w = *w;
                        o.watch = None;
                        let mut w = w;
                        w.created = false;
                        self.close_own(w, calls);
                    }
                    _ => {}
                }
            }
            return;
        }
        // Else a late answer about a call already closed.
        if self.carried.get(&call).is_some_and(|(q, _)| *q == p) {
            self.carried_event(p, call, event);
        }
    }

    /// A connection event for a station's call carried on port `p`, passed to its line.
    pub(super) fn carried_event(&mut self, _p: usize, call: CallId, event: &Event) {
        let Some((_, vline)) = self.carried.get(&call).cloned() else {
            return;
        };
        if matches!(
            event,
            Event::ConnectionDeleted { .. } | Event::ConnectionLost { .. }
        ) {
            self.carried.remove(&call);
        }
        self.events.push_back(with_line(event, vline));
    }

    /// A station's connection command on its virtual line, carried to the port.
    pub(super) fn carry(
        &mut self,
        _now: Instant,
        vline: LineId,
        bound: Option<usize>,
        command: Command,
        calls: &mut Calls,
    ) {
        let call = command.call();
        let port = call
            .and_then(|c| self.carried.get(&c).map(|(p, _)| *p))
            .or(bound);
        let Some(p) = port else {
            return self.refuse_carry(vline, call);
        };
        let line = self.ports[p].line.clone();
        match command {
            Command::CreateConnection {
                call,
                mode,
                codec,
                ptime,
                remote,
                ..
            } => {
                let ok = match &mut self.ports[p].state {
                    PortState::Talking(t) if t.station_call.is_none() && !t.far_gone => {
                        t.station_call = Some(call);
                        true
                    }
                    PortState::In(s) if s.handed && s.station_call.is_none() => {
                        s.station_call = Some(call);
                        true
                    }
                    _ => false,
                };
                if !ok {
                    return self.refuse_carry(vline, Some(call));
                }
                self.carried.insert(call, (p, vline));
                self.commands.push_back(Command::CreateConnection {
                    line,
                    call,
                    mode,
                    codec,
                    ptime,
                    remote,
                });
                // Busy or dial tone on the call means the far end hung up.
                self.media.push_back(MediaCommand::WatchProgress { call });
            }
            Command::ModifyConnection {
                call, mode, remote, ..
            } => self.commands.push_back(Command::ModifyConnection {
                line,
                call,
                mode,
                remote,
            }),
            Command::DeleteConnection { call, .. } => {
                self.carried.remove(&call);
                self.commands
                    .push_back(Command::DeleteConnection { line, call });
                // The station is done with the call: the port is released.
                let on_port = match &mut self.ports[p].state {
                    PortState::Talking(t) if t.station_call == Some(call) => {
                        t.station_call = None;
                        Some(!t.far_gone)
                    }
                    PortState::In(s) if s.station_call == Some(call) => {
                        s.station_call = None;
                        Some(!s.gone)
                    }
                    _ => None,
                };
                match on_port {
                    // The far end is still there: we hang up on it.
                    Some(true) => self.hang_up(p, calls, true),
                    // Already released when the far end went.
                    Some(false) => self.forget(p, calls, false),
                    None => {}
                }
            }
            _ => {}
        }
    }

    fn refuse_carry(&mut self, vline: LineId, call: Option<CallId>) {
        self.stats.dropped += 1;
        self.events.push_back(Event::CommandFailed {
            line: vline,
            call,
            code: UNAVAILABLE,
            reason: "the trunk call is over".into(),
        });
    }
}

/// Why a call placed ended before an answer, for the station's failure.
fn refusal(why: Disconnect) -> (u16, String) {
    match why {
        Disconnect::Busy => (BUSY, "the number is busy".into()),
        Disconnect::Reorder => (
            UNAVAILABLE,
            "the call could not be completed (reorder tone)".into(),
        ),
        Disconnect::LoopCurrentDrop | Disconnect::RingingStopped => {
            (UNAVAILABLE, "the line was cut off before an answer".into())
        }
        _ => (UNAVAILABLE, "the line was cut off before an answer".into()),
    }
}

/// The same connection event, about `line` instead.
pub(super) fn with_line(e: &Event, line: LineId) -> Event {
    let mut e = e.clone();
    match &mut e {
        Event::ConnectionCreated { line: l, .. }
        | Event::ConnectionModified { line: l, .. }
        | Event::ConnectionDeleted { line: l, .. }
        | Event::ConnectionLost { line: l, .. }
        | Event::CommandFailed { line: l, .. } => *l = line,
        _ => {}
    }
    e
}
