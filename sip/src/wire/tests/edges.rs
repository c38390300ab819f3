//! The edges of each rule the codec keeps: where an error points, what encoding refuses to
//! forge, the lenient readers' limits. Written for the survivors of the wire's mutation run.

use super::*;
use rfc4475::{GOOD_ADDRS, with_fault};

/// The offset of the first `needle` in `bytes` (plus `plus`).
fn at(bytes: &[u8], needle: &str, plus: usize) -> usize {
    bytes
        .windows(needle.len())
        .position(|w| w == needle.as_bytes())
        .unwrap_or_else(|| panic!("no {needle:?}"))
        + plus
}

fn request_with(headers: &str) -> Vec<u8> {
    with_fault(
        "OPTIONS sip:a@example.com SIP/2.0",
        &format!("{headers}\nCSeq: 1 OPTIONS"),
        "l: 0\n\n",
    )
}

#[test]
fn errors_inside_a_value_point_at_their_byte_in_the_message() {
    // A parameter with no name in the To (RFC 4475 §3.1.2.1's kind of fault).
    let bytes = request_with("To: <sip:j@example.com>;=x\nFrom: sip:c@example.net;tag=1");
    let e = parse(&bytes).unwrap_err();
    assert_eq!((e.kind, e.field), (ParseErrorKind::Header, "To"));
    assert_eq!(e.offset, at(&bytes, ";=x", 1));
    // A bad port in a Contact, the second value of its line.
    let bytes = request_with(&format!("{GOOD_ADDRS}\nContact: <sip:a@h>, <sip:b@h:99x>"));
    let e = parse(&bytes).unwrap_err();
    assert_eq!(e.field, "Contact");
    assert_eq!(e.offset, at(&bytes, "99x", 0));
    // A Via whose sent-by is no host.
    let bytes = with_fault(
        "OPTIONS sip:a@example.com SIP/2.0",
        &format!("Via: SIP/2.0/UDP h@st\n{GOOD_ADDRS}\nCSeq: 1 OPTIONS"),
        "l: 0\n\n",
    );
    let e = parse(&bytes).unwrap_err();
    assert_eq!(e.field, "Via");
    assert_eq!(e.offset, at(&bytes, "h@st", 0));
    // An unclosed quote in a display name.
    let bytes = request_with("To: \"Bob <sip:j@example.com>\nFrom: sip:c@example.net;tag=1");
    let e = parse(&bytes).unwrap_err();
    assert_eq!(e.field, "To");
    assert_eq!(e.offset, at(&bytes, "\"Bob", 0));
    // A bad CSeq number.
    let bytes = with_fault(
        "OPTIONS sip:a@example.com SIP/2.0",
        &format!("{GOOD_ADDRS}\nCSeq: x1 OPTIONS"),
        "l: 0\n\n",
    );
    let e = parse(&bytes).unwrap_err();
    assert_eq!(e.field, "CSeq");
    assert_eq!(e.offset, at(&bytes, "x1 OPTIONS", 0));
}

#[test]
fn expires_values_are_digits_only() {
    let mut h = Headers::new();
    for (value, want) in [
        ("3600", Some(3600)),
        (" 60 ", Some(60)),
        ("0", Some(0)),
        ("99999999999", Some(u32::MAX)),
        ("", None),
        ("  ", None),
        ("abc", None),
        ("6O", None),
        ("-1", None),
    ] {
        h.set(HeaderName::Expires, value);
        assert_eq!(h.expires(), want, "{value:?}");
        let c: Contact = format!("<sip:a@b>;expires={value}")
            .parse()
            .unwrap_or(Contact::Star);
        if c != Contact::Star {
            assert_eq!(c.expires(), want, "{value:?}");
        }
    }
}

#[test]
fn a_reason_phrase_cannot_forge_a_header_line() {
    let mut r = Response::new(200, "OK\r\nInjected: yes\nAgain: yes\r");
    r.headers.push(HeaderName::CallId, "x");
    let text = String::from_utf8(r.encode()).unwrap();
    assert_eq!(
        text,
        "SIP/2.0 200 OK  Injected: yes Again: yes \r\nCall-ID: x\r\nContent-Length: 0\r\n\r\n"
    );
}

#[test]
fn a_message_can_be_changed_through_its_headers() {
    let mut m = parse(BARESIP_REGISTER).unwrap();
    m.headers_mut().set(HeaderName::Expires, "0");
    m.headers_mut()
        .push(HeaderName::Other("X-Mark".into()), "1");
    assert_eq!(m.headers().expires(), Some(0));
    let again = parse(&m.encode()).unwrap();
    assert_eq!(
        again.headers().get(&HeaderName::Other("x-mark".into())),
        Some("1")
    );
}

#[test]
fn a_display_name_escapes_what_a_quoted_string_cannot_hold() {
    let mut n: NameAddr = "<sip:a@b>".parse().unwrap();
    // RFC 3261 §25.1: controls other than HTAB go as quoted-pairs; CR and LF cannot.
    n.display = Some("a\u{1}b\tc\"d\\e\r\nf".into());
    assert_eq!(n.to_string(), "\"a\\\u{1}b\tc\\\"d\\\\e  f\" <sip:a@b>");
    let back: NameAddr = n.to_string().parse().unwrap();
    assert_eq!(back.display.as_deref(), Some("a\u{1}b\tc\"d\\e  f"));
}

#[test]
fn a_parameter_value_ends_at_a_quote_or_a_comma() {
    assert!("<sip:a@b>;x=ab\"c\"".parse::<NameAddr>().is_err());
    assert!("<sip:a@b>;x=ab,c".parse::<NameAddr>().is_err());
    let n: NameAddr = "<sip:a@b>;x=\"a;b\";y=2".parse().unwrap();
    assert_eq!(n.param("x"), Some("\"a;b\""));
    assert_eq!(n.param("y"), Some("2"));
}

#[test]
fn hosts_are_names_or_addresses_and_ports_five_digits() {
    for ok in [
        "sip:a@[::ffff:192.0.2.1]:5060",
        "sip:a@[2001:DB8::1]",
        "sip:a@host-1.example.com:5",
    ] {
        assert!(ok.parse::<Uri>().is_ok(), "{ok}");
    }
    for bad in [
        "sip:a@[::g]",
        "sip:a@[::1",
        "sip:a@h!st",
        "sip:a@h$st:5060",
        "sip:a@h:",
        "sip:a@h:65536",
        "sip:a@h:5x",
    ] {
        assert!(bad.parse::<Uri>().is_err(), "{bad}");
    }
    // The port's fault is pointed at; more than five digits is refused even when it is a
    // small number (the length is bounded before the value is read).
    let e = "SIP/2.0/UDP h:".parse::<Via>().unwrap_err();
    assert_eq!(e.offset, "SIP/2.0/UDP h:".len());
    let e = "SIP/2.0/UDP h:000005".parse::<Via>().unwrap_err();
    assert_eq!(e.offset, "SIP/2.0/UDP h:".len());
}

/// The offset of the error parsing `to` as a message's To header, less the To value's own.
fn to_error(to: &str) -> (ParseErrorKind, usize) {
    let bytes = request_with(&format!("To: {to}\nFrom: sip:c@example.net;tag=1"));
    let e = parse(&bytes).unwrap_err();
    assert_eq!(e.field, "To", "{to}");
    (e.kind, e.offset - at(&bytes, "To: ", 4))
}

#[test]
fn errors_in_a_uri_point_at_its_part() {
    use ParseErrorKind::{Header, UnsupportedScheme};
    for (to, kind, offset) in [
        ("<sip:%ff@example.com>", Header, 5), // the user is not UTF-8
        ("<sip:@example.com>", Header, 5),    // no user before the @
        ("<tel:;x=1>", Header, 5),            // no number
        ("<sip:a@h!st>", Header, 7),          // the host
        ("<sip:a b@example.com>", Header, 6), // white space in a URI
        ("<1sip:a@example.com>", Header, 1),  // a scheme starts with a letter
        ("<im:a@example.com>", UnsupportedScheme, 1),
        ("<sip:a@h;;x>", Header, 9), // a parameter without a name
        ("<sip:a@h?=1>", Header, 9), // a header without a name
        ("Bo@b <sip:a@example.com>", Header, 2), // a display name is tokens or quoted
        ("sip:a@example.com?x=1", Header, 17), // an addr-spec holds no `?`
    ] {
        assert_eq!(to_error(to), (kind, offset), "{to}");
    }
}

#[test]
fn uri_characters_and_counts_are_bounded() {
    for bad in ["sip:a\"b@h", "sip:a>b@h", "sip:a<b@h", "sip:a\u{7}b@h"] {
        assert!(bad.parse::<Uri>().is_err(), "{bad:?}");
    }
    let params = |n: usize| format!("sip:a@h{}", ";p".repeat(n));
    assert!(params(MAX_PARAMS).parse::<Uri>().is_ok());
    assert!(params(MAX_PARAMS + 1).parse::<Uri>().is_err());
    let headers = |n: usize| format!("sip:a@h?{}", vec!["h=1"; n].join("&"));
    assert!(headers(MAX_PARAMS).parse::<Uri>().is_ok());
    assert!(headers(MAX_PARAMS + 1).parse::<Uri>().is_err());
    // A URI of MAX_URI bytes is taken; one byte more is 414's (RFC 3261 §21.4.12).
    let long = |len: usize| format!("sip:{}@h", "a".repeat(len - 6));
    assert_eq!(
        long(MAX_URI).parse::<Uri>().unwrap().to_string().len(),
        MAX_URI
    );
    let e = long(MAX_URI + 1).parse::<Uri>().unwrap_err();
    assert_eq!((e.kind, e.offset), (ParseErrorKind::UriTooLong, MAX_URI));
    let request = with_fault(
        &format!("OPTIONS {} SIP/2.0", long(MAX_URI + 1)),
        &format!("{GOOD_ADDRS}\nCSeq: 1 OPTIONS"),
        "l: 0\n\n",
    );
    let e = parse(&request).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (ParseErrorKind::UriTooLong, 8 + MAX_URI)
    );
}

#[test]
fn a_via_with_another_protocol_is_malformed_and_another_version_unsupported() {
    let e = "SIX/2.0/UDP h".parse::<Via>().unwrap_err();
    assert_eq!((e.kind, e.offset), (ParseErrorKind::Header, 0));
    let e = "SIP/3.0/UDP h".parse::<Via>().unwrap_err();
    assert_eq!((e.kind, e.offset), (ParseErrorKind::Version, 4));
}

#[test]
fn contacts_are_written_as_read() {
    assert_eq!(Contact::Star.to_string(), "*");
    let c: Contact = "\"A\" <sip:a@b>;expires=60".parse().unwrap();
    assert_eq!(c.to_string(), "\"A\" <sip:a@b>;expires=60");
}

#[test]
fn lists_split_at_commas_outside_quotes_and_angle_brackets_only() {
    let split = |v: &str| {
        let mut h = Headers::new();
        h.push(HeaderName::Accept, v);
        h.get_all(&HeaderName::Accept)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    // A backslash escapes only inside a quoted string (RFC 3261 §25.1 quoted-pair).
    assert_eq!(split("a\\, b"), ["a\\", "b"]);
    assert_eq!(split("\"a\\\", b\", c"), ["\"a\\\", b\"", "c"]);
    // Angle brackets inside a quoted string are text.
    assert_eq!(split("\"<\", b"), ["\"<\"", "b"]);
    assert_eq!(split("<a \"b>c\" ,d>, e"), ["<a \"b>c\" ,d>", "e"]);
}

fn message_of_len(len: usize) -> Vec<u8> {
    let head = |body: usize| {
        format!(
            "MESSAGE sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\n\
             From: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 MESSAGE\r\nContent-Length: {body:05}\r\n\r\n"
        )
    };
    let body = len - head(0).len();
    let mut m = head(body).into_bytes();
    m.resize(len, b'x');
    m
}

#[test]
fn the_framer_takes_a_message_of_max_message_bytes_and_no_more() {
    let mut f = StreamFramer::new();
    let whole = message_of_len(MAX_MESSAGE);
    f.push(&whole);
    let head = at(&whole, "\r\n\r\n", 4);
    assert_eq!(f.pop().unwrap().unwrap().body().len(), MAX_MESSAGE - head);
    let mut f = StreamFramer::new();
    f.push(&message_of_len(MAX_MESSAGE + 1));
    assert_eq!(f.pop().unwrap().unwrap_err().kind, ParseErrorKind::TooLarge);
    // A body of MAX_MESSAGE bytes cannot fit with its headers; one more is a body too large.
    for (length, kind) in [
        ("65535", ParseErrorKind::TooLarge),
        ("65536", ParseErrorKind::BodyTooLarge),
    ] {
        let mut f = StreamFramer::new();
        f.push(format!("OPTIONS sip:a@b SIP/2.0\r\nl: {length}\r\n\r\n").as_bytes());
        assert_eq!(f.pop().unwrap().unwrap_err().kind, kind, "{length}");
    }
}

#[test]
fn the_framer_holds_two_large_messages_pushed_at_once() {
    let one = message_of_len(40_000);
    let mut both = one.clone();
    both.extend_from_slice(&one);
    let mut f = StreamFramer::new();
    f.push(&both);
    assert_eq!(f.pop().unwrap().unwrap(), parse(&one).unwrap());
    assert_eq!(f.pop().unwrap().unwrap(), parse(&one).unwrap());
    assert!(f.pop().is_none());
}

#[test]
fn bytes_pushed_past_the_bound_end_the_stream_after_the_whole_messages() {
    // Three 50 kB messages at once: 100 kB fit whole, the third is cut at the bound.
    let one = message_of_len(50_000);
    let three = [one.clone(), one.clone(), one.clone()].concat();
    let mut f = StreamFramer::new();
    f.push(&three);
    assert_eq!(f.pop().unwrap().unwrap(), parse(&one).unwrap());
    assert_eq!(f.pop().unwrap().unwrap(), parse(&one).unwrap());
    // More bytes now would complete the cut third with the start of what follows: they are
    // not taken, and the rest is an error, with nothing after.
    f.push(&one);
    let e = f.pop().unwrap().unwrap_err();
    assert_eq!(
        (e.kind, e.field),
        (ParseErrorKind::TooLarge, "stream buffer")
    );
    f.push(&one);
    assert!(f.pop().is_none());
    // Pushed one at a time and popped in between, the same stream is whole.
    let mut f = StreamFramer::new();
    for _ in 0..3 {
        f.push(&one);
        assert_eq!(f.pop().unwrap().unwrap(), parse(&one).unwrap());
    }
    assert!(f.pop().is_none());
}

#[test]
fn bytes_that_just_fit_the_bound_are_no_overflow() {
    // Two messages of MAX_MESSAGE bytes and a CR: exactly the bound plus one byte, all kept.
    let one = message_of_len(MAX_MESSAGE);
    let mut stream = [one.clone(), one.clone()].concat();
    stream.push(b'\r');
    let mut f = StreamFramer::new();
    f.push(&stream);
    assert_eq!(f.pop().unwrap().unwrap(), parse(&one).unwrap());
    assert_eq!(f.pop().unwrap().unwrap(), parse(&one).unwrap());
    assert!(f.pop().is_none(), "a CR waiting for its LF");
    f.push(b"\n");
    f.push(&one);
    assert_eq!(f.pop().unwrap().unwrap(), parse(&one).unwrap());
}

#[test]
fn the_framers_content_length_is_digits_and_its_error_names_its_line() {
    let start = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\n";
    for value in ["", "abc", "1a", "-1"] {
        let text = format!("{start}Content-Length: {value}\r\n\r\n");
        let mut f = StreamFramer::new();
        f.push(text.as_bytes());
        let e = f.pop().unwrap().unwrap_err();
        assert_eq!(
            (e.kind, e.offset),
            (ParseErrorKind::ContentLength, start.len()),
            "{value:?}"
        );
    }
    // Leading zeros are no digits of the length.
    let text = "OPTIONS sip:a@b SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\r\nTo: <sip:a@b>\r\n\
                From: <sip:c@d>;tag=1\r\nCall-ID: x\r\nCSeq: 1 OPTIONS\r\nl: 0000000002\r\n\r\nhi";
    let mut f = StreamFramer::new();
    f.push(text.as_bytes());
    assert_eq!(f.pop().unwrap().unwrap().body(), b"hi");
}

#[test]
fn a_keepalive_alone_is_counted_at_once() {
    let mut f = StreamFramer::new();
    f.push(b"\r\n\r\n");
    assert!(f.pop().is_none());
    assert_eq!(f.pop_keepalives(), 1);
    f.push(b"\r\n\r");
    assert!(f.pop().is_none());
    assert_eq!(f.pop_keepalives(), 0, "not whole yet");
    f.push(b"\n");
    assert!(f.pop().is_none());
    assert_eq!(f.pop_keepalives(), 1);
}

#[test]
fn headers_know_whether_they_are_empty() {
    let mut h = Headers::new();
    assert!(h.is_empty());
    h.push(HeaderName::Date, "x");
    assert!(!h.is_empty());
}

#[test]
fn a_datagram_of_max_message_bytes_parses() {
    let m = message_of_len(MAX_MESSAGE);
    assert!(parse(&m).is_ok());
    let mut longer = m.clone();
    longer.push(b'x');
    assert_eq!(parse(&longer).unwrap_err().kind, ParseErrorKind::TooLarge);
}

#[test]
fn start_line_and_header_line_errors_point_at_their_byte() {
    // A bare CR inside a header line.
    let bytes = request_with(&format!("{GOOD_ADDRS}\nSubject: a\rb"));
    let e = parse(&bytes).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (ParseErrorKind::Header, at(&bytes, "\rb", 0))
    );
    // The CSeq's method is not the request's: the CSeq is pointed at.
    let bytes = with_fault(
        "OPTIONS sip:a@example.com SIP/2.0",
        &format!("{GOOD_ADDRS}\nCSeq: 1 INVITE"),
        "l: 0\n\n",
    );
    let e = parse(&bytes).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (ParseErrorKind::MethodMismatch, at(&bytes, "1 INVITE", 0))
    );
    // A status code of other than three digits, after CRLFs (§7.5).
    for code in ["0200", "20", "2x0"] {
        let bytes = crlf(&format!(
            "\n\nSIP/2.0 {code} OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n{GOOD_ADDRS}\n\
             Call-ID: x\nCSeq: 1 OPTIONS\nl: 0\n\n"
        ));
        let e = parse(&bytes).unwrap_err();
        assert_eq!(
            (e.kind, e.offset),
            (ParseErrorKind::StartLine, 4 + 8),
            "{code}"
        );
    }
}

#[test]
fn request_line_errors_point_at_their_part_after_leading_crlfs() {
    let with_line = |line: &str| {
        let mut b = b"\r\n".to_vec();
        b.extend(with_fault(
            line,
            &format!("{GOOD_ADDRS}\nCSeq: 1 OPTIONS"),
            "l: 0\n\n",
        ));
        parse(&b).unwrap_err()
    };
    let e = with_line("OPTIONS sip:a@example.com SIP/3.0");
    assert_eq!((e.kind, e.offset), (ParseErrorKind::Version, 2 + 26));
    let e = with_line("OPTIONS sip:a@example.com HTTP/1.1");
    assert_eq!((e.kind, e.offset), (ParseErrorKind::StartLine, 2 + 26));
    let e = with_line("OPTIONS sip:a@h!st SIP/2.0");
    assert_eq!((e.kind, e.offset), (ParseErrorKind::Header, 2 + 8 + 6));
}

#[test]
fn content_length_is_digits_agreeing_with_itself_and_the_datagram() {
    let with_length = |lines: &str, body: &str| {
        with_fault(
            "MESSAGE sip:a@example.com SIP/2.0",
            &format!("{GOOD_ADDRS}\nCSeq: 1 MESSAGE\n{lines}"),
            &format!("\n{body}"),
        )
    };
    for value in ["", "abc", "1a", "+1"] {
        let bytes = with_length(&format!("Content-Length: {value}"), "");
        let e = parse(&bytes).unwrap_err();
        assert_eq!(e.kind, ParseErrorKind::ContentLength, "{value:?}");
    }
    // Two that agree are one; two that differ are refused at the second.
    let bytes = with_length("l: 2\nContent-Length: 2", "hi");
    assert_eq!(parse(&bytes).unwrap().body(), b"hi");
    let bytes = with_length("l: 2\nContent-Length: 3", "hi!");
    let e = parse(&bytes).unwrap_err();
    assert_eq!(
        (e.kind, e.offset),
        (ParseErrorKind::ContentLength, at(&bytes, ": 3", 2))
    );
    // More than the datagram holds is truncation, pointed at the Content-Length; the most a
    // datagram can hold is no body too large.
    for value in ["5", "65535"] {
        let bytes = with_length(&format!("Content-Length: {value}"), "hi");
        let e = parse(&bytes).unwrap_err();
        assert_eq!(
            (e.kind, e.offset),
            (
                ParseErrorKind::Truncated,
                at(&bytes, &format!(": {value}"), 2)
            ),
            "{value}"
        );
    }
}

#[test]
fn max_via_vias_are_taken_and_max_forwards_is_digits() {
    let vias = |n: usize| {
        let more = vec!["SIP/2.0/UDP h"; n - 1].join(",");
        with_fault(
            "OPTIONS sip:a@example.com SIP/2.0",
            &format!("Via: {more}\n{GOOD_ADDRS}\nCSeq: 1 OPTIONS"),
            "l: 0\n\n",
        )
    };
    // with_fault adds one Via of its own.
    assert!(parse(&vias(MAX_VIA)).is_ok());
    assert_eq!(
        parse(&vias(MAX_VIA + 1)).unwrap_err().kind,
        ParseErrorKind::TooMany
    );
    for (mf, ok) in [("70", true), ("0070", true), ("+70", false), ("256", false)] {
        let bytes = request_with(&format!("{GOOD_ADDRS}\nMax-Forwards: {mf}"));
        assert_eq!(parse(&bytes).is_ok(), ok, "{mf}");
    }
}

/// A request whose Max-Forwards is broken but whose other headers can be read.
fn broken(headers: &str, body: &str) -> Vec<u8> {
    crlf(&format!(
        "OPTIONS sip:a@example.com SIP/2.0\n{headers}\nMax-Forwards: many\n\n{body}"
    ))
}

#[test]
fn the_error_response_reads_only_the_headers_and_as_the_parser_does() {
    let full = "Via: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:c@d>\n ;tag=f1\nTo: <sip:a@b>\n\
                Call-ID: x\nCSeq: 1 OPTIONS";
    let r = error_response(&broken(full, ""), 400, "bad").unwrap();
    assert_eq!(r.headers.from().unwrap().tag(), Some("f1"), "unfolded");
    // Headers in the body are not headers.
    let no_to = "Via: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:c@d>;tag=1\nCall-ID: x\n\
                 CSeq: 1 OPTIONS";
    assert!(error_response(&broken(no_to, "To: <sip:a@b>\n"), 400, "bad").is_none());
    // The first of a repeated header, as Headers::get reads it.
    let twice =
        format!("{full}\nFrom: <sip:e@f>;tag=2\nTo: <sip:g@h>\nCall-ID: y\nCSeq: 2 OPTIONS");
    let r = error_response(&broken(&twice, ""), 400, "bad").unwrap();
    assert_eq!(r.headers.from().unwrap().tag(), Some("f1"));
    assert_eq!(r.headers.to().unwrap().uri.user.as_deref(), Some("a"));
    assert_eq!(r.headers.call_id(), Some("x"));
    assert_eq!(r.headers.cseq().unwrap().seq, 1);
    // At most MAX_VIA Vias are copied.
    let many = format!(
        "{}\n{}",
        vec!["Via: SIP/2.0/UDP h;branch=z9hG4bK1"; MAX_VIA + 5].join("\n"),
        &full[35..]
    );
    let r = error_response(&broken(&many, ""), 400, "bad").unwrap();
    assert_eq!(r.headers.get_all(&HeaderName::Via).count(), MAX_VIA);
    // Not a SIP request line: nothing to answer.
    let bytes = crlf(&format!("OPTIONS sip:a@example.com HTTP/1.1\n{full}\n\n"));
    assert!(error_response(&bytes, 400, "bad").is_none());
    assert_eq!(parse(&bytes).unwrap_err().answer(), Answer::Drop);
}

#[test]
fn oversized_requests_and_uris_are_answered_with_their_own_codes() {
    let long_uri = format!("sip:{}@h", "a".repeat(MAX_URI));
    let bytes = with_fault(
        &format!("OPTIONS {long_uri} SIP/2.0"),
        &format!("{GOOD_ADDRS}\nCSeq: 1 OPTIONS"),
        "l: 0\n\n",
    );
    assert_eq!(parse(&bytes).unwrap_err().answer(), Answer::Respond(414));
    let mut big = with_fault(
        "MESSAGE sip:a@example.com SIP/2.0",
        &format!("{GOOD_ADDRS}\nCSeq: 1 MESSAGE"),
        "\n",
    );
    big.resize(MAX_MESSAGE + 1, b'x');
    assert_eq!(parse(&big).unwrap_err().answer(), Answer::Respond(513));
}

#[test]
fn the_error_responses_to_tag_is_stable_per_request_and_differs_between_them() {
    let tag = |call_id: &str, cseq: &str| {
        let headers = format!(
            "Via: SIP/2.0/UDP h;branch=z9hG4bK1\nFrom: <sip:c@d>;tag=1\nTo: <sip:a@b>\n\
             Call-ID: {call_id}\nCSeq: {cseq}"
        );
        let r = error_response(&broken(&headers, ""), 400, "bad").unwrap();
        r.headers.to().unwrap().tag().unwrap().to_owned()
    };
    assert_eq!(tag("x", "1 OPTIONS"), tag("x", "1 OPTIONS"));
    let mut seen = std::collections::HashSet::new();
    for i in 0..200 {
        assert!(seen.insert(tag(&format!("c{i}@h"), "1 OPTIONS")), "{i}");
        assert!(
            seen.insert(tag("same@h", &format!("{i} OPTIONS"))),
            "cseq {i}"
        );
    }
}
