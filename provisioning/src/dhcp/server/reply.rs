//! Replies: which options go out and in what order (RFC 2131 §4.3.1, table 3), where they go
//! (§4.1), and fitting them into the client's maximum message size (RFC 2132 §9.10).

use std::borrow::Cow;
use std::net::{Ipv4Addr, SocketAddrV4};

use super::Options;
use crate::dhcp::wire::{
    DhcpOption, Error as WireError, MIN_MAX_MESSAGE, MessageType, Op, Repr, code,
};

/// The DHCP client port.
pub(super) const CLIENT_PORT: u16 = 68;
/// The DHCP server port (relays listen on it too).
pub(super) const SERVER_PORT: u16 = 67;
/// The default lease time when none is configured.
pub(super) const DEFAULT_LEASE_SECS: u32 = 3600;
/// The IP and UDP headers, which option 57 counts and our payload does not.
const IP_UDP_HEADERS: usize = 28;

/// Options sent even when the client did not ask: phones need them to find their files.
const PHONE_OPTIONS: [u8; 5] = [
    code::TFTP_SERVER,
    code::BOOT_FILE,
    code::CISCO_TFTP,
    code::PROVISIONING_URL,
    code::VENDOR_SPECIFIC,
];

/// Options never dropped to make a reply fit.
const ESSENTIAL: [u8; 6] = [
    code::SERVER_ID,
    code::LEASE_TIME,
    code::RENEWAL_TIME,
    code::REBINDING_TIME,
    code::SUBNET_MASK,
    code::RELAY_AGENT_INFO,
];

/// What a reply says besides its options.
pub(super) struct Reply<'a> {
    pub(super) kind: MessageType,
    pub(super) yiaddr: Ipv4Addr,
    pub(super) lease_secs: Option<u32>,
    pub(super) mask: Ipv4Addr,
    pub(super) options: &'a Options,
    pub(super) hostname: Option<&'a str>,
}

/// Where a reply to `req` goes (RFC 2131 §4.1): the relay, the client's address, or the
/// limited broadcast. A NAK through a relay asks it to broadcast. Returns the destination,
/// whether it is the limited broadcast, and the reply's broadcast flag.
pub(super) fn route(
    req: &Repr<'_>,
    nak: bool,
    fallback: Option<Ipv4Addr>,
) -> (SocketAddrV4, bool, bool) {
    let broadcast_addr = SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT);
    if !req.giaddr.is_unspecified() {
        return (
            SocketAddrV4::new(req.giaddr, SERVER_PORT),
            false,
            req.broadcast || nak,
        );
    }
    if nak {
        return (broadcast_addr, true, req.broadcast);
    }
    let unicast = Some(req.ciaddr)
        .filter(|a| !a.is_unspecified())
        .or(fallback.filter(|a| !a.is_unspecified()));
    match unicast {
        Some(ip) => (SocketAddrV4::new(ip, CLIENT_PORT), false, req.broadcast),
        None => (broadcast_addr, true, req.broadcast),
    }
}

/// The largest reply `req`'s sender accepts: its option 57 less the IP and UDP headers, never
/// below 548 bytes.
pub(super) fn max_reply_len(req: &Repr<'_>) -> usize {
    req.max_message_size()
        .map_or(MIN_MAX_MESSAGE, |m| {
            usize::from(m).saturating_sub(IP_UDP_HEADERS)
        })
        .max(MIN_MAX_MESSAGE)
}

fn t1_t2(lease: u32) -> (u32, u32) {
    let lease = u64::from(lease);
    // Both fit: they are below `lease`, a u32.
    ((lease / 2) as u32, (lease * 7 / 8) as u32)
}

/// The options a reply carries, in order: server id and lease times, then what the client asked
/// for in its order (55), then the mask, routers and the phone options it did not ask for, then
/// the relay agent information echoed.
fn reply_options<'a>(req: &'a Repr<'_>, r: &Reply<'a>, server_ip: Ipv4Addr) -> Vec<DhcpOption<'a>> {
    let mut out = vec![DhcpOption::new(
        code::SERVER_ID,
        server_ip.octets().to_vec(),
    )];
    if r.kind == MessageType::Nak {
        if let Some(info) = req.option(code::RELAY_AGENT_INFO) {
            out.push(DhcpOption::new(code::RELAY_AGENT_INFO, &*info.data));
        }
        return out;
    }
    if let Some(secs) = r.lease_secs {
        let (t1, t2) = t1_t2(secs);
        out.push(DhcpOption::u32(code::LEASE_TIME, secs));
        out.push(DhcpOption::u32(code::RENEWAL_TIME, t1));
        out.push(DhcpOption::u32(code::REBINDING_TIME, t2));
    }
    let o = r.options;
    let value = |c: u8| -> Option<DhcpOption<'a>> {
        let addresses =
            |list: &[Ipv4Addr]| (!list.is_empty()).then(|| DhcpOption::addresses(c, list));
        let string = |s: &'a Option<String>| s.as_deref().map(|s| DhcpOption::string(c, s));
        match c {
            code::SUBNET_MASK => Some(DhcpOption::new(c, r.mask.octets().to_vec())),
            code::ROUTERS => addresses(&o.routers),
            code::DNS => addresses(&o.dns),
            code::HOST_NAME => r.hostname.map(|h| DhcpOption::string(c, h)),
            code::DOMAIN_NAME => string(&o.domain),
            code::NTP => addresses(&o.ntp),
            code::VENDOR_SPECIFIC => o.vendor_specific.as_deref().map(|v| DhcpOption::new(c, v)),
            code::TFTP_SERVER => string(&o.tftp_server),
            code::BOOT_FILE => string(&o.boot_file),
            code::CISCO_TFTP => addresses(&o.cisco_tftp),
            code::PROVISIONING_URL => string(&o.provisioning_url),
            _ => None,
        }
    };
    let mut present = [false; 256];
    for &c in req.parameter_request_list().unwrap_or_default() {
        if !present[usize::from(c)]
            && let Some(v) = value(c)
        {
            present[usize::from(c)] = true;
            out.push(v);
        }
    }
    for c in [code::SUBNET_MASK, code::ROUTERS]
        .into_iter()
        .chain(PHONE_OPTIONS)
    {
        if !present[usize::from(c)]
            && let Some(v) = value(c)
        {
            present[usize::from(c)] = true;
            out.push(v);
        }
    }
    if let Some(info) = req.option(code::RELAY_AGENT_INFO) {
        out.push(DhcpOption::new(code::RELAY_AGENT_INFO, &*info.data));
    }
    out
}

/// Builds and encodes a reply to `req`. Options that do not fit the client's maximum message
/// size, even with overload, are dropped from the least wanted up. Returns None only if even
/// the essential options do not fit (they always do within 548 bytes).
pub(super) fn encode(
    req: &Repr<'_>,
    r: &Reply<'_>,
    server_ip: Ipv4Addr,
    flag: bool,
) -> Result<Vec<u8>, WireError> {
    let nak = r.kind == MessageType::Nak;
    let carries_files = !nak;
    let boot_file = r
        .options
        .boot_file
        .as_deref()
        .filter(|f| carries_files && f.len() < crate::dhcp::wire::FILE_LEN)
        .map_or(&[][..], str::as_bytes);
    let siaddr = r
        .options
        .tftp_server
        .as_deref()
        .and_then(|s| s.parse::<Ipv4Addr>().ok())
        .filter(|_| carries_files)
        .unwrap_or(Ipv4Addr::UNSPECIFIED);
    let mut reply = Repr {
        op: Op::Reply,
        hops: 0,
        xid: req.xid,
        secs: 0,
        broadcast: flag,
        ciaddr: if r.kind == MessageType::Ack {
            req.ciaddr
        } else {
            Ipv4Addr::UNSPECIFIED
        },
        yiaddr: r.yiaddr,
        siaddr,
        giaddr: req.giaddr,
        chaddr: req.chaddr,
        sname: Cow::Borrowed(&[]),
        file: Cow::Borrowed(boot_file),
        message_type: r.kind,
        options: reply_options(req, r, server_ip),
    };
    let max = max_reply_len(req);
    loop {
        match reply.to_vec(max) {
            Err(WireError::TooLarge { .. }) => {
                let Some(i) = reply
                    .options
                    .iter()
                    .rposition(|o| !ESSENTIAL.contains(&o.code))
                else {
                    return reply.to_vec(max);
                };
                reply.options.remove(i);
            }
            other => return other,
        }
    }
}
