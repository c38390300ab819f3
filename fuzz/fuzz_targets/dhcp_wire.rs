#![no_main]
//! Parses arbitrary bytes as a DHCP datagram. A message that parses must emit and re-parse to
//! the same message (with its options regrouped by area when they had to overload `file` and
//! `sname`), and emit to the same bytes again; squeezed into the smallest size every
//! client takes, it must either refuse (too large) or re-parse with the same options, however
//! they were spread over `file` and `sname` by the overload.
use libfuzzer_sys::fuzz_target;
use provisioning::dhcp::wire::{Error, MAX_DATAGRAM, MIN_MAX_MESSAGE, Repr};

fuzz_target!(|data: &[u8]| {
    let Ok(repr) = Repr::parse_bytes(data) else {
        return;
    };
    let out = match repr.to_vec(MAX_DATAGRAM) {
        Ok(out) => out,
        // The canonical form can be longer than the input (options moved out of an overloaded
        // file or sname, long options split into 255-byte instances).
        Err(Error::TooLarge { .. }) => return,
        Err(e) => panic!("a parsed message does not emit: {e}"),
    };
    assert!(out.len() <= MAX_DATAGRAM);
    let again = Repr::parse_bytes(&out).expect("an emitted message parses");
    if repr.buffer_len() <= MAX_DATAGRAM {
        assert_eq!(again, repr);
    } else {
        // Overloaded: each option went to the first area with room, so they read back grouped
        // by area (RFC 2131 fixes no order between codes); nothing is lost or changed.
        let (mut back, mut want) = (again.clone(), repr.clone());
        back.options.sort_by_key(|o| o.code);
        want.options.sort_by_key(|o| o.code);
        assert_eq!(back, want);
    }
    assert_eq!(again.to_vec(MAX_DATAGRAM).expect("emits twice"), out);

    match repr.to_vec(MIN_MAX_MESSAGE) {
        Ok(small) => {
            assert!(small.len() <= MIN_MAX_MESSAGE);
            let mut back = Repr::parse_bytes(&small).expect("an overloaded message parses");
            let mut want = repr.clone();
            back.options.sort_by_key(|o| o.code);
            want.options.sort_by_key(|o| o.code);
            assert_eq!(back.options, want.options);
            assert_eq!(back.message_type, want.message_type);
            assert_eq!((back.xid, back.chaddr), (want.xid, want.chaddr));
        }
        Err(Error::TooLarge { needed, max }) => assert!(needed > max),
        Err(e) => panic!("unexpected emit error {e}"),
    }
});
