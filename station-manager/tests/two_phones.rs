//! A user with two phones, in virtual time over the real call agent and gateway simulator
//! (see `support`): a busy phone is not rung, and picking one up for messages or a live stream
//! stops the other ringing.

mod support;

use std::time::Duration;

use gateway_sim::LineCommand;
use station_manager::{Delivery, Input, MessageId, Output, RequestId, StreamId};
use support::{ALICE, BOB, Harness, line};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// Alice has line 1 and line 4.
fn alice_with_two_phones() -> Harness {
    let mut h = Harness::new(|_| {});
    h.mgr.add_station(line(4), ALICE).unwrap();
    h.advance(secs(1));
    assert_eq!(h.state(4), "Idle");
    h
}

#[test]
fn a_record_request_rings_only_the_phone_not_in_use() {
    let mut h = alice_with_two_phones();
    h.phone(LineCommand::OffHook(1));
    assert_eq!(h.state(1), "AwaitingOnHook");
    h.input(Input::Record {
        request: RequestId(1),
        user: ALICE,
        to: vec![BOB],
        delivery: Delivery::Record,
    });
    h.advance(secs(1));
    assert_eq!(h.pair.gateway.is_ringing(4), Some(true));
    assert!(h.rings(1).is_empty(), "the phone in use is not rung");
    assert!(h.outputs.is_empty(), "not failed as busy: {:#?}", h.outputs);
    h.phone(LineCommand::OffHook(4));
    assert_eq!(h.state(4), "Recording");
    assert_eq!(h.state(1), "AwaitingOnHook");
    // While line 4 records, a second request finds no free phone.
    h.input(Input::Record {
        request: RequestId(2),
        user: ALICE,
        to: vec![BOB],
        delivery: Delivery::Record,
    });
    assert!(
        matches!(
            h.outputs.last(),
            Some(Output::RecordFailed { request: RequestId(2), reason }) if reason == "the phone is busy"
        ),
        "{:#?}",
        h.outputs
    );
}

#[test]
fn picking_up_one_phone_for_messages_stops_the_other_ringing() {
    let mut h = alice_with_two_phones();
    h.input(Input::MessageWaiting {
        user: ALICE,
        message: MessageId([1; 16]),
        from: BOB,
    });
    h.advance(secs(1));
    assert_eq!(h.pair.gateway.is_ringing(1), Some(true));
    assert_eq!(h.pair.gateway.is_ringing(4), Some(true));
    h.phone(LineCommand::OffHook(4));
    assert_eq!(h.state(4), "Playing");
    assert_eq!(
        h.pair.gateway.is_ringing(1),
        Some(false),
        "line 1 stops ringing"
    );
    assert_eq!(h.state(1), "Idle");
    // Heard on line 4: line 1 forgets it and does not ring again.
    h.advance(secs(5));
    assert!(h.outputs.iter().any(|o| matches!(o, Output::Played { .. })));
    assert_eq!(h.mgr.station(&line(1)).unwrap().waiting(), 0);
    h.phone(LineCommand::OnHook(4));
    h.advance(secs(5));
    assert_eq!(h.pair.gateway.is_ringing(1), Some(false));
    assert_eq!(h.state(1), "Idle");
}

#[test]
fn picking_up_one_phone_for_a_live_stream_stops_the_other_ringing() {
    let mut h = alice_with_two_phones();
    let stream = StreamId(9);
    h.input(Input::LiveStart {
        user: ALICE,
        stream,
        from: BOB,
    });
    h.advance(secs(1));
    assert_eq!(h.pair.gateway.is_ringing(1), Some(true));
    assert_eq!(h.pair.gateway.is_ringing(4), Some(true));
    h.phone(LineCommand::OffHook(1));
    assert_eq!(h.state(1), "Intercom");
    assert_eq!(
        h.pair.gateway.is_ringing(4),
        Some(false),
        "line 4 stops ringing"
    );
    assert_eq!(h.state(4), "Idle");
    let rings = h.mgr.stats().stations.rings;
    assert_eq!(rings, 2, "one ring on each phone");
    assert_eq!(h.mgr.stats().stations.unanswered, 0);
}
