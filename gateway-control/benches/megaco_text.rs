//! MEGACO text codec throughput: parse and encode (pretty and compact) a typical off-hook
//! Notify and an Add of a line and an RTP termination with Local and Remote SDP, each in both
//! forms. Criterion reports `thrpt` in messages per second on one core (issue 16's goal is at
//! least 150,000/s for each).
//!
//! `cargo bench -p gateway-control --bench megaco_text -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use gateway_control::megaco::text::{Form, encode, parse};

const NOTIFY: &[u8] = b"MEGACO/1 [192.0.2.2]:2944\n\
Transaction = 10002 {\n\
    Context = - {\n\
        Notify = al/1 {\n\
            ObservedEvents = 2223 {\n\
                20261205T12000000:al/of {init=false}\n\
            }\n\
        }\n\
    }\n\
}\n";

const ADD: &[u8] = b"MEGACO/1 [192.0.2.1]:2944\n\
Transaction = 10003 {\n\
    Context = $ {\n\
        Add = al/1,\n\
        Add = rtp/$ {\n\
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
    let mut group = c.benchmark_group("megaco_text");
    group.throughput(Throughput::Elements(1));
    for (name, pretty) in [("notify", NOTIFY), ("add_sdp", ADD)] {
        let message = parse(pretty).expect("parses");
        let mut compact = Vec::new();
        encode(&message, Form::Compact, &mut compact);
        for (form_name, form, bytes) in [
            ("pretty", Form::Pretty, pretty),
            ("compact", Form::Compact, compact.as_slice()),
        ] {
            group.bench_function(format!("parse/{name}/{form_name}"), |b| {
                b.iter(|| parse(black_box(bytes)).expect("parses"))
            });
            let mut out = Vec::with_capacity(2048);
            group.bench_function(format!("encode/{name}/{form_name}"), |b| {
                b.iter(|| {
                    out.clear();
                    encode(black_box(&message), form, &mut out);
                    black_box(out.len())
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
