//! What to do with a request on the server's port (RFC 1350 §4): start a read transfer, or
//! refuse with an ERROR.
//!
//! [`Server::handle_request`] parses the datagram, finds the content through [`Files`] and
//! returns a [`Decision`]: a [`Transfer`] to run on a new port (its transfer ID), an ERROR to send
//! back, or nothing. The server keeps the counters of every transfer ([`Stats`]) and the number
//! running, and refuses new ones beyond [`Config::max_transfers`] with ERROR 0 "busy".
//!
//! - Read requests only: a write request gets ERROR 2 "read only"; mode `mail` ERROR 4.
//! - Mode `netascii` is served by converting the content on the way out (LF to CR LF, CR to
//!   CR NUL, RFC 764), which is only possible when the converted length is known before the first
//!   block: the content is converted once in memory, for files up to [`NETASCII_MAX_LEN`] bytes
//!   (configuration files are a few kilobytes); larger ones are refused with ERROR 0.
//! - A request that does not parse gets ERROR 4 (so that a name with a NUL byte, say, gets an
//!   answer); other datagrams on this port (ACKs, DATA, ERRORs) are dropped without one.
//! - [`files::Refusal::NotFound`] becomes ERROR 1, `Forbidden` ERROR 2, `Io` ERROR 0.

use std::io::Read;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tracing::debug;

use super::transfer::{self, Outcome, Transfer};
use super::wire::{self, ErrorCode, Mode, Opcode, Repr};
use crate::files::{self, Refusal};

/// The largest content served in `netascii` mode (it is converted in memory).
pub const NETASCII_MAX_LEN: u64 = 4 * 1024 * 1024;

/// Where a transfer's bytes come from.
#[derive(Debug, Clone)]
pub enum Content {
    /// Generated (a phone's configuration file) or converted content.
    Memory(Arc<[u8]>),
    /// A file and its length, read block by block with positioned reads.
    File(Arc<std::fs::File>, u64),
}

impl Content {
    /// A file of `len` bytes.
    pub fn file(file: std::fs::File, len: u64) -> Self {
        Self::File(Arc::new(file), len)
    }

    /// Its length in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Self::Memory(m) => m.len() as u64,
            Self::File(_, len) => *len,
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Fills `buf` with the bytes at `offset`.
    ///
    /// # Errors
    /// When the file cannot be read or is shorter than announced.
    pub fn read_at(&self, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
        match self {
            Self::Memory(m) => {
                let range = usize::try_from(offset)
                    .ok()
                    .and_then(|start| Some(start..start.checked_add(buf.len())?))
                    .filter(|r| r.end <= m.len())
                    .ok_or(std::io::ErrorKind::UnexpectedEof)?;
                buf.copy_from_slice(&m[range]);
                Ok(())
            }
            Self::File(f, _) => std::os::unix::fs::FileExt::read_exact_at(&**f, buf, offset),
        }
    }

    /// The content converted to netascii.
    fn to_netascii(&self) -> std::io::Result<Arc<[u8]>> {
        let raw = match self {
            Self::Memory(m) => netascii(m),
            Self::File(f, len) => {
                let mut raw = Vec::with_capacity(usize::try_from(*len).unwrap_or(0));
                (&**f).take(*len).read_to_end(&mut raw)?;
                netascii(&raw)
            }
        };
        Ok(raw.into())
    }
}

/// Converts bytes to netascii: LF becomes CR LF, CR becomes CR NUL (RFC 764, RFC 1350 §5).
pub fn netascii(raw: &[u8]) -> Vec<u8> {
    let extra = raw.iter().filter(|&&b| b == b'\n' || b == b'\r').count();
    let mut out = Vec::with_capacity(raw.len() + extra);
    for &b in raw {
        match b {
            b'\n' => out.extend_from_slice(b"\r\n"),
            b'\r' => out.extend_from_slice(b"\r\0"),
            _ => out.push(b),
        }
    }
    out
}

/// How much of a file [`ReadAhead`] reads at once.
pub const READ_AHEAD: usize = 64 * 1024;

/// Reads a transfer's blocks from its [`Content`] through a buffer of [`READ_AHEAD`] bytes, so
/// that a file sent 512 bytes at a time costs one `pread` per 64 KiB rather than one per block
/// (a retransmission from before the buffer refills it). Memory content is copied directly.
#[derive(Debug)]
pub struct ReadAhead {
    content: Content,
    buf: Vec<u8>,
    /// The file offset of `buf[0]`.
    start: u64,
}

impl ReadAhead {
    /// A reader of `content`.
    pub fn new(content: Content) -> Self {
        Self {
            content,
            buf: Vec::new(),
            start: 0,
        }
    }

    /// Fills `out` with the bytes at `offset`.
    ///
    /// # Errors
    /// The file could not be read, or is shorter than asked.
    pub fn read_at(&mut self, out: &mut [u8], offset: u64) -> std::io::Result<()> {
        let Content::File(_, total) = &self.content else {
            return self.content.read_at(out, offset);
        };
        let total = *total;
        let end = offset
            .checked_add(out.len() as u64)
            .ok_or(std::io::ErrorKind::UnexpectedEof)?;
        let buffered = self.start..self.start + self.buf.len() as u64;
        if offset < buffered.start || end > buffered.end {
            let want = usize::try_from(total.saturating_sub(offset))
                .unwrap_or(usize::MAX)
                .clamp(out.len(), READ_AHEAD.max(out.len()));
            self.buf.resize(want, 0);
            self.start = offset;
            if let Err(e) = self.content.read_at(&mut self.buf, offset) {
                self.buf.clear();
                return Err(e);
            }
        }
        let from = usize::try_from(offset - self.start).unwrap_or(0);
        out.copy_from_slice(&self.buf[from..from + out.len()]);
        Ok(())
    }
}

/// Where the server finds what clients ask for: the appliance generates the phones'
/// configuration files and serves the rest from a [`files::Root`].
pub trait Files: Send + Sync + 'static {
    /// `name` as the client asked for it; `peer` who asks. Generated files come back as
    /// [`Content::Memory`].
    ///
    /// # Errors
    /// Why the file is not served.
    fn open(&self, name: &str, peer: SocketAddr) -> Result<Content, Refusal>;
}

impl Files for files::Root {
    fn open(&self, name: &str, _peer: SocketAddr) -> Result<Content, Refusal> {
        let (file, len) = Self::open(self, name)?;
        Ok(Content::file(file, len))
    }
}

/// The server's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    max_transfers: usize,
    transfer: transfer::Config,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_transfers: 4096,
            transfer: transfer::Config::default(),
        }
    }
}

impl Config {
    /// Transfers running at once (default 4096); more are refused with ERROR 0 "busy".
    pub fn max_transfers(&mut self, v: usize) -> &mut Self {
        self.max_transfers = v;
        self
    }

    /// How transfers negotiate and retransmit.
    pub fn transfer(&mut self, v: transfer::Config) -> &mut Self {
        self.transfer = v;
        self
    }
}

/// Requests refused, by reason.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Refused {
    /// No such file (ERROR 1).
    pub not_found: u64,
    /// A name or file not allowed (ERROR 2).
    pub forbidden: u64,
    /// Write requests (ERROR 2).
    pub write: u64,
    /// Mode `mail`, or `netascii` for a file over [`NETASCII_MAX_LEN`].
    pub mode: u64,
    /// Over [`Config::max_transfers`] (ERROR 0 "busy").
    pub busy: u64,
    /// The file could not be read (ERROR 0).
    pub io: u64,
}

/// The server's counters, transfers included.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Read and write requests received (parsed or not).
    pub requests: u64,
    /// Transfers started.
    pub started: u64,
    /// Transfers acknowledged to the end.
    pub completed: u64,
    /// Transfers that ended otherwise (client error, timeout, read error).
    pub failed: u64,
    /// Of the failed: those given up after the retries.
    pub timed_out: u64,
    /// Requests refused, by reason.
    pub refused: Refused,
    /// Requests that did not parse (answered with ERROR 4) and other datagrams on the
    /// server's port (dropped).
    pub malformed: u64,
    /// Retransmission timeouts, over all transfers.
    pub timeouts: u64,
    /// DATA and OACK packets sent again.
    pub retransmits: u64,
    /// Content bytes sent, retransmissions included.
    pub bytes: u64,
    /// Datagrams on transfer ports from other ports than the client's (ERROR 5).
    pub wrong_tid: u64,
    /// Datagrams on transfer ports that were neither ACK nor ERROR.
    pub transfer_malformed: u64,
}

/// What to do with a datagram that came to the server's port.
#[derive(Debug)]
pub enum Decision {
    /// Run this transfer from a new port, reading `content`; call [`Server::finished`] when it
    /// is done.
    Start {
        /// The transfer.
        transfer: Box<Transfer>,
        /// What it sends.
        content: Content,
    },
    /// Send this ERROR from the server's port.
    Reply {
        /// Where to.
        to: SocketAddr,
        /// The datagram.
        bytes: Vec<u8>,
    },
    /// Nothing to do.
    Drop,
}

/// The request dispatcher. See the module documentation.
#[derive(Debug, Default)]
pub struct Server {
    config: Config,
    active: usize,
    stats: Stats,
}

impl Server {
    /// A server with `config`.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            active: 0,
            stats: Stats::default(),
        }
    }

    /// The counters.
    pub const fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Transfers running.
    pub const fn active(&self) -> usize {
        self.active
    }

    /// A datagram from `from` on the server's port.
    pub fn handle_request(
        &mut self,
        now: Instant,
        from: SocketAddr,
        datagram: &[u8],
        files: &dyn Files,
    ) -> Decision {
        if from.port() == 0 {
            self.stats.malformed += 1;
            debug!(%from, "datagram from port 0 dropped");
            return Decision::Drop;
        }
        let op = wire::opcode(datagram);
        if !matches!(op, Ok(Opcode::Rrq | Opcode::Wrq)) {
            self.stats.malformed += 1;
            debug!(%from, opcode = ?op, "not a request: dropped");
            return Decision::Drop;
        }
        self.stats.requests += 1;
        let request = match Repr::parse(datagram) {
            Ok(Repr::Rrq(r)) => r,
            Ok(_) => {
                self.stats.refused.write += 1;
                debug!(%from, "write request refused");
                return reply(from, ErrorCode::ACCESS_VIOLATION, "Read only");
            }
            Err(e) => {
                self.stats.malformed += 1;
                debug!(%from, error = %e, "malformed request");
                return reply(from, ErrorCode::ILLEGAL_OPERATION, "Malformed request");
            }
        };
        let name = request.filename;
        if request.mode == Mode::Mail {
            self.stats.refused.mode += 1;
            debug!(%from, name, "mail mode refused");
            return reply(
                from,
                ErrorCode::ILLEGAL_OPERATION,
                "Mail mode not supported",
            );
        }
        if self.active >= self.config.max_transfers {
            self.stats.refused.busy += 1;
            debug!(%from, name, active = self.active, "busy: request refused");
            return reply(from, ErrorCode::UNDEFINED, "Server busy, try again later");
        }
        let content = match files.open(name, from) {
            Ok(c) => c,
            Err(refusal) => {
                debug!(%from, name, %refusal, "request refused");
                return match refusal {
                    Refusal::NotFound => {
                        self.stats.refused.not_found += 1;
                        reply(from, ErrorCode::FILE_NOT_FOUND, "File not found")
                    }
                    Refusal::Forbidden(why) => {
                        self.stats.refused.forbidden += 1;
                        reply(from, ErrorCode::ACCESS_VIOLATION, why)
                    }
                    Refusal::Io(_) => {
                        self.stats.refused.io += 1;
                        reply(from, ErrorCode::UNDEFINED, "Cannot read the file")
                    }
                };
            }
        };
        let content = if request.mode == Mode::Netascii {
            if content.len() > NETASCII_MAX_LEN {
                self.stats.refused.mode += 1;
                debug!(%from, name, len = content.len(), "too large for netascii");
                return reply(
                    from,
                    ErrorCode::UNDEFINED,
                    "File too large for netascii, use octet",
                );
            }
            match content.to_netascii() {
                Ok(m) => Content::Memory(m),
                Err(e) => {
                    self.stats.refused.io += 1;
                    debug!(%from, name, error = %e, "cannot read for netascii");
                    return reply(from, ErrorCode::UNDEFINED, "Cannot read the file");
                }
            }
        } else {
            content
        };
        let transfer = Transfer::new(
            now,
            from,
            &request.options,
            content.len(),
            &self.config.transfer,
        );
        self.active += 1;
        self.stats.started += 1;
        debug!(%from, name, len = content.len(), mode = request.mode.as_str(), "transfer starts");
        Decision::Start {
            transfer: Box::new(transfer),
            content,
        }
    }

    /// A transfer from [`Decision::Start`] is over (done, or abandoned by the driver): its
    /// counters join the server's.
    pub fn finished(&mut self, transfer: &Transfer) {
        self.active = self.active.saturating_sub(1);
        let s = transfer.stats();
        self.stats.timeouts += s.timeouts;
        self.stats.retransmits += s.retransmits;
        self.stats.bytes += s.bytes_sent;
        self.stats.wrong_tid += s.wrong_tid;
        self.stats.transfer_malformed += s.malformed;
        match transfer.outcome() {
            Some(Outcome::Completed) => self.stats.completed += 1,
            Some(Outcome::TimedOut) => {
                self.stats.failed += 1;
                self.stats.timed_out += 1;
            }
            _ => self.stats.failed += 1,
        }
    }
}

fn reply(to: SocketAddr, code: ErrorCode, message: &str) -> Decision {
    let bytes = Repr::Error { code, message }
        .to_vec()
        .expect("a short message without NUL");
    Decision::Reply { to, bytes }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[allow(clippy::disallowed_methods)] // a base instant for virtual time, never a measurement
    fn t0() -> Instant {
        Instant::now()
    }

    const PEER: SocketAddr = SocketAddr::new(
        std::net::IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 7)),
        2000,
    );

    #[test]
    fn read_ahead_gives_every_block_of_a_file_whatever_the_order() {
        use std::io::Write as _;
        let bytes: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut f = tempfile::tempfile().unwrap();
        f.write_all(&bytes).unwrap();
        let mut r = ReadAhead::new(Content::file(f, bytes.len() as u64));
        let mut block = [0u8; 512];
        // Forwards, across buffer refills, then back (a retransmission), then the end.
        for offset in (0..150_000u64)
            .step_by(512)
            .chain([512, 65_536 - 100, 199_488])
        {
            r.read_at(&mut block, offset).unwrap();
            let o = usize::try_from(offset).unwrap();
            assert_eq!(&block[..], &bytes[o..o + 512], "offset {offset}");
        }
        // A short last block, and past the end.
        let mut tail = [0u8; 100];
        r.read_at(&mut tail, 199_900).unwrap();
        assert_eq!(&tail[..], &bytes[199_900..]);
        assert!(r.read_at(&mut tail, 199_901).is_err());
        assert!(r.read_at(&mut block, u64::MAX - 10).is_err());
        // Memory content reads straight through.
        let mut m = ReadAhead::new(Content::Memory(bytes.clone().into()));
        m.read_at(&mut block, 1024).unwrap();
        assert_eq!(&block[..], &bytes[1024..1536]);
    }

    struct Generated(HashMap<&'static str, &'static [u8]>);

    impl Files for Generated {
        fn open(&self, name: &str, peer: SocketAddr) -> Result<Content, Refusal> {
            assert_eq!(peer, PEER);
            match name {
                "secret" => Err(Refusal::Forbidden("no")),
                "broken" => Err(Refusal::Io(std::io::ErrorKind::Other.into())),
                _ => self
                    .0
                    .get(name)
                    .map(|b| Content::Memory(Arc::from(*b)))
                    .ok_or(Refusal::NotFound),
            }
        }
    }

    fn files() -> Generated {
        Generated(HashMap::from([
            ("a.cfg", &b"line 1\nline 2\r\n"[..]),
            ("empty", &b""[..]),
        ]))
    }

    fn rrq(name: &str, mode: &str, options: &[(&str, &str)]) -> Vec<u8> {
        let mut v = b"\x00\x01".to_vec();
        for s in [name, mode]
            .into_iter()
            .chain(options.iter().flat_map(|(a, b)| [*a, *b]))
        {
            v.extend_from_slice(s.as_bytes());
            v.push(0);
        }
        v
    }

    fn error_of(d: Decision) -> (u16, String) {
        let Decision::Reply { to, bytes } = d else {
            panic!("expected a reply, got {d:?}")
        };
        assert_eq!(to, PEER);
        let Ok(Repr::Error { code, message }) = Repr::parse(&bytes) else {
            panic!()
        };
        (code.0, message.to_owned())
    }

    #[test]
    fn a_read_request_starts_a_transfer() {
        let mut s = Server::default();
        let d = s.handle_request(t0(), PEER, &rrq("a.cfg", "octet", &[]), &files());
        let Decision::Start {
            mut transfer,
            content,
        } = d
        else {
            panic!()
        };
        assert_eq!(content.len(), 15);
        assert_eq!(s.active(), 1);
        let Some(transfer::Transmit::Data { len, .. }) = transfer.poll_transmit() else {
            panic!()
        };
        assert_eq!(len, 15);
        let mut buf = [0; 15];
        content.read_at(&mut buf, 0).unwrap();
        assert_eq!(&buf, b"line 1\nline 2\r\n");
        transfer.handle_datagram(t0(), PEER, b"\x00\x04\x00\x01");
        s.finished(&transfer);
        assert_eq!(s.active(), 0);
        assert_eq!(s.stats().completed, 1);
        assert_eq!(s.stats().bytes, 15);
    }

    #[test]
    fn netascii_is_converted() {
        assert_eq!(netascii(b"a\nb\rc\r\n"), b"a\r\nb\r\0c\r\0\r\n");
        let mut s = Server::default();
        let d = s.handle_request(
            t0(),
            PEER,
            &rrq("a.cfg", "NETASCII", &[("tsize", "0")]),
            &files(),
        );
        let Decision::Start { content, .. } = d else {
            panic!()
        };
        let Content::Memory(m) = content else {
            panic!()
        };
        assert_eq!(&m[..], b"line 1\r\nline 2\r\0\r\n");
    }

    #[test]
    fn refusals_have_their_error_and_counter() {
        let mut s = Server::default();
        let now = t0();
        let f = files();
        let cases: [(Vec<u8>, u16); 6] = [
            (rrq("nope", "octet", &[]), 1),
            (rrq("secret", "octet", &[]), 2),
            (rrq("broken", "octet", &[]), 0),
            (rrq("a.cfg", "mail", &[]), 4),
            (b"\x00\x02a.cfg\x00octet\x00".to_vec(), 2),
            (b"\x00\x01../etc/passwd\x00\x00octet\x00".to_vec(), 4),
        ];
        for (req, code) in cases {
            assert_eq!(
                error_of(s.handle_request(now, PEER, &req, &f)).0,
                code,
                "{req:?}"
            );
        }
        assert_eq!(s.stats().refused.not_found, 1);
        assert_eq!(s.stats().refused.forbidden, 1);
        assert_eq!(s.stats().refused.io, 1);
        assert_eq!(s.stats().refused.mode, 1);
        assert_eq!(s.stats().refused.write, 1);
        assert_eq!(s.stats().malformed, 1);
        assert_eq!(s.stats().requests, 6);
    }

    #[test]
    fn the_limit_answers_busy_and_non_requests_are_dropped() {
        let mut config = Config::default();
        config.max_transfers(1);
        let mut s = Server::new(config);
        let now = t0();
        let f = files();
        let Decision::Start { transfer, .. } =
            s.handle_request(now, PEER, &rrq("empty", "octet", &[]), &f)
        else {
            panic!()
        };
        let (code, message) =
            error_of(s.handle_request(now, PEER, &rrq("a.cfg", "octet", &[]), &f));
        assert_eq!(
            (code, message.as_str()),
            (0, "Server busy, try again later")
        );
        assert_eq!(s.stats().refused.busy, 1);
        s.finished(&transfer);
        assert_eq!(s.stats().failed, 1, "abandoned before it ended");
        assert!(matches!(
            s.handle_request(now, PEER, &rrq("a.cfg", "octet", &[]), &f),
            Decision::Start { .. }
        ));
        for junk in [
            &b""[..],
            b"\x00\x04\x00\x01",
            b"\x00\x05\x00\x00x\x00",
            b"\xff",
        ] {
            assert!(matches!(
                s.handle_request(now, PEER, junk, &f),
                Decision::Drop
            ));
        }
        let port0 = SocketAddr::new(PEER.ip(), 0);
        assert!(matches!(
            s.handle_request(now, port0, &rrq("a.cfg", "octet", &[]), &f),
            Decision::Drop
        ));
        assert_eq!(s.stats().malformed, 5);
    }

    #[test]
    fn a_root_serves_through_files() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("fw.bin"), vec![7u8; 3000]).unwrap();
        let root = files::Root::new(dir.path()).unwrap();
        let mut s = Server::default();
        let now = t0();
        let Decision::Start { content, .. } =
            s.handle_request(now, PEER, &rrq("fw.bin", "octet", &[]), &root)
        else {
            panic!()
        };
        let mut buf = [0; 512];
        content.read_at(&mut buf, 2560).unwrap_err();
        content.read_at(&mut buf[..440], 2560).unwrap();
        assert_eq!(buf[0], 7);
        assert_eq!(
            error_of(s.handle_request(now, PEER, &rrq("../x", "octet", &[]), &root)).0,
            2
        );
        assert_eq!(
            error_of(s.handle_request(now, PEER, &rrq("/etc/passwd", "octet", &[]), &root)).0,
            2
        );
        assert_eq!(
            error_of(s.handle_request(now, PEER, &rrq("..\\x", "octet", &[]), &root)).0,
            2
        );
        assert_eq!(
            error_of(s.handle_request(now, PEER, &rrq("x", "octet", &[]), &root)).0,
            1
        );
    }
}
