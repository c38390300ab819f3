//! Sealed envelopes: round trips, every kind of tampering, limits, and the streaming reader's
//! promise never to release unverified plaintext.
use std::io::{Read, Write};

use codecs::seal::{
    Compression, Error, Key, OpenReader, PREAMBLE_LEN, SealOptions, SealWriter, TAG_LEN, open,
    seal, seal_with,
};
use codecs::xz::Preset;
use proptest::prelude::*;
use rand::SeedableRng;
use rand::rngs::StdRng;

const ID: &[u8] = b"4b1f0c3e-9a8d-4e67-b1a2-0c9d8e7f6a5b";
const CS: u32 = 64;

fn key(seed: u64) -> Key {
    Key::generate_with(&mut StdRng::seed_from_u64(seed))
}

fn data(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

fn small(plain: &[u8], compression: Compression) -> Vec<u8> {
    let opts = SealOptions {
        chunk_size: CS,
        compression,
    };
    seal_with(&key(1), ID, plain, opts, &mut StdRng::seed_from_u64(9)).unwrap()
}

#[test]
fn round_trips_sizes_and_exact_chunk_multiples() {
    for comp in [Compression::None, Compression::Xz(Preset::new(1).unwrap())] {
        for n in [0, 1, 63, 64, 65, 128, 192, 1000] {
            let plain = data(n);
            let env = small(&plain, comp);
            if comp == Compression::None {
                let chunks = n.div_ceil(CS as usize).max(1);
                assert_eq!(env.len(), PREAMBLE_LEN + n + chunks * TAG_LEN, "n={n}");
            }
            assert_eq!(
                open(&key(1), ID, &env, 1 << 20).unwrap(),
                plain,
                "n={n} {comp:?}"
            );
        }
    }
}

#[test]
fn large_default_chunks_both_modes() {
    let k = Key::generate();
    let plain = data(3 * 65536 + 17);
    for comp in [Compression::None, Compression::Xz(Preset::default())] {
        let env = seal(&k, ID, &plain, comp).unwrap();
        assert_eq!(open(&k, ID, &env, u64::MAX).unwrap(), plain);
        if comp != Compression::None {
            assert!(env.len() < plain.len() / 4, "compressed {}", env.len());
        }
    }
}

#[test]
fn streaming_writer_and_reader_with_odd_sizes() {
    let k = key(2);
    let plain = data(10_000);
    let opts = SealOptions {
        chunk_size: 100,
        compression: Compression::None,
    };
    let mut w =
        SealWriter::with_options(&k, ID, Vec::new(), opts, &mut StdRng::seed_from_u64(3)).unwrap();
    for piece in plain.chunks(37) {
        w.write_all(piece).unwrap();
    }
    let env = w.finish().unwrap();
    let mut r = OpenReader::new(&k, ID, &env[..], u64::MAX).unwrap();
    assert!(!r.is_compressed());
    let mut out = Vec::new();
    let mut buf = [0u8; 29];
    loop {
        let n = r.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        out.extend_from_slice(&buf[..n]);
    }
    assert_eq!(out, plain);
}

#[test]
fn every_single_byte_flip_is_rejected_with_the_right_kind() {
    let plain = data(200); // 4 chunks of 64: 64, 64, 64, 8
    let env = small(&plain, Compression::None);
    for i in 0..env.len() {
        for bit in [0x01, 0x80] {
            let mut bad = env.clone();
            bad[i] ^= bit;
            let err = open(&key(1), ID, &bad, 1 << 20).expect_err("tamper accepted");
            let ok = match i {
                0..4 => matches!(err, Error::BadMagic),
                4 => matches!(err, Error::UnsupportedVersion { .. }),
                5 => matches!(err, Error::UnknownFlags { .. } | Error::WrongKey),
                6..10 => matches!(err, Error::ChunkSize { .. } | Error::WrongKey),
                10..38 => matches!(err, Error::WrongKey),
                _ => {
                    let chunk = ((i - PREAMBLE_LEN) / (CS as usize + TAG_LEN)) as u64;
                    matches!(err, Error::Authentication { chunk: c, .. } if c == chunk)
                }
            };
            assert!(ok, "byte {i} bit {bit:#x}: {err:?}");
        }
    }
}

#[test]
fn truncation_at_every_length_is_rejected() {
    for comp in [Compression::None, Compression::Xz(Preset::new(0).unwrap())] {
        let env = small(&data(200), comp);
        for cut in 0..env.len() {
            let err = open(&key(1), ID, &env[..cut], 1 << 20).expect_err("truncation accepted");
            assert!(
                matches!(
                    err,
                    Error::Truncated { .. } | Error::Authentication { .. } | Error::BadMagic
                ),
                "cut {cut}: {err:?}"
            );
        }
    }
    // At a chunk boundary the error says exactly what happened.
    let env = small(&data(200), Compression::None);
    let boundary = PREAMBLE_LEN + 2 * (CS as usize + TAG_LEN);
    assert!(matches!(
        open(&key(1), ID, &env[..boundary], 1 << 20),
        Err(Error::Truncated {
            field: "chunk",
            chunk: 2,
            ..
        })
    ));
}

#[test]
fn extension_reorder_and_drop_are_rejected() {
    let plain = data(192); // exactly 3 full chunks
    let env = small(&plain, Compression::None);
    let step = CS as usize + TAG_LEN;
    let mut long = env.clone();
    long.extend_from_slice(&[0u8; 5]);
    assert!(matches!(
        open(&key(1), ID, &long, 1 << 20),
        Err(Error::TrailingData { .. })
    ));
    let mut swapped = env[..PREAMBLE_LEN].to_vec();
    swapped.extend_from_slice(&env[PREAMBLE_LEN + step..PREAMBLE_LEN + 2 * step]);
    swapped.extend_from_slice(&env[PREAMBLE_LEN..PREAMBLE_LEN + step]);
    swapped.extend_from_slice(&env[PREAMBLE_LEN + 2 * step..]);
    assert!(matches!(
        open(&key(1), ID, &swapped, 1 << 20),
        Err(Error::Authentication { chunk: 0, .. })
    ));
    let mut dropped = env[..PREAMBLE_LEN + step].to_vec();
    dropped.extend_from_slice(&env[PREAMBLE_LEN + 2 * step..]);
    assert!(matches!(
        open(&key(1), ID, &dropped, 1 << 20),
        Err(Error::Authentication { chunk: 1, .. })
    ));
    // A chunk from another envelope under the same key (different nonce base) does not fit.
    let other = seal_with(
        &key(1),
        ID,
        &plain,
        SealOptions {
            chunk_size: CS,
            compression: Compression::None,
        },
        &mut StdRng::seed_from_u64(10),
    )
    .unwrap();
    let mut spliced = env.clone();
    spliced[PREAMBLE_LEN..PREAMBLE_LEN + step]
        .copy_from_slice(&other[PREAMBLE_LEN..PREAMBLE_LEN + step]);
    assert!(matches!(
        open(&key(1), ID, &spliced, 1 << 20),
        Err(Error::Authentication { chunk: 0, .. })
    ));
}

#[test]
fn wrong_key_and_wrong_id() {
    let env = small(&data(100), Compression::None);
    assert!(matches!(
        open(&key(2), ID, &env, 1 << 20),
        Err(Error::WrongKey)
    ));
    assert!(matches!(
        open(&key(1), b"another-message", &env, 1 << 20),
        Err(Error::Authentication { chunk: 0, .. })
    ));
    assert!(matches!(
        OpenReader::new(&key(2), ID, &env[..], 1 << 20),
        Err(Error::WrongKey)
    ));
}

#[test]
fn garbage_and_short_headers() {
    assert!(matches!(
        open(&key(1), ID, b"", 10),
        Err(Error::Truncated {
            field: "header",
            ..
        })
    ));
    assert!(matches!(
        open(&key(1), ID, b"OHS", 10),
        Err(Error::Truncated { .. })
    ));
    assert!(matches!(
        open(&key(1), ID, b"RIFF....WAVEfmt ", 10),
        Err(Error::BadMagic)
    ));
    let mut env = small(b"x", Compression::None);
    env[4] = 2;
    assert!(matches!(
        open(&key(1), ID, &env, 10),
        Err(Error::UnsupportedVersion { version: 2 })
    ));
}

#[test]
fn max_len_caps_both_modes() {
    let plain = data(1000);
    for comp in [Compression::None, Compression::Xz(Preset::new(0).unwrap())] {
        let env = small(&plain, comp);
        assert_eq!(open(&key(1), ID, &env, 1000).unwrap(), plain);
        assert!(
            matches!(
                open(&key(1), ID, &env, 999),
                Err(Error::TooLarge { limit: 999 })
            ),
            "{comp:?}"
        );
    }
}

#[test]
fn reader_releases_only_verified_chunks() {
    let plain = data(500);
    let mut env = small(&plain, Compression::None);
    // Corrupt the fourth chunk (index 3).
    let step = CS as usize + TAG_LEN;
    env[PREAMBLE_LEN + 3 * step + 10] ^= 0xFF;
    let mut r = OpenReader::new(&key(1), ID, &env[..], u64::MAX).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 7];
    let err = loop {
        match r.read(&mut buf) {
            Ok(0) => panic!("tampered envelope read to the end"),
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) => break Error::from_io(e),
        }
    };
    assert!(
        matches!(err, Error::Authentication { chunk: 3, .. }),
        "{err:?}"
    );
    assert_eq!(got, &plain[..3 * CS as usize]);
}

#[test]
fn nonce_base_comes_from_the_rng() {
    let a = small(b"same", Compression::None);
    let b = small(b"same", Compression::None);
    assert_eq!(a, b, "seeded RNG is deterministic");
    let c = seal(&key(1), ID, b"same", Compression::None).unwrap();
    let d = seal(&key(1), ID, b"same", Compression::None).unwrap();
    assert_ne!(c[10..22], d[10..22], "OS RNG nonce bases differ");
    assert_ne!(c[PREAMBLE_LEN..], d[PREAMBLE_LEN..]);
}

#[test]
fn key_debug_is_redacted() {
    let k = Key::from_bytes([0xAB; 32]);
    let s = format!("{k:?}");
    assert!(
        !s.contains("171") && !s.to_lowercase().contains("ab"),
        "{s}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn proptest_round_trip(
        plain in proptest::collection::vec(any::<u8>(), 0..3000),
        cs in 64u32..400,
        xz in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let comp = if xz { Compression::Xz(Preset::new(0).unwrap()) } else { Compression::None };
        let k = key(seed);
        let opts = SealOptions { chunk_size: cs, compression: comp };
        let env = seal_with(&k, ID, &plain, opts, &mut StdRng::seed_from_u64(seed)).unwrap();
        prop_assert_eq!(open(&k, ID, &env, u64::MAX).unwrap(), plain);
    }
}

/// An envelope made by an independent implementation of the format (Python, pyca/cryptography
/// AESGCM): key 00..1f, id "msg-0001", nonce base a0..ab, chunk size 64, 132 bytes of plaintext.
const VECTOR_PLAIN: [u8; 132] = hex_literal::hex!(
    "4f6666686f6f6b207365616c656420656e76656c6f7065207465737420766563746f722c2074776f2066756c6c206368756e6b7320616e6420612073686f7274000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f7461696c"
);
const VECTOR_ENVELOPE: [u8; 218] = hex_literal::hex!(
    "4f48534c010000000040a0a1a2a3a4a5a6a7a8a9aaab9fbb6276f239fa6c60fd5bd4db50c1aea97e1a452aa4699f1100e6bf621ee0bb1eda3c7cfdc7274ce86b55f25fdd1062a61935d38f5624527ffa71a4655ae09132752d3b42b1741a613f2b2dcc1ff7c4890ce87d84f8a6206733556de46a40469695999ed5f3738140ccf9480e8bcaa44b287e7b7593df1a07daff25310704f72800ddc847d831d17d603c9ff8e444bbc6fa8959373a1179ac6b0c6a9a9ef1bd39f726d1285d3e56bb3699a77c6c9dd81fe8da11953bfd640d72231cea29a4756e0f14ea"
);

/// Yields a fixed nonce base, to reproduce the vector byte for byte.
struct FixedRng([u8; 12]);

impl rand::RngCore for FixedRng {
    fn next_u32(&mut self) -> u32 {
        let mut b = [0u8; 4];
        self.fill_bytes(&mut b);
        u32::from_le_bytes(b)
    }
    fn next_u64(&mut self) -> u64 {
        let mut b = [0u8; 8];
        self.fill_bytes(&mut b);
        u64::from_le_bytes(b)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        dest.copy_from_slice(&self.0[..dest.len()]);
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand::CryptoRng for FixedRng {}

#[test]
fn independent_test_vector() {
    let k = Key::from_bytes(core::array::from_fn(|i| i as u8));
    assert_eq!(
        open(&k, b"msg-0001", &VECTOR_ENVELOPE, 1000).unwrap(),
        VECTOR_PLAIN
    );
    let base: [u8; 12] = core::array::from_fn(|i| 0xA0 + i as u8);
    let opts = SealOptions {
        chunk_size: 64,
        compression: Compression::None,
    };
    let ours = seal_with(&k, b"msg-0001", &VECTOR_PLAIN, opts, &mut FixedRng(base)).unwrap();
    assert_eq!(ours, VECTOR_ENVELOPE);
}

/// A compressed envelope made by the same independent implementation, its payload xz-compressed
/// by Python's `lzma` (3000 bytes of µ-law speech, chunk size 256). Also a fuzz seed.
#[test]
fn independent_xz_envelope_opens() {
    let env = include_bytes!("../../fuzz/corpus/sealed_envelope/seed-xz-ulaw");
    let k = Key::from_bytes(core::array::from_fn(|i| i as u8));
    let r = OpenReader::new(&k, b"msg-0001", &env[..], 10_000).unwrap();
    assert!(r.is_compressed());
    assert_eq!(open(&k, b"msg-0001", env, 10_000).unwrap().len(), 3000);
    assert!(matches!(
        open(&k, b"msg-0001", env, 2999),
        Err(Error::TooLarge { limit: 2999 })
    ));
}
