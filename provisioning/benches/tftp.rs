//! TFTP storm benchmark: many small files fetched by a minimal lockstep client, a fixed number
//! at a time, against our server or any other.
//!
//! ```text
//! cargo bench -p provisioning --bench tftp                       # our server, in-process
//! BENCH storm --server 127.0.0.1:PORT [--files N] [--concurrency C] [--size BYTES]
//! BENCH make-files DIR [--files N] [--size BYTES]                # the files the storm asks for
//! ```
//!
//! The files are named as Cisco phones name theirs, `SEP<12 hex digits>.cnf.xml`, the i-th with
//! the digits of i, each `--size` bytes (default 1800: four DATA blocks at blksize 512). Each of
//! `--concurrency` threads (default 32) fetches its share in turn with `octet` mode and no
//! options (as phones do), re-sending its last packet after 1 s of silence, up to 5 times; every
//! file's length is checked. Prints files per second over the whole storm.
// A benchmark measures real time.
#![allow(clippy::disallowed_methods)]

use std::net::{SocketAddr, UdpSocket};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use provisioning::files::Root;
use provisioning::tftp::driver::{DriverConfig, Tftpd};

struct Args {
    server: Option<SocketAddr>,
    files: usize,
    concurrency: usize,
    size: usize,
    dir: Option<String>,
    command: String,
}

fn parse_args() -> Args {
    let mut a = Args {
        server: None,
        files: 2000,
        concurrency: 32,
        size: 1800,
        dir: None,
        command: "self".into(),
    };
    let mut it = std::env::args().skip(1).filter(|s| s != "--bench");
    while let Some(arg) = it.next() {
        let mut value = || it.next().expect("a value after the flag");
        match arg.as_str() {
            "--server" => a.server = Some(value().parse().expect("--server ADDR")),
            "--files" => a.files = value().parse().expect("--files N"),
            "--concurrency" => a.concurrency = value().parse().expect("--concurrency N"),
            "--size" => a.size = value().parse().expect("--size BYTES"),
            "storm" | "make-files" | "self" => a.command = arg,
            other if a.command == "make-files" && a.dir.is_none() => a.dir = Some(other.into()),
            other => panic!("unknown argument {other}"),
        }
    }
    a
}

fn name(i: usize) -> String {
    format!("SEP{i:012X}.cnf.xml")
}

fn make_files(dir: &Path, files: usize, size: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..files {
        let mut body = format!("<device><name>{}</name>", name(i)).into_bytes();
        body.resize(size, b'x');
        std::fs::write(dir.join(name(i)), body).unwrap();
    }
}

/// Fetches one file, lockstep, no options. Returns its length, or `None` after 5 silences or
/// an ERROR.
fn fetch(sock: &UdpSocket, server: SocketAddr, name: &str, buf: &mut [u8]) -> Option<usize> {
    let mut last = b"\x00\x01".to_vec();
    last.extend_from_slice(name.as_bytes());
    last.extend_from_slice(b"\x00octet\x00");
    let mut to = server;
    let mut peer: Option<SocketAddr> = None;
    let mut next: u16 = 1;
    let mut len = 0usize;
    let mut silences = 0;
    sock.send_to(&last, to).ok()?;
    loop {
        let Ok((n, from)) = sock.recv_from(buf) else {
            silences += 1;
            if silences > 5 {
                return None;
            }
            sock.send_to(&last, to).ok()?;
            continue;
        };
        if peer.is_some_and(|p| p != from) || n < 4 {
            continue;
        }
        match u16::from_be_bytes([buf[0], buf[1]]) {
            3 => {
                peer = Some(from);
                to = from;
                let block = u16::from_be_bytes([buf[2], buf[3]]);
                last = vec![0, 4, buf[2], buf[3]];
                sock.send_to(&last, to).ok()?;
                if block == next {
                    next = next.wrapping_add(1);
                    len += n - 4;
                    if n - 4 < 512 {
                        return Some(len);
                    }
                }
            }
            5 => return None,
            _ => {}
        }
    }
}

fn storm(server: SocketAddr, files: usize, concurrency: usize, size: usize) -> f64 {
    let next = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let start = Instant::now();
    let threads: Vec<_> = (0..concurrency)
        .map(|_| {
            let next = next.clone();
            let failed = failed.clone();
            std::thread::spawn(move || {
                let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
                sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
                let mut buf = vec![0u8; 65536];
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= files {
                        break;
                    }
                    if fetch(&sock, server, &name(i), &mut buf) != Some(size) {
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let elapsed = start.elapsed();
    let failed = failed.load(Ordering::Relaxed);
    let rate = (files - failed) as f64 / elapsed.as_secs_f64();
    println!(
        "storm {server}: {files} files of {size} B, {concurrency} at a time: {} ok, {failed} failed, \
         {:.1} ms, {rate:.0} files/s",
        files - failed,
        elapsed.as_secs_f64() * 1e3,
    );
    rate
}

fn main() {
    let a = parse_args();
    match a.command.as_str() {
        "make-files" => make_files(Path::new(&a.dir.expect("make-files DIR")), a.files, a.size),
        "storm" => {
            storm(
                a.server.expect("storm --server ADDR"),
                a.files,
                a.concurrency,
                a.size,
            );
        }
        _ => {
            // Our server, in-process on loopback, over a temporary directory.
            let dir = tempfile::tempdir().unwrap();
            make_files(dir.path(), a.files, a.size);
            let runtime = tokio::runtime::Runtime::new().unwrap();
            let server = runtime.block_on(async {
                let config = DriverConfig {
                    listen: "127.0.0.1:0".parse().unwrap(),
                    ..DriverConfig::default()
                };
                let d = Tftpd::bind(config, Arc::new(Root::new(dir.path()).unwrap())).unwrap();
                let addr = d.local_addr().unwrap();
                tokio::spawn(d.run(std::future::pending()));
                addr
            });
            for _ in 0..3 {
                storm(server, a.files, a.concurrency, a.size);
            }
        }
    }
}
