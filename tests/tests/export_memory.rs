//! Audio export is streamed (issue 13, point 11), against the `offhook` binary: 24 clients fetch
//! the same 9.5-minute message as WAV (9.1 MB each) at once, all holding their downloads open
//! half-read, then reading to the end. Built whole in memory, the exports would take over
//! 200 MB; streamed, the server's peak resident memory grows by a fraction of that.
//!
//! The peak is the kernel's `VmHWM`, reset just before the fetches through
//! `/proc/PID/clear_refs` (the tests run as root).

use std::io::Read;
use std::sync::{Arc, Barrier};

use offhook_tests::{Server, speech_8k, wait_processed};

const CLIENTS: usize = 24;

fn status_kb(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("{field} in /proc/{pid}/status"))
}

/// The speech fixture repeated to `seconds` of 8 kHz 16-bit mono WAV.
fn long_wav(seconds: usize) -> Vec<u8> {
    let mut r = hound::WavReader::open(speech_8k()).unwrap();
    let speech: Vec<i16> = r.samples::<i16>().map(Result::unwrap).collect();
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
    for s in speech.iter().cycle().take(seconds * 8000) {
        w.write_sample(*s).unwrap();
    }
    w.finalize().unwrap();
    out.into_inner()
}

#[test]
fn concurrent_exports_of_a_long_message_are_streamed() {
    let server = Server::start("");
    server.add_user("alice");
    server.add_user("bob");
    let alice = server.login("alice");
    let r = server.post_message(&alice, &["bob"], long_wav(570));
    assert!(r.status().is_success(), "{:?}", r.text());
    let id = r.json::<serde_json::Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bob = server.login("bob");
    let m = wait_processed(&server, &bob, &id);
    assert_eq!(m["status"], "ready", "{m}");

    let pid = server.pid().expect("running");
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").expect("reset VmHWM (root)");
    let before = status_kb(pid, "VmHWM:");
    let half = Arc::new(Barrier::new(CLIENTS));
    let url = format!("{}/api/v1/messages/{id}/audio?format=wav", server.url);
    let fetches: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let (url, bob, half) = (url.clone(), bob.clone(), half.clone());
            std::thread::spawn(move || {
                let mut r = reqwest::blocking::Client::builder()
                    .timeout(std::time::Duration::from_secs(600))
                    .build()
                    .unwrap()
                    .get(url)
                    .bearer_auth(bob)
                    .send()
                    .expect("GET audio");
                assert_eq!(r.status(), 200);
                // Every download is open and half read before any goes on.
                let mut first = vec![0; 4_500_000];
                r.read_exact(&mut first).expect("the first half");
                half.wait();
                let mut rest = Vec::new();
                r.read_to_end(&mut rest).expect("the rest");
                first.len() + rest.len()
            })
        })
        .collect();
    let sizes: Vec<usize> = fetches.into_iter().map(|t| t.join().unwrap()).collect();
    let peak = status_kb(pid, "VmHWM:");
    // The same file for everyone, of the message's length (8 kHz, 16-bit: 16 bytes a ms).
    let whole = sizes[0];
    let ms = m["duration_ms"].as_u64().unwrap() as usize;
    assert!(
        whole.abs_diff(44 + ms * 16) <= 16 * 20,
        "{whole} bytes for {ms} ms"
    );
    assert!(sizes.iter().all(|&n| n == whole), "{sizes:?}");
    let grown_mb = (peak.saturating_sub(before)) / 1024;
    let built_whole_mb = (CLIENTS * whole / 1_000_000) as u64;
    println!(
        "peak RSS {before} kB -> {peak} kB (+{grown_mb} MB) for {CLIENTS} exports of {whole} bytes"
    );
    assert!(
        grown_mb < built_whole_mb / 3,
        "{CLIENTS} concurrent exports grew the server by {grown_mb} MB; built whole they would \
         hold {built_whole_mb} MB"
    );
}
