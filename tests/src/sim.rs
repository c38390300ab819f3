//! A running `offhook gateway-sim`: a simulated analog gateway as a separate process, fed line
//! commands on stdin, its JSON event lines read back from stdout.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::Instant;

use serde_json::Value;

use crate::osmo::free_udp_port;
use crate::{DEADLINE, PASSWORD, Server, offhook_bin, wait_for, wait_within};

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
        Self::start_with(controller, listen, lines, &[])
    }

    /// [`Self::start`] with more arguments (`--profile cisco`, `--keepalive 1`).
    pub fn start_with(
        controller: SocketAddr,
        listen: SocketAddr,
        lines: u16,
        extra: &[&str],
    ) -> Self {
        let mut command = Command::new(offhook_bin());
        command
            .args(["gateway-sim", "--protocol", "mgcp", "--controller"])
            .arg(controller.to_string())
            .arg("--lines")
            .arg(lines.to_string())
            .arg("--listen")
            .arg(listen.to_string())
            .arg("--rtp-ports")
            .arg(crate::rtp_ports())
            .args(extra);
        Self::spawn(command)
    }

    /// Any gateway process that takes line commands on stdin and prints one JSON object a
    /// line on stdout (the MEGACO simulator, the Erlang/OTP test MG).
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {command:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let v = serde_json::from_str(&line).unwrap_or_else(|e| {
                    panic!("the gateway printed a non-JSON line {line:?}: {e}")
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

    /// Line `line` rings; the simulator picks it up and the connection to Offhook's media is
    /// made.
    pub fn answer_ring(&mut self, line: u16) {
        self.expect(&format!("line {line} rings"), |v| {
            (v["line"] == line && v["event"] == "ringing" && v["on"] == true).then_some(())
        });
        self.send(&format!("offhook {line}"));
        self.expect(&format!("a connection on line {line}"), |v| {
            (v["line"] == line && v["event"] == "connection" && v["action"] == "created")
                .then_some(())
        });
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

/// A server with one MGCP gateway `gw1` on loopback, driven by the simulator (2 lines), and
/// `users`: each `(name, line)` with an optional `GATEWAY/ENDPOINT`. Returns once the gateway is
/// registered and shown up, with the call agent's and the gateway's addresses.
pub fn server_with_phones(
    users: &[(&str, Option<&str>)],
) -> (Server, GatewaySim, SocketAddr, SocketAddr) {
    server_with_phones_and_sim_args(users, &[])
}

/// [`server_with_phones`] with more arguments for the simulator (`--profile ncs`).
pub fn server_with_phones_and_sim_args(
    users: &[(&str, Option<&str>)],
    sim_args: &[&str],
) -> (Server, GatewaySim, SocketAddr, SocketAddr) {
    server_with_phones_at(users, &|gateway| gateway.to_string(), sim_args)
}

/// [`server_with_phones_and_sim_args`], the gateway's `address` written in the config as
/// `configured` gives it from where the simulator listens (a DNS name, say).
pub fn server_with_phones_at(
    users: &[(&str, Option<&str>)],
    configured: &dyn Fn(SocketAddr) -> String,
    sim_args: &[&str],
) -> (Server, GatewaySim, SocketAddr, SocketAddr) {
    let agent: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let gateway: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let address = configured(gateway);
    let mut server = Server::start(&format!(
        "[mgcp]\nlisten = \"{agent}\"\n\
         [[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"{address}\"\n"
    ));
    add_users_and_restart(&mut server, users);
    let mut sim = GatewaySim::start_with(agent, gateway, 2, sim_args);
    sim.expect("the gateway registered", |v| {
        (v["event"] == "rsip" && v["line"].is_null() && v["acknowledged"] == true).then_some(())
    });
    wait_for("the gateway up", || {
        server.gateway_up("gw1").filter(|up| *up)
    });
    (server, sim, agent, gateway)
}

/// A server with one MEGACO media gateway `mg1` (`offhook gateway-sim --protocol megaco`, 2
/// lines, `sim_args` added: `--transport tcp`, `--encoding compact`…) and `users`, each with an
/// optional line `mg1/TERMINATION`. Returns once the gateway has registered and is shown up,
/// with the controller's and the gateway's addresses.
pub fn server_with_megaco_phones(
    users: &[(&str, Option<&str>)],
    sim_args: &[&str],
) -> (Server, GatewaySim, SocketAddr, SocketAddr) {
    server_with_megaco_phones_at(users, sim_args, None)
}

/// [`server_with_megaco_phones`]; with `binary_only`, the MGC also has that binary-only
/// address (`[megaco] listen_binary`) and the simulator is sent there. Returns the main
/// address (`[megaco] listen`) and the simulator's.
pub fn server_with_megaco_phones_at(
    users: &[(&str, Option<&str>)],
    sim_args: &[&str],
    binary_only: Option<SocketAddr>,
) -> (Server, GatewaySim, SocketAddr, SocketAddr) {
    // The MGC listens on UDP and TCP at one port: free for both (a UDP-free port could be a
    // TCP port in use, and the server then fails to start).
    let listen: SocketAddr = format!("127.0.0.1:{}", free_tcp_and_udp_port())
        .parse()
        .unwrap();
    // Free for TCP too: over TCP the simulator connects from this port, and a port held by
    // another test's TCP connection would keep it from ever connecting.
    let mg: SocketAddr = format!("127.0.0.1:{}", free_tcp_and_udp_port())
        .parse()
        .unwrap();
    let (mgc, binary) = match binary_only {
        Some(b) => (b, format!("listen_binary = \"{b}\"\n")),
        None => (listen, String::new()),
    };
    // The MG's mId is `[IP]:port` of where it listens: the configured address gives it.
    let mut server = Server::start(&format!(
        "[megaco]\nlisten = \"{listen}\"\n{binary}\
         [[gateway]]\nname = \"mg1\"\nprotocol = \"megaco\"\naddress = \"{mg}\"\n"
    ));
    add_users_and_restart(&mut server, users);
    let mut command = Command::new(offhook_bin());
    command
        .args(["gateway-sim", "--protocol", "megaco", "--controller"])
        .arg(mgc.to_string())
        .args(["--lines", "2", "--listen"])
        .arg(mg.to_string())
        .arg("--rtp-ports")
        .arg(crate::rtp_ports())
        .args(sim_args);
    let mut sim = GatewaySim::spawn(command);
    sim.expect("the MG registered", |v| {
        (v["event"] == "rsip" && v["line"].is_null() && v["acknowledged"] == true).then_some(())
    });
    wait_for("the MG up", || server.gateway_up("mg1").filter(|up| *up));
    (server, sim, listen, mg)
}

/// `offhook record --to TO` as `user`, on a thread (it returns once the message is stored).
pub fn record_in_background(
    server: &Server,
    user: &str,
    to: &str,
) -> std::thread::JoinHandle<std::process::Output> {
    let (url, user, to) = (server.url.clone(), user.to_owned(), to.to_owned());
    std::thread::spawn(move || {
        Command::new(offhook_bin())
            .args(["record", "--to", &to, "--server", &url, "--user", &user])
            .env("OFFHOOK_PASSWORD", PASSWORD)
            .output()
            .expect("offhook record")
    })
}

/// Once line `line` has said its file: hangs it up and returns the id `offhook record`
/// printed for the stored message.
pub fn finish_recording(
    sim: &mut GatewaySim,
    line: u16,
    record: std::thread::JoinHandle<std::process::Output>,
) -> String {
    sim.expect("the speech was sent", |v| {
        (v["line"] == line && v["event"] == "say_done").then_some(())
    });
    sim.send(&format!("onhook {line}"));
    let out = record.join().unwrap();
    assert!(
        out.status.success(),
        "offhook record: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The stored message `id` rings `user`'s phone on `line`: picked up, it plays to its end (the
/// server marks it played) into `heard` (8 kHz WAV), then the phone hangs up.
pub fn hear_on_phone(
    server: &Server,
    sim: &mut GatewaySim,
    line: u16,
    user: &str,
    id: &str,
    heard: &std::path::Path,
) {
    sim.expect(&format!("line {line} rings for the message"), |v| {
        (v["line"] == line && v["event"] == "ringing" && v["on"] == true).then_some(())
    });
    sim.send(&format!("hear {line} {}", heard.display()));
    sim.send(&format!("offhook {line}"));
    // The wait spans the message's playout in real time (the 11.4 s fixture, with its prompts),
    // so it gets that on top of the usual bound.
    let playout = DEADLINE + std::time::Duration::from_secs(30);
    wait_within(
        &format!("the message played on {user}'s phone"),
        playout,
        || {
            let out = server.client(user, &["inbox", "--json"]);
            let list: Value = serde_json::from_slice(&out.stdout).ok()?;
            list.as_array()?
                .iter()
                .find(|m| m["id"] == id && m["played"] == true)
                .map(|_| ())
        },
    );
    sim.send(&format!("onhook {line}"));
    sim.expect(&format!("the recording of what line {line} heard"), |v| {
        (v["line"] == line && v["event"] == "hear_done").then_some(())
    });
}

/// A loopback port free for both TCP and UDP right now (a TPNCP board and a MEGACO MGC listen
/// on both).
pub fn free_tcp_and_udp_port() -> u16 {
    loop {
        let udp = free_udp_port();
        if std::net::TcpListener::bind(("127.0.0.1", udp)).is_ok() {
            return udp;
        }
    }
}

/// A server with one AudioCodes TPNCP board `tp1` (`offhook gateway-sim --protocol tpncp`, 2
/// lines = channels 0 and 1, `sim_args` added: `--byte-order little`…) and `users`, each with
/// an optional line `tp1/CHANNEL`; `gateway_keys` are added to the board's `[[gateway]]`
/// (`transport = "udp"`). Returns once the host has connected and the board shows up, with
/// the board's address and its RTP ports (to start it again: [`start_tpncp_board`]).
pub fn server_with_tpncp_phones(
    users: &[(&str, Option<&str>)],
    gateway_keys: &str,
    sim_args: &[&str],
) -> (Server, GatewaySim, SocketAddr, String) {
    let board: SocketAddr = format!("127.0.0.1:{}", free_tcp_and_udp_port())
        .parse()
        .unwrap();
    let rtp = crate::rtp_ports();
    let rtp_port: u16 = rtp.split('-').next().unwrap().parse().unwrap();
    let mut server = Server::start(&format!(
        "[tpncp]\nreconnect_min = \"200ms\"\nreconnect_max = \"1s\"\n\
         [[gateway]]\nname = \"tp1\"\nprotocol = \"tpncp\"\naddress = \"{board}\"\n\
         rtp_port = {rtp_port}\n{gateway_keys}\n"
    ));
    add_users_and_restart(&mut server, users);
    let sim = start_tpncp_board(board, &rtp, sim_args);
    wait_for("the board up", || server.gateway_up("tp1").filter(|up| *up));
    (server, sim, board, rtp)
}

/// `offhook gateway-sim --protocol tpncp` with 2 lines listening on `board`, its channels' RTP
/// from the first port of `rtp`.
pub fn start_tpncp_board(board: SocketAddr, rtp: &str, sim_args: &[&str]) -> GatewaySim {
    let mut command = Command::new(offhook_bin());
    command
        .args([
            "gateway-sim",
            "--protocol",
            "tpncp",
            "--controller",
            "127.0.0.1:0",
        ])
        .args(["--lines", "2", "--listen"])
        .arg(board.to_string())
        .arg("--rtp-ports")
        .arg(rtp)
        .args(sim_args);
    GatewaySim::spawn(command)
}

/// The record flow between alice's line 1 and carol's line 2 on gateway `gateway` (shown up in
/// `/api/v1/health` with `protocol`): alice's `offhook record --to carol` rings line 1, which
/// picks up, says the speech fixture and hangs up; the stored message rings line 2, which picks
/// up and hears it to its end. Returns the message's id.
pub fn record_then_hear(
    server: &Server,
    sim: &mut GatewaySim,
    gateway: &str,
    protocol: &str,
) -> String {
    let h = server.health(None).expect("health");
    assert!(
        h["gateways"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == gateway && g["protocol"] == protocol && g["up"] == true),
        "{h}"
    );
    for user in ["alice", "carol"] {
        let token = server.login(user);
        wait_for(&format!("{user}'s phone available"), || {
            let h = server.health(Some(&token))?;
            (h["stations"][0]["available"] == true).then_some(())
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let speech = crate::speech_8k();

    let record = record_in_background(server, "alice", "carol");
    sim.answer_ring(1);
    sim.send(&format!("say 1 {}", speech.display()));
    let id = finish_recording(sim, 1, record);
    assert_eq!(
        id.len(),
        36,
        "record prints the stored message's id: {id:?}"
    );

    let heard = dir.path().join("heard.wav");
    hear_on_phone(server, sim, 2, "carol", &id, &heard);
    let (said, got) = (
        crate::wav_duration_ms(&speech),
        crate::wav_duration_ms(&heard),
    );
    assert!(got + 200 >= said, "line 2 heard {got} ms of {said} ms");
    id
}

/// Adds `users`, each `(name, line)` with an optional `GATEWAY/ENDPOINT`, then restarts the
/// server: stations are read at start-up.
pub fn add_users_and_restart(server: &mut Server, users: &[(&str, Option<&str>)]) {
    for (user, line) in users {
        let mut args = vec!["user", "add", user, "--password-stdin"];
        if let Some(line) = line {
            args.extend(["--line", line]);
        }
        let out = server.offhook(&args, Some(PASSWORD));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    server.terminate();
    server.restart();
}
