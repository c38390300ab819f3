//! Proves the real-peer SIP harness (`offhook_tests::sip_peers`) against peers nobody here
//! wrote: two baresip phones register with digest authentication at Kamailio, one calls the
//! other through it, and the callee's recording holds the caller's speech. The appliance's SIP
//! tests use the same harness pointed at `offhook serve`.
//!
//! Skipped, with a note, when baresip or Kamailio is not installed (`scripts/deps --test`).
// Real processes exchange real-time audio: the call must last a few real seconds.
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use offhook_tests::sip_peers::{
    Baresip, BaresipConfig, Event, Kamailio, PeerError, Transport, envelope_correlation, installed,
    rms, wav_samples,
};
use offhook_tests::{speech_8k, wav_duration_ms};

const ALICE: (&str, &str) = ("alice", "alice-secret-1");
const BOB: (&str, &str) = ("bob", "bob-secret-2");

fn peers_missing() -> bool {
    let missing: Vec<_> = ["baresip", "kamailio"]
        .into_iter()
        .filter(|p| !installed(p))
        .collect();
    // A real peer missing fails the test, as every real-peer test here (docs/TESTING.md).
    assert!(
        missing.is_empty(),
        "{missing:?} not installed (scripts/deps --test installs them)"
    );
    false
}

#[test]
fn baresip_calls_baresip_through_kamailio_and_is_heard() {
    if peers_missing() {
        return;
    }
    let kamailio = Kamailio::start(&[ALICE, BOB]).expect("kamailio");
    let dir = tempfile::tempdir().expect("tempdir");
    let heard = dir.path().join("bob-heard.wav");
    let mut bob = Baresip::start(BaresipConfig {
        auto_answer: true,
        sink_wav: Some(heard.clone()),
        ..BaresipConfig::new(BOB.0, BOB.1, kamailio.addr)
    })
    .expect("bob");
    let mut alice = Baresip::start(BaresipConfig {
        source_wav: Some(speech_8k()),
        ..BaresipConfig::new(ALICE.0, ALICE.1, kamailio.addr)
    })
    .expect("alice");
    bob.registered().expect("bob registers");
    alice.registered().expect("alice registers");

    alice
        .dial(&format!("sip:bob@{}", kamailio.addr))
        .expect("dial");
    let from = bob.wait_established().expect("bob answers");
    assert!(from.starts_with("sip:alice@"), "{from}");
    let to = alice.wait_established().expect("alice: established");
    assert!(to.starts_with("sip:bob@"), "{to}");
    std::thread::sleep(Duration::from_secs(3));
    alice.hangup().expect("hang up");
    alice.wait_call_closed().expect("alice: closed");
    bob.wait_call_closed().expect("bob: closed by alice's BYE");

    let ms = wav_duration_ms(&heard);
    assert!(
        (2000..8000).contains(&ms),
        "bob heard {ms} ms of a ~3 s call"
    );
    let said = wav_samples(&speech_8k());
    let got = wav_samples(&heard);
    let level = rms(&got);
    // Silence through PCMU decodes to |sample| <= 8; the fixture's speech is ~2000 RMS.
    assert!(level > 300.0, "bob heard RMS {level:.0}: silence");
    let (c, lag) = envelope_correlation(&said, &got, 8000);
    assert!(
        c > 0.7,
        "bob's recording does not follow alice's speech (correlation {c:.2} at lag {lag})"
    );
    eprintln!(
        "bob heard {ms} ms, RMS {level:.0}, envelope correlation {c:.2} at lag {lag} samples"
    );
}

#[test]
fn a_wrong_password_is_refused_and_the_right_one_registers_over_tcp() {
    if peers_missing() {
        return;
    }
    let kamailio = Kamailio::start(&[ALICE, BOB]).expect("kamailio");
    let mut wrong = Baresip::start(BaresipConfig::new(
        ALICE.0,
        "not-her-password",
        kamailio.addr,
    ))
    .expect("baresip");
    match wrong.registered() {
        Err(PeerError::RegisterFailed(_)) => {}
        other => panic!("a wrong password registered: {other:?}"),
    }
    assert!(
        wrong.log_text().contains("401 Unauthorized"),
        "{}",
        wrong.log_text()
    );
    let mut tcp = Baresip::start(BaresipConfig {
        transport: Transport::Tcp,
        ..BaresipConfig::new(BOB.0, BOB.1, kamailio.addr)
    })
    .expect("baresip");
    tcp.registered().expect("bob registers over TCP");
}

#[test]
fn a_call_to_an_unregistered_user_closes_with_an_error() {
    if peers_missing() {
        return;
    }
    let kamailio = Kamailio::start(&[ALICE, BOB]).expect("kamailio");
    let mut alice =
        Baresip::start(BaresipConfig::new(ALICE.0, ALICE.1, kamailio.addr)).expect("alice");
    alice.registered().expect("alice registers");
    alice
        .dial(&format!("sip:bob@{}", kamailio.addr))
        .expect("dial");
    let closed = alice
        .wait_event("the call to close", |e| matches!(e, Event::Closed(_)))
        .expect("closed");
    assert!(
        matches!(&closed, Event::Closed(why) if why.contains("404")),
        "{closed:?}"
    );
}
