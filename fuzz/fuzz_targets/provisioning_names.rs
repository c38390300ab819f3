#![no_main]
//! The names phones ask for (TFTP paths, HTTP path segments) and the MACs owners type, from
//! arbitrary text. A recognised per-device name is recognised the same in any case, and for each
//! vendor whose phones ask for it, the main file name made from its MAC is recognised again with
//! that MAC. A MAC that parses must display and parse back to itself.
use libfuzzer_sys::fuzz_target;
use provisioning::Mac;
use provisioning::templates::Vendor;
use provisioning::templates::naming::{Request, device_file_name, parse};

const VENDORS: [Vendor; 5] = [
    Vendor::Cisco,
    Vendor::Polycom,
    Vendor::Yealink,
    Vendor::Grandstream,
    Vendor::Snom,
];

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(mac) = text.parse::<Mac>() {
        assert_eq!(mac.to_string().parse::<Mac>(), Ok(mac));
        assert_eq!(mac.hex_upper().parse::<Mac>(), Ok(mac));
    }
    if let Some(Request::Device { mac, file }) = parse(text) {
        for other in [text.to_ascii_uppercase(), text.to_ascii_lowercase()] {
            assert_eq!(parse(&other), Some(Request::Device { mac, file }), "{other:?}");
        }
        // The all-zero MAC is no device's: Polycom's default master file has its name.
        let vendors = if mac == Mac::default() { &[][..] } else { &VENDORS[..] };
        for &vendor in vendors {
            if file.kind_for(vendor).is_none() {
                continue;
            }
            let again = parse(&device_file_name(vendor, mac));
            assert!(
                matches!(again, Some(Request::Device { mac: m, .. }) if m == mac),
                "{text:?} -> {vendor} {mac}: {again:?}"
            );
        }
    }
});
