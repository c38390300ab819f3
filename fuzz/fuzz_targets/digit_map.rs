#![no_main]
//! Parses arbitrary text as a digit map (RFC 3435 §2.1.5); a map that parses must parse again
//! from its own text to the same map, and matching any dial string against it must not panic.
use gateway_control::digitmap::DigitMap;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (map_text, dialled) = text.split_once('\n').unwrap_or((text, "123#"));
    let Ok(map) = DigitMap::parse(map_text) else {
        return;
    };
    assert_eq!(DigitMap::parse(map.as_str()).as_ref(), Ok(&map));
    let _ = map.check(dialled, false);
    let _ = map.check(dialled, true);
});
