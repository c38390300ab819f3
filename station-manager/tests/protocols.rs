//! The same station scenario over each gateway protocol (MGCP, MEGACO, TPNCP over TCP): the
//! real station manager, controller core and simulated gateway core in virtual time (see
//! `support`). Alice records a message for Bob on line 1, Bob hears it on line 2; on each
//! protocol the gateway must carry the calls out with nothing refused or failed.

mod support;

use std::time::Duration;

use gateway_control::model::Event;
use gateway_sim::{LineCommand, Output as SimOutput};
use station_manager::{
    Delivery, Input, MediaCommand, MediaEvent, MessageId, Output, Progress, Prompt, RequestId,
    StopReason,
};
use support::FakeMedia;
use support::fake_media::PROMPT_LENGTH;
use support::{ALICE, BOB, Harness, Protocol};

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A command verb the simulator printed that only `p` has: proof the pair spoke `p`.
fn speaks(h: &Harness, p: Protocol) -> bool {
    let verb = match p {
        Protocol::Mgcp => "CRCX",
        Protocol::Megaco => "Add",
        Protocol::Tpncp => "acCMD_OPEN_CHANNEL",
    };
    h.pair.outputs.iter().any(|o| match o {
        SimOutput::Command { verb: v, code, .. } => *v == verb && *code == 200,
        SimOutput::HostCommand { verb: v, code, .. } => *v == verb && *code == 0,
        _ => false,
    })
}

fn record_then_listen(p: Protocol) {
    let mut h = Harness::on(p, |_| {});
    assert_eq!(h.line(1), p.line(1));

    // Alice records for Bob: her phone rings, she picks up, speaks 4 s and hangs up.
    h.input(Input::Record {
        request: RequestId(1),
        user: ALICE,
        to: vec![BOB],
        delivery: Delivery::Record,
    });
    h.advance(secs(1));
    assert_eq!(h.pair.gateway.is_ringing(1), Some(true), "{p:?}");
    assert_eq!(h.state(1), "AwaitingOffHook", "{p:?}");
    h.phone(LineCommand::OffHook(1));
    assert_eq!(h.pair.gateway.is_ringing(1), Some(false), "{p:?}");
    assert_eq!(h.state(1), "Recording", "{p:?}");
    assert_eq!(h.pair.gateway.connections(1).len(), 1, "{p:?}");
    let call = h.call_on(1).expect("a call open on line 1");
    h.advance(secs(4));
    h.phone(LineCommand::OnHook(1));
    let recorded: Vec<_> = h.recorded().into_iter().cloned().collect();
    let [
        Output::Recorded {
            request,
            user,
            to,
            duration,
            reason,
            ..
        },
    ] = &recorded[..]
    else {
        panic!("{p:?}: one recording expected: {:#?}", h.outputs);
    };
    assert_eq!(
        (*request, *user, to.clone(), *reason),
        (Some(RequestId(1)), ALICE, vec![BOB], StopReason::OnHook),
        "{p:?}"
    );
    assert!(
        *duration >= secs(4) && *duration < secs(6),
        "{p:?}: {duration:?}"
    );
    assert_eq!(h.state(1), "Idle", "{p:?}");
    assert!(h.pair.gateway.connections(1).is_empty(), "{p:?}");
    assert_eq!(h.call_on(1), None, "{p:?}");
    assert!(h.media.log.contains(&MediaCommand::Close { call }), "{p:?}");
    h.take_outputs();

    // Bob is told of it: his phone rings, he picks up and hears it to its end.
    let message = MessageId([7; 16]);
    h.input(Input::MessageWaiting {
        user: BOB,
        message,
        from: ALICE,
    });
    h.advance(secs(1));
    assert_eq!(h.pair.gateway.is_ringing(2), Some(true), "{p:?}");
    h.phone(LineCommand::OffHook(2));
    assert_eq!(h.state(2), "Playing", "{p:?}");
    assert_eq!(h.pair.gateway.connections(2).len(), 1, "{p:?}");
    h.advance(secs(3));
    assert_eq!(
        h.take_outputs(),
        vec![Output::Played { user: BOB, message }],
        "{p:?}"
    );
    h.phone(LineCommand::OnHook(2));
    assert_eq!(h.state(2), "Idle", "{p:?}");
    assert!(h.pair.gateway.connections(2).is_empty(), "{p:?}");

    // Over the protocol asked for, with nothing refused, failed or ignored.
    assert!(speaks(&h, p), "{p:?}: {:#?}", h.pair.outputs);
    assert_eq!(h.mgr.ports_in_use(), 0, "{p:?}");
    let stats = h.mgr.stats();
    assert_eq!(
        (stats.stations.ignored, stats.unknown_call),
        (0, 0),
        "{p:?}"
    );
    assert_eq!(h.pair.gateway.stats().refused, 0, "{p:?}");
    let failed: Vec<_> = h
        .events
        .iter()
        .filter(|e| {
            matches!(
                e,
                Event::CommandFailed { .. }
                    | Event::GatewayDown { .. }
                    | Event::ConnectionLost { .. }
            )
        })
        .collect();
    assert!(failed.is_empty(), "{p:?}: {failed:#?}");
}

#[test]
fn record_then_listen_on_every_protocol() {
    for p in Protocol::ALL {
        record_then_listen(p);
    }
}

#[test]
fn lines_are_named_as_each_protocol_names_them() {
    let names: Vec<String> = Protocol::ALL
        .iter()
        .map(|p| p.line(3).to_string())
        .collect();
    assert_eq!(names, ["gw1/aaln/3", "mg1/aaln/3", "mp114/2"]);
}

/// The stand-in plays a prompt for [`PROMPT_LENGTH`], and reports the progress a test
/// injects only on a call that asked to watch it, at the time asked.
#[test]
fn the_media_stand_in_plays_prompts_and_reports_watched_progress() {
    let h = Harness::on(Protocol::Mgcp, |_| {});
    let t0 = h.now();
    let (watched, unwatched) = (
        gateway_control::model::CallId(1),
        gateway_control::model::CallId(2),
    );
    let mut m = FakeMedia::default();
    for call in [watched, unwatched] {
        m.handle(
            t0,
            MediaCommand::Open {
                call,
                port: 20_000 + 2 * call.0 as u16,
                line: h.line(1),
            },
        );
    }
    m.handle(t0, MediaCommand::WatchProgress { call: watched });
    m.handle(
        t0,
        MediaCommand::PlayPrompt {
            call: watched,
            prompt: Prompt::ALL[0],
        },
    );
    let heard = Progress::Busy;
    m.progress_at(t0 + secs(1), watched, heard);
    m.progress_at(t0 + secs(1), unwatched, heard);
    assert_eq!(m.poll_timeout(), Some(t0 + secs(1)));
    m.handle_timeout(t0 + secs(1) - Duration::from_millis(1));
    assert!(m.events.is_empty(), "nothing before its time");
    m.handle_timeout(t0 + secs(1));
    assert_eq!(
        m.events.drain(..).collect::<Vec<_>>(),
        vec![MediaEvent::Progress {
            call: watched,
            heard
        }]
    );
    assert_eq!(m.unheard_progress, 1);
    assert_eq!(m.poll_timeout(), Some(t0 + PROMPT_LENGTH));
    m.handle_timeout(t0 + PROMPT_LENGTH);
    assert_eq!(
        m.events.drain(..).collect::<Vec<_>>(),
        vec![MediaEvent::PlayDone { call: watched }]
    );
    assert_eq!(m.prompts, vec![(watched, Prompt::ALL[0])]);
}
