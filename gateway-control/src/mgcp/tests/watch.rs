//! Lines added and removed while the call agent runs (a phone given to a user, or taken away,
//! from the web console): an added line is audited, reported and armed like a configured one;
//! a removed one is told to report nothing and is unknown from then on.

use std::time::Duration;

use super::*;
use crate::Controller;
use crate::model::{Command, Event, Tone};

fn add(h: &mut Harness, n: usize) {
    h.command(Command::AddLine { line: line(n) });
}

fn remove(h: &mut Harness, n: usize) {
    h.command(Command::RemoveLine { line: line(n) });
}

/// Line `n` removed, and its last request answered.
fn removed(h: &mut Harness, n: usize) {
    remove(h, n);
    let last = h.recv();
    h.send(&ok(&last));
}

/// Line `n`'s audit, next in the inbox, is answered on hook: reported, then armed on hook.
fn audited_on_hook(h: &mut Harness, n: usize) -> Sent {
    let audit = h.recv();
    assert_eq!(
        (audit.verb(), audit.endpoint()),
        ("AUEP", format!("aaln/{n}@gw1.example.net").as_str())
    );
    h.send(&format!("200 {} OK\nES: L/hu\n", audit.txid()));
    assert_eq!(
        h.event(),
        Event::LineStatus {
            line: line(n),
            off_hook: false
        }
    );
    let arm = h.recv();
    on_hook_request(&arm);
    arm
}

/// The endpoints audited by what waits in the inbox, in order.
fn audited(h: &Harness) -> Vec<String> {
    h.inbox
        .iter()
        .filter(|s| s.verb() == "AUEP")
        .map(|s| s.endpoint().to_owned())
        .collect()
}

fn failure(e: Event) -> (LineId, u16, String) {
    match e {
        Event::CommandFailed {
            line, code, reason, ..
        } => (line, code, reason),
        e => panic!("not a failure: {e:?}"),
    }
}

/// The removal's request: no events, and the signals given.
fn disarm(s: &Sent, signals: &str) {
    assert_eq!(s.verb(), "RQNT", "{}", s.text);
    assert_eq!(
        (s.param("R"), s.param("S")),
        (Some(""), Some(signals)),
        "{}",
        s.text
    );
}

#[test]
fn a_line_added_while_the_gateway_is_up_is_audited_reported_and_armed() {
    let mut h = Harness::armed(1);
    add(&mut h, 2);
    let audit = h.recv();
    assert_eq!(
        (audit.verb(), audit.endpoint()),
        ("AUEP", "aaln/2@gw1.example.net")
    );
    assert_eq!(h.agent.is_armed(&line(2)), Some(false));
    h.send(&format!("200 {} OK\nES: L/hd\n", audit.txid()));
    assert_eq!(
        h.event(),
        Event::LineStatus {
            line: line(2),
            off_hook: true
        }
    );
    let arm = h.recv();
    assert_eq!(arm.endpoint(), "aaln/2@gw1.example.net");
    off_hook_request(&arm);
    h.send(&ok(&arm));
    assert_eq!(h.agent.is_armed(&line(2)), Some(true));
    // It reports like the others.
    let x = arm.param("X").unwrap().to_owned();
    h.send(&format!(
        "NTFY 90 aaln/2@gw1.example.net MGCP 1.0\nX: {x}\nO: L/hu\n"
    ));
    assert!(h.recv().text.starts_with("200 90"));
    assert_eq!(h.event(), Event::OnHook { line: line(2) });
    let st = h.agent.stats();
    assert_eq!((st.lines_added, st.unknown_endpoint), (1, 0));
}

#[test]
fn a_line_added_while_the_gateway_starts_is_audited_with_the_others() {
    let mut h = Harness::new(Harness::config(1));
    add(&mut h, 2);
    let audits: Vec<String> = h.inbox.iter().map(|s| s.endpoint().to_owned()).collect();
    assert_eq!(audits, ["aaln/1@gw1.example.net", "aaln/2@gw1.example.net"]);
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\r\nES: L/hu\r\n", s.txid()),
        _ => format!("200 {} OK\r\n", s.txid()),
    });
    assert_eq!(h.agent.is_armed(&line(2)), Some(true));
    assert!(h.events.contains(&Event::LineStatus {
        line: line(2),
        off_hook: false
    }));
}

#[test]
fn a_removed_line_is_told_to_report_nothing_its_lamp_goes_out_and_it_is_unknown() {
    let mut h = Harness::armed(2);
    h.command(Command::PlayTone {
        line: line(2),
        tone: Tone::MessageWaitingLamp,
    });
    let lamp = h.recv();
    h.send(&ok(&lamp));
    remove(&mut h, 2);
    let last = h.recv();
    assert_eq!(last.endpoint(), "aaln/2@gw1.example.net");
    disarm(&last, "L/vmwi(-)");
    h.send(&ok(&last));
    assert!(h.inbox.is_empty() && h.events.is_empty());
    assert_eq!(h.agent.is_armed(&line(2)), None);
    // The gateway reports from it anyway: refused as an unknown endpoint.
    h.send("NTFY 91 aaln/2@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n");
    assert!(h.recv().text.starts_with("500 91"));
    assert!(h.events.is_empty());
    // Commands for it are refused like any unknown line's; line 1 is untouched and reports.
    h.command(Command::StopTone { line: line(2) });
    assert_eq!(failure(h.event()).1, 500);
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
    h.send("NTFY 92 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n");
    assert!(h.recv().text.starts_with("200 92"));
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    off_hook_request(&h.recv());
    let st = h.agent.stats();
    assert_eq!((st.lines_removed, st.unknown_endpoint), (1, 1));
    // A line with no lamp on: its removal stops nothing it did not start.
    remove(&mut h, 1);
    disarm(&h.recv(), "");
}

#[test]
fn a_restart_audits_the_lines_left_and_not_the_removed_one() {
    let mut h = Harness::armed(3);
    removed(&mut h, 2);
    h.send("RSIP 501 *@gw1.example.net MGCP 1.0\nRM: restart\n");
    assert!(h.recv().text.starts_with("200 501"));
    let audited = audited(&h);
    assert_eq!(
        audited,
        ["aaln/1@gw1.example.net", "aaln/3@gw1.example.net"]
    );
}

#[test]
fn a_removed_line_refused_by_the_gateway_is_not_retried_or_audited() {
    let mut h = Harness::armed(1);
    remove(&mut h, 1);
    let last = h.recv();
    h.send(&format!("400 {} transient error\n", last.txid()));
    h.advance(Duration::from_secs(600));
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
    assert!(h.events.is_empty(), "{:?}", h.events);
}

#[test]
fn an_audit_out_when_the_line_is_removed_reports_and_arms_nothing() {
    let mut h = Harness::armed(1);
    h.command(Command::Audit { line: line(1) });
    let audit = h.recv();
    remove(&mut h, 1);
    let last = h.recv();
    h.send(&format!("200 {} OK\nES: L/hd\n", audit.txid()));
    h.send(&ok(&last));
    assert!(h.events.is_empty(), "{:?}", h.events);
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
}

#[test]
fn a_line_added_again_is_audited_and_armed_afresh() {
    let mut h = Harness::armed(1);
    removed(&mut h, 1);
    add(&mut h, 1);
    let arm = audited_on_hook(&mut h, 1);
    h.send(&ok(&arm));
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
    let st = h.agent.stats();
    assert_eq!((st.lines_added, st.lines_removed), (1, 1));
}

#[test]
fn adding_a_watched_line_audits_it_again_without_rearming() {
    let mut h = Harness::armed(1);
    add(&mut h, 1);
    let audit = h.recv();
    assert_eq!(audit.verb(), "AUEP");
    h.send(&format!("200 {} OK\nES: L/hu\n", audit.txid()));
    assert_eq!(
        h.event(),
        Event::LineStatus {
            line: line(1),
            off_hook: false
        }
    );
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
    assert_eq!(h.agent.stats().lines_added, 0);
}

#[test]
fn a_gateway_with_no_line_yet_is_probed_reported_up_and_given_lines_later() {
    let mut h = Harness::new(Harness::config(0));
    let probe = h.recv();
    assert_eq!(
        (probe.verb(), probe.endpoint()),
        ("AUEP", "*@gw1.example.net")
    );
    h.send(&ok(&probe));
    assert!(matches!(h.event(), Event::GatewayUp { .. }));
    add(&mut h, 1);
    let audit = h.recv();
    assert_eq!(audit.endpoint(), "aaln/1@gw1.example.net");
    h.send(&format!("200 {} OK\nES: L/hu\n", audit.txid()));
    assert_eq!(
        h.event(),
        Event::LineStatus {
            line: line(1),
            off_hook: false
        }
    );
    on_hook_request(&h.recv());
}

#[test]
fn adding_the_configured_lines_at_start_adds_no_audit() {
    let mut h = Harness::new(Harness::config(2));
    add(&mut h, 1);
    add(&mut h, 2);
    assert_eq!(h.inbox.len(), 2, "{:?}", h.inbox);
    assert!(h.inbox.iter().all(|s| s.verb() == "AUEP"));
}

#[test]
fn lines_on_unknown_gateways_bad_names_and_other_spellings_are_refused() {
    let mut h = Harness::armed(1);
    let elsewhere = LineId::new(GatewayId::new("gw9"), "aaln/1");
    h.command(Command::AddLine {
        line: elsewhere.clone(),
    });
    assert_eq!(
        failure(h.event()),
        (elsewhere, 500, "unknown gateway".into())
    );
    for bad in ["aaln/*", "aaln/$", "a b", "x@y", ""] {
        let l = LineId::new(GatewayId::new(GW), bad);
        h.command(Command::AddLine { line: l.clone() });
        let (at, code, _) = failure(h.event());
        assert_eq!((at, code), (l, 500), "{bad:?}");
    }
    let upper = LineId::new(GatewayId::new(GW), "AALN/1");
    h.command(Command::AddLine { line: upper });
    assert_eq!(failure(h.event()).1, 0);
    // Removing a line never watched answers nothing; both are counted.
    remove(&mut h, 7);
    assert!(h.events.is_empty() && h.inbox.is_empty());
    let st = h.agent.stats();
    assert_eq!((st.lines_added, st.unknown_line_commands), (0, 7));
}

#[test]
fn a_line_removed_during_a_restart_check_no_longer_holds_the_check_up() {
    let mut h = Harness::armed(2);
    h.send("RSIP 500 *@gw1.example.net MGCP 1.0\nRM: forced\n");
    assert!(h.recv().text.starts_with("200 500"));
    let checks: Vec<Sent> = h.inbox.drain(..).collect();
    assert_eq!(checks.len(), 2);
    h.send(&format!("200 {} OK\nES: L/hu\n", checks[0].txid()));
    assert_eq!(h.agent.stats().restart_claims_refuted, 0);
    remove(&mut h, 2);
    assert_eq!(
        h.agent.stats().restart_claims_refuted,
        1,
        "the only line left answered in service"
    );
    // The late answer for the removed line changes nothing.
    h.send(&format!("200 {} OK\nES: L/hd\n", checks[1].txid()));
    assert!(
        !h.events
            .iter()
            .any(|e| matches!(e, Event::GatewayDown { .. } | Event::OffHook { .. })),
        "{:?}",
        h.events
    );
}

#[test]
fn a_new_line_never_takes_another_removed_line_s_place() {
    let mut h = Harness::armed(1);
    removed(&mut h, 1);
    add(&mut h, 2);
    audited_on_hook(&mut h, 2);
    assert_eq!(h.agent.is_armed(&line(1)), None, "line 1 stays removed");
    // Line 1 back: its own name again.
    add(&mut h, 1);
    assert_eq!(h.recv().endpoint(), "aaln/1@gw1.example.net");
}

#[test]
fn a_gateway_holds_at_most_its_lines_removed_ones_included() {
    let n = super::super::MAX_LINES_PER_GATEWAY;
    let mut h = Harness::new(Harness::config(n));
    h.inbox.clear();
    add(&mut h, n + 1);
    assert_eq!(
        failure(h.event()),
        (line(n + 1), 0, "the gateway has too many lines".into())
    );
    // A removed line keeps its slot: still full.
    remove(&mut h, 1);
    add(&mut h, n + 2);
    assert_eq!(failure(h.event()).1, 0);
    // Another gateway's lines do not count against this one's.
    let mut c = Harness::config(1);
    c.gateway(GatewayConfig {
        id: GatewayId::new("gw2"),
        address: "192.0.2.2:2427".parse().unwrap(),
        domain: "gw2.example.net".into(),
        lines: (1..=n).map(|k| format!("aaln/{k}")).collect(),
    })
    .unwrap();
    // (Driven by hand: the harness plays gateway 1 only.)
    let mut agent = CallAgent::new(c, t0()).unwrap();
    agent.handle_command(t0(), Command::AddLine { line: line(2) });
    let events: Vec<Event> = std::iter::from_fn(|| agent.poll_event()).collect();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, Event::CommandFailed { .. })),
        "{events:?}"
    );
    assert_eq!(agent.stats().lines_added, 1);
}

#[test]
fn removing_a_line_leaves_the_other_lines_retries_alone() {
    let mut c = Harness::config(2);
    c.max_arm_failures(1).unwrap();
    let mut h = Harness::new(c);
    // Line 1's arms are refused until it is given up; line 2 arms.
    h.answer_until_quiet(|s| match (s.verb(), s.endpoint()) {
        ("AUEP", _) => format!("200 {} OK\r\nES: L/hu\r\n", s.txid()),
        ("RQNT", "aaln/1@gw1.example.net") => format!("518 {} unsupported package\r\n", s.txid()),
        _ => format!("200 {} OK\r\n", s.txid()),
    });
    assert_eq!(h.agent.stats().lines_unarmed, 1);
    remove(&mut h, 2);
    h.answer_until_quiet(|s| format!("200 {} OK\r\n", s.txid()));
    // Line 1's retry still comes.
    h.advance(Duration::from_secs(600));
    let retry = h.recv();
    assert_eq!(
        (retry.verb(), retry.endpoint()),
        ("AUEP", "aaln/1@gw1.example.net")
    );
}

#[test]
fn a_line_added_while_the_gateway_is_down_waits_for_its_restart() {
    let mut h = Harness::armed(1);
    // A forced restart claim the gateway confirms: down.
    h.send("RSIP 500 *@gw1.example.net MGCP 1.0\nRM: forced\n");
    assert!(h.recv().text.starts_with("200 500"));
    out_of_service(&mut h);
    assert!(
        h.events
            .iter()
            .any(|e| matches!(e, Event::GatewayDown { .. }))
    );
    add(&mut h, 2);
    assert!(h.inbox.is_empty(), "not audited while down: {:?}", h.inbox);
    // Back: both lines audited.
    h.send("RSIP 501 *@gw1.example.net MGCP 1.0\nRM: restart\n");
    assert!(h.recv().text.starts_with("200 501"));
    let audited = audited(&h);
    assert_eq!(
        audited,
        ["aaln/1@gw1.example.net", "aaln/2@gw1.example.net"]
    );
}
