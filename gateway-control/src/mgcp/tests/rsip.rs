//! RestartInProgress (RFC 3435 §2.3.12, §4.4.6) in each service state: a graceful shutdown is
//! announced, not a lost gateway; forced and restart lose the connections; the restart delay is
//! honoured up to its cap; disconnected brings an unreachable gateway back at once.

use std::time::Duration;

use super::*;
use crate::mgcp::transaction;
use crate::model::{Cadence, CallId, Codec, Command, ConnectionMode, DownReason, Event};

fn gw() -> GatewayId {
    GatewayId::new(GW)
}

fn down(reason: DownReason) -> Event {
    Event::GatewayDown {
        gateway: gw(),
        reason,
    }
}

fn up() -> Event {
    Event::GatewayUp { gateway: gw() }
}

/// The gateway sends RSIP `txid` for `endpoint` with `params`; the call agent answers 200.
fn rsip(h: &mut Harness, txid: u32, endpoint: &str, params: &str) {
    h.send(&format!(
        "RSIP {txid} {endpoint}@gw1.example.net MGCP 1.0\n{params}"
    ));
    let answer = h.recv();
    assert!(
        answer.text.starts_with(&format!("200 {txid}")),
        "{}",
        answer.text
    );
}

fn audit_and_arm_all(h: &mut Harness) {
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
}

fn connect(h: &mut Harness, n: usize, call: u64) {
    h.command(Command::CreateConnection {
        line: line(n),
        call: CallId(call),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    let c = h.recv();
    h.send(&format!("200 {} OK\nI: {call}\n\n{GW_SDP}", c.txid()));
    assert!(matches!(h.event(), Event::ConnectionCreated { .. }));
}

#[test]
fn a_graceful_shutdown_is_announced_once_and_is_not_a_lost_gateway() {
    let mut c = Harness::config(1);
    let mut tx = transaction::Config::default();
    tx.max_retransmissions(0).unwrap();
    c.transaction(tx).unwrap();
    let mut h = Harness::new(c);
    audit_and_arm_all(&mut h);
    h.events.clear();
    rsip(&mut h, 10, "*", "RM: graceful\nRD: 60\n");
    assert_eq!(
        h.event(),
        down(DownReason::Graceful(Duration::from_secs(60)))
    );
    // Announced again: not reported again.
    rsip(&mut h, 11, "*", "RM: graceful\nRD: 30\n");
    assert!(h.events.is_empty(), "{:?}", h.events);
    // Until it goes, it still takes commands.
    h.command(Command::Ring {
        line: line(1),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    let ring = h.recv();
    assert_eq!(ring.param("S"), Some("L/rg"));
    // It goes silent: the ring fails, and the gateway, already reported down, is not reported
    // lost.
    h.advance(ms(200));
    assert!(matches!(h.event(), Event::CommandFailed { code: 0, .. }));
    assert!(h.events.is_empty(), "{:?}", h.events);
    // A restart from a gateway found unreachable is not a second down either.
    rsip(&mut h, 12, "*", "RM: restart\n");
    assert!(h.events.is_empty(), "{:?}", h.events);
    audit_and_arm_all(&mut h);
    assert_eq!(h.event(), up());
    let st = h.agent.stats();
    assert_eq!((st.gateway_down, st.gateway_up, st.restarts), (1, 2, 3));
}

#[test]
fn forced_after_graceful_is_reported_and_forced_twice_once() {
    let mut h = Harness::armed(2);
    connect(&mut h, 1, 1);
    connect(&mut h, 2, 2);
    rsip(&mut h, 20, "*", "RM: graceful\n");
    assert_eq!(h.event(), down(DownReason::Graceful(Duration::ZERO)));
    rsip(&mut h, 21, "*", "RM: forced\n");
    out_of_service(&mut h);
    assert_eq!(h.event(), down(DownReason::Forced));
    rsip(&mut h, 22, "*", "RM: forced\n");
    assert!(h.events.is_empty() && h.inbox.is_empty());
    // The connections are gone (GatewayDown says so; no ConnectionLost each).
    h.command(Command::DeleteConnection {
        line: line(1),
        call: CallId(1),
    });
    assert!(matches!(h.event(), Event::CommandFailed { code: 515, .. }));
    // A cancel-graceful does not undo a forced shutdown.
    rsip(&mut h, 23, "*", "RM: cancel-graceful\n");
    assert!(h.events.is_empty());
    assert_eq!(h.agent.stats().gateway_down, 2);
}

#[test]
fn restart_after_graceful_is_a_forced_down_and_restart_after_forced_is_not_reported() {
    let mut h = Harness::armed(1);
    rsip(&mut h, 30, "*", "RM: graceful\n");
    h.event();
    rsip(&mut h, 31, "*", "RM: restart\n");
    assert_eq!(h.event(), down(DownReason::Forced));
    assert_eq!(h.agent.stats().gateway_down, 2);
    audit_and_arm_all(&mut h);
    assert_eq!(h.event(), up());
    h.events.clear();
    rsip(&mut h, 32, "*", "RM: forced\n");
    out_of_service(&mut h);
    assert_eq!(h.event(), down(DownReason::Forced));
    // No method: a restart.
    rsip(&mut h, 33, "*", "");
    assert!(h.events.is_empty(), "{:?}", h.events);
    assert_eq!(h.agent.stats().gateway_down, 3);
    assert_eq!(h.recv().verb(), "AUEP");
}

#[test]
fn a_restart_while_starting_reports_nothing_until_the_gateway_answers() {
    let mut h = Harness::new(Harness::config(1));
    let first = h.recv();
    rsip(&mut h, 40, "*", "RM: restart\n");
    assert!(h.events.is_empty(), "{:?}", h.events);
    // The audit in flight covers the restart.
    assert!(h.inbox.is_empty());
    h.send(&format!("200 {} OK\nES: L/hu\n", first.txid()));
    assert_eq!(h.event(), up());
}

#[test]
fn a_graceful_shutdown_while_starting_is_reported() {
    let mut h = Harness::new(Harness::config(1));
    assert_eq!(h.recv().verb(), "AUEP");
    rsip(&mut h, 41, "*", "RM: graceful\nRD: 5\n");
    assert_eq!(
        h.event(),
        down(DownReason::Graceful(Duration::from_secs(5)))
    );
    rsip(&mut h, 42, "*", "RM: cancel-graceful\n");
    assert_eq!(h.event(), up());
    let st = h.agent.stats();
    assert_eq!((st.gateway_down, st.gateway_up), (1, 1));
}

#[test]
fn the_restart_delay_is_capped() {
    let mut c = Harness::config(1);
    c.max_restart_delay(Duration::from_secs(10)).unwrap();
    let mut h = Harness::new(c);
    audit_and_arm_all(&mut h);
    rsip(&mut h, 50, "*", "RM: restart\nRD: 3600\n");
    h.advance(ms(9999));
    assert!(h.inbox.is_empty());
    h.advance(ms(1));
    assert_eq!(h.recv().verb(), "AUEP");
}

#[test]
fn a_second_restart_replaces_the_first_ones_delay() {
    let mut h = Harness::armed(1);
    rsip(&mut h, 51, "*", "RM: restart\nRD: 5\n");
    rsip(&mut h, 52, "*", "RM: restart\n");
    audit_and_arm_all(&mut h);
    assert!(h.agent.is_armed(&line(1)).unwrap());
    h.advance(Duration::from_secs(10));
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
}

#[test]
fn cancel_graceful_and_unknown_methods_change_nothing_on_a_gateway_in_service() {
    let mut h = Harness::armed(1);
    rsip(&mut h, 60, "*", "RM: cancel-graceful\n");
    rsip(&mut h, 61, "*", "RM: x-reboot\n");
    assert!(h.events.is_empty() && h.inbox.is_empty());
    assert_eq!(h.agent.stats().restarts, 2);
    assert_eq!(h.agent.stats().gateway_up, 1);
}

#[test]
fn disconnected_brings_an_unreachable_gateway_back_at_once() {
    let mut c = Harness::config(2);
    let mut tx = transaction::Config::default();
    tx.max_retransmissions(0).unwrap();
    c.transaction(tx)
        .unwrap()
        .probe_interval(Duration::from_secs(60), Duration::from_secs(60))
        .unwrap();
    let mut h = Harness::new(c);
    audit_and_arm_all(&mut h);
    h.events.clear();
    h.command(Command::Audit { line: line(1) });
    h.recv();
    h.advance(ms(200));
    assert_eq!(h.events.pop_back(), Some(down(DownReason::Unreachable)));
    h.events.clear();
    rsip(&mut h, 70, "*", "RM: disconnected\n");
    let audits: Vec<Sent> = h.inbox.drain(..).collect();
    assert_eq!(audits.len(), 2);
    for a in &audits {
        assert_eq!(a.verb(), "AUEP");
        h.send(&format!("200 {} OK\nES: L/hu\n", a.txid()));
    }
    assert_eq!(h.event(), up());
    audit_and_arm_all(&mut h);
    // The probe that was due is cancelled.
    h.advance(Duration::from_secs(120));
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
}

#[test]
fn one_line_restarting_gracefully_changes_nothing_disconnected_re_audits_it() {
    let mut h = Harness::armed(2);
    connect(&mut h, 1, 1);
    rsip(&mut h, 80, "aaln/1", "RM: graceful\n");
    rsip(&mut h, 81, "aaln/1", "RM: cancel-graceful\n");
    assert!(h.inbox.is_empty() && h.events.is_empty());
    rsip(&mut h, 82, "aaln/1", "RM: disconnected\n");
    let a = h.recv();
    assert_eq!(a.verb(), "AUEP");
    assert_eq!(a.endpoint(), "aaln/1@gw1.example.net");
    assert!(h.inbox.is_empty() && h.events.is_empty());
    // The connection survived.
    h.command(Command::DeleteConnection {
        line: line(1),
        call: CallId(1),
    });
    assert_eq!(h.recv().verb(), "DLCX");
}

#[test]
fn one_line_restarting_loses_only_its_connections() {
    let mut h = Harness::armed(2);
    connect(&mut h, 1, 1);
    connect(&mut h, 2, 2);
    rsip(&mut h, 90, "aaln/1", "RM: restart\n");
    assert_eq!(
        h.event(),
        Event::ConnectionLost {
            line: line(1),
            call: CallId(1),
            reason: "restart".into()
        }
    );
    assert!(h.events.is_empty());
    assert_eq!(h.agent.stats().connections_lost, 1);
    h.command(Command::DeleteConnection {
        line: line(2),
        call: CallId(2),
    });
    let d = h.inbox.pop_back().unwrap();
    assert_eq!(d.verb(), "DLCX");
    assert_eq!(d.param("I"), Some("2"));
}
