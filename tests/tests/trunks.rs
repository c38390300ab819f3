//! Analog trunks end to end (issue 20): the real `offhook serve` and `offhook gateway-sim
//! --fxo 3-4` as separate processes on loopback, over MGCP, MEGACO and TPNCP. Lines 1–2 are
//! FXS lines, 3–4 FXO ports facing the simulated PBX; `[[trunk]] pbx` holds ports 3 and 4
//! with dial-in, and carol's phone is behind it at 2041.
//!
//! - **Placed**: `offhook record --user carol --to alice` seizes port 3 and dials 2041; the
//!   far phone answers (polarity reversal), says the speech fixture and hangs up (loop-current
//!   drop); the message from carol reaches alice.
//! - **Dial-in, leave**: a call comes in on port 4 with caller id 2041; carol keys her PIN,
//!   `2`, alice's number 2001 and `#`, speaks after the tone and hangs up; alice has the
//!   message.
//! - **Dial-in, listen**: alice calls in (caller id 2001), keys her PIN and `1`: her
//!   messages play on port 4 and are marked played.
//! - **Wrong PIN three times** ends the call and is counted.

use std::process::Command;

use offhook_tests::sim::{
    GatewaySim, finish_recording, free_tcp_and_udp_port, record_in_background,
};
use offhook_tests::{PASSWORD, Server, offhook_bin, osmo::free_udp_port, speech_8k, wait_for};
use serde_json::Value;

/// The site: the server and the simulator.
struct Site {
    server: Server,
    sim: GatewaySim,
}

/// The `[[trunk]]` and `[[station]]` entries for gateway `gw` with ports `ends[2..]`.
fn trunk_config(gw: &str, ends: &[String; 4]) -> String {
    format!(
        "[[trunk]]\nname = \"pbx\"\ngateway = \"{gw}\"\nendpoints = [\"{}\", \"{}\"]\n\
         dial_in = true\n[[station]]\nuser = \"carol\"\ntrunk = \"pbx\"\ndial = \"2041\"\n",
        ends[2], ends[3]
    )
}

/// Alice on line 1 with number 2001, carol with number 2041; then a restart.
fn users(server: &mut Server, gw: &str, ends: &[String; 4]) {
    let line = format!("{gw}/{}", ends[0]);
    for args in [
        vec![
            "user",
            "add",
            "alice",
            "--password-stdin",
            "--line",
            &line,
            "--number",
            "2001",
            "--pin",
            "1111",
        ],
        vec![
            "user",
            "add",
            "carol",
            "--password-stdin",
            "--number",
            "2041",
            "--pin",
            "4321",
        ],
    ] {
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

fn mgcp_site() -> Site {
    let agent = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let gateway = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let ends = ["aaln/1", "aaln/2", "aaln/3", "aaln/4"].map(String::from);
    let mut server = Server::start(&format!(
        "[mgcp]\nlisten = \"{agent}\"\n\
         [[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"{gateway}\"\n{}",
        trunk_config("gw1", &ends)
    ));
    users(&mut server, "gw1", &ends);
    let mut sim = GatewaySim::start_with(agent, gateway, 4, &["--fxo", "3-4"]);
    sim.expect("the gateway registered", |v| {
        (v["event"] == "rsip" && v["line"].is_null() && v["acknowledged"] == true).then_some(())
    });
    wait_for("the gateway up", || {
        server.gateway_up("gw1").filter(|up| *up)
    });
    Site { server, sim }
}

fn megaco_site() -> Site {
    let listen = format!("127.0.0.1:{}", free_tcp_and_udp_port());
    let mg = format!("127.0.0.1:{}", free_tcp_and_udp_port());
    let ends = ["aaln/1", "aaln/2", "aaln/3", "aaln/4"].map(String::from);
    let mut server = Server::start(&format!(
        "[megaco]\nlisten = \"{listen}\"\n\
         [[gateway]]\nname = \"mg1\"\nprotocol = \"megaco\"\naddress = \"{mg}\"\n{}",
        trunk_config("mg1", &ends)
    ));
    users(&mut server, "mg1", &ends);
    let mut command = Command::new(offhook_bin());
    command
        .args([
            "gateway-sim",
            "--protocol",
            "megaco",
            "--controller",
            &listen,
        ])
        .args(["--lines", "4", "--listen", &mg, "--fxo", "3-4"])
        .arg("--rtp-ports")
        .arg(offhook_tests::rtp_ports());
    let mut sim = GatewaySim::spawn(command);
    sim.expect("the MG registered", |v| {
        (v["event"] == "rsip" && v["line"].is_null() && v["acknowledged"] == true).then_some(())
    });
    wait_for("the MG up", || server.gateway_up("mg1").filter(|up| *up));
    Site { server, sim }
}

fn tpncp_site() -> Site {
    let board: std::net::SocketAddr = format!("127.0.0.1:{}", free_tcp_and_udp_port())
        .parse()
        .unwrap();
    let rtp = offhook_tests::rtp_ports();
    let rtp_port: u16 = rtp.split('-').next().unwrap().parse().unwrap();
    let ends = ["0", "1", "2", "3"].map(String::from);
    let mut server = Server::start(&format!(
        "[tpncp]\nreconnect_min = \"200ms\"\nreconnect_max = \"1s\"\n\
         [[gateway]]\nname = \"tp1\"\nprotocol = \"tpncp\"\naddress = \"{board}\"\n\
         rtp_port = {rtp_port}\n{}",
        trunk_config("tp1", &ends)
    ));
    users(&mut server, "tp1", &ends);
    let mut command = Command::new(offhook_bin());
    command
        .args([
            "gateway-sim",
            "--protocol",
            "tpncp",
            "--controller",
            "127.0.0.1:0",
        ])
        .args(["--lines", "4", "--fxo", "3-4", "--listen"])
        .arg(board.to_string())
        .arg("--rtp-ports")
        .arg(&rtp);
    let sim = GatewaySim::spawn(command);
    wait_for("the board up", || server.gateway_up("tp1").filter(|up| *up));
    Site { server, sim }
}

/// A connection on `line` was made (skipping others' events).
fn connection(sim: &mut GatewaySim, line: u16, action: &str) {
    sim.expect(&format!("a connection {action} on line {line}"), |v| {
        (v["line"] == line && v["event"] == "connection" && v["action"] == action).then_some(())
    });
}

/// An incoming call on port 4 was answered and our connection made there (the two come in
/// either order, as each protocol orders its commands).
fn answered(sim: &mut GatewaySim, what: &str) {
    let (mut answered, mut created) = (false, false);
    while !(answered && created) {
        sim.expect(what, |v| {
            if v["line"] != 4 {
                return None;
            }
            if v["event"] == "answered" {
                answered = true;
                return Some(());
            }
            if v["event"] == "connection" && v["action"] == "created" {
                created = true;
                return Some(());
            }
            None
        });
    }
}

/// `user`'s inbox, as `offhook inbox --json` lists it.
fn inbox(server: &Server, user: &str) -> Vec<Value> {
    let out = server.client(user, &["inbox", "--json"]);
    serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .and_then(|v| v.as_array().cloned())
        .unwrap_or_default()
}

fn trunk_metric(server: &Server, kind: &str) -> u64 {
    server
        .try_metric(&format!("offhook_trunk_total{{kind=\"{kind}\"}}"))
        .unwrap_or(0)
}

fn flow(mut site: Site) {
    let speech = speech_8k();
    let (server, sim) = (&site.server, &mut site.sim);
    // Carol's phone behind the trunk is a station like any other.
    let token = server.login("carol");
    wait_for("carol's phone behind the trunk available", || {
        let h = server.health(Some(&token))?;
        (h["stations"][0]["available"] == true).then_some(())
    });

    // Placed: port 3 is seized and 2041 dialled; the far phone answers, speaks, hangs up.
    let record = record_in_background(server, "carol", "alice");
    sim.expect("2041 dialled on port 3", |v| {
        (v["line"] == 3 && v["event"] == "dialed" && v["number"] == "2041").then_some(())
    });
    sim.send("offhook 3");
    // The trunk's own connection (hearing the line) goes, the station's comes.
    connection(sim, 3, "deleted");
    connection(sim, 3, "created");
    sim.send(&format!("say 3 {}", speech.display()));
    let placed = finish_recording(sim, 3, record);
    assert_eq!(placed.len(), 36, "record prints the id: {placed:?}");
    wait_for("alice has carol's message", || {
        inbox(server, "alice")
            .iter()
            .any(|m| m["id"] == placed && m["from"] == "carol")
            .then_some(())
    });
    // (The counters reach /metrics once a second.)
    wait_for("the answer and the hang-up counted", || {
        (trunk_metric(server, "answered_by_line") >= 1 && trunk_metric(server, "far_end_gone") >= 1)
            .then_some(())
    });

    // Dial-in, leave: carol calls in from 2041, keys her PIN, 2, alice's number.
    sim.send("ring 4 2041");
    answered(sim, "the incoming call answered");
    sim.send("digits 4 4321#");
    wait_for("carol identified", || {
        (trunk_metric(server, "identified") >= 1).then_some(())
    });
    sim.send("digits 4 2");
    sim.send("digits 4 2001#");
    // After "speak after the tone" the caller's station takes the port.
    connection(sim, 4, "deleted");
    connection(sim, 4, "created");
    sim.send(&format!("say 4 {}", speech.display()));
    sim.expect("the speech was sent on port 4", |v| {
        (v["line"] == 4 && v["event"] == "say_done").then_some(())
    });
    sim.send("onhook 4");
    let left = wait_for("alice has the message left by dial-in", || {
        let list = inbox(server, "alice");
        let from_carol: Vec<_> = list.iter().filter(|m| m["from"] == "carol").collect();
        (from_carol.len() >= 2)
            .then(|| {
                from_carol
                    .iter()
                    .find(|m| m["id"] != placed)
                    .map(|m| m["id"].clone())
            })
            .flatten()
    });

    // Dial-in, listen: alice calls in from 2001 and keys her PIN and 1.
    sim.send("ring 4 2001");
    answered(sim, "alice's call answered");
    sim.send("digits 4 1111#");
    wait_for("alice identified", || {
        (trunk_metric(server, "identified") >= 2).then_some(())
    });
    sim.send("digits 4 1");
    connection(sim, 4, "deleted");
    connection(sim, 4, "created");
    // `#` skips each message, marking it played.
    wait_for("alice's messages played over the trunk", || {
        sim.send("digits 4 #");
        let list = inbox(server, "alice");
        let played = |id: &Value| list.iter().any(|m| &m["id"] == id && m["played"] == true);
        (played(&Value::String(placed.clone())) && played(&left)).then_some(())
    });
    sim.send("onhook 4");

    // Three wrong PINs end the call.
    let wrong = trunk_metric(server, "wrong_pins");
    sim.send("ring 4 2041");
    answered(sim, "the third call answered");
    sim.send("digits 4 0000#");
    for n in 1..3 {
        wait_for("a wrong PIN counted", || {
            (trunk_metric(server, "wrong_pins") >= wrong + n).then_some(())
        });
        sim.send("digits 4 2041#0000#");
    }
    wait_for("the third wrong PIN counted", || {
        (trunk_metric(server, "wrong_pins") >= wrong + 3).then_some(())
    });
    // The gateway collected numbers and PINs against the dial-in digit map (keys typed before
    // the collecting request reached it came one by one, which works as well).
    assert!(trunk_metric(server, "dial_strings") >= 1);
    assert_eq!(trunk_metric(server, "collect_refused"), 0);
    // "Goodbye": the port is released.
    connection(sim, 4, "deleted");
    site.sim.quit();
}

#[test]
fn trunks_over_mgcp() {
    flow(mgcp_site());
}

#[test]
fn trunks_over_megaco() {
    flow(megaco_site());
}

#[test]
fn trunks_over_tpncp() {
    flow(tpncp_site());
}
