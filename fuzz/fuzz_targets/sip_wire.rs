#![no_main]
//! Parses arbitrary bytes as a SIP datagram: a message that parses must encode and re-parse
//! to the same message, and encode to the same bytes again. The first byte then seeds chunk
//! sizes in which the rest is fed to a `StreamFramer`: the messages, errors and keep-alives
//! it yields must not depend on how the stream was cut.
use libfuzzer_sys::fuzz_target;
use sip::wire::{MAX_MESSAGE, Message, ParseError, StreamFramer, parse};

fn check_round_trip(message: &Message) {
    let out = message.encode();
    if out.len() > MAX_MESSAGE {
        // Canonical names and CRLF can lengthen a message parsed from a full datagram.
        return;
    }
    let again = parse(&out).expect("an encoded message parses");
    assert_eq!(&again, message);
    assert_eq!(again.encode(), out);
}

type Framed = (Vec<Result<Message, ParseError>>, usize);

fn frame(stream: &[u8], mut cut: impl FnMut() -> usize) -> Framed {
    let mut framer = StreamFramer::new();
    let (mut out, mut keepalives, mut at) = (Vec::new(), 0, 0);
    while at < stream.len() {
        let end = (at + cut()).min(stream.len());
        framer.push(&stream[at..end]);
        at = end;
        while let Some(m) = framer.pop() {
            out.push(m);
        }
        keepalives += framer.pop_keepalives();
    }
    (out, keepalives)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(message) = parse(data) {
        check_round_trip(&message);
    }
    let Some((&seed, stream)) = data.split_first() else {
        return;
    };
    if stream.len() > MAX_MESSAGE {
        return;
    }
    let whole = frame(stream, || usize::MAX);
    let mut state = u32::from(seed) | 1;
    let chunked = frame(stream, || {
        state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
        1 + (state >> 16) as usize % 64
    });
    assert_eq!(whole, chunked);
    for message in whole.0.iter().flatten() {
        check_round_trip(message);
    }
});
