//! The front panel's set-up menu with the real LCDd (Debian package lcdproc, `curses` driver in a
//! tmux pane of 20×4): keys pressed with `tmux send-keys` reset the admin password (which then
//! signs in), change the LAN address, are refused with a reason (DHCP on before it has a pool),
//! take the pool offered and turn the DHCP server on; the settings API, the health check, the
//! interface itself and the DHCP server's socket show each change; "Restart" runs the appliance
//! again on the settings kept, and "Shut down" stops it and runs the power-off command.
//!
//! The appliance and LCDd run in a network namespace the test makes, whose LAN is a dummy
//! interface `lan0` (a veth pair's end, the other in a second namespace; 192.0.2.0/24, documentation addresses): the appliance sets its address and
//! binds its DHCP server there, and nothing leaves the namespace. Needs root, iproute2, LCDd and
//! tmux: without them this test fails.

// Real processes: bounded waits need the monotonic clock.
#![allow(clippy::disallowed_methods)]

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use offhook_panel::lcdd::Lcdd;
use offhook_tests::netns::{Netns, veth_pair};
use offhook_tests::{offhook_bin, wait_within};
use serde_json::{Value, json};

/// How long the display may take to show what is expected.
const SHOWN: Duration = Duration::from_secs(30);
/// The HTTP address inside the namespace.
const HTTP: &str = "127.0.0.1:8080";

fn shows(lcdd: &Lcdd, text: &str) -> String {
    match lcdd.wait_for(SHOWN, |pane| pane.contains(text)) {
        Ok(pane) => pane,
        Err(pane) => panic!("{text:?} never on the display; last seen:\n{pane}"),
    }
}

/// An HTTP request made from inside the namespace; `None` if nothing answers.
fn request(
    ns: &Netns,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> Option<(u16, Value)> {
    let url = format!("http://{HTTP}{path}");
    ns.run(|| {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        let mut r = client.request(method.parse().unwrap(), &url);
        if let Some(t) = token {
            r = r.bearer_auth(t);
        }
        if let Some(b) = body {
            r = r.json(&b);
        }
        let resp = r.send().ok()?;
        let status = resp.status().as_u16();
        Some((status, resp.json().unwrap_or(Value::Null)))
    })
}

struct Appliance {
    child: Child,
}

impl Appliance {
    fn start(ns: &Netns, dir: &Path) -> Self {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("server.log"))
            .unwrap();
        let child = ns
            .exec(offhook_bin())
            .arg("serve")
            .arg("--data-dir")
            .arg(dir.join("data"))
            .arg("--config")
            .arg(dir.join("offhook.toml"))
            .env("OFFHOOK_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("offhook serve");
        Self { child }
    }
}

impl Drop for Appliance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_setup_menu_sets_the_lan_and_the_dhcp_server() {
    let ns = Netns::new("panel");
    let phones = Netns::new("phones");
    veth_pair(&ns, "lan0", &phones, "eth0");
    ns.addr("lan0", "192.0.2.2/24");
    let lcdd = Lcdd::start_in_netns(20, 4, ns.name());
    let dir = tempfile::tempdir().unwrap();
    let powered_off = dir.path().join("powered-off");
    std::fs::write(
        dir.path().join("offhook.toml"),
        format!(
            "[http]\nlisten = \"{HTTP}\"\n[mgcp]\nlisten = \"127.0.0.1:2727\"\n\
             [sip]\nlisten = \"127.0.0.1:5060\"\n\
             [network]\ninterface = \"lan0\"\naddress = \"192.0.2.2/24\"\n\
             [lcd]\nserver = \"{}\"\npoweroff = [\"touch\", \"{}\"]\n",
            lcdd.address(),
            powered_off.display()
        ),
    )
    .unwrap();
    let mut app = Appliance::start(&ns, dir.path());
    wait_within("the appliance answers", Duration::from_secs(30), || {
        request(&ns, "GET", "/api/v1/health", None, None).filter(|(s, _)| *s == 200)
    });
    shows(&lcdd, "LAN 192.0.2.2/24");

    // Admin > Reset password > Yes: a one-time password, which signs in.
    choose(&lcdd, &["Admin", "Reset password", "Yes, reset"]);
    let pane = shows(&lcdd, "one-time password");
    let password = pane
        .lines()
        .skip_while(|l| !l.contains("one-time password"))
        .nth(1)
        .map(str::trim)
        .unwrap_or_default()
        .to_owned();
    assert_eq!(password.len(), 12, "{pane}");
    let token = sign_in(&ns, &password);

    // Admin > Show URL.
    choose(&lcdd, &["Admin", "Show URL"]);
    shows(&lcdd, "http://127.0.0.1:80");

    // Network > Address: 192.0.2.2 becomes 192.0.2.10 digit by digit (the editor shows
    // 192.000.002.002; Enter walks the twelve digits, the last one commits).
    choose(&lcdd, &["Network", "Address"]);
    shows(&lcdd, "192.000.002.002");
    press(&lcdd, &["Enter"; 10]);
    press(&lcdd, &["Up", "Enter", "Down", "Down", "Enter"]);
    shows(&lcdd, "192.0.2.10/24");
    wait_within("lan0 to have 192.0.2.10", SHOWN, || {
        (ns.ipv4_addrs("lan0") == ["192.0.2.10".parse::<std::net::Ipv4Addr>().unwrap()])
            .then_some(())
    });
    let settings = setting(&ns, &token, "lan.address");
    assert_eq!(
        (settings["value"].as_str(), settings["source"].as_str()),
        (Some("192.0.2.10/24"), Some("console")),
        "{settings}"
    );
    let part = network_health(&ns, &token);
    assert_eq!(part["state"], "ok", "{part}");
    assert!(
        part["detail"]
            .as_str()
            .unwrap()
            .contains("lan0 192.0.2.10/24"),
        "{part}"
    );

    // DHCP server > Serve, before there is a pool: refused, with the reason.
    choose(&lcdd, &["DHCP server", "Serve"]);
    let pane = shows(&lcdd, "needs a pool");
    assert!(pane.contains("Refused"), "{pane}");
    assert_eq!(setting(&ns, &token, "dhcp.server")["value"], "off");

    // DHCP server > Pool first: Enter through the pool offered takes it; then Serve.
    choose(&lcdd, &["DHCP server", "Pool first"]);
    shows(&lcdd, "192.000.002.100");
    press(&lcdd, &["Enter"; 12]);
    shows(&lcdd, "192.0.2.100-192.0.2.");
    choose(&lcdd, &["DHCP server", "Serve"]);
    let pane = shows(&lcdd, "dhcp.server");
    assert!(pane.contains("Saved") && pane.contains("on"), "{pane}");
    assert_eq!(setting(&ns, &token, "dhcp.server")["value"], "on");
    assert_eq!(
        setting(&ns, &token, "dhcp.pool")["value"],
        "192.0.2.100-192.0.2.199"
    );
    let part = wait_within("the DHCP server in health", SHOWN, || {
        let p = network_health(&ns, &token);
        p["detail"]
            .as_str()?
            .contains("DHCP server on lan0 (192.0.2.100-192.0.2.199)")
            .then_some(p)
    });
    assert_eq!(part["state"], "ok", "{part}");
    // A real DHCP client on the other end of the LAN gets an address of the pool.
    let lease = wait_within("a lease for udhcpc", SHOWN, || {
        let out = phones
            .exec("udhcpc")
            .args([
                "-i",
                "eth0",
                "-f",
                "-n",
                "-q",
                "-t",
                "3",
                "-T",
                "1",
                "-s",
                "/bin/true",
            ])
            .output()
            .expect("udhcpc (busybox's udhcpc package) is installed");
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        text.contains("lease of 192.0.2.1").then_some(text)
    });
    assert!(lease.contains("obtained from 192.0.2.10"), "{lease}");
    shows(&lcdd, "DHCP on, 1 leases");

    // Restart: the same process runs again, on the settings kept.
    choose(&lcdd, &["Restart", "Yes, restart"]);
    let log = dir.path().join("server.log");
    wait_within("the restart to begin", SHOWN, || {
        std::fs::read_to_string(&log)
            .ok()?
            .contains("signal=\"front panel: restart\"")
            .then_some(())
    });
    wait_within("the appliance back", Duration::from_secs(60), || {
        let (status, _) = request(
            &ns,
            "POST",
            "/api/v1/session",
            None,
            Some(json!({
                "username": "admin", "password": password
            })),
        )?;
        (status == 200).then_some(())
    });
    assert!(
        app.child.try_wait().unwrap().is_none(),
        "restarted in place"
    );
    shows(&lcdd, "LAN 192.0.2.10/24");
    let token = sign_in(&ns, &password);
    assert_eq!(setting(&ns, &token, "dhcp.server")["value"], "on");

    // Shut down: the appliance stops, then the power-off command runs.
    choose(&lcdd, &["Shut down", "Yes, shut down"]);
    let status = wait_within("the appliance to stop", Duration::from_secs(60), || {
        app.child.try_wait().unwrap()
    });
    let log = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}: {log}");
    assert!(powered_off.exists(), "the power-off command ran: {log}");
    assert!(log.contains("signal=\"front panel: shut down\""), "{log}");
    assert!(!log.contains("panicked"), "{log}");
}

/// Opens the menu with its key (Escape), goes back to its top (LCDd opens it where it was
/// left) and walks `path`: for each name, Down (or Up, past the end) until the cursor (`>`) is
/// on it, then Enter. After each key it waits for that key's own effect on the display (the
/// cursor moved, the menu's title changed), so that keys LCDd has not read yet, on a loaded
/// machine, are never taken for done.
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

/// The menu's title (`## Network ####`), while a menu shows.
fn title(pane: &str) -> Option<String> {
    let line = pane.lines().next()?.strip_prefix("## ")?;
    Some(
        line.trim_end_matches(['#', '-', '+', ' '])
            .trim()
            .to_owned(),
    )
}

/// The item under the menu's cursor (`>Address`).
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

/// Presses `keys` one after the other, as a hand would.
fn press(lcdd: &Lcdd, keys: &[&str]) {
    for k in keys {
        lcdd.key(k);
        std::thread::sleep(Duration::from_millis(150));
    }
}

fn sign_in(ns: &Netns, password: &str) -> String {
    let (status, body) = request(
        ns,
        "POST",
        "/api/v1/session",
        None,
        Some(json!({"username": "admin", "password": password})),
    )
    .expect("the appliance answers");
    assert_eq!(status, 200, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// One setting as `GET /api/v1/settings` gives it.
fn setting(ns: &Netns, token: &str, key: &str) -> Value {
    let (status, body) =
        request(ns, "GET", "/api/v1/settings", Some(token), None).expect("the appliance answers");
    assert_eq!(status, 200, "{body}");
    body["settings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["key"] == key)
        .cloned()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
}

/// The health check's `network` part, as an admin sees it.
fn network_health(ns: &Netns, token: &str) -> Value {
    let (status, body) =
        request(ns, "GET", "/api/v1/health", Some(token), None).expect("the appliance answers");
    assert_eq!(status, 200, "{body}");
    body["subsystems"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "network")
        .cloned()
        .unwrap_or_else(|| panic!("no network part in {body}"))
}
