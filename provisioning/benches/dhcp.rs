//! The DHCP server core alone (no sockets): DISCOVER/OFFER/REQUEST/ACK exchanges per second,
//! with 30,000 clients in a 60,000-address pool, and with 30,000 leases already held.
//!
//! `cargo bench -p provisioning --bench dhcp`; the element rate is DORA exchanges per second.

use std::borrow::Cow;
use std::hint::black_box;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use provisioning::Mac;
use provisioning::dhcp::wire::{DhcpOption, MessageType, Op, Repr, Xid, code};
use provisioning::dhcp::{Config, Lease, LeaseState, Options, RateLimit, Server, Subnet, UnixTime};

const CLIENTS: u32 = 30_000;
const SERVER_IP: Ipv4Addr = Ipv4Addr::new(10, 20, 0, 1);
const NOW: UnixTime = UnixTime(1_800_000_000);

fn config() -> Config {
    let subnet = Subnet::new(Ipv4Addr::new(10, 20, 0, 0), 16)
        .and_then(|s| {
            s.range(
                Ipv4Addr::new(10, 20, 0, 10),
                Ipv4Addr::new(10, 20, 234, 105),
            )
        })
        .and_then(|s| {
            s.options(Options {
                lease_time: Some(Duration::from_secs(3600)),
                routers: vec![SERVER_IP],
                dns: vec![SERVER_IP],
                domain: Some("phones.lan".into()),
                tftp_server: Some("10.20.0.1".into()),
                ..Options::default()
            })
        })
        .expect("bench subnet");
    let mut c = Config::default();
    c.subnet(subnet).expect("one subnet");
    c.new_clients(RateLimit {
        per_second: 0,
        burst: 0,
    });
    c
}

fn mac(n: u32) -> Mac {
    let b = n.to_be_bytes();
    Mac([0x02, 0x42, b[0], b[1], b[2], b[3]])
}

fn message(kind: MessageType, n: u32, requested: Option<Ipv4Addr>) -> Vec<u8> {
    let mut options = vec![DhcpOption::new(
        code::PARAMETER_REQUEST_LIST,
        vec![1, 3, 6, 15, 66],
    )];
    if let Some(ip) = requested {
        options.push(DhcpOption::new(code::REQUESTED_IP, ip.octets().to_vec()));
        options.push(DhcpOption::new(
            code::SERVER_ID,
            SERVER_IP.octets().to_vec(),
        ));
    }
    Repr {
        op: Op::Request,
        hops: 0,
        xid: Xid(n),
        secs: 0,
        broadcast: false,
        ciaddr: Ipv4Addr::UNSPECIFIED,
        yiaddr: Ipv4Addr::UNSPECIFIED,
        siaddr: Ipv4Addr::UNSPECIFIED,
        giaddr: Ipv4Addr::UNSPECIFIED,
        chaddr: mac(n),
        sname: Cow::Borrowed(b""),
        file: Cow::Borrowed(b""),
        message_type: kind,
        options,
    }
    .to_vec(1500)
    .expect("a small request encodes")
}

/// One full exchange for client `n`: DISCOVER, read the OFFER, REQUEST it, read the ACK.
fn dora(server: &mut Server, discover: &[u8], n: u32) {
    let from = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68);
    server.handle_datagram(NOW, from, discover);
    let offer = server.poll_transmit().expect("an offer");
    let yiaddr = Repr::parse_bytes(&offer.payload)
        .expect("offer parses")
        .yiaddr;
    server.handle_datagram(NOW, from, &message(MessageType::Request, n, Some(yiaddr)));
    let ack = server.poll_transmit().expect("an ack");
    black_box(ack.lease.expect("the ack carries its lease"));
    while server.poll_event().is_some() {}
}

fn held_leases(count: u32) -> Vec<Lease> {
    (0..count)
        .map(|i| Lease {
            mac: mac(1_000_000 + i),
            ip: Ipv4Addr::from(u32::from(Ipv4Addr::new(10, 20, 0, 10)) + i * 2),
            expires: UnixTime(NOW.0 + 3600),
            state: LeaseState::Bound,
            hostname: None,
            vendor_class: None,
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let discovers: Vec<Vec<u8>> = (0..CLIENTS)
        .map(|n| message(MessageType::Discover, n, None))
        .collect();
    let mut g = c.benchmark_group("dhcp_core");
    g.sample_size(10);
    g.throughput(Throughput::Elements(u64::from(CLIENTS)));
    g.bench_function("dora_30000_clients", |b| {
        b.iter_batched(
            || Server::new(config(), SERVER_IP, []).expect("config"),
            |mut server| {
                for (n, d) in discovers.iter().enumerate() {
                    dora(&mut server, d, n as u32);
                }
                server
            },
            BatchSize::LargeInput,
        );
    });
    g.bench_function("dora_30000_clients_with_30000_held", |b| {
        let held = held_leases(CLIENTS);
        b.iter_batched(
            || Server::new(config(), SERVER_IP, held.clone()).expect("config"),
            |mut server| {
                for (n, d) in discovers.iter().enumerate() {
                    dora(&mut server, d, n as u32);
                }
                server
            },
            BatchSize::LargeInput,
        );
    });
    g.bench_function("dora_again_30000_bound", |b| {
        b.iter_batched(
            || {
                let mut server = Server::new(config(), SERVER_IP, []).expect("config");
                for (n, d) in discovers.iter().enumerate() {
                    dora(&mut server, d, n as u32);
                }
                server
            },
            |mut server| {
                for (n, d) in discovers.iter().enumerate() {
                    dora(&mut server, d, n as u32);
                }
                server
            },
            BatchSize::LargeInput,
        );
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
