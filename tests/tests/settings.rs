//! Settings an admin changes from the console while the appliance runs (issue 14: "message
//! retention"; `GET`/`PATCH /api/v1/settings`), with the real `offhook serve`:
//!
//! - a retention period set from the console takes effect at the next sweep (a message older
//!   than it goes), a quota at the next upload (`507`), and both hold after a
//!   restart; cleared (`null`), the config file's values hold again;
//! - refusals name the key at fault (`field`) and change nothing; only admins see or change
//!   settings; the network settings of the config file are listed to read.

use offhook_tests::{Server, http, tone_wav, wait_for, wait_processed};
use serde_json::{Value, json};

fn settings(server: &Server, token: &str) -> (u16, Value) {
    let r = http()
        .get(format!("{}/api/v1/settings", server.url))
        .bearer_auth(token)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

fn patch(server: &Server, token: &str, change: Value) -> (u16, Value) {
    let r = http()
        .patch(format!("{}/api/v1/settings", server.url))
        .bearer_auth(token)
        .json(&change)
        .send()
        .unwrap();
    (r.status().as_u16(), r.json().unwrap_or(Value::Null))
}

/// `(value, file, source)` of setting `key` in a settings answer.
fn setting(body: &Value, key: &str) -> (String, String, String) {
    let s = body["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .unwrap_or_else(|| panic!("{key} in {body}"));
    let text = |f: &str| s[f].as_str().unwrap().to_owned();
    (text("value"), text("file"), text("source"))
}

#[test]
fn retention_and_quota_set_from_the_console_hold_at_once_and_after_a_restart() {
    let mut server = Server::start(
        "[messages]\nretention = \"30d\"\nsweep_interval = \"100ms\"\nquota_per_user = \"1GiB\"\n",
    );
    server.add_admin("root");
    server.add_user("alice");
    server.add_user("bob");
    let (root, alice) = (server.login("root"), server.login("alice"));
    let (status, body) = settings(&server, &root);
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        setting(&body, "messages.retention"),
        ("30d".into(), "30d".into(), "file".into())
    );
    assert_eq!(
        setting(&body, "messages.quota_per_user"),
        ("1GiB".into(), "1GiB".into(), "file".into())
    );
    let network: Vec<&str> = body["network"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["key"].as_str().unwrap())
        .collect();
    assert!(
        network.contains(&"http.listen") && network.contains(&"mgcp.listen"),
        "{body}"
    );

    // A message kept for 30 days by the file's policy...
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 2000);
    let sent: Value = server
        .post_message(&alice, &["bob"], wav.clone())
        .json()
        .unwrap();
    let id = sent["id"].as_str().unwrap().to_owned();
    wait_processed(&server, &alice, &id);
    let audio = |token: &str| {
        http()
            .get(format!("{}/api/v1/messages/{id}/audio", server.url))
            .bearer_auth(token)
            .send()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(audio(&alice), 200);
    // ...goes, whole, at the next sweep once the console keeps messages one second.
    let (status, body) = patch(&server, &root, json!({"messages.retention": "1s"}));
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        setting(&body, "messages.retention"),
        ("1s".into(), "30d".into(), "console".into())
    );
    wait_for("retention to remove the message", || {
        (audio(&alice) == 404).then_some(())
    });

    // A quota below what one upload takes refuses the next upload; the size may be a number.
    let (status, _) = patch(&server, &root, json!({"messages.quota_per_user": 1024}));
    assert_eq!(status, 200);
    let refused = server.post_message(&alice, &["bob"], wav.clone());
    assert_eq!(refused.status().as_u16(), 507);

    // Both hold after a restart, from the database.
    server.terminate();
    server.restart();
    let (root, alice) = (server.login("root"), server.login("alice"));
    let (_, body) = settings(&server, &root);
    assert_eq!(
        setting(&body, "messages.quota_per_user"),
        ("1KiB".into(), "1GiB".into(), "console".into())
    );
    assert_eq!(setting(&body, "messages.retention").2, "console");
    assert_eq!(
        server
            .post_message(&alice, &["bob"], wav.clone())
            .status()
            .as_u16(),
        507
    );

    // Cleared: the file's values again, at once.
    let (status, body) = patch(
        &server,
        &root,
        json!({"messages.quota_per_user": null, "messages.retention": null}),
    );
    assert_eq!(status, 200);
    assert_eq!(
        setting(&body, "messages.quota_per_user"),
        ("1GiB".into(), "1GiB".into(), "file".into())
    );
    assert_eq!(setting(&body, "messages.retention").2, "file");
    assert_eq!(
        server.post_message(&alice, &["bob"], wav).status().as_u16(),
        200
    );
}

#[test]
fn settings_are_refused_by_their_key_and_only_for_admins() {
    let server = Server::start("");
    server.add_admin("root");
    server.add_user("alice");
    let (root, alice) = (server.login("root"), server.login("alice"));
    let (_, before) = settings(&server, &root);
    for (change, field) in [
        (
            json!({"messages.retention": "forever"}),
            "messages.retention",
        ),
        (json!({"messages.retention": "0d"}), "messages.retention"),
        (
            json!({"messages.quota_per_user": "lots"}),
            "messages.quota_per_user",
        ),
        (
            json!({"messages.quota_per_user": true}),
            "messages.quota_per_user",
        ),
        (json!({"http.listen": "0.0.0.0:80"}), "http.listen"),
        // All or nothing: the good value is not kept either.
        (
            json!({"messages.quota_per_user": "2GiB", "messages.retention": "never"}),
            "messages.retention",
        ),
    ] {
        let (status, body) = patch(&server, &root, change.clone());
        assert_eq!(
            (status, &body["field"]),
            (400, &json!(field)),
            "{change}: {body}"
        );
    }
    assert_eq!(settings(&server, &root).1, before, "nothing changed");
    assert_eq!(settings(&server, &alice).0, 403);
    assert_eq!(
        patch(&server, &alice, json!({"messages.retention": "1d"})).0,
        403
    );
    let r = http()
        .get(format!("{}/api/v1/settings", server.url))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
}
