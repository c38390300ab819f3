//! Wire tests: real clients' messages (captured with tshark in a network namespace against
//! dnsmasq), hand-made RFC cases, error offsets, and proptest round trips.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use hex_literal::hex;
use proptest::prelude::*;

use super::*;

// busybox udhcpc's DISCOVER (-V Polycom-SSIP-TEST -x hostname:phone1), MAC 00:04:f2:11:22:33.
const UDHCPC_DISCOVER: [u8; 300] = hex!(
    "01010600e3b9b12c00000000000000000000000000000000000000000004f211"
    "2233000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000638253633501013902024037070103060c0f1c2a"
    "0c0670686f6e65313c11506f6c79636f6d2d535349502d544553543d07010004"
    "f2112233ff00000000000000"
);
const UDHCPC_REQUEST: [u8; 305] = hex!(
    "01010600e3b9b12c00000000000000000000000000000000000000000004f211"
    "2233000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000006382536335010332040a4d009736040a4d000139"
    "02024037070103060c0f1c2a0c0670686f6e65313c11506f6c79636f6d2d5353"
    "49502d544553543d07010004f2112233ff"
);
const DHCLIENT_REQUEST: [u8; 300] = hex!(
    "01010600f3c0454100000000000000000000000000000000000000000004f244"
    "5566000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000006382536335010336040a4d000132040a4d00820c"
    "02766d370d011c02030f06770c2c2f1a792aff00000000000000000000000000"
    "000000000000000000000000"
);

const MAC: Mac = Mac([0x00, 0x04, 0xf2, 0x11, 0x22, 0x33]);

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// A minimal request: header, cookie, the given option bytes.
fn request(options: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; MIN_LEN];
    b[0] = 1;
    b[1] = 1;
    b[2] = 6;
    b[4..8].copy_from_slice(&[0xde, 0xad, 0xbe, 0xef]);
    b[28..34].copy_from_slice(&MAC.0);
    b[236..240].copy_from_slice(&MAGIC_COOKIE);
    b.extend_from_slice(options);
    b
}

#[test]
fn udhcpc_discover() {
    let r = Repr::parse_bytes(&UDHCPC_DISCOVER).unwrap();
    assert_eq!(r.op, Op::Request);
    assert_eq!(r.xid, Xid(0xe3b9_b12c));
    assert_eq!(r.chaddr, MAC);
    assert_eq!(r.message_type, MessageType::Discover);
    assert!(!r.broadcast);
    assert_eq!(r.ciaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(r.max_message_size(), Some(576));
    assert_eq!(
        r.parameter_request_list(),
        Some(&[1, 3, 6, 12, 15, 28, 42][..])
    );
    assert_eq!(r.host_name(), Some(&b"phone1"[..]));
    assert_eq!(r.vendor_class(), Some(&b"Polycom-SSIP-TEST"[..]));
    assert_eq!(r.client_id(), Some(&[1, 0, 4, 0xf2, 0x11, 0x22, 0x33][..]));
    assert_eq!(r.requested_ip(), None);
    assert_eq!(r.server_id(), None);
    assert!(r.sname.is_empty() && r.file.is_empty());
    // Our encoding of it is byte for byte udhcpc's: same option order, End, zero padding.
    assert_eq!(r.buffer_len(), UDHCPC_DISCOVER.len());
    assert_eq!(r.to_vec(1500).unwrap(), UDHCPC_DISCOVER);
}

#[test]
fn udhcpc_and_dhclient_requests() {
    let r = Repr::parse_bytes(&UDHCPC_REQUEST).unwrap();
    assert_eq!(r.message_type, MessageType::Request);
    assert_eq!(r.requested_ip(), Some(ip("10.77.0.151")));
    assert_eq!(r.server_id(), Some(ip("10.77.0.1")));
    let r = Repr::parse_bytes(&DHCLIENT_REQUEST).unwrap();
    assert_eq!(r.message_type, MessageType::Request);
    assert_eq!(r.chaddr, Mac([0x00, 0x04, 0xf2, 0x44, 0x55, 0x66]));
    assert_eq!(r.server_id(), Some(ip("10.77.0.1")));
    assert_eq!(r.requested_ip(), Some(ip("10.77.0.130")));
    assert_eq!(r.host_name(), Some(&b"vm"[..]));
    assert_eq!(
        r.parameter_request_list(),
        Some(&[1, 28, 2, 3, 15, 6, 119, 12, 44, 47, 26, 121, 42][..])
    );
    assert_eq!(r.to_vec(1500).unwrap(), DHCLIENT_REQUEST);
}

#[test]
fn header_errors_name_field_and_offset() {
    let len = UDHCPC_DISCOVER.len();
    assert_eq!(
        Repr::parse_bytes(&UDHCPC_DISCOVER[..100]),
        Err(Error::Truncated {
            field: "BOOTP header",
            offset: 0,
            needed: 236,
            len: 100
        })
    );
    assert_eq!(
        Repr::parse_bytes(&UDHCPC_DISCOVER[..238]),
        Err(Error::Truncated {
            field: "magic cookie",
            offset: 236,
            needed: 240,
            len: 238
        })
    );
    let mut big = UDHCPC_DISCOVER.to_vec();
    big.resize(MAX_DATAGRAM + 1, 0);
    assert_eq!(
        Repr::parse_bytes(&big),
        Err(Error::TooLong {
            len: MAX_DATAGRAM + 1
        })
    );
    big.truncate(MAX_DATAGRAM);
    assert!(Repr::parse_bytes(&big).is_ok());
    let mut b = UDHCPC_DISCOVER;
    b[0] = 3;
    assert_eq!(Repr::parse_bytes(&b), Err(Error::Op(3)));
    let mut b = UDHCPC_DISCOVER;
    b[2] = 16;
    assert_eq!(
        Repr::parse_bytes(&b),
        Err(Error::HardwareAddress { htype: 1, hlen: 16 })
    );
    let mut b = UDHCPC_DISCOVER;
    b[1] = 6;
    assert!(matches!(
        Repr::parse_bytes(&b),
        Err(Error::HardwareAddress { htype: 6, .. })
    ));
    let mut b = UDHCPC_DISCOVER;
    b[239] = 0;
    assert_eq!(
        Repr::parse_bytes(&b),
        Err(Error::MagicCookie([99, 130, 83, 0]))
    );
    assert_eq!(len, 300);
}

#[test]
fn option_errors() {
    assert_eq!(
        Repr::parse_bytes(&request(&[12, 2, b'a'])),
        Err(Error::OptionTruncated {
            area: "options",
            code: 12,
            offset: 240
        })
    );
    assert_eq!(
        Repr::parse_bytes(&request(&[53, 1, 1, 12])),
        Err(Error::OptionTruncated {
            area: "options",
            code: 12,
            offset: 243
        })
    );
    assert_eq!(
        Repr::parse_bytes(&request(&[12, 1, b'a', 255])),
        Err(Error::MissingMessageType)
    );
    assert_eq!(
        Repr::parse_bytes(&request(&[53, 2, 1, 1])),
        Err(Error::OptionLength {
            code: 53,
            offset: 240,
            len: 2
        })
    );
    assert!(matches!(
        Repr::parse_bytes(&request(&[53, 1, 1, 53, 1, 3])),
        Err(Error::OptionLength {
            code: 53,
            offset: 243,
            ..
        })
    ));
    // More distinct options than MAX_OPTIONS.
    let mut opts = vec![53, 1, 1];
    for c in 100..(100 + MAX_OPTIONS as u8 + 1) {
        opts.extend_from_slice(&[c, 0]);
    }
    assert!(matches!(
        Repr::parse_bytes(&request(&opts)),
        Err(Error::TooManyOptions { code, .. }) if code == 100 + MAX_OPTIONS as u8
    ));
    opts.truncate(3 + 2 * MAX_OPTIONS);
    assert_eq!(
        Repr::parse_bytes(&request(&opts)).unwrap().options.len(),
        MAX_OPTIONS
    );
    // No End option: the area's end ends it.
    assert!(Repr::parse_bytes(&request(&[53, 1, 1])).is_ok());
}

#[test]
fn long_options_are_joined() {
    // RFC 3396 §5: two instances of 43 are one value; pads between are fine.
    let b = request(&[43, 2, 1, 2, 53, 1, 8, 0, 43, 1, 3, 12, 1, b'x', 255]);
    let r = Repr::parse_bytes(&b).unwrap();
    assert_eq!(r.message_type, MessageType::Inform);
    assert_eq!(r.options[0], DhcpOption::new(43, vec![1, 2, 3]));
    assert_eq!(r.options[1], DhcpOption::new(12, &b"x"[..]));
    assert!(matches!(r.options[1].data, Cow::Borrowed(_)));
    // And a value over 255 bytes is split again on the way out.
    let long = DhcpOption::new(43, vec![7u8; 600]);
    let mut r = r;
    r.options = vec![long.clone()];
    let bytes = r.to_vec(1500).unwrap();
    assert_eq!(&bytes[243..246], &[43, 255, 7]);
    assert_eq!(&bytes[243 + 257..243 + 259], &[43, 255]);
    assert_eq!(&bytes[243 + 514..243 + 516], &[43, 90]);
    assert_eq!(Repr::parse_bytes(&bytes).unwrap().options, vec![long]);
}

#[test]
fn overload_reads_file_then_sname() {
    let mut b = request(&[53, 1, 1, 52, 1, 3, 12, 1, b'a', 255]);
    b[108..112].copy_from_slice(&[12, 1, b'b', 255]);
    b[44..49].copy_from_slice(&[0, 12, 1, b'c', 255]);
    let r = Repr::parse_bytes(&b).unwrap();
    assert_eq!(r.host_name(), Some(&b"abc"[..]));
    assert!(r.file.is_empty() && r.sname.is_empty());
    // Overload 1 reads file only; sname stays a name.
    b[245] = 1;
    let r = Repr::parse_bytes(&b).unwrap();
    assert_eq!(r.host_name(), Some(&b"ab"[..]));
    assert!(r.sname.is_empty());
    b[44] = b's';
    b[45] = 0;
    assert_eq!(&*Repr::parse_bytes(&b).unwrap().sname, b"s");
}

#[test]
fn overload_tricks_are_refused() {
    // An overload option inside the overloaded file: a loop.
    let mut b = request(&[53, 1, 1, 52, 1, 1, 255]);
    b[108..111].copy_from_slice(&[52, 1, 3]);
    assert_eq!(
        Repr::parse_bytes(&b),
        Err(Error::Overload {
            offset: 108,
            reason: "found in file or sname"
        })
    );
    assert_eq!(
        Repr::parse_bytes(&request(&[53, 1, 1, 52, 1, 1, 52, 1, 2])),
        Err(Error::Overload {
            offset: 246,
            reason: "repeated"
        })
    );
    assert_eq!(
        Repr::parse_bytes(&request(&[53, 1, 1, 52, 1, 4])),
        Err(Error::Overload {
            offset: 243,
            reason: "value not 1, 2 or 3"
        })
    );
    assert_eq!(
        Repr::parse_bytes(&request(&[53, 1, 1, 52, 2, 1, 1])),
        Err(Error::OptionLength {
            code: 52,
            offset: 243,
            len: 2
        })
    );
    // A truncated option inside sname names sname and its offset.
    let mut b = request(&[53, 1, 1, 52, 1, 2, 255]);
    b[44..47].copy_from_slice(&[0, 12, 70]);
    assert_eq!(
        Repr::parse_bytes(&b),
        Err(Error::OptionTruncated {
            area: "sname",
            code: 12,
            offset: 45
        })
    );
}

fn reply_with(options: Vec<DhcpOption<'static>>, file: &'static [u8]) -> Repr<'static> {
    Repr {
        op: Op::Reply,
        hops: 0,
        xid: Xid(7),
        secs: 0,
        broadcast: true,
        ciaddr: Ipv4Addr::UNSPECIFIED,
        yiaddr: ip("10.0.0.5"),
        siaddr: Ipv4Addr::UNSPECIFIED,
        giaddr: Ipv4Addr::UNSPECIFIED,
        chaddr: MAC,
        sname: Cow::Borrowed(b""),
        file: Cow::Borrowed(file),
        message_type: MessageType::Ack,
        options,
    }
}

#[test]
fn too_big_replies_overload_into_file_and_sname() {
    let options: Vec<DhcpOption<'static>> = (0..8)
        .map(|i| DhcpOption::new(200 + i, vec![i; 50]))
        .collect();
    let r = reply_with(options.clone(), b"");
    assert!(r.buffer_len() > MIN_MAX_MESSAGE);
    let bytes = r.to_vec(MIN_MAX_MESSAGE).unwrap();
    assert!(bytes.len() <= MIN_MAX_MESSAGE);
    assert_eq!(&bytes[240..246], &[53, 1, 5, 52, 1, 3]);
    let back = Repr::parse_bytes(&bytes).unwrap();
    let mut got = back.options.clone();
    got.sort_by_key(|o| o.code);
    assert_eq!(got, options);
    // With the file in use only sname is left, too small for the rest.
    let r = reply_with(options, b"boot.cfg");
    assert_eq!(
        r.to_vec(MIN_MAX_MESSAGE),
        Err(Error::TooLarge {
            needed: r.buffer_len(),
            max: MIN_MAX_MESSAGE
        })
    );
    // A small option still fits in sname.
    let small = vec![
        DhcpOption::new(200, vec![0; 100]),
        DhcpOption::new(201, vec![1; 100]),
        DhcpOption::new(202, vec![2; 60]),
        DhcpOption::new(210, vec![9; 40]),
    ];
    let r = reply_with(small, b"boot.cfg");
    let bytes = r.to_vec(MIN_MAX_MESSAGE).unwrap();
    assert_eq!(&bytes[240..246], &[53, 1, 5, 52, 1, 2]);
    let back = Repr::parse_bytes(&bytes).unwrap();
    assert_eq!(&*back.file, b"boot.cfg");
    assert_eq!(back.options.len(), 4);
}

/// Found by CI's fuzzing: a small option after one that spilled into `file` takes the room left
/// in the options field, so the options read back grouped by area, not in their first order.
/// Nothing is lost, and the regrouped message emits to the same bytes (first fit is stable).
#[test]
fn overload_regroups_options_by_area_and_is_stable() {
    let options = vec![
        DhcpOption::new(200, vec![0; 250]),
        DhcpOption::new(201, vec![1; 100]),
        DhcpOption::new(202, vec![2; 4]),
    ];
    let r = reply_with(options, b"");
    let bytes = r.to_vec(MIN_MAX_MESSAGE).unwrap();
    let back = Repr::parse_bytes(&bytes).unwrap();
    let codes: Vec<u8> = back.options.iter().map(|o| o.code).collect();
    assert_eq!(codes, [200, 202, 201]);
    assert_eq!(back.to_vec(MIN_MAX_MESSAGE).unwrap(), bytes);
}

#[test]
fn emit_refuses_what_it_cannot_encode() {
    let mut r = reply_with(vec![DhcpOption::new(code::OVERLOAD, vec![1])], b"");
    assert!(matches!(r.to_vec(1500), Err(Error::Unrepresentable(_))));
    r.options.clear();
    r.sname = Cow::Owned(vec![b'a'; 65]);
    assert!(matches!(r.to_vec(1500), Err(Error::Unrepresentable(_))));
    r.sname = Cow::Borrowed(b"");
    r.file = Cow::Owned(vec![b'a'; 129]);
    assert!(matches!(r.to_vec(1500), Err(Error::Unrepresentable(_))));
    r.file = Cow::Borrowed(b"");
    let mut buf = [0u8; 299];
    assert_eq!(
        r.emit(&mut Packet::new_unchecked(&mut buf[..])),
        Err(Error::BufferTooShort {
            needed: 300,
            got: 299
        })
    );
}

#[test]
fn packet_accessors() {
    let p = Packet::new_checked(&DHCLIENT_REQUEST[..]).unwrap();
    assert_eq!(p.op(), 1);
    assert_eq!((p.htype(), p.hlen(), p.hops()), (1, 6, 0));
    assert_eq!(p.xid(), Xid(0xf3c0_4541));
    assert_eq!((p.secs(), p.flags()), (0, 0));
    assert_eq!(p.chaddr()[..6], [0x00, 0x04, 0xf2, 0x44, 0x55, 0x66]);
    assert_eq!(p.cookie(), MAGIC_COOKIE);
    assert_eq!(p.options()[..3], [53, 1, 3]);
    assert_eq!(p.sname().len(), 64);
    assert_eq!(p.file().len(), 128);
    assert_eq!(p.into_inner().len(), 300);
}

fn arb_ip() -> impl Strategy<Value = Ipv4Addr> {
    any::<u32>().prop_map(Ipv4Addr::from)
}

fn arb_text(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(1u8..=255, 0..=max)
}

prop_compose! {
    fn arb_repr()(
        op in prop_oneof![Just(Op::Request), Just(Op::Reply)],
        hops in any::<u8>(),
        xid in any::<u32>(),
        secs in any::<u16>(),
        broadcast in any::<bool>(),
        addrs in (arb_ip(), arb_ip(), arb_ip(), arb_ip()),
        mac in any::<[u8; 6]>(),
        sname in arb_text(SNAME_LEN),
        file in arb_text(FILE_LEN),
        kind in any::<u8>(),
        options in prop::collection::btree_map(
            (1u8..=254).prop_filter("encoder-owned", |c| *c != code::OVERLOAD && *c != code::MESSAGE_TYPE),
            prop::collection::vec(any::<u8>(), 0..300),
            0..8,
        ),
    ) -> Repr<'static> {
        Repr {
            op, hops, xid: Xid(xid), secs, broadcast,
            ciaddr: addrs.0, yiaddr: addrs.1, siaddr: addrs.2, giaddr: addrs.3,
            chaddr: Mac(mac),
            sname: Cow::Owned(sname),
            file: Cow::Owned(file),
            message_type: MessageType::from(kind),
            options: options.into_iter().map(|(c, v)| DhcpOption::new(c, v)).collect(),
        }
    }
}

proptest! {
    #[test]
    fn parse_emit_round_trip(r in arb_repr()) {
        prop_assume!(r.buffer_len() <= MAX_DATAGRAM);
        let bytes = r.to_vec(MAX_DATAGRAM).unwrap();
        prop_assert_eq!(bytes.len(), r.buffer_len());
        let back = Repr::parse_bytes(&bytes).unwrap();
        prop_assert_eq!(&back, &r);
    }

    #[test]
    fn overloaded_round_trip_keeps_every_option(r in arb_repr(), max in MIN_MAX_MESSAGE..MAX_DATAGRAM) {
        let Ok(bytes) = r.to_vec(max) else {
            prop_assert!(r.buffer_len() > max);
            return Ok(());
        };
        prop_assert!(bytes.len() <= max.max(BOOTP_MIN_LEN));
        let mut back = Repr::parse_bytes(&bytes).unwrap();
        back.options.sort_by_key(|o| o.code);
        let mut want = r.clone();
        if r.buffer_len() > max {
            // Overloaded: the areas that carried options read back empty.
            back.sname = want.sname.clone();
            back.file = want.file.clone();
        }
        want.options.sort_by_key(|o| o.code);
        prop_assert_eq!(back, want);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..700)) {
        let mut b = request(&[]);
        b.truncate(bytes.len().min(MIN_LEN));
        b.extend_from_slice(&bytes);
        if let Ok(r) = Repr::parse_bytes(&b)
            && let Ok(out) = r.to_vec(MAX_DATAGRAM)
        {
            prop_assert_eq!(Repr::parse_bytes(&out).unwrap(), r);
        }
    }
}

#[test]
fn length_boundaries_and_flags() {
    let mut b = request(&[]);
    assert_eq!(b.len(), MIN_LEN);
    // Header and cookie only: it parses as far as the missing message type.
    assert_eq!(Repr::parse_bytes(&b), Err(Error::MissingMessageType));
    assert!(matches!(
        Repr::parse_bytes(&b[..HEADER_LEN]),
        Err(Error::Truncated {
            field: "magic cookie",
            ..
        })
    ));
    b[10] = 0x80;
    let p = Packet::new_checked(&b[..]).unwrap();
    assert_eq!(p.flags(), 0x8000);
    b[10] = 0x00;
    b[11] = 0x01;
    b[9] = 0x55;
    let p = Packet::new_checked(&b[..]).unwrap();
    assert_eq!((p.flags(), p.secs()), (0x0001, 0x0055));
}
