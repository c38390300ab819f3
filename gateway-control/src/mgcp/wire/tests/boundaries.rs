//! Where the grammar's edges are: the datagram size limit, what an endpoint name may hold, which
//! error (and so which answer) a version gets, what an SDP line's type may be, and which bytes
//! count as text.

use super::*;

fn error(bytes: &[u8]) -> ParseError {
    match parse(bytes) {
        Ok(m) => panic!("parsed {m:?}"),
        Err(e) => e,
    }
}

/// A `200` whose comment pads the datagram to `len` bytes, CRLF included.
fn response_of_len(len: usize) -> Vec<u8> {
    let mut d = b"200 1 OK ".to_vec();
    d.resize(len - 2, b'k');
    d.extend_from_slice(b"\r\n");
    d
}

#[test]
fn a_datagram_of_exactly_the_limit_is_parsed_and_one_byte_more_is_not() {
    let at_limit = response_of_len(MAX_DATAGRAM);
    let r = response(&at_limit);
    assert_eq!(r.code, ReturnCode(200));
    assert_eq!(r.comment.len(), MAX_DATAGRAM - 8);

    let e = error(&response_of_len(MAX_DATAGRAM + 1));
    assert_eq!(
        e,
        ParseError {
            kind: ParseErrorKind::TooLarge("datagram"),
            offset: MAX_DATAGRAM,
            transaction: None,
            is_command: None,
        }
    );
    assert_eq!(e.answer(), None);
}

#[test]
fn the_message_limit_points_at_the_first_message_too_many() {
    // Each `200 1 OK` with its separator is 13 bytes; the 17th starts at 16 * 13.
    let messages = vec!["200 1 OK\r\n"; MAX_MESSAGES + 1].join(".\r\n");
    let e = error(messages.as_bytes());
    assert_eq!(e.kind, ParseErrorKind::TooLarge("messages"));
    assert_eq!(e.offset, MAX_MESSAGES * 13);
    assert_eq!(e.answer(), None);
}

#[test]
fn endpoint_names_hold_no_comma_and_one_at() {
    // Lists of endpoints are comma-separated elsewhere in MGCP, so a comma in a name is refused
    // rather than read as one odd name.
    let cases: &[&[u8]] = &[
        b"RQNT 12 aaln/1,aaln/2@gw MGCP 1.0\r\n",
        b"RQNT 12 aaln/1@gw,gw2 MGCP 1.0\r\n",
        b"RQNT 12 aaln/1@gw@gw2 MGCP 1.0\r\n",
        b"RQNT 12 @gw MGCP 1.0\r\n",
        b"RQNT 12 aaln/1@ MGCP 1.0\r\n",
    ];
    for bytes in cases {
        let e = error(bytes);
        let what = String::from_utf8_lossy(bytes);
        assert_eq!(e.kind, ParseErrorKind::FirstLine("endpoint"), "{what}");
        assert_eq!(e.offset, 8, "{what}");
        assert_eq!(
            e.answer(),
            Some((TransactionId(12), ReturnCode::PROTOCOL_ERROR)),
            "{what}"
        );
    }
    let e = error(b"AUEP 12 aaln/1@gw MGCP 1.0\r\nZ: aaln/1,aaln/2@gw\r\n");
    assert_eq!(e.kind, ParseErrorKind::Param("Z"));
    // A response keeps the line raw instead (issue 15 point 3).
    let r = response(b"200 12 OK\r\nZ: aaln/1,aaln/2@gw\r\n");
    assert_eq!(r.params, [Param::Unread("Z: aaln/1,aaln/2@gw")]);
    // Wildcards and bracketed addresses are ordinary characters here (RFC 3435 §2.1.2).
    for (text, local, domain) in [
        ("aaln/*@gw", "aaln/*", "gw"),
        ("$@gw.example.net", "$", "gw.example.net"),
        ("aaln/1@[192.0.2.1]", "aaln/1", "[192.0.2.1]"),
    ] {
        let datagram = format!("AUEP 1 {text} MGCP 1.0\r\n");
        let c = command(datagram.as_bytes());
        assert_eq!(c.endpoint, EndpointName { local, domain });
    }
}

#[test]
fn an_unreadable_version_is_a_protocol_error_and_another_version_is_incompatible() {
    // Not a version number at all: a malformed first line, answered 510.
    for (version, offset) in [
        ("MGCP", 22),
        ("MGCP one", 23),
        ("MGCP 1.", 23),
        ("MGCP .0", 23),
        ("MGCP 1.x", 23),
        ("MGCP x.0", 23),
        ("MGCP 1,0", 23),
    ] {
        let e = error(format!("CRCX 77 aaln/1@gw {version}\r\n").as_bytes());
        assert_eq!(
            (e.kind.clone(), e.offset),
            (ParseErrorKind::FirstLine("version"), offset),
            "{version}"
        );
        assert_eq!(
            e.answer(),
            Some((TransactionId(77), ReturnCode::PROTOCOL_ERROR)),
            "{version}"
        );
    }
    // A well-formed version other than MGCP 1.0 and RFC 2705's 0.1: answered 528.
    for version in [
        "MGCP 1.1",
        "MGCP 0.2",
        "MGCP 1.01",
        "MGCP 2.0",
        "MGCP 256.0",
        "SGCP 1.1",
        "NCS 1.0",
    ] {
        let e = error(format!("CRCX 77 aaln/1@gw {version}\r\n").as_bytes());
        assert_eq!(e.kind, ParseErrorKind::Version, "{version}");
        assert_eq!(
            e.answer(),
            Some((TransactionId(77), ReturnCode::INCOMPATIBLE_VERSION)),
            "{version}"
        );
    }
    // The protocol name is case-insensitive; a profile follows the number (RFC 3435 §3.2.1.4).
    let c = command(b"crcx 77 aaln/1@gw mgcp 1.0 NCS 1.0\r\n");
    assert_eq!(c.verb, Verb::Crcx);
    assert_eq!(c.version.profile, Some("NCS 1.0"));
    let c = command(b"CRCX 77 aaln/1@gw MGCP 1.0\r\n");
    assert_eq!(c.version.profile, None);
    assert!(!c.version.is_ncs());
    let c = command(b"RSIP 77 aaln/1@gw MGCP 1.0 ncs 1.0\r\n");
    assert!(c.version.is_ncs());
    // Issue 15 point 1: Cisco IOS on its default `service-type mgcp version 0.1` sends RFC 2705's version, "MGCP 0.1"
    // (RFC 2705 §3.2.1: the version is "MGCP 0.1"); it is read as such.
    let c = command(b"RSIP 1 *@vg224.example.net MGCP 0.1\r\nRM: restart\r\n");
    assert_eq!(c.version, Version::V0_1);
    assert_eq!(
        command(b"NTFY 2 aaln/1@gw MGCP 00.01\r\n").version,
        Version::V0_1
    );
}

#[test]
fn transaction_ids_have_one_to_nine_digits() {
    assert_eq!(
        response(b"200 999999999 OK\r\n").transaction,
        TransactionId(999_999_999)
    );
    assert_eq!(
        response(b"200 000000001 OK\r\n").transaction,
        TransactionId(1)
    );
    assert_eq!(
        error(b"200 0000000001 OK\r\n").kind,
        ParseErrorKind::FirstLine("transaction id")
    );
}

#[test]
fn sdp_lines_are_a_letter_then_equals() {
    for bad in ["1=0", "==0", "-=x", " v=0", "v 0", "v", "=0", "é=0"] {
        let datagram = format!("200 1 OK\r\n\r\nv=0\r\n{bad}\r\n");
        let e = error(datagram.as_bytes());
        assert_eq!(
            (e.kind, e.offset),
            (ParseErrorKind::Sdp("line is not type=value"), 17),
            "{bad:?}"
        );
        assert_eq!(e.transaction, Some(TransactionId(1)));
    }
    let r = response(b"200 1 OK\r\n\r\nv=0\r\ns=\r\nA=x\r\n");
    let lines = r.sdp.unwrap().lines;
    assert_eq!(
        lines,
        [
            SdpLine {
                kind: b'v',
                value: "0"
            },
            SdpLine {
                kind: b's',
                value: ""
            },
            SdpLine {
                kind: b'A',
                value: "x"
            },
        ]
    );
}

#[test]
fn tabs_are_text_and_other_control_characters_are_not() {
    let r = response(b"200\t1\tOK\r\nI:\t1A\r\n");
    assert_eq!((r.transaction, r.comment), (TransactionId(1), "OK"));
    for (bytes, offset) in [
        (&b"200 1 OK\x7f\r\n"[..], 8),
        (&b"200 1 OK\r\nI: 1\x1b\r\n"[..], 14),
        (&b"200 1 OK\r\n\r\nv=0\x01\r\n"[..], 15),
    ] {
        let e = error(bytes);
        assert_eq!(
            (e.kind, e.offset),
            (ParseErrorKind::ControlCharacter(bytes[offset]), offset)
        );
    }
}

#[test]
fn blank_lines_before_a_message_are_skipped() {
    let ms = parse(b"\r\n \t\r\n200 1 OK\r\n.\r\n\r\n\n200 2 OK\n").unwrap();
    let ids: Vec<_> = ms.iter().map(Message::transaction).collect();
    assert_eq!(ids, [TransactionId(1), TransactionId(2)]);
}
