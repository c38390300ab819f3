//! Proptest strategies for every command and event (shared by the round trips and the
//! framing tests).

use std::net::{IpAddr, SocketAddr};

use proptest::prelude::*;

use crate::tpncp::wire::*;

pub(super) fn header() -> impl Strategy<Value = Header> {
    (
        prop_oneof![Just(ByteOrder::Big), Just(ByteOrder::Little)],
        any::<u16>(),
        any::<u16>(),
    )
        .prop_map(|(order, version, seq)| Header {
            order,
            version,
            seq: Seq(seq),
        })
}

fn channel() -> impl Strategy<Value = Channel> {
    any::<i32>().prop_map(Channel)
}

fn tone() -> impl Strategy<Value = ToneType> {
    prop_oneof![
        Just(ToneType::Dial),
        Just(ToneType::Ringing),
        Just(ToneType::Busy),
        Just(ToneType::Reorder),
        Just(ToneType::Confirmation),
        Just(ToneType::Waiting),
        Just(ToneType::StutterDial),
        any::<u32>()
            .prop_filter("a named tone", |v| ![1, 2, 3, 7, 8, 9, 15].contains(v))
            .prop_map(ToneType::Other),
    ]
}

fn signal() -> impl Strategy<Value = AnalogSignal> {
    prop_oneof![
        Just(AnalogSignal::HookFlash),
        Just(AnalogSignal::OffHook),
        Just(AnalogSignal::OnHook),
        any::<i32>()
            .prop_filter("a named signal", |v| ![16, 64, 65].contains(v))
            .prop_map(AnalogSignal::Other),
    ]
}

fn caller_id() -> impl Strategy<Value = Option<CallerIdText>> {
    proptest::option::of(
        (
            proptest::option::of("[0-9*#PO]{0,20}"),
            // At most 12 characters of up to 4 bytes: within the 50 bytes of `name`.
            proptest::option::of("[^\\x00]{0,12}"),
        )
            .prop_map(|(number, name)| CallerIdText { number, name }),
    )
}

fn digit_entries() -> impl Strategy<Value = Vec<DigitEntry>> {
    proptest::collection::vec(
        (any::<i32>(), any::<i32>(), any::<i32>()).prop_map(
            |(digit, on_time_ms, inter_digit_ms)| DigitEntry {
                digit,
                on_time_ms,
                inter_digit_ms,
            },
        ),
        0..=40,
    )
}

pub(super) fn command() -> impl Strategy<Value = Command> {
    prop_oneof![
        (channel(), digit_entries())
            .prop_map(|(channel, digits)| Command::Dial { channel, digits }),
        (
            channel(),
            prop_oneof![Just(Coder::Alaw), Just(Coder::Mulaw)],
            any::<i32>(),
            any::<u8>()
        )
            .prop_map(|(channel, coder, frames_per_packet, dtmf_payload_type)| {
                Command::OpenChannel {
                    channel,
                    coder,
                    frames_per_packet,
                    dtmf_payload_type,
                }
            }),
        channel().prop_map(|channel| Command::CloseChannel { channel }),
        (
            channel(),
            any::<u16>(),
            // IPv6 flow labels and scopes are not carried.
            (any::<IpAddr>(), any::<u16>()).prop_map(|(ip, port)| SocketAddr::new(ip, port)),
            any::<i32>(),
            any::<i32>()
        )
            .prop_map(|(channel, local_rtp_port, remote, tx, rx)| {
                Command::ActivateRtp {
                    channel,
                    local_rtp_port,
                    remote,
                    tx_payload_type: tx,
                    rx_payload_type: rx,
                }
            }),
        channel().prop_map(|channel| Command::DeactivateRtp { channel }),
        (channel(), tone(), any::<i32>()).prop_map(|(channel, tone, duration_ms)| {
            Command::PlayTone {
                channel,
                tone,
                duration_ms,
            }
        }),
        channel().prop_map(|channel| Command::StopTone { channel }),
        (channel(), signal(), any::<i32>()).prop_map(|(channel, signal, duration_ms)| {
            Command::SendAnalogSignal {
                channel,
                signal,
                duration_ms,
            }
        }),
        (channel(), any::<bool>())
            .prop_map(|(channel, on)| Command::MessageWaiting { channel, on }),
        channel().prop_map(|channel| Command::QueryStatus { channel }),
        (channel(), any::<bool>(), any::<i32>(), caller_id()).prop_map(
            |(channel, on, pattern, caller_id)| Command::Ring {
                channel,
                on,
                pattern,
                caller_id,
            }
        ),
    ]
}

pub(super) fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        digit_entries().prop_map(Event::Digits),
        Just(Event::DialEnded),
        caller_id()
            .prop_map(Option::unwrap_or_default)
            .prop_map(Event::CallerId),
        any::<bool>().prop_map(|seized| Event::FxoStatus { seized }),
        any::<bool>().prop_map(|reversed| Event::PolarityReversal { reversed }),
        Just(Event::CurrentDisconnect),
        Just(Event::OnHook),
        Just(Event::OffHook),
        any::<i32>().prop_map(|commands_processed| Event::KeepAlive { commands_processed }),
        Just(Event::FlashHook),
        (any::<u16>(), any::<u32>()).prop_map(|(seq, command_id)| Event::CommandAck {
            seq: Seq(seq),
            command_id,
        }),
        (any::<bool>(), any::<bool>(), any::<bool>()).prop_map(
            |(off_hook, ringing, message_waiting)| Event::FxsStatus {
                off_hook,
                ringing,
                message_waiting,
            }
        ),
        Just(Event::RingStart),
        Just(Event::RingEnd),
        // At most 60 characters of up to 4 bytes: within the 255 bytes of `error_string`.
        (any::<i32>(), "[^\\x00]{0,60}").prop_map(|(code, text)| Event::Error { code, text }),
    ]
}

/// An encoded message of either kind.
pub(super) fn message() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        (header(), command()).prop_map(|(h, c)| {
            let mut out = Vec::new();
            encode_command(&h, &c, &mut out);
            out
        }),
        (header(), channel(), event()).prop_map(|(h, ch, e)| {
            let mut out = Vec::new();
            encode_event(&h, ch, &e, &mut out);
            out
        }),
    ]
}
