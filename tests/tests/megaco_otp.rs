//! The appliance's MEGACO controller against Erlang/OTP's megaco stack (issue 16): `offhook
//! serve` and a media gateway written on OTP's `megaco` API
//! (`gateway-control/tests/otp/mg/`), as separate processes on loopback, in each of UDP pretty
//! text, UDP compact text, TCP pretty text and UDP binary (BER).
//!
//! In each, the MG registers (ServiceChange Restart) and shows up in `/api/v1/health`; its
//! line is audited and armed for off-hook; alice's `offhook record` rings it (`al/ri`); the
//! MG's off-hook Notify makes the controller connect the line (Add of the line and of `$` into
//! a new context, with Remote SDP at Offhook's media); the on-hook Notify ends the recording
//! and the connection goes (Subtract of both, the context deleted).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;

use offhook_tests::osmo::free_udp_port;
use offhook_tests::sim::{GatewaySim, record_in_background};
use offhook_tests::{PASSWORD, Server, wait_for};

fn mg_script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../gateway-control/tests/otp/mg/mg.escript")
}

/// OTP's binary term ids: the text ids of MGCP's kind cannot be carried by its BER encoder.
fn line_of(encoding: &str) -> &'static str {
    if encoding == "ber" {
        "00000000/00000000/00000001"
    } else {
        "aaln/1"
    }
}

fn flow(transport: &str, encoding: &str) {
    assert!(
        Command::new("escript").arg("-h").output().is_ok() || which_escript(),
        "escript (erlang-base) is not installed: scripts/deps --test installs it"
    );
    let mgc: SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let mg_port = free_udp_port();
    let line = line_of(encoding);
    let mut server = Server::start(&format!(
        "[megaco]\nlisten = \"{mgc}\"\nkeepalive = \"2s\"\n\
         [[gateway]]\nname = \"mg1\"\nprotocol = \"megaco\"\naddress = \"127.0.0.1:{mg_port}\"\n"
    ));
    for (user, line) in [("alice", Some(format!("mg1/{line}"))), ("carol", None)] {
        let mut args = vec!["user", "add", user, "--password-stdin"];
        if let Some(line) = &line {
            args.extend(["--line", line]);
        }
        let out = server.offhook(&args, Some(PASSWORD));
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Stations are read at start-up.
    server.terminate();
    server.restart();
    assert_eq!(
        server.gateway_up("mg1"),
        Some(false),
        "down until it registers"
    );

    let mut command = Command::new("escript");
    command
        .arg(mg_script())
        .args(["--mgc", &mgc.to_string(), "--transport", transport])
        .args(["--encoding", encoding, "--lines", "1"])
        .args(["--ip", "127.0.0.1", "--port", &mg_port.to_string()]);
    let mut mg = GatewaySim::spawn(command);
    mg.expect("the MG registered", |v| {
        (v["event"] == "registered").then_some(())
    });
    wait_for("the MG up in /api/v1/health", || {
        server.gateway_up("mg1").filter(|up| *up)
    });
    let h = server.health(None).expect("health");
    assert!(
        h["gateways"]
            .as_array()
            .unwrap()
            .iter()
            .any(|g| g["name"] == "mg1" && g["protocol"] == "megaco" && g["up"] == true),
        "{h}"
    );
    // The MG prints what it answers in its own order: these may precede "registered".
    seen_or_expect(&mut mg, "line 1 audited", |v| {
        (v["event"] == "audit" && v["found"] == true && v["termination"] != "root").then_some(())
    });
    seen_or_expect(&mut mg, "line 1 armed for off-hook", |v| {
        let armed = v["event"] == "modify"
            && v["line"] == 1
            && v["events"]
                .as_array()
                .is_some_and(|e| e.iter().any(|e| e == "al/of"));
        armed.then_some(())
    });
    let token = server.login("alice");
    wait_for("alice's phone available", || {
        let h = server.health(Some(&token))?;
        (h["stations"][0]["available"] == true).then_some(())
    });

    // `offhook record` rings her line.
    let record = record_in_background(&server, "alice", "carol");
    mg.expect("al/ri on line 1", |v| {
        let rings = v["event"] == "modify"
            && v["line"] == 1
            && v["signals"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s == "al/ri"));
        rings.then_some(())
    });
    mg.send("offhook 1");
    mg.expect("the off-hook Notify answered", |v| {
        (v["event"] == "notify_reply" && v["name"] == "al/of" && v["ok"] == true).then_some(())
    });
    let context = mg.expect("the RTP termination added with Offhook's media", |v| {
        let rtp = v["event"] == "add" && v["remote"].is_string() && v["local"].is_string();
        rtp.then(|| v["context"].clone())
    });
    assert!(
        mg.seen
            .iter()
            .any(|v| v["event"] == "add" && v["line"] == 1 && v["context"] == context),
        "the line joined the same context: {:#?}",
        mg.seen
    );

    // Hanging up ends the recording; both terminations are subtracted.
    mg.send("onhook 1");
    mg.expect("the on-hook Notify answered", |v| {
        (v["event"] == "notify_reply" && v["name"] == "al/on" && v["ok"] == true).then_some(())
    });
    mg.expect("the context deleted", |v| {
        (v["event"] == "subtract" && v["context_deleted"] == true && v["context"] == context)
            .then_some(())
    });
    assert!(
        mg.seen
            .iter()
            .any(|v| v["event"] == "subtract" && v["context"] == context && v["line"].is_null()),
        "the RTP termination was subtracted: {:#?}",
        mg.seen
    );
    // Nothing was said: the recording ends without a message, but it ends.
    let out = record.join().expect("record thread");
    assert!(
        !out.status.success(),
        "nothing was said, so nothing is stored: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        mg.seen.iter().all(|v| v["event"] != "error"),
        "the MG refused something: {:#?}",
        mg.seen
    );
    assert!(server.metric("offhook_megaco_total{kind=\"registrations\"}") >= 1);
    mg.quit();
}

/// The first line already seen for which `f` gives `Some`, or the next one.
fn seen_or_expect<T>(
    mg: &mut GatewaySim,
    what: &str,
    f: impl Fn(&serde_json::Value) -> Option<T>,
) -> T {
    match mg.seen.iter().find_map(&f) {
        Some(t) => t,
        None => mg.expect(what, f),
    }
}

fn which_escript() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join("escript").is_file()))
}

#[test]
fn udp_pretty_text() {
    flow("udp", "pretty");
}

#[test]
fn udp_compact_text() {
    flow("udp", "compact");
}

#[test]
fn tcp_pretty_text() {
    flow("tcp", "pretty");
}

#[test]
fn udp_binary() {
    flow("udp", "ber");
}
