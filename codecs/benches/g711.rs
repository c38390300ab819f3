//! G.711 encode and decode throughput, in bytes of 16-bit PCM per second.
use std::hint::black_box;

use codecs::g711;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// One second of 8 kHz PCM covering the whole range (a deterministic sweep, no RNG).
fn pcm() -> Vec<i16> {
    (0..8000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 16) as u16 as i16)
        .collect()
}

fn bench(c: &mut Criterion) {
    let pcm = pcm();
    let mut codes = vec![0u8; pcm.len()];
    let mut back = vec![0i16; pcm.len()];
    let mut group = c.benchmark_group("g711");
    group.throughput(Throughput::Bytes((pcm.len() * 2) as u64));
    group.bench_function("encode_ulaw", |b| {
        b.iter(|| g711::encode_ulaw(black_box(&pcm), &mut codes))
    });
    group.bench_function("encode_alaw", |b| {
        b.iter(|| g711::encode_alaw(black_box(&pcm), &mut codes))
    });
    g711::encode_ulaw(&pcm, &mut codes).unwrap();
    group.bench_function("decode_ulaw", |b| {
        b.iter(|| g711::decode_ulaw(black_box(&codes), &mut back))
    });
    group.bench_function("decode_alaw", |b| {
        b.iter(|| g711::decode_alaw(black_box(&codes), &mut back))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
