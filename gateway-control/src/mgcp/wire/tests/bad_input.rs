//! Bad input: each a specific error with its offset, never a panic.

use super::*;

fn error(bytes: &[u8]) -> ParseError {
    match parse(bytes) {
        Ok(m) => panic!("parsed {m:?}"),
        Err(e) => e,
    }
}

#[test]
fn unknown_verb_and_version_keep_the_transaction() {
    let e = error(b"XYZW 1234 aaln/1@gw MGCP 1.0\r\n");
    assert_eq!(e.kind, ParseErrorKind::UnknownVerb);
    assert_eq!(e.transaction, Some(TransactionId(1234)));
    assert_eq!(e.is_command, Some(true));
    assert_eq!(e.offset, 0);
    // RFC 3435 §2.4: "504 Unknown or unsupported command".
    assert_eq!(
        e.answer(),
        Some((TransactionId(1234), ReturnCode::UNSUPPORTED_COMMAND))
    );
    // A bad parameter of a known command is a protocol error.
    let e = error(b"NTFY 77 aaln/1@gw MGCP 1.0\r\nX: \r\nO: L/hd(\r\n");
    assert_eq!(
        e.answer(),
        Some((TransactionId(77), ReturnCode::PROTOCOL_ERROR))
    );
    // Without a readable transaction id, or for a response, there is nobody to answer.
    assert_eq!(error(b"XYZW x a@b MGCP 1.0\r\n").answer(), None);
    assert_eq!(error(b"200 1 OK\r\n\r\nnot sdp\r\n").answer(), None);

    let e = error(b"CRCX 99 aaln/1@gw MGCP 2.0\r\n");
    assert_eq!(e.kind, ParseErrorKind::Version);
    assert_eq!(e.transaction, Some(TransactionId(99)));
    assert_eq!(e.offset, 23);

    assert_eq!(
        e.answer(),
        Some((TransactionId(99), ReturnCode::INCOMPATIBLE_VERSION))
    );

    let e = error(b"CRCX 99 aaln/1@gw SGCP 1.0\r\n");
    assert_eq!(e.kind, ParseErrorKind::Version);
    assert_eq!(e.offset, 18);

    let e = error(b"CRCX 99 aaln/1@gw\r\n");
    assert_eq!(e.kind, ParseErrorKind::FirstLine("version"));
    assert_eq!(e.transaction, Some(TransactionId(99)));

    // The second message's failure names its own transaction and its offset in the datagram.
    let e = error(b"200 1 OK\r\n.\r\nNTFY 7 a@b MGCP 1.0\r\nX: not-hex\r\n");
    assert_eq!(e.kind, ParseErrorKind::Param("X"));
    assert_eq!(e.transaction, Some(TransactionId(7)));
    assert_eq!(e.offset, 37);
}

#[test]
fn bad_first_lines() {
    let cases: &[(&[u8], ParseErrorKind, usize)] = &[
        (b"", ParseErrorKind::Empty, 0),
        (b"\r\n\r\n", ParseErrorKind::Empty, 4),
        (b"hello world\r\n", ParseErrorKind::FirstLine("verb"), 0),
        (b"CRCX\r\n", ParseErrorKind::FirstLine("transaction id"), 4),
        (
            b"CRCX 0 a@b MGCP 1.0\r\n",
            ParseErrorKind::FirstLine("transaction id"),
            5,
        ),
        (
            b"CRCX 1000000000 a@b MGCP 1.0\r\n",
            ParseErrorKind::FirstLine("transaction id"),
            5,
        ),
        (
            b"CRCX 12x a@b MGCP 1.0\r\n",
            ParseErrorKind::FirstLine("transaction id"),
            5,
        ),
        (
            b"CRCX 12 ab MGCP 1.0\r\n",
            ParseErrorKind::FirstLine("endpoint"),
            8,
        ),
        (
            b"CRCX 12 a@ MGCP 1.0\r\n",
            ParseErrorKind::FirstLine("endpoint"),
            8,
        ),
        (
            b"CRCX 12 a@b MGCP one\r\n",
            ParseErrorKind::FirstLine("version"),
            17,
        ),
        (
            b"20 12 OK\r\n",
            ParseErrorKind::FirstLine("response code"),
            0,
        ),
        (b"200\r\n", ParseErrorKind::FirstLine("transaction id"), 3),
        (b"200 12 / x\r\n", ParseErrorKind::FirstLine("package"), 7),
        (b"200 1 OK\r\n.\r\n", ParseErrorKind::Empty, 13),
    ];
    for (bytes, kind, offset) in cases {
        let e = error(bytes);
        assert_eq!(
            (&e.kind, e.offset),
            (kind, *offset),
            "{:?}",
            String::from_utf8_lossy(bytes)
        );
    }
}

#[test]
fn bad_parameters_name_the_parameter() {
    let cases: &[(&str, &str)] = &[
        ("X: 0123456789abcdef0123456789abcdef0", "X"),
        ("C: G00D", "C"),
        ("I:", "I"),
        ("I: 12,,34", "I"),
        ("I2: -", "I2"),
        ("K: 10-5", "K"),
        ("K: 0", "K"),
        ("K: 1,", "K"),
        ("R: L/hd(N", "R"),
        ("R: L/hd(N))", "R"),
        ("R: L/hd(N)(x)(y)", "R"),
        ("R: L/hd(N)c@1(N)", "R"),
        ("S: L/rg(1)c(2)", "S"),
        ("R: L/hd(N, )", "R"),
        ("R: /hd", "R"),
        ("R: L/", "R"),
        ("R: L/hd@", "R"),
        ("S: L/ci(\"unterminated)", "S"),
        ("S: L/rg(x)y", "S"),
        ("O: L/h d", "O"),
        ("T: a/b/c", "T"),
        ("ES: ,", "ES"),
        ("M:", "M"),
        ("M: send recv", "M"),
        ("RM:", "RM"),
        ("RD: -1", "RD"),
        ("RD: 1234567890", "RD"),
        ("MD: 12k", "MD"),
        ("E: 90", "E"),
        ("E: 9000 x", "E"),
        ("Z: nobody", "Z"),
        ("Z2: a@b@c", "Z2"),
        ("L: :10", "L"),
        ("P: PS=1,,OS=2", "P"),
        ("F: A B", "F"),
        ("no colon here", "name"),
        (": value", "name"),
        ("X Y: 1", "name"),
    ];
    for (line, what) in cases {
        let datagram = format!("NTFY 5 aaln/1@gw MGCP 1.0\r\n{line}\r\n");
        let e = error(datagram.as_bytes());
        assert_eq!(e.kind, ParseErrorKind::Param(what), "{line}");
        assert_eq!(e.transaction, Some(TransactionId(5)), "{line}");
        assert!(
            (27..datagram.len()).contains(&e.offset),
            "{line}: {}",
            e.offset
        );
    }
}

#[test]
fn limits_are_enforced() {
    let big = vec![b'a'; MAX_DATAGRAM + 1];
    assert_eq!(error(&big).kind, ParseErrorKind::TooLarge("datagram"));

    let mut many = String::from("NTFY 5 a@b MGCP 1.0\r\n");
    for _ in 0..=MAX_PARAMS {
        many.push_str("X-A: 1\r\n");
    }
    let e = error(many.as_bytes());
    assert_eq!(e.kind, ParseErrorKind::TooLarge("parameters"));
    assert_eq!(e.offset, 21 + MAX_PARAMS * 8);

    // A wildcard audit's answer from a 288-port gateway: one `Z:` line per endpoint.
    let mut audit = String::from("200 7 OK\r\n");
    for n in 1..=288 {
        audit.push_str(&format!("Z: aaln/{n}@[192.0.2.1]\r\n"));
    }
    assert!(audit.len() < MAX_DATAGRAM);
    match &parse(audit.as_bytes()).expect("a long Z: list parses")[..] {
        [Message::Response(r)] => assert_eq!(r.params.len(), 288),
        other => panic!("{other:?}"),
    }

    let list = vec!["D/1"; MAX_LIST + 1].join(",");
    let e = error(format!("NTFY 5 a@b MGCP 1.0\r\nO: {list}\r\n").as_bytes());
    assert_eq!(e.kind, ParseErrorKind::TooLarge("list items"));
    let ok = vec!["D/1"; MAX_LIST].join(",");
    assert!(parse(format!("NTFY 5 a@b MGCP 1.0\r\nO: {ok}\r\n").as_bytes()).is_ok());

    let messages = vec!["200 1 OK\r\n"; MAX_MESSAGES + 1].join(".\r\n");
    assert_eq!(
        error(messages.as_bytes()).kind,
        ParseErrorKind::TooLarge("messages")
    );
    let messages = vec!["200 1 OK\r\n"; MAX_MESSAGES].join(".\r\n");
    assert_eq!(parse(messages.as_bytes()).unwrap().len(), MAX_MESSAGES);

    let sdp = "a=x\r\n".repeat(MAX_SDP_LINES + 1);
    let e = error(format!("200 1 OK\r\n\r\n{sdp}").as_bytes());
    assert_eq!(
        e.kind,
        ParseErrorKind::TooLarge("session description lines")
    );
}

#[test]
fn not_text() {
    let e = error(b"200 1 OK\xff\r\n");
    assert_eq!(e.kind, ParseErrorKind::NotText);
    assert_eq!(e.to_string(), "MGCP not UTF-8 text at byte 8");
    let e = error(b"200 1 OK\r\nX: 1\x00\r\n");
    assert_eq!(
        (e.kind.clone(), e.offset),
        (ParseErrorKind::ControlCharacter(0), 14)
    );
    assert_eq!(
        e.to_string(),
        "MGCP control character 0x00 inside a line at byte 14"
    );
    // Issue 15 point 7: a datagram whose lines end with CR alone was reported as "not text".
    // RFC 3435 Appendix A: `EOL = CRLF / LF`; the error says so.
    let e = error(b"NTFY 7 aaln/1@gw MGCP 1.0\rX: 1\rO: L/hd\r");
    assert_eq!(
        (e.kind.clone(), e.offset),
        (ParseErrorKind::ControlCharacter(b'\r'), 25)
    );
    assert_eq!(
        e.to_string(),
        "MGCP a carriage return without a line feed (lines end with CRLF or LF) at byte 25"
    );
    let e = error(b"200 1 O\rK\r\n");
    assert_eq!(
        (e.kind, e.offset),
        (ParseErrorKind::ControlCharacter(b'\r'), 7)
    );
    let e = error(b"200 1 OK\r\n\r\nv=0\r\nnot sdp\r\n");
    assert_eq!(
        (e.kind, e.offset),
        (ParseErrorKind::Sdp("line is not type=value"), 17)
    );
}

#[test]
fn truncated_datagrams_never_panic() {
    let mut full = b"CRCX 1205 aaln/1@rgw MGCP 1.0\r\nC: A3C4\r\nL: p:10, a:PCMU\r\n\
                     R: L/hd(A,E(S(L/dl),R(L/oc)))(p=\"a,(b\")\r\nS: L/ci(1,\"x\")\r\n\r\n"
        .to_vec();
    full.extend_from_slice(SDP_1);
    for end in 0..=full.len() {
        if let Ok(messages) = parse(&full[..end]) {
            for m in &messages {
                round_trip(m);
            }
        }
    }
}
