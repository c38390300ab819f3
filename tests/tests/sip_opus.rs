//! Opus on SIP calls, end to end (RFC 7587): the real `offhook serve` and a baresip that has
//! only Opus (`opus.so`, account `audio_codecs=opus/48000/2`), on loopback.
//!
//! - `offhook record --to bob` rings alice's Opus phone; it answers by itself, says the
//!   speech fixture in Opus and hangs up when the file ends; bob gets audio of about the same
//!   length whose loudness follows what was said;
//! - a message for alice rings her Opus phone; it answers and records what it hears (baresip
//!   decodes Opus at 48 kHz), which follows the message;
//! - with a message waiting, the Opus phone dials `*97` (its own INVITE offers Opus only) and
//!   hears it.
//!
//! The comparison is the one `sip_phones.rs` uses (loudness envelopes in 20 ms frames), with
//! the same 0.7: the stored message is Opus already, so a G.711 call and an Opus call differ
//! little in what the envelope sees.

use std::net::SocketAddr;
use std::path::Path;

use offhook_tests::audio::{envelope_correlation, samples};
use offhook_tests::sim::record_in_background;
use offhook_tests::sip_peers::{Baresip, BaresipConfig, Event, installed};
use offhook_tests::{Server, speech_8k, wait_for, wav_duration_ms};

/// A real peer missing fails the test, as every real-peer test here (docs/TESTING.md).
fn missing() -> bool {
    assert!(
        installed("baresip"),
        "baresip is not installed (scripts/deps --test installs it)"
    );
    assert!(
        Path::new("/usr/lib/baresip/modules/opus.so").exists(),
        "baresip's opus module is missing (Debian baresip-core has it)"
    );
    false
}

/// alice's phone with Opus only, auto-answering.
fn opus_phone(
    server: &Server,
    sip: SocketAddr,
    configure: impl FnOnce(&mut BaresipConfig),
) -> Baresip {
    let (user, secret) = server.sip_credentials("alice");
    let mut config = BaresipConfig::new(&user, &secret, sip);
    config.auto_answer = true;
    config.codec_modules = vec!["opus.so".into()];
    config.audio_codecs = Some("opus/48000/2".into());
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

/// 8 kHz mono samples of a WAV at 8, 16, 24 or 48 kHz, mono or stereo: channels averaged,
/// then each run of rate / 8000 samples averaged (a box filter is enough for loudness
/// envelopes).
fn samples_8k(path: &Path) -> Vec<f64> {
    let mut r = hound::WavReader::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let spec = r.spec();
    let ch = usize::from(spec.channels);
    let step = (spec.sample_rate / 8000) as usize;
    assert!(
        step >= 1 && spec.sample_rate.is_multiple_of(8000),
        "{}: {} Hz",
        path.display(),
        spec.sample_rate
    );
    let all: Vec<f64> = r
        .samples::<i16>()
        .map(|s| f64::from(s.expect("sample")))
        .collect();
    all.chunks(ch * step)
        .map(|c| c.iter().sum::<f64>() / c.len() as f64)
        .collect()
}

/// Whether baresip's log shows the call's audio coded both ways in Opus (`audio: Set audio
/// encoder: opus 48000Hz 2ch`, and the decoder's line); baresip never falls back to G.711
/// here, but this says the call was not something else.
fn used_opus(phone: &Baresip) -> bool {
    let log = phone.log_text();
    log.contains("Set audio encoder: opus") && log.contains("Set audio decoder: opus")
}

#[test]
fn an_opus_phone_records_a_message_and_hears_one() {
    if missing() {
        return;
    }
    let (server, sip) = Server::with_sip(&["alice", "bob"]);
    let dir = tempfile::tempdir().unwrap();
    let speech = speech_8k();

    // Record: the phone answers, says the file in Opus and hangs up.
    let mut phone = opus_phone(&server, sip, |c| c.source_wav = Some(speech.clone()));
    let record = record_in_background(&server, "alice", "bob");
    phone
        .wait_established()
        .expect("the Opus phone answers the record ring");
    let why = phone.wait_call_closed().expect("the call ends");
    let out = record.join().unwrap();
    assert!(
        out.status.success(),
        "offhook record: {} (the phone's call closed: {why})\n{}",
        String::from_utf8_lossy(&out.stderr),
        phone.log_text()
    );
    assert!(used_opus(&phone), "{}", phone.log_text());
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let got = dir.path().join("got.wav");
    server.wait_and_fetch("bob", &id, &got);
    let (said, stored) = (wav_duration_ms(&speech), wav_duration_ms(&got));
    assert!(
        said.abs_diff(stored) <= 1000,
        "said {said} ms, bob got {stored} ms"
    );
    let c = envelope_correlation(&samples(&speech), &samples_8k(&got));
    eprintln!(
        "recorded over Opus: said {said} ms, stored {stored} ms, envelope correlation {c:.3}"
    );
    assert!(c > 0.7, "what bob got follows what the phone said: {c:.3}");
    drop(phone);

    // Deliver: a message for alice rings her Opus phone, which hears it to the end.
    let heard = dir.path().join("heard.wav");
    let mut phone = opus_phone(&server, sip, |c| c.sink_wav = Some(heard.clone()));
    let token = server.login("bob");
    let r = server.post_message(&token, &["alice"], std::fs::read(&speech).unwrap());
    assert!(r.status().is_success(), "{:?}", r.text());
    phone
        .wait_established()
        .expect("the Opus phone answers the message ring");
    phone.wait_call_closed().expect("the message ends the call");
    assert!(used_opus(&phone), "{}", phone.log_text());
    let heard_8k = samples_8k(&heard);
    let heard_ms = heard_8k.len() as u64 / 8;
    assert!(
        heard_ms + 500 >= wav_duration_ms(&speech),
        "heard {heard_ms} ms"
    );
    let c = envelope_correlation(&samples(&speech), &heard_8k);
    eprintln!("played over Opus: heard {heard_ms} ms, envelope correlation {c:.3}");
    assert!(
        c > 0.7,
        "what the Opus phone heard follows the message: {c:.3}"
    );
}

#[test]
fn an_opus_phone_dials_the_listen_code_and_hears_what_waits() {
    if missing() {
        return;
    }
    let (server, sip) = Server::with_sip(&["alice", "bob"]);
    let dir = tempfile::tempdir().unwrap();
    let speech = speech_8k();
    let heard = dir.path().join("heard.wav");
    let mut phone = opus_phone(&server, sip, |c| {
        c.auto_answer = false;
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
    // Dial *97: the phone's INVITE offers Opus only, and the waiting message plays in Opus.
    phone.dial(&format!("sip:*97@{sip}")).expect("dial");
    phone.wait_established().expect("*97 answers");
    let why = phone
        .wait_call_closed()
        .expect("the call ends after the message");
    assert!(used_opus(&phone), "{}", phone.log_text());
    let heard_8k = samples_8k(&heard);
    let c = envelope_correlation(&samples(&speech), &heard_8k);
    eprintln!(
        "*97 over Opus: heard {} ms, envelope correlation {c:.3}",
        heard_8k.len() / 8
    );
    assert!(
        c > 0.7,
        "what the phone heard follows the message: {c:.3} ({why})"
    );
    assert!(
        heard_8k.len() as u64 / 8 + 500 >= wav_duration_ms(&speech),
        "heard {} ms",
        heard_8k.len() / 8
    );
}
