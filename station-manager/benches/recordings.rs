//! Concurrent recordings on loopback: N G.711 streams at 50 packets/s each for T seconds, sent
//! from a separate thread (one `sendmmsg` per 1 ms slot), into the media engine recording each to a WAV file. Prints packets
//! sent and received, samples missing from the recordings, engine CPU, and the intercom
//! latency from RTP in to `MediaEvent::Buffer` out.
//!
//! `N=1000 T=10 LIVE=100 SILENCE_S=30 PORT=30000 cargo bench -p station-manager --bench recordings`
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

use std::io::IoSlice;
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use codecs::g711::Law;
use codecs::rtp::{Csrcs, Repr, SequenceNumber, Ssrc, Timestamp};
use codecs::wav::WavReader;
use gateway_control::model::{CallId, Codec, GatewayId, LineId, Media};
use rustix::net::{MMsgHdr, SendAncillaryBuffer, SendFlags, SocketAddrAny, sendmmsg};
use station_manager::media::driver::{EngineConfig, MediaEngine, set_thread_realtime};
use station_manager::media::{FrameSource, MessageAudio, SourceError};
use station_manager::{MediaCommand, MediaEvent, MessageId};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct NoMessages;

impl MessageAudio for NoMessages {
    fn open(&self, _: MessageId, _: Law, _: usize) -> Result<Box<dyn FrameSource>, SourceError> {
        Err(SourceError("the benchmark plays nothing".into()))
    }
}

/// The code sent by stream `i` in packet `k` (every sample of the frame).
fn code(i: usize, k: usize) -> u8 {
    ((i * 7 + k * 13) % 251) as u8
}

/// utime + stime of a /proc stat line, in clock ticks (100 Hz).
fn ticks(stat: &str) -> u64 {
    let after = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = after.split_whitespace().collect();
    // Fields after the command: state is f[0]; utime is field 14 → f[11], stime f[12].
    f.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
        + f.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0)
}

fn process_ticks() -> u64 {
    ticks(&std::fs::read_to_string("/proc/self/stat").unwrap_or_default())
}

/// The process's resident set (`VmRSS` of /proc/self/status), in kB.
fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

fn thread_ticks() -> u64 {
    ticks(&std::fs::read_to_string("/proc/thread-self/stat").unwrap_or_default())
}

struct Sender {
    socket: UdpSocket,
    n: usize,
    packets: usize,
    live: usize,
    port: u16,
    base: Instant,
    start: Instant,
    sent_at: Arc<Vec<AtomicU64>>,
}

impl Sender {
    /// Sends every stream's packet k at start + k × 20 ms, the streams spread over the 20 ms
    /// in 1 ms slots (gateways' streams are not in phase). Returns (packets sent, late slots,
    /// CPU ticks this thread used).
    fn run(self) -> (u64, u64, u64) {
        realtime();
        let cpu0 = thread_ticks();
        let mut sent = 0u64;
        let mut late = 0u64;
        let mut codes = [0u8; 160];
        let per_slot = self.n.div_ceil(20);
        let mut bufs = vec![[0u8; 172]; per_slot];
        let mut lens = vec![0usize; per_slot];
        let mut to: Vec<SocketAddrAny> = Vec::with_capacity(per_slot);
        for k in 0..self.packets {
            for slot in 0..20usize {
                let due = self.start + Duration::from_millis(20 * k as u64 + slot as u64);
                let now = Instant::now();
                if now < due {
                    std::thread::sleep(due - now);
                } else if now > due + Duration::from_millis(5) {
                    late += 1;
                }
                to.clear();
                for i in (slot..self.n).step_by(20) {
                    codes.fill(code(i, k));
                    let repr = Repr {
                        marker: k == 0,
                        payload_type: 0,
                        sequence_number: SequenceNumber(
                            (i as u16).wrapping_mul(97).wrapping_add(k as u16),
                        ),
                        timestamp: Timestamp(
                            (i as u32).wrapping_mul(7919).wrapping_add(160 * k as u32),
                        ),
                        ssrc: Ssrc(i as u32 + 1),
                        csrcs: Csrcs::default(),
                        extension: None,
                        payload: &codes,
                        padding: 0,
                    };
                    let Ok(len) = repr.emit(&mut bufs[to.len()]) else {
                        continue;
                    };
                    lens[to.len()] = len;
                    let port = self.port + 2 * i as u16;
                    to.push(SocketAddr::from(([127, 0, 0, 1], port)).into());
                    if i < self.live {
                        let at = self.base.elapsed().as_nanos() as u64;
                        self.sent_at[i * self.packets + k].store(at, Ordering::Relaxed);
                    }
                }
                sent += self.send_all(&bufs, &lens, &to);
            }
        }
        (sent, late, thread_ticks() - cpu0)
    }
}

impl Sender {
    /// Sends datagram `j` (`bufs[j][..lens[j]]`) to `to[j]` for every `j`, in as few
    /// `sendmmsg` calls as the kernel allows. Returns how many were sent.
    fn send_all(&self, bufs: &[[u8; 172]], lens: &[usize], to: &[SocketAddrAny]) -> u64 {
        let iovs: Vec<[IoSlice<'_>; 1]> = bufs
            .iter()
            .zip(lens)
            .take(to.len())
            .map(|(b, &len)| [IoSlice::new(&b[..len])])
            .collect();
        let mut controls: Vec<SendAncillaryBuffer<'_, '_, '_>> = (0..to.len())
            .map(|_| SendAncillaryBuffer::default())
            .collect();
        let mut msgs: Vec<MMsgHdr<'_>> = to
            .iter()
            .zip(&iovs)
            .zip(&mut controls)
            .map(|((a, iov), c)| MMsgHdr::new_with_addr(a, iov, c))
            .collect();
        let mut done = 0;
        while done < msgs.len() {
            match sendmmsg(&self.socket, &mut msgs[done..], SendFlags::empty()) {
                Ok(0) | Err(_) => break,
                Ok(k) => done += k,
            }
        }
        done as u64
    }
}

/// With `PRIO=rt`, the engine's workers run `SCHED_FIFO` at priority 10, as the appliance runs
/// them (`media.realtime_priority`), and the load generator's thread at 20: it stands for the
/// gateway, a separate device in reality, so the engine must not delay its schedule (at the
/// same `SCHED_FIFO` priority it would wait for a busy worker to block). Otherwise both keep the
/// normal policy.
fn realtime_priority() -> Option<u8> {
    (std::env::var("PRIO").as_deref() == Ok("rt")).then_some(10)
}

/// The load generator's thread in `SCHED_FIFO` above the engine when `PRIO=rt`.
fn realtime() {
    if let Some(priority) = realtime_priority()
        && let Err(e) = set_thread_realtime(priority + 10)
    {
        eprintln!("cannot set SCHED_FIFO: {e}");
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn main() {
    let n: usize = env("N", 1000);
    let secs: u64 = env("T", 10);
    let live: usize = env::<usize>("LIVE", 100).min(n);
    let silence_s: u64 = env("SILENCE_S", 30);
    let port: u16 = env("PORT", 30_000);
    let workers: usize = env("WORKERS", 2);
    let packets = (secs * 50) as usize;
    // The bench's own tasks (opening calls, reading events) on one thread; the engine on a
    // runtime of its own with `workers` threads, as in the appliance.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("temp dir");
    println!(
        "recordings: N={n} streams, T={secs} s, {} pps total, LIVE={live} intercom streams, silence detection {}, {workers} runtime workers, PRIO={}",
        n * 50,
        if silence_s > 0 {
            format!("{silence_s} s")
        } else {
            "off".into()
        },
        std::env::var("PRIO").unwrap_or_else(|_| "default".into()),
    );
    rt.block_on(async move {
        let mut config = EngineConfig::new(dir.path().to_owned());
        config.threads = Some(workers);
        config.realtime_priority = realtime_priority();
        let (engine, mut events) = MediaEngine::spawn(config, Arc::new(NoMessages));
        let socket = UdpSocket::bind("127.0.0.1:0").expect("sender socket");
        let sender_addr = socket.local_addr().expect("sender address");
        let sent_at: Arc<Vec<AtomicU64>> =
            Arc::new((0..live * packets).map(|_| AtomicU64::new(0)).collect());
        // Let the engine's loop start before the figure is taken.
        engine.stats().await.expect("engine");
        let rss_before = rss_kb();
        for i in 0..n {
            let call = CallId(i as u64);
            engine
                .command(MediaCommand::Open {
                    call,
                    port: port + 2 * i as u16,
                    line: LineId::new(GatewayId::new("bench"), &format!("aaln/{i}")),
                })
                .expect("engine");
            engine
                .command(MediaCommand::Remote {
                    call,
                    remote: Media {
                        address: sender_addr,
                        codec: Codec::Pcmu,
                        ptime: Duration::from_millis(20),
                        telephone_event: Some(101),
                    },
                })
                .expect("engine");
            engine
                .command(MediaCommand::StartCapture {
                    call,
                    silence: (silence_s > 0).then(|| Duration::from_secs(silence_s)),
                    max_length: Duration::from_secs(3600),
                    live_buffer: (i < live).then_some(160),
                })
                .expect("engine");
        }
        // Sockets bound and files created.
        tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_secs(2)).await;
        if let Ok(MediaEvent::Failed { call, reason }) = events.try_recv() {
            panic!("call {call}: {reason}");
        }
        let rss_open = rss_kb();
        let base = Instant::now();
        let sender = Sender {
            socket,
            n,
            packets,
            live,
            port,
            base,
            start: base + Duration::from_millis(200),
            sent_at: sent_at.clone(),
        };
        let cpu0 = process_ticks();
        let wall0 = Instant::now();
        let handle = std::thread::spawn(move || sender.run());
        let mut latencies = Vec::with_capacity(live * packets);
        let mut buffers = 0u64;
        let mut other = Vec::new();
        // Until the sender is done (it may run late on a loaded machine), then 700 ms more
        // for the last packets to be taken in.
        let mut end =
            base + Duration::from_millis(200) + Duration::from_secs(secs) + Duration::from_millis(700);
        let mut sender_done = false;
        loop {
            let until = tokio::time::Instant::from_std(end);
            tokio::select! {
                e = events.recv() => match e {
                    Some(MediaEvent::Buffer { call, seq, .. }) => {
                        let at = base.elapsed().as_nanos() as u64;
                        let i = call.0 as usize;
                        let sent = sent_at[i * packets + seq as usize].load(Ordering::Relaxed);
                        if sent > 0 && at >= sent {
                            latencies.push(Duration::from_nanos(at - sent));
                        }
                        buffers += 1;
                    }
                    Some(e) => other.push(e),
                    None => break,
                },
                () = tokio::time::sleep_until(until) => {
                    if sender_done {
                        break;
                    }
                    if handle.is_finished() {
                        sender_done = true;
                        end = Instant::now() + Duration::from_millis(700);
                    } else {
                        end += Duration::from_millis(100);
                    }
                }
            }
        }
        let (sent, late_slots, sender_ticks) = handle.join().expect("sender");
        let cpu = process_ticks() - cpu0;
        let wall = wall0.elapsed();
        let engine_ticks = cpu.saturating_sub(sender_ticks);
        let rss_recording = rss_kb();
        let latency_kb = (latencies.len() * size_of::<Duration>() / 1024) as u64;
        for i in 0..n {
            engine
                .command(MediaCommand::StopCapture { call: CallId(i as u64) })
                .expect("engine");
        }
        let mut files = Vec::new();
        while files.len() < n {
            match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
                Ok(Some(MediaEvent::Captured { call, file, .. })) => files.push((call, file)),
                Ok(Some(MediaEvent::Buffer { .. })) => {}
                Ok(Some(e)) => other.push(e),
                _ => break,
            }
        }
        let stats = engine.stats().await.expect("engine");
        // Check every recording sample by sample.
        let expected_samples = (packets * 160) as u64;
        let mut missing = 0u64;
        let mut wrong = 0u64;
        let mut short_files = 0;
        let mut pcm = vec![0i16; packets * 160 + 1600];
        for (call, file) in &files {
            let i = call.0 as usize;
            let mut r = WavReader::new(std::fs::File::open(file).expect("recording")).expect("wav");
            let mut got = 0;
            while got < pcm.len() {
                match r.read_mono(&mut pcm[got..]) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => got += k,
                }
            }
            if (got as u64) < expected_samples {
                short_files += 1;
                missing += expected_samples - got as u64;
            }
            for (k, frame) in pcm[..got.min(packets * 160)].chunks(160).enumerate() {
                let want = Law::Ulaw.decode_sample(code(i, k));
                if frame.iter().any(|&s| s != want) {
                    wrong += 1;
                }
            }
        }
        missing += expected_samples * (n - files.len()) as u64;
        latencies.sort_unstable();
        let core_pct = engine_ticks as f64 / wall.as_secs_f64();
        println!("packets sent {sent} (sender slots late >5 ms: {late_slots}), received by the engine {} (datagrams {} in {} recvmmsg calls), wrong source {}, malformed {}", stats.audio_packets, stats.datagrams, stats.receive_calls, stats.wrong_source, stats.malformed);
        println!("jitter buffer: late {}, duplicates {}, lost frames {}, concealed frames written {}, gap samples {}", stats.late, stats.duplicates, stats.lost_frames, stats.concealed_frames, stats.gap_samples);
        println!(
            "recordings: {} of {n} files, {} samples expected each; samples missing {missing}, frames differing {wrong}, short files {short_files}",
            files.len(),
            expected_samples
        );
        println!(
            "engine CPU: {:.2} s over {:.2} s wall = {core_pct:.1}% of one core (process minus the sender thread; sender {:.2} s)",
            engine_ticks as f64 / 100.0,
            wall.as_secs_f64(),
            sender_ticks as f64 / 100.0
        );
        println!(
            "intercom latency RTP sent → MediaEvent::Buffer received ({} buffers, {} measured): p50 {:?}, p99 {:?}, p99.9 {:?}, max {:?}",
            buffers,
            latencies.len(),
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            percentile(&latencies, 0.999),
            latencies.last().copied().unwrap_or_default()
        );
        println!(
            "memory (VmRSS): {rss_before} kB before opening the calls, {rss_open} kB with {n} open ({:.1} kB a call), {rss_recording} kB after recording {secs} s ({:.1} kB a call, less the bench's {latency_kb} kB of latency samples)",
            rss_open.saturating_sub(rss_before) as f64 / n as f64,
            rss_recording.saturating_sub(rss_before + latency_kb) as f64 / n as f64,
        );
        let failures: Vec<_> = other.iter().filter(|e| matches!(e, MediaEvent::Failed { .. })).take(3).collect();
        if !failures.is_empty() {
            println!("failures (first 3): {failures:?}");
        }
        println!(
            "RESULT N={n} lost_samples={missing} wrong_frames={wrong} engine_cpu_pct={core_pct:.1} latency_p99_ms={:.2}",
            percentile(&latencies, 0.99).as_secs_f64() * 1000.0
        );
    });
}
