//! The `offhook` binary itself against a real MGCP gateway nobody here wrote: osmo-mgw
//! (Osmocom), started on loopback. `osmo_mgw.rs` drives osmo-mgw with the library's call agent;
//! here it is the appliance, configured as an owner would configure it, that meets it.
//!
//! osmo-mgw has no line package (MACHINE-NOTES.md): it answers our audits and notification
//! requests but never notifies, so its lines never go off-hook. What the appliance can show
//! against it is everything up to the pick-up, and what it does when the gateway vanishes and
//! comes back:
//!
//! - at start-up each station's endpoint is audited and armed for off-hook, and the gateway and
//!   the stations are shown up in `/api/v1/health`;
//! - `offhook record` rings the caller's line (an `RQNT` with a ringing signal that osmo-mgw
//!   accepts);
//! - osmo-mgw killed: the next command to it (ringing another user for a new message) goes
//!   unanswered, the gateway is shown down, the pending recording fails saying so and a new one
//!   is refused with 503;
//! - osmo-mgw started again: the appliance's probe finds it, re-audits and re-arms the lines,
//!   shows it up, and rings the user whose message is still waiting.
// Real processes and sockets: deadlines need the real clock.
#![allow(clippy::disallowed_methods)]

use offhook_tests::osmo::{DOMAIN, OsmoMgw, free_udp_port};
use offhook_tests::{DEADLINE, PASSWORD, Server, http, offhook_bin, tone_wav, wait_for};
use serde_json::Value;

/// `/api/v1/health` as JSON, as bob sees it (with a session, it lists the phones).
fn health(server: &Server) -> Value {
    http()
        .get(format!("{}/api/v1/health", server.url))
        .bearer_auth(server.login("bob"))
        .send()
        .and_then(|r| r.json())
        .expect("GET /api/v1/health")
}

/// Whether the (only) gateway is shown up, and every station with it.
fn all_up(server: &Server) -> bool {
    let h = health(server);
    h["gateways"][0]["up"] == true
        && h["stations"]
            .as_array()
            .is_some_and(|s| !s.is_empty() && s.iter().all(|s| s["available"] == true))
}

/// Whether osmo-mgw has received an `RQNT` for `endpoint` that rings it: `S: L/rg`, or one of
/// the distinctive ringing signals `L/r0` to `L/r7` (RFC 3660 §2.3) that tell a recording
/// request from a message.
fn rung(mgw: &OsmoMgw, endpoint: &str) -> bool {
    let ringing = |s: &str| {
        let s = s.to_ascii_lowercase();
        s == "l/rg"
            || (s.len() == 4 && s.starts_with("l/r") && matches!(s.as_bytes()[3], b'0'..=b'7'))
    };
    mgw.received().iter().any(|m| {
        m.starts_with("RQNT ")
            && m.contains(&format!(" {endpoint}@{DOMAIN} "))
            && m.lines().any(|l| {
                l.strip_prefix("S:")
                    .is_some_and(|s| s.split(',').any(|s| ringing(s.trim())))
            })
    })
}

/// Waits until osmo-mgw has been told to ring `endpoint`; fails showing what it received.
fn wait_rung(mgw: &OsmoMgw, endpoint: &str, why: &str) {
    let end = std::time::Instant::now() + DEADLINE;
    while !rung(mgw, endpoint) {
        assert!(
            std::time::Instant::now() < end,
            "{why}: no RQNT ringing {endpoint} within {DEADLINE:?}; osmo-mgw received {:#?}",
            mgw.received()
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// The messages osmo-mgw received for `endpoint`, by verb, in order.
fn verbs_for(mgw: &OsmoMgw, endpoint: &str) -> Vec<String> {
    mgw.received()
        .iter()
        .filter(|m| m.contains(&format!(" {endpoint}@{DOMAIN} ")))
        .map(|m| m[..4].to_owned())
        .collect()
}

#[test]
fn the_appliance_rings_phones_behind_osmo_mgw_and_rides_out_its_restart() {
    let mut mgw = OsmoMgw::start();
    let mgcp = free_udp_port();
    // A gateway that reads only the first message of a datagram (piggy-backing off), and a short
    // give-up time so that the lost gateway is noticed within seconds.
    let mut server = Server::start(&format!(
        "[mgcp]\nlisten = \"127.0.0.1:{mgcp}\"\npiggyback = false\n\
         max_retransmissions = 2\nt_max = \"2s\"\nprobe_interval = \"500ms\"\n\
         max_probe_interval = \"1s\"\n\
         [[gateway]]\nname = \"mgw\"\nprotocol = \"mgcp\"\naddress = \"{}\"\ndomain = \"{DOMAIN}\"\n",
        mgw.mgcp
    ));
    for (user, line) in [
        ("alice", Some("mgw/rtpbridge/1")),
        ("bob", None),
        ("carol", Some("mgw/rtpbridge/2")),
    ] {
        let mut args = vec!["user", "add", user, "--password-stdin"];
        args.extend(line.iter().flat_map(|l| ["--line", l]));
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

    // Start-up: both endpoints audited, then armed; the gateway and both phones shown up.
    wait_for("the gateway and both stations up", || {
        all_up(&server).then_some(())
    });
    for endpoint in ["rtpbridge/1", "rtpbridge/2"] {
        let verbs = verbs_for(&mgw, endpoint);
        let audit = verbs.iter().position(|v| v == "AUEP");
        let arm = verbs.iter().rposition(|v| v == "RQNT");
        assert!(
            matches!((audit, arm), (Some(a), Some(r)) if a < r),
            "{endpoint} audited, then armed: {verbs:?}"
        );
    }
    assert!(
        mgw.received().iter().any(|m| m.starts_with("RQNT ")
            && m.contains(" rtpbridge/1@")
            && m.lines()
                .any(|l| l.starts_with("R: ") && l.contains("L/hd"))),
        "alice's line armed for off-hook: {:#?}",
        mgw.received()
    );

    // alice records: her line rings.
    let url = server.url.clone();
    let record = std::thread::spawn(move || {
        std::process::Command::new(offhook_bin())
            .args(["record", "--to", "bob", "--server", &url, "--user", "alice"])
            .env("OFFHOOK_PASSWORD", PASSWORD)
            .output()
            .expect("offhook record")
    });
    wait_rung(&mgw, "rtpbridge/1", "alice records");
    assert!(!rung(&mgw, "rtpbridge/2"), "only alice's line rings");

    // osmo-mgw vanishes. bob sends carol a message: ringing her line goes unanswered and the
    // gateway is shown down.
    mgw.kill();
    let bob = server.login("bob");
    let dir = tempfile::tempdir().expect("tempdir");
    let sent = server.post_message(&bob, &["carol"], tone_wav(&dir.path().join("t.wav"), 1000));
    assert!(
        sent.status().is_success(),
        "bob's message: {}",
        sent.status()
    );
    wait_for("the gateway shown down", || {
        (health(&server)["gateways"][0]["up"] == false).then_some(())
    });
    let out = record.join().expect("record thread");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("gateway"),
        "alice's recording fails saying the gateway went away: {:?} {err}",
        out.status
    );
    let alice = server.login("alice");
    let refused = http()
        .post(format!("{}/api/v1/record", server.url))
        .bearer_auth(&alice)
        .json(&serde_json::json!({"to": ["bob"]}))
        .send()
        .expect("POST /api/v1/record");
    assert_eq!(
        refused.status(),
        503,
        "recording refused while the gateway is down"
    );

    // osmo-mgw back on the same address: found by the probe, its lines armed again, shown up;
    // carol's phone rings for the message that waited.
    let before = mgw.received().len();
    mgw.start_again();
    wait_for("the gateway and both stations up again", || {
        all_up(&server).then_some(())
    });
    wait_rung(
        &mgw,
        "rtpbridge/2",
        "carol's message waited for the gateway",
    );
    let after: Vec<String> = mgw.received().split_off(before.min(mgw.received().len()));
    assert!(
        after
            .iter()
            .any(|m| m.starts_with("RQNT ") && m.contains(" rtpbridge/1@")),
        "alice's line re-armed after the restart: {after:#?}"
    );
    assert!(
        server.metric("offhook_mgcp_total{kind=\"tx_retransmissions\"}") > 0,
        "the unanswered commands were retransmitted"
    );
}
