//! Requests outside a call's happy path, the ring's request itself, the model commands a SIP
//! line cannot do, the counters and what `Debug` shows. Written for the survivors of the
//! agent's mutation run.

use gateway_control::model::CallerId;

use super::*;

#[test]
fn requests_for_no_call_are_481_and_unknown_methods_405_with_allow() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    for method in [Method::Bye, Method::Info, Method::Cancel] {
        let r = p.request(method.clone(), "offhook", "no-such-call", "");
        p.send(&mut a, now, &Message::Request(r));
        assert_eq!(only_response(sent(&mut a)).status, 481, "{method}");
    }
    let r = p.request(Method::Notify, "offhook", "n-1", "");
    p.send(&mut a, now, &Message::Request(r));
    let ok = only_response(sent(&mut a));
    assert_eq!(ok.status, 200);
    assert_eq!(
        ok.headers.get(&HeaderName::Server),
        Some("Offhook/test"),
        "our responses name us"
    );
    assert_eq!(a.stats().unsupported, 0);
    let r = p.request(Method::Message, "offhook", "m-1", "");
    p.send(&mut a, now, &Message::Request(r));
    let refused = only_response(sent(&mut a));
    assert_eq!(refused.status, 405);
    assert_eq!(refused.headers.get(&HeaderName::Allow), Some(ALLOW));
    assert_eq!(a.stats().unsupported, 1);
    assert!(events(&mut a).is_empty());
}

#[test]
fn an_info_without_a_key_is_accepted_and_nothing_reaches_the_station() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let invite = p.request(Method::Invite, "*97", "dial-i", &phone_offer(41000));
    p.send_authenticated(&mut a, now, invite);
    events(&mut a);
    let mut info = p.request(Method::Info, "*97", "dial-i", "");
    info.headers
        .set(HeaderName::ContentType, "application/dtmf-relay");
    info.body = b"Signal=x\r\n".to_vec();
    p.send(&mut a, now, &Message::Request(info));
    assert_eq!(only_response(sent(&mut a)).status, 200);
    assert!(events(&mut a).is_empty());
    assert_eq!(a.stats().calls.info_digits, 0);
}

#[test]
fn the_ring_names_the_caller_and_asks_for_a_distinctive_ring() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    a.handle_command(
        now,
        Command::Ring {
            line: line("alice"),
            cadence: Cadence::Distinctive(2),
            caller_id: Some(CallerId {
                number: Some("bob".into()),
                name: Some("Bob \"B\"".into()),
            }),
        },
    );
    let (to, invite) = requests(&sent(&mut a), Method::Invite).remove(0);
    assert_eq!(to, p.addr);
    let from = invite.headers.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("Bob B"));
    assert_eq!(from.uri.user.as_deref(), Some("bob"));
    assert!(from.tag().is_some());
    assert_eq!(
        invite.headers.get(&HeaderName::Other("Alert-Info".into())),
        Some("<urn:alert:priority:high>;info=Bellcore-dr3")
    );
    assert_eq!(invite.headers.get(&HeaderName::Allow), Some(ALLOW));
    assert_eq!(invite.headers.max_forwards(), Some(70));
    let contact = contact_uri(&invite.headers).unwrap();
    assert_eq!(contact.user.as_deref(), Some("offhook"));
    assert_eq!(contact.param("transport"), None, "UDP is the default");
    assert_eq!(a.stats().calls.rings, 1);
    // A second ring while the first rings sends nothing more.
    a.handle_command(now, ring("alice"));
    assert!(sent(&mut a).is_empty());
    assert_eq!(a.stats().calls.rings, 2);
}

#[test]
fn a_normal_ring_has_no_alert_info_and_names_offhook() {
    let now = Instant::now();
    let (mut a, _p) = with_alice(now);
    a.handle_command(now, ring("alice"));
    let (_, invite) = requests(&sent(&mut a), Method::Invite).remove(0);
    assert_eq!(
        invite.headers.get(&HeaderName::Other("Alert-Info".into())),
        None
    );
    let from = invite.headers.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("Offhook"));
    assert_eq!(from.uri.user.as_deref(), Some("offhook"));
    assert_eq!(invite.headers.cseq().unwrap().seq, 1);
}

#[test]
fn a_ring_over_tcp_names_the_transport_in_our_contact() {
    let now = Instant::now();
    let mut a = new_agent(now);
    let mut p = Phone::new("alice", "secret-a", 5062);
    let mut r = p.request(Method::Register, "alice", "reg-tcp", "");
    r.headers.set(
        HeaderName::Via,
        format!("SIP/2.0/TCP {};branch=z9hG4bKtcp1", p.addr),
    );
    r.headers.set(
        HeaderName::Contact,
        format!("<sip:alice@{};transport=tcp>", p.addr),
    );
    a.handle_message(
        now,
        p.addr,
        Transport::Tcp,
        &Message::Request(r.clone()).encode(),
    );
    let challenge = only_response(sent(&mut a));
    assert_eq!(challenge.status, 401);
    let c = Challenge::parse(challenge.headers.get(&HeaderName::WwwAuthenticate).unwrap()).unwrap();
    let creds = digest::authorize(
        &c,
        "alice",
        "secret-a",
        "REGISTER",
        &r.uri.to_string(),
        "c",
        1,
    );
    r.headers.set(
        HeaderName::Via,
        format!("SIP/2.0/TCP {};branch=z9hG4bKtcp2", p.addr),
    );
    r.headers.set(HeaderName::CSeq, "2 REGISTER");
    r.headers
        .push(HeaderName::Authorization, creds.header_value());
    a.handle_message(now, p.addr, Transport::Tcp, &Message::Request(r).encode());
    assert_eq!(only_response(sent(&mut a)).status, 200);
    a.handle_command(now, ring("alice"));
    let out: Vec<Outgoing> = std::iter::from_fn(|| a.poll_transmit()).collect();
    let invite = out
        .iter()
        .find(|o| o.bytes.starts_with(b"INVITE "))
        .expect("an INVITE");
    assert_eq!(invite.transport, Transport::Tcp);
    let Ok(Message::Request(invite)) = wire::parse(&invite.bytes) else {
        panic!()
    };
    let contact = contact_uri(&invite.headers).unwrap();
    assert_eq!(contact.param("transport"), Some("tcp"));
}

#[test]
fn a_ring_that_times_out_fails_with_408() {
    let now = Instant::now();
    let (mut a, _p) = with_alice(now);
    a.handle_command(now, ring("alice"));
    sent(&mut a);
    let mut failed = None;
    for _ in 0..64 {
        let Some(at) = a.poll_timeout() else { break };
        a.handle_timeout(at);
        sent(&mut a);
        if let Some(e) = events(&mut a).into_iter().next() {
            failed = Some(e);
            break;
        }
    }
    match failed {
        Some(Event::CommandFailed {
            code: 408, line: l, ..
        }) => assert_eq!(l, line("alice")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_ring_ended_by_487_fails_as_unanswered() {
    let now = Instant::now();
    let (mut a, p) = with_alice(now);
    a.handle_command(now, ring("alice"));
    let (_, invite) = requests(&sent(&mut a), Method::Invite).remove(0);
    p.send(&mut a, now, &Message::Response(p.answer(&invite, 487, "")));
    match events(&mut a).as_slice() {
        [Event::CommandFailed { code: 480, .. }] => {}
        other => panic!("{other:?}"),
    }
}

#[test]
fn one_fork_refusing_leaves_the_ring_to_the_others() {
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
    p1.send(
        &mut a,
        now,
        &Message::Response(p1.answer(&of(&p1), 486, "")),
    );
    assert!(events(&mut a).is_empty(), "the other phone still rings");
    p2.send(
        &mut a,
        now,
        &Message::Response(p2.answer(&of(&p2), 200, &phone_offer(40000))),
    );
    assert_eq!(
        events(&mut a),
        [Event::OffHook {
            line: line("alice")
        }]
    );
}

#[test]
fn commands_a_sip_line_cannot_do_fail() {
    let now = Instant::now();
    let (mut a, _p) = with_alice(now);
    a.handle_command(
        now,
        Command::CollectDigits {
            line: line("alice"),
            map: gateway_control::model::DigitMap::parse("(xxxx)").unwrap(),
        },
    );
    assert!(matches!(
        events(&mut a).as_slice(),
        [Event::CommandFailed { code: 501, .. }]
    ));
}

#[test]
fn the_counters_name_every_figure() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    a.handle_command(now, ring("carol"));
    let r = p.request(Method::Invite, "*97", "dial-k", &phone_offer(41000));
    p.send_authenticated(&mut a, now, r);
    let c = a.counters();
    let get = |k: &str| c.iter().find(|(n, _)| *n == k).map(|&(_, v)| v);
    assert_eq!(get("rings"), Some(1));
    assert_eq!(get("ring_no_phone"), Some(1));
    assert_eq!(get("reg_registered"), Some(1));
    assert_eq!(
        get("reg_challenged"),
        Some(2),
        "the REGISTER and the INVITE"
    );
    assert_eq!(get("reg_authenticated"), Some(1), "the INVITE");
    assert_eq!(get("dial_in"), Some(1));
    assert_eq!(get("unauthenticated"), Some(1), "the INVITE's challenge");
    assert_eq!(get("unparsable"), Some(0));
    let names: std::collections::HashSet<_> = c.iter().map(|(n, _)| *n).collect();
    assert_eq!(names.len(), c.len(), "no name twice");
    assert!(
        c.len() > 32,
        "the transaction layer's counters follow the agent's"
    );
}

#[test]
fn debug_shows_the_settings_but_not_the_secrets() {
    let now = Instant::now();
    let mut config = new_agent(now).config().clone();
    config.nonce_key = [0xab; 32];
    let text = format!("{config:?}");
    assert!(text.contains("listen_code"), "{text}");
    assert!(text.contains("*97"), "{text}");
    assert!(
        !text.contains("171"),
        "the nonce key (0xab) is not shown: {text}"
    );
    assert!(!text.contains("secret"), "{text}");
    let a = Agent::new(config, now);
    let text = format!("{a:?}");
    assert!(text.contains("lines"), "{text}");
    assert!(text.contains("*97"), "{text}");
    assert!(a.registrar().stats().registered == 0);
}

#[test]
fn a_nonce_older_than_its_age_is_stale_at_the_agent_too() {
    let now = Instant::now();
    let mut a = new_agent(now);
    let mut p = Phone::new("alice", "secret-a", 5062);
    let mut r = p.request(Method::Register, "alice", "reg-stale", "");
    p.send(&mut a, now, &Message::Request(r.clone()));
    let challenge = only_response(sent(&mut a));
    let c = Challenge::parse(challenge.headers.get(&HeaderName::WwwAuthenticate).unwrap()).unwrap();
    let creds = digest::authorize(
        &c,
        "alice",
        "secret-a",
        "REGISTER",
        &r.uri.to_string(),
        "c",
        1,
    );
    r.headers.set(
        HeaderName::Via,
        format!("SIP/2.0/UDP {};branch=z9hG4bKstale2", p.addr),
    );
    r.headers.set(HeaderName::CSeq, "2 REGISTER");
    r.headers
        .push(HeaderName::Authorization, creds.header_value());
    // The registrar's nonces live 300 s; the agent's clock is the one they are read against.
    let late = now + Duration::from_secs(301);
    p.send(&mut a, late, &Message::Request(r));
    let again = only_response(sent(&mut a));
    assert_eq!(again.status, 401);
    let c = Challenge::parse(again.headers.get(&HeaderName::WwwAuthenticate).unwrap()).unwrap();
    assert!(c.stale, "{again:?}");
    assert!(notices(&mut a).is_empty());
}

#[test]
fn forked_invites_are_calls_of_their_own() {
    let now = Instant::now();
    let (mut a, _p1) = with_alice(now);
    let mut p2 = Phone::new("alice", "secret-a", 5064);
    p2.register(&mut a, now);
    a.handle_command(now, ring("alice"));
    let invites = requests(&sent(&mut a), Method::Invite);
    assert_eq!(invites.len(), 2);
    let (x, y) = (&invites[0].1.headers, &invites[1].1.headers);
    assert_ne!(x.call_id(), y.call_id(), "RFC 3261 §8.1.1.4");
    assert_ne!(x.from().unwrap().tag(), y.from().unwrap().tag());
    assert_ne!(x.top_via().unwrap().branch(), y.top_via().unwrap().branch());
}

#[test]
fn a_phone_already_ringing_or_dialling_is_busy_to_its_own_new_call() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    // Its own call to bob waits for the ring: a second call is refused.
    let r = p.request(Method::Invite, "bob", "dial-w", &phone_offer(41000));
    p.send_authenticated(&mut a, now, r);
    let r = p.request(Method::Invite, "*97", "dial-w2", &phone_offer(41002));
    let out = p.send_authenticated(&mut a, now, r);
    assert_eq!(only_response(out).status, 486);
    // The wait is DIAL_WAIT from the call, not before.
    // (The 486's retransmissions run meanwhile: the phone sends no ACK here.)
    // Bounded, so that a timer that never moves fails instead of looping.
    for _ in 0..100 {
        let Some(at) = a.poll_timeout().filter(|&at| at < now + DIAL_WAIT) else {
            break;
        };
        a.handle_timeout(at);
        assert!(!statuses_of(&sent(&mut a)).contains(&480), "at {at:?}");
    }
    a.handle_timeout(now + DIAL_WAIT - Duration::from_millis(1));
    assert!(!statuses_of(&sent(&mut a)).contains(&480));
    a.handle_timeout(now + DIAL_WAIT);
    assert!(statuses_of(&sent(&mut a)).contains(&480));
    // The station rings it: a call of its own is busy too.
    a.handle_command(now + DIAL_WAIT, ring("alice"));
    sent(&mut a);
    let r = p.request(Method::Invite, "*97", "dial-w3", &phone_offer(41004));
    let out = p.send_authenticated(&mut a, now + DIAL_WAIT, r);
    assert_eq!(only_response(out).status, 486);
}

fn statuses_of(out: &[(SocketAddr, Message)]) -> Vec<u16> {
    out.iter()
        .filter_map(|(_, m)| match m {
            Message::Response(r) if r.status >= 200 => Some(r.status),
            _ => None,
        })
        .collect()
}

#[test]
fn the_calls_counters_count_each_once() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    // A ring answered.
    let invite = answered_ring(&mut a, &p, now);
    assert_eq!(a.stats().calls.answered, 1);
    a.handle_command(now, create("alice", 1, 30000));
    sent(&mut a);
    events(&mut a);
    // A key as INFO, then the phone hangs up.
    let call_id = invite.headers.call_id().unwrap().to_owned();
    let mut info = p.request(Method::Info, "offhook", &call_id, "");
    info.body = b"Signal=#\r\n".to_vec();
    p.send(&mut a, now, &Message::Request(info));
    let bye = p.request(Method::Bye, "offhook", &call_id, "");
    p.send(&mut a, now, &Message::Request(bye));
    sent(&mut a);
    let s = a.stats().calls;
    assert_eq!((s.info_digits, s.hangups_by_phone), (1, 1));
    // A call to bob, answered by the ring of the record request.
    let r = p.request(Method::Invite, "bob", "dial-n", &phone_offer(41000));
    p.send_authenticated(&mut a, now, r);
    a.handle_command(now, ring("alice"));
    let s = a.stats().calls;
    assert_eq!((s.dialled, s.answered, s.dial_in), (1, 2, 0));
    // Its offer has nothing we take.
    let (mut a, mut p) = with_alice(now);
    let r = p.request(
        Method::Invite,
        "bob",
        "dial-g",
        &phone_offer(41000).replace("RTP/AVP 0 8 101", "RTP/AVP 18"),
    );
    p.send_authenticated(&mut a, now, r);
    a.handle_command(now, ring("alice"));
    a.handle_command(now, create("alice", 2, 30000));
    assert_eq!(only_response(sent(&mut a)).status, 488);
    assert_eq!(a.stats().calls.no_common_codec, 1);
}

#[test]
fn each_call_describes_its_own_session() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let mut bob = Phone::new("bob", "secret-b", 5066);
    bob.register(&mut a, now);
    a.handle_command(now, Command::AddLine { line: line("bob") });
    let mut ids = Vec::new();
    for (phone, user, port) in [(&mut p, "alice", 30000), (&mut bob, "bob", 30002)] {
        let r = phone.request(
            Method::Invite,
            "*97",
            &format!("dial-{user}"),
            &phone_offer(41000),
        );
        phone.send_authenticated(&mut a, now, r);
        a.handle_command(now, create(user, u64::from(port), port));
        let ok = only_response(sent(&mut a));
        let answer = crate::sdp::Session::parse(&ok.body).unwrap();
        ids.push(answer.origin.session_id);
    }
    assert_ne!(
        ids[0], ids[1],
        "RFC 4566 §5.2: sess-id identifies the session"
    );
}

#[test]
fn while_the_driver_sheds_a_phones_new_call_is_503_before_any_challenge() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    a.set_shedding(true);
    let invite = p.request(Method::Invite, "*97", "shed-1", &phone_offer(41000));
    p.send(&mut a, now, &Message::Request(invite));
    let r = only_response(sent(&mut a));
    assert_eq!(r.status, 503, "no 401 challenge first");
    assert!(r.headers.get(&HeaderName::RetryAfter).is_some());
    assert!(events(&mut a).is_empty());
    a.set_shedding(false);
    let invite = p.request(Method::Invite, "*97", "shed-2", &phone_offer(41000));
    p.send(&mut a, now, &Message::Request(invite));
    let statuses: Vec<u16> = sent(&mut a)
        .iter()
        .filter_map(|(_, m)| match m {
            Message::Response(r) => Some(r.status),
            Message::Request(_) => None,
        })
        .collect();
    assert!(
        statuses.contains(&401),
        "challenged again once the socket is emptied: {statuses:?}"
    );
}
