//! Round-trip properties: `parse(encode(m)) == m` over generated messages, `s.parse()` of
//! each typed value's Display gives it back, and arbitrary or mutated bytes never panic the
//! parser or the framer (and what parses round-trips).

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use super::super::*;

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9][A-Za-z0-9.!%*_+`'~-]{0,8}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,8}(\\.[a-z][a-z0-9]{0,5}){0,2}",
        any::<[u8; 4]>().prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
        "2001:db8::[0-9a-f]{1,4}",
    ]
}

fn uri_param() -> impl Strategy<Value = (String, Option<String>)> {
    ("[a-z][a-z0-9-]{0,6}", option::of("[A-Za-z0-9.%-]{1,8}"))
}

fn header_param() -> impl Strategy<Value = (String, Option<String>)> {
    (
        "[a-z][a-z0-9-]{0,6}",
        option::of(prop_oneof!["[A-Za-z0-9.:-]{1,8}", "\"[a-z ,;<>]{0,6}\""]),
    )
}

fn uri() -> impl Strategy<Value = Uri> {
    let sip = (
        prop_oneof![Just(Scheme::Sip), Just(Scheme::Sips)],
        option::of("[ -~é]{1,10}"),
        host(),
        option::of(any::<u16>()),
        vec(uri_param(), 0..3),
        vec(("[a-z]{1,5}", "[a-z0-9%]{0,5}"), 0..2),
    )
        .prop_map(|(scheme, user, host, port, params, headers)| Uri {
            scheme,
            user,
            host,
            port,
            params,
            headers,
        });
    let tel = ("\\+?[0-9]{1,10}", vec(uri_param(), 0..2)).prop_map(|(host, params)| Uri {
        scheme: Scheme::Tel,
        user: None,
        host,
        port: None,
        params,
        headers: Vec::new(),
    });
    prop_oneof![4 => sip, 1 => tel]
}

fn name_addr() -> impl Strategy<Value = NameAddr> {
    (option::of("[ -~é]{0,10}"), uri(), vec(header_param(), 0..3)).prop_map(
        |(display, uri, params)| NameAddr {
            display,
            uri,
            params,
        },
    )
}

fn via() -> impl Strategy<Value = Via> {
    (
        prop_oneof![
            Just(Transport::Udp),
            Just(Transport::Tcp),
            Just(Transport::Tls)
        ],
        host(),
        option::of(any::<u16>()),
        vec(header_param(), 0..3),
    )
        .prop_map(|(transport, host, port, params)| Via {
            transport,
            host,
            port,
            params,
        })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::Invite),
        Just(Method::Ack),
        Just(Method::Register),
        Just(Method::Options),
        token().prop_map(|t| t.parse().unwrap()),
    ]
}

/// The headers every message needs, plus some others.
fn headers(method: Method) -> impl Strategy<Value = Headers> {
    (
        vec(via(), 1..4),
        name_addr(),
        name_addr(),
        "[A-Za-z0-9.-]{1,12}(@[a-z0-9.]{1,8})?",
        any::<u32>(),
        vec(("X-[A-Za-z]{1,6}", "([!-~]([ -~é]{0,18}[!-~])?)?"), 0..4),
        vec(name_addr(), 0..2),
    )
        .prop_map(move |(vias, from, to, call_id, seq, extra, contacts)| {
            let mut h = Headers::new();
            for v in &vias {
                h.push(HeaderName::Via, v.to_string());
            }
            h.push(HeaderName::From, from.to_string());
            h.push(HeaderName::To, to.to_string());
            h.push(HeaderName::CallId, call_id);
            h.push(
                HeaderName::CSeq,
                CSeq {
                    seq,
                    method: method.clone(),
                }
                .to_string(),
            );
            h.push(HeaderName::MaxForwards, "70");
            for c in contacts {
                h.push(HeaderName::Contact, c.to_string());
            }
            for (n, v) in extra {
                h.push(HeaderName::parse(&n), v);
            }
            h
        })
}

fn message() -> impl Strategy<Value = Message> {
    let request = (method(), uri()).prop_flat_map(|(m, u)| {
        (headers(m.clone()), vec(any::<u8>(), 0..40)).prop_map(move |(mut headers, body)| {
            headers.set(HeaderName::ContentLength, body.len().to_string());
            Message::Request(Request {
                method: m.clone(),
                uri: u.clone(),
                headers,
                body,
            })
        })
    });
    let response = (100..700u16, "[ -~é]{0,16}", method()).prop_flat_map(|(status, reason, m)| {
        (headers(m), vec(any::<u8>(), 0..40)).prop_map(move |(mut headers, body)| {
            headers.set(HeaderName::ContentLength, body.len().to_string());
            Message::Response(Response {
                status,
                reason: reason.clone(),
                headers,
                body,
            })
        })
    });
    prop_oneof![request, response]
}

/// Whatever parses encodes to something that parses to the same message.
fn check_round_trip(bytes: &[u8]) {
    if let Ok(m) = parse(bytes) {
        let again = parse(&m.encode()).expect("the encoding of a parsed message parses");
        assert_eq!(again, m);
    }
}

proptest! {
    #[test]
    fn messages_round_trip(m in message()) {
        let bytes = m.encode();
        prop_assert_eq!(parse(&bytes).unwrap(), m);
    }

    #[test]
    fn typed_values_round_trip(u in uri(), n in name_addr(), v in via()) {
        prop_assert_eq!(u.to_string().parse::<Uri>().unwrap(), u);
        prop_assert_eq!(n.to_string().parse::<NameAddr>().unwrap(), n);
        prop_assert_eq!(v.to_string().parse::<Via>().unwrap(), v);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..600)) {
        check_round_trip(&bytes);
    }

    #[test]
    fn mutated_messages_never_panic_and_round_trip(
        m in message(),
        edits in vec((any::<prop::sample::Index>(), any::<u8>(), 0..3u8), 1..6),
    ) {
        let mut bytes = m.encode();
        for (at, byte, op) in edits {
            let i = at.index(bytes.len() + 1);
            match op {
                0 => bytes.insert(i, byte),
                1 if i < bytes.len() => { bytes.remove(i); }
                _ if i < bytes.len() => bytes[i] = byte,
                _ => {}
            }
        }
        check_round_trip(&bytes);
    }

    #[test]
    fn framer_gives_the_same_messages_in_any_chunks(
        ms in vec(message(), 1..4),
        cuts in vec(1..200usize, 1..20),
    ) {
        let mut stream = Vec::new();
        for m in &ms {
            stream.extend_from_slice(&m.encode());
        }
        let mut f = StreamFramer::new();
        let mut got = Vec::new();
        let (mut at, mut cut) = (0, cuts.iter().cycle());
        while at < stream.len() {
            let end = (at + cut.next().unwrap()).min(stream.len());
            f.push(&stream[at..end]);
            at = end;
            while let Some(m) = f.pop() {
                got.push(m.unwrap());
            }
        }
        prop_assert_eq!(got, ms);
    }
}
