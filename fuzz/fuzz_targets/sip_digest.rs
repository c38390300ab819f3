#![no_main]
//! Parses arbitrary text as a digest challenge and as digest credentials; whatever parses must
//! give a header value that parses back to the same thing. Checking a nonce or the
//! credentials must not panic.
use libfuzzer_sys::fuzz_target;
use sip::digest::{Challenge, Credentials, MAX_HEADER, Nonces, verify};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(challenge) = Challenge::parse(text) {
        let value = challenge.header_value();
        // Escaping and canonical parameters can lengthen a value.
        if value.len() <= MAX_HEADER {
            assert_eq!(
                Challenge::parse(&value).expect("our challenge parses"),
                challenge
            );
        }
    }
    if let Ok(creds) = Credentials::parse(text) {
        let value = creds.header_value();
        if value.len() <= MAX_HEADER {
            assert_eq!(
                Credentials::parse(&value).expect("our credentials parse"),
                creds
            );
        }
        let _ = verify(&creds, "REGISTER", "secret");
        let _ = Nonces::new([0; 32]).check(&creds.nonce, 1_000, 30_000);
    }
});
