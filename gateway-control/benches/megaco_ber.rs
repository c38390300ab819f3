//! MEGACO binary codec (H.248.1 Annex A, BER) throughput: decode and encode a typical off-hook
//! Notify and an Add of a line and an RTP termination with Local and Remote SDP (the messages
//! of `megaco_text`, with termination ids in OTP's default binary form). Criterion reports
//! `thrpt` in messages per second on one core (issue 16's goal is at least 150,000/s for each).
//! Decoding reuses one arena, reset after each message, as a receive loop does.
//!
//! `cargo bench -p gateway-control --bench megaco_ber -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gateway_control::megaco::ber::{Arena, decode, encode};
use gateway_control::megaco::text::parse;

const NOTIFY: &[u8] = b"MEGACO/1 [192.0.2.2]:2944\n\
Transaction = 10002 {\n\
    Context = - {\n\
        Notify = 00000000/00000000/00000001 {\n\
            ObservedEvents = 2223 {\n\
                20261205T12000000:al/of {init=false}\n\
            }\n\
        }\n\
    }\n\
}\n";

const ADD: &[u8] = b"MEGACO/1 [192.0.2.1]:2944\n\
Transaction = 10003 {\n\
    Context = $ {\n\
        Add = 00000000/00000000/00000001,\n\
        Add = $ {\n\
            Media {\n\
                Stream = 1 {\n\
                    LocalControl {\n\
                        Mode = SendReceive,\n\
                        nt/jit = 40\n\
                    },\n\
                    Local {\n\
v=0\n\
c=IN IP4 $\n\
m=audio $ RTP/AVP 0 8\n\
a=ptime:20\n\
},\n\
                    Remote {\n\
v=0\n\
o=- 4242 4242 IN IP4 192.0.2.1\n\
s=-\n\
c=IN IP4 192.0.2.1\n\
t=0 0\n\
m=audio 16384 RTP/AVP 0\n\
a=rtpmap:0 PCMU/8000\n\
a=ptime:20\n\
}\n\
                }\n\
            },\n\
            Events = 2224 {al/on {strict=state}}\n\
        }\n\
    }\n\
}\n";

fn bench(c: &mut Criterion) {
    let mut group = c.benchmark_group("megaco_ber");
    group.throughput(Throughput::Elements(1));
    for (name, text) in [("notify", NOTIFY), ("add_sdp", ADD)] {
        let message = parse(text).expect("parses");
        let mut bytes = Vec::new();
        encode(&message, &mut bytes).expect("encodes");
        let mut arena = Arena::new();
        group.bench_function(format!("decode/{name}"), |b| {
            b.iter(|| {
                let n = decode(black_box(&bytes), &arena).expect("decodes").version;
                arena.reset();
                n
            })
        });
        let mut out = Vec::with_capacity(2048);
        group.bench_function(format!("encode/{name}"), |b| {
            b.iter(|| {
                out.clear();
                encode(black_box(&message), &mut out).expect("encodes");
                black_box(out.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
