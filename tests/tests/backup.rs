//! Backup and restore (issue 22): `offhook backup` taken while a sender keeps posting
//! messages, restored with `offhook restore` into a fresh data dir and served there; every
//! message acknowledged before the backup began is there with the same audio, and those
//! acknowledged during it are whole or absent. The console's download and staged restore;
//! refusals as one line.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use offhook_tests::{Server, http, speech_8k, wait_within};
use serde_json::Value;

const PASSPHRASE: &str = "a long passphrase";

/// Bound on a restored appliance transcoding what was still `processing` in the backup
/// (a debug build on a shared machine transcodes a few messages per second).
const BACKLOG: Duration = Duration::from_secs(600);

/// The messages the holder of `token` sees.
fn messages(server: &Server, token: &str) -> Vec<Value> {
    http()
        .get(format!("{}/api/v1/messages", server.url))
        .bearer_auth(token)
        .send()
        .expect("GET /api/v1/messages")
        .json()
        .expect("json")
}

/// Waits for message `id` to be ready on `server` and returns its audio as WAV.
fn ready_audio(server: &Server, token: &str, id: &str) -> Vec<u8> {
    wait_within("the message to be ready", BACKLOG, || {
        messages(server, token)
            .into_iter()
            .find(|m| m["id"] == id && m["status"] == "ready")
    });
    let r = http()
        .get(format!(
            "{}/api/v1/messages/{id}/audio?format=wav",
            server.url
        ))
        .bearer_auth(token)
        .send()
        .expect("GET audio");
    assert!(r.status().is_success(), "audio of {id}: {}", r.status());
    r.bytes().expect("audio body").to_vec()
}

/// A server that was started once (so that its port and config exist), stopped, and whose
/// data dir was removed: a fresh install to restore into.
fn fresh_install() -> Server {
    let mut s = Server::start("");
    let status = s.terminate();
    assert!(status.success(), "{}", s.log_text());
    std::fs::remove_dir_all(&s.data).expect("remove the fresh data dir");
    s
}

fn one_line_failure(out: &std::process::Output) -> String {
    assert!(!out.status.success(), "succeeded: {out:?}");
    let err = String::from_utf8_lossy(&out.stderr).trim().to_owned();
    assert_eq!(err.lines().count(), 1, "not one line: {err}");
    err
}

#[test]
fn a_backup_taken_under_load_restores_every_acknowledged_message() {
    let server = Server::start("");
    server.add_user("alice");
    server.add_user("bob");
    let alice = server.login("alice");
    let audio = std::fs::read(speech_8k()).unwrap();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let senders: Vec<_> = (0..2)
        .map(|_| {
            let (acked, stop, audio, alice) =
                (acked.clone(), stop.clone(), audio.clone(), alice.clone());
            let url = server.url.clone();
            std::thread::spawn(move || {
                let client = http();
                while !stop.load(Ordering::SeqCst) {
                    let part = reqwest::blocking::multipart::Part::bytes(audio.clone())
                        .file_name("m.wav")
                        .mime_str("audio/wav")
                        .unwrap();
                    let form = reqwest::blocking::multipart::Form::new()
                        .text("to", "bob")
                        .part("audio", part);
                    let r = client
                        .post(format!("{url}/api/v1/messages"))
                        .bearer_auth(&alice)
                        .multipart(form)
                        .send();
                    if let Some(r) = r.ok().filter(|r| r.status().is_success()) {
                        let id = r.json::<Value>().unwrap()["id"]
                            .as_str()
                            .unwrap()
                            .to_owned();
                        acked.lock().unwrap().push(id);
                    }
                }
            })
        })
        .collect();
    wait_within("messages to be acknowledged", BACKLOG, || {
        (acked.lock().unwrap().len() >= 30).then_some(())
    });

    // Everything acknowledged so far must be in the backup.
    let before: Vec<String> = acked.lock().unwrap().clone();
    let file = server.data.with_file_name("taken-under-load.ohb");
    let out = server.offhook(
        &["backup", file.to_str().unwrap(), "--passphrase-stdin"],
        Some(PASSPHRASE),
    );
    assert!(
        out.status.success(),
        "backup: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let during: Vec<String> = acked.lock().unwrap()[before.len()..].to_vec();
    // The load goes on a moment after the backup, then stops.
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::SeqCst);
    for s in senders {
        s.join().unwrap();
    }
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "the backup file is the owner's only");
    let summary = String::from_utf8_lossy(&out.stdout);
    assert!(summary.contains("messages"), "{summary}");

    let mut restored = fresh_install();
    let out = restored.offhook(
        &["restore", file.to_str().unwrap(), "--passphrase-stdin"],
        Some(PASSPHRASE),
    );
    assert!(
        out.status.success(),
        "restore: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    restored.restart();

    let (bob_then, bob_now) = (server.login("bob"), restored.login("bob"));
    // The sender sees her messages in every state (recipients only once they are ready).
    let listed: Vec<String> = messages(&restored, &restored.login("alice"))
        .iter()
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<&String> = before.iter().filter(|id| !listed.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged before the backup are missing ({summary}): {missing:?}",
        missing.len(),
        before.len()
    );
    for id in before.iter().chain(&during) {
        if !listed.contains(id) {
            // Acknowledged during the backup: absent is allowed.
            assert!(during.contains(id));
            continue;
        }
        let then = ready_audio(&server, &bob_then, id);
        let now = ready_audio(&restored, &bob_now, id);
        assert!(
            then == now,
            "{id}: the restored audio differs ({} bytes, {} before)",
            now.len(),
            then.len()
        );
    }
    let kept_during = during.iter().filter(|id| listed.contains(id)).count();
    println!(
        "{} acknowledged before the backup, all restored; {} during it, {kept_during} restored",
        before.len(),
        during.len()
    );
}

#[test]
fn a_wrong_passphrase_and_a_data_dir_in_use_are_refused_in_one_line() {
    let server = Server::start("");
    server.add_user("alice");
    let file = server.data.with_file_name("b.ohb");
    let file = file.to_str().unwrap();
    let out = server.offhook(&["backup", file, "--passphrase-stdin"], Some("short"));
    let err = one_line_failure(&out);
    assert!(err.contains("at least 8"), "{err}");
    let out = server.offhook(&["backup", file, "--passphrase-stdin"], Some(PASSPHRASE));
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The running server's own data dir is not empty.
    let out = server.offhook(&["restore", file, "--passphrase-stdin"], Some(PASSPHRASE));
    let err = one_line_failure(&out);
    assert!(
        err.contains("not empty") && err.contains("offhook.db"),
        "{err}"
    );

    let target = server.data.with_file_name("elsewhere");
    let restore_to = |pass: &str| {
        let mut c = std::process::Command::new(offhook_tests::offhook_bin());
        c.args(["restore", file, "--passphrase-stdin", "--data-dir"])
            .arg(&target)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{pass}\n").as_bytes())
            .unwrap();
        child.wait_with_output().unwrap()
    };
    let err = one_line_failure(&restore_to("not the passphrase"));
    assert!(
        err.contains("wrong passphrase or not an Offhook backup"),
        "{err}"
    );
    assert!(
        !target.exists(),
        "a failed restore left {}",
        target.display()
    );

    // Damaged: one byte changed near the end.
    let mut bytes = std::fs::read(file).unwrap();
    let at = bytes.len() - 10;
    bytes[at] ^= 0x40;
    std::fs::write(file, &bytes).unwrap();
    let err = one_line_failure(&restore_to(PASSPHRASE));
    assert!(err.contains("damaged"), "{err}");
    assert!(!target.exists());

    // No terminal and no --passphrase-stdin.
    let out = std::process::Command::new(offhook_tests::offhook_bin())
        .args(["restore", file, "--data-dir"])
        .arg(&target)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let err = one_line_failure(&out);
    assert!(err.contains("--passphrase-stdin"), "{err}");
}

#[test]
fn the_console_downloads_a_backup_and_stages_a_restore_for_the_next_start() {
    let mut server = Server::start("");
    server.add_admin("root");
    server.add_user("alice");
    let root = server.login("root");
    let alice = server.login("alice");
    let backup = |token: &str, passphrase: &str| {
        http()
            .post(format!("{}/api/v1/admin/backup", server.url))
            .bearer_auth(token)
            .json(&serde_json::json!({"passphrase": passphrase}))
            .send()
            .unwrap()
    };
    assert_eq!(backup(&alice, PASSPHRASE).status(), 403);
    let short = backup(&root, "short");
    assert_eq!(short.status(), 400);
    assert_eq!(short.json::<Value>().unwrap()["field"], "passphrase");
    let r = backup(&root, PASSPHRASE);
    assert_eq!(r.status(), 200);
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        disposition.starts_with("attachment; filename=\"offhook-"),
        "{disposition}"
    );
    let file = r.bytes().unwrap().to_vec();
    assert!(file.starts_with(b"OHBACKUP"));

    // The download restores with the CLI.
    let path = server.data.with_file_name("console.ohb");
    std::fs::write(&path, &file).unwrap();
    let mut fresh = fresh_install();
    let out = fresh.offhook(
        &["restore", path.to_str().unwrap(), "--passphrase-stdin"],
        Some(PASSPHRASE),
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    fresh.restart();
    fresh.login("alice");
    drop(fresh);

    // The console's restore: a user added after the backup is gone after the restart.
    server.add_user("carol");
    let restore = |token: &str, passphrase: &str, data: Vec<u8>| {
        let form = reqwest::blocking::multipart::Form::new()
            .text("passphrase", passphrase.to_owned())
            .part(
                "file",
                reqwest::blocking::multipart::Part::bytes(data).file_name("b.ohb"),
            );
        http()
            .post(format!("{}/api/v1/admin/restore", server.url))
            .bearer_auth(token)
            .multipart(form)
            .send()
    };
    // Refused before the body is read: the answer, or the connection closed under the upload.
    if let Ok(r) = restore(&alice, PASSPHRASE, file.clone()) {
        assert_eq!(r.status(), 403);
    }
    let restore = |token: &str, passphrase: &str, data: Vec<u8>| {
        restore(token, passphrase, data).expect("POST /api/v1/admin/restore")
    };
    let wrong = restore(&root, "not the passphrase", file.clone());
    assert_eq!(wrong.status(), 400);
    let body: Value = wrong.json().unwrap();
    assert_eq!(body["error"], "wrong passphrase or not an Offhook backup");
    let mut damaged = file.clone();
    let at = damaged.len() / 2;
    damaged[at] ^= 1;
    assert_eq!(restore(&root, PASSPHRASE, damaged).status(), 400);
    let ok = restore(&root, PASSPHRASE, file);
    assert_eq!(ok.status(), 200);
    let body: Value = ok.json().unwrap();
    assert_eq!(body["staged"], true, "{body}");
    assert_eq!(body["users"], 2, "{body}");
    // Still serving the current data until it restarts.
    server.login("carol");
    let status = server.terminate();
    assert!(status.success(), "{}", server.log_text());
    server.restart();
    server.login("alice");
    let r = http()
        .post(format!("{}/api/v1/session", server.url))
        .json(&serde_json::json!({"username": "carol", "password": offhook_tests::PASSWORD}))
        .send()
        .unwrap();
    assert_eq!(r.status(), 401, "carol came after the backup");
    let kept = std::fs::read_dir(&server.data)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.starts_with("before-restore-"))
        .expect("the replaced data is kept");
    assert!(
        Path::new(&server.data)
            .join(kept)
            .join("offhook.db")
            .exists()
    );
    assert!(!server.data.join("restore-staged").exists());
}
