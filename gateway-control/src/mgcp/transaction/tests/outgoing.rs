//! Outgoing commands (RFC 3435 §4.3): retransmission with back-off, T-MAX and Max2, Karn's
//! rule, provisional responses, transaction ids, and what is in flight.

use super::*;

#[test]
fn retransmits_with_exponential_back_off_then_times_out() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = t.allocate_id();
    t.send_command(now, peer(), id, b"RQNT 1 aaln/1@gw MGCP 1.0\r\n".to_vec())
        .unwrap();
    assert_eq!(drain(&mut t).len(), 1);
    let sent = run_until(&mut t, now, now + Duration::from_secs(60));
    // 200 ms, doubling, capped at 4 s: 0.2 0.6 1.4 3.0 6.2 10.2 14.2 (Max2 = 7).
    assert_eq!(
        times(&sent),
        [200, 600, 1400, 3000, 6200, 10_200, 14_200]
            .map(ms)
            .to_vec()
    );
    assert!(sent.iter().all(|(_, b)| b.starts_with(b"RQNT 1 ")));
    assert_eq!(
        t.poll_event(),
        Some(Event::TimedOut {
            peer: peer(),
            transaction: id,
            provisional: false
        })
    );
    assert_eq!(
        *t.stats(),
        Stats {
            commands_sent: 1,
            retransmissions: 7,
            timeouts: 1,
            ..Stats::default()
        }
    );
    assert_eq!(t.in_flight(peer()), 0);
    assert!(!t.is_in_flight(id));
    assert_eq!(t.poll_timeout(), None);
}

#[test]
fn gives_up_one_capped_interval_after_the_last_retransmission() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = send(&mut t, now, peer());
    assert_eq!(run_until(&mut t, now, now + ms(18_199)).len(), 7);
    assert!(t.is_in_flight(id));
    assert_eq!(t.poll_event(), None);
    assert_eq!(t.poll_timeout(), Some(now + ms(18_200)));
    t.handle_timeout(now + ms(18_200));
    assert!(matches!(t.poll_event(), Some(Event::TimedOut { .. })));
    assert!(drain(&mut t).is_empty());
}

#[test]
fn t_max_bounds_the_retransmissions() {
    let now = t0();
    let cfg = config(|c| c.max_retransmissions(100)?.t_max(ms(5000)));
    let mut t = Transactions::new(cfg, 1);
    let id = send(&mut t, now, peer());
    let sent = run_until(&mut t, now, now + ms(4999));
    // 0.2 0.6 1.4 3.0, then the next would be 6.2 > T-MAX: given up at 5.0.
    assert_eq!(times(&sent), [200, 600, 1400, 3000].map(ms).to_vec());
    assert_eq!(t.poll_event(), None);
    assert_eq!(t.poll_timeout(), Some(now + ms(5000)));
    t.handle_timeout(now + ms(5000));
    assert_eq!(
        t.poll_event(),
        Some(Event::TimedOut {
            peer: peer(),
            transaction: id,
            provisional: false
        })
    );
    assert!(drain(&mut t).is_empty());
    assert_eq!(t.stats().retransmissions, 4);
}

#[test]
fn a_command_of_exactly_the_datagram_bound_is_sent() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    assert_eq!(
        t.send_command(now, peer(), TransactionId(5), vec![b'x'; MAX_DATAGRAM]),
        Ok(())
    );
    assert_eq!(drain(&mut t)[0].contents.len(), MAX_DATAGRAM);
    assert_eq!(t.stats().send_refused, 0);
}

#[test]
fn refuses_oversized_and_too_many() {
    let now = t0();
    let mut t = Transactions::new(config(|c| c.max_in_flight(1)), 1);
    assert_eq!(
        t.send_command(now, peer(), TransactionId(5), vec![b'x'; MAX_DATAGRAM + 1]),
        Err(SendError::TooLarge(MAX_DATAGRAM + 1))
    );
    t.send_command(now, peer(), TransactionId(6), b"x".to_vec())
        .unwrap();
    assert_eq!(
        t.send_command(now, other(), TransactionId(7), b"x".to_vec()),
        Err(SendError::TooManyInFlight)
    );
    // Refused commands leave nothing behind: one datagram, one timer.
    assert_eq!(drain(&mut t).len(), 1);
    assert!(!t.is_in_flight(TransactionId(5)));
    assert!(!t.is_in_flight(TransactionId(7)));
    assert_eq!(
        *t.stats(),
        Stats {
            commands_sent: 1,
            send_refused: 2,
            ..Stats::default()
        }
    );
    // Once the first is answered there is room again.
    t.handle_response(now, peer(), TransactionId(6), ReturnCode::OK, false);
    assert_eq!(
        t.send_command(now, other(), TransactionId(7), b"x".to_vec()),
        Ok(())
    );
}

#[test]
fn final_response_stops_retransmission_and_samples_delay() {
    let now = t0();
    let mut t = Transactions::new(config(|c| c.min_retransmit_interval(ms(10))), 1);
    let id = send(&mut t, now, peer());
    assert_eq!(
        t.handle_response(now + ms(40), peer(), id, ReturnCode::OK, false),
        ResponseOutcome::Final
    );
    assert_eq!(t.stats().rtt_samples, 1);
    assert_eq!(t.stats().final_responses, 1);
    // The first sample replaces the prior: AAD 40, ADEV 20: 40 + 2·20 = 80.
    assert_eq!(t.retransmit_timeout(peer()), ms(80));
    // No timer is left (no acknowledgement is due): the command is over.
    assert_eq!(t.poll_timeout(), None);
    assert!(!t.is_in_flight(id));
    // A second sample is smoothed: AAD 40 + (120-40)/8 = 50, ADEV 20·3/4 + 80/4 = 35.
    let id2 = t.allocate_id();
    t.send_command(now + ms(100), peer(), id2, b"y".to_vec())
        .unwrap();
    // The new command is retransmitted on the estimate: 80 ms after it went.
    assert_eq!(t.poll_timeout(), Some(now + ms(180)));
    t.handle_response(now + ms(220), peer(), id2, ReturnCode::OK, false);
    assert_eq!(t.retransmit_timeout(peer()), ms(120));
    // A sample below the estimate: AAD 50 - (50-10)/8 = 45, ADEV 35·3/4 + 40/4 = 36.25.
    let id3 = send(&mut t, now + ms(300), peer());
    t.handle_response(now + ms(310), peer(), id3, ReturnCode::OK, false);
    assert_eq!(t.retransmit_timeout(peer()), ms(45) + ms(72) + ms(1) / 2);
    // With the default floor, fast answers never go below 200 ms.
    let mut d = Transactions::new(Config::default(), 1);
    let id4 = send(&mut d, now, peer());
    d.handle_response(now + ms(1), peer(), id4, ReturnCode::OK, false);
    assert_eq!(d.retransmit_timeout(peer()), ms(200));
    // A duplicate of the response is unmatched and counted.
    assert_eq!(
        t.handle_response(now + ms(50), peer(), id, ReturnCode::OK, false),
        ResponseOutcome::Unmatched
    );
    assert_eq!(t.stats().unmatched_responses, 1);
    assert_eq!(t.stats().final_responses, 3);
    // Plain final responses are not acknowledged (§3.5.6 asks only after a provisional one
    // or an empty `K:`), so nothing is piggy-backed and no `000` goes.
    assert_eq!(t.take_response_acks(peer()), vec![]);
    assert!(run_until(&mut t, now, now + secs(60)).is_empty());
}

#[test]
fn each_peer_has_its_own_estimate_and_slow_ones_raise_it_up_to_the_cap() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = send(&mut t, now, peer());
    t.handle_response(now + ms(190), peer(), id, ReturnCode::OK, false);
    // 190 + 2·95 = 380, for this peer only.
    assert_eq!(t.retransmit_timeout(peer()), ms(380));
    assert_eq!(t.retransmit_timeout(other()), ms(200));
    let id = send(&mut t, now, other());
    t.handle_response(now + ms(150), other(), id, ReturnCode::OK, false);
    assert_eq!(t.retransmit_timeout(other()), ms(300));
    assert_eq!(t.retransmit_timeout(peer()), ms(380));
    // The next command to the slow peer waits its estimate before the first retransmission.
    send(&mut t, now + secs(1), peer());
    assert_eq!(t.poll_timeout(), Some(now + secs(1) + ms(380)));
    // The estimate never exceeds the back-off cap.
    let mut t = Transactions::new(config(|c| c.initial_rtt(secs(4))), 1);
    let id = send(&mut t, now, peer());
    t.handle_response(now + secs(3), peer(), id, ReturnCode::OK, false);
    assert_eq!(t.retransmit_timeout(peer()), secs(4));
}

#[test]
fn karn_no_sample_after_a_retransmission() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = send(&mut t, now, peer());
    run_until(&mut t, now, now + ms(250));
    assert_eq!(t.stats().retransmissions, 1);
    t.handle_response(now + ms(260), peer(), id, ReturnCode::OK, false);
    assert_eq!(t.stats().rtt_samples, 0);
    assert_eq!(t.stats().rtt_samples_skipped, 1);
    assert_eq!(t.retransmit_timeout(peer()), ms(200));
}

#[test]
fn response_from_wrong_address_is_dropped() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = send(&mut t, now, peer());
    assert_eq!(
        t.handle_response(now, other(), id, ReturnCode::OK, false),
        ResponseOutcome::Unmatched
    );
    assert_eq!(t.stats().responses_from_wrong_peer, 1);
    assert_eq!(t.stats().unmatched_responses, 0);
    assert!(t.is_in_flight(id));
    // Still retransmitted, and the right peer's answer still ends it.
    assert_eq!(run_until(&mut t, now, now + ms(200)).len(), 1);
    assert_eq!(
        t.handle_response(now + ms(300), peer(), id, ReturnCode::OK, false),
        ResponseOutcome::Final
    );
}

#[test]
fn provisional_stops_retransmission_and_final_is_acknowledged() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = send(&mut t, now, peer());
    assert_eq!(
        t.handle_response(now + ms(100), peer(), id, ReturnCode::EXECUTING, false),
        ResponseOutcome::Provisional
    );
    // Nothing more is sent before the final response.
    assert!(run_until(&mut t, now, now + ms(5000)).is_empty());
    assert!(t.is_in_flight(id));
    assert_eq!(
        t.handle_response(now + ms(6000), peer(), id, ReturnCode::OK, true),
        ResponseOutcome::Final
    );
    // Karn's rule: a provisional answer makes the delay no sample.
    assert_eq!(t.stats().rtt_samples, 0);
    assert_eq!(t.stats().rtt_samples_skipped, 1);
    // No command goes within ack_delay: a stand-alone 000.
    let sent = run_until(&mut t, now, now + ms(7000));
    assert_eq!(sent, vec![(ms(6100), ack(id))]);
    assert_eq!(
        *t.stats(),
        Stats {
            commands_sent: 1,
            final_responses: 1,
            provisional_responses: 1,
            rtt_samples_skipped: 1,
            response_acks_sent: 1,
            ..Stats::default()
        }
    );
    assert!(t.take_response_acks(peer()).is_empty());
}

#[test]
fn provisional_without_final_times_out_and_a_second_does_not_extend_the_wait() {
    let now = t0();
    let mut t = Transactions::new(config(|c| c.provisional_timeout(secs(5))), 1);
    let id = send(&mut t, now, peer());
    t.handle_response(now + ms(100), peer(), id, ReturnCode::EXECUTING, false);
    assert_eq!(
        t.handle_response(now + secs(3), peer(), id, ReturnCode::EXECUTING, false),
        ResponseOutcome::Provisional
    );
    assert_eq!(t.stats().provisional_responses, 2);
    assert!(run_until(&mut t, now, now + ms(5099)).is_empty());
    assert_eq!(t.poll_event(), None);
    assert_eq!(t.poll_timeout(), Some(now + ms(5100)));
    t.handle_timeout(now + ms(5100));
    assert_eq!(
        events(&mut t),
        [Event::TimedOut {
            peer: peer(),
            transaction: id,
            provisional: true
        }]
    );
    assert_eq!(t.stats().timeouts, 1);
    assert_eq!(t.stats().retransmissions, 0);
    // The final response comes too late: unmatched, and acknowledged as asked.
    assert_eq!(
        t.handle_response(now + secs(6), peer(), id, ReturnCode::OK, true),
        ResponseOutcome::Unmatched
    );
    assert_eq!(t.stats().final_responses, 0);
}

#[test]
fn default_provisional_wait_is_thirty_seconds() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = send(&mut t, now, peer());
    t.handle_response(now, peer(), id, ReturnCode::EXECUTING, false);
    assert!(run_until(&mut t, now, now + ms(29_999)).is_empty());
    assert_eq!(t.poll_event(), None);
    t.handle_timeout(now + secs(30));
    assert!(matches!(
        t.poll_event(),
        Some(Event::TimedOut {
            provisional: true,
            ..
        })
    ));
}

#[test]
fn in_flight_is_counted_per_peer_and_in_total() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    assert_eq!(t.in_flight_total(), 0);
    let a = send(&mut t, now, peer());
    let b = send(&mut t, now, peer());
    let c = send(&mut t, now, other());
    assert_eq!((t.in_flight(peer()), t.in_flight(other())), (2, 1));
    assert_eq!(t.in_flight(third()), 0);
    assert_eq!(t.in_flight_total(), 3);
    assert!(t.is_in_flight(a) && t.is_in_flight(b) && t.is_in_flight(c));
    t.handle_response(now, peer(), a, ReturnCode::OK, false);
    assert_eq!((t.in_flight(peer()), t.in_flight_total()), (1, 2));
    assert!(!t.is_in_flight(a));
    t.handle_response(now, peer(), b, ReturnCode::OK, false);
    assert_eq!((t.in_flight(peer()), t.in_flight_total()), (0, 1));
}

#[test]
fn a_cancelled_command_is_neither_retransmitted_nor_reported() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = send(&mut t, now, peer());
    let kept = send(&mut t, now, peer());
    assert!(t.cancel(id));
    assert!(!t.cancel(id));
    assert!(!t.is_in_flight(id));
    assert_eq!((t.in_flight(peer()), t.in_flight_total()), (1, 1));
    assert!(!t.cancel(TransactionId(12_345)));
    let sent = run_until(&mut t, now, now + secs(60));
    // Only the other command is retransmitted and reported.
    assert_eq!(sent.len(), 7);
    assert!(
        sent.iter()
            .all(|(_, b)| b.starts_with(format!("RQNT {kept} ").as_bytes()))
    );
    assert_eq!(
        events(&mut t),
        [Event::TimedOut {
            peer: peer(),
            transaction: kept,
            provisional: false
        }]
    );
    // Its answer is unmatched; its id can be used again.
    assert_eq!(
        t.handle_response(now, peer(), id, ReturnCode::OK, false),
        ResponseOutcome::Unmatched
    );
    assert_eq!(t.send_command(now, peer(), id, b"x".to_vec()), Ok(()));
}

#[test]
fn allocation_wraps_and_skips_in_flight_ids() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    t.next_id = TransactionId(TransactionId::MAX);
    let a = t.allocate_id();
    assert_eq!(a, TransactionId(TransactionId::MAX));
    t.send_command(now, peer(), TransactionId(1), b"x".to_vec())
        .unwrap();
    t.send_command(now, peer(), TransactionId(2), b"x".to_vec())
        .unwrap();
    assert_eq!(t.allocate_id(), TransactionId(3));
    assert_eq!(t.allocate_id(), TransactionId(4));
    assert_eq!(
        t.send_command(now, peer(), TransactionId(2), b"x".to_vec()),
        Err(SendError::InFlight(TransactionId(2)))
    );
    assert_eq!(t.in_flight(peer()), 2);
    assert_eq!(t.stats().send_refused, 1);
}

#[test]
fn seeded_first_id_is_in_range_and_reproducible() {
    let a = Transactions::new(Config::default(), 42).next_id;
    let b = Transactions::new(Config::default(), 42).next_id;
    assert_eq!(a, b);
    assert!((1..=TransactionId::MAX).contains(&a.0));
    assert_ne!(a, Transactions::new(Config::default(), 43).next_id);
    // Consecutive allocations follow on.
    let mut t = Transactions::new(Config::default(), 42);
    assert_eq!(t.allocate_id(), a);
    assert_eq!(t.allocate_id(), a.next());
}
