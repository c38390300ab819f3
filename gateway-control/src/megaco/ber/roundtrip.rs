//! Property tests: `decode(encode(m)) == m` for generated messages in the canonical form the
//! decoder writes (the shapes of Annex A's commands, parameters in ASN.1 order, registry
//! spellings, quotes only where needed), and bytes that never panic the decoder.
//!
//! The text codec's strategies (`text/roundtrip.rs`) generate every shape the text grammar
//! allows; most of those have no binary form (`al/1` ids, `X-` parameters, `Embed`) or a
//! canonical one that differs, so these are written for BER, over the same `text` helper.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;
use proptest::sample::select;

use super::{Arena, decode, encode};
use crate::megaco::text;
use crate::megaco::*;
use crate::proptest_text::{leak, text};

fn mid() -> impl Strategy<Value = MessageId<'static>> {
    prop_oneof![
        (any::<u32>(), option::of(any::<u16>()))
            .prop_map(|(a, p)| MessageId::Ip4(Ipv4Addr::from(a), p)),
        (any::<u128>(), option::of(any::<u16>()))
            .prop_map(|(a, p)| MessageId::Ip6(Ipv6Addr::from(a), p)),
        (text("[a-z0-9][a-z0-9.-]{0,10}"), option::of(any::<u16>()))
            .prop_map(|(d, p)| MessageId::Domain(d, p)),
        text("[a-z][a-z0-9]{0,6}(/[a-z0-9]{1,3})?").prop_map(MessageId::Device),
        text("([0-9A-F]{2}){2,4}").prop_map(MessageId::Mtp),
    ]
}

/// Bit-string levels, one of them possibly wildcarded, or ROOT.
fn termination() -> impl Strategy<Value = TerminationId<'static>> {
    let level = || text("[01]{8}");
    let wild = text("[01]{0,7}[*$]");
    prop_oneof![
        1 => Just(TerminationId("ROOT")),
        4 => (vec(level(), 1..5), option::of((any::<prop::sample::Index>(), wild))).prop_map(
            |(mut levels, wild)| {
                if let Some((i, w)) = wild {
                    let i = i.index(levels.len());
                    levels[i] = w;
                }
                TerminationId(leak(levels.join("/")))
            }
        ),
    ]
}

/// A value as the decoder writes it: a token, or quoted when it needs quotes.
fn value() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        text("[A-Za-z0-9+&!_/'?@^`~*$()%|.-]{1,8}"),
        text("\"[A-Za-z0-9]{0,3}[ ,{}:;=#<>\\[\\]][ A-Za-z0-9,{}:;=]{0,4}\""),
        Just("\"\""),
    ]
}

fn parm_value() -> impl Strategy<Value = ParmValue<'static>> {
    prop_oneof![
        value().prop_map(ParmValue::Equal),
        Just(ParmValue::Equal("$")),
        value().prop_map(ParmValue::Greater),
        value().prop_map(ParmValue::Less),
        value().prop_map(ParmValue::NotEqual),
        vec(value(), 1..4).prop_map(ParmValue::OneOf),
        (value(), value()).prop_map(|(a, b)| ParmValue::Range(a, b)),
        vec(value(), 0..4).prop_map(ParmValue::AllOf),
    ]
}

fn property() -> impl Strategy<Value = Property<'static>> {
    let names = [
        "nt/jit",
        "tdmc/ec",
        "tdmc/gain",
        "root/normalMGExecutionTime",
        "x00ab/x0003",
        "al/x0010",
        "IPv4",
        "Port",
    ];
    (select(names.to_vec()), parm_value()).prop_map(|(name, value)| Property { name, value })
}

/// A parameter of an event or signal with these known parameter names.
fn parameter(known: &'static [&'static str]) -> impl Strategy<Value = Property<'static>> {
    let name = if known.is_empty() {
        text("x7f[0-9a-f]{2}").boxed()
    } else {
        prop_oneof![select(known.to_vec()), text("x7f[0-9a-f]{2}")].boxed()
    };
    (name, parm_value()).prop_map(|(name, value)| Property { name, value })
}

/// An event name with the names of its parameters.
fn event() -> impl Strategy<Value = (&'static str, &'static [&'static str])> {
    const EVENTS: &[(&str, &[&str])] = &[
        ("al/of", &["strict", "init"]),
        ("al/on", &["strict", "init"]),
        ("al/fl", &["mindur", "maxdur"]),
        ("dd/ce", &["ds", "Meth"]),
        ("dd/d5", &[]),
        ("g/sc", &["SigID", "Meth", "SLID"]),
        ("x00ab/x0001", &[]),
        ("al/*", &[]),
        ("*/*", &[]),
    ];
    select(EVENTS)
}

fn sdp() -> impl Strategy<Value = &'static str> {
    let line = (
        select(vec!["v", "o", "s", "c", "t", "m", "a", "b"]),
        text("|[!-\\[\\]-|~]|[!-\\[\\]-|~][ -\\[\\]-|~]{0,10}[!-\\[\\]-|~]"),
    );
    vec(line, 0..6).prop_map(|lines| {
        let mut s = String::from("\n");
        for (letter, value) in lines {
            s.push_str(letter);
            s.push('=');
            s.push_str(value);
            s.push('\n');
        }
        leak(s)
    })
}

fn stream_parms() -> impl Strategy<Value = Vec<MediaParm<'static>>> {
    let local_control = (
        option::of(select(vec![
            StreamMode::SendOnly,
            StreamMode::ReceiveOnly,
            StreamMode::SendReceive,
            StreamMode::Inactive,
            StreamMode::LoopBack,
        ])),
        option::of(any::<bool>()),
        option::of(any::<bool>()),
        vec(property(), 0..3),
    )
        .prop_map(|(mode, value, group, props)| {
            let mut p = Vec::new();
            p.extend(mode.map(LocalControlParm::Mode));
            p.extend(value.map(LocalControlParm::ReservedValue));
            p.extend(group.map(LocalControlParm::ReservedGroup));
            p.extend(props.into_iter().map(LocalControlParm::Property));
            MediaParm::LocalControl(p)
        });
    (
        option::of(local_control),
        option::of(sdp()),
        option::of(sdp()),
    )
        .prop_map(|(c, l, r)| {
            let mut p = Vec::new();
            p.extend(c);
            p.extend(l.map(MediaParm::Local));
            p.extend(r.map(MediaParm::Remote));
            p
        })
}

fn media() -> impl Strategy<Value = Vec<MediaParm<'static>>> {
    let state = (
        vec(property(), 0..3),
        option::of(any::<bool>()),
        option::of(select(vec![
            ServiceState::Test,
            ServiceState::OutOfService,
            ServiceState::InService,
        ])),
    )
        .prop_map(|(props, buffer, service)| {
            let mut p: Vec<_> = props
                .into_iter()
                .map(TerminationStateParm::Property)
                .collect();
            p.extend(buffer.map(TerminationStateParm::LockStep));
            p.extend(service.map(TerminationStateParm::ServiceStates));
            MediaParm::TerminationState(p)
        });
    let streams = prop_oneof![
        stream_parms(),
        vec(
            (any::<u16>(), stream_parms()).prop_map(|(id, p)| MediaParm::Stream(id, p)),
            1..3
        ),
    ];
    (option::of(state), streams).prop_map(|(state, streams)| {
        let mut m: Vec<_> = state.into_iter().collect();
        m.extend(streams);
        m
    })
}

fn request_id() -> impl Strategy<Value = RequestId> {
    prop_oneof![
        Just(RequestId::All),
        (0..u32::MAX).prop_map(RequestId::Number)
    ]
}

fn digit_map_value() -> impl Strategy<Value = &'static str> {
    (
        option::of(0..100u8),
        option::of(0..100u8),
        option::of(0..100u8),
        text("([0-9x.|()\\[\\]LSZ-]([0-9x.|()\\[\\] LSZ-]{0,10}[0-9x.|()\\[\\]LSZ-])?)?"),
    )
        .prop_map(|(t, s, l, body)| {
            let mut out = String::new();
            for (letter, timer) in [('T', t), ('S', s), ('L', l)] {
                if let Some(v) = timer {
                    out.push_str(&format!("{letter}:{v},"));
                }
            }
            out.push_str(body);
            leak(out)
        })
}

fn dialplan() -> impl Strategy<Value = &'static str> {
    text("dialplan[0-9]{2}")
}

fn events() -> impl Strategy<Value = EventsDescriptor<'static>> {
    let requested = event().prop_flat_map(|(name, known)| {
        (
            option::of(any::<u16>()),
            any::<bool>(),
            option::of(prop_oneof![
                dialplan().prop_map(DigitMapRef::Name),
                digit_map_value().prop_map(DigitMapRef::Value),
            ]),
            vec(parameter(known), 0..3),
        )
            .prop_map(move |(stream, keep, dm, others)| {
                let mut params = Vec::new();
                params.extend(stream.map(EventParm::Stream));
                if keep {
                    params.push(EventParm::KeepActive);
                }
                params.extend(dm.map(EventParm::DigitMap));
                params.extend(others.into_iter().map(EventParm::Other));
                RequestedEvent { name, params }
            })
    });
    prop_oneof![
        Just(EventsDescriptor {
            request_id: None,
            events: vec![],
        }),
        (request_id(), vec(requested, 1..3)).prop_map(|(id, events)| EventsDescriptor {
            request_id: Some(id),
            events,
        }),
    ]
}

/// An event spec's name and parameters: `[Stream, Other…]`.
fn event_spec() -> impl Strategy<Value = (&'static str, Vec<EventSpecParm<'static>>)> {
    event().prop_flat_map(|(name, known)| {
        (option::of(any::<u16>()), vec(parameter(known), 0..3)).prop_map(move |(s, others)| {
            let mut params: Vec<_> = s.into_iter().map(EventSpecParm::Stream).collect();
            params.extend(others.into_iter().map(EventSpecParm::Other));
            (name, params)
        })
    })
}

fn observed_events() -> impl Strategy<Value = ObservedEventsDescriptor<'static>> {
    (
        request_id(),
        vec(
            (option::of(text("[0-9]{8}T[0-9]{8}")), event_spec()).prop_map(
                |(timestamp, (name, params))| ObservedEvent {
                    timestamp,
                    name,
                    params,
                },
            ),
            0..3,
        ),
    )
        .prop_map(|(request_id, events)| ObservedEventsDescriptor { request_id, events })
}

fn signal() -> impl Strategy<Value = Signal<'static>> {
    const SIGNALS: &[(&str, &[&str])] = &[
        ("al/ri", &["cad", "freq"]),
        ("cg/dt", &[]),
        ("cg/rt", &[]),
        ("dg/d1", &[]),
        ("tonegen/pt", &["tl", "ind"]),
        ("x00ab/x0002", &[]),
    ];
    select(SIGNALS).prop_flat_map(|(name, known)| {
        (
            option::of(any::<u16>()),
            option::of(select(vec![
                SignalType::OnOff,
                SignalType::TimeOut,
                SignalType::Brief,
            ])),
            option::of(any::<u16>()),
            option::of(any::<[bool; 4]>()),
            any::<bool>(),
            vec(parameter(known), 0..3),
        )
            .prop_map(move |(stream, kind, duration, reasons, keep, others)| {
                let mut params = Vec::new();
                params.extend(stream.map(SignalArg::Stream));
                params.extend(kind.map(SignalArg::Type));
                params.extend(duration.map(SignalArg::Duration));
                if let Some(r) = reasons {
                    let all = [
                        NotifyReason::TimeOut,
                        NotifyReason::InterruptedByEvent,
                        NotifyReason::InterruptedByNewSignals,
                        NotifyReason::Other,
                    ];
                    let chosen = all.into_iter().zip(r).filter(|(_, on)| *on);
                    params.push(SignalArg::NotifyCompletion(
                        chosen.map(|(reason, _)| reason).collect(),
                    ));
                }
                if keep {
                    params.push(SignalArg::KeepActive);
                }
                params.extend(others.into_iter().map(SignalArg::Other));
                Signal { name, params }
            })
    })
}

fn error_descriptor() -> impl Strategy<Value = ErrorDescriptor<'static>> {
    (any::<u16>(), option::of(text("[ A-Za-z0-9.,;{}']{0,12}"))).prop_map(|(code, text)| {
        ErrorDescriptor {
            code: ErrorCode(code),
            text,
        }
    })
}

fn audit() -> impl Strategy<Value = Vec<AuditItem>> {
    any::<[bool; 10]>().prop_map(|on| {
        let order = [
            AuditItem::Mux,
            AuditItem::Modem,
            AuditItem::Media,
            AuditItem::Events,
            AuditItem::Signals,
            AuditItem::DigitMap,
            AuditItem::Statistics,
            AuditItem::ObservedEvents,
            AuditItem::Packages,
            AuditItem::EventBuffer,
        ];
        order
            .into_iter()
            .zip(on)
            .filter(|(_, b)| *b)
            .map(|(i, _)| i)
            .collect()
    })
}

fn profile() -> impl Strategy<Value = ServiceChangeParm<'static>> {
    (text("[A-Za-z][A-Za-z0-9_-]{0,8}"), 0..100u8)
        .prop_map(|(n, v)| ServiceChangeParm::Profile(n, v))
}

fn address() -> impl Strategy<Value = ServiceChangeAddress<'static>> {
    prop_oneof![
        any::<u16>().prop_map(ServiceChangeAddress::Port),
        mid().prop_map(ServiceChangeAddress::Mid),
    ]
}

fn service_change_request() -> impl Strategy<Value = Vec<ServiceChangeParm<'static>>> {
    (
        select(vec![
            ServiceChangeMethod::Failover,
            ServiceChangeMethod::Forced,
            ServiceChangeMethod::Graceful,
            ServiceChangeMethod::Restart,
            ServiceChangeMethod::Disconnected,
            ServiceChangeMethod::HandOff,
        ]),
        option::of(address()),
        option::of(0..100u8),
        option::of(profile()),
        option::of(value()),
        option::of(any::<u32>()),
        option::of(mid()),
        option::of(text("[0-9]{8}T[0-9]{8}")),
    )
        .prop_map(
            |(method, address, version, profile, reason, delay, mgc, time)| {
                let mut p = vec![ServiceChangeParm::Method(method)];
                p.extend(address.map(ServiceChangeParm::Address));
                p.extend(version.map(ServiceChangeParm::Version));
                p.extend(profile);
                p.extend(reason.map(ServiceChangeParm::Reason));
                p.extend(delay.map(ServiceChangeParm::Delay));
                p.extend(mgc.map(ServiceChangeParm::MgcIdToTry));
                p.extend(time.map(ServiceChangeParm::TimeStamp));
                p
            },
        )
}

fn service_change_reply() -> impl Strategy<Value = Vec<ServiceChangeParm<'static>>> {
    (
        option::of(mid()),
        option::of(address()),
        option::of(0..100u8),
        option::of(profile()),
        option::of(text("[0-9]{8}T[0-9]{8}")),
    )
        .prop_map(|(mgc, address, version, profile, time)| {
            let mut p = Vec::new();
            p.extend(mgc.map(ServiceChangeParm::MgcIdToTry));
            p.extend(address.map(ServiceChangeParm::Address));
            p.extend(version.map(ServiceChangeParm::Version));
            p.extend(profile);
            p.extend(time.map(ServiceChangeParm::TimeStamp));
            p
        })
        .prop_filter("a Services descriptor has an item", |p| !p.is_empty())
}

fn signals() -> impl Strategy<Value = Vec<SignalParm<'static>>> {
    vec(
        prop_oneof![
            signal().prop_map(SignalParm::Signal),
            (any::<u16>(), vec(signal(), 1..3)).prop_map(|(id, s)| SignalParm::List(id, s)),
        ],
        0..3,
    )
}

fn digit_map() -> impl Strategy<Value = DigitMapDescriptor<'static>> {
    (option::of(dialplan()), option::of(digit_map_value()))
        .prop_map(|(name, value)| DigitMapDescriptor { name, value })
}

fn event_buffer() -> impl Strategy<Value = Vec<EventSpec<'static>>> {
    vec(
        event_spec().prop_map(|(name, params)| EventSpec { name, params }),
        0..3,
    )
}

/// The descriptors of an Add, Move or Modify request.
fn amm_descriptor() -> impl Strategy<Value = Descriptor<'static>> {
    prop_oneof![
        media().prop_map(Descriptor::Media),
        events().prop_map(Descriptor::Events),
        event_buffer().prop_map(Descriptor::EventBuffer),
        signals().prop_map(Descriptor::Signals),
        digit_map().prop_map(Descriptor::DigitMap),
        audit().prop_map(Descriptor::Audit),
    ]
}

/// The descriptors of a reply's terminationAudit.
fn audit_return() -> impl Strategy<Value = Descriptor<'static>> {
    prop_oneof![
        error_descriptor().prop_map(Descriptor::Error),
        amm_descriptor(),
        observed_events().prop_map(Descriptor::ObservedEvents),
        vec(
            (
                select(vec![
                    "nt/os",
                    "nt/or",
                    "nt/dur",
                    "rtp/ps",
                    "rtp/jit",
                    "x00ab/x0009"
                ]),
                option::of(value()),
            )
                .prop_map(|(name, value)| Statistic { name, value }),
            0..3
        )
        .prop_map(Descriptor::Statistics),
    ]
}

fn command_request() -> impl Strategy<Value = Command<'static>> {
    let verb = select(Verb::ALL.to_vec());
    (verb, termination()).prop_flat_map(|(verb, termination)| {
        let descriptors = match verb {
            Verb::Add | Verb::Move | Verb::Modify => vec(amm_descriptor(), 0..4).boxed(),
            Verb::Subtract => option::of(audit())
                .prop_map(|a| a.map(Descriptor::Audit).into_iter().collect())
                .boxed(),
            Verb::AuditValue | Verb::AuditCapabilities => {
                audit().prop_map(|a| vec![Descriptor::Audit(a)]).boxed()
            }
            Verb::Notify => (observed_events(), option::of(error_descriptor()))
                .prop_map(|(o, e)| {
                    let mut d = vec![Descriptor::ObservedEvents(o)];
                    d.extend(e.map(Descriptor::Error));
                    d
                })
                .boxed(),
            Verb::ServiceChange => service_change_request()
                .prop_map(|p| vec![Descriptor::ServiceChange(p)])
                .boxed(),
        };
        descriptors.prop_map(move |descriptors| Command {
            verb,
            termination,
            descriptors,
        })
    })
}

fn command_reply() -> impl Strategy<Value = Command<'static>> {
    let verb = select(Verb::ALL.to_vec());
    (verb, termination()).prop_flat_map(|(verb, termination)| {
        let descriptors = match verb {
            Verb::Notify => option::of(error_descriptor())
                .prop_map(|e| e.map(Descriptor::Error).into_iter().collect())
                .boxed(),
            Verb::ServiceChange => prop_oneof![
                Just(Vec::new()),
                error_descriptor().prop_map(|e| vec![Descriptor::Error(e)]),
                service_change_reply().prop_map(|p| vec![Descriptor::ServiceChange(p)]),
            ]
            .boxed(),
            _ => vec(audit_return(), 0..4).boxed(),
        };
        descriptors.prop_map(move |descriptors| Command {
            verb,
            termination,
            descriptors,
        })
    })
}

fn context() -> impl Strategy<Value = ContextId> {
    prop_oneof![
        Just(ContextId::Null),
        Just(ContextId::Choose),
        Just(ContextId::All),
        (1..0xffff_fffe_u32).prop_map(ContextId::Number),
    ]
}

fn context_properties() -> impl Strategy<Value = Vec<ContextProperty>> {
    (option::of(0..16u16), any::<bool>()).prop_map(|(priority, emergency)| {
        let mut p: Vec<_> = priority
            .map(ContextProperty::Priority)
            .into_iter()
            .collect();
        if emergency {
            p.push(ContextProperty::Emergency);
        }
        p
    })
}

fn transaction() -> impl Strategy<Value = Transaction<'static>> {
    let id = || any::<u32>().prop_map(TransactionId);
    let request = (
        id(),
        vec(
            (
                context(),
                context_properties(),
                vec(
                    (any::<bool>(), any::<bool>(), command_request()).prop_map(
                        |(optional, wildcard_reply, command)| CommandRequest {
                            optional,
                            wildcard_reply,
                            command,
                        },
                    ),
                    0..3,
                ),
            )
                .prop_map(|(context, properties, commands)| ActionRequest {
                    context,
                    properties,
                    commands,
                }),
            1..3,
        ),
    )
        .prop_map(|(id, actions)| Transaction::Request(TransactionRequest { id, actions }));
    let result = prop_oneof![
        error_descriptor().prop_map(ReplyResult::Error),
        vec(
            (
                context(),
                context_properties(),
                vec(command_reply(), 0..3),
                option::of(error_descriptor()),
            )
                .prop_map(|(context, properties, commands, error)| ActionReply {
                    context,
                    properties,
                    commands,
                    error,
                }),
            0..3,
        )
        .prop_map(ReplyResult::Actions),
    ];
    prop_oneof![
        request,
        (id(), any::<bool>(), result).prop_map(|(id, imm_ack_required, result)| {
            Transaction::Reply(TransactionReply {
                id,
                imm_ack_required,
                result,
            })
        }),
        id().prop_map(Transaction::Pending),
        vec(
            (id(), id()).prop_map(|(first, last)| AckRange { first, last }),
            0..4
        )
        .prop_map(Transaction::ResponseAck),
    ]
}

pub(super) fn message() -> impl Strategy<Value = Message<'static>> {
    (
        0..100u8,
        mid(),
        prop_oneof![
            vec(transaction(), 0..4).prop_map(Body::Transactions),
            error_descriptor().prop_map(Body::Error),
        ],
    )
        .prop_map(|(version, mid, body)| Message { version, mid, body })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_decode(message in message()) {
        let mut out = Vec::new();
        encode(&message, &mut out).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let arena = Arena::new();
        let decoded = decode(&out, &arena)
            .map_err(|e| TestCaseError::fail(format!("{e}: {out:02x?}")))?;
        prop_assert_eq!(&decoded, &message);
    }

    /// What BER decodes is a message of the text grammar too (when the text codec models
    /// every part of it): the text encoding of a decoded message parses back to it.
    #[test]
    fn decoded_messages_are_text(message in message()) {
        let mut out = Vec::new();
        encode(&message, &mut out).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let arena = Arena::new();
        let decoded = decode(&out, &arena).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let mut t = Vec::new();
        text::encode(&decoded, text::Form::Compact, &mut t);
        match text::parse(&t) {
            Ok(parsed) => prop_assert_eq!(parsed, decoded, "{}", String::from_utf8_lossy(&t)),
            Err(e) => prop_assert!(
                text_lacks(&decoded, &String::from_utf8_lossy(&t)),
                "{e}:\n{}",
                String::from_utf8_lossy(&t)
            ),
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let arena = Arena::new();
        let _ = decode(&bytes, &arena);
    }

    /// Damaged messages: no panic, and what still decodes encodes and decodes the same.
    #[test]
    fn damaged_messages_decode_stably(
        message in message(),
        damage in vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
    ) {
        let mut out = Vec::new();
        encode(&message, &mut out).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        for (i, b) in damage {
            let i = i.index(out.len());
            out[i] = b;
        }
        let arena = Arena::new();
        if let Ok(decoded) = decode(&out, &arena) {
            let mut again = Vec::new();
            encode(&decoded, &mut again).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            let arena2 = Arena::new();
            let twice = decode(&again, &arena2).map_err(|e| TestCaseError::fail(format!("{e}")))?;
            prop_assert_eq!(twice, decoded);
        }
    }
}

/// Whether a message holds a shape the text grammar lacks: an empty list (`Stream = 1 {}`,
/// `NotifyCompletion = {}`, an empty ResponseAck or Services, a DigitMap with neither name
/// nor value), version 0, or a five-digit error code (BER's are 16 bits, text's four digits).
fn text_lacks(m: &Message<'_>, text: &str) -> bool {
    let debug = format!("{m:?}");
    let long_code = debug
        .split("ErrorCode(")
        .skip(1)
        .any(|rest| rest.split(')').next().and_then(|n| n.parse::<u32>().ok()) > Some(9999));
    long_code
        || m.version == 0
        || text.contains("{}")
        || text.contains("=}")
        || text.contains("=,")
        || debug.contains("Transactions([])")
}
