//! Federation (issue 24) end to end: two appliances, `hq` and `branch`, joined over a real
//! 3-node NATS JetStream cluster on loopback (Debian's `nats-server`), as CONTRACT.md
//! configures them (`[federation] site`, `servers`).

use std::time::Duration;

use offhook_tests::nats::{NatsCluster, listing, wait_message};
use offhook_tests::{Server, http, send_ok, speech_8k, wait_within};
use serde_json::Value;

/// The config of site `site` on `cluster`, with a 1 s heartbeat so a test sees presence
/// expire within seconds, and `extra` lines in the section.
pub fn federation(cluster: &NatsCluster, site: &str, extra: &str) -> String {
    format!(
        "[federation]\nsite = \"{site}\"\n{}\nheartbeat = \"1s\"\n{extra}\n",
        cluster.servers_toml()
    )
}

/// Waits until `token`'s contacts list `name` with `online`.
fn wait_contact(server: &Server, token: &str, name: &str, online: bool) -> Value {
    wait_within(
        &format!("{name} listed with online={online}"),
        Duration::from_secs(60),
        || {
            listing(server, token, "contacts")
                .into_iter()
                .find(|c| c["username"] == name && c["online"] == online)
        },
    )
}

#[test]
fn alice_at_hq_sends_to_bob_at_branch() {
    let cluster = NatsCluster::start(3);
    let hq = Server::start(&federation(&cluster, "hq", ""));
    let branch = Server::start(&federation(&cluster, "branch", ""));
    hq.add_user("alice");
    branch.add_user("bob");
    let alice = hq.login("alice");
    let bob_token = branch.login("bob");

    // The directory: each site lists the other's users, by NAME@SITE, as remote contacts.
    let bob = wait_contact(&hq, &alice, "bob@branch", false);
    assert_eq!(bob["kind"], "remote", "{bob}");
    wait_contact(&branch, &bob_token, "alice@hq", false);

    // Health names the link and the other site.
    let health = hq.health(None).expect("health");
    assert_eq!(health["federation"]["site"], "hq", "{health}");
    assert_eq!(health["federation"]["connected"], true, "{health}");
    let sites = health["federation"]["sites"].as_array().expect("sites");
    assert!(
        sites
            .iter()
            .any(|s| s["name"] == "branch" && s["last_seen"].is_string()),
        "{health}"
    );

    // Bob online: presence crosses to hq, and a message reaches him at once.
    let mut listen = branch.listen("bob", &[]);
    wait_contact(&hq, &alice, "bob@branch", true);
    let speech = speech_8k();
    let id = send_ok(&hq, "alice", "bob@branch", &speech);
    let got = listen.messages_until(&id);
    let m = got.last().expect("the message");
    assert_eq!(m["from"], "alice@hq", "{m}");
    drop(listen);
    wait_contact(&hq, &alice, "bob@branch", false);

    // Bob offline: a message over REST waits at branch and is his when he comes online.
    let wav = std::fs::read(&speech).expect("fixture");
    let r = hq.post_message(&alice, &["bob@branch"], wav);
    assert!(r.status().is_success(), "POST: {}", r.status());
    let id2 = r.json::<Value>().expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let stored = wait_message(&branch, &bob_token, &id2);
    assert_eq!(stored["from"], "alice@hq");
    assert_eq!(stored["status"], "ready");
    let mut later = branch.listen("bob", &[]);
    later.messages_until(&id2);

    // Its audio plays at branch.
    let out = tempfile::tempdir().expect("tmp");
    let wav_out = out.path().join("m.wav");
    let fetched = branch.client("bob", &["fetch", &id2, "--out", wav_out.to_str().unwrap()]);
    assert!(
        fetched.status.success(),
        "{}",
        String::from_utf8_lossy(&fetched.stderr)
    );
    assert!(offhook_tests::wav_duration_ms(&wav_out) > 5_000);

    // The counters.
    assert!(hq.metric("offhook_federation_published_total") >= 2);
    assert!(branch.metric("offhook_federation_received_total") >= 2);
    assert_eq!(hq.metric("offhook_federation_pending"), 0);

    // Intercom across sites: bob hears alice live, buffer by buffer, then gets it stored.
    let mut listen = branch.listen("bob", &[]);
    let live = hq.client(
        "alice",
        &[
            "send",
            "--live",
            "--to",
            "bob@branch",
            speech.to_str().unwrap(),
        ],
    );
    assert!(
        live.status.success(),
        "{}",
        String::from_utf8_lossy(&live.stderr)
    );
    let stored_id = String::from_utf8_lossy(&live.stdout).trim().to_owned();
    let mut buffers = 0;
    let mut ended = false;
    loop {
        let e = listen.next_event();
        match e["event"].as_str() {
            Some("live") => {
                assert_eq!(e["from"], "alice@hq", "{e}");
                buffers += 1;
            }
            Some("live_end") => ended = true,
            Some("message") if e["id"] == stored_id.as_str() => break,
            _ => {}
        }
    }
    assert!(
        buffers > 100,
        "{buffers} live buffers heard before the stored copy"
    );
    assert!(ended, "the live stream ended before the stored copy came");
    assert!(hq.metric("offhook_federation_live_sent_total") >= buffers);
    drop(listen);

    // A local user written with this site's name is the local user.
    hq.add_user("carol");
    let local = send_ok(&hq, "alice", "carol@hq", &speech);
    let carol = hq.login("carol");
    offhook_tests::wait_processed(&hq, &carol, &local);

    // An unknown remote name is refused as any unknown recipient.
    let unknown = hq.client(
        "alice",
        &["send", "--to", "carol@branch", speech.to_str().unwrap()],
    );
    assert!(!unknown.status.success());
}

/// A message whose sealed body is over the NATS servers' payload limit (1 MiB) travels through
/// the object store, attachments and all, byte for byte; and a site that stops publishing has
/// its users shown offline at the others, with its last-seen time kept.
#[test]
fn large_messages_travel_and_a_silent_site_goes_offline() {
    let cluster = NatsCluster::start(3);
    let hq = Server::start(&federation(&cluster, "hq", ""));
    let mut branch = Server::start(&federation(&cluster, "branch", ""));
    hq.add_user("alice");
    branch.add_user("bob");
    let alice = hq.login("alice");
    wait_contact(&hq, &alice, "bob@branch", false);

    // 3 MiB of attachment that does not compress, and a small one.
    let mut big = vec![0u8; 3 << 20];
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for b in big.iter_mut() {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    let audio = std::fs::read(speech_8k()).expect("fixture");
    let part = |bytes: Vec<u8>, name: &str, ctype: &str| {
        reqwest::blocking::multipart::Part::bytes(bytes)
            .file_name(name.to_owned())
            .mime_str(ctype)
            .expect("mime")
    };
    let form = reqwest::blocking::multipart::Form::new()
        .text("to", "bob@branch")
        .part("audio", part(audio, "m.wav", "audio/wav"))
        .part(
            "attachment",
            part(big.clone(), "scan.bin", "application/octet-stream"),
        )
        .part(
            "attachment",
            part(b"hello".to_vec(), "note.txt", "text/plain"),
        );
    let r = http()
        .post(format!("{}/api/v1/messages", hq.url))
        .bearer_auth(&alice)
        .multipart(form)
        .send()
        .expect("POST");
    assert!(r.status().is_success(), "{}", r.status());
    let id = r.json::<Value>().expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let bob = branch.login("bob");
    let m = wait_message(&branch, &bob, &id);
    assert_eq!(m["attachments"].as_array().map(Vec::len), Some(2), "{m}");
    let get = |n: u32| {
        http()
            .get(format!(
                "{}/api/v1/messages/{id}/attachments/{n}",
                branch.url
            ))
            .bearer_auth(&bob)
            .send()
            .expect("GET attachment")
            .bytes()
            .expect("body")
            .to_vec()
    };
    assert!(get(0) == big, "the 3 MiB attachment arrived byte for byte");
    assert_eq!(get(1), b"hello");

    // bob online, then his appliance dies without a word: hq shows him offline within a few
    // heartbeats, and keeps when it last heard from branch.
    let listen = branch.listen("bob", &[]);
    wait_contact(&hq, &alice, "bob@branch", true);
    branch.kill9();
    drop(listen);
    wait_contact(&hq, &alice, "bob@branch", false);
    let health = hq.health(None).expect("health");
    let sites = health["federation"]["sites"].as_array().expect("sites");
    assert!(sites.iter().any(|s| s["name"] == "branch"), "{health}");
}
