//! The `offhook` command line as a user meets it: `offhook demo` without a terminal keeps serving
//! until a signal, and the client commands find a password (the environment, or a prompt on a
//! terminal) or say clearly that they have none.

use std::process::{Child, Command, Stdio};

use offhook_tests::osmo::free_udp_port;
use offhook_tests::{free_port, http, offhook_bin, rtp_ports, wait_for};
use serde_json::Value;

/// A running `offhook demo` on its own data dir and ports, killed if the test fails.
struct Demo {
    child: Child,
    url: String,
    log: std::path::PathBuf,
    _tmp: tempfile::TempDir,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Demo {
    /// Starts `offhook demo` with stdin at end of file (`/dev/null`), as under `nohup`.
    fn start() -> Self {
        Self::start_speaking("mgcp")
    }

    /// [`Self::start`] with `--protocol PROTOCOL`.
    fn start_speaking(protocol: &str) -> Self {
        let tmp = tempfile::tempdir().expect("tempdir");
        let (web, controller, gateway) = (free_port(), free_udp_port(), free_udp_port());
        let config = tmp.path().join("offhook.toml");
        // A TPNCP host listens nowhere: it connects to the board.
        let section = if protocol == "tpncp" {
            "[tpncp]\nreconnect_min = \"200ms\"\n".to_owned()
        } else {
            format!("[{protocol}]\nlisten = \"127.0.0.1:{controller}\"\n")
        };
        std::fs::write(
            &config,
            format!(
                "[http]\nlisten = \"127.0.0.1:{web}\"\n[media]\nrtp_ports = \"{}\"\n{section}",
                rtp_ports()
            ),
        )
        .expect("write config");
        let log = tmp.path().join("demo.log");
        let child = Command::new(offhook_bin())
            .arg("demo")
            .args(["--protocol", protocol])
            .arg("--data-dir")
            .arg(tmp.path().join("data"))
            .arg("--config")
            .arg(&config)
            .args(["--gateway", &format!("127.0.0.1:{gateway}")])
            .args(["--gateway-rtp-ports", &rtp_ports()])
            .env("OFFHOOK_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn offhook demo");
        Self {
            child,
            url: format!("http://127.0.0.1:{web}"),
            log,
            _tmp: tmp,
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `/api/v1/health`, failing the test if the demo has exited.
    fn health(&mut self) -> Option<Value> {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!("demo exited ({status}):\n{}", self.log_text());
        }
        http()
            .get(format!("{}/api/v1/health", self.url))
            .send()
            .ok()?
            .json()
            .ok()
    }

    fn gateway_up(&mut self) -> Option<()> {
        let h = self.health()?;
        (h["gateways"][0]["name"] == "gw1" && h["gateways"][0]["up"] == true).then_some(())
    }
}

#[test]
fn demo_without_a_terminal_serves_until_sigterm() {
    let mut demo = Demo::start();
    wait_for("the demo's gateway to register", || demo.gateway_up());
    // The simulator has registered, so stdin's end of file was read long ago: still serving.
    assert!(demo.health().is_some(), "{}", demo.log_text());
    let banner = demo.log_text();
    for what in ["/api/v1/openapi.json", "ws://", "alice-demo", "web UI"] {
        assert!(banner.contains(what), "banner lacks {what:?}:\n{banner}");
    }
    // The web UI is at `/`.
    let page = http().get(format!("{}/", demo.url)).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(page.text().unwrap().contains("<title>Offhook</title>"));

    // A password typed at a terminal (a pty made by script(1)) signs alice in.
    let typed = password_prompt(&demo.url, "alice", "alice-demo");
    assert!(typed.0, "inbox with a typed password: {}", typed.1);
    assert!(typed.1.contains("Password for alice"), "{}", typed.1);

    let ok = Command::new("kill")
        .args(["-TERM", &demo.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(ok.success());
    let status = wait_for("the demo to exit", || {
        demo.child.try_wait().expect("try_wait")
    });
    assert!(status.success(), "{status}:\n{}", demo.log_text());
    assert!(demo.log_text().contains("SIGTERM"), "{}", demo.log_text());
}

/// `offhook demo --protocol megaco` and `--protocol tpncp`: the same demo over a simulated
/// MEGACO gateway (which registers) or an AudioCodes board (which the appliance connects to),
/// shown up as `protocol: "megaco"` / `"tpncp"`.
#[test]
fn demo_over_megaco() {
    demo_over("megaco", "MEGACO");
}

#[test]
fn demo_over_tpncp() {
    demo_over("tpncp", "TPNCP");
}

fn demo_over(protocol: &str, name: &str) {
    let mut demo = Demo::start_speaking(protocol);
    wait_for(&format!("the demo's {name} gateway up"), || {
        demo.gateway_up()
    });
    let h = demo.health().expect("health");
    assert_eq!(h["gateways"][0]["protocol"], protocol, "{h}");
    assert!(
        demo.log_text()
            .contains(&format!("simulated {name} gateway")),
        "{}",
        demo.log_text()
    );
    let ok = Command::new("kill")
        .args(["-TERM", &demo.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(ok.success());
    let status = wait_for("the demo to exit", || {
        demo.child.try_wait().expect("try_wait")
    });
    assert!(status.success(), "{status}:\n{}", demo.log_text());
}

/// Runs `offhook inbox` as `user` on a pty made by `script`, typing `password` once it asks;
/// returns whether it succeeded and what the terminal showed. (Whether the terminal echoes is
/// rpassword's business and racy to observe from outside, so it is not asserted here.)
fn password_prompt(url: &str, user: &str, password: &str) -> (bool, String) {
    use std::io::Read as _;
    let cmd = format!(
        "{} inbox --server {url} --user {user}",
        offhook_bin().display()
    );
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &cmd, "/dev/null"])
        .env_remove("OFFHOOK_PASSWORD")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("script(1) from util-linux");
    let mut stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut shown = Vec::new();
        let mut buf = [0u8; 256];
        while let Ok(n @ 1..) = stdout.read(&mut buf) {
            shown.extend_from_slice(&buf[..n]);
            let _ = tx.send(String::from_utf8_lossy(&shown).into_owned());
        }
        String::from_utf8_lossy(&shown).into_owned()
    });
    let mut so_far = String::new();
    wait_for("the password prompt", || {
        while let Ok(s) = rx.try_recv() {
            so_far = s;
        }
        so_far.contains("Password for").then_some(())
    });
    std::io::Write::write_all(
        child.stdin.as_mut().expect("stdin"),
        format!("{password}\n").as_bytes(),
    )
    .expect("type the password");
    let status = wait_for("offhook inbox to finish", || {
        child.try_wait().expect("try_wait")
    });
    drop(child.stdin.take());
    let shown = reader.join().expect("reader");
    (status.success(), shown)
}

#[test]
fn client_without_terminal_or_password_says_so() {
    let out = Command::new(offhook_bin())
        .args(["inbox", "--server", "http://127.0.0.1:9", "--user", "alice"])
        .env_remove("OFFHOOK_PASSWORD")
        .stdin(Stdio::null())
        .output()
        .expect("run offhook inbox");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("$OFFHOOK_PASSWORD"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn a_mistyped_key_stops_serve_with_its_line_and_the_nearest_key() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let config = tmp.path().join("offhook.toml");
    std::fs::write(
        &config,
        "[http]\n# the web address\nlistne = \"127.0.0.1:1\"\n",
    )
    .unwrap();
    let out = Command::new(offhook_bin())
        .arg("serve")
        .arg("--data-dir")
        .arg(tmp.path().join("data"))
        .arg("--config")
        .arg(&config)
        .stdin(Stdio::null())
        .output()
        .expect("run offhook serve");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(r#"unknown key "listne" in [http] at line 3; did you mean "listen"?"#),
        "{err}"
    );
}

/// `[federation]` and `[lcd]` name peers that may be away: serve starts all the same, keeps
/// trying them, and says so (federation's link is shown down in the health check).
#[test]
fn serve_starts_while_its_nats_servers_and_lcdd_are_away() {
    let mut server = offhook_tests::Server::start(
        "[federation]\nsite = \"hq\"\nservers = [\"nats://127.0.0.1:1\"]\n[lcd]\nserver = \"127.0.0.1:13666\"\n",
    );
    let log = server.log_text();
    assert!(
        !log.lines().any(|l| l.contains("not built")),
        "no section is for a part not built:\n{log}"
    );
    assert!(log.contains("federation starting"), "{log}");
    let health = server.health(None).expect("health");
    assert_eq!(health["federation"]["site"], "hq", "{health}");
    assert_eq!(health["federation"]["connected"], false, "{health}");
    assert!(
        log.contains("front panel (LCDproc client)") && log.contains("127.0.0.1:13666"),
        "{log}"
    );
    assert!(server.terminate().success());
}
