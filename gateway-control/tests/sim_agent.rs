//! The call agent core against the simulated gateway core, in virtual time: datagrams move
//! directly between the two, and time jumps to the earliest `poll_timeout`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::mgcp::{CallAgent, Config as AgentConfig, GatewayConfig};
use gateway_control::model::{
    Cadence, CallId, Codec, Command, ConnectionMode, Digit, Event, GatewayId, LineId, Media,
};
use gateway_harness::{Lossy, Pair};
use gateway_sim::{self as sim, Gateway, LineCommand};

type Sim = Pair<CallAgent, Gateway>;

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

/// `lines` lines, the call agent and the gateway over a link that loses every `lose_every`-th
/// control datagram (both directions) if set; runs for `patience`.
fn new_lossy(lines: u16, lose_every: Option<u64>, patience: Duration) -> Sim {
    let now = epoch();
    let ca: SocketAddr = "192.0.2.1:2727".parse().unwrap();
    let gw_addr: SocketAddr = "192.0.2.2:2427".parse().unwrap();
    let mut gc = sim::Config::new(lines, ca).unwrap();
    gc.domain("[192.0.2.2]").unwrap();
    gc.media_address("192.0.2.2".parse().unwrap());
    gc.seed(5);
    let mut gw = Gateway::new(gc, now);
    for i in 0..lines * 2 {
        gw.add_rtp_port(16384 + 2 * i);
    }
    let mut ac = AgentConfig::default();
    ac.gateway(GatewayConfig {
        id: GatewayId::new("gw1"),
        address: gw_addr,
        domain: "[192.0.2.2]".into(),
        lines: (1..=lines).map(|n| format!("aaln/{n}")).collect(),
    })
    .unwrap()
    .notified_entity("offhook@[192.0.2.1]:2727")
    .unwrap()
    .rng_seed(9)
    .unwrap();
    let agent = CallAgent::new(ac, now).unwrap();
    let link = match lose_every {
        Some(n) => Lossy::default().lose_every(n),
        None => Lossy::default(),
    };
    let mut p = Pair::new(agent, ca, gw, gw_addr, now, link);
    p.run(patience);
    p
}

fn line_id(n: u16) -> LineId {
    LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"))
}

/// Removes and returns the first event that matches.
fn take(p: &mut Sim, want: impl Fn(&Event) -> bool) -> Event {
    let i = p
        .events
        .iter()
        .position(want)
        .unwrap_or_else(|| panic!("not among {:#?}", p.events));
    p.events.remove(i)
}

#[test]
fn lines_are_armed_and_a_call_goes_through() {
    call_flow(None, Duration::from_millis(100));
}

/// Every fifth datagram lost, both ways: retransmission and duplicate suppression on both
/// sides carry the same call through, only later.
#[test]
fn a_call_goes_through_with_a_fifth_of_the_datagrams_lost() {
    let p = call_flow(Some(5), Duration::from_secs(30));
    assert!(p.wire.stats().lost >= 3, "{} lost", p.wire.stats().lost);
    assert!(p.gateway.transaction_stats().retransmissions > 0);
}

fn call_flow(lose_every: Option<u64>, patience: Duration) -> Sim {
    let mut p = new_lossy(3, lose_every, patience);
    assert!(p.gateway.is_registered());
    for n in 1..=3 {
        assert_eq!(p.controller.is_armed(&line_id(n)), Some(true), "line {n}");
    }
    p.events.clear();

    // Off-hook reaches the call agent as a model event.
    p.line(LineCommand::OffHook(1));
    p.run(patience);
    take(
        &mut p,
        |e| matches!(e, Event::OffHook { line } if *line == line_id(1)),
    );

    // A connection, with the gateway's media address in the answer.
    p.command(Command::CreateConnection {
        line: line_id(1),
        call: CallId(0x51),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        remote: Some(Media {
            address: "192.0.2.1:40000".parse().unwrap(),
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            telephone_event: None,
        }),
    });
    p.run(patience);
    let Event::ConnectionCreated { local, .. } = take(&mut p, |e| {
        matches!(
            e,
            Event::ConnectionCreated {
                call: CallId(0x51),
                ..
            }
        )
    }) else {
        unreachable!()
    };
    assert_eq!(
        local.address.ip(),
        "192.0.2.2".parse::<std::net::IpAddr>().unwrap()
    );
    assert_eq!(p.gateway.connections(1), vec![local.address]);

    // Digits while off-hook reach the call agent.
    p.run(patience);
    p.line(LineCommand::Digits(1, "5".into()));
    p.run(patience + Duration::from_secs(5));
    take(&mut p, |e| {
        matches!(e, Event::Digit { line, digit } if *line == line_id(1)
            && *digit == Digit::new('5').unwrap())
    });

    // Ring line 2; it answers by itself after a second.
    p.line(LineCommand::AutoAnswer(2, true));
    p.command(Command::Ring {
        line: line_id(2),
        cadence: Cadence::Normal,
        caller_id: None,
    });
    p.run(patience.min(Duration::from_millis(900)));
    assert_eq!(p.gateway.is_ringing(2), Some(true));
    p.run(patience.max(Duration::from_millis(1500)));
    assert_eq!(p.gateway.is_off_hook(2), Some(true));
    take(
        &mut p,
        |e| matches!(e, Event::OffHook { line } if *line == line_id(2)),
    );

    // Hang-up and delete.
    p.command(Command::DeleteConnection {
        line: line_id(1),
        call: CallId(0x51),
    });
    take(&mut p, |e| {
        matches!(
            e,
            Event::ConnectionDeleted {
                call: CallId(0x51),
                ..
            }
        )
    });
    assert!(p.gateway.connections(1).is_empty());
    p.run(patience);
    p.line(LineCommand::OnHook(1));
    p.run(patience + Duration::from_secs(1));
    take(
        &mut p,
        |e| matches!(e, Event::OnHook { line } if *line == line_id(1)),
    );
    assert_eq!(p.gateway.stats().refused, 0, "the gateway refused nothing");
    p
}

/// Issue 15, digit maps against the simulated gateway's own matcher: a four-digit extension is
/// reported in one `Dialled` as soon as the fourth key completes the map; `0` alone waits for
/// the inter-digit timer (`0T`) and is then reported; then single keys come one by one.
#[test]
fn a_dial_string_is_collected_by_the_gateway_and_reported_once() {
    let patience = Duration::from_millis(100);
    let mut p = new_lossy(1, None, patience);
    p.line(LineCommand::OffHook(1));
    p.run(patience);
    p.events.clear();
    let map = gateway_control::model::DigitMap::parse("(0T|[1-7]xxx|*xx)").unwrap();
    p.command(Command::CollectDigits {
        line: line_id(1),
        map: map.clone(),
    });
    p.run(patience);
    p.line(LineCommand::Digits(1, "2041".into()));
    p.run(patience + Duration::from_secs(1));
    let keys = |s: &str| {
        s.chars()
            .map(|c| Digit::new(c).unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        p.events.drain(..).collect::<Vec<_>>(),
        [Event::Dialled {
            line: line_id(1),
            digits: keys("2041")
        }]
    );
    p.command(Command::CollectDigits {
        line: line_id(1),
        map,
    });
    p.run(patience);
    p.line(LineCommand::Digits(1, "0".into()));
    // The gateway's short inter-digit timer, then the notification.
    p.run(Duration::from_secs(30));
    let got = take(&mut p, |e| matches!(e, Event::Dialled { .. }));
    assert_eq!(
        got,
        Event::Dialled {
            line: line_id(1),
            digits: keys("0")
        }
    );
    p.line(LineCommand::Digits(1, "7".into()));
    p.run(Duration::from_secs(1));
    take(
        &mut p,
        |e| matches!(e, Event::Digit { digit, .. } if *digit == Digit::new('7').unwrap()),
    );
    assert_eq!(p.gateway.stats().refused, 0);
}
