#![no_main]
//! Parses arbitrary bytes as a MEGACO text message; every message that parses must encode, in
//! both the pretty and the compact form, to text that parses to the same message and encodes to
//! the same bytes again.
use gateway_control::megaco::text::{Form, MAX_MESSAGE, encode, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(message) = parse(data) else {
        return;
    };
    for form in [Form::Pretty, Form::Compact] {
        let mut out = Vec::new();
        encode(&message, form, &mut out);
        if out.len() > MAX_MESSAGE {
            // Pretty indentation can lengthen a message parsed from a full-size input.
            continue;
        }
        let again = parse(&out)
            .unwrap_or_else(|e| panic!("{e} in {form:?}:\n{}", String::from_utf8_lossy(&out)));
        assert_eq!(again, message, "{form:?}");
        let mut twice = Vec::new();
        encode(&again, form, &mut twice);
        assert_eq!(out, twice, "{form:?}");
    }
});
