//! The tokio driver: keeps one [`Session`] connected to LCDd.
//!
//! One loop: connect to [`Config::address`]; on success feed the session
//! ([`Session::handle_connected`]), then repeatedly write what [`Session::poll_transmit`] gives,
//! deliver what [`Session::poll_event`] gives, drop the connection if [`Session::poll_close`]
//! says so, and wait for bytes from LCDd, a command from the application or the session's
//! [`Session::poll_timeout`]. When the connection ends (EOF, error, the session's reply
//! timeout) or cannot be made, the session is told
//! ([`Session::handle_disconnected`]) and the driver waits [`Backoff::delay`] of the attempt
//! number before the next try; commands given meanwhile are folded into the declared state and
//! go out with the replay. The attempt number goes back to 0 once a connection reaches
//! `connect`. Everything that needs a test lives in the session; this loop only moves bytes
//! and time.
//!
//! # Application side
//!
//! [`spawn`] returns a [`Panel`] (cloneable; [`Panel::send`] queues a [`Command`]), the
//! [`Event`] receiver, a [`watch`] of the session's [`Stats`], and the task. The application
//! declares its screens, widgets, keys and menu once with `send`, updates widgets and menu
//! values with `send` whenever it likes, and reads key presses and menu events from the
//! receiver; reconnects are invisible to it apart from [`Event::Disconnected`] and
//! [`Event::Connected`]. A command the session refuses comes back as [`Event::Rejected`].
//! The task ends when every `Panel` is dropped or the event receiver is.
// Drivers are where real time enters: the back-off sleeps here and nowhere else.
#![allow(clippy::disallowed_methods)]

use std::time::Instant;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, watch};
use tracing::{Instrument, debug, info, info_span};

use crate::backoff::Backoff;
use crate::protocol::Command;
use crate::session::{self, Event, Session, Stats};

/// LCDd's default address.
pub const DEFAULT_ADDRESS: &str = "127.0.0.1:13666";
/// Depth of the command and event channels.
pub const CHANNEL_DEPTH: usize = 256;
/// Bytes read from the connection per wake-up.
const READ_BUFFER: usize = 4096;

/// Driver configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// LCDd's `host:port`.
    pub address: String,
    /// The session's configuration.
    pub session: session::Config,
    /// Delays between connection attempts.
    pub backoff: Backoff,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            address: DEFAULT_ADDRESS.to_owned(),
            session: session::Config::default(),
            backoff: Backoff::default(),
        }
    }
}

/// Sends commands to a running driver. Cloneable; the driver stops when all are dropped.
#[derive(Debug, Clone)]
pub struct Panel {
    commands: mpsc::Sender<Command>,
}

impl Panel {
    /// Queues a command (a declaration or an update). Fails only if the driver has stopped.
    pub async fn send(&self, command: Command) -> Result<(), Stopped> {
        self.commands.send(command).await.map_err(|_| Stopped)
    }
}

/// The driver has stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the panel driver has stopped")]
pub struct Stopped;

/// What [`spawn`] returns.
#[derive(Debug)]
pub struct Spawned {
    /// The command handle.
    pub panel: Panel,
    /// The events.
    pub events: mpsc::Receiver<Event>,
    /// The session's counters, updated before each delivery of events.
    pub stats: watch::Receiver<Stats>,
    /// The task.
    pub task: tokio::task::JoinHandle<()>,
}

/// Starts the driver task.
pub fn spawn(config: Config) -> Spawned {
    let (command_tx, command_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (event_tx, event_rx) = mpsc::channel(CHANNEL_DEPTH);
    let (stats_tx, stats_rx) = watch::channel(Stats::default());
    let span = info_span!("lcdproc", address = %config.address);
    let task = tokio::spawn(run(config, command_rx, event_tx, stats_tx).instrument(span));
    Spawned {
        panel: Panel {
            commands: command_tx,
        },
        events: event_rx,
        stats: stats_rx,
        task,
    }
}

/// The time, in the form the session takes. `tokio::time::pause()` controls it in tests.
fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Sleeps until `deadline`, or forever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await,
        None => std::future::pending().await,
    }
}

enum Flow {
    Reconnect,
    Stop,
}

/// The driver loop; see the module documentation.
pub async fn run(
    config: Config,
    mut commands: mpsc::Receiver<Command>,
    events: mpsc::Sender<Event>,
    stats: watch::Sender<Stats>,
) {
    let mut session = Session::new(config.session);
    let mut backoff = config.backoff;
    let mut attempt: u32 = 0;
    loop {
        match TcpStream::connect(&config.address).await {
            Ok(stream) => {
                info!("lcdproc connection up");
                let _ = stream.set_nodelay(true);
                let before = session.stats().connects;
                session.handle_connected(now());
                let flow = connection(&mut session, stream, &mut commands, &events, &stats).await;
                if session.stats().connects > before {
                    attempt = 0;
                }
                session.handle_disconnected();
                info!("lcdproc connection down");
                if matches!(flow, Flow::Stop) || !deliver(&mut session, &events, &stats).await {
                    return;
                }
            }
            Err(e) => debug!(error = %e, attempt, "lcdproc connect failed"),
        }
        let wake = tokio::time::Instant::now() + backoff.delay(attempt);
        attempt = attempt.saturating_add(1);
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(wake) => break,
                command = commands.recv() => {
                    let Some(command) = command else { return };
                    if !handle(&mut session, command, &events).await
                        || !deliver(&mut session, &events, &stats).await
                    {
                        return;
                    }
                }
            }
        }
    }
}

/// Feeds a command to the session; a refusal goes to the application as an event.
async fn handle(session: &mut Session, command: Command, events: &mpsc::Sender<Event>) -> bool {
    match session.handle_command(command) {
        Ok(()) => true,
        Err(e) => events.send(Event::Rejected(e)).await.is_ok(),
    }
}

/// Delivers the session's events; false once the receiver is gone.
async fn deliver(
    session: &mut Session,
    events: &mpsc::Sender<Event>,
    stats: &watch::Sender<Stats>,
) -> bool {
    // The counters first, so that they are current when the application sees an event.
    stats.send_if_modified(|s| {
        let changed = *s != *session.stats();
        *s = *session.stats();
        changed
    });
    while let Some(event) = session.poll_event() {
        if events.send(event).await.is_err() {
            return false;
        }
    }
    true
}

async fn connection(
    session: &mut Session,
    stream: TcpStream,
    commands: &mut mpsc::Receiver<Command>,
    events: &mpsc::Sender<Event>,
    stats: &watch::Sender<Stats>,
) -> Flow {
    let (mut reader, mut writer) = stream.into_split();
    let mut buf = vec![0u8; READ_BUFFER];
    loop {
        while let Some(bytes) = session.poll_transmit(now()) {
            if let Err(e) = writer.write_all(&bytes).await {
                debug!(error = %e, "lcdproc write failed");
                return Flow::Reconnect;
            }
        }
        if !deliver(session, events, stats).await {
            return Flow::Stop;
        }
        if session.poll_close() {
            return Flow::Reconnect;
        }
        let deadline = session.poll_timeout();
        tokio::select! {
            () = sleep_until(deadline) => session.handle_timeout(now()),
            read = reader.read(&mut buf) => match read {
                Ok(0) => {
                    debug!("lcdproc connection closed by LCDd");
                    return Flow::Reconnect;
                }
                Ok(n) => session.handle_input(&buf[..n]),
                Err(e) => {
                    debug!(error = %e, "lcdproc read failed");
                    return Flow::Reconnect;
                }
            },
            command = commands.recv() => {
                let Some(command) = command else { return Flow::Stop };
                if !handle(session, command, events).await {
                    return Flow::Stop;
                }
                while let Ok(command) = commands.try_recv() {
                    if !handle(session, command, events).await {
                        return Flow::Stop;
                    }
                }
            }
        }
    }
}
