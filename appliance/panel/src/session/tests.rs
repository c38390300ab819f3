use super::*;
use crate::protocol::{ScreenOptions, WidgetKind, WidgetValue};

#[allow(clippy::disallowed_methods)] // a base instant for virtual time, never a measurement
fn t0() -> Instant {
    Instant::now()
}

fn id(s: &str) -> Id {
    Id::new(s).unwrap()
}

fn sent(s: &mut Session) -> String {
    sent_at(s, t0())
}

fn sent_at(s: &mut Session, now: Instant) -> String {
    let mut all = Vec::new();
    while let Some(b) = s.poll_transmit(now) {
        all.extend_from_slice(&b);
    }
    String::from_utf8(all).unwrap()
}

fn events(s: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| s.poll_event()).collect()
}

const CONNECT: &[u8] = b"connect LCDproc 0.5.9 protocol 0.3 lcd wid 16 hgt 2 cellwid 5 cellhgt 8\n";

fn up() -> Session {
    let mut s = Session::new(Config::default());
    s.handle_command(Command::ScreenAdd(id("s"))).unwrap();
    s.handle_connected(t0());
    assert_eq!(sent(&mut s), "hello\n");
    s.handle_input(CONNECT);
    assert_eq!(
        sent(&mut s),
        "client_set -name \"Offhook\"\nscreen_add s\nnoop\n"
    );
    s.handle_input(b"success\nsuccess\nnoop complete\n");
    let ev = events(&mut s);
    assert!(matches!(&ev[0], Event::Connected(d) if d.width == 16 && d.height == 2));
    assert_eq!(ev[1], Event::Synced);
    s
}

#[test]
fn notices_between_answers_and_errors_go_to_their_batch() {
    let mut s = up();
    s.handle_command(Command::ScreenSet(
        id("s"),
        ScreenOptions {
            name: Some("x".into()),
            duration: Some(8),
            ..Default::default()
        },
    ))
    .unwrap();
    assert_eq!(sent(&mut s), "screen_set s -name \"x\" -duration 8\nnoop\n");
    // Split anywhere, notices in between, one huh? without a success.
    for chunk in [
        &b"succ"[..],
        b"ess\nkey Up\nlis",
        b"ten s\nhuh? invalid parameter\n",
        b"menuevent select a1\nnoop complete\n",
    ] {
        s.handle_input(chunk);
    }
    assert_eq!(
        events(&mut s),
        [
            Event::Key("Up".into()),
            Event::Listen("s".into()),
            Event::Menu {
                kind: MenuEventKind::Select,
                id: "a1".into(),
                value: None
            },
            Event::Refused {
                commands: 1,
                errors: vec!["invalid parameter".into()]
            },
            Event::Synced,
        ]
    );
    assert_eq!(s.stats().huh, 1);
    assert_eq!(s.stats().batches_refused, 1);
}

#[test]
fn out_of_place_and_bad_lines_are_counted() {
    let mut s = Session::new(Config::default());
    s.handle_connected(t0());
    s.handle_input(b"key Up\nsuccess\nnoop complete\nhuh? no\nfrob\nkey \xff\n");
    s.handle_input(&vec![b'x'; MAX_LINE + 10]);
    s.handle_input(b"yy\n");
    s.handle_input(CONNECT);
    s.handle_input(CONNECT);
    let st = *s.stats();
    assert_eq!(st.early_notices, 1);
    assert_eq!(st.unexpected_success, 1);
    assert_eq!(st.unexpected_noop, 1);
    assert_eq!(st.unexpected_huh, 1);
    assert_eq!(st.unknown, 1);
    assert_eq!(st.malformed, 1);
    assert_eq!(st.too_long, 1);
    assert_eq!(st.unexpected_connect, 1);
    assert_eq!(st.connects, 1);
    assert_eq!(st.lines, 9);
}

#[test]
fn replay_after_reconnect_holds_the_latest_state() {
    let mut s = up();
    let w = |text: &str| Command::WidgetSet {
        screen: id("s"),
        widget: id("w"),
        value: WidgetValue::String {
            x: 1,
            y: 1,
            text: text.into(),
        },
    };
    s.handle_command(Command::WidgetAdd {
        screen: id("s"),
        widget: id("w"),
        kind: WidgetKind::String,
    })
    .unwrap();
    s.handle_command(w("one")).unwrap();
    // Mid-batch, the connection goes.
    let _ = sent(&mut s);
    s.handle_input(b"success\n");
    s.handle_disconnected();
    assert_eq!(events(&mut s), [Event::Disconnected]);
    s.handle_command(w("two")).unwrap();
    s.handle_command(Command::ScreenAdd(id("gone"))).unwrap();
    s.handle_command(Command::ScreenDel(id("gone"))).unwrap();
    assert_eq!(sent(&mut s), "");
    s.handle_connected(t0());
    s.handle_input(CONNECT);
    assert_eq!(
        sent(&mut s),
        "hello\nclient_set -name \"Offhook\"\nscreen_add s\nwidget_add s w string\n\
         widget_set s w 1 1 \"two\"\nnoop\n"
    );
}

#[test]
fn misuse_is_refused() {
    let mut s = up();
    assert_eq!(s.handle_command(Command::Noop), Err(ApiError::Reserved));
    assert_eq!(
        s.handle_command(Command::ScreenAdd(id("s"))),
        Err(ApiError::Duplicate(id("s")))
    );
    assert_eq!(
        s.handle_command(Command::ScreenDel(id("t"))),
        Err(ApiError::Unknown(id("t")))
    );
    assert_eq!(s.stats().rejected, 3);
    assert_eq!(sent(&mut s), "");
}

#[test]
fn queues_are_bounded() {
    let mut s = up();
    for i in 0..MAX_EVENTS + 5 {
        s.handle_input(format!("key K{i}\n").as_bytes());
    }
    assert_eq!(events(&mut s).len(), MAX_EVENTS);
    assert_eq!(s.stats().events_dropped, 5);
    // Batches: at most MAX_BATCH commands each, at most MAX_IN_FLIGHT outstanding.
    for _ in 0..(MAX_BATCH * (MAX_IN_FLIGHT + 1)) {
        s.handle_command(Command::Backlight(protocol::Backlight::On))
            .unwrap();
    }
    let mut batches = 0;
    while let Some(b) = s.poll_transmit(t0()) {
        assert_eq!(b.iter().filter(|&&c| c == b'\n').count(), MAX_BATCH + 1);
        batches += 1;
    }
    assert_eq!(batches, MAX_IN_FLIGHT);
    s.handle_input(b"noop complete\n");
    assert!(s.poll_transmit(t0()).is_some());
    // A batch keeps at most MAX_ERRORS_KEPT texts.
    let mut s = up();
    s.handle_command(Command::ScreenDel(id("s"))).unwrap();
    let _ = sent(&mut s);
    for _ in 0..MAX_ERRORS_KEPT + 3 {
        s.handle_input(b"huh? x\n");
    }
    s.handle_input(b"noop complete\n");
    assert!(
        matches!(&events(&mut s)[0], Event::Refused { errors, .. } if errors.len() == MAX_ERRORS_KEPT)
    );
    assert_eq!(s.stats().huh_texts_dropped, 3);
}

#[test]
fn keepalive_when_quiet_and_close_when_unanswered() {
    let config = Config::default();
    let start = t0();
    let mut s = Session::new(config.clone());
    s.handle_connected(start);
    assert_eq!(s.poll_timeout(), Some(start + config.reply_timeout));
    let _ = sent_at(&mut s, start);
    s.handle_input(CONNECT);
    let at = start + Duration::from_secs(1);
    assert_eq!(sent_at(&mut s, at), "client_set -name \"Offhook\"\nnoop\n");
    assert_eq!(s.poll_timeout(), Some(at + config.reply_timeout));
    s.handle_input(b"success\nnoop complete\n");
    assert_eq!(events(&mut s).last(), Some(&Event::Synced));
    // Quiet: a lone noop after the keep-alive interval, and no Synced for it.
    let due = at + config.keepalive;
    assert_eq!(s.poll_timeout(), Some(due));
    s.handle_timeout(due - Duration::from_millis(1));
    assert_eq!(sent_at(&mut s, due), "");
    s.handle_timeout(due);
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(sent_at(&mut s, due), "noop\n");
    s.handle_input(b"noop complete\n");
    assert_eq!(events(&mut s), []);
    assert_eq!(s.stats().keepalives, 1);
    // The next keep-alive goes unanswered: the session asks to close, once.
    let due = due + config.keepalive;
    s.handle_timeout(due);
    let _ = sent_at(&mut s, due);
    assert!(!s.poll_close());
    let late = due + config.reply_timeout;
    assert_eq!(s.poll_timeout(), Some(late));
    s.handle_timeout(late);
    assert!(s.poll_close());
    assert_eq!(s.stats().reply_timeouts, 1);
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(sent_at(&mut s, late), "");
    s.handle_disconnected();
    assert!(!s.poll_close());
    assert_eq!(events(&mut s), [Event::Disconnected]);
}

#[test]
fn unanswered_hello_closes() {
    let config = Config::default();
    let start = t0();
    let mut s = Session::new(config.clone());
    s.handle_connected(start);
    s.handle_timeout(start + config.reply_timeout);
    assert!(s.poll_close());
    assert_eq!(s.stats().reply_timeouts, 1);
}

#[test]
fn user_updates_survive_a_replay() {
    use crate::protocol::{Checkbox, MenuItem, MenuItemKind};
    let mut s = up();
    s.handle_command(Command::MenuAddItem {
        parent: None,
        id: id("dhcp"),
        item: MenuItem::new(
            "DHCP",
            MenuItemKind::Checkbox {
                value: Checkbox::On,
                allow_gray: false,
            },
        ),
    })
    .unwrap();
    s.handle_command(Command::MenuAddItem {
        parent: None,
        id: id("lan"),
        item: MenuItem::new(
            "LAN",
            MenuItemKind::Ip {
                value: "192.0.2.2".parse().unwrap(),
            },
        ),
    })
    .unwrap();
    let _ = sent(&mut s);
    // LCDd pads addresses with zeros; a value that does not read as the type changes nothing.
    s.handle_input(b"menuevent update dhcp off\nmenuevent update lan 192.000.002.029\n");
    s.handle_input(b"menuevent update dhcp maybe\nmenuevent update nosuch on\n");
    s.handle_disconnected();
    s.handle_connected(t0());
    s.handle_input(CONNECT);
    let replay = sent(&mut s);
    assert!(
        replay.contains("menu_add_item \"\" dhcp checkbox -text \"DHCP\" -value off "),
        "{replay}"
    );
    assert!(replay.contains("-value \"192.0.2.29\""), "{replay}");
}

#[test]
fn connected_and_display_follow_the_connection() {
    let mut s = Session::new(Config::default());
    assert!(!s.is_connected());
    s.handle_connected(t0());
    assert!(!s.is_connected());
    assert_eq!(s.display(), None);
    s.handle_input(CONNECT);
    assert!(s.is_connected());
    assert_eq!(
        s.display(),
        Some(&Display {
            width: 16,
            height: 2,
            cell_width: 5,
            cell_height: 8,
            server_version: "0.5.9".into(),
            protocol: "0.3".into(),
        })
    );
    s.handle_disconnected();
    assert!(!s.is_connected());
    assert_eq!(s.display(), None);
}

#[test]
fn commands_beyond_max_pending_are_refused_while_up() {
    let mut s = up();
    let backlight = || Command::Backlight(protocol::Backlight::On);
    for _ in 0..MAX_PENDING {
        s.handle_command(backlight()).unwrap();
    }
    assert_eq!(s.handle_command(backlight()), Err(ApiError::QueueFull));
    assert_eq!(s.stats().rejected, 1);
    // Sending frees the queue.
    let _ = s.poll_transmit(t0());
    s.handle_command(backlight()).unwrap();
}

#[test]
fn a_line_of_max_line_bytes_is_read_and_a_longer_one_discarded_whole() {
    let mut s = up();
    let mut line = b"huh? ".to_vec();
    line.resize(MAX_LINE, b'x');
    line.push(b'\n');
    s.handle_input(&line);
    assert!(matches!(
        &events(&mut s)[..],
        [Event::Refused { commands: 0, errors }] if errors[0].len() == MAX_LINE - 5
    ));
    // One byte more, in a single chunk with its `\n`: dropped before parsing.
    line.insert(0, b'x');
    s.handle_input(&line);
    assert_eq!(events(&mut s), []);
    let st = *s.stats();
    assert_eq!((st.too_long, st.malformed, st.unexpected_huh), (1, 0, 1));
}

#[test]
fn unknown_and_malformed_lines_are_counted_apart() {
    let mut s = up();
    s.handle_input(b"frob\nfrob\nkey\n");
    assert_eq!((s.stats().unknown, s.stats().malformed), (2, 1));
}

#[test]
fn synced_only_once_the_last_batch_is_answered() {
    let mut s = up();
    for _ in 0..MAX_BATCH + 1 {
        s.handle_command(Command::Backlight(protocol::Backlight::Off))
            .unwrap();
    }
    let batches = sent(&mut s);
    assert_eq!(batches.matches("noop\n").count(), 2);
    assert_eq!(s.stats().batches_sent, 3);
    s.handle_input(b"noop complete\n");
    assert_eq!(events(&mut s), []);
    s.handle_input(b"noop complete\n");
    assert_eq!(events(&mut s), [Event::Synced]);
}

#[test]
fn bye_is_counted() {
    let mut s = up();
    s.handle_input(b"bye\n");
    assert_eq!(s.stats().byes, 1);
}

#[test]
fn nothing_is_sent_once_the_session_asks_to_close() {
    let config = Config::default();
    let mut s = up();
    s.handle_command(Command::Backlight(protocol::Backlight::On))
        .unwrap();
    assert_eq!(sent(&mut s), "backlight on\nnoop\n");
    let late = t0() + config.reply_timeout;
    s.handle_timeout(late);
    assert!(s.poll_close());
    // Accepted into the declared state for the next connection, but not sent on this one.
    s.handle_command(Command::Backlight(protocol::Backlight::Off))
        .unwrap();
    assert_eq!(sent_at(&mut s, late), "");
    s.handle_disconnected();
    s.handle_connected(late);
    s.handle_input(CONNECT);
    assert_eq!(
        sent_at(&mut s, late),
        "hello\nclient_set -name \"Offhook\"\nscreen_add s\nbacklight off\nnoop\n"
    );
}

#[test]
fn the_fullest_declaration_replays_in_max_replay_lines() {
    use crate::declared::{MAX_KEYS, MAX_MENU_ITEMS, MAX_REPLAY, MAX_SCREENS, MAX_WIDGETS};
    use crate::protocol::{KeyName, MenuItem, MenuItemKind, Output};
    let mut s = Session::new(Config::default());
    let keys = (0..MAX_KEYS)
        .map(|i| KeyName::new(&format!("K{i}")).unwrap())
        .collect();
    s.handle_command(Command::ClientAddKey {
        exclusive: false,
        keys,
    })
    .unwrap();
    for i in 0..MAX_SCREENS {
        let screen = id(&format!("s{i}"));
        s.handle_command(Command::ScreenAdd(screen.clone()))
            .unwrap();
        let options = ScreenOptions {
            duration: Some(8),
            ..Default::default()
        };
        s.handle_command(Command::ScreenSet(screen.clone(), options))
            .unwrap();
        for j in 0..MAX_WIDGETS {
            let widget = id(&format!("w{j}"));
            s.handle_command(Command::WidgetAdd {
                screen: screen.clone(),
                widget: widget.clone(),
                kind: WidgetKind::String,
            })
            .unwrap();
            s.handle_command(Command::WidgetSet {
                screen: screen.clone(),
                widget,
                value: WidgetValue::String {
                    x: 1,
                    y: 1,
                    text: "x".into(),
                },
            })
            .unwrap();
        }
    }
    for i in 0..MAX_MENU_ITEMS {
        s.handle_command(Command::MenuAddItem {
            parent: None,
            id: id(&format!("m{i}")),
            item: MenuItem::new("m", MenuItemKind::Menu),
        })
        .unwrap();
    }
    s.handle_command(Command::MenuSetMain(None)).unwrap();
    s.handle_command(Command::Backlight(protocol::Backlight::On))
        .unwrap();
    s.handle_command(Command::Output(Output::Bits(1))).unwrap();
    s.handle_connected(t0());
    s.handle_input(CONNECT);
    let mut commands = 0;
    loop {
        let out = sent(&mut s);
        if out.is_empty() {
            break;
        }
        commands += out
            .lines()
            .filter(|l| *l != "hello" && *l != "noop")
            .count();
        for _ in out.lines().filter(|l| *l == "noop") {
            s.handle_input(b"noop complete\n");
        }
    }
    assert_eq!(commands, MAX_REPLAY);
}
