#![no_main]
//! Round-trips an RFC 4733 event payload, then drives the digit receiver with the input cut
//! into packets of (marker, timestamp, payload).
use codecs::dtmf::{Receiver, Repr};
use codecs::rtp::Timestamp;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(repr) = Repr::parse_bytes(data) {
        let mut out = [0u8; 4];
        repr.emit(&mut out).expect("parsed payload emits");
        assert_eq!(Repr::parse_bytes(&out), Ok(repr));
    }
    let mut rx = Receiver::new();
    let mut digits = 0u64;
    for chunk in data.chunks(9) {
        let marker = chunk[0] & 1 != 0;
        let ts = chunk
            .get(1..5)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        let payload = chunk.get(5..).unwrap_or_default();
        if rx.handle(marker, Timestamp(ts), payload).is_some() {
            digits += 1;
        }
    }
    let stats = rx.stats();
    assert_eq!(stats.digits, digits);
    assert_eq!(
        stats.packets,
        stats.digits
            + stats.repeats
            + stats.stale
            + stats.malformed
            + stats.unknown_events
            + stats.segments
    );
});
