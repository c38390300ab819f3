//! Bad input: lying lengths, unknown ids, truncated structures, bad values: errors naming
//! the field and offset, never panics.

use proptest::prelude::*;

use super::strategies::message;
use crate::tpncp::wire::*;

fn header() -> Header {
    Header {
        order: ByteOrder::Big,
        version: VERSION,
        seq: Seq(9),
    }
}

fn encoded_command(c: &Command) -> Vec<u8> {
    let mut out = Vec::new();
    encode_command(&header(), c, &mut out);
    out
}

/// Rewrites the length field to say the message's true size.
fn honest(mut m: Vec<u8>) -> Vec<u8> {
    let len = (m.len() - 4) as u16;
    let b = if m[8] == 0 && m[9] == 0 {
        len.to_be_bytes()
    } else {
        len.to_le_bytes()
    };
    m[2..4].copy_from_slice(&b);
    m
}

fn ring() -> Command {
    Command::Ring {
        channel: Channel(1),
        on: true,
        pattern: 0,
        caller_id: Some(CallerIdText {
            number: Some("5551234".into()),
            name: Some("Alice".into()),
        }),
    }
}

#[test]
fn short_messages_name_the_header_field() {
    let m = encoded_command(&ring());
    for (len, field) in [
        (0, "version"),
        (1, "version"),
        (2, "length"),
        (5, "seq"),
        (6, "length_extension"),
        (7, "reserved"),
        (11, "id"),
    ] {
        let e = decode_command(&m[..len]).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::Truncated(field));
        assert_eq!((e.offset, e.header, e.id), (len, None, None));
        assert_eq!(decode_event(&m[..len]).unwrap_err().kind, e.kind);
    }
}

#[test]
fn a_lying_length_is_an_error_with_the_header() {
    let m = encoded_command(&ring());
    let e = decode_command(&m[..100]).unwrap_err();
    assert_eq!(
        e.kind,
        DecodeErrorKind::Length {
            says: 252,
            have: 100
        }
    );
    assert_eq!((e.offset, e.header, e.id), (2, Some(header()), Some(229)));
    // The length extension is the length's high byte.
    let mut extended = m.clone();
    extended[6] = 1;
    assert_eq!(
        decode_command(&extended).unwrap_err().kind,
        DecodeErrorKind::Length {
            says: 65_536 + 252,
            have: 252
        }
    );
    let mut longer = m.clone();
    longer.push(0);
    assert!(matches!(
        decode_command(&longer).unwrap_err().kind,
        DecodeErrorKind::Length {
            says: 252,
            have: 253
        }
    ));
    assert_eq!(
        decode_command(&honest(longer)).unwrap_err().kind,
        DecodeErrorKind::Trailing {
            expected: 252,
            have: 253
        }
    );
}

#[test]
fn truncated_structures_name_the_field_at_every_length() {
    let m = encoded_command(&ring());
    for len in MIN_LEN..m.len() {
        let e = decode_command(&honest(m[..len].to_vec())).unwrap_err();
        let DecodeErrorKind::Truncated(field) = e.kind else {
            panic!("{len}: {e:?}")
        };
        // The field the message ends in (or before) starts at the offset given.
        let want = match len - MIN_LEN {
            0..=3 => ("channel_id", 12),
            4..=7 => ("ring_state", 16),
            8..=11 => ("ring_type", 20),
            12..=15 => ("cid_available", 24),
            16..=25 => ("date", 28),
            26..=46 => ("number", 38),
            47..=97 => ("name", 59),
            98 => ("status", 110),
            99 => ("number_availability", 111),
            100 => ("name_availability", 112),
            _ => ("zero_fill1", 113),
        };
        assert_eq!((field, e.offset), want, "{len}");
        assert_eq!(e.header, Some(header()));
    }
    let mut out = Vec::new();
    encode_event(&header(), Channel(1), &Event::OnHook, &mut out);
    let e = decode_event(&honest(out[..14].to_vec())).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::Truncated("channel_id"), 12)
    );
    let mut out = Vec::new();
    encode_event(&header(), Channel(1), &Event::Digits(vec![]), &mut out);
    let e = decode_event(&honest(out[..16 + 4 + 20 * 3 + 2].to_vec())).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::Truncated("entries"), 20)
    );
}

#[test]
fn unknown_ids_carry_the_header_for_an_answer() {
    let mut m = encoded_command(&Command::QueryStatus {
        channel: Channel(0),
    });
    m[8..12].copy_from_slice(&9999u32.to_be_bytes());
    let e = decode_command(&m).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::UnknownId(9999));
    assert_eq!((e.offset, e.header, e.id), (8, Some(header()), Some(9999)));
    // An id of the table Offhook does not use (acCMD_START_PLAY_VOICE_FILE … or any other).
    m[8..12].copy_from_slice(&1u32.to_be_bytes());
    assert_eq!(
        decode_command(&m).unwrap_err().kind,
        DecodeErrorKind::UnknownId(1)
    );
    // An event is not a command.
    let mut out = Vec::new();
    encode_event(&header(), Channel(1), &Event::OffHook, &mut out);
    assert_eq!(
        decode_command(&out).unwrap_err().kind,
        DecodeErrorKind::UnknownId(15)
    );
    // Little-endian: the id as its order reads it.
    let mut out = Vec::new();
    let little = Header {
        order: ByteOrder::Little,
        ..header()
    };
    encode_event(&little, Channel(1), &Event::OffHook, &mut out);
    out[8..12].copy_from_slice(&300u32.to_le_bytes());
    let e = decode_event(&out).unwrap_err();
    assert_eq!(
        (e.kind, e.header),
        (DecodeErrorKind::UnknownId(300), Some(little))
    );
}

#[test]
fn bad_values_name_the_field() {
    let body = 12;
    let mut m = encoded_command(&Command::OpenChannel {
        channel: Channel(0),
        coder: Coder::Alaw,
        frames_per_packet: 2,
        dtmf_payload_type: 0,
    });
    m[body + 19] = 2;
    let e = decode_command(&m).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::BadValue("coder"), body + 16)
    );

    let mut m = encoded_command(&Command::ActivateRtp {
        channel: Channel(0),
        local_rtp_port: 1,
        remote: "192.0.2.1:2".parse().unwrap(),
        tx_payload_type: 0,
        rx_payload_type: 0,
    });
    m[body + 507] = 3;
    let e = decode_command(&m).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (
            DecodeErrorKind::BadValue("remote_rtpip_add_address_family"),
            body + 504
        )
    );
    // Family 0: an older board's IPv4 field alone.
    m[body + 507] = 0;
    let Ok((_, Command::ActivateRtp { remote, .. })) = decode_command(&m) else {
        panic!()
    };
    assert_eq!(remote, "192.0.2.1:2".parse().unwrap());

    let ring = encoded_command(&ring());
    let mut m = ring.clone();
    m[body + 26..body + 47].fill(b'1');
    let e = decode_command(&m).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::BadValue("number"), body + 26)
    );
    let mut m = ring.clone();
    m[body + 47] = 0xFF;
    let e = decode_command(&m).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::BadValue("name"), body + 47)
    );
    // Availability 0: the text is not read.
    let mut m = ring;
    m[body + 47] = 0xFF;
    m[body + 100] = 0;
    let Ok((_, Command::Ring { caller_id, .. })) = decode_command(&m) else {
        panic!()
    };
    assert_eq!(
        caller_id,
        Some(CallerIdText {
            number: Some("5551234".into()),
            name: None
        })
    );

    let mut out = Vec::new();
    encode_event(&header(), Channel(0), &Event::Digits(vec![]), &mut out);
    for n in [41, -1] {
        out[16..20].copy_from_slice(&i32::to_be_bytes(n));
        let e = decode_event(&out).unwrap_err();
        assert_eq!(
            (e.kind, e.offset),
            (DecodeErrorKind::BadValue("num_digits"), 16)
        );
    }
    let mut out = Vec::new();
    let error = Event::Error {
        code: 1,
        text: "é".into(),
    };
    encode_event(&header(), Channel(0), &error, &mut out);
    out[16 + 30] = b'x'; // half a character
    let e = decode_event(&out).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (DecodeErrorKind::BadValue("error_string"), 16 + 29)
    );
}

#[test]
fn errors_read_as_sentences() {
    let m = encoded_command(&ring());
    assert_eq!(
        decode_command(&m[..100]).unwrap_err().to_string(),
        "TPNCP length field says 252 bytes, have 100 at byte 2"
    );
    assert_eq!(
        FrameError::TooShort(4).to_string(),
        "TPNCP length says 4 bytes, below the 12 of a header and id"
    );
}

proptest! {
    /// Any bytes: an error or a message that encodes back to the same bytes' meaning;
    /// never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..1200)) {
        if let Ok((h, c)) = decode_command(&data) {
            let mut out = Vec::new();
            encode_command(&h, &c, &mut out);
            prop_assert_eq!(decode_command(&out), Ok((h, c)));
        }
        if let Ok((h, ch, e)) = decode_event(&data) {
            let mut out = Vec::new();
            encode_event(&h, ch, &e, &mut out);
            prop_assert_eq!(decode_event(&out), Ok((h, ch, e)));
        }
    }

    /// Every byte of a valid message flipped: decoding does not panic, and what decodes
    /// re-encodes to itself.
    #[test]
    fn mutated_messages_never_panic(m in message(), at in any::<prop::sample::Index>(), v in any::<u8>()) {
        let mut m = m;
        let i = at.index(m.len());
        m[i] = v;
        if let Ok((h, c)) = decode_command(&m) {
            let mut out = Vec::new();
            encode_command(&h, &c, &mut out);
            prop_assert_eq!(decode_command(&out), Ok((h, c)));
        }
        if let Ok((h, ch, e)) = decode_event(&m) {
            let mut out = Vec::new();
            encode_event(&h, ch, &e, &mut out);
            prop_assert_eq!(decode_event(&out), Ok((h, ch, e)));
        }
    }
}
