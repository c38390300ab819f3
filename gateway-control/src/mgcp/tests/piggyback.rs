//! Piggy-backing (RFC 3435 §3.5.5): what the call agent packs into one datagram, how a lost
//! packed datagram is recovered, and the switch that turns it off.

use super::*;
use crate::mgcp::{MAX_PIGGYBACKED, PIGGYBACK_BYTES};

const NTFY: &str = "NTFY 600 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n";

fn ok(s: &Sent) -> String {
    format!("200 {} OK\n", s.txid())
}

/// The gateway answers everything the call agent sent so far, its answers piggy-backed at most
/// [`MAX_PIGGYBACKED`] to a datagram, until the call agent sends nothing more.
fn answer_packed(h: &mut Harness) {
    for _ in 0..1000 {
        let answers: Vec<String> = h
            .inbox
            .drain(..)
            .filter(|s| !s.text.starts_with(|c: char| c.is_ascii_digit()))
            .map(|s| match s.verb() {
                "AUEP" => format!("200 {} OK\nES: L/hu\n", s.txid()),
                _ => ok(&s),
            })
            .collect();
        if answers.is_empty() {
            return;
        }
        for chunk in answers.chunks(MAX_PIGGYBACKED) {
            h.send(&chunk.join(".\n"));
        }
    }
    panic!("the call agent never went quiet");
}

#[test]
fn the_answer_to_a_notify_and_the_re_arm_share_one_datagram() {
    let mut h = Harness::armed(1);
    h.datagrams.clear();
    h.send(NTFY);
    // As in the RFC's example: the response first, then the new command.
    assert_eq!(h.datagrams, [(h.now - h.start, 2)]);
    assert!(h.recv().text.starts_with("200 600 "));
    let rqnt = h.recv();
    assert_eq!(rqnt.verb(), "RQNT");
    assert_eq!(rqnt.param("R"), Some("L/hu(N),L/hf(N),D/[0-9#*](N)"));
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    assert_eq!(h.agent.stats().piggybacked, 1);
    h.send(&ok(&rqnt));
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
}

#[test]
fn a_burst_of_audits_and_arms_is_packed() {
    let lines = 40;
    let mut h = Harness::new(Harness::config(lines));
    // Start-up: the first 32 (max_outstanding) audits, at most 16 to a datagram.
    assert_eq!(h.datagrams, [(ms(0), 16), (ms(0), 16)]);
    answer_packed(&mut h);
    for n in 1..=lines {
        assert_eq!(h.agent.is_armed(&line(n)), Some(true), "line {n}");
    }
    let messages: usize = h.datagrams.iter().map(|(_, n)| n).sum();
    assert_eq!(messages, 2 * lines);
    // 80 commands in a handful of datagrams (RQNTs are ~150 bytes: 9 to a datagram).
    assert!(h.datagrams.len() <= 12, "{:?}", h.datagrams);
    assert_eq!(
        h.agent.stats().piggybacked,
        (messages - h.datagrams.len()) as u64
    );
    assert_eq!(h.agent.stats().transaction.retransmissions, 0);
}

#[test]
fn packed_datagrams_stay_within_the_bounds() {
    let lines = 200;
    let mut h = Harness::new(Harness::config(lines));
    answer_packed(&mut h);
    for n in 1..=lines {
        assert_eq!(h.agent.is_armed(&line(n)), Some(true), "line {n}");
    }
    // Every datagram parsed as it was drained, into as many messages as the harness split.
    assert!(h.datagrams.iter().all(|(_, n)| *n <= MAX_PIGGYBACKED));
    assert!(h.datagrams.iter().any(|(_, n)| *n == MAX_PIGGYBACKED));
    for ((_, n), size) in h.datagrams.iter().zip(&h.sizes) {
        assert!(
            *n == 1 || *size <= PIGGYBACK_BYTES,
            "{n} messages, {size} bytes"
        );
    }
    assert!(
        h.sizes.iter().any(|s| *s > PIGGYBACK_BYTES - 200),
        "{:?}",
        h.sizes
    );
}

#[test]
fn a_lost_packed_datagram_is_recovered_command_by_command() {
    let mut h = Harness::armed(1);
    h.send(NTFY);
    // The datagram holding `200 600` and the RQNT is lost.
    let answer = h.recv();
    let rqnt = h.recv();
    assert!(h.inbox.is_empty());
    assert_eq!(h.event(), Event::OffHook { line: line(1) });
    h.datagrams.clear();
    // The RQNT's own timer resends it, alone and unchanged.
    let rto = h.agent.retransmit_timeout(&GatewayId::new(GW)).unwrap();
    h.advance(rto);
    assert_eq!(h.datagrams, [(h.now - h.start, 1)]);
    let again = h.recv();
    assert_eq!(again.text, rqnt.text);
    // The gateway repeats its NTFY: the cached answer is replayed, alone, with no new event and
    // no second re-arm.
    h.send(NTFY);
    assert_eq!(h.datagrams.len(), 2);
    assert_eq!(h.datagrams[1].1, 1);
    assert_eq!(h.recv().text, answer.text);
    assert!(h.inbox.is_empty());
    assert!(h.events.is_empty());
    h.send(&ok(&again));
    assert_eq!(h.agent.is_armed(&line(1)), Some(true));
    let st = h.agent.stats();
    assert_eq!(st.transaction.retransmissions, 1);
    assert_eq!(st.transaction.responses_replayed, 1);
    assert_eq!(st.rqnts_sent, 2); // start-up, then the re-arm: no extra one
}

#[test]
fn piggyback_off_sends_one_message_per_datagram() {
    let mut c = Harness::config(40);
    c.piggyback(false).unwrap();
    let mut h = Harness::new(c);
    assert_eq!(h.datagrams.len(), 32);
    answer_packed(&mut h);
    h.send(NTFY);
    assert!(h.recv().text.starts_with("200 600 "));
    assert_eq!(h.recv().verb(), "RQNT");
    assert!(
        h.datagrams.iter().all(|(_, n)| *n == 1),
        "{:?}",
        h.datagrams
    );
    assert_eq!(h.datagrams.len(), 40 * 2 + 2);
    assert_eq!(h.agent.stats().piggybacked, 0);
}
