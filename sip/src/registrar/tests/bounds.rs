//! The registrar's bounds and refusals of unreadable input, each at its edge.

use std::net::SocketAddr;
use std::time::Duration;

use super::super::*;
use super::{
    ALICE, ALICE_PW, CONTACT, Phone, addr, header, registrar, request, response, t0, table,
};

#[test]
fn bad_contacts_are_400() {
    let mut reg = registrar();
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    for c in [
        "Contact: <tel:+15551234>\r\n",
        "Contact: <sip:alice@192.0.2.10>;q=2\r\n",
        "Contact: <sip:alice@192.0.2.10>;q=0.1234\r\n",
        "Contact: <sip:alice@192.0.2.10>;expires=soon\r\n",
        "Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:x>\";reg-id=x\r\n",
    ] {
        assert_eq!(phone.register(&mut reg, now, 0, c, "").status, 400, "{c}");
    }
    let long = format!("Contact: <sip:{}@192.0.2.10>\r\n", "a".repeat(MAX_CONTACT));
    assert_eq!(phone.register(&mut reg, now, 0, &long, "").status, 400);
    assert_eq!(reg.stats().malformed, 6);
    assert!(reg.bindings(ALICE).is_empty());
}

#[test]
fn unreadable_headers_are_400() {
    let mut reg = registrar();
    let now = t0();
    let base = Phone::new(ALICE, ALICE_PW).text(CONTACT, "");
    for (from, to) in [
        (
            "REGISTER sip:offhook.local SIP/2.0",
            "OPTIONS sip:offhook.local SIP/2.0",
        ),
        ("To: <sip:alice@offhook.local>", "To: <tel:+1555>"),
        (
            "Call-ID: alice-8f3c2a1b@192.0.2.10",
            &*format!("Call-ID: {}", "c".repeat(MAX_CALL_ID + 1)),
        ),
        (
            "Contact: <sip",
            "Authorization: Digest bogus\r\nContact: <sip",
        ),
    ] {
        let mut text = base.replace(from, to);
        assert_ne!(text, base);
        if from.starts_with("REGISTER") {
            // Not a REGISTER at all (a caller's mistake): CSeq and request line agree.
            text = text.replace("1 REGISTER", "1 OPTIONS");
        }
        let r = response(reg.handle_register(
            now,
            0,
            addr("192.0.2.10:5060"),
            Transport::Udp,
            &request(&text),
            &table(),
        ));
        assert_eq!(r.status, 400, "{to}");
    }
    assert_eq!(reg.stats().malformed, 4);
}

#[test]
fn request_line_and_cseq_must_both_say_register() {
    let mut reg = registrar();
    let mut req = request(&Phone::new(ALICE, ALICE_PW).text(CONTACT, ""));
    req.method = Method::Options; // CSeq still says REGISTER
    let r = response(reg.handle_register(
        t0(),
        0,
        addr("192.0.2.10:5060"),
        Transport::Udp,
        &req,
        &table(),
    ));
    assert_eq!(r.status, 400);
}

#[test]
fn a_call_id_of_the_longest_length_is_kept() {
    let mut reg = registrar();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    phone.call_id = "c".repeat(MAX_CALL_ID);
    assert_eq!(phone.register(&mut reg, t0(), 0, CONTACT, "").status, 200);
    assert_eq!(reg.bindings(ALICE)[0].call_id.len(), MAX_CALL_ID);
}

#[test]
fn contact_bounds_are_inclusive() {
    let mut config = Config::default();
    config.max_contacts_per_user(2).unwrap();
    let mut reg = Registrar::new(config, [7; 32]);
    let mut phone = Phone::new(ALICE, ALICE_PW);
    let now = t0();
    let two = "Contact: <sip:alice@192.0.2.1>, <sip:alice@192.0.2.2>\r\n";
    assert_eq!(phone.register(&mut reg, now, 0, two, "").status, 200);
    // A contact exactly MAX_CONTACT bytes long, as encoded, is kept; one more is refused.
    let contact = |n: usize| format!("<sip:{}@192.0.2.10>", "a".repeat(n));
    let fixed = contact(1).parse::<NameAddr>().unwrap().to_string().len() - 1;
    let n = MAX_CONTACT - fixed;
    assert_eq!(
        contact(n).parse::<NameAddr>().unwrap().to_string().len(),
        MAX_CONTACT
    );
    let line = format!("Contact: {}\r\n", contact(n));
    assert_eq!(phone.register(&mut reg, now, 0, &line, "").status, 200);
    let line = format!("Contact: {}\r\n", contact(n + 1));
    assert_eq!(phone.register(&mut reg, now, 0, &line, "").status, 400);
    // The same for +sip.instance.
    let inst = |n: usize| {
        format!(
            "Contact: <sip:alice@192.0.2.3>;+sip.instance=\"<{}>\";reg-id=1\r\n",
            "u".repeat(n - 2)
        )
    };
    assert_eq!(
        phone
            .register(&mut reg, now, 0, &inst(MAX_INSTANCE), "")
            .status,
        200
    );
    assert_eq!(
        phone
            .register(&mut reg, now, 0, &inst(MAX_INSTANCE + 1), "")
            .status,
        400
    );
    for bad in [
        "Contact: <sip:alice@192.0.2.3>;+sip.instance=\"\";reg-id=1\r\n",
        "Contact: <sip:alice@192.0.2.3>;+sip.instance=\"<urn:x>\";reg-id=0\r\n",
    ] {
        assert_eq!(
            phone.register(&mut reg, now, 0, bad, "").status,
            400,
            "{bad}"
        );
    }
}

#[test]
fn a_423_only_below_an_hour() {
    let mut config = Config::default();
    let s = Duration::from_secs;
    config.expires(s(7200), s(7200), s(7200)).unwrap();
    let mut reg = Registrar::new(config, [7; 32]);
    let mut phone = Phone::new(ALICE, ALICE_PW);
    let r = phone.register(&mut reg, t0(), 0, CONTACT, "Expires: 3599\r\n");
    assert_eq!(r.status, 423);
    assert_eq!(header(&r, &HeaderName::MinExpires), ["7200"]);
    // RFC 3261 §10.3 step 7: an hour or more is never too brief.
    let r = phone.register(&mut reg, t0(), 0, CONTACT, "Expires: 3600\r\n");
    assert_eq!(r.status, 200);
}

#[test]
fn responses_carry_fresh_to_tags() {
    let mut reg = registrar();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    let tags: Vec<String> = (0..2)
        .map(|_| {
            let text = phone.text(CONTACT, "");
            let r = response(reg.handle_register(
                t0(),
                0,
                phone.source,
                Transport::Udp,
                &request(&text),
                &table(),
            ));
            r.headers.to().unwrap().tag().unwrap().to_owned()
        })
        .collect();
    assert_ne!(tags[0], tags[1]);
}

#[test]
fn a_full_failure_table_forgets_the_oldest_source() {
    let mut reg = registrar();
    let mut thief = Phone::new(ALICE, "guess");
    let text = thief.text(CONTACT, "");
    let r = response(reg.handle_register(
        t0(),
        0,
        thief.source,
        Transport::Udp,
        &request(&text),
        &table(),
    ));
    thief.take_challenge(&r);
    let wrong = request(&thief.text(CONTACT, ""));
    for i in 0..=MAX_FAILURE_SOURCES as u32 {
        let from = SocketAddr::new(
            std::net::IpAddr::from((0x0a00_0000 + i).to_be_bytes()),
            5060,
        );
        let r = response(reg.handle_register(t0(), 1, from, Transport::Udp, &wrong, &table()));
        assert_eq!(r.status, 403);
    }
    let s = reg.stats();
    assert_eq!(s.auth_failed, MAX_FAILURE_SOURCES as u64 + 1);
    assert_eq!(s.sources_evicted, 1);
}

#[test]
fn listed_contacts_round_up_and_keep_their_parameters() {
    let mut reg = registrar();
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    let c = "Contact: <sip:alice@192.0.2.10>;+sip.instance=\"<urn:x>\";expires=120\r\n";
    phone.register(&mut reg, now, 0, c, "");
    let later = now + Duration::from_millis(10_500);
    let r = phone.register(&mut reg, later, 10_500, "", "");
    let listed: NameAddr = header(&r, &HeaderName::Contact)[0].parse().unwrap();
    let expires: Vec<_> = listed
        .params
        .iter()
        .filter(|(n, _)| n == "expires")
        .collect();
    assert_eq!(expires.len(), 1);
    assert_eq!(param(&listed, "expires"), Some("110"), "109.5 s rounds up");
    assert_eq!(param(&listed, "+sip.instance"), Some("\"<urn:x>\""));
}

#[test]
fn a_transport_parameter_makes_another_contact() {
    let mut reg = registrar();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    let c = "Contact: <sip:alice@192.0.2.10>, <sip:alice@192.0.2.10;transport=tcp>\r\n";
    phone.register(&mut reg, t0(), 0, c, "");
    assert_eq!(reg.bindings(ALICE).len(), 2);
    let c = "Contact: <sip:alice@192.0.2.10;transport=TCP>\r\n";
    phone.register(&mut reg, t0(), 0, c, "");
    assert_eq!(
        reg.bindings(ALICE).len(),
        2,
        "transport compared case-insensitively"
    );
}

#[test]
fn user_agents_are_cut_on_a_character_boundary() {
    let ua = format!("a{}", "é".repeat(200));
    let cut = cut_user_agent(&ua);
    assert_eq!(cut.len(), MAX_USER_AGENT - 1);
    assert!(ua.starts_with(&cut));
}
