//! Incoming commands (RFC 3435 §3.5.6, §4.3): at-most-once execution, `100` for duplicates
//! still executing, cached responses replayed until acknowledged, T-HIST, and the
//! retransmission of a final response sent after a provisional one.

use super::*;

fn k(first: u32, last: u32) -> AckRange {
    AckRange {
        first: TransactionId(first),
        last: TransactionId(last),
    }
}

/// Commands `ids` from `peer`, each answered with `200 <id>`.
fn answered(t: &mut Transactions, now: Instant, ids: impl IntoIterator<Item = u32>) {
    for n in ids {
        let id = TransactionId(n);
        assert_eq!(t.handle_command(now, peer(), id, &[]), CommandOutcome::New);
        t.send_response(now, peer(), id, format!("200 {n}\r\n").into_bytes());
    }
    drain(t);
}

/// What a duplicate of `n` gets: `Some(bytes)` replayed or `None` (dropped).
fn duplicate(t: &mut Transactions, now: Instant, n: u32) -> Option<Vec<u8>> {
    assert_eq!(
        t.handle_command(now, peer(), TransactionId(n), &[]),
        CommandOutcome::Duplicate
    );
    let mut sent = drain(t);
    assert!(sent.len() <= 1);
    sent.pop().map(|tx| tx.contents)
}

#[test]
fn duplicate_commands_get_100_then_the_cached_response() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = TransactionId(77);
    assert!(!t.provisional_sent(peer(), id));
    assert_eq!(t.handle_command(now, peer(), id, &[]), CommandOutcome::New);
    assert!(drain(&mut t).is_empty());
    assert!(!t.provisional_sent(peer(), id));
    assert_eq!(
        t.handle_command(now + ms(200), peer(), id, &[]),
        CommandOutcome::Duplicate
    );
    assert_eq!(drain(&mut t)[0].contents, b"100 77 Executing\r\n".to_vec());
    assert!(t.provisional_sent(peer(), id));
    assert!(!t.provisional_sent(other(), id));
    t.send_response(now + ms(300), peer(), id, b"200 77 OK\r\nK:\r\n".to_vec());
    assert_eq!(drain(&mut t).len(), 1);
    assert!(!t.provisional_sent(peer(), id));
    assert_eq!(
        duplicate(&mut t, now + ms(400), 77),
        Some(b"200 77 OK\r\nK:\r\n".to_vec())
    );
    assert_eq!(
        *t.stats(),
        Stats {
            commands_received: 1,
            provisional_sent: 1,
            responses_replayed: 1,
            responses_sent: 1,
            ..Stats::default()
        }
    );
}

#[test]
fn the_same_id_from_another_peer_is_another_transaction() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = TransactionId(5);
    assert_eq!(t.handle_command(now, peer(), id, &[]), CommandOutcome::New);
    assert_eq!(t.handle_command(now, other(), id, &[]), CommandOutcome::New);
    assert_eq!(t.stats().commands_received, 2);
}

#[test]
fn final_after_provisional_is_retransmitted_until_acknowledged() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = TransactionId(9);
    t.handle_command(now, peer(), id, &[]);
    t.handle_command(now, peer(), id, &[]);
    t.send_response(now, peer(), id, b"200 9 OK\r\nK:\r\n".to_vec());
    drain(&mut t);
    let sent = run_until(&mut t, now, now + ms(700));
    // Retransmitted at 200 ms, then doubled: 600 ms.
    assert_eq!(times(&sent), vec![ms(200), ms(600)]);
    assert!(sent.iter().all(|(_, b)| b == b"200 9 OK\r\nK:\r\n"));
    assert_eq!(
        t.handle_response(now + ms(700), peer(), id, ReturnCode::ACK, false),
        ResponseOutcome::Acknowledged
    );
    // Only the history timer is left.
    assert_eq!(t.poll_timeout(), Some(now + secs(30)));
    assert!(run_until(&mut t, now, now + ms(20_000)).is_empty());
    assert_eq!(t.stats().response_retransmissions, 2);
    assert_eq!(t.stats().acks_received, 1);
    // A duplicate of the 000 releases nothing and is counted.
    assert_eq!(
        t.handle_response(now + ms(20_001), peer(), id, ReturnCode::ACK, false),
        ResponseOutcome::Acknowledged
    );
    assert_eq!(t.stats().acks_received, 1);
    assert_eq!(t.stats().acks_unmatched, 1);
    // A 000 for a command still executing releases nothing either.
    t.handle_command(now, peer(), TransactionId(10), &[]);
    t.handle_response(now, peer(), TransactionId(10), ReturnCode::ACK, false);
    assert_eq!(t.stats().acks_unmatched, 2);
    assert_eq!(t.stats().acks_received, 1);
}

#[test]
fn a_k_line_stops_the_final_responses_retransmission() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    t.handle_command(now, peer(), TransactionId(9), &[]);
    t.handle_command(now, peer(), TransactionId(9), &[]);
    t.send_response(
        now,
        peer(),
        TransactionId(9),
        b"200 9 OK\r\nK:\r\n".to_vec(),
    );
    drain(&mut t);
    // Released before its first retransmission, by the next command's `K:`.
    t.handle_command(now + ms(100), peer(), TransactionId(10), &[k(9, 9)]);
    assert_eq!(t.stats().acks_received, 1);
    assert_eq!(t.poll_timeout(), Some(now + secs(30)));
    assert!(run_until(&mut t, now, now + secs(29)).is_empty());
    assert_eq!(duplicate(&mut t, now + secs(29), 9), None);
}

#[test]
fn final_response_retransmission_gives_up_after_max_retransmissions() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    t.handle_command(now, peer(), TransactionId(9), &[]);
    t.handle_command(now, peer(), TransactionId(9), &[]);
    t.send_response(
        now,
        peer(),
        TransactionId(9),
        b"200 9 OK\r\nK:\r\n".to_vec(),
    );
    drain(&mut t);
    let sent = run_until(&mut t, now, now + ms(29_999));
    assert_eq!(
        times(&sent),
        [200, 600, 1400, 3000, 6200, 10_200, 14_200]
            .map(ms)
            .to_vec()
    );
    assert_eq!(t.stats().response_retransmissions, 7);
    // Never acknowledged, still cached: a duplicate gets it until T-HIST.
    assert_eq!(
        duplicate(&mut t, now + ms(29_999), 9),
        Some(b"200 9 OK\r\nK:\r\n".to_vec())
    );
    assert_eq!(t.poll_timeout(), Some(now + secs(30)));
}

#[test]
fn k_releases_and_late_duplicates_are_dropped_not_executed() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    answered(&mut t, now, 10..15);
    assert_eq!(
        t.handle_command(now, peer(), TransactionId(20), &[k(10, 13)]),
        CommandOutcome::New
    );
    assert_eq!(t.stats().acks_received, 4);
    assert_eq!(duplicate(&mut t, now, 11), None);
    assert_eq!(t.stats().duplicates_after_ack, 1);
    // 14 was not acknowledged: replayed.
    assert_eq!(duplicate(&mut t, now, 14), Some(b"200 14\r\n".to_vec()));
    // A huge range is bounded by the history, not by its width.
    t.handle_command(now, peer(), TransactionId(21), &[k(1, TransactionId::MAX)]);
    assert_eq!(t.stats().acks_received, 5);
    // A `K:` releases only the sender's own responses.
    assert_eq!(
        t.handle_command(now, other(), TransactionId(30), &[k(1, 100)]),
        CommandOutcome::New
    );
    assert_eq!(t.stats().acks_received, 5);
}

#[test]
fn a_k_range_of_one_id_releases_just_that_response() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    answered(&mut t, now, [10, 11]);
    t.handle_command(now, peer(), TransactionId(20), &[k(10, 10)]);
    assert_eq!(t.stats().acks_received, 1);
    assert_eq!(duplicate(&mut t, now, 10), None);
    assert_eq!(duplicate(&mut t, now, 11), Some(b"200 11\r\n".to_vec()));
}

#[test]
fn a_reversed_k_range_releases_nothing() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    answered(&mut t, now, [10, 11]);
    t.handle_command(now, peer(), TransactionId(20), &[k(11, 10)]);
    assert_eq!(t.stats().acks_received, 0);
    assert!(duplicate(&mut t, now, 10).is_some());
    assert!(duplicate(&mut t, now, 11).is_some());
}

#[test]
fn wide_k_ranges_anywhere_in_the_id_space_cost_no_more_than_the_history() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    answered(&mut t, now, [500_000_001, TransactionId::MAX, 7]);
    // Half the id space, high up: only the two remembered ids in it are looked at.
    t.handle_command(
        now,
        peer(),
        TransactionId(20),
        &[k(500_000_000, TransactionId::MAX)],
    );
    assert_eq!(t.stats().acks_received, 2);
    assert!(duplicate(&mut t, now, 7).is_some());
}

#[test]
fn history_expires_after_t_hist() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    t.handle_command(now, peer(), TransactionId(1), &[]);
    t.send_response(now + ms(10), peer(), TransactionId(1), b"200".to_vec());
    t.handle_timeout(now + ms(30_009));
    assert_eq!(t.stats().history_expired, 0);
    t.handle_timeout(now + ms(30_010));
    assert_eq!(t.stats().history_expired, 1);
    assert_eq!(t.poll_timeout(), None);
    // The id may now be used again (§3.5.6): a new transaction.
    assert_eq!(
        t.handle_command(now + ms(30_020), peer(), TransactionId(1), &[]),
        CommandOutcome::New
    );
}

#[test]
fn an_executing_command_is_remembered_for_t_hist_from_its_arrival() {
    let now = t0();
    let mut t = Transactions::new(config(|c| c.t_hist(secs(5))), 1);
    t.handle_command(now, peer(), TransactionId(1), &[]);
    assert_eq!(t.poll_timeout(), Some(now + secs(5)));
    assert_eq!(
        duplicate(&mut t, now + ms(4999), 1),
        Some(b"100 1 Executing\r\n".to_vec())
    );
    t.handle_timeout(now + secs(5));
    assert_eq!(t.stats().history_expired, 1);
    // Answered after it was forgotten: sent, not cached.
    t.send_response(
        now + secs(6),
        peer(),
        TransactionId(1),
        b"200 1\r\n".to_vec(),
    );
    assert_eq!(drain(&mut t).len(), 1);
    assert_eq!(t.poll_timeout(), None);
}

#[test]
fn a_response_to_a_command_never_seen_is_sent_and_not_cached() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    t.send_response(now, peer(), TransactionId(99), b"510 99\r\n".to_vec());
    assert_eq!(
        drain(&mut t),
        [Transmit {
            destination: peer(),
            contents: b"510 99\r\n".to_vec()
        }]
    );
    assert_eq!(t.stats().responses_sent, 1);
    assert_eq!(t.poll_timeout(), None);
    assert_eq!(
        t.handle_command(now, peer(), TransactionId(99), &[]),
        CommandOutcome::New
    );
}

#[test]
fn answering_twice_keeps_the_first_answer() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    t.handle_command(now, peer(), TransactionId(3), &[]);
    t.send_response(now, peer(), TransactionId(3), b"200 3\r\n".to_vec());
    t.send_response(
        now + secs(10),
        peer(),
        TransactionId(3),
        b"400 3\r\n".to_vec(),
    );
    assert_eq!(drain(&mut t).len(), 2);
    assert_eq!(t.stats().responses_sent, 2);
    assert_eq!(duplicate(&mut t, now, 3), Some(b"200 3\r\n".to_vec()));
    // Remembered from the first answer.
    assert_eq!(t.poll_timeout(), Some(now + secs(30)));
}

#[test]
fn history_is_bounded_per_peer_and_in_total() {
    let now = t0();
    let mut t = Transactions::new(config(|c| c.max_history(3, 4)), 1);
    for n in 1..=4 {
        t.handle_command(now, peer(), TransactionId(n), &[]);
    }
    assert_eq!(t.stats().history_evictions, 1);
    // 1 was evicted: it is new again.
    assert_eq!(
        t.handle_command(now, peer(), TransactionId(1), &[]),
        CommandOutcome::New
    );
    for n in 1..=2 {
        t.handle_command(now, other(), TransactionId(n), &[]);
    }
    // Peer: 2 evicted for 1; in total, the oldest (3) evicted for other's second.
    assert_eq!(t.remembered.len(), 4);
    assert_eq!(t.stats().history_evictions, 3);
    assert_eq!(
        t.handle_command(now, peer(), TransactionId(4), &[]),
        CommandOutcome::Duplicate
    );
    assert_eq!(
        t.handle_command(now, peer(), TransactionId(3), &[]),
        CommandOutcome::New
    );
    // Evicted entries leave no timers behind: one history timer per remembered command.
    assert_eq!(t.timers.len(), t.remembered.len());
}
