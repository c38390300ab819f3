//! Who gets a slot when the table fills or the driver sheds: requests within dialogs and
//! CANCELs before new work, and the transactions that only absorb retransmissions go first.

use super::*;

/// A request within a dialog (its To has a tag), as received from `peer()`.
fn in_dialog(method: Method, branch: &str, seq: u32) -> Request {
    let mut r = incoming(method, branch, seq);
    let to = format!("{};tag=s1", r.headers.get(&HeaderName::To).unwrap());
    r.headers.set(HeaderName::To, to);
    r
}

fn refused(b: &mut Bench) -> bool {
    let sent = b.sent();
    let refused = matches!(sent.as_slice(), [(_, Message::Response(r))]
        if r.status == 503 && r.headers.get(&HeaderName::RetryAfter) == Some("5"));
    refused && b.events().is_empty()
}

fn taken(b: &mut Bench) -> bool {
    b.sent();
    b.events().len() == 1
}

#[test]
fn new_work_finds_seven_eighths_of_the_table_and_dialogs_the_rest() {
    let mut config = Config::default();
    config.max_transactions(16).unwrap();
    let mut b = Bench::with(config);
    for i in 0..14 {
        b.receive(req(incoming(Method::Invite, &format!("z9hG4bKn{i}"), 1)));
        assert!(taken(&mut b), "INVITE {i}");
    }
    b.receive(req(incoming(Method::Invite, "z9hG4bKn14", 1)));
    assert!(refused(&mut b), "past 14 of 16, a new INVITE is refused");
    b.receive(req(incoming(Method::Register, "z9hG4bKr1", 1)));
    assert!(refused(&mut b), "and so is any request that starts work");
    assert_eq!(b.tx.stats().refused_busy, 2);
    // A CANCEL of a pending INVITE and a BYE within a dialog use the reserve.
    b.receive(req(incoming(Method::Cancel, "z9hG4bKn3", 1)));
    let sent = b.sent();
    assert_eq!(
        status_of(&sent[0].1),
        Some(200),
        "CANCEL taken and answered"
    );
    assert!(
        matches!(b.events().as_slice(), [Event::Cancelled { .. }]),
        "and reported"
    );
    b.receive(req(in_dialog(Method::Bye, "z9hG4bKb1", 2)));
    assert!(taken(&mut b), "a BYE in a dialog is taken");
    assert_eq!(b.tx.len(), 16);
    // The answered CANCEL only absorbs retransmissions: the next BYE takes its place.
    b.receive(req(in_dialog(Method::Bye, "z9hG4bKb2", 2)));
    assert!(taken(&mut b));
    assert_eq!(b.tx.stats().evicted_completed, 1);
    b.receive(req(in_dialog(Method::Bye, "z9hG4bKb3", 2)));
    assert!(refused(&mut b), "the whole table is full");
    assert_eq!(b.tx.stats().refused_busy, 3);
    assert_eq!(b.tx.stats().shed, 0);
}

#[test]
fn shedding_refuses_new_work_only_and_ends_when_told() {
    let mut b = Bench::new();
    let tx = invite_in(&mut b);
    b.sent();
    b.tx.set_shedding(true);
    // A retransmission of the INVITE taken before is absorbed (100 Trying again), not shed.
    b.receive(req(incoming(Method::Invite, "z9hG4bKinv1", 1)));
    assert_eq!(status_of(&b.sent()[0].1), Some(100));
    assert!(b.events().is_empty());
    for (i, method) in [
        Method::Invite,
        Method::Register,
        Method::Options,
        Method::Subscribe,
    ]
    .into_iter()
    .enumerate()
    {
        b.receive(req(incoming(method.clone(), &format!("z9hG4bKs{i}"), 1)));
        assert!(refused(&mut b), "{method} shed");
    }
    assert_eq!(b.tx.stats().shed, 4);
    assert_eq!(b.tx.stats().refused_busy, 0);
    assert_eq!(b.tx.len(), 1, "nothing kept for what was shed");
    // Within a dialog, and a CANCEL, still get through.
    b.receive(req(in_dialog(Method::Bye, "z9hG4bKb1", 2)));
    assert!(taken(&mut b));
    b.receive(req(incoming(Method::Cancel, "z9hG4bKinv1", 1)));
    assert_eq!(status_of(&b.sent()[0].1), Some(200));
    assert!(matches!(
        b.events().as_slice(),
        [Event::Cancelled { invite }] if *invite == tx
    ));
    // An ACK is never refused.
    reply(&mut b, tx, 486);
    b.sent();
    b.receive(req(incoming(Method::Ack, "z9hG4bKinv1", 1)));
    assert!(b.sent().is_empty());
    b.tx.set_shedding(false);
    b.receive(req(incoming(Method::Invite, "z9hG4bKafter", 1)));
    assert!(taken(&mut b), "taken again once the socket is emptied");
    assert_eq!(b.tx.stats().shed, 4);
}

#[test]
fn invites_whose_work_is_done_make_room_oldest_first() {
    let mut config = Config::default();
    config.max_transactions(4).unwrap();
    let mut b = Bench::with(config);
    let answer = |b: &mut Bench, branch: &str, seq: u32, status: u16| {
        let invite = in_dialog(Method::Invite, branch, seq);
        b.receive(req(invite.clone()));
        let events = b.events();
        let [Event::Request { tx: Some(tx), .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        let now = b.now;
        let r = Response::to_request(&invite, status, wire::reason_phrase(status), None);
        b.tx.respond(now, *tx, r);
        b.sent();
    };
    // A 2xx not yet ACKed: retransmitted, never evicted.
    answer(&mut b, "z9hG4bKi1", 1, 200);
    // A 486, ACKed: Confirmed, absorbing ACKs for Timer I.
    answer(&mut b, "z9hG4bKi2", 2, 486);
    b.receive(req(in_dialog(Method::Ack, "z9hG4bKi2", 2)));
    assert!(b.events().is_empty());
    // A 2xx ACKed: Accepted, absorbing INVITEs for Timer L.
    answer(&mut b, "z9hG4bKi3", 3, 200);
    b.receive(req(in_dialog(Method::Ack, "z9hG4bKa3", 3)));
    assert_eq!(b.events().len(), 1, "the ACK to the 2xx reaches the TU");
    // A 503 never ACKed (a load generator): Completed, resending it on Timer G.
    answer(&mut b, "z9hG4bKi4", 4, 503);
    assert_eq!(b.tx.len(), 4);
    // New requests: the confirmed one goes first, then the acknowledged one, then the refusal.
    for (evicted, branch) in [(1u32, "z9hG4bKb1"), (2, "z9hG4bKb2"), (3, "z9hG4bKb3")] {
        b.receive(req(in_dialog(Method::Info, branch, 4 + evicted)));
        assert!(taken(&mut b), "{branch}");
        assert_eq!(b.tx.stats().evicted_completed, u64::from(evicted));
    }
    // Left: the unacknowledged 2xx and three unanswered requests; nothing may go.
    b.receive(req(in_dialog(Method::Info, "z9hG4bKb4", 8)));
    assert!(refused(&mut b));
    // The unacknowledged 2xx is still retransmitted; the evicted 503 is not.
    let log = b.run_to(ms(600));
    assert_eq!(
        log.iter()
            .filter_map(|(_, m)| status_of(m))
            .collect::<Vec<_>>(),
        [200]
    );
}

#[test]
fn the_queue_of_finished_transactions_stays_within_twice_the_table() {
    let mut config = Config::default();
    config.max_transactions(4).unwrap();
    let mut b = Bench::with(config);
    let invite = |b: &mut Bench, branch: &str, seq: u32, status: u16| {
        let r = in_dialog(Method::Invite, branch, seq);
        b.receive(req(r.clone()));
        let events = b.events();
        let [Event::Request { tx: Some(tx), .. }] = events.as_slice() else {
            panic!("{events:?}")
        };
        let now = b.now;
        let answer = Response::to_request(&r, status, wire::reason_phrase(status), None);
        b.tx.respond(now, *tx, answer);
        b.sent();
    };
    // A 2xx ACKed: at the queue's front for Timer L (32 s).
    invite(&mut b, "z9hG4bKlong", 1, 200);
    b.receive(req(in_dialog(Method::Ack, "z9hG4bKacklong", 1)));
    b.events();
    // Behind it, refusals ACKed and ended by Timer I (5 s), two at a time.
    let mut most = 0;
    for round in 0..6u32 {
        for k in 0..2 {
            let branch = format!("z9hG4bKr{round}x{k}");
            let seq = 2 + round * 2 + k;
            invite(&mut b, &branch, seq, 486);
            b.receive(req(in_dialog(Method::Ack, &branch, seq)));
        }
        b.run_to(secs(5 * u64::from(round + 1)) + ms(100));
        most = most.max(b.tx.lingering.len());
    }
    assert_eq!(b.tx.len(), 1, "only the long one is left");
    assert!(most <= 2 * 4 + 1, "the queue held {most} ids");
}
