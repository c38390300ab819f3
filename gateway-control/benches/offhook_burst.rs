//! 1,000 simulated lines go off-hook at once; the call agent answers every one with a
//! connection. Prints how long the burst takes, end to end over two real loopback UDP sockets.
//!
//! The call agent core ([`CallAgent`]) and the simulated gateway core ([`sim::Gateway`]) run in
//! one thread, with a small loop of our own moving datagrams between two non-blocking sockets
//! (no tokio): what is measured is the two cores, the MGCP codec and the kernel's loopback.
//!
//! `cargo bench -p gateway-control --bench offhook_burst [-- LINES [MAX_OUTSTANDING]]`
//!
//! With the default window (32 commands in flight) the burst is window-bound: every response
//! frees one slot and one command goes, so piggy-backing packs little beyond the first window.
//! A window as large as the line count shows what it saves when the gateway is not saturated.
// This bench measures elapsed wall-clock time, which is its whole point.
#![allow(clippy::disallowed_methods)]

use std::io::ErrorKind;
use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::mgcp::{CallAgent, Config as AgentConfig, GatewayConfig};
use gateway_control::model::{
    CallId, Codec, Command, ConnectionMode, Event, GatewayId, LineId, Media,
};
use gateway_sim::{self as sim, Gateway, LineCommand, Via};

/// Datagrams sent from one side before the other side's socket is drained, so that a burst
/// never overflows the default receive buffer.
const BATCH: usize = 64;

struct Rig {
    agent: CallAgent,
    gw: Gateway,
    ca_sock: UdpSocket,
    gw_sock: UdpSocket,
    ca_addr: SocketAddr,
    gw_addr: SocketAddr,
    buf: Vec<u8>,
    events: Vec<(Instant, Event)>,
    datagrams: u64,
}

impl Rig {
    /// Moves datagrams and timeouts until nothing is pending; returns whether anything moved.
    fn step(&mut self) -> bool {
        let now = Instant::now();
        let mut moved = false;
        if self.agent.poll_timeout().is_some_and(|t| t <= now) {
            self.agent.handle_timeout(now);
        }
        if self.gw.poll_timeout().is_some_and(|t| t <= now) {
            self.gw.handle_timeout(now);
        }
        for _ in 0..BATCH {
            let Some(t) = self.agent.poll_transmit() else {
                break;
            };
            self.ca_sock.send_to(&t.contents, t.destination).unwrap();
            self.datagrams += 1;
            moved = true;
        }
        for _ in 0..BATCH {
            let Some(t) = self.gw.poll_transmit() else {
                break;
            };
            // RTP is not part of this measurement (no `say`), only control.
            if t.via == Via::Control {
                self.gw_sock.send_to(&t.contents, t.destination).unwrap();
                self.datagrams += 1;
                moved = true;
            }
        }
        while self.gw.poll_output().is_some() {}
        loop {
            match self.gw_sock.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    self.gw
                        .handle_datagram(Instant::now(), from, &self.buf[..n]);
                    moved = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("gateway socket: {e}"),
            }
        }
        loop {
            match self.ca_sock.recv_from(&mut self.buf) {
                Ok((n, from)) => {
                    self.agent
                        .handle_datagram(Instant::now(), from, &self.buf[..n]);
                    moved = true;
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) => panic!("call agent socket: {e}"),
            }
        }
        while let Some(e) = self.agent.poll_event() {
            self.events.push((Instant::now(), e));
        }
        moved
    }
}

fn main() {
    let numbers: Vec<u16> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let lines = numbers.first().copied().unwrap_or(1000);
    let window = numbers.get(1).copied().map(usize::from);
    let ca_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let gw_sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    ca_sock.set_nonblocking(true).unwrap();
    gw_sock.set_nonblocking(true).unwrap();
    let ca_addr = ca_sock.local_addr().unwrap();
    let gw_addr = gw_sock.local_addr().unwrap();

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
    let mut rig = Rig {
        agent,
        gw,
        ca_sock,
        gw_sock,
        ca_addr,
        gw_addr,
        buf: vec![0u8; 65536],
        events: Vec::new(),
        datagrams: 0,
    };
    let line_ids: Vec<LineId> = names
        .iter()
        .map(|n| LineId::new(gateway.clone(), n))
        .collect();

    // Phase 1: the gateway registers, the call agent audits and arms every line.
    let deadline = start + Duration::from_secs(120);
    while !line_ids.iter().all(|l| rig.agent.is_armed(l) == Some(true)) {
        if !rig.step() {
            std::thread::yield_now();
        }
        assert!(Instant::now() < deadline, "lines never all armed");
    }
    let armed = start.elapsed();
    let setup_datagrams = rig.datagrams;
    rig.events.clear();

    // Phase 2: every line off-hook at once; each off-hook is answered with a connection.
    let t0 = Instant::now();
    for n in 1..=lines {
        rig.gw.handle_line(t0, LineCommand::OffHook(n));
    }
    let mut created = 0usize;
    let mut requested = 0usize;
    let mut latencies = Vec::with_capacity(usize::from(lines));
    let deadline = t0 + Duration::from_secs(120);
    while created < usize::from(lines) {
        if !rig.step() {
            std::thread::yield_now();
        }
        let new: Vec<(Instant, Event)> = rig.events.drain(..).collect();
        for (at, e) in new {
            match e {
                Event::OffHook { line } => {
                    let i = names.iter().position(|n| **n == *line.endpoint).unwrap();
                    requested += 1;
                    rig.agent.handle_command(
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
    let stats = rig.agent.stats();
    println!(
        "offhook_burst: {lines} lines, window {}, gateway {} ↔ call agent {}",
        rig.agent.config().max_outstanding,
        rig.gw_addr,
        rig.ca_addr
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
        rig.datagrams,
        stats.transaction.retransmissions,
        rig.gw.transaction_stats().retransmissions
    );
    println!(
        "  call agent: {} messages, {} of them piggy-backed",
        stats.transaction.commands_sent + stats.transaction.responses_sent,
        stats.piggybacked
    );
}
