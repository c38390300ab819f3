//! Listening: waiting messages played one by one with keys, and live streams played out.

use std::time::Instant;

use gateway_control::model::{Event, Tone};
use tracing::debug;

use super::record::start_capture;
use super::states::{Call, Ev, Live, RecordJob, State, common, idle, rest};
use super::{Calls, Core, Waiting};
use crate::{Delivery, Input, MediaCommand, MediaEvent, Output};

/// Plays the next waiting message, or says there is nothing left and ends the call.
pub(super) fn play_next(core: &mut Core, now: Instant, call: Call, calls: &mut Calls) -> State {
    if let Some(current) = core.waiting.pop_front() {
        core.media.push_back(MediaCommand::PlayMessage {
            call: call.id,
            message: current.message,
        });
        return State::Playing { call, current };
    }
    core.end_call(calls, call, true);
    core.tone(Tone::Confirmation);
    rest(core, now)
}

pub(super) fn on_playing(
    call: Call,
    current: Waiting,
    core: &mut Core,
    now: Instant,
    ev: Ev<'_>,
    calls: &mut Calls,
) -> State {
    let key = match &ev {
        Ev::Gateway(Event::Digit { digit, .. }) => Some(digit.as_char()),
        Ev::Media(MediaEvent::Digit { call: c, digit }) if *c == call.id => Some(digit.as_char()),
        _ => None,
    };
    let played = |core: &mut Core| {
        core.stats.played += 1;
        core.outputs.push_back(Output::Played {
            user: core.user,
            message: current.message,
        });
    };
    match key {
        Some('#') => {
            core.media
                .push_back(MediaCommand::StopPlay { call: call.id });
            played(core);
            return play_next(core, now, call, calls);
        }
        Some('7') => {
            core.media
                .push_back(MediaCommand::StopPlay { call: call.id });
            core.stats.deleted += 1;
            core.outputs.push_back(Output::Deleted {
                user: core.user,
                message: current.message,
            });
            return play_next(core, now, call, calls);
        }
        Some('4') => {
            core.media
                .push_back(MediaCommand::StopPlay { call: call.id });
            core.media.push_back(MediaCommand::PlayMessage {
                call: call.id,
                message: current.message,
            });
            return State::Playing { call, current };
        }
        Some('*') => {
            core.media
                .push_back(MediaCommand::StopPlay { call: call.id });
            played(core);
            let job = RecordJob {
                request: None,
                to: vec![current.from],
                delivery: Delivery::Record,
            };
            return start_capture(core, call, job, true);
        }
        Some(_) => {
            core.stats.ignored += 1;
            return State::Playing { call, current };
        }
        None => {}
    }
    match ev {
        Ev::Media(MediaEvent::PlayDone { call: c }) if c == call.id => {
            played(core);
            play_next(core, now, call, calls)
        }
        Ev::Media(MediaEvent::Failed { call: c, reason }) if c == call.id => {
            core.stats.play_failures += 1;
            debug!(line = %core.line, %reason, "message could not be played");
            play_next(core, now, call, calls)
        }
        Ev::Gateway(Event::OnHook { .. }) => {
            core.waiting.push_front(current);
            core.media
                .push_back(MediaCommand::StopPlay { call: call.id });
            core.end_call(calls, call, true);
            core.ring_pending = false;
            idle(core, now)
        }
        Ev::Input(Input::MessageGone { message, .. }) if message == current.message => {
            core.media
                .push_back(MediaCommand::StopPlay { call: call.id });
            play_next(core, now, call, calls)
        }
        Ev::Input(i @ Input::MessageWaiting { .. }) => {
            common(State::Idle, core, Ev::Input(i));
            core.ring_pending = false;
            State::Playing { call, current }
        }
        ev => common(State::Playing { call, current }, core, ev),
    }
}

pub(super) fn on_intercom(
    call: Call,
    mut live: Live,
    core: &mut Core,
    now: Instant,
    ev: Ev<'_>,
    calls: &mut Calls,
) -> State {
    match ev {
        Ev::Input(Input::LiveBuffer { stream, pcm }) if stream == live.stream => {
            core.media
                .push_back(MediaCommand::LiveBuffer { call: call.id, pcm });
            State::Intercom { call, live }
        }
        Ev::Input(Input::LiveEnd { stream }) if stream == live.stream => {
            live.ended = true;
            core.media
                .push_back(MediaCommand::LiveEnd { call: call.id });
            State::Intercom { call, live }
        }
        Ev::Media(MediaEvent::PlayDone { call: c }) if c == call.id => {
            if live.ended {
                core.stream_heard(live.stream);
            }
            play_next(core, now, call, calls)
        }
        Ev::Media(MediaEvent::Failed { call: c, .. }) if c == call.id => {
            play_next(core, now, call, calls)
        }
        Ev::Gateway(Event::OnHook { .. }) => {
            core.media
                .push_back(MediaCommand::StopPlay { call: call.id });
            core.end_call(calls, call, true);
            idle(core, now)
        }
        ev => common(State::Intercom { call, live }, core, ev),
    }
}
