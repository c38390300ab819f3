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
