//! Response acknowledgements owed to peers (RFC 3435 §3.5.6): after a provisional response or
//! an empty `K:`, in the `K:` line of the next command, else as `000`s after `ack_delay`.

use super::*;
use crate::mgcp::wire;

/// A command answered with a final response asking for acknowledgement (an empty `K:`).
fn answered_asking_ack(t: &mut Transactions, now: Instant, to: SocketAddr) -> TransactionId {
    let id = send(t, now, to);
    assert_eq!(
        t.handle_response(now, to, id, ReturnCode::OK, true),
        ResponseOutcome::Final
    );
    id
}

/// The ids acknowledged by `000`s in these datagrams.
fn acked(sent: &[(Duration, Vec<u8>)]) -> Vec<TransactionId> {
    sent.iter()
        .flat_map(|(_, d)| wire::parse(d).unwrap())
        .map(|m| match m {
            wire::Message::Response(r) => {
                assert_eq!(r.code, ReturnCode::ACK);
                r.transaction
            }
            wire::Message::Command(_) => panic!("a command among the acknowledgements"),
        })
        .collect()
}

#[test]
fn due_ack_rides_on_the_next_command() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = send(&mut t, now, peer());
    t.handle_response(now, peer(), id, ReturnCode::EXECUTING, false);
    t.handle_response(now + ms(10), peer(), id, ReturnCode::OK, false);
    assert_eq!(t.take_response_acks(other()), vec![]);
    assert_eq!(
        t.take_response_acks(peer()),
        vec![AckRange {
            first: id,
            last: id
        }]
    );
    let next = send(&mut t, now + ms(20), peer());
    // No 000 follows: only the new command's retransmission timer is left.
    assert_eq!(t.poll_timeout(), Some(now + ms(220)));
    assert!(t.is_in_flight(next));
    assert_eq!(t.stats().response_acks_sent, 0);
    assert_eq!(t.stats().acks_piggybacked, 1);
    // Taken once: the next command carries none.
    assert_eq!(t.take_response_acks(peer()), vec![]);
    assert_eq!(t.stats().acks_piggybacked, 1);
}

#[test]
fn ack_ranges_fold_consecutive_ids() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    t.next_id = TransactionId(1000);
    let ids: Vec<TransactionId> = (0..5).map(|_| send(&mut t, now, peer())).collect();
    // Each final response asks to be acknowledged (an empty `K:`).
    for id in [ids[0], ids[1], ids[2], ids[4]] {
        t.handle_response(now, peer(), id, ReturnCode::OK, true);
    }
    assert_eq!(
        t.take_response_acks(peer()),
        vec![
            AckRange {
                first: TransactionId(1000),
                last: TransactionId(1002)
            },
            AckRange {
                first: TransactionId(1004),
                last: TransactionId(1004)
            }
        ]
    );
    assert_eq!(t.stats().acks_piggybacked, 4);
}

#[test]
fn acks_wait_for_the_first_deadline_and_go_together() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let a = answered_asking_ack(&mut t, now, peer());
    let b = answered_asking_ack(&mut t, now + ms(50), peer());
    let c = answered_asking_ack(&mut t, now + ms(60), other());
    let sent = run_until(&mut t, now, now + secs(1));
    let mut both = ack(a);
    both.extend_from_slice(b".\r\n");
    both.extend_from_slice(&ack(b));
    // The second acknowledgement does not push the first one's deadline back.
    assert_eq!(sent, vec![(ms(100), both), (ms(160), ack(c))]);
    assert_eq!(t.stats().response_acks_sent, 3);
    assert_eq!(t.poll_timeout(), None);
}

#[test]
fn ack_delay_sets_when_a_lone_000_goes() {
    let now = t0();
    let mut t = Transactions::new(config(|c| c.ack_delay(ms(10))), 1);
    let id = answered_asking_ack(&mut t, now, peer());
    assert_eq!(
        run_until(&mut t, now, now + secs(1)),
        vec![(ms(10), ack(id))]
    );
}

#[test]
fn a_repeated_final_response_asking_for_ack_is_acknowledged_again() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = answered_asking_ack(&mut t, now, peer());
    assert_eq!(
        run_until(&mut t, now, now + ms(200)),
        vec![(ms(100), ack(id))]
    );
    // Our 000 was lost: the peer retransmits its final response, still asking.
    assert_eq!(
        t.handle_response(now + ms(300), peer(), id, ReturnCode::OK, true),
        ResponseOutcome::Unmatched
    );
    assert_eq!(
        run_until(&mut t, now, now + secs(1)),
        vec![(ms(400), ack(id))]
    );
    assert_eq!(
        *t.stats(),
        Stats {
            commands_sent: 1,
            final_responses: 1,
            rtt_samples: 1,
            unmatched_responses: 1,
            response_acks_sent: 2,
            ..Stats::default()
        }
    );
}

#[test]
fn unmatched_responses_not_asking_are_not_acknowledged() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = send(&mut t, now, peer());
    t.handle_response(now, peer(), id, ReturnCode::OK, false);
    // A duplicate final response without `K:`, and a late provisional one (even with a `K:`).
    t.handle_response(now, peer(), id, ReturnCode::OK, false);
    t.handle_response(now, peer(), id, ReturnCode::EXECUTING, true);
    assert_eq!(t.stats().unmatched_responses, 2);
    assert_eq!(t.poll_timeout(), None);
    assert_eq!(t.take_response_acks(peer()), vec![]);
}

#[test]
fn many_due_acks_split_into_parseable_datagrams() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let ids: Vec<TransactionId> = (0..40).map(|_| send(&mut t, now, peer())).collect();
    for &id in &ids {
        t.handle_response(now, peer(), id, ReturnCode::EXECUTING, false);
        t.handle_response(now, peer(), id, ReturnCode::OK, false);
    }
    let sent = run_until(&mut t, now, now + ms(1000));
    // 40 acknowledgements: 16 + 16 + 8, each datagram within the parser's message bound.
    let counts: Vec<usize> = sent
        .iter()
        .map(|(_, d)| wire::parse(d).unwrap().len())
        .collect();
    assert_eq!(counts, [16, 16, 8]);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(acked(&sent), sorted);
    assert_eq!(t.stats().response_acks_sent, 40);
}

#[test]
fn a_k_line_holds_at_most_max_list_ranges_and_the_rest_go_as_000() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    t.next_id = TransactionId(1000);
    // 70 acknowledgements due, none consecutive: 70 ranges of one id.
    let ids: Vec<TransactionId> = (0..140).map(|_| send(&mut t, now, peer())).collect();
    for (i, id) in ids.iter().enumerate() {
        t.handle_response(now, peer(), *id, ReturnCode::OK, i % 2 == 0);
    }
    let ranges = t.take_response_acks(peer());
    assert_eq!(ranges.len(), 64);
    assert!(ranges.iter().all(|r| r.first == r.last));
    assert_eq!(ranges[63].last, ids[126]);
    assert_eq!(t.stats().acks_piggybacked, 64);
    // The six left are still due: they go as `000`s at the deadline.
    let sent = run_until(&mut t, now, now + secs(1));
    assert_eq!(times(&sent), [ms(100)]);
    assert_eq!(
        acked(&sent),
        ids[128..].iter().step_by(2).copied().collect::<Vec<_>>()
    );
    assert_eq!(t.stats().response_acks_sent, 6);
}

#[test]
fn pending_acks_per_peer_are_bounded() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    t.next_id = TransactionId(1000);
    let ids: Vec<TransactionId> = (0..300)
        .map(|_| answered_asking_ack(&mut t, now, peer()))
        .collect();
    // 256 kept (4·MAX_ACK_RANGES); the lowest 44 forgotten and counted.
    assert_eq!(t.stats().acks_dropped, 44);
    // Asking again for one still pending changes nothing.
    t.handle_response(now, peer(), ids[299], ReturnCode::OK, true);
    assert_eq!(t.stats().acks_dropped, 44);
    let sent = run_until(&mut t, now, now + secs(1));
    assert_eq!(sent.len(), 16);
    assert_eq!(acked(&sent), ids[44..]);
    assert_eq!(t.stats().response_acks_sent, 256);
    // Another peer has its own bound.
    answered_asking_ack(&mut t, now, other());
    assert_eq!(t.stats().acks_dropped, 44);
}
