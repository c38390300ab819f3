#![no_main]
//! Pushes arbitrary bytes, cut in arbitrary pieces, into a TPKT deframer (H.248.1 Annex D.2):
//! it never panics, never holds more than its capacity, never returns a message over its bound,
//! returns an error at most once and nothing after it, and the messages it returns, framed
//! again, are exactly the bytes it read.
use gateway_control::megaco::tpkt::{Deframer, frame};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first two bytes: the deframer's bound; then pieces, each a length byte and the bytes.
    let Some((&[hi, lo], mut rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let max = usize::from(u16::from_be_bytes([hi, lo]));
    let mut d = Deframer::with_max(max);
    let mut pushed = Vec::new();
    let mut reframed = Vec::new();
    let mut failed = false;
    while let Some((&n, tail)) = rest.split_first() {
        let n = usize::from(n).min(tail.len());
        let (piece, tail) = tail.split_at(n);
        rest = tail;
        d.push(piece);
        if !failed {
            pushed.extend_from_slice(piece);
        }
        assert!(d.buffered() <= Deframer::CAPACITY);
        while let Some(r) = d.next() {
            assert!(!failed, "something after the error");
            match r {
                Ok(m) => {
                    assert!(m.len() <= max);
                    frame(&m, &mut reframed).unwrap();
                }
                Err(_) => {
                    failed = true;
                    assert!(d.is_failed());
                    assert_eq!(d.buffered(), 0);
                }
            }
        }
        assert!(pushed.starts_with(&reframed));
        if !failed {
            assert_eq!(reframed.len() + d.buffered(), pushed.len());
        }
    }
});
