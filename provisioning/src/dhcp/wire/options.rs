//! DHCP options (RFC 2132 §2): the codes we use, the borrowing TLV iterator over one option
//! area, the message types (53), and the relay agent information option (RFC 3046).

use std::borrow::Cow;
use std::fmt;
use std::net::Ipv4Addr;

use super::Error;

/// Option codes (RFC 2132 and the vendor codes phones use).
pub mod code {
    /// Padding (no length byte).
    pub const PAD: u8 = 0;
    /// Subnet mask.
    pub const SUBNET_MASK: u8 = 1;
    /// Routers.
    pub const ROUTERS: u8 = 3;
    /// DNS servers.
    pub const DNS: u8 = 6;
    /// Host name.
    pub const HOST_NAME: u8 = 12;
    /// Domain name.
    pub const DOMAIN_NAME: u8 = 15;
    /// NTP servers.
    pub const NTP: u8 = 42;
    /// Vendor-specific information.
    pub const VENDOR_SPECIFIC: u8 = 43;
    /// Requested IP address.
    pub const REQUESTED_IP: u8 = 50;
    /// IP address lease time.
    pub const LEASE_TIME: u8 = 51;
    /// Option overload.
    pub const OVERLOAD: u8 = 52;
    /// DHCP message type.
    pub const MESSAGE_TYPE: u8 = 53;
    /// Server identifier.
    pub const SERVER_ID: u8 = 54;
    /// Parameter request list.
    pub const PARAMETER_REQUEST_LIST: u8 = 55;
    /// Message (error text).
    pub const MESSAGE: u8 = 56;
    /// Maximum DHCP message size.
    pub const MAX_MESSAGE_SIZE: u8 = 57;
    /// Renewal (T1) time.
    pub const RENEWAL_TIME: u8 = 58;
    /// Rebinding (T2) time.
    pub const REBINDING_TIME: u8 = 59;
    /// Vendor class identifier.
    pub const VENDOR_CLASS: u8 = 60;
    /// Client identifier.
    pub const CLIENT_ID: u8 = 61;
    /// TFTP server name (a string, even when it holds an address).
    pub const TFTP_SERVER: u8 = 66;
    /// Boot file name.
    pub const BOOT_FILE: u8 = 67;
    /// Relay agent information (RFC 3046).
    pub const RELAY_AGENT_INFO: u8 = 82;
    /// Cisco's TFTP server address list.
    pub const CISCO_TFTP: u8 = 150;
    /// Polycom's provisioning server URL.
    pub const PROVISIONING_URL: u8 = 160;
    /// End of the option area (no length byte).
    pub const END: u8 = 255;
}

/// The DHCP message type (option 53, RFC 2132 §9.6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 1: a client looks for servers.
    Discover,
    /// 2: a server offers an address.
    Offer,
    /// 3: a client asks for (or renews) an address.
    Request,
    /// 4: a client found the address in use.
    Decline,
    /// 5: a server confirms.
    Ack,
    /// 6: a server refuses.
    Nak,
    /// 7: a client gives its address back.
    Release,
    /// 8: a client with an address asks for options only.
    Inform,
    /// Any other value (lease query and the like).
    Other(u8),
}

impl From<u8> for MessageType {
    fn from(v: u8) -> Self {
        match v {
            1 => Self::Discover,
            2 => Self::Offer,
            3 => Self::Request,
            4 => Self::Decline,
            5 => Self::Ack,
            6 => Self::Nak,
            7 => Self::Release,
            8 => Self::Inform,
            other => Self::Other(other),
        }
    }
}

impl From<MessageType> for u8 {
    fn from(t: MessageType) -> Self {
        match t {
            MessageType::Discover => 1,
            MessageType::Offer => 2,
            MessageType::Request => 3,
            MessageType::Decline => 4,
            MessageType::Ack => 5,
            MessageType::Nak => 6,
            MessageType::Release => 7,
            MessageType::Inform => 8,
            MessageType::Other(v) => v,
        }
    }
}

impl fmt::Display for MessageType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other(v) => write!(f, "type {v}"),
            known => fmt::Debug::fmt(known, f),
        }
    }
}

/// One option instance as it appears in an option area.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tlv<'a> {
    /// The code.
    pub code: u8,
    /// Offset of the code byte in the datagram.
    pub offset: usize,
    /// The value.
    pub data: &'a [u8],
}

/// Iterates over the options of one area (the options field, `file` or `sname`), borrowing it.
///
/// Pads are skipped; the End option (or the end of the area) stops it. An option whose length
/// runs past the area yields an error, after which the iterator is exhausted.
#[derive(Debug, Clone)]
pub struct TlvIter<'a> {
    area: &'a [u8],
    base: usize,
    at: usize,
    name: &'static str,
}

impl<'a> TlvIter<'a> {
    /// An iterator over `area`, which starts at `base` in the datagram (for error offsets) and
    /// is called `name` in errors.
    pub fn new(area: &'a [u8], base: usize, name: &'static str) -> Self {
        Self {
            area,
            base,
            at: 0,
            name,
        }
    }
}

impl<'a> Iterator for TlvIter<'a> {
    type Item = Result<Tlv<'a>, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let &code = self.area.get(self.at)?;
            let offset = self.base + self.at;
            match code {
                code::PAD => self.at += 1,
                code::END => {
                    self.at = self.area.len();
                    return None;
                }
                _ => {
                    let Some(&len) = self.area.get(self.at + 1) else {
                        self.at = self.area.len();
                        return Some(Err(Error::OptionTruncated {
                            area: self.name,
                            code,
                            offset,
                        }));
                    };
                    let start = self.at + 2;
                    let end = start + usize::from(len);
                    let Some(data) = self.area.get(start..end) else {
                        self.at = self.area.len();
                        return Some(Err(Error::OptionTruncated {
                            area: self.name,
                            code,
                            offset,
                        }));
                    };
                    self.at = end;
                    return Some(Ok(Tlv { code, offset, data }));
                }
            }
        }
    }
}

/// An option after reassembly: all instances of one code concatenated (RFC 3396 §5).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpOption<'a> {
    /// The code (never Pad, End, Overload or Message Type: those live elsewhere).
    pub code: u8,
    /// The value: borrowed when the option came in one piece.
    pub data: Cow<'a, [u8]>,
}

impl<'a> DhcpOption<'a> {
    /// An option with a borrowed or owned value.
    pub fn new(code: u8, data: impl Into<Cow<'a, [u8]>>) -> Self {
        Self {
            code,
            data: data.into(),
        }
    }

    /// A list of IPv4 addresses.
    pub fn addresses(code: u8, list: &[Ipv4Addr]) -> Self {
        Self::new(
            code,
            list.iter().flat_map(|a| a.octets()).collect::<Vec<u8>>(),
        )
    }

    /// A 32-bit unsigned value (times).
    pub fn u32(code: u8, v: u32) -> Self {
        Self::new(code, v.to_be_bytes().to_vec())
    }

    /// A string, without a NUL terminator (RFC 2132 §2).
    pub fn string(code: u8, s: &'a str) -> Self {
        Self::new(code, s.as_bytes())
    }

    /// The value as one IPv4 address, if it is exactly four bytes.
    pub fn as_ipv4(&self) -> Option<Ipv4Addr> {
        <[u8; 4]>::try_from(&*self.data).ok().map(Ipv4Addr::from)
    }

    /// The value as a 16-bit unsigned integer, if it is exactly two bytes.
    pub fn as_u16(&self) -> Option<u16> {
        <[u8; 2]>::try_from(&*self.data)
            .ok()
            .map(u16::from_be_bytes)
    }

    /// The value as a 32-bit unsigned integer, if it is exactly four bytes.
    pub fn as_u32(&self) -> Option<u32> {
        <[u8; 4]>::try_from(&*self.data)
            .ok()
            .map(u32::from_be_bytes)
    }

    /// The value as a list of IPv4 addresses, if its length is a multiple of four.
    pub fn as_ipv4_list(&self) -> Option<Vec<Ipv4Addr>> {
        if !self.data.len().is_multiple_of(4) {
            return None;
        }
        Some(
            self.data
                .chunks_exact(4)
                .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]))
                .collect(),
        )
    }

    /// How many bytes the option takes on the wire: split into instances of at most 255
    /// bytes (RFC 3396), each with its code and length.
    pub fn wire_len(&self) -> usize {
        let instances = self.data.len().div_ceil(255).max(1);
        self.data.len() + 2 * instances
    }
}

/// The relay agent information option (82, RFC 3046 §2.0): kept raw so that it can be echoed
/// verbatim, with the sub-options readable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RelayAgentInfo<'a>(pub &'a [u8]);

impl<'a> RelayAgentInfo<'a> {
    /// Sub-option 1, the agent circuit id.
    pub const CIRCUIT_ID: u8 = 1;
    /// Sub-option 2, the agent remote id.
    pub const REMOTE_ID: u8 = 2;

    /// The value of the first sub-option `code`, if present and well-formed up to it.
    pub fn sub_option(&self, code: u8) -> Option<&'a [u8]> {
        let mut at = 0;
        let b = self.0;
        while at + 2 <= b.len() {
            let len = usize::from(b[at + 1]);
            let data = b.get(at + 2..at + 2 + len)?;
            if b[at] == code {
                return Some(data);
            }
            at += 2 + len;
        }
        None
    }

    /// The circuit id (sub-option 1).
    pub fn circuit_id(&self) -> Option<&'a [u8]> {
        self.sub_option(Self::CIRCUIT_ID)
    }

    /// The remote id (sub-option 2).
    pub fn remote_id(&self) -> Option<&'a [u8]> {
        self.sub_option(Self::REMOTE_ID)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tlvs_skip_pads_and_stop_at_end() {
        let area = [0, 0, 53, 1, 1, 0, 12, 2, b'a', b'b', 255, 99, 99];
        let tlvs: Vec<_> = TlvIter::new(&area, 240, "options").collect();
        assert_eq!(
            tlvs,
            vec![
                Ok(Tlv {
                    code: 53,
                    offset: 242,
                    data: &[1]
                }),
                Ok(Tlv {
                    code: 12,
                    offset: 246,
                    data: b"ab"
                }),
            ]
        );
    }

    #[test]
    fn a_truncated_tlv_names_its_offset() {
        for area in [&[0u8, 12][..], &[0, 12, 3, b'a', b'b']] {
            let tlvs: Vec<_> = TlvIter::new(area, 108, "file").collect();
            assert_eq!(
                tlvs,
                vec![Err(Error::OptionTruncated {
                    area: "file",
                    code: 12,
                    offset: 109
                })]
            );
        }
        assert_eq!(TlvIter::new(&[], 0, "sname").count(), 0);
    }

    #[test]
    fn relay_sub_options() {
        let info = RelayAgentInfo(&[1, 3, b'p', b'1', b'0', 2, 2, 0xab, 0xcd]);
        assert_eq!(info.circuit_id(), Some(&b"p10"[..]));
        assert_eq!(info.remote_id(), Some(&[0xab, 0xcd][..]));
        assert_eq!(info.sub_option(5), None);
        assert_eq!(RelayAgentInfo(&[1, 9, 0]).circuit_id(), None);
        assert_eq!(RelayAgentInfo(&[2]).remote_id(), None);
    }

    #[test]
    fn typed_values() {
        assert_eq!(
            DhcpOption::new(50, &[10, 0, 0, 1][..]).as_ipv4(),
            Some(Ipv4Addr::new(10, 0, 0, 1))
        );
        assert_eq!(DhcpOption::new(50, &[10, 0, 0][..]).as_ipv4(), None);
        assert_eq!(DhcpOption::new(57, &[5, 220][..]).as_u16(), Some(1500));
        assert_eq!(DhcpOption::u32(51, 3600).as_u32(), Some(3600));
        let l = [Ipv4Addr::new(1, 2, 3, 4), Ipv4Addr::new(5, 6, 7, 8)];
        assert_eq!(
            DhcpOption::addresses(3, &l).as_ipv4_list(),
            Some(l.to_vec())
        );
        assert_eq!(DhcpOption::new(3, &[1, 2, 3][..]).as_ipv4_list(), None);
        assert_eq!(DhcpOption::string(66, "tftp").data.as_ref(), b"tftp");
        assert_eq!(DhcpOption::new(1, vec![0; 0]).wire_len(), 2);
        assert_eq!(DhcpOption::new(1, vec![0; 255]).wire_len(), 257);
        assert_eq!(DhcpOption::new(1, vec![0; 256]).wire_len(), 260);
        for v in 0..=255u8 {
            assert_eq!(u8::from(MessageType::from(v)), v);
        }
        assert_eq!(MessageType::Other(10).to_string(), "type 10");
        assert_eq!(MessageType::Ack.to_string(), "Ack");
    }
}
