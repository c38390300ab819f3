//! The call agent's settings: every setter takes effect, and every bound is checked at its edge
//! (the last accepted value and the first refused one).

use std::time::Duration;

use super::*;
use crate::mgcp::transaction;
use crate::mgcp::{ConfigError, MAX_GATEWAYS, MAX_LINES_PER_GATEWAY};

fn gateway(name: &str, port: u16, lines: &[&str]) -> GatewayConfig {
    GatewayConfig {
        id: GatewayId::new(name),
        address: format!("192.0.2.1:{port}").parse().unwrap(),
        domain: "gw".into(),
        lines: lines.iter().map(|l| (*l).to_owned()).collect(),
    }
}

/// `config` as the call agent sees it: accepted or refused.
fn check(config: Config) -> Result<(), ConfigError> {
    CallAgent::new(config, t0()).map(|_| ())
}

#[test]
fn every_setter_takes_effect() {
    let mut c = Config::default();
    let mut tx = transaction::Config::default();
    tx.max_retransmissions(3).unwrap();
    c.gateway(gateway("a", 1, &["aaln/1"]))
        .unwrap()
        .notified_entity("ca@[192.0.2.9]:2727")
        .unwrap()
        .transaction(tx.clone())
        .unwrap()
        .max_outstanding(5)
        .unwrap()
        .max_send_rate(Some(50))
        .unwrap()
        .max_queued(77)
        .unwrap()
        .probe_interval(ms(300), Duration::from_secs(9))
        .unwrap()
        .max_restart_delay(Duration::from_secs(12))
        .unwrap()
        .restart_check_timeout(ms(700))
        .unwrap()
        .max_arm_failures(6)
        .unwrap()
        .arm_retry_interval(Duration::from_secs(8))
        .unwrap()
        .piggyback(false)
        .unwrap()
        .rng_seed(99)
        .unwrap();
    let expected = Config {
        gateways: vec![gateway("a", 1, &["aaln/1"])],
        notified_entity: "ca@[192.0.2.9]:2727".into(),
        transaction: tx,
        max_outstanding: 5,
        max_send_rate: Some(50),
        max_queued: 77,
        probe_interval: ms(300),
        max_probe_interval: Duration::from_secs(9),
        max_restart_delay: Duration::from_secs(12),
        restart_check_timeout: ms(700),
        max_arm_failures: 6,
        arm_retry_interval: Duration::from_secs(8),
        rng_seed: 99,
        piggyback: false,
    };
    assert_eq!(c, expected);
    // The call agent keeps what it was given.
    let agent = CallAgent::new(c.clone(), t0()).unwrap();
    assert_eq!(agent.config(), &c);
}

#[test]
fn a_refused_setting_leaves_the_config_as_it_was() {
    let mut c = Config::default();
    c.max_outstanding(4).unwrap();
    let before = c.clone();
    assert_eq!(
        c.max_outstanding(0),
        Err(ConfigError::Zero("max_outstanding"))
    );
    assert_eq!(c, before);
}

#[test]
fn zero_counts_and_durations_are_refused() {
    let mut c = Config::default();
    assert_eq!(
        c.arm_retry_interval(Duration::ZERO).unwrap_err(),
        ConfigError::Zero("arm_retry_interval")
    );
    assert_eq!(
        c.restart_check_timeout(Duration::ZERO).unwrap_err(),
        ConfigError::Zero("restart_check_timeout")
    );
    assert_eq!(
        c.max_queued(0).unwrap_err(),
        ConfigError::Zero("max_queued")
    );
    assert_eq!(
        c.max_send_rate(Some(0)).unwrap_err(),
        ConfigError::Zero("max_send_rate")
    );
    c.max_send_rate(None)
        .unwrap()
        .max_send_rate(Some(1))
        .unwrap();
    assert_eq!(
        c.probe_interval(Duration::ZERO, Duration::from_secs(1))
            .unwrap_err(),
        ConfigError::Zero("probe_interval")
    );
    // The cap may equal the first interval, not be below it.
    c.probe_interval(Duration::from_secs(2), Duration::from_secs(2))
        .unwrap();
    assert_eq!(
        c.probe_interval(Duration::from_secs(2), ms(1999))
            .unwrap_err(),
        ConfigError::Zero("probe_interval")
    );
    assert_eq!(c, {
        let mut d = Config::default();
        d.max_send_rate(Some(1))
            .unwrap()
            .probe_interval(Duration::from_secs(2), Duration::from_secs(2))
            .unwrap();
        d
    });
}

#[test]
fn the_notified_entity_is_one_word_of_at_most_255_bytes() {
    let mut c = Config::default();
    assert_eq!(
        c.notified_entity("").unwrap_err(),
        ConfigError::BadNotifiedEntity
    );
    assert_eq!(
        c.notified_entity("ca@host\t").unwrap_err(),
        ConfigError::BadNotifiedEntity
    );
    let longest = format!("ca@{}", "h".repeat(252));
    c.notified_entity(&longest).unwrap();
    assert_eq!(
        c.notified_entity(&format!("{longest}h")).unwrap_err(),
        ConfigError::BadNotifiedEntity
    );
    assert_eq!(c.notified_entity, longest);
}

#[test]
fn a_domain_is_one_word_of_at_most_255_bytes() {
    let with_domain = |domain: String| GatewayConfig {
        domain,
        ..gateway("a", 1, &["aaln/1"])
    };
    let mut c = Config::default();
    for bad in [String::new(), "gw 1".into(), "h".repeat(256)] {
        assert_eq!(
            c.gateway(with_domain(bad)).unwrap_err(),
            ConfigError::BadDomain(GatewayId::new("a"))
        );
    }
    c.gateway(with_domain("h".repeat(255))).unwrap();
    assert_eq!(c.gateways.len(), 1);
}

#[test]
fn a_line_name_is_one_word_of_at_most_255_bytes_without_wildcards() {
    let mut c = Config::default();
    let longest = "l".repeat(255);
    let too_long = "l".repeat(256);
    for bad in ["aaln/$", "aaln/\t1", too_long.as_str()] {
        assert_eq!(
            c.gateway(gateway("a", 1, &[bad])).unwrap_err(),
            ConfigError::BadLine {
                gateway: GatewayId::new("a"),
                line: bad.to_owned()
            }
        );
    }
    // Names that differ only in case repeat; other names do not.
    c.gateway(gateway("a", 1, &[&longest, "aaln/1", "aaln/2"]))
        .unwrap();
    assert_eq!(c.gateways.len(), 1);
}

#[test]
fn at_most_max_lines_per_gateway() {
    let names: Vec<String> = (0..=MAX_LINES_PER_GATEWAY)
        .map(|n| format!("aaln/{n}"))
        .collect();
    let mut full = gateway("a", 1, &[]);
    full.lines = names[..MAX_LINES_PER_GATEWAY].to_vec();
    let mut c = Config::default();
    c.gateway(full.clone()).unwrap();
    full.lines = names;
    let mut c = Config::default();
    assert_eq!(c.gateway(full).unwrap_err(), ConfigError::TooMany);
}

#[test]
fn at_most_max_gateways() {
    let mut c = Config {
        gateways: (0..MAX_GATEWAYS)
            .map(|n| gateway(&format!("g{n}"), u16::try_from(n + 1).unwrap(), &[]))
            .collect(),
        ..Config::default()
    };
    check(c.clone()).unwrap();
    c.gateways.push(gateway("one-more", 9999, &[]));
    assert_eq!(check(c).unwrap_err(), ConfigError::TooMany);
}

#[test]
fn the_call_agent_refuses_a_config_built_by_hand() {
    let c = Config {
        max_outstanding: 0,
        ..Config::default()
    };
    assert_eq!(check(c).unwrap_err(), ConfigError::Zero("max_outstanding"));
    let c = Config {
        gateways: vec![gateway("a", 1, &["x"]), gateway("b", 1, &["y"])],
        ..Config::default()
    };
    assert_eq!(
        check(c).unwrap_err(),
        ConfigError::DuplicateGateway(GatewayId::new("b"))
    );
}
