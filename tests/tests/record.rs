//! The analog-phone promise, end to end with separate processes: the real `offhook serve` and
//! `offhook gateway-sim --protocol mgcp` on loopback.
//!
//! - `offhook record --to bob` rings alice's line 1; the simulator picks up, `say`s the speech
//!   fixture, hangs up; bob's `fetch` returns audio of the same length (within 100 ms) whose
//!   waveform correlates with what was said.
//! - The other way round: a message for carol rings her line 2; the simulator picks up and
//!   `hear`s it; what it heard correlates with what was sent, and the message is marked played.
//! - A forger on the same host sends RTP from the gateway's own address and port (a raw
//!   socket, as root) while alice records: every forged packet is counted and dropped, and bob
//!   gets what alice said.

use std::path::Path;

use offhook_tests::audio::{envelope_correlation, samples};
use offhook_tests::osmo::free_udp_port;
use offhook_tests::sim::{
    GatewaySim, add_users_and_restart, finish_recording, hear_on_phone, record_in_background,
    server_with_phones,
};
use offhook_tests::{Server, http, speech_8k, wait_for, wav_duration_ms};
use serde_json::Value;

/// A clip of the speech fixture: `len` samples from sample `start`, as an 8 kHz WAV in `dir`.
fn clip(dir: &Path, start: usize, len: usize) -> std::path::PathBuf {
    let path = dir.join("clip.wav");
    let mut r = hound::WavReader::open(speech_8k()).unwrap();
    let mut w = hound::WavWriter::create(&path, r.spec()).unwrap();
    for s in r.samples::<i16>().skip(start).take(len) {
        w.write_sample(s.unwrap()).unwrap();
    }
    w.finalize().unwrap();
    path
}

/// `offhook record --to bob` as alice, on a thread (it returns once the message is stored).
fn record_to_bob(server: &Server) -> std::thread::JoinHandle<std::process::Output> {
    record_in_background(server, "alice", "bob")
}

fn setup() -> (Server, GatewaySim) {
    // alice and carol have phones (lines 1 and 2); bob listens with the CLI.
    let (server, sim, _, _) = server_with_phones(&[
        ("alice", Some("gw1/aaln/1")),
        ("bob", None),
        ("carol", Some("gw1/aaln/2")),
    ]);
    (server, sim)
}

#[test]
fn record_by_picking_up_and_listen_by_picking_up() {
    let (server, mut sim) = setup();
    let dir = tempfile::tempdir().unwrap();
    let speech = speech_8k();

    // alice: `offhook record --to bob` rings her phone (line 1).
    let record = record_to_bob(&server);
    sim.expect("line 1 rings", |v| {
        (v["line"] == 1 && v["event"] == "ringing" && v["on"] == true).then_some(())
    });
    sim.send("offhook 1");
    let media: std::net::SocketAddr =
        sim.expect("a connection on line 1, towards Offhook's media", |v| {
            (v["line"] == 1 && v["event"] == "connection" && v["action"] == "created")
                .then(|| v["remote"].as_str()?.parse().ok())
                .flatten()
        });
    sim.send(&format!("say 1 {}", speech.display()));
    // Packets from anywhere but the gateway's media address are dropped and counted (sent
    // once the gateway's own packets have arrived, so the engine knows its address).
    wait_for("the gateway's first audio packets counted", || {
        (server.try_metric(r#"offhook_rtp_total{kind="audio_packets"}"#)? > 0).then_some(())
    });
    let stranger = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    for junk in [&b"\x80\x00\x00\x01 not from the gateway"[..], b"junk"] {
        stranger.send_to(junk, media).unwrap();
    }
    let id = finish_recording(&mut sim, 1, record);
    assert_eq!(
        id.len(),
        36,
        "record prints the stored message's id: {id:?}"
    );
    // The media engine's counters reach /metrics within a second.
    wait_for("the speech and the stranger's packets counted", || {
        (server.metric("offhook_rtp_total{kind=\"audio_packets\"}") >= 500).then_some(())
    });
    assert_eq!(server.metric("offhook_rtp_total{kind=\"wrong_source\"}"), 2);

    // bob fetches it: same length within 100 ms, and it sounds like what was said.
    let got = dir.path().join("got.wav");
    let inbox = server.wait_and_fetch("bob", &id, &got);
    assert_eq!(inbox["from"], "alice");
    let (said, heard) = (wav_duration_ms(&speech), wav_duration_ms(&got));
    assert!(
        said.abs_diff(heard) <= 100,
        "said {said} ms, bob got {heard} ms"
    );
    let c = envelope_correlation(&samples(&speech), &samples(&got));
    assert!(
        c > 0.8,
        "what bob got correlates with what alice said: {c:.3}"
    );

    // The other way round: a message for carol rings her phone (line 2); picking up plays it.
    let token = server.login("alice");
    let r = server.post_message(&token, &["carol"], std::fs::read(&speech).unwrap());
    assert!(r.status().is_success(), "{:?}", r.text());
    let id2 = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Played to its end on the phone: the message is marked played.
    let heard_file = dir.path().join("heard.wav");
    hear_on_phone(&server, &mut sim, 2, "carol", &id2, &heard_file);
    let c = envelope_correlation(&samples(&speech), &samples(&heard_file));
    assert!(
        c > 0.8,
        "what line 2 heard correlates with what was sent: {c:.3}"
    );
    let heard_ms = wav_duration_ms(&heard_file);
    assert!(
        heard_ms + 200 >= said,
        "line 2 heard {heard_ms} ms of {said} ms"
    );
}

/// A record request for a user with no phone is 409; one whose phone's gateway is down is 503,
/// and `/api/v1/health` shows that station unavailable.
#[test]
fn a_forger_at_the_gateways_rtp_address_stays_out_of_the_recording() {
    let (server, mut sim) = setup();
    let speech = speech_8k();
    let record = record_to_bob(&server);
    sim.expect("line 1 rings", |v| {
        (v["line"] == 1 && v["event"] == "ringing" && v["on"] == true).then_some(())
    });
    sim.send("offhook 1");
    let (gateway, media): (std::net::SocketAddr, std::net::SocketAddr) =
        sim.expect("a connection on line 1 with both ends known", |v| {
            (v["line"] == 1 && v["event"] == "connection" && v["action"] == "created")
                .then(|| {
                    Some((
                        v["local"].as_str()?.parse().ok()?,
                        v["remote"].as_str()?.parse().ok()?,
                    ))
                })
                .flatten()
        });
    sim.send(&format!("say 1 {}", speech.display()));
    wait_for("the gateway's first audio packets counted", || {
        (server.try_metric(r#"offhook_rtp_total{kind="audio_packets"}"#)? > 0).then_some(())
    });
    // 100 packets of a full-scale tone from the gateway's own address and port, in sequence,
    // under another SSRC (a forger cannot know the gateway's).
    let forged: Vec<Vec<u8>> = (0..100u16)
        .map(|n| {
            let mut p = vec![0x80, 0x00];
            p.extend_from_slice(&n.wrapping_mul(7).to_be_bytes());
            p.extend_from_slice(&(u32::from(n) * 160).to_be_bytes());
            p.extend_from_slice(&0x0bad_0badu32.to_be_bytes());
            p.extend_from_slice(&[0x80; 160]);
            p
        })
        .collect();
    for p in &forged {
        offhook_tests::spoof_udp(gateway, media, p);
    }
    let id = finish_recording(&mut sim, 1, record);
    wait_for("the forged packets counted", || {
        (server.metric(r#"offhook_rtp_total{kind="wrong_ssrc"}"#) >= 100).then_some(())
    });
    assert_eq!(
        server.metric(r#"offhook_rtp_total{kind="wrong_ssrc"}"#),
        100
    );
    assert_eq!(
        server.metric(r#"offhook_rtp_total{kind="wrong_source"}"#),
        0
    );
    let dir = tempfile::tempdir().unwrap();
    let got = dir.path().join("got.wav");
    wait_for("bob's copy ready", || {
        server
            .client("bob", &["fetch", &id, "--out", got.to_str().unwrap()])
            .status
            .success()
            .then_some(())
    });
    let (said, heard) = (wav_duration_ms(&speech), wav_duration_ms(&got));
    assert!(
        said.abs_diff(heard) <= 100,
        "said {said} ms, bob got {heard} ms"
    );
    let c = envelope_correlation(&samples(&speech), &samples(&got));
    assert!(c > 0.8, "bob got what alice said: {c:.3}");
}

#[test]
fn record_refused_without_phone_or_gateway() {
    let (mgcp, gw) = (free_udp_port(), free_udp_port());
    let mut server = Server::start(&format!(
        "[mgcp]\nlisten = \"127.0.0.1:{mgcp}\"\n\
         [[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"127.0.0.1:{gw}\"\n"
    ));
    let out = server.offhook(
        &[
            "user",
            "add",
            "alice",
            "--password-stdin",
            "--line",
            "gw1/aaln/1",
        ],
        Some(offhook_tests::PASSWORD),
    );
    assert!(out.status.success());
    server.add_user("bob");
    server.terminate();
    server.restart();
    let record = |user: &str| {
        http()
            .post(format!("{}/api/v1/record", server.url))
            .bearer_auth(server.login(user))
            .json(&serde_json::json!({"to": ["bob"]}))
            .send()
            .expect("POST /api/v1/record")
            .status()
            .as_u16()
    };
    assert_eq!(record("bob"), 409, "bob has no phone");
    assert_eq!(record("alice"), 503, "alice's gateway never came up");
    let anyone: Value = http()
        .get(format!("{}/api/v1/health", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(anyone["gateways"][0]["up"], false);
    assert!(
        anyone.get("stations").is_none(),
        "phones are not shown to anyone: {anyone}"
    );
    let health: Value = http()
        .get(format!("{}/api/v1/health", server.url))
        .bearer_auth(server.login("alice"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["stations"][0]["available"], false, "{health}");
    // The CLI says so in one line and exits non-zero.
    let out = server.client("alice", &["record", "--to", "bob"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("gateway"), "{err}");
}

/// One request/answer over the WebSocket: sends `action` with `object`, returns the answer's
/// object (skipping presence and other pushes).
fn ws_call(
    ws: &mut tungstenite::WebSocket<tungstenite::stream::MaybeTlsStream<std::net::TcpStream>>,
    action: &str,
    object: Value,
) -> Value {
    let m = serde_json::json!({"action": action, "id": uuid::Uuid::new_v4(), "source": uuid::Uuid::nil(),
        "destination": uuid::Uuid::nil(), "object": object});
    ws.send(tungstenite::Message::Text(m.to_string().into()))
        .expect("ws send");
    loop {
        let frame = ws.read().expect("ws answer");
        let Ok(text) = frame.to_text() else { continue };
        let v: Value = serde_json::from_str(text).expect("json");
        if v["action"] == action {
            return v["object"].clone();
        }
    }
}

/// The WebSocket's `control_params` and `phone_command` drive a user's phone, and a client's
/// live intercom to a user with a phone rings it and plays live once picked up.
#[test]
fn phone_command_control_params_and_intercom_to_a_phone() {
    let (server, mut sim) = setup();
    let dir = tempfile::tempdir().unwrap();
    // A 2 s clip of the speech fixture, as the caller's voice.
    let clip = clip(dir.path(), 8000, 16_000);
    let mut ws = server.websocket(&server.login("alice"));
    let params = ws_call(
        &mut ws,
        "control_params",
        serde_json::json!({"record_mode": "record"}),
    );
    assert_eq!(params["record_mode"], "record", "{params}");
    assert_eq!(params["has_phone"], true);
    let bad = ws_call(
        &mut ws,
        "control_params",
        serde_json::json!({"record_mode": "loud"}),
    );
    assert!(bad["error"].is_string(), "{bad}");

    // phone_command record: rings line 1 in record mode (alice's default now).
    let started = ws_call(
        &mut ws,
        "phone_command",
        serde_json::json!({"command": "record", "to": ["bob"]}),
    );
    assert_eq!(started["mode"], "record", "{started}");
    let request = started["request"].as_u64().expect("request id");
    sim.answer_ring(1);
    sim.send(&format!("say 1 {}", clip.display()));
    sim.expect("the clip was sent", |v| {
        (v["line"] == 1 && v["event"] == "say_done").then_some(())
    });
    sim.send("digits 1 #");
    let stored = wait_for("the phone_command recording stored", || {
        let s = ws_call(
            &mut ws,
            "phone_command",
            serde_json::json!({"command": "status", "request": request}),
        );
        (s["status"] == "stored").then_some(s)
    });
    assert!(stored["message"].is_string(), "{stored}");
    sim.send("onhook 1");

    // Intercom from a client to carol, whose only device is her phone: it rings; once picked up
    // the stream plays live (what was said while it rang first).
    let heard = dir.path().join("live.wav");
    let send = std::thread::spawn({
        let url = server.url.clone();
        let clip = clip.clone();
        move || {
            std::process::Command::new(offhook_tests::offhook_bin())
                .args([
                    "send", "--live", "--to", "carol", "--server", &url, "--user", "alice",
                ])
                .arg(&clip)
                .env("OFFHOOK_PASSWORD", offhook_tests::PASSWORD)
                .output()
                .expect("offhook send --live")
        }
    });
    sim.expect("carol's phone rings for the live stream", |v| {
        (v["line"] == 2 && v["event"] == "ringing" && v["on"] == true).then_some(())
    });
    sim.send(&format!("hear 2 {}", heard.display()));
    sim.send("offhook 2");
    let out = send.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    sim.expect("the live stream played on line 2", |v| {
        (v["line"] == 2 && v["event"] == "connection" && v["action"] == "deleted").then_some(())
    });
    sim.expect("what line 2 heard", |v| {
        (v["line"] == 2 && v["event"] == "hear_done").then_some(())
    });
    // What was said while the phone rang is played catching up (the engine drops one 20 ms
    // frame in four while more than 200 ms is queued), so the heard envelope is slightly time-
    // compressed at its start: it still correlates, if less than a straight copy.
    let c = envelope_correlation(&samples(&clip), &samples(&heard));
    assert!(c > 0.6, "line 2 heard the live stream: {c:.3}");
    let (said, got) = (wav_duration_ms(&clip), wav_duration_ms(&heard));
    assert!(
        got * 4 >= said * 3,
        "line 2 heard {got} ms of a {said} ms stream"
    );
    sim.send("onhook 2");
}

/// Intercom from a phone to an online client: alice's `offhook record --to bob` picks intercom
/// (bob is online), and bob's `listen` prints each buffer as alice speaks, then the end, then
/// the stored message; `--save` keeps the live stream as a WAV that sounds like what was said.
#[test]
fn intercom_from_a_phone_to_an_online_client() {
    let (server, mut sim) = setup();
    let dir = tempfile::tempdir().unwrap();
    let clip = clip(dir.path(), 8000, 24_000);
    let saved = dir.path().join("saved");
    std::fs::create_dir(&saved).unwrap();
    let mut bob = server.listen("bob", &["--save", saved.to_str().unwrap()]);
    let record = record_to_bob(&server);
    sim.answer_ring(1);
    sim.send(&format!("say 1 {}", clip.display()));
    // Bob hears it live, buffer by buffer, while alice is still speaking.
    let first = loop {
        let e = bob.next_non_presence();
        if e["event"] == "live" {
            break e;
        }
    };
    assert_eq!(first["from"], "alice");
    assert_eq!(first["seq"], 0);
    sim.expect("the clip was sent", |v| {
        (v["line"] == 1 && v["event"] == "say_done").then_some(())
    });
    sim.send("digits 1 #");
    let mut next_seq = 1;
    let end = loop {
        let e = bob.next_non_presence();
        match e["event"].as_str() {
            Some("live") => {
                assert_eq!(e["seq"], next_seq, "buffers arrive in order: {e}");
                next_seq += 1;
            }
            Some("live_end") => break e,
            _ => {}
        }
    };
    assert!(
        next_seq >= 140,
        "about 3 s of 20 ms buffers arrived live: {next_seq}"
    );
    // Each buffer of audio bob's session wrote was observed in the server-side latency
    // histogram (RTP received → WebSocket frame written); the last `live` is the end object,
    // which carries none and is not.
    let count = server.metric("offhook_intercom_latency_seconds_count");
    assert_eq!(
        count,
        next_seq - 1,
        "one observation per buffer of audio written"
    );
    assert_eq!(
        server.metric("offhook_intercom_latency_seconds_bucket{le=\"+Inf\"}"),
        count
    );
    let out = record.join().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    // The live stream as bob saved it sounds like what alice said.
    let file = end["file"].as_str().expect("live_end names the saved file");
    let c = envelope_correlation(&samples(&clip), &samples(Path::new(file)));
    assert!(c > 0.8, "bob's live copy correlates with the clip: {c:.3}");
    // And the intercom message is stored too.
    let stored = bob.messages_until(&id);
    assert_eq!(stored.last().unwrap()["from"], "alice");
    sim.send("onhook 1");
}

/// A server killed mid-recording acknowledged nothing: after restart the half-written file is
/// gone, and the same phone records again (the engine's call numbers start over, so a leftover
/// file must not stand in the way).
#[test]
fn a_recording_cut_by_a_server_crash_leaves_nothing_behind() {
    let (mut server, mut sim) = setup();
    let dir = tempfile::tempdir().unwrap();
    let clip = clip(dir.path(), 8000, 16_000);
    let recordings = server.data.join("recordings");
    let wavs = || {
        std::fs::read_dir(&recordings)
            .map(|d| {
                d.flatten()
                    .filter(|e| e.path().extension().is_some_and(|x| x == "wav"))
                    .count()
            })
            .unwrap_or(0)
    };
    let record = record_to_bob(&server);
    sim.answer_ring(1);
    sim.send(&format!("say 1 {}", clip.display()));
    wait_for("a recording being written", || (wavs() == 1).then_some(()));
    server.kill9();
    let out = record.join().unwrap();
    assert!(
        !out.status.success(),
        "the record request was never completed"
    );
    sim.send("onhook 1");

    server.restart();
    // The clip said into the crashed server's call ends (played out, or cut when the restarted
    // call agent clears the stale connection) before the next one is said.
    sim.expect("the first clip ended", |v| {
        (v["line"] == 1 && v["event"] == "say_done").then_some(())
    });
    assert_eq!(wavs(), 0, "the unfinished recording was swept at start");
    assert!(
        server
            .log_text()
            .contains("left unfinished by the previous run"),
        "the sweep is logged"
    );
    wait_for("alice's phone available again", || {
        let token = server.login("alice");
        let h = server.health(Some(&token))?;
        (h["stations"][0]["available"] == true).then_some(())
    });
    let record = record_to_bob(&server);
    sim.answer_ring(1);
    sim.send(&format!("say 1 {}", clip.display()));
    sim.expect("the clip was sent", |v| {
        (v["line"] == 1 && v["event"] == "say_done").then_some(())
    });
    sim.send("onhook 1");
    let out = record.join().unwrap();
    assert!(
        out.status.success(),
        "recording after the restart: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// alice picks up and says nothing; the silence timer ends the recording. It is not sent:
/// her phone plays the error tone (reorder), `offhook record` fails saying why, and bob has
/// nothing.
#[test]
fn an_empty_recording_is_not_sent() {
    let (server, mut sim) = setup();
    let record = record_to_bob(&server);
    sim.answer_ring(1);
    sim.expect("the error tone on line 1", |v| {
        (v["line"] == 1 && v["signal"] == "L/ro" && v["stopped"].is_null()).then_some(())
    });
    sim.send("onhook 1");
    let out = record.join().unwrap();
    assert!(!out.status.success(), "an empty recording is refused");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("nothing was recorded: no speech heard"),
        "{stderr}"
    );
    let inbox = server.client("bob", &["inbox", "--json"]);
    assert!(inbox.status.success());
    let list: Vec<Value> = serde_json::from_slice(&inbox.stdout).unwrap();
    assert!(list.is_empty(), "bob has nothing: {list:?}");
}

/// SIGTERM while alice speaks: `serve` stops the recording, stores what was said, and bob has
/// it after the restart (CONTRACT: open recordings are finalised and stored).
#[test]
fn a_recording_open_at_shutdown_is_stored() {
    let (mut server, mut sim) = setup();
    let dir = tempfile::tempdir().unwrap();
    let speech = clip(dir.path(), 8000, 16_000);
    let record = record_to_bob(&server);
    sim.answer_ring(1);
    // Two seconds said, the line still off-hook, then the appliance is stopped.
    sim.send(&format!("say 1 {}", speech.display()));
    sim.expect("the two seconds were sent", |v| {
        (v["line"] == 1 && v["event"] == "say_done").then_some(())
    });
    assert!(server.terminate().success(), "{}", server.log_text());
    let _ = record.join().unwrap();
    let log = server.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("recording stored") && l.contains("Shutdown")),
        "the open recording was stored at shutdown:\n{log}"
    );
    sim.expect("the connection deleted", |v| {
        (v["line"] == 1 && v["event"] == "connection" && v["action"] == "deleted").then_some(())
    });
    sim.send("onhook 1");

    server.restart();
    let message = wait_for("bob's copy ready", || {
        let out = server.client("bob", &["inbox", "--json"]);
        let list: Value = serde_json::from_slice(&out.stdout).ok()?;
        list.as_array()?.first().cloned()
    });
    assert_eq!(message["from"], "alice");
    let ms = message["duration_ms"].as_u64().unwrap();
    assert!(
        (1000..6000).contains(&ms),
        "about two seconds were said before the stop: {message}"
    );
}

/// A phone's recording ends at `[messages] max_duration`, not at the station manager's own
/// 2-minute default (issue 23; the fault was that `appliance/src/stations.rs` never gave the
/// station manager `messages.max_duration`). With `max_duration = "3s"` alice keeps talking
/// for 5 s: the stored message is 3 s long, counted in samples, and the server logs that it
/// ended at its maximum length. (With the fault, the capture runs on until alice hangs up, and
/// the 5 s recording is longer than the core accepts.)
#[test]
fn a_phones_recording_ends_at_messages_max_duration() {
    const MAX_MS: u64 = 3000;
    let agent: std::net::SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let gateway: std::net::SocketAddr = format!("127.0.0.1:{}", free_udp_port()).parse().unwrap();
    let mut server = Server::start(&format!(
        "[messages]\nmax_duration = \"{MAX_MS}ms\"\n\
         [mgcp]\nlisten = \"{agent}\"\n\
         [[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"{gateway}\"\n"
    ));
    add_users_and_restart(&mut server, &[("alice", Some("gw1/aaln/1")), ("bob", None)]);
    let mut sim = GatewaySim::start(agent, gateway, 2);
    sim.expect("the gateway registered", |v| {
        (v["event"] == "rsip" && v["line"].is_null() && v["acknowledged"] == true).then_some(())
    });
    wait_for("the gateway up", || {
        server.gateway_up("gw1").filter(|up| *up)
    });

    // 5 s of the speech fixture from 0.1 s: speech at the start and around 3 s in, so the
    // clean-up's trim (speech plus 200 ms) leaves the 3 s whole.
    let dir = tempfile::tempdir().unwrap();
    let speech = clip(dir.path(), 800, 40_000);
    let record = record_to_bob(&server);
    sim.answer_ring(1);
    sim.send(&format!("say 1 {}", speech.display()));
    let id = finish_recording(&mut sim, 1, record);

    let log = server.log_text();
    assert!(
        log.lines()
            .any(|l| l.contains("recording stored") && l.contains("MaxLength")),
        "the recording ended at its maximum length:\n{log}"
    );
    let got = dir.path().join("got.wav");
    let inbox = server.wait_and_fetch("bob", &id, &got);
    assert_eq!(inbox["from"], "alice");
    // By sample count: 3 s at the stored rate, within two 20 ms frames.
    let wav = hound::WavReader::open(&got).unwrap();
    let rate = u64::from(wav.spec().sample_rate);
    let (samples, want) = (u64::from(wav.duration()), MAX_MS * rate / 1000);
    let frame = rate / 50;
    assert!(
        samples.abs_diff(want) <= 2 * frame,
        "the stored message has {samples} samples at {rate} Hz, max_duration is {want}"
    );
    let ms = inbox["duration_ms"].as_u64().unwrap();
    assert!(ms.abs_diff(MAX_MS) <= 40, "{inbox}");
}
