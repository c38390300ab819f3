//! The web UI in a real browser (issue 14): Debian's Chromium, headless, driven by
//! playwright-core (`tests/browser/messaging.mjs`, which says what it does) against the real
//! `offhook serve` on loopback, with `offhook gateway-sim` as its gateway: this test picks up
//! the phone the page rang, speaks into it and hangs up. Screenshots of the main pages are left
//! in `target/browser-artifacts/`.
//!
//! Needs `chromium` and the browser tests' node packages: `scripts/deps --test` installs both
//! (`.ci/run` and `scripts/test` run it).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use offhook_tests::sim::server_with_phones;
use offhook_tests::{PASSWORD, fixtures, speech_8k};

fn browser_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// The pinned node packages are installed (not installed here: a test installs nothing).
fn node_packages() {
    let dir = browser_dir();
    assert!(
        dir.join("node_modules/playwright-core/package.json")
            .exists(),
        "the browser tests' node packages are missing: run scripts/deps --test"
    );
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists(),
        "chromium is missing: run scripts/deps --test"
    );
}

#[test]
fn record_send_play_intercom_and_admin_in_a_browser() {
    node_packages();
    // gw1's two lines are nobody's yet: the admin console gives them out.
    let (server, mut sim, _, _) = server_with_phones(&[("bob", None)]);
    server.add_admin("alice");
    let tmp = tempfile::tempdir().unwrap();
    let attachment = tmp.path().join("agenda.txt");
    std::fs::write(&attachment, "1. the new phones\n2. lunch\n").unwrap();
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-artifacts");
    let mut node = Command::new("node")
        .arg(browser_dir().join("messaging.mjs"))
        .env("OFFHOOK_URL", &server.url)
        .env("OFFHOOK_PASSWORD", PASSWORD)
        .env("SPEECH", fixtures().join("speech-16k.wav"))
        .env("ATTACHMENT", &attachment)
        .env("ARTIFACTS", &artifacts)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node");
    let stderr = node.stderr.take().expect("piped stderr");
    let errors = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap_or_default());
    let mut stdout = String::new();
    for line in BufReader::new(node.stdout.take().expect("piped stdout")).lines() {
        let line = line.expect("node's output");
        stdout.push_str(&line);
        stdout.push('\n');
        if line == "- bob's phone rings: pick it up" {
            // bob's page rang line 1 (his, since the console gave it to him): pick up, speak,
            // hang up; the page follows it.
            sim.answer_ring(1);
            sim.send(&format!("say 1 {}", speech_8k().display()));
            sim.expect("the speech was sent", |v| {
                (v["line"] == 1 && v["event"] == "say_done").then_some(())
            });
            sim.send("onhook 1");
        }
    }
    let status = node.wait().expect("node exits");
    let stderr = errors.join().unwrap();
    assert!(
        status.success(),
        "the browser scenario failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        server.log_text()
    );
    assert!(stdout.trim_end().ends_with("ok"), "{stdout}");

    // What the pages did, seen through the API: bob has alice's recorded message with its
    // attachment, played, the intercom stream stored as a second message, and what he said on
    // his phone, sent to alice.
    let token = server.login("bob");
    let list: serde_json::Value = offhook_tests::http()
        .get(format!("{}/api/v1/messages", server.url))
        .bearer_auth(&token)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let list = list.as_array().unwrap();
    let recorded = list
        .iter()
        .find(|m| m["attachments"].as_array().is_some_and(|a| a.len() == 1))
        .unwrap_or_else(|| panic!("the recorded message with its attachment: {list:?}"));
    assert_eq!(recorded["from"], "alice");
    assert_eq!(recorded["played"], true, "{recorded}");
    assert_eq!(recorded["attachments"][0]["name"], "agenda.txt");
    let ms = recorded["duration_ms"].as_u64().unwrap();
    assert!((2_000..6_000).contains(&ms), "{recorded}");
    // The console's retention holds.
    let root = server.login("alice");
    let settings: serde_json::Value = offhook_tests::http()
        .get(format!("{}/api/v1/settings", server.url))
        .bearer_auth(&root)
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(settings["settings"][0]["key"], "messages.retention");
    assert_eq!(settings["settings"][0]["value"], "7d", "{settings}");
    let from = |who: &str| list.iter().filter(|m| m["from"] == who).collect::<Vec<_>>();
    assert_eq!(
        from("alice").len(),
        2,
        "the intercom stream is stored too: {list:?}"
    );
    // What bob said on his phone went to alice.
    let said = from("bob");
    assert_eq!(said.len(), 1, "{list:?}");
    assert_eq!(said[0]["to"], serde_json::json!(["alice"]));
    assert!(
        said[0]["duration_ms"].as_u64().unwrap() > 1_000,
        "{}",
        said[0]
    );
    for page in [
        "sign-in",
        "compose",
        "inbox",
        "live",
        "admin",
        "admin-phones",
        "admin-settings",
        "ring-recording",
    ] {
        assert!(artifacts.join(format!("{page}.png")).exists(), "{page}.png");
    }
}
