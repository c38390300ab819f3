//! Recording: what stops a capture and what does not, the file (or its failure) afterwards.

use super::*;

#[test]
fn only_the_stop_key_stops_a_recording() {
    let mut t = T::up();
    t.record(Delivery::Record);
    let call = t.pick_up_and_connect();
    t.drain();
    for k in ['1', '0', '*', 'D'] {
        t.key(k);
    }
    for k in ['5', '9'] {
        t.in_band(call, k);
    }
    assert_eq!(t.st.state_name(), "Recording");
    assert!(t.media_out().is_empty(), "no StopCapture for another key");
    assert_eq!(
        t.st.stats().ignored,
        6,
        "each other key is counted as ignored"
    );
    t.in_band(call, '#');
    assert_eq!(t.media_out(), vec![MediaCommand::StopCapture { call }]);
    t.captured(call, 2000);
    assert_eq!(recorded_reason(&t.outputs()), Some(StopReason::StopKey));
}

#[test]
fn events_of_another_call_neither_stop_nor_end_a_recording() {
    let mut t = T::up();
    t.record(Delivery::Intercom);
    let call = t.pick_up_and_connect();
    t.drain();
    let other = OTHER_CALL;
    t.in_band(other, '#');
    t.media(MediaEvent::Silence { call: other });
    t.media(MediaEvent::MaxLength { call: other });
    t.media(MediaEvent::Buffer {
        call: other,
        seq: 0,
        pcm: vec![0; 160],
        received: t.now,
    });
    t.captured(other, 1000);
    t.media(MediaEvent::Failed {
        call: other,
        reason: "not ours".into(),
    });
    assert_eq!(t.st.state_name(), "Recording");
    assert!(t.media_out().is_empty());
    assert!(
        t.outputs().is_empty(),
        "nothing delivered, relayed or failed"
    );
    // Stopped: the file of another call is not ours either.
    t.key('#');
    assert_eq!(t.media_out(), vec![MediaCommand::StopCapture { call }]);
    t.media(MediaEvent::Buffer {
        call: other,
        seq: 1,
        pcm: vec![0; 160],
        received: t.now,
    });
    t.captured(other, 1000);
    t.media(MediaEvent::Failed {
        call: other,
        reason: "not ours".into(),
    });
    assert_eq!(t.st.state_name(), "AwaitingCapture");
    assert!(t.outputs().is_empty());
    assert!(t.st.is_capturing());
    t.captured(call, 1000);
    assert_eq!(recorded_reason(&t.outputs()), Some(StopReason::StopKey));
    assert!(!t.st.is_capturing());
}

#[test]
fn a_recording_that_fails_fails_the_request_and_ends_the_call() {
    for engine_stopped_by_itself in [false, true] {
        let mut t = T::up();
        t.record(Delivery::Record);
        let call = t.pick_up_and_connect();
        t.drain();
        if !engine_stopped_by_itself {
            t.key('#');
            assert_eq!(t.st.state_name(), "AwaitingCapture");
        }
        t.media_out();
        t.media(MediaEvent::Failed {
            call,
            reason: "disk full".into(),
        });
        let out = t.outputs();
        assert!(
            matches!(
                &out[..],
                [Output::RecordFailed { request: RequestId(7), reason }]
                    if reason == "the recording failed: disk full"
            ),
            "{out:?}"
        );
        assert!(
            t.commands()
                .contains(&Command::DeleteConnection { line: line(), call })
        );
        assert_eq!(t.media_out(), vec![MediaCommand::Close { call }]);
        assert_eq!(t.calls.ports().in_use(), 0);
        assert_eq!(t.st.state_name(), "AwaitingOnHook");
        assert_eq!(t.st.stats().record_failures, 1);
        assert_eq!(t.st.stats().recordings, 0);
    }
}

#[test]
fn intercom_buffers_the_engine_had_before_the_stop_still_go_out() {
    let mut t = T::up();
    t.record(Delivery::Intercom);
    let call = t.pick_up_and_connect();
    t.drain();
    t.key('#');
    t.media(MediaEvent::Buffer {
        call,
        seq: 0,
        pcm: vec![3; 80],
        received: t.now - Duration::from_millis(7),
    });
    t.captured(call, 10);
    let out = t.outputs();
    let stream = Calls::stream_for(call);
    assert_eq!(
        out[..2],
        [
            Output::LiveBuffer {
                user: ME,
                to: vec![BOB],
                stream,
                seq: 0,
                pcm: vec![3; 80],
                received: t.now - Duration::from_millis(7),
            },
            Output::LiveEnd { user: ME, stream },
        ]
    );
    assert!(matches!(
        out[2],
        Output::Recorded {
            stream: Some(s),
            ..
        } if s == stream
    ));
}

#[test]
fn recordings_delivered_are_counted_and_empty_ones_are_not() {
    let mut t = T::up();
    t.record(Delivery::Record);
    let call = t.pick_up_and_connect();
    t.key('#');
    t.captured(call, 3000);
    assert_eq!(t.st.stats().recordings, 1);
    t.ev(Event::OnHook { line: line() });
    t.drain();
    t.record(Delivery::Record);
    let call = t.pick_up_and_connect();
    t.key('#');
    t.captured_speech(call, 3000, 0);
    assert_eq!(
        t.st.stats().recordings,
        1,
        "an empty recording is not counted"
    );
    assert_eq!(t.st.stats().rings, 2);
}

#[test]
fn hanging_up_at_once_still_hands_over_the_empty_file() {
    let mut t = T::up();
    t.record(Delivery::Record);
    let call = t.pick_up_and_connect();
    t.ev(Event::OnHook { line: line() });
    t.drain();
    t.captured(call, 0);
    let out = t.outputs();
    assert_eq!(recorded_reason(&out), Some(StopReason::OnHook), "{out:?}");
    let commands = t.commands();
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::PlayTone { .. })),
        "no tone to a phone on hook: {commands:?}"
    );
    assert_eq!(t.st.state_name(), "Idle");
}

#[test]
fn a_recording_ends_the_call_even_when_messages_wait() {
    let mut t = T::up();
    t.record(Delivery::Record);
    let call = t.pick_up_and_connect();
    t.message(1);
    assert_eq!(t.st.waiting(), 1);
    t.drain();
    t.key('#');
    t.captured(call, 3000);
    assert_eq!(
        t.st.state_name(),
        "AwaitingOnHook",
        "no playback after a request"
    );
    let media = t.media_out();
    assert!(
        !media
            .iter()
            .any(|m| matches!(m, MediaCommand::PlayMessage { .. })),
        "{media:?}"
    );
    assert!(media.contains(&MediaCommand::Close { call }));
    t.ev(Event::OnHook { line: line() });
    assert_eq!(
        t.st.state_name(),
        "AwaitingOffHook",
        "the message rings now"
    );
}

/// Picks up for messages 1 and 2 and answers message 1 with `*`; returns the call.
fn reply_to_the_first_of_two(t: &mut T) -> CallId {
    t.message(1);
    t.message(2);
    let call = t.pick_up_and_connect();
    t.key('*');
    assert_eq!(t.st.state_name(), "Recording");
    let media = t.media_out();
    assert!(media.contains(&MediaCommand::StopPlay { call }));
    assert!(media.iter().any(|m| matches!(
        m,
        MediaCommand::StartCapture {
            live_buffer: None,
            ..
        }
    )));
    call
}

#[test]
fn a_reply_with_speech_goes_on_to_the_next_message() {
    let mut t = T::up();
    let call = reply_to_the_first_of_two(&mut t);
    t.drain();
    t.key('#');
    t.captured(call, 2000);
    let out = t.outputs();
    assert!(
        out.iter().any(|o| matches!(
            o,
            Output::Recorded { request: None, to, .. } if to == &vec![BOB]
        )),
        "{out:?}"
    );
    assert_eq!(t.st.state_name(), "Playing");
    assert_eq!(
        t.media_out()[1..],
        [MediaCommand::PlayMessage {
            call,
            message: msg(2)
        }]
    );
}

#[test]
fn an_empty_reply_ends_the_call_with_the_error_tone() {
    let mut t = T::up();
    let call = reply_to_the_first_of_two(&mut t);
    t.drain();
    t.media(MediaEvent::Silence { call });
    t.captured_speech(call, 5000, 0);
    assert_eq!(t.st.state_name(), "AwaitingOnHook");
    assert!(t.commands().contains(&Command::PlayTone {
        line: line(),
        tone: Tone::Reorder
    }));
    assert_eq!(t.st.waiting(), 1, "message 2 still waits");
}

#[test]
fn a_reply_cut_by_the_gateway_does_not_go_on_playing() {
    let mut t = T::up();
    let call = reply_to_the_first_of_two(&mut t);
    t.ev(Event::ConnectionLost {
        line: line(),
        call,
        reason: "gateway-initiated delete".into(),
    });
    t.drain();
    t.captured(call, 2000);
    assert_eq!(recorded_reason(&t.outputs()), Some(StopReason::GatewayLost));
    assert_eq!(t.st.state_name(), "AwaitingOnHook");
    let commands = t.commands();
    assert!(
        !commands
            .iter()
            .any(|c| matches!(c, Command::DeleteConnection { .. })),
        "the connection is gone already: {commands:?}"
    );
    assert_eq!(t.media_out(), vec![MediaCommand::Close { call }]);
}
