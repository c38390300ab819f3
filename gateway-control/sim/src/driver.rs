//! The simulator's tokio driver: one UDP control socket, one UDP socket per RTP port, stdin
//! commands, JSON lines on stdout, and the files of `say` and `hear`.
//!
//! Lifecycle: the driver binds the control socket and up to `lines ×`
//! [`Config::max_connections`](crate::Config::max_connections) RTP sockets (even ports of the
//! range, skipping ports in use), then runs the [`Gateway`] until `quit` (it stops at once;
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

use codecs::opus::SampleRate;
use codecs::pipeline::{Format, Source};
use codecs::resample::Resampler;
use codecs::wav::WavWriter;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::net::UdpSocket;
use tokio::sync::mpsc;
use tracing::{Instrument, debug, info, info_span, warn};

use crate::{
    Config, Gateway, Input, LineCommand, MAX_SAY_SAMPLES, Output, Via, error_line, file_done,
    say_done,
};

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
    run_with(config, rx, Stdout).await
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

struct Driver<W> {
    gw: Gateway,
    control: Arc<UdpSocket>,
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
    mut input: mpsc::Receiver<String>,
    output: W,
) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let control = Arc::new(UdpSocket::bind(config.listen).await?);
    let local = control.local_addr()?;
    let span = info_span!("gateway_sim", listen = %local, call_agent = %config.gateway.call_agent);
    async move {
        let (rtp_tx, mut rtp_rx) = mpsc::channel::<(u16, SocketAddr, Vec<u8>)>(1024);
        let wanted = usize::from(config.gateway.lines) * config.gateway.max_connections;
        let mut gw = Gateway::new(config.gateway.clone(), now());
        let mut rtp = HashMap::new();
        let mut receivers = Vec::new();
        for port in config.rtp_ports.clone().filter(|p| p % 2 == 0) {
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
        info!(
            lines = config.gateway.lines,
            rtp_sockets = rtp.len(),
            "gateway simulator up"
        );
        let mut d = Driver {
            gw,
            control,
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
            let control = Arc::clone(&d.control);
            tokio::select! {
                r = control.recv_from(&mut buf) => match r {
                    Ok((n, from)) => d.gw.handle_datagram(now(), from, &buf[..n]),
                    Err(e) => debug!(error = %e, "control socket receive failed"),
                },
                Some((port, from, data)) = rtp_rx.recv() => {
                    d.gw.handle_rtp(now(), port, from, &data);
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
    .instrument(span)
    .await
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

impl<W: AsyncWrite + Unpin> Driver<W> {
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
            Input::Say { line, file } => match read_audio(&file) {
                Ok(samples) => {
                    let saying_before = self.gw.stats().line_commands_refused;
                    self.gw
                        .handle_line(now(), LineCommand::Say { line, samples });
                    if self.gw.stats().line_commands_refused == saying_before {
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
                        let before = self.gw.stats().line_commands_refused;
                        self.gw
                            .handle_line(now(), LineCommand::Hear { line, on: true });
                        if self.gw.stats().line_commands_refused == before {
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
                Via::Control => &self.control,
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
