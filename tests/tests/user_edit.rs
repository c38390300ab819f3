//! Changing users against the `offhook` binary: what an admin and a user may change, written as
//! the misuses they must not get away with.
//!
//! - An admin resets a password: the old one no longer logs in, and the user's open sessions
//!   end (their tokens 401, their WebSockets closed with 4001); the admin's own session stays.
//! - A user changes their own display name, and their password only by giving the current one;
//!   a stolen session cannot change it (403), nor change anyone else, nor make itself admin.
//! - Taking the admin flag from a user holds on their open session at once; the last admin
//!   keeps it.
//! - An admin sets a contact list: the user's `/contacts` lists only those, an unknown name is
//!   refused whole (400 naming the field), and an empty list gives everyone back.
// Real processes and sockets: deadlines need the real clock.
#![allow(clippy::disallowed_methods)]

use offhook_tests::{DEADLINE, PASSWORD, Server, closed_within, http};
use reqwest::StatusCode;
use serde_json::{Value, json};

fn patch(server: &Server, token: &str, name: &str, body: Value) -> (StatusCode, Value) {
    let r = http()
        .patch(format!("{}/api/v1/users/{name}", server.url))
        .bearer_auth(token)
        .json(&body)
        .send()
        .expect("PATCH /api/v1/users/{name}");
    let status = r.status();
    (status, r.json().unwrap_or(Value::Null))
}

fn login_as(server: &Server, name: &str, password: &str) -> StatusCode {
    http()
        .post(format!("{}/api/v1/session", server.url))
        .json(&json!({"username": name, "password": password}))
        .send()
        .expect("login")
        .status()
}

fn get(server: &Server, token: &str, path: &str) -> (StatusCode, Value) {
    let r = http()
        .get(format!("{}{path}", server.url))
        .bearer_auth(token)
        .send()
        .expect("GET");
    let status = r.status();
    (status, r.json().unwrap_or(Value::Null))
}

#[test]
fn an_admin_resets_a_password_and_the_old_sessions_end() {
    let server = Server::start("");
    server.add_admin("root");
    server.add_user("bob");
    let root = server.login("root");
    let bob = server.login("bob");
    let mut socket = server.websocket(&bob);

    let (status, user) = patch(&server, &root, "bob", json!({"password": "brand new"}));
    assert_eq!(status, StatusCode::OK, "{user}");
    assert_eq!(user["username"], "bob");
    assert_eq!(login_as(&server, "bob", PASSWORD), StatusCode::UNAUTHORIZED);
    assert_eq!(login_as(&server, "bob", "brand new"), StatusCode::OK);
    assert_eq!(
        get(&server, &bob, "/api/v1/contacts").0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(u16::from(closed_within(&mut socket, DEADLINE)), 4001);
    assert_eq!(
        get(&server, &root, "/api/v1/users").0,
        StatusCode::OK,
        "the admin's stays"
    );

    // An empty password, or an unknown field, is refused and changes nothing.
    let (status, e) = patch(&server, &root, "bob", json!({"password": ""}));
    assert_eq!(
        (status, e["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("password"))
    );
    let (status, _) = patch(&server, &root, "bob", json!({"pasword": "typo"}));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        patch(&server, &root, "nobody", json!({})).0,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn a_user_changes_only_their_own_name_and_password_and_only_knowing_it() {
    let server = Server::start("");
    server.add_admin("root");
    server.add_user("alice");
    server.add_user("bob");
    let alice = server.login("alice");
    let other = server.login("alice");

    let (status, me) = patch(
        &server,
        &alice,
        "alice",
        json!({"display": "Alice <b>A</b>"}),
    );
    assert_eq!(
        (status, me["display"].as_str()),
        (StatusCode::OK, Some("Alice <b>A</b>"))
    );
    let (status, e) = patch(&server, &alice, "alice", json!({"display": "two\nlines"}));
    assert_eq!(
        (status, e["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("display"))
    );

    // A stolen session alone cannot take the account.
    let (status, e) = patch(&server, &alice, "alice", json!({"password": "mine now"}));
    assert_eq!(
        (status, e["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("current_password"))
    );
    let (status, e) = patch(
        &server,
        &alice,
        "alice",
        json!({"password": "mine now", "current_password": "a guess"}),
    );
    assert_eq!(
        (status, e["field"].as_str()),
        (StatusCode::FORBIDDEN, Some("current_password"))
    );
    assert_eq!(
        login_as(&server, "alice", PASSWORD),
        StatusCode::OK,
        "unchanged"
    );
    // Nor anyone else's account, nor the admin flag.
    assert_eq!(
        patch(&server, &alice, "bob", json!({"display": "pwned"})).0,
        StatusCode::FORBIDDEN
    );
    let (status, e) = patch(&server, &alice, "alice", json!({"admin": true}));
    assert_eq!(
        (status, e["field"].as_str()),
        (StatusCode::FORBIDDEN, Some("admin"))
    );
    assert_eq!(
        get(&server, &alice, "/api/v1/users").0,
        StatusCode::FORBIDDEN
    );

    // Knowing it: changed, this session stays and her other one ends.
    let (status, _) = patch(
        &server,
        &alice,
        "alice",
        json!({"password": "mine now", "current_password": PASSWORD}),
    );
    assert_eq!(status, StatusCode::OK);
    assert_eq!(get(&server, &alice, "/api/v1/contacts").0, StatusCode::OK);
    assert_eq!(
        get(&server, &other, "/api/v1/contacts").0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(login_as(&server, "alice", "mine now"), StatusCode::OK);
}

#[test]
fn the_admin_flag_holds_at_once_and_the_last_admin_keeps_it() {
    let server = Server::start("");
    server.add_admin("root");
    server.add_user("carol");
    let root = server.login("root");
    let (status, e) = patch(&server, &root, "root", json!({"admin": false}));
    assert_eq!(
        (status, e["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("admin"))
    );

    let carol = server.login("carol");
    assert_eq!(
        get(&server, &carol, "/api/v1/users").0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        patch(&server, &root, "carol", json!({"admin": true})).0,
        StatusCode::OK
    );
    assert_eq!(
        get(&server, &carol, "/api/v1/users").0,
        StatusCode::OK,
        "her open session"
    );
    // Now root may step down, and carol's session loses nothing.
    assert_eq!(
        patch(&server, &root, "root", json!({"admin": false})).0,
        StatusCode::OK
    );
    assert_eq!(
        get(&server, &root, "/api/v1/users").0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(get(&server, &carol, "/api/v1/users").0, StatusCode::OK);
}

fn usernames(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("array")
        .iter()
        .map(|c| c["username"].as_str().expect("username").to_owned())
        .collect()
}

#[test]
fn an_admin_sets_a_contact_list_whole_or_not_at_all() {
    let server = Server::start("");
    server.add_admin("root");
    for n in ["alice", "bob", "carol"] {
        server.add_user(n);
    }
    let root = server.login("root");
    let alice = server.login("alice");
    let (_, everyone) = get(&server, &alice, "/api/v1/contacts");
    assert_eq!(usernames(&everyone), ["bob", "carol", "root"]);

    let put = |token: &str, name: &str, body: Value| {
        let r = http()
            .put(format!("{}/api/v1/users/{name}/contacts", server.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .expect("PUT contacts");
        let status = r.status();
        (status, r.json::<Value>().unwrap_or(Value::Null))
    };
    let (status, list) = put(&root, "alice", json!({"contacts": ["carol"]}));
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list, json!({"explicit": true, "contacts": ["carol"]}));
    assert_eq!(
        usernames(&get(&server, &alice, "/api/v1/contacts").1),
        ["carol"]
    );
    assert_eq!(get(&server, &root, "/api/v1/users/alice/contacts").1, list);

    // Refused whole: an unknown name, herself; a user cannot set lists, even her own.
    let (status, e) = put(&root, "alice", json!({"contacts": ["bob", "zed"]}));
    assert_eq!(
        (status, e["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("contacts"))
    );
    assert!(e["error"].as_str().unwrap_or("").contains("zed"), "{e}");
    let (status, _) = put(&root, "alice", json!({"contacts": ["alice"]}));
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        put(&alice, "alice", json!({"contacts": []})).0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&server, &alice, "/api/v1/users/alice/contacts").0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        usernames(&get(&server, &alice, "/api/v1/contacts").1),
        ["carol"]
    );

    // Empty: everyone again.
    let (status, list) = put(&root, "alice", json!({"contacts": []}));
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["explicit"], false);
    assert_eq!(
        usernames(&get(&server, &alice, "/api/v1/contacts").1),
        ["bob", "carol", "root"]
    );
    assert_eq!(
        put(&root, "nobody", json!({"contacts": []})).0,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn an_admin_follows_the_log_and_no_one_else_reads_it() {
    let server = Server::start("");
    server.add_admin("root");
    server.add_user("bob");
    let root = server.login("root");
    let bob = server.login("bob");
    let (status, first) = get(&server, &root, "/api/v1/log");
    assert_eq!(status, StatusCode::OK, "{first}");
    let messages = |page: &Value| -> Vec<String> {
        page["lines"]
            .as_array()
            .expect("lines")
            .iter()
            .map(|l| l["message"].as_str().expect("message").to_owned())
            .collect()
    };
    assert!(
        messages(&first)
            .iter()
            .any(|m| m.starts_with("offhook serving")),
        "{first}"
    );
    let next = first["next"].as_u64().expect("next");
    // What happens next comes next, and only that.
    assert_eq!(
        patch(&server, &root, "bob", json!({"display": "Bob"})).0,
        StatusCode::OK
    );
    let (_, page) = get(&server, &root, &format!("/api/v1/log?after={next}"));
    let lines = messages(&page);
    assert!(
        lines
            .iter()
            .any(|m| m.starts_with("user changed") && m.contains("bob")),
        "{page}"
    );
    assert!(
        !lines.iter().any(|m| m.starts_with("offhook serving")),
        "{page}"
    );
    assert!(page["lines"][0]["seq"].as_u64().unwrap() > next, "{page}");
    assert_eq!(get(&server, &bob, "/api/v1/log").0, StatusCode::FORBIDDEN);
    assert_eq!(
        http()
            .get(format!("{}/api/v1/log", server.url))
            .send()
            .unwrap()
            .status(),
        StatusCode::UNAUTHORIZED
    );
}
