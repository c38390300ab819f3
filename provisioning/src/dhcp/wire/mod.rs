//! The DHCPv4 message format: the BOOTP header (RFC 2131 §2, figure 1), the magic cookie and
//! the options (RFC 2132), with option overload (RFC 2131 §4.1, RFC 2132 §9.3) and long options
//! split across instances (RFC 3396).
//!
//! In smoltcp's style: [`Packet`] is a checked view over a datagram with field accessors, and
//! [`Repr`] the parsed message, borrowing the datagram where it can, with
//! [`parse`](Repr::parse), [`emit`](Repr::emit) and [`buffer_len`](Repr::buffer_len).
//!
//! ```text
//!  0                   1                   2                   3
//!  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
//! |     op (1)    |   htype (1)   |   hlen (1)    |   hops (1)    |
//! |                            xid (4)                            |
//! |           secs (2)            |           flags (2)           |
//! |     ciaddr, yiaddr, siaddr, giaddr (4 each)                   |
//! |     chaddr (16), sname (64), file (128)                       |
//! |     magic cookie 99.130.83.99, options (variable)             |
//! ```
//!
//! A parsed [`Repr`] is canonical: options of one code are joined, the overload option and the
//! message type are taken out of the list, `sname` and `file` stop at their first NUL (and are
//! empty when they carried options). Emitting puts the message type first, splits values over
//! 255 bytes into several instances, ends with End and pads to BOOTP's 300 bytes.

use std::borrow::Cow;
use std::net::Ipv4Addr;

use thiserror::Error;

use crate::Mac;

mod options;
mod packet;
#[cfg(test)]
mod tests;

pub use options::{DhcpOption, MessageType, RelayAgentInfo, Tlv, TlvIter, code};
pub use packet::Packet;

/// The largest datagram we accept: an Ethernet MTU's worth. Larger ones are refused before
/// anything is read.
pub const MAX_DATAGRAM: usize = 1500;
/// The fixed BOOTP header, up to the magic cookie.
pub const HEADER_LEN: usize = field::COOKIE.start;
/// The header and the magic cookie: the shortest DHCP message.
pub const MIN_LEN: usize = field::OPTIONS;
/// BOOTP's minimum message length (RFC 1542 §2.1); replies are padded to it.
pub const BOOTP_MIN_LEN: usize = 300;
/// The magic cookie that starts the options (RFC 2131 §3).
pub const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Most distinct options one message may carry.
pub const MAX_OPTIONS: usize = 64;
/// Longest value an option may have once its instances are joined (RFC 3396).
pub const MAX_OPTION_LEN: usize = MAX_DATAGRAM;
/// The smallest DHCP message every client must accept (RFC 2131 §2: 576-byte IP datagrams,
/// less the IP and UDP headers).
pub const MIN_MAX_MESSAGE: usize = 576 - 28;
/// The `sname` field's size.
pub const SNAME_LEN: usize = 64;
/// The `file` field's size.
pub const FILE_LEN: usize = 128;

/// Field offsets (RFC 2131 §2).
mod field {
    use core::ops::Range;
    pub(super) const OP: usize = 0;
    pub(super) const HTYPE: usize = 1;
    pub(super) const HLEN: usize = 2;
    pub(super) const HOPS: usize = 3;
    pub(super) const XID: Range<usize> = 4..8;
    pub(super) const SECS: Range<usize> = 8..10;
    pub(super) const FLAGS: Range<usize> = 10..12;
    pub(super) const CIADDR: Range<usize> = 12..16;
    pub(super) const YIADDR: Range<usize> = 16..20;
    pub(super) const SIADDR: Range<usize> = 20..24;
    pub(super) const GIADDR: Range<usize> = 24..28;
    pub(super) const CHADDR: Range<usize> = 28..44;
    pub(super) const SNAME: Range<usize> = 44..108;
    pub(super) const FILE: Range<usize> = 108..236;
    pub(super) const COOKIE: Range<usize> = 236..240;
    pub(super) const OPTIONS: usize = 240;
}

/// The broadcast bit of `flags` (RFC 2131 §2, figure 2).
const BROADCAST_FLAG: u16 = 0x8000;
/// The hardware type of Ethernet (RFC 1700), the only one we serve.
pub const HTYPE_ETHERNET: u8 = 1;

/// Why bytes are not a DHCP message we can use, or why a [`Repr`] cannot be emitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    // Malformed input.
    /// The datagram ends inside the fixed header or the magic cookie.
    #[error("truncated: {field} at offset {offset} needs {needed} bytes, datagram has {len}")]
    Truncated {
        /// The field that did not fit.
        field: &'static str,
        /// Where it starts.
        offset: usize,
        /// Bytes up to its end.
        needed: usize,
        /// The datagram's length.
        len: usize,
    },
    /// The datagram is longer than [`MAX_DATAGRAM`].
    #[error("datagram of {len} bytes exceeds {MAX_DATAGRAM}")]
    TooLong {
        /// Its length.
        len: usize,
    },
    /// `op` (offset 0) is neither BOOTREQUEST (1) nor BOOTREPLY (2).
    #[error("op at offset 0 is {0}, expected 1 or 2")]
    Op(u8),
    /// `htype`/`hlen` (offsets 1, 2) are not Ethernet's 1 and 6.
    #[error("htype {htype} and hlen {hlen} at offsets 1-2: only Ethernet (1, 6) is served")]
    HardwareAddress {
        /// The hardware type.
        htype: u8,
        /// The hardware address length.
        hlen: u8,
    },
    /// The four bytes at offset 236 are not the magic cookie.
    #[error("magic cookie at offset 236 is {0:?}")]
    MagicCookie([u8; 4]),
    /// An option's length byte, or its value, runs past the end of its area.
    #[error("option {code} at offset {offset} runs past the end of {area}")]
    OptionTruncated {
        /// Which area: `options`, `file` or `sname`.
        area: &'static str,
        /// The option's code.
        code: u8,
        /// The offset of its code byte.
        offset: usize,
    },
    /// An option whose length is wrong for its code (message type, overload).
    #[error("option {code} at offset {offset} has length {len}")]
    OptionLength {
        /// The code.
        code: u8,
        /// The offset of its code byte.
        offset: usize,
        /// The length found.
        len: usize,
    },
    /// More than [`MAX_OPTIONS`] distinct options, or one longer than [`MAX_OPTION_LEN`].
    #[error("option {code} at offset {offset} exceeds the option limits")]
    TooManyOptions {
        /// The code of the option that broke the limit.
        code: u8,
        /// The offset of its code byte.
        offset: usize,
    },
    /// An overload option (52) that is repeated, not in the options field, or not 1 to 3.
    #[error("option overload at offset {offset}: {reason}")]
    Overload {
        /// The offset of its code byte.
        offset: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// No DHCP message type (53): a BOOTP message, which we do not serve.
    #[error("no DHCP message type (option 53)")]
    MissingMessageType,
    // API misuse.
    /// `emit` was given a buffer shorter than [`Repr::buffer_len`].
    #[error("emit buffer is {got} bytes, message needs {needed}")]
    BufferTooShort {
        /// `buffer_len()`.
        needed: usize,
        /// The buffer's length.
        got: usize,
    },
    /// The message does not fit in `max` bytes, even with option overload.
    #[error("message needs {needed} bytes, at most {max} allowed")]
    TooLarge {
        /// Bytes it needs without overload.
        needed: usize,
        /// The limit.
        max: usize,
    },
    /// A [`Repr`] that cannot be encoded: `sname` over 64 or `file` over 128 bytes, or an option
    /// with a code the encoder owns (Pad, End, Overload, Message Type).
    #[error("cannot encode: {0}")]
    Unrepresentable(&'static str),
}

/// BOOTP's `op`: who sent the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// 1: a client (or a relay on its behalf).
    Request,
    /// 2: a server.
    Reply,
}

/// The transaction id a client picks and the server echoes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Xid(pub u32);

/// A parsed DHCP message. See the [module docs](self) for its canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Repr<'a> {
    /// Request (from a client or relay) or reply (from a server).
    pub op: Op,
    /// Relay hops.
    pub hops: u8,
    /// Transaction id.
    pub xid: Xid,
    /// Seconds since the client began.
    pub secs: u16,
    /// The broadcast flag: the client cannot take unicast before it has an address.
    pub broadcast: bool,
    /// Client address (bound, renewing, rebinding, inform).
    pub ciaddr: Ipv4Addr,
    /// The address the server gives.
    pub yiaddr: Ipv4Addr,
    /// Next server (TFTP) address.
    pub siaddr: Ipv4Addr,
    /// Relay agent address.
    pub giaddr: Ipv4Addr,
    /// The client's MAC.
    pub chaddr: Mac,
    /// Server host name, up to its first NUL (empty when it carried options).
    pub sname: Cow<'a, [u8]>,
    /// Boot file name, up to its first NUL (empty when it carried options).
    pub file: Cow<'a, [u8]>,
    /// The DHCP message type (option 53).
    pub message_type: MessageType,
    /// The other options, in order of first appearance, each with its instances joined.
    pub options: Vec<DhcpOption<'a>>,
}

/// Where options were found, in the order RFC 3396 §7 joins them.
const AREAS: [(&str, usize); 3] = [
    ("options", field::OPTIONS),
    ("file", field::FILE.start),
    ("sname", field::SNAME.start),
];

fn until_nul(b: &[u8]) -> &[u8] {
    b.iter().position(|&c| c == 0).map_or(b, |n| &b[..n])
}

impl<'a> Repr<'a> {
    /// Parses a datagram.
    pub fn parse_bytes(datagram: &'a [u8]) -> Result<Self, Error> {
        Self::parse(&Packet::new_checked(datagram)?)
    }

    /// Parses a checked packet.
    pub fn parse(packet: &Packet<&'a [u8]>) -> Result<Self, Error> {
        let b: &'a [u8] = packet.buffer;
        let op = match packet.op() {
            1 => Op::Request,
            2 => Op::Reply,
            other => return Err(Error::Op(other)),
        };
        if packet.htype() != HTYPE_ETHERNET || packet.hlen() != 6 {
            return Err(Error::HardwareAddress {
                htype: packet.htype(),
                hlen: packet.hlen(),
            });
        }
        if packet.cookie() != MAGIC_COOKIE {
            return Err(Error::MagicCookie(packet.cookie()));
        }
        let mut chaddr = [0u8; 6];
        chaddr.copy_from_slice(&b[field::CHADDR.start..field::CHADDR.start + 6]);

        let mut assembly = Assembly::default();
        let mut overload = 0u8;
        for (area, base) in AREAS {
            let bytes: &'a [u8] = match area {
                "options" => &b[field::OPTIONS..],
                "file" if overload & 1 != 0 => &b[field::FILE],
                "sname" if overload & 2 != 0 => &b[field::SNAME],
                _ => continue,
            };
            for tlv in TlvIter::new(bytes, base, area) {
                let tlv = tlv?;
                if tlv.code == code::OVERLOAD {
                    overload = check_overload(&tlv, area, overload)?;
                } else {
                    assembly.add(tlv)?;
                }
            }
        }
        let message_type = assembly.message_type.ok_or(Error::MissingMessageType)?;
        let text = |range: core::ops::Range<usize>, bit: u8| -> Cow<'a, [u8]> {
            if overload & bit != 0 {
                Cow::Borrowed(&[])
            } else {
                Cow::Borrowed(until_nul(&b[range]))
            }
        };
        Ok(Self {
            op,
            hops: packet.hops(),
            xid: packet.xid(),
            secs: packet.secs(),
            broadcast: packet.flags() & BROADCAST_FLAG != 0,
            ciaddr: packet.ciaddr(),
            yiaddr: packet.yiaddr(),
            siaddr: packet.siaddr(),
            giaddr: packet.giaddr(),
            chaddr: Mac(chaddr),
            sname: text(field::SNAME, 2),
            file: text(field::FILE, 1),
            message_type,
            options: assembly.options,
        })
    }

    /// The option with this code.
    pub fn option(&self, code: u8) -> Option<&DhcpOption<'a>> {
        self.options.iter().find(|o| o.code == code)
    }

    /// The server identifier (54), when it is a well-formed address.
    pub fn server_id(&self) -> Option<Ipv4Addr> {
        self.option(code::SERVER_ID)?.as_ipv4()
    }

    /// The requested IP address (50), when well-formed.
    pub fn requested_ip(&self) -> Option<Ipv4Addr> {
        self.option(code::REQUESTED_IP)?.as_ipv4()
    }

    /// The parameter request list (55): option codes in the client's order of preference.
    pub fn parameter_request_list(&self) -> Option<&[u8]> {
        self.option(code::PARAMETER_REQUEST_LIST).map(|o| &*o.data)
    }

    /// The maximum message size the client accepts (57), when well-formed.
    pub fn max_message_size(&self) -> Option<u16> {
        self.option(code::MAX_MESSAGE_SIZE)?.as_u16()
    }

    /// The client identifier (61), raw.
    pub fn client_id(&self) -> Option<&[u8]> {
        self.option(code::CLIENT_ID).map(|o| &*o.data)
    }

    /// The vendor class identifier (60), raw.
    pub fn vendor_class(&self) -> Option<&[u8]> {
        self.option(code::VENDOR_CLASS).map(|o| &*o.data)
    }

    /// The host name (12), raw.
    pub fn host_name(&self) -> Option<&[u8]> {
        self.option(code::HOST_NAME).map(|o| &*o.data)
    }

    /// The lease time (51) in seconds, when well-formed.
    pub fn lease_time(&self) -> Option<u32> {
        self.option(code::LEASE_TIME)?.as_u32()
    }

    /// The relay agent information (82), raw, with its sub-options readable.
    pub fn relay_agent_info(&self) -> Option<RelayAgentInfo<'_>> {
        self.option(code::RELAY_AGENT_INFO)
            .map(|o| RelayAgentInfo(&o.data))
    }

    fn options_len(&self) -> usize {
        3 + self.options.iter().map(DhcpOption::wire_len).sum::<usize>() + 1
    }

    /// The length [`emit`](Self::emit) writes: header, cookie, options, End, padded to
    /// [`BOOTP_MIN_LEN`].
    pub fn buffer_len(&self) -> usize {
        (MIN_LEN + self.options_len()).max(BOOTP_MIN_LEN)
    }

    fn check(&self) -> Result<(), Error> {
        if self.sname.len() > SNAME_LEN {
            return Err(Error::Unrepresentable("sname over 64 bytes"));
        }
        if self.file.len() > FILE_LEN {
            return Err(Error::Unrepresentable("file over 128 bytes"));
        }
        if self.options.iter().any(|o| {
            matches!(
                o.code,
                code::PAD | code::END | code::OVERLOAD | code::MESSAGE_TYPE
            )
        }) {
            return Err(Error::Unrepresentable(
                "Pad, End, Overload or Message Type in the option list",
            ));
        }
        Ok(())
    }

    fn emit_header<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) {
        packet.set_op(self.op);
        packet.set_chaddr(self.chaddr);
        packet.set_hops(self.hops);
        packet.set_xid(self.xid);
        packet.set_secs(self.secs);
        packet.set_flags(if self.broadcast { BROADCAST_FLAG } else { 0 });
        packet.set_addresses(self.ciaddr, self.yiaddr, self.siaddr, self.giaddr);
        packet.set_sname(&self.sname);
        packet.set_file(&self.file);
        packet.set_cookie();
    }

    /// Writes the message into the first [`buffer_len`](Self::buffer_len) bytes of `packet`.
    pub fn emit<T: AsRef<[u8]> + AsMut<[u8]>>(&self, packet: &mut Packet<T>) -> Result<(), Error> {
        self.check()?;
        let needed = self.buffer_len();
        let got = packet.buffer.as_ref().len();
        if got < needed {
            return Err(Error::BufferTooShort { needed, got });
        }
        self.emit_header(packet);
        let out = &mut packet.bm()[field::OPTIONS..needed];
        out.fill(0);
        let mut w = Writer { out, at: 0 };
        w.tlv(code::MESSAGE_TYPE, &[u8::from(self.message_type)]);
        for o in &self.options {
            w.option(o);
        }
        w.end();
        Ok(())
    }

    /// The message as a new datagram of at most `max` bytes (at least [`MIN_MAX_MESSAGE`]).
    ///
    /// When the options do not fit in `max`, they spill into `file` and then `sname`, whichever
    /// are empty, with an overload option (RFC 2131 §4.1); no option is split across areas. If
    /// they still do not fit, [`Error::TooLarge`]: the caller drops options and tries again.
    pub fn to_vec(&self, max: usize) -> Result<Vec<u8>, Error> {
        self.check()?;
        let max = max.clamp(MIN_MAX_MESSAGE, MAX_DATAGRAM);
        let needed = self.buffer_len();
        if needed <= max {
            let mut buf = vec![0; needed];
            self.emit(&mut Packet::new_unchecked(&mut buf[..]))?;
            return Ok(buf);
        }
        self.to_vec_overloaded(max)
            .ok_or(Error::TooLarge { needed, max })
    }

    fn to_vec_overloaded(&self, max: usize) -> Option<Vec<u8>> {
        // Room in each area, keeping a byte for its End; the options field also holds the
        // message type and the overload option (3 bytes each).
        let mut room = [
            max.checked_sub(MIN_LEN + 3 + 3 + 1)?,
            if self.file.is_empty() {
                FILE_LEN - 1
            } else {
                0
            },
            if self.sname.is_empty() {
                SNAME_LEN - 1
            } else {
                0
            },
        ];
        let mut placed: [Vec<&DhcpOption<'a>>; 3] = Default::default();
        for o in &self.options {
            let len = o.wire_len();
            let area = room.iter().position(|&r| r >= len)?;
            room[area] -= len;
            placed[area].push(o);
        }
        let overload = u8::from(!placed[1].is_empty()) | u8::from(!placed[2].is_empty()) << 1;
        let mut buf = vec![0; max];
        let mut packet = Packet::new_unchecked(&mut buf[..]);
        self.emit_header(&mut packet);
        let mut w = Writer {
            out: &mut buf[field::OPTIONS..],
            at: 0,
        };
        w.tlv(code::MESSAGE_TYPE, &[u8::from(self.message_type)]);
        w.tlv(code::OVERLOAD, &[overload]);
        for o in &placed[0] {
            w.option(o);
        }
        w.end();
        let used = field::OPTIONS + w.at;
        for (range, list) in [(field::FILE, &placed[1]), (field::SNAME, &placed[2])] {
            if !list.is_empty() {
                let mut w = Writer {
                    out: &mut buf[range],
                    at: 0,
                };
                for o in list {
                    w.option(o);
                }
                w.end();
            }
        }
        buf.truncate(used.max(BOOTP_MIN_LEN));
        Some(buf)
    }
}

/// Writes TLVs into a buffer the caller sized (every write is in bounds by construction).
struct Writer<'b> {
    out: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn tlv(&mut self, code: u8, data: &[u8]) {
        self.out[self.at] = code;
        // The caller passes at most 255 bytes.
        self.out[self.at + 1] = data.len() as u8;
        self.out[self.at + 2..self.at + 2 + data.len()].copy_from_slice(data);
        self.at += 2 + data.len();
    }

    /// One option, split into instances of at most 255 bytes (RFC 3396 §5).
    fn option(&mut self, o: &DhcpOption<'_>) {
        if o.data.is_empty() {
            self.tlv(o.code, &[]);
        }
        for chunk in o.data.chunks(255) {
            self.tlv(o.code, chunk);
        }
    }

    fn end(&mut self) {
        if let Some(b) = self.out.get_mut(self.at) {
            *b = code::END;
            self.at += 1;
        }
    }
}

fn check_overload(tlv: &Tlv<'_>, area: &str, seen: u8) -> Result<u8, Error> {
    let offset = tlv.offset;
    if area != "options" {
        return Err(Error::Overload {
            offset,
            reason: "found in file or sname",
        });
    }
    if seen != 0 {
        return Err(Error::Overload {
            offset,
            reason: "repeated",
        });
    }
    match tlv.data {
        [v @ 1..=3] => Ok(*v),
        [_] => Err(Error::Overload {
            offset,
            reason: "value not 1, 2 or 3",
        }),
        _ => Err(Error::OptionLength {
            code: code::OVERLOAD,
            offset,
            len: tlv.data.len(),
        }),
    }
}

/// Joins option instances by code (RFC 3396), within [`MAX_OPTIONS`] and [`MAX_OPTION_LEN`].
#[derive(Default)]
struct Assembly<'a> {
    options: Vec<DhcpOption<'a>>,
    message_type: Option<MessageType>,
}

impl<'a> Assembly<'a> {
    fn add(&mut self, tlv: Tlv<'a>) -> Result<(), Error> {
        if tlv.code == code::MESSAGE_TYPE {
            return match (tlv.data, self.message_type) {
                ([t], None) => {
                    self.message_type = Some(MessageType::from(*t));
                    Ok(())
                }
                _ => Err(Error::OptionLength {
                    code: code::MESSAGE_TYPE,
                    offset: tlv.offset,
                    len: tlv.data.len() + usize::from(self.message_type.is_some()),
                }),
            };
        }
        let too_many = Error::TooManyOptions {
            code: tlv.code,
            offset: tlv.offset,
        };
        if let Some(o) = self.options.iter_mut().find(|o| o.code == tlv.code) {
            if o.data.len() + tlv.data.len() > MAX_OPTION_LEN {
                return Err(too_many);
            }
            o.data.to_mut().extend_from_slice(tlv.data);
        } else {
            if self.options.len() >= MAX_OPTIONS {
                return Err(too_many);
            }
            self.options.push(DhcpOption::new(tlv.code, tlv.data));
        }
        Ok(())
    }
}
