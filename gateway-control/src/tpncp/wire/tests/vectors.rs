//! Messages as byte arrays, checked by hand against `tpncp.dat`.

use crate::tpncp::wire::*;

fn header(order: ByteOrder) -> Header {
    Header {
        order,
        version: VERSION,
        seq: Seq(0x0102),
    }
}

fn event(order: ByteOrder, channel: i32, e: &Event) -> Vec<u8> {
    let mut out = Vec::new();
    encode_event(&header(order), Channel(channel), e, &mut out);
    assert_eq!(
        decode_event(&out),
        Ok((header(order), Channel(channel), e.clone()))
    );
    out
}

fn command(order: ByteOrder, c: &Command) -> Vec<u8> {
    let mut out = Vec::new();
    encode_command(&header(order), c, &mut out);
    assert_eq!(decode_command(&out), Ok((header(order), c.clone())));
    out
}

#[test]
fn off_hook_in_both_orders() {
    // version 7401 (0x1CE9), length 16 − 4, seq, length extension, reserved, id 15, channel 3.
    #[rustfmt::skip]
    let big = [
        0x1C, 0xE9, 0x00, 0x0C, 0x01, 0x02, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x0F,
        0x00, 0x00, 0x00, 0x03,
    ];
    #[rustfmt::skip]
    let little = [
        0xE9, 0x1C, 0x0C, 0x00, 0x02, 0x01, 0x00, 0x00,
        0x0F, 0x00, 0x00, 0x00,
        0x03, 0x00, 0x00, 0x00,
    ];
    assert_eq!(event(ByteOrder::Big, 3, &Event::OffHook), big);
    assert_eq!(event(ByteOrder::Little, 3, &Event::OffHook), little);
}

#[test]
fn command_ack_from_the_board() {
    let ack = Event::CommandAck {
        seq: Seq(0x0304),
        command_id: 229,
    };
    // Channel −1 (the board); then the acknowledged header: version 0, length 0, its seq,
    // extension and reserved 0, and `cmd_id`.
    #[rustfmt::skip]
    let big = [
        0x1C, 0xE9, 0x00, 0x18, 0x01, 0x02, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x2D,
        0xFF, 0xFF, 0xFF, 0xFF,
        0x00, 0x00, 0x00, 0x00, 0x03, 0x04, 0x00, 0x00,
        0x00, 0x00, 0x00, 0xE5,
    ];
    assert_eq!(event(ByteOrder::Big, -1, &ack), big);
    #[rustfmt::skip]
    let little = [
        0xE9, 0x1C, 0x18, 0x00, 0x02, 0x01, 0x00, 0x00,
        0x2D, 0x00, 0x00, 0x00,
        0xFF, 0xFF, 0xFF, 0xFF,
        0x00, 0x00, 0x00, 0x00, 0x04, 0x03, 0x00, 0x00,
        0xE5, 0x00, 0x00, 0x00,
    ];
    assert_eq!(event(ByteOrder::Little, -1, &ack), little);
}

#[test]
fn send_analog_signal_and_play_tone() {
    let on_hook = Command::SendAnalogSignal {
        channel: Channel(0),
        signal: AnalogSignal::OnHook,
        duration_ms: 500,
    };
    // channel_id, duration, signal_code (`ANALOG_SIGNAL_ONHOOK` 65).
    #[rustfmt::skip]
    let big = [
        0x1C, 0xE9, 0x00, 0x14, 0x01, 0x02, 0x00, 0x00,
        0x00, 0x00, 0x00, 0xD4,
        0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x01, 0xF4,
        0x00, 0x00, 0x00, 0x41,
    ];
    assert_eq!(command(ByteOrder::Big, &on_hook), big);
    let busy = Command::PlayTone {
        channel: Channel(1),
        tone: ToneType::Busy,
        duration_ms: 1000,
    };
    // channel_id, play_timing, tone_generation_interface, reserved (16 bits), tone_type
    // (`BUSY_TONE` 3), duration, add_tone_to_voice: 17 bytes.
    #[rustfmt::skip]
    let little = [
        0xE9, 0x1C, 0x19, 0x00, 0x02, 0x01, 0x00, 0x00,
        0x2F, 0x00, 0x00, 0x00,
        0x01, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
        0x03, 0x00, 0x00, 0x00,
        0xE8, 0x03, 0x00, 0x00,
        0x00,
    ];
    assert_eq!(command(ByteOrder::Little, &busy), little);
}

#[test]
fn open_channel_sets_active_and_the_security_offset() {
    let open = Command::OpenChannel {
        channel: Channel(5),
        coder: Coder::Mulaw,
        frames_per_packet: 2,
        dtmf_payload_type: 101,
    };
    for (order, active) in [(ByteOrder::Big, 0x01), (ByteOrder::Little, 0x80)] {
        let out = command(order, &open);
        assert_eq!(out.len(), 12 + 1092);
        let body = &out[12..];
        let word = |at: usize| {
            let b = [body[at], body[at + 1], body[at + 2], body[at + 3]];
            match order {
                ByteOrder::Big => i32::from_be_bytes(b),
                ByteOrder::Little => i32::from_le_bytes(b),
            }
        };
        assert_eq!(word(0), 5, "channel_id");
        // `active`: the first bit of byte 7; big-endian fills from the least significant bit,
        // little-endian from the most significant.
        assert_eq!(body[7], active);
        assert_eq!(word(12), 2, "m");
        assert_eq!(word(16), 1, "coder");
        assert_eq!(body[121], 101, "rtpdtmfrfc2833_payload_type");
        // `security_cmd_offset`: where `rtp_authentication_algorithm` (772) is from
        // `cmd_rev_lsb` (4).
        assert_eq!(word(196), 768);
        let set: usize = body.iter().filter(|&&b| b != 0).count();
        // channel, active, m, coder, payload type, offset (0x300): everything else is zero.
        assert_eq!(set, 6);
    }
}

#[test]
fn activate_rtp_with_an_ipv4_remote() {
    let activate = Command::ActivateRtp {
        channel: Channel(2),
        local_rtp_port: 4000,
        remote: "192.0.2.7:5004".parse().unwrap(),
        tx_payload_type: 8,
        rx_payload_type: 0,
    };
    let out = command(ByteOrder::Big, &activate);
    assert_eq!(out.len(), 736);
    assert_eq!(&out[2..4], &[0x02, 0xDC], "length 732");
    let body = &out[12..];
    assert_eq!(&body[4..8], &[192, 0, 2, 7], "reserved_remote_rtpip_add");
    assert_eq!(
        &body[8..12],
        &[0x0F, 0xA0, 0x13, 0x8C],
        "local, remote port"
    );
    assert_eq!(
        &body[28..36],
        &[0, 0, 0, 8, 0, 0, 0, 0],
        "tx, rx payload type"
    );
    assert_eq!(&body[312..314], &[0x13, 0x8D], "remote_rtcp_port");
    assert_eq!(&body[504..508], &[0, 0, 0, 2], "AF_INET");
    assert_eq!(
        &body[508..524],
        &[192, 0, 2, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
    );
    // `rtp_state_offset`: where `ssrc` (668) is, from just after `channel_id`.
    assert_eq!(&body[628..632], &664u32.to_be_bytes());
    // Little-endian boards hold the IPv4 address as a 32-bit number in their order.
    let out = command(ByteOrder::Little, &activate);
    assert_eq!(&out[12 + 4..12 + 8], &[7, 2, 0, 192]);
    assert_eq!(&out[12 + 508..12 + 512], &[7, 2, 0, 192]);
    // IPv6: AF_INET6 (10) and the 16 bytes as they are.
    let v6 = Command::ActivateRtp {
        channel: Channel(2),
        local_rtp_port: 4000,
        remote: "[2001:db8::1]:5004".parse().unwrap(),
        tx_payload_type: 8,
        rx_payload_type: 0,
    };
    let out = command(ByteOrder::Little, &v6);
    assert_eq!(&out[12 + 4..12 + 8], &[0; 4], "no IPv4 address");
    assert_eq!(&out[12 + 504..12 + 508], &[10, 0, 0, 0]);
    assert_eq!(
        &out[12 + 508..12 + 524],
        &"2001:db8::1"
            .parse::<std::net::Ipv6Addr>()
            .unwrap()
            .octets()
    );
}

#[test]
fn ring_with_caller_id() {
    let ring = Command::Ring {
        channel: Channel(1),
        on: true,
        pattern: 0,
        caller_id: Some(CallerIdText {
            number: Some("5551234".into()),
            name: Some("Alice".into()),
        }),
    };
    let out = command(ByteOrder::Big, &ring);
    assert_eq!(out.len(), 12 + 240);
    let body = &out[12..];
    assert_eq!(
        &body[..16],
        &[0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]
    );
    assert_eq!(&body[16..26], &[0; 10], "date, time");
    assert_eq!(&body[26..34], b"5551234\0", "number");
    assert_eq!(&body[47..53], b"Alice\0", "name");
    assert_eq!(
        &body[98..101],
        &[0, 1, 1],
        "status, number and name availability"
    );
    // Too long: cut to the fields (20 and 50 bytes, on a character boundary), still ended by
    // a NUL.
    let long = Command::Ring {
        channel: Channel(1),
        on: true,
        pattern: 2,
        caller_id: Some(CallerIdText {
            number: Some("0123456789".repeat(3)),
            name: Some(format!("a{}", "é".repeat(30))),
        }),
    };
    let mut out = Vec::new();
    encode_command(&header(ByteOrder::Big), &long, &mut out);
    let Ok((_, Command::Ring { caller_id, .. })) = decode_command(&out) else {
        panic!("{:?}", decode_command(&out));
    };
    let caller_id = caller_id.unwrap();
    assert_eq!(caller_id.number.unwrap(), "01234567890123456789");
    // 50 bytes would end inside the 25th "é".
    assert_eq!(caller_id.name.unwrap(), format!("a{}", "é".repeat(24)));
    // Stop ringing: no caller id, nothing but the channel set.
    let stop = Command::Ring {
        channel: Channel(1),
        on: false,
        pattern: 0,
        caller_id: None,
    };
    let out = command(ByteOrder::Little, &stop);
    assert_eq!(out[12..].iter().filter(|&&b| b != 0).count(), 1);
}

#[test]
fn digits_fill_the_array_in_order() {
    let digits = Event::Digits(vec![
        DigitEntry {
            digit: 5,
            on_time_ms: 80,
            inter_digit_ms: 0,
        },
        DigitEntry {
            digit: 11,
            on_time_ms: 90,
            inter_digit_ms: 120,
        },
    ]);
    let out = event(ByteOrder::Big, 0, &digits);
    assert_eq!(out.len(), 16 + 804);
    let body = &out[16..];
    // num_digits, then per entry: digit_on_time, inter_digit_time, digit, signaling_system,
    // detection_direction.
    #[rustfmt::skip]
    let want = [
        0, 0, 0, 2,
        0, 0, 0, 80, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 90, 0, 0, 0, 120, 0, 0, 0, 11, 0, 0, 0, 0, 0, 0, 0, 0,
    ];
    assert_eq!(&body[..44], &want);
    assert!(body[44..].iter().all(|&b| b == 0));
    // More than 40 entries: the first 40 are sent.
    let many = Event::Digits(vec![
        DigitEntry {
            digit: 1,
            on_time_ms: 1,
            inter_digit_ms: 1
        };
        45
    ]);
    let mut out = Vec::new();
    encode_event(&header(ByteOrder::Little), Channel(0), &many, &mut out);
    let Ok((_, _, Event::Digits(read))) = decode_event(&out) else {
        panic!()
    };
    assert_eq!(read.len(), 40);
}

#[test]
fn events_with_a_status_and_texts() {
    let status = Event::FxsStatus {
        off_hook: true,
        ringing: false,
        message_waiting: true,
    };
    let out = event(ByteOrder::Big, 4, &status);
    assert_eq!(out.len(), 16 + 76);
    let body = &out[16..];
    assert_eq!(&body[20..24], &[0, 0, 0, 1], "hook");
    assert_eq!(&body[36..44], &[0, 0, 0, 1, 0, 0, 0, 0], "mwi, ring");
    let alive = event(
        ByteOrder::Little,
        -1,
        &Event::KeepAlive {
            commands_processed: 0x0102_0304,
        },
    );
    assert_eq!(&alive[16 + 16..16 + 20], &[4, 3, 2, 1]);
    let error = Event::Error {
        code: 7,
        text: "bad channel".into(),
    };
    let out = event(ByteOrder::Big, 1, &error);
    assert_eq!(out.len(), 16 + 284);
    assert_eq!(&out[16..20], &[0, 0, 0, 7]);
    assert_eq!(out[16 + 28], 11, "length");
    assert_eq!(&out[16 + 29..16 + 41], b"bad channel\0");
    // A text that fills all 255 bytes has no NUL and reads back whole.
    let full = Event::Error {
        code: 1,
        text: "x".repeat(300),
    };
    let mut out = Vec::new();
    encode_event(&header(ByteOrder::Big), Channel(1), &full, &mut out);
    assert_eq!(
        decode_event(&out).unwrap().2,
        Event::Error {
            code: 1,
            text: "x".repeat(255)
        }
    );
    assert_eq!(out[16 + 28], 255);
    for e in [Event::RingStart, Event::RingEnd] {
        let out = event(ByteOrder::Big, 0, &e);
        assert_eq!(out.len(), 20, "event_trigger");
    }
}

#[test]
fn sequence_numbers_wrap() {
    assert_eq!(Seq(1).next(), Seq(2));
    assert_eq!(Seq(u16::MAX).next(), Seq(0));
}

#[test]
fn dial_puts_its_digits_in_the_array_after_a_16_bit_count() {
    let dial = Command::Dial {
        channel: Channel(2),
        digits: vec![DigitEntry {
            digit: 5,
            on_time_ms: 100,
            inter_digit_ms: 100,
        }],
    };
    let out = command(ByteOrder::Big, &dial);
    // 12 + 820 bytes: `dial_timing`, `ibs_tone_generation_interface`, `num_digits` (16 bits),
    // 40 entries of 20 bytes, then three 32-bit fields.
    assert_eq!(out.len(), 832);
    #[rustfmt::skip]
    let head = [
        0x1C, 0xE9, 0x03, 0x3C, 0x01, 0x02, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x05,
        0x00, 0x00, 0x00, 0x02,
        0x00, 0x00, 0x00, 0x01,
        // digit_on_time_0, inter_digit_time_0, digit_0, signaling_system_0 (DTMF),
        // detection_direction_0.
        0x00, 0x00, 0x00, 0x64,
        0x00, 0x00, 0x00, 0x64,
        0x00, 0x00, 0x00, 0x05,
        0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00,
    ];
    assert_eq!(out[..head.len()], head);
    assert!(out[head.len()..].iter().all(|&b| b == 0));
}

#[test]
fn caller_id_detected_on_an_fxo_port() {
    let cid = Event::CallerId(CallerIdText {
        number: Some("2041".into()),
        name: None,
    });
    let out = event(ByteOrder::Little, 1, &cid);
    // 12 + channel + 211 bytes; `number` after `date` and `time` (5 bytes each),
    // `number_availability` after `name` (51) and `status`.
    assert_eq!(out.len(), 227);
    assert_eq!(
        out[..16],
        [
            0xE9, 0x1C, 0xDF, 0x00, 0x02, 0x01, 0x00, 0x00, 0x22, 0x00, 0x00, 0x00, 0x01, 0x00,
            0x00, 0x00
        ]
    );
    assert_eq!(&out[26..31], b"2041\0");
    assert_eq!((out[99], out[100]), (1, 0));
    let nonzero: Vec<usize> = (0..out.len()).filter(|&i| out[i] != 0).collect();
    assert_eq!(nonzero, [0, 1, 2, 4, 5, 8, 12, 26, 27, 28, 29, 99]);
}

#[test]
fn fxo_status_and_polarity_reversal() {
    let status = event(ByteOrder::Big, 0, &Event::FxoStatus { seized: true });
    // `seized_line` is the sixth 32-bit field of 11.
    assert_eq!(status.len(), 16 + 44);
    assert_eq!(status[16 + 20..16 + 24], [0, 0, 0, 1]);
    let reversal = event(
        ByteOrder::Big,
        0,
        &Event::PolarityReversal { reversed: true },
    );
    assert_eq!(reversal.len(), 16 + 8);
    assert_eq!(reversal[8..12], [0, 0, 0, 237]);
    assert_eq!(reversal[16..], [0, 0, 0, 0, 0, 0, 0, 1]);
    let ended = event(ByteOrder::Big, 0, &Event::DialEnded);
    assert_eq!((ended.len(), ended[11]), (16, 4));
    let cd = event(ByteOrder::Big, 0, &Event::CurrentDisconnect);
    assert_eq!((cd.len(), cd[10], cd[11]), (16, 1, 8));
}
