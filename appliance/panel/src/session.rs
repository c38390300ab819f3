//! The sans-IO LCDproc client session: no sockets, no clocks, no tasks.
//!
//! # The loop
//!
//! The driver owns the TCP connection and, in this order:
//! 1. feeds what happened: [`Session::handle_connected`] when a connection is up,
//!    [`Session::handle_input`] with every chunk of bytes read, [`Session::handle_disconnected`]
//!    when it went away (EOF, error, or the driver gave up on it), and
//!    [`Session::handle_command`] for each command of the application;
//! 2. drains [`Session::poll_transmit`] and writes each buffer to the connection;
//! 3. drains [`Session::poll_event`] and delivers each event;
//! 4. drains [`Session::poll_close`]: if true, it drops the connection (and then calls
//!    `handle_disconnected`);
//! 5. sleeps until [`Session::poll_timeout`] or the next input, and calls
//!    [`Session::handle_timeout`] when that instant has passed.
//!
//! Time is an input (`now`); the session reads no clock. Its one timer serves two purposes: a
//! `noop` is sent as a keep-alive after [`Config::keepalive`] without traffic, and when `hello`
//! or a batch's `noop` stays unanswered for [`Config::reply_timeout`] LCDd is taken as hung and
//! the session asks for the connection to be closed (the driver then reconnects with its
//! back-off, [`crate::backoff`]).
//!
//! # The stream and its sync point
//!
//! LCDd's replies are not matched one-to-one with commands: `screen_set` and `menu_set_item`
//! answer once per option, a bad option gives `huh?` lines as well as a `success`, and
//! `listen`, `ignore`, `key` and `menuevent` lines arrive at any moment, also between the
//! answers to one command. The session therefore never pairs a reply with a command. It sends
//! commands in *batches* of at most [`MAX_BATCH`], each closed by `noop`; every `success` and
//! `huh?` before that batch's `noop complete` belongs to the batch (batches are answered in
//! order, LCDd handles one connection's lines sequentially), and a batch that drew `huh?`
//! lines is reported as [`Event::Refused`] with their texts. Notices become typed events
//! whenever they arrive.
//!
//! # Declarations and reconnects
//!
//! Every command the application gives is checked against, and folded into, the declared
//! state (screens, widgets, keys, menu items, main menu, backlight, output). On each new
//! connection the session says `hello`, waits for `connect` (which gives the display's size:
//! [`Event::Connected`]), then sends `client_set -name` and the replay of the declared state.
//! The application declares once and never has to care about reconnects.
//!
//! # Bounds
//!
//! Input lines over [`MAX_LINE`] are discarded up to the next `\n`; at most [`MAX_PENDING`]
//! command lines wait for a batch, [`MAX_IN_FLIGHT`] batches await their `noop complete`,
//! [`MAX_EVENTS`] events wait to be polled (newer ones are dropped), and a batch keeps the
//! texts of its first [`MAX_ERRORS_KEPT`] `huh?` lines. Every dropped or out-of-place input is
//! counted in [`Stats`] and logged at `debug!`.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tracing::{debug, trace};

use crate::declared::{Declared, MAX_REPLAY};
use crate::protocol::{self, Command, Id, MAX_LINE, MenuEventKind, ParseErrorKind, Reply, Text};

/// Commands per batch (each batch is closed by one `noop`).
pub const MAX_BATCH: usize = 64;
/// Command lines waiting to be batched; more than any replay ([`crate::declared::MAX_REPLAY`]).
pub const MAX_PENDING: usize = 4096;
/// Batches sent and not yet answered by `noop complete`; further batches wait.
pub const MAX_IN_FLIGHT: usize = 8;
/// Events waiting for [`Session::poll_event`]; newer events are dropped and counted.
pub const MAX_EVENTS: usize = 256;
/// `huh?` texts kept per batch; further ones are counted only.
pub const MAX_ERRORS_KEPT: usize = 16;

const _: () = assert!(MAX_PENDING > MAX_REPLAY + 1);

/// Session configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The client name shown in LCDd's menu (`client_set -name`); also the title of the
    /// client's main menu.
    pub client_name: Text,
    /// How long `hello` or a batch may stay unanswered before the connection is given up.
    pub reply_timeout: Duration,
    /// How long the connection may stay quiet before a `noop` checks that LCDd still answers.
    pub keepalive: Duration,
}

impl Default for Config {
    /// Named `Offhook`; 10 s reply timeout; keep-alive after 30 s.
    fn default() -> Self {
        Self {
            client_name: Text::new("Offhook"),
            reply_timeout: Duration::from_secs(10),
            keepalive: Duration::from_secs(30),
        }
    }
}

/// The display LCDd announced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Display {
    /// Width in characters.
    pub width: u16,
    /// Height in characters.
    pub height: u16,
    /// Character cell width in pixels.
    pub cell_width: u16,
    /// Character cell height in pixels.
    pub cell_height: u16,
    /// LCDd's version.
    pub server_version: String,
    /// The protocol version.
    pub protocol: String,
}

/// What the session tells the application.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// LCDd answered `hello`; the declared state is being replayed.
    Connected(Display),
    /// The connection went away; the driver reconnects.
    Disconnected,
    /// Every batch of commands sent has been answered and nothing waits to be sent (not
    /// reported after a keep-alive).
    Synced,
    /// A screen is now shown.
    Listen(String),
    /// A screen is no longer shown.
    Ignore(String),
    /// A reserved key was pressed.
    Key(String),
    /// The user did something in the client's menu.
    Menu {
        /// What.
        kind: MenuEventKind,
        /// The item (`_client_menu_` is the client's main menu).
        id: String,
        /// The new value, for `update`, `plus` and `minus`.
        value: Option<String>,
    },
    /// LCDd refused (part of) a batch of commands: the `huh?` texts, at most
    /// [`MAX_ERRORS_KEPT`] of them, and how many commands the batch held.
    Refused {
        /// Commands in the batch (0 for a `huh?` outside any batch).
        commands: usize,
        /// The texts.
        errors: Vec<String>,
    },
    /// The application's command was refused before being sent.
    Rejected(ApiError),
}

/// Why the session refused an application command. API misuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    /// `hello`, `client_set` and `noop` belong to the session.
    #[error("hello, client_set and noop are the session's own")]
    Reserved,
    /// No declared screen, widget or menu item with this id (or the parent is not a menu).
    #[error("unknown id {0}")]
    Unknown(Id),
    /// A screen, widget or menu item with this id is already declared.
    #[error("id {0} already declared")]
    Duplicate(Id),
    /// The widget was declared with another type.
    #[error("widget {0} has another type")]
    WrongType(Id),
    /// A declaration bound (`crate::declared::MAX_*`) would be exceeded; names what.
    #[error("too many {0}")]
    TooMany(&'static str),
    /// [`MAX_PENDING`] command lines already wait to be sent.
    #[error("too many commands waiting")]
    QueueFull,
}

/// Counters of what came in, with every kind of bad or unexpected input.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Connections that reached `connect`.
    pub connects: u64,
    /// Lines received (all of them, good or bad).
    pub lines: u64,
    /// Lines longer than [`MAX_LINE`], discarded.
    pub too_long: u64,
    /// Lines that are not UTF-8, hold control characters or have bad fields.
    pub malformed: u64,
    /// Lines whose first word LCDd does not send.
    pub unknown: u64,
    /// `connect` lines when no `hello` was outstanding.
    pub unexpected_connect: u64,
    /// `success` lines outside any batch.
    pub unexpected_success: u64,
    /// `huh?` lines outside any batch (also reported as [`Event::Refused`]).
    pub unexpected_huh: u64,
    /// `noop complete` lines with no batch outstanding.
    pub unexpected_noop: u64,
    /// Notices (`listen`, `ignore`, `key`, `menuevent`) before `connect`.
    pub early_notices: u64,
    /// `bye` lines.
    pub byes: u64,
    /// `huh?` lines in all.
    pub huh: u64,
    /// `huh?` texts not kept (over [`MAX_ERRORS_KEPT`] in a batch).
    pub huh_texts_dropped: u64,
    /// Batches answered with at least one `huh?`.
    pub batches_refused: u64,
    /// Batches sent.
    pub batches_sent: u64,
    /// Events dropped because [`MAX_EVENTS`] were waiting.
    pub events_dropped: u64,
    /// Application commands refused ([`ApiError`]).
    pub rejected: u64,
    /// Keep-alive `noop`s sent.
    pub keepalives: u64,
    /// Connections given up because `hello` or a batch went unanswered.
    pub reply_timeouts: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Down,
    AwaitingConnect,
    Up,
}

#[derive(Debug)]
struct Batch {
    sent: Instant,
    commands: usize,
    successes: usize,
    errors: Vec<String>,
}

/// The client session; see the module documentation for its loop.
#[derive(Debug)]
pub struct Session {
    config: Config,
    state: State,
    declared: Declared,
    input: Vec<u8>,
    discarding: bool,
    out: VecDeque<Vec<u8>>,
    pending: VecDeque<Vec<u8>>,
    in_flight: VecDeque<Batch>,
    events: VecDeque<Event>,
    display: Option<Display>,
    /// When `hello` or the last batch was sent.
    last_sent: Option<Instant>,
    keepalive_due: bool,
    close: bool,
    stats: Stats,
}

impl Session {
    /// A session with nothing declared and no connection.
    pub fn new(config: Config) -> Self {
        Self {
            config,
            state: State::Down,
            declared: Declared::default(),
            input: Vec::with_capacity(MAX_LINE),
            discarding: false,
            out: VecDeque::new(),
            pending: VecDeque::new(),
            in_flight: VecDeque::new(),
            events: VecDeque::new(),
            display: None,
            last_sent: None,
            keepalive_due: false,
            close: false,
            stats: Stats::default(),
        }
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The display of the current connection, once `connect` has arrived.
    pub fn display(&self) -> Option<&Display> {
        self.display.as_ref()
    }

    /// Whether `connect` has arrived on the current connection.
    pub fn is_connected(&self) -> bool {
        self.state == State::Up
    }

    /// A connection is up: forgets the previous one's buffers and says `hello`.
    pub fn handle_connected(&mut self, now: Instant) {
        self.reset();
        self.state = State::AwaitingConnect;
        self.last_sent = Some(now);
        self.out.push_back(Command::Hello.to_line());
        debug!("lcdproc connection up, hello sent");
    }

    /// The connection went away. Reports [`Event::Disconnected`] if it had reached `connect`.
    pub fn handle_disconnected(&mut self) {
        if self.state == State::Up {
            self.push_event(Event::Disconnected);
        }
        debug!(batches = self.in_flight.len(), "lcdproc connection down");
        self.reset();
    }

    fn reset(&mut self) {
        self.state = State::Down;
        self.input.clear();
        self.discarding = false;
        self.out.clear();
        self.pending.clear();
        self.in_flight.clear();
        self.display = None;
        self.last_sent = None;
        self.keepalive_due = false;
        self.close = false;
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next needed: the reply deadline of
    /// `hello` or of the oldest batch, or else the keep-alive.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let last = self.last_sent?;
        match self.state {
            State::Down => None,
            _ if self.close => None,
            State::AwaitingConnect => Some(last + self.config.reply_timeout),
            State::Up => match self.in_flight.front() {
                Some(b) => Some(b.sent + self.config.reply_timeout),
                None if self.keepalive_due => None,
                None => Some(last + self.config.keepalive),
            },
        }
    }

    /// The instant from [`poll_timeout`](Self::poll_timeout) has passed.
    pub fn handle_timeout(&mut self, now: Instant) {
        let Some(deadline) = self.poll_timeout() else {
            return;
        };
        if now < deadline {
            return;
        }
        if self.state == State::AwaitingConnect || !self.in_flight.is_empty() {
            self.stats.reply_timeouts += 1;
            debug!(
                batches = self.in_flight.len(),
                "lcdproc reply timeout, closing"
            );
            self.close = true;
        } else {
            trace!("lcdproc keep-alive");
            self.keepalive_due = true;
        }
    }

    /// Whether the driver should drop the connection (LCDd stopped answering): true from the
    /// reply timeout until [`handle_disconnected`](Self::handle_disconnected).
    pub fn poll_close(&self) -> bool {
        self.close
    }

    /// An application command: checked against and folded into the declared state, then
    /// queued if connected (otherwise the next connection's replay carries it).
    pub fn handle_command(&mut self, command: Command) -> Result<(), ApiError> {
        let result = self.command(&command);
        if let Err(e) = &result {
            self.stats.rejected += 1;
            debug!(error = %e, "lcdproc command rejected");
        }
        result
    }

    fn command(&mut self, command: &Command) -> Result<(), ApiError> {
        if self.state == State::Up && self.pending.len() >= MAX_PENDING {
            return Err(ApiError::QueueFull);
        }
        self.declared.record(command)?;
        if self.state == State::Up {
            self.pending.push_back(command.to_line());
        }
        Ok(())
    }

    /// Bytes read from the connection, any amount, split anywhere.
    pub fn handle_input(&mut self, mut data: &[u8]) {
        if self.state == State::Down {
            return;
        }
        while !data.is_empty() {
            let (chunk, rest, end) = match data.iter().position(|&b| b == b'\n') {
                Some(i) => (&data[..i], &data[i + 1..], true),
                None => (data, &[][..], false),
            };
            data = rest;
            if !self.discarding {
                if self.input.len() + chunk.len() > MAX_LINE {
                    self.stats.too_long += 1;
                    self.stats.lines += 1;
                    debug!(limit = MAX_LINE, "lcdproc line too long, discarded");
                    self.input.clear();
                    self.discarding = true;
                } else {
                    self.input.extend_from_slice(chunk);
                }
            }
            if end {
                if self.discarding {
                    self.discarding = false;
                } else {
                    let line = std::mem::take(&mut self.input);
                    self.handle_line(&line);
                    self.input = line;
                    self.input.clear();
                }
            }
        }
    }

    fn handle_line(&mut self, line: &[u8]) {
        self.stats.lines += 1;
        let reply = match protocol::parse(line) {
            Ok(r) => r,
            Err(e) => {
                if e.kind == ParseErrorKind::Unknown {
                    self.stats.unknown += 1;
                } else {
                    self.stats.malformed += 1;
                }
                debug!(error = %e, "lcdproc line dropped");
                return;
            }
        };
        trace!(?reply, "lcdproc line");
        match reply {
            Reply::Connect(info) => {
                if self.state != State::AwaitingConnect {
                    self.stats.unexpected_connect += 1;
                    debug!("lcdproc connect without hello, dropped");
                    return;
                }
                let display = Display {
                    width: info.width,
                    height: info.height,
                    cell_width: info.cell_width,
                    cell_height: info.cell_height,
                    server_version: info.server_version.to_owned(),
                    protocol: info.protocol.to_owned(),
                };
                debug!(
                    width = info.width,
                    height = info.height,
                    "lcdproc connected"
                );
                self.state = State::Up;
                self.stats.connects += 1;
                self.display = Some(display.clone());
                self.push_event(Event::Connected(display));
                let name = Command::ClientSet {
                    name: self.config.client_name.clone(),
                };
                self.pending.push_back(name.to_line());
                for c in self.declared.replay() {
                    self.pending.push_back(c.to_line());
                }
            }
            Reply::Success => match self.in_flight.front_mut() {
                Some(b) => b.successes += 1,
                None => {
                    self.stats.unexpected_success += 1;
                    debug!("lcdproc success outside a batch, dropped");
                }
            },
            Reply::Huh(text) => {
                self.stats.huh += 1;
                match self.in_flight.front_mut() {
                    Some(b) if b.errors.len() < MAX_ERRORS_KEPT => b.errors.push(text.to_owned()),
                    Some(_) => self.stats.huh_texts_dropped += 1,
                    None => {
                        self.stats.unexpected_huh += 1;
                        debug!(text, "lcdproc huh? outside a batch");
                        self.push_event(Event::Refused {
                            commands: 0,
                            errors: vec![text.to_owned()],
                        });
                    }
                }
            }
            Reply::NoopComplete => {
                let Some(batch) = self.in_flight.pop_front() else {
                    self.stats.unexpected_noop += 1;
                    debug!("lcdproc noop complete without a batch, dropped");
                    return;
                };
                trace!(
                    commands = batch.commands,
                    successes = batch.successes,
                    errors = batch.errors.len(),
                    "lcdproc batch answered"
                );
                if !batch.errors.is_empty() {
                    self.stats.batches_refused += 1;
                    debug!(errors = ?batch.errors, "lcdproc batch refused in part");
                    self.push_event(Event::Refused {
                        commands: batch.commands,
                        errors: batch.errors,
                    });
                }
                if batch.commands > 0 && self.in_flight.is_empty() && self.pending.is_empty() {
                    self.push_event(Event::Synced);
                }
            }
            Reply::Bye => {
                self.stats.byes += 1;
                debug!("lcdproc server said bye");
            }
            Reply::Listen(_) | Reply::Ignore(_) | Reply::Key(_) | Reply::MenuEvent { .. }
                if self.state != State::Up =>
            {
                self.stats.early_notices += 1;
                debug!("lcdproc notice before connect, dropped");
            }
            Reply::Listen(s) => self.push_event(Event::Listen(s.to_owned())),
            Reply::Ignore(s) => self.push_event(Event::Ignore(s.to_owned())),
            Reply::Key(k) => self.push_event(Event::Key(k.to_owned())),
            Reply::MenuEvent { kind, id, value } => {
                if kind == MenuEventKind::Update
                    && let Some(value) = value
                {
                    // LCDd now holds the user's value: a replay must not undo it.
                    self.declared.user_update(id, value);
                }
                self.push_event(Event::Menu {
                    kind,
                    id: id.to_owned(),
                    value: value.map(str::to_owned),
                });
            }
        }
    }

    fn push_event(&mut self, event: Event) {
        if self.events.len() >= MAX_EVENTS {
            self.stats.events_dropped += 1;
            debug!(?event, "lcdproc event queue full, dropped");
            return;
        }
        self.events.push_back(event);
    }

    /// The next bytes to write: `hello`, or a batch of commands closed by `noop` (a lone
    /// `noop` as keep-alive).
    pub fn poll_transmit(&mut self, now: Instant) -> Option<Vec<u8>> {
        if let Some(b) = self.out.pop_front() {
            return Some(b);
        }
        if self.state != State::Up
            || self.close
            || (self.pending.is_empty() && !self.keepalive_due)
            || self.in_flight.len() >= MAX_IN_FLIGHT
        {
            return None;
        }
        if self.pending.is_empty() {
            self.stats.keepalives += 1;
        }
        self.keepalive_due = false;
        self.last_sent = Some(now);
        let n = self.pending.len().min(MAX_BATCH);
        let mut buf = Vec::new();
        for line in self.pending.drain(..n) {
            buf.extend_from_slice(&line);
        }
        Command::Noop.encode(&mut buf);
        self.in_flight.push_back(Batch {
            sent: now,
            commands: n,
            successes: 0,
            errors: Vec::new(),
        });
        self.stats.batches_sent += 1;
        Some(buf)
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
}

#[cfg(test)]
mod tests;
