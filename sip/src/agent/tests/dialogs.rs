//! A call's life past the happy path: re-INVITEs (RFC 3261 §14), CANCEL (§9), stopping a ring
//! (§9.1: no CANCEL before a provisional response), the ACK's wait for the station, and what
//! the station's commands do when they do not fit the call. Written for the survivors of the
//! agent's mutation run.

use super::*;
use crate::sdp::{Direction, Session};

/// A request of alice's phone in the dialog `invite` (our INVITE) made: our From is its To.
fn in_dialog(p: &mut Phone, invite: &Request, method: Method, body: &str) -> Request {
    let call_id = invite.headers.call_id().unwrap().to_owned();
    let mut r = p.request(method, "offhook", &call_id, body);
    r.headers
        .set(HeaderName::To, invite.headers.from().unwrap().to_string());
    r.headers.set(
        HeaderName::From,
        format!("<sip:alice@{SERVER}>;tag=phonetag"),
    );
    r
}

/// No client transaction of a call is still remembered (its entries are private to `calls`:
/// read through its `Debug`).
fn assert_nothing_left(a: &Agent) {
    let calls = format!("{:?}", a.calls);
    assert!(calls.contains("clients: {}"), "{calls}");
    assert!(calls.contains("cancelling: {}"), "{calls}");
}

/// A ring alice's phone answered and the station connected (the call is up).
fn call_up(now: Instant) -> (Agent, Phone, Request) {
    let (mut a, p) = with_alice(now);
    let invite = answered_ring(&mut a, &p, now);
    a.handle_command(now, create("alice", 7, 30000));
    assert_eq!(requests(&sent(&mut a), Method::Ack).len(), 1);
    events(&mut a);
    (a, p, invite)
}

fn sdp_of(r: &Response) -> Session {
    assert_eq!(
        r.headers.get(&HeaderName::ContentType),
        Some("application/sdp")
    );
    Session::parse(&r.body).unwrap()
}

/// An offer with only G.729 (payload type 18): nothing we take.
fn g729_offer(port: u16) -> String {
    format!(
        "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
         m=audio {port} RTP/AVP 18\r\na=rtpmap:18 G729/8000\r\n"
    )
}

#[test]
fn a_reinvite_for_hold_is_answered_from_the_calls_media_with_the_next_version() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let invite = answered_ring(&mut a, &p, now);
    a.handle_command(now, create("alice", 7, 30000));
    let acks = requests(&sent(&mut a), Method::Ack);
    let first = Session::parse(&acks[0].1.body).unwrap().origin;
    assert_eq!(first.version, 1);
    events(&mut a);
    let hold = phone_offer(40000).replace("a=sendrecv", "a=sendonly");
    let r = in_dialog(&mut p, &invite, Method::Invite, &hold);
    p.send(&mut a, now, &Message::Request(r));
    let ok = only_response(sent(&mut a));
    assert_eq!(ok.status, 200);
    assert!(ok.headers.get(&HeaderName::Contact).is_some());
    let answer = sdp_of(&ok);
    assert_eq!(answer.origin.version, 2, "one more than the ACK's answer");
    assert_eq!(
        answer.origin.session_id, first.session_id,
        "RFC 3264 §8: the same session, only the version changes"
    );
    assert_eq!(answer.media[0].port, 30000);
    let dir = answer.media[0].direction;
    assert!(
        dir == Direction::RecvOnly || answer.direction == Some(Direction::RecvOnly),
        "{answer:?}"
    );
    // Without an offer, the 200 carries ours (its answer comes in the ACK), the version again
    // one more.
    let r = in_dialog(&mut p, &invite, Method::Invite, "");
    p.send(&mut a, now, &Message::Request(r));
    let ok = only_response(sent(&mut a));
    assert_eq!(ok.status, 200);
    let offer = sdp_of(&ok);
    assert_eq!(offer.origin.version, 3);
    assert_eq!(offer.origin.session_id, first.session_id);
    assert_eq!(offer.media[0].port, 30000);
    assert_eq!(offer.media[0].formats[0], 0, "the station's codec first");
    assert!(events(&mut a).is_empty(), "a re-INVITE is not a new call");
}

#[test]
fn a_reinvite_with_nothing_in_common_is_488_and_one_for_no_call_is_481() {
    let now = Instant::now();
    let (mut a, mut p, invite) = call_up(now);
    let r = in_dialog(&mut p, &invite, Method::Invite, &g729_offer(40000));
    p.send(&mut a, now, &Message::Request(r));
    assert_eq!(only_response(sent(&mut a)).status, 488);
    let mut r = in_dialog(&mut p, &invite, Method::Invite, &phone_offer(40000));
    r.headers.set(HeaderName::CallId, "no-such-call");
    p.send(&mut a, now, &Message::Request(r));
    assert_eq!(only_response(sent(&mut a)).status, 481);
    assert!(events(&mut a).is_empty());
}

#[test]
fn a_reinvite_before_the_call_has_its_media_is_491() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let invite = answered_ring(&mut a, &p, now);
    let r = in_dialog(&mut p, &invite, Method::Invite, &phone_offer(40000));
    p.send(&mut a, now, &Message::Request(r));
    assert_eq!(only_response(sent(&mut a)).status, 491);
}

/// The CANCEL of the last INVITE `p` sent (same branch, Call-ID, tags and CSeq number).
fn cancel_of(p: &Phone, invite: &Request) -> Request {
    let mut c = Request::new(Method::Cancel, invite.uri.clone());
    c.headers.push(
        HeaderName::Via,
        format!(
            "SIP/2.0/UDP {};branch=z9hG4bKphone{}x{}",
            p.addr, p.user, p.n
        ),
    );
    for name in [HeaderName::From, HeaderName::To, HeaderName::CallId] {
        c.headers
            .push(name.clone(), invite.headers.get(&name).unwrap().to_owned());
    }
    c.headers.push(HeaderName::MaxForwards, "70");
    c.headers
        .push(HeaderName::CSeq, format!("{} CANCEL", p.cseq));
    c
}

fn statuses(out: &[(SocketAddr, Message)]) -> Vec<(u16, Method)> {
    out.iter()
        .filter_map(|(_, m)| match m {
            Message::Response(r) if r.status >= 200 => {
                Some((r.status, r.headers.cseq().unwrap().method))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_phone_cancelling_its_call_to_listen_is_487_and_on_hook() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let invite = p.request(Method::Invite, "*97", "dial-c", &phone_offer(41000));
    p.send_authenticated(&mut a, now, invite.clone());
    assert_eq!(
        events(&mut a),
        [Event::OffHook {
            line: line("alice")
        }]
    );
    p.send(&mut a, now, &Message::Request(cancel_of(&p, &invite)));
    let mut got = statuses(&sent(&mut a));
    got.sort_by_key(|(s, _)| *s);
    assert_eq!(got, [(200, Method::Cancel), (487, Method::Invite)]);
    assert_eq!(
        events(&mut a),
        [Event::OnHook {
            line: line("alice")
        }]
    );
    assert_eq!(a.stats().calls.hangups_by_phone, 1);
    assert!(!a.is_off_hook("alice"));
    // The station's connection for the call that went is refused.
    a.handle_command(now, create("alice", 9, 30002));
    assert!(matches!(
        events(&mut a).as_slice(),
        [Event::CommandFailed { code: 481, .. }]
    ));
}

#[test]
fn a_phone_cancelling_a_call_to_a_user_is_487_and_the_ring_then_rings_it() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let invite = p.request(Method::Invite, "bob", "dial-c", &phone_offer(41000));
    p.send_authenticated(&mut a, now, invite.clone());
    notices(&mut a);
    p.send(&mut a, now, &Message::Request(cancel_of(&p, &invite)));
    let mut got = statuses(&sent(&mut a));
    got.sort_by_key(|(s, _)| *s);
    assert_eq!(got, [(200, Method::Cancel), (487, Method::Invite)]);
    assert!(events(&mut a).is_empty(), "it never was off hook");
    assert_eq!(a.stats().calls.hangups_by_phone, 1);
    // No call waits any more: the record request's ring rings the phone.
    a.handle_command(now, ring("alice"));
    assert_eq!(requests(&sent(&mut a), Method::Invite).len(), 1);
}

#[test]
fn a_bye_before_our_200_ends_the_invite_with_487() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let invite = p.request(Method::Invite, "*97", "dial-b", &phone_offer(41000));
    p.send_authenticated(&mut a, now, invite);
    events(&mut a);
    let bye = p.request(Method::Bye, "*97", "dial-b", "");
    p.send(&mut a, now, &Message::Request(bye));
    let mut got = statuses(&sent(&mut a));
    got.sort_by_key(|(s, _)| *s);
    assert_eq!(got, [(200, Method::Bye), (487, Method::Invite)]);
    assert_eq!(
        events(&mut a),
        [Event::OnHook {
            line: line("alice")
        }]
    );
}

#[test]
fn stopping_a_ring_cancels_only_after_a_provisional_response() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    a.handle_command(now, ring("alice"));
    let (_, invite) = requests(&sent(&mut a), Method::Invite).remove(0);
    a.handle_command(
        now,
        Command::StopRing {
            line: line("alice"),
        },
    );
    assert!(
        requests(&sent(&mut a), Method::Cancel).is_empty(),
        "RFC 3261 §9.1: not before a provisional response"
    );
    p.send(&mut a, now, &Message::Response(p.answer(&invite, 180, "")));
    let cancels = requests(&sent(&mut a), Method::Cancel);
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].1.headers.call_id(), invite.headers.call_id());
    // The phone ends its INVITE with 487: nothing reaches the station.
    p.send(&mut a, now, &Message::Response(p.answer(&invite, 487, "")));
    assert!(events(&mut a).is_empty());
    assert!(requests(&sent(&mut a), Method::Bye).is_empty());
}

#[test]
fn stopping_a_ring_that_rang_cancels_at_once() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    a.handle_command(now, ring("alice"));
    let (_, invite) = requests(&sent(&mut a), Method::Invite).remove(0);
    p.send(&mut a, now, &Message::Response(p.answer(&invite, 180, "")));
    sent(&mut a);
    a.handle_command(
        now,
        Command::StopRing {
            line: line("alice"),
        },
    );
    let cancels = requests(&sent(&mut a), Method::Cancel);
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].0, p.addr);
}

#[test]
fn a_200_after_the_ring_stopped_is_acknowledged_and_hung_up() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    a.handle_command(now, ring("alice"));
    let (_, invite) = requests(&sent(&mut a), Method::Invite).remove(0);
    p.send(&mut a, now, &Message::Response(p.answer(&invite, 180, "")));
    a.handle_command(
        now,
        Command::StopRing {
            line: line("alice"),
        },
    );
    sent(&mut a);
    p.send(
        &mut a,
        now,
        &Message::Response(p.answer(&invite, 200, &phone_offer(40000))),
    );
    let out = sent(&mut a);
    let acks = requests(&out, Method::Ack);
    assert_eq!(acks.len(), 1, "{out:?}");
    let refused = Session::parse(&acks[0].1.body).unwrap();
    assert_eq!(refused.media[0].port, 0, "RFC 3264 §6: its stream refused");
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].0, p.addr);
    assert_eq!(byes[0].1.headers.call_id(), invite.headers.call_id());
    assert_eq!(byes[0].1.headers.to().unwrap().tag(), Some("phonetag"));
    assert!(events(&mut a).is_empty(), "the station stopped the ring");
}

#[test]
fn the_second_phone_answering_too_late_is_acknowledged_and_hung_up() {
    let now = Instant::now();
    let (mut a, p1) = with_alice(now);
    let mut p2 = Phone::new("alice", "secret-a", 5064);
    p2.register(&mut a, now);
    a.handle_command(now, ring("alice"));
    let invites = requests(&sent(&mut a), Method::Invite);
    let of = |p: &Phone| {
        invites
            .iter()
            .find(|(to, _)| *to == p.addr)
            .unwrap()
            .1
            .clone()
    };
    let (to_p1, to_p2) = (of(&p1), of(&p2));
    p1.send(
        &mut a,
        now,
        &Message::Response(p1.answer(&to_p1, 200, &phone_offer(40000))),
    );
    sent(&mut a);
    events(&mut a);
    p2.send(
        &mut a,
        now,
        &Message::Response(p2.answer(&to_p2, 200, &phone_offer(40002))),
    );
    let out = sent(&mut a);
    assert_eq!(requests(&out, Method::Ack).len(), 1);
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].0, p2.addr);
    assert!(events(&mut a).is_empty(), "alice is off hook once");
}

#[test]
fn an_ack_waits_for_the_station_until_the_deadline_then_refuses_and_hangs_up() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    let invite = answered_ring(&mut a, &p, now);
    sent(&mut a);
    assert_eq!(a.poll_timeout(), Some(now + ACK_WAIT));
    a.handle_timeout(now + ACK_WAIT - Duration::from_millis(1));
    assert!(requests(&sent(&mut a), Method::Ack).is_empty());
    assert!(events(&mut a).is_empty());
    a.handle_timeout(now + ACK_WAIT);
    let out = sent(&mut a);
    let acks = requests(&out, Method::Ack);
    assert_eq!(acks.len(), 1);
    assert_eq!(Session::parse(&acks[0].1.body).unwrap().media[0].port, 0);
    assert_eq!(acks[0].1.headers.cseq().unwrap().seq, 1);
    let byes = requests(&out, Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].1.headers.call_id(), invite.headers.call_id());
    assert_eq!(byes[0].1.headers.cseq().unwrap().seq, 2);
    assert_eq!(
        events(&mut a),
        [Event::OnHook {
            line: line("alice")
        }]
    );
}

#[test]
fn an_answer_with_no_codec_we_take_is_refused_in_the_ack_and_hung_up() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    a.handle_command(now, ring("alice"));
    let (_, invite) = requests(&sent(&mut a), Method::Invite).remove(0);
    p.send(
        &mut a,
        now,
        &Message::Response(p.answer(&invite, 200, &g729_offer(40000))),
    );
    events(&mut a);
    a.handle_command(now, create("alice", 7, 30000));
    let out = sent(&mut a);
    let acks = requests(&out, Method::Ack);
    assert_eq!(acks.len(), 1);
    assert_eq!(Session::parse(&acks[0].1.body).unwrap().media[0].port, 0);
    assert_eq!(requests(&out, Method::Bye).len(), 1);
    match events(&mut a).as_slice() {
        [
            Event::CommandFailed {
                code: 488,
                call: Some(CallId(7)),
                ..
            },
            Event::OnHook { .. },
        ] => {}
        other => panic!("{other:?}"),
    }
    assert_eq!(a.stats().calls.no_common_codec, 1);
    assert!(!a.is_off_hook("alice"));
}

#[test]
fn a_connection_that_does_not_fit_the_call_fails_with_its_reason() {
    let now = Instant::now();
    let mut a = new_agent(now);
    a.handle_command(now, create("bob", 1, 30000));
    assert!(matches!(
        events(&mut a).as_slice(),
        [Event::CommandFailed { code: 481, .. }]
    ));
    let (mut a, _p, _) = call_up(now);
    let mut no_media = create("alice", 8, 30000);
    if let Command::CreateConnection { remote, .. } = &mut no_media {
        *remote = None;
    }
    a.handle_command(now, no_media);
    assert!(matches!(
        events(&mut a).as_slice(),
        [Event::CommandFailed { code: 510, .. }]
    ));
    a.handle_command(now, create("alice", 8, 30000));
    assert!(matches!(
        events(&mut a).as_slice(),
        [Event::CommandFailed { code: 400, .. }]
    ));
    // Still up: the wrong connection is not deleted, the right one is.
    a.handle_command(
        now,
        Command::DeleteConnection {
            line: line("alice"),
            call: CallId(8),
        },
    );
    assert!(matches!(
        events(&mut a).as_slice(),
        [Event::CommandFailed { code: 515, .. }]
    ));
    assert!(sent(&mut a).is_empty());
    a.handle_command(
        now,
        Command::Audit {
            line: line("alice"),
        },
    );
    assert_eq!(
        events(&mut a),
        [Event::LineStatus {
            line: line("alice"),
            off_hook: true
        }]
    );
    a.handle_command(
        now,
        Command::ModifyConnection {
            line: line("alice"),
            call: CallId(7),
            mode: None,
            remote: None,
        },
    );
    assert_eq!(
        events(&mut a),
        [Event::ConnectionModified {
            line: line("alice"),
            call: CallId(7)
        }]
    );
}

#[test]
fn dialling_in_without_an_offer_gets_ours_and_the_answer_in_the_ack_connects() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let invite = p.request(Method::Invite, "*97", "dial-o", "");
    p.send_authenticated(&mut a, now, invite);
    events(&mut a);
    a.handle_command(now, create("alice", 9, 30002));
    let ok = only_response(sent(&mut a));
    assert_eq!(ok.status, 200);
    assert_eq!(sdp_of(&ok).media[0].port, 30002);
    assert!(events(&mut a).is_empty(), "the media waits for the answer");
    let answer = "v=0\r\no=- 2 2 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
                  m=audio 41000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n\
                  a=rtpmap:101 telephone-event/8000\r\n";
    let mut ack = p.request(Method::Ack, "*97", "dial-o", answer);
    ack.headers
        .set(HeaderName::To, ok.headers.get(&HeaderName::To).unwrap());
    p.send(&mut a, now, &Message::Request(ack.clone()));
    match events(&mut a).as_slice() {
        [Event::ConnectionCreated { call, local, .. }] => {
            assert_eq!(*call, CallId(9));
            assert_eq!(local.address.port(), 41000);
        }
        other => panic!("{other:?}"),
    }
    // The ACK again (a retransmission) changes nothing.
    p.send(&mut a, now, &Message::Request(ack));
    assert!(events(&mut a).is_empty());
}

#[test]
fn an_ack_without_the_answer_loses_the_connection() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let invite = p.request(Method::Invite, "*97", "dial-o", "");
    p.send_authenticated(&mut a, now, invite);
    events(&mut a);
    a.handle_command(now, create("alice", 9, 30002));
    let ok = only_response(sent(&mut a));
    let mut ack = p.request(Method::Ack, "*97", "dial-o", "");
    ack.headers
        .set(HeaderName::To, ok.headers.get(&HeaderName::To).unwrap());
    p.send(&mut a, now, &Message::Request(ack));
    assert!(matches!(
        events(&mut a).as_slice(),
        [Event::ConnectionLost {
            call: CallId(9),
            ..
        }]
    ));
    assert_eq!(a.stats().calls.no_common_codec, 1);
}

#[test]
fn an_offer_with_nothing_in_common_in_a_phones_invite_is_488() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let invite = p.request(Method::Invite, "*97", "dial-g", &g729_offer(41000));
    p.send_authenticated(&mut a, now, invite);
    events(&mut a);
    a.handle_command(now, create("alice", 9, 30002));
    assert_eq!(only_response(sent(&mut a)).status, 488);
    match events(&mut a).as_slice() {
        [Event::CommandFailed { code: 488, .. }, Event::OnHook { .. }] => {}
        other => panic!("{other:?}"),
    }
    assert!(!a.is_off_hook("alice"));
}

#[test]
fn removing_the_line_ends_its_call() {
    let now = Instant::now();
    let (mut a, _p, invite) = call_up(now);
    a.handle_command(
        now,
        Command::RemoveLine {
            line: line("alice"),
        },
    );
    let byes = requests(&sent(&mut a), Method::Bye);
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].1.headers.call_id(), invite.headers.call_id());
    // A phone's call waiting for its connection is refused instead.
    let (mut a, mut p) = with_alice(now);
    let invite = p.request(Method::Invite, "*97", "dial-r", &phone_offer(41000));
    p.send_authenticated(&mut a, now, invite);
    events(&mut a);
    a.handle_command(
        now,
        Command::RemoveLine {
            line: line("alice"),
        },
    );
    assert_eq!(only_response(sent(&mut a)).status, 480);
    // Unwatched now: the phone's next call is refused.
    let r = p.request(Method::Invite, "*97", "dial-r2", &phone_offer(41000));
    let out = p.send_authenticated(&mut a, now, r);
    assert_eq!(only_response(out).status, 480);
}

#[test]
fn a_tone_during_a_call_with_media_is_not_played_and_the_call_stays() {
    let now = Instant::now();
    let (mut a, _p, _) = call_up(now);
    a.handle_command(
        now,
        Command::PlayTone {
            line: line("alice"),
            tone: Tone::Reorder,
        },
    );
    assert!(sent(&mut a).is_empty());
    assert!(events(&mut a).is_empty());
    assert!(a.is_off_hook("alice"));
}

#[test]
fn in_dialog_requests_go_to_the_phones_contact_with_one_tag_each() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    a.handle_command(now, ring("alice"));
    let (_, invite) = requests(&sent(&mut a), Method::Invite).remove(0);
    let mut ok = p.answer(&invite, 200, &phone_offer(40000));
    // The phone names another URI as its remote target (RFC 3261 §12.1.2).
    ok.headers.set(
        HeaderName::Contact,
        format!("<sip:alice-device@{};ob>", p.addr),
    );
    p.send(&mut a, now, &Message::Response(ok));
    events(&mut a);
    a.handle_command(now, create("alice", 7, 30000));
    let out = sent(&mut a);
    let (_, ack) = requests(&out, Method::Ack).remove(0);
    assert_eq!(ack.uri.user.as_deref(), Some("alice-device"));
    a.handle_command(
        now,
        Command::DeleteConnection {
            line: line("alice"),
            call: CallId(7),
        },
    );
    let (_, bye) = requests(&sent(&mut a), Method::Bye).remove(0);
    assert_eq!(bye.uri.user.as_deref(), Some("alice-device"));
    assert_eq!(bye.uri.param("ob"), Some(""));
    for r in [&ack, &bye] {
        for h in [HeaderName::From, HeaderName::To] {
            let value = r.headers.get(&h).unwrap();
            assert_eq!(value.matches("tag=").count(), 1, "{value}");
        }
        assert_eq!(r.headers.to().unwrap().tag(), Some("phonetag"));
        assert_eq!(
            r.headers.from().unwrap().tag(),
            invite.headers.from().unwrap().tag()
        );
    }
    // The BYE's 200 ends its transaction: nothing of the call is left.
    p.send(&mut a, now, &Message::Response(p.answer(&bye, 200, "")));
    assert_nothing_left(&a);
}

#[test]
fn a_stopped_ring_leaves_nothing_behind_once_its_forks_ended() {
    let now = Instant::now();
    let (mut a, p1) = with_alice(now);
    let mut p2 = Phone::new("alice", "secret-a", 5064);
    p2.register(&mut a, now);
    a.handle_command(now, ring("alice"));
    let invites = requests(&sent(&mut a), Method::Invite);
    let of = |p: &Phone| {
        invites
            .iter()
            .find(|(to, _)| *to == p.addr)
            .unwrap()
            .1
            .clone()
    };
    let (to_p1, to_p2) = (of(&p1), of(&p2));
    // One phone refuses; the station stops the ring; the other rings, is cancelled and ends.
    p1.send(&mut a, now, &Message::Response(p1.answer(&to_p1, 486, "")));
    a.handle_command(
        now,
        Command::StopRing {
            line: line("alice"),
        },
    );
    p2.send(&mut a, now, &Message::Response(p2.answer(&to_p2, 180, "")));
    let cancels = requests(&sent(&mut a), Method::Cancel);
    assert_eq!(cancels.len(), 1);
    assert_eq!(cancels[0].0, p2.addr);
    p2.send(
        &mut a,
        now,
        &Message::Response(p2.answer(&cancels[0].1, 200, "")),
    );
    p2.send(&mut a, now, &Message::Response(p2.answer(&to_p2, 487, "")));
    assert!(events(&mut a).is_empty());
    assert_nothing_left(&a);
}

#[test]
fn a_message_framed_off_a_stream_is_handled_as_a_datagram() {
    let now = Instant::now();
    let mut a = new_agent(now);
    let mut p = Phone::new("alice", "secret-a", 5062);
    let r = p.request(Method::Options, "offhook", "opt-tcp", "");
    a.handle_parsed(now, p.addr, Transport::Udp, Message::Request(r));
    assert_eq!(only_response(sent(&mut a)).status, 200);
}

#[test]
fn our_ack_names_our_address_in_its_via() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    answered_ring(&mut a, &p, now);
    a.handle_command(now, create("alice", 7, 30000));
    let (_, ack) = requests(&sent(&mut a), Method::Ack).remove(0);
    let via = ack.headers.top_via().unwrap();
    assert_eq!(
        (via.transport, via.host.as_str(), via.port),
        (Transport::Udp, "127.0.0.1", Some(5060))
    );
    assert!(via.branch().unwrap().starts_with("z9hG4bK"));
}

#[test]
fn a_redirect_to_a_stopped_ring_is_not_hung_up() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    a.handle_command(now, ring("alice"));
    let (_, invite) = requests(&sent(&mut a), Method::Invite).remove(0);
    p.send(&mut a, now, &Message::Response(p.answer(&invite, 180, "")));
    a.handle_command(
        now,
        Command::StopRing {
            line: line("alice"),
        },
    );
    let (_, cancel) = requests(&sent(&mut a), Method::Cancel).remove(0);
    p.send(&mut a, now, &Message::Response(p.answer(&cancel, 200, "")));
    p.send(&mut a, now, &Message::Response(p.answer(&invite, 300, "")));
    assert!(requests(&sent(&mut a), Method::Bye).is_empty());
    assert!(events(&mut a).is_empty());
    assert_nothing_left(&a);
}

#[test]
fn a_late_failure_for_an_answered_ring_is_not_acknowledged_by_the_agent() {
    let now = Instant::now();
    let (mut a, p, invite) = call_up(now);
    p.send(&mut a, now, &Message::Response(p.answer(&invite, 300, "")));
    assert!(requests(&sent(&mut a), Method::Ack).is_empty());
    assert!(events(&mut a).is_empty());
}
