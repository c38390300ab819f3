//! Opening arbitrary bytes never panics and never yields plaintext without the key; sealing
//! arbitrary plaintext opens to the same bytes, and any single flipped byte is rejected.
#![no_main]
use std::io::Read;

use codecs::seal::{Compression, Key, OpenReader, SealOptions, open, seal_with};
use codecs::xz::Preset;
use libfuzzer_sys::fuzz_target;
use rand::SeedableRng;
use rand::rngs::StdRng;

const ID: &[u8] = b"msg-0001";

fuzz_target!(|data: &[u8]| {
    let key = Key::from_bytes(core::array::from_fn(|i| i as u8));
    // 1. As an envelope (the corpus holds valid envelopes under this key to mutate).
    let opened = open(&key, ID, data, 1 << 20);
    let mut streamed = Vec::new();
    let stream_ok = OpenReader::new(&key, ID, data, 1 << 20)
        .map(|mut r| r.read_to_end(&mut streamed).is_ok())
        .unwrap_or(false);
    match &opened {
        Ok(plain) => assert!(stream_ok && &streamed == plain),
        Err(_) => assert!(!stream_ok),
    }
    // 2. As plaintext: round trip, then tamper.
    let Some((&mode, plain)) = data.split_first() else {
        return;
    };
    let opts = SealOptions {
        chunk_size: 64 + u32::from(mode & 0x3F),
        compression: if mode & 0x40 != 0 {
            Compression::Xz(Preset::new(0).unwrap())
        } else {
            Compression::None
        },
    };
    let mut rng = StdRng::seed_from_u64(data.len() as u64);
    let env = seal_with(&key, ID, plain, opts, &mut rng).unwrap();
    assert_eq!(open(&key, ID, &env, u64::MAX).unwrap(), plain);
    let at = (usize::from(mode) * 7919 + plain.len()) % env.len();
    let mut bad = env.clone();
    bad[at] ^= 1 << (mode & 7);
    assert!(open(&key, ID, &bad, u64::MAX).is_err(), "flip at {at} accepted");
    assert!(open(&key, ID, &env[..env.len() - 1], u64::MAX).is_err());
});
