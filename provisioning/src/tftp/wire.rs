//! TFTP packets: RFC 1350 §5 (RRQ, WRQ, DATA, ACK, ERROR) and RFC 2347 (options, OACK).
//!
//! ```text
//!  RRQ/WRQ  | 01/02 | filename | 0 | mode | 0 | opt1 | 0 | value1 | 0 | ...
//!  DATA     | 03 | block # | data (0..=blksize bytes)
//!  ACK      | 04 | block #
//!  ERROR    | 05 | error code | message | 0
//!  OACK     | 06 | opt1 | 0 | value1 | 0 | ...
//! ```
//!
//! [`Repr::parse`] borrows the datagram; [`Repr::emit`] writes into a buffer of at least
//! [`Repr::buffer_len`] bytes. Strings must be UTF-8 (TFTP's are netascii, a subset) and hold
//! no NUL. Parsing is bounded: at most [`MAX_OPTIONS`] options, strings of at most
//! [`MAX_STRING_LEN`] bytes, DATA of at most [`MAX_DATA_LEN`] bytes. The mode is matched
//! without regard to case (RFC 1350 §5), as are option names by the code that reads them;
//! an ACK's trailing bytes are ignored, as tftp-hpa ignores them.
//!
//! For the hot path (a DATA packet per block) the driver writes [`data_header`] in front of the
//! file bytes it reads straight into the send buffer, and reads ACKs with [`ack_block`].

use core::fmt;

use thiserror::Error;

/// The largest DATA payload (RFC 2348: blksize 65464, the most a UDP datagram over IPv4 can
/// carry after the IP, UDP and TFTP headers).
pub const MAX_DATA_LEN: usize = 65464;
/// The DATA header: opcode and block number.
pub const DATA_HEADER_LEN: usize = 4;
/// The largest TFTP datagram.
pub const MAX_PACKET_LEN: usize = DATA_HEADER_LEN + MAX_DATA_LEN;
/// The most options a request or OACK may carry (RFC 2347 sets no limit; the known options
/// are five, tftp-hpa's clients send at most four).
pub const MAX_OPTIONS: usize = 16;
/// The longest string (file name, mode, option name or value, error message), in bytes.
pub const MAX_STRING_LEN: usize = 512;

/// A packet's opcode (RFC 1350 §5, RFC 2347).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum Opcode {
    /// Read request.
    Rrq = 1,
    /// Write request.
    Wrq = 2,
    /// A block of the file.
    Data = 3,
    /// Acknowledgement.
    Ack = 4,
    /// Error.
    Error = 5,
    /// Option acknowledgement (RFC 2347).
    Oack = 6,
}

impl Opcode {
    fn from_u16(v: u16) -> Option<Self> {
        Some(match v {
            1 => Self::Rrq,
            2 => Self::Wrq,
            3 => Self::Data,
            4 => Self::Ack,
            5 => Self::Error,
            6 => Self::Oack,
            _ => return None,
        })
    }
}

/// An ERROR packet's code (RFC 1350 Appendix, RFC 2347 for 8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ErrorCode(pub u16);

impl ErrorCode {
    /// Not defined, see the message.
    pub const UNDEFINED: Self = Self(0);
    /// File not found.
    pub const FILE_NOT_FOUND: Self = Self(1);
    /// Access violation.
    pub const ACCESS_VIOLATION: Self = Self(2);
    /// Disk full or allocation exceeded.
    pub const DISK_FULL: Self = Self(3);
    /// Illegal TFTP operation.
    pub const ILLEGAL_OPERATION: Self = Self(4);
    /// Unknown transfer ID.
    pub const UNKNOWN_TID: Self = Self(5);
    /// File already exists.
    pub const FILE_EXISTS: Self = Self(6);
    /// No such user.
    pub const NO_SUCH_USER: Self = Self(7);
    /// The client refuses the options the server acknowledged (RFC 2347).
    pub const OPTION_REFUSED: Self = Self(8);
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The transfer mode of a request (RFC 1350 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Text: lines end in CR LF, a lone CR is sent as CR NUL.
    Netascii,
    /// Raw bytes.
    Octet,
    /// Obsolete: mail to a user (refused by servers).
    Mail,
}

impl Mode {
    /// The mode as written on the wire (lower case).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Netascii => "netascii",
            Self::Octet => "octet",
            Self::Mail => "mail",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        [Self::Netascii, Self::Octet, Self::Mail]
            .into_iter()
            .find(|m| m.as_str().eq_ignore_ascii_case(s))
    }
}

/// One option of a request or an OACK (RFC 2347), as written: names are matched without regard
/// to case by whoever reads them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TftpOption<'a> {
    /// The option's name (`blksize`, `tsize`, `timeout`, `windowsize`, …).
    pub name: &'a str,
    /// Its value, a decimal number for the options this server knows.
    pub value: &'a str,
}

/// A read or write request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request<'a> {
    /// The file name as the client wrote it.
    pub filename: &'a str,
    /// The transfer mode.
    pub mode: Mode,
    /// The options, in the order sent (at most [`MAX_OPTIONS`]).
    pub options: Vec<TftpOption<'a>>,
}

/// A parsed TFTP packet, borrowing the datagram.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repr<'a> {
    /// A read request.
    Rrq(Request<'a>),
    /// A write request.
    Wrq(Request<'a>),
    /// A block of the file; the last one is shorter than the block size (possibly empty).
    Data {
        /// Block number, from 1, wrapping to 0 after 65535.
        block: u16,
        /// The block's bytes.
        data: &'a [u8],
    },
    /// Acknowledges a DATA block, or the OACK (block 0).
    Ack {
        /// The block acknowledged.
        block: u16,
    },
    /// Ends the transfer.
    Error {
        /// What went wrong.
        code: ErrorCode,
        /// For people.
        message: &'a str,
    },
    /// The options the server accepts (RFC 2347).
    Oack {
        /// The accepted options and their values.
        options: Vec<TftpOption<'a>>,
    },
}

/// Why a datagram is not a TFTP packet, or a [`Repr`] cannot be written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
#[non_exhaustive]
pub enum Error {
    // Malformed input.
    /// The datagram ends inside `field`, which starts at `offset`.
    #[error("truncated: {field} at offset {offset}")]
    Truncated {
        /// The field cut short.
        field: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// The opcode (offset 0) is not 1 to 6.
    #[error("opcode {0} at offset 0 is not a TFTP opcode")]
    Opcode(u16),
    /// A string (`field`, starting at `offset`) is longer than [`MAX_STRING_LEN`].
    #[error("{field} at offset {offset} is longer than {MAX_STRING_LEN} bytes")]
    TooLong {
        /// The field.
        field: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// A string (`field`, starting at `offset`) is not UTF-8.
    #[error("{field} at offset {offset} is not UTF-8")]
    NotUtf8 {
        /// The field.
        field: &'static str,
        /// Where it starts.
        offset: usize,
    },
    /// The mode at `offset` is none of netascii, octet and mail.
    #[error("mode at offset {0} is not netascii, octet or mail")]
    Mode(usize),
    /// More than [`MAX_OPTIONS`] options; the first one too many starts at `offset`.
    #[error("more than {MAX_OPTIONS} options: option at offset {0}")]
    TooManyOptions(usize),
    /// A DATA payload longer than [`MAX_DATA_LEN`].
    #[error("data at offset 4 is {0} bytes, more than {MAX_DATA_LEN}")]
    DataTooLong(usize),
    // API misuse.
    /// `emit` was given a buffer shorter than [`Repr::buffer_len`].
    #[error("emit buffer is {got} bytes, packet needs {needed}")]
    BufferTooShort {
        /// `buffer_len()`.
        needed: usize,
        /// Buffer length.
        got: usize,
    },
    /// A [`Repr`] that cannot be written: a string with a NUL or over [`MAX_STRING_LEN`]
    /// bytes, too many options, or data over [`MAX_DATA_LEN`].
    #[error("cannot encode: {0}")]
    Unrepresentable(&'static str),
}

/// Field offsets (RFC 1350 §5).
mod field {
    use core::ops::Range;
    pub(super) const OPCODE: Range<usize> = 0..2;
    /// DATA and ACK block number; ERROR code.
    pub(super) const BLOCK: Range<usize> = 2..4;
    pub(super) const PAYLOAD: usize = 4;
    /// Where a request's file name or an OACK's first option starts.
    pub(super) const STRINGS: usize = 2;
}

fn be16(b: &[u8], at: usize) -> u16 {
    u16::from_be_bytes([b[at], b[at + 1]])
}

/// The opcode of a datagram, without parsing the rest.
///
/// # Errors
/// [`Error::Truncated`] for a datagram under 2 bytes, [`Error::Opcode`] for an unknown one.
pub fn opcode(datagram: &[u8]) -> Result<Opcode, Error> {
    if datagram.len() < field::OPCODE.end {
        return Err(Error::Truncated {
            field: "opcode",
            offset: 0,
        });
    }
    let v = be16(datagram, field::OPCODE.start);
    Opcode::from_u16(v).ok_or(Error::Opcode(v))
}

/// The block number of an ACK, or `None` when `datagram` is not one (the hot path of a transfer,
/// with no allocation).
pub fn ack_block(datagram: &[u8]) -> Option<u16> {
    (datagram.len() >= field::BLOCK.end && be16(datagram, 0) == Opcode::Ack as u16)
        .then(|| be16(datagram, field::BLOCK.start))
}

/// The 4-byte header of DATA block `block`, to put in front of its payload.
pub const fn data_header(block: u16) -> [u8; DATA_HEADER_LEN] {
    let op = (Opcode::Data as u16).to_be_bytes();
    let b = block.to_be_bytes();
    [op[0], op[1], b[0], b[1]]
}

/// Reads NUL-terminated strings from `b` starting at `offset`.
struct Strings<'a> {
    b: &'a [u8],
    offset: usize,
}

impl<'a> Strings<'a> {
    fn at_end(&self) -> bool {
        self.offset >= self.b.len()
    }

    fn next(&mut self, field: &'static str) -> Result<&'a str, Error> {
        let start = self.offset;
        let rest = self.b.get(start..).unwrap_or_default();
        let Some(len) = rest.iter().position(|&c| c == 0) else {
            return Err(if rest.len() > MAX_STRING_LEN {
                Error::TooLong {
                    field,
                    offset: start,
                }
            } else {
                Error::Truncated {
                    field,
                    offset: start,
                }
            });
        };
        if len > MAX_STRING_LEN {
            return Err(Error::TooLong {
                field,
                offset: start,
            });
        }
        let s = core::str::from_utf8(&rest[..len]).map_err(|_| Error::NotUtf8 {
            field,
            offset: start,
        })?;
        self.offset = start + len + 1;
        Ok(s)
    }

    /// Options (name, value pairs) up to the end of the datagram.
    fn options(&mut self) -> Result<Vec<TftpOption<'a>>, Error> {
        let mut options = Vec::new();
        while !self.at_end() {
            if options.len() == MAX_OPTIONS {
                return Err(Error::TooManyOptions(self.offset));
            }
            let name = self.next("option name")?;
            let value = self.next("option value")?;
            options.push(TftpOption { name, value });
        }
        Ok(options)
    }
}

impl<'a> Repr<'a> {
    /// Parses a datagram.
    ///
    /// # Errors
    /// What is wrong with it and where (see [`enum@Error`]).
    pub fn parse(datagram: &'a [u8]) -> Result<Self, Error> {
        let op = opcode(datagram)?;
        let mut strings = Strings {
            b: datagram,
            offset: field::STRINGS,
        };
        let block = || {
            if datagram.len() < field::BLOCK.end {
                return Err(Error::Truncated {
                    field: if op == Opcode::Error {
                        "error code"
                    } else {
                        "block number"
                    },
                    offset: field::BLOCK.start,
                });
            }
            Ok(be16(datagram, field::BLOCK.start))
        };
        Ok(match op {
            Opcode::Rrq | Opcode::Wrq => {
                let filename = strings.next("filename")?;
                let mode_at = strings.offset;
                let mode = Mode::parse(strings.next("mode")?).ok_or(Error::Mode(mode_at))?;
                let options = strings.options()?;
                let request = Request {
                    filename,
                    mode,
                    options,
                };
                if op == Opcode::Rrq {
                    Self::Rrq(request)
                } else {
                    Self::Wrq(request)
                }
            }
            Opcode::Data => {
                let block = block()?;
                let data = &datagram[field::PAYLOAD..];
                if data.len() > MAX_DATA_LEN {
                    return Err(Error::DataTooLong(data.len()));
                }
                Self::Data { block, data }
            }
            Opcode::Ack => Self::Ack { block: block()? },
            Opcode::Error => {
                let code = ErrorCode(block()?);
                strings.offset = field::PAYLOAD;
                let message = strings.next("error message")?;
                Self::Error { code, message }
            }
            Opcode::Oack => Self::Oack {
                options: strings.options()?,
            },
        })
    }

    /// The opcode of this packet.
    pub const fn opcode(&self) -> Opcode {
        match self {
            Self::Rrq(_) => Opcode::Rrq,
            Self::Wrq(_) => Opcode::Wrq,
            Self::Data { .. } => Opcode::Data,
            Self::Ack { .. } => Opcode::Ack,
            Self::Error { .. } => Opcode::Error,
            Self::Oack { .. } => Opcode::Oack,
        }
    }

    /// The encoded length.
    pub fn buffer_len(&self) -> usize {
        let options = |o: &[TftpOption<'_>]| -> usize {
            o.iter().map(|o| o.name.len() + o.value.len() + 2).sum()
        };
        2 + match self {
            Self::Rrq(r) | Self::Wrq(r) => {
                r.filename.len() + 1 + r.mode.as_str().len() + 1 + options(&r.options)
            }
            Self::Data { data, .. } => 2 + data.len(),
            Self::Ack { .. } => 2,
            Self::Error { message, .. } => 2 + message.len() + 1,
            Self::Oack { options: o } => options(o),
        }
    }

    /// Checks that every string and length can be written.
    fn check(&self) -> Result<(), Error> {
        let string = |s: &str| {
            if s.contains('\0') {
                Err(Error::Unrepresentable("NUL in a string"))
            } else if s.len() > MAX_STRING_LEN {
                Err(Error::Unrepresentable("string longer than MAX_STRING_LEN"))
            } else {
                Ok(())
            }
        };
        let options = |o: &[TftpOption<'_>]| {
            if o.len() > MAX_OPTIONS {
                return Err(Error::Unrepresentable("more than MAX_OPTIONS options"));
            }
            o.iter().try_for_each(|o| {
                string(o.name)?;
                string(o.value)
            })
        };
        match self {
            Self::Rrq(r) | Self::Wrq(r) => {
                string(r.filename)?;
                options(&r.options)
            }
            Self::Data { data, .. } if data.len() > MAX_DATA_LEN => {
                Err(Error::Unrepresentable("data longer than MAX_DATA_LEN"))
            }
            Self::Data { .. } | Self::Ack { .. } => Ok(()),
            Self::Error { message, .. } => string(message),
            Self::Oack { options: o } => options(o),
        }
    }

    /// Writes the packet at the start of `buf`, returning its length ([`Self::buffer_len`]).
    ///
    /// # Errors
    /// [`Error::BufferTooShort`], or [`Error::Unrepresentable`] for strings with a NUL, over
    /// [`MAX_STRING_LEN`] bytes, more than [`MAX_OPTIONS`] options or oversized data.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Error> {
        self.check()?;
        let needed = self.buffer_len();
        if buf.len() < needed {
            return Err(Error::BufferTooShort {
                needed,
                got: buf.len(),
            });
        }
        let mut w = Writer { buf, at: 0 };
        w.bytes(&(self.opcode() as u16).to_be_bytes());
        match self {
            Self::Rrq(r) | Self::Wrq(r) => {
                w.string(r.filename);
                w.string(r.mode.as_str());
                w.options(&r.options);
            }
            Self::Data { block, data } => {
                w.bytes(&block.to_be_bytes());
                w.bytes(data);
            }
            Self::Ack { block } => w.bytes(&block.to_be_bytes()),
            Self::Error { code, message } => {
                w.bytes(&code.0.to_be_bytes());
                w.string(message);
            }
            Self::Oack { options } => w.options(options),
        }
        debug_assert_eq!(w.at, needed);
        Ok(w.at)
    }

    /// The packet as a new vector (for the small control packets).
    ///
    /// # Errors
    /// As [`Self::emit`], bar the buffer's size.
    pub fn to_vec(&self) -> Result<Vec<u8>, Error> {
        self.check()?;
        let mut v = vec![0; self.buffer_len()];
        self.emit(&mut v)?;
        Ok(v)
    }
}

/// Writes into a buffer already checked to be long enough.
struct Writer<'b> {
    buf: &'b mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }

    fn string(&mut self, s: &str) {
        self.bytes(s.as_bytes());
        self.bytes(&[0]);
    }

    fn options(&mut self, options: &[TftpOption<'_>]) {
        for o in options {
            self.string(o.name);
            self.string(o.value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hex_literal::hex;
    use proptest::prelude::*;

    /// `tftp -m binary -c get SEP0004F2ABCDEF.cnf.xml` with `blksize 1468` and `tsize 0`, as
    /// tftp-hpa's client sends it.
    const RRQ_OPTIONS: &[u8] =
        b"\x00\x01SEP0004F2ABCDEF.cnf.xml\x00octet\x00blksize\x001468\x00tsize\x000\x00";

    #[test]
    fn request_with_options() {
        let r = Repr::parse(RRQ_OPTIONS).unwrap();
        assert_eq!(
            r,
            Repr::Rrq(Request {
                filename: "SEP0004F2ABCDEF.cnf.xml",
                mode: Mode::Octet,
                options: vec![
                    TftpOption {
                        name: "blksize",
                        value: "1468"
                    },
                    TftpOption {
                        name: "tsize",
                        value: "0"
                    },
                ],
            })
        );
        assert_eq!(r.to_vec().unwrap(), RRQ_OPTIONS);
    }

    #[test]
    fn mode_is_case_insensitive_and_written_lower_case() {
        let r = Repr::parse(b"\x00\x02f\x00NetASCII\x00").unwrap();
        let Repr::Wrq(ref q) = r else { panic!() };
        assert_eq!(q.mode, Mode::Netascii);
        assert_eq!(r.to_vec().unwrap(), b"\x00\x02f\x00netascii\x00");
        assert_eq!(Repr::parse(b"\x00\x01f\x00ascii\x00"), Err(Error::Mode(4)));
    }

    #[test]
    fn data_ack_error_oack_vectors() {
        let data = hex!("0003 0001 68656c6c6f");
        assert_eq!(
            Repr::parse(&data),
            Ok(Repr::Data {
                block: 1,
                data: b"hello"
            })
        );
        assert_eq!(data_header(1), data[..4]);
        let empty = hex!("0003 ffff");
        assert_eq!(
            Repr::parse(&empty),
            Ok(Repr::Data {
                block: 65535,
                data: b""
            })
        );
        let ack = hex!("0004 0000");
        assert_eq!(Repr::parse(&ack), Ok(Repr::Ack { block: 0 }));
        assert_eq!(ack_block(&ack), Some(0));
        assert_eq!(ack_block(&hex!("0004 1234 00")), Some(0x1234));
        assert_eq!(ack_block(&data), None);
        assert_eq!(ack_block(&hex!("0004 12")), None);
        let err = b"\x00\x05\x00\x01File not found\x00";
        assert_eq!(
            Repr::parse(err),
            Ok(Repr::Error {
                code: ErrorCode::FILE_NOT_FOUND,
                message: "File not found"
            })
        );
        let oack = b"\x00\x06blksize\x001468\x00windowsize\x0016\x00";
        let r = Repr::parse(oack).unwrap();
        assert_eq!(r.to_vec().unwrap(), oack);
        assert_eq!(Repr::parse(b"\x00\x06"), Ok(Repr::Oack { options: vec![] }));
    }

    #[test]
    fn errors_name_field_and_offset() {
        let t = |field, offset| Err(Error::Truncated { field, offset });
        assert_eq!(Repr::parse(b""), t("opcode", 0));
        assert_eq!(Repr::parse(b"\x00"), t("opcode", 0));
        assert_eq!(Repr::parse(b"\x00\x07"), Err(Error::Opcode(7)));
        assert_eq!(Repr::parse(b"\x00\x00"), Err(Error::Opcode(0)));
        assert_eq!(Repr::parse(b"\x00\x01"), t("filename", 2));
        assert_eq!(Repr::parse(b"\x00\x01abc"), t("filename", 2));
        assert_eq!(Repr::parse(b"\x00\x01abc\x00octet"), t("mode", 6));
        assert_eq!(
            Repr::parse(b"\x00\x01a\x00octet\x00blksize\x00"),
            t("option value", 18)
        );
        assert_eq!(
            Repr::parse(b"\x00\x01a\x00octet\x00blksize"),
            t("option name", 10)
        );
        assert_eq!(Repr::parse(b"\x00\x03\x00"), t("block number", 2));
        assert_eq!(Repr::parse(b"\x00\x04"), t("block number", 2));
        assert_eq!(Repr::parse(b"\x00\x05\x00"), t("error code", 2));
        assert_eq!(Repr::parse(b"\x00\x05\x00\x01oops"), t("error message", 4));
        assert_eq!(
            Repr::parse(b"\x00\x01\xff\x00octet\x00"),
            Err(Error::NotUtf8 {
                field: "filename",
                offset: 2
            })
        );
    }

    #[test]
    fn limits_hold() {
        let mut long = b"\x00\x01".to_vec();
        long.extend(std::iter::repeat_n(b'a', MAX_STRING_LEN + 1));
        assert_eq!(
            Repr::parse(&long),
            Err(Error::TooLong {
                field: "filename",
                offset: 2
            })
        );
        long.push(0);
        assert_eq!(
            Repr::parse(&long),
            Err(Error::TooLong {
                field: "filename",
                offset: 2
            })
        );
        let mut many = b"\x00\x01f\x00octet\x00".to_vec();
        for _ in 0..MAX_OPTIONS {
            many.extend(b"a\x001\x00");
        }
        assert!(Repr::parse(&many).is_ok());
        let at = many.len();
        many.extend(b"a\x001\x00");
        assert_eq!(Repr::parse(&many), Err(Error::TooManyOptions(at)));
        let mut big = data_header(1).to_vec();
        big.resize(MAX_PACKET_LEN + 1, 0);
        assert_eq!(Repr::parse(&big), Err(Error::DataTooLong(MAX_DATA_LEN + 1)));
        big.pop();
        assert!(Repr::parse(&big).is_ok());
    }

    #[test]
    fn emit_refuses_what_cannot_be_written() {
        let nul = Repr::Error {
            code: ErrorCode::UNDEFINED,
            message: "a\0b",
        };
        assert_eq!(nul.to_vec(), Err(Error::Unrepresentable("NUL in a string")));
        let ack = Repr::Ack { block: 3 };
        assert_eq!(
            ack.emit(&mut [0; 3]),
            Err(Error::BufferTooShort { needed: 4, got: 3 })
        );
        let mut buf = [0xff; 8];
        assert_eq!(ack.emit(&mut buf), Ok(4));
        assert_eq!(buf[..4], hex!("0004 0003"));
    }

    fn string() -> impl Strategy<Value = String> {
        "[^\0]{0,40}"
    }

    fn options() -> impl Strategy<Value = Vec<(String, String)>> {
        prop::collection::vec((string(), string()), 0..=MAX_OPTIONS)
    }

    fn repr_of<'a>(
        kind: u8,
        s: &'a str,
        o: &'a [(String, String)],
        n: u16,
        d: &'a [u8],
    ) -> Repr<'a> {
        let options = o
            .iter()
            .map(|(name, value)| TftpOption { name, value })
            .collect();
        let mode = [Mode::Netascii, Mode::Octet, Mode::Mail][usize::from(n % 3)];
        match kind % 6 {
            0 => Repr::Rrq(Request {
                filename: s,
                mode,
                options,
            }),
            1 => Repr::Wrq(Request {
                filename: s,
                mode,
                options,
            }),
            2 => Repr::Data { block: n, data: d },
            3 => Repr::Ack { block: n },
            4 => Repr::Error {
                code: ErrorCode(n),
                message: s,
            },
            _ => Repr::Oack { options },
        }
    }

    proptest! {
        #[test]
        fn round_trip(kind in 0u8..6, s in string(), o in options(), n in any::<u16>(),
                      d in prop::collection::vec(any::<u8>(), 0..600)) {
            let r = repr_of(kind, &s, &o, n, &d);
            let bytes = r.to_vec().unwrap();
            prop_assert_eq!(bytes.len(), r.buffer_len());
            prop_assert_eq!(Repr::parse(&bytes), Ok(r));
        }

        #[test]
        fn parse_never_panics_and_reemits(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            if let Ok(r) = Repr::parse(&bytes) {
                let again = r.to_vec().unwrap();
                prop_assert_eq!(Repr::parse(&again), Ok(r));
            }
        }
    }
}
