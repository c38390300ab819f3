#![no_main]
//! Feeds a call agent with two gateways arbitrary inputs: datagrams from either gateway or a
//! stranger, model commands, and time jumps. It must never panic, and after each input every
//! `poll_*` is drained and the agent keeps its bounds.
//!
//! Input format: a sequence of records `op, len (u16 le), payload`; `op % 4` picks a datagram
//! from gateway 1, gateway 2, a stranger, or a tick (`payload[0..2]` ms, le) with a model
//! command chosen by the next byte.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::mgcp::{CallAgent, Config, GatewayConfig};
use gateway_control::model::{
    Cadence, CallId, Codec, Command, ConnectionMode, DigitMap, GatewayId, LineId, Tone,
};
use libfuzzer_sys::fuzz_target;

fn config() -> Config {
    let mut c = Config::default();
    for (n, port) in [(1, 2427), (2, 2428)] {
        c.gateway(GatewayConfig {
            id: GatewayId::new(&format!("gw{n}")),
            address: SocketAddr::from(([127, 0, 0, 1], port)),
            domain: "[127.0.0.1]".into(),
            lines: (1..=3).map(|l| format!("aaln/{l}")).collect(),
        })
        .expect("valid gateway");
    }
    c.max_outstanding(2)
        .expect("valid")
        .max_queued(16)
        .expect("valid");
    c
}

fn command(selector: u8, arg: u8) -> Command {
    let gw = GatewayId::new(if arg & 1 == 0 { "gw1" } else { "gw2" });
    let endpoint = match arg % 5 {
        0 => "aaln/1",
        1 => "aaln/2",
        2 => "aaln/3",
        3 => "aaln/$",
        _ => "aaln/9",
    };
    let line = LineId::new(gw, endpoint);
    let call = CallId(u64::from(arg % 4));
    match selector % 13 {
        0 => Command::Ring {
            line,
            cadence: Cadence::Distinctive(arg % 10),
            caller_id: None,
        },
        1 => Command::StopRing { line },
        2 => Command::PlayTone {
            line,
            tone: if arg & 2 == 0 {
                Tone::Dial
            } else {
                Tone::MessageWaitingLamp
            },
        },
        3 => Command::StopTone { line },
        4 => Command::CreateConnection {
            line,
            call,
            mode: ConnectionMode::SendRecv,
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            remote: None,
        },
        5 => Command::ModifyConnection {
            line,
            call,
            mode: Some(ConnectionMode::Inactive),
            remote: None,
        },
        6 => Command::DeleteConnection { line, call },
        // Lines given and taken while running, configured or not, wildcards included.
        7 => Command::AddLine { line },
        8 => Command::RemoveLine { line },
        // A gateway's DNS name resolved again: moved, to the other's address, or to none.
        10 => Command::GatewayAddress {
            gateway: line.gateway.clone(),
            address: SocketAddr::from(match arg % 4 {
                0 => ([127, 0, 0, 1], 2427),
                1 => ([127, 0, 0, 1], 2428),
                2 => ([127, 0, 0, 2], 2427),
                _ => ([0, 0, 0, 0], 2427),
            }),
        },
        // Digit maps, sent and collected (issue 15).
        9 => Command::CollectDigits {
            line,
            map: DigitMap::parse(if arg & 2 == 0 { "(xxxx|*xx|0T)" } else { "x.#" })
                .expect("valid map"),
        },
        _ => Command::Audit { line },
    }
}

fuzz_target!(|data: &[u8]| {
    #[allow(clippy::disallowed_methods)] // a base instant for virtual time
    let start = Instant::now();
    let mut now = start;
    let Ok(mut agent) = CallAgent::new(config(), now) else {
        return;
    };
    let mut rest = data;
    let mut inputs = 0;
    while rest.len() >= 3 && inputs < 256 {
        inputs += 1;
        let op = rest[0];
        let len = usize::from(u16::from_le_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let payload = &rest[3..3 + len];
        rest = &rest[3 + len..];
        match op % 4 {
            0 => agent.handle_datagram(now, SocketAddr::from(([127, 0, 0, 1], 2427)), payload),
            1 => agent.handle_datagram(now, SocketAddr::from(([127, 0, 0, 1], 2428)), payload),
            2 => agent.handle_datagram(now, SocketAddr::from(([127, 0, 0, 2], 2427)), payload),
            _ => {
                let jump = payload
                    .get(..2)
                    .map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])));
                now += Duration::from_millis(jump);
                if let Some(&sel) = payload.get(2) {
                    agent.handle_command(now, command(sel, payload.get(3).copied().unwrap_or(0)));
                }
                if agent.poll_timeout().is_some_and(|t| t <= now) {
                    agent.handle_timeout(now);
                }
            }
        }
        let mut sent = 0;
        while let Some(t) = agent.poll_transmit() {
            assert!(t.contents.len() <= gateway_control::mgcp::wire::MAX_DATAGRAM);
            sent += 1;
            assert!(sent < 100_000, "runaway transmissions");
        }
        let mut events = 0;
        while agent.poll_event().is_some() {
            events += 1;
            assert!(events < 100_000, "runaway events");
        }
        if let Some(t) = agent.poll_timeout() {
            // Deadlines are never in the far past relative to the start.
            assert!(t >= start);
        }
        for g in ["gw1", "gw2"] {
            let (queued, in_flight) = agent.backlog(&GatewayId::new(g)).expect("configured");
            assert!(queued <= 16 + 3 && in_flight <= 2, "{queued} {in_flight}");
        }
    }
});
