//! A SIP phone dials another user: the real `offhook serve` and baresip on loopback. alice's
//! baresip dials `sip:bob@…` (bob has no phone, so the call records a message for him), says
//! the speech fixture and hangs up when it ends; bob's inbox then holds a message from alice of
//! about that length whose loudness follows what was said.

use offhook_tests::audio::{envelope_correlation, samples};
use offhook_tests::sip_peers::{Baresip, BaresipConfig, installed};
use offhook_tests::{Server, speech_8k, wait_for, wav_duration_ms};
use serde_json::Value;

#[test]
fn a_sip_phone_dialling_a_user_records_a_message_for_them() {
    assert!(
        installed("baresip"),
        "baresip is not installed (scripts/deps --test installs it)"
    );
    let (server, sip) = Server::with_sip(&["alice", "bob"]);
    let speech = speech_8k();
    let (user, secret) = server.sip_credentials("alice");
    let mut config = BaresipConfig::new(&user, &secret, sip);
    config.source_wav = Some(speech.clone());
    let mut phone = Baresip::start(config).expect("baresip starts");
    phone.registered().expect("baresip registers");
    let token = server.login("bob");
    wait_for("alice's phone is a station", || {
        let h = server.health(Some(&token))?;
        (h["sip"]["registered_users"] == 1).then_some(())
    });

    phone.dial(&format!("sip:bob@{sip}")).expect("dial bob");
    phone.wait_established().expect("Offhook answers the call");
    let why = phone
        .wait_call_closed()
        .expect("the phone hangs up at the end");
    let id = wait_for("a message for bob", || {
        let out = server.client("bob", &["inbox", "--json"]);
        let list: Value = serde_json::from_slice(&out.stdout).ok()?;
        let m = list.as_array()?.first()?.clone();
        (m["from"] == "alice").then(|| m["id"].as_str().map(str::to_owned))?
    });
    let dir = tempfile::tempdir().unwrap();
    let got = dir.path().join("got.wav");
    server.wait_and_fetch("bob", &id, &got);
    let (said, stored) = (wav_duration_ms(&speech), wav_duration_ms(&got));
    assert!(
        said.abs_diff(stored) <= 1000,
        "said {said} ms, bob got {stored} ms ({why})"
    );
    let c = envelope_correlation(&samples(&speech), &samples(&got));
    assert!(c > 0.7, "what bob got follows what alice said: {c:.3}");
}
