#![no_main]
//! Feeds a MEGACO controller with two gateways arbitrary inputs: messages from either gateway
//! (raw, or behind a valid header so that the fuzzer reaches the transactions sooner), over UDP
//! or TCP, from a stranger, model commands, and time jumps. It must never panic, and after each
//! input every `poll_*` is drained and the controller keeps its bounds.
//!
//! Input format: a sequence of records `op, len (u16 le), payload`; `op % 6` picks a raw
//! datagram from gateway 1, a raw one from gateway 2, one from a stranger, one from gateway 1
//! after the header `MEGACO/1 mg1`, a TCP message from gateway 2 after `!/1 mg2`, or a tick
//! (`payload[0..2]` ms, le) with a model command chosen by the next byte.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use gateway_control::Controller;
use gateway_control::megaco::controller::{
    Config, GatewayConfig, MAX_QUEUED_PER_LINE, MediaGatewayController,
};
use gateway_control::model::{
    Cadence, CallId, Codec, Command, ConnectionMode, DigitMap, GatewayId, LineId, Media, Tone,
};
use libfuzzer_sys::fuzz_target;

const LINES: usize = 3;

fn config() -> Config {
    Config {
        mid: "[127.0.0.1]:2944".into(),
        gateways: vec![
            GatewayConfig {
                id: GatewayId::new("mg1"),
                mid: "mg1".into(),
                address: Some([127, 0, 0, 1].into()),
                lines: (1..=LINES).map(|l| format!("aaln/{l}")).collect(),
            },
            GatewayConfig {
                id: GatewayId::new("mg2"),
                mid: "mg2".into(),
                address: None,
                lines: (1..=LINES).map(|l| format!("aaln/{l}")).collect(),
            },
        ],
        ..Config::default()
    }
}

fn command(selector: u8, arg: u8) -> Command {
    let gw = GatewayId::new(if arg & 1 == 0 { "mg1" } else { "mg2" });
    let endpoint = match arg % 5 {
        0 => "aaln/1",
        1 => "aaln/2",
        2 => "aaln/3",
        3 => "aaln/*",
        _ => "aaln/9",
    };
    let line = LineId::new(gw, endpoint);
    let call = CallId(u64::from(arg % 4));
    let remote = (arg & 4 != 0).then(|| Media {
        address: SocketAddr::from(([127, 0, 0, 1], 16384)),
        codec: Codec::Pcma,
        ptime: Duration::from_millis(20),
        telephone_event: Some(101),
    });
    match selector % 12 {
        0 => Command::Ring {
            line,
            cadence: Cadence::Distinctive(arg % 10),
            caller_id: None,
        },
        1 => Command::StopRing { line },
        2 => Command::PlayTone {
            line,
            tone: if arg & 2 == 0 {
                Tone::Busy
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
            remote,
        },
        5 => Command::ModifyConnection {
            line,
            call,
            mode: Some(ConnectionMode::Inactive),
            remote,
        },
        6 => Command::DeleteConnection { line, call },
        7 => Command::AddLine { line },
        8 => Command::RemoveLine { line },
        9 => Command::CollectDigits {
            line,
            map: DigitMap::parse(if arg & 2 == 0 { "(xxxx|*xx|0T)" } else { "x.#" })
                .expect("valid map"),
        },
        10 => Command::GatewayAddress {
            gateway: line.gateway.clone(),
            address: SocketAddr::from(([127, 0, 0, 2], 2944)),
        },
        _ => Command::Audit { line },
    }
}

fuzz_target!(|data: &[u8]| {
    #[allow(clippy::disallowed_methods)] // a base instant for virtual time
    let start = Instant::now();
    let mut now = start;
    let Ok(mut mgc) = MediaGatewayController::new(config(), now) else {
        return;
    };
    let mg1 = SocketAddr::from(([127, 0, 0, 1], 2944));
    let mg2 = SocketAddr::from(([127, 0, 0, 3], 2944));
    let mut rest = data;
    let mut inputs = 0;
    let mut buf = Vec::new();
    while rest.len() >= 3 && inputs < 256 {
        inputs += 1;
        let op = rest[0];
        let len = usize::from(u16::from_le_bytes([rest[1], rest[2]])).min(rest.len() - 3);
        let payload = &rest[3..3 + len];
        rest = &rest[3 + len..];
        match op % 6 {
            0 => mgc.handle_datagram(now, mg1, payload),
            1 => mgc.handle_datagram(now, mg2, payload),
            2 => mgc.handle_datagram(now, SocketAddr::from(([127, 0, 0, 2], 2944)), payload),
            3 => {
                buf.clear();
                buf.extend_from_slice(b"MEGACO/1 mg1\n");
                buf.extend_from_slice(payload);
                mgc.handle_datagram(now, mg1, &buf);
            }
            4 => {
                buf.clear();
                buf.extend_from_slice(b"!/1 mg2\n");
                buf.extend_from_slice(payload);
                mgc.handle_stream_message(now, mg2, &buf);
            }
            _ => {
                let jump = payload
                    .get(..2)
                    .map_or(0, |b| u64::from(u16::from_le_bytes([b[0], b[1]])));
                now += Duration::from_millis(jump);
                if let Some(&sel) = payload.get(2) {
                    mgc.handle_command(now, command(sel, payload.get(3).copied().unwrap_or(0)));
                }
                if mgc.poll_timeout().is_some_and(|t| t <= now) {
                    mgc.handle_timeout(now);
                }
            }
        }
        let mut sent = 0;
        while let Some(t) = mgc.poll_transmit() {
            assert!(t.contents.len() <= gateway_control::megaco::text::MAX_MESSAGE);
            sent += 1;
            assert!(sent < 100_000, "runaway transmissions");
        }
        let mut events = 0;
        while mgc.poll_event().is_some() {
            events += 1;
            assert!(events < 100_000, "runaway events");
        }
        if let Some(t) = mgc.poll_timeout() {
            assert!(t >= start);
        }
        for g in ["mg1", "mg2"] {
            let (queued, in_flight) = mgc.backlog(&GatewayId::new(g)).expect("configured");
            assert!(
                queued <= LINES * MAX_QUEUED_PER_LINE && in_flight <= LINES + 1,
                "{queued} {in_flight}"
            );
        }
    }
});
