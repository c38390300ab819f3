//! Requests we receive: at-most-once execution, Pendings due, cached replies, ImmAckRequired,
//! acknowledgements, history bounds.

use super::*;

fn pending_due(to: SocketAddr, n: u32) -> Event {
    Event::PendingDue {
        peer: to,
        transaction: id(n),
    }
}

#[test]
fn a_request_is_new_once() {
    let start = t0();
    let mut t = layer();
    assert_eq!(
        t.handle_request(start, peer(), false, id(1)),
        RequestOutcome::New
    );
    assert_eq!(t.stats().requests_received, 1);
    assert_eq!(t.remembered(), 1);
    // The same id from another peer is another transaction.
    assert_eq!(
        t.handle_request(start, other(), false, id(1)),
        RequestOutcome::New
    );
    assert_eq!(t.remembered(), 2);
}

#[test]
fn a_duplicate_of_an_executing_request_asks_for_a_pending() {
    let start = t0();
    let c = config(|c| c.provisional(secs(2), 2));
    let mut t = Transactions::new(c, 1);
    t.handle_request(start, peer(), false, id(1));
    for _ in 0..3 {
        assert_eq!(
            t.handle_request(start + ms(300), peer(), false, id(1)),
            RequestOutcome::Duplicate
        );
    }
    // Two Pendings at most (the limit), none sent by the layer itself.
    assert_eq!(
        events(&mut t),
        [pending_due(peer(), 1), pending_due(peer(), 1)]
    );
    assert!(drain(&mut t).is_empty());
    assert_eq!(t.stats().duplicates_executing, 3);
    assert_eq!(t.stats().pendings_due, 2);
    // The limit covers the timer's Pendings too.
    assert!(events_until(&mut t, start, start + secs(10)).is_empty());
}

/// Our provisional response timer: a Pending is due every interval while the request
/// executes, up to the pending limit.
#[test]
fn a_long_execution_gets_pendings_every_provisional_interval() {
    let start = t0();
    let c = config(|c| c.provisional(secs(2), 3));
    let mut t = Transactions::new(c, 1);
    t.handle_request(start, peer(), false, id(1));
    assert_eq!(t.poll_timeout(), Some(start + secs(2)));
    let due = events_until(&mut t, start, start + secs(6));
    assert_eq!(
        due,
        [
            (secs(2), pending_due(peer(), 1)),
            (secs(4), pending_due(peer(), 1)),
            (secs(6), pending_due(peer(), 1)),
        ]
    );
    assert_eq!(t.stats().pendings_due, 3);
    // No timer after the last: only the history's is left.
    assert_eq!(t.poll_timeout(), Some(start + secs(30)));
    assert_eq!(t.timers.len(), 1);
    assert!(events_until(&mut t, start, start + secs(29)).is_empty());
    // The reply still finds the request.
    t.send_reply(
        start + secs(7),
        peer(),
        false,
        id(1),
        b"reply".to_vec(),
        false,
    );
    assert_eq!(t.stats().replies_uncached, 0);
}

#[test]
fn a_reply_stops_the_pendings() {
    let start = t0();
    let mut t = layer();
    t.handle_request(start, peer(), false, id(1));
    t.send_reply(
        start + secs(1),
        peer(),
        false,
        id(1),
        b"reply".to_vec(),
        false,
    );
    assert_eq!(t.poll_timeout(), Some(start + secs(31)));
    assert!(events_until(&mut t, start, start + secs(60)).is_empty());
    // The same after one Pending.
    t.handle_request(start, peer(), false, id(2));
    t.handle_timeout(start + secs(2));
    assert_eq!(events(&mut t), [pending_due(peer(), 2)]);
    t.send_reply(
        start + secs(3),
        peer(),
        false,
        id(2),
        b"reply".to_vec(),
        false,
    );
    assert!(events_until(&mut t, start, start + secs(60)).is_empty());
}

#[test]
fn no_pendings_with_a_limit_of_zero() {
    let start = t0();
    let c = config(|c| c.provisional(secs(2), 0));
    let mut t = Transactions::new(c, 1);
    t.handle_request(start, peer(), false, id(1));
    assert_eq!(t.poll_timeout(), Some(start + secs(30)));
    t.handle_request(start, peer(), false, id(1));
    assert!(events_until(&mut t, start, start + secs(60)).is_empty());
    assert_eq!(t.stats().pendings_due, 0);
}

#[test]
fn a_duplicate_of_a_replied_request_gets_the_cached_reply() {
    let start = t0();
    let mut t = layer();
    t.handle_request(start, peer(), false, id(1));
    t.send_reply(start, peer(), false, id(1), b"reply 1".to_vec(), false);
    assert_eq!(
        drain(&mut t),
        [Transmit {
            destination: peer(),
            contents: b"reply 1".to_vec()
        }]
    );
    assert_eq!(t.stats().replies_sent, 1);
    for n in 1..=2 {
        assert_eq!(
            t.handle_request(start + secs(n), peer(), false, id(1)),
            RequestOutcome::Duplicate
        );
        assert_eq!(drain(&mut t)[0].contents, b"reply 1");
    }
    assert_eq!(t.stats().replies_replayed, 2);
    // No retransmission without ImmAckRequired.
    assert!(run_until(&mut t, start, start + secs(29)).is_empty());
}

/// D.1.1: the reply is remembered for LONG-TIMER after it is sent; then the id is forgotten.
#[test]
fn history_lasts_the_long_timer_from_the_reply() {
    let start = t0();
    let mut t = layer();
    t.handle_request(start, peer(), false, id(1));
    t.send_reply(start + secs(5), peer(), false, id(1), b"r".to_vec(), false);
    drain(&mut t);
    assert_eq!(t.poll_timeout(), Some(start + secs(35)));
    t.handle_timeout(start + ms(34_999));
    assert_eq!(t.remembered(), 1);
    t.handle_timeout(start + secs(35));
    assert_eq!(t.remembered(), 0);
    assert_eq!(t.stats().history_expired, 1);
    assert_eq!(
        t.handle_request(start + secs(36), peer(), false, id(1)),
        RequestOutcome::New
    );
}

#[test]
fn a_request_never_replied_is_forgotten_after_the_long_timer() {
    let start = t0();
    let mut t = layer();
    t.handle_request(start, peer(), false, id(1));
    events_until(&mut t, start, start + secs(30));
    assert_eq!(t.remembered(), 0);
    assert_eq!(t.poll_timeout(), None);
    // A late reply goes out uncached.
    t.send_reply(start + secs(31), peer(), false, id(1), b"r".to_vec(), false);
    assert_eq!(drain(&mut t).len(), 1);
    assert_eq!(t.stats().replies_uncached, 1);
}

#[test]
fn replies_to_unknown_requests_go_out_uncached_and_a_second_reply_keeps_the_first() {
    let start = t0();
    let mut t = layer();
    t.send_reply(start, peer(), false, id(9), b"error".to_vec(), true);
    assert_eq!(drain(&mut t).len(), 1);
    assert_eq!(t.stats().replies_uncached, 1);
    assert_eq!(t.poll_timeout(), None);
    t.handle_request(start, peer(), false, id(1));
    t.send_reply(start, peer(), false, id(1), b"first".to_vec(), false);
    t.send_reply(start, peer(), false, id(1), b"second".to_vec(), true);
    assert_eq!(drain(&mut t).len(), 2);
    assert_eq!(t.stats().replies_uncached, 2);
    assert_eq!(t.stats().replies_sent, 3);
    t.handle_request(start, peer(), false, id(1));
    assert_eq!(drain(&mut t)[0].contents, b"first");
    assert!(run_until(&mut t, start, start + secs(29)).is_empty());
}

#[test]
fn an_imm_ack_reply_is_retransmitted_until_acknowledged() {
    let start = t0();
    let mut t = layer();
    t.handle_request(start, peer(), false, id(1));
    t.send_reply(start, peer(), false, id(1), b"reply".to_vec(), true);
    drain(&mut t);
    assert_eq!(t.poll_timeout(), Some(start + ms(200)));
    let sent = run_until(&mut t, start, start + secs(1));
    assert!(!sent.is_empty());
    assert!(sent.iter().all(|(_, b)| b == b"reply"));
    assert_eq!(sent[0].0, ms(200));
    assert_eq!(t.stats().reply_retransmissions, sent.len() as u64);
    t.handle_response_ack(start + secs(1), peer(), &[range(1, 1)]);
    assert_eq!(t.stats().acks_received, 1);
    assert!(run_until(&mut t, start, start + secs(29)).is_empty());
    // Acknowledged: a duplicate is dropped, not executed nor answered.
    assert_eq!(
        t.handle_request(start + secs(2), peer(), false, id(1)),
        RequestOutcome::Duplicate
    );
    assert!(drain(&mut t).is_empty());
    assert_eq!(t.stats().duplicates_dropped, 1);
}

#[test]
fn an_imm_ack_reply_stops_after_the_retransmissions_run_out() {
    let start = t0();
    let mut t = layer();
    t.handle_request(start, peer(), false, id(1));
    t.send_reply(start, peer(), false, id(1), b"reply".to_vec(), true);
    drain(&mut t);
    let sent = run_until(&mut t, start, start + secs(29));
    assert_eq!(sent.len(), 7);
    let at = times(&sent);
    let mut aad = ms(200);
    for w in at.windows(2) {
        aad = (aad * 2).min(secs(4));
        let gap = w[1] - w[0];
        assert!(gap >= (aad / 2).max(ms(200)) && gap <= aad, "{at:?}");
    }
    assert_eq!(t.stats().replies_unacknowledged, 1);
    // Still cached for duplicates until LONG-TIMER.
    t.handle_request(start + secs(29), peer(), false, id(1));
    assert_eq!(drain(&mut t).len(), 1);
    t.handle_timeout(start + secs(30));
    assert_eq!(t.remembered(), 0);
    assert_eq!(t.poll_timeout(), None);
}

#[test]
fn over_tcp_an_imm_ack_reply_is_not_retransmitted() {
    let start = t0();
    let mut t = layer();
    t.handle_request(start, peer(), true, id(1));
    t.send_reply(start, peer(), true, id(1), b"reply".to_vec(), true);
    drain(&mut t);
    assert!(run_until(&mut t, start, start + secs(29)).is_empty());
    t.handle_request(start, peer(), true, id(1));
    assert_eq!(drain(&mut t).len(), 1);
}

#[test]
fn acknowledgements_release_what_they_name() {
    let start = t0();
    let mut t = layer();
    for n in [1, 2, 3, 10, 11] {
        answer(&mut t, start, peer(), n);
    }
    answer(&mut t, start, other(), 2);
    t.handle_request(start, peer(), false, id(20));
    t.handle_response_ack(start, peer(), &[range(2, 3), range(5, 6), range(20, 20)]);
    assert_eq!(t.stats().acks_received, 2);
    // 5–6 named nothing; 20 is still executing.
    assert_eq!(t.stats().acks_unmatched, 2);
    let replays = |t: &mut Transactions, from: SocketAddr, n: u32| {
        t.handle_request(start, from, false, id(n));
        !drain(t).is_empty()
    };
    assert!(replays(&mut t, peer(), 1));
    assert!(!replays(&mut t, peer(), 2));
    assert!(!replays(&mut t, peer(), 3));
    assert!(replays(&mut t, other(), 2));
    // A reversed range names nothing.
    t.handle_response_ack(start, peer(), &[range(11, 10)]);
    assert_eq!(t.stats().acks_unmatched, 3);
    assert!(replays(&mut t, peer(), 10));
    // A range wider than the history: only what is remembered is looked at.
    t.handle_response_ack(start, peer(), &[range(0, u32::MAX)]);
    assert_eq!(t.stats().acks_received, 5);
    assert!(!replays(&mut t, peer(), 1));
    assert!(!replays(&mut t, peer(), 10));
    assert!(!replays(&mut t, peer(), 11));
    // Acknowledging again releases nothing new.
    t.handle_response_ack(start, peer(), &[range(1, 1)]);
    assert_eq!(t.stats().acks_received, 5);
    assert_eq!(t.stats().acks_unmatched, 4);
    // From an unknown peer.
    t.handle_response_ack(start, third(), &[range(1, 1)]);
    assert_eq!(t.stats().acks_unmatched, 5);
}

#[test]
fn a_range_exactly_as_wide_as_the_history_releases_it_all() {
    let start = t0();
    let mut t = layer();
    for n in [5, 6, 7] {
        answer(&mut t, start, peer(), n);
    }
    t.handle_response_ack(start, peer(), &[range(5, 7)]);
    assert_eq!(t.stats().acks_received, 3);
    t.handle_response_ack(start, peer(), &[range(4, 7)]);
    assert_eq!(t.stats().acks_received, 3);
    answer(&mut t, start, peer(), 8);
    t.handle_response_ack(start, peer(), &[range(8, 11)]);
    assert_eq!(t.stats().acks_received, 4);
}

#[test]
fn history_is_bounded_per_peer_oldest_first() {
    let start = t0();
    let c = config(|c| c.max_history(3, 5));
    let mut t = Transactions::new(c, 1);
    for n in 1..=4 {
        answer(&mut t, start + ms(n.into()), peer(), n);
    }
    assert_eq!(t.stats().history_evictions, 1);
    assert_eq!(t.remembered(), 3);
    // 1 was forgotten: it would be executed again.
    assert_eq!(
        t.handle_request(start, peer(), false, id(2)),
        RequestOutcome::Duplicate
    );
    assert_eq!(
        t.handle_request(start, peer(), false, id(1)),
        RequestOutcome::New
    );
    assert_eq!(t.stats().history_evictions, 2);
    assert_eq!(
        t.handle_request(start, peer(), false, id(2)),
        RequestOutcome::New
    );
}

#[test]
fn history_is_bounded_in_total_oldest_first() {
    let start = t0();
    let c = config(|c| c.max_history(3, 4));
    let mut t = Transactions::new(c, 1);
    answer(&mut t, start, peer(), 1);
    answer(&mut t, start, other(), 2);
    answer(&mut t, start, peer(), 3);
    answer(&mut t, start, other(), 4);
    assert_eq!(t.stats().history_evictions, 0);
    answer(&mut t, start, third(), 5);
    assert_eq!(t.stats().history_evictions, 1);
    assert_eq!(t.remembered(), 4);
    assert_eq!(
        t.handle_request(start, other(), false, id(2)),
        RequestOutcome::Duplicate
    );
    assert_eq!(
        t.handle_request(start, peer(), false, id(1)),
        RequestOutcome::New
    );
    // Forgotten entries leave no timers behind.
    t.handle_response_ack(start, peer(), &[range(3, 3)]);
    // One history timer each, and the executing request's provisional timer.
    assert_eq!(t.timers.len(), t.remembered() + 1);
}

#[test]
fn an_evicted_imm_ack_reply_stops_being_retransmitted() {
    let start = t0();
    let c = config(|c| c.max_history(1, 1));
    let mut t = Transactions::new(c, 1);
    t.handle_request(start, peer(), false, id(1));
    t.send_reply(start, peer(), false, id(1), b"r".to_vec(), true);
    drain(&mut t);
    answer(&mut t, start, peer(), 2);
    // Its retransmission timer went with it: only the new one's history timer is left.
    assert_eq!(t.timers.len(), 1);
    assert!(run_until(&mut t, start, start + secs(29)).is_empty());
}

#[test]
fn an_evicted_executing_request_gets_no_more_pendings() {
    let start = t0();
    let c = config(|c| c.max_history(1, 1));
    let mut t = Transactions::new(c, 1);
    t.handle_request(start, peer(), false, id(1));
    assert_eq!(t.timers.len(), 2);
    t.handle_request(start + ms(10), peer(), false, id(2));
    // Its provisional and history timers went with it.
    assert_eq!(t.timers.len(), 2);
    let due = events_until(&mut t, start, start + secs(3));
    assert_eq!(due, [(ms(2010), pending_due(peer(), 2))]);
    // Its reply goes out uncached.
    t.send_reply(start + secs(3), peer(), false, id(1), b"r".to_vec(), false);
    assert_eq!(t.stats().replies_uncached, 1);
}

#[test]
fn peers_are_bounded() {
    let start = t0();
    let c = config(|c| c.max_peers(2));
    let mut t = Transactions::new(c, 1);
    answer(&mut t, start, peer(), 1);
    answer(&mut t, start, other(), 1);
    assert_eq!(t.peers(), 2);
    // A third peer is executed but not remembered.
    assert_eq!(
        t.handle_request(start, third(), false, id(1)),
        RequestOutcome::New
    );
    assert_eq!(t.stats().history_refused, 1);
    assert_eq!(
        t.handle_request(start, third(), false, id(1)),
        RequestOutcome::New
    );
    assert_eq!(t.poll_timeout(), Some(start + secs(30)));
    // Nor can it be owed acknowledgements.
    t.handle_reply(start, third(), id(1));
    assert_eq!(t.stats().acks_dropped, 1);
    // Requests to it still go (with the default timer).
    send(&mut t, start, third(), 5);
    assert_eq!(t.poll_timeout(), Some(start + ms(200)));
    // Once the others' history runs out they are pruned to make room.
    t.cancel(id(5));
    events_until(&mut t, start, start + secs(31));
    assert_eq!(t.remembered(), 0);
    answer(&mut t, start + secs(31), third(), 1);
    assert_eq!(t.peers(), 1);
}

#[test]
fn pending_sent_and_awaiting_ack() {
    let start = t0();
    let mut t = layer();
    t.handle_request(start, peer(), false, id(1));
    assert!(!t.pending_sent(peer(), id(1)));
    t.handle_request(start, peer(), false, id(1));
    assert!(t.pending_sent(peer(), id(1)));
    assert!(!t.pending_sent(other(), id(1)));
    assert_eq!(t.awaiting_ack(), 0);
    t.send_reply(start, peer(), false, id(1), b"r".to_vec(), true);
    drain(&mut t);
    assert!(!t.pending_sent(peer(), id(1)));
    assert_eq!(t.awaiting_ack(), 1);
    answer(&mut t, start, peer(), 2);
    assert_eq!(t.awaiting_ack(), 1);
    t.handle_response_ack(start, peer(), &[range(1, 2)]);
    assert_eq!(t.awaiting_ack(), 0);
}

/// Only peers holding nothing (no request in flight, no acknowledgement owed, no history)
/// make room for a new one.
#[test]
fn busy_peers_are_not_pruned() {
    let start = t0();
    let c = config(|c| c.max_peers(2));
    let mut t = Transactions::new(c, 1);
    // One peer with a request in flight, one owed an acknowledgement.
    send(&mut t, start, peer(), 1);
    t.handle_reply(start, other(), id(7));
    assert_eq!(t.peers(), 2);
    assert_eq!(
        t.handle_request(start, third(), false, id(1)),
        RequestOutcome::New
    );
    assert_eq!(t.stats().history_refused, 1);
    assert_eq!(t.peers(), 2);
    assert_eq!(t.take_response_acks(other()), [range(7, 7)]);
    // Now the other peer holds nothing and gives way.
    answer(&mut t, start, third(), 2);
    assert_eq!(t.peers(), 2);
    assert_eq!(t.stats().history_refused, 1);
    assert!(t.take_response_acks(other()).is_empty());
    // The first still has its request in flight.
    assert_eq!(t.in_flight(peer()), 1);
}

#[test]
fn ranges_at_the_top_of_the_id_space() {
    let start = t0();
    let mut t = layer();
    for n in [u32::MAX - 1, u32::MAX, 1] {
        answer(&mut t, start, peer(), n);
    }
    t.handle_response_ack(start, peer(), &[range(u32::MAX - 1, u32::MAX)]);
    assert_eq!(t.stats().acks_received, 2);
    t.handle_request(start, peer(), false, id(1));
    assert_eq!(drain(&mut t).len(), 1);
    t.handle_request(start, peer(), false, id(u32::MAX));
    assert!(drain(&mut t).is_empty());
}
