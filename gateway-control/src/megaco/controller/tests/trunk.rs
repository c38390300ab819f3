//! Trunks (FXO ports) against the scripted gateway: the H.248 each command becomes, and what
//! each observed event reports.

use super::*;
use crate::model::{CallerId, DialMethod, Digit, Disconnect};

/// Line 2 as a trunk, added while the gateway is up and armed: returns the harness.
fn trunk() -> Mgc {
    let mut t = Mgc::new();
    t.up();
    t.events();
    t.core
        .handle_command(t.now, Command::AddTrunk { line: Mgc::line(2) });
    let audit = t.requests();
    assert_eq!(audit.len(), 1);
    assert!(compact(&audit[0].text).contains("AuditValue=aaln/2{Audit{}}"));
    t.ok(&audit[0]);
    assert_eq!(
        t.events(),
        vec![Event::LineStatus {
            line: Mgc::line(2),
            off_hook: false
        }]
    );
    let arm = t.requests();
    let text = compact(&arm[0].text);
    assert!(text.contains("Modify=aaln/2{Events="), "{text}");
    assert!(
        text.contains("{bcas/sz}}"),
        "idle: incoming seizure only: {text}"
    );
    t.ok(&arm[0]);
    t
}

impl Mgc {
    /// A Notify of `events` on line `n` under its current RequestID; the requests it caused,
    /// unanswered.
    fn notify_then(&mut self, n: usize, events: &str) -> Vec<Sent> {
        let rid = self.core.gateways[0].lines[n - 1].request_id;
        self.request(&format!(
            "Context = - {{ Notify = {} {{ ObservedEvents = {rid} {{ {events} }} }} }}",
            LINES[n - 1]
        ));
        let sent = self.sent();
        assert!(sent[0].contains("Reply"), "{sent:?}");
        self.requests_of(&sent[1..])
    }

    /// A Notify; the requests it caused are answered with success.
    fn notify(&mut self, n: usize, events: &str) {
        for r in self.notify_then(n, events) {
            self.ok(&r);
        }
        self.settle();
    }

    /// Sends `command` and answers its one request with success; returns its text.
    fn done(&mut self, command: Command) -> String {
        self.core.handle_command(self.now, command);
        let sent = self.requests();
        assert_eq!(sent.len(), 1, "{sent:?}");
        self.ok(&sent[0]);
        compact(&sent[0].text)
    }

    fn dropped(&self) -> u64 {
        self.core.stats().trunk_inputs_dropped
    }
}

fn digits(s: &str) -> Vec<Digit> {
    s.chars().map(|c| Digit::new(c).unwrap()).collect()
}

fn dial(s: &str) -> Command {
    Command::Dial {
        line: Mgc::line(2),
        number: digits(s),
        method: DialMethod::Dtmf,
    }
}

fn far_end(why: Disconnect) -> Event {
    Event::FarEndDisconnect {
        line: Mgc::line(2),
        why,
    }
}

#[test]
fn an_outgoing_call_seizes_dials_hears_the_answer_and_the_far_end_hang_up() {
    let mut t = trunk();
    let seize = t.done(Command::Seize { line: Mgc::line(2) });
    assert!(
        seize.contains("Events=3{bcas/ans,bcas/cl,cd/bt,cd/ct,g/sc,dd/ce{DigitMap=dialplan03}}"),
        "{seize}"
    );
    assert!(seize.contains("Signals{bcas/sz}"), "{seize}");
    assert!(t.events().is_empty(), "a seize that worked is not reported");
    let dialled = t.done(dial("20*4#1"));
    assert!(
        dialled.contains(
            "Modify=aaln/2{Signals{SignalList=1{dg/d2,dg/d0,dg/ds,dg/d4,dg/do,dg/d1{NotifyCompletion={TimeOut}}}}}"
        ),
        "{dialled}"
    );
    assert!(
        !dialled.contains("Events"),
        "dialling leaves the events armed"
    );
    t.notify(2, "g/sc { SigID = dg/d1, Meth = TO }");
    assert_eq!(t.events(), vec![Event::DialComplete { line: Mgc::line(2) }]);
    // Only once.
    t.notify(2, "g/sc { SigID = dg/d1, Meth = TO }");
    assert!(t.events().is_empty());
    assert_eq!(t.dropped(), 1);
    let rearm = t.notify_then(2, "bcas/ans");
    assert_eq!(t.events(), vec![Event::FarEndAnswer { line: Mgc::line(2) }]);
    // Re-armed without the answer event.
    let text = compact(&rearm[0].text);
    assert!(
        text.contains("Events=4{bcas/cl,cd/bt,cd/ct,g/sc,dd/ce{DigitMap=dialplan04}}"),
        "{text}"
    );
    t.ok(&rearm[0]);
    t.notify(2, "dd/ce { ds = \"5\", Meth = FM }");
    assert_eq!(
        t.events(),
        vec![Event::Digit {
            line: Mgc::line(2),
            digit: Digit::new('5').unwrap()
        }]
    );
    t.settle();
    t.notify(2, "bcas/cl");
    assert_eq!(t.events(), vec![far_end(Disconnect::LoopCurrentDrop)]);
    // Cleared: a second clear or an answer is out of place.
    t.notify(2, "bcas/cl, bcas/ans");
    assert!(t.events().is_empty());
    assert_eq!(t.dropped(), 3);
    let release = t.done(Command::Release { line: Mgc::line(2) });
    assert!(release.contains("{bcas/sz},Signals{bcas/cl}}"), "{release}");
    assert!(!release.contains("DigitMap"), "{release}");
    assert!(t.events().is_empty());
    // Idle again: a new seize is allowed, and the port reports seizures again.
    t.notify(2, "bcas/sz");
    assert_eq!(
        t.events(),
        vec![Event::IncomingCall {
            line: Mgc::line(2),
            caller_id: None
        }]
    );
}

#[test]
fn busy_and_reorder_detected_by_the_gateway_end_the_call() {
    for (event, why) in [("cd/bt", Disconnect::Busy), ("cd/ct", Disconnect::Reorder)] {
        let mut t = trunk();
        t.done(Command::Seize { line: Mgc::line(2) });
        t.done(dial("2041"));
        t.notify(2, event);
        assert_eq!(t.events(), vec![far_end(why)]);
        // The dial's completion no longer matters.
        t.notify(2, "g/sc { SigID = dg/d1 }");
        assert!(t.events().is_empty());
        assert_eq!(t.dropped(), 1);
    }
}

#[test]
fn an_incoming_call_with_caller_id_is_answered_keyed_and_hung_up() {
    let mut t = trunk();
    let rearm = t.notify_then(2, "bcas/sz { cid = \"2041\", cname = \"Alice Smith\" }");
    assert_eq!(
        t.events(),
        vec![Event::IncomingCall {
            line: Mgc::line(2),
            caller_id: Some(CallerId {
                number: Some("2041".into()),
                name: Some("Alice Smith".into()),
            }),
        }]
    );
    let text = compact(&rearm[0].text);
    assert!(text.contains("Modify=aaln/2{Events=3{bcas/cl}}"), "{text}");
    t.ok(&rearm[0]);
    // Ringing: keys are out of place.
    t.notify(2, "dd/ce { ds = \"1\" }");
    assert!(t.events().is_empty());
    let answer = t.done(Command::Answer { line: Mgc::line(2) });
    assert!(
        answer.contains("Events=4{bcas/cl,cd/bt,cd/ct,g/sc,dd/ce{DigitMap=dialplan04}}"),
        "{answer}"
    );
    assert!(answer.contains("Signals{bcas/ans}"), "{answer}");
    t.notify(2, "dd/ce { ds = \"1\" }, dd/ce { ds = \"F\" }");
    let key = |c| Event::Digit {
        line: Mgc::line(2),
        digit: Digit::new(c).unwrap(),
    };
    assert_eq!(t.events(), vec![key('1'), key('#')]);
    t.settle();
    t.notify(2, "bcas/cl");
    assert_eq!(t.events(), vec![far_end(Disconnect::LoopCurrentDrop)]);
}

#[test]
fn a_call_that_stops_ringing_is_reported_and_cannot_be_answered() {
    let mut t = trunk();
    t.notify(2, "bcas/sz { cid = \"2041\" }");
    t.events();
    t.settle();
    let rearm = t.notify_then(2, "bcas/cl");
    assert_eq!(t.events(), vec![far_end(Disconnect::RingingStopped)]);
    assert!(compact(&rearm[0].text).contains("{bcas/sz}}"));
    t.ok(&rearm[0]);
    t.core
        .handle_command(t.now, Command::Answer { line: Mgc::line(2) });
    assert!(t.requests().is_empty());
    assert!(matches!(
        &t.events()[..],
        [Event::CommandFailed {
            code: 502,
            call: None,
            ..
        }]
    ));
}

#[test]
fn glare_is_the_gateways_refusal_and_the_incoming_call_goes_on() {
    let mut t = trunk();
    // The seize goes out; the line starts ringing before the MG executes it.
    t.core
        .handle_command(t.now, Command::Seize { line: Mgc::line(2) });
    let seize = t.requests();
    assert_eq!(seize.len(), 1);
    let rid_before = t.core.gateways[0].lines[1].request_id - 1;
    t.request(&format!(
        "Context = - {{ Notify = aaln/2 {{ ObservedEvents = {rid_before} {{ bcas/sz {{ cid = \"2041\" }} }} }} }}"
    ));
    t.sent();
    t.fail(&seize[0], 540);
    let events = t.events();
    assert!(
        matches!(
            &events[0],
            Event::IncomingCall {
                caller_id: Some(_),
                ..
            }
        ),
        "{events:?}"
    );
    assert!(
        matches!(&events[1], Event::CommandFailed { code: 540, call: None, line, .. } if *line == Mgc::line(2)),
        "{events:?}"
    );
    t.settle();
    // Still ringing: it can be answered.
    let answer = t.done(Command::Answer { line: Mgc::line(2) });
    assert!(answer.contains("Signals{bcas/ans}"), "{answer}");
}

#[test]
fn bad_trunk_input_is_counted_and_bad_commands_refused() {
    let mut t = trunk();
    // Events for an idle trunk, a station line's events on a trunk, a caller id too long.
    t.notify(
        2,
        "bcas/ans, bcas/cl, g/sc, cd/bt, al/of, dd/ce { ds = \"1\" }",
    );
    assert!(t.events().is_empty());
    assert_eq!(t.dropped(), 5);
    let long = "9".repeat(MAX_CALLER_ID_LEN + 1);
    t.notify(
        2,
        &format!("bcas/sz {{ cid = \"{long}\", cname = \"Bob\" }}"),
    );
    assert_eq!(
        t.events(),
        vec![Event::IncomingCall {
            line: Mgc::line(2),
            caller_id: None
        }]
    );
    assert_eq!(t.dropped(), 6);
    t.settle();
    let failed = |t: &mut Mgc, command: Command| -> u16 {
        t.core.handle_command(t.now, command);
        assert!(t.requests().is_empty());
        match &t.events()[..] {
            [Event::CommandFailed { code, .. }] => *code,
            other => panic!("{other:?}"),
        }
    };
    // Ringing: dialling is out of place, so is ringing a trunk.
    assert_eq!(failed(&mut t, dial("1")), 502);
    assert_eq!(failed(&mut t, ring(Mgc::line(2))), 430);
    t.done(Command::Answer { line: Mgc::line(2) });
    assert_eq!(failed(&mut t, Command::Seize { line: Mgc::line(2) }), 502);
    let pulse = Command::Dial {
        line: Mgc::line(2),
        number: digits("2041"),
        method: DialMethod::Pulse,
    };
    assert_eq!(failed(&mut t, pulse), 501);
    assert_eq!(failed(&mut t, dial(&"1".repeat(MAX_DIAL_DIGITS + 1))), 442);
    assert_eq!(failed(&mut t, dial("")), 442);
    // The longest number goes.
    t.done(dial(&"1".repeat(MAX_DIAL_DIGITS)));
    // Trunk commands on a station line.
    assert_eq!(failed(&mut t, Command::Seize { line: Mgc::line(1) }), 430);
    assert_eq!(t.core.stats().commands_failed, 7);
}

/// Whatever the gateway reports on a trunk, in whatever order and with whatever caller id,
/// each observed event is either reported or counted as ignored, and nothing panics.
mod any_input {
    use super::*;
    use proptest::prelude::*;

    const NAMES: [&str; 9] = [
        "bcas/sz", "bcas/ans", "bcas/cl", "g/sc", "cd/bt", "cd/ct", "dd/ce", "al/of", "xx/yy",
    ];

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        #[test]
        fn each_event_is_reported_or_counted(
            seq in prop::collection::vec((0..NAMES.len(), "[A-Za-z0-9 +*#]{0,40}", 0..4u8), 1..16)
        ) {
            let mut t = trunk();
            for (i, text, command) in seq {
                // Now and then the station acts too.
                let command = match command {
                    0 => Some(Command::Seize { line: Mgc::line(2) }),
                    1 => Some(Command::Answer { line: Mgc::line(2) }),
                    2 => Some(Command::Release { line: Mgc::line(2) }),
                    _ => None,
                };
                if let Some(c) = command {
                    t.core.handle_command(t.now, c);
                    t.settle();
                }
                let stats = t.core.stats().clone();
                let before = stats.events_reported + stats.events_ignored;
                let digits: String = text.chars().filter(char::is_ascii_digit).collect();
                t.notify(2, &format!("{} {{ cid = \"{text}\", ds = \"{digits}\" }}", NAMES[i]));
                let stats = t.core.stats();
                // A digit string reports each key.
                prop_assert!(stats.events_reported + stats.events_ignored > before);
                t.events();
            }
        }
    }
}
