//! Property tests: `parse(encode(m)) == [m]` for generated valid messages of every verb and
//! response, alone and piggy-backed.
//!
//! The strategies build owned strings and leak them, so that generated messages are
//! `Message<'static>` like a parsed datagram's; a test run leaks a few hundred kilobytes.

use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

use crate::proptest_text::{leak, text};

use super::*;

fn hex_id() -> impl Strategy<Value = &'static str> {
    text("[0-9A-Fa-f]{1,32}")
}

fn transaction() -> impl Strategy<Value = TransactionId> {
    (1..=TransactionId::MAX).prop_map(TransactionId)
}

fn endpoint() -> impl Strategy<Value = EndpointName<'static>> {
    (
        text("([a-z]{1,6}|\\*|\\$)(/([0-9a-z-]{1,4}|\\*|\\$)){0,2}"),
        text("[a-z0-9.-]{1,12}|\\[[0-9]{1,3}(\\.[0-9]{1,3}){3}\\]"),
    )
        .prop_map(|(local, domain)| EndpointName { local, domain })
}

fn event_name() -> impl Strategy<Value = EventName<'static>> {
    (
        option::of(text("[A-Za-z][A-Za-z0-9]{0,3}|\\*")),
        text("[A-Za-z0-9][A-Za-z0-9_.+#*-]{0,5}|all|\\*|\\[[0-9#*TA-D-]{1,6}\\]"),
        option::of(text("[0-9A-F]{1,8}|\\*|\\$")),
    )
        .prop_map(|(package, event, connection)| EventName {
            package,
            event,
            connection,
        })
}

/// The raw text of event parameters: tokens, `name=value`, quoted strings holding commas and
/// parentheses, nested groups.
fn raw_params() -> impl Strategy<Value = &'static str> {
    let item = prop_oneof![
        text("[A-Za-z0-9/+.-]{1,8}"),
        text("[a-z]{1,4}=[0-9A-Za-z]{1,6}"),
        text("\"[ A-Za-z0-9,()]{0,8}\""),
        text("[a-z]{1,3}\\([0-9a-z,/]{0,6}\\)"),
    ];
    vec(item, 0..4).prop_map(|items| leak(items.join(",")))
}

fn event_ref() -> impl Strategy<Value = EventRef<'static>> {
    (event_name(), option::of(raw_params())).prop_map(|(name, params)| EventRef { name, params })
}

fn action() -> impl Strategy<Value = Action<'static>> {
    prop_oneof![
        Just(Action::Notify),
        Just(Action::Accumulate),
        Just(Action::AccumulateDigitMap),
        Just(Action::Swap),
        Just(Action::Ignore),
        Just(Action::KeepSignals),
        raw_params().prop_map(Action::Embedded),
        text("X[a-z0-9]{0,3}").prop_map(Action::Other),
    ]
}

fn requested_event() -> impl Strategy<Value = RequestedEvent<'static>> {
    (event_name(), vec(action(), 0..3), option::of(raw_params())).prop_map(
        |(name, actions, params)| RequestedEvent {
            name,
            actions,
            params,
        },
    )
}

fn pairs() -> impl Strategy<Value = Vec<Pair<'static>>> {
    vec(
        (
            text("[A-Za-z][A-Za-z0-9-]{0,4}"),
            text("([A-Za-z0-9;.-]{1,8})?"),
        )
            .prop_map(|(key, value)| Pair { key, value }),
        0..5,
    )
}

/// A raw parameter value: printable, no leading or trailing whitespace, possibly empty.
fn raw_value() -> impl Strategy<Value = &'static str> {
    text("([!-~]([ -~]{0,20}[!-~])?)?")
}

fn ack_ranges() -> impl Strategy<Value = Vec<AckRange>> {
    vec(
        (1..=TransactionId::MAX, 0..1000u32).prop_map(|(first, len)| AckRange {
            first: TransactionId(first),
            last: TransactionId(first.saturating_add(len).min(TransactionId::MAX)),
        }),
        0..4,
    )
}

fn mode() -> impl Strategy<Value = Mode<'static>> {
    prop_oneof![
        Just(Mode::SendOnly),
        Just(Mode::RecvOnly),
        Just(Mode::SendRecv),
        Just(Mode::Conference),
        Just(Mode::Inactive),
        Just(Mode::Loopback),
        Just(Mode::ContinuityTest),
        Just(Mode::NetworkLoop),
        Just(Mode::NetworkTest),
        Just(Mode::Data),
        text("X-[a-z]{1,5}|[A-Z]/[a-z]{1,5}").prop_map(Mode::Other),
    ]
}

fn restart_method() -> impl Strategy<Value = RestartMethod<'static>> {
    prop_oneof![
        Just(RestartMethod::Graceful),
        Just(RestartMethod::Forced),
        Just(RestartMethod::Restart),
        Just(RestartMethod::Disconnected),
        Just(RestartMethod::CancelGraceful),
        text("X-[a-z]{1,8}").prop_map(RestartMethod::Other),
    ]
}

fn param() -> impl Strategy<Value = Param<'static>> {
    let events = || vec(event_ref(), 0..4);
    prop_oneof![
        ack_ranges().prop_map(Param::ResponseAck),
        raw_value().prop_map(Param::BearerInformation),
        hex_id().prop_map(Param::CallId),
        prop_oneof![hex_id(), text("[0-9A-F]{1,8}(, ?[0-9A-F]{1,8}){1,3}")]
            .prop_map(Param::ConnectionId),
        raw_value().prop_map(Param::NotifiedEntity),
        hex_id().prop_map(Param::RequestIdentifier),
        pairs().prop_map(Param::LocalConnectionOptions),
        mode().prop_map(Param::ConnectionMode),
        vec(requested_event(), 0..4).prop_map(Param::RequestedEvents),
        events().prop_map(Param::SignalRequests),
        raw_value().prop_map(Param::DigitMap),
        events().prop_map(Param::ObservedEvents),
        pairs().prop_map(Param::ConnectionParameters),
        (0..=999u16, text("([A-Za-z][ -~]{0,12}[a-z])?"))
            .prop_map(|(code, text)| Param::ReasonCode(Reason { code, text })),
        endpoint().prop_map(Param::SpecificEndpointId),
        endpoint().prop_map(Param::SecondEndpointId),
        hex_id().prop_map(Param::SecondConnectionId),
        vec(text("[A-Z]{1,2}"), 0..6).prop_map(Param::RequestedInfo),
        raw_value().prop_map(Param::QuarantineHandling),
        events().prop_map(Param::DetectEvents),
        restart_method().prop_map(Param::RestartMethod),
        (0..=999_999_999u32).prop_map(Param::RestartDelay),
        raw_value().prop_map(Param::Capabilities),
        events().prop_map(Param::EventStates),
        (0..=999_999_999u32).prop_map(Param::MaxDatagram),
        raw_value().prop_map(Param::PackageList),
        (text("X-[A-Za-z0-9-]{1,8}|[a-z]{2}/[a-z]{1,4}"), raw_value())
            .prop_map(|(name, value)| Param::Other(name, value)),
    ]
}

fn sdp() -> impl Strategy<Value = Option<Sdp<'static>>> {
    option::of(
        vec(
            (
                proptest::sample::select(b"vosctmab".to_vec()),
                text("[ -~]{0,24}"),
            )
                .prop_map(|(kind, value)| SdpLine { kind, value }),
            1..8,
        )
        .prop_map(|lines| Sdp { lines }),
    )
}

fn verb() -> impl Strategy<Value = Verb> {
    proptest::sample::select(Verb::ALL.to_vec())
}

fn message() -> impl Strategy<Value = Message<'static>> {
    let command = (
        verb(),
        transaction(),
        endpoint(),
        option::of(text("[A-Z]{2,4} [0-9]\\.[0-9]")),
        vec(param(), 0..8),
        sdp(),
    )
        .prop_map(|(verb, transaction, endpoint, profile, params, sdp)| {
            Message::Command(Command {
                verb,
                transaction,
                endpoint,
                version: Version {
                    major: 1,
                    minor: 0,
                    profile,
                },
                params,
                sdp,
            })
        });
    let response = (
        0..=999u16,
        transaction(),
        option::of(text("[A-Za-z][A-Za-z0-9]{0,3}")),
        text("([A-Za-z][ -~]{0,16}[A-Za-z.])?"),
        vec(param(), 0..6),
        sdp(),
    )
        .prop_map(|(code, transaction, package, comment, params, sdp)| {
            Message::Response(Response {
                code: ReturnCode(code),
                transaction,
                package,
                comment,
                params,
                sdp,
            })
        });
    prop_oneof![command, response]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn encode_then_parse_is_identity(m in message()) {
        let mut out = Vec::new();
        m.encode(&mut out);
        let parsed = parse(&out);
        prop_assert_eq!(parsed, Ok(vec![m.clone()]), "{}", String::from_utf8_lossy(&out));
    }

    #[test]
    fn piggybacked_messages_round_trip(ms in vec(message(), 1..4)) {
        let mut out = Vec::new();
        encode_piggybacked(&ms, &mut out);
        prop_assume!(out.len() <= MAX_DATAGRAM);
        prop_assert_eq!(parse(&out), Ok(ms));
    }

    /// Whatever parses re-encodes to something that parses to the same messages (the fuzz
    /// target's property, on line-shaped noise).
    #[test]
    fn parsed_noise_round_trips(
        lines in vec("[ -~]{0,30}", 1..8),
        crlf in any::<bool>(),
    ) {
        let datagram = lines.join(if crlf { "\r\n" } else { "\n" });
        if let Ok(messages) = parse(datagram.as_bytes()) {
            for m in &messages {
                let mut out = Vec::new();
                m.encode(&mut out);
                prop_assert_eq!(parse(&out), Ok(vec![m.clone()]));
            }
        }
    }
}
