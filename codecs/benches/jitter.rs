//! Jitter-buffer cost per packet: one push and one pop of a 20 ms G.711 frame, in steady state.
#![allow(clippy::disallowed_methods)] // Instant::now only as an arbitrary origin for virtual time.
use std::time::{Duration, Instant};

use codecs::jitter::{Config, JitterBuffer};
use codecs::rtp::{Csrcs, Repr, SequenceNumber, Ssrc, Timestamp};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

fn bench(c: &mut Criterion) {
    let payload = [0x55u8; 160];
    let mut jb = JitterBuffer::new(Config::default());
    let t0 = Instant::now();
    let mut n: u64 = 0;
    let mut group = c.benchmark_group("jitter");
    group.throughput(Throughput::Elements(1));
    group.bench_function("push_pop", |b| {
        b.iter(|| {
            let now = t0 + Duration::from_millis(20 * n);
            let repr = Repr {
                marker: n == 0,
                payload_type: 8,
                sequence_number: SequenceNumber(n as u16),
                timestamp: Timestamp((160 * n) as u32),
                ssrc: Ssrc(1),
                csrcs: Csrcs::default(),
                extension: None,
                payload: &payload,
                padding: 0,
            };
            jb.push(now, &repr);
            let played = jb.pop(now).map(|f| f.pcm[0]);
            n += 1;
            played
        })
    });
    group.finish();
    assert_eq!(jb.stats().lost, 0);
    assert_eq!(jb.stats().concealed, 0);
}

criterion_group!(benches, bench);
criterion_main!(benches);
