//! xz decoding never panics, stays under its caps, and whatever decodes re-encodes and decodes
//! to the same bytes; the streaming reader agrees with the one-shot helper.
#![no_main]
use std::io::Read;

use codecs::xz::{DecodeLimits, Preset, XzReader, compress, decompress};
use libfuzzer_sys::fuzz_target;

const LIMITS: DecodeLimits = DecodeLimits {
    max_output: 1 << 20,
    memlimit: 16 << 20,
};

fuzz_target!(|data: &[u8]| {
    let one_shot = decompress(data, LIMITS);
    let mut streamed = Vec::new();
    let stream_ok = XzReader::new(data, LIMITS)
        .map(|mut r| r.read_to_end(&mut streamed).is_ok())
        .unwrap_or(false);
    match one_shot {
        Ok(out) => {
            assert!(out.len() as u64 <= LIMITS.max_output);
            assert!(stream_ok, "one-shot decoded, streaming failed");
            assert_eq!(streamed, out);
            let again = compress(&out, Preset::new(0).unwrap()).unwrap();
            assert_eq!(decompress(&again, LIMITS).unwrap(), out);
        }
        Err(_) => assert!(!stream_ok, "streaming decoded, one-shot failed"),
    }
});
