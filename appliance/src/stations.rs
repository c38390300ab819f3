//! The station subsystem: the users' analog phones.
//!
//! One task drives the sans-IO [`StationManager`]: it feeds it the gateways' line events, the
//! media engine's events, the IVM core's inputs (record requests, messages becoming ready, live
//! intercom buffers) and its timeouts, and carries out what it asks — gateway commands through
//! [`crate::gateways`], media commands through the [`MediaEngine`], and outputs back into the
//! IVM core (a recording becomes a message through [`crate::accept`], a message heard on the
//! phone is marked played, one deleted with `7` is deleted for that user).
//!
//! Stations come from `[[station]]` entries in the config and from `offhook user add --line`,
//! read at start-up; a user added with a line while the server runs gets their phone at the
//! next start.
// This is a driver: it reads the clock (tokio's, so paused test time controls it).
#![allow(clippy::disallowed_methods)]

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use codecs::g711::Law;
use gateway_control::model::{GatewayId, LineId};
use station_manager::manager::{Config as StationConfig, StationManager};
use station_manager::media::driver::{EngineConfig, MediaEngine, MediaHandle};
use station_manager::media::{FrameSource, MessageAudio, SourceError};
use station_manager::{Delivery, Input, MessageId, Output, RequestId, UserId};
use tokio::sync::{Notify, mpsc};
use tracing::{info, warn};
use uuid::Uuid;

use crate::accept::{self, Audio};
use crate::api::App;
use crate::config::{Config, StationPlace};
use crate::db::messages::{self as store, State as Copy};
use crate::db::{Db, users};

/// What became of a record request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordStatus {
    /// The phone is ringing, or the user is speaking.
    Pending,
    /// The recording is stored as this message.
    Stored(Uuid),
    /// It failed, for this reason.
    Failed(String),
}

/// How a recording from a phone reaches its recipients, as asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RecordMode {
    /// Intercom when every recipient is online, else record.
    #[default]
    Auto,
    /// Live to those online (and stored).
    Intercom,
    /// Stored, then delivered.
    Record,
}

/// Why a record request cannot start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The user has no phone (409).
    #[error("you have no phone line")]
    NoPhone,
    /// The user's phone's gateway is down (503).
    #[error("your phone's gateway is not reachable")]
    GatewayDown,
}

/// The subsystem's handle, held by the application state.
#[derive(Debug)]
pub struct Stations {
    inputs: mpsc::UnboundedSender<Input>,
    /// Asks the task to shut the stations down; answered once every recording is stored.
    shutdown: mpsc::UnboundedSender<tokio::sync::oneshot::Sender<()>>,
    /// Users with at least one station.
    users: HashSet<Uuid>,
    /// Stations by user, and whether each one's gateway is up (updated by the task).
    available: Mutex<HashMap<Uuid, bool>>,
    /// Record requests: their owner and status.
    requests: Mutex<HashMap<u64, (Uuid, RecordStatus)>>,
    changed: Notify,
    next_request: AtomicU64,
    next_stream: AtomicU64,
    /// Each user's default record mode (`control_params`), held in memory.
    modes: Mutex<HashMap<Uuid, RecordMode>>,
}

impl Stations {
    /// The appliance is shutting down: recordings in progress stop and are stored (as
    /// messages, `StopReason::Shutdown`), rings stop, record requests still ringing fail.
    /// Returns once that is done, or after `limit`.
    pub async fn shutdown(&self, limit: Duration) {
        let (tx, rx) = tokio::sync::oneshot::channel();
        if self.shutdown.send(tx).is_err() {
            return;
        }
        if tokio::time::timeout(limit, rx).await.is_err() {
            warn!(
                ?limit,
                "recordings still open at shutdown were not all stored in time"
            );
        }
    }

    /// Every station's user and whether it can ring now (its gateway is up), for
    /// `/api/v1/health`.
    pub fn availability(&self) -> Vec<(Uuid, bool)> {
        let map = self.available.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<(Uuid, bool)> = map.iter().map(|(u, a)| (*u, *a)).collect();
        v.sort();
        v
    }

    /// An intercom stream from `from` begins: the recipients with phones get it rung and then
    /// played live. Returns the stream's id for [`Stations::live_buffer`], or `None` if no
    /// recipient has a phone.
    pub fn live_start(&self, from: Uuid, recipients: &[Uuid]) -> Option<station_manager::StreamId> {
        let phones: Vec<Uuid> = recipients
            .iter()
            .copied()
            .filter(|r| self.users.contains(r))
            .collect();
        if phones.is_empty() {
            return None;
        }
        // The appliance's stream ids keep the top bit clear (the stations' own have it set).
        let stream = station_manager::StreamId(
            self.next_stream.fetch_add(1, Ordering::Relaxed)
                & !station_manager::station::STATION_STREAM_BIT,
        );
        for user in phones {
            let _ = self.inputs.send(Input::LiveStart {
                user: user_id(user),
                stream,
                from: user_id(from),
            });
        }
        Some(stream)
    }

    /// A buffer of live stream `stream` (and, with `end`, its end).
    pub fn live_buffer(&self, stream: station_manager::StreamId, pcm: &[i16], end: bool) {
        if !pcm.is_empty() {
            let _ = self.inputs.send(Input::LiveBuffer {
                stream,
                pcm: pcm.to_vec(),
            });
        }
        if end {
            let _ = self.inputs.send(Input::LiveEnd { stream });
        }
    }

    /// Live stream `stream` (from [`Self::live_start`]) was stored as `message` for
    /// `recipients`: a phone that played the stream to its end marks it played instead of
    /// offering it again.
    pub fn live_stored(
        &self,
        stream: station_manager::StreamId,
        recipients: &[Uuid],
        message: Uuid,
    ) {
        for r in recipients.iter().filter(|r| self.users.contains(r)) {
            let _ = self.inputs.send(Input::LiveStored {
                user: user_id(*r),
                stream,
                message: MessageId(*message.as_bytes()),
            });
        }
    }

    /// `user`'s default record mode.
    pub fn default_mode(&self, user: Uuid) -> RecordMode {
        let modes = self.modes.lock().unwrap_or_else(|p| p.into_inner());
        modes.get(&user).copied().unwrap_or_default()
    }

    /// Sets `user`'s default record mode.
    pub fn set_default_mode(&self, user: Uuid, mode: RecordMode) {
        let mut modes = self.modes.lock().unwrap_or_else(|p| p.into_inner());
        if modes.len() < 100_000 || modes.contains_key(&user) {
            modes.insert(user, mode);
        }
    }

    /// Whether `user` has a phone.
    pub fn has_phone(&self, user: Uuid) -> bool {
        self.users.contains(&user)
    }

    /// Rings `user`'s phone to record a message for `to`; returns the request's id.
    pub fn record(
        &self,
        user: Uuid,
        to: Vec<Uuid>,
        delivery: Delivery,
    ) -> Result<u64, RecordError> {
        if !self.has_phone(user) {
            return Err(RecordError::NoPhone);
        }
        let up = self
            .available
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&user)
            .copied()
            .unwrap_or(false);
        if !up {
            return Err(RecordError::GatewayDown);
        }
        let id = self.next_request.fetch_add(1, Ordering::Relaxed);
        self.requests
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(id, (user, RecordStatus::Pending));
        let input = Input::Record {
            request: RequestId(id),
            user: user_id(user),
            to: to.into_iter().map(user_id).collect(),
            delivery,
        };
        if self.inputs.send(input).is_err() {
            self.set_status(
                id,
                RecordStatus::Failed("the station manager stopped".into()),
            );
        }
        Ok(id)
    }

    /// The status of `user`'s record request `id`, waiting up to `wait` for it to leave
    /// `Pending`; `None` if there is no such request of theirs.
    pub async fn record_status(&self, user: Uuid, id: u64, wait: Duration) -> Option<RecordStatus> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.changed.notified();
            let status = self
                .requests
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&id)
                .filter(|(owner, _)| *owner == user)
                .map(|(_, s)| s.clone());
            match status {
                Some(RecordStatus::Pending) if tokio::time::Instant::now() < deadline => {
                    let _ = tokio::time::timeout_at(deadline, notified).await;
                }
                other => return other,
            }
        }
    }

    /// A message became ready for `recipients`: their phones offer it.
    pub fn message_ready(&self, recipients: &[Uuid], message: Uuid, from: Uuid) {
        for r in recipients.iter().filter(|r| self.users.contains(r)) {
            let _ = self.inputs.send(Input::MessageWaiting {
                user: user_id(*r),
                message: MessageId(*message.as_bytes()),
                from: user_id(from),
            });
        }
    }

    /// `user` played or deleted `message` elsewhere (the API): their phones stop offering it.
    pub fn message_gone(&self, user: Uuid, message: Uuid) {
        if self.users.contains(&user) {
            let _ = self.inputs.send(Input::MessageGone {
                user: user_id(user),
                message: MessageId(*message.as_bytes()),
            });
        }
    }

    fn set_status(&self, id: u64, status: RecordStatus) {
        let mut map = self.requests.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((_, s)) = map.get_mut(&id) {
            *s = status;
        }
        // Bounded: the oldest finished requests go first.
        if map.len() > 10_000
            && let Some(old) = map
                .iter()
                .filter(|(_, (_, s))| *s != RecordStatus::Pending)
                .map(|(k, _)| *k)
                .min()
        {
            map.remove(&old);
        }
        drop(map);
        self.changed.notify_waiters();
    }
}

/// Rings `user`'s phone to record for `to` in `mode` (`None`: the user's default); `auto` picks
/// intercom when every recipient is online. Returns the request id and how it will be sent.
pub fn request_recording(
    app: &App,
    user: Uuid,
    to: Vec<Uuid>,
    mode: Option<RecordMode>,
) -> Result<(u64, Delivery), RecordError> {
    let delivery = match mode.unwrap_or_else(|| app.stations.default_mode(user)) {
        RecordMode::Intercom => Delivery::Intercom,
        RecordMode::Record => Delivery::Record,
        RecordMode::Auto if to.iter().all(|u| app.clients.is_online(*u)) => Delivery::Intercom,
        RecordMode::Auto => Delivery::Record,
    };
    app.stations
        .record(user, to, delivery)
        .map(|id| (id, delivery))
}

fn user_id(u: Uuid) -> UserId {
    UserId(*u.as_bytes())
}

fn uuid(u: UserId) -> Uuid {
    Uuid::from_bytes(u.0)
}

/// The stored messages, as the media engine plays them.
struct StoredAudio {
    app: App,
    rt: tokio::runtime::Handle,
}

struct Playout(codecs::pipeline::G711Playout<std::io::Cursor<Vec<u8>>>);

impl FrameSource for Playout {
    fn next_frame(&mut self, out: &mut [u8]) -> Result<bool, SourceError> {
        self.0
            .next_frame(out)
            .map_err(|e| SourceError(e.to_string()))
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
            .block_on(self.app.db.read(move |c| store::audio_file(c, id)))
            .map_err(|e| SourceError(e.to_string()))?
            .ok_or_else(|| SourceError("the message has no audio any more".into()))?;
        let sealed = std::fs::read(self.app.db.paths().media.join(file))
            .map_err(|e| SourceError(e.to_string()))?;
        let playout = crate::media::playout(sealed, &self.app.key, id, law, frame_samples)
            .map_err(|e| SourceError(e.to_string()))?;
        Ok(Box::new(Playout(playout)))
    }
}

/// The stations of the config and the database, as `(line, user)`.
async fn station_lines(db: &Db, config: &Config) -> Vec<(LineId, Uuid)> {
    let mut out = Vec::new();
    for s in &config.stations {
        let StationPlace::Line { gateway, endpoint } = &s.place else {
            // Stations behind trunks need analog trunks (FXO), not built yet.
            warn!(user = %s.user, "a station behind a trunk is not supported yet; skipped");
            continue;
        };
        let name = s.user.clone();
        match db.read(move |c| users::by_name(c, &name)).await {
            Ok(Some(u)) => out.push((LineId::new(GatewayId::new(gateway), endpoint), u.id)),
            Ok(None) => {
                warn!(user = %s.user, "a [[station]] names a user that does not exist; skipped");
            }
            Err(e) => warn!(error = %e, "cannot read users"),
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
        Err(e) => warn!(error = %e, "cannot read stations"),
    }
    out
}

/// What [`prepare`] hands to [`run`].
pub struct Pending {
    inputs: mpsc::UnboundedReceiver<Input>,
    shutdown: mpsc::UnboundedReceiver<tokio::sync::oneshot::Sender<()>>,
    lines: Vec<(LineId, Uuid)>,
}

/// Creates the handle (before the application state, which holds it); [`run`] drives it.
pub async fn prepare(db: &Db, config: &Config) -> (Arc<Stations>, Pending) {
    let lines = station_lines(db, config).await;
    let (tx, rx) = mpsc::unbounded_channel();
    let (shutdown_tx, shutdown_rx) = mpsc::unbounded_channel();
    let stations = Arc::new(Stations {
        inputs: tx,
        shutdown: shutdown_tx,
        users: lines.iter().map(|(_, u)| *u).collect(),
        available: Mutex::new(HashMap::new()),
        requests: Mutex::new(HashMap::new()),
        changed: Notify::new(),
        next_request: AtomicU64::new(1),
        next_stream: AtomicU64::new(1),
        modes: Mutex::new(HashMap::new()),
    });
    (
        stations,
        Pending {
            inputs: rx,
            shutdown: shutdown_rx,
            lines,
        },
    )
}

fn now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// Drives the station manager until the application stops.
pub async fn run(app: App, pending: Pending) {
    let Pending {
        mut inputs,
        mut shutdown,
        lines,
    } = pending;
    // Set once shutdown began: answered when no recording is left to store.
    let mut closing: Option<tokio::sync::oneshot::Sender<()>> = None;
    let mut config = StationConfig::default();
    config.media_address(app.config.media.address);
    if let Err(e) = config.ports(app.config.media.rtp_ports.clone()) {
        warn!(error = %e, "media.rtp_ports refused by the station manager; using its default");
    }
    let mut manager = StationManager::new(config);
    for (line, user) in &lines {
        if let Err(e) = manager.add_station(line.clone(), user_id(*user)) {
            warn!(line = %line, error = %e, "station not added");
        }
    }
    info!(stations = lines.len(), "station manager started");
    let recordings = app.db.paths().recordings.clone();
    if let Err(e) = tokio::fs::create_dir_all(&recordings).await {
        warn!(error = %e, "cannot create the recordings directory");
    }
    let mut engine_config = EngineConfig::new(recordings);
    engine_config.bind = app.config.media.address;
    // RTP gets threads of its own, one per core (HTTP, WebSockets and the station task keep
    // the application's runtime; the transcoders run at the lowest priority).
    engine_config.threads = Some(std::thread::available_parallelism().map_or(2, |n| n.get()));
    let audio = Arc::new(StoredAudio {
        app: app.clone(),
        rt: tokio::runtime::Handle::current(),
    });
    let (media, mut media_events) = MediaEngine::spawn(engine_config, audio);
    // The engine's RTP counters (drops by cause included) reach /metrics once a second.
    let (stats_media, stats_app) = (media.clone(), app.clone());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        loop {
            tick.tick().await;
            match stats_media.stats().await {
                Ok(s) => stats_app.metrics.set_media(s),
                Err(_) => return,
            }
        }
    });
    let mut gateway_events = app.gateways.subscribe();
    // Station users' names, for live buffers from their phones; open phone streams' recipients.
    let mut names = HashMap::new();
    for (_, user) in &lines {
        let u = *user;
        if let Ok(Some(found)) = app.db.read(move |c| users::by_id(c, u)).await {
            names.insert(u, found.username);
        }
    }
    let mut live = HashMap::new();
    // The IVM core's side of the outputs (storing, marking played): shutdown waits for them.
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        publish_availability(&app, &mut manager);
        drain(&app, &mut manager, &media, &names, &mut live, &mut tasks).await;
        while tasks.try_join_next().is_some() {}
        if closing.is_some()
            && !manager.is_capturing()
            && tasks.is_empty()
            && let Some(done) = closing.take()
        {
            let _ = done.send(());
            info!("stations shut down; every recording stored");
        }
        let deadline = manager.poll_timeout();
        tokio::select! {
            Some(_) = tasks.join_next(), if !tasks.is_empty() => {}
            request = shutdown.recv(), if closing.is_none() => {
                if let Some(done) = request {
                    info!("stations shutting down");
                    manager.shutdown(now());
                    closing = Some(done);
                }
            }
            event = gateway_events.recv() => match event {
                Ok(e) => manager.handle_event(now(), e),
                Err(tokio::sync::broadcast::error::RecvError::Lagged(n)) => {
                    warn!(missed = n, "station manager fell behind the gateway events");
                }
                Err(_) => return,
            },
            event = media_events.recv() => match event {
                Some(e) => manager.handle_media(now(), e),
                None => return,
            },
            input = inputs.recv() => match input {
                Some(i) => manager.handle_input(now(), i),
                None => return,
            },
            () = sleep_until(deadline) => manager.handle_timeout(now()),
        }
    }
}

/// Copies the users' availability changes for `/api/v1/health` and the record requests (only
/// the changes: this runs after every event).
fn publish_availability(app: &App, manager: &mut StationManager) {
    let mut changes = std::iter::from_fn(|| manager.poll_availability()).peekable();
    if changes.peek().is_none() {
        return;
    }
    let mut map = app
        .stations
        .available
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    map.extend(changes.map(|(user, available)| (uuid(user), available)));
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

/// Carries out everything the manager asked for.
async fn drain(
    app: &App,
    manager: &mut StationManager,
    media: &MediaHandle,
    names: &HashMap<Uuid, String>,
    live: &mut HashMap<station_manager::StreamId, (u64, Vec<Uuid>)>,
    tasks: &mut tokio::task::JoinSet<()>,
) {
    while let Some(command) = manager.poll_command() {
        if let Err(e) = app.gateways.command(command).await {
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
            } => {
                let to: Vec<Uuid> = to.into_iter().map(uuid).collect();
                let name = names.get(&uuid(user)).map_or("", String::as_str);
                crate::intercom::forward_from_phone(
                    app,
                    (uuid(user), name),
                    &to,
                    stream.0,
                    seq,
                    &pcm,
                    false,
                );
                live.insert(stream, (seq + 1, to));
            }
            Output::LiveEnd { user, stream } => {
                if let Some((seq, to)) = live.remove(&stream) {
                    let name = names.get(&uuid(user)).map_or("", String::as_str);
                    crate::intercom::forward_from_phone(
                        app,
                        (uuid(user), name),
                        &to,
                        stream.0,
                        seq,
                        &[],
                        true,
                    );
                }
            }
            other => output_to_core(app, other, tasks),
        }
    }
}

/// Hands an output to the IVM core (off the station task: storing a recording takes fsyncs),
/// as one of `tasks`, which shutdown waits for.
fn output_to_core(app: &App, output: Output, tasks: &mut tokio::task::JoinSet<()>) {
    let app = app.clone();
    tasks.spawn(async move {
        match output {
            Output::Recorded {
                request,
                user,
                to,
                file,
                reason,
                ..
            } => {
                let to: Vec<Uuid> = to.into_iter().map(uuid).collect();
                let stored =
                    accept::accept(&app, uuid(user), to, Audio::Recorded(file), vec![]).await;
                let status = match stored {
                    Ok(a) => {
                        info!(message = %a.id, ?reason, "recording stored");
                        RecordStatus::Stored(a.id)
                    }
                    Err(e) => {
                        warn!(error = %e, "recording not stored");
                        RecordStatus::Failed(format!("the recording could not be stored: {e}"))
                    }
                };
                if let Some(RequestId(id)) = request {
                    app.stations.set_status(id, status);
                }
            }
            Output::RecordFailed { request, reason } => {
                app.stations
                    .set_status(request.0, RecordStatus::Failed(reason));
            }
            Output::Played { user, message } => {
                let (u, m) = (uuid(user), Uuid::from_bytes(message.0));
                if let Err(e) = app
                    .db
                    .write(move |c| store::advance(c, m, u, Copy::Played))
                    .await
                {
                    warn!(error = %e, "cannot mark a message played");
                }
            }
            Output::Deleted { user, message } => {
                let (u, m) = (uuid(user), Uuid::from_bytes(message.0));
                match app.db.write(move |c| store::delete_for(c, u, m)).await {
                    Ok(Some(files)) => accept::remove_files(&app, files),
                    Ok(None) => {}
                    Err(e) => warn!(error = %e, "cannot delete a message"),
                }
            }
            // Live buffers are forwarded in order by `drain`, never here.
            Output::LiveBuffer { .. } | Output::LiveEnd { .. } => {}
            other => warn!(?other, "an output the appliance does not handle"),
        }
    });
}
