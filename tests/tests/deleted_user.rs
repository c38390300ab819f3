//! Deleting a user (issue 13, point 15), against the `offhook` binary, as the story that showed
//! it was wrong: bob sends alice a message with an attachment, the admin deletes bob, and
//!
//! - alice still lists, plays and opens what bob sent, shown from a deleted user (before, it
//!   vanished from her inbox with him);
//! - the files of the messages nobody holds any more (bob's received ones) are gone from
//!   `DATA/media` when the deletion answers (before, they stayed until the next restart), and
//!   those of messages others still hold stay;
//! - bob's old token is 401, and a new `bob` is someone else who sees nothing of the old one;
//! - `offhook user delete` on the data dir does and says the same.

use std::collections::BTreeSet;
use std::path::Path;

use offhook_tests::{Server, http, speech_8k, wait_for, wait_processed};
use reqwest::StatusCode;
use serde_json::Value;

/// The files directly in `DATA/media` (the upload spool's directory left aside).
fn media_files(data: &Path) -> BTreeSet<String> {
    std::fs::read_dir(data.join("media"))
        .expect("media dir")
        .map(|e| e.expect("entry"))
        .filter(|e| e.file_type().expect("file type").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

/// Sends the speech fixture from `token`'s user to `to` with one attachment; returns the id once it is
/// transcoded (so that its files are in place).
fn send(server: &Server, token: &str, to: &str, attachment: &'static [u8]) -> String {
    let speech = std::fs::read(speech_8k()).expect("speech fixture");
    let form = reqwest::blocking::multipart::Form::new()
        .text("to", to.to_owned())
        .part(
            "audio",
            reqwest::blocking::multipart::Part::bytes(speech)
                .file_name("speech.wav")
                .mime_str("audio/wav")
                .expect("mime"),
        )
        .part(
            "attachment",
            reqwest::blocking::multipart::Part::bytes(attachment)
                .file_name("note.txt")
                .mime_str("text/plain")
                .expect("mime"),
        );
    let r = http()
        .post(format!("{}/api/v1/messages", server.url))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .expect("POST /api/v1/messages");
    assert!(r.status().is_success(), "send: {}", r.status());
    let id = r.json::<Value>().expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert_eq!(wait_processed(server, token, &id)["status"], "ready");
    id
}

fn get(server: &Server, token: &str, path: &str) -> reqwest::blocking::Response {
    http()
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .expect("GET")
}

fn list(server: &Server, token: &str) -> Vec<Value> {
    let r = get(server, token, "/api/v1/messages");
    assert_eq!(r.status(), StatusCode::OK);
    r.json().expect("json")
}

fn delete_message(server: &Server, token: &str, id: &str) {
    let r = http()
        .delete(format!("{}/api/v1/messages/{id}", server.url))
        .bearer_auth(token)
        .send()
        .expect("DELETE message");
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}

fn files_of(id: &str) -> [String; 2] {
    [format!("{id}.audio"), format!("{id}.0.att")]
}

#[test]
fn deleting_bob_keeps_what_he_sent_alice_and_removes_the_rest_at_once() {
    let server = Server::start("");
    for name in ["alice", "bob", "carol"] {
        server.add_user(name);
    }
    let out = server.offhook(
        &["user", "add", "root", "--admin", "--password-stdin"],
        Some(offhook_tests::PASSWORD),
    );
    assert!(out.status.success());
    let (root, alice, bob, carol) = (
        server.login("root"),
        server.login("alice"),
        server.login("bob"),
        server.login("carol"),
    );
    // What bob sent: one alice keeps, one carol deleted.
    let to_alice = send(&server, &bob, "alice", b"from bob");
    let to_carol = send(&server, &bob, "carol", b"bob to carol");
    delete_message(&server, &carol, &to_carol);
    // What bob received: one only he still held (alice deleted her sent copy), one carol keeps.
    let only_bob = send(&server, &alice, "bob", b"alice to bob");
    delete_message(&server, &alice, &only_bob);
    let carol_keeps = send(&server, &carol, "bob", b"carol to bob");
    let bob_id = list(&server, &alice)[0]["from_id"].clone();

    let before = media_files(&server.data);
    for id in [&to_alice, &to_carol, &only_bob, &carol_keeps] {
        for f in files_of(id) {
            assert!(before.contains(&f), "{f} on disk before");
        }
    }

    let r = http()
        .delete(format!("{}/api/v1/users/bob", server.url))
        .bearer_auth(&root)
        .header("Prefer", "return=representation")
        .send()
        .expect("DELETE /api/v1/users/bob");
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()
            .get("preference-applied")
            .and_then(|v| v.to_str().ok()),
        Some("return=representation")
    );
    let done: Value = r.json().expect("json");
    assert_eq!(done["id"], bob_id);
    assert_eq!(done["username"], "bob");
    assert_eq!(
        [
            &done["sent_kept"],
            &done["sent_removed"],
            &done["received_removed"],
            &done["messages_removed"],
            &done["files_removed"]
        ],
        [1, 1, 2, 2, 4]
    );

    // At once: the files of the two messages nobody holds any more are gone, nothing else.
    let after = media_files(&server.data);
    let gone: BTreeSet<String> = before.difference(&after).cloned().collect();
    let expected: BTreeSet<String> = files_of(&to_carol)
        .into_iter()
        .chain(files_of(&only_bob))
        .collect();
    assert_eq!(gone, expected);
    assert_eq!(after.len(), before.len() - 4);

    // Bob's old token is refused.
    assert_eq!(
        get(&server, &bob, "/api/v1/messages").status(),
        StatusCode::UNAUTHORIZED
    );

    // Alice still lists, plays and opens what he sent, from a deleted user.
    let hers = list(&server, &alice);
    let m = hers
        .iter()
        .find(|m| m["id"] == to_alice.as_str())
        .expect("bob's message is still in alice's inbox");
    assert_eq!(
        (&m["from"], &m["from_id"], &m["from_deleted"]),
        (&Value::from("bob"), &bob_id, &Value::from(true))
    );
    let audio = get(
        &server,
        &alice,
        &format!("/api/v1/messages/{to_alice}/audio?format=wav"),
    );
    assert_eq!(audio.status(), StatusCode::OK);
    let wav = audio.bytes().expect("audio");
    // 16-bit 8 kHz: about 11 s of speech, whatever the clean-up trimmed.
    assert!(
        wav.starts_with(b"RIFF") && wav.len() > 100_000,
        "{} bytes",
        wav.len()
    );
    let att = get(
        &server,
        &alice,
        &format!("/api/v1/messages/{to_alice}/attachments/0"),
    );
    assert_eq!(att.status(), StatusCode::OK);
    assert_eq!(att.bytes().expect("attachment").as_ref(), b"from bob");
    // Carol keeps what she sent him; bob is in nobody's contacts and no user list.
    assert!(
        list(&server, &carol)
            .iter()
            .any(|m| m["id"] == carol_keeps.as_str())
    );
    let contacts: Vec<Value> = get(&server, &alice, "/api/v1/contacts")
        .json()
        .expect("json");
    assert!(contacts.iter().all(|c| c["id"] != bob_id));
    let users: Vec<Value> = get(&server, &root, "/api/v1/users").json().expect("json");
    assert!(users.iter().all(|u| u["username"] != "bob"));

    // A new bob is someone else and sees nothing of the old one's.
    server.add_user("bob");
    let bob2 = server.login("bob");
    assert!(list(&server, &bob2).is_empty());
    assert_eq!(
        get(
            &server,
            &bob2,
            &format!("/api/v1/messages/{carol_keeps}/audio")
        )
        .status(),
        StatusCode::NOT_FOUND
    );
    let again = list(&server, &alice);
    let m = again
        .iter()
        .find(|m| m["id"] == to_alice.as_str())
        .expect("still there");
    assert_eq!(
        (&m["from_id"], &m["from_deleted"]),
        (&bob_id, &Value::from(true))
    );

    // Alice deletes it: she was its last holder, its files go.
    delete_message(&server, &alice, &to_alice);
    wait_for("the files of bob's last message to go", || {
        let now = media_files(&server.data);
        files_of(&to_alice)
            .iter()
            .all(|f| !now.contains(f))
            .then_some(())
    });
}

#[test]
fn offhook_user_delete_says_what_it_did_and_removes_the_files() {
    let mut server = Server::start("");
    for name in ["alice", "carol"] {
        server.add_user(name);
    }
    let (alice, carol) = (server.login("alice"), server.login("carol"));
    let kept = send(&server, &carol, "alice", b"carol to alice");
    let only_carol = send(&server, &alice, "carol", b"alice to carol");
    delete_message(&server, &alice, &only_carol);
    server.terminate();
    let before = media_files(&server.data);

    let out = server.offhook(&["user", "delete", "carol", "--json"], None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let done: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(done["username"], "carol");
    assert_eq!(
        [
            &done["sent_kept"],
            &done["received_removed"],
            &done["messages_removed"],
            &done["files_removed"]
        ],
        [1, 1, 1, 2]
    );
    let gone: BTreeSet<String> = before
        .difference(&media_files(&server.data))
        .cloned()
        .collect();
    assert_eq!(gone, files_of(&only_carol).into_iter().collect());

    let again = server.offhook(&["user", "delete", "carol"], None);
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("no such user"));

    server.restart();
    let alice = server.login("alice");
    let hers = list(&server, &alice);
    assert_eq!(hers.len(), 1);
    assert_eq!(
        (&hers[0]["id"], &hers[0]["from"], &hers[0]["from_deleted"]),
        (
            &Value::from(kept),
            &Value::from("carol"),
            &Value::from(true)
        )
    );
    let listed = server.offhook(&["user", "list", "--json"], None);
    let users: Vec<Value> = serde_json::from_slice(&listed.stdout).expect("json");
    assert!(users.iter().all(|u| u["username"] != "carol"));
}
