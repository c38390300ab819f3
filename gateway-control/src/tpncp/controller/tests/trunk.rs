//! Trunks (FXO channels) against the scripted board: the hook, dialling, supervision,
//! incoming calls, glare and FXO events out of place.

use super::*;
use crate::model::{DialMethod, Disconnect};
use crate::tpncp::wire::{AnalogSignal, CallerIdText};

/// The board up (never probed) with channel 2 added as a trunk (its status answered on hook).
fn with_trunk() -> Board {
    let mut b = Board::up_with(quiet());
    b.command(Command::AddTrunk { line: line("2") });
    let sent = b.sent();
    assert_eq!(
        commands(&sent),
        [WCommand::QueryStatus {
            channel: Channel(2)
        }]
    );
    b.ack(&sent[0]);
    b.event(2, WEvent::FxoStatus { seized: false });
    assert_eq!(
        b.events(),
        [Event::LineStatus {
            line: line("2"),
            off_hook: false
        }]
    );
    b
}

fn hook(off: bool) -> WCommand {
    WCommand::SendAnalogSignal {
        channel: Channel(2),
        signal: if off {
            AnalogSignal::OffHook
        } else {
            AnalogSignal::OnHook
        },
        duration_ms: 0,
    }
}

/// The one command the host sent, acknowledged.
fn one(b: &mut Board) -> WCommand {
    let sent = b.sent();
    assert_eq!(sent.len(), 1, "{:?}", commands(&sent));
    b.ack(&sent[0]);
    sent[0].command.clone()
}

fn dial(number: &str, method: DialMethod) -> Command {
    Command::Dial {
        line: line("2"),
        number: keys(number),
        method,
    }
}

#[test]
fn a_call_out_is_seized_dialled_answered_and_hung_up() {
    let mut b = with_trunk();
    b.command(Command::Seize { line: line("2") });
    assert_eq!(one(&mut b), hook(true));
    b.command(dial("20#4", DialMethod::Dtmf));
    let WCommand::Dial { channel, digits } = one(&mut b) else {
        panic!("not a dial")
    };
    assert_eq!(channel, Channel(2));
    let codes: Vec<i32> = digits.iter().map(|d| d.digit).collect();
    assert_eq!(codes, [2, 0, 11, 4]);
    assert!(
        digits
            .iter()
            .all(|d| d.on_time_ms == 100 && d.inter_digit_ms == 100)
    );
    assert_eq!(b.events(), []);

    b.event(2, WEvent::DialEnded);
    assert_eq!(b.events(), [Event::DialComplete { line: line("2") }]);
    b.event(2, WEvent::PolarityReversal { reversed: true });
    assert_eq!(b.events(), [Event::FarEndAnswer { line: line("2") }]);
    // The far end speaks a key: reported as on a line.
    b.event(
        2,
        WEvent::Digits(vec![DigitEntry {
            digit: 5,
            on_time_ms: 100,
            inter_digit_ms: 100,
        }]),
    );
    assert_eq!(
        b.events(),
        [Event::Digit {
            line: line("2"),
            digit: Digit::new('5').unwrap()
        }]
    );
    b.event(2, WEvent::CurrentDisconnect);
    assert_eq!(
        b.events(),
        [Event::FarEndDisconnect {
            line: line("2"),
            why: Disconnect::LoopCurrentDrop
        }]
    );
    // Once gone, a second drop is news to no one.
    b.event(2, WEvent::CurrentDisconnect);
    assert_eq!(b.events(), []);
    assert_eq!(b.host.stats().trunk_dropped, 1);
    assert_eq!(b.host.stats().trunk_events, 3);

    b.command(Command::Release { line: line("2") });
    assert_eq!(one(&mut b), hook(false));
    assert_eq!(b.events(), []);
    // Idle again: it can be seized anew.
    b.command(Command::Seize { line: line("2") });
    assert_eq!(one(&mut b), hook(true));
}

#[test]
fn an_incoming_call_reports_its_caller_id_and_is_answered() {
    let mut b = with_trunk();
    b.event(2, WEvent::RingStart);
    b.event(2, WEvent::RingEnd);
    assert_eq!(b.events(), [], "waits for the caller id between the rings");
    b.event(
        2,
        WEvent::CallerId(CallerIdText {
            number: Some("2041".into()),
            name: None,
        }),
    );
    assert_eq!(
        b.events(),
        [Event::IncomingCall {
            line: line("2"),
            caller_id: Some(CallerId {
                number: Some("2041".into()),
                name: None
            })
        }]
    );
    b.event(2, WEvent::RingStart);
    assert_eq!(b.events(), [], "reported once");
    b.command(Command::Answer { line: line("2") });
    assert_eq!(one(&mut b), hook(true));
    // Ringing is over once answered: the ring timer does not report a give-up.
    b.advance(Duration::from_secs(30));
    assert_eq!(b.events(), []);
    b.event(2, WEvent::CurrentDisconnect);
    assert_eq!(
        b.events(),
        [Event::FarEndDisconnect {
            line: line("2"),
            why: Disconnect::LoopCurrentDrop
        }]
    );
    // Polarity means nothing on an answered incoming call.
    b.event(2, WEvent::PolarityReversal { reversed: true });
    assert_eq!(b.events(), []);
}

#[test]
fn without_caller_id_the_second_ring_reports_the_call_and_a_silent_ring_ends_it() {
    let mut b = with_trunk();
    b.event(2, WEvent::RingStart);
    b.advance(Duration::from_secs(2));
    b.event(2, WEvent::RingEnd);
    b.advance(Duration::from_secs(4));
    assert_eq!(b.events(), []);
    b.event(2, WEvent::RingStart);
    assert_eq!(
        b.events(),
        [Event::IncomingCall {
            line: line("2"),
            caller_id: None
        }]
    );
    b.advance(Duration::from_secs(2));
    b.event(2, WEvent::RingEnd);
    // Silent for just under the gap: still ringing.
    b.advance(Duration::from_secs(8) - ms(1));
    assert_eq!(b.events(), []);
    b.advance(ms(1));
    assert_eq!(
        b.events(),
        [Event::FarEndDisconnect {
            line: line("2"),
            why: Disconnect::RingingStopped
        }]
    );
    // Too late to answer.
    b.command(Command::Answer { line: line("2") });
    assert_eq!(failed(&b.events()), [(line("2"), None, code::ON_HOOK)]);
}

#[test]
fn a_single_ring_without_caller_id_is_no_call() {
    let mut b = with_trunk();
    b.event(2, WEvent::RingStart);
    b.event(2, WEvent::RingEnd);
    b.advance(Duration::from_secs(60));
    assert_eq!(b.events(), []);
    b.command(Command::Seize { line: line("2") });
    assert_eq!(one(&mut b), hook(true));
}

#[test]
fn glare_known_to_the_host_is_refused_at_once() {
    let mut b = with_trunk();
    b.event(2, WEvent::RingStart);
    b.command(Command::Seize { line: line("2") });
    assert!(b.sent().is_empty());
    assert_eq!(failed(&b.events()), [(line("2"), None, code::IN_USE)]);
}

#[test]
fn glare_refused_by_the_board_fails_the_seize_and_the_dial_behind_it() {
    let mut b = with_trunk();
    b.command(Command::Seize { line: line("2") });
    b.command(dial("2041", DialMethod::Dtmf));
    let sent = b.sent();
    assert_eq!(commands(&sent), [hook(true)]);
    // The line rang just before: the board refuses the seize.
    b.event(
        2,
        WEvent::Error {
            code: 19,
            text: "port is ringing".into(),
        },
    );
    assert!(b.sent().is_empty(), "the dial is not sent");
    assert_eq!(
        failed(&b.events()),
        [(line("2"), None, 19), (line("2"), None, code::ON_HOOK)]
    );
    // The port is idle again: its ring is an incoming call.
    b.event(2, WEvent::RingStart);
    b.event(2, WEvent::CallerId(CallerIdText::default()));
    assert_eq!(
        b.events(),
        [Event::IncomingCall {
            line: line("2"),
            caller_id: Some(CallerId::default())
        }]
    );
}

#[test]
fn trunk_commands_out_of_place_are_refused() {
    let mut b = with_trunk();
    b.command(dial("1", DialMethod::Dtmf));
    b.command(Command::Answer { line: line("2") });
    b.command(Command::Seize { line: line("0") });
    assert_eq!(
        failed(&b.events()),
        [
            (line("2"), None, code::ON_HOOK),
            (line("2"), None, code::ON_HOOK),
            (line("0"), None, code::UNKNOWN_LINE),
        ]
    );
    b.command(Command::Seize { line: line("2") });
    one(&mut b);
    b.command(Command::Seize { line: line("2") });
    b.command(dial("1", DialMethod::Pulse));
    b.command(dial(&"1".repeat(MAX_DIAL_DIGITS + 1), DialMethod::Dtmf));
    assert_eq!(
        failed(&b.events()),
        [
            (line("2"), None, code::IN_USE),
            (line("2"), None, code::NOT_IMPLEMENTED),
            (line("2"), None, code::INSUFFICIENT_RESOURCES),
        ]
    );
    assert!(b.sent().is_empty());
    // Forty digits fit in one acCMD_DIAL.
    b.command(dial(&"1".repeat(MAX_DIAL_DIGITS), DialMethod::Dtmf));
    let WCommand::Dial { digits, .. } = one(&mut b) else {
        panic!("not a dial")
    };
    assert_eq!(digits.len(), MAX_DIAL_DIGITS);
}

#[test]
fn fxo_events_out_of_place_are_counted_and_dropped() {
    let mut b = with_trunk();
    let out_of_place = [
        (2, WEvent::DialEnded),
        (2, WEvent::PolarityReversal { reversed: true }),
        (2, WEvent::CurrentDisconnect),
        (2, WEvent::RingEnd),
        (2, WEvent::OffHook),
        (2, WEvent::FlashHook),
        (
            2,
            WEvent::Digits(vec![DigitEntry {
                digit: 1,
                on_time_ms: 100,
                inter_digit_ms: 100,
            }]),
        ),
        // A station line has no FXO events, nor does a channel no one watches.
        (0, WEvent::CurrentDisconnect),
        (1, WEvent::CallerId(CallerIdText::default())),
        (9, WEvent::DialEnded),
    ];
    let n = out_of_place.len() as u64;
    for (channel, event) in out_of_place {
        b.event(channel, event);
    }
    assert_eq!(b.events(), []);
    assert_eq!(b.host.stats().trunk_dropped, n);
    // Seized, a dial end that no dial asked for and a reversal back are dropped too.
    b.command(Command::Seize { line: line("2") });
    one(&mut b);
    b.event(2, WEvent::DialEnded);
    b.event(2, WEvent::PolarityReversal { reversed: false });
    b.event(2, WEvent::RingStart);
    assert_eq!(b.events(), []);
    assert_eq!(b.host.stats().trunk_dropped, n + 3);
}

#[test]
fn a_reconnection_puts_trunks_on_hook_rather_than_stopping_a_ring() {
    let mut b = with_trunk();
    b.command(Command::Seize { line: line("2") });
    one(&mut b);
    b.close();
    b.events();
    b.advance(Duration::from_secs(2));
    b.accept();
    let sent = b.answer_all(false);
    let on_2: Vec<WCommand> = sent
        .iter()
        .filter(|s| s.channel() == Channel(2))
        .map(|s| s.command.clone())
        .collect();
    assert_eq!(on_2[0], hook(false));
    assert!(!on_2.iter().any(|c| matches!(c, WCommand::Ring { .. })));
    // The call did not survive: the port is idle, and its status reports no hook event.
    assert!(
        !b.events()
            .iter()
            .any(|e| matches!(e, Event::OffHook { .. } | Event::OnHook { .. }))
    );
    b.command(Command::Seize { line: line("2") });
    assert_eq!(one(&mut b), hook(true));
}

#[test]
fn a_ring_crossing_a_seize_the_board_refuses_is_an_incoming_call() {
    let mut b = with_trunk();
    b.command(Command::Seize { line: line("2") });
    assert_eq!(commands(&b.sent()), [hook(true)]);
    // The ring's event overtakes the refusal.
    b.event(2, WEvent::RingStart);
    assert_eq!(b.events(), []);
    b.event(
        2,
        WEvent::Error {
            code: 10,
            text: "glare".into(),
        },
    );
    assert_eq!(failed(&b.events()), [(line("2"), None, 10)]);
    b.event(2, WEvent::RingEnd);
    b.event(
        2,
        WEvent::CallerId(CallerIdText {
            number: Some("2041".into()),
            name: None,
        }),
    );
    assert!(matches!(b.events()[..], [Event::IncomingCall { .. }]));
    assert_eq!(b.host.stats().trunk_dropped, 0);
}

mod any_order {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        /// An FXO-only event (dial end, caller id, polarity, current disconnect) on a channel.
        Fxo(i32, u8),
        /// A ring burst's start or end on a channel.
        Ring(i32, bool),
        /// A key on a channel.
        Key(i32),
        /// A trunk command on the trunk.
        Do(u8),
        /// The board acknowledges what the host sent.
        Ack,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (0..4i32, 0..4u8).prop_map(|(c, k)| Step::Fxo(c, k)),
            (0..4i32, any::<bool>()).prop_map(|(c, on)| Step::Ring(c, on)),
            (0..4i32).prop_map(Step::Key),
            (0..5u8).prop_map(Step::Do),
            Just(Step::Ack),
        ]
    }

    proptest! {
        /// Every FXO-only event, in any state and on any channel, is reported once or counted
        /// as dropped; nothing panics, and every trunk event reported is counted.
        #[test]
        fn fxo_events_are_reported_or_counted(steps in proptest::collection::vec(step(), 0..60)) {
            let mut b = with_trunk();
            for s in steps {
                let before = b.host.stats().clone();
                match s {
                    Step::Fxo(c, k) => {
                        b.event(c, match k {
                            0 => WEvent::DialEnded,
                            1 => WEvent::CallerId(CallerIdText::default()),
                            2 => WEvent::PolarityReversal { reversed: true },
                            _ => WEvent::CurrentDisconnect,
                        });
                        let after = b.host.stats();
                        prop_assert_eq!(
                            after.trunk_events + after.trunk_dropped,
                            before.trunk_events + before.trunk_dropped + 1
                        );
                    }
                    Step::Ring(c, on) => {
                        b.event(c, if on { WEvent::RingStart } else { WEvent::RingEnd });
                    }
                    Step::Key(c) => b.event(c, WEvent::Digits(vec![DigitEntry {
                        digit: 3,
                        on_time_ms: 100,
                        inter_digit_ms: 100,
                    }])),
                    Step::Do(k) => b.command(match k {
                        0 => Command::Seize { line: line("2") },
                        1 => Command::Answer { line: line("2") },
                        2 => Command::Release { line: line("2") },
                        _ => dial("12", DialMethod::Dtmf),
                    }),
                    Step::Ack => {
                        for s in b.sent() {
                            b.ack(&s);
                        }
                    }
                }
                let reported = b
                    .events()
                    .iter()
                    .filter(|e| matches!(
                        e,
                        Event::IncomingCall { .. }
                            | Event::DialComplete { .. }
                            | Event::FarEndAnswer { .. }
                            | Event::FarEndDisconnect { .. }
                    ))
                    .count() as u64;
                let after = b.host.stats();
                // An empty Dial is the only trunk event reported without a board event; none
                // is made here.
                prop_assert_eq!(after.trunk_events - before.trunk_events, reported);
            }
        }
    }
}
