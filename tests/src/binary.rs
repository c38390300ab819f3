//! The `offhook` binary the tests run, and the check that it is not older than its sources.

use std::path::{Path, PathBuf};

/// The `offhook` binary beside this test executable (`<target>/debug/offhook`).
pub fn offhook_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // <target>/debug/deps/<test> → <target>/debug/offhook
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test executable lives in <target>/<profile>/deps");
    let bin = dir.join("offhook");
    static CHECKED: std::sync::OnceLock<()> = std::sync::OnceLock::new();
    CHECKED.get_or_init(|| check_fresh(&bin));
    bin
}

/// Fails when the binary is missing or older than a source it is built from (`cargo test -p
/// offhook-tests` alone does not rebuild it, and a stale binary would test old code). The
/// sources are those cargo lists in the binary's dep-info file (`offhook.d` beside it), so the
/// check says "stale" exactly when `cargo build --bins` would rebuild.
pub fn check_fresh(bin: &Path) {
    let built = std::fs::metadata(bin)
        .and_then(|m| m.modified())
        .unwrap_or_else(|_| {
            panic!(
                "{} does not exist: run `cargo build --workspace --bins --examples` before `cargo test`",
                bin.display()
            )
        });
    let dep_info = bin.with_extension("d");
    let text = std::fs::read_to_string(&dep_info)
        .unwrap_or_else(|e| panic!("{}: {e}", dep_info.display()));
    for source in dep_info_sources(&text) {
        let changed = std::fs::metadata(&source).and_then(|m| m.modified());
        if changed.is_ok_and(|t| t > built) {
            panic!(
                "{} is older than {}: run `cargo build --workspace --bins --examples` before `cargo test`",
                bin.display(),
                source.display()
            );
        }
    }
}

/// The prerequisites of a make-style dep-info file (`target: a.rs b\ c.rs`), spaces unescaped.
fn dep_info_sources(text: &str) -> Vec<PathBuf> {
    let Some(line) = text.lines().next() else {
        return Vec::new();
    };
    let Some((_, deps)) = line.split_once(": ") else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = deps.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => cur.extend(chars.next()),
            ' ' => {
                if !cur.is_empty() {
                    out.push(PathBuf::from(std::mem::take(&mut cur)));
                }
            }
            c => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(PathBuf::from(cur));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dep_info_lists_each_source_with_spaces_unescaped() {
        let text = "/t/offhook: /w/a.rs /w/my\\ dir/b.rs  /w/c.rs\n\n/w/a.rs:\n";
        assert_eq!(
            dep_info_sources(text),
            ["/w/a.rs", "/w/my dir/b.rs", "/w/c.rs"].map(PathBuf::from)
        );
        assert!(dep_info_sources("").is_empty());
    }
}
