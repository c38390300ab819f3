//! FXO channels: the board's side of seize, dial, answer and release, the PBX's ring with
//! caller id, supervision events, glare, and busy tone on the connection.

use super::*;
use crate::analog::fxo::Supervision;

/// A board whose line 3 (channel 2) is an FXO port, with a host that has sent one command.
fn fxo(supervision: Supervision) -> Harness {
    let mut config = Config::new(4).unwrap();
    let mut f = FxoConfig::new();
    f.lines("3").unwrap().supervision(supervision);
    config.fxo(f).unwrap();
    let mut h = Harness::new(config);
    h.ok(&Command::QueryStatus {
        channel: Channel(2),
    });
    h.take_outputs();
    h
}

fn hook(off: bool) -> Command {
    Command::SendAnalogSignal {
        channel: Channel(2),
        signal: if off {
            AnalogSignal::OffHook
        } else {
            AnalogSignal::OnHook
        },
        duration_ms: 0,
    }
}

fn dial(keys: &[i32]) -> Command {
    Command::Dial {
        channel: Channel(2),
        digits: keys
            .iter()
            .map(|&digit| DigitEntry {
                digit,
                on_time_ms: 100,
                inter_digit_ms: 100,
            })
            .collect(),
    }
}

fn on_2(events: Vec<(Channel, Event)>) -> Vec<Event> {
    events
        .into_iter()
        .map(|(c, e)| {
            assert_eq!(c, Channel(2));
            e
        })
        .collect()
}

#[test]
fn fxo_status_says_whether_the_port_is_seized() {
    let mut h = fxo(Supervision::Full);
    assert_eq!(
        on_2(h.ok(&Command::QueryStatus {
            channel: Channel(2)
        })),
        [Event::FxoStatus { seized: false }]
    );
    h.ok(&hook(true));
    assert_eq!(
        on_2(h.ok(&Command::QueryStatus {
            channel: Channel(2)
        })),
        [Event::FxoStatus { seized: true }]
    );
    // An FXS line still answers as one.
    let events = h.ok(&Command::QueryStatus {
        channel: Channel(0),
    });
    assert!(matches!(events[0].1, Event::FxsStatus { .. }));
}

#[test]
fn a_call_out_dials_then_the_far_end_answers_and_hangs_up() {
    let mut h = fxo(Supervision::Full);
    assert_eq!(h.ok(&hook(true)), []);
    assert_eq!(h.ok(&dial(&[2, 0, 4, 1])), []);
    // Four digits of 100 ms on and 100 ms off: dialled after 800 ms, not before.
    h.advance(ms(799));
    assert_eq!(h.take_events(), []);
    h.advance(ms(1));
    assert_eq!(on_2(h.take_events()), [Event::DialEnded]);
    assert!(h.take_outputs().contains(&Output::Dialed {
        line: 3,
        number: "2041".into()
    }));
    h.line(LineCommand::OffHook(3));
    assert_eq!(
        on_2(h.take_events()),
        [Event::PolarityReversal { reversed: true }]
    );
    h.line(LineCommand::Digits(3, "7".into()));
    let [Event::Digits(d)] = &on_2(h.take_events())[..] else {
        panic!("no digit")
    };
    assert_eq!(d[0].digit, 7);
    h.line(LineCommand::OnHook(3));
    assert_eq!(on_2(h.take_events()), [Event::CurrentDisconnect]);
    h.ok(&hook(false));
    // Idle again.
    h.ok(&hook(true));
}

#[test]
fn dialling_is_refused_unless_seized() {
    let mut h = fxo(Supervision::Full);
    h.refused(&dial(&[1]), ErrorCode::NotSeized);
    h.ok(&hook(true));
    h.refused(&dial(&[16]), ErrorCode::BadParameter);
    h.ok(&dial(&[1]));
    h.refused(&dial(&[2]), ErrorCode::NotSeized);
    // Released before the digits are out: no dial end, nothing dialled.
    h.ok(&hook(false));
    h.advance(Duration::from_secs(1));
    assert_eq!(h.take_events(), []);
    assert!(
        !h.take_outputs()
            .iter()
            .any(|o| matches!(o, Output::Dialed { .. }))
    );
}

#[test]
fn an_incoming_call_rings_gives_caller_id_after_the_first_ring_and_is_answered() {
    let mut h = fxo(Supervision::Full);
    h.board.handle_trunk(
        h.now,
        TrunkCommand::Ring {
            line: 3,
            caller_id: Some("2041".into()),
        },
    );
    h.drain();
    assert_eq!(on_2(h.take_events()), [Event::RingStart]);
    // Seizing now crosses the call: glare.
    h.refused(&hook(true), ErrorCode::Glare);
    h.advance(Duration::from_secs(2));
    assert_eq!(
        on_2(h.take_events()),
        [
            Event::RingEnd,
            Event::CallerId(CallerIdText {
                number: Some("2041".into()),
                name: None
            })
        ]
    );
    h.ok(&hook(true));
    assert!(h.take_outputs().contains(&Output::Answered { line: 3 }));
    h.line(LineCommand::Digits(3, "1#".into()));
    assert_eq!(h.take_events().len(), 2);
    h.line(LineCommand::OnHook(3));
    assert_eq!(on_2(h.take_events()), [Event::CurrentDisconnect]);
}

#[test]
fn without_caller_id_the_second_ring_announces_the_call() {
    let mut h = fxo(Supervision::Full);
    h.board.handle_trunk(
        h.now,
        TrunkCommand::Ring {
            line: 3,
            caller_id: None,
        },
    );
    h.drain();
    h.advance(Duration::from_secs(2));
    assert_eq!(on_2(h.take_events()), [Event::RingStart, Event::RingEnd]);
    h.refused(&hook(true), ErrorCode::Glare);
    h.advance(Duration::from_secs(4));
    assert_eq!(on_2(h.take_events()), [Event::RingStart]);
    // Answered: the ring trips and stops.
    assert_eq!(on_2(h.ok(&hook(true))), [Event::RingEnd]);
    h.refused(&hook(true), ErrorCode::PortInUse);
}

#[test]
fn busy_tone_plays_on_the_connection_and_no_supervision_plays_reorder() {
    for (supervision, far_hangs_up) in [(Supervision::Full, false), (Supervision::None, true)] {
        let mut h = fxo(supervision);
        h.ok(&hook(true));
        h.open(2, Coder::Mulaw);
        h.activate(2, 0);
        h.ok(&dial(&[5]));
        h.advance(ms(200));
        h.take_events();
        if far_hangs_up {
            h.line(LineCommand::OffHook(3));
            assert_eq!(h.take_events(), [], "no reversal without supervision");
            h.line(LineCommand::OnHook(3));
            assert_eq!(h.take_events(), [], "no current drop without supervision");
        } else {
            h.board.handle_trunk(h.now, TrunkCommand::Busy(3));
            h.drain();
        }
        h.rtp.clear();
        h.advance(Duration::from_secs(3));
        // 20 ms packets for three seconds, the tone's chunks joined without a say_done.
        assert!(h.rtp.len() >= 140, "{}", h.rtp.len());
        assert!(
            !h.take_outputs()
                .iter()
                .any(|o| matches!(o, Output::SayDone { .. }))
        );
        // On hook: the tone stops.
        h.ok(&hook(false));
        h.rtp.clear();
        h.advance(Duration::from_secs(2));
        assert!(h.rtp.is_empty(), "{}", h.rtp.len());
    }
}

#[test]
fn an_fxo_port_is_not_rung_and_the_pbx_side_is_refused_on_fxs_lines() {
    let mut h = fxo(Supervision::Full);
    h.refused(&ring(2, true), ErrorCode::FxoPort);
    h.board.handle_trunk(h.now, TrunkCommand::Busy(1));
    h.drain();
    assert!(matches!(
        &h.take_outputs()[..],
        [Output::Error { line: Some(1), .. }]
    ));
    h.line(LineCommand::OffHook(3));
    assert!(matches!(
        &h.take_outputs()[..],
        [Output::Error { line: Some(3), .. }]
    ));
    assert_eq!(h.board.stats().line_commands_refused, 2);
    // FXO ports beyond the board's lines are refused by the config.
    let mut config = Config::new(2).unwrap();
    let mut f = FxoConfig::new();
    f.lines("3").unwrap();
    assert_eq!(config.fxo(f).err(), Some(ConfigError::FxoLine(3)));
}
