use super::*;

#[test]
fn sizes_follow_the_table() {
    assert_eq!(structs::open_channel::SIZE, 1092);
    assert_eq!(structs::activate_rtp_rtcp::SIZE, 724);
    assert_eq!(structs::distinctive_ring::SIZE, 240);
    assert_eq!(structs::digit::SIZE, 804);
}

#[test]
fn a_ring_with_caller_id_round_trips_in_both_orders() {
    for order in [ByteOrder::Big, ByteOrder::Little] {
        let header = Header {
            order,
            version: VERSION,
            seq: Seq(7),
        };
        let command = Command::Ring {
            channel: Channel(3),
            on: true,
            pattern: 0,
            caller_id: Some(CallerIdText {
                number: Some("5551234".into()),
                name: Some("Alice".into()),
            }),
        };
        let mut out = Vec::new();
        encode_command(&header, &command, &mut out);
        assert_eq!(out.len(), 252);
        assert_eq!(decode_command(&out), Ok((header, command)));
        let mut out = Vec::new();
        encode_event(&header, Channel(1), &Event::OffHook, &mut out);
        assert_eq!(decode_event(&out), Ok((header, Channel(1), Event::OffHook)));
        let mut d = Deframer::new();
        d.push(&out);
        assert_eq!(d.next(), Some(Ok(out.clone())));
    }
}
