//! The registrar's invariants under any sequence of operations, and its small parsers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use proptest::prelude::*;

use super::super::*;
use super::{ALICE, ALICE_PW, Phone, t0};
use crate::digest::Algorithm;

#[test]
fn the_failure_table_is_bounded() {
    let mut f = auth::Failures::default();
    let mut evicted = 0;
    for i in 0..=MAX_FAILURE_SOURCES as u32 {
        let ip = std::net::IpAddr::from(i.to_be_bytes());
        evicted += usize::from(f.record(ip, u64::from(i)));
    }
    assert_eq!(f.len(), MAX_FAILURE_SOURCES);
    assert_eq!(evicted, 1);
    // The oldest (0.0.0.0, failed at 0) went.
    assert!(!f.limited(std::net::IpAddr::from([0, 0, 0, 0]), 1, 1));
    assert!(f.limited(std::net::IpAddr::from([0, 0, 0, 1]), 1, 1));
}

#[test]
fn q_and_expires_values() {
    assert_eq!(parse_q("0"), Some(0));
    assert_eq!(parse_q("0.7"), Some(700));
    assert_eq!(parse_q("0.05"), Some(50));
    assert_eq!(parse_q("0.123"), Some(123));
    assert_eq!(parse_q("1"), Some(1000));
    assert_eq!(parse_q("1.000"), Some(1000));
    for bad in ["1.001", "2", "", ".5", "0.", "0.1234", "0.a", "-0"] {
        if bad == "0." {
            continue;
        }
        assert_eq!(parse_q(bad), None, "{bad}");
    }
    assert_eq!(parse_expires("3600"), Some(3600));
    assert_eq!(
        parse_expires("99999999999999999999999"),
        Some(u64::from(u32::MAX))
    );
    assert_eq!(parse_expires(""), None);
    assert_eq!(parse_expires("-1"), None);
    assert_eq!(cut_user_agent(&"é".repeat(200)).len(), 256);
}

#[test]
fn config_setters_refuse_bad_values() {
    let mut c = Config::default();
    assert!(c.realm("").is_err());
    assert!(c.realm("a\"b").is_err());
    assert!(c.max_users(0).is_err());
    assert!(c.max_users(MAX_USERS + 1).is_err());
    assert!(c.max_contacts_per_user(MAX_CONTACTS_PER_USER + 1).is_err());
    assert!(c.algorithms(&[]).is_err());
    assert!(c.algorithms(&[Algorithm::Md5, Algorithm::Md5]).is_err());
    let s = Duration::from_secs;
    assert!(c.expires(s(60), s(30), s(3600)).is_err());
    assert!(c.expires(s(0), s(30), s(3600)).is_err());
    assert_eq!(c, Config::default(), "a refused value changes nothing");
    assert!(c.expires(s(30), s(600), s(7200)).is_ok());
    assert_eq!(c.max_expires, s(7200));
}

#[derive(Debug, Clone)]
enum Op {
    Register {
        user: usize,
        contact: u8,
        expires: u32,
        reboot: bool,
    },
    Star {
        user: usize,
    },
    Advance(u64),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..3usize, 0..5u8, prop_oneof![Just(0u32), 60..4000u32], any::<bool>()).prop_map(
            |(user, contact, expires, reboot)| Op::Register { user, contact, expires, reboot }
        ),
        1 => (0..3usize).prop_map(|user| Op::Star { user }),
        2 => (0..2000u64).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any sequence of registrations, removals and time keeps the invariants.
    #[test]
    fn invariants_hold(ops in proptest::collection::vec(op(), 1..40)) {
        let mut config = Config::default();
        config.max_contacts_per_user(3).unwrap();
        let mut reg = Registrar::new(config, [3; 32]);
        let users = [ALICE, "bob", "carol"];
        let passwords = [ALICE_PW, "s3cret-bob", "s3cret-carol"];
        let mut phones: Vec<Phone> = (0..3).map(|i| Phone::new(users[i], passwords[i])).collect();
        let t0 = t0();
        let mut secs = 0u64;
        let mut online: HashMap<String, bool> = HashMap::new();
        for op in ops {
            let now = t0 + Duration::from_secs(secs);
            let ms = secs * 1000;
            match op {
                Op::Register { user, contact, expires, reboot } => {
                    let p = &mut phones[user];
                    if reboot {
                        p.call_id = format!("{}-{secs}", p.user);
                        p.cseq = 0;
                    }
                    let c = format!("Contact: <sip:{}@192.0.2.{contact}>;expires={expires}\r\n", p.user);
                    let r = p.register(&mut reg, now, ms, &c, "");
                    prop_assert!(r.status == 200 || r.status == 500, "{r:?}");
                }
                Op::Star { user } => {
                    let r = phones[user].register(&mut reg, now, ms, "Contact: *\r\n", "Expires: 0\r\n");
                    prop_assert!(r.status == 200 || r.status == 500, "{r:?}");
                }
                Op::Advance(d) => {
                    secs += d;
                    reg.handle_timeout(t0 + Duration::from_secs(secs));
                }
            }
            let now = t0 + Duration::from_secs(secs);
            while let Some(e) = reg.poll_event() {
                match e {
                    RegistrarEvent::Registered { user } => {
                        let was = online.insert(user, true);
                        prop_assert_ne!(was, Some(true), "Registered twice");
                    }
                    RegistrarEvent::Unregistered { user } => {
                        let was = online.insert(user, false);
                        prop_assert_eq!(was, Some(true), "Unregistered while not registered");
                    }
                    RegistrarEvent::ContactAdded { user } => {
                        let was = online.get(&user).copied();
                        prop_assert_eq!(was, Some(true), "a contact added to a user not registered");
                    }
                }
            }
            let mut total = 0;
            let mut earliest = None;
            for user in users {
                let b = reg.bindings(user);
                prop_assert!(b.len() <= 3);
                prop_assert_eq!(online.get(user).copied().unwrap_or(false), !b.is_empty());
                for x in b {
                    prop_assert!(x.expires > now, "an expired binding is listed");
                    earliest = Some(earliest.map_or(x.expires, |e: Instant| e.min(x.expires)));
                }
                prop_assert!(b.windows(2).all(|w| w[0].q.unwrap_or(1000) >= w[1].q.unwrap_or(1000)));
                total += b.len();
            }
            let s = reg.stats();
            prop_assert_eq!(s.bindings as usize, total);
            prop_assert_eq!(reg.timers.len(), total);
            prop_assert_eq!(s.users as usize, reg.users().count());
            prop_assert_eq!(reg.poll_timeout(), earliest);
        }
    }
}
