//! The TCP deframer: several messages per push, splits at every byte, both orders, lying
//! lengths.

use proptest::prelude::*;

use super::strategies::message;
use crate::tpncp::wire::*;

fn drain(d: &mut Deframer) -> Vec<Result<Vec<u8>, FrameError>> {
    std::iter::from_fn(|| d.next()).collect()
}

fn some_messages() -> Vec<Vec<u8>> {
    let mut all = Vec::new();
    for (i, order) in [ByteOrder::Big, ByteOrder::Little, ByteOrder::Big]
        .into_iter()
        .enumerate()
    {
        let h = Header {
            order,
            version: VERSION,
            seq: Seq(i as u16),
        };
        let mut out = Vec::new();
        encode_event(&h, Channel(1), &Event::OffHook, &mut out);
        all.push(out);
        let mut out = Vec::new();
        encode_command(
            &h,
            &Command::PlayTone {
                channel: Channel(2),
                tone: ToneType::Dial,
                duration_ms: 0,
            },
            &mut out,
        );
        all.push(out);
    }
    all
}

#[test]
fn messages_split_at_every_byte() {
    let messages = some_messages();
    let stream = messages.concat();
    for cut in 0..=stream.len() {
        let mut d = Deframer::new();
        d.push(&stream[..cut]);
        let mut got = drain(&mut d);
        d.push(&stream[cut..]);
        got.extend(drain(&mut d));
        assert_eq!(
            got,
            messages.iter().cloned().map(Ok).collect::<Vec<_>>(),
            "cut at {cut}"
        );
        assert_eq!(d.buffered(), 0);
    }
    // Byte by byte.
    let mut d = Deframer::new();
    let mut got = Vec::new();
    for b in &stream {
        d.push(std::slice::from_ref(b));
        got.extend(drain(&mut d));
    }
    assert_eq!(got.len(), messages.len());
}

proptest! {
    #[test]
    fn any_messages_in_any_pieces(
        messages in proptest::collection::vec(message(), 1..8),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..6),
    ) {
        let stream = messages.concat();
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(stream.len() + 1)).collect();
        cuts.push(0);
        cuts.push(stream.len());
        cuts.sort_unstable();
        let mut d = Deframer::new();
        let mut got = Vec::new();
        for w in cuts.windows(2) {
            d.push(&stream[w[0]..w[1]]);
            got.extend(drain(&mut d));
        }
        prop_assert_eq!(got, messages.into_iter().map(Ok).collect::<Vec<_>>());
        prop_assert_eq!(d.buffered(), 0);
    }
}

#[test]
fn a_length_below_a_header_and_id_ends_the_stream() {
    for (order, length) in [
        (ByteOrder::Big, [0x00, 0x07]),
        (ByteOrder::Little, [0x07, 0x00]),
    ] {
        let mut stream = some_messages().concat();
        let mut bad = some_messages().remove(if order == ByteOrder::Big { 0 } else { 2 });
        bad[2..4].copy_from_slice(&length);
        stream.extend_from_slice(&bad);
        let mut d = Deframer::new();
        d.push(&stream);
        let got = drain(&mut d);
        assert_eq!(got.len(), 7);
        assert_eq!(got[6], Err(FrameError::TooShort(11)));
        assert!(d.is_failed());
        assert_eq!(d.buffered(), 0);
        d.push(&stream);
        assert_eq!(d.next(), None, "nothing read after the failure");
    }
}

#[test]
fn a_length_above_the_limit_ends_the_stream_from_the_header() {
    let mut bad = some_messages().remove(0);
    bad[6] = 1; // the length extension: 65536 + 12 + 4
    let mut d = Deframer::new();
    d.push(&bad[..MIN_LEN]);
    assert_eq!(d.next(), Some(Err(FrameError::TooLong(65_536 + 16))));
    assert_eq!(d.next(), None);
    // The largest length without its extension is accepted (and waited for).
    let mut big = some_messages().remove(0);
    big[2..4].copy_from_slice(&[0xFF, 0xFF]);
    let mut d = Deframer::new();
    d.push(&big);
    assert_eq!(d.next(), None);
    d.push(&vec![0; MAX_LEN - big.len()]);
    assert_eq!(d.next().unwrap().unwrap().len(), MAX_LEN);
}

#[test]
fn a_reader_that_does_not_drain_overflows() {
    let mut d = Deframer::new();
    d.push(&vec![0; Deframer::CAPACITY]);
    assert!(!d.is_failed());
    d.push(&[0]);
    assert!(d.is_failed());
    assert_eq!(
        d.next(),
        Some(Err(FrameError::Overflow(Deframer::CAPACITY)))
    );
    assert_eq!(d.next(), None);
}

#[test]
fn what_is_held_is_what_is_unread() {
    let messages = some_messages();
    let stream = messages.concat();
    let mut d = Deframer::new();
    d.push(&stream[..stream.len() - 3]);
    assert_eq!(d.buffered(), stream.len() - 3);
    assert_eq!(d.next(), Some(Ok(messages[0].clone())));
    assert_eq!(d.buffered(), stream.len() - 3 - messages[0].len());
    // Bytes returned are let go: a full capacity more fits after them.
    let mut d = Deframer::new();
    d.push(&[&messages[0][..], &messages[1][..5]].concat());
    assert_eq!(d.next(), Some(Ok(messages[0].clone())));
    assert_eq!(d.next(), None);
    d.push(&vec![0; Deframer::CAPACITY - 5]);
    assert!(!d.is_failed());
    assert_eq!(d.buffered(), Deframer::CAPACITY);
}

#[test]
fn two_largest_messages_fit_in_one_push() {
    let mut largest = some_messages().remove(0);
    largest[2..4].copy_from_slice(&[0xFF, 0xFF]);
    largest.resize(MAX_LEN, 0);
    let mut d = Deframer::new();
    d.push(&[largest.clone(), largest.clone()].concat());
    assert_eq!(drain(&mut d), [Ok(largest.clone()), Ok(largest)]);
}

#[test]
fn a_header_and_an_id_alone_are_a_message() {
    // The smallest message: length 8, no channel, no structure (decoding it is another
    // matter: no known id has so little).
    let bare = [
        0x1C, 0xE9, 0x00, 0x08, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0F,
    ];
    let mut d = Deframer::new();
    d.push(&bare);
    d.push(&bare);
    assert_eq!(drain(&mut d), [Ok(bare.to_vec()), Ok(bare.to_vec())]);
}
