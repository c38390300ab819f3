//! Digit maps (RFC 3435 §2.1.5, issue 15): `Command::CollectDigits` sends the map with
//! `D/[0-9#*T](D)`; the gateway's one notification with the collected keys becomes one
//! `Event::Dialled`; then single keys are reported again.

use super::*;
use crate::model::{Command, Digit, DigitMap};

/// The map of RFC 3435 §2.1.5's example.
const MAP: &str = "(0T|00T|[1-7]xxx|8xxxxxxx|#xxxxxxx|*xx|91xxxxxxxxxx|9011x.T)";

fn collect(h: &mut Harness) {
    h.command(Command::CollectDigits {
        line: line(1),
        map: DigitMap::parse(MAP).unwrap(),
    });
}

/// A harness whose line 1 is off hook and armed for single keys.
fn off_hook() -> Harness {
    let mut h = Harness::armed(1);
    h.send("NTFY 100 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n");
    assert!(h.recv().text.starts_with("200 100"));
    let arm = h.recv();
    off_hook_request(&arm);
    h.send(&ok(&arm));
    h.events.clear();
    h
}

fn keys(s: &str) -> Vec<Digit> {
    s.chars().map(|c| Digit::new(c).unwrap()).collect()
}

fn dialled(digits: &str) -> Event {
    Event::Dialled {
        line: line(1),
        digits: keys(digits),
    }
}

/// Sends the collecting request and checks it: `R:` asks the keys and the timer under the map,
/// `D:` carries the map (RFC 3435 §2.1.5's example request). Returns its `X:`.
fn collecting_request(h: &mut Harness, digit_package: &str) -> String {
    collect(h);
    let rqnt = h.recv();
    assert_eq!(rqnt.verb(), "RQNT");
    assert_eq!(
        rqnt.param("R"),
        Some(format!("L/hu(N),L/hf(N),{digit_package}/[0-9#*T](D)").as_str()),
        "{}",
        rqnt.text
    );
    assert_eq!(rqnt.param("D"), Some(MAP));
    h.send(&ok(&rqnt));
    rqnt.param("X").unwrap().to_owned()
}

#[test]
fn a_dial_string_comes_in_one_event_and_single_keys_follow() {
    let mut h = off_hook();
    let x = collecting_request(&mut h, "D");
    // The gateway reports the accumulated keys in one NTFY (§2.1.5).
    h.send(&format!(
        "NTFY 101 aaln/1@gw1.example.net MGCP 1.0\nX: {x}\nO: D/4,D/1,D/2,D/3\n"
    ));
    assert!(h.recv().text.starts_with("200 101"));
    assert_eq!(h.event(), dialled("4123"));
    assert!(h.events.is_empty());
    // Then back to one key a notification, without a map.
    let rearm = h.recv();
    off_hook_request(&rearm);
    assert_eq!(rearm.param("D"), None);
    h.send(&ok(&rearm));
    h.send("NTFY 102 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: D/#\n");
    h.recv();
    assert_eq!(
        h.event(),
        Event::Digit {
            line: line(1),
            digit: Digit::new('#').unwrap()
        }
    );
    assert_eq!(h.agent.stats().dial_strings, 1);
}

/// A key the gateway notified under the request before the map (it crossed the collecting
/// request) is a key of its own, not a dial string: the collection goes on, and the re-arm
/// carries the map again.
#[test]
fn a_key_that_crossed_the_collecting_request_is_a_single_key() {
    let mut h = Harness::armed(1);
    h.send("NTFY 100 aaln/1@gw1.example.net MGCP 1.0\nX: 1\nO: L/hd\n");
    assert!(h.recv().text.starts_with("200 100"));
    let arm = h.recv();
    off_hook_request(&arm);
    let before = arm.param("X").unwrap().to_owned();
    h.send(&ok(&arm));
    h.events.clear();
    collect(&mut h);
    let rqnt = h.recv();
    assert_eq!(rqnt.param("D"), Some(MAP));
    let x = rqnt.param("X").unwrap().to_owned();
    h.send(&format!(
        "NTFY 101 aaln/1@gw1.example.net MGCP 1.0\nX: {before}\nO: D/4\n"
    ));
    assert!(h.recv().text.starts_with("200 101"));
    assert_eq!(
        h.event(),
        Event::Digit {
            line: line(1),
            digit: Digit::new('4').unwrap()
        }
    );
    h.send(&ok(&rqnt));
    let rearm = h.recv();
    assert_eq!(rearm.param("D"), Some(MAP), "{}", rearm.text);
    let x2 = rearm.param("X").unwrap().to_owned();
    h.send(&ok(&rearm));
    // The string collected under the first map request (it crossed the re-arm) counts.
    h.send(&format!(
        "NTFY 102 aaln/1@gw1.example.net MGCP 1.0\nX: {x}\nO: D/1,D/2,D/3\n"
    ));
    assert!(h.recv().text.starts_with("200 102"));
    assert_eq!(h.event(), dialled("123"));
    assert_ne!(x, x2);
    assert_eq!(h.agent.stats().dial_strings, 1);
}

/// The inter-digit timer ended the string (`0T`); a `T` the gateway adds is no key. Keys written as one
/// event (`D/55`), as some gateways do, count too.
#[test]
fn the_timer_and_keys_in_one_event() {
    let mut h = off_hook();
    let x = collecting_request(&mut h, "D");
    h.send(&format!(
        "NTFY 103 aaln/1@gw1.example.net MGCP 1.0\nX: {x}\nO: D/0,D/T\n"
    ));
    h.recv();
    assert_eq!(h.event(), dialled("0"));
    let mut h = off_hook();
    let x = collecting_request(&mut h, "D");
    h.send(&format!(
        "NTFY 104 aaln/1@gw1.example.net MGCP 1.0\nX: {x}\nO: D/9011,44\n"
    ));
    h.recv();
    assert_eq!(h.event(), dialled("901144"));
}

/// A hook flash while collecting is reported and the collecting goes on; a hang-up ends it,
/// and the keys reported with the hang-up are not a dial string.
#[test]
fn a_flash_keeps_collecting_and_a_hang_up_ends_it() {
    let mut h = off_hook();
    let x = collecting_request(&mut h, "D");
    h.send(&format!(
        "NTFY 105 aaln/1@gw1.example.net MGCP 1.0\nX: {x}\nO: L/hf\n"
    ));
    h.recv();
    assert_eq!(h.event(), Event::HookFlash { line: line(1) });
    let rearm = h.recv();
    assert_eq!(rearm.param("D"), Some(MAP), "still collecting");
    h.send(&ok(&rearm));
    let x = rearm.param("X").unwrap().to_owned();
    h.send(&format!(
        "NTFY 106 aaln/1@gw1.example.net MGCP 1.0\nX: {x}\nO: D/1,L/hu\n"
    ));
    h.recv();
    assert_eq!(h.event(), Event::OnHook { line: line(1) });
    assert!(h.events.is_empty(), "{:?}", h.events);
    on_hook_request(&h.recv());
    assert_eq!(h.agent.stats().dial_strings, 0);
}

/// On hook there is nothing to collect (402, nothing sent); a gateway that cannot collect
/// (RFC 3661 `519`: no digit map) fails the command once, and the line is armed as before.
#[test]
fn refusals() {
    let mut h = Harness::armed(1);
    collect(&mut h);
    match h.event() {
        Event::CommandFailed { line: l, code, .. } => assert_eq!((l, code), (line(1), 402)),
        e => panic!("{e:?}"),
    }
    assert!(h.inbox.is_empty());

    let mut h = off_hook();
    collect(&mut h);
    let rqnt = h.recv();
    h.send(&format!(
        "519 {} endpoint does not have a digit map\n",
        rqnt.txid()
    ));
    match h.event() {
        Event::CommandFailed { line: l, code, .. } => assert_eq!((l, code), (line(1), 519)),
        e => panic!("{e:?}"),
    }
    // The failed request is audited and re-armed, without the map.
    h.answer_until_quiet(|s| {
        assert_eq!(s.param("D"), None, "{}", s.text);
        match s.verb() {
            "AUEP" => format!("200 {} OK\nES: L/hd\n", s.txid()),
            _ => ok(s),
        }
    });
    assert!(
        h.events
            .iter()
            .all(|e| !matches!(e, Event::CommandFailed { .. }))
    );
}

/// NCS has no `D` package (J.162 Annex A.1): the keys are asked for in `L`.
#[test]
fn ncs_collects_in_the_line_package() {
    let mut h = Harness::armed(1);
    h.send("NTFY 110 aaln/1@gw1.example.net MGCP 1.0 NCS 1.0\nX: 1\nO: L/hd\n");
    h.recv();
    let arm = h.recv();
    assert_eq!(arm.param("R"), Some("L/hu(N),L/hf(N),L/[0-9#*](N)"));
    h.send(&ok(&arm));
    h.events.clear();
    let x = collecting_request(&mut h, "L");
    h.send(&format!(
        "NTFY 111 aaln/1@gw1.example.net MGCP 1.0 NCS 1.0\nX: {x}\nO: L/*,L/6,L/9\n"
    ));
    h.recv();
    assert_eq!(h.event(), dialled("*69"));
}

/// Only plain key events are part of the dial string: one with parameters or a connection is
/// reported as any other event would be.
#[test]
fn keys_with_parameters_or_a_connection_are_not_dialled() {
    let mut h = off_hook();
    let x = collecting_request(&mut h, "D");
    h.send(&format!(
        "NTFY 120 aaln/1@gw1.example.net MGCP 1.0\nX: {x}\nO: D/1,D/2(x),D/3@1F,G/4\n"
    ));
    h.recv();
    let digit = |c| Event::Digit {
        line: line(1),
        digit: Digit::new(c).unwrap(),
    };
    assert_eq!(h.event(), digit('2'));
    assert_eq!(h.event(), digit('3'));
    assert_eq!(h.event(), dialled("1"));
    assert!(h.events.is_empty(), "{:?}", h.events);
    assert_eq!(h.agent.stats().unrecognised_events, 1, "G/4");
}
