#![no_main]
//! Feeds the TFTP request dispatcher and the transfers it starts arbitrary inputs: requests on
//! the server's port (raw, or a read request built from a name choice and raw options so the
//! fuzzer reaches negotiation sooner), datagrams to a transfer from its client or a stranger
//! (raw, or an ACK of a chosen block), and time jumps. It must never panic; every DATA it asks
//! for lies inside the content, at the negotiated block size; and nothing grows without bound.
//!
//! Input format: records `op, len (u8), payload`; `op % 6` picks a raw request, a built read
//! request (`payload[0]` picks the file, the rest are option bytes), a raw datagram to the
//! `payload[0]`-th transfer from its client, the same from a stranger, an ACK (`payload[1..3]`
//! the block, big-endian) to the `payload[0]`-th transfer, or a tick of `payload[0..2]` ms (le).
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use provisioning::files::Refusal;
use provisioning::tftp::server::{Config, Content, Decision, Files, Server};
use provisioning::tftp::transfer::{Transfer, Transmit};

const NAMES: [&str; 5] = ["empty", "small", "exact", "big", "missing"];

struct Memory;

impl Files for Memory {
    fn open(&self, name: &str, _peer: SocketAddr) -> Result<Content, Refusal> {
        let len = match name {
            "empty" => 0,
            "small" => 100,
            "exact" => 1024,
            "big" => 70_000,
            "secret" => return Err(Refusal::Forbidden("no")),
            _ => return Err(Refusal::NotFound),
        };
        Ok(Content::Memory(
            (0..len).map(|i| i as u8).collect::<Vec<u8>>().into(),
        ))
    }
}

fn drain(t: &mut Transfer, len: u64) {
    let blksize = u64::from(t.negotiated().blksize);
    let mut n = 0;
    while let Some(x) = t.poll_transmit() {
        n += 1;
        assert!(n <= 65_536 + 16, "a window is bounded");
        if let Transmit::Data { offset, len: l, .. } = x {
            assert!(offset % blksize == 0);
            assert!(l as u64 <= blksize);
            assert!(offset + l as u64 <= len);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let mut now = Instant::now();
    let mut config = Config::default();
    config.max_transfers(4);
    let mut server = Server::new(config);
    let mut transfers: Vec<(Transfer, u64)> = Vec::new();
    let client = |i: usize| SocketAddr::from(([10, 0, 0, 1], 1000 + i as u16));
    let stranger = SocketAddr::from(([10, 0, 0, 9], 999));
    let mut rest = data;
    while rest.len() >= 2 {
        let (op, len) = (rest[0], usize::from(rest[1]));
        let payload = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[(2 + len).min(rest.len())..];
        let pick = |p: &[u8], n: usize| p.first().map_or(0, |&b| usize::from(b) % n.max(1));
        match op % 6 {
            0 | 1 => {
                let request = if op % 6 == 0 {
                    payload.to_vec()
                } else {
                    let mut r = b"\x00\x01".to_vec();
                    r.extend_from_slice(NAMES[pick(payload, NAMES.len())].as_bytes());
                    r.extend_from_slice(b"\x00octet\x00");
                    r.extend_from_slice(payload.get(1..).unwrap_or_default());
                    r
                };
                let from = client(transfers.len());
                match server.handle_request(now, from, &request, &Memory) {
                    Decision::Start { transfer, content } => {
                        let len = content.len();
                        transfers.push((*transfer, len));
                    }
                    Decision::Reply { bytes, .. } => assert!(bytes.len() < 600),
                    Decision::Drop => {}
                }
                assert!(server.active() <= 4);
            }
            2 | 3 | 4 if !transfers.is_empty() => {
                let i = pick(payload, transfers.len());
                let (t, _) = &mut transfers[i];
                let peer = t.peer();
                match op % 6 {
                    2 => t.handle_datagram(now, peer, payload.get(1..).unwrap_or_default()),
                    3 => t.handle_datagram(now, stranger, payload.get(1..).unwrap_or_default()),
                    _ => {
                        let b = payload
                            .get(1..3)
                            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
                        let mut ack = vec![0, 4];
                        ack.extend_from_slice(&b.to_be_bytes());
                        t.handle_datagram(now, peer, &ack);
                    }
                }
            }
            5 => {
                let ms = payload
                    .get(..2)
                    .map_or(0, |b| u16::from_le_bytes([b[0], b[1]]));
                now += Duration::from_millis(u64::from(ms));
                for (t, _) in &mut transfers {
                    t.handle_timeout(now);
                }
            }
            _ => {}
        }
        for (t, len) in &mut transfers {
            drain(t, *len);
            if let Some(deadline) = t.poll_timeout() {
                assert!(deadline <= now + Duration::from_secs(256));
            }
        }
        let (done, running): (Vec<_>, Vec<_>) = transfers.drain(..).partition(|(t, _)| t.is_done());
        for (t, _) in &done {
            server.finished(t);
        }
        transfers = running;
    }
});
