//! Bad input: each is refused with a clear 4xx or close code, counted in /metrics, and leaves
//! other users unaffected.

use std::net::TcpStream;

use offhook_tests::{Server, http, send_ok, speech_8k, wait_for};
use serde_json::{Value, json};
use tungstenite::client::IntoClientRequest;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

const CONFIG: &str = r#"
[messages]
max_upload = "64KiB"
[clients]
frame_rate = 5
frame_burst = 10
max_frame = "16KiB"
"#;

fn ws(server: &Server, token: &str) -> WebSocket<MaybeTlsStream<TcpStream>> {
    let url = server.url.replace("http://", "ws://") + "/api/v1/ws";
    let mut req = url.into_client_request().unwrap();
    req.headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    let (mut s, _) = tungstenite::connect(req).expect("websocket");
    if let MaybeTlsStream::Plain(t) = s.get_ref() {
        t.set_read_timeout(Some(offhook_tests::DEADLINE)).unwrap();
    }
    let hello = s.read().unwrap();
    assert!(hello.to_text().unwrap().contains("\"connect\""));
    s
}

/// Reads until the server's close frame; returns its code.
fn close_code(s: &mut WebSocket<MaybeTlsStream<TcpStream>>) -> CloseCode {
    loop {
        match s.read() {
            Ok(Message::Close(Some(f))) => return f.code,
            Ok(Message::Close(None)) => panic!("closed without a code"),
            Ok(_) => {}
            Err(e) => panic!("no close frame: {e}"),
        }
    }
}

fn error_of(r: reqwest::blocking::Response) -> (u16, String) {
    let s = r.status().as_u16();
    let v: Value = r.json().unwrap_or(Value::Null);
    (s, v["error"].as_str().unwrap_or("").to_owned())
}

#[test]
fn bad_requests_are_refused_counted_and_harmless() {
    let server = Server::start(CONFIG);
    for u in ["alice", "bob", "mallory"] {
        server.add_user(u);
    }
    // bob is online throughout; at the end he must still get alice's message.
    let mut bob = server.listen("bob", &[]);
    let client = http();
    let mallory = server.login("mallory");
    let fixture = std::fs::read(speech_8k()).unwrap();

    // Malformed JSON.
    let r = client
        .post(format!("{}/api/v1/session", server.url))
        .header("content-type", "application/json")
        .body("{\"username\": \"mallory\", ")
        .send()
        .unwrap();
    let (s, e) = error_of(r);
    assert_eq!(s, 400);
    assert!(e.contains("malformed JSON"), "{e}");
    let r = client
        .post(format!("{}/api/v1/record", server.url))
        .bearer_auth(&mallory)
        .header("content-type", "application/json")
        .body("[1,2")
        .send()
        .unwrap();
    assert_eq!(r.status(), 400);
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"malformed_json\"}"),
        2
    );

    // Wrong password.
    let r = client
        .post(format!("{}/api/v1/session", server.url))
        .json(&json!({"username": "bob", "password": "guess"}))
        .send()
        .unwrap();
    assert_eq!(error_of(r), (401, "wrong username or password".into()));
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"bad_login\"}"),
        1
    );

    // Oversize upload (the cap is 64 KiB; the fixture is ~180 kB).
    assert!(fixture.len() > 64 * 1024);
    let (s, e) = error_of(server.post_message(&mallory, &["bob"], fixture.clone()));
    assert_eq!(s, 413, "{e}");
    assert!(e.contains("limit"), "{e}");
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"too_large\"}"),
        1
    );

    // A WAV whose header claims more audio than it holds.
    let mut lying = fixture[..20_000].to_vec();
    let data = lying
        .windows(4)
        .position(|w| w == b"data")
        .expect("data chunk");
    lying[data + 4..data + 8].copy_from_slice(&1_000_000u32.to_le_bytes());
    let (s, e) = error_of(server.post_message(&mallory, &["bob"], lying));
    assert_eq!(s, 400, "{e}");
    assert!(e.contains("claims"), "{e}");
    let (s, _) =
        error_of(server.post_message(&mallory, &["bob"], b"definitely not audio".to_vec()));
    assert_eq!(s, 415);
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"bad_audio\"}"),
        1
    );
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"unsupported_audio\"}"),
        1
    );

    // Unknown recipient, via the API and the CLI.
    let dir = tempfile::tempdir().unwrap();
    let small_path = dir.path().join("small.wav");
    let small = offhook_tests::tone_wav(&small_path, 1000);
    let (s, e) = error_of(server.post_message(&mallory, &["bob", "zed"], small));
    assert_eq!((s, e.as_str()), (400, "unknown recipient \"zed\""));
    let out = server.client(
        "mallory",
        &["send", "--to", "zed", small_path.to_str().unwrap()],
    );
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "offhook: unknown recipient \"zed\""
    );
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"unknown_recipient\"}"),
        2
    );

    // No session, and a forged token (expiry has its own test).
    let r = client
        .get(format!("{}/api/v1/messages", server.url))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = client
        .get(format!("{}/api/v1/messages", server.url))
        .bearer_auth("forged")
        .send()
        .unwrap();
    assert_eq!(r.status(), 401);
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"no_session\"}"),
        1
    );
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"bad_token\"}"),
        1
    );

    // A flood of WebSocket frames: closed with 1008 (policy violation).
    let mallory = server.login("mallory");
    let mut flood = ws(&server, &mallory);
    for _ in 0..40 {
        let ping =
            json!({"action": "ping", "id": uuid::Uuid::new_v4(), "source": uuid::Uuid::nil()});
        if flood.send(Message::Text(ping.to_string().into())).is_err() {
            break;
        }
    }
    assert_eq!(close_code(&mut flood), CloseCode::Policy);
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"ws_flood\"}"),
        1
    );

    // A frame over the size limit: closed with 1009 (message too big).
    let mut big = ws(&server, &mallory);
    let _ = big.send(Message::Text("x".repeat(64 * 1024).into()));
    assert_eq!(close_code(&mut big), CloseCode::Size);
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"ws_too_big\"}"),
        1
    );

    // Garbage and a spoofed source get an error object, and the session stays open.
    let mut odd = ws(&server, &mallory);
    odd.send(Message::Text("{\"action\":\"fly\"}".into()))
        .unwrap();
    let reply: Value = serde_json::from_str(odd.read().unwrap().to_text().unwrap()).unwrap();
    assert!(
        reply["object"]["error"]
            .as_str()
            .unwrap()
            .contains("not a message object")
    );
    let alice_id = server.offhook(&["user", "show", "alice", "--json"], None);
    let alice_id: Value = serde_json::from_slice(&alice_id.stdout).unwrap();
    let spoof = json!({"action": "set_status", "id": uuid::Uuid::new_v4(), "source": alice_id["id"], "object": {"status": "away"}});
    odd.send(Message::Text(spoof.to_string().into())).unwrap();
    let reply: Value = serde_json::from_str(odd.read().unwrap().to_text().unwrap()).unwrap();
    assert_eq!(reply["object"]["error"], "source must be your own GUID");
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"ws_bad_object\"}"),
        1
    );
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"ws_spoofed\"}"),
        1
    );

    // Meanwhile bob is unaffected: alice's message reaches his open session.
    let id = send_ok(&server, "alice", "bob", &small_path);
    let got = bob.messages_until(&id);
    assert_eq!(got.last().unwrap()["from"], "alice");
}

#[test]
fn ping_timeout_drops_a_silent_client() {
    let server = Server::start("[clients]\nping_interval = \"100ms\"\nping_timeout = \"300ms\"\n");
    server.add_user("bob");
    let token = server.login("bob");
    let mut s = ws(&server, &token);
    // Read nothing: tungstenite answers pings only while we read, so the client stays silent
    // until the server gives up; then the close frame is waiting.
    wait_for("the ping timeout", || {
        (server.metric("offhook_rejected_total{kind=\"ws_ping_timeout\"}") == 1).then_some(())
    });
    assert_eq!(close_code(&mut s), CloseCode::from(4000));
}

#[test]
fn expired_session_is_refused() {
    let server = Server::start("[clients]\nsession_ttl = \"2s\"\n");
    server.add_user("bob");
    let token = server.login("bob");
    let client = http();
    let (s, e) = wait_for("the session to expire", || {
        let r = client
            .get(format!("{}/api/v1/messages", server.url))
            .bearer_auth(&token)
            .send()
            .unwrap();
        (r.status() == 401).then(|| error_of(r))
    });
    assert_eq!((s, e.as_str()), (401, "session expired: log in again"));
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"expired_token\"}"),
        1
    );
    // A fresh login works again.
    let fresh = server.login("bob");
    let r = client
        .get(format!("{}/api/v1/messages", server.url))
        .bearer_auth(&fresh)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// A flood of malformed MGCP from a configured gateway's own address (issue 13, point 16):
/// every datagram is answered and counted, but the log gets at most a burst of warnings a
/// second and one line counting the rest, not one line each.
#[test]
fn a_flood_of_malformed_mgcp_does_not_flood_the_log() {
    let gateway = std::net::UdpSocket::bind("127.0.0.1:0").expect("bind the gateway's address");
    let agent_port = offhook_tests::osmo::free_udp_port();
    let server = Server::start(&format!(
        "[mgcp]\nlisten = \"127.0.0.1:{agent_port}\"\n\
         [[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"{}\"\n",
        gateway.local_addr().expect("addr")
    ));
    const FLOOD: u64 = 20_000;
    for n in 0..FLOOD {
        // A command whose parameter line has no colon: answered 400 (RFC 3435 §3.4), warned about.
        let junk = format!(
            "NTFY {} aaln/1@[127.0.0.1] MGCP 1.0\r\nbogus line\r\n",
            10_000 + n
        );
        gateway
            .send_to(junk.as_bytes(), ("127.0.0.1", agent_port))
            .expect("send");
    }
    wait_for("the flood counted", || {
        let n = server.try_metric("offhook_mgcp_total{kind=\"malformed_answered\"}")?;
        // Many are lost on the loopback socket's buffer (sent faster than read); enough arrive.
        (n >= FLOOD / 10).then_some(())
    });
    wait_for("the dropped warnings reported", || {
        server
            .log_text()
            .contains("repeated warnings not logged")
            .then_some(())
    });
    let counted = server.metric("offhook_mgcp_total{kind=\"malformed_answered\"}");
    let log = server.log_text();
    let warned = log
        .lines()
        .filter(|l| l.contains("malformed command"))
        .count() as u64;
    assert!(
        warned * 20 < counted,
        "{warned} warning lines for {counted} malformed commands: the log is throttled"
    );
    let dropped: u64 = log
        .lines()
        .filter(|l| l.contains("repeated warnings not logged"))
        .filter_map(|l| {
            l.split("dropped=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<u64>()
                .ok()
        })
        .sum();
    assert!(
        dropped > 0,
        "the dropped ones are counted in the log:\n{log}"
    );
}
