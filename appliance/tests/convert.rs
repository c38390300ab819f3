//! `offhook convert` as a user runs it, checked with the real tools (opusdec, sox).
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn offhook(args: &[&Path]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_offhook"))
        .arg("convert")
        .args(args)
        .output()
        .expect("run offhook")
}

fn scratch(test: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("offhook-convert-{}-{test}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

fn speech() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../codecs/tests/data/speech-8k.wav")
}

fn tool(cmd: &mut Command) -> String {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{cmd:?}: {e} (install opus-tools and sox: scripts/deps does)"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

/// Duration in seconds as sox reports it.
fn soxi_seconds(path: &Path, raw_ulaw: bool) -> f64 {
    let mut cmd = Command::new("sox");
    if raw_ulaw {
        cmd.args(["-t", "ul", "-r", "8000", "-c", "1"]);
    }
    cmd.arg(path).args(["-n", "stat"]);
    let text = tool(&mut cmd);
    let line = text
        .lines()
        .find(|l| l.starts_with("Length (seconds)"))
        .expect("sox stat");
    line.rsplit(' ')
        .next()
        .unwrap()
        .trim()
        .parse()
        .expect("seconds")
}

#[test]
fn wav_to_ogg_plays_in_opusdec_and_back() {
    let dir = scratch("ogg");
    let ogg = dir.join("speech.ogg");
    let out = offhook(&[&speech(), &ogg]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let decoded = dir.join("opusdec.wav");
    tool(
        Command::new("opusdec")
            .arg("--rate")
            .arg("8000")
            .arg(&ogg)
            .arg(&decoded),
    );
    let original = soxi_seconds(&speech(), false);
    assert!((soxi_seconds(&decoded, false) - original).abs() <= 0.02);

    let back = dir.join("back.wav");
    let out = offhook(&[&ogg, &back]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!((soxi_seconds(&back, false) - original).abs() <= 0.02);
}

#[test]
fn wav_to_raw_ulaw_reads_in_sox_and_clean_trims() {
    let dir = scratch("ulaw");
    let ulaw = dir.join("speech.ulaw");
    let out = offhook(&[&speech(), &ulaw]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let original = soxi_seconds(&speech(), false);
    assert!((soxi_seconds(&ulaw, true) - original).abs() < 0.001);

    let cleaned = dir.join("clean.wav");
    let out = Command::new(env!("CARGO_BIN_EXE_offhook"))
        .args(["convert", "--clean"])
        .arg(&ulaw)
        .arg(&cleaned)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seconds = soxi_seconds(&cleaned, false);
    assert!(
        seconds > 3.0 && seconds <= original,
        "cleaned to {seconds} s"
    );
}

#[test]
fn errors_are_one_line_and_leave_no_file() {
    let dir = scratch("errors");
    let cases: [(&[&Path], &str); 3] = [
        (
            &[&dir.join("missing.wav"), &dir.join("o.wav")],
            "cannot open",
        ),
        (&[&speech(), &dir.join("o.mp3")], "unknown audio format"),
        (
            &[
                &Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml"),
                &dir.join("o.ogg"),
            ],
            "unknown audio format",
        ),
    ];
    for (args, expected) in cases {
        let out = offhook(args);
        assert!(!out.status.success(), "{args:?} succeeded");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(expected), "{stderr}");
    }
    let junk = dir.join("junk.wav");
    std::fs::write(&junk, b"RIFF\x10\x00\x00\x00WAVEjunkjunkjunk").unwrap();
    let out = offhook(&[&junk, &dir.join("o.ogg")]);
    assert!(!out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stderr)
            .trim_end()
            .lines()
            .count(),
        1
    );
    let left: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("junk.wav")],
        "partial output left behind"
    );
}
