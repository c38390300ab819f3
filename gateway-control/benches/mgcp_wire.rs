//! MGCP codec throughput: parse and encode a typical NTFY, a CRCX carrying an SDP offer and its
//! 200 carrying the answer, and parse an audit answer with lines outside the grammar. Criterion reports `thrpt` in messages per second on one core (the
//! goal is at least 200,000/s for each).
//!
//! `cargo bench -p gateway-control --bench mgcp_wire -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gateway_control::mgcp::wire::{parse, parse_each};

const NTFY: &[u8] = b"NTFY 2001 aaln/1@[192.0.2.2] MGCP 1.0\r\n\
    N: ca@[192.0.2.1]:2727\r\n\
    X: 1A2B\r\n\
    O: L/hd,D/4,D/2,D/#\r\n";

const CRCX: &[u8] = b"CRCX 1204 aaln/1@[192.0.2.2] MGCP 1.0\r\n\
    C: A3C47F21456789F0\r\n\
    L: p:20, a:PCMU\r\n\
    M: sendrecv\r\n\
    X: 1A2C\r\n\
    R: L/hu(N),D/[0-9#*T](N)\r\n\
    \r\n\
    v=0\r\n\
    o=- 4242 4242 IN IP4 192.0.2.1\r\n\
    s=-\r\n\
    c=IN IP4 192.0.2.1\r\n\
    t=0 0\r\n\
    m=audio 16384 RTP/AVP 0 8 101\r\n\
    a=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:8 PCMA/8000\r\n\
    a=rtpmap:101 telephone-event/8000\r\n\
    a=fmtp:101 0-15\r\n\
    a=ptime:20\r\n";

const CRCX_OK: &[u8] = b"200 1204 OK\r\n\
    I: FDE234C8\r\n\
    \r\n\
    v=0\r\n\
    o=- 777 777 IN IP4 192.0.2.2\r\n\
    s=-\r\n\
    c=IN IP4 192.0.2.2\r\n\
    t=0 0\r\n\
    m=audio 4000 RTP/AVP 0 101\r\n\
    a=rtpmap:0 PCMU/8000\r\n\
    a=rtpmap:101 telephone-event/8000\r\n\
    a=fmtp:101 0-15\r\n\
    a=ptime:20\r\n";

/// An audit answer as Cisco IOS writes it (issue 15): an empty `I:` and an `M:` listing modes,
/// both kept unread, a vendor line, and the hook state.
const AUEP_FIELD: &[u8] = b"200 1203 OK\r\n\
    I:\r\n\
    M: sendonly, recvonly, sendrecv, inactive\r\n\
    X-CISCO-INFO: vg224\r\n\
    ES: L/hu\r\n";

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("mgcp_wire");
    group.throughput(Throughput::Elements(1));
    for (name, bytes) in [("ntfy", NTFY), ("crcx_sdp", CRCX), ("200_sdp", CRCX_OK)] {
        group.bench_function(format!("parse/{name}"), |b| {
            b.iter(|| parse(black_box(bytes)).expect("parses"))
        });
        // What the call agent calls: each piggy-backed message on its own.
        group.bench_function(format!("parse_each/{name}"), |b| {
            b.iter(|| parse_each(black_box(bytes)).expect("parses"))
        });
        let messages = parse(bytes).expect("parses");
        let message = &messages[0];
        let mut out = Vec::with_capacity(1024);
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                out.clear();
                black_box(message).encode(&mut out);
                black_box(out.len())
            })
        });
        let mut encoded = Vec::new();
        message.encode(&mut encoded);
        assert_eq!(encoded, bytes, "the bench messages are canonical");
    }
    group.bench_function("parse_each/auep_field", |b| {
        b.iter(|| parse_each(black_box(AUEP_FIELD)).expect("parses"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
