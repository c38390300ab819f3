//! One user cannot fill the appliance's disk (issue 13, point 10), against the `offhook` binary:
//! a user gone bad uploads until their storage quota refuses them with 507 (nothing of the
//! refused upload is kept, another user still sends, deleting by every holder makes room
//! again); uploads faster than the upload rate get 429 with `Retry-After` while another user is
//! unaffected; an owner who lowers the quota stops that user's uploads, recordings and intercom
//! streams.

use std::collections::BTreeMap;
use std::path::Path;

use offhook_tests::osmo::free_udp_port;
use offhook_tests::{Server, http, tone_wav, wait_processed};
use reqwest::blocking::Response;
use reqwest::blocking::multipart::{Form, Part};
use serde_json::Value;

/// Every file under `dir` with its size.
fn files(dir: &Path) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("read_dir").flatten() {
            let meta = e.metadata().expect("metadata");
            if meta.is_dir() {
                todo.push(e.path());
            } else {
                let name = e.path().strip_prefix(dir).unwrap().display().to_string();
                out.insert(name, meta.len());
            }
        }
    }
    out
}

/// A message of one second of tone and an attachment of `attachment` bytes.
fn send(server: &Server, token: &str, to: &str, audio: &[u8], attachment: usize) -> Response {
    let form = Form::new()
        .text("to", to.to_owned())
        .part(
            "audio",
            Part::bytes(audio.to_vec())
                .file_name("m.wav")
                .mime_str("audio/wav")
                .expect("mime"),
        )
        .part(
            "attachment",
            Part::bytes(vec![b'x'; attachment]).file_name("notes.txt"),
        );
    http()
        .post(format!("{}/api/v1/messages", server.url))
        .bearer_auth(token)
        .multipart(form)
        .send()
        .expect("POST /api/v1/messages")
}

fn id_of(r: Response) -> String {
    assert!(r.status().is_success(), "{}", r.status());
    r.json::<Value>().expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn usage(server: &Server, token: &str) -> Value {
    let r = http()
        .get(format!("{}/api/v1/usage", server.url))
        .bearer_auth(token)
        .send()
        .expect("GET /api/v1/usage");
    assert_eq!(r.status(), 200);
    r.json().expect("json")
}

fn delete(server: &Server, token: &str, id: &str) {
    let r = http()
        .delete(format!("{}/api/v1/messages/{id}", server.url))
        .bearer_auth(token)
        .send()
        .expect("DELETE");
    assert_eq!(r.status(), 204);
}

#[test]
fn a_user_filling_their_quota_gets_507_and_nothing_of_the_refused_upload_is_kept() {
    let server = Server::start("[messages]\nquota_per_user = \"100KiB\"\nupload_rate = \"off\"\n");
    server.add_user("mallory");
    server.add_user("bob");
    let (mallory, bob) = (server.login("mallory"), server.login("bob"));
    let dir = tempfile::tempdir().expect("tempdir");
    let audio = tone_wav(&dir.path().join("t.wav"), 1000);
    let media = server.data.join("media");

    // 20 kB attachments, each kept whole: the quota holds a handful of messages.
    let mut sent = Vec::new();
    let refused = loop {
        assert!(sent.len() < 20, "never refused");
        // Quiet before each try: the previous message transcoded, its upload gone.
        let before = files(&media);
        let r = send(&server, &mallory, "bob", &audio, 20_000);
        if r.status().is_success() {
            let id = id_of(r);
            wait_processed(&server, &mallory, &id);
            sent.push(id);
            continue;
        }
        let after = files(&media);
        let spool = |f: &BTreeMap<String, u64>| {
            f.iter()
                .filter(|(k, _)| k.starts_with("spool"))
                .map(|(_, v)| v)
                .sum::<u64>()
        };
        assert!(
            spool(&after) <= spool(&before),
            "spooled: {before:?} {after:?}"
        );
        let kept = |f: &BTreeMap<String, u64>| {
            f.iter()
                .filter(|(k, _)| !k.starts_with("spool"))
                .map(|(k, v)| (k.clone(), *v))
                .collect::<Vec<_>>()
        };
        assert_eq!(kept(&after), kept(&before), "no file written for it");
        break r;
    };
    assert!(sent.len() >= 3, "{} sent before the quota", sent.len());
    assert_eq!(refused.status(), 507);
    let body: Value = refused.json().expect("json");
    assert_eq!(body["quota"], 102_400, "{body}");
    let used = body["used"].as_u64().expect("used");
    assert!(
        used <= 102_400 && used + body["size"].as_u64().unwrap() > 102_400,
        "{body}"
    );
    assert!(body["error"].as_str().unwrap().contains("quota"), "{body}");
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"over_quota\"}"),
        1
    );
    assert_eq!(
        server.metric("offhook_messages_accepted_total"),
        sent.len() as u64
    );
    let figures = usage(&server, &mallory);
    assert_eq!(figures["used"].as_u64(), Some(used), "{figures}");
    assert_eq!(figures["quota"], 102_400);

    // Bob is not held to mallory's figure.
    id_of(send(&server, &bob, "mallory", &audio, 20_000));

    // Mallory deleting her copies does not make room while bob still has them ...
    for id in &sent {
        delete(&server, &mallory, id);
    }
    assert_eq!(usage(&server, &mallory)["used"].as_u64(), Some(used));
    assert_eq!(send(&server, &mallory, "bob", &audio, 20_000).status(), 507);
    // ... bob deleting them does.
    for id in &sent {
        delete(&server, &bob, id);
    }
    assert_eq!(usage(&server, &mallory)["used"], 0);
    id_of(send(&server, &mallory, "bob", &audio, 20_000));
}

#[test]
fn uploads_faster_than_the_rate_get_429_with_retry_after_and_another_user_is_unaffected() {
    // Bursts of one largest upload (256 KiB), then 256 KiB an hour.
    let server = Server::start(
        "[messages]\nmax_upload = \"256KiB\"\nupload_rate = \"256KiB/h\"\nquota_per_user = \"0\"\n",
    );
    server.add_user("mallory");
    server.add_user("bob");
    let (mallory, bob) = (server.login("mallory"), server.login("bob"));
    let dir = tempfile::tempdir().expect("tempdir");
    let audio = tone_wav(&dir.path().join("t.wav"), 1000);
    assert_eq!(usage(&server, &mallory)["upload_available"], 262_144);

    // 100 kB at a time: the burst holds two.
    for _ in 0..2 {
        id_of(send(&server, &mallory, "bob", &audio, 84_000));
    }
    let r = send(&server, &mallory, "bob", &audio, 84_000);
    assert_eq!(r.status(), 429);
    let wait: u64 = r
        .headers()
        .get("retry-after")
        .expect("Retry-After")
        .to_str()
        .unwrap()
        .parse()
        .expect("seconds");
    // About 44 kB missing at 256 KiB an hour: some ten minutes, never more than the hour.
    assert!((300..=3600).contains(&wait), "Retry-After: {wait}");
    assert!(
        r.json::<Value>().unwrap()["error"]
            .as_str()
            .unwrap()
            .contains("too fast")
    );
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"upload_too_fast\"}"),
        1
    );
    assert_eq!(server.metric("offhook_messages_accepted_total"), 2);
    let left = usage(&server, &mallory)["upload_available"]
        .as_u64()
        .unwrap();
    assert!(left < 100_000, "{left}");

    // Bob's bucket is his own.
    for _ in 0..2 {
        id_of(send(&server, &bob, "mallory", &audio, 84_000));
    }
    // And a small upload of mallory's still fits what is left.
    id_of(send(&server, &mallory, "bob", &audio, 1000));
}

/// An owner lowers the quota under what a user stores: the user keeps their messages, but
/// neither uploads nor recordings start until they make room.
#[test]
fn a_lowered_quota_stops_uploads_and_recordings_until_room_is_made() {
    let station = format!(
        "[mgcp]\nlisten = \"127.0.0.1:{}\"\n[[gateway]]\nname = \"gw1\"\nprotocol = \"mgcp\"\naddress = \"127.0.0.1:{}\"\n[[station]]\nuser = \"mallory\"\ngateway = \"gw1\"\nendpoint = \"aaln/1\"\n",
        free_udp_port(),
        free_udp_port()
    );
    let mut server = Server::start(&format!(
        "{station}[messages]\nquota_per_user = \"1MiB\"\nupload_rate = \"off\"\n"
    ));
    server.add_user("mallory");
    server.add_user("bob");
    let mallory = server.login("mallory");
    let dir = tempfile::tempdir().expect("tempdir");
    let audio = tone_wav(&dir.path().join("t.wav"), 1000);
    let id = id_of(send(&server, &mallory, "bob", &audio, 30_000));
    wait_processed(&server, &mallory, &id);

    server.kill9();
    let config = server.data.parent().expect("tmp").join("offhook.toml");
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, text.replace("\"1MiB\"", "\"20KiB\"")).expect("config");
    server.restart();
    let (mallory, bob) = (server.login("mallory"), server.login("bob"));
    let record = |token: &str| {
        http()
            .post(format!("{}/api/v1/record", server.url))
            .bearer_auth(token)
            .json(&serde_json::json!({"to": ["bob"]}))
            .send()
            .expect("POST /api/v1/record")
    };
    let r = record(&mallory);
    assert_eq!(r.status(), 507);
    let body: Value = r.json().expect("json");
    assert_eq!(body["quota"], 20_480, "{body}");
    assert!(body["used"].as_u64().unwrap() > 20_480, "{body}");
    assert_eq!(send(&server, &mallory, "bob", &audio, 10).status(), 507);
    // Nor does an intercom stream open (it would be stored whole once spoken).
    let answer = server.first_intercom_answer(&mallory, "bob");
    assert!(
        answer["error"].as_str().unwrap_or("").contains("quota"),
        "{answer}"
    );
    assert_eq!(
        server.metric("offhook_rejected_total{kind=\"over_quota\"}"),
        3
    );
    // Her messages are still there for both.
    assert_eq!(usage(&server, &mallory)["quota"], 20_480);

    delete(&server, &mallory, &id);
    delete(&server, &bob, &id);
    // Room again: the request goes on to the phone (whose gateway is down here: 503).
    assert_eq!(record(&mallory).status(), 503);
    id_of(send(&server, &mallory, "bob", &audio, 10));
}
