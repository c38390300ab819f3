//! Property tests: `parse(encode(m, form)) == m` for generated messages, in both forms.
//!
//! The strategies build owned strings and leak them, so that generated messages are
//! `Message<'static>` like a parsed one's; a test run leaks a few megabytes.

use std::net::{Ipv4Addr, Ipv6Addr};

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use crate::proptest_text::text;

use super::{Form, encode, parse};
use crate::megaco::*;

fn mid() -> impl Strategy<Value = MessageId<'static>> {
    prop_oneof![
        (any::<u32>(), option::of(any::<u16>()))
            .prop_map(|(a, p)| MessageId::Ip4(Ipv4Addr::from(a), p)),
        (any::<u128>(), option::of(any::<u16>()))
            .prop_map(|(a, p)| MessageId::Ip6(Ipv6Addr::from(a), p)),
        (text("[a-z0-9][a-z0-9.-]{0,10}"), option::of(any::<u16>()))
            .prop_map(|(d, p)| MessageId::Domain(d, p)),
        text("[a-z][a-z0-9]{0,6}(/[a-z0-9]{1,3})?").prop_map(MessageId::Device),
        text("[0-9A-F]{4,8}").prop_map(MessageId::Mtp),
    ]
}

fn termination() -> impl Strategy<Value = TerminationId<'static>> {
    prop_oneof![
        Just(TerminationId("ROOT")),
        Just(TerminationId("$")),
        Just(TerminationId("*")),
        text("[A-Za-z][A-Za-z0-9]{0,5}(/([0-9a-z]{1,3}|\\*|\\$)){0,2}").prop_map(TerminationId),
    ]
}

fn pkgd_name() -> impl Strategy<Value = &'static str> {
    text("[a-z]{1,4}/([a-z0-9]{1,4}|\\*)")
}

/// A bare parameter name that is none of the grammar's tokens.
fn parm_name() -> impl Strategy<Value = &'static str> {
    text("p[a-z0-9]{0,3}")
}

fn value() -> impl Strategy<Value = &'static str> {
    prop_oneof![
        text("[A-Za-z0-9+&!_/'?@^`~*$()%|.-]{1,8}"),
        text("\"[ A-Za-z0-9,{}:;=]{0,8}\""),
    ]
}

fn parm_value() -> impl Strategy<Value = ParmValue<'static>> {
    prop_oneof![
        value().prop_map(ParmValue::Equal),
        value().prop_map(ParmValue::Greater),
        value().prop_map(ParmValue::Less),
        value().prop_map(ParmValue::NotEqual),
        vec(value(), 1..4).prop_map(ParmValue::OneOf),
        (value(), value()).prop_map(|(a, b)| ParmValue::Range(a, b)),
        vec(value(), 1..4).prop_map(ParmValue::AllOf),
    ]
}

fn property(name: impl Strategy<Value = &'static str>) -> impl Strategy<Value = Property<'static>> {
    (name, parm_value()).prop_map(|(name, value)| Property { name, value })
}

/// A session description: lines without `}` or `\`.
fn sdp() -> impl Strategy<Value = &'static str> {
    text("(\n?[a-z]=[ -\\[\\]-|]{0,12}){0,5}\n?[ ]{0,4}")
}

fn media_parm(top: bool) -> BoxedStrategy<MediaParm<'static>> {
    let local_control = vec(
        prop_oneof![
            prop_oneof![
                Just(StreamMode::SendOnly),
                Just(StreamMode::ReceiveOnly),
                Just(StreamMode::SendReceive),
                Just(StreamMode::Inactive),
                Just(StreamMode::LoopBack),
            ]
            .prop_map(LocalControlParm::Mode),
            any::<bool>().prop_map(LocalControlParm::ReservedValue),
            any::<bool>().prop_map(LocalControlParm::ReservedGroup),
            property(pkgd_name()).prop_map(LocalControlParm::Property),
        ],
        1..4,
    )
    .prop_map(MediaParm::LocalControl);
    let stream_parm = prop_oneof![
        local_control,
        sdp().prop_map(MediaParm::Local),
        sdp().prop_map(MediaParm::Remote),
    ];
    if !top {
        return stream_parm.boxed();
    }
    let state = vec(
        prop_oneof![
            prop_oneof![
                Just(ServiceState::Test),
                Just(ServiceState::OutOfService),
                Just(ServiceState::InService),
            ]
            .prop_map(TerminationStateParm::ServiceStates),
            any::<bool>().prop_map(TerminationStateParm::LockStep),
            property(pkgd_name()).prop_map(TerminationStateParm::Property),
        ],
        1..4,
    )
    .prop_map(MediaParm::TerminationState);
    prop_oneof![
        stream_parm,
        state,
        (any::<u16>(), vec(media_parm(false), 1..4)).prop_map(|(id, p)| MediaParm::Stream(id, p)),
    ]
    .boxed()
}

fn request_id() -> impl Strategy<Value = RequestId> {
    prop_oneof![
        Just(RequestId::All),
        any::<u32>().prop_map(RequestId::Number)
    ]
}

fn event_spec_parm() -> impl Strategy<Value = EventSpecParm<'static>> {
    prop_oneof![
        any::<u16>().prop_map(EventSpecParm::Stream),
        property(parm_name()).prop_map(EventSpecParm::Other),
    ]
}

fn digit_map() -> impl Strategy<Value = &'static str> {
    text("[0-9x.|()\\[\\] \nTSL:,-]{0,20}")
}

fn event_parm() -> impl Strategy<Value = EventParm<'static>> {
    prop_oneof![
        Just(EventParm::KeepActive),
        text("[A-Za-z][A-Za-z0-9]{0,6}").prop_map(|n| EventParm::DigitMap(DigitMapRef::Name(n))),
        digit_map().prop_map(|v| EventParm::DigitMap(DigitMapRef::Value(v))),
        any::<u16>().prop_map(EventParm::Stream),
        text("SG\\{cg/rt\\}|E=1\\{al/of\\{x=\"}\"\\}\\}|SG\\{\\},E=2\\{dd/ce\\{DM=\\{x\\}\\}\\}")
            .prop_map(EventParm::Embed),
        property(parm_name()).prop_map(EventParm::Other),
    ]
}

fn signal() -> impl Strategy<Value = Signal<'static>> {
    let arg = prop_oneof![
        any::<u16>().prop_map(SignalArg::Stream),
        prop_oneof![
            Just(SignalType::OnOff),
            Just(SignalType::TimeOut),
            Just(SignalType::Brief),
        ]
        .prop_map(SignalArg::Type),
        any::<u16>().prop_map(SignalArg::Duration),
        vec(
            prop_oneof![
                Just(NotifyReason::TimeOut),
                Just(NotifyReason::InterruptedByEvent),
                Just(NotifyReason::InterruptedByNewSignals),
                Just(NotifyReason::Other),
            ],
            1..4
        )
        .prop_map(SignalArg::NotifyCompletion),
        Just(SignalArg::KeepActive),
        property(parm_name()).prop_map(SignalArg::Other),
    ];
    (pkgd_name(), vec(arg, 0..3)).prop_map(|(name, params)| Signal { name, params })
}

fn timestamp() -> impl Strategy<Value = &'static str> {
    text("[0-9]{8}T[0-9]{8}")
}

fn service_change_parm() -> impl Strategy<Value = ServiceChangeParm<'static>> {
    prop_oneof![
        prop_oneof![
            Just(ServiceChangeMethod::Failover),
            Just(ServiceChangeMethod::Forced),
            Just(ServiceChangeMethod::Graceful),
            Just(ServiceChangeMethod::Restart),
            Just(ServiceChangeMethod::Disconnected),
            Just(ServiceChangeMethod::HandOff),
            text("X[-+][A-Za-z]{1,5}").prop_map(ServiceChangeMethod::Extension),
        ]
        .prop_map(ServiceChangeParm::Method),
        value().prop_map(ServiceChangeParm::Reason),
        any::<u32>().prop_map(ServiceChangeParm::Delay),
        any::<u16>().prop_map(|p| ServiceChangeParm::Address(ServiceChangeAddress::Port(p))),
        mid().prop_map(|m| ServiceChangeParm::Address(ServiceChangeAddress::Mid(m))),
        (text("[A-Za-z][A-Za-z0-9]{0,5}"), 0..100u8)
            .prop_map(|(n, v)| ServiceChangeParm::Profile(n, v)),
        (0..100u8).prop_map(ServiceChangeParm::Version),
        mid().prop_map(ServiceChangeParm::MgcIdToTry),
        timestamp().prop_map(ServiceChangeParm::TimeStamp),
        property(text("X[-+][a-z]{1,5}")).prop_map(ServiceChangeParm::Extension),
    ]
}

fn error_descriptor() -> impl Strategy<Value = ErrorDescriptor<'static>> {
    (0..10_000u16, option::of(text("[ A-Za-z0-9.,;{}]{0,12}"))).prop_map(|(code, text)| {
        ErrorDescriptor {
            code: ErrorCode(code),
            text,
        }
    })
}

fn descriptor() -> impl Strategy<Value = Descriptor<'static>> {
    let events = prop_oneof![
        Just(EventsDescriptor {
            request_id: None,
            events: vec![],
        }),
        (
            request_id(),
            vec(
                (pkgd_name(), vec(event_parm(), 0..3))
                    .prop_map(|(name, params)| RequestedEvent { name, params }),
                1..3
            )
        )
            .prop_map(|(id, events)| EventsDescriptor {
                request_id: Some(id),
                events,
            }),
    ];
    let signals = vec(
        prop_oneof![
            signal().prop_map(SignalParm::Signal),
            (any::<u16>(), vec(signal(), 1..3)).prop_map(|(id, s)| SignalParm::List(id, s)),
        ],
        0..3,
    );
    let observed = (
        request_id(),
        vec(
            (
                option::of(timestamp()),
                pkgd_name(),
                vec(event_spec_parm(), 0..3),
            )
                .prop_map(|(timestamp, name, params)| ObservedEvent {
                    timestamp,
                    name,
                    params,
                }),
            1..3,
        ),
    )
        .prop_map(|(request_id, events)| ObservedEventsDescriptor { request_id, events });
    let digit_map = prop_oneof![
        text("[A-Za-z][A-Za-z0-9]{0,6}").prop_map(|n| DigitMapDescriptor {
            name: Some(n),
            value: None
        }),
        (option::of(text("[A-Za-z][A-Za-z0-9]{0,6}")), digit_map()).prop_map(|(name, v)| {
            DigitMapDescriptor {
                name,
                value: Some(v),
            }
        }),
    ];
    prop_oneof![
        vec(media_parm(true), 1..4).prop_map(Descriptor::Media),
        events.prop_map(Descriptor::Events),
        signals.prop_map(Descriptor::Signals),
        observed.prop_map(Descriptor::ObservedEvents),
        digit_map.prop_map(Descriptor::DigitMap),
        vec(
            (pkgd_name(), vec(event_spec_parm(), 0..3))
                .prop_map(|(name, params)| EventSpec { name, params }),
            0..3
        )
        .prop_map(Descriptor::EventBuffer),
        vec(service_change_parm(), 1..5).prop_map(Descriptor::ServiceChange),
        vec(proptest::sample::select(AuditItem::ALL.to_vec()), 0..4).prop_map(Descriptor::Audit),
        vec(
            (pkgd_name(), option::of(value())).prop_map(|(name, value)| Statistic { name, value }),
            0..3
        )
        .prop_map(Descriptor::Statistics),
        error_descriptor().prop_map(Descriptor::Error),
    ]
}

fn command() -> impl Strategy<Value = Command<'static>> {
    (
        proptest::sample::select(Verb::ALL.to_vec()),
        termination(),
        vec(descriptor(), 0..4),
    )
        .prop_map(|(verb, termination, descriptors)| Command {
            verb,
            termination,
            descriptors,
        })
}

fn context() -> impl Strategy<Value = ContextId> {
    prop_oneof![
        Just(ContextId::Null),
        Just(ContextId::Choose),
        Just(ContextId::All),
        any::<u32>().prop_map(ContextId::Number),
    ]
}

fn context_properties() -> impl Strategy<Value = Vec<ContextProperty>> {
    vec(
        prop_oneof![
            Just(ContextProperty::Emergency),
            any::<u16>().prop_map(ContextProperty::Priority),
        ],
        0..3,
    )
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
                    (any::<bool>(), any::<bool>(), command()).prop_map(
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
                vec(command(), 0..3),
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
            1..4
        )
        .prop_map(Transaction::ResponseAck),
    ]
}

fn message() -> impl Strategy<Value = Message<'static>> {
    (
        0..100u8,
        mid(),
        prop_oneof![
            vec(transaction(), 1..4).prop_map(Body::Transactions),
            error_descriptor().prop_map(Body::Error),
        ],
    )
        .prop_map(|(version, mid, body)| Message { version, mid, body })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_parse(message in message()) {
        for form in [Form::Pretty, Form::Compact] {
            let mut out = Vec::new();
            encode(&message, form, &mut out);
            let parsed = parse(&out).map_err(|e| {
                TestCaseError::fail(format!("{e} in {form:?}:\n{}", String::from_utf8_lossy(&out)))
            })?;
            prop_assert_eq!(&parsed, &message, "{:?}:\n{}", form, String::from_utf8_lossy(&out));
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
        let _ = parse(&bytes);
    }
}
