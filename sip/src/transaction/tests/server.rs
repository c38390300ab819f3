//! Server transactions: INVITE (§17.2.1) and non-INVITE (§17.2.2).

use super::*;

// -------------------------------------------------------------- INVITE server (§17.2.1)

#[test]
fn invite_server_sends_trying_and_absorbs_retransmissions() {
    let mut b = Bench::new();
    invite_in(&mut b);
    let sent = b.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(status_of(&sent[0].1), Some(100));
    assert_eq!(sent[0].0.to, peer());
    b.at(ms(500));
    b.receive(req(incoming(Method::Invite, "z9hG4bKinv1", 1)));
    assert!(
        b.events().is_empty(),
        "a retransmission is not a new request"
    );
    assert_eq!(status_of(&b.sent()[0].1), Some(100));
    assert_eq!(b.tx.stats().absorbed, 1);
    assert_eq!(b.tx.stats().requests_received, 1);
}

#[test]
fn invite_server_resends_the_last_provisional() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    b.sent();
    reply(&mut b, tx, 180);
    assert_eq!(status_of(&b.sent()[0].1), Some(180));
    b.receive(req(incoming(Method::Invite, "z9hG4bKinv1", 1)));
    assert_eq!(status_of(&b.sent()[0].1), Some(180));
    assert!(b.events().is_empty());
    assert_eq!(b.tx.poll_timeout(), None, "Proceeding waits for the TU");
}

#[test]
fn invite_server_timer_g_doubles_to_t2_until_timer_h() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    b.sent();
    reply(&mut b, tx, 486);
    assert_eq!(status_of(&b.sent()[0].1), Some(486));
    let log = b.run_to(secs(40));
    assert_eq!(
        times(&log),
        [
            500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
        .map(ms)
    );
    assert!(log.iter().all(|(_, m)| status_of(m) == Some(486)));
    assert_eq!(b.events(), [Event::AckLost { tx }]);
    assert_eq!(b.tx.stats().acks_lost, 1);
    assert!(b.tx.is_empty());
    assert_eq!(
        b.tx.poll_timeout(),
        None,
        "Timer G went with the transaction"
    );
}

#[test]
fn invite_server_ack_confirms_and_timer_i_absorbs() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    reply(&mut b, tx, 486);
    b.sent();
    b.at(ms(700));
    b.run_to(ms(700)); // Timer G once
    assert_eq!(b.sent().len(), 0);
    let ack = incoming(Method::Ack, "z9hG4bKinv1", 1);
    b.receive(req(ack.clone()));
    assert!(
        b.events().is_empty(),
        "the ACK to a non-2xx is the transaction's"
    );
    assert_eq!(
        b.tx.timers.deadline(Owner::Server(tx.0), Timer::I),
        Some(b.t0 + ms(700) + secs(5))
    );
    b.at(ms(800));
    b.receive(req(ack.clone()));
    assert!(b.events().is_empty());
    // Confirmed: retransmitted INVITE gets the 486 again, no Timer G.
    b.receive(req(incoming(Method::Invite, "z9hG4bKinv1", 1)));
    assert_eq!(b.sent().len(), 1);
    assert!(b.run_to(secs(6)).is_empty());
    assert!(b.tx.is_empty());
    assert!(b.events().is_empty(), "no AckLost");
    // After Timer I the same ACK is stray: the TU sees it.
    b.receive(req(ack));
    assert!(matches!(
        b.events().as_slice(),
        [Event::Request { tx: None, .. }]
    ));
}

#[test]
fn invite_server_over_tcp_has_no_timer_g_and_no_timer_i() {
    let mut b = Bench::new();
    b.receive_over(
        Transport::Tcp,
        req(incoming(Method::Invite, "z9hG4bKinv1", 1)),
    );
    let tx = match b.events().as_slice() {
        [Event::Request { tx: Some(tx), .. }] => *tx,
        e => panic!("{e:?}"),
    };
    reply(&mut b, tx, 603);
    assert_eq!(b.sent().len(), 2);
    assert_eq!(b.tx.poll_timeout(), Some(b.t0 + secs(32)), "Timer H only");
    b.receive_over(Transport::Tcp, req(incoming(Method::Ack, "z9hG4bKinv1", 1)));
    assert!(b.tx.is_empty(), "Timer I is zero");
    assert!(b.events().is_empty());
}

#[test]
fn invite_server_2xx_is_retransmitted_until_its_ack() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    b.sent();
    reply(&mut b, tx, 200);
    assert_eq!(status_of(&b.sent()[0].1), Some(200));
    let log = b.run_to(ms(4000));
    assert_eq!(times(&log), [500, 1500, 3500].map(ms));
    // The TU may send the 2xx again in Accepted.
    reply(&mut b, tx, 200);
    assert_eq!(status_of(&b.sent()[0].1), Some(200));
    // The INVITE retransmitted in Accepted is absorbed, not answered, not passed on.
    b.receive(req(incoming(Method::Invite, "z9hG4bKinv1", 1)));
    assert!(b.sent().is_empty());
    assert!(b.events().is_empty());
    // The ACK to the 2xx has a branch of its own; it reaches the TU once.
    let ack = incoming(Method::Ack, "z9hG4bKack1", 1);
    b.receive(req(ack.clone()));
    assert!(matches!(
        b.events().as_slice(),
        [Event::Request { tx: None, request, .. }] if request.method == Method::Ack
    ));
    b.receive(req(ack));
    assert!(b.events().is_empty(), "a retransmitted ACK is absorbed");
    assert!(b.run_to(secs(40)).is_empty(), "no more 2xx");
    assert!(b.events().is_empty(), "Timer L after an ACK is no AckLost");
    assert!(b.tx.is_empty());
}

#[test]
fn invite_server_2xx_without_ack_ends_at_timer_l() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    b.sent();
    reply(&mut b, tx, 200);
    b.sent();
    let log = b.run_to(secs(40));
    assert_eq!(
        times(&log),
        [
            500, 1500, 3500, 7500, 11_500, 15_500, 19_500, 23_500, 27_500, 31_500
        ]
        .map(ms)
    );
    assert_eq!(b.events(), [Event::AckLost { tx }]);
    assert_eq!(
        b.tx.stats().response_retransmissions,
        10,
        "bounded by Timer L"
    );
    // After Timer L an ACK for that 2xx is stray: the TU hears it.
    b.receive(req(incoming(Method::Ack, "z9hG4bKack1", 1)));
    assert!(matches!(
        b.events().as_slice(),
        [Event::Request { tx: None, .. }]
    ));
}

#[test]
fn invite_server_refuses_a_second_final_response() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    reply(&mut b, tx, 486);
    b.sent();
    reply(&mut b, tx, 200);
    assert!(b.sent().is_empty());
    assert_eq!(b.tx.stats().responses_refused, 1);
}

// ---------------------------------------------------------- non-INVITE server (§17.2.2)

fn options_in(b: &mut Bench, transport: Transport) -> ServerTx {
    b.receive_over(transport, req(incoming(Method::Options, "z9hG4bKopt1", 7)));
    match b.events().as_slice() {
        [Event::Request { tx: Some(tx), .. }] => *tx,
        e => panic!("{e:?}"),
    }
}

fn answer_options(b: &mut Bench, tx: ServerTx, status: u16) {
    let r = Response::to_request(
        &incoming(Method::Options, "z9hG4bKopt1", 7),
        status,
        "x",
        Some("t"),
    );
    let now = b.now;
    b.tx.respond(now, tx, r);
}

#[test]
fn non_invite_server_trying_proceeding_completed_and_timer_j() {
    let mut b = Bench::new();
    let tx = options_in(&mut b, Transport::Udp);
    assert!(b.sent().is_empty(), "no 100 for a non-INVITE");
    // Trying: a retransmission is absorbed silently.
    b.receive(req(incoming(Method::Options, "z9hG4bKopt1", 7)));
    assert!(b.sent().is_empty());
    assert!(b.events().is_empty());
    answer_options(&mut b, tx, 100);
    assert_eq!(status_of(&b.sent()[0].1), Some(100));
    b.receive(req(incoming(Method::Options, "z9hG4bKopt1", 7)));
    assert_eq!(status_of(&b.sent()[0].1), Some(100));
    b.at(ms(300));
    answer_options(&mut b, tx, 200);
    assert_eq!(status_of(&b.sent()[0].1), Some(200));
    b.receive(req(incoming(Method::Options, "z9hG4bKopt1", 7)));
    assert_eq!(status_of(&b.sent()[0].1), Some(200));
    assert!(b.events().is_empty());
    assert_eq!(
        b.tx.timers.deadline(Owner::Server(tx.0), Timer::J),
        Some(b.t0 + ms(300) + secs(32))
    );
    assert!(
        b.run_to(secs(33)).is_empty(),
        "no retransmission of its own"
    );
    assert!(b.tx.is_empty());
    // After Timer J the same request is new again.
    b.receive(req(incoming(Method::Options, "z9hG4bKopt1", 7)));
    assert_eq!(b.events().len(), 1);
}

#[test]
fn non_invite_server_over_tcp_ends_at_final() {
    let mut b = Bench::new();
    let tx = options_in(&mut b, Transport::Tcp);
    answer_options(&mut b, tx, 200);
    assert_eq!(b.sent().len(), 1);
    assert!(b.tx.is_empty(), "Timer J is zero");
}

#[test]
fn non_invite_server_unanswered_is_abandoned_after_64_t1() {
    let mut b = Bench::new();
    let tx = options_in(&mut b, Transport::Udp);
    b.run_to(ms(31_999));
    assert_eq!(b.tx.len(), 1);
    b.run_to(secs(32));
    assert!(b.tx.is_empty());
    assert_eq!(b.tx.stats().abandoned, 1);
    answer_options(&mut b, tx, 200);
    assert!(b.sent().is_empty());
    assert_eq!(b.tx.stats().responses_refused, 1);
}
