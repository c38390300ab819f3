#![no_main]
//! The LAN's settings as a console sends them (`PATCH /api/v1/settings`, the front panel's
//! menu): any text for any key is taken or refused without a panic; a value taken reads back
//! (`text`) as one that, set again, gives the same settings; checking the whole never panics.
use libfuzzer_sys::fuzz_target;
use offhook_domain::network::{ADDRESS, DHCP, GATEWAY, Network, POOL};

const KEYS: [&str; 5] = [ADDRESS, GATEWAY, DHCP, POOL, "lan.mtu"];

fuzz_target!(|data: &[u8]| {
    let mut n = Network::default();
    // Each line: a key chosen by its first byte, then the value.
    for line in data.split(|&b| b == b'\n') {
        let Some((&k, value)) = line.split_first() else { continue };
        let key = KEYS[usize::from(k) % KEYS.len()];
        let Ok(value) = std::str::from_utf8(value) else { continue };
        let before = n.clone();
        match n.set(key, value) {
            Ok(()) => {
                let mut again = before;
                again.set(key, &n.text(key)).expect("a value read back is taken");
                assert_eq!(again, n);
            }
            Err(why) => {
                assert_eq!(n, before, "a refusal changes nothing");
                assert!(!why.is_empty());
            }
        }
        let _ = n.check(&[key]);
    }
});
