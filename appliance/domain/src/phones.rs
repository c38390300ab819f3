//! The users' phones as the core sees them: who has one, whether it can ring now, each user's
//! default record mode, and the record requests and how each ended. The stations subsystem
//! keeps this up to date ([`VoiceMessaging::set_phones`], [`VoiceMessaging::set_available`]) and
//! carries out the requests it hears of as [`Event::RecordingRequested`].

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tracing::info;
use uuid::Uuid;

use crate::VoiceMessaging;
use crate::events::{Delivery, Event, LiveStreamId};

/// What became of a record request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RecordStatus {
    /// The phone is ringing.
    Pending,
    /// The phone was picked up: the user is speaking.
    Recording,
    /// The recording is stored as this message.
    Stored(Uuid),
    /// It failed, for this reason (in words a user understands).
    Failed(String),
}

impl RecordStatus {
    /// Whether the request is still under way (ringing, or the user speaking).
    pub fn is_open(&self) -> bool {
        matches!(self, Self::Pending | Self::Recording)
    }
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
#[non_exhaustive]
pub enum RecordError {
    /// The user has no phone (409).
    #[error("you have no phone line")]
    NoPhone,
    /// The user's phone's gateway is down (503).
    #[error("your phone's gateway is not reachable")]
    GatewayDown,
    /// The user's messages already hold their whole storage quota (507).
    #[error("{0}")]
    OverQuota(crate::limits::OverQuota),
    /// The data directory's disk is down to its reserve (507).
    #[error("{0}")]
    DiskFull(crate::limits::DiskFull),
}

/// One phone line as the admin console shows it (`GET /api/v1/health`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LineView {
    /// `GATEWAY/ENDPOINT`.
    pub line: String,
    /// Its user.
    pub user: Uuid,
    /// What it does: `gateway down`, `checking`, `idle`, `ringing`, `connecting`, `recording`,
    /// `storing`, `playing`, `live` or `off hook`.
    pub state: &'static str,
    /// Messages waiting to be heard on it.
    pub waiting: usize,
}

/// Finished requests kept for `record_status` before the oldest are forgotten.
pub(crate) const KEEP_REQUESTS: usize = 10_000;
/// Users whose default record mode is remembered.
const KEEP_MODES: usize = 100_000;

#[derive(Debug)]
pub(crate) struct Phones {
    /// Users with at least one station.
    users: Mutex<HashSet<Uuid>>,
    /// Every line and what it does, as last told (about once a second).
    lines: Mutex<Vec<LineView>>,
    /// Whether each one's phone can ring (its gateway is up).
    available: Mutex<HashMap<Uuid, bool>>,
    /// Record requests: their owner and status.
    requests: Mutex<HashMap<u64, (Uuid, RecordStatus)>>,
    changed: Notify,
    next_request: AtomicU64,
    next_stream: AtomicU64,
    modes: Mutex<HashMap<Uuid, RecordMode>>,
}

impl Default for Phones {
    fn default() -> Self {
        Self {
            users: Mutex::default(),
            lines: Mutex::default(),
            available: Mutex::default(),
            requests: Mutex::default(),
            changed: Notify::new(),
            next_request: AtomicU64::new(1),
            next_stream: AtomicU64::new(1),
            modes: Mutex::default(),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Phones {
    pub(crate) fn has(&self, user: Uuid) -> bool {
        lock(&self.users).contains(&user)
    }

    pub(crate) fn with_phones(&self, users: &[Uuid]) -> Vec<Uuid> {
        let phones = lock(&self.users);
        users
            .iter()
            .copied()
            .filter(|u| phones.contains(u))
            .collect()
    }

    pub(crate) fn set_status(&self, id: u64, status: RecordStatus) {
        let mut map = lock(&self.requests);
        if let Some((_, s)) = map.get_mut(&id) {
            *s = status;
        }
        // Bounded: the oldest finished requests go first.
        if map.len() > KEEP_REQUESTS
            && let Some(old) = map
                .iter()
                .filter(|(_, (_, s))| !s.is_open())
                .map(|(k, _)| *k)
                .min()
        {
            map.remove(&old);
        }
        drop(map);
        self.changed.notify_waiters();
    }
}

impl VoiceMessaging {
    /// The users who have a phone (the stations subsystem calls this once it knows them, and
    /// whenever phones are added or removed); a user left without one is no longer listed as
    /// available or not.
    pub fn set_phones(&self, users: impl IntoIterator<Item = Uuid>) {
        let users: HashSet<Uuid> = users.into_iter().collect();
        lock(&self.0.phones.available).retain(|u, _| users.contains(u));
        *lock(&self.0.phones.users) = users;
    }

    /// Whether `user`'s phone can ring now (its gateway is up). Ignored for a user with no
    /// phone ([`Self::set_phones`]).
    pub fn set_available(&self, user: Uuid, available: bool) {
        let mut map = lock(&self.0.phones.available);
        if self.has_phone(user) {
            map.insert(user, available);
        } else {
            map.remove(&user);
        }
    }

    /// Every phone line and what it does now (the stations subsystem tells it about once a
    /// second).
    pub fn set_lines(&self, lines: Vec<LineView>) {
        *lock(&self.0.phones.lines) = lines;
    }

    /// Every phone line and what it does, as last told, for the admin console.
    pub fn lines(&self) -> Vec<LineView> {
        lock(&self.0.phones.lines).clone()
    }

    /// Every phone's user and whether it can ring now, for `/api/v1/health`.
    pub fn availability(&self) -> Vec<(Uuid, bool)> {
        let map = lock(&self.0.phones.available);
        let mut v: Vec<(Uuid, bool)> = map.iter().map(|(u, a)| (*u, *a)).collect();
        v.sort();
        v
    }

    /// Whether `user` has a phone.
    pub fn has_phone(&self, user: Uuid) -> bool {
        self.0.phones.has(user)
    }

    /// `user`'s default record mode.
    pub fn default_mode(&self, user: Uuid) -> RecordMode {
        lock(&self.0.phones.modes)
            .get(&user)
            .copied()
            .unwrap_or_default()
    }

    /// Sets `user`'s default record mode (held in memory).
    pub fn set_default_mode(&self, user: Uuid, mode: RecordMode) {
        let mut modes = lock(&self.0.phones.modes);
        if modes.len() < KEEP_MODES || modes.contains_key(&user) {
            modes.insert(user, mode);
        }
    }

    /// Rings `user`'s phone to record for `to` in `mode` (`None`: the user's default); `auto`
    /// picks intercom when every recipient is online. Returns the request id and how it will be
    /// sent; the stations subsystem hears of it as [`Event::RecordingRequested`].
    pub fn request_recording(
        &self,
        user: Uuid,
        to: Vec<Uuid>,
        mode: Option<RecordMode>,
    ) -> Result<(u64, Delivery), RecordError> {
        if !self.has_phone(user) {
            return Err(RecordError::NoPhone);
        }
        let up = lock(&self.0.phones.available)
            .get(&user)
            .copied()
            .unwrap_or(false);
        if !up {
            return Err(RecordError::GatewayDown);
        }
        let delivery = match mode.unwrap_or_else(|| self.default_mode(user)) {
            RecordMode::Intercom => Delivery::Intercom,
            RecordMode::Record => Delivery::Record,
            RecordMode::Auto if to.iter().all(|u| self.0.clients.is_online(*u)) => {
                Delivery::Intercom
            }
            RecordMode::Auto => Delivery::Record,
        };
        let request = self.0.phones.next_request.fetch_add(1, Ordering::Relaxed);
        lock(&self.0.phones.requests).insert(request, (user, RecordStatus::Pending));
        let heard = self.0.events.publish(Event::RecordingRequested {
            request,
            user,
            to,
            delivery,
        });
        if heard == 0 {
            // Nothing drives the phones any more: the request cannot ring.
            self.0.phones.set_status(
                request,
                RecordStatus::Failed("the station manager stopped".into()),
            );
        }
        Ok((request, delivery))
    }

    /// The status of `user`'s record request `id`, waiting up to `wait` for it to finish
    /// (stored or failed); `None` if there is no such request of theirs.
    pub async fn record_status(&self, user: Uuid, id: u64, wait: Duration) -> Option<RecordStatus> {
        self.record_progress(user, id, wait, |s| !s.is_open()).await
    }

    /// The status of `user`'s record request `id`, waiting up to `wait` for one that `done`
    /// accepts (to follow its progress: ringing, then recording, then stored or failed);
    /// `None` if there is no such request of theirs.
    pub async fn record_progress(
        &self,
        user: Uuid,
        id: u64,
        wait: Duration,
        done: impl Fn(&RecordStatus) -> bool,
    ) -> Option<RecordStatus> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let notified = self.0.phones.changed.notified();
            let status = lock(&self.0.phones.requests)
                .get(&id)
                .filter(|(owner, _)| *owner == user)
                .map(|(_, s)| s.clone());
            match status {
                Some(s) if !done(&s) && tokio::time::Instant::now() < deadline => {
                    let _ = tokio::time::timeout_at(deadline, notified).await;
                }
                other => return other,
            }
        }
    }

    /// The phone rung for record request `request` was picked up: the user is speaking.
    pub fn recording_started(&self, request: u64) {
        let started = {
            let mut map = lock(&self.0.phones.requests);
            match map.get_mut(&request) {
                Some((_, s)) if *s == RecordStatus::Pending => {
                    *s = RecordStatus::Recording;
                    true
                }
                _ => false,
            }
        };
        if started {
            self.0.phones.changed.notify_waiters();
        }
    }

    /// Record request `request` failed (no answer, gateway down, nothing said…).
    pub fn recording_failed(&self, request: u64, reason: impl Into<String>) {
        let reason = reason.into();
        info!(request, %reason, "record request failed");
        self.0
            .phones
            .set_status(request, RecordStatus::Failed(reason));
    }

    /// A live stream from `from` begins: the recipients with phones get it rung and then played
    /// live. Returns its id for [`Self::live_buffer`], or `None` if no recipient has a phone.
    pub fn live_start(&self, from: Uuid, recipients: &[Uuid]) -> Option<LiveStreamId> {
        let to = self.0.phones.with_phones(recipients);
        if to.is_empty() {
            return None;
        }
        let stream = LiveStreamId(self.0.phones.next_stream.fetch_add(1, Ordering::Relaxed));
        self.0.events.publish(Event::LiveStart { stream, from, to });
        Some(stream)
    }

    /// A buffer of live stream `stream` (and, with `end`, its end).
    pub fn live_buffer(&self, stream: LiveStreamId, pcm: &[i16], end: bool) {
        if !pcm.is_empty() {
            self.publish(Event::LiveBuffer {
                stream,
                pcm: pcm.into(),
            });
        }
        if end {
            self.publish(Event::LiveEnd { stream });
        }
    }

    /// Live stream `stream` was stored as `message` for `recipients`.
    pub fn live_stored(&self, stream: LiveStreamId, recipients: &[Uuid], message: Uuid) {
        let to = self.0.phones.with_phones(recipients);
        if !to.is_empty() {
            self.publish(Event::LiveStored {
                stream,
                to,
                message,
            });
        }
    }
}
