//! `offhook serve` under a service manager, without systemd: the test binds the datagram socket
//! systemd would (`NOTIFY_SOCKET`, a path or an `@abstract` name) and reads what the server
//! says (`sd_notify(3)`): `READY=1` once it serves, `STATUS=` lines, `WATCHDOG=1` every half
//! `WATCHDOG_USEC` (only for the process `WATCHDOG_PID` names), `STOPPING=1` on SIGTERM and a
//! clean exit. A last test gives it a journal (`JOURNAL_STREAM` and a stand-in for journald's
//! socket in a mount namespace of its own) and reads the native-protocol entries.
// The stop's duration is measured (printed, never asserted) with the monotonic clock.
#![allow(clippy::disallowed_methods)]

use std::os::linux::net::SocketAddrExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use offhook_tests::sim::free_tcp_and_udp_port;
use offhook_tests::{DEADLINE, PASSWORD, free_port, http, offhook_bin, rtp_ports, wait_for};
use serde_json::Value;

/// Every datagram a socket receives, as text, on a channel (read by a thread of its own).
fn datagrams(socket: UnixDatagram) -> mpsc::Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0; 65536];
        while let Ok(n) = socket.recv(&mut buf) {
            if tx
                .send(String::from_utf8_lossy(&buf[..n]).into_owned())
                .is_err()
            {
                return;
            }
        }
    });
    rx
}

/// What the server told its (stand-in) service manager so far.
struct Manager {
    rx: mpsc::Receiver<String>,
    /// Every datagram received, in order.
    seen: Vec<String>,
}

impl Manager {
    fn new(socket: UnixDatagram) -> Self {
        Self {
            rx: datagrams(socket),
            seen: Vec::new(),
        }
    }

    /// Waits (at most [`DEADLINE`]) for a datagram with the line `line`, and returns it.
    fn expect(&mut self, line: &str) -> String {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let Ok(d) = self.rx.recv_timeout(left) else {
                panic!("no {line:?} within {DEADLINE:?}; got {:?}", self.seen);
            };
            self.seen.push(d.clone());
            if d.lines().any(|l| l == line) {
                return d;
            }
        }
    }

    /// Takes what has arrived by now without waiting.
    fn drain(&mut self) {
        while let Ok(d) = self.rx.try_recv() {
            self.seen.push(d);
        }
    }

    /// How many datagrams since the `from`th held the line `line`.
    fn count_since(&self, from: usize, line: &str) -> usize {
        self.seen[from..]
            .iter()
            .filter(|d| d.lines().any(|l| l == line))
            .count()
    }

    /// Every `STATUS=` text received, in order.
    fn statuses(&self) -> Vec<&str> {
        self.seen
            .iter()
            .flat_map(|d| d.lines())
            .filter_map(|l| l.strip_prefix("STATUS="))
            .collect()
    }
}

/// An `offhook serve` on its own data dir and ports, killed if the test fails.
struct Served {
    child: Child,
    url: String,
    log: PathBuf,
    _tmp: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// How to run the binary.
#[derive(Default)]
struct Launch<'a> {
    /// Environment variables set for it.
    env: Vec<(&'a str, String)>,
    /// `WATCHDOG_PID` set to its own pid (through `sh -c 'WATCHDOG_PID=$$ exec …'`, as systemd
    /// sets it for the process it forks).
    watchdog_pid_own: bool,
    /// The journald socket's stand-in: run in a mount namespace of its own with this directory
    /// over `/run/systemd` (so `journal/socket` in it is journald's), and `JOURNAL_STREAM` set
    /// to the log file's device and inode.
    journal: Option<&'a Path>,
    /// Add admin `root` before it starts.
    admin: bool,
}

impl Served {
    fn start(launch: Launch<'_>) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let config = tmp.path().join("offhook.toml");
        std::fs::write(
            &config,
            format!(
                "[http]\nlisten = \"127.0.0.1:{port}\"\n[media]\nrtp_ports = \"{}\"\n\
                 [sip]\nlisten = \"127.0.0.1:{}\"\n",
                rtp_ports(),
                free_tcp_and_udp_port()
            ),
        )
        .expect("write config");
        let data = tmp.path().join("data");
        if launch.admin {
            let mut child = Command::new(offhook_bin())
                .args(["user", "add", "root", "--admin", "--password-stdin"])
                .arg("--data-dir")
                .arg(&data)
                .arg("--config")
                .arg(&config)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("offhook user add");
            std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), PASSWORD.as_bytes())
                .expect("password");
            assert!(child.wait().expect("user add").success(), "user add root");
        }
        let log = tmp.path().join("server.log");
        let stderr = std::fs::File::create(&log).expect("log file");
        let bin = offhook_bin();
        let mut script = String::new();
        if let Some(dir) = launch.journal {
            let st = stderr.metadata().expect("log file's metadata");
            script.push_str(&format!(
                "mount --bind '{}' /run/systemd && JOURNAL_STREAM={}:{} ",
                dir.display(),
                st.dev(),
                st.ino()
            ));
        }
        if launch.watchdog_pid_own {
            script.push_str("WATCHDOG_PID=$$ ");
        }
        script.push_str("exec \"$0\" \"$@\"");
        let mut command = if launch.journal.is_some() {
            let mut c = Command::new("unshare");
            // A private mount namespace: the bind mount is the server's alone.
            c.args(["--mount", "--propagation", "private", "sh", "-c", &script]);
            c
        } else {
            let mut c = Command::new("sh");
            c.args(["-c", &script]);
            c
        };
        command
            .arg(&bin)
            .arg("serve")
            .arg("--data-dir")
            .arg(&data)
            .arg("--config")
            .arg(&config)
            .env("OFFHOOK_LOG", "info")
            // Whatever the test runner was started with: only what the test sets.
            .env_remove("NOTIFY_SOCKET")
            .env_remove("WATCHDOG_USEC")
            .env_remove("WATCHDOG_PID")
            .env_remove("JOURNAL_STREAM")
            .envs(launch.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let child = command.spawn().expect("spawn offhook serve");
        Self {
            child,
            url: format!("http://127.0.0.1:{port}"),
            log,
            _tmp: tmp,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM.
    fn sigterm(&self) {
        let ok = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(ok.success());
    }

    fn wait_exit(&mut self) -> ExitStatus {
        wait_for("the server to exit", || {
            self.child.try_wait().expect("try_wait")
        })
    }
}

/// A socket bound where `NOTIFY_SOCKET` will point: a path in a temporary directory.
fn path_socket(dir: &Path) -> (UnixDatagram, String) {
    let path = dir.join("notify");
    let socket = UnixDatagram::bind(&path).expect("bind the notify socket");
    (socket, path.to_string_lossy().into_owned())
}

/// A socket bound to a fresh abstract name, and `@name` for `NOTIFY_SOCKET`.
fn abstract_socket(tag: &str) -> (UnixDatagram, String) {
    let name = format!("offhook-test-{tag}-{}", std::process::id());
    let addr = SocketAddr::from_abstract_name(name.as_bytes()).expect("abstract name");
    let socket = UnixDatagram::bind_addr(&addr).expect("bind the abstract notify socket");
    (socket, format!("@{name}"))
}

fn health_ok(url: &str) -> bool {
    http()
        .get(format!("{url}/api/v1/health"))
        .send()
        .is_ok_and(|r| r.status().is_success())
}

#[test]
fn ready_once_serving_then_status_watchdog_pings_and_stopping_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (socket, notify_socket) = path_socket(dir.path());
    let mut manager = Manager::new(socket);
    let mut server = Served::start(Launch {
        env: vec![
            ("NOTIFY_SOCKET", notify_socket),
            ("WATCHDOG_USEC", "1000000".into()),
        ],
        ..Launch::default()
    });

    let ready = manager.expect("READY=1");
    // Told only once the web port answers: the first request made after it succeeds.
    assert!(health_ok(&server.url), "{}", server.log_text());
    assert!(
        ready.contains(&format!("STATUS=serving on {}", server.url)),
        "READY=1 comes with where it serves: {ready:?}"
    );
    assert_eq!(
        manager.statuses().first(),
        Some(&"starting"),
        "{:?}",
        manager.seen
    );

    // Pings every half period (0.5 s): three arrive after READY=1, counted, not timed.
    let after_ready = manager.seen.len();
    for _ in 0..3 {
        manager.expect("WATCHDOG=1");
    }
    assert!(manager.count_since(after_ready, "WATCHDOG=1") >= 3);

    let asked = Instant::now();
    server.sigterm();
    let stopping = manager.expect("STOPPING=1");
    assert!(
        stopping.contains("STATUS=shutting down (SIGTERM)"),
        "{stopping:?}"
    );
    let status = server.wait_exit();
    let took = asked.elapsed();
    assert!(status.success(), "{status}: {}", server.log_text());
    eprintln!("SIGTERM to exit: {took:?}");
    manager.drain();
    let last_status = manager.statuses().last().copied();
    assert_eq!(
        last_status,
        Some("shutting down (SIGTERM)"),
        "no status after the last word: {:?}",
        manager.seen
    );
    // The datagrams are the protocol's lines only.
    for d in &manager.seen {
        for line in d.lines() {
            assert!(
                ["READY=1", "WATCHDOG=1", "STOPPING=1"].contains(&line)
                    || line.starts_with("STATUS="),
                "{line:?}"
            );
        }
    }
}

/// `WATCHDOG_PID` names the process the pings are for: its own pid (as systemd sets it, here
/// through an abstract socket) gets them; another process's (pid 1) gets none. The first
/// server's pings are the second's clock: no wall-clock wait.
#[test]
fn watchdog_pings_only_for_the_process_watchdog_pid_names() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (socket, notify_socket) = abstract_socket("fed");
    let mut fed_manager = Manager::new(socket);
    let mut fed = Served::start(Launch {
        env: vec![
            ("NOTIFY_SOCKET", notify_socket),
            ("WATCHDOG_USEC", "1000000".into()),
        ],
        watchdog_pid_own: true,
        ..Launch::default()
    });
    let (socket, notify_socket) = path_socket(dir.path());
    let mut other_manager = Manager::new(socket);
    let mut other = Served::start(Launch {
        env: vec![
            ("NOTIFY_SOCKET", notify_socket),
            ("WATCHDOG_USEC", "1000000".into()),
            ("WATCHDOG_PID", "1".into()),
        ],
        ..Launch::default()
    });

    fed_manager.expect("READY=1");
    other_manager.expect("READY=1");
    assert!(health_ok(&other.url), "{}", other.log_text());
    // Four pings (two periods) to the first server after the second was ready.
    let from = fed_manager.seen.len();
    for _ in 0..4 {
        fed_manager.expect("WATCHDOG=1");
    }
    assert!(fed_manager.count_since(from, "WATCHDOG=1") >= 4);

    for (server, manager) in [
        (&mut fed, &mut fed_manager),
        (&mut other, &mut other_manager),
    ] {
        server.sigterm();
        manager.expect("STOPPING=1");
        let status = server.wait_exit();
        assert!(status.success(), "{status}: {}", server.log_text());
    }
    other_manager.drain();
    assert_eq!(
        other_manager.count_since(0, "WATCHDOG=1"),
        0,
        "{:?}",
        other_manager.seen
    );
    assert!(
        other_manager
            .statuses()
            .contains(&"shutting down (SIGTERM)")
    );
}

/// Without `NOTIFY_SOCKET` nothing changes: the server serves and stops as always.
#[test]
fn without_notify_socket_serve_runs_as_before() {
    let mut server = Served::start(Launch::default());
    wait_for("the server to answer /api/v1/health", || {
        health_ok(&server.url).then_some(())
    });
    server.sigterm();
    let status = server.wait_exit();
    assert!(status.success(), "{status}: {}", server.log_text());
    assert!(
        !server.log_text().contains("systemd"),
        "{}",
        server.log_text()
    );
}

/// The journal's fields of one native-protocol datagram (`KEY=value` lines; a value with a
/// line break comes as `KEY\n`, a 64-bit little-endian length, the bytes and `\n`).
fn journal_fields(d: &[u8]) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = d;
    while !rest.is_empty() {
        let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
        let line = &rest[..end];
        match line.iter().position(|&b| b == b'=') {
            Some(eq) => {
                out.push((
                    String::from_utf8_lossy(&line[..eq]).into_owned(),
                    String::from_utf8_lossy(&line[eq + 1..]).into_owned(),
                ));
                rest = rest.get(end + 1..).unwrap_or_default();
            }
            None => {
                let key = String::from_utf8_lossy(line).into_owned();
                let len_at = end + 1;
                let len = u64::from_le_bytes(rest[len_at..len_at + 8].try_into().expect("length"));
                let start = len_at + 8;
                let value = &rest[start..start + usize::try_from(len).expect("len")];
                out.push((key, String::from_utf8_lossy(value).into_owned()));
                rest = rest.get(start + value.len() + 1..).unwrap_or_default();
            }
        }
    }
    out
}

/// With `JOURNAL_STREAM` naming its stderr, the server logs to journald's socket in the
/// native protocol (priority, message, fields, identifier `offhook`) and not to stderr; the
/// admin console's log still has the lines.
#[test]
fn with_journal_stream_the_log_goes_to_journald() {
    let run = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir(run.path().join("journal")).expect("mkdir journal");
    let journal = UnixDatagram::bind(run.path().join("journal/socket")).expect("bind journal");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut buf = vec![0; 1 << 20];
        while let Ok(n) = journal.recv(&mut buf) {
            if tx.send(journal_fields(&buf[..n])).is_err() {
                return;
            }
        }
    });
    let server = Served::start(Launch {
        journal: Some(run.path()),
        admin: true,
        ..Launch::default()
    });
    let end = Instant::now() + DEADLINE;
    let serving = loop {
        let left = end.saturating_duration_since(Instant::now());
        let fields = rx
            .recv_timeout(left)
            .unwrap_or_else(|_| panic!("no \"offhook serving\" entry; log: {}", server.log_text()));
        let get = |k: &str| fields.iter().find(|(key, _)| key == k).map(|(_, v)| v);
        if get("MESSAGE").is_some_and(|m| m == "offhook serving") {
            break fields;
        }
    };
    let get = |k: &str| {
        serving
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    assert_eq!(get("PRIORITY"), Some("5"), "INFO is notice: {serving:?}");
    assert_eq!(get("SYSLOG_IDENTIFIER"), Some("offhook"), "{serving:?}");
    assert_eq!(
        get("F_ADDRESS"),
        server.url.strip_prefix("http://"),
        "{serving:?}"
    );
    assert!(
        !server.log_text().contains("offhook serving"),
        "not on stderr too: {}",
        server.log_text()
    );

    // The ring behind GET /api/v1/log is fed all the same.
    let login: Value = http()
        .post(format!("{}/api/v1/session", server.url))
        .json(&serde_json::json!({"username": "root", "password": PASSWORD}))
        .send()
        .expect("login")
        .json()
        .expect("json");
    let token = login["token"].as_str().expect("token");
    let page: Value = http()
        .get(format!("{}/api/v1/log", server.url))
        .bearer_auth(token)
        .send()
        .expect("log")
        .json()
        .expect("json");
    assert!(
        page["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .any(|l| l["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("offhook serving"))),
        "{page}"
    );
}

/// With `JOURNAL_STREAM` set but no journald to talk to, the log stays on stderr and says why.
#[test]
fn with_journal_stream_but_no_journald_the_log_stays_on_stderr() {
    // An empty /run/systemd: no journal socket.
    let run = tempfile::tempdir().expect("tempdir");
    let mut server = Served::start(Launch {
        journal: Some(run.path()),
        ..Launch::default()
    });
    wait_for("the server to log that it serves", || {
        server.log_text().contains("offhook serving").then_some(())
    });
    assert!(
        server
            .log_text()
            .contains("JOURNAL_STREAM is set but journald's socket cannot be opened"),
        "{}",
        server.log_text()
    );
    server.sigterm();
    assert!(server.wait_exit().success(), "{}", server.log_text());
}
