//! Station scenarios in virtual time: the real station manager, MGCP call agent and gateway
//! simulator, with a scripted stand-in for the media engine only (see `support`).

mod support;

use std::time::Duration;

use gateway_control::model::{Command, Digit, Tone};
use gateway_sim::LineCommand;
use station_manager::{
    Delivery, Input, MediaCommand, MediaEvent, MessageId, Output, RequestId, StopReason, StreamId,
};
use support::{ALICE, BOB, CAROL, Harness, line};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Alice asks to record for Bob; her phone (line 1) rings distinctively and she picks up.
fn alice_records(h: &mut Harness, delivery: Delivery) {
    h.input(Input::Record {
        request: RequestId(1),
        user: ALICE,
        to: vec![BOB],
        delivery,
    });
    h.advance(secs(1));
    assert_eq!(h.pair.gateway.is_ringing(1), Some(true));
    assert_eq!(h.rings(1), vec!["L/r1".to_owned()], "the distinctive ring");
    assert_eq!(h.state(1), "AwaitingOffHook");
    h.phone(LineCommand::OffHook(1));
    assert_eq!(h.pair.gateway.is_ringing(1), Some(false));
    assert_eq!(h.state(1), "Recording");
    assert_eq!(
        h.pair.gateway.connections(1).len(),
        1,
        "the connection exists on the gateway"
    );
    assert!(h.commands.iter().any(|c| matches!(
        c,
        Command::PlayTone {
            tone: Tone::Confirmation,
            ..
        }
    )));
}

/// The one `Recorded` output, checked for what every recording shares.
fn one_recording(h: &Harness) -> (Duration, StopReason, Option<StreamId>) {
    let rec = h.recorded();
    assert_eq!(rec.len(), 1, "{:#?}", h.outputs);
    let Output::Recorded {
        request,
        user,
        to,
        file,
        duration,
        reason,
        stream,
        ..
    } = rec[0].clone()
    else {
        unreachable!()
    };
    assert_eq!(request, Some(RequestId(1)));
    assert_eq!((user, to), (ALICE, vec![BOB]));
    let captured = h.media.log.iter().rev().find_map(|m| match m {
        MediaCommand::StartCapture { call, .. } => Some(*call),
        _ => None,
    });
    assert_eq!(Some(file), captured.map(Harness::file_for));
    (duration, reason, stream)
}

/// After a recording the connection is deleted on the gateway and every port is back.
fn call_cleaned_up(h: &Harness, n: u16) {
    assert!(h.pair.gateway.connections(n).is_empty());
    assert_eq!(h.mgr.ports_in_use(), 0);
    assert!(
        h.media
            .log
            .iter()
            .any(|m| matches!(m, MediaCommand::Close { call } if *call == h.last_call()))
    );
}

#[test]
fn record_ends_on_hang_up() {
    let mut h = Harness::new(|_| {});
    alice_records(&mut h, Delivery::Record);
    h.advance(secs(4));
    h.phone(LineCommand::OnHook(1));
    let (d, why, stream) = one_recording(&h);
    assert_eq!(why, StopReason::OnHook);
    assert_eq!(stream, None);
    assert!(d >= secs(4) && d < secs(6), "{d:?}");
    call_cleaned_up(&h, 1);
    assert_eq!(h.state(1), "Idle");
    let stats = h.mgr.stats();
    assert_eq!(stats.stations.ignored, 0, "{stats:?}");
    assert_eq!(stats.unknown_call, 0);
    assert_eq!(
        h.pair.gateway.stats().refused,
        0,
        "the gateway refused nothing"
    );
}

#[test]
fn record_ends_on_the_stop_key_from_the_gateway() {
    let mut h = Harness::new(|_| {});
    alice_records(&mut h, Delivery::Record);
    h.advance(secs(3));
    h.phone(LineCommand::Digits(1, "#".into()));
    let (_, why, _) = one_recording(&h);
    assert_eq!(why, StopReason::StopKey);
    call_cleaned_up(&h, 1);
    assert_eq!(h.state(1), "AwaitingOnHook", "still off hook");
    h.phone(LineCommand::OnHook(1));
    assert_eq!(h.state(1), "Idle");
}

#[test]
fn record_ends_on_the_in_band_stop_key() {
    let mut h = Harness::new(|_| {});
    alice_records(&mut h, Delivery::Record);
    h.advance(secs(2));
    let call = h.last_call();
    h.media_event(MediaEvent::Digit {
        call,
        digit: Digit::new('#').unwrap(),
    });
    assert_eq!(one_recording(&h).1, StopReason::StopKey);
    call_cleaned_up(&h, 1);
}

#[test]
fn record_ends_on_silence() {
    let mut h = Harness::new(|c| {
        c.silence(Some(secs(3))).unwrap();
    });
    alice_records(&mut h, Delivery::Record);
    let asked = h.media.log.iter().find_map(|m| match m {
        MediaCommand::StartCapture { silence, .. } => Some(*silence),
        _ => None,
    });
    assert_eq!(asked, Some(Some(secs(3))));
    h.advance(secs(5));
    let call = h.last_call();
    h.media_event(MediaEvent::Silence { call });
    assert_eq!(one_recording(&h).1, StopReason::Silence);
    call_cleaned_up(&h, 1);
}

#[test]
fn record_ends_at_the_maximum_length() {
    let mut h = Harness::new(|c| {
        c.max_length(secs(10)).unwrap();
    });
    alice_records(&mut h, Delivery::Record);
    h.advance(secs(9));
    assert!(h.recorded().is_empty());
    h.advance(secs(2));
    let (d, why, _) = one_recording(&h);
    assert_eq!(why, StopReason::MaxLength);
    assert!(d >= secs(9) && d <= secs(10), "{d:?}");
    call_cleaned_up(&h, 1);
}

#[test]
fn record_request_with_no_answer_fails_and_stops_ringing() {
    let mut h = Harness::new(|c| {
        c.record_ring_timeout(secs(20)).unwrap();
    });
    h.input(Input::Record {
        request: RequestId(1),
        user: ALICE,
        to: vec![BOB],
        delivery: Delivery::Record,
    });
    h.advance(secs(19));
    assert_eq!(h.pair.gateway.is_ringing(1), Some(true));
    assert!(h.outputs.is_empty());
    h.advance(secs(2));
    assert_eq!(h.pair.gateway.is_ringing(1), Some(false));
    assert!(
        matches!(&h.outputs[..], [Output::RecordFailed { request: RequestId(1), reason }] if reason == "no answer after 20 s"),
        "{:#?}",
        h.outputs
    );
    assert_eq!(h.state(1), "Idle");
    assert_eq!(h.mgr.stats().stations.unanswered, 1);
}

fn message(n: u8) -> MessageId {
    MessageId([n; 16])
}

fn played(h: &Harness) -> Vec<MessageId> {
    h.media
        .log
        .iter()
        .filter_map(|m| match m {
            MediaCommand::PlayMessage { message, .. } => Some(*message),
            _ => None,
        })
        .collect()
}

fn key(h: &mut Harness, n: u16, k: &str) {
    h.phone(LineCommand::Digits(n, k.into()));
}

#[test]
fn listen_with_next_delete_replay_and_reply() {
    let mut h = Harness::new(|_| {});
    for n in 1..=4 {
        h.input(Input::MessageWaiting {
            user: BOB,
            message: message(n),
            from: if n == 4 { CAROL } else { ALICE },
        });
    }
    h.advance(secs(1));
    assert_eq!(h.pair.gateway.is_ringing(2), Some(true));
    assert_eq!(
        h.rings(2),
        vec!["L/rg".to_owned()],
        "one normal ring for all"
    );
    h.phone(LineCommand::OffHook(2));
    assert_eq!(h.state(2), "Playing");
    // The first plays to its end.
    h.advance(secs(3));
    assert_eq!(
        h.take_outputs(),
        vec![Output::Played {
            user: BOB,
            message: message(1)
        }]
    );
    // `4` replays the second, `#` moves on (and marks it played).
    h.advance(secs(1));
    key(&mut h, 2, "4");
    key(&mut h, 2, "#");
    assert_eq!(
        h.take_outputs(),
        vec![Output::Played {
            user: BOB,
            message: message(2)
        }]
    );
    // `7` deletes the third.
    key(&mut h, 2, "7");
    assert_eq!(
        h.take_outputs(),
        vec![Output::Deleted {
            user: BOB,
            message: message(3)
        }]
    );
    // `*` replies to the fourth's sender; `#` ends the reply.
    key(&mut h, 2, "*");
    assert_eq!(h.state(2), "Recording");
    h.advance(secs(2));
    key(&mut h, 2, "#");
    let out = h.take_outputs();
    assert_eq!(
        out[..2],
        [
            Output::Played {
                user: BOB,
                message: message(4)
            },
            Output::Capturing {
                request: None,
                user: BOB
            }
        ]
    );
    let Output::Recorded {
        request,
        user,
        to,
        reason,
        ..
    } = &out[2]
    else {
        panic!("{out:#?}")
    };
    assert_eq!(
        (*request, *user, to.clone(), *reason),
        (None, BOB, vec![CAROL], StopReason::StopKey)
    );
    assert_eq!(
        played(&h),
        vec![message(1), message(2), message(2), message(3), message(4)]
    );
    // Nothing left: a short tone, the call is gone, waiting for the hang-up.
    assert_eq!(h.state(2), "AwaitingOnHook");
    assert!(h.pair.gateway.connections(2).is_empty());
    assert!(matches!(
        h.commands.last(),
        Some(Command::PlayTone {
            tone: Tone::Confirmation,
            ..
        })
    ));
    h.phone(LineCommand::OnHook(2));
    assert_eq!(h.state(2), "Idle");
    assert_eq!(h.mgr.ports_in_use(), 0);
    assert_eq!(h.mgr.stats().stations.ignored, 0);
    assert_eq!(
        h.pair.gateway.stats().refused,
        0,
        "the gateway refused nothing"
    );
}

#[test]
fn picking_up_with_nothing_ringing_plays_waiting_messages() {
    let mut h = Harness::new(|c| {
        c.message_ring_timeout(secs(10)).unwrap();
    });
    h.input(Input::MessageWaiting {
        user: BOB,
        message: message(9),
        from: ALICE,
    });
    h.advance(secs(15));
    assert_eq!(
        h.pair.gateway.is_ringing(2),
        Some(false),
        "rang, unanswered"
    );
    assert_eq!(h.state(2), "Idle");
    h.advance(secs(60));
    assert_eq!(h.rings(2).len(), 1, "it does not ring again by itself");
    h.phone(LineCommand::OffHook(2));
    assert_eq!(h.state(2), "Playing");
    h.advance(secs(3));
    assert_eq!(
        h.take_outputs(),
        vec![Output::Played {
            user: BOB,
            message: message(9)
        }]
    );
    // Picking up again with nothing waiting: a short tone and no connection.
    h.phone(LineCommand::OnHook(2));
    h.phone(LineCommand::OffHook(2));
    assert_eq!(h.state(2), "AwaitingOnHook");
    assert!(h.pair.gateway.connections(2).is_empty());
}

#[test]
fn the_message_waiting_lamp_is_lit_while_messages_wait() {
    let mut h = Harness::new(|c| {
        c.message_lamp(true);
    });
    let lamp = |h: &Harness| -> Vec<String> {
        h.pair
            .outputs
            .iter()
            .filter_map(|o| match o {
                gateway_sim::Output::Signal {
                    line: 2,
                    name,
                    params,
                } if name == "L/vmwi" => params.clone(),
                gateway_sim::Output::SignalStopped { line: 2, name, .. } if name == "L/vmwi" => {
                    Some("off".to_owned())
                }
                _ => None,
            })
            .collect()
    };
    h.input(Input::MessageWaiting {
        user: BOB,
        message: message(1),
        from: ALICE,
    });
    h.advance(secs(1));
    assert_eq!(lamp(&h), vec!["+".to_owned()]);
    h.phone(LineCommand::OffHook(2));
    h.advance(secs(3));
    assert_eq!(lamp(&h), vec!["+".to_owned()], "still lit while listening");
    h.phone(LineCommand::OnHook(2));
    assert_eq!(lamp(&h), vec!["+".to_owned(), "off".to_owned()]);
}

#[test]
fn intercom_to_a_legacy_phone_rings_holds_a_bounded_backlog_and_plays_on_pick_up() {
    let mut h = Harness::new(|c| {
        c.live_backlog(secs(5)).unwrap();
    });
    let stream = StreamId(42);
    h.input(Input::LiveStart {
        user: BOB,
        stream,
        from: ALICE,
    });
    assert_eq!(h.pair.gateway.is_ringing(2), Some(true));
    // Eight seconds of speech while it rings: only the last five are kept.
    for _ in 0..400 {
        h.mgr.handle_input(
            h.now(),
            Input::LiveBuffer {
                stream,
                pcm: vec![100; 160],
            },
        );
        h.advance(Duration::from_millis(20));
    }
    assert_eq!(h.mgr.stats().stations.live_dropped, 150);
    h.phone(LineCommand::OffHook(2));
    assert_eq!(h.state(2), "Intercom");
    let call = h.last_call();
    assert!(
        h.media
            .log
            .contains(&MediaCommand::PlayLive { call, stream })
    );
    assert_eq!(h.media.live_in(call), 250, "the held backlog");
    // Live from now on, then the end.
    for _ in 0..10 {
        h.input(Input::LiveBuffer {
            stream,
            pcm: vec![100; 160],
        });
    }
    assert_eq!(h.media.live_in(call), 260);
    h.input(Input::LiveEnd { stream });
    assert_eq!(h.state(2), "AwaitingOnHook");
    assert!(h.pair.gateway.connections(2).is_empty());
    assert_eq!(h.mgr.ports_in_use(), 0);
}

#[test]
fn intercom_from_a_phone_sends_live_buffers_then_the_message() {
    let mut h = Harness::new(|_| {});
    alice_records(&mut h, Delivery::Intercom);
    h.advance(secs(1));
    let live: Vec<u64> = h
        .outputs
        .iter()
        .filter_map(|o| match o {
            Output::LiveBuffer {
                user, to, seq, pcm, ..
            } => {
                assert_eq!((*user, to.clone(), pcm.len()), (ALICE, vec![BOB], 160));
                Some(*seq)
            }
            _ => None,
        })
        .collect();
    assert!(live.len() >= 50, "{} buffers", live.len());
    assert!(live.iter().copied().eq(0..live.len() as u64), "in order");
    h.phone(LineCommand::OnHook(1));
    let (_, why, stream) = one_recording(&h);
    assert_eq!(why, StopReason::OnHook);
    let stream = stream.expect("sent live");
    let end = h
        .outputs
        .iter()
        .position(
            |o| matches!(o, Output::LiveEnd { user, stream: s } if *user == ALICE && *s == stream),
        )
        .expect("LiveEnd");
    let rec = h
        .outputs
        .iter()
        .position(|o| matches!(o, Output::Recorded { .. }))
        .unwrap();
    assert!(end < rec);
    assert!(
        !h.outputs[end..]
            .iter()
            .any(|o| matches!(o, Output::LiveBuffer { .. }))
    );
}

#[test]
fn intercom_from_one_phone_to_a_legacy_phone_through_the_ivm_core() {
    let mut h = Harness::new(|c| {
        c.live_backlog(secs(2)).unwrap();
    });
    h.relay_live = true;
    alice_records(&mut h, Delivery::Intercom);
    let alice_call = h.last_call();
    // Bob's phone rings as soon as Alice speaks; four seconds pass before he picks up.
    h.advance(secs(1));
    assert!(h.pair.gateway.is_ringing(2).unwrap());
    assert_eq!(h.state(2), "AwaitingOffHook");
    h.advance(secs(3));
    h.phone(LineCommand::OffHook(2));
    assert_eq!(h.state(2), "Intercom");
    let bob_call = h.last_call();
    assert_ne!(bob_call, alice_call);
    // He got at most the two-second backlog, then everything live.
    let held = h.media.live_in(bob_call);
    assert!((100..=130).contains(&held), "{held} buffers on pick-up");
    assert!(h.mgr.stats().stations.live_dropped >= 75);
    h.advance(secs(1));
    let after = h.media.live_in(bob_call);
    assert!(
        (after - held).abs_diff(50) <= 2,
        "live at 50 a second: {after}"
    );
    // Alice hangs up: her message is stored, Bob's playout ends, and he hangs up too.
    h.phone(LineCommand::OnHook(1));
    assert_eq!(one_recording(&h).1, StopReason::OnHook);
    assert_eq!(h.state(2), "AwaitingOnHook");
    h.phone(LineCommand::OnHook(2));
    assert_eq!(h.state(2), "Idle");
    assert_eq!(h.mgr.ports_in_use(), 0);
    assert_eq!(
        h.pair.gateway.stats().refused,
        0,
        "the gateway refused nothing"
    );
    assert_eq!(h.mgr.stats().stations.ignored, 0);
}

#[test]
fn a_message_arriving_while_recording_waits_and_rings_after() {
    let mut h = Harness::new(|_| {});
    alice_records(&mut h, Delivery::Record);
    h.input(Input::MessageWaiting {
        user: ALICE,
        message: message(5),
        from: CAROL,
    });
    h.advance(secs(3));
    assert_eq!(h.state(1), "Recording", "the message waits");
    assert_eq!(h.rings(1).len(), 1, "no ring while recording");
    h.phone(LineCommand::OnHook(1));
    assert_eq!(one_recording(&h).1, StopReason::OnHook);
    h.advance(secs(1));
    assert_eq!(h.state(1), "AwaitingOffHook");
    assert_eq!(h.rings(1), vec!["L/r1".to_owned(), "L/rg".to_owned()]);
    assert!(h.pair.gateway.is_ringing(1).unwrap());
    h.phone(LineCommand::OffHook(1));
    assert_eq!(played(&h), vec![message(5)]);
}

#[test]
fn a_gateway_restart_mid_recording_keeps_what_was_captured() {
    let mut h = Harness::new(|_| {});
    alice_records(&mut h, Delivery::Record);
    h.advance(secs(4));
    h.restart_gateway();
    h.advance(secs(1));
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, gateway_control::model::Event::GatewayDown { .. }))
    );
    let (d, why, _) = one_recording(&h);
    assert_eq!(why, StopReason::GatewayLost);
    assert!(d >= secs(4), "{d:?}");
    assert_eq!(h.mgr.ports_in_use(), 0);
    // The gateway is back: the station is usable again.
    h.advance(secs(5));
    assert_eq!(h.state(1), "Idle");
    assert_eq!(h.mgr.is_available(ALICE), Some(true));
}

#[test]
fn a_record_request_while_the_gateway_is_down_fails_at_once() {
    let mut h = Harness::new(|_| {});
    h.cut(true);
    // A message makes the manager ring Bob; the command times out and the gateway is down.
    h.input(Input::MessageWaiting {
        user: BOB,
        message: message(1),
        from: ALICE,
    });
    h.advance(secs(120));
    assert_eq!(h.mgr.is_available(ALICE), Some(false));
    assert_eq!(h.state(1), "AwaitingGateway");
    h.input(Input::Record {
        request: RequestId(3),
        user: ALICE,
        to: vec![BOB],
        delivery: Delivery::Record,
    });
    assert!(
        matches!(&h.outputs[..], [Output::RecordFailed { request: RequestId(3), reason }] if reason.contains("gateway is down")),
        "{:#?}",
        h.outputs
    );
    // It answers again: available, and Bob's waiting message rings.
    h.cut(false);
    h.advance(secs(300));
    assert_eq!(h.mgr.is_available(ALICE), Some(true));
    assert_eq!(h.state(1), "Idle");
    assert_eq!(
        h.rings(2),
        vec!["L/rg".to_owned()],
        "the waiting message rings once the gateway is back"
    );
}

#[test]
fn a_user_with_two_phones_rings_both_and_the_first_pick_up_wins() {
    let mut h = Harness::new(|c| {
        c.record_ring_timeout(secs(20)).unwrap();
    });
    h.mgr.add_station(line(4), ALICE).unwrap();
    h.advance(secs(1));
    assert_eq!(h.state(4), "Idle", "audited after being added late");
    h.input(Input::Record {
        request: RequestId(1),
        user: ALICE,
        to: vec![BOB],
        delivery: Delivery::Record,
    });
    h.advance(secs(1));
    assert_eq!(h.pair.gateway.is_ringing(1), Some(true));
    assert_eq!(h.pair.gateway.is_ringing(4), Some(true));
    h.phone(LineCommand::OffHook(4));
    assert_eq!(
        h.pair.gateway.is_ringing(1),
        Some(false),
        "the other phone stops ringing"
    );
    assert_eq!(h.state(1), "Idle");
    assert_eq!(h.state(4), "Recording");
    h.advance(secs(2));
    h.phone(LineCommand::OnHook(4));
    h.advance(secs(30));
    assert_eq!(h.recorded().len(), 1);
    assert!(
        !h.outputs
            .iter()
            .any(|o| matches!(o, Output::RecordFailed { .. })),
        "{:#?}",
        h.outputs
    );
}

#[test]
fn a_record_request_for_a_phone_in_use_fails_as_busy() {
    let mut h = Harness::new(|_| {});
    h.phone(LineCommand::OffHook(1));
    assert_eq!(h.state(1), "AwaitingOnHook");
    h.input(Input::Record {
        request: RequestId(2),
        user: ALICE,
        to: vec![BOB],
        delivery: Delivery::Record,
    });
    assert!(
        matches!(&h.outputs[..], [Output::RecordFailed { request: RequestId(2), reason }] if reason == "the phone is busy"),
        "{:#?}",
        h.outputs
    );
    assert_eq!(h.rings(1).len(), 0);
    // And a user with no phone at all.
    h.input(Input::Record {
        request: RequestId(3),
        user: station_manager::UserId([0; 16]),
        to: vec![BOB],
        delivery: Delivery::Record,
    });
    assert!(matches!(
        h.outputs.last(),
        Some(Output::RecordFailed { request: RequestId(3), reason }) if reason == "the user has no phone"
    ));
}

/// Bob's phone plays `stream` live: rung, picked up, a second of audio.
fn bob_hears_live(h: &mut Harness, stream: StreamId) {
    h.input(Input::LiveStart {
        user: BOB,
        stream,
        from: ALICE,
    });
    assert!(h.pair.gateway.is_ringing(2).unwrap());
    h.phone(LineCommand::OffHook(2));
    assert_eq!(h.state(2), "Intercom");
    for _ in 0..50 {
        h.input(Input::LiveBuffer {
            stream,
            pcm: vec![100; 160],
        });
    }
}

fn played_outputs(h: &mut Harness) -> Vec<MessageId> {
    h.take_outputs()
        .into_iter()
        .filter_map(|o| match o {
            Output::Played { user, message } if user == BOB => Some(message),
            _ => None,
        })
        .collect()
}

#[test]
fn a_stream_heard_live_is_not_offered_again_as_its_stored_copy() {
    let mut h = Harness::new(|_| {});
    // The stream ends and plays out; its stored copy is known only afterwards.
    let first = StreamId(7);
    bob_hears_live(&mut h, first);
    h.input(Input::LiveEnd { stream: first });
    assert_eq!(h.state(2), "AwaitingOnHook");
    h.phone(LineCommand::OnHook(2));
    h.take_outputs();
    h.input(Input::LiveStored {
        user: BOB,
        stream: first,
        message: message(1),
    });
    assert_eq!(played_outputs(&mut h), [message(1)], "marked played");
    h.input(Input::MessageWaiting {
        user: BOB,
        message: message(1),
        from: ALICE,
    });
    assert!(
        !h.pair.gateway.is_ringing(2).unwrap(),
        "no ring for what was heard"
    );
    assert_eq!(h.state(2), "Idle");

    // The stored copy is known, and even waiting, before the stream has played out.
    let second = StreamId(8);
    bob_hears_live(&mut h, second);
    h.input(Input::LiveStored {
        user: BOB,
        stream: second,
        message: message(2),
    });
    h.input(Input::MessageWaiting {
        user: BOB,
        message: message(2),
        from: ALICE,
    });
    h.input(Input::LiveEnd { stream: second });
    assert_eq!(played_outputs(&mut h), [message(2)]);
    assert_eq!(h.state(2), "AwaitingOnHook", "nothing else to play");
    h.phone(LineCommand::OnHook(2));
    assert!(played(&h).is_empty(), "neither stored copy was played");
    assert_eq!(h.mgr.stats().stations.heard_live, 2);

    // Hung up before the end: the stored copy is offered as usual.
    let third = StreamId(9);
    bob_hears_live(&mut h, third);
    h.phone(LineCommand::OnHook(2));
    h.input(Input::LiveEnd { stream: third });
    h.input(Input::LiveStored {
        user: BOB,
        stream: third,
        message: message(3),
    });
    h.input(Input::MessageWaiting {
        user: BOB,
        message: message(3),
        from: ALICE,
    });
    assert!(
        h.pair.gateway.is_ringing(2).unwrap(),
        "the stored copy rings"
    );
    assert!(played_outputs(&mut h).is_empty());
}

#[test]
fn shutdown_stores_the_recording_in_progress_and_fails_a_ringing_request() {
    let mut h = Harness::new(|_| {});
    alice_records(&mut h, Delivery::Record);
    h.advance(secs(2));
    // Bob's phone rings for a record request of his own.
    h.input(Input::Record {
        request: RequestId(9),
        user: BOB,
        to: vec![ALICE],
        delivery: Delivery::Record,
    });
    h.advance(secs(1));
    assert_eq!(h.pair.gateway.is_ringing(2), Some(true));
    assert!(h.mgr.is_capturing());

    h.mgr.shutdown(h.now());
    h.advance(secs(1));
    let (duration, why, _) = one_recording(&h);
    assert_eq!(why, StopReason::Shutdown);
    assert!(duration >= secs(2), "what was said is kept: {duration:?}");
    assert!(h.outputs.iter().any(|o| matches!(
        o,
        Output::RecordFailed { request, reason } if *request == RequestId(9) && reason.contains("shutting down")
    )));
    assert_eq!(h.pair.gateway.is_ringing(2), Some(false));
    assert!(
        h.pair.gateway.connections(1).is_empty(),
        "the connection deleted"
    );
    assert!(!h.mgr.is_capturing());
    assert_eq!(h.mgr.ports_in_use(), 0);
}
