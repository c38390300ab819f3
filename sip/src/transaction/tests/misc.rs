//! CANCEL (§9), the cap, the addresses, malformed input and the settings.

use super::*;

// ------------------------------------------------------------------------ CANCEL (§9)

#[test]
fn cancel_matching_an_invite_is_answered_200_and_reported_once() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    reply(&mut b, tx, 180);
    b.sent();
    let cancel = incoming(Method::Cancel, "z9hG4bKinv1", 1);
    b.receive(req(cancel.clone()));
    assert_eq!(b.events(), [Event::Cancelled { invite: tx }]);
    let sent = b.sent();
    assert_eq!(sent.len(), 1);
    let Message::Response(ok) = &sent[0].1 else {
        panic!()
    };
    assert_eq!(ok.status, 200);
    assert_eq!(ok.headers.cseq().unwrap().method, Method::Cancel);
    assert_eq!(
        ok.headers.to().unwrap().tag(),
        Some("s1"),
        "§9.2: the same To tag"
    );
    // A retransmitted CANCEL gets the 200 again, and no second event.
    b.receive(req(cancel));
    assert_eq!(status_of(&b.sent()[0].1), Some(200));
    assert!(b.events().is_empty());
    reply(&mut b, tx, 487);
    assert_eq!(status_of(&b.sent()[0].1), Some(487));
    assert_eq!(b.tx.stats().cancels_matched, 1);
}

#[test]
fn cancel_again_over_tcp_is_reported_once() {
    let mut b = Bench::new();
    b.receive_over(
        Transport::Tcp,
        req(incoming(Method::Invite, "z9hG4bKinv1", 1)),
    );
    let tx = match b.events().as_slice() {
        [Event::Request { tx: Some(tx), .. }] => *tx,
        e => panic!("{e:?}"),
    };
    // Over TCP the CANCEL's transaction ends with its 200 (Timer J is zero), so a second
    // CANCEL is a new transaction: answered 200 again, but the TU hears of it once.
    for _ in 0..2 {
        b.receive_over(
            Transport::Tcp,
            req(incoming(Method::Cancel, "z9hG4bKinv1", 1)),
        );
    }
    assert_eq!(b.events(), [Event::Cancelled { invite: tx }]);
    let statuses: Vec<_> = b.sent().iter().map(|(_, m)| status_of(m)).collect();
    assert_eq!(statuses, [Some(100), Some(200), Some(200)]);
}

#[test]
fn cancel_after_the_final_response_is_answered_200_without_event() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    reply(&mut b, tx, 200);
    b.sent();
    b.receive(req(incoming(Method::Cancel, "z9hG4bKinv1", 1)));
    assert!(b.events().is_empty());
    assert_eq!(status_of(&b.sent()[0].1), Some(200));
}

#[test]
fn cancel_matching_nothing_is_answered_481() {
    let mut b = Bench::new();
    b.receive(req(incoming(Method::Cancel, "z9hG4bKnothing", 1)));
    assert!(b.events().is_empty());
    assert_eq!(status_of(&b.sent()[0].1), Some(481));
    assert_eq!(b.tx.stats().cancels_unmatched, 1);
}

#[test]
fn cancel_waits_for_a_provisional_then_goes_with_the_invite_branch() {
    let mut b = Bench::new();
    let invite_tx = b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    let now = b.now;
    let cancel_tx = b.tx.cancel(now, invite_tx).unwrap();
    assert!(
        b.sent().is_empty(),
        "§9.1: not before a provisional response"
    );
    assert_eq!(b.tx.cancel(now, invite_tx), None, "only once");
    b.at(ms(100));
    b.receive(resp(b_answer(&invite, 180)));
    b.events();
    let sent = b.sent();
    assert_eq!(sent.len(), 1);
    let Message::Request(cancel) = &sent[0].1 else {
        panic!()
    };
    let Message::Request(inv) = &invite else {
        panic!()
    };
    assert_eq!(cancel.method, Method::Cancel);
    assert_eq!(cancel.uri, inv.uri);
    assert_eq!(
        cancel.headers.via().unwrap(),
        vec![inv.headers.top_via().unwrap()]
    );
    assert_eq!(cancel.headers.to(), inv.headers.to());
    assert_eq!(cancel.headers.cseq().unwrap().seq, 1);
    assert_eq!(cancel.headers.cseq().unwrap().method, Method::Cancel);
    // The CANCEL's 200 and the INVITE's 487 each reach their own transaction.
    let ok = b_answer(&sent[0].1, 200);
    b.receive(resp(ok.clone()));
    let terminated = b_answer(&invite, 487);
    b.receive(resp(terminated.clone()));
    assert_eq!(
        b.events(),
        [
            Event::Response {
                tx: cancel_tx,
                response: ok
            },
            Event::Response {
                tx: invite_tx,
                response: terminated
            }
        ]
    );
    assert_eq!(method_of(&b.sent()[0].1), Some(Method::Ack));
}

#[test]
fn cancelled_invite_without_final_response_times_out_64_t1_after_the_cancel() {
    let mut b = Bench::new();
    let invite_tx = b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    b.receive(resp(b_answer(&invite, 180)));
    b.at(secs(10));
    let now = b.now;
    let cancel_tx = b.tx.cancel(now, invite_tx).unwrap();
    let cancel = b.sent().remove(0).1;
    b.receive(resp(b_answer(&cancel, 200)));
    b.events();
    b.run_to(ms(41_999));
    assert!(b.events().is_empty());
    b.run_to(secs(42));
    assert_eq!(b.events(), [Event::Timeout { tx: invite_tx }]);
    assert_ne!(cancel_tx, invite_tx);
}

#[test]
fn cancel_of_an_answered_invite_is_refused() {
    let mut b = Bench::new();
    let invite_tx = b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    b.receive(resp(b_answer(&invite, 200)));
    let now = b.now;
    assert_eq!(b.tx.cancel(now, invite_tx), None);
    let options = b.send(Method::Options, Transport::Udp);
    assert_eq!(
        b.tx.cancel(now, options),
        None,
        "only an INVITE is cancelled"
    );
}

// -------------------------------------------------------------------- bounds and addresses

#[test]
fn past_max_transactions_a_request_gets_503_with_retry_after() {
    let mut config = Config::default();
    config.max_transactions(2).unwrap();
    let mut b = Bench::with(config);
    b.receive(req(incoming(Method::Options, "z9hG4bK1", 1)));
    b.receive(req(incoming(Method::Options, "z9hG4bK2", 2)));
    assert_eq!(b.events().len(), 2);
    b.receive(req(incoming(Method::Options, "z9hG4bK3", 3)));
    assert!(b.events().is_empty());
    let sent = b.sent();
    let Message::Response(busy) = &sent[0].1 else {
        panic!()
    };
    assert_eq!(busy.status, 503);
    assert_eq!(busy.headers.get(&HeaderName::RetryAfter), Some("5"));
    assert_eq!(b.tx.len(), 2, "not kept");
    assert_eq!(b.tx.stats().refused_busy, 1);
    assert_eq!(b.tx.stats().responses_sent, 1);
    // An ACK is never refused (nor answered), and our own request past the cap times out.
    b.receive(req(incoming(Method::Ack, "z9hG4bK4", 1)));
    assert_eq!(b.events().len(), 1);
    let tx = b.send(Method::Options, Transport::Udp);
    assert!(b.sent().is_empty());
    assert_eq!(b.events(), [Event::Timeout { tx }]);
    assert_eq!(b.tx.stats().refused_local, 1);
}

#[test]
fn a_full_table_makes_room_by_ending_the_oldest_answered_non_invite() {
    let mut config = Config::default();
    config.max_transactions(2).unwrap();
    let mut b = Bench::with(config);
    let answer = |b: &mut Bench, branch: &str, seq: u32| {
        let r = incoming(Method::Register, branch, seq);
        b.receive(req(r.clone()));
        let events = b.events();
        let [Event::Request { tx: Some(tx), .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        let now = b.now;
        b.tx.respond(now, *tx, Response::to_request(&r, 200, "OK", Some("t")));
        b.sent();
    };
    answer(&mut b, "z9hG4bKr1", 1);
    answer(&mut b, "z9hG4bKr2", 2);
    assert_eq!(b.tx.len(), 2, "both completed, absorbing for Timer J");
    // A third request: the oldest completed one goes, the new one is taken.
    b.receive(req(incoming(Method::Register, "z9hG4bKr3", 3)));
    assert_eq!(b.events().len(), 1);
    assert!(b.sent().is_empty(), "no 503");
    assert_eq!(b.tx.stats().evicted_completed, 1);
    assert_eq!(b.tx.stats().refused_busy, 0);
    // The second is still absorbed; the first, ended, is taken as new (and the table, now
    // holding one completed and one unanswered, makes room again).
    b.receive(req(incoming(Method::Register, "z9hG4bKr2", 2)));
    assert!(b.events().is_empty());
    assert_eq!(status_of(&b.sent()[0].1), Some(200));
    b.receive(req(incoming(Method::Register, "z9hG4bKr1", 1)));
    assert_eq!(b.events().len(), 1);
    assert_eq!(b.tx.stats().evicted_completed, 2);
    // Now both are unanswered: nothing may go, the next is refused.
    b.receive(req(incoming(Method::Register, "z9hG4bKr4", 4)));
    assert!(b.events().is_empty());
    assert_eq!(status_of(&b.sent()[0].1), Some(503));
}

#[test]
fn received_and_rport_are_added_and_responses_follow_them() {
    let mut b = Bench::new();
    let from: SocketAddr = "203.0.113.9:40000".parse().unwrap();
    let mut r = request(Method::Options, 1);
    r.headers = with_top_via(
        &r.headers,
        &"SIP/2.0/UDP 192.168.1.20:5062;branch=z9hG4bKnat;rport"
            .parse()
            .unwrap(),
        true,
    );
    let now = b.now;
    b.tx.handle_message(now, from, Transport::Udp, req(r.clone()));
    let events = b.events();
    let [
        Event::Request {
            tx: Some(tx),
            request,
            ..
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    let via = request.headers.top_via().unwrap();
    assert_eq!(via.received(), Some("203.0.113.9"));
    assert_eq!(via.rport(), Some(Some(40000)));
    let ok = Response::to_request(request, 200, "OK", Some("t"));
    b.tx.respond(now, *tx, ok);
    assert_eq!(b.sent()[0].0.to, from, "RFC 3581: the source port");
    // Without rport: the source address at sent-by's port.
    let mut r = request_without_rport();
    r.headers = with_top_via(
        &r.headers,
        &"SIP/2.0/UDP 192.168.1.20:5062;branch=z9hG4bKnat2"
            .parse()
            .unwrap(),
        true,
    );
    b.tx.handle_message(now, from, Transport::Udp, req(r));
    let events = b.events();
    let [
        Event::Request {
            tx: Some(tx),
            request,
            ..
        },
    ] = events.as_slice()
    else {
        panic!("{events:?}")
    };
    assert_eq!(
        request.headers.top_via().unwrap().received(),
        Some("203.0.113.9")
    );
    b.tx.respond(
        now,
        *tx,
        Response::to_request(request, 200, "OK", Some("t")),
    );
    assert_eq!(
        b.sent()[0].0.to,
        "203.0.113.9:5062".parse::<SocketAddr>().unwrap()
    );
}

fn request_without_rport() -> Request {
    request(Method::Options, 2)
}

#[test]
fn sent_by_matching_the_source_gets_no_received() {
    let mut b = Bench::new();
    b.receive(req({
        let mut r = request(Method::Options, 1);
        r.headers = with_top_via(
            &r.headers,
            &"SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bKx".parse().unwrap(),
            true,
        );
        r
    }));
    let events = b.events();
    let [Event::Request { request, .. }] = events.as_slice() else {
        panic!()
    };
    assert_eq!(request.headers.top_via().unwrap().received(), None);
}

#[test]
fn malformed_requests_get_400_and_malformed_responses_are_dropped() {
    let mut b = Bench::new();
    let mut r = incoming(Method::Options, "z9hG4bKbad", 1);
    r.headers.remove(&HeaderName::CallId);
    b.receive(req(r));
    let out = b.tx.poll_transmit().unwrap();
    assert!(
        out.bytes.starts_with(b"SIP/2.0 400 "),
        "answered without a Call-ID to copy"
    );
    // CSeq method not the request's.
    let mut r = incoming(Method::Options, "z9hG4bKbad2", 1);
    r.headers.set(HeaderName::CSeq, "1 INVITE".to_string());
    b.receive(req(r));
    assert_eq!(status_of(&b.sent()[0].1), Some(400));
    // No branch.
    let mut r = request(Method::Options, 1);
    r.headers = with_top_via(&r.headers, &"SIP/2.0/UDP 10.0.0.2".parse().unwrap(), true);
    b.receive(req(r));
    assert_eq!(status_of(&b.sent()[0].1), Some(400));
    // No Via: nowhere to answer.
    b.receive(req(request(Method::Options, 1)));
    assert!(b.sent().is_empty());
    assert!(b.events().is_empty());
    let mut r = Response::new(200, "OK");
    r.headers.push(HeaderName::CSeq, "1 OPTIONS");
    b.receive(resp(r));
    assert_eq!(b.tx.stats().malformed, 5);
    assert!(b.tx.is_empty());
}

#[test]
fn config_setters_validate() {
    let mut c = Config::default();
    assert_eq!(c.t1(Duration::ZERO).unwrap_err(), ConfigError::Zero("T1"));
    assert_eq!(c.t2(ms(100)).unwrap_err(), ConfigError::T2BelowT1);
    assert_eq!(c.t1(secs(5)).unwrap_err(), ConfigError::T1TooLarge);
    assert_eq!(
        c.max_transactions(0).unwrap_err(),
        ConfigError::Zero("max_transactions")
    );
    assert_eq!(c, Config::default(), "a refused value changes nothing");
    c.t1(ms(100)).unwrap().t2(ms(100)).unwrap();
    assert_eq!((c.t1, c.t2), (ms(100), ms(100)));
}

#[test]
fn a_shorter_t1_scales_every_timer() {
    let mut config = Config::default();
    config.t1(ms(100)).unwrap();
    let mut b = Bench::with(config);
    let tx = b.send(Method::Invite, Transport::Udp);
    b.sent();
    let log = b.run_to(secs(7));
    assert_eq!(times(&log), [100, 300, 700, 1500, 3100, 6300].map(ms));
    assert_eq!(b.events(), [Event::Timeout { tx }], "Timer B at 6.4 s");
}

#[test]
fn timers_of_ended_transactions_are_removed() {
    let mut b = Bench::new();
    let tx = b.send(Method::Options, Transport::Udp);
    let sent = b.sent().remove(0).1;
    assert_eq!(b.tx.timers.len(), 2, "E and F");
    b.receive(resp(b_answer(&sent, 200)));
    assert_eq!(b.tx.timers.len(), 1, "K only");
    b.run_to(secs(10));
    assert_eq!(b.tx.timers.len(), 0);
    assert_eq!(b.tx.poll_timeout(), None);
    let _ = tx;
}

#[test]
fn ids_display_their_side_and_number() {
    assert_eq!(ClientTx(7).to_string(), "c7");
    assert_eq!(ServerTx(8).to_string(), "s8");
}

#[test]
fn counters_name_every_stat_in_order() {
    let mut b = Bench::new();
    b.send(Method::Options, Transport::Udp);
    b.receive(req(incoming(Method::Cancel, "z9hG4bKnothing", 1)));
    let counters: Vec<_> = b.tx.stats().counters().into_iter().collect();
    assert_eq!(counters.len(), 22);
    let get = |name: &str| counters.iter().find(|(n, _)| *n == name).map(|(_, v)| *v);
    assert_eq!(get("requests_sent"), Some(1));
    assert_eq!(get("requests_received"), Some(1));
    assert_eq!(get("responses_sent"), Some(1));
    assert_eq!(get("cancels_unmatched"), Some(1));
    assert_eq!(get("timeouts"), Some(0));
}

#[test]
fn with_top_via_replaces_or_inserts_and_keeps_the_others_in_order() {
    let v = |s: &str| -> Via { s.parse().unwrap() };
    let mut h = Headers::new();
    h.push(HeaderName::CallId, "x");
    h.push(HeaderName::Via, "SIP/2.0/UDP a.example;branch=z9hG4bK1");
    h.push(HeaderName::Via, "SIP/2.0/UDP b.example;branch=z9hG4bK2");
    h.push(HeaderName::CSeq, "1 OPTIONS");
    let top = v("SIP/2.0/UDP new.example;branch=z9hG4bK0");
    let hosts =
        |h: &Headers| -> Vec<String> { h.via().unwrap().into_iter().map(|via| via.host).collect() };
    assert_eq!(
        hosts(&with_top_via(&h, &top, false)),
        ["new.example", "b.example"]
    );
    assert_eq!(
        hosts(&with_top_via(&h, &top, true)),
        ["new.example", "a.example", "b.example"]
    );
    let replaced = with_top_via(&h, &top, false);
    let names: Vec<_> = replaced.iter().map(|(n, _)| n.clone()).collect();
    assert_eq!(
        names,
        [
            HeaderName::CallId,
            HeaderName::Via,
            HeaderName::Via,
            HeaderName::CSeq
        ],
        "the Vias stay where the first one was"
    );
    let mut bare = Headers::new();
    bare.push(HeaderName::CallId, "x");
    let added = with_top_via(&bare, &top, true);
    assert_eq!(hosts(&added), ["new.example"]);
    assert_eq!(
        added.iter().next().map(|(n, _)| n.clone()),
        Some(HeaderName::Via)
    );
    assert_eq!(added.get(&HeaderName::CallId), Some("x"));
}

#[test]
fn a_via_without_port_answers_at_5060_and_matches_its_default_port() {
    let mut b = Bench::new();
    let from: SocketAddr = "10.0.0.2:40000".parse().unwrap();
    let mut r = request(Method::Options, 1);
    r.headers = with_top_via(
        &r.headers,
        &"SIP/2.0/UDP 10.0.0.2;branch=z9hG4bKnoport".parse().unwrap(),
        true,
    );
    let now = b.now;
    b.tx.handle_message(now, from, Transport::Udp, req(r.clone()));
    let tx = match b.events().as_slice() {
        [Event::Request { tx: Some(tx), .. }] => *tx,
        e => panic!("{e:?}"),
    };
    b.tx.respond(now, tx, Response::to_request(&r, 200, "OK", Some("t")));
    assert_eq!(
        b.sent()[0].0.to,
        "10.0.0.2:5060".parse::<SocketAddr>().unwrap(),
        "§18.2.2: sent-by's port, 5060 when absent"
    );
    // The same request with the default port written is the same transaction.
    let mut again = request(Method::Options, 1);
    again.headers = with_top_via(
        &again.headers,
        &"SIP/2.0/UDP 10.0.0.2:5060;branch=z9hG4bKnoport"
            .parse()
            .unwrap(),
        true,
    );
    b.tx.handle_message(now, from, Transport::Udp, req(again));
    assert!(b.events().is_empty());
    assert_eq!(b.sent().len(), 1, "the 200 again");
    // TLS: 5061 is the default.
    for port in ["", ":5061"] {
        let mut r = request(Method::Options, 3);
        r.headers = with_top_via(
            &r.headers,
            &format!("SIP/2.0/TLS 10.0.0.2{port};branch=z9hG4bKtls")
                .parse()
                .unwrap(),
            true,
        );
        b.tx.handle_message(now, from, Transport::Tls, req(r));
    }
    assert_eq!(b.events().len(), 1, "one transaction for both spellings");
}

#[test]
fn send_stateless_sends_once_and_counts() {
    let mut b = Bench::new();
    let ack = incoming(Method::Ack, "z9hG4bKack", 1);
    b.tx.send_stateless(peer(), Transport::Tcp, &req(ack.clone()));
    let out = b.tx.poll_transmit().unwrap();
    assert_eq!((out.to, out.transport), (peer(), Transport::Tcp));
    assert_eq!(out.bytes, ack.encode());
    assert_eq!(b.tx.poll_transmit(), None);
    assert_eq!(b.tx.stats().stateless_sent, 1);
    assert_eq!(b.tx.poll_timeout(), None, "no transaction");
    let mut config = Config::default();
    config.t4(secs(1)).unwrap();
    assert_eq!(Transactions::new(config.clone()).config(), &config);
}

#[test]
fn a_foreign_or_cookieless_top_via_gets_ours_above_it() {
    let mut b = Bench::new();
    for foreign in [
        "SIP/2.0/UDP 10.0.0.1:5070;branch=z9hG4bKother-port",
        "SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKother-host",
        "SIP/2.0/UDP 10.0.0.1:5060;branch=no-cookie",
    ] {
        let mut r = request(Method::Options, 1);
        r.headers = with_top_via(&r.headers, &foreign.parse().unwrap(), true);
        let now = b.now;
        b.tx.send_request(now, peer(), Transport::Udp, local(), r);
        assert!(!b.tx.is_empty());
        let vias = b.sent().remove(0).1.headers().via().unwrap();
        assert_eq!(vias.len(), 2, "{foreign}");
        assert_eq!(vias[0].host, "10.0.0.1");
        assert_eq!(vias[0].port, Some(5060));
        assert!(vias[0].branch().unwrap().starts_with(MAGIC_COOKIE));
        assert_eq!(vias[1], foreign.parse().unwrap());
    }
}

#[test]
fn an_ack_given_to_send_request_is_sent_once_and_kept_nowhere() {
    let mut b = Bench::new();
    b.send(Method::Ack, Transport::Udp);
    assert_eq!(b.sent().len(), 1);
    assert!(b.tx.is_empty());
    assert_eq!(b.tx.poll_timeout(), None);
    assert_eq!(b.tx.stats().stateless_sent, 1);
    assert_eq!(b.tx.stats().requests_sent, 0);
}

#[test]
fn a_cancel_past_max_transactions_times_out_at_once() {
    let mut config = Config::default();
    config.max_transactions(1).unwrap();
    let mut b = Bench::with(config);
    let invite_tx = b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    b.receive(resp(b_answer(&invite, 180)));
    b.events();
    let now = b.now;
    let cancel = b.tx.cancel(now, invite_tx).unwrap();
    assert!(b.sent().is_empty());
    assert_eq!(b.events(), [Event::Timeout { tx: cancel }]);
    assert_eq!(b.tx.stats().refused_local, 1);
    // The INVITE still ends 64·T1 after the CANCEL was asked for (§9.1).
    b.run_to(secs(32));
    assert_eq!(b.events(), [Event::Timeout { tx: invite_tx }]);
}

#[test]
fn a_response_with_a_status_out_of_range_is_dropped() {
    let mut b = Bench::new();
    b.send(Method::Options, Transport::Udp);
    let sent = b.sent().remove(0).1;
    for status in [99, 700] {
        let mut r = b_answer(&sent, 200);
        r.status = status;
        b.receive(resp(r));
    }
    assert!(b.events().is_empty());
    assert_eq!(b.tx.stats().malformed, 2);
    assert_eq!(b.tx.stats().unmatched_responses, 0);
}

#[test]
fn every_counter_of_a_client_exchange() {
    let mut b = Bench::new();
    b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    b.run_to(ms(600)); // Timer A once
    b.receive(resp(b_answer(&invite, 180)));
    let busy = b_answer(&invite, 486);
    b.receive(resp(busy.clone()));
    b.receive(resp(busy.clone())); // the ACK again
    b.receive(resp(b_answer(&invite, 180))); // absorbed
    b.send(Method::Options, Transport::Udp);
    let options = b.sent().pop().unwrap().1;
    b.receive(resp(b_answer(&options, 200)));
    b.receive(resp(b_answer(&options, 200))); // absorbed
    b.run_to(secs(60));
    b.receive(resp(busy)); // unmatched now
    assert_eq!(
        b.tx.stats(),
        Stats {
            requests_sent: 3, // INVITE, ACK, OPTIONS
            responses_received: 3,
            request_retransmissions: 2, // Timer A, the ACK again
            absorbed: 3,
            unmatched_responses: 1,
            ..Stats::default()
        }
    );
}

#[test]
fn every_counter_of_a_server_exchange() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    b.receive(req(incoming(Method::Invite, "z9hG4bKinv1", 1))); // the 100 again
    reply(&mut b, tx, 486);
    let ack = incoming(Method::Ack, "z9hG4bKinv1", 1);
    b.receive(req(ack.clone())); // confirms
    b.receive(req(ack.clone())); // absorbed
    b.receive(req(incoming(Method::Invite, "z9hG4bKinv1", 1))); // the 486 again
    b.receive(req(incoming(Method::Invite, "z9hG4bKinv2", 2)));
    let tx2 = match b.events().pop() {
        Some(Event::Request { tx: Some(tx), .. }) => tx,
        e => panic!("{e:?}"),
    };
    b.receive(req(incoming(Method::Ack, "z9hG4bKinv2", 2))); // before a final: absorbed
    b.tx.respond(
        b.now,
        tx2,
        Response::to_request(&incoming(Method::Invite, "z9hG4bKinv2", 2), 200, "OK", None),
    );
    b.receive(req(incoming(Method::Ack, "z9hG4bKack2", 2))); // to the 2xx: passed
    b.receive(req(incoming(Method::Ack, "z9hG4bKack2", 2))); // again: absorbed
    b.receive(req(incoming(Method::Ack, "z9hG4bKstray", 9))); // stray: passed
    b.run_to(secs(60));
    assert_eq!(
        b.tx.stats(),
        Stats {
            requests_received: 2,
            responses_sent: 4, // 100, 486, 100, 200
            response_retransmissions: 2,
            absorbed: 6, // INVITE, ACK, ACK, INVITE, early ACK, ACK to the 2xx again
            acks_passed: 2,
            ..Stats::default()
        }
    );
}

#[test]
fn config_setters_set() {
    let mut c = Config::default();
    c.t4(secs(1))
        .unwrap()
        .retry_after(secs(9))
        .unwrap()
        .rng_seed(42)
        .unwrap()
        .t2(secs(5))
        .unwrap()
        .t1(MAX_T1)
        .unwrap();
    assert_eq!(
        (c.t4, c.retry_after, c.rng_seed, c.t1),
        (secs(1), secs(9), 42, MAX_T1)
    );
}

#[test]
fn a_transport_failure_times_out_the_client_transactions_to_that_peer() {
    let mut b = Bench::new();
    let invite = b.send(Method::Invite, Transport::Tcp);
    let options = b.send(Method::Options, Transport::Tcp);
    b.send(Method::Options, Transport::Udp); // another transport: untouched
    b.receive_over(
        Transport::Tcp,
        req(incoming(Method::Options, "z9hG4bKsrv", 1)),
    );
    b.events();
    b.sent();
    b.tx.transport_failed(peer(), Transport::Tcp);
    assert_eq!(
        b.events(),
        [
            Event::Timeout { tx: invite },
            Event::Timeout { tx: options }
        ]
    );
    assert_eq!(b.tx.len(), 1);
    assert_eq!(b.tx.stats().transport_failures, 3);
    assert!(b.sent().is_empty());
    assert_eq!(
        b.tx.timers.len(),
        2,
        "only the UDP request's E and F are left"
    );
}
