//! Call-progress detection throughput, in samples per second of one stream (each stream
//! being 8,000 samples per second, samples/s ÷ 8,000 is the streams one core can watch).
use std::hint::black_box;

use codecs::progress::Detector;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// Ten seconds of busy tone (480+620 Hz, 0.5 s / 0.5 s), as a watched trunk hears it.
fn busy() -> Vec<i16> {
    (0..80_000usize)
        .map(|i| {
            if i % 8000 >= 4000 {
                return 0;
            }
            let t = i as f32 / 8000.0;
            let s = (t * std::f32::consts::TAU * 480.0).sin()
                + (t * std::f32::consts::TAU * 620.0).sin();
            (s * 1600.0) as i16
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let pcm = busy();
    let mut group = c.benchmark_group("progress");
    group.throughput(Throughput::Elements(pcm.len() as u64));
    group.bench_function("detector_20ms_frames", |b| {
        b.iter(|| {
            let mut d = Detector::new();
            for f in pcm.chunks(160) {
                black_box(d.feed(black_box(f)));
            }
            d.heard()
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
