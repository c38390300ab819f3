//! Messages between sites (issue 24) next to messages within one site, in one run, through the
//! whole appliance: the real `offhook serve` twice (sites `hq` and `branch`) on a real 3-node
//! NATS JetStream cluster (`nats-server`), all on loopback.
//!
//! alice at hq sends `N` messages (a `SECONDS`-second tone WAV each, one `POST` after another)
//! to carol at hq, then `N` to bob@branch; carol and bob are online (`offhook listen`). Printed
//! for each: the rate from the first `POST` to the last message's arrival, and the latency of
//! each message from its `POST` answered (acknowledged, durable at hq) to its `message` event
//! at the recipient's client (p50/p99/max). Both include transcoding at hq; the cross-site one
//! adds the outbox, JetStream (3 replicas, file storage) and storing at branch.
//!
//! `cargo build --release --bins && N=300 SECONDS=2 cargo bench -p offhook-tests --bench federation`
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use offhook_tests::nats::{NatsCluster, wait_listed};
use offhook_tests::{Lines, Server, env_or, tone_wav};
use serde_json::Value;

/// Set once a run's messages have all arrived (its listener's end is expected from then on).
static RUN_OVER: AtomicBool = AtomicBool::new(false);

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// The `q` quantile of `v` (sorted here).
fn quantile(v: &mut [f64], q: f64) -> f64 {
    v.sort_by(f64::total_cmp);
    let i = ((v.len() as f64 - 1.0) * q).round() as usize;
    v.get(i).copied().unwrap_or(f64::NAN)
}

/// Reads `lines` on a thread: each `message` event's id, with when it was read.
fn arrivals(mut lines: Lines) -> mpsc::Receiver<(String, Instant)> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        loop {
            // (A recipient's client that hears nothing for 30 s ends the bench: every message
            // is expected well before.)
            let e = lines.next_event();
            if e["event"] == "message"
                && let Some(id) = e["id"].as_str()
                && tx.send((id.to_owned(), Instant::now())).is_err()
            {
                return;
            }
        }
    });
    rx
}

/// Sends `n` messages from alice (token `alice`) to `to`; prints the rate and latencies.
fn run(label: &str, hq: &Server, alice: &str, to: &str, audio: &[u8], listen: Lines, n: usize) {
    RUN_OVER.store(false, Ordering::SeqCst);
    let got = arrivals(listen);
    let mut sent: HashMap<String, Instant> = HashMap::new();
    let start = Instant::now();
    for _ in 0..n {
        let r = hq.post_message(alice, &[to], audio.to_vec());
        assert!(r.status().is_success(), "POST: {}", r.status());
        let id = r.json::<Value>().expect("json")["id"]
            .as_str()
            .expect("id")
            .to_owned();
        sent.insert(id, Instant::now());
    }
    let posted = start.elapsed();
    let mut latencies = Vec::with_capacity(n);
    let mut last = start;
    while latencies.len() < n {
        let (id, at) = got
            .recv_timeout(Duration::from_secs(120))
            .expect("every message arrives");
        if let Some(acked) = sent.get(&id) {
            latencies.push(ms(at.saturating_duration_since(*acked)));
            last = at;
        }
    }
    RUN_OVER.store(true, Ordering::SeqCst);
    let total = last.duration_since(start).as_secs_f64();
    println!(
        "{label}: {n} messages, posted in {:.2} s ({:.0}/s), all delivered after {total:.2} s: {:.1} messages/s; latency POST answered -> recipient's client: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        posted.as_secs_f64(),
        n as f64 / posted.as_secs_f64(),
        n as f64 / total,
        quantile(&mut latencies, 0.5),
        quantile(&mut latencies, 0.99),
        quantile(&mut latencies, 1.0),
    );
}

fn main() {
    // A listener's thread waits for more once its run is over, and fails when its server
    // stops: said only while its run is under way.
    let say = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().name() == Some("main") || !RUN_OVER.load(Ordering::SeqCst) {
            say(info);
        }
    }));
    let n: usize = env_or("N", 300);
    let seconds: u32 = env_or("SECONDS", 2);
    let cluster = NatsCluster::start(3);
    let section = |site: &str| {
        format!(
            "[federation]\nsite = \"{site}\"\n{}\n[messages]\nupload_rate = \"off\"\n",
            cluster.servers_toml()
        )
    };
    let hq = Server::start(&section("hq"));
    let branch = Server::start(&section("branch"));
    hq.add_user("alice");
    hq.add_user("carol");
    branch.add_user("bob");
    let alice = hq.login("alice");
    wait_listed(&hq, &alice, "bob@branch");
    let dir = tempfile::tempdir().expect("tmp");
    let audio = tone_wav(&dir.path().join("t.wav"), seconds * 1000);
    println!(
        "{n} messages of {seconds} s each, one POST after another; NATS: 3 nodes, R3, file storage"
    );
    run(
        "one site  (alice@hq -> carol@hq)  ",
        &hq,
        &alice,
        "carol",
        &audio,
        hq.listen("carol", &[]),
        n,
    );
    run(
        "two sites (alice@hq -> bob@branch)",
        &hq,
        &alice,
        "bob@branch",
        &audio,
        branch.listen("bob", &[]),
        n,
    );
}
