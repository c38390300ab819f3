//! Sessions end when they should, against the `offhook` binary, written as the attacks that
//! showed they did not:
//!
//! - a deleted admin's token can no longer create an admin or delete the admin who removed them,
//!   and a deleted user's token no longer reads `/contacts` (401);
//! - a WebSocket is closed (code 4001) within a second of its session's logout, its user's
//!   deletion (through the API, or by `offhook user delete` on the data dir while the server
//!   runs: then within two seconds), or its expiry, so a deleted or logged-out user's open socket cannot keep receiving
//!   live audio or sending it.
// Real processes and sockets: deadlines need the real clock.
#![allow(clippy::disallowed_methods)]

use std::net::TcpStream;
use std::time::Duration;

use offhook_tests::{PASSWORD, Server, closed_within, http};
use reqwest::StatusCode;
use tungstenite::WebSocket;
use tungstenite::protocol::frame::coding::CloseCode;
use tungstenite::stream::MaybeTlsStream;

type Socket = WebSocket<MaybeTlsStream<TcpStream>>;

/// How long after its session ends a socket may stay open.
const CLOSE_BOUND: Duration = Duration::from_secs(1);

fn delete_user(server: &Server, token: &str, name: &str) -> StatusCode {
    http()
        .delete(format!("{}/api/v1/users/{name}", server.url))
        .bearer_auth(token)
        .send()
        .expect("DELETE /api/v1/users")
        .status()
}

#[test]
fn a_deleted_admins_token_is_refused() {
    let server = Server::start("");
    server.add_admin("root");
    server.add_admin("mallory");
    server.add_user("eve");
    let root = server.login("root");
    let mallory = server.login("mallory");
    let eve = server.login("eve");
    assert_eq!(
        delete_user(&server, &root, "mallory"),
        StatusCode::NO_CONTENT
    );
    assert_eq!(delete_user(&server, &root, "eve"), StatusCode::NO_CONTENT);

    let made = http()
        .post(format!("{}/api/v1/users", server.url))
        .bearer_auth(&mallory)
        .json(&serde_json::json!({"username": "mallory2", "password": PASSWORD, "admin": true}))
        .send()
        .expect("POST /api/v1/users");
    assert_eq!(
        made.status(),
        StatusCode::UNAUTHORIZED,
        "a deleted admin creates no admin"
    );
    assert_eq!(
        delete_user(&server, &mallory, "root"),
        StatusCode::UNAUTHORIZED,
        "a deleted admin deletes no one"
    );
    let contacts = http()
        .get(format!("{}/api/v1/contacts", server.url))
        .bearer_auth(&eve)
        .send()
        .expect("GET /api/v1/contacts");
    assert_eq!(
        contacts.status(),
        StatusCode::UNAUTHORIZED,
        "a deleted user reads nothing"
    );
    // The admin who deleted them is untouched.
    let users = http()
        .get(format!("{}/api/v1/users", server.url))
        .bearer_auth(&root)
        .send()
        .expect("GET /api/v1/users");
    assert_eq!(users.status(), StatusCode::OK);
    let names: Vec<String> = users
        .json::<Vec<serde_json::Value>>()
        .expect("json")
        .iter()
        .filter_map(|u| u["username"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(names, ["root"]);
}

#[test]
fn a_websocket_closes_when_its_session_is_logged_out() {
    let server = Server::start("");
    server.add_user("alice");
    let token = server.login("alice");
    let other = server.login("alice");
    let mut ws = server.websocket(&token);
    let mut stays = server.websocket(&other);
    let out = http()
        .delete(format!("{}/api/v1/session", server.url))
        .bearer_auth(&token)
        .send()
        .expect("DELETE /api/v1/session");
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        closed_within(&mut ws, CLOSE_BOUND),
        CloseCode::Library(4001)
    );
    // Only that session ended: the same user's other session still answers.
    stays
        .send(tungstenite::Message::Ping(Vec::new().into()))
        .expect("ping on the other session");
    loop {
        match stays.read().expect("the other session is open") {
            tungstenite::Message::Pong(_) => break,
            tungstenite::Message::Close(f) => panic!("the other session closed: {f:?}"),
            _ => {}
        }
    }
}

#[test]
fn a_websocket_closes_when_its_user_is_deleted() {
    let server = Server::start("");
    server.add_admin("root");
    server.add_user("mallory");
    let root = server.login("root");
    let mut sockets: Vec<Socket> = (0..2)
        .map(|_| server.websocket(&server.login("mallory")))
        .collect();
    assert_eq!(
        delete_user(&server, &root, "mallory"),
        StatusCode::NO_CONTENT
    );
    for ws in &mut sockets {
        assert_eq!(closed_within(ws, CLOSE_BOUND), CloseCode::Library(4001));
    }
}

#[test]
fn a_websocket_closes_when_its_session_expires() {
    let ttl = Duration::from_secs(2);
    let server = Server::start("[clients]\nsession_ttl = \"2s\"\n");
    server.add_user("alice");
    let token = server.login("alice");
    let mut ws = server.websocket(&token);
    assert_eq!(
        closed_within(&mut ws, ttl + CLOSE_BOUND),
        CloseCode::Library(4001)
    );
    let r = http()
        .get(format!("{}/api/v1/contacts", server.url))
        .bearer_auth(&token)
        .send()
        .expect("GET /api/v1/contacts");
    assert_eq!(
        r.status(),
        StatusCode::UNAUTHORIZED,
        "the expired token is refused too"
    );
}

#[test]
fn a_token_in_the_url_counts_only_on_the_websocket_upgrade() {
    let server = Server::start("");
    server.add_user("alice");
    let token = server.login("alice");
    let r = http()
        .get(format!("{}/api/v1/contacts?token={token}", server.url))
        .send()
        .expect("GET /api/v1/contacts?token=");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    // The upgrade takes it (browsers cannot set headers there).
    let url = format!(
        "{}/api/v1/ws?token={token}",
        server.url.replace("http://", "ws://")
    );
    let (mut ws, _) = tungstenite::connect(url).expect("upgrade with ?token=");
    let hello = ws.read().expect("greeting");
    assert!(
        hello.to_text().expect("text").contains("\"connect\""),
        "{hello}"
    );
}

#[test]
fn a_cross_site_websocket_riding_the_cookie_is_refused() {
    use tungstenite::client::IntoClientRequest;
    let server = Server::start("");
    server.add_user("alice");
    let token = server.login("alice");
    let host = server.url.trim_start_matches("http://").to_owned();
    let open = |origin: &str| {
        let mut req = format!("ws://{host}/api/v1/ws")
            .into_client_request()
            .expect("request");
        let h = req.headers_mut();
        h.insert(
            "Cookie",
            format!("offhook_session={token}").parse().unwrap(),
        );
        h.insert("Origin", origin.parse().unwrap());
        tungstenite::connect(req)
    };
    match open("http://evil.example") {
        Err(tungstenite::Error::Http(r)) => assert_eq!(r.status(), StatusCode::FORBIDDEN),
        other => panic!(
            "a page of another site opened the socket: {:?}",
            other.map(|_| ())
        ),
    }
    let (mut ws, _) = open(&format!("http://{host}")).expect("the appliance's own page");
    assert!(
        ws.read()
            .expect("greeting")
            .to_text()
            .expect("text")
            .contains("\"connect\"")
    );
}

#[test]
fn health_tells_strangers_only_what_a_load_balancer_needs_and_metrics_can_be_closed() {
    let server = Server::start("[http]\nmetrics = \"admin\"\n");
    server.add_admin("root");
    server.add_user("alice");
    let get = |path: &str, token: Option<&str>| {
        let mut r = http().get(format!("{}{path}", server.url));
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        r.send().expect("GET")
    };
    let anyone: serde_json::Value = get("/api/v1/health", None).json().expect("json");
    assert_eq!(anyone["status"], "ok");
    assert!(
        anyone.get("stations").is_none(),
        "no user GUIDs for strangers: {anyone}"
    );
    let alice = server.login("alice");
    let root = server.login("root");
    // The core's parts are for admins.
    let user: serde_json::Value = get("/api/v1/health", Some(&alice)).json().expect("json");
    assert!(user.get("subsystems").is_none(), "{user}");
    let admin: serde_json::Value = get("/api/v1/health", Some(&root)).json().expect("json");
    let parts: Vec<(&str, &str)> = admin["subsystems"]
        .as_array()
        .expect("subsystems")
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["state"].as_str().unwrap()))
        .collect();
    assert_eq!(
        parts,
        [
            ("database", "ok"),
            ("storage", "ok"),
            ("transcoder", "ok"),
            ("retention", "ok"),
            ("clients", "ok"),
            ("network", "ok")
        ],
        "{admin}"
    );
    assert_eq!(
        admin["subsystems"][0]["detail"], "answers; 2 user(s)",
        "{admin}"
    );
    assert_eq!(get("/metrics", None).status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        get("/metrics", Some(&alice)).status(),
        StatusCode::FORBIDDEN
    );
    let r = get("/metrics", Some(&root));
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.text().expect("text").contains("offhook_rejected_total"));

    let off = Server::start("[http]\nmetrics = \"off\"\n");
    let r = http()
        .get(format!("{}/metrics", off.url))
        .send()
        .expect("GET /metrics");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
}

#[test]
fn one_user_cannot_open_sessions_without_end() {
    let server = Server::start("[clients]\nmax_sessions_per_user = 3\n");
    server.add_user("mallory");
    server.add_user("alice");
    let token = server.login("mallory");
    let open: Vec<Socket> = (0..3).map(|_| server.websocket(&token)).collect();
    let url = server.url.replace("http://", "ws://") + "/api/v1/ws";
    let mut req =
        tungstenite::client::IntoClientRequest::into_client_request(url).expect("request");
    req.headers_mut()
        .insert("Authorization", format!("Bearer {token}").parse().unwrap());
    match tungstenite::connect(req) {
        Err(tungstenite::Error::Http(r)) => {
            assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        }
        other => panic!("a fourth session opened: {:?}", other.map(|_| ())),
    }
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"ws_too_many_sessions\"}"),
        1
    );
    // Others are not affected, and closing one makes room.
    let _alice = server.websocket(&server.login("alice"));
    drop(open);
    offhook_tests::wait_for("a session closed and another opened", || {
        let url = server.url.replace("http://", "ws://") + "/api/v1/ws";
        let mut req = tungstenite::client::IntoClientRequest::into_client_request(url).ok()?;
        req.headers_mut()
            .insert("Authorization", format!("Bearer {token}").parse().ok()?);
        tungstenite::connect(req).ok().map(|_| ())
    });
}

#[test]
fn a_user_deleted_on_the_data_dir_loses_the_running_servers_sessions() {
    let server = Server::start("");
    server.add_admin("root");
    server.add_admin("mallory");
    let mallory = server.login("mallory");
    let root = server.login("root");
    let mut ws = server.websocket(&mallory);
    let out = server.offhook(&["user", "delete", "mallory"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The server learns it from the database: within its check's period (1 s) and a margin.
    assert_eq!(
        closed_within(&mut ws, CLOSE_BOUND * 2),
        CloseCode::Library(4001)
    );
    assert_eq!(
        delete_user(&server, &mallory, "root"),
        StatusCode::UNAUTHORIZED,
        "a deleted admin deletes no one"
    );
    // Others keep theirs.
    let users = http()
        .get(format!("{}/api/v1/users", server.url))
        .bearer_auth(&root)
        .send()
        .expect("GET /api/v1/users");
    assert_eq!(users.status(), StatusCode::OK);
}

/// A client that acknowledges every message pushed to it (`checkin`, as `offhook listen` does)
/// is not taken for a flood when messages arrive faster than `[clients] frame_rate`: a frame
/// that answers a push is not charged to the rate limit. (Found when 1,000 messages posted at
/// 240/s closed the recipient's `listen` for "frame rate limit exceeded".)
#[test]
fn acknowledging_a_burst_of_arrivals_is_not_a_flood() {
    let server = Server::start("[clients]\nframe_rate = 5\nframe_burst = 10\n");
    server.add_user("alice");
    server.add_user("carol");
    let alice = server.login("alice");
    let mut listen = server.listen("carol", &[]);
    let dir = tempfile::tempdir().expect("tmp");
    let audio = offhook_tests::tone_wav(&dir.path().join("t.wav"), 300);
    let mut ids = Vec::new();
    for _ in 0..60 {
        let r = server.post_message(&alice, &["carol"], audio.clone());
        assert!(r.status().is_success(), "{}", r.status());
        ids.push(
            r.json::<serde_json::Value>().expect("json")["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let last = ids.last().expect("sent").clone();
    let got = listen.messages_until(&last);
    assert!(
        got.len() >= ids.len(),
        "{} of {} arrived",
        got.len(),
        ids.len()
    );
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"ws_flood\"}"),
        0
    );
}
