//! Issue 13, point 18, end to end: a forged `RSIP … RM: forced` against the real
//! `offhook serve`, while `offhook gateway-sim --protocol mgcp` records a message on line 1.
//!
//! The call agent takes a gateway's messages from its IP address on any port (issue 15:
//! gateways behind NAT or sending from an ephemeral port), counted as `unexpected_source`, and
//! refuses them from any other address (`wrong_address`). An attacker on the gateway's LAN can
//! send a datagram whose source is the gateway's IP *and* port anyway: here a raw socket (the
//! test runs as root, as CAP_NET_RAW allows) writes the UDP header itself with the gateway's
//! port, as a spoofing host would. The agent audits the
//! gateway, which answers in service with the recording's connection still listed: the claim
//! is refuted (counted, one `warn` line), `/api/v1/health` shows the gateway up, and the
//! recording is stored whole.

use std::net::UdpSocket;
use std::time::Duration;

use offhook_tests::sim::{finish_recording, record_in_background, server_with_phones};
use offhook_tests::{speech_8k, spoof_udp, wait_for, wait_within, wav_duration_ms};

#[test]
fn a_forged_forced_restart_leaves_the_gateway_up_and_the_recording_whole() {
    let (server, mut sim, agent, gateway) =
        server_with_phones(&[("alice", Some("gw1/aaln/1")), ("bob", None)]);
    let speech = speech_8k();

    // alice records a message for bob on her phone (line 1).
    let record = record_in_background(&server, "alice", "bob");
    sim.answer_ring(1);
    sim.send(&format!("say 1 {}", speech.display()));
    wait_for("the recording's first audio", || {
        (server.try_metric(r#"offhook_rtp_total{kind="audio_packets"}"#)? > 50).then_some(())
    });

    let forged = b"RSIP 31337 *@[127.0.0.1] MGCP 1.0\r\nRM: forced\r\n";
    let metric = |kind: &str| server.metric(&format!(r#"offhook_mgcp_total{{kind="{kind}"}}"#));
    // (The gateway's own start-up announcement was one.)
    let restarts = metric("restarts");
    // From the gateway's IP but another port (issue 15: gateways behind NAT, or sending from
    // an ephemeral port, are heard there): taken, counted, and checked like any claim.
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .send_to(forged, agent)
        .unwrap();
    wait_within(
        "the claim from another port refuted",
        Duration::from_secs(5),
        || (metric("restart_claims_refuted") == 1).then_some(()),
    );
    assert_eq!(metric("unexpected_source"), 1);
    // From another address: not taken, counted.
    UdpSocket::bind("127.0.0.2:0")
        .unwrap()
        .send_to(
            b"RSIP 31339 *@[127.0.0.1] MGCP 1.0\r\nRM: forced\r\n",
            agent,
        )
        .unwrap();
    wait_for("the stranger counted", || {
        (metric("wrong_address") == 1).then_some(())
    });
    assert_eq!(metric("restarts"), restarts + 1, "taken from a stranger");

    // From the gateway's own address and port, as a spoofing host on its LAN sends it.
    spoof_udp(gateway, agent, forged);
    wait_within("the claim refuted", Duration::from_secs(5), || {
        (metric("restart_claims_refuted") == 2).then_some(())
    });
    assert_eq!(metric("restarts"), restarts + 2);
    assert_eq!(metric("restart_claims_confirmed"), 0);
    assert_eq!(server.gateway_up("gw1"), Some(true), "health shows it up");
    // A third forged claim: refuted too, and logged at warn only once.
    spoof_udp(
        gateway,
        agent,
        b"RSIP 31338 *@[127.0.0.1] MGCP 1.0\r\nRM: forced\r\n",
    );
    wait_within("the third claim refuted", Duration::from_secs(5), || {
        (metric("restart_claims_refuted") == 3).then_some(())
    });

    // The recording goes on to its end and is stored whole.
    let id = finish_recording(&mut sim, 1, record);
    let got = tempfile::tempdir().unwrap();
    let got = got.path().join("got.wav");
    server.wait_and_fetch("bob", &id, &got);
    let (said, stored) = (wav_duration_ms(&speech), wav_duration_ms(&got));
    assert!(
        said.abs_diff(stored) <= 100,
        "said {said} ms, stored {stored} ms"
    );
    // The connection was never torn down under the recording.
    let deleted_early = sim
        .seen
        .iter()
        .take_while(|v| v["event"] != "say_done")
        .any(|v| v["event"] == "connection" && v["action"] == "deleted");
    assert!(!deleted_early, "{:#?}", sim.seen);
    assert_eq!(
        server.metric(r#"offhook_mgcp_total{kind="gateway_down"}"#),
        0
    );
    let log = server.log_text();
    assert_eq!(
        log.matches("restart claim refuted").count(),
        1,
        "one warn line: {log}"
    );
}
