//! The driver against the real LCDd 0.5.9 (Debian package lcdproc) with its `curses` driver in
//! a detached tmux pane: the screen's text shows, a key press comes back as a `key` event, the
//! menu key opens the client's menu, Enter on a checkbox and an edited ip item come back as
//! `menuevent update`, and after LCDd is killed and started again the client reconnects and its screen returns.
//! LCDd and tmux are required: without them this test fails.
// Polling the tmux pane needs real sleeps; the waits are generous upper bounds only.
#![allow(clippy::disallowed_methods)]

use std::time::Duration;

use offhook_panel::backoff::Backoff;
use offhook_panel::driver::{self, Config, Spawned};
use offhook_panel::lcdd::Lcdd;
use offhook_panel::protocol::{
    Checkbox, Command, Id, KeyName, MenuEventKind, MenuItem, MenuItemKind, Priority, ScreenOptions,
    WidgetKind, WidgetValue,
};
use offhook_panel::session::Event;
use tokio::sync::mpsc;
use tokio::time::timeout;

const WAIT: Duration = Duration::from_secs(30);

/// Waits for `text` on LCDd's display (a blocking poll, off the runtime's workers).
async fn wait_for_text(lcdd: &Lcdd, text: &str) {
    let r = tokio::task::block_in_place(|| lcdd.wait_for(WAIT, |pane| pane.contains(text)));
    assert!(
        r.is_ok(),
        "{text:?} not on the display:\n{}",
        r.unwrap_err()
    );
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
    let lcdd = Lcdd::start(20, 4);

    let Spawned {
        panel,
        mut events,
        stats,
        ..
    } = driver::spawn(Config {
        address: lcdd.address(),
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
                    value: "192.0.2.2".parse().unwrap(),
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
    wait_for_text(&lcdd, "Offhook \"panel\"").await;

    // A reserved key.
    lcdd.key("Down");
    until(&mut events, |e| *e == Event::Key("Down".into())).await;

    // The menu key opens the client's menu (it replaced LCDd's main menu); Enter toggles the
    // checkbox.
    lcdd.key("Escape");
    wait_for_text(&lcdd, "DHCP").await;
    lcdd.key("Enter");
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
    lcdd.key("Down");
    lcdd.key("Enter");
    wait_for_text(&lcdd, "192.000.002.002").await;
    lcdd.key("Up");
    for _ in 0..12 {
        lcdd.key("Enter");
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
    assert_ne!(address.to_string(), "192.0.2.2");
    lcdd.key("Escape");

    // LCDd goes away and comes back: the client reconnects and replays its screen.
    lcdd.kill();
    until(&mut events, |e| *e == Event::Disconnected).await;
    lcdd.launch();
    let seen = until(&mut events, |e| *e == Event::Synced).await;
    assert!(
        seen.iter().any(|e| matches!(e, Event::Connected(_))),
        "{seen:?}"
    );
    wait_for_text(&lcdd, "Offhook \"panel\"").await;
    let s = *stats.borrow();
    assert_eq!(s.connects, 2);
    assert_eq!(s.malformed + s.unknown + s.too_long, 0, "{s:?}");
}
