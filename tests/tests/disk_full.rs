//! A full disk, against the `offhook` binary with its data dir on a 3 MiB file system of its own
//! (issue 13, point 7): alice uploads until the disk is full. The disk reserve that refuses
//! uploads before this happens (`messages.disk_reserve`, tests/tests/disk_reserve.rs) is off
//! here: this is the last line, a disk filled by something else.
//!
//! - An upload the server cannot store gets `507 Insufficient Storage`, never `500`, and the
//!   server goes on answering.
//! - Every upload it acknowledged is kept: once room is made (the file system grown, as an
//!   owner would free space), the retention sweep transcodes what was left `processing`, without
//!   a restart, and every acknowledged message becomes `ready`.

use offhook_tests::{PASSWORD, Server, http, speech_8k, wait_for, wait_processed};
use reqwest::StatusCode;

#[test]
fn a_full_disk_refuses_with_507_and_loses_nothing_acknowledged() {
    let server = Server::start_on_small_disk(
        3 << 20,
        "[messages]\nsweep_interval = \"1s\"\ndisk_reserve = \"0\"\n",
    );
    server.add_user("alice");
    server.add_user("bob");
    let out = server.offhook(
        &["user", "add", "root", "--admin", "--password-stdin"],
        Some(PASSWORD),
    );
    assert!(out.status.success());
    let root = server.login("root");
    let token = server.login("alice");
    let audio = std::fs::read(speech_8k()).unwrap();
    let (mut acknowledged, mut refused) = (Vec::new(), 0);
    for _ in 0..60 {
        let r = server.post_message(&token, &["bob"], audio.clone());
        match r.status() {
            StatusCode::OK | StatusCode::CREATED => {
                let v: serde_json::Value = r.json().unwrap();
                acknowledged.push(v["id"].as_str().unwrap().to_owned());
            }
            StatusCode::INSUFFICIENT_STORAGE => {
                let text = r.text().unwrap();
                assert!(text.contains("storage is full"), "{text}");
                refused += 1;
                if refused == 3 {
                    break;
                }
            }
            other => panic!(
                "upload answered {other}: {}\nserver log:\n{}",
                r.text().unwrap_or_default(),
                server.log_text()
            ),
        }
    }
    assert!(
        refused >= 3,
        "the disk filled up ({} acknowledged)",
        acknowledged.len()
    );
    assert!(!acknowledged.is_empty());
    // The server still answers while full.
    let health = http()
        .get(format!("{}/api/v1/health", server.url))
        .send()
        .unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    // And tells an admin why: the storage is degraded, the database still answers.
    assert_eq!(part(&server, &root, "storage")["state"], "degraded");
    assert_eq!(part(&server, &root, "database")["state"], "ok");

    // Room is made: every acknowledged upload is transcoded, without a restart.
    server.resize_disk(64 << 20);
    let bob = server.login("bob");
    for id in &acknowledged {
        let m = wait_processed(&server, &bob, id);
        assert_eq!(m["status"], "ready", "{m}");
        assert!(m["duration_ms"].as_u64().unwrap() > 10_000, "{m}");
    }
    assert_eq!(part(&server, &root, "storage")["state"], "ok");
    // And new uploads are taken again.
    let r = server.post_message(&token, &["bob"], audio);
    assert!(r.status().is_success(), "{:?}", r.status());
    wait_for("the refusals counted", || {
        server
            .log_text()
            .contains("upload refused: the appliance's storage is full")
            .then_some(())
    });
}

/// Part `name` of `/api/v1/health`'s `subsystems`, as an admin sees it.
fn part(server: &Server, admin: &str, name: &str) -> serde_json::Value {
    let health: serde_json::Value = http()
        .get(format!("{}/api/v1/health", server.url))
        .bearer_auth(admin)
        .send()
        .unwrap()
        .json()
        .unwrap();
    health["subsystems"]
        .as_array()
        .and_then(|parts| parts.iter().find(|p| p["name"] == name))
        .unwrap_or_else(|| panic!("no part {name}: {health}"))
        .clone()
}
