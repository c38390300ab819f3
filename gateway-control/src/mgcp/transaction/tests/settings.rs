//! Settings (each shown by the behaviour it changes), the bound on remembered peers, and the
//! exported counters.

use super::*;

#[test]
fn config_setters_validate() {
    let mut c = Config::default();
    for (result, name) in [
        (
            c.clone().initial_rtt(Duration::ZERO).cloned(),
            "initial_rtt",
        ),
        (
            c.clone().min_retransmit_interval(Duration::ZERO).cloned(),
            "min_retransmit_interval",
        ),
        (c.clone().t_max(Duration::ZERO).cloned(), "t_max"),
        (c.clone().t_hist(Duration::ZERO).cloned(), "t_hist"),
        (
            c.clone().provisional_timeout(Duration::ZERO).cloned(),
            "provisional_timeout",
        ),
        (c.clone().max_history(0, 0).cloned(), "max_history_per_peer"),
        (c.clone().max_in_flight(0).cloned(), "max_in_flight"),
        (c.clone().max_peers(0).cloned(), "max_peers"),
    ] {
        assert_eq!(result, Err(ConfigError::Zero(name)));
    }
    assert_eq!(
        c.initial_rtt(secs(5)).unwrap_err(),
        ConfigError::IntervalOrder
    );
    assert_eq!(
        c.min_retransmit_interval(ms(201)).unwrap_err(),
        ConfigError::IntervalOrder
    );
    assert_eq!(
        c.max_retransmit_interval(ms(199)).unwrap_err(),
        ConfigError::IntervalOrder
    );
    assert_eq!(c.max_history(10, 5).unwrap_err(), ConfigError::HistoryOrder);
    // A refused value changes nothing.
    assert_eq!(c, Config::default());
    // Bounds may be equal.
    c.max_retransmit_interval(ms(200))
        .unwrap()
        .max_history(5, 5)
        .unwrap();
    assert_eq!(c.max_retransmit_interval, ms(200));
    assert_eq!((c.max_history_per_peer, c.max_history), (5, 5));
    // Zero is fine where it means something: no retransmission, no ack delay, no deviation.
    c.max_retransmissions(0)
        .unwrap()
        .ack_delay(Duration::ZERO)
        .unwrap()
        .deviation_factor(0)
        .unwrap();
    let t = Transactions::new(c.clone(), 1);
    assert_eq!(t.config(), &c);
}

#[test]
fn initial_rtt_sets_the_first_retransmission() {
    let now = t0();
    let mut t = Transactions::new(config(|c| c.initial_rtt(ms(500))), 1);
    send(&mut t, now, peer());
    let sent = run_until(&mut t, now, now + ms(1600));
    assert_eq!(times(&sent), [ms(500), ms(1500)]);
    assert_eq!(t.retransmit_timeout(peer()), ms(500));
}

#[test]
fn deviation_factor_weights_the_delay_variation() {
    let now = t0();
    let cfg = config(|c| c.min_retransmit_interval(ms(10))?.deviation_factor(4));
    let mut t = Transactions::new(cfg, 1);
    let id = send(&mut t, now, peer());
    t.handle_response(now + ms(40), peer(), id, ReturnCode::OK, false);
    // 40 + 4·20.
    assert_eq!(t.retransmit_timeout(peer()), ms(120));
}

#[test]
fn max_retransmit_interval_caps_the_back_off() {
    let now = t0();
    let mut t = Transactions::new(config(|c| c.max_retransmit_interval(secs(1))), 1);
    send(&mut t, now, peer());
    let sent = run_until(&mut t, now, now + secs(60));
    assert_eq!(
        times(&sent),
        [200, 600, 1400, 2400, 3400, 4400, 5400].map(ms).to_vec()
    );
}

#[test]
fn max_retransmissions_sets_how_many_go() {
    let now = t0();
    let mut t = Transactions::new(config(|c| c.max_retransmissions(2)), 1);
    let id = send(&mut t, now, peer());
    let sent = run_until(&mut t, now, now + secs(60));
    assert_eq!(times(&sent), [ms(200), ms(600)]);
    assert!(
        matches!(events(&mut t)[..], [Event::TimedOut { transaction, .. }] if transaction == id)
    );
    // None at all: given up after the first interval.
    let mut t = Transactions::new(config(|c| c.max_retransmissions(0)), 1);
    send(&mut t, now, peer());
    assert!(run_until(&mut t, now, now + secs(60)).is_empty());
    assert_eq!(t.stats().timeouts, 1);
    // The same bound holds for final responses retransmitted after a provisional one.
    let mut t = Transactions::new(config(|c| c.max_retransmissions(2)), 1);
    t.handle_command(now, peer(), TransactionId(4), &[]);
    t.handle_command(now, peer(), TransactionId(4), &[]);
    t.send_response(now, peer(), TransactionId(4), b"200 4\r\nK:\r\n".to_vec());
    drain(&mut t);
    assert_eq!(
        times(&run_until(&mut t, now, now + secs(29))),
        [ms(200), ms(600)]
    );
}

#[test]
fn t_hist_sets_how_long_answers_are_remembered() {
    let now = t0();
    let mut t = Transactions::new(config(|c| c.t_hist(secs(5))), 1);
    t.handle_command(now, peer(), TransactionId(1), &[]);
    t.send_response(
        now + secs(1),
        peer(),
        TransactionId(1),
        b"200 1\r\n".to_vec(),
    );
    drain(&mut t);
    assert_eq!(t.poll_timeout(), Some(now + secs(6)));
    t.handle_timeout(now + secs(6));
    assert_eq!(t.stats().history_expired, 1);
}

#[test]
fn idle_peers_make_room_for_new_ones() {
    let now = t0();
    let cfg = config(|c| c.min_retransmit_interval(ms(10))?.max_peers(1));
    let mut t = Transactions::new(cfg, 1);
    let id = send(&mut t, now, peer());
    t.handle_response(now + ms(40), peer(), id, ReturnCode::OK, false);
    assert_eq!(t.retransmit_timeout(peer()), ms(80));
    // The first peer holds only an estimate: it is forgotten for the second.
    let id = send(&mut t, now, other());
    t.handle_response(now + ms(60), other(), id, ReturnCode::OK, false);
    assert_eq!(t.retransmit_timeout(other()), ms(120));
    assert_eq!(t.retransmit_timeout(peer()), ms(200));
    assert_eq!(t.stats().rtt_samples, 2);
}

/// With room for one peer that `busy` keeps busy, a second peer is served without state:
/// no delay estimate, no history, no pending acknowledgements.
fn second_peer_is_served_without_state(busy: impl FnOnce(&mut Transactions, Instant)) {
    let now = t0();
    let cfg = config(|c| c.min_retransmit_interval(ms(10))?.max_peers(1));
    let mut t = Transactions::new(cfg, 1);
    busy(&mut t, now);
    // Its commands are executed, but not remembered: a duplicate would be executed again.
    let id = TransactionId(500);
    assert_eq!(t.handle_command(now, other(), id, &[]), CommandOutcome::New);
    assert_eq!(t.stats().history_refused, 1);
    t.send_response(now, other(), id, b"200 500\r\n".to_vec());
    assert_eq!(t.handle_command(now, other(), id, &[]), CommandOutcome::New);
    // Commands to it are retransmitted on the initial timer, and its answers are no sample.
    let id = send(&mut t, now, other());
    assert_eq!(
        t.handle_response(now + ms(40), other(), id, ReturnCode::OK, false),
        ResponseOutcome::Final
    );
    assert_eq!(t.retransmit_timeout(other()), ms(200));
    assert_eq!(t.stats().rtt_samples, 0);
    // An acknowledgement it asks for is dropped and counted.
    let id = send(&mut t, now, other());
    t.handle_response(now, other(), id, ReturnCode::OK, true);
    assert_eq!(t.stats().acks_dropped, 1);
    assert_eq!(t.take_response_acks(other()), vec![]);
}

#[test]
fn a_peer_with_a_command_in_flight_keeps_its_place() {
    second_peer_is_served_without_state(|t, now| {
        send(t, now, peer());
    });
}

#[test]
fn a_peer_with_remembered_commands_keeps_its_place() {
    second_peer_is_served_without_state(|t, now| {
        t.handle_command(now, peer(), TransactionId(1), &[]);
    });
}

#[test]
fn a_peer_owed_an_acknowledgement_keeps_its_place() {
    second_peer_is_served_without_state(|t, now| {
        let id = send(t, now, peer());
        t.handle_response(now, peer(), id, ReturnCode::EXECUTING, false);
        t.handle_response(now, peer(), id, ReturnCode::OK, false);
        assert_eq!(t.in_flight(peer()), 0);
    });
}

#[test]
fn counters_are_exported_by_name_in_a_fixed_order() {
    let s = Stats {
        commands_sent: 1,
        retransmissions: 2,
        timeouts: 3,
        send_refused: 4,
        final_responses: 5,
        provisional_responses: 6,
        unmatched_responses: 7,
        responses_from_wrong_peer: 8,
        rtt_samples: 9,
        rtt_samples_skipped: 10,
        commands_received: 11,
        provisional_sent: 12,
        responses_replayed: 13,
        duplicates_after_ack: 14,
        responses_sent: 15,
        response_retransmissions: 16,
        history_evictions: 17,
        history_expired: 18,
        history_refused: 19,
        acks_received: 20,
        acks_unmatched: 99,
        response_acks_sent: 21,
        acks_piggybacked: 22,
        acks_dropped: 23,
    };
    let names = [
        "commands_sent",
        "retransmissions",
        "timeouts",
        "send_refused",
        "final_responses",
        "provisional_responses",
        "unmatched_responses",
        "responses_from_wrong_peer",
        "rtt_samples",
        "rtt_samples_skipped",
        "commands_received",
        "provisional_sent",
        "responses_replayed",
        "duplicates_after_ack",
        "responses_sent",
        "response_retransmissions",
        "history_evictions",
        "history_expired",
        "history_refused",
        "acks_received",
        "response_acks_sent",
        "acks_piggybacked",
        "acks_dropped",
    ];
    let expected: Vec<(&str, u64)> = names.iter().copied().zip(1..).collect();
    assert_eq!(s.counters().collect::<Vec<_>>(), expected);
    let prefixed: Vec<(String, u64)> = s
        .prefixed_counters()
        .iter()
        .map(|(n, v)| (n.to_string(), *v))
        .collect();
    let expected: Vec<(String, u64)> = expected
        .iter()
        .map(|(n, v)| (format!("tx_{n}"), *v))
        .collect();
    assert_eq!(prefixed, expected);
}
