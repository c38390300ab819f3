use hex_literal::hex;
use proptest::prelude::*;

use super::*;

mod extension;

// A PCMU packet: seq 0x1234, ts 0xdeadbeef, ssrc 0x01020304, marker, 4 payload bytes.
const SIMPLE: [u8; 16] = hex!("80 80 1234 deadbeef 01020304 fffefdfc");

// CC=2, X=1 with an RFC 8285 one-byte extension, padding of 4.
const FULL: [u8; 40] = hex!(
    "b2 08 ffff 00000160 cafebabe"
    "11111111 22222222"
    "bede 0002 10 ff 22 aabbcc 00 00"
    "d5d5d5d5"
    "00 00 00 04"
);

#[test]
fn parses_simple_vector() {
    let r = Repr::parse_bytes(&SIMPLE).unwrap();
    assert!(r.marker);
    assert_eq!(r.payload_type, 0);
    assert_eq!(r.sequence_number, SequenceNumber(0x1234));
    assert_eq!(r.timestamp, Timestamp(0xdead_beef));
    assert_eq!(r.ssrc, Ssrc(0x0102_0304));
    assert_eq!(r.payload, &hex!("fffefdfc"));
    assert_eq!(r.buffer_len(), SIMPLE.len());
    let mut out = [0u8; 16];
    assert_eq!(r.emit(&mut out), Ok(16));
    assert_eq!(out, SIMPLE);
}

#[test]
fn parses_csrcs_extension_and_padding() {
    let p = Packet::new_checked(&FULL[..]).unwrap();
    assert_eq!(p.header_len(), 32);
    assert_eq!(p.padding_len(), 4);
    assert_eq!(p.payload(), &hex!("d5d5d5d5"));
    assert_eq!(p.payload_type(), 8);
    assert!(!p.marker());
    let r = Repr::parse(&p).unwrap();
    assert_eq!(r.csrcs.as_slice(), &[Ssrc(0x1111_1111), Ssrc(0x2222_2222)]);
    let ext = r.extension.unwrap();
    assert!(ext.is_one_byte());
    let els: Vec<_> = ext.elements().collect();
    assert_eq!(
        els,
        vec![
            ExtensionElement {
                id: 1,
                data: &[0xff]
            },
            ExtensionElement {
                id: 2,
                data: &[0xaa, 0xbb, 0xcc]
            },
        ]
    );
    let mut out = [0xEEu8; 40];
    assert_eq!(r.emit(&mut out), Ok(40));
    assert_eq!(out, FULL);
}

#[test]
fn two_byte_extension_elements() {
    let data = hex!("05 02 abcd 00 07 00 00");
    let ext = Extension {
        profile: 0x1000,
        data: &data,
    };
    assert!(ext.is_two_byte());
    let els: Vec<_> = ext.elements().collect();
    assert_eq!(els.len(), 2);
    assert_eq!(els[0].id, 5);
    assert_eq!(els[0].data, &[0xab, 0xcd]);
    assert_eq!(els[1].id, 7);
    assert!(els[1].data.is_empty());
    // Unknown profile: opaque, no elements.
    let other = Extension {
        profile: 0x1234,
        data: &data,
    };
    assert_eq!(other.elements().count(), 0);
}

#[test]
fn rejects_bad_packets_with_field_and_offset() {
    assert_eq!(
        Packet::new_checked(&SIMPLE[..11]).unwrap_err(),
        Error::Truncated {
            field: "fixed header",
            offset: 0,
            needed: 12,
            len: 11
        }
    );
    let mut v1 = SIMPLE;
    v1[0] = 0x40;
    assert_eq!(Packet::new_checked(&v1[..]).unwrap_err(), Error::Version(1));
    let mut cc = SIMPLE;
    cc[0] = 0x82;
    assert!(matches!(
        Packet::new_checked(&cc[..]).unwrap_err(),
        Error::Truncated {
            field: "CSRC list",
            offset: 12,
            ..
        }
    ));
    let mut pad = SIMPLE;
    pad[0] = 0xA0;
    pad[15] = 5; // 5 > 4 bytes after header
    assert_eq!(
        Packet::new_checked(&pad[..]).unwrap_err(),
        Error::Padding {
            offset: 15,
            count: 5,
            available: 4
        }
    );
    pad[15] = 0;
    assert!(matches!(
        Packet::new_checked(&pad[..]),
        Err(Error::Padding { .. })
    ));
    let mut ext = FULL;
    ext[22] = 0x10; // extension length 0x1002 words
    assert!(matches!(
        Packet::new_checked(&ext[..]).unwrap_err(),
        Error::Truncated {
            field: "extension data",
            offset: 24,
            ..
        }
    ));
}

#[test]
fn emit_rejects_small_buffer_and_unaligned_extension() {
    let r = Repr::parse_bytes(&SIMPLE).unwrap();
    assert_eq!(
        r.emit(&mut [0u8; 15]),
        Err(Error::BufferTooShort {
            needed: 16,
            got: 15
        })
    );
    let bad = Repr {
        extension: Some(Extension {
            profile: 1,
            data: &[1, 2, 3],
        }),
        ..r
    };
    assert!(matches!(
        bad.emit(&mut [0u8; 64]),
        Err(Error::Unrepresentable(_))
    ));
}

#[test]
fn packetizer_numbers_packets_and_marks_talkspurts() {
    let mut p = Packetizer::new(Ssrc(9), 0, SequenceNumber(65535), Timestamp(u32::MAX - 159));
    let payload = [0xFFu8; 160];
    let a = p.packet(&payload, 160);
    let b = p.packet(&payload, 160);
    p.skip(1600);
    let c = p.packet(&payload, 160);
    assert_eq!((a.marker, b.marker, c.marker), (true, false, true));
    assert_eq!(
        [a.sequence_number, b.sequence_number, c.sequence_number],
        [SequenceNumber(65535), SequenceNumber(0), SequenceNumber(1)]
    );
    assert_eq!(
        [a.timestamp, b.timestamp, c.timestamp],
        [Timestamp(u32::MAX - 159), Timestamp(0), Timestamp(1760)]
    );
    let mut buf = [0u8; 172];
    assert_eq!(c.emit(&mut buf), Ok(172));
    assert_eq!(Repr::parse_bytes(&buf), Ok(c));
}

#[test]
fn sequence_numbers_wrap() {
    let a = SequenceNumber(65535);
    let b = a.wrapping_add(1);
    assert_eq!(b, SequenceNumber(0));
    assert!(b.is_after(a));
    assert_eq!(b.distance(a), 1);
    assert_eq!(a.distance(b), -1);
    assert_eq!(a.wrapping_cmp(b), Ordering::Less);
    assert!(Timestamp(5).is_after(Timestamp(u32::MAX - 5)));
    assert_eq!(Timestamp(5).distance(Timestamp(u32::MAX)), 6);
}

#[test]
fn sequence_numbers_order_the_short_way_round() {
    let a = SequenceNumber(10);
    assert_eq!(a.wrapping_cmp(a), Ordering::Equal);
    assert!(!a.is_after(a));
    assert_eq!(SequenceNumber(0).wrapping_cmp(a), Ordering::Less);
    assert_eq!(a.wrapping_cmp(SequenceNumber(65530)), Ordering::Greater);
    assert_eq!(SequenceNumber(65530).wrapping_cmp(a), Ordering::Less);
    // Half the circle away is "before" (the distance is i16::MIN).
    assert_eq!(SequenceNumber(0x8000).distance(SequenceNumber(0)), i16::MIN);
    assert!(!SequenceNumber(0x8000).is_after(SequenceNumber(0)));
    assert!(SequenceNumber(0x7fff).is_after(SequenceNumber(0)));
    let t = Timestamp(160);
    assert!(!t.is_after(t));
    assert_eq!(t.distance(t), 0);
    assert!(!Timestamp(0).is_after(t));
    assert_eq!(Timestamp(0).distance(t), -160);
    assert_eq!(t.wrapping_add(u32::MAX), Timestamp(159));
}

#[test]
fn a_mixer_lists_up_to_fifteen_contributing_sources() {
    let ids: Vec<Ssrc> = (1..=16).map(Ssrc).collect();
    assert_eq!(Csrcs::from_slice(&ids), None);
    let csrcs = Csrcs::from_slice(&ids[..15]).unwrap();
    assert_eq!(csrcs.as_slice(), &ids[..15]);
    let two = Repr {
        csrcs: Csrcs::from_slice(&ids[..2]).unwrap(),
        ..Repr::parse_bytes(&SIMPLE).unwrap()
    };
    let mut out = [0u8; 24];
    assert_eq!(two.emit(&mut out), Ok(24));
    assert_eq!(
        out,
        hex!("82 80 1234 deadbeef 01020304 00000001 00000002 fffefdfc")
    );
    assert_eq!(Csrcs::from_slice(&[]), Some(Csrcs::default()));
}

#[test]
fn ssrc_displays_as_eight_hex_digits() {
    assert_eq!(Ssrc(0x00ab_cdef).to_string(), "00abcdef");
    assert_eq!(Ssrc(0xdead_beef).to_string(), "deadbeef");
}

#[test]
fn the_smallest_packets_end_exactly_where_their_header_does() {
    // The fixed header alone (a comfort-noise-less keepalive): no payload.
    let header_only = &SIMPLE[..12];
    let r = Repr::parse_bytes(header_only).unwrap();
    assert!(r.payload.is_empty());
    assert_eq!(r.buffer_len(), 12);
    // A CSRC list that ends the packet.
    let one_csrc = hex!("81 00 0001 00000000 0a0b0c0d 11111111");
    let r = Repr::parse_bytes(&one_csrc).unwrap();
    assert_eq!(r.csrcs.as_slice(), &[Ssrc(0x1111_1111)]);
    assert!(r.payload.is_empty());
    assert_eq!(
        Packet::new_checked(&one_csrc[..15]).unwrap_err(),
        Error::Truncated {
            field: "CSRC list",
            offset: 12,
            needed: 16,
            len: 15
        }
    );
    // Padding that fills everything after the header: an empty payload.
    let all_padding = hex!("a0 00 0001 00000000 0a0b0c0d 00 00 00 04");
    let p = Packet::new_checked(&all_padding[..]).unwrap();
    assert_eq!(p.padding_len(), 4);
    assert!(p.payload().is_empty());
    let r = Repr::parse(&p).unwrap();
    assert_eq!((r.padding, r.payload.len()), (4, 0));
    // A padding count of 1 is the count byte alone.
    let one = hex!("a0 00 0001 00000000 0a0b0c0d d5 01");
    let p = Packet::new_checked(&one[..]).unwrap();
    assert_eq!((p.padding_len(), p.payload()), (1, &[0xd5][..]));
}

#[test]
fn padding_is_counted_after_csrcs_and_extension() {
    // FULL has 32 bytes of header and 8 after it: a count of 8 is all of them, 9 is too many.
    let mut all = FULL;
    all[39] = 8;
    let p = Packet::new_checked(&all[..]).unwrap();
    assert!(p.payload().is_empty());
    all[39] = 9;
    assert_eq!(
        Packet::new_checked(&all[..]).unwrap_err(),
        Error::Padding {
            offset: 39,
            count: 9,
            available: 8
        }
    );
}

#[test]
fn a_packet_is_built_in_place_with_the_setters() {
    // Header and padding flag first, then the fields, then the payload between them.
    let mut buf = [0u8; 20];
    buf[0] = 0xa0;
    buf[19] = 4;
    let mut p = Packet::new_checked(&mut buf[..]).unwrap();
    p.set_marker_payload_type(true, 8);
    p.set_sequence_number(SequenceNumber(0x1234));
    p.set_timestamp(Timestamp(0xdead_beef));
    p.set_ssrc(Ssrc(0x0102_0304));
    assert_eq!(p.payload_mut().len(), 4);
    p.payload_mut().copy_from_slice(&hex!("d5d4d7d6"));
    let buf = p.into_inner();
    assert_eq!(buf, &hex!("a0 88 1234 deadbeef 01020304 d5d4d7d6 00000004"));
    let r = Repr::parse_bytes(buf).unwrap();
    assert_eq!((r.marker, r.payload_type, r.padding), (true, 8, 4));
}

#[test]
fn emit_writes_only_the_front_of_a_larger_buffer() {
    let r = Repr::parse_bytes(&FULL).unwrap();
    let mut out = [0xEEu8; 64];
    assert_eq!(r.emit(&mut out), Ok(40));
    assert_eq!(out[..40], FULL);
    assert!(out[40..].iter().all(|&b| b == 0xEE));
    // One byte short of buffer_len is refused, and nothing is written.
    let mut short = [0xEEu8; 39];
    assert_eq!(
        r.emit(&mut short),
        Err(Error::BufferTooShort {
            needed: 40,
            got: 39
        })
    );
    assert!(short.iter().all(|&b| b == 0xEE));
}

#[test]
fn emit_zeroes_the_padding_before_its_count() {
    let r = Repr {
        padding: 7,
        ..Repr::parse_bytes(&SIMPLE).unwrap()
    };
    let mut out = [0xEEu8; 23];
    assert_eq!(r.emit(&mut out), Ok(23));
    assert_eq!(
        out,
        hex!("a0 80 1234 deadbeef 01020304 fffefdfc 00 00 00 00 00 00 07")
    );
    // The padding flag, and the payload type masked to 7 bits, whatever the Repr holds.
    let odd = Repr {
        payload_type: 0xff,
        marker: false,
        padding: 1,
        ..r
    };
    let mut out = [0u8; 17];
    assert_eq!(odd.emit(&mut out), Ok(17));
    assert_eq!(out[..2], [0xa0, 0x7f]);
    assert_eq!(out[16], 1);
}

prop_compose! {
    fn arb_repr_parts()(
        marker: bool,
        pt in 0u8..128,
        seq: u16,
        ts: u32,
        ssrc: u32,
        csrcs in proptest::collection::vec(any::<u32>(), 0..=15),
        ext in proptest::option::of((any::<u16>(), proptest::collection::vec(any::<u8>(), 0..16))),
        payload in proptest::collection::vec(any::<u8>(), 0..200),
        padding in 0u8..=255,
    ) -> (bool, u8, u16, u32, u32, Vec<u32>, Option<(u16, Vec<u8>)>, Vec<u8>, u8) {
        (marker, pt, seq, ts, ssrc, csrcs, ext, payload, padding)
    }
}

proptest! {
    #[test]
    fn emit_then_parse_round_trips(parts in arb_repr_parts()) {
        let (marker, pt, seq, ts, ssrc, csrcs, ext, payload, padding) = parts;
        let ids: Vec<Ssrc> = csrcs.into_iter().map(Ssrc).collect();
        let ext_data = ext.as_ref().map(|(p, d)| (*p, &d[..d.len() / 4 * 4]));
        let repr = Repr {
            marker,
            payload_type: pt,
            sequence_number: SequenceNumber(seq),
            timestamp: Timestamp(ts),
            ssrc: Ssrc(ssrc),
            csrcs: Csrcs::from_slice(&ids).unwrap(),
            extension: ext_data.map(|(profile, data)| Extension { profile, data }),
            payload: &payload,
            padding,
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        prop_assert_eq!(repr.emit(&mut buf), Ok(buf.len()));
        prop_assert_eq!(Repr::parse_bytes(&buf), Ok(repr));
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..80)) {
        if let Ok(p) = Packet::new_checked(&bytes[..]) {
            let _ = (p.payload(), p.extension().map(|e| e.elements().count()));
            let r = Repr::parse(&p).unwrap();
            let mut buf = vec![0u8; r.buffer_len()];
            r.emit(&mut buf).unwrap();
            prop_assert_eq!(Repr::parse_bytes(&buf), Ok(r));
        }
    }
}
