//! Phone lines given and taken while the appliance runs (issue 14: "an admin adds a station"),
//! end to end with the real `offhook serve` and `offhook gateway-sim --protocol mgcp`:
//!
//! - an admin gives alice line 1 with `PUT /api/v1/users/alice/stations`; with no restart, her
//!   phone is listed available, and a record request rings it; its progress reads `ringing`,
//!   then `recording` once picked up, then `stored`;
//! - taking the line from her while she speaks stores what she said, tells the gateway to
//!   report nothing more from the line (an off-hook there is not reported), and she has no
//!   phone any more (`409`); the line can then go to carol, and rings for her;
//! - what is refused, by its field: a gateway that is not configured, a malformed line, a line
//!   another user has (`409`), a user who is not an admin (`403`).

use offhook_tests::sim::{GatewaySim, server_with_phones};
use offhook_tests::{Server, http, speech_8k, wait_for};
use serde_json::{Value, json};

fn put_stations(server: &Server, token: &str, user: &str, lines: &[&str]) -> (u16, Value) {
    let r = http()
        .put(format!("{}/api/v1/users/{user}/stations", server.url))
        .bearer_auth(token)
        .json(&json!({ "stations": lines }))
        .send()
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().unwrap_or(Value::Null))
}

/// `user`'s phone as `/api/v1/health` lists it: `Some(available)`, `None` if not listed.
fn phone_available(server: &Server, token: &str, user_id: &str) -> Option<bool> {
    server.health(Some(token))?["stations"]
        .as_array()?
        .iter()
        .find(|s| s["user"] == user_id)
        .map(|s| s["available"] == true)
}

/// Line `line` as an admin's `/api/v1/health` lists it: `(user id, state)`.
fn line_state(server: &Server, admin: &str, line: &str) -> Option<(String, String)> {
    server.health(Some(admin))?["lines"]
        .as_array()?
        .iter()
        .find(|l| l["line"] == line)
        .map(|l| {
            (
                l["user"].as_str().unwrap_or("").to_owned(),
                l["state"].as_str().unwrap_or("").to_owned(),
            )
        })
}

/// Waits until the console lists `line` idle: its phone heard its hook state and can ring.
fn idle(server: &Server, admin: &str, line: &str) {
    wait_for(&format!("{line} listed idle"), || {
        (line_state(server, admin, line)?.1 == "idle").then_some(())
    });
}

fn user_id(server: &Server, token: &str) -> String {
    let me: Value = http()
        .get(format!("{}/api/v1/session", server.url))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    me["id"].as_str().unwrap().to_owned()
}

/// Rings `token`'s user's phone to record for bob: the request id, or the refusal's status.
fn ring_to_record(server: &Server, token: &str) -> Result<u64, u16> {
    let r = http()
        .post(format!("{}/api/v1/record", server.url))
        .bearer_auth(token)
        .json(&json!({"to": ["bob"], "mode": "record"}))
        .send()
        .unwrap();
    if r.status().as_u16() != 202 {
        return Err(r.status().as_u16());
    }
    let v: Value = r.json().unwrap();
    Ok(v["request"].as_u64().unwrap())
}

/// The request's status once it is past `stage` (`ringing`, `recording`), or finished.
fn past(server: &Server, token: &str, request: u64, stage: &str) -> Value {
    http()
        .get(format!(
            "{}/api/v1/record/{request}?wait=20&stage={stage}",
            server.url
        ))
        .bearer_auth(token)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

/// The gateway accepted a notification request for `line` (after the line was audited: the
/// phone on it can ring).
fn rqnt_accepted(sim: &mut GatewaySim, line: u16) {
    sim.expect("a notification request accepted", |v| {
        (v["event"] == "command" && v["verb"] == "RQNT" && v["line"] == line && v["code"] == 200)
            .then_some(())
    });
}

fn picked_up(sim: &mut GatewaySim, line: u16) {
    sim.expect("the line rings", |v| {
        (v["line"] == line && v["event"] == "ringing" && v["on"] == true).then_some(())
    });
    sim.send(&format!("offhook {line}"));
    sim.expect("a connection", |v| {
        (v["line"] == line && v["event"] == "connection" && v["action"] == "created").then_some(())
    });
}

#[test]
fn a_line_given_while_running_rings_and_one_taken_stores_what_was_said() {
    // Line 1 is nobody's; carol has line 2.
    let (server, mut sim, _, _) = server_with_phones(&[
        ("alice", None),
        ("bob", None),
        ("carol", Some("gw1/aaln/2")),
    ]);
    server.add_admin("root");
    let (root, alice) = (server.login("root"), server.login("alice"));
    let alice_id = user_id(&server, &alice);
    assert_eq!(ring_to_record(&server, &alice), Err(409), "no phone yet");

    let (status, body) = put_stations(&server, &root, "alice", &["gw1/aaln/1"]);
    assert_eq!((status, &body["stations"]), (200, &json!(["gw1/aaln/1"])));
    // The line is audited and armed at once, and her phone listed available.
    rqnt_accepted(&mut sim, 1);
    wait_for("alice's phone listed available", || {
        phone_available(&server, &alice, &alice_id).filter(|a| *a)
    });
    let r = http()
        .get(format!("{}/api/v1/users/alice/stations", server.url))
        .bearer_auth(&root)
        .send()
        .unwrap();
    assert_eq!(
        r.json::<Value>().unwrap()["stations"],
        json!(["gw1/aaln/1"])
    );

    // It rings like any phone once its hook state is known (listed idle); the request's
    // progress follows the line.
    idle(&server, &root, "gw1/aaln/1");
    let request = ring_to_record(&server, &alice).expect("her phone rings");
    let ringing: Value = http()
        .get(format!("{}/api/v1/record/{request}", server.url))
        .bearer_auth(&alice)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        (&ringing["status"], &ringing["stage"]),
        (&json!("pending"), &json!("ringing"))
    );
    wait_for("the console lists her line ringing", || {
        (line_state(&server, &root, "gw1/aaln/1")? == (alice_id.clone(), "ringing".into()))
            .then_some(())
    });
    picked_up(&mut sim, 1);
    let speaking = past(&server, &alice, request, "ringing");
    wait_for("the console lists her line recording", || {
        (line_state(&server, &root, "gw1/aaln/1")?.1 == "recording").then_some(())
    });
    assert_eq!(
        (&speaking["status"], &speaking["stage"]),
        (&json!("pending"), &json!("recording")),
        "{speaking}"
    );
    sim.send(&format!("say 1 {}", speech_8k().display()));
    sim.expect("speech sent", |v| {
        (v["line"] == 1 && v["event"] == "say_done").then_some(())
    });
    sim.send("digits 1 #");
    let stored = past(&server, &alice, request, "recording");
    assert_eq!(stored["status"], "stored", "{stored}");
    sim.send("onhook 1");
    // (A request before the hang-up is heard would find the phone busy.)
    idle(&server, &root, "gw1/aaln/1");

    // She speaks again and the line is taken from her meanwhile: what she said is kept.
    let request = ring_to_record(&server, &alice).expect("rings again");
    picked_up(&mut sim, 1);
    assert_eq!(
        past(&server, &alice, request, "ringing")["stage"],
        "recording"
    );
    sim.send(&format!("say 1 {}", speech_8k().display()));
    sim.expect("speech sent", |v| {
        (v["line"] == 1 && v["event"] == "say_done").then_some(())
    });
    let seen_before = sim.seen.len();
    let (status, body) = put_stations(&server, &root, "alice", &[]);
    assert_eq!((status, &body["stations"]), (200, &json!([])));
    let ended = past(&server, &alice, request, "recording");
    assert_eq!(ended["status"], "stored", "{ended}");
    wait_for("alice's phone no longer listed", || {
        phone_available(&server, &alice, &alice_id)
            .is_none()
            .then_some(())
    });
    assert_eq!(ring_to_record(&server, &alice), Err(409));
    wait_for("her line no longer listed", || {
        line_state(&server, &root, "gw1/aaln/1")
            .is_none()
            .then_some(())
    });
    // The line was told to report nothing more: a pick-up there is not notified, while
    // carol's line still is (the simulator handles its commands in order).
    sim.expect("the recording's connection deleted", |v| {
        (v["event"] == "command" && v["verb"] == "DLCX" && v["line"] == 1).then_some(())
    });
    rqnt_accepted(&mut sim, 1);
    sim.send("onhook 1");
    sim.send("offhook 1");
    sim.send("offhook 2");
    sim.expect("carol's pick-up notified", |v| {
        (v["event"] == "notify" && v["line"] == 2).then_some(())
    });
    let line_1_notified = sim.seen[seen_before..]
        .iter()
        .filter(|v| v["event"] == "notify" && v["line"] == 1)
        .count();
    assert_eq!(line_1_notified, 0, "nothing from the removed line");
    assert_eq!(
        server.metric(r#"offhook_mgcp_total{kind="lines_removed"}"#),
        1
    );
    assert_eq!(
        server.metric(r#"offhook_mgcp_total{kind="unknown_endpoint"}"#),
        0
    );
    sim.send("onhook 1");
    sim.send("onhook 2");

    // Bob has both stored messages from alice.
    let bob = server.login("bob");
    let messages = wait_for("bob has both messages", || {
        let list: Value = http()
            .get(format!("{}/api/v1/messages", server.url))
            .bearer_auth(&bob)
            .send()
            .ok()?
            .json()
            .ok()?;
        (list.as_array()?.len() == 2).then_some(list)
    });
    for m in messages.as_array().unwrap() {
        assert_eq!(m["from"], "alice");
        assert!(m["duration_ms"].as_u64().unwrap() > 1_000, "{m}");
    }

    // The line goes to carol as her second phone; a request of hers rings both.
    let (status, _) = put_stations(&server, &root, "carol", &["gw1/aaln/2", "gw1/aaln/1"]);
    assert_eq!(status, 200);
    rqnt_accepted(&mut sim, 1);
    idle(&server, &root, "gw1/aaln/1");
    let carol = server.login("carol");
    let request = ring_to_record(&server, &carol).expect("carol's phones ring");
    sim.expect("line 1 rings for carol", |v| {
        (v["line"] == 1 && v["event"] == "ringing" && v["on"] == true).then_some(())
    });
    sim.send("offhook 1");
    assert_eq!(
        past(&server, &carol, request, "ringing")["stage"],
        "recording"
    );
    sim.send("onhook 1");
    assert_eq!(
        server.metric(r#"offhook_mgcp_total{kind="lines_added"}"#),
        2
    );
}

#[test]
fn stations_are_refused_by_their_field() {
    let (server, _sim, _, _) = server_with_phones(&[("alice", Some("gw1/aaln/1")), ("bob", None)]);
    server.add_admin("root");
    let root = server.login("root");
    for (lines, why) in [
        (&["nowhere/aaln/1"][..], "nowhere"),
        (&["gw1/aaln 1"][..], "endpoint"),
        (&["gw1"][..], "GATEWAY/ENDPOINT"),
        (&["gw1/aaln/*"][..], "endpoint"),
    ] {
        let (status, body) = put_stations(&server, &root, "bob", lines);
        assert_eq!(
            (status, &body["field"]),
            (400, &json!("stations")),
            "{lines:?}: {body}"
        );
        assert!(body["error"].as_str().unwrap().contains(why), "{body}");
    }
    let (status, body) = put_stations(&server, &root, "bob", &["gw1/aaln/2", "gw1/aaln/1"]);
    assert_eq!(
        (status, &body["field"]),
        (409, &json!("stations")),
        "{body}"
    );
    assert!(
        body["error"].as_str().unwrap().contains("gw1/aaln/1"),
        "{body}"
    );
    let r = http()
        .get(format!("{}/api/v1/users/bob/stations", server.url))
        .bearer_auth(&root)
        .send()
        .unwrap();
    assert_eq!(
        r.json::<Value>().unwrap()["stations"],
        json!([]),
        "nothing changed"
    );
    let (status, _) = put_stations(&server, &root, "nobody", &[]);
    assert_eq!(status, 404);
    let alice = server.login("alice");
    let (status, _) = put_stations(&server, &alice, "alice", &[]);
    assert_eq!(status, 403);
    // A user created with a line on a gateway that is not configured is refused the same way.
    let r = http()
        .post(format!("{}/api/v1/users", server.url))
        .bearer_auth(&root)
        .json(&json!({"username": "dave", "password": "pw", "line": "gw9/aaln/1"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.json::<Value>().unwrap()["field"], "line");
    // A bad stage to wait for is named.
    let r = http()
        .get(format!("{}/api/v1/record/1?stage=later", server.url))
        .bearer_auth(&alice)
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.json::<Value>().unwrap()["field"], "stage");
}
