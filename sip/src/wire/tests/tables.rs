//! The codec's fixed tables against the RFCs: every reason phrase of RFC 3261 §21 (and the
//! extensions the codec names), every method token, every header name and its compact form
//! (§7.3.3, §20), the schemes and transports. Written for the survivors of the wire's
//! mutation run: each entry of a table is a place a typo hides.

use super::*;

/// RFC 3261 §21 (RFC 6665's 202 and 489, RFC 5839's 204, RFC 3329's 494).
const PHRASES: &[(u16, &str)] = &[
    (100, "Trying"),
    (180, "Ringing"),
    (181, "Call Is Being Forwarded"),
    (182, "Queued"),
    (183, "Session Progress"),
    (200, "OK"),
    (202, "Accepted"),
    (204, "No Notification"),
    (300, "Multiple Choices"),
    (301, "Moved Permanently"),
    (302, "Moved Temporarily"),
    (305, "Use Proxy"),
    (380, "Alternative Service"),
    (400, "Bad Request"),
    (401, "Unauthorized"),
    (402, "Payment Required"),
    (403, "Forbidden"),
    (404, "Not Found"),
    (405, "Method Not Allowed"),
    (406, "Not Acceptable"),
    (407, "Proxy Authentication Required"),
    (408, "Request Timeout"),
    (410, "Gone"),
    (413, "Request Entity Too Large"),
    (414, "Request-URI Too Long"),
    (415, "Unsupported Media Type"),
    (416, "Unsupported URI Scheme"),
    (420, "Bad Extension"),
    (421, "Extension Required"),
    (423, "Interval Too Brief"),
    (480, "Temporarily Unavailable"),
    (481, "Call/Transaction Does Not Exist"),
    (482, "Loop Detected"),
    (483, "Too Many Hops"),
    (484, "Address Incomplete"),
    (485, "Ambiguous"),
    (486, "Busy Here"),
    (487, "Request Terminated"),
    (488, "Not Acceptable Here"),
    (489, "Bad Event"),
    (491, "Request Pending"),
    (493, "Undecipherable"),
    (494, "Security Agreement Required"),
    (500, "Server Internal Error"),
    (501, "Not Implemented"),
    (502, "Bad Gateway"),
    (503, "Service Unavailable"),
    (504, "Server Time-out"),
    (505, "Version Not Supported"),
    (513, "Message Too Large"),
    (600, "Busy Everywhere"),
    (603, "Decline"),
    (604, "Does Not Exist Anywhere"),
    (606, "Not Acceptable"),
];

#[test]
fn every_rfc_3261_reason_phrase() {
    for &(status, phrase) in PHRASES {
        assert_eq!(reason_phrase(status), phrase, "{status}");
    }
    // Codes the RFCs leave unnamed get their class (§21: a client treats an unknown code as
    // the x00 of its class).
    for (status, class) in [
        (199, "Provisional"),
        (250, "Success"),
        (399, "Redirection"),
        (499, "Client Error"),
        (599, "Server Error"),
        (650, "Global Failure"),
    ] {
        assert_eq!(reason_phrase(status), class, "{status}");
    }
}

#[test]
fn every_method_token_reads_as_its_method_and_writes_back() {
    for (token, method) in [
        ("INVITE", Method::Invite),
        ("ACK", Method::Ack),
        ("BYE", Method::Bye),
        ("CANCEL", Method::Cancel),
        ("REGISTER", Method::Register),
        ("OPTIONS", Method::Options),
        ("INFO", Method::Info),
        ("SUBSCRIBE", Method::Subscribe),
        ("NOTIFY", Method::Notify),
        ("MESSAGE", Method::Message),
        ("UPDATE", Method::Update),
        ("PRACK", Method::Prack),
        ("REFER", Method::Refer),
        ("PUBLISH", Method::Publish),
        ("FOO-BAR", Method::Other("FOO-BAR".into())),
    ] {
        assert_eq!(token.parse::<Method>().unwrap(), method, "{token}");
        assert_eq!(method.as_str(), token);
        assert_eq!(method.to_string(), token);
        // In a CSeq too, and in a request line.
        let cseq: CSeq = format!("7 {token}").parse().unwrap();
        assert_eq!(cseq.method, method);
        assert_eq!(cseq.to_string(), format!("7 {token}"));
    }
}

#[test]
fn every_header_name_and_compact_form() {
    for (name, canonical, compact) in [
        (HeaderName::Via, "Via", Some("v")),
        (HeaderName::From, "From", Some("f")),
        (HeaderName::To, "To", Some("t")),
        (HeaderName::CallId, "Call-ID", Some("i")),
        (HeaderName::CSeq, "CSeq", None),
        (HeaderName::Contact, "Contact", Some("m")),
        (HeaderName::MaxForwards, "Max-Forwards", None),
        (HeaderName::Expires, "Expires", None),
        (HeaderName::MinExpires, "Min-Expires", None),
        (HeaderName::ContentLength, "Content-Length", Some("l")),
        (HeaderName::ContentType, "Content-Type", Some("c")),
        (HeaderName::Authorization, "Authorization", None),
        (HeaderName::WwwAuthenticate, "WWW-Authenticate", None),
        (HeaderName::ProxyAuthorization, "Proxy-Authorization", None),
        (HeaderName::ProxyAuthenticate, "Proxy-Authenticate", None),
        (HeaderName::Allow, "Allow", None),
        (HeaderName::Supported, "Supported", Some("k")),
        (HeaderName::Require, "Require", None),
        (HeaderName::Unsupported, "Unsupported", None),
        (HeaderName::UserAgent, "User-Agent", None),
        (HeaderName::Server, "Server", None),
        (HeaderName::Event, "Event", Some("o")),
        (HeaderName::SubscriptionState, "Subscription-State", None),
        (HeaderName::Accept, "Accept", None),
        (HeaderName::RetryAfter, "Retry-After", None),
        (HeaderName::RecordRoute, "Record-Route", None),
        (HeaderName::Route, "Route", None),
        (HeaderName::Date, "Date", None),
    ] {
        assert_eq!(name.as_str(), canonical);
        assert_eq!(name.to_string(), canonical);
        assert_eq!(HeaderName::parse(canonical), name, "{canonical}");
        assert_eq!(
            HeaderName::parse(&canonical.to_ascii_uppercase()),
            name,
            "{canonical}"
        );
        if let Some(c) = compact {
            assert_eq!(HeaderName::parse(c), name, "{c}");
            assert_eq!(HeaderName::parse(&c.to_ascii_uppercase()), name, "{c}");
        }
    }
    // RFC 3261 §7.3.3 and the extensions' compact forms of headers kept as `Other`.
    for (c, full) in [
        ("s", "Subject"),
        ("e", "Content-Encoding"),
        ("r", "Refer-To"),
        ("b", "Referred-By"),
        ("u", "Allow-Events"),
        ("x", "Session-Expires"),
        ("j", "Reject-Contact"),
        ("d", "Request-Disposition"),
        ("a", "Accept-Contact"),
        ("y", "Identity"),
    ] {
        assert_eq!(HeaderName::parse(c), HeaderName::Other(full.into()), "{c}");
        assert_eq!(HeaderName::parse(c).as_str(), full);
    }
    // A one-letter name that is no compact form is itself.
    assert_eq!(HeaderName::parse("z"), HeaderName::Other("z".into()));
}

#[test]
fn header_names_compare_and_hash_without_case() {
    use std::collections::HashSet;
    let a = HeaderName::Other("X-Thing".into());
    let b = HeaderName::Other("x-THING".into());
    assert_eq!(a, b);
    assert_ne!(a, HeaderName::Other("X-Other".into()));
    assert_ne!(HeaderName::Via, HeaderName::Route);
    assert_ne!(HeaderName::Other("Via".into()), HeaderName::Route);
    let set: HashSet<HeaderName> = [a, b, HeaderName::Via, HeaderName::Via].into();
    assert_eq!(set.len(), 2);
    let set: HashSet<HeaderName> = [
        HeaderName::Other("A".into()),
        HeaderName::Other("B".into()),
        HeaderName::Other("AB".into()),
    ]
    .into();
    assert_eq!(set.len(), 3, "different names stay apart");
    // Equal names hash alike whatever their case, different ones (almost always) apart.
    let hash = |n: &HeaderName| {
        use std::hash::{BuildHasher, BuildHasherDefault};
        BuildHasherDefault::<std::collections::hash_map::DefaultHasher>::default().hash_one(n)
    };
    let x_thing = HeaderName::Other("X-Thing".into());
    assert_eq!(hash(&x_thing), hash(&HeaderName::Other("x-thing".into())));
    assert_ne!(hash(&x_thing), hash(&HeaderName::Other("X-Other".into())));
    assert_ne!(hash(&HeaderName::Via), hash(&HeaderName::Route));
}

#[test]
fn list_headers_split_and_others_do_not() {
    let value = "a, b";
    for name in [
        HeaderName::Via,
        HeaderName::Contact,
        HeaderName::Route,
        HeaderName::RecordRoute,
        HeaderName::Allow,
        HeaderName::Supported,
        HeaderName::Require,
        HeaderName::Unsupported,
        HeaderName::Accept,
    ] {
        let mut h = Headers::new();
        h.push(name.clone(), value);
        assert_eq!(h.get_all(&name).collect::<Vec<_>>(), ["a", "b"], "{name}");
    }
    for name in [
        HeaderName::From,
        HeaderName::CallId,
        HeaderName::Server,
        HeaderName::UserAgent,
        HeaderName::Date,
        HeaderName::WwwAuthenticate,
        HeaderName::Event,
    ] {
        let mut h = Headers::new();
        h.push(name.clone(), value);
        assert_eq!(h.get_all(&name).collect::<Vec<_>>(), [value], "{name}");
    }
}

#[test]
fn schemes_and_transports_are_written_as_the_rfc_spells_them() {
    assert_eq!(Scheme::Sip.to_string(), "sip");
    assert_eq!(Scheme::Sips.to_string(), "sips");
    assert_eq!(Scheme::Tel.to_string(), "tel");
    assert_eq!(Transport::Udp.to_string(), "UDP");
    assert_eq!(Transport::Tcp.to_string(), "TCP");
    assert_eq!(Transport::Tls.to_string(), "TLS");
    for (text, scheme) in [
        ("sip:a@h", Scheme::Sip),
        ("SIPS:a@h", Scheme::Sips),
        ("tel:+1234", Scheme::Tel),
    ] {
        assert_eq!(text.parse::<Uri>().unwrap().scheme, scheme, "{text}");
    }
    for (text, t) in [
        ("SIP/2.0/udp h", Transport::Udp),
        ("SIP/2.0/Tcp h", Transport::Tcp),
        ("SIP/2.0/TLS h", Transport::Tls),
    ] {
        assert_eq!(text.parse::<Via>().unwrap().transport, t, "{text}");
    }
    assert_eq!(
        "SIP/2.0/SCTP h".parse::<Via>().unwrap_err().kind,
        ParseErrorKind::UnsupportedTransport
    );
}
