//! Opus encode speed at 8 and 16 kHz (16 kbit/s, libopus' default complexity), through our
//! wrapper and through the `opus` binding directly. Throughput is in samples per second:
//! divide by the sample rate for multiples of real time on one core.
//!
//! Time is the benchmark thread's CPU time (from `/proc/thread-self/schedstat`), not wall time,
//! so "per core" holds on a machine shared with other jobs; on systems without that file it falls
//! back to wall time.
//!
//! `cargo bench -p codecs --bench opus -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;

use codecs::opus::{Encoder, EncoderConfig, MAX_PACKET_LEN};
use codecs::resample::resample;
use codecs::wav::WavReader;
use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};

/// CPU time of the current thread in nanoseconds.
struct ThreadCpuTime {
    wall: WallTime,
}

fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

impl Measurement for ThreadCpuTime {
    type Intermediate = (Option<u64>, <WallTime as Measurement>::Intermediate);
    type Value = f64;

    fn start(&self) -> Self::Intermediate {
        (thread_cpu_ns(), self.wall.start())
    }

    fn end(&self, (cpu, wall): Self::Intermediate) -> f64 {
        match (cpu, thread_cpu_ns()) {
            (Some(a), Some(b)) => b.saturating_sub(a) as f64,
            _ => self.wall.end(wall).as_nanos() as f64,
        }
    }

    fn add(&self, a: &f64, b: &f64) -> f64 {
        a + b
    }

    fn zero(&self) -> f64 {
        0.0
    }

    fn to_f64(&self, v: &f64) -> f64 {
        *v
    }

    fn formatter(&self) -> &dyn ValueFormatter {
        // nanoseconds, like wall time
        self.wall.formatter()
    }
}

fn speech(rate: u32) -> Vec<i16> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/speech-8k.wav");
    let mut r = WavReader::new(std::fs::File::open(path).expect("speech fixture")).expect("wav");
    let mut pcm = vec![0i16; 120_000];
    let mut n = 0;
    loop {
        let got = r.read_mono(&mut pcm[n..]).expect("wav data");
        if got == 0 {
            break;
        }
        n += got;
    }
    pcm.truncate(n);
    let mut pcm = resample(&pcm, 8000, rate).expect("resample");
    // whole 20 ms frames only
    let frame = rate as usize / 50;
    pcm.truncate(pcm.len() / frame * frame);
    pcm
}

fn bench_encode(c: &mut Criterion<ThreadCpuTime>) {
    let mut group = c.benchmark_group("opus_encode_16kbps");
    for rate in [8000u32, 16000] {
        let pcm = speech(rate);
        let frame = rate as usize / 50;
        group.throughput(Throughput::Elements(pcm.len() as u64));
        group.bench_function(format!("wrapper_{}k", rate / 1000), |b| {
            let mut enc = Encoder::new(EncoderConfig::new(rate).unwrap()).unwrap();
            let mut out = [0u8; MAX_PACKET_LEN];
            b.iter(|| {
                let mut bytes = 0;
                for f in pcm.chunks_exact(frame) {
                    bytes += enc.encode(black_box(f), &mut out).unwrap();
                }
                bytes
            });
        });
        group.bench_function(format!("libopus_direct_{}k", rate / 1000), |b| {
            let mut enc =
                libopus::Encoder::new(rate, libopus::Channels::Mono, libopus::Application::Voip)
                    .unwrap();
            enc.set_bitrate(libopus::Bitrate::Bits(16_000)).unwrap();
            let mut out = [0u8; MAX_PACKET_LEN];
            b.iter(|| {
                let mut bytes = 0;
                for f in pcm.chunks_exact(frame) {
                    bytes += enc.encode(black_box(f), &mut out).unwrap();
                }
                bytes
            });
        });
    }
    // The same at complexity 5, the setting to use if a slower CPU must keep ≥150× at 8 kHz.
    let pcm = speech(8000);
    group.throughput(Throughput::Elements(pcm.len() as u64));
    group.bench_function("wrapper_8k_complexity5", |b| {
        let cfg = EncoderConfig::new(8000).unwrap().complexity(5).unwrap();
        let mut enc = Encoder::new(cfg).unwrap();
        let mut out = [0u8; MAX_PACKET_LEN];
        b.iter(|| {
            let mut bytes = 0;
            for f in pcm.chunks_exact(160) {
                bytes += enc.encode(black_box(f), &mut out).unwrap();
            }
            bytes
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .with_measurement(ThreadCpuTime { wall: WallTime })
        .sample_size(10);
    targets = bench_encode
}
criterion_main!(benches);
