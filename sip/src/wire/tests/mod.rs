//! Tests of the codec: unit checks of each rule, real user agents' messages and the stream
//! framer here; RFC 4475 torture messages in `rfc4475.rs`; round-trip properties in
//! `proptests.rs`; tshark's opinion of what we encode in `tshark.rs`.

use super::*;

mod edges;
mod proptests;
mod rfc4475;
mod tables;
mod tshark;

/// The text with every `\n` made CRLF (RFC 4475 shows its messages with bare line ends).
pub(super) fn crlf(s: &str) -> Vec<u8> {
    s.replace('\n', "\r\n").into_bytes()
}

pub(super) fn request(bytes: &[u8]) -> Request {
    match parse(bytes) {
        Ok(Message::Request(r)) => r,
        other => panic!("not a request: {other:?}"),
    }
}

/// Parses, encodes, parses again: the two parses agree.
pub(super) fn round_trips(bytes: &[u8]) -> Message {
    let first = parse(bytes).expect("parses");
    let again = parse(&first.encode()).expect("its encoding parses");
    assert_eq!(first, again);
    first
}

use rfc4475::{GOOD_ADDRS, REGAUT01, with_fault};

#[test]
fn error_offsets_point_at_the_fault() {
    let bytes = with_fault(
        "INVITE sip:user@example.com SIP/2.0",
        &format!("{GOOD_ADDRS}\nCSeq: 8 INVITE"),
        "Content-Length: -3\n\n",
    );
    let e = parse(&bytes).unwrap_err();
    let at = bytes.windows(4).position(|w| w == b": -3").unwrap() + 2;
    assert_eq!(e.offset, at);
    assert_eq!(
        e.to_string(),
        format!("bad Content-Length (Content-Length at byte {at})")
    );
}

#[test]
fn non_utf8_header_is_refused_naming_the_offset() {
    let mut bytes = crlf(REGAUT01);
    let at = bytes.windows(4).position(|w| w == b"here").unwrap();
    bytes[at] = 0xff;
    let e = parse(&bytes).unwrap_err();
    assert_eq!((e.kind, e.offset), (ParseErrorKind::NotUtf8, at));
}

#[test]
fn oversized_and_overcounted_messages_are_refused() {
    let big = vec![b'a'; MAX_MESSAGE + 1];
    assert_eq!(parse(&big).unwrap_err().kind, ParseErrorKind::TooLarge);
    let mut many = String::from("OPTIONS sip:a@b SIP/2.0\n");
    for i in 0..=MAX_HEADERS {
        many.push_str(&format!("X-{i}: {i}\n"));
    }
    assert_eq!(
        parse(&crlf(&many)).unwrap_err().kind,
        ParseErrorKind::TooMany
    );
    let vias = format!("Via: {}", vec!["SIP/2.0/UDP h"; MAX_VIA + 1].join(","));
    let bytes = with_fault(
        "OPTIONS sip:a@b SIP/2.0",
        &format!("{vias}\n{GOOD_ADDRS}\nCSeq: 1 OPTIONS"),
        "l: 0\n\n",
    );
    let e = parse(&bytes).unwrap_err();
    assert_eq!((e.kind, e.field), (ParseErrorKind::TooMany, "Via"));
    let uri = format!("sip:{}@b", "a".repeat(MAX_URI));
    assert_eq!(
        uri.parse::<Uri>().unwrap_err().kind,
        ParseErrorKind::UriTooLong
    );
}

#[test]
fn missing_content_length_on_a_datagram_takes_the_rest() {
    let bytes = with_fault(
        "MESSAGE sip:a@b SIP/2.0",
        &format!("{GOOD_ADDRS}\nCSeq: 1 MESSAGE"),
        "\nhello",
    );
    let m = round_trips(&bytes);
    assert_eq!(m.body(), b"hello");
    assert_eq!(m.headers().content_length(), Some(5));
}

#[test]
fn compact_and_odd_cased_names_read_as_the_full_name() {
    for (name, want) in [
        ("v", HeaderName::Via),
        ("F", HeaderName::From),
        ("t", HeaderName::To),
        ("I", HeaderName::CallId),
        ("m", HeaderName::Contact),
        ("l", HeaderName::ContentLength),
        ("c", HeaderName::ContentType),
        ("k", HeaderName::Supported),
        ("o", HeaderName::Event),
        ("cseq", HeaderName::CSeq),
        ("www-authenticate", HeaderName::WwwAuthenticate),
        ("CALL-ID", HeaderName::CallId),
    ] {
        assert_eq!(HeaderName::parse(name), want, "{name}");
    }
    assert_eq!(HeaderName::parse("s"), HeaderName::Other("Subject".into()));
    assert_eq!(
        HeaderName::parse("X-Foo"),
        HeaderName::Other("x-foo".into())
    );
    assert_eq!(HeaderName::CallId.as_str(), "Call-ID");
    assert_eq!(HeaderName::WwwAuthenticate.as_str(), "WWW-Authenticate");
    assert_eq!(HeaderName::CSeq.as_str(), "CSeq");
}

#[test]
fn encoding_writes_canonical_names_and_computed_content_length() {
    let mut r = Request::new(Method::Message, "sip:bob@example.com".parse().unwrap());
    r.headers
        .push(HeaderName::Via, "SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1");
    r.headers.push(HeaderName::ContentLength, "999");
    r.headers.push(HeaderName::CallId, "x\r\nInjected: yes");
    r.body = b"hi".to_vec();
    let text = String::from_utf8(r.encode()).unwrap();
    assert_eq!(
        text,
        "MESSAGE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
         Content-Length: 2\r\nCall-ID: x  Injected: yes\r\n\r\nhi"
    );
}

#[test]
fn headers_get_all_splits_lists_and_set_replaces() {
    let mut h = Headers::new();
    h.push(HeaderName::Allow, "INVITE, ACK,BYE");
    h.push(HeaderName::Other("Subject".into()), "a, b");
    h.push(HeaderName::Allow, "OPTIONS");
    h.push(HeaderName::Contact, "\"a, b\" <sip:a@b;x=1,2>, <sip:c@d>");
    let allow: Vec<_> = h.get_all(&HeaderName::Allow).collect();
    assert_eq!(allow, ["INVITE", "ACK", "BYE", "OPTIONS"]);
    assert_eq!(
        h.get_all(&HeaderName::Other("subject".into()))
            .collect::<Vec<_>>(),
        ["a, b"]
    );
    assert_eq!(h.contacts().unwrap().len(), 2);
    h.set(HeaderName::Allow, "BYE");
    assert_eq!(h.get_all(&HeaderName::Allow).collect::<Vec<_>>(), ["BYE"]);
    assert_eq!(h.iter().next().unwrap().0, &HeaderName::Allow);
    h.remove(&HeaderName::Allow);
    assert_eq!(h.len(), 2);
}

#[test]
fn via_parameters_and_ipv6() {
    let v: Via = "SIP/2.0/TCP [2001:db8::1]:5061;branch=z9hG4bKx;rport;received=2001:db8::2"
        .parse()
        .unwrap();
    assert_eq!(
        (v.transport, v.host.as_str(), v.port),
        (Transport::Tcp, "2001:db8::1", Some(5061))
    );
    assert_eq!(v.rport(), Some(None));
    assert_eq!(v.received(), Some("2001:db8::2"));
    assert_eq!(v.to_string().parse::<Via>().unwrap(), v);
    let filled: Via = "SIP/2.0/UDP h;rport=4000".parse().unwrap();
    assert_eq!(filled.rport(), Some(Some(4000)));
    assert_eq!(filled.branch(), None);
    assert!("SIP/2.0/UDP h:99999".parse::<Via>().is_err());
    assert!("SIP/2.0/UDPh".parse::<Via>().is_err());
}

#[test]
fn uris_name_addrs_and_contacts() {
    let u: Uri = "sips:alice@[::1]:5061;transport=tcp;lr?subject=hi&x="
        .parse()
        .unwrap();
    assert_eq!(
        (u.scheme, u.host.as_str(), u.port),
        (Scheme::Sips, "::1", Some(5061))
    );
    assert_eq!(u.param("TRANSPORT"), Some("tcp"));
    assert_eq!(u.param("lr"), Some(""));
    assert_eq!(
        u.headers,
        [("subject".into(), "hi".into()), ("x".into(), String::new())]
    );
    assert_eq!(
        u.to_string(),
        "sips:alice@[::1]:5061;transport=tcp;lr?subject=hi&x="
    );
    let t: Uri = "tel:+1-201-555-0123;phone-context=example.com"
        .parse()
        .unwrap();
    assert_eq!(
        (t.scheme, t.host.as_str()),
        (Scheme::Tel, "+1-201-555-0123")
    );
    assert!("sip:".parse::<Uri>().is_err());
    assert!("sip:a@".parse::<Uri>().is_err());
    assert!("sip:a b@c".parse::<Uri>().is_err());
    assert!("sip:@c".parse::<Uri>().is_err());
    let n: NameAddr = "Bob <sip:bob@b>;tag=1;expires=30".parse().unwrap();
    assert_eq!(n.to_string(), "\"Bob\" <sip:bob@b>;tag=1;expires=30");
    assert_eq!(n.tag(), Some("1"));
    let c: Contact = "<sip:a@b>;expires=99999999999;q=0.5".parse().unwrap();
    assert_eq!((c.expires(), c.q()), (Some(u32::MAX), Some("0.5")));
    assert_eq!("*".parse::<Contact>().unwrap(), Contact::Star);
    assert!("\"open <sip:a@b>".parse::<NameAddr>().is_err());
    assert!("a@b <sip:a@b>".parse::<NameAddr>().is_err());
}

#[test]
fn methods_and_cseq() {
    assert_eq!("INVITE".parse::<Method>().unwrap(), Method::Invite);
    assert_eq!(
        "invite".parse::<Method>().unwrap(),
        Method::Other("invite".into())
    );
    assert!("IN VITE".parse::<Method>().is_err());
    assert_eq!(Method::Prack.to_string(), "PRACK");
    assert_eq!(
        "  42   BYE ".parse::<CSeq>().unwrap(),
        CSeq {
            seq: 42,
            method: Method::Bye
        }
    );
    assert!("4294967296 BYE".parse::<CSeq>().is_err());
    assert!("-1 BYE".parse::<CSeq>().is_err());
    assert_eq!(Transport::Tls.to_string(), "TLS");
}

#[test]
fn response_to_request_copies_the_rfc_3261_8_2_6_headers() {
    let r = request(&crlf(REGAUT01));
    let resp = Response::to_request(&r, 401, reason_phrase(401), Some("abc"));
    assert_eq!(resp.reason, "Unauthorized");
    let h = &resp.headers;
    assert_eq!(h.to().unwrap().tag(), Some("abc"));
    assert_eq!(h.from().unwrap().tag(), Some("87321hj23128"));
    assert_eq!(h.call_id(), r.headers.call_id());
    assert_eq!(h.cseq().unwrap(), r.headers.cseq().unwrap());
    assert_eq!(h.top_via().unwrap(), r.headers.top_via().unwrap());
    assert_eq!(h.get(&HeaderName::Authorization), None);
    assert_eq!(h.content_length(), Some(0));
    // An existing tag is kept.
    let mut tagged = r.clone();
    tagged.headers.set(HeaderName::To, "<sip:a@b>;tag=old");
    let resp = Response::to_request(&tagged, 200, "OK", Some("new"));
    assert_eq!(resp.headers.to().unwrap().tag(), Some("old"));
    let Message::Response(back) = parse(&resp.encode()).unwrap() else {
        panic!()
    };
    assert_eq!(back, resp);
}

#[test]
fn reason_phrases() {
    assert_eq!(reason_phrase(200), "OK");
    assert_eq!(reason_phrase(481), "Call/Transaction Does Not Exist");
    assert_eq!(reason_phrase(513), "Message Too Large");
    assert_eq!(reason_phrase(299), "Success");
    assert_eq!(reason_phrase(699), "Global Failure");
}

#[test]
fn leading_crlf_and_bare_lf_are_accepted() {
    let text = "\r\n\r\nOPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\nTo: <sip:a@b>\nFrom: <sip:c@d>;tag=1\nCall-ID: x\nCSeq: 1 OPTIONS\nContent-Length: 0\n\n";
    let r = request(text.as_bytes());
    assert_eq!(r.method, Method::Options);
}

/// A REGISTER and an INVITE from baresip 1.0.0 (Debian), captured on loopback: baresip
/// dialled a UDP listener with `-e "/dial sip:bob@127.0.0.1:5090"`.
pub(super) const BARESIP_REGISTER: &[u8] = include_bytes!("baresip-register.sip");
pub(super) const BARESIP_INVITE: &[u8] = include_bytes!("baresip-invite.sip");

#[test]
fn baresip_register_and_invite() {
    let r = request(BARESIP_REGISTER);
    assert_eq!(r.method, Method::Register);
    let via = r.headers.top_via().unwrap();
    assert_eq!((via.port, via.rport()), (Some(5071), Some(None)));
    assert_eq!(r.uri.param("transport"), Some("udp"));
    let contacts = r.headers.contacts().unwrap();
    assert_eq!(contacts[0].expires(), Some(3600));
    assert_eq!(r.headers.get_all(&HeaderName::Allow).count(), 10);
    let Message::Request(inv) = round_trips(BARESIP_INVITE) else {
        panic!()
    };
    assert_eq!(inv.headers.from().unwrap().tag(), Some("3ebc523a2de78ed7"));
    // An empty Supported is a list of nothing.
    assert_eq!(inv.headers.get(&HeaderName::Supported), Some(""));
    assert_eq!(inv.headers.get_all(&HeaderName::Supported).count(), 0);
    assert_eq!(inv.body.len(), 343);
    assert!(inv.body.starts_with(b"v=0\r\n"));
}

#[test]
fn framer_splits_a_stream_in_any_chunks_and_counts_keepalives() {
    let one = BARESIP_REGISTER.to_vec();
    let two = BARESIP_INVITE.to_vec();
    let mut stream = b"\r\n\r\n".to_vec();
    stream.extend_from_slice(&one);
    stream.extend_from_slice(b"\r\n\r\n\r\n");
    stream.extend_from_slice(&two);
    for chunk in [1, 2, 3, 7, 64, stream.len()] {
        let mut f = StreamFramer::new();
        let mut got = Vec::new();
        for piece in stream.chunks(chunk) {
            f.push(piece);
            while let Some(m) = f.pop() {
                got.push(m.unwrap());
            }
        }
        assert_eq!(got.len(), 2, "chunk {chunk}");
        assert_eq!(got[0], parse(&one).unwrap());
        assert_eq!(got[1], parse(&two).unwrap());
        // The leading ping and the one between the messages; the odd CRLF is skipped.
        assert_eq!(f.pop_keepalives(), 2, "chunk {chunk}");
        assert_eq!(f.pop_keepalives(), 0);
    }
}

#[test]
fn framer_errors_close_the_stream() {
    let no_length = crlf("OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\n\n");
    let mut f = StreamFramer::new();
    f.push(&no_length);
    let e = f.pop().unwrap().unwrap_err();
    assert_eq!(
        (e.kind, e.field),
        (ParseErrorKind::Missing, "Content-Length")
    );
    f.push(BARESIP_REGISTER);
    assert!(f.pop().is_none(), "nothing after an error");

    let mut f = StreamFramer::new();
    f.push(&crlf("OPTIONS sip:a@b SIP/2.0\nl: 70000\n\n"));
    assert_eq!(
        f.pop().unwrap().unwrap_err().kind,
        ParseErrorKind::BodyTooLarge
    );

    let mut f = StreamFramer::new();
    let endless = vec![b'a'; 4096];
    let mut result = None;
    for _ in 0..40 {
        f.push(&endless);
        if let Some(r) = f.pop() {
            result = Some(r);
            break;
        }
    }
    assert_eq!(result.unwrap().unwrap_err().kind, ParseErrorKind::TooLarge);
    assert!(f.buf.len() <= 2 * MAX_MESSAGE + 1);
}

#[test]
fn framer_and_parser_agree_on_bare_lf_and_mixed_line_ends() {
    let text = "OPTIONS sip:a@b SIP/2.0\nVia: SIP/2.0/TCP h;branch=z9hG4bK1\nTo: <sip:a@b>\n\
                From: <sip:c@d>;tag=1\nCall-ID: x\nCSeq: 1 OPTIONS\nl: 2\n\r\nhi";
    let mut stream = text.as_bytes().to_vec();
    stream.extend_from_slice(BARESIP_REGISTER);
    let mut f = StreamFramer::new();
    f.push(&stream);
    let first = f.pop().unwrap().unwrap();
    assert_eq!(first.body(), b"hi");
    assert_eq!(first, parse(text.as_bytes()).unwrap());
    assert_eq!(f.pop().unwrap().unwrap(), parse(BARESIP_REGISTER).unwrap());
    assert!(f.pop().is_none());
}
