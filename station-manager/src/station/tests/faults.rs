//! The states around the calls: who may be rung, another phone answering, gateway faults and
//! restarts, shutdown, and what a busy phone does with inputs meant for later.

use super::*;

fn stream_ringing(t: &mut T, n: u64) -> StreamId {
    let stream = StreamId(n);
    t.input(Input::LiveStart {
        user: ME,
        stream,
        from: BOB,
    });
    stream
}

#[test]
fn only_an_idle_phone_or_one_ringing_for_messages_can_be_rung() {
    let mut t = T::up();
    assert!(t.st.can_ring());
    t.message(1);
    assert_eq!(t.st.state_name(), "AwaitingOffHook");
    assert!(t.st.can_ring(), "a record request outranks a message ring");
    t.gone(1);
    stream_ringing(&mut t, 5);
    assert!(!t.st.can_ring(), "ringing for a live stream");
    t.cancel_live(5);
    t.record(Delivery::Record);
    assert!(!t.st.can_ring(), "ringing for a request");
    t.pick_up_and_connect();
    assert!(!t.st.can_ring(), "recording");
    t.key('#');
    assert!(!t.st.can_ring(), "finishing the recording");
    t.gateway_down(DownReason::Forced);
    assert!(!t.st.can_ring());
    let mut t = T::up();
    t.gateway_down(DownReason::Unreachable);
    assert!(!t.st.can_ring(), "idle, but its gateway is down");
}

impl T {
    fn cancel_live(&mut self, n: u64) {
        self.st.cancel(self.now, &Answered::Live(StreamId(n)));
        assert_eq!(self.st.state_name(), "Idle");
    }
}

#[test]
fn another_phone_answering_stops_the_ring_for_the_same_thing_only() {
    // A record request: only the same request stops it.
    let mut t = T::up();
    t.record(Delivery::Record);
    t.commands();
    for other in [
        Answered::Record(RequestId(8)),
        Answered::Listen,
        Answered::Live(StreamId(5)),
    ] {
        t.st.cancel(t.now, &other);
        assert_eq!(t.st.state_name(), "AwaitingOffHook", "{other:?}");
    }
    assert!(t.commands().is_empty());
    t.st.cancel(t.now, &Answered::Record(RequestId(7)));
    assert_eq!(t.st.state_name(), "Idle");
    assert_eq!(t.commands(), vec![Command::StopRing { line: line() }]);
    assert_eq!(t.st.poll_timeout(), None);
    assert!(t.outputs().is_empty(), "the request is not failed here");

    // Messages: another phone plays them; they stay queued here but do not ring again.
    let mut t = T::up();
    t.message(1);
    t.commands();
    t.st.cancel(t.now, &Answered::Record(RequestId(7)));
    t.st.cancel(t.now, &Answered::Live(StreamId(5)));
    assert_eq!(t.st.state_name(), "AwaitingOffHook");
    t.st.cancel(t.now, &Answered::Listen);
    assert_eq!(t.st.state_name(), "Idle");
    assert_eq!(t.commands(), vec![Command::StopRing { line: line() }]);
    assert_eq!(t.st.waiting(), 1);

    // A live stream: only the same stream.
    let mut t = T::up();
    stream_ringing(&mut t, 5);
    t.commands();
    t.st.cancel(t.now, &Answered::Live(StreamId(6)));
    t.st.cancel(t.now, &Answered::Listen);
    t.st.cancel(t.now, &Answered::Record(RequestId(7)));
    assert_eq!(t.st.state_name(), "AwaitingOffHook");
    assert!(t.commands().is_empty());
    t.cancel_live(5);
    assert_eq!(t.commands(), vec![Command::StopRing { line: line() }]);

    // A phone in a call is not disturbed.
    let mut t = T::up();
    t.record(Delivery::Record);
    t.pick_up_and_connect();
    t.drain();
    t.st.cancel(t.now, &Answered::Record(RequestId(7)));
    assert_eq!(t.st.state_name(), "Recording");
    assert!(t.commands().is_empty());
}

#[test]
fn picking_up_says_what_for_once() {
    let mut t = T::up();
    stream_ringing(&mut t, 5);
    t.ev(Event::OffHook { line: line() });
    assert_eq!(t.st.take_answered(), Some(Answered::Live(StreamId(5))));
    assert_eq!(t.st.take_answered(), None);
}

#[test]
fn a_graceful_restart_lets_the_recording_finish_but_takes_no_new_work() {
    let mut t = T::up();
    t.record(Delivery::Record);
    let call = t.pick_up_and_connect();
    t.drain();
    t.gateway_down(DownReason::Graceful(Duration::from_secs(30)));
    assert_eq!(t.st.state_name(), "Recording");
    assert!(t.media_out().is_empty(), "no StopCapture");
    assert_eq!(t.st.stats().connections_lost, 0);
    assert!(!t.st.is_available());
    t.input(Input::Record {
        request: RequestId(8),
        user: ME,
        to: vec![BOB],
        delivery: Delivery::Record,
    });
    assert!(matches!(
        &t.outputs()[..],
        [Output::RecordFailed { request: RequestId(8), reason }] if reason.contains("down")
    ));
    t.key('#');
    t.captured(call, 3000);
    assert_eq!(recorded_reason(&t.outputs()), Some(StopReason::StopKey));
}

#[test]
fn a_lost_connection_of_another_call_does_not_end_a_recording() {
    let mut t = T::up();
    t.record(Delivery::Record);
    let call = t.pick_up_and_connect();
    t.drain();
    t.ev(Event::ConnectionLost {
        line: line(),
        call: OTHER_CALL,
        reason: "not ours".into(),
    });
    assert_eq!(t.st.state_name(), "Recording");
    assert!(t.media_out().is_empty());
    // Lost while the file is being finished: still delivered, as lost.
    t.key('#');
    t.ev(Event::ConnectionLost {
        line: line(),
        call,
        reason: "restart".into(),
    });
    t.drain();
    t.captured(call, 3000);
    assert_eq!(recorded_reason(&t.outputs()), Some(StopReason::GatewayLost));
    assert!(
        !t.commands()
            .iter()
            .any(|c| matches!(c, Command::DeleteConnection { .. })),
        "nothing to delete"
    );
}

#[test]
fn every_call_state_counts_a_lost_gateway() {
    // Picked up, waiting for the connection: the request fails.
    let mut t = T::up();
    t.record(Delivery::Record);
    t.ev(Event::OffHook { line: line() });
    t.drain();
    t.gateway_down(DownReason::Unreachable);
    assert_eq!(t.st.stats().connections_lost, 1);
    assert!(matches!(
        &t.outputs()[..],
        [Output::RecordFailed { request: RequestId(7), reason }] if reason == "the gateway went down"
    ));
    assert_eq!(t.calls.ports().in_use(), 0);
    assert!(t.commands().is_empty(), "no DLCX to a gateway that is down");
    assert_eq!(t.st.state_name(), "AwaitingGateway");

    // Recording.
    let mut t = T::up();
    t.record(Delivery::Record);
    t.pick_up_and_connect();
    t.gateway_down(DownReason::Forced);
    assert_eq!(t.st.stats().connections_lost, 1);

    // Playing a live stream.
    let mut t = T::up();
    stream_ringing(&mut t, 5);
    let call = t.pick_up_and_connect();
    t.drain();
    t.gateway_down(DownReason::Forced);
    assert_eq!(t.st.stats().connections_lost, 1);
    assert_eq!(
        t.media_out(),
        vec![
            MediaCommand::StopPlay { call },
            MediaCommand::Close { call }
        ]
    );
    assert_eq!(t.st.state_name(), "AwaitingGateway");

    // Ringing for a live stream: the held buffers are dropped, no connection was lost.
    let mut t = T::up();
    let stream = stream_ringing(&mut t, 5);
    for _ in 0..3 {
        t.input(Input::LiveBuffer {
            stream,
            pcm: vec![0; 160],
        });
    }
    t.gateway_down(DownReason::Forced);
    assert_eq!(t.st.stats().live_dropped, 3);
    assert_eq!(t.st.stats().connections_lost, 0);
    assert_eq!(t.st.poll_timeout(), None);
}

#[test]
fn a_ring_lost_with_the_gateway_rings_again_once_it_is_back() {
    let mut t = T::up();
    t.message(1);
    t.gateway_down(DownReason::Forced);
    assert_eq!(t.st.state_name(), "AwaitingGateway");
    t.commands();
    t.ev(Event::GatewayUp {
        gateway: GatewayId::new("gw1"),
    });
    t.ev(Event::LineStatus {
        line: line(),
        off_hook: false,
    });
    assert_eq!(t.st.state_name(), "AwaitingOffHook");
    assert!(
        t.commands()
            .iter()
            .any(|c| matches!(c, Command::Ring { .. }))
    );
}

#[test]
fn a_connection_lost_after_shutdown_keeps_the_shutdown_reason() {
    let mut t = T::up();
    t.record(Delivery::Record);
    let call = t.pick_up_and_connect();
    t.drain();
    t.st.shutdown(&mut t.calls);
    assert_eq!(
        t.commands(),
        vec![Command::DeleteConnection { line: line(), call }]
    );
    // The gateway reports the delete as its own (a late answer): not a new loss.
    t.ev(Event::ConnectionLost {
        line: line(),
        call,
        reason: "deleted".into(),
    });
    assert!(t.st.is_capturing());
    t.captured(call, 3000);
    assert_eq!(recorded_reason(&t.outputs()), Some(StopReason::Shutdown));
    assert!(!t.st.is_capturing());
    assert!(t.commands().is_empty(), "deleted once");
}

#[test]
fn after_shutdown_a_message_does_not_ring() {
    let mut t = T::up();
    t.st.shutdown(&mut t.calls);
    t.message(1);
    assert_eq!(t.st.state_name(), "Idle");
    assert!(t.commands().is_empty());
    assert_eq!(t.st.waiting(), 1, "it waits for the next start");
}

#[test]
fn a_busy_phone_queues_messages_once_forgets_withdrawn_ones_and_refuses_streams() {
    let mut t = T::up();
    t.record(Delivery::Record);
    t.pick_up_and_connect();
    t.drain();
    t.message(1);
    t.message(1);
    t.message(2);
    assert_eq!(t.st.waiting(), 2, "a message is queued once");
    t.gone(1);
    assert_eq!(t.st.waiting(), 1);
    t.gone(1);
    assert_eq!(t.st.waiting(), 1, "the other one stays");
    stream_ringing(&mut t, 5);
    assert_eq!(t.st.stats().live_refused, 1);
    assert_eq!(t.st.stats().ignored, 0, "none of these meant nothing");
    assert_eq!(t.st.state_name(), "Recording");
    assert!(t.commands().is_empty());
}

#[test]
fn hook_changes_while_the_gateway_is_down_are_stale_not_ignored() {
    let mut t = T::up();
    t.gateway_down(DownReason::Forced);
    t.ev(Event::OffHook { line: line() });
    t.ev(Event::OnHook { line: line() });
    assert_eq!(t.st.state_name(), "AwaitingGateway");
    assert_eq!(t.st.stats().ignored, 0);
    // A second off-hook while already off hook meant nothing: counted.
    let mut t = T::up();
    t.ev(Event::OffHook { line: line() });
    assert_eq!(t.st.state_name(), "AwaitingOnHook", "nothing to hear");
    t.ev(Event::OffHook { line: line() });
    assert_eq!(t.st.stats().ignored, 1);
}

#[test]
fn facts_and_answers_already_taken_in_are_not_counted_as_ignored() {
    let mut t = T::up();
    t.record(Delivery::Record);
    let call = t.pick_up_and_connect();
    for e in [
        Event::LineStatus {
            line: line(),
            off_hook: true,
        },
        Event::GatewayUp {
            gateway: GatewayId::new("gw1"),
        },
        Event::ConnectionModified { line: line(), call },
        Event::ConnectionDeleted { line: line(), call },
    ] {
        t.ev(e);
    }
    assert_eq!(t.st.state_name(), "Recording");
    assert_eq!(t.st.stats().ignored, 0);
    t.ev(Event::HookFlash { line: line() });
    assert_eq!(t.st.stats().ignored, 1, "a flash means nothing here");
}

#[test]
fn unanswered_rings_are_counted_and_a_stream_rung_out_drops_its_backlog() {
    let mut t = T::up();
    let stream = stream_ringing(&mut t, 5);
    for _ in 0..4 {
        t.input(Input::LiveBuffer {
            stream,
            pcm: vec![0; 160],
        });
    }
    t.now = t.st.poll_timeout().unwrap();
    t.st.handle_timeout(t.now, &mut t.calls);
    assert_eq!(t.st.state_name(), "Idle");
    let stats = *t.st.stats();
    assert_eq!((stats.rings, stats.unanswered), (1, 1));
    assert_eq!(stats.live_dropped, 4);
}

#[test]
fn a_stream_to_a_phone_ringing_for_messages_rings_for_the_full_time_then_the_messages_ring() {
    let mut t = T::up();
    t.message(1);
    t.now += Duration::from_secs(20);
    stream_ringing(&mut t, 5);
    assert_eq!(
        t.st.poll_timeout(),
        Some(t.now + Duration::from_secs(60)),
        "the stream's own ring time"
    );
    t.commands();
    t.now += Duration::from_secs(60);
    t.st.handle_timeout(t.now, &mut t.calls);
    assert_eq!(
        t.st.state_name(),
        "AwaitingOffHook",
        "the messages ring again"
    );
    assert!(
        t.commands()
            .iter()
            .any(|c| matches!(c, Command::Ring { .. }))
    );
}

#[test]
fn only_the_phones_own_connection_answers_count_while_connecting() {
    let mut t = T::up();
    t.record(Delivery::Record);
    t.ev(Event::OffHook { line: line() });
    t.drain();
    t.ev(Event::ConnectionCreated {
        line: line(),
        call: OTHER_CALL,
        local: Media {
            address: "192.0.2.2:16384".parse().unwrap(),
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            telephone_event: None,
        },
    });
    t.ev(Event::CommandFailed {
        line: line(),
        call: Some(OTHER_CALL),
        code: 500,
        reason: "not ours".into(),
    });
    t.media(MediaEvent::Failed {
        call: OTHER_CALL,
        reason: "not ours".into(),
    });
    assert_eq!(t.st.state_name(), "AwaitingConnection");
    assert!(t.media_out().is_empty());
    assert!(t.outputs().is_empty());
    assert!(t.commands().is_empty());
}

/// Picks up for request 7 and returns the call the station asked for.
fn connecting(t: &mut T) -> CallId {
    t.record(Delivery::Record);
    t.ev(Event::OffHook { line: line() });
    let call = t
        .commands()
        .into_iter()
        .find_map(|c| match c {
            Command::CreateConnection { call, .. } => Some(call),
            _ => None,
        })
        .unwrap();
    t.drain();
    call
}

#[test]
fn a_connection_the_gateway_refuses_fails_the_request_with_the_error_tone() {
    let mut t = T::up();
    let call = connecting(&mut t);
    t.ev(Event::CommandFailed {
        line: line(),
        call: Some(call),
        code: 502,
        reason: "no resources".into(),
    });
    assert!(matches!(
        &t.outputs()[..],
        [Output::RecordFailed { request: RequestId(7), reason }]
            if reason == "the gateway refused the call: no resources"
    ));
    assert_eq!(
        t.commands(),
        vec![Command::PlayTone {
            line: line(),
            tone: Tone::Reorder
        }],
        "no DLCX for a connection that was never made"
    );
    assert_eq!(t.media_out(), vec![MediaCommand::Close { call }]);
    assert_eq!(t.st.state_name(), "AwaitingOnHook");
}

#[test]
fn media_that_fails_while_connecting_fails_the_request() {
    let mut t = T::up();
    let call = connecting(&mut t);
    t.media(MediaEvent::Failed {
        call,
        reason: "RTP port 20000: in use".into(),
    });
    assert!(matches!(
        &t.outputs()[..],
        [Output::RecordFailed { request: RequestId(7), reason }]
            if reason == "the media failed: RTP port 20000: in use"
    ));
    assert_eq!(t.calls.ports().in_use(), 0);
    assert_eq!(t.st.state_name(), "AwaitingOnHook");
}

#[test]
fn the_lamp_changes_only_while_the_phone_is_on_hook() {
    let mut t = T {
        st: Station::new(line(), ME, {
            let mut c = Config::default();
            c.message_lamp(true);
            c
        }),
        ..T::up()
    };
    t.ev(Event::GatewayUp {
        gateway: GatewayId::new("gw1"),
    });
    t.ev(Event::LineStatus {
        line: line(),
        off_hook: false,
    });
    t.message(1);
    let lamp_on = Command::PlayTone {
        line: line(),
        tone: Tone::MessageWaitingLamp,
    };
    assert!(t.commands().contains(&lamp_on));
    let call = t.pick_up_and_connect();
    t.media(MediaEvent::PlayDone { call });
    assert_eq!(t.st.state_name(), "AwaitingOnHook");
    assert!(
        !t.commands().contains(&Command::StopTone { line: line() }),
        "not while the confirmation tone plays"
    );
    t.ev(Event::OnHook { line: line() });
    assert_eq!(t.commands(), vec![Command::StopTone { line: line() }]);
}
