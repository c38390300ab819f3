//! 1,000 simulated lines go off-hook at once; the call agent answers every one with a
//! connection. Prints how long the burst takes, end to end over two real loopback UDP sockets.
//!
//! The call agent core ([`CallAgent`]) and the simulated gateway core ([`Gateway`]) run in
//! one thread, paired by [`gateway_harness::Pair`] over its [`Udp`] link (two non-blocking
//! loopback sockets, no tokio) in wall-clock time: what is measured is the two cores, the MGCP
//! codec and the kernel's loopback.
//!
//! `cargo bench -p gateway-control --bench offhook_burst [-- LINES [MAX_OUTSTANDING]]`
//!
//! With the default window (32 commands in flight) the burst is window-bound: every response
//! frees one slot and one command goes, so piggy-backing packs little beyond the first window.
//! A window as large as the line count shows what it saves when the gateway is not saturated.
// This bench measures elapsed wall-clock time, which is its whole point.
#![allow(clippy::disallowed_methods)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::mgcp::{CallAgent, Config as AgentConfig, GatewayConfig};
use gateway_control::model::{
    CallId, Codec, Command, ConnectionMode, Event, GatewayId, LineId, Media,
};
use gateway_harness::{Pair, Udp};
use gateway_sim::{self as sim, Gateway, LineCommand};

type Rig = Pair<CallAgent, Gateway, Udp>;

/// One turn in wall-clock time: datagrams both ways, timers due; returns whether any datagram
/// moved (or an event came), so an idle turn can yield.
fn step(rig: &mut Rig, events: &mut Vec<(Instant, Event)>) -> bool {
    let before = rig.wire.sent;
    rig.advance_to(Instant::now());
    let now = Instant::now();
    let mut moved = rig.wire.sent != before;
    for e in rig.take_events() {
        events.push((now, e));
        moved = true;
    }
    rig.outputs.clear();
    moved
}

fn main() {
    let numbers: Vec<u16> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let lines = numbers.first().copied().unwrap_or(1000);
    let window = numbers.get(1).copied().map(usize::from);
    let wire = Udp::bind().unwrap();
    let ca_addr = wire.controller_addr();
    let gw_addr = wire.gateway_addr();

    let start = Instant::now();
    let mut gw_config = sim::Config::new(lines, ca_addr).unwrap();
    gw_config.seed(1);
    let mut gw = Gateway::new(gw_config, start);
    for i in 0..lines {
        // Ports are only named in the SDP here; no RTP flows.
        gw.add_rtp_port(20_000 + 2 * i);
    }
    let gateway = GatewayId::new("gw1");
    let names: Vec<String> = (1..=lines).map(|n| format!("aaln/{n}")).collect();
    let mut agent_config = AgentConfig::default();
    agent_config
        .gateway(GatewayConfig {
            id: gateway.clone(),
            address: gw_addr,
            domain: "[127.0.0.1]".into(),
            lines: names.clone(),
        })
        .unwrap()
        .notified_entity(&format!("offhook@[127.0.0.1]:{}", ca_addr.port()))
        .unwrap();
    if let Some(w) = window {
        agent_config.max_outstanding(w).unwrap();
    }
    let agent = CallAgent::new(agent_config, start).unwrap();
    let mut rig: Rig = Pair::new(agent, ca_addr, gw, gw_addr, start, wire);
    let mut events = Vec::new();
    let line_ids: Vec<LineId> = names
        .iter()
        .map(|n| LineId::new(gateway.clone(), n))
        .collect();

    // Phase 1: the gateway registers, the call agent audits and arms every line.
    let deadline = start + Duration::from_secs(120);
    while !line_ids
        .iter()
        .all(|l| rig.controller.is_armed(l) == Some(true))
    {
        if !step(&mut rig, &mut events) {
            std::thread::yield_now();
        }
        assert!(Instant::now() < deadline, "lines never all armed");
    }
    let armed = start.elapsed();
    let setup_datagrams = rig.wire.sent;
    events.clear();

    // Phase 2: every line off-hook at once; each off-hook is answered with a connection.
    let t0 = Instant::now();
    for n in 1..=lines {
        rig.gateway.handle_line(t0, LineCommand::OffHook(n));
    }
    let mut created = 0usize;
    let mut requested = 0usize;
    let mut latencies = Vec::with_capacity(usize::from(lines));
    let deadline = t0 + Duration::from_secs(120);
    while created < usize::from(lines) {
        if !step(&mut rig, &mut events) {
            std::thread::yield_now();
        }
        let new: Vec<(Instant, Event)> = std::mem::take(&mut events);
        for (at, e) in new {
            match e {
                Event::OffHook { line } => {
                    let i = names.iter().position(|n| **n == *line.endpoint).unwrap();
                    requested += 1;
                    rig.controller.handle_command(
                        at,
                        Command::CreateConnection {
                            line,
                            call: CallId(i as u64 + 1),
                            mode: ConnectionMode::SendRecv,
                            codec: Codec::Pcmu,
                            ptime: Duration::from_millis(20),
                            remote: Some(Media {
                                address: SocketAddr::from(([127, 0, 0, 1], 40_000)),
                                codec: Codec::Pcmu,
                                ptime: Duration::from_millis(20),
                                telephone_event: None,
                            }),
                        },
                    );
                }
                Event::ConnectionCreated { .. } => {
                    created += 1;
                    latencies.push(at - t0);
                }
                Event::CommandFailed {
                    line, code, reason, ..
                } => {
                    panic!("{line}: {code} {reason}");
                }
                _ => {}
            }
        }
        assert!(
            Instant::now() < deadline,
            "only {created} of {lines} connections after 120 s ({requested} requested)"
        );
    }
    let burst = t0.elapsed();
    latencies.sort();
    let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
    let stats = rig.controller.stats();
    println!(
        "offhook_burst: {lines} lines, window {}, gateway {} ↔ call agent {}",
        rig.controller.config().max_outstanding,
        gw_addr,
        ca_addr
    );
    println!(
        "  setup (RSIP, AUEP + RQNT per line): {:.1} ms, {setup_datagrams} datagrams",
        armed.as_secs_f64() * 1e3
    );
    println!(
        "  burst: {lines} off-hook → NTFY → CRCX → 200 with SDP, all done in {:.1} ms \
         ({:.0} connections/s)",
        burst.as_secs_f64() * 1e3,
        f64::from(lines) / burst.as_secs_f64()
    );
    println!(
        "  connection created after off-hook: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        pct(50).as_secs_f64() * 1e3,
        pct(99).as_secs_f64() * 1e3,
        latencies.last().unwrap().as_secs_f64() * 1e3
    );
    println!(
        "  datagrams in total {}; call agent retransmissions {}; gateway retransmissions {}",
        rig.wire.sent,
        stats.transaction.retransmissions,
        rig.gateway.transaction_stats().retransmissions
    );
    println!(
        "  call agent: {} messages, {} of them piggy-backed",
        stats.transaction.commands_sent + stats.transaction.responses_sent,
        stats.piggybacked
    );
}
