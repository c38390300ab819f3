//! The web UI in a real browser (issue 14): Debian's Chromium, headless, driven by
//! playwright-core (`tests/browser/messaging.mjs`, which says what it does) against the real
//! `offhook serve` on loopback. Screenshots of the main pages are left in
//! `target/browser-artifacts/`.
//!
//! Needs `chromium` and the browser tests' node packages: `scripts/deps --test` installs both
//! (`.ci/run` and `scripts/test` run it).

use std::path::PathBuf;
use std::process::Command;

use offhook_tests::{PASSWORD, Server, fixtures};

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
    let server = Server::start("");
    let admin = server.offhook(
        &["user", "add", "alice", "--admin", "--password-stdin"],
        Some(PASSWORD),
    );
    assert!(
        admin.status.success(),
        "{}",
        String::from_utf8_lossy(&admin.stderr)
    );
    server.add_user("bob");
    let tmp = tempfile::tempdir().unwrap();
    let attachment = tmp.path().join("agenda.txt");
    std::fs::write(&attachment, "1. the new phones\n2. lunch\n").unwrap();
    let artifacts = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/browser-artifacts");
    let out = Command::new("node")
        .arg(browser_dir().join("messaging.mjs"))
        .env("OFFHOOK_URL", &server.url)
        .env("OFFHOOK_PASSWORD", PASSWORD)
        .env("SPEECH", fixtures().join("speech-16k.wav"))
        .env("ATTACHMENT", &attachment)
        .env("ARTIFACTS", &artifacts)
        .output()
        .expect("node");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(
        out.status.success(),
        "the browser scenario failed:\n{stdout}\n{stderr}\nserver log:\n{}",
        server.log_text()
    );
    assert!(stdout.trim_end().ends_with("ok"), "{stdout}");

    // What the pages did, seen through the API: bob has alice's recorded message with its
    // attachment, played, and the intercom stream stored as a second message.
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
    assert_eq!(list.len(), 2, "the intercom stream is stored too: {list:?}");
    for page in ["sign-in", "compose", "inbox", "live", "admin"] {
        assert!(artifacts.join(format!("{page}.png")).exists(), "{page}.png");
    }
}
