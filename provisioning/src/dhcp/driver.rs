//! The DHCP driver: a [`Server`] on a UDP socket bound to the LAN interface (feature `driver`).
//!
//! One loop, as STYLE.md's thin drivers are: receive a datagram (and every other one already
//! waiting, up to [`RECV_BATCH`]), hand each to [`Server::handle_datagram`], drain
//! [`Server::poll_transmit`] and [`Server::poll_event`], send, then sleep until
//! [`Server::poll_timeout`] or the next datagram. The server sits behind a [`Handle`], a mutex
//! held only for one of those synchronous calls and never across an `await`, so the appliance
//! can edit reservations and read leases and counters while the loop runs.
//!
//! # Durability before the ACK
//! A [`Transmit`] that carries a lease (an ACK) is held until [`LeaseStore::save`] of that lease
//! has resolved `Ok`: no client is told of a lease that a crash would forget, and a restarted
//! server never hands a held address to another MAC. Saves are grouped:
//! while one is in flight, the next batch accumulates, and when it resolves all of its replies
//! go out at once, so a store that fsyncs once per call (a few milliseconds) still serves
//! thousands of clients a second. A failed save sends none of its batch's replies (the clients
//! retry; counted as `save_failures`). Replies without a lease (OFFER, NAK, INFORM's ACK) go out
//! at once, and [`Event::LeaseChanged`] leases (RELEASE, DECLINE, expiry) are saved in the same
//! batches without holding anything back.
//!
//! # Decisions worth knowing
//! - The socket is bound to `0.0.0.0:67` (broadcasts arrive only there) with `SO_BINDTODEVICE`,
//!   so only the configured interface is served and broadcast replies leave by it. Binding a
//!   device needs `CAP_NET_RAW`; the appliance runs as root or with that capability.
//! - Wall-clock time ([`UnixTime`]) is read from the system clock at each input: leases persist
//!   across restarts, so their expiry is wall time. The sleep towards [`Server::poll_timeout`] is
//!   capped at [`MAX_SLEEP`], so a clock stepped by NTP after boot is noticed within a minute.
//! - Datagrams are received into a 64 KiB buffer and handed to the core whole: the core's size
//!   limit counts oversize ones, the kernel never silently truncates them.

// The driver is where time comes in: wall-clock seconds for the lease core (SystemTime) and a
// monotonic deadline for tokio's timer; clippy.toml bans both in the sans-IO cores.
#![allow(clippy::disallowed_methods)]

use std::future::Future;
use std::io;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use socket2::{Domain, Protocol, Socket, Type};
use tokio::net::UdpSocket;
use tokio::sync::{Notify, mpsc};
use tracing::{debug, info, warn};

use super::{Event, Lease, Reservation, Server, Transmit, UnixTime};

/// The receive buffer: large enough that the kernel never truncates a datagram, so the core
/// sees (and counts) oversize ones.
pub const RECV_BUFFER: usize = 65_536;
/// The most datagrams handled in one turn of the loop (those already waiting on the socket).
pub const RECV_BATCH: usize = 64;
/// The most replies (and changed leases) waiting for a save; further ones are dropped and
/// counted (`held_overflow`): a store that has stopped answering must not eat the memory.
pub const MAX_HELD: usize = 16_384;
/// The longest the loop sleeps without looking at the clock again.
pub const MAX_SLEEP: Duration = Duration::from_secs(60);
/// Consecutive receive errors after which the socket is taken to be gone.
pub const MAX_RECV_ERRORS: u32 = 1_000;
/// The kernel receive buffer asked for, so that a burst of DISCOVERs waits rather than drops.
const SOCKET_RECV_BUFFER: usize = 4 << 20;

/// Where leases are made durable (the appliance's database; a file in the example server).
pub trait LeaseStore: Send + Sync + 'static {
    /// Makes these leases durable (fsynced) before resolving. Called with a batch: every lease
    /// whose ACK waits, and those changed by RELEASE, DECLINE or expiry since the last call.
    /// A later lease for the same MAC or address replaces an earlier one.
    fn save(
        &self,
        leases: Vec<Lease>,
    ) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + '_>>;
}

/// A [`LeaseStore`] failure.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// Writing or syncing failed.
    #[error("lease store I/O: {0}")]
    Io(#[from] io::Error),
    /// The store's own failure (a database error, say).
    #[error("lease store: {0}")]
    Store(String),
}

/// Where the driver listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriverConfig {
    /// The LAN interface served (`SO_BINDTODEVICE`). `None` only in tests that run in a network
    /// namespace of their own; a server on a real machine always names its interface.
    pub interface: Option<String>,
    /// The address and port bound (default `0.0.0.0:67`).
    pub listen: SocketAddrV4,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            interface: None,
            listen: SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, 67),
        }
    }
}

/// The driver's own counters (the core's are [`Server::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DriverStats {
    /// Datagrams received and handed to the core.
    pub received: u64,
    /// Receive errors (ICMP errors surfacing on the socket and the like).
    pub recv_errors: u64,
    /// Datagrams sent.
    pub sent: u64,
    /// Sends that failed (unreachable destination, full buffers).
    pub send_errors: u64,
    /// Calls to [`LeaseStore::save`] that succeeded.
    pub saves: u64,
    /// Leases in those calls.
    pub saved_leases: u64,
    /// Calls to [`LeaseStore::save`] that failed.
    pub save_failures: u64,
    /// Replies not sent because their lease's save failed.
    pub unsaved_replies: u64,
    /// Replies or changed leases dropped because [`MAX_HELD`] were already waiting.
    pub held_overflow: u64,
    /// Events dropped because the event channel was full or closed.
    pub events_dropped: u64,
}

impl DriverStats {
    /// Every counter with its name, for metrics.
    pub fn counters(&self) -> [(&'static str, u64); 10] {
        [
            ("received", self.received),
            ("recv_errors", self.recv_errors),
            ("sent", self.sent),
            ("send_errors", self.send_errors),
            ("saves", self.saves),
            ("saved_leases", self.saved_leases),
            ("save_failures", self.save_failures),
            ("unsaved_replies", self.unsaved_replies),
            ("held_overflow", self.held_overflow),
            ("events_dropped", self.events_dropped),
        ]
    }
}

#[derive(Default)]
struct Counters {
    received: AtomicU64,
    recv_errors: AtomicU64,
    sent: AtomicU64,
    send_errors: AtomicU64,
    saves: AtomicU64,
    saved_leases: AtomicU64,
    save_failures: AtomicU64,
    unsaved_replies: AtomicU64,
    held_overflow: AtomicU64,
    events_dropped: AtomicU64,
}

fn add(counter: &AtomicU64, n: u64) {
    counter.fetch_add(n, Ordering::Relaxed);
}

struct Shared {
    server: Mutex<Server>,
    /// Wakes the loop after a [`Handle`] changed the server, to drain it and re-arm its timer.
    changed: Notify,
    counters: Counters,
}

/// The running server, shared between the driver loop and the appliance. Cloneable.
#[derive(Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Handle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Handle")
            .field("driver_stats", &self.driver_stats())
            .finish_non_exhaustive()
    }
}

impl Handle {
    /// Wraps a server for [`run`].
    pub fn new(server: Server) -> Self {
        Self {
            shared: Arc::new(Shared {
                server: Mutex::new(server),
                changed: Notify::new(),
                counters: Counters::default(),
            }),
        }
    }

    /// Replaces the reservations (devices edited at run time): [`Server::set_reservations`].
    pub fn set_reservations(&self, reservations: Vec<Reservation>) {
        self.lock().set_reservations(reservations);
        self.shared.changed.notify_one();
    }

    /// A copy of every lease the server knows.
    pub fn leases(&self) -> Vec<Lease> {
        self.lock().leases().cloned().collect()
    }

    /// Runs `f` on the server (to read [`Server::stats`], say). `f` runs under the lock that
    /// the loop takes for each datagram: keep it short.
    pub fn with_server<R>(&self, f: impl FnOnce(&Server) -> R) -> R {
        f(&self.lock())
    }

    /// The driver's own counters.
    pub fn driver_stats(&self) -> DriverStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        DriverStats {
            received: get(&c.received),
            recv_errors: get(&c.recv_errors),
            sent: get(&c.sent),
            send_errors: get(&c.send_errors),
            saves: get(&c.saves),
            saved_leases: get(&c.saved_leases),
            save_failures: get(&c.save_failures),
            unsaved_replies: get(&c.unsaved_replies),
            held_overflow: get(&c.held_overflow),
            events_dropped: get(&c.events_dropped),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Server> {
        // A panic under the lock leaves the server as it was between two calls: still usable.
        self.shared
            .server
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The UDP socket of `config`: `SO_REUSEADDR`, `SO_BROADCAST`, `SO_BINDTODEVICE` when an
/// interface is named, bound to `config.listen`. Separate from [`serve`] so that a caller can
/// bind before it drops privileges.
pub fn bind(config: &DriverConfig) -> io::Result<UdpSocket> {
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    socket.set_reuse_address(true)?;
    socket.set_broadcast(true)?;
    if let Some(interface) = &config.interface {
        socket.bind_device(Some(interface.as_bytes()))?;
    }
    // A smaller buffer than asked for is fine (the kernel caps it at rmem_max).
    let _ = socket.set_recv_buffer_size(SOCKET_RECV_BUFFER);
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::V4(config.listen).into())?;
    UdpSocket::from_std(socket.into())
}

/// Binds `config` ([`bind`]) and [`serve`]s on it until `shutdown` resolves.
pub async fn run(
    config: DriverConfig,
    handle: Handle,
    store: Arc<dyn LeaseStore>,
    events: mpsc::Sender<Event>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let socket = bind(&config)?;
    info!(
        interface = config.interface.as_deref().unwrap_or("*"),
        listen = %config.listen,
        "DHCP server listening"
    );
    serve(socket, handle, store, events, shutdown).await
}

type SaveFuture<'a> = Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + 'a>>;

/// A save in flight and the replies it gates.
struct Saving<'a> {
    future: SaveFuture<'a>,
    replies: Vec<Transmit>,
    leases: u64,
}

/// The driver loop on a bound socket (see the module documentation). Returns when `shutdown`
/// resolves (after the saves in progress and their replies are done), or with the error of a
/// socket that has gone away.
pub async fn serve(
    socket: UdpSocket,
    handle: Handle,
    store: Arc<dyn LeaseStore>,
    events: mpsc::Sender<Event>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    let store: &dyn LeaseStore = &*store;
    let counters = &handle.shared.counters;
    let mut buf = vec![0u8; RECV_BUFFER];
    let mut ready: Vec<Transmit> = Vec::new();
    let mut held: Vec<Transmit> = Vec::new();
    let mut changed: Vec<Lease> = Vec::new();
    let mut saving: Option<Saving<'_>> = None;
    let mut recv_errors = 0u32;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let deadline = drain(&handle, &mut ready, &mut held, &mut changed, &events);
        for t in ready.drain(..) {
            send(&socket, &t, counters).await;
        }
        if saving.is_none() {
            saving = start_save(store, &mut held, &mut changed);
        }
        tokio::select! {
            () = &mut shutdown => break,
            received = socket.recv_from(&mut buf) => match received {
                Ok((len, from)) => {
                    recv_errors = 0;
                    let now = unix_now();
                    let mut server = handle.lock();
                    let mut n = 0;
                    if let SocketAddr::V4(from) = from {
                        server.handle_datagram(now, from, &buf[..len]);
                        n += 1;
                    }
                    for _ in 1..RECV_BATCH {
                        match socket.try_recv_from(&mut buf) {
                            Ok((len, SocketAddr::V4(from))) => {
                                server.handle_datagram(now, from, &buf[..len]);
                                n += 1;
                            }
                            Ok(_) => {}
                            Err(_) => break,
                        }
                    }
                    add(&counters.received, n);
                }
                Err(e) => {
                    add(&counters.recv_errors, 1);
                    debug!(error = %e, "DHCP receive error");
                    recv_errors += 1;
                    if recv_errors >= MAX_RECV_ERRORS {
                        warn!(error = %e, "DHCP socket fails every receive; stopping");
                        return Err(e);
                    }
                }
            },
            result = wait_save(&mut saving) => {
                if let Some(done) = saving.take() {
                    finish_save(&socket, done, result, counters).await;
                }
            }
            () = sleep_until(deadline) => handle.lock().handle_timeout(unix_now()),
            () = handle.shared.changed.notified() => {}
        }
    }
    // Shutting down: what the core has decided is still sent once its leases are durable.
    if let Some(mut done) = saving.take() {
        let result = done.future.as_mut().await;
        finish_save(&socket, done, result, counters).await;
    }
    drain(&handle, &mut ready, &mut held, &mut changed, &events);
    for t in ready.drain(..) {
        send(&socket, &t, counters).await;
    }
    if let Some(mut done) = start_save(store, &mut held, &mut changed) {
        let result = done.future.as_mut().await;
        finish_save(&socket, done, result, counters).await;
    }
    info!("DHCP server stopped");
    Ok(())
}

/// Drains the core: replies to send now into `ready`, replies gated on a save into `held`,
/// changed leases into `changed`, events into `events`. Returns the core's next deadline.
fn drain(
    handle: &Handle,
    ready: &mut Vec<Transmit>,
    held: &mut Vec<Transmit>,
    changed: &mut Vec<Lease>,
    events: &mpsc::Sender<Event>,
) -> Option<UnixTime> {
    let counters = &handle.shared.counters;
    let mut server = handle.lock();
    while let Some(t) = server.poll_transmit() {
        if t.lease.is_none() {
            ready.push(t);
        } else if held.len() < MAX_HELD {
            held.push(t);
        } else {
            add(&counters.held_overflow, 1);
            debug!(to = %t.destination, "reply dropped: too many waiting for the lease store");
        }
    }
    while let Some(event) = server.poll_event() {
        if let Event::LeaseChanged(lease) = &event {
            if changed.len() < MAX_HELD {
                changed.push(lease.clone());
            } else {
                add(&counters.held_overflow, 1);
                debug!(ip = %lease.ip, "lease change not saved: too many waiting for the store");
            }
        }
        if events.try_send(event).is_err() {
            add(&counters.events_dropped, 1);
            debug!("DHCP event dropped: the channel is full or closed");
        }
    }
    server.poll_timeout()
}

/// Starts saving everything waiting, if anything is.
fn start_save<'a>(
    store: &'a dyn LeaseStore,
    held: &mut Vec<Transmit>,
    changed: &mut Vec<Lease>,
) -> Option<Saving<'a>> {
    if held.is_empty() && changed.is_empty() {
        return None;
    }
    let replies = std::mem::take(held);
    let mut leases: Vec<Lease> = replies.iter().filter_map(|t| t.lease.clone()).collect();
    leases.append(changed);
    let n = leases.len() as u64;
    Some(Saving {
        future: store.save(leases),
        replies,
        leases: n,
    })
}

async fn wait_save(saving: &mut Option<Saving<'_>>) -> Result<(), StoreError> {
    match saving {
        Some(s) => s.future.as_mut().await,
        None => std::future::pending().await,
    }
}

async fn finish_save(
    socket: &UdpSocket,
    done: Saving<'_>,
    result: Result<(), StoreError>,
    counters: &Counters,
) {
    match result {
        Ok(()) => {
            add(&counters.saves, 1);
            add(&counters.saved_leases, done.leases);
            for t in &done.replies {
                send(socket, t, counters).await;
            }
        }
        Err(e) => {
            add(&counters.save_failures, 1);
            add(&counters.unsaved_replies, done.replies.len() as u64);
            warn!(
                error = %e,
                leases = done.leases,
                replies = done.replies.len(),
                "lease store failed; those replies are not sent"
            );
        }
    }
}

async fn send(socket: &UdpSocket, t: &Transmit, counters: &Counters) {
    match socket.send_to(&t.payload, t.destination).await {
        Ok(_) => add(&counters.sent, 1),
        Err(e) => {
            add(&counters.send_errors, 1);
            debug!(to = %t.destination, error = %e, "DHCP send failed");
        }
    }
}

/// Wall-clock seconds since 1970 (0 for a clock set before then).
fn unix_now() -> UnixTime {
    UnixTime(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs()),
    )
}

/// Sleeps until wall-clock `deadline` (at most [`MAX_SLEEP`]); forever without one.
async fn sleep_until(deadline: Option<UnixTime>) {
    let Some(UnixTime(at)) = deadline else {
        return std::future::pending().await;
    };
    let at = UNIX_EPOCH + Duration::from_secs(at);
    let wait = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
        .min(MAX_SLEEP);
    tokio::time::sleep_until(tokio::time::Instant::now() + wait).await;
}

/// The IPv4 address of interface `name` (for [`Server::new`]'s `server_ip`): the first one
/// the system lists. `NotFound` when it has none (or does not exist).
pub fn interface_ipv4(name: &str) -> io::Result<Ipv4Addr> {
    interface_ipv4_net(name).map(|(address, _)| address)
}

/// The first IPv4 address of interface `name` with its prefix length (the link's subnet when
/// the configuration names none). `NotFound` when it has none (or does not exist).
pub fn interface_ipv4_net(name: &str) -> io::Result<(Ipv4Addr, u8)> {
    nix::ifaddrs::getifaddrs()
        .map_err(io::Error::from)?
        .filter(|i| i.interface_name == name)
        .find_map(|i| {
            let address = i.address?.as_sockaddr_in()?.ip();
            let mask = i.netmask.and_then(|m| m.as_sockaddr_in().map(|m| m.ip()));
            // Prefix length: the count of leading ones (a /32 when the system gives no mask).
            let prefix = mask.map_or(32, |m| u32::from(m).leading_ones());
            Some((address, u8::try_from(prefix).unwrap_or(32)))
        })
        .ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::NotFound,
                format!("interface {name} has no IPv4 address"),
            )
        })
}

#[cfg(test)]
mod tests;
