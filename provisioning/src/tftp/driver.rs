//! The TFTP driver: the server's port and one task per transfer.
//!
//! The listening loop receives requests and hands each to the [`Server`] core; a transfer it
//! starts gets its own UDP socket on an ephemeral port (its transfer ID, RFC 1350 §4) and its
//! own task, which runs the [`Transfer`] core's loop: send what `poll_transmit` gives (reading
//! each DATA block with a positioned read at its offset, so no file is ever buffered whole),
//! then wait for a datagram or `poll_timeout`. Everything that needs a test lives in the cores.
//!
//! The core is shared behind a mutex with the transfer tasks (which report their end to it) and
//! with [`Handle`]s (which read its counters); each holds the lock for one call.
//!
//! Reads of the content are plain blocking `pread`s on the runtime's threads: they are served
//! from the page cache for the small configuration files and firmware images this serves, and a
//! `spawn_blocking` per block would cost more than the read.
// Drivers are where real time enters: the clock and timers are read here and nowhere else.
#![allow(clippy::disallowed_methods)]

use std::future::Future;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use quinn_udp::UdpSocketState;
use socket2::{Domain, Protocol, Socket, Type};
use tokio::io::Interest;
use tokio::net::UdpSocket;
use tokio::task::JoinSet;
use tracing::{Instrument, debug, debug_span, info, warn};

use super::server::{self, Content, Decision, Files, Server, Stats};
use super::transfer::{self, Transfer, Transmit};
use super::wire::{self, DATA_HEADER_LEN, ErrorCode};

/// The largest datagram read on the server's port or a transfer's: requests are at most a few
/// hundred bytes, ACKs and ERRORs fewer; a longer datagram is truncated and fails to parse.
const RECV_BUFFER: usize = 2048;
/// The listening socket's receive buffer, to ride out a storm of requests.
const LISTEN_RCVBUF: usize = 1 << 20;

/// The driver's settings.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Where requests come (default `0.0.0.0:69`).
    pub listen: SocketAddr,
    /// The only interface served (`SO_BINDTODEVICE`), for the server's port and every
    /// transfer's; `None` serves any.
    pub interface: Option<String>,
    /// Transfers at once (default 4096); more are refused with ERROR 0 "busy".
    pub max_transfers: usize,
    /// How transfers negotiate and retransmit (set its path MTU from the interface's).
    pub transfer: transfer::Config,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 69),
            interface: None,
            max_transfers: 4096,
            transfer: transfer::Config::default(),
        }
    }
}

/// Reads a running server's counters.
#[derive(Debug, Clone)]
pub struct Handle {
    server: Arc<Mutex<Server>>,
}

impl Handle {
    /// The counters so far, running transfers' own counted when they end.
    pub fn stats(&self) -> Stats {
        *lock(&self.server).stats()
    }

    /// Transfers running.
    pub fn active(&self) -> usize {
        lock(&self.server).active()
    }
}

fn lock(server: &Mutex<Server>) -> MutexGuard<'_, Server> {
    server.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A bound TFTP server, ready to [`Tftpd::run`].
pub struct Tftpd {
    socket: UdpSocket,
    config: DriverConfig,
    files: Arc<dyn Files>,
    server: Arc<Mutex<Server>>,
}

impl std::fmt::Debug for Tftpd {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tftpd")
            .field("socket", &self.socket)
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Tftpd {
    /// Binds the server's port.
    ///
    /// # Errors
    /// When the socket cannot be bound (or bound to the interface).
    pub fn bind(config: DriverConfig, files: Arc<dyn Files>) -> io::Result<Self> {
        let socket = udp_socket(config.listen, config.interface.as_deref())?;
        let mut server = server::Config::default();
        server
            .max_transfers(config.max_transfers)
            .transfer(config.transfer.clone());
        info!(listen = %socket.local_addr()?, interface = ?config.interface, "TFTP server bound");
        Ok(Self {
            socket,
            config,
            files,
            server: Arc::new(Mutex::new(Server::new(server))),
        })
    }

    /// The address bound (with the port chosen when `listen` had port 0).
    ///
    /// # Errors
    /// From the socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.socket.local_addr()
    }

    /// A handle on the counters.
    pub fn handle(&self) -> Handle {
        Handle {
            server: self.server.clone(),
        }
    }

    /// Serves until `shutdown` completes; transfers still running are then stopped.
    ///
    /// # Errors
    /// Never, today: receive errors on the server's port are logged and the loop goes on.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        tokio::pin!(shutdown);
        let mut buf = vec![0u8; RECV_BUFFER];
        let mut tasks = JoinSet::new();
        loop {
            tokio::select! {
                () = &mut shutdown => break,
                Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
                r = self.socket.recv_from(&mut buf) => {
                    match r {
                        Ok((n, from)) => self.dispatch(from, &buf[..n], &mut tasks).await,
                        Err(e) => debug!(error = %e, "receive error on the server's port"),
                    }
                    // A burst of requests costs one wake-up.
                    while let Ok((n, from)) = self.socket.try_recv_from(&mut buf) {
                        self.dispatch(from, &buf[..n], &mut tasks).await;
                    }
                }
            }
        }
        info!(running = tasks.len(), "TFTP server stops");
        tasks.abort_all();
        Ok(())
    }

    async fn dispatch(&self, from: SocketAddr, datagram: &[u8], tasks: &mut JoinSet<()>) {
        let decision = lock(&self.server).handle_request(now(), from, datagram, &*self.files);
        match decision {
            Decision::Start { transfer, content } => {
                let local = SocketAddr::new(self.config.listen.ip(), 0);
                match udp_socket(local, self.config.interface.as_deref()) {
                    Ok(socket) => {
                        let span = debug_span!("tftp", peer = %from);
                        let server = self.server.clone();
                        tasks.spawn(serve(socket, *transfer, content, server).instrument(span));
                    }
                    Err(e) => {
                        warn!(error = %e, "no socket for a transfer");
                        let mut transfer = *transfer;
                        transfer.abort(ErrorCode::UNDEFINED, "Server out of sockets");
                        while let Some(t) = transfer.poll_transmit() {
                            if let Transmit::Packet { to, bytes } = t {
                                let _ = self.socket.send_to(&bytes, to).await;
                            }
                        }
                        lock(&self.server).finished(&transfer);
                    }
                }
            }
            Decision::Reply { to, bytes } => {
                if let Err(e) = self.socket.send_to(&bytes, to).await {
                    debug!(%to, error = %e, "cannot send an ERROR");
                }
            }
            Decision::Drop => {}
        }
    }
}

/// Binds and serves until `shutdown`: [`Tftpd::bind`] then [`Tftpd::run`].
///
/// # Errors
/// When the server's port cannot be bound.
pub async fn run(
    config: DriverConfig,
    files: Arc<dyn Files>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    Tftpd::bind(config, files)?.run(shutdown).await
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

fn udp_socket(addr: SocketAddr, interface: Option<&str>) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::for_address(addr), Type::DGRAM, Some(Protocol::UDP))?;
    if let Some(name) = interface {
        socket.bind_device(Some(name.as_bytes()))?;
    }
    if addr.port() != 0 {
        // The server's port: room for a storm of requests (the kernel caps it at rmem_max).
        let _ = socket.set_recv_buffer_size(LISTEN_RCVBUF);
    }
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    UdpSocket::from_std(socket.into())
}

async fn send(socket: &UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, to).await {
        // Lost like a dropped datagram: the timer resends it.
        debug!(%to, error = %e, "send failed");
    }
}

/// DATA packets to one client gathered to go out in one system call with UDP segmentation
/// offload (GSO, where the kernel has it): equal segments, the last one possibly shorter.
/// Without GSO it holds one packet at a time.
struct Batch {
    state: Option<UdpSocketState>,
    buf: Vec<u8>,
    segment: usize,
    segments: usize,
    max_segments: usize,
    to: Option<SocketAddr>,
    /// A segment shorter than the others was added: it must be the last.
    closed: bool,
}

/// The most bytes one GSO send carries (a UDP datagram's limit, with room for headers).
const MAX_BATCH_BYTES: usize = 65_000;

impl Batch {
    /// A batch for `window` packets of at most `segment` bytes: lockstep transfers (a window of
    /// one) skip the GSO setup, which costs a few system calls.
    fn new(socket: &UdpSocket, segment: usize, window: u16) -> Self {
        let state = (window > 1)
            .then(|| UdpSocketState::new(socket.into()).ok())
            .flatten();
        let gso = state.as_ref().map_or(1, UdpSocketState::max_gso_segments);
        let max_segments = gso.min(MAX_BATCH_BYTES / segment).max(1);
        Self {
            state,
            buf: Vec::with_capacity(segment * max_segments.min(usize::from(window))),
            segment,
            segments: 0,
            max_segments,
            to: None,
            closed: false,
        }
    }

    /// Whether a packet of `len` bytes to `to` can join the batch.
    fn fits(&self, to: SocketAddr, len: usize) -> bool {
        self.segments == 0
            || (self.to == Some(to)
                && !self.closed
                && self.segments < self.max_segments
                && len <= self.segment)
    }

    /// Room for a packet of `len` bytes at the end (after [`Self::fits`] said yes).
    fn push(&mut self, to: SocketAddr, len: usize) -> &mut [u8] {
        self.to = Some(to);
        self.closed = len < self.segment;
        self.segments += 1;
        let start = self.buf.len();
        self.buf.resize(start + len, 0);
        &mut self.buf[start..]
    }

    /// Takes back the last packet pushed.
    fn pop(&mut self) {
        self.segments -= 1;
        self.buf.truncate(self.segments * self.segment);
        self.closed = false;
    }

    async fn flush(&mut self, socket: &UdpSocket) {
        let Some(to) = self.to.take() else {
            return;
        };
        if self.segments > 1
            && let Some(state) = &self.state
        {
            let transmit = quinn_udp::Transmit {
                destination: to,
                ecn: None,
                contents: &self.buf,
                segment_size: Some(self.segment),
                src_ip: None,
            };
            let sent = socket
                .async_io(Interest::WRITABLE, || {
                    state.try_send(socket.into(), &transmit)
                })
                .await;
            if let Err(e) = sent {
                // Send them one by one instead.
                debug!(%to, error = %e, "GSO send failed");
                for packet in self.buf.chunks(self.segment) {
                    send(socket, packet, to).await;
                }
            }
        } else if self.segments > 0 {
            send(socket, &self.buf, to).await;
        }
        self.buf.clear();
        self.segments = 0;
        self.closed = false;
    }
}

/// One transfer's loop, on its own socket.
async fn serve(
    socket: UdpSocket,
    mut transfer: Transfer,
    content: Content,
    server: Arc<Mutex<Server>>,
) {
    let blksize = usize::from(transfer.negotiated().blksize);
    let window = transfer.negotiated().windowsize;
    let mut batch = Batch::new(&socket, DATA_HEADER_LEN + blksize, window);
    let mut inbuf = [0u8; RECV_BUFFER];
    let mut content = server::ReadAhead::new(content);
    loop {
        while let Some(t) = transfer.poll_transmit() {
            match t {
                Transmit::Data {
                    to,
                    block,
                    offset,
                    len,
                } => {
                    if !batch.fits(to, DATA_HEADER_LEN + len) {
                        batch.flush(&socket).await;
                    }
                    let packet = batch.push(to, DATA_HEADER_LEN + len);
                    packet[..DATA_HEADER_LEN].copy_from_slice(&wire::data_header(block));
                    if let Err(e) = content.read_at(&mut packet[DATA_HEADER_LEN..], offset) {
                        debug!(error = %e, offset, "cannot read the content");
                        batch.pop();
                        transfer.abort(ErrorCode::UNDEFINED, "Cannot read the file");
                    }
                }
                Transmit::Packet { to, bytes } => {
                    batch.flush(&socket).await;
                    send(&socket, &bytes, to).await;
                }
            }
        }
        batch.flush(&socket).await;
        if transfer.is_done() {
            break;
        }
        let Some(deadline) = transfer.poll_timeout() else {
            break;
        };
        match tokio::time::timeout_at(deadline.into(), socket.recv_from(&mut inbuf)).await {
            Ok(Ok((n, from))) => {
                transfer.handle_datagram(now(), from, &inbuf[..n]);
                // With windows, several ACKs may be waiting; one block at a time, the next
                // datagram is the next turn's (a system call saved per block).
                if window > 1 {
                    while let Ok((n, from)) = socket.try_recv_from(&mut inbuf) {
                        transfer.handle_datagram(now(), from, &inbuf[..n]);
                    }
                }
            }
            Ok(Err(e)) => {
                debug!(error = %e, "receive error");
                tokio::time::sleep_until(deadline.into()).await;
                transfer.handle_timeout(now());
            }
            Err(_) => transfer.handle_timeout(now()),
        }
    }
    debug!(outcome = ?transfer.outcome(), stats = ?transfer.stats(), "transfer over");
    lock(&server).finished(&transfer);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tftp::wire::Repr;
    use std::time::Duration;

    struct One;

    impl Files for One {
        fn open(&self, name: &str, _peer: SocketAddr) -> Result<Content, crate::files::Refusal> {
            match name {
                "big" => Ok(Content::Memory((0..100_000u32).map(|i| i as u8).collect())),
                _ => Err(crate::files::Refusal::NotFound),
            }
        }
    }

    async fn start(config: DriverConfig) -> (SocketAddr, Handle, tokio::sync::oneshot::Sender<()>) {
        let d = Tftpd::bind(config, Arc::new(One)).unwrap();
        let addr = d.local_addr().unwrap();
        let handle = d.handle();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(d.run(async {
            let _ = rx.await;
        }));
        (addr, handle, tx)
    }

    fn loopback() -> DriverConfig {
        DriverConfig {
            listen: "127.0.0.1:0".parse().unwrap(),
            ..DriverConfig::default()
        }
    }

    /// A lockstep client on loopback; returns the file.
    async fn fetch(server: SocketAddr, name: &str, options: &[(&str, &str)]) -> Vec<u8> {
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut rrq = b"\x00\x01".to_vec();
        for s in [name, "octet"]
            .into_iter()
            .chain(options.iter().flat_map(|(a, b)| [*a, *b]))
        {
            rrq.extend_from_slice(s.as_bytes());
            rrq.push(0);
        }
        sock.send_to(&rrq, server).await.unwrap();
        let mut data = Vec::new();
        let mut buf = vec![0u8; 70_000];
        let mut blksize = 512;
        loop {
            let (n, from) = sock.recv_from(&mut buf).await.unwrap();
            assert_ne!(from, server, "a transfer answers from its own port");
            match Repr::parse(&buf[..n]).unwrap() {
                Repr::Oack { options } => {
                    for o in options {
                        if o.name == "blksize" {
                            blksize = o.value.parse().unwrap();
                        }
                    }
                    sock.send_to(b"\x00\x04\x00\x00", from).await.unwrap();
                }
                Repr::Data { block, data: d } => {
                    data.extend_from_slice(d);
                    let ack = Repr::Ack { block }.to_vec().unwrap();
                    sock.send_to(&ack, from).await.unwrap();
                    if d.len() < blksize {
                        return data;
                    }
                }
                other => panic!("{other:?}"),
            }
        }
    }

    #[tokio::test]
    async fn serves_on_loopback_and_counts() {
        let (addr, handle, stop) = start(loopback()).await;
        let want: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        assert_eq!(fetch(addr, "big", &[]).await, want);
        assert_eq!(
            fetch(addr, "big", &[("blksize", "1468"), ("tsize", "0")]).await,
            want
        );
        // Completion is counted when the task ends, right after the final ACK.
        while handle.active() > 0 {
            tokio::task::yield_now().await;
        }
        let s = handle.stats();
        assert_eq!((s.started, s.completed, s.bytes), (2, 2, 200_000));
        // A missing file: ERROR 1 from the server's port.
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sock.send_to(b"\x00\x01nope\x00octet\x00", addr)
            .await
            .unwrap();
        let mut buf = [0u8; 100];
        let (n, from) = sock.recv_from(&mut buf).await.unwrap();
        assert_eq!(from, addr);
        assert!(matches!(
            Repr::parse(&buf[..n]),
            Ok(Repr::Error {
                code: ErrorCode::FILE_NOT_FOUND,
                ..
            })
        ));
        assert_eq!(handle.stats().refused.not_found, 1);
        stop.send(()).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn a_silent_client_is_given_up() {
        let mut config = loopback();
        config.transfer.retries(2);
        let (addr, handle, _stop) = start(config).await;
        let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        sock.send_to(b"\x00\x01big\x00octet\x00", addr)
            .await
            .unwrap();
        let mut buf = [0u8; 1000];
        let mut datas = 0;
        loop {
            let (n, _) = sock.recv_from(&mut buf).await.unwrap();
            match Repr::parse(&buf[..n]).unwrap() {
                Repr::Data { block: 1, .. } => datas += 1,
                Repr::Error { code, .. } => {
                    assert_eq!(code, ErrorCode::UNDEFINED);
                    break;
                }
                other => panic!("{other:?}"),
            }
        }
        assert_eq!(datas, 3, "sent once and retried twice");
        while handle.active() > 0 {
            tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_millis(1)).await;
        }
        let s = handle.stats();
        assert_eq!((s.failed, s.timed_out, s.retransmits), (1, 1, 2));
    }

    #[tokio::test]
    async fn the_transfer_limit_answers_busy() {
        let mut config = loopback();
        config.max_transfers = 1;
        let (addr, handle, _stop) = start(config).await;
        let a = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        a.send_to(b"\x00\x01big\x00octet\x00", addr).await.unwrap();
        let mut buf = [0u8; 1000];
        a.recv_from(&mut buf).await.unwrap(); // DATA 1, and no ACK: it stays running
        let b = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        b.send_to(b"\x00\x01big\x00octet\x00", addr).await.unwrap();
        let (n, _) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!(
            &buf[..n],
            b"\x00\x05\x00\x00Server busy, try again later\x00"
        );
        assert_eq!(handle.stats().refused.busy, 1);
    }
}
