#![no_main]
//! Feeds the SIP registrar arbitrary REGISTERs: raw bytes through `wire::parse` (from two
//! sources, so the failure table fills), and REGISTERs that pass digest authentication for a
//! known user with fuzzed header lines (contacts, expiry, Require…) so the binding rules are
//! reached, plus time jumps. It must never panic, and after every step the registrar's
//! invariants hold: no user beyond its bound of bindings, none lapsed, events alternating.
//!
//! Input format: records `op, len (u8), payload`; `op % 4` picks raw bytes from 192.0.2.1, raw
//! bytes from 192.0.2.2, an authenticated REGISTER for alice with `payload` as header lines
//! (CSeq and Call-ID from `payload[0]`), or a jump of `payload[0..2]` seconds (le).
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sip::digest::{self, Challenge};
use sip::registrar::{Accounts, Config, Outcome, Registrar, RegistrarEvent};
use sip::wire::{self, HeaderName, Message, Transport};

struct Table;

impl Accounts for Table {
    fn secret(&self, user: &str) -> Option<String> {
        (user == "alice").then(|| "pw".to_owned())
    }
}

const MAX_CONTACTS: usize = 3;

fn handle(
    reg: &mut Registrar,
    now: Instant,
    ms: u64,
    from: SocketAddr,
    bytes: &[u8],
) -> Option<u16> {
    let Ok(Message::Request(req)) = wire::parse(bytes) else {
        return None;
    };
    let _ = reg.authenticate(ms, from, &req, &Table);
    match reg.handle_register(now, ms, from, Transport::Udp, &req, &Table) {
        Outcome::Respond(r) => Some(r.status),
        Outcome::Drop => None,
    }
}

fn register_text(call_id: u8, cseq: u32, lines: &str, auth: &str) -> String {
    format!(
        "REGISTER sip:offhook.local SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.3;branch=z9hG4bK{cseq}\r\n\
         From: <sip:alice@offhook.local>;tag=f\r\nTo: <sip:alice@offhook.local>\r\n\
         Call-ID: c{call_id}\r\nCSeq: {cseq} REGISTER\r\n{lines}\r\n{auth}Content-Length: 0\r\n\r\n"
    )
}

fuzz_target!(|data: &[u8]| {
    let mut config = Config::default();
    config.max_contacts_per_user(MAX_CONTACTS).unwrap();
    config.auth_failures_per_minute(2).unwrap();
    let mut reg = Registrar::new(config, [9; 32]);
    let t0 = Instant::now();
    let mut secs = 0u64;
    let mut cseq = 0u32;
    let mut online: HashMap<String, bool> = HashMap::new();
    let mut rest = data;
    while rest.len() >= 2 {
        let (op, len) = (rest[0], usize::from(rest[1]));
        let payload = &rest[2..(2 + len).min(rest.len())];
        rest = &rest[(2 + len).min(rest.len())..];
        let now = t0 + Duration::from_secs(secs);
        let ms = secs * 1000;
        match op % 4 {
            0 => {
                handle(
                    &mut reg,
                    now,
                    ms,
                    "192.0.2.1:5060".parse().unwrap(),
                    payload,
                );
            }
            1 => {
                handle(
                    &mut reg,
                    now,
                    ms,
                    "192.0.2.2:5060".parse().unwrap(),
                    payload,
                );
            }
            2 => {
                let from: SocketAddr = "192.0.2.3:5060".parse().unwrap();
                let id = payload.first().copied().unwrap_or(0);
                let lines = String::from_utf8_lossy(payload.get(1..).unwrap_or_default())
                    .replace('\n', "\r\n");
                cseq += 1;
                let Some(Message::Request(bare)) =
                    wire::parse(register_text(id, cseq, &lines, "").as_bytes()).ok()
                else {
                    continue;
                };
                let Outcome::Respond(r) =
                    reg.handle_register(now, ms, from, Transport::Udp, &bare, &Table)
                else {
                    continue;
                };
                let Some(challenge) = r
                    .headers
                    .get(&HeaderName::WwwAuthenticate)
                    .and_then(|v| Challenge::parse(v).ok())
                else {
                    continue;
                };
                let creds = digest::authorize(
                    &challenge,
                    "alice",
                    "pw",
                    "REGISTER",
                    "sip:offhook.local",
                    "cn",
                    1,
                );
                let auth = format!("Authorization: {}\r\n", creds.header_value());
                cseq += 1;
                let text = register_text(id, cseq, &lines, &auth);
                handle(&mut reg, now, ms, from, text.as_bytes());
            }
            _ => {
                let d = u16::from_le_bytes([
                    payload.first().copied().unwrap_or(0),
                    payload.get(1).copied().unwrap_or(0),
                ]);
                secs += u64::from(d);
                reg.handle_timeout(t0 + Duration::from_secs(secs));
            }
        }
        let now = t0 + Duration::from_secs(secs);
        while let Some(e) = reg.poll_event() {
            match e {
                RegistrarEvent::Registered { user } => {
                    assert_ne!(online.insert(user, true), Some(true));
                }
                RegistrarEvent::Unregistered { user } => {
                    assert_eq!(online.insert(user, false), Some(true));
                }
                RegistrarEvent::ContactAdded { user } => {
                    assert_eq!(online.get(&user).copied(), Some(true));
                }
            }
        }
        let mut total = 0;
        for user in reg.users() {
            let b = reg.bindings(user);
            assert!(!b.is_empty() && b.len() <= MAX_CONTACTS);
            total += b.len();
        }
        assert_eq!(reg.stats().bindings as usize, total);
        if let Some(t) = reg.poll_timeout() {
            if t <= now {
                reg.handle_timeout(now);
                // Lapsed bindings only wait for handle_timeout; once called none is left.
                assert!(reg.poll_timeout().is_none_or(|t| t > now));
            }
        }
    }
});
