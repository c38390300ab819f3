//! Acknowledgements we owe for replies received (D.1.2.2): piggy-backed ranges or
//! [`Event::AcksDue`].

use super::*;

fn replied(t: &mut Transactions, at: Instant, to: SocketAddr, ids: &[u32]) {
    for &n in ids {
        send(t, at, to, n);
        assert_eq!(t.handle_reply(at, to, id(n)), ReplyOutcome::Final);
    }
}

#[test]
fn acks_are_folded_into_ranges_and_taking_them_cancels_the_event() {
    let start = t0();
    let mut t = layer();
    replied(&mut t, start, peer(), &[9, 5, 7, 6, 11]);
    replied(&mut t, start, other(), &[100]);
    assert_eq!(
        t.take_response_acks(peer()),
        [range(5, 7), range(9, 9), range(11, 11)]
    );
    assert_eq!(t.stats().acks_piggybacked, 5);
    assert!(t.take_response_acks(peer()).is_empty());
    assert!(t.take_response_acks(third()).is_empty());
    // The other peer's are still due.
    assert_eq!(
        events_until(&mut t, start, start + secs(1)),
        [(
            ms(100),
            Event::AcksDue {
                peer: other(),
                ranges: vec![range(100, 100)]
            }
        )]
    );
    assert_eq!(t.stats().acks_due, 1);
    assert_eq!(t.poll_timeout(), None);
}

#[test]
fn acks_not_taken_are_reported_after_the_delay() {
    let start = t0();
    let c = config(|c| c.ack_delay(ms(40)));
    let mut t = Transactions::new(c, 1);
    replied(&mut t, start, peer(), &[1, 2]);
    replied(&mut t, start + ms(30), peer(), &[3]);
    assert_eq!(t.poll_timeout(), Some(start + ms(40)));
    t.handle_timeout(start + ms(39));
    assert!(events(&mut t).is_empty());
    t.handle_timeout(start + ms(40));
    assert_eq!(
        events(&mut t),
        [Event::AcksDue {
            peer: peer(),
            ranges: vec![range(1, 3)]
        }]
    );
    assert_eq!(t.stats().acks_due, 3);
    assert!(t.take_response_acks(peer()).is_empty());
    // A later reply starts a new delay.
    replied(&mut t, start + ms(50), peer(), &[4]);
    assert_eq!(t.poll_timeout(), Some(start + ms(90)));
}

#[test]
fn a_zero_delay_reports_acks_at_once() {
    let start = t0();
    let c = config(|c| c.ack_delay(Duration::ZERO));
    let mut t = Transactions::new(c, 1);
    replied(&mut t, start, peer(), &[1]);
    t.handle_timeout(start);
    assert_eq!(events(&mut t).len(), 1);
}

#[test]
fn at_most_64_ranges_go_at_once() {
    let start = t0();
    let mut t = layer();
    let ids: Vec<u32> = (0..70).map(|n| 2 * n + 1).collect();
    replied(&mut t, start, peer(), &ids);
    let first = t.take_response_acks(peer());
    assert_eq!(first.len(), MAX_ACK_RANGES);
    assert_eq!(first[63], range(127, 127));
    assert_eq!(t.stats().acks_piggybacked, 64);
    // The rest stay due.
    assert_eq!(t.poll_timeout(), Some(start + ms(100)));
    assert_eq!(t.take_response_acks(peer()).len(), 6);
    assert_eq!(t.poll_timeout(), None);

    let ids: Vec<u32> = (0..130).map(|n| 2 * n + 1001).collect();
    replied(&mut t, start, peer(), &ids);
    let due = events_until(&mut t, start, start + secs(1));
    let sizes: Vec<usize> = due
        .iter()
        .map(|(_, e)| match e {
            Event::AcksDue { ranges, .. } => ranges.len(),
            e => panic!("{e:?}"),
        })
        .collect();
    assert_eq!(sizes, [64, 64, 2]);
    assert_eq!(t.stats().acks_due, 130);
}

#[test]
fn a_run_of_ids_at_the_top_does_not_wrap() {
    let start = t0();
    let mut t = layer();
    replied(&mut t, start, peer(), &[u32::MAX - 1, u32::MAX, 1, 2]);
    assert_eq!(
        t.take_response_acks(peer()),
        [range(1, 2), range(u32::MAX - 1, u32::MAX)]
    );
}

#[test]
fn an_unmatched_reply_is_acknowledged_again() {
    let start = t0();
    let mut t = layer();
    replied(&mut t, start, peer(), &[1]);
    assert_eq!(t.take_response_acks(peer()), [range(1, 1)]);
    // The peer did not get our acknowledgement and sent its reply again.
    assert_eq!(
        t.handle_reply(start + secs(1), peer(), id(1)),
        ReplyOutcome::Unmatched
    );
    assert_eq!(t.take_response_acks(peer()), [range(1, 1)]);
}

#[test]
fn acks_owed_to_one_peer_are_bounded() {
    let start = t0();
    let mut t = layer();
    for n in 1..=(MAX_PENDING_ACKS as u32 + 3) {
        t.handle_reply(start, peer(), id(2 * n));
    }
    // The lowest were forgotten.
    assert_eq!(t.stats().acks_dropped, 3);
    let ranges = t.take_response_acks(peer());
    assert_eq!(ranges[0], range(8, 8));
    // The same id again is not a new one.
    t.handle_reply(start, peer(), id(10_000));
    t.handle_reply(start, peer(), id(10_000));
    assert_eq!(t.stats().acks_dropped, 3);
}

#[test]
fn the_bounds_on_acks() {
    assert_eq!(MAX_ACK_RANGES, 64);
    assert_eq!(MAX_PENDING_ACKS, 256);
}
