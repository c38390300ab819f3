//! The data directory is private, against the `offhook` binary started under umask 022 (issue
//! 13, point 8): the directory is 0700 and every file the server and `offhook user add` create
//! in it — the database and its WAL, the master key, sealed audio, recordings — is 0600, so no
//! other account on the machine reads password hashes, secrets or anyone's voice.
//! - The SIP secrets `offhook user show` gives out are sealed with the master key in the
//!   database: no file of the data dir but the key holds them in clear.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use offhook_tests::{Server, send_ok, speech_8k, wait_for};

/// Every directory and file under `root`, with its mode bits.
fn modes(root: &Path) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::symlink_metadata(&p).expect("stat");
        out.push((p.display().to_string(), meta.permissions().mode() & 0o777));
        if meta.is_dir() {
            for e in std::fs::read_dir(&p).expect("read_dir") {
                stack.push(e.expect("entry").path());
            }
        }
    }
    out
}

#[test]
fn the_data_directory_is_private_whatever_the_umask() {
    let mut server = Server::start_with_umask("022", "");
    for name in ["alice", "bob"] {
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg("umask 022 && exec \"$0\" \"$@\"")
            .arg(offhook_tests::offhook_bin())
            .args(["user", "add", name, "--password-stdin", "--data-dir"])
            .arg(&server.data)
            .stdin(std::process::Stdio::piped())
            .output_with_stdin(offhook_tests::PASSWORD);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A message is stored (sealed audio in the media directory).
    let id = send_ok(&server, "alice", "bob", &speech_8k());
    wait_for("the message transcoded", || {
        let out = server.client("bob", &["inbox", "--json"]);
        String::from_utf8_lossy(&out.stdout)
            .contains(&id)
            .then_some(())
    });
    server.terminate();
    let found = modes(&server.data);
    assert!(found.len() > 4, "the data dir holds files: {found:?}");
    for (path, mode) in &found {
        let dir = Path::new(path).is_dir();
        let want = if dir { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{path} is {mode:o}, not {want:o}");
    }
}

#[test]
fn sip_secrets_are_sealed_in_the_database() {
    let mut server = Server::start("");
    let mut secrets = Vec::new();
    for name in ["alice", "bob"] {
        let out = server.offhook(
            &["user", "add", name, "--password-stdin"],
            Some(offhook_tests::PASSWORD),
        );
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = server.offhook(&["user", "show", name, "--json"], None);
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("user show --json");
        let secret = v["sip_secret"].as_str().expect("sip_secret").to_owned();
        assert_eq!(secret.len(), 20, "{v}");
        secrets.push(secret);
    }
    assert_ne!(secrets[0], secrets[1]);
    // The server reads them too (it seals any left in clear at start-up).
    server.terminate();
    server.restart();
    let out = server.offhook(&["user", "list", "--json"], None);
    let listed = String::from_utf8_lossy(&out.stdout);
    assert!(
        secrets.iter().all(|s| listed.contains(s.as_str())),
        "{listed}"
    );
    server.terminate();
    for (path, _) in modes(&server.data) {
        if Path::new(&path).is_dir() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        for secret in &secrets {
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{path} holds a SIP secret in clear"
            );
        }
    }
}

/// `Command::output` with `input` written to its stdin.
trait OutputWithStdin {
    fn output_with_stdin(&mut self, input: &str) -> std::process::Output;
}

impl OutputWithStdin for std::process::Command {
    fn output_with_stdin(&mut self, input: &str) -> std::process::Output {
        use std::io::Write;
        let mut child = self
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(format!("{input}\n").as_bytes())
            .expect("write stdin");
        child.wait_with_output().expect("output")
    }
}
