//! Crash safety: SIGKILL (or SIGTERM) the server while many sends are in flight, restart it, and
//! check that every acknowledged send is there exactly once and whole, and that nothing
//! half-written is left.

use std::sync::{Arc, Mutex};

use std::time::Duration;

use offhook_tests::{Server, http, speech_8k, wait_for, wait_within};
use serde_json::Value;

const SENDERS: usize = 6;
const PER_SENDER: usize = 200;
const KILL_AFTER: usize = 40;

#[test]
fn acknowledged_sends_survive_sigkill_once_and_whole() {
    interrupted_sends(Server::kill9);
}

/// SIGTERM while sends are in flight: each is either finished and acknowledged or refused (503)
/// or cut off unacknowledged; the server exits 0, and the same checks hold after restart.
#[test]
fn sigterm_finishes_or_refuses_in_flight_sends() {
    interrupted_sends(|s: &mut Server| {
        let status = s.terminate();
        assert!(status.success(), "unclean exit {status}: {}", s.log_text());
    });
}

/// A message an earlier version acknowledged and left `processing`, its upload in a file of its
/// own (`media/<id>.raw`, from before the upload spool), is still transcoded and delivered once
/// the new version starts on the same data directory, and its file is removed.
#[test]
fn a_message_left_processing_by_an_earlier_version_is_finished() {
    use offhook_domain::db::{self, messages};
    let mut server = Server::start("");
    server.add_user("alice");
    server.add_user("bob");
    let status = server.terminate();
    assert!(
        status.success(),
        "unclean exit {status}: {}",
        server.log_text()
    );

    // What the earlier version left: the sealed upload as a file, and its `processing` row.
    let paths = db::Paths::new(&server.data);
    let key = db::load_or_create_key(&paths).unwrap();
    let conn = db::connect(&paths).unwrap();
    let user = |name: &str| db::users::by_name(&conn, name).unwrap().unwrap().id;
    let (alice, bob) = (user("alice"), user("bob"));
    let id = uuid::Uuid::new_v4();
    let upload = std::fs::read(speech_8k()).unwrap();
    let sealed = offhook_domain::audio::seal_raw(&upload[..], &key, id, Vec::new()).unwrap();
    let raw = format!("{id}.raw");
    std::fs::write(paths.media.join(&raw), &sealed).unwrap();
    messages::insert(
        &conn,
        &messages::NewMessage {
            id,
            sender: alice,
            recipients: vec![bob],
            // Now: retention must not take it for an old message.
            created_ms: offhook_domain::clock::Clock::now_ms(&offhook_domain::clock::SystemClock),
            duration_ms: 0,
            codec: "upload".into(),
            status: messages::Status::Processing,
            audio_file: raw.clone(),
            raw_offset: None,
            audio_bytes: sealed.len() as u64,
            attachments: vec![],
        },
    )
    .unwrap();
    drop(conn);

    server.restart();
    let bob_token = server.login("bob");
    let message = offhook_tests::wait_processed(&server, &bob_token, &id.to_string());
    assert_eq!(message["status"], "ready", "{message}");
    let source_ms = offhook_tests::wav_duration_ms(&speech_8k());
    let ms = message["duration_ms"].as_u64().unwrap();
    assert!(
        ms * 10 >= source_ms * 8 && ms <= source_ms + 60,
        "{ms} ms of {source_ms}"
    );
    wait_for("the earlier version's upload file to be removed", || {
        (!paths.media.join(&raw).exists()).then_some(())
    });
}

/// Bound on finishing a backlog of transcoding after restart (a debug build on a shared 2-core
/// machine transcodes a few messages per second).
const BACKLOG: Duration = Duration::from_secs(600);

fn interrupted_sends(stop: impl FnOnce(&mut Server)) {
    let mut server = Server::start("");
    server.add_user("alice");
    server.add_user("bob");
    let token = server.login("alice");
    let audio = std::fs::read(speech_8k()).unwrap();
    let acked: Arc<Mutex<Vec<String>>> = Arc::default();
    let url = server.url.clone();

    let threads: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (acked, token, audio, url) =
                (acked.clone(), token.clone(), audio.clone(), url.clone());
            std::thread::spawn(move || {
                let client = http();
                let mut errors = 0;
                for _ in 0..PER_SENDER {
                    let part = reqwest::blocking::multipart::Part::bytes(audio.clone())
                        .file_name("m.wav")
                        .mime_str("audio/wav")
                        .unwrap();
                    let form = reqwest::blocking::multipart::Form::new()
                        .text("to", "bob")
                        .part("audio", part);
                    let r = client
                        .post(format!("{url}/api/v1/messages"))
                        .bearer_auth(&token)
                        .multipart(form)
                        .send();
                    match r {
                        Ok(r) if r.status().is_success() => {
                            // Acknowledged only once the whole answer is read.
                            if let Ok(v) = r.json::<Value>() {
                                acked
                                    .lock()
                                    .unwrap()
                                    .push(v["id"].as_str().unwrap().to_owned());
                            }
                        }
                        Ok(r) if r.status() == 503 => return,
                        Ok(r) => panic!("refused: {}", r.status()),
                        Err(_) => {
                            // The server is gone: stop after a few failures.
                            errors += 1;
                            if errors > 3 {
                                return;
                            }
                        }
                    }
                }
            })
        })
        .collect();

    wait_for("sends to be acknowledged", || {
        (acked.lock().unwrap().len() >= KILL_AFTER).then_some(())
    });
    stop(&mut server);
    for t in threads {
        t.join().unwrap();
    }
    let acked = acked.lock().unwrap().clone();
    assert!(acked.len() >= KILL_AFTER);
    assert!(
        acked.len() < SENDERS * PER_SENDER,
        "every send finished before the stop: the test did not test anything"
    );

    // Acknowledgement now precedes transcoding: some acknowledged messages were still stored only
    // as received (in the upload spool) when the server stopped, so the restart has to finish
    // them. A spool segment is removed once no message needs it.
    let spool = server.data.join("media").join("spool");
    assert!(
        !spool_segments(&spool).is_empty(),
        "every message was transcoded before the stop: the restart path was not tested"
    );

    server.restart();
    let alice = server.login("alice");
    let bob = server.login("bob");
    let client = http();
    // Every acknowledged message becomes ready (bounded: transcoding runs at a few per second
    // in a debug build).
    let sent = wait_within("every acknowledged message to be ready", BACKLOG, || {
        let list: Vec<Value> = client
            .get(format!("{}/api/v1/messages", server.url))
            .bearer_auth(&alice)
            .send()
            .ok()?
            .json()
            .ok()?;
        list.iter().all(|m| m["status"] == "ready").then_some(list)
    });
    for a in &acked {
        assert_eq!(
            sent.iter().filter(|m| m["id"] == a.as_str()).count(),
            1,
            "acknowledged message {a} lost or duplicated"
        );
    }
    let list: Vec<Value> = client
        .get(format!("{}/api/v1/messages", server.url))
        .bearer_auth(&bob)
        .send()
        .unwrap()
        .json()
        .unwrap();
    let ids: Vec<&str> = list.iter().filter_map(|m| m["id"].as_str()).collect();
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "duplicated messages");
    assert_eq!(ids.len(), sent.len(), "bob sees every ready message");
    for a in &acked {
        assert!(ids.contains(&a.as_str()), "acknowledged message {a} lost");
    }
    // Every stored message is whole: its audio opens and has the recording's length.
    let source_ms = offhook_tests::wav_duration_ms(&speech_8k());
    let dir = tempfile::tempdir().unwrap();
    for (i, m) in list.iter().enumerate() {
        let id = m["id"].as_str().unwrap();
        let r = client
            .get(format!(
                "{}/api/v1/messages/{id}/audio?format=wav",
                server.url
            ))
            .bearer_auth(&bob)
            .send()
            .unwrap();
        assert!(r.status().is_success(), "{id}: {}", r.status());
        let p = dir.path().join(format!("{i}.wav"));
        std::fs::write(&p, r.bytes().unwrap()).unwrap();
        let ms = offhook_tests::wav_duration_ms(&p);
        assert!(
            ms * 10 >= source_ms * 8 && ms <= source_ms + 60,
            "{id}: {ms} ms"
        );
    }
    // Nothing half-written is left: one audio file per stored message, no temp files, and the
    // spool emptied once every upload is transcoded.
    let files: Vec<String> = std::fs::read_dir(server.data.join("media"))
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    wait_for("the spool to be emptied", || {
        spool_segments(&spool).is_empty().then_some(())
    });
    assert_eq!(server.metric("offhook_spool_segments"), 0);
    assert_eq!(server.metric("offhook_spool_bytes"), 0);
    assert_eq!(server.metric("offhook_transcode_waiting"), 0);
    assert!(files.iter().all(|f| !f.ends_with(".tmp")), "{files:?}");
    assert_eq!(
        files.len(),
        list.len(),
        "media files without a message (or the reverse)"
    );
    eprintln!(
        "acknowledged {} before the stop; {} stored after restart",
        acked.len(),
        list.len()
    );
}

/// The upload spool's segment files.
fn spool_segments(dir: &std::path::Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .filter(|n| n.ends_with(".seg"))
                .collect()
        })
        .unwrap_or_default()
}
