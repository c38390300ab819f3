//! Federation's hostile input (issue 24): messages published straight to a site's subject by
//! someone with NATS access — malformed, for another site, from itself, forged (sealed under
//! another key), oversized, and sealed right but holding garbage — are rejected and counted by
//! kind, never delivered, and the site goes on taking good ones.

use std::time::Duration;

use async_nats::HeaderMap;
use async_nats::jetstream;
use offhook_domain::db::remote::{Outgoing, Person};
use offhook_domain::federation::Forward;
use offhook_tests::nats::{NatsCluster, listing, wait_listed, wait_message};
use offhook_tests::{Server, send_ok, speech_8k, wait_within};
use uuid::Uuid;

const KEY: [u8; 32] = [7; 32];

fn site(cluster: &NatsCluster, name: &str, key: &std::path::Path) -> Server {
    Server::start(&format!(
        "[federation]\nsite = \"{name}\"\n{}\nreplicas = 1\nheartbeat = \"1s\"\nkey_file = \"{}\"\nmax_message = \"1MiB\"\n",
        cluster.servers_toml(),
        key.display()
    ))
}

fn headers(id: Uuid, from: &str, to: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("Nats-Msg-Id", format!("{id}.{to}").as_str());
    h.insert("Offhook-Id", id.to_string().as_str());
    h.insert("Offhook-From", from);
    h.insert("Offhook-To", to);
    h
}

fn forward(audio: Vec<u8>) -> Forward {
    Forward {
        meta: Outgoing {
            id: Uuid::new_v4(),
            sender: Person {
                id: Uuid::new_v4(),
                name: "mallory".into(),
                display: "Mallory".into(),
            },
            to: vec!["bob".into()],
            created_ms: 0,
            duration_ms: 1000,
            audio_file: None,
            attachments: vec![],
        },
        audio,
        attachments: vec![],
    }
}

#[test]
fn forged_and_malformed_messages_are_rejected_and_counted() {
    let cluster = NatsCluster::start(1);
    let dir = tempfile::tempdir().expect("tmp");
    let key = dir.path().join("federation.key");
    let hex: String = KEY.iter().map(|b| format!("{b:02x}")).collect();
    std::fs::write(&key, hex).expect("key");
    let hq = site(&cluster, "hq", &key);
    let branch = site(&cluster, "branch", &key);
    hq.add_user("alice");
    branch.add_user("bob");
    let alice = hq.login("alice");
    let bob = branch.login("bob");
    wait_listed(&hq, &alice, "bob@branch");

    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let client = async_nats::connect(cluster.urls()[0].as_str())
            .await
            .expect("connect");
        let js = jetstream::new(client.clone());
        let subject = "offhook.msg.branch";
        let publish = |h: HeaderMap, body: Vec<u8>| {
            let js = js.clone();
            async move {
                js.publish_with_headers(subject, h, body.into())
                    .await
                    .expect("publish")
                    .await
                    .expect("stored in the stream");
            }
        };
        let mine = codecs::seal::Key::from_bytes(KEY);
        let other = codecs::seal::Key::from_bytes([9; 32]);
        // 1. No headers at all.
        publish(HeaderMap::new(), b"hello".to_vec()).await;
        // 2. Addressed to another site; 3. from the receiving site itself.
        publish(headers(Uuid::new_v4(), "hq", "elsewhere"), vec![1; 64]).await;
        publish(headers(Uuid::new_v4(), "branch", "branch"), vec![1; 64]).await;
        // 4. Forged: well formed, sealed under another key.
        let f = forward(b"OggS forged".to_vec());
        let (h, body) =
            offhook_federation::wire::encode(&other, &f, "hq", "branch").expect("encode");
        let mut map = HeaderMap::new();
        for (k, v) in h {
            map.insert(k, v.as_str());
        }
        publish(map, body).await;
        // 5. Oversized: a 2 MiB body in the object store (the site takes 1 MiB).
        let objects = js
            .get_object_store("offhook_bundles")
            .await
            .expect("object store");
        let big = vec![0u8; 2 << 20];
        objects.put("big", &mut &big[..]).await.expect("put");
        let mut h = headers(Uuid::new_v4(), "hq", "branch");
        h.insert("Offhook-Object", "big");
        publish(h, Vec::new()).await;
        // 6. Sealed under the right key, but not a message inside.
        let id = Uuid::new_v4();
        let body = codecs::seal::seal(
            &mine,
            &offhook_federation::wire::aad(id, "hq", "branch"),
            b"not a message",
            codecs::seal::Compression::None,
        )
        .expect("seal");
        publish(headers(id, "hq", "branch"), body).await;
        // 7. Sealed right, well formed, but its audio is not Ogg Opus.
        let f = forward(b"RIFF....WAVE".to_vec());
        let (h, body) =
            offhook_federation::wire::encode(&mine, &f, "hq", "branch").expect("encode");
        let mut map = HeaderMap::new();
        for (k, v) in h {
            map.insert(k, v.as_str());
        }
        publish(map, body).await;
        // 8. Garbage as live audio.
        client
            .publish("offhook.live.branch", b"garbage".to_vec().into())
            .await
            .expect("publish live");
        client.flush().await.expect("flush");
    });

    let expect = [
        ("malformed", 3),
        ("wrong_site", 2),
        ("bad_seal", 1),
        ("oversized", 1),
        ("bad_content", 1),
    ];
    for (kind, n) in expect {
        let sample = format!("offhook_federation_rejected_total{{kind=\"{kind}\"}}");
        wait_within(&format!("{sample} = {n}"), Duration::from_secs(30), || {
            (branch.try_metric(&sample) == Some(n)).then_some(())
        });
    }
    // Still serving, and still taking good messages: only that one is bob's.
    let id = send_ok(&hq, "alice", "bob@branch", &speech_8k());
    wait_message(&branch, &bob, &id);
    let list = listing(&branch, &bob, "messages");
    assert_eq!(list.len(), 1, "only the good message is bob's: {list:?}");
    assert_eq!(branch.health(None).expect("health")["status"], "ok");
}
