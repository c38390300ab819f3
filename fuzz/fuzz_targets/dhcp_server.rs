#![no_main]
//! Feeds a DHCP server arbitrary datagrams and times: raw bytes, or well-formed client messages
//! built from a few bytes (so that the fuzzer reaches the lease logic sooner), time jumps and
//! restarts from the leases kept. It must never panic; after each input every reply must
//! parse, fit a datagram, and its bookkeeping stay consistent, with never two unexpired bound
//! leases on one address and never an address outside the pools and reservations bound.
//!
//! Input format: records `op, len (u16 le), payload`; `op % 4` picks a raw datagram (the payload), a
//! built message (`payload[0]` the MAC, `[1]` the type, `[2]` a requested address or none,
//! `[3]` the server id (ours, another, none), `[4]` ciaddr, `[5]` giaddr, `[6]` max size), a
//! time jump of `payload[0..2]` seconds, or a restart.
use std::borrow::Cow;
use std::collections::HashSet;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use libfuzzer_sys::fuzz_target;
use provisioning::Mac;
use provisioning::dhcp::wire::{DhcpOption, MAX_DATAGRAM, MessageType, Op, Repr, Xid, code};
use provisioning::dhcp::{
    Config, LeaseState, Options, RateLimit, Reservation, Server, Subnet, UnixTime, VendorMatch,
    VendorRule,
};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 0, 0, 1);
const RELAY: Ipv4Addr = Ipv4Addr::new(10, 9, 0, 1);

fn config() -> Config {
    let lan = Subnet::new(Ipv4Addr::new(10, 0, 0, 0), 24)
        .and_then(|s| s.range(Ipv4Addr::new(10, 0, 0, 100), Ipv4Addr::new(10, 0, 0, 107)))
        .and_then(|s| s.exclude(Ipv4Addr::new(10, 0, 0, 103), Ipv4Addr::new(10, 0, 0, 103)))
        .and_then(|s| {
            s.options(Options {
                lease_time: Some(Duration::from_secs(300)),
                routers: vec![SERVER],
                domain: Some("d".repeat(200)),
                tftp_server: Some("10.0.0.1".into()),
                vendor_specific: Some(vec![7; 200]),
                ..Options::default()
            })
        })
        .unwrap();
    let relayed = Subnet::new(Ipv4Addr::new(10, 9, 0, 0), 24)
        .and_then(|s| s.range(Ipv4Addr::new(10, 9, 0, 10), Ipv4Addr::new(10, 9, 0, 12)))
        .unwrap();
    let mut c = Config::default();
    c.subnet(lan).unwrap();
    c.subnet(relayed).unwrap();
    c.reservation(Reservation {
        mac: Mac([2, 0, 0, 0, 0, 7]),
        ip: Ipv4Addr::new(10, 0, 0, 50),
        hostname: Some("seven".into()),
    })
    .unwrap();
    c.vendor(VendorRule {
        matches: VendorMatch::MacPrefix(vec![2, 0, 0, 0, 0]),
        options: Options {
            provisioning_url: Some("u".repeat(250)),
            boot_file: Some("b".repeat(100)),
            ..Options::default()
        },
    })
    .unwrap();
    c.offer_hold(Duration::from_secs(10)).unwrap();
    c.decline_hold(Duration::from_secs(60)).unwrap();
    c.new_clients(RateLimit {
        per_second: 2,
        burst: 6,
    });
    c
}

fn in_pools_or_reserved(ip: Ipv4Addr) -> bool {
    let o = ip.octets();
    (o[..3] == [10, 0, 0] && (100..=107).contains(&o[3]) && o[3] != 103)
        || (o[..3] == [10, 9, 0] && (10..=12).contains(&o[3]))
        || ip == Ipv4Addr::new(10, 0, 0, 50)
}

fn built(p: &[u8]) -> Vec<u8> {
    let at = |i: usize| p.get(i).copied().unwrap_or(0);
    let addr = |b: u8| match b % 4 {
        0 => Ipv4Addr::UNSPECIFIED,
        1 => Ipv4Addr::new(10, 0, 0, 96 + b / 4 % 16),
        2 => Ipv4Addr::new(10, 9, 0, 8 + b / 4 % 8),
        _ => Ipv4Addr::new(10, 0, 0, 50),
    };
    let mut options = Vec::new();
    let requested = addr(at(2));
    if !requested.is_unspecified() {
        options.push(DhcpOption::new(
            code::REQUESTED_IP,
            requested.octets().to_vec(),
        ));
    }
    match at(3) % 3 {
        0 => options.push(DhcpOption::new(code::SERVER_ID, SERVER.octets().to_vec())),
        1 => options.push(DhcpOption::new(code::SERVER_ID, vec![10, 0, 0, 2])),
        _ => {}
    }
    if at(6) % 2 == 1 {
        options.push(DhcpOption::new(
            code::MAX_MESSAGE_SIZE,
            u16::from(at(6)).wrapping_mul(8).to_be_bytes().to_vec(),
        ));
        options.push(DhcpOption::new(
            code::PARAMETER_REQUEST_LIST,
            vec![1, 3, 15, 43, 12, 6, 42],
        ));
    }
    let giaddr = if at(5) % 2 == 1 {
        RELAY
    } else {
        Ipv4Addr::UNSPECIFIED
    };
    if !giaddr.is_unspecified() {
        options.push(DhcpOption::new(code::RELAY_AGENT_INFO, vec![1, 1, at(5)]));
    }
    Repr {
        op: Op::Request,
        hops: 0,
        xid: Xid(u32::from(at(0))),
        secs: 0,
        broadcast: at(5) & 2 != 0,
        ciaddr: addr(at(4)),
        yiaddr: Ipv4Addr::UNSPECIFIED,
        siaddr: Ipv4Addr::UNSPECIFIED,
        giaddr,
        chaddr: Mac([2, 0, 0, 0, 0, at(0) % 12]),
        sname: Cow::Borrowed(b""),
        file: Cow::Borrowed(b""),
        message_type: MessageType::from(at(1) % 9),
        options,
    }
    .to_vec(MAX_DATAGRAM)
    .unwrap()
}

fuzz_target!(|data: &[u8]| {
    let mut server = Server::new(config(), SERVER, []).unwrap();
    let mut now = UnixTime(1_000_000);
    let mut rest = data;
    while let [op, lo, hi, tail @ ..] = rest {
        let len = usize::from(u16::from_le_bytes([*lo, *hi])).min(tail.len());
        let (payload, next) = tail.split_at(len);
        rest = next;
        let from = SocketAddrV4::new(Ipv4Addr::new(10, 0, 0, 200), 68);
        match op % 4 {
            0 => server.handle_datagram(now, from, payload),
            1 => server.handle_datagram(now, from, &built(payload)),
            2 => {
                let secs = u16::from_le_bytes([
                    payload.first().copied().unwrap_or(0),
                    payload.get(1).copied().unwrap_or(0),
                ]);
                // Time may also step back: the server must shrug it off.
                now = if secs == u16::MAX {
                    UnixTime(now.0.saturating_sub(100))
                } else {
                    now.plus_secs(u64::from(secs))
                };
                server.handle_timeout(now);
            }
            _ => {
                let kept: Vec<_> = server.leases().cloned().collect();
                server = Server::new(config(), SERVER, kept).unwrap();
            }
        }
        while let Some(t) = server.poll_transmit() {
            assert!(t.payload.len() <= MAX_DATAGRAM);
            let reply = Repr::parse_bytes(&t.payload).expect("every reply parses");
            assert_eq!(reply.op, Op::Reply);
            if let Some(lease) = &t.lease {
                assert_eq!(reply.message_type, MessageType::Ack);
                assert_eq!(lease.ip, reply.yiaddr);
                assert!(
                    in_pools_or_reserved(lease.ip),
                    "{} is not ours to give",
                    lease.ip
                );
            }
        }
        while server.poll_event().is_some() {}
        server.check_invariants().unwrap();
        let mut held = HashSet::new();
        for l in server.leases() {
            if l.state == LeaseState::Bound && l.expires > now {
                assert!(held.insert(l.ip), "{} bound twice", l.ip);
            }
        }
    }
});
