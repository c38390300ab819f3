//! The MEGACO side on sockets: the crate's driver loop with a UDP control socket (Annex D.1),
//! or a TCP connection to the controller in TPKT framing (Annex D.2), around an [`Mg`].

use std::io;
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Instant;

use tokio::io::AsyncWrite;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{Instrument, info_span};

use super::{Config, Mg, Transport};
use crate::Stdout;
use crate::driver::{ControlRx, ControlTx, Driven, serve, stdin_lines, tcp_link};

/// Where the MEGACO gateway listens, on top of its [`Config`].
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// The gateway core's settings (its mId defaults to `[listen IP]:listen port`).
    pub gateway: Config,
    /// The control socket: UDP, or the local end of the TCP connection (`127.0.0.1:2946`).
    pub listen: SocketAddr,
    /// RTP ports to bind, on the control socket's address (even ports are used).
    pub rtp_ports: RangeInclusive<u16>,
}

impl DriverConfig {
    /// Listens on `127.0.0.1:2946` (the controller has 2944), RTP on 16384–32767.
    pub fn new(gateway: Config) -> Self {
        Self {
            gateway,
            listen: SocketAddr::from(([127, 0, 0, 1], 2946)),
            rtp_ports: 16384..=32767,
        }
    }
}

impl Driven for Mg {
    fn add_rtp_port(&mut self, port: u16) {
        Self::add_rtp_port(self, port);
    }

    fn line_commands_refused(&self) -> u64 {
        self.stats().line_commands_refused
    }

    fn reconnected(&mut self, now: Instant) {
        self.handle_reconnect(now);
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Runs the MEGACO gateway on the process's stdin and stdout.
pub async fn run(config: DriverConfig) -> io::Result<()> {
    run_with(config, stdin_lines()?, Stdout).await
}

/// Runs the MEGACO gateway taking command lines from `input` and writing JSON lines to
/// `output`.
pub async fn run_with<W>(
    config: DriverConfig,
    input: mpsc::Receiver<String>,
    output: W,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let DriverConfig {
        mut gateway,
        listen,
        rtp_ports,
    } = config;
    let controller = gateway.controller_address();
    let (local, control) = match gateway.transport {
        Transport::Udp => {
            let sock = Arc::new(UdpSocket::bind(listen).await?);
            let local = sock.local_addr()?;
            (
                local,
                (ControlTx::Udp(Arc::clone(&sock)), ControlRx::Udp(sock)),
            )
        }
        Transport::Tcp => (listen, tcp_link(listen, controller)),
    };
    gateway.local_port(local.port());
    let wanted = usize::from(gateway.line_count()) * gateway.max_connections;
    let mg = Mg::new(gateway, now());
    let span = info_span!(
        "gateway_sim",
        protocol = "megaco",
        mid = mg.mid(),
        listen = %local,
        controller = %controller,
    );
    serve(mg, local, control, rtp_ports, wanted, input, output)
        .instrument(span)
        .await
}
