//! The TPNCP driver: a [`Host`] with a TCP connection to each of its boards (opened, written
//! and closed as [`Host::poll_link`] says) and, for UDP boards, one UDP socket.
//!
//! Every socket feeds one loop through a channel, so the core stays single-threaded: a task per
//! TCP connection connects, then reads raw bytes (the core deframes them) and writes what the
//! core sends on it; a task reads the UDP socket. Each input names its [`LinkId`]; the core
//! ignores those of connections it gave up, so a task that was just aborted cannot confuse it.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{Instrument, debug, info, info_span, warn};

use super::{CHANNEL_DEPTH, Handle, now};
use crate::Controller;
use crate::model::{Command, Event};
use crate::tpncp::controller::{Host, Link, LinkId};

const RECV_BUFFER: usize = 16 * 1024;
/// Messages waiting to be written on one connection; beyond it the connection is closed
/// (the core's acknowledgement timer then reports the board).
const WRITE_QUEUE: usize = 256;

enum Input {
    Datagram { from: SocketAddr, data: Vec<u8> },
    Connected { link: LinkId },
    Stream { link: LinkId, data: Vec<u8> },
    Closed { link: LinkId },
}

/// A connection's task and where its writes go.
struct Connection {
    task: JoinHandle<()>,
    writer: mpsc::Sender<Vec<u8>>,
}

/// Starts the host. `udp` serves the boards configured for UDP (none needed otherwise). The
/// observer sees the core after each turn of the loop (for counters). The task ends when every
/// [`Handle`] is dropped, the event receiver is dropped, or the UDP socket fails.
pub fn spawn(
    core: Host,
    udp: Option<UdpSocket>,
    mut observe: impl FnMut(&Host) + Send + 'static,
) -> (Handle, mpsc::Receiver<Event>, JoinHandle<io::Result<()>>) {
    let (command_tx, command_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (event_tx, event_rx) = mpsc::channel(CHANNEL_DEPTH);
    let task = tokio::spawn(async move {
        let (input_tx, input_rx) = mpsc::channel(CHANNEL_DEPTH);
        let udp = udp.map(Arc::new);
        let reader = udp
            .clone()
            .map(|s| tokio::spawn(read_udp(s, input_tx.clone())));
        let mut connections = HashMap::new();
        let result = run(
            core,
            udp.as_deref(),
            &input_tx,
            input_rx,
            command_rx,
            event_tx,
            &mut connections,
            &mut observe,
        )
        .await;
        if let Some(r) = reader {
            r.abort();
        }
        for (_, c) in connections {
            c.task.abort();
        }
        result
    });
    (
        Handle {
            commands: command_tx,
        },
        event_rx,
        task,
    )
}

#[allow(clippy::too_many_arguments)]
async fn run(
    mut core: Host,
    udp: Option<&UdpSocket>,
    input_tx: &mpsc::Sender<Input>,
    mut inputs: mpsc::Receiver<Input>,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    connections: &mut HashMap<LinkId, Connection>,
    observe: &mut impl FnMut(&Host),
) -> io::Result<()> {
    loop {
        while let Some(link) = core.poll_link() {
            match link {
                Link::Connect {
                    link,
                    gateway,
                    address,
                } => {
                    let (writer, writes) = mpsc::channel(WRITE_QUEUE);
                    let span = info_span!("tpncp", gateway = %gateway, link = link.0);
                    let task = tokio::spawn(
                        connection(link, address, writes, input_tx.clone()).instrument(span),
                    );
                    connections.insert(link, Connection { task, writer });
                }
                Link::Write {
                    link,
                    gateway,
                    bytes,
                } => {
                    let Some(c) = connections.get(&link) else {
                        continue;
                    };
                    if c.writer.try_send(bytes).is_err() {
                        warn!(%gateway, "TPNCP connection backed up; closed");
                        if let Some(c) = connections.remove(&link) {
                            c.task.abort();
                        }
                        core.handle_closed(now(), link);
                    }
                }
                Link::Close { link, gateway } => {
                    if let Some(c) = connections.remove(&link) {
                        debug!(%gateway, link = link.0, "TPNCP connection closed");
                        c.task.abort();
                    }
                }
            }
        }
        while let Some(t) = core.poll_transmit() {
            match udp {
                Some(socket) => super::send(socket, t.destination, &t.contents).await?,
                None => debug!(to = %t.destination, "no UDP socket for a TPNCP datagram"),
            }
        }
        while let Some(event) = core.poll_event() {
            if events.send(event).await.is_err() {
                return Ok(());
            }
        }
        observe(&core);
        let deadline = core.poll_timeout();
        tokio::select! {
            input = inputs.recv() => {
                // The loop holds a sender itself, so the channel never closes.
                let Some(input) = input else { return Ok(()) };
                match input {
                    Input::Datagram { from, data } => core.handle_datagram(now(), from, &data),
                    Input::Connected { link } => core.handle_connected(now(), link),
                    Input::Stream { link, data } => core.handle_stream(now(), link, &data),
                    Input::Closed { link } => {
                        connections.remove(&link);
                        core.handle_closed(now(), link);
                    }
                }
            }
            command = commands.recv() => {
                let Some(command) = command else { return Ok(()) };
                let at = now();
                core.handle_command(at, command);
                while let Ok(command) = commands.try_recv() {
                    core.handle_command(at, command);
                }
            }
            () = super::sleep_until(deadline) => core.handle_timeout(now()),
        }
    }
}

async fn read_udp(socket: Arc<UdpSocket>, inputs: mpsc::Sender<Input>) {
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((len, from)) => {
                let input = Input::Datagram {
                    from,
                    data: buf[..len].to_vec(),
                };
                if inputs.send(input).await.is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) => {
                warn!(error = %e, "TPNCP UDP socket failed");
                return;
            }
        }
    }
}

/// One connection to a board: opened, then read and written until either side ends it.
async fn connection(
    link: LinkId,
    address: SocketAddr,
    mut writes: mpsc::Receiver<Vec<u8>>,
    inputs: mpsc::Sender<Input>,
) {
    let stream = match TcpStream::connect(address).await {
        Ok(s) => s,
        Err(e) => {
            debug!(%address, error = %e, "TPNCP connection failed");
            let _ = inputs.send(Input::Closed { link }).await;
            return;
        }
    };
    let _ = stream.set_nodelay(true);
    info!(%address, "TPNCP connection open");
    if inputs.send(Input::Connected { link }).await.is_err() {
        return;
    }
    let (mut reader, mut writer) = stream.into_split();
    let write = async move {
        while let Some(bytes) = writes.recv().await {
            if writer.write_all(&bytes).await.is_err() {
                return;
            }
        }
    };
    let read = async {
        let mut buf = vec![0u8; RECV_BUFFER];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            let data = buf[..n].to_vec();
            if inputs.send(Input::Stream { link, data }).await.is_err() {
                return;
            }
        }
    };
    tokio::select! {
        () = read => {}
        () = write => {}
    }
    info!(%address, "TPNCP connection ended");
    let _ = inputs.send(Input::Closed { link }).await;
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use tokio::net::TcpListener;

    use super::*;
    use crate::model::{Cadence, DownReason, GatewayId, LineId};
    use crate::tpncp::controller::{Config, GatewayConfig};
    use crate::tpncp::wire::{self, Channel, Deframer, Header, Seq};

    /// A hand-written board on one accepted connection: reads commands, writes events.
    struct Board {
        stream: TcpStream,
        deframer: Deframer,
        seq: Seq,
    }

    impl Board {
        async fn accept(listener: &TcpListener) -> Self {
            let (stream, _) = listener.accept().await.unwrap();
            Self {
                stream,
                deframer: Deframer::new(),
                seq: Seq(500),
            }
        }

        async fn command(&mut self) -> (Header, wire::Command) {
            let mut buf = [0u8; 4096];
            loop {
                if let Some(frame) = self.deframer.next() {
                    return wire::decode_command(&frame.unwrap()).unwrap();
                }
                let n = self.stream.read(&mut buf).await.unwrap();
                assert!(n > 0, "the host closed the connection");
                self.deframer.push(&buf[..n]);
            }
        }

        async fn send(&mut self, channel: Channel, event: &wire::Event) {
            self.seq = self.seq.next();
            let header = Header {
                order: wire::ByteOrder::Big,
                version: wire::VERSION,
                seq: self.seq,
            };
            let mut out = Vec::new();
            wire::encode_event(&header, channel, event, &mut out);
            self.stream.write_all(&out).await.unwrap();
        }

        /// Acknowledges the next command (a query answered on-hook); returns it.
        async fn answer(&mut self) -> wire::Command {
            let (header, command) = self.command().await;
            let channel = command.channel();
            let ack = wire::Event::CommandAck {
                seq: header.seq,
                command_id: wire::command_id(&command),
            };
            self.send(channel, &ack).await;
            if matches!(command, wire::Command::QueryStatus { .. }) {
                let status = wire::Event::FxsStatus {
                    off_hook: false,
                    ringing: false,
                    message_waiting: false,
                };
                self.send(channel, &status).await;
            }
            command
        }
    }

    /// Time runs while bytes cross the loopback: a paused clock jumps to the next timer as soon
    /// as every task waits, and a TCP segment can still be in the kernel then, so the host's
    /// acknowledgement timer would fire before the board's answer is read. It is paused only
    /// for the back-off, which is all timers.
    #[tokio::test]
    async fn connects_resyncs_takes_a_command_and_reconnects() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let config = Config {
            gateways: vec![GatewayConfig::new(
                GatewayId::new("b1"),
                Some(address),
                &["0"],
            )],
            keepalive: Duration::from_secs(3600),
            ..Config::default()
        };
        let core = Host::new(config, now()).unwrap();
        let (seen_tx, mut seen) = mpsc::unbounded_channel();
        let (handle, mut events, task) = spawn(core, None, move |h| {
            let _ = seen_tx.send(h.stats().acks);
        });
        let mut board = Board::accept(&listener).await;
        for _ in 0..4 {
            board.answer().await;
        }
        assert_eq!(
            events.recv().await,
            Some(Event::GatewayUp {
                gateway: GatewayId::new("b1")
            })
        );
        let line = LineId::new(GatewayId::new("b1"), "0");
        assert_eq!(
            events.recv().await,
            Some(Event::LineStatus {
                line: line.clone(),
                off_hook: false
            })
        );
        handle
            .send(Command::Ring {
                line: line.clone(),
                cadence: Cadence::Normal,
                caller_id: None,
            })
            .await
            .unwrap();
        assert!(matches!(
            board.answer().await,
            wire::Command::Ring {
                on: true,
                channel: Channel(0),
                ..
            }
        ));
        // The board's events reach the station manager.
        board.send(Channel(0), &wire::Event::OffHook).await;
        assert_eq!(events.recv().await, Some(Event::OffHook { line }));
        assert!(std::iter::from_fn(|| seen.try_recv().ok()).any(|acks| acks >= 4));
        // The board goes away: reported, and the host connects again after its back-off.
        tokio::time::pause();
        drop(board);
        assert_eq!(
            events.recv().await,
            Some(Event::GatewayDown {
                gateway: GatewayId::new("b1"),
                reason: DownReason::Unreachable
            })
        );
        let before = tokio::time::Instant::now();
        let mut board = Board::accept(&listener).await;
        assert!(before.elapsed() >= Duration::from_millis(750));
        tokio::time::resume();
        for _ in 0..4 {
            board.answer().await;
        }
        assert!(matches!(events.recv().await, Some(Event::GatewayUp { .. })));
        drop(handle);
        task.await.unwrap().unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn udp_boards_are_answered_on_the_socket() {
        let board = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let mut gw = GatewayConfig::new(
            GatewayId::new("u1"),
            Some(board.local_addr().unwrap()),
            &["3"],
        );
        gw.transport = crate::tpncp::controller::Transport::Udp;
        let config = Config {
            gateways: vec![gw],
            ..Config::default()
        };
        let socket = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let host = socket.local_addr().unwrap();
        let (handle, mut events, task) =
            spawn(Host::new(config, now()).unwrap(), Some(socket), |_| {});
        let mut buf = [0u8; 2048];
        let (n, from) = board.recv_from(&mut buf).await.unwrap();
        assert_eq!(from, host);
        let (header, command) = wire::decode_command(&buf[..n]).unwrap();
        assert_eq!(command.channel(), Channel(3));
        let ack = wire::Event::CommandAck {
            seq: header.seq,
            command_id: wire::command_id(&command),
        };
        let mut out = Vec::new();
        wire::encode_event(&header, Channel(3), &ack, &mut out);
        board.send_to(&out, host).await.unwrap();
        assert_eq!(
            events.recv().await,
            Some(Event::GatewayUp {
                gateway: GatewayId::new("u1")
            })
        );
        drop(handle);
        task.await.unwrap().unwrap();
    }
}
