//! Spec vectors: the call flow of RFC 3525 Appendix I, A.1 (residential gateway to
//! residential gateway, pages 184-194), their compact equivalents, and the layout of both
//! forms.
//!
//! Each vector is the RFC's own text, without the 3-space page indentation and the page
//! breaks: the header and the first transaction line share a line, and the session
//! descriptions and a digit map are wrapped as the RFC prints them. Four of the appendix's
//! messages break its own Annex B grammar: event parameters in parentheses
//! (`al/of(strict=state)`, steps 3, 6, 8 and 14), where `eventParameters` take braces, and a
//! comma before a closing brace (step 3, where a Local descriptor was taken out). The tests
//! check that the parser refuses them where they break it, then read them with exactly those
//! faults corrected ([`corrected`]), as real stacks write them.

mod bad_input;

use std::net::Ipv4Addr;

use super::*;
use crate::megaco::*;

/// Parses, checks that both forms encode and parse back to the same message, and returns it.
#[track_caller]
fn parsed(bytes: &[u8]) -> Message<'_> {
    let message = parse(bytes).unwrap_or_else(|e| panic!("{e}"));
    for form in [Form::Pretty, Form::Compact] {
        let mut out = Vec::new();
        encode(&message, form, &mut out);
        let again = parse(&out)
            .unwrap_or_else(|e| panic!("{e} in {form:?}:\n{}", String::from_utf8_lossy(&out)));
        assert_eq!(
            again,
            message,
            "{form:?}:\n{}",
            String::from_utf8_lossy(&out)
        );
    }
    message
}

fn encoded(message: &Message<'_>, form: Form) -> String {
    let mut out = Vec::new();
    encode(message, form, &mut out);
    String::from_utf8(out).expect("text")
}

/// An RFC text that breaks the grammar: checks the parser refuses it where it does (with
/// `dangling_comma`, first at the brace after the comma, then at the first `(`), and returns it
/// without the comma and with event parameters in braces.
#[track_caller]
fn corrected(rfc: &str, dangling_comma: bool) -> String {
    #[track_caller]
    fn refused(text: &str, kind: ParseErrorKind, at: usize) {
        let error = parse(text.as_bytes()).expect_err("the RFC's text breaks the grammar");
        assert_eq!((error.kind, error.offset), (kind, at), "{error}");
    }
    let mut text = rfc.to_owned();
    if dangling_comma {
        let comma = text.find("},\n\n").expect("the comma") + 1;
        let brace = comma + text[comma..].find('}').expect("a brace");
        refused(&text, ParseErrorKind::Expected("media item"), brace);
        text.remove(comma);
    }
    let parenthesis = text.find('(').expect("a parenthesis");
    refused(&text, ParseErrorKind::Expected("`,` or `}`"), parenthesis);
    for (written, grammar) in [
        ("(strict=state)", " {strict=state}"),
        ("(init=false)", " {init=false}"),
    ] {
        text = text.replace(written, grammar);
    }
    text
}

fn mg1() -> MessageId<'static> {
    MessageId::Ip4(Ipv4Addr::new(124, 124, 124, 222), Some(55555))
}

fn mgc() -> MessageId<'static> {
    MessageId::Ip4(Ipv4Addr::new(123, 123, 123, 4), Some(55555))
}

fn request<'a>(message: &'a Message<'a>) -> &'a TransactionRequest<'a> {
    match &message.body {
        Body::Transactions(ts) => match &ts[0] {
            Transaction::Request(r) => r,
            other => panic!("not a request: {other:?}"),
        },
        Body::Error(e) => panic!("error {e:?}"),
    }
}

fn reply<'a>(message: &'a Message<'a>) -> &'a TransactionReply<'a> {
    match &message.body {
        Body::Transactions(ts) => match &ts[0] {
            Transaction::Reply(r) => r,
            other => panic!("not a reply: {other:?}"),
        },
        Body::Error(e) => panic!("error {e:?}"),
    }
}

/// RFC 3525 Appendix I, A.1.1, step 1 (pages 184-185): MG1 registers with a ServiceChange on
/// ROOT. Its mId has no port, and it has no Reason, which H.248.1's ASN.1 requires (Erlang/OTP
/// refuses it for that: tests/otp_text.rs).
const A1_SERVICE_CHANGE: &str = r"MEGACO/1 [124.124.124.222] Transaction = 9998 {
    Context = - {
        ServiceChange = ROOT {Services {
            Method=Restart,
            ServiceChangeAddress=55555, Profile=ResGW/1}
        }
    } }
";

/// RFC 3525 Appendix I, A.1.1, step 1, as the compact encoding writes it.
const A1_SERVICE_CHANGE_COMPACT: &[u8] =
    b"!/1 [124.124.124.222]\nT=9998{C=-{SC=ROOT{SV{MT=RS,AD=55555,PF=ResGW/1}}}}\n";

#[test]
fn a1_1_service_change_registration() {
    // RFC 3525 Appendix I, A.1.1, step 1.
    let m = parsed(A1_SERVICE_CHANGE.as_bytes());
    assert_eq!(m.version, 1);
    let mid = MessageId::Ip4(Ipv4Addr::new(124, 124, 124, 222), None);
    let expected = Message {
        version: 1,
        mid,
        body: Body::Transactions(vec![Transaction::Request(TransactionRequest {
            id: TransactionId(9998),
            actions: vec![ActionRequest {
                context: ContextId::Null,
                properties: vec![],
                commands: vec![CommandRequest {
                    optional: false,
                    wildcard_reply: false,
                    command: Command {
                        verb: Verb::ServiceChange,
                        termination: TerminationId("ROOT"),
                        descriptors: vec![Descriptor::ServiceChange(vec![
                            ServiceChangeParm::Method(ServiceChangeMethod::Restart),
                            ServiceChangeParm::Address(ServiceChangeAddress::Port(55555)),
                            ServiceChangeParm::Profile("ResGW", 1),
                        ])],
                    },
                }],
            }],
        })]),
    };
    assert_eq!(m, expected);
    assert!(
        request(&m).actions[0].commands[0]
            .command
            .termination
            .is_root()
    );
    assert_eq!(
        encoded(&m, Form::Compact).as_bytes(),
        A1_SERVICE_CHANGE_COMPACT
    );
    assert_eq!(parsed(A1_SERVICE_CHANGE_COMPACT), m);
    assert_eq!(
        encoded(&m, Form::Pretty),
        "MEGACO/1 [124.124.124.222]\n\
         Transaction = 9998 {\n\
         \x20   Context = - {\n\
         \x20       ServiceChange = ROOT {\n\
         \x20           Services {\n\
         \x20               Method = Restart,\n\
         \x20               ServiceChangeAddress = 55555,\n\
         \x20               Profile = ResGW/1\n\
         \x20           }\n\
         \x20       }\n\
         \x20   }\n\
         }\n"
    );
}

#[test]
fn a1_1_mgc_reply_to_service_change() {
    // RFC 3525 Appendix I, A.1.1, step 2 (page 185): the MGC accepts the registration.
    let m = parsed(
        br"MEGACO/1 [123.123.123.4]:55555 Reply = 9998 {
   Context = - {ServiceChange = ROOT {
     Services {ServiceChangeAddress=55555, Profile=ResGW/1} } } }
",
    );
    assert_eq!(m.mid, mgc());
    let r = reply(&m);
    assert_eq!(r.id, TransactionId(9998));
    assert!(!r.imm_ack_required);
    let ReplyResult::Actions(actions) = &r.result else {
        panic!("{r:?}")
    };
    assert_eq!(
        actions[0].commands[0].descriptors,
        [Descriptor::ServiceChange(vec![
            ServiceChangeParm::Address(ServiceChangeAddress::Port(55555)),
            ServiceChangeParm::Profile("ResGW", 1),
        ])]
    );
    assert_eq!(
        encoded(&m, Form::Compact),
        "!/1 [123.123.123.4]:55555\nP=9998{C=-{SC=ROOT{SV{AD=55555,PF=ResGW/1}}}}\n"
    );
}

/// RFC 3525 Appendix I, A.1.1, step 3 (page 185): the MGC programs the line for idle:
/// LocalControl with mode, gain and echo cancelling, and off-hook armed. It breaks the
/// grammar twice: the comma left after LocalControl, and `al/of(strict=state)`.
const A1_MODIFY_IDLE: &str = r"MEGACO/1 [123.123.123.4]:55555 Transaction = 9999 {
    Context = - {
        Modify = A4444 {
            Media { Stream = 1 {
                     LocalControl {
                         Mode = SendReceive,
                         tdmc/gain=2,  ; in dB,
                         tdmc/ec=on
                     },

                 }
            },
            Events = 2222 {al/of(strict=state)}
        }
    } }
";

#[test]
fn a1_1_modify_arms_off_hook() {
    // RFC 3525 Appendix I, A.1.1, step 3.
    let text = corrected(A1_MODIFY_IDLE, true);
    let m = parsed(text.as_bytes());
    let command = &request(&m).actions[0].commands[0].command;
    assert_eq!(command.verb, Verb::Modify);
    assert_eq!(command.termination, TerminationId("A4444"));
    assert_eq!(
        command.descriptors,
        [
            Descriptor::Media(vec![MediaParm::Stream(
                1,
                vec![MediaParm::LocalControl(vec![
                    LocalControlParm::Mode(StreamMode::SendReceive),
                    LocalControlParm::Property(Property {
                        name: "tdmc/gain",
                        value: ParmValue::Equal("2"),
                    }),
                    LocalControlParm::Property(Property {
                        name: "tdmc/ec",
                        value: ParmValue::Equal("on"),
                    }),
                ])]
            )]),
            Descriptor::Events(EventsDescriptor {
                request_id: Some(RequestId::Number(2222)),
                events: vec![RequestedEvent {
                    name: "al/of",
                    params: vec![EventParm::Other(Property {
                        name: "strict",
                        value: ParmValue::Equal("state"),
                    })],
                }],
            }),
        ]
    );
    assert_eq!(
        encoded(&m, Form::Compact),
        "!/1 [123.123.123.4]:55555\nT=9999{C=-{MF=A4444{M{ST=1{O{MO=SR,tdmc/gain=2,\
         tdmc/ec=on}}},E=2222{al/of{strict=state}}}}}\n"
    );
}

#[test]
fn a1_1_mg_reply_to_modify() {
    // RFC 3525 Appendix I, A.1.1, step 4 (page 186): MG1 accepts the Modify.
    let m = parsed(
        br"MEGACO/1 [124.124.124.222]:55555

Reply = 9999 {
   Context = - {Modify = A4444} }
",
    );
    assert_eq!(m.mid, mg1());
    let ReplyResult::Actions(actions) = &reply(&m).result else {
        panic!()
    };
    assert_eq!(
        actions[0].commands,
        [Command {
            verb: Verb::Modify,
            termination: TerminationId("A4444"),
            descriptors: vec![],
        }]
    );
    assert_eq!(
        encoded(&m, Form::Compact),
        "!/1 [124.124.124.222]:55555\nP=9999{C=-{MF=A4444}}\n"
    );
}

/// RFC 3525 Appendix I, A.1.2, step 6 (page 186): MG1 reports the off-hook, with its
/// parameter in parentheses.
const A1_NOTIFY_OFF_HOOK: &str = r"MEGACO/1 [124.124.124.222]:55555 Transaction = 10000 {
   Context = - {
       Notify = A4444 {ObservedEvents =2222 {
         19990729T22000000:al/of(init=false)}}
   } }
";

#[test]
fn a1_2_notify_off_hook() {
    // RFC 3525 Appendix I, A.1.2, step 6.
    let text = corrected(A1_NOTIFY_OFF_HOOK, false);
    let m = parsed(text.as_bytes());
    let command = &request(&m).actions[0].commands[0].command;
    assert_eq!(command.verb, Verb::Notify);
    assert_eq!(
        command.descriptors,
        [Descriptor::ObservedEvents(ObservedEventsDescriptor {
            request_id: RequestId::Number(2222),
            events: vec![ObservedEvent {
                timestamp: Some("19990729T22000000"),
                name: "al/of",
                params: vec![EventSpecParm::Other(Property {
                    name: "init",
                    value: ParmValue::Equal("false"),
                })],
            }],
        })]
    );
    let compact = "!/1 [124.124.124.222]:55555\n\
                   T=10000{C=-{N=A4444{OE=2222{19990729T22000000:al/of{init=false}}}}}\n";
    assert_eq!(encoded(&m, Form::Compact), compact);
    assert_eq!(parsed(compact.as_bytes()), m);
}

/// RFC 3525 Appendix I, A.1.2, step 8 (page 187): on-hook and digits armed under a digit
/// map, dial tone played, the digit map given by name and value. The RFC wraps the digit
/// map's line inside `[1-7]`, where Annex B's `digitMapRange` allows no white space; the
/// codec keeps the value as written.
const A1_MODIFY_DIGIT_MAP: &str = r"MEGACO/1 [123.123.123.4]:55555 Transaction = 10001 {
    Context = - {
        Modify = A4444 {
            Events = 2223 {
                al/on(strict=state), dd/ce {DigitMap=Dialplan0}
            },
            Signals {cg/dt},
            DigitMap= Dialplan0{ (0| 00|[1-
7]xxx|8xxxxxxx|Fxxxxxxx|Exx|91xxxxxxxxxx|9011x.)}
        }
    } }
";

#[test]
fn a1_2_modify_with_digit_map_and_dial_tone() {
    // RFC 3525 Appendix I, A.1.2, step 8.
    let text = corrected(A1_MODIFY_DIGIT_MAP, false);
    let m = parsed(text.as_bytes());
    let d = &request(&m).actions[0].commands[0].command.descriptors;
    assert_eq!(
        d[0],
        Descriptor::Events(EventsDescriptor {
            request_id: Some(RequestId::Number(2223)),
            events: vec![
                RequestedEvent {
                    name: "al/on",
                    params: vec![EventParm::Other(Property {
                        name: "strict",
                        value: ParmValue::Equal("state"),
                    })],
                },
                RequestedEvent {
                    name: "dd/ce",
                    params: vec![EventParm::DigitMap(DigitMapRef::Name("Dialplan0"))],
                },
            ],
        })
    );
    assert_eq!(
        d[1],
        Descriptor::Signals(vec![SignalParm::Signal(Signal {
            name: "cg/dt",
            params: vec![],
        })])
    );
    assert_eq!(
        d[2],
        Descriptor::DigitMap(DigitMapDescriptor {
            name: Some("Dialplan0"),
            value: Some(" (0| 00|[1-\n7]xxx|8xxxxxxx|Fxxxxxxx|Exx|91xxxxxxxxxx|9011x.)"),
        })
    );
}

#[test]
fn a1_2_notify_digits() {
    // RFC 3525 Appendix I, A.1.2, step 10 (page 187): the dialled number, a quoted value.
    let m = parsed(
        br#"MEGACO/1 [124.124.124.222]:55555 Transaction = 10002 {
   Context = - {
       Notify = A4444 {ObservedEvents =2223 {
         19990729T22010001:dd/ce{ds="916135551212",Meth=UM}}}
   } }
"#,
    );
    let Descriptor::ObservedEvents(oe) = &request(&m).actions[0].commands[0].command.descriptors[0]
    else {
        panic!()
    };
    assert_eq!(
        oe.events[0].params,
        [
            EventSpecParm::Other(Property {
                name: "ds",
                value: ParmValue::Equal("\"916135551212\""),
            }),
            EventSpecParm::Other(Property {
                name: "Meth",
                value: ParmValue::Equal("UM"),
            }),
        ]
    );
}

/// RFC 3525 Appendix I, A.1.2, step 12 (page 188): the MGC adds the line and an RTP
/// termination chosen by the MG (`$`) into a new context (`$`), with the codecs it offers as
/// Local SDP. The RFC prints the session description's lines run together.
const A1_ADD: &str = r"MEGACO/1 [123.123.123.4]:55555 Transaction = 10003 {
    Context = $ {
       Add = A4444,
       Add = $ {
           Media {
             Stream = 1 {
                  LocalControl {
                      Mode = ReceiveOnly,

                      nt/jit=40 ; in ms
                  },
                  Local { v=0 c=IN IP4 $ m=audio $ RTP/AVP 4
a=ptime:30 v=0 c=IN IP4 $ m=audio $ RTP/AVP 0
                  }
             }
          }
       }
    } }
";

#[test]
fn a1_2_add_line_and_rtp_termination() {
    // RFC 3525 Appendix I, A.1.2, step 12.
    let m = parsed(A1_ADD.as_bytes());
    let action = &request(&m).actions[0];
    assert_eq!(action.context, ContextId::Choose);
    assert_eq!(action.commands.len(), 2);
    assert_eq!(
        action.commands[0].command.termination,
        TerminationId("A4444")
    );
    assert!(action.commands[0].command.descriptors.is_empty());
    let rtp = &action.commands[1].command;
    assert_eq!(rtp.termination, TerminationId("$"));
    assert!(rtp.termination.is_wildcard());
    let [Descriptor::Media(media)] = rtp.descriptors.as_slice() else {
        panic!("{rtp:?}")
    };
    let [MediaParm::Stream(1, stream)] = media.as_slice() else {
        panic!("{media:?}")
    };
    assert_eq!(
        stream[0],
        MediaParm::LocalControl(vec![
            LocalControlParm::Mode(StreamMode::ReceiveOnly),
            LocalControlParm::Property(Property {
                name: "nt/jit",
                value: ParmValue::Equal("40"),
            }),
        ])
    );
    assert_eq!(
        stream[1],
        MediaParm::Local(
            " v=0 c=IN IP4 $ m=audio $ RTP/AVP 4\n\
             a=ptime:30 v=0 c=IN IP4 $ m=audio $ RTP/AVP 0\n                  "
        )
    );
    // The compact form keeps the session description as it was.
    let compact = encoded(&m, Form::Compact);
    assert!(compact.starts_with(
        "!/1 [123.123.123.4]:55555\nT=10003{C=${A=A4444,A=${M{ST=1{O{MO=RC,nt/jit=40},\
         L{ v=0 c=IN IP4 $ m=audio $ RTP/AVP 4\na=ptime:30 "
    ));
}

#[test]
fn a1_2_add_reply_with_local_sdp() {
    // RFC 3525 Appendix I, A.1.2, step 13 (pages 188-189): MG1 answers with context 2000,
    // the RTP termination it chose, and the session description it will receive on.
    let m = parsed(
        br"MEGACO/1 [124.124.124.222]:55555 Reply = 10003 {
   Context = 2000 {
      Add = A4444,
      Add=A4445{
         Media {
             Stream = 1 {
                 Local { v=0 o=- 2890844526 2890842807 IN IP4
124.124.124.222 s=- t= 0 0 c=IN IP4 124.124.124.222 m=audio 2222
RTP/AVP 4 a=ptime:30 a=recvonly
                 } ; RTP profile for G.723.1 is 4
             }
         }
      }
   } }
",
    );
    let ReplyResult::Actions(actions) = &reply(&m).result else {
        panic!()
    };
    assert_eq!(actions[0].context, ContextId::Number(2000));
    assert_eq!(actions[0].commands[1].termination, TerminationId("A4445"));
    assert_eq!(actions[0].error, None);
}

/// RFC 3525 Appendix I, A.1.2, step 14 (page 189): the MGC adds the called line, rung
/// (`al/ri`) with off-hook armed, and an RTP termination with MG1's address as Remote, to a
/// new context on MG2.
const A1_ADD_RING: &str = r"MEGACO/1 [123.123.123.4]:55555 Transaction = 50003 {
    Context = $ {
       Add = A5555  { Media {
            Stream = 1 {
                 LocalControl {Mode = SendReceive} }},
      Events=1234{al/of(strict=state)},
            Signals {al/ri}

            },
       Add  = $ {Media {
            Stream = 1 {
                 LocalControl {
                    Mode = SendReceive,
                    nt/jit=40 ; in ms
                 },
                 Local { v=0 c=IN IP4 $ m=audio $ RTP/AVP 4
a=ptime:30
                 },
                 Remote { v=0 c=IN IP4 124.124.124.222 m=audio 2222
RTP/AVP 4 a=ptime:30
                 } ; RTP profile for G.723.1 is 4
             }
          }
      }
   } }
";

#[test]
fn a1_2_add_ringing_line_and_remote() {
    // RFC 3525 Appendix I, A.1.2, step 14.
    let text = corrected(A1_ADD_RING, false);
    let m = parsed(text.as_bytes());
    let action = &request(&m).actions[0];
    assert_eq!(action.context, ContextId::Choose);
    let line = &action.commands[0].command;
    assert_eq!(line.termination, TerminationId("A5555"));
    assert_eq!(
        line.descriptors[1..],
        [
            Descriptor::Events(EventsDescriptor {
                request_id: Some(RequestId::Number(1234)),
                events: vec![RequestedEvent {
                    name: "al/of",
                    params: vec![EventParm::Other(Property {
                        name: "strict",
                        value: ParmValue::Equal("state"),
                    })],
                }],
            }),
            Descriptor::Signals(vec![SignalParm::Signal(Signal {
                name: "al/ri",
                params: vec![],
            })]),
        ]
    );
    let Descriptor::Media(media) = &action.commands[1].command.descriptors[0] else {
        panic!()
    };
    let [MediaParm::Stream(1, stream)] = media.as_slice() else {
        panic!("{media:?}")
    };
    assert_eq!(
        stream[2],
        MediaParm::Remote(
            " v=0 c=IN IP4 124.124.124.222 m=audio 2222\nRTP/AVP 4 a=ptime:30\n                 "
        )
    );
}

/// RFC 3525 Appendix I, A.1.2, step 22 (page 193): the MGC subtracts both terminations,
/// asking for statistics.
const A1_SUBTRACT: &str = r"MEGACO/1 [123.123.123.4]:55555 Transaction = 50009 {
   Context = 5000 {
      Subtract = A5555 {Audit{Statistics}},
      Subtract = A5556 {Audit{Statistics}}
   } }
";

#[test]
fn a1_2_subtract_with_statistics() {
    // RFC 3525 Appendix I, A.1.2, step 22: the Subtract and its reply carrying the
    // statistics (pages 193-194).
    let m = parsed(A1_SUBTRACT.as_bytes());
    let commands = &request(&m).actions[0].commands;
    assert_eq!(commands[1].command.verb, Verb::Subtract);
    assert_eq!(
        commands[1].command.descriptors,
        [Descriptor::Audit(vec![AuditItem::Statistics])]
    );
    assert_eq!(
        encoded(&m, Form::Compact),
        "!/1 [123.123.123.4]:55555\nT=50009{C=5000{S=A5555{AT{SA}},S=A5556{AT{SA}}}}\n"
    );

    let m = parsed(
        br"MEGACO/1 [125.125.125.111]:55555 Reply = 50009 {
   Context = 5000 {
     Subtract = A5555 {
          Statistics {
             nt/os=45123, ; Octets Sent
             nt/dur=40 ; in seconds
             }
       },
       Subtract = A5556 {
          Statistics {
             rtp/ps=1245, ; packets sent
             nt/os=62345, ; octets sent
             rtp/pr=780, ; packets received
             nt/or=45123, ; octets received
             rtp/pl=10, ;  % packets lost
             rtp/jit=27,
             rtp/delay=48 ; average latency
          }
       }
   } }
",
    );
    let ReplyResult::Actions(actions) = &reply(&m).result else {
        panic!()
    };
    let Descriptor::Statistics(stats) = &actions[0].commands[1].descriptors[0] else {
        panic!()
    };
    assert_eq!(stats.len(), 7);
    assert_eq!(
        stats[6],
        Statistic {
            name: "rtp/delay",
            value: Some("48"),
        }
    );
}

#[test]
fn compact_tokens_any_case_and_crlf() {
    // The same registration in compact tokens, lower case, CRLF and comments.
    let m = parsed(
        b"!/1 [124.124.124.222] ; MG1\r\n\
          t=9998{c=-{sc=root{sv{mt=rs,ad=55555,pf=ResGW/1}}}}\r\n",
    );
    let expected = parse(A1_SERVICE_CHANGE.as_bytes()).expect("parses");
    // Ids are kept as written: only the case of the termination differs.
    let Body::Transactions(mut ts) = m.body.clone() else {
        panic!()
    };
    let Transaction::Request(r) = &mut ts[0] else {
        panic!()
    };
    assert_eq!(
        r.actions[0].commands[0].command.termination,
        TerminationId("root")
    );
    r.actions[0].commands[0].command.termination = TerminationId("ROOT");
    assert_eq!(Body::Transactions(ts), expected.body);
}

#[test]
fn every_transaction_kind_and_mid() {
    let m = parsed(
        b"MEGACO/1 <mgc.example.net>:2944\n\
          Reply = 7 {ImmAckRequired, Error = 430 {\"Unknown TerminationID\"}}\n\
          Pending = 8 { }\n\
          TransactionResponseAck {1-5, 9}\n\
          Reply = 9 {Context = 1 {Priority = 3, Emergency, Add = x, Error = 500 {}}}\n",
    );
    let Body::Transactions(ts) = &m.body else {
        panic!()
    };
    assert_eq!(m.mid, MessageId::Domain("mgc.example.net", Some(2944)));
    assert_eq!(
        ts[0],
        Transaction::Reply(TransactionReply {
            id: TransactionId(7),
            imm_ack_required: true,
            result: ReplyResult::Error(ErrorDescriptor {
                code: ErrorCode::UNKNOWN_TERMINATION,
                text: Some("Unknown TerminationID"),
            }),
        })
    );
    assert_eq!(ts[1], Transaction::Pending(TransactionId(8)));
    assert_eq!(
        ts[2],
        Transaction::ResponseAck(vec![
            AckRange {
                first: TransactionId(1),
                last: TransactionId(5)
            },
            AckRange {
                first: TransactionId(9),
                last: TransactionId(9)
            },
        ])
    );
    assert_eq!(
        encoded(&m, Form::Compact),
        "!/1 <mgc.example.net>:2944\nP=7{IA,ER=430{\"Unknown TerminationID\"}}\nPN=8{}\n\
         K{1-5,9}\nP=9{C=1{PR=3,EG,A=x,ER=500{}}}\n"
    );

    for (text, mid) in [
        (
            "MEGACO/1 [2001:db8::1]:2944",
            MessageId::Ip6("2001:db8::1".parse().unwrap(), Some(2944)),
        ),
        (
            "MEGACO/1 [192.0.2.1]",
            MessageId::Ip4(Ipv4Addr::new(192, 0, 2, 1), None),
        ),
        ("MEGACO/1 mg1/line", MessageId::Device("mg1/line")),
        ("MEGACO/1 MTP{0A1B2C}", MessageId::Mtp("0A1B2C")),
        // As Erlang/OTP writes it: LBRKT and RBRKT take white space.
        ("MEGACO/1 MTP { 0A1B }", MessageId::Mtp("0A1B")),
        ("!/2 <mg>", MessageId::Domain("mg", None)),
    ] {
        let bytes = format!("{text} Error=400{{\"Syntax error in message\"}}");
        let m = parsed(bytes.as_bytes());
        assert_eq!(m.mid, mid, "{text}");
    }
}

#[test]
fn signals_events_and_service_change_details() {
    let m = parsed(
        b"!/1 [192.0.2.1]:2944\n\
          T=1{C=*{O-W-MF=al/*{E=5{al/on{KA,ST=1,EM{SG{cg/rt},E=6{al/of}}},dd/ce{DM={[0-9]}}},\
          SG{SL=3{cg/dt{SY=TO,DR=3000,NC={TO,IBE,IBS,OR}}},cg/rt{KA,ST=2,x>5,y=[1,2],z=[1:9],w={a,b},v#0}},\
          EB{al/of{ST=1}},M{TS{SI=IV,BF=LockStep,tdmc/x<4},ST=2{R{},O{RV=ON,RG=OFF,MO=LB}}},DM{(xxx)},\
          EB,SG,E,AT{}}},\
          C=-{SC=ROOT{SV{MT=X-Custom,RE=\"901 Cold Boot\",DL=0,V=2,MG=<mgc2>:2944,\
          AD=[192.0.2.9]:2944,20000101T00000000,X-ab=1}},AV=ROOT{AT{M,E,SG,DM,OE,EB,SA,PG,MX,MD}},\
          AC=ROOT,MV=t/1,N=t/2{OE=*{al/on}}}}\n",
    );
    let action = &request(&m).actions[0];
    assert_eq!(action.context, ContextId::All);
    assert!(action.commands[0].optional && action.commands[0].wildcard_reply);
}

/// RFC 3525 Appendix I, A.1.2, step 12 with its session description one line per field, as
/// Erlang/OTP 25's `megaco_pretty_text_encoder` re-encodes it: tabs, lower-case ids, CRLF ends
/// on the session description lines.
const OTP_ADD_PRETTY: &[u8] = b"MEGACO/1 [123.123.123.4]:55555\n\
Transaction = 10003 {\n\
\tContext = $ {\n\
\t\tAdd = a4444,\n\
\t\tAdd = $ {\n\
\t\t\tMedia {\n\
\t\t\t\tStream = 1 {\n\
\t\t\t\t\tLocalControl {\n\
\t\t\t\t\t\tMode = ReceiveOnly,\n\
\t\t\t\t\t\tnt/jit=40\n\
\t\t\t\t\t},\n\
\t\t\t\t\tLocal { \n\
v=0\r\n\
c=IN IP4 $\r\n\
m=audio $ RTP/AVP 4\r\n\
a=ptime:30\r\n\
v=0\r\n\
c=IN IP4 $\r\n\
m=audio $ RTP/AVP 0\r\n\
\n\
\t\t\t\t\t}\n\
\t\t\t\t}\n\
\t\t\t}\n\
\t\t}\n\
\t}\n\
}";

/// RFC 3525 Appendix I, A.1.1, step 1 with a port and the Reason that H.248.1 §7.2.8 requires
/// (OTP refuses a ServiceChange request without one), as OTP's `megaco_compact_text_encoder`
/// writes it.
const OTP_SERVICE_CHANGE_COMPACT: &[u8] = b"!/1 [124.124.124.222]:55555\n\
T=9998{C=-{SC=root{SV{MT=RS,AD=55555,PF=resgw/1,RE=\"901\"}}}}";

#[test]
fn otp_encodings_read() {
    // What another stack writes reads, and round-trips, too.
    let m = parsed(OTP_ADD_PRETTY);
    let action = &request(&m).actions[0];
    assert_eq!(
        action.commands[0].command.termination,
        TerminationId("a4444")
    );
    let Descriptor::Media(media) = &action.commands[1].command.descriptors[0] else {
        panic!()
    };
    let MediaParm::Stream(1, stream) = &media[0] else {
        panic!()
    };
    let MediaParm::Local(sdp) = stream[1] else {
        panic!()
    };
    assert!(sdp.starts_with(" \nv=0\r\nc=IN IP4 $\r\n"), "{sdp:?}");

    let m = parsed(OTP_SERVICE_CHANGE_COMPACT);
    let command = &request(&m).actions[0].commands[0].command;
    assert!(command.termination.is_root());
    assert_eq!(
        command.descriptors,
        [Descriptor::ServiceChange(vec![
            ServiceChangeParm::Method(ServiceChangeMethod::Restart),
            ServiceChangeParm::Address(ServiceChangeAddress::Port(55555)),
            ServiceChangeParm::Profile("resgw", 1),
            ServiceChangeParm::Reason("\"901\""),
        ])]
    );
}

#[test]
fn digit_map_spellings() {
    // Annex B writes `DigitMap = {value}`; RFC 3015 and Erlang/OTP (for the event parameter)
    // write `DigitMap {value}`. Both read the same; the encoder writes Annex B's.
    let with_equal = parsed(b"!/1 <mgc> T=1{C=-{MF=a{E=1{dd/ce{DM={[0-9]}}},DM={(xxx)}}}}");
    let without = parsed(b"!/1 <mgc> T=1{C=-{MF=a{E=1{dd/ce{DM{[0-9]}}},DM{(xxx)}}}}");
    assert_eq!(with_equal, without);
    assert_eq!(
        request(&without).actions[0].commands[0].command.descriptors[1],
        Descriptor::DigitMap(DigitMapDescriptor {
            name: None,
            value: Some("(xxx)"),
        })
    );
    assert_eq!(
        encoded(&without, Form::Compact),
        "!/1 <mgc>\nT=1{C=-{MF=a{E=1{dd/ce{DM={[0-9]}}},DM={(xxx)}}}}\n"
    );
    assert!(encoded(&without, Form::Pretty).contains("\n            DigitMap = {(xxx)}\n"));
}
