//! Rings, answers, hang-ups, forks and the phones' own calls.

use super::*;

#[test]
fn a_ring_without_a_registered_phone_fails_at_once() {
    let now = Instant::now();
    let mut a = new_agent(now);
    a.handle_command(now, ring("carol"));
    match events(&mut a).as_slice() {
        [
            Event::CommandFailed {
                code: 480,
                call: None,
                line: l,
                ..
            },
        ] => {
            assert_eq!(*l, line("carol"));
        }
        other => panic!("{other:?}"),
    }
    assert!(sent(&mut a).is_empty());
    assert_eq!(a.stats().calls.no_phone, 1);
}

#[test]
fn a_phone_that_answers_gets_our_answer_in_the_ack_and_a_bye_when_the_station_is_done() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    let invite = answered_ring(&mut a, &p, now);
    a.handle_command(now, create("alice", 7, 30000));
    let out = sent(&mut a);
    let acks = requests(&out, Method::Ack);
    assert_eq!(acks.len(), 1, "{out:?}");
    let (to, ack) = &acks[0];
    assert_eq!(*to, p.addr);
    assert_eq!(ack.headers.call_id(), invite.headers.call_id());
    assert_eq!(ack.headers.to().unwrap().tag(), Some("phonetag"));
    assert_eq!(ack.headers.cseq().unwrap().seq, 1);
    let answer = crate::sdp::Session::parse(&ack.body).unwrap();
    assert_eq!(answer.media[0].port, 30000);
    assert_eq!(answer.media[0].formats[0], 0, "PCMU, the offer's first");
    match events(&mut a).as_slice() {
        [Event::ConnectionCreated { call, local, .. }] => {
            assert_eq!(*call, CallId(7));
            assert_eq!(local.address, SocketAddr::from(([127, 0, 0, 1], 40000)));
            assert_eq!(local.codec, Codec::Pcmu);
            assert_eq!(local.telephone_event, Some(101));
        }
        other => panic!("{other:?}"),
    }
    // A retransmitted 200 is acknowledged again, the same way.
    p.send(
        &mut a,
        now,
        &Message::Response(p.answer(&invite, 200, &phone_offer(40000))),
    );
    let again = requests(&sent(&mut a), Method::Ack);
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].1.body, ack.body);
    assert!(events(&mut a).is_empty());
    a.handle_command(
        now,
        Command::DeleteConnection {
            line: line("alice"),
            call: CallId(7),
        },
    );
    let byes = requests(&sent(&mut a), Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].1.headers.cseq().unwrap().seq, 2);
    assert_eq!(
        events(&mut a),
        [
            Event::ConnectionDeleted {
                line: line("alice"),
                call: CallId(7)
            },
            Event::OnHook {
                line: line("alice")
            }
        ]
    );
    assert_eq!(a.stats().calls.hangups_by_us, 1);
}

#[test]
fn the_phone_hanging_up_is_on_hook_and_its_connection_goes_without_a_bye() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let invite = answered_ring(&mut a, &p, now);
    a.handle_command(now, create("alice", 7, 30000));
    sent(&mut a);
    events(&mut a);
    // The phone's BYE in the dialog.
    let call_id = invite.headers.call_id().unwrap().to_owned();
    let mut bye = p.request(Method::Bye, "offhook", &call_id, "");
    bye.headers
        .set(HeaderName::To, invite.headers.from().unwrap().to_string());
    p.send(&mut a, now, &Message::Request(bye));
    assert_eq!(only_response(sent(&mut a)).status, 200);
    assert_eq!(
        events(&mut a),
        [Event::OnHook {
            line: line("alice")
        }]
    );
    a.handle_command(
        now,
        Command::DeleteConnection {
            line: line("alice"),
            call: CallId(7),
        },
    );
    assert!(requests(&sent(&mut a), Method::Bye).is_empty());
    assert_eq!(
        events(&mut a),
        [Event::ConnectionDeleted {
            line: line("alice"),
            call: CallId(7)
        }]
    );
}

#[test]
fn two_phones_ring_and_the_first_to_answer_wins() {
    let now = Instant::now();
    let (mut a, p1) = with_alice(now);
    let mut p2 = Phone::new("alice", "secret-a", 5064);
    p2.register(&mut a, now);
    assert!(notices(&mut a).is_empty(), "alice was registered already");
    a.handle_command(now, ring("alice"));
    let out = sent(&mut a);
    let invites = requests(&out, Method::Invite);
    assert_eq!(invites.len(), 2);
    let to_p1 = invites
        .iter()
        .find(|(to, _)| *to == p1.addr)
        .unwrap()
        .1
        .clone();
    let to_p2 = invites
        .iter()
        .find(|(to, _)| *to == p2.addr)
        .unwrap()
        .1
        .clone();
    p2.send(&mut a, now, &Message::Response(p2.answer(&to_p2, 180, "")));
    p1.send(
        &mut a,
        now,
        &Message::Response(p1.answer(&to_p1, 200, &phone_offer(40000))),
    );
    assert_eq!(
        events(&mut a),
        [Event::OffHook {
            line: line("alice")
        }]
    );
    let cancels = requests(&sent(&mut a), Method::Cancel);
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].0, p2.addr);
    assert_eq!(cancels[0].1.headers.call_id(), to_p2.headers.call_id());
}

#[test]
fn a_ring_every_phone_refuses_fails_with_the_phones_reason() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    a.handle_command(now, ring("alice"));
    let (_, invite) = requests(&sent(&mut a), Method::Invite).remove(0);
    p.send(&mut a, now, &Message::Response(p.answer(&invite, 486, "")));
    match events(&mut a).as_slice() {
        [
            Event::CommandFailed {
                code: 486,
                call: None,
                ..
            },
        ] => {}
        other => panic!("{other:?}"),
    }
}

/// The phone dials `target` (authenticated); returns its INVITE.
fn dial(
    a: &mut Agent,
    p: &mut Phone,
    now: Instant,
    target: &str,
    body: &str,
) -> (Request, Vec<(SocketAddr, Message)>) {
    let r = p.request(Method::Invite, target, "dial-1", body);
    let out = p.send_authenticated(a, now, r.clone());
    (r, out)
}

#[test]
fn dialling_the_listen_code_picks_up_to_listen_and_info_keys_reach_the_station() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let (invite, out) = dial(&mut a, &mut p, now, "*97", &phone_offer(41000));
    assert!(
        out.iter()
            .any(|(_, m)| matches!(m, Message::Response(r) if r.status == 100)),
        "{out:?}"
    );
    assert_eq!(
        events(&mut a),
        [Event::OffHook {
            line: line("alice")
        }]
    );
    a.handle_command(now, create("alice", 9, 30002));
    let ok = only_response(sent(&mut a));
    assert_eq!(ok.status, 200);
    let answer = crate::sdp::Session::parse(&ok.body).unwrap();
    assert_eq!(answer.media[0].port, 30002);
    match events(&mut a).as_slice() {
        [Event::ConnectionCreated { call, local, .. }] => {
            assert_eq!(*call, CallId(9));
            assert_eq!(local.address.port(), 41000);
        }
        other => panic!("{other:?}"),
    }
    // ACK, then a key as SIP INFO.
    let mut ack = p.request(Method::Ack, "*97", "dial-1", "");
    ack.headers
        .set(HeaderName::To, ok.headers.get(&HeaderName::To).unwrap());
    ack.headers.set(
        HeaderName::CSeq,
        format!("{} ACK", invite.headers.cseq().unwrap().seq + 1),
    );
    p.send(&mut a, now, &Message::Request(ack));
    let mut info = p.request(Method::Info, "*97", "dial-1", "");
    info.headers
        .set(HeaderName::To, ok.headers.get(&HeaderName::To).unwrap());
    info.headers
        .set(HeaderName::ContentType, "application/dtmf-relay");
    info.body = b"Signal=5\r\nDuration=160\r\n".to_vec();
    p.send(&mut a, now, &Message::Request(info));
    assert_eq!(only_response(sent(&mut a)).status, 200);
    match events(&mut a).as_slice() {
        [Event::Digit { digit, .. }] => assert_eq!(digit.as_char(), '5'),
        other => panic!("{other:?}"),
    }
}

#[test]
fn dialling_in_with_nothing_to_play_is_refused_and_on_hook() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    dial(&mut a, &mut p, now, "*97", &phone_offer(41000));
    assert_eq!(
        events(&mut a),
        [Event::OffHook {
            line: line("alice")
        }]
    );
    a.handle_command(
        now,
        Command::PlayTone {
            line: line("alice"),
            tone: Tone::Confirmation,
        },
    );
    assert_eq!(only_response(sent(&mut a)).status, 480);
    assert_eq!(
        events(&mut a),
        [Event::OnHook {
            line: line("alice")
        }]
    );
}

#[test]
fn dialling_a_user_waits_for_the_ring_of_the_callers_own_line() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    dial(&mut a, &mut p, now, "bob", &phone_offer(41000));
    assert_eq!(
        notices(&mut a),
        [Notice::Dialled {
            line: line("alice"),
            user: "alice".into(),
            target: "bob".into()
        }]
    );
    assert!(events(&mut a).is_empty());
    // The record request rings alice's line: her waiting call answers it, nothing is sent.
    a.handle_command(now, ring("alice"));
    assert!(requests(&sent(&mut a), Method::Invite).is_empty());
    assert_eq!(
        events(&mut a),
        [Event::OffHook {
            line: line("alice")
        }]
    );
    a.handle_command(now, create("alice", 3, 30004));
    assert_eq!(only_response(sent(&mut a)).status, 200);
}

#[test]
fn a_dialled_call_nobody_rings_for_is_refused_after_the_wait() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    dial(&mut a, &mut p, now, "nobody", &phone_offer(41000));
    notices(&mut a);
    let at = a.poll_timeout().expect("the dial wait");
    assert!(at <= now + DIAL_WAIT);
    a.handle_timeout(at);
    assert_eq!(only_response(sent(&mut a)).status, 480);
}

#[test]
fn an_unwatched_line_or_a_busy_one_refuses_a_phones_call() {
    let now = Instant::now();
    let mut a = new_agent(now);
    let mut p = Phone::new("alice", "secret-a", 5062);
    p.register(&mut a, now);
    let (_, out) = dial(&mut a, &mut p, now, "*97", &phone_offer(41000));
    assert_eq!(only_response(out).status, 480, "no station for alice yet");
    a.handle_command(
        now,
        Command::AddLine {
            line: line("alice"),
        },
    );
    events(&mut a);
    dial(&mut a, &mut p, now, "*97", &phone_offer(41000));
    let r = p.request(Method::Invite, "*97", "dial-2", &phone_offer(41002));
    let out = p.send_authenticated(&mut a, now, r);
    assert_eq!(only_response(out).status, 486);
}

#[test]
fn wrong_credentials_are_refused_and_nothing_reaches_the_station() {
    let now = Instant::now();
    let (mut a, _) = with_alice(now);
    let mut liar = Phone::new("alice", "wrong", 5070);
    let (_, out) = dial(&mut a, &mut liar, now, "*97", &phone_offer(41000));
    assert_eq!(only_response(out).status, 403);
    assert!(events(&mut a).is_empty());
    assert!(
        a.stats().unauthenticated >= 2,
        "the challenge and the refusal"
    );
}

#[test]
fn past_the_calls_being_set_up_a_new_call_is_answered_503_at_once() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    a.config.max_calls_setting_up = 1;
    let mut bob = Phone::new("bob", "secret-b", 5066);
    bob.register(&mut a, now);
    a.handle_command(now, Command::AddLine { line: line("bob") });
    notices(&mut a);
    events(&mut a);
    dial(&mut a, &mut p, now, "*97", &phone_offer(41000));
    assert_eq!(
        events(&mut a),
        [Event::OffHook {
            line: line("alice")
        }]
    );
    let (_, out) = dial(&mut a, &mut bob, now, "*97", &phone_offer(41002));
    let r = only_response(out);
    assert_eq!(r.status, 503);
    assert_eq!(r.headers.get(&HeaderName::RetryAfter), Some("1"));
    assert!(events(&mut a).is_empty());
    assert_eq!(a.stats().calls.shed, 1);
    // Once alice's call has its connection, bob's next call is taken.
    a.handle_command(now, create("alice", 9, 30002));
    sent(&mut a);
    events(&mut a);
    let r = bob.request(Method::Invite, "*97", "dial-3", &phone_offer(41004));
    bob.send_authenticated(&mut a, now, r);
    assert_eq!(events(&mut a), [Event::OffHook { line: line("bob") }]);
}
