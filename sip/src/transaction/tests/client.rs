//! Client transactions: INVITE (§17.1.1) and non-INVITE (§17.1.2).

use super::*;

// ---------------------------------------------------------------- INVITE client (§17.1.1)

#[test]
fn invite_client_timer_a_doubles_until_timer_b() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Udp);
    let first = b.sent();
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].0.to, peer());
    let log = b.run_to(secs(40));
    // Timer A: T1, then doubling without cap: 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s.
    assert_eq!(times(&log), [500, 1500, 3500, 7500, 15_500, 31_500].map(ms));
    assert!(log.iter().all(|(_, m)| *m == first[0].1));
    // Timer B: 64·T1.
    assert_eq!(b.events(), [Event::Timeout { tx }]);
    assert_eq!(b.tx.stats().timeouts, 1);
    assert_eq!(b.tx.stats().request_retransmissions, 6);
    assert!(b.tx.is_empty());
}

#[test]
fn invite_client_timer_b_fires_at_64_t1() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Udp);
    b.sent();
    b.run_to(ms(31_999));
    assert!(b.events().is_empty());
    b.run_to(secs(32));
    assert_eq!(b.events(), [Event::Timeout { tx }]);
}

#[test]
fn invite_client_provisional_stops_retransmission_and_timer_b() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    b.at(ms(200));
    let ringing = b.answer(&invite, 180);
    b.receive(resp(ringing.clone()));
    assert_eq!(
        b.events(),
        [Event::Response {
            tx,
            response: ringing.clone()
        }]
    );
    assert_eq!(b.tx.poll_timeout(), None, "Proceeding has no timer");
    // A second provisional goes to the TU too.
    let progress = b.answer(&invite, 183);
    b.receive(resp(progress));
    assert_eq!(b.events().len(), 1);
    assert!(b.run_to(secs(120)).is_empty());
    assert_eq!(b.tx.len(), 1);
}

#[test]
fn invite_client_non_2xx_is_acked_and_timer_d_absorbs() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    b.at(ms(100));
    let busy = b.answer(&invite, 486);
    b.receive(resp(busy.clone()));
    assert_eq!(
        b.events(),
        [Event::Response {
            tx,
            response: busy.clone()
        }]
    );
    let acks = b.sent();
    assert_eq!(acks.len(), 1);
    let Message::Request(ack) = &acks[0].1 else {
        panic!()
    };
    let Message::Request(inv) = &invite else {
        panic!()
    };
    // §17.1.1.3: same Request-URI, top Via, From, Call-ID, CSeq number; To of the response.
    assert_eq!(ack.method, Method::Ack);
    assert_eq!(ack.uri, inv.uri);
    assert_eq!(
        ack.headers.via().unwrap(),
        vec![inv.headers.top_via().unwrap()]
    );
    assert_eq!(ack.headers.from(), inv.headers.from());
    assert_eq!(ack.headers.call_id(), inv.headers.call_id());
    assert_eq!(ack.headers.to().unwrap().tag(), Some("b1"));
    assert_eq!(
        ack.headers.cseq().unwrap(),
        CSeq {
            seq: 1,
            method: Method::Ack
        }
    );
    // A retransmitted 486 gets the ACK again and is not passed on.
    b.at(ms(2000));
    b.receive(resp(busy.clone()));
    assert!(b.events().is_empty());
    assert_eq!(b.sent().len(), 1);
    assert_eq!(b.tx.stats().absorbed, 1);
    // No retransmission of the INVITE after the final response; Timer D ends it at 32 s.
    let owner = Owner::Client(1);
    assert_eq!(
        b.tx.timers.deadline(owner, Timer::D),
        Some(b.t0 + ms(100) + TIMER_D)
    );
    assert!(b.run_to(ms(32_099)).is_empty());
    assert_eq!(b.tx.len(), 1);
    b.run_to(ms(32_100));
    assert!(b.tx.is_empty());
    b.receive(resp(busy));
    assert_eq!(b.tx.stats().unmatched_responses, 1);
    assert!(b.sent().is_empty());
}

#[test]
fn invite_client_2xx_accepted_passes_retransmissions_until_timer_m() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Udp);
    let invite = b.sent().remove(0).1;
    b.at(ms(600)); // after one retransmission
    b.run_to(ms(600));
    b.sent();
    let ok = b.answer(&invite, 200);
    b.receive(resp(ok.clone()));
    assert_eq!(b.events().len(), 1);
    assert!(b.sent().is_empty(), "the ACK to a 2xx is the TU's");
    // RFC 6026: every 2xx retransmission goes to the TU.
    b.at(ms(1100));
    b.receive(resp(ok.clone()));
    assert_eq!(
        b.events(),
        [Event::Response {
            tx,
            response: ok.clone()
        }]
    );
    assert_eq!(
        b.tx.timers.deadline(Owner::Client(1), Timer::M),
        Some(b.t0 + ms(600) + secs(32))
    );
    assert!(b.run_to(secs(40)).is_empty(), "no INVITE retransmission");
    b.receive(resp(ok));
    assert!(b.events().is_empty());
    assert_eq!(b.tx.stats().unmatched_responses, 1);
}

#[test]
fn invite_client_over_tcp_has_no_timer_a_and_no_timer_d() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Tcp);
    let invite = b.sent().remove(0).1;
    assert_eq!(b.tx.poll_timeout(), Some(b.t0 + secs(32)), "Timer B only");
    let busy = b.answer(&invite, 486);
    b.receive_over(Transport::Tcp, resp(busy.clone()));
    assert_eq!(b.events().len(), 1);
    assert_eq!(b.sent().len(), 1, "the ACK");
    assert!(b.tx.is_empty(), "Timer D is zero");
    b.receive_over(Transport::Tcp, resp(busy));
    assert_eq!(b.tx.stats().unmatched_responses, 1);
    let _ = tx;
}

#[test]
fn invite_client_timeout_over_tcp_without_retransmission() {
    let mut b = Bench::new();
    let tx = b.send(Method::Invite, Transport::Tcp);
    b.sent();
    assert!(b.run_to(secs(40)).is_empty());
    assert_eq!(b.events(), [Event::Timeout { tx }]);
}

// ------------------------------------------------------------ non-INVITE client (§17.1.2)

#[test]
fn non_invite_client_timer_e_doubles_to_t2_until_timer_f() {
    let mut b = Bench::new();
    let tx = b.send(Method::Options, Transport::Udp);
    b.sent();
    let log = b.run_to(secs(40));
    assert_eq!(
        times(&log),
        [
            500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
        .map(ms)
    );
    assert_eq!(b.events(), [Event::Timeout { tx }]);
    assert!(b.tx.is_empty());
}

#[test]
fn non_invite_client_proceeding_retransmits_every_t2() {
    let mut b = Bench::new();
    let tx = b.send(Method::Register, Transport::Udp);
    let sent = b.sent().remove(0).1;
    b.at(ms(700));
    b.run_to(ms(700)); // one retransmission at 500 ms; next E due at 1500 ms
    b.sent();
    let trying = b.answer(&sent, 100);
    b.receive(resp(trying));
    assert_eq!(b.events().len(), 1);
    let log = b.run_to(secs(12));
    assert_eq!(times(&log), [1500, 5500, 9500].map(ms));
    let ok = b.answer(&sent, 200);
    b.receive(resp(ok.clone()));
    assert_eq!(b.events(), [Event::Response { tx, response: ok }]);
    assert!(b.run_to(secs(40)).is_empty());
}

#[test]
fn non_invite_client_timer_k_absorbs_then_ends() {
    let mut b = Bench::new();
    let tx = b.send(Method::Bye, Transport::Udp);
    let sent = b.sent().remove(0).1;
    b.at(ms(50));
    let ok = b.answer(&sent, 200);
    b.receive(resp(ok.clone()));
    assert_eq!(b.events().len(), 1);
    b.at(ms(3000));
    b.receive(resp(ok.clone()));
    assert!(b.events().is_empty());
    assert_eq!(b.tx.stats().absorbed, 1);
    assert_eq!(
        b.tx.timers.deadline(Owner::Client(tx.0), Timer::K),
        Some(b.t0 + ms(50) + secs(5))
    );
    assert!(b.run_to(secs(6)).is_empty());
    assert!(b.tx.is_empty());
    b.receive(resp(ok));
    assert_eq!(b.tx.stats().unmatched_responses, 1);
}

#[test]
fn non_invite_client_over_tcp_ends_at_final() {
    let mut b = Bench::new();
    b.send(Method::Options, Transport::Tcp);
    let sent = b.sent().remove(0).1;
    assert_eq!(b.tx.poll_timeout(), Some(b.t0 + secs(32)), "Timer F only");
    let ok = b.answer(&sent, 200);
    b.receive_over(Transport::Tcp, resp(ok));
    assert_eq!(b.events().len(), 1);
    assert!(b.tx.is_empty(), "Timer K is zero");
}

#[test]
fn responses_match_by_branch_and_cseq_method() {
    let mut b = Bench::new();
    b.send(Method::Options, Transport::Udp);
    let sent = b.sent().remove(0).1;
    let mut other = b.answer(&sent, 200);
    other
        .headers
        .set(HeaderName::CSeq, "1 REGISTER".to_string());
    b.receive(resp(other));
    let mut wrong = b.answer(&sent, 200);
    let mut via = wrong.headers.top_via().unwrap();
    via.params = vec![("branch".into(), Some("z9hG4bKnot-ours".into()))];
    wrong.headers = with_top_via(&wrong.headers, &via, false);
    b.receive(resp(wrong));
    assert!(b.events().is_empty());
    assert_eq!(b.tx.stats().unmatched_responses, 2);
}

#[test]
fn send_request_adds_our_via_with_a_fresh_branch_and_rport() {
    let mut b = Bench::new();
    b.send(Method::Options, Transport::Udp);
    b.send(Method::Options, Transport::Udp);
    let sent = b.sent();
    let vias: Vec<Via> = sent
        .iter()
        .map(|(_, m)| m.headers().top_via().unwrap())
        .collect();
    for via in &vias {
        assert_eq!(via.host, "10.0.0.1");
        assert_eq!(via.port, Some(5060));
        assert_eq!(via.transport, Transport::Udp);
        assert!(via.branch().unwrap().starts_with(MAGIC_COOKIE));
        assert_eq!(via.rport(), Some(None));
    }
    assert_ne!(vias[0].branch(), vias[1].branch());
    // A request that already carries our Via keeps it (and its branch).
    let mut r = request(Method::Options, 2);
    r.headers = with_top_via(&r.headers, &vias[0], true);
    let now = b.now;
    b.tx.send_request(now, peer(), Transport::Udp, local(), r);
    let again = b.sent().remove(0).1;
    assert_eq!(again.headers().via().unwrap(), vec![vias[0].clone()]);
}
