//! The registrar's rules, with REGISTER texts as phones send them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::digest::{self, Algorithm, Challenge};
use crate::wire::{self, Message};

const ALICE: &str = "alice";
const ALICE_PW: &str = "s3cret-alice";

struct Table(HashMap<String, String>);

impl Accounts for Table {
    fn secret(&self, sip_username: &str) -> Option<String> {
        self.0.get(sip_username).cloned()
    }
}

fn table() -> Table {
    Table(HashMap::from([
        (ALICE.to_owned(), ALICE_PW.to_owned()),
        ("bob".to_owned(), "s3cret-bob".to_owned()),
        ("carol".to_owned(), "s3cret-carol".to_owned()),
    ]))
}

#[allow(clippy::disallowed_methods)] // a base instant for virtual time, never a measurement
fn t0() -> Instant {
    Instant::now()
}

fn registrar() -> Registrar {
    Registrar::new(Config::default(), [7; 32])
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

fn request(text: &str) -> Request {
    match wire::parse(text.as_bytes()) {
        Ok(Message::Request(r)) => r,
        other => panic!("not a request: {other:?}\n{text}"),
    }
}

fn response(outcome: Outcome) -> Response {
    match outcome {
        Outcome::Respond(r) => r,
        Outcome::Drop => panic!("dropped"),
    }
}

fn header<'a>(r: &'a Response, name: &'a HeaderName) -> Vec<&'a str> {
    r.headers.get_all(name).collect()
}

/// A phone as baresip behaves: one Call-ID for its registrations, CSeq up by one each time,
/// the last challenge kept and answered at once.
struct Phone {
    user: String,
    to_user: String,
    password: String,
    call_id: String,
    cseq: u32,
    challenge: Option<Challenge>,
    algorithm: Option<Algorithm>,
    nc: u32,
    source: SocketAddr,
}

impl Phone {
    fn new(user: &str, password: &str) -> Self {
        Self {
            user: user.to_owned(),
            to_user: user.to_owned(),
            password: password.to_owned(),
            call_id: format!("{user}-8f3c2a1b@192.0.2.10"),
            cseq: 0,
            challenge: None,
            algorithm: None,
            nc: 0,
            source: addr("192.0.2.10:5060"),
        }
    }

    /// The REGISTER text, with `contacts` (whole `Contact:` lines) and `extra` header lines.
    fn text(&mut self, contacts: &str, extra: &str) -> String {
        self.cseq += 1;
        let auth = match &self.challenge {
            Some(c) => {
                self.nc += 1;
                let creds = digest::authorize(
                    c,
                    &self.user,
                    &self.password,
                    "REGISTER",
                    "sip:offhook.local",
                    "0a4f113b",
                    self.nc,
                );
                format!("Authorization: {}\r\n", creds.header_value())
            }
            None => String::new(),
        };
        format!(
            "REGISTER sip:offhook.local SIP/2.0\r\n\
             Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bK{cseq}x;rport\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:{user}@offhook.local>;tag=b5c0e7\r\n\
             To: <sip:{to}@offhook.local>\r\n\
             Call-ID: {call_id}\r\n\
             CSeq: {cseq} REGISTER\r\n\
             {contacts}{extra}{auth}\
             User-Agent: baresip v3.10.1 (x86_64/Linux)\r\n\
             Allow: INVITE,ACK,BYE,CANCEL,OPTIONS,NOTIFY,SUBSCRIBE,INFO,MESSAGE,UPDATE,REFER\r\n\
             Content-Length: 0\r\n\r\n",
            cseq = self.cseq,
            user = self.user,
            to = self.to_user,
            call_id = self.call_id,
        )
    }

    /// Sends a REGISTER, answering one 401 as a phone does; the final response.
    fn register(
        &mut self,
        reg: &mut Registrar,
        now: Instant,
        now_ms: u64,
        contacts: &str,
        extra: &str,
    ) -> Response {
        for _ in 0..2 {
            let text = self.text(contacts, extra);
            let r = response(reg.handle_register(
                now,
                now_ms,
                self.source,
                Transport::Udp,
                &request(&text),
                &table(),
            ));
            if r.status != 401 {
                return r;
            }
            self.take_challenge(&r);
        }
        panic!("challenged twice");
    }

    fn take_challenge(&mut self, r: &Response) {
        let challenges: Vec<Challenge> = header(r, &HeaderName::WwwAuthenticate)
            .into_iter()
            .map(|v| Challenge::parse(v).unwrap())
            .collect();
        let pick = match self.algorithm {
            Some(a) => challenges.into_iter().find(|c| c.algorithm == a),
            None => challenges.into_iter().next(),
        };
        self.challenge = pick;
        self.nc = 0;
    }
}

const CONTACT: &str = "Contact: <sip:alice@192.0.2.10:5060;transport=udp>\r\n";

#[test]
fn challenge_then_authorised_then_200_with_the_binding() {
    let mut reg = registrar();
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    let text = phone.text(CONTACT, "");
    let r = response(reg.handle_register(
        now,
        1_000,
        phone.source,
        Transport::Udp,
        &request(&text),
        &table(),
    ));
    assert_eq!(r.status, 401);
    let challenges = header(&r, &HeaderName::WwwAuthenticate);
    assert_eq!(challenges.len(), 2, "one challenge per algorithm");
    let first = Challenge::parse(challenges[0]).unwrap();
    let second = Challenge::parse(challenges[1]).unwrap();
    assert_eq!(
        first.algorithm,
        Algorithm::Sha256,
        "RFC 8760: SHA-256 first"
    );
    assert_eq!(second.algorithm, Algorithm::Md5);
    assert_eq!(first.realm, "offhook");
    assert!(!first.stale);
    assert!(r.headers.to().unwrap().tag().is_some(), "a To tag");
    assert_eq!(reg.stats().challenged, 1);
    assert!(reg.bindings(ALICE).is_empty());
    assert_eq!(reg.poll_event(), None);

    phone.take_challenge(&r);
    let text = phone.text(CONTACT, "");
    let r = response(reg.handle_register(
        now,
        1_500,
        phone.source,
        Transport::Udp,
        &request(&text),
        &table(),
    ));
    assert_eq!(r.status, 200, "{r:?}");
    let contacts = header(&r, &HeaderName::Contact);
    assert_eq!(contacts.len(), 1);
    let listed: NameAddr = contacts[0].parse().unwrap();
    assert_eq!(listed.uri.host, "192.0.2.10");
    assert_eq!(param(&listed, "expires"), Some("3600"));
    let b = &reg.bindings(ALICE)[0];
    assert_eq!(b.source, phone.source);
    assert_eq!(b.transport, Transport::Udp);
    assert_eq!(b.expires, now + Duration::from_secs(3600));
    assert_eq!(b.call_id, phone.call_id);
    assert_eq!(b.cseq, 2);
    assert_eq!(
        b.user_agent.as_deref(),
        Some("baresip v3.10.1 (x86_64/Linux)")
    );
    assert_eq!(
        reg.poll_event(),
        Some(RegistrarEvent::Registered {
            user: ALICE.to_owned()
        })
    );
    assert_eq!(reg.poll_event(), None);
    assert_eq!(reg.users().collect::<Vec<_>>(), [ALICE]);
    let s = reg.stats();
    assert_eq!((s.registered, s.bindings, s.users), (1, 1, 1));
    assert_eq!(reg.poll_timeout(), Some(now + Duration::from_secs(3600)));
}

#[test]
fn md5_credentials_are_accepted_too() {
    let mut reg = registrar();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    phone.algorithm = Some(Algorithm::Md5);
    let r = phone.register(&mut reg, t0(), 0, CONTACT, "");
    assert_eq!(r.status, 200);
    assert_eq!(reg.bindings(ALICE).len(), 1);
}

#[test]
fn an_algorithm_not_offered_is_challenged_again() {
    let mut config = Config::default();
    config.algorithms(&[Algorithm::Sha256]).unwrap();
    let mut reg = Registrar::new(config, [7; 32]);
    let mut phone = Phone::new(ALICE, ALICE_PW);
    phone.challenge = Some(Challenge {
        realm: "offhook".to_owned(),
        nonce: reg.nonces.issue(0),
        algorithm: Algorithm::Md5,
        stale: false,
        opaque: None,
    });
    let text = phone.text(CONTACT, "");
    let r = response(reg.handle_register(
        t0(),
        0,
        phone.source,
        Transport::Udp,
        &request(&text),
        &table(),
    ));
    assert_eq!(r.status, 401);
    assert_eq!(header(&r, &HeaderName::WwwAuthenticate).len(), 1);
    assert!(reg.bindings(ALICE).is_empty());
}

#[test]
fn refresh_keeps_one_binding_and_moves_its_expiry() {
    let mut reg = registrar();
    let t0 = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    assert_eq!(phone.register(&mut reg, t0, 0, CONTACT, "").status, 200);
    let t1 = t0 + Duration::from_secs(1800);
    let r = phone.register(&mut reg, t1, 1_800_000, CONTACT, "Expires: 3000\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(reg.bindings(ALICE).len(), 1);
    assert_eq!(
        reg.bindings(ALICE)[0].expires,
        t1 + Duration::from_secs(3000)
    );
    assert_eq!(reg.poll_timeout(), Some(t1 + Duration::from_secs(3000)));
    assert_eq!(reg.stats().refreshed, 1);
    assert_eq!(reg.stats().registered, 1);
    assert!(matches!(
        reg.poll_event(),
        Some(RegistrarEvent::Registered { .. })
    ));
    assert_eq!(
        reg.poll_event(),
        None,
        "a refresh is not a new registration"
    );
    // The old expiry no longer fires.
    reg.handle_timeout(t0 + Duration::from_secs(3600));
    assert_eq!(reg.bindings(ALICE).len(), 1);
}

#[test]
fn several_contacts_listed_best_q_first() {
    let mut reg = registrar();
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    let contacts = "Contact: <sip:alice@192.0.2.10:5060>;q=0.5\r\n\
                    Contact: <sip:alice@192.0.2.11:5060>;q=0.9, <sip:alice@192.0.2.12>;expires=120\r\n";
    let r = phone.register(&mut reg, now, 0, contacts, "");
    assert_eq!(r.status, 200);
    let hosts: Vec<&str> = reg
        .bindings(ALICE)
        .iter()
        .map(|b| b.contact.uri.host.as_str())
        .collect();
    assert_eq!(hosts, ["192.0.2.12", "192.0.2.11", "192.0.2.10"]);
    assert_eq!(reg.bindings(ALICE)[1].q, Some(900));
    assert_eq!(header(&r, &HeaderName::Contact).len(), 3);
    assert_eq!(reg.poll_timeout(), Some(now + Duration::from_secs(120)));
    assert_eq!(reg.stats().bindings, 3);
}

#[test]
fn a_register_without_contact_lists_the_bindings() {
    let mut reg = registrar();
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    phone.register(&mut reg, now, 0, CONTACT, "");
    let r = phone.register(&mut reg, now + Duration::from_secs(100), 100_000, "", "");
    assert_eq!(r.status, 200);
    let listed: NameAddr = header(&r, &HeaderName::Contact)[0].parse().unwrap();
    assert_eq!(param(&listed, "expires"), Some("3500"));
    assert_eq!(reg.bindings(ALICE)[0].cseq, 2, "a query changes nothing");
}

#[test]
fn star_with_expires_zero_removes_all() {
    let mut reg = registrar();
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    let two = "Contact: <sip:alice@192.0.2.10>, <sip:alice@192.0.2.11>\r\n";
    phone.register(&mut reg, now, 0, two, "");
    let r = phone.register(&mut reg, now, 0, "Contact: *\r\n", "Expires: 0\r\n");
    assert_eq!(r.status, 200);
    assert!(header(&r, &HeaderName::Contact).is_empty());
    assert!(reg.bindings(ALICE).is_empty());
    assert_eq!(reg.users().count(), 0);
    assert_eq!(reg.poll_timeout(), None);
    assert_eq!(reg.stats().removed, 2);
    assert_eq!(reg.stats().bindings, 0);
    assert!(matches!(
        reg.poll_event(),
        Some(RegistrarEvent::Registered { .. })
    ));
    assert_eq!(
        reg.poll_event(),
        Some(RegistrarEvent::Unregistered {
            user: ALICE.to_owned()
        })
    );
}

#[test]
fn star_needs_expires_zero_and_no_other_contact() {
    let mut reg = registrar();
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    phone.register(&mut reg, now, 0, CONTACT, "");
    for (contacts, extra) in [
        ("Contact: *\r\n", ""),
        ("Contact: *\r\n", "Expires: 60\r\n"),
        ("Contact: *, <sip:alice@192.0.2.10>\r\n", "Expires: 0\r\n"),
    ] {
        let r = phone.register(&mut reg, now, 0, contacts, extra);
        assert_eq!(r.status, 400, "{contacts} {extra}");
    }
    assert_eq!(reg.stats().malformed, 3);
    assert_eq!(reg.bindings(ALICE).len(), 1);
}

#[test]
fn expires_zero_removes_one_binding() {
    let mut reg = registrar();
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    let two = "Contact: <sip:alice@192.0.2.10>, <sip:alice@192.0.2.11>\r\n";
    phone.register(&mut reg, now, 0, two, "");
    let r = phone.register(
        &mut reg,
        now,
        0,
        "Contact: <sip:alice@192.0.2.10>;expires=0\r\n",
        "",
    );
    assert_eq!(r.status, 200);
    assert_eq!(reg.bindings(ALICE).len(), 1);
    assert_eq!(reg.bindings(ALICE)[0].contact.uri.host, "192.0.2.11");
    assert_eq!(reg.stats().removed, 1);
}

#[test]
fn bindings_expire_by_time() {
    let mut reg = registrar();
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    phone.register(&mut reg, now, 0, CONTACT, "Expires: 120\r\n");
    let at = reg.poll_timeout().unwrap();
    assert_eq!(at, now + Duration::from_secs(120));
    reg.handle_timeout(at - Duration::from_millis(1));
    assert_eq!(reg.bindings(ALICE).len(), 1);
    reg.poll_event();
    reg.handle_timeout(at);
    assert!(reg.bindings(ALICE).is_empty());
    assert_eq!(reg.poll_timeout(), None);
    assert_eq!(reg.stats().expired, 1);
    assert_eq!(reg.stats().users, 0);
    assert_eq!(
        reg.poll_event(),
        Some(RegistrarEvent::Unregistered {
            user: ALICE.to_owned()
        })
    );
}

#[test]
fn too_brief_is_423_with_min_expires_and_too_long_is_cut() {
    let mut reg = registrar();
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    let r = phone.register(&mut reg, now, 0, CONTACT, "Expires: 30\r\n");
    assert_eq!(r.status, 423);
    assert_eq!(header(&r, &HeaderName::MinExpires), ["60"]);
    let brief = "Contact: <sip:alice@192.0.2.10>;expires=59\r\n";
    assert_eq!(phone.register(&mut reg, now, 0, brief, "").status, 423);
    assert_eq!(reg.stats().too_brief, 2);
    let r = phone.register(&mut reg, now, 0, CONTACT, "Expires: 60\r\n");
    assert_eq!(r.status, 200, "the minimum itself is fine");
    let r = phone.register(&mut reg, now, 0, CONTACT, "Expires: 99999999999\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(
        reg.bindings(ALICE)[0].expires,
        now + Duration::from_secs(3600)
    );
}

#[test]
fn wrong_password_is_403_and_rate_limited_per_source() {
    let mut reg = registrar();
    let now = t0();
    let mut thief = Phone::new(ALICE, "guess");
    for i in 0..10 {
        let r = thief.register(&mut reg, now, i * 1000, CONTACT, "");
        assert_eq!(r.status, 403, "attempt {i}");
    }
    assert_eq!(reg.stats().auth_failed, 10);
    // The 11th is refused unchecked, even with the right password from the same address.
    let mut owner = Phone::new(ALICE, ALICE_PW);
    let r = owner.register(&mut reg, now, 10_000, CONTACT, "");
    assert_eq!(r.status, 403);
    assert_eq!(reg.stats().rate_limited, 1);
    assert_eq!(reg.stats().auth_failed, 10, "not checked");
    assert_eq!(reg.stats().challenged, 1, "not even challenged");
    // Another address is not limited.
    owner.source = addr("192.0.2.99:5060");
    assert_eq!(
        owner.register(&mut reg, now, 10_000, CONTACT, "").status,
        200
    );
    // Other requests from the limited source are dropped.
    let invite = request(
        "INVITE sip:*97@offhook.local SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKi\r\n\
         From: <sip:alice@offhook.local>;tag=1\r\nTo: <sip:*97@offhook.local>\r\nCall-ID: c\r\n\
         CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(
        reg.authenticate(10_000, addr("192.0.2.10:5060"), &invite, &table()),
        Err(Outcome::Drop)
    );
    assert_eq!(reg.stats().rate_limited, 2);
    // A minute after the first failure, the source may try again.
    owner.source = addr("192.0.2.10:5060");
    assert_eq!(
        owner.register(&mut reg, now, 60_000, CONTACT, "").status,
        200
    );
}

#[test]
fn unknown_user_is_403_and_counts_as_a_failure() {
    let mut reg = registrar();
    let mut mallory = Phone::new("mallory", "x");
    let r = mallory.register(&mut reg, t0(), 0, CONTACT, "");
    assert_eq!(r.status, 403);
    assert_eq!(reg.stats().auth_failed, 1);
    assert_eq!(reg.users().count(), 0);
}

#[test]
fn to_naming_another_user_is_403() {
    let mut reg = registrar();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    phone.to_user = "bob".to_owned();
    let r = phone.register(&mut reg, t0(), 0, CONTACT, "");
    assert_eq!(r.status, 403);
    assert_eq!(reg.stats().forbidden, 1);
    assert_eq!(reg.stats().auth_failed, 0, "the password was right");
    assert!(reg.bindings("bob").is_empty() && reg.bindings(ALICE).is_empty());
}

#[test]
fn stale_nonce_is_401_stale_and_then_accepted() {
    let mut reg = registrar();
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    phone.register(&mut reg, now, 0, CONTACT, "");
    // The cached challenge is now 301 s old.
    let text = phone.text(CONTACT, "");
    let r = response(reg.handle_register(
        now,
        301_000,
        phone.source,
        Transport::Udp,
        &request(&text),
        &table(),
    ));
    assert_eq!(r.status, 401);
    let c = Challenge::parse(header(&r, &HeaderName::WwwAuthenticate)[0]).unwrap();
    assert!(c.stale);
    assert_eq!(reg.stats().stale, 1);
    phone.take_challenge(&r);
    assert_eq!(
        phone.register(&mut reg, now, 301_000, CONTACT, "").status,
        200
    );
    // A stale nonce with a wrong password is a failure, not a stale challenge.
    let mut thief = Phone::new(ALICE, "guess");
    thief.challenge = phone.challenge.clone();
    let text = thief.text(CONTACT, "");
    let r = response(reg.handle_register(
        now,
        700_000,
        thief.source,
        Transport::Udp,
        &request(&text),
        &table(),
    ));
    assert_eq!(r.status, 403);
}

#[test]
fn a_nonce_we_did_not_issue_is_challenged_afresh() {
    let mut reg = registrar();
    let other = Registrar::new(Config::default(), [8; 32]);
    let mut phone = Phone::new(ALICE, ALICE_PW);
    phone.challenge = Some(Challenge {
        realm: "offhook".to_owned(),
        nonce: other.nonces.issue(0),
        algorithm: Algorithm::Sha256,
        stale: false,
        opaque: None,
    });
    let text = phone.text(CONTACT, "");
    let r = response(reg.handle_register(
        t0(),
        0,
        phone.source,
        Transport::Udp,
        &request(&text),
        &table(),
    ));
    assert_eq!(r.status, 401);
    assert!(
        !Challenge::parse(header(&r, &HeaderName::WwwAuthenticate)[0])
            .unwrap()
            .stale
    );
    assert_eq!(reg.stats().auth_failed, 0);
}

#[test]
fn instance_and_reg_id_replace_the_flow() {
    let mut reg = registrar();
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    let inst = "\"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>\"";
    let a = format!("Contact: <sip:alice@192.0.2.10:5060>;+sip.instance={inst};reg-id=1\r\n");
    phone.register(&mut reg, now, 0, &a, "");
    // After a reboot: a new Call-ID, a new port; the same instance and reg-id.
    phone.call_id = "reboot-1@192.0.2.10".to_owned();
    phone.cseq = 0;
    let b = format!("Contact: <sip:alice@192.0.2.10:5072>;+sip.instance={inst};reg-id=1\r\n");
    assert_eq!(phone.register(&mut reg, now, 0, &b, "").status, 200);
    let bindings = reg.bindings(ALICE);
    assert_eq!(bindings.len(), 1);
    assert_eq!(bindings[0].contact.uri.port, Some(5072));
    assert_eq!(
        bindings[0].instance.as_deref(),
        Some("<urn:uuid:00000000-0000-1000-8000-000A95A0E128>")
    );
    assert_eq!(bindings[0].reg_id, Some(1));
    // A second flow (reg-id 2) is a second binding.
    let c = format!("Contact: <sip:alice@192.0.2.10:5073>;+sip.instance={inst};reg-id=2\r\n");
    phone.register(&mut reg, now, 0, &c, "");
    assert_eq!(reg.bindings(ALICE).len(), 2);
}

#[test]
fn same_call_id_and_lower_cseq_is_refused_500() {
    let mut reg = registrar();
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    phone.register(&mut reg, now, 0, CONTACT, "");
    let done = reg.bindings(ALICE)[0].cseq;
    phone.cseq = done - 1; // the next text carries the same CSeq again
    let r = phone.register(&mut reg, now, 0, CONTACT, "Expires: 0\r\n");
    assert_eq!(r.status, 500);
    assert_eq!(reg.stats().out_of_order, 1);
    assert_eq!(reg.bindings(ALICE).len(), 1, "nothing applied");
    // Another Call-ID with a lower CSeq is fine (another phone, or a reboot).
    phone.call_id = "other@192.0.2.10".to_owned();
    phone.cseq = 0;
    assert_eq!(
        phone
            .register(&mut reg, now, 0, CONTACT, "Expires: 0\r\n")
            .status,
        200
    );
    assert!(reg.bindings(ALICE).is_empty());
}

#[test]
fn too_many_contacts_evict_the_oldest_or_are_refused() {
    let mut config = Config::default();
    config.max_contacts_per_user(2).unwrap();
    let mut reg = Registrar::new(config, [7; 32]);
    let now = t0();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    for host in ["192.0.2.1", "192.0.2.2", "192.0.2.3"] {
        let c = format!("Contact: <sip:alice@{host}>\r\n");
        assert_eq!(phone.register(&mut reg, now, 0, &c, "").status, 200);
    }
    let mut hosts: Vec<&str> = reg
        .bindings(ALICE)
        .iter()
        .map(|b| b.contact.uri.host.as_str())
        .collect();
    hosts.sort_unstable();
    assert_eq!(hosts, ["192.0.2.2", "192.0.2.3"]);
    assert_eq!(reg.stats().evicted, 1);
    assert_eq!(
        reg.timers.len(),
        2,
        "the evicted binding's timer went with it"
    );
    let three = "Contact: <sip:alice@192.0.2.4>, <sip:alice@192.0.2.5>, <sip:alice@192.0.2.6>\r\n";
    assert_eq!(phone.register(&mut reg, now, 0, three, "").status, 403);
    assert_eq!(reg.stats().too_many_contacts, 1);
}

#[test]
fn a_full_registrar_answers_503() {
    let mut config = Config::default();
    config.max_users(1).unwrap();
    let mut reg = Registrar::new(config, [7; 32]);
    let now = t0();
    assert_eq!(
        Phone::new(ALICE, ALICE_PW)
            .register(&mut reg, now, 0, CONTACT, "")
            .status,
        200
    );
    let mut bob = Phone::new("bob", "s3cret-bob");
    let r = bob.register(&mut reg, now, 0, "Contact: <sip:bob@192.0.2.20>\r\n", "");
    assert_eq!(r.status, 503);
    assert_eq!(header(&r, &HeaderName::RetryAfter), ["60"]);
    assert_eq!(reg.stats().full, 1);
}

#[test]
fn digest_uri_must_name_the_request_uri() {
    let mut reg = registrar();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    let text = phone.text(CONTACT, "");
    let r = response(reg.handle_register(
        t0(),
        0,
        phone.source,
        Transport::Udp,
        &request(&text),
        &table(),
    ));
    phone.take_challenge(&r);
    let text = phone.text(CONTACT, "").replace(
        "REGISTER sip:offhook.local",
        "REGISTER sip:elsewhere.example",
    );
    let r = response(reg.handle_register(
        t0(),
        0,
        phone.source,
        Transport::Udp,
        &request(&text),
        &table(),
    ));
    assert_eq!(r.status, 400);
}

#[test]
fn require_is_420() {
    let mut reg = registrar();
    let mut phone = Phone::new(ALICE, ALICE_PW);
    let r = phone.register(&mut reg, t0(), 0, CONTACT, "Require: gruu\r\n");
    assert_eq!(r.status, 420);
    assert_eq!(header(&r, &HeaderName::Unsupported), ["gruu"]);
    assert_eq!(reg.stats().bad_extension, 1);
}

#[test]
fn authenticate_other_requests() {
    let mut reg = registrar();
    let from = addr("192.0.2.10:5060");
    let invite = |auth: &str| {
        request(&format!(
            "INVITE sip:*97@offhook.local SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKi\r\n\
             From: <sip:alice@offhook.local>;tag=1\r\nTo: <sip:*97@offhook.local>\r\nCall-ID: c\r\n\
             CSeq: 1 INVITE\r\n{auth}Content-Length: 0\r\n\r\n"
        ))
    };
    let Err(Outcome::Respond(r)) = reg.authenticate(0, from, &invite(""), &table()) else {
        panic!("not challenged");
    };
    assert_eq!(r.status, 401);
    let c = Challenge::parse(header(&r, &HeaderName::WwwAuthenticate)[0]).unwrap();
    let creds = digest::authorize(
        &c,
        ALICE,
        ALICE_PW,
        "INVITE",
        "sip:*97@offhook.local",
        "cn",
        1,
    );
    let auth = format!("Authorization: {}\r\n", creds.header_value());
    assert_eq!(
        reg.authenticate(10, from, &invite(&auth), &table()),
        Ok(ALICE.to_owned())
    );
    assert_eq!(reg.stats().authenticated, 1);
    // The same credentials do not pass for another method.
    let bye = invite(&auth);
    let mut bye = bye;
    bye.method = Method::Bye;
    let Err(Outcome::Respond(r)) = reg.authenticate(10, from, &bye, &table()) else {
        panic!("accepted");
    };
    assert_eq!(r.status, 403);
}

mod bounds;
mod invariants;
