//! The station manager's own tests: several phones, requests rung on several, and phones added
//! and removed while running.
use std::time::Duration;

use gateway_control::model::Codec;

use super::*;

#[test]
fn config_setters_refuse_nonsense() {
    let mut c = Config::default();
    assert_eq!(
        c.max_length(Duration::ZERO).unwrap_err(),
        ConfigError::Zero("maximum length")
    );
    assert_eq!(c.record_cadence(8).unwrap_err(), ConfigError::Cadence);
    assert_eq!(c.ports(2000..=2000).unwrap_err(), ConfigError::Ports);
    assert_eq!(
        c.live_buffer(Duration::from_secs(2)).unwrap_err(),
        ConfigError::LiveBuffer
    );
    c.live_buffer(Duration::from_millis(20))
        .unwrap()
        .silence(None)
        .unwrap()
        .ports(2000..=2001)
        .unwrap();
    assert_eq!(c.live_samples(), 160);
    assert_eq!(c.silence, None);
    // The trunk retry interval: 30 s to 24 h, both ends included.
    let s = Duration::from_secs;
    for bad in [s(29), s(86_401), Duration::ZERO] {
        assert_eq!(c.trunk_retry(bad, 3).unwrap_err(), ConfigError::TrunkRetry);
    }
    for good in [s(30), s(86_400)] {
        c.trunk_retry(good, 2).unwrap();
        assert_eq!((c.trunk_retry, c.trunk_retries), (good, 2));
    }
}

#[test]
fn duplicate_lines_are_refused_and_unknown_users_have_no_phone() {
    let mut m = StationManager::new(Config::default());
    let line = LineId::new(GatewayId::new("gw1"), "aaln/1");
    m.add_station(line.clone(), UserId([1; 16])).unwrap();
    assert_eq!(
        m.add_station(line.clone(), UserId([2; 16])),
        Err(AddError::Duplicate(line))
    );
    assert_eq!(m.is_available(UserId([1; 16])), Some(false));
    assert_eq!(m.is_available(UserId([9; 16])), None);
}

fn up(m: &mut StationManager, now: Instant) {
    m.handle_event(
        now,
        Event::GatewayUp {
            gateway: GatewayId::new("gw1"),
        },
    );
    for n in [1, 2] {
        m.handle_event(
            now,
            Event::LineStatus {
                line: LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}")),
                off_hook: false,
            },
        );
    }
}

/// A base instant for virtual time, never a measurement.
#[allow(clippy::disallowed_methods)]
fn epoch() -> Instant {
    Instant::now()
}

fn outputs(m: &mut StationManager) -> Vec<Output> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

#[test]
fn the_phone_picked_up_decides_the_outcome_of_a_request_rung_on_two() {
    let now = epoch();
    let me = UserId([1; 16]);
    let l = |n| LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"));
    let mut m = StationManager::new(Config::default());
    m.add_station(l(1), me).unwrap();
    m.add_station(l(2), me).unwrap();
    up(&mut m, now);
    assert_eq!(m.is_available(me), Some(true));
    record(&mut m, now, RequestId(4), me, UserId([2; 16]));
    let rings = std::iter::from_fn(|| m.poll_command())
        .filter(|c| matches!(c, Command::Ring { .. }))
        .count();
    assert_eq!(rings, 2);
    // Line 2 is picked up: line 1 stops ringing, silently.
    m.handle_event(now, Event::OffHook { line: l(2) });
    let cmds: Vec<_> = std::iter::from_fn(|| m.poll_command()).collect();
    assert!(cmds.contains(&Command::StopRing { line: l(1) }));
    assert!(outputs(&mut m).is_empty());
    assert_eq!(m.station(&l(1)).unwrap().state_name(), "Idle");
    // Hung up before the connection exists: that failure is the request's outcome.
    m.handle_event(now, Event::OnHook { line: l(2) });
    let out = outputs(&mut m);
    assert!(
        matches!(&out[..], [Output::RecordFailed { request: RequestId(4), reason }] if reason.contains("hung up")),
        "{out:?}"
    );
    assert_eq!(m.poll_timeout(), None);
    assert_eq!(m.ports_in_use(), 0);
}

/// `user`'s phones are asked to record for `to` (request `request`).
fn record(m: &mut StationManager, now: Instant, request: RequestId, user: UserId, to: UserId) {
    m.handle_input(
        now,
        Input::Record {
            request,
            user,
            to: vec![to],
            delivery: crate::Delivery::Record,
        },
    );
}

/// The media engine has finished the capture of `call`: `secs` long, `speech` of them speech.
fn captured(m: &mut StationManager, now: Instant, call: CallId, secs: u64, speech: u64) {
    m.handle_media(
        now,
        MediaEvent::Captured {
            call,
            file: "/tmp/captured.wav".into(),
            duration: Duration::from_secs(secs),
            speech: Duration::from_secs(speech),
        },
    );
}

fn commands(m: &mut StationManager) -> Vec<Command> {
    std::iter::from_fn(|| m.poll_command()).collect()
}

#[test]
fn a_phone_added_while_running_is_watched_and_available_once_its_line_reports() {
    let now = epoch();
    let (me, bob) = (UserId([1; 16]), UserId([2; 16]));
    let l = |n| LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"));
    let mut m = StationManager::new(Config::default());
    m.add_station(l(1), me).unwrap();
    up(&mut m, now);
    commands(&mut m);
    while m.poll_availability().is_some() {}
    m.add_station(l(2), bob).unwrap();
    assert_eq!(commands(&mut m), [Command::AddLine { line: l(2) }]);
    assert_eq!(m.is_available(bob), Some(true), "its gateway is up");
    assert_eq!(
        std::iter::from_fn(|| m.poll_availability()).collect::<Vec<_>>(),
        [(bob, true)]
    );
    assert_eq!(m.station(&l(2)).unwrap().state_name(), "AwaitingLineStatus");
    m.handle_event(
        now,
        Event::LineStatus {
            line: l(2),
            off_hook: false,
        },
    );
    assert_eq!(m.station(&l(2)).unwrap().state_name(), "Idle");
}

#[test]
fn a_phone_removed_while_recording_stores_it_then_lets_the_line_go() {
    let now = epoch();
    let (me, bob) = (UserId([1; 16]), UserId([2; 16]));
    let l = |n| LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"));
    let mut m = StationManager::new(Config::default());
    m.add_station(l(1), me).unwrap();
    up(&mut m, now);
    record(&mut m, now, RequestId(4), me, bob);
    m.handle_event(now, Event::OffHook { line: l(1) });
    let call = commands(&mut m)
        .into_iter()
        .find_map(|c| match c {
            Command::CreateConnection { call, .. } => Some(call),
            _ => None,
        })
        .expect("a connection asked for");
    m.handle_event(
        now,
        Event::ConnectionCreated {
            line: l(1),
            call,
            local: gateway_control::model::Media {
                address: "192.0.2.2:16384".parse().unwrap(),
                codec: Codec::Pcmu,
                ptime: Duration::from_millis(20),
                telephone_event: None,
            },
        },
    );
    assert_eq!(
        outputs(&mut m),
        [Output::Capturing {
            request: Some(RequestId(4)),
            user: me
        }]
    );
    commands(&mut m);
    assert_eq!(m.remove_station(now, &l(1)), Some(me));
    assert_eq!(m.remove_station(now, &l(1)), None, "once");
    let cmds = commands(&mut m);
    assert_eq!(
        cmds.last(),
        Some(&Command::RemoveLine { line: l(1) }),
        "the line goes after its connection: {cmds:?}"
    );
    assert!(cmds.contains(&Command::DeleteConnection { line: l(1), call }));
    assert!(std::iter::from_fn(|| m.poll_media()).any(|c| c == MediaCommand::StopCapture { call }));
    assert_eq!(m.is_available(me), None, "no phone any more");
    assert_eq!(m.stations().count(), 0, "a removed phone is not listed");
    assert!(m.is_capturing());
    // The line's hook no longer matters; its connection's answers still arrive.
    let unknown = m.stats().unknown_line;
    m.handle_event(now, Event::OnHook { line: l(1) });
    assert_eq!(m.stats().unknown_line, unknown + 1);
    m.handle_event(now, Event::ConnectionDeleted { line: l(1), call });
    assert_eq!(m.stats().unknown_line, unknown + 1);
    assert_eq!(
        m.add_station(l(1), bob),
        Err(AddError::Retiring(l(1))),
        "not while its recording is being stored"
    );
    captured(&mut m, now, call, 3, 2);
    assert!(matches!(
        &outputs(&mut m)[..],
        [Output::Recorded {
            request: Some(RequestId(4)),
            reason: crate::StopReason::Removed,
            ..
        }]
    ));
    assert!(!m.is_capturing());
    // Now the line takes bob's phone.
    m.add_station(l(1), bob).unwrap();
    assert_eq!(commands(&mut m), [Command::AddLine { line: l(1) }]);
    m.handle_event(
        now,
        Event::LineStatus {
            line: l(1),
            off_hook: false,
        },
    );
    assert_eq!(m.is_available(bob), Some(true));
    assert_eq!(m.station(&l(1)).unwrap().user(), bob);
    let listed: Vec<_> = m.stations().map(|s| (s.line().clone(), s.user())).collect();
    assert_eq!(listed, [(l(1), bob)]);
}

/// The gateway's side of a connection, for `ConnectionCreated`.
fn gateway_media() -> gateway_control::model::Media {
    gateway_control::model::Media {
        address: "192.0.2.2:16384".parse().unwrap(),
        codec: Codec::Pcmu,
        ptime: Duration::from_millis(20),
        telephone_event: None,
    }
}

/// Line `line` is picked up and its connection made: the call's handle.
fn picked_up(m: &mut StationManager, now: Instant, line: &LineId) -> CallId {
    m.handle_event(now, Event::OffHook { line: line.clone() });
    let call = commands(m)
        .into_iter()
        .find_map(|c| match c {
            Command::CreateConnection { call, line: l, .. } if &l == line => Some(call),
            _ => None,
        })
        .expect("a connection asked for");
    m.handle_event(
        now,
        Event::ConnectionCreated {
            line: line.clone(),
            call,
            local: gateway_media(),
        },
    );
    call
}

#[test]
fn a_live_stream_goes_on_to_the_users_other_phone_when_one_is_removed() {
    let now = epoch();
    let me = UserId([1; 16]);
    let l = |n| LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"));
    let mut m = StationManager::new(Config::default());
    m.add_station(l(1), me).unwrap();
    m.add_station(l(2), me).unwrap();
    up(&mut m, now);
    let stream = StreamId(9);
    m.handle_input(
        now,
        Input::LiveStart {
            user: me,
            stream,
            from: UserId([2; 16]),
        },
    );
    m.remove_station(now, &l(1));
    let call = picked_up(&mut m, now, &l(2));
    std::iter::from_fn(|| m.poll_media()).for_each(drop);
    m.handle_input(
        now,
        Input::LiveBuffer {
            stream,
            pcm: vec![7; 160],
        },
    );
    let media: Vec<_> = std::iter::from_fn(|| m.poll_media()).collect();
    assert!(
        media
            .iter()
            .any(|c| matches!(c, MediaCommand::LiveBuffer { call: c, .. } if *c == call)),
        "{media:?}"
    );
}

#[test]
fn a_phone_given_a_removed_ones_line_leaves_the_other_phones_calls_alone() {
    let now = epoch();
    let (me, carol, bob) = (UserId([1; 16]), UserId([3; 16]), UserId([2; 16]));
    let l = |n| LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"));
    let mut m = StationManager::new(Config::default());
    m.add_station(l(1), me).unwrap();
    m.add_station(l(2), carol).unwrap();
    up(&mut m, now);
    // carol records on line 2.
    record(&mut m, now, RequestId(6), carol, me);
    let call = picked_up(&mut m, now, &l(2));
    outputs(&mut m);
    // Line 1 changes hands meanwhile.
    m.remove_station(now, &l(1));
    m.add_station(l(1), bob).unwrap();
    // carol's recording still ends as hers.
    m.handle_event(now, Event::OnHook { line: l(2) });
    captured(&mut m, now, call, 2, 1);
    assert!(matches!(
        &outputs(&mut m)[..],
        [Output::Recorded {
            request: Some(RequestId(6)),
            user,
            ..
        }] if *user == carol
    ));
    assert_eq!(m.stats().unknown_call, 0);
}

#[test]
fn a_gateway_coming_up_wakes_only_its_own_phones() {
    let now = epoch();
    let (me, bob) = (UserId([1; 16]), UserId([2; 16]));
    let mut m = StationManager::new(Config::default());
    m.add_station(LineId::new(GatewayId::new("gw1"), "aaln/1"), me)
        .unwrap();
    m.add_station(LineId::new(GatewayId::new("gw2"), "aaln/1"), bob)
        .unwrap();
    m.handle_event(
        now,
        Event::GatewayUp {
            gateway: GatewayId::new("gw1"),
        },
    );
    assert_eq!(
        (m.is_available(me), m.is_available(bob)),
        (Some(true), Some(false))
    );
}

#[test]
fn a_request_ringing_on_a_removed_phone_fails_only_when_no_other_rings() {
    let now = epoch();
    let me = UserId([1; 16]);
    let l = |n| LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"));
    let mut m = StationManager::new(Config::default());
    m.add_station(l(1), me).unwrap();
    m.add_station(l(2), me).unwrap();
    up(&mut m, now);
    record(&mut m, now, RequestId(5), me, UserId([2; 16]));
    commands(&mut m);
    m.remove_station(now, &l(1));
    assert!(commands(&mut m).contains(&Command::StopRing { line: l(1) }));
    assert!(outputs(&mut m).is_empty(), "line 2 still rings");
    assert_eq!(m.is_available(me), Some(true));
    m.remove_station(now, &l(2));
    let out = outputs(&mut m);
    assert!(
        matches!(&out[..], [Output::RecordFailed { request: RequestId(5), reason }] if reason.contains("removed")),
        "{out:?}"
    );
    assert_eq!(m.is_available(me), None);
    commands(&mut m);
    // A gateway coming back does not wake the removed phones.
    m.handle_event(
        now,
        Event::GatewayUp {
            gateway: GatewayId::new("gw1"),
        },
    );
    assert!(commands(&mut m).is_empty());
}

#[test]
fn unanswered_on_every_phone_fails_once() {
    let now = epoch();
    let me = UserId([1; 16]);
    let l = |n| LineId::new(GatewayId::new("gw1"), &format!("aaln/{n}"));
    let mut m = StationManager::new(Config::default());
    m.add_station(l(1), me).unwrap();
    m.add_station(l(2), me).unwrap();
    up(&mut m, now);
    m.handle_input(
        now,
        Input::Record {
            request: RequestId(5),
            user: me,
            to: vec![],
            delivery: crate::Delivery::Record,
        },
    );
    let at = m.poll_timeout().unwrap();
    m.handle_timeout(at);
    assert_eq!(outputs(&mut m).len(), 1);
    assert_eq!(m.stats().failures_merged, 1);
    assert_eq!(m.stats().stations.unanswered, 2);
}

/// Station timers come from a heap (`timers.rs`): with many phones, deadlines moved earlier,
/// moved later and cancelled fire exactly when the stations say, each once, and never at the
/// instant they held before.
#[test]
fn timers_re_armed_earlier_later_or_cancelled_fire_at_their_instant_with_many_stations() {
    const N: u32 = 300;
    let t0 = epoch();
    let s = |n| t0 + Duration::from_secs(n);
    let user = |k: u32| {
        let mut id = [0u8; 16];
        id[..4].copy_from_slice(&(k + 1).to_be_bytes());
        UserId(id)
    };
    let gw = GatewayId::new("gw1");
    let line = |k: u32| LineId::new(gw.clone(), &format!("aaln/{k}"));
    let mut m = StationManager::new(Config::default());
    for k in 0..N {
        m.add_station(line(k), user(k)).unwrap();
    }
    m.handle_event(
        t0,
        Event::GatewayUp {
            gateway: gw.clone(),
        },
    );
    for k in 0..N {
        m.handle_event(
            t0,
            Event::LineStatus {
                line: line(k),
                off_hook: false,
            },
        );
    }
    // Every phone rings for a message: 60 s each.
    for k in 0..N {
        m.handle_input(
            t0,
            Input::MessageWaiting {
                user: user(k),
                message: crate::MessageId([k as u8; 16]),
                from: user(N),
            },
        );
    }
    let rings = commands(&mut m)
        .iter()
        .filter(|c| matches!(c, Command::Ring { .. }))
        .count();
    assert_eq!(rings, N as usize);
    assert_eq!(m.poll_timeout(), Some(s(60)));
    // At 10 s a third is asked to record (30 s: earlier than their 60 s), a third is picked
    // up (cancelled); at 35 s the last third is asked to record (30 s: later than 60 s).
    for k in (0..N).filter(|k| k % 3 == 0) {
        record(&mut m, s(10), RequestId(k.into()), user(k), user(N));
    }
    for k in (0..N).filter(|k| k % 3 == 2) {
        m.handle_event(s(10), Event::OffHook { line: line(k) });
    }
    assert_eq!(m.poll_timeout(), Some(s(40)));
    for k in (0..N).filter(|k| k % 3 == 1) {
        record(&mut m, s(35), RequestId(k.into()), user(k), user(N));
    }
    assert_eq!(m.poll_timeout(), Some(s(40)));
    commands(&mut m);
    outputs(&mut m);
    // Driven as a driver does: to each deadline in turn, until 70 s.
    let mut failed = HashMap::new();
    let mut stopped = Vec::new();
    let mut now = s(35);
    while let Some(at) = m.poll_timeout().filter(|&at| at <= s(70)) {
        assert!(at >= now, "deadlines never go back");
        now = at;
        m.handle_timeout(now);
        for o in outputs(&mut m) {
            if let Output::RecordFailed { request, reason } = o {
                assert!(reason.contains("no answer"), "{reason}");
                assert!(failed.insert(request.0, now).is_none(), "fails once");
            }
        }
        for c in commands(&mut m) {
            if let Command::StopRing { line } = c {
                stopped.push((line, now));
            }
        }
    }
    for k in 0..N {
        let expected = match k % 3 {
            0 => Some(s(40)),
            1 => Some(s(65)),
            _ => None,
        };
        assert_eq!(failed.get(&u64::from(k)).copied(), expected, "phone {k}");
    }
    assert_eq!(failed.len(), 2 * N as usize / 3);
    assert!(
        stopped.iter().all(|(_, at)| *at == s(40) || *at == s(65)),
        "no message ring timed out at its old 60 s"
    );
    assert_eq!(stopped.len(), 2 * N as usize / 3);
}
