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
mod tests {
    //! On loopback, through a relay: every reply goes to giaddr:67 (here 127.0.0.x:67, one
    //! address per test), so nothing is ever broadcast.

    use std::borrow::Cow;
    use std::sync::atomic::AtomicBool;

    use tokio::sync::Semaphore;

    use super::*;
    use crate::Mac;
    use crate::dhcp::wire::{DhcpOption, MessageType, Op, Repr, Xid, code};
    use crate::dhcp::{Config, RateLimit, Subnet};

    const SERVER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
    const LIMIT: Duration = Duration::from_secs(10);

    /// A store that waits for a permit before each save, and fails when told to.
    struct GateStore {
        permits: Semaphore,
        entered: Notify,
        fail: AtomicBool,
        saved: Mutex<Vec<Lease>>,
    }

    impl Default for GateStore {
        fn default() -> Self {
            Self {
                permits: Semaphore::new(0),
                entered: Notify::new(),
                fail: AtomicBool::new(false),
                saved: Mutex::new(Vec::new()),
            }
        }
    }

    impl LeaseStore for GateStore {
        fn save(
            &self,
            leases: Vec<Lease>,
        ) -> Pin<Box<dyn Future<Output = Result<(), StoreError>> + Send + '_>> {
            Box::pin(async move {
                self.entered.notify_one();
                self.permits.acquire().await.expect("open").forget();
                if self.fail.load(Ordering::Relaxed) {
                    return Err(StoreError::Store("disk on fire".into()));
                }
                self.saved.lock().unwrap().extend(leases);
                Ok(())
            })
        }
    }

    struct Setup {
        handle: Handle,
        store: Arc<GateStore>,
        relay: UdpSocket,
        server: SocketAddrV4,
        events: mpsc::Receiver<Event>,
        stop: Option<tokio::sync::oneshot::Sender<()>>,
        task: tokio::task::JoinHandle<io::Result<()>>,
    }

    /// The driver on 127.0.0.1:<any> for subnet 127.0.0.0/24, a relay socket on `relay`:67.
    async fn setup(relay: Ipv4Addr, event_depth: usize) -> Setup {
        let mut config = Config::default();
        config
            .subnet(
                Subnet::new(Ipv4Addr::new(127, 0, 0, 0), 24)
                    .unwrap()
                    .range(Ipv4Addr::new(127, 0, 0, 100), Ipv4Addr::new(127, 0, 0, 199))
                    .unwrap(),
            )
            .unwrap();
        config.new_clients(RateLimit {
            per_second: 0,
            burst: 0,
        });
        let handle = Handle::new(Server::new(config, SERVER, []).unwrap());
        let store = Arc::new(GateStore::default());
        let socket = bind(&DriverConfig {
            interface: None,
            listen: SocketAddrV4::new(SERVER, 0),
        })
        .unwrap();
        let SocketAddr::V4(server) = socket.local_addr().unwrap() else {
            unreachable!()
        };
        let relay = UdpSocket::bind(SocketAddrV4::new(relay, 67)).await.unwrap();
        let (events_tx, events) = mpsc::channel(event_depth);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(serve(
            socket,
            handle.clone(),
            store.clone(),
            events_tx,
            async move {
                let _ = stopped.await;
            },
        ));
        Setup {
            handle,
            store,
            relay,
            server,
            events,
            stop: Some(stop),
            task,
        }
    }

    impl Setup {
        async fn send(&self, kind: MessageType, mac: Mac, xid: u32, options: Vec<DhcpOption<'_>>) {
            let SocketAddr::V4(relay) = self.relay.local_addr().unwrap() else {
                unreachable!()
            };
            let bytes = Repr {
                op: Op::Request,
                hops: 1,
                xid: Xid(xid),
                secs: 0,
                broadcast: false,
                ciaddr: Ipv4Addr::UNSPECIFIED,
                yiaddr: Ipv4Addr::UNSPECIFIED,
                siaddr: Ipv4Addr::UNSPECIFIED,
                giaddr: *relay.ip(),
                chaddr: mac,
                sname: Cow::Borrowed(&[]),
                file: Cow::Borrowed(&[]),
                message_type: kind,
                options,
            }
            .to_vec(1500)
            .unwrap();
            self.relay.send_to(&bytes, self.server).await.unwrap();
        }

        async fn recv(&self) -> Repr<'static> {
            let mut buf = vec![0u8; 2048];
            let (n, _) = tokio::time::timeout(LIMIT, self.relay.recv_from(&mut buf))
                .await
                .expect("a reply")
                .unwrap();
            buf.truncate(n);
            let repr = Repr::parse_bytes(&buf).unwrap();
            // Owned, so that the buffer can go.
            Repr {
                sname: Cow::Owned(repr.sname.into_owned()),
                file: Cow::Owned(repr.file.into_owned()),
                options: repr
                    .options
                    .into_iter()
                    .map(|o| DhcpOption::new(o.code, o.data.into_owned()))
                    .collect(),
                ..repr
            }
        }

        /// Nothing is waiting on the relay socket (loopback delivers at once).
        fn nothing_received(&self) -> bool {
            let mut buf = [0u8; 2048];
            self.relay.try_recv_from(&mut buf).is_err()
        }

        /// DISCOVER → OFFER, then REQUEST; returns the offered address.
        async fn discover_and_request(&self, mac: Mac, xid: u32) -> Ipv4Addr {
            self.send(MessageType::Discover, mac, xid, vec![]).await;
            let offer = self.recv().await;
            assert_eq!(offer.message_type, MessageType::Offer);
            self.send(
                MessageType::Request,
                mac,
                xid + 1,
                vec![
                    DhcpOption::addresses(code::REQUESTED_IP, &[offer.yiaddr]),
                    DhcpOption::addresses(code::SERVER_ID, &[SERVER]),
                ],
            )
            .await;
            offer.yiaddr
        }

        async fn stop(mut self) -> Handle {
            let _ = self.stop.take().expect("running").send(());
            self.store.permits.add_permits(1000);
            tokio::time::timeout(LIMIT, self.task)
                .await
                .expect("stops")
                .unwrap()
                .unwrap();
            self.handle
        }
    }

    async fn until(what: &str, mut f: impl FnMut() -> bool) {
        tokio::time::timeout(LIMIT, async {
            while !f() {
                tokio::task::yield_now().await;
            }
        })
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"));
    }

    #[tokio::test]
    async fn an_ack_goes_out_only_once_its_lease_is_saved() {
        let s = setup(Ipv4Addr::new(127, 0, 0, 2), 64).await;
        let mac = Mac([2, 0, 0, 0, 0, 1]);
        let ip = s.discover_and_request(mac, 0x100).await;
        s.store.entered.notified().await;
        // The save has begun and not finished: the ACK must not be out.
        assert!(
            s.nothing_received(),
            "ACK sent before its lease was durable"
        );
        s.store.permits.add_permits(1);
        let ack = s.recv().await;
        assert_eq!((ack.message_type, ack.yiaddr), (MessageType::Ack, ip));
        let saved = s.store.saved.lock().unwrap().clone();
        assert_eq!(saved.len(), 1);
        assert_eq!((saved[0].mac, saved[0].ip), (mac, ip));
        let handle = s.stop().await;
        let stats = handle.driver_stats();
        assert_eq!((stats.saves, stats.saved_leases, stats.sent), (1, 1, 2));
        assert_eq!(handle.leases().len(), 1);
    }

    #[tokio::test]
    async fn acks_waiting_for_one_save_go_out_together_after_the_next() {
        let s = setup(Ipv4Addr::new(127, 0, 0, 3), 64).await;
        // The first ACK's save is held; two more ACKs queue behind it.
        s.discover_and_request(Mac([2, 0, 0, 0, 1, 1]), 0x200).await;
        s.store.entered.notified().await;
        s.discover_and_request(Mac([2, 0, 0, 0, 1, 2]), 0x300).await;
        s.discover_and_request(Mac([2, 0, 0, 0, 1, 3]), 0x400).await;
        let handle = s.handle.clone();
        until("both REQUESTs handled", || {
            handle.driver_stats().received == 6
        })
        .await;
        assert!(s.nothing_received());
        s.store.permits.add_permits(1);
        assert_eq!(s.recv().await.xid, Xid(0x201));
        // The second save has both waiting leases.
        s.store.entered.notified().await;
        assert!(s.nothing_received());
        s.store.permits.add_permits(1);
        let xids = [s.recv().await.xid, s.recv().await.xid];
        assert_eq!(xids, [Xid(0x301), Xid(0x401)]);
        let handle = s.stop().await;
        let stats = handle.driver_stats();
        assert_eq!((stats.saves, stats.saved_leases), (2, 3));
    }

    #[tokio::test]
    async fn a_failed_save_sends_nothing_and_is_counted() {
        let s = setup(Ipv4Addr::new(127, 0, 0, 4), 64).await;
        s.store.fail.store(true, Ordering::Relaxed);
        s.store.permits.add_permits(1);
        s.discover_and_request(Mac([2, 0, 0, 0, 2, 1]), 0x500).await;
        let handle = s.handle.clone();
        until("the failed save", || {
            handle.driver_stats().save_failures == 1
        })
        .await;
        assert!(
            s.nothing_received(),
            "an ACK whose lease is not durable went out"
        );
        let stats = s.stop().await.driver_stats();
        assert_eq!((stats.unsaved_replies, stats.saves), (1, 0));
    }

    #[tokio::test]
    async fn a_full_event_channel_is_counted_and_does_not_stall_the_server() {
        let mut s = setup(Ipv4Addr::new(127, 0, 0, 5), 1).await;
        for i in 0..3u8 {
            s.send(
                MessageType::Discover,
                Mac([2, 0, 0, 0, 3, i]),
                0x600 + u32::from(i),
                vec![],
            )
            .await;
            assert_eq!(s.recv().await.message_type, MessageType::Offer);
        }
        // One DeviceSeen fits; the other two are dropped and counted.
        assert!(matches!(
            s.events.recv().await,
            Some(Event::DeviceSeen { .. })
        ));
        assert_eq!(s.handle.driver_stats().events_dropped, 2);
        s.stop().await;
    }

    #[tokio::test]
    async fn reservations_set_through_the_handle_apply_at_once() {
        let s = setup(Ipv4Addr::new(127, 0, 0, 6), 64).await;
        let mac = Mac([2, 0, 0, 0, 4, 1]);
        let reserved = Ipv4Addr::new(127, 0, 0, 150);
        s.handle.set_reservations(vec![Reservation {
            mac,
            ip: reserved,
            hostname: None,
        }]);
        s.send(MessageType::Discover, mac, 0x700, vec![]).await;
        assert_eq!(s.recv().await.yiaddr, reserved);
        s.stop().await;
    }
}
