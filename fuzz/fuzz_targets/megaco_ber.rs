#![no_main]
//! Decodes arbitrary bytes as a MEGACO binary (H.248.1 Annex A, BER) message; every message
//! that decodes must encode, and its encoding must decode to the same message and encode to
//! the same bytes again. Also checks that the arena holds no more than a few times the input.
use gateway_control::megaco::ber::{Arena, decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let arena = Arena::new();
    let Ok(message) = decode(data, &arena) else {
        return;
    };
    assert!(
        arena.allocated_bytes() <= 16 * 1024 + 8 * data.len(),
        "{} bytes of text for {} bytes of input",
        arena.allocated_bytes(),
        data.len()
    );
    let mut out = Vec::new();
    encode(&message, &mut out).unwrap_or_else(|e| panic!("{e}: {message:?}"));
    let again_arena = Arena::new();
    let again = decode(&out, &again_arena).unwrap_or_else(|e| panic!("{e}: {out:02x?}"));
    assert_eq!(again, message);
    let mut twice = Vec::new();
    encode(&again, &mut twice).unwrap();
    assert_eq!(out, twice);
});
