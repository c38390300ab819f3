//! Throughput of sealing (AES-256-GCM), xz on G.711 µ-law speech, and voice clean-up.
//!
//! `cargo bench -p codecs --bench seal_xz -- --warm-up-time 1 --measurement-time 3`
//! The xz ratios are printed once at start-up; clean-up speed in multiples of real time is the
//! fixture's 11.4 s divided by the reported time.
use std::hint::black_box;

use codecs::cleanup::{Analyzer, Config, Processor};
use codecs::seal::{Compression, Key, open, seal};
use codecs::xz::{self, DecodeLimits, Preset};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

const FIXTURES: &str = "/work/shared/fixtures";

fn speech(rate: u32) -> Vec<i16> {
    let name = if rate == 8000 {
        "speech-8k.wav"
    } else {
        "speech-16k.wav"
    };
    let mut r = hound::WavReader::open(format!("{FIXTURES}/{name}")).expect("fixture");
    r.samples::<i16>().map(|s| s.expect("sample")).collect()
}

/// G.711 µ-law encoding (ITU-T G.711 segment/mantissa layout), private to the bench so that it
/// does not depend on `codecs::g711`, which is written in parallel.
fn ulaw(x: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let v = i32::from(x);
    let sign = if v < 0 { 0x80 } else { 0 };
    let mag = v.abs().min(CLIP) + BIAS;
    let exp = (7 - (mag >> 7).leading_zeros().saturating_sub(24) as i32).clamp(0, 7);
    let mant = (mag >> (exp + 3)) & 0x0F;
    !(sign | (exp << 4) as u8 | mant as u8)
}

fn seal_benches(c: &mut Criterion) {
    let key = Key::generate();
    let id = b"4b1f0c3e-9a8d-4e67-b1a2-0c9d8e7f6a5b";
    let plain: Vec<u8> = (0..1 << 20)
        .map(|i: u32| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let env = seal(&key, id, &plain, Compression::None).unwrap();
    let mut g = c.benchmark_group("aes256gcm");
    g.throughput(Throughput::Bytes(plain.len() as u64));
    g.bench_function("seal_1MiB", |b| {
        b.iter(|| seal(&key, id, black_box(&plain), Compression::None).unwrap())
    });
    g.bench_function("open_1MiB", |b| {
        b.iter(|| open(&key, id, black_box(&env), u64::MAX).unwrap())
    });
    g.finish();
}

fn xz_benches(c: &mut Criterion) {
    let mu: Vec<u8> = speech(8000).into_iter().map(ulaw).collect();
    for level in [0, 6, 9] {
        let z = xz::compress(&mu, Preset::new(level).unwrap()).unwrap();
        println!(
            "xz preset {level}: µ-law speech {} -> {} bytes, ratio {:.3}",
            mu.len(),
            z.len(),
            z.len() as f64 / mu.len() as f64
        );
    }
    let mut g = c.benchmark_group("xz_ulaw_speech");
    g.throughput(Throughput::Bytes(mu.len() as u64));
    for level in [0, 6, 9] {
        let p = Preset::new(level).unwrap();
        g.bench_function(format!("compress_preset{level}"), |b| {
            b.iter(|| xz::compress(black_box(&mu), p).unwrap())
        });
    }
    let z = xz::compress(&mu, Preset::new(6).unwrap()).unwrap();
    g.bench_function("decompress_preset6", |b| {
        b.iter(|| xz::decompress(black_box(&z), DecodeLimits::default()).unwrap())
    });
    g.finish();
}

fn cleanup_benches(c: &mut Criterion) {
    let mut g = c.benchmark_group("cleanup_11.4s");
    for rate in [8000u32, 16000] {
        let x = speech(rate);
        g.throughput(Throughput::Elements(x.len() as u64));
        g.bench_function(format!("two_pass_{}k", rate / 1000), |b| {
            b.iter(|| {
                let cfg = Config::new(rate).unwrap();
                let mut a = Analyzer::new(cfg);
                for f in x.chunks(160) {
                    a.feed(f);
                }
                let plan = a.finish();
                let mut p = Processor::new(&plan);
                let mut out = Vec::with_capacity(x.len());
                for f in x.chunks(160) {
                    p.feed(f, &mut out);
                }
                p.finish(&mut out).unwrap();
                out
            })
        });
    }
    g.finish();
}

criterion_group!(benches, seal_benches, xz_benches, cleanup_benches);
criterion_main!(benches);
