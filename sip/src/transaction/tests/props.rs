//! Random interleavings of peer messages, TU calls and time.

use proptest::prelude::*;

use super::*;

/// What may happen to one client transaction.
#[derive(Debug, Clone)]
enum ClientOp {
    Advance(u64),
    /// A response arrives (twice when `dup`).
    Response(u16, bool),
    Cancel,
}

fn client_op() -> impl Strategy<Value = ClientOp> {
    prop_oneof![
        (0u64..6000).prop_map(ClientOp::Advance),
        (
            prop::sample::select(vec![100u16, 180, 183, 200, 202, 302, 486, 487, 603]),
            any::<bool>()
        )
            .prop_map(|(s, d)| ClientOp::Response(s, d)),
        Just(ClientOp::Cancel),
    ]
}

/// What may happen to one INVITE server transaction.
#[derive(Debug, Clone)]
enum ServerOp {
    Advance(u64),
    Retransmit,
    Respond(u16),
    /// The ACK to a non-2xx (the INVITE's branch).
    Ack,
    /// The ACK to a 2xx (a branch of its own).
    Ack2xx,
    Cancel,
}

fn server_op() -> impl Strategy<Value = ServerOp> {
    prop_oneof![
        (0u64..6000).prop_map(ServerOp::Advance),
        Just(ServerOp::Retransmit),
        prop::sample::select(vec![180u16, 183, 200, 486, 487]).prop_map(ServerOp::Respond),
        Just(ServerOp::Ack),
        Just(ServerOp::Ack2xx),
        Just(ServerOp::Cancel),
    ]
}

fn advance(b: &mut Bench, d: u64) {
    let end = b.now - b.t0 + ms(d);
    b.run_to(end);
}

proptest! {
    /// Whatever arrives, in whatever order: the TU hears at most one final response (or a
    /// run of identical 2xx to an INVITE), a timeout only without a final response, nothing
    /// after a timeout; every 300–699 to an INVITE is ACKed; the transaction ends.
    #[test]
    fn client_reports_one_outcome(
        invite in any::<bool>(),
        reliable in any::<bool>(),
        ops in prop::collection::vec(client_op(), 0..40),
    ) {
        let mut b = Bench::new();
        let transport = if reliable { Transport::Tcp } else { Transport::Udp };
        let method = if invite { Method::Invite } else { Method::Options };
        let tx = b.send(method.clone(), transport);
        let sent = b.sent().remove(0).1;
        let mut finals: Vec<u16> = Vec::new();
        let mut timed_out = false;
        let mut cancelled = false;
        let mut proceeding = false;
        for op in ops {
            match op {
                ClientOp::Advance(d) => advance(&mut b, d),
                ClientOp::Response(status, dup) => {
                    for _ in 0..1 + usize::from(dup) {
                        b.receive_over(transport, resp(b_answer(&sent, status)));
                    }
                }
                ClientOp::Cancel => {
                    let now = b.now;
                    cancelled |= b.tx.cancel(now, tx).is_some();
                }
            }
            for (o, m) in b.sent() {
                prop_assert_eq!(o.to, peer());
                if let Some(m) = method_of(&m) {
                    prop_assert!(m == Method::Ack || m == Method::Cancel || m == method.clone());
                }
            }
            for e in b.events() {
                match e {
                    Event::Response { tx: t, response } if t == tx => {
                        prop_assert!(!timed_out, "a response after the timeout");
                        if response.status >= 200 {
                            if let Some(&first) = finals.first() {
                                prop_assert!(
                                    invite && (200..300).contains(&first)
                                        && response.status / 100 == 2,
                                    "a second final response {} after {}", response.status, first
                                );
                            }
                            finals.push(response.status);
                        } else {
                            prop_assert!(finals.is_empty(), "a provisional after the final");
                            proceeding = true;
                        }
                    }
                    Event::Timeout { tx: t } if t == tx => {
                        prop_assert!(!timed_out && finals.is_empty());
                        timed_out = true;
                    }
                    _ => {} // the CANCEL's own transaction
                }
            }
        }
        advance(&mut b, 200_000);
        for e in b.events() {
            if e == (Event::Timeout { tx }) {
                prop_assert!(!timed_out && finals.is_empty());
                timed_out = true;
            }
        }
        // Only an INVITE left ringing (Proceeding, never cancelled) waits for its TU.
        let ringing = invite && proceeding && finals.is_empty() && !timed_out && !cancelled;
        if ringing {
            prop_assert_eq!(b.tx.len(), 1);
        } else {
            prop_assert!(b.tx.is_empty(), "{} left", b.tx.len());
            prop_assert_eq!(b.tx.poll_timeout(), None);
        }
    }

    /// Whatever the peer and the TU do: the INVITE reaches the TU once, CANCEL is reported
    /// at most once and only before a final response, AckLost at most once and never after
    /// the ACK; every send parses; and the transaction ends once it has a final response.
    #[test]
    fn invite_server_reports_each_thing_once(
        reliable in any::<bool>(),
        ops in prop::collection::vec(server_op(), 0..40),
    ) {
        let mut b = Bench::new();
        let transport = if reliable { Transport::Tcp } else { Transport::Udp };
        b.receive_over(transport, req(incoming(Method::Invite, "z9hG4bKinv1", 1)));
        let tx = match b.events().as_slice() {
            [Event::Request { tx: Some(tx), .. }] => *tx,
            e => panic!("{e:?}"),
        };
        let mut final_status: Option<u16> = None;
        let mut cancelled = false;
        let mut acked = false;
        let mut lost = false;
        let mut late = Vec::new();
        let mut late_cancelled = std::collections::HashSet::new();
        for op in ops {
            let was_empty = !b.tx.servers.values().any(|s| s.invite);
            match op {
                ServerOp::Advance(d) => advance(&mut b, d),
                ServerOp::Retransmit => b.receive_over(
                    transport,
                    req(incoming(Method::Invite, "z9hG4bKinv1", 1)),
                ),
                ServerOp::Respond(status) => {
                    let known = !b.tx.is_empty();
                    reply(&mut b, tx, status);
                    if status >= 200 && final_status.is_none() && known {
                        final_status = Some(status);
                    }
                }
                ServerOp::Ack => {
                    if final_status.is_some_and(|s| s >= 300) && !lost {
                        acked = true;
                    }
                    b.receive_over(transport, req(incoming(Method::Ack, "z9hG4bKinv1", 1)));
                }
                ServerOp::Ack2xx => {
                    if final_status.is_some_and(|s| s < 300) && !lost {
                        acked = true;
                    }
                    b.receive_over(transport, req(incoming(Method::Ack, "z9hG4bKack", 1)));
                }
                ServerOp::Cancel => b.receive_over(
                    transport,
                    req(incoming(Method::Cancel, "z9hG4bKinv1", 1)),
                ),
            }
            b.sent();
            for e in b.events() {
                match e {
                    Event::Request { tx: Some(t), request, .. } => {
                        // Only a retransmission after the transaction ended is new again.
                        prop_assert_eq!(request.method, Method::Invite);
                        prop_assert!(was_empty, "the INVITE twice");
                        late.push(t);
                    }
                    Event::Request { tx: None, request, .. } => {
                        prop_assert_eq!(request.method, Method::Ack);
                    }
                    Event::Cancelled { invite } if invite == tx => {
                        prop_assert!(!cancelled && final_status.is_none());
                        cancelled = true;
                    }
                    Event::Cancelled { invite } => {
                        // A late INVITE's new transaction, not answered by this TU.
                        prop_assert!(late.contains(&invite));
                        prop_assert!(late_cancelled.insert(invite), "cancelled twice");
                    }
                    Event::AckLost { tx: t } => {
                        prop_assert_eq!(t, tx);
                        prop_assert!(!lost && !acked && final_status.is_some());
                        lost = true;
                    }
                    e => prop_assert!(false, "{e:?}"),
                }
            }
        }
        if final_status.is_none() {
            reply(&mut b, tx, 487);
        }
        for t in late {
            reply(&mut b, t, 487);
        }
        advance(&mut b, 200_000);
        b.events();
        prop_assert!(b.tx.is_empty());
        prop_assert_eq!(b.tx.poll_timeout(), None);
    }
}
