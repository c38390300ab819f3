#![no_main]
//! Parses arbitrary bytes as RTP; whatever parses must emit and re-parse to the same thing.
use codecs::rtp::{Packet, Repr};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(packet) = Packet::new_checked(data) else {
        return;
    };
    let _ = packet.payload();
    if let Some(ext) = packet.extension() {
        for element in ext.elements() {
            assert!(element.data.len() <= ext.data.len());
        }
    }
    let repr = Repr::parse(&packet).expect("checked packet parses");
    let mut out = vec![0u8; repr.buffer_len()];
    let n = repr.emit(&mut out).expect("parsed packet emits");
    assert_eq!(n, data.len());
    assert_eq!(Repr::parse_bytes(&out), Ok(repr));
});
