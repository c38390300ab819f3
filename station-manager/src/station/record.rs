//! Recording: the capture, its stop conditions, and handing the file to the IVM core.

use std::time::Instant;

use gateway_control::model::{Digit, Event, Tone};
use tracing::debug;

use super::listen::play_next;
use super::states::{Call, Capture, Ev, RecordJob, State, common, rest};
use super::{Calls, Core};
use crate::{Delivery, MediaCommand, MediaEvent, Output, StopReason};

pub(super) fn start_capture(core: &mut Core, call: Call, job: RecordJob, resume: bool) -> State {
    core.tone(Tone::Confirmation);
    core.outputs.push_back(Output::Capturing {
        request: job.request,
        user: core.user,
    });
    let live = job.delivery == Delivery::Intercom;
    core.media.push_back(MediaCommand::StartCapture {
        call: call.id,
        silence: core.config.silence,
        max_length: core.config.max_length,
        live_buffer: live.then(|| core.config.live_samples()),
    });
    State::Recording(Capture {
        call,
        stream: live.then(|| Calls::stream_for(call.id)),
        job,
        resume,
        connected: true,
    })
}

pub(super) fn is_stop_key(d: Digit) -> bool {
    d.as_char() == '#'
}

pub(super) fn on_recording(
    c: Capture,
    core: &mut Core,
    now: Instant,
    ev: Ev<'_>,
    calls: &mut Calls,
) -> State {
    let stop = match &ev {
        Ev::Gateway(Event::OnHook { .. }) => Some(StopReason::OnHook),
        Ev::Gateway(Event::Digit { digit, .. }) if is_stop_key(*digit) => Some(StopReason::StopKey),
        Ev::Media(MediaEvent::Digit { call, digit })
            if *call == c.call.id && is_stop_key(*digit) =>
        {
            Some(StopReason::StopKey)
        }
        Ev::Media(MediaEvent::Silence { call }) if *call == c.call.id => Some(StopReason::Silence),
        Ev::Media(MediaEvent::MaxLength { call }) if *call == c.call.id => {
            Some(StopReason::MaxLength)
        }
        _ => None,
    };
    if let Some(why) = stop {
        core.media
            .push_back(MediaCommand::StopCapture { call: c.call.id });
        return State::AwaitingCapture(c, why);
    }
    match ev {
        Ev::Media(MediaEvent::Buffer {
            call,
            seq,
            pcm,
            received,
        }) if call == c.call.id => {
            if let Some(stream) = c.stream {
                core.outputs.push_back(Output::LiveBuffer {
                    user: core.user,
                    to: c.job.to.clone(),
                    stream,
                    seq,
                    pcm,
                    received,
                });
            }
            State::Recording(c)
        }
        // The engine stopped by itself (maximum length reached without a separate event).
        ev @ Ev::Media(MediaEvent::Captured { call, .. } | MediaEvent::Failed { call, .. })
            if call == c.call.id =>
        {
            on_captured(c, StopReason::MaxLength, core, now, ev, calls)
        }
        ev => common(State::Recording(c), core, ev),
    }
}

pub(super) fn deliver(
    core: &mut Core,
    c: &Capture,
    why: StopReason,
    file: std::path::PathBuf,
    duration: std::time::Duration,
    speech: std::time::Duration,
) {
    if let Some(stream) = c.stream {
        core.outputs.push_back(Output::LiveEnd {
            user: core.user,
            stream,
        });
    }
    if why == StopReason::GatewayLost && duration.is_zero() {
        core.fail(
            c.job.request,
            "the gateway went down before anything was recorded",
        );
        return;
    }
    if speech.is_zero() {
        debug!(line = %core.line, ?duration, "nothing was said: the recording is not sent");
    } else {
        core.stats.recordings += 1;
    }
    core.outputs.push_back(Output::Recorded {
        request: c.job.request,
        user: core.user,
        to: c.job.to.clone(),
        file,
        duration,
        speech,
        reason: why,
        stream: c.stream,
    });
}

pub(super) fn on_captured(
    c: Capture,
    why: StopReason,
    core: &mut Core,
    now: Instant,
    ev: Ev<'_>,
    calls: &mut Calls,
) -> State {
    match ev {
        Ev::Media(MediaEvent::Captured {
            call,
            file,
            duration,
            speech,
        }) if call == c.call.id => {
            deliver(core, &c, why, file, duration, speech);
            let empty = speech.is_zero();
            if c.resume && c.connected && core.off_hook && core.up && !empty {
                return play_next(core, now, c.call, calls);
            }
            core.end_call(calls, c.call, c.connected);
            if core.off_hook && core.up {
                // An empty recording is not sent: the caller hears the error tone (reorder,
                // `L/ro`; the line package's `L/of` is an event, not a signal).
                core.tone(if empty {
                    Tone::Reorder
                } else {
                    Tone::Confirmation
                });
            }
            rest(core, now)
        }
        Ev::Media(MediaEvent::Failed { call, reason }) if call == c.call.id => {
            core.fail(c.job.request, format!("the recording failed: {reason}"));
            core.end_call(calls, c.call, c.connected);
            rest(core, now)
        }
        Ev::Media(MediaEvent::Buffer {
            call,
            seq,
            pcm,
            received,
        }) if call == c.call.id => {
            // Buffers the engine had before it stopped still go out.
            if let Some(stream) = c.stream {
                core.outputs.push_back(Output::LiveBuffer {
                    user: core.user,
                    to: c.job.to.clone(),
                    stream,
                    seq,
                    pcm,
                    received,
                });
            }
            State::AwaitingCapture(c, why)
        }
        Ev::Gateway(Event::OnHook { .. }) => State::AwaitingCapture(c, why),
        Ev::Media(
            MediaEvent::Silence { .. } | MediaEvent::MaxLength { .. } | MediaEvent::Digit { .. },
        )
        | Ev::Gateway(Event::Digit { .. }) => State::AwaitingCapture(c, why),
        ev => common(State::AwaitingCapture(c, why), core, ev),
    }
}
