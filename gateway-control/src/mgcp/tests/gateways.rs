//! Several gateways: each has its own address, domain, queue and connections.

use std::net::SocketAddr;

use super::*;
use crate::model::{CallId, Codec, Command, ConnectionMode, Event};

fn gw2_addr() -> SocketAddr {
    "192.0.2.2:2427".parse().unwrap()
}

fn gw2_line() -> LineId {
    LineId::new(GatewayId::new("gw2"), "aaln/1")
}

/// Every datagram the call agent sends now, with its destination.
fn sent(agent: &mut CallAgent) -> Vec<(SocketAddr, String)> {
    std::iter::from_fn(|| agent.poll_transmit())
        .map(|t| (t.destination, String::from_utf8(t.contents).unwrap()))
        .collect()
}

/// Answers every command (audits: on hook) until the call agent sends nothing more.
fn answer_all(agent: &mut CallAgent, now: Instant, mut pending: Vec<(SocketAddr, String)>) {
    while !pending.is_empty() {
        for (to, text) in std::mem::take(&mut pending) {
            for message in split_piggybacked(&text) {
                let mut words = message.split_whitespace();
                let verb = words.next().unwrap();
                if verb.starts_with(|c: char| c.is_ascii_digit()) {
                    continue;
                }
                let txid = words.next().unwrap();
                let reply = if verb == "AUEP" {
                    format!("200 {txid} OK\r\nES: L/hu\r\n")
                } else {
                    format!("200 {txid} OK\r\n\r\n{}", crlf(GW_SDP))
                };
                let reply = if verb == "CRCX" {
                    reply.replacen("OK\r\n", "OK\r\nI: 1\r\n", 1)
                } else {
                    reply
                };
                agent.handle_datagram(now, to, reply.as_bytes());
            }
            pending.extend(sent(agent));
        }
    }
}

#[test]
fn each_gateway_has_its_own_address_domain_queue_and_connections() {
    let mut c = Harness::config(1);
    c.gateway(GatewayConfig {
        id: GatewayId::new("gw2"),
        address: gw2_addr(),
        domain: "gw2.example.net".to_owned(),
        lines: vec!["aaln/1".to_owned()],
    })
    .unwrap()
    .max_outstanding(1)
    .unwrap()
    .max_queued(1)
    .unwrap();
    let now = t0();
    let mut agent = CallAgent::new(c, now).unwrap();
    let start = sent(&mut agent);
    let to: Vec<(SocketAddr, &str)> = start
        .iter()
        .map(|(a, t)| (*a, t.split_whitespace().nth(2).unwrap()))
        .collect();
    assert_eq!(
        to,
        [
            (gw_addr(), "aaln/1@gw1.example.net"),
            (gw2_addr(), "aaln/1@gw2.example.net")
        ]
    );
    answer_all(&mut agent, now, start);
    while agent.poll_event().is_some() {}
    // The second gateway's only slot and only queue place are taken; its next create fails
    // and frees its call handle, while the first gateway takes the same handle.
    agent.handle_command(now, Command::Audit { line: gw2_line() });
    agent.handle_command(now, Command::Audit { line: gw2_line() });
    let create = |line: LineId| Command::CreateConnection {
        line,
        call: CallId(1),
        mode: ConnectionMode::SendRecv,
        codec: Codec::Pcmu,
        ptime: ms(20),
        remote: None,
    };
    agent.handle_command(now, create(gw2_line()));
    agent.handle_command(now, create(line(1)));
    assert!(matches!(
        agent.poll_event(),
        Some(Event::CommandFailed {
            call: Some(CallId(1)),
            code: 0,
            ..
        })
    ));
    assert_eq!(agent.poll_event(), None);
    assert_eq!(agent.backlog(&GatewayId::new("gw2")), Some((1, 1)));
    assert_eq!(agent.backlog(&GatewayId::new(GW)), Some((0, 1)));
    let out = sent(&mut agent);
    assert_eq!(out.len(), 2);
    answer_all(&mut agent, now, out);
    while agent.poll_event().is_some() {}
    agent.handle_command(now, create(gw2_line()));
    let out = sent(&mut agent);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].0, gw2_addr());
    assert!(out[0].1.starts_with("CRCX"), "{}", out[0].1);
    assert_eq!(agent.poll_event(), None);
}
