//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use std::path::{Path, PathBuf};
use std::process::Command;

use codecs::wav::WavReader;

/// 11.4 s of natural speech, mono 16-bit PCM at 8 kHz (copy of the project's shared fixture).
pub fn speech_8k_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/speech-8k.wav")
}

/// A fresh scratch directory for one test.
pub fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("offhook-codecs-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create scratch dir");
    dir
}

fn has_tool(name: &str, probe: &str) -> bool {
    Command::new(name).arg(probe).output().is_ok()
}

/// Panics with an install hint when an opus-tools program is missing (CI installs them).
pub fn require_opus_tool(name: &str) {
    assert!(
        has_tool(name, "--version"),
        "`{name}` not found: install opus-tools (apt-get install opus-tools); CI installs it"
    );
}

/// Panics with an install hint when sox is missing (scripts/deps installs it): a test that
/// compares with sox must not pass without it.
pub fn require_sox() {
    assert!(
        has_tool("sox", "--version"),
        "`sox` not found: install sox (apt-get install sox); scripts/deps installs it"
    );
}

/// Runs a command and panics with its stderr if it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Reads a whole WAV file through our reader, downmixed to mono.
pub fn read_wav_mono(path: &Path) -> (u32, Vec<i16>) {
    let f = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut r = WavReader::new(std::io::BufReader::new(f)).expect("wav header");
    let rate = r.spec().sample_rate;
    let mut out = Vec::new();
    let mut buf = [0i16; 4096];
    loop {
        let n = r.read_mono(&mut buf).expect("wav data");
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(r.truncation(), None, "{} is truncated", path.display());
    (rate, out)
}

/// Highest normalised cross-correlation of `b` against `a` over lags in `-max_lag..=max_lag`,
/// and the lag where it occurs.
pub fn best_correlation(a: &[i16], b: &[i16], max_lag: isize) -> (f64, isize) {
    let mut best = (f64::MIN, 0);
    for lag in -max_lag..=max_lag {
        let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
        for (i, &x) in a.iter().enumerate() {
            let j = i as isize + lag;
            if j < 0 || j as usize >= b.len() {
                continue;
            }
            let y = f64::from(b[j as usize]);
            let x = f64::from(x);
            dot += x * y;
            na += x * x;
            nb += y * y;
        }
        let c = dot / (na * nb).sqrt().max(1.0);
        if c > best.0 {
            best = (c, lag);
        }
    }
    best
}
