#![no_main]
//! Parses arbitrary bytes as an MGCP datagram; every message that parses must encode and
//! re-parse to the same message, and encode to the same bytes again.
use gateway_control::mgcp::wire::{MAX_DATAGRAM, Message, encode_piggybacked, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(messages) = parse(data) else {
        return;
    };
    for message in &messages {
        let mut out = Vec::new();
        message.encode(&mut out);
        if out.len() > MAX_DATAGRAM {
            // Canonical spacing and CRLF can lengthen a message parsed from a full datagram.
            continue;
        }
        let again = parse(&out).expect("an encoded message parses");
        assert_eq!(again, [message.clone()]);
        let mut twice = Vec::new();
        again[0].encode(&mut twice);
        assert_eq!(out, twice);
    }
    let mut all = Vec::new();
    encode_piggybacked(&messages, &mut all);
    if all.len() <= MAX_DATAGRAM {
        let again: Vec<Message<'_>> = parse(&all).expect("piggy-backed messages parse");
        assert_eq!(again, messages);
    }
});
