//! Federation under faults (issue 24): a NATS node killed during a burst of 200 messages, the
//! receiving appliance SIGKILLed and restarted mid-burst, the sending appliance cut off from
//! NATS for a minute. In each, every message the sender acknowledged arrives exactly once.

use std::collections::HashSet;
use std::time::Duration;

use offhook_tests::nats::{NatsCluster, Proxy, listing};
use offhook_tests::{Server, tone_wav, wait_within};
use serde_json::Value;

/// `[federation]` for `site` on `servers` (a TOML list's body), with a 1 s heartbeat.
fn federation(site: &str, servers: &str) -> String {
    format!("[federation]\nsite = \"{site}\"\nservers = [{servers}]\nheartbeat = \"1s\"\n")
}

fn quoted(urls: &[String]) -> String {
    urls.iter()
        .map(|u| format!("\"{u}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

/// hq (alice) and branch (bob) on `hq_servers` / `branch_servers`, once each lists the other.
fn sites(hq_servers: &str, branch_servers: &str) -> (Server, Server, String) {
    let hq = Server::start(&federation("hq", hq_servers));
    let branch = Server::start(&federation("branch", branch_servers));
    hq.add_user("alice");
    branch.add_user("bob");
    let alice = hq.login("alice");
    wait_within(
        "bob@branch in hq's directory",
        Duration::from_secs(60),
        || {
            let r = hq.post_message(&alice, &["bob@branch"], tone(300));
            // Refused as unknown until the directory arrives; the message sent here counts.
            r.status().is_success().then_some(())
        },
    );
    (hq, branch, alice)
}

fn tone(ms: u32) -> Vec<u8> {
    let dir = tempfile::tempdir().expect("tmp");
    tone_wav(&dir.path().join("t.wav"), ms)
}

/// Sends one message from alice to bob@branch; returns its id once hq acknowledged it.
fn send(hq: &Server, alice: &str, audio: &[u8]) -> String {
    let r = hq.post_message(alice, &["bob@branch"], audio.to_vec());
    assert!(r.status().is_success(), "POST: {}", r.status());
    r.json::<Value>().expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// Bob's received messages at branch from alice@hq: their ids, each as often as listed.
fn received(branch: &Server, bob: &str) -> Vec<String> {
    let list = listing(branch, bob, "messages");
    list.into_iter()
        .filter(|m| m["from"] == "alice@hq" && m["direction"] == "in")
        .filter_map(|m| m["id"].as_str().map(str::to_owned))
        .collect()
}

/// Waits until every id in `sent` is at branch, then checks none is there twice (logged in
/// afresh: sessions do not outlive a restart).
fn all_arrive_once(branch: &Server, sent: &[String]) {
    let bob = &branch.login("bob");
    let want: HashSet<&str> = sent.iter().map(String::as_str).collect();
    let got = wait_within(
        &format!("{} messages at branch", sent.len()),
        Duration::from_secs(180),
        || {
            let got = received(branch, bob);
            let have: HashSet<&str> = got.iter().map(String::as_str).collect();
            want.is_subset(&have).then_some(got)
        },
    );
    let unique: HashSet<&str> = got.iter().map(String::as_str).collect();
    assert_eq!(unique.len(), got.len(), "a message was stored twice");
}

#[test]
fn a_nats_node_killed_during_a_burst_loses_nothing() {
    let mut cluster = NatsCluster::start(3);
    let servers = quoted(&cluster.urls());
    let (hq, branch, alice) = sites(&servers, &servers);
    let audio = tone(1_000);
    let mut sent = Vec::new();
    for i in 0..200 {
        if i == 60 {
            cluster.kill(0);
        }
        sent.push(send(&hq, &alice, &audio));
    }
    all_arrive_once(&branch, &sent);
    cluster.restart(0);
    wait_within("hq's outbox to empty", Duration::from_secs(60), || {
        (hq.metric("offhook_federation_pending") == 0).then_some(())
    });
}

#[test]
fn the_receiving_appliance_killed_mid_burst_loses_nothing() {
    let cluster = NatsCluster::start(3);
    let servers = quoted(&cluster.urls());
    let (hq, mut branch, alice) = sites(&servers, &servers);
    let audio = tone(1_000);
    let mut sent = Vec::new();
    for i in 0..200 {
        if i == 80 {
            branch.kill9();
        }
        if i == 140 {
            branch.restart();
        }
        sent.push(send(&hq, &alice, &audio));
    }
    all_arrive_once(&branch, &sent);
    assert!(
        branch.metric("offhook_federation_received_total") > 0,
        "messages were stored after the restart"
    );
}

#[test]
#[allow(clippy::disallowed_methods)] // The cut lasts a real minute.
fn the_sending_appliance_cut_off_for_a_minute_sends_once_back() {
    let cluster = NatsCluster::start(3);
    let proxy = Proxy::start(cluster.client_port(0));
    let (hq, branch, alice) = sites(&quoted(&[proxy.url()]), &quoted(&cluster.urls()));
    let audio = tone(1_000);
    let mut sent = vec![send(&hq, &alice, &audio)];
    all_arrive_once(&branch, &sent);

    proxy.cut();
    wait_within("hq to see the link down", Duration::from_secs(30), || {
        let h = hq.health(None)?;
        (h["federation"]["connected"] == false).then_some(())
    });
    let cut_at = std::time::Instant::now();
    let mut waiting = Vec::new();
    for _ in 0..20 {
        waiting.push(send(&hq, &alice, &audio));
    }
    // Acknowledged at hq, waiting there: none has left.
    wait_within("the outbox to hold them", Duration::from_secs(30), || {
        (hq.metric("offhook_federation_pending") == 20).then_some(())
    });
    std::thread::sleep(Duration::from_secs(60).saturating_sub(cut_at.elapsed()));
    let at_branch: HashSet<String> = received(&branch, &branch.login("bob"))
        .into_iter()
        .collect();
    assert!(
        waiting.iter().all(|id| !at_branch.contains(id)),
        "a message left while hq was cut off"
    );
    proxy.restore();
    sent.extend(waiting);
    all_arrive_once(&branch, &sent);
    wait_within("hq's outbox to empty", Duration::from_secs(60), || {
        (hq.metric("offhook_federation_pending") == 0).then_some(())
    });
}
