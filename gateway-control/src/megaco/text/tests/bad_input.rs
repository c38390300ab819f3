//! Bad input: each a specific error with its offset, never a panic.

use super::*;

#[track_caller]
fn error(bytes: &[u8]) -> ParseError {
    match parse(bytes) {
        Ok(m) => panic!("parsed {m:?}"),
        Err(e) => e,
    }
}

#[track_caller]
fn check(bytes: &[u8], kind: ParseErrorKind, offset: usize) -> ParseError {
    let e = error(bytes);
    assert_eq!((e.kind, e.offset), (kind, offset), "{e}");
    e
}

#[test]
fn header_and_mid() {
    use ParseErrorKind::*;
    check(b"", Expected("`MEGACO/` or `!/`"), 0);
    check(
        b"MGCP/1 [1.2.3.4] T=1{C=-{}}",
        Expected("`MEGACO/` or `!/`"),
        0,
    );
    check(b"MEGACO 1", Expected("`/`"), 6);
    check(b"MEGACO/x", Expected("version"), 7);
    check(b"MEGACO/123 x", Expected("version"), 7);
    check(b"!/1[1.2.3.4]", Expected("separator"), 3);
    check(b"!/1 [1.2.3.400] T=1{C=-{}}", Expected("IPv4 address"), 5);
    check(b"!/1 [1.2.3.4:1 T", Unterminated("mId"), 4);
    check(b"!/1 [1.2.3.4]:99999 T", Range("port"), 14);
    check(b"!/1 <-bad> T", Expected("domain name"), 5);
    check(b"!/1 MTP{12} T", Expected("MTP address"), 4);
    check(b"!/1 [1.2.3.4]:5T=1{}", Expected("port"), 14);
    check(
        b"!/1 [1.2.3.4] T=1{C=-{MF=a{M{L{v=0\\}",
        Unterminated("Local"),
        31,
    );
    check(
        b"AU=1:2:3 !/1 [1.2.3.4]",
        Unsupported("authentication header"),
        0,
    );
    check(b"!/1 [1.2.3.4]\n", Expected("transaction"), 14);
    check(b"\xff", NotText, 0);
    let big = vec![b' '; MAX_MESSAGE + 1];
    check(&big, TooLarge("message"), MAX_MESSAGE);
}

#[test]
fn errors_inside_a_request_are_answered() {
    use ParseErrorKind::*;
    // An unknown command: 443, with the transaction id.
    let e = check(b"!/1 [1.2.3.4] T=77{C=-{XX=a}}", UnknownCommand, 23);
    assert_eq!(e.transaction, Some(TransactionId(77)));
    assert_eq!(
        e.answer(),
        Some((TransactionId(77), ErrorCode::UNKNOWN_COMMAND))
    );
    // An unknown descriptor: 444.
    let e = check(b"!/1 [1.2.3.4] T=78{C=-{MF=a{Q{}}}}", UnknownDescriptor, 28);
    assert_eq!(
        e.answer(),
        Some((TransactionId(78), ErrorCode::UNKNOWN_DESCRIPTOR))
    );
    // Valid H.248 the codec does not model: 501.
    let e = check(
        b"!/1 [1.2.3.4] T=79{C=-{MF=a{MX=H221{t1}}}}",
        Unsupported("descriptor"),
        28,
    );
    assert_eq!(
        e.answer(),
        Some((TransactionId(79), ErrorCode::NOT_IMPLEMENTED))
    );
    check(
        b"!/1 [1.2.3.4] T=79{C=1{TP{a,b,isolate}}}",
        Unsupported("context descriptor"),
        23,
    );
    // Plain syntax: 401.
    let e = check(
        b"!/1 [1.2.3.4] T=80{C=-{MF=a{E=1{al/of}}}",
        Expected("`,` or `}`"),
        40,
    );
    assert_eq!(
        e.answer(),
        Some((TransactionId(80), ErrorCode::SYNTAX_ERROR_IN_TRANSACTION))
    );
    // In the second transaction, its own id.
    let e = error(b"!/1 [1.2.3.4] T=1{C=-{MF=a}} T=2{C=x{}}");
    assert_eq!(e.kind, Expected("context id"));
    assert_eq!(e.offset, 35);
    assert_eq!(e.transaction, Some(TransactionId(2)));
}

#[test]
fn errors_elsewhere_are_not_answered() {
    use ParseErrorKind::*;
    // Before the id, and in a reply: nobody to answer with a transaction reply.
    let e = check(b"!/1 [1.2.3.4] T=x{}", Expected("transaction id"), 16);
    assert_eq!(e.within, Within::Request);
    assert_eq!(e.answer(), None);
    let e = check(b"!/1 [1.2.3.4]\nQ", Unknown("transaction"), 14);
    assert_eq!(e.code(), ErrorCode::SYNTAX_ERROR_IN_MESSAGE);
    let e = check(
        b"!/1 [1.2.3.4] P=5{C=-{MF=a{M{Q{}}}}}",
        Unknown("media item"),
        29,
    );
    assert_eq!(e.transaction, Some(TransactionId(5)));
    assert_eq!(e.within, Within::Reply);
    assert_eq!(e.code(), ErrorCode::SYNTAX_ERROR_IN_REPLY);
    assert_eq!(e.answer(), None);
    check(b"!/1 [1.2.3.4] T=4294967296{}", Range("transaction id"), 16);
    check(b"!/1 [1.2.3.4] Q=1{}", Unknown("transaction"), 14);
    check(
        b"!/1 [1.2.3.4] K{1-x}",
        Expected("transaction id range"),
        16,
    );
    let e = check(b"!/1 [1.2.3.4] PN=1{C=-{}}", Expected("`}`"), 19);
    assert_eq!(e.code(), ErrorCode::SYNTAX_ERROR_IN_PENDING);
    check(b"!/1 [1.2.3.4] Error=40000{}", Expected("error code"), 20);
    check(
        b"!/1 [1.2.3.4] Error=400{} T",
        Expected("end of message"),
        26,
    );
}

#[test]
fn descriptor_syntax() {
    use ParseErrorKind::*;
    let at = |s: &str| format!("!/1 [1.2.3.4] T=1{{C=-{{MF=a{{{s}}}}}}}");
    let cases: &[(&str, ParseErrorKind, usize)] = &[
        ("M{O{MO=XX}}", Unknown("stream mode"), 34),
        ("M{ST=1{TS{SI=IV}}}", Unknown("media item"), 34),
        ("M{ST=70000{L{}}}", Range("stream id"), 32),
        ("M{}", Expected("media item"), 29),
        ("E=1{}", Expected("event"), 31),
        ("E=1{al/of{EM{SG{x=\"", Unterminated("Embed"), 40),
        ("SG{cg/rt{SY=XX}}", Unknown("signal type"), 39),
        ("SG{cg/rt{x}}", Expected("`=`, `>`, `<` or `#`"), 37),
        ("SG{cg/rt{x=\"abc}}", Unterminated("quoted string"), 38),
        ("SG{cg/rt{x=[1,2}}", Expected("`,` or `]`"), 42),
        ("OE=1{1999T1:al/of}", Expected("time stamp"), 32),
        ("SV{MT=Sometimes}", Unknown("method"), 33),
        ("SV{PF=ResGW}", Expected("profile name/version"), 33),
        ("SV{Q=1}", Unknown("ServiceChange parameter"), 30),
        ("AT{Q}", Unknown("audit item"), 30),
        ("DM=", Expected("digit map name"), 30),
    ];
    for (text, kind, offset) in cases {
        let bytes = at(text);
        let e = error(bytes.as_bytes());
        assert_eq!((e.kind, e.offset), (*kind, *offset), "{text}: {e}");
        assert_eq!(e.transaction, Some(TransactionId(1)));
    }
}

#[test]
fn limits() {
    use ParseErrorKind::*;
    let mut many = String::from("!/1 [1.2.3.4]");
    for i in 0..=MAX_TRANSACTIONS {
        many.push_str(&format!(" PN={i}{{}}"));
    }
    let e = error(many.as_bytes());
    assert_eq!(e.kind, TooLarge("transactions"));

    let mut long = String::from("!/1 [1.2.3.4] K{");
    for i in 0..=MAX_LIST {
        long.push_str(&format!("{i},"));
    }
    long.push_str("1}");
    assert_eq!(error(long.as_bytes()).kind, TooLarge("transaction ranges"));

    let deep = format!(
        "!/1 [1.2.3.4] T=1{{C=-{{MF=a{{E=1{{al/of{{EM{{{}{}}}}}}}}}}}}}",
        "{".repeat(MAX_DEPTH),
        "}".repeat(MAX_DEPTH)
    );
    assert_eq!(error(deep.as_bytes()).kind, TooDeep);
}

/// Bounds at their exact value, and the word shapes of Annex B (from the parser's mutation run).
#[test]
fn exact_bounds_and_word_shapes() {
    use super::super::parse::{is_extension, is_timestamp};
    // A message of exactly MAX_MESSAGE bytes (padded with a comment) is read; one byte more is
    // refused before anything else.
    let head = "!/1 [1.2.3.4] T=1{C=-{N=al/1{OE=2{al/of}}}}\n;";
    let exact = format!("{head}{}", "x".repeat(MAX_MESSAGE - head.len()));
    assert_eq!(exact.len(), MAX_MESSAGE);
    assert!(
        parse(exact.as_bytes()).is_ok(),
        "{:?}",
        parse(exact.as_bytes()).err()
    );
    let over = format!("{exact}x");
    assert_eq!(
        error(over.as_bytes()).kind,
        ParseErrorKind::TooLarge("message")
    );
    // A value running to the end of the input: the error is there, not past it.
    let cut = b"!/1 [1.2.3.4] T=12";
    assert_eq!(error(cut).offset, cut.len());
    // TimeStamp: `yyyymmddThhmmsshh`, the `T` in either case, digits elsewhere.
    assert!(is_timestamp("20260105T12000000"));
    assert!(is_timestamp("20260105t12000000"));
    for bad in [
        "20260105X12000000",
        "2026010T512000000",
        "20260105T1200000",
        "2026a105T12000000",
    ] {
        assert!(!is_timestamp(bad), "{bad}");
    }
    // Extensions: `X-` or `X+` and at least one more character.
    for good in ["X-a", "x+b", "X-Vendor"] {
        assert!(is_extension(good), "{good}");
    }
    for bad in ["X-", "X+", "Xa-", "Y-a", "-Xa"] {
        assert!(!is_extension(bad), "{bad}");
    }
}
