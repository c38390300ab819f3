//! One line's notifications, signals and audits (RFC 3435 §2.3.3–§2.3.4, §2.3.10; RFC 3660
//! line package): what each observed event and each audit answer is reported as, and when a
//! refused request leads to an audit.

use super::*;
use crate::model::{Cadence, Command, Digit, Event, Tone};

fn ring() -> Command {
    Command::Ring {
        line: line(1),
        cadence: Cadence::Normal,
        caller_id: None,
    }
}

fn failed_code(e: Event) -> u16 {
    match e {
        Event::CommandFailed { code, .. } => code,
        e => panic!("not a failure: {e:?}"),
    }
}

/// The hook state an audit answer's `ES:` gives, as the `LineStatus` the model is told; the
/// line is then armed for it.
fn audited(es: &str) -> (Event, Sent) {
    let mut h = Harness::new(Harness::config(1));
    let a = h.recv();
    h.send(&format!("200 {} OK\n{es}", a.txid()));
    assert!(matches!(h.event(), Event::GatewayUp { .. }));
    (h.event(), h.recv())
}

#[test]
fn the_hook_state_is_read_from_the_line_package_in_event_states() {
    let status = |off_hook| Event::LineStatus {
        line: line(1),
        off_hook,
    };
    for (es, off_hook) in [
        ("ES: L/hd\n", true),
        ("ES: l/HU\n", false),
        ("ES: hd\n", true),
        // Other states and other packages' events are skipped.
        ("ES: L/aw, X/hu, L/hd\n", true),
        ("ES: D/hd, L/hu\n", false),
    ] {
        let (status_event, request) = audited(es);
        assert_eq!(status_event, status(off_hook), "{es}");
        if off_hook {
            off_hook_request(&request);
        } else {
            on_hook_request(&request);
        }
    }
    // No hook state in the answer: on hook is the likeliest, and the request says so.
    for es in ["", "ES: X/hd, L/aw\n"] {
        let (status_event, request) = audited(es);
        assert_eq!(status_event, status(false), "{es}");
        on_hook_request(&request);
    }
}

#[test]
fn flash_digits_and_hang_up_are_reported_in_order() {
    let mut h = Harness::armed(1);
    h.send("NTFY 1 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n");
    h.recv();
    let arm = h.recv();
    off_hook_request(&arm);
    h.send(&ok(&arm));
    h.events.clear();
    let x = arm.param("X").unwrap().to_owned();
    h.send(&format!(
        "NTFY 2 aaln/1@gw1.example.net MGCP 1.0\nX: {x}\nO: L/hf, D/1, D/*, L/hu\n"
    ));
    assert!(h.recv().text.starts_with("200 2"));
    let digit = |c| Event::Digit {
        line: line(1),
        digit: Digit::new(c).unwrap(),
    };
    assert_eq!(
        h.events.drain(..).collect::<Vec<_>>(),
        [
            Event::HookFlash { line: line(1) },
            digit('1'),
            digit('*'),
            Event::OnHook { line: line(1) }
        ]
    );
    on_hook_request(&h.recv());
    let st = h.agent.stats();
    assert_eq!((st.notifications, st.stale_notifications), (2, 0));
}

#[test]
fn a_notification_for_the_request_before_the_latest_is_current() {
    let mut h = Harness::armed(1);
    h.command(ring());
    let r = h.recv();
    h.send(&ok(&r));
    // The request before the ring (the start-up arm, X: 1) crosses it.
    h.send("NTFY 3 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n");
    assert!(h.recv().text.starts_with("200 3"));
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    off_hook_request(&h.recv());
    assert_eq!(h.agent.stats().stale_notifications, 0);
    // One without a request id is stale.
    h.send("NTFY 4 aaln/1@gw1.example.net MGCP 1.0\nO: L/hu\n");
    assert!(h.recv().text.starts_with("200 4"));
    assert_eq!(h.event(), Event::OnHook { line: line(1) });
    assert_eq!(h.agent.stats().stale_notifications, 1);
}

#[test]
fn a_refused_request_already_replaced_is_reported_but_not_re_audited() {
    let mut h = Harness::armed(1);
    h.command(ring());
    let r = h.recv();
    h.command(Command::StopRing { line: line(1) });
    let stop = h.recv();
    // The ring is refused; the stop-ring request that replaced it stands.
    h.send(&format!("502 {} no resources\n", r.txid()));
    assert_eq!(failed_code(h.event()), 502);
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
    h.send(&ok(&stop));
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
    assert_eq!(h.agent.stats().arm_failures, 0);
}

#[test]
fn a_refused_ring_already_replaced_is_re_audited_when_the_hook_is_wrong() {
    for (code, off_hook) in [(401, true), (402, false)] {
        let mut h = Harness::armed(1);
        h.command(ring());
        let r = h.recv();
        h.command(Command::StopRing { line: line(1) });
        let stop = h.recv();
        h.send(&format!("{code} {} hook\n", r.txid()));
        assert_eq!(failed_code(h.event()), code);
        let audit = h.recv();
        assert_eq!(audit.verb(), "AUEP", "{code}");
        h.send(&ok(&stop));
        let es = if off_hook { "L/hd" } else { "L/hu" };
        h.send(&format!("200 {} OK\nES: {es}\n", audit.txid()));
        if off_hook {
            assert_eq!(h.event(), Event::OffHook { line: line(1) });
            off_hook_request(&h.recv());
        } else {
            assert!(h.events.is_empty(), "{:?}", h.events);
            on_hook_request(&h.recv());
        }
    }
}

#[test]
fn a_refused_latest_request_whose_audit_shows_no_change_reports_nothing() {
    let mut h = Harness::armed(1);
    h.command(Command::PlayTone {
        line: line(1),
        tone: Tone::Busy,
    });
    let r = h.recv();
    assert_eq!(r.param("S"), Some("L/bz"));
    h.send(&format!("538 {} event/signal parameter error\n", r.txid()));
    assert_eq!(failed_code(h.event()), 538);
    let audit = h.recv();
    h.send(&format!("200 {} OK\nES: L/hu\n", audit.txid()));
    assert!(h.events.is_empty(), "{:?}", h.events);
    let again = h.recv();
    on_hook_request(&again);
    h.send(&ok(&again));
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
    assert_eq!(h.agent.stats().arm_failures, 1);
}

#[test]
fn a_402_when_the_audit_cannot_tell_arms_for_on_hook() {
    let mut h = Harness::armed(1);
    // The phone was picked up (as far as we know), then hung up unseen.
    h.send("NTFY 5 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n");
    h.recv();
    h.event();
    let arm = h.recv();
    off_hook_request(&arm);
    h.send(&format!("402 {} already on hook\n", arm.txid()));
    let audit = h.recv();
    h.send(&format!("539 {} unsupported parameter\n", audit.txid()));
    assert_eq!(h.event(), Event::OnHook { line: line(1) });
    let again = h.recv();
    on_hook_request(&again);
    h.send(&ok(&again));
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
}

#[test]
fn an_audit_that_cannot_tell_after_another_refusal_arms_for_the_known_state() {
    let mut h = Harness::armed(1);
    h.command(ring());
    let r = h.recv();
    h.send(&format!("510 {} protocol error\n", r.txid()));
    h.event();
    let audit = h.recv();
    h.send(&format!("539 {} unsupported parameter\n", audit.txid()));
    assert!(h.events.is_empty(), "{:?}", h.events);
    on_hook_request(&h.recv());
}

#[test]
fn a_model_audit_that_finds_the_hook_changed_re_arms_the_line() {
    let mut h = Harness::armed(1);
    h.command(Command::Audit { line: line(1) });
    let a = h.recv();
    h.send(&format!("200 {} OK\nES: L/hd\n", a.txid()));
    assert_eq!(
        h.event(),
        Event::LineStatus {
            line: line(1),
            off_hook: true
        }
    );
    let arm = h.recv();
    off_hook_request(&arm);
    h.send(&ok(&arm));
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
    assert!(h.events.is_empty() && h.inbox.is_empty());
}

#[test]
fn a_model_audit_before_the_start_up_one_leaves_the_arming_to_it() {
    let mut h = Harness::new(Harness::config(1));
    let start = h.recv();
    h.command(Command::Audit { line: line(1) });
    let a = h.recv();
    h.send(&format!("200 {} OK\nES: L/hd\n", a.txid()));
    assert!(matches!(h.event(), Event::GatewayUp { .. }));
    assert_eq!(
        h.event(),
        Event::LineStatus {
            line: line(1),
            off_hook: true
        }
    );
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
    h.send(&format!("200 {} OK\nES: L/hd\n", start.txid()));
    h.event();
    off_hook_request(&h.recv());
}

#[test]
fn a_refused_model_audit_is_reported_and_changes_nothing() {
    let mut h = Harness::armed(1);
    h.command(Command::Audit { line: line(1) });
    let a = h.recv();
    h.send(&format!("500 {} endpoint unknown\n", a.txid()));
    assert_eq!(failed_code(h.event()), 500);
    assert!(h.inbox.is_empty() && h.events.is_empty());
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
    assert_eq!(h.agent.stats().arm_failures, 0);
}

#[test]
fn re_arm_failures_are_given_up_after_max_arm_failures_and_counted() {
    let mut c = Harness::config(1);
    c.max_arm_failures(1).unwrap();
    let mut h = Harness::new(c);
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => format!("518 {} unsupported package\n", s.txid()),
    });
    let st = h.agent.stats();
    // Refused, audited, refused again: given up after the second failure.
    assert_eq!((st.arm_failures, st.lines_unarmed), (2, 1));
    assert_eq!((st.rqnts_sent, st.audits_sent), (2, 2));
}

#[test]
fn a_line_is_armed_only_while_no_audit_or_re_arm_waits() {
    let mut c = Harness::config(1);
    c.max_outstanding(1).unwrap();
    let mut h = Harness::new(c);
    assert_eq!(h.agent.is_armed(&line(1)), Some(false), "audit in flight");
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
    h.command(Command::Audit { line: line(5) });
    assert_eq!(h.agent.is_armed(&line(5)), None, "not a configured line");
    // An audit holds the only slot; the notification's re-arm waits behind it.
    h.command(Command::Audit { line: line(1) });
    let audit = h.recv();
    h.send("NTFY 6 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n");
    assert!(h.recv().text.starts_with("200 6"));
    assert!(h.inbox.is_empty());
    assert_eq!(h.agent.is_armed(&line(1)), Some(false), "re-arm waiting");
    h.send(&format!("200 {} OK\nES: L/hd\n", audit.txid()));
    let arm = h.recv();
    off_hook_request(&arm);
    assert_eq!(h.agent.is_armed(&line(1)), Some(true), "re-arm in flight");
}

#[test]
fn a_refused_model_audit_leaves_a_restarting_line_unarmed_until_its_own_audit_answers() {
    let mut c = Harness::config(1);
    let mut tx = crate::mgcp::transaction::Config::default();
    tx.max_in_flight(1).unwrap();
    c.transaction(tx).unwrap();
    let mut h = Harness::new(c);
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    h.events.clear();
    h.send("RSIP 7 aaln/1@gw1.example.net MGCP 1.0\nRM: restart\n");
    assert!(h.recv().text.starts_with("200 7"));
    let audit = h.recv();
    assert_eq!(audit.verb(), "AUEP");
    assert_eq!(h.agent.is_armed(&line(1)), Some(false));
    // The transaction layer has no room for the model's audit: refused, and the line is still
    // waiting for the restart's audit.
    h.command(Command::Audit { line: line(1) });
    assert_eq!(failed_code(h.event()), 0);
    assert_eq!(h.agent.is_armed(&line(1)), Some(false));
    h.send(&format!("200 {} OK\nES: L/hu\n", audit.txid()));
    assert_eq!(
        h.event(),
        Event::LineStatus {
            line: line(1),
            off_hook: false
        }
    );
    let arm = h.recv();
    on_hook_request(&arm);
    h.send(&ok(&arm));
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
}
