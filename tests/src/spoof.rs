//! Forged datagrams on loopback, as a host on a gateway's LAN could send them.

/// Sends `payload` to `to` in a UDP datagram whose source is `from`: an address of this host and
/// any port, even one another process holds (the gateway's own), as a host on the gateway's LAN
/// that forges the gateway's address can. A raw socket writes the UDP header (checksum 0: none,
/// RFC 768); it needs root (CAP_NET_RAW), as the end-to-end tests run. Loopback only.
pub fn spoof_udp(from: std::net::SocketAddr, to: std::net::SocketAddr, payload: &[u8]) {
    use socket2::{Domain, Protocol, SockAddr, Socket, Type};
    assert!(
        from.ip().is_loopback() && to.ip().is_loopback(),
        "loopback only"
    );
    let raw = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::UDP))
        .expect("a raw socket (the end-to-end tests run as root)");
    let len = u16::try_from(8 + payload.len()).expect("a datagram");
    let mut datagram = Vec::with_capacity(usize::from(len));
    datagram.extend_from_slice(&from.port().to_be_bytes());
    datagram.extend_from_slice(&to.port().to_be_bytes());
    datagram.extend_from_slice(&len.to_be_bytes());
    datagram.extend_from_slice(&[0, 0]);
    datagram.extend_from_slice(payload);
    let sent = raw
        .send_to(&datagram, &SockAddr::from(to))
        .expect("send the spoofed datagram");
    assert_eq!(sent, datagram.len());
}
