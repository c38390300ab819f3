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
