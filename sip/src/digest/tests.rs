use super::*;
use proptest::prelude::*;

/// RFC 2617 §3.5, the `Authorization` the RFC prints (MD5, qop=auth).
const RFC2617_AUTHORIZATION: &str = r#"Digest username="Mufasa",
 realm="testrealm@host.com",
 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
 uri="/dir/index.html",
 qop=auth,
 nc=00000001,
 cnonce="0a4f113b",
 response="6629fae49393a05397450978507c4ef1",
 opaque="5ccc069c403ebaf9f0171e9517f40e41""#;

/// RFC 7616 §3.9.1, the SHA-256 challenge.
const RFC7616_CHALLENGE: &str = r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;

/// Header values arrive unfolded from the SIP codec (RFC 3261 §7.3.1); the RFC prints them
/// folded.
fn unfold(s: &str) -> String {
    s.replace("\n ", " ")
}

#[test]
fn rfc2617_vector() {
    let creds = Credentials::parse(&unfold(RFC2617_AUTHORIZATION)).unwrap();
    assert_eq!(creds.username, "Mufasa");
    assert_eq!(creds.realm, "testrealm@host.com");
    assert_eq!(creds.nc.as_deref(), Some("00000001"));
    assert_eq!(creds.qop.as_deref(), Some("auth"));
    assert_eq!(creds.algorithm, Algorithm::Md5);
    assert_eq!(
        creds.opaque.as_deref(),
        Some("5ccc069c403ebaf9f0171e9517f40e41")
    );
    let r = response(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
        "GET",
        "/dir/index.html",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        Some(("00000001", "0a4f113b")),
    );
    assert_eq!(r, "6629fae49393a05397450978507c4ef1");
    assert!(verify(&creds, "GET", "Circle Of Life"));
    assert!(!verify(&creds, "GET", "Circle of Life"));
    assert!(!verify(&creds, "POST", "Circle Of Life"));
}

#[test]
fn rfc7616_vectors() {
    let challenge = Challenge::parse(RFC7616_CHALLENGE).unwrap();
    assert_eq!(challenge.algorithm, Algorithm::Sha256);
    assert_eq!(challenge.realm, "http-auth@example.org");
    assert!(!challenge.stale);
    let cnonce = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";
    let creds = authorize(
        &challenge,
        "Mufasa",
        "Circle of Life",
        "GET",
        "/dir/index.html",
        cnonce,
        1,
    );
    assert_eq!(
        creds.response,
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"
    );
    assert_eq!(creds.opaque, challenge.opaque);
    assert_eq!(creds.nc.as_deref(), Some("00000001"));
    // The same challenge with MD5 (the RFC's first example).
    let md5 = Challenge {
        algorithm: Algorithm::Md5,
        ..challenge
    };
    let creds = authorize(
        &md5,
        "Mufasa",
        "Circle of Life",
        "GET",
        "/dir/index.html",
        cnonce,
        1,
    );
    assert_eq!(creds.response, "8ca523f5e9506fed4657c9700eebdbec");
}

#[test]
fn rfc2069_form_without_qop() {
    // Computed independently (Python hashlib): MD5(HA1:nonce:HA2) for the RFC 2617 inputs.
    let r = response(
        Algorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
        "GET",
        "/dir/index.html",
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
        None,
    );
    assert_eq!(r, "670fd8c2df070c60b045671b8b24ff02");
    let creds = Credentials::parse(&format!(
        r#"Digest username="Mufasa", realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", uri="/dir/index.html", response="{r}""#
    ))
    .unwrap();
    assert!(verify(&creds, "GET", "Circle Of Life"));
}

#[test]
fn sip_register_sha256() {
    // A SIP REGISTER (RFC 8760), computed independently with Python hashlib:
    // sha256(sha256("alice:offhook:s3cret"):abc:0000002a:xyz:auth:sha256("REGISTER:sip:offhook.lan")).
    let value = r#"Digest username="alice", realm="offhook", nonce="abc", uri="sip:offhook.lan", response="47b576a3308048ed5c7d63667464326215de147d6b10ead66ee1740398177432", algorithm=SHA-256, cnonce="xyz", qop=auth, nc=0000002a"#;
    let creds = Credentials::parse(value).unwrap();
    assert!(verify(&creds, "REGISTER", "s3cret"));
    assert!(!verify(&creds, "INVITE", "s3cret"));
    // Upper-case hex from a sloppy client is still accepted.
    let upper = Credentials {
        response: creds.response.to_ascii_uppercase(),
        ..creds.clone()
    };
    assert!(verify(&upper, "REGISTER", "s3cret"));
    // And our own encoding parses back to the same thing.
    assert_eq!(Credentials::parse(&creds.header_value()).unwrap(), creds);
}

/// What SIPp 3.6.1 (Debian `sip-tester`) sent on loopback to answer
/// `Digest realm="offhook", nonce="AAAAAAAAA-g_sipp-nonce", opaque="op1", algorithm=MD5, qop="auth"`
/// for alice / s3cret (scenario `[authentication username=alice password=s3cret]`). No spaces
/// after the commas.
const SIPP_AUTHORIZATION: &str = r#"Digest username="alice",realm="offhook",cnonce="6b8b4567",nc=00000001,qop=auth,uri="sip:127.0.0.1:15099",nonce="AAAAAAAAA-g_sipp-nonce",response="bc01d9256858b75f25f422b2422a123a",algorithm=MD5,opaque="op1""#;

#[test]
fn sipp_register_md5() {
    let creds = Credentials::parse(SIPP_AUTHORIZATION).unwrap();
    assert_eq!(creds.uri, "sip:127.0.0.1:15099");
    assert_eq!(creds.cnonce.as_deref(), Some("6b8b4567"));
    assert_eq!(creds.opaque.as_deref(), Some("op1"));
    assert!(verify(&creds, "REGISTER", "s3cret"));
    assert!(!verify(&creds, "REGISTER", "s3cret "));
    assert!(!verify(&creds, "INVITE", "s3cret"));
    // The same answer from our client side.
    let challenge = Challenge::parse(
        r#"Digest realm="offhook", nonce="AAAAAAAAA-g_sipp-nonce", opaque="op1", algorithm=MD5, qop="auth""#,
    )
    .unwrap();
    let ours = authorize(
        &challenge,
        "alice",
        "s3cret",
        "REGISTER",
        "sip:127.0.0.1:15099",
        "6b8b4567",
        1,
    );
    assert_eq!(ours, creds);
}

#[test]
fn challenge_header_value() {
    let c = Challenge {
        realm: "offhook".into(),
        nonce: "n\"1\\".into(),
        algorithm: Algorithm::Sha256,
        stale: true,
        opaque: None,
    };
    assert_eq!(
        c.header_value(),
        r#"Digest realm="offhook", nonce="n\"1\\", algorithm=SHA-256, qop="auth", stale=true"#
    );
    assert_eq!(Challenge::parse(&c.header_value()).unwrap(), c);
}

#[test]
fn grammar() {
    // Case-insensitive scheme and names, spaces around '=', commas inside quotes, empty elements.
    let c =
        Challenge::parse(r#"digest REALM = "a, b" ,, Nonce=xyz , QOP="auth-int,auth", Stale=TRUE"#)
            .unwrap();
    assert_eq!(c.realm, "a, b");
    assert_eq!(c.nonce, "xyz");
    assert!(c.stale);
    assert_eq!(c.algorithm, Algorithm::Md5);
}

#[test]
fn errors_name_field_and_offset() {
    use DigestError::*;
    let cases: &[(&str, DigestError)] = &[
        ("Basic realm=\"x\"", NotDigest),
        ("Digestrealm=x", NotDigest),
        (
            "Digest realm=\"x",
            Malformed {
                field: "closing quote",
                offset: 15,
            },
        ),
        (
            "Digest realm=x nonce=y",
            Malformed {
                field: "',' between parameters",
                offset: 15,
            },
        ),
        (
            "Digest realm",
            Malformed {
                field: "'=' after parameter name",
                offset: 12,
            },
        ),
        (
            "Digest realm=",
            Malformed {
                field: "parameter value",
                offset: 13,
            },
        ),
        (
            "Digest realm=x, =y",
            Malformed {
                field: "parameter name",
                offset: 16,
            },
        ),
        (
            "Digest realm=\"a\rb\"",
            Malformed {
                field: "quoted-string",
                offset: 15,
            },
        ),
        (
            "Digest realm=x, nonce=y, Realm=z",
            Duplicate {
                name: "realm".into(),
                offset: 25,
            },
        ),
        ("Digest nonce=y", Missing { field: "realm" }),
        (
            "Digest realm=x, nonce=y, algorithm=MD5-sess",
            UnsupportedAlgorithm("MD5-sess".into()),
        ),
        (
            "Digest realm=x, nonce=y, algorithm=SHA-256-sess",
            UnsupportedAlgorithm("SHA-256-sess".into()),
        ),
        (
            "Digest realm=x, nonce=y, qop=\"auth-int\"",
            UnsupportedQop("auth-int".into()),
        ),
        (
            "Digest realm=x, nonce=y, stale=maybe",
            Malformed {
                field: "stale",
                offset: 25,
            },
        ),
    ];
    for (value, want) in cases {
        assert_eq!(Challenge::parse(value).unwrap_err(), *want, "{value}");
    }
    let creds = r#"Digest username="u", realm="r", nonce="n", uri="sip:x", response="00""#;
    assert!(Credentials::parse(creds).is_ok());
    assert_eq!(
        Credentials::parse(&format!("{creds}, qop=auth-int, nc=00000001, cnonce=c")).unwrap_err(),
        UnsupportedQop("auth-int".into())
    );
    assert_eq!(
        Credentials::parse(&format!("{creds}, qop=auth, cnonce=c")).unwrap_err(),
        Missing { field: "nc" }
    );
    assert_eq!(
        Credentials::parse(&format!("{creds}, qop=auth, nc=1, cnonce=c")).unwrap_err(),
        Malformed {
            field: "nc",
            offset: 81
        }
    );
    assert_eq!(
        Credentials::parse(&format!("{creds}, qop=auth, nc=00000001")).unwrap_err(),
        Missing { field: "cnonce" }
    );
}

#[test]
fn bounds() {
    let long = format!("Digest realm=\"{}\"", "a".repeat(MAX_HEADER));
    assert_eq!(
        Challenge::parse(&long).unwrap_err(),
        DigestError::TooLong {
            len: MAX_HEADER + 15
        }
    );
    let mut many = String::from("Digest realm=x, nonce=y");
    for i in 0..MAX_PARAMS - 2 {
        many.push_str(&format!(", p{i}=v"));
    }
    assert!(
        Challenge::parse(&many).is_ok(),
        "exactly MAX_PARAMS is fine"
    );
    let offset = many.len() + 2;
    many.push_str(", one=more");
    assert_eq!(
        Challenge::parse(&many).unwrap_err(),
        DigestError::TooManyParams { offset }
    );
}

#[test]
fn nonces() {
    let nonces = Nonces::new([7; 32]);
    let n = nonces.issue(1_000);
    assert_eq!(n.len(), NONCE_LEN);
    assert!(
        n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    assert_eq!(nonces.check(&n, 1_000, 30_000), NonceState::Fresh);
    assert_eq!(nonces.check(&n, 31_000, 30_000), NonceState::Fresh);
    assert_eq!(nonces.check(&n, 31_001, 30_000), NonceState::Stale);
    assert_eq!(
        nonces.check(&n, 999, 30_000),
        NonceState::Invalid,
        "from the future"
    );
    assert_eq!(
        Nonces::new([8; 32]).check(&n, 1_000, 30_000),
        NonceState::Invalid,
        "other key"
    );
    assert_eq!(nonces.check("", 1_000, 30_000), NonceState::Invalid);
    assert_eq!(nonces.check(&n[1..], 1_000, 30_000), NonceState::Invalid);
    assert_ne!(nonces.issue(1_001), n);
    assert!(
        !format!("{nonces:?}").contains('7'),
        "the key is not in Debug"
    );
}

proptest! {
    #[test]
    fn nonce_tampering_is_invalid(now in 0u64..1 << 50, at in 0usize..NONCE_LEN, c in "[A-Za-z0-9_-]") {
        let nonces = Nonces::new([3; 32]);
        let n = nonces.issue(now);
        let mut bytes = n.clone().into_bytes();
        bytes[at] = c.as_bytes()[0];
        let tampered = String::from_utf8(bytes).unwrap();
        // The last character carries 4 bits, of which the low 2 are padding that decoders may
        // refuse or ignore; either way a changed nonce is never Fresh unless the bytes are equal.
        if tampered != n {
            prop_assert_ne!(nonces.check(&tampered, now, u64::MAX), NonceState::Fresh);
        }
    }
}

fn text() -> impl Strategy<Value = String> {
    // Printable text with the characters that need escaping, and some non-ASCII.
    "[ -~\tåé☎]{0,40}"
}

fn token() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.!%*_+`'~-]{1,20}"
}

fn algorithm() -> impl Strategy<Value = Algorithm> {
    prop_oneof![Just(Algorithm::Md5), Just(Algorithm::Sha256)]
}

prop_compose! {
    fn challenge()(realm in text(), nonce in text(), algorithm in algorithm(), stale: bool,
                   opaque in proptest::option::of(text())) -> Challenge {
        Challenge { realm, nonce, algorithm, stale, opaque }
    }
}

prop_compose! {
    fn credentials()(username in text(), realm in text(), nonce in text(), uri in text(),
                     response in text(), algorithm in algorithm(), qop: bool, nc in "[0-9a-fA-F]{8}",
                     cnonce in text(), opaque in proptest::option::of(text())) -> Credentials {
        Credentials {
            username, realm, nonce, uri, response, algorithm,
            qop: qop.then(|| "auth".to_owned()),
            nc: qop.then_some(nc),
            cnonce: qop.then_some(cnonce),
            opaque,
        }
    }
}

proptest! {
    #[test]
    fn challenge_round_trip(c in challenge()) {
        prop_assert_eq!(Challenge::parse(&c.header_value())?, c);
    }

    #[test]
    fn credentials_round_trip(c in credentials()) {
        prop_assert_eq!(Credentials::parse(&c.header_value())?, c);
    }

    #[test]
    fn verify_authorize(c in challenge(), user in text(), password in text(), method in token(),
                        uri in text(), cnonce in text(), nc: u32, other in text()) {
        let creds = authorize(&c, &user, &password, &method, &uri, &cnonce, nc);
        // Through the wire and back, as a registrar sees it.
        let creds = Credentials::parse(&creds.header_value())?;
        prop_assert!(verify(&creds, &method, &password));
        if other != password {
            prop_assert!(!verify(&creds, &method, &other));
        }
        let wrong_method = format!("{method}X");
        prop_assert!(!verify(&creds, &wrong_method, &password));
        let mut changed = Vec::new();
        let mut push = |f: &dyn Fn(&mut Credentials)| {
            let mut c = creds.clone();
            f(&mut c);
            changed.push(c);
        };
        push(&|c| c.username.push('x'));
        push(&|c| c.realm.push('x'));
        push(&|c| c.nonce.push('x'));
        push(&|c| c.uri.push('x'));
        push(&|c| c.cnonce.as_mut().unwrap().push('x'));
        push(&|c| c.nc = Some(format!("{:08x}", nc.wrapping_add(1))));
        push(&|c| {
            c.algorithm = match c.algorithm {
                Algorithm::Md5 => Algorithm::Sha256,
                Algorithm::Sha256 => Algorithm::Md5,
            }
        });
        push(&|c| c.qop = None);
        push(&|c| {
            let flipped = if c.response.starts_with('0') { "1" } else { "0" };
            c.response.replace_range(0..1, flipped);
        });
        for (i, c) in changed.iter().enumerate() {
            prop_assert!(!verify(c, &method, &password), "change {}", i);
        }
    }

    #[test]
    fn parse_never_panics(s in "\\PC{0,200}") {
        let _ = Challenge::parse(&s);
        let _ = Credentials::parse(&s);
        let _ = Challenge::parse(&format!("Digest {s}"));
        let _ = Credentials::parse(&format!("Digest {s}"));
    }
}
