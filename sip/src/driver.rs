//! The tokio driver: runs the [`Agent`] on one UDP socket and one TCP listener on the same
//! address.
//!
//! One loop, as STYLE.md asks: wait for a datagram, a message framed off a TCP connection, a
//! new connection, a model command or the agent's timer; feed it to the agent; then send what it
//! wants sent, deliver its events and notices, and sleep until [`Agent::poll_timeout`].
//! Each TCP connection has a reader task (framing with [`StreamFramer`], answering CRLF
//! keep-alives) and a writer fed by a bounded channel; a message for a TCP peer goes on the
//! connection that peer opened (phones keep theirs open, RFC 5626), and is dropped and counted
//! when there is none. Everything that needs a test lives in the agent.
// Drivers are where real time enters: the clock and timers are read here and nowhere else.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use gateway_control::driver::Handle;
use gateway_control::model::{Command, Event};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::{debug, warn};

use crate::agent::{Agent, Notice, Outgoing};
use crate::wire::{Message, StreamFramer, Transport};

/// The largest datagram read; a longer one is truncated by the kernel and refused by the parser.
const RECV_BUFFER: usize = 65_536;
/// Datagrams taken per wake-up before the agent's output is drained.
const RECV_BATCH: usize = 64;
/// How long the UDP socket may stay non-empty, batch after batch, before the agent is told to
/// shed new requests ([`Agent::set_shedding`]) until it is emptied again. The kernel's queue
/// holds a few hundred datagrams (tens of milliseconds of work); a socket that never empties
/// for this long is being filled faster than it is read, and past the queue the kernel drops
/// what comes, uncounted by us, and the phones' retransmissions add to the load.
pub const SHED_AFTER: Duration = Duration::from_millis(100);
/// TCP connections at once; more are closed as they come, counted.
pub const MAX_CONNECTIONS: usize = 4096;
/// Messages queued for one connection's writer; past it the connection is too slow and more
/// are dropped (the transaction layer's timers handle a loss as on UDP).
const WRITE_QUEUE: usize = 256;
/// Depth of the event and notice channels.
pub const CHANNEL_DEPTH: usize = 4096;

/// The driver's own counters (the agent counts the rest).
#[derive(Debug, Default)]
pub struct DriverStats {
    /// TCP connections accepted.
    pub tcp_accepted: AtomicU64,
    /// TCP connections refused (over [`MAX_CONNECTIONS`]).
    pub tcp_refused: AtomicU64,
    /// Streams closed because they could not be framed.
    pub tcp_framing_errors: AtomicU64,
    /// Messages for a TCP peer with no open connection, or a full one, dropped.
    pub tcp_dropped: AtomicU64,
    /// Times the UDP socket stayed backlogged for [`SHED_AFTER`] and new requests began to be
    /// shed (the agent counts each one shed in its transaction layer's `shed`).
    pub shed_spells: AtomicU64,
    /// Whether new requests are being shed now.
    pub shedding: AtomicBool,
}

impl DriverStats {
    /// `(kind, value)` pairs for `/metrics`.
    pub fn counters(&self) -> [(&'static str, u64); 5] {
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        [
            ("tcp_accepted", l(&self.tcp_accepted)),
            ("tcp_refused", l(&self.tcp_refused)),
            ("tcp_framing_errors", l(&self.tcp_framing_errors)),
            ("tcp_dropped", l(&self.tcp_dropped)),
            ("shed_spells", l(&self.shed_spells)),
        ]
    }
}

/// What [`spawn`] returns.
#[derive(Debug)]
pub struct Running {
    /// Where model commands go.
    pub handle: Handle,
    /// The agent's model events.
    pub events: mpsc::Receiver<Event>,
    /// The agent's notices (registrations, calls to users).
    pub notices: mpsc::Receiver<Notice>,
    /// The driver's counters.
    pub stats: Arc<DriverStats>,
    /// The task; it ends when every handle is dropped or the event receiver is.
    pub task: tokio::task::JoinHandle<io::Result<()>>,
}

/// The read time, in the form the agent takes. `tokio::time::pause()` controls it in tests.
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Binds UDP and TCP on `addr` (the same port for both: with port 0, the one UDP got).
///
/// # Errors
/// When either cannot be bound.
pub async fn bind(addr: SocketAddr) -> io::Result<(UdpSocket, TcpListener)> {
    let udp = UdpSocket::bind(addr).await?;
    let local = udp.local_addr()?;
    let tcp = TcpListener::bind(local).await?;
    Ok((udp, tcp))
}

/// Starts the driver task. `observe` is called with the agent after each turn of the loop (to
/// copy its counters into metrics, say).
pub fn spawn(
    agent: Agent,
    udp: UdpSocket,
    tcp: TcpListener,
    observe: impl FnMut(&Agent) + Send + 'static,
) -> Running {
    let (handle, commands) = Handle::channel();
    let (event_tx, events) = mpsc::channel(CHANNEL_DEPTH);
    let (notice_tx, notices) = mpsc::channel(CHANNEL_DEPTH);
    let stats = Arc::new(DriverStats::default());
    let task = tokio::spawn(run(
        agent,
        udp,
        tcp,
        commands,
        (event_tx, notice_tx),
        stats.clone(),
        observe,
    ));
    Running {
        handle,
        events,
        notices,
        stats,
        task,
    }
}

/// A message framed off a connection, or its end.
enum FromStream {
    Message(SocketAddr, Message),
    Closed(SocketAddr),
}

async fn run(
    mut agent: Agent,
    udp: UdpSocket,
    tcp: TcpListener,
    mut commands: mpsc::Receiver<Command>,
    (events, notices): (mpsc::Sender<Event>, mpsc::Sender<Notice>),
    stats: Arc<DriverStats>,
    mut observe: impl FnMut(&Agent),
) -> io::Result<()> {
    let mut buf = vec![0u8; RECV_BUFFER];
    let (stream_tx, mut streams) = mpsc::channel::<FromStream>(CHANNEL_DEPTH);
    let mut writers: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
    // Since when every batch has left datagrams in the socket.
    let mut backlogged: Option<Instant> = None;
    loop {
        while let Some(o) = agent.poll_transmit() {
            send(&udp, &writers, &stats, o).await;
        }
        while let Some(e) = agent.poll_event() {
            if events.send(e).await.is_err() {
                return Ok(());
            }
        }
        while let Some(n) = agent.poll_notice() {
            // Nobody listening for notices is fine: a test may not care.
            let _ = notices.try_send(n);
        }
        observe(&agent);
        let deadline = agent.poll_timeout();
        tokio::select! {
            received = udp.recv_from(&mut buf) => {
                match received {
                    Ok((n, from)) => agent.handle_message(now(), from, Transport::Udp, &buf[..n]),
                    Err(e) => debug!(error = %e, "UDP receive error"),
                }
                let mut emptied = false;
                for _ in 0..RECV_BATCH {
                    match udp.try_recv_from(&mut buf) {
                        Ok((n, from)) => agent.handle_message(now(), from, Transport::Udp, &buf[..n]),
                        Err(_) => {
                            emptied = true;
                            break;
                        }
                    }
                }
                let at = now();
                backlogged = if emptied { None } else { Some(backlogged.unwrap_or(at)) };
                let shed = backlogged.is_some_and(|since| at.duration_since(since) >= SHED_AFTER);
                if shed != stats.shedding.load(Ordering::Relaxed) {
                    stats.shedding.store(shed, Ordering::Relaxed);
                    if shed {
                        let spells = stats.shed_spells.fetch_add(1, Ordering::Relaxed) + 1;
                        // Under a steady flood this turns on and off every few hundred ms.
                        if spells.is_power_of_two() {
                            warn!(spells, "the SIP socket stays backlogged: new requests are answered 503 until it empties");
                        }
                    }
                }
                agent.set_shedding(shed);
            }
            accepted = tcp.accept() => {
                match accepted {
                    Ok((stream, peer)) if writers.len() < MAX_CONNECTIONS => {
                        stats.tcp_accepted.fetch_add(1, Ordering::Relaxed);
                        let (w_tx, w_rx) = mpsc::channel(WRITE_QUEUE);
                        writers.insert(peer, w_tx.clone());
                        tokio::spawn(connection(stream, peer, stream_tx.clone(), w_tx, w_rx, stats.clone()));
                    }
                    Ok((_, peer)) => {
                        stats.tcp_refused.fetch_add(1, Ordering::Relaxed);
                        debug!(%peer, "too many TCP connections; closed");
                    }
                    Err(e) => debug!(error = %e, "TCP accept error"),
                }
            }
            Some(from_stream) = streams.recv() => {
                match from_stream {
                    FromStream::Message(peer, m) => agent.handle_parsed(now(), peer, Transport::Tcp, m),
                    FromStream::Closed(peer) => { writers.remove(&peer); }
                }
            }
            command = commands.recv() => {
                let Some(command) = command else { return Ok(()) };
                let at = now();
                agent.handle_command(at, command);
                while let Ok(command) = commands.try_recv() {
                    agent.handle_command(at, command);
                }
            }
            () = sleep_until(deadline) => agent.handle_timeout(now()),
        }
    }
}

async fn send(
    udp: &UdpSocket,
    writers: &HashMap<SocketAddr, mpsc::Sender<Vec<u8>>>,
    stats: &DriverStats,
    o: Outgoing,
) {
    match o.transport {
        Transport::Udp => {
            if let Err(e) = udp.send_to(&o.bytes, o.to).await {
                // Lost like a dropped datagram: the transaction layer resends or times out.
                debug!(to = %o.to, error = %e, "UDP send failed");
            }
        }
        Transport::Tcp | Transport::Tls => {
            let sent = writers
                .get(&o.to)
                .is_some_and(|w| w.try_send(o.bytes).is_ok());
            if !sent {
                stats.tcp_dropped.fetch_add(1, Ordering::Relaxed);
                debug!(to = %o.to, "no open TCP connection to send on; dropped");
            }
        }
    }
}

/// One TCP connection: reads and frames, and writes what is queued for it.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    to_agent: mpsc::Sender<FromStream>,
    pongs: mpsc::Sender<Vec<u8>>,
    mut writes: mpsc::Receiver<Vec<u8>>,
    stats: Arc<DriverStats>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let write = tokio::spawn(async move {
        while let Some(bytes) = writes.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                break;
            }
        }
    });
    let mut framer = StreamFramer::new();
    let mut buf = vec![0u8; 16 * 1024];
    'read: loop {
        let n = match reader.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        framer.push(&buf[..n]);
        while let Some(m) = framer.pop() {
            match m {
                Ok(m) => {
                    if to_agent.send(FromStream::Message(peer, m)).await.is_err() {
                        break 'read;
                    }
                }
                Err(e) => {
                    stats.tcp_framing_errors.fetch_add(1, Ordering::Relaxed);
                    warn!(%peer, error = %e, "a SIP stream could not be framed; closed");
                    break 'read;
                }
            }
        }
        for _ in 0..framer.pop_keepalives() {
            let _ = pongs.try_send(b"\r\n".to_vec());
        }
    }
    write.abort();
    let _ = to_agent.send(FromStream::Closed(peer)).await;
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_driver_counters_name_each_field() {
        let s = DriverStats::default();
        for (i, a) in [
            &s.tcp_accepted,
            &s.tcp_refused,
            &s.tcp_framing_errors,
            &s.tcp_dropped,
            &s.shed_spells,
        ]
        .into_iter()
        .enumerate()
        {
            a.store(i as u64 + 1, Ordering::Relaxed);
        }
        assert_eq!(
            s.counters(),
            [
                ("tcp_accepted", 1),
                ("tcp_refused", 2),
                ("tcp_framing_errors", 3),
                ("tcp_dropped", 4),
                ("shed_spells", 5),
            ]
        );
    }
}
