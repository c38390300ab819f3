//! What one stored message costs: `pipeline::ingest` on 10 s of speech, from the sealed upload
//! (as the upload spool holds it) to the sealed Ogg Opus message, on one thread.
//!
//! Two ways through, on the same input in the same run:
//! - `old`: the upload opened into an unlinked scratch file, then the two-pass streaming path
//!   (decode + resample + analyse, rewind, decode + resample + clean + encode);
//! - `new`: the upload opened into memory and decoded once (the path `ingest` takes for
//!   messages up to [`pipeline::IngestConfig::in_memory`]).
//!
//! Time is the thread's CPU time (`/proc/thread-self/schedstat`), so the figure holds per core on
//! a shared machine; the wall time is printed beside it. The paths take turns in 5 rounds (so a
//! neighbour's load falls on both alike); "best round" is the lowest per-message CPU time of a
//! round.
//!
//! `cargo bench -p codecs --bench ingest` with, optionally, `INGEST_MESSAGES` (default 100),
//! `INGEST_PATHS` (`old,new`), `INGEST_COMPLEXITY` (`10,8,5`: one row per complexity; an entry
//! may name a bit rate too, `8@16000`, and `stored` is the stored-message setting of the rate,
//! [`codecs::opus::stored_complexity`]; default `stored`) and `INGEST_FIXTURES` (a directory holding `speech-8k.wav` and
//! `speech-16k.wav`; default `/work/shared/fixtures`, falling back to the 8 kHz test fixture).
// A benchmark measures time.
#![allow(clippy::disallowed_methods)]

use std::fs::File;
use std::io::{BufReader, Cursor, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use codecs::pipeline::{IngestConfig, ingest};
use codecs::seal::{Compression, Key, OpenReader, SealWriter};
use codecs::wav::{WavReader, WavWriter};

const ID: &[u8] = b"0b8c54e2-5b0e-4c57-9a57-3f1d2e5c9a10";
/// Each path's messages run in this many rounds, the paths taking turns.
const ROUNDS: usize = 5;

fn thread_cpu_ns() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    stat.split_whitespace().next()?.parse().ok()
}

fn env_list(name: &str, default: &str) -> Vec<String> {
    std::env::var(name)
        .unwrap_or_else(|_| default.to_string())
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// `seconds` of the fixture at `path` (repeated if shorter) as a 16-bit mono WAV.
fn message(path: &Path, seconds: u32) -> (u32, Vec<u8>) {
    let mut reader = WavReader::new(BufReader::new(File::open(path).expect("fixture"))).unwrap();
    let rate = reader.spec().sample_rate;
    let mut all = Vec::new();
    let mut buf = [0i16; 4096];
    loop {
        let n = reader.read_mono(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    let want = (rate * seconds) as usize;
    let pcm: Vec<i16> = all.iter().copied().cycle().take(want).collect();
    let mut wav = Cursor::new(Vec::new());
    let mut w = WavWriter::new(&mut wav, rate, 1, Some(pcm.len() as u64)).unwrap();
    w.write_samples(&pcm).unwrap();
    w.finish().unwrap();
    (rate, wav.into_inner())
}

fn seal(key: &Key, wav: &[u8]) -> Vec<u8> {
    let mut w = SealWriter::new(key, ID, Vec::new(), Compression::None).unwrap();
    w.write_all(wav).unwrap();
    w.finish().unwrap()
}

/// The old way: the opened upload copied into an unlinked scratch file, read twice.
fn old_path(key: &Key, upload: &[u8], scratch_dir: &Path, config: &IngestConfig) -> u64 {
    let scratch_path = scratch_dir.join("ingest-bench.scratch.tmp");
    let mut scratch = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&scratch_path)
        .unwrap();
    std::fs::remove_file(&scratch_path).unwrap();
    let mut opened = OpenReader::new(key, ID, upload, u64::MAX).unwrap();
    std::io::copy(&mut opened, &mut scratch).unwrap();
    scratch.seek(SeekFrom::Start(0)).unwrap();
    let config = IngestConfig {
        in_memory: Duration::ZERO,
        ..config.clone()
    };
    let mut out = Vec::with_capacity(32 << 10);
    ingest(BufReader::new(scratch), &mut out, key, ID, &config)
        .unwrap()
        .stored_bytes
}

/// The new way: the opened upload read into memory, decoded once.
fn new_path(key: &Key, upload: &[u8], config: &IngestConfig) -> u64 {
    let mut opened = OpenReader::new(key, ID, upload, u64::MAX).unwrap();
    let mut plain = Vec::with_capacity(upload.len());
    opened.read_to_end(&mut plain).unwrap();
    let mut out = Vec::with_capacity(32 << 10);
    ingest(Cursor::new(plain), &mut out, key, ID, config)
        .unwrap()
        .stored_bytes
}

fn main() {
    let messages: usize = std::env::var("INGEST_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100);
    let paths = env_list("INGEST_PATHS", "old,new");
    // (complexity, bit rate); `None`: the stored-message setting.
    let complexities: Vec<(Option<u8>, Option<u32>)> = match std::env::var("INGEST_COMPLEXITY") {
        Ok(v) => v
            .split(',')
            .map(|c| {
                let (c, b) = c.trim().split_once('@').unwrap_or((c.trim(), ""));
                (c.parse().ok(), b.parse().ok())
            })
            .collect(),
        Err(_) => vec![(None, None)],
    };
    let dir = PathBuf::from(
        std::env::var("INGEST_FIXTURES").unwrap_or_else(|_| "/work/shared/fixtures".into()),
    );
    let test_fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/speech-8k.wav");
    let mut fixtures = Vec::new();
    for name in ["speech-8k.wav", "speech-16k.wav"] {
        let p = dir.join(name);
        if p.exists() {
            fixtures.push(p);
        } else if name == "speech-8k.wav" {
            fixtures.push(test_fixture.clone());
        }
    }
    let key = Key::from_bytes([7; 32]);
    let scratch_dir = std::env::temp_dir();
    println!("# ingest: 10 s speech messages, {messages} per row, one thread");
    println!(
        "{:16} {:>13} {:>4} {:>12} {:>12} {:>12} {:>10} {:>12}",
        "fixture",
        "complexity",
        "path",
        "CPU ms/msg",
        "best round",
        "wall ms/msg",
        "msg/s/core",
        "stored bytes"
    );
    for fixture in &fixtures {
        let (_, wav) = message(fixture, 10);
        let upload = seal(&key, &wav);
        let name = fixture.file_name().unwrap().to_string_lossy().to_string();
        for &(complexity, bitrate) in &complexities {
            let default = IngestConfig::default();
            let config = IngestConfig {
                complexity,
                bitrate: bitrate.unwrap_or(default.bitrate),
                ..default
            };
            let setting = format!(
                "{}@{}",
                complexity.map_or_else(|| "stored".to_owned(), |c| c.to_string()),
                config.bitrate
            );
            // Paths alternate in rounds, so that a neighbour's load falls on each alike.
            let run = |path: &str| match path {
                "old" => old_path(&key, &upload, &scratch_dir, &config),
                _ => new_path(&key, &upload, &config),
            };
            let mut cpu = vec![0f64; paths.len()];
            let mut wall = vec![0f64; paths.len()];
            let mut best = vec![f64::MAX; paths.len()];
            let mut bytes = vec![0u64; paths.len()];
            for (i, path) in paths.iter().enumerate() {
                bytes[i] = run(path); // warm-up
            }
            let per_round = messages.div_ceil(ROUNDS);
            for _ in 0..ROUNDS {
                for (i, path) in paths.iter().enumerate() {
                    let (cpu0, t0) = (thread_cpu_ns(), Instant::now());
                    for _ in 0..per_round {
                        std::hint::black_box(run(path));
                    }
                    let w = t0.elapsed().as_secs_f64() * 1000.0;
                    let c = match (cpu0, thread_cpu_ns()) {
                        (Some(a), Some(b)) => (b - a) as f64 / 1e6,
                        _ => w,
                    };
                    cpu[i] += c;
                    wall[i] += w;
                    best[i] = best[i].min(c / per_round as f64);
                }
            }
            let n = (per_round * ROUNDS) as f64;
            for (i, path) in paths.iter().enumerate() {
                println!(
                    "{:16} {:>13} {:>4} {:>12.2} {:>12.2} {:>12.2} {:>10.1} {:>12}",
                    name,
                    setting,
                    path,
                    cpu[i] / n,
                    best[i],
                    wall[i] / n,
                    n * 1000.0 / cpu[i],
                    bytes[i]
                );
            }
        }
    }
}
