//! RTP parse rate for a typical 172-byte G.711 packet (12-byte header + 160 bytes).
use std::hint::black_box;

use codecs::rtp::{Csrcs, Packet, Repr, SequenceNumber, Ssrc, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let payload = [0xD5u8; 160];
    let repr = Repr {
        marker: false,
        payload_type: 0,
        sequence_number: SequenceNumber(4711),
        timestamp: Timestamp(123_456),
        ssrc: Ssrc(0xdead_beef),
        csrcs: Csrcs::default(),
        extension: None,
        payload: &payload,
        padding: 0,
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut buf).unwrap();
    assert_eq!(buf.len(), 172);
    let mut group = c.benchmark_group("rtp");
    group.throughput(Throughput::Elements(1));
    group.bench_function("parse_172", |b| {
        b.iter(|| {
            let p = Packet::new_checked(black_box(&buf[..])).unwrap();
            Repr::parse(&p).unwrap().payload.len()
        })
    });
    group.bench_function("emit_172", |b| b.iter(|| black_box(&repr).emit(&mut buf)));
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
