#![no_main]
//! Parses arbitrary bytes as an MGCP datagram, message by message (`parse_each`); every
//! message that parses must encode and re-parse to the same message, and encode to the same
//! bytes again. The all-or-nothing `parse` must agree with it.
use gateway_control::mgcp::wire::{MAX_DATAGRAM, Message, encode_piggybacked, parse, parse_each};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(each) = parse_each(data) else {
        assert!(parse(data).is_err());
        return;
    };
    let all_or_nothing: Result<Vec<Message<'_>>, _> = each.iter().cloned().collect();
    assert_eq!(parse(data), all_or_nothing);
    let messages: Vec<Message<'_>> = each.into_iter().flatten().collect();
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
    if !messages.is_empty() && all.len() <= MAX_DATAGRAM {
        let again: Vec<Message<'_>> = parse(&all).expect("piggy-backed messages parse");
        assert_eq!(again, messages);
    }
});
