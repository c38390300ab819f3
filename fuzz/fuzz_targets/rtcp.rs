#![no_main]
//! Parses arbitrary bytes as a compound RTCP datagram; every packet that parses must emit and
//! re-parse to the same thing, and the whole compound must round-trip too.
use codecs::rtcp::{Compound, Packet, Repr, emit_compound, parse_compound};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    for repr in Compound::new(data).flatten() {
        let mut out = vec![0u8; repr.buffer_len()];
        repr.emit(&mut out).expect("parsed packet emits");
        let again = Repr::parse(&Packet::new_checked(&out[..]).expect("emitted packet checks"));
        assert_eq!(again, Ok(repr));
    }
    if let Ok(packets) = parse_compound(data) {
        let len: usize = packets.iter().map(Repr::buffer_len).sum();
        let mut out = vec![0u8; len];
        assert_eq!(emit_compound(&packets, &mut out), Ok(len));
        assert_eq!(parse_compound(&out), Ok(packets));
    }
});
