//! [`Packet`]: the BOOTP/DHCP fixed header read and written in place (RFC 2131 §2, figure 1).

use super::*;

/// A read/write view over a DHCP datagram.
#[derive(Debug, Clone)]
pub struct Packet<T: AsRef<[u8]>> {
    pub(super) buffer: T,
}

fn ipv4_at(b: &[u8], r: core::ops::Range<usize>) -> Ipv4Addr {
    Ipv4Addr::new(b[r.start], b[r.start + 1], b[r.start + 2], b[r.start + 3])
}

impl<T: AsRef<[u8]>> Packet<T> {
    /// Wraps a buffer without checks; accessors may panic until [`Self::check_len`] passes.
    pub const fn new_unchecked(buffer: T) -> Self {
        Self { buffer }
    }

    /// Wraps a buffer and checks that it holds the fixed header and cookie, and is not over
    /// [`MAX_DATAGRAM`].
    pub fn new_checked(buffer: T) -> Result<Self, Error> {
        let p = Self::new_unchecked(buffer);
        p.check_len()?;
        Ok(p)
    }

    /// Checks the length so that every header accessor is in bounds.
    pub fn check_len(&self) -> Result<(), Error> {
        let len = self.buffer.as_ref().len();
        if len > MAX_DATAGRAM {
            return Err(Error::TooLong { len });
        }
        if len < HEADER_LEN {
            return Err(Error::Truncated {
                field: "BOOTP header",
                offset: 0,
                needed: HEADER_LEN,
                len,
            });
        }
        if len < MIN_LEN {
            return Err(Error::Truncated {
                field: "magic cookie",
                offset: field::COOKIE.start,
                needed: MIN_LEN,
                len,
            });
        }
        Ok(())
    }

    /// The underlying buffer.
    pub fn into_inner(self) -> T {
        self.buffer
    }

    fn b(&self) -> &[u8] {
        self.buffer.as_ref()
    }

    /// `op` (1 request, 2 reply).
    pub fn op(&self) -> u8 {
        self.b()[field::OP]
    }

    /// Hardware address type.
    pub fn htype(&self) -> u8 {
        self.b()[field::HTYPE]
    }

    /// Hardware address length.
    pub fn hlen(&self) -> u8 {
        self.b()[field::HLEN]
    }

    /// Relay hops.
    pub fn hops(&self) -> u8 {
        self.b()[field::HOPS]
    }

    /// Transaction id.
    pub fn xid(&self) -> Xid {
        let b = self.b();
        Xid(u32::from_be_bytes([b[4], b[5], b[6], b[7]]))
    }

    /// Seconds since the client began.
    pub fn secs(&self) -> u16 {
        let b = self.b();
        u16::from_be_bytes([b[field::SECS.start], b[field::SECS.start + 1]])
    }

    /// The flags field.
    pub fn flags(&self) -> u16 {
        let b = self.b();
        u16::from_be_bytes([b[field::FLAGS.start], b[field::FLAGS.start + 1]])
    }

    /// Client address (when it has one).
    pub fn ciaddr(&self) -> Ipv4Addr {
        ipv4_at(self.b(), field::CIADDR)
    }

    /// "Your" address (what the server gives).
    pub fn yiaddr(&self) -> Ipv4Addr {
        ipv4_at(self.b(), field::YIADDR)
    }

    /// Next server address.
    pub fn siaddr(&self) -> Ipv4Addr {
        ipv4_at(self.b(), field::SIADDR)
    }

    /// Relay agent address.
    pub fn giaddr(&self) -> Ipv4Addr {
        ipv4_at(self.b(), field::GIADDR)
    }

    /// The 16-byte client hardware address field.
    pub fn chaddr(&self) -> &[u8] {
        &self.b()[field::CHADDR]
    }

    /// The 64-byte server name field.
    pub fn sname(&self) -> &[u8] {
        &self.b()[field::SNAME]
    }

    /// The 128-byte boot file field.
    pub fn file(&self) -> &[u8] {
        &self.b()[field::FILE]
    }

    /// The four bytes where the magic cookie belongs.
    pub fn cookie(&self) -> [u8; 4] {
        let b = self.b();
        [b[236], b[237], b[238], b[239]]
    }

    /// The options field: everything after the cookie.
    pub fn options(&self) -> &[u8] {
        &self.b()[field::OPTIONS..]
    }
}

impl<T: AsRef<[u8]> + AsMut<[u8]>> Packet<T> {
    pub(super) fn bm(&mut self) -> &mut [u8] {
        self.buffer.as_mut()
    }

    /// Sets `op`.
    pub fn set_op(&mut self, op: Op) {
        self.bm()[field::OP] = match op {
            Op::Request => 1,
            Op::Reply => 2,
        };
    }

    /// Sets `htype` and `hlen` for Ethernet and the MAC into `chaddr` (padding the rest).
    pub fn set_chaddr(&mut self, mac: Mac) {
        let b = self.bm();
        b[field::HTYPE] = HTYPE_ETHERNET;
        b[field::HLEN] = 6;
        b[field::CHADDR].fill(0);
        b[field::CHADDR.start..field::CHADDR.start + 6].copy_from_slice(&mac.0);
    }

    /// Sets the relay hops.
    pub fn set_hops(&mut self, hops: u8) {
        self.bm()[field::HOPS] = hops;
    }

    /// Sets the transaction id.
    pub fn set_xid(&mut self, xid: Xid) {
        self.bm()[field::XID].copy_from_slice(&xid.0.to_be_bytes());
    }

    /// Sets the seconds field.
    pub fn set_secs(&mut self, secs: u16) {
        self.bm()[field::SECS].copy_from_slice(&secs.to_be_bytes());
    }

    /// Sets the flags field.
    pub fn set_flags(&mut self, flags: u16) {
        self.bm()[field::FLAGS].copy_from_slice(&flags.to_be_bytes());
    }

    /// Sets `ciaddr`, `yiaddr`, `siaddr` and `giaddr`.
    pub fn set_addresses(&mut self, ci: Ipv4Addr, yi: Ipv4Addr, si: Ipv4Addr, gi: Ipv4Addr) {
        let b = self.bm();
        b[field::CIADDR].copy_from_slice(&ci.octets());
        b[field::YIADDR].copy_from_slice(&yi.octets());
        b[field::SIADDR].copy_from_slice(&si.octets());
        b[field::GIADDR].copy_from_slice(&gi.octets());
    }

    /// Writes `sname` (NUL-padded); the caller has checked it fits.
    pub(super) fn set_sname(&mut self, sname: &[u8]) {
        let f = &mut self.bm()[field::SNAME];
        f.fill(0);
        f[..sname.len()].copy_from_slice(sname);
    }

    /// Writes `file` (NUL-padded); the caller has checked it fits.
    pub(super) fn set_file(&mut self, file: &[u8]) {
        let f = &mut self.bm()[field::FILE];
        f.fill(0);
        f[..file.len()].copy_from_slice(file);
    }

    /// Writes the magic cookie.
    pub fn set_cookie(&mut self) {
        self.bm()[field::COOKIE].copy_from_slice(&MAGIC_COOKIE);
    }
}
