//! The MEGACO driver: a [`MediaGatewayController`](crate::megaco::controller::MediaGatewayController) on UDP sockets and TCP listeners
//! (H.248.1 Annex D.1 and D.2).
//!
//! Every socket feeds one loop through a channel, so the core stays single-threaded: a task per
//! UDP socket reads datagrams; a task per TCP listener accepts connections, and a task per
//! connection reads TPKT frames ([`Deframer`](crate::megaco::tpkt::Deframer)) and writes the frames the core sends to
//! that peer. A transmit goes over the TCP connection of its destination when there is one,
//! otherwise over the UDP socket the destination was last heard on (the first socket before
//! that). A binary-only socket ([`Listener::binary_only`](crate::driver::megaco::Listener::binary_only)) drops text messages.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::mpsc;
use tracing::{debug, info, warn};

use super::{CHANNEL_DEPTH, Handle, now};
use crate::Controller;
use crate::megaco::controller::MediaGatewayController;
use crate::megaco::tpkt;
use crate::model::{Command, Event};

/// The most TCP connections open at once; further ones are closed at once.
pub const MAX_CONNECTIONS: usize = 256;
/// The most UDP peers whose socket is remembered.
const MAX_ROUTES: usize = 4096;
const RECV_BUFFER: usize = 65_536;

/// A UDP socket or TCP listener the controller serves on.
#[derive(Debug)]
pub struct Listener<S> {
    /// The socket.
    pub socket: S,
    /// Only binary (BER) messages are taken here (`[megaco] listen_binary`).
    pub binary_only: bool,
}

enum Input {
    Datagram {
        socket: usize,
        from: SocketAddr,
        data: Vec<u8>,
    },
    Opened {
        peer: SocketAddr,
        writer: mpsc::Sender<Vec<u8>>,
    },
    Stream {
        peer: SocketAddr,
        data: Vec<u8>,
    },
    Closed {
        peer: SocketAddr,
    },
}

/// Starts the controller on its sockets. The observer sees the core after each turn of the
/// loop (for counters). The task ends when every [`Handle`] is dropped or a socket fails.
pub fn spawn(
    core: MediaGatewayController,
    udp: Vec<Listener<UdpSocket>>,
    tcp: Vec<Listener<TcpListener>>,
    mut observe: impl FnMut(&MediaGatewayController) + Send + 'static,
) -> (
    Handle,
    mpsc::Receiver<Event>,
    tokio::task::JoinHandle<io::Result<()>>,
) {
    let (command_tx, command_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (event_tx, event_rx) = mpsc::channel(CHANNEL_DEPTH);
    let task = tokio::spawn(async move {
        let (input_tx, input_rx) = mpsc::channel(CHANNEL_DEPTH);
        let udp: Vec<(Arc<UdpSocket>, bool)> = udp
            .into_iter()
            .map(|l| (Arc::new(l.socket), l.binary_only))
            .collect();
        let mut readers = Vec::new();
        for (i, (socket, _)) in udp.iter().enumerate() {
            readers.push(tokio::spawn(read_udp(i, socket.clone(), input_tx.clone())));
        }
        for l in tcp {
            readers.push(tokio::spawn(accept(
                l.socket,
                l.binary_only,
                input_tx.clone(),
            )));
        }
        drop(input_tx);
        let result = run(core, &udp, input_rx, command_rx, event_tx, &mut observe).await;
        for r in readers {
            r.abort();
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

async fn run(
    mut core: MediaGatewayController,
    udp: &[(Arc<UdpSocket>, bool)],
    mut inputs: mpsc::Receiver<Input>,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    observe: &mut impl FnMut(&MediaGatewayController),
) -> io::Result<()> {
    let mut streams: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut routes: HashMap<SocketAddr, usize> = HashMap::new();
    loop {
        while let Some(t) = core.poll_transmit() {
            if let Some(writer) = streams.get(&t.destination) {
                let mut framed = Vec::with_capacity(t.contents.len() + tpkt::HEADER);
                match tpkt::frame(&t.contents, &mut framed) {
                    Ok(()) => {
                        if writer.try_send(framed).is_err() {
                            debug!(to = %t.destination, "TCP connection backed up or gone; message dropped");
                        }
                    }
                    Err(e) => warn!(to = %t.destination, error = %e, "message too large for TPKT"),
                }
                continue;
            }
            let socket = routes.get(&t.destination).copied().unwrap_or(0);
            if let Some((s, _)) = udp.get(socket) {
                super::send(s, t.destination, &t.contents).await?;
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
                let Some(input) = input else { return Ok(()) };
                match input {
                    Input::Datagram { socket, from, data } => {
                        if udp[socket].1 && data.first() != Some(&0x30) {
                            debug!(%from, "text message on the binary-only socket dropped");
                            continue;
                        }
                        if routes.len() >= MAX_ROUTES && !routes.contains_key(&from) {
                            routes.clear();
                        }
                        routes.insert(from, socket);
                        core.handle_datagram(now(), from, &data);
                    }
                    Input::Opened { peer, writer } => {
                        streams.insert(peer, writer);
                    }
                    Input::Stream { peer, data } => core.handle_stream_message(now(), peer, &data),
                    Input::Closed { peer } => {
                        streams.remove(&peer);
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

async fn read_udp(index: usize, socket: Arc<UdpSocket>, inputs: mpsc::Sender<Input>) {
    let mut buf = vec![0u8; RECV_BUFFER];
    loop {
        match socket.recv_from(&mut buf).await {
            Ok((len, from)) => {
                let input = Input::Datagram {
                    socket: index,
                    from,
                    data: buf[..len].to_vec(),
                };
                if inputs.send(input).await.is_err() {
                    return;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {}
            Err(e) => {
                warn!(error = %e, "MEGACO UDP socket failed");
                return;
            }
        }
    }
}

async fn accept(listener: TcpListener, binary_only: bool, inputs: mpsc::Sender<Input>) {
    let open = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    loop {
        let (stream, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                debug!(error = %e, "MEGACO TCP accept failed");
                continue;
            }
        };
        if open.load(std::sync::atomic::Ordering::Relaxed) >= MAX_CONNECTIONS {
            warn!(%peer, "too many MEGACO TCP connections; closed");
            continue;
        }
        open.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let inputs = inputs.clone();
        let open = open.clone();
        tokio::spawn(async move {
            info!(%peer, "MEGACO TCP connection");
            connection(stream, peer, binary_only, inputs.clone()).await;
            open.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            let _ = inputs.send(Input::Closed { peer }).await;
        });
    }
}

/// Reads frames from one connection and writes what the core sends to its peer.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    binary_only: bool,
    inputs: mpsc::Sender<Input>,
) {
    let (mut reader, mut writer) = stream.into_split();
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(64);
    if inputs
        .send(Input::Opened { peer, writer: tx })
        .await
        .is_err()
    {
        return;
    }
    let write = async move {
        while let Some(frame) = rx.recv().await {
            if writer.write_all(&frame).await.is_err() {
                return;
            }
        }
    };
    let read = async {
        let mut deframer = tpkt::Deframer::new();
        let mut buf = vec![0u8; 16 * 1024];
        loop {
            let n = match reader.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            deframer.push(&buf[..n]);
            while let Some(frame) = deframer.next() {
                match frame {
                    Ok(data) => {
                        if binary_only && data.first() != Some(&0x30) {
                            continue;
                        }
                        if inputs.send(Input::Stream { peer, data }).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        warn!(%peer, error = %e, "bad TPKT framing; connection closed");
                        return;
                    }
                }
            }
        }
    };
    tokio::select! {
        () = read => {}
        () = write => {}
    }
}
