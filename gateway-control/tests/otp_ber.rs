//! Interop of our MEGACO binary codec (H.248.1 Annex A, BER) with Erlang/OTP's
//! `megaco_ber_encoder` (version 1, default configuration `[]`), a stack nobody here wrote:
//!
//! - every message of the corpus, read as text by OTP's pretty text decoder and encoded by
//!   OTP in BER, is byte for byte what we write for the same text (our text parser, our BER
//!   encoder);
//! - OTP decodes our bytes and encodes its record to the same bytes again, and writes it as
//!   pretty text that our text parser reads back to the same message;
//! - messages OTP builds as Erlang terms (`tests/otp/ber_built.escript`) decode with ours and
//!   encode back to OTP's bytes.
//!
//! Termination ids are in the form OTP's default term-id config `[8,8,8]` gives them: levels
//! of eight binary digits (see `megaco::ber`); a wildcard level is written as the last level
//! of two (`00000000/*`, "this level and below"), since OTP 25's decoder misreads a wildcard
//! that starts the third level (`…/…/*` decodes as `["…", "…*", "…"]`, which its own encoder
//! then refuses). Without `escript` the tests say so loudly and do nothing, except on CI (`CI`
//! set), where Erlang is installed (`scripts/deps --test`) and its absence fails them.

mod otp;

use std::process::Command;

use gateway_control::megaco::ber::{self, Arena};
use gateway_control::megaco::text;

use otp::{Codec, Otp};

const MG: &str = "MEGACO/1 [127.0.0.1]:2945\n";
const MGC: &str = "MEGACO/1 [127.0.0.1]:2944\n";

/// (name, header, body), in the text form both our parser and OTP's read.
const CORPUS: &[(&str, &str, &str)] = &[
    (
        "ServiceChange Restart",
        MG,
        r#"Transaction = 1 { Context = - { ServiceChange = ROOT { Services {
            Method = Restart, ServiceChangeAddress = 2945, Profile = resgw/1,
            Reason = "901 Cold Boot" } } } }"#,
    ),
    (
        "ServiceChange Disconnected with Delay, Version and TimeStamp",
        MG,
        r#"Transaction = 2 { Context = - { ServiceChange = ROOT { Services {
            Method = Disconnected, Version = 1, Reason = "900 Service Restored",
            Delay = 30, 20261205T13323300 } } } }"#,
    ),
    (
        "ServiceChange reply",
        MGC,
        r#"Reply = 1 { Context = - { ServiceChange = ROOT { Services {
            ServiceChangeAddress = 2944, Profile = resgw/1 } } } }"#,
    ),
    (
        "ServiceChange reply with an error",
        MGC,
        r#"Reply = 2 { Context = - { ServiceChange = ROOT {
            Error = 502 { "Not ready" } } } }"#,
    ),
    (
        "Notify al/of and dd/ce",
        MG,
        r#"Transaction = 3 { Context = - { Notify = 00000000/00000000/00000001 {
            ObservedEvents = 2223 {
                20261205T12000000:al/of { init = false },
                dd/ce { ds = "916135551212" } } } } }"#,
    ),
    (
        "Notify reply",
        MGC,
        "Reply = 3 { Context = - { Notify = 00000000/00000000/00000001 } }",
    ),
    (
        "Add of a line and $ with Remote SDP",
        MGC,
        "Transaction = 4 { Context = $ {
            Add = 00000000/00000000/00000001,
            Add = $ { Media { Stream = 1 {
                LocalControl { Mode = SendReceive, nt/jit = 40 },
                Local {
v=0
c=IN IP4 $
m=audio $ RTP/AVP 0
},
                Remote {
v=0
o=- 4242 4242 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 16384 RTP/AVP 0
a=ptime:20
} } },
            Events = 2224 { al/on { strict = state } } } } }",
    ),
    (
        "Add reply with the chosen context and Local SDP",
        MG,
        "Reply = 4 { Context = 17 {
            Add = 00000000/00000000/00000001,
            Add = 00000001/00000000/00000101 { Media { Stream = 1 { Local {
v=0
c=IN IP4 127.0.0.1
m=audio 49152 RTP/AVP 0
} } } } } }",
    ),
    (
        "Subtract auditing statistics",
        MGC,
        "Transaction = 5 { Context = 17 {
            Subtract = 00000000/00000000/00000001,
            Subtract = 00000001/00000000/00000101 { Audit { Statistics } } } }",
    ),
    (
        "Subtract reply with statistics",
        MG,
        "Reply = 5 { Context = 17 {
            Subtract = 00000000/00000000/00000001,
            Subtract = 00000001/00000000/00000101 { Statistics {
                nt/os = 1200, nt/or = 1180, rtp/ps = 200, rtp/pl = 0, nt/dur } } } }",
    ),
    (
        "Modify ringing with al/ri and dial tone with cg/dt",
        MGC,
        "Transaction = 6 { Context = - {
            Modify = 00000000/00000000/00000010 { Signals { al/ri },
                Events = 2225 { al/of { strict = exact }, al/fl } },
            Modify = 00000000/00000000/00000011 {
                Signals { cg/dt { SignalType = TimeOut, Duration = 5000,
                    NotifyCompletion = { TimeOut, OtherReason } } },
                Events = 2226 { al/on, dd/ce { DigitMap = dialplan00 } } } } }",
    ),
    (
        "Modify with a signal list, KeepActive, an inline digit map, a stream",
        MGC,
        "Transaction = 7 { Context = 17 {
            Modify = 00000000/00000000/00000010 {
                Signals { SignalList = 3 { cg/rt, cg/bt { KeepActive } } },
                Events = 2227 { al/on { KeepActive },
                    dd/ce { DigitMap = { T:4, S:2, (0|00|[1-7]xxx|8xxxxxxx|Fxxxxxxx|Exx|91xxxxxxxxxx|9011x.) } },
                    al/of { Stream = 1 } } } } }",
    ),
    (
        "Modify stopping signals, wildcarded, with TerminationState",
        MGC,
        "Transaction = 8 { Context = - {
            O-W-Modify = 00000000/* { Signals,
                Media { TerminationState { ServiceStates = InService, Buffer = LockStep },
                    LocalControl { Mode = ReceiveOnly, ReservedGroup = ON } } } } }",
    ),
    (
        "AuditValue of ROOT",
        MGC,
        "Transaction = 9 { Context = - { AuditValue = ROOT { Audit { Media, Events, Signals } } } }",
    ),
    (
        "AuditValue reply",
        MG,
        "Reply = 9 { Context = - { AuditValue = 00000000/00000000/00000001 {
            Media { TerminationState { ServiceStates = OutOfService },
                Stream = 1 { LocalControl { Mode = Inactive } } },
            Events = 2225 { al/of },
            Signals } } }",
    ),
    ("Pending", MG, "Pending = 4 { }"),
    (
        "TransactionResponseAck",
        MGC,
        "TransactionResponseAck { 4, 6-8 }",
    ),
    (
        "Reply with ImmAckRequired",
        MG,
        "Reply = 10 { ImmAckRequired, Context = - { Modify = 00000000/00000000/00000010 } }",
    ),
    (
        "Reply with a transaction error",
        MG,
        r#"Reply = 11 { Error = 430 { "Unknown TerminationID" } }"#,
    ),
    (
        "Reply with an action error",
        MG,
        r#"Reply = 12 { Context = 17 { Modify = 00000000/00000000/00000010,
            Error = 411 { "The transaction refers to an unknown ContextId" } } }"#,
    ),
    (
        "Message error",
        MG,
        r#"Error = 400 { "Syntax error in message" }"#,
    ),
    (
        "Context properties",
        MGC,
        "Transaction = 13 { Context = 17 { Priority = 3, Emergency,
            Modify = 00000000/00000000/00000010 } }",
    ),
    (
        "Move and AuditCapabilities",
        MGC,
        "Transaction = 14 { Context = 18 { Move = 00000000/00000000/00000010 },
            Context = - { AuditCapability = 00000000/00000000/00000011 { Audit { } } } }",
    ),
    (
        "A domain name mId",
        "MEGACO/1 <mg1.example.net>:2945\n",
        "Transaction = 15 { Context = - { Notify = 00000000/00000000/00000001 {
            ObservedEvents = 1 { al/on } } } }",
    ),
];

/// Whether `escript` is on the PATH.
fn escript_present() -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join("escript").is_file()))
}

/// Starts OTP, or says loudly why not (the test then does nothing: not a pass on CI, which
/// installs Erlang).
fn otp() -> Option<Otp> {
    if escript_present() {
        Some(Otp::start())
    } else if std::env::var_os("CI").is_some() {
        panic!("escript (Erlang/OTP) is not installed on CI: `scripts/deps --test` installs it");
    } else {
        eprintln!(
            "\n*** SKIPPED: escript (Erlang/OTP) is not installed; the BER interop with \
             OTP's megaco_ber_encoder was NOT checked. `scripts/deps --test` installs it. ***\n"
        );
        None
    }
}

fn ours(text: &str) -> Vec<u8> {
    let m = text::parse(text.as_bytes()).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    let mut out = Vec::new();
    ber::encode(&m, &mut out).unwrap_or_else(|e| panic!("{e}:\n{text}"));
    out
}

#[test]
fn our_encodings_are_otps_and_decode_in_otp() {
    let Some(mut otp) = otp() else {
        return;
    };
    let mut failures = Vec::new();
    for (name, header, body) in CORPUS {
        let text = format!("{header}{body}\n");
        let bytes = ours(&text);
        let arena = Arena::new();
        let decoded = ber::decode(&bytes, &arena).unwrap_or_else(|e| panic!("{name}: {e}"));
        // OTP's BER of the same text.
        match otp.recode(Codec::Pretty, text.as_bytes(), Codec::Ber) {
            Ok(theirs) if theirs == bytes => {}
            Ok(theirs) => failures.push(format!(
                "{name}: OTP writes\n  {}\nwe write\n  {}",
                hex(&theirs),
                hex(&bytes)
            )),
            Err(e) => failures.push(format!("{name}: OTP cannot encode the text: {e}")),
        }
        // OTP reads ours and writes it back unchanged.
        match otp.recode(Codec::Ber, &bytes, Codec::Ber) {
            Ok(again) if again == bytes => {}
            Ok(again) => failures.push(format!(
                "{name}: OTP re-encodes ours as\n  {}\nnot\n  {}",
                hex(&again),
                hex(&bytes)
            )),
            Err(e) => failures.push(format!("{name}: OTP cannot decode ours: {e}")),
        }
        // OTP's pretty text of ours reads back, through our text parser, to the same tree.
        match otp.recode(Codec::Ber, &bytes, Codec::Pretty) {
            Ok(pretty) => match text::parse(&pretty) {
                Ok(m) => {
                    let mut again = Vec::new();
                    match ber::encode(&m, &mut again) {
                        Ok(()) if again == bytes => {}
                        Ok(()) => failures.push(format!(
                            "{name}: OTP's text of ours encodes differently:\n{}",
                            String::from_utf8_lossy(&pretty)
                        )),
                        Err(e) => failures.push(format!("{name}: OTP's text of ours: {e}")),
                    }
                }
                Err(e) => failures.push(format!("{name}: OTP's text of ours: {e}")),
            },
            Err(e) => failures.push(format!("{name}: OTP cannot write ours as text: {e}")),
        }
        let mut again = Vec::new();
        ber::encode(&decoded, &mut again).unwrap();
        assert_eq!(again, bytes, "{name}");
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn otp_built_messages_decode_with_ours() {
    if otp().is_none() {
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/otp/ber_built.escript");
    let output = Command::new("escript")
        .arg(script)
        .output()
        .expect("escript runs");
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let mut seen = 0;
    for line in stdout.lines() {
        let (name, hex) = line.split_once(' ').unwrap();
        let bytes = unhex(hex).unwrap_or_else(|| panic!("{name}: {hex}"));
        let arena = Arena::new();
        let m = ber::decode(&bytes, &arena).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut again = Vec::new();
        ber::encode(&m, &mut again).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(hex_of(&again), hex, "{name}: {m:#?}");
        let mut pretty = Vec::new();
        text::encode(&m, text::Form::Pretty, &mut pretty);
        let pretty = String::from_utf8(pretty).unwrap();
        let expect: &[&str] = match name {
            "notify_dd_ce_meth" => &[
                "Notify=00000000/00000000/00000001",
                "20261205T13000000:dd/ce",
                "ds=916135551212",
                "Meth=UM",
            ],
            "subtract_reply_statistics" => &[
                "Context=7",
                "Subtract=00000001/00000000/00000010",
                "nt/os=1200",
                "rtp/pl=0",
                "nt/dur}",
            ],
            "modify_ring_and_dial_tone" => &[
                "al/ri{cad={500,200}}",
                "cg/dt{SignalType=TimeOut,Duration=5000,NotifyCompletion={TimeOut,OtherReason},KeepActive}",
                "al/of{KeepActive,strict=exact}",
                "dd/ce{DigitMap={T:4,S:2,(0|00|[1-7]xxx|8xxxxxxx)},Meth=FM}",
            ],
            other => panic!("unexpected message {other}"),
        };
        let squeezed: String = pretty.split_whitespace().collect();
        for e in expect {
            assert!(squeezed.contains(e), "{name}: {e:?} not in\n{pretty}");
        }
        assert_eq!(text::parse(pretty.as_bytes()).unwrap(), m, "{name}");
        seen += 1;
    }
    assert_eq!(seen, 3, "{stdout}");
}

fn hex(bytes: &[u8]) -> String {
    hex_of(bytes)
}

fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
