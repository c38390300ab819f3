//! Piggy-backing (RFC 3435 §3.5.5): messages to one destination share datagrams within the
//! message-count and byte bounds, in order.

use proptest::prelude::*;

use super::*;
use crate::mgcp::wire;

fn msg(to: SocketAddr, n: usize) -> Transmit {
    Transmit {
        destination: to,
        contents: format!("200 {n} OK\r\n").into_bytes(),
    }
}

fn counts(out: &[(Transmit, usize)]) -> Vec<usize> {
    out.iter().map(|(_, n)| *n).collect()
}

#[test]
fn piggyback_packs_per_destination_within_both_bounds() {
    // Interleaved destinations: each keeps its own order; the count bound splits.
    let input = (0..7).map(|n| msg(if n % 2 == 0 { peer() } else { other() }, n));
    let out = piggyback(input, 3, MAX_DATAGRAM);
    let texts: Vec<(SocketAddr, usize, String)> = out
        .into_iter()
        .map(|(t, n)| (t.destination, n, String::from_utf8(t.contents).unwrap()))
        .collect();
    assert_eq!(
        texts,
        vec![
            (
                peer(),
                3,
                "200 0 OK\r\n.\r\n200 2 OK\r\n.\r\n200 4 OK\r\n".into()
            ),
            (
                other(),
                3,
                "200 1 OK\r\n.\r\n200 3 OK\r\n.\r\n200 5 OK\r\n".into()
            ),
            (peer(), 1, "200 6 OK\r\n".into()),
        ]
    );
    // The byte bound: two 11-byte messages and a separator fit in 25, not three.
    let out = piggyback((0..3).map(|n| msg(peer(), n + 10)), 16, 25);
    assert_eq!(counts(&out), [2, 1]);
    for (t, n) in &out {
        assert_eq!(wire::parse(&t.contents).unwrap().len(), *n);
    }
    // One byte less and they go alone.
    let out = piggyback((0..3).map(|n| msg(peer(), n + 10)), 16, 24);
    assert_eq!(counts(&out), [1, 1, 1]);
    // A message larger than the bound still goes, alone.
    let big = Transmit {
        destination: peer(),
        contents: vec![b'x'; 40],
    };
    let out = piggyback([msg(peer(), 1), big, msg(peer(), 2)], 16, 25);
    assert_eq!(counts(&out), [1, 1, 1]);
    // One message a datagram: nothing is packed.
    assert_eq!(
        counts(&piggyback((0..3).map(|n| msg(peer(), n)), 1, 100)),
        [1, 1, 1]
    );
    assert!(piggyback([], 16, 100).is_empty());
}

#[test]
fn a_datagram_not_ending_with_a_line_end_takes_no_more_messages() {
    let cut = Transmit {
        destination: peer(),
        contents: b"200 1 OK".to_vec(),
    };
    let out = piggyback([cut, msg(peer(), 2), msg(peer(), 3)], 16, 100);
    assert_eq!(counts(&out), [1, 2]);
    assert_eq!(out[0].0.contents, b"200 1 OK");
}

proptest! {
    /// Whatever the messages and bounds: per destination, the datagrams hold the messages in
    /// order, separated by `.` lines; each holds at most `max_messages` and, unless alone, at
    /// most `max_bytes`; and a new datagram is started only when the message did not fit in
    /// the destination's latest one.
    #[test]
    fn piggyback_keeps_order_and_bounds_and_packs_greedily(
        input in prop::collection::vec((0..3usize, 0..40usize), 0..40),
        max_messages in 1..6usize,
        max_bytes in 10..80usize,
    ) {
        let dests = [peer(), other(), third()];
        let messages: Vec<Transmit> = input
            .iter()
            .enumerate()
            .map(|(i, &(d, len))| Transmit {
                destination: dests[d],
                contents: format!("{i:03}{}\r\n", "x".repeat(len)).into_bytes(),
            })
            .collect();
        let out = piggyback(messages.clone(), max_messages, max_bytes);
        for dest in dests {
            let sent: Vec<&(Transmit, usize)> =
                out.iter().filter(|(t, _)| t.destination == dest).collect();
            let expected: Vec<u8> = messages
                .iter()
                .filter(|m| m.destination == dest)
                .map(|m| m.contents.clone())
                .collect::<Vec<_>>()
                .join(&b".\r\n"[..]);
            let joined: Vec<u8> = sent
                .iter()
                .map(|(t, _)| t.contents.clone())
                .collect::<Vec<_>>()
                .join(&b".\r\n"[..]);
            prop_assert_eq!(joined, expected);
            for (t, n) in &sent {
                prop_assert!(*n >= 1 && *n <= max_messages);
                prop_assert!(*n == 1 || t.contents.len() <= max_bytes);
                let separators = t.contents.windows(5).filter(|w| w == b"\r\n.\r\n").count();
                prop_assert_eq!(separators + 1, *n);
            }
            for pair in sent.windows(2) {
                let ((a, n), (b, _)) = (pair[0], pair[1]);
                let first_len = b.contents.split(|c| *c == b'\n').next().unwrap().len() + 1;
                prop_assert!(*n == max_messages || a.contents.len() + 3 + first_len > max_bytes);
            }
        }
    }
}
