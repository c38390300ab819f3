#![no_main]
//! Decodes arbitrary bytes as one TPNCP command and as one event: whatever decodes must
//! encode and decode again to the same value, and encode to the same bytes again. The same
//! bytes pushed into a TCP deframer in two pieces come out as the same messages as in one,
//! each one cut where its header says.
use gateway_control::tpncp::wire::{
    Deframer, FrameError, MAX_LEN, MIN_LEN, decode_command, decode_event, encode_command,
    encode_event,
};
use libfuzzer_sys::fuzz_target;

fn deframe(pieces: &[&[u8]]) -> Vec<Result<Vec<u8>, FrameError>> {
    let mut d = Deframer::new();
    let mut out = Vec::new();
    for piece in pieces {
        d.push(piece);
        assert!(d.buffered() <= Deframer::CAPACITY);
        out.extend(std::iter::from_fn(|| d.next()));
    }
    out
}

fuzz_target!(|data: &[u8]| {
    if let Ok((header, command)) = decode_command(data) {
        let mut out = Vec::new();
        encode_command(&header, &command, &mut out);
        assert_eq!(out.len(), data.len());
        assert_eq!(decode_command(&out), Ok((header, command.clone())));
        let mut twice = Vec::new();
        encode_command(&header, &command, &mut twice);
        assert_eq!(out, twice);
    }
    if let Ok((header, channel, event)) = decode_event(data) {
        let mut out = Vec::new();
        encode_event(&header, channel, &event, &mut out);
        assert_eq!(out.len(), data.len());
        assert_eq!(decode_event(&out), Ok((header, channel, event.clone())));
    }
    let whole = deframe(&[data]);
    let cut = data.first().map_or(0, |&b| usize::from(b) * data.len() / 256);
    let (a, b) = data.split_at(cut);
    assert_eq!(deframe(&[a, b]), whole);
    let mut read = 0;
    for m in &whole {
        match m {
            Ok(m) => {
                assert!((MIN_LEN..=MAX_LEN).contains(&m.len()));
                assert_eq!(m[..], data[read..read + m.len()]);
                read += m.len();
            }
            Err(_) => assert!(std::ptr::eq(m, whole.last().unwrap())),
        }
    }
});
