//! Messaging-core benchmarks against the real `offhook serve` (release build), on loopback:
//!
//! 1. memory per connected idle WebSocket client (10,000 clients; server RSS delta / clients);
//! 2. delivery latency from commit to the recipient's WebSocket, with 1,000 clients connected
//!    (the server stamps each push with its commit time; the client subtracts it from its own
//!    clock on receipt: same host, same clock);
//! 3. messages durably accepted per second (10 s recordings, acknowledged by `POST` answers once
//!    stored as received), and the sustained transcoding rate (until every one is ready).
//!
//! Run: `cargo bench -p appliance --bench messaging`. Sizes can be lowered with `BENCH_CLIENTS`,
//! `BENCH_LATENCY_MESSAGES`, `BENCH_THROUGHPUT_MESSAGES`, `BENCH_STORAGE_MESSAGES`, `BENCH_CONCURRENCY`;
//! `BENCH_OFFHOOK` names another `offhook` binary to run as the server (a copy of an earlier
//! build, for a before/after pair in one sitting).
// A benchmark measures wall-clock time.
#![allow(clippy::disallowed_methods)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::sync::{Semaphore, mpsc};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const PASSWORD: &str = "bench-password";

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

/// The first `ms` milliseconds of the 8 kHz speech fixture, as a WAV (speech, so the clean-up
/// trims little and the encoder does real work).
fn speech(ms: u32) -> Vec<u8> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../codecs/tests/data/speech-8k.wav"
    );
    let all = std::fs::read(path).expect("speech fixture");
    let data = all
        .windows(4)
        .position(|w| w == b"data")
        .expect("data chunk")
        + 8;
    let n = (ms as usize * 16).min(all.len() - data);
    let mut v = all[..data].to_vec();
    let len = u32::try_from(n).unwrap();
    v[data - 4..data].copy_from_slice(&len.to_le_bytes());
    v[4..8].copy_from_slice(&(u32::try_from(data).unwrap() - 8 + len).to_le_bytes());
    v.extend_from_slice(&all[data..data + n]);
    v
}

/// The `offhook` binary: this build's, or the one `BENCH_OFFHOOK` names (a copy of an earlier
/// build, for a before/after pair in one sitting).
fn offhook_exe() -> PathBuf {
    std::env::var_os("BENCH_OFFHOOK").map_or_else(
        || PathBuf::from(env!("CARGO_BIN_EXE_offhook")),
        PathBuf::from,
    )
}

struct Server {
    child: Child,
    url: String,
    data: PathBuf,
    config: PathBuf,
}

impl Server {
    fn start(data: &Path, config: &Path, url: &str) -> Self {
        let log = std::fs::File::create(data.with_extension("log")).expect("log");
        let child = Command::new(offhook_exe())
            .args(["serve", "--data-dir"])
            .arg(data)
            .arg("--config")
            .arg(config)
            .env("OFFHOOK_LOG", "warn")
            // A fixed mmap threshold makes glibc return argon2's 19 MiB login buffers to the
            // system when freed, instead of keeping them in its arenas where client allocations
            // would reuse them and hide from the RSS delta.
            .env("MALLOC_MMAP_THRESHOLD_", "131072")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn offhook serve");
        let s = Self {
            child,
            url: url.to_owned(),
            data: data.to_owned(),
            config: config.to_owned(),
        };
        let client = reqwest::blocking::Client::new();
        let end = Instant::now() + Duration::from_secs(30);
        while client
            .get(format!("{url}/api/v1/health"))
            .send()
            .map_or(true, |r| !r.status().is_success())
        {
            assert!(Instant::now() < end, "server did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        s
    }

    fn stop(mut self) -> (PathBuf, PathBuf, String) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
        (self.data.clone(), self.config.clone(), self.url.clone())
    }

    /// CPU seconds (user + system) the server has used so far.
    fn cpu_s(&self) -> f64 {
        cpu_seconds(&format!("/proc/{}/stat", self.child.id()))
    }

    fn rss_kb(&self) -> u64 {
        let s = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        s.lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // A panicking bench must not leave its server running.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn user_add(data: &Path, name: &str, admin: bool) {
    let mut c = Command::new(offhook_exe());
    c.args(["user", "add", name, "--password-stdin", "--data-dir"])
        .arg(data);
    if admin {
        c.arg("--admin");
    }
    let mut child = c
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("user add");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{PASSWORD}\n").as_bytes())
        .unwrap();
    assert!(child.wait().unwrap().success());
}

async fn login(http: &reqwest::Client, url: &str, user: &str) -> String {
    let v: Value = http
        .post(format!("{url}/api/v1/session"))
        .json(&json!({"username": user, "password": PASSWORD}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("login json");
    v["token"].as_str().expect("token").to_owned()
}

async fn metric(http: &reqwest::Client, url: &str, name: &str) -> i64 {
    let text = http
        .get(format!("{url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(name).map(str::trim))
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Opens a WebSocket that reads everything, acknowledges posts and reports their latency.
async fn client(
    url: String,
    token: String,
    latencies: mpsc::UnboundedSender<i64>,
) -> tokio::task::JoinHandle<()> {
    let mut req = format!("{}/api/v1/ws", url.replace("http://", "ws://"))
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let (ws, _) = tokio_tungstenite::connect_async(req)
        .await
        .expect("websocket");
    let (mut tx, mut rx) = ws.split();
    tokio::spawn(async move {
        while let Some(Ok(m)) = rx.next().await {
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap_or(Value::Null);
            if v["action"] == "post" {
                if let Some(c) = v["object"]["committed_us"].as_i64() {
                    let _ = latencies.send(now_us() - c);
                }
                let ack = json!({"action": "checkin", "id": uuid::Uuid::new_v4(), "source": uuid::Uuid::nil(),
                                 "object": {"message": v["object"]["id"]}});
                if tx
                    .send(Message::Text(ack.to_string().into()))
                    .await
                    .is_err()
                {
                    break;
                }
            }
        }
    })
}

async fn post(http: &reqwest::Client, url: &str, token: &str, to: &str, audio: Vec<u8>) -> bool {
    let part = reqwest::multipart::Part::bytes(audio)
        .file_name("m.wav")
        .mime_str("audio/wav")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("to", to.to_owned())
        .part("audio", part);
    http.post(format!("{url}/api/v1/messages"))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

/// utime + stime of a process from its `/proc/…/stat`, in seconds (clock ticks of 1/100 s).
fn cpu_seconds(stat_path: &str) -> f64 {
    let s = std::fs::read_to_string(stat_path).unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}

fn percentile(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn main() {
    if let Ok((_, hard)) = rlimit::Resource::NOFILE.get() {
        let _ = rlimit::Resource::NOFILE.set(hard, hard);
    }
    let fds = rlimit::Resource::NOFILE.get().map(|l| l.0).unwrap_or(0);
    println!("# messaging core benchmark (fd limit {fds})");
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}

async fn run() {
    let clients = env_usize("BENCH_CLIENTS", 10_000);
    let users = 200.min(clients).max(1);
    let per_user = clients.div_ceil(users);
    let latency_messages = env_usize("BENCH_LATENCY_MESSAGES", 1000);
    let throughput_messages = env_usize("BENCH_THROUGHPUT_MESSAGES", 3000);
    let concurrency = env_usize("BENCH_CONCURRENCY", 32);

    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let config = tmp.path().join("offhook.toml");
    std::fs::write(
        &config,
        // 10,000 clients over 200 users: 50 sessions each, above the default cap of 16. One
        // sender (alice) uploads every message, far beyond a user's quota and upload rate.
        format!(
            "[http]\nlisten = \"127.0.0.1:{port}\"\n[clients]\nping_interval = \"30s\"\nping_timeout = \"120s\"\nmax_sessions_per_user = {}\n[messages]\nquota_per_user = \"0\"\nupload_rate = \"off\"\n",
            per_user.max(16)
        ),
    )
    .unwrap();
    user_add(&data, "admin", true);
    user_add(&data, "alice", false);
    user_add(&data, "bob", false);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .unwrap();

    // Users for the clients, created through the admin API.
    let server = Server::start(&data, &config, &url);
    let admin = login(&http, &url, "admin").await;
    let gate = Arc::new(Semaphore::new(4));
    let mut tasks = Vec::new();
    for i in 0..users {
        let (http, url, admin, gate) = (http.clone(), url.clone(), admin.clone(), gate.clone());
        tasks.push(tokio::spawn(async move {
            let _p = gate.acquire().await;
            let r = http
                .post(format!("{url}/api/v1/users"))
                .bearer_auth(&admin)
                .json(&json!({"username": format!("u{i}"), "password": PASSWORD}))
                .send()
                .await
                .unwrap();
            assert!(r.status().is_success(), "create user: {}", r.status());
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    // A fresh server process for the memory figure.
    let (data, config, url) = server.stop();
    let server = Server::start(&data, &config, &url);
    let mut tokens = Vec::new();
    for i in 0..users {
        tokens.push(login(&http, &url, &format!("u{i}")).await);
    }
    let alice = login(&http, &url, "alice").await;

    // 1. Memory per idle client.
    let rss_before = server.rss_kb();
    let (lat_tx, mut lat_rx) = mpsc::unbounded_channel();
    let mut handles: Vec<Vec<tokio::task::JoinHandle<()>>> =
        (0..users).map(|_| Vec::new()).collect();
    let t0 = Instant::now();
    let mut rss_half = 0;
    // First sessions first (each announces a user coming online to everyone connected), then the rest.
    for round in 0..per_user {
        let mut batch = Vec::new();
        for (u, token) in tokens.iter().enumerate() {
            if round * users + u >= clients {
                break;
            }
            let (url, token, tx) = (url.clone(), token.clone(), lat_tx.clone());
            batch.push((u, tokio::spawn(client(url, token, tx))));
        }
        for (u, h) in batch {
            handles[u].push(h.await.unwrap());
        }
        if (round + 1) * users == clients / 2 {
            rss_half = server.rss_kb();
        }
    }
    let connect_s = t0.elapsed().as_secs_f64();
    let mut sessions = 0;
    let end = Instant::now() + Duration::from_secs(60);
    while Instant::now() < end {
        sessions = metric(&http, &url, "offhook_ws_sessions").await;
        if sessions as usize >= clients {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let rss_after = server.rss_kb();
    let per_client = (rss_after.saturating_sub(rss_before)) as f64 * 1024.0 / clients as f64;
    println!("## memory");
    println!(
        "idle clients connected: {sessions} (in {connect_s:.1} s); server RSS {rss_before} kB -> {rss_half} kB at {} -> {rss_after} kB; {:.1} kB per client overall, {:.1} kB per client over the second half",
        clients / 2,
        per_client / 1024.0,
        rss_after.saturating_sub(rss_half) as f64 / (clients - clients / 2).max(1) as f64
    );

    // 2. Delivery latency with 1,000 clients connected: keep 5 sessions per user.
    let keep = (1000 / users).max(1);
    for list in &mut handles {
        for h in list.drain(keep.min(list.len())..) {
            h.abort();
        }
    }
    let target = (users * keep) as i64;
    let end = Instant::now() + Duration::from_secs(60);
    while metric(&http, &url, "offhook_ws_sessions").await > target && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let connected = metric(&http, &url, "offhook_ws_sessions").await;
    while lat_rx.try_recv().is_ok() {}
    // BENCH_UPLOAD=opus sends the same 10 s as Ogg Opus (what a browser or a client that
    // encodes before sending uploads) instead of WAV.
    let audio = match std::env::var("BENCH_UPLOAD").as_deref() {
        Ok("opus") => {
            let mut out = std::io::Cursor::new(Vec::new());
            codecs::pipeline::convert(
                std::io::Cursor::new(speech(10_000)),
                codecs::pipeline::Format::Wav,
                &mut out,
                codecs::pipeline::Format::OggOpus,
                &codecs::pipeline::ConvertOptions::default(),
            )
            .expect("encode the upload as Ogg Opus");
            out.into_inner()
        }
        _ => speech(10_000),
    };
    println!("upload: {} bytes per 10 s message", audio.len());
    let gate = Arc::new(Semaphore::new(4));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..latency_messages {
        let (http, url, alice, gate, audio) = (
            http.clone(),
            url.clone(),
            alice.clone(),
            gate.clone(),
            audio.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _p = gate.acquire().await;
            assert!(post(&http, &url, &alice, &format!("u{}", i % users), audio).await);
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let expected = latency_messages * keep;
    let mut lat = Vec::with_capacity(expected);
    // Pushes follow transcoding, which runs after the POST answers: allow for it.
    let end = Instant::now() + Duration::from_secs(300);
    while lat.len() < expected && Instant::now() < end {
        match tokio::time::timeout(Duration::from_millis(200), lat_rx.recv()).await {
            Ok(Some(v)) => lat.push(v),
            Ok(None) => break,
            Err(_) => {}
        }
    }
    let send_s = t0.elapsed().as_secs_f64();
    lat.sort_unstable();
    println!("## delivery latency (commit -> recipient WebSocket)");
    println!(
        "clients connected: {connected}; messages: {latency_messages} (10 s each, 4 senders, {send_s:.1} s); pushes received: {}/{expected}",
        lat.len()
    );
    println!(
        "p50 {:.2} ms, p90 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        percentile(&lat, 0.5),
        percentile(&lat, 0.9),
        percentile(&lat, 0.99),
        percentile(&lat, 1.0)
    );

    // 3. Durable acceptance rate: POST answers (each after its group commit) per second; then
    // the sustained transcoding rate: until every accepted message is ready.
    let ready_before = metric(&http, &url, "offhook_messages_ready_total").await;
    let accepted = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(Semaphore::new(concurrency));
    let (server_cpu0, client_cpu0) = (server.cpu_s(), cpu_seconds("/proc/self/stat"));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..throughput_messages {
        let (http, url, alice, gate, audio, accepted) = (
            http.clone(),
            url.clone(),
            alice.clone(),
            gate.clone(),
            audio.clone(),
            accepted.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let _p = gate.acquire().await;
            if post(&http, &url, &alice, "bob", audio).await {
                accepted.fetch_add(1, Ordering::Relaxed);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let s = t0.elapsed().as_secs_f64();
    let n = accepted.load(Ordering::Relaxed);
    let server_cpu = server.cpu_s() - server_cpu0;
    let client_cpu = cpu_seconds("/proc/self/stat") - client_cpu0;
    println!("## durable acceptance");
    println!(
        "{n}/{throughput_messages} messages of 10 s accepted in {s:.1} s with {concurrency} concurrent senders: {:.0} messages/s",
        n as f64 / s
    );
    println!(
        "CPU during acceptance: server {server_cpu:.1} s ({:.2} ms/message, transcoder included), this load generator {client_cpu:.1} s, of {:.1} s available on {} cores",
        server_cpu * 1000.0 / n.max(1) as f64,
        s * std::thread::available_parallelism().map_or(1.0, |c| c.get() as f64),
        std::thread::available_parallelism().map_or(1, usize::from)
    );
    // Every message is accepted and few are ready: the backlog is at its largest.
    let rss_backlog = server.rss_kb();
    let ready_then = metric(&http, &url, "offhook_messages_ready_total").await - ready_before;
    let end = Instant::now() + Duration::from_secs(1800);
    let mut ready = 0;
    while Instant::now() < end {
        ready = metric(&http, &url, "offhook_messages_ready_total").await - ready_before;
        if ready >= n as i64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let s_ready = t0.elapsed().as_secs_f64();
    let server_cpu_all = server.cpu_s() - server_cpu0;
    let rss_ready = server.rss_kb();
    println!("## transcoding (accepted -> ready)");
    println!(
        "{ready}/{n} messages ready {s_ready:.1} s after the first POST: {:.1} messages/s sustained",
        ready as f64 / s_ready
    );
    // On a machine shared with other work the wall-clock rate says how much CPU the transcoder
    // (at the lowest priority) was left; the server's CPU per message says what it needs.
    let cores = std::thread::available_parallelism().map_or(1.0, |c| c.get() as f64);
    let per_message = server_cpu_all / ready.max(1) as f64;
    println!(
        "server CPU from the first POST until all ready: {server_cpu_all:.1} s ({:.1} ms/message, acceptance included), {:.0} % of {cores} cores; at that cost {cores} cores would sustain {:.1} messages/s",
        per_message * 1000.0,
        server_cpu_all * 100.0 / (s_ready * cores),
        cores / per_message.max(1e-9)
    );
    println!(
        "server RSS with the backlog at its largest ({} of {n} waiting): {rss_backlog} kB; once all were ready: {rss_ready} kB",
        n as i64 - ready_then
    );
    for list in handles {
        for h in list {
            h.abort();
        }
    }
    server.stop();
    storage_only(env_usize("BENCH_STORAGE_MESSAGES", 5000), concurrency).await;
}

/// The durable store path alone, in process, without transcoding: seal-sized blob written and
/// fsynced, then the message row in the writer's group commit (what `POST` does after the codec).
async fn storage_only(messages: usize, concurrency: usize) {
    use offhook_domain::db::messages::{NewMessage, insert};
    use offhook_domain::db::{Db, Paths, users, write_file};
    let tmp = tempfile::tempdir().unwrap();
    let paths = Paths::new(tmp.path());
    let (db, _writer) = Db::open(&paths, 2).unwrap();
    let new = |name: &str| users::NewUser {
        username: name.into(),
        display: None,
        password: PASSWORD.into(),
        admin: false,
        line: None,
    };
    let key = offhook_domain::audio::SealKey::generate();
    let (a, b) = db
        .write(move |c| {
            Ok((
                users::add(c, &key, &new("alice"), 0)?.id,
                users::add(c, &key, &new("bob"), 0)?.id,
            ))
        })
        .await
        .unwrap();
    // A 10 s message stored as 16 kbit/s Opus is about 20 kB.
    let blob = Arc::new(vec![0x5au8; 20_000]);
    let gate = Arc::new(Semaphore::new(concurrency));
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..messages {
        let (db, gate, blob, media) = (db.clone(), gate.clone(), blob.clone(), paths.media.clone());
        tasks.push(tokio::spawn(async move {
            let _p = gate.acquire().await;
            let id = uuid::Uuid::new_v4();
            let file = format!("{id}.audio");
            let f = file.clone();
            tokio::task::spawn_blocking(move || write_file(&media, &f, &blob))
                .await
                .unwrap()
                .unwrap();
            let m = NewMessage {
                id,
                sender: a,
                recipients: vec![b],
                created_ms: 0,
                duration_ms: 10_000,
                codec: "opus".into(),
                status: offhook_domain::db::messages::Status::Ready,
                audio_file: file,
                raw_offset: None,
                audio_bytes: 20_000,
                attachments: vec![],
            };
            db.write(move |c| insert(c, &m)).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let s = t0.elapsed().as_secs_f64();
    println!("## durable store path only (no transcoding, in process)");
    println!(
        "{messages} messages (20 kB sealed audio each: file fsynced, directory fsynced, row committed) in {s:.1} s with {concurrency} concurrent writers: {:.0} messages/s",
        messages as f64 / s
    );

    // The acceptance path's storage alone: a 160 kB sealed upload appended to the spool, then its
    // `processing` row in the group commit (which fdatasyncs the spool first).
    let upload = Arc::new(vec![0xa5u8; 160_100]);
    let t0 = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..messages {
        let (db, gate, upload) = (db.clone(), gate.clone(), upload.clone());
        tasks.push(tokio::spawn(async move {
            let _p = gate.acquire().await;
            let spool = db.spool().clone();
            let pin = tokio::task::spawn_blocking(move || spool.append(&upload))
                .await
                .unwrap()
                .unwrap();
            let m = NewMessage {
                id: uuid::Uuid::new_v4(),
                sender: a,
                recipients: vec![b],
                created_ms: 0,
                duration_ms: 10_000,
                codec: "upload".into(),
                status: offhook_domain::db::messages::Status::Processing,
                audio_file: pin.stored.file.clone(),
                raw_offset: Some(pin.stored.offset),
                audio_bytes: pin.stored.len,
                attachments: vec![],
            };
            db.write_holding(pin, move |c| insert(c, &m)).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let s = t0.elapsed().as_secs_f64();
    println!(
        "{messages} uploads (160 kB sealed each: appended to the spool, spool fdatasynced and directory fsynced by the group commit, row committed) in {s:.1} s with {concurrency} concurrent writers: {:.0} messages/s",
        messages as f64 / s
    );
}
