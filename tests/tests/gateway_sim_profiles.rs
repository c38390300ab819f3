//! The demo flow against gateways that are not RFC 3435 to the letter: the real `offhook serve`
//! and `offhook gateway-sim --profile cisco|ncs` as separate processes on loopback (issue 15).
//!
//! For each profile the gateway registers and shows up in `/api/v1/health`; alice's
//! `offhook record --to carol` rings her line 1, the simulator picks up, says the speech fixture
//! and hangs up; the stored message rings carol's line 2, which picks up and hears it to its end.
//! - `cisco` (Cisco IOS on its default `service-type mgcp version 0.1`): the gateway writes
//!   `MGCP 0.1`, answers audits with an empty `I:` and an `X-` line, and sends keep-alives
//!   (`--keepalive 1`), which the call agent answers 200.
//! - `ncs` (PacketCable NCS 1.0, ITU-T J.162): the gateway writes `MGCP 1.0 NCS 1.0`, refuses
//!   anything else with 528 and the `D` and `G` packages with 518; the call agent must learn the
//!   profile from the RSIP and speak it.

use std::path::Path;

use offhook_tests::sim::{
    GatewaySim, finish_recording, hear_on_phone, record_in_background,
    server_with_phones_and_sim_args,
};
use offhook_tests::{Server, speech_8k, wait_for, wav_duration_ms};

/// The RMS of a WAV file's samples (16-bit).
fn rms(path: &Path) -> f64 {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let (sum, n) = r
        .samples::<i16>()
        .map(|s| f64::from(s.expect("sample")))
        .fold((0.0, 0u64), |(sum, n), v| (sum + v * v, n + 1));
    (sum / n.max(1) as f64).sqrt()
}

/// Commands of the call agent the gateway refused: `(verb, code)`. Audits are left out: the
/// agent probes a gateway in `MGCP 1.0` until the gateway's first command tells it how the
/// gateway speaks, and one still in flight then is rightly refused by an NCS gateway.
fn refused(sim: &GatewaySim) -> Vec<(String, u64)> {
    sim.seen
        .iter()
        .filter(|v| v["event"] == "command" && v["verb"] != "AUEP")
        .filter_map(|v| {
            let code = v["code"].as_u64()?;
            (code >= 400).then(|| (v["verb"].as_str().unwrap_or("?").to_owned(), code))
        })
        .collect()
}

/// The whole flow on a server whose gateway runs with `sim_args`; returns the simulator (its
/// printed lines in `seen`) and the server, for the profile's own checks.
fn demo_flow(sim_args: &[&str]) -> (Server, GatewaySim) {
    let (server, mut sim, _, _) = server_with_phones_and_sim_args(
        &[("alice", Some("gw1/aaln/1")), ("carol", Some("gw1/aaln/2"))],
        sim_args,
    );
    assert_eq!(server.gateway_up("gw1"), Some(true));
    // Both phones audited and armed: their stations are available.
    for user in ["alice", "carol"] {
        let token = server.login(user);
        wait_for(&format!("{user}'s phone available"), || {
            let h = server.health(Some(&token))?;
            (h["stations"][0]["available"] == true).then_some(())
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let speech = speech_8k();

    // alice records by picking up: `offhook record --to carol` rings her line 1.
    let record = record_in_background(&server, "alice", "carol");
    sim.answer_ring(1);
    sim.send(&format!("say 1 {}", speech.display()));
    let id = finish_recording(&mut sim, 1, record);
    assert_eq!(
        id.len(),
        36,
        "record prints the stored message's id: {id:?}"
    );

    // The stored message rings carol's line 2; picked up, it plays to its end.
    let heard = dir.path().join("heard.wav");
    hear_on_phone(&server, &mut sim, 2, "carol", &id, &heard);
    let (said, got) = (wav_duration_ms(&speech), wav_duration_ms(&heard));
    assert!(got + 200 >= said, "line 2 heard {got} ms of {said} ms");
    assert!(rms(&heard) > 100.0, "line 2 heard speech, not silence");
    (server, sim)
}

#[test]
fn cisco_gateway_records_delivers_and_keeps_alive() {
    let (server, mut sim) = demo_flow(&["--profile", "cisco", "--keepalive", "1"]);
    // Quiet now: within a second the gateway sends a keep-alive, which the agent answers 200.
    let code = sim.expect("a keep-alive answered", |v| {
        (v["event"] == "keepalive").then(|| v["code"].clone())
    });
    assert_eq!(code, 200, "{:#?}", sim.seen);
    assert!(server.metric(r#"offhook_mgcp_total{kind="keepalives"}"#) >= 1);
    let refused = refused(&sim);
    assert!(refused.is_empty(), "{refused:?} in {:#?}", sim.seen);
    sim.quit();
}

#[test]
fn ncs_gateway_records_and_delivers() {
    let (server, sim) = demo_flow(&["--profile", "ncs"]);
    // Every request the agent made of the lines was in NCS and named only the line package.
    let refused = refused(&sim);
    assert!(refused.is_empty(), "{refused:?} in {:#?}", sim.seen);
    let armed = sim
        .seen
        .iter()
        .filter(|v| v["event"] == "command" && v["verb"] == "RQNT" && v["code"] == 200)
        .count();
    assert!(armed >= 2, "lines armed in NCS: {:#?}", sim.seen);
    assert_eq!(server.gateway_up("gw1"), Some(true));
    sim.quit();
}
