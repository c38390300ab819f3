//! End-to-end: the real `offhook` binary on loopback (issue 3, "What it must show").

use offhook_tests::{Server, http, send_ok, speech_8k, wait_for, wait_processed, wav_duration_ms};
use serde_json::Value;

fn count(events: &[Value], id: &str) -> usize {
    events.iter().filter(|e| e["id"] == id).count()
}

#[test]
fn offline_recipient_gets_it_on_listen_and_others_cannot_see_it() {
    let server = Server::start("");
    for u in ["alice", "bob", "carol"] {
        server.add_user(u);
    }
    // bob is offline: the message waits for him.
    let id = send_ok(&server, "alice", "bob", &speech_8k());

    let mut bob = server.listen("bob", &[]);
    let got = bob.messages_until(&id);
    assert_eq!(got.len(), 1, "only this message was pending: {got:?}");
    assert_eq!(got[0]["from"], "alice");
    assert_eq!(got[0]["to"], serde_json::json!(["bob"]));
    let duration_ms = got[0]["duration_ms"].as_u64().expect("duration_ms");

    // fetch returns audio of the right duration.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("m.wav");
    let r = server.client("bob", &["fetch", &id, "--out", out.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let source_ms = wav_duration_ms(&speech_8k());
    let fetched_ms = wav_duration_ms(&out);
    assert!(
        fetched_ms.abs_diff(duration_ms) <= 60,
        "fetched {fetched_ms} ms, listed {duration_ms} ms"
    );
    assert!(
        fetched_ms * 10 >= source_ms * 8 && fetched_ms <= source_ms + 60,
        "fetched {fetched_ms} ms of a {source_ms} ms recording"
    );

    // carol cannot see it: 404 on every route, absent from her list, and the CLI fails.
    let carol = server.login("carol");
    for path in [
        format!("/api/v1/messages/{id}/audio"),
        format!("/api/v1/messages/{id}/attachments/0"),
    ] {
        let r = http()
            .get(format!("{}{path}", server.url))
            .bearer_auth(&carol)
            .send()
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    let r = http()
        .delete(format!("{}/api/v1/messages/{id}", server.url))
        .bearer_auth(&carol)
        .send()
        .unwrap();
    assert_eq!(r.status(), 404);
    let list: Vec<Value> = http()
        .get(format!("{}/api/v1/messages", server.url))
        .bearer_auth(&carol)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(list.is_empty(), "{list:?}");
    let r = server.client(
        "carol",
        &[
            "fetch",
            &id,
            "--out",
            dir.path().join("c.wav").to_str().unwrap(),
        ],
    );
    assert!(!r.status.success());
    assert!(String::from_utf8_lossy(&r.stderr).contains("no such message"));

    // bob acknowledged it: a new session is not pushed it again. A marker sent after the new
    // session opens comes after any backlog, so its arrival proves the first was not re-pushed.
    wait_for("the acknowledgement", || {
        (server.metric("offhook_messages_delivered_total") >= 1).then_some(())
    });
    drop(bob);
    let mut bob = server.listen("bob", &[]);
    let marker = send_ok(&server, "alice", "bob", &speech_8k());
    let got = bob.messages_until(&marker);
    assert_eq!(
        count(&got, &id),
        0,
        "re-delivered after acknowledgement: {got:?}"
    );
    assert_eq!(count(&got, &marker), 1);

    // inbox --json lists both, newest last, and the fetched one as played.
    let r = server.client("bob", &["inbox", "--json"]);
    assert!(r.status.success());
    let inbox: Vec<Value> = serde_json::from_slice(&r.stdout).unwrap();
    let ids: Vec<&str> = inbox.iter().filter_map(|m| m["id"].as_str()).collect();
    assert_eq!(ids, vec![id.as_str(), marker.as_str()]);
    assert_eq!(inbox[0]["played"], true);
    assert_eq!(inbox[1]["played"], false);
}

#[test]
fn two_recipients_one_online_one_offline_each_get_it_exactly_once() {
    let server = Server::start("");
    for u in ["alice", "bob", "carol"] {
        server.add_user(u);
    }
    let mut bob = server.listen("bob", &[]);
    let id = send_ok(&server, "alice", "bob,carol", &speech_8k());
    let marker_bob = send_ok(&server, "alice", "bob", &speech_8k());
    // Messages are pushed as they become ready; transcoding runs in parallel, so the marker may
    // overtake the first one.
    let mut got = bob.messages_until(&marker_bob);
    if count(&got, &id) == 0 {
        got.extend(bob.messages_until(&id));
    }
    assert_eq!(count(&got, &id), 1, "{got:?}");

    let save = tempfile::tempdir().unwrap();
    let mut carol = server.listen("carol", &["--save", save.path().to_str().unwrap()]);
    let first = carol.messages_until(&id);
    assert_eq!(count(&first, &id), 1);
    let file = first[0]["file"].as_str().expect("saved file");
    assert!(wav_duration_ms(std::path::Path::new(file)) > 0);
    let marker_carol = send_ok(&server, "alice", "carol", &speech_8k());
    let rest = carol.messages_until(&marker_carol);
    assert_eq!(count(&rest, &id), 0, "carol got it twice: {rest:?}");

    // Both copies acknowledged: the sender's view lists one message to both.
    let r = server.client("alice", &["inbox", "--json"]);
    let sent: Vec<Value> = serde_json::from_slice(&r.stdout).unwrap();
    let m = sent
        .iter()
        .find(|m| m["id"] == id.as_str())
        .expect("listed for the sender");
    assert_eq!(m["to"], serde_json::json!(["bob", "carol"]));
}

#[test]
fn presence_contacts_user_cli_and_clean_shutdown() {
    let mut server = Server::start("");
    for u in ["alice", "bob"] {
        server.add_user(u);
    }
    let out = server.offhook(&["user", "show", "bob", "--json"], None);
    let bob_user: Value = serde_json::from_slice(&out.stdout).unwrap();
    for key in [
        "id",
        "username",
        "display",
        "online",
        "stations",
        "sip_username",
        "sip_secret",
    ] {
        assert!(
            bob_user.get(key).is_some(),
            "user show lacks {key}: {bob_user}"
        );
    }
    assert_eq!(bob_user["online"], false);

    let alice = server.login("alice");
    let contacts = |token: &str| -> Vec<Value> {
        http()
            .get(format!("{}/api/v1/contacts", server.url))
            .bearer_auth(token)
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    let c = contacts(&alice);
    assert_eq!(c.len(), 1);
    assert_eq!(c[0]["username"], "bob");
    assert_eq!(c[0]["online"], false);

    let mut alice_listen = server.listen("alice", &[]);
    let bob = server.listen("bob", &[]);
    // alice is told bob came online.
    let e = alice_listen.next_event();
    assert_eq!(
        (
            e["event"].as_str(),
            e["username"].as_str(),
            e["online"].as_bool()
        ),
        (Some("presence"), Some("bob"), Some(true))
    );
    assert_eq!(contacts(&alice)[0]["online"], true);
    wait_for("user list to show bob online", || {
        let out = server.offhook(&["user", "list", "--json"], None);
        let list: Vec<Value> = serde_json::from_slice(&out.stdout).ok()?;
        list.iter()
            .any(|u| u["username"] == "bob" && u["online"] == true)
            .then_some(())
    });

    // SIGTERM: clients are told, the server exits 0.
    let status = server.terminate();
    assert!(status.success(), "{status}: {}", server.log_text());
    let (_, rest) = alice_listen.finish();
    assert!(
        rest.iter().any(|l| l.contains("\"server_down\"")),
        "alice was not told: {rest:?}"
    );
    let (_, rest) = bob.finish();
    assert!(
        rest.iter().any(|l| l.contains("\"server_down\"")),
        "{rest:?}"
    );

    // A client against a stopped server: one clear line, non-zero exit.
    let r = server.client("alice", &["inbox"]);
    assert!(!r.status.success());
    let err = String::from_utf8_lossy(&r.stderr);
    assert!(err.contains("cannot reach the server"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // And the data survives a restart.
    server.restart();
    let r = server.client("alice", &["inbox", "--json"]);
    assert!(r.status.success());
}

#[test]
fn openapi_document_matches_the_routes() {
    let server = Server::start("");
    server.add_user("alice");
    let token = server.login("alice");
    let doc: Value = http()
        .get(format!("{}/api/v1/openapi.json", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let paths = doc["paths"].as_object().expect("paths");
    for required in [
        "/api/v1/session",
        "/api/v1/contacts",
        "/api/v1/messages",
        "/api/v1/messages/{id}/audio",
        "/api/v1/messages/{id}/attachments/{n}",
        "/api/v1/messages/{id}",
        "/api/v1/record",
        "/api/v1/ws",
        "/api/v1/health",
        "/metrics",
    ] {
        assert!(paths.contains_key(required), "openapi lacks {required}");
    }
    let client = http();
    for (path, ops) in paths {
        let concrete = path
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{n}", "0")
            .replace("{name}", "nobody");
        for method in ops.as_object().unwrap().keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = client
                .request(m, format!("{}{concrete}", server.url))
                .bearer_auth(&token)
                .send()
                .unwrap();
            let s = r.status().as_u16();
            assert_ne!(s, 405, "{method} {path} is described but not routed");
            if !path.contains('{') {
                assert_ne!(s, 404, "{method} {path} is described but not routed");
            }
        }
    }
    // The health document has its contract shape.
    let h: Value = client
        .get(format!("{}/api/v1/health", server.url))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(h["status"], "ok");
    assert!(h["gateways"].is_array());
}

#[test]
fn attachments_round_trip_and_retention_removes_delivered_audio() {
    let server =
        Server::start("[messages]\nretention = \"delivered\"\nsweep_interval = \"100ms\"\n");
    for u in ["alice", "bob"] {
        server.add_user(u);
    }
    let dir = tempfile::tempdir().unwrap();
    let note = dir.path().join("note.txt");
    std::fs::write(&note, b"call me back about the boiler").unwrap();
    let out = server.client(
        "alice",
        &[
            "send",
            "--to",
            "bob",
            speech_8k().to_str().unwrap(),
            "--attach",
            note.to_str().unwrap(),
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let id = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    // Acknowledged as received; recipients see it once it is transcoded.
    let alice = server.login("alice");
    assert_eq!(wait_processed(&server, &alice, &id)["status"], "ready");

    let bob = server.login("bob");
    let get = |path: &str| {
        http()
            .get(format!("{}{path}", server.url))
            .bearer_auth(&bob)
            .send()
            .unwrap()
    };
    let r = get(&format!("/api/v1/messages/{id}/attachments/0"));
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.bytes().unwrap().as_ref(),
        b"call me back about the boiler"
    );
    assert_eq!(
        get(&format!("/api/v1/messages/{id}/attachments/1")).status(),
        404
    );
    // Not yet delivered: the audio stays. (Asked by the sender: a recipient fetching it would
    // mark it played, and so no longer pending for push.)
    let r = http()
        .get(format!("{}/api/v1/messages/{id}/audio", server.url))
        .bearer_auth(&alice)
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);

    // Once bob's client acknowledges it, retention = "delivered" removes the audio (410), and the
    // message itself stays listed.
    let mut listen = server.listen("bob", &[]);
    listen.messages_until(&id);
    wait_for("retention to remove the audio", || {
        (get(&format!("/api/v1/messages/{id}/audio")).status() == 410).then_some(())
    });
    let list: Vec<Value> = get("/api/v1/messages").json().unwrap();
    assert_eq!(list[0]["id"], id.as_str());
    assert_eq!(list[0]["audio"], false);
    assert_eq!(list[0]["attachments"][0]["name"], "note.txt");
}

#[test]
fn admins_manage_users_over_the_api() {
    // A gateway for the users' lines (a line must name a configured one); nothing answers it.
    let server = Server::start(
        "[mgcp]\nlisten = \"127.0.0.1:0\"\n\
         [[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"127.0.0.1:9\"\n",
    );
    let out = server.offhook(
        &["user", "add", "root", "--admin", "--password-stdin"],
        Some(offhook_tests::PASSWORD),
    );
    assert!(out.status.success());
    server.add_user("alice");
    let root = server.login("root");
    let alice = server.login("alice");
    let client = http();
    let create = |token: &str, name: &str| {
        client
            .post(format!("{}/api/v1/users", server.url))
            .bearer_auth(token)
            .json(&serde_json::json!({"username": name, "password": "pw", "line": "gw1/aaln/3"}))
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(create(&alice, "eve"), 403);
    assert_eq!(create(&root, "dave"), 201);
    assert_eq!(create(&root, "dave"), 409);
    // Each refusal names the field at fault, for a form to show the error there.
    let field = |body: Value| {
        let r = client
            .post(format!("{}/api/v1/users", server.url))
            .bearer_auth(&root)
            .json(&body)
            .send()
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json::<Value>().unwrap()["field"].clone())
    };
    let pw = "pw";
    for (body, want) in [
        (
            serde_json::json!({"username": "Bad Name", "password": pw}),
            (400, "username"),
        ),
        (
            serde_json::json!({"username": "erin", "password": ""}),
            (400, "password"),
        ),
        (
            serde_json::json!({"username": "erin", "password": pw, "line": "nope"}),
            (400, "line"),
        ),
        (
            serde_json::json!({"username": "erin", "password": pw, "line": "gw2/aaln/1"}),
            (400, "line"),
        ),
        (
            serde_json::json!({"username": "dave", "password": pw}),
            (409, "username"),
        ),
        (
            serde_json::json!({"username": "erin", "password": pw, "line": "gw1/aaln/3"}),
            (409, "line"),
        ),
    ] {
        assert_eq!(field(body.clone()), (want.0, Value::from(want.1)), "{body}");
    }
    let list: Vec<Value> = client
        .get(format!("{}/api/v1/users", server.url))
        .bearer_auth(&root)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let dave = list
        .iter()
        .find(|u| u["username"] == "dave")
        .expect("dave listed");
    assert_eq!(dave["stations"], serde_json::json!(["gw1/aaln/3"]));
    let del = |name: &str| {
        client
            .delete(format!("{}/api/v1/users/{name}", server.url))
            .bearer_auth(&root)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(del("dave"), 204);
    assert_eq!(del("dave"), 404);
}

#[test]
fn inbox_wait_returns_on_arrival_and_delete_is_per_user() {
    let server = Server::start("");
    for u in ["alice", "bob"] {
        server.add_user(u);
    }
    // bob waits on an empty inbox; alice's message ends the wait.
    let waiting = std::process::Command::new(offhook_tests::offhook_bin())
        .args([
            "inbox",
            "--json",
            "--wait",
            "30",
            "--server",
            &server.url,
            "--user",
            "bob",
        ])
        .env("OFFHOOK_PASSWORD", offhook_tests::PASSWORD)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // The wait has begun once bob shows as online.
    let alice = server.login("alice");
    wait_for("bob's inbox --wait to connect", || {
        let c: Vec<Value> = http()
            .get(format!("{}/api/v1/contacts", server.url))
            .bearer_auth(&alice)
            .send()
            .ok()?
            .json()
            .ok()?;
        (c[0]["online"] == true).then_some(())
    });
    let id = send_ok(&server, "alice", "bob", &speech_8k());
    let out = waiting.wait_with_output().unwrap();
    assert!(out.status.success());
    let list: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["id"], id.as_str());

    // bob deletes it: gone for him, still there for alice.
    let bob = server.login("bob");
    let r = http()
        .delete(format!("{}/api/v1/messages/{id}", server.url))
        .bearer_auth(&bob)
        .send()
        .unwrap();
    assert_eq!(r.status(), 204);
    let listed = |token: &str| -> Vec<Value> {
        http()
            .get(format!("{}/api/v1/messages", server.url))
            .bearer_auth(token)
            .send()
            .unwrap()
            .json()
            .unwrap()
    };
    assert!(listed(&bob).is_empty());
    assert_eq!(listed(&alice).len(), 1);
}

/// An upload that passes the cheap checks at acknowledgement (it sniffs as Ogg) but is corrupt
/// after its header: acknowledged, then marked failed, the sender told, and never delivered.
#[test]
fn corrupt_upload_is_acknowledged_then_failed_and_never_delivered() {
    let server = Server::start("");
    for u in ["alice", "bob"] {
        server.add_user(u);
    }
    let alice = server.login("alice");
    let mut alice_ws = server.listen("alice", &[]);
    let mut bob_ws = server.listen("bob", &[]);
    let mut corrupt = b"OggS".to_vec();
    corrupt.extend((0..20_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8));
    let r = server.post_message(&alice, &["bob"], corrupt);
    assert_eq!(r.status(), 200);
    let bad = r.json::<Value>().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = wait_processed(&server, &alice, &bad);
    assert_eq!(m["status"], "failed", "{m}");
    // The sender is told over the WebSocket.
    let told = alice_ws.messages_until(&bad);
    assert_eq!(told.last().unwrap()["status"], "failed");
    // The sender cannot fetch it (409) and the recipient cannot see it at all (404).
    let audio = |token: &str| {
        http()
            .get(format!("{}/api/v1/messages/{bad}/audio", server.url))
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
    };
    assert_eq!(audio(&alice), 409);
    let bob = server.login("bob");
    assert_eq!(audio(&bob), 404);
    let list: Vec<Value> = http()
        .get(format!("{}/api/v1/messages", server.url))
        .bearer_auth(&bob)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert!(list.iter().all(|m| m["id"] != bad.as_str()), "{list:?}");
    // A good message sent afterwards arrives, and the failed one never did.
    let good = send_ok(&server, "alice", "bob", &speech_8k());
    let got = bob_ws.messages_until(&good);
    assert_eq!(count(&got, &bad), 0, "{got:?}");
    assert_eq!(got.last().unwrap()["status"], "ready");
    assert!(server.metric("offhook_messages_failed_total") >= 1);
}

/// The waveform the web page draws before playing (`GET /api/v1/messages/{id}/waveform`): the
/// loudest sample of each span of the message as it plays (the same decode as its WAV export);
/// asking for it does not mark the message played; bounds and other users' messages are refused.
#[test]
fn a_waveform_shows_the_message_without_playing_it() {
    let server = Server::start("");
    server.add_user("alice");
    server.add_user("bob");
    server.add_user("carol");
    let (alice, bob, carol) = (
        server.login("alice"),
        server.login("bob"),
        server.login("carol"),
    );
    let sent: Value = server
        .post_message(&alice, &["bob"], std::fs::read(speech_8k()).unwrap())
        .json()
        .unwrap();
    let id = sent["id"].as_str().unwrap().to_owned();
    wait_processed(&server, &alice, &id);
    let get = |token: &str, query: &str| {
        http()
            .get(format!(
                "{}/api/v1/messages/{id}/waveform{query}",
                server.url
            ))
            .bearer_auth(token)
            .send()
            .unwrap()
    };
    let r = get(&bob, "?points=40");
    assert_eq!(r.status(), 200);
    let wave: Value = r.json().unwrap();
    let peaks: Vec<i64> = wave["peaks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_i64().unwrap())
        .collect();
    assert_eq!(peaks.len(), 40);
    // Still not played for bob.
    let list: Vec<Value> = http()
        .get(format!("{}/api/v1/messages", server.url))
        .bearer_auth(&bob)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(list[0]["played"], false, "{list:?}");
    assert_eq!(wave["duration_ms"], list[0]["duration_ms"]);

    // The same peaks as the WAV export (fetched by the sender, which plays nothing for bob).
    let wav = http()
        .get(format!(
            "{}/api/v1/messages/{id}/audio?format=wav",
            server.url
        ))
        .bearer_auth(&alice)
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let mut reader = hound::WavReader::new(std::io::Cursor::new(wav)).unwrap();
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let mut expected = vec![0i64; 40];
    for (i, s) in samples.iter().enumerate() {
        let span = i * 40 / samples.len();
        let p = i64::from(s.unsigned_abs()) * 255 / 32768;
        expected[span] = expected[span].max(p);
    }
    assert_eq!(peaks, expected);
    // Speech: loud words and quiet gaps.
    let (loudest, quietest) = (peaks.iter().max().unwrap(), peaks.iter().min().unwrap());
    assert!(*loudest > 60 && *quietest * 4 < *loudest, "{peaks:?}");

    // Its default is one point per pixel of the page's canvas.
    let wave: Value = get(&bob, "").json().unwrap();
    assert_eq!(wave["peaks"].as_array().unwrap().len(), 576);
    for bad in ["?points=0", "?points=2001", "?points=many"] {
        assert_eq!(get(&bob, bad).status(), 400, "{bad}");
    }
    assert_eq!(get(&carol, "").status(), 404, "not hers to see");
}
