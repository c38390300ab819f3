//! Decompression bombs: a 156 KB xz of 1 GiB of zeros (made with `head -c 1G /dev/zero | xz -9`)
//! must fail fast on the output cap, never materialising more than the cap.
use std::io::Read;

use codecs::xz::{DecodeLimits, Error, XzReader, decompress};

const BOMB: &[u8] = include_bytes!("data/zeros-1gib.xz");
const CAP: u64 = 4 * 1024 * 1024;

#[test]
fn one_shot_bomb_hits_cap() {
    let err = decompress(BOMB, DecodeLimits::with_max_output(CAP)).unwrap_err();
    assert!(matches!(err, Error::TooLarge { limit: CAP }), "{err:?}");
}

#[test]
fn streaming_bomb_hits_cap_with_bounded_reads() {
    let mut r = XzReader::new(BOMB, DecodeLimits::with_max_output(CAP)).unwrap();
    let mut buf = [0u8; 8192];
    let mut total = 0u64;
    let err = loop {
        match r.read(&mut buf) {
            Ok(0) => panic!("bomb decoded completely"),
            Ok(n) => total += n as u64,
            Err(e) => break e,
        }
    };
    assert_eq!(
        total, CAP,
        "every byte up to the cap is delivered, none after"
    );
    assert!(matches!(
        Error::from_io(err),
        Error::TooLarge { limit: CAP }
    ));
    // The decoder stopped within a few input buffers of the cap, not after 1 GiB.
    assert!(r.total_out() <= CAP + 1);
    assert!(r.total_in() < BOMB.len() as u64);
}

#[test]
fn bomb_dictionary_is_refused_under_a_tight_memlimit() {
    // xz -9 declares a 64 MiB dictionary; a 16 MiB decoder budget refuses it before decoding.
    let limits = DecodeLimits {
        max_output: CAP,
        memlimit: 16 * 1024 * 1024,
    };
    let err = decompress(BOMB, limits).unwrap_err();
    assert!(matches!(err, Error::MemLimit { .. }), "{err:?}");
}
