//! Shared helpers for the end-to-end tests: they run the real `offhook` binary on loopback with a
//! temporary data dir and a free port.
//!
//! The binary must be built first (`cargo build --bins`); tests never run cargo themselves.
// The harness drives real processes over real sockets: its bounded deadlines need the monotonic
// clock, which clippy.toml bans for the sans-IO cores.
#![allow(clippy::disallowed_methods)]

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;

mod binary;
pub use binary::{check_fresh, offhook_bin};

pub mod audio;
pub mod nats;
pub mod netns;
pub mod spoof;
pub use spoof::spoof_udp;
pub mod osmo;
pub mod sim;
pub mod sip_peers;
pub mod tls;

/// How long any single wait in a test may take before it fails.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse";

/// The shared fixtures directory: `shared/fixtures` beside the checkout (`tests/../../shared`),
/// or in the nearest ancestor that has one (git worktrees live deeper).
pub fn fixtures() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    here.ancestors()
        .map(|a| a.join("shared/fixtures"))
        .find(|p| p.join("speech-8k.wav").exists())
        .unwrap_or_else(|| here.join("../../shared/fixtures"))
}

/// The 11.4 s, 8 kHz speech fixture.
pub fn speech_8k() -> PathBuf {
    let p = fixtures().join("speech-8k.wav");
    assert!(p.exists(), "missing fixture {}", p.display());
    p
}

/// Duration of a WAV file in milliseconds.
pub fn wav_duration_ms(path: &Path) -> u64 {
    let r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    u64::from(r.duration()) * 1000 / u64::from(spec.sample_rate)
}

/// 200 ports (`"A-B"`) another test in parallel is unlikely to use (a server and a gateway
/// simulator each take a range), never among the ephemeral ports a port-0 socket may hold.
pub fn rtp_ports() -> String {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    // Spread over 16384-32583 by process and by call, below the ephemeral ports (32768 up).
    let slot = (u32::from(NEXT.fetch_add(1, Ordering::Relaxed)) + std::process::id() * 7) % 81;
    let base = 16_384 + slot * 200;
    format!("{base}-{}", base + 199)
}

/// A free TCP port on loopback.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind :0")
}

/// Polls `f` until it returns `Some` or [`DEADLINE`] passes.
pub fn wait_for<T>(what: &str, f: impl FnMut() -> Option<T>) -> T {
    wait_within(what, DEADLINE, f)
}

/// Polls `f` until it returns `Some` or `limit` passes.
pub fn wait_within<T>(what: &str, limit: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return v;
        }
        assert!(Instant::now() < end, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running `offhook serve`.
pub struct Server {
    child: Option<Child>,
    /// The data dir (kept across restarts).
    pub data: PathBuf,
    _tmp: Option<tempfile::TempDir>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// `https://127.0.0.1:PORT` for a server started with [`Self::start_tls`].
    pub https: Option<String>,
    config: PathBuf,
    log: PathBuf,
    /// A command that runs the binary (such as `prlimit --nofile=1024:1024`), if any.
    launcher: Vec<String>,
    /// The data dir is a tmpfs this harness mounted (unmounted on drop).
    small_disk: bool,
}

impl Server {
    /// Starts a server on a fresh data dir; `extra` is appended to its config file (an `[http]`
    /// table in it is given the server's listen address).
    pub fn start(extra: &str) -> Self {
        Self::start_with_ports(&rtp_ports(), extra)
    }

    /// [`Self::start`] under a file-descriptor limit of `nofile` (soft and hard, as a service
    /// manager would set it), through util-linux's `prlimit`.
    pub fn start_with_nofile(nofile: u32, extra: &str) -> Self {
        let limit = format!("--nofile={nofile}:{nofile}");
        Self::start_inner(&rtp_ports(), extra, vec!["prlimit".into(), limit], None)
    }

    /// [`Self::start`] with the process's umask set to `umask` (octal, such as `"022"`) first.
    pub fn start_with_umask(umask: &str, extra: &str) -> Self {
        let script = format!("umask {umask} && exec \"$0\" \"$@\"");
        Self::start_inner(
            &rtp_ports(),
            extra,
            vec!["sh".into(), "-c".into(), script],
            None,
        )
    }

    /// [`Self::start`] with the media engine on `rtp_ports` (`"A-B"`).
    pub fn start_with_ports(rtp_ports: &str, extra: &str) -> Self {
        Self::start_inner(rtp_ports, extra, Vec::new(), None)
    }

    /// [`Self::start`] with the data dir on a file system of `bytes` of its own (a tmpfs this
    /// harness mounts, as root, and unmounts when the server is dropped): a disk to fill.
    /// [`Self::resize_disk`] makes room again.
    pub fn start_on_small_disk(bytes: u64, extra: &str) -> Self {
        Self::start_inner(&rtp_ports(), extra, Vec::new(), Some(bytes))
    }

    /// Grows (or shrinks) the data dir's file system of [`Self::start_on_small_disk`].
    pub fn resize_disk(&self, bytes: u64) {
        assert!(self.small_disk, "not started on a small disk");
        let opts = format!("remount,size={bytes}");
        let out = Command::new("mount")
            .args(["-o", &opts])
            .arg(&self.data)
            .output()
            .expect("mount -o remount");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// [`Self::start`] with `media` as its `[media]` body (see [`media_table`]; not in `extra`),
    /// run through `launcher` (such as `["setpriv", "--bounding-set=-sys_nice"]`) if not empty.
    pub fn start_with_media(media: &str, launcher: Vec<String>, extra: &str) -> Self {
        let port = free_port();
        let listen = format!("listen = \"127.0.0.1:{port}\"\n");
        Self::launch(
            &format!("{media}\n"),
            &listen,
            extra,
            launcher,
            port,
            None,
            None,
        )
    }

    fn start_inner(
        rtp_ports: &str,
        extra: &str,
        launcher: Vec<String>,
        small_disk: Option<u64>,
    ) -> Self {
        let port = free_port();
        let listen = format!("listen = \"127.0.0.1:{port}\"\n");
        let media = media_table(rtp_ports);
        Self::launch(&media, &listen, extra, launcher, port, None, small_disk)
    }

    /// Writes the config (`http` is put at the head of the `[http]` table, `media` is the
    /// `[media]` table's body) and starts it; the harness reaches it over plain HTTP on `port`.
    /// With `small_disk`, the data dir is a tmpfs of that many bytes.
    fn launch(
        media: &str,
        http: &str,
        extra: &str,
        launcher: Vec<String>,
        port: u16,
        https: Option<String>,
        small_disk: Option<u64>,
    ) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let data = tmp.path().join("data");
        if let Some(bytes) = small_disk {
            std::fs::create_dir(&data).expect("mkdir data");
            let opts = format!("size={bytes},mode=0700");
            let out = Command::new("mount")
                .args(["-t", "tmpfs", "-o", &opts, "offhook-test"])
                .arg(&data)
                .output()
                .expect("mount -t tmpfs (the end-to-end tests run as root)");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let config = tmp.path().join("offhook.toml");
        // SIP is on by default on 0.0.0.0:5060: each test server gets a loopback port of its
        // own unless the test sets `[sip]` itself.
        let extra = &if extra.contains("[sip]") {
            extra.to_owned()
        } else {
            format!(
                "{extra}\n[sip]\nlisten = \"127.0.0.1:{}\"\n",
                sim::free_tcp_and_udp_port()
            )
        };
        std::fs::write(
            &config,
            // An `[http]` table in `extra` gets the listen address; otherwise the harness adds one.
            match extra.split_once("[http]\n") {
                Some((before, after)) => {
                    format!("[media]\n{media}{before}[http]\n{http}{after}\n")
                }
                None => format!("[http]\n{http}[media]\n{media}{extra}\n"),
            },
        )
        .expect("write config");
        let mut s = Self {
            child: None,
            data,
            log: tmp.path().join("server.log"),
            _tmp: Some(tmp),
            url: format!("http://127.0.0.1:{port}"),
            https,
            config,
            launcher,
            small_disk: small_disk.is_some(),
        };
        s.spawn();
        s
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let mut command = match self.launcher.split_first() {
            Some((program, args)) => {
                let mut c = Command::new(program);
                c.args(args).arg(offhook_bin());
                c
            }
            None => Command::new(offhook_bin()),
        };
        let child = command
            .arg("serve")
            .arg("--data-dir")
            .arg(&self.data)
            .arg("--config")
            .arg(&self.config)
            .env("OFFHOOK_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn offhook serve");
        self.child = Some(child);
        let health = format!("{}/api/v1/health", self.url);
        let client = http();
        wait_for("the server to answer /api/v1/health", || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("server exited early ({status}): {}", self.log_text());
            }
            client
                .get(&health)
                .send()
                .ok()
                .filter(|r| r.status().is_success())
        });
    }

    /// The server process's id, while it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The server's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Starts it again on the same data dir and port.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "still running");
        self.spawn();
    }

    /// SIGKILL, no chance to clean up.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill().expect("SIGKILL");
            c.wait().expect("reap");
        }
    }

    /// SIGTERM, then waits for a clean exit.
    pub fn terminate(&mut self) -> ExitStatus {
        let mut c = self.child.take().expect("running");
        let ok = Command::new("kill")
            .args(["-TERM", &c.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(ok.success());
        wait_for("the server to exit", || c.try_wait().expect("try_wait"))
    }

    /// Runs `offhook user add NAME` on the data dir with [`PASSWORD`].
    pub fn add_user(&self, name: &str) {
        self.add(name, false);
    }

    /// Whether gateway `name` is up, as `/api/v1/health` tells anyone; `None` if it is not
    /// listed (or the server does not answer).
    pub fn gateway_up(&self, name: &str) -> Option<bool> {
        self.health(None)?["gateways"]
            .as_array()?
            .iter()
            .find(|g| g["name"] == name)
            .map(|g| g["up"] == true)
    }

    /// `/api/v1/health` as the holder of `token` sees it (or anyone, without one); `None` if
    /// the server does not answer.
    pub fn health(&self, token: Option<&str>) -> Option<Value> {
        health_at(&self.url, token)
    }

    /// Adds admin `name` (password [`PASSWORD`]) with `offhook user add --admin`.
    pub fn add_admin(&self, name: &str) {
        self.add(name, true);
    }

    fn add(&self, name: &str, admin: bool) {
        let mut args = vec!["user", "add", name, "--password-stdin"];
        if admin {
            args.push("--admin");
        }
        let out = self.offhook(&args, Some(PASSWORD));
        assert!(
            out.status.success(),
            "user add {name}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Runs `offhook ARGS --data-dir DATA`, feeding `stdin`.
    pub fn offhook(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut c = Command::new(offhook_bin())
            .args(args)
            .arg("--data-dir")
            .arg(&self.data)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn offhook");
        if let Some(s) = stdin {
            c.stdin
                .take()
                .expect("stdin")
                .write_all(format!("{s}\n").as_bytes())
                .expect("write stdin");
        }
        drop(c.stdin.take());
        c.wait_with_output().expect("offhook output")
    }

    /// Runs a client subcommand as `user` against this server.
    pub fn client(&self, user: &str, args: &[&str]) -> Output {
        self.client_at(&self.url, user, args)
    }

    /// A server with SIP on a loopback port of its own (UDP and TCP), knowing `users`; restarted
    /// once, since the SIP accounts are read at start (and every 2 s after) and a phone
    /// registering sooner than that after `user add` would be refused once.
    pub fn with_sip(users: &[&str]) -> (Self, std::net::SocketAddr) {
        let port = sim::free_tcp_and_udp_port();
        let sip = std::net::SocketAddr::from(([127, 0, 0, 1], port));
        let mut server = Self::start(&format!("[sip]\nlisten = \"{sip}\"\n"));
        for user in users {
            server.add_user(user);
        }
        server.terminate();
        server.restart();
        (server, sip)
    }

    /// `(sip_username, sip_secret)` as `offhook user show NAME --json` prints them.
    pub fn sip_credentials(&self, user: &str) -> (String, String) {
        let out = self.offhook(&["user", "show", user, "--json"], None);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        (
            v["sip_username"].as_str().unwrap().to_owned(),
            v["sip_secret"].as_str().unwrap().to_owned(),
        )
    }

    /// Waits until message `id` is in `user`'s inbox (`offhook inbox --json`: a recording is
    /// listed once it is stored), fetches its audio to `out` (`offhook fetch`), and returns its
    /// inbox entry.
    pub fn wait_and_fetch(&self, user: &str, id: &str, out: &Path) -> Value {
        let entry = wait_for(&format!("message {id} in {user}'s inbox"), || {
            let listed = self.client(user, &["inbox", "--json"]);
            let list: Value = serde_json::from_slice(&listed.stdout).ok()?;
            list.as_array()?.iter().find(|m| m["id"] == id).cloned()
        });
        let fetched = self.client(user, &["fetch", id, "--out", &out.display().to_string()]);
        assert!(
            fetched.status.success(),
            "offhook fetch {id}: {}",
            String::from_utf8_lossy(&fetched.stderr)
        );
        entry
    }

    /// Runs a client subcommand as `user` against this server at `url` (its HTTPS address).
    pub fn client_at(&self, url: &str, user: &str, args: &[&str]) -> Output {
        client_command(url, user, args)
            .stdin(Stdio::null())
            .output()
            .expect("run offhook client")
    }

    /// Starts `offhook listen` as `user`, after it reports it is connected.
    pub fn listen(&self, user: &str, extra: &[&str]) -> Lines {
        self.listen_at(&self.url, user, extra)
    }

    /// [`Self::listen`] at `url` (its HTTPS address).
    pub fn listen_at(&self, url: &str, user: &str, extra: &[&str]) -> Lines {
        let mut args = vec!["listen"];
        args.extend_from_slice(extra);
        let mut child = client_command(url, user, &args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn offhook listen");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut lines = Lines { child, rx };
        let first = lines.next_event();
        assert_eq!(first["event"], "connected", "first listen line: {first}");
        lines
    }

    /// Logs in over HTTP and returns the token.
    pub fn login(&self, user: &str) -> String {
        let r = http()
            .post(format!("{}/api/v1/session", self.url))
            .json(&serde_json::json!({"username": user, "password": PASSWORD}))
            .send()
            .expect("login request");
        assert!(r.status().is_success(), "login {user}: {}", r.status());
        r.json::<Value>().expect("json")["token"]
            .as_str()
            .expect("token")
            .to_owned()
    }

    /// The value of a `/metrics` sample, e.g. `offhook_rejected_total{kind="too_large"}`.
    pub fn metric(&self, sample: &str) -> u64 {
        self.try_metric(sample)
            .unwrap_or_else(|| panic!("no sample {sample} in /metrics:\n{}", self.metrics_text()))
    }

    /// The value of a `/metrics` sample, or `None` while it is not exported yet (the media
    /// engine's counters appear with its first report).
    pub fn try_metric(&self, sample: &str) -> Option<u64> {
        self.metrics_text()
            .lines()
            .find_map(|l| l.strip_prefix(sample).map(str::trim))
            .and_then(|v| v.parse().ok())
    }

    fn metrics_text(&self) -> String {
        http()
            .get(format!("{}/metrics", self.url))
            .send()
            .and_then(|r| r.text())
            .expect("metrics")
    }

    /// Sends the speech fixture from `from` to `to` over HTTP; returns the id on success.
    pub fn post_message(
        &self,
        token: &str,
        to: &[&str],
        audio: Vec<u8>,
    ) -> reqwest::blocking::Response {
        let mut form = reqwest::blocking::multipart::Form::new();
        for t in to {
            form = form.text("to", (*t).to_owned());
        }
        let part = reqwest::blocking::multipart::Part::bytes(audio)
            .file_name("m.wav")
            .mime_str("audio/wav")
            .expect("mime");
        form = form.part("audio", part);
        http()
            .post(format!("{}/api/v1/messages", self.url))
            .bearer_auth(token)
            .multipart(form)
            .send()
            .expect("POST /api/v1/messages")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if self.small_disk {
            let _ = Command::new("umount").arg(&self.data).status();
        }
    }
}

/// The body of a `[media]` table with `rtp_ports` (`"A-B"`, such as [`rtp_ports`]'s).
pub fn media_table(rtp_ports: &str) -> String {
    format!("rtp_ports = \"{rtp_ports}\"\n")
}

/// `/api/v1/health` of the server at `url` as the holder of `token` sees it (or anyone).
pub fn health_at(url: &str, token: Option<&str>) -> Option<Value> {
    let mut request = http().get(format!("{url}/api/v1/health"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().ok()?.json().ok()
}

/// A benchmark's setting: environment variable `name` parsed, or `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// An HTTP client with a bounded timeout.
pub fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(DEADLINE)
        .build()
        .expect("client")
}

fn client_command(url: &str, user: &str, args: &[&str]) -> Command {
    let mut c = Command::new(offhook_bin());
    c.args(args)
        .args(["--server", url, "--user", user])
        .env("OFFHOOK_PASSWORD", PASSWORD);
    c
}

/// The JSON lines of a running `offhook listen`.
pub struct Lines {
    child: Child,
    rx: mpsc::Receiver<String>,
}

impl Lines {
    /// The next JSON line, within [`DEADLINE`].
    pub fn next_event(&mut self) -> Value {
        match self.rx.recv_timeout(DEADLINE) {
            Ok(l) => serde_json::from_str(&l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")),
            Err(_) => {
                let status = self.child.try_wait().ok().flatten();
                let mut err = String::new();
                if let (Some(_), Some(mut e)) = (status, self.child.stderr.take()) {
                    let _ = std::io::Read::read_to_string(&mut e, &mut err);
                }
                panic!("no event from listen within {DEADLINE:?} (exit: {status:?}) {err}")
            }
        }
    }

    /// Events up to and including the message `id`, skipping presence events.
    pub fn messages_until(&mut self, id: &str) -> Vec<Value> {
        let mut out = Vec::new();
        loop {
            let e = self.next_event();
            if e["event"] != "message" {
                continue;
            }
            let done = e["id"] == id;
            out.push(e);
            if done {
                return out;
            }
        }
    }

    /// Waits for `listen` to exit by itself (e.g. on server_down); returns the remaining lines.
    pub fn finish(mut self) -> (ExitStatus, Vec<String>) {
        let status = wait_for("listen to exit", || {
            self.child.try_wait().expect("try_wait")
        });
        let rest = self.rx.try_iter().collect();
        (status, rest)
    }
}

impl Drop for Lines {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Polls `token`'s listing until message `id` has left `processing` (bounded by [`DEADLINE`]);
/// returns its JSON (status `ready` or `failed`).
pub fn wait_processed(server: &Server, token: &str, id: &str) -> Value {
    wait_for("the message to be transcoded", || {
        let list: Vec<Value> = http()
            .get(format!("{}/api/v1/messages", server.url))
            .bearer_auth(token)
            .send()
            .ok()?
            .json()
            .ok()?;
        list.into_iter()
            .find(|m| m["id"] == id && m["status"] != "processing")
    })
}

/// Runs the CLI `send` and returns the printed id.
pub fn send_ok(server: &Server, from: &str, to: &str, file: &Path) -> String {
    let out = server.client(
        from,
        &["send", "--to", to, file.to_str().expect("utf-8 path")],
    );
    assert!(
        out.status.success(),
        "send failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout)
        .expect("utf-8")
        .trim()
        .to_owned();
    uuid::Uuid::parse_str(&id).unwrap_or_else(|_| panic!("send printed {id:?}, not an id"));
    id
}

/// Writes a 16-bit 8 kHz mono WAV of `ms` milliseconds of a 440 Hz tone; returns its bytes.
pub fn tone_wav(path: &Path, ms: u32) -> Vec<u8> {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).expect("create wav");
    for i in 0..ms * 8 {
        let t = f64::from(i) / 8000.0;
        let v = (t * 440.0 * std::f64::consts::TAU).sin() * 8000.0;
        w.write_sample(v as i16).expect("write sample");
    }
    w.finalize().expect("finalize wav");
    std::fs::read(path).expect("read wav")
}

impl Server {
    /// Opens a raw WebSocket as the holder of `token`, reads the server's `connect` greeting, and
    /// gives the socket a [`DEADLINE`] read timeout.
    pub fn websocket(
        &self,
        token: &str,
    ) -> tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>> {
        use tungstenite::client::IntoClientRequest;
        let url = self.url.replace("http://", "ws://") + "/api/v1/ws";
        let mut req = url.into_client_request().expect("ws request");
        req.headers_mut().insert(
            "Authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        let (mut s, _) = tungstenite::connect(req).expect("websocket");
        if let tungstenite::stream::MaybeTlsStream::Plain(t) = s.get_ref() {
            t.set_read_timeout(Some(DEADLINE)).expect("read timeout");
        }
        let hello = s.read().expect("greeting");
        assert!(
            hello.to_text().expect("text").contains("\"connect\""),
            "{hello}"
        );
        s
    }

    /// Opens an intercom stream as the holder of `token` to `to` (its first buffer: 20 ms of
    /// PCM) and returns the server's answer to it, the `object` of the next `send` it sends.
    pub fn first_intercom_answer(&self, token: &str, to: &str) -> Value {
        use tungstenite::Message;
        let mut ws = self.websocket(token);
        let buffer = serde_json::json!({
            "action": "send", "id": uuid::Uuid::new_v4(), "source": uuid::Uuid::nil(),
            "destination": uuid::Uuid::nil(),
            "object": {"stream": "a1", "seq": 0, "to": [to], "pcm": "ECAw".repeat(160)},
        });
        ws.send(Message::Text(buffer.to_string().into()))
            .expect("send a buffer");
        loop {
            let Message::Text(t) = ws.read().expect("an answer within the deadline") else {
                continue;
            };
            let v: Value = serde_json::from_str(t.as_str()).expect("json");
            if v["action"] == "send" {
                return v["object"].clone();
            }
        }
    }
}

impl Lines {
    /// The next event other than presence updates.
    pub fn next_non_presence(&mut self) -> Value {
        loop {
            let e = self.next_event();
            if e["event"] != "presence" {
                return e;
            }
        }
    }
}

/// Reads until the server's close frame and returns its code; fails if none comes within
/// `bound`.
pub fn closed_within(
    ws: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    bound: Duration,
) -> tungstenite::protocol::frame::coding::CloseCode {
    let end = Instant::now() + bound;
    loop {
        let left = end.saturating_duration_since(Instant::now());
        assert!(
            !left.is_zero(),
            "the socket is still open {bound:?} after its session ended"
        );
        if let tungstenite::stream::MaybeTlsStream::Plain(t) = ws.get_ref() {
            t.set_read_timeout(Some(left)).expect("read timeout");
        }
        match ws.read() {
            Ok(tungstenite::Message::Close(Some(f))) => return f.code,
            Ok(tungstenite::Message::Close(None)) => panic!("closed without a code"),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("socket failed before a close frame: {e}"),
        }
    }
}
