//! The station's states, each named for what it waits for, and the transitions: each consumes
//! the state and returns the next one.

use std::collections::VecDeque;
use std::time::Instant;

use gateway_control::model::{Cadence, CallId, Command, DownReason, Event, Tone};
use tracing::debug;

use super::listen::{on_intercom, on_playing, play_next};
use super::record::{on_captured, on_recording, start_capture};
use super::{Answered, Calls, Core, Waiting};
use crate::{Delivery, Input, MediaCommand, MediaEvent, RequestId, StopReason, StreamId, UserId};

/// What happened, for the transitions.
#[derive(Debug)]
pub(super) enum Ev<'a> {
    Gateway(&'a Event),
    Input(Input),
    Media(MediaEvent),
    RingTimeout,
    /// Time to ring a phone behind a trunk again for its messages.
    RingAgain,
}

/// A call: the gateway connection's handle and the local RTP port.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Call {
    pub(super) id: CallId,
    pub(super) port: u16,
}

/// A recording to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct RecordJob {
    pub(super) request: Option<RequestId>,
    pub(super) to: Vec<UserId>,
    pub(super) delivery: Delivery,
}

/// A live stream to play, held (bounded) until the phone is picked up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Live {
    pub(super) stream: StreamId,
    pub(super) backlog: VecDeque<Vec<i16>>,
    pub(super) samples: usize,
    pub(super) ended: bool,
}

/// Why the phone rings or is connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Purpose {
    Record(RecordJob),
    Listen,
    Live(Live),
}

/// A capture in progress.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Capture {
    pub(super) call: Call,
    pub(super) job: RecordJob,
    pub(super) stream: Option<StreamId>,
    /// A reply recorded while listening: carry on listening after it.
    pub(super) resume: bool,
    /// The gateway connection still exists.
    pub(super) connected: bool,
}

#[derive(Debug)]
pub(super) enum State {
    /// The gateway is down or not yet up: waits for `GatewayUp`.
    AwaitingGateway,
    /// The gateway came up: waits for the line's audited hook state.
    AwaitingLineStatus,
    /// On hook with nothing to do: waits for a request, a message, a stream or a pick-up.
    Idle,
    /// Ringing: waits for the pick-up (or the ring timeout).
    AwaitingOffHook(Purpose),
    /// Picked up: waits for the gateway connection.
    AwaitingConnection { call: Call, purpose: Purpose },
    /// Capturing: waits for hang-up, `#`, silence or the maximum length.
    Recording(Capture),
    /// Capture stopped: waits for the media engine's file.
    AwaitingCapture(Capture, StopReason),
    /// Playing a message: waits for its end or a key.
    Playing { call: Call, current: Waiting },
    /// Playing a live stream: waits for its end.
    Intercom { call: Call, live: Live },
    /// Nothing more to do while off hook: waits for the hang-up.
    AwaitingOnHook,
}

impl State {
    pub(super) fn name(&self) -> &'static str {
        match self {
            Self::AwaitingGateway => "AwaitingGateway",
            Self::AwaitingLineStatus => "AwaitingLineStatus",
            Self::Idle => "Idle",
            Self::AwaitingOffHook(_) => "AwaitingOffHook",
            Self::AwaitingConnection { .. } => "AwaitingConnection",
            Self::Recording(_) => "Recording",
            Self::AwaitingCapture(..) => "AwaitingCapture",
            Self::Playing { .. } => "Playing",
            Self::Intercom { .. } => "Intercom",
            Self::AwaitingOnHook => "AwaitingOnHook",
        }
    }

    /// Whether the handset is down in this state.
    pub(super) fn is_on_hook(&self) -> bool {
        matches!(self, Self::Idle | Self::AwaitingOffHook(_))
    }

    pub(super) fn can_ring(&self) -> bool {
        matches!(self, Self::Idle | Self::AwaitingOffHook(Purpose::Listen))
    }

    /// Another phone of the user answered `what`.
    pub(super) fn cancel(self, core: &mut Core, now: Instant, what: &Answered) -> Self {
        let same = match (&self, what) {
            (Self::AwaitingOffHook(Purpose::Record(j)), Answered::Record(r)) => {
                j.request == Some(*r)
            }
            (Self::AwaitingOffHook(Purpose::Listen), Answered::Listen) => true,
            (Self::AwaitingOffHook(Purpose::Live(l)), Answered::Live(s)) => l.stream == *s,
            _ => false,
        };
        if !same {
            return self;
        }
        core.stop_ring();
        core.ring_pending = false;
        idle(core, now)
    }

    /// The appliance is shutting down: a recording stops and is still delivered
    /// ([`StopReason::Shutdown`]), a request still ringing fails, playback stops, and each
    /// connection is deleted. The station then refuses new work (the gateway counts as down).
    pub(super) fn shut(self, core: &mut Core, calls: &mut Calls, stop: StopReason) -> Self {
        let why = if stop == StopReason::Removed {
            "the phone was removed"
        } else {
            "the appliance is shutting down"
        };
        match self {
            Self::AwaitingOffHook(p) => {
                core.timer = None;
                core.stop_ring();
                if let Purpose::Record(j) = p {
                    core.fail(j.request, why);
                }
                Self::Idle
            }
            Self::AwaitingConnection { call, purpose } => {
                core.end_call(calls, call, true);
                if let Purpose::Record(j) = purpose {
                    core.fail(j.request, why);
                }
                Self::Idle
            }
            Self::Recording(mut c) => {
                core.media
                    .push_back(MediaCommand::StopCapture { call: c.call.id });
                // Deleted now: the station refuses gateway work from here on.
                if c.connected {
                    core.commands.push_back(Command::DeleteConnection {
                        line: core.line.clone(),
                        call: c.call.id,
                    });
                    c.connected = false;
                }
                Self::AwaitingCapture(c, stop)
            }
            Self::Playing { call, current } => {
                core.waiting.push_front(current);
                core.media
                    .push_back(MediaCommand::StopPlay { call: call.id });
                core.end_call(calls, call, true);
                Self::Idle
            }
            Self::Intercom { call, .. } => {
                core.media
                    .push_back(MediaCommand::StopPlay { call: call.id });
                core.end_call(calls, call, true);
                Self::Idle
            }
            other @ (Self::AwaitingCapture(..)
            | Self::Idle
            | Self::AwaitingOnHook
            | Self::AwaitingLineStatus
            | Self::AwaitingGateway) => other,
        }
    }

    /// Whether a capture is still being finished (its recording not yet delivered).
    pub(super) fn is_capturing(&self) -> bool {
        matches!(self, Self::Recording(_) | Self::AwaitingCapture(..))
    }

    pub(super) fn next(self, core: &mut Core, now: Instant, ev: Ev<'_>, calls: &mut Calls) -> Self {
        // Faults first: they end whatever the state was doing.
        if let Ev::Gateway(e) = &ev {
            match e {
                Event::GatewayDown { reason, .. } if !matches!(reason, DownReason::Graceful(_)) => {
                    return self.lost(core, now, calls, "the gateway went down");
                }
                Event::ConnectionLost { call, reason, .. } if self.call() == Some(*call) => {
                    debug!(line = %core.line, %call, %reason, "connection lost");
                    return self.lost(core, now, calls, "the gateway dropped the call");
                }
                _ => {}
            }
        }
        match self {
            Self::AwaitingGateway => match ev {
                Ev::Gateway(Event::GatewayUp { .. }) => Self::AwaitingLineStatus,
                ev => common(Self::AwaitingGateway, core, ev),
            },
            Self::AwaitingLineStatus => match ev {
                Ev::Gateway(Event::LineStatus { off_hook: true, .. } | Event::OffHook { .. }) => {
                    Self::AwaitingOnHook
                }
                Ev::Gateway(Event::LineStatus {
                    off_hook: false, ..
                }) => idle(core, now),
                ev => common(Self::AwaitingLineStatus, core, ev),
            },
            Self::Idle => on_idle(core, now, ev, calls),
            Self::AwaitingOffHook(p) => on_ringing(p, core, now, ev, calls),
            Self::AwaitingConnection { call, purpose } => {
                on_connecting(call, purpose, core, now, ev, calls)
            }
            Self::Recording(c) => on_recording(c, core, now, ev, calls),
            Self::AwaitingCapture(c, why) => on_captured(c, why, core, now, ev, calls),
            Self::Playing { call, current } => on_playing(call, current, core, now, ev, calls),
            Self::Intercom { call, live } => on_intercom(call, live, core, now, ev, calls),
            Self::AwaitingOnHook => match ev {
                Ev::Gateway(
                    Event::OnHook { .. }
                    | Event::LineStatus {
                        off_hook: false, ..
                    },
                ) => idle(core, now),
                ev => common(Self::AwaitingOnHook, core, ev),
            },
        }
    }

    fn call(&self) -> Option<CallId> {
        match self {
            Self::AwaitingConnection { call, .. }
            | Self::Playing { call, .. }
            | Self::Intercom { call, .. } => Some(call.id),
            Self::Recording(c) | Self::AwaitingCapture(c, _) if c.connected => Some(c.call.id),
            _ => None,
        }
    }

    /// The gateway or the connection is gone.
    fn lost(self, core: &mut Core, now: Instant, calls: &mut Calls, why: &str) -> Self {
        match self {
            Self::AwaitingOffHook(p) => {
                core.timer = None;
                match p {
                    Purpose::Record(j) => core.fail(j.request, why),
                    // The ring may never have reached the phone: ring again once back.
                    Purpose::Listen => core.ring_pending = true,
                    Purpose::Live(l) => {
                        core.stats.live_dropped += l.backlog.len() as u64;
                    }
                }
                rest(core, now)
            }
            Self::AwaitingConnection { call, purpose } => {
                core.stats.connections_lost += 1;
                core.end_call(calls, call, false);
                if let Purpose::Record(j) = purpose {
                    core.fail(j.request, why);
                }
                rest(core, now)
            }
            Self::Recording(mut c) => {
                core.stats.connections_lost += 1;
                c.connected = false;
                core.media
                    .push_back(MediaCommand::StopCapture { call: c.call.id });
                Self::AwaitingCapture(c, StopReason::GatewayLost)
            }
            Self::AwaitingCapture(mut c, _) => {
                c.connected = false;
                Self::AwaitingCapture(c, StopReason::GatewayLost)
            }
            Self::Playing { call, current } => {
                core.stats.connections_lost += 1;
                core.waiting.push_front(current);
                core.media
                    .push_back(MediaCommand::StopPlay { call: call.id });
                core.end_call(calls, call, false);
                rest(core, now)
            }
            Self::Intercom { call, .. } => {
                core.stats.connections_lost += 1;
                core.media
                    .push_back(MediaCommand::StopPlay { call: call.id });
                core.end_call(calls, call, false);
                rest(core, now)
            }
            Self::Idle
            | Self::AwaitingOnHook
            | Self::AwaitingLineStatus
            | Self::AwaitingGateway => rest(core, now),
        }
    }
}

/// After a call or a fault: where the station goes next.
pub(super) fn rest(core: &mut Core, now: Instant) -> State {
    if !core.up {
        State::AwaitingGateway
    } else if core.off_hook {
        State::AwaitingOnHook
    } else {
        idle(core, now)
    }
}

/// Idle, unless a message that has not rung yet makes the phone ring.
pub(super) fn idle(core: &mut Core, now: Instant) -> State {
    if core.up && !core.off_hook && core.ring_pending && !core.waiting.is_empty() {
        core.ring_pending = false;
        core.ring(now, Cadence::Normal, core.config.message_ring_timeout);
        return State::AwaitingOffHook(Purpose::Listen);
    }
    State::Idle
}

/// What every state does with inputs it has no use for.
pub(super) fn common(state: State, core: &mut Core, ev: Ev<'_>) -> State {
    match ev {
        Ev::Input(Input::Record { request, .. }) => {
            let why = if core.up {
                "the phone is busy"
            } else {
                "the phone's gateway is down"
            };
            core.fail(Some(request), why);
        }
        Ev::Input(Input::MessageWaiting { message, from, .. }) => {
            if !core.waiting.iter().any(|w| w.message == message) {
                core.waiting.push_back(Waiting { message, from });
                core.ring_pending = true;
                core.reset_retries();
            }
        }
        Ev::Input(Input::MessageGone { message, .. }) => {
            core.waiting.retain(|w| w.message != message);
        }
        Ev::Input(Input::LiveStart { stream, .. }) => {
            core.stats.live_refused += 1;
            debug!(line = %core.line, %stream, "live stream refused: the phone is busy");
        }
        // Hook changes while the gateway is down are stale; the rest are answers and facts
        // the station has already taken in (hook and service state, deletes it asked for).
        Ev::Gateway(Event::OffHook { .. } | Event::OnHook { .. })
            if matches!(state, State::AwaitingGateway) => {}
        Ev::Gateway(
            Event::LineStatus { .. }
            | Event::GatewayUp { .. }
            | Event::GatewayDown { .. }
            | Event::ConnectionDeleted { .. }
            | Event::ConnectionModified { .. },
        ) => {}
        _ => {
            core.stats.ignored += 1;
            debug!(line = %core.line, state = state.name(), event = ?ev, "ignored");
        }
    }
    state
}

fn on_idle(core: &mut Core, now: Instant, ev: Ev<'_>, calls: &mut Calls) -> State {
    match ev {
        Ev::Input(Input::Record {
            request,
            to,
            delivery,
            ..
        }) => {
            let cadence = Cadence::Distinctive(core.config.record_cadence);
            core.ring(now, cadence, core.config.record_ring_timeout);
            State::AwaitingOffHook(Purpose::Record(RecordJob {
                request: Some(request),
                to,
                delivery,
            }))
        }
        Ev::Input(i @ Input::MessageWaiting { .. }) => {
            let s = common(State::Idle, core, Ev::Input(i));
            match s {
                State::Idle => idle(core, now),
                s => s,
            }
        }
        Ev::Input(Input::LiveStart { stream, .. }) => {
            core.ring(now, Cadence::Normal, core.config.message_ring_timeout);
            State::AwaitingOffHook(Purpose::Live(Live {
                stream,
                backlog: VecDeque::new(),
                samples: 0,
                ended: false,
            }))
        }
        Ev::Gateway(Event::OffHook { .. }) => {
            core.ring_pending = false;
            connect(Purpose::Listen, core, calls)
        }
        Ev::RingAgain => {
            core.ring_pending = true;
            idle(core, now)
        }
        ev => common(State::Idle, core, ev),
    }
}

fn on_ringing(p: Purpose, core: &mut Core, now: Instant, ev: Ev<'_>, calls: &mut Calls) -> State {
    match (p, ev) {
        (p, Ev::Gateway(Event::OffHook { .. })) => {
            core.timer = None;
            core.answered = Some(match &p {
                Purpose::Record(j) => j.request.map_or(Answered::Listen, Answered::Record),
                Purpose::Listen => Answered::Listen,
                Purpose::Live(l) => Answered::Live(l.stream),
            });
            if matches!(p, Purpose::Listen) {
                core.ring_pending = false;
                core.reset_retries();
            }
            connect(p, core, calls)
        }
        (p, Ev::RingTimeout) => {
            core.stats.unanswered += 1;
            core.stop_ring();
            match p {
                Purpose::Record(j) => {
                    let secs = core.config.record_ring_timeout.as_secs();
                    core.fail(j.request, format!("no answer after {secs} s"));
                }
                // The stored copy of the stream still arrives as a waiting message.
                Purpose::Live(l) => core.stats.live_dropped += l.backlog.len() as u64,
                Purpose::Listen => {}
            }
            let next = idle(core, now);
            if matches!(next, State::Idle) {
                core.retry_later(now);
            }
            next
        }
        (
            p,
            Ev::Gateway(Event::CommandFailed {
                call: None, reason, ..
            }),
        ) => {
            core.stop_ring();
            if let Purpose::Record(j) = p {
                core.fail(j.request, format!("the phone could not be rung: {reason}"));
            }
            let next = idle(core, now);
            if matches!(next, State::Idle) {
                core.retry_later(now);
            }
            next
        }
        (
            Purpose::Listen,
            Ev::Input(Input::Record {
                request,
                to,
                delivery,
                ..
            }),
        ) => {
            // A record request outranks a message ring: the messages stay waiting.
            let cadence = Cadence::Distinctive(core.config.record_cadence);
            core.ring(now, cadence, core.config.record_ring_timeout);
            State::AwaitingOffHook(Purpose::Record(RecordJob {
                request: Some(request),
                to,
                delivery,
            }))
        }
        (Purpose::Listen, Ev::Input(Input::LiveStart { stream, .. })) => {
            core.ring_pending = true;
            core.timer = Some((
                now + core.config.message_ring_timeout,
                super::Timer::RingTimeout,
            ));
            State::AwaitingOffHook(Purpose::Live(Live {
                stream,
                backlog: VecDeque::new(),
                samples: 0,
                ended: false,
            }))
        }
        (Purpose::Listen, Ev::Input(Input::MessageGone { message, .. })) => {
            core.waiting.retain(|w| w.message != message);
            if core.waiting.is_empty() {
                core.stop_ring();
                return State::Idle;
            }
            State::AwaitingOffHook(Purpose::Listen)
        }
        (Purpose::Live(mut l), Ev::Input(Input::LiveBuffer { stream, pcm }))
            if stream == l.stream =>
        {
            hold(core, &mut l, pcm);
            State::AwaitingOffHook(Purpose::Live(l))
        }
        (Purpose::Live(mut l), Ev::Input(Input::LiveEnd { stream })) if stream == l.stream => {
            l.ended = true;
            State::AwaitingOffHook(Purpose::Live(l))
        }
        (Purpose::Listen, Ev::Input(i @ Input::MessageWaiting { .. })) => {
            common(State::AwaitingOffHook(Purpose::Listen), core, Ev::Input(i));
            core.ring_pending = false;
            State::AwaitingOffHook(Purpose::Listen)
        }
        (p, ev) => common(State::AwaitingOffHook(p), core, ev),
    }
}

/// Holds a live buffer for a ringing phone, dropping the oldest beyond the backlog.
fn hold(core: &mut Core, l: &mut Live, pcm: Vec<i16>) {
    l.samples += pcm.len();
    l.backlog.push_back(pcm);
    let cap = core.config.backlog_samples();
    while l.samples > cap {
        let Some(old) = l.backlog.pop_front() else {
            break;
        };
        l.samples -= old.len();
        core.stats.live_dropped += 1;
    }
}

/// Picked up: a connection for `purpose`, or a short tone if there is nothing to do.
fn connect(purpose: Purpose, core: &mut Core, calls: &mut Calls) -> State {
    if matches!(purpose, Purpose::Listen) && core.waiting.is_empty() {
        core.tone(Tone::Confirmation);
        return State::AwaitingOnHook;
    }
    let Some(call) = core.create_connection(calls) else {
        if let Purpose::Record(j) = &purpose {
            core.fail(j.request, "no media port free");
        }
        core.tone(Tone::Reorder);
        return State::AwaitingOnHook;
    };
    State::AwaitingConnection { call, purpose }
}

fn on_connecting(
    call: Call,
    purpose: Purpose,
    core: &mut Core,
    now: Instant,
    ev: Ev<'_>,
    calls: &mut Calls,
) -> State {
    match ev {
        Ev::Gateway(Event::ConnectionCreated { call: c, local, .. }) if *c == call.id => {
            core.media.push_back(MediaCommand::Remote {
                call: call.id,
                remote: *local,
            });
            match purpose {
                Purpose::Record(job) => start_capture(core, call, job, false),
                Purpose::Listen => play_next(core, now, call, calls),
                Purpose::Live(mut l) => {
                    core.media.push_back(MediaCommand::PlayLive {
                        call: call.id,
                        stream: l.stream,
                    });
                    for pcm in l.backlog.drain(..) {
                        core.media
                            .push_back(MediaCommand::LiveBuffer { call: call.id, pcm });
                    }
                    l.samples = 0;
                    if l.ended {
                        core.media
                            .push_back(MediaCommand::LiveEnd { call: call.id });
                    }
                    State::Intercom { call, live: l }
                }
            }
        }
        Ev::Gateway(Event::CommandFailed {
            call: Some(c),
            reason,
            ..
        }) if *c == call.id => {
            core.end_call(calls, call, false);
            if let Purpose::Record(j) = purpose {
                core.fail(j.request, format!("the gateway refused the call: {reason}"));
            }
            core.tone(Tone::Reorder);
            rest(core, now)
        }
        Ev::Media(MediaEvent::Failed { call: c, reason }) if c == call.id => {
            core.end_call(calls, call, true);
            if let Purpose::Record(j) = purpose {
                core.fail(j.request, format!("the media failed: {reason}"));
            }
            rest(core, now)
        }
        Ev::Gateway(Event::OnHook { .. }) => {
            core.end_call(calls, call, true);
            if let Purpose::Record(j) = purpose {
                core.fail(j.request, "hung up before the recording started");
            }
            idle(core, now)
        }
        Ev::Input(Input::LiveBuffer { stream, pcm }) => match purpose {
            Purpose::Live(mut l) if l.stream == stream => {
                hold(core, &mut l, pcm);
                State::AwaitingConnection {
                    call,
                    purpose: Purpose::Live(l),
                }
            }
            p => common(
                State::AwaitingConnection { call, purpose: p },
                core,
                Ev::Input(Input::LiveBuffer { stream, pcm }),
            ),
        },
        Ev::Input(Input::LiveEnd { stream }) => match purpose {
            Purpose::Live(mut l) if l.stream == stream => {
                l.ended = true;
                State::AwaitingConnection {
                    call,
                    purpose: Purpose::Live(l),
                }
            }
            p => common(
                State::AwaitingConnection { call, purpose: p },
                core,
                Ev::Input(Input::LiveEnd { stream }),
            ),
        },
        ev => common(State::AwaitingConnection { call, purpose }, core, ev),
    }
}
