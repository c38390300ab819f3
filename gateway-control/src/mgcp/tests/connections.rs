//! Connections (RFC 3435 §2.3.5–§2.3.8): CRCX/MDCX/DLCX and their session descriptions, the
//! commands that wait for a connection being created, the bounds that refuse model commands,
//! timeouts, and deletes by the gateway.

use super::*;
use crate::mgcp::transaction;
use crate::model::{CallId, Codec, Command, ConnectionMode, Event};

fn create(n: usize, call: u64, mode: ConnectionMode) -> Command {
    Command::CreateConnection {
        line: line(n),
        call: CallId(call),
        mode,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    }
}

fn modify(n: usize, call: u64, mode: Option<ConnectionMode>) -> Command {
    Command::ModifyConnection {
        line: line(n),
        call: CallId(call),
        mode,
        remote: None,
    }
}

fn delete(n: usize, call: u64) -> Command {
    Command::DeleteConnection {
        line: line(n),
        call: CallId(call),
    }
}

/// Creates connection `call` on line `n`; the gateway names it `call` in hex.
fn connect(h: &mut Harness, n: usize, call: u64) {
    h.command(create(n, call, ConnectionMode::SendRecv));
    let c = h.recv();
    h.send(&format!("200 {} OK\nI: {call:X}\n\n{GW_SDP}", c.txid()));
    assert!(matches!(h.event(), Event::ConnectionCreated { .. }));
}

fn failure(e: Event) -> (Option<CallId>, u16, String) {
    match e {
        Event::CommandFailed {
            call, code, reason, ..
        } => (call, code, reason),
        e => panic!("not a failure: {e:?}"),
    }
}

#[test]
fn each_connection_mode_goes_by_its_rfc_name() {
    let mut h = Harness::armed(1);
    let modes = [
        (ConnectionMode::SendOnly, "sendonly"),
        (ConnectionMode::RecvOnly, "recvonly"),
        (ConnectionMode::SendRecv, "sendrecv"),
        (ConnectionMode::Inactive, "inactive"),
        (ConnectionMode::Loopback, "loopback"),
    ];
    for (n, (mode, name)) in modes.into_iter().enumerate() {
        h.command(create(1, n as u64, mode));
        let c = h.recv();
        assert_eq!(c.param("M"), Some(name));
        h.send(&format!("200 {} OK\nI: {n}\n\n{GW_SDP}", c.txid()));
        h.event();
        h.command(modify(1, n as u64, Some(mode)));
        let m = h.recv();
        assert_eq!(m.param("M"), Some(name));
        h.send(&ok(&m));
        h.event();
    }
    // A modify without a mode sends none.
    h.command(modify(1, 0, None));
    let m = h.recv();
    assert_eq!(m.param("M"), None);
    assert_eq!(m.param("I"), Some("0"));
}

#[test]
fn a_modify_with_remote_media_carries_our_session_description() {
    let mut h = Harness::armed(1);
    connect(&mut h, 1, 0x31);
    h.command(Command::ModifyConnection {
        line: line(1),
        call: CallId(0x31),
        mode: None,
        remote: Some(media(41000)),
    });
    let m = h.recv();
    assert_eq!(m.param("C"), Some("31"));
    assert!(m.text.contains("\r\n\r\nv=0\r\n"), "{}", m.text);
    assert!(
        m.text.contains("m=audio 41000 RTP/AVP 0 101\r\n"),
        "{}",
        m.text
    );
    h.send(&format!(
        "527 {} missing remote connection descriptor\n",
        m.txid()
    ));
    assert_eq!(
        failure(h.event()),
        (
            Some(CallId(0x31)),
            527,
            "missing remote connection descriptor".to_owned()
        )
    );
}

#[test]
fn at_most_eight_commands_wait_for_a_connection_being_created() {
    let mut h = Harness::armed(1);
    h.command(create(1, 1, ConnectionMode::RecvOnly));
    let c = h.recv();
    for _ in 0..8 {
        h.command(modify(1, 1, Some(ConnectionMode::SendRecv)));
    }
    assert!(h.events.is_empty());
    h.command(delete(1, 1));
    assert_eq!(
        failure(h.event()),
        (Some(CallId(1)), 0, "too many deferred commands".to_owned())
    );
    assert_eq!(h.agent.stats().queue_full, 1);
    assert!(h.inbox.is_empty());
    h.send(&format!("200 {} OK\nI: 1\n\n{GW_SDP}", c.txid()));
    assert!(matches!(h.event(), Event::ConnectionCreated { .. }));
    let sent: Vec<String> = h.inbox.drain(..).map(|s| s.verb().to_owned()).collect();
    assert_eq!(sent, vec!["MDCX"; 8]);
}

#[test]
fn commands_waiting_for_a_refused_create_fail_with_its_code() {
    let mut h = Harness::armed(1);
    h.command(create(1, 2, ConnectionMode::RecvOnly));
    let c = h.recv();
    h.command(modify(1, 2, None));
    h.command(delete(1, 2));
    h.send(&format!("502 {} insufficient resources\n", c.txid()));
    let failures: Vec<_> = h.events.drain(..).map(failure).collect();
    let f = (Some(CallId(2)), 502, "insufficient resources".to_owned());
    assert_eq!(failures, [f.clone(), f.clone(), f]);
    assert!(h.inbox.is_empty());
}

#[test]
fn a_call_handle_in_use_is_refused_locally() {
    let mut h = Harness::armed(1);
    h.command(create(1, 3, ConnectionMode::RecvOnly));
    h.recv();
    h.command(create(1, 3, ConnectionMode::SendRecv));
    assert_eq!(
        failure(h.event()),
        (Some(CallId(3)), 0, "call handle already in use".to_owned())
    );
    assert!(h.inbox.is_empty());
}

#[test]
fn a_create_for_a_line_that_is_not_configured_fails_without_a_command() {
    let mut h = Harness::armed(1);
    h.command(create(9, 4, ConnectionMode::SendRecv));
    assert_eq!(
        failure(h.event()),
        (Some(CallId(4)), 500, "unknown line".to_owned())
    );
    // A wildcard on a gateway that is not configured too.
    h.command(Command::CreateConnection {
        line: LineId::new(GatewayId::new("gw9"), "aaln/$"),
        call: CallId(5),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    assert_eq!(failure(h.event()).1, 500);
    assert!(h.inbox.is_empty());
    assert_eq!(h.agent.stats().unknown_line_commands, 2);
}

#[test]
fn a_modify_goes_to_the_endpoint_the_connection_is_on() {
    let mut h = Harness::armed(2);
    h.command(Command::CreateConnection {
        line: LineId::new(GatewayId::new(GW), "aaln/*"),
        call: CallId(6),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    });
    let c = h.recv();
    h.send(&format!(
        "200 {} OK\nI: 6\nZ: aaln/2@gw1.example.net\n\n{GW_SDP}",
        c.txid()
    ));
    h.event();
    h.command(modify(1, 6, None));
    assert_eq!(h.recv().endpoint(), "aaln/2@gw1.example.net");
    h.command(delete(1, 6));
    assert_eq!(h.recv().endpoint(), "aaln/2@gw1.example.net");
}

#[test]
fn a_refused_delete_is_reported_and_the_connection_forgotten() {
    let mut h = Harness::armed(1);
    connect(&mut h, 1, 7);
    h.command(delete(1, 7));
    let d = h.recv();
    h.send(&format!("515 {} incorrect connection id\n", d.txid()));
    assert_eq!(
        failure(h.event()),
        (Some(CallId(7)), 515, "incorrect connection id".to_owned())
    );
    h.command(delete(1, 7));
    assert_eq!(failure(h.event()).1, 515);
    assert!(h.inbox.is_empty());
}

#[test]
fn a_create_answer_without_connection_id_is_reported_and_nothing_is_deleted() {
    let mut h = Harness::armed(1);
    h.command(create(1, 8, ConnectionMode::SendRecv));
    let c = h.recv();
    h.send(&format!("200 {} OK\n\n{GW_SDP}", c.txid()));
    assert_eq!(failure(h.event()).0, Some(CallId(8)));
    assert!(h.inbox.is_empty());
    // The handle is free again.
    h.command(create(1, 8, ConnectionMode::SendRecv));
    assert_eq!(h.recv().verb(), "CRCX");
}

#[test]
fn a_refused_clean_up_delete_is_not_reported() {
    let mut h = Harness::armed(1);
    h.command(create(1, 9, ConnectionMode::SendRecv));
    let c = h.recv();
    h.send(&format!("200 {} OK\nI: 9\n", c.txid()));
    h.event();
    let d = h.recv();
    assert_eq!(d.verb(), "DLCX");
    h.send(&format!("515 {} incorrect connection id\n", d.txid()));
    assert!(h.events.is_empty(), "{:?}", h.events);
}

#[test]
fn the_queue_bound_refuses_model_commands_and_frees_their_call_handle() {
    let mut c = Harness::config(1);
    c.max_queued(2).unwrap().max_outstanding(1).unwrap();
    let mut h = Harness::new(c);
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    h.events.clear();
    for _ in 0..3 {
        h.command(Command::Audit { line: line(1) });
    }
    assert_eq!(h.agent.backlog(&GatewayId::new(GW)), Some((2, 1)));
    assert!(h.events.is_empty());
    h.command(create(1, 10, ConnectionMode::SendRecv));
    assert_eq!(
        failure(h.event()),
        (Some(CallId(10)), 0, "call agent queue full".to_owned())
    );
    assert_eq!(h.agent.stats().queue_full, 1);
    h.answer_until_quiet(|s| format!("200 {} OK\nES: L/hu\n", s.txid()));
    h.events.clear();
    h.command(create(1, 10, ConnectionMode::SendRecv));
    assert_eq!(h.recv().verb(), "CRCX");
    assert!(h.events.is_empty());
}

#[test]
fn commands_beyond_the_transaction_layers_bound_fail_as_overloaded() {
    let mut c = Harness::config(1);
    let mut tx = transaction::Config::default();
    tx.max_in_flight(1).unwrap();
    c.transaction(tx).unwrap();
    let mut h = Harness::new(c);
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    h.events.clear();
    h.command(Command::Audit { line: line(1) });
    h.command(create(1, 11, ConnectionMode::SendRecv));
    assert_eq!(
        failure(h.event()),
        (Some(CallId(11)), 0, "call agent overloaded".to_owned())
    );
    assert_eq!(h.agent.backlog(&GatewayId::new(GW)), Some((0, 1)));
    let a = h.recv();
    assert!(h.inbox.is_empty());
    h.send(&format!("200 {} OK\nES: L/hu\n", a.txid()));
    h.event();
    h.command(create(1, 11, ConnectionMode::SendRecv));
    assert_eq!(h.recv().verb(), "CRCX");
}

#[test]
fn timed_out_connection_commands_are_reported_with_their_call() {
    let mut c = Harness::config(1);
    let mut tx = transaction::Config::default();
    tx.max_retransmissions(0).unwrap();
    c.transaction(tx).unwrap();
    let mut h = Harness::new(c);
    h.answer_until_quiet(|s| match s.verb() {
        "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
        _ => ok(s),
    });
    h.events.clear();
    connect(&mut h, 1, 1);
    connect(&mut h, 1, 2);
    h.command(create(1, 3, ConnectionMode::SendRecv));
    h.command(modify(1, 1, None));
    h.command(delete(1, 2));
    h.advance(ms(200));
    let failures: Vec<_> = h
        .events
        .drain(..)
        .filter(|e| matches!(e, Event::CommandFailed { .. }))
        .map(|e| match e {
            Event::CommandFailed {
                line: l,
                call,
                reason,
                ..
            } => (l, call, reason),
            _ => unreachable!(),
        })
        .collect();
    let timeout = |call| (line(1), Some(CallId(call)), "timeout".to_owned());
    assert_eq!(failures, [timeout(3), timeout(1), timeout(2)]);
}

#[test]
fn a_gateway_deleting_one_connection_loses_only_that_one() {
    let mut h = Harness::armed(2);
    connect(&mut h, 1, 1);
    connect(&mut h, 1, 2);
    connect(&mut h, 2, 3);
    h.send("DLCX 20 aaln/1@gw1.example.net MGCP 1.0\nC: 2\nI: 2\n");
    assert!(h.recv().text.starts_with("250 20"));
    assert_eq!(
        h.event(),
        Event::ConnectionLost {
            line: line(1),
            call: CallId(2),
            reason: String::new()
        }
    );
    // A call it does not have, then every connection of the endpoint.
    h.send("DLCX 21 aaln/1@gw1.example.net MGCP 1.0\nC: 77\n");
    assert!(h.recv().text.starts_with("250 21"));
    assert!(h.events.is_empty());
    h.send("DLCX 22 aaln/1@gw1.example.net MGCP 1.0\n");
    assert!(h.recv().text.starts_with("250 22"));
    assert_eq!(
        h.event(),
        Event::ConnectionLost {
            line: line(1),
            call: CallId(1),
            reason: String::new()
        }
    );
    assert!(h.events.is_empty());
    assert_eq!(h.agent.stats().connections_lost, 2);
    // Line 2's connection is still there.
    h.command(delete(2, 3));
    assert_eq!(h.recv().param("I"), Some("3"));
}
