//! Settings and counters.

use super::*;

#[test]
fn defaults() {
    let c = Config::default();
    assert_eq!(c.initial_rtt, ms(200));
    assert_eq!(c.deviation_factor, 2);
    assert_eq!(c.min_retransmit_interval, ms(200));
    assert_eq!(c.max_retransmit_interval, secs(4));
    assert_eq!(c.max_retransmissions, 7);
    assert_eq!(c.request_timeout, secs(20));
    assert_eq!(c.long_timer, secs(30));
    assert_eq!(c.pending_timeout, secs(10));
    assert_eq!(c.peer_pending_limit, 8);
    assert_eq!(c.provisional_timer, secs(2));
    assert_eq!(c.pending_limit, 8);
    assert_eq!(c.ack_delay, ms(100));
    assert_eq!(c.max_history_per_peer, 1024);
    assert_eq!(c.max_history, 16_384);
    assert_eq!(c.max_in_flight_per_peer, 1024);
    assert_eq!(c.max_in_flight, 16_384);
    assert_eq!(c.max_peers, 4096);
    assert_eq!(Config::default().validate(), Ok(Config::default()));
    assert_eq!(layer().config(), &Config::default());
    let c = config(|c| c.max_peers(3));
    assert_eq!(Transactions::new(c.clone(), 1).config(), &c);
}

#[test]
fn setters_set() {
    let mut c = Config::default();
    c.initial_rtt(ms(300))
        .unwrap()
        .deviation_factor(4)
        .unwrap()
        .retransmit_interval(ms(100), secs(2))
        .unwrap()
        .max_retransmissions(3)
        .unwrap()
        .timeouts(secs(10), secs(40))
        .unwrap()
        .peer_pending(secs(5), 2)
        .unwrap()
        .provisional(secs(1), 3)
        .unwrap()
        .ack_delay(ms(10))
        .unwrap()
        .max_history(10, 20)
        .unwrap()
        .max_in_flight(5, 6)
        .unwrap()
        .max_peers(7)
        .unwrap();
    let want = Config {
        initial_rtt: ms(300),
        deviation_factor: 4,
        min_retransmit_interval: ms(100),
        max_retransmit_interval: secs(2),
        max_retransmissions: 3,
        request_timeout: secs(10),
        long_timer: secs(40),
        pending_timeout: secs(5),
        peer_pending_limit: 2,
        provisional_timer: secs(1),
        pending_limit: 3,
        ack_delay: ms(10),
        max_history_per_peer: 10,
        max_history: 20,
        max_in_flight_per_peer: 5,
        max_in_flight: 6,
        max_peers: 7,
    };
    assert_eq!(c, want);
}

#[test]
fn bad_values_are_refused_and_change_nothing() {
    let day = secs(24 * 3600);
    type Setter = fn(&mut Config) -> Result<&mut Config, ConfigError>;
    let cases: [(Setter, ConfigError); 20] = [
        (
            |c| c.initial_rtt(Duration::ZERO),
            ConfigError::Zero("initial_rtt"),
        ),
        (
            |c| c.retransmit_interval(Duration::ZERO, secs(4)),
            ConfigError::Zero("min_retransmit_interval"),
        ),
        (|c| c.initial_rtt(ms(199)), ConfigError::IntervalOrder),
        (|c| c.initial_rtt(ms(4001)), ConfigError::IntervalOrder),
        (
            |c| c.retransmit_interval(ms(201), secs(4)),
            ConfigError::IntervalOrder,
        ),
        (
            |c| c.retransmit_interval(ms(100), ms(199)),
            ConfigError::IntervalOrder,
        ),
        (
            |c| c.timeouts(Duration::ZERO, secs(30)),
            ConfigError::Zero("request_timeout"),
        ),
        (|c| c.timeouts(secs(30), secs(30)), ConfigError::TimerOrder),
        (
            |c| c.timeouts(secs(20), secs(24 * 3600 + 1)),
            ConfigError::TooLong("long_timer"),
        ),
        (
            |c| c.peer_pending(Duration::ZERO, 1),
            ConfigError::Zero("pending_timeout"),
        ),
        (
            |c| c.peer_pending(secs(24 * 3600 + 1), 1),
            ConfigError::TooLong("pending_timeout"),
        ),
        (
            |c| c.provisional(Duration::ZERO, 1),
            ConfigError::Zero("provisional_timer"),
        ),
        (
            |c| c.ack_delay(secs(24 * 3600 + 1)),
            ConfigError::TooLong("ack_delay"),
        ),
        (
            |c| c.retransmit_interval(ms(200), secs(24 * 3600 + 1)),
            ConfigError::TooLong("max_retransmit_interval"),
        ),
        (
            |c| c.max_history(0, 10),
            ConfigError::Zero("max_history_per_peer"),
        ),
        (
            |c| c.max_history(11, 10),
            ConfigError::PerPeerOrder("max_history"),
        ),
        (
            |c| c.max_in_flight(0, 10),
            ConfigError::Zero("max_in_flight_per_peer"),
        ),
        (
            |c| c.max_in_flight(11, 10),
            ConfigError::PerPeerOrder("max_in_flight"),
        ),
        (|c| c.max_peers(0), ConfigError::Zero("max_peers")),
        (
            |c| c.timeouts(secs(24 * 3600 + 1), secs(24 * 3600 + 2)),
            ConfigError::TooLong("request_timeout"),
        ),
    ];
    for (set, e) in cases {
        let mut c = Config::default();
        assert_eq!(set(&mut c).map(|c| c.clone()), Err(e.clone()));
        assert_eq!(c, Config::default(), "{e}");
    }
    // The bounds themselves are accepted.
    let mut c = Config::default();
    c.timeouts(day - secs(1), day)
        .unwrap()
        .peer_pending(day, 0)
        .unwrap()
        .provisional(day, 0)
        .unwrap()
        .ack_delay(Duration::ZERO)
        .unwrap()
        .retransmit_interval(ms(200), ms(200))
        .unwrap()
        .max_history(10, 10)
        .unwrap()
        .max_in_flight(10, 10)
        .unwrap()
        .deviation_factor(0)
        .unwrap()
        .max_retransmissions(0)
        .unwrap();
    let mut c = Config::default();
    c.retransmit_interval(ms(200), day).unwrap();
    c.initial_rtt(day).unwrap();
}

#[test]
fn no_retransmission_with_a_maximum_of_zero() {
    let start = t0();
    let c = config(|c| c.max_retransmissions(0));
    let mut t = Transactions::new(c, 1);
    send(&mut t, start, peer(), 1);
    assert!(run_until(&mut t, start, start + secs(60)).is_empty());
    assert_eq!(events(&mut t).len(), 1);
}

#[test]
fn counters_name_every_field_once() {
    let start = t0();
    let mut t = layer();
    send(&mut t, start, peer(), 1);
    t.handle_timeout(start + ms(200));
    t.handle_reply(start + ms(300), peer(), id(1));
    let counters: Vec<(&str, u64)> = t.stats().counters().collect();
    assert_eq!(counters.len(), 31);
    let mut names: Vec<&str> = counters.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), 31);
    let get = |name: &str| counters.iter().find(|(n, _)| *n == name).unwrap().1;
    assert_eq!(get("requests_sent"), 1);
    assert_eq!(get("retransmissions"), 1);
    assert_eq!(get("replies"), 1);
    assert_eq!(get("rtt_samples_skipped"), 1);
    assert_eq!(counters.iter().map(|(_, v)| v).sum::<u64>(), 4);
}

#[test]
fn each_counter_has_its_own_name() {
    // Every field set to a distinct value comes out under its own name.
    let mut s = Stats::default();
    let fields: [&mut u64; 31] = [
        &mut s.requests_sent,
        &mut s.retransmissions,
        &mut s.timeouts,
        &mut s.send_refused,
        &mut s.cancelled,
        &mut s.replies,
        &mut s.unmatched_replies,
        &mut s.from_wrong_peer,
        &mut s.pendings_received,
        &mut s.unmatched_pendings,
        &mut s.pending_limit_exceeded,
        &mut s.rtt_samples,
        &mut s.rtt_samples_skipped,
        &mut s.requests_received,
        &mut s.duplicates_executing,
        &mut s.pendings_due,
        &mut s.replies_replayed,
        &mut s.duplicates_dropped,
        &mut s.replies_sent,
        &mut s.replies_uncached,
        &mut s.reply_retransmissions,
        &mut s.replies_unacknowledged,
        &mut s.history_evictions,
        &mut s.history_expired,
        &mut s.history_refused,
        &mut s.acks_received,
        &mut s.acks_unmatched,
        &mut s.acks_due,
        &mut s.acks_piggybacked,
        &mut s.acks_dropped,
        &mut s.raw_sent,
    ];
    for (i, f) in fields.into_iter().enumerate() {
        *f = i as u64 + 1;
    }
    let values: Vec<u64> = s.counters().map(|(_, v)| v).collect();
    assert_eq!(values, (1..=31).collect::<Vec<u64>>());
}
