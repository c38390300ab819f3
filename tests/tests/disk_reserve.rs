//! The disk reserve (issue 23), against the `offhook` binary: uploads are refused with 507
//! before the data directory's disk fills (`messages.disk_reserve`), and nothing stored or
//! acknowledged is touched.
//!
//! - On a small disk of its own (a tmpfs; needs root, as CI runs the tests), alice uploads until
//!   refused: the refusal is 507 naming the free space, the reserve and the upload's size,
//!   counted as `disk_full`; the disk never filled (no upload met the file system's own "no
//!   space"), and every acknowledged message is transcoded and ready with no room made. Once
//!   the owner grows the disk, uploads are taken again.
//! - While the disk is down to its reserve, a record request and an intercom stream are refused
//!   the same way.

use offhook_tests::osmo::free_udp_port;
use offhook_tests::{Server, speech_8k, wait_processed};
use reqwest::StatusCode;
use serde_json::Value;

#[test]
fn uploads_stop_at_the_reserve_and_everything_acknowledged_becomes_ready() {
    let server = Server::start_on_small_disk(
        8 << 20,
        "[messages]\nsweep_interval = \"1s\"\nupload_rate = \"off\"\ndisk_reserve = \"3MiB\"\n",
    );
    server.add_user("alice");
    server.add_user("bob");
    let token = server.login("alice");
    let audio = std::fs::read(speech_8k()).expect("speech fixture");
    let mut acknowledged = Vec::new();
    let refused = loop {
        assert!(acknowledged.len() < 60, "never refused");
        let r = server.post_message(&token, &["bob"], audio.clone());
        match r.status() {
            StatusCode::OK | StatusCode::CREATED => {
                let v: Value = r.json().expect("json");
                acknowledged.push(v["id"].as_str().expect("id").to_owned());
            }
            StatusCode::INSUFFICIENT_STORAGE => break r.json::<Value>().expect("json"),
            other => panic!(
                "upload answered {other}: {}\nserver log:\n{}",
                r.text().unwrap_or_default(),
                server.log_text()
            ),
        }
    };
    assert!(
        acknowledged.len() >= 3,
        "{} acknowledged",
        acknowledged.len()
    );
    assert_eq!(refused["reserve"], 3 << 20, "{refused}");
    let (free, size) = (
        refused["free"].as_u64().expect("free"),
        refused["size"].as_u64().expect("size"),
    );
    assert!(size > audio.len() as u64, "{refused}");
    assert!(free < (3 << 20) + size, "{refused}");
    assert!(
        refused["error"]
            .as_str()
            .unwrap_or("")
            .contains("nearly full"),
        "{refused}"
    );
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"disk_full\"}"),
        1
    );
    assert_eq!(
        server.metric("offhook_messages_accepted_total"),
        acknowledged.len() as u64
    );

    // The reserve was room enough: everything acknowledged is transcoded without making room.
    let bob = server.login("bob");
    for id in &acknowledged {
        let m = wait_processed(&server, &bob, id);
        assert_eq!(m["status"], "ready", "{m}");
    }
    let log = server.log_text();
    assert!(
        !log.contains("storage is full") && !log.contains("transcoding failed"),
        "the disk itself filled:\n{log}"
    );

    // The owner grows the disk: uploads are taken again.
    server.resize_disk(32 << 20);
    let r = server.post_message(&token, &["bob"], audio);
    assert!(r.status().is_success(), "{:?}", r.status());
}

#[test]
fn a_disk_down_to_its_reserve_refuses_recordings_and_intercom_streams() {
    let mut server = Server::start(&format!(
        "[mgcp]\nlisten = \"127.0.0.1:{}\"\n[[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"127.0.0.1:{}\"\n[[station]]\nuser = \"alice\"\ngateway = \"gw1\"\nendpoint = \"aaln/1\"\n[messages]\nupload_rate = \"off\"\n",
        free_udp_port(),
        free_udp_port()
    ));
    server.add_user("alice");
    server.add_user("bob");
    let token = server.login("alice");
    let audio = std::fs::read(speech_8k()).expect("speech fixture");
    let r = server.post_message(&token, &["bob"], audio.clone());
    assert!(r.status().is_success(), "{:?}", r.status());
    let stored: Value = r.json().expect("json");
    let stored = stored["id"].as_str().expect("id").to_owned();
    wait_processed(&server, &token, &stored);

    // A reserve larger than any disk: the disk is down to it.
    server.kill9();
    let config = server.data.parent().expect("tmp").join("offhook.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(
        &config,
        text.replace(
            "upload_rate = \"off\"\n",
            "upload_rate = \"off\"\ndisk_reserve = \"1000000GiB\"\n",
        ),
    )
    .expect("config");
    server.restart();
    let token = server.login("alice");

    let r = offhook_tests::http()
        .post(format!("{}/api/v1/record", server.url))
        .bearer_auth(&token)
        .json(&serde_json::json!({"to": ["bob"]}))
        .send()
        .expect("POST /api/v1/record");
    assert_eq!(r.status(), 507);
    let body: Value = r.json().expect("json");
    assert_eq!(body["reserve"], 1_000_000u64 << 30, "{body}");
    assert_eq!(body["size"], 0, "{body}");

    assert_eq!(
        server.post_message(&token, &["bob"], audio).status(),
        StatusCode::INSUFFICIENT_STORAGE
    );

    let answer = server.first_intercom_answer(&token, "bob");
    assert!(
        answer["error"]
            .as_str()
            .unwrap_or("")
            .contains("nearly full"),
        "{answer}"
    );
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"disk_full\"}"),
        3
    );

    // What was stored is untouched: still listed and playable.
    let audio = offhook_tests::http()
        .get(format!("{}/api/v1/messages/{stored}/audio", server.url))
        .bearer_auth(&token)
        .send()
        .expect("GET audio");
    assert_eq!(audio.status(), 200);
    assert!(audio.bytes().expect("body").len() > 1000);
}
