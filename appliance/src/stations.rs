//! The station subsystem: the users' analog phones.
//!
//! One task drives the sans-IO [`StationManager`]: it feeds it the gateways' line events, the
//! media engine's events, the voice-messaging core's [`Event`]s (record requests, messages
//! ready or gone, live intercom streams) and its timeouts, and carries out what it asks —
//! gateway commands through [`crate::gateways`], media commands through the [`MediaEngine`],
//! and outputs back into the core (a recording is accepted as a message, a message heard on
//! the phone is marked played, one deleted with `7` is deleted for that user).
//!
//! It depends on the core, never the reverse: the core knows phones only as the users it was
//! told have one ([`VoiceMessaging::set_phones`]) and their availability.
//!
//! Stations come from `[[station]]` entries in the config and from the database (`offhook user
//! add --line`, `PUT /api/v1/users/{name}/stations`). They are read at start-up and again
//! whenever the core says they changed ([`Event::StationsChanged`]) and every
//! 5 s (for the CLI, which writes the database directly): a new line is watched and
//! rings at once, a removed one stores what it was recording and is let go, with no restart.
// This is a driver: it reads the clock (tokio's, so paused test time controls it).
#![allow(clippy::disallowed_methods)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use codecs::g711::Law;
use gateway_control::model::{Command, GatewayId, LineId};
use offhook_domain::db::messages as store;
use offhook_domain::db::{Db, users};
use offhook_domain::{Event, LineView, LiveStreamId, VoiceMessaging, intercom};
use station_manager::manager::{AddError, Config as StationConfig, StationManager};
use station_manager::media::driver::{EngineConfig, MediaEngine, MediaHandle};
use station_manager::media::{FrameSource, MessageAudio, SourceError};
use station_manager::station::STATION_STREAM_BIT;
use station_manager::{Delivery, Input, MessageId, Output, RequestId, StreamId, UserId};
use tokio::sync::mpsc;
use tracing::{info, warn};
use uuid::Uuid;

use crate::config::media::{ephemeral_overlap, kernel_port_ranges};
use crate::config::{Config, StationPlace};
use crate::gateways::Gateways;
use crate::sip::SipLines;

mod dial_in;
mod stop;
mod to_core;

/// The subsystem's handle, held by the server.
#[derive(Debug)]
pub struct Stations {
    /// Asks the task to shut the stations down; answered once every recording is stored.
    shutdown: mpsc::UnboundedSender<stop::Stop>,
}

impl Stations {
    /// The appliance is shutting down: recordings in progress stop and are stored (as
    /// messages, `StopReason::Shutdown`), rings stop, record requests still ringing fail.
    /// Returns once that is done, or once `stall` passes with no recording stored (logged;
    /// see `stop`); `on_progress` hears the count stored so far each time it grows.
    pub async fn shutdown(&self, stall: Duration, on_progress: impl FnMut(u64)) {
        let (request, done, stored) = stop::Stop::new();
        if self.shutdown.send(request).is_ok() {
            stop::wait_stored(done, stored, stall, on_progress).await;
        }
    }
}

/// Warns when `media.rtp_ports` hands out ports the kernel may also give to any socket bound
/// to port 0 (a call given one that is taken fails to open its media).
fn warn_if_ephemeral(rtp: &std::ops::RangeInclusive<u16>) {
    let read = |f: &str| std::fs::read_to_string(format!("/proc/sys/net/ipv4/{f}"));
    let Ok(ephemeral) = read("ip_local_port_range") else {
        return;
    };
    let reserved = kernel_port_ranges(&read("ip_local_reserved_ports").unwrap_or_default());
    for e in kernel_port_ranges(&ephemeral) {
        if let Some(o) = ephemeral_overlap(rtp, &e, &reserved) {
            warn!(
                rtp_ports = ?rtp, ephemeral = ?e, overlap = ?o,
                "media.rtp_ports overlaps the kernel's ephemeral ports: another program may take \
                 an RTP port, and a call given it fails (use ports below the ephemeral range, or \
                 reserve them with net.ipv4.ip_local_reserved_ports)"
            );
        }
    }
}

fn user_id(u: Uuid) -> UserId {
    UserId(*u.as_bytes())
}

fn uuid(u: UserId) -> Uuid {
    Uuid::from_bytes(u.0)
}

fn message_id(m: Uuid) -> MessageId {
    MessageId(*m.as_bytes())
}

/// The station manager's id for a core live stream: the core's ids keep the top bit clear (the
/// stations' own streams have it set).
fn stream_id(s: LiveStreamId) -> StreamId {
    StreamId(s.0 & !STATION_STREAM_BIT)
}

/// The station manager's inputs for a core event, for the users in `phones`.
fn inputs(event: Event, phones: &HashSet<Uuid>) -> Vec<Input> {
    let has = |u: &Uuid| phones.contains(u);
    match event {
        Event::MessageReady {
            message,
            from,
            recipients,
        } => recipients
            .iter()
            .filter(|r| has(r))
            .map(|r| Input::MessageWaiting {
                user: user_id(*r),
                message: message_id(message),
                from: user_id(from),
            })
            .collect(),
        Event::MessageGone { user, message } if has(&user) => vec![Input::MessageGone {
            user: user_id(user),
            message: message_id(message),
        }],
        Event::RecordingRequested {
            request,
            user,
            to,
            delivery,
        } => vec![Input::Record {
            request: RequestId(request),
            user: user_id(user),
            to: to.into_iter().map(user_id).collect(),
            delivery: match delivery {
                offhook_domain::Delivery::Intercom => Delivery::Intercom,
                _ => Delivery::Record,
            },
        }],
        Event::LiveStart { stream, from, to } => to
            .iter()
            .filter(|u| has(u))
            .map(|u| Input::LiveStart {
                user: user_id(*u),
                stream: stream_id(stream),
                from: user_id(from),
            })
            .collect(),
        Event::LiveBuffer { stream, pcm } => vec![Input::LiveBuffer {
            stream: stream_id(stream),
            pcm: pcm.to_vec(),
        }],
        Event::LiveEnd { stream } => vec![Input::LiveEnd {
            stream: stream_id(stream),
        }],
        Event::LiveStored {
            stream,
            to,
            message,
        } => to
            .iter()
            .filter(|u| has(u))
            .map(|u| Input::LiveStored {
                user: user_id(*u),
                stream: stream_id(stream),
                message: message_id(message),
            })
            .collect(),
        _ => vec![],
    }
}

/// The stored messages, as the media engine plays them.
struct StoredAudio {
    core: VoiceMessaging,
    rt: tokio::runtime::Handle,
}

struct Playout(codecs::pipeline::G711Playout<std::io::Cursor<Vec<u8>>>);

impl FrameSource for Playout {
    fn next_frame(&mut self, out: &mut [u8]) -> Result<bool, SourceError> {
        self.0
            .next_frame(out)
            .map_err(|e| SourceError(e.to_string()))
    }

    /// An Opus call encodes the message's PCM itself.
    fn next_pcm(&mut self, out: &mut [i16]) -> Result<bool, SourceError> {
        self.0.next_pcm(out).map_err(|e| SourceError(e.to_string()))
    }
}

impl MessageAudio for StoredAudio {
    fn open(
        &self,
        message: MessageId,
        law: Law,
        frame_samples: usize,
    ) -> Result<Box<dyn FrameSource>, SourceError> {
        let id = Uuid::from_bytes(message.0);
        let file = self
            .rt
            .block_on(self.core.db().read(move |c| store::audio_file(c, id)))
            .map_err(|e| SourceError(e.to_string()))?
            .ok_or_else(|| SourceError("the message has no audio any more".into()))?;
        let playout = self
            .core
            .playout(&file, id, law, frame_samples)
            .map_err(|e| SourceError(e.to_string()))?;
        Ok(Box::new(Playout(playout)))
    }

    /// The owner's recording in `<data dir>/prompts/`, else the one shipped in the binary.
    fn open_prompt(
        &self,
        prompt: station_manager::Prompt,
        law: Law,
        frame_samples: usize,
    ) -> Result<Box<dyn FrameSource>, SourceError> {
        crate::prompts::open(&self.core.db().paths().root, prompt, law, frame_samples)
    }
}

/// A phone: its line and its user.
type Line = (LineId, Uuid);

/// How often the stations are read again without being told of a change.
const RESYNC: Duration = Duration::from_secs(5);

/// The `[[station]]` entries of the config, as `(line, username)`.
fn config_stations(config: &Config) -> Vec<(LineId, String)> {
    let mut out = Vec::new();
    for s in &config.stations {
        let line = match &s.place {
            StationPlace::Line { gateway, endpoint } => {
                LineId::new(GatewayId::new(gateway), endpoint)
            }
            // A phone behind a trunk: the station manager's virtual line for it.
            StationPlace::Trunk { trunk, dial } => {
                station_manager::trunk::station_line(trunk, dial)
            }
        };
        out.push((line, s.user.clone()));
    }
    out
}

/// The stations of the config and the database, as `(line, user)`; `None` if the database
/// could not be read (nothing is changed then). `quiet`: a config station naming no user is
/// not logged again.
async fn station_lines(
    db: &Db,
    configured: &[(LineId, String)],
    quiet: bool,
    sip: Option<&SipLines>,
) -> Option<Vec<Line>> {
    let mut out = Vec::new();
    // The SIP phones registered: a station each, on line `sip/<sip_username>`.
    for (sip_user, user) in sip.map(SipLines::registered).unwrap_or_default() {
        out.push((
            LineId::new(GatewayId::new(crate::sip::GATEWAY), &sip_user),
            user,
        ));
    }
    for (line, user) in configured {
        let name = user.clone();
        match db.read(move |c| users::by_name(c, &name)).await {
            Ok(Some(u)) => out.push((line.clone(), u.id)),
            Ok(None) if quiet => {}
            Ok(None) => {
                warn!(user = %user, "a [[station]] names a user that does not exist; skipped until they do");
            }
            Err(e) => {
                warn!(error = %e, "cannot read users");
                return None;
            }
        }
    }
    match db.read(users::station_rows).await {
        Ok(rows) => {
            for (user, gateway, endpoint) in rows {
                let line = LineId::new(GatewayId::new(&gateway), &endpoint);
                if !out.iter().any(|(l, _)| *l == line) {
                    out.push((line, user));
                }
            }
        }
        Err(e) => {
            warn!(error = %e, "cannot read stations");
            return None;
        }
    }
    Some(out)
}

/// Starts the subsystem: reads the stations of the config and the database (and the SIP
/// phones registered, from `sip`), tells the core which users have phones, subscribes to its
/// events, and drives the station manager on a task of its own.
pub async fn start(
    core: &VoiceMessaging,
    gateways: Arc<Gateways>,
    config: &Config,
    sip: Option<Arc<SipLines>>,
) -> Stations {
    let configured = config_stations(config);
    let lines = station_lines(core.db(), &configured, false, sip.as_deref())
        .await
        .unwrap_or_default();
    core.set_phones(lines.iter().map(|(_, u)| *u));
    let events = core.subscribe();
    let (shutdown, shutdown_rx) = mpsc::unbounded_channel();
    let media = (
        config.media.address,
        config.media.rtp_ports.clone(),
        config.media.realtime_priority,
    );
    tokio::spawn(run(
        core.clone(),
        gateways,
        media,
        (configured, lines, sip, dial_in::groups(config)),
        events,
        shutdown_rx,
    ));
    Stations { shutdown }
}

/// The phones the station manager has, by line, with their users' names (for live buffers
/// from them).
#[derive(Debug, Default)]
struct Phones {
    lines: HashMap<LineId, Uuid>,
    users: HashSet<Uuid>,
    names: HashMap<Uuid, String>,
}

impl Phones {
    /// Applies the stations as they now are (`want`) to the manager: lines gone or given to
    /// someone else are removed first, then new ones added. Returns whether a line must wait
    /// for its removed phone to store its recording (try again soon).
    async fn apply(
        &mut self,
        core: &VoiceMessaging,
        manager: &mut StationManager,
        want: Vec<Line>,
    ) -> bool {
        let want: HashMap<LineId, Uuid> = want.into_iter().collect();
        let gone: Vec<LineId> = self
            .lines
            .iter()
            .filter(|(line, user)| want.get(*line) != Some(*user))
            .map(|(line, _)| line.clone())
            .collect();
        for line in gone {
            self.lines.remove(&line);
            if let Some(user) = manager.remove_station(now(), &line) {
                info!(line = %line, user = %uuid(user), "phone removed");
            }
        }
        let mut waiting = false;
        for (line, user) in want {
            if self.lines.contains_key(&line) {
                continue;
            }
            match manager.add_station(line.clone(), user_id(user)) {
                Ok(()) => {
                    info!(line = %line, user = %user, "phone added");
                    self.lines.insert(line, user);
                }
                Err(AddError::Retiring(_)) => waiting = true,
                Err(e) => warn!(line = %line, error = %e, "station not added"),
            }
        }
        self.users = self.lines.values().copied().collect();
        core.set_phones(self.users.iter().copied());
        self.names.retain(|u, _| self.users.contains(u));
        for &u in &self.users {
            if !self.names.contains_key(&u)
                && let Ok(Some(found)) = core.db().read(move |c| users::by_id(c, u)).await
            {
                self.names.insert(u, found.username);
            }
        }
        waiting
    }
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Where the stations come from: the config's, the lines at start, and the SIP phones.
type Sources = (
    Vec<(LineId, String)>,
    Vec<Line>,
    Option<Arc<SipLines>>,
    Vec<station_manager::trunk::TrunkGroup>,
);

/// Drives the station manager until the application stops.
async fn run(
    core: VoiceMessaging,
    gateways: Arc<Gateways>,
    (media_address, media_ports, realtime_priority): (
        std::net::IpAddr,
        std::ops::RangeInclusive<u16>,
        Option<u8>,
    ),
    (configured, lines, sip, trunks): Sources,
    mut events: mpsc::UnboundedReceiver<Event>,
    mut shutdown: mpsc::UnboundedReceiver<stop::Stop>,
) {
    // Set once shutdown began: answered when no recording is left to store; `finished`
    // counts the outputs stored since then.
    let mut closing: Option<stop::Stop> = None;
    let mut finished = 0u64;
    let mut config = StationConfig::default();
    config.media_address(media_address);
    warn_if_ephemeral(&media_ports);
    if let Err(e) = config.ports(media_ports) {
        warn!(error = %e, "media.rtp_ports refused by the station manager; using its default");
    }
    // A phone's recording ends at `messages.max_duration`, as an intercom stream from a client
    // does and as `control_params` tells clients (the station manager's own default is 2 min).
    if let Err(e) = config.max_length(core.config().duration_limit()) {
        warn!(error = %e, "messages.max_duration refused by the station manager; using its default");
    }
    let mut manager = StationManager::new(config);
    for group in trunks {
        let name = group.name().to_owned();
        if let Err(e) = manager.add_trunk(group) {
            warn!(trunk = %name, error = %e, "trunk left out");
        }
    }
    // The core's answers for dial-in callers, looked up off this task.
    let (answers, mut answers_rx) = mpsc::unbounded_channel();
    let mut phones = Phones::default();
    let count = lines.len();
    phones.apply(&core, &mut manager, lines).await;
    // The drivers were started watching these lines, and audit them as they start: telling
    // them again would audit a line twice if its gateway had already answered.
    let fresh: Vec<_> = std::iter::from_fn(|| manager.poll_command())
        .filter(|c| !matches!(c, Command::AddLine { line } if gateways.watched_from_start(line)))
        .collect();
    for command in fresh {
        if let Err(e) = gateways.command(command).await {
            warn!(error = %e, "gateway command not sent");
        }
    }
    info!(stations = count, "station manager started");
    // When the stations are next read again, and whether a change asked for it.
    let mut next_sync = tokio::time::Instant::now() + RESYNC;
    let mut changed = false;
    // The lines' states reach the admin console about once a second.
    let mut lines_tick = tokio::time::interval(Duration::from_secs(1));
    lines_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let recordings = core.db().paths().recordings.clone();
    if let Err(e) = tokio::fs::create_dir_all(&recordings).await {
        warn!(error = %e, "cannot create the recordings directory");
    }
    let mut engine_config = EngineConfig::new(recordings);
    engine_config.bind = media_address;
    // RTP gets threads of its own, one per core (HTTP, WebSockets and the station task keep
    // the application's runtime; the transcoders run at the lowest priority).
    engine_config.threads = Some(std::thread::available_parallelism().map_or(2, |n| n.get()));
    engine_config.realtime_priority = realtime_priority;
    let audio = Arc::new(StoredAudio {
        core: core.clone(),
        rt: tokio::runtime::Handle::current(),
    });
    let (media, mut media_events) = MediaEngine::spawn(engine_config, audio);
    // The engine's RTP counters (drops by cause included) reach /metrics once a second.
    let (stats_media, metrics) = (media.clone(), core.metrics().clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            match stats_media.stats().await {
                Ok(s) => metrics.set_family(RTP_FAMILY, RTP_HELP, s.counters()),
                Err(_) => return,
            }
        }
    });
    let mut gateway_events = gateways.subscribe();
    // Open phone streams' recipients.
    let mut live = HashMap::new();
    // The IVM core's side of the outputs (storing, marking played): shutdown waits for them.
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        if closing.is_none() && (changed || tokio::time::Instant::now() >= next_sync) {
            if let Some(want) =
                station_lines(core.db(), &configured, !changed, sip.as_deref()).await
            {
                let waiting = phones.apply(&core, &mut manager, want).await;
                // A line whose removed phone is still storing its recording is tried soon.
                let after = if waiting {
                    Duration::from_millis(250)
                } else {
                    RESYNC
                };
                next_sync = tokio::time::Instant::now() + after;
            } else {
                next_sync = tokio::time::Instant::now() + RESYNC;
            }
            changed = false;
        }
        publish_availability(&core, &mut manager);
        drain(
            &core,
            &gateways,
            &mut manager,
            &media,
            (&phones.names, &answers),
            &mut live,
            &mut tasks,
        )
        .await;
        while tasks.try_join_next().is_some() {
            finished += 1;
        }
        if let Some(stop) = &closing {
            stop.stored
                .send_if_modified(|n| std::mem::replace(n, finished) != finished);
        }
        if closing.is_some()
            && !manager.is_capturing()
            && tasks.is_empty()
            && let Some(stop) = closing.take()
        {
            let _ = stop.done.send(());
            info!("stations shut down; every recording stored");
        }
        let deadline = manager.poll_timeout();
        tokio::select! {
            Some(_) = tasks.join_next(), if !tasks.is_empty() => finished += 1,
            request = shutdown.recv(), if closing.is_none() => {
                if let Some(stop) = request {
                    info!("stations shutting down");
                    manager.shutdown(now());
                    finished = 0;
                    closing = Some(stop);
                }
            }
            event = gateway_events.recv() => match event {
                Ok(e) => manager.handle_event(now(), e),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    warn!(missed = n, "station manager fell behind the gateway events");
                }
                Err(_) => return,
            },
            Some(input) = answers_rx.recv() => manager.handle_input(now(), input),
            event = media_events.recv() => match event {
                Some(e) => manager.handle_media(now(), e),
                None => return,
            },
            event = events.recv() => match event {
                Some(Event::StationsChanged) => changed = true,
                Some(e) => {
                    for input in inputs(e, &phones.users) {
                        manager.handle_input(now(), input);
                    }
                }
                None => return,
            },
            () = tokio::time::sleep_until(next_sync), if closing.is_none() => {}
            () = sip_changed(sip.as_deref()), if closing.is_none() => changed = true,
            _ = lines_tick.tick() => {
                core.set_lines(line_views(&manager));
                core.metrics().set_family(
                    TRUNK_FAMILY,
                    TRUNK_HELP,
                    dial_in::counters(&manager.stats()),
                );
            }
            () = sleep_until(deadline) => manager.handle_timeout(now()),
        }
    }
}

/// Every phone line and what it does, in words for the admin console.
fn line_views(manager: &StationManager) -> Vec<LineView> {
    manager
        .stations()
        .map(|s| LineView {
            line: s.line().to_string(),
            user: uuid(s.user()),
            state: match s.state_name() {
                "AwaitingGateway" => "gateway down",
                "AwaitingLineStatus" => "checking",
                "Idle" => "idle",
                "AwaitingOffHook" => "ringing",
                "AwaitingConnection" => "connecting",
                "Recording" => "recording",
                "AwaitingCapture" => "storing",
                "Playing" => "playing",
                "Intercom" => "live",
                "AwaitingOnHook" => "off hook",
                _ => "busy",
            },
            waiting: s.waiting(),
        })
        .collect()
}

/// Copies the users' availability changes for `/api/v1/health` and the record requests (only
/// the changes: this runs after every event).
fn publish_availability(core: &VoiceMessaging, manager: &mut StationManager) {
    while let Some((user, available)) = manager.poll_availability() {
        core.set_available(uuid(user), available);
    }
}

/// Resolves when a SIP phone registered or went (never without SIP).
async fn sip_changed(sip: Option<&SipLines>) {
    match sip {
        Some(s) => s.changed.notified().await,
        None => std::future::pending().await,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Carries out everything the manager asked for.
async fn drain(
    core: &VoiceMessaging,
    gateways: &Gateways,
    manager: &mut StationManager,
    media: &MediaHandle,
    (names, answers): (&HashMap<Uuid, String>, &mpsc::UnboundedSender<Input>),
    live: &mut HashMap<StreamId, (u64, Vec<Uuid>)>,
    tasks: &mut tokio::task::JoinSet<()>,
) {
    while let Some(command) = manager.poll_command() {
        if let Err(e) = gateways.command(command).await {
            warn!(error = %e, "gateway command not sent");
        }
    }
    while let Some(command) = manager.poll_media() {
        if media.command(command).is_err() {
            warn!("the media engine has stopped");
        }
    }
    while let Some(output) = manager.poll_output() {
        match output {
            // Live buffers keep their order: forwarded here, on the station task.
            Output::LiveBuffer {
                user,
                to,
                stream,
                seq,
                pcm,
                received,
            } => {
                let to: Vec<Uuid> = to.into_iter().map(uuid).collect();
                let name = names.get(&uuid(user)).map_or("", String::as_str);
                intercom::forward_from_phone(
                    core,
                    (uuid(user), name),
                    &to,
                    stream.0,
                    seq,
                    intercom::PhoneLive::Buffer {
                        pcm: &pcm,
                        received,
                    },
                );
                live.insert(stream, (seq + 1, to));
            }
            Output::LiveEnd { user, stream } => {
                if let Some((seq, to)) = live.remove(&stream) {
                    let name = names.get(&uuid(user)).map_or("", String::as_str);
                    intercom::forward_from_phone(
                        core,
                        (uuid(user), name),
                        &to,
                        stream.0,
                        seq,
                        intercom::PhoneLive::End,
                    );
                }
            }
            Output::Capturing { request, user } => {
                if let Some(RequestId(id)) = request {
                    core.recording_started(id);
                }
                info!(user = %uuid(user), "recording from a phone");
            }
            other => {
                if let Some(other) = dial_in::answer(core, other, answers, tasks) {
                    to_core::output(core, other, tasks);
                }
            }
        }
    }
}

/// The trunks' counter family at `/metrics`.
const TRUNK_FAMILY: &str = "offhook_trunk_total";
const TRUNK_HELP: &str = "Trunks (FXO ports): calls placed and how they ended, dial-in callers, \
     and events out of place dropped, by kind.";

/// The media engine's counter family at `/metrics`.
const RTP_FAMILY: &str = "offhook_rtp_total";
const RTP_HELP: &str =
    "Media engine RTP/RTCP traffic, drops and repairs, by kind (calls open and closed).";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn core_events_become_inputs_for_the_users_with_phones() {
        let (alice, bob, carol) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        let phones: HashSet<Uuid> = [bob].into();
        let message = Uuid::new_v4();
        let ready = Event::MessageReady {
            message,
            from: alice,
            recipients: vec![bob, carol],
        };
        assert_eq!(
            inputs(ready, &phones),
            vec![Input::MessageWaiting {
                user: user_id(bob),
                message: message_id(message),
                from: user_id(alice),
            }]
        );
        let gone = |user| Event::MessageGone { user, message };
        assert_eq!(inputs(gone(carol), &phones), vec![]);
        assert_eq!(inputs(gone(bob), &phones).len(), 1);
        let live = Event::LiveStart {
            stream: LiveStreamId(u64::MAX),
            from: alice,
            to: vec![bob],
        };
        let [Input::LiveStart { stream, .. }] = &inputs(live, &phones)[..] else {
            panic!("one LiveStart");
        };
        assert_eq!(
            stream.0 & STATION_STREAM_BIT,
            0,
            "core streams keep the top bit clear"
        );
        let asked = Event::RecordingRequested {
            request: 7,
            user: bob,
            to: vec![alice],
            delivery: offhook_domain::Delivery::Intercom,
        };
        assert!(matches!(
            &inputs(asked, &phones)[..],
            [Input::Record {
                request: RequestId(7),
                delivery: Delivery::Intercom,
                ..
            }]
        ));
        let presence = Event::Presence {
            user: bob,
            online: true,
            status: None,
        };
        assert_eq!(inputs(presence, &phones), vec![]);
    }
}
