#![no_main]
//! Parses arbitrary bytes as a session description; one that parses must encode and re-parse
//! to the same session, and encode to the same text again. Answering it must not panic, and
//! an answer must itself parse back to the same session, with one m-line per offered one.
use std::net::SocketAddr;
use std::time::Duration;

use gateway_control::model::Codec;
use libfuzzer_sys::fuzz_target;
use sip::sdp::{Capabilities, MAX_SDP, Session, answer};

fuzz_target!(|data: &[u8]| {
    let Ok(session) = Session::parse(data) else {
        return;
    };
    let text = session.encode();
    if text.len() <= MAX_SDP {
        // Canonical lines (`t=0 0`, explicit directions) can lengthen a description.
        let again = Session::parse(text.as_bytes()).expect("an encoded session parses");
        assert_eq!(again, session);
        assert_eq!(again.encode(), text);
    }
    let caps = Capabilities {
        address: SocketAddr::from(([192, 0, 2, 1], 40000)),
        codecs: vec![Codec::Pcmu, Codec::Opus { payload_type: 96 }, Codec::Pcma],
        telephone_event: Some(101),
        ptime: Duration::from_millis(20),
    };
    if let Ok((ours, _)) = answer(&session, &caps, 1, 1) {
        assert_eq!(ours.media.len(), session.media.len());
        assert_eq!(ours.media.iter().filter(|m| m.port != 0).count(), 1);
        let text = ours.encode();
        if text.len() <= MAX_SDP {
            assert_eq!(
                Session::parse(text.as_bytes()).expect("our answer parses"),
                ours
            );
        }
    }
});
