use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use gateway_control::model::Codec;
use proptest::prelude::*;

use super::*;

/// RFC 4566 §5, the example session (multicast, session-level `recvonly`, lines we skip).
const RFC4566_EXAMPLE: &str = "v=0\r
o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5\r
s=SDP Seminar\r
i=A Seminar on the session description protocol\r
u=http://www.example.com/seminars/sdp.pdf\r
e=j.doe@example.com (Jane Doe)\r
c=IN IP4 224.2.17.12/127\r
t=2873397496 2873404696\r
a=recvonly\r
m=audio 49170 RTP/AVP 0\r
m=video 51372 RTP/AVP 99\r
a=rtpmap:99 h263-1998/90000\r
";

/// RFC 3264 §10.1, Alice's offer, with addresses for the host names (we refuse host names in
/// `c=`, see `errors`).
const RFC3264_OFFER: &str = "v=0\r
o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\r
s=\r
c=IN IP4 192.0.2.101\r
t=0 0\r
m=audio 49170 RTP/AVP 0 8 97\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:97 iLBC/8000\r
m=video 51372 RTP/AVP 31 32\r
a=rtpmap:31 H261/90000\r
a=rtpmap:32 MPV/90000\r
";

/// A desk phone's offer as they are written in the field: Opus first, dynamic telephone-event,
/// LF endings, IPv6.
const PHONE_OFFER_V6: &str = "v=0
o=- 1733 1733 IN IP6 2001:db8::10
s=Talk
c=IN IP6 2001:db8::10
t=0 0
m=audio 10000 RTP/AVP 96 8 0 97
b=AS:64
a=rtpmap:96 opus/48000/2
a=fmtp:96 useinbandfec=1
a=rtpmap:8 PCMA/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:97 telephone-event/8000
a=fmtp:97 0-16
a=ptime:30
a=maxptime:60
a=sendrecv
";

/// The offer baresip 1.0.0 (Debian) sent in an INVITE on loopback (g711, opus and aufile
/// modules loaded), as is.
const BARESIP_OFFER: &str = "v=0\r
o=- 4251657560 1630805677 IN IP4 192.0.2.2\r
s=-\r
c=IN IP4 192.0.2.2\r
t=0 0\r
a=tool:baresip 1.0.0\r
m=audio 31058 RTP/AVP 0 8 96 101\r
a=rtpmap:0 PCMU/8000\r
a=rtpmap:8 PCMA/8000\r
a=rtpmap:96 opus/48000/2\r
a=fmtp:96 stereo=1;sprop-stereo=1\r
a=rtpmap:101 telephone-event/8000\r
a=fmtp:101 0-15\r
a=sendrecv\r
a=label:1\r
a=rtcp-rsize\r
a=ssrc:15856229 cname:sip:bob@127.0.0.1\r
a=minptime:20\r
a=ptime:20\r
";

fn caps() -> Capabilities {
    Capabilities {
        address: SocketAddr::new(Ipv4Addr::new(192, 0, 2, 1).into(), 40000),
        codecs: vec![Codec::Pcmu, Codec::Pcma],
        telephone_event: Some(101),
        ptime: Duration::from_millis(20),
    }
}

/// What the agent offers and accepts: PCMU, Opus on 96, PCMA (`agent::calls::capabilities`).
fn opus_caps() -> Capabilities {
    Capabilities {
        codecs: vec![Codec::Pcmu, OPUS, Codec::Pcma],
        ..caps()
    }
}

const OPUS: Codec = Codec::Opus {
    payload_type: OPUS_PAYLOAD_TYPE,
};

fn parse(s: &str) -> Session {
    Session::parse(s.as_bytes()).unwrap()
}

#[test]
fn rfc4566_example() {
    let s = parse(RFC4566_EXAMPLE);
    assert_eq!(s.origin.username, "jdoe");
    assert_eq!(s.origin.session_id, 2890844526);
    assert_eq!(s.origin.version, 2890842807);
    assert_eq!(s.origin.address, IpAddr::from([10, 47, 16, 5]));
    assert_eq!(s.name, "SDP Seminar");
    assert_eq!(s.connection, Some(IpAddr::from([224, 2, 17, 12])));
    assert_eq!(s.direction, Some(Direction::RecvOnly));
    assert_eq!(s.media.len(), 2);
    assert_eq!(s.media[0].kind, "audio");
    assert_eq!(s.media[0].port, 49170);
    assert_eq!(s.media[0].formats, [0]);
    assert_eq!(
        s.media[0].direction,
        Direction::RecvOnly,
        "inherited from the session"
    );
    assert_eq!(s.media[1].rtpmap[0].encoding, "h263-1998");
    assert_eq!(s.media[1].rtpmap[0].clock_rate, 90000);
    assert_eq!(Session::parse(s.encode().as_bytes()).unwrap(), s);
}

#[test]
fn offer_encoding() {
    let offer = offer(&caps(), 42, 1, Direction::SendRecv);
    assert_eq!(
        offer.encode(),
        "v=0\r\no=- 42 1 IN IP4 192.0.2.1\r\ns=Offhook\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP 0 8 101\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
    );
    let held = super::offer(&caps(), 42, 2, Direction::SendOnly);
    assert!(held.encode().ends_with("a=sendonly\r\n"));
    assert_eq!(held.origin.version, 2);
}

#[test]
fn answer_rfc3264_offer() {
    let offer = parse(RFC3264_OFFER);
    assert_eq!(
        offer.origin.address,
        IpAddr::from([0, 0, 0, 0]),
        "host name in o="
    );
    let (answer, got) = answer(&offer, &caps(), 7, 1).unwrap();
    assert_eq!(answer.media.len(), 2, "one m-line per offered stream");
    assert_eq!(answer.media[0].port, 40000);
    assert_eq!(
        answer.media[0].formats,
        [0],
        "no telephone-event offered, none answered"
    );
    assert_eq!(answer.media[1].port, 0, "video declined");
    assert_eq!(answer.media[1].kind, "video");
    assert_eq!(got.remote.address, "192.0.2.101:49170".parse().unwrap());
    assert_eq!(got.remote.codec, Codec::Pcmu);
    assert_eq!(got.remote.ptime, DEFAULT_PTIME);
    assert_eq!(got.remote.telephone_event, None);
    assert_eq!(got.direction, Direction::SendRecv);
    assert!(!got.on_hold);
    // The answer is itself valid SDP, and the phone would read the same agreement from it.
    let reparsed = Session::parse(answer.encode().as_bytes()).unwrap();
    assert_eq!(reparsed, answer);
}

#[test]
fn answer_keeps_offerers_preference_and_payload_types() {
    let offer = parse(PHONE_OFFER_V6);
    assert_eq!(
        offer.media[0].rtpmap[0].encoding, "opus",
        "Opus is parsed and kept"
    );
    assert_eq!(offer.media[0].rtpmap[0].channels, Some(2));
    let (answer, got) = answer(&offer, &caps(), 7, 1).unwrap();
    // Opus is not chosen (these capabilities have none); PCMA comes before PCMU in the
    // offer, so PCMA wins even though we prefer PCMU.
    assert_eq!(got.remote.codec, Codec::Pcma);
    assert_eq!(
        got.remote.telephone_event,
        Some(97),
        "the offer's number, not our 101"
    );
    assert_eq!(got.remote.ptime, Duration::from_millis(30));
    assert_eq!(got.remote.address, "[2001:db8::10]:10000".parse().unwrap());
    assert_eq!(answer.media[0].formats, [8, 97]);
    assert_eq!(answer.media[0].fmtp, [(97, "0-15".to_owned())]);
    assert!(
        answer
            .encode()
            .contains("a=rtpmap:97 telephone-event/8000\r\n")
    );
    // Without PCMA on our side PCMU is chosen.
    let pcmu_only = Capabilities {
        codecs: vec![Codec::Pcmu],
        telephone_event: None,
        ..caps()
    };
    let (answer, got) = super::answer(&offer, &pcmu_only, 7, 1).unwrap();
    assert_eq!(got.remote.codec, Codec::Pcmu);
    assert_eq!(got.remote.telephone_event, None);
    assert_eq!(answer.media[0].formats, [0]);
}

#[test]
fn answer_baresip() {
    let offer = parse(BARESIP_OFFER);
    assert_eq!(offer.origin.session_id, 4251657560);
    assert_eq!(offer.media[0].formats, [0, 8, 96, 101]);
    assert_eq!(offer.media[0].ptime, Some(20));
    assert_eq!(
        offer.media[0].fmtp[0],
        (96, "stereo=1;sprop-stereo=1".to_owned())
    );
    let (answer, got) = answer(&offer, &caps(), 7, 1).unwrap();
    assert_eq!(got.remote.address, "192.0.2.2:31058".parse().unwrap());
    assert_eq!(got.remote.codec, Codec::Pcmu);
    assert_eq!(got.remote.telephone_event, Some(101));
    assert_eq!(answer.media[0].formats, [0, 101]);
    assert_eq!(Session::parse(answer.encode().as_bytes()).unwrap(), answer);
}

#[test]
fn opus_offered_first_is_answered_with_opus_on_the_offers_payload_type() {
    let offer = parse(PHONE_OFFER_V6);
    let (answer, got) = answer(&offer, &opus_caps(), 7, 1).unwrap();
    assert_eq!(got.remote.codec, Codec::Opus { payload_type: 96 });
    assert_eq!(got.remote.codec.clock_rate(), 48_000);
    assert_eq!(got.remote.telephone_event, Some(97));
    assert_eq!(answer.media[0].formats, [96, 97]);
    let text = answer.encode();
    assert!(text.contains("a=rtpmap:96 opus/48000/2\r\n"), "{text}");
    assert!(
        text.contains(
            "a=fmtp:96 maxplaybackrate=8000; sprop-maxcapturerate=8000; stereo=0; \
             sprop-stereo=0; useinbandfec=1\r\n"
        ),
        "{text}"
    );
    assert_eq!(Session::parse(text.as_bytes()).unwrap(), answer);
    // The same Opus on another dynamic number: the offer's number is kept.
    let renumbered = PHONE_OFFER_V6
        .replace("RTP/AVP 96 8 0 97", "RTP/AVP 111 8 0 97")
        .replace(":96 ", ":111 ");
    let (answer, got) = super::answer(&parse(&renumbered), &opus_caps(), 7, 1).unwrap();
    assert_eq!(got.remote.codec, Codec::Opus { payload_type: 111 });
    assert_eq!(answer.media[0].formats, [111, 97]);
    assert_eq!(answer.media[0].fmtp[0].0, 111);
    // baresip lists PCMU before Opus: its order wins, PCMU it is.
    let (answer, got) = super::answer(&parse(BARESIP_OFFER), &opus_caps(), 7, 1).unwrap();
    assert_eq!(got.remote.codec, Codec::Pcmu);
    assert_eq!(answer.media[0].formats, [0, 101]);
    assert!(answer.media[0].fmtp.iter().all(|(pt, _)| *pt == 101));
    // Opus after PCMA in the offer: PCMA.
    let later = PHONE_OFFER_V6.replace("RTP/AVP 96 8 0 97", "RTP/AVP 8 96 0 97");
    let (_, got) = super::answer(&parse(&later), &opus_caps(), 7, 1).unwrap();
    assert_eq!(got.remote.codec, Codec::Pcma);
}

#[test]
fn an_opus_only_offer_gets_an_opus_call() {
    let opus_only = PHONE_OFFER_V6.replace("96 8 0 97", "96 97");
    let (answer, got) = answer(&parse(&opus_only), &opus_caps(), 1, 1).unwrap();
    assert_eq!(got.remote.codec, OPUS);
    assert_eq!(answer.media[0].port, 40000);
    assert_eq!(answer.media[0].formats, [96, 97]);
    // Without telephone-event either, and with the channel count left out.
    let bare = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
                m=audio 5004 RTP/AVP 120\r\na=rtpmap:120 OPUS/48000\r\n";
    let (answer, got) = super::answer(&parse(bare), &opus_caps(), 1, 1).unwrap();
    assert_eq!(got.remote.codec, Codec::Opus { payload_type: 120 });
    assert_eq!(answer.media[0].formats, [120]);
    // RFC 7587 §7: only opus/48000/2 on a dynamic type is Opus.
    for bad in [
        "a=rtpmap:120 opus/48000/1",
        "a=rtpmap:120 opus/16000/2",
        "a=rtpmap:120 opus/8000",
    ] {
        let text = bare.replace("a=rtpmap:120 OPUS/48000", bad);
        assert_eq!(
            super::answer(&parse(&text), &opus_caps(), 1, 1).unwrap_err(),
            NoCommonCodec,
            "{bad}"
        );
    }
    let static_pt = bare.replace("120", "3");
    assert_eq!(
        super::answer(&parse(&static_pt), &opus_caps(), 1, 1).unwrap_err(),
        NoCommonCodec,
        "a static payload type"
    );
}

#[test]
fn the_offer_we_write_has_opus_and_reads_the_phones_opus_answer() {
    let ours = offer(&opus_caps(), 9, 1, Direction::SendRecv);
    assert_eq!(
        ours.encode(),
        "v=0\r\no=- 9 1 IN IP4 192.0.2.1\r\ns=Offhook\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
         m=audio 40000 RTP/AVP 0 96 8 101\r\na=rtpmap:0 PCMU/8000\r\n\
         a=rtpmap:96 opus/48000/2\r\na=rtpmap:8 PCMA/8000\r\n\
         a=rtpmap:101 telephone-event/8000\r\n\
         a=fmtp:96 maxplaybackrate=8000; sprop-maxcapturerate=8000; stereo=0; sprop-stereo=0; \
         useinbandfec=1\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n"
    );
    // A phone that has Opus only takes it.
    let phone = "v=0\r\no=phone 5 5 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n\
                 m=audio 7078 RTP/AVP 96 101\r\na=rtpmap:96 opus/48000/2\r\n\
                 a=fmtp:96 useinbandfec=1\r\na=rtpmap:101 telephone-event/8000\r\n";
    let got = accept_answer(&ours, &parse(phone)).unwrap();
    assert_eq!(got.remote.codec, OPUS);
    assert_eq!(got.remote.telephone_event, Some(101));
    // Opus where we offered none is not accepted.
    let g711 = offer(&caps(), 9, 1, Direction::SendRecv);
    assert_eq!(
        accept_answer(&g711, &parse(phone)).unwrap_err(),
        NoCommonCodec
    );
}

#[test]
fn dynamic_payload_type_for_g711() {
    let offer = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
         m=audio 5004 RTP/AVP 112 0\r\na=rtpmap:112 pcma/8000/1\r\n",
    );
    let (answer, got) = answer(&offer, &caps(), 7, 1).unwrap();
    assert_eq!(got.remote.codec, Codec::Pcma);
    assert_eq!(answer.media[0].formats, [112]);
    assert_eq!(answer.media[0].rtpmap[0].payload_type, 112);
    // pt 0 remapped to something else is not PCMU.
    let offer = parse(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
         m=audio 5004 RTP/AVP 0\r\na=rtpmap:0 opus/48000/2\r\n",
    );
    assert_eq!(
        super::answer(&offer, &caps(), 7, 1).unwrap_err(),
        NoCommonCodec
    );
}

#[test]
fn no_common_codec() {
    let opus_only = PHONE_OFFER_V6.replace("96 8 0 97", "96 97");
    assert_eq!(
        answer(&parse(&opus_only), &caps(), 1, 1).unwrap_err(),
        NoCommonCodec
    );
    let srtp = PHONE_OFFER_V6.replace("RTP/AVP", "RTP/SAVP");
    assert_eq!(
        answer(&parse(&srtp), &caps(), 1, 1).unwrap_err(),
        NoCommonCodec
    );
    let no_address = PHONE_OFFER_V6.replace("c=IN IP6 2001:db8::10\n", "");
    assert_eq!(
        answer(&parse(&no_address), &caps(), 1, 1).unwrap_err(),
        NoCommonCodec
    );
    let no_media = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nt=0 0\r\n";
    assert_eq!(
        answer(&parse(no_media), &caps(), 1, 1).unwrap_err(),
        NoCommonCodec
    );
}

#[test]
fn only_the_first_usable_audio_stream_is_accepted() {
    let two = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
               m=audio 0 RTP/AVP 0\r\nm=audio 5004 RTP/AVP 96\r\na=rtpmap:96 opus/48000/2\r\n\
               m=audio 5006 RTP/AVP 8\r\nm=audio 5008 RTP/AVP 0\r\nm=image 6000 udptl t38\r\n";
    let (answer, got) = answer(&parse(two), &caps(), 1, 1).unwrap();
    let ports: Vec<u16> = answer.media.iter().map(|m| m.port).collect();
    assert_eq!(ports, [0, 0, 40000, 0, 0]);
    assert_eq!(got.remote.address.port(), 5006);
    assert!(answer.encode().contains("m=image 0 udptl *\r\n"));
}

#[test]
fn direction_and_hold() {
    let cases = [
        (
            "a=sendrecv",
            Direction::SendRecv,
            Direction::SendRecv,
            false,
        ),
        ("a=sendonly", Direction::SendOnly, Direction::RecvOnly, true),
        (
            "a=recvonly",
            Direction::RecvOnly,
            Direction::SendOnly,
            false,
        ),
        ("a=inactive", Direction::Inactive, Direction::Inactive, true),
    ];
    for (attr, phone, ours, hold) in cases {
        let offer = parse(&PHONE_OFFER_V6.replace("a=sendrecv", attr));
        let (answer, got) = answer(&offer, &caps(), 1, 1).unwrap();
        assert_eq!(got.direction, phone, "{attr}");
        assert_eq!(answer.media[0].direction, ours, "{attr}");
        assert_eq!(got.on_hold, hold, "{attr}");
    }
    // RFC 2543 hold: c=0.0.0.0 with no direction attribute.
    let old = RFC3264_OFFER.replace("192.0.2.101", "0.0.0.0");
    let (_, got) = answer(&parse(&old), &caps(), 1, 1).unwrap();
    assert!(got.on_hold);
    assert_eq!(got.direction, Direction::SendRecv);
    // A media-level direction overrides the session's.
    let s = parse(&RFC4566_EXAMPLE.replace(
        "m=video 51372 RTP/AVP 99\r\n",
        "m=video 51372 RTP/AVP 99\r\na=inactive\r\n",
    ));
    assert_eq!(s.media[0].direction, Direction::RecvOnly);
    assert_eq!(s.media[1].direction, Direction::Inactive);
}

#[test]
fn accept_the_phones_answer() {
    let ours = offer(&caps(), 9, 1, Direction::SendRecv);
    let phone = "v=0\r\no=phone 5 5 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n\
                 m=audio 7078 RTP/AVP 8 101\r\na=rtpmap:101 telephone-event/8000\r\na=ptime:40\r\n";
    let got = accept_answer(&ours, &parse(phone)).unwrap();
    assert_eq!(got.remote.address, "192.0.2.50:7078".parse().unwrap());
    assert_eq!(got.remote.codec, Codec::Pcma);
    assert_eq!(got.remote.telephone_event, Some(101));
    assert_eq!(got.remote.ptime, Duration::from_millis(40));
    assert!(!got.on_hold);
    let refused = phone.replace("7078", "0");
    assert_eq!(
        accept_answer(&ours, &parse(&refused)).unwrap_err(),
        NoCommonCodec
    );
    let extra = format!("{phone}m=video 0 RTP/AVP 31\r\n");
    assert_eq!(
        accept_answer(&ours, &parse(&extra)).unwrap_err(),
        NoCommonCodec,
        "m-line count differs"
    );
    let not_offered = phone.replace("RTP/AVP 8 101", "RTP/AVP 18 101");
    assert_eq!(
        accept_answer(&ours, &parse(&not_offered)).unwrap_err(),
        NoCommonCodec
    );
    let held = phone.replace("a=ptime:40", "a=sendonly");
    assert!(accept_answer(&ours, &parse(&held)).unwrap().on_hold);
}

#[test]
fn errors_name_line_and_field() {
    let good = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 5004 RTP/AVP 0\r\n";
    assert!(Session::parse(good.as_bytes()).is_ok());
    let bad = |from: &str, to: &str| Session::parse(good.replace(from, to).as_bytes()).unwrap_err();
    let m = |line, field| SdpError::Malformed { line, field };
    assert_eq!(bad("v=0", "v=1"), m(1, "v="));
    assert_eq!(bad("v=0\r\n", ""), m(1, "v="));
    assert_eq!(bad("o=- 1 1", "o=- x 1"), m(2, "o= sess-id"));
    assert_eq!(
        bad("o=- 1 1", "o=- 1 99999999999999999999"),
        m(2, "o= sess-version")
    );
    assert_eq!(bad("o=- 1 1 IN IP4", "o=- 1 1 ATM IP4"), m(2, "o= nettype"));
    assert_eq!(bad("s=-\r\n", ""), SdpError::Missing { field: "s=" });
    assert_eq!(
        bad("o=- 1 1 IN IP4 192.0.2.9\r\n", ""),
        SdpError::Missing { field: "o=" }
    );
    assert_eq!(
        bad("c=IN IP4 192.0.2.9", "c=IN IP4 pbx.example.com"),
        m(4, "c= address")
    );
    assert_eq!(
        bad("c=IN IP4 192.0.2.9", "c=IN IP6 192.0.2.9"),
        m(4, "c= address")
    );
    assert_eq!(bad("c=IN IP4", "c=IN IPX"), m(4, "c= addrtype"));
    assert_eq!(bad("RTP/AVP 0", "RTP/AVP 128"), m(6, "m= fmt"));
    assert_eq!(bad("RTP/AVP 0", "RTP/AVP"), m(6, "m= fmt"));
    assert_eq!(bad("5004", "65536"), m(6, "m= port"));
    assert_eq!(bad("t=0 0", "t=0\x00 0"), m(5, "character"));
    assert_eq!(bad("t=0 0", "t0 0"), m(5, "type=value"));
    assert_eq!(bad("t=0 0", "T=0 0"), m(5, "type=value"));
    let mut latin1 = good.as_bytes().to_vec();
    let s_value = good.find("s=-").unwrap() + 2;
    latin1[s_value] = 0xff;
    assert_eq!(Session::parse(&latin1).unwrap_err(), m(3, "UTF-8"));
    let tail = |extra: &str| Session::parse(format!("{good}{extra}").as_bytes()).unwrap_err();
    assert_eq!(tail("a=rtpmap:0 PCMU\r\n"), m(7, "a=rtpmap clock rate"));
    assert_eq!(
        tail("a=rtpmap:200 PCMU/8000\r\n"),
        m(7, "a=rtpmap payload type")
    );
    assert_eq!(
        tail("a=rtpmap:0 PCMU/8000/300\r\n"),
        m(7, "a=rtpmap channels")
    );
    assert_eq!(tail("a=fmtp:x 0-15\r\n"), m(7, "a=fmtp payload type"));
    assert_eq!(tail("a=ptime:soon\r\n"), m(7, "a=ptime"));
    assert_eq!(tail("o=- 1 1 IN IP4 192.0.2.9\r\n"), m(7, "line order"));
    assert_eq!(tail("v=0\r\n"), m(7, "v= (repeated)"));
}

#[test]
fn bounds() {
    let head = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nt=0 0\r\n";
    let too_long = format!("{head}{}", "a=x\r\n".repeat(MAX_SDP));
    assert_eq!(
        Session::parse(too_long.as_bytes()).unwrap_err(),
        SdpError::TooLong {
            len: too_long.len()
        }
    );
    let media = |n: usize| format!("{head}{}", "m=audio 0 RTP/AVP 0\r\n".repeat(n));
    assert_eq!(
        Session::parse(media(MAX_MEDIA).as_bytes())
            .unwrap()
            .media
            .len(),
        MAX_MEDIA
    );
    assert_eq!(
        Session::parse(media(MAX_MEDIA + 1).as_bytes()).unwrap_err(),
        SdpError::TooMany {
            line: 5 + MAX_MEDIA,
            field: "m= lines"
        }
    );
    let formats = |n: usize| format!("{head}m=audio 0 RTP/AVP{}\r\n", " 0".repeat(n));
    assert_eq!(
        Session::parse(formats(MAX_FORMATS).as_bytes())
            .unwrap()
            .media[0]
            .formats
            .len(),
        MAX_FORMATS
    );
    assert_eq!(
        Session::parse(formats(MAX_FORMATS + 1).as_bytes()).unwrap_err(),
        SdpError::TooMany {
            line: 5,
            field: "formats"
        }
    );
    let attributes = |n: usize| format!("{head}{}", "a=x\r\n".repeat(n));
    assert!(Session::parse(attributes(MAX_ATTRIBUTES).as_bytes()).is_ok());
    assert_eq!(
        Session::parse(attributes(MAX_ATTRIBUTES + 1).as_bytes()).unwrap_err(),
        SdpError::TooMany {
            line: 5 + MAX_ATTRIBUTES,
            field: "attributes"
        }
    );
}

#[test]
fn encode_cannot_inject_lines() {
    let mut s = offer(&caps(), 1, 1, Direction::SendRecv);
    s.name = "x\r\na=inactive".to_owned();
    let back = Session::parse(s.encode().as_bytes()).unwrap();
    assert_eq!(back.name, "x  a=inactive");
    assert_eq!(back.direction, None);
}

fn ip() -> impl Strategy<Value = IpAddr> {
    prop_oneof![
        any::<[u8; 4]>().prop_map(|b| IpAddr::from(Ipv4Addr::from(b))),
        any::<[u8; 16]>().prop_map(|b| IpAddr::from(Ipv6Addr::from(b))),
    ]
}

fn direction() -> impl Strategy<Value = Direction> {
    prop_oneof![
        Just(Direction::SendRecv),
        Just(Direction::SendOnly),
        Just(Direction::RecvOnly),
        Just(Direction::Inactive),
    ]
}

/// Text as SDP carries it: no CR, LF or NUL.
fn text() -> impl Strategy<Value = String> {
    "[^\r\n\0]{0,20}"
}

fn word() -> impl Strategy<Value = String> {
    "[A-Za-z0-9.+_/-]{1,12}"
}

prop_compose! {
    fn rtpmap()(payload_type in 0u8..128,
                (encoding, clock_rate, channels) in prop_oneof![
                    ("[A-Za-z0-9._-]{1,15}", any::<u32>(), any::<Option<u8>>()),
                    (Just("opus".to_owned()), Just(48_000u32), Just(Some(2u8))),
                ]) -> RtpMap {
        RtpMap { payload_type, encoding, clock_rate, channels }
    }
}

prop_compose! {
    fn media()(kind in word(), port: u16, protocol in prop_oneof![Just("RTP/AVP"), Just("RTP/SAVP"), Just("UDP/TLS/RTP/SAVPF")],
               formats in proptest::collection::vec(0u8..128, 1..=MAX_FORMATS),
               rtpmap in proptest::collection::vec(rtpmap(), 0..6),
               fmtp in proptest::collection::vec((0u8..128, "([!-~][ -~]{0,15}[!-~])?"), 0..3),
               connection in proptest::option::of(ip()), direction in direction(),
               ptime: Option<u32>) -> MediaDescription {
        MediaDescription { kind, port, protocol: protocol.to_owned(), formats, rtpmap, fmtp, connection, direction, ptime }
    }
}

prop_compose! {
    fn session()(username in "[!-~]{1,12}", session_id: u64, version: u64, address in ip(),
                 name in text(), connection in proptest::option::of(ip()),
                 direction in proptest::option::of(direction()),
                 media in proptest::collection::vec(media(), 0..=MAX_MEDIA)) -> Session {
        Session { origin: Origin { username, session_id, version, address }, name, connection, direction, media }
    }
}

fn offered_codec(m: &MediaDescription, caps: &Capabilities) -> Option<Codec> {
    m.formats.iter().find_map(|&pt| {
        m.codec(pt)
            .filter(|&c| caps.codecs.iter().any(|&o| same_encoding(o, c)))
    })
}

proptest! {
    #[test]
    fn encode_parse_round_trip(s in session()) {
        let text = s.encode();
        prop_assume!(text.len() <= MAX_SDP);
        prop_assert_eq!(Session::parse(text.as_bytes())?, s);
    }

    #[test]
    fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = Session::parse(&bytes);
    }

    #[test]
    fn parse_never_panics_on_near_sdp(lines in proptest::collection::vec("[vosctma]=[ -~]{0,40}", 0..30)) {
        let text = format!("v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\n{}", lines.join("\r\n"));
        if let Ok(s) = Session::parse(text.as_bytes()) {
            prop_assert_eq!(Session::parse(s.encode().as_bytes())?, s);
        }
    }

    /// RFC 3264 §6 on any offer: as many m-lines in order, at most one accepted, and it has
    /// the first of the offer's codecs we support; the answer reads back as what was agreed.
    #[test]
    fn answer_follows_rfc3264(mut offer in session(), pcma_first: bool, with_opus: bool) {
        // Give some streams a chance to be usable audio.
        for m in offer.media.iter_mut().step_by(2) {
            m.kind = "audio".to_owned();
            m.protocol = "RTP/AVP".to_owned();
        }
        let mut caps = if with_opus { opus_caps() } else { caps() };
        if pcma_first {
            caps.codecs.reverse();
        }
        match answer(&offer, &caps, 1, 2) {
            Err(NoCommonCodec) => {
                for m in &offer.media {
                    let usable = m.usable_audio() && m.connection.or(offer.connection).is_some();
                    prop_assert!(!usable || offered_codec(m, &caps).is_none());
                }
            }
            Ok((ans, got)) => {
                prop_assert_eq!(ans.media.len(), offer.media.len());
                let accepted: Vec<usize> = (0..ans.media.len()).filter(|&i| ans.media[i].port != 0).collect();
                prop_assert_eq!(accepted.len(), 1);
                let i = accepted[0];
                let (o, a) = (&offer.media[i], &ans.media[i]);
                for (om, am) in offer.media.iter().zip(&ans.media) {
                    prop_assert_eq!(&om.kind, &am.kind);
                }
                prop_assert_eq!(Some(got.remote.codec), offered_codec(o, &caps));
                prop_assert_eq!(a.formats[0], *o.formats.iter().find(|&&pt| o.codec(pt) == Some(got.remote.codec)).unwrap());
                prop_assert_eq!(a.direction, o.direction.mirrored());
                prop_assert_eq!(got.direction, o.direction);
                if let Some(te) = got.remote.telephone_event {
                    prop_assert!(o.formats.contains(&te) && a.formats.contains(&te));
                }
                let ip = o.connection.or(offer.connection).unwrap();
                prop_assert_eq!(got.remote.address, SocketAddr::new(ip, o.port));
                prop_assert_eq!(got.on_hold, ip.is_unspecified() || matches!(o.direction, Direction::SendOnly | Direction::Inactive));
                // The answer survives the wire.
                let wire = Session::parse(ans.encode().as_bytes())?;
                prop_assert_eq!(&wire, &ans);
            }
        }
    }

    /// Two Offhooks agree: A's offer, B's answer, A's reading of it.
    #[test]
    fn offer_answer_accept_agree(a_first_pcma: bool, b_codecs in proptest::sample::subsequence(vec![Codec::Pcmu, Codec::Opus { payload_type: 110 }, Codec::Pcma], 0..=3),
                                 te_a: Option<u8>, te_b: bool, dir in direction()) {
        // telephone-event on any dynamic type but Opus's.
        let te_a = te_a.map(|pt| 97 + pt % 31);
        let mut a = Capabilities { telephone_event: te_a, ..opus_caps() };
        if a_first_pcma { a.codecs.reverse(); }
        let b = Capabilities {
            address: "[2001:db8::2]:50000".parse().unwrap(),
            codecs: b_codecs.clone(),
            telephone_event: te_b.then_some(101),
            ptime: Duration::from_millis(30),
        };
        let o = offer(&a, 1, 1, dir);
        let o = Session::parse(o.encode().as_bytes())?;
        match answer(&o, &b, 2, 1) {
            Err(NoCommonCodec) => prop_assert!(b_codecs.is_empty()),
            Ok((ans, at_b)) => {
                // A's preference, on A's payload type (B's 110 for Opus is not used).
                prop_assert_eq!(at_b.remote.codec, a.codecs.iter().copied().find(|&c| b_codecs.iter().any(|&b| same_encoding(b, c))).unwrap());
                prop_assert_eq!(at_b.remote.address, a.address);
                let ans = Session::parse(ans.encode().as_bytes())?;
                let at_a = accept_answer(&o, &ans)?;
                prop_assert_eq!(at_a.remote.codec, at_b.remote.codec);
                prop_assert_eq!(at_a.remote.address, b.address);
                prop_assert_eq!(at_a.remote.ptime, Duration::from_millis(30));
                prop_assert_eq!(at_a.remote.telephone_event, if te_b { te_a } else { None });
                prop_assert_eq!(at_b.remote.telephone_event, if te_b { te_a } else { None });
                prop_assert_eq!(at_a.direction, dir.mirrored());
            }
        }
    }
}
