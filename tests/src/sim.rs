//! A running `offhook gateway-sim`: a simulated analog gateway as a separate process, fed line
//! commands on stdin, its JSON event lines read back from stdout.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use serde_json::Value;

use crate::{DEADLINE, offhook_bin};

/// A simulated MGCP gateway process.
pub struct GatewaySim {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: mpsc::Receiver<Value>,
    /// Every JSON line read so far, in order.
    pub seen: Vec<Value>,
}

impl GatewaySim {
    /// Starts `offhook gateway-sim --protocol mgcp` with `lines` lines on `listen`, talking to
    /// the call agent at `controller`.
    pub fn start(controller: SocketAddr, listen: SocketAddr, lines: u16) -> Self {
        let mut child = Command::new(offhook_bin())
            .args(["gateway-sim", "--protocol", "mgcp", "--controller"])
            .arg(controller.to_string())
            .arg("--lines")
            .arg(lines.to_string())
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--rtp-ports")
            .arg(crate::rtp_ports())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn offhook gateway-sim");
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("gateway-sim printed a non-JSON line {line:?}: {e}")
                });
                if tx.send(v).is_err() {
                    break;
                }
            }
        });
        Self {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            seen: Vec::new(),
        }
    }

    /// Types a line command (`offhook 1`, `say 1 a.wav`…).
    pub fn send(&mut self, command: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{command}").expect("write to gateway-sim");
        stdin.flush().expect("flush gateway-sim stdin");
    }

    /// The next event line for which `f` returns `Some`, skipping others (all are kept in
    /// [`Self::seen`]); fails after [`DEADLINE`].
    pub fn expect<T>(&mut self, what: &str, mut f: impl FnMut(&Value) -> Option<T>) -> T {
        let end = Instant::now() + DEADLINE;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            let v = self.lines.recv_timeout(left).unwrap_or_else(|_| {
                panic!(
                    "no {what} from gateway-sim within {DEADLINE:?}; seen: {:#?}",
                    self.seen
                )
            });
            self.seen.push(v.clone());
            if let Some(t) = f(&v) {
                return t;
            }
        }
    }

    /// Closes stdin and waits for the process to end.
    pub fn quit(mut self) {
        self.send("quit");
        self.stdin = None;
        let _ = self.child.wait();
    }
}

impl Drop for GatewaySim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
