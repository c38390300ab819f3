//! A real LCDd for tests: LCDd 0.5.9 (Debian package lcdproc) with its `curses`
//! driver in a detached tmux pane of the display's size, on a free loopback port, with a
//! configuration of its own (the package's /etc/LCDd.conf names no driver). The pane is the
//! display: [`Lcdd::pane`] reads it, [`Lcdd::key`] presses a key on it.
//!
//! The keys the curses driver sends are `Up`, `Down`, `Left`, `Right`, `Enter` and `Escape`;
//! Escape is LCDd's menu key (it opens the client's menu once the client set it as the main
//! menu) and never reaches a client as a `key` line.
//!
//! LCDd and tmux are required: [`Lcdd::start`] panics without them, so a test using it fails
//! rather than skips.
// Polling the pane needs real sleeps; the waits are upper bounds only.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// LCDd's binary.
pub const LCDD: &str = "/usr/sbin/LCDd";
/// LCDd's drivers.
pub const DRIVERS: &str = "/usr/lib/x86_64-linux-gnu/lcdproc/";

/// One LCDd in one tmux session; both are killed on drop.
#[derive(Debug)]
pub struct Lcdd {
    name: String,
    dir: PathBuf,
    config: PathBuf,
    port: u16,
    size: (u16, u16),
    /// The network namespace LCDd runs in (`ip netns exec`), if not the test's own.
    netns: Option<String>,
}

impl Lcdd {
    /// Starts LCDd with a `width`×`height` display (20×4 and 16×2 are the usual panels).
    pub fn start(width: u16, height: u16) -> Self {
        Self::start_in(width, height, None)
    }

    /// [`Self::start`] inside network namespace `netns` (made by the test, loopback up): its
    /// 127.0.0.1 is that namespace's, for a client running there too.
    pub fn start_in_netns(width: u16, height: u16, netns: &str) -> Self {
        Self::start_in(width, height, Some(netns.to_owned()))
    }

    fn start_in(width: u16, height: u16, netns: Option<String>) -> Self {
        assert!(
            Path::new(LCDD).exists(),
            "LCDd (package lcdproc) is required"
        );
        assert!(
            Path::new(DRIVERS).join("curses.so").exists(),
            "LCDd's curses driver is required"
        );
        let port = free_port();
        let name = format!("offhook-lcdd-{}-{port}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(&dir).expect("LCDd's directory");
        let config = dir.join("LCDd.conf");
        std::fs::write(
            &config,
            format!(
                "[server]\nDriverPath={DRIVERS}\nDriver=curses\nBind=127.0.0.1\nPort={port}\n\
                 Foreground=yes\nReportToSyslog=no\nServerScreen=no\nWaitTime=5\n\
                 [menu]\nMenuKey=Escape\nEnterKey=Enter\nUpKey=Up\nDownKey=Down\n\
                 [curses]\nSize={width}x{height}\nDrawBorder=no\nTopLeftX=0\nTopLeftY=0\n\
                 UseACS=no\n"
            ),
        )
        .expect("LCDd's configuration");
        let lcdd = Self {
            name,
            dir,
            config,
            port,
            size: (width, height),
            netns,
        };
        lcdd.launch();
        lcdd
    }

    /// `127.0.0.1:PORT`, where it listens.
    pub fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Starts LCDd (again) in its tmux session and waits until it listens (outside a
    /// namespace; inside one, the client's own connect loop waits).
    ///
    /// Each harness has a tmux server of its own (`tmux -L NAME`), so no other test's sessions
    /// and no user's share it. A server whose last session was just killed exits while a new
    /// client may still reach its socket ("server exited unexpectedly"): the start is retried.
    pub fn launch(&self) {
        let mut command = format!(
            "ESCDELAY=25 {LCDD} -c {} -f 2>{}",
            self.config.display(),
            self.log().display()
        );
        if let Some(ns) = &self.netns {
            command = format!("ip netns exec {ns} env {command}");
        }
        let (w, h) = self.size;
        let mut tries = 0;
        loop {
            let out = self
                .tmux()
                .args(["new-session", "-d", "-s", &self.name])
                .args(["-x", &w.to_string(), "-y", &h.to_string()])
                .arg(&command)
                .output()
                .expect("tmux must be installed");
            if out.status.success() {
                break;
            }
            tries += 1;
            assert!(
                tries < 50,
                "tmux new-session failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        if self.netns.is_none() {
            let end = Instant::now() + Duration::from_secs(10);
            while !self.listening() {
                assert!(
                    Instant::now() < end,
                    "LCDd did not listen on {}: {}\n{}",
                    self.address(),
                    std::fs::read_to_string(self.log()).unwrap_or_default(),
                    self.pane()
                );
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// Kills LCDd and its tmux server, and waits until both are gone (its port refuses).
    pub fn kill(&self) {
        let _ = self
            .tmux()
            .arg("kill-server")
            .stderr(std::process::Stdio::null())
            .status();
        let end = Instant::now() + Duration::from_secs(10);
        while Instant::now() < end && (self.tmux_alive() || self.listening()) {
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn tmux(&self) -> Command {
        let mut command = Command::new("tmux");
        command.args(["-L", &self.name]);
        command
    }

    fn tmux_alive(&self) -> bool {
        self.tmux()
            .arg("has-session")
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    }

    fn listening(&self) -> bool {
        self.netns.is_none()
            && std::net::TcpStream::connect_timeout(
                &([127, 0, 0, 1], self.port).into(),
                Duration::from_millis(200),
            )
            .is_ok()
    }

    /// What LCDd printed on stderr (its start-up failures).
    fn log(&self) -> PathBuf {
        self.dir.join("LCDd.log")
    }

    /// The display's text, one line per row.
    pub fn pane(&self) -> String {
        let out = self
            .tmux()
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Presses `key` (a tmux key name: `Up`, `Down`, `Enter`, `Escape`…).
    pub fn key(&self, key: &str) {
        let status = self
            .tmux()
            .args(["send-keys", "-t", &self.name, key])
            .status()
            .expect("tmux send-keys");
        assert!(status.success(), "tmux send-keys {key}");
    }

    /// Waits up to `within` for the display to show `text`; the display's text either way.
    pub fn wait_for(&self, within: Duration, f: impl Fn(&str) -> bool) -> Result<String, String> {
        let end = Instant::now() + within;
        loop {
            let pane = self.pane();
            if f(&pane) {
                return Ok(pane);
            }
            if Instant::now() >= end {
                return Err(pane);
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Lcdd {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}
