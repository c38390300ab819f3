//! A real osmo-mgw (Osmocom's media gateway, Debian package `osmo-mgw`), started on loopback for
//! interop tests and stopped when dropped.
//!
//! osmo-mgw always binds its telnet console to 127.0.0.1:4243, so only one instance can run per
//! network namespace: [`OsmoMgw::start`] holds a process-wide lock for the instance's lifetime.
//!
//! It logs at debug level, which includes every MGCP message it receives, line by line:
//! [`OsmoMgw::received`] reads them back, so a test can check what osmo-mgw was sent.

use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::wait_for;

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The MGCP domain osmo-mgw is configured with; its endpoints are `rtpbridge/N@mgw`.
pub const DOMAIN: &str = "mgw";

/// A running osmo-mgw.
pub struct OsmoMgw {
    child: Child,
    /// Where it takes MGCP.
    pub mgcp: SocketAddr,
    /// Its RTP port range (inclusive).
    pub rtp_ports: (u16, u16),
    config: PathBuf,
    log: PathBuf,
    _dir: tempfile::TempDir,
    _lock: MutexGuard<'static, ()>,
}

impl OsmoMgw {
    /// Starts osmo-mgw on a free loopback port and waits until it answers MGCP.
    pub fn start() -> Self {
        let lock = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_udp_port();
        // An even base; osmo-mgw wants the range to end on an odd port.
        let rtp_base = 20_000 + (port % 10_000) / 2 * 2;
        let rtp_ports = (rtp_base, rtp_base + 63);
        let config = dir.path().join("osmo-mgw.cfg");
        std::fs::write(
            &config,
            format!(
                "log stderr\n logging level all debug\n logging color 0\n logging print category 1\nmgcp\n  domain {DOMAIN}\n  bind ip 127.0.0.1\n  bind port {port}\n  rtp port-range {} {}\n  rtp bind-ip 127.0.0.1\n  number endpoints 16\n",
                rtp_ports.0, rtp_ports.1
            ),
        )
        .expect("write osmo-mgw config");
        let log = dir.path().join("osmo-mgw.log");
        let mut mgw = Self {
            child: spawn(&config, &log),
            mgcp: SocketAddr::from(([127, 0, 0, 1], port)),
            rtp_ports,
            config,
            log,
            _dir: dir,
            _lock: lock,
        };
        mgw.wait_ready();
        mgw
    }

    /// Kills it (SIGKILL): the gateway vanishes without a word, as a power cut would.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts it again, on the same ports and with the same configuration, after [`Self::kill`].
    pub fn start_again(&mut self) {
        self.child = spawn(&self.config, &self.log);
        self.wait_ready();
    }

    /// The MGCP messages osmo-mgw has received so far (from its debug log), each as its lines
    /// joined with `\n`, in order.
    pub fn received(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for line in self.log_text().lines() {
            let Some((_, rest)) = line.split_once("Received message: line #") else {
                continue;
            };
            let Some((n, text)) = rest.split_once(": ") else {
                continue;
            };
            match out.last_mut() {
                Some(last) if n != "00" => {
                    last.push('\n');
                    last.push_str(text);
                }
                _ => out.push(text.to_owned()),
            }
        }
        out
    }

    /// osmo-mgw's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let probe = UdpSocket::bind("127.0.0.1:0").expect("bind probe");
        probe
            .set_read_timeout(Some(Duration::from_millis(100)))
            .expect("timeout");
        let mut buf = [0u8; 512];
        let mut tx = 900_000_000u32;
        wait_for("osmo-mgw to answer MGCP", || {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("osmo-mgw exited with {status}:\n{}", self.log_text());
            }
            tx += 1;
            let auep = format!("AUEP {tx} rtpbridge/*@{DOMAIN} MGCP 1.0\r\n");
            probe.send_to(auep.as_bytes(), self.mgcp).ok()?;
            let (n, _) = probe.recv_from(&mut buf).ok()?;
            buf[..n].starts_with(b"200 ").then_some(())
        });
    }
}

impl Drop for OsmoMgw {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs osmo-mgw on `config`, its output appended to `log`.
fn spawn(config: &Path, log: &Path) -> Child {
    let out = || {
        std::fs::File::options()
            .create(true)
            .append(true)
            .open(log)
            .expect("log file")
    };
    Command::new("osmo-mgw")
        .arg("-c")
        .arg(config)
        .stdin(Stdio::null())
        .stdout(out())
        .stderr(out())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("cannot run osmo-mgw ({e}): install the Debian package `osmo-mgw` (scripts/deps --test does)")
        })
}

/// A UDP port free on loopback right now.
pub fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .and_then(|s| s.local_addr())
        .map(|a| a.port())
        .expect("bind :0")
}
