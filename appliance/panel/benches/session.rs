//! The LCDproc client's costs: parsing what LCDd sends (a mix of `success`, `listen`, `key`,
//! `menuevent` and `noop complete` lines), and a whole reconnection — `hello`, the replay of a
//! front panel's declared state (6 screens of 4 rows and a set-up menu of 19 items, as
//! Offhook's), every batch answered — with the bytes it sends.
#![allow(clippy::disallowed_methods)] // The session takes its instants from the caller.

use std::hint::black_box;
use std::net::IpAddr;
use std::time::Instant;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use offhook_panel::protocol::{
    self, Command, Id, MenuItem, MenuItemKind, MenuResult, Priority, ScreenOptions, Text,
    WidgetKind, WidgetValue,
};
use offhook_panel::session::{Config, Session};

const CONNECT: &[u8] = b"connect LCDproc 0.5.9 protocol 0.3 lcd wid 20 hgt 4 cellwid 5 cellhgt 8\n";

fn id(s: &str) -> Id {
    Id::new(s).unwrap()
}

/// Offhook's declared state: its screens, their rows, and its set-up menu.
fn declared() -> Vec<Command> {
    let mut out = Vec::new();
    for s in ["name", "gateways", "messages", "dhcp", "alert", "notice"] {
        out.push(Command::ScreenAdd(id(s)));
        out.push(Command::ScreenSet(
            id(s),
            ScreenOptions {
                name: Some(Text::new(&format!("Offhook {s}"))),
                priority: Some(Priority::Info),
                duration: Some(32),
                ..ScreenOptions::default()
            },
        ));
        for row in 0..4u16 {
            let w = id(&format!("r{row}"));
            out.push(Command::WidgetAdd {
                screen: id(s),
                widget: w.clone(),
                kind: WidgetKind::String,
            });
            out.push(Command::WidgetSet {
                screen: id(s),
                widget: w,
                value: WidgetValue::String {
                    x: 1,
                    y: row + 1,
                    text: Text::new("Gateways 1/1 up"),
                },
            });
        }
    }
    for i in 0..19 {
        let kind = if i % 3 == 0 {
            MenuItemKind::Ip {
                value: IpAddr::from([192, 0, 2, 10]),
            }
        } else {
            MenuItemKind::Action {
                result: MenuResult::Quit,
            }
        };
        out.push(Command::MenuAddItem {
            parent: None,
            id: id(&format!("item{i}")),
            item: MenuItem::new(Text::new("Address"), kind),
        });
    }
    out
}

/// Connects `s`, answers every batch as LCDd would, until it has nothing more to send; the
/// bytes it sent.
fn reconnect(s: &mut Session, now: Instant) -> usize {
    s.handle_connected(now);
    let mut sent = 0;
    let mut connected = false;
    while let Some(batch) = s.poll_transmit(now) {
        sent += batch.len();
        if !connected {
            s.handle_input(CONNECT);
            connected = true;
            continue;
        }
        let mut answer = Vec::new();
        for line in batch.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            answer.extend_from_slice(if line == b"noop" {
                b"noop complete\n"
            } else {
                b"success\n"
            });
        }
        s.handle_input(&answer);
    }
    while s.poll_event().is_some() {}
    sent
}

fn bench(c: &mut Criterion) {
    let lines: Vec<&[u8]> = vec![
        b"success",
        b"listen name",
        b"ignore name",
        b"key Down",
        b"menuevent update lan_ip 192.0.2.10",
        b"menuevent select pw_yes",
        b"noop complete",
        b"huh? Invalid command \"frob\"",
    ];
    let mut group = c.benchmark_group("lcdproc");
    group.throughput(Throughput::Elements(lines.len() as u64));
    group.bench_function("parse_8_lines", |b| {
        b.iter(|| {
            lines
                .iter()
                .filter(|l| protocol::parse(black_box(l)).is_ok())
                .count()
        })
    });
    let now = Instant::now();
    let mut s = Session::new(Config::default());
    for c in declared() {
        s.handle_command(c).unwrap();
    }
    let first = reconnect(&mut s, now);
    s.handle_disconnected();
    let bytes = reconnect(&mut s, now);
    assert!(
        bytes > first / 2,
        "the replay sends the state: {bytes} of {first}"
    );
    println!(
        "lcdproc reconnection: {} declared commands, {bytes} bytes sent (hello and replay)",
        declared().len()
    );
    group.throughput(Throughput::Bytes(bytes as u64));
    group.bench_function("reconnect_and_replay", |b| {
        b.iter(|| {
            s.handle_disconnected();
            reconnect(&mut s, now)
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
