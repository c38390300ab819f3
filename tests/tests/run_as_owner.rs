//! Root running a data-directory command (`offhook init`, `offhook user add`) on a directory
//! that belongs to another user, as the packaged service's /var/lib/offhook belongs to
//! `offhook`, runs as that user: every file it leaves there is that user's, so the service can
//! still read them. Needs root (CI runs the tests as root): without it this test fails.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Stdio};

use offhook_tests::offhook_bin;

/// `nobody`: an owner that is not root, present on every Debian system.
const OWNER: u32 = 65534;

fn offhook(data: &Path, args: &[&str], stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(offhook_bin())
        .arg("--data-dir")
        .arg(data)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("offhook runs");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// Every path under `dir` (itself included) with its owner.
fn owners(dir: &Path) -> Vec<(String, u32)> {
    let mut out = vec![(dir.display().to_string(), dir.metadata().unwrap().uid())];
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(owners(&path));
        } else {
            out.push((path.display().to_string(), path.metadata().unwrap().uid()));
        }
    }
    out
}

#[test]
fn root_works_on_another_users_data_as_that_user() {
    assert!(
        std::fs::metadata("/proc/self").unwrap().uid() == 0,
        "this test checks what root's commands do: run it as root"
    );
    let top = tempfile::tempdir().unwrap();
    // The owner must reach the directory: the temp dir's parent chain is root's 0700 otherwise.
    std::fs::set_permissions(top.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data = top.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::os::unix::fs::chown(&data, Some(OWNER), Some(OWNER)).unwrap();

    let init = offhook(&data, &["init"], "");
    assert!(init.status.success(), "{init:?}");
    let add = offhook(
        &data,
        &["user", "add", "alice", "--password-stdin"],
        "alice-password-1\n",
    );
    assert!(add.status.success(), "{add:?}");
    let list = offhook(&data, &["user", "list", "--json"], "");
    assert!(
        String::from_utf8_lossy(&list.stdout).contains("\"alice\""),
        "{list:?}"
    );

    let all = owners(&data);
    for made in ["offhook.db", "master.key"] {
        assert!(
            all.iter().any(|(p, _)| p.ends_with(made)),
            "init made {made}: {all:?}"
        );
    }
    let strays: Vec<_> = all.iter().filter(|(_, uid)| *uid != OWNER).collect();
    assert!(strays.is_empty(), "not the owner's: {strays:?}");

    // A directory of root's own stays root's work.
    let mine = top.path().join("mine");
    let init = offhook(&mine, &["init"], "");
    assert!(init.status.success(), "{init:?}");
    assert!(owners(&mine).iter().all(|(_, uid)| *uid == 0));
}
