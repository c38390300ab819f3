//! The HTTP front holds under connection abuse, against the `offhook` binary (issue 13, point 3):
//!
//! - slowloris: 1,100 connections that each send part of a request head and then wait, against
//!   a server limited to 1,024 file descriptors (a service manager's usual limit), do not stop it
//!   serving: `/api/v1/health` still answers within a second, and the idle connections it closed
//!   to make room are counted in `/metrics`;
//! - a connection that never finishes its request head is closed after `[http] header_timeout`.
// Real processes and sockets: deadlines need the real clock.
#![allow(clippy::disallowed_methods)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use offhook_tests::{DEADLINE, Server};

/// What a slow client sends, and then nothing more: a request head without its final blank line.
const PARTIAL_HEAD: &[u8] = b"GET /api/v1/health HTTP/1.1\r\nHost: offhook\r\nX-Slow: 1\r\n";

fn addr(server: &Server) -> SocketAddr {
    server
        .url
        .trim_start_matches("http://")
        .parse()
        .expect("server address")
}

/// This process's own soft descriptor limit, raised (up to the hard limit) so that it can hold
/// `n` sockets; fails if the machine will not allow it.
fn allow_descriptors(n: u64) {
    let pid = std::process::id().to_string();
    let out = std::process::Command::new("prlimit")
        .args([
            "--pid",
            &pid,
            "--nofile",
            "--raw",
            "--noheadings",
            "--output=SOFT,HARD",
        ])
        .output()
        .expect("prlimit");
    let text = String::from_utf8_lossy(&out.stdout);
    let mut it = text
        .split_whitespace()
        .map(|v| v.parse::<u64>().unwrap_or(u64::MAX));
    let (soft, hard) = (it.next().unwrap_or(0), it.next().unwrap_or(0));
    if soft >= n {
        return;
    }
    assert!(
        hard >= n,
        "this test needs {n} descriptors; the hard limit is {hard}"
    );
    let ok = std::process::Command::new("prlimit")
        .args(["--pid", &pid, &format!("--nofile={n}:{hard}")])
        .status()
        .expect("prlimit");
    assert!(ok.success(), "raise the descriptor limit to {n}");
}

#[test]
fn partial_request_heads_do_not_starve_a_server_short_of_descriptors() {
    allow_descriptors(4096);
    let server = Server::start_with_nofile(1024, "");
    let to = addr(&server);
    let mut held = Vec::with_capacity(1100);
    for _ in 0..1100 {
        let mut s = TcpStream::connect_timeout(&to, DEADLINE).expect("connect");
        // A write may fail once the server has closed an old one: the flood goes on regardless.
        let _ = s.write_all(PARTIAL_HEAD);
        held.push(s);
    }
    // The flood is still held open; a real client is served at once.
    let health = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(1))
        .build()
        .expect("client")
        .get(format!("{}/api/v1/health", server.url))
        .send()
        .expect("/api/v1/health answers within a second during the flood");
    assert!(health.status().is_success(), "{}", health.status());
    let evicted = server.metric("offhook_http_total{kind=\"idle_evicted\"}");
    assert!(
        evicted >= 1100 - 256,
        "at most 256 idle connections kept: {evicted} of 1,100 closed to make room"
    );
    drop(held);
}

#[test]
fn a_request_head_that_never_ends_is_cut_off() {
    let server = Server::start("[http]\nheader_timeout = \"1s\"\n");
    let mut s = TcpStream::connect_timeout(&addr(&server), DEADLINE).expect("connect");
    s.write_all(PARTIAL_HEAD).expect("send part of a head");
    s.set_read_timeout(Some(DEADLINE)).expect("read timeout");
    // The server closes it (with or without a 408 first); a read then ends, it does not hang.
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the connection was not closed: {e}"),
    }
    let text = String::from_utf8_lossy(&got);
    assert!(
        got.is_empty() || text.starts_with("HTTP/1.1 408"),
        "closed, not answered: {text:?}"
    );
}

#[test]
fn an_upload_without_a_session_is_refused_unread() {
    let server = Server::start("");
    let mut s = TcpStream::connect_timeout(&addr(&server), DEADLINE).expect("connect");
    // 200 MB announced, none of it sent: the answer must not wait for the body.
    s.write_all(
        b"POST /api/v1/messages HTTP/1.1\r\nHost: offhook\r\n\
          Content-Type: multipart/form-data; boundary=x\r\nContent-Length: 200000000\r\n\r\n",
    )
    .expect("send the head");
    s.set_read_timeout(Some(Duration::from_secs(5)))
        .expect("read timeout");
    let mut head = [0u8; 12];
    s.read_exact(&mut head)
        .expect("an answer before any of the body is sent");
    assert_eq!(&head, b"HTTP/1.1 401");
}
