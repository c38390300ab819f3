//! Intercom latency through the whole appliance: from an RTP packet sent by a phone to the
//! WebSocket `send` object that carries it to the online recipient, with the real `offhook serve`
//! on loopback.
//!
//! `LIVE` phones (users `p1`…) each record in intercom mode to their own online listener (`l1`…,
//! one WebSocket each); `BG` more phones record in record mode at the same time, as load. A
//! simulated MGCP gateway (the `gateway_sim` MGCP core, driven here so that this bench owns
//! its RTP sockets) answers every ring; one thread then sends every line's G.711 packets on the
//! 20 ms grid for `T` seconds, each packet's first and last samples coding its index. Each
//! listener thread decodes the index from every live buffer it reads and takes the time since
//! that packet was sent: RTP in → WebSocket out, plus loopback and the client's own read,
//! so an upper bound on what the server adds. The server's own figure, from the RTP datagram's
//! `recvmmsg` to the WebSocket frame's write, is read from `/metrics`
//! (`offhook_intercom_latency_seconds`) before and after the measured window; its percentiles
//! are interpolated within the histogram's buckets, as Prometheus's `histogram_quantile` does.
//!
//! `cargo build --release --bins && LIVE=100 BG=0 T=10 cargo bench -p offhook-tests --bench intercom_latency`
//! (`RT_PRIO=0` runs the media engine at the normal priority; unset, at the appliance's default).
//! While the engine is real-time, the simulated gateway's RTP sender runs `SCHED_FIFO` ten
//! above it: it stands for a separate device, and at the normal priority the engine's threads
//! starve it (measured in the 10-minute soak: it sent 23,000 of its 50,000 packets a second, so
//! the window ran long and the load was half the nominal).
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::net::{SocketAddr, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use base64::Engine as _;
use codecs::g711::Law;
use codecs::rtp::{Csrcs, Repr, SequenceNumber, Ssrc, Timestamp};
use gateway_sim::{self as sim, ConnectionAction, Gateway, LineCommand, Output, Via};
use offhook_tests::osmo::free_udp_port;
use offhook_tests::{PASSWORD, Server, env_or, http, wait_within};
use serde_json::{Value, json};

/// Digits of a packet index: the µ-law codes of the 62 quietest non-zero samples (0x60–0x7E and
/// 0xE0–0xFE, at most 1 % of full scale), so that the index does not sound like a click train
/// to the recording's voice-activity detector (full-scale codes every 20 ms are judged
/// stationary noise after about 10 s, and the recording ends by silence); three of them code a
/// packet index.
const DIGITS: u16 = 62;

/// The µ-law code of digit `d` (< [`DIGITS`]).
fn digit_code(d: u32) -> u8 {
    if d < 31 {
        0x60 + d as u8
    } else {
        0xE0 + (d - 31) as u8
    }
}
/// Seconds allowed for users to log in and every phone to ring and connect.
const SETUP_S: u64 = 180;

/// Packet `k`: 20 ms of the speech fixture (so that silence detection sees a talker), its
/// first and last three samples replaced by the index (enough for a soak of many minutes).
fn payload(speech: &[u8], k: u32) -> [u8; 160] {
    let d = u32::from(DIGITS);
    let code = [
        digit_code(k / (d * d)),
        digit_code((k / d) % d),
        digit_code(k % d),
    ];
    let mut p = [0u8; 160];
    let at = (k as usize * 160) % (speech.len() - 160);
    p.copy_from_slice(&speech[at..at + 160]);
    p[..3].copy_from_slice(&code);
    p[157..].copy_from_slice(&code);
    p
}

/// The packet index coded in three samples, if they code one.
fn index(table: &HashMap<i16, u16>, s: &[i16]) -> Option<u32> {
    let d = u32::from(DIGITS);
    let digit = |x: &i16| table.get(x).map(|&v| u32::from(v));
    Some((digit(&s[0])? * d + digit(&s[1])?) * d + digit(&s[2])?)
}

fn process_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The server-side latency histogram as `/metrics` shows it: cumulative counts by upper bound
/// in seconds (the last one `+Inf`), and the sum of the observations in seconds.
#[derive(Debug, Clone, Default)]
struct Histogram {
    buckets: Vec<(f64, u64)>,
    sum: f64,
}

impl Histogram {
    const NAME: &str = "offhook_intercom_latency_seconds";

    fn read(url: &str) -> Self {
        let text = http()
            .get(format!("{url}/metrics"))
            .send()
            .and_then(|r| r.text())
            .expect("/metrics");
        let mut h = Self::default();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix(&format!("{}_bucket{{le=\"", Self::NAME)) {
                let (le, count) = rest.split_once("\"} ").expect("a bucket sample");
                let le = if le == "+Inf" {
                    f64::INFINITY
                } else {
                    le.parse().expect("a bucket bound")
                };
                h.buckets.push((le, count.parse().expect("a bucket count")));
            } else if let Some(v) = line.strip_prefix(&format!("{}_sum ", Self::NAME)) {
                h.sum = v.parse().expect("the sum");
            }
        }
        assert!(
            h.buckets.last().is_some_and(|b| b.0.is_infinite()),
            "{} is not on /metrics",
            Self::NAME
        );
        h
    }

    /// What was observed since `before`.
    fn since(&self, before: &Self) -> Self {
        Self {
            buckets: self
                .buckets
                .iter()
                .zip(&before.buckets)
                .map(|(a, b)| (a.0, a.1 - b.1))
                .collect(),
            sum: self.sum - before.sum,
        }
    }

    fn count(&self) -> u64 {
        self.buckets.last().map_or(0, |b| b.1)
    }

    /// The `q` quantile in seconds, linear within its bucket (from the bucket below's bound, 0
    /// for the first); one in the `+Inf` bucket is given as the highest finite bound.
    fn quantile(&self, q: f64) -> f64 {
        let rank = q * self.count() as f64;
        let mut below = (0.0, 0u64);
        for &(le, c) in &self.buckets {
            if c as f64 >= rank && c > 0 {
                if le.is_infinite() {
                    return below.0;
                }
                let inside = (rank - below.1 as f64) / (c - below.1) as f64;
                return below.0 + (le - below.0) * inside;
            }
            below = (le, c);
        }
        0.0
    }

    /// The upper bound of the highest bucket that holds an observation.
    fn max_bound(&self) -> f64 {
        let mut below = 0;
        let mut max = 0.0;
        for &(le, c) in &self.buckets {
            if c > below {
                max = le;
            }
            below = c;
        }
        max
    }
}

/// What the gateway thread learns about a line's connection.
struct Connected {
    line: u16,
    local_port: u16,
    remote: SocketAddr,
}

/// Drives the simulator core on `control` until `stop`; answers every ring by itself.
fn run_gateway(
    mut gw: Gateway,
    control: UdpSocket,
    lines: u16,
    stop: Arc<AtomicBool>,
    registered: mpsc::Sender<()>,
    connected: mpsc::Sender<Connected>,
) {
    for line in 1..=lines {
        gw.handle_line(Instant::now(), LineCommand::AutoAnswer(line, true));
    }
    let mut buf = vec![0u8; 65_536];
    while !stop.load(Ordering::Relaxed) {
        while let Some(t) = gw.poll_transmit() {
            if t.via == Via::Control {
                let _ = control.send_to(&t.contents, t.destination);
            }
        }
        while let Some(o) = gw.poll_output() {
            match o {
                Output::Restart {
                    line: None,
                    acknowledged: true,
                    ..
                } => {
                    let _ = registered.send(());
                }
                Output::Connection {
                    line,
                    action: ConnectionAction::Created | ConnectionAction::Modified,
                    local,
                    remote: Some(remote),
                    ..
                } => {
                    let _ = connected.send(Connected {
                        line,
                        local_port: local.port(),
                        remote,
                    });
                }
                _ => {}
            }
        }
        let now = Instant::now();
        let wait = gw
            .poll_timeout()
            .map_or(Duration::from_millis(20), |t| {
                t.saturating_duration_since(now)
            })
            .clamp(Duration::from_millis(1), Duration::from_millis(20));
        let _ = control.set_read_timeout(Some(wait));
        if let Ok((n, from)) = control.recv_from(&mut buf) {
            gw.handle_datagram(Instant::now(), from, &buf[..n]);
        }
        if gw.poll_timeout().is_some_and(|t| t <= Instant::now()) {
            gw.handle_timeout(Instant::now());
        }
    }
}

fn main() {
    let live: u16 = env_or("LIVE", 100);
    let bg: u16 = env_or("BG", 0);
    let secs: u64 = env_or("T", 10);
    let n = live + bg;
    assert!(live > 0 && n <= 4000, "1 ≤ LIVE, LIVE + BG ≤ 4000");
    let packets = (secs * 50) as usize;
    // Packet slots: lines send from when they connect (setup takes up to SETUP_S), then T s.
    let capacity = SETUP_S as usize * 50 + packets + 50;
    let window = Arc::new(AtomicU64::new(u64::MAX));
    let speech: Arc<Vec<u8>> = Arc::new(
        hound::WavReader::open(offhook_tests::speech_8k())
            .expect("speech fixture")
            .samples::<i16>()
            .map(|s| Law::Ulaw.encode_sample(s.expect("sample")))
            .collect(),
    );
    assert!(
        capacity < (usize::from(DIGITS)).pow(3),
        "T too long to code indices"
    );
    let (mgcp, gw_port) = (free_udp_port(), free_udp_port());
    // Below the kernel's ephemeral ports (32768 up), as the appliance's default range is: a
    // socket bound to port 0 elsewhere would otherwise take an RTP port now and then.
    let server_ports = format!("16384-{}", 16_384 + 4 * u32::from(n) + 100);
    // RT_PRIO: the media engine's `realtime_priority` (unset: the appliance's default).
    let engine_prio = std::env::var("RT_PRIO")
        .ok()
        .map(|p| p.parse::<u8>().expect("RT_PRIO: 0-99"));
    let rt_prio = engine_prio.map_or(String::new(), |p| format!("realtime_priority = {p}\n"));
    // The appliance's default `media.realtime_priority`.
    let sender_prio = match engine_prio.unwrap_or(10) {
        0 => None,
        p => Some(p.saturating_add(10).min(99)),
    };
    let media = format!("{}{rt_prio}", offhook_tests::media_table(&server_ports));
    let mut server = Server::start_with_media(
        &media,
        Vec::new(),
        // Recordings outlast the window (`messages.max_duration` is 10 minutes by default), so
        // a long run's calls end when the bench hangs up, not on the limit.
        &format!(
            "[mgcp]\nlisten = \"127.0.0.1:{mgcp}\"\n\
             [[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"127.0.0.1:{gw_port}\"\n\
             [messages]\nmax_duration = \"{}s\"\n",
            secs.max(480) + 120
        ),
    );
    println!(
        "intercom latency: LIVE={live} intercom streams to online WebSocket clients, BG={bg} recordings as load, T={secs} s, media realtime_priority {}",
        std::env::var("RT_PRIO").unwrap_or_else(|_| "default".into())
    );

    // Users: p1…pN with a phone each, l1…lLIVE listening, `sink` for the background recordings.
    let t0 = Instant::now();
    let mut names: Vec<(String, Option<String>)> = (1..=n)
        .map(|i| (format!("p{i}"), Some(format!("gw1/aaln/{i}"))))
        .collect();
    names.extend((1..=live).map(|i| (format!("l{i}"), None)));
    names.push(("sink".into(), None));
    std::thread::scope(|s| {
        for chunk in names.chunks(names.len().div_ceil(4)) {
            let server = &server;
            s.spawn(move || {
                for (name, line) in chunk {
                    let mut args = vec!["user", "add", name, "--password-stdin"];
                    if let Some(l) = line {
                        args.extend(["--line", l]);
                    }
                    let out = server.offhook(&args, Some(PASSWORD));
                    assert!(
                        out.status.success(),
                        "{}",
                        String::from_utf8_lossy(&out.stderr)
                    );
                }
            });
        }
    });
    // Stations are read at start-up.
    server.terminate();
    server.restart();
    println!(
        "{} users in {:.1} s",
        names.len(),
        t0.elapsed().as_secs_f64()
    );

    // The gateway: control socket, and an RTP socket per line (the core uses even ports).
    let control = UdpSocket::bind(("127.0.0.1", gw_port)).expect("gateway control socket");
    let mut config = sim::Config::new(n, format!("127.0.0.1:{mgcp}").parse().unwrap()).unwrap();
    config.autoanswer_delay(Duration::from_millis(100));
    config.max_connections(1).unwrap();
    let mut gw = Gateway::new(config, Instant::now());
    let mut rtp: HashMap<u16, Arc<UdpSocket>> = HashMap::new();
    let mut port = 50_000u16;
    while rtp.len() < usize::from(n) {
        if let Ok(s) = UdpSocket::bind(("127.0.0.1", port)) {
            s.set_nonblocking(true).unwrap();
            gw.add_rtp_port(port);
            rtp.insert(port, Arc::new(s));
        }
        port += 2;
    }
    let stop = Arc::new(AtomicBool::new(false));
    let (reg_tx, reg_rx) = mpsc::channel();
    let (conn_tx, conn_rx) = mpsc::channel();
    let gateway = std::thread::spawn({
        let stop = stop.clone();
        move || run_gateway(gw, control, n, stop, reg_tx, conn_tx)
    });
    reg_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the gateway registered");
    let p1 = server.login("p1");
    wait_within("every station available", Duration::from_secs(120), || {
        let h: Value = http()
            .get(format!("{}/api/v1/health", server.url))
            .bearer_auth(&p1)
            .send()
            .ok()?
            .json()
            .ok()?;
        let stations = h["stations"].as_array()?;
        (stations.len() == usize::from(n) && stations.iter().all(|s| s["available"] == true))
            .then_some(())
    });

    // Listeners, one WebSocket and one thread each.
    let mut table = HashMap::new();
    for d in 0..DIGITS {
        table.insert(Law::Ulaw.decode_sample(digit_code(u32::from(d))), d);
    }
    let table = Arc::new(table);
    let sent_at: Arc<Vec<AtomicU64>> = Arc::new(
        (0..usize::from(n) * capacity)
            .map(|_| AtomicU64::new(0))
            .collect(),
    );
    let base = Instant::now();
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(usize::from(live) * packets)));
    // Live buffers read, misaligned, measured; intercom lines that got none.
    let counts = Arc::new([
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
        AtomicU64::new(0),
    ]);
    let mut listeners = Vec::new();
    for i in 1..=live {
        let mut ws = server.websocket(&server.login(&format!("l{i}")));
        if let tungstenite::stream::MaybeTlsStream::Plain(t) = ws.get_ref() {
            t.set_read_timeout(Some(Duration::from_millis(200)))
                .unwrap();
        }
        let (table, sent_at, latencies, counts, stop, window) = (
            table.clone(),
            sent_at.clone(),
            latencies.clone(),
            counts.clone(),
            stop.clone(),
            window.clone(),
        );
        let line = usize::from(i - 1);
        listeners.push(std::thread::spawn(move || {
            let mut mine = Vec::with_capacity(packets);
            let mut seen = None;
            let b64 = base64::engine::general_purpose::STANDARD;
            while !stop.load(Ordering::Relaxed) {
                let Ok(msg) = ws.read() else { continue };
                let at = base.elapsed().as_nanos() as u64;
                let Ok(text) = msg.to_text() else { continue };
                let Ok(v) = serde_json::from_str::<Value>(text) else {
                    continue;
                };
                if v["action"] != "send" {
                    continue;
                }
                let Some(pcm) = v["object"]["pcm"].as_str().and_then(|p| b64.decode(p).ok()) else {
                    continue;
                };
                let s: Vec<i16> = pcm
                    .chunks_exact(2)
                    .map(|b| i16::from_le_bytes([b[0], b[1]]))
                    .collect();
                if s.len() < 160 {
                    continue;
                }
                counts[0].fetch_add(1, Ordering::Relaxed);
                let (first, last) = (index(&table, &s[..3]), index(&table, &s[s.len() - 3..]));
                if first != last || s.len() != 160 {
                    counts[1].fetch_add(1, Ordering::Relaxed);
                    continue;
                }
                if let Some(k) = last {
                    seen = Some(seen.map_or((k, k), |(a, b): (u32, u32)| (a.min(k), b.max(k))));
                }
                let first = window.load(Ordering::Relaxed);
                let Some(k) = last.map(|k| k as usize).filter(|&k| {
                    k < capacity && k as u64 >= first && k as u64 - first < packets as u64
                }) else {
                    continue;
                };
                let sent = sent_at[line * capacity + k].load(Ordering::Relaxed);
                if sent > 0 && at >= sent {
                    mine.push(Duration::from_nanos(at - sent));
                    counts[2].fetch_add(1, Ordering::Relaxed);
                }
            }
            if std::env::var_os("VERBOSE").is_some() {
                println!(
                    "line {} measured {}, packet indices seen {seen:?}, window from {}",
                    line + 1,
                    mine.len(),
                    window.load(Ordering::Relaxed)
                );
            }
            if mine.is_empty() {
                counts[3].fetch_add(1, Ordering::Relaxed);
            }
            latencies.lock().unwrap().extend(mine);
        }));
    }

    // The phones' users log in first (password hashing is slow on purpose), so that every
    // phone then rings within a few seconds.
    let t0 = Instant::now();
    let phones: Vec<u16> = (1..=n).collect();
    let tokens: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = phones
            .chunks(usize::from(n).div_ceil(4))
            .map(|chunk| {
                let server = &server;
                s.spawn(move || {
                    chunk
                        .iter()
                        .map(|i| server.login(&format!("p{i}")))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().expect("login thread"))
            .collect()
    });
    println!(
        "{n} phone users logged in in {:.1} s",
        t0.elapsed().as_secs_f64()
    );

    // One thread sends every connected line's packets on the 20 ms grid, from the moment the
    // line connects (a line left silent would end its recording by silence detection); the
    // measured window is the T seconds starting 700 ms after the last line connected (the
    // confirmation tone plays before capture starts).
    let pid = server.pid().expect("server running");
    let (window_tx, window_rx) = mpsc::channel();
    let sender = std::thread::spawn({
        let (sent_at, speech, window) = (sent_at.clone(), speech.clone(), window.clone());
        move || {
            if let Some(p) = sender_prio
                && let Err(e) = station_manager::media::driver::set_thread_realtime(p)
            {
                eprintln!("the RTP sender keeps the normal priority: SCHED_FIFO {p} refused: {e}");
            }
            let (mut late, mut failed, mut sent) = (0u64, 0u64, 0u64);
            let start = Instant::now() + Duration::from_millis(20);
            let mut lines: Vec<(usize, Arc<UdpSocket>, SocketAddr, bool)> = Vec::new();
            let mut end = capacity;
            let ssrc = Ssrc(0x0ff_400c);
            for k in 0..capacity {
                if k == end {
                    break;
                }
                while let Ok(c) = conn_rx.try_recv() {
                    let line = usize::from(c.line - 1);
                    let socket = rtp[&c.local_port].clone();
                    match lines.iter_mut().find(|l| l.0 == line) {
                        Some(l) => (l.1, l.2) = (socket, c.remote),
                        None => lines.push((line, socket, c.remote, true)),
                    }
                }
                if end == capacity && lines.len() == usize::from(n) {
                    let first = k + 35;
                    window.store(first as u64, Ordering::Relaxed);
                    end = first + packets;
                    let _ = window_tx.send(start + Duration::from_millis(20 * first as u64));
                }
                let p = payload(&speech, k as u32);
                // Lines spread over the 20 ms in 1 ms slots: gateways' streams are not in phase.
                for slot in 0..20usize {
                    let due = start + Duration::from_millis(20 * k as u64 + slot as u64);
                    let now = Instant::now();
                    if due > now {
                        std::thread::sleep(due - now);
                    } else if now - due > Duration::from_millis(5) {
                        late += 1;
                    }
                    for (line, socket, remote, first) in lines.iter_mut().skip(slot).step_by(20) {
                        let repr = Repr {
                            marker: std::mem::take(first),
                            payload_type: 0,
                            sequence_number: SequenceNumber(k as u16),
                            timestamp: Timestamp(160 * k as u32),
                            ssrc,
                            csrcs: Csrcs::default(),
                            extension: None,
                            payload: &p,
                            padding: 0,
                        };
                        let mut out = [0u8; 172];
                        let len = repr.emit(&mut out).expect("RTP packet fits");
                        sent_at[*line * capacity + k]
                            .store(base.elapsed().as_nanos() as u64, Ordering::Relaxed);
                        match socket.send_to(&out[..len], *remote) {
                            Ok(_) => sent += 1,
                            Err(_) => failed += 1,
                        }
                    }
                }
            }
            (sent, late, failed)
        }
    });

    // Every phone records: the first LIVE in intercom mode to their listener, the rest to `sink`.
    let t1 = Instant::now();
    std::thread::scope(|s| {
        for chunk in phones.chunks(usize::from(n).div_ceil(4)) {
            let server = &server;
            let tokens = &tokens;
            s.spawn(move || {
                let client = http();
                for &i in chunk {
                    let token = &tokens[usize::from(i - 1)];
                    let (to, mode) = if i <= live {
                        (format!("l{i}"), "intercom")
                    } else {
                        ("sink".to_owned(), "record")
                    };
                    let r = client
                        .post(format!("{}/api/v1/record", server.url))
                        .bearer_auth(token)
                        .json(&json!({"to": [to], "mode": mode}))
                        .send()
                        .expect("record request");
                    assert_eq!(r.status().as_u16(), 202, "record p{i}");
                }
            });
        }
    });
    let window_start = window_rx
        .recv_timeout(Duration::from_secs(SETUP_S))
        .expect("every line connected");
    println!(
        "{n} phones rung, answered and connected in {:.2} s",
        t1.elapsed().as_secs_f64()
    );
    std::thread::sleep(window_start.saturating_duration_since(Instant::now()));
    let server_before = Histogram::read(&server.url);
    let cpu0 = process_ticks(pid);
    let wall0 = Instant::now();
    let (sent, late, failed) = sender.join().expect("sender");
    std::thread::sleep(Duration::from_millis(500));
    let cpu = process_ticks(pid) - cpu0;
    let wall = wall0.elapsed();
    let server_side = Histogram::read(&server.url).since(&server_before);
    stop.store(true, Ordering::Relaxed);
    for l in listeners {
        l.join().expect("listener");
    }
    gateway.join().expect("gateway thread");
    let mut lat = Arc::try_unwrap(latencies).unwrap().into_inner().unwrap();
    // The engine's counters reach /metrics once a second.
    std::thread::sleep(Duration::from_millis(1500));
    lat.sort_unstable();
    let media = |kind: &str| server.metric(&format!("offhook_rtp_total{{kind=\"{kind}\"}}"));
    println!(
        "packets sent {sent} (sender ticks late >5 ms: {late}, sends failed {failed}); server took in {} datagrams in {} recvmmsg calls, wrong source {}, malformed {}",
        media("datagrams"),
        media("receive_calls"),
        media("wrong_source"),
        media("malformed"),
    );
    println!(
        "live buffers read by the listeners {}, misaligned {}, measured {} of {} packets sent to intercom lines; intercom lines with no buffer measured {}",
        counts[0].load(Ordering::Relaxed),
        counts[1].load(Ordering::Relaxed),
        counts[2].load(Ordering::Relaxed),
        usize::from(live) * packets,
        counts[3].load(Ordering::Relaxed),
    );
    println!(
        "server CPU {:.2} s over {:.2} s = {:.1}% of one core",
        cpu as f64 / 100.0,
        wall.as_secs_f64(),
        cpu as f64 / wall.as_secs_f64()
    );
    println!(
        "intercom latency RTP sent → WebSocket object read: p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        percentile(&lat, 0.999),
        lat.last().copied().unwrap_or_default()
    );
    let ms = |s: f64| s * 1000.0;
    let n_server = server_side.count();
    println!(
        "intercom latency server-side, RTP received (recvmmsg) → WebSocket frame written ({n_server} buffers, /metrics histogram, interpolated): p50 {:.2} ms, p99 {:.2} ms, p99.9 {:.2} ms, max ≤ {:.2} ms, mean {:.2} ms",
        ms(server_side.quantile(0.5)),
        ms(server_side.quantile(0.99)),
        ms(server_side.quantile(0.999)),
        ms(server_side.max_bound()),
        ms(server_side.sum / n_server.max(1) as f64),
    );
    println!(
        "RESULT LIVE={live} BG={bg} latency_p50_ms={:.2} latency_p99_ms={:.2} latency_p999_ms={:.2} latency_max_ms={:.2} server_p50_ms={:.2} server_p99_ms={:.2} server_p999_ms={:.2} server_max_le_ms={:.2} server_cpu_pct={:.1}",
        percentile(&lat, 0.5).as_secs_f64() * 1000.0,
        percentile(&lat, 0.99).as_secs_f64() * 1000.0,
        percentile(&lat, 0.999).as_secs_f64() * 1000.0,
        lat.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
        ms(server_side.quantile(0.5)),
        ms(server_side.quantile(0.99)),
        ms(server_side.quantile(0.999)),
        ms(server_side.max_bound()),
        cpu as f64 / wall.as_secs_f64()
    );
    // SIGTERM, and the time the server takes to stop: every open recording is finished and
    // stored first (1,000 ten-minute recordings are 9.6 GB of WAV to sync), so a long run
    // takes longer than the harness's own 30 s.
    let stopping = Instant::now();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill -TERM");
    assert!(term.success(), "kill -TERM {pid}");
    wait_within("the server to stop", Duration::from_secs(900), || {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next());
        matches!(state, None | Some("Z")).then_some(())
    });
    println!(
        "server stopped {:.1} s after SIGTERM",
        stopping.elapsed().as_secs_f64()
    );
    server.terminate();
    // Why the recordings ended, from the server's log (`reason=…` of "recording stored").
    let mut reasons: HashMap<String, usize> = HashMap::new();
    for l in server
        .log_text()
        .lines()
        .filter(|l| l.contains("recording stored"))
    {
        let r = l
            .split_whitespace()
            .find_map(|w| w.strip_prefix("reason="))
            .unwrap_or("?");
        *reasons.entry(r.to_owned()).or_default() += 1;
    }
    println!("recordings stored, by why they ended: {reasons:?}");
    // Any recording that started and was not stored, and why.
    let log = server.log_text();
    let started = log.matches("recording from a phone").count();
    let failed: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("recording not stored") || l.contains("record request failed"))
        .collect();
    println!(
        "recordings started {started}, not stored {}{}",
        failed.len(),
        failed
            .first()
            .map_or(String::new(), |l| format!(" (first: {l})"))
    );
}
