//! Unit tests of the transaction layer: §4.3 timers, Karn's rule, §3.5.6 provisional responses
//! and acknowledgements, at-most-once execution with bounded history.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::mgcp::wire;

fn peer() -> SocketAddr {
    "192.0.2.10:2427".parse().unwrap()
}

fn other() -> SocketAddr {
    "192.0.2.11:2427".parse().unwrap()
}

/// The tests' time origin; only differences matter.
#[allow(clippy::disallowed_methods)] // a base instant for virtual time, never a measurement
fn t0() -> Instant {
    Instant::now()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn drain(t: &mut Transactions) -> Vec<Transmit> {
    std::iter::from_fn(|| t.poll_transmit()).collect()
}

/// Runs every timer up to `until`, returning the instants at which datagrams went out.
fn run_until(t: &mut Transactions, start: Instant, until: Instant) -> Vec<(Duration, Vec<u8>)> {
    let mut sent = Vec::new();
    while let Some(at) = t.poll_timeout() {
        if at > until {
            break;
        }
        t.handle_timeout(at);
        for tx in drain(t) {
            sent.push((at - start, tx.contents));
        }
    }
    sent
}

#[test]
fn retransmits_with_exponential_back_off_then_times_out() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = t.allocate_id();
    t.send_command(now, peer(), id, b"RQNT 1 aaln/1@gw MGCP 1.0\r\n".to_vec())
        .unwrap();
    assert_eq!(drain(&mut t).len(), 1);
    let sent = run_until(&mut t, now, now + Duration::from_secs(60));
    let times: Vec<Duration> = sent.iter().map(|(at, _)| *at).collect();
    // 200 ms, doubling, capped at 4 s: 0.2 0.6 1.4 3.0 6.2 10.2 14.2 (Max2 = 7).
    assert_eq!(
        times,
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
    assert_eq!(t.stats().retransmissions, 7);
    assert_eq!(t.stats().timeouts, 1);
    assert_eq!(t.in_flight(peer()), 0);
    assert_eq!(t.poll_timeout(), None);
}

#[test]
fn t_max_bounds_the_retransmissions() {
    let now = t0();
    let mut cfg = Config::default();
    cfg.max_retransmissions(100)
        .unwrap()
        .t_max(ms(5000))
        .unwrap();
    let mut t = Transactions::new(cfg, 1);
    let id = t.allocate_id();
    t.send_command(now, peer(), id, b"x".to_vec()).unwrap();
    drain(&mut t);
    let sent = run_until(&mut t, now, now + Duration::from_secs(60));
    let times: Vec<Duration> = sent.iter().map(|(at, _)| *at).collect();
    // 0.2 0.6 1.4 3.0, then the next would be 6.2 > T-MAX: given up at 5.0.
    assert_eq!(times, [200, 600, 1400, 3000].map(ms).to_vec());
    assert!(matches!(t.poll_event(), Some(Event::TimedOut { .. })));
}

#[test]
fn final_response_stops_retransmission_and_samples_delay() {
    let now = t0();
    let mut cfg = Config::default();
    cfg.min_retransmit_interval(ms(10)).unwrap();
    let mut t = Transactions::new(cfg, 1);
    let id = t.allocate_id();
    t.send_command(now, peer(), id, b"x".to_vec()).unwrap();
    drain(&mut t);
    assert_eq!(
        t.handle_response(now + ms(40), peer(), id, ReturnCode::OK, false),
        ResponseOutcome::Final
    );
    assert_eq!(t.stats().rtt_samples, 1);
    // The first sample replaces the prior: AAD 40, ADEV 20: 40 + 2·20 = 80.
    assert_eq!(t.retransmit_timeout(peer()), ms(80));
    // The only timer left is none (no due ack): the command is over.
    assert_eq!(t.poll_timeout(), None);
    // A second sample is smoothed: AAD 40 + (120-40)/8 = 50, ADEV 20·3/4 + 80/4 = 35.
    let id2 = t.allocate_id();
    t.send_command(now + ms(100), peer(), id2, b"y".to_vec())
        .unwrap();
    t.handle_response(now + ms(220), peer(), id2, ReturnCode::OK, false);
    assert_eq!(t.retransmit_timeout(peer()), ms(120));
    // With the default floor, fast answers never go below 200 ms.
    let mut d = Transactions::new(Config::default(), 1);
    let id3 = d.allocate_id();
    d.send_command(now, peer(), id3, b"z".to_vec()).unwrap();
    d.handle_response(now + ms(1), peer(), id3, ReturnCode::OK, false);
    assert_eq!(d.retransmit_timeout(peer()), ms(200));
    // A duplicate of the response is unmatched and counted.
    assert_eq!(
        t.handle_response(now + ms(50), peer(), id, ReturnCode::OK, false),
        ResponseOutcome::Unmatched
    );
    assert_eq!(t.stats().unmatched_responses, 1);
    // Plain final responses are not acknowledged (§3.5.6 asks only after a provisional one
    // or an empty `K:`), so nothing is piggy-backed.
    assert_eq!(t.take_response_acks(peer()), vec![]);
    assert!(t.take_response_acks(peer()).is_empty());
}

#[test]
fn karn_no_sample_after_a_retransmission() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = t.allocate_id();
    t.send_command(now, peer(), id, b"x".to_vec()).unwrap();
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
    let id = t.allocate_id();
    t.send_command(now, peer(), id, b"x".to_vec()).unwrap();
    assert_eq!(
        t.handle_response(now, other(), id, ReturnCode::OK, false),
        ResponseOutcome::Unmatched
    );
    assert_eq!(t.stats().responses_from_wrong_peer, 1);
    assert!(t.is_in_flight(id));
}

#[test]
fn provisional_stops_retransmission_and_final_is_acknowledged() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = t.allocate_id();
    t.send_command(now, peer(), id, b"x".to_vec()).unwrap();
    drain(&mut t);
    assert_eq!(
        t.handle_response(now + ms(100), peer(), id, ReturnCode::EXECUTING, false),
        ResponseOutcome::Provisional
    );
    // Nothing more is sent before the final response.
    assert!(run_until(&mut t, now, now + ms(5000)).is_empty());
    assert_eq!(
        t.handle_response(now + ms(6000), peer(), id, ReturnCode::OK, true),
        ResponseOutcome::Final
    );
    assert_eq!(t.stats().rtt_samples, 0);
    // No command goes within ack_delay: a stand-alone 000.
    let sent = run_until(&mut t, now, now + ms(7000));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].0, ms(6100));
    assert_eq!(sent[0].1, format!("000 {id} OK\r\n").into_bytes());
    assert_eq!(t.stats().response_acks_sent, 1);
    assert!(t.take_response_acks(peer()).is_empty());
}

#[test]
fn due_ack_rides_on_the_next_command() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = t.allocate_id();
    t.send_command(now, peer(), id, b"x".to_vec()).unwrap();
    t.handle_response(now, peer(), id, ReturnCode::EXECUTING, false);
    t.handle_response(now + ms(10), peer(), id, ReturnCode::OK, false);
    let acks = t.take_response_acks(peer());
    assert_eq!(acks.len(), 1);
    let next = t.allocate_id();
    t.send_command(now + ms(20), peer(), next, b"y".to_vec())
        .unwrap();
    drain(&mut t);
    // No 000 follows: only the new command's retransmission timer is left.
    assert_eq!(t.poll_timeout(), Some(now + ms(220)));
    assert_eq!(t.stats().response_acks_sent, 0);
    assert_eq!(t.stats().acks_piggybacked, 1);
}

#[test]
fn provisional_without_final_times_out() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = t.allocate_id();
    t.send_command(now, peer(), id, b"x".to_vec()).unwrap();
    t.handle_response(now, peer(), id, ReturnCode::EXECUTING, false);
    drain(&mut t);
    assert!(run_until(&mut t, now, now + Duration::from_secs(31)).is_empty());
    assert_eq!(
        t.poll_event(),
        Some(Event::TimedOut {
            peer: peer(),
            transaction: id,
            provisional: true
        })
    );
}

#[test]
fn ack_ranges_fold_consecutive_ids() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let ids: Vec<TransactionId> = (0..5).map(|_| t.allocate_id()).collect();
    for id in &ids {
        t.send_command(now, peer(), *id, b"x".to_vec()).unwrap();
    }
    // Each final response asks to be acknowledged (an empty `K:`).
    for id in [ids[0], ids[1], ids[2], ids[4]] {
        t.handle_response(now, peer(), id, ReturnCode::OK, true);
    }
    let acks = t.take_response_acks(peer());
    let expect_split = ids[0].0 < ids[4].0; // no wrap inside the run
    if expect_split {
        assert_eq!(
            acks,
            vec![
                AckRange {
                    first: ids[0],
                    last: ids[2]
                },
                AckRange {
                    first: ids[4],
                    last: ids[4]
                }
            ]
        );
    }
    assert_eq!(
        acks.iter().map(|r| r.last.0 - r.first.0 + 1).sum::<u32>(),
        4
    );
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
}

#[test]
fn refuses_oversized_and_too_many() {
    let now = t0();
    let mut cfg = Config::default();
    cfg.max_in_flight(1).unwrap();
    let mut t = Transactions::new(cfg, 1);
    assert_eq!(
        t.send_command(now, peer(), TransactionId(5), vec![b'x'; MAX_DATAGRAM + 1]),
        Err(SendError::TooLarge(MAX_DATAGRAM + 1))
    );
    t.send_command(now, peer(), TransactionId(6), b"x".to_vec())
        .unwrap();
    assert_eq!(
        t.send_command(now, peer(), TransactionId(7), b"x".to_vec()),
        Err(SendError::TooManyInFlight)
    );
}

#[test]
fn duplicate_commands_get_100_then_the_cached_response() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let id = TransactionId(77);
    assert_eq!(t.handle_command(now, peer(), id, &[]), CommandOutcome::New);
    assert_eq!(
        t.handle_command(now + ms(200), peer(), id, &[]),
        CommandOutcome::Duplicate
    );
    assert_eq!(drain(&mut t)[0].contents, b"100 77 Executing\r\n".to_vec());
    assert!(t.provisional_sent(peer(), id));
    t.send_response(now + ms(300), peer(), id, b"200 77 OK\r\nK:\r\n".to_vec());
    assert_eq!(drain(&mut t).len(), 1);
    assert_eq!(
        t.handle_command(now + ms(400), peer(), id, &[]),
        CommandOutcome::Duplicate
    );
    assert_eq!(drain(&mut t)[0].contents, b"200 77 OK\r\nK:\r\n".to_vec());
    assert_eq!(t.stats().provisional_sent, 1);
    assert_eq!(t.stats().responses_replayed, 1);
    assert_eq!(t.stats().commands_received, 1);
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
    assert_eq!(
        sent.iter().map(|(at, _)| *at).collect::<Vec<_>>(),
        vec![ms(200), ms(600)]
    );
    assert_eq!(
        t.handle_response(now + ms(700), peer(), id, ReturnCode::ACK, false),
        ResponseOutcome::Acknowledged
    );
    assert!(run_until(&mut t, now, now + ms(20_000)).is_empty());
    assert_eq!(t.stats().response_retransmissions, 2);
    assert_eq!(t.stats().acks_received, 1);
    // A duplicate of the 000 releases nothing and is counted.
    t.handle_response(now + ms(20_001), peer(), id, ReturnCode::ACK, false);
    assert_eq!(t.stats().acks_received, 1);
    assert_eq!(t.stats().acks_unmatched, 1);
}

#[test]
fn k_releases_and_late_duplicates_are_dropped_not_executed() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    for n in 10..15 {
        t.handle_command(now, peer(), TransactionId(n), &[]);
        t.send_response(now, peer(), TransactionId(n), b"200".to_vec());
    }
    drain(&mut t);
    let k = [AckRange {
        first: TransactionId(10),
        last: TransactionId(13),
    }];
    assert_eq!(
        t.handle_command(now, peer(), TransactionId(20), &k),
        CommandOutcome::New
    );
    assert_eq!(t.stats().acks_received, 4);
    assert_eq!(
        t.handle_command(now, peer(), TransactionId(11), &[]),
        CommandOutcome::Duplicate
    );
    assert!(drain(&mut t).is_empty());
    assert_eq!(t.stats().duplicates_after_ack, 1);
    // 14 was not acknowledged: replayed.
    t.handle_command(now, peer(), TransactionId(14), &[]);
    assert_eq!(drain(&mut t).len(), 1);
    // A huge range is bounded by the history, not by its width.
    let wide = [AckRange {
        first: TransactionId(1),
        last: TransactionId(TransactionId::MAX),
    }];
    t.handle_command(now, peer(), TransactionId(21), &wide);
    assert_eq!(t.stats().acks_received, 5);
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
    assert_eq!(
        t.handle_command(now + ms(30_020), peer(), TransactionId(1), &[]),
        CommandOutcome::New
    );
}

#[test]
fn history_is_bounded_per_peer_and_in_total() {
    let now = t0();
    let mut cfg = Config::default();
    cfg.max_history(3, 4).unwrap();
    let mut t = Transactions::new(cfg, 1);
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
}

#[test]
fn config_setters_validate() {
    let mut c = Config::default();
    assert_eq!(
        c.t_hist(Duration::ZERO).unwrap_err(),
        ConfigError::Zero("t_hist")
    );
    assert_eq!(
        c.initial_rtt(Duration::from_secs(5)).unwrap_err(),
        ConfigError::IntervalOrder
    );
    assert_eq!(c.max_history(10, 5).unwrap_err(), ConfigError::HistoryOrder);
    assert_eq!(c, Config::default());
}

#[test]
fn piggyback_packs_per_destination_within_both_bounds() {
    let msg = |to: SocketAddr, n: usize| Transmit {
        destination: to,
        contents: format!("200 {n} OK\r\n").into_bytes(),
    };
    // Interleaved destinations: each keeps its own order; the count bound splits.
    let input = (0..7).map(|n| msg(if n % 2 == 0 { peer() } else { other() }, n));
    let out = piggyback(input, 3, MAX_DATAGRAM);
    let texts: Vec<(SocketAddr, usize, String)> = out
        .into_iter()
        .map(|(t, n)| (t.destination, n, String::from_utf8(t.contents).unwrap()))
        .collect();
    assert_eq!(
        texts,
        vec![
            (
                peer(),
                3,
                "200 0 OK\r\n.\r\n200 2 OK\r\n.\r\n200 4 OK\r\n".into()
            ),
            (
                other(),
                3,
                "200 1 OK\r\n.\r\n200 3 OK\r\n.\r\n200 5 OK\r\n".into()
            ),
            (peer(), 1, "200 6 OK\r\n".into()),
        ]
    );
    // The byte bound: two 11-byte messages and a separator fit in 25, not three.
    let out = piggyback((0..3).map(|n| msg(peer(), n + 10)), 16, 25);
    assert_eq!(out.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [2, 1]);
    for (t, n) in &out {
        assert_eq!(wire::parse(&t.contents).unwrap().len(), *n);
    }
    // A message larger than the bound still goes, alone.
    let big = Transmit {
        destination: peer(),
        contents: vec![b'x'; 40],
    };
    let out = piggyback([msg(peer(), 1), big, msg(peer(), 2)], 16, 25);
    assert_eq!(out.iter().map(|(_, n)| *n).collect::<Vec<_>>(), [1, 1, 1]);
}

#[test]
fn many_due_acks_split_into_parseable_datagrams() {
    let now = t0();
    let mut t = Transactions::new(Config::default(), 1);
    let ids: Vec<TransactionId> = (0..40).map(|_| t.allocate_id()).collect();
    for &id in &ids {
        t.send_command(now, peer(), id, b"x".to_vec()).unwrap();
        t.handle_response(now, peer(), id, ReturnCode::EXECUTING, false);
        t.handle_response(now, peer(), id, ReturnCode::OK, false);
    }
    drain(&mut t);
    let sent = run_until(&mut t, now, now + ms(1000));
    // 40 acknowledgements: 16 + 16 + 8, each datagram within the parser's message bound.
    let counts: Vec<usize> = sent
        .iter()
        .map(|(_, d)| wire::parse(d).unwrap().len())
        .collect();
    assert_eq!(counts, [16, 16, 8]);
    assert_eq!(t.stats().response_acks_sent, 40);
}
