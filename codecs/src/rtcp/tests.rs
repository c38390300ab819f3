use hex_literal::hex;
use proptest::prelude::*;

use super::*;

/// SR (one report block) + SDES (CNAME "user@offhook") + BYE ("done"), built by hand from
/// the RFC 3550 §6.4.1, §6.5 and §6.6 layouts.
const COMPOUND: [u8; 92] = hex!(
    // SR: V=2 RC=1 PT=200 length=12
    "81 c8 000c 11223344"
    "e0b2c3d4 12345678 00000640 00000064 00003e80"
    // report block
    "aabbccdd 20 000005 0001000a 00000010 c3d41234 00008000"
    // SDES: SC=1 length=5
    "81 ca 0005 11223344 01 0c 75736572406f6666686f6f6b 00 00"
    // BYE: SC=1 length=3
    "81 cb 0003 11223344 04 646f6e65 000000"
);

fn block() -> ReportBlock {
    ReportBlock {
        ssrc: Ssrc(0xaabb_ccdd),
        fraction_lost: 0x20,
        cumulative_lost: 5,
        extended_highest_seq: 0x0001_000a,
        jitter: 16,
        last_sr: 0xc3d4_1234,
        delay_since_last_sr: 0x8000,
    }
}

#[test]
fn parses_compound_vector() {
    let packets = parse_compound(&COMPOUND).unwrap();
    assert_eq!(packets.len(), 3);
    assert_eq!(
        packets[0],
        Repr::SenderReport {
            ssrc: Ssrc(0x1122_3344),
            info: SenderInfo {
                ntp_time: NtpTime(0xe0b2_c3d4_1234_5678),
                rtp_time: 1600,
                packet_count: 100,
                octet_count: 16000,
            },
            reports: vec![block()],
            extension: &[],
        }
    );
    let Repr::SourceDescription(chunks) = &packets[1] else {
        panic!("not SDES: {:?}", packets[1]);
    };
    assert_eq!(chunks[0].cname(), Some(&b"user@offhook"[..]));
    assert_eq!(
        packets[2],
        Repr::Goodbye {
            sources: vec![Ssrc(0x1122_3344)],
            reason: Some(b"done"),
        }
    );
    let mut out = [0u8; 92];
    assert_eq!(emit_compound(&packets, &mut out), Ok(92));
    assert_eq!(out, COMPOUND);
}

#[test]
fn negative_cumulative_lost_sign_extends() {
    let mut rr = hex!("81 c9 0007 01020304 aabbccdd 00 fffffe 00000001 00000000 00000000 00000000");
    let Repr::ReceiverReport { reports, .. } =
        Repr::parse(&Packet::new_checked(&rr[..]).unwrap()).unwrap()
    else {
        panic!()
    };
    assert_eq!(reports[0].cumulative_lost, -2);
    let r = Repr::ReceiverReport {
        ssrc: Ssrc(0x0102_0304),
        reports,
        extension: &[],
    };
    let copy = rr;
    r.emit(&mut rr).unwrap();
    assert_eq!(rr, copy);
}

#[test]
fn rejects_bad_lengths_with_offsets() {
    // Second packet claims 13 words but only the SDES bytes follow.
    let mut bad = COMPOUND;
    bad[55] = 0x0d;
    assert_eq!(
        parse_compound(&bad).unwrap_err(),
        Error::Length {
            offset: 52,
            declared: 56,
            available: 40
        }
    );
    // Report count larger than the body.
    let mut bad = COMPOUND;
    bad[0] = 0x82;
    assert!(matches!(
        parse_compound(&bad).unwrap_err(),
        Error::Truncated {
            field: "report blocks",
            offset: 28,
            ..
        }
    ));
    // Version 1.
    let mut bad = COMPOUND;
    bad[52] = 0x41;
    assert_eq!(
        parse_compound(&bad).unwrap_err(),
        Error::Version {
            offset: 52,
            version: 1
        }
    );
    // Padding on a packet that is not last.
    let mut bad = COMPOUND;
    bad[52] |= 0x20;
    bad[75] = 1;
    assert_eq!(
        parse_compound(&bad).unwrap_err(),
        Error::PaddingNotLast { offset: 52 }
    );
    // Compound must start with SR or RR.
    assert_eq!(
        parse_compound(&COMPOUND[52..]).unwrap_err(),
        Error::CompoundStart(SDES)
    );
    // Truncated header.
    assert!(matches!(
        parse_compound(&COMPOUND[..3]),
        Err(Error::Truncated { .. })
    ));
    // SDES chunk with no terminator.
    let sdes = hex!("81 ca 0002 11223344 01 02 6162");
    assert_eq!(
        Repr::parse(&Packet::new_checked(&sdes[..]).unwrap()).unwrap_err(),
        Error::SdesUnterminated { offset: 4 }
    );
}

#[test]
fn padding_on_last_packet_is_accepted() {
    let rr = hex!("a0 c9 0002 01020304 00000004");
    let packets = parse_compound(&rr).unwrap();
    assert_eq!(
        packets,
        vec![Repr::ReceiverReport {
            ssrc: Ssrc(0x0102_0304),
            reports: vec![],
            extension: &[],
        }]
    );
    // Padding that leaves an unaligned extension: emitted again with padding.
    let odd = hex!("a0 c9 0002 ffffffff ffffff03");
    let packets = parse_compound(&odd).unwrap();
    assert_eq!(
        packets[0],
        Repr::ReceiverReport {
            ssrc: Ssrc(u32::MAX),
            reports: vec![],
            extension: &[0xff],
        }
    );
    let mut out = [0u8; 12];
    assert_eq!(packets[0].emit(&mut out), Ok(12));
    assert_eq!(out, hex!("a0 c9 0002 ffffffff ff000003"));
    let zero_pad = hex!("a0 c9 0001 01020300");
    assert!(matches!(
        parse_compound(&zero_pad),
        Err(Error::Padding { offset: 7, .. })
    ));
}

#[test]
fn emit_rejects_misuse() {
    let r = Repr::Goodbye {
        sources: vec![Ssrc(1); 32],
        reason: None,
    };
    assert!(matches!(
        r.emit(&mut [0u8; 256]),
        Err(Error::Unrepresentable(_))
    ));
    let r = Repr::ReceiverReport {
        ssrc: Ssrc(1),
        reports: vec![block()],
        extension: &[],
    };
    assert_eq!(
        r.emit(&mut [0u8; 10]),
        Err(Error::BufferTooShort {
            needed: 32,
            got: 10
        })
    );
    let r = Repr::ReceiverReport {
        ssrc: Ssrc(1),
        reports: vec![ReportBlock {
            cumulative_lost: 0x80_0000,
            ..block()
        }],
        extension: &[],
    };
    assert!(matches!(
        r.emit(&mut [0u8; 64]),
        Err(Error::Unrepresentable(_))
    ));
}

fn arb_block() -> impl Strategy<Value = ReportBlock> {
    (
        any::<u32>(),
        any::<u8>(),
        -0x80_0000i32..=0x7F_FFFF,
        any::<[u32; 4]>(),
    )
        .prop_map(|(ssrc, f, lost, w)| ReportBlock {
            ssrc: Ssrc(ssrc),
            fraction_lost: f,
            cumulative_lost: lost,
            extended_highest_seq: w[0],
            jitter: w[1],
            last_sr: w[2],
            delay_since_last_sr: w[3],
        })
}

/// An owned SDES chunk: SSRC and (type, value) items.
type OwnedChunk = (u32, Vec<(u8, Vec<u8>)>);

/// Owned description of a packet, turned into a borrowed [`Repr`] in the test body.
#[derive(Debug, Clone)]
enum Owned {
    Sr(u32, [u32; 5], Vec<ReportBlock>, Vec<u8>),
    Rr(u32, Vec<ReportBlock>, Vec<u8>),
    Sdes(Vec<OwnedChunk>),
    Bye(Vec<u32>, Option<Vec<u8>>),
    Other(u8, u8, Vec<u8>),
}

/// Opaque content; whole 32-bit words when `aligned` (only the last packet of a compound
/// may carry padding).
fn words(max: usize, aligned: bool) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max).prop_map(move |mut v| {
        if aligned {
            v.truncate(v.len() / 4 * 4);
        }
        v
    })
}

fn arb_owned(aligned: bool) -> impl Strategy<Value = Owned> {
    let blocks = || proptest::collection::vec(arb_block(), 0..4);
    prop_oneof![
        (
            any::<u32>(),
            any::<[u32; 5]>(),
            blocks(),
            words(12, aligned)
        )
            .prop_map(|(s, i, b, e)| Owned::Sr(s, i, b, e)),
        (any::<u32>(), blocks(), words(12, aligned)).prop_map(|(s, b, e)| Owned::Rr(s, b, e)),
        proptest::collection::vec(
            (
                any::<u32>(),
                proptest::collection::vec(
                    (1u8..=255, proptest::collection::vec(any::<u8>(), 0..20)),
                    0..4
                )
            ),
            0..4
        )
        .prop_map(Owned::Sdes),
        (
            proptest::collection::vec(any::<u32>(), 0..5),
            proptest::option::of(proptest::collection::vec(any::<u8>(), 0..30))
        )
            .prop_map(|(s, r)| Owned::Bye(s, r)),
        (205u8..=255, 0u8..32, words(16, aligned)).prop_map(|(t, c, b)| Owned::Other(t, c, b)),
    ]
}

fn to_repr(o: &Owned) -> Repr<'_> {
    match o {
        Owned::Sr(s, i, b, e) => Repr::SenderReport {
            ssrc: Ssrc(*s),
            info: SenderInfo {
                ntp_time: NtpTime((u64::from(i[0]) << 32) | u64::from(i[1])),
                rtp_time: i[2],
                packet_count: i[3],
                octet_count: i[4],
            },
            reports: b.clone(),
            extension: e,
        },
        Owned::Rr(s, b, e) => Repr::ReceiverReport {
            ssrc: Ssrc(*s),
            reports: b.clone(),
            extension: e,
        },
        Owned::Sdes(chunks) => Repr::SourceDescription(
            chunks
                .iter()
                .map(|(s, items)| SdesChunk {
                    ssrc: Ssrc(*s),
                    items: items
                        .iter()
                        .map(|(k, v)| SdesItem { kind: *k, value: v })
                        .collect(),
                })
                .collect(),
        ),
        Owned::Bye(s, r) => Repr::Goodbye {
            sources: s.iter().copied().map(Ssrc).collect(),
            reason: r.as_deref(),
        },
        Owned::Other(t, c, b) => Repr::Other {
            packet_type: *t,
            count: *c,
            body: b,
        },
    }
}

proptest! {
    #[test]
    fn packet_round_trips(owned in arb_owned(false)) {
        let repr = to_repr(&owned);
        let mut buf = vec![0u8; repr.buffer_len()];
        prop_assert_eq!(repr.emit(&mut buf), Ok(buf.len()));
        let packet = Packet::new_checked(&buf[..]).unwrap();
        prop_assert_eq!(Repr::parse(&packet), Ok(repr));
    }

    #[test]
    fn compound_round_trips(owned in proptest::collection::vec(arb_owned(true), 1..5)) {
        let reprs: Vec<Repr<'_>> = owned.iter().map(to_repr).collect();
        let len: usize = reprs.iter().map(Repr::buffer_len).sum();
        let mut buf = vec![0u8; len];
        prop_assert_eq!(emit_compound(&reprs, &mut buf), Ok(len));
        let parsed: Result<Vec<_>, _> = Compound::new(&buf).collect();
        prop_assert_eq!(parsed, Ok(reprs));
    }

    #[test]
    fn never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..120)) {
        for r in Compound::new(&bytes).flatten() {
            let mut out = vec![0u8; r.buffer_len()];
            r.emit(&mut out).unwrap();
            let again = Repr::parse(&Packet::new_checked(&out[..]).unwrap()).unwrap();
            prop_assert_eq!(again, r);
        }
    }
}

/// Found by the fuzzer: an SDES chunk whose end-of-list padding runs past the packet end must
/// be an error, not an arithmetic overflow.
#[test]
fn sdes_padding_past_the_end_is_an_error() {
    let data = hex_bytes(
        "81c8000c11223344e0b2c3d41234feff7b000010c3d41233fffb8000811000050304000000ff7f81cbffff1060d412310200800083ca000c000000000000000501a0c9a000003e80aabbccdd0000a0c90002fdfd0304000000ff7f81cbffff1060d4123102008000a3ca000c0000000000000005012a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2a2aa0c9a000003e80aabbccdd000c000000000000002000050081bbccdd2000002b290080000000c300d4125678000501a000",
    );
    // A chunk's padding would run past its SDES packet: the parser names the chunk and the
    // offset where the packet ends, instead of reading beyond it.
    let e = parse_compound(&data).expect_err("SDES padding runs past the packet");
    assert!(
        matches!(
            e,
            Error::Truncated {
                field: "SDES chunk",
                offset: 116,
                needed: 4,
                len: 0
            }
        ),
        "{e:?}"
    );
    // Iterating stops at the same error, after the packets before it.
    let items: Vec<_> = Compound::new(&data).collect();
    assert!(items.len() >= 2, "{items:?}");
    assert!(
        items[..items.len() - 1].iter().all(Result::is_ok),
        "{items:?}"
    );
    assert_eq!(items.last().unwrap().as_ref().unwrap_err(), &e);
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}
