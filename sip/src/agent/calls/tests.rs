//! What we offer from the station's side of a call's media.

use std::time::Duration;

use super::*;

fn media(codec: Codec, telephone_event: Option<u8>) -> Media {
    Media {
        address: "127.0.0.1:30000".parse().unwrap(),
        codec,
        ptime: Duration::from_millis(20),
        telephone_event,
    }
}

#[test]
fn the_stations_codec_comes_first_then_opus_on_a_type_telephone_event_does_not_hold() {
    let opus = |payload_type| Codec::Opus { payload_type };
    let caps = capabilities(&media(Codec::Pcmu, Some(101)));
    assert_eq!(caps.codecs, [Codec::Pcmu, opus(96), Codec::Pcma]);
    assert_eq!(caps.telephone_event, Some(101));
    let caps = capabilities(&media(Codec::Pcma, Some(96)));
    assert_eq!(
        caps.codecs,
        [Codec::Pcma, opus(97), Codec::Pcmu],
        "96 is taken"
    );
    let caps = capabilities(&media(opus(111), Some(101)));
    assert_eq!(
        caps.codecs,
        [opus(111), Codec::Pcmu, Codec::Pcma],
        "an Opus call keeps its type"
    );
    assert_eq!(caps.address.port(), 30000);
}
