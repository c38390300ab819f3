//! Keep-alive and reachability: a gateway that stops answering is reported once, what waits
//! for it fails, it is probed with doubling intervals up to the cap, and when a probe is
//! answered every line is audited and armed again — including lines whose work was dropped
//! while it was away.

use std::time::Duration;

use super::*;
use crate::mgcp::transaction;
use crate::model::{Cadence, CallId, Codec, Command, ConnectionMode, DownReason, Event};

/// A gateway whose commands time out after one 200 ms interval (no retransmission), probed
/// after 1 s, then 2 s, capped at 4 s; `max_outstanding` commands in flight.
fn impatient(lines: usize, max_outstanding: usize) -> Harness {
    let mut c = Harness::config(lines);
    let mut tx = transaction::Config::default();
    tx.max_retransmissions(0).unwrap();
    c.transaction(tx)
        .unwrap()
        .probe_interval(Duration::from_secs(1), Duration::from_secs(4))
        .unwrap()
        .max_outstanding(max_outstanding)
        .unwrap();
    let mut h = Harness::new(c);
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    h.events.clear();
    h
}

fn ring(n: usize) -> Command {
    Command::Ring {
        line: line(n),
        cadence: Cadence::Normal,
        caller_id: None,
    }
}

fn failed(e: Event) -> (LineId, Option<CallId>, u16, String) {
    match e {
        Event::CommandFailed {
            line,
            call,
            code,
            reason,
        } => (line, call, code, reason),
        e => panic!("not a failure: {e:?}"),
    }
}

fn down() -> Event {
    Event::GatewayDown {
        gateway: GatewayId::new(GW),
        reason: DownReason::Unreachable,
    }
}

fn up() -> Event {
    Event::GatewayUp {
        gateway: GatewayId::new(GW),
    }
}

#[test]
fn probes_double_their_interval_up_to_the_cap() {
    let mut h = impatient(1, 32);
    h.command(Command::Audit { line: line(1) });
    let first = h.recv();
    h.advance(ms(200));
    assert_eq!(failed(h.event()).3, "timeout");
    assert_eq!(h.event(), down());
    // Each probe is given up after 200 ms; the next follows 1 s, 2 s, then 4 s (the cap), 4 s
    // after the previous one was given up.
    h.advance(Duration::from_secs(14));
    let probes: Vec<Duration> = h
        .inbox
        .drain(..)
        .inspect(|s| assert_eq!(s.verb(), "AUEP"))
        .map(|s| s.at - first.at)
        .collect();
    assert_eq!(probes, [ms(1200), ms(3400), ms(7600), ms(11_800)]);
    assert!(h.events.is_empty(), "{:?}", h.events);
    let st = h.agent.stats();
    assert_eq!(st.probes_sent, 4);
    assert_eq!(st.gateway_down, 1);
    assert_eq!(st.timeouts, 5);
    // The probe of the first line is answered: up, and every line audited again.
    h.advance(ms(1900));
    let probe = h.recv();
    assert_eq!(probe.endpoint(), "aaln/1@gw1.example.net");
    h.send(&format!("200 {} OK\nES: L/hd\n", probe.txid()));
    assert_eq!(h.event(), up());
    let audit = h.recv();
    assert_eq!(audit.verb(), "AUEP");
    h.send(&format!("200 {} OK\nES: L/hd\n", audit.txid()));
    assert_eq!(
        h.event(),
        Event::LineStatus {
            line: line(1),
            off_hook: true
        }
    );
    let rearm = h.recv();
    off_hook_request(&rearm);
    h.send(&ok(&rearm));
    // No probe is left behind.
    h.advance(Duration::from_secs(60));
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
    assert_eq!(h.agent.stats().probes_sent, 5);
    assert_eq!(h.agent.stats().gateway_up, 2);
}

#[test]
fn work_waiting_for_an_unreachable_gateway_fails_and_every_line_is_armed_again() {
    let mut h = impatient(2, 1);
    // Line 1's ring is in flight; behind it wait a ring on line 2, an audit, a connection, and
    // (after the gateway's last notification) line 2's re-arm and line 1's resynchronisation.
    h.command(ring(1));
    let r1 = h.recv();
    h.command(ring(2));
    h.command(Command::Audit { line: line(2) });
    h.command(Command::CreateConnection {
        line: line(2),
        call: CallId(4),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    h.command(Command::DeleteConnection {
        line: line(2),
        call: CallId(4),
    });
    h.send("NTFY 70 aaln/2@gw1.example.net MGCP 1.0\nX: 2\nO: L/hd\n");
    assert!(h.recv().text.starts_with("200 70"));
    assert_eq!(h.event(), Event::OffHook { line: line(2) });
    h.send(&format!("401 {} already off hook\n", r1.txid()));
    assert_eq!(failed(h.event()).2, 401);
    // Line 2's ring, next in line, is refused locally (the phone is off hook now).
    let (l, _, code, _) = failed(h.event());
    assert_eq!((l, code), (line(2), 401));
    let audit = h.recv();
    assert_eq!(audit.verb(), "AUEP");
    assert_eq!(audit.endpoint(), "aaln/2@gw1.example.net");
    assert_eq!(h.agent.backlog(&GatewayId::new(GW)), Some((3, 1)));
    // The gateway goes silent.
    h.advance(ms(200));
    let failures: Vec<_> = std::iter::from_fn(|| h.events.pop_front()).collect();
    assert_eq!(
        failures,
        [
            Event::CommandFailed {
                line: line(2),
                call: None,
                code: 0,
                reason: "timeout".into()
            },
            down(),
            Event::CommandFailed {
                line: line(2),
                call: Some(CallId(4)),
                code: 0,
                reason: "gateway unreachable".into()
            },
            Event::CommandFailed {
                line: line(2),
                call: Some(CallId(4)),
                code: 0,
                reason: "connection never created".into()
            },
        ]
    );
    assert_eq!(h.agent.backlog(&GatewayId::new(GW)), Some((0, 0)));
    assert_eq!(h.agent.stats().commands_failed, 5);
    // Back: every line is audited and armed, whatever was dropped.
    h.advance(Duration::from_secs(1));
    let probe = h.recv();
    h.send(&format!("200 {} OK\nES: L/hd\n", probe.txid()));
    assert_eq!(h.event(), up());
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hd\n", s.txid()),
        _ => ok(s),
    });
    for n in [1, 2] {
        assert_eq!(
            h.event(),
            Event::LineStatus {
                line: line(n),
                off_hook: true
            }
        );
        assert_eq!(h.agent.is_armed(&line(n)), Some(true), "line {n}");
    }
    assert!(h.events.is_empty(), "{:?}", h.events);
    // The connection handle is free again.
    h.command(Command::CreateConnection {
        line: line(2),
        call: CallId(4),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    assert_eq!(h.recv().verb(), "CRCX");
}

#[test]
fn commands_refused_while_unreachable_are_counted() {
    let mut h = impatient(1, 32);
    h.command(ring(1));
    h.advance(ms(200));
    h.events.clear();
    h.command(Command::StopRing { line: line(1) });
    h.command(Command::ModifyConnection {
        line: line(1),
        call: CallId(9),
        mode: None,
        remote: None,
    });
    assert_eq!(
        h.events.drain(..).map(failed).collect::<Vec<_>>(),
        [
            (line(1), None, 0, "gateway unreachable".to_owned()),
            (
                line(1),
                Some(CallId(9)),
                0,
                "gateway unreachable".to_owned()
            ),
        ]
    );
    assert_eq!(h.agent.stats().refused_unreachable, 2);
}

#[test]
fn connections_are_forgotten_when_the_gateway_is_unreachable() {
    let mut h = impatient(1, 32);
    h.command(Command::CreateConnection {
        line: line(1),
        call: CallId(1),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    let c = h.recv();
    h.send(&format!("200 {} OK\nI: 1\n\n{GW_SDP}", c.txid()));
    assert!(matches!(h.event(), Event::ConnectionCreated { .. }));
    h.command(Command::Audit { line: line(1) });
    h.advance(ms(200));
    h.events.clear();
    h.advance(Duration::from_secs(1));
    let probe = h.recv();
    h.send(&format!("200 {} OK\nES: L/hu\n", probe.txid()));
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    h.events.clear();
    h.command(Command::DeleteConnection {
        line: line(1),
        call: CallId(1),
    });
    assert_eq!(failed(h.event()).2, 515);
    assert!(h.inbox.is_empty());
}

#[test]
fn a_line_given_up_is_not_retried_while_its_gateway_is_unreachable() {
    let mut c = Harness::config(1);
    let mut tx = transaction::Config::default();
    tx.max_retransmissions(0).unwrap();
    c.transaction(tx)
        .unwrap()
        .max_arm_failures(0)
        .unwrap()
        .arm_retry_interval(Duration::from_secs(10))
        .unwrap()
        .probe_interval(Duration::from_secs(30), Duration::from_secs(30))
        .unwrap();
    let mut h = Harness::new(c);
    let a = h.recv();
    h.send(&format!("200 {} OK\nES: L/hu\n", a.txid()));
    let r = h.recv();
    h.send(&format!("510 {} protocol error\n", r.txid()));
    assert_eq!(h.agent.stats().lines_unarmed, 1);
    h.events.clear();
    // Unreachable before the retry is due: the retry sends nothing.
    h.command(Command::Audit { line: line(1) });
    assert_eq!(h.recv().verb(), "AUEP");
    h.advance(ms(200));
    assert_eq!(h.events.pop_back(), Some(down()));
    h.advance(Duration::from_secs(20));
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
    // The probe, answered, brings the line back.
    h.advance(Duration::from_secs(10));
    let probe = h.recv();
    h.send(&format!("200 {} OK\nES: L/hu\n", probe.txid()));
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
}

/// Cisco IOS gateways send `NTFY` for the whole gateway (`*@…`) with an empty `O:` as a
/// keep-alive (seen in their traffic, issue 15); RFC 3435 §2.1.2 lets the "all of" wildcard `*`
/// name every endpoint of a gateway. It is answered `200`, changes no line, and brings an
/// unreachable gateway back like any answer.
#[test]
fn a_keep_alive_for_the_whole_gateway_is_answered_and_is_a_sign_of_life() {
    let mut h = impatient(1, 32);
    h.send("NTFY 300 *@gw1.example.net MGCP 1.0\nX: 0\nO:\n");
    assert!(h.recv().text.starts_with("200 300"));
    h.send("NTFY 301 *@gw1.example.net MGCP 1.0\n");
    assert!(h.recv().text.starts_with("200 301"), "no O: at all");
    assert!(h.inbox.is_empty() && h.events.is_empty(), "no line touched");
    // One for `*` that does report events names no line we know.
    h.send("NTFY 302 *@gw1.example.net MGCP 1.0\nX: 0\nO: L/hd\n");
    assert!(h.recv().text.starts_with("500 302"));
    let st = h.agent.stats();
    assert_eq!(
        (st.keepalives, st.notifications, st.unknown_endpoint),
        (2, 0, 1)
    );
    // Unreachable, then a keep-alive: up again, and the lines audited.
    h.command(Command::Audit { line: line(1) });
    h.recv();
    h.advance(ms(200));
    assert_eq!(failed(h.event()).3, "timeout");
    assert_eq!(h.event(), down());
    h.send("NTFY 303 *@gw1.example.net MGCP 1.0\nO:\n");
    assert!(h.recv().text.starts_with("200 303"));
    assert_eq!(h.event(), up());
    let audit = h.recv();
    assert_eq!(
        (audit.verb(), audit.endpoint()),
        ("AUEP", "aaln/1@gw1.example.net")
    );
}
