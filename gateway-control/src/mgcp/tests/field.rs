//! Gateways in the field (issue 15): Cisco's `MGCP 0.1`, PacketCable NCS, piggy-backed
//! datagrams with one bad message, lenient audit answers, long digit strings, and gateways
//! heard from another port. Message texts follow RFC 3435, RFC 2705, ITU-T J.162 and Cisco's
//! documented traces, cited case by case.

use std::net::SocketAddr;

use super::*;
use crate::model::{Command, Digit};

/// Sends `text` as if from `from` and returns what the call agent sent back, with where to.
fn send_from(h: &mut Harness, from: &str, text: &str) -> Vec<(SocketAddr, String)> {
    let from: SocketAddr = from.parse().unwrap();
    let now = h.now;
    h.agent.handle_datagram(now, from, crlf(text).as_bytes());
    sent(h)
}

fn first_line(s: &Sent) -> &str {
    s.text.lines().next().unwrap()
}

/// RFC 2705 §3.2.1 (and Cisco IOS on its default `service-type mgcp version 0.1`): the version is `MGCP 0.1`. The
/// gateway restarts in 0.1; the call agent answers, and its audits and requests to it are then
/// written in 0.1 too. A notification in 0.1 is taken as any other.
#[test]
fn a_gateway_speaking_0_1_is_answered_and_spoken_to_in_0_1() {
    let mut h = Harness::armed(1);
    let before = h.agent.stats();
    // The restart, as IOS sends it (Cisco "Configuring MGCP" guides: RSIP on `*@gateway`).
    h.send("RSIP 5000 *@gw1.example.net MGCP 0.1\nRM: restart\n");
    assert!(h.recv().text.starts_with("200 5000"));
    h.advance(ms(1));
    let audit = h.recv();
    assert_eq!(
        first_line(&audit),
        format!("AUEP {} aaln/1@gw1.example.net MGCP 0.1", audit.txid())
    );
    h.send(&format!("200 {} OK\nES: L/hu\n", audit.txid()));
    let arm = h.recv();
    assert!(first_line(&arm).ends_with("MGCP 0.1"), "{}", arm.text);
    on_hook_request(&arm);
    h.send(&ok(&arm));
    h.events.clear();
    let x = arm.param("X").unwrap().to_owned();
    h.send(&format!(
        "NTFY 5001 aaln/1@gw1.example.net MGCP 0.1\nX: {x}\nO: L/hd\n"
    ));
    assert!(h.recv().text.starts_with("200 5001"));
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    let st = h.agent.stats();
    assert_eq!(st.dialect_changes - before.dialect_changes, 1);
    assert_eq!(st.version_answered, before.version_answered);
    // Back to 1.0 when the gateway is: the next command follows.
    h.send("NTFY 5002 aaln/1@gw1.example.net MGCP 1.0\nX: 0\nO: L/hu\n");
    h.recv();
    let rearm = h.inbox.drain(..).find(|s| s.verb() == "RQNT").unwrap();
    assert!(first_line(&rearm).ends_with("MGCP 1.0"), "{}", rearm.text);
    assert_eq!(h.agent.stats().dialect_changes - before.dialect_changes, 2);
}

/// PacketCable NCS 1.0 (ITU-T J.162 §7.2: `MGCP 1.0 NCS 1.0` on every command; Annex A.1: one
/// line package `L`, digits `L/0`…`L/#`, no `D` package). Once the MTA has restarted in NCS,
/// the call agent writes NCS and asks for digits in `L`; observed `L/5` is a digit.
#[test]
fn an_ncs_gateway_is_spoken_to_in_ncs_with_digits_in_the_line_package() {
    let mut h = Harness::armed(1);
    h.send("RSIP 6000 aaln/1@gw1.example.net MGCP 1.0 NCS 1.0\nRM: restart\n");
    assert!(h.recv().text.starts_with("200 6000"));
    h.advance(ms(1));
    let audit = h.recv();
    assert!(
        first_line(&audit).ends_with(" MGCP 1.0 NCS 1.0"),
        "{}",
        audit.text
    );
    h.send(&format!("200 {} OK\nES: L/hd\n", audit.txid()));
    let arm = h.recv();
    assert!(
        first_line(&arm).ends_with(" MGCP 1.0 NCS 1.0"),
        "{}",
        arm.text
    );
    assert_eq!(arm.param("R"), Some("L/hu(N),L/hf(N),L/[0-9#*](N)"));
    h.send(&ok(&arm));
    h.events.clear();
    let x = arm.param("X").unwrap().to_owned();
    h.send(&format!(
        "NTFY 6001 aaln/1@gw1.example.net MGCP 1.0 NCS 1.0\nX: {x}\nO: L/5\n"
    ));
    assert!(h.recv().text.starts_with("200 6001"));
    assert_eq!(
        h.event(),
        Event::Digit {
            line: line(1),
            digit: Digit::new('5').unwrap()
        }
    );
}

/// RFC 3435 §3.5.5: each message of a piggy-backed datagram stands alone. A valid NTFY, then a
/// malformed response, then a command with a bad parameter: the NTFY is answered and acted
/// on, the response dropped and counted, the bad command answered `510` on its own.
#[test]
fn one_bad_message_does_not_lose_the_datagram() {
    let mut h = Harness::armed(1);
    let before = h.agent.stats();
    // A request id that is not current is still acted on (see `CallAgent`'s decisions).
    let x = "1";
    h.send(&format!(
        "NTFY 7001 aaln/1@gw1.example.net MGCP 1.0\nX: {x}\nO: L/hd\n.\n\
         20 1999 OK\n.\n\
         NTFY 7002 aaln/1@gw1.example.net MGCP 1.0\nX: not-hex\nO: L/hu\n"
    ));
    let answers: Vec<String> = h.inbox.drain(..).map(|s| s.text).collect();
    assert!(
        answers.iter().any(|a| a.starts_with("200 7001")),
        "{answers:?}"
    );
    assert!(
        answers.iter().any(|a| a.starts_with("510 7002")),
        "{answers:?}"
    );
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    let st = h.agent.stats();
    assert_eq!(st.notifications - before.notifications, 1);
    assert_eq!(st.malformed_dropped - before.malformed_dropped, 1);
    assert_eq!(st.malformed_answered - before.malformed_answered, 1);
}

/// Audit answers as real gateways write them: an empty `I:` (no connection), an `M:` listing
/// modes, a vendor `X-` line. The hook state in `ES:` is still read and the line comes up; the
/// three lines are counted as skipped.
#[test]
fn a_lenient_audit_answer_brings_the_line_up() {
    let mut h = Harness::new(Harness::config(1));
    let audit = h.recv();
    assert_eq!(audit.verb(), "AUEP");
    h.send(&format!(
        "200 {} OK\nI:\nM: sendonly, recvonly, sendrecv, inactive\nX-CISCO-INFO: vg224\nES: L/hd\n",
        audit.txid()
    ));
    assert_eq!(
        h.event(),
        Event::GatewayUp {
            gateway: GatewayId::new(GW)
        }
    );
    assert_eq!(
        h.event(),
        Event::LineStatus {
            line: line(1),
            off_hook: true
        }
    );
    off_hook_request(&h.recv());
    assert_eq!(h.agent.stats().response_lines_skipped, 3);
    assert_eq!(h.agent.stats().transaction.retransmissions, 0);
}

/// A dial string of 70 digits in one `O:` (RFC 3435 §2.1.5 reports accumulated digits one
/// event each): 70 digit events, in order, answered 200.
#[test]
fn seventy_digits_in_one_notification_are_all_taken() {
    let mut h = Harness::armed(1);
    // A request id that is not current is still acted on (see `CallAgent`'s decisions).
    let x = "1";
    let digits: Vec<String> = (0..70).map(|i| format!("D/{}", i % 10)).collect();
    h.send(&format!(
        "NTFY 8001 aaln/1@gw1.example.net MGCP 1.0\nX: {x}\nO: {}\n",
        digits.join(",")
    ));
    assert!(h.recv().text.starts_with("200 8001"));
    let got: String = h
        .events
        .drain(..)
        .map(|e| match e {
            Event::Digit { digit, .. } => digit.as_char(),
            e => panic!("{e:?}"),
        })
        .collect();
    let want: String = (0..70).map(|i| char::from(b'0' + i % 10)).collect();
    assert_eq!(got, want);
}

/// A gateway heard from another port of its address (NAT, or a gateway that sends from an
/// ephemeral port): its command is answered where it came from (RFC 3435 §3.5: responses go to
/// the command's source) and acted on, its endpoint's domain matched case-insensitively; a
/// response from there is matched to our command. From another IP address the same command is
/// not taken: counted, and nothing is sent.
#[test]
fn another_port_is_answered_there_and_another_address_is_refused() {
    let mut h = Harness::armed(1);
    // A request id that is not current is still acted on (see `CallAgent`'s decisions).
    let x = "1";
    let out = send_from(
        &mut h,
        "192.0.2.1:5555",
        &format!("NTFY 9001 aaln/1@GW1.Example.NET MGCP 1.0\nX: {x}\nO: L/hd\n"),
    );
    let answer = out.iter().find(|(_, t)| t.starts_with("200 9001")).unwrap();
    assert_eq!(answer.0, "192.0.2.1:5555".parse().unwrap());
    assert_eq!(h.events.pop_front(), Some(Event::OffHook { line: line(1) }));
    // The re-arm goes to the configured address.
    let rearm = out.iter().find(|(_, t)| t.starts_with("RQNT")).unwrap();
    assert_eq!(rearm.0, gw_addr());
    let txid: u32 = rearm.1.split_whitespace().nth(1).unwrap().parse().unwrap();
    // Its response from yet another port is matched to it.
    send_from(&mut h, "192.0.2.1:6000", &format!("200 {txid} OK\n"));
    assert_eq!(h.agent.stats().unmatched_responses, 0);
    assert_eq!(h.agent.stats().unexpected_source, 2);
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));

    // From another address: not taken, nothing answered.
    let out = send_from(
        &mut h,
        "198.51.100.9:2427",
        "NTFY 9002 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hu\n",
    );
    assert!(out.is_empty(), "{out:?}");
    assert!(h.events.is_empty());
    let st = h.agent.stats();
    assert_eq!((st.wrong_address, st.unknown_peer), (1, 1));
    // A stranger naming no gateway of ours: dropped as before.
    let out = send_from(
        &mut h,
        "198.51.100.9:2427",
        "NTFY 9003 aaln/1@elsewhere MGCP 1.0\n",
    );
    assert!(out.is_empty());
    assert_eq!(h.agent.stats().unknown_peer, 2);
    // An audit in flight answered from another address: not taken.
    h.command(Command::Audit { line: line(1) });
    let audit = h.recv();
    send_from(
        &mut h,
        "198.51.100.9:2427",
        &format!("200 {} OK\nES: L/hu\n", audit.txid()),
    );
    assert_eq!(h.agent.stats().wrong_address, 2);
    assert!(h.events.is_empty());
}

/// Drains what the call agent sent, with where to.
fn sent(h: &mut Harness) -> Vec<(SocketAddr, String)> {
    let mut out = Vec::new();
    while let Some(t) = h.agent.poll_transmit() {
        out.push((t.destination, String::from_utf8(t.contents).unwrap()));
    }
    while let Some(e) = h.agent.poll_event() {
        h.events.push_back(e);
    }
    out
}

/// A gateway named by a DNS name that did not resolve at start has no address (unspecified):
/// nothing is sent until `GatewayAddress` gives one; then its start-up audits go there.
#[test]
fn a_gateway_without_an_address_waits_for_one() {
    let mut config = Harness::config(1);
    config.gateways[0].address = "0.0.0.0:2427".parse().unwrap();
    let start = t0();
    let mut agent = CallAgent::new(config, start).unwrap();
    assert!(agent.poll_transmit().is_none());
    assert_eq!(agent.poll_timeout(), None, "no timer either");
    // A datagram from 0.0.0.0 is nobody's.
    agent.handle_datagram(start, "0.0.0.0:2427".parse().unwrap(), b"200 1 OK\r\n");
    assert_eq!(agent.stats().unknown_peer, 1);
    agent.handle_command(
        start,
        Command::GatewayAddress {
            gateway: GatewayId::new(GW),
            address: gw_addr(),
        },
    );
    let t = agent.poll_transmit().expect("the audit goes out");
    assert_eq!(t.destination, gw_addr());
    assert!(t.contents.starts_with(b"AUEP "));
    assert_eq!(agent.stats().address_changes, 1);
}

/// A gateway that moved (its name resolves to another address): commands go to the new
/// address, its lines are audited there, and its messages are taken from there only.
#[test]
fn a_gateway_that_moved_is_audited_at_its_new_address() {
    let mut h = Harness::armed(1);
    let moved: SocketAddr = "192.0.2.9:2427".parse().unwrap();
    let now = h.now;
    h.agent.handle_command(
        now,
        Command::GatewayAddress {
            gateway: GatewayId::new(GW),
            address: moved,
        },
    );
    let out = sent(&mut h);
    assert!(!out.is_empty());
    for (to, text) in &out {
        assert_eq!(*to, moved, "{text}");
        assert!(text.starts_with("AUEP "), "{text}");
    }
    // The same address again, an unspecified one, an unknown gateway: nothing.
    for (gateway, address) in [
        (GW, moved),
        (GW, "0.0.0.0:2427".parse().unwrap()),
        ("gw9", "192.0.2.10:2427".parse().unwrap()),
    ] {
        h.agent.handle_command(
            now,
            Command::GatewayAddress {
                gateway: GatewayId::new(gateway),
                address,
            },
        );
    }
    assert!(sent(&mut h).is_empty());
    assert_eq!(h.agent.stats().address_changes, 1);
    // The old address is now another address, the new one the gateway's.
    let out = send_from(
        &mut h,
        &gw_addr().to_string(),
        "NTFY 9100 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n",
    );
    assert!(out.is_empty());
    assert_eq!(h.agent.stats().wrong_address, 1);
    let out = send_from(
        &mut h,
        &moved.to_string(),
        "NTFY 9101 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n",
    );
    assert!(
        out.iter()
            .any(|(to, t)| *to == moved && t.starts_with("200 9101"))
    );
}

/// Two gateways cannot share an address: a move onto another's is refused.
#[test]
fn a_move_onto_another_gateways_address_is_refused() {
    let mut config = Harness::config(1);
    let other: SocketAddr = "192.0.2.2:2427".parse().unwrap();
    config
        .gateway(GatewayConfig {
            id: GatewayId::new("gw2"),
            address: other,
            domain: "gw2.example.net".to_owned(),
            lines: vec!["aaln/1".to_owned()],
        })
        .unwrap();
    let mut agent = CallAgent::new(config, t0()).unwrap();
    while agent.poll_transmit().is_some() {}
    agent.handle_command(
        t0(),
        Command::GatewayAddress {
            gateway: GatewayId::new(GW),
            address: other,
        },
    );
    assert!(agent.poll_transmit().is_none());
    assert_eq!(agent.stats().address_changes, 0);
}

/// An NCS MTA that registered before the call agent started never says how it speaks; it
/// refuses plain MGCP 1.0 with `528` (J.162 §6.5: incompatible protocol version). The call agent
/// tries NCS next, without counting a failure, and the line comes up.
#[test]
fn a_528_makes_the_agent_try_the_next_version() {
    let mut h = Harness::new(Harness::config(1));
    let audit = h.recv();
    assert!(first_line(&audit).ends_with(" MGCP 1.0"), "{}", audit.text);
    h.send(&format!(
        "528 {} Incompatible protocol version\n",
        audit.txid()
    ));
    let again = h.recv();
    assert_eq!(again.verb(), "AUEP");
    assert!(
        first_line(&again).ends_with(" MGCP 1.0 NCS 1.0"),
        "{}",
        again.text
    );
    h.send(&format!("200 {} OK\nES: L/hu\n", again.txid()));
    h.events.retain(|e| !matches!(e, Event::GatewayUp { .. }));
    assert_eq!(
        h.event(),
        Event::LineStatus {
            line: line(1),
            off_hook: false
        }
    );
    let arm = h.recv();
    assert!(
        first_line(&arm).ends_with(" MGCP 1.0 NCS 1.0"),
        "{}",
        arm.text
    );
    let st = h.agent.stats();
    assert_eq!((st.dialect_changes, st.arm_failures), (1, 0));
}

/// A gateway that refuses every version: each is tried once, then the command fails as any
/// refused command does (the audit is retried later, bounded).
#[test]
fn a_gateway_refusing_every_version_is_tried_once_in_each() {
    let mut h = Harness::new(Harness::config(1));
    let mut versions = Vec::new();
    for _ in 0..3 {
        let audit = h.recv();
        assert_eq!(audit.verb(), "AUEP");
        versions.push(
            first_line(&audit)
                .split(" MGCP ")
                .nth(1)
                .unwrap()
                .to_owned(),
        );
        h.send(&format!(
            "528 {} Incompatible protocol version\n",
            audit.txid()
        ));
    }
    assert_eq!(versions, ["1.0", "1.0 NCS 1.0", "0.1"]);
    let st = h.agent.stats();
    assert_eq!((st.dialect_changes, st.arm_failures), (2, 1));
    // What follows is the ordinary failure path (an RQNT for the last known state), still in
    // the last version tried.
    let next = h.recv();
    assert!(first_line(&next).ends_with(" MGCP 0.1"), "{}", next.text);
}

/// Datagrams that do not parse at all (not UTF-8, too many messages): from the gateway they
/// are dropped as malformed, from anyone else as strangers'; a stranger's malformed message
/// inside a readable datagram is a stranger's too. Each is counted once.
#[test]
fn unparseable_datagrams_are_counted_by_who_sent_them() {
    let mut h = Harness::armed(1);
    let before = h.agent.stats();
    assert!(send_from(&mut h, &gw_addr().to_string(), "200 1 OK\u{7f}\n").is_empty());
    let now = h.now;
    h.agent.handle_datagram(now, gw_addr(), b"200 1 OK\xff\r\n");
    h.agent.handle_datagram(
        now,
        "198.51.100.9:2427".parse().unwrap(),
        b"200 1 OK\xff\r\n",
    );
    assert!(send_from(&mut h, "198.51.100.9:2427", "20 1 OK\n").is_empty());
    assert!(h.agent.poll_transmit().is_none());
    let st = h.agent.stats();
    assert_eq!(st.malformed_dropped - before.malformed_dropped, 2);
    assert_eq!(st.unknown_peer - before.unknown_peer, 2);
    assert_eq!(st.malformed_answered, before.malformed_answered);
}

/// Two gateways on one IP address with the same domain (`[IP]`, the default): a command from a
/// third port of that address could be either's, so it is not taken.
#[test]
fn another_port_shared_by_two_gateways_is_not_taken() {
    let mut config = Harness::config(1);
    config
        .gateway(GatewayConfig {
            id: GatewayId::new("gw2"),
            address: "192.0.2.1:2428".parse().unwrap(),
            domain: "gw1.example.net".to_owned(),
            lines: vec!["aaln/1".to_owned()],
        })
        .unwrap();
    let mut agent = CallAgent::new(config, t0()).unwrap();
    while agent.poll_transmit().is_some() {}
    agent.handle_datagram(
        t0(),
        "192.0.2.1:5555".parse().unwrap(),
        b"NTFY 9300 aaln/1@gw1.example.net MGCP 1.0\r\nX: 1\r\nO: L/hd\r\n",
    );
    assert!(agent.poll_transmit().is_none());
    assert!(agent.poll_event().is_none());
    let st = agent.stats();
    assert_eq!((st.unexpected_source, st.unknown_peer), (0, 1));
}
