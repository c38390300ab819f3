//! The driver against the real LCDd 0.5.9 (Debian package lcdproc) with its `curses` driver in
//! a detached tmux pane: the screen's text shows, a key press comes back as a `key` event, the
//! menu key opens the client's menu, Enter on a checkbox and an edited ip item come back as
//! `menuevent update`, and after LCDd is killed and started again the client reconnects and its screen returns.
//! LCDd and tmux are required: without them this test fails.
// Polling the tmux pane needs real sleeps; the waits are generous upper bounds only.
#![allow(clippy::disallowed_methods)]

use std::path::{Path, PathBuf};
use std::process::Command as Process;
use std::time::Duration;

use offhook_panel::backoff::Backoff;
use offhook_panel::driver::{self, Config, Spawned};
use offhook_panel::protocol::{
    Checkbox, Command, Id, KeyName, MenuEventKind, MenuItem, MenuItemKind, Priority, ScreenOptions,
    WidgetKind, WidgetValue,
};
use offhook_panel::session::Event;
use tokio::sync::mpsc;
use tokio::time::timeout;

const LCDD: &str = "/usr/sbin/LCDd";
const DRIVERS: &str = "/usr/lib/x86_64-linux-gnu/lcdproc/";
const WAIT: Duration = Duration::from_secs(30);

/// Kills the tmux session (and LCDd in it) however the test ends.
struct Tmux {
    name: String,
    config: PathBuf,
}

impl Tmux {
    fn start(name: &str, config: &Path) -> Self {
        let t = Self {
            name: name.to_owned(),
            config: config.to_owned(),
        };
        t.launch();
        t
    }

    fn launch(&self) {
        let command = format!("ESCDELAY=25 {LCDD} -c {} -f", self.config.display());
        let status = Process::new("tmux")
            .args(["new-session", "-d", "-s", &self.name, "-x", "20", "-y", "4"])
            .arg(command)
            .status()
            .expect("tmux must be installed");
        assert!(status.success(), "tmux new-session failed");
    }

    fn kill(&self) {
        let _ = Process::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }

    fn pane(&self) -> String {
        let out = Process::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.name])
            .output()
            .expect("tmux capture-pane");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn key(&self, key: &str) {
        let status = Process::new("tmux")
            .args(["send-keys", "-t", &self.name, key])
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    async fn wait_for_text(&self, text: &str) {
        let found = timeout(WAIT, async {
            loop {
                if self.pane().contains(text) {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
        .await;
        assert!(found.is_ok(), "{text:?} not on the pane:\n{}", self.pane());
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.kill();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn id(s: &str) -> Id {
    Id::new(s).unwrap()
}

async fn until(events: &mut mpsc::Receiver<Event>, f: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    let r = timeout(WAIT, async {
        loop {
            let e = events.recv().await.expect("driver running");
            let done = f(&e);
            seen.push(e);
            if done {
                return;
            }
        }
    })
    .await;
    assert!(r.is_ok(), "event not seen; saw {seen:?}");
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_lcdd() {
    assert!(
        Path::new(LCDD).exists(),
        "LCDd (package lcdproc) is required"
    );
    assert!(
        Path::new(DRIVERS).join("curses.so").exists(),
        "curses.so is required"
    );
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let config = dir.path().join("LCDd.conf");
    std::fs::write(
        &config,
        format!(
            "[server]\nDriverPath={DRIVERS}\nDriver=curses\nBind=127.0.0.1\nPort={port}\n\
             Foreground=yes\nReportToSyslog=no\nServerScreen=no\nWaitTime=5\n\
             [menu]\nMenuKey=Escape\nEnterKey=Enter\nUpKey=Up\nDownKey=Down\n\
             [curses]\nSize=20x4\nDrawBorder=no\nTopLeftX=0\nTopLeftY=0\nUseACS=no\n"
        ),
    )
    .unwrap();
    let name = format!("offhook-panel-{}-{port}", std::process::id());
    let tmux = Tmux::start(&name, &config);

    let Spawned {
        panel,
        mut events,
        stats,
        ..
    } = driver::spawn(Config {
        address: format!("127.0.0.1:{port}"),
        backoff: Backoff::new(Duration::from_millis(50), Duration::from_millis(500)),
        ..Config::default()
    });
    for command in [
        Command::ScreenAdd(id("status")),
        Command::ScreenSet(
            id("status"),
            ScreenOptions {
                priority: Some(Priority::Foreground),
                ..Default::default()
            },
        ),
        Command::WidgetAdd {
            screen: id("status"),
            widget: id("name"),
            kind: WidgetKind::String,
        },
        Command::WidgetSet {
            screen: id("status"),
            widget: id("name"),
            value: WidgetValue::String {
                x: 1,
                y: 2,
                text: "Offhook \"panel\"".into(),
            },
        },
        Command::ClientAddKey {
            exclusive: false,
            keys: vec![KeyName::new("Up").unwrap(), KeyName::new("Down").unwrap()],
        },
        Command::MenuAddItem {
            parent: None,
            id: id("dhcp"),
            item: MenuItem::new(
                "DHCP",
                MenuItemKind::Checkbox {
                    value: Checkbox::On,
                    allow_gray: false,
                },
            ),
        },
        Command::MenuAddItem {
            parent: None,
            id: id("lan"),
            item: MenuItem::new(
                "LAN",
                MenuItemKind::Ip {
                    value: "192.168.1.2".parse().unwrap(),
                },
            ),
        },
        Command::MenuSetMain(None),
    ] {
        panel.send(command).await.unwrap();
    }
    let seen = until(&mut events, |e| *e == Event::Synced).await;
    assert!(
        seen.iter()
            .any(|e| matches!(e, Event::Connected(d) if d.width == 20 && d.height == 4)),
        "{seen:?}"
    );
    assert!(
        !seen.iter().any(|e| matches!(e, Event::Refused { .. })),
        "{seen:?}"
    );
    tmux.wait_for_text("Offhook \"panel\"").await;

    // A reserved key.
    tmux.key("Down");
    until(&mut events, |e| *e == Event::Key("Down".into())).await;

    // The menu key opens the client's menu (it replaced LCDd's main menu); Enter toggles the
    // checkbox.
    tmux.key("Escape");
    tmux.wait_for_text("DHCP").await;
    tmux.key("Enter");
    until(&mut events, |e| {
        *e == Event::Menu {
            kind: MenuEventKind::Update,
            id: "dhcp".into(),
            value: Some("off".into()),
        }
    })
    .await;
    // The ip item: Enter opens its editor, Up changes the first digit, Enter walks the twelve
    // digits and the last one commits the new address.
    tmux.key("Down");
    tmux.key("Enter");
    tmux.wait_for_text("192.168.001.002").await;
    tmux.key("Up");
    for _ in 0..12 {
        tmux.key("Enter");
    }
    let seen = until(
        &mut events,
        |e| matches!(e, Event::Menu { kind: MenuEventKind::Update, id, .. } if id == "lan"),
    )
    .await;
    let Some(Event::Menu {
        value: Some(value), ..
    }) = seen.last()
    else {
        panic!("{seen:?}")
    };
    let address: std::net::Ipv4Addr = value.parse().expect("LCDd reports a plain address");
    assert_ne!(address.to_string(), "192.168.1.2");
    tmux.key("Escape");

    // LCDd goes away and comes back: the client reconnects and replays its screen.
    tmux.kill();
    until(&mut events, |e| *e == Event::Disconnected).await;
    tmux.launch();
    let seen = until(&mut events, |e| *e == Event::Synced).await;
    assert!(
        seen.iter().any(|e| matches!(e, Event::Connected(_))),
        "{seen:?}"
    );
    tmux.wait_for_text("Offhook \"panel\"").await;
    let s = *stats.borrow();
    assert_eq!(s.connects, 2);
    assert_eq!(s.malformed + s.unknown + s.too_long, 0, "{s:?}");
}
