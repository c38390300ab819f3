//! The TFTP driver: the server's port and one task or thread per transfer.
//!
//! The listening loop receives requests and hands each to the [`Server`] core; a transfer it
//! starts gets its own UDP socket on an ephemeral port (its transfer ID, RFC 1350 §4) and runs
//! the [`Transfer`] core's loop: send what `poll_transmit` gives (reading each DATA block with a
//! positioned read at its offset, so no file is ever buffered whole), then wait for a datagram
//! or `poll_timeout`. Everything that needs a test lives in the cores.
//!
//! Where the loop runs depends on the transfer:
//! - **One block per ACK** (no `windowsize`, as most phones fetch) of [`THREAD_BYTES`] or more
//!   (a firmware image): on a thread of the blocking pool, up to
//!   [`DriverConfig::lockstep_threads`] at once, with a blocking `recvfrom` whose timeout is the
//!   core's deadline. Each block is then one send and one receive that sleeps in the kernel until
//!   the ACK, as tftpd-hpa's forked process does. On a task the same block costs a failing
//!   `recvfrom`, an `epoll_wait` and a wake-up besides, which made a 10 MiB lockstep transfer
//!   1–9 % slower than tftpd-hpa's (docs/PERFORMANCE.md).
//! - **Everything else**: windowed transfers, small files (a boot storm of configuration files,
//!   where handing each to a thread cost 8 % of the files per second) and lockstep ones past the
//!   thread limit run as tokio tasks, so thousands at once cost no more than their buffers.
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
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

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
/// The least content a lockstep transfer must have to be given a thread.
pub const THREAD_BYTES: u64 = 64 * 1024;
/// The longest a transfer's thread sleeps in `recvfrom` before it looks whether the server
/// stops (a client may ask for a timeout of up to 255 s, RFC 2349).
const STOP_CHECK: Duration = Duration::from_millis(250);

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
    /// One-block-per-ACK transfers of [`THREAD_BYTES`] or more served on threads of their own
    /// at once (default 64); more run as tasks (see the module's documentation). 0 runs every
    /// transfer as a task.
    pub lockstep_threads: usize,
    /// How transfers negotiate and retransmit (set its path MTU from the interface's).
    pub transfer: transfer::Config,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 69),
            interface: None,
            max_transfers: 4096,
            lockstep_threads: 64,
            transfer: transfer::Config::default(),
        }
    }
}

/// Reads a running server's counters.
#[derive(Debug, Clone)]
pub struct Handle {
    server: Arc<Mutex<Server>>,
    threads: Arc<AtomicUsize>,
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

    /// Of those, the ones running on threads of their own ([`DriverConfig::lockstep_threads`]).
    pub fn on_threads(&self) -> usize {
        self.threads.load(Ordering::Acquire)
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
    /// Transfers running on threads now.
    threads: Arc<AtomicUsize>,
    /// Set when the server stops, for the transfers' threads (a task is aborted instead).
    stop: Arc<AtomicBool>,
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
            threads: Arc::new(AtomicUsize::new(0)),
            stop: Arc::new(AtomicBool::new(false)),
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
            threads: self.threads.clone(),
        }
    }

    /// Serves until `shutdown` completes; transfers still running are then stopped.
    ///
    /// # Errors
    /// Never, today: receive errors on the server's port are logged and the loop goes on.
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> io::Result<()> {
        tokio::pin!(shutdown);
        let _stop = StopOnDrop(self.stop.clone());
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
                let socket = match bound_socket(local, self.config.interface.as_deref()) {
                    Ok(socket) => socket,
                    Err(e) => return self.out_of_sockets(*transfer, &e).await,
                };
                let span = debug_span!("tftp", peer = %from);
                let server = self.server.clone();
                let lockstep =
                    transfer.negotiated().windowsize == 1 && content.len() >= THREAD_BYTES;
                if let Some(slot) = lockstep
                    .then(|| ThreadSlot::take(&self.threads, self.config.lockstep_threads))
                    .flatten()
                {
                    let stop = self.stop.clone();
                    tasks.spawn_blocking(move || {
                        let transfer =
                            span.in_scope(|| serve_lockstep(socket, *transfer, content, &stop));
                        // The thread is free before the transfer counts as ended.
                        drop(slot);
                        lock(&server).finished(&transfer);
                    });
                } else {
                    match UdpSocket::from_std(socket) {
                        Ok(socket) => {
                            tasks.spawn(serve(socket, *transfer, content, server).instrument(span));
                        }
                        Err(e) => self.out_of_sockets(*transfer, &e).await,
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

    /// A transfer that got no socket of its own ends at once with an ERROR from the server's.
    async fn out_of_sockets(&self, mut transfer: Transfer, e: &io::Error) {
        warn!(error = %e, "no socket for a transfer");
        transfer.abort(ErrorCode::UNDEFINED, "Server out of sockets");
        while let Some(t) = transfer.poll_transmit() {
            if let Transmit::Packet { to, bytes } = t {
                let _ = self.socket.send_to(&bytes, to).await;
            }
        }
        lock(&self.server).finished(&transfer);
    }
}

/// Tells the transfers' threads that the server stopped, however [`Tftpd::run`] ends.
struct StopOnDrop(Arc<AtomicBool>);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// One of the [`DriverConfig::lockstep_threads`], held while its transfer runs.
struct ThreadSlot(Arc<AtomicUsize>);

impl ThreadSlot {
    /// A slot if fewer than `limit` are held.
    fn take(threads: &Arc<AtomicUsize>, limit: usize) -> Option<Self> {
        threads
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < limit).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(threads.clone()))
    }
}

impl Drop for ThreadSlot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
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
    UdpSocket::from_std(bound_socket(addr, interface)?)
}

/// A non-blocking UDP socket bound to `addr` (and to `interface`).
fn bound_socket(addr: SocketAddr, interface: Option<&str>) -> io::Result<std::net::UdpSocket> {
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
    Ok(socket.into())
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

/// One lockstep transfer's loop on a thread of the blocking pool (see the module's
/// documentation): the same steps as [`serve`]'s, with blocking system calls. Returns the
/// transfer when it has ended.
fn serve_lockstep(
    socket: std::net::UdpSocket,
    mut transfer: Transfer,
    content: Content,
    stop: &AtomicBool,
) -> Transfer {
    if let Err(e) = socket.set_nonblocking(false) {
        debug!(error = %e, "cannot make the socket blocking");
        transfer.abort(ErrorCode::UNDEFINED, "Server out of sockets");
    }
    let mut packet = vec![0u8; DATA_HEADER_LEN + usize::from(transfer.negotiated().blksize)];
    let mut inbuf = [0u8; RECV_BUFFER];
    let mut content = server::ReadAhead::new(content);
    // The receive timeout set on the socket: one block at a time every wait is the same, so it
    // is set again only when the wait needed differs by more than a millisecond.
    let mut waits: Option<Duration> = None;
    loop {
        while let Some(t) = transfer.poll_transmit() {
            match t {
                Transmit::Data {
                    to,
                    block,
                    offset,
                    len,
                } => {
                    let packet = &mut packet[..DATA_HEADER_LEN + len];
                    packet[..DATA_HEADER_LEN].copy_from_slice(&wire::data_header(block));
                    match content.read_at(&mut packet[DATA_HEADER_LEN..], offset) {
                        Ok(()) => send_blocking(&socket, packet, to),
                        Err(e) => {
                            debug!(error = %e, offset, "cannot read the content");
                            transfer.abort(ErrorCode::UNDEFINED, "Cannot read the file");
                        }
                    }
                }
                Transmit::Packet { to, bytes } => send_blocking(&socket, &bytes, to),
            }
        }
        if transfer.is_done() {
            break;
        }
        let Some(deadline) = transfer.poll_timeout() else {
            break;
        };
        if stop.load(Ordering::Acquire) {
            transfer.abort(ErrorCode::UNDEFINED, "Server stopping");
            continue;
        }
        let now = Instant::now();
        if now >= deadline {
            transfer.handle_timeout(now);
            continue;
        }
        let wait = (deadline - now).min(STOP_CHECK);
        if waits.is_none_or(|w| w.abs_diff(wait) > Duration::from_millis(1)) {
            // A zero timeout would block for ever; `wait` is at least a nanosecond here.
            if let Err(e) = socket.set_read_timeout(Some(wait)) {
                debug!(error = %e, "cannot set the receive timeout");
            }
            waits = Some(wait);
        }
        match socket.recv_from(&mut inbuf) {
            Ok((n, from)) => transfer.handle_datagram(Instant::now(), from, &inbuf[..n]),
            // Timed out: the deadline (or the stop) is looked at above.
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) => {}
            Err(e) => {
                debug!(error = %e, "receive error");
                std::thread::sleep(wait);
            }
        }
    }
    debug!(outcome = ?transfer.outcome(), stats = ?transfer.stats(), "transfer over");
    transfer
}

fn send_blocking(socket: &std::net::UdpSocket, bytes: &[u8], to: SocketAddr) {
    if let Err(e) = socket.send_to(bytes, to) {
        // Lost like a dropped datagram: the timer resends it.
        debug!(%to, error = %e, "send failed");
    }
}

#[cfg(test)]
mod tests;
