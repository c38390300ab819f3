//! The lamp's subscriptions (RFC 6665, RFC 3842) and the contacts' keep-alives, past the
//! happy path of `mod.rs`. Written for the survivors of the agent's mutation run.

use super::*;

/// Alice's phone subscribes to `message-summary` for `expires` seconds in dialog `call_id`;
/// returns what the agent sent.
fn subscribe(
    a: &mut Agent,
    p: &mut Phone,
    now: Instant,
    call_id: &str,
    expires: Option<&str>,
) -> Vec<(SocketAddr, Message)> {
    let mut sub = p.request(Method::Subscribe, "alice", call_id, "");
    sub.headers.push(HeaderName::Event, "message-summary;id=1");
    if let Some(e) = expires {
        sub.headers.push(HeaderName::Expires, e);
    }
    p.send_authenticated(a, now, sub)
}

fn ok_of(out: &[(SocketAddr, Message)]) -> Response {
    out.iter()
        .find_map(|(_, m)| match m {
            Message::Response(r) if r.status == 200 => Some(r.clone()),
            _ => None,
        })
        .expect("a 200")
}

fn lamp(a: &mut Agent, now: Instant, on: bool) {
    let l = line("alice");
    let c = if on {
        Command::PlayTone {
            line: l,
            tone: Tone::MessageWaitingLamp,
        }
    } else {
        Command::StopTone { line: l }
    };
    a.handle_command(now, c);
}

#[test]
fn a_subscription_is_granted_at_most_an_hour_and_refreshed_in_its_dialog() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let out = subscribe(&mut a, &mut p, now, "sub-1", Some("7200"));
    let ok = ok_of(&out);
    assert_eq!(ok.headers.expires(), Some(3600), "MAX_SUBSCRIPTION");
    let tag = ok.headers.to().unwrap().tag().unwrap().to_owned();
    let notify = requests(&out, Method::Notify).remove(0).1;
    assert_eq!(
        notify.headers.get(&HeaderName::SubscriptionState),
        Some("active;expires=3600")
    );
    assert_eq!(notify.headers.cseq().unwrap().seq, 1);
    assert!(String::from_utf8_lossy(&notify.body).starts_with("Messages-Waiting: no\r\n"));
    assert_eq!(a.stats().subscriptions, 1);
    // The refresh, later and with no Expires (RFC 3842's default: an hour), in the same dialog.
    let later = now + Duration::from_secs(100);
    let out = subscribe(&mut a, &mut p, later, "sub-1", None);
    let ok = ok_of(&out);
    assert_eq!(ok.headers.to().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(ok.headers.expires(), Some(3600));
    let notify = requests(&out, Method::Notify).remove(0).1;
    assert_eq!(notify.headers.cseq().unwrap().seq, 2);
    assert_eq!(notify.headers.from().unwrap().tag(), Some(tag.as_str()));
    assert_eq!(a.stats().subscriptions, 1, "a refresh is not a new one");
    // The lamp goes in the subscription only: no unsolicited NOTIFY besides.
    lamp(&mut a, later, true);
    let notifies = requests(&sent(&mut a), Method::Notify);
    assert_eq!(notifies.len(), 1);
    assert_eq!(notifies[0].1.headers.call_id(), Some("sub-1"));
    assert_eq!(notifies[0].1.headers.cseq().unwrap().seq, 3);
    assert!(String::from_utf8_lossy(&notifies[0].1.body).starts_with("Messages-Waiting: yes"));
    assert_eq!(a.stats().notifies, 3);
}

#[test]
fn a_subscription_for_no_time_is_ended_at_once_and_the_lamp_goes_unsolicited() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let out = subscribe(&mut a, &mut p, now, "sub-0", Some("0"));
    assert_eq!(ok_of(&out).headers.expires(), Some(0));
    let notify = requests(&out, Method::Notify).remove(0).1;
    assert_eq!(
        notify.headers.get(&HeaderName::SubscriptionState),
        Some("terminated;reason=timeout")
    );
    lamp(&mut a, now, true);
    let notifies = requests(&sent(&mut a), Method::Notify);
    assert_eq!(notifies.len(), 1);
    assert_ne!(notifies[0].1.headers.call_id(), Some("sub-0"));
    assert_eq!(notifies[0].1.headers.to().unwrap().tag(), None);
}

#[test]
fn an_expired_subscription_no_longer_carries_the_lamp() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    subscribe(&mut a, &mut p, now, "sub-e", Some("60"));
    let after = now + Duration::from_secs(60);
    lamp(&mut a, after, true);
    let notifies = requests(&sent(&mut a), Method::Notify);
    assert_eq!(notifies.len(), 1);
    assert_ne!(
        notifies[0].1.headers.call_id(),
        Some("sub-e"),
        "expired at its end"
    );
}

#[test]
fn a_phone_registering_while_the_lamp_is_on_is_told() {
    let now = Instant::now();
    let (mut a, _p) = with_alice(now);
    // A user whose first phone registers hears the lamp the station set meanwhile.
    a.handle_command(
        now,
        Command::PlayTone {
            line: line("bob"),
            tone: Tone::MessageWaitingLamp,
        },
    );
    assert!(sent(&mut a).is_empty(), "bob has no phone yet");
    let mut bob = Phone::new("bob", "secret-b", 5066);
    let call_id = "reg-bob";
    let r = bob.request(Method::Register, "bob", call_id, "");
    let out = bob.send_authenticated(&mut a, now, r);
    let notifies = requests(&out, Method::Notify);
    assert_eq!(notifies.len(), 1, "{out:?}");
    assert_eq!(notifies[0].0, bob.addr);
    assert_eq!(a.stats().notifies, 1);
    assert!(String::from_utf8_lossy(&notifies[0].1.body).starts_with("Messages-Waiting: yes"));
    // The NOTIFY's 200 is taken quietly.
    let n = &notifies[0].1;
    let ok = Response::to_request(n, 200, "OK", Some("b"));
    bob.send(&mut a, now, &Message::Response(ok));
    assert!(sent(&mut a).is_empty());
}

#[test]
fn a_second_phone_of_a_registered_user_is_told_the_lamp_and_a_refresh_is_not() {
    let now = Instant::now();
    let (mut a, mut first) = with_alice(now);
    lamp(&mut a, now, true);
    let out = sent(&mut a);
    assert_eq!(
        requests(&out, Method::Notify).len(),
        1,
        "the first phone hears it"
    );
    // The first phone refreshing its binding is not told again.
    first.register(&mut a, now);
    assert!(requests(&sent(&mut a), Method::Notify).is_empty());
    assert!(notices(&mut a).is_empty(), "alice was online already");
    // A second phone of alice registers: it hears the lamp (the first may hear it again).
    let mut second = Phone::new("alice", "secret-a", 5070);
    let call_id = "reg-alice-second";
    let r = second.request(Method::Register, "alice", call_id, "");
    let out = second.send_authenticated(&mut a, now, r);
    let notifies = requests(&out, Method::Notify);
    assert!(
        notifies.iter().any(|(to, n)| *to == second.addr
            && String::from_utf8_lossy(&n.body).starts_with("Messages-Waiting: yes")),
        "{out:?}"
    );
    assert!(notices(&mut a).is_empty(), "no second Registered");
}

fn keepalive_agent(now: Instant, every: Duration) -> (Agent, Phone) {
    let mut config = new_agent(now).config().clone();
    config.keepalive = Some(every);
    let mut a = Agent::new(config, now);
    events(&mut a);
    let mut p = Phone::new("alice", "secret-a", 5062);
    p.register(&mut a, now);
    notices(&mut a);
    (a, p)
}

#[test]
fn each_contact_gets_an_options_keepalive_when_due_and_its_answer_is_counted() {
    let now = Instant::now();
    let every = Duration::from_secs(30);
    let (mut a, p) = keepalive_agent(now, every);
    assert_eq!(a.poll_timeout(), Some(now + every));
    a.handle_timeout(now + every - Duration::from_millis(1));
    assert!(sent(&mut a).is_empty(), "not yet due");
    a.handle_timeout(now + every);
    let out = sent(&mut a);
    let options = requests(&out, Method::Options);
    assert_eq!(options.len(), 1, "{out:?}");
    assert_eq!(options[0].0, p.addr);
    let o = &options[0].1;
    assert_eq!(o.uri.user.as_deref(), Some("alice"));
    assert_eq!(o.headers.to().unwrap().uri.user.as_deref(), Some("alice"));
    assert_eq!(a.stats().keepalives_sent, 1);
    assert_eq!(a.stats().keepalives_answered, 0);
    let next = a.poll_timeout().unwrap();
    assert!(next > now + every, "the next round is scheduled");
    let ok = Response::to_request(o, 200, "OK", Some("p"));
    p.send(&mut a, now + every, &Message::Response(ok));
    assert_eq!(a.stats().keepalives_answered, 1);
    // The next round is `every` later.
    // Bounded, so that a timer that never moves fails instead of looping.
    for _ in 0..100 {
        let Some(at) = a.poll_timeout().filter(|&at| at < now + 2 * every) else {
            break;
        };
        a.handle_timeout(at);
    }
    assert!(requests(&sent(&mut a), Method::Options).is_empty());
    a.handle_timeout(now + 2 * every);
    assert_eq!(requests(&sent(&mut a), Method::Options).len(), 1);
    assert_eq!(a.stats().keepalives_sent, 2);
}

#[test]
fn an_unanswered_keepalive_is_not_counted_as_answered() {
    let now = Instant::now();
    let every = Duration::from_secs(300);
    let (mut a, _p) = keepalive_agent(now, every);
    a.handle_timeout(now + every);
    sent(&mut a);
    for _ in 0..64 {
        match a.poll_timeout() {
            Some(at) if at < now + 2 * every => {
                a.handle_timeout(at);
                sent(&mut a);
            }
            _ => break,
        }
    }
    assert_eq!(a.stats().keepalives_answered, 0);
    assert!(a.transaction_stats().counters().iter().any(|&(_, v)| v > 0));
}

#[test]
fn no_keepalive_is_sent_when_none_is_configured() {
    let now = Instant::now();
    let (mut a, _p) = with_alice(now);
    let at = now + Duration::from_secs(600);
    a.handle_timeout(at);
    assert!(requests(&sent(&mut a), Method::Options).is_empty());
    assert_eq!(a.stats().keepalives_sent, 0);
}

#[test]
fn each_users_lamp_goes_to_that_users_subscription_only() {
    let now = Instant::now();
    let (mut a, mut p) = with_alice(now);
    let mut bob = Phone::new("bob", "secret-b", 5066);
    bob.register(&mut a, now);
    subscribe(&mut a, &mut p, now, "sub-a", Some("600"));
    let mut sub = bob.request(Method::Subscribe, "bob", "sub-b", "");
    sub.headers.push(HeaderName::Event, "message-summary");
    sub.headers.push(HeaderName::Expires, "600");
    bob.send_authenticated(&mut a, now, sub);
    assert_eq!(a.stats().subscriptions, 2);
    for (user, call_id, to) in [("alice", "sub-a", p.addr), ("bob", "sub-b", bob.addr)] {
        a.handle_command(
            now,
            Command::PlayTone {
                line: line(user),
                tone: Tone::MessageWaitingLamp,
            },
        );
        let notifies = requests(&sent(&mut a), Method::Notify);
        assert_eq!(notifies.len(), 1, "{user}: {notifies:?}");
        assert_eq!(notifies[0].0, to);
        assert_eq!(notifies[0].1.headers.call_id(), Some(call_id), "{user}");
    }
}

#[test]
fn a_provisional_answer_to_a_keepalive_is_not_its_answer() {
    let now = Instant::now();
    let every = Duration::from_secs(30);
    let (mut a, p) = keepalive_agent(now, every);
    a.handle_timeout(now + every);
    let (_, o) = requests(&sent(&mut a), Method::Options).remove(0);
    let trying = Response::to_request(&o, 100, "Trying", None);
    p.send(&mut a, now + every, &Message::Response(trying));
    assert_eq!(a.stats().keepalives_answered, 0);
    let ok = Response::to_request(&o, 200, "OK", Some("p"));
    p.send(&mut a, now + every, &Message::Response(ok));
    assert_eq!(a.stats().keepalives_answered, 1);
    assert!(format!("{:?}", a.mwi).contains("keepalives: {}"));
}

#[test]
fn unanswered_keepalives_and_notifies_and_ended_subscriptions_are_forgotten() {
    let now = Instant::now();
    let every = Duration::from_secs(30);
    let (mut a, mut p) = keepalive_agent(now, every);
    a.handle_command(
        now,
        Command::AddLine {
            line: line("alice"),
        },
    );
    subscribe(&mut a, &mut p, now, "sub-k", Some("60"));
    // Nothing is answered from here on: the NOTIFY and each keep-alive time out.
    let end = now + Duration::from_secs(90);
    // Bounded, so that a timer that never moves fails instead of looping.
    for _ in 0..100 {
        let Some(at) = a.poll_timeout().filter(|&at| at <= end) else {
            break;
        };
        a.handle_timeout(at);
        sent(&mut a);
        let mwi = format!("{:?}", a.mwi);
        if at == now + 2 * every {
            // The round at 60 s forgets the subscription that ended then.
            assert!(mwi.contains("subs: {}"), "{mwi}");
        }
        if at == now + every {
            assert!(!mwi.contains("subs: {}"), "still on at 30 s: {mwi}");
        }
    }
    a.handle_timeout(end);
    let mwi = format!("{:?}", a.mwi);
    // Keep-alives are sent each 30 s and time out after 32 s (Timer F): the one of 60 s is
    // still out at 90 s, the one of 30 s is forgotten.
    assert_eq!(a.stats().keepalives_sent, 3);
    assert!(mwi.contains("notifies: {}"), "{mwi}");
    assert_eq!(mwi.matches("ClientTx").count(), 2, "{mwi}");
}
