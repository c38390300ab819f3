//! The tokio driver: runs one [`Controller`] core on one UDP socket.
//!
//! One loop per socket, as STYLE.md asks: wait for a datagram, a model command or the core's
//! timer; feed it to the core (draining any further datagrams already queued on the socket, so
//! a burst costs one wake-up); then send every [`Transmit`](crate::Transmit), deliver every
//! event, and sleep until [`Controller::poll_timeout`]. Everything that needs a test lives in
//! the core; this loop only moves bytes and time.
//!
//! The loop ends when every [`Handle`] is dropped (the command channel closes) or the event
//! receiver is dropped.
// Drivers are where real time enters: the clock and timers are read here and nowhere else.
#![allow(clippy::disallowed_methods)]

use std::io;
use std::net::SocketAddr;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::mpsc;

use crate::Controller;
use crate::model::{Command, Event};

/// The largest datagram the driver receives; longer ones are truncated by the kernel and then
/// rejected by the core's parser.
pub mod megaco;
pub mod tpncp;

const RECV_BUFFER: usize = 16 * 1024;
/// Datagrams taken from the socket per wake-up before the core's output is drained.
const RECV_BATCH: usize = 64;
/// Depth of the command and event channels.
pub const CHANNEL_DEPTH: usize = 4096;

/// Sends model commands to a running driver. Cloneable; the driver stops when all are dropped.
#[derive(Debug, Clone)]
pub struct Handle {
    commands: mpsc::Sender<Command>,
}

impl Handle {
    /// A handle and the receiver of its commands, for a driver of its own (one that is not
    /// [`spawn`]'s loop: SIP's, which also speaks TCP).
    pub fn channel() -> (Self, mpsc::Receiver<Command>) {
        let (commands, rx) = mpsc::channel(CHANNEL_DEPTH);
        (Self { commands }, rx)
    }

    /// Queues a command for the core. Fails only if the driver has stopped.
    pub async fn send(&self, command: Command) -> Result<(), Stopped> {
        self.commands.send(command).await.map_err(|_| Stopped)
    }

    /// A handle that does not keep the driver running: for a helper task (a resolver, say)
    /// that should end with the driver rather than hold it up.
    pub fn downgrade(&self) -> WeakHandle {
        WeakHandle {
            commands: self.commands.downgrade(),
        }
    }
}

/// A [`Handle`] that does not keep the driver running ([`Handle::downgrade`]).
#[derive(Debug, Clone)]
pub struct WeakHandle {
    commands: mpsc::WeakSender<Command>,
}

impl WeakHandle {
    /// The handle, while some [`Handle`] still keeps the driver running.
    pub fn upgrade(&self) -> Option<Handle> {
        self.commands.upgrade().map(|commands| Handle { commands })
    }
}

/// The driver has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the gateway-control driver has stopped")]
pub struct Stopped;

/// The read time, in the form the cores take. `tokio::time::pause()` controls it in tests.
pub fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Starts a driver task for `core` on `socket`. Returns the command handle, the event stream
/// and the task, which ends with the first socket error or when the handle or the event
/// receiver is dropped. `observe` is called with the core after each turn of the loop (to copy
/// its statistics into metrics, say).
pub fn spawn<C>(
    core: C,
    socket: UdpSocket,
    observe: impl FnMut(&C) + Send + 'static,
) -> (
    Handle,
    mpsc::Receiver<Event>,
    tokio::task::JoinHandle<io::Result<()>>,
)
where
    C: Controller + Send + 'static,
{
    let (command_tx, command_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (event_tx, event_rx) = mpsc::channel(CHANNEL_DEPTH);
    let task = tokio::spawn(run(core, socket, command_rx, event_tx, observe));
    (
        Handle {
            commands: command_tx,
        },
        event_rx,
        task,
    )
}

/// The driver loop; see the module documentation.
pub async fn run<C: Controller>(
    mut core: C,
    socket: UdpSocket,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    mut observe: impl FnMut(&C),
) -> io::Result<()> {
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        if !flush(&mut core, &socket, &events).await? {
            return Ok(());
        }
        observe(&core);
        let deadline = core.poll_timeout();
        tokio::select! {
            received = socket.recv_from(&mut buf) => {
                let (len, from) = match received {
                    Ok(r) => r,
                    // ICMP port unreachable from an earlier send surfaces here on Linux; the
                    // core's retransmission logic handles the missing peer.
                    Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => continue,
                    Err(e) => return Err(e),
                };
                core.handle_datagram(now(), from, &buf[..len]);
                drain_socket(&mut core, &socket, &mut buf);
            }
            command = commands.recv() => {
                let Some(command) = command else { return Ok(()) };
                let at = now();
                core.handle_command(at, command);
                while let Ok(command) = commands.try_recv() {
                    core.handle_command(at, command);
                }
            }
            () = sleep_until(deadline) => {
                core.handle_timeout(now());
            }
        }
    }
}

/// Feeds the core every datagram already waiting on the socket, up to [`RECV_BATCH`].
fn drain_socket<C: Controller>(core: &mut C, socket: &UdpSocket, buf: &mut [u8]) {
    for _ in 0..RECV_BATCH {
        match socket.try_recv_from(buf) {
            Ok((len, from)) => core.handle_datagram(now(), from, &buf[..len]),
            Err(_) => break,
        }
    }
}

/// Sends what the core wants sent and delivers its events; `false` once nobody listens.
async fn flush<C: Controller>(
    core: &mut C,
    socket: &UdpSocket,
    events: &mpsc::Sender<Event>,
) -> io::Result<bool> {
    while let Some(transmit) = core.poll_transmit() {
        send(socket, transmit.destination, &transmit.contents).await?;
    }
    while let Some(event) = core.poll_event() {
        if events.send(event).await.is_err() {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn send(socket: &UdpSocket, to: SocketAddr, contents: &[u8]) -> io::Result<()> {
    match socket.send_to(contents, to).await {
        Ok(_) => Ok(()),
        // A peer that is gone or unroutable is the core's business (it retransmits, then
        // reports the gateway down); the socket itself is fine.
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused
                    | io::ErrorKind::NetworkUnreachable
                    | io::ErrorKind::HostUnreachable
                    | io::ErrorKind::AddrNotAvailable
            ) =>
        {
            tracing::debug!(%to, error = %e, "send failed");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Transmit;
    use crate::model::{DownReason, GatewayId};

    /// A core that echoes each datagram, reports it as an event, and reports a timeout one
    /// second after the last input.
    #[derive(Default)]
    struct Echo {
        out: Vec<Transmit>,
        events: Vec<Event>,
        timer: Option<Instant>,
        timeouts: usize,
    }

    impl Controller for Echo {
        fn handle_datagram(&mut self, now: Instant, from: SocketAddr, data: &[u8]) {
            self.out.push(Transmit {
                destination: from,
                contents: data.to_vec(),
            });
            self.events.push(Event::GatewayUp {
                gateway: GatewayId::new(std::str::from_utf8(data).unwrap_or("?")),
            });
            self.timer = Some(now + Duration::from_secs(1));
        }
        fn handle_command(&mut self, now: Instant, _: Command) {
            self.timer = Some(now + Duration::from_secs(1));
        }
        fn handle_timeout(&mut self, now: Instant) {
            if self.timer.is_some_and(|t| t <= now) {
                self.timer = None;
                self.timeouts += 1;
                self.events.push(Event::GatewayDown {
                    gateway: GatewayId::new("timer"),
                    reason: DownReason::Unreachable,
                });
            }
        }
        fn poll_transmit(&mut self) -> Option<Transmit> {
            self.out.pop()
        }
        fn poll_event(&mut self) -> Option<Event> {
            (!self.events.is_empty()).then(|| self.events.remove(0))
        }
        fn poll_timeout(&self) -> Option<Instant> {
            self.timer
        }
    }

    #[tokio::test(start_paused = true)]
    async fn datagrams_events_and_timers_flow() {
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = socket.local_addr().unwrap();
        let (handle, mut events, task) = spawn(Echo::default(), socket, |_| {});
        let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        peer.send_to(b"gw7", addr).await.unwrap();
        let mut buf = [0u8; 16];
        let (n, from) = peer.recv_from(&mut buf).await.unwrap();
        assert_eq!((&buf[..n], from), (&b"gw7"[..], addr));
        assert_eq!(
            events.recv().await,
            Some(Event::GatewayUp {
                gateway: GatewayId::new("gw7")
            })
        );
        // With time paused, the core's one-second timer fires as soon as the runtime idles.
        let before = tokio::time::Instant::now();
        assert!(matches!(
            events.recv().await,
            Some(Event::GatewayDown {
                reason: DownReason::Unreachable,
                ..
            })
        ));
        assert_eq!(before.elapsed(), Duration::from_secs(1));
        drop(handle);
        task.await.unwrap().unwrap();
    }
}
