use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::mgcp::{CallAgent, Config, GatewayConfig};
use gateway_control::model::{Event, GatewayId, LineId};
use gateway_sim::{Gateway, LineCommand, Output};

use super::*;

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

fn line(n: u16) -> LineId {
    LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"))
}

fn pair<W: Wire>(
    wire: W,
    ca: SocketAddr,
    gw: SocketAddr,
    now: Instant,
) -> Pair<CallAgent, Gateway, W> {
    let mut ac = Config::default();
    ac.gateway(GatewayConfig {
        id: GatewayId::new("gw1"),
        address: gw,
        domain: "[127.0.0.1]".into(),
        lines: vec!["aaln/1".into(), "aaln/2".into()],
    })
    .unwrap()
    .notified_entity(&format!("ca@[127.0.0.1]:{}", ca.port()))
    .unwrap()
    .rng_seed(3)
    .unwrap();
    let mut gc = gateway_sim::Config::new(2, ca).unwrap();
    gc.seed(4);
    let mut gateway = Gateway::new(gc, now);
    gateway.add_rtp_port(16_384);
    Pair::new(CallAgent::new(ac, now).unwrap(), ca, gateway, gw, now, wire)
}

fn addrs() -> (SocketAddr, SocketAddr) {
    (
        "127.0.0.1:2727".parse().unwrap(),
        "127.0.0.1:2427".parse().unwrap(),
    )
}

#[test]
fn a_perfect_link_registers_the_gateway_and_arms_every_line_at_once() {
    let (ca, gw) = addrs();
    let mut p = pair(Lossy::default(), ca, gw, epoch());
    p.run(Duration::ZERO);
    assert!(p.gateway.is_registered());
    assert_eq!(p.controller.is_armed(&line(1)), Some(true));
    assert_eq!(p.controller.is_armed(&line(2)), Some(true));
    assert_eq!(p.elapsed(), Duration::ZERO);

    p.line(LineCommand::OffHook(2));
    assert!(
        p.take_events()
            .iter()
            .any(|e| matches!(e, Event::OffHook { line: l } if *l == line(2)))
    );
    assert!(p.take_outputs().contains(&Output::Hook {
        line: 2,
        off_hook: true,
        auto: false
    }));
}

#[test]
fn a_lossy_link_is_the_same_for_the_same_seed_and_still_gets_there() {
    let (ca, gw) = addrs();
    let now = epoch();
    let run = |seed| {
        let wire = Lossy::new(seed)
            .loss(0.3)
            .duplication(0.3)
            .delay(Duration::from_millis(1), Duration::from_millis(30));
        let mut p = pair(wire, ca, gw, now);
        p.record();
        let armed = p.run_until(Duration::from_secs(60), |p| {
            p.controller.is_armed(&line(1)) == Some(true)
                && p.controller.is_armed(&line(2)) == Some(true)
        });
        assert!(armed);
        (p.sent().to_vec(), p.wire.stats())
    };
    let (a, stats) = run(7);
    assert_eq!(run(7).0, a);
    assert!(stats.lost > 0 && stats.duplicated > 0, "{stats:?}");
    assert_eq!(stats.sent, a.len() as u64);
}

#[test]
fn a_cut_link_loses_everything_until_restored() {
    let (ca, gw) = addrs();
    let mut wire = Lossy::default();
    wire.set_cut(true);
    let mut p = pair(wire, ca, gw, epoch());
    p.run(Duration::from_secs(1));
    assert!(!p.gateway.is_registered());
    assert!(p.wire.stats().lost > 0);
    p.wire.set_cut(false);
    p.run(Duration::from_secs(10));
    assert!(p.gateway.is_registered());
}

#[test]
fn every_nth_datagram_is_lost_when_asked() {
    let (ca, gw) = addrs();
    let mut p = pair(Lossy::default().lose_every(3), ca, gw, epoch());
    p.run(Duration::from_secs(30));
    let s = p.wire.stats();
    assert_eq!(s.lost, s.sent / 3);
    assert!(p.gateway.is_registered());
}

#[test]
fn the_udp_link_carries_datagrams_across_loopback() {
    let wire = Udp::bind().unwrap();
    let (ca, gw) = (wire.controller_addr(), wire.gateway_addr());
    let mut p = pair(wire, ca, gw, epoch());
    // Loopback delivery is synchronous, so one pass moves everything the kernel accepted.
    p.run(Duration::ZERO);
    assert!(p.gateway.is_registered());
    assert!(p.wire.sent >= 2);
}
