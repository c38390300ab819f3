//! The TPNCP side on sockets: the crate's driver loop around a [`Board`], with a TCP listener
//! and a UDP socket on the same address for the host, and one UDP socket per channel's RTP
//! port (`rtp_port + 10 × channel`, on the media address).
//!
//! One link task owns the listener, the accepted connection and the UDP socket: it accepts a
//! connection (closing the one up, which it replaces; refusing one from another address than
//! the controller's), cuts the stream into messages with a
//! [`Deframer`](gateway_control::tpncp::wire::Deframer) (broken framing closes the
//! connection), and sends each message of the board on the connection when it is for its peer,
//! by UDP otherwise (a UDP sender at the very address and port of the TCP peer would get its
//! answers on the connection: TCP and UDP ports are distinct spaces, but the board routes by
//! address alone).

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::time::Instant;

use gateway_control::tpncp::wire::Deframer;
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, info_span, warn};

use super::{Board, Config, Disconnect};
use crate::Stdout;
use crate::driver::{Closed, ControlRx, ControlTx, Driven, LinkEvent, TcpIn, serve, stdin_lines};

/// Where the board listens, on top of its [`Config`].
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// The board core's settings.
    pub board: Config,
    /// The host's TCP and UDP address (`127.0.0.1:2424`).
    pub listen: SocketAddr,
}

impl DriverConfig {
    /// Listens on `127.0.0.1:2424`.
    pub fn new(board: Config) -> Self {
        Self {
            board,
            listen: SocketAddr::from(([127, 0, 0, 1], 2424)),
        }
    }
}

impl Driven for Board {
    fn add_rtp_port(&mut self, port: u16) {
        Self::add_rtp_port(self, port);
    }

    fn line_commands_refused(&self) -> u64 {
        self.stats().line_commands_refused
    }

    fn link(&mut self, now: Instant, event: LinkEvent) {
        match event {
            LinkEvent::Accepted(peer) => self.handle_connected(now, peer),
            LinkEvent::Refused(peer) => self.handle_refused(now, peer),
            LinkEvent::Closed(peer, why) => {
                let why = match why {
                    None => Disconnect::Closed,
                    Some(Closed::Replaced) => Disconnect::Replaced,
                    Some(Closed::Framing(e)) => Disconnect::Framing(e),
                    Some(Closed::Io(e)) => Disconnect::Io(e),
                };
                self.handle_disconnected(now, peer, why);
            }
        }
    }
}

/// Runs the board on the process's stdin and stdout.
pub async fn run(config: DriverConfig) -> io::Result<()> {
    run_with(config, stdin_lines()?, Stdout).await
}

/// Runs the board taking command lines from `input` and writing JSON lines to `output`.
pub async fn run_with<W>(
    config: DriverConfig,
    input: mpsc::Receiver<String>,
    output: W,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let DriverConfig { board, listen } = config;
    let listener = TcpListener::bind(listen).await?;
    let local = listener.local_addr()?;
    // UDP on the very port TCP got (it matters when `listen` asked for port 0).
    let udp = UdpSocket::bind(local).await?;
    let ports: Vec<u16> = (0..board.lines).map(|c| board.channel_port(c)).collect();
    let media = SocketAddr::new(board.media_address, 0);
    let controller = board.controller;
    let board = Board::new(board).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let span = info_span!("gateway_sim", protocol = "tpncp", listen = %local);
    let control = link(listener, udp, controller);
    let wanted = ports.len();
    async move {
        info!("board listening for its host");
        serve(board, media, control, ports, wanted, input, output).await
    }
    .instrument(span)
    .await
}

/// The accepted connection: its peer, both halves and the stream's deframer.
struct Connection {
    peer: SocketAddr,
    read: OwnedReadHalf,
    write: OwnedWriteHalf,
    deframer: Deframer,
}

/// Reads from the connection, if there is one (else never ready).
async fn read(conn: &mut Option<Connection>, buf: &mut [u8]) -> io::Result<usize> {
    match conn {
        Some(c) => c.read.read(buf).await,
        None => std::future::pending().await,
    }
}

/// Starts the link task (see the module docs) and returns its two ends.
fn link(
    listener: TcpListener,
    udp: UdpSocket,
    controller: Option<IpAddr>,
) -> (ControlTx, ControlRx) {
    let (out_tx, mut out_rx) = mpsc::channel::<(SocketAddr, Vec<u8>)>(256);
    let (in_tx, in_rx) = mpsc::channel::<TcpIn>(256);
    tokio::spawn(async move {
        let mut conn: Option<Connection> = None;
        let mut buf = vec![0u8; 65536];
        let mut dgram = vec![0u8; 65536];
        loop {
            let mut report = Vec::new();
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        if controller.is_some_and(|c| c != peer.ip()) {
                            drop(stream);
                            report.push(TcpIn::Link(LinkEvent::Refused(peer)));
                        } else {
                            if let Some(old) = conn.take() {
                                info!(old = %old.peer, new = %peer, "host connection replaced");
                                report.push(TcpIn::Link(LinkEvent::Closed(
                                    old.peer,
                                    Some(Closed::Replaced),
                                )));
                            }
                            info!(%peer, "host connected");
                            // Small messages, answered at once: no Nagle delay.
                            if let Err(e) = stream.set_nodelay(true) {
                                debug!(error = %e, "TCP_NODELAY not set");
                            }
                            let (read, write) = stream.into_split();
                            conn = Some(Connection {
                                peer,
                                read,
                                write,
                                deframer: Deframer::new(),
                            });
                            report.push(TcpIn::Link(LinkEvent::Accepted(peer)));
                        }
                    }
                    Err(e) => debug!(error = %e, "accept failed"),
                },
                n = read(&mut conn, &mut buf) => {
                    if let Some(c) = conn.as_mut() {
                        let peer = c.peer;
                        let closed = match n {
                            Ok(0) => Some(None),
                            Err(e) => Some(Some(Closed::Io(e.to_string()))),
                            Ok(n) => {
                                c.deframer.push(&buf[..n]);
                                let mut broken = None;
                                while let Some(m) = c.deframer.next() {
                                    match m {
                                        Ok(m) => report.push(TcpIn::Message(peer, m)),
                                        Err(e) => {
                                            broken = Some(Some(Closed::Framing(e.to_string())));
                                            break;
                                        }
                                    }
                                }
                                broken
                            }
                        };
                        if let Some(why) = closed {
                            info!(%peer, ?why, "host connection closed");
                            conn = None;
                            report.push(TcpIn::Link(LinkEvent::Closed(peer, why)));
                        }
                    }
                },
                got = udp.recv_from(&mut dgram) => match got {
                    Ok((n, from)) => report.push(TcpIn::Message(from, dgram[..n].to_vec())),
                    Err(e) => debug!(error = %e, "UDP receive failed"),
                },
                out = out_rx.recv() => {
                    let Some((to, bytes)) = out else { return };
                    match conn.as_mut() {
                        Some(c) if c.peer == to => {
                            if let Err(e) = c.write.write_all(&bytes).await {
                                warn!(peer = %to, error = %e, "write to the host failed");
                                conn = None;
                                report.push(TcpIn::Link(LinkEvent::Closed(
                                    to,
                                    Some(Closed::Io(e.to_string())),
                                )));
                            }
                        }
                        _ => {
                            if let Err(e) = udp.send_to(&bytes, to).await {
                                debug!(%to, error = %e, "UDP send failed");
                            }
                        }
                    }
                }
            }
            for r in report {
                if in_tx.send(r).await.is_err() {
                    return;
                }
            }
        }
    });
    (ControlTx::Routed(out_tx), ControlRx::Tcp(in_rx))
}
