//! Unit vectors: bytes Erlang/OTP 25's `megaco_ber_encoder` wrote (version 1, default
//! config) for messages its pretty text decoder read, checked both ways, and bad input.

use super::{Arena, DecodeErrorKind, EncodeError, decode, encode};
use crate::megaco::text::{self, Within};
use crate::megaco::*;

/// Our BER for a text message.
fn ber(text: &str) -> Vec<u8> {
    let m = text::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
    let mut out = Vec::new();
    encode(&m, &mut out).unwrap_or_else(|e| panic!("{e}"));
    out
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// Asserts that our encoding of `text` is OTP's `bytes`, and that both decode to one tree
/// that encodes to the same bytes again.
fn same_as_otp(text: &str, otp: &str) -> Message<'static> {
    let otp = hex(otp);
    let ours = ber(text);
    assert_eq!(
        ours,
        otp,
        "ours:\n{}\notp:\n{}",
        to_hex(&ours),
        to_hex(&otp)
    );
    let arena = Box::leak(Box::new(Arena::new()));
    let bytes: &'static [u8] = Box::leak(otp.into_boxed_slice());
    let m = decode(bytes, arena).unwrap_or_else(|e| panic!("{e}"));
    let mut again = Vec::new();
    encode(&m, &mut again).unwrap();
    assert_eq!(again, bytes);
    m
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|b| format!("{b:02X}")).collect()
}

const SERVICE_CHANGE: &str = "MEGACO/1 [124.124.124.222]:55555
Transaction = 9998 {
    Context = - {
        ServiceChange = ROOT {
            Services {
                Method = Restart,
                ServiceChangeAddress = 55555,
                Profile = resgw/1,
                Reason = \"901 Cold Boot\"
            }
        }
    }
}
";

#[test]
fn service_change_restart_as_otp_writes_it() {
    let m = same_as_otp(
        SERVICE_CHANGE,
        "3065A163800101A10DA00B80047C7C7CDE810300D903A24FA14DA04B8002270EA1453043800100A33E\
         303CA03AA738A00E300CA0008108FFFFFFFFFFFFFFFFA126800103A105800300D903A309800772657367\
         772F31A40F040D39303120436F6C6420426F6F74",
    );
    let Body::Transactions(ts) = &m.body else {
        panic!()
    };
    let Transaction::Request(r) = &ts[0] else {
        panic!()
    };
    let c = &r.actions[0].commands[0].command;
    assert!(c.termination.is_root());
    assert_eq!(
        c.descriptors,
        [Descriptor::ServiceChange(vec![
            ServiceChangeParm::Method(ServiceChangeMethod::Restart),
            ServiceChangeParm::Address(ServiceChangeAddress::Port(55555)),
            ServiceChangeParm::Profile("resgw", 1),
            ServiceChangeParm::Reason("\"901 Cold Boot\""),
        ])]
    );
}

const ADD: &str = "MEGACO/1 [123.123.123.4]:55555
Transaction = 10003 {
    Context = $ {
        Add = 11111111/00000000/00000001,
        Add = $ {
            Media {
                Stream = 1 {
                    LocalControl {
                        Mode = SendReceive,
                        nt/jit = 40
                    },
                    Local {
v=0
c=IN IP4 $
m=audio $ RTP/AVP 4
a=ptime:30
},
                    Remote {
v=0
c=IN IP4 124.124.124.222
m=audio 2222 RTP/AVP 4
a=ptime:30
a=recvonly
}
                }
            },
            Events = 2224 {al/on {strict=state}}
        }
    }
}
";

#[test]
fn add_with_sdp_and_events_as_otp_writes_it() {
    let m = same_as_otp(
        ADD,
        "30820187A1820183800101A10DA00B80047B7B7B04810300D903A282016DA1820169A082016580022713A182015D30820159800500FFFFFFFEA382014E3011A00FA00DA0093007A0008103FF0001A10030820137A0820133A082012FA00C300AA0030401578103000000A182011DA081F9A181F6A181F33081F0800101A181EAA013800102A30E300C8004000B0007A10404023430A156A0543052300B80040000B001A103040130301280040000B008A10A0408494E204950342024301B80040000B00FA1130411617564696F2024205254502F4156502034301280040000B00CA10A04087074696D653A3330A27BA0793077300B80040000B001A103040130302080040000B008A1180416494E20495034203132342E3132342E3132342E323232301E80040000B00FA1160414617564696F2032323232205254502F4156502034301280040000B00CA10A04087074696D653A3330301280040000B00CA10A0408726563766F6E6C79A31F800208B0A1193017800400090004A30F300D80020001A10704057374617465",
    );
    let mut text = Vec::new();
    text::encode(&m, text::Form::Pretty, &mut text);
    let text = String::from_utf8(text).unwrap();
    assert!(
        text.contains("Remote {\nv=0\nc=IN IP4 124.124.124.222\n"),
        "{text}"
    );
    assert_eq!(text::parse(text.as_bytes()).unwrap(), m);
}

/// `notify_dd_ce_meth` of `tests/otp/ber_built.escript`: built by OTP as Erlang terms.
const OTP_NOTIFY: &str = "308180A17E800101A10CA00A80047F00000181020B81A26BA169A06780010AA16230\
    60800100A35B3059A057A655A0093007A0008103000001A148800208B0A1423040800400060004A22230148002\
    0001A10E040C393136313335353531323132300A80020003A1040402554DA31480083230323631323035810831\
    33303030303030";

#[test]
fn notify_built_by_otp() {
    let bytes = hex(OTP_NOTIFY);
    let arena = Arena::new();
    let m = decode(&bytes, &arena).unwrap();
    assert_eq!(m.mid, MessageId::Ip4([127, 0, 0, 1].into(), Some(2945)));
    let Body::Transactions(ts) = &m.body else {
        panic!()
    };
    let Transaction::Request(r) = &ts[0] else {
        panic!()
    };
    assert_eq!(r.id, TransactionId(10));
    let c = &r.actions[0].commands[0].command;
    assert_eq!(
        (c.verb, c.termination),
        (Verb::Notify, TerminationId("00000000/00000000/00000001"))
    );
    assert_eq!(
        c.descriptors,
        [Descriptor::ObservedEvents(ObservedEventsDescriptor {
            request_id: RequestId::Number(2224),
            events: vec![ObservedEvent {
                timestamp: Some("20261205T13000000"),
                name: "dd/ce",
                params: vec![
                    EventSpecParm::Other(Property {
                        name: "ds",
                        value: ParmValue::Equal("916135551212")
                    }),
                    EventSpecParm::Other(Property {
                        name: "Meth",
                        value: ParmValue::Equal("UM")
                    }),
                ],
            }],
        })]
    );
    let mut again = Vec::new();
    encode(&m, &mut again).unwrap();
    assert_eq!(again, bytes);
}

fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    assert!(content.len() < 128);
    let mut v = vec![tag, content.len() as u8];
    v.extend_from_slice(content);
    v
}

/// A message with one request holding one command; `command` is the Command CHOICE element.
fn request_with(command: &[u8]) -> Vec<u8> {
    request_v(1, command)
}

fn request_v(version: u8, command: &[u8]) -> Vec<u8> {
    let command_request = tlv(0x30, &tlv(0xa0, command));
    let action = tlv(
        0x30,
        &[&[0x80, 1, 0][..], &tlv(0xa3, &command_request)].concat(),
    );
    let request = tlv(
        0xa0,
        &[&[0x80, 2, 0x30, 0x39][..], &tlv(0xa1, &action)].concat(),
    );
    let mess = [
        &[0x80, 1, version][..],
        &tlv(0xa1, &tlv(0xa0, &[0x80, 4, 127, 0, 0, 1])),
        &tlv(0xa2, &tlv(0xa1, &request)),
    ]
    .concat();
    tlv(0x30, &tlv(0xa1, &mess))
}

/// A Notify of ROOT with one observed event: `event` is its content after the name.
fn notify_with(name: [u8; 4], event: &[u8]) -> Vec<u8> {
    let mut ev = vec![0x80, 4];
    ev.extend_from_slice(&name);
    ev.extend_from_slice(event);
    let mut seq = vec![0x30, ev.len() as u8];
    seq.extend(ev);
    let mut observed = vec![0x80, 1, 7, 0xa1, seq.len() as u8];
    observed.extend(seq);
    let root = [
        0xa0, 14, 0x30, 12, 0xa0, 0, 0x81, 8, 255, 255, 255, 255, 255, 255, 255, 255,
    ];
    let mut notify = root.to_vec();
    notify.extend([0xa1, observed.len() as u8]);
    notify.extend(observed);
    let mut command = vec![0xa6, notify.len() as u8];
    command.extend(notify);
    request_with(&command)
}

#[test]
fn unknown_ids_decode_as_hex_and_encode_back() {
    let bytes = notify_with([0x00, 0xee, 0x00, 0x04], &[0xa2, 0]);
    let arena = Arena::new();
    let m = decode(&bytes, &arena).unwrap();
    let mut t = Vec::new();
    text::encode(&m, text::Form::Compact, &mut t);
    assert!(String::from_utf8(t).unwrap().contains("OE=7{x00ee/x0004}"));
    let mut again = Vec::new();
    encode(&m, &mut again).unwrap();
    assert_eq!(again, bytes);
}

#[test]
fn decode_errors_name_what_where_and_the_code() {
    let arena = Arena::new();
    let err = |bytes: &[u8]| decode(bytes, &arena).unwrap_err();

    // The Command CHOICE [15]: an unknown command in request 12345, answered with 443.
    let bytes = request_with(&[0xaf, 0]);
    let e = err(&bytes);
    assert_eq!(e.kind, DecodeErrorKind::UnknownCommand);
    assert_eq!(
        (e.within, e.transaction),
        (Within::Request, Some(TransactionId(12345)))
    );
    assert_eq!(
        e.answer(),
        Some((TransactionId(12345), ErrorCode::UNKNOWN_COMMAND))
    );
    assert_eq!(e.offset, bytes.len() - 2);

    // A Mux descriptor in an Add: valid Annex A the tree does not model, 501.
    let root = [
        0xa0, 14, 0x30, 12, 0xa0, 0, 0x81, 8, 255, 255, 255, 255, 255, 255, 255, 255,
    ];
    let add = [&[0xa0, 22][..], &root, &[0xa1, 4, 0xa2, 2, 0x80, 0]].concat();
    let e = err(&request_with(&add));
    assert_eq!(e.kind, DecodeErrorKind::Unsupported("muxDescriptor"));
    assert_eq!(e.code(), ErrorCode::NOT_IMPLEMENTED);

    // A timestamp that is not digits.
    let bad_time = [0xa3, 20, 0x80, 8]
        .into_iter()
        .chain(*b"2026120X")
        .chain([0x81, 8])
        .chain(*b"12000000")
        .collect::<Vec<_>>();
    let e = err(&notify_with(
        [0, 9, 0, 5],
        &[&[0xa2, 0][..], &bad_time].concat(),
    ));
    assert_eq!(e.kind, DecodeErrorKind::NotText("date"));
    assert_eq!(e.code(), ErrorCode::SYNTAX_ERROR_IN_TRANSACTION);

    // A PkgdName of three octets.
    let good = notify_with([0, 9, 0, 5], &[0xa2, 0]);
    let mut short = notify_with([0, 9, 0, 5], &[0xa2, 0]);
    let at = short
        .windows(6)
        .position(|w| w == [0x80, 4, 0, 9, 0, 5])
        .unwrap();
    short[at + 1] = 3;
    let e = err(&short);
    assert!(
        matches!(
            e.kind,
            DecodeErrorKind::Range("eventName")
                | DecodeErrorKind::Expected(_)
                | DecodeErrorKind::Truncated
                | DecodeErrorKind::Missing(_)
        ),
        "{e}"
    );

    // Cut short anywhere: an error, never a panic.
    for n in 0..good.len() {
        assert!(decode(&good[..n], &arena).is_err(), "{n}");
    }
    // Trailing bytes after the message.
    let mut long = good.clone();
    long.push(0);
    assert_eq!(
        err(&long).kind,
        DecodeErrorKind::Unexpected("MegacoMessage")
    );
    // An authentication header.
    let auth = [0x30, 5, 0xa0, 3, 0x80, 1, 0];
    assert_eq!(err(&auth).kind, DecodeErrorKind::Unsupported("authHeader"));
    assert_eq!(err(&auth).code(), ErrorCode::NOT_IMPLEMENTED);
    // An indefinite length.
    let e = err(&[0x30, 0x80, 0, 0]);
    assert_eq!(e.kind, DecodeErrorKind::Unsupported("indefinite length"));
    assert_eq!((e.offset, e.code()), (0, ErrorCode::NOT_IMPLEMENTED));
    // Too large.
    let big = vec![0; super::MAX_MESSAGE + 1];
    assert_eq!(err(&big).kind, DecodeErrorKind::TooLarge("message"));
    assert!(err(&[]).to_string().contains("missing MegacoMessage"));
}

#[test]
fn later_versions_decode_with_their_extensions_skipped() {
    // Version 2's durationTimer [4] in a DigitMapValue and serviceChangeInfo [9] in a
    // ServiceChangeParm are extension additions: skipped, the version kept.
    let root = [
        0xa0, 14, 0x30, 12, 0xa0, 0, 0x81, 8, 255, 255, 255, 255, 255, 255, 255, 255,
    ];
    let parm = [&[0x80, 1, 3, 0xa4, 5, 0x04, 3][..], b"901"].concat();
    let plain = tlv(0xa7, &[&root[..], &tlv(0xa1, &parm)].concat());
    let extended = tlv(
        0xa7,
        &[&root[..], &tlv(0xa1, &[&parm[..], &[0xa9, 0]].concat())].concat(),
    );
    let arena = Arena::new();
    let bytes = request_v(2, &extended);
    let m = decode(&bytes, &arena).unwrap();
    assert_eq!(m.version, 2);
    assert_eq!(m, decode(&request_v(2, &plain), &arena).unwrap());
    let v2 = "MEGACO/2 [127.0.0.1]\nTransaction = 12345 { Context = - { \
              ServiceChange = ROOT { Services { Method = Restart, Reason = 901 } } } }";
    assert_eq!(m, text::parse(v2.as_bytes()).unwrap());
    // An extension addition must come after the root components.
    let misplaced = [&[0xa9, 0][..], &parm].concat();
    let bad = tlv(0xa7, &[&root[..], &tlv(0xa1, &misplaced)].concat());
    assert_eq!(
        decode(&request_v(2, &bad), &arena).unwrap_err().kind,
        DecodeErrorKind::Expected("serviceChangeMethod")
    );
}

#[test]
fn what_annex_a_cannot_carry_fails_to_encode() {
    let fails = |text: &str| {
        let m = text::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}"));
        let mut out = vec![1, 2, 3];
        let e = encode(&m, &mut out).unwrap_err();
        assert_eq!(out, [1, 2, 3], "left as it was");
        e
    };
    let h = "MEGACO/1 [127.0.0.1]:2944\nTransaction = 1 { Context = - { ";
    let e = fails(&format!("{h}Modify = al/1 }} }}"));
    assert!(
        matches!(
            e,
            EncodeError::Malformed {
                field: "terminationID",
                ..
            }
        ),
        "{e}"
    );
    let e = fails(&format!(
        "{h}Modify = ROOT {{ Events = 1 {{ zz/of }} }} }} }}"
    ));
    assert_eq!(
        e,
        EncodeError::UnknownName {
            field: "requestedEvent",
            name: "zz/of".into()
        }
    );
    let e = fails(&format!(
        "{h}Modify = ROOT {{ Events = 1 {{ al/of {{ Embed {{ SG {{ cg/rt }} }} }} }} }} }} }}"
    ));
    assert!(
        matches!(
            e,
            EncodeError::Unsupported {
                field: "requestedEvent",
                ..
            }
        ),
        "{e}"
    );
    let e = fails(&format!(
        "{h}ServiceChange = ROOT {{ Services {{ Method = X-Reboot }} }} }} }}"
    ));
    assert!(matches!(
        e,
        EncodeError::Unsupported {
            field: "serviceChangeMethod",
            ..
        }
    ));
    let e = fails(&format!("{h}Notify = ROOT }} }}"));
    assert!(
        matches!(
            e,
            EncodeError::Unsupported {
                field: "notifyReq",
                ..
            }
        ),
        "{e}"
    );
    let e = fails(&format!("{h}Add = ROOT {{ Statistics {{ nt/os }} }} }} }}"));
    assert!(
        matches!(
            e,
            EncodeError::Unsupported {
                field: "ammRequest",
                ..
            }
        ),
        "{e}"
    );
    let e = fails(&format!(
        "{h}Modify = ROOT {{ Events = 1 {{ al/of {{ bogus = 1 }} }} }} }} }}"
    ));
    assert!(
        matches!(
            e,
            EncodeError::UnknownName {
                field: "parameter",
                ..
            }
        ),
        "{e}"
    );
    let e = fails(&format!(
        "{h}Add = $ {{ Media {{ Local {{\nv=0\nnot sdp\n}} }} }} }} }}"
    ));
    assert!(
        matches!(
            e,
            EncodeError::Malformed {
                field: "propGrps",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("not sdp"));
}

#[test]
fn one_arena_serves_many_messages() {
    let bytes = ber(ADD);
    let mut arena = Arena::new();
    for _ in 0..1000 {
        let m = decode(&bytes, &arena).unwrap();
        assert_eq!(m.version, 1);
        assert!(arena.allocated_bytes() < 16 * 1024);
        arena.reset();
    }
}

#[test]
fn later_extensions_that_change_the_meaning_are_refused() {
    // An AuditValue with version 2's auditPropertyToken [1].
    let id = [
        0xa0, 12, 0xa0, 0, 0x81, 8, 255, 255, 255, 255, 255, 255, 255, 255,
    ];
    let descriptor = [0xa1, 6, 0x80, 2, 7, 0x80, 0xa1, 0];
    let audit = [&[0xa5, 22][..], &id, &descriptor].concat();
    let arena = Arena::new();
    let e = decode(&request_v(2, &audit), &arena).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Unsupported("auditPropertyToken"));
    assert_eq!(
        e.answer(),
        Some((TransactionId(12345), ErrorCode::NOT_IMPLEMENTED))
    );

    // A reply with version 3's segmentNumber [3].
    let error = tlv(0xa2, &tlv(0xa0, &[0x80, 2, 0x01, 0xf4]));
    let reply = tlv(0xa2, &[&[0x80, 1, 5][..], &error, &[0x83, 1, 1]].concat());
    let mess = [
        &[0x80, 1, 3][..],
        &tlv(0xa1, &tlv(0xa0, &[0x80, 4, 127, 0, 0, 1])),
        &tlv(0xa2, &tlv(0xa1, &reply)),
    ]
    .concat();
    let bytes = tlv(0x30, &tlv(0xa1, &mess));
    let e = decode(&bytes, &arena).unwrap_err();
    assert_eq!(e.kind, DecodeErrorKind::Unsupported("segmentNumber"));
    assert_eq!(
        (e.within, e.transaction),
        (Within::Reply, Some(TransactionId(5)))
    );
    assert_eq!(e.answer(), None);
}
