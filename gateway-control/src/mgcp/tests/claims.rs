//! Restart claims checked before they are believed (issue 13, point 18): a forged
//! `RSIP … RM: forced` from the gateway's address, while the gateway goes on answering, is
//! refuted by one audit round trip and costs no call; a real forced restart (the gateway goes
//! silent, or answers out of service) is still believed.

use std::time::Duration;

use super::*;
use crate::model::{CallId, Codec, Command, ConnectionMode, DownReason, Event};

fn gw() -> GatewayId {
    GatewayId::new(GW)
}

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

/// Line `n` gets connection `call`, which the gateway names `id`.
fn connect(h: &mut Harness, n: usize, call: u64, id: &str) {
    h.command(Command::CreateConnection {
        line: line(n),
        call: CallId(call),
        mode: ConnectionMode::RecvOnly,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    let c = h.recv();
    h.send(&format!("200 {} OK\nI: {id}\n\n{GW_SDP}", c.txid()));
    assert!(matches!(h.event(), Event::ConnectionCreated { .. }));
}

/// The check audits waiting in the inbox, in line order.
fn checks(h: &mut Harness) -> Vec<Sent> {
    let sent: Vec<Sent> = h.inbox.drain(..).collect();
    for s in &sent {
        assert_eq!(
            (s.verb(), s.param("F")),
            ("AUEP", Some("ES,I")),
            "{}",
            s.text
        );
    }
    sent
}

/// The gateway, in service, answers a check: on hook, with connection ids `ids` (none: no
/// `I:` line).
fn in_service(h: &mut Harness, s: &Sent, ids: &str) {
    let i = if ids.is_empty() {
        String::new()
    } else {
        format!("I: {ids}\n")
    };
    h.send(&format!("200 {} OK\nES: L/hu\n{i}", s.txid()));
}

/// Deletes `call` on line `n`: the DLCX names the gateway's id, so the connection was kept.
fn still_open(h: &mut Harness, n: usize, call: u64, id: &str) {
    h.command(Command::DeleteConnection {
        line: line(n),
        call: CallId(call),
    });
    let d = h.inbox.pop_back().expect("no DLCX");
    assert_eq!((d.verb(), d.param("I")), ("DLCX", Some(id)), "{}", d.text);
    h.send(&format!("250 {} OK\n", d.txid()));
    assert_eq!(
        h.events.pop_back(),
        Some(Event::ConnectionDeleted {
            line: line(n),
            call: CallId(call)
        })
    );
}

#[test]
fn a_forged_forced_restart_is_refuted_in_one_round_trip_and_the_calls_survive() {
    let mut h = Harness::armed(3);
    connect(&mut h, 1, 1, "A1");
    connect(&mut h, 2, 2, "B2");
    connect(&mut h, 2, 3, "C3");
    // The attacker's datagram, from the gateway's address.
    rsip(&mut h, 500, "*", "RM: forced\n");
    assert!(h.events.is_empty(), "not believed yet: {:?}", h.events);
    let audits = checks(&mut h);
    let endpoints: Vec<&str> = audits.iter().map(Sent::endpoint).collect();
    assert_eq!(
        endpoints,
        [
            "aaln/1@gw1.example.net",
            "aaln/2@gw1.example.net",
            "aaln/3@gw1.example.net"
        ]
    );
    // The real gateway answers at once: line 1 still has its connection (any case, any
    // spacing), line 2 only one of its two, line 3 none.
    in_service(&mut h, &audits[0], "a1");
    in_service(&mut h, &audits[1], "0F, b2");
    assert_eq!(
        h.agent.stats().restart_claims_refuted,
        0,
        "not until every line answered"
    );
    in_service(&mut h, &audits[2], "");
    assert_eq!(
        h.events.drain(..).collect::<Vec<_>>(),
        [Event::ConnectionLost {
            line: line(2),
            call: CallId(3),
            reason: "restart".into()
        }],
        "only the connection the gateway no longer has is lost; no GatewayDown"
    );
    // Every line is re-armed.
    let rearms: Vec<Sent> = h.inbox.drain(..).collect();
    assert_eq!(rearms.len(), 3);
    for r in &rearms {
        on_hook_request(r);
        h.send(&ok(r));
    }
    for n in 1..=3 {
        assert_eq!(h.agent.is_armed(&line(n)), Some(true));
    }
    still_open(&mut h, 1, 1, "A1");
    still_open(&mut h, 2, 2, "B2");
    let st = h.agent.stats();
    assert_eq!(st.connections_lost, 1);
    assert_eq!(
        (
            st.restart_claims_refuted,
            st.restart_claims_confirmed,
            st.gateway_down
        ),
        (1, 0, 0)
    );
    // The deadline that was set is gone: nothing happens later.
    h.advance(Duration::from_secs(10));
    assert!(h.events.is_empty(), "{:?}", h.events);
}

#[test]
fn every_forged_claim_is_counted_and_a_repeat_while_checking_is_the_same_check() {
    let mut h = Harness::armed(1);
    rsip(&mut h, 501, "*", "RM: forced\n");
    let first = checks(&mut h);
    h.advance(ms(3000));
    h.inbox.clear();
    // Sent again while checking: no new audit, and the deadline is not pushed back.
    rsip(&mut h, 502, "*", "RM: forced\n");
    assert!(h.inbox.iter().all(|s| s.txid() == first[0].txid()));
    h.inbox.clear();
    h.advance(ms(999));
    assert!(h.events.is_empty());
    h.advance(ms(1));
    assert_eq!(
        h.event(),
        Event::GatewayDown {
            gateway: gw(),
            reason: DownReason::Forced
        }
    );
    // A late answer (the audits were lost, not the gateway): it is up again, re-audited.
    in_service(&mut h, &first[0], "");
    assert_eq!(h.event(), Event::GatewayUp { gateway: gw() });
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
    // Forged again: refuted again.
    rsip(&mut h, 503, "*", "RM: forced\n");
    let again = checks(&mut h);
    in_service(&mut h, &again[0], "");
    let st = h.agent.stats();
    assert_eq!(
        (st.restart_claims_confirmed, st.restart_claims_refuted),
        (1, 2)
    );
}

#[test]
fn a_real_forced_restart_silent_gateway_is_down_at_the_deadline_and_back_with_its_restart() {
    let mut h = Harness::armed(2);
    connect(&mut h, 1, 1, "1");
    rsip(&mut h, 510, "*", "RM: forced\n");
    let audits = checks(&mut h);
    assert_eq!(audits.len(), 2);
    // Rebooting: nothing answers. The claim is believed after `restart_check_timeout`.
    h.advance(ms(3999));
    assert!(h.events.is_empty(), "{:?}", h.events);
    h.advance(ms(1));
    assert_eq!(
        h.event(),
        Event::GatewayDown {
            gateway: gw(),
            reason: DownReason::Forced
        }
    );
    assert!(h.events.is_empty(), "reported once: {:?}", h.events);
    // Its calls are gone; commands now fail at once.
    h.command(Command::DeleteConnection {
        line: line(1),
        call: CallId(1),
    });
    assert!(matches!(h.event(), Event::CommandFailed { code: 0, .. }));
    // It is probed while silent.
    h.inbox.clear();
    h.advance(Duration::from_secs(2));
    assert!(
        h.inbox
            .iter()
            .any(|s| s.verb() == "AUEP" && s.param("F") == Some("ES"))
    );
    h.inbox.clear();
    // Back: it says so; audited, armed, up.
    rsip(&mut h, 511, "*", "RM: restart\n");
    assert!(h.events.is_empty(), "no second down: {:?}", h.events);
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    assert_eq!(h.event(), Event::GatewayUp { gateway: gw() });
    let st = h.agent.stats();
    assert_eq!(
        (
            st.restart_claims_confirmed,
            st.restart_claims_refuted,
            st.gateway_down
        ),
        (1, 0, 1)
    );
}

#[test]
fn one_line_out_of_service_confirms_the_claim_whatever_the_others_say() {
    let mut h = Harness::armed(2);
    connect(&mut h, 1, 1, "1");
    rsip(&mut h, 520, "*", "RM: forced\n");
    let audits = checks(&mut h);
    in_service(&mut h, &audits[0], "1");
    assert!(h.events.is_empty());
    h.send(&format!("501 {} not ready\n", audits[1].txid()));
    assert_eq!(
        h.event(),
        Event::GatewayDown {
            gateway: gw(),
            reason: DownReason::Forced
        }
    );
    h.command(Command::DeleteConnection {
        line: line(1),
        call: CallId(1),
    });
    assert!(matches!(h.event(), Event::CommandFailed { code: 515, .. }));
    // Waits for the gateway's restart: no deadline left behind reports anything.
    h.inbox.clear();
    h.advance(Duration::from_secs(10));
    assert!(h.events.is_empty(), "{:?}", h.events);
    let st = h.agent.stats();
    assert_eq!(
        (st.restart_claims_confirmed, st.restart_claims_refuted),
        (1, 0)
    );
}

#[test]
fn a_forced_claim_after_a_graceful_one_is_checked_and_refuted_brings_the_gateway_up() {
    let mut h = Harness::armed(1);
    connect(&mut h, 1, 1, "1");
    rsip(&mut h, 530, "*", "RM: graceful\nRD: 600\n");
    assert!(matches!(h.event(), Event::GatewayDown { .. }));
    rsip(&mut h, 531, "*", "RM: forced\n");
    let audits = checks(&mut h);
    in_service(&mut h, &audits[0], "1");
    assert_eq!(h.event(), Event::GatewayUp { gateway: gw() });
    assert!(h.events.is_empty(), "{:?}", h.events);
    assert_eq!(h.agent.stats().gateway_up, 2);
    still_open(&mut h, 1, 1, "1");
    h.answer_until_quiet(ok);
    // The graceful delay's check was replaced.
    h.advance(Duration::from_secs(700));
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
}

#[test]
fn a_graceful_restart_that_never_happens_is_undone_when_its_delay_is_over() {
    let mut c = Harness::config(1);
    c.max_restart_delay(Duration::from_secs(30)).unwrap();
    let mut h = Harness::new(c);
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    h.events.clear();
    rsip(&mut h, 540, "*", "RM: graceful\nRD: 10\n");
    assert!(matches!(h.event(), Event::GatewayDown { .. }));
    // Said again: its delay does not restart.
    h.advance(Duration::from_secs(5));
    rsip(&mut h, 541, "*", "RM: graceful\nRD: 10\n");
    h.advance(ms(4999));
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
    h.advance(ms(1));
    let audits = checks(&mut h);
    in_service(&mut h, &audits[0], "");
    assert_eq!(h.event(), Event::GatewayUp { gateway: gw() });
    // No delay given: checked after `max_restart_delay`.
    h.answer_until_quiet(ok);
    rsip(&mut h, 542, "*", "RM: graceful\n");
    assert!(matches!(h.event(), Event::GatewayDown { .. }));
    h.advance(ms(29_999));
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
    h.advance(ms(1));
    let audits = checks(&mut h);
    // This time it went: out of service, down for good.
    h.send(&format!("501 {} out of service\n", audits[0].txid()));
    assert_eq!(
        h.event(),
        Event::GatewayDown {
            gateway: gw(),
            reason: DownReason::Forced
        }
    );
    assert_eq!(h.agent.stats().restart_claims_refuted, 1);
}

#[test]
fn cancel_graceful_cancels_the_check() {
    let mut h = Harness::armed(1);
    rsip(&mut h, 550, "*", "RM: graceful\nRD: 10\n");
    rsip(&mut h, 551, "*", "RM: cancel-graceful\n");
    h.events.clear();
    h.advance(Duration::from_secs(20));
    assert!(h.inbox.is_empty() && h.events.is_empty(), "{:?}", h.inbox);
}

#[test]
fn a_forged_forced_restart_of_one_line_is_refuted_and_its_call_kept() {
    let mut h = Harness::armed(2);
    connect(&mut h, 1, 1, "1");
    rsip(&mut h, 560, "aaln/1", "RM: forced\n");
    let audits = checks(&mut h);
    assert_eq!(audits.len(), 1);
    assert_eq!(audits[0].endpoint(), "aaln/1@gw1.example.net");
    in_service(&mut h, &audits[0], "1");
    assert!(h.events.is_empty(), "{:?}", h.events);
    let rearm = h.recv();
    on_hook_request(&rearm);
    h.send(&ok(&rearm));
    still_open(&mut h, 1, 1, "1");
    assert_eq!(h.agent.stats().restart_claims_refuted, 1);
    assert_eq!(h.agent.stats().connections_lost, 0);
}

#[test]
fn a_forced_restart_of_one_line_out_of_service_loses_its_calls() {
    let mut h = Harness::armed(2);
    connect(&mut h, 1, 1, "1");
    connect(&mut h, 2, 2, "2");
    rsip(&mut h, 570, "aaln/1", "RM: forced\n");
    out_of_service(&mut h);
    assert_eq!(
        h.event(),
        Event::ConnectionLost {
            line: line(1),
            call: CallId(1),
            reason: "restart".into()
        }
    );
    assert!(h.events.is_empty(), "{:?}", h.events);
    let resync = h.recv();
    assert_eq!((resync.verb(), resync.param("F")), ("AUEP", Some("ES")));
    still_open(&mut h, 2, 2, "2");
    assert_eq!(h.agent.stats().restart_claims_confirmed, 1);
}

#[test]
fn the_hook_a_check_finds_is_reported() {
    let mut h = Harness::armed(1);
    rsip(&mut h, 580, "*", "RM: forced\n");
    let audits = checks(&mut h);
    h.send(&format!("200 {} OK\nES: L/hd\n", audits[0].txid()));
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    off_hook_request(&h.recv());
}

#[test]
fn a_forced_claim_while_starting_or_unreachable_is_believed_as_before() {
    let mut h = Harness::new(Harness::config(1));
    let first = h.recv();
    rsip(&mut h, 590, "*", "RM: forced\n");
    assert_eq!(
        h.event(),
        Event::GatewayDown {
            gateway: gw(),
            reason: DownReason::Forced
        }
    );
    assert!(h.inbox.is_empty(), "no check: {:?}", h.inbox);
    h.send(&format!("200 {} OK\nES: L/hu\n", first.txid()));
    assert_eq!(h.agent.stats().restart_claims_refuted, 0);
}

/// Commands time out after one try here (200 ms), well before the 4 s check deadline.
fn impatient(lines: usize) -> Harness {
    let mut c = Harness::config(lines);
    let mut tx = crate::mgcp::transaction::Config::default();
    tx.max_retransmissions(0).unwrap();
    c.transaction(tx).unwrap();
    let mut h = Harness::new(c);
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    h.events.clear();
    h
}

#[test]
fn a_check_that_times_out_before_the_deadline_settles_the_claim_as_forced() {
    let mut h = impatient(1);
    rsip(&mut h, 600, "*", "RM: forced\n");
    checks(&mut h);
    h.advance(Duration::from_secs(1));
    assert_eq!(
        h.events.drain(..).collect::<Vec<_>>(),
        [Event::GatewayDown {
            gateway: gw(),
            reason: DownReason::Forced
        }]
    );
    assert_eq!(h.agent.stats().restart_claims_confirmed, 1);
}

#[test]
fn a_probe_that_times_out_after_the_gateway_restarted_is_no_new_outage() {
    let mut h = impatient(1);
    rsip(&mut h, 610, "*", "RM: forced\n");
    checks(&mut h);
    h.advance(Duration::from_secs(1));
    h.events.clear();
    // Probed while silent (1 s after); the probe is in flight when the gateway's restart
    // comes, and is never answered.
    h.inbox.clear();
    h.advance(Duration::from_secs(1));
    assert_eq!(h.recv().verb(), "AUEP");
    rsip(&mut h, 611, "*", "RM: restart\n");
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    assert_eq!(h.event(), Event::GatewayUp { gateway: gw() });
    h.events.clear();
    h.advance(Duration::from_secs(5));
    assert!(h.events.is_empty(), "{:?}", h.events);
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
}

#[test]
fn a_check_that_times_out_after_the_claim_was_settled_is_no_new_outage() {
    let mut h = impatient(2);
    rsip(&mut h, 620, "*", "RM: forced\n");
    let audits = checks(&mut h);
    // Line 1 says out of service (believed at once); line 2's check is never answered.
    h.send(&format!("501 {} out of service\n", audits[0].txid()));
    assert!(matches!(h.event(), Event::GatewayDown { .. }));
    h.inbox.clear();
    h.advance(Duration::from_secs(5));
    assert!(h.events.is_empty(), "{:?}", h.events);
    // It waits for the gateway's restart: not taken for unreachable, not probed.
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
}

#[test]
fn a_graceful_claim_while_starting_is_checked_too() {
    let mut c = Harness::config(1);
    c.max_restart_delay(Duration::from_secs(30)).unwrap();
    let mut h = Harness::new(c);
    let first = h.recv();
    rsip(&mut h, 630, "*", "RM: graceful\n");
    assert!(matches!(h.event(), Event::GatewayDown { .. }));
    h.send(&format!("200 {} OK\nES: L/hu\n", first.txid()));
    h.answer_until_quiet(ok);
    h.events.clear();
    h.advance(Duration::from_secs(30));
    let audits = checks(&mut h);
    in_service(&mut h, &audits[0], "");
    assert_eq!(h.event(), Event::GatewayUp { gateway: gw() });
    let st = h.agent.stats();
    assert_eq!((st.gateway_up, st.restart_claims_refuted), (1, 1));
}

#[test]
fn a_graceful_claim_during_a_restart_delay_keeps_the_restart_timer() {
    let mut h = Harness::armed(1);
    rsip(&mut h, 640, "*", "RM: restart\nRD: 5\n");
    h.events.clear();
    rsip(&mut h, 641, "*", "RM: graceful\nRD: 1\n");
    h.advance(ms(4999));
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
    h.advance(ms(1));
    // The restart's audit, not a check.
    let a = h.recv();
    assert_eq!((a.verb(), a.param("F")), ("AUEP", Some("ES")));
}

#[test]
fn a_graceful_timer_replaced_by_a_refuted_claim_does_not_fire_later() {
    let mut h = Harness::armed(1);
    rsip(&mut h, 650, "*", "RM: graceful\nRD: 10\n");
    rsip(&mut h, 651, "*", "RM: forced\n");
    let audits = checks(&mut h);
    in_service(&mut h, &audits[0], "");
    h.answer_until_quiet(ok);
    // Announced again, for longer: the first delay's timer is gone.
    rsip(&mut h, 652, "*", "RM: graceful\nRD: 100\n");
    h.advance(Duration::from_secs(20));
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
    h.advance(Duration::from_secs(80));
    checks(&mut h);
}

#[test]
fn a_gateway_with_no_lines_cannot_be_checked_and_is_believed() {
    let mut c = Config::default();
    c.gateway(GatewayConfig {
        id: gw(),
        address: gw_addr(),
        domain: "gw1.example.net".to_owned(),
        lines: Vec::new(),
    })
    .unwrap();
    let mut h = Harness::new(c);
    // Nothing to audit at start: it is up when it first speaks (here, a keep-alive).
    h.send("RSIP 660 *@gw1.example.net MGCP 1.0\nRM: restart\n");
    h.inbox.clear();
    h.events.clear();
    h.send("NTFY 661 *@gw1.example.net MGCP 1.0\n");
    assert!(h.recv().text.starts_with("200 661"));
    assert_eq!(h.event(), Event::GatewayUp { gateway: gw() });
    h.inbox.clear();
    // In service, with no line to audit, a forced restart claim is believed.
    h.send("RSIP 662 *@gw1.example.net MGCP 1.0\nRM: forced\n");
    assert!(h.recv().text.starts_with("200 662"));
    assert_eq!(
        h.event(),
        Event::GatewayDown {
            gateway: gw(),
            reason: DownReason::Forced
        }
    );
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
}

#[test]
fn a_forced_claim_for_one_line_while_the_gateway_is_not_in_service_is_believed() {
    let mut h = Harness::armed(1);
    connect(&mut h, 1, 1, "1");
    rsip(&mut h, 670, "*", "RM: graceful\nRD: 60\n");
    h.events.clear();
    rsip(&mut h, 671, "aaln/1", "RM: forced\n");
    assert_eq!(
        h.event(),
        Event::ConnectionLost {
            line: line(1),
            call: CallId(1),
            reason: "restart".into()
        }
    );
    let a = h.recv();
    assert_eq!((a.verb(), a.param("F")), ("AUEP", Some("ES")));
}

#[test]
fn a_connection_being_created_during_a_check_is_not_lost() {
    let mut h = Harness::armed(1);
    h.command(Command::CreateConnection {
        line: line(1),
        call: CallId(9),
        mode: ConnectionMode::RecvOnly,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    let crcx = h.recv();
    rsip(&mut h, 680, "*", "RM: forced\n");
    let audits = checks(&mut h);
    // Answered before the create: the gateway lists nothing yet.
    in_service(&mut h, &audits[0], "");
    h.send(&format!("200 {} OK\nI: 9\n\n{GW_SDP}", crcx.txid()));
    assert!(matches!(
        h.events.pop_back(),
        Some(Event::ConnectionCreated { .. })
    ));
    assert!(h.events.is_empty(), "{:?}", h.events);
    assert_eq!(h.agent.stats().connections_lost, 0);
}

#[test]
fn a_command_that_times_out_during_a_check_is_an_unreachable_gateway() {
    let mut h = impatient(1);
    h.command(Command::Audit { line: line(1) });
    h.recv();
    rsip(&mut h, 690, "*", "RM: forced\n");
    checks(&mut h);
    h.advance(Duration::from_secs(1));
    assert!(matches!(h.event(), Event::CommandFailed { code: 0, .. }));
    assert_eq!(
        h.event(),
        Event::GatewayDown {
            gateway: gw(),
            reason: DownReason::Unreachable
        }
    );
    assert!(h.events.is_empty(), "{:?}", h.events);
}
