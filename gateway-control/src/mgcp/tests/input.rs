//! What the call agent does with each datagram it receives, and the counter each one moves:
//! the size bound, responses to nothing, commands a call agent does not take, and the
//! notification counters.

use super::*;
use crate::mgcp::Stats;
use crate::mgcp::wire::{MAX_DATAGRAM, ReturnCode};
use crate::model::{Cadence, Command, Event};

/// An NTFY of exactly `len` bytes (CRLF line ends), padded with an extension parameter.
fn ntfy_of_len(txid: u32, len: usize) -> Vec<u8> {
    let head = format!("NTFY {txid} aaln/1@gw1.example.net MGCP 1.0\r\nX: 1\r\nO: L/hd\r\nX-Pad: ");
    let pad = len - head.len() - 2;
    let mut text = head.into_bytes();
    text.extend(std::iter::repeat_n(b'a', pad));
    text.extend_from_slice(b"\r\n");
    assert_eq!(text.len(), len);
    text
}

/// The counters that moved since `before`, by name (transaction counters left out).
fn moved(before: &Stats, after: &Stats) -> Vec<(&'static str, u64)> {
    after
        .counters()
        .zip(before.counters())
        .filter(|((name, _), _)| !name.starts_with("tx_"))
        .filter(|((_, a), (_, b))| a != b)
        .map(|((name, a), (_, b))| (name, a - b))
        .collect()
}

#[test]
fn a_datagram_of_the_largest_size_is_read_and_a_larger_one_dropped_unanswered() {
    let mut h = Harness::armed(1);
    let before = h.agent.stats();
    let now = h.now;
    h.agent
        .handle_datagram(now, gw_addr(), &ntfy_of_len(40, MAX_DATAGRAM + 1));
    h.drain();
    assert!(h.inbox.is_empty() && h.events.is_empty());
    assert_eq!(
        moved(&before, &h.agent.stats()),
        [("datagrams", 1), ("oversized", 1)]
    );
    h.agent
        .handle_datagram(now, gw_addr(), &ntfy_of_len(41, MAX_DATAGRAM));
    h.drain();
    assert!(h.recv().text.starts_with("200 41"));
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    off_hook_request(&h.recv());
    assert_eq!(
        moved(&before, &h.agent.stats()),
        [
            ("datagrams", 2),
            ("oversized", 1),
            ("notifications", 1),
            ("rqnts_sent", 1)
        ]
    );
}

#[test]
fn responses_to_nothing_in_flight_are_dropped_and_counted() {
    let mut h = Harness::armed(1);
    h.command(Command::Audit { line: line(1) });
    let a = h.recv();
    let answer = format!("200 {} OK\nES: L/hu\n", a.txid());
    h.send(&answer);
    assert!(matches!(h.event(), Event::LineStatus { .. }));
    let before = h.agent.stats();
    // The same answer again, and an answer to a command never sent.
    h.send(&answer);
    h.send("200 424242 OK\n");
    assert!(h.inbox.is_empty() && h.events.is_empty());
    assert_eq!(
        moved(&before, &h.agent.stats()),
        [("datagrams", 2), ("unmatched_responses", 2)]
    );
}

#[test]
fn commands_a_call_agent_does_not_take_are_answered_504() {
    let mut h = Harness::armed(1);
    let before = h.agent.stats();
    for (n, verb) in ["CRCX", "MDCX", "RQNT", "AUEP", "AUCX", "EPCF"]
        .iter()
        .enumerate()
    {
        h.send(&format!(
            "{verb} {} aaln/1@gw1.example.net MGCP 1.0\n",
            80 + n
        ));
        let answer = h.recv();
        assert!(
            answer.text.starts_with(&format!("504 {}", 80 + n)),
            "{}",
            answer.text
        );
    }
    assert!(h.events.is_empty() && h.inbox.is_empty());
    assert_eq!(
        moved(&before, &h.agent.stats()),
        [("datagrams", 6), ("unsupported_commands", 6)]
    );
}

#[test]
fn a_command_for_an_unknown_endpoint_is_answered_500_whatever_its_verb() {
    let mut h = Harness::armed(1);
    let before = h.agent.stats();
    h.send("DLCX 90 aaln/7@gw1.example.net MGCP 1.0\nC: 1\n");
    assert!(h.recv().text.starts_with("500 90"));
    // Endpoint names are case-insensitive (RFC 3435 §2.1.1): this one is known.
    h.send("NTFY 91 AALN/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n");
    assert!(h.recv().text.starts_with("200 91"));
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    assert_eq!(
        moved(&before, &h.agent.stats()),
        [
            ("datagrams", 2),
            ("unknown_endpoint", 1),
            ("notifications", 1),
            ("rqnts_sent", 1)
        ]
    );
}

#[test]
fn every_command_failure_is_counted() {
    let mut h = Harness::armed(1);
    h.command(Command::Ring {
        line: line(1),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    let r = h.recv();
    h.send(&format!("502 {} insufficient resources\n", r.txid()));
    h.command(Command::Audit { line: line(5) });
    let failures: Vec<_> = h
        .events
        .drain(..)
        .map(|e| match e {
            Event::CommandFailed { code, reason, .. } => (code, reason),
            e => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(
        failures,
        [
            (502, "insufficient resources".to_owned()),
            (500, "unknown line".to_owned())
        ]
    );
    assert_eq!(h.agent.stats().commands_failed, 2);
}

#[test]
fn a_failure_without_a_comment_gives_the_codes_reason() {
    let mut h = Harness::armed(1);
    h.command(Command::Audit { line: line(1) });
    let a = h.recv();
    h.send(&format!("501 {}\n", a.txid()));
    match h.event() {
        Event::CommandFailed { code, reason, .. } => {
            assert_eq!(code, 501);
            assert_eq!(reason, ReturnCode(501).reason());
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn a_response_the_gateway_acknowledged_is_not_replayed() {
    let mut h = Harness::armed(1);
    let ntfy = "NTFY 300 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n";
    h.send(ntfy);
    assert!(h.recv().text.starts_with("200 300"));
    h.inbox.clear();
    // A duplicate before the acknowledgement gets the same answer again.
    h.send(ntfy);
    assert!(h.recv().text.starts_with("200 300"));
    // The next command acknowledges it (RFC 3435 §3.5.6, `K:`): a late duplicate is dropped.
    h.send("NTFY 301 aaln/1@gw1.example.net MGCP 1.0\nK: 300\nX: 2\nO: L/hu\n");
    assert!(h.recv().text.starts_with("200 301"));
    h.inbox.clear();
    h.send(ntfy);
    assert!(h.inbox.is_empty(), "{:?}", h.inbox);
    assert_eq!(h.agent.stats().transaction.duplicates_after_ack, 1);
    assert_eq!(h.agent.stats().notifications, 2);
}

#[test]
fn every_version_but_1_0_and_0_1_is_answered_528() {
    let mut h = Harness::armed(1);
    let before = h.agent.stats();
    for (n, version) in ["1.1", "0.2", "2.0"].iter().enumerate() {
        h.send(&format!(
            "NTFY {} aaln/1@gw1.example.net MGCP {version}\nX: 1\nO: L/hd\n",
            310 + n
        ));
        let answer = h.recv();
        assert!(
            answer.text.starts_with(&format!("528 {}", 310 + n)),
            "{}",
            answer.text
        );
    }
    assert!(h.events.is_empty() && h.inbox.is_empty());
    assert_eq!(
        moved(&before, &h.agent.stats()),
        [("datagrams", 3), ("version_answered", 3)]
    );
}
