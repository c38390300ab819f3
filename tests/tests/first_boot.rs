//! First boot: `offhook init` on an empty data dir makes the master key, the HTTPS certificate
//! and user `admin` with a generated password; `offhook serve` then serves with that
//! certificate, and the password from `offhook init --show-password` logs in. A second `init`
//! changes nothing. The real LCDd (Debian package lcdproc, `curses` driver in a tmux pane, 20×4
//! and 16×2) shows the password while it is pending, and the screen goes once it is changed:
//! through the API (16×2), or with the panel's own Admin > Reset password, pressed with keys
//! (20×4). LCDd and tmux are required: without them this test fails.

// Real processes: bounded waits need the monotonic clock.
#![allow(clippy::disallowed_methods)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use offhook_panel::lcdd::Lcdd;
use offhook_tests::osmo::free_udp_port;
use offhook_tests::sim::free_tcp_and_udp_port;
use offhook_tests::tls::https_client;
use offhook_tests::{free_port, offhook_bin, rtp_ports, wait_for};
use serde_json::{Value, json};

/// Long enough for LCDd to rotate through the five screens (4 s each) twice.
const ROTATION: Duration = Duration::from_secs(50);

/// A data dir, its config (HTTPS on a loopback port, the front panel on `lcdd`), and the
/// `offhook serve` running on them once started.
struct Appliance {
    dir: tempfile::TempDir,
    https: String,
    child: Option<Child>,
}

impl Appliance {
    fn new(lcdd: &Lcdd) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        std::fs::write(
            dir.path().join("offhook.toml"),
            format!(
                "[http]\nlisten = \"127.0.0.1:{port}\"\ntls = \"on\"\n\
                 [media]\nrtp_ports = \"{}\"\n\
                 [mgcp]\nlisten = \"127.0.0.1:{}\"\n\
                 [sip]\nlisten = \"127.0.0.1:{}\"\n\
                 [lcd]\nserver = \"{}\"\n",
                rtp_ports(),
                free_udp_port(),
                free_tcp_and_udp_port(),
                lcdd.address()
            ),
        )
        .unwrap();
        Self {
            dir,
            https: format!("https://127.0.0.1:{port}"),
            child: None,
        }
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// `offhook ARGS --data-dir DATA --config CONFIG`.
    fn offhook(&self, args: &[&str]) -> Output {
        Command::new(offhook_bin())
            .args(args)
            .arg("--data-dir")
            .arg(self.data())
            .arg("--config")
            .arg(self.dir.path().join("offhook.toml"))
            .stdin(Stdio::null())
            .output()
            .expect("run offhook")
    }

    /// `offhook init`, which must succeed; its stdout and stderr.
    fn init(&self, args: &[&str]) -> (String, String) {
        let mut all = vec!["init"];
        all.extend_from_slice(args);
        let out = self.offhook(&all);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(out.status.success(), "offhook init: {stderr}");
        (String::from_utf8_lossy(&out.stdout).into_owned(), stderr)
    }

    /// The pending initial password, as `offhook init --show-password` prints it.
    fn shown_password(&self) -> Option<String> {
        let (stdout, _) = self.init(&["--show-password"]);
        let lines: Vec<&str> = stdout.lines().collect();
        assert!(lines.len() <= 1, "one line at most: {stdout:?}");
        lines.first().map(|l| (*l).to_owned())
    }

    /// A client that trusts exactly the certificate `init` made.
    fn client(&self) -> reqwest::blocking::Client {
        https_client(&self.data().join("tls/cert.pem"))
    }

    fn serve(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let child = Command::new(offhook_bin())
            .arg("serve")
            .arg("--data-dir")
            .arg(self.data())
            .arg("--config")
            .arg(self.dir.path().join("offhook.toml"))
            .env("OFFHOOK_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("spawn offhook serve");
        self.child = Some(child);
        let client = self.client();
        let health = format!("{}/api/v1/health", self.https);
        wait_for("the server to answer over HTTPS", || {
            if let Some(Ok(Some(status))) = self.child.as_mut().map(Child::try_wait) {
                panic!("server exited early ({status}): {}", self.log());
            }
            client
                .get(&health)
                .send()
                .ok()
                .filter(|r| r.status().is_success())
        });
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    /// `POST /api/v1/session` as user admin: the status, and the token if it signed in.
    fn sign_in(&self, password: &str) -> (u16, Option<String>) {
        let r = self
            .client()
            .post(format!("{}/api/v1/session", self.https))
            .json(&json!({"username": "admin", "password": password}))
            .send()
            .expect("login request");
        let status = r.status().as_u16();
        let body: Value = r.json().unwrap_or(Value::Null);
        (status, body["token"].as_str().map(str::to_owned))
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// `offhook init` on an empty dir, twice: what it makes, and the password (unchanged by the
/// second run) that signs in once `serve` runs.
fn first_boot(app: &mut Appliance) -> String {
    assert!(!app.data().exists());
    let (stdout, stderr) = app.init(&[]);
    assert_eq!(stdout, "", "nothing on stdout without --show-password");
    assert!(stderr.contains("made user admin"), "{stderr}");
    assert!(stderr.contains("made the HTTPS certificate"), "{stderr}");
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&app.data()), 0o700);
    assert_eq!(mode(&app.data().join("master.key")), 0o600);
    assert_eq!(mode(&app.data().join("tls/key.pem")), 0o600);
    let password = app.shown_password().expect("a pending password");
    assert_eq!(password.len(), 14, "{password}");
    assert!(
        !stderr.contains(&password),
        "the password only with --show-password"
    );

    // Again, as before every start: nothing made, nothing changed.
    let key = std::fs::read(app.data().join("master.key")).unwrap();
    let cert = std::fs::read(app.data().join("tls/cert.pem")).unwrap();
    let (stdout, stderr) = app.init(&[]);
    assert_eq!(
        (stdout.as_str(), stderr.as_str()),
        ("", ""),
        "nothing to do"
    );
    assert_eq!(app.shown_password().as_deref(), Some(password.as_str()));
    assert_eq!(std::fs::read(app.data().join("master.key")).unwrap(), key);
    assert_eq!(
        std::fs::read(app.data().join("tls/cert.pem")).unwrap(),
        cert
    );

    // Served with init's certificate (the client trusts that one only); the password signs in.
    app.serve();
    let (status, token) = app.sign_in(&password);
    assert_eq!(status, 200, "{}", app.log());
    assert!(token.is_some());
    assert_eq!(app.sign_in("wrong-pass-word").0, 401);
    password
}

fn shows(lcdd: &Lcdd, what: &str, f: impl Fn(&str) -> bool) -> String {
    match lcdd.wait_for(ROTATION, f) {
        Ok(pane) => pane,
        Err(pane) => panic!("{what} never on the display; last seen:\n{pane}"),
    }
}

/// Waits for `password` to leave the display (the panel refreshes every 2 s), then until LCDd
/// has rotated through every status screen twice (so through all it shows, the login screen
/// too if it were still there) with `password` nowhere on the display.
fn never_shows(lcdd: &Lcdd, password: &str) {
    if let Err(pane) = lcdd.wait_for(ROTATION, |p| !p.contains(password)) {
        panic!("still shown:\n{pane}");
    }
    let screens = ["Offhook ", "Gateways ", "Waiting ", "DHCP "];
    let mut seen = [0u32; 4];
    let mut last = None;
    // A notice in front (the panel reset's, a minute) holds the rotation up first.
    let end = std::time::Instant::now() + 3 * ROTATION;
    while seen.iter().any(|n| *n < 2) {
        let pane = lcdd.pane();
        assert!(!pane.contains(password), "still shown:\n{pane}");
        if let Some(i) = screens.iter().position(|s| pane.contains(s))
            && last != Some(i)
        {
            seen[i] += 1;
            last = Some(i);
        }
        assert!(
            std::time::Instant::now() < end,
            "the screens did not rotate: {seen:?}\n{pane}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// 16×2: the login screen shows "admin password:" over the password, whole; changed through
/// the API, it goes, and `init --show-password` has none to print.
#[test]
fn the_initial_password_signs_in_shows_on_a_16x2_panel_and_goes_once_changed() {
    let lcdd = Lcdd::start(16, 2);
    let mut app = Appliance::new(&lcdd);
    let password = first_boot(&mut app);
    shows(&lcdd, "the login screen", |p| {
        p.contains("admin password:") && p.lines().any(|l| l.trim() == password)
    });

    let (_, token) = app.sign_in(&password);
    let r = app
        .client()
        .patch(format!("{}/api/v1/users/admin", app.https))
        .bearer_auth(token.unwrap())
        .json(&json!({"password": "the owner's own"}))
        .send()
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "{}", r.text().unwrap_or_default());
    assert_eq!(app.shown_password(), None, "forgotten");
    never_shows(&lcdd, &password);
    assert_eq!(app.sign_in(&password).0, 401);
    assert_eq!(app.sign_in("the owner's own").0, 200);
    // Another start: still none, and no admin made over the owner's.
    let (_, stderr) = app.init(&[]);
    assert_eq!(stderr, "");
}

/// 20×4: "Admin login", "user: admin", "pw: …"; the panel's Admin > Reset password replaces it
/// with a one-time password, and the login screen goes.
#[test]
fn the_initial_password_shows_on_a_20x4_panel_until_the_panel_resets_it() {
    let lcdd = Lcdd::start(20, 4);
    let mut app = Appliance::new(&lcdd);
    let password = first_boot(&mut app);
    let pane = shows(&lcdd, "the login screen", |p| {
        p.contains(&format!("pw: {password}"))
    });
    assert!(
        pane.contains("Admin login") && pane.contains("user: admin"),
        "{pane}"
    );

    choose(&lcdd, &["Admin", "Reset password", "Yes, reset"]);
    let pane = shows(&lcdd, "the one-time password", |p| {
        p.contains("one-time password")
    });
    let one_time = pane
        .lines()
        .skip_while(|l| !l.contains("one-time password"))
        .nth(1)
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    assert_eq!(one_time.len(), 12, "{pane}");
    assert_eq!(app.sign_in(&one_time).0, 200);
    assert_eq!(app.sign_in(&password).0, 401, "replaced");
    assert_eq!(app.shown_password(), None, "forgotten");
    never_shows(&lcdd, &password);
}

/// Opens the menu (from wherever it is) and takes the items of `path`, found by what the
/// display shows.
fn choose(lcdd: &Lcdd, path: &[&str]) {
    lcdd.key("Escape");
    settle(lcdd, |p| title(p).is_some(), "the menu to open");
    for _ in 0..5 {
        let pane = lcdd.pane();
        match title(&pane) {
            Some(t) if t == "Offhook" => break,
            Some(t) => {
                lcdd.key("Escape");
                settle(
                    lcdd,
                    |p| title(p).as_deref() != Some(t.as_str()),
                    "back a level",
                );
            }
            None => {
                lcdd.key("Escape");
                settle(lcdd, |p| title(p).is_some(), "the menu to open");
            }
        }
    }
    for (i, name) in path.iter().enumerate() {
        let mut down = true;
        let mut tries = 0;
        loop {
            let pane = lcdd.pane();
            let on = selected(&pane).unwrap_or_default();
            if on.starts_with(name) {
                lcdd.key("Enter");
                if i + 1 < path.len() {
                    settle(lcdd, |p| title(p).as_deref() == Some(*name), name);
                }
                break;
            }
            tries += 1;
            assert!(tries < 20, "{name:?} not in the menu:\n{pane}");
            lcdd.key(if down { "Down" } else { "Up" });
            let moved = lcdd
                .wait_for(Duration::from_secs(5), |p| {
                    selected(p).is_some_and(|s| s != on)
                })
                .is_ok();
            if !moved {
                // An end of the list: the other way.
                down = !down;
            }
        }
    }
}

/// The menu's title (`## Admin ####`), while a menu shows.
fn title(pane: &str) -> Option<String> {
    let line = pane.lines().next()?.strip_prefix("## ")?;
    Some(
        line.trim_end_matches(['#', '-', '+', ' '])
            .trim()
            .to_owned(),
    )
}

/// The item under the menu's cursor (`>Show URL`).
fn selected(pane: &str) -> Option<String> {
    pane.lines()
        .find_map(|l| l.strip_prefix('>'))
        .map(|l| l.trim().to_owned())
}

/// Waits (up to 10 s) for the display to satisfy `f`; fails the test naming `what` if not.
fn settle(lcdd: &Lcdd, f: impl Fn(&str) -> bool, what: &str) {
    if let Err(pane) = lcdd.wait_for(Duration::from_secs(10), f) {
        panic!("waiting for {what}; the display:\n{pane}");
    }
}
