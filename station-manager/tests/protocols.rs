//! Station scenarios over each gateway protocol (MGCP, MEGACO, TPNCP over TCP): the real
//! station manager, controller core and simulated gateway core in virtual time (see
//! `support`).
//!
//! - On every protocol: Alice records a message for Bob on line 1, Bob hears it on line 2,
//!   with nothing refused or failed.
//! - Trunks (FXO ports 3 and 4 facing the simulated PBX): a phone behind a trunk recorded
//!   (seize, dial, polarity-reversal answer, loop-current drop), busy tone, voice answer and
//!   reorder without supervision, and a dial-in caller identified. Each scenario is a function
//!   of the protocol; a `#[test]` runs it where the protocol's controller and simulator carry
//!   it through today.

mod support;

use std::time::Duration;

use gateway_control::model::Event;
use gateway_sim::{LineCommand, Output as SimOutput, Supervision, TrunkCommand};
use station_manager::{
    Delivery, Input, MediaCommand, MediaEvent, MessageId, Output, Progress, Prompt, RequestId,
    StopReason,
};
use support::FakeMedia;
use support::fake_media::PROMPT_LENGTH;
use support::{ALICE, BOB, CAROL, Harness, Protocol, Spec};

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

/// Carol's phone is behind trunk `pbx` (FXO lines 3 and 4, full supervision) at 2041; Alice
/// asks to record for her: a port is seized and dialled, the far phone answers (polarity
/// reversal), Carol speaks 4 s and hangs up (loop-current drop), and the port is free again.
fn record_behind_a_trunk(p: Protocol) {
    let spec = Spec::new(p)
        .stations(&[(1, ALICE)])
        .trunk("pbx", &[3, 4], false, |g| g)
        .behind("pbx", "2041", CAROL);
    let mut h = Harness::with(spec, |_| {});
    let carol = h.behind_line("pbx", "2041");
    assert_eq!(h.state_of(&carol), "Idle", "{p:?}");
    h.input(Input::Record {
        request: RequestId(1),
        user: CAROL,
        to: vec![ALICE],
        delivery: Delivery::Record,
    });
    assert!(
        h.run_until(secs(5), |h| h.dialed(3) == ["2041"]),
        "{p:?}: first free port dialled: {:#?}",
        h.pair.outputs
    );
    let watch = h.call_on(3).expect("a call on the port while dialling");
    assert!(h.media.is_watching(watch), "{p:?}: the port is heard");
    h.phone(LineCommand::OffHook(3));
    assert!(
        h.run_until(secs(2), |h| h.state_of(&carol) == "Recording"),
        "{p:?}: {}",
        h.state_of(&carol)
    );
    h.advance(secs(4));
    h.phone(LineCommand::OnHook(3));
    assert!(
        h.run_until(secs(2), |h| !h.recorded().is_empty()),
        "{p:?}: {:#?}",
        h.outputs
    );
    let Output::Recorded {
        user,
        to,
        reason,
        duration,
        ..
    } = h.recorded()[0].clone()
    else {
        unreachable!()
    };
    assert_eq!(
        (user, to, reason),
        (CAROL, vec![ALICE], StopReason::OnHook),
        "{p:?}"
    );
    assert!(
        duration >= secs(4) && duration < secs(6),
        "{p:?}: {duration:?}"
    );
    h.advance(secs(1));
    assert_eq!(h.call_on(3), None, "{p:?}");
    assert!(h.pair.gateway.connections(3).is_empty(), "{p:?}");
    assert_eq!(h.mgr.ports_in_use(), 0, "{p:?}");
    let t = h.mgr.stats().trunks;
    assert_eq!(
        (t.seized, t.answered_by_line, t.far_end_gone, t.dropped),
        (1, 1, 1, 0),
        "{p:?}"
    );
    let refused: Vec<_> = h
        .pair
        .outputs
        .iter()
        .filter(|o| match o {
            SimOutput::Command { code, .. } => *code >= 400,
            SimOutput::HostCommand { code, .. } => *code != 0,
            _ => false,
        })
        .collect();
    assert!(refused.is_empty(), "{p:?}: {refused:#?}");
    assert_eq!(h.pair.gateway.stats().refused, 0, "{p:?}");
}

#[test]
fn record_behind_a_trunk_over_mgcp() {
    record_behind_a_trunk(Protocol::Mgcp);
}

/// The prompts played so far, oldest first.
fn prompts(h: &Harness) -> Vec<Prompt> {
    h.media.prompts.iter().map(|(_, p)| *p).collect()
}

/// A caller on the PBX rings trunk port 4 (dial-in), keys their number and PIN, is
/// identified, and hears the menu; the caller's hang-up frees the port.
fn dial_in(p: Protocol) {
    let spec = Spec::new(p)
        .stations(&[(1, ALICE)])
        .trunk("pbx", &[3, 4], true, |g| g);
    let mut h = Harness::with(spec, |_| {});
    h.pbx(TrunkCommand::Ring {
        line: 4,
        caller_id: None,
    });
    assert!(
        h.run_until(secs(10), |h| h.answered(4) == 1),
        "{p:?}: the call is answered: {:#?}",
        h.pair.outputs
    );
    assert!(
        h.run_until(secs(1), |h| prompts(h) == [Prompt::EnterNumber]),
        "{p:?}: {:?}",
        prompts(&h)
    );
    h.advance(PROMPT_LENGTH);
    h.keys(4, "2041#");
    assert!(
        h.run_until(secs(3), |h| prompts(h).last() == Some(&Prompt::EnterPin)),
        "{p:?}: {:?}",
        prompts(&h)
    );
    h.advance(PROMPT_LENGTH);
    h.keys(4, "4321#");
    assert!(
        h.run_until(secs(2), |h| !h.outputs.is_empty()),
        "{p:?}: no identify"
    );
    assert_eq!(
        h.take_outputs(),
        vec![Output::Identify {
            line: h.line(4),
            number: "2041".into(),
            pin: "4321".into()
        }],
        "{p:?}"
    );
    h.input(Input::Identified {
        line: h.line(4),
        user: Some(BOB),
        waiting: Vec::new(),
    });
    assert!(
        h.run_until(secs(3), |h| prompts(h).contains(&Prompt::Menu)),
        "{p:?}: {:?}",
        prompts(&h)
    );
    h.phone(LineCommand::OnHook(4));
    assert!(
        h.run_until(secs(5), |h| h.call_on(4).is_none()),
        "{p:?}: the port's call ends"
    );
    let t = h.mgr.stats().trunks;
    assert_eq!((t.dial_ins, t.identified, t.dropped), (1, 1, 0), "{p:?}");
    // Every protocol's gateway collected the number and the PIN against the digit map.
    assert_eq!((t.dial_strings, t.collect_refused), (2, 0), "{p:?}");
    assert_eq!(h.pair.gateway.stats().refused, 0, "{p:?}");
}

#[test]
fn dial_in_over_mgcp() {
    dial_in(Protocol::Mgcp);
}

/// Asks for Carol (behind trunk `pbx` at 2041) to record for Alice and runs until the PBX
/// took the number on port 3.
fn ring_carol(h: &mut Harness) {
    h.input(Input::Record {
        request: RequestId(1),
        user: CAROL,
        to: vec![ALICE],
        delivery: Delivery::Record,
    });
    let p = h.protocol();
    assert!(
        h.run_until(secs(5), |h| h.dialed(3) == ["2041"]),
        "{p:?}: {:#?}",
        h.pair.outputs
    );
}

fn behind_spec(p: Protocol, supervision: Supervision) -> Spec {
    Spec::new(p)
        .stations(&[(1, ALICE)])
        .trunk("pbx", &[3, 4], false, |g| g)
        .behind("pbx", "2041", CAROL)
        .supervision(supervision)
}

/// The PBX says busy (tone on the media, heard by the engine): the request fails saying so
/// and the port is free again.
fn busy_behind_a_trunk(p: Protocol) {
    let mut h = Harness::with(behind_spec(p, Supervision::Full), |_| {});
    ring_carol(&mut h);
    h.pbx(TrunkCommand::Busy(3));
    // The engine hears the tone, unless the gateway reported it first (MEGACO's `cd/bt`)
    // and the call is already given up.
    if h.call_on(3).is_some() {
        h.progress(3, Progress::Busy);
    }
    let why = h.outputs.iter().find_map(|o| match o {
        Output::RecordFailed { reason, .. } => Some(reason.clone()),
        _ => None,
    });
    assert!(
        why.as_deref().is_some_and(|w| w.contains("busy")),
        "{p:?}: {why:?}"
    );
    assert!(
        h.run_until(secs(2), |h| h.call_on(3).is_none()),
        "{p:?}: the port's call ends"
    );
    assert_eq!(h.state_of(&h.behind_line("pbx", "2041")), "Idle", "{p:?}");
    assert_eq!(h.mgr.stats().trunks.busy, 1, "{p:?}");
    assert_eq!(h.pair.gateway.stats().refused, 0, "{p:?}");
}

/// Without supervision the answer is the far phone's voice and the hang-up is the PBX's
/// reorder tone, both heard on the media.
fn voice_answers_without_supervision(p: Protocol) {
    let mut h = Harness::with(behind_spec(p, Supervision::None), |_| {});
    let carol = h.behind_line("pbx", "2041");
    ring_carol(&mut h);
    h.phone(LineCommand::OffHook(3));
    h.advance(secs(1));
    assert_eq!(h.state_of(&carol), "AwaitingOffHook", "{p:?}: no reversal");
    h.progress(3, Progress::Voice);
    assert!(
        h.run_until(secs(2), |h| h.state_of(&carol) == "Recording"),
        "{p:?}: {}",
        h.state_of(&carol)
    );
    h.advance(secs(3));
    h.phone(LineCommand::OnHook(3));
    // The engine hears reorder, unless the gateway reported it first (MEGACO's `cd/ct`).
    if h.call_on(3).is_some() {
        h.progress(3, Progress::Reorder);
    }
    assert!(
        h.run_until(secs(3), |h| !h.recorded().is_empty()),
        "{p:?}: {:#?}",
        h.outputs
    );
    let t = h.mgr.stats().trunks;
    assert_eq!((t.answered_by_voice, t.answered_by_line), (1, 0), "{p:?}");
    assert_eq!(h.pair.gateway.stats().refused, 0, "{p:?}");
}

#[test]
fn busy_behind_a_trunk_over_mgcp() {
    busy_behind_a_trunk(Protocol::Mgcp);
}

#[test]
fn voice_answers_without_supervision_over_mgcp() {
    voice_answers_without_supervision(Protocol::Mgcp);
}

#[test]
fn dial_in_over_megaco() {
    dial_in(Protocol::Megaco);
}

#[test]
fn record_behind_a_trunk_over_megaco() {
    record_behind_a_trunk(Protocol::Megaco);
}

#[test]
fn busy_behind_a_trunk_over_megaco() {
    busy_behind_a_trunk(Protocol::Megaco);
}

#[test]
fn voice_answers_without_supervision_over_megaco() {
    voice_answers_without_supervision(Protocol::Megaco);
}

#[test]
fn record_behind_a_trunk_over_tpncp() {
    record_behind_a_trunk(Protocol::Tpncp);
}

#[test]
fn busy_behind_a_trunk_over_tpncp() {
    busy_behind_a_trunk(Protocol::Tpncp);
}

#[test]
fn voice_answers_without_supervision_over_tpncp() {
    voice_answers_without_supervision(Protocol::Tpncp);
}

#[test]
fn dial_in_over_tpncp() {
    dial_in(Protocol::Tpncp);
}
