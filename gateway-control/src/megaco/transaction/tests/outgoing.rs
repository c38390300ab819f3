//! Requests we send: D.1.3 retransmission, timeouts, Karn's rule, Pendings, refusals.

use super::*;

#[test]
fn a_request_is_sent_once_and_tracked() {
    let start = t0();
    let mut t = layer();
    t.send_request(start, peer(), false, id(7), b"request".to_vec())
        .unwrap();
    assert_eq!(
        drain(&mut t),
        [Transmit {
            destination: peer(),
            contents: b"request".to_vec()
        }]
    );
    assert_eq!(t.in_flight(peer()), 1);
    assert_eq!(t.in_flight(other()), 0);
    assert_eq!(t.in_flight_total(), 1);
    assert!(t.is_in_flight(id(7)));
    assert_eq!(t.stats().requests_sent, 1);
    assert_eq!(t.poll_timeout(), Some(start + ms(200)));
}

/// D.1.3: the first timer is AAD₀ (200 ms), then each retransmission doubles the
/// transaction's AAD and draws the timer in [AAD/2, AAD], bounded by 200 ms and 4 s; after 7
/// retransmissions the request is given up one interval later.
#[test]
fn retransmissions_back_off_with_jitter_and_run_out() {
    for seed in 0..20 {
        let start = t0();
        let mut t = Transactions::new(Config::default(), seed);
        send(&mut t, start, peer(), 1);
        let sent = run_until(&mut t, start, start + secs(60));
        assert_eq!(sent.len(), 7, "seed {seed}");
        assert!(sent.iter().all(|(_, b)| b == b"request 1"));
        let at = times(&sent);
        assert_eq!(at[0], ms(200));
        let mut aad = ms(200);
        for w in at.windows(2) {
            aad = (aad * 2).min(secs(4));
            let gap = w[1] - w[0];
            assert!(
                gap >= (aad / 2).max(ms(200)) && gap <= aad,
                "seed {seed}: {at:?}"
            );
        }
        let timed_out = events(&mut t);
        assert_eq!(
            timed_out,
            [Event::TimedOut {
                peer: peer(),
                transaction: id(1),
                pending: false
            }]
        );
        assert_eq!(t.stats().retransmissions, 7);
        assert_eq!(t.stats().timeouts, 1);
        assert_eq!(t.in_flight(peer()), 0);
        assert_eq!(t.poll_timeout(), None);
    }
}

#[test]
fn the_jitter_depends_on_the_seed() {
    let schedule = |seed| {
        let start = t0();
        let mut t = Transactions::new(Config::default(), seed);
        send(&mut t, start, peer(), 1);
        times(&run_until(&mut t, start, start + secs(60)))
    };
    assert_eq!(schedule(3), schedule(3));
    assert!((0..5).any(|s| schedule(s) != schedule(s + 1)));
}

#[test]
fn the_interval_stays_at_the_cap() {
    let start = t0();
    let c = config(|c| {
        c.max_retransmissions(30)?
            .retransmit_interval(ms(200), ms(400))
    });
    let mut t = Transactions::new(c, 1);
    send(&mut t, start, peer(), 1);
    let at = times(&run_until(&mut t, start, start + secs(5)));
    assert_eq!(at[0], ms(200));
    for w in at.windows(2) {
        let gap = w[1] - w[0];
        assert!(gap >= ms(200) && gap <= ms(400), "{at:?}");
    }
}

#[test]
fn a_request_is_given_up_at_the_request_timeout() {
    let start = t0();
    let c = config(|c| c.max_retransmissions(1000));
    let mut t = Transactions::new(c, 1);
    send(&mut t, start, peer(), 1);
    let due = events_until(&mut t, start, start + secs(60));
    assert_eq!(
        due,
        [(
            secs(20),
            Event::TimedOut {
                peer: peer(),
                transaction: id(1),
                pending: false
            }
        )]
    );
    assert!(t.stats().retransmissions > 7);
}

#[test]
fn a_request_timer_that_fires_late_gives_up() {
    let start = t0();
    let mut t = layer();
    send(&mut t, start, peer(), 1);
    // A driver that slept through every timer: no retransmission so late.
    t.handle_timeout(start + secs(25));
    assert!(drain(&mut t).is_empty());
    assert_eq!(events(&mut t).len(), 1);
}

#[test]
fn over_tcp_nothing_is_retransmitted_and_the_same_timeout_applies() {
    let start = t0();
    let mut t = layer();
    t.send_request(start, peer(), true, id(1), b"r".to_vec())
        .unwrap();
    assert_eq!(drain(&mut t).len(), 1);
    assert_eq!(t.poll_timeout(), Some(start + secs(20)));
    let sent = run_until(&mut t, start, start + secs(60));
    assert!(sent.is_empty());
    assert_eq!(t.stats().retransmissions, 0);
    assert_eq!(
        events(&mut t),
        [Event::TimedOut {
            peer: peer(),
            transaction: id(1),
            pending: false
        }]
    );
}

#[test]
fn a_reply_finishes_the_request() {
    let start = t0();
    let mut t = layer();
    send(&mut t, start, peer(), 1);
    assert_eq!(
        t.handle_reply(start + ms(50), peer(), id(1)),
        ReplyOutcome::Final
    );
    assert_eq!(t.in_flight(peer()), 0);
    assert!(!t.is_in_flight(id(1)));
    assert_eq!(t.stats().replies, 1);
    // Only the acknowledgement's timer is left.
    assert_eq!(t.poll_timeout(), Some(start + ms(150)));
    assert_eq!(t.take_response_acks(peer()), [range(1, 1)]);
    assert_eq!(t.poll_timeout(), None);
    assert_eq!(
        t.handle_reply(start + ms(60), peer(), id(1)),
        ReplyOutcome::Unmatched
    );
    assert_eq!(t.stats().unmatched_replies, 1);
    assert!(run_until(&mut t, start, start + secs(60)).is_empty());
}

#[test]
fn a_reply_from_another_address_is_dropped() {
    let start = t0();
    let mut t = layer();
    send(&mut t, start, peer(), 1);
    assert_eq!(
        t.handle_reply(start + ms(50), other(), id(1)),
        ReplyOutcome::Unmatched
    );
    assert_eq!(t.stats().from_wrong_peer, 1);
    assert_eq!(t.stats().unmatched_replies, 0);
    assert!(t.is_in_flight(id(1)));
    assert!(t.take_response_acks(other()).is_empty());
    assert_eq!(
        t.handle_reply(start + ms(60), peer(), id(1)),
        ReplyOutcome::Final
    );
}

/// The first sample sets AAD = s and ADEV = s/2; later ones are smoothed (1/8, 1/4).
#[test]
fn delay_samples_set_the_first_timer() {
    let start = t0();
    let mut t = layer();
    assert_eq!(t.retransmit_timeout(peer()), ms(200));
    send(&mut t, start, peer(), 1);
    t.handle_reply(start + ms(300), peer(), id(1));
    t.take_response_acks(peer());
    assert_eq!(t.retransmit_timeout(peer()), ms(600));
    let now = start + secs(1);
    send(&mut t, now, peer(), 2);
    assert_eq!(t.poll_timeout(), Some(now + ms(600)));
    t.handle_reply(now + ms(700), peer(), id(2));
    // ADEV = 150·3/4 + 400/4 = 212.5 ms, AAD = 300·7/8 + 700/8 = 350 ms.
    assert_eq!(t.retransmit_timeout(peer()), ms(775));
    assert_eq!(t.stats().rtt_samples, 2);
    assert_eq!(t.retransmit_timeout(other()), ms(200));
}

#[test]
fn the_first_timer_is_bounded() {
    let start = t0();
    let mut t = layer();
    send(&mut t, start, peer(), 1);
    t.handle_reply(start + ms(10), peer(), id(1));
    assert_eq!(t.retransmit_timeout(peer()), ms(200));
    send(&mut t, start, other(), 2);
    t.handle_reply(start + secs(3), other(), id(2));
    t.take_response_acks(peer());
    t.take_response_acks(other());
    assert_eq!(t.retransmit_timeout(other()), secs(4));
    send(&mut t, start + secs(5), other(), 3);
    assert_eq!(t.poll_timeout(), Some(start + secs(9)));
}

/// Later retransmissions add N·ADEV to the drawn part: after a sample of 400 ms (AAD 400 ms,
/// ADEV 200 ms) the first timer is 800 ms, the next AAD 800 ms drawn in [400, 800] plus 400.
#[test]
fn the_give_up_comes_one_back_off_after_the_last_retransmission() {
    let start = t0();
    let c = config(|c| c.max_retransmissions(1));
    let mut t = Transactions::new(c, 1);
    send(&mut t, start, peer(), 1);
    t.handle_reply(start + ms(400), peer(), id(1));
    t.take_response_acks(peer());
    let now = start + secs(1);
    send(&mut t, now, peer(), 2);
    t.handle_timeout(now + ms(800));
    assert_eq!(drain(&mut t).len(), 1);
    let next = t.poll_timeout().unwrap() - now;
    assert!(next >= ms(1600) && next <= ms(2000), "{next:?}");
    t.handle_timeout(now + next);
    assert_eq!(events(&mut t).len(), 1);
}

/// Karn's rule: a reply to a retransmitted request, or to one answered with Pending, is not
/// a sample.
#[test]
fn karns_rule() {
    let start = t0();
    let mut t = layer();
    send(&mut t, start, peer(), 1);
    t.handle_timeout(start + ms(200));
    drain(&mut t);
    t.handle_reply(start + ms(250), peer(), id(1));
    assert_eq!(t.stats().rtt_samples, 0);
    assert_eq!(t.stats().rtt_samples_skipped, 1);
    assert_eq!(t.retransmit_timeout(peer()), ms(200));
    send(&mut t, start, peer(), 2);
    assert!(t.handle_pending(start + ms(100), peer(), id(2)));
    t.handle_reply(start + ms(150), peer(), id(2));
    assert_eq!(t.stats().rtt_samples_skipped, 2);
    assert_eq!(t.retransmit_timeout(peer()), ms(200));
}

#[test]
fn a_pending_stops_retransmission_and_waits_the_pending_timeout() {
    let start = t0();
    let mut t = layer();
    send(&mut t, start, peer(), 1);
    assert!(t.handle_pending(start + ms(100), peer(), id(1)));
    assert_eq!(t.stats().pendings_received, 1);
    assert_eq!(t.poll_timeout(), Some(start + ms(100) + secs(10)));
    assert!(run_until(&mut t, start, start + secs(10)).is_empty());
    t.handle_timeout(start + ms(10_100));
    assert!(drain(&mut t).is_empty());
    assert_eq!(
        events(&mut t),
        [Event::TimedOut {
            peer: peer(),
            transaction: id(1),
            pending: true
        }]
    );
    assert_eq!(t.stats().timeouts, 1);
    assert_eq!(t.stats().retransmissions, 0);
}

#[test]
fn each_pending_restarts_the_wait_up_to_the_limit() {
    let start = t0();
    let c = config(|c| c.peer_pending(secs(3), 3));
    let mut t = Transactions::new(c, 1);
    send(&mut t, start, peer(), 1);
    for n in 1..=3u64 {
        let at = start + secs(2 * n);
        assert!(t.handle_pending(at, peer(), id(1)));
        assert_eq!(t.poll_timeout(), Some(at + secs(3)));
        assert!(run_until(&mut t, start, at + ms(2999)).is_empty());
        assert!(events(&mut t).is_empty());
    }
    // The fourth is one too many.
    assert!(t.handle_pending(start + secs(8), peer(), id(1)));
    assert_eq!(
        events(&mut t),
        [Event::TimedOut {
            peer: peer(),
            transaction: id(1),
            pending: true
        }]
    );
    assert_eq!(t.stats().pending_limit_exceeded, 1);
    assert_eq!(t.stats().timeouts, 1);
    assert!(!t.is_in_flight(id(1)));
    assert_eq!(t.poll_timeout(), None);
    assert!(!t.handle_pending(start + secs(9), peer(), id(1)));
}

#[test]
fn a_pending_over_tcp_also_extends_the_wait() {
    let start = t0();
    let mut t = layer();
    t.send_request(start, peer(), true, id(1), b"r".to_vec())
        .unwrap();
    drain(&mut t);
    assert!(t.handle_pending(start + secs(19), peer(), id(1)));
    assert_eq!(t.poll_timeout(), Some(start + secs(29)));
    assert_eq!(
        t.handle_reply(start + secs(25), peer(), id(1)),
        ReplyOutcome::Final
    );
}

#[test]
fn a_pending_for_nothing_in_flight_is_ignored() {
    let start = t0();
    let mut t = layer();
    assert!(!t.handle_pending(start, peer(), id(1)));
    assert_eq!(t.stats().unmatched_pendings, 1);
    send(&mut t, start, peer(), 1);
    assert!(!t.handle_pending(start, other(), id(1)));
    assert_eq!(t.stats().from_wrong_peer, 1);
    assert_eq!(t.stats().pendings_received, 0);
    // Still retransmitted: the Pending came from the wrong address.
    t.handle_timeout(start + ms(200));
    assert_eq!(drain(&mut t).len(), 1);
    t.handle_reply(start + ms(300), peer(), id(1));
    // A Pending after the reply is ignored (D.1.4).
    assert!(!t.handle_pending(start + ms(400), peer(), id(1)));
    assert_eq!(t.stats().unmatched_pendings, 2);
}

#[test]
fn refusals() {
    let start = t0();
    let c = config(|c| c.max_in_flight(2, 3));
    let mut t = Transactions::new(c, 1);
    assert_eq!(
        t.send_request(start, peer(), false, id(1), vec![b'x'; MAX_MESSAGE + 1]),
        Err(SendError::TooLarge(MAX_MESSAGE + 1))
    );
    t.send_request(start, peer(), false, id(1), vec![b'x'; MAX_MESSAGE])
        .unwrap();
    assert_eq!(drain(&mut t).len(), 1);
    assert_eq!(
        t.send_request(start, other(), false, id(1), b"r".to_vec()),
        Err(SendError::InFlight(id(1)))
    );
    send(&mut t, start, peer(), 2);
    assert_eq!(
        t.send_request(start, peer(), false, id(3), b"r".to_vec()),
        Err(SendError::TooManyToPeer(peer()))
    );
    send(&mut t, start, other(), 3);
    assert_eq!(
        t.send_request(start, third(), false, id(4), b"r".to_vec()),
        Err(SendError::TooManyInFlight)
    );
    assert_eq!(t.stats().send_refused, 4);
    assert_eq!(t.stats().requests_sent, 3);
    assert_eq!(t.in_flight_total(), 3);
    // Only the accepted ones went out.
    assert!(drain(&mut t).is_empty());
    t.handle_reply(start, peer(), id(2));
    send(&mut t, start, peer(), 4);
}

#[test]
fn cancel_forgets_without_an_event() {
    let start = t0();
    let mut t = layer();
    send(&mut t, start, peer(), 1);
    send(&mut t, start, peer(), 2);
    assert!(t.cancel(id(1)));
    assert!(!t.cancel(id(1)));
    assert_eq!(t.stats().cancelled, 1);
    assert_eq!(t.in_flight(peer()), 1);
    assert!(t.cancel(id(2)));
    assert_eq!(t.in_flight(peer()), 0);
    assert_eq!(t.poll_timeout(), None);
    assert!(run_until(&mut t, start, start + secs(60)).is_empty());
    assert!(events(&mut t).is_empty());
    assert_eq!(
        t.handle_reply(start + secs(1), peer(), id(1)),
        ReplyOutcome::Unmatched
    );
}

#[test]
fn ids_ascend_from_a_seeded_start_skip_those_in_flight_and_never_are_zero() {
    let start = t0();
    let mut t = Transactions::new(Config::default(), 5);
    let first = t.allocate_id();
    assert_ne!(first.0, 0);
    assert_eq!(t.allocate_id().0, first.0.wrapping_add(1).max(1));
    assert_ne!(Transactions::new(Config::default(), 6).allocate_id(), first);
    t.next_id = id(u32::MAX - 1);
    send(&mut t, start, peer(), u32::MAX);
    send(&mut t, start, peer(), 1);
    assert_eq!(t.allocate_id(), id(u32::MAX - 1));
    assert_eq!(t.allocate_id(), id(2));
    assert_eq!(t.allocate_id(), id(3));
}

#[test]
fn send_raw_is_not_tracked() {
    let start = t0();
    let mut t = layer();
    t.send_raw(peer(), b"ack".to_vec());
    assert_eq!(
        drain(&mut t),
        [Transmit {
            destination: peer(),
            contents: b"ack".to_vec()
        }]
    );
    assert_eq!(t.stats().raw_sent, 1);
    assert_eq!(t.poll_timeout(), None);
    assert!(run_until(&mut t, start, start + secs(60)).is_empty());
}
