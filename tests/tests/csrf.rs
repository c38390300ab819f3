//! Cross-site request forgery against the `offhook` binary, written as the attacks: a page of
//! another site makes the victim's browser send a request that carries the victim's session
//! cookie (the browser adds it on its own) but not the session's CSRF token (the page cannot read
//! it).
//!
//! - a cookie-only `DELETE` of a message, or `POST` of an upload, without `X-CSRF-Token` gets
//!   403 and changes nothing; with another session's token too; with the session's own it works;
//! - a request from another site's page (`Origin`, `Sec-Fetch-Site: cross-site`) is refused even
//!   with the token, and so is a login from one (login CSRF);
//! - Bearer requests (the CLI, scripts) need no token.
// Real processes and sockets: deadlines need the real clock.
#![allow(clippy::disallowed_methods)]

use offhook_tests::{PASSWORD, Server, http, tone_wav, wait_processed};
use reqwest::StatusCode;
use reqwest::blocking::RequestBuilder;
use serde_json::{Value, json};

/// A browser's session: the token is only ever sent as the cookie.
struct Browser {
    token: String,
    csrf: String,
}

fn sign_in(server: &Server, user: &str) -> Browser {
    let r: Value = http()
        .post(format!("{}/api/v1/session", server.url))
        .json(&json!({"username": user, "password": PASSWORD}))
        .send()
        .expect("login")
        .json()
        .expect("json");
    Browser {
        token: r["token"].as_str().expect("token").to_owned(),
        csrf: r["csrf"].as_str().expect("csrf").to_owned(),
    }
}

impl Browser {
    fn cookie(&self, r: RequestBuilder) -> RequestBuilder {
        r.header("Cookie", format!("offhook_session={}", self.token))
    }
}

fn inbox(server: &Server, token: &str) -> Vec<String> {
    let list: Vec<Value> = http()
        .get(format!("{}/api/v1/messages", server.url))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    list.iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect()
}

fn refused_as_csrf(r: reqwest::blocking::Response) {
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let body: Value = r.json().expect("json error");
    let e = body["error"].as_str().unwrap_or_default();
    assert!(e.contains("CSRF"), "{body}");
}

#[test]
fn a_forged_delete_or_upload_riding_the_cookie_changes_nothing() {
    let server = Server::start("");
    server.add_user("alice");
    server.add_user("bob");
    let bob_token = server.login("bob");
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 300);
    let send = |token: &str| {
        let r: Value = server
            .post_message(token, &["alice"], wav.clone())
            .json()
            .unwrap();
        let id = r["id"].as_str().expect("id").to_owned();
        wait_processed(&server, token, &id);
        id
    };
    let first = send(&bob_token);
    let alice = sign_in(&server, "alice");
    let alice_bearer = server.login("alice");
    let bob = sign_in(&server, "bob");
    let delete = |id: &str| http().delete(format!("{}/api/v1/messages/{id}", server.url));

    // The session's own CSRF token is what GET /api/v1/session tells a page of this origin.
    let me: Value = alice
        .cookie(http().get(format!("{}/api/v1/session", server.url)))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(me["csrf"], alice.csrf.as_str());
    assert_eq!(me["username"], "alice");
    assert_ne!(alice.csrf, bob.csrf);

    // Cookie only: refused, the message stays.
    refused_as_csrf(alice.cookie(delete(&first)).send().unwrap());
    // Another session's token: refused.
    refused_as_csrf(
        alice
            .cookie(delete(&first))
            .header("X-CSRF-Token", &bob.csrf)
            .send()
            .unwrap(),
    );
    // The session token itself is not the CSRF token.
    refused_as_csrf(
        alice
            .cookie(delete(&first))
            .header("X-CSRF-Token", &alice.token)
            .send()
            .unwrap(),
    );
    assert_eq!(inbox(&server, &alice_bearer), vec![first.clone()]);

    // A forged upload in alice's name, cookie only: refused, bob receives nothing.
    let form = reqwest::blocking::multipart::Form::new()
        .text("to", "bob")
        .part(
            "audio",
            reqwest::blocking::multipart::Part::bytes(wav.clone())
                .file_name("t.wav")
                .mime_str("audio/wav")
                .unwrap(),
        );
    let sent = alice
        .cookie(http().post(format!("{}/api/v1/messages", server.url)))
        .multipart(form)
        .send();
    match sent {
        Ok(r) => refused_as_csrf(r),
        // Refused unread: the server answered and closed the connection while the body was
        // still going out, and the client saw the close before the answer (under load). The
        // inbox below shows nothing was stored either way.
        Err(e) => assert!(e.is_body() || e.is_request(), "{e}"),
    }
    assert!(
        inbox(&server, &bob_token).len() == 1,
        "bob has only what he sent"
    );
    // A forged logout: refused, the session goes on.
    refused_as_csrf(
        alice
            .cookie(http().delete(format!("{}/api/v1/session", server.url)))
            .send()
            .unwrap(),
    );
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"csrf\"}"),
        5,
        "each refusal counted"
    );

    // With the session's own token, the page of this origin deletes it.
    let r = alice
        .cookie(delete(&first))
        .header("X-CSRF-Token", &alice.csrf)
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(inbox(&server, &alice_bearer).is_empty());

    // Bearer requests need no CSRF token.
    let second = send(&bob_token);
    let r = delete(&second).bearer_auth(&alice_bearer).send().unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    assert!(inbox(&server, &alice_bearer).is_empty());
    assert_eq!(server.metric("offhook_rejected_total{kind=\"csrf\"}"), 5);
}

#[test]
fn requests_and_logins_from_another_sites_page_are_refused() {
    let server = Server::start("");
    server.add_user("alice");
    server.add_user("bob");
    let bob_token = server.login("bob");
    let dir = tempfile::tempdir().unwrap();
    let wav = tone_wav(&dir.path().join("t.wav"), 300);
    let r: Value = server
        .post_message(&bob_token, &["alice"], wav)
        .json()
        .unwrap();
    let id = r["id"].as_str().unwrap().to_owned();
    wait_processed(&server, &bob_token, &id);
    let alice = sign_in(&server, "alice");
    let own = server.url.clone();
    let delete = || {
        alice
            .cookie(http().delete(format!("{}/api/v1/messages/{id}", server.url)))
            .header("X-CSRF-Token", &alice.csrf)
    };

    // Even with the token (say, leaked), another site's page is refused.
    refused_as_csrf(
        delete()
            .header("Origin", "http://evil.example")
            .send()
            .unwrap(),
    );
    refused_as_csrf(delete().header("Origin", "null").send().unwrap());
    refused_as_csrf(
        delete()
            .header("Sec-Fetch-Site", "cross-site")
            .send()
            .unwrap(),
    );
    assert_eq!(inbox(&server, &server.login("alice")), vec![id.clone()]);

    // Login CSRF: another site's page signing the victim's browser in as someone else.
    let login = |origin: Option<&str>| {
        let mut r = http()
            .post(format!("{own}/api/v1/session"))
            .json(&json!({"username": "bob", "password": PASSWORD}));
        if let Some(o) = origin {
            r = r.header("Origin", o);
        }
        r.send().unwrap()
    };
    let r = login(Some("http://evil.example"));
    assert!(
        r.headers().get("set-cookie").is_none(),
        "no session cookie for a cross-site login"
    );
    refused_as_csrf(r);
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"csrf\"}"),
        4,
        "each refusal counted"
    );

    // The appliance's own page (its Origin) is served.
    assert_eq!(login(Some(&own)).status(), StatusCode::OK);
    let r = delete()
        .header("Origin", own.as_str())
        .header("Sec-Fetch-Site", "same-origin")
        .send()
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
}
