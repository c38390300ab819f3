//! How calls over trunks fail, on each protocol (issue 20): the real station manager,
//! controller core and simulated gateway with its simulated PBX, in virtual time (see
//! `support`). A call nobody answers is given up and the port released; with every port of the
//! group busy the ring fails saying so; three wrong PINs end a dial-in call with goodbye.

mod support;

use std::time::Duration;

use gateway_sim::{LineCommand, TrunkCommand};
use station_manager::{Delivery, Input, Output, Prompt, RequestId, UserId};
use support::fake_media::PROMPT_LENGTH;
use support::{ALICE, BOB, CAROL, Harness, Protocol, Spec};

const ERIN: UserId = UserId([0xE1; 16]);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn record(h: &mut Harness, request: u64, user: UserId) {
    h.input(Input::Record {
        request: RequestId(request),
        user,
        to: vec![ALICE],
        delivery: Delivery::Record,
    });
}

fn failures(h: &Harness) -> Vec<(RequestId, String)> {
    h.outputs
        .iter()
        .filter_map(|o| match o {
            Output::RecordFailed { request, reason } => Some((*request, reason.clone())),
            _ => None,
        })
        .collect()
}

/// The far phone rings and rings: the answer timeout gives the call up and frees the port,
/// which the next call takes.
fn no_answer(p: Protocol) {
    let spec = Spec::new(p)
        .stations(&[(1, ALICE)])
        .trunk("pbx", &[3, 4], false, |g| g)
        .behind("pbx", "2041", CAROL);
    let mut h = Harness::with(spec, |_| {});
    record(&mut h, 1, CAROL);
    assert!(
        h.run_until(secs(5), |h| h.dialed(3) == ["2041"]),
        "{p:?}: {:#?}",
        h.pair.outputs
    );
    assert!(
        h.run_until(secs(40), |h| !failures(h).is_empty()),
        "{p:?}: {:#?}",
        h.outputs
    );
    let why = &failures(&h)[0].1;
    assert!(why.contains("no answer after 30 s"), "{p:?}: {why}");
    assert!(
        h.run_until(secs(3), |h| h.call_on(3).is_none()),
        "{p:?}: the port's call ends"
    );
    assert_eq!(h.state_of(&h.behind_line("pbx", "2041")), "Idle", "{p:?}");
    assert_eq!(h.mgr.stats().trunks.unanswered, 1, "{p:?}");
    // The port is free: the next call takes it again.
    record(&mut h, 2, CAROL);
    assert!(
        h.run_until(secs(5), |h| h.dialed(3).len() == 2),
        "{p:?}: {:?}",
        h.dialed(3)
    );
    assert_eq!(h.pair.gateway.stats().refused, 0, "{p:?}");
}

/// Two ports, three phones behind them rung at once: the third ring fails naming the trunk.
fn all_trunks_busy(p: Protocol) {
    let spec = Spec::new(p)
        .stations(&[(1, ALICE)])
        .trunk("pbx", &[3, 4], false, |g| g)
        .behind("pbx", "2041", CAROL)
        .behind("pbx", "2042", BOB)
        .behind("pbx", "2043", ERIN);
    let mut h = Harness::with(spec, |_| {});
    record(&mut h, 1, CAROL);
    record(&mut h, 2, BOB);
    assert!(
        h.run_until(secs(5), |h| h.dialed(3) == ["2041"]
            && h.dialed(4) == ["2042"]),
        "{p:?}: {:?} {:?}",
        h.dialed(3),
        h.dialed(4)
    );
    record(&mut h, 3, ERIN);
    h.advance(secs(1));
    assert_eq!(
        failures(&h),
        vec![(
            RequestId(3),
            "the phone could not be rung: all 2 lines of trunk pbx are busy".into()
        )],
        "{p:?}"
    );
    assert_eq!(h.mgr.stats().trunks.all_busy, 1, "{p:?}");
    // The two calls still ring; one answered frees nothing but is recorded as usual.
    h.phone(LineCommand::OffHook(3));
    assert!(
        h.run_until(secs(3), |h| h.state_of(&h.behind_line("pbx", "2041"))
            == "Recording"),
        "{p:?}"
    );
    assert_eq!(h.pair.gateway.stats().refused, 0, "{p:?}");
}

/// A caller keys a wrong PIN three times: "wrong" each time, then goodbye, and the port is
/// released.
fn three_wrong_pins(p: Protocol) {
    let spec = Spec::new(p)
        .stations(&[(1, ALICE)])
        .trunk("pbx", &[3, 4], true, |g| g);
    let mut h = Harness::with(spec, |_| {});
    h.pbx(TrunkCommand::Ring {
        line: 4,
        caller_id: Some("2041".into()),
    });
    assert!(
        h.run_until(secs(10), |h| h.answered(4) == 1),
        "{p:?}: {:#?}",
        h.pair.outputs
    );
    for n in 0..3 {
        if n > 0 {
            // After a wrong try the number is asked for again.
            h.keys(4, "2041#");
        }
        h.keys(4, "0000#");
        assert!(
            h.run_until(secs(3), |h| h
                .outputs
                .iter()
                .any(|o| matches!(o, Output::Identify { .. }))),
            "{p:?}: try {n}: {:#?}",
            h.outputs
        );
        let asked = h.take_outputs();
        assert!(
            asked.iter().any(|o| matches!(
                o,
                Output::Identify { number, pin, .. } if number == "2041" && pin == "0000"
            )),
            "{p:?}: {asked:#?}"
        );
        h.input(Input::Identified {
            line: h.line(4),
            user: None,
            waiting: Vec::new(),
        });
        h.advance(PROMPT_LENGTH);
    }
    assert!(
        h.run_until(secs(10), |h| h.call_on(4).is_none()),
        "{p:?}: the call ends"
    );
    let heard: Vec<Prompt> = h.media.prompts.iter().map(|(_, p)| *p).collect();
    assert_eq!(
        heard.iter().filter(|p| **p == Prompt::Wrong).count(),
        3,
        "{p:?}: {heard:?}"
    );
    assert_eq!(heard.last(), Some(&Prompt::Goodbye), "{p:?}: {heard:?}");
    let t = h.mgr.stats().trunks;
    assert_eq!((t.dial_ins, t.identified, t.wrong_pins), (1, 0, 3), "{p:?}");
    assert_eq!(h.pair.gateway.stats().refused, 0, "{p:?}");
}

#[test]
fn no_answer_on_every_protocol() {
    for p in Protocol::ALL {
        no_answer(p);
    }
}

#[test]
fn all_trunks_busy_on_every_protocol() {
    for p in Protocol::ALL {
        all_trunks_busy(p);
    }
}

#[test]
fn three_wrong_pins_on_every_protocol() {
    for p in Protocol::ALL {
        three_wrong_pins(p);
    }
}
