#![no_main]
//! Parses arbitrary bytes as a TFTP packet; a packet that parses must emit to bytes that parse
//! to the same packet and emit to the same bytes again, and the allocation-free readers
//! (`opcode`, `ack_block`) must agree with the full parse.
use libfuzzer_sys::fuzz_target;
use provisioning::tftp::wire::{Opcode, Repr, ack_block, opcode};

fuzz_target!(|data: &[u8]| {
    let parsed = Repr::parse(data);
    if let Ok(Repr::Ack { block }) = parsed {
        assert_eq!(ack_block(data), Some(block));
    }
    if let Ok(op) = opcode(data) {
        if op == Opcode::Ack {
            assert_eq!(ack_block(data).is_some(), parsed.is_ok());
        }
    } else {
        assert!(parsed.is_err());
    }
    let Ok(repr) = parsed else { return };
    assert_eq!(opcode(data), Ok(repr.opcode()));
    let bytes = repr.to_vec().expect("a parsed packet emits");
    assert_eq!(bytes.len(), repr.buffer_len());
    let again = Repr::parse(&bytes).expect("an emitted packet parses");
    assert_eq!(again, repr);
    assert_eq!(again.to_vec().unwrap(), bytes);
});
