//! Header extensions (RFC 3550 §5.3.1) and their RFC 8285 elements: the figures of RFC 8285,
//! padding between elements, the reserved id 15, and elements that run past the data.

use hex_literal::hex;
use proptest::prelude::*;

use crate::rtp::*;

// RFC 8285 §4.2's figure (ids 1 to 3 filled in): elements with L=0, L=1 and L=3, and two
// padding bytes between the second and the third.
const ONE_BYTE_FIGURE: [u8; 12] = hex!("10 aa 21 bbcc 00 00 33 dddddddd");

// RFC 8285 §4.3's figure: two-byte elements of 0, 1 and 4 bytes, one padding byte before the
// last.
const TWO_BYTE_FIGURE: [u8; 12] = hex!("01 00 02 01 aa 00 03 04 bbbbbbbb");

// A PCMU packet carrying a client-to-mixer audio level (RFC 6464, one-byte id 1, voice
// activity flag and -31 dBov) padded to a word, as WebRTC gateways send it.
const AUDIO_LEVEL: [u8; 24] = hex!(
    "90 00 0001 000000a0 5ca1ab1e"
    "bede 0001 10 9f 00 00"
    "ffffffff"
);

fn one_byte(data: &[u8]) -> Extension<'_> {
    Extension {
        profile: EXT_ONE_BYTE,
        data,
    }
}

fn two_byte(data: &[u8]) -> Extension<'_> {
    Extension {
        profile: 0x1000,
        data,
    }
}

fn ids_and_data<'a>(ext: &Extension<'a>) -> Vec<(u8, &'a [u8])> {
    ext.elements().map(|e| (e.id, e.data)).collect()
}

#[test]
fn one_byte_elements_of_the_rfc_8285_figure_skip_padding_between_them() {
    let ext = one_byte(&ONE_BYTE_FIGURE);
    assert!(ext.is_one_byte());
    assert!(!ext.is_two_byte());
    assert_eq!(
        ids_and_data(&ext),
        [
            (1, &hex!("aa")[..]),
            (2, &hex!("bbcc")[..]),
            (3, &hex!("dddddddd")[..]),
        ]
    );
}

#[test]
fn two_byte_elements_of_the_rfc_8285_figure_skip_padding_between_them() {
    let ext = two_byte(&TWO_BYTE_FIGURE);
    assert!(ext.is_two_byte());
    assert!(!ext.is_one_byte());
    assert_eq!(
        ids_and_data(&ext),
        [
            (1, &[][..]),
            (2, &hex!("aa")[..]),
            (3, &hex!("bbbbbbbb")[..]),
        ]
    );
}

#[test]
fn two_byte_profiles_carry_four_application_bits() {
    for profile in [0x1000, 0x1007, 0x100f] {
        let ext = Extension {
            profile,
            data: &TWO_BYTE_FIGURE,
        };
        assert!(ext.is_two_byte(), "{profile:#x}");
        assert_eq!(ext.elements().count(), 3);
    }
    for profile in [0x0100, 0x1010, 0x2000, 0xbedf] {
        let ext = Extension {
            profile,
            data: &TWO_BYTE_FIGURE,
        };
        assert!(!ext.is_two_byte() && !ext.is_one_byte(), "{profile:#x}");
        assert_eq!(ext.elements().count(), 0, "opaque profile {profile:#x}");
    }
}

#[test]
fn leading_and_trailing_padding_is_skipped() {
    let data = hex!("00 00 00 10 aa 00 00 00");
    assert_eq!(ids_and_data(&one_byte(&data)), [(1, &hex!("aa")[..])]);
    let data = hex!("00 00 05 01 aa 00 00 00");
    assert_eq!(ids_and_data(&two_byte(&data)), [(5, &hex!("aa")[..])]);
    assert_eq!(one_byte(&[0; 8]).elements().count(), 0);
    assert_eq!(one_byte(&[]).elements().count(), 0);
}

#[test]
fn id_15_ends_the_one_byte_elements() {
    // RFC 8285 §4.2: the length of id 15 is ignored and processing stops there, so the
    // element after it is not seen either.
    let data = hex!("10 aa f3 bbccdd 20 ee 00 00 00 00");
    assert_eq!(ids_and_data(&one_byte(&data)), [(1, &hex!("aa")[..])]);
    let data = hex!("f0 00 10 aa");
    assert_eq!(one_byte(&data).elements().count(), 0);
    // In the two-byte form 15 is an ordinary id.
    let data = hex!("0f 01 aa 00");
    assert_eq!(ids_and_data(&two_byte(&data)), [(15, &hex!("aa")[..])]);
}

#[test]
fn an_element_running_past_the_data_ends_the_elements() {
    // One-byte: id 2 announces 4 bytes, 2 remain.
    let data = hex!("10 aa 23 bbcc");
    assert_eq!(ids_and_data(&one_byte(&data)), [(1, &hex!("aa")[..])]);
    // Two-byte: id 2 announces 5 bytes, 1 remains.
    let data = hex!("01 01 aa 02 05 bb");
    assert_eq!(ids_and_data(&two_byte(&data)), [(1, &hex!("aa")[..])]);
    // Two-byte: an id with no length byte after it.
    let data = hex!("01 00 02");
    assert_eq!(ids_and_data(&two_byte(&data)), [(1, &[][..])]);
}

#[test]
fn a_packet_shows_its_extension_and_elements() {
    let p = Packet::new_checked(&AUDIO_LEVEL[..]).unwrap();
    let ext = p.extension().unwrap();
    assert_eq!(ext.profile, EXT_ONE_BYTE);
    assert_eq!(ext.data, &hex!("10 9f 00 00"));
    assert_eq!(ids_and_data(&ext), [(1, &hex!("9f")[..])]);
    assert_eq!(p.header_len(), 20);
    assert_eq!(p.payload(), &hex!("ffffffff"));
    assert_eq!(Repr::parse(&p).unwrap().extension, Some(ext));
    // After CSRCs, the extension starts past them.
    let with_csrc = hex!("91 00 0001 000000a0 5ca1ab1e 01020304 bede 0001 10 9f 00 00");
    let p = Packet::new_checked(&with_csrc[..]).unwrap();
    assert_eq!(p.extension(), Some(ext));
    assert_eq!(p.header_len(), 24);
    assert!(p.payload().is_empty());
    // Without the X bit there is none, whatever the bytes after the header hold.
    let mut plain = AUDIO_LEVEL;
    plain[0] = 0x80;
    let p = Packet::new_checked(&plain[..]).unwrap();
    assert_eq!(p.extension(), None);
    assert_eq!(p.header_len(), 12);
    assert_eq!(p.payload(), &AUDIO_LEVEL[12..]);
}

#[test]
fn extension_lengths_are_checked_against_the_packet() {
    // The extension header alone, with a length of 0 words, ends the packet: valid.
    let empty = hex!("90 00 0001 000000a0 5ca1ab1e bede 0000");
    let p = Packet::new_checked(&empty[..]).unwrap();
    assert_eq!(p.extension().map(|e| e.data.len()), Some(0));
    assert!(p.payload().is_empty());
    assert_eq!(
        Packet::new_checked(&empty[..15]).unwrap_err(),
        Error::Truncated {
            field: "extension header",
            offset: 12,
            needed: 16,
            len: 15
        }
    );
    // The extension data ends exactly at the end of the packet: valid; a byte short: not.
    let exact = &AUDIO_LEVEL[..20];
    let p = Packet::new_checked(exact).unwrap();
    assert_eq!(p.extension().unwrap().data.len(), 4);
    assert!(p.payload().is_empty());
    assert_eq!(
        Packet::new_checked(&AUDIO_LEVEL[..19]).unwrap_err(),
        Error::Truncated {
            field: "extension data",
            offset: 16,
            needed: 20,
            len: 19
        }
    );
    // Behind two CSRCs, the same checks count from the end of the CSRC list.
    let after_csrcs = hex!("92 00 0001 000000a0 5ca1ab1e 01020304 05060708 bede 0002 10 9f");
    assert_eq!(
        Packet::new_checked(&after_csrcs[..]).unwrap_err(),
        Error::Truncated {
            field: "extension data",
            offset: 24,
            needed: 32,
            len: 26
        }
    );
    assert_eq!(
        Packet::new_checked(&after_csrcs[..22]).unwrap_err(),
        Error::Truncated {
            field: "extension header",
            offset: 20,
            needed: 24,
            len: 22
        }
    );
}

#[test]
fn emit_accepts_the_largest_extension_and_refuses_one_word_more() {
    // The length field counts 32-bit words in 16 bits: 65535 words, 262140 bytes at most.
    let data = vec![0u8; 4 * usize::from(u16::MAX)];
    let repr = Repr {
        extension: Some(Extension {
            profile: 0x1234,
            data: &data,
        }),
        ..Repr::parse_bytes(&AUDIO_LEVEL).unwrap()
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    assert_eq!(repr.emit(&mut buf), Ok(12 + 4 + data.len() + 4));
    assert_eq!(buf[14..16], [0xff, 0xff]);
    assert_eq!(Repr::parse_bytes(&buf), Ok(repr));

    let data = vec![0u8; data.len() + 4];
    let too_long = Repr {
        extension: Some(Extension {
            profile: 0x1234,
            data: &data,
        }),
        ..repr
    };
    let mut buf = vec![0u8; too_long.buffer_len()];
    assert!(matches!(
        too_long.emit(&mut buf),
        Err(Error::Unrepresentable(_))
    ));
}

/// One element as a sender lays it out, and the padding bytes put before it.
#[derive(Debug, Clone)]
struct Laid {
    padding: usize,
    id: u8,
    data: Vec<u8>,
}

fn laid(max_id: u8, max_len: usize) -> impl Strategy<Value = Laid> {
    (
        0usize..4,
        1..=max_id,
        proptest::collection::vec(any::<u8>(), 1..=max_len),
    )
        .prop_map(|(padding, id, data)| Laid { padding, id, data })
}

fn lay_out(elements: &[Laid], two_byte: bool, trailing: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for e in elements {
        out.resize(out.len() + e.padding, 0);
        if two_byte {
            out.extend([e.id, e.data.len() as u8]);
        } else {
            out.push(e.id << 4 | (e.data.len() - 1) as u8);
        }
        out.extend(&e.data);
    }
    out.resize(out.len() + trailing, 0);
    out
}

proptest! {
    #[test]
    fn one_byte_elements_read_back_whatever_the_padding(
        elements in proptest::collection::vec(laid(14, 16), 0..8),
        trailing in 0usize..4,
    ) {
        let data = lay_out(&elements, false, trailing);
        let read: Vec<_> = one_byte(&data).elements().map(|e| (e.id, e.data.to_vec())).collect();
        let sent: Vec<_> = elements.into_iter().map(|e| (e.id, e.data)).collect();
        prop_assert_eq!(read, sent);
    }

    #[test]
    fn two_byte_elements_read_back_whatever_the_padding(
        elements in proptest::collection::vec(laid(255, 40), 0..8),
        trailing in 0usize..4,
    ) {
        let data = lay_out(&elements, true, trailing);
        let read: Vec<_> = two_byte(&data).elements().map(|e| (e.id, e.data.to_vec())).collect();
        let sent: Vec<_> = elements.into_iter().map(|e| (e.id, e.data)).collect();
        prop_assert_eq!(read, sent);
    }
}
