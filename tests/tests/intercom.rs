//! End-to-end intercom: live buffers over the WebSocket to online recipients, stored as a
//! message for all (the `send` action; `offhook send --live`, `offhook listen`).
// The latency figure is measured (and printed, never asserted) with the monotonic clock.
#![allow(clippy::disallowed_methods)]

use std::net::TcpStream;

use offhook_tests::{Server, send_ok, speech_8k, wait_for, wait_processed, wav_duration_ms};
use serde_json::{Value, json};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

type Ws = WebSocket<MaybeTlsStream<TcpStream>>;

fn samples(path: &std::path::Path) -> Vec<i16> {
    hound::WavReader::open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .samples::<i16>()
        .map(Result::unwrap)
        .collect()
}

/// The first 2 s of the speech fixture (speech, not a tone: the message clean-up would take a
/// steady tone for noise).
fn speech_2s(path: &std::path::Path) {
    let spec = hound::WavSpec {
        channels: 1,
        sample_rate: 8000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(path, spec).unwrap();
    for s in samples(&speech_8k()).into_iter().take(16_000) {
        w.write_sample(s).unwrap();
    }
    w.finalize().unwrap();
}

#[test]
fn live_stream_reaches_online_recipients_and_is_stored_for_all() {
    let server = Server::start("");
    for u in ["alice", "bob", "carol", "dave"] {
        server.add_user(u);
    }
    let dir = tempfile::tempdir().unwrap();
    let save = dir.path().join("bob");
    let mut bob = server.listen("bob", &["--save", save.to_str().unwrap()]);
    let mut carol = server.listen("carol", &[]);
    let wav = dir.path().join("two-seconds.wav");
    speech_2s(&wav);

    // dave is offline: he gets only the stored message, later.
    let out = server.client(
        "alice",
        &["send", "--live", "--to", "bob,dave", wav.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "send --live: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    uuid::Uuid::parse_str(&id).unwrap_or_else(|_| panic!("send --live printed {id:?}"));

    // bob heard it live: 100 buffers of 20 ms, in order, then the end.
    let mut seqs = Vec::new();
    let end = loop {
        let e = bob.next_non_presence();
        match e["event"].as_str() {
            Some("live") => {
                assert_eq!(e["from"], "alice");
                assert_eq!(e["ms"], 20, "{e}");
                seqs.push(e["seq"].as_u64().unwrap());
            }
            Some("live_end") => break e,
            _ => panic!("unexpected event before the stream ended: {e}"),
        }
    };
    assert_eq!(seqs, (0..100).collect::<Vec<_>>());
    assert_eq!(end["ms"], 2000);
    assert!(end.get("cut").is_none(), "{end}");
    let stream = end["stream"].as_str().unwrap().to_owned();
    let live = save.join(format!("live-{stream}.wav"));
    assert_eq!(end["file"], live.display().to_string());
    assert!(wav_duration_ms(&live).abs_diff(2000) <= 20);
    // PCM passes through untouched (8 kHz in, 8 kHz out, no G.711).
    assert_eq!(samples(&live), samples(&wav));

    // Then the stored message, marked with the stream he heard.
    let m = bob.next_non_presence();
    assert_eq!(m["event"], "message", "{m}");
    assert_eq!(m["id"], id.as_str());
    assert_eq!(m["from"], "alice");
    assert_eq!(m["stream"], stream.as_str());
    let fetched = dir.path().join("fetched.wav");
    let r = server.client("bob", &["fetch", &id, "--out", fetched.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let ms = wav_duration_ms(&fetched);
    assert!(ms.abs_diff(2000) <= 60, "fetched {ms} ms of {m}");

    // carol was not a recipient: the next thing she sees is a marker sent to her afterwards.
    let marker = send_ok(&server, "alice", "carol", &speech_8k());
    let e = carol.next_non_presence();
    assert_eq!(e["event"], "message", "carol heard something: {e}");
    assert_eq!(e["id"], marker.as_str());

    // dave connects: the stored message is waiting.
    let mut dave = server.listen("dave", &[]);
    let got = dave.messages_until(&id);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["from"], "alice");
}

fn send(ws: &mut Ws, object: Value) {
    let m = json!({
        "action": "send", "id": uuid::Uuid::new_v4(), "source": uuid::Uuid::nil(),
        "destination": uuid::Uuid::nil(), "object": object,
    });
    ws.send(Message::Text(m.to_string().into())).unwrap();
}

/// The next `send` object the server writes (skipping presence and the like).
fn next_send(ws: &mut Ws) -> Value {
    loop {
        let m = ws.read().expect("a frame within the deadline");
        let Message::Text(t) = m else { continue };
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        if v["action"] == "send" {
            return v["object"].clone();
        }
    }
}

fn refused(ws: &mut Ws, object: Value, what: &str) {
    send(ws, object);
    let r = next_send(ws);
    let e = r["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error: {r}"));
    assert!(e.contains(what), "{e:?} does not say {what:?}");
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in bytes.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// 30 ms of a loud buzz: the bytes 10 20 30 repeated, 480 in all.
fn pcm() -> String {
    "ECAw".repeat(160)
}

#[test]
fn bad_buffers_are_refused_counted_and_the_session_carries_on() {
    let server = Server::start("");
    for u in ["alice", "bob"] {
        server.add_user(u);
    }
    let mut bob = server.listen("bob", &[]);
    let mut ws = server.websocket(&server.login("alice"));

    refused(
        &mut ws,
        json!({"stream": "a1", "seq": 0, "to": ["zed"], "pcm": pcm()}),
        "unknown recipient \"zed\"",
    );
    refused(
        &mut ws,
        json!({"stream": "a1", "seq": 0, "pcm": pcm()}),
        "recipients",
    );
    refused(
        &mut ws,
        json!({"stream": "b1", "seq": 0, "to": ["bob"], "pcm": "!!!!"}),
        "not base64",
    );
    refused(
        &mut ws,
        json!({"stream": "b1", "seq": 0, "to": ["bob"], "pcm": "A".repeat(24_000)}),
        "at most 16000",
    );
    refused(
        &mut ws,
        json!({"stream": "not-hex", "seq": 0, "to": ["bob"], "pcm": pcm()}),
        "object.stream",
    );
    // A good first buffer, then one out of order: refused, and the stream still expects 1.
    send(
        &mut ws,
        json!({"stream": "b1", "seq": 0, "to": ["bob"], "pcm": pcm()}),
    );
    refused(
        &mut ws,
        json!({"stream": "b1", "seq": 2, "pcm": pcm()}),
        "out of order: expected 1",
    );
    // Three more streams fill the session's four; a fifth is refused.
    for s in ["c1", "c2", "c3"] {
        send(
            &mut ws,
            json!({"stream": s, "seq": 0, "to": ["bob"], "pcm": pcm()}),
        );
    }
    refused(
        &mut ws,
        json!({"stream": "c4", "seq": 0, "to": ["bob"], "pcm": pcm()}),
        "too many open streams",
    );
    for kind in [
        "unknown_recipient",
        "intercom_malformed",
        "intercom_too_big",
        "intercom_out_of_order",
        "intercom_too_many_streams",
    ] {
        let n = server.metric(&format!("offhook_rejected_total{{kind=\"{kind}\"}}"));
        assert!(n >= 1, "{kind}: {n}");
    }
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"intercom_malformed\"}"),
        3
    );

    // The session carries on: b1 ends properly and is stored.
    send(
        &mut ws,
        json!({"stream": "b1", "seq": 1, "pcm": pcm(), "end": true}),
    );
    let r = next_send(&mut ws);
    assert_eq!(r["stream"], "b1", "{r}");
    let stored = r["stored"].as_str().unwrap_or_else(|| panic!("{r}"));

    // bob heard b1's two buffers and its end, and the first buffers of c1..c3.
    let mut heard = Vec::new();
    while heard.len() < 6 {
        let e = bob.next_non_presence();
        if e["event"] == "live" || e["event"] == "live_end" {
            heard.push((
                e["event"].as_str().unwrap().to_owned(),
                e["stream"].as_str().unwrap().to_owned(),
            ));
        }
    }
    let b1: Vec<_> = heard.iter().filter(|(_, s)| s == "b1").collect();
    assert_eq!(b1.len(), 3, "{heard:?}");
    assert_eq!(b1[2].0, "live_end");

    // Hanging up mid-stream: bob is told c1..c3 were cut, and each is stored.
    ws.close(None).unwrap();
    while ws.read().is_ok() {}
    let mut cut = Vec::new();
    let mut messages = Vec::new();
    while cut.len() < 3 || messages.len() < 4 {
        let e = bob.next_non_presence();
        match e["event"].as_str() {
            Some("live_end") => {
                assert_eq!(e["cut"], true, "{e}");
                cut.push(e["stream"].as_str().unwrap().to_owned());
            }
            Some("message") => messages.push(e["stream"].as_str().unwrap_or("").to_owned()),
            _ => {}
        }
    }
    cut.sort();
    assert_eq!(cut, ["c1", "c2", "c3"]);
    messages.sort();
    assert_eq!(messages, ["b1", "c1", "c2", "c3"]);
    uuid::Uuid::parse_str(stored).unwrap();
}

/// 150 buffers sent back to back, each as soon as the previous one arrived, all reach the
/// recipient in order with their length, and the stream is stored (the latency itself is the
/// `intercom_latency` bench's to measure, not a test's).
#[test]
fn buffers_sent_back_to_back_arrive_in_order_and_are_stored() {
    let server = Server::start("");
    for u in ["alice", "bob"] {
        server.add_user(u);
    }
    let mut alice = server.websocket(&server.login("alice"));
    let mut bob = server.websocket(&server.login("bob"));
    // 30 ms per buffer, sent as soon as the previous one arrived, without pacing: 60 buffers
    // (1.8 s) fit in the 2 s that audio may run ahead of real time (the WebSocket's frame burst
    // allowance covers them too).
    let pcm = pcm();
    let n = 60;
    for seq in 0..n {
        let mut o = json!({"stream": "1a7", "seq": seq, "pcm": pcm, "end": seq + 1 == n});
        if seq == 0 {
            o["to"] = json!(["bob"]);
        }
        send(&mut alice, o);
        let got = next_send(&mut bob);
        assert_eq!(got["seq"], seq, "{got}");
        assert_eq!(got["ms"], 30, "{got}");
        assert_eq!(got["pcm"], pcm, "{got}");
    }
    let r = next_send(&mut alice);
    assert!(r["stored"].is_string(), "{r}");
    assert_eq!(r["ms"], 30 * n, "{r}");
    wait_for("the stored stream", || {
        (server.metric("offhook_messages_accepted_total") >= 1).then_some(())
    });
}

/// Intercom is paced to real time (issue 13, point 14): audio pushed faster than it plays is
/// dropped beyond a 2 s lead, so one sender cannot fan out minutes of audio a second; the
/// stream itself goes on.
#[test]
fn audio_sent_faster_than_real_time_is_dropped_beyond_a_short_lead() {
    let server = Server::start(
        "[clients]
frame_rate = 5000
frame_burst = 5000
",
    );
    for u in ["alice", "bob"] {
        server.add_user(u);
    }
    let mut alice = server.websocket(&server.login("alice"));
    let mut bob = server.websocket(&server.login("bob"));
    // 30 s of audio in 1,000 buffers, as fast as the socket takes them.
    let n = 1000;
    for seq in 0..n {
        let mut o = json!({"stream": "fa57", "seq": seq, "pcm": pcm(), "end": seq + 1 == n});
        if seq == 0 {
            o["to"] = json!(["bob"]);
        }
        send(&mut alice, o);
    }
    // The stream ended (its last buffer is within the lead once real time has caught up, or
    // dropped: either way it is stored when the end arrives or the session closes).
    wait_for("most buffers refused as too fast", || {
        let refused = server.try_metric("offhook_rejected_total{kind=\"intercom_too_fast\"}")?;
        (refused >= 800).then_some(())
    });
    // bob got the first ones in order, then only what real time allowed: far less than 30 s.
    let mut heard_ms = 0;
    let mut last_seq = -1i64;
    for _ in 0..10 {
        let got = next_send(&mut bob);
        let seq = got["seq"].as_i64().expect("seq");
        assert!(seq > last_seq, "in order: {seq} after {last_seq}");
        last_seq = seq;
        heard_ms += got["ms"].as_u64().expect("ms");
    }
    assert_eq!(
        heard_ms, 300,
        "the first buffers of the lead are forwarded whole"
    );
    let refused = server.metric("offhook_rejected_total{kind=\"intercom_too_fast\"}");
    assert!(
        refused <= n as u64 - 66,
        "the 2 s lead (66 buffers) went through: {refused} refused"
    );
}

#[test]
fn a_stream_past_max_duration_is_cut_and_stored() {
    let server = Server::start("[messages]\nmax_duration = \"1s\"\n");
    for u in ["alice", "bob"] {
        server.add_user(u);
    }
    let mut bob = server.listen("bob", &[]);
    let mut ws = server.websocket(&server.login("alice"));
    // 33 buffers of 30 ms fit in 1 s; the 34th does not.
    for seq in 0..33 {
        let mut o = json!({"stream": "10", "seq": seq, "pcm": pcm()});
        if seq == 0 {
            o["to"] = json!(["bob"]);
        }
        send(&mut ws, o);
    }
    refused(
        &mut ws,
        json!({"stream": "10", "seq": 33, "pcm": pcm()}),
        "longer than 1000 ms",
    );
    let r = next_send(&mut ws);
    assert_eq!(r["ms"], 990, "{r}");
    let id = r["stored"]
        .as_str()
        .unwrap_or_else(|| panic!("{r}"))
        .to_owned();
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"intercom_too_long\"}"),
        1
    );
    let end = loop {
        let e = bob.next_non_presence();
        if e["event"] == "live_end" {
            break e;
        }
        assert_eq!(e["event"], "live", "{e}");
    };
    assert_eq!(end["cut"], true, "{end}");
    assert_eq!(end["ms"], 990);
    let m = bob.next_non_presence();
    assert_eq!(m["id"], id.as_str(), "{m}");
    assert_eq!(m["stream"], "10");
}

#[test]
fn a_stream_open_at_shutdown_is_stored() {
    let mut server = Server::start("");
    for u in ["alice", "bob"] {
        server.add_user(u);
    }
    let mut ws = server.websocket(&server.login("alice"));
    // bob is offline; 20 buffers of 30 ms of speech (a steady buzz would be cleaned away as
    // noise), and no end.
    assert_eq!(base64(&[0x10, 0x20, 0x30, 0]), "ECAwAA==");
    let speech = samples(&speech_8k());
    for seq in 0..20 {
        let buf = &speech[8000 + seq * 240..8000 + (seq + 1) * 240];
        let bytes: Vec<u8> = buf.iter().flat_map(|x| x.to_le_bytes()).collect();
        let mut o = json!({"stream": "5d", "seq": seq, "pcm": base64(&bytes)});
        if seq == 0 {
            o["to"] = json!(["bob"]);
        }
        send(&mut ws, o);
    }
    // Every buffer is in once a ping sent after them is answered.
    ws.send(Message::Text(
        json!({"action": "ping", "id": uuid::Uuid::new_v4(), "source": uuid::Uuid::nil(), "object": {}})
            .to_string()
            .into(),
    ))
    .unwrap();
    loop {
        let m = ws.read().unwrap();
        if m.to_text().unwrap_or("").contains("\"ping\"") {
            break;
        }
    }
    // alice's client answers the server's close (tungstenite does so while reading).
    let reader = std::thread::spawn(move || while ws.read().is_ok() {});
    assert!(server.terminate().success());
    reader.join().unwrap();
    server.restart();
    let mut bob = server.listen("bob", &[]);
    let m = bob.next_non_presence();
    assert_eq!(m["event"], "message", "{m}");
    assert_eq!(m["from"], "alice");
    // All that came is kept: 600 ms of speech with no pause at its ends to trim (`offhook
    // convert --clean` keeps all 600 ms of it), give or take a 20 ms codec frame.
    let ms = m["duration_ms"].as_u64().unwrap();
    assert!((580..=620).contains(&ms), "600 ms were sent: {m}");
}

#[test]
fn send_live_resamples_any_rate_and_refuses_unknown_recipients() {
    let server = Server::start("");
    for u in ["alice", "bob"] {
        server.add_user(u);
    }
    let dir = tempfile::tempdir().unwrap();
    // 1 s of speech at 16 kHz stereo (each sample doubled in time and channel).
    let wav = dir.path().join("wide.wav");
    let spec = hound::WavSpec {
        channels: 2,
        sample_rate: 16_000,
        bits_per_sample: 16,
        sample_format: hound::SampleFormat::Int,
    };
    let mut w = hound::WavWriter::create(&wav, spec).unwrap();
    for s in samples(&speech_8k()).into_iter().skip(8000).take(8000) {
        for _ in 0..4 {
            w.write_sample(s).unwrap();
        }
    }
    w.finalize().unwrap();
    let wav = wav.to_str().unwrap();
    let out = server.client(
        "alice",
        &["send", "--live", "--buffer-ms", "40", "--to", "bob", wav],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let m = wait_processed(&server, &server.login("bob"), &id);
    assert_eq!(m["status"], "ready", "{m}");
    assert_eq!(m["from"], "alice");
    // 1 s at 8 kHz, not 2 s, and all of it (speech with no pause at its ends to trim), give or
    // take a 20 ms codec frame.
    let ms = m["duration_ms"].as_u64().unwrap();
    assert!((980..=1020).contains(&ms), "1 s was sent: {m}");

    let out = server.client("alice", &["send", "--live", "--to", "zed", wav]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown recipient \"zed\""), "{err}");
}
