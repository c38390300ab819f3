//! One state machine per station (phone): ring to record, ring to have messages heard, and
//! intercom, over the common gateway model (RFC 3660 line package signals through
//! [`gateway_control::model`]) and the media engine's commands and events.
//!
//! The states (`states.rs`) are named for what they wait for, and each transition consumes the
//! state and returns the next one, as rustls's handshake states do.
//!
//! Decisions worth knowing:
//! - Every connection is `SendRecv` with the configured codec and a 20 ms ptime: the same call
//!   plays messages and records a reply (`*`), and in-band RFC 4733 digits can arrive on it.
//! - `#` while listening moves on and marks the message played ([`Output::Played`]): the user
//!   chose to leave it; it would otherwise ring again forever. Hanging up in the middle of a
//!   message leaves it waiting.
//! - A live stream to a ringing phone is held here, at most [`Config::live_backlog`] of it:
//!   beyond that the oldest buffers are dropped and counted ([`Stats::live_dropped`]). Once
//!   picked up, the held buffers and then every new one go to the media engine
//!   ([`MediaCommand::LiveBuffer`]), which catches up with its own bounded queue.
//! - Silence and maximum length are detected by the media engine; the station answers either
//!   with [`MediaCommand::StopCapture`], like any other stop (an engine that has already
//!   stopped by itself ignores it; a [`MediaEvent::Captured`] arriving unasked counts as the
//!   maximum length).
//! - The stop key `#` counts from the gateway ([`Event::Digit`]) and in-band
//!   ([`MediaEvent::Digit`], RFC 4733) alike; so do the listening keys.
//! - "Nothing (left) to hear" is the confirmation tone (`L/cf`), then the station waits for the
//!   hang-up; a record request while the phone is off hook or ringing for another request
//!   fails at once ("the phone is busy"), and while its gateway is down ("the phone's gateway
//!   is down"). A record request outranks a message ring; messages keep waiting.
//! - A message arriving while the phone is in use waits in the station's queue and rings once
//!   the phone is back on hook (glare). A ring lost to a gateway fault is rung again once the
//!   gateway is back. With [`Config::message_lamp`] the lamp (`L/vmwi`) is lit while messages
//!   wait, changed only while on hook.
//! - A forced gateway restart, an unreachable gateway or a gateway-initiated delete during a
//!   recording stops the capture and still delivers what was captured
//!   ([`StopReason::GatewayLost`]); if nothing was, the request fails. A graceful restart only
//!   makes the station unavailable for new requests.
//! - A live stream played to its end makes its stored copy count as heard: when
//!   [`Input::LiveStored`] names the copy (before or after the stream ends), the phone answers
//!   [`Output::Played`] for it and never offers it. A stream cut short by a hang-up is offered
//!   as usual.
//! - At shutdown ([`Station::shutdown`]) a recording stops and is still delivered
//!   ([`StopReason::Shutdown`]), its connection deleted at once; a request still ringing fails;
//!   playback stops; the station then refuses new work.
//!
//! Known limit: [`MediaEvent::PlayDone`] names no message, so a `PlayDone` the engine sent
//! just before it received a [`MediaCommand::StopPlay`] (a key pressed as a message ends)
//! would be taken for the next message's end. The engine should send no `PlayDone` for a
//! playback it was told to stop, and the race window is one command's latency.
//!
//! [`StopReason::GatewayLost`]: crate::StopReason::GatewayLost
//! [`StopReason::Shutdown`]: crate::StopReason::Shutdown

mod calls;
mod listen;
mod record;
mod states;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use gateway_control::model::{Cadence, Command, ConnectionMode, Event, LineId, Media, Tone};
use tracing::debug;

pub use calls::{Calls, PortAllocator, STATION_STREAM_BIT};

use crate::manager::Config;
use crate::{Input, MediaCommand, MediaEvent, MessageId, Output, RequestId, StreamId, UserId};
use states::State;

/// What a station counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Rings started (to record, for messages, for a live stream).
    pub rings: u64,
    /// Rings that ended unanswered.
    pub unanswered: u64,
    /// Recordings delivered as [`Output::Recorded`].
    pub recordings: u64,
    /// Record requests answered [`Output::RecordFailed`].
    pub record_failures: u64,
    /// Messages heard to the end or skipped with `#`.
    pub played: u64,
    /// Messages deleted with `7`.
    pub deleted: u64,
    /// Messages the media engine could not play.
    pub play_failures: u64,
    /// Live buffers dropped because the backlog of a ringing phone was full.
    pub live_dropped: u64,
    /// Live streams refused because the phone was busy (the stored copy still rings later).
    pub live_refused: u64,
    /// Connections lost to the gateway (down, restart, gateway-initiated delete).
    pub connections_lost: u64,
    /// Stored copies of intercom streams not offered because the phone played them live.
    pub heard_live: u64,
    /// Inputs and events that meant nothing in the current state, dropped.
    pub ignored: u64,
    /// Message rings of a phone behind a trunk scheduled again after one failed.
    pub retries: u64,
}

impl Stats {
    /// The sum of two stations' counters.
    pub fn sum(self, o: &Self) -> Self {
        Self {
            rings: self.rings + o.rings,
            unanswered: self.unanswered + o.unanswered,
            recordings: self.recordings + o.recordings,
            record_failures: self.record_failures + o.record_failures,
            played: self.played + o.played,
            deleted: self.deleted + o.deleted,
            play_failures: self.play_failures + o.play_failures,
            live_dropped: self.live_dropped + o.live_dropped,
            live_refused: self.live_refused + o.live_refused,
            connections_lost: self.connections_lost + o.connections_lost,
            heard_live: self.heard_live + o.heard_live,
            ignored: self.ignored + o.ignored,
            retries: self.retries + o.retries,
        }
    }
}

/// What a ringing station was picked up for, so the manager can stop the user's other phones.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Answered {
    /// A record request.
    Record(RequestId),
    /// Waiting messages.
    Listen,
    /// A live stream.
    Live(StreamId),
}

/// The station's one timer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Timer {
    /// The phone has rung long enough.
    RingTimeout,
    /// Ring a phone behind a trunk again for its waiting messages.
    RingAgain,
}

/// A message waiting to be heard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Waiting {
    message: MessageId,
    from: UserId,
}

/// Everything but the state: identity, what the gateway told us, the queues, the outbox.
#[derive(Debug)]
struct Core {
    line: LineId,
    user: UserId,
    config: Config,
    /// The gateway is in service.
    up: bool,
    /// The handset is off the hook, as last reported.
    off_hook: bool,
    waiting: VecDeque<Waiting>,
    /// A message arrived that the phone has not rung for yet.
    ring_pending: bool,
    /// The message-waiting lamp is on, as far as we asked.
    lamp: bool,
    timer: Option<(Instant, Timer)>,
    /// Message rings left to retry (a phone behind a trunk; see [`Config::trunk_retry`]).
    retries_left: u8,
    answered: Option<Answered>,
    commands: VecDeque<Command>,
    media: VecDeque<MediaCommand>,
    outputs: VecDeque<Output>,
    stats: Stats,
    /// Live streams this phone played to their end, newest last (bounded).
    streams_heard: VecDeque<StreamId>,
    /// Stored copies of live streams sent to this phone (bounded).
    streams_stored: VecDeque<(StreamId, MessageId)>,
    /// Stored copies not to offer: heard live (bounded).
    heard_live: VecDeque<MessageId>,
}

/// How many live streams and stored copies a station remembers, to match the two up.
const LIVE_MEMORY: usize = 32;

fn remember<T>(list: &mut VecDeque<T>, item: T) {
    if list.len() == LIVE_MEMORY {
        list.pop_front();
    }
    list.push_back(item);
}

impl Core {
    /// The live stream `stream` was played to its end: its stored copy, if known, counts as
    /// played.
    fn stream_heard(&mut self, stream: StreamId) {
        remember(&mut self.streams_heard, stream);
        let stored = self.streams_stored.iter().find(|(s, _)| *s == stream);
        if let Some(&(_, m)) = stored {
            self.heard_live(m);
        }
    }

    /// `message` was heard live: never offered, reported played.
    fn heard_live(&mut self, message: MessageId) {
        if self.heard_live.contains(&message) {
            return;
        }
        remember(&mut self.heard_live, message);
        self.waiting.retain(|w| w.message != message);
        self.stats.heard_live += 1;
        self.outputs.push_back(Output::Played {
            user: self.user,
            message,
        });
    }
}

/// One phone: a line on a gateway and the user it belongs to.
///
/// The caller's loop is the [`StationManager`](crate::manager::StationManager)'s: feed
/// `handle_event` / `handle_input` / `handle_media` / `handle_timeout`, then drain
/// [`poll_command`](Self::poll_command), [`poll_media`](Self::poll_media),
/// [`poll_output`](Self::poll_output), and read [`poll_timeout`](Self::poll_timeout).
#[derive(Debug)]
pub struct Station {
    state: State,
    core: Core,
}

impl Station {
    /// `user`'s phone on `line`; it waits for its gateway to come up.
    pub fn new(line: LineId, user: UserId, config: Config) -> Self {
        Self {
            state: State::AwaitingGateway,
            core: Core {
                line,
                user,
                config,
                up: false,
                off_hook: false,
                waiting: VecDeque::new(),
                ring_pending: false,
                lamp: false,
                timer: None,
                retries_left: 0,
                answered: None,
                commands: VecDeque::new(),
                media: VecDeque::new(),
                outputs: VecDeque::new(),
                stats: Stats::default(),
                streams_heard: VecDeque::new(),
                streams_stored: VecDeque::new(),
                heard_live: VecDeque::new(),
            },
        }
    }

    /// The line.
    pub fn line(&self) -> &LineId {
        &self.core.line
    }

    /// The user.
    pub fn user(&self) -> UserId {
        self.core.user
    }

    /// Whether its gateway is in service (a record request would be tried).
    pub fn is_available(&self) -> bool {
        self.core.up
    }

    /// Whether a record request would ring it now.
    pub fn can_ring(&self) -> bool {
        self.core.up && self.state.can_ring()
    }

    /// The state's name, for logs, health and tests.
    pub fn state_name(&self) -> &'static str {
        self.state.name()
    }

    /// Messages waiting to be heard on this phone.
    pub fn waiting(&self) -> usize {
        self.core.waiting.len()
    }

    /// The counters.
    pub fn stats(&self) -> &Stats {
        &self.core.stats
    }

    /// A gateway event for this line or its gateway.
    pub fn handle_event(&mut self, now: Instant, event: &Event, calls: &mut Calls) {
        match event {
            Event::OffHook { .. } => self.core.off_hook = true,
            Event::OnHook { .. } => self.core.off_hook = false,
            Event::LineStatus { off_hook, .. } => self.core.off_hook = *off_hook,
            Event::GatewayUp { .. } => self.core.up = true,
            Event::GatewayDown { .. } => {
                self.core.up = false;
                // A restarted gateway forgets its signals; the lamp is set again once up.
                self.core.lamp = false;
            }
            _ => {}
        }
        self.step(now, states::Ev::Gateway(event), calls);
    }

    /// An IVM-core input for this station's user (or a stream it plays).
    pub fn handle_input(&mut self, now: Instant, input: Input, calls: &mut Calls) {
        match input {
            Input::MessageWaiting { message, .. } if self.core.heard_live.contains(&message) => {
                debug!(line = %self.core.line, "stored copy of a stream heard live: not offered");
            }
            Input::LiveStored {
                user,
                stream,
                message,
            } => {
                remember(&mut self.core.streams_stored, (stream, message));
                if self.core.streams_heard.contains(&stream) {
                    self.core.heard_live(message);
                    // In case it is being offered or played right now.
                    let gone = Input::MessageGone { user, message };
                    self.step(now, states::Ev::Input(gone), calls);
                }
            }
            input => self.step(now, states::Ev::Input(input), calls),
        }
    }

    /// A media event for this station's call.
    pub fn handle_media(&mut self, now: Instant, event: MediaEvent, calls: &mut Calls) {
        self.step(now, states::Ev::Media(event), calls);
    }

    /// The instant from [`poll_timeout`](Self::poll_timeout) has passed.
    pub fn handle_timeout(&mut self, now: Instant, calls: &mut Calls) {
        match self.core.timer {
            Some((at, Timer::RingTimeout)) if at <= now => {
                self.core.timer = None;
                self.step(now, states::Ev::RingTimeout, calls);
            }
            Some((at, Timer::RingAgain)) if at <= now => {
                self.core.timer = None;
                self.step(now, states::Ev::RingAgain, calls);
            }
            _ => {}
        }
    }

    /// The gateway is known to be up already (the station was added late): wait for the
    /// line's audited hook state.
    /// Rings to record a message for `to` that answers no request: a dial-in caller
    /// leaving one (their station's ring is answered at once). Only from `Idle`.
    pub(crate) fn record_for(&mut self, now: Instant, to: Vec<UserId>) {
        if !matches!(self.state, State::Idle) {
            self.core.stats.ignored += 1;
            return;
        }
        let cadence = Cadence::Distinctive(self.core.config.record_cadence);
        self.core
            .ring(now, cadence, self.core.config.record_ring_timeout);
        self.state = State::AwaitingOffHook(states::Purpose::Record(states::RecordJob {
            request: None,
            to,
            delivery: crate::Delivery::Record,
        }));
    }

    pub(crate) fn gateway_known_up(&mut self) {
        self.core.up = true;
        self.state = State::AwaitingLineStatus;
    }

    /// The appliance is shutting down: see [`crate::manager::StationManager::shutdown`].
    pub fn shutdown(&mut self, calls: &mut Calls) {
        self.stop(calls, crate::StopReason::Shutdown);
    }

    /// Ends what the station does, as [`Self::shutdown`] does, for `stop` (the appliance
    /// shutting down, or the phone removed).
    pub(crate) fn stop(&mut self, calls: &mut Calls, stop: crate::StopReason) {
        let state = std::mem::replace(&mut self.state, State::AwaitingGateway);
        self.state = state.shut(&mut self.core, calls, stop);
        // No new work: record requests fail as if the gateway were down.
        self.core.up = false;
    }

    /// Whether a recording is still being captured or finished.
    pub fn is_capturing(&self) -> bool {
        self.state.is_capturing()
    }

    /// Another of the user's phones was picked up for `what`: stop ringing for it.
    pub fn cancel(&mut self, now: Instant, what: &Answered) {
        let state = std::mem::replace(&mut self.state, State::AwaitingGateway);
        self.state = state.cancel(&mut self.core, now, what);
    }

    /// What it was just picked up for, once.
    pub fn take_answered(&mut self) -> Option<Answered> {
        self.core.answered.take()
    }

    /// The next gateway command.
    pub fn poll_command(&mut self) -> Option<Command> {
        self.core.commands.pop_front()
    }

    /// The next media command.
    pub fn poll_media(&mut self) -> Option<MediaCommand> {
        self.core.media.pop_front()
    }

    /// The next output for the IVM core.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.core.outputs.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) is next needed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.core.timer.map(|(at, _)| at)
    }

    fn step(&mut self, now: Instant, ev: states::Ev<'_>, calls: &mut Calls) {
        let state = std::mem::replace(&mut self.state, State::AwaitingGateway);
        let from = state.name();
        self.state = state.next(&mut self.core, now, ev, calls);
        if self.state.name() != from {
            debug!(line = %self.core.line, from, to = self.state.name(), "station transition");
        }
        if self.state.is_on_hook() {
            self.core.sync_lamp();
        }
    }
}

impl Core {
    /// Lamp on while messages wait, off once none do (only while on hook, so that turning it
    /// off never cuts a tone the user is meant to hear).
    fn sync_lamp(&mut self) {
        let want = !self.waiting.is_empty();
        if !self.config.message_lamp || !self.up || want == self.lamp {
            return;
        }
        self.lamp = want;
        let line = self.line.clone();
        self.commands.push_back(if want {
            Command::PlayTone {
                line,
                tone: Tone::MessageWaitingLamp,
            }
        } else {
            Command::StopTone { line }
        });
    }

    fn ring(&mut self, now: Instant, cadence: Cadence, timeout: Duration) {
        self.stats.rings += 1;
        self.commands.push_back(Command::Ring {
            line: self.line.clone(),
            cadence,
            caller_id: None,
        });
        self.timer = Some((now + timeout, Timer::RingTimeout));
    }

    /// Whether the phone is behind a trunk (rung by dialling, out of its user's reach).
    fn behind_trunk(&self) -> bool {
        self.line
            .gateway
            .as_str()
            .starts_with(crate::trunk::STATION_PREFIX)
    }

    /// A message ring failed: a phone behind a trunk is rung again later, while retries are
    /// left.
    fn retry_later(&mut self, now: Instant) {
        if !self.behind_trunk() || self.retries_left == 0 || self.waiting.is_empty() {
            return;
        }
        self.retries_left -= 1;
        self.stats.retries += 1;
        self.timer = Some((now + self.config.trunk_retry, Timer::RingAgain));
    }

    /// New messages, or ones heard: a full set of retries again.
    fn reset_retries(&mut self) {
        self.retries_left = self.config.trunk_retries;
        if matches!(self.timer, Some((_, Timer::RingAgain))) {
            self.timer = None;
        }
    }

    fn stop_ring(&mut self) {
        self.timer = None;
        self.commands.push_back(Command::StopRing {
            line: self.line.clone(),
        });
    }

    fn tone(&mut self, tone: Tone) {
        self.commands.push_back(Command::PlayTone {
            line: self.line.clone(),
            tone,
        });
    }

    fn fail(&mut self, request: Option<RequestId>, reason: impl Into<String>) {
        if let Some(request) = request {
            self.stats.record_failures += 1;
            let reason = reason.into();
            debug!(line = %self.line, request = request.0, %reason, "record request failed");
            self.outputs
                .push_back(Output::RecordFailed { request, reason });
        }
    }

    /// Opens media and asks the gateway for a connection.
    fn create_connection(&mut self, calls: &mut Calls) -> Option<states::Call> {
        let (id, port) = calls.open()?;
        self.media.push_back(MediaCommand::Open {
            call: id,
            port,
            line: self.line.clone(),
        });
        let media = Media {
            address: (self.config.media_address, port).into(),
            codec: self.config.codec,
            ptime: self.config.ptime,
            telephone_event: self.config.telephone_event,
        };
        self.commands.push_back(Command::CreateConnection {
            line: self.line.clone(),
            call: id,
            mode: ConnectionMode::SendRecv,
            codec: self.config.codec,
            ptime: self.config.ptime,
            remote: Some(media),
        });
        Some(states::Call { id, port })
    }

    /// Ends a call: deletes the gateway connection (if it still exists) and closes the media.
    fn end_call(&mut self, calls: &mut Calls, call: states::Call, connected: bool) {
        if connected && self.up {
            self.commands.push_back(Command::DeleteConnection {
                line: self.line.clone(),
                call: call.id,
            });
        }
        self.media.push_back(MediaCommand::Close { call: call.id });
        calls.close(call.port);
    }
}

#[cfg(test)]
mod tests;
