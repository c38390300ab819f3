//! The driver and session against a scripted fake LCDd on loopback: notices interleaved with a
//! batch's answers, `huh?` lines (one with no `success`), a connection closed before `hello`
//! is answered, one closed mid-batch, and the replay on the next connection.

use std::time::Duration;

use offhook_panel::backoff::Backoff;
use offhook_panel::driver::{self, Config, Spawned};
use offhook_panel::protocol::{
    Command, Id, KeyName, MenuEventKind, MenuItem, MenuItemKind, MenuResult, ScreenOptions,
    WidgetKind, WidgetValue,
};
use offhook_panel::session::Event;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;

/// An upper bound on any wait; never reached when the code works.
const WAIT: Duration = Duration::from_secs(20);
const CONNECT: &str = "connect LCDproc 0.5.9 protocol 0.3 lcd wid 20 hgt 4 cellwid 5 cellhgt 8\n";

fn id(s: &str) -> Id {
    Id::new(s).unwrap()
}

struct Peer {
    lines: tokio::io::Lines<BufReader<tokio::net::tcp::OwnedReadHalf>>,
    write: tokio::net::tcp::OwnedWriteHalf,
}

impl Peer {
    async fn accept(listener: &TcpListener) -> Self {
        let (stream, _) = timeout(WAIT, listener.accept()).await.unwrap().unwrap();
        let (r, write) = stream.into_split();
        Self {
            lines: BufReader::new(r).lines(),
            write,
        }
    }

    async fn line(&mut self) -> String {
        timeout(WAIT, self.lines.next_line())
            .await
            .unwrap()
            .unwrap()
            .expect("client closed")
    }

    async fn send(&mut self, s: &str) {
        self.write.write_all(s.as_bytes()).await.unwrap();
    }

    /// Reads one batch (up to its `noop`).
    async fn batch(&mut self) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let l = self.line().await;
            if l == "noop" {
                return lines;
            }
            lines.push(l);
        }
    }

    async fn handshake(&mut self) {
        assert_eq!(self.line().await, "hello");
        self.send(CONNECT).await;
    }
}

async fn next_event(events: &mut mpsc::Receiver<Event>) -> Event {
    timeout(WAIT, events.recv()).await.unwrap().unwrap()
}

/// Events up to and including the first that matches.
async fn until(events: &mut mpsc::Receiver<Event>, f: impl Fn(&Event) -> bool) -> Vec<Event> {
    let mut seen = Vec::new();
    loop {
        let e = next_event(events).await;
        let done = f(&e);
        seen.push(e);
        if done {
            return seen;
        }
    }
}

#[tokio::test]
async fn transcript() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let Spawned {
        panel,
        mut events,
        stats,
        task,
    } = driver::spawn(Config {
        address,
        backoff: Backoff::new(Duration::from_millis(5), Duration::from_millis(20)),
        ..Config::default()
    });

    // Declarations before any connection: recorded, sent with the replay.
    panel.send(Command::ScreenAdd(id("s1"))).await.unwrap();
    panel
        .send(Command::ScreenSet(
            id("s1"),
            ScreenOptions {
                name: Some("Status".into()),
                duration: Some(16),
                ..Default::default()
            },
        ))
        .await
        .unwrap();
    panel
        .send(Command::WidgetAdd {
            screen: id("s1"),
            widget: id("w"),
            kind: WidgetKind::String,
        })
        .await
        .unwrap();
    panel
        .send(Command::ClientAddKey {
            exclusive: false,
            keys: vec![KeyName::new("Up").unwrap()],
        })
        .await
        .unwrap();
    panel
        .send(Command::MenuAddItem {
            parent: None,
            id: id("a1"),
            item: MenuItem::new(
                "Restart",
                MenuItemKind::Action {
                    result: MenuResult::Close,
                },
            ),
        })
        .await
        .unwrap();

    // Connection 0: LCDd closes before answering hello; the driver backs off and retries.
    let mut p = Peer::accept(&listener).await;
    assert_eq!(p.line().await, "hello");
    drop(p);

    // Connection 1: notices between the answers, huh? lines, one without a success.
    let mut p = Peer::accept(&listener).await;
    p.handshake().await;
    let batch = p.batch().await;
    assert_eq!(batch[0], "client_set -name \"Offhook\"");
    assert!(batch.contains(&"screen_set s1 -name \"Status\" -duration 16".to_owned()));
    for line in &batch {
        if line.starts_with("screen_set") {
            // Once per option: one refused without a success, one accepted.
            p.send("huh? invalid parameter\nlisten s1\nsuccess\n").await;
        } else if line.starts_with("menu_add_item") {
            p.send("huh? Unknown option: \"-x\"\nkey Up\nsuccess\nmenuevent select a1\n")
                .await;
        } else {
            p.send("success\n").await;
        }
    }
    p.send("noop complete\n").await;
    let seen = until(&mut events, |e| *e == Event::Synced).await;
    assert!(matches!(&seen[0], Event::Connected(d) if d.width == 20 && d.height == 4));
    let rest: Vec<&Event> = seen[1..].iter().collect();
    assert_eq!(
        rest,
        [
            &Event::Listen("s1".into()),
            &Event::Key("Up".into()),
            &Event::Menu {
                kind: MenuEventKind::Select,
                id: "a1".into(),
                value: None
            },
            &Event::Refused {
                commands: batch.len(),
                errors: vec!["invalid parameter".into(), "Unknown option: \"-x\"".into()]
            },
            &Event::Synced,
        ]
    );

    // A huh? outside any batch is reported too.
    p.send("huh? something odd\n").await;
    assert_eq!(
        next_event(&mut events).await,
        Event::Refused {
            commands: 0,
            errors: vec!["something odd".into()]
        }
    );

    // An update; LCDd answers part of the batch and goes away mid-batch.
    panel
        .send(Command::WidgetSet {
            screen: id("s1"),
            widget: id("w"),
            value: WidgetValue::String {
                x: 1,
                y: 1,
                text: "up 2".into(),
            },
        })
        .await
        .unwrap();
    assert_eq!(p.batch().await, ["widget_set s1 w 1 1 \"up 2\""]);
    p.send("key Up\nsuccess\n").await;
    drop(p);
    let seen = until(&mut events, |e| *e == Event::Disconnected).await;
    assert_eq!(seen, [Event::Key("Up".into()), Event::Disconnected]);

    // Connection 2: the replay carries the latest state.
    let mut p = Peer::accept(&listener).await;
    p.handshake().await;
    let replay = p.batch().await;
    assert_eq!(
        replay,
        [
            "client_set -name \"Offhook\"",
            "client_add_key Up",
            "screen_add s1",
            "screen_set s1 -name \"Status\" -duration 16",
            "widget_add s1 w string",
            "widget_set s1 w 1 1 \"up 2\"",
            "menu_add_item \"\" a1 action -text \"Restart\" -menu_result close",
        ]
    );
    for _ in 0..replay.len() + 1 {
        p.send("success\n").await;
    }
    p.send("noop complete\n").await;
    let seen = until(&mut events, |e| *e == Event::Synced).await;
    assert!(matches!(seen[0], Event::Connected(_)));
    assert_eq!(seen.len(), 2, "{seen:?}");

    let s = *stats.borrow();
    assert_eq!(s.connects, 2);
    assert_eq!(s.huh, 3);
    assert_eq!(s.unexpected_huh, 1);
    assert_eq!(s.batches_refused, 1);

    // Dropping the handle stops the driver.
    drop(panel);
    drop(p);
    timeout(WAIT, task).await.unwrap().unwrap();
}

/// LCDd accepts and answers `hello`, then hangs: the session's reply timeout (virtual time)
/// drops the connection and the driver reconnects.
#[tokio::test(start_paused = true)]
async fn hung_lcdd_is_left_and_reconnected() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let Spawned {
        panel,
        mut events,
        stats,
        ..
    } = driver::spawn(Config {
        address: listener.local_addr().unwrap().to_string(),
        backoff: Backoff::new(Duration::from_millis(5), Duration::from_millis(20)),
        ..Config::default()
    });
    let mut p = Peer::accept(&listener).await;
    p.handshake().await;
    assert_eq!(p.batch().await, ["client_set -name \"Offhook\""]);
    // No answer: after the reply timeout the driver gives up on this connection.
    let mut again = Peer::accept(&listener).await;
    assert_eq!(again.line().await, "hello");
    let seen = until(&mut events, |e| *e == Event::Disconnected).await;
    assert!(matches!(seen[0], Event::Connected(_)), "{seen:?}");
    assert_eq!(stats.borrow().reply_timeouts, 1);
    drop((panel, p));
}
