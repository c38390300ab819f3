//! Listening: keys and events during playback, messages withdrawn meanwhile, live streams.

use super::*;

/// Messages 1..=n wait; the phone is picked up and plays message 1. Returns the call.
fn listening_to_the_first_of(t: &mut T, n: u8) -> CallId {
    for i in 1..=n {
        t.message(i);
    }
    let call = t.pick_up_and_connect();
    assert_eq!(t.st.state_name(), "Playing");
    let media = t.media_out();
    assert_eq!(
        media.last(),
        Some(&MediaCommand::PlayMessage {
            call,
            message: msg(1)
        })
    );
    t.drain();
    call
}

#[test]
fn in_band_keys_act_during_playback_like_the_gateways() {
    let mut t = T::up();
    let call = listening_to_the_first_of(&mut t, 3);
    t.in_band(call, '#');
    assert_eq!(
        t.media_out(),
        vec![
            MediaCommand::StopPlay { call },
            MediaCommand::PlayMessage {
                call,
                message: msg(2)
            }
        ]
    );
    t.in_band(call, '7');
    assert_eq!(
        t.outputs(),
        vec![
            Output::Played {
                user: ME,
                message: msg(1)
            },
            Output::Deleted {
                user: ME,
                message: msg(2)
            }
        ]
    );
    t.media_out();
    t.in_band(call, '4');
    assert_eq!(
        t.media_out(),
        vec![
            MediaCommand::StopPlay { call },
            MediaCommand::PlayMessage {
                call,
                message: msg(3)
            }
        ],
        "4 plays the message again"
    );
    assert_eq!(t.st.stats().played, 1);
    assert_eq!(t.st.stats().deleted, 1);
}

#[test]
fn keys_and_events_of_another_call_do_not_touch_playback() {
    let mut t = T::up();
    let call = listening_to_the_first_of(&mut t, 2);
    t.in_band(OTHER_CALL, '#');
    t.in_band(OTHER_CALL, '7');
    t.media(MediaEvent::PlayDone { call: OTHER_CALL });
    t.media(MediaEvent::Failed {
        call: OTHER_CALL,
        reason: "not ours".into(),
    });
    t.ev(Event::ConnectionLost {
        line: line(),
        call: OTHER_CALL,
        reason: "not ours".into(),
    });
    assert_eq!(t.st.state_name(), "Playing");
    assert!(t.media_out().is_empty());
    assert!(t.outputs().is_empty());
    let stats = *t.st.stats();
    assert_eq!((stats.played, stats.play_failures), (0, 0));
    assert_eq!(stats.connections_lost, 0);
    assert_eq!(t.st.waiting(), 1);
    t.media(MediaEvent::PlayDone { call });
    assert_eq!(
        t.media_out(),
        vec![MediaCommand::PlayMessage {
            call,
            message: msg(2)
        }]
    );
}

#[test]
fn other_keys_during_playback_are_ignored_and_counted() {
    let mut t = T::up();
    let call = listening_to_the_first_of(&mut t, 1);
    t.key('5');
    t.in_band(call, '0');
    assert_eq!(t.st.state_name(), "Playing");
    assert!(t.media_out().is_empty());
    assert_eq!(t.st.stats().ignored, 2);
}

#[test]
fn every_message_heard_or_skipped_is_counted_played() {
    let mut t = T::up();
    let call = listening_to_the_first_of(&mut t, 3);
    t.media(MediaEvent::PlayDone { call });
    t.key('#');
    t.key('7');
    let stats = *t.st.stats();
    assert_eq!((stats.played, stats.deleted), (2, 1));
    assert_eq!(t.st.state_name(), "AwaitingOnHook");
}

#[test]
fn a_message_deleted_elsewhere_while_playing_stops_and_the_next_plays() {
    let mut t = T::up();
    let call = listening_to_the_first_of(&mut t, 3);
    // Another message withdrawn: playback goes on, it just never plays.
    t.gone(2);
    assert!(t.media_out().is_empty());
    assert_eq!(t.st.waiting(), 1);
    // The one playing withdrawn: it stops, is not reported played, the next plays.
    t.gone(1);
    assert_eq!(
        t.media_out(),
        vec![
            MediaCommand::StopPlay { call },
            MediaCommand::PlayMessage {
                call,
                message: msg(3)
            }
        ]
    );
    assert!(t.outputs().is_empty());
    assert_eq!(t.st.stats().played, 0);
    t.gone(3);
    assert_eq!(t.st.state_name(), "AwaitingOnHook", "nothing left");
    assert!(t.media_out().contains(&MediaCommand::Close { call }));
}

#[test]
fn a_message_withdrawn_while_ringing_for_two_leaves_the_other_to_play() {
    let mut t = T::up();
    t.message(1);
    t.message(2);
    t.commands();
    t.gone(1);
    assert_eq!(t.st.state_name(), "AwaitingOffHook");
    assert!(t.commands().is_empty(), "still ringing");
    let call = t.pick_up_and_connect();
    assert_eq!(
        t.media_out().last(),
        Some(&MediaCommand::PlayMessage {
            call,
            message: msg(2)
        })
    );
}

#[test]
fn a_message_arriving_while_playing_queues_once_and_does_not_ring() {
    let mut t = T::up();
    let call = listening_to_the_first_of(&mut t, 1);
    t.message(2);
    t.message(2);
    assert_eq!(t.st.waiting(), 1);
    t.media(MediaEvent::PlayDone { call });
    assert_eq!(
        t.media_out(),
        vec![MediaCommand::PlayMessage {
            call,
            message: msg(2)
        }]
    );
    t.media(MediaEvent::PlayDone { call });
    t.ev(Event::OnHook { line: line() });
    assert_eq!(t.st.state_name(), "Idle", "everything heard: no ring");
}

/// A live stream from Bob rings the phone; returns the stream.
fn live_ringing(t: &mut T) -> StreamId {
    let stream = StreamId(5);
    t.input(Input::LiveStart {
        user: ME,
        stream,
        from: BOB,
    });
    assert_eq!(t.st.state_name(), "AwaitingOffHook");
    stream
}

#[test]
fn a_ringing_phone_holds_only_its_own_stream() {
    let mut t = T::up();
    let stream = live_ringing(&mut t);
    let other = StreamId(6);
    t.input(Input::LiveBuffer {
        stream,
        pcm: vec![1; 160],
    });
    t.input(Input::LiveBuffer {
        stream: other,
        pcm: vec![2; 160],
    });
    t.input(Input::LiveEnd { stream: other });
    t.ev(Event::OffHook { line: line() });
    // While the connection is made.
    t.input(Input::LiveBuffer {
        stream,
        pcm: vec![3; 160],
    });
    t.input(Input::LiveBuffer {
        stream: other,
        pcm: vec![4; 160],
    });
    t.input(Input::LiveEnd { stream: other });
    assert_eq!(t.st.state_name(), "AwaitingConnection");
    let call = connected(&mut t);
    let media = t.media_out();
    let played: Vec<_> = media
        .iter()
        .filter_map(|m| match m {
            MediaCommand::LiveBuffer { pcm, .. } => Some(pcm[0]),
            _ => None,
        })
        .collect();
    assert_eq!(played, vec![1, 3]);
    assert!(
        !media.contains(&MediaCommand::LiveEnd { call }),
        "{media:?}"
    );
    // Playing: only its own stream is forwarded.
    t.input(Input::LiveBuffer {
        stream: other,
        pcm: vec![5; 160],
    });
    t.input(Input::LiveEnd { stream: other });
    assert!(t.media_out().is_empty());
    t.input(Input::LiveBuffer {
        stream,
        pcm: vec![6; 160],
    });
    t.input(Input::LiveEnd { stream });
    assert_eq!(
        t.media_out(),
        vec![
            MediaCommand::LiveBuffer {
                call,
                pcm: vec![6; 160]
            },
            MediaCommand::LiveEnd { call }
        ]
    );
    assert_eq!(t.st.stats().ignored, 6, "the other stream's inputs");
}

#[test]
fn a_stream_that_ended_while_ringing_ends_once_played() {
    let mut t = T::up();
    let stream = live_ringing(&mut t);
    t.input(Input::LiveBuffer {
        stream,
        pcm: vec![1; 160],
    });
    t.input(Input::LiveEnd { stream });
    let call = t.pick_up_and_connect();
    assert_eq!(
        t.media_out()[1..],
        [
            MediaCommand::Remote {
                call,
                remote: Media {
                    address: "192.0.2.2:16384".parse().unwrap(),
                    codec: Codec::Pcmu,
                    ptime: Duration::from_millis(20),
                    telephone_event: None,
                },
            },
            MediaCommand::PlayLive { call, stream },
            MediaCommand::LiveBuffer {
                call,
                pcm: vec![1; 160]
            },
            MediaCommand::LiveEnd { call },
        ]
    );
}

/// Answers the pending CreateConnection; returns the call.
fn connected(t: &mut T) -> CallId {
    let call = t
        .commands()
        .into_iter()
        .find_map(|c| match c {
            Command::CreateConnection { call, .. } => Some(call),
            _ => None,
        })
        .expect("CreateConnection");
    t.ev(Event::ConnectionCreated {
        line: line(),
        call,
        local: Media {
            address: "192.0.2.2:16384".parse().unwrap(),
            codec: Codec::Pcmu,
            ptime: Duration::from_millis(20),
            telephone_event: None,
        },
    });
    call
}

#[test]
fn a_live_stream_ends_on_its_own_calls_events_only() {
    for failed in [false, true] {
        let mut t = T::up();
        let stream = live_ringing(&mut t);
        t.message(1);
        let call = t.pick_up_and_connect();
        assert_eq!(t.st.state_name(), "Intercom");
        t.drain();
        t.media(MediaEvent::PlayDone { call: OTHER_CALL });
        t.media(MediaEvent::Failed {
            call: OTHER_CALL,
            reason: "not ours".into(),
        });
        assert_eq!(t.st.state_name(), "Intercom");
        assert!(t.media_out().is_empty());
        t.input(Input::LiveEnd { stream });
        if failed {
            t.media(MediaEvent::Failed {
                call,
                reason: "port".into(),
            });
        } else {
            t.media(MediaEvent::PlayDone { call });
        }
        // Then the message that waited plays on the same call.
        assert_eq!(t.st.state_name(), "Playing", "failed: {failed}");
        assert_eq!(
            t.media_out().last(),
            Some(&MediaCommand::PlayMessage {
                call,
                message: msg(1)
            })
        );
    }
}

#[test]
fn a_stream_played_to_its_end_makes_its_stored_copy_heard_once() {
    let mut t = T::up();
    let stream = live_ringing(&mut t);
    let call = t.pick_up_and_connect();
    t.input(Input::LiveEnd { stream });
    t.media(MediaEvent::PlayDone { call });
    assert_eq!(t.st.state_name(), "AwaitingOnHook");
    t.outputs();
    for _ in 0..2 {
        t.input(Input::LiveStored {
            user: ME,
            stream,
            message: msg(9),
        });
    }
    assert_eq!(
        t.outputs(),
        vec![Output::Played {
            user: ME,
            message: msg(9)
        }]
    );
    assert_eq!(t.st.stats().heard_live, 1);
    assert_eq!(t.st.stats().played, 0, "not played as a message");
    t.input(Input::MessageWaiting {
        user: ME,
        message: msg(9),
        from: BOB,
    });
    assert_eq!(t.st.waiting(), 0, "never offered");
}

#[test]
fn a_stream_that_ends_while_the_connection_is_made_still_ends_once_played() {
    let mut t = T::up();
    let stream = live_ringing(&mut t);
    t.ev(Event::OffHook { line: line() });
    t.input(Input::LiveBuffer {
        stream,
        pcm: vec![1; 160],
    });
    t.input(Input::LiveEnd { stream });
    assert_eq!(t.st.stats().ignored, 0);
    let call = connected(&mut t);
    let media = t.media_out();
    assert_eq!(
        media[media.len() - 2..],
        [
            MediaCommand::LiveBuffer {
                call,
                pcm: vec![1; 160]
            },
            MediaCommand::LiveEnd { call },
        ]
    );
    t.media(MediaEvent::PlayDone { call });
    assert_eq!(t.st.state_name(), "AwaitingOnHook");
}
