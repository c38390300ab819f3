//! IP phones as stations, end to end: the real `offhook serve` and baresip (a SIP user agent
//! nobody here wrote, from Debian's package) on loopback.
//!
//! - baresip registers as alice with the digest credentials `offhook user show alice --json`
//!   prints, and alice is then online with a station on line `sip/alice`;
//! - `offhook record --to bob` rings it; baresip answers by itself and says the speech fixture
//!   (its `aufile` source) and hangs up when the file ends; bob gets audio of about the same
//!   length whose loudness follows what was said;
//! - a message for alice rings it; baresip answers and records what it hears, which follows
//!   the message; the message is marked played;
//! - with a message waiting, baresip dials `*97` and hears it.

use std::net::SocketAddr;
use std::time::Duration;

use offhook_tests::audio::{envelope_correlation, samples};
use offhook_tests::sim::record_in_background;
use offhook_tests::sip_peers::{Baresip, BaresipConfig, Event, installed};
use offhook_tests::{Server, speech_8k, wait_for, wait_within, wav_duration_ms};
use serde_json::Value;

/// A real peer missing fails the test, as every real-peer test here (docs/TESTING.md).
fn missing() -> bool {
    assert!(
        installed("baresip"),
        "baresip is not installed (scripts/deps --test installs it)"
    );
    false
}

/// alice's baresip, registered, once the server has her station and shows her online.
fn alice_phone(
    server: &Server,
    sip: SocketAddr,
    configure: impl FnOnce(&mut BaresipConfig),
) -> Baresip {
    let (user, secret) = server.sip_credentials("alice");
    let mut config = BaresipConfig::new(&user, &secret, sip);
    configure(&mut config);
    let mut phone = Baresip::start(config).expect("baresip starts");
    phone
        .registered()
        .expect("baresip registers with digest auth");
    let token = server.login("bob");
    wait_for("alice's SIP phone is a station that can ring", || {
        let h = server.health(Some(&token))?;
        (h["sip"]["registered_users"] == 1
            && h["stations"]
                .as_array()?
                .iter()
                .any(|s| s["available"] == true))
        .then_some(())
    });
    phone
}

#[test]
fn a_sip_phone_records_by_answering_its_ring_and_hears_a_message_by_answering_again() {
    if missing() {
        return;
    }
    let (server, sip) = Server::with_sip(&["alice", "bob"]);
    let dir = tempfile::tempdir().unwrap();
    let speech = speech_8k();
    let heard = dir.path().join("heard.wav");
    let mut phone = alice_phone(&server, sip, |c| {
        c.auto_answer = true;
        c.source_wav = Some(speech.clone());
    });

    // Record: the ring is answered by the phone, which says the file and hangs up.
    let record = record_in_background(&server, "alice", "bob");
    phone
        .wait_established()
        .expect("the phone answers the record ring");
    let why = phone.wait_call_closed().expect("the call ends");
    let out = record.join().unwrap();
    assert!(
        out.status.success(),
        "offhook record: {} (the phone's call closed: {why})\n{}",
        String::from_utf8_lossy(&out.stderr),
        phone.log_text()
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let got = dir.path().join("got.wav");
    server.wait_and_fetch("bob", &id, &got);
    let (said, stored) = (wav_duration_ms(&speech), wav_duration_ms(&got));
    assert!(
        said.abs_diff(stored) <= 1000,
        "said {said} ms, bob got {stored} ms"
    );
    let c = envelope_correlation(&samples(&speech), &samples(&got));
    assert!(c > 0.7, "what bob got follows what the phone said: {c:.3}");

    // Deliver: a message for alice rings her phones; a second one answers and hears it to the
    // end. The first is killed without unregistering: its ring goes unanswered, as a phone
    // that lost power would leave it.
    drop(phone);
    let (user, secret) = server.sip_credentials("alice");
    let mut config = BaresipConfig::new(&user, &secret, sip);
    config.auto_answer = true;
    config.sink_wav = Some(heard.clone());
    let mut phone = Baresip::start(config).expect("baresip starts");
    phone.registered().expect("the second phone registers");
    let token = server.login("bob");
    let r = server.post_message(&token, &["alice"], std::fs::read(&speech).unwrap());
    assert!(r.status().is_success(), "{:?}", r.text());
    let id2 = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    phone
        .wait_established()
        .expect("the phone answers the message ring");
    phone.wait_call_closed().expect("the message ends the call");
    let c = envelope_correlation(&samples(&speech), &samples(&heard));
    assert!(c > 0.7, "what the phone heard follows the message: {c:.3}");
    let alice = server.login("alice");
    wait_for("the message marked played", || {
        let list: Value = offhook_tests::http()
            .get(format!("{}/api/v1/messages", server.url))
            .bearer_auth(&alice)
            .send()
            .ok()?
            .json()
            .ok()?;
        list.as_array()?
            .iter()
            .find(|m| m["id"] == id2.as_str() && m["played"] == true)
            .map(drop)
    });
}

#[test]
fn a_sip_phone_dials_the_listen_code_and_hears_what_waits() {
    if missing() {
        return;
    }
    let (server, sip) = Server::with_sip(&["alice", "bob"]);
    let dir = tempfile::tempdir().unwrap();
    let speech = speech_8k();
    let heard = dir.path().join("heard.wav");
    let mut phone = alice_phone(&server, sip, |c| {
        c.sink_wav = Some(heard.clone());
    });
    // A message rings the phone; it declines, and the message waits.
    let token = server.login("bob");
    let r = server.post_message(&token, &["alice"], std::fs::read(&speech).unwrap());
    assert!(r.status().is_success(), "{:?}", r.text());
    phone.wait_incoming().expect("the message rings the phone");
    phone.hangup().expect("decline");
    phone
        .wait_event("the ring ends", |e| matches!(e, Event::Closed(_)))
        .expect("the ring ends");
    // Dial *97: the waiting message plays.
    phone.dial(&format!("sip:*97@{sip}")).expect("dial");
    phone.wait_established().expect("*97 answers");
    let why = phone
        .wait_call_closed()
        .expect("the call ends after the message");
    let c = envelope_correlation(&samples(&speech), &samples(&heard));
    assert!(
        c > 0.7,
        "what the phone heard follows the message: {c:.3} ({why})"
    );
    let heard_ms = wav_duration_ms(&heard);
    assert!(
        heard_ms + 500 >= wav_duration_ms(&speech),
        "heard {heard_ms} ms"
    );
    // Nothing left: *97 is refused.
    phone.dial(&format!("sip:*97@{sip}")).expect("dial");
    let closed = wait_within(
        "the empty mailbox refuses",
        Duration::from_secs(20),
        || match phone.next_event(Duration::from_secs(1)) {
            Ok(Event::Closed(why)) => Some(why),
            _ => None,
        },
    );
    assert!(closed.contains("480"), "{closed}");
}
