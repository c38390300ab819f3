//! The simulator's tokio driver: the control channel (one UDP socket, or for MEGACO over TCP one
//! connection in TPKT framing, or for TPNCP a TCP listener and a UDP socket, [`LinkEvent`]s
//! telling the core of connections), one UDP socket per RTP port, stdin commands, JSON lines on
//! stdout, and the files of `say` and `hear`. One loop serves every protocol side
//! ([`Driven`]); [`run`] and [`run_with`] start the MGCP one, [`crate::megaco::run`] the
//! MEGACO one.
//!
//! Lifecycle: the driver binds the control socket and up to `lines ×`
//! [`Config::max_connections`](crate::Config::max_connections) RTP sockets (even ports of the
//! range, skipping ports in use), then runs the gateway until `quit` (it stops at once;
//! files being heard are finished, a `say` is cut short) or the end of stdin (it keeps serving
//! until every `say` in progress has been sent, then stops, so `echo "say 1 a.wav" | …` works
//! as long as the connection exists).
//!
//! Reading a `say` file happens on the driver task: files are bounded to
//! [`MAX_SAY_SAMPLES`](crate::MAX_SAY_SAMPLES) after resampling.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::net::SocketAddr;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use codecs::opus::SampleRate;
use codecs::pipeline::{Format, Source};
use codecs::resample::Resampler;
use codecs::wav::WavWriter;
use gateway_control::megaco::tpkt::{self, Deframer};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpSocket, UdpSocket};
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::{
    Config, Gateway, Input, LineCommand, MAX_SAY_SAMPLES, Output, Simulator, Via, error_line,
    file_done, say_done,
};

/// What the driver needs of a gateway core besides [`Simulator`].
pub(crate) trait Driven: Simulator {
    /// An RTP port the driver bound, for connections.
    fn add_rtp_port(&mut self, port: u16);
    /// How many line commands the core refused so far (a `say` or `hear` it refused leaves no
    /// file open).
    fn line_commands_refused(&self) -> u64;
    /// The control connection (TCP) was lost and is back.
    fn reconnected(&mut self, now: std::time::Instant) {
        let _ = now;
    }
    /// A connection to our listener came, went or was turned away (TPNCP).
    fn link(&mut self, now: std::time::Instant, event: LinkEvent) {
        let _ = (now, event);
    }
}

/// What happened to a connection the gateway accepted (TPNCP: the board listens for its host).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum LinkEvent {
    /// A peer connected.
    Accepted(SocketAddr),
    /// A peer was turned away (not the configured controller).
    Refused(SocketAddr),
    /// The connection ended: closed by the peer (`None`) or by us, and why.
    Closed(SocketAddr, Option<Closed>),
}

/// Why we closed an accepted connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Closed {
    /// A new connection took its place.
    Replaced,
    /// Its framing was broken (the stream cannot be resynchronised).
    Framing(String),
    /// Reading or writing failed.
    Io(String),
}

impl Driven for Gateway {
    fn add_rtp_port(&mut self, port: u16) {
        Self::add_rtp_port(self, port);
    }

    fn line_commands_refused(&self) -> u64 {
        self.stats().line_commands_refused
    }
}

/// Where the driver listens, on top of the gateway's [`Config`].
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// The gateway core's settings.
    pub gateway: Config,
    /// The MGCP control socket (`127.0.0.1:2427`).
    pub listen: SocketAddr,
    /// RTP ports to bind, on the control socket's address (even ports are used).
    pub rtp_ports: RangeInclusive<u16>,
}

impl DriverConfig {
    /// Listens on `127.0.0.1:2427`, RTP on 16384–32767.
    pub fn new(gateway: Config) -> Self {
        Self {
            gateway,
            listen: SocketAddr::from(([127, 0, 0, 1], 2427)),
            rtp_ports: 16384..=32767,
        }
    }
}

/// Runs the simulator on the process's stdin and stdout.
///
/// Stdin is read line by line on a thread of its own (blocking reads), and the JSON lines are
/// written to stdout directly: both are small and the workspace's tokio has no `io-std`.
pub async fn run(config: DriverConfig) -> io::Result<()> {
    run_with(config, stdin_lines()?, Stdout).await
}

/// Stdin's lines on a channel, read by a thread of their own.
pub(crate) fn stdin_lines() -> io::Result<mpsc::Receiver<String>> {
    let (tx, rx) = mpsc::channel(64);
    std::thread::Builder::new()
        .name("gateway-sim-stdin".into())
        .spawn(move || {
            for line in io::stdin().lines() {
                let Ok(line) = line else { break };
                if tx.blocking_send(line).is_err() {
                    break;
                }
            }
        })?;
    Ok(rx)
}

/// Standard output as an [`AsyncWrite`], writing synchronously (a JSON line at a time), for
/// [`run_with`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Stdout;

impl AsyncWrite for Stdout {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(io::stdout().write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(io::stdout().flush())
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}

/// A file being written from what a line hears.
struct Hearing {
    file: PathBuf,
    writer: WavWriter<BufWriter<File>>,
}

/// Where messages on the control channel go.
#[derive(Clone)]
pub(crate) enum ControlTx {
    /// A UDP socket.
    Udp(Arc<UdpSocket>),
    /// The TCP link task, which frames each message (and keeps them while reconnecting).
    Tcp(mpsc::Sender<Vec<u8>>),
    /// A link task that sends each message to its destination: on the accepted connection
    /// when the destination is its peer, else by UDP (TPNCP).
    Routed(mpsc::Sender<(SocketAddr, Vec<u8>)>),
}

/// Where messages on the control channel come from.
pub(crate) enum ControlRx {
    Udp(Arc<UdpSocket>),
    Tcp(mpsc::Receiver<TcpIn>),
}

/// What the TCP link task reports.
pub(crate) enum TcpIn {
    /// One message (a TPKT's payload) from the peer.
    Message(SocketAddr, Vec<u8>),
    /// The connection was lost and is made again.
    Reconnected,
    /// An accepted connection came or went.
    Link(LinkEvent),
}

enum ControlIn {
    Message(SocketAddr, Vec<u8>),
    Reconnected,
    Link(LinkEvent),
    Nothing,
}

async fn control_recv(rx: &mut ControlRx, buf: &mut [u8]) -> ControlIn {
    match rx {
        ControlRx::Udp(sock) => match sock.recv_from(buf).await {
            Ok((n, from)) => ControlIn::Message(from, buf[..n].to_vec()),
            Err(e) => {
                debug!(error = %e, "control socket receive failed");
                ControlIn::Nothing
            }
        },
        ControlRx::Tcp(rx) => match rx.recv().await {
            Some(TcpIn::Message(from, m)) => ControlIn::Message(from, m),
            Some(TcpIn::Reconnected) => ControlIn::Reconnected,
            Some(TcpIn::Link(e)) => ControlIn::Link(e),
            None => std::future::pending().await,
        },
    }
}

/// Connects from `local` to `peer` (H.248.1 Annex D.2: the MG opens the connection) and keeps
/// the connection: messages from `out` are framed and written, messages read are deframed and
/// reported on `tx`; a lost connection is made again after a second and reported.
pub(crate) fn tcp_link(local: SocketAddr, peer: SocketAddr) -> (ControlTx, ControlRx) {
    let (out_tx, mut out_rx) = mpsc::channel::<Vec<u8>>(256);
    let (in_tx, in_rx) = mpsc::channel::<TcpIn>(256);
    tokio::spawn(async move {
        let mut connected_before = false;
        let mut buf = vec![0u8; 65536];
        loop {
            let socket = if local.is_ipv4() {
                TcpSocket::new_v4()
            } else {
                TcpSocket::new_v6()
            };
            let stream = match socket.and_then(|s| {
                s.set_reuseaddr(true)?;
                s.bind(local)?;
                Ok(s)
            }) {
                Ok(s) => s.connect(peer).await,
                Err(e) => Err(e),
            };
            let stream = match stream {
                Ok(s) => s,
                Err(e) => {
                    // A warning: a local port taken by another socket keeps this failing.
                    warn!(%local, %peer, error = %e, "TCP connect failed; retrying in 1 s");
                    tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_secs(1))
                        .await;
                    if in_tx.is_closed() {
                        return;
                    }
                    continue;
                }
            };
            info!(%peer, "control connection up");
            if connected_before && in_tx.send(TcpIn::Reconnected).await.is_err() {
                return;
            }
            connected_before = true;
            let (mut r, mut w) = stream.into_split();
            let mut deframer = Deframer::new();
            'connection: loop {
                tokio::select! {
                    n = r.read(&mut buf) => {
                        let n = match n {
                            Ok(0) => break 'connection,
                            Ok(n) => n,
                            Err(e) => {
                                debug!(error = %e, "TCP read failed");
                                break 'connection;
                            }
                        };
                        deframer.push(&buf[..n]);
                        while let Some(m) = deframer.next() {
                            match m {
                                Ok(m) => {
                                    if in_tx.send(TcpIn::Message(peer, m)).await.is_err() {
                                        return;
                                    }
                                }
                                Err(e) => {
                                    warn!(error = %e, "bad TPKT framing; closing");
                                    break 'connection;
                                }
                            }
                        }
                    }
                    m = out_rx.recv() => {
                        let Some(m) = m else { return };
                        let mut framed = Vec::with_capacity(m.len() + tpkt::HEADER);
                        if let Err(e) = tpkt::frame(&m, &mut framed) {
                            warn!(error = %e, "message not sent");
                            continue;
                        }
                        if let Err(e) = w.write_all(&framed).await {
                            debug!(error = %e, "TCP write failed");
                            break 'connection;
                        }
                    }
                }
            }
            warn!(%peer, "control connection lost");
            tokio::time::sleep_until(tokio::time::Instant::now() + Duration::from_secs(1)).await;
        }
    });
    (ControlTx::Tcp(out_tx), ControlRx::Tcp(in_rx))
}

struct Driver<G, W> {
    gw: G,
    control: ControlTx,
    rtp: HashMap<u16, Arc<UdpSocket>>,
    out: W,
    hearing: HashMap<u16, Hearing>,
    saying: HashMap<u16, PathBuf>,
}

fn now() -> std::time::Instant {
    tokio::time::Instant::now().into_std()
}

/// Runs the simulator taking command lines from `input` (closed = end of input) and writing
/// JSON lines to `output`; tests use a channel and an in-memory pipe.
pub async fn run_with<W>(
    config: DriverConfig,
    input: mpsc::Receiver<String>,
    output: W,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let control = Arc::new(UdpSocket::bind(config.listen).await?);
    let local = control.local_addr()?;
    let span = info_span!("gateway_sim", listen = %local, call_agent = %config.gateway.call_agent);
    let wanted = usize::from(config.gateway.lines) * config.gateway.max_connections;
    let gw = Gateway::new(config.gateway, now());
    serve(
        gw,
        local,
        (
            ControlTx::Udp(Arc::clone(&control)),
            ControlRx::Udp(control),
        ),
        config.rtp_ports,
        wanted,
        input,
        output,
    )
    .instrument(span)
    .await
}

/// The driver's loop for any gateway core: binds up to `wanted` RTP sockets on `local`'s
/// address, then serves until `quit` or the end of input.
pub(crate) async fn serve<G, W>(
    mut gw: G,
    local: SocketAddr,
    (control_tx, mut control_rx): (ControlTx, ControlRx),
    rtp_ports: impl IntoIterator<Item = u16>,
    wanted: usize,
    mut input: mpsc::Receiver<String>,
    output: W,
) -> io::Result<()>
where
    G: Driven,
    W: AsyncWrite + Unpin,
{
    let (rtp_tx, mut rtp_rx) = mpsc::channel::<(u16, SocketAddr, Vec<u8>)>(1024);
    let mut rtp = HashMap::new();
    let mut receivers = Vec::new();
    for port in rtp_ports.into_iter().filter(|p| p % 2 == 0) {
        if rtp.len() == wanted {
            break;
        }
        let Ok(sock) = UdpSocket::bind(SocketAddr::new(local.ip(), port)).await else {
            continue;
        };
        let sock = Arc::new(sock);
        let rx_sock = Arc::clone(&sock);
        let tx = rtp_tx.clone();
        receivers.push(tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            while let Ok((n, from)) = rx_sock.recv_from(&mut buf).await {
                if tx.send((port, from, buf[..n].to_vec())).await.is_err() {
                    break;
                }
            }
        }));
        gw.add_rtp_port(port);
        rtp.insert(port, sock);
    }
    drop(rtp_tx);
    info!(rtp_sockets = rtp.len(), "gateway simulator up");
    let mut d = Driver {
        gw,
        control: control_tx,
        rtp,
        out: output,
        hearing: HashMap::new(),
        saying: HashMap::new(),
    };
    d.flush().await?;
    let mut stdin_open = true;
    let mut buf = vec![0u8; 65536];
    loop {
        if !stdin_open && d.saying.is_empty() {
            break;
        }
        let deadline = d.gw.poll_timeout().map(tokio::time::Instant::from_std);
        tokio::select! {
            c = control_recv(&mut control_rx, &mut buf) => match c {
                ControlIn::Message(from, data) => {
                    d.gw.handle_datagram(now(), Via::Control, from, &data);
                }
                ControlIn::Reconnected => d.gw.reconnected(now()),
                ControlIn::Link(e) => d.gw.link(now(), e),
                ControlIn::Nothing => {}
            },
            Some((port, from, data)) = rtp_rx.recv() => {
                d.gw.handle_datagram(now(), Via::Rtp(port), from, &data);
            }
            line = input.recv(), if stdin_open => match line {
                Some(text) => {
                    if d.input(&text).await? {
                        break;
                    }
                }
                None => {
                    stdin_open = false;
                    debug!("stdin closed; finishing");
                }
            },
            () = sleep_until(deadline) => d.gw.handle_timeout(now()),
        }
        d.flush().await?;
    }
    for r in receivers {
        r.abort();
    }
    info!("gateway simulator stopped");
    d.finish_all().await
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// Reads any file the codecs pipeline knows (WAV of any rate, raw G.711, Ogg Opus) as 8 kHz
/// mono, bounded to [`MAX_SAY_SAMPLES`].
fn read_audio(path: &Path) -> Result<Vec<i16>, String> {
    let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let format = Format::from_path(path).unwrap_or(Format::Wav);
    let mut source = Source::new(BufReader::new(file), format, SampleRate::Hz8000)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut resampler =
        Resampler::new(source.sample_rate(), 8000).map_err(|e| format!("resampler: {e}"))?;
    let mut chunk = vec![0i16; 4096];
    let mut out = Vec::new();
    loop {
        let n = source
            .read(&mut chunk)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if n == 0 {
            break;
        }
        resampler
            .process(&chunk[..n], &mut out)
            .map_err(|e| format!("resampler: {e}"))?;
        if out.len() >= MAX_SAY_SAMPLES {
            break;
        }
    }
    resampler
        .finish(&mut out)
        .map_err(|e| format!("resampler: {e}"))?;
    out.truncate(MAX_SAY_SAMPLES);
    Ok(out)
}

impl<G: Driven, W: AsyncWrite + Unpin> Driver<G, W> {
    /// Handles one stdin line; true for `quit`.
    async fn input(&mut self, text: &str) -> io::Result<bool> {
        let input = match Input::parse(text) {
            Ok(i) => i,
            Err(e) => {
                self.print(&error_line(None, &e.to_string())).await?;
                return Ok(false);
            }
        };
        match input {
            Input::Nothing => {}
            Input::Quit => return Ok(true),
            Input::Line(cmd) => self.gw.handle_line(now(), cmd),
            Input::Trunk(cmd) => {
                let line = cmd.line();
                if !self.gw.handle_trunk(now(), cmd) {
                    let msg = "not an FXO port (this protocol side has none)";
                    self.print(&error_line(Some(line), msg)).await?;
                }
            }
            Input::Say { line, file } => match read_audio(&file) {
                Ok(samples) => {
                    let saying_before = self.gw.line_commands_refused();
                    self.gw
                        .handle_line(now(), LineCommand::Say { line, samples });
                    if self.gw.line_commands_refused() == saying_before {
                        self.saying.insert(line, file);
                    }
                }
                Err(e) => self.print(&error_line(Some(line), &e)).await?,
            },
            Input::Hear { line, file: None } => {
                self.gw
                    .handle_line(now(), LineCommand::Hear { line, on: false });
            }
            Input::Hear {
                line,
                file: Some(file),
            } => {
                if let Some(old) = self.hearing.remove(&line) {
                    self.finish_hearing(line, old).await?;
                }
                let opened = File::create(&file)
                    .map_err(|e| e.to_string())
                    .and_then(|f| {
                        WavWriter::new(BufWriter::new(f), 8000, 1, None).map_err(|e| e.to_string())
                    });
                match opened {
                    Ok(writer) => {
                        let before = self.gw.line_commands_refused();
                        self.gw
                            .handle_line(now(), LineCommand::Hear { line, on: true });
                        if self.gw.line_commands_refused() == before {
                            self.hearing.insert(line, Hearing { file, writer });
                        }
                    }
                    Err(e) => {
                        let msg = format!("{}: {e}", file.display());
                        self.print(&error_line(Some(line), &msg)).await?;
                    }
                }
            }
        }
        Ok(false)
    }

    /// Sends what the gateway queued and prints what it reported.
    async fn flush(&mut self) -> io::Result<()> {
        while let Some(t) = self.gw.poll_transmit() {
            let sock = match t.via {
                Via::Control => match &self.control {
                    ControlTx::Udp(s) => s,
                    ControlTx::Tcp(link) => {
                        if link.send(t.contents).await.is_err() {
                            debug!("control connection gone; message dropped");
                        }
                        continue;
                    }
                    ControlTx::Routed(link) => {
                        if link.send((t.destination, t.contents)).await.is_err() {
                            debug!("control link gone; message dropped");
                        }
                        continue;
                    }
                },
                Via::Rtp(port) => match self.rtp.get(&port) {
                    Some(s) => s,
                    None => continue,
                },
            };
            if let Err(e) = sock.send_to(&t.contents, t.destination).await {
                debug!(error = %e, to = %t.destination, "send failed");
            }
        }
        while let Some(o) = self.gw.poll_output() {
            match o {
                Output::Audio { line, samples } => {
                    if let Some(h) = self.hearing.get_mut(&line)
                        && let Err(e) = h.writer.write_samples(&samples)
                    {
                        warn!(line, error = %e, "hear file write failed");
                    }
                }
                Output::HearEnded { line } => {
                    if let Some(h) = self.hearing.remove(&line) {
                        self.finish_hearing(line, h).await?;
                    }
                }
                Output::SayDone {
                    line,
                    packets,
                    complete,
                } => {
                    let file = self
                        .saying
                        .remove(&line)
                        .map(|f| f.display().to_string())
                        .unwrap_or_default();
                    let text = say_done(line, &file, packets, complete);
                    self.print(&text).await?;
                }
                other => {
                    if let Some(text) = other.to_json() {
                        self.print(&text).await?;
                    }
                }
            }
        }
        self.out.flush().await
    }

    async fn finish_hearing(&mut self, line: u16, h: Hearing) -> io::Result<()> {
        let frames = h.writer.frames_written();
        let file = h.file.display().to_string();
        match h.writer.finish_seekable() {
            Ok(_) => {
                let ms = frames / 8;
                self.print(&file_done("hear_done", line, &file, "ms", ms))
                    .await
            }
            Err(e) => {
                self.print(&error_line(Some(line), &format!("{file}: {e}")))
                    .await
            }
        }
    }

    async fn finish_all(&mut self) -> io::Result<()> {
        let open: Vec<u16> = self.hearing.keys().copied().collect();
        for line in open {
            if let Some(h) = self.hearing.remove(&line) {
                self.finish_hearing(line, h).await?;
            }
        }
        self.out.flush().await
    }

    async fn print(&mut self, line: &str) -> io::Result<()> {
        self.out.write_all(line.as_bytes()).await?;
        self.out.write_all(b"\n").await
    }
}
