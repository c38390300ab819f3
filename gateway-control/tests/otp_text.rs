//! Interop of our MEGACO text codec (H.248.1 Annex B) with Erlang/OTP's, a stack nobody here
//! wrote: every message of the dialogue our controller speaks (docs in the `megaco` module),
//! encoded by us in the pretty and the compact form, with LF and with CRLF line ends, must
//! decode with OTP's `megaco_pretty_text_encoder` and `megaco_compact_text_encoder` to the same
//! record; OTP's encodings of that record, pretty and compact, must parse with ours; and our
//! encodings of what we parsed must decode in OTP to the same record again.
//!
//! OTP is required: without `escript` and the megaco application the test fails
//! (`scripts/deps --test` installs them).

mod otp;

use gateway_control::megaco::Message;
use gateway_control::megaco::text::{Form, encode, parse};

use otp::{Codec, Otp};

/// The MG's and the MGC's message headers.
const MG: &str = "MEGACO/1 [127.0.0.1]:2945\n";
const MGC: &str = "MEGACO/1 [127.0.0.1]:2944\n";

/// The dialogue, written as our parser reads it: (name, header, body).
const CORPUS: &[(&str, &str, &str)] = &[
    (
        "ServiceChange Restart on ROOT",
        MG,
        r#"Transaction = 1 { Context = - { ServiceChange = ROOT { Services {
            Method = Restart, ServiceChangeAddress = 2945, Reason = "901 Cold Boot",
            Profile = ResGW/1 } } } }"#,
    ),
    (
        "ServiceChange Restart with Version and TimeStamp",
        MG,
        r#"Transaction = 2 { Context = - { ServiceChange = ROOT { Services {
            Method = Restart, Reason = "901 Cold Boot", Version = 1,
            20261205T13323300 } } } }"#,
    ),
    (
        "ServiceChange Failover",
        MG,
        r#"Transaction = 3 { Context = - { ServiceChange = ROOT { Services {
            Method = Failover, Reason = "909 MGC Impending Failure" } } } }"#,
    ),
    (
        "ServiceChange Graceful with Delay",
        MG,
        r#"Transaction = 4 { Context = - { ServiceChange = ROOT { Services {
            Method = Graceful, Delay = 30,
            Reason = "905 Termination taken out of service" } } } }"#,
    ),
    (
        "ServiceChange Forced and Disconnected on a line",
        MG,
        r#"Transaction = 5 { Context = - {
            ServiceChange = aaln/3 { Services {
                Method = Forced, Reason = "904 Termination malfunctioning" } },
            ServiceChange = aaln/4 { Services {
                Method = Disconnected, Reason = "900 Service Restored" } } } }"#,
    ),
    (
        "ServiceChange reply, bare",
        MGC,
        "Reply = 1 { Context = - { ServiceChange = ROOT } }",
    ),
    (
        "ServiceChange reply with Version and MgcIdToTry",
        MGC,
        "Reply = 1 { Context = - { ServiceChange = ROOT { Services {
            Version = 1, MgcIdToTry = [127.0.0.1]:2944 } } } }",
    ),
    (
        "AuditValue of ROOT",
        MGC,
        "Transaction = 10 { Context = - { AuditValue = ROOT { Audit { } } } }",
    ),
    (
        "AuditValue of a line with audit items",
        MGC,
        "Transaction = 11 { Context = - { AuditValue = aaln/1 { Audit { Media, Events, \
            Signals } } } }",
    ),
    (
        "AuditValue reply, bare",
        MG,
        "Reply = 10 { Context = - { AuditValue = ROOT } }",
    ),
    (
        "AuditValue reply with descriptors",
        MG,
        "Reply = 11 { Context = - { AuditValue = aaln/1 {
            Media { TerminationState { ServiceStates = InService, Buffer = OFF } },
            Events = 1 { al/of }, Signals { } } } }",
    ),
    (
        "AuditValue reply: unknown termination in the command",
        MG,
        r#"Reply = 12 { Context = - { AuditValue = aaln/9 {
            Error = 430 { "Unknown TerminationID" } } } }"#,
    ),
    (
        "Reply with a transaction error",
        MG,
        r#"Reply = 13 { Error = 430 { "Unknown TerminationID" } }"#,
    ),
    (
        "Reply with an action error after a command",
        MG,
        r#"Reply = 14 { Context = 42 { Modify = aaln/1, Error = 411 { "Unknown context" } } }"#,
    ),
    (
        "Message error",
        MG,
        r#"Error = 400 { "Syntax error in message" }"#,
    ),
    (
        "Modify: arm off-hook, stop signals",
        MGC,
        "Transaction = 20 { Context = - { Modify = aaln/1 { Events = 1 { al/of }, \
            Signals { } } } }",
    ),
    (
        "Modify: on-hook, flash and digits with a digit map",
        MGC,
        "Transaction = 21 { Context = - { Modify = aaln/1 {
            Events = 2 { al/on, al/fl, dd/ce { DigitMap = dmap1 } },
            DigitMap = dmap1 { (0|00|[1-7]xxx|8xxxxxxx|#xxxxxxx|*xx|9xxxxxxxxxx|9011x.) } } } }",
    ),
    (
        "Modify: ring",
        MGC,
        "Transaction = 22 { Context = - { Modify = aaln/1 { Signals { al/ri }, \
            Events = 3 { al/of } } } }",
    ),
    (
        "Modify: the four tones",
        MGC,
        "Transaction = 23 {
            Context = - { Modify = aaln/1 { Signals { cg/dt } } },
            Context = - { Modify = aaln/2 { Signals { cg/rt } } },
            Context = - { Modify = aaln/3 { Signals { cg/bt } } },
            Context = - { Modify = aaln/4 { Signals { cg/wt } } } }",
    ),
    (
        "Modify reply",
        MG,
        "Reply = 20 { Context = - { Modify = aaln/1 } }",
    ),
    (
        "Notify off-hook with a timestamp",
        MG,
        "Transaction = 30 { Context = - { Notify = aaln/1 { ObservedEvents = 1 {
            20261205T13323300:al/of } } } }",
    ),
    (
        "Notify on-hook and flash in a context",
        MG,
        "Transaction = 31 { Context = 42 { Notify = aaln/1 { ObservedEvents = 2 { al/on } } } }
         Transaction = 32 { Context = - { Notify = aaln/2 { ObservedEvents = 2 { al/fl } } } }",
    ),
    (
        "Notify digits",
        MG,
        r#"Transaction = 33 { Context = - { Notify = aaln/1 { ObservedEvents = 2 {
            dd/ce { ds = "123#", Meth = FM } } } } }"#,
    ),
    (
        "Notify reply",
        MGC,
        "Reply = 30 { Context = - { Notify = aaln/1 } }",
    ),
    (
        "Add a line and an RTP termination into a new context",
        MGC,
        "Transaction = 40 { Context = $ {
            Add = aaln/1 { Events = 4 { al/on, al/fl } },
            Add = $ { Media { Stream = 1 {
                LocalControl { Mode = SendReceive },
                Local {
v=0
c=IN IP4 $
m=audio $ RTP/AVP 0
                },
                Remote {
v=0
c=IN IP4 127.0.0.1
m=audio 40000 RTP/AVP 0
                } } } } } }",
    ),
    (
        "Add reply with the context number and the MG's Local",
        MG,
        "Reply = 40 { Context = 42 {
            Add = aaln/1,
            Add = rtp/7 { Media { Stream = 1 { Local {
v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 41000 RTP/AVP 0
            } } } } } }",
    ),
    (
        "Modify the mode of a connection",
        MGC,
        "Transaction = 41 { Context = 42 { Modify = rtp/7 { Media { Stream = 1 {
            LocalControl { Mode = ReceiveOnly } } } } } }",
    ),
    (
        "Subtract both terminations",
        MGC,
        "Transaction = 50 { Context = 42 { Subtract = rtp/7, Subtract = aaln/1 } }",
    ),
    (
        "Subtract all of a context",
        MGC,
        "Transaction = 51 { Context = 42 { Subtract = * } }",
    ),
    (
        "Subtract reply with Statistics",
        MG,
        "Reply = 50 { Context = 42 {
            Subtract = rtp/7 { Statistics { rtp/ps = 1200, nt/os = 62300, rtp/pr = 1180,
                nt/or = 60200, rtp/pl = 0, rtp/jit = 20, rtp/delay = 40 } },
            Subtract = aaln/1 } }",
    ),
    ("Pending", MG, "Pending = 40 { }"),
    (
        "Reply asking for an immediate ack",
        MG,
        "Reply = 40 { ImmAckRequired, Context = 42 { Add = aaln/1 } }",
    ),
    (
        "TransactionResponseAck",
        MGC,
        "TransactionResponseAck { 40, 50-52 }",
    ),
    (
        "Optional and wildcard-reply commands",
        MGC,
        "Transaction = 60 { Context = - { O-Modify = aaln/* { Events = 5 { al/of } },
            W-AuditValue = aaln/* { Audit { } } } }",
    ),
];

/// Shapes of the message tree beyond the dialogue: (name, header, body).
const MORE: &[(&str, &str, &str)] = &[
    (
        "An mId by domain name",
        "MEGACO/1 <mg1.example.net>:2944\n",
        "Reply = 1 { Context = - { Modify = aaln/1 } }",
    ),
    (
        "An mId by domain name without a port",
        "MEGACO/1 <mg1.example.net>\n",
        "Reply = 1 { Context = - { Modify = aaln/1 } }",
    ),
    (
        "An mId by device name",
        "MEGACO/1 mg1/line\n",
        "Reply = 1 { Context = - { Modify = aaln/1 } }",
    ),
    (
        "An IPv6 mId",
        "MEGACO/1 [::1]:2944\n",
        "Reply = 1 { Context = - { Modify = aaln/1 } }",
    ),
    (
        "An IPv6 mId without a port",
        "MEGACO/1 [2001:db8::1]\n",
        "Reply = 1 { Context = - { Modify = aaln/1 } }",
    ),
    (
        "An MTP mId",
        "MEGACO/1 MTP{0A1B}\n",
        "Reply = 1 { Context = - { Modify = aaln/1 } }",
    ),
    (
        "Signal parameters",
        MGC,
        "Transaction = 1 { Context = - { Modify = aaln/1 { Signals { al/ri { SignalType = TimeOut, \
            Duration = 3000, NotifyCompletion = { TimeOut, IntByEvent }, KeepActive, \
            Stream = 1, cad = 2 } } } } }",
    ),
    (
        "A signal list",
        MGC,
        "Transaction = 1 { Context = - { Modify = aaln/1 { Signals { SignalList = 1 { cg/dt, \
            cg/rt { Duration = 100 } } } } } }",
    ),
    (
        "Event parameters: KeepActive, inline DigitMap, Stream, Embed",
        MGC,
        "Transaction = 1 { Context = - { Modify = aaln/1 { Events = 7 { al/of { KeepActive, \
            strict = state }, dd/ce { DigitMap = { (xx) } }, al/on { Stream = 1 }, \
            al/fl { Embed { Signals { cg/dt }, Events = 8 { al/on } } } } } } }",
    ),
    (
        "LocalControl values: every relation, one-of, range and all-of",
        MGC,
        "Transaction = 1 { Context = - { Modify = aaln/1 { Media { LocalControl { Mode = LoopBack, \
            ReservedValue = ON, ReservedGroup = OFF, tdmc/gain = 2, a/b > 3, a/c < 4, a/d # 5, \
            a/e = [1, 2], a/f = [1 : 9], a/g = { x, y } } } } } }",
    ),
    (
        "Context properties",
        MGC,
        "Transaction = 1 { Context = 42 { Priority = 3, Emergency, Modify = aaln/1 } }",
    ),
    (
        "All contexts",
        MGC,
        "Transaction = 1 { Context = * { AuditValue = aaln/1 } }",
    ),
    (
        "EventBuffer and TerminationState",
        MGC,
        r#"Transaction = 1 { Context = - { Modify = aaln/1 {
            Media { TerminationState { Buffer = LockStep, ServiceStates = Test } },
            EventBuffer { al/of, dd/ce { ds = "12" } } } } }"#,
    ),
    (
        "Move and AuditCapability",
        MGC,
        "Transaction = 1 { Context = 42 { Move = aaln/1, \
            AuditCapability = aaln/1 { Audit { Media } } } }",
    ),
    (
        "Observed event parameters",
        MG,
        r#"Transaction = 1 { Context = 5 { Notify = rtp/1 { ObservedEvents = 3 {
            19990729T22000000:nt/netfail { Stream = 1, cs = "x" } } } } }"#,
    ),
    (
        "ServiceChange HandOff to an mId",
        MG,
        "Transaction = 1 { Context = - { ServiceChange = ROOT { Services { Method = HandOff, \
            Reason = \"903 MGC Directed Change\", \
            ServiceChangeAddress = [127.0.0.1]:2946 } } } }",
    ),
    (
        "ServiceChange reply with an error",
        MGC,
        r#"Reply = 1 { Context = - { ServiceChange = ROOT {
            Error = 406 { "Version not supported" } } } }"#,
    ),
    (
        "DigitMap by name",
        MGC,
        "Transaction = 1 { Context = - { Modify = aaln/1 { DigitMap = dmap1 } } }",
    ),
    (
        "DigitMap by value with timers",
        MGC,
        "Transaction = 1 { Context = - { Modify = aaln/1 { DigitMap { T:10, S:4, L:20, \
            (xx|T) } } } }",
    ),
    (
        "Events cleared",
        MGC,
        "Transaction = 1 { Context = - { Modify = aaln/1 { Events } } }",
    ),
    (
        "Events with RequestID *",
        MG,
        "Reply = 1 { Context = - { AuditValue = aaln/1 { Events = * { al/of } } } }",
    ),
    ("Error without text", MG, "Reply = 1 { Error = 501 { } }"),
    (
        "Statistic without value",
        MG,
        "Reply = 1 { Context = 1 { Subtract = rtp/1 { Statistics { rtp/ps } } } }",
    ),
    (
        "Every audit item",
        MGC,
        "Transaction = 1 { Context = - { AuditValue = aaln/1 { Audit { Mux, Modem, Media, \
            Signals, EventBuffer, DigitMap, Statistics, Events, ObservedEvents, Packages } } } }",
    ),
    (
        "A termination id with $",
        MGC,
        "Transaction = 1 { Context = $ { Add = rtp/$ } }",
    ),
    (
        "The termination id *",
        MGC,
        "Transaction = 1 { Context = - { AuditValue = * } }",
    ),
    (
        "A TerminationState property",
        MGC,
        "Transaction = 1 { Context = - { Modify = aaln/1 {
            Media { TerminationState { al/x = 1 } } } } }",
    ),
    (
        "Two streams",
        MGC,
        "Transaction = 1 { Context = 1 { Modify = rtp/1 { Media {
            Stream = 1 { LocalControl { Mode = Inactive } },
            Stream = 2 { LocalControl { Mode = SendOnly } } } } } }",
    ),
    (
        "A quoted string with braces and a semicolon",
        MG,
        "Transaction = 1 { Context = - { ServiceChange = ROOT { Services { Method = Restart, \
            Reason = \"901 Cold Boot; with {braces}\" } } } }",
    ),
];

/// LF line ends made CRLF, inside the session descriptions too.
fn crlf(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    for &b in bytes {
        if b == b'\n' {
            out.push(b'\r');
        }
        out.push(b);
    }
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn encoded(message: &Message<'_>, form: Form) -> Vec<u8> {
    let mut out = Vec::new();
    encode(message, form, &mut out);
    out
}

#[test]
fn otp_decodes_ours_and_we_decode_otps() {
    let mut otp = Otp::start();
    let mut failures = Vec::new();
    let mut checked = 0;
    for &(name, header, body) in CORPUS.iter().chain(MORE) {
        let source = format!("{header}{body}\n");
        let message = parse(source.as_bytes())
            .unwrap_or_else(|e| panic!("{name}: the corpus does not parse: {e}\n{source}"));
        for form in [Form::Pretty, Form::Compact] {
            let lf = encoded(&message, form);
            for ours in [lf.clone(), crlf(&lf)] {
                match round_trip(&mut otp, &ours) {
                    Ok(n) => checked += n,
                    Err(e) => {
                        failures.push(format!("{name}, ours in {form:?}:\n{}{e}", text(&ours)))
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} encodings failed:\n\n{}",
        failures.len(),
        (CORPUS.len() + MORE.len()) * 4,
        failures.join("\n\n")
    );
    assert_eq!(checked, (CORPUS.len() + MORE.len()) * 2 * 2 * 2 * 2);
}

/// Checks one of our encodings both ways; how many re-encodings of ours OTP read back.
fn round_trip(otp: &mut Otp, ours: &[u8]) -> Result<usize, String> {
    parse(ours).map_err(|e| format!("we do not read it back: {e}"))?;
    // Ours → OTP: both of OTP's text decoders take it, to the same record.
    otp.same((Codec::Pretty, ours), (Codec::Compact, ours))
        .map_err(|e| format!("OTP: {e}"))?;
    // OTP → ours → OTP, through each of OTP's forms and each of ours.
    let mut checked = 0;
    for otp_form in [Codec::Pretty, Codec::Compact] {
        let theirs = otp
            .recode(Codec::Pretty, ours, otp_form)
            .map_err(|e| format!("OTP's {otp_form:?} encoder: {e}"))?;
        let theirs_text = format!("OTP's {otp_form:?}:\n{}", text(&theirs));
        let read = parse(&theirs).map_err(|e| format!("{theirs_text}\nwe do not read it: {e}"))?;
        for form in [Form::Pretty, Form::Compact] {
            let again = encoded(&read, form);
            otp.same((Codec::Pretty, ours), (Codec::Pretty, &again))
                .map_err(|e| {
                    format!(
                        "{theirs_text}\nours again in {form:?}:\n{}\nOTP: {e}",
                        text(&again)
                    )
                })?;
            checked += 1;
        }
    }
    Ok(checked)
}

/// What we read (as a receiver should) and OTP refuses, with the reason OTP gives. Our
/// controller and simulator send none of these.
const OTP_REFUSES: &[(&str, &str, &str)] = &[
    (
        // RFC 3525 Appendix I's own registration (A.1.1 step 1) has no Reason, but the ABNF
        // says "serviceChangeMethod and serviceChangeReason are REQUIRED" (and the ASN.1 of
        // Annex A has no OPTIONAL on it): OTP is right.
        "Transaction = 9998 { Context = - { ServiceChange = ROOT { Services {
            Method = Restart, ServiceChangeAddress = 55555, Profile = ResGW/1 } } } }",
        "missing_required_serviceChangeParm",
        "ServiceChange without Reason",
    ),
    (
        // The ABNF allows an extension method (`extensionParameter`); the ASN.1 enumeration
        // of ServiceChangeMethod has no room for one, and OTP refuses it in text too.
        r#"Transaction = 1 { Context = - { ServiceChange = ROOT { Services {
            Method = X-mine, Reason = "900" } } } }"#,
        "bad_serviceChangeMethod",
        "ServiceChange with an extension method",
    ),
    (
        // "at most one of either serviceChangeAddress or serviceChangeMgcId but not both":
        // OTP is right. Its own example MGC (megaco_simple_mgc) answers a registration that
        // carries a ServiceChangeAddress this way, and its MG then refuses the answer.
        "Reply = 1 { Context = - { ServiceChange = ROOT { Services {
            ServiceChangeAddress = 2945, MgcIdToTry = controller } } } }",
        "not_both_address_mgcid_servChgReplyParm",
        "ServiceChange reply with both an address and an MGC to try",
    ),
    (
        // RFC 3525's ABNF is `SignalsToken LBRKT [ signalParm *(COMMA signalParm)] RBRKT`:
        // empty braces are version 1's way to stop all signals (Appendix I step 17 writes
        // `Signals { }`). OTP's version 1 parser refuses them and takes the bare `Signals` of
        // later versions, which is what our encoder writes.
        "Transaction = 1 { Context = - { Modify = aaln/1 { Signals { } } } }",
        "syntax error before",
        "empty Signals braces",
    ),
    (
        // A reply holds an error descriptor or at least one action reply: OTP is right.
        "Reply = 1 { }",
        "syntax error before",
        "Reply without actions",
    ),
    (
        // `ImmAckRequired` must be followed by a comma and the reply's content: OTP is right.
        "Reply = 1 { ImmAckRequired }",
        "syntax error before",
        "Reply with ImmAckRequired only",
    ),
];

#[test]
fn what_otp_refuses() {
    let mut otp = Otp::start();
    for &(body, reason, name) in OTP_REFUSES {
        let source = format!("{MG}{body}\n");
        parse(source.as_bytes()).unwrap_or_else(|e| panic!("{name}: we do not read it: {e}"));
        for codec in [Codec::Pretty, Codec::Compact] {
            match otp.show(codec, source.as_bytes()) {
                Ok(record) => panic!("{name}: OTP now takes it: {record}"),
                Err(e) => assert!(e.contains(reason), "{name}: OTP says {e}"),
            }
        }
    }
}
