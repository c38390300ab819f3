//! RFC 4475 torture messages, written from the texts the RFC shows (long values regenerated,
//! bodies shortened with Content-Length to match).

use super::super::*;
use super::{crlf, request, round_trips};

// RFC 4475 §3.1.1.1, a short tortuous INVITE (body shortened, Content-Length to match).
pub(super) const WSINV: &str = "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0
TO :
 sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n
from   : \"J Rosenberg \\\\\\\"\"       <sip:jdrosen@example.com>
  ;
  tag = 98asjd8
MaX-fOrWaRdS: 0068
Call-ID: wsinv.ndaksdj@192.0.2.1
Content-Length   : 5
cseq: 0009
  INVITE
Via  : SIP  /   2.0
 /UDP
    192.0.2.2;branch=390skdjuw
s :
NewFangledHeader:   newfangled value
 continued newfangled value
UnknownHeaderWithUnusualValue: ;;,,;;,;
Content-Type: application/sdp
Route:
 <sip:services.example.com;lr;unknownwith=value;unknown-no-value>
v:  SIP  / 2.0  / TCP     spindle.example.com   ;
  branch  =   z9hG4bK9ikj8  ,
 SIP  /    2.0   / UDP  192.168.255.111   ; branch=
 z9hG4bK30239
m:\"Quoted string \\\"\\\"\" <sip:jdrosen@example.com> ; newparam =
      newvalue ;
  secondparam ; q = 0.33

v=0
";

#[test]
fn rfc4475_wsinv_short_tortuous_invite() {
    let m = round_trips(&crlf(WSINV));
    let Message::Request(r) = m else { panic!() };
    assert_eq!(r.method, Method::Invite);
    assert_eq!(r.uri.param("unknownparam"), Some(""));
    let h = &r.headers;
    assert_eq!(h.to().unwrap().tag(), Some("1918181833n"));
    let from = h.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("J Rosenberg \\\""));
    assert_eq!(from.tag(), Some("98asjd8"));
    assert_eq!(h.max_forwards(), Some(68));
    assert_eq!(
        h.cseq().unwrap(),
        CSeq {
            seq: 9,
            method: Method::Invite
        }
    );
    let vias = h.via().unwrap();
    assert_eq!(vias.len(), 3);
    assert_eq!(
        (vias[0].transport, vias[0].host.as_str()),
        (Transport::Udp, "192.0.2.2")
    );
    assert_eq!(vias[1].transport, Transport::Tcp);
    assert_eq!(vias[1].branch(), Some("z9hG4bK9ikj8"));
    assert_eq!(vias[2].branch(), Some("z9hG4bK30239"));
    let other = HeaderName::Other("newfangledheader".into());
    assert_eq!(
        h.get(&other),
        Some("newfangled value continued newfangled value")
    );
    assert_eq!(h.get(&HeaderName::Other("Subject".into())), Some(""));
    let contacts = h.contacts().unwrap();
    assert_eq!(contacts[0].q(), Some("0.33"));
    let Contact::Addr(c) = &contacts[0] else {
        panic!()
    };
    assert_eq!(c.display.as_deref(), Some("Quoted string \"\""));
    assert_eq!(c.param("newparam"), Some("newvalue"));
    assert_eq!(c.param("secondparam"), Some(""));
    assert_eq!(r.body, b"v=0\r\n");
    assert_eq!(h.content_length(), Some(5));
}

// RFC 4475 §3.1.1.2, a wide range of valid characters (escaped controls in a quoted string,
// UTF-8 in a parameter and an unknown header).
const INTMETH: &[u8] = b"!interesting-Method0123456789_*+`.%indeed'~ sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\r
Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\r
To: \"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7F\" <sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>\r
From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"\xD1\x80\xD0\xB0\xD0\xB1\xD0\xBE\xD1\x82\xD0\xB0\xD1\x8E\xD1\x89\xD0\xB8\xD0\xB9\";tag=_token~1'+`*%!-.\r
Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\r
CSeq: 139122385 !interesting-Method0123456789_*+`.%indeed'~\r
Max-Forwards: 255\r
extensionHeader-!.%*+_`'~:\xEF\xBB\xBF\xE5\xA4\xA7\xE5\x81\x9C\xE9\x9B\xBB\r
Content-Length: 0\r
\r
";

#[test]
fn rfc4475_intmeth_wide_range_of_valid_characters() {
    let Message::Request(r) = round_trips(INTMETH) else {
        panic!()
    };
    assert_eq!(
        r.method,
        Method::Other("!interesting-Method0123456789_*+`.%indeed'~".into())
    );
    assert_eq!(
        r.uri.user.as_deref(),
        Some(
            "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*:&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
        )
    );
    let to = r.headers.to().unwrap();
    assert_eq!(to.display.as_deref(), Some("BEL:\x07 NUL:\x00 DEL:\x7F"));
    let from = r.headers.from().unwrap();
    assert_eq!(
        from.display.as_deref(),
        Some("token1~` token2'+_ token3*%!.-")
    );
    assert_eq!(from.tag(), Some("_token~1'+`*%!-."));
    assert_eq!(
        r.headers.top_via().unwrap().branch(),
        Some("z9hG4bK-.!%66*_+`'~")
    );
    let ext = HeaderName::Other("EXTENSIONHEADER-!.%*+_`'~".into());
    assert_eq!(r.headers.get(&ext), Some("\u{feff}大停電"));
}

// RFC 4475 §3.1.1.3, valid use of the % escaping mechanism.
const ESC01: &str = "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0
To: sip:%75se%72@example.com
From: <sip:I%20have%20spaces@example.net>;tag=938
Max-Forwards: 87
i: esc01.239409asdfakjkn23onasd0-3234
CSeq: 234234 INVITE
Via: SIP/2.0/UDP host5.example.net;branch=z9hG4bKkdjuw
C: application/sdp
Contact:
  <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>
Content-Length: 0

";

#[test]
fn rfc4475_esc01_escapes_in_uris() {
    let Message::Request(r) = round_trips(&crlf(ESC01)) else {
        panic!()
    };
    assert_eq!(r.uri.user.as_deref(), Some("sips:user@example.com"));
    assert_eq!(r.uri.host, "example.net");
    assert_eq!(r.headers.to().unwrap().uri.user.as_deref(), Some("user"));
    assert_eq!(
        r.headers.from().unwrap().uri.user.as_deref(),
        Some("I have spaces")
    );
    assert_eq!(
        r.headers.call_id(),
        Some("esc01.239409asdfakjkn23onasd0-3234")
    );
    assert_eq!(
        r.headers.get(&HeaderName::ContentType),
        Some("application/sdp")
    );
    let Contact::Addr(c) = &r.headers.contacts().unwrap()[0] else {
        panic!()
    };
    assert_eq!(c.uri.user.as_deref(), Some("caller"));
    assert_eq!(c.uri.params[0], ("%6C%72".to_string(), None));
    assert_eq!(r.uri.to_string(), "sip:sips:user%40example.com@example.net");
}

#[test]
fn rfc4475_lwsdisp_no_space_before_angle() {
    let r = request(&crlf(
        "OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: caller<sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID: lwsdisp.1234abcd@funky.example.com
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP funky.example.com;branch=z9hG4bKkdjuw
l: 0

",
    ));
    let from = r.headers.from().unwrap();
    assert_eq!(from.display.as_deref(), Some("caller"));
    assert_eq!(from.tag(), Some("323"));
}

#[test]
fn rfc4475_longreq_long_values_and_many_vias() {
    let long = "long".repeat(25);
    let mut text = format!(
        "INVITE sip:user@example.com SIP/2.0
To: \"I have a user name of {0} proportion\" <sip:user@example.com:6000;unknownparam1=very{long}value;longparam{3}=shortvalue;very{long}ParameterNameWithNoValue>
F: sip:amazinglylongcallername{4}@example.net;tag=12982{1}424;unknownheaderparam{3}=unknowheaderparamvalue{5};unknownValuelessparam{3}
Call-ID: longreq.one{2}longcallid
CSeq: 3882340 INVITE
Unknown-{long}-Name: unknown-{long}-value; unknown-{long}-parameter-name = unknown-{long}-parameter-value
",
        "extreme ".repeat(10),
        "982".repeat(60),
        "really".repeat(20),
        "name".repeat(25),
        "amazinglylongcallername".repeat(4),
        "value".repeat(15),
    );
    for i in (1..=33).rev() {
        let name = ["Via", "v", "V", "ViA", "via  "][i % 5];
        text.push_str(&format!("{name}: SIP/2.0/TCP sip{i}.example.com\n"));
    }
    text.push_str(&format!(
        "Via: SIP/2.0/TCP host.example.com;received=192.0.2.5;branch=very{long}branchvalue
Max-Forwards: 70
Contact: <sip:amazinglylongcallername@host5.example.net>
Content-Type: application/sdp
l: 0

"
    ));
    let Message::Request(r) = round_trips(&crlf(&text)) else {
        panic!()
    };
    let vias = r.headers.via().unwrap();
    assert_eq!(vias.len(), 34);
    assert_eq!(vias[0].host, "sip33.example.com");
    assert_eq!(vias[33].received(), Some("192.0.2.5"));
    assert_eq!(r.headers.to().unwrap().uri.port, Some(6000));
    assert!(r.headers.from().unwrap().tag().unwrap().len() > 180);
}

#[test]
fn rfc4475_dblreq_bytes_after_content_length_are_ignored() {
    let r = request(&crlf(
        "REGISTER sip:example.com SIP/2.0
To: sip:j.user@example.com
From: sip:j.user@example.com;tag=43251j3j324
Max-Forwards: 8
I: dblreq.0ha0isndaksdj99sdfafnl3lk233412
Contact: sip:j.user@host.example.com
CSeq: 8 REGISTER
Via: SIP/2.0/UDP 192.0.2.125;branch=z9hG4bKkdjuw23492
Content-Length: 0

INVITE sip:joe@example.com SIP/2.0
t: sip:joe@example.com
From: sip:caller@example.net;tag=141334
Content-Length: 150

v=0
",
    ));
    assert_eq!(r.method, Method::Register);
    assert!(r.body.is_empty());
    assert_eq!(
        r.headers.call_id(),
        Some("dblreq.0ha0isndaksdj99sdfafnl3lk233412")
    );
}

#[test]
fn rfc4475_semiuri_semicolon_in_user_part() {
    let r = request(&crlf(
        "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0
To: sip:j_user@example.com
From: sip:caller@example.org;tag=33242
Max-Forwards: 3
Call-ID: semiuri.0ha0isndaksdj
CSeq: 8 OPTIONS
Accept: application/sdp, application/pkcs7-mime,
      multipart/mixed, multipart/signed,
      message/sip, message/sipfrag
Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKkdjuw
l: 0

",
    ));
    assert_eq!(r.uri.user.as_deref(), Some("user;par=u@example.net"));
    assert_eq!(r.uri.host, "example.com");
    assert!(r.uri.params.is_empty());
    let accept: Vec<_> = r.headers.get_all(&HeaderName::Accept).collect();
    assert_eq!(accept.len(), 6);
    assert_eq!(accept[5], "message/sipfrag");
}

#[test]
fn rfc4475_transports_unknown_ones_below_the_top_via() {
    let r = request(&crlf(
        "OPTIONS sip:user@example.com SIP/2.0
To: sip:user@example.com
From: <sip:caller@example.com>;tag=323
Max-Forwards: 70
Call-ID:  transports.kijh4akdnaqjkwendsasfdj
Accept: application/sdp
CSeq: 60 OPTIONS
Via: SIP/2.0/UDP t1.example.com;branch=z9hG4bKkdjuw
Via: SIP/2.0/SCTP t2.example.com;branch=z9hG4bKklasjdhf
Via: SIP/2.0/TLS t3.example.com;branch=z9hG4bK2980unddj
Via: SIP/2.0/UNKNOWN t4.example.com;branch=z9hG4bKasd0f3en
Via: SIP/2.0/TCP t5.example.com;branch=z9hG4bK0a9idfnee
l: 0

",
    ));
    assert_eq!(r.headers.top_via().unwrap().host, "t1.example.com");
    assert_eq!(r.headers.get_all(&HeaderName::Via).count(), 5);
    // Our Via type knows UDP, TCP and TLS only: the list as a whole is refused by name.
    let e = r.headers.via().unwrap_err();
    assert_eq!(
        (e.kind, e.field),
        (ParseErrorKind::UnsupportedTransport, "Via")
    );
    // A response copies them all, as text.
    let resp = Response::to_request(&r, 200, "OK", Some("x"));
    assert_eq!(resp.headers.get_all(&HeaderName::Via).count(), 5);
}

#[test]
fn rfc4475_mpart01_binary_multipart_body() {
    let mut body = b"--boundary42\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n--boundary42\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n".to_vec();
    body.extend_from_slice(&[
        0x30, 0x82, 0x01, 0x52, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x00, 0xff, 0x0d, 0x0a,
    ]);
    body.extend_from_slice(b"\r\n--boundary42--\r\n");
    let mut bytes = crlf(&format!(
        "MESSAGE sip:kumiko@example.org SIP/2.0
Via: SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bK-161-1242
Max-Forwards: 70
From: <sip:scientist@example.org>;tag=4242
To: <sip:kumiko@example.org>
Call-ID: mpart01.1
CSeq: 1 MESSAGE
Content-Type: multipart/mixed;boundary=boundary42
MIME-Version: 1.0
Content-Length: {}

",
        body.len()
    ));
    bytes.extend_from_slice(&body);
    let m = round_trips(&bytes);
    assert_eq!(m.body(), &body[..]);
}

pub(super) const REGAUT01: &str = "REGISTER sip:example.com SIP/2.0
To: sip:j.user@example.com
From: sip:j.user@example.com;tag=87321hj23128
Max-Forwards: 8
Call-ID: regaut01.0ha0isndaksdj
CSeq: 9338 REGISTER
Via: SIP/2.0/TCP 192.0.2.253;branch=z9hG4bKkdjuw
Authorization: NoOneKnowsThisScheme opaque-data=here
Content-Length:0

";

#[test]
fn rfc4475_regaut01_unknown_auth_scheme_parses() {
    let r = request(&crlf(REGAUT01));
    assert_eq!(
        r.headers.get(&HeaderName::Authorization),
        Some("NoOneKnowsThisScheme opaque-data=here")
    );
}

/// The headers of RFC 4475's invalid requests, into which each test puts its fault.
pub(super) fn with_fault(start: &str, fault_headers: &str, tail: &str) -> Vec<u8> {
    crlf(&format!(
        "{start}\n{fault_headers}
Via: SIP/2.0/UDP host5.example.com;branch=z9hG4bK-39234-23523
Max-Forwards: 70
Call-ID: fault.0ha0isndaksdjweiafasdk3\n{tail}"
    ))
}

pub(super) const GOOD_ADDRS: &str = "To: sip:j.user@example.com
From: sip:caller@example.net;tag=93942939o2";

#[test]
fn rfc4475_invalid_requests_get_the_rfc_answers() {
    let inv = "INVITE sip:user@example.com SIP/2.0";
    let cases: Vec<(&str, Vec<u8>, Answer, ParseErrorKind, &str)> = vec![
        (
            "badinv01",
            with_fault(
                inv,
                &format!(
                    "{GOOD_ADDRS}\nCSeq: 8 INVITE\nVia: SIP/2.0/UDP 192.0.2.15;;,;,,\nContact: \"Joe\" <sip:joe@example.org>;;;;"
                ),
                "Content-Length: 0\n\n",
            ),
            Answer::Respond(400),
            ParseErrorKind::Header,
            "Via",
        ),
        (
            "clerr",
            with_fault(
                inv,
                &format!("{GOOD_ADDRS}\nCSeq: 8 INVITE"),
                "Content-Length: 9999\n\nv=0\n",
            ),
            Answer::Respond(400),
            ParseErrorKind::Truncated,
            "Content-Length",
        ),
        (
            "ncl",
            with_fault(
                inv,
                &format!("{GOOD_ADDRS}\nCSeq: 8 INVITE"),
                "Content-Length: -999\n\nv=0\n",
            ),
            Answer::Respond(400),
            ParseErrorKind::ContentLength,
            "Content-Length",
        ),
        (
            "huge Content-Length",
            with_fault(
                inv,
                &format!("{GOOD_ADDRS}\nCSeq: 8 INVITE"),
                "Content-Length: 99999999999999999999999\n\nv=0\n",
            ),
            Answer::Respond(413),
            ParseErrorKind::BodyTooLarge,
            "Content-Length",
        ),
        (
            "scalar02",
            with_fault(
                "REGISTER sip:example.com SIP/2.0",
                &format!(
                    "{GOOD_ADDRS}\nCSeq: 36893488147419103232 REGISTER\nContact: <sip:user@host129.example.com>;expires=280297596632815"
                ),
                "l: 0\n\n",
            ),
            Answer::Respond(400),
            ParseErrorKind::Header,
            "CSeq",
        ),
        (
            "scalar02 Max-Forwards",
            with_fault(
                "REGISTER sip:example.com SIP/2.0",
                &format!("{GOOD_ADDRS}\nCSeq: 1 REGISTER\nMax-Forwards: 300"),
                "l: 0\n\n",
            ),
            Answer::Respond(400),
            ParseErrorKind::Header,
            "Max-Forwards",
        ),
        (
            "quotbal",
            with_fault(
                inv,
                "To: \"Mr. J. User <sip:j.user@example.com>\nFrom: sip:caller@example.net;tag=93942939o2\nCSeq: 8 INVITE",
                "l: 0\n\n",
            ),
            Answer::Respond(400),
            ParseErrorKind::Header,
            "To",
        ),
        (
            "ltgtruri",
            with_fault(
                "INVITE <sip:user@example.com> SIP/2.0",
                &format!("{GOOD_ADDRS}\nCSeq: 8 INVITE"),
                "l: 0\n\n",
            ),
            Answer::Respond(400),
            ParseErrorKind::Header,
            "Request-URI",
        ),
        (
            "lwsruri",
            with_fault(
                "INVITE sip:user@example.com; lr SIP/2.0",
                &format!("{GOOD_ADDRS}\nCSeq: 8 INVITE"),
                "l: 0\n\n",
            ),
            Answer::Respond(400),
            ParseErrorKind::StartLine,
            "request line",
        ),
        (
            "badaspec",
            with_fault(
                "OPTIONS sip:user@example.org SIP/2.0",
                "From: \"Bell, Alexander\" <sip:a.g.bell@example.com>;tag=433423\nTo: \"Watson, Thomas\" < sip:t.watson@example.org >\nCSeq: 3 OPTIONS",
                "l: 0\n\n",
            ),
            Answer::Respond(400),
            ParseErrorKind::Header,
            "To",
        ),
        (
            "regbadct",
            with_fault(
                "REGISTER sip:example.com SIP/2.0",
                &format!(
                    "{GOOD_ADDRS}\nCSeq: 1 REGISTER\nContact: sip:user@example.com?Route=%3Csip:sip.example.com%3E"
                ),
                "l: 0\n\n",
            ),
            Answer::Respond(400),
            ParseErrorKind::Header,
            "Contact",
        ),
        (
            "unkscm",
            with_fault(
                "OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0",
                &format!("{GOOD_ADDRS}\nCSeq: 3923423 OPTIONS"),
                "l: 0\n\n",
            ),
            Answer::Respond(416),
            ParseErrorKind::UnsupportedScheme,
            "Request-URI",
        ),
        (
            "novelsc",
            with_fault(
                "OPTIONS soap.beep://192.0.2.103:3002 SIP/2.0",
                &format!("{GOOD_ADDRS}\nCSeq: 3923423 OPTIONS"),
                "l: 0\n\n",
            ),
            Answer::Respond(416),
            ParseErrorKind::UnsupportedScheme,
            "Request-URI",
        ),
        (
            "badvers",
            with_fault(
                "OPTIONS sip:t.watson@example.org SIP/7.0",
                &format!("{GOOD_ADDRS}\nCSeq: 3 OPTIONS"),
                "l: 0\n\n",
            ),
            Answer::Respond(505),
            ParseErrorKind::Version,
            "request line",
        ),
        (
            "mismatch01",
            with_fault(
                "OPTIONS sip:user@example.com SIP/2.0",
                &format!("{GOOD_ADDRS}\nCSeq: 8 INVITE"),
                "l: 0\n\n",
            ),
            Answer::Respond(400),
            ParseErrorKind::MethodMismatch,
            "CSeq",
        ),
        (
            "missing Call-ID is unanswerable",
            crlf(&format!(
                "{inv}\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n{GOOD_ADDRS}\nCSeq: 8 INVITE\nl: 0\n\n"
            )),
            Answer::Drop,
            ParseErrorKind::Missing,
            "Call-ID",
        ),
        (
            "a broken response is dropped",
            crlf(&format!(
                "SIP/2.0 2000 OK\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\n{GOOD_ADDRS}\nCall-ID: a\nCSeq: 8 INVITE\nl: 0\n\n"
            )),
            Answer::Drop,
            ParseErrorKind::StartLine,
            "status line",
        ),
    ];
    for (name, bytes, want, kind, field) in cases {
        let e = parse(&bytes).expect_err(name);
        assert_eq!(
            (e.answer(), &e.kind, e.field),
            (want, &kind, field),
            "{name}: {e}"
        );
        assert!(
            e.offset < bytes.len(),
            "{name}: offset {} past the end",
            e.offset
        );
        if let Answer::Respond(status) = want {
            let resp = error_response(&bytes, status, &e.to_string()).expect(name);
            assert_eq!(resp.status, status);
            assert!(
                resp.headers.get(&HeaderName::To).unwrap().contains("tag="),
                "{name}"
            );
            assert_eq!(
                resp.headers.call_id(),
                Some("fault.0ha0isndaksdjweiafasdk3")
            );
            // Copied as received: it parses whenever the copied headers do.
            let h = &resp.headers;
            if h.top_via().is_ok() && h.to().is_ok() && h.cseq().is_ok() {
                assert!(parse(&resp.encode()).is_ok(), "{name}");
            }
        }
    }
}
