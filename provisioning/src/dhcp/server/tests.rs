//! Scenario tests at explicit times: each sends a client's message and checks the reply.

use std::borrow::Cow;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::dhcp::wire::{DhcpOption, MessageType, Op, Repr, Xid, code};

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

fn mac(n: u8) -> Mac {
    Mac([0x02, 0, 0, 0, 0, n])
}

const SERVER: &str = "10.0.0.1";
const T0: UnixTime = UnixTime(1_000_000);
const BCAST: SocketAddrV4 = SocketAddrV4::new(Ipv4Addr::BROADCAST, 68);

fn subnet() -> Subnet {
    Subnet::new(ip("10.0.0.0"), 24)
        .unwrap()
        .range(ip("10.0.0.100"), ip("10.0.0.109"))
        .unwrap()
        .exclude(ip("10.0.0.105"), ip("10.0.0.105"))
        .unwrap()
        .options(Options {
            lease_time: Some(Duration::from_secs(1000)),
            routers: vec![ip("10.0.0.1")],
            dns: vec![ip("10.0.0.2"), ip("10.0.0.3")],
            domain: Some("phones.lan".into()),
            ntp: vec![ip("10.0.0.4")],
            tftp_server: Some("10.0.0.1".into()),
            ..Options::default()
        })
        .unwrap()
}

fn config() -> Config {
    let mut c = Config::default();
    c.subnet(subnet()).unwrap();
    c.subnet(
        Subnet::new(ip("10.9.0.0"), 24)
            .unwrap()
            .range(ip("10.9.0.10"), ip("10.9.0.20"))
            .unwrap(),
    )
    .unwrap();
    c.reservation(Reservation {
        mac: mac(200),
        ip: ip("10.0.0.50"),
        hostname: Some("lobby".into()),
    })
    .unwrap();
    c.vendor(VendorRule {
        matches: VendorMatch::VendorClass("Polycom".into()),
        options: Options {
            provisioning_url: Some("http://10.0.0.1/prov".into()),
            ..Options::default()
        },
    })
    .unwrap();
    c.vendor(VendorRule {
        matches: VendorMatch::MacPrefix(vec![0x00, 0x1b, 0x54]),
        options: Options {
            cisco_tftp: vec![ip("10.0.0.1"), ip("10.0.0.9")],
            boot_file: Some("SEPDEFAULT.cnf.xml".into()),
            ..Options::default()
        },
    })
    .unwrap();
    c
}

fn server() -> Server {
    Server::new(config(), ip(SERVER), []).unwrap()
}

/// A client's message, built field by field.
#[derive(Clone)]
struct Msg {
    repr: Repr<'static>,
}

impl Msg {
    fn new(kind: MessageType, mac: Mac) -> Self {
        Self {
            repr: Repr {
                op: Op::Request,
                hops: 0,
                xid: Xid(u32::from(mac.0[5]) << 8 | 0x42),
                secs: 0,
                broadcast: false,
                ciaddr: Ipv4Addr::UNSPECIFIED,
                yiaddr: Ipv4Addr::UNSPECIFIED,
                siaddr: Ipv4Addr::UNSPECIFIED,
                giaddr: Ipv4Addr::UNSPECIFIED,
                chaddr: mac,
                sname: Cow::Borrowed(b""),
                file: Cow::Borrowed(b""),
                message_type: kind,
                options: Vec::new(),
            },
        }
    }

    fn opt(mut self, code: u8, data: &[u8]) -> Self {
        self.repr.options.push(DhcpOption::new(code, data.to_vec()));
        self
    }

    fn requested(self, a: Ipv4Addr) -> Self {
        self.opt(code::REQUESTED_IP, &a.octets())
    }

    fn server_id(self, a: Ipv4Addr) -> Self {
        self.opt(code::SERVER_ID, &a.octets())
    }

    fn ciaddr(mut self, a: Ipv4Addr) -> Self {
        self.repr.ciaddr = a;
        self
    }

    fn giaddr(mut self, a: Ipv4Addr) -> Self {
        self.repr.giaddr = a;
        self
    }

    fn bytes(&self) -> Vec<u8> {
        self.repr.to_vec(1500).unwrap()
    }
}

/// Sends `msg` at `now` and returns the one reply, parsed (owned), with its transmit.
fn exchange(s: &mut Server, now: UnixTime, msg: &Msg) -> Option<(Repr<'static>, Transmit)> {
    let from = SocketAddrV4::new(
        if msg.repr.giaddr.is_unspecified() {
            msg.repr.ciaddr
        } else {
            msg.repr.giaddr
        },
        if msg.repr.giaddr.is_unspecified() {
            68
        } else {
            67
        },
    );
    s.handle_datagram(now, from, &msg.bytes());
    let t = s.poll_transmit()?;
    assert!(s.poll_transmit().is_none(), "one reply per request");
    s.check_invariants().unwrap();
    let repr = Repr::parse_bytes(&t.payload).unwrap();
    let repr = Repr {
        sname: Cow::Owned(repr.sname.into_owned()),
        file: Cow::Owned(repr.file.into_owned()),
        options: repr
            .options
            .into_iter()
            .map(|o| DhcpOption::new(o.code, o.data.into_owned()))
            .collect(),
        ..repr
    };
    Some((repr, t))
}

/// DISCOVER then REQUEST (selecting): the address bound.
fn dora(s: &mut Server, now: UnixTime, m: Mac) -> Ipv4Addr {
    let (offer, _) = exchange(s, now, &Msg::new(MessageType::Discover, m)).unwrap();
    assert_eq!(offer.message_type, MessageType::Offer);
    let req = Msg::new(MessageType::Request, m)
        .requested(offer.yiaddr)
        .server_id(ip(SERVER));
    let (ack, t) = exchange(s, now, &req).unwrap();
    assert_eq!(ack.message_type, MessageType::Ack);
    assert_eq!(t.lease.as_ref().unwrap().ip, ack.yiaddr);
    ack.yiaddr
}

fn codes(r: &Repr<'_>) -> Vec<u8> {
    r.options.iter().map(|o| o.code).collect()
}

#[test]
fn discover_request_ack() {
    let mut s = server();
    let (offer, t) = exchange(
        &mut s,
        T0,
        &Msg::new(MessageType::Discover, mac(1))
            .opt(code::PARAMETER_REQUEST_LIST, &[6, 1, 3, 15, 42]),
    )
    .unwrap();
    assert_eq!(offer.op, Op::Reply);
    assert_eq!(offer.message_type, MessageType::Offer);
    assert_eq!(offer.yiaddr, ip("10.0.0.100"));
    assert_eq!(offer.xid, Xid(0x142));
    assert_eq!(offer.chaddr, mac(1));
    assert_eq!(offer.siaddr, ip("10.0.0.1"));
    assert_eq!((t.destination, t.broadcast, t.lease), (BCAST, true, None));
    // Server id and times first, then 55's order, then the unasked phone option (66).
    assert_eq!(codes(&offer), vec![54, 51, 58, 59, 6, 1, 3, 15, 42, 66]);
    assert_eq!(offer.server_id(), Some(ip(SERVER)));
    assert_eq!(offer.lease_time(), Some(1000));
    assert_eq!(offer.option(58).unwrap().as_u32(), Some(500));
    assert_eq!(offer.option(59).unwrap().as_u32(), Some(875));
    assert_eq!(
        offer.option(1).unwrap().as_ipv4(),
        Some(ip("255.255.255.0"))
    );
    assert_eq!(
        offer.option(6).unwrap().as_ipv4_list(),
        Some(vec![ip("10.0.0.2"), ip("10.0.0.3")])
    );
    assert_eq!(&*offer.option(15).unwrap().data, b"phones.lan");
    // 66 is a string, never an address, and has no NUL.
    assert_eq!(&*offer.option(66).unwrap().data, b"10.0.0.1");
    assert_eq!(s.poll_timeout(), Some(T0.plus_secs(30)));

    let now = T0.plus_secs(2);
    let req = Msg::new(MessageType::Request, mac(1))
        .requested(offer.yiaddr)
        .server_id(ip(SERVER))
        .opt(code::HOST_NAME, b"desk-1")
        .opt(code::VENDOR_CLASS, b"acme");
    let (ack, t) = exchange(&mut s, now, &req).unwrap();
    assert_eq!(ack.message_type, MessageType::Ack);
    assert_eq!(ack.yiaddr, ip("10.0.0.100"));
    assert_eq!(ack.ciaddr, Ipv4Addr::UNSPECIFIED);
    let lease = Lease {
        mac: mac(1),
        ip: ip("10.0.0.100"),
        expires: now.plus_secs(1000),
        state: LeaseState::Bound,
        hostname: Some("desk-1".into()),
        vendor_class: Some("acme".into()),
    };
    assert_eq!(t.lease, Some(lease.clone()));
    assert_eq!(s.leases().cloned().collect::<Vec<_>>(), vec![lease]);
    assert_eq!(
        s.poll_event(),
        Some(Event::DeviceSeen {
            mac: mac(1),
            vendor_class: None,
            ip: Some(ip("10.0.0.100"))
        })
    );
    assert_eq!(s.poll_event(), None, "a device is seen once");
    assert_eq!((s.stats().offers, s.stats().acks), (1, 1));
    assert_eq!(s.poll_timeout(), Some(now.plus_secs(1000)));
}

#[test]
fn addresses_come_from_the_pool_in_order_skipping_exclusions() {
    let mut s = server();
    let got: Vec<Ipv4Addr> = (1..=9).map(|n| dora(&mut s, T0, mac(n))).collect();
    let want: Vec<Ipv4Addr> = [100, 101, 102, 103, 104, 106, 107, 108, 109]
        .iter()
        .map(|&n| Ipv4Addr::new(10, 0, 0, n))
        .collect();
    assert_eq!(got, want);
    // Exhausted: counted, no reply.
    assert!(exchange(&mut s, T0, &Msg::new(MessageType::Discover, mac(10))).is_none());
    assert_eq!(s.stats().dropped_pool_exhausted, 1);
    // A lease expires: its address is free again, for anyone.
    let later = T0.plus_secs(1000);
    assert_eq!(dora(&mut s, later, mac(10)), ip("10.0.0.100"));
    assert_eq!(s.stats().expired, 9);
}

#[test]
fn a_client_gets_its_previous_address_back() {
    let mut s = server();
    let a = dora(&mut s, T0, mac(1));
    let b = dora(&mut s, T0, mac(2));
    assert_ne!(a, b);
    // Released: the address stays free but keeps its affinity.
    let rel = Msg::new(MessageType::Release, mac(1))
        .ciaddr(a)
        .server_id(ip(SERVER));
    assert!(exchange(&mut s, T0.plus_secs(5), &rel).is_none());
    assert_eq!(s.stats().releases, 1);
    let _ = s.poll_event();
    let _ = s.poll_event();
    match s.poll_event() {
        Some(Event::LeaseChanged(l)) => {
            assert_eq!(
                (l.ip, l.state, l.expires),
                (a, LeaseState::Released, T0.plus_secs(5))
            );
        }
        other => panic!("{other:?}"),
    }
    // A newcomer gets a never-used address, not the released one.
    assert_eq!(dora(&mut s, T0.plus_secs(6), mac(3)), ip("10.0.0.102"));
    assert_eq!(dora(&mut s, T0.plus_secs(7), mac(1)), a);
    // Renewing and rediscovering while bound keep the address too.
    assert_eq!(dora(&mut s, T0.plus_secs(8), mac(2)), b);
}

#[test]
fn the_requested_address_is_given_when_free() {
    let mut s = server();
    let d = Msg::new(MessageType::Discover, mac(1)).requested(ip("10.0.0.107"));
    assert_eq!(exchange(&mut s, T0, &d).unwrap().0.yiaddr, ip("10.0.0.107"));
    // Held by mac 1's offer: mac 2 gets the next free one instead.
    let d = Msg::new(MessageType::Discover, mac(2)).requested(ip("10.0.0.107"));
    assert_eq!(exchange(&mut s, T0, &d).unwrap().0.yiaddr, ip("10.0.0.100"));
    // Outside the pool, excluded, or reserved for another: not given.
    for bad in ["10.0.0.5", "10.0.0.105", "10.0.0.50", "192.168.1.1"] {
        let d = Msg::new(MessageType::Discover, mac(3)).requested(ip(bad));
        let got = exchange(&mut s, T0, &d).unwrap().0.yiaddr;
        assert_eq!(got, ip("10.0.0.101"), "{bad}");
    }
    // A SELECTING request for an address held by another: NAK, broadcast.
    let r = Msg::new(MessageType::Request, mac(3))
        .requested(ip("10.0.0.107"))
        .server_id(ip(SERVER));
    let (nak, t) = exchange(&mut s, T0, &r).unwrap();
    assert_eq!(nak.message_type, MessageType::Nak);
    assert_eq!(nak.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(codes(&nak), vec![54]);
    assert_eq!((t.destination, t.broadcast, t.lease), (BCAST, true, None));
    assert_eq!(s.stats().naks, 1);
}

#[test]
fn reservations_come_first_and_can_change() {
    let mut s = server();
    let d = Msg::new(MessageType::Discover, mac(200)).opt(code::PARAMETER_REQUEST_LIST, &[12]);
    let (offer, _) = exchange(&mut s, T0, &d).unwrap();
    assert_eq!(offer.yiaddr, ip("10.0.0.50"));
    let r = Msg::new(MessageType::Request, mac(200))
        .requested(ip("10.0.0.50"))
        .server_id(ip(SERVER))
        .opt(code::PARAMETER_REQUEST_LIST, &[12]);
    let (ack, _) = exchange(&mut s, T0, &r).unwrap();
    assert_eq!(&*ack.option(code::HOST_NAME).unwrap().data, b"lobby");
    // A new reservation inside the pool: that address goes to no one else.
    s.set_reservations(vec![
        Reservation {
            mac: mac(201),
            ip: ip("10.0.0.100"),
            hostname: None,
        },
        Reservation {
            mac: mac(202),
            ip: ip("172.16.0.1"),
            hostname: None,
        },
    ]);
    assert_eq!(dora(&mut s, T0, mac(1)), ip("10.0.0.101"));
    assert_eq!(dora(&mut s, T0, mac(201)), ip("10.0.0.100"));
    // mac 200 lost its reservation: its address, outside the pool, is given to no one now.
    assert_eq!(dora(&mut s, T0.plus_secs(1), mac(200)), ip("10.0.0.102"));
    let reboot = Msg::new(MessageType::Request, mac(200)).requested(ip("10.0.0.50"));
    let (nak, _) = exchange(&mut s, T0.plus_secs(1), &reboot).unwrap();
    assert_eq!(nak.message_type, MessageType::Nak);
}

#[test]
fn selecting_another_server_forgets_our_offer() {
    let mut s = server();
    let (offer, _) = exchange(&mut s, T0, &Msg::new(MessageType::Discover, mac(1))).unwrap();
    let r = Msg::new(MessageType::Request, mac(1))
        .requested(offer.yiaddr)
        .server_id(ip("10.0.0.254"));
    assert!(exchange(&mut s, T0, &r).is_none());
    assert_eq!(s.stats().dropped_other_server, 1);
    // The address is free again at once: the next client gets it.
    assert_eq!(dora(&mut s, T0, mac(2)), ip("10.0.0.101"));
    assert_eq!(s.addresses.held_count(T0), 1);
}

#[test]
fn init_reboot() {
    let mut s = server();
    let a = dora(&mut s, T0, mac(1));
    let reboot = |m: Mac, want: Ipv4Addr| Msg::new(MessageType::Request, m).requested(want);
    // Known client, right address: ACK.
    let (ack, _) = exchange(&mut s, T0.plus_secs(10), &reboot(mac(1), a)).unwrap();
    assert_eq!(ack.message_type, MessageType::Ack);
    // Known client, wrong address, or another link's address: NAK.
    let (nak, _) = exchange(&mut s, T0, &reboot(mac(1), ip("10.0.0.107"))).unwrap();
    assert_eq!(nak.message_type, MessageType::Nak);
    let (nak, _) = exchange(&mut s, T0, &reboot(mac(2), ip("192.168.7.7"))).unwrap();
    assert_eq!(nak.message_type, MessageType::Nak);
    // Unknown client asking for someone's address: NAK; for a free one: silence.
    let (nak, _) = exchange(&mut s, T0, &reboot(mac(2), a)).unwrap();
    assert_eq!(nak.message_type, MessageType::Nak);
    assert!(exchange(&mut s, T0, &reboot(mac(2), ip("10.0.0.107"))).is_none());
    assert_eq!(s.stats().dropped_unknown_client, 1);
    // A reserved client asking for another address: NAK.
    let (nak, _) = exchange(&mut s, T0, &reboot(mac(200), ip("10.0.0.107"))).unwrap();
    assert_eq!(nak.message_type, MessageType::Nak);
    assert_eq!(s.stats().naks, 4);
}

#[test]
fn renewing_and_rebinding_extend_the_lease() {
    let mut s = server();
    let a = dora(&mut s, T0, mac(1));
    let now = T0.plus_secs(500);
    let renew = Msg::new(MessageType::Request, mac(1)).ciaddr(a);
    let (ack, t) = exchange(&mut s, now, &renew).unwrap();
    assert_eq!(
        (ack.message_type, ack.yiaddr, ack.ciaddr),
        (MessageType::Ack, a, a)
    );
    assert_eq!(
        (t.destination, t.broadcast),
        (SocketAddrV4::new(a, 68), false)
    );
    assert_eq!(t.lease.unwrap().expires, now.plus_secs(1000));
    // Rebinding after T2, through a relay this time is the same request broadcast.
    let now = T0.plus_secs(1400);
    let (ack, _) = exchange(&mut s, now, &renew).unwrap();
    assert_eq!(ack.message_type, MessageType::Ack);
    // Renewing someone else's address: NAK. An unknown client on a free one: silence.
    let (nak, t) = exchange(
        &mut s,
        now,
        &Msg::new(MessageType::Request, mac(2)).ciaddr(a),
    )
    .unwrap();
    assert_eq!(nak.message_type, MessageType::Nak);
    assert!(t.broadcast);
    let quiet = Msg::new(MessageType::Request, mac(2)).ciaddr(ip("10.0.0.108"));
    assert!(exchange(&mut s, now, &quiet).is_none());
    // No address at all: dropped.
    assert!(exchange(&mut s, now, &Msg::new(MessageType::Request, mac(2))).is_none());
    assert_eq!(s.stats().dropped_no_address, 1);
}

#[test]
fn a_declined_address_is_quarantined() {
    let mut s = server();
    let a = dora(&mut s, T0, mac(1));
    let _ = s.poll_event();
    let decline = Msg::new(MessageType::Decline, mac(1))
        .requested(a)
        .server_id(ip(SERVER));
    assert!(exchange(&mut s, T0.plus_secs(1), &decline).is_none());
    match s.poll_event() {
        Some(Event::LeaseChanged(l)) => {
            assert_eq!((l.ip, l.state), (a, LeaseState::Declined));
            assert_eq!(l.expires, T0.plus_secs(601));
        }
        other => panic!("{other:?}"),
    }
    // The client starts over and gets another address; so does everyone else.
    assert_ne!(dora(&mut s, T0.plus_secs(2), mac(1)), a);
    for n in 2..=8 {
        assert_ne!(dora(&mut s, T0.plus_secs(2), mac(n)), a);
    }
    assert!(
        exchange(
            &mut s,
            T0.plus_secs(2),
            &Msg::new(MessageType::Discover, mac(9))
        )
        .is_none()
    );
    // After the quarantine it is given again.
    assert_eq!(dora(&mut s, T0.plus_secs(601), mac(9)), a);
    // A decline for a lease one does not have, or to another server: dropped.
    let bad = Msg::new(MessageType::Decline, mac(2))
        .requested(a)
        .server_id(ip(SERVER));
    assert!(exchange(&mut s, T0.plus_secs(602), &bad).is_none());
    assert_eq!(s.stats().dropped_no_lease, 1);
    let other = Msg::new(MessageType::Decline, mac(9))
        .requested(a)
        .server_id(ip("10.0.0.9"));
    assert!(exchange(&mut s, T0.plus_secs(602), &other).is_none());
    assert_eq!(s.stats().dropped_other_server, 1);
}

#[test]
fn inform_gets_options_only() {
    let mut s = server();
    let inform = Msg::new(MessageType::Inform, mac(1))
        .ciaddr(ip("10.0.0.77"))
        .opt(code::PARAMETER_REQUEST_LIST, &[3, 6]);
    let (ack, t) = exchange(&mut s, T0, &inform).unwrap();
    assert_eq!(ack.message_type, MessageType::Ack);
    assert_eq!(ack.yiaddr, Ipv4Addr::UNSPECIFIED);
    assert_eq!(ack.ciaddr, ip("10.0.0.77"));
    assert_eq!(codes(&ack), vec![54, 3, 6, 1, 66]);
    assert_eq!(
        (t.destination, t.broadcast, t.lease),
        (SocketAddrV4::new(ip("10.0.0.77"), 68), false, None)
    );
    assert_eq!(s.leases().count(), 0);
    assert_eq!(s.stats().informs, 1);
}

#[test]
fn relayed_clients_use_the_relays_subnet_and_get_option_82_back() {
    let mut s = server();
    let info = [1, 3, b'p', b'1', b'7', 2, 2, 0xab, 0xcd];
    let d = Msg::new(MessageType::Discover, mac(1))
        .giaddr(ip("10.9.0.1"))
        .opt(code::RELAY_AGENT_INFO, &info);
    let (offer, t) = exchange(&mut s, T0, &d).unwrap();
    assert_eq!(offer.yiaddr, ip("10.9.0.10"));
    assert_eq!(offer.giaddr, ip("10.9.0.1"));
    assert_eq!(
        (t.destination, t.broadcast),
        (SocketAddrV4::new(ip("10.9.0.1"), 67), false)
    );
    assert_eq!(
        offer.options.last().unwrap(),
        &DhcpOption::new(82, info.to_vec())
    );
    assert_eq!(
        offer.option(1).unwrap().as_ipv4(),
        Some(ip("255.255.255.0"))
    );
    // A NAK through the relay asks it to broadcast, and echoes 82 too.
    let r = Msg::new(MessageType::Request, mac(1))
        .giaddr(ip("10.9.0.1"))
        .requested(ip("10.0.0.100"))
        .opt(code::RELAY_AGENT_INFO, &info);
    let (nak, t) = exchange(&mut s, T0, &r).unwrap();
    assert_eq!(nak.message_type, MessageType::Nak);
    assert!(nak.broadcast);
    assert!(!t.broadcast);
    assert_eq!(codes(&nak), vec![54, 82]);
    // A relay on no subnet of ours: dropped.
    let d = Msg::new(MessageType::Discover, mac(2)).giaddr(ip("172.20.0.1"));
    assert!(exchange(&mut s, T0, &d).is_none());
    assert_eq!(s.stats().dropped_no_subnet, 1);
}

#[test]
fn vendor_rules_add_the_phone_options_unasked() {
    let mut s = server();
    let d = Msg::new(MessageType::Discover, mac(1)).opt(code::VENDOR_CLASS, b"polycom-VVX-411");
    let (offer, _) = exchange(&mut s, T0, &d).unwrap();
    assert_eq!(codes(&offer), vec![54, 51, 58, 59, 1, 3, 66, 160]);
    assert_eq!(&*offer.option(160).unwrap().data, b"http://10.0.0.1/prov");
    let cisco = Mac([0x00, 0x1b, 0x54, 1, 2, 3]);
    let d = Msg::new(MessageType::Discover, cisco).opt(code::PARAMETER_REQUEST_LIST, &[150, 3]);
    let (offer, _) = exchange(&mut s, T0, &d).unwrap();
    assert_eq!(codes(&offer), vec![54, 51, 58, 59, 150, 3, 1, 66, 67]);
    assert_eq!(
        offer.option(150).unwrap().as_ipv4_list(),
        Some(vec![ip("10.0.0.1"), ip("10.0.0.9")])
    );
    assert_eq!(&*offer.file, b"SEPDEFAULT.cnf.xml");
    assert_eq!(&*offer.option(67).unwrap().data, b"SEPDEFAULT.cnf.xml");
    let event = (0..3).find_map(|_| match s.poll_event() {
        Some(Event::DeviceSeen {
            mac, vendor_class, ..
        }) if mac == Mac([0x00, 0x04, 0xf2, 0, 0, 0]) || mac.0[5] == 1 => Some(vendor_class),
        _ => None,
    });
    assert_eq!(event, Some(Some("polycom-VVX-411".into())));
}

#[test]
fn replies_fit_the_clients_maximum_size() {
    let mut c = config();
    c.subnets[0].options.vendor_specific = Some(vec![0x42; 250]);
    c.subnets[0].options.provisioning_url = Some("u".repeat(250));
    c.subnets[0].options.boot_file = Some("b".repeat(200));
    c.subnets[0].options.domain = Some("d".repeat(200));
    let mut s = Server::new(c, ip(SERVER), []).unwrap();
    let d = Msg::new(MessageType::Discover, mac(1))
        .opt(code::PARAMETER_REQUEST_LIST, &[15, 43])
        .opt(code::MAX_MESSAGE_SIZE, &576u16.to_be_bytes());
    let (offer, t) = exchange(&mut s, T0, &d).unwrap();
    assert!(t.payload.len() <= 548, "{}", t.payload.len());
    // The essential and the most wanted options survive; the least wanted are dropped.
    let got = codes(&offer);
    for c in [54, 51, 58, 59, 1, 15] {
        assert!(got.contains(&c), "{c} in {got:?}");
    }
    assert!(got.len() < 11, "{got:?}");
    // A client that takes 1500 bytes gets them all, without overload.
    let d = d.opt(code::MAX_MESSAGE_SIZE, &1500u16.to_be_bytes());
    let mut d2 = d.clone();
    d2.repr.options.retain(|o| o.code != code::MAX_MESSAGE_SIZE);
    let d2 = d2.opt(code::MAX_MESSAGE_SIZE, &1500u16.to_be_bytes());
    let (offer, t) = exchange(&mut s, T0, &d2).unwrap();
    assert!(t.payload.len() > 548 && t.payload.len() <= 1472);
    assert_eq!(
        codes(&offer),
        vec![54, 51, 58, 59, 15, 43, 1, 3, 66, 67, 160]
    );
    // A claimed size below 576 is taken as 576.
    let mut d3 = d;
    d3.repr.options.retain(|o| o.code != code::MAX_MESSAGE_SIZE);
    let d3 = d3.opt(code::MAX_MESSAGE_SIZE, &100u16.to_be_bytes());
    let (_, t) = exchange(&mut s, T0, &d3).unwrap();
    assert!(t.payload.len() <= 548);
}

#[test]
fn new_clients_are_rate_limited_per_link_but_bound_ones_never() {
    let mut c = config();
    c.new_clients(RateLimit {
        per_second: 1,
        burst: 3,
    });
    let mut s = Server::new(c, ip(SERVER), []).unwrap();
    for n in 1..=3 {
        dora(&mut s, T0, mac(n));
    }
    // The fourth new MAC in the same second is refused, counted.
    assert!(exchange(&mut s, T0, &Msg::new(MessageType::Discover, mac(4))).is_none());
    assert_eq!(s.stats().rate_limited, 1);
    // Bound and reserved clients are not held back.
    for n in [1, 2, 3, 200] {
        assert!(exchange(&mut s, T0, &Msg::new(MessageType::Discover, mac(n))).is_some());
    }
    // Another relay (or circuit) has its own bucket.
    let relayed = Msg::new(MessageType::Discover, mac(5))
        .giaddr(ip("10.9.0.1"))
        .opt(code::RELAY_AGENT_INFO, &[1, 1, 7]);
    assert!(exchange(&mut s, T0, &relayed).is_some());
    // A second later one more new client may come.
    assert!(
        exchange(
            &mut s,
            T0.plus_secs(1),
            &Msg::new(MessageType::Discover, mac(4))
        )
        .is_some()
    );
    assert!(
        exchange(
            &mut s,
            T0.plus_secs(1),
            &Msg::new(MessageType::Discover, mac(6))
        )
        .is_none()
    );
}

#[test]
fn hostile_datagrams_are_counted_drops() {
    let mut s = server();
    let good = Msg::new(MessageType::Discover, mac(1)).bytes();
    let from = SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 68);
    let mut cases: Vec<(Vec<u8>, &str)> = vec![
        (good[..100].to_vec(), "dropped_truncated"),
        (vec![0; 1501], "dropped_oversize"),
        (
            {
                let mut b = good.clone();
                b[236] = 0;
                b
            },
            "dropped_bad_cookie",
        ),
        (
            {
                let mut b = good.clone();
                b[0] = 2;
                b
            },
            "dropped_not_request",
        ),
        (
            {
                let mut b = good.clone();
                b[2] = 8;
                b
            },
            "dropped_hardware",
        ),
        (
            {
                let mut b = good.clone();
                b[240] = 12;
                b
            },
            "dropped_no_message_type",
        ),
        (
            {
                let mut b = good.clone();
                b[243..246].copy_from_slice(&[52, 1, 9]);
                b
            },
            "dropped_bad_overload",
        ),
        (
            Msg::new(MessageType::Offer, mac(1)).bytes(),
            "dropped_not_request",
        ),
        (
            Msg::new(MessageType::Other(13), mac(1)).bytes(),
            "dropped_not_request",
        ),
        (
            {
                let mut b = good.clone();
                b[243..246].copy_from_slice(&[12, 200, 0]);
                b
            },
            "dropped_truncated",
        ),
    ];
    cases.push((Vec::new(), "dropped_truncated"));
    let patched = |at: usize, bytes: &[u8]| {
        let mut b = good.clone();
        b[at..at + bytes.len()].copy_from_slice(bytes);
        b
    };
    // op neither request nor reply; a message type of length 2.
    cases.push((patched(0, &[3]), "dropped_not_request"));
    cases.push((patched(241, &[2, 1, 1]), "dropped_no_message_type"));
    for (bytes, counter) in &cases {
        let before = s.stats().counters();
        s.handle_datagram(T0, from, bytes);
        assert!(s.poll_transmit().is_none(), "{counter}");
        let after = s.stats().counters();
        let changed: Vec<&str> = before
            .iter()
            .zip(&after)
            .filter(|(b, a)| b.1 != a.1 && a.0 != "received")
            .map(|(_, a)| a.0)
            .collect();
        assert_eq!(changed, vec![*counter]);
    }
    assert_eq!(s.stats().received, cases.len() as u64);
    assert_eq!(s.stats().counters().len(), STATS_COUNT);
}

#[test]
fn leases_survive_a_restart() {
    let mut s = server();
    let a = dora(&mut s, T0, mac(1));
    let b = dora(&mut s, T0, mac(2));
    let rel = Msg::new(MessageType::Release, mac(2))
        .ciaddr(b)
        .server_id(ip(SERVER));
    assert!(exchange(&mut s, T0, &rel).is_none());
    let kept: Vec<Lease> = s.leases().cloned().collect();
    // A restart: the held address goes to no one else; the released one is given last.
    let mut s = Server::new(config(), ip(SERVER), kept.clone()).unwrap();
    let others: Vec<Ipv4Addr> = (3..=9)
        .map(|n| dora(&mut s, T0.plus_secs(1), mac(n)))
        .collect();
    assert!(!others.contains(&a) && !others.contains(&b));
    assert_eq!(dora(&mut s, T0.plus_secs(1), mac(10)), b);
    let d = Msg::new(MessageType::Discover, mac(11));
    assert!(exchange(&mut s, T0.plus_secs(1), &d).is_none());
    assert_eq!(dora(&mut s, T0.plus_secs(2), mac(1)), a);
    // Restarted after the lease ran out: the address is free, and its MAC gets it first.
    let mut s = Server::new(config(), ip(SERVER), kept).unwrap();
    assert_eq!(dora(&mut s, T0.plus_secs(5000), mac(1)), a);
    assert_eq!(dora(&mut s, T0.plus_secs(5000), mac(3)), ip("10.0.0.102"));
}

#[test]
fn timers_free_offers_and_time_never_goes_back() {
    let mut s = server();
    let (offer, _) = exchange(&mut s, T0, &Msg::new(MessageType::Discover, mac(1))).unwrap();
    assert_eq!(s.poll_timeout(), Some(T0.plus_secs(30)));
    s.handle_timeout(T0.plus_secs(30));
    assert_eq!(s.poll_timeout(), None);
    assert_eq!(s.addresses.held_count(T0.plus_secs(30)), 0);
    // The offered address went to the freed set: a newcomer gets a fresh one first.
    assert_eq!(dora(&mut s, T0.plus_secs(31), mac(2)), ip("10.0.0.101"));
    // An expired offer leaves no affinity. An input dated before the last one counts as
    // happening at the last one: the new offer's hold runs from T0 + 31.
    let (again, _) = exchange(&mut s, T0, &Msg::new(MessageType::Discover, mac(1))).unwrap();
    assert_eq!(again.yiaddr, ip("10.0.0.102"));
    assert_eq!(offer.yiaddr, ip("10.0.0.100"));
    assert_eq!(s.poll_timeout(), Some(T0.plus_secs(61)));
}

#[test]
fn config_errors_reach_new() {
    let mut c = config();
    c.subnets.push(Subnet::new(ip("10.0.0.0"), 16).unwrap());
    assert!(matches!(
        Server::new(c, ip(SERVER), []),
        Err(ConfigError::OverlappingSubnets(..))
    ));
}

#[derive(Debug, Clone)]
enum Step {
    Discover(u8, Option<u8>),
    Select(u8, u8, bool),
    Reboot(u8, u8),
    Renew(u8, u8),
    Release(u8, u8),
    Decline(u8, u8),
    Wait(u16),
    Restart,
}

fn arb_step() -> impl Strategy<Value = Step> {
    let m = 0u8..12;
    let a = 95u8..115;
    prop_oneof![
        (m.clone(), prop::option::of(a.clone())).prop_map(|(m, a)| Step::Discover(m, a)),
        (m.clone(), a.clone(), any::<bool>()).prop_map(|(m, a, o)| Step::Select(m, a, o)),
        (m.clone(), a.clone()).prop_map(|(m, a)| Step::Reboot(m, a)),
        (m.clone(), a.clone()).prop_map(|(m, a)| Step::Renew(m, a)),
        (m.clone(), a.clone()).prop_map(|(m, a)| Step::Release(m, a)),
        (m, a).prop_map(|(m, a)| Step::Decline(m, a)),
        (0u16..1500).prop_map(Step::Wait),
        Just(Step::Restart),
    ]
}

proptest! {
    /// Whatever clients do, no two MACs are ever ACKed the same address for overlapping times,
    /// and the bookkeeping stays consistent, across restarts from the leases kept.
    #[test]
    fn never_two_bound_leases_on_one_address(steps in prop::collection::vec(arb_step(), 1..80)) {
        let mut s = server();
        let mut now = T0;
        // What the clients were told: ip -> (mac, until), ended by RELEASE or DECLINE.
        let mut granted: std::collections::HashMap<Ipv4Addr, (Mac, UnixTime)> = Default::default();
        for step in steps {
            let sid = ip(SERVER);
            let a = |n: u8| Ipv4Addr::new(10, 0, 0, n);
            let msg = match step {
                Step::Discover(m, r) => {
                    let d = Msg::new(MessageType::Discover, mac(m));
                    Some(match r { Some(r) => d.requested(a(r)), None => d })
                }
                Step::Select(m, r, ours) => Some(Msg::new(MessageType::Request, mac(m)).requested(a(r))
                    .server_id(if ours { sid } else { ip("10.0.0.254") })),
                Step::Reboot(m, r) => Some(Msg::new(MessageType::Request, mac(m)).requested(a(r))),
                Step::Renew(m, r) => Some(Msg::new(MessageType::Request, mac(m)).ciaddr(a(r))),
                Step::Release(m, r) => Some(Msg::new(MessageType::Release, mac(m)).ciaddr(a(r)).server_id(sid)),
                Step::Decline(m, r) => Some(Msg::new(MessageType::Decline, mac(m)).requested(a(r)).server_id(sid)),
                Step::Wait(secs) => { now = now.plus_secs(u64::from(secs)); s.handle_timeout(now); None }
                Step::Restart => {
                    let kept: Vec<Lease> = s.leases().cloned().collect();
                    s = Server::new(config(), sid, kept).unwrap();
                    None
                }
            };
            let Some(msg) = msg else { continue };
            s.handle_datagram(now, SocketAddrV4::new(msg.repr.ciaddr, 68), &msg.bytes());
            while let Some(t) = s.poll_transmit() {
                let r = Repr::parse_bytes(&t.payload).unwrap();
                if let Some(lease) = t.lease {
                    prop_assert_eq!(r.message_type, MessageType::Ack);
                    if let Some(&(other, until)) = granted.get(&lease.ip) {
                        prop_assert!(other == lease.mac || until <= now,
                            "{} given to {} while {} holds it until {:?}", lease.ip, lease.mac, other, until);
                    }
                    granted.retain(|_, (m, _)| *m != lease.mac);
                    granted.insert(lease.ip, (lease.mac, lease.expires));
                }
            }
            while let Some(e) = s.poll_event() {
                if let Event::LeaseChanged(l) = e && l.state != LeaseState::Bound {
                    if l.state == LeaseState::Declined {
                        // Quarantined: no one may have it until the quarantine ends.
                        granted.insert(l.ip, (Mac([0xff; 6]), l.expires));
                    } else {
                        granted.remove(&l.ip);
                    }
                }
            }
            s.check_invariants().map_err(TestCaseError::fail)?;
            let bound: Vec<&Lease> = s.leases().filter(|l| l.state == LeaseState::Bound && l.expires > now).collect();
            let mut ips: Vec<Ipv4Addr> = bound.iter().map(|l| l.ip).collect();
            ips.sort();
            ips.dedup();
            prop_assert_eq!(ips.len(), bound.len());
            for l in &bound {
                let pool = subnet();
                let in_pool = pool.ranges.iter().any(|&(x, y)| x <= l.ip && l.ip <= y) && l.ip != a(105);
                prop_assert!(in_pool || l.ip == ip("10.0.0.50"), "{} outside the pool", l.ip);
            }
        }
    }
}

#[test]
fn the_pool_size_counts_ranges_less_exclusions() {
    assert_eq!(server().addresses.pool_size(), 9 + 11);
    let mut c = Config::default();
    c.subnet(
        Subnet::new(ip("10.1.0.0"), 16)
            .unwrap()
            .range(ip("10.1.0.10"), ip("10.1.0.20"))
            .unwrap()
            .range(ip("10.1.0.15"), ip("10.1.0.30"))
            .unwrap()
            .exclude(ip("10.1.0.1"), ip("10.1.0.12"))
            .unwrap()
            .exclude(ip("10.1.0.30"), ip("10.1.0.40"))
            .unwrap(),
    )
    .unwrap();
    let s = Server::new(c, ip("10.1.0.1"), []).unwrap();
    assert_eq!(s.addresses.pool_size(), 17);
}

#[test]
fn loading_keeps_the_latest_record_per_address_and_mac() {
    let lease = |m: u8, a: &str, expires: u64, state: LeaseState| Lease {
        mac: mac(m),
        ip: ip(a),
        expires: UnixTime(T0.0 + expires),
        state,
        hostname: None,
        vendor_class: None,
    };
    let kept = vec![
        // Two records for .100: the later one (mac 2) wins, in either order.
        lease(1, "10.0.0.100", 10, LeaseState::Bound),
        lease(2, "10.0.0.100", 500, LeaseState::Bound),
        lease(3, "10.0.0.101", 500, LeaseState::Bound),
        lease(3, "10.0.0.101", 10, LeaseState::Bound),
        // mac 4 has two addresses: its affinity goes to the later record.
        lease(4, "10.0.0.102", 20, LeaseState::Released),
        lease(4, "10.0.0.104", 30, LeaseState::Released),
        lease(5, "10.0.0.106", 40, LeaseState::Released),
        lease(5, "10.0.0.107", 35, LeaseState::Released),
        // Outside every subnet: ignored.
        lease(6, "192.168.0.1", 500, LeaseState::Bound),
    ];
    let mut s = Server::new(config(), ip(SERVER), kept).unwrap();
    s.check_invariants().unwrap();
    assert_eq!(s.leases().count(), 6);
    let now = T0.plus_secs(100);
    assert_eq!(dora(&mut s, now, mac(2)), ip("10.0.0.100"));
    assert_eq!(dora(&mut s, now, mac(3)), ip("10.0.0.101"));
    assert_eq!(dora(&mut s, now, mac(4)), ip("10.0.0.104"));
    assert_eq!(dora(&mut s, now, mac(5)), ip("10.0.0.106"));
    assert_eq!(dora(&mut s, now, mac(1)), ip("10.0.0.103"));
}

#[test]
fn an_address_unreserved_goes_back_to_the_pool() {
    let mut s = server();
    let reserve = |m: u8, a: &str| Reservation {
        mac: mac(m),
        ip: ip(a),
        hostname: None,
    };
    s.set_reservations(vec![reserve(100, "10.0.0.100"), reserve(101, "10.0.0.101")]);
    // Reserved in the pool: the pool gives the seven others, then runs dry.
    for n in 1..=7 {
        assert!(
            !["10.0.0.100", "10.0.0.101"].contains(&dora(&mut s, T0, mac(n)).to_string().as_str())
        );
    }
    assert!(exchange(&mut s, T0, &Msg::new(MessageType::Discover, mac(8))).is_none());
    // Repeated or outside every subnet: skipped; .101 is no longer reserved.
    s.set_reservations(vec![
        reserve(100, "10.0.0.100"),
        reserve(100, "10.0.0.60"),
        reserve(102, "10.0.0.100"),
        reserve(103, "172.16.0.1"),
    ]);
    assert_eq!(s.config.reservations.len(), 1);
    assert_eq!(dora(&mut s, T0, mac(8)), ip("10.0.0.101"));
    assert!(exchange(&mut s, T0, &Msg::new(MessageType::Discover, mac(9))).is_none());
    assert_eq!(dora(&mut s, T0, mac(100)), ip("10.0.0.100"));
}

#[test]
fn a_relayed_client_renewing_directly_is_served_from_its_subnet() {
    let mut s = server();
    let d = Msg::new(MessageType::Discover, mac(1)).giaddr(ip("10.9.0.1"));
    let (offer, _) = exchange(&mut s, T0, &d).unwrap();
    let r = Msg::new(MessageType::Request, mac(1))
        .giaddr(ip("10.9.0.1"))
        .requested(offer.yiaddr)
        .server_id(ip(SERVER));
    let (ack, _) = exchange(&mut s, T0, &r).unwrap();
    assert_eq!(ack.yiaddr, ip("10.9.0.10"));
    // Renewing: unicast straight to us, no relay; the subnet is found from ciaddr.
    let renew = Msg::new(MessageType::Request, mac(1)).ciaddr(ip("10.9.0.10"));
    let (ack, t) = exchange(&mut s, T0.plus_secs(500), &renew).unwrap();
    assert_eq!(ack.message_type, MessageType::Ack);
    assert_eq!(
        ack.option(code::ROUTERS),
        None,
        "the relayed subnet has no routers"
    );
    assert_eq!(t.destination, SocketAddrV4::new(ip("10.9.0.10"), 68));
}

#[test]
fn releases_and_informs_without_a_lease_or_an_address_are_dropped() {
    let mut s = server();
    let a = dora(&mut s, T0, mac(1));
    let rel = Msg::new(MessageType::Release, mac(2))
        .ciaddr(a)
        .server_id(ip(SERVER));
    assert!(exchange(&mut s, T0, &rel).is_none());
    assert_eq!((s.stats().dropped_no_lease, s.stats().releases), (1, 0));
    // An INFORM with neither ciaddr nor a source address: nowhere to answer.
    let inform = Msg::new(MessageType::Inform, mac(2));
    assert!(exchange(&mut s, T0, &inform).is_none());
    assert_eq!((s.stats().dropped_no_address, s.stats().informs), (1, 0));
    // With no ciaddr but a source address, the answer goes to the source.
    let from = SocketAddrV4::new(ip("10.0.0.66"), 68);
    s.handle_datagram(T0, from, &inform.bytes());
    let t = s.poll_transmit().unwrap();
    assert_eq!((t.destination, t.broadcast), (from, false));
    assert_eq!(s.stats().informs, 1);
}

#[test]
fn queues_are_bounded() {
    let mut c = config();
    c.new_clients(RateLimit {
        per_second: 0,
        burst: 0,
    });
    let mut s = Server::new(c, ip(SERVER), []).unwrap();
    let inform = Msg::new(MessageType::Inform, mac(1)).ciaddr(ip("10.0.0.66"));
    let bytes = inform.bytes();
    for _ in 0..MAX_QUEUED + 5 {
        s.handle_datagram(T0, SocketAddrV4::new(ip("10.0.0.66"), 68), &bytes);
    }
    assert_eq!(std::iter::from_fn(|| s.poll_transmit()).count(), MAX_QUEUED);
    assert_eq!(s.stats().informs, MAX_QUEUED as u64 + 5);
}

#[test]
fn broken_bookkeeping_is_reported() {
    let mut s = server();
    dora(&mut s, T0, mac(1));
    assert!(s.check_invariants().is_ok());
    s.addresses.by_mac.insert(mac(9), ip("10.0.0.100"));
    assert!(s.check_invariants().is_err());
}

#[test]
fn moving_to_another_address_releases_the_old_one() {
    let mut s = server();
    let a = dora(&mut s, T0, mac(1));
    while s.poll_event().is_some() {}
    let r = Msg::new(MessageType::Request, mac(1))
        .requested(ip("10.0.0.107"))
        .server_id(ip(SERVER));
    let (ack, _) = exchange(&mut s, T0.plus_secs(3), &r).unwrap();
    assert_eq!(ack.yiaddr, ip("10.0.0.107"));
    match s.poll_event() {
        Some(Event::LeaseChanged(l)) => {
            assert_eq!((l.mac, l.ip), (mac(1), a));
            assert_eq!(
                (l.state, l.expires),
                (LeaseState::Released, T0.plus_secs(3))
            );
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.leases().count(), 1);
}
